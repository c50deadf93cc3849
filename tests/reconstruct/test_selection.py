"""Known answers for joint-type selection, far-axis detection, drag-filled values and
mesh labelling of components nothing reaches."""

import numpy as np

from partdrag4d.containers import JointType
from partdrag4d.reconstruct.drag_joints import values_from_drags
from partdrag4d.reconstruct.joints import (
    JointFit,
    joint_transforms,
    screw_axis_distance,
    select_joint,
)
from partdrag4d.reconstruct.segment import SegmentConfig, label_faces
from partdrag4d.reconstruct.tree import hinge_gap


def _box_points(rng, center, size=0.2, n=60):
    return center + size * (rng.random((n, 3)) - 0.5)


def test_screw_axis_distance_known_answer():
    o = np.array([0.0, 0.0, 3.0])
    T = joint_transforms(JointType.REVOLUTE, np.array([1.0, 0, 0]), o, np.linspace(0, 0.05, 6))
    assert abs(screw_axis_distance(T, np.array([0.0, 0.0, 0.5])) - 2.5) < 1e-6
    still = joint_transforms(JointType.PRISMATIC, np.array([0, 1.0, 0]), o, np.linspace(0, 1, 4))
    assert screw_axis_distance(still, np.zeros(3)) == float("inf")


def test_small_rotation_about_far_axis_is_a_slide():
    # Two drawers sliding by different amounts look like a 4-degree turn about an axis
    # 2.5 m above them: no hinge there, the joint is prismatic.
    rng = np.random.default_rng(0)
    X = _box_points(rng, np.array([0.0, -0.2, 0.5]), 0.4)
    T = joint_transforms(
        JointType.REVOLUTE, np.array([1.0, 0, 0]), np.array([0, -0.2, 3.0]), np.linspace(0, 0.07, 8)
    )
    assert select_joint(T, X, diag=1.2).type is JointType.PRISMATIC


def test_clear_rotation_is_revolute_even_with_a_large_residual():
    rng = np.random.default_rng(1)
    X = _box_points(rng, np.array([0.0, 0.1, 0.5]), 0.3)
    a, o = np.array([1.0, 0, 0]), np.array([0.0, 0.1, 0.35])
    T = joint_transforms(JointType.REVOLUTE, a, o, np.linspace(0, 0.5, 10))
    # Pose noise of a few millimetres (a poorly tracked part) on every frame.
    T = T.copy()
    T[1:, :3, 3] += rng.normal(0, 0.006, (9, 3))
    fit = select_joint(T, X, diag=0.8)
    assert fit.type is JointType.REVOLUTE
    assert np.degrees(np.arccos(abs(fit.axis @ a))) < 3.0


def test_hinge_gap_zero_for_touching_axis_and_large_for_floating_one():
    rng = np.random.default_rng(2)
    child = _box_points(rng, np.array([0.0, 0.0, 0.55]))
    parent = _box_points(rng, np.array([0.0, 0.0, 0.35]))
    near = JointFit(
        JointType.REVOLUTE, np.array([1.0, 0, 0]), np.array([0, 0, 0.45]), np.zeros(3), 0.0
    )
    far = JointFit(
        JointType.REVOLUTE, np.array([1.0, 0, 0]), np.array([0, 0.5, 0.45]), np.zeros(3), 0.0
    )
    assert hinge_gap(near, child, parent) < 0.04
    assert hinge_gap(far, child, parent) > 0.35


def test_values_from_drags_fill_untrusted_frames():
    a, o = np.array([1.0, 0, 0]), np.array([0.0, 0.0, 0.1])
    q = np.linspace(0, 1.0, 6)
    p0 = np.array([[0.0, -0.3, 0.1]])
    drag = np.stack(
        [(joint_transforms(JointType.REVOLUTE, a, o, q)[t] @ np.r_[p0[0], 1])[:3] for t in range(6)]
    )
    ok = np.array([True, True, True, False, False, False])
    held = np.where(ok, q, q[2])
    fit = JointFit(JointType.REVOLUTE, a, o, held, 0.0)
    eye = np.broadcast_to(np.eye(4), (6, 4, 4)).copy()
    out = values_from_drags(fit, eye, drag[:, None], ok)
    np.testing.assert_allclose(out.values, q, atol=1e-9)
    # No drag on the part: values unchanged.
    same = values_from_drags(fit, eye, np.zeros((6, 0, 3)), ok)
    np.testing.assert_array_equal(same.values, held)


def _quad(x0, x1, y, z0, z1):
    v = np.array([[x0, y, z0], [x1, y, z0], [x1, y, z1], [x0, y, z1]], float)
    return v, np.array([[0, 1, 2], [0, 2, 3]])


def test_unreached_component_takes_the_part_it_touches():
    # Part 1: a front panel (y = 0); a hidden tray panel touching it (x = 0.5 edge at
    # y = 0 .. 0.4); the base: a far wall at y = 0.45 facing the tray across a gap.
    parts = [_quad(0, 1, 0.0, 0, 1), _quad(0.2, 0.8, 0.0, 0.2, 0.2 + 1e-9), _quad(0, 1, 0.45, 0, 1)]
    tray_v = np.array([[0.2, 0.0, 0.2], [0.8, 0.0, 0.2], [0.8, 0.4, 0.2], [0.2, 0.4, 0.2]])
    parts[1] = (tray_v, np.array([[0, 1, 2], [0, 2, 3]]))
    V, F, off = [], [], 0
    for v, f in parts:
        V.append(v)
        F.append(f + off)
        off += len(v)
    V, F = np.concatenate(V), np.concatenate(F)
    rng = np.random.default_rng(3)
    front = np.c_[rng.random(20), np.zeros(20), rng.random(20)]
    wall = np.c_[rng.random(20), np.full(20, 0.45), rng.random(20)]
    pts = np.concatenate([front, wall])
    lab = np.r_[np.ones(20, int), np.zeros(20, int)]
    face = label_faces(V, F, pts, lab, 2, SegmentConfig())
    np.testing.assert_array_equal(face, [1, 1, 1, 1, 0, 0])


def test_joint_from_drag_path_curved_is_hinge_straight_is_slide():
    from partdrag4d.reconstruct.articulate import ArticulateConfig
    from partdrag4d.reconstruct.drag_joints import joint_from_drag

    a, o = np.array([-1.0, 0, 0]), np.array([0.13, 0.3, 0.56])
    q = np.linspace(0, 1.2, 10)
    Tq = joint_transforms(JointType.REVOLUTE, a, o, q)
    path = Tq[:, :3, :3] @ np.array([0.13, -0.26, 0.57]) + Tq[:, :3, 3]
    fit = joint_from_drag(path, 1.0, ArticulateConfig())
    assert fit.type is JointType.REVOLUTE
    assert abs(fit.axis @ a) > 1 - 1e-9
    np.testing.assert_allclose(fit.values, q, atol=1e-9)
    line = np.outer(np.linspace(0, 0.2, 8), [0, -1.0, 0]) + np.array([0, -0.3, 0.4])
    assert joint_from_drag(line, 1.0, ArticulateConfig()).type is JointType.PRISMATIC


def test_drag_joint_only_when_the_tracks_died_and_in_the_parent_frame():
    from partdrag4d.reconstruct.articulate import ArticulateConfig
    from partdrag4d.reconstruct.drag_joints import drag_joint

    cfg = ArticulateConfig()
    # Parent slides along -y; the child (a lid) turns about a hinge riding on it.
    T = 12
    T_parent = joint_transforms(
        JointType.PRISMATIC, np.array([0.0, -1, 0]), np.zeros(3), np.linspace(0, 0.2, T)
    )
    a, o = np.array([1.0, 0, 0]), np.array([0.0, -0.2, 0.5])
    q = np.linspace(0, 1.0, T)
    T_world = T_parent @ joint_transforms(JointType.REVOLUTE, a, o, q)
    start = np.array([0.1, -0.2, 0.7])
    drag = (T_world[:, :3, :3] @ start + T_world[:, :3, 3])[:, None]  # T 1 3
    few = np.arange(T) < 3
    fit = drag_joint(T_parent, drag, few, 1.0, cfg)
    assert fit.type is JointType.REVOLUTE and abs(fit.axis @ a) > 1 - 1e-9
    # The pivot lies on the true hinge line (in the parent frame at rest = world).
    assert np.linalg.norm(np.cross(fit.origin - o, a)) < 1e-9
    np.testing.assert_allclose(fit.values, q, atol=1e-9)
    # Enough tracked frames, or no drag on the part: the tracks decide.
    assert drag_joint(T_parent, drag, np.ones(T, bool), 1.0, cfg) is None
    assert drag_joint(T_parent, drag[:, :0], few, 1.0, cfg) is None


def test_only_drags_shaped_like_the_joint_steer_its_refit():
    from partdrag4d.reconstruct.articulate import ArticulateConfig
    from partdrag4d.reconstruct.drag_joints import drags_like

    a, o = np.array([0.0, 0, 1]), np.array([0.3, 0.0, 0.0])
    q = np.linspace(0, 1.0, 10)
    Tq = joint_transforms(JointType.REVOLUTE, a, o, q)
    arc = Tq[:, :3, :3] @ np.array([-0.2, 0.0, 0.5]) + Tq[:, :3, 3]
    # A hand-written drag from the door's edge straight to where it should end up.
    straight = arc[0] + np.linspace(0, 1, 10)[:, None] * (arc[-1] - arc[0])
    drags = np.stack([arc, straight], 1)
    hinge = JointFit(JointType.REVOLUTE, a, o, q, 0.0)
    eye = np.broadcast_to(np.eye(4), (10, 4, 4))
    kept = drags_like(hinge, eye, drags, 1.0, ArticulateConfig())
    np.testing.assert_array_equal(kept, drags[:, :1])
    slide = JointFit(JointType.PRISMATIC, np.array([1.0, 0, 0]), o, q, 0.0)
    np.testing.assert_array_equal(
        drags_like(slide, eye, drags, 1.0, ArticulateConfig()), drags[:, 1:]
    )
