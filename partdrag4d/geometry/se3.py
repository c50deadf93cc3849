"""Rigid-motion math: SO(3)/SE(3) exp/log, point transforms and Kabsch/Umeyama fits.

Conventions: rotations are 3x3 matrices acting on column vectors, ``T`` is 4x4 homogeneous
with ``T[:3, :3] = R`` and ``T[:3, 3] = t`` so that ``x' = R x + t``. Rotation vectors
(axis * angle) are in radians. All functions are pure and accept batches in the
leading dimension where noted.
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float


def skew(w: Float[np.ndarray, "*B 3"]) -> Float[np.ndarray, "*B 3 3"]:
    """Cross-product matrix ``[w]_x`` so that ``[w]_x v = w x v``."""
    z = np.zeros_like(w[..., 0])
    return np.stack(
        [
            np.stack([z, -w[..., 2], w[..., 1]], -1),
            np.stack([w[..., 2], z, -w[..., 0]], -1),
            np.stack([-w[..., 1], w[..., 0], z], -1),
        ],
        -2,
    )


def so3_exp(w: Float[np.ndarray, "*B 3"]) -> Float[np.ndarray, "*B 3 3"]:
    """Rodrigues' formula: rotation vector (rad) to rotation matrix."""
    theta = np.linalg.norm(w, axis=-1)[..., None, None]
    K = skew(w)
    small = theta < 1e-8
    safe = np.where(small, 1.0, theta)
    # Taylor expansions near zero keep the map smooth for tiny rotations.
    a = np.where(small, 1.0 - theta**2 / 6.0, np.sin(safe) / safe)
    b = np.where(small, 0.5 - theta**2 / 24.0, (1.0 - np.cos(safe)) / safe**2)
    eye = np.broadcast_to(np.eye(3), K.shape)
    return eye + a * K + b * (K @ K)


def axis_angle_to_matrix(axis: Float[np.ndarray, "3"], angle: float) -> Float[np.ndarray, "3 3"]:
    """Rotation by ``angle`` radians about ``axis`` (right-hand rule; normalised here,
    must be non-zero)."""
    a = np.asarray(axis, dtype=np.float64)
    return so3_exp(a / np.linalg.norm(a) * float(angle))


def so3_left_jacobian(w: Float[np.ndarray, "*B 3"]) -> Float[np.ndarray, "*B 3 3"]:
    """Left Jacobian ``J`` of SO(3): ``exp(w + d) ~ exp(J d) exp(w)`` for a small ``d``."""
    theta = np.linalg.norm(w, axis=-1)[..., None, None]
    K = skew(w)
    small = theta < 1e-6
    safe = np.where(small, 1.0, theta)
    b = np.where(small, 0.5 - theta**2 / 24.0, (1.0 - np.cos(safe)) / safe**2)
    c = np.where(small, 1.0 / 6.0 - theta**2 / 120.0, (safe - np.sin(safe)) / safe**3)
    eye = np.broadcast_to(np.eye(3), K.shape)
    return eye + b * K + c * (K @ K)


def so3_log(R: Float[np.ndarray, "*B 3 3"]) -> Float[np.ndarray, "*B 3"]:
    """Rotation matrix to rotation vector (rad), angle in [0, pi]."""
    v = np.stack(
        [R[..., 2, 1] - R[..., 1, 2], R[..., 0, 2] - R[..., 2, 0], R[..., 1, 0] - R[..., 0, 1]],
        -1,
    )
    # atan2 is accurate at every angle, unlike arccos near 0 and pi.
    theta = np.arctan2(0.5 * np.linalg.norm(v, axis=-1), (np.trace(R, axis1=-2, axis2=-1) - 1) / 2)
    sin = np.sin(theta)
    small = theta < 1e-6
    near_pi = theta > np.pi - 1e-7
    scale = np.where(small, 0.5 + theta**2 / 12.0, theta / (2.0 * np.where(small, 1.0, sin)))
    out = v * scale[..., None]
    if np.any(near_pi):
        # Near pi the antisymmetric part vanishes: take the axis from R + I instead.
        Rp = R[near_pi]
        th = theta[near_pi]
        S = (Rp + np.eye(3)) / 2.0
        idx = np.argmax(np.diagonal(S, axis1=-2, axis2=-1), -1)
        col = np.take_along_axis(S, idx[:, None, None].repeat(3, 1), axis=2)[..., 0]
        axis = col / np.linalg.norm(col, axis=-1, keepdims=True)
        # Fix the sign with the (small) antisymmetric part when it is informative.
        sgn = np.sign(np.sum(axis * v[near_pi], -1))
        sgn = np.where(sgn == 0, 1.0, sgn)
        out[near_pi] = axis * (th * sgn)[:, None]
    return out


def rotation_angle(R: Float[np.ndarray, "*B 3 3"]) -> Float[np.ndarray, "*B"]:
    """Geodesic angle of a rotation (rad), in [0, pi]."""
    cos = np.clip((np.trace(R, axis1=-2, axis2=-1) - 1.0) / 2.0, -1.0, 1.0)
    return np.arccos(cos)


def make_T(
    R: Float[np.ndarray, "*B 3 3"], t: Float[np.ndarray, "*B 3"]
) -> Float[np.ndarray, "*B 4 4"]:
    """Assemble homogeneous transforms from rotation and translation."""
    T = np.zeros(R.shape[:-2] + (4, 4))
    T[..., :3, :3] = R
    T[..., :3, 3] = t
    T[..., 3, 3] = 1.0
    return T


def invert_T(T: Float[np.ndarray, "*B 4 4"]) -> Float[np.ndarray, "*B 4 4"]:
    """Inverse of rigid transforms (uses R^T, not a general inverse)."""
    R = T[..., :3, :3]
    Rt = np.swapaxes(R, -1, -2)
    return make_T(Rt, -(Rt @ T[..., :3, 3:4])[..., 0])


def transform_points(
    T: Float[np.ndarray, "*B 4 4"], X: Float[np.ndarray, "N 3"]
) -> Float[np.ndarray, "*B N 3"]:
    """Apply transform(s) to points: ``R X + t`` for every leading batch entry."""
    return X @ np.swapaxes(T[..., :3, :3], -1, -2) + T[..., None, :3, 3]


def se3_exp(xi: Float[np.ndarray, "*B 6"]) -> Float[np.ndarray, "*B 4 4"]:
    """Twist ``(omega, v)`` to transform (standard SE(3) exponential)."""
    w, v = xi[..., :3], xi[..., 3:]
    R = so3_exp(w)
    theta = np.linalg.norm(w, axis=-1)[..., None, None]
    K = skew(w)
    small = theta < 1e-8
    safe = np.where(small, 1.0, theta)
    b = np.where(small, 0.5, (1.0 - np.cos(safe)) / safe**2)
    c = np.where(small, 1.0 / 6.0, (safe - np.sin(safe)) / safe**3)
    V = np.broadcast_to(np.eye(3), K.shape) + b * K + c * (K @ K)
    return make_T(R, (V @ v[..., None])[..., 0])


def se3_log(T: Float[np.ndarray, "*B 4 4"]) -> Float[np.ndarray, "*B 6"]:
    """Transform to twist ``(omega, v)``: the inverse of :func:`se3_exp` (angle < pi)."""
    w = so3_log(T[..., :3, :3])
    theta = np.linalg.norm(w, axis=-1)[..., None, None]
    K = skew(w)
    small = theta < 1e-6
    safe = np.where(small, 1.0, theta)
    # V^-1 = I - K/2 + (1 - theta sin / (2 (1 - cos))) / theta^2 K^2.
    c = np.where(
        small,
        1.0 / 12.0,
        (1.0 - safe * np.sin(safe) / (2.0 * (1.0 - np.cos(safe)))) / safe**2,
    )
    V_inv = np.broadcast_to(np.eye(3), K.shape) - 0.5 * K + c * (K @ K)
    return np.concatenate([w, (V_inv @ T[..., :3, 3:4])[..., 0]], -1)


def scale_motion(
    T: Float[np.ndarray, "*B 4 4"], s: Float[np.ndarray, "*B"] | float
) -> Float[np.ndarray, "*B 4 4"]:
    """The same screw motion ``s`` times as far: ``exp(s log T)``. A joint moved to
    value ``q`` becomes the joint moved to ``s q`` (hinge or slide alike)."""
    s = np.asarray(s, dtype=float)
    return se3_exp(s[..., None] * se3_log(T))


def kabsch(
    P: Float[np.ndarray, "*B N 3"],
    Q: Float[np.ndarray, "*B N 3"],
    weights: Float[np.ndarray, "*B N"] | None = None,
) -> Float[np.ndarray, "*B 4 4"]:
    """Weighted least-squares rigid transform ``T`` with ``Q ~ R P + t`` (Kabsch/Umeyama
    without scale). Batched over leading dims; needs 3 non-collinear points.

    Args:
        P: source points.
        Q: target points (same shape).
        weights: non-negative per-point weights (default uniform).

    Returns:
        The rigid transforms mapping ``P`` onto ``Q``.
    """
    if weights is None:
        weights = np.ones(P.shape[:-1])
    w = weights / np.maximum(weights.sum(-1, keepdims=True), 1e-300)
    cp = np.sum(w[..., None] * P, -2)
    cq = np.sum(w[..., None] * Q, -2)
    H = np.swapaxes(P - cp[..., None, :], -1, -2) @ (w[..., None] * (Q - cq[..., None, :]))
    U, _, Vt = np.linalg.svd(H)
    d = np.sign(np.linalg.det(np.swapaxes(Vt, -1, -2) @ np.swapaxes(U, -1, -2)))
    d = np.where(d == 0, 1.0, d)
    D = np.zeros(H.shape)
    D[..., 0, 0] = 1.0
    D[..., 1, 1] = 1.0
    D[..., 2, 2] = d
    R = np.swapaxes(Vt, -1, -2) @ D @ np.swapaxes(U, -1, -2)
    t = cq - (R @ cp[..., None])[..., 0]
    return make_T(R, t)
