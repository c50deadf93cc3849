"""Data engine: pixel tracks, a tiny dataset build (render -> drags -> cached latents),
validation scoring and the training loop with validation and resume."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from partdrag4d.generator.tiny import tiny_drag_pipeline
from partdrag4d.generator.training import CachedClipDataset, EDMConfig
from partdrag4d.train.data import (
    DataEngineConfig,
    ValClip,
    build_dataset,
    load_val_clips,
    pixel_tracks,
    render_clip,
)
from partdrag4d.train.trainer import TrainConfig, ValidationConfig, train, validate

T = 4


def test_pixel_tracks_known_motion():
    # Camera at the origin looking down +z, f = 10 px, principal point (2, 2).
    K = np.array([[10.0, 0, 2], [0, 10.0, 2], [0, 0, 1]])
    part_id = np.array([[-1, 0], [1, -1]])
    rest = np.zeros((2, 2, 3))
    rest[0, 1] = [0.0, 0.0, 1.0]
    rest[1, 0] = [0.1, 0.0, 1.0]
    T_rel = np.tile(np.eye(4), (3, 2, 1, 1))
    T_rel[1:, 1, 0, 3] = [0.1, 0.2]  # link 1 slides along +x
    tracks = pixel_tracks(part_id, rest, T_rel, K, np.eye(4))
    assert tracks.shape == (3, 2, 2)
    np.testing.assert_allclose(tracks[:, 0], [[2, 2]] * 3)  # link 0 is still
    np.testing.assert_allclose(tracks[:, 1], [[3, 2], [4, 2], [5, 2]])


def test_random_object_families_are_a_clip_source():
    cfg = DataEngineConfig(width=64, height=64, num_frames=T, categories=[], families=["chains"])
    records = [render_clip(dataclasses.replace(cfg, categories=["box"]), 0, i) for i in range(4)]
    names = {c.record["category"] for c in records if c is not None}
    assert names <= {"box", "chains"} and "chains" in names
    clip = next(c for c in records if c is not None and c.record["category"] == "chains")
    assert clip.frames.shape == (T, 64, 64, 3) and clip.drags_px.shape[0] == T
    assert np.abs(clip.drags_px[-1] - clip.drags_px[0]).max() > 0.5  # the drags move


@pytest.fixture(scope="module")
def pipe():
    return tiny_drag_pipeline()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, pipe):
    out = tmp_path_factory.mktemp("drag_data")
    cfg = DataEngineConfig(num_clips=2, num_val_clips=1, width=64, height=64, num_frames=T)
    return out, cfg, build_dataset(cfg, pipe, out, log=lambda _: None)


def test_build_dataset_writes_a_readable_cache(dataset, pipe):
    out, cfg, summary = dataset
    assert [r["index"] for r in summary["train"]] == [0, 1]
    assert json.loads((out / "dataset.json").read_text())["config"]["width"] == 64
    data = CachedClipDataset(out)
    assert len(data) == 2
    for i, record in enumerate(summary["train"]):
        clip = data[i]
        assert clip.latents.shape == (T, 4, 8, 8)  # the tiny VAE downsamples 8x, as SVD's
        assert clip.cond_latent.shape == (4, 8, 8)
        assert clip.image_embeds.shape == (1, 32)
        assert clip.added_time_ids.tolist() == pytest.approx([6.0, 127.0, 0.02])
        n = record["num_drags"]
        assert 1 <= n <= 5 and clip.drag_mask.tolist() == [True] * n + [False] * (5 - n)
        start = clip.drags[0, :n]
        assert ((start >= 0) & (start <= 1)).all()
        # Drags sit on moving pixels and are not near-duplicates.
        moved = (clip.drags[-1, :n] - start).norm(dim=-1) * 64
        assert (moved >= 1.0).all()
        assert (clip.drags[:, n:] == 0).all()
    val = load_val_clips(out)
    assert len(val) == 1 and val[0].frames.shape == (T, 64, 64, 3)
    assert val[0].drag_mask.sum() == summary["val"][0]["num_drags"]


def test_build_is_deterministic_and_resumes(dataset, pipe, tmp_path):
    out, cfg, _ = dataset
    first = CachedClipDataset(out)[1]
    (out / "clip_00001.pt").unlink()
    mtime = (out / "clip_00000.pt").stat().st_mtime_ns
    build_dataset(cfg, pipe, out, log=lambda _: None)
    assert (out / "clip_00000.pt").stat().st_mtime_ns == mtime  # kept, not rebuilt
    again = CachedClipDataset(out)[1]
    for name in ("latents", "cond_latent", "image_embeds", "drags", "drag_mask"):
        assert torch.equal(getattr(first, name), getattr(again, name)), name


class _ReplayPipe:
    """Stands in for a perfect generator: returns the ground-truth clip."""

    _execution_device = torch.device("cpu")

    def __init__(self, clips):
        self.clips = clips

    def __call__(self, image, drags, masks, **kw):
        frames = np.stack([c.frames for c in self.clips]).astype(np.float64) / 255.0
        return type("Out", (), {"frames": frames})()


def test_validate_scores_a_perfect_and_a_frozen_video():
    rng = np.random.default_rng(0)
    import cv2

    tex = cv2.GaussianBlur((rng.random((80, 80)) * 255).astype(np.uint8), (5, 5), 1.5)
    tex = np.repeat(tex[..., None], 3, -1)
    frames = np.stack([np.roll(tex, 2 * t, axis=1)[8:72, 8:72] for t in range(T)])
    drags = np.zeros((T, 5, 2))
    drags[:, 0] = np.array([20.5, 30.5]) + np.array([[2.0 * t, 0.0] for t in range(T)])
    mask = np.array([True, False, False, False, False])
    clip = ValClip(frames, drags, mask, "shift")
    perfect = validate(_ReplayPipe([clip]), [clip], ValidationConfig(num_clips=1))
    assert perfect["motion_error"] < 0.3 and perfect["psnr"] == float("inf")
    frozen = ValClip(np.repeat(frames[:1], T, axis=0), drags, mask, "frozen")
    still = validate(_ReplayPipe([frozen]), [clip], ValidationConfig(num_clips=1))
    # A video that does not move misses the drag by its mean displacement (2, 4, 6 px).
    assert 3.5 < still["motion_error"] < 4.5


def test_train_validates_and_resumes(dataset, pipe, tmp_path):
    out, _, _ = dataset
    pipe.save_pretrained(tmp_path / "init")
    cfg = TrainConfig(
        init_from=str(tmp_path / "init"),
        cache_dir=str(out),
        out_dir=str(tmp_path / "run"),
        max_steps=2,
        lr=1e-4,
        grad_accum=1,
        checkpoint_every=1,
        edm=EDMConfig(drag_dropout=0.0),
        validation=ValidationConfig(every=1, num_clips=1, num_inference_steps=1),
    )
    final = train(cfg, log=lambda _: None)
    assert (final / "model_index.json").is_file()
    history = json.loads((tmp_path / "run" / "validation.json").read_text())
    assert [h["step"] for h in history] == [0, 1, 2]
    assert all(np.isfinite(h["motion_error"]) and h["motion_error"] >= 0 for h in history)
    # Resume: continues at step 2, adds step 3, keeps the earlier entries.
    cfg.max_steps = 3
    train(cfg, log=lambda _: None)
    history = json.loads((tmp_path / "run" / "validation.json").read_text())
    assert [h["step"] for h in history] == [0, 1, 2, 3]
