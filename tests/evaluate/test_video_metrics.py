"""Video metrics against known answers."""

import numpy as np
import pytest

from partdrag4d.evaluate.video_metrics import frechet_distance, psnr, ssim


def _clip(seed=0, shape=(2, 32, 32, 3)):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def test_psnr_of_a_known_error():
    a = np.full((4, 4, 3), 100, np.uint8)
    assert psnr(a, a) == float("inf")
    assert psnr(a, a + 10) == pytest.approx(10 * np.log10(255**2 / 100))


def test_ssim_is_one_on_equal_images_and_falls_with_noise():
    a = _clip()
    assert ssim(a, a) == pytest.approx(1.0)
    noisy = np.clip(a.astype(int) + np.random.default_rng(1).normal(0, 40, a.shape), 0, 255)
    low = ssim(a, noisy.astype(np.uint8))
    assert 0.0 < low < 0.9
    # Luminance term alone: a constant offset on a flat image.
    flat = np.full((1, 32, 32, 3), 100, np.uint8)
    expected = (2 * 100 * 120 + (0.01 * 255) ** 2) / (100**2 + 120**2 + (0.01 * 255) ** 2)
    assert ssim(flat, flat + 20) == pytest.approx(expected)


def test_frechet_distance_of_shifted_gaussians():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 3))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    shift = np.array([1.0, -2.0, 0.5])
    # Same covariance, mean moved: the distance is |shift|^2.
    assert frechet_distance(a, a + shift) == pytest.approx(float(shift @ shift), rel=1e-6)
    # Variance 4 against 1 in every dimension: 3 * (1 + 4 - 2 * 2) = 3.
    assert frechet_distance(a, 2 * a) == pytest.approx(3.0, rel=0.1)
