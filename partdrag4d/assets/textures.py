"""Seeded procedural texture images (numpy only) for the procedural object library.

Every texture is an sRGB uint8 (H, W, 3) image, row 0 at the top, made of a base colour
modulated by a pattern (wood grain, multi-octave value noise, stripes or checker) plus a
fine noise layer, so surfaces carry trackable high-frequency detail while each part keeps
its own distinguishable hue.
"""

from __future__ import annotations

import colorsys

import numpy as np
from jaxtyping import Float, UInt8

PATTERNS: tuple[str, ...] = ("wood", "noise", "stripes", "checker")
"""Pattern names accepted by :func:`make_texture`."""


def value_noise(rng: np.random.Generator, size: int, cells: int) -> Float[np.ndarray, "H W"]:
    """Smooth value noise in [0, 1]: a ``cells x cells`` random grid, bicubic-free smoothstep
    interpolated to ``size x size``.

    Args:
        rng: random generator (consumed).
        size: output side in pixels.
        cells: grid cells per side (higher = finer detail).

    Returns:
        (size, size) float64 array.
    """
    grid = rng.random((cells + 1, cells + 1))
    t = np.linspace(0.0, cells, size, endpoint=False)
    i = np.floor(t).astype(np.int64)
    f = t - i
    f = f * f * (3.0 - 2.0 * f)  # smoothstep hides the grid lines
    a = grid[i][:, i]
    b = grid[i][:, i + 1]
    c = grid[i + 1][:, i]
    d = grid[i + 1][:, i + 1]
    fy, fx = f[:, None], f[None, :]
    return (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy


def fractal_noise(
    rng: np.random.Generator, size: int, base_cells: int = 4, octaves: int = 4
) -> Float[np.ndarray, "H W"]:
    """Sum of value-noise octaves (each twice as fine, half the amplitude), in [0, 1]."""
    total = np.zeros((size, size))
    amp, norm = 1.0, 0.0
    for o in range(octaves):
        total += amp * value_noise(rng, size, base_cells * 2**o)
        norm += amp
        amp *= 0.5
    return total / norm


def pattern(rng: np.random.Generator, kind: str, size: int) -> Float[np.ndarray, "H W"]:
    """A grey pattern in [0, 1].

    Args:
        rng: random generator (consumed).
        kind: one of :data:`PATTERNS`.
        size: side in pixels.

    Returns:
        (size, size) float64 array.
    """
    y, x = np.mgrid[0:size, 0:size] / size
    if kind == "wood":
        # Rings around an off-image centre, distorted by noise: the look of sawn timber.
        cx, cy = rng.uniform(-1.5, 2.5), rng.uniform(-3.0, -1.0)
        r = np.hypot((x - cx) * 0.35, y - cy) + 0.08 * fractal_noise(rng, size, 3, 3)
        rings = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(14, 26) * r)
        return 0.6 * rings**0.7 + 0.4 * fractal_noise(rng, size, 8, 3)
    if kind == "noise":
        return fractal_noise(rng, size, int(rng.integers(3, 7)), 5)
    if kind == "stripes":
        ang = rng.uniform(0, np.pi)
        freq = rng.uniform(6, 14)
        s = 0.5 + 0.5 * np.sign(np.sin(2 * np.pi * freq * (np.cos(ang) * x + np.sin(ang) * y)))
        return 0.7 * s + 0.3 * fractal_noise(rng, size, 6, 3)
    if kind == "checker":
        n = int(rng.integers(4, 10))
        s = ((np.floor(x * n) + np.floor(y * n)) % 2).astype(np.float64)
        return 0.7 * s + 0.3 * fractal_noise(rng, size, 6, 3)
    raise ValueError(f"unknown pattern {kind!r}; expected one of {PATTERNS}")


def make_texture(
    rng: np.random.Generator,
    rgb: Float[np.ndarray, "3"],
    kind: str,
    size: int = 256,
    contrast: float = 0.45,
    grain: float = 0.12,
) -> UInt8[np.ndarray, "H W 3"]:
    """A coloured texture: ``rgb`` modulated by a pattern and fine noise.

    Args:
        rng: random generator (consumed).
        rgb: base colour in [0, 1] (sRGB).
        kind: pattern name (:data:`PATTERNS`).
        size: side in pixels.
        contrast: modulation depth; the mean colour stays close to ``rgb``.
        grain: depth of the per-pixel grain.

    Returns:
        (size, size, 3) uint8 image.
    """
    p = pattern(rng, kind, size)
    fine = rng.random((size, size))  # per-pixel grain for optical flow / trackers
    m = 1.0 + contrast * (p - 0.5) + grain * (fine - 0.5)
    img = np.clip(np.asarray(rgb, dtype=np.float64)[None, None, :] * m[..., None], 0, 1)
    return (img * 255.0 + 0.5).astype(np.uint8)


def distinct_colors(rng: np.random.Generator, n: int) -> Float[np.ndarray, "n 3"]:
    """``n`` well-separated sRGB colours in [0, 1] (golden-ratio hue steps, random start).

    Args:
        rng: random generator (consumed).
        n: number of colours.

    Returns:
        (n, 3) float64 colours with mid saturation and value.
    """
    h0 = rng.random()
    out = []
    for i in range(n):
        h = (h0 + 0.618033988749895 * i) % 1.0
        s = rng.uniform(0.45, 0.7)
        v = rng.uniform(0.6, 0.85)
        out.append(colorsys.hsv_to_rgb(h, s, v))
    return np.asarray(out, dtype=np.float64).reshape(n, 3)
