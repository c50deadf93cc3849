"""Where the orbit rig looks from: the front azimuth that sees the motion.

An asset written elsewhere can face any direction, so a rig centred on a fixed azimuth
may look at the back of the part that moves. With ``rig.front=auto`` the rig's centre
azimuth is chosen from where the motion is:

- drags sampled from a known articulation: a ring of small probe renders (every
  ``rig.front_search_step_deg`` of azimuth, at the rig's elevation) of the asset posed
  at the first, middle and last frame. Every probe pixel on the surface counts the
  largest image-plane displacement its rest-state point reaches over the clip, so a
  view scores by how much moving surface it sees and how far that surface moves across
  its image (not toward the camera). Occlusion is real (a drawer's hidden tray does not
  count);
- drags from a file: each drag counts where its start point is visible in the probe
  render of the rest mesh, weighted by how squarely the view faces the surface there
  (the start triangle's normal) and by the image-plane length of its path.

A candidate front scores the sum over the rig's own views (its azimuth spread), with
the probe scores interpolated around the ring; the best candidate wins (ties: the
first in azimuth order) and is refined between its neighbours, so the choice is
deterministic. An explicit ``rig.front_azimuth_deg`` or ``rig.front=fixed`` overrides
it. Pure numpy + the project's rasteriser.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from jaxtyping import Float, Int

from partdrag4d.containers import CameraRig, RigFront, SceneMesh
from partdrag4d.errors import InputError
from partdrag4d.scene.cameras import (
    FIXED_FRONT_DEG,
    RigConfig,
    config_front,
    orbit_rig,
    view_azimuths_deg,
)


def probe_rig(cfg: RigConfig, bounds: Float[np.ndarray, "2 3"], up_axis: str) -> CameraRig:
    """One small view every ``front_search_step_deg`` around the object, at the rig's
    elevation and framing; view k sits at azimuth ``k * step``."""
    n = max(int(round(360.0 / cfg.front_search_step_deg)), 1)
    probe = dataclasses.replace(
        cfg,
        num_views=n,
        width=cfg.front_probe_size,
        height=max(int(round(cfg.front_probe_size * cfg.height / cfg.width)), 1),
        azimuth_spread_deg=360.0,
    )
    ring = RigFront(0.0, float(cfg.elevation_deg), "probe", "probe ring")
    return orbit_rig(probe, bounds, up_axis, ring)


def _view_forward(rig: CameraRig) -> Float[np.ndarray, "V 3"]:
    """World direction each camera looks along (its +z axis)."""
    return rig.T_cam_world[:, 2, :3]


def _image_plane(d: Float[np.ndarray, "... 3"], f: Float[np.ndarray, "3"]) -> np.ndarray:
    """Length of the part of ``d`` perpendicular to the viewing direction ``f``."""
    return np.linalg.norm(d - (d @ f)[..., None] * f, axis=-1)


def moving_surface_scores(
    mesh: SceneMesh,
    vertex_link: Int[np.ndarray, "N"],
    T_rel: Float[np.ndarray, "T L 4 4"],
    probe: CameraRig,
) -> Float[np.ndarray, "V"]:
    """Per probe view: the summed largest image-plane displacement, over the clip, of
    the rest-state points seen at the first, middle and last frame (pixels x metres)."""
    from partdrag4d.assets.kinematics import move_vertices
    from partdrag4d.render.rasterizer import Rasterizer, RasterizerConfig

    T = T_rel.shape[0]
    frames = sorted({0, (T - 1) // 2, T - 1})
    forward = _view_forward(probe)
    scores = np.zeros(probe.num_views)
    rcfg = RasterizerConfig(samples=0, textured=False, lighting=False)
    with Rasterizer(mesh, probe.width, probe.height, rcfg) as rast:
        for t in frames:
            verts = move_vertices(mesh.vertices, vertex_link, T_rel[t])
            for v in range(probe.num_views):
                out = rast.render(probe.K[v], probe.T_cam_world[v], verts, vertex_link)
                seen = out.label >= 0
                if not np.any(seen):
                    continue
                p = out.rest_xyz[seen].astype(np.float64)  # M 3
                M = T_rel[:, out.label[seen]]  # T M 4 4
                disp = np.einsum("tmij,mj->tmi", M[..., :3, :3], p) + M[..., :3, 3] - p
                scores[v] += _image_plane(disp, forward[v]).max(axis=0).sum()
    return scores


def drag_scores(
    mesh: SceneMesh, points_3d: Float[np.ndarray, "T D 3"], probe: CameraRig
) -> Float[np.ndarray, "V"]:
    """Per probe view: sum over drags visible there of |cos(view, start normal)| x the
    image-plane length of the drag's largest displacement."""
    import trimesh

    from partdrag4d.scene.drags import render_rest_views, start_visibility

    starts = points_3d[0]
    tm = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
    _, _, tri = trimesh.proximity.closest_point(tm, starts)
    normals = tm.face_normals[tri]  # D 3
    views = render_rest_views(mesh, probe)
    visible = start_visibility(probe, views, starts, tolerance=0.01 * mesh.bbox_diagonal())
    forward = _view_forward(probe)
    disp = points_3d - starts[None]  # T D 3
    scores = np.zeros(probe.num_views)
    for v in range(probe.num_views):
        reach = _image_plane(disp, forward[v]).max(axis=0)  # D
        facing = np.abs(normals @ forward[v])
        scores[v] = float(np.sum(visible[v] * facing * reach))
    return scores


def best_front(
    cfg: RigConfig, probe_scores: Float[np.ndarray, "V"]
) -> tuple[float, Float[np.ndarray, "C"]]:
    """The candidate front (every probe azimuth) whose rig views see the most, with the
    rig's views scored by linear interpolation around the probe ring, refined between
    candidates by the vertex of the parabola through the best and its two neighbours.

    Returns:
        ``(azimuth_deg, candidate_scores)``; candidate k is at ``k * step`` degrees.
    """
    n = len(probe_scores)
    step = 360.0 / n
    ring = np.append(probe_scores, probe_scores[0])
    candidates = step * np.arange(n)
    totals = np.zeros(n)
    for k, az in enumerate(candidates):
        views = np.mod(view_azimuths_deg(cfg, float(az)), 360.0) / step
        totals[k] = np.interp(views, np.arange(n + 1), ring).sum()
    k = int(np.argmax(totals))
    a, b, c = totals[k - 1], totals[k], totals[(k + 1) % n]
    curve = a - 2.0 * b + c
    shift = 0.5 * (a - c) / curve if curve < 0 else 0.0  # vertex of the parabola
    return float(candidates[k] + shift * step), totals


def _signed_deg(az: float) -> float:
    """An azimuth in (-180, 180]."""
    a = math.fmod(az, 360.0)
    return a - 360.0 if a > 180.0 else (a + 360.0 if a <= -180.0 else a)


def _check(cfg: RigConfig) -> None:
    """Clear errors for settings the front choice cannot use."""
    if cfg.front not in ("auto", "fixed"):
        raise InputError("rig", "front", f"unknown value {cfg.front!r}; choose auto or fixed")
    if cfg.front_azimuth_deg is not None and not math.isfinite(cfg.front_azimuth_deg):
        raise InputError("rig", "front_azimuth_deg", "must be a finite number of degrees")
    if not 0.0 < cfg.front_search_step_deg <= 180.0:
        raise InputError("rig", "front_search_step_deg", "must be in (0, 180] degrees")
    if cfg.front_probe_size < 8:
        raise InputError("rig", "front_probe_size", "must be at least 8 pixels")


def choose_front(
    cfg: RigConfig,
    mesh: SceneMesh,
    up_axis: str,
    vertex_link: Int[np.ndarray, "N"] | None,
    T_rel: Float[np.ndarray, "T L 4 4"] | None,
    points_3d: Float[np.ndarray, "T D 3"] | None,
) -> RigFront:
    """The rig's front: the config's azimuth, or the one that sees the motion best.

    Args:
        cfg: rig settings (``front``, ``front_azimuth_deg``, search step and probe size).
        mesh: rest-state mesh, world frame.
        up_axis: world up axis (``z`` or ``y``).
        vertex_link: link index of every vertex (known articulation), or None.
        T_rel: per-frame link motions from the rest state (known articulation), or None.
        points_3d: drag trajectories (drags from a file), or None.

    Returns:
        The chosen front and why.
    """
    _check(cfg)
    el = float(cfg.elevation_deg)
    if cfg.front_azimuth_deg is not None or cfg.front == "fixed":
        return config_front(cfg)
    probe = probe_rig(cfg, mesh.bounds(), up_axis)
    if T_rel is not None and vertex_link is not None:
        source, scores = "moving surface", moving_surface_scores(mesh, vertex_link, T_rel, probe)
    elif points_3d is not None:
        source, scores = "drags", drag_scores(mesh, points_3d, probe)
    else:
        return RigFront(FIXED_FRONT_DEG, el, "config", "no motion known: front faces -Y")
    if not np.any(scores > 0):
        return RigFront(FIXED_FRONT_DEG, el, "config", f"no {source} seen from any azimuth")
    az, totals = best_front(cfg, scores)
    best = totals.max()
    reason = (
        f"best of {len(totals)} azimuths by the {source} its {cfg.num_views} view(s) see "
        f"(median candidate {np.median(totals) / best:.0%} of it, worst {totals.min() / best:.0%})"
    )
    return RigFront(_signed_deg(az), el, source, reason)
