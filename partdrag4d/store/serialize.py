"""On-disk format of every artefact kind: ``save(obj, dir) -> kind`` and ``load(dir, kind)``.

One directory per artefact; arrays go to ``.npz`` (dtype and values kept exactly, so a
round trip gives equal arrays), names/enums/scalars to JSON, images to PNG (lossless).
Anything derived only for people to look at (MP4 previews, ``mesh.ply``, the nerfstudio
copy) is optional and never read back. Ground truth always lives under ``gt/`` so it is
visibly separate from what reconstruction stages may read.

Layouts (paths relative to the artefact directory):

``scene_input`` (:class:`~partdrag4d.containers.SceneInput`)
    ``scene.json`` (name, num_frames, fps), ``cameras.json``, ``drags.npz``,
    ``mesh/`` (primitives), ``mesh.ply`` (preview), and when known
    ``gt/gt.json`` + ``gt/gt.npz`` + ``gt/links/link_XXX/`` (link visuals).
``video_set`` (:class:`~partdrag4d.containers.VideoSet`)
    ``video.json``, ``cameras.json``, ``drags.npz``, canonical frames
    ``videos/view_XX/frame_YYY.png``, previews ``videos/view_XX.mp4``, ``alpha.npz``
    (optional), ``gt/render_gt.npz`` (optional), ``nerfstudio/`` (preview copy).
``tracks`` (:class:`~partdrag4d.containers.Tracks`)
    ``tracks.npz``.
``articulation`` (:class:`~partdrag4d.containers.Articulation`)
    ``articulation.json`` (names, joints, fps, extras) + ``articulation.npz``
    (+ ``extras.npz`` for array-valued extras).
``metrics`` (:class:`~partdrag4d.containers.Evaluation`)
    ``metrics.json`` (:meth:`Metrics.to_dict <partdrag4d.containers.Metrics.to_dict>`;
    ``{}`` when there was no ground truth).
``file_tree`` (:class:`~partdrag4d.containers.FileTree`)
    ``files/`` (moved in from the stage's scratch folder).

A mesh ``primitives/`` folder holds ``primitives.json`` (material names, texture files),
``primitives.npz`` (``pI_vertices``, ``pI_faces``, ``pI_base_color``, ``pI_uvs``) and
``texture_I.png`` (sRGB, row 0 at the top, exactly as in :class:`Material`).

This module dispatches by kind and holds the stage artefacts' formats; the scene's parts
(cameras, primitives, drags, ground truth) are in :mod:`partdrag4d.store.scene_files`,
the JSON and ``.npz`` helpers in :mod:`partdrag4d.store.plain`.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np

from partdrag4d.containers import (
    Articulation,
    Evaluation,
    FileTree,
    Joint,
    JointType,
    Metrics,
    RenderGT,
    SceneInput,
    Tracks,
    VideoSet,
)
from partdrag4d.store.nerfstudio import write_nerfstudio
from partdrag4d.store.plain import (
    SerializeConfig,
    from_jsonable,
    load_npz,
    read_json,
    save_npz,
    to_jsonable,
    write_json,
)
from partdrag4d.store.scene_files import (
    CAMERA_CONVENTION,
    joint_doc,
    load_cameras,
    load_primitives,
    load_scene_input,
    save_cameras,
    save_primitives,
    save_scene_input,
)
from partdrag4d.store.video_io import frame_name, read_png, write_mp4, write_png

__all__ = [
    "CAMERA_CONVENTION",
    "KINDS",
    "SerializeConfig",
    "kind_of",
    "load",
    "load_cameras",
    "load_primitives",
    "save",
    "save_cameras",
    "save_primitives",
    "to_jsonable",
]

KIND_SCENE_INPUT = "scene_input"
KIND_VIDEO_SET = "video_set"
KIND_TRACKS = "tracks"
KIND_ARTICULATION = "articulation"
KIND_METRICS = "metrics"
KIND_FILE_TREE = "file_tree"


def _view_dir(v: int) -> str:
    return f"videos/view_{v:02d}"


def _save_video_set(obj: VideoSet, d: Path, cfg: SerializeConfig) -> None:
    num_views, num_frames, height, width, _ = obj.frames.shape
    write_json(
        d / "video.json",
        {
            "fps": float(obj.fps),
            "num_views": int(num_views),
            "num_frames": int(num_frames),
            "height": int(height),
            "width": int(width),
            "frames": "videos/view_XX/frame_YYY.png (canonical, lossless sRGB)",
            "has_alpha": obj.alpha is not None,
            "has_gt": obj.gt is not None,
        },
    )
    save_cameras(obj.cameras, d / "cameras.json")
    save_npz(d / "drags.npz", {"drags_2d": obj.drags_2d, "drags_visible": obj.drags_visible})
    for v in range(num_views):
        vd = d / _view_dir(v)
        vd.mkdir(parents=True)
        for t in range(num_frames):
            write_png(obj.frames[v, t], vd / frame_name(t, num_frames))
        if cfg.write_mp4:
            write_mp4(obj.frames[v], d / f"{_view_dir(v)}.mp4", obj.fps)
    if obj.alpha is not None:
        save_npz(d / "alpha.npz", {"alpha": obj.alpha}, compressed=True)
    if obj.gt is not None:
        (d / "gt").mkdir()
        gt = {"depth": obj.gt.depth, "part_id": obj.gt.part_id, "rest_xyz": obj.gt.rest_xyz}
        save_npz(d / "gt" / "render_gt.npz", gt, compressed=True)
    if cfg.write_nerfstudio:
        write_nerfstudio(obj, d / "nerfstudio", frames_dir=d / "videos")
    if cfg.write_contact_sheet:
        from partdrag4d.viz import contact_sheet

        write_png(contact_sheet(obj, scale=max(1, 256 // width)), d / "contact_sheet.png")


def _load_video_set(d: Path) -> VideoSet:
    doc = read_json(d / "video.json")
    num_views, num_frames = doc["num_views"], doc["num_frames"]
    frames = np.empty((num_views, num_frames, doc["height"], doc["width"], 3), np.uint8)
    for v in range(num_views):
        for t in range(num_frames):
            frames[v, t] = read_png(d / _view_dir(v) / frame_name(t, num_frames))
    drags = load_npz(d / "drags.npz")
    alpha = load_npz(d / "alpha.npz")["alpha"] if doc["has_alpha"] else None
    gt = None
    if doc["has_gt"]:
        g = load_npz(d / "gt" / "render_gt.npz")
        gt = RenderGT(depth=g["depth"], part_id=g["part_id"], rest_xyz=g["rest_xyz"])
    return VideoSet(
        frames=frames,
        fps=doc["fps"],
        cameras=load_cameras(d / "cameras.json"),
        drags_2d=drags["drags_2d"],
        drags_visible=drags["drags_visible"],
        alpha=alpha,
        gt=gt,
    )


_TRACK_FIELDS = ("point", "anchors_3d", "view", "uv", "visible", "confidence", "points_3d")


def _save_tracks(obj: Tracks, d: Path, cfg: SerializeConfig) -> None:
    save_npz(d / "tracks.npz", {k: getattr(obj, k) for k in _TRACK_FIELDS})


def _load_tracks(d: Path) -> Tracks:
    a = load_npz(d / "tracks.npz")
    return Tracks(**{k: a[k] for k in _TRACK_FIELDS})


def _save_articulation(obj: Articulation, d: Path, cfg: SerializeConfig) -> None:
    arrays = {
        "vertex_part": obj.vertex_part,
        "face_part": obj.face_part,
        "T_world_part": obj.T_world_part,
    }
    fields = ("axis", "origin", "values")
    joints = [joint_doc(j, i, fields, arrays) for i, j in enumerate(obj.joints)]
    # Extras are diagnostics: keep what JSON (plus arrays in extras.npz) can hold, and
    # drop the rest with a warning rather than fail a finished stage.
    extra_arrays: dict[str, np.ndarray] = {}
    extras, dropped = {}, []
    for k, v in obj.extras.items():
        try:
            extras[str(k)] = to_jsonable(v, extra_arrays, str(k))
        except TypeError as err:
            dropped.append(str(k))
            warnings.warn(f"Articulation.extras[{k!r}] not saved: {err}", stacklevel=3)
    doc = {
        "part_names": list(obj.part_names),
        "fps": float(obj.fps),
        "joints": joints,
        "extras": extras,
        "extras_dropped": dropped,
    }
    write_json(d / "articulation.json", doc)
    save_npz(d / "articulation.npz", arrays)
    if extra_arrays:
        save_npz(d / "extras.npz", extra_arrays)


def _load_articulation(d: Path) -> Articulation:
    doc = read_json(d / "articulation.json")
    a = load_npz(d / "articulation.npz")
    extra_arrays = load_npz(d / "extras.npz") if (d / "extras.npz").exists() else {}
    joints = tuple(
        Joint(
            name=j["name"],
            type=JointType(j["type"]),
            parent=j["parent"],
            child=j["child"],
            axis=a[f"joint{i}_axis"],
            origin=a[f"joint{i}_origin"],
            values=a[f"joint{i}_values"],
            limits=(float(j["limits"][0]), float(j["limits"][1])),
        )
        for i, j in enumerate(doc["joints"])
    )
    return Articulation(
        part_names=tuple(doc["part_names"]),
        vertex_part=a["vertex_part"],
        face_part=a["face_part"],
        T_world_part=a["T_world_part"],
        joints=joints,
        fps=doc["fps"],
        extras=from_jsonable(doc["extras"], extra_arrays),
    )


def _save_file_tree(obj: FileTree, d: Path, cfg: SerializeConfig) -> None:
    shutil.move(str(obj.root), str(d / "files"))


def _load_file_tree(d: Path) -> FileTree:
    return FileTree(root=d / "files")


def _save_evaluation(obj: Evaluation, d: Path, cfg: SerializeConfig) -> None:
    doc = obj.metrics.to_dict() if obj.metrics is not None else {}
    write_json(d / "metrics.json", to_jsonable(doc))


def _load_evaluation(d: Path) -> Evaluation:
    doc = read_json(d / "metrics.json")
    return Evaluation(Metrics.from_dict(doc) if doc else None)


_SAVERS = {
    SceneInput: (KIND_SCENE_INPUT, save_scene_input),
    VideoSet: (KIND_VIDEO_SET, _save_video_set),
    Tracks: (KIND_TRACKS, _save_tracks),
    Articulation: (KIND_ARTICULATION, _save_articulation),
    Evaluation: (KIND_METRICS, _save_evaluation),
    FileTree: (KIND_FILE_TREE, _save_file_tree),
}
_LOADERS = {
    KIND_SCENE_INPUT: load_scene_input,
    KIND_VIDEO_SET: _load_video_set,
    KIND_TRACKS: _load_tracks,
    KIND_ARTICULATION: _load_articulation,
    KIND_METRICS: _load_evaluation,
    KIND_FILE_TREE: _load_file_tree,
}
KINDS: tuple[str, ...] = tuple(_LOADERS)


def kind_of(obj: object) -> str:
    """Artefact kind of a stage output.

    Raises:
        TypeError: for objects that are not an artefact.
    """
    try:
        return _SAVERS[type(obj)][0]
    except KeyError:
        known = ", ".join(KINDS)
        raise TypeError(f"{type(obj).__name__} is not an artefact kind ({known})") from None


def save(obj: object, directory: Path | str, config: SerializeConfig | None = None) -> str:
    """Write ``obj`` into ``directory`` (created if missing; should be empty).

    Args:
        obj: a ``SceneInput``, ``VideoSet``, ``Tracks``, ``Articulation``,
            ``Evaluation`` or ``FileTree``.
        directory: destination folder.
        config: which optional preview payloads to write (default: all).

    Returns:
        The artefact kind (one of :data:`KINDS`).
    """
    kind = kind_of(obj)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    _SAVERS[type(obj)][1](obj, directory, config or SerializeConfig())
    return kind


def load(directory: Path | str, kind: str) -> object:
    """Read an artefact of ``kind`` written by :func:`save` from ``directory``.

    Raises:
        ValueError: for an unknown kind.
    """
    if kind not in _LOADERS:
        raise ValueError(f"unknown artefact kind {kind!r} (known: {', '.join(KINDS)})")
    return _LOADERS[kind](Path(directory))
