"""Relabelling faces by the motion that re-renders them best.

Part proposals from tracks get most faces right and some wrong (a flap's side labelled
with the part it hangs from, a fragment of a door left on the base); a part tracked with
wrong faces then moves wrongly, and the criterion may prefer merging it away. Given the
model's motions, each face can instead be asked which of them explains it: render the
whole mesh moved rigidly by one part's pose at a time, compare with the frame as the
criterion (:mod:`.model_score`) does (a robust grey-level residual where the frame
shows the object, a silhouette cost where it shows background), and charge each render
pixel to the face its rest-state point lies on. A face then costs, per candidate part,
the mean over the pixels it covered in all views and frames; costs are pooled over
each face's neighbours (small faces see few pixels) and every face takes the part with
the lowest cost when that is clearly lower than its own.

Only a proposal: the caller tracks the relabelled parts again and keeps them when the
criterion drops. Reads the videos, cameras, rest mesh and the model only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np
from jaxtyping import Float, UInt8
from scipy.sparse.csgraph import connected_components
from scipy.spatial import KDTree

from partdrag4d.containers import CameraRig, SceneMesh
from partdrag4d.geometry.se3 import transform_points
from partdrag4d.reconstruct.discover import surface_samples
from partdrag4d.reconstruct.model import Model
from partdrag4d.reconstruct.model_score import ScoreConfig
from partdrag4d.reconstruct.render_compare import grey, match_levels
from partdrag4d.reconstruct.segment import face_adjacency, vertex_labels, weld


@dataclass
class RelabelConfig:
    """Settings of relabelling faces by motion."""

    enabled: bool = True
    """Propose relabelled models (each kept only when the criterion drops)."""
    rounds: int = 2
    """Most relabel / re-track rounds."""
    frame_step: int = 2
    """Frames compared: every ``frame_step``-th counting back from the last."""
    surface_samples: int = 20000
    """Points spread over the mesh that map render pixels to faces."""
    min_pixels: int = 8
    """A face needs this many covered pixels (after pooling) under a part to be judged."""
    pool_rings: int = 1
    """Costs are pooled over this many rings of neighbouring faces."""
    margin: float = 0.1
    """A face changes part when its mean cost there is lower by at least this (nats per
    pixel) than under its own part."""


def frame_levels(
    model_rgb: np.ndarray, model_mask: np.ndarray, frame: np.ndarray, fg: np.ndarray
) -> np.ndarray:
    """The frame's grey levels matched to the model render's where both show the object."""
    return match_levels(grey(model_rgb), grey(frame), model_mask & fg)


def face_costs(
    model: Model,
    mesh: SceneMesh,
    rig: CameraRig,
    frames: UInt8[np.ndarray, "V T H W 3"],
    rast,
    cfg: RelabelConfig,
    score_cfg: ScoreConfig,
) -> tuple[Float[np.ndarray, "F P"], Float[np.ndarray, "F P"]]:
    """Per face and part: (summed cost, covered pixels) of the face moved with that part
    over the compared views and frames (module docstring)."""
    from partdrag4d.assets.kinematics import move_vertices
    from partdrag4d.reconstruct.track import foreground

    pts, pts_face = surface_samples(mesh, cfg.surface_samples)
    tree = KDTree(pts)
    F, P = len(mesh.faces), len(model.parents)
    cost, count = np.zeros((F, P)), np.zeros((F, P))
    silhouette = float(np.log1p(score_cfg.silhouette_sigmas**2))
    kernel = np.ones((3, 3), np.uint8)
    h = model.hypothesis()
    for t in range(frames.shape[1] - 1, 0, -max(cfg.frame_step, 1)):
        for v in range(rig.num_views):
            poses = h.poses(v, t)
            fg = foreground(frames[v, t], score_cfg.background_threshold)
            verts = move_vertices(mesh.vertices, model.vertex_part, poses)
            out = rast.render(rig.K[v], rig.T_cam_world[v], verts, model.vertex_part)
            b = frame_levels(out.rgb, out.mask, frames[v, t], fg)
            for k in range(P):  # the whole mesh moved as part k
                moved = transform_points(poses[k], mesh.vertices)
                out = rast.render(rig.K[v], rig.T_cam_world[v], moved)
                inner = cv2.erode(out.mask.astype(np.uint8), kernel) > 0
                r = (grey(out.rgb) - b)[inner] / score_cfg.sigma_grey
                c = np.where(fg[inner], np.log1p(r * r), silhouette)
                _, idx = tree.query(out.rest_xyz[inner].astype(np.float64))
                face = pts_face[idx]
                cost[:, k] += np.bincount(face, c, minlength=F)
                count[:, k] += np.bincount(face, minlength=F)
    return cost, count


def pooled(values: np.ndarray, adjacency, rings: int) -> np.ndarray:
    """``values`` (F x P) summed over each face's ``rings`` rings of neighbours."""
    for _ in range(rings):
        values = adjacency @ values
    return values


def relabel_units(face_part: np.ndarray, component: np.ndarray) -> np.ndarray:
    """The unit every face is relabelled with: its welded component when the model gives
    that component one part (a rigid piece moves as one; relabelling part of it would
    stretch the faces between), else the face alone."""
    n = int(component.max()) + 1 if len(component) else 0
    lo = np.full(n, np.iinfo(np.int64).max)
    hi = np.full(n, -1)
    np.minimum.at(lo, component, face_part)
    np.maximum.at(hi, component, face_part)
    whole = lo[component] == hi[component]
    return np.where(whole, component, n + np.arange(len(face_part)))


def relabelled_faces(
    face_part: np.ndarray,
    unit: np.ndarray,
    cost: np.ndarray,
    count: np.ndarray,
    cfg: RelabelConfig,
) -> np.ndarray:
    """Every face's part after relabelling each unit from its costs and pixel counts."""
    _, unit = np.unique(unit, return_inverse=True)
    U, P = int(unit.max()) + 1, cost.shape[1]
    unit_cost, unit_count = np.zeros((U, P)), np.zeros((U, P))
    np.add.at(unit_cost, unit, cost)
    np.add.at(unit_count, unit, count)
    unit_part = np.zeros(U, np.int64)
    unit_part[unit] = face_part  # one part per unit, or a unit of one face
    seen = unit_count >= cfg.min_pixels
    mean = np.where(seen, unit_cost / np.maximum(unit_count, 1), np.inf)
    best = mean.argmin(1)
    rows = np.arange(U)
    own = mean[rows, unit_part]
    change = seen[rows, unit_part] & (mean[rows, best] < own - cfg.margin)
    return np.where(change, best, unit_part)[unit]


def relabel_parts(
    model: Model,
    mesh: SceneMesh,
    rig: CameraRig,
    frames: UInt8[np.ndarray, "V T H W 3"],
    rast,
    cfg: RelabelConfig,
    score_cfg: ScoreConfig,
) -> Model | None:
    """The model with its faces relabelled by motion, poses and joints held (None when no
    face changes or a part would be left without vertices)."""
    cost, count = face_costs(model, mesh, rig, frames, rast, cfg, score_cfg)
    adjacency = face_adjacency(weld(mesh.vertices, 1e-6 * mesh.bbox_diagonal()), mesh.faces)
    _, component = connected_components(adjacency, directed=False)
    unit = relabel_units(model.face_part, component)
    # faces judged alone pool their neighbours' pixels; a whole component sums its own
    adjacency.data[:] = 1.0
    alone = (unit >= component.max() + 1)[:, None]
    cost = np.where(alone, pooled(cost, adjacency, cfg.pool_rings), cost)
    count = np.where(alone, pooled(count, adjacency, cfg.pool_rings), count)
    face_part = relabelled_faces(model.face_part, unit, cost, count, cfg)
    if np.array_equal(face_part, model.face_part):
        return None
    P = len(model.parents)
    vertex_part = vertex_labels(mesh.faces, face_part, mesh.num_vertices, P)
    if np.bincount(vertex_part, minlength=P).min() == 0:
        return None
    return replace(model, vertex_part=vertex_part, face_part=face_part)
