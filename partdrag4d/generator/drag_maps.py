"""Drag rasterisation and embeddings: the pure tensor functions behind drag conditioning.

Conventions:
- A drag is a trajectory of one surface point over T frames, (x, y) normalised to [0, 1]
  of the image width/height; frame 0 is the start point.
- Normalised coordinates are the project's continuous pixel coordinates (corner of the
  image at (0, 0), see ``partdrag4d.geometry.camera``) divided by the image size: the
  pixel in column ``i`` covers x in [i / W, (i + 1) / W), so ``x = u / W``, ``y = v / H``.
- D drag slots per clip; a boolean mask says which slots hold a drag.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from jaxtyping import Bool, Float

CHANNELS_PER_DRAG = 6
"""Start point (0-1), this frame's point (2-3), last frame's point (4-5)."""


def pixels_to_normalized(
    points_px: Float[np.ndarray, "*batch 2"], width: int, height: int
) -> Float[np.ndarray, "*batch 2"]:
    """Pixel coordinates (corner-origin, pixel centres at +0.5) to normalised coordinates.

    Args:
        points_px: (u, v) pixel coordinates.
        width: image width in pixels.
        height: image height in pixels.

    Returns:
        (x, y) = (u / width, v / height); [0, 1] inside the image.
    """
    scale = np.array([width, height], dtype=np.float64)
    return np.asarray(points_px, dtype=np.float64) / scale


def drag_maps(
    drags: Float[torch.Tensor, "B T D 2"],
    drag_mask: Bool[torch.Tensor, "B D"],
    height: int,
    width: int,
    rounding: str = "floor",
) -> Float[torch.Tensor, "B T C h w"]:
    """Rasterise drags into per-frame maps of 6 channels per drag (C = 6 D).

    Each drag's channels are -1 everywhere except at the pixels holding its start point
    (channels 0-1), its position in this frame (2-3) and its position in the last frame
    (4-5), where they hold the sub-pixel offset (x * width - column, y * height - row) in
    [0, 1] of the point inside that pixel. Masked slots leave their channels at -1.

    Args:
        drags: normalised trajectories.
        drag_mask: which drag slots are used.
        height: map height h (a UNet resolution).
        width: map width w.
        rounding: ``"floor"``: a point marks the pixel it lies in and points outside
            [0, 1]^2 are not drawn. ``"round_clip"`` (the published Puppet-Master
            checkpoint's rule): column ``round(x * w - 0.5)`` (half to even) clipped to
            the image, so points outside mark the border pixel with an offset outside
            [0, 1], and a point on a pixel corner may get offset 1 in the pixel before.

    Returns:
        Maps of shape (B, T, 6 D, h, w), channel ``6 d + 2 k + c`` for drag d, point k,
        coordinate c (0 = x, 1 = y), in the dtype of ``drags``.
    """
    B, T, D, _ = drags.shape
    # The three points each frame's map marks: start, current, last.
    points = torch.stack(
        [drags[:, :1].expand(B, T, D, 2), drags, drags[:, -1:].expand(B, T, D, 2)], dim=3
    )  # B T D 3 2
    px = points[..., 0] * width
    py = points[..., 1] * height
    if rounding == "floor":
        col, row = px.floor(), py.floor()
        inside = ((points >= 0) & (points <= 1)).all(dim=-1)  # B T D 3
    elif rounding == "round_clip":
        col, row = torch.round(px - 0.5), torch.round(py - 0.5)
        inside = torch.ones(points.shape[:-1], dtype=torch.bool, device=points.device)
    else:
        raise ValueError(f"drag_maps: rounding must be 'floor' or 'round_clip', got {rounding!r}")
    col = col.clamp(0, width - 1)
    row = row.clamp(0, height - 1)
    offsets = torch.stack([px - col, py - row], dim=-1)  # B T D 3 2
    valid = inside & drag_mask[:, None, :, None]
    # Invalid points write -1 (the background value) at some pixel: a no-op by design,
    # so one scatter handles every slot without gathering the valid ones first.
    values = torch.where(valid[..., None], offsets, torch.full_like(offsets, -1.0))
    flat = (row * width + col).long()  # B T D 3
    maps = torch.full((B, T, D, 3, 2, height * width), -1.0, dtype=drags.dtype, device=drags.device)
    index = flat[..., None, None].expand(B, T, D, 3, 2, 1)
    maps.scatter_(-1, index, values[..., None])
    return maps.reshape(B, T, D * CHANNELS_PER_DRAG, height, width)


def sincos_embed_2d(
    points: Float[torch.Tensor, "*batch 2"], dim: int = 64
) -> Float[torch.Tensor, "*batch dim"]:
    """2D sine-cosine position embedding of normalised points.

    Half the channels encode x, half y; each half is [sin(f_k x), cos(f_k x)] for
    ``dim / 4`` frequencies f_k = pi * 2^(7 k / (dim/4 - 1)) (1 to 128 half-periods over
    the image), fine enough to separate neighbouring pixels at 256 px.

    Args:
        points: normalised (x, y).
        dim: embedding size, a multiple of 4.

    Returns:
        The embedding, in the dtype of ``points``.
    """
    if dim % 4 != 0:
        raise ValueError(f"sincos_embed_2d: dim must be a multiple of 4, got {dim}")
    n = dim // 4
    exponents = torch.linspace(0.0, 7.0, n, device=points.device, dtype=torch.float32)
    freqs = (math.pi * 2.0**exponents).to(points.dtype)
    angles = points[..., :, None] * freqs  # ... 2 n
    emb = torch.cat([angles.sin(), angles.cos()], dim=-1)  # ... 2 2n
    return emb.flatten(-2)


def grid_sincos_embed_2d(
    points: Float[torch.Tensor, "*batch 2"], height: int, width: int, dim: int = 64
) -> Float[torch.Tensor, "*batch dim"]:
    """Sin-cos embedding of a pixel grid, interpolated at normalised points.

    The table is the MAE-style 2D embedding of integer pixel indices (first half the
    column, second half the row; each half [sin(p w_k), cos(p w_k)] with
    w_k = 10000^(-k / (dim / 4))), read bilinearly at pixel coordinate ``x * w - 0.5``
    clipped to the grid (``grid_sample`` with border padding, align_corners=False).
    This is how the published Puppet-Master checkpoint embeds drag points.

    Args:
        points: normalised (x, y).
        height: grid rows.
        width: grid columns.
        dim: embedding size, a multiple of 4.

    Returns:
        The embedding, in the dtype of ``points``.
    """
    if dim % 4 != 0:
        raise ValueError(f"grid_sincos_embed_2d: dim must be a multiple of 4, got {dim}")
    n = dim // 4
    omega = 1.0 / 10000.0 ** (torch.arange(n, dtype=torch.float64, device=points.device) / n)

    def axis(coord: torch.Tensor, size: int) -> torch.Tensor:
        pixel = (coord.double() * size - 0.5).clamp(0, size - 1)
        lo = pixel.floor()
        frac = (pixel - lo)[..., None]
        hi = (lo + 1).clamp(max=size - 1)

        def table(p: torch.Tensor) -> torch.Tensor:
            angles = p[..., None] * omega
            return torch.cat([angles.sin(), angles.cos()], dim=-1)

        return (1 - frac) * table(lo) + frac * table(hi)

    emb = torch.cat([axis(points[..., 0], width), axis(points[..., 1], height)], dim=-1)
    return emb.to(points.dtype)


def pad_drags(
    drags: Float[torch.Tensor, "B T D 2"],
    drag_mask: Bool[torch.Tensor, "B D"],
    num_slots: int,
) -> tuple[Float[torch.Tensor, "B T K 2"], Bool[torch.Tensor, "B K"]]:
    """Pad drags with empty (zero, masked) slots up to ``num_slots`` (K >= D).

    Args:
        drags: normalised trajectories.
        drag_mask: which slots are used.
        num_slots: K, the model's number of drag slots.

    Returns:
        The padded drags and mask.
    """
    B, T, D, _ = drags.shape
    if num_slots < D:
        raise ValueError(f"got {D} drags but the model has {num_slots} drag slots")
    pad = num_slots - D
    drags = torch.cat([drags, drags.new_zeros(B, T, pad, 2)], dim=2)
    drag_mask = torch.cat([drag_mask, drag_mask.new_zeros(B, pad)], dim=1)
    return drags, drag_mask
