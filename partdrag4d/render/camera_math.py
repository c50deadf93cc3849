"""The OpenGL equivalents of the OpenCV cameras, for the rasteriser only (the camera
model itself, projection included, is :mod:`partdrag4d.geometry.camera`).

Conventions (README.md, "Conventions"):

- Cameras are OpenCV: camera axes x right, y down, z forward; ``K`` is 3x3 in pixels;
  ``T_cam_world`` (4x4) maps world points to camera coordinates.
- **Pixel coordinates** ``uv = (u, v)`` are continuous, u to the right, v down, with the
  *corner* of the image at (0, 0): the pixel in column ``c``, row ``r`` covers
  ``[c, c+1) x [r, r+1)`` and its centre is at ``(c + 0.5, r + 0.5)``
  (``geometry.camera.PIXEL_CENTER_OFFSET``). A projected point therefore lands in pixel
  ``floor(uv)``, and a camera whose optical axis passes through the image centre has
  ``cx = width / 2``, ``cy = height / 2``. (OpenCV's calibration output uses pixel
  centres at integers instead; add 0.5 to its ``cx, cy`` to convert.)
- The OpenGL matrices are only for the rasteriser: ``opengl_view_from_opencv`` gives a
  GL view matrix (x right, y up, camera looking down -z) and
  ``opencv_to_opengl_projection`` maps that eye space to clip space such that image row 0
  is at the *top* of normalised device coordinates (NDC y = +1). Frame-buffers read back
  with ``glReadPixels`` come bottom row first and must be flipped vertically.

All functions accept float32 or float64 and compute in float64.
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float

# Flips OpenCV camera axes (y down, z forward) to OpenGL eye axes (y up, z backward).
_CV_TO_GL = np.diag([1.0, -1.0, -1.0, 1.0])


def opengl_view_from_opencv(T_cam_world: Float[np.ndarray, "4 4"]) -> Float[np.ndarray, "4 4"]:
    """OpenGL view matrix (eye: x right, y up, looking down -z) of an OpenCV camera."""
    return _CV_TO_GL @ np.asarray(T_cam_world, dtype=np.float64)


def opencv_to_opengl_projection(
    K: Float[np.ndarray, "3 3"], width: int, height: int, near: float, far: float
) -> Float[np.ndarray, "4 4"]:
    """OpenGL projection matrix (GL eye space -> clip space) reproducing ``K``.

    A point that :func:`project` sends to pixel coordinates ``(u, v)`` lands at
    ``NDC x = 2u/W - 1`` and ``NDC y = 1 - 2v/H``, i.e. image row 0 is the top of the
    viewport (read-back images must be flipped, see the module docstring). Depth maps
    ``[near, far]`` (metres along the optical axis) to NDC z ``[-1, 1]``. The skew
    ``K[0, 1]`` is honoured.

    Args:
        K: intrinsics (pixels).
        width: image width in pixels.
        height: image height in pixels.
        near: near clip distance (metres, > 0).
        far: far clip distance (metres, > near).

    Returns:
        The 4x4 projection matrix (column-vector convention: ``clip = P @ eye``).
    """
    if not 0 < near < far:
        raise ValueError(f"need 0 < near < far, got near={near}, far={far}")
    K = np.asarray(K, dtype=np.float64)
    fx, s, cx = K[0]
    fy, cy = K[1, 1], K[1, 2]
    W, H = float(width), float(height)
    P = np.zeros((4, 4))
    # Derivation: with eye (x, y, z) = (x_c, -y_c, -z_c) and clip w = z_c = -z,
    # clip x = (2u/W - 1) w and clip y = (1 - 2v/H) w for u, v from K.
    P[0] = [2 * fx / W, -2 * s / W, 1 - 2 * cx / W, 0]
    P[1] = [0, 2 * fy / H, 2 * cy / H - 1, 0]
    P[2] = [0, 0, -(far + near) / (far - near), -2 * far * near / (far - near)]
    P[3] = [0, 0, -1, 0]
    return P
