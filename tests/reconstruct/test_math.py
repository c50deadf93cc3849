"""Known-answer tests of the reconstruction math (float64)."""

import numpy as np
import pytest

from partdrag4d.containers import JointType
from partdrag4d.geometry.camera import pinhole, pinhole_jacobian, project_each
from partdrag4d.geometry.lines import axis_angle_deg, line_distance
from partdrag4d.geometry.se3 import (
    invert_T,
    kabsch,
    make_T,
    scale_motion,
    se3_exp,
    se3_log,
    so3_exp,
    so3_left_jacobian,
    so3_log,
    transform_points,
)
from partdrag4d.reconstruct.joints import (
    fit_prismatic,
    fit_revolute,
    joint_transforms,
    select_joint,
)
from partdrag4d.reconstruct.pose import (
    refine_pose,
    rigid_problem,
    triangulate,
)


def _numeric_jacobian(f, x, h=1e-6):
    """Central differences of ``f`` (flattened) at ``x``."""
    cols = []
    for j in range(len(x)):
        d = np.zeros_like(x)
        d[j] = h
        cols.append((np.ravel(f(x + d)) - np.ravel(f(x - d))) / (2 * h))
    return np.stack(cols, -1)


def _rand_T(rng, angle=1.0):
    w = rng.normal(size=3)
    w = w / np.linalg.norm(w) * angle
    return make_T(so3_exp(w), rng.normal(size=3))


def _look_at(eye, target=np.zeros(3)):
    z = target - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])
    return make_T(R, -R @ eye)


def _rig(n=3):
    K = np.array([[100.0, 0, 64], [0, 100.0, 64], [0, 0, 1]])
    eyes = [np.array([3 * np.cos(a), 3 * np.sin(a), 1.0]) for a in np.linspace(0, 2, n)]
    return np.stack([K] * n), np.stack([_look_at(e) for e in eyes])


def test_so3_exp_log_round_trip():
    rng = np.random.default_rng(0)
    for angle in [0.0, 1e-9, 1e-4, 0.5, 2.0, np.pi - 1e-6, np.pi]:
        w = rng.normal(size=3)
        w = w / np.linalg.norm(w) * angle
        R = so3_exp(w)
        np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
        np.testing.assert_allclose(so3_exp(so3_log(R)), R, atol=1e-9)
        if angle < np.pi - 1e-3:
            np.testing.assert_allclose(so3_log(R), w, atol=1e-9)


def test_se3_exp_small_and_inverse():
    rng = np.random.default_rng(1)
    T = se3_exp(rng.normal(size=6))
    np.testing.assert_allclose(T @ invert_T(T), np.eye(4), atol=1e-12)
    np.testing.assert_allclose(se3_exp(np.zeros(6)), np.eye(4))


def test_se3_log_inverts_exp_and_scaling_moves_joints_further():
    rng = np.random.default_rng(3)
    for angle in [0.0, 1e-8, 1e-3, 0.5, 2.0, 3.0]:
        w = rng.normal(size=3)
        xi = np.r_[w / np.linalg.norm(w) * angle, rng.normal(size=3)]
        np.testing.assert_allclose(se3_log(se3_exp(xi)), xi, atol=1e-9)
    # Scaling a hinge or slide motion = the joint moved to the scaled value.
    a, o = np.array([0.0, 0.6, 0.8]), np.array([0.3, -0.2, 0.5])
    q = np.array([0.0, 0.4, 1.2])
    for jt in (JointType.REVOLUTE, JointType.PRISMATIC):
        T = joint_transforms(jt, a, o, q)
        np.testing.assert_allclose(
            scale_motion(T, np.array([1.0, 1.1, 0.7])),
            joint_transforms(jt, a, o, q * [1.0, 1.1, 0.7]),
            atol=1e-12,
        )


def test_kabsch_recovers_transform_batched_weighted():
    rng = np.random.default_rng(2)
    P = rng.normal(size=(20, 3))
    Ts = np.stack([_rand_T(rng, a) for a in [0.1, 1.0, 3.0]])
    Q = transform_points(Ts, P)
    np.testing.assert_allclose(kabsch(np.broadcast_to(P, Q.shape), Q), Ts, atol=1e-10)
    # An outlier with zero weight does not matter.
    Q1 = Q[1].copy()
    Q1[0] += 10.0
    w = np.ones(20)
    w[0] = 0.0
    np.testing.assert_allclose(kabsch(P, Q1, w), Ts[1], atol=1e-10)


def test_triangulate_and_multiview_pose_with_bad_view():
    rng = np.random.default_rng(3)
    K, Tcw = _rig(4)
    X = rng.uniform(-0.3, 0.3, size=(80, 3))
    T_true = make_T(so3_exp(np.array([0.0, 0.0, 0.3])), np.array([0.05, -0.02, 0.1]))
    view = np.repeat(np.arange(4), 20)
    uv, _ = project_each(K, Tcw, view, transform_points(T_true, X))
    # One view is inconsistent (shifted by 15 px); a robust fit ignores it.
    uv_bad = uv.copy()
    uv_bad[view == 2] += 15.0
    T = refine_pose(
        np.eye(4),
        X,
        uv_bad + rng.normal(0, 0.1, uv.shape),
        view,
        K,
        Tcw,
        f_scale_px=0.5,
        max_nfev=200,
    )
    np.testing.assert_allclose(T[:3, :3], T_true[:3, :3], atol=2e-3)
    np.testing.assert_allclose(T[:3, 3], T_true[:3, 3], atol=2e-3)
    # Triangulation is exact on noiseless pixels.
    p = np.array([0.1, -0.2, 0.05])
    uv3, _ = project_each(K, Tcw, np.arange(3), np.stack([p] * 3))
    np.testing.assert_allclose(triangulate(K, Tcw, np.arange(3), uv3), p, atol=1e-9)


def test_so3_left_jacobian_maps_a_vector_step_to_a_left_rotation():
    rng = np.random.default_rng(4)
    for w in [rng.normal(size=3), np.array([1e-9, 0.0, 0.0]), np.zeros(3)]:
        d = rng.normal(size=3) * 1e-6
        np.testing.assert_allclose(
            so3_exp(w + d), so3_exp(so3_left_jacobian(w) @ d) @ so3_exp(w), atol=1e-12
        )
    # A large angle: the step is still a left rotation by J d, not by d.
    w = np.array([0.0, 0.0, 2.5])
    d = np.array([1e-6, 0.0, 0.0])
    assert not np.allclose(so3_left_jacobian(w) @ d, d, atol=1e-8)


def test_pose_jacobians_match_finite_differences():
    rng = np.random.default_rng(5)
    K, Tcw = _rig(3)
    K[:, 0, 1] = 0.7  # skew, to check that term too
    Xc = rng.uniform(-0.3, 0.3, (7, 3)) + np.array([0.0, 0.0, 2.0])
    for i in range(len(Xc)):
        num = _numeric_jacobian(lambda x: pinhole(K[0], x[None]), Xc[i])
        np.testing.assert_allclose(pinhole_jacobian(K[0], Xc[i]), num, rtol=1e-6, atol=1e-5)
    X = rng.uniform(-0.3, 0.3, (30, 3))
    view = rng.integers(0, 3, 30)
    T_init = _rand_T(rng, 0.4)
    uv = rng.uniform(0, 64, (30, 2))
    _, fun, jac = rigid_problem(T_init, X, uv, view, K, Tcw)
    for p in [np.zeros(6), np.r_[rng.normal(size=3) * 0.8, rng.normal(size=3) * 0.1]]:
        np.testing.assert_allclose(jac(p), _numeric_jacobian(fun, p), rtol=1e-5, atol=1e-4)


def _points(rng):
    return rng.uniform(-0.2, 0.2, size=(50, 3)) + np.array([0.5, 0.0, 0.0])


def test_revolute_fit_known_answer():
    rng = np.random.default_rng(4)
    a = np.array([0.2, -0.3, 0.9])
    a /= np.linalg.norm(a)
    o = np.array([0.3, 0.1, -0.2])
    q = np.linspace(0, 1.2, 8)
    X = _points(rng)
    fit = fit_revolute(joint_transforms(JointType.REVOLUTE, a, o, q), X)
    assert axis_angle_deg(fit.axis, a) < 1e-8
    assert line_distance(fit.origin, fit.axis, o, a) < 1e-9
    np.testing.assert_allclose(fit.values, q if fit.axis @ a > 0 else -q, atol=1e-9)
    assert fit.residual < 1e-9


def test_prismatic_fit_known_answer_sign_convention():
    rng = np.random.default_rng(5)
    a = np.array([1.0, 2.0, -0.5])
    a /= np.linalg.norm(a)
    q = -np.linspace(0, 0.3, 8)
    X = _points(rng)
    fit = fit_prismatic(joint_transforms(JointType.PRISMATIC, a, np.zeros(3), q), X)
    np.testing.assert_allclose(fit.axis, -a, atol=1e-12)  # largest value made positive
    np.testing.assert_allclose(fit.values, -q, atol=1e-12)


@pytest.mark.parametrize("jt", [JointType.REVOLUTE, JointType.PRISMATIC, JointType.FIXED])
def test_model_selection_with_noise(jt):
    rng = np.random.default_rng(6)
    a = np.array([0.0, 0.0, 1.0])
    o = np.array([0.3, 0.3, 0.0])
    q = np.linspace(0, 0.6 if jt is JointType.REVOLUTE else 0.2, 8)
    if jt is JointType.FIXED:
        q = q * 0
    T = joint_transforms(jt, a, o, q)
    noise = np.stack([se3_exp(np.r_[rng.normal(0, 1e-4, 3), rng.normal(0, 1e-4, 3)]) for _ in q])
    X = _points(rng)
    fit = select_joint(T @ noise, X, diag=1.0)
    assert fit.type is jt
    if jt is not JointType.FIXED:
        assert axis_angle_deg(fit.axis, a) < 0.1


def test_line_distance_skew_and_parallel():
    o1, d1 = np.zeros(3), np.array([1.0, 0, 0])
    o2, d2 = np.array([0, 0, 2.0]), np.array([0, 1.0, 0])
    assert line_distance(o1, d1, o2, d2) == pytest.approx(2.0)
    # Parallel axes: distance between the lines, not zero.
    assert line_distance(o1, d1, np.array([5.0, 0.3, 0.4]), -d1) == pytest.approx(0.5)
    assert line_distance(o1, d1, np.array([5.0, 0.0, 0.0]), d1) == pytest.approx(0.0)
    assert axis_angle_deg(d1, -d1) == pytest.approx(0.0)
    assert axis_angle_deg(d1, d2) == pytest.approx(90.0)
