"""Silhouette matches for render-and-compare: where a surface has no texture, optical
flow has nothing to hold on to, but its outline still shows where it is.

The render's foreground and the frame's are found by the same test (colour away from
the border's), so anti-aliased rims give both outlines the same offset and they agree
at the right pose. Every pixel on the render's outline is matched to the nearest pixel
of the frame's outline; the displacement between them moves the nearest pixel the
part's surface covers (its rest-state point is the 3D side of the match). Like
point-to-line ICP, the match constrains only the direction of the render
outline's normal (an outline sliding along itself is not seen), so its 2x2 information
is ``n n^T``; matches further than ``max_px`` or whose two outlines face different ways
are dropped. Both masks lose their specks and pinholes first (noise). The nearest edge
is the right one only near the right pose, so the tracker adds these matches from its
second round on, once flow has brought the part close; repeated with its re-renders,
the outline converges onto the frame's. Pure numpy + OpenCV + SciPy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np
from jaxtyping import Bool, Float, Int, UInt8
from scipy.ndimage import distance_transform_edt

from partdrag4d.config_checks import AMOUNT, COUNT, POSITIVE, Range
from partdrag4d.reconstruct.track import foreground


@dataclass
class ContourConfig:
    """Settings of the silhouette matches."""

    CHECKS: ClassVar[dict] = {
        "from_round": Range(0, integer=True),
        "max_px": POSITIVE,
        "weight": AMOUNT,
        "max_matches_per_view": COUNT,
        "background_threshold": Range(0, 255, integer=True),
    }

    enabled: bool = True
    """Add outline matches to the flow matches (textureless parts need them)."""
    from_round: int = 1
    """First render / flow / solve round (0-based) that adds outline matches (the last
    round always does): the nearest edge is the right one only once flow has brought
    the part close, or a lid that opened is held on the body's rim."""
    max_px: float = 8.0
    """Outline pixels further than this from the frame's outline give no match."""
    weight: float = 1.0
    """Information of an outline match along its normal, relative to a typical flow
    match."""
    max_matches_per_view: int = 400
    """Outline matches kept per part and view (evenly subsampled)."""
    background_threshold: int = 12
    """A frame pixel is foreground when its colour differs from the median border
    colour by more than this (as the track stage decides)."""


def outline(mask: Bool[np.ndarray, "H W"]) -> Bool[np.ndarray, "H W"]:
    """Pixels of ``mask`` with a 4-neighbour outside it (the image border is not an
    outline: the object may go on beyond it)."""
    m = np.pad(mask, 1, mode="edge")
    inner = m[:-2, 1:-1] & m[2:, 1:-1] & m[1:-1, :-2] & m[1:-1, 2:]
    return mask & ~inner


def silhouette(image: UInt8[np.ndarray, "H W 3"], threshold: int) -> Bool[np.ndarray, "H W"]:
    """An image's foreground (:func:`~partdrag4d.reconstruct.track.foreground`: colour
    away from the border's by more than ``threshold``) without its specks (pixel noise
    past the threshold on the background) and pinholes (object pixels that look like the
    background): a 3x3 opening, then a closing. Renders and frames both go through it,
    so their outlines stay alike."""
    kernel = np.ones((3, 3), np.uint8)
    m = cv2.morphologyEx(foreground(image, threshold).astype(np.uint8), cv2.MORPH_OPEN, kernel)
    return cv2.morphologyEx(m, cv2.MORPH_CLOSE, kernel).astype(bool)


def outward_normals(mask: Bool[np.ndarray, "H W"]) -> Float[np.ndarray, "H W 2"]:
    """Unit outward normal (x, y) of a mask's outline: minus the gradient of the lightly
    blurred mask (zero where it is flat)."""
    soft = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 1.0)
    gx = cv2.Sobel(soft, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(soft, cv2.CV_32F, 0, 1, ksize=3)
    n = -np.stack([gx, gy], -1).astype(np.float64)
    norm = np.linalg.norm(n, axis=-1, keepdims=True)
    return np.where(norm > 1e-6, n / np.maximum(norm, 1e-12), 0.0)


def nearest_pixel(
    target: Bool[np.ndarray, "H W"],
) -> tuple[Float[np.ndarray, "H W"], Int[np.ndarray, "2 H W"]]:
    """For every pixel, the distance to the nearest ``target`` pixel and its row and
    column (Euclidean distance transform)."""
    out = distance_transform_edt(~target, return_indices=True)
    assert isinstance(out, tuple)
    return np.asarray(out[0], np.float64), np.asarray(out[1])


@dataclass(frozen=True)
class Outline:
    """A mask's outline, its outward normals and, for every pixel, the nearest outline
    pixel."""

    edge: Bool[np.ndarray, "H W"]
    """Outline pixels."""
    normal: Float[np.ndarray, "H W 2"]
    """Outward normal of the mask (zero away from its outline)."""
    nearest: Int[np.ndarray, "2 H W"] | None = None
    """Row and column of the nearest outline pixel (None: not computed)."""
    distance: Float[np.ndarray, "H W"] | None = None
    """Distance to it (pixels)."""


def mask_outline(mask: Bool[np.ndarray, "H W"], nearest: bool = False) -> Outline | None:
    """The outline of ``mask`` (None when it has none), with every pixel's nearest
    outline pixel if ``nearest``."""
    edge = outline(mask)
    if not edge.any():
        return None
    if not nearest:
        return Outline(edge, outward_normals(mask))
    distance, index = nearest_pixel(edge)
    return Outline(edge, outward_normals(mask), index, distance)


_NEAR = sorted(
    ((dr, dc) for dr in range(-2, 3) for dc in range(-2, 3)), key=lambda d: d[0] ** 2 + d[1] ** 2
)
"""Offsets within two pixels, nearest first (where an outline pixel finds its surface)."""


@dataclass(frozen=True)
class DrawnOutline:
    """The pixels on a render's outline and the surface under each."""

    pixel: Int[np.ndarray, "N 2"]
    """Row and column of every outline pixel (of the foreground found as the frame's)."""
    surface: Int[np.ndarray, "N 2"]
    """Row and column of the nearest pixel (at most two away) whose centre the surface
    covers: its rest point is the match's."""
    normal: Float[np.ndarray, "N 2"]
    """Outward normal (x, y) of the outline there."""
    part: Int[np.ndarray, "N"]
    """Part of that surface pixel."""
    rest: Float[np.ndarray, "N 3"]
    """Rest-state point of that surface pixel."""


def drawn_outline(
    seen: Bool[np.ndarray, "H W"],
    label: Int[np.ndarray, "H W"],
    rest_xyz: Float[np.ndarray, "H W 3"],
) -> DrawnOutline | None:
    """The outline of a render whose foreground (as the frame's is found) is ``seen``;
    ``label`` and ``rest_xyz`` are the render's exact per-pixel outputs. Outline pixels
    with no covered pixel within two are left out."""
    drawn = mask_outline(seen)
    if drawn is None:
        return None
    rows, cols = np.nonzero(drawn.edge)
    covered = np.pad(~np.isnan(rest_xyz[..., 0]), 2)
    sr, sc = np.full(len(rows), -1), np.full(len(rows), -1)
    for dr, dc in _NEAR:
        todo = (sr < 0) & covered[rows + dr + 2, cols + dc + 2]
        sr[todo], sc[todo] = rows[todo] + dr, cols[todo] + dc
    ok = sr >= 0
    rows, cols, sr, sc = rows[ok], cols[ok], sr[ok], sc[ok]
    return DrawnOutline(
        np.stack([rows, cols], -1),
        np.stack([sr, sc], -1),
        drawn.normal[rows, cols],
        label[sr, sc],
        rest_xyz[sr, sc].astype(np.float64),
    )


def contour_matches(
    render: DrawnOutline,
    frame: Outline,
    part: int,
    view: int,
    scale: float,
    cfg: ContourConfig,
) -> tuple[np.ndarray, ...]:
    """Outline matches of ``part`` in one view: (X, uv, view, information), the
    information ``scale * weight * n n^T`` (``scale``: a typical flow match's)."""
    assert frame.nearest is not None and frame.distance is not None, "mask_outline(nearest=True)"
    rows, cols = render.pixel[:, 0], render.pixel[:, 1]
    n = render.normal
    fr, fc = frame.nearest[0, rows, cols], frame.nearest[1, rows, cols]
    agree = np.einsum("ni,ni->n", n, frame.normal[fr, fc])
    keep = (render.part == part) & (frame.distance[rows, cols] <= cfg.max_px) & (agree > 0.5)
    idx = np.nonzero(keep)[0]
    if len(idx) > cfg.max_matches_per_view:
        idx = idx[np.linspace(0, len(idx) - 1, cfg.max_matches_per_view).astype(int)]
    # the surface pixel moves as its outline pixel must: onto the frame's outline
    shift = np.stack([fc - cols, fr - rows], -1)[idx]
    uv = render.surface[idx][:, ::-1] + 0.5 + shift
    n = n[idx]
    info = scale * cfg.weight * n[:, :, None] * n[:, None, :]
    return render.rest[idx], uv.astype(np.float64), np.full(len(idx), view), info
