"""The `generate` stage: SceneInput -> VideoSet, with swappable backends (``_target_``)."""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import MISSING


@dataclass
class GeneratorConfig:
    """Base schema of the ``generator`` group."""

    _target_: str = MISSING
    """Backend ``f(cfg, scene, generator) -> VideoSet``."""
