"""Robustness mechanisms of the articulate stage: one-view part discovery (PnP patch
hypotheses), drag-to-part assignment by motion, drag-steered refits and grazing
observations."""

from dataclasses import replace

import numpy as np
import trimesh
from recon_scenes import make_scene, reconstruct, rig

from partdrag4d.containers import DragSet, JointType, Tracks
from partdrag4d.evaluate.metrics import run_evaluate
from partdrag4d.geometry.camera import project_each
from partdrag4d.geometry.lines import axis_angle_deg
from partdrag4d.geometry.se3 import transform_points
from partdrag4d.reconstruct.articulate import ArticulateConfig
from partdrag4d.reconstruct.articulate_config import CleanupConfig, ProposalConfig, TreeConfig
from partdrag4d.reconstruct.drag_joints import assign_drags
from partdrag4d.reconstruct.joint_refit import FrameJacobian, refine_joint
from partdrag4d.reconstruct.joints import JointFit, joint_transforms
from partdrag4d.reconstruct.observations import fit_poses, make_observations
from partdrag4d.reconstruct.part_cleanup import head_on_overlap, model_overlap
from partdrag4d.reconstruct.proposals import best_hypothesis, per_view_motion
from partdrag4d.reconstruct.segment import anchor_normals
from partdrag4d.reconstruct.tree import Tree, relabel_by_joints


def test_single_view_door_recovered():
    # No triangulation with one view: parts come from per-view 2D-3D poses.
    scene, videos = make_scene("door", num_views=1)
    _, art = reconstruct(scene, videos)
    # (A few noise points may form an extra part on a fixed joint; not a moving joint.)
    assert [j.type for j in art.joints if j.type is not JointType.FIXED] == [JointType.REVOLUTE]
    assert abs(art.joints[0].values[-1] - 0.9) < 0.03
    m = run_evaluate(art, scene)
    assert m.missing_joints == () and m.extra_joints == ()
    assert m.joints[0].axis_angle_deg <= 2.0
    assert m.seg_miou >= 0.9


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
    assert assign_drags(drags, anchors, point_part, poses, trusted).tolist() == [1]
    # A drag that does not move stays with the nearest (static) part.
    still = DragSet(np.zeros((T, 1, 3)), np.zeros((1, T, 1, 2)), np.ones((1, 1), bool))
    assert assign_drags(still, anchors, point_part, poses, trusted).tolist() == [0]


def test_views_disagreeing_on_amplitude_give_one_joint():
    # Generated views disagree on how far a part moved (here by -/+ 12 %); every view
    # gets its own amplitude, so the door stays one part with the right axis.
    scene, videos = make_scene("door", view_amplitude=(0.88, 1.0, 1.12))
    _, art = reconstruct(scene, videos)
    m = run_evaluate(art, scene)
    assert m.missing_joints == () and m.extra_joints == ()
    (e,) = m.joints
    assert e.type_correct and e.axis_angle_deg <= 1.0, e
    assert abs(art.joints[0].values[-1] - 0.9) < 0.05


def _panel_obs(q, amp, noise_px=0.0, seed=0):
    """Synthetic tracks of a panel hinged on the z axis (3 views): view v saw the joint
    moved amp[v] times as far."""
    rng = np.random.default_rng(seed)
    cams = rig(3, 128)
    X = np.c_[rng.uniform(0.0, 0.3, 40), np.full(40, -0.2), rng.uniform(0.0, 0.4, 40)]
    view = np.repeat(np.arange(3), len(X))
    anchors = np.tile(X, (3, 1))
    uv = np.zeros((len(q), len(anchors), 2))
    for v in range(3):
        m = view == v
        poses = joint_transforms(JointType.REVOLUTE, _Z, np.zeros(3), q * amp[v])
        uv[:, m] = project_each(
            cams.K, cams.T_cam_world, view[m], transform_points(poses, anchors[m])
        )[0]
    uv[1:] += rng.normal(0.0, noise_px, uv[1:].shape)
    T = len(q)
    tracks = Tracks(
        np.tile(np.arange(len(X)), 3),
        anchors,
        view,
        uv,
        np.ones((T, len(anchors)), bool),
        np.ones((T, len(anchors))),
        np.full((T, len(anchors), 3), np.nan),
    )
    return make_observations(tracks, cams)


_Z = np.array([0.0, 0.0, 1.0])


def test_observations_do_not_depend_on_point_numbering():
    # Entries are grouped by point id; points are ordered by their rest position, so
    # renumbering the points changes nothing downstream.
    rng = np.random.default_rng(1)
    G, T = 30, 4
    X = rng.uniform(-0.2, 0.2, (G, 3))
    point, view = np.tile(np.arange(G), 3), np.repeat(np.arange(3), G)
    uv = rng.uniform(0.0, 128.0, (T, 3 * G, 2))

    def observations(ids):
        n = len(ids)
        tracks = Tracks(
            ids, X[point], view, uv, np.ones((T, n), bool), np.ones((T, n)), np.zeros((T, n, 3))
        )
        return make_observations(tracks, rig(3, 128))

    a = observations(point)
    b = observations(rng.permutation(G)[point])
    np.testing.assert_array_equal(a.anchors, b.anchors)
    np.testing.assert_array_equal(a.group, b.group)
    np.testing.assert_array_equal(a.anchors[a.group], X[point])


def test_per_view_motion_recovers_each_views_amplitude():
    a, o, q = _Z, np.zeros(3), np.linspace(0.0, 0.8, 6)
    amp = np.array([0.85, 1.0, 1.15])
    obs = _panel_obs(q, amp)
    anchors = obs.X
    shared = joint_transforms(JointType.REVOLUTE, a, o, q)
    groups = np.arange(len(obs.anchors))
    per_view = per_view_motion(obs, shared, groups, ArticulateConfig())
    for v in range(3):
        np.testing.assert_allclose(
            per_view[v], joint_transforms(JointType.REVOLUTE, a, o, q * amp[v]), atol=2e-3
        )
    entries = np.arange(len(anchors))
    assert np.nanmax(obs.entry_rms(per_view, entries)) < 0.3
    # One shared motion leaves points beyond the inlier threshold.
    assert (
        np.nanmax(obs.entry_rms(shared, entries)) > ArticulateConfig().proposals.inlier_threshold_px
    )


def test_drag_path_steers_a_hinge_tracked_over_few_frames():
    # Noisy tracks over the first 3 of 12 frames hardly fix the axis; the requested drag's
    # arc over all frames does, once it counts in the refit.
    q = np.linspace(0.0, 1.2, 12)
    obs = _panel_obs(q, np.ones(3), noise_px=1.0)
    frames = np.arange(12) < 3
    tilted = np.array([np.sin(0.1), 0.0, np.cos(0.1)])  # 5.7 degrees off
    fit = JointFit(JointType.REVOLUTE, tilted, np.zeros(3), q, 0.0)
    eye = np.broadcast_to(np.eye(4), (12, 4, 4)).copy()
    groups = np.arange(len(obs.anchors))
    drag = transform_points(
        joint_transforms(JointType.REVOLUTE, _Z, np.zeros(3), q), np.array([[0.3, -0.2, 0.4]])
    )
    cfg = ArticulateConfig(tree=TreeConfig(drag_weight=20))
    alone = refine_joint(fit, eye, obs, groups, cfg, frames)
    steered = refine_joint(fit, eye, obs, groups, cfg, frames, drag)
    assert axis_angle_deg(steered.axis, _Z) < 0.5
    assert axis_angle_deg(steered.axis, _Z) < 0.5 * axis_angle_deg(alone.axis, _Z)
    np.testing.assert_allclose(steered.values, q, atol=0.02)


def test_facing_marks_the_views_that_see_a_surface_edge_on():
    # The panel turns 90 degrees: the middle camera (straight in front) then sees it
    # edge-on.
    q = np.array([0.0, np.pi / 2])
    obs = _panel_obs(q, np.ones(3))
    obs.normals = np.tile([0.0, 1.0, 0.0], (len(obs.anchors), 1))
    entries = np.arange(len(obs.X))
    shared = joint_transforms(JointType.REVOLUTE, _Z, np.zeros(3), q)
    facing = obs.facing(shared, entries, 0.3)
    assert facing[0].all()
    assert not facing[1, obs.view == 1].any()
    # Per-view models give the same answer as the shared one they repeat.
    np.testing.assert_array_equal(obs.facing(np.stack([shared] * 3), entries, 0.3), facing)
    # Without normals nothing is left out.
    obs.normals = None
    assert obs.facing(shared, entries, 0.3).all()


def test_tracks_drifting_where_seen_edge_on_are_a_fragment_of_their_part():
    q = np.linspace(0.0, np.pi / 2, 8)
    obs = _panel_obs(q, np.ones(3))
    obs.normals = np.tile([0.0, 1.0, 0.0], (len(obs.anchors), 1))
    entries, groups = np.arange(len(obs.X)), np.arange(len(obs.anchors))
    cfg = ArticulateConfig(cleanup=CleanupConfig(min_view_cos=0.3))
    eye = np.broadcast_to(np.eye(4), (len(q), 4, 4))
    true = joint_transforms(JointType.REVOLUTE, _Z, np.zeros(3), q)
    # Where a camera sees the panel at a grazing angle its tracks slide by 6 px; the
    # rigid motion fitted to them explains them better than the panel's own.
    grazing = ~obs.facing(true, entries, cfg.cleanup.min_view_cos)
    assert grazing.any()
    obs.uv[grazing] += 6.0 / np.sqrt(2.0)
    drifted = fit_poses(obs, groups, true, cfg)
    assert np.median(obs.entry_rms(drifted, entries)) < np.median(obs.entry_rms(true, entries))
    models = [eye, true, drifted]
    assert model_overlap(obs, models, 2, groups, cfg) < 0.5
    assert head_on_overlap(obs, models, 2, groups, cfg) >= 0.5
    assert (
        head_on_overlap(
            obs, models, 2, groups, replace(cfg, cleanup=CleanupConfig(min_view_cos=0.0))
        )
        == 0.0
    )
    # A part that really moves otherwise (half as far) is not explained where seen
    # head-on.
    half = joint_transforms(JointType.REVOLUTE, _Z, np.zeros(3), q / 2)
    assert head_on_overlap(obs, [eye, half, true], 2, groups, cfg) < 0.1


def test_anchor_normals_are_those_of_the_nearest_face():
    box = trimesh.creation.box((1.0, 1.0, 1.0))
    pts = np.array([[0.1, 0.2, 0.5], [0.5, 0.0, 0.1], [0.0, -0.5, -0.2]])
    n = anchor_normals(np.asarray(box.vertices), np.asarray(box.faces), pts)
    np.testing.assert_allclose(n, [[0, 0, 1], [1, 0, 0], [0, -1, 0]], atol=1e-9)


def test_frame_jacobian_shares_one_evaluation_among_per_frame_values():
    # Two global parameters and one value per frame t = 1..4; frame t has 3 residuals.
    rng = np.random.default_rng(0)
    A = rng.normal(size=(4, 3, 2))
    calls = []

    def fun(p):
        calls.append(1)
        g, q = p[:2], p[2:]
        return np.concatenate([np.sin(A[t] @ g) * q[t] + q[t] ** 2 for t in range(4)])

    jac = FrameJacobian(fun, np.r_[0, 0, 1, 2, 3, 4], np.repeat(np.arange(1, 5), 3))
    x = rng.normal(size=6)
    numeric = np.stack([(fun(x + 1e-6 * e) - fun(x - 1e-6 * e)) / 2e-6 for e in np.eye(6)], -1)
    calls.clear()
    jac.fun(x)
    J = jac(x)
    np.testing.assert_allclose(J, numeric, atol=1e-6)
    assert len(calls) == 1 + 2 + 1  # base, two globals, all four values together


def test_preview_scoring_keeps_the_winner_of_full_scoring():
    # Hypotheses: the panel's hinge at several amplitudes; the true one (1.0) explains
    # every point, the others few or none. Scoring a preview of 10 points first and only
    # the 2 best on all points must return the same winner with its full support.
    q = np.linspace(0.0, 0.8, 6)
    obs = _panel_obs(q, np.ones(3), noise_px=0.2)
    scales = [0.3, 1.6, 0.8, 1.0, 0.5, 0.6, 1.0]

    # Views keep the shared amplitude (no per-view scaling) so every hypothesis stays
    # what it is; the sample is any group.
    hyps = [
        (joint_transforms(JointType.REVOLUTE, _Z, np.zeros(3), q * s), np.arange(5)) for s in scales
    ]
    remaining = np.ones(len(obs.anchors), bool)
    cfg = ArticulateConfig(
        proposals=ProposalConfig(view_scale_range=0.0, ransac_preview_points=10, ransac_finalists=2)
    )
    full = best_hypothesis(
        obs,
        hyps,
        remaining,
        replace(cfg, proposals=replace(cfg.proposals, ransac_preview_points=10**6)),
    )
    fast = best_hypothesis(obs, hyps, remaining, cfg)
    assert fast[0] == full[0] == len(obs.anchors)
    # The first of the two equal true hypotheses wins, with or without the preview.
    assert fast[1][0] is hyps[3][0] and full[1][0] is hyps[3][0]
    np.testing.assert_array_equal(fast[1][1], np.broadcast_to(hyps[3][0], (3, len(q), 4, 4)))
    # Without a hypothesis explaining any point there is no winner.
    assert best_hypothesis(obs, hyps[:2], remaining, cfg) == (0.0, None)


def test_relabel_by_joints_maps_tree_columns_to_parts_and_keeps_small_parts():
    # Columns of the errors follow the tree order [0, 2, 1]: column 1 is part 2.
    tree = Tree(order=[0, 2, 1], parents=[-1, 2, 0], fits={}, T_world=np.zeros((1, 3, 4, 4)))
    cfg = ArticulateConfig()  # margin 0.3 px, inliers below 2 x 1.5 px
    err = np.array(
        [
            [0.2, 5.0, 5.0],  # base
            [5.0, 0.4, 2.0],  # column 1 -> part 2
            [5.0, 2.0, 0.5],  # column 2 -> part 1
            [5.0, 0.6, 0.7],  # ambiguous: best two within the margin
            [9.0, 8.0, 7.0],  # no motion explains it
        ]
    )
    old = np.array([0, 1, 2, 1, 2])
    new = relabel_by_joints(err, tree, old, 1, cfg)
    assert new.tolist() == [0, 2, 1, -1, -1]
    # A part that would keep fewer points than the minimum keeps the old labels.
    assert relabel_by_joints(err, tree, old, 2, cfg) is old
