"""Seeded degradations that imitate what generated videos get wrong.

Two kinds, both pure functions of their inputs and a numpy Generator:

- motion errors, applied to the joint trajectory of one view before rendering:
  a per-view error in motion amplitude (views disagree on how far a part moved) and
  temporal jitter (frames sampled at slightly wrong times);
- image errors, applied to the rendered frames: appearance drift over time (colour
  gain and offset changing linearly from the first frame), blur and pixel noise.

The first frame is never changed: a generator is conditioned on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np
from jaxtyping import Float, UInt8

from partdrag4d.config_checks import FRACTION, Range


@dataclass
class DegradeConfig:
    """Seeded imitation of what generated videos get wrong (off by default)."""

    CHECKS: ClassVar[dict] = {
        "noise_std": FRACTION,
        "blur_sigma_px": Range(0.0, 50.0),
        "drift": FRACTION,
        "amplitude_error": FRACTION,
        "jitter": Range(0.0, 100.0),
    }

    enabled: bool = False
    """Apply the degradations below."""
    noise_std: float = 0.02
    """Std of Gaussian pixel noise, in [0, 1] intensity units."""
    blur_sigma_px: float = 0.7
    """Std of Gaussian blur in pixels (0 = none)."""
    drift: float = 0.06
    """Appearance drift: colour gain/offset change reached at the last frame (linear in t)."""
    amplitude_error: float = 0.08
    """Per-view relative std of the motion amplitude (views disagree on how far parts move)."""
    jitter: float = 0.15
    """Std of temporal jitter of the motion, in frames."""


def perturb_motion(
    values: Float[np.ndarray, "T J"], cfg: DegradeConfig, rng: np.random.Generator
) -> Float[np.ndarray, "T J"]:
    """One view's version of the joint trajectory: amplitude error and time jitter.

    Args:
        values: joint values per frame; ``values[0]`` is the rest state.
        cfg: degradation strengths (``amplitude_error``: relative std; ``jitter``: std
            in frames).
        rng: the view's random generator.

    Returns:
        Perturbed values, same shape; frame 0 unchanged.
    """
    T = values.shape[0]
    times = np.arange(T, dtype=float)
    times[1:] += rng.normal(0.0, cfg.jitter, size=T - 1)
    times = np.clip(times, 0.0, T - 1)
    jittered = np.stack(
        [np.interp(times, np.arange(T), values[:, j]) for j in range(values.shape[1])], axis=1
    ).reshape(values.shape)
    amplitude = 1.0 + rng.normal(0.0, cfg.amplitude_error)
    return values[0] + amplitude * (jittered - values[0])


def degrade_frames(
    frames: UInt8[np.ndarray, "T H W 3"], cfg: DegradeConfig, rng: np.random.Generator
) -> UInt8[np.ndarray, "T H W 3"]:
    """Appearance drift, blur and noise on one view's frames (frame 0 kept)."""
    T = frames.shape[0]
    out = frames.astype(np.float32) / 255.0
    gain_end = 1.0 + cfg.drift * rng.normal(size=3)
    offset_end = 0.5 * cfg.drift * rng.normal(size=3)
    for t in range(1, T):
        s = t / max(T - 1, 1)
        img = out[t] * (1.0 + s * (gain_end - 1.0)) + s * offset_end
        if cfg.blur_sigma_px > 0:
            img = cv2.GaussianBlur(img, (0, 0), cfg.blur_sigma_px)
        img = img + rng.normal(0.0, cfg.noise_std, size=img.shape)
        out[t] = img
    degraded = np.clip(np.round(out * 255.0), 0, 255).astype(np.uint8)
    degraded[0] = frames[0]
    return degraded
