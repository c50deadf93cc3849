"""Part proposals from tracks: sequential RANSAC over rigid motions, growing and splitting."""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np
from scipy.spatial import KDTree

from partdrag4d.geometry.se3 import invert_T, kabsch, scale_motion, transform_points
from partdrag4d.reconstruct.articulate_config import ArticulateConfig
from partdrag4d.reconstruct.joints import (
    screw_axis_distance,
)
from partdrag4d.reconstruct.observations import Observations, evidence, fit_poses, subset
from partdrag4d.reconstruct.pose import (
    reprojection_errors,
)


def ransac_part(
    obs: Observations, remaining: np.ndarray, cfg: ArticulateConfig, rng: np.random.Generator
) -> Part | None:
    """Largest group of remaining points consistent with one rigid motion, or None.

    Hypotheses come from triangulated trajectories and, when there are none or
    ``cfg.proposals.pnp_always``, from one-view patch poses; the best one is grown."""
    # Parts that turn away from every camera (a lid opening upwards) lose their tracks
    # part-way: a sample only needs trajectories over the first frames, and its pose is
    # held where they end (a joint value that stops changing is still a joint).
    finite = np.isfinite(obs.traj[..., 0])
    k = min(len(finite), max(2, cfg.proposals.min_track_frames))
    cand = np.nonzero(remaining & np.all(finite[:k], axis=0))[0]
    triangulated = len(cand) >= max(3, cfg.proposals.min_part_points)
    best = (0.0, None)
    if cfg.proposals.pnp_always or not triangulated:
        # No triangulation (one view, or views that never share a point), or views that
        # disagree: hypotheses from per-frame 2D-3D poses of local patches.
        best = pnp_hypothesis(obs, remaining, cfg, rng)
    if triangulated:
        # Ties keep the patch hypothesis (drawn first).
        tri = triangulated_hypothesis(obs, cand, remaining, cfg, rng)
        best = max(best, tri, key=lambda scored: scored[0])
    count, hypothesis = best
    if hypothesis is None or count < cfg.proposals.min_part_points:
        return None
    return grow_hypothesis(obs, *hypothesis, remaining, cfg)


def triangulated_hypothesis(
    obs: Observations,
    cand: np.ndarray,
    remaining: np.ndarray,
    cfg: ArticulateConfig,
    rng: np.random.Generator,
) -> tuple[float, tuple[np.ndarray, np.ndarray] | None]:
    """Best (score, (poses, per-view model)) of ``ransac_iterations`` hypotheses: the
    per-frame weighted Kabsch fit of ``ransac_sample`` nearby candidate points' (``cand``)
    triangulated trajectories."""
    T = obs.traj.shape[0]
    finite = np.isfinite(obs.traj[..., 0])
    tree = KDTree(obs.anchors[cand])
    k = min(cfg.proposals.ransac_neighbours, len(cand))
    diag = np.linalg.norm(np.ptp(obs.anchors, axis=0))
    hypotheses = []
    for _ in range(cfg.proposals.ransac_iterations):
        i = int(rng.integers(len(cand)))
        _, nb = tree.query(obs.anchors[cand[i]], k=k)
        nb = np.atleast_1d(nb)
        nb = nb[nb != i]
        m = min(len(nb), cfg.proposals.ransac_sample - 1)
        s = cand[np.r_[i, rng.choice(nb, m, replace=False)]]
        P = obs.anchors[s]
        if np.linalg.svd(P - P.mean(0), compute_uv=False)[1] < 1e-2 * diag:
            continue  # degenerate (near-collinear) sample
        w = finite[:, s]  # T n
        known = w.sum(1) >= 3
        Ts = np.broadcast_to(np.eye(4), (T, 4, 4)).copy()
        Ts[known] = kabsch(
            np.broadcast_to(P, (int(known.sum()), *P.shape)),
            np.nan_to_num(obs.traj[known][:, s]),
            w[known].astype(float),
        )
        Ts[0] = np.eye(4)
        for t in range(1, T):
            if not known[t]:
                Ts[t] = Ts[t - 1]
        if screw_axis_distance(Ts, P.mean(0)) > cfg.joint.far_axis * diag:
            # No hinge that far: the sample slides (or straddles parts sliding by
            # different amounts, whose compromise rotation must not win).
            Ts[:, :3, :3] = np.eye(3)
            d = np.nan_to_num(obs.traj[known][:, s] - P) * w[known][..., None]
            Ts[known, :3, 3] = d.sum(1) / w[known].sum(1)[:, None]
            Ts[0] = np.eye(4)
            for t in range(1, T):
                if not known[t]:
                    Ts[t] = Ts[t - 1]
        hypotheses.append((Ts, s))
    return best_hypothesis(obs, hypotheses, remaining, cfg)


def best_hypothesis(
    obs: Observations,
    hypotheses: list[tuple[np.ndarray, np.ndarray]],
    remaining: np.ndarray,
    cfg: ArticulateConfig,
) -> tuple[float, tuple[np.ndarray, np.ndarray] | None]:
    """The best support and (shared poses, per-view model) among ``hypotheses`` of
    (shared poses, sample groups), the first of equals. Each view scales the motion to
    fit the sample's own tracks there (:func:`per_view_motion`); support is the
    evidence-weighted count of remaining points that model explains within
    ``inlier_threshold_px``.

    With more than ``ransac_preview_points`` remaining points, every hypothesis is
    first scored on that many evenly spaced ones, and only the ``ransac_finalists``
    best are scored on all of them (preemptive scoring)."""
    # A track seen in few frames fits any motion that is small there: weight each
    # surface point by the fraction of frames it was observed in (its evidence).
    seen = evidence(obs)

    def support(model: np.ndarray, points: np.ndarray) -> float:
        return float(np.sum(seen[obs.group_rms(model, points) < cfg.proposals.inlier_threshold_px]))

    models = [
        (Ts, per_view_motion(obs, Ts, sample, cfg, min_entries=2, steps=9))
        for Ts, sample in hypotheses
    ]
    order = np.arange(len(models))
    points = np.nonzero(remaining)[0]
    if (
        len(points) > cfg.proposals.ransac_preview_points
        and len(models) > cfg.proposals.ransac_finalists
    ):
        preview = np.zeros_like(remaining)
        preview[subset(points, cfg.proposals.ransac_preview_points)] = True
        rough = np.array([support(model, preview) for _, model in models])
        order = np.sort(np.argsort(-rough, kind="stable")[: cfg.proposals.ransac_finalists])
    best: tuple[float, tuple[np.ndarray, np.ndarray] | None] = (0.0, None)
    for i in order:
        count = support(models[i][1], remaining)
        if count > best[0]:
            best = (count, models[i])
    return best


def per_view_motion(
    obs: Observations,
    poses: np.ndarray,
    groups: np.ndarray,
    cfg: ArticulateConfig,
    min_entries: int = 4,
    steps: int = 33,
) -> np.ndarray:
    """The shared poses (T, 4, 4) as seen by each view (V, T, 4, 4).

    Generated views agree on *how* a part moves but not on *how far* or *when* (each
    view has its own amplitude and timing): in every view and frame the shared motion
    is scaled along its screw (:func:`scale_motion`, a joint value times ``s``) to best
    explain that view's tracks of the part's points ``groups`` (truncated quadratic
    cost, grid search with a parabolic refinement). Frames where the view sees fewer
    than ``min_entries`` of them take the view's median scale. ``steps`` grid points.
    """
    V, T = len(obs.K), len(poses)
    r = cfg.proposals.view_scale_range
    if r <= 0:
        return np.broadcast_to(poses, (V, T, 4, 4)).copy()
    grid = np.linspace(1.0 - r, 1.0 + r, steps)
    cand = scale_motion(
        np.broadcast_to(poses, (steps, T, 4, 4)), np.repeat(grid[:, None], T, axis=1)
    )
    entries = np.nonzero(np.isin(obs.group, subset(groups, 2 * cfg.proposals.max_fit_points)))[0]
    cap = (2.0 * cfg.proposals.inlier_threshold_px) ** 2
    # All views at once: per-entry errors, then summed per view (one-hot matrix).
    vis = obs.vis[:, entries]
    uv = np.broadcast_to(obs.uv[:, entries], (steps, T, len(entries), 2))
    err = reprojection_errors(cand, obs.X[entries], uv, obs.view[entries], obs.K, obs.Tcw)
    sq = np.where(vis, np.minimum(np.nan_to_num(err, posinf=1e6) ** 2, cap), 0.0)
    one_hot = (obs.view[entries][:, None] == np.arange(V)).astype(float)  # n V
    cost = sq @ one_hot  # S T V
    ok = vis.astype(float) @ one_hot >= min_entries  # T V
    ok[0] = False
    k = np.clip(cost.argmin(0), 1, steps - 2)[None]  # 1 T V
    c0, c1, c2 = (np.take_along_axis(cost, k + d, 0)[0] for d in (-1, 0, 1))
    curv = c0 - 2.0 * c1 + c2
    step = np.where(curv > 1e-12, 0.5 * (c0 - c2) / np.maximum(curv, 1e-12), 0.0)
    s_tv = grid[k[0]] + np.clip(step, -1.0, 1.0) * (grid[1] - grid[0])  # T V
    scales = np.ones((V, T))
    for v in np.nonzero(ok.any(0))[0]:
        scales[v] = np.where(ok[:, v], s_tv[:, v], np.median(s_tv[ok[:, v], v]))
    scales[:, 0] = 1.0
    return scale_motion(np.broadcast_to(poses, (V, T, 4, 4)), scales)


@dataclass
class Part:
    """A rigid body found by the search: shared poses (T, 4, 4), the same motion as
    each view sees it (V, T, 4, 4), and its member surface points (G,) mask."""

    poses: np.ndarray
    seen: np.ndarray
    members: np.ndarray


def fitted_part(
    obs: Observations, poses: np.ndarray, members: np.ndarray, cfg: ArticulateConfig
) -> Part:
    """The part made of ``members`` (G,) mask: poses refitted from ``poses`` and the
    per-view model of them."""
    groups = np.nonzero(members)[0]
    poses = fit_poses(obs, groups, poses, cfg)
    return Part(poses, per_view_motion(obs, poses, groups, cfg), members)


def grow_hypothesis(
    obs: Observations,
    poses: np.ndarray,
    model: np.ndarray,
    remaining: np.ndarray,
    cfg: ArticulateConfig,
) -> Part | None:
    """Refit a RANSAC winner (shared poses and per-view ``model``) on its inliers until
    it stops growing (each view gets its own amplitude, :func:`per_view_motion`), or
    None when fewer than ``cfg.proposals.min_part_points`` points stay consistent with it."""
    count = 0
    for _ in range(cfg.proposals.grow_iterations):
        inliers = remaining & (obs.group_rms(model, remaining) < cfg.proposals.inlier_threshold_px)
        if inliers.sum() < cfg.proposals.min_part_points:
            return None
        if inliers.sum() <= 1.02 * count:
            break  # the part stopped growing
        count = inliers.sum()
        grown = fitted_part(obs, poses, inliers, cfg)
        poses, model = grown.poses, grown.seen
    inliers = remaining & (obs.group_rms(model, remaining) < cfg.proposals.inlier_threshold_px)
    if inliers.sum() < cfg.proposals.min_part_points:
        return None
    return Part(poses, model, inliers)


def patch_poses(obs: Observations, groups: np.ndarray) -> np.ndarray:
    """Per-frame poses (T, 4, 4) of a small patch of surface points from their 2D tracks
    in one view (the view that sees most of its entries; the rest anchors are known in
    3D, so this is PnP). Each frame starts from the previous pose; frames with fewer
    than 4 visible entries hold it."""
    T = obs.uv.shape[0]
    out = np.broadcast_to(np.eye(4), (T, 4, 4)).copy()
    entries = np.nonzero(np.isin(obs.group, groups))[0]
    if len(entries) == 0:
        return out
    v = int(np.bincount(obs.view[entries], obs.vis[:, entries].sum(0)).argmax())
    entries = entries[obs.view[entries] == v]
    Tcw = obs.Tcw[v]
    T_cam = Tcw.copy()  # camera <- object at rest (object pose = identity)
    rvec, _ = cv2.Rodrigues(T_cam[:3, :3])
    tvec = T_cam[:3, 3].copy()
    for t in range(1, T):
        out[t] = out[t - 1]
        e = entries[obs.vis[t, entries]]
        if len(e) < 4:
            continue
        ok, rvec, tvec = cv2.solvePnP(
            obs.X[e],
            obs.uv[t, e],
            obs.K[v],
            None,
            rvec.copy(),
            tvec.copy(),
            useExtrinsicGuess=True,
            flags=cv2.SOLVEPNP_ITERATIVE,
        )
        if not ok:
            continue
        T_cam = np.eye(4)
        T_cam[:3, :3] = cv2.Rodrigues(rvec)[0]
        T_cam[:3, 3] = tvec.ravel()
        out[t] = invert_T(Tcw) @ T_cam
    return out


def pnp_hypothesis(
    obs: Observations, remaining: np.ndarray, cfg: ArticulateConfig, rng: np.random.Generator
) -> tuple[float, tuple[np.ndarray, np.ndarray] | None]:
    """Best (score, (poses, per-view model)) of ``pnp_iterations`` hypotheses that need
    no triangulation: the per-frame pose of a patch of ``pnp_patch`` nearby remaining
    points fitted on their 2D tracks in one view (:func:`patch_poses`). Views that disagree on a
    motion's amplitude leave few trajectories triangulated; one view is consistent."""
    cand = np.nonzero(remaining & (evidence(obs) > 0))[0]
    if len(cand) < max(cfg.proposals.pnp_patch, cfg.proposals.min_part_points):
        return 0.0, None
    tree = KDTree(obs.anchors[cand])
    diag = np.linalg.norm(np.ptp(obs.anchors, axis=0))
    hypotheses = []
    for _ in range(cfg.proposals.pnp_iterations):
        i = int(rng.integers(len(cand)))
        _, nb = tree.query(obs.anchors[cand[i]], k=cfg.proposals.pnp_patch)
        patch = cand[np.atleast_1d(nb)]
        Ts = patch_poses(obs, patch)
        P = obs.anchors[patch]
        if screw_axis_distance(Ts, P.mean(0)) > cfg.joint.far_axis * diag:
            # A small patch's rotation is noisy; a far axis means it slides.
            Ts[:, :3, 3] = transform_points(Ts, P).mean(1) - P.mean(0)
            Ts[:, :3, :3] = np.eye(3)
        hypotheses.append((Ts, patch))
    return best_hypothesis(obs, hypotheses, remaining, cfg)


def split_part(
    obs: Observations,
    part: Part,
    min_points: int,
    cfg: ArticulateConfig,
    rng: np.random.Generator,
    depth: int = 2,
) -> list[Part]:
    """The part as one or two rigid bodies.

    A RANSAC inside the part with a threshold tied to the part's own median error looks
    for a sub-body; the rest gets its own fitted motion. The split is kept when each
    point's better motion lowers the median error by ``split_gain`` and both halves are
    large enough: a genuinely rigid part cannot gain that much from a second motion.
    """
    inliers = part.members
    m1 = float(np.nanmedian(obs.group_rms(part.seen, inliers)[inliers]))
    threshold = max(cfg.proposals.split_min_px, 0.5 * m1)
    sub = replace(
        cfg,
        proposals=replace(cfg.proposals, inlier_threshold_px=threshold, min_part_points=min_points),
    )
    found = ransac_part(obs, inliers, sub, rng)
    if found is None:
        return [part]
    rest = inliers & ~found.members
    if rest.sum() < min_points:
        return [part]

    a, b = found, fitted_part(obs, part.poses, rest, cfg)
    ea, eb = obs.group_rms(a.seen, inliers), obs.group_rms(b.seen, inliers)
    in_a = inliers & (ea <= eb)
    in_b = inliers & ~in_a
    m2 = float(np.nanmedian(np.minimum(ea, eb)[inliers]))
    if m2 >= cfg.proposals.split_gain * m1 or in_a.sum() < min_points or in_b.sum() < min_points:
        return [part]
    a, b = fitted_part(obs, a.poses, in_a, cfg), fitted_part(obs, b.poses, in_b, cfg)
    if depth <= 0:
        return [a, b]
    return [
        *split_part(obs, a, min_points, cfg, rng, depth - 1),
        *split_part(obs, b, min_points, cfg, rng, depth - 1),
    ]
