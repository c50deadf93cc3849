"""Relabelling faces by the motion that re-renders them best, with known answers."""

from __future__ import annotations

import numpy as np
from recon_scenes import door_video

from partdrag4d.reconstruct.model import Model
from partdrag4d.reconstruct.model_score import ScoreConfig
from partdrag4d.reconstruct.pieces import welded_pieces
from partdrag4d.reconstruct.relabel import RelabelConfig, relabel_parts
from partdrag4d.reconstruct.segment import vertex_labels
from partdrag4d.render.rasterizer import Rasterizer

T = 6


def _model(mesh, face_part, motion) -> Model:
    """Two parts with their true poses (the door's motion) and the given labels."""
    poses = np.stack([np.broadcast_to(np.eye(4), motion.shape), motion], axis=1)
    vertex_part = vertex_labels(mesh.faces, face_part, mesh.num_vertices, 2)
    return Model(vertex_part, face_part, (-1, 0), (None, None), poses)


def test_mislabelled_pieces_and_faces_go_to_the_part_that_moves_them(tmp_path):
    mesh, vertex_part, rig, frames, _, motion = door_video(tmp_path, T, 90.0)
    truth = vertex_part[mesh.faces[:, 0]]
    comp = welded_pieces(mesh)
    door_pieces = np.unique(comp[truth == 1])
    body_pieces = np.unique(comp[truth == 0])
    wrong = truth.copy()
    # a whole piece of the door left on the base, a piece of the body on the door, and
    # half the faces of another door piece on the base
    wrong[comp == door_pieces[0]] = 0
    wrong[comp == body_pieces[-1]] = 1
    half = np.nonzero(comp == door_pieces[-1])[0]
    wrong[half[: len(half) // 2]] = 0
    assert (wrong != truth).sum() >= 6
    with Rasterizer(mesh, rig.width, rig.height) as rast:
        out = relabel_parts(
            _model(mesh, wrong, motion), mesh, rig, frames, rast, RelabelConfig(), ScoreConfig()
        )
    assert out is not None
    assert np.array_equal(out.face_part, truth)
    assert np.array_equal(out.vertex_part, vertex_labels(mesh.faces, truth, mesh.num_vertices, 2))
    assert out.parents == (-1, 0)
    assert np.array_equal(out.T_world, _model(mesh, truth, motion).T_world)


def test_right_labels_stay(tmp_path):
    mesh, vertex_part, rig, frames, _, motion = door_video(tmp_path, T, 90.0)
    truth = vertex_part[mesh.faces[:, 0]]
    with Rasterizer(mesh, rig.width, rig.height) as rast:
        out = relabel_parts(
            _model(mesh, truth, motion), mesh, rig, frames, rast, RelabelConfig(), ScoreConfig()
        )
    assert out is None
