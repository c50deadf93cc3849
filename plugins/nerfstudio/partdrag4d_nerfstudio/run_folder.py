"""A partdrag4d run folder read back: part meshes, joints, forward kinematics (numpy).

Conventions (those of partdrag4d): world frame of the input asset, +Z up, metres.
Joint axes and origins are in the world frame at rest; a joint value is radians
(revolute, right-handed about the axis) or metres (prismatic, along the axis) relative
to the rest state. A child's motion is ``T_parent @ Trans(o) @ M(q) @ Trans(-o)``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh

ROOT_NODE = "asset_root"  # the GLB's root node: rotates partdrag4d's +Z-up world to glTF +Y-up


@dataclass(frozen=True)
class JointSpec:
    name: str
    type: str
    parent: int
    axis: np.ndarray
    origin: np.ndarray
    values: np.ndarray
    limits: tuple[float, float]


@dataclass(frozen=True)
class RunArticulation:
    """Parts (triangles in the world frame at rest) and the joints that move them."""

    part_names: tuple[str, ...]
    triangles: tuple[np.ndarray, ...]
    """Per part, (F, 3, 3) triangle corners."""
    joints: tuple[JointSpec, ...]
    """Joint ``i`` moves part ``i + 1``."""
    num_frames: int

    def values_at(self, time: float) -> np.ndarray:
        """Joint values at normalised time in [0, 1], linear between frames."""
        if not self.joints:
            return np.zeros(0)
        position = float(np.clip(time, 0.0, 1.0)) * (self.num_frames - 1)
        lo = int(np.floor(position))
        hi = min(lo + 1, self.num_frames - 1)
        w = position - lo
        return np.array([(1 - w) * j.values[lo] + w * j.values[hi] for j in self.joints])

    def poses(self, values: np.ndarray) -> np.ndarray:
        """Rest-world -> world motion of every part, (P, 4, 4)."""
        out = np.tile(np.eye(4), (len(self.part_names), 1, 1))
        done = {0}
        while len(done) < len(self.part_names):
            for i, joint in enumerate(self.joints):
                if i + 1 in done or joint.parent not in done:
                    continue
                motion = np.eye(4)
                if joint.type == "revolute":
                    motion[:3, :3] = _rotation(joint.axis, float(values[i]))
                elif joint.type == "prismatic":
                    motion[:3, 3] = joint.axis * float(values[i])
                pivot, back = np.eye(4), np.eye(4)
                pivot[:3, 3], back[:3, 3] = joint.origin, -joint.origin
                out[i + 1] = out[joint.parent] @ pivot @ motion @ back
                done.add(i + 1)
        return out


def _rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    k = axis / np.linalg.norm(axis)
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle) * kx + (1 - np.cos(angle)) * kx @ kx


def read_run_articulation(run_dir: Path) -> RunArticulation:
    """Read ``export/articulation.json`` and ``export/model.glb`` of a run folder."""
    doc = json.loads((run_dir / "export" / "articulation.json").read_text())
    names = tuple(p["name"] for p in doc["parts"])
    joints = tuple(
        JointSpec(
            name=j["name"],
            type=j["type"],
            parent=names.index(j["parent"]),
            axis=np.asarray(j["axis"], float) / np.linalg.norm(j["axis"]),
            origin=np.asarray(j["origin"], float),
            values=np.asarray(j["values"], float),
            limits=(float(j["limits"][0]), float(j["limits"][1])),
        )
        for j in doc["joints"]
    )
    num_frames = int(doc.get("num_frames") or (len(joints[0].values) if joints else 1))
    scene = trimesh.load(run_dir / "export" / "model.glb", force="scene")
    to_world = np.linalg.inv(scene.graph[ROOT_NODE][0])
    parents = scene.graph.transforms.parents
    per_part: list[list[np.ndarray]] = [[] for _ in names]
    for node in scene.graph.nodes_geometry:
        owner = node
        while owner not in names and owner in parents:
            owner = parents[owner]
        transform, geometry = scene.graph[node]
        mesh = scene.geometry[geometry].copy()
        mesh.apply_transform(to_world @ transform)
        per_part[names.index(owner)].append(np.asarray(mesh.triangles, dtype=np.float32))
    triangles = tuple(np.concatenate(t) if t else np.zeros((0, 3, 3), np.float32) for t in per_part)
    return RunArticulation(names, triangles, joints, num_frames)
