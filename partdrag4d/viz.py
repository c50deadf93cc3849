"""Pictures people look at: drags drawn on frames, and the per-view contact sheet."""

from __future__ import annotations

import cv2
import numpy as np
from jaxtyping import Bool, Float, UInt8

from partdrag4d.containers import VideoSet

# Distinct, colour-blind-friendly drag colours (Okabe-Ito), RGB.
DRAG_COLORS: tuple[tuple[int, int, int], ...] = (
    (230, 159, 0),
    (0, 114, 178),
    (204, 121, 167),
    (0, 158, 115),
    (213, 94, 0),
    (86, 180, 233),
    (240, 228, 66),
)


def draw_drags(
    image: UInt8[np.ndarray, "H W 3"],
    trajectories: Float[np.ndarray, "T D 2"],
    visible: Bool[np.ndarray, "D"],
    scale: int = 1,
    colors: UInt8[np.ndarray, "D 3"] | None = None,
) -> UInt8[np.ndarray, "h w 3"]:
    """Draw each visible drag: its path, a dot at the start and an arrow head at the end.

    Args:
        image: the frame (sRGB).
        trajectories: pixel positions over time (corner-origin pixel coordinates).
        visible: which drags to draw.
        scale: integer upscaling of the image before drawing (crisper lines on small
            frames); coordinates are scaled with it.
        colors: one RGB colour per drag (default: the drag palette, by index).
    """
    out = np.ascontiguousarray(
        cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
        if scale > 1
        else image.copy()
    )
    thick = max(1, round(out.shape[0] / 128))
    for d in np.flatnonzero(visible):
        color = (
            DRAG_COLORS[d % len(DRAG_COLORS)]
            if colors is None
            else tuple(int(c) for c in colors[d])
        )
        pts = np.round(trajectories[:, d] * scale * 16).astype(np.int32)  # 4 bits subpixel
        cv2.polylines(out, [pts[:, None]], False, color, thick, cv2.LINE_AA, shift=4)
        cv2.circle(out, tuple(pts[0]), 3 * thick * 16, color, -1, cv2.LINE_AA, shift=4)
        span = pts[-1] - pts[0]
        if np.linalg.norm(span) > 16:  # more than a pixel: an arrow head along the motion
            back = pts[-1] - np.round(span / np.linalg.norm(span) * 6 * thick * 16)
            cv2.arrowedLine(
                out,
                tuple(back.astype(np.int32)),
                tuple(pts[-1]),
                color,
                thick,
                cv2.LINE_AA,
                shift=4,
                tipLength=1.0,
            )
    return out


def label(image: UInt8[np.ndarray, "H W 3"], text: str) -> UInt8[np.ndarray, "H W 3"]:
    """``image`` with ``text`` in its top-left corner (dark on a light box, any size)."""
    out = np.ascontiguousarray(image).copy()
    size = max(0.3, out.shape[0] / 400)
    thick = max(1, int(round(size * 1.5)))
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, size, thick)
    cv2.rectangle(out, (0, 0), (w + 6, h + base + 6), (255, 255, 255), -1)
    cv2.putText(out, text, (3, h + 3), cv2.FONT_HERSHEY_SIMPLEX, size, (20, 20, 20), thick)
    return out


def contact_sheet(
    videos: VideoSet, scale: int = 1, colors: list[np.ndarray] | None = None
) -> UInt8[np.ndarray, "h w 3"]:
    """One row per view: the first and the last frame, drags drawn, each labelled with its
    view and frame, 4 px white gutters. ``colors``: per view, one RGB colour per drag
    (default: the drag palette, by index)."""
    rows = []
    last_t = videos.num_frames - 1
    for v in range(videos.num_views):
        drags, visible = videos.drags_2d[v], videos.drags_visible[v]
        c = None if colors is None else colors[v]
        first = draw_drags(videos.frames[v, 0], drags, visible, scale, colors=c)
        last = draw_drags(videos.frames[v, -1], drags, visible, scale, colors=c)
        first, last = label(first, f"view {v} frame 0"), label(last, f"view {v} frame {last_t}")
        gutter = np.full((first.shape[0], 4, 3), 255, np.uint8)
        rows.append(np.concatenate([first, gutter, last], axis=1))
        rows.append(np.full((4, rows[-1].shape[1], 3), 255, np.uint8))
    return np.concatenate(rows[:-1], axis=0)
