"""Per-view joint amplitudes: generated views agree on how a part moves, not how far.

A model's joints give one value per frame; a generated video of one view may show the
same motion 10 % further or shorter than another. Each moving part gets one factor per
view, chosen by re-rendering that view with the part's values scaled (a grid search
with a parabolic refinement, parents first, on a few frames) and comparing with the
view's frames by the model-selection residuals. Factors are then normalised so their
geometric mean over the views is 1, and the part's values are multiplied by that mean
(the values are those of the views' mean). The criterion charges one parameter per
extra view and part for this freedom (:func:`.model_score.complexity`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from partdrag4d.containers import CameraRig, SceneMesh
from partdrag4d.reconstruct.model import Model, compose
from partdrag4d.reconstruct.model_score import ScoreConfig, frame_residuals


@dataclass
class ViewAmplitudeConfig:
    """Settings of the per-view amplitude search."""

    scale_range: float = 0.3
    """Factors searched: 1 -/+ this (0: every view sees the same values)."""
    steps: int = 7
    """Grid points of the search."""
    frames: int = 5
    """Frames compared (evenly spaced, the last included)."""


def view_cost(
    model: Model,
    scale: np.ndarray,
    view: int,
    frames_idx: np.ndarray,
    mesh: SceneMesh,
    rig: CameraRig,
    frames: np.ndarray,
    rast,
    score_cfg: ScoreConfig,
) -> float:
    """Photometric + silhouette residual of one view under per-part factors ``scale``."""
    from partdrag4d.assets.kinematics import move_vertices

    fits = tuple(
        None if f is None else replace(f, values=f.values * scale[p])
        for p, f in enumerate(model.fits)
    )
    poses = compose(model.parents, fits, model.T_world.shape[0])
    total = 0.0
    for t in frames_idx:
        verts = move_vertices(mesh.vertices, model.vertex_part, poses[t])
        out = rast.render(rig.K[view], rig.T_cam_world[view], verts, model.vertex_part)
        p, s, _ = frame_residuals(out.rgb, out.mask, frames[view, t], score_cfg)
        total += p + s
    return total


def _parabola_min(grid: np.ndarray, cost: np.ndarray) -> float:
    k = int(np.clip(np.argmin(cost), 1, len(grid) - 2))
    c0, c1, c2 = cost[k - 1], cost[k], cost[k + 1]
    curv = c0 - 2.0 * c1 + c2
    step = 0.5 * (c0 - c2) / curv if curv > 1e-12 else 0.0
    return float(grid[k] + np.clip(step, -1.0, 1.0) * (grid[1] - grid[0]))


def fit_view_scales(
    model: Model,
    mesh: SceneMesh,
    rig: CameraRig,
    frames: np.ndarray,
    rast,
    cfg: ViewAmplitudeConfig,
    score_cfg: ScoreConfig,
) -> Model:
    """The model with one amplitude factor per view and moving part (module docstring);
    unchanged with one view, no moving part or ``scale_range`` 0."""
    V, T, P = rig.num_views, frames.shape[1], len(model.parents)
    if V < 2 or P < 2 or cfg.scale_range <= 0 or cfg.steps < 3:
        return model
    grid = np.linspace(1.0 - cfg.scale_range, 1.0 + cfg.scale_range, cfg.steps)
    frames_idx = np.unique(np.linspace(1, T - 1, min(cfg.frames, T - 1)).round().astype(int))
    scale = np.ones((V, P))
    for p in range(1, P):
        for v in range(V):
            cost = []
            for g in grid:
                trial = scale[v].copy()
                trial[p] = g
                cost.append(
                    view_cost(model, trial, v, frames_idx, mesh, rig, frames, rast, score_cfg)
                )
            scale[v, p] = _parabola_min(grid, np.array(cost))
    mean = np.exp(np.log(scale).mean(0))  # per part
    fits = tuple(
        None if f is None else replace(f, values=f.values * mean[p])
        for p, f in enumerate(model.fits)
    )
    return replace(
        model,
        fits=fits,
        T_world=compose(model.parents, fits, T),
        view_scale=scale / mean[None],
    )
