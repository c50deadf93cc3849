"""Loaders of :class:`~partdrag4d.generator.pipeline.DragVideoPipeline` (a mixin, as
diffusers keeps its ``from_single_file``/LoRA loaders apart from the pipelines).

- ``from_svd``: Stable Video Diffusion with zero-initialised drag modules, the
  fine-tuning start.
- ``from_puppet_master``: the published Puppet-Master UNet with SVD's other components.
"""

from __future__ import annotations

from typing import cast

import torch
from diffusers import AutoencoderKLTemporalDecoder, EulerDiscreteScheduler
from diffusers.models import UNetSpatioTemporalConditionModel
from transformers import CLIPImageProcessor, CLIPVisionModelWithProjection

from partdrag4d.generator.puppet_master import load_puppet_master_unet
from partdrag4d.generator.unet import DragUNetSpatioTemporalModel


class DragPipelineLoadersMixin:
    """Class methods building a drag pipeline from published checkpoints."""

    @classmethod
    def from_svd(
        cls,
        svd_path_or_id: str,
        num_drags: int = 5,
        drag_encoder_channels: tuple[int, ...] = (256, 320, 320),
        drag_pos_embed_dim: int = 64,
        torch_dtype: torch.dtype | None = None,
        **kwargs,
    ):
        """A drag pipeline from a Stable Video Diffusion checkpoint (the fine-tuning start).

        Loads vae, image_encoder, feature_extractor, scheduler and unet from the
        subfolders of a local SVD folder or hub id (e.g.
        ``stabilityai/stable-video-diffusion-img2vid``) and adds zero-initialised drag
        modules to the UNet (``DragUNetSpatioTemporalModel.from_unet``).

        Args:
            svd_path_or_id: local folder or hub id of an SVD pipeline.
            num_drags: K, drag slots.
            drag_encoder_channels: drag map encoder channels.
            drag_pos_embed_dim: sin-cos embedding size per point.
            torch_dtype: dtype to load the models in.
            **kwargs: passed to every ``from_pretrained`` (``revision``, ``variant``,
                ``local_files_only``, ...).
        """
        load = {"use_safetensors": True, **kwargs}
        if torch_dtype is not None:
            load["dtype"] = torch_dtype
        unet = UNetSpatioTemporalConditionModel.from_pretrained(
            svd_path_or_id, subfolder="unet", **load
        )
        unet = DragUNetSpatioTemporalModel.from_unet(
            unet, num_drags, drag_encoder_channels, drag_pos_embed_dim
        )
        parts = cls.svd_components(svd_path_or_id, torch_dtype, **kwargs)
        return cls(unet=unet, **parts)  # pyright: ignore[reportCallIssue]

    @classmethod
    def from_puppet_master(
        cls,
        checkpoint: str,
        svd_path_or_id: str,
        filename: str | None = None,
        repo_type: str = "model",
        torch_dtype: torch.dtype | None = None,
        **kwargs,
    ):
        """The published Puppet-Master model: their UNet, SVD's other components.

        Args:
            checkpoint: their UNet weights: a file, a diffusers folder or a hub id
                (``puppet_master.load_puppet_master_unet``).
            svd_path_or_id: the SVD img2vid pipeline they fine-tuned (vae, CLIP encoder,
                scheduler, and the UNet config when the checkpoint has none).
            filename: a file inside ``checkpoint``.
            repo_type: hub repository type of ``checkpoint`` ("model" or "space").
            torch_dtype: dtype to load the models in.
            **kwargs: passed to SVD's ``from_pretrained`` calls.
        """
        hub = {k: kwargs[k] for k in ("revision", "local_files_only", "token") if k in kwargs}
        base = UNetSpatioTemporalConditionModel.load_config(svd_path_or_id, subfolder="unet", **hub)
        config = cast(dict, base)  # load_config returns the config dict here
        unet, _ = load_puppet_master_unet(
            checkpoint, dict(config), filename, repo_type, torch_dtype
        )
        parts = cls.svd_components(svd_path_or_id, torch_dtype, **kwargs)
        return cls(unet=unet, **parts)  # pyright: ignore[reportCallIssue]

    @staticmethod
    def svd_components(svd_path_or_id: str, torch_dtype: torch.dtype | None, **kwargs) -> dict:
        """vae, image_encoder, scheduler and feature_extractor of an SVD pipeline."""
        load = {"use_safetensors": True, **kwargs}
        if torch_dtype is not None:
            load["dtype"] = torch_dtype
        return {
            "vae": AutoencoderKLTemporalDecoder.from_pretrained(
                svd_path_or_id, subfolder="vae", **load
            ),
            "image_encoder": CLIPVisionModelWithProjection.from_pretrained(
                svd_path_or_id, subfolder="image_encoder", **load
            ),
            "scheduler": EulerDiscreteScheduler.from_pretrained(
                svd_path_or_id, subfolder="scheduler", **kwargs
            ),
            "feature_extractor": CLIPImageProcessor.from_pretrained(
                svd_path_or_id, subfolder="feature_extractor", **kwargs
            ),
        }
