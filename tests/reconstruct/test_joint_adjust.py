"""Joint-space adjustment recovers known joints from a perturbed start (known answers)."""

from __future__ import annotations

import numpy as np
import pytest
from recon_scenes import make_scene

from partdrag4d.containers import JointType
from partdrag4d.evaluate.metrics import axis_angle_deg
from partdrag4d.reconstruct.joint_adjust import (
    JointAdjustConfig,
    adjust_joints,
    lm_step,
    moved_line,
    tangent_basis,
)
from partdrag4d.reconstruct.joints import JointFit
from partdrag4d.reconstruct.model import Model, compose
from partdrag4d.reconstruct.render_compare import RenderCompareConfig
from partdrag4d.render.rasterizer import Rasterizer


def _tilted(axis: np.ndarray, degrees: float) -> np.ndarray:
    """``axis`` tilted by ``degrees`` in its tangent plane."""
    return moved_line(JointType.PRISMATIC, axis, np.zeros(3), np.radians([degrees, 0.0]))[0]


def _gap(X: np.ndarray, A: np.ndarray, B: np.ndarray) -> float:
    """Mean distance between the points moved by ``A`` and by ``B``."""
    return float(
        np.linalg.norm((X @ A[:3, :3].T + A[:3, 3]) - (X @ B[:3, :3].T + B[:3, 3]), axis=1).mean()
    )


def test_a_tilted_line_is_tilted_by_the_asked_angle_and_the_pivot_moves_across_it():
    a = np.array([0.2, -0.5, 0.84])
    a /= np.linalg.norm(a)
    B = tangent_basis(a)
    np.testing.assert_allclose(B @ B.T, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(B @ a, 0.0, atol=1e-12)
    assert axis_angle_deg(_tilted(a, 3.0), a) == pytest.approx(
        np.degrees(np.arctan(np.radians(3.0)))
    )
    axis, origin = moved_line(JointType.REVOLUTE, a, np.ones(3), np.array([0, 0, 0.1, -0.2]))
    np.testing.assert_allclose(axis, a)
    assert np.dot(origin - np.ones(3), a) == pytest.approx(0.0, abs=1e-12)
    assert np.linalg.norm(origin - np.ones(3)) == pytest.approx(np.hypot(0.1, 0.2))


def test_lm_step_solves_a_robust_least_squares_problem_with_an_outlier():
    x = np.linspace(-1, 1, 40)
    y = 2.0 * x + 0.5
    y[3] += 30.0  # one gross outlier: Huber caps its pull

    def residuals(theta):
        r = theta[0] * x + theta[1] - y
        return np.stack([r, np.zeros_like(r)], 1)

    theta = np.zeros(2)
    for _ in range(15):
        theta = lm_step(residuals, theta, np.full(2, 1e-6), delta=1.0)
    np.testing.assert_allclose(theta, [2.0, 0.5], atol=0.1)  # least squares: slope off by 1.8


def test_a_perturbed_hinge_and_the_slide_it_carries_are_recovered():
    """The nested chain: a door (hinge on the base) carrying a panel that slides across
    it. Both lines start tilted by 4-5 degrees, the hinge 1 cm off, the values short."""
    scene, videos = make_scene("nested", num_frames=6, size=112)
    gt = scene.gt
    hinge_axis, slide_axis = np.array([0.0, 0.0, -1.0]), np.array([1.0, 0.0, 0.0])
    pivot = np.array([-0.3, -0.22, 0.0])
    q = gt.joint_values  # (T, 2): hinge, panel
    true = (
        None,
        JointFit(JointType.REVOLUTE, hinge_axis, pivot, q[:, 0], 0.0, "test"),
        JointFit(JointType.PRISMATIC, slide_axis, np.zeros(3), q[:, 1], 0.0, "test"),
    )
    start = (
        None,
        JointFit(
            JointType.REVOLUTE,
            _tilted(hinge_axis, 4.0),
            pivot + np.array([0.01, 0.0, 0.0]),
            0.85 * q[:, 0],
            0.0,
            "test",
        ),
        JointFit(JointType.PRISMATIC, _tilted(slide_axis, 5.0), np.zeros(3), 0.8 * q[:, 1], 0.0),
    )
    parents = (-1, 0, 1)
    labels = gt.vertex_link
    T = len(q)
    model = Model(
        labels, labels[scene.mesh.faces[:, 0]], parents, start, compose(parents, start, T)
    )
    rig = scene.cameras
    with Rasterizer(scene.mesh, rig.width, rig.height) as rast:
        cfg = JointAdjustConfig(rounds=4)
        out = adjust_joints(model, scene.mesh, rig, videos.frames, rast, cfg, RenderCompareConfig())
    assert out.parents == parents and [f.type for f in out.fits[1:]] == [
        JointType.REVOLUTE,
        JointType.PRISMATIC,
    ]
    assert axis_angle_deg(out.fits[1].axis, hinge_axis) < 1.5
    # the slide's tilt towards the cameras (depth) is the least visible direction
    assert axis_angle_deg(out.fits[2].axis, slide_axis) < 3.5
    # the world motion of every part at the last frame is close to the truth
    T_true = compose(parents, true, T)[-1]
    for p in (1, 2):
        X = scene.mesh.vertices[labels == p]
        err = _gap(X, out.T_world[-1, p], T_true[p])
        before = _gap(X, model.T_world[-1, p], T_true[p])
        assert err < 0.3 * before
        assert err < 0.006
    # the fits keep their record of where they came from
    assert out.fits[1].source == "test"


def test_disabled_or_without_moving_joints_the_model_is_returned_as_is():
    scene, videos = make_scene("door", num_frames=4, size=64)
    labels = scene.gt.vertex_link
    fixed = JointFit(JointType.FIXED, np.array([0, 0, 1.0]), np.zeros(3), np.zeros(4), 0.0)
    fits = (None, fixed)
    model = Model(labels, labels[scene.mesh.faces[:, 0]], (-1, 0), fits, compose((-1, 0), fits, 4))
    rig = scene.cameras
    with Rasterizer(scene.mesh, rig.width, rig.height) as rast:
        same = adjust_joints(
            model, scene.mesh, rig, videos.frames, rast, JointAdjustConfig(), RenderCompareConfig()
        )
    assert same is model
