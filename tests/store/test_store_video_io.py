"""MP4 and PNG-folder I/O."""

from __future__ import annotations

import numpy as np
import pytest

from partdrag4d.store.video_io import read_frames_dir, read_mp4, write_frames_dir, write_mp4


def smooth_frames(T, H, W):
    y, x = np.mgrid[0:H, 0:W] / max(H, W)
    frames = []
    for t in range(T):
        r = 0.5 + 0.4 * np.sin(2 * np.pi * (x + 0.05 * t))
        g = 0.5 + 0.4 * np.cos(2 * np.pi * y)
        b = 0.5 + 0.3 * np.sin(2 * np.pi * (x + y))
        frames.append(np.stack([r, g, b], -1))
    return (np.stack(frames) * 255).round().astype(np.uint8)


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255.0**2 / mse)


@pytest.mark.parametrize("size", [(32, 48), (31, 45)])
def test_mp4_round_trip_psnr(tmp_path, size):
    frames = smooth_frames(6, *size)
    path = write_mp4(frames, tmp_path / "v.mp4", fps=10.0)
    back = read_mp4(path, size=size)
    assert back.shape == frames.shape and back.dtype == np.uint8
    assert psnr(frames, back) > 30.0


def test_frames_dir_round_trip_is_exact(tmp_path):
    frames = np.random.default_rng(1).integers(0, 256, (3, 5, 7, 3), dtype=np.uint8)
    paths = write_frames_dir(frames, tmp_path / "f")
    assert [p.name for p in paths] == ["frame_000.png", "frame_001.png", "frame_002.png"]
    np.testing.assert_array_equal(read_frames_dir(tmp_path / "f"), frames)
    with pytest.raises(FileNotFoundError):
        read_frames_dir(tmp_path)
