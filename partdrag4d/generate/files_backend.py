"""`generator=files`: import videos generated elsewhere (another model, a real capture).

The folder holds ``cameras.json`` (the format partdrag4d writes next to its own videos:
OpenCV ``K`` and ``T_cam_world`` per view, image size) and, per view ``XX``, either
``view_XX.mp4`` or a folder ``view_XX/`` of PNG frames. The scene's 3D drags are
projected with these cameras.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import MISSING

from partdrag4d.containers import CameraRig, SceneInput, VideoSet
from partdrag4d.errors import InputError
from partdrag4d.generate import GeneratorConfig
from partdrag4d.geometry.camera import project
from partdrag4d.scene.drags import render_rest_views, start_visibility


@dataclass
class FilesGeneratorConfig(GeneratorConfig):
    """Import videos made elsewhere: a folder holding ``cameras.json`` and one
    ``view_XX.mp4`` or ``view_XX/`` of PNG frames per camera."""

    _target_: str = "partdrag4d.generate.files_backend.generate_from_files"
    path: str = MISSING
    """Folder with the videos and cameras."""


def _matrix(value: object, shape: tuple[int, int], source: Path, field: str) -> np.ndarray:
    try:
        out = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        out = None
    if (
        out is None
        or out.shape != shape
        or not np.all(np.isfinite(out))
        or isinstance(value, (str, bytes))
    ):
        raise InputError(source, field, f"must be a {shape[0]}x{shape[1]} list of finite numbers")
    return out


def _size(doc: dict, key: str, source: Path) -> int:
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 16384:
        raise InputError(source, key, f"must be a whole number of pixels, got {value!r}")
    return value


def read_cameras_file(path: Path) -> CameraRig:
    """Read a user's ``cameras.json`` field by field (the format :func:`save_cameras`
    writes): ``width``, ``height`` and per view a pinhole ``K`` and a rigid
    ``T_cam_world``.

    Raises:
        InputError: naming the file and the field that is wrong.
    """
    import json

    try:
        doc = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(path, "json", f"not valid JSON ({err})") from None
    if not isinstance(doc, dict):
        raise InputError(path, "json", "must be an object with width, height and views")
    width, height = _size(doc, "width", path), _size(doc, "height", path)
    views = doc.get("views")
    if not isinstance(views, list) or not views:
        raise InputError(path, "views", "must be a non-empty list of {K, T_cam_world}")
    Ks, Ts = [], []
    for v, view in enumerate(views):
        if not isinstance(view, dict):
            raise InputError(path, f"views[{v}]", "must be an object with K and T_cam_world")
        K = _matrix(view.get("K"), (3, 3), path, f"views[{v}].K")
        if K[0, 0] <= 0 or K[1, 1] <= 0 or np.any(K[2] != (0.0, 0.0, 1.0)) or K[1, 0] != 0:
            raise InputError(path, f"views[{v}].K", "must be a pinhole K (fx, fy > 0)")
        T = _matrix(view.get("T_cam_world"), (4, 4), path, f"views[{v}].T_cam_world")
        R = T[:3, :3]
        if np.abs(R @ R.T - np.eye(3)).max() > 1e-4 or np.linalg.det(R) < 0:
            raise InputError(path, f"views[{v}].T_cam_world", "rotation is not a rotation")
        if np.any(T[3] != (0.0, 0.0, 0.0, 1.0)):
            raise InputError(path, f"views[{v}].T_cam_world", "last row must be 0 0 0 1")
        Ks.append(K)
        Ts.append(T)
    return CameraRig(K=np.stack(Ks), T_cam_world=np.stack(Ts), width=width, height=height)


def _read_clip(root: Path, v: int) -> tuple[np.ndarray, Path]:
    """View ``v``'s frames from ``view_XX.mp4`` or ``view_XX/`` (InputError when unreadable)."""
    from partdrag4d.store.video_io import FRAME_GLOB, read_mp4, read_png

    mp4, folder = root / f"view_{v:02d}.mp4", root / f"view_{v:02d}"
    if mp4.is_file():
        try:
            frames = read_mp4(mp4)
        except Exception as err:  # av's errors of a broken or empty file
            raise InputError(mp4, "video", f"unreadable ({type(err).__name__})") from None
        src = mp4
    elif folder.is_dir():
        images = []
        for path in sorted(folder.glob(FRAME_GLOB)):
            try:
                images.append(read_png(path))
            except Exception as err:  # PIL's errors of a broken image
                raise InputError(path, "video", f"unreadable ({type(err).__name__})") from None
        if len({im.shape for im in images}) > 1:
            raise InputError(folder, "frames", "frames differ in size")
        frames, src = (np.stack(images) if images else np.zeros((0, 0, 0, 3))), folder
    else:
        raise InputError(root, f"view_{v:02d}", "no video (view_XX.mp4 or view_XX/)")
    if len(frames) == 0:
        raise InputError(src, "video", "holds no frames")
    return frames, src


def generate_from_files(
    cfg: FilesGeneratorConfig, scene: SceneInput, rng: np.random.Generator
) -> VideoSet:
    """Read V videos and their cameras; check they agree with each other and the scene."""
    root = Path(cfg.path).expanduser()
    cam_file = root / "cameras.json"
    if not cam_file.is_file():
        raise InputError(cam_file, "generator.path", "cameras.json not found")
    rig = read_cameras_file(cam_file)
    extra = root / f"view_{rig.num_views:02d}"
    if extra.with_suffix(".mp4").is_file() or extra.is_dir():
        raise InputError(cam_file, "views", f"{rig.num_views} cameras, but {extra.name} exists")
    clips = []
    for v in range(rig.num_views):
        frames, src = _read_clip(root, v)
        if frames.shape[1:3] != (rig.height, rig.width):
            raise InputError(
                src,
                "size",
                f"frames are {frames.shape[2]}x{frames.shape[1]}, "
                f"{cam_file.name} says {rig.width}x{rig.height}",
            )
        if frames.shape[0] != scene.num_frames:
            raise InputError(
                src,
                "frames",
                f"{frames.shape[0]} frames, the scene asks for "
                f"{scene.num_frames} (set drags.num_frames)",
            )
        clips.append(frames)
    T, D = scene.num_frames, scene.drags.num_drags
    uv, _ = project(rig.K, rig.T_cam_world, scene.drags.points_3d.reshape(T * D, 3))
    views = render_rest_views(scene.mesh, rig)
    visible = start_visibility(
        rig, views, scene.drags.points_3d[0], tolerance=0.01 * scene.mesh.bbox_diagonal()
    )
    return VideoSet(
        frames=np.stack(clips),
        fps=scene.fps,
        cameras=rig,
        drags_2d=uv.reshape(rig.num_views, T, D, 2),
        drags_visible=visible,
    )
