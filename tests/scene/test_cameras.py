"""Orbit rig: OpenCV look-at, framing and projection (float64, known answers)."""

import numpy as np
import pytest

from partdrag4d.geometry.camera import project
from partdrag4d.scene.cameras import RigConfig, intrinsics, look_at, orbit_rig


def test_look_at_axes_are_opencv():
    # Camera on -Y looking at the origin, +Z up: x right = +X, y down = -Z, z forward = +Y.
    T = look_at(np.array([0.0, -2.0, 0.0]), np.zeros(3), np.array([0.0, 0.0, 1.0]))
    R = T[:3, :3]
    np.testing.assert_allclose(R @ np.array([1.0, 0, 0]), [1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(R @ np.array([0, 0, 1.0]), [0, -1, 0], atol=1e-12)
    np.testing.assert_allclose(T @ np.array([0, 0, 0, 1.0]), [0, 0, 2, 1], atol=1e-12)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1.0)


def test_centre_projects_to_image_centre_and_up_is_up():
    cfg = RigConfig(num_views=3, width=128, height=96)
    bounds = np.array([[-0.5, -0.2, 0.0], [0.5, 0.2, 1.0]])
    rig = orbit_rig(cfg, bounds)
    center = bounds.mean(0)
    uv, z = project(rig.K, rig.T_cam_world, np.stack([center, center + [0, 0, 0.1]]))
    np.testing.assert_allclose(uv[:, 0], [[64, 48]] * 3, atol=1e-9)
    assert np.all(uv[:, 1, 1] < uv[:, 0, 1])  # a point above the centre is higher on screen
    assert np.all(z > 0)


def test_auto_framing_keeps_bbox_in_view():
    cfg = RigConfig(num_views=8, azimuth_spread_deg=360.0, width=64, height=64)
    bounds = np.array([[-1.0, -0.3, 0.0], [1.0, 0.3, 0.5]])
    rig = orbit_rig(cfg, bounds)
    corners = np.array(
        [[x, y, z] for x in bounds[:, 0] for y in bounds[:, 1] for z in bounds[:, 2]]
    )
    uv, z = project(rig.K, rig.T_cam_world, corners)
    assert np.all(z > 0)
    assert np.all((uv >= 0) & (uv <= 64))


def test_front_view_faces_minus_y():
    rig = orbit_rig(RigConfig(num_views=1, elevation_deg=0.0), np.array([[-1.0] * 3, [1.0] * 3]))
    eye = -rig.T_cam_world[0, :3, :3].T @ rig.T_cam_world[0, :3, 3]
    assert eye[1] < 0 and abs(eye[0]) < 1e-9 and abs(eye[2]) < 1e-9


def test_intrinsics_fov():
    K = intrinsics(200, 100, 90.0)
    assert K[1, 1] == pytest.approx(50.0) and K[0, 2] == 100 and K[1, 2] == 50
