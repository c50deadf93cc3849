"""``TransformerSpatioTemporalModel.forward`` with the drag UNet's two changes.

diffusers' spatio-temporal transformer gives every cross-attention the same context and
no mask. The drag UNet needs the spatial cross-attention to read [CLIP token, drag
tokens] with a key bias for empty slots, the all-to-first self-attention to know the
frame count, and the temporal cross-attention to read a context of its own (the first
frame's tokens). The computation is otherwise the library's, step for step.
"""

from __future__ import annotations

import torch
from diffusers.models.transformers.transformer_temporal import TransformerSpatioTemporalModel


def first_frame_context(context: torch.Tensor, num_frames: int, height: int, width: int):
    """The temporal cross-attention context: the first frame's tokens for every pixel.

    Args:
        context: (B*T, N, C) tokens per frame.
        num_frames: T.
        height: feature map height.
        width: feature map width.

    Returns:
        (B*h*w, N, C), the layout of the temporal blocks.
    """
    batch = context.shape[0] // num_frames
    first = context.reshape(batch, num_frames, -1, context.shape[-1])[:, 0]
    first = first[:, None].broadcast_to(batch, height * width, *first.shape[1:])
    return first.reshape(batch * height * width, -1, context.shape[-1])


def transformer_forward(
    transformer: TransformerSpatioTemporalModel,
    hidden_states: torch.Tensor,
    context: torch.Tensor,
    context_bias: torch.Tensor | None,
    temporal_context: torch.Tensor,
    image_only_indicator: torch.Tensor,
) -> torch.Tensor:
    """One spatio-temporal transformer on (B*T, C, h, w) features.

    Args:
        transformer: the library module (its weights and sub-blocks are used as is).
        hidden_states: (B*T, C, h, w) features.
        context: (B*T, N, C_ctx) spatial cross-attention tokens.
        context_bias: (B*T, 1, N) additive key bias, or None.
        temporal_context: (B*T, M, C_ctx) tokens whose first frame the temporal
            cross-attention reads.
        image_only_indicator: (B, T) as in diffusers.

    Returns:
        The (B*T, C, h, w) output, residual included.
    """
    batch_frames, _, height, width = hidden_states.shape
    num_frames = image_only_indicator.shape[-1]
    batch_size = batch_frames // num_frames
    time_context = first_frame_context(temporal_context, num_frames, height, width)

    residual = hidden_states
    hidden_states = transformer.norm(hidden_states)
    inner_dim = hidden_states.shape[1]
    hidden_states = hidden_states.permute(0, 2, 3, 1).reshape(
        batch_frames, height * width, inner_dim
    )
    hidden_states = transformer.proj_in(hidden_states)

    frame_ids = torch.arange(num_frames, device=hidden_states.device).repeat(batch_size)
    t_emb = transformer.time_proj(frame_ids).to(dtype=hidden_states.dtype)
    emb = transformer.time_pos_embed(t_emb)[:, None, :]

    kwargs = {"num_frames": num_frames}
    for block, temporal_block in zip(
        transformer.transformer_blocks, transformer.temporal_transformer_blocks, strict=True
    ):
        if torch.is_grad_enabled() and transformer.gradient_checkpointing:
            hidden_states = transformer._gradient_checkpointing_func(  # pyright: ignore[reportCallIssue]
                block, hidden_states, None, context, context_bias, None, kwargs
            )
        else:
            hidden_states = block(
                hidden_states,
                encoder_hidden_states=context,
                encoder_attention_mask=context_bias,
                cross_attention_kwargs=kwargs,
            )
        hidden_states_mix = temporal_block(
            hidden_states + emb, num_frames=num_frames, encoder_hidden_states=time_context
        )
        hidden_states = transformer.time_mixer(
            x_spatial=hidden_states,
            x_temporal=hidden_states_mix,
            image_only_indicator=image_only_indicator,
        )

    hidden_states = transformer.proj_out(hidden_states)
    hidden_states = (
        hidden_states.reshape(batch_frames, height, width, inner_dim)
        .permute(0, 3, 1, 2)
        .contiguous()
    )
    return hidden_states + residual
