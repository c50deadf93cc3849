"""``DragVideoPipeline``: first-frame image + drags -> video, on diffusers.

Follows ``StableVideoDiffusionPipeline`` (EDM Euler sampling with
``EulerDiscreteScheduler``, CLIP image embedding as context, first-frame VAE latent
concatenated to every frame, fixed ``added_time_ids``) with a
:class:`~partdrag4d.generator.unet.DragUNetSpatioTemporalModel`. Classifier-free
guidance drops the image *and* the drags together (zero CLIP embedding, zero image
latent, all drag slots masked); its scale ramps linearly over frames from
``min_guidance_scale`` (first frame) to ``max_guidance_scale`` (last frame).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import numpy as np
import PIL.Image
import torch
from diffusers import AutoencoderKLTemporalDecoder, EulerDiscreteScheduler
from diffusers.pipelines.pipeline_utils import DiffusionPipeline
from diffusers.pipelines.stable_video_diffusion.pipeline_stable_video_diffusion import (
    _resize_with_antialiasing,  # SVD's reference CLIP preprocessing, kept exact
)
from diffusers.utils import BaseOutput
from diffusers.utils.torch_utils import randn_tensor
from diffusers.video_processor import VideoProcessor
from transformers import CLIPImageProcessor, CLIPVisionModelWithProjection

from partdrag4d.generator.drag_maps import pad_drags
from partdrag4d.generator.loaders import DragPipelineLoadersMixin
from partdrag4d.generator.unet import DragUNetSpatioTemporalModel


def frames_to_uint8(frames: np.ndarray) -> np.ndarray:
    """``output_type="np"`` frames in [0, 1] to uint8 (rounded, clipped)."""
    return np.clip(np.round(frames * 255.0), 0, 255).astype(np.uint8)


@dataclass
class DragVideoPipelineOutput(BaseOutput):
    """Output of :class:`DragVideoPipeline`.

    Args:
        frames: ``np.ndarray`` (B, T, H, W, 3) in [0, 1] for ``output_type="np"``,
            ``torch.Tensor`` (B, T, 3, H, W) for ``"pt"``, lists of PIL images for
            ``"pil"``, or the (B, T, 4, h, w) latents for ``"latent"``.
    """

    frames: list[list[PIL.Image.Image]] | np.ndarray | torch.Tensor


class DragVideoPipeline(DiffusionPipeline, DragPipelineLoadersMixin):
    r"""Drag-conditioned image-to-video generation (Puppet-Master design).

    Args:
        vae: SVD's temporal-decoder VAE.
        image_encoder: frozen CLIP image encoder.
        unet: the drag-conditioned UNet.
        scheduler: EDM Euler scheduler (SVD's).
        feature_extractor: CLIP image processor.
    """

    model_cpu_offload_seq = "image_encoder->unet->vae"
    _callback_tensor_inputs = ["latents"]

    def __init__(
        self,
        vae: AutoencoderKLTemporalDecoder,
        image_encoder: CLIPVisionModelWithProjection,
        unet: DragUNetSpatioTemporalModel,
        scheduler: EulerDiscreteScheduler,
        feature_extractor: CLIPImageProcessor,
    ):
        super().__init__()
        self.register_modules(
            vae=vae,
            image_encoder=image_encoder,
            unet=unet,
            scheduler=scheduler,
            feature_extractor=feature_extractor,
        )
        self.vae_scale_factor = 2 ** (len(self.vae.config.block_out_channels) - 1)
        self.video_processor = VideoProcessor(
            do_resize=True, vae_scale_factor=self.vae_scale_factor
        )

    # ------------------------------------------------------------------ encoding

    def encode_image(self, image: torch.Tensor, device: torch.device) -> torch.Tensor:
        """CLIP embedding (B, 1, C) of images (B, 3, H, W) in [0, 1] (as SVD)."""
        dtype = next(self.image_encoder.parameters()).dtype
        # Resize in [-1, 1] like the original SVD implementation, then back to [0, 1].
        image = _resize_with_antialiasing(image * 2.0 - 1.0, (224, 224))
        image = (image + 1.0) / 2.0
        pixels = self.feature_extractor(
            images=image,
            do_normalize=True,
            do_center_crop=False,
            do_resize=False,
            do_rescale=False,
            return_tensors="pt",
        ).pixel_values
        embeds = self.image_encoder(pixels.to(device=device, dtype=dtype)).image_embeds
        return embeds.unsqueeze(1)

    def encode_vae_image(self, image: torch.Tensor) -> torch.Tensor:
        """Mode of the VAE posterior (B, 4, h, w) of preprocessed images in [-1, 1]."""
        return self.vae.encode(image.to(dtype=self.vae.dtype)).latent_dist.mode()

    def decode_latents(
        self, latents: torch.Tensor, num_frames: int, decode_chunk_size: int
    ) -> torch.Tensor:
        """(B, T, 4, h, w) latents -> (B, 3, T, H, W) float32 frames in [-1, 1]."""
        latents = latents.flatten(0, 1) / self.vae.config.scaling_factor
        frames = []
        for i in range(0, latents.shape[0], decode_chunk_size):
            chunk = latents[i : i + decode_chunk_size]
            frames.append(self.vae.decode(chunk, num_frames=chunk.shape[0]).sample)
        frames = torch.cat(frames, dim=0)
        return frames.reshape(-1, num_frames, *frames.shape[1:]).permute(0, 2, 1, 3, 4).float()

    def encode_conditioning(
        self,
        image: torch.Tensor | PIL.Image.Image | list[PIL.Image.Image],
        height: int,
        width: int,
        noise_aug_strength: float,
        generator: torch.Generator | list[torch.Generator] | None,
        device: torch.device,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """CLIP embeddings (B, 1, C) and VAE latents (B, 4, h, w) of the noise-augmented
        first frames, as SVD conditions."""
        if isinstance(image, PIL.Image.Image):
            image = [image]
        if isinstance(image, list):
            image = self.video_processor.numpy_to_pt(self.video_processor.pil_to_numpy(image))
        embeddings = self.encode_image(image, device)
        pixels = self.video_processor.preprocess(image, height=height, width=width).to(device)
        noise = randn_tensor(pixels.shape, generator=generator, device=device, dtype=pixels.dtype)
        pixels = pixels + noise_aug_strength * noise
        needs_upcasting = self.vae.dtype == torch.float16 and self.vae.config.force_upcast
        if needs_upcasting:
            self.vae.to(dtype=torch.float32)
        latents = self.encode_vae_image(pixels)
        if needs_upcasting:
            self.vae.to(dtype=torch.float16)
        return embeddings, latents

    # ------------------------------------------------------------------ checks, latents

    def check_inputs(
        self,
        image: torch.Tensor | PIL.Image.Image | list[PIL.Image.Image],
        drags: torch.Tensor,
        drag_mask: torch.Tensor,
        height: int,
        width: int,
        num_frames: int,
    ) -> None:
        if not isinstance(image, torch.Tensor | PIL.Image.Image | list):
            raise ValueError(
                "`image` must be a torch.Tensor, PIL.Image.Image or list of them, "
                f"got {type(image)}"
            )
        if height % self.vae_scale_factor != 0 or width % self.vae_scale_factor != 0:
            raise ValueError(
                f"`height` and `width` must be divisible by {self.vae_scale_factor}, "
                f"got {height} and {width}"
            )
        batch = 1 if isinstance(image, PIL.Image.Image) else len(image)
        if drags.ndim != 4 or drags.shape[0] != batch or drags.shape[1] != num_frames:
            raise ValueError(
                f"`drags` must have shape (batch={batch}, num_frames={num_frames}, D, 2), "
                f"got {tuple(drags.shape)}"
            )
        if drags.shape[2] > self.unet.config.num_drags or drags.shape[3] != 2:
            raise ValueError(
                f"`drags` must hold at most {self.unet.config.num_drags} (x, y) drags, "
                f"got shape {tuple(drags.shape)}"
            )
        mask_shape = (drags.shape[0], drags.shape[2])
        if tuple(drag_mask.shape) != mask_shape:
            raise ValueError(
                f"`drag_mask` must have shape (batch, D) = {mask_shape}, "
                f"got {tuple(drag_mask.shape)}"
            )

    def prepare_latents(
        self,
        batch_size: int,
        num_frames: int,
        num_channels_latents: int,
        height: int,
        width: int,
        dtype: torch.dtype,
        device: torch.device,
        generator: torch.Generator | list[torch.Generator] | None,
        latents: torch.Tensor | None = None,
    ) -> torch.Tensor:
        shape = (
            batch_size,
            num_frames,
            num_channels_latents // 2,
            height // self.vae_scale_factor,
            width // self.vae_scale_factor,
        )
        if isinstance(generator, list) and len(generator) != batch_size:
            raise ValueError(
                f"got a list of {len(generator)} generators for a batch of {batch_size}"
            )
        if latents is None:
            latents = randn_tensor(shape, generator=generator, device=device, dtype=dtype)
        else:
            latents = latents.to(device)
        return latents * self.scheduler.init_noise_sigma

    @property
    def guidance_scale(self) -> torch.Tensor:
        """Per-frame guidance scale of the last call, shape (B, T, 1, 1, 1)."""
        return self._guidance_scale

    @property
    def num_timesteps(self) -> int:
        return self._num_timesteps

    # ------------------------------------------------------------------ call

    @torch.no_grad()
    def __call__(
        self,
        image: torch.Tensor | PIL.Image.Image | list[PIL.Image.Image] | None,
        drags: torch.Tensor,
        drag_mask: torch.Tensor,
        height: int = 256,
        width: int = 256,
        num_frames: int | None = None,
        num_inference_steps: int = 25,
        min_guidance_scale: float = 1.0,
        max_guidance_scale: float = 3.0,
        fps: int = 7,
        motion_bucket_id: int = 127,
        noise_aug_strength: float = 0.02,
        decode_chunk_size: int | None = None,
        generator: torch.Generator | list[torch.Generator] | None = None,
        latents: torch.Tensor | None = None,
        output_type: str = "np",
        callback_on_step_end: Callable[[DiffusionPipeline, int, torch.Tensor, dict], dict]
        | None = None,
        return_dict: bool = True,
        image_embeddings: torch.Tensor | None = None,
        image_latents: torch.Tensor | None = None,
    ) -> DragVideoPipelineOutput | tuple:
        r"""Generate B clips of T frames from first-frame images and drags.

        Args:
            image: (B, 3, H, W) tensor in [0, 1], a PIL image or a list of them.
            drags: (B, T, D, 2) normalised drag trajectories (x, y in [0, 1], frame 0 =
                start; see ``drag_maps``), D <= ``unet.config.num_drags``.
            drag_mask: (B, D) bool, which drags are used.
            height: output height in pixels.
            width: output width in pixels.
            num_frames: T (default ``unet.config.num_frames``); must match ``drags``.
            num_inference_steps: Euler steps.
            min_guidance_scale: guidance on the first frame.
            max_guidance_scale: guidance on the last frame (linear ramp in between);
                guidance is off when it is <= 1.
            fps: frame rate conditioning (the UNet sees ``fps - 1``, as SVD).
            motion_bucket_id: motion conditioning.
            noise_aug_strength: noise added to the conditioning image.
            decode_chunk_size: frames per VAE decode (default all).
            generator: RNG(s) for determinism.
            latents: optional initial noise (B, T, 4, h, w).
            output_type: "np", "pt", "pil" or "latent".
            callback_on_step_end: ``f(pipe, step, t, {"latents": ...}) -> dict`` after
                each step; a returned "latents" replaces the latents.
            return_dict: return a :class:`DragVideoPipelineOutput`.
            image_embeddings: (B, 1, C) CLIP embeddings of the first frames, with
                ``image_latents`` instead of ``image`` (precomputed conditioning, as in
                the Drag-a-Move test batches).
            image_latents: (B, 4, h, w) unscaled VAE latents of the first frames, used
                as given (no noise augmentation added).
        """
        num_frames = int(num_frames if num_frames is not None else self.unet.config.num_frames)
        decode_chunk_size = decode_chunk_size if decode_chunk_size is not None else num_frames
        given = None
        if image_embeddings is not None and image_latents is not None:
            given = (image_embeddings, image_latents)
        checked = given[0] if given is not None else image  # only its batch size if given
        if checked is None:
            raise ValueError("pass an image, or both image_embeddings and image_latents")
        self.check_inputs(checked, drags, drag_mask, height, width, num_frames)

        device = self._execution_device
        dtype = self.unet.dtype
        do_cfg = max_guidance_scale > 1.0

        # 1-2. CLIP embedding and VAE latent of the first frame.
        if given is not None:
            image_embeddings = given[0].to(device=device, dtype=dtype)
            image_latents = given[1].to(device=device, dtype=dtype)
        else:
            image_embeddings, image_latents = self.encode_conditioning(
                checked, height, width, noise_aug_strength, generator, device
            )
            image_embeddings, image_latents = image_embeddings.to(dtype), image_latents.to(dtype)
        batch_size = image_embeddings.shape[0]
        # The unconditional branch has a zero embedding and a zero latent (as SVD).
        if do_cfg:
            image_embeddings = torch.cat([torch.zeros_like(image_embeddings), image_embeddings])
            image_latents = torch.cat([torch.zeros_like(image_latents), image_latents])
        image_latents = image_latents.unsqueeze(1).repeat(1, num_frames, 1, 1, 1)

        # 3. Drags: pad to the model's slots; the unconditional branch has none.
        drags, drag_mask = pad_drags(
            drags.to(device=device, dtype=dtype),
            drag_mask.to(device=device, dtype=torch.bool),
            self.unet.config.num_drags,
        )
        if do_cfg:
            drags = torch.cat([drags, drags])
            drag_mask = torch.cat([torch.zeros_like(drag_mask), drag_mask])

        # 4. Added time ids (SVD was conditioned on fps - 1).
        added_time_ids = torch.tensor(
            [[fps - 1, motion_bucket_id, noise_aug_strength]], dtype=dtype, device=device
        ).repeat(image_embeddings.shape[0], 1)

        # 5. Timesteps and initial noise.
        self.scheduler.set_timesteps(num_inference_steps, device=device)
        timesteps = self.scheduler.timesteps
        latents = self.prepare_latents(
            batch_size,
            num_frames,
            self.unet.config.in_channels,
            height,
            width,
            dtype,
            device,
            generator,
            latents,
        )

        # 6. Per-frame guidance ramp.
        scale = torch.linspace(min_guidance_scale, max_guidance_scale, num_frames)
        scale = scale[None].repeat(batch_size, 1).to(device, latents.dtype)
        self._guidance_scale = scale.reshape(*scale.shape, *(1,) * (latents.ndim - scale.ndim))

        # 7. Denoising loop.
        self._num_timesteps = len(timesteps)
        # The drag modulation and token positions depend on the drags only: computed at
        # the first step, reused by the others.
        drag_cache: dict = {}
        with self.progress_bar(total=num_inference_steps) as progress_bar:  # pyright: ignore[reportCallIssue]
            for i, t in enumerate(timesteps):
                assert latents is not None  # prepare_latents made them
                model_input = torch.cat([latents] * 2) if do_cfg else latents
                model_input = self.scheduler.scale_model_input(model_input, t)
                model_input = torch.cat([model_input, image_latents], dim=2)
                noise_pred = self.unet(
                    model_input,
                    t,
                    encoder_hidden_states=image_embeddings,
                    added_time_ids=added_time_ids,
                    drags=drags,
                    drag_mask=drag_mask,
                    return_dict=False,
                    drag_cache=drag_cache,
                )[0]
                if do_cfg:
                    uncond, cond = noise_pred.chunk(2)
                    noise_pred = uncond + self.guidance_scale * (cond - uncond)
                step = self.scheduler.step(noise_pred, t, latents)
                latents = cast(torch.Tensor, step.prev_sample)
                if callback_on_step_end is not None:
                    out = callback_on_step_end(self, i, t, {"latents": latents})
                    latents = out.pop("latents", latents)
                progress_bar.update()

        if output_type == "latent":
            frames = latents
        else:
            assert latents is not None
            video = self.decode_latents(latents, num_frames, decode_chunk_size)
            frames = self.video_processor.postprocess_video(video=video, output_type=output_type)
        self.maybe_free_model_hooks()
        if not return_dict:
            return (frames,)
        return DragVideoPipelineOutput(frames=frames)  # pyright: ignore[reportArgumentType]
