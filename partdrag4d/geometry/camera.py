"""Pinhole cameras: the one projection every stage uses, its inverse and its Jacobian.

Conventions (README, "Conventions"):

- Cameras are OpenCV: axes x right, y down, z forward; ``K`` is 3x3 in pixels;
  ``T_cam_world`` (4x4) maps world points to camera coordinates.
- **Pixel coordinates** ``uv`` are continuous with the *corner* of the image at (0, 0):
  the pixel in column ``c``, row ``r`` covers ``[c, c+1) x [r, r+1)`` and its centre is
  at ``(c + 0.5, r + 0.5)`` (:data:`PIXEL_CENTER_OFFSET`); a point lands in pixel
  ``floor(uv)``.
- **Points behind the camera** (one rule): :func:`project` returns the camera depth
  ``z`` next to ``uv``, and ``uv`` is the pinhole projection with ``|z|`` kept at least
  1e-12 (so it is finite, and mirrored for ``z < 0``). A point is in front when
  ``z > 0``; callers mask the others.

All functions compute in float64 and broadcast over leading batch dimensions.
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float, Int

PIXEL_CENTER_OFFSET = 0.5
"""Offset from a pixel's integer index to its centre in pixel coordinates."""

_MIN_DEPTH = 1e-12


def to_camera(
    T_cam_world: Float[np.ndarray, "*B 4 4"], X: Float[np.ndarray, "*C N 3"]
) -> Float[np.ndarray, "*D N 3"]:
    """World points in camera coordinates, ``R X + t`` (batch dimensions broadcast)."""
    T = np.asarray(T_cam_world, dtype=np.float64)
    return (
        np.asarray(X, dtype=np.float64) @ np.swapaxes(T[..., :3, :3], -1, -2) + T[..., None, :3, 3]
    )


def pinhole(K: Float[np.ndarray, "*N 3 3"], Xc: Float[np.ndarray, "*B N 3"]) -> np.ndarray:
    """Pixels (*B, N, 2) of camera-frame points under intrinsics ``K`` (one matrix, or one
    per point); ``|z|`` is kept at least 1e-12 (module doc)."""
    z = Xc[..., 2]
    zs = np.where(np.abs(z) < _MIN_DEPTH, _MIN_DEPTH, z)
    u = K[..., 0, 0] * Xc[..., 0] / zs + K[..., 0, 1] * Xc[..., 1] / zs + K[..., 0, 2]
    v = K[..., 1, 1] * Xc[..., 1] / zs + K[..., 1, 2]
    return np.stack([u, v], -1)


def pinhole_jacobian(K: Float[np.ndarray, "*N 3 3"], Xc: Float[np.ndarray, "*N 3"]) -> np.ndarray:
    """Derivative (*N, 2, 3) of :func:`pinhole`'s pixels with respect to the camera-frame
    points."""
    x, y, z = Xc[..., 0], Xc[..., 1], Xc[..., 2]
    z = np.where(np.abs(z) < _MIN_DEPTH, _MIN_DEPTH, z)
    fx, s, fy = K[..., 0, 0], K[..., 0, 1], K[..., 1, 1]
    zero = np.zeros_like(x * fx)
    du = np.stack(np.broadcast_arrays(fx / z, s / z, -(fx * x + s * y) / z**2), -1)
    dv = np.stack(np.broadcast_arrays(zero, fy / z, -fy * y / z**2), -1)
    return np.stack([du, dv], -2)


def project(
    K: Float[np.ndarray, "*B 3 3"],
    T_cam_world: Float[np.ndarray, "*B 4 4"],
    X: Float[np.ndarray, "*C N 3"],
) -> tuple[Float[np.ndarray, "*D N 2"], Float[np.ndarray, "*D N"]]:
    """Project world points: pixel coordinates and camera depth (module doc for ``z <= 0``).

    One camera and (N, 3) points, or V cameras (V, 3, 3)/(V, 4, 4) and (N, 3) or
    (V, N, 3) points for every view at once.
    """
    K = np.asarray(K, dtype=np.float64)
    Xc = to_camera(T_cam_world, X)
    return pinhole(K[..., None, :, :], Xc), Xc[..., 2]


def project_each(
    K: Float[np.ndarray, "V 3 3"],
    T_cam_world: Float[np.ndarray, "V 4 4"],
    view: Int[np.ndarray, "N"],
    X: Float[np.ndarray, "*B N 3"],
) -> tuple[Float[np.ndarray, "*B N 2"], Float[np.ndarray, "*B N"]]:
    """Project points each into its own view ``view[n]`` (same rule as :func:`project`)."""
    T = np.asarray(T_cam_world, dtype=np.float64)[view]
    Xc = np.einsum("nij,...nj->...ni", T[:, :3, :3], X) + T[:, :3, 3]
    return pinhole(np.asarray(K, dtype=np.float64)[view], Xc), Xc[..., 2]


def unproject(
    K: Float[np.ndarray, "3 3"],
    T_cam_world: Float[np.ndarray, "4 4"],
    uv: Float[np.ndarray, "N 2"],
    z: Float[np.ndarray, "N"],
) -> Float[np.ndarray, "N 3"]:
    """Inverse of :func:`project`: world points at camera depth ``z`` behind pixels ``uv``."""
    K = np.asarray(K, dtype=np.float64)
    T = np.asarray(T_cam_world, dtype=np.float64)
    uv1 = np.concatenate([np.asarray(uv, np.float64), np.ones((len(uv), 1))], axis=1)
    rays = uv1 @ np.linalg.inv(K).T  # camera-frame points at z = 1
    p_cam = rays * np.asarray(z, np.float64)[:, None]
    R, t = T[:3, :3], T[:3, 3]
    return (p_cam - t) @ R  # R^T (p - t), row-vector form


def pixel_centers(width: int, height: int) -> Float[np.ndarray, "H W 2"]:
    """Pixel-centre coordinates ``(u, v)`` of every pixel, indexed ``[row, col]``."""
    u = np.arange(width, dtype=np.float64) + PIXEL_CENTER_OFFSET
    v = np.arange(height, dtype=np.float64) + PIXEL_CENTER_OFFSET
    uu, vv = np.meshgrid(u, v)
    return np.stack([uu, vv], axis=-1)
