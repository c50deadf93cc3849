"""Forward kinematics of an :class:`~partdrag4d.containers.ArticulatedAsset` (pure functions).

Conventions:
- ``T_a_b`` (4x4, float64) maps homogeneous coordinates in frame ``b`` to frame ``a``.
- The root link frame is the world frame (``T_world_root = I``).
- URDF semantics: ``T_parent_child(q) = T_parent_joint @ M(q)`` where ``M`` is a rotation by
  ``q`` radians about the joint axis through the joint origin (revolute; right-hand rule) or a
  translation by ``q`` metres along the axis (prismatic); fixed joints ignore ``q``.
- URDF ``rpy`` is fixed-axis roll-pitch-yaw: ``R = Rz(yaw) @ Ry(pitch) @ Rx(roll)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from jaxtyping import Float, Int

from partdrag4d.containers import (
    ArticulatedAsset,
    JointSpec,
    JointType,
    Primitive,
    SceneMesh,
)
from partdrag4d.geometry.se3 import axis_angle_to_matrix, make_T, transform_points


def rpy_to_matrix(rpy: Float[np.ndarray, "3"] | Sequence[float | int]) -> Float[np.ndarray, "3 3"]:
    """Rotation matrix of URDF fixed-axis roll-pitch-yaw angles.

    Args:
        rpy: (roll, pitch, yaw) in radians, about the fixed x, y, z axes, applied in that order.

    Returns:
        ``Rz(yaw) @ Ry(pitch) @ Rx(roll)`` (float64).
    """
    r, p, y = (float(a) for a in rpy)
    cr, sr, cp, sp, cy, sy = np.cos(r), np.sin(r), np.cos(p), np.sin(p), np.cos(y), np.sin(y)
    rx = np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]], dtype=np.float64)
    ry = np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]], dtype=np.float64)
    rz = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]], dtype=np.float64)
    return rz @ ry @ rx


def joint_motion(joint: JointSpec, q: float) -> Float[np.ndarray, "4 4"]:
    """Motion ``M(q)`` of a joint in its own frame (see the module conventions).

    Args:
        joint: the joint.
        q: joint value in radians (revolute) or metres (prismatic); ignored for fixed.

    Returns:
        4x4 transform child-frame -> joint-frame.
    """
    if joint.type is JointType.REVOLUTE:
        return make_T(axis_angle_to_matrix(joint.axis, float(q)), np.zeros(3))
    if joint.type is JointType.PRISMATIC:
        return make_T(np.eye(3), np.asarray(joint.axis, np.float64) * float(q))
    return np.eye(4, dtype=np.float64)


def forward_kinematics(
    asset: ArticulatedAsset, q: Mapping[str, float] | None = None
) -> dict[str, np.ndarray]:
    """World pose of every link.

    Args:
        asset: the articulated asset (joints in topological order).
        q: joint values by joint name (rad or m); joints not given are at 0. Values are not
            clamped to the limits.

    Returns:
        ``{link_name: T_world_link}`` with 4x4 float64 matrices; the root is the identity.
        Links not reachable from the root (never produced by ``load_urdf``) are omitted.
    """
    q = {} if q is None else q
    known = {j.name for j in asset.joints}
    unknown = set(q) - known
    if unknown:
        raise KeyError(f"unknown joint(s) {sorted(unknown)} for asset {asset.name!r}")
    poses: dict[str, np.ndarray] = {asset.root: np.eye(4, dtype=np.float64)}
    for joint in asset.joints:
        T_world_parent = poses[joint.parent]
        poses[joint.child] = (
            T_world_parent
            @ np.asarray(joint.T_parent_joint, np.float64)
            @ joint_motion(joint, float(q.get(joint.name, 0.0)))
        )
    return poses


def link_poses_over_time(
    asset: ArticulatedAsset,
    joint_names: Sequence[str],
    joint_values: Float[np.ndarray, "T J"],
) -> Float[np.ndarray, "T L 4 4"]:
    """Link poses for a sequence of joint configurations.

    Args:
        asset: the articulated asset.
        joint_names: J joint names, the column order of ``joint_values``.
        joint_values: (T, J) joint values in rad or m; other joints stay at 0.

    Returns:
        (T, L, 4, 4) ``T_world_link`` with links in ``asset.links`` order (float64).
    """
    if joint_values.shape[1] != len(joint_names):
        raise ValueError(
            f"joint_values has {joint_values.shape[1]} columns for {len(joint_names)} names"
        )
    out = np.empty((len(joint_values), len(asset.links), 4, 4), dtype=np.float64)
    for t, row in enumerate(joint_values):
        poses = forward_kinematics(asset, dict(zip(joint_names, row.tolist(), strict=True)))
        for li, link in enumerate(asset.links):
            out[t, li] = poses[link.name]
    return out


def posed_mesh(
    asset: ArticulatedAsset, q: Mapping[str, float] | None = None
) -> tuple[SceneMesh, Int[np.ndarray, "N"]]:
    """World-space mesh of all link visuals at configuration ``q``.

    Args:
        asset: the articulated asset.
        q: joint values by name (missing joints at 0).

    Returns:
        ``(mesh, vertex_link)``: primitives ordered by link (``asset.links`` order) then by
        visual; ``vertex_link[i]`` is the index into ``asset.links`` of vertex ``i`` of
        ``mesh.vertices``. Links without visuals contribute nothing.
    """
    poses = forward_kinematics(asset, q)
    prims: list[Primitive] = []
    labels: list[np.ndarray] = []
    for li, link in enumerate(asset.links):
        T = poses[link.name]
        for p in link.visuals:
            moved = transform_points(T, p.vertices).astype(p.vertices.dtype, copy=False)
            prims.append(Primitive(moved, p.faces, p.material, p.uvs))
            labels.append(np.full(len(p.vertices), li, dtype=np.int64))
    if not prims:
        raise ValueError(f"asset {asset.name!r} has no visual geometry")
    return SceneMesh(tuple(prims)), np.concatenate(labels)


def move_vertices(
    rest: Float[np.ndarray, "N 3"],
    vertex_label: Int[np.ndarray, "N"],
    transforms: Float[np.ndarray, "L 4 4"],
) -> Float[np.ndarray, "N 3"]:
    """Move every vertex by the rigid transform of its label (e.g. its link or part)."""
    M = np.asarray(transforms, dtype=np.float64)[vertex_label]
    return np.einsum("nij,nj->ni", M[:, :3, :3], rest) + M[:, :3, 3]
