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
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path, PurePath
from typing import Any

import numpy as np
from jaxtyping import Float, Int

from partdrag4d.containers import (
    ArticulatedAsset,
    Articulation,
    CameraRig,
    DragSet,
    Evaluation,
    FileTree,
    GroundTruth,
    Joint,
    JointSpec,
    JointType,
    Link,
    Material,
    Metrics,
    Primitive,
    RenderGT,
    RigFront,
    SceneInput,
    SceneMesh,
    Tracks,
    VideoSet,
)
from partdrag4d.store.nerfstudio import write_nerfstudio
from partdrag4d.store.video_io import frame_name, read_png, write_mp4, write_png

KIND_SCENE_INPUT = "scene_input"
KIND_VIDEO_SET = "video_set"
KIND_TRACKS = "tracks"
KIND_ARTICULATION = "articulation"
KIND_METRICS = "metrics"
KIND_FILE_TREE = "file_tree"

CAMERA_CONVENTION = (
    "OpenCV pinhole: camera x right, y down, z forward; K in pixels; T_cam_world (4x4) maps "
    "world points (metres, the input asset's frame) to camera coordinates; pixel coordinates "
    "have the image corner at (0, 0): pixel (col c, row r) covers [c, c+1) x [r, r+1), its "
    "centre is (c + 0.5, r + 0.5)"
)


@dataclass(frozen=True)
class SerializeConfig:
    """Which optional, human-facing payloads to write next to the canonical ones."""

    write_mp4: bool = True
    """Write an H.264 preview ``videos/view_XX.mp4`` per view of a ``VideoSet``."""
    write_nerfstudio: bool = True
    """Write a nerfstudio copy of a ``VideoSet`` under ``nerfstudio/``."""
    write_ply: bool = True
    """Write ``mesh.ply`` (rest mesh) for a ``SceneInput``."""
    write_contact_sheet: bool = True
    """Write ``contact_sheet.png`` (first and last frame of every view, drags drawn)."""


# --------------------------------------------------------------------------- JSON helpers


def to_jsonable(obj: Any, arrays: dict[str, np.ndarray] | None = None, _path: str = "") -> Any:
    """Convert configs/values to plain JSON types, deterministically.

    Mappings (incl. OmegaConf ``DictConfig``) become dicts with ``str`` keys, sequences
    lists, dataclasses dicts of their fields, enums their value, paths POSIX strings,
    numpy scalars Python scalars. Numpy arrays become nested lists, or, when ``arrays`` is
    given, are moved into it and replaced by ``{"__ndarray__": name}``.

    Raises:
        TypeError: for values with no JSON meaning (the path of the value is named).
    """
    if obj is None or isinstance(obj, bool | str):
        return obj
    if isinstance(obj, Enum):
        return to_jsonable(obj.value, arrays, _path)
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return float(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        if arrays is None:
            return obj.tolist()
        name = _path.strip(".") or f"array_{len(arrays)}"
        arrays[name] = obj
        return {"__ndarray__": name}
    if isinstance(obj, PurePath):
        return obj.as_posix()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        obj = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        out = {}
        for k, v in obj.items():
            key = str(to_jsonable(k)) if isinstance(k, Enum | int | str) else None
            if key is None:
                raise TypeError(f"{_path or '<root>'}: mapping key {k!r} is not a str/int/enum")
            out[key] = to_jsonable(v, arrays, f"{_path}.{key}")
        return out
    if isinstance(obj, Sequence) and not isinstance(obj, bytes):
        return [to_jsonable(v, arrays, f"{_path}.{i}") for i, v in enumerate(obj)]
    raise TypeError(f"{_path or '<root>'}: {type(obj).__name__} is not JSON-serialisable")


def _from_jsonable(obj: Any, arrays: Mapping[str, np.ndarray]) -> Any:
    """Inverse of :func:`to_jsonable` for ``{"__ndarray__": name}`` references."""
    if isinstance(obj, dict):
        if set(obj) == {"__ndarray__"}:
            return arrays[obj["__ndarray__"]]
        return {k: _from_jsonable(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_from_jsonable(v, arrays) for v in obj]
    return obj


def _write_json(path: Path, doc: Any) -> None:
    path.write_text(json.dumps(doc, indent=1, sort_keys=False))


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def _save_npz(path: Path, arrays: Mapping[str, np.ndarray], compressed: bool = False) -> None:
    # (pyright reads the names as possibly ``allow_pickle``; they are array names.)
    (np.savez_compressed if compressed else np.savez)(path, **arrays)  # pyright: ignore[reportArgumentType]


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


# --------------------------------------------------------------------------- cameras


def save_cameras(cameras: CameraRig, path: Path) -> None:
    """Write a rig as human-readable JSON (values exact: float64 repr + recorded dtype)."""
    doc = {
        "convention": CAMERA_CONVENTION,
        "width": int(cameras.width),
        "height": int(cameras.height),
        "K_dtype": str(cameras.K.dtype),
        "T_cam_world_dtype": str(cameras.T_cam_world.dtype),
        "views": [
            {"K": cameras.K[v].tolist(), "T_cam_world": cameras.T_cam_world[v].tolist()}
            for v in range(cameras.num_views)
        ],
    }
    if cameras.front is not None:
        doc["front"] = dataclasses.asdict(cameras.front)
    _write_json(path, doc)


def load_cameras(path: Path) -> CameraRig:
    """Read a rig written by :func:`save_cameras`."""
    doc = _read_json(path)
    K = np.array([v["K"] for v in doc["views"]], dtype=doc["K_dtype"]).reshape(-1, 3, 3)
    T = np.array([v["T_cam_world"] for v in doc["views"]], dtype=doc["T_cam_world_dtype"])
    front = RigFront(**doc["front"]) if isinstance(doc.get("front"), dict) else None
    return CameraRig(
        K=K, T_cam_world=T.reshape(-1, 4, 4), width=doc["width"], height=doc["height"], front=front
    )


# --------------------------------------------------------------------------- meshes


def save_primitives(primitives: tuple[Primitive, ...], directory: Path) -> None:
    """Write primitives (geometry, material, texture PNG) into ``directory`` (created)."""
    directory.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    meta = []
    for i, p in enumerate(primitives):
        arrays[f"p{i}_vertices"] = p.vertices
        arrays[f"p{i}_faces"] = p.faces
        arrays[f"p{i}_base_color"] = p.material.base_color
        if p.uvs is not None:
            arrays[f"p{i}_uvs"] = p.uvs
        texture = None
        if p.material.texture is not None:
            texture = f"texture_{i}.png"
            write_png(p.material.texture, directory / texture)
        meta.append({"material": p.material.name, "texture": texture, "has_uvs": p.uvs is not None})
    _save_npz(directory / "primitives.npz", arrays)
    _write_json(directory / "primitives.json", meta)


def load_primitives(directory: Path) -> tuple[Primitive, ...]:
    """Read primitives written by :func:`save_primitives`."""
    meta = _read_json(directory / "primitives.json")
    arrays = _load_npz(directory / "primitives.npz")
    prims = []
    for i, m in enumerate(meta):
        texture = None if m["texture"] is None else read_png(directory / m["texture"])
        material = Material(m["material"], arrays[f"p{i}_base_color"], texture)
        uvs = arrays[f"p{i}_uvs"] if m["has_uvs"] else None
        prims.append(Primitive(arrays[f"p{i}_vertices"], arrays[f"p{i}_faces"], material, uvs))
    return tuple(prims)


def write_ply(
    vertices: Float[np.ndarray, "N 3"], faces: Int[np.ndarray, "F 3"], path: Path
) -> None:
    """Write a binary little-endian PLY mesh (float32 x y z, uint8-counted int32 faces)."""
    header = (
        "ply\nformat binary_little_endian 1.0\ncomment partdrag4d rest mesh (world frame, m)\n"
        f"element vertex {len(vertices)}\nproperty float x\nproperty float y\nproperty float z\n"
        f"element face {len(faces)}\nproperty list uchar int vertex_indices\nend_header\n"
    )
    face_rec = np.zeros(len(faces), dtype=[("n", "u1"), ("idx", "<i4", (3,))])
    face_rec["n"] = 3
    face_rec["idx"] = faces
    with open(path, "wb") as f:
        f.write(header.encode("ascii"))
        f.write(np.asarray(vertices, dtype="<f4").tobytes())
        f.write(face_rec.tobytes())


# --------------------------------------------------------------------------- drags


def _save_drags(drags: DragSet, path: Path) -> None:
    _save_npz(
        path, {"points_3d": drags.points_3d, "points_2d": drags.points_2d, "visible": drags.visible}
    )


def _load_drags(path: Path) -> DragSet:
    a = _load_npz(path)
    return DragSet(points_3d=a["points_3d"], points_2d=a["points_2d"], visible=a["visible"])


# --------------------------------------------------------------------------- ground truth


def _limits_to_json(limits: tuple[float, float] | None) -> list[float] | None:
    return None if limits is None else [float(limits[0]), float(limits[1])]


def _limits_from_json(limits: list[float] | None) -> tuple[float, float] | None:
    return None if limits is None else (float(limits[0]), float(limits[1]))


def _save_gt(gt: GroundTruth, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {"joint_values": gt.joint_values, "vertex_link": gt.vertex_link}
    joints = []
    for i, j in enumerate(gt.asset.joints):
        arrays[f"joint{i}_T_parent_joint"] = j.T_parent_joint
        arrays[f"joint{i}_axis"] = j.axis
        joints.append(
            {
                "name": j.name,
                "type": j.type.value,
                "parent": j.parent,
                "child": j.child,
                "limits": _limits_to_json(j.limits),
            }
        )
    links = []
    for i, link in enumerate(gt.asset.links):
        sub = f"links/link_{i:03d}"
        save_primitives(link.visuals, directory / sub)
        links.append({"name": link.name, "visuals": sub})
    doc = {
        "note": "ground truth: read only by generate/render and evaluate (honesty rule)",
        "asset_name": gt.asset.name,
        "links": links,
        "joints": joints,
        "joint_names": list(gt.joint_names),
    }
    _write_json(directory / "gt.json", doc)
    _save_npz(directory / "gt.npz", arrays)


def _load_gt(directory: Path) -> GroundTruth:
    doc = _read_json(directory / "gt.json")
    a = _load_npz(directory / "gt.npz")
    links = tuple(
        Link(name=link["name"], visuals=load_primitives(directory / link["visuals"]))
        for link in doc["links"]
    )
    joints = tuple(
        JointSpec(
            name=j["name"],
            type=JointType(j["type"]),
            parent=j["parent"],
            child=j["child"],
            T_parent_joint=a[f"joint{i}_T_parent_joint"],
            axis=a[f"joint{i}_axis"],
            limits=_limits_from_json(j["limits"]),
        )
        for i, j in enumerate(doc["joints"])
    )
    return GroundTruth(
        asset=ArticulatedAsset(name=doc["asset_name"], links=links, joints=joints),
        joint_names=tuple(doc["joint_names"]),
        joint_values=a["joint_values"],
        vertex_link=a["vertex_link"],
    )


# --------------------------------------------------------------------------- kinds


def _save_scene_input(obj: SceneInput, d: Path, cfg: SerializeConfig) -> None:
    _write_json(
        d / "scene.json",
        {
            "name": obj.name,
            "num_frames": int(obj.num_frames),
            "fps": float(obj.fps),
            "has_gt": obj.gt is not None,
            "up_axis": obj.up_axis,
        },
    )
    save_cameras(obj.cameras, d / "cameras.json")
    _save_drags(obj.drags, d / "drags.npz")
    save_primitives(obj.mesh.primitives, d / "mesh")
    if cfg.write_ply:
        write_ply(obj.mesh.vertices, obj.mesh.faces, d / "mesh.ply")
    if obj.gt is not None:
        _save_gt(obj.gt, d / "gt")


def _load_scene_input(d: Path) -> SceneInput:
    doc = _read_json(d / "scene.json")
    return SceneInput(
        name=doc["name"],
        mesh=SceneMesh(load_primitives(d / "mesh")),
        cameras=load_cameras(d / "cameras.json"),
        drags=_load_drags(d / "drags.npz"),
        num_frames=doc["num_frames"],
        fps=doc["fps"],
        gt=_load_gt(d / "gt") if doc["has_gt"] else None,
        up_axis=doc.get("up_axis", "z"),
    )


def _view_dir(v: int) -> str:
    return f"videos/view_{v:02d}"


def _save_video_set(obj: VideoSet, d: Path, cfg: SerializeConfig) -> None:
    num_views, num_frames, height, width, _ = obj.frames.shape
    _write_json(
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
    _save_npz(d / "drags.npz", {"drags_2d": obj.drags_2d, "drags_visible": obj.drags_visible})
    for v in range(num_views):
        vd = d / _view_dir(v)
        vd.mkdir(parents=True)
        for t in range(num_frames):
            write_png(obj.frames[v, t], vd / frame_name(t, num_frames))
        if cfg.write_mp4:
            write_mp4(obj.frames[v], d / f"{_view_dir(v)}.mp4", obj.fps)
    if obj.alpha is not None:
        _save_npz(d / "alpha.npz", {"alpha": obj.alpha}, compressed=True)
    if obj.gt is not None:
        (d / "gt").mkdir()
        gt = {"depth": obj.gt.depth, "part_id": obj.gt.part_id, "rest_xyz": obj.gt.rest_xyz}
        _save_npz(d / "gt" / "render_gt.npz", gt, compressed=True)
    if cfg.write_nerfstudio:
        write_nerfstudio(obj, d / "nerfstudio", frames_dir=d / "videos")
    if cfg.write_contact_sheet:
        from partdrag4d.viz import contact_sheet

        write_png(contact_sheet(obj, scale=max(1, 256 // width)), d / "contact_sheet.png")


def _load_video_set(d: Path) -> VideoSet:
    doc = _read_json(d / "video.json")
    num_views, num_frames = doc["num_views"], doc["num_frames"]
    frames = np.empty((num_views, num_frames, doc["height"], doc["width"], 3), np.uint8)
    for v in range(num_views):
        for t in range(num_frames):
            frames[v, t] = read_png(d / _view_dir(v) / frame_name(t, num_frames))
    drags = _load_npz(d / "drags.npz")
    alpha = _load_npz(d / "alpha.npz")["alpha"] if doc["has_alpha"] else None
    gt = None
    if doc["has_gt"]:
        g = _load_npz(d / "gt" / "render_gt.npz")
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
    _save_npz(d / "tracks.npz", {k: getattr(obj, k) for k in _TRACK_FIELDS})


def _load_tracks(d: Path) -> Tracks:
    a = _load_npz(d / "tracks.npz")
    return Tracks(**{k: a[k] for k in _TRACK_FIELDS})


def _save_articulation(obj: Articulation, d: Path, cfg: SerializeConfig) -> None:
    arrays = {
        "vertex_part": obj.vertex_part,
        "face_part": obj.face_part,
        "T_world_part": obj.T_world_part,
    }
    joints = []
    for i, j in enumerate(obj.joints):
        arrays[f"joint{i}_axis"] = j.axis
        arrays[f"joint{i}_origin"] = j.origin
        arrays[f"joint{i}_values"] = j.values
        joints.append(
            {
                "name": j.name,
                "type": j.type.value,
                "parent": j.parent,
                "child": j.child,
                "limits": _limits_to_json(j.limits),
            }
        )
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
    _write_json(d / "articulation.json", doc)
    _save_npz(d / "articulation.npz", arrays)
    if extra_arrays:
        _save_npz(d / "extras.npz", extra_arrays)


def _load_articulation(d: Path) -> Articulation:
    doc = _read_json(d / "articulation.json")
    a = _load_npz(d / "articulation.npz")
    extra_arrays = _load_npz(d / "extras.npz") if (d / "extras.npz").exists() else {}
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
        extras=_from_jsonable(doc["extras"], extra_arrays),
    )


def _save_file_tree(obj: FileTree, d: Path, cfg: SerializeConfig) -> None:
    shutil.move(str(obj.root), str(d / "files"))


def _load_file_tree(d: Path) -> FileTree:
    return FileTree(root=d / "files")


def _save_evaluation(obj: Evaluation, d: Path, cfg: SerializeConfig) -> None:
    doc = obj.metrics.to_dict() if obj.metrics is not None else {}
    _write_json(d / "metrics.json", to_jsonable(doc))


def _load_evaluation(d: Path) -> Evaluation:
    doc = _read_json(d / "metrics.json")
    return Evaluation(Metrics.from_dict(doc) if doc else None)


_SAVERS = {
    SceneInput: (KIND_SCENE_INPUT, _save_scene_input),
    VideoSet: (KIND_VIDEO_SET, _save_video_set),
    Tracks: (KIND_TRACKS, _save_tracks),
    Articulation: (KIND_ARTICULATION, _save_articulation),
    Evaluation: (KIND_METRICS, _save_evaluation),
    FileTree: (KIND_FILE_TREE, _save_file_tree),
}
_LOADERS = {
    KIND_SCENE_INPUT: _load_scene_input,
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
