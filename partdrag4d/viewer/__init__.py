"""Viewers of a run folder: ``partdrag4d view RUN_DIR`` (standalone viser)."""

from partdrag4d.viewer.run_folder import (
    ExportedArticulation,
    PartPieceMesh,
    RunFolder,
    joint_values_at,
    part_poses,
    read_articulation_json,
    read_run_folder,
)

__all__ = [
    "ExportedArticulation",
    "PartPieceMesh",
    "RunFolder",
    "joint_values_at",
    "part_poses",
    "read_articulation_json",
    "read_run_folder",
]
