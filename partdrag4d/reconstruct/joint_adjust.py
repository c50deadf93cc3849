"""Joint-space adjustment: every joint's line and values refined together against every
view and frame by render-and-compare.

Tracking each part as a free 6-DoF pose and fitting a joint afterwards loses what the
tree knows: a textureless arm link spinning about its own axis shows nothing, yet its
children swing with it; a door's hinge line is fixed by all frames at once, not by one
pose after another. Here the model's own parameters are adjusted: per moving part its
joint geometry (a hinge's axis direction and pivot, a slide's direction; 4 or 2
numbers) and one value per frame, the tree and the joint types held.

1. The model is rendered in every view and frame at its current parameters (each view
   at its own amplitudes when it has them); dense flow from the render to the frame
   gives 2D-3D matches weighted by the render's structure tensor, as in
   :mod:`.render_compare`.
2. Levenberg-Marquardt on the robust (Huber) reprojection error of those matches,
   with forward-difference Jacobians: the values of each frame (a parent's value moves
   its children's matches too), then the geometry of all joints over all frames,
   then the values again.
3. Steps 1-2 repeat until the values settle (at most ``rounds`` times).

The caller keeps the adjusted model only when the criterion (:mod:`.model_score`)
drops. Reads the videos, cameras and rest mesh only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
from jaxtyping import Float, Int

from partdrag4d.containers import CameraRig, JointType, SceneMesh
from partdrag4d.geometry.camera import project_each
from partdrag4d.reconstruct.joints import joint_transforms
from partdrag4d.reconstruct.model import Model, compose
from partdrag4d.reconstruct.render_compare import (
    Matches,
    RenderCompareConfig,
    frame_edges,
    sqrt_information,
    view_matches,
)


@dataclass
class JointAdjustConfig:
    """Settings of the joint-space adjustment."""

    enabled: bool = True
    """Adjust the chosen model's joints against the videos (kept when the score drops)."""
    rounds: int = 3
    """Most render / flow / solve rounds (flow from a render to a frame that is still
    far off finds about two thirds of the gap, so a round closes about that much)."""
    tolerance: float = 0.01
    """Rounds stop once no joint value moved by more than this fraction of its travel."""
    steps: int = 2
    """Levenberg-Marquardt steps per block (values, geometry) and round."""
    max_matches: int = 300
    """Matches kept per part, view and frame (evenly subsampled; speed)."""


@dataclass(frozen=True)
class FrameMatches(Matches):
    """2D-3D matches of every moving part in one frame, over all views."""

    part: Int[np.ndarray, "N"] = field(default_factory=lambda: np.zeros(0, np.int64))
    """Part of each match."""


def tangent_basis(a: Float[np.ndarray, "3"]) -> Float[np.ndarray, "2 3"]:
    """Two unit vectors orthogonal to ``a`` and to each other."""
    a = a / np.linalg.norm(a)
    helper = np.eye(3)[int(np.argmin(np.abs(a)))]
    u = np.cross(a, helper)
    u /= np.linalg.norm(u)
    return np.stack([u, np.cross(a, u)])


def moved_line(
    joint_type: JointType, axis: np.ndarray, origin: np.ndarray, delta: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The joint line moved by ``delta``: the axis tilted towards ``delta[:2]`` in its
    tangent plane (by ``atan |delta[:2]|``) and, for a hinge, the pivot moved by
    ``delta[2:4]`` across it."""
    B = tangent_basis(axis)
    a = axis + delta[:2] @ B
    a /= np.linalg.norm(a)
    if joint_type is JointType.REVOLUTE:
        origin = origin + delta[2:4] @ B
    return a, origin


def geometry_size(joint_type: JointType) -> int:
    """Free numbers of a joint's line (hinge 4, slide 2, fixed 0)."""
    return {JointType.REVOLUTE: 4, JointType.PRISMATIC: 2}.get(joint_type, 0)


def chain_poses(
    parents: tuple[int, ...],
    lines: list[tuple[JointType, np.ndarray, np.ndarray]],
    values: Float[np.ndarray, "P"],
    scale: Float[np.ndarray, "V P"],
) -> Float[np.ndarray, "V P 4 4"]:
    """World poses of every part in one frame as each view sees it (values times that
    view's amplitude)."""
    V, P = scale.shape
    out = np.tile(np.eye(4), (V, P, 1, 1))
    for p in range(1, P):
        kind, a, o = lines[p]
        M = joint_transforms(kind, a, o, values[p] * scale[:, p])
        out[:, p] = out[:, parents[p]] @ M
    return out


def reprojection(
    m: FrameMatches, poses: Float[np.ndarray, "V P 4 4"], rig: CameraRig
) -> Float[np.ndarray, "N 2"]:
    """Whitened reprojection residuals of the matches under per-view part poses."""
    T = poses[m.view, m.part]
    Xw = np.einsum("nij,nj->ni", T[:, :3, :3], m.X) + T[:, :3, 3]
    xy, z = project_each(rig.K, rig.T_cam_world, m.view, Xw)
    r = np.einsum("nij,nj->ni", m.sqrt_info, xy - m.uv)
    return np.where((z > 1e-9)[:, None], r, 0.0)


def huber_cost(r: Float[np.ndarray, "N 2"], delta: float) -> float:
    n = np.linalg.norm(r, axis=1)
    return float(np.sum(np.where(n <= delta, 0.5 * n * n, delta * (n - 0.5 * delta))))


def lm_step(
    residuals: Callable[[np.ndarray], np.ndarray],
    theta: np.ndarray,
    h: np.ndarray,
    delta: float,
    tries: int = 4,
) -> np.ndarray:
    """One robust (Huber, IRLS) Levenberg-Marquardt step on ``theta`` with a
    forward-difference Jacobian (step ``h`` per parameter); ``theta`` itself when no
    damping lowers the cost."""
    r0 = residuals(theta)
    if r0.size == 0:
        return theta
    cols = []
    for k in range(len(theta)):
        e = theta.copy()
        e[k] += h[k]
        cols.append(((residuals(e) - r0) / h[k]).reshape(-1))
    J = np.stack(cols, 1)
    n = np.linalg.norm(r0, axis=1)
    w = np.repeat(np.where(n <= delta, 1.0, delta / np.maximum(n, 1e-12)), 2)
    A = J.T @ (J * w[:, None])
    g = J.T @ (w * r0.reshape(-1))
    if not np.all(np.isfinite(A)) or np.trace(A) <= 0:
        return theta
    cost0 = huber_cost(r0, delta)
    lam = 1e-3
    D = np.diag(np.diag(A)) + 1e-9 * np.trace(A) * np.eye(len(theta))
    for _ in range(tries):
        step = -np.linalg.solve(A + lam * D, g)
        trial = theta + step
        if huber_cost(residuals(trial), delta) < cost0:
            return trial
        lam *= 10.0
    return theta


def collect_matches(
    model: Model,
    mesh: SceneMesh,
    rig: CameraRig,
    frames: np.ndarray,
    rast,
    track_cfg: RenderCompareConfig,
    most: int,
) -> list[FrameMatches | None]:
    """Matches per frame (index 0, the rest frame, is None) between the model rendered
    as each view sees it and the frames."""
    from partdrag4d.assets.kinematics import move_vertices

    V, T, P = rig.num_views, frames.shape[1], len(model.parents)
    cfg = replace(track_cfg, max_matches_per_view=most)
    h = model.hypothesis()  # each view at its own amplitudes
    out: list[FrameMatches | None] = [None]
    for t in range(1, T):
        found = []
        for v in range(V):
            verts = move_vertices(mesh.vertices, model.vertex_part, h.poses(v, t))
            moving, edges = list(range(1, P)), frame_edges(frames[v, t], cfg)
            per_part = view_matches(
                rast, rig, v, verts, model.vertex_part, frames[v, t], moving, cfg, edges
            )
            for p, (X, uv, view, info) in per_part.items():
                found.append((X, uv, view, np.full(len(X), p), info))
        X, uv, view, part, info = (np.concatenate(x) for x in zip(*found, strict=True))
        if len(X) < track_cfg.min_matches:
            out.append(None)
            continue
        out.append(FrameMatches(X, uv, view, sqrt_information(info, track_cfg.info_floor), part))
    return out


@dataclass(frozen=True)
class Chain:
    """The model's tree with its joint lines as offsets ``g`` from a start (the
    parameters the adjustment moves, besides the values)."""

    parents: tuple[int, ...]
    kinds: tuple[JointType, ...]
    """Every part's joint type (the base's: fixed)."""
    start: tuple[tuple[np.ndarray, np.ndarray], ...]
    """(axis, origin) of every part's joint at ``g = 0`` (the base's: zeros)."""
    offsets: np.ndarray
    """Where each part's numbers begin in ``g`` (P + 1 entries)."""
    scale: Float[np.ndarray, "V P"]
    """Each view's amplitude per part (held)."""

    def lines(self, g: np.ndarray) -> list[tuple[JointType, np.ndarray, np.ndarray]]:
        out = [(JointType.FIXED, *self.start[0])]
        for p in range(1, len(self.parents)):
            a, o = self.start[p]
            d = g[self.offsets[p] : self.offsets[p + 1]]
            out.append(
                (self.kinds[p], *moved_line(self.kinds[p], a, o, d))
                if len(d)
                else (self.kinds[p], a, o)
            )
        return out

    def poses(self, lines: list, values: np.ndarray) -> np.ndarray:
        return chain_poses(self.parents, lines, values, self.scale)


def adjust_values(
    chain: Chain,
    g: np.ndarray,
    Q: Float[np.ndarray, "T P"],
    matches: list[FrameMatches | None],
    moving: list[int],
    h: np.ndarray,
    rig: CameraRig,
    huber_px: float,
    steps: int,
) -> None:
    """Levenberg-Marquardt on the moving joints' values of every frame with matches,
    the lines held (``Q`` updated in place)."""
    lines = chain.lines(g)
    for t, m in enumerate(matches):
        if m is None:
            continue

        def res(q: np.ndarray, t: int = t, m: FrameMatches = m) -> np.ndarray:
            values = Q[t].copy()
            values[moving] = q
            return reprojection(m, chain.poses(lines, values), rig)

        for _ in range(steps):
            Q[t, moving] = lm_step(res, Q[t, moving], h, huber_px)


def adjust_lines(
    chain: Chain,
    g: np.ndarray,
    Q: Float[np.ndarray, "T P"],
    matches: list[FrameMatches | None],
    h: np.ndarray,
    rig: CameraRig,
    huber_px: float,
    steps: int,
) -> np.ndarray:
    """Levenberg-Marquardt on every joint line (``g``) over all frames, the values held."""
    used = [(t, m) for t, m in enumerate(matches) if m is not None]

    def res(gv: np.ndarray) -> np.ndarray:
        lines = chain.lines(gv)
        return np.concatenate([reprojection(m, chain.poses(lines, Q[t]), rig) for t, m in used])

    for _ in range(steps if len(g) and used else 0):
        g = lm_step(res, g, h, huber_px)
    return g


def adjust_joints(
    model: Model,
    mesh: SceneMesh,
    rig: CameraRig,
    frames: np.ndarray,
    rast,
    cfg: JointAdjustConfig,
    track_cfg: RenderCompareConfig,
) -> Model:
    """The model with its joints' lines and values adjusted (module docstring); the
    model itself when disabled or nothing moves."""
    P, T = len(model.parents), frames.shape[1]
    moving = [p for p in range(1, P) if model.fit(p).type is not JointType.FIXED]
    if not cfg.enabled or not moving:
        return model
    diag = mesh.bbox_diagonal()
    kinds = (JointType.FIXED,) + tuple(f.type for f in model.joint_fits)
    sizes = [geometry_size(kinds[p]) if p in moving else 0 for p in range(P)]
    chain = Chain(
        model.parents,
        kinds,
        ((np.zeros(3), np.zeros(3)),)
        + tuple((f.axis.copy(), f.origin.copy()) for f in model.joint_fits),
        np.concatenate([[0], np.cumsum(sizes)]).astype(int),
        np.ones((rig.num_views, P)) if model.view_scale is None else model.view_scale,
    )
    Q = np.stack([np.zeros(T)] + [f.values.astype(float) for f in model.joint_fits], 1)
    g = np.zeros(int(chain.offsets[-1]))
    h_value = np.array([1e-4 if kinds[p] is JointType.REVOLUTE else 1e-4 * diag for p in moving])
    h_line = np.array([h for p in moving for h in [1e-4] * 2 + [1e-4 * diag] * (sizes[p] - 2)])

    def as_model() -> Model:
        lines = chain.lines(g)
        fits = [None] + [
            replace(model.fit(p), axis=lines[p][1], origin=lines[p][2], values=Q[:, p].copy())
            for p in range(1, P)
        ]
        return replace(model, fits=tuple(fits), T_world=compose(model.parents, tuple(fits), T))

    for _ in range(cfg.rounds):
        before = Q[:, moving].copy()
        matches = collect_matches(as_model(), mesh, rig, frames, rast, track_cfg, cfg.max_matches)
        if all(m is None for m in matches):
            break
        args = (rig, track_cfg.huber_px, cfg.steps)
        adjust_values(chain, g, Q, matches, moving, h_value, *args)
        g = adjust_lines(chain, g, Q, matches, h_line, *args)
        adjust_values(chain, g, Q, matches, moving, h_value, *args)
        travel = np.maximum(np.abs(Q[:, moving]).max(0), 1e-12)
        if np.max(np.abs(Q[:, moving] - before) / travel) < cfg.tolerance:
            break
    return as_model()
