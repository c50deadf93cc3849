"""Camera projection, triangulation and multi-view rigid pose from 2D-3D correspondences.

Cameras are OpenCV pinholes (``K`` 3x3, ``T_cam_world`` 4x4, z forward) projected by
:mod:`partdrag4d.geometry.camera` (pixel coordinates with the image corner at (0, 0)).
Observations of one rigid body may come from several views at once: each observation
carries the index of its view.
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Bool, Float, Int
from scipy.optimize import least_squares

from partdrag4d.geometry.camera import pinhole_jacobian, project_each
from partdrag4d.geometry.se3 import make_T, skew, so3_exp, so3_left_jacobian, transform_points


def triangulate(
    K: Float[np.ndarray, "V 3 3"],
    T_cam_world: Float[np.ndarray, "V 4 4"],
    view: Int[np.ndarray, "M"],
    uv: Float[np.ndarray, "M 2"],
) -> Float[np.ndarray, "3"]:
    """Linear (DLT) triangulation of one point seen in ``M >= 2`` views."""
    P = K[view] @ T_cam_world[view, :3, :]
    A = np.concatenate([uv[:, :1] * P[:, 2] - P[:, 0], uv[:, 1:2] * P[:, 2] - P[:, 1]], axis=0)
    A = A / np.maximum(np.linalg.norm(A, axis=1, keepdims=True), 1e-300)
    _, _, Vt = np.linalg.svd(A)
    h = Vt[-1]
    return h[:3] / h[3]


def refine_pose(
    T_init: Float[np.ndarray, "4 4"],
    X: Float[np.ndarray, "N 3"],
    uv: Float[np.ndarray, "N 2"],
    view: Int[np.ndarray, "N"],
    K: Float[np.ndarray, "V 3 3"],
    T_cam_world: Float[np.ndarray, "V 4 4"],
    f_scale_px: float = 1.0,
    loss: str = "cauchy",
    max_nfev: int = 50,
) -> Float[np.ndarray, "4 4"]:
    """Rigid pose ``T`` minimising the robust reprojection error of ``T X`` over all views.

    The pose is updated as ``R = exp(w) R0``, ``t = t0 + v``: six parameters with an
    analytic Jacobian, robust loss (``scipy.optimize.least_squares``) so outlier tracks
    and one inconsistent view are down-weighted.

    Args:
        T_init: initial pose (e.g. from Kabsch on triangulated points, or identity).
        X: rest-state world points of the body.
        uv: observed pixels of each point.
        view: view index of each observation.
        K: intrinsics of the rig.
        T_cam_world: extrinsics of the rig.
        f_scale_px: inlier scale of the robust loss in pixels.
        loss: ``least_squares`` loss of the second pass (the first is soft-L1).
        max_nfev: evaluation budget.

    Returns:
        The refined pose.
    """
    if len(X) < 3:
        return T_init
    pose, fun, jac = rigid_problem(T_init, X, uv, view, K, T_cam_world)
    # A convex-ish soft-L1 pass finds the basin, then the redescending loss removes the
    # pull of outliers (e.g. a whole inconsistent view).
    # (scipy's annotations take ``jac`` for a string only; a callable is documented.)
    kw = {"f_scale": f_scale_px, "max_nfev": max_nfev}
    res = least_squares(fun, np.zeros(6), jac, loss="soft_l1", **kw)  # pyright: ignore[reportArgumentType]
    if loss != "soft_l1":
        res = least_squares(fun, res.x, jac, loss=loss, **kw)  # pyright: ignore[reportArgumentType]
    return pose(res.x)


def rigid_problem(T_init, X, uv, view, K, T_cam_world):
    """``(pose(p), residuals(p), jacobian(p))`` of :func:`refine_pose`'s six update
    parameters ``p = (w, v)``: ``R = exp(w) R0`` about the points' centroid (so rotation
    and translation decouple), ``t = t0 + v``."""
    R0, t0 = T_init[:3, :3], T_init[:3, 3]
    c = X.mean(0)
    Rc, tc, Kv = T_cam_world[view, :3, :3], T_cam_world[view, :3, 3], K[view]
    arm = (X - c) @ R0.T  # the points about the centroid, before the update's rotation

    def pose(p):
        R = so3_exp(p[:3]) @ R0
        return make_T(R, t0 + p[3:] + (R0 @ c) - R @ c)

    def fun(p):
        xy, _ = project_each(K, T_cam_world, view, transform_points(pose(p), X))
        return (xy - uv).ravel()

    def jac(p):
        # d pixel / d camera point . d camera point / d world point . d world point / dp,
        # with d(exp(w) a)/dw = -[exp(w) a]_x J_l(w).
        Xc = np.einsum("nij,nj->ni", Rc, transform_points(pose(p), X)) + tc
        DR = pinhole_jacobian(Kv, Xc) @ Rc  # N 2 3
        dw = -DR @ skew(arm @ so3_exp(p[:3]).T) @ so3_left_jacobian(p[:3])
        return np.concatenate([dw, DR], -1).reshape(-1, 6)

    return pose, fun, jac


def reprojection_errors(
    T: Float[np.ndarray, "*B 4 4"],
    X: Float[np.ndarray, "N 3"],
    uv: Float[np.ndarray, "*B N 2"],
    view: Int[np.ndarray, "N"],
    K: Float[np.ndarray, "V 3 3"],
    T_cam_world: Float[np.ndarray, "V 4 4"],
) -> Float[np.ndarray, "*B N"]:
    """Pixel distance between the projection of ``T X`` and ``uv`` (inf behind camera)."""
    xy, z = project_each(K, T_cam_world, view, transform_points(T, X))
    err = np.linalg.norm(xy - uv, axis=-1)
    return np.where(z > 1e-9, err, np.inf)


def masked_rms(err: Float[np.ndarray, "*B"], mask: Bool[np.ndarray, "*B"], axis: int) -> np.ndarray:
    """RMS of ``err`` over ``axis`` counting only ``mask`` entries (NaN where none)."""
    e2 = np.where(mask, np.nan_to_num(err, posinf=1e6) ** 2, 0.0)
    n = mask.sum(axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt(e2.sum(axis) / n)
