"""The ``articulate`` stage: rigid parts, their per-frame poses, joints and the tree.

Input is only what a user has: tracks (from the videos), cameras, drags and the rest
mesh (the honesty rule). Steps:

1. Static model first: surface points whose reprojection stays put are the base.
2. Sequential RANSAC on the remaining (moving) points. A hypothesis is either the
   per-frame Kabsch fit of a few nearby triangulated trajectories or the per-frame PnP
   pose of a small patch tracked in one view (the only consistent source when views
   disagree on how far a part moved, which leaves later frames untriangulated). Each
   view sees a hypothesis's motion scaled along its screw by its own factor per frame
   (generated views disagree on amplitude and timing, not on the axis); it is scored
   by the 2D reprojection of every remaining track in its own view. The largest
   consistent group becomes a part; its poses are refitted on its inliers until it
   stops growing. A hypothesis rotating about an axis far from the object is replaced
   by a slide, and a found part is split in two when two motions explain it much
   better (drawers sliding by different amounts otherwise fit one rotation about a far
   axis).
3. Every point is reassigned to the model (base or part) that explains it best;
   ambiguous points (e.g. on a hinge line) do not vote. Parts another model explains
   (also: explains where the part faces the cameras, since tracks on a surface seen
   edge-on slide coherently enough to look like a motion of their own), parts that
   hardly move relative to a bigger part or the base (fragments made of
   tracks drifting on a surface turning away) and parts that own no face of the mesh
   are merged away.
4. Per moving part: the parent is the base when a simple joint explains the part's
   motion, otherwise the moving part relative to which it does (nested chains);
   joint type by model selection; then axis, pivot and per-frame values are refitted
   jointly on reprojection error over all views and frames. Only frames where enough
   of the part's tracks survive are trusted; later frames (a door that turned its
   tracked face away) take their values from the requested drags on the part.
5. Vertex/face labels by propagation over the mesh (:mod:`.segment`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import cv2
import numpy as np
from jaxtyping import Bool, Float
from scipy.optimize import least_squares
from scipy.spatial import cKDTree

from partdrag4d.containers import (
    Articulation,
    CameraRig,
    DragSet,
    Joint,
    JointType,
    SceneMesh,
    Tracks,
)
from partdrag4d.errors import InputError
from partdrag4d.reconstruct.joints import (
    JointFit,
    JointSelectConfig,
    joint_transforms,
    screw_axis_distance,
    select_joint,
)
from partdrag4d.reconstruct.lines import closest_point_on_line
from partdrag4d.reconstruct.pose import (
    masked_rms,
    pinhole,
    project,
    refine_pose,
    reprojection_errors,
)
from partdrag4d.reconstruct.se3 import invert_T, kabsch, scale_motion, transform_points
from partdrag4d.reconstruct.segment import (
    SegmentConfig,
    anchor_normals,
    label_faces,
    vertex_labels,
)


@dataclass
class ArticulateConfig:
    """Settings of the articulate stage (pixel thresholds at the video resolution)."""

    static_threshold_px: float = 1.0
    """Points whose reprojection moves less than this (max over frames) may be static."""
    inlier_threshold_px: float = 1.5
    """RMS reprojection error below which a point is explained by a rigid motion."""
    ransac_iterations: int = 200
    """Hypotheses per part."""
    ransac_preview_points: int = 400
    """Hypotheses are first scored on at most this many of the remaining points (evenly
    spaced); only the ``ransac_finalists`` best are scored on all of them (speed)."""
    ransac_finalists: int = 8
    """Hypotheses scored on all remaining points after the preview."""
    ransac_neighbours: int = 30
    """Samples are drawn among this many nearest moving points (locality)."""
    ransac_sample: int = 3
    """Surface points per hypothesis (their triangulated trajectories give its poses by
    Kabsch; more than 3 average out triangulation noise)."""
    min_part_points: int = 12
    """Smallest number of surface points that makes a part."""
    max_parts: int = 8
    """Most moving parts searched for."""
    ambiguity_margin_px: float = 0.3
    """Points whose best two models differ by less than this do not label the mesh."""
    robust_scale_px: float = 1.0
    """Inlier scale of the robust losses (pixels)."""
    parent_tolerance: float = 0.003
    """A joint relative to the base whose residual is below this (fraction of the bbox
    diagonal) makes the base the parent; otherwise the best moving part may be."""
    hinge_gap: float = 0.1
    """A hinge relative to the base whose axis passes farther than this (fraction of
    the bbox diagonal) from the part or the base lets a moving part be the parent."""
    merge_threshold_px: float = 1.5
    """A part is merged away when another model explains at least half of its points
    with an RMS error below this (removes near-duplicate parts made of tracking noise)."""
    min_joint_motion: float = 0.02
    """A part whose points move less than this (fraction of the bbox diagonal, median
    over points, max over frames) relative to a bigger part or the base is a fragment of
    it (tracks drifting on a surface turning away) and is merged into it."""
    min_joint_travel: float = 0.03
    """A part whose fitted joint moves its points less than this (fraction of the bbox
    diagonal, median over points, max over frames) relative to its parent is folded
    into the others (its points go to the part whose motion explains them best). Larger
    than ``min_joint_motion``, which compares noisier free poses: 0.03 there merged a
    lamp's upper arm into its lower arm on degraded video."""
    min_part_fraction: float = 0.04
    """Smallest part as a fraction of the moving points (with ``min_part_points``)."""
    min_track_frames: int = 2
    """RANSAC samples need triangulated trajectories over at least this many first
    frames (the pose is held after a sample's tracks end)."""
    grow_iterations: int = 8
    """Most refit-and-grow rounds of a RANSAC winner (it stops once it grows < 2 %)."""
    max_fit_points: int = 300
    """Surface points used per pose/joint least-squares fit (random subset; speed)."""
    split_gain: float = 0.5
    """A found part is split in two when two rigid motions explain its points with a
    median reprojection error below this fraction of the single motion's (two drawers
    sliding by different amounts fit one rotation about a far axis to within a pixel)."""
    split_min_px: float = 0.2
    """Floor of the inlier threshold of the split search (pixels)."""
    min_frame_support: float = 0.05
    """A part's pose at a frame is trusted only when at least this fraction of its
    track entries seen at the rest frame (and at least 20) is seen there: a door that
    turns its tracked face away from every camera keeps only a few drifting tracks,
    whose pose would ruin the joint fit. Untrusted frames hold the last trusted value."""
    per_view_scale: bool = True
    """The joint refit gives every view its own motion amplitude (generated views
    disagree on it by several per cent); values are those of the views' mean."""
    min_trusted_fraction: float = 0.5
    """Below this fraction of trusted frames, a part's joint (type, axis, pivot) comes
    from the shape of its requested drag's path (see :func:`_joint_from_drag`)."""
    drag_curvature: float = 0.05
    """A drag path deviating from its chord by more than this fraction of the chord's
    length is curved (a hinge)."""
    pnp_patch: int = 12
    """Surface points per hypothesis when no trajectory is triangulated (one view)."""
    pnp_iterations: int = 40
    """Patch-PnP hypotheses per part (each costs T pose fits)."""
    pnp_always: bool = True
    """Draw patch-PnP hypotheses also when trajectories are triangulated (they are the
    only consistent ones when views disagree on how far a part moved)."""
    view_scale_range: float = 0.4
    """Part discovery lets every view see each motion scaled by up to this much (1 -/+
    range; generated views disagree on amplitude and timing); 0 = views agree."""
    drag_weight: int = 20
    """In the joint refit, each requested drag on a part counts as this many tracked
    points observing every frame (0: the tracks alone decide)."""
    min_view_cos: float = 0.3
    """A part is also merged away when another model explains at least half of its
    tracks over the frames where it shows them at |cos| >= this to the camera ray (not
    grazing: there flow slides along the foreshortened texture); 0 turns this off."""
    head_on_gain_px: float = 0.5
    """... and the part's own motion fits them less than this much better there (a door
    near its hinge moves a little while still facing the cameras)."""
    refine_joints: bool = True
    """Refit axis, pivot and values jointly on reprojection error."""
    relabel_by_joints: bool = True
    """After the joint refit, relabel the points by the joints' motions and refit once
    when labels change (with ``refine_joints``)."""
    joint: JointSelectConfig = field(default_factory=JointSelectConfig)
    """Joint-type model selection."""
    segment: SegmentConfig = field(default_factory=SegmentConfig)
    """Mesh labelling."""


def _check(tracks: Tracks, cameras: CameraRig) -> None:
    T, N = tracks.visible.shape
    if N == 0 or T == 0:
        raise InputError("Tracks", "uv", "no tracks")
    if tracks.view.max() >= cameras.num_views or tracks.view.min() < 0:
        raise InputError("Tracks", "view", f"view index outside the {cameras.num_views} cameras")
    if not (np.all(np.isfinite(cameras.K)) and np.all(np.isfinite(cameras.T_cam_world))):
        raise InputError("CameraRig", "K/T_cam_world", "contains NaN/inf")


@dataclass
class _Obs:
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


def _make_obs(tracks: Tracks, cameras: CameraRig) -> _Obs:
    anchors, first, group = np.unique(
        tracks.anchors_3d, axis=0, return_index=True, return_inverse=True
    )
    return _Obs(
        X=tracks.anchors_3d.astype(np.float64),
        group=group.reshape(-1),
        view=tracks.view,
        uv=tracks.uv.astype(np.float64),
        vis=tracks.visible,
        anchors=anchors.astype(np.float64),
        traj=tracks.points_3d[:, first].astype(np.float64),
        K=cameras.K.astype(np.float64),
        Tcw=cameras.T_cam_world.astype(np.float64),
    )


def _subset(groups: np.ndarray, n: int) -> np.ndarray:
    """At most ``n`` evenly spaced entries of ``groups`` (deterministic, no generator)."""
    if len(groups) <= n:
        return groups
    return groups[np.linspace(0, len(groups) - 1, n).round().astype(int)]


def _fit_poses(
    obs: _Obs, groups: np.ndarray, T_init: np.ndarray, cfg: ArticulateConfig
) -> np.ndarray:
    """Per-frame robust multi-view pose of the rigid body made of ``groups`` (frame 0 is
    the rest state, identity)."""
    T = len(T_init)
    out = T_init.copy()
    out[0] = np.eye(4)
    entries = np.nonzero(np.isin(obs.group, _subset(groups, cfg.max_fit_points)))[0]
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
            init, obs.X[e], obs.uv[t, e], obs.view[e], obs.K, obs.Tcw, cfg.robust_scale_px
        )
    return out


def _confident(err: np.ndarray, cfg: ArticulateConfig) -> np.ndarray:
    """(G,) points that clearly belong to their best model among the (G, M) ``err``
    columns: within twice the inlier threshold and ``ambiguity_margin_px`` better than
    the second best (any second model)."""
    best = np.sort(err, 1)
    second = best[:, 1] if err.shape[1] > 1 else np.full(len(err), np.inf)
    return (second - best[:, 0] >= cfg.ambiguity_margin_px) & (
        best[:, 0] < 2 * cfg.inlier_threshold_px
    )


def _evidence(obs: _Obs) -> np.ndarray:
    """Per surface point, the largest fraction of frames any of its tracks was seen in."""
    seen = np.zeros(len(obs.anchors))
    np.maximum.at(seen, obs.group, obs.vis.mean(0))
    return seen


def _model_overlap(
    obs: _Obs, models: list[np.ndarray], m: int, groups: np.ndarray, cfg: ArticulateConfig
) -> float:
    """Fraction of part ``m``'s points whose predicted image motion another model
    reproduces within ``merge_threshold_px`` (RMS over *all* frames, observed or not:
    briefly seen points must not make two different motions look alike)."""
    if len(groups) == 0:
        return 1.0
    entries = np.nonzero(np.isin(obs.group, _subset(groups, cfg.max_fit_points)))[0]
    xy_m = obs.reproject(models[m], entries)
    best = np.full(len(entries), np.inf)
    for o, model in enumerate(models):
        if o != m:
            e = np.linalg.norm(obs.reproject(model, entries) - xy_m, axis=-1)
            best = np.minimum(best, np.sqrt(np.mean(np.nan_to_num(e, nan=1e6) ** 2, 0)))
    return float(np.mean(best < cfg.merge_threshold_px))


def _head_on_overlap(
    obs: _Obs, models: list[np.ndarray], m: int, groups: np.ndarray, cfg: ArticulateConfig
) -> float:
    """Fraction of part ``m``'s track entries that another model reproduces within
    ``merge_threshold_px`` (RMS), and less than ``head_on_gain_px`` worse than part
    ``m``'s own, over the frames where part ``m`` shows them head-on (see
    :meth:`_Obs.facing`), among entries seen so in at least two frames after the rest.

    Tracks on a surface turning towards grazing slide along its foreshortened texture,
    coherently enough for a rigid motion of their own to explain them better than their
    part's; seen head-on, their part still explains them."""
    if cfg.min_view_cos <= 0:
        return 0.0
    entries = np.nonzero(np.isin(obs.group, _subset(groups, cfg.max_fit_points)))[0]
    seen = obs.vis[:, entries] & obs.facing(models[m], entries, cfg.min_view_cos)
    seen[0] = False
    informative = seen.sum(0) >= 2
    if not informative.any():
        return 0.0
    entries, seen = entries[informative], seen[:, informative]

    def rms(model: np.ndarray) -> np.ndarray:
        e = np.linalg.norm(obs.reproject(model, entries) - obs.uv[:, entries], axis=-1)
        return masked_rms(np.nan_to_num(e, nan=np.inf), seen, axis=0)

    best = np.min([rms(model) for o, model in enumerate(models) if o != m], axis=0)
    own = rms(models[m])
    return float(np.mean((best < cfg.merge_threshold_px) & (best - own < cfg.head_on_gain_px)))


def _ransac_part(
    obs: _Obs, remaining: np.ndarray, cfg: ArticulateConfig, rng: np.random.Generator
) -> _Part | None:
    """Largest group of remaining points consistent with one rigid motion, or None.

    Hypotheses come from triangulated trajectories and, when there are none or
    ``cfg.pnp_always``, from one-view patch poses; the best one is grown."""
    # Parts that turn away from every camera (a lid opening upwards) lose their tracks
    # part-way: a sample only needs trajectories over the first frames, and its pose is
    # held where they end (a joint value that stops changing is still a joint).
    finite = np.isfinite(obs.traj[..., 0])
    k = min(len(finite), max(2, cfg.min_track_frames))
    cand = np.nonzero(remaining & np.all(finite[:k], axis=0))[0]
    triangulated = len(cand) >= max(3, cfg.min_part_points)
    best = (0.0, None)
    if cfg.pnp_always or not triangulated:
        # No triangulation (one view, or views that never share a point), or views that
        # disagree: hypotheses from per-frame 2D-3D poses of local patches.
        best = _pnp_hypothesis(obs, remaining, cfg, rng)
    if triangulated:
        # Ties keep the patch hypothesis (drawn first).
        tri = _triangulated_hypothesis(obs, cand, remaining, cfg, rng)
        best = max(best, tri, key=lambda scored: scored[0])
    count, hypothesis = best
    if hypothesis is None or count < cfg.min_part_points:
        return None
    return _grow_hypothesis(obs, *hypothesis, remaining, cfg)


def _triangulated_hypothesis(
    obs: _Obs,
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
    tree = cKDTree(obs.anchors[cand])
    k = min(cfg.ransac_neighbours, len(cand))
    diag = np.linalg.norm(np.ptp(obs.anchors, axis=0))
    hypotheses = []
    for _ in range(cfg.ransac_iterations):
        i = int(rng.integers(len(cand)))
        _, nb = tree.query(obs.anchors[cand[i]], k=k)
        nb = np.atleast_1d(nb)
        nb = nb[nb != i]
        m = min(len(nb), cfg.ransac_sample - 1)
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
    return _best_hypothesis(obs, hypotheses, remaining, cfg)


def _best_hypothesis(
    obs: _Obs,
    hypotheses: list[tuple[np.ndarray, np.ndarray]],
    remaining: np.ndarray,
    cfg: ArticulateConfig,
) -> tuple[float, tuple[np.ndarray, np.ndarray] | None]:
    """The best support and (shared poses, per-view model) among ``hypotheses`` of
    (shared poses, sample groups), the first of equals. Each view scales the motion to
    fit the sample's own tracks there (:func:`_per_view_motion`); support is the
    evidence-weighted count of remaining points that model explains within
    ``inlier_threshold_px``.

    With more than ``ransac_preview_points`` remaining points, every hypothesis is
    first scored on that many evenly spaced ones, and only the ``ransac_finalists``
    best are scored on all of them (preemptive scoring)."""
    # A track seen in few frames fits any motion that is small there: weight each
    # surface point by the fraction of frames it was observed in (its evidence).
    seen = _evidence(obs)

    def support(model: np.ndarray, points: np.ndarray) -> float:
        return float(np.sum(seen[obs.group_rms(model, points) < cfg.inlier_threshold_px]))

    models = [
        (Ts, _per_view_motion(obs, Ts, sample, cfg, min_entries=2, steps=9))
        for Ts, sample in hypotheses
    ]
    order = np.arange(len(models))
    points = np.nonzero(remaining)[0]
    if len(points) > cfg.ransac_preview_points and len(models) > cfg.ransac_finalists:
        preview = np.zeros_like(remaining)
        preview[_subset(points, cfg.ransac_preview_points)] = True
        rough = np.array([support(model, preview) for _, model in models])
        order = np.sort(np.argsort(-rough, kind="stable")[: cfg.ransac_finalists])
    best: tuple[float, tuple[np.ndarray, np.ndarray] | None] = (0.0, None)
    for i in order:
        count = support(models[i][1], remaining)
        if count > best[0]:
            best = (count, models[i])
    return best


def _per_view_motion(
    obs: _Obs,
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
    r = cfg.view_scale_range
    if r <= 0:
        return np.broadcast_to(poses, (V, T, 4, 4)).copy()
    grid = np.linspace(1.0 - r, 1.0 + r, steps)
    cand = scale_motion(
        np.broadcast_to(poses, (steps, T, 4, 4)), np.repeat(grid[:, None], T, axis=1)
    )
    entries = np.nonzero(np.isin(obs.group, _subset(groups, 2 * cfg.max_fit_points)))[0]
    cap = (2.0 * cfg.inlier_threshold_px) ** 2
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
class _Part:
    """A rigid body found by the search: shared poses (T, 4, 4), the same motion as
    each view sees it (V, T, 4, 4), and its member surface points (G,) mask."""

    poses: np.ndarray
    seen: np.ndarray
    members: np.ndarray


def _fitted_part(obs: _Obs, poses: np.ndarray, members: np.ndarray, cfg: ArticulateConfig) -> _Part:
    """The part made of ``members`` (G,) mask: poses refitted from ``poses`` and the
    per-view model of them."""
    groups = np.nonzero(members)[0]
    poses = _fit_poses(obs, groups, poses, cfg)
    return _Part(poses, _per_view_motion(obs, poses, groups, cfg), members)


def _grow_hypothesis(
    obs: _Obs, poses: np.ndarray, model: np.ndarray, remaining: np.ndarray, cfg: ArticulateConfig
) -> _Part | None:
    """Refit a RANSAC winner (shared poses and per-view ``model``) on its inliers until
    it stops growing (each view gets its own amplitude, :func:`_per_view_motion`), or
    None when fewer than ``cfg.min_part_points`` points stay consistent with it."""
    count = 0
    for _ in range(cfg.grow_iterations):
        inliers = remaining & (obs.group_rms(model, remaining) < cfg.inlier_threshold_px)
        if inliers.sum() < cfg.min_part_points:
            return None
        if inliers.sum() <= 1.02 * count:
            break  # the part stopped growing
        count = inliers.sum()
        grown = _fitted_part(obs, poses, inliers, cfg)
        poses, model = grown.poses, grown.seen
    inliers = remaining & (obs.group_rms(model, remaining) < cfg.inlier_threshold_px)
    if inliers.sum() < cfg.min_part_points:
        return None
    return _Part(poses, model, inliers)


def _patch_poses(obs: _Obs, groups: np.ndarray) -> np.ndarray:
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


def _pnp_hypothesis(
    obs: _Obs, remaining: np.ndarray, cfg: ArticulateConfig, rng: np.random.Generator
) -> tuple[float, tuple[np.ndarray, np.ndarray] | None]:
    """Best (score, (poses, per-view model)) of ``pnp_iterations`` hypotheses that need
    no triangulation: the per-frame pose of a patch of ``pnp_patch`` nearby remaining
    points fitted on their 2D tracks in one view (:func:`_patch_poses`). Views that disagree on a
    motion's amplitude leave few trajectories triangulated; one view is consistent."""
    cand = np.nonzero(remaining & (_evidence(obs) > 0))[0]
    if len(cand) < max(cfg.pnp_patch, cfg.min_part_points):
        return 0.0, None
    tree = cKDTree(obs.anchors[cand])
    diag = np.linalg.norm(np.ptp(obs.anchors, axis=0))
    hypotheses = []
    for _ in range(cfg.pnp_iterations):
        i = int(rng.integers(len(cand)))
        _, nb = tree.query(obs.anchors[cand[i]], k=cfg.pnp_patch)
        patch = cand[np.atleast_1d(nb)]
        Ts = _patch_poses(obs, patch)
        P = obs.anchors[patch]
        if screw_axis_distance(Ts, P.mean(0)) > cfg.joint.far_axis * diag:
            # A small patch's rotation is noisy; a far axis means it slides.
            Ts[:, :3, 3] = transform_points(Ts, P).mean(1) - P.mean(0)
            Ts[:, :3, :3] = np.eye(3)
        hypotheses.append((Ts, patch))
    return _best_hypothesis(obs, hypotheses, remaining, cfg)


def _split_part(
    obs: _Obs,
    part: _Part,
    min_points: int,
    cfg: ArticulateConfig,
    rng: np.random.Generator,
    depth: int = 2,
) -> list[_Part]:
    """The part as one or two rigid bodies.

    A RANSAC inside the part with a threshold tied to the part's own median error looks
    for a sub-body; the rest gets its own fitted motion. The split is kept when each
    point's better motion lowers the median error by ``split_gain`` and both halves are
    large enough: a genuinely rigid part cannot gain that much from a second motion.
    """
    inliers = part.members
    m1 = float(np.nanmedian(obs.group_rms(part.seen, inliers)[inliers]))
    sub = replace(
        cfg, inlier_threshold_px=max(cfg.split_min_px, 0.5 * m1), min_part_points=min_points
    )
    found = _ransac_part(obs, inliers, sub, rng)
    if found is None:
        return [part]
    rest = inliers & ~found.members
    if rest.sum() < min_points:
        return [part]

    a, b = found, _fitted_part(obs, part.poses, rest, cfg)
    ea, eb = obs.group_rms(a.seen, inliers), obs.group_rms(b.seen, inliers)
    in_a = inliers & (ea <= eb)
    in_b = inliers & ~in_a
    m2 = float(np.nanmedian(np.minimum(ea, eb)[inliers]))
    if m2 >= cfg.split_gain * m1 or in_a.sum() < min_points or in_b.sum() < min_points:
        return [part]
    a, b = _fitted_part(obs, a.poses, in_a, cfg), _fitted_part(obs, b.poses, in_b, cfg)
    if depth <= 0:
        return [a, b]
    return [
        *_split_part(obs, a, min_points, cfg, rng, depth - 1),
        *_split_part(obs, b, min_points, cfg, rng, depth - 1),
    ]


def _relative_motion(
    T_parent: np.ndarray, T_child: np.ndarray, X: np.ndarray, frames: np.ndarray
) -> float:
    """How far (m) the points ``X`` move relative to another body: the largest over the
    ``frames`` mask of the median over points of their displacement in its frame."""
    if len(X) == 0 or not frames.any():
        return 0.0
    T_rel = invert_T(T_parent[frames]) @ T_child[frames]
    d = np.linalg.norm(transform_points(T_rel, X) - X, axis=-1)  # T N
    return float(np.max(np.median(d, axis=1)))


def _reliable_frames(obs: _Obs, groups: np.ndarray, cfg: ArticulateConfig) -> np.ndarray:
    """Frames (T,) where enough of the part's tracks are seen (see ``min_frame_support``);
    once a frame fails, later frames fail too (tracks do not come back reliably)."""
    support = obs.vis[:, np.isin(obs.group, groups)].sum(1)
    ok = support >= max(20.0, cfg.min_frame_support * support[0])
    ok[0] = True
    return np.cumprod(ok).astype(bool)


def _select(
    T_rel: np.ndarray, X: np.ndarray, ok: np.ndarray, diag: float, cfg: ArticulateConfig
) -> JointFit:
    """:func:`select_joint` on the trusted frames; the other frames hold the last
    trusted value."""
    fit = select_joint(T_rel[ok], X, diag, cfg.joint)
    idx = np.maximum.accumulate(np.where(ok, np.arange(len(ok)), 0))
    values = np.zeros(len(ok))
    values[ok] = fit.values
    return JointFit(fit.type, fit.axis, fit.origin, values[idx], fit.residual)


def _assign_drags(
    drags: DragSet,
    anchors: np.ndarray,
    point_part: np.ndarray,
    poses: list[np.ndarray],
    trusted: list[np.ndarray],
) -> np.ndarray:
    """Part index (D,) of each drag: the part of the labelled surface point nearest to
    its start, unless another part's tracked motion carries the start point along the
    requested path clearly better (a drag grabbing a lid's front edge starts nearer the
    box's front face, which does not move).

    The motion cost of part ``m`` is the mean distance (m) between the requested path
    and the start point moved by the part's poses, over the part's trusted frames.
    """
    if drags.num_drags == 0:
        return np.zeros(0, np.int64)
    labelled = np.nonzero(point_part >= 0)[0]
    _, nearest = cKDTree(anchors[labelled]).query(drags.points_3d[0])
    drag_part = point_part[labelled[nearest]].astype(np.int64)
    path = drags.points_3d  # T D 3
    cost = np.full((len(poses), path.shape[1]), np.inf)
    for m, (T_m, ok) in enumerate(zip(poses, trusted, strict=True)):
        if ok.sum() < 2:
            continue
        moved = (T_m[:, None, :3, :3] @ path[0][None, :, :, None])[..., 0] + T_m[:, None, :3, 3]
        cost[m] = np.linalg.norm(moved - path, axis=-1)[ok].mean(0)
    best = cost.argmin(0)
    cols = np.arange(path.shape[1])
    # A clear margin keeps the spatial choice where the motions hardly differ.
    switch = cost[best, cols] < 0.5 * cost[drag_part, cols]
    return np.where(switch, best, drag_part)


def _joint_from_drag(path: np.ndarray, diag: float, cfg: ArticulateConfig) -> JointFit | None:
    """A joint from one requested drag path (T, 3) in the parent frame: a curved path is
    a hinge (axis = normal of the path's plane, pivot = centre of its circle), a straight
    one a slide. None when the path is too short to tell."""
    d = path - path[0]
    length = float(np.linalg.norm(d[-1]))
    if length < cfg.joint.fixed_motion * diag:
        return None
    u = d[-1] / length
    off = d - np.outer(d @ u, u)
    if np.max(np.linalg.norm(off, axis=1)) < cfg.drag_curvature * length:
        values = d @ u
        return JointFit(JointType.PRISMATIC, u, path[0], values, 0.0)
    c = path.mean(0)
    _, _, Vt = np.linalg.svd(path - c, full_matrices=False)
    n = Vt[2]
    e1, e2 = Vt[0], Vt[1]
    # Circle through the in-plane points: |p - m|^2 = r^2 is linear in (m, r^2 - |m|^2).
    xy = np.c_[(path - c) @ e1, (path - c) @ e2]
    A = np.c_[2 * xy, np.ones(len(xy))]
    sol, *_ = np.linalg.lstsq(A, np.sum(xy**2, 1), rcond=None)
    o = c + sol[0] * e1 + sol[1] * e2
    r0, r = path[0] - o, path - o
    ang = np.arctan2(np.cross(r0, r) @ n, r @ r0)
    if ang[np.argmax(np.abs(ang))] < 0:
        n, ang = -n, -ang
    return JointFit(JointType.REVOLUTE, n, o, ang, 0.0)


def _drag_joint(
    T_world_parent: Float[np.ndarray, "T 4 4"],
    drag_tracks: Float[np.ndarray, "T D 3"],
    ok: Bool[np.ndarray, "T"],
    diag: float,
    cfg: ArticulateConfig,
) -> JointFit | None:
    """The joint given by a part's first requested drag when fewer than
    ``cfg.min_trusted_fraction`` of its frames were tracked, else None.

    Too little of the motion was tracked to tell a hinge from a slide, let alone to pin
    its axis: the drag's path in the parent frame does (its shape, not its exact
    amplitude; see :func:`_joint_from_drag`). Such a joint is not refitted on the few
    tracked frames.
    """
    if ok.mean() >= cfg.min_trusted_fraction or drag_tracks.shape[1] == 0:
        return None
    return _joint_from_drag(_drag_paths(T_world_parent, drag_tracks)[:, 0], diag, cfg)


def _drag_paths(
    T_world_parent: Float[np.ndarray, "T 4 4"], drag_tracks: Float[np.ndarray, "T D 3"]
) -> Float[np.ndarray, "T D 3"]:
    """Requested drag paths in the parent's frame (its pose at rest = world)."""
    T_inv = invert_T(T_world_parent)
    return np.einsum("tij,tdj->tdi", T_inv[:, :3, :3], drag_tracks) + T_inv[:, None, :3, 3]


def _drags_like(
    fit: JointFit,
    T_world_parent: Float[np.ndarray, "T 4 4"],
    drag_tracks: Float[np.ndarray, "T D 3"],
    diag: float,
    cfg: ArticulateConfig,
) -> Float[np.ndarray, "T K 3"]:
    """The drags whose path has the joint's shape (curved for a hinge, straight for a
    slide): a straight drag written by hand says where a door's edge should end up, not
    the arc it takes, and must not bend the hinge."""
    paths = _drag_paths(T_world_parent, drag_tracks)
    keep = []
    for d in range(paths.shape[1]):
        shape = _joint_from_drag(paths[:, d], diag, cfg)
        keep.append(shape is not None and shape.type is fit.type)
    return drag_tracks[:, np.array(keep, bool)]


def _values_from_drags(
    fit: JointFit,
    T_world_parent: np.ndarray,
    drag_tracks: np.ndarray,
    ok: np.ndarray,
) -> JointFit:
    """Joint values at untrusted frames (``~ok``) from the requested drags on the part.

    When the part's tracks are lost (a door turning its face away from every camera),
    the drags the user asked for are the only evidence left: the value at such a frame
    moves the drag's start point closest to its requested position (mean over drags).

    Args:
        fit: the joint fitted on the trusted frames.
        T_world_parent: parent poses (T, 4, 4).
        drag_tracks: requested world positions of the part's drags (T, D, 3), D >= 1.
        ok: trusted frames (T,).
    """
    if fit.type is JointType.FIXED or ok.all() or drag_tracks.shape[1] == 0:
        return fit
    values = fit.values.copy()
    a, o = fit.axis, fit.origin
    p0 = drag_tracks[0]  # D 3, at rest (parent frame = world at rest)
    for t in np.nonzero(~ok)[0]:
        q = transform_points(invert_T(T_world_parent[t]), drag_tracks[t])
        if fit.type is JointType.PRISMATIC:
            values[t] = float(np.mean((q - p0) @ a))
            continue
        u, v = p0 - o, q - o
        u, v = u - np.outer(u @ a, a), v - np.outer(v @ a, a)
        ang = np.arctan2(np.cross(u, v) @ a, np.sum(u * v, -1))
        good = (np.linalg.norm(u, axis=1) > 1e-6) & (np.linalg.norm(v, axis=1) > 1e-6)
        if good.any():
            values[t] = float(np.mean(ang[good]))
    return JointFit(fit.type, a, o, values, fit.residual)


def _tangent_basis(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h = np.array([1.0, 0.0, 0.0]) if abs(a[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e1 = np.cross(a, h)
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(a, e1)


class _FrameJacobian:
    """Forward-difference Jacobian of ``fun`` whose parameters are global (frame 0) or
    belong to one frame (``col_frame``) and move only that frame's residuals
    (``row_frame``): one evaluation per global parameter plus one for all per-frame
    ones (a joint's T values), instead of one per parameter. Call :attr:`fun` through
    it: the last value is reused as the base point."""

    def __init__(self, fun, col_frame: np.ndarray, row_frame: np.ndarray):
        self._fun, self.col_frame, self.row_frame = fun, col_frame, row_frame
        self._last: tuple[np.ndarray, np.ndarray] | None = None

    def fun(self, x: np.ndarray) -> np.ndarray:
        f = self._fun(x)
        self._last = (x.copy(), f)
        return f

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self._last is not None and np.array_equal(self._last[0], x):
            f0 = self._last[1]
        else:
            f0 = self._fun(x)
        h = np.sqrt(np.finfo(float).eps) * np.maximum(1.0, np.abs(x))
        J = np.empty((len(f0), len(x)))
        local = np.nonzero(self.col_frame > 0)[0]
        for j in np.nonzero(self.col_frame == 0)[0]:
            xj = x.copy()
            xj[j] += h[j]
            J[:, j] = (self._fun(xj) - f0) / h[j]
        if len(local):
            xl = x.copy()
            xl[local] += h[local]
            df = self._fun(xl) - f0
            mine = self.row_frame[:, None] == self.col_frame[local][None, :]
            J[:, local] = np.where(mine, df[:, None] / h[local], 0.0)
        return J


def refine_joint(
    fit: JointFit,
    T_world_parent: Float[np.ndarray, "T 4 4"],
    obs: _Obs,
    groups: np.ndarray,
    cfg: ArticulateConfig,
    frames: np.ndarray | None = None,
    drag_tracks: Float[np.ndarray, "T D 3"] | None = None,
) -> JointFit:
    """Jointly refit axis, pivot and all frame values (value at frame 0 fixed to 0) by
    robust least squares on the reprojection error of the part's tracks in all views
    (only the ``frames`` mask's frames observe; the others keep their values).

    The requested world paths of the part's drags (``drag_tracks``), when given, observe
    every frame too: each drag counts as ``cfg.drag_weight`` tracked points, its 3D
    error converted to pixels at the cameras' mean scale.
    """
    if fit.type is JointType.FIXED:
        return fit
    entries = np.nonzero(np.isin(obs.group, _subset(groups, cfg.max_fit_points)))[0]
    X, uv, vis, view = obs.X[entries], obs.uv[:, entries], obs.vis[:, entries], obs.view[entries]
    if frames is not None:
        vis = vis & frames[:, None]
    e1, e2 = _tangent_basis(fit.axis)
    revolute = fit.type is JointType.REVOLUTE
    c = X.mean(0)
    T = len(fit.values)
    views = np.unique(view)
    # Per-view amplitude (log scale, mean 0 over the views): generated views disagree on
    # how far a part moves, and one shared value per frame would bend the axis.
    nv = len(views) - 1 if cfg.per_view_scale and len(views) > 1 else 0
    in_view = [view == v for v in views]

    def unpack(p):
        a = fit.axis + p[0] * e1 + p[1] * e2
        a = a / np.linalg.norm(a)
        o = fit.origin + (p[2] * e1 + p[3] * e2 if revolute else 0.0)
        q = np.r_[0.0, p[4 : 3 + T]]
        logs = np.r_[-np.sum(p[3 + T :]), p[3 + T :]] if nv else np.zeros(len(views))
        return a, o, q, np.exp(logs)

    use_drags = drag_tracks is not None and drag_tracks.shape[1] > 0 and cfg.drag_weight > 0
    if use_drags:
        # Pixels per metre at the drags' start points, averaged over the views.
        depth = transform_points(obs.Tcw, drag_tracks[0].mean(0)[None])[:, 0, 2]
        px_per_m = float(np.mean(obs.K[:, 0, 0] / depth))

    def fun(p):
        a, o, q, scale = unpack(p)
        xy = np.empty_like(uv)
        for k, m in enumerate(in_view):
            Tw = T_world_parent @ joint_transforms(fit.type, a, o, scale[k] * q)
            xy[:, m], _ = project(obs.K, obs.Tcw, view[m], transform_points(Tw, X[m]))
        # Invisible observations contribute zero (fixed residual length).
        r = ((xy - uv) * vis[..., None])[1:].ravel()
        if not use_drags:
            return r
        Tw = T_world_parent @ joint_transforms(fit.type, a, o, q)
        e = (transform_points(Tw, drag_tracks[0]) - drag_tracks)[1:] * px_per_m
        return np.r_[r, np.tile(e.ravel(), cfg.drag_weight)]

    # Frame t's value moves only frame t's residuals: all values share one evaluation.
    row_frame = np.repeat(np.arange(1, T), vis.shape[1] * 2)
    if use_drags:
        drag_rows = np.repeat(np.arange(1, T), drag_tracks.shape[1] * 3)
        row_frame = np.r_[row_frame, np.tile(drag_rows, cfg.drag_weight)]
    col_frame = np.r_[np.zeros(4, int), np.arange(1, T), np.zeros(nv, int)]
    jac = _FrameJacobian(fun, col_frame, row_frame)

    p0 = np.r_[0.0, 0.0, 0.0, 0.0, fit.values[1:], np.zeros(nv)]
    res = least_squares(jac.fun, p0, jac, loss="soft_l1", f_scale=cfg.robust_scale_px, max_nfev=100)
    res = least_squares(
        jac.fun, res.x, jac, loss="cauchy", f_scale=cfg.robust_scale_px, max_nfev=100
    )
    a, o, q, _ = unpack(res.x)
    o = closest_point_on_line(o, a, c) if revolute else c
    if q[np.argmax(np.abs(q))] < 0:
        a, q = -a, -q
    return JointFit(fit.type, a, o, q, fit.residual)


def _fit_joint(
    obs: _Obs,
    T_world_part: np.ndarray,
    T_world_parent: np.ndarray,
    groups: np.ndarray,
    ok: np.ndarray,
    drag_tracks: np.ndarray,
    diag: float,
    cfg: ArticulateConfig,
    refine: bool,
) -> JointFit:
    """The joint of a part (its surface points ``groups``) relative to its parent: type
    by model selection on the trusted frames ``ok``, or from its drag when too few were
    tracked (:func:`_drag_joint`); with ``refine``, refitted on the tracks and the drags
    shaped like it; untrusted frames' values from the drags."""
    T_rel = invert_T(T_world_parent) @ T_world_part
    fit = _select(T_rel, obs.anchors[groups], ok, diag, cfg)
    from_drag = _drag_joint(T_world_parent, drag_tracks, ok, diag, cfg)
    if from_drag is not None:
        fit = from_drag
    elif refine:
        like = _drags_like(fit, T_world_parent, drag_tracks, diag, cfg)
        fit = refine_joint(fit, T_world_parent, obs, groups, cfg, ok, like)
    return _values_from_drags(fit, T_world_parent, drag_tracks, ok)


@dataclass
class _Tree:
    """Parts as a kinematic tree: ``order`` lists part indices parents first, ``parents``
    gives each part's parent, ``fits`` each moving part's joint,
    ``T_world`` (T, P, 4, 4) the modelled poses with columns in tree order."""

    order: list[int]
    parents: list[int]  # the base's is -1
    fits: dict[int, JointFit]
    T_world: np.ndarray


def _fit_tree(
    obs: _Obs,
    poses: list[np.ndarray],
    point_part: np.ndarray,
    drags: DragSet,
    diag: float,
    cfg: ArticulateConfig,
    refine: bool,
    fitted: dict[bytes, JointFit],
) -> _Tree:
    """Parents, then every joint relative to its parent's modelled motion (parents
    first). ``fitted`` caches joints by their inputs across calls."""
    P, T = len(poses), len(poses[0])
    X_parts = [obs.anchors[point_part == m] for m in range(P)]
    trusted = [_reliable_frames(obs, np.nonzero(point_part == m)[0], cfg) for m in range(P)]
    drag_part = _assign_drags(drags, obs.anchors, point_part, poses, trusted)
    parents = _choose_parents(poses, X_parts, trusted, diag, cfg)
    order = [0]
    while len(order) < P:
        order += [p for p in range(1, P) if p not in order and parents[p] in order]
    T_world = np.zeros((T, P, 4, 4))
    T_world[:, 0] = np.eye(4)
    fits: dict[int, JointFit] = {}
    for i, part in enumerate(order[1:], start=1):
        T_parent = T_world[:, order.index(parents[part])]
        groups = np.nonzero(point_part == part)[0]
        ok = trusted[part] & trusted[parents[part]]
        own_drags = drags.points_3d[:, drag_part == part]
        key = b"".join(x.tobytes() for x in (groups, T_parent, ok, own_drags)) + bytes(refine)
        if key not in fitted:
            fitted[key] = _fit_joint(
                obs, poses[part], T_parent, groups, ok, own_drags, diag, cfg, refine
            )
        fits[part] = fit = fitted[key]
        T_world[:, i] = T_parent @ joint_transforms(fit.type, fit.axis, fit.origin, fit.values)
    return _Tree(order, parents, fits, T_world)


def _joint_errors(obs: _Obs, tree: _Tree, point_part: np.ndarray, cfg: ArticulateConfig):
    """(G, P) RMS pixel error of every point under each part's fitted joint motion (columns
    in tree order), each seen per view as in :func:`_per_view_motion`."""
    G = len(obs.anchors)
    models = [tree.T_world[:, 0]] + [
        _per_view_motion(obs, tree.T_world[:, col], np.nonzero(point_part == part)[0], cfg)
        for col, part in enumerate(tree.order[1:], start=1)
    ]
    return np.stack([obs.group_rms(m, np.ones(G, bool)) for m in models], 1)


def _joint_cost(obs: _Obs, err: np.ndarray, cfg: ArticulateConfig) -> float:
    """How badly a tree explains all points, whatever their labels: evidence-weighted
    error of each point's best joint motion, capped at twice the inlier threshold."""
    best = np.minimum(err.min(1), 2 * cfg.inlier_threshold_px)
    return float(np.sum(_evidence(obs) * best))


def _relabel_by_joints(
    err: np.ndarray, tree: _Tree, point_part: np.ndarray, min_points: int, cfg: ArticulateConfig
) -> np.ndarray:
    """Point labels (-1 = ambiguous) by the fitted joints' motions (``err`` from
    :func:`_joint_errors`), with the confidence rules of the part search; the old labels
    when a part would keep fewer than ``min_points`` points."""
    label = np.where(_confident(err, cfg), np.array(tree.order)[err.argmin(1)], -1)
    if np.bincount(label[label > 0], minlength=err.shape[1])[1:].min() < min_points:
        return point_part
    return label


def _refit_relabelled(
    obs: _Obs,
    tree: _Tree,
    point_part: np.ndarray,
    poses: list[np.ndarray],
    drags: DragSet,
    diag: float,
    min_points: int,
    cfg: ArticulateConfig,
    fitted: dict[bytes, JointFit],
) -> tuple[np.ndarray, list[np.ndarray], _Tree]:
    """Labels, poses and tree after relabelling the points by the fitted joints and
    refitting, or the given ones when that does not help.

    Per-frame poses of a part whose tracks die early are loose; its joint model is not,
    and claims points the loose poses left to a neighbour. The refit is kept only if the
    joints keep their types and explain all points better (a type flip means the
    labels, not the joints, were fitted)."""
    err = _joint_errors(obs, tree, point_part, cfg)
    relabelled = _relabel_by_joints(err, tree, point_part, min_points, cfg)
    if np.array_equal(relabelled, point_part):
        return point_part, poses, tree
    poses2 = [poses[0]] + [
        _fit_poses(obs, np.nonzero(relabelled == m)[0], poses[m], cfg) for m in range(1, len(poses))
    ]
    tree2 = _fit_tree(obs, poses2, relabelled, drags, diag, cfg, True, fitted)
    err2 = _joint_errors(obs, tree2, relabelled, cfg)
    same_types = all(tree2.fits[m].type is tree.fits[m].type for m in tree.fits)
    if same_types and _joint_cost(obs, err2, cfg) < _joint_cost(obs, err, cfg):
        return relabelled, poses2, tree2
    return point_part, poses, tree


def _joint_motion(fit: JointFit, X: np.ndarray) -> float:
    """How far (m) a joint moves its part's points ``X`` (parent frame): the largest over
    frames of the median over points (0 for a fixed joint or no points)."""
    if fit.type is JointType.FIXED or len(X) == 0:
        return 0.0
    d = transform_points(joint_transforms(fit.type, fit.axis, fit.origin, fit.values), X) - X
    return float(np.max(np.median(np.linalg.norm(d, axis=-1), axis=1)))


def _hinge_gap(fit: JointFit, X_child: np.ndarray, X_parent: np.ndarray) -> float:
    """How far (m) a revolute axis passes from the nearer of the two parts' surface
    points, the larger over both parts (0 for other joint types): a real hinge touches
    both the child and its parent."""
    if fit.type is not JointType.REVOLUTE or len(X_child) == 0 or len(X_parent) == 0:
        return 0.0

    def dist(X: np.ndarray) -> float:
        d = X - fit.origin
        return float(np.min(np.linalg.norm(d - np.outer(d @ fit.axis, fit.axis), axis=1)))

    return max(dist(X_child), dist(X_parent))


def _choose_parents(
    poses: list[np.ndarray],
    X_parts: list[np.ndarray],
    trusted: list[np.ndarray],
    diag: float,
    cfg: ArticulateConfig,
) -> list[int]:
    """Parent index of every part (entry 0, the base, gets -1).

    The parent is the base when a simple joint relative to it explains the part's
    motion and (for a hinge) its axis touches both; otherwise a part relative to which
    a simple joint does (two hinges in series with proportional motions compose to one
    fixed-axis rotation about the base, but that axis floats in mid-air), else the part
    with the smallest joint residual plus hinge gap (see :func:`_hinge_gap`).
    """
    P = len(poses)
    parents = [-1] + [0] * (P - 1)
    tol = cfg.parent_tolerance * diag
    for p in range(1, P):
        res, gap = {}, {}
        for q in range(P):
            if q == p:
                continue
            T_rel = invert_T(poses[q]) @ poses[p]
            ok = trusted[p] & trusted[q]
            fit = select_joint(T_rel[ok], X_parts[p], diag, cfg.joint)
            res[q] = fit.residual
            gap[q] = _hinge_gap(fit, X_parts[p], X_parts[q])
        if res[0] <= tol and gap[0] <= cfg.hinge_gap * diag:
            continue
        simple = [q for q in res if res[q] <= tol]
        # Without a simple joint, a hinge floating away from the parts costs as much
        # as a residual of the same length.
        ranked = sorted(simple, key=gap.get) + sorted(
            (q for q in res if q not in simple), key=lambda q: res[q] + gap[q]
        )
        for q in ranked:
            # Walk up q's chain: choosing q must not create a cycle.
            a, ok = q, True
            while a > 0:
                if a == p:
                    ok = False
                    break
                a = parents[a]
            if ok:
                parents[p] = q
                break
    return parents


def run_articulate(
    cfg: ArticulateConfig,
    tracks: Tracks,
    mesh: SceneMesh,
    cameras: CameraRig,
    drags: DragSet,
    generator: np.random.Generator,
) -> Articulation:
    """Discover parts, poses and joints from tracks (never reads ground truth).

    Args:
        cfg: settings.
        tracks: output of the track stage.
        mesh: rest-state mesh (labels are per its concatenated vertices/faces).
        cameras: the rig the tracks were observed with.
        drags: the requested drags (only recorded as diagnostics).
        generator: randomness for RANSAC sampling.

    Returns:
        The articulation; a video without motion gives the base alone.
    """
    _check(tracks, cameras)
    obs = _make_obs(tracks, cameras)
    obs.normals = anchor_normals(mesh.vertices, mesh.faces, obs.anchors)
    T = tracks.uv.shape[0]
    G = len(obs.anchors)
    diag = mesh.bbox_diagonal()
    eye = np.broadcast_to(np.eye(4), (T, 4, 4)).copy()
    all_groups = np.ones(G, bool)

    # 1. Static model: max displacement of the reprojected rest point.
    e_static = reprojection_errors(eye, obs.X, obs.uv, obs.view, obs.K, obs.Tcw)
    disp = np.where(obs.vis, e_static, 0.0).max(0)
    g_disp = np.bincount(obs.group, disp, minlength=G) / np.bincount(obs.group, minlength=G)
    remaining = g_disp >= cfg.static_threshold_px

    # 2. Sequential RANSAC over moving points.
    min_points = max(cfg.min_part_points, int(cfg.min_part_fraction * remaining.sum()))
    parts: list[_Part] = []
    while len(parts) < cfg.max_parts:
        found = _ransac_part(obs, remaining, cfg, generator)
        if found is None:
            break
        # One RANSAC motion can cover several parts (drawers sliding by different
        # amounts); the split test separates them.
        parts += _split_part(obs, found, min_points, cfg, generator)
        remaining &= ~found.members

    # 3. Reassign every point to its best model; drop parts that end up too small or
    # that another model explains (smallest first), until stable.
    while True:
        models = [eye] + [p.seen for p in parts]
        err = np.stack([obs.group_rms(m, all_groups) for m in models], 1)  # G M
        label = err.argmin(1)
        drop = None
        confident = _confident(err, cfg)
        # Parts are sized by the points that clearly belong to them.
        counts = np.bincount(label[confident], minlength=len(models))
        shared = [eye] + [p.poses for p in parts]
        trusted = [np.ones(T, bool)] + [
            _reliable_frames(obs, np.nonzero(label == m)[0], cfg) for m in range(1, len(models))
        ]
        for m in sorted(range(1, len(models)), key=lambda m: counts[m]):
            own = label == m
            groups = np.nonzero(own)[0]
            if (
                counts[m] < min_points
                or _model_overlap(obs, models, m, groups, cfg) >= 0.5
                or _head_on_overlap(obs, models, m, groups, cfg) >= 0.5
            ):
                drop = m
                break
            X_m = obs.anchors[own]
            twin = next(
                (
                    o
                    for o in range(len(models))
                    if o != m
                    and (o == 0 or counts[o] >= counts[m])
                    and _relative_motion(shared[o], shared[m], X_m, trusted[o] & trusted[m])
                    < cfg.min_joint_motion * diag
                ),
                None,
            )
            if twin is not None:
                # A fragment of a bigger part (it hardly moves relative to it): the
                # bigger one is refitted on both (the base needs no refit).
                if twin > 0:
                    both = (label == twin) | own
                    parts[twin - 1] = _fitted_part(obs, parts[twin - 1].poses, both, cfg)
                drop = m
                break
        if drop is None and len(models) > 1:
            # A part that owns no face of the mesh (a few tracks on a thin rim) moves
            # nothing: its points go to the other models.
            owned = label_faces(
                mesh.vertices,
                mesh.faces,
                obs.anchors,
                np.where(confident, label, -1),
                len(models),
                cfg.segment,
            )
            empty = [m for m in range(1, len(models)) if not np.any(owned == m)]
            drop = empty[0] if empty else None
        if drop is None:
            break
        parts = [p for i, p in enumerate(parts) if i + 1 != drop]
    point_part = np.where(confident, label, -1)
    poses = [eye] + [
        _fit_poses(obs, np.nonzero(point_part == m)[0], parts[m - 1].poses, cfg)
        for m in range(1, len(models))
    ]

    # 4. Kinematic tree, joint types, joint refit (parents before children). A joint that
    # hardly moves (a fragment riding on its parent) is folded into the others and the
    # tree refitted without it; folding decides on the selected joints, and one last pass
    # refits them.
    fitted: dict[bytes, JointFit] = {}
    while True:
        tree = _fit_tree(obs, poses, point_part, drags, diag, cfg, False, fitted)
        motion = {
            m: _joint_motion(tree.fits[m], obs.anchors[point_part == m]) for m in tree.order[1:]
        }
        m = min(motion, key=motion.get, default=None)
        if m is None or motion[m] >= cfg.min_joint_travel * diag:
            break
        # Its points go to the other part whose motion explains them best (a fragment at
        # an elbow may belong to the child); its children find a new parent next pass.
        own = point_part == m
        del poses[m]
        err = np.stack([obs.group_rms(pp, own) for pp in poses], 1)  # G P-1
        point_part = np.where(point_part > m, point_part - 1, point_part)
        point_part[own] = err[own].argmin(1)
        for k in np.unique(point_part[own]):
            if k > 0:
                poses[k] = _fit_poses(obs, np.nonzero(point_part == k)[0], poses[k], cfg)
    if cfg.refine_joints:
        tree = _fit_tree(obs, poses, point_part, drags, diag, cfg, True, fitted)
        if cfg.relabel_by_joints and len(poses) > 1:
            point_part, poses, tree = _refit_relabelled(
                obs, tree, point_part, poses, drags, diag, min_points, cfg, fitted
            )
    P, order_parts, parents, T_world = len(poses), tree.order, tree.parents, tree.T_world
    new_index = {old: i for i, old in enumerate(order_parts)}

    joints: list[Joint] = []
    names = ["base"] + [f"part_{i}" for i in range(1, P)]
    residuals = {}
    for old in order_parts[1:]:
        i, par, fit = new_index[old], new_index[parents[old]], tree.fits[old]
        residuals[names[i]] = fit.residual
        joints.append(
            Joint(
                name=f"joint_{i}",
                type=fit.type,
                parent=names[par],
                child=names[i],
                axis=fit.axis,
                origin=fit.origin,
                values=fit.values,
                limits=(float(fit.values.min()), float(fit.values.max())),
            )
        )

    # 5. Mesh labels (anchor labels renumbered to the tree order).
    remap = np.array([new_index[m] for m in range(P)])
    anchor_part = np.where(point_part >= 0, remap[np.maximum(point_part, 0)], -1)
    face_part = label_faces(mesh.vertices, mesh.faces, obs.anchors, anchor_part, P, cfg.segment)
    vertex_part = vertex_labels(mesh.faces, face_part, mesh.num_vertices, P)
    return Articulation(
        part_names=tuple(names),
        vertex_part=vertex_part,
        face_part=face_part,
        T_world_part=T_world,
        joints=tuple(joints),
        fps=10.0,
        extras={
            "num_points": int(G),
            "num_moving_points": int(np.sum(g_disp >= cfg.static_threshold_px)),
            "points_per_part": [int(np.sum(anchor_part == m)) for m in range(P)],
            "joint_residual_m": residuals,
            "num_drags": int(drags.num_drags),
        },
    )
