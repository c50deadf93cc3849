"""New parts where the current model leaves the videos' motion unexplained.

Render the model at every frame and compare with the video frame: where the model is
right, the render and the frame agree; where a part moved that the model keeps still
(or moves wrongly), they do not. Two kinds of evidence, both read at the *render's*
pixels, whose rest-state surface point is known:

- **flow**: dense flow from the render to the frame, kept where it is consistent
  forwards and backwards and the render has texture, longer than ``residual_px``;
- **silhouette**: the render shows the object where the frame shows background (the
  surface moved away);
- **colour**: where the flow says nothing (plain or inconsistent pixels), the render's
  colour differs from the frame's by more than ``colour_residual`` after matching the
  levels (a plain part that moved shows what was behind it: this is what a plain lid
  gives, whose silhouette hardly changes).

Each face counts the render pixels that fall on it (mapped through points spread over
the surface) and how many of them moved unexplained. Faces where most did, grouped with
neighbours closer than ``link_radius``, are candidate parts, and so are the whole
welded components such a group lies on (what a proposal mislabelled moves with it) and
every welded component that moves unexplained as a whole; the ones with the most net
evidence (unexplained minus explained pixels) and the ones with the most unexplained
pixels are tried;
proposed parts lying wholly inside a candidate are its mislabelled pieces and give way.
A candidate is tracked by render-and-compare with the rest of the model held, hung from
the parent (the base or any part) relative to which a joint explains it best, and
scored; the best of a round's candidates is kept when the score drops (it explains more
pixels than its parameters cost), and rounds repeat while one is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import cv2
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import KDTree

from partdrag4d.containers import CameraRig, SceneMesh
from partdrag4d.reconstruct.carve import downsized, with_part
from partdrag4d.reconstruct.joints import JointSelectConfig
from partdrag4d.reconstruct.model import Model
from partdrag4d.reconstruct.model_score import Score
from partdrag4d.reconstruct.render_compare import (
    RenderCompareConfig,
    consistent_flow,
    match_levels,
    matched_gray,
    structure_tensor,
)
from partdrag4d.reconstruct.segment import face_adjacency, weld


@dataclass
class DiscoverConfig:
    """Settings of part discovery from the model's residuals."""

    enabled: bool = True
    """Look for parts the proposals missed."""
    max_new_parts: int = 6
    """Most parts added."""
    candidates_per_round: int = 3
    """Candidates tried per round, most net evidence first (each costs a tracking and a
    score); every unexplained region gives itself and its whole welded components."""
    candidates_by_amount: int = 2
    """Also tried: this many of the candidates with the most unexplained pixels. A whole
    piece moving a little unlike the part it was merged into (one of two drawers that
    slide the same way by different amounts) has many unexplained pixels but more
    explained ones, so it ranks low by net evidence."""
    residual_px: float = 1.5
    """A render pixel whose consistent flow to the frame is longer than this moved
    unexplained."""
    min_gradient: float = 3.0
    """Flow counts only where the render's gradient is at least this (grey levels per
    pixel, RMS over the structure tensor's window): flat pixels have no flow."""
    erode_px: int = 2
    """Render pixels this close to the silhouette are left out (mixed surfaces)."""
    fb_max_px: float = 1.0
    """Forward-backward flow consistency (pixels)."""
    colour_residual: float = 40.0
    """A plain pixel moved unexplained when the render's colour and the frame's (levels
    matched per channel, lightly blurred) are further apart than this (RGB distance,
    0-255 levels; pixel noise of 2 % gives about 12)."""
    background_threshold: int = 12
    """A frame pixel is background when its colour is within this of the border's."""
    surface_samples: int = 30000
    """Points spread over the mesh that map render pixels to faces."""
    min_seen: int = 3
    """A face needs at least this many observed pixels to vote."""
    min_ratio: float = 0.5
    """A face moves unexplained when at least this share of its pixels do."""
    link_radius: float = 0.02
    """Candidate faces closer than this (fraction of the bbox diagonal) are one candidate."""
    link_points: int = 4000
    """Most vertices linked by proximity (evenly spaced; the others join the nearest)."""
    min_evidence: int = 50
    """Smallest candidate: pixels (over all views and frames) moving unexplained."""
    track_size: int = 256
    """Candidates are tracked at most this many pixels on the image's long side (never
    enlarged): they only need to be good enough to be scored, at full size; a kept
    model is tracked again at full size. Much smaller loses plain parts (a plain lid
    opening 102 degrees, tracked at 128 px, spun away)."""


def surface_samples(mesh: SceneMesh, count: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` points spread over the mesh by area (fixed seed) and their faces."""
    V, F = mesh.vertices, mesh.faces
    area = 0.5 * np.linalg.norm(np.cross(V[F[:, 1]] - V[F[:, 0]], V[F[:, 2]] - V[F[:, 0]]), axis=1)
    rng = np.random.default_rng(0)
    face = rng.choice(len(F), count, p=area / area.sum()) if area.sum() > 0 else np.zeros(0, int)
    u, v = rng.random((2, len(face)))
    flip = u + v > 1
    u, v = np.where(flip, 1 - u, u), np.where(flip, 1 - v, v)
    a, b, c = V[F[face, 0]], V[F[face, 1]], V[F[face, 2]]
    pts = a + u[:, None] * (b - a) + v[:, None] * (c - a)
    # every face gets at least its centroid (small faces next to big ones)
    pts = np.concatenate([pts, V[F].mean(1)])
    return pts, np.concatenate([face, np.arange(len(F))])


def colour_off(
    render: np.ndarray, frame: np.ndarray, mask: np.ndarray, cfg: DiscoverConfig
) -> np.ndarray:
    """Pixels where the render's colour and the frame's differ by more than
    ``cfg.colour_residual`` (each frame channel's levels matched to the render's over
    ``mask``; both blurred by one pixel against noise)."""
    a = cv2.GaussianBlur(render.astype(np.float64), (0, 0), 1.0)
    b = cv2.GaussianBlur(frame.astype(np.float64), (0, 0), 1.0)
    b = np.stack([match_levels(a[..., c], b[..., c], mask) for c in range(3)], -1)
    return np.linalg.norm(a - b, axis=-1) > cfg.colour_residual


def motion_evidence(
    model: Model,
    mesh: SceneMesh,
    rig: CameraRig,
    frames: np.ndarray,
    rast,
    cfg: DiscoverConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """Per face: (times seen, times seen moving unexplained) over all views and frames
    after the rest, a render pixel counting for the face its rest point lies on (module
    docstring)."""
    from partdrag4d.assets.kinematics import move_vertices
    from partdrag4d.reconstruct.track import foreground

    pts, pts_face = surface_samples(mesh, cfg.surface_samples)
    tree = KDTree(pts)
    F = len(mesh.faces)
    seen, moved = np.zeros(F), np.zeros(F)
    kernel = np.ones((3, 3), np.uint8)
    h = model.hypothesis()
    for t in range(1, frames.shape[1]):
        for v in range(rig.num_views):
            verts = move_vertices(mesh.vertices, model.vertex_part, h.poses(v, t))
            out = rast.render(rig.K[v], rig.T_cam_world[v], verts, model.vertex_part)
            inner = cv2.erode(out.mask.astype(np.uint8), kernel, iterations=cfg.erode_px) > 0
            gone = inner & ~foreground(frames[v, t], cfg.background_threshold)
            a, b = matched_gray(out.rgb, frames[v, t], inner & ~gone)
            flow, ok = consistent_flow(a, b, cfg.fb_max_px)
            st = structure_tensor(a, 1.5)
            textured = np.trace(st, axis1=-2, axis2=-1) >= cfg.min_gradient**2
            valid = inner & ok & textured & ~gone
            fast = valid & (np.linalg.norm(flow, axis=-1) > cfg.residual_px)
            off = inner & ~valid & ~gone & colour_off(out.rgb, frames[v, t], inner, cfg)
            look = valid | gone | off
            _, idx = tree.query(out.rest_xyz[look].astype(np.float64))
            face = pts_face[idx]
            seen += np.bincount(face, minlength=F)
            moved += np.bincount(face, (fast | gone | off)[look].astype(np.float64), minlength=F)
    return seen, moved


def candidate_parts(
    mesh: SceneMesh, seen: np.ndarray, moved: np.ndarray, diag: float, cfg: DiscoverConfig
) -> list[np.ndarray]:
    """Face sets (boolean masks) of candidate parts, most net evidence first."""
    faces = mesh.faces
    F = len(faces)
    face_new = (seen >= cfg.min_seen) & (moved >= cfg.min_ratio * seen)
    rep = weld(mesh.vertices, 1e-6 * diag)
    ncomp, comp = connected_components(face_adjacency(rep, faces), directed=False)
    # a welded component that moves unexplained as a whole is new as a whole
    comp_seen = np.bincount(comp, seen, minlength=ncomp)
    comp_moved = np.bincount(comp, moved, minlength=ncomp)
    whole = (comp_seen >= cfg.min_seen) & (comp_moved >= cfg.min_ratio * comp_seen)
    face_new |= whole[comp]
    idx = np.nonzero(face_new)[0]
    if len(idx) == 0:
        return []
    # group the new faces: shared welded vertices or vertices closer than link_radius
    verts = np.unique(faces[idx])
    n = len(verts)
    # proximity links among at most link_points of them (dense meshes: memory), the
    # others joining the nearest of those
    keep = np.linspace(0, n - 1, min(n, cfg.link_points)).astype(int)
    tree = KDTree(mesh.vertices[verts[keep]])
    pairs = keep[tree.query_pairs(cfg.link_radius * diag, output_type="ndarray")]
    _, near = tree.query(mesh.vertices[verts])
    pairs = np.concatenate([pairs.reshape(-1, 2), np.stack([np.arange(n), keep[near]], 1)])
    link = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), (n, n))
    link = link + coo_matrix(
        (
            np.ones(2 * len(idx)),
            (
                np.searchsorted(verts, faces[idx][:, [0, 0]].ravel()),
                np.searchsorted(verts, faces[idx, 1:].ravel()),
            ),
        ),
        (n, n),
    )
    _, vgroup = connected_components(link, directed=False)
    group_of = np.full(mesh.num_vertices, -1)
    group_of[verts] = vgroup
    fgroup = group_of[faces[idx, 0]]
    masks = []
    for g in np.unique(fgroup):
        mask = np.zeros(F, bool)
        mask[idx[fgroup == g]] = True
        # also the whole welded components it lies on (what a proposal mislabelled
        # moves with it), unless that is the whole object
        grown = np.isin(comp, comp[mask])
        masks += [mask] + ([grown] if mask.sum() < grown.sum() < F else [])
    # and every welded piece that moves unexplained as a whole, on its own (a lid
    # touching the body it opens from is linked to it by proximity above)
    masks += [comp == c for c in np.nonzero(whole)[0]]
    return ranked(masks, seen, moved, cfg)


def ranked(
    masks: list[np.ndarray], seen: np.ndarray, moved: np.ndarray, cfg: DiscoverConfig
) -> list[np.ndarray]:
    """The distinct face masks with at least ``min_evidence`` unexplained pixels to try:
    the ``candidates_per_round`` with the most net evidence (unexplained minus explained
    pixels: a candidate that takes in parts the model explains ranks below the region
    itself), then the ``candidates_by_amount`` with the most unexplained pixels."""
    out, net, amount = {}, {}, {}
    for mask in masks:
        key = mask.tobytes()
        if key in out or moved[mask].sum() < cfg.min_evidence or mask.all():
            continue
        out[key], amount[key] = mask, moved[mask].sum()
        net[key] = 2 * amount[key] - seen[mask].sum()
    keys = sorted(out, key=lambda k: -net[k])[: cfg.candidates_per_round]
    more = [k for k in sorted(out, key=lambda k: -amount[k]) if k not in keys]
    return [out[k] for k in keys + more[: cfg.candidates_by_amount]]


def discover_parts(
    model: Model,
    model_score: Score,
    mesh: SceneMesh,
    rig: CameraRig,
    frames: np.ndarray,
    rast,
    score: Callable[[Model, str], Score],
    cfg: DiscoverConfig,
    track_cfg: RenderCompareConfig,
    max_points: int,
    joint_cfg: JointSelectConfig,
) -> tuple[Model, Score]:
    """Add parts while one lowers the score (module docstring).

    Args:
        model: the current best model and ``model_score`` its score.
        mesh: the rest mesh; ``rig`` the cameras; ``frames`` the videos.
        rast: a rasteriser of ``mesh`` at the rig's size.
        score: ``score(model, what)`` (the caller logs every score).
        cfg: discovery settings.
        track_cfg: render-and-compare tracking (candidates use at most two rounds).
        max_points: rest vertices per joint fit.
        joint_cfg: joint-type selection.

    Returns:
        (model, score) after discovery.
    """
    if not cfg.enabled:
        return model, model_score
    diag = mesh.bbox_diagonal()
    # candidates only need to be good enough to be scored: two rounds per frame, at
    # most track_size pixels
    track_cfg = replace(track_cfg, iterations=min(track_cfg.iterations, 2))
    small_rig, small_frames = downsized(rig, frames, cfg.track_size)
    added = 0
    while added < cfg.max_new_parts:
        seen, moved = motion_evidence(model, mesh, rig, frames, rast, cfg)
        trials = []
        for mask in candidate_parts(mesh, seen, moved, diag, cfg):
            trial = with_part(
                model, mask, mesh, small_rig, small_frames, diag, track_cfg, max_points, joint_cfg
            )
            if trial is not None:
                trials.append((trial, score(trial, f"add part_{len(trial.parents) - 1}")))
        best = min(trials, key=lambda c: c[1].total, default=None)
        if best is None or best[1].total >= model_score.total:
            break
        (model, model_score), added = best, added + 1
    return model, model_score
