"""Export stage: animated articulated GLB, URDF with per-part meshes, articulation JSON
and the HTML report (see :mod:`partdrag4d.export.bundle` for the folder layout)."""

from partdrag4d.export.bundle import ExportConfig, ExportPaths, articulation_dict, export_all
from partdrag4d.export.glb import GlbConfig, read_glb_part_poses, write_glb
from partdrag4d.export.report import ReportConfig, ReportInputs, write_report
from partdrag4d.export.urdf import UrdfConfig, write_urdf

__all__ = [
    "ExportConfig",
    "ExportPaths",
    "GlbConfig",
    "ReportConfig",
    "ReportInputs",
    "UrdfConfig",
    "articulation_dict",
    "export_all",
    "read_glb_part_poses",
    "write_glb",
    "write_report",
    "write_urdf",
]
