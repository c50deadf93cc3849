"""Drag maps: exact sub-pixel offsets at the right pixels, -1 elsewhere, at every size."""

import numpy as np
import pytest
import torch

from partdrag4d.generator.drag_maps import (
    drag_maps,
    pad_drags,
    pixels_to_normalized,
    sincos_embed_2d,
)


@pytest.mark.parametrize("size", [(32, 32), (16, 16), (8, 8), (6, 10)])
def test_offsets_at_exact_pixels(size):
    h, w = size
    T, D = 3, 2
    drags = torch.tensor(
        [
            [[0.10, 0.20], [0.90, 0.50]],
            [[0.30, 0.40], [0.70, 0.55]],
            [[0.51, 0.61], [0.33, 0.95]],
        ],
        dtype=torch.float64,
    )[None]
    mask = torch.tensor([[True, True]])
    maps = drag_maps(drags, mask, h, w)
    assert maps.shape == (1, T, 6 * D, h, w)
    expected = torch.full_like(maps, -1.0)
    for t in range(T):
        for d in range(D):
            for k, src in enumerate((0, t, T - 1)):
                x, y = drags[0, src, d].tolist()
                col, row = int(np.floor(x * w)), int(np.floor(y * h))
                expected[0, t, 6 * d + 2 * k, row, col] = x * w - col
                expected[0, t, 6 * d + 2 * k + 1, row, col] = y * h - row
    torch.testing.assert_close(maps, expected, rtol=0, atol=1e-12)
    # Each channel marks exactly one pixel.
    assert ((maps != -1).sum(dim=(-1, -2)) <= 1).all()


def test_masked_and_empty_drags_are_all_minus_one():
    drags = torch.rand(2, 4, 3, 2)
    maps = drag_maps(drags, torch.zeros(2, 3, dtype=torch.bool), 8, 8)
    assert (maps == -1).all()
    mask = torch.tensor([[True, False, False], [False, False, True]])
    maps = drag_maps(drags, mask, 8, 8).reshape(2, 4, 3, 6, 8, 8)
    assert (maps[0, :, 1:] == -1).all() and (maps[1, :, :2] == -1).all()
    assert (maps[0, :, 0] != -1).any() and (maps[1, :, 2] != -1).any()


def test_points_outside_the_image_are_not_drawn():
    drags = torch.tensor([[[[0.5, 0.5]], [[1.2, 0.5]]]])
    maps = drag_maps(drags, torch.tensor([[True]]), 4, 4)
    assert (maps[0, 1, 2:4] == -1).all()  # current point off-image in frame 1
    assert (maps[0, 1, 0:2] != -1).any()  # start still drawn


def test_pixel_normalisation_matches_corner_convention():
    pts = np.array([[0.0, 0.0], [128.0, 64.0], [256.0, 128.0]])
    np.testing.assert_allclose(pixels_to_normalized(pts, 256, 128), [[0, 0], [0.5, 0.5], [1, 1]])


def test_sincos_embedding_and_padding():
    e = sincos_embed_2d(torch.tensor([[0.25, 0.75]]), 16)
    assert e.shape == (1, 16)
    torch.testing.assert_close(e[..., :4] ** 2 + e[..., 4:8] ** 2, torch.ones(1, 4))
    d, m = pad_drags(torch.rand(1, 2, 3, 2), torch.ones(1, 3, dtype=torch.bool), 5)
    assert d.shape == (1, 2, 5, 2) and m.tolist() == [[True] * 3 + [False] * 2]
    with pytest.raises(ValueError):
        pad_drags(torch.rand(1, 2, 6, 2), torch.ones(1, 6, dtype=torch.bool), 5)
