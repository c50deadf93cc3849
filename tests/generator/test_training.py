"""Training core: loss decreases on a fixed batch, resume is bit-identical, helpers."""

import numpy as np
import torch

from partdrag4d.evaluate.video_metrics import motion_error
from partdrag4d.generator.tiny import TinyConfig, tiny_svd_unet
from partdrag4d.generator.training import (
    CachedClipDataset,
    DragClip,
    EDMConfig,
    batch_indices,
    collate,
    edm_loss,
    load_checkpoint,
    sample_training_drags,
    save_checkpoint,
    save_clip,
)
from partdrag4d.generator.unet import DragUNetSpatioTemporalModel

T, K = 4, 5


def _unet(seed=0):
    torch.manual_seed(seed)
    return DragUNetSpatioTemporalModel.from_unet(
        tiny_svd_unet(TinyConfig()), K, drag_encoder_channels=(8,), drag_pos_embed_dim=8
    )


def _clips(n=4):
    g = torch.Generator().manual_seed(7)
    return [
        DragClip(
            latents=torch.randn(T, 4, 8, 8, generator=g),
            cond_latent=torch.randn(4, 8, 8, generator=g),
            image_embeds=torch.randn(1, 32, generator=g),
            drags=torch.rand(T, K, 2, generator=g),
            drag_mask=torch.tensor([True, True, False, False, False]),
            added_time_ids=torch.tensor([6.0, 127.0, 0.02]),
        )
        for _ in range(n)
    ]


def _train(unet, opt, data, gen, start, stop, cfg=EDMConfig()):
    losses = []
    for step in range(start, stop):
        batch = collate([data[i] for i in batch_indices(len(data), 2, 0, step)])
        loss = edm_loss(unet, batch, gen, cfg)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_loss_decreases_on_a_fixed_batch():
    unet = _unet()
    opt = torch.optim.Adam(unet.parameters(), lr=2e-3)
    batch = collate(_clips(2))
    cfg = EDMConfig(drag_dropout=0.0)

    def eval_loss():
        return edm_loss(unet, batch, torch.Generator().manual_seed(0), cfg).item()

    before = eval_loss()
    gen = torch.Generator().manual_seed(1)
    for _ in range(8):
        loss = edm_loss(unet, batch, gen, cfg)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert eval_loss() < 0.9 * before


def test_resume_is_bit_identical(tmp_path):
    data = _clips()
    unet = _unet()
    opt = torch.optim.Adam(unet.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(3)
    full = _train(unet, opt, data, gen, 0, 4)

    unet2 = _unet()
    opt2 = torch.optim.Adam(unet2.parameters(), lr=1e-3)
    gen2 = torch.Generator().manual_seed(3)
    _train(unet2, opt2, data, gen2, 0, 2)
    save_checkpoint(tmp_path / "ckpt.pt", unet2, opt2, 2, gen2)

    unet3 = _unet(seed=99)  # different weights: everything must come from the checkpoint
    opt3 = torch.optim.Adam(unet3.parameters(), lr=1e-3)
    gen3 = torch.Generator().manual_seed(12345)
    step = load_checkpoint(tmp_path / "ckpt.pt", unet3, opt3, gen3)
    assert step == 2
    resumed = _train(unet3, opt3, data, gen3, step, 4)
    assert resumed == full[2:]
    for a, b in zip(unet.state_dict().values(), unet3.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_data_order_and_cache_round_trip(tmp_path):
    seen = sum((batch_indices(5, 2, 0, s) for s in range(5)), [])
    assert sorted(seen) == sorted(list(range(5)) * 2)  # two epochs, each a permutation
    assert batch_indices(5, 2, 0, 3) == batch_indices(5, 2, 0, 3)
    for i, c in enumerate(_clips(2)):
        save_clip(c, tmp_path / f"clip_{i:05d}.pt")
    ds = CachedClipDataset(tmp_path)
    assert len(ds) == 2 and torch.equal(ds[1].latents, _clips(2)[1].latents)


def test_sample_training_drags_prefers_moving_and_dedups():
    T_, N = 3, 200
    tracks = np.zeros((T_, N, 2))
    tracks[:, :, 0] = np.arange(N)[None]  # spread out
    tracks[-1, 100:, 1] = 30.0  # half the vertices move 30 px
    vis = np.ones(N, dtype=bool)
    idx = sample_training_drags(tracks, vis, 25000, np.random.default_rng(0))
    assert len(idx) == 5 and (idx >= 100).all()
    starts = tracks[0, idx]
    d = np.linalg.norm(starts[:, None] - starts[None], axis=-1) + np.eye(5) * 1e9
    assert d.min() >= 8.0
    assert len(sample_training_drags(tracks, vis, 5000, np.random.default_rng(0))) == 1
    assert len(sample_training_drags(tracks * 0, vis, 5000, np.random.default_rng(0))) == 0


def test_motion_error_on_a_known_translation():
    rng = np.random.default_rng(0)
    tex = (rng.random((80, 80)) * 255).astype(np.uint8)
    tex = np.repeat(np.asarray(__import__("cv2").GaussianBlur(tex, (5, 5), 1.5))[..., None], 3, -1)
    frames = np.stack([np.roll(tex, 2 * t, axis=1)[8:72, 8:72] for t in range(4)])
    start = np.array([[20.0, 30.0], [40.0, 25.0]])
    truth = np.stack([start + [2 * t, 0] for t in range(4)])
    assert motion_error(frames, truth) < 0.3
    wrong = truth.copy()
    wrong[1:] += [0.0, 6.0]  # requested motion the video does not show
    assert 5.5 < motion_error(frames, wrong) < 6.5
