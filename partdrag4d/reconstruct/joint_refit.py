"""Joint refit on the tracks' reprojection error (axis, pivot, values, per-view amplitude)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from jaxtyping import Float
from scipy.optimize import least_squares

from partdrag4d.containers import (
    JointType,
)
from partdrag4d.geometry.camera import project_each
from partdrag4d.geometry.lines import closest_point_on_line
from partdrag4d.geometry.se3 import invert_T, transform_points
from partdrag4d.reconstruct.articulate_config import ArticulateConfig
from partdrag4d.reconstruct.drag_joints import drag_joint, drags_like, values_from_drags
from partdrag4d.reconstruct.joints import (
    JointFit,
    joint_transforms,
    select_joint,
)
from partdrag4d.reconstruct.observations import Observations, subset


def tangent_basis(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h = np.array([1.0, 0.0, 0.0]) if abs(a[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e1 = np.cross(a, h)
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(a, e1)


class FrameJacobian:
    """Forward-difference Jacobian of ``fun`` whose parameters are global (frame 0) or
    belong to one frame (``col_frame``) and move only that frame's residuals
    (``row_frame``): one evaluation per global parameter plus one for all per-frame
    ones (a joint's T values), instead of one per parameter. Call :attr:`fun` through
    it: the last value is reused as the base point."""

    def __init__(self, fun, col_frame: np.ndarray, row_frame: np.ndarray):
        self._fun, self.col_frame, self.row_frame = fun, col_frame, row_frame
        self._last: tuple[np.ndarray, np.ndarray] | None = None

    def fun(self, x: np.ndarray) -> np.ndarray:
        f = self._fun(x)
        self._last = (x.copy(), f)
        return f

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self._last is not None and np.array_equal(self._last[0], x):
            f0 = self._last[1]
        else:
            f0 = self._fun(x)
        h = np.sqrt(np.finfo(float).eps) * np.maximum(1.0, np.abs(x))
        J = np.empty((len(f0), len(x)))
        local = np.nonzero(self.col_frame > 0)[0]
        for j in np.nonzero(self.col_frame == 0)[0]:
            xj = x.copy()
            xj[j] += h[j]
            J[:, j] = (self._fun(xj) - f0) / h[j]
        if len(local):
            xl = x.copy()
            xl[local] += h[local]
            df = self._fun(xl) - f0
            mine = self.row_frame[:, None] == self.col_frame[local][None, :]
            J[:, local] = np.where(mine, df[:, None] / h[local], 0.0)
        return J


def refine_joint(
    fit: JointFit,
    T_world_parent: Float[np.ndarray, "T 4 4"],
    obs: Observations,
    groups: np.ndarray,
    cfg: ArticulateConfig,
    frames: np.ndarray | None = None,
    drag_tracks: Float[np.ndarray, "T D 3"] | None = None,
) -> JointFit:
    """Jointly refit axis, pivot and all frame values (value at frame 0 fixed to 0) by
    robust least squares on the reprojection error of the part's tracks in all views
    (only the ``frames`` mask's frames observe; the others keep their values).

    The requested world paths of the part's drags (``drag_tracks``), when given, observe
    every frame too: each drag counts as ``cfg.tree.drag_weight`` tracked points, its 3D
    error converted to pixels at the cameras' mean scale.
    """
    if fit.type is JointType.FIXED:
        return fit
    entries = np.nonzero(np.isin(obs.group, subset(groups, cfg.proposals.max_fit_points)))[0]
    X, uv, vis, view = obs.X[entries], obs.uv[:, entries], obs.vis[:, entries], obs.view[entries]
    if frames is not None:
        vis = vis & frames[:, None]
    e1, e2 = tangent_basis(fit.axis)
    revolute = fit.type is JointType.REVOLUTE
    c = X.mean(0)
    T = len(fit.values)
    views = np.unique(view)
    # Per-view amplitude (log scale, mean 0 over the views): generated views disagree on
    # how far a part moves, and one shared value per frame would bend the axis.
    nv = len(views) - 1 if cfg.tree.per_view_scale and len(views) > 1 else 0
    in_view = [view == v for v in views]

    def unpack(p):
        a = fit.axis + p[0] * e1 + p[1] * e2
        a = a / np.linalg.norm(a)
        o = fit.origin + (p[2] * e1 + p[3] * e2 if revolute else 0.0)
        q = np.r_[0.0, p[4 : 3 + T]]
        logs = np.r_[-np.sum(p[3 + T :]), p[3 + T :]] if nv else np.zeros(len(views))
        return a, o, q, np.exp(logs)

    use = drag_tracks is not None and drag_tracks.shape[1] > 0 and cfg.tree.drag_weight > 0
    drags = drag_tracks if use else None
    if drags is not None:
        # Pixels per metre at the drags' start points, averaged over the views.
        depth = transform_points(obs.Tcw, drags[0].mean(0)[None])[:, 0, 2]
        px_per_m = float(np.mean(obs.K[:, 0, 0] / depth))

    def fun(p):
        a, o, q, scale = unpack(p)
        xy = np.empty_like(uv)
        for k, m in enumerate(in_view):
            Tw = T_world_parent @ joint_transforms(fit.type, a, o, scale[k] * q)
            xy[:, m], _ = project_each(obs.K, obs.Tcw, view[m], transform_points(Tw, X[m]))
        # Invisible observations contribute zero (fixed residual length).
        r = ((xy - uv) * vis[..., None])[1:].ravel()
        if drags is None:
            return r
        Tw = T_world_parent @ joint_transforms(fit.type, a, o, q)
        e = (transform_points(Tw, drags[0]) - drags)[1:] * px_per_m
        return np.r_[r, np.tile(e.ravel(), cfg.tree.drag_weight)]

    # Frame t's value moves only frame t's residuals: all values share one evaluation.
    row_frame = np.repeat(np.arange(1, T), vis.shape[1] * 2)
    if drags is not None:
        drag_rows = np.repeat(np.arange(1, T), drags.shape[1] * 3)
        row_frame = np.r_[row_frame, np.tile(drag_rows, cfg.tree.drag_weight)]
    col_frame = np.r_[np.zeros(4, int), np.arange(1, T), np.zeros(nv, int)]
    jac = FrameJacobian(fun, col_frame, row_frame)

    p0 = np.r_[0.0, 0.0, 0.0, 0.0, fit.values[1:], np.zeros(nv)]
    # (scipy's annotations take ``jac`` for a string only; a callable is documented.)
    f_scale = cfg.proposals.robust_scale_px
    res = least_squares(jac.fun, p0, jac, loss="soft_l1", f_scale=f_scale, max_nfev=100)  # pyright: ignore[reportArgumentType]
    res = least_squares(jac.fun, res.x, jac, loss="cauchy", f_scale=f_scale, max_nfev=100)  # pyright: ignore[reportArgumentType]
    a, o, q, _ = unpack(res.x)
    o = closest_point_on_line(o, a, c) if revolute else c
    if q[np.argmax(np.abs(q))] < 0:
        a, q = -a, -q
    return replace(fit, axis=a, origin=o, values=q)


def select_trusted(
    T_rel: np.ndarray, X: np.ndarray, ok: np.ndarray, diag: float, cfg: ArticulateConfig
) -> JointFit:
    """:func:`select_joint` on the trusted frames; the other frames hold the last
    trusted value."""
    fit = select_joint(T_rel[ok], X, diag, cfg.joint)
    idx = np.maximum.accumulate(np.where(ok, np.arange(len(ok)), 0))
    values = np.zeros(len(ok))
    values[ok] = fit.values
    return replace(fit, values=values[idx])


def fit_joint(
    obs: Observations,
    T_world_part: np.ndarray,
    T_world_parent: np.ndarray,
    groups: np.ndarray,
    ok: np.ndarray,
    drag_tracks: np.ndarray,
    diag: float,
    cfg: ArticulateConfig,
    refine: bool,
) -> JointFit:
    """The joint of a part (its surface points ``groups``) relative to its parent: type
    by model selection on the trusted frames ``ok``, or from its drag when too few were
    tracked (:func:`drag_joint`); with ``refine``, refitted on the tracks and the drags
    shaped like it; untrusted frames' values from the drags."""
    T_rel = invert_T(T_world_parent) @ T_world_part
    fit = select_trusted(T_rel, obs.anchors[groups], ok, diag, cfg)
    from_drag = drag_joint(T_world_parent, drag_tracks, ok, diag, cfg)
    if from_drag is not None:
        fit = from_drag
    elif refine:
        like = drags_like(fit, T_world_parent, drag_tracks, diag, cfg)
        fit = refine_joint(fit, T_world_parent, obs, groups, cfg, ok, like)
    return values_from_drags(fit, T_world_parent, drag_tracks, ok)
