"""Joint models fitted to a sequence of relative rigid motions, and model selection.

A child part's motion relative to its parent is a sequence ``T_t`` (T x 4 x 4) mapping a
rest-state point of the child (in the parent's rest frame, i.e. world at rest) to its
position at frame ``t``; frame 0 is the rest state (``T_0 ~ I``). Joint models:

- fixed: ``T_t = I``;
- prismatic: ``T_t = (I, q_t a)`` with unit axis ``a`` and ``q_t`` in metres;
- revolute: ``T_t = (R(a, q_t), (I - R(a, q_t)) o)`` with unit axis ``a``, pivot ``o``
  and ``q_t`` in radians (right-hand rule about ``a``).

Residuals are RMS 3D distances (metres) between ``T_t X`` and the model applied to the
part's own rest points ``X``, so they are comparable across types.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float

from partdrag4d.containers import JointType
from partdrag4d.geometry.lines import closest_point_on_line
from partdrag4d.geometry.se3 import make_T, so3_exp, so3_log, transform_points


@dataclass(frozen=True)
class JointFit:
    """A joint model fitted to relative motions."""

    type: JointType
    """Joint type."""
    axis: Float[np.ndarray, "3"]
    """Unit axis (world frame at rest); arbitrary for fixed joints."""
    origin: Float[np.ndarray, "3"]
    """Pivot on the axis closest to the points' centroid (revolute) or the centroid."""
    values: Float[np.ndarray, "T"]
    """Joint value per frame (rad or m), 0 at frame 0 up to fit noise."""
    residual: float
    """RMS 3D distance (m) between the observed and modelled point motions (of the
    evidence it was fitted to; not comparable across sources)."""
    source: str = "tracks"
    """What it was fitted to: ``tracks`` (2D tracks), ``render-compare`` (poses tracked
    by rendering the model) or ``drag`` (the shape of a requested drag's path)."""


def joint_transforms(
    joint_type: JointType,
    axis: Float[np.ndarray, "3"],
    origin: Float[np.ndarray, "3"],
    values: Float[np.ndarray, "T"],
) -> Float[np.ndarray, "T 4 4"]:
    """Relative transforms ``T_t`` of a joint model for the given values."""
    a = axis / np.linalg.norm(axis)
    n = len(values)
    if joint_type is JointType.FIXED:
        return np.broadcast_to(np.eye(4), (n, 4, 4)).copy()
    if joint_type is JointType.PRISMATIC:
        return make_T(np.broadcast_to(np.eye(3), (n, 3, 3)), values[:, None] * a)
    R = so3_exp(values[:, None] * a)
    t = origin - (R @ origin[:, None])[..., 0]
    return make_T(R, t)


def _residual(
    T_obs: Float[np.ndarray, "T 4 4"], T_model: Float[np.ndarray, "T 4 4"], X: np.ndarray
) -> float:
    d = transform_points(T_obs, X) - transform_points(T_model, X)
    return float(np.sqrt(np.mean(np.sum(d**2, -1))))


def _centroid(X: np.ndarray) -> np.ndarray:
    return X.mean(0)


def fit_fixed(T_rel: Float[np.ndarray, "T 4 4"], X: Float[np.ndarray, "N 3"]) -> JointFit:
    """Fixed joint: residual is the motion itself."""
    n = len(T_rel)
    T_model = joint_transforms(JointType.FIXED, np.array([0.0, 0.0, 1.0]), np.zeros(3), np.zeros(n))
    return JointFit(
        JointType.FIXED,
        np.array([0.0, 0.0, 1.0]),
        _centroid(X),
        np.zeros(n),
        _residual(T_rel, T_model, X),
    )


def fit_prismatic(T_rel: Float[np.ndarray, "T 4 4"], X: Float[np.ndarray, "N 3"]) -> JointFit:
    """Prismatic joint: axis = principal direction of the points' mean displacement."""
    c = _centroid(X)
    disp = transform_points(T_rel, c[None])[:, 0] - c  # T 3, motion of the centroid
    _, _, Vt = np.linalg.svd(disp, full_matrices=False)
    a = Vt[0]
    values = disp @ a
    a, values = _orient(a, values)
    T_model = joint_transforms(JointType.PRISMATIC, a, c, values)
    return JointFit(JointType.PRISMATIC, a, c, values, _residual(T_rel, T_model, X))


def fit_revolute(T_rel: Float[np.ndarray, "T 4 4"], X: Float[np.ndarray, "N 3"]) -> JointFit:
    """Revolute joint: axis from the stacked rotation vectors, pivot by linear least
    squares on ``(I - R_t) o = t_t`` (plus a gauge row fixing ``o`` nearest the centroid)."""
    c = _centroid(X)
    R = T_rel[:, :3, :3]
    t = T_rel[:, :3, 3]
    w = so3_log(R)  # T 3
    _, _, Vt = np.linalg.svd(w, full_matrices=False)
    a = Vt[0]
    values = w @ a
    a, values = _orient(a, values)
    A = np.concatenate([(np.eye(3)[None] - R).reshape(-1, 3), a[None, :]], 0)
    b = np.concatenate([t.reshape(-1), [a @ c]])
    o, *_ = np.linalg.lstsq(A, b, rcond=None)
    o = closest_point_on_line(o, a, c)
    T_model = joint_transforms(JointType.REVOLUTE, a, o, values)
    return JointFit(JointType.REVOLUTE, a, o, values, _residual(T_rel, T_model, X))


def screw_axis_distance(T_rel: Float[np.ndarray, "T 4 4"], center: Float[np.ndarray, "3"]) -> float:
    """Distance (m) from ``center`` to the rotation axis of the frame that rotates most
    (``inf`` when no frame rotates by more than 1e-6 rad).

    A small rotation about an axis far from a part is what two or more parts sliding by
    different amounts look like when fitted by one rigid motion; real hinges lie on or
    near the object.
    """
    w = so3_log(T_rel[:, :3, :3])
    ang = np.linalg.norm(w, axis=-1)
    t = int(np.argmax(ang))
    if ang[t] < 1e-6:
        return float("inf")
    R, tr = T_rel[t, :3, :3], T_rel[t, :3, 3]
    # (I - R)(o - c) = t - (I - R) c; the min-norm solution is the axis point closest
    # to c (the component of t along the axis, a screw's slide, is projected out).
    M = np.eye(3) - R
    d, *_ = np.linalg.lstsq(M, tr - M @ center, rcond=1e-9)
    return float(np.linalg.norm(d))


def _orient(a: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flip the axis so that the largest-magnitude value is positive (a convention)."""
    if values[np.argmax(np.abs(values))] < 0:
        return -a, -values
    return a, values


@dataclass
class JointSelectConfig:
    """Thresholds of joint-type model selection (lengths relative to the bbox diagonal)."""

    fixed_motion: float = 0.002
    """Max point motion (fraction of diag) below which the joint is fixed."""
    revolute_gain: float = 0.5
    """Revolute wins only if its residual is below this fraction of prismatic's."""
    noise_floor: float = 0.001
    """Prismatic residuals below this (fraction of diag) are explained by noise."""
    min_rotation_deg: float = 2.0
    """Parts rotating less than this (max over frames) slide: a rotation of that size is
    pose noise."""
    clear_rotation_deg: float = 10.0
    """Parts rotating more than this are revolute (unless the axis is far, see
    ``far_axis``), whatever the residuals: no slide rotates a part."""
    far_axis: float = 1.0
    """A revolute axis farther than this (fraction of diag) from the part's centroid is
    not a hinge: such a small rotation about a far axis is a slide (prismatic)."""


def select_joint(
    T_rel: Float[np.ndarray, "T 4 4"],
    X: Float[np.ndarray, "N 3"],
    diag: float,
    cfg: JointSelectConfig | None = None,
) -> JointFit:
    """Fit all joint types and pick the simplest one that explains the motion.

    Order of preference: fixed (if the points hardly move); prismatic if the part hardly
    rotates or the rotation axis lies far from it; revolute if it clearly rotates;
    in between, prismatic if its residual is at the noise floor or revolute is not
    clearly better, else revolute.
    """
    cfg = cfg or JointSelectConfig()
    fixed = fit_fixed(T_rel, X)
    motion = np.sqrt(np.sum((transform_points(T_rel, X) - X) ** 2, -1)).max()
    if motion < cfg.fixed_motion * diag:
        return fixed
    pri = fit_prismatic(T_rel, X)
    rev = fit_revolute(T_rel, X)
    angle = float(np.degrees(np.max(np.linalg.norm(so3_log(T_rel[:, :3, :3]), axis=-1))))
    if angle < cfg.min_rotation_deg:
        return pri
    if np.linalg.norm(rev.origin - _centroid(X)) > cfg.far_axis * diag:
        return pri
    if angle >= cfg.clear_rotation_deg:
        return rev
    if pri.residual <= cfg.noise_floor * diag or rev.residual >= cfg.revolute_gain * pri.residual:
        return pri
    return rev
