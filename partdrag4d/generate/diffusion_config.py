"""Settings of the ``puppet_master`` generate backend (no torch import: the command line
reads them on every run, the backend in :mod:`partdrag4d.generate.diffusion_backend`
loads torch and diffusers only when it runs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from partdrag4d.config_checks import FRACTION, OneOf, Range
from partdrag4d.generate import GeneratorConfig


@dataclass
class PuppetMasterConfig:
    """Settings of the drag-conditioned diffusion backend."""

    CHECKS: ClassVar[dict] = {
        "dtype": OneOf(("float32", "float16", "bfloat16")),
        "num_inference_steps": Range(1, 1000, integer=True),
        "height": Range(64, 2048, integer=True, multiple_of=64),
        "width": Range(64, 2048, integer=True, multiple_of=64),
        "fps": Range(1, 120, integer=True),
        "motion_bucket_id": Range(0, 1023, integer=True),
        "noise_aug_strength": FRACTION,
        "decode_chunk_size": Range(1, 1000, integer=True),
        "views_per_batch": Range(1, 64, integer=True),
    }
    RELATIONS: ClassVar[tuple] = (("min_guidance_scale", "<=", "max_guidance_scale"),)

    model_path: str = ""
    """Local folder or hub id of a saved ``DragVideoPipeline``."""
    device: str = "cpu"
    """Torch device to run on ("cpu", "cuda", "cuda:1", ...)."""
    dtype: str = "float32"
    """Model dtype: "float32", "float16" or "bfloat16"."""
    num_inference_steps: int = 25
    """Euler denoising steps."""
    min_guidance_scale: float = 1.0
    """Guidance on the first frame (linear ramp to the last)."""
    max_guidance_scale: float = 3.0
    """Guidance on the last frame."""
    height: int = 256
    """Generation height in pixels (frames are resized to the camera size after)."""
    width: int = 256
    """Generation width in pixels."""
    fps: int = 7
    """Frame-rate conditioning of the model (SVD conditioning, not the output fps)."""
    motion_bucket_id: int = 127
    """Motion conditioning."""
    noise_aug_strength: float = 0.02
    """Noise added to the conditioning image."""
    decode_chunk_size: int = 14
    """Frames per VAE decode call."""
    views_per_batch: int = 4
    """Views generated together in one pipeline call."""
    cpu_offload: bool = False
    """Keep each model on the CPU until it runs (diffusers' model CPU offload, needs a
    CUDA ``device``): the UNet, the VAE and the CLIP encoder never share the GPU."""
    forward_chunking: bool = False
    """Run the UNet's feed-forward layers one frame (spatial) or one pixel (temporal) at a
    time, as diffusers' SVD pipeline offers: lower peak memory at full size."""


@dataclass
class PuppetMasterGeneratorConfig(PuppetMasterConfig, GeneratorConfig):
    """The drag-conditioned video diffusion model (fields: PuppetMasterConfig)."""

    _target_: str = "partdrag4d.generate.diffusion_backend.generate_diffusion"
