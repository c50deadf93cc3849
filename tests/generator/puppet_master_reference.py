"""An independent, small re-implementation of the published Puppet-Master UNet.

Written from the authors' description and module layout (their ``networks.py``:
``flow_convs`` with ``conv_in`` / ``blocks`` / ``conv_out``, ``drag_token_mlps``, no
``add_embedding``), not from our model's code: drag images drawn pixel by pixel,
position embeddings read from an explicit sin-cos table with ``grid_sample``, diffusers'
own transformer and mid-block forwards, and a per-frame loop for all-to-first attention.
The test compares our ``drag_variant="puppet_master"`` UNet against it.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from diffusers import UNetSpatioTemporalConditionModel


class RefDragEmbedding(nn.Module):
    """Their drag encoder: conv_in, two convs per stage, conv_out; SiLU in between."""

    def __init__(self, in_channels: int, out_channels: int, widths: tuple[int, ...]):
        super().__init__()
        self.conv_in = nn.Conv2d(in_channels, widths[0], 3, padding=1)
        self.blocks = nn.ModuleList()
        for a, b in zip(widths[:-1], widths[1:], strict=True):
            self.blocks.append(nn.Conv2d(a, a, 3, padding=1))
            self.blocks.append(nn.Conv2d(a, b, 3, padding=1))
        self.conv_out = nn.Conv2d(widths[-1], out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.silu(self.conv_in(x))
        for conv in self.blocks:
            x = F.silu(conv(x))
        return self.conv_out(x)


def drag_image(drags4: torch.Tensor, res: int) -> torch.Tensor:
    """(B, T, K, 4) [start xy, current xy] -> (B, T, 6K, res, res), one pixel at a time."""
    B, T, K, _ = drags4.shape
    out = -torch.ones(B, T, 6 * K, res, res, dtype=drags4.dtype)
    for b in range(B):
        for t in range(T):
            for k in range(K):
                if not bool(drags4[b, t, k].any()):
                    continue
                points = [drags4[b, t, k, :2], drags4[b, t, k, 2:], drags4[b, -1, k, 2:]]
                for slot, (x, y) in enumerate(points):
                    col = torch.round(x * res - 0.5).clip(0, res - 1)
                    row = torch.round(y * res - 0.5).clip(0, res - 1)
                    c = 6 * k + 2 * slot
                    out[b, t, c, int(row), int(col)] = x * res - col
                    out[b, t, c + 1, int(row), int(col)] = y * res - row
    return out


def pos_table(res: int, dim: int) -> torch.Tensor:
    """(1, dim, res, res): MAE 2D sin-cos of (column, row) pixel indices."""
    omega = 1.0 / 10000 ** (np.arange(dim // 4, dtype=np.float64) / (dim // 4))
    rows, cols = np.meshgrid(np.arange(res), np.arange(res), indexing="ij")

    def one(p):
        a = p.reshape(-1)[:, None] * omega
        return np.concatenate([np.sin(a), np.cos(a)], axis=1)

    table = np.concatenate([one(cols), one(rows)], axis=1)  # res*res, dim
    return torch.tensor(table).reshape(1, res, res, dim).permute(0, 3, 1, 2)


class RefAllToFirst:
    """Every frame's queries against frame 0's keys and values, frame by frame."""

    def __init__(self, num_frames: int):
        self.num_frames = num_frames

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, **_):
        T = self.num_frames
        out = torch.empty_like(hidden_states)
        for i in range(hidden_states.shape[0]):
            first = hidden_states[(i // T) * T]
            q = attn.to_q(hidden_states[i]).unflatten(-1, (attn.heads, -1)).transpose(0, 1)
            k = attn.to_k(first).unflatten(-1, (attn.heads, -1)).transpose(0, 1)
            v = attn.to_v(first).unflatten(-1, (attn.heads, -1)).transpose(0, 1)
            w = torch.softmax(q @ k.transpose(-1, -2) * attn.scale, dim=-1)
            out[i] = (w @ v).transpose(0, 1).flatten(-2)
        return attn.to_out[1](attn.to_out[0](out))


def build_reference(config: dict, num_drags: int, widths, pos_dim: int, seed: int = 0):
    """Their network at ``config``'s sizes with random weights (drag convs included)."""
    torch.manual_seed(seed)
    unet = UNetSpatioTemporalConditionModel(**config)
    del unet.add_embedding  # their UNet has none
    for block in [*unet.down_blocks, *unet.up_blocks]:
        if not getattr(block, "has_cross_attention", False):
            continue
        channels = [r.spatial_res_block.conv2.out_channels for r in block.resnets]
        block.flow_convs = nn.ModuleList(
            RefDragEmbedding(6 * num_drags, 2 * c, widths) for c in channels
        )
        block.drag_token_mlps = nn.ModuleList(
            nn.Sequential(
                nn.Linear(2 * pos_dim + 2 * c, config["cross_attention_dim"]),
                nn.SiLU(),
                nn.Linear(config["cross_attention_dim"], config["cross_attention_dim"]),
            )
            for c in channels
        )
        for conv in block.flow_convs:  # not zero: the modulation must show in the test
            nn.init.normal_(conv.conv_out.weight, std=0.02)
    processors = {
        name: RefAllToFirst(config["num_frames"])
        if ".transformer_blocks." in name and name.endswith("attn1.processor")
        else proc
        for name, proc in unet.attn_processors.items()
    }
    unet.set_attn_processor(processors)
    return unet.eval()


def _drag_step(block, j, x, context, drags4, pos_dim):
    B, T, K, _ = drags4.shape
    res = x.shape[-1]
    flow = drag_image(drags4, res).flatten(0, 1).to(x.dtype)
    invalid = (flow.view(B, T, K, 6 * res * res) == -1).permute(0, 2, 1, 3).flatten(2).all(-1)
    scale, shift = block.flow_convs[j](flow).chunk(2, dim=1)
    x = x * (1 + scale) + shift
    d = drags4.flatten(0, 1)
    g0, g1 = (d[..., :2] * 2 - 1)[:, None], (d[..., 2:] * 2 - 1)[:, None]
    table = pos_table(res, pos_dim).to(x.dtype).repeat(B * T, 1, 1, 1)

    def sample(src, grid):
        return F.grid_sample(src, grid, "bilinear", "border", align_corners=False)[:, :, 0]

    parts = [sample(x.detach(), g0), sample(x.detach(), g1), sample(table, g0), sample(table, g1)]
    tokens = block.drag_token_mlps[j](torch.cat(parts, dim=1).permute(0, 2, 1))
    tokens = tokens.view(B, T, K, -1).masked_fill(invalid[:, None, :, None], 0.0)
    return x, torch.cat([context, tokens.flatten(0, 1)], dim=1)


@torch.no_grad()
def reference_forward(unet, sample, timestep, image_latents, clip, drags4, pos_dim):
    """Their forward: noisy latents (B, T, 4, h, w), first-frame latent (B, 4, h, w)."""
    B, T = sample.shape[:2]
    x = torch.cat([sample, image_latents[:, None].repeat(1, T, 1, 1, 1)], dim=2).flatten(0, 1)
    t = torch.as_tensor(timestep).reshape(1).expand(B)
    emb = unet.time_embedding(unet.time_proj(t).to(x.dtype)).repeat_interleave(T, dim=0)
    context = clip.repeat_interleave(T, dim=0)
    indicator = torch.zeros(B, T, dtype=x.dtype)

    def attend(attn, h, c):
        return attn(h, encoder_hidden_states=c, image_only_indicator=indicator, return_dict=False)[
            0
        ]

    x = unet.conv_in(x)
    skips = [x]
    for block in unet.down_blocks:
        if not hasattr(block, "flow_convs"):
            x, res = block(hidden_states=x, temb=emb, image_only_indicator=indicator)
            skips += list(res)
            continue
        for j, (resnet, attn) in enumerate(zip(block.resnets, block.attentions, strict=True)):
            x = resnet(x, emb, image_only_indicator=indicator)
            x, c = _drag_step(block, j, x, context, drags4, pos_dim)
            x = attend(attn, x, c)
            skips.append(x)
        if block.downsamplers is not None:
            x = block.downsamplers[0](x)
            skips.append(x)
    x = unet.mid_block(
        hidden_states=x, temb=emb, encoder_hidden_states=context, image_only_indicator=indicator
    )
    for block in unet.up_blocks:
        n = len(block.resnets)
        res, skips = skips[-n:], skips[:-n]
        if not hasattr(block, "flow_convs"):
            x = block(
                hidden_states=x,
                temb=emb,
                res_hidden_states_tuple=tuple(res),
                image_only_indicator=indicator,
            )
            continue
        for j, (resnet, attn) in enumerate(zip(block.resnets, block.attentions, strict=True)):
            x = torch.cat([x, res.pop()], dim=1)
            x = resnet(x, emb, image_only_indicator=indicator)
            x, c = _drag_step(block, j, x, context, drags4, pos_dim)
            x = attend(attn, x, c)
        if block.upsamplers is not None:
            x = block.upsamplers[0](x)
    x = unet.conv_out(unet.conv_act(unet.conv_norm_out(x)))
    return x.reshape(B, T, *x.shape[1:])
