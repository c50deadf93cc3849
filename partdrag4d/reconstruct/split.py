"""Splitting a part that is really two: the same criterion decides.

The proposals can merge neighbours that move differently (two doors of one cabinet
swinging at different rates, a drawer and the panel above it). Tracked as one part,
such a pair moves by a compromise that leaves residuals everywhere and nowhere large,
so discovery (which looks for motion the model leaves unexplained) does not see it.
Here the part itself is asked: objects are modelled from separate pieces, so the part's
welded components are candidates for a cut. Each component with enough tracked surface
points gets its own robust multi-view pose per frame from the point tracks (pieces with
too few points, such as handles, go with the nearest piece that has them; a small piece
cannot be registered by render-and-compare on its own: tried, its 6 degrees of freedom
are not constrained by a few pixels). Components whose motions agree are grouped by
average linkage on the distance between their motions; the dendrogram's top cuts are
the candidate two-way splits. The point tracks only group the pieces: each side of a
candidate is then tracked by render-and-compare (the leaving side as a new part hung
from the parent whose joint explains it best, the staying side tracked again with it;
:func:`.carve.with_part`), since poses from a few tracks of a plain piece are several
degrees and centimetres off (a plain drawer: 10 degrees, 4 % of the object's size),
enough to make a true split score worse than the merged part. Each candidate is scored;
the best is kept when it lowers the score, i.e. when the pixels it explains pay for the
joint it adds. Rounds repeat while one does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.sparse.csgraph import connected_components
from scipy.spatial import KDTree

from partdrag4d.containers import CameraRig, SceneMesh
from partdrag4d.reconstruct.carve import downsized, with_part
from partdrag4d.reconstruct.joints import JointSelectConfig
from partdrag4d.reconstruct.model import Model
from partdrag4d.reconstruct.model_score import Score
from partdrag4d.reconstruct.render_compare import RenderCompareConfig
from partdrag4d.reconstruct.segment import face_adjacency, weld


@dataclass
class SplitConfig:
    """Settings of part splitting."""

    enabled: bool = True
    """Try splitting every moving part made of several welded components."""
    max_components: int = 12
    """Components compared per part (the largest by area; smaller ones join the nearest
    of those)."""
    min_points: int = 12
    """Tracked surface points a component needs for a pose of its own."""
    candidates: int = 3
    """Two-way splits scored per part (the dendrogram's top cuts)."""
    max_splits: int = 6
    """Most splits kept."""
    motion_points: int = 200
    """Rest vertices per component compared between motions."""
    track_size: int = 256
    """Candidates are tracked at most this many pixels on the image's long side."""


def _even(X: np.ndarray, most: int) -> np.ndarray:
    return X[np.linspace(0, len(X) - 1, most).astype(int)] if len(X) > most else X


def part_components(
    model: Model, mesh: SceneMesh, part: int, rep: np.ndarray, most: int
) -> list[np.ndarray]:
    """Face masks of the welded components of ``part``, largest area first; beyond
    ``most`` components, each smaller one joins the nearest (by centroid) kept one."""
    faces = np.flatnonzero(model.face_part == part)
    if len(faces) < 2:
        return []
    F = mesh.faces
    ncomp, comp = connected_components(face_adjacency(rep, F[faces]), directed=False)
    if ncomp < 2:
        return []
    V = mesh.vertices
    area = 0.5 * np.linalg.norm(
        np.cross(V[F[faces, 1]] - V[F[faces, 0]], V[F[faces, 2]] - V[F[faces, 0]]), axis=1
    )
    comp_area = np.bincount(comp, area, minlength=ncomp)
    order = np.argsort(comp_area)[::-1]
    kept = order[:most]
    if ncomp > most:
        centre = np.stack([V[F[faces[comp == c]]].reshape(-1, 3).mean(0) for c in range(ncomp)])
        for c in order[most:]:
            comp[comp == c] = kept[np.argmin(np.linalg.norm(centre[kept] - centre[c], axis=1))]
    masks = []
    for c in kept:
        mask = np.zeros(len(F), bool)
        mask[faces[comp == c]] = True
        masks.append(mask)
    return masks


@dataclass(frozen=True)
class PointTracks:
    """The tracked surface points, as splitting needs them."""

    anchors: np.ndarray
    """Rest-state position (G, 3) of every tracked surface point."""
    poses: Callable[[np.ndarray, np.ndarray], np.ndarray]
    """``poses(points, T_init)``: the robust multi-view poses (T, 4, 4) of the rigid
    body made of those points (indices into ``anchors``), from a first guess."""


def component_poses(
    model: Model,
    part: int,
    comps: list[np.ndarray],
    mesh: SceneMesh,
    points: PointTracks,
    near: np.ndarray,
    min_points: int,
) -> tuple[list[np.ndarray], np.ndarray]:
    """The components regrouped so that each has ``min_points`` tracked points (the
    others join the nearest such one), and each one's poses (K, T, 4, 4) from its
    points' tracks. ``near``: the mesh vertex closest to every anchor."""
    owner = np.full(mesh.num_vertices, -1)
    for k, mask in enumerate(comps):
        owner[np.unique(mesh.faces[mask])] = k
    anchor_comp = owner[near]
    counts = np.bincount(anchor_comp[anchor_comp >= 0], minlength=len(comps))
    big = [k for k in range(len(comps)) if counts[k] >= min_points]
    if len(big) < 2:
        return [], np.zeros((0,))
    centre = np.stack([mesh.vertices[np.unique(mesh.faces[m])].mean(0) for m in comps])
    grouped = [comps[k].copy() for k in big]
    for k in range(len(comps)):
        if k not in big:
            nearest = int(np.argmin(np.linalg.norm(centre[big] - centre[k], axis=1)))
            grouped[nearest] |= comps[k]
    poses = np.stack(
        [points.poses(np.flatnonzero(anchor_comp == k), model.T_world[:, part]) for k in big]
    )
    return grouped, poses


def motion_distance(poses: np.ndarray, points: list[np.ndarray], diag: float) -> np.ndarray:
    """Condensed distances between the components' motions: the RMS (over frames and
    the two components' points) of the gap between moving the points one way and the
    other, as a fraction of ``diag``."""
    K = len(poses)
    out = []
    for i in range(K):
        for j in range(i + 1, K):
            X = np.concatenate([points[i], points[j]])
            a = X @ np.swapaxes(poses[i, :, :3, :3], -1, -2) + poses[i, :, None, :3, 3]
            b = X @ np.swapaxes(poses[j, :, :3, :3], -1, -2) + poses[j, :, None, :3, 3]
            out.append(np.sqrt(np.mean(np.sum((a - b) ** 2, axis=-1))) / diag)
    return np.asarray(out)


def split_candidates(distances: np.ndarray, K: int, most: int) -> list[np.ndarray]:
    """Up to ``most`` two-way splits (boolean over components: the group that leaves),
    from the top cuts of the average-linkage dendrogram."""
    Z = linkage(distances, method="average")
    seen, out = set(), []
    for n in range(2, K + 1):
        labels = fcluster(Z, n, criterion="maxclust")
        for c in np.unique(labels):
            group = labels == c
            key = min(group.tobytes(), (~group).tobytes())
            if key not in seen and 0 < group.sum() < K:
                seen.add(key)
                out.append(group)
        if len(out) >= most:
            break
    return out[:most]


def split_parts(
    model: Model,
    model_score: Score,
    mesh: SceneMesh,
    rig: CameraRig,
    frames: np.ndarray,
    score: Callable[[Model, str], Score],
    points: PointTracks | None,
    cfg: SplitConfig,
    track_cfg: RenderCompareConfig,
    max_points: int,
    joint_cfg: JointSelectConfig,
) -> tuple[Model, Score]:
    """Split parts while a split lowers the score (module docstring).

    Args:
        model: the current best model and ``model_score`` its score.
        mesh: the rest mesh; ``rig`` the cameras; ``frames`` the videos.
        score: ``score(model, what)`` (the caller logs every score).
        points: the tracked surface points (None: nothing is split).
        cfg: splitting settings.
        track_cfg: render-and-compare tracking (candidates use at most two rounds).
        max_points: rest vertices per joint fit.
        joint_cfg: joint-type selection.

    Returns:
        (model, score) after splitting.
    """
    if not cfg.enabled or points is None or len(points.anchors) == 0:
        return model, model_score
    diag = mesh.bbox_diagonal()
    rep = weld(mesh.vertices, 1e-6 * diag)
    near = np.asarray(KDTree(mesh.vertices).query(points.anchors)[1])
    track_cfg = replace(track_cfg, iterations=min(track_cfg.iterations, 2))
    small_rig, small_frames = downsized(rig, frames, cfg.track_size)
    tried: set[bytes] = set()  # parts (as vertex sets) whose splits did not pay
    for _ in range(cfg.max_splits):
        trials = []
        for part in range(1, len(model.parents)):
            key = np.flatnonzero(model.vertex_part == part).tobytes()
            comps = (
                [] if key in tried else part_components(model, mesh, part, rep, cfg.max_components)
            )
            tried.add(key)
            if len(comps) >= 2:
                comps, poses = component_poses(
                    model, part, comps, mesh, points, near, cfg.min_points
                )
            if len(comps) < 2:
                continue
            samples = [
                _even(mesh.vertices[np.unique(mesh.faces[c])], cfg.motion_points) for c in comps
            ]
            distances = motion_distance(poses, samples, diag)
            for leaving in split_candidates(distances, len(comps), cfg.candidates):
                mask = np.any([c for c, go in zip(comps, leaving, strict=True) if go], axis=0)
                trial = with_part(
                    model,
                    mask,
                    mesh,
                    small_rig,
                    small_frames,
                    diag,
                    track_cfg,
                    max_points,
                    joint_cfg,
                    retrack=True,
                )
                if trial is not None:
                    trials.append((trial, score(trial, f"split part_{part}")))
        best = min(trials, key=lambda c: c[1].total, default=None)
        if best is None or best[1].total >= model_score.total:
            break
        model, model_score = best
    return model, model_score
