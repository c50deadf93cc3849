"""The `generate` stage: SceneInput -> VideoSet, with swappable backends (``_target_``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from omegaconf import MISSING

from partdrag4d.containers import StageInputs, VideoSet


@dataclass
class GeneratorConfig:
    """Base schema of the ``generator`` group."""

    _target_: str = MISSING
    """Backend ``f(cfg, scene, generator) -> VideoSet``."""


def generate_stage(cfg: GeneratorConfig, inputs: StageInputs, rng: np.random.Generator) -> VideoSet:
    """The `generate` stage: the backend named by ``cfg._target_`` on ``inputs["prepare"]``."""
    from hydra.utils import get_method

    return get_method(cfg._target_)(cfg, inputs["prepare"], rng)
