"""Per-view joint amplitudes: generated views agree on how a part moves, not how far.

A model's joints give one value per frame; a generated video of one view may show the
same motion 10 % further or shorter than another. Each moving part gets one factor per
view. In every view and frame the model is rendered once (parts at their shared poses)
and dense flow to the frame turns each part's pixels into 2D-3D matches, as in
:mod:`.render_compare`; one robust Gauss-Newton step on the part's joint value alone
(its axis and pivot held, its parent at its pose) gives the value that view shows. A
view's factor is the least-squares ratio of its values to the shared ones over the
frames. Factors are then normalised so their geometric mean over the views is 1, and
the part's values are multiplied by that mean (the values are those of the views'
mean). The criterion charges one parameter per extra view and part for this freedom
(:func:`.model_score.complexity`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from jaxtyping import Float

from partdrag4d.containers import CameraRig, JointType, SceneMesh
from partdrag4d.geometry.camera import pinhole_jacobian, project_each
from partdrag4d.geometry.se3 import invert_T, transform_points
from partdrag4d.reconstruct.joints import JointFit
from partdrag4d.reconstruct.model import Model, compose, scaled_fits
from partdrag4d.reconstruct.render_compare import (
    Matches,
    RenderCompareConfig,
    frame_edges,
    to_matches,
    view_matches,
)


@dataclass
class ViewAmplitudeConfig:
    """Settings of the per-view amplitudes."""

    scale_range: float = 0.3
    """Factors are kept within 1 -/+ this (0: every view sees the same values)."""


def value_step(
    fit: JointFit,
    T_parent: Float[np.ndarray, "4 4"],
    m: Matches,
    rig: CameraRig,
    T_part: Float[np.ndarray, "4 4"],
    huber_px: float,
) -> float:
    """One robust Gauss-Newton step on the joint value alone that moves the part (pose
    ``T_part``, world from rest) towards its matches ``m``."""
    Xw = transform_points(T_part, m.X)
    R = T_parent[:3, :3]
    if fit.type is JointType.PRISMATIC:
        dX = np.broadcast_to(R @ fit.axis, Xw.shape)
    else:  # revolute: about the axis carried by the parent
        Xp = transform_points(invert_T(T_parent), Xw)
        dX = np.cross(fit.axis, Xp - fit.origin) @ R.T
    xy, z = project_each(rig.K, rig.T_cam_world, m.view, Xw)
    Rc = rig.T_cam_world[m.view, :3, :3]
    Xc = np.einsum("nij,nj->ni", Rc, Xw) + rig.T_cam_world[m.view, :3, 3]
    J = np.einsum("nij,nj->ni", pinhole_jacobian(rig.K[m.view], Xc) @ Rc, dX)  # N 2
    J = np.einsum("nij,nj->ni", m.sqrt_info, J)
    r = np.einsum("nij,nj->ni", m.sqrt_info, xy - m.uv)
    norm = np.linalg.norm(r, axis=1)
    w = np.where(norm <= huber_px, 1.0, huber_px / np.maximum(norm, 1e-12)) * (z > 1e-9)
    den = float(np.sum(w * np.sum(J * J, 1)))
    return -float(np.sum(w * np.sum(J * r, 1))) / den if den > 0 else 0.0


def view_values(
    model: Model,
    mesh: SceneMesh,
    rig: CameraRig,
    frames: np.ndarray,
    rast,
    track_cfg: RenderCompareConfig,
) -> np.ndarray:
    """(V, T, P) joint value of every moving part as each view shows it (NaN where the
    view has too few matches of it)."""
    from partdrag4d.assets.kinematics import move_vertices

    V, T, P = rig.num_views, frames.shape[1], len(model.parents)
    out = np.full((V, T, P), np.nan)
    for t in range(1, T):
        verts = move_vertices(mesh.vertices, model.vertex_part, model.T_world[t])
        for v in range(V):
            parts = list(range(1, P))
            edges = frame_edges(frames[v, t], track_cfg)
            found = view_matches(
                rast, rig, v, verts, model.vertex_part, frames[v, t], parts, track_cfg, edges
            )
            for p in parts:
                m = to_matches([found[p]], track_cfg)
                if m is None:
                    continue
                fit = model.fit(p)
                T_parent = model.T_world[t, model.parents[p]]
                step = value_step(fit, T_parent, m, rig, model.T_world[t, p], track_cfg.huber_px)
                out[v, t, p] = fit.values[t] + step
    return out


def fit_view_scales(
    model: Model,
    mesh: SceneMesh,
    rig: CameraRig,
    frames: np.ndarray,
    rast,
    cfg: ViewAmplitudeConfig,
    track_cfg: RenderCompareConfig,
) -> Model:
    """The model with one amplitude factor per view and moving part (module docstring);
    unchanged with one view, no moving part or ``scale_range`` 0."""
    V, T, P = rig.num_views, frames.shape[1], len(model.parents)
    if V < 2 or P < 2 or cfg.scale_range <= 0:
        return model
    q = view_values(model, mesh, rig, frames, rast, track_cfg)
    scale = np.ones((V, P))
    for p in range(1, P):
        if model.fit(p).type is JointType.FIXED:
            continue
        shared = model.fit(p).values
        for v in range(V):
            ok = np.isfinite(q[v, :, p])
            den = float(np.sum(shared[ok] ** 2))
            if den > 0:
                s = float(np.sum(q[v, ok, p] * shared[ok])) / den
                scale[v, p] = np.clip(s, 1.0 - cfg.scale_range, 1.0 + cfg.scale_range)
    mean = np.exp(np.log(scale).mean(0))  # per part
    fits = scaled_fits(model.fits, mean)
    return replace(
        model,
        fits=fits,
        T_world=compose(model.parents, fits, T),
        view_scale=scale / mean[None],
    )
