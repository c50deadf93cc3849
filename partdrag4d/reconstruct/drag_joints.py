"""Requested drags as evidence for joints: assignment to parts, joints from drag paths."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from jaxtyping import Bool, Float
from scipy.spatial import KDTree

from partdrag4d.containers import (
    DragSet,
    JointType,
)
from partdrag4d.geometry.se3 import invert_T, transform_points
from partdrag4d.reconstruct.articulate_config import ArticulateConfig
from partdrag4d.reconstruct.joints import (
    JointFit,
)


def assign_drags(
    drags: DragSet,
    anchors: np.ndarray,
    point_part: np.ndarray,
    poses: list[np.ndarray],
    trusted: list[np.ndarray],
) -> np.ndarray:
    """Part index (D,) of each drag: the part of the labelled surface point nearest to
    its start, unless another part's tracked motion carries the start point along the
    requested path clearly better (a drag grabbing a lid's front edge starts nearer the
    box's front face, which does not move).

    The motion cost of part ``m`` is the mean distance (m) between the requested path
    and the start point moved by the part's poses, over the part's trusted frames.
    """
    if drags.num_drags == 0:
        return np.zeros(0, np.int64)
    labelled = np.nonzero(point_part >= 0)[0]
    _, nearest = KDTree(anchors[labelled]).query(drags.points_3d[0])
    drag_part = point_part[labelled[nearest]].astype(np.int64)
    path = drags.points_3d  # T D 3
    cost = np.full((len(poses), path.shape[1]), np.inf)
    for m, (T_m, ok) in enumerate(zip(poses, trusted, strict=True)):
        if ok.sum() < 2:
            continue
        moved = (T_m[:, None, :3, :3] @ path[0][None, :, :, None])[..., 0] + T_m[:, None, :3, 3]
        cost[m] = np.linalg.norm(moved - path, axis=-1)[ok].mean(0)
    best = cost.argmin(0)
    cols = np.arange(path.shape[1])
    # A clear margin keeps the spatial choice where the motions hardly differ.
    switch = cost[best, cols] < 0.5 * cost[drag_part, cols]
    return np.where(switch, best, drag_part)


def joint_from_drag(path: np.ndarray, diag: float, cfg: ArticulateConfig) -> JointFit | None:
    """A joint from one requested drag path (T, 3) in the parent frame: a curved path is
    a hinge (axis = normal of the path's plane, pivot = centre of its circle), a straight
    one a slide. None when the path is too short to tell."""
    d = path - path[0]
    length = float(np.linalg.norm(d[-1]))
    if length < cfg.joint.fixed_motion * diag:
        return None
    u = d[-1] / length
    off = d - np.outer(d @ u, u)
    if np.max(np.linalg.norm(off, axis=1)) < cfg.tree.drag_curvature * length:
        values = d @ u
        return JointFit(JointType.PRISMATIC, u, path[0], values, 0.0, "drag")
    c = path.mean(0)
    _, _, Vt = np.linalg.svd(path - c, full_matrices=False)
    n = Vt[2]
    e1, e2 = Vt[0], Vt[1]
    # Circle through the in-plane points: |p - m|^2 = r^2 is linear in (m, r^2 - |m|^2).
    xy = np.c_[(path - c) @ e1, (path - c) @ e2]
    A = np.c_[2 * xy, np.ones(len(xy))]
    sol, *_ = np.linalg.lstsq(A, np.sum(xy**2, 1), rcond=None)
    o = c + sol[0] * e1 + sol[1] * e2
    r0, r = path[0] - o, path - o
    ang = np.arctan2(np.cross(r0, r) @ n, r @ r0)
    if ang[np.argmax(np.abs(ang))] < 0:
        n, ang = -n, -ang
    return JointFit(JointType.REVOLUTE, n, o, ang, 0.0, "drag")


def drag_joint(
    T_world_parent: Float[np.ndarray, "T 4 4"],
    drag_tracks: Float[np.ndarray, "T D 3"],
    ok: Bool[np.ndarray, "T"],
    diag: float,
    cfg: ArticulateConfig,
) -> JointFit | None:
    """The joint given by a part's first requested drag when fewer than
    ``cfg.tree.min_trusted_fraction`` of its frames were tracked, else None.

    Too little of the motion was tracked to tell a hinge from a slide, let alone to pin
    its axis: the drag's path in the parent frame does (its shape, not its exact
    amplitude; see :func:`joint_from_drag`). Such a joint is not refitted on the few
    tracked frames.
    """
    if ok.mean() >= cfg.tree.min_trusted_fraction or drag_tracks.shape[1] == 0:
        return None
    return joint_from_drag(drag_paths(T_world_parent, drag_tracks)[:, 0], diag, cfg)


def drag_paths(
    T_world_parent: Float[np.ndarray, "T 4 4"], drag_tracks: Float[np.ndarray, "T D 3"]
) -> Float[np.ndarray, "T D 3"]:
    """Requested drag paths in the parent's frame (its pose at rest = world)."""
    T_inv = invert_T(T_world_parent)
    return np.einsum("tij,tdj->tdi", T_inv[:, :3, :3], drag_tracks) + T_inv[:, None, :3, 3]


def drags_like(
    fit: JointFit,
    T_world_parent: Float[np.ndarray, "T 4 4"],
    drag_tracks: Float[np.ndarray, "T D 3"],
    diag: float,
    cfg: ArticulateConfig,
) -> Float[np.ndarray, "T K 3"]:
    """The drags whose path has the joint's shape (curved for a hinge, straight for a
    slide): a straight drag written by hand says where a door's edge should end up, not
    the arc it takes, and must not bend the hinge."""
    paths = drag_paths(T_world_parent, drag_tracks)
    keep = []
    for d in range(paths.shape[1]):
        shape = joint_from_drag(paths[:, d], diag, cfg)
        keep.append(shape is not None and shape.type is fit.type)
    return drag_tracks[:, np.array(keep, bool)]


def values_from_drags(
    fit: JointFit,
    T_world_parent: np.ndarray,
    drag_tracks: np.ndarray,
    ok: np.ndarray,
) -> JointFit:
    """Joint values at untrusted frames (``~ok``) from the requested drags on the part.

    When the part's tracks are lost (a door turning its face away from every camera),
    the drags the user asked for are the only evidence left: the value at such a frame
    moves the drag's start point closest to its requested position (mean over drags).

    Args:
        fit: the joint fitted on the trusted frames.
        T_world_parent: parent poses (T, 4, 4).
        drag_tracks: requested world positions of the part's drags (T, D, 3), D >= 1.
        ok: trusted frames (T,).
    """
    if fit.type is JointType.FIXED or ok.all() or drag_tracks.shape[1] == 0:
        return fit
    values = fit.values.copy()
    a, o = fit.axis, fit.origin
    p0 = drag_tracks[0]  # D 3, at rest (parent frame = world at rest)
    for t in np.nonzero(~ok)[0]:
        q = transform_points(invert_T(T_world_parent[t]), drag_tracks[t])
        if fit.type is JointType.PRISMATIC:
            values[t] = float(np.mean((q - p0) @ a))
            continue
        u, v = p0 - o, q - o
        u, v = u - np.outer(u @ a, a), v - np.outer(v @ a, a)
        ang = np.arctan2(np.cross(u, v) @ a, np.sum(u * v, -1))
        good = (np.linalg.norm(u, axis=1) > 1e-6) & (np.linalg.norm(v, axis=1) > 1e-6)
        if good.any():
            values[t] = float(np.mean(ang[good]))
    return replace(fit, axis=a, origin=o, values=values)
