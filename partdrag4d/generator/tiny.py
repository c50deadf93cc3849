"""Tiny randomly initialised components (diffusers ``get_dummy_components`` style).

Used by the tests, by ``tools/make_tiny_drag_model.py`` and by the benchmark: no
weights are downloaded. The CLIP encoder keeps ``image_size=224`` because the pipeline
resizes the conditioning image to 224 x 224 (as SVD does).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import torch
from diffusers import (
    AutoencoderKLTemporalDecoder,
    EulerDiscreteScheduler,
    UNetSpatioTemporalConditionModel,
)
from torch import nn
from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

from partdrag4d.generator.pipeline import DragVideoPipeline
from partdrag4d.generator.unet import DragUNetSpatioTemporalModel


@dataclass(frozen=True)
class TinyConfig:
    """Sizes of the tiny components."""

    block_out_channels: tuple[int, ...] = (32, 64)
    """UNet channels per block."""
    num_attention_heads: tuple[int, ...] = (2, 4)
    """UNet attention heads per block."""
    cross_attention_dim: int = 32
    """CLIP projection width = UNet cross-attention width."""
    num_frames: int = 4
    """Default frame count of the UNet config."""
    num_drags: int = 5
    """Drag slots."""
    drag_encoder_channels: tuple[int, ...] = (16, 16)
    """Drag map encoder channels."""
    drag_pos_embed_dim: int = 16
    """Sin-cos embedding size per point."""
    vae_block_out_channels: tuple[int, ...] = (32, 32, 32, 32)
    """VAE channels per block; the VAE downsamples by 2^(len - 1) (8, as SVD's)."""


def tiny_svd_unet(cfg: TinyConfig = TinyConfig()) -> UNetSpatioTemporalConditionModel:
    """A tiny random SVD UNet: one cross-attention down block and one plain block."""
    return UNetSpatioTemporalConditionModel(
        block_out_channels=cfg.block_out_channels,
        layers_per_block=1,
        sample_size=8,
        in_channels=8,
        out_channels=4,
        down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
        up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
        cross_attention_dim=cfg.cross_attention_dim,
        num_attention_heads=cfg.num_attention_heads,
        projection_class_embeddings_input_dim=96,
        addition_time_embed_dim=32,
        num_frames=cfg.num_frames,
    )


def svd_scheduler() -> EulerDiscreteScheduler:
    """SVD's EDM Euler scheduler configuration."""
    return EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        interpolation_type="linear",
        num_train_timesteps=1000,
        prediction_type="v_prediction",
        sigma_max=700.0,
        sigma_min=0.002,
        steps_offset=1,
        timestep_spacing="leading",
        timestep_type="continuous",
        use_karras_sigmas=True,
    )


def tiny_svd_components(cfg: TinyConfig = TinyConfig(), seed: int = 0) -> dict:
    """Tiny SVD components (unet, vae, image_encoder, scheduler, feature_extractor)."""
    torch.manual_seed(seed)
    unet = tiny_svd_unet(cfg)
    torch.manual_seed(seed)
    # Four blocks like SVD's VAE, so the latents are 1/8 of the image as in the real
    # model: with a 2x VAE a 256^2 generation would run the UNet's attention on 128^2
    # latents (minutes on CPU). 32 channels is the minimum of the VAE's GroupNorm(32).
    vae = AutoencoderKLTemporalDecoder(
        block_out_channels=list(cfg.vae_block_out_channels),  # pyright: ignore[reportArgumentType]
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * len(cfg.vae_block_out_channels),  # pyright: ignore[reportArgumentType]
        latent_channels=4,
    )
    torch.manual_seed(seed)
    image_encoder = CLIPVisionModelWithProjection(
        CLIPVisionConfig(
            hidden_size=32,
            projection_dim=cfg.cross_attention_dim,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=224,
            intermediate_size=37,
            patch_size=32,
        )
    )
    return {
        "unet": unet,
        "vae": vae,
        "image_encoder": image_encoder,
        "scheduler": svd_scheduler(),
        "feature_extractor": CLIPImageProcessor(crop_size=224, size=224),
    }


def tiny_drag_pipeline(cfg: TinyConfig = TinyConfig(), seed: int = 0) -> DragVideoPipeline:
    """A tiny random :class:`DragVideoPipeline`; the drag modules get small random
    weights (not zero) so that drags visibly change the output."""
    components = tiny_svd_components(cfg, seed)
    unet = DragUNetSpatioTemporalModel.from_unet(
        components.pop("unet"), cfg.num_drags, cfg.drag_encoder_channels, cfg.drag_pos_embed_dim
    )
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for convs in unet.drag_modulations.values():
            for conv in cast("list[nn.Conv2d]", convs):
                conv.weight.normal_(0.0, 0.02, generator=generator)
    pipe = DragVideoPipeline(unet=unet, **components)
    pipe.set_progress_bar_config(disable=True)
    return pipe
