"""Tests that remove proposed parts another model already explains."""

from __future__ import annotations

import numpy as np

from partdrag4d.containers import SceneMesh
from partdrag4d.reconstruct.articulate_config import ArticulateConfig
from partdrag4d.reconstruct.observations import (
    Observations,
    confident,
    fit_poses,
    relative_motion,
    reliable_frames,
    subset,
)
from partdrag4d.reconstruct.pose import (
    masked_rms,
)
from partdrag4d.reconstruct.proposals import Part, fitted_part
from partdrag4d.reconstruct.segment import label_faces


def model_overlap(
    obs: Observations, models: list[np.ndarray], m: int, groups: np.ndarray, cfg: ArticulateConfig
) -> float:
    """Fraction of part ``m``'s points whose predicted image motion another model
    reproduces within ``merge_threshold_px`` (RMS over *all* frames, observed or not:
    briefly seen points must not make two different motions look alike)."""
    if len(groups) == 0:
        return 1.0
    entries = np.nonzero(np.isin(obs.group, subset(groups, cfg.proposals.max_fit_points)))[0]
    xy_m = obs.reproject(models[m], entries)
    best = np.full(len(entries), np.inf)
    for o, model in enumerate(models):
        if o != m:
            e = np.linalg.norm(obs.reproject(model, entries) - xy_m, axis=-1)
            best = np.minimum(best, np.sqrt(np.mean(np.nan_to_num(e, nan=1e6) ** 2, 0)))
    return float(np.mean(best < cfg.cleanup.merge_threshold_px))


def head_on_overlap(
    obs: Observations, models: list[np.ndarray], m: int, groups: np.ndarray, cfg: ArticulateConfig
) -> float:
    """Fraction of part ``m``'s track entries that another model reproduces within
    ``merge_threshold_px`` (RMS), and less than ``head_on_gain_px`` worse than part
    ``m``'s own, over the frames where part ``m`` shows them head-on (see
    :meth:`Observations.facing`), among entries seen so in at least two frames after the rest.

    Tracks on a surface turning towards grazing slide along its foreshortened texture,
    coherently enough for a rigid motion of their own to explain them better than their
    part's; seen head-on, their part still explains them."""
    if cfg.cleanup.min_view_cos <= 0:
        return 0.0
    entries = np.nonzero(np.isin(obs.group, subset(groups, cfg.proposals.max_fit_points)))[0]
    seen = obs.vis[:, entries] & obs.facing(models[m], entries, cfg.cleanup.min_view_cos)
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
    return float(
        np.mean(
            (best < cfg.cleanup.merge_threshold_px) & (best - own < cfg.cleanup.head_on_gain_px)
        )
    )


def clean_parts(
    obs: Observations,
    parts: list[Part],
    mesh: SceneMesh,
    min_points: int,
    diag: float,
    cfg: ArticulateConfig,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Every point reassigned to its best model (base or part); parts that end up too
    small, that another model explains (also head-on), that hardly move relative to a
    bigger one or that own no face of the mesh are dropped, smallest first, until
    stable.

    Returns:
        (label of every surface point, -1 = ambiguous; poses per model, base first).
    """
    T = obs.uv.shape[0]
    eye = np.broadcast_to(np.eye(4), (T, 4, 4)).copy()
    all_groups = np.ones(len(obs.anchors), bool)
    while True:
        models = [eye] + [p.seen for p in parts]
        err = np.stack([obs.group_rms(m, all_groups) for m in models], 1)  # G M
        label = err.argmin(1)
        sure = confident(err, cfg)
        # Parts are sized by the points that clearly belong to them.
        counts = np.bincount(label[sure], minlength=len(models))
        drop = _redundant_part(obs, parts, models, label, counts, min_points, diag, cfg)
        if drop is None and len(models) > 1:
            # A part that owns no face of the mesh (a few tracks on a thin rim) moves
            # nothing: its points go to the other models.
            owned = label_faces(
                mesh.vertices,
                mesh.faces,
                obs.anchors,
                np.where(sure, label, -1),
                len(models),
                cfg.segment,
            )
            empty = [m for m in range(1, len(models)) if not np.any(owned == m)]
            drop = empty[0] if empty else None
        if drop is None:
            break
        parts = [p for i, p in enumerate(parts) if i + 1 != drop]
    point_part = np.where(sure, label, -1)
    poses = [eye] + [
        fit_poses(obs, np.nonzero(point_part == m)[0], parts[m - 1].poses, cfg)
        for m in range(1, len(models))
    ]
    return point_part, poses


def _redundant_part(
    obs: Observations,
    parts: list[Part],
    models: list[np.ndarray],
    label: np.ndarray,
    counts: np.ndarray,
    min_points: int,
    diag: float,
    cfg: ArticulateConfig,
) -> int | None:
    """The smallest model (index into ``models``) to drop, or None. A fragment of a
    bigger part (it hardly moves relative to it) is dropped after that part is refitted
    on both (``parts`` is updated in place)."""
    T = obs.uv.shape[0]
    shared = [models[0]] + [p.poses for p in parts]
    trusted = [np.ones(T, bool)] + [
        reliable_frames(obs, np.nonzero(label == m)[0], cfg) for m in range(1, len(models))
    ]
    for m in sorted(range(1, len(models)), key=lambda m: counts[m]):
        own = label == m
        groups = np.nonzero(own)[0]
        if (
            counts[m] < min_points
            or model_overlap(obs, models, m, groups, cfg) >= 0.5
            or head_on_overlap(obs, models, m, groups, cfg) >= 0.5
        ):
            return m
        X_m = obs.anchors[own]
        twin = next(
            (
                o
                for o in range(len(models))
                if o != m
                and (o == 0 or counts[o] >= counts[m])
                and relative_motion(shared[o], shared[m], X_m, trusted[o] & trusted[m])
                < cfg.cleanup.min_joint_motion * diag
            ),
            None,
        )
        if twin is not None:
            if twin > 0:  # the base needs no refit
                both = (label == twin) | own
                parts[twin - 1] = fitted_part(obs, parts[twin - 1].poses, both, cfg)
            return m
    return None
