"""`generator=puppet_master`: the drag-conditioned diffusion model as a generate backend.

The stage hands every backend a numpy Generator; the diffusion pipeline wants a
``torch.Generator`` (diffusers' ``generator=``), seeded from it so the stage's seed
fixes the clips.
"""

from __future__ import annotations

import numpy as np
import torch

from partdrag4d.containers import SceneInput, VideoSet
from partdrag4d.generator.backend import PuppetMasterConfig, generate_puppet_master


def generate_diffusion(
    cfg: PuppetMasterConfig, scene: SceneInput, rng: np.random.Generator
) -> VideoSet:
    """Generate one clip per view with the saved DragVideoPipeline ``cfg.model_path``."""
    generator = torch.Generator(device="cpu").manual_seed(int(rng.integers(2**62)))
    return generate_puppet_master(cfg, scene, generator)
