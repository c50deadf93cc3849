"""The model-selection score prefers the part count the videos show (known answers)."""

from __future__ import annotations

import numpy as np
import pytest
from recon_scenes import render_clips

from partdrag4d.assets.kinematics import link_poses_over_time, posed_mesh
from partdrag4d.assets.procedural import ProceduralConfig, write_procedural
from partdrag4d.assets.urdf import load_urdf
from partdrag4d.containers import RigFront
from partdrag4d.reconstruct.model_score import Hypothesis, score_hypothesis
from partdrag4d.scene.cameras import RigConfig, orbit_rig

T = 4


def _scene(tmp_path, category: str, seed: int, fraction: float):
    """Rest mesh, true hypothesis (each moving joint's subtree a part; joints moving
    ``fraction`` of their range), rig and rendered videos."""
    asset = load_urdf(write_procedural(ProceduralConfig(category, seed, True), tmp_path))
    mesh, vertex_link = posed_mesh(asset)
    joints = asset.movable_joints
    # each joint its own amplitude (drawers sliding equally far would move as one part)
    hi = np.array([j.limits[1] * (1.0 - 0.3 * k) for k, j in enumerate(joints)])
    values = np.linspace(0.0, 1.0, T)[:, None] * fraction * hi[None]
    poses = link_poses_over_time(asset, [j.name for j in joints], values)
    links = [lk.name for lk in asset.links]
    heads = [links.index(asset.root)] + [links.index(j.child) for j in joints]
    link_part = np.array([heads.index(i) if i in heads else 0 for i in range(len(links))])
    T_world_part = (poses @ np.linalg.inv(poses[0])[None])[:, heads]
    truth = Hypothesis(link_part[vertex_link], T_world_part)
    rig = orbit_rig(
        RigConfig(num_views=2, width=96, height=96, azimuth_spread_deg=60.0),
        mesh.bounds(),
        "z",
        RigFront(-90.0, 25.0, "config", "test"),
    )
    frames = render_clips(mesh, truth.vertex_part, rig, T_world_part)
    return mesh, rig, frames, truth


def _merged(h: Hypothesis, part: int, into: int) -> Hypothesis:
    """``part``'s vertices follow ``into`` and the part is gone."""
    label = np.where(h.vertex_part == part, into, h.vertex_part)
    label = np.where(label > part, label - 1, label)
    return Hypothesis(label, np.delete(h.T_world_part, part, axis=1))


def _split(h: Hypothesis, part: int) -> Hypothesis:
    """``part`` cut in two halves that move the same way."""
    idx = np.nonzero(h.vertex_part == part)[0]
    label = h.vertex_part.copy()
    label[idx[len(idx) // 2 :]] = h.T_world_part.shape[1]
    poses = np.concatenate([h.T_world_part, h.T_world_part[:, part : part + 1]], axis=1)
    return Hypothesis(label, poses)


@pytest.mark.parametrize(
    ("category", "seed", "parts"), [("microwave", 0, 1), ("drawers", 0, 2), ("drawers", 1, 3)]
)
def test_the_true_part_count_scores_best(tmp_path, category, seed, parts):
    mesh, rig, frames, truth = _scene(tmp_path, category, seed, fraction=0.6)
    assert truth.num_moving == parts
    score = lambda h: score_hypothesis(h, mesh, rig, frames).total  # noqa: E731
    best = score(truth)
    alternatives = {"split": _split(truth, 1), "static": _merged(truth, parts, 0)}
    if parts >= 2:
        alternatives["merged"] = _merged(truth, parts, 1)
    for name, h in alternatives.items():
        assert best < score(h), name


def test_a_joint_the_videos_cannot_see_folds(tmp_path):
    # a door opened by 0.01 degrees: its motion is far below a pixel
    mesh, rig, frames, truth = _scene(tmp_path, "microwave", 1, fraction=0.01 / 90.0)
    folded = _merged(truth, 1, 0)
    assert (
        score_hypothesis(folded, mesh, rig, frames).total
        < score_hypothesis(truth, mesh, rig, frames).total
    )
    # the same door opened by 30 degrees is worth its parameters
    mesh, rig, frames, truth = _scene(tmp_path / "open", "microwave", 1, fraction=0.35)
    folded = _merged(truth, 1, 0)
    s_true, s_folded = (score_hypothesis(h, mesh, rig, frames) for h in (truth, folded))
    assert s_true.total < s_folded.total
    assert s_true.complexity > s_folded.complexity  # it pays for the joint, and earns it


def test_the_true_poses_cost_no_silhouette(tmp_path):
    """Both silhouettes come from the same colour test: at the true poses of a clean
    render, anti-aliased rims agree and cost nothing; half the motion does not."""
    mesh, rig, frames, truth = _scene(tmp_path, "microwave", 0, fraction=0.6)
    s = score_hypothesis(truth, mesh, rig, frames)
    assert s.silhouette == 0.0 and s.photometric < 0.01 * s.pixels
    half = truth.T_world_part.copy()
    half[:, 1] = np.stack([truth.T_world_part[max(t // 2, 0), 1] for t in range(T)])
    assert score_hypothesis(Hypothesis(truth.vertex_part, half), mesh, rig, frames).silhouette > 0
