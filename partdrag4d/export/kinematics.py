"""Kinematic-tree math shared by the exporters (GLB, URDF).

Owns the mapping from an :class:`~partdrag4d.containers.Articulation` (world-frame
joints, per-frame rest-world→world part motions) to a tree of *pivot frames*:

- Every part ``p`` has a pivot point ``o_p`` in the world frame at rest: the base's is
  the world origin, part ``i + 1``'s is the origin of joint ``i``.
- The pivot frame of part ``p`` is the world frame translated to ``o_p`` at rest (no
  rotation), so at rest every pivot frame is axis-aligned with the world and a joint
  axis has the same coordinates in the world and in its pivot frame.
- At frame ``t`` the pivot frame's world pose is ``W_p(t) = T_world_part[t, p] @
  Trans(o_p)`` and its pose relative to the parent pivot is ``L_p(t) = W_parent(t)^-1
  @ W_p(t)``. For an ideal joint ``L_p(t) = Trans(o_p - o_parent) @ M(q_t)`` with
  ``M`` a rotation about the axis (revolute) or a translation along it (prismatic).

Quaternions here are wxyz (project convention); writers convert at their boundary.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
from jaxtyping import Float, Int
from scipy.spatial.transform import Rotation

from partdrag4d.containers import Articulation, Joint, JointType


@runtime_checkable
class KinematicTree(Protocol):
    """What the tree math reads: part names (part 0 is the base) and one joint per other
    part. An :class:`~partdrag4d.containers.Articulation` is one; so is what the viewer
    reads back from ``export/articulation.json``."""

    @property
    def part_names(self) -> tuple[str, ...]: ...

    @property
    def joints(self) -> tuple[Joint, ...]: ...


def translation_matrix(t: Float[np.ndarray, "3"]) -> Float[np.ndarray, "4 4"]:
    """Homogeneous translation by ``t`` (metres)."""
    out = np.eye(4)
    out[:3, 3] = t
    return out


def joint_motion(
    joint_type: JointType, axis: Float[np.ndarray, "3"], value: float
) -> Float[np.ndarray, "4 4"]:
    """Motion of a child pivot frame for one joint value, in the pivot frame.

    Args:
        joint_type: revolute (``value`` in rad, right-handed about ``axis``), prismatic
            (``value`` in m along ``axis``) or fixed (identity).
        axis: unit axis in the pivot frame (equal to the world axis at rest).
        value: joint value relative to the rest state.

    Returns:
        4x4 transform ``M(value)``.
    """
    out = np.eye(4)
    axis = np.asarray(axis, dtype=np.float64)
    axis = axis / np.linalg.norm(axis)
    if joint_type is JointType.REVOLUTE:
        out[:3, :3] = Rotation.from_rotvec(axis * value).as_matrix()
    elif joint_type is JointType.PRISMATIC:
        out[:3, 3] = axis * value
    return out


def part_parents(art: KinematicTree) -> Int[np.ndarray, "P"]:
    """Parent part index of each part (``-1`` for the base), validated as a tree.

    Raises:
        ValueError: when joint ``i`` does not have ``child == part_names[i + 1]``, a parent
            name is unknown, or the parents do not form a tree rooted at part 0.
    """
    names = list(art.part_names)
    if len(art.joints) != len(names) - 1:
        raise ValueError(f"{len(names)} parts need {len(names) - 1} joints, got {len(art.joints)}")
    parents = np.full(len(names), -1, dtype=np.int64)
    for i, joint in enumerate(art.joints):
        if joint.child != names[i + 1]:
            raise ValueError(f"joint {joint.name}: child {joint.child!r} != {names[i + 1]!r}")
        if joint.parent not in names:
            raise ValueError(f"joint {joint.name}: unknown parent part {joint.parent!r}")
        parents[i + 1] = names.index(joint.parent)
    for p in range(len(names)):  # every chain must reach the base without a cycle
        seen, q = set(), p
        while q != 0:
            if q in seen:
                raise ValueError(f"kinematic cycle through part {names[p]!r}")
            seen.add(q)
            q = int(parents[q])
    return parents


def topological_order(parents: Int[np.ndarray, "P"]) -> list[int]:
    """Part indices ordered so that every parent comes before its children."""
    order: list[int] = []
    placed: set[int] = set()
    while len(order) < len(parents):
        for p in range(len(parents)):
            if p not in placed and (parents[p] < 0 or int(parents[p]) in placed):
                order.append(p)
                placed.add(p)
    return order


def part_pivots(art: KinematicTree) -> Float[np.ndarray, "P 3"]:
    """Pivot point of every part in the world frame at rest (base: the origin)."""
    pivots = np.zeros((len(art.part_names), 3))
    for i, joint in enumerate(art.joints):
        pivots[i + 1] = joint.origin
    return pivots


def local_pivot_transforms(art: Articulation) -> Float[np.ndarray, "T P 4 4"]:
    """Per-frame pose of each pivot frame relative to its parent's (base: to the world).

    Returns:
        ``L[t, p] = W_parent(t)^-1 @ W_p(t)`` with ``W_p(t) = T_world_part[t, p] @
        Trans(o_p)``; the base's parent is the world (identity).
    """
    parents = part_parents(art)
    pivots = part_pivots(art)
    T_world_part = np.asarray(art.T_world_part, dtype=np.float64)
    W = T_world_part.copy()
    W[:, :, :3, 3] += np.einsum("tpij,pj->tpi", T_world_part[:, :, :3, :3], pivots)
    local = np.empty_like(W)
    for p in range(art.num_parts):
        if parents[p] < 0:
            local[:, p] = W[:, p]
        else:
            local[:, p] = np.linalg.inv(W[:, parents[p]]) @ W[:, p]
    return local


def part_poses_from_joint_values(
    art: KinematicTree, values: Float[np.ndarray, "T J"]
) -> Float[np.ndarray, "T P 4 4"]:
    """Forward kinematics: rest-world→world motion of every part for joint values.

    The base stays at the identity; for child ``c`` of ``p`` through joint ``j``:
    ``T_world_part[c] = T_world_part[p] @ Trans(o_c) @ M_j(q) @ Trans(-o_c)``.

    Args:
        art: the articulation (tree, joint types, axes, origins are used).
        values: joint values per frame, one column per joint in ``art.joints`` order.

    Returns:
        ``T_world_part`` as in :class:`Articulation`.
    """
    parents = part_parents(art)
    pivots = part_pivots(art)
    num_frames = values.shape[0]
    out = np.tile(np.eye(4), (num_frames, len(art.part_names), 1, 1))
    for p in topological_order(parents):
        if parents[p] < 0:
            continue
        joint = art.joints[p - 1]
        for t in range(num_frames):
            motion = joint_motion(joint.type, joint.axis, float(values[t, p - 1]))
            local = translation_matrix(pivots[p]) @ motion @ translation_matrix(-pivots[p])
            out[t, p] = out[t, parents[p]] @ local
    return out


def joint_fit_residuals(art: Articulation, vertices: Float[np.ndarray, "N 3"]) -> list[float]:
    """How far each joint's ideal motion is from its part's reconstructed motion.

    Per joint: the mean over frames and over the child part's rest vertices of the
    distance between the vertex moved by ``T_world_part`` and by forward kinematics of
    the joint values, divided by the bounding-box diagonal. 0 means the joint explains
    the motion exactly; a value near the part's travel means it explains little of it.
    """
    if not art.joints:
        return []
    values = np.stack([np.asarray(j.values, dtype=np.float64) for j in art.joints], axis=1)
    ideal = part_poses_from_joint_values(art, values)
    diag = float(np.linalg.norm(np.ptp(vertices, axis=0))) or 1.0
    out = []
    for p in range(1, len(art.part_names)):
        pts = vertices[np.asarray(art.vertex_part) == p]
        if len(pts) == 0:
            out.append(0.0)
            continue
        a = (
            np.einsum("tij,nj->tni", art.T_world_part[:, p, :3, :3], pts)
            + art.T_world_part[:, p, None, :3, 3]
        )
        b = np.einsum("tij,nj->tni", ideal[:, p, :3, :3], pts) + ideal[:, p, None, :3, 3]
        out.append(float(np.linalg.norm(a - b, axis=-1).mean() / diag))
    return out


def matrix_to_trs(
    matrix: Float[np.ndarray, "T 4 4"],
) -> tuple[Float[np.ndarray, "T 3"], Float[np.ndarray, "T 4"]]:
    """Split rigid transforms into translations and sign-continuous wxyz quaternions.

    Consecutive quaternions are flipped to a non-negative dot product so that slerp
    between keyframes takes the short arc (the motion the samples describe).
    """
    rot = matrix[:, :3, :3]
    # Project onto SO(3) first: reconstructed poses may carry tiny non-orthogonality.
    u, _, vt = np.linalg.svd(rot)
    det = np.sign(np.linalg.det(u @ vt))
    u[:, :, -1] *= det[:, None]
    quat = Rotation.from_matrix(u @ vt).as_quat(scalar_first=True)
    for t in range(1, len(quat)):
        if np.dot(quat[t], quat[t - 1]) < 0:
            quat[t] = -quat[t]
    return matrix[:, :3, 3].copy(), quat


def joint_range(joint: Joint) -> tuple[float, float]:
    """Observed range of a joint: its limits widened to include every value and 0."""
    values = np.asarray(joint.values, dtype=np.float64)
    lo = min(float(joint.limits[0]), float(values.min(initial=0.0)), 0.0)
    hi = max(float(joint.limits[1]), float(values.max(initial=0.0)), 0.0)
    return lo, hi
