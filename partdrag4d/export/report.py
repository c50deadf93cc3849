"""The HTML report of one run: inputs, drags, found parts and joints, motion, metrics.

``write_report(out_dir, inputs)`` writes

- ``out_dir/report.html``: self-contained (every image embedded as a base64 PNG);
- ``out_dir/report/*.png``: the same images as files, and ``contact_sheet.png``: the
  first and last frame of every view with each drag in its joint's colour (the run
  folder's own ``contact_sheet.png`` is the generator's, drawn before any joint exists,
  with one colour per drag);
- ``out_dir/report/side_by_side_view_XX.mp4``: per view, the input video next to a
  re-render of the reconstruction from the same camera (H.264, yuv420p, PyAV).

Per view it shows the first and last input frames with the drags drawn as arrows
(start -> end of ``drags_2d``; only drags visible in that view), and the rest mesh
rendered coloured by reconstructed part over the first frame with the joint axes drawn
in 3D (``origin ± axis`` projected with the view's ``K``/``T_cam_world``). Below: a plot
of every joint value per frame, the metrics table when metrics are given, and a notice
when no moving part was found.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, fields
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np
from jaxtyping import Float, Int, UInt8
from PIL import Image

from partdrag4d.assets.kinematics import move_vertices
from partdrag4d.config_checks import FRACTION, Range
from partdrag4d.containers import (
    Articulation,
    JointMetrics,
    JointType,
    Metrics,
    SceneMesh,
    VideoSet,
)
from partdrag4d.export.kinematics import joint_fit_residuals
from partdrag4d.geometry.camera import project
from partdrag4d.render.rasterizer import Rasterizer
from partdrag4d.store.video_io import write_mp4
from partdrag4d.viz import contact_sheet, draw_drags

NO_MOVING_PART = "No moving part found: the object is exported as a single static part."

# Distinct, colour-blind-friendly part colours (Okabe-Ito, then tab10); base is grey.
_PALETTE = np.array(
    [
        (160, 160, 160), (230, 159, 0), (86, 180, 233), (0, 158, 115), (240, 228, 66),
        (0, 114, 178), (213, 94, 0), (204, 121, 167), (148, 103, 189), (140, 86, 75),
    ],
    dtype=np.uint8,
)  # fmt: skip


@dataclass(frozen=True)
class ReportInputs:
    """Everything the report shows."""

    name: str
    """Object name (page title)."""
    videos: VideoSet
    """The (generated) input videos with their cameras and drags."""
    mesh: SceneMesh
    """The rest-state mesh."""
    articulation: Articulation
    """The reconstruction."""
    metrics: Metrics | None = None
    """The metrics when ground truth exists, else None."""


@dataclass
class ReportConfig:
    """Options of the report."""

    CHECKS: ClassVar[dict] = {"overlay_opacity": FRACTION, "axis_length": Range(0.0, 10.0)}

    overlay_opacity: float = 0.6
    """Opacity of the part colours over the first frame."""
    axis_length: float = 0.3
    """Half length of a drawn joint axis, as a fraction of the mesh's bbox diagonal."""
    write_videos: bool = True
    """Write the side-by-side MP4 per view."""


def part_color(labels: Int[np.ndarray, "..."]) -> UInt8[np.ndarray, "... 3"]:
    """Palette colour of part labels (cycled when there are more parts than colours)."""
    return _PALETTE[np.asarray(labels) % len(_PALETTE)]


def drag_colors(
    label: Int[np.ndarray, "H W"], starts: Float[np.ndarray, "D 2"]
) -> UInt8[np.ndarray, "D 3"]:
    """Each drag in the colour of the reconstructed part under its start point (the
    joints' colours in the report); grey where it starts on no part."""
    h, w = label.shape
    cols = np.clip(np.floor(starts[:, 0]).astype(int), 0, w - 1)
    rows = np.clip(np.floor(starts[:, 1]).astype(int), 0, h - 1)
    parts = label[rows, cols]
    out = part_color(np.maximum(parts, 0))
    out[parts < 0] = (128, 128, 128)
    return out.astype(np.uint8)


def overlay_parts(
    frame: UInt8[np.ndarray, "H W 3"], label: Int[np.ndarray, "H W"], opacity: float
) -> UInt8[np.ndarray, "H W 3"]:
    """Blend part colours over ``frame`` where ``label >= 0``."""
    out = frame.astype(np.float64)
    mask = label >= 0
    out[mask] = (1 - opacity) * out[mask] + opacity * part_color(label[mask])
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def draw_joint_axes(
    image: UInt8[np.ndarray, "H W 3"],
    art: Articulation,
    K: Float[np.ndarray, "3 3"],
    T_cam_world: Float[np.ndarray, "4 4"],
    half_length: float,
) -> UInt8[np.ndarray, "H W 3"]:
    """Draw every joint's axis (``origin ± half_length * axis``, world frame at rest) in
    its child part's colour; prismatic axes get an arrow head in the + direction."""
    out = np.ascontiguousarray(image.copy())
    thickness = max(1, round(min(image.shape[:2]) / 100))
    for i, joint in enumerate(art.joints):
        if joint.type is JointType.FIXED:
            continue
        axis = np.asarray(joint.axis, dtype=np.float64)
        axis = axis / np.linalg.norm(axis)
        ends = np.stack([joint.origin - half_length * axis, joint.origin + half_length * axis])
        uv, z = project(K, T_cam_world, ends)
        if (z <= 0).any() or not np.isfinite(uv).all():
            continue  # behind the camera: no meaningful 2D segment
        a, b = (tuple(int(v) for v in np.round(p)) for p in uv)
        color = tuple(int(c) for c in part_color(np.array(i + 1)))
        cv2.line(out, a, b, (0, 0, 0), thickness + 2, cv2.LINE_AA)
        if joint.type is JointType.PRISMATIC:
            cv2.arrowedLine(out, a, b, color, thickness, cv2.LINE_AA, tipLength=0.15)
        else:
            cv2.line(out, a, b, color, thickness, cv2.LINE_AA)
        o_uv, _ = project(K, T_cam_world, np.asarray(joint.origin, dtype=np.float64)[None])
        center = tuple(int(v) for v in np.round(o_uv[0]))
        cv2.circle(out, center, 2 * thickness, color, -1, cv2.LINE_AA)
    return out


def _joint_plot(art: Articulation) -> UInt8[np.ndarray, "h w 3"]:
    """Joint value per frame: one panel per unit present (rad for revolute, m for
    prismatic), each joint in its child part's colour."""
    import matplotlib

    matplotlib.use("Agg")  # headless: no display on CI machines
    import matplotlib.pyplot as plt  # imported here: it takes a second the CLI rarely needs

    movable = [j for j in art.joints if j.type is not JointType.FIXED]
    units = sorted({"rad" if j.type is JointType.REVOLUTE else "m" for j in movable})
    fig, axes = plt.subplots(1, len(units), figsize=(4.5 * len(units), 3), dpi=100)
    for unit, ax in zip(units, np.atleast_1d(axes), strict=True):
        for i, joint in enumerate(art.joints):
            kind = "rad" if joint.type is JointType.REVOLUTE else "m"
            if joint.type is JointType.FIXED or kind != unit:
                continue
            t = np.arange(len(joint.values)) / art.fps
            color = part_color(np.array(i + 1)) / 255.0
            ax.plot(t, joint.values, marker="o", ms=3, color=color, label=joint.name)
        ax.set_xlabel("time (s)")
        ax.set_ylabel(f"joint value ({unit})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()  # pyright: ignore[reportAttributeAccessIssue]
    plt.close(fig)
    return image


def _png(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def _cell(value: object) -> str:
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    return f"<td>{html.escape(text)}</td>"


_JOINT_COLUMNS = tuple(f.name for f in fields(JointMetrics) if f.name != "motion_err_per_frame")


def _metrics_table(metrics: Metrics) -> str:
    """The scalar metrics as one table, the per-joint metrics as another (one row per
    ground-truth joint, empty cells where a metric does not apply)."""
    rows = "".join(
        f"<tr><td>{html.escape(key)}</td>{_cell(value)}</tr>"
        for key, value in metrics.scalars().items()
    )
    main = "<table><tr><th>metric</th><th>value</th></tr>" + rows + "</table>"
    if not metrics.joints:
        return main
    head = "".join(f"<th>{html.escape(c)}</th>" for c in _JOINT_COLUMNS)
    docs = [e.to_dict() for e in metrics.joints]
    body = "".join(
        "<tr>" + "".join(_cell(d.get(c, "")) for c in _JOINT_COLUMNS) + "</tr>" for d in docs
    )
    return main + f"<h3>joints</h3><table><tr>{head}</tr>{body}</table>"


def _joint_table(art: Articulation, vertices: np.ndarray) -> str:
    rows = []
    residuals = joint_fit_residuals(art, vertices)
    for joint, residual in zip(art.joints, residuals, strict=True):
        unit = "rad" if joint.type is JointType.REVOLUTE else "m"
        cells = [
            joint.name, joint.type.value, joint.parent, joint.child,
            "[" + ", ".join(f"{x:.3f}" for x in joint.axis) + "]",
            "[" + ", ".join(f"{x:.3f}" for x in joint.origin) + "]",
            f"[{joint.limits[0]:.3f}, {joint.limits[1]:.3f}] {unit}",
            f"{residual:.2e}",
        ]  # fmt: skip
        rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    names = ("joint", "type", "parent", "child", "axis", "origin", "range", "fit residual")
    head = "".join(f"<th>{h}</th>" for h in names)
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


_CSS = (
    "body{font-family:sans-serif;margin:24px;color:#222}img{max-width:100%;border:1px solid #ccc}"
    ".row{display:flex;gap:8px;flex-wrap:wrap}.row figure{margin:0;flex:1 1 30%}"
    ".row img{width:100%;image-rendering:pixelated}"
    "figcaption{font-size:12px;color:#555}table{border-collapse:collapse;margin:8px 0}"
    "td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px}"
    ".notice{background:#fff3cd;border:1px solid #e0c36a;padding:12px;font-weight:bold}"
)


def write_report(out_dir: Path, inputs: ReportInputs, cfg: ReportConfig = ReportConfig()) -> Path:
    """Write ``report.html``, ``report/*.png`` and ``report/side_by_side_view_XX.mp4``.

    Args:
        out_dir: folder receiving ``report.html`` and ``report/`` (created).
        inputs: what to show.
        cfg: report options.

    Returns:
        Path of ``report.html``.
    """
    out_dir = Path(out_dir)
    image_dir = out_dir / "report"
    image_dir.mkdir(parents=True, exist_ok=True)
    videos, art, mesh = inputs.videos, inputs.articulation, inputs.mesh
    cams = videos.cameras
    images: dict[str, np.ndarray] = {}
    half_length = cfg.axis_length * mesh.bbox_diagonal()
    num_frames = min(videos.num_frames, art.T_world_part.shape[0])
    rest = mesh.vertices
    poses = [move_vertices(rest, art.vertex_part, T) for T in art.T_world_part[:num_frames]]
    vertex_part = np.asarray(art.vertex_part, dtype=np.int64)
    sections, view_colors = [], []
    with Rasterizer(mesh, cams.width, cams.height) as rasterizer:
        for v in range(videos.num_views):
            tag = f"view_{v:02d}"
            frames = videos.frames[v]
            drags, visible = videos.drags_2d[v], videos.drags_visible[v]
            rest = rasterizer.render(cams.K[v], cams.T_cam_world[v], None, vertex_part)
            colors = drag_colors(rest.label, drags[0])  # the colour of the part dragged
            view_colors.append(colors)
            images[f"{tag}_first_drags"] = draw_drags(frames[0], drags, visible, colors=colors)
            images[f"{tag}_last_drags"] = draw_drags(frames[-1], drags, visible, colors=colors)
            parts = overlay_parts(frames[0], rest.label, cfg.overlay_opacity)
            images[f"{tag}_parts_joints"] = draw_joint_axes(
                parts, art, cams.K[v], cams.T_cam_world[v], half_length
            )
            video_note = ""
            if cfg.write_videos:
                renders = [
                    rasterizer.render(cams.K[v], cams.T_cam_world[v], poses[t]).rgb
                    for t in range(num_frames)
                ]
                side = np.concatenate([frames[:num_frames], np.stack(renders)], axis=2)
                mp4 = write_mp4(side, image_dir / f"side_by_side_{tag}.mp4", videos.fps)
                video_note = (
                    f'<p><a href="report/{mp4.name}">{mp4.name}</a>: input (left) and '
                    "re-rendered reconstruction (right)</p>"
                )
            sections.append((tag, video_note))

    # the generator's contact sheet again, each drag in its joint's colour
    sheet = contact_sheet(videos, max(1, 256 // cams.width), view_colors)
    (image_dir / "contact_sheet.png").write_bytes(_png(sheet))
    has_plot = any(j.type is not JointType.FIXED for j in art.joints)
    if has_plot:
        images["joint_values"] = _joint_plot(art)
    encoded = {}
    for key, image in images.items():
        png = _png(image)
        (image_dir / f"{key}.png").write_bytes(png)
        encoded[key] = "data:image/png;base64," + base64.b64encode(png).decode("ascii")

    def figure(key: str, caption: str) -> str:
        return (
            f'<figure><img src="{encoded[key]}" alt="{html.escape(key)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )

    body = [f"<h1>{html.escape(inputs.name)}</h1>"]
    body.append(
        f"<p>{art.num_parts} part(s), {len(art.joints)} joint(s), {num_frames} frames at "
        f"{art.fps:g} fps, {videos.num_views} view(s).</p>"
    )
    if cams.front is not None:
        f = cams.front
        body.append(
            f'<p id="rig-front">Views centred on azimuth {f.azimuth_deg:.1f}° at elevation '
            f"{f.elevation_deg:.1f}° ({html.escape(f.source)}: {html.escape(f.reason)}).</p>"
        )
    if not art.joints:
        body.append(f'<p class="notice" id="no-moving-part">{html.escape(NO_MOVING_PART)}</p>')
    else:
        body.append(
            "<h2>Joints</h2>" + _joint_table(art, inputs.mesh.vertices) + "<p>Fit residual: "
            "mean distance between each part's reconstructed motion and its joint's ideal "
            "motion, × the bounding-box diagonal (0: the joint explains the motion).</p>"
        )
        if has_plot:
            body.append(figure("joint_values", "joint value per frame"))
    if inputs.metrics:
        body.append("<h2>Metrics</h2>" + _metrics_table(inputs.metrics))
    for tag, video_note in sections:
        body.append(f"<h2>{tag.replace('_', ' ')}</h2><div class='row'>")
        body.append(figure(f"{tag}_first_drags", "first frame, drags (start dot -> end arrow)"))
        body.append(figure(f"{tag}_last_drags", "last frame, drags"))
        body.append(figure(f"{tag}_parts_joints", "reconstructed parts and joint axes (rest)"))
        body.append("</div>" + video_note)
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(inputs.name)} — partdrag4d report</title>"
        f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>"
    )
    path = out_dir / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
