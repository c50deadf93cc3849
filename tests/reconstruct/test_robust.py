"""Robustness mechanisms of the articulate stage: one-view part discovery (PnP patch
hypotheses) and drag-to-part assignment by motion."""

import numpy as np
from recon_scenes import make_scene
from test_end_to_end import _reconstruct

from partdrag4d.containers import DragSet, JointType
from partdrag4d.evaluate.metrics import run_evaluate
from partdrag4d.reconstruct.articulate import _assign_drags


def test_single_view_door_recovered():
    # No triangulation with one view: parts come from per-view 2D-3D poses.
    scene, videos = make_scene("door", num_views=1)
    _, art = _reconstruct(scene, videos)
    # (A few noise points may form an extra part on a fixed joint; not a moving joint.)
    assert [j.type for j in art.joints if j.type is not JointType.FIXED] == [JointType.REVOLUTE]
    assert abs(art.joints[0].values[-1] - 0.9) < 0.03
    m = run_evaluate(art, scene)
    assert m["missing_joints"] == [] and m["extra_joints"] == []
    assert m["joints"][0]["axis_angle_deg"] <= 2.0
    assert m["seg_miou"] >= 0.9


def _slide(T: int, d: np.ndarray) -> np.ndarray:
    out = np.broadcast_to(np.eye(4), (T, 4, 4)).copy()
    out[:, :3, 3] = np.linspace(0, 1, T)[:, None] * d
    return out


def test_drag_goes_to_the_part_whose_motion_follows_it():
    T = 5
    # Base point right at the drag start; the moving part's point 5 cm away.
    anchors = np.array([[0.0, 0.0, 0.0], [0.05, 0.0, 0.0]])
    point_part = np.array([0, 1])
    poses = [_slide(T, np.zeros(3)), _slide(T, np.array([0.0, 0.0, 0.3]))]
    trusted = [np.ones(T, bool), np.ones(T, bool)]
    path = (np.linspace(0, 1, T)[:, None] * np.array([0.0, 0.0, 0.3]))[:, None]  # T 1 3
    drags = DragSet(path, np.zeros((1, T, 1, 2)), np.ones((1, 1), bool))
    assert _assign_drags(drags, anchors, point_part, poses, trusted).tolist() == [1]
    # A drag that does not move stays with the nearest (static) part.
    still = DragSet(np.zeros((T, 1, 3)), np.zeros((1, T, 1, 2)), np.ones((1, 1), bool))
    assert _assign_drags(still, anchors, point_part, poses, trusted).tolist() == [0]
