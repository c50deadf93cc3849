"""Known-answer tests of the evaluator: a GT-built articulation scores perfectly, and
controlled perturbations give the expected errors."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "reconstruct"))
from recon_scenes import make_scene  # noqa: E402

from partdrag4d.assets.kinematics import forward_kinematics, link_poses_over_time  # noqa: E402
from partdrag4d.containers import Articulation, Joint  # noqa: E402
from partdrag4d.evaluate.metrics import format_metrics_table, run_evaluate  # noqa: E402
from partdrag4d.geometry.se3 import invert_T, make_T, so3_exp  # noqa: E402


@pytest.fixture(scope="module")
def scene():
    return make_scene("door", num_views=1, num_frames=4, size=32)[0]


def _gt_articulation(scene, axis_tilt_deg=0.0, origin_shift=0.0, swap=False):
    gt = scene.gt
    Tl = link_poses_over_time(gt.asset, gt.joint_names, gt.joint_values)
    rel = Tl @ invert_T(Tl[0])[None]
    js = gt.asset.joints[0]
    Tj = forward_kinematics(gt.asset)[js.parent] @ js.T_parent_joint
    axis = Tj[:3, :3] @ js.axis
    R = so3_exp(np.radians(axis_tilt_deg) * np.array([1.0, 0.0, 0.0]))
    joint = Joint(
        "j",
        js.type,
        "base",
        "door",
        R @ axis,
        Tj[:3, 3] + np.array([0.0, origin_shift, 0.0]),
        gt.joint_values[:, 0],
        (0.0, 0.9),
    )
    vp = gt.vertex_link.copy()
    F = scene.mesh.faces
    T_world = rel.copy()
    names = ("base", "door")
    if swap:  # same partition with the part indices swapped: matching must undo it
        vp = 1 - vp
        T_world = T_world[:, ::-1]
        names = ("door", "base")
        joint = Joint(
            "j", js.type, "door", "base", joint.axis, joint.origin, joint.values, joint.limits
        )
    return Articulation(names, vp, vp[F[:, 0]], T_world, (joint,), scene.fps)


def test_perfect_articulation_scores_zero(scene):
    m = run_evaluate(_gt_articulation(scene), scene)
    assert m.joint_type_accuracy == 1.0
    assert m.axis_angle_deg == pytest.approx(0.0, abs=1e-6)
    assert m.axis_pos_err == pytest.approx(0.0, abs=1e-9)
    assert m.seg_miou == pytest.approx(1.0) and m.seg_accuracy == pytest.approx(1.0)
    assert m.motion_err_final == pytest.approx(0.0, abs=1e-6)
    assert m.missing_joints == () and m.extra_joints == ()
    # Chamfer of two independent 10k samplings of the same surface is small, not zero.
    assert 0.0 < m.chamfer_whole < 0.5
    assert "seg_miou" in format_metrics_table(m)


def test_perturbations_give_known_errors(scene):
    m = run_evaluate(_gt_articulation(scene, axis_tilt_deg=2.0), scene)
    assert m.axis_angle_deg == pytest.approx(2.0, abs=1e-6)
    # A parallel axis shifted by 1 cm: the position error is 1 cm, not 0 (PARIS flaw).
    m = run_evaluate(_gt_articulation(scene, origin_shift=0.01), scene)
    assert m.axis_pos_err == pytest.approx(0.01, abs=1e-9)
    assert m.axis_pos_err_rel == pytest.approx(0.01 / scene.mesh.bbox_diagonal())


def test_everything_static_reports_missing_joint(scene):
    T = scene.gt.joint_values.shape[0]
    N, F = scene.mesh.num_vertices, len(scene.mesh.faces)
    art = Articulation(
        ("base",),
        np.zeros(N, np.int64),
        np.zeros(F, np.int64),
        np.broadcast_to(make_T(np.eye(3), np.zeros(3)), (T, 1, 4, 4)).copy(),
        (),
        scene.fps,
    )
    m = run_evaluate(art, scene)
    assert m.missing_joints == ("hinge",) and m.joint_type_accuracy is None
    assert m.seg_miou < 1.0


def test_part_indices_are_matched_not_compared(scene):
    m = run_evaluate(_gt_articulation(scene, swap=True), scene)
    assert m.seg_miou == pytest.approx(1.0)
