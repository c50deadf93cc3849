"""Moving welded pieces between parts, motions held, by the criterion.

A mesh is usually built from welded pieces (a drawer's front, its box, a handle). The
part proposals, splits and relabelling can leave a whole piece with the wrong part:
a drawer's hidden box following the drawer beside it, a handle left on the body. The
per-face costs of :mod:`.relabel` cannot see such a piece when it is hidden at the
right pose (it shows only where the wrong motion pushes it out through other
surfaces), but the whole-model criterion (:mod:`.model_score`) does: giving a piece
wholly to one of the parts nearest to it (or, for a piece split between parts, to one
of those) is scored with every motion held, and the move is kept when the score drops.

Each trial is first scored on the last frame only (a sixth of the cost; the motion is
largest there) and only the ones that drop there are scored on every compared frame.
Reads the videos, cameras, rest mesh and the model only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np
from scipy.sparse.csgraph import connected_components
from scipy.spatial import KDTree

from partdrag4d.config_checks import COUNT
from partdrag4d.containers import SceneMesh
from partdrag4d.reconstruct.model import Model
from partdrag4d.reconstruct.model_score import Score
from partdrag4d.reconstruct.segment import face_adjacency, vertex_labels, weld


@dataclass
class PieceMoveConfig:
    """Settings of moving welded pieces between parts."""

    CHECKS: ClassVar[dict] = {"targets": COUNT, "max_pieces": COUNT, "rounds": COUNT}

    enabled: bool = True
    """Try moving pieces (each move kept only when the criterion drops)."""
    targets: int = 2
    """A piece may go to this many parts that come nearest to it."""
    max_pieces: int = 40
    """Most pieces tried (largest first)."""
    rounds: int = 2
    """Passes over the pieces (a move can make another one pay)."""


def welded_pieces(mesh: SceneMesh) -> np.ndarray:
    """The welded component of every face."""
    rep = weld(mesh.vertices, 1e-6 * mesh.bbox_diagonal())
    return connected_components(face_adjacency(rep, mesh.faces), directed=False)[1]


def movable_pieces(face_part: np.ndarray, piece: np.ndarray, faces: np.ndarray) -> list[int]:
    """The pieces worth moving, most vertices first: every piece split between parts
    (relabelling faces one by one can leave a piece so), and every whole piece of a part
    that has other faces too (moving a part's only piece would be a fold)."""
    out = []
    for c in range(int(piece.max()) + 1):
        mask = piece == c
        parts = np.unique(face_part[mask])
        if len(parts) > 1 or np.any(face_part[~mask] == parts[0]):
            out.append((len(np.unique(faces[mask])), c))
    return [c for _, c in sorted(out, reverse=True)]


def piece_targets(
    model: Model, vertices: np.ndarray, faces: np.ndarray, mask: np.ndarray, most: int
) -> list[int]:
    """Where a piece (faces in ``mask``) may go: the parts it is split between, then the
    ``most`` other parts whose vertices come nearest to it."""
    own = np.unique(model.face_part[mask])
    tree = KDTree(vertices[np.unique(faces[mask])])
    gap = {}
    for q in range(len(model.parents)):
        X = vertices[model.vertex_part == q]
        if q not in own and len(X):
            gap[q] = float(tree.query(X)[0].min())
    near = sorted(gap, key=gap.__getitem__)[:most]
    return ([int(q) for q in own] if len(own) > 1 else []) + near


def with_piece(model: Model, faces: np.ndarray, mask: np.ndarray, part: int) -> Model | None:
    """The model with the faces in ``mask`` given to ``part``, every motion held (None
    when a part would be left without vertices)."""
    face_part = model.face_part.copy()
    face_part[mask] = part
    P = len(model.parents)
    vertex_part = vertex_labels(faces, face_part, len(model.vertex_part), P)
    if np.bincount(vertex_part, minlength=P).min() == 0:
        return None
    return replace(model, vertex_part=vertex_part, face_part=face_part)


def moved_pieces(
    model: Model,
    model_score: Score,
    mesh: SceneMesh,
    score: Callable[[Model, str], Score],
    last_frame_score: Callable[[Model], float],
    cfg: PieceMoveConfig,
) -> tuple[Model, Score]:
    """The model after giving whole welded pieces to nearby parts while that lowers the
    score (module docstring); ``last_frame_score`` scores a model on the last frame."""
    if not cfg.enabled or len(model.parents) < 2:
        return model, model_score
    piece = welded_pieces(mesh)
    for _ in range(cfg.rounds):
        changed = False
        quick = last_frame_score(model)
        for c in movable_pieces(model.face_part, piece, mesh.faces)[: cfg.max_pieces]:
            mask = piece == c
            for q in piece_targets(model, mesh.vertices, mesh.faces, mask, cfg.targets):
                trial = with_piece(model, mesh.faces, mask, q)
                if trial is None:
                    continue
                trial_quick = last_frame_score(trial)
                if trial_quick >= quick:
                    continue
                s = score(trial, f"piece {c} to part_{q}")
                if s.total < model_score.total:
                    model, model_score, quick, changed = trial, s, trial_quick, True
                    break
        if not changed:
            break
    return model, model_score
