"""Attention processors of the drag UNet (diffusers ``Attention`` processors).

- :class:`AllToFirstAttnProcessor`: spatial self-attention whose keys and values come
  from the first frame of each clip, for every frame (appearance is anchored to the
  conditioning image; Puppet-Master's all-to-first attention).
- :class:`DragCrossAttnProcessor`: the standard SDPA cross-attention, taking the drag
  token mask as an additive bias; it accepts ``num_frames`` only because
  ``BasicTransformerBlock`` hands the same ``cross_attention_kwargs`` to attn1 and attn2.

Both expect hidden states of shape (B * T, N, C) with frames of one clip contiguous,
which is the layout of diffusers' spatio-temporal blocks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers.models.attention_processor import Attention, AttnProcessor2_0


class AllToFirstAttnProcessor:
    """Self-attention where every frame attends to the first frame's tokens.

    For query frame t of clip b: ``softmax(q_bt k_b0^T / sqrt(d)) v_b0``. The first
    frame's keys/values are computed once per clip and all frames' queries are stacked
    into one sequence, so the cost equals ordinary per-frame self-attention.
    """

    def __call__(
        self,
        attn: Attention,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        temb: torch.Tensor | None = None,
        num_frames: int | None = None,
    ) -> torch.Tensor:
        if num_frames is None:
            raise ValueError(
                "AllToFirstAttnProcessor needs num_frames (pass cross_attention_kwargs="
                "{'num_frames': T}); it is set by DragUNetSpatioTemporalModel.forward"
            )
        if encoder_hidden_states is not None or attention_mask is not None:
            raise ValueError("AllToFirstAttnProcessor is a self-attention without mask")
        if attn.spatial_norm is not None or attn.group_norm is not None:
            raise ValueError("AllToFirstAttnProcessor does not support spatial/group norm")
        if hidden_states.ndim != 3:
            shape = tuple(hidden_states.shape)
            raise ValueError(f"expected (B*T, N, C) hidden states, got {shape}")

        residual = hidden_states
        batch_frames, seq_len, _ = hidden_states.shape
        batch = batch_frames // num_frames
        first = hidden_states.reshape(batch, num_frames, seq_len, -1)[:, 0]  # B N C

        assert attn.to_k is not None and attn.to_v is not None  # a cross-frame attention
        query = attn.to_q(hidden_states)
        key = attn.to_k(first)
        value = attn.to_v(first)
        head_dim = key.shape[-1] // attn.heads

        # All frames' queries of a clip form one sequence against that clip's first-frame
        # keys: softmax is per query row, so this equals per-frame attention to frame 0.
        query = query.reshape(batch, num_frames * seq_len, attn.heads, head_dim).transpose(1, 2)
        key = key.view(batch, -1, attn.heads, head_dim).transpose(1, 2)
        value = value.view(batch, -1, attn.heads, head_dim).transpose(1, 2)
        if attn.norm_q is not None:
            query = attn.norm_q(query)
        if attn.norm_k is not None:
            key = attn.norm_k(key)

        out = F.scaled_dot_product_attention(query, key, value, dropout_p=0.0, is_causal=False)
        out = out.transpose(1, 2).reshape(batch_frames, seq_len, attn.heads * head_dim)
        out = out.to(query.dtype)
        out = attn.to_out[0](out)  # pyright: ignore[reportOptionalSubscript]
        out = attn.to_out[1](out)  # pyright: ignore[reportOptionalSubscript]
        if attn.residual_connection:
            out = out + residual
        return out / attn.rescale_output_factor


class DragCrossAttnProcessor(AttnProcessor2_0):
    """SDPA cross-attention to [CLIP token, drag tokens] with the drag mask as a bias."""

    def __call__(
        self,
        attn: Attention,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        temb: torch.Tensor | None = None,
        num_frames: int | None = None,
    ) -> torch.Tensor:
        return super().__call__(attn, hidden_states, encoder_hidden_states, attention_mask, temb)
