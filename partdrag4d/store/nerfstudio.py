"""Nerfstudio-format copy of a ``VideoSet`` (``transforms.json`` + ``images/``).

This is the one place where cameras leave the OpenCV convention of the project
(x right, y down, z forward, ``T_cam_world`` world->camera) for nerfstudio's
(OpenGL/Blender: x right, y up, z backward, ``transform_matrix`` camera->world).
Every (view, frame) pair is one image entry with a ``"time"`` in [0, 1] (frame / (T-1)),
the key nerfstudio's dynamic datasets read; static-scene parsers ignore it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from jaxtyping import Float

from partdrag4d.containers import VideoSet
from partdrag4d.store.run_folder import link_or_copy
from partdrag4d.store.video_io import frame_name, write_png

# Flips camera y and z: OpenCV camera axes <-> OpenGL camera axes (an involution).
_FLIP_YZ = np.diag([1.0, -1.0, -1.0, 1.0])


def opencv_to_nerfstudio(T_cam_world: Float[np.ndarray, "4 4"]) -> Float[np.ndarray, "4 4"]:
    """OpenCV world->camera extrinsics to a nerfstudio camera->world ``transform_matrix``.

    ``c2w = inv(T_cam_world)`` with its camera y and z axes (columns 1 and 2) negated.
    """
    return np.linalg.inv(np.asarray(T_cam_world, dtype=np.float64)) @ _FLIP_YZ


def nerfstudio_to_opencv(
    transform_matrix: Float[np.ndarray, "4 4"],
) -> Float[np.ndarray, "4 4"]:
    """Inverse of :func:`opencv_to_nerfstudio`: nerfstudio c2w -> OpenCV ``T_cam_world``."""
    return np.linalg.inv(np.asarray(transform_matrix, dtype=np.float64) @ _FLIP_YZ)


def _intrinsics(K: Float[np.ndarray, "3 3"], width: int, height: int) -> dict:
    return {
        "fl_x": float(K[0, 0]),
        "fl_y": float(K[1, 1]),
        "cx": float(K[0, 2]),
        "cy": float(K[1, 2]),
        "w": int(width),
        "h": int(height),
    }


def _place_image(src: Path | None, frame: np.ndarray, dst: Path) -> None:
    """Hard-link an existing identical PNG when there is one (no re-encode), else write."""
    if src is not None and src.exists():
        link_or_copy(src, dst)
    else:
        write_png(frame, dst)


def write_nerfstudio(
    videoset: VideoSet, out_dir: Path | str, frames_dir: Path | None = None
) -> Path:
    """Write ``out_dir/transforms.json`` and ``out_dir/images/vXX_fYYY.png``.

    Intrinsics are written once at the top level when all views share ``K``, otherwise
    per image entry. ``camera_model`` is ``"OPENCV"`` with zero distortion.

    Args:
        videoset: the clips and their (static) cameras.
        out_dir: destination folder (created).
        frames_dir: optional folder holding the same frames as
            ``view_XX/frame_YYY.png`` (the ``VideoSet`` payload layout); images are then
            hard-linked from it instead of encoded again.

    Returns:
        Path of ``transforms.json``.
    """
    out_dir = Path(out_dir)
    images = out_dir / "images"
    images.mkdir(parents=True, exist_ok=True)
    cams = videoset.cameras
    num_views, num_frames = videoset.num_views, videoset.num_frames
    shared = bool(np.all(cams.K[:1] == cams.K))
    doc: dict = {"camera_model": "OPENCV"}
    if shared:
        doc.update(_intrinsics(cams.K[0], cams.width, cams.height))
    doc.update({"k1": 0.0, "k2": 0.0, "p1": 0.0, "p2": 0.0})
    frames = []
    for v in range(num_views):
        c2w = opencv_to_nerfstudio(cams.T_cam_world[v])
        for t in range(num_frames):
            name = f"v{v:02d}_f{frame_name(t, num_frames)[len('frame_') :]}"
            src = (
                None
                if frames_dir is None
                else frames_dir / f"view_{v:02d}" / frame_name(t, num_frames)
            )
            _place_image(src, videoset.frames[v, t], images / name)
            entry = {
                "file_path": f"images/{name}",
                "transform_matrix": c2w.tolist(),
                "time": t / (num_frames - 1) if num_frames > 1 else 0.0,
                "view": v,
                "frame": t,
            }
            if not shared:
                entry.update(_intrinsics(cams.K[v], cams.width, cams.height))
            frames.append(entry)
    doc["frames"] = frames
    path = out_dir / "transforms.json"
    path.write_text(json.dumps(doc, indent=1))
    return path


def read_nerfstudio_cameras(
    transforms_json: Path | str,
) -> tuple[Float[np.ndarray, "M 3 3"], Float[np.ndarray, "M 4 4"], list[dict]]:
    """Read a ``transforms.json`` back into OpenCV cameras, one per image entry.

    Returns:
        ``(K, T_cam_world, frames)``: intrinsics and world->camera extrinsics per entry
        (OpenCV convention) and the raw frame entries (``file_path``, ``time``, ...).
    """
    doc = json.loads(Path(transforms_json).read_text())
    Ks, Ts = [], []
    for entry in doc["frames"]:
        src = entry if "fl_x" in entry else doc
        Ks.append([[src["fl_x"], 0.0, src["cx"]], [0.0, src["fl_y"], src["cy"]], [0.0, 0.0, 1.0]])
        Ts.append(nerfstudio_to_opencv(np.array(entry["transform_matrix"], dtype=np.float64)))
    return np.array(Ks, dtype=np.float64), np.stack(Ts), doc["frames"]
