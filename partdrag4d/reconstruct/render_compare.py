"""Model-based (render-and-compare) registration of rigid parts against video frames.

We know the rest-state mesh and the cameras, so a hypothesis of every part's pose can
be rendered and compared with the frames of all views at once:

1. render the whole object with every part at its current pose (occlusion between
   parts is real), keeping each pixel's part label and rest-state surface point;
2. dense DIS optical flow from the render to the frame (grey levels matched over the
   foreground first), kept where the backward flow returns within ``fb_max_px``; the
   flow stays small because the render is already close;
3. every kept pixel of a part is a 2D-3D match (its rest-state point, the pixel plus
   its flow), weighted by the *rendered* image's local structure tensor (a 2x2
   information matrix): flow is only trusted across image gradients, so a faint
   texture or a plain face constrains just the directions its edges fix;
4. from the second round on, outline matches too (:mod:`.contour`): the render's
   silhouette pulled onto the frame's along its normal, which holds plain and thin
   parts that flow cannot follow;
5. a robust (Huber) Gauss-Newton over SE(3) on all views together moves each part
   (each step at most 0.2 rad and a fifth of the part's radius); steps 1-5 repeat
   ``iterations`` times.

:func:`track_parts` runs this frame by frame from a constant-velocity prediction, so
errors do not accumulate: every frame is registered against the model, not against
the previous frame. Pure numpy + OpenCV + the project's rasteriser; reads no ground
truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import cv2
import numpy as np
from jaxtyping import Float, Int, UInt8

from partdrag4d.config_checks import COUNT, POSITIVE
from partdrag4d.containers import CameraRig, SceneMesh
from partdrag4d.geometry.camera import pinhole_jacobian, project_each
from partdrag4d.geometry.se3 import invert_T, make_T, skew, so3_exp, transform_points
from partdrag4d.reconstruct.contour import (
    ContourConfig,
    Outline,
    contour_matches,
    drawn_outline,
    mask_outline,
    silhouette,
)


@dataclass
class RenderCompareConfig:
    """Settings of render-and-compare registration."""

    CHECKS: ClassVar[dict] = {
        "iterations": COUNT,
        "solver_steps": COUNT,
        "huber_px": POSITIVE,
        "max_matches_per_view": COUNT,
    }

    iterations: int = 3
    """Render / flow / solve rounds per frame (from a constant-velocity prediction the
    second round hardly moves a part)."""
    solver_steps: int = 10
    """Gauss-Newton steps per round."""
    huber_px: float = 1.0
    """Inlier scale of the robust loss, in information-whitened pixels."""
    fb_max_px: float = 1.0
    """Forward-backward flow consistency needed to keep a match (pixels)."""
    structure_sigma_px: float = 1.5
    """Smoothing of the structure tensor (pixels)."""
    info_floor: float = 1e-3
    """Information added in every direction, as a fraction of the part's mean
    gradient energy (keeps the 2x2 weights invertible on plain faces)."""
    erode_px: int = 1
    """Pixels next to a part's silhouette are left out (mixed surfaces)."""
    max_matches_per_view: int = 1500
    """Matches kept per part and view (evenly subsampled)."""
    min_matches: int = 12
    """A part with fewer matches over all views keeps its pose."""
    contour: ContourConfig = field(default_factory=ContourConfig)
    """Outline matches (the render's silhouette onto the frame's), for plain surfaces."""


def grey(image: UInt8[np.ndarray, "H W 3"]) -> Float[np.ndarray, "H W"]:
    """Luma of an sRGB image (OpenCV's weights), float."""
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float64)


def match_levels(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``b`` with its mean and spread over ``mask`` mapped to ``a``'s (generated frames
    drift in brightness and contrast); unchanged when ``mask`` has 10 pixels or fewer."""
    if mask.sum() <= 10:
        return b
    ma, sa, mb, sb = a[mask].mean(), a[mask].std(), b[mask].mean(), b[mask].std()
    return (b - mb) * (sa / max(sb, 1e-3)) + ma


def matched_gray(
    render: UInt8[np.ndarray, "H W 3"], frame: UInt8[np.ndarray, "H W 3"], mask: np.ndarray
) -> tuple[UInt8[np.ndarray, "H W"], UInt8[np.ndarray, "H W"]]:
    """Both images in grey (uint8, for the flow), the frame's levels matched to the
    render's over ``mask``."""
    a = grey(render)
    b = match_levels(a, grey(frame), mask)
    return np.clip(a, 0, 255).astype(np.uint8), np.clip(b, 0, 255).astype(np.uint8)


def consistent_flow(
    a: UInt8[np.ndarray, "H W"], b: UInt8[np.ndarray, "H W"], fb_max_px: float
) -> tuple[Float[np.ndarray, "H W 2"], np.ndarray]:
    """DIS flow from ``a`` to ``b`` and where the flow back from ``b`` returns to within
    ``fb_max_px``."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)  # pyright: ignore[reportAttributeAccessIssue]
    fwd = dis.calc(a, b, None)
    bwd = dis.calc(b, a, None)
    h, w = a.shape
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    back = cv2.remap(bwd, gx + fwd[..., 0], gy + fwd[..., 1], cv2.INTER_LINEAR)
    ok = np.linalg.norm(fwd + back, axis=-1) < fb_max_px
    return fwd.astype(np.float64), ok


def structure_tensor(gray: np.ndarray, sigma_px: float) -> Float[np.ndarray, "H W 2 2"]:
    """Smoothed outer product of the image gradient (per-pixel 2x2 information)."""
    g = gray.astype(np.float32)
    ix = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    iy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    blur = lambda x: cv2.GaussianBlur(x, (0, 0), sigma_px)  # noqa: E731
    jxx, jxy, jyy = blur(ix * ix), blur(ix * iy), blur(iy * iy)
    return np.stack([np.stack([jxx, jxy], -1), np.stack([jxy, jyy], -1)], -2).astype(np.float64)


def sqrt_information(info: Float[np.ndarray, "N 2 2"], floor: float) -> np.ndarray:
    """``S`` with ``S^T S = info / scale + floor I`` (``scale`` = the mean half trace),
    so whitened residuals ``S r`` are in pixels where the gradients are typical and
    plain pixels weigh ``floor`` in every direction."""
    scale = max(float(np.mean(np.trace(info, axis1=1, axis2=2))) / 2.0, 1e-12)
    lam, Q = np.linalg.eigh(info / scale + floor * np.eye(2))
    return np.sqrt(np.maximum(lam, 0.0))[..., :, None] * np.swapaxes(Q, -1, -2)


@dataclass(frozen=True)
class Matches:
    """2D-3D matches of one part over several views."""

    X: Float[np.ndarray, "N 3"]
    """Rest-state world points."""
    uv: Float[np.ndarray, "N 2"]
    """Where the frame shows them (pixels)."""
    view: Int[np.ndarray, "N"]
    """View of each match."""
    sqrt_info: Float[np.ndarray, "N 2 2"]
    """Whitening ``S`` of each residual (``S^T S`` = its information)."""


def limited(step: Float[np.ndarray, "6"], reach: float) -> Float[np.ndarray, "6"]:
    """A Gauss-Newton step (rotation, translation) scaled down, whole, to at most 0.2 rad
    and a fifth of ``reach`` (the matches' radius) per step: a direction the matches
    hardly constrain (a part seen by its outline only) must not fling it away."""
    rot, move = np.linalg.norm(step[:3]), np.linalg.norm(step[3:])
    factor = min(1.0, 0.2 / max(rot, 1e-12), 0.2 * max(reach, 1e-9) / max(move, 1e-12))
    return step * factor


def solve_pose(
    T_init: Float[np.ndarray, "4 4"], m: Matches, rig: CameraRig, cfg: RenderCompareConfig
) -> Float[np.ndarray, "4 4"]:
    """Robust (Huber, IRLS) Gauss-Newton for the pose ``T`` (world from rest) that
    projects ``T m.X`` onto ``m.uv`` in every view, updated by a rotation about the
    matches' centre and a translation."""
    c = m.X.mean(0)
    reach = float(np.sqrt(np.mean(np.sum((m.X - c) ** 2, axis=1))))  # the matches' RMS radius
    T = T_init.copy()
    Rc, tc = rig.T_cam_world[m.view, :3, :3], rig.T_cam_world[m.view, :3, 3]
    for _ in range(cfg.solver_steps):
        Xw = transform_points(T, m.X)
        xy, z = project_each(rig.K, rig.T_cam_world, m.view, Xw)
        r = np.einsum("nij,nj->ni", m.sqrt_info, xy - m.uv)  # whitened residuals
        Xc = np.einsum("nij,nj->ni", Rc, Xw) + tc
        DR = pinhole_jacobian(rig.K[m.view], Xc) @ Rc  # N 2 3: d pixel / d world point
        arm = Xw - transform_points(T, c[None])[0]
        J = np.concatenate([-DR @ skew(arm), DR], -1)  # left update about the centre
        J = np.einsum("nij,njk->nik", m.sqrt_info, J)
        norm = np.linalg.norm(r, axis=1)
        w = np.where(norm <= cfg.huber_px, 1.0, cfg.huber_px / np.maximum(norm, 1e-12))
        w = np.where(z > 1e-9, w, 0.0)[:, None]
        A = np.einsum("nik,nil->kl", J * w[..., None], J)
        g = np.einsum("nik,ni->k", J * w[..., None], r)
        if not np.isfinite(np.trace(A)) or np.trace(A) <= 0:
            break  # nothing constrains the pose (every match behind a camera)
        step = limited(-np.linalg.solve(A + 1e-9 * np.trace(A) * np.eye(6), g), reach)
        centre = transform_points(T, c[None])[0]
        R = so3_exp(step[:3])
        T = make_T(R @ T[:3, :3], R @ (T[:3, 3] - centre) + centre + step[3:])
        if np.linalg.norm(step[:3]) < 1e-7 and np.linalg.norm(step[3:]) < 1e-9:
            break
    return T


def part_matches(
    render, flow: np.ndarray, ok: np.ndarray, info: np.ndarray, part: int, view: int, cfg
) -> tuple[np.ndarray, ...]:
    """The matches of ``part`` in one view: interior pixels with a consistent flow."""
    mask = (render.label == part).astype(np.uint8)
    if cfg.erode_px > 0:
        mask = cv2.erode(mask, np.ones((3, 3), np.uint8), iterations=cfg.erode_px)
    rows, cols = np.nonzero(mask.astype(bool) & ok)
    if len(rows) > cfg.max_matches_per_view:
        keep = np.linspace(0, len(rows) - 1, cfg.max_matches_per_view).astype(int)
        rows, cols = rows[keep], cols[keep]
    X = render.rest_xyz[rows, cols].astype(np.float64)
    uv = np.stack([cols + 0.5, rows + 0.5], -1) + flow[rows, cols]
    return X, uv, np.full(len(rows), view), info[rows, cols]


def view_matches(
    rast,
    rig: CameraRig,
    view: int,
    verts: Float[np.ndarray, "N 3"],
    vertex_part: Int[np.ndarray, "N"],
    frame: UInt8[np.ndarray, "H W 3"],
    parts: list[int],
    cfg: RenderCompareConfig,
    edges: Outline | None = None,
) -> dict[int, tuple[np.ndarray, ...]]:
    """Render the posed mesh in one view, flow from the render to the frame, and the
    raw matches (X, uv, view, information) of each of ``parts`` there: flow matches and,
    with the frame's outline ``edges`` (:func:`frame_edges`), outline matches."""
    out = rast.render(rig.K[view], rig.T_cam_world[view], verts, vertex_part)
    a, b = matched_gray(out.rgb, frame, out.mask)
    flow, ok = consistent_flow(a, b, cfg.fb_max_px)
    info = structure_tensor(a, cfg.structure_sigma_px)
    found = {p: part_matches(out, flow, ok, info, p, view, cfg) for p in parts}
    if edges is not None:
        extra = outline_matches(out, info, edges, parts, view, cfg)
        for p, more in extra.items():
            found[p] = tuple(np.concatenate([x, y]) for x, y in zip(found[p], more, strict=True))
    return found


def outline_matches(
    out, info: np.ndarray, edges: Outline, parts: list[int], view: int, cfg: RenderCompareConfig
) -> dict[int, tuple[np.ndarray, ...]]:
    """The outline matches (:mod:`.contour`) of each of ``parts`` between a render
    ``out`` (its structure tensor ``info``) and a frame's outline ``edges``, each
    weighing as much as a typical flow match of this view."""
    seen = silhouette(out.rgb, cfg.contour.background_threshold)  # as the frame's
    drawn = drawn_outline(seen, out.label, out.rest_xyz)
    if drawn is None:
        return {}
    scale = max(float(np.mean(np.trace(info[out.mask], axis1=1, axis2=2))) / 2.0, 1e-6)
    return {p: contour_matches(drawn, edges, p, view, scale, cfg.contour) for p in parts}


def frame_edges(frame: UInt8[np.ndarray, "H W 3"], cfg: RenderCompareConfig) -> Outline | None:
    """The outline of a frame's foreground for outline matches (None: none, or off)."""
    if not cfg.contour.enabled:
        return None
    return mask_outline(silhouette(frame, cfg.contour.background_threshold), nearest=True)


def to_matches(found: list[tuple[np.ndarray, ...]], cfg: RenderCompareConfig) -> Matches | None:
    """Raw matches of one part (from one or more views) as :class:`Matches`, or None
    with fewer than ``min_matches``."""
    X, uv, view, info = (np.concatenate(x) for x in zip(*found, strict=True))
    if len(X) < cfg.min_matches:
        return None
    return Matches(X, uv, view, sqrt_information(info, cfg.info_floor))


def register_frame(
    rast,
    rig: CameraRig,
    rest: Float[np.ndarray, "N 3"],
    vertex_part: Int[np.ndarray, "N"],
    frames: UInt8[np.ndarray, "V H W 3"],
    T_parts: Float[np.ndarray, "P 4 4"],
    solve: list[int],
    cfg: RenderCompareConfig,
) -> Float[np.ndarray, "P 4 4"]:
    """Move the parts in ``solve`` so the render matches the frames of every view.

    Args:
        rast: a :class:`~partdrag4d.render.rasterizer.Rasterizer` of the rest mesh.
        rig: the cameras.
        rest: rest-state vertices (world frame).
        vertex_part: part index of every vertex.
        frames: one frame per view.
        T_parts: current pose of every part (world from rest).
        solve: parts to move (others, e.g. the static base, stay).
        cfg: settings.

    Returns:
        The new poses.
    """
    from partdrag4d.assets.kinematics import move_vertices

    T_parts = T_parts.copy()
    edges = [frame_edges(frames[v], cfg) for v in range(rig.num_views)]
    for i in range(cfg.iterations):
        verts = move_vertices(rest, vertex_part, T_parts)
        # outlines pull to the *nearest* edge: only once flow has brought the parts close
        with_outlines = i >= cfg.contour.from_round or i == cfg.iterations - 1
        use = edges if with_outlines else [None] * rig.num_views
        per_view = [
            view_matches(rast, rig, v, verts, vertex_part, frames[v], solve, cfg, use[v])
            for v in range(rig.num_views)
        ]
        for p in solve:
            m = to_matches([found[p] for found in per_view], cfg)
            if m is not None:
                T_parts[p] = solve_pose(T_parts[p], m, rig, cfg)
    return T_parts


def track_parts(
    mesh: SceneMesh,
    vertex_part: Int[np.ndarray, "N"],
    rig: CameraRig,
    frames: UInt8[np.ndarray, "V T H W 3"],
    moving: list[int],
    cfg: RenderCompareConfig | None = None,
    held: Float[np.ndarray, "T P 4 4"] | None = None,
) -> Float[np.ndarray, "T P 4 4"]:
    """Per-frame poses of the ``moving`` parts (frame 0 = rest, identity) by
    render-and-compare from a constant-velocity prediction.

    Args:
        mesh: the rest-state mesh (its appearance is what the render compares).
        vertex_part: part index of every vertex (0 .. P-1).
        rig: the cameras of the frames.
        frames: V views x T frames.
        moving: parts to track; the others stay at the identity or at ``held``.
        cfg: settings.
        held: per-frame poses of the parts not tracked (e.g. an already fitted model).

    Returns:
        ``T_world_part`` per frame.
    """
    from partdrag4d.render.rasterizer import Rasterizer

    cfg = cfg or RenderCompareConfig()
    T = frames.shape[1]
    P = held.shape[1] if held is not None else max([int(vertex_part.max()), *moving]) + 1
    poses = np.tile(np.eye(4), (T, P, 1, 1)) if held is None else held.copy()
    poses[:, moving] = np.eye(4)
    with Rasterizer(mesh, rig.width, rig.height) as rast:
        for t in range(1, T):
            pred = poses[t].copy()
            pred[moving] = poses[t - 1, moving]
            if t >= 2:  # constant velocity: the last step once more
                for p in moving:
                    pred[p] = poses[t - 1, p] @ invert_T(poses[t - 2, p]) @ poses[t - 1, p]
            poses[t] = register_frame(
                rast, rig, mesh.vertices, vertex_part, frames[:, t], pred, moving, cfg
            )
    return poses
