"""Degradations: seeded, frame 0 untouched, strengths do what they say."""

import numpy as np

from partdrag4d.generate.degrade import DegradeConfig, degrade_frames, perturb_motion


def _values() -> np.ndarray:
    s = np.linspace(0.0, 1.0, 14)
    return np.stack([0.2 + 1.2 * s, -0.3 * s], axis=1)


def test_motion_perturbation_is_seeded_and_keeps_rest():
    cfg = DegradeConfig(enabled=True)
    a = perturb_motion(_values(), cfg, np.random.default_rng(1))
    b = perturb_motion(_values(), cfg, np.random.default_rng(1))
    c = perturb_motion(_values(), cfg, np.random.default_rng(2))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    np.testing.assert_array_equal(a[0], _values()[0])


def test_amplitude_error_scales_motion_about_rest():
    cfg = DegradeConfig(enabled=True, amplitude_error=0.2, jitter=0.0)
    v = _values()
    out = perturb_motion(v, cfg, np.random.default_rng(0))
    scale = (out[1:] - v[0]) / (v[1:] - v[0])
    assert np.allclose(scale, scale[0, 0]) and abs(scale[0, 0] - 1.0) > 1e-3


def test_zero_strength_is_identity():
    cfg = DegradeConfig(enabled=True, amplitude_error=0.0, jitter=0.0)
    np.testing.assert_allclose(perturb_motion(_values(), cfg, np.random.default_rng(0)), _values())
    frames = np.random.default_rng(0).integers(0, 256, (5, 16, 16, 3), dtype=np.uint8)
    flat = DegradeConfig(enabled=True, noise_std=0.0, blur_sigma_px=0.0, drift=0.0)
    np.testing.assert_array_equal(degrade_frames(frames, flat, np.random.default_rng(0)), frames)


def test_frames_degrade_more_over_time_and_keep_first():
    frames = np.full((6, 32, 32, 3), 128, np.uint8)
    cfg = DegradeConfig(enabled=True, noise_std=0.0, blur_sigma_px=0.0, drift=0.2)
    out = degrade_frames(frames, cfg, np.random.default_rng(3))
    np.testing.assert_array_equal(out[0], frames[0])
    err = np.abs(out.astype(int) - frames).mean(axis=(1, 2, 3))
    assert np.all(np.diff(err) >= 0) and err[-1] > 1.0
