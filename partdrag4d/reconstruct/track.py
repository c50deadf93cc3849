"""The ``track`` stage: follow rest-surface points through every view's video.

Anchors are pixels of the *rest mesh* rendered with each view's camera (the rest mesh
is user input, not ground truth), so each anchor has a known rest-state 3D position.
Every anchor is tracked in each view that sees it at rest (cross-view visibility by the
rest depth map), which gives multi-view observations of the same surface point and a
triangulated 3D trajectory. 2D tracking chains DIS optical flow (OpenCV) between
consecutive frames, refines the chained flow by a direct frame-0 -> frame-t DIS pass
on frame t warped back with it (less drift), and checks forward-backward consistency and
patch correlation to detect occlusion and failure: once a track fails it stays invisible.
Both checks adapt to noisy (generated) video: the forward-backward threshold rises with
the frame's median error, and correlation is only tested on patches whose contrast
stands out of the estimated pixel noise.

Pixels are corner-origin (pixel ``(i, j)`` has its centre at ``(j + 0.5, i + 0.5)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np
from jaxtyping import Bool, Float, Int, UInt8

from partdrag4d.config_checks import COUNT, FRACTION, OneOf, Range
from partdrag4d.containers import CameraRig, SceneMesh, StageInputs, Tracks, VideoSet
from partdrag4d.errors import InputError
from partdrag4d.geometry.camera import project_each
from partdrag4d.progress import bar

_SOURCE = "VideoSet"
_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


@dataclass
class TrackConfig:
    """Settings of the track stage."""

    CHECKS: ClassVar[dict] = {
        "flow_preset": OneOf(tuple(_PRESETS)),
        "anchors_per_view": COUNT,
        "min_silhouette_iou": FRACTION,
        "min_ncc": Range(-1.0, 1.0),
        "ncc_patch_px": Range(3, 63, integer=True),
    }

    anchors_per_view: int = 600
    """Anchor pixels sampled on the rest-mesh silhouette of each view."""
    flow_preset: str = "medium"
    """DIS optical-flow preset: ultrafast, fast or medium."""
    fb_threshold_px: float = 1.0
    """Forward-backward consistency threshold (pixels); above it the track is lost."""
    fb_median_factor: float = 3.0
    """In noisy videos the threshold rises to this times the frame's median
    forward-backward error of the live tracks (flow noise, not occlusion); 0 = fixed."""
    direct_refine: bool = True
    """Refine the chained flow with a direct frame-0 -> frame-t DIS pass (less drift)."""
    edge_margin_px: int = 2
    """Anchors keep at least this distance (pixels) from the rest silhouette's edge."""
    depth_tolerance: float = 0.01
    """Relative depth tolerance of the cross-view visibility test at rest."""
    min_silhouette_iou: float = 0.5
    """Minimum IoU between the rest-mesh silhouette and frame 0's foreground per view
    (detects a mesh that does not match the video); 0 disables the check."""
    background_threshold: int = 12
    """Colour difference (0-255) from the border colour that counts as foreground when the
    video has no alpha."""
    ncc_patch_px: int = 7
    """Side of the patch compared between consecutive frames (occlusion check)."""
    min_ncc: float = 0.75
    """Tracks whose patch correlation with the previous frame falls below this are lost
    (a surface occluded by another rarely passes the forward-backward check alone)."""
    ncc_min_contrast: float = 3.0
    """The correlation check only applies to patches whose intensity std is at least this
    many times the image noise (estimated per frame): on a plain surface the correlation
    of pixel noise says nothing about occlusion."""
    upsample: int = 0
    """Images are upscaled by this factor before flow (DIS is coarse on small images);
    0 = automatic: the smallest factor giving a short side of at least 256 px."""
    finest_scale: int = 0
    """DIS finest pyramid level (0 = full resolution of the upscaled image)."""
    max_reprojection_px: float = 2.0
    """Triangulated points whose reprojection exceeds this in any view are dropped (NaN)."""
    presmooth_sigma_px: float = 0.0
    """Gaussian pre-blur of every frame before flow (pixels at video resolution): makes
    DIS robust to pixel noise and to frames blurred differently (generated videos)."""
    normalize_intensity: bool = False
    """Match every frame's foreground brightness mean/std to frame 0's before flow
    (removes the slow colour drift of generated videos)."""


def _check_inputs(videos: VideoSet, mesh: SceneMesh) -> None:
    cams = videos.cameras
    f = videos.frames
    if f.ndim != 5 or f.shape[-1] != 3:
        raise InputError(_SOURCE, "frames", f"expected (V, T, H, W, 3), got {f.shape}")
    V, T, H, W, _ = f.shape
    if V == 0 or T == 0 or H == 0 or W == 0:
        raise InputError(_SOURCE, "frames", f"empty video set {f.shape}")
    if cams.num_views != V or cams.T_cam_world.shape[0] != V:
        raise InputError(_SOURCE, "cameras", f"{cams.num_views} cameras for {V} videos")
    if (cams.height, cams.width) != (H, W):
        raise InputError(
            _SOURCE, "frames", f"frame size {W}x{H} differs from cameras {cams.width}x{cams.height}"
        )
    if T < 2:
        raise InputError(_SOURCE, "frames", f"need at least 2 frames, got {T}")
    if not (np.all(np.isfinite(cams.K)) and np.all(np.isfinite(cams.T_cam_world))):
        raise InputError(_SOURCE, "cameras", "K or T_cam_world contains NaN/inf")
    if videos.drags_2d.shape[0] != V:
        raise InputError(_SOURCE, "drags_2d", f"{videos.drags_2d.shape[0]} views for {V} videos")
    for v in range(V):
        if int(f[v].max()) == int(f[v].min()):
            raise InputError(_SOURCE, f"frames[{v}]", "video is constant (empty image)")
    if mesh.num_vertices == 0:
        raise InputError("mesh", "vertices", "rest mesh is empty")


def foreground(image: UInt8[np.ndarray, "H W 3"], threshold: int) -> Bool[np.ndarray, "H W"]:
    """Foreground of an image on a uniform background: pixels whose colour differs from
    the median border colour by more than ``threshold``."""
    border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]], 0)
    bg = np.median(border, axis=0)
    return np.abs(image.astype(np.int16) - bg[None, None].astype(np.int16)).max(-1) > threshold


def _sample(field: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Bilinear sample of an (H, W, C) field at corner-origin pixel coordinates."""
    m = (uv - 0.5).astype(np.float32)
    out = cv2.remap(
        field, m[:, 0][None], m[:, 1][None], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return out.reshape(len(uv), -1)


def _warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``out(x) = image(x + flow(x))`` (backward warp, bilinear)."""
    H, W = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(W, dtype=np.float32), np.arange(H, dtype=np.float32))
    return cv2.remap(
        image,
        gx + flow[..., 0],
        gy + flow[..., 1],
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )


def _patches(image: np.ndarray, uv: np.ndarray, size: int) -> np.ndarray:
    """Bilinear ``size x size`` patches centred on corner-origin pixel positions."""
    r = np.arange(size, dtype=np.float32) - (size - 1) / 2
    dx, dy = np.meshgrid(r, r)
    mx = (uv[:, 0:1] - 0.5).astype(np.float32) + dx.reshape(1, -1)
    my = (uv[:, 1:2] - 0.5).astype(np.float32) + dy.reshape(1, -1)
    return cv2.remap(
        image.astype(np.float32), mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def ncc(a: Float[np.ndarray, "N K"], b: Float[np.ndarray, "N K"]) -> Float[np.ndarray, "N"]:
    """Zero-mean normalised cross-correlation of corresponding rows (1 for flat pairs)."""
    a = a - a.mean(1, keepdims=True)
    b = b - b.mean(1, keepdims=True)
    den = np.sqrt((a * a).sum(1) * (b * b).sum(1))
    return np.where(den > 1e-6, (a * b).sum(1) / np.maximum(den, 1e-6), 1.0)


def noise_sigma(gray: np.ndarray) -> float:
    """Std of additive pixel noise of a gray image (Immerkaer's Laplacian-difference
    estimator with a median, so edges and texture hardly bias it)."""
    k = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    r = cv2.filter2D(gray.astype(np.float32), -1, k)[1:-1, 1:-1]
    # For Gaussian noise, E|r| = 6 sigma sqrt(2/pi) and median|r| = 0.674 * 6 sigma.
    return float(np.median(np.abs(r)) / (0.6745 * 6.0))


def _compose(flow_0a: np.ndarray, flow_ab: np.ndarray) -> np.ndarray:
    """Dense flow 0->b from 0->a and a->b: ``f(x) = f0a(x) + fab(x + f0a(x))``."""
    H, W = flow_0a.shape[:2]
    gx, gy = np.meshgrid(np.arange(W, dtype=np.float32), np.arange(H, dtype=np.float32))
    mx, my = gx + flow_0a[..., 0], gy + flow_0a[..., 1]
    warped = cv2.remap(flow_ab, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return flow_0a + warped


def _preprocess(
    frames: UInt8[np.ndarray, "T H W 3"],
    cfg: TrackConfig,
    alpha: Float[np.ndarray, "T H W"] | None,
) -> list[np.ndarray]:
    """Gray frames for flow: optional brightness normalisation to frame 0 and pre-blur."""
    gray = [cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in frames]
    if cfg.normalize_intensity:
        g = [x.astype(np.float32) for x in gray]
        thr = cfg.background_threshold
        masks = [
            (alpha[t] > 0.5) if alpha is not None else foreground(frames[t], thr)
            for t in range(len(frames))
        ]
        m0 = masks[0]
        mu0, sd0 = float(g[0][m0].mean()), float(g[0][m0].std()) + 1e-6
        for t in range(1, len(g)):
            # Background and foreground both: an affine gain/offset is global.
            m = masks[t] if masks[t].sum() > 16 else m0
            mu, sd = float(g[t][m].mean()), float(g[t][m].std()) + 1e-6
            g[t] = (g[t] - mu) * (sd0 / sd) + mu0
        gray = [np.clip(np.round(x), 0, 255).astype(np.uint8) for x in g]
    if cfg.presmooth_sigma_px > 0:
        gray = [cv2.GaussianBlur(x, (0, 0), cfg.presmooth_sigma_px) for x in gray]
    return gray


def track_points_2d(
    frames: UInt8[np.ndarray, "T H W 3"],
    uv0: Float[np.ndarray, "N 2"],
    cfg: TrackConfig,
    alpha: Float[np.ndarray, "T H W"] | None = None,
) -> tuple[Float[np.ndarray, "T N 2"], Bool[np.ndarray, "T N"], Float[np.ndarray, "T N"]]:
    """Track pixels through one video (DIS flow, chained, refined, FB-checked).

    Returns:
        ``(uv, visible, confidence)``; a lost track stays invisible (confidence 0).
    """
    T, H, W, _ = frames.shape
    s = cfg.upsample if cfg.upsample > 0 else max(1, -(-256 // min(H, W)))
    gray = _preprocess(frames, cfg, alpha)
    if s > 1:
        gray = [cv2.resize(g, (W * s, H * s), interpolation=cv2.INTER_CUBIC) for g in gray]
    noise = [noise_sigma(g) for g in gray]
    dis = cv2.DISOpticalFlow_create(_PRESETS[cfg.flow_preset])  # pyright: ignore[reportAttributeAccessIssue]
    dis.setFinestScale(cfg.finest_scale)
    N = len(uv0)
    uv0 = uv0 * s  # corner-origin coordinates scale exactly
    W, H = W * s, H * s
    uv = np.zeros((T, N, 2))
    vis = np.zeros((T, N), bool)
    conf = np.zeros((T, N))
    uv[0], vis[0], conf[0] = uv0, True, 1.0
    alive = np.ones(N, bool)
    acc = np.zeros((H, W, 2), np.float32)  # dense flow frame 0 -> t
    for t in range(1, T):
        fwd = dis.calc(gray[t - 1], gray[t], None)
        bwd = dis.calc(gray[t], gray[t - 1], None)
        acc = _compose(acc, fwd) if t > 1 else fwd.copy()
        if cfg.direct_refine:
            # Warp frame t back onto frame 0 with the chained flow, measure the residual
            # flow 0 -> warped directly against frame 0 (no drift) and compose.
            warped = _warp(gray[t], acc)
            acc = _compose(dis.calc(gray[0], warped, None), acc)
        prev = uv[t - 1]
        cur = uv0 + _sample(acc, uv0)
        # Forward-backward check on the consecutive pair at the track's own positions.
        back = cur + _sample(bwd, cur)
        fb = np.linalg.norm(back - prev, axis=1)
        step = prev + _sample(fwd, prev)
        fb = np.maximum(fb, np.linalg.norm(step - cur, axis=1))
        inside = (cur[:, 0] >= 0) & (cur[:, 0] < W) & (cur[:, 1] >= 0) & (cur[:, 1] < H)
        fb_max = cfg.fb_threshold_px * s
        if cfg.fb_median_factor > 0 and alive.any():
            fb_max = max(fb_max, cfg.fb_median_factor * float(np.median(fb[alive])))
        ok = alive & inside & (fb < fb_max)
        if cfg.min_ncc > -1:
            a = _patches(gray[t - 1], prev, cfg.ncc_patch_px)
            c = ncc(a, _patches(gray[t], cur, cfg.ncc_patch_px))
            sigma = max(noise[t - 1], noise[t])
            plain = a.std(1) < cfg.ncc_min_contrast * sigma
            ok &= (c >= cfg.min_ncc) | plain
        if alpha is not None:
            ij = np.clip(np.floor(cur).astype(int), 0, [W - 1, H - 1])
            ok &= alpha[t, ij[:, 1] // s, ij[:, 0] // s] > 0.5
        alive = ok
        uv[t] = np.where(alive[:, None], cur, prev)
        vis[t] = alive
        conf[t] = np.where(alive, np.exp(-fb / (cfg.fb_threshold_px * s)), 0.0)
    return uv / s, vis, conf


def triangulate_tracks(
    cams: CameraRig,
    group: Int[np.ndarray, "N"],
    view: Int[np.ndarray, "N"],
    uv: Float[np.ndarray, "T N 2"],
    visible: Bool[np.ndarray, "T N"],
    max_reprojection_px: float,
) -> Float[np.ndarray, "T N 3"]:
    """Per frame, DLT-triangulate every group of entries (same surface point) seen in at
    least two views; NaN elsewhere. Batched: one SVD per (group, frame)."""
    T, N, _ = uv.shape
    G = int(group.max()) + 1
    P = cams.K[view] @ cams.T_cam_world[view, :3, :]  # N 3 4
    rows_u = uv[..., :1] * P[None, :, 2] - P[None, :, 0]  # T N 4
    rows_v = uv[..., 1:] * P[None, :, 2] - P[None, :, 1]
    w = visible[..., None].astype(float)
    rows_u = rows_u * w / np.maximum(np.linalg.norm(rows_u, axis=-1, keepdims=True), 1e-300)
    rows_v = rows_v * w / np.maximum(np.linalg.norm(rows_v, axis=-1, keepdims=True), 1e-300)
    # Normal equations A^T A summed per group: the null vector is the solution.
    M = np.einsum("tni,tnj->tnij", rows_u, rows_u) + np.einsum("tni,tnj->tnij", rows_v, rows_v)
    AtA = np.zeros((T, G, 4, 4))
    # (numpy's annotations of ufunc.at take no tuple of indices: pyright is told below)
    np.add.at(AtA, (slice(None), group), M)  # pyright: ignore[reportArgumentType]
    count = np.zeros((T, G), int)
    np.add.at(count, (slice(None), group), visible.astype(int))  # pyright: ignore[reportArgumentType]
    _, vecs = np.linalg.eigh(AtA)
    h = vecs[..., 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        X = h[..., :3] / h[..., 3:4]
    X[count < 2] = np.nan
    Xn = X[:, group]  # T N 3
    err = np.full((T, N), np.nan)
    for t in range(T):
        xy, z = project_each(cams.K, cams.T_cam_world, view, np.nan_to_num(Xn[t]))
        err[t] = np.where(z > 0, np.linalg.norm(xy - uv[t], axis=-1), np.inf)
    bad = np.zeros((T, G), bool)
    keep = visible & ~(err <= max_reprojection_px)
    np.logical_or.at(bad, (slice(None), group), keep)  # pyright: ignore[reportArgumentType]
    X[bad] = np.nan
    return X[:, group]


def run_track(
    cfg: TrackConfig, videos: VideoSet, mesh: SceneMesh, generator: np.random.Generator
) -> Tracks:
    """Track rest-surface points through all views (never reads the ground truth of ``videos``).

    Args:
        cfg: track settings.
        videos: the generated videos and their cameras.
        mesh: the rest-state mesh (frame 0 of every video shows it).
        generator: randomness for anchor sampling.

    Returns:
        The tracks; entries with the same ``point`` id are the same surface point seen
        from different views.

    Raises:
        InputError: inconsistent videos/cameras, constant videos, or a mesh that does not
            match the first frames (no visible anchors).
    """
    from partdrag4d.render.rasterizer import Rasterizer, RasterizerConfig

    _check_inputs(videos, mesh)
    if cfg.flow_preset not in _PRESETS:
        raise InputError("track", "flow_preset", f"unknown preset {cfg.flow_preset!r}")
    cams = videos.cameras
    V, T, H, W, _ = videos.frames.shape
    rast = Rasterizer(mesh, W, H, RasterizerConfig(samples=0, lighting=False, textured=False))
    try:
        rest = [rast.render(cams.K[v], cams.T_cam_world[v]) for v in range(V)]
    finally:
        rast.release()

    kernel = np.ones((2 * cfg.edge_margin_px + 1,) * 2, np.uint8)
    anchors, seed_view = [], []
    for v in bar(range(V), desc="track", unit="view"):
        mask = rest[v].mask
        if videos.alpha is not None:
            fg0 = videos.alpha[v, 0] > 0.5
        else:
            fg0 = foreground(videos.frames[v, 0], cfg.background_threshold)
        union = np.logical_or(mask, fg0).sum()
        iou = np.logical_and(mask, fg0).sum() / max(union, 1)
        if cfg.min_silhouette_iou > 0 and iou < cfg.min_silhouette_iou:
            raise InputError(
                _SOURCE,
                f"frames[{v}][0]",
                f"rest mesh silhouette does not match the first frame (IoU {iou:.2f})",
            )
        inner = cv2.erode(mask.astype(np.uint8), kernel) > 0 if cfg.edge_margin_px else mask
        ii, jj = np.nonzero(inner & fg0)
        if len(ii) == 0:
            continue
        pick = np.sort(generator.choice(len(ii), min(cfg.anchors_per_view, len(ii)), replace=False))
        anchors.append(rest[v].rest_xyz[ii[pick], jj[pick]].astype(np.float64))
        seed_view.append(np.full(len(pick), v))
    if not anchors:
        raise InputError(_SOURCE, "frames", "no visible anchors: the mesh does not match frame 0")
    X = np.concatenate(anchors)
    seed = np.concatenate(seed_view)
    G = len(X)

    # Cross-view visibility at rest: inside the image and in front of the rest depth.
    groups, views, uv0s = [], [], []
    for w in range(V):
        xy, z = project_each(cams.K, cams.T_cam_world, np.full(G, w), X)
        ij = np.floor(xy).astype(int)
        inside = (z > 0) & (ij[:, 0] >= 0) & (ij[:, 0] < W) & (ij[:, 1] >= 0) & (ij[:, 1] < H)
        ijc = np.clip(ij, 0, [W - 1, H - 1])
        d = rest[w].depth[ijc[:, 1], ijc[:, 0]]
        ok = inside & (d > 0) & (np.abs(d - z) < cfg.depth_tolerance * z)
        ok |= seed == w
        groups.append(np.nonzero(ok)[0])
        views.append(np.full(ok.sum(), w))
        uv0s.append(xy[ok])

    uv = np.zeros((T, 0, 2))
    vis = np.zeros((T, 0), bool)
    conf = np.zeros((T, 0))
    for w in range(V):
        alpha = None if videos.alpha is None else videos.alpha[w]
        u, s, c = track_points_2d(videos.frames[w], uv0s[w], cfg, alpha)
        uv, vis, conf = (np.concatenate(a, 1) for a in ((uv, u), (vis, s), (conf, c)))
    group = np.concatenate(groups)
    view = np.concatenate(views)
    points_3d = triangulate_tracks(cams, group, view, uv, vis, cfg.max_reprojection_px)
    return Tracks(
        point=group.astype(np.int64),
        anchors_3d=X[group],
        view=view.astype(np.int64),
        uv=uv,
        visible=vis,
        confidence=conf,
        points_3d=points_3d,
    )


def track_stage(cfg: TrackConfig, inputs: StageInputs, rng: np.random.Generator) -> Tracks:
    """The `track` stage: :func:`run_track` on the videos and the prepared rest mesh."""
    return run_track(cfg, inputs["generate"], inputs["prepare"].mesh, rng)
