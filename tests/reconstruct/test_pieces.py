"""Moving welded pieces between parts by the criterion, with known answers."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from recon_scenes import render_clips

from partdrag4d.assets.kinematics import forward_kinematics, posed_mesh
from partdrag4d.assets.procedural import ProceduralConfig, write_procedural
from partdrag4d.assets.urdf import load_urdf
from partdrag4d.containers import RigFront
from partdrag4d.reconstruct.model import Model
from partdrag4d.reconstruct.model_score import ScoreConfig, score_hypothesis
from partdrag4d.reconstruct.pieces import PieceMoveConfig, moved_pieces, welded_pieces
from partdrag4d.reconstruct.segment import vertex_labels
from partdrag4d.render.rasterizer import Rasterizer
from partdrag4d.scene.cameras import RigConfig, orbit_rig

T = 6


def _two_drawers(tmp_path):
    """A chest whose first two drawers slide out by 60 % and 30 % of their travel, seen
    from three cameras above the front: (mesh, true vertex parts, rig, frames, poses)."""
    asset = load_urdf(write_procedural(ProceduralConfig("drawers", 0, True), tmp_path))
    mesh, vertex_link = posed_mesh(asset)
    names = [lk.name for lk in asset.links]
    rest = forward_kinematics(asset)
    vertex_part = np.zeros(len(vertex_link), np.int64)
    motions = []
    for k, (joint, share) in enumerate(zip(asset.movable_joints[:2], (0.6, 0.3), strict=True)):
        vertex_part[vertex_link == names.index(joint.child)] = k + 1
        assert joint.limits is not None  # a drawer or a door has limits
        values = np.linspace(0.0, share * joint.limits[1], T)
        motions.append(
            [
                forward_kinematics(asset, {joint.name: q})[joint.child]
                @ np.linalg.inv(rest[joint.child])
                for q in values
            ]
        )
    poses = np.stack([np.broadcast_to(np.eye(4), (T, 4, 4)), *map(np.stack, motions)], axis=1)
    rig = orbit_rig(
        RigConfig(num_views=3, width=112, height=112, azimuth_spread_deg=100.0),
        mesh.bounds(),
        "z",
        RigFront(-90.0, 40.0, "config", "test"),
    )
    return mesh, vertex_part, rig, render_clips(mesh, vertex_part, rig, poses), poses


def _model(mesh, face_part, poses) -> Model:
    """The three parts with their true poses and the given face labels."""
    vertex_part = vertex_labels(mesh.faces, face_part, mesh.num_vertices, 3)
    return Model(vertex_part, face_part, (-1, 0, 0), (None, None, None), poses)


def _moved(model: Model, mesh, rig, frames) -> Model:
    cfg = ScoreConfig()
    last = replace(cfg, frame_step=frames.shape[1] - 1)
    with Rasterizer(mesh, rig.width, rig.height) as rast:

        def score(m: Model, what: str = ""):
            return score_hypothesis(m.hypothesis(), mesh, rig, frames, cfg, rast)

        def last_frame_score(m: Model) -> float:
            return score_hypothesis(m.hypothesis(), mesh, rig, frames, last, rast).total

        out, _ = moved_pieces(model, score(model), mesh, score, last_frame_score, PieceMoveConfig())
    return out


def test_a_drawers_hidden_piece_labelled_with_the_other_drawer_goes_back(tmp_path):
    mesh, vertex_part, rig, frames, poses = _two_drawers(tmp_path)
    truth = vertex_part[mesh.faces[:, 0]]
    piece = welded_pieces(mesh)
    drawer = np.unique(piece[truth == 1])
    assert len(drawer) == 3  # a front, a handle and the tray (its four boards welded)
    # the tray, hidden inside the chest but for what the open drawer shows
    tray = max(drawer, key=lambda c: np.sum(piece == c))
    wrong = truth.copy()
    wrong[piece == tray] = 2
    out = _moved(_model(mesh, wrong, poses), mesh, rig, frames)
    assert np.array_equal(out.face_part, truth)
    assert np.array_equal(out.T_world, poses)  # the motions are held


def test_right_pieces_stay(tmp_path):
    mesh, vertex_part, rig, frames, poses = _two_drawers(tmp_path)
    truth = vertex_part[mesh.faces[:, 0]]
    out = _moved(_model(mesh, truth, poses), mesh, rig, frames)
    assert np.array_equal(out.face_part, truth)
