"""Track observations as the part search uses them: flattened entries, robust poses, confidence."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from partdrag4d.containers import (
    CameraRig,
    Tracks,
)
from partdrag4d.errors import InputError
from partdrag4d.geometry.camera import pinhole
from partdrag4d.geometry.se3 import invert_T, kabsch, transform_points
from partdrag4d.reconstruct.articulate_config import ArticulateConfig
from partdrag4d.reconstruct.pose import masked_rms, refine_pose


def check_inputs(tracks: Tracks, cameras: CameraRig) -> None:
    T, N = tracks.visible.shape
    if N == 0 or T == 0:
        raise InputError("Tracks", "uv", "no tracks")
    if tracks.view.max() >= cameras.num_views or tracks.view.min() < 0:
        raise InputError("Tracks", "view", f"view index outside the {cameras.num_views} cameras")
    if tracks.point.min() < 0:
        raise InputError("Tracks", "point", "negative point id")
    if not (np.all(np.isfinite(cameras.K)) and np.all(np.isfinite(cameras.T_cam_world))):
        raise InputError("CameraRig", "K/T_cam_world", "contains NaN/inf")


@dataclass
class Observations:
    """Flattened observations of the track entries (internal working set)."""

    X: np.ndarray  # N 3 rest anchor of each entry
    group: np.ndarray  # N surface-point index
    view: np.ndarray  # N
    uv: np.ndarray  # T N 2
    vis: np.ndarray  # T N
    anchors: np.ndarray  # G 3
    traj: np.ndarray  # T G 3 triangulated trajectory (NaN unknown)
    K: np.ndarray
    Tcw: np.ndarray
    normals: np.ndarray | None = None  # G 3 rest surface normal at each anchor

    def facing(self, model: np.ndarray, entries: np.ndarray, min_cos: float) -> np.ndarray:
        """(T, n) mask: under ``model`` (see :meth:`reproject`) each entry's surface
        meets its camera's ray at |cos| >= ``min_cos`` (not grazing). All true without
        normals or with ``min_cos`` 0."""
        out = np.ones((model.shape[-3], len(entries)), bool)
        if self.normals is None or min_cos <= 0:
            return out
        view, centres = self.view[entries], invert_T(self.Tcw)[:, :3, 3]
        for v in np.unique(view):
            m = view == v
            M = model if model.ndim == 3 else model[v]  # T 4 4
            ray = transform_points(M, self.X[entries[m]]) - centres[v]
            n = self.normals[self.group[entries[m]]] @ M[:, :3, :3].swapaxes(-1, -2)
            cos_ray = np.abs(np.sum(n * ray, -1))  # |cos| times the ray's length
            out[:, m] = cos_ray >= min_cos * np.linalg.norm(ray, axis=-1)
        return out

    def reproject(self, model: np.ndarray, entries: np.ndarray) -> np.ndarray:
        """Pixels (T, n, 2) of the entries' rest anchors moved by ``model``: poses shared
        by all views (T, 4, 4) or per view (V, T, 4, 4); NaN behind a camera."""
        X, view = self.X[entries], self.view[entries]
        T = model.shape[-3]
        xy, z = np.empty((T, len(X), 2)), np.empty((T, len(X)))
        for v in np.unique(view):
            # One camera-from-rest transform per frame: a dense product per view.
            m = view == v
            Xc = transform_points(self.Tcw[v] @ (model if model.ndim == 3 else model[v]), X[m])
            xy[:, m], z[:, m] = pinhole(self.K[v], Xc), Xc[..., 2]
        return np.where((z > 1e-9)[..., None], xy, np.nan)

    def entry_rms(self, model: np.ndarray, entries: np.ndarray) -> np.ndarray:
        """RMS reprojection error over visible frames of each entry under ``model``
        (see :meth:`reproject`)."""
        e = np.linalg.norm(self.reproject(model, entries) - self.uv[:, entries], axis=-1)
        return masked_rms(np.nan_to_num(e, nan=np.inf), self.vis[:, entries], axis=0)

    def group_rms(self, model: np.ndarray, groups_mask: np.ndarray) -> np.ndarray:
        """Mean over a group's entries of their RMS error (NaN for groups not in mask)."""
        entries = np.nonzero(groups_mask[self.group])[0]
        r = np.nan_to_num(self.entry_rms(model, entries), nan=1e6)
        G = len(self.anchors)
        s = np.bincount(self.group[entries], r, minlength=G)
        c = np.bincount(self.group[entries], minlength=G)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = s / c
        out[~groups_mask] = np.nan
        return out


def make_observations(tracks: Tracks, cameras: CameraRig) -> Observations:
    _, first, group = np.unique(tracks.point, return_index=True, return_inverse=True)
    # Points in the lexicographic order of their rest positions, so the result does not
    # depend on how `track` numbered them.
    order = np.lexsort(tracks.anchors_3d[first].T[::-1])
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    first = first[order]
    return Observations(
        X=tracks.anchors_3d.astype(np.float64),
        group=rank[group.reshape(-1)],
        view=tracks.view,
        uv=tracks.uv.astype(np.float64),
        vis=tracks.visible,
        anchors=tracks.anchors_3d[first].astype(np.float64),
        traj=tracks.points_3d[:, first].astype(np.float64),
        K=cameras.K.astype(np.float64),
        Tcw=cameras.T_cam_world.astype(np.float64),
    )


def subset(groups: np.ndarray, n: int) -> np.ndarray:
    """At most ``n`` evenly spaced entries of ``groups`` (deterministic, no generator)."""
    if len(groups) <= n:
        return groups
    return groups[np.linspace(0, len(groups) - 1, n).round().astype(int)]


def fit_poses(
    obs: Observations, groups: np.ndarray, T_init: np.ndarray, cfg: ArticulateConfig
) -> np.ndarray:
    """Per-frame robust multi-view pose of the rigid body made of ``groups`` (frame 0 is
    the rest state, identity)."""
    T = len(T_init)
    out = T_init.copy()
    out[0] = np.eye(4)
    entries = np.nonzero(np.isin(obs.group, subset(groups, cfg.proposals.max_fit_points)))[0]
    for t in range(1, T):
        ok = obs.vis[t, entries]
        if ok.sum() < 3:
            continue
        e = entries[ok]
        # Kabsch on triangulated points gives a good start when enough are known.
        known = np.isfinite(obs.traj[t, groups, 0])
        init = T_init[t]
        if known.sum() >= 3:
            init = kabsch(obs.anchors[groups[known]], obs.traj[t, groups[known]])
        out[t] = refine_pose(
            init, obs.X[e], obs.uv[t, e], obs.view[e], obs.K, obs.Tcw, cfg.proposals.robust_scale_px
        )
    return out


def confident(err: np.ndarray, cfg: ArticulateConfig) -> np.ndarray:
    """(G,) points that clearly belong to their best model among the (G, M) ``err``
    columns: within twice the inlier threshold and ``ambiguity_margin_px`` better than
    the second best (any second model)."""
    best = np.sort(err, 1)
    second = best[:, 1] if err.shape[1] > 1 else np.full(len(err), np.inf)
    return (second - best[:, 0] >= cfg.proposals.ambiguity_margin_px) & (
        best[:, 0] < 2 * cfg.proposals.inlier_threshold_px
    )


def evidence(obs: Observations) -> np.ndarray:
    """Per surface point, the largest fraction of frames any of its tracks was seen in."""
    seen = np.zeros(len(obs.anchors))
    np.maximum.at(seen, obs.group, obs.vis.mean(0))
    return seen


def reliable_frames(obs: Observations, groups: np.ndarray, cfg: ArticulateConfig) -> np.ndarray:
    """Frames (T,) where enough of the part's tracks are seen (see ``min_frame_support``);
    once a frame fails, later frames fail too (tracks do not come back reliably)."""
    support = obs.vis[:, np.isin(obs.group, groups)].sum(1)
    ok = support >= max(20.0, cfg.tree.min_frame_support * support[0])
    ok[0] = True
    return np.cumprod(ok).astype(bool)


def relative_motion(
    T_parent: np.ndarray, T_child: np.ndarray, X: np.ndarray, frames: np.ndarray
) -> float:
    """How far (m) the points ``X`` move relative to another body: the largest over the
    ``frames`` mask of the median over points of their displacement in its frame."""
    if len(X) == 0 or not frames.any():
        return 0.0
    T_rel = invert_T(T_parent[frames]) @ T_child[frames]
    d = np.linalg.norm(transform_points(T_rel, X) - X, axis=-1)  # T N
    return float(np.max(np.median(d, axis=1)))
