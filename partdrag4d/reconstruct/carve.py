"""A new part carved out of a model: tracked by render-and-compare, hung from a parent.

Discovery (faces the model leaves unexplained) and splitting (welded pieces of a part
that move apart) both propose a set of faces that should move on their own. Either is
turned into a model here the same way: the faces become a new part, tracked by
render-and-compare with the rest of the model held, and hung from the parent (the base
or any part) relative to which a joint explains it best. When ``retrack`` is set, the
parts that gave the faces are tracked again with it (their motion was fitted to the
old, larger part: after a split, what is left of it may move quite differently).
Candidates are tracked at a reduced size (:func:`downsized`): they only need to be
good enough to be scored.
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from partdrag4d.containers import CameraRig, SceneMesh
from partdrag4d.reconstruct.joints import JointFit, JointSelectConfig
from partdrag4d.reconstruct.model import (
    Model,
    descendants,
    fit_motion,
    fit_parent_joint,
    folded,
    joint_of,
    part_points,
)
from partdrag4d.reconstruct.render_compare import RenderCompareConfig, track_parts


def downsized(rig: CameraRig, frames: np.ndarray, longest: int) -> tuple[CameraRig, np.ndarray]:
    """The rig and the frames scaled so the long side is at most ``longest`` pixels."""
    factor = longest / max(rig.width, rig.height)
    if factor >= 1.0:
        return rig, frames
    w, h = max(1, round(rig.width * factor)), max(1, round(rig.height * factor))
    sx, sy = w / rig.width, h / rig.height
    K = rig.K.copy()
    K[:, 0, :] *= sx  # corner-origin pixels: the principal point scales with the image
    K[:, 1, :] *= sy
    small = np.stack(
        [
            np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in view])
            for view in frames
        ]
    )
    return replace(rig, K=K, width=w, height=h), small


def refitted(
    model: Model,
    donors: list[int],
    poses: np.ndarray,
    vertex_part: np.ndarray,
    mesh: SceneMesh,
    diag: float,
    max_points: int,
    joint_cfg: JointSelectConfig,
) -> tuple[list[JointFit | None], np.ndarray]:
    """The model's joints and modelled poses (T, P, 4, 4) with each of the ``donors``
    refitted to its tracked ``poses`` (same parent), and the joints below them refitted
    so that their parts keep their world poses."""
    fits = list(model.fits)
    T_world = model.T_world.copy()
    below = set().union(*(descendants(model.parents, d) for d in donors))
    for p in sorted(set(donors) | below):  # tree order: parents first
        q = model.parents[p]
        target = poses[:, p] if p in donors else model.T_world[:, p]
        X = part_points(mesh.vertices, vertex_part, p, max_points)
        _, fit = fit_parent_joint(target, X, {q: T_world[:, q]}, diag, joint_cfg)
        fits[p] = replace(fit, source=joint_of(fits, p).source)
        T_world[:, p] = T_world[:, q] @ fit_motion(fit)
    return fits, T_world


def with_part(
    model: Model,
    face_mask: np.ndarray,
    mesh: SceneMesh,
    rig: CameraRig,
    frames: np.ndarray,
    diag: float,
    track_cfg: RenderCompareConfig,
    max_points: int,
    joint_cfg: JointSelectConfig,
    retrack: bool = False,
) -> Model | None:
    """The model with the faces ``face_mask`` as a new part, tracked with the rest held
    (with ``retrack``, except the parts that gave faces: they are tracked with it) and
    hung from the parent whose joint explains it best (None: nothing to add)."""
    # parts lying wholly inside the candidate were its mislabelled pieces: they go
    inside = [p for p in range(1, len(model.parents)) if face_mask[model.face_part == p].all()]
    for p in sorted(inside, reverse=True):
        model = folded(model, p, mesh.vertices, diag, max_points, joint_cfg)
    P = len(model.parents)
    face_part = np.where(face_mask, P, model.face_part)
    vertex_part = model.vertex_part.copy()
    vertex_part[np.unique(mesh.faces[face_mask])] = P
    if np.bincount(vertex_part, minlength=P + 1).min() == 0:
        return None  # nothing new, or it would empty a part (then that part is wrong)
    donors = [p for p in range(1, P) if retrack and np.any(face_mask & (model.face_part == p))]
    held = np.concatenate([model.T_world, model.T_world[:, :1]], axis=1)
    poses = track_parts(mesh, vertex_part, rig, frames, [*donors, P], track_cfg, held)
    fits, T_world = refitted(model, donors, poses, vertex_part, mesh, diag, max_points, joint_cfg)
    X = part_points(mesh.vertices, vertex_part, P, max_points)
    q, fit = fit_parent_joint(poses[:, P], X, {k: T_world[:, k] for k in range(P)}, diag, joint_cfg)
    fit = replace(fit, source="render-compare")
    T_world = np.concatenate([T_world, (T_world[:, q] @ fit_motion(fit))[:, None]], axis=1)
    scale = model.view_scale
    if scale is not None:
        scale = np.concatenate([scale, np.ones((len(scale), 1))], axis=1)
    return Model(vertex_part, face_part, model.parents + (q,), (*fits, fit), T_world, scale)
