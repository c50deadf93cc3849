"""`generator=files`: import videos generated elsewhere (another model, a real capture).

The folder holds ``cameras.json`` (the format partdrag4d writes next to its own videos:
OpenCV ``K`` and ``T_cam_world`` per view, image size) and, per view ``XX``, either
``view_XX.mp4`` or a folder ``view_XX/`` of PNG frames. The scene's 3D drags are
projected with these cameras.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from partdrag4d.config import FilesGeneratorConfig
from partdrag4d.containers import SceneInput, VideoSet
from partdrag4d.errors import InputError
from partdrag4d.scene.cameras import project_points
from partdrag4d.scene.drags import render_rest_views, start_visibility


def generate_from_files(
    cfg: FilesGeneratorConfig, scene: SceneInput, rng: np.random.Generator
) -> VideoSet:
    """Read V videos and their cameras; check they agree with each other and the scene."""
    from partdrag4d.store.serialize import load_cameras
    from partdrag4d.store.video_io import read_frames_dir, read_mp4

    root = Path(cfg.path).expanduser()
    cam_file = root / "cameras.json"
    if not cam_file.is_file():
        raise InputError(cam_file, "generator.path", "cameras.json not found")
    try:
        rig = load_cameras(cam_file)
    except (KeyError, ValueError, TypeError) as err:
        raise InputError(cam_file, "views", f"malformed cameras ({err})") from None
    if not (np.all(np.isfinite(rig.K)) and np.all(np.isfinite(rig.T_cam_world))):
        raise InputError(cam_file, "views", "non-finite camera values")
    clips = []
    for v in range(rig.num_views):
        mp4, folder = root / f"view_{v:02d}.mp4", root / f"view_{v:02d}"
        if mp4.is_file():
            frames, src = read_mp4(mp4), mp4
        elif folder.is_dir():
            frames, src = read_frames_dir(folder), folder
        else:
            raise InputError(root, f"view_{v:02d}", "no video (view_XX.mp4 or view_XX/)")
        if frames.shape[1:3] != (rig.height, rig.width):
            raise InputError(
                src,
                "size",
                f"frames are {frames.shape[2]}x{frames.shape[1]}, "
                f"cameras.json says {rig.width}x{rig.height}",
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
    uv, _ = project_points(rig, scene.drags.points_3d.reshape(T * D, 3))
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
