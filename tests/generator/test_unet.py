"""Drag UNet invariants at initialisation and the all-to-first attention."""

import pytest
import torch

from partdrag4d.generator.attention import AllToFirstAttnProcessor
from partdrag4d.generator.tiny import TinyConfig, tiny_svd_unet
from partdrag4d.generator.unet import DragUNetSpatioTemporalModel

B, T, K = 2, 4, 5


class _BoundAllToFirst(AllToFirstAttnProcessor):
    """All-to-first with a fixed frame count, for the base UNet (which does not pass
    ``num_frames`` to its processors)."""

    def __init__(self, num_frames: int):
        self.num_frames = num_frames

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None):
        return super().__call__(attn, hidden_states, num_frames=self.num_frames)


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    base = tiny_svd_unet(TinyConfig()).eval()
    drag = DragUNetSpatioTemporalModel.from_unet(
        base, num_drags=K, drag_encoder_channels=(16, 16), drag_pos_embed_dim=16
    ).eval()
    # Base UNet with the same attention processors (all-to-first in spatial attn1).
    base.set_attn_processor(
        {
            n: _BoundAllToFirst(T) if ".transformer_blocks." in n and "attn1" in n else p
            for n, p in base.attn_processors.items()
        }
    )
    return base, drag


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, T, 8, 8, 8, generator=g)
    ctx = torch.randn(B, 1, 32, generator=g)
    ids = torch.tensor([[6.0, 127.0, 0.02]] * B)
    drags = torch.rand(B, T, K, 2, generator=g)
    mask = torch.tensor([[True, True, False, False, False], [True, False, False, False, True]])
    return x, ctx, ids, drags, mask


@torch.no_grad()
def test_no_drags_equals_base_unet(models):
    base, drag = models
    x, ctx, ids, drags, mask = _inputs()
    ref = base(x, 0.7, ctx, ids).sample
    torch.testing.assert_close(drag(x, 0.7, ctx, ids).sample, ref, rtol=0, atol=0)
    # All slots present but masked: the drag tokens get exactly zero attention weight.
    out = drag(x, 0.7, ctx, ids, drags=drags, drag_mask=torch.zeros_like(mask)).sample
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-6)


@torch.no_grad()
def test_modulation_is_exactly_zero_at_init_and_tokens_matter(models):
    _, drag = models
    x, ctx, ids, drags, mask = _inputs()
    outputs = []
    hooks = [
        conv.register_forward_hook(lambda m, i, o: outputs.append(o))
        for convs in drag.drag_modulations.values()
        for conv in convs
    ]
    try:
        with_drags = drag(x, 0.7, ctx, ids, drags=drags, drag_mask=mask).sample
    finally:
        for h in hooks:
            h.remove()
    assert len(outputs) == sum(len(c) for c in drag.drag_modulations.values()) > 0
    assert all((o == 0).all() for o in outputs)
    without = drag(x, 0.7, ctx, ids).sample
    assert (with_drags - without).abs().max() > 1e-4  # only the drag tokens changed it


def test_all_to_first_matches_reference():
    torch.manual_seed(0)
    from diffusers.models.attention_processor import Attention

    attn = Attention(query_dim=16, heads=2, dim_head=8)
    proc = AllToFirstAttnProcessor()
    h = torch.randn(2 * 3, 5, 16)
    out = proc(attn, h, num_frames=3)
    x = h.reshape(2, 3, 5, 16)
    ref = torch.empty_like(x)
    for b in range(2):
        k, v = attn.to_k(x[b, 0]), attn.to_v(x[b, 0])
        for t in range(3):
            q = attn.to_q(x[b, t])
            heads = []
            for i in range(2):
                s = slice(8 * i, 8 * i + 8)
                w = torch.softmax(q[:, s] @ k[:, s].T / 8**0.5, dim=-1)
                heads.append(w @ v[:, s])
            ref[b, t] = attn.to_out[0](torch.cat(heads, -1))
    torch.testing.assert_close(out, ref.reshape(6, 5, 16), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="num_frames"):
        proc(attn, h)


def test_config_round_trip_and_grads(tmp_path, models):
    _, drag = models
    drag.save_pretrained(tmp_path)
    loaded = DragUNetSpatioTemporalModel.from_pretrained(tmp_path)
    assert loaded.config.num_drags == K
    for a, b in zip(loaded.state_dict().values(), drag.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    # Gradients reach the zero-initialised modulation convs (they can learn).
    x, ctx, ids, drags, mask = _inputs()
    loaded.train()
    loaded(x, 0.7, ctx, ids, drags=drags, drag_mask=mask).sample.square().mean().backward()
    conv = next(iter(loaded.drag_modulations.values()))[0]
    assert conv.weight.grad is not None and conv.weight.grad.abs().sum() > 0


@torch.no_grad()
def test_drag_cache_reuses_drag_only_work_exactly(models):
    _, drag = models
    x, ctx, ids, drags, mask = _inputs()
    # Trained-like modulation (the zero init would hide a stale cache).
    state = {k: v.clone() for k, v in drag.state_dict().items()}
    g = torch.Generator().manual_seed(5)
    for convs in drag.drag_modulations.values():
        for conv in convs:
            conv.weight.copy_(torch.randn(conv.weight.shape, generator=g) * 0.05)
    try:
        cache: dict = {}
        for t in (0.7, -0.3):  # two denoising steps, one cache
            ref = drag(x, t, ctx, ids, drags=drags, drag_mask=mask).sample
            out = drag(x, t, ctx, ids, drags=drags, drag_mask=mask, drag_cache=cache).sample
            torch.testing.assert_close(out, ref, rtol=0, atol=0)
        assert any(isinstance(k, tuple) for k in cache)  # the modulation was kept
        with pytest.raises(ValueError, match="drag_cache"):
            drag(
                x[:1], 0.7, ctx[:1], ids[:1], drags=drags[:1], drag_mask=mask[:1], drag_cache=cache
            )
    finally:
        drag.load_state_dict(state)
