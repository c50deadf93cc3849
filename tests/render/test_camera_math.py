"""Camera math: projection round trips and agreement of the GL matrices with ``project``."""

from __future__ import annotations

import numpy as np
import pytest
from render_scenes import rotation

from partdrag4d.geometry.camera import pixel_centers, project, unproject
from partdrag4d.render.camera_math import opencv_to_opengl_projection, opengl_view_from_opencv


def _random_camera(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    K = np.array([[120.0, 3.0, 40.0], [0.0, 110.0, 20.0], [0.0, 0.0, 1.0]])
    T = np.eye(4)
    T[:3, :3] = rotation(rng.normal(size=3), 0.7)
    T[:3, 3] = [0.1, -0.2, 4.0]
    return K, T


def test_project_unproject_round_trip():
    rng = np.random.default_rng(0)
    K, T = _random_camera(rng)
    pts = rng.uniform(-1, 1, size=(50, 3))
    uv, z = project(K, T, pts)
    assert np.all(z > 0)
    np.testing.assert_allclose(unproject(K, T, uv, z), pts, atol=1e-10)


def test_project_known_answer():
    K = np.array([[100.0, 0.0, 32.0], [0.0, 100.0, 32.0], [0.0, 0.0, 1.0]])
    T = np.eye(4)
    T[2, 3] = 2.0
    uv, z = project(K, T, np.array([[0.5, -0.5, 0.0]]))
    np.testing.assert_allclose(uv, [[57.0, 7.0]])  # right and up (y down)
    np.testing.assert_allclose(z, [2.0])


def test_gl_matrices_reproduce_project():
    """NDC from the GL pipeline maps back to the same pixel coordinates as ``project``."""
    rng = np.random.default_rng(1)
    K, T = _random_camera(rng)
    W, H, near, far = 80, 48, 0.5, 10.0
    pts = rng.uniform(-1, 1, size=(20, 3))
    uv, z = project(K, T, pts)
    P = opencv_to_opengl_projection(K, W, H, near, far)
    V = opengl_view_from_opencv(T)
    clip = (P @ V @ np.c_[pts, np.ones(len(pts))].T).T
    ndc = clip[:, :3] / clip[:, 3:]
    np.testing.assert_allclose(clip[:, 3], z)
    np.testing.assert_allclose((ndc[:, 0] + 1) * W / 2, uv[:, 0], atol=1e-9)
    np.testing.assert_allclose((1 - ndc[:, 1]) * H / 2, uv[:, 1], atol=1e-9)
    # Near and far planes map to NDC -1 and +1.
    for depth, expected in [(near, -1.0), (far, 1.0)]:
        c = P @ np.array([0.0, 0.0, -depth, 1.0])
        assert c[2] / c[3] == pytest.approx(expected)


def test_bad_near_far():
    with pytest.raises(ValueError):
        opencv_to_opengl_projection(np.eye(3), 10, 10, 1.0, 0.5)


def test_pixel_centers():
    c = pixel_centers(3, 2)
    assert c.shape == (2, 3, 2)
    np.testing.assert_allclose(c[1, 2], [2.5, 1.5])
