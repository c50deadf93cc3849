"""Read a run folder (what ``partdrag4d`` writes into ``out_dir``) back for a viewer.

A run folder is self-contained: ``export/articulation.json`` (parts, joints, per-frame
joint values), ``export/model.glb`` (the textured part meshes) and, when the videos
were kept, ``videos/cameras.json`` with ``videos/view_XX/frame_YYY.png``. Everything is
in the input asset's world frame (metres, +Z up).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import trimesh
from jaxtyping import Float, UInt8

from partdrag4d.containers import CameraRig, Joint, JointType
from partdrag4d.errors import InputError
from partdrag4d.export.glb import ROOT_NODE_NAME
from partdrag4d.export.kinematics import part_parents, part_poses_from_joint_values
from partdrag4d.store.serialize import load_cameras
from partdrag4d.store.video_io import frame_name, read_png


@dataclass(frozen=True)
class ExportedArticulation:
    """``export/articulation.json`` read back: the kinematic tree and its motion."""

    part_names: tuple[str, ...]
    """P part names; part 0 is the static base."""
    joints: tuple[Joint, ...]
    """One joint per non-base part, world frame at rest."""
    fps: float
    """Frame rate of the joint values (the videos' frame rate)."""
    num_frames: int
    """T frames of motion."""


@dataclass(frozen=True)
class PartPieceMesh:
    """One mesh of a part (one per source material), world frame at rest."""

    part: int
    """Part index."""
    mesh: trimesh.Trimesh
    """Geometry with its texture, vertices in the world frame at rest."""


@dataclass(frozen=True)
class RunFolder:
    """Everything a viewer shows of one run."""

    root: Path
    """The run folder."""
    articulation: ExportedArticulation
    """Parts, joints and motion."""
    pieces: tuple[PartPieceMesh, ...]
    """The part meshes."""
    cameras: CameraRig | None
    """The video cameras (None when the run folder has no ``videos/cameras.json``)."""

    def frame_path(self, view: int, frame: int) -> Path:
        """Path of video frame ``frame`` of view ``view``."""
        name = frame_name(frame, self.articulation.num_frames)
        return self.root / "videos" / f"view_{view:02d}" / name

    def frame(self, view: int, frame: int) -> UInt8[np.ndarray, "H W 3"] | None:
        """Video frame as RGB, or None when the run folder does not hold it."""
        return _read_frame(self.frame_path(view, frame))


@lru_cache(maxsize=512)
def _read_frame(path: Path) -> np.ndarray | None:
    return read_png(path) if path.is_file() else None


def _field(doc: dict, key: str, source: Path, where: str = "") -> object:
    if not isinstance(doc, dict) or key not in doc:
        raise InputError(source, f"{where}{key}", "missing")
    return doc[key]


def _vector(value: object, source: Path, where: str, size: int | None = None) -> np.ndarray:
    try:
        out = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(source, where, f"must be a list of numbers, got {value!r}") from None
    if out.ndim != 1 or (size is not None and len(out) != size) or not np.isfinite(out).all():
        raise InputError(source, where, f"must be {size or 'a list of'} finite numbers")
    return out


def _joint(doc: dict, index: int, num_frames: int, source: Path) -> Joint:
    where = f"joints[{index}]."
    kind = str(_field(doc, "type", source, where))
    if kind not in {t.value for t in JointType}:
        raise InputError(source, f"{where}type", f"unknown joint type {kind!r}")
    axis = _vector(_field(doc, "axis", source, where), source, f"{where}axis", 3)
    if np.linalg.norm(axis) == 0:
        raise InputError(source, f"{where}axis", "must not be zero")
    values = _vector(_field(doc, "values", source, where), source, f"{where}values")
    if len(values) != num_frames:
        raise InputError(source, f"{where}values", f"has {len(values)} values for {num_frames}")
    limits = _vector(_field(doc, "limits", source, where), source, f"{where}limits", 2)
    return Joint(
        name=str(_field(doc, "name", source, where)),
        type=JointType(kind),
        parent=str(_field(doc, "parent", source, where)),
        child=str(_field(doc, "child", source, where)),
        axis=axis / np.linalg.norm(axis),
        origin=_vector(_field(doc, "origin", source, where), source, f"{where}origin", 3),
        values=values,
        limits=(float(limits[0]), float(limits[1])),
    )


def read_articulation_json(path: Path) -> ExportedArticulation:
    """Read and validate ``export/articulation.json``.

    Raises:
        InputError: naming the file and the field when it is missing or malformed.
    """
    if not path.is_file():
        raise InputError(path, "file", "not found (is this a partdrag4d run folder?)")
    try:
        doc = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(path, "file", f"not JSON ({err})") from None
    parts = _field(doc, "parts", path)
    if not isinstance(parts, list) or not parts:
        raise InputError(path, "parts", "must be a non-empty list")
    names = tuple(str(_field(p, "name", path, f"parts[{i}].")) for i, p in enumerate(parts))
    joint_docs = _field(doc, "joints", path)
    if not isinstance(joint_docs, list):
        raise InputError(path, "joints", "must be a list")
    num_frames = int(doc.get("num_frames") or (len(joint_docs[0]["values"]) if joint_docs else 1))
    joints = tuple(_joint(j, i, num_frames, path) for i, j in enumerate(joint_docs))
    art = ExportedArticulation(names, joints, float(doc.get("fps", 10.0)), num_frames)
    try:
        part_parents(art)
    except ValueError as err:
        raise InputError(path, "joints", str(err)) from None
    return art


def _glb_pieces(path: Path, part_names: tuple[str, ...]) -> tuple[PartPieceMesh, ...]:
    """The GLB's meshes in the world frame at rest, each with the part that owns it."""
    if not path.is_file():
        raise InputError(path, "file", "not found (is this a partdrag4d run folder?)")
    try:
        scene = trimesh.load(path, force="scene")
    except Exception as err:  # trimesh raises many types on a broken file
        raise InputError(
            path, "file", f"not a readable GLB ({type(err).__name__}: {err})"
        ) from None
    if not isinstance(scene, trimesh.Scene):
        raise InputError(path, "file", "holds no scene")
    root_to_gltf = scene.graph[ROOT_NODE_NAME][0] if ROOT_NODE_NAME in scene.graph.nodes else None
    gltf_to_world = np.linalg.inv(root_to_gltf) if root_to_gltf is not None else np.eye(4)
    parents = scene.graph.transforms.parents
    pieces = []
    for node in scene.graph.nodes_geometry:
        owner = node
        while owner not in part_names and owner in parents:
            owner = parents[owner]
        if owner not in part_names:
            raise InputError(path, f"node {node!r}", "belongs to no part of articulation.json")
        transform, geometry = scene.graph[node]
        mesh = scene.geometry[geometry].copy()
        mesh.apply_transform(gltf_to_world @ transform)
        pieces.append(PartPieceMesh(part_names.index(owner), mesh))
    return tuple(pieces)


def read_run_folder(run_dir: Path | str) -> RunFolder:
    """Read a run folder written by ``partdrag4d`` (``out_dir``).

    Raises:
        InputError: when the folder, the export or a field in it is missing or malformed.
    """
    root = Path(run_dir)
    if not root.is_dir():
        raise InputError(root, "run folder", "not found")
    art = read_articulation_json(root / "export" / "articulation.json")
    pieces = _glb_pieces(root / "export" / "model.glb", art.part_names)
    cameras_json = root / "videos" / "cameras.json"
    cameras = load_cameras(cameras_json) if cameras_json.is_file() else None
    return RunFolder(root, art, pieces, cameras)


def joint_values_at(art: ExportedArticulation, time: float) -> Float[np.ndarray, "J"]:
    """Joint values at normalised time ``time`` in [0, 1] (linear between frames)."""
    if not art.joints:
        return np.zeros(0)
    values = np.stack([j.values for j in art.joints], axis=1)
    position = float(np.clip(time, 0.0, 1.0)) * (art.num_frames - 1)
    lo = int(np.floor(position))
    hi = min(lo + 1, art.num_frames - 1)
    w = position - lo
    return (1.0 - w) * values[lo] + w * values[hi]


def part_poses(art: ExportedArticulation, values: Float[np.ndarray, "J"]) -> np.ndarray:
    """Rest-world→world motion of every part (P, 4, 4) for one set of joint values."""
    return part_poses_from_joint_values(art, np.asarray(values, dtype=np.float64)[None])[0]
