"""DragVideoPipeline: shapes, determinism, save/load round trip, per-frame guidance ramp."""

import numpy as np
import pytest
import torch

from partdrag4d.generator.pipeline import DragVideoPipeline
from partdrag4d.generator.tiny import tiny_drag_pipeline, tiny_svd_components

T = 4


@pytest.fixture(scope="module")
def pipe():
    return tiny_drag_pipeline()


def _inputs(seed=0, **kw):
    g = torch.Generator().manual_seed(123)
    args = dict(
        image=torch.rand(2, 3, 32, 32, generator=g),
        drags=torch.rand(2, T, 3, 2, generator=g),
        drag_mask=torch.tensor([[True, True, False], [True, False, True]]),
        height=32,
        width=32,
        num_frames=T,
        num_inference_steps=2,
        generator=torch.Generator().manual_seed(seed),
    )
    args.update(kw)
    return args


def test_shapes_and_determinism(pipe):
    a = pipe(**_inputs()).frames
    assert isinstance(a, np.ndarray) and a.shape == (2, T, 32, 32, 3)
    assert a.min() >= 0 and a.max() <= 1
    b = pipe(**_inputs()).frames
    np.testing.assert_array_equal(a, b)
    c = pipe(**_inputs(seed=1)).frames
    assert np.abs(a - c).max() > 1e-4
    pt = pipe(**_inputs(output_type="pt")).frames
    assert pt.shape == (2, T, 3, 32, 32)


def test_save_load_round_trip(pipe, tmp_path):
    pipe.save_pretrained(tmp_path)
    assert list(tmp_path.glob("unet/*.safetensors"))
    loaded = DragVideoPipeline.from_pretrained(tmp_path)
    loaded.set_progress_bar_config(disable=True)
    np.testing.assert_array_equal(pipe(**_inputs()).frames, loaded(**_inputs()).frames)


def test_guidance_ramp_is_per_frame(pipe):
    def first_step(store):
        def cb(p, i, t, kw):
            if i == 0:
                store.append(kw["latents"].clone())
            return kw

        return cb

    ramp, flat = [], []
    pipe(**_inputs(output_type="latent", callback_on_step_end=first_step(ramp)))
    torch.testing.assert_close(pipe.guidance_scale[0, :, 0, 0, 0], torch.linspace(1.0, 3.0, T))
    pipe(
        **_inputs(
            output_type="latent",
            min_guidance_scale=1.0,
            max_guidance_scale=1.0,
            callback_on_step_end=first_step(flat),
        )
    )
    # After one step, frame 0 (scale 1 = conditional prediction) matches the unguided
    # run while the last frame (scale 3) does not.
    scale = flat[0].abs().max()
    assert (ramp[0][:, 0] - flat[0][:, 0]).abs().max() < 1e-3 * scale  # fp32 numerics x sigma_max
    assert (ramp[0][:, -1] - flat[0][:, -1]).abs().max() > 2e-2 * scale


def test_bad_inputs_raise(pipe):
    with pytest.raises(ValueError, match="drags"):
        pipe(**_inputs(drags=torch.rand(2, T + 1, 3, 2)))
    with pytest.raises(ValueError, match="divisible"):
        pipe(**_inputs(height=31))


def test_from_svd_folder(tmp_path):
    from diffusers import StableVideoDiffusionPipeline

    svd = StableVideoDiffusionPipeline(**tiny_svd_components())
    svd.save_pretrained(tmp_path / "svd")
    pipe = DragVideoPipeline.from_svd(
        str(tmp_path / "svd"), num_drags=5, drag_encoder_channels=(8,), drag_pos_embed_dim=8
    )
    pipe.set_progress_bar_config(disable=True)
    for name, p in svd.unet.state_dict().items():
        assert torch.equal(pipe.unet.state_dict()[name], p)
    out = pipe(**_inputs()).frames
    assert out.shape == (2, T, 32, 32, 3)
