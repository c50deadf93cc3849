"""Write every export of a run into ``out_dir``, replacing a previous export atomically.

Layout (README.md, "The two commands")::

    out_dir/export/model.glb
    out_dir/export/urdf/model.urdf (+ meshes/)
    out_dir/export/articulation.json
    out_dir/report.html
    out_dir/report/*.png, out_dir/report/side_by_side_view_XX.mp4

Everything is first written into a hidden sibling staging folder
(``out_dir/.export_staging_<id>``). Then, for each of ``export/``, ``report/`` and
``report.html``, the previous one is renamed aside, the new one renamed in (one atomic
``rename`` on the same file system) and the old one deleted. A reader therefore sees
either the complete old or the complete new version of each of them, never a partial
one; a failure while writing leaves the previous export untouched and no temp folder.
Other contents of ``out_dir`` (``videos/``, ``metrics.json``) are left alone.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from partdrag4d.atomic import swap_in
from partdrag4d.containers import (
    Articulation,
    FileTree,
    Metrics,
    SceneInput,
    SceneMesh,
    StageInputs,
    VideoSet,
)
from partdrag4d.export.glb import GlbConfig, write_glb
from partdrag4d.export.kinematics import joint_fit_residuals
from partdrag4d.export.report import ReportConfig, ReportInputs, write_report
from partdrag4d.export.urdf import UrdfConfig, write_urdf


@dataclass
class ExportConfig:
    """Options of the export stage."""

    glb: GlbConfig = field(default_factory=GlbConfig)
    """GLB writer options."""
    urdf: UrdfConfig = field(default_factory=UrdfConfig)
    """URDF writer options."""
    report: ReportConfig = field(default_factory=ReportConfig)
    """Report options."""
    name: str = ""
    """Object name shown in the report (empty: the scene's name)."""


@dataclass(frozen=True)
class ExportPaths:
    """Where :func:`export_all` wrote each output (all under ``out_dir``)."""

    glb: Path
    """``export/model.glb``."""
    urdf: Path
    """``export/urdf/model.urdf``."""
    articulation_json: Path
    """``export/articulation.json``."""
    report_html: Path
    """``report.html``."""
    report_dir: Path
    """``report/`` (PNGs and side-by-side MP4s)."""


def articulation_dict(art: Articulation, mesh: SceneMesh) -> dict:
    """The ``export/articulation.json`` schema: world-frame (rest) axes and origins,
    per-frame joint values (at ``fps`` frames per second), observed limits, each joint's
    ``fit_residual`` (:func:`joint_fit_residuals`, × bbox diagonal), and the vertex
    count of every part."""
    counts = [int((art.vertex_part == p).sum()) for p in range(art.num_parts)]
    if len(art.vertex_part) != mesh.num_vertices:
        raise ValueError(f"vertex_part has {len(art.vertex_part)} labels for {mesh.num_vertices}")
    residuals = joint_fit_residuals(art, mesh.vertices)
    return {
        "frame": "input",
        "units": "m",
        "fps": float(art.fps),
        "num_frames": int(art.T_world_part.shape[0]),
        "joints": [
            {**j.to_dict(), "fit_residual": residual}
            for j, residual in zip(art.joints, residuals, strict=True)
        ],
        "parts": [
            {"name": name, "num_vertices": count}
            for name, count in zip(art.part_names, counts, strict=True)
        ],
    }


def export_all(
    art: Articulation,
    mesh: SceneMesh,
    videos: VideoSet,
    metrics: Metrics | None,
    out_dir: Path,
    cfg: ExportConfig = ExportConfig(),
    up_axis: str = "z",
) -> ExportPaths:
    """Write the GLB, URDF, articulation JSON and report of a run into ``out_dir``.

    Args:
        art: the reconstruction.
        mesh: the rest-state mesh it labels.
        videos: the input videos (for the report).
        metrics: metrics against ground truth, or None.
        out_dir: run output folder (created); a previous export there is replaced.
        cfg: export options.
        up_axis: up axis of the input's frame (``SceneInput.up_axis``), for the GLB.

    Returns:
        The written paths (final locations).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:8]
    staging = out_dir / f".export_staging_{token}"
    trash = out_dir / f".export_old_{token}"
    try:
        staging.mkdir()
        write_glb(art, mesh, staging / "export" / "model.glb", cfg.glb, up_axis)
        write_urdf(art, mesh, staging / "export" / "urdf", cfg.urdf)
        (staging / "export" / "articulation.json").write_text(
            json.dumps(articulation_dict(art, mesh), indent=2)
        )
        name = cfg.name or "object"
        write_report(staging, ReportInputs(name, videos, mesh, art, metrics), cfg.report)
        trash.mkdir()
        for entry in ("export", "report", "report.html"):
            swap_in(staging / entry, out_dir / entry, trash / entry)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(trash, ignore_errors=True)
    return ExportPaths(
        glb=out_dir / "export" / "model.glb",
        urdf=out_dir / "export" / "urdf" / "model.urdf",
        articulation_json=out_dir / "export" / "articulation.json",
        report_html=out_dir / "report.html",
        report_dir=out_dir / "report",
    )


def export_stage(cfg: ExportConfig, inputs: StageInputs, rng: np.random.Generator) -> FileTree:
    """The `export` stage: :func:`export_all` into a scratch folder, handed on as a
    :class:`FileTree` (the store moves it into the artefact)."""
    scene: SceneInput = inputs["prepare"]
    scratch = Path(tempfile.mkdtemp(prefix="partdrag4d-export-"))
    try:
        export_all(
            inputs["articulate"],
            scene.mesh,
            inputs["generate"],
            inputs["evaluate"].metrics,
            scratch,
            replace(cfg, name=cfg.name or scene.name),
            scene.up_axis,
        )
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return FileTree(scratch)
