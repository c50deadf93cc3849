"""How drag-to-video generation is scored (pure functions on uint8 clips and features).

- **PSNR** (dB) and **SSIM** of generated frames against ground-truth frames. SSIM is
  Wang et al.'s with an 11x11 Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03 on the
  0-255 range, computed per RGB channel and averaged over pixels, channels and frames.
- **Motion error** (pixels): each requested drag's start point is tracked through the
  generated frames with pyramidal Lucas-Kanade, frame to frame; the error is the mean
  distance between the tracked and the requested position over frames 1..T-1 and
  drags. Reported at 256 x 256, as published numbers are.
- **Fréchet distance** between two sets of features (FVD when the features are an I3D
  network's, FID-style: ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))``).
"""

from __future__ import annotations

import cv2
import numpy as np
import scipy.linalg
from jaxtyping import Float, UInt8


def psnr(a: UInt8[np.ndarray, "..."], b: UInt8[np.ndarray, "..."]) -> float:
    """PSNR in dB of two uint8 arrays (inf when equal)."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10.0 * np.log10(255.0**2 / mse))


def ssim(a: UInt8[np.ndarray, "*frames H W 3"], b: UInt8[np.ndarray, "*frames H W 3"]) -> float:
    """Mean SSIM of two uint8 RGB images or clips (Gaussian window, see module doc)."""
    if a.shape != b.shape:
        raise ValueError(f"ssim: shapes differ, {a.shape} vs {b.shape}")
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    frames_a = a.reshape(-1, *a.shape[-3:]).astype(np.float64)
    frames_b = b.reshape(-1, *b.shape[-3:]).astype(np.float64)

    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    scores = []
    for x, y in zip(frames_a, frames_b, strict=True):
        mx, my = blur(x), blur(y)
        sxx, syy, sxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
        num = (2 * mx * my + c1) * (2 * sxy + c2)
        den = (mx * mx + my * my + c1) * (sxx + syy + c2)
        # Wang et al. average over windows that lie inside the image.
        scores.append((num / den)[5:-5, 5:-5].mean())
    return float(np.mean(scores))


def motion_error(
    frames: UInt8[np.ndarray, "T H W 3"], drags_px: Float[np.ndarray, "T D 2"]
) -> float:
    """Mean end-point error (pixels) between tracked drag points and their targets.

    Args:
        frames: the generated clip.
        drags_px: requested trajectories in pixels (OpenCV: pixel centres at integers,
            as cv2 tracks).

    Returns:
        The mean error in pixels of the given resolution (evaluate at 256 x 256).
    """
    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    pts = drags_px[0].astype(np.float32).reshape(-1, 1, 2)
    errors = []
    for t in range(1, len(frames)):
        # (OpenCV's annotations do not allow the documented ``nextPts=None``.)
        pts, _, _ = cv2.calcOpticalFlowPyrLK(  # pyright: ignore[reportCallIssue]
            gray[t - 1],
            gray[t],
            pts,
            None,  # pyright: ignore[reportArgumentType]
            winSize=(21, 21),
            maxLevel=3,
        )
        errors.append(np.linalg.norm(pts.reshape(-1, 2) - drags_px[t], axis=-1))
    return float(np.mean(errors))


def frechet_distance(a: Float[np.ndarray, "N F"], b: Float[np.ndarray, "M F"]) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (FVD, FID)."""
    if len(a) < 2 or len(b) < 2:
        raise ValueError("frechet_distance needs at least two samples per set")
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(cov_a @ cov_b)
    root = np.real(root)  # rounding leaves tiny imaginary parts
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a + cov_b - 2.0 * root))
