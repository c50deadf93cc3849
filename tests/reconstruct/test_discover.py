"""Part discovery from the model's residuals, with known answers: a plain door the model
keeps on the base (its flow says nothing, its colour does) is found and hung by a hinge."""

from __future__ import annotations

import numpy as np
import pytest
from recon_scenes import make_scene

from partdrag4d.reconstruct.discover import (
    DiscoverConfig,
    candidate_parts,
    discover_parts,
    motion_evidence,
    ranked,
)
from partdrag4d.reconstruct.joints import JointSelectConfig
from partdrag4d.reconstruct.model import Model
from partdrag4d.reconstruct.model_score import ScoreConfig, score_hypothesis
from partdrag4d.reconstruct.render_compare import RenderCompareConfig
from partdrag4d.render.rasterizer import Rasterizer


@pytest.fixture(scope="module")
def plain_door():
    scene, videos = make_scene("door", num_views=3, num_frames=6, size=112, textured=False)
    assert scene.gt is not None
    door_faces = scene.gt.vertex_link[scene.mesh.faces[:, 0]] == 1
    return scene.mesh, videos.cameras, videos.frames, door_faces


def _static(mesh, T: int) -> Model:
    """Everything on the base, which never moves."""
    return Model(
        np.zeros(mesh.num_vertices, np.int64),
        np.zeros(len(mesh.faces), np.int64),
        (-1,),
        (None,),
        np.broadcast_to(np.eye(4), (T, 1, 4, 4)).copy(),
    )


def test_a_plain_part_that_moved_shows_in_the_colour_evidence(plain_door):
    mesh, rig, frames, door = plain_door
    model = _static(mesh, frames.shape[1])
    with Rasterizer(mesh, rig.width, rig.height) as rast:
        seen, moved = motion_evidence(model, mesh, rig, frames, rast, DiscoverConfig())
        no_colour = DiscoverConfig(colour_residual=1e9)
        seen0, moved0 = motion_evidence(model, mesh, rig, frames, rast, no_colour)
    ratio = lambda s, m, f: m[f].sum() / max(s[f].sum(), 1)  # noqa: E731
    assert ratio(seen, moved, door) > 0.5  # most of the door's pixels moved unexplained
    assert moved[door].sum() > 3 * moved0[door].sum()  # and the colour is what says so
    # body pixels the swinging door passed in front of are off too, but the door ranks
    # first: the candidates go by net evidence
    first = candidate_parts(mesh, seen, moved, mesh.bbox_diagonal(), DiscoverConfig())[0]
    assert (first & door).sum() / (first | door).sum() > 0.9


def test_discovery_adds_the_plain_door_as_a_hinged_part(plain_door):
    mesh, rig, frames, door = plain_door
    model = _static(mesh, frames.shape[1])
    log = []
    with Rasterizer(mesh, rig.width, rig.height) as rast:

        def score(m, what):
            log.append(what)
            return score_hypothesis(m.hypothesis(), mesh, rig, frames, ScoreConfig(), rast)

        start = score(model, "start")
        out, out_score = discover_parts(
            model,
            start,
            mesh,
            rig,
            frames,
            rast,
            score,
            DiscoverConfig(),
            RenderCompareConfig(),
            2000,
            JointSelectConfig(),
        )
    assert len(out.parents) == 2 and out.parents == (-1, 0)
    found = out.face_part == 1
    assert (found & door).sum() / (found | door).sum() > 0.9
    assert out.fit(1).type.value == "revolute"
    assert abs(abs(out.fit(1).axis[2]) - 1.0) < 0.02  # the hinge is vertical
    assert out_score.total < 0.5 * start.total


def test_candidates_tried_are_the_best_by_net_evidence_then_by_amount():
    """Five regions of ten faces: a whole piece that moved a little differently (many
    unexplained pixels, more explained ones) ranks last by net evidence and is still
    tried, as one of the largest amounts."""
    seen, moved = np.zeros(50), np.zeros(50)
    regions = [np.arange(10 * i, 10 * i + 10) for i in range(5)]
    counts = [(10, 9), (10, 8), (10, 7), (10, 6), (100, 40)]  # (seen, moved) per face
    for faces, (s_, m_) in zip(regions, counts, strict=True):
        seen[faces], moved[faces] = s_, m_
    masks = [np.isin(np.arange(50), f) for f in regions]
    cfg = DiscoverConfig(candidates_per_round=2, candidates_by_amount=1, min_evidence=1)
    tried = ranked(masks + [masks[0].copy()], seen, moved, cfg)  # a duplicate goes
    assert [int(np.argmax(m)) // 10 for m in tried] == [0, 1, 4]
    assert len(ranked(masks, seen, moved, DiscoverConfig(candidates_by_amount=0))) == 3
