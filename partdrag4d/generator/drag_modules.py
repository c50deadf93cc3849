"""The drag modules of the UNet and the two layouts they come in.

- :class:`DragMapEncoder`: a 3x3 conv stack with SiLU reading the drag maps at one UNet
  resolution; a zero-initialised conv after it gives the (scale, shift) modulation.
- :class:`DragTokenizer`: one cross-attention token per drag from the UNet features at
  its start and current points and position embeddings of both points.
- :class:`DragVariant`: where the two published layouts differ. ``"partdrag4d"`` is
  this project's (one encoder per block shared by its ResNets, continuous sin-cos
  positions, empty slots masked out of the attention, tokens in the mid block too).
  ``"puppet_master"`` reproduces the network of the published Puppet-Master checkpoint
  (Li et al. 2024), so its weights run unchanged: one encoder per ResNet, positions
  interpolated from a per-resolution sin-cos table, features sampled with border
  padding, empty slots as zero tokens (which still take part in the softmax), no drag
  tokens in the mid block, and the temporal cross-attention sees the first frame's drag
  tokens next to its CLIP token.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from partdrag4d.generator.drag_maps import drag_maps, grid_sincos_embed_2d, sincos_embed_2d


@dataclass(frozen=True)
class DragVariant:
    """How the drag conditioning enters the UNet (see the module docstring)."""

    encoder_per_layer: bool
    """One drag map encoder per ResNet layer (else one per block, shared)."""
    grid_positions: bool
    """Position embeddings interpolated from a sin-cos table of the block's pixel grid
    (else a continuous sin-cos of the normalised point)."""
    feature_padding: str
    """``grid_sample`` padding when sampling features at the drag points."""
    mask_empty_tokens: bool
    """Empty slots are masked out of the cross-attention (else they are zero tokens)."""
    mid_block_tokens: bool
    """The mid block's transformers get drag tokens."""
    temporal_drag_tokens: bool
    """The temporal cross-attention sees the first frame's drag tokens too."""
    map_rounding: str
    """How a point picks its pixel in the drag maps (``drag_maps``' ``rounding``)."""


VARIANTS: dict[str, DragVariant] = {
    "partdrag4d": DragVariant(
        encoder_per_layer=False,
        grid_positions=False,
        feature_padding="zeros",
        mask_empty_tokens=True,
        mid_block_tokens=True,
        temporal_drag_tokens=False,
        map_rounding="floor",
    ),
    "puppet_master": DragVariant(
        encoder_per_layer=True,
        grid_positions=True,
        feature_padding="border",
        mask_empty_tokens=False,
        mid_block_tokens=False,
        temporal_drag_tokens=True,
        map_rounding="round_clip",
    ),
}


def variant_named(name: str) -> DragVariant:
    """The :class:`DragVariant` called ``name`` (a key of ``VARIANTS``)."""
    if name not in VARIANTS:
        raise ValueError(f"unknown drag_variant {name!r}; expected one of {sorted(VARIANTS)}")
    return VARIANTS[name]


def encoder_channels(channels: Sequence[int], per_layer: bool) -> tuple[int, ...]:
    """Conv widths of a drag map encoder.

    The per-layer (Puppet-Master) encoder doubles every stage but the last: widths
    (c0, c1, c2) give convs to c0, c0, c1, c1, c2.
    """
    channels = tuple(channels)
    if not per_layer:
        return channels
    out = [channels[0]]
    for c_in, c_out in zip(channels[:-1], channels[1:], strict=True):
        out += [c_in, c_out]
    return tuple(out)


class DragMapEncoder(nn.Module):
    """3x3 conv stack with SiLU after every conv, reading the 6 K-channel drag maps."""

    def __init__(self, in_channels: int, channels: Sequence[int]):
        super().__init__()
        layers: list[nn.Module] = []
        for c in channels:
            layers += [nn.Conv2d(in_channels, c, 3, padding=1), nn.SiLU()]
            in_channels = c
        self.net = nn.Sequential(*layers)

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        return self.net(maps)


def zero_conv(in_channels: int, out_channels: int) -> nn.Conv2d:
    """A 3x3 conv with zero weight and bias (the modulation starts as the identity)."""
    conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)
    nn.init.zeros_(conv.weight)
    nn.init.zeros_(conv.bias)  # pyright: ignore[reportArgumentType]
    return conv


def token_positions(
    drags: torch.Tensor, pos_embed_dim: int, variant: DragVariant, height: int, width: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sampling grid and position embeddings of the drags at one resolution.

    Args:
        drags: (B, T, K, 2) normalised trajectories.
        pos_embed_dim: embedding size per point.
        variant: the layout (grid or continuous positions).
        height: feature map height (used by grid positions).
        width: feature map width.

    Returns:
        The (B*T, 1, 2K, 2) ``grid_sample`` grid of [start points, current points] and
        their (B*T, K, 2P) embeddings [start, current]; they depend on the drags only,
        so a forward pass computes them once per resolution.
    """
    B, T, K, _ = drags.shape
    start = drags[:, :1].expand(B, T, K, 2)
    points = torch.cat([start, drags], dim=2).reshape(B * T, 1, 2 * K, 2)
    # align_corners=False: grid -1/+1 are the outer image edges, matching x in [0, 1].
    grid = points * 2.0 - 1.0
    if variant.grid_positions:
        pos = grid_sincos_embed_2d(points[:, 0], height, width, pos_embed_dim)
    else:
        pos = sincos_embed_2d(points[:, 0], pos_embed_dim)  # BT 2K P
    return grid, torch.cat([pos[:, :K], pos[:, K:]], dim=-1)


class DragTokenizer(nn.Module):
    """One cross-attention token per drag from UNet features at its start/current point."""

    def __init__(
        self, feature_channels: int, pos_embed_dim: int, token_dim: int, padding: str = "zeros"
    ):
        super().__init__()
        self.pos_embed_dim = pos_embed_dim
        self.padding = padding
        self.mlp = nn.Sequential(
            nn.Linear(2 * feature_channels + 2 * pos_embed_dim, token_dim),
            nn.SiLU(),
            nn.Linear(token_dim, token_dim),
        )

    def forward(
        self, features: torch.Tensor, positions: tuple[torch.Tensor, torch.Tensor]
    ) -> torch.Tensor:
        """Tokens for every frame.

        Args:
            features: (B*T, C, h, w) UNet features (detached here: the tokens read the
                features without steering them through this path).
            positions: ``token_positions(drags, ...)`` at this resolution.

        Returns:
            (B*T, K, token_dim) tokens.
        """
        grid, pos = positions
        K = pos.shape[1]
        sampled = F.grid_sample(
            features.detach(),
            grid.to(features.dtype),
            mode="bilinear",
            padding_mode=self.padding,
            align_corners=False,
        )
        sampled = sampled[:, :, 0].transpose(1, 2)  # BT 2K C
        feats = torch.cat([sampled[:, :K], sampled[:, K:]], dim=-1)  # BT K 2C
        return self.mlp(torch.cat([feats, pos.to(features.dtype)], dim=-1))


def drag_inputs(
    variant: DragVariant,
    num_drags: int,
    pos_embed_dim: int,
    drags: torch.Tensor | None,
    drag_mask: torch.Tensor | None,
    sample: torch.Tensor,
    batch_size: int,
    cache: dict,
) -> tuple[Callable, Callable | None]:
    """The drag maps and the token maker of one UNet forward pass.

    Args:
        variant: the layout.
        num_drags: K, the model's drag slots.
        pos_embed_dim: position embedding size per point.
        drags: (B, T, K, 2) normalised trajectories, or None.
        drag_mask: (B, K) bool slots in use (with ``drags``).
        sample: the (B*T, C, h, w) UNet input (for frame count, dtype and device).
        batch_size: B.
        cache: kept across calls with the same drags (see the UNet's ``drag_cache``).

    Returns:
        ``maps_at(h, w)``: the (B*T, 6K, h, w) drag maps at one resolution (all -1
        without drags); ``tokens_at(tokenizer, features)``: (tokens, key bias or None)
        for one transformer, or None without drags. Maps are made once per resolution;
        token positions are kept in ``cache``.
    """
    num_frames = sample.shape[0] // batch_size
    if drags is not None and drag_mask is None:
        raise ValueError("drags come with their drag_mask")
    if drags is None or drag_mask is None:
        map_drags = sample.new_zeros(batch_size, num_frames, num_drags, 2)
        map_mask = torch.zeros(batch_size, num_drags, dtype=torch.bool, device=sample.device)
    else:
        map_drags, map_mask = drags, drag_mask
    maps_cache: dict[tuple[int, int], torch.Tensor] = {}

    def maps_at(height: int, width: int) -> torch.Tensor:
        if (height, width) not in maps_cache:
            maps = drag_maps(
                map_drags.to(sample.dtype), map_mask, height, width, variant.map_rounding
            )
            maps_cache[(height, width)] = maps.flatten(0, 1)
        return maps_cache[(height, width)]

    if drags is None or drag_mask is None:
        return maps_at, None
    keep = drag_mask.repeat_interleave(num_frames, dim=0)  # BT K
    bias = None
    if variant.mask_empty_tokens:
        # Additive key bias over [CLIP token, K drag tokens]: -inf hides empty slots
        # exactly (the CLIP token is always visible, so no row is fully masked).
        visible = torch.cat([torch.ones_like(keep[:, :1]), keep], dim=1)
        bias = torch.zeros(visible.shape, dtype=sample.dtype, device=sample.device)
        bias = bias.masked_fill(~visible, float("-inf"))[:, None, :]

    def tokens_at(tokenizer: DragTokenizer, features: torch.Tensor):
        height, width = features.shape[-2:]
        if ("positions", height, width) not in cache:
            cache[("positions", height, width)] = token_positions(
                drags, pos_embed_dim, variant, height, width
            )
        tokens = tokenizer(features, cache[("positions", height, width)])
        if bias is None:  # empty slots are zero tokens, as in Puppet-Master's network
            tokens = torch.where(keep[..., None], tokens, torch.zeros_like(tokens))
        return tokens, bias

    return maps_at, tokens_at
