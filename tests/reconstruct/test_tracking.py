"""The track stage's image-noise estimate (it scales the occlusion checks)."""

import numpy as np

from partdrag4d.reconstruct.track import noise_sigma


def test_noise_sigma_known_answer():
    rng = np.random.default_rng(0)
    # A smooth textured image plus Gaussian noise of known std.
    yy, xx = np.mgrid[0:128, 0:128]
    clean = 120 + 60 * np.sin(xx / 9.0) * np.cos(yy / 7.0)
    assert noise_sigma(clean) < 0.3
    for sigma in (2.0, 5.0):
        noisy = clean + rng.normal(0, sigma, clean.shape)
        assert abs(noise_sigma(noisy) - sigma) < 0.15 * sigma
