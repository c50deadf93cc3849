"""The published Puppet-Master checkpoint layout loads into our UNet and runs the same.

A tiny network with their key names, config and file layout is built by an independent
re-implementation (``puppet_master_reference``), saved as they save it (a diffusers
folder, and a bare EMA state dict), converted, and compared forward for forward.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from puppet_master_reference import build_reference, drag_image, pos_table, reference_forward
from safetensors.torch import save_file

from partdrag4d.generator.drag_maps import drag_maps, grid_sincos_embed_2d
from partdrag4d.generator.pipeline import DragVideoPipeline
from partdrag4d.generator.puppet_master import load_puppet_master_unet
from partdrag4d.generator.tiny import tiny_svd_components

ROOT = Path(__file__).resolve().parents[2]
CONFIG = {
    "sample_size": 16,
    "in_channels": 8,
    "out_channels": 4,
    "down_block_types": [
        "CrossAttnDownBlockSpatioTemporal",
        "CrossAttnDownBlockSpatioTemporal",
        "DownBlockSpatioTemporal",
    ],
    "up_block_types": [
        "UpBlockSpatioTemporal",
        "CrossAttnUpBlockSpatioTemporal",
        "CrossAttnUpBlockSpatioTemporal",
    ],
    "block_out_channels": [32, 32, 64],
    "layers_per_block": 1,
    "cross_attention_dim": 32,
    "num_attention_heads": [2, 2, 2],
    "projection_class_embeddings_input_dim": 96,
    "addition_time_embed_dim": 32,
    "num_frames": 3,
}
K, WIDTHS, POS = 3, (8, 16), 16
THEIR_CONFIG = {
    "_class_name": "UNetDragSpatioTemporalConditionModel",
    "_diffusers_version": "0.29.0.dev0",
    **CONFIG,
    "num_drags": K,
    "cond_dropout_prob": 0.1,
    "pos_embed_dim": POS,
    "drag_token_cross_attn": True,
    "use_modulate": True,
    "drag_embedder_out_channels": list(WIDTHS),
}


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """Their network, saved as a diffusers folder and as a bare EMA state dict."""
    reference = build_reference(CONFIG, K, WIDTHS, POS)
    root = tmp_path_factory.mktemp("puppet_master")
    folder = root / "unet"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(THEIR_CONFIG))
    state = {k: v.contiguous() for k, v in reference.state_dict().items()}
    save_file(state, str(folder / "diffusion_pytorch_model.safetensors"))
    ema = root / "ema" / "0050000-ema.pt"
    ema.parent.mkdir()
    torch.save(state, ema)
    return reference, folder, ema


def inputs(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    B, T, h = 2, CONFIG["num_frames"], CONFIG["sample_size"]
    drags = torch.rand(B, T, K, 2, generator=g) * 0.9 + 0.05
    drags[0, :, 1] = torch.tensor([3 / 16, 0.5])  # on a pixel corner at 16 px
    drags[0, -1, 1] = torch.tensor([1.02, -0.1])  # leaves the image
    mask = torch.tensor([[True, True, False], [True, False, False]])
    drags = drags * mask[:, None, :, None]  # empty slots are zeros, as in their data
    return {
        "sample": torch.randn(B, T, 4, h, h, generator=g),
        "cond": torch.randn(B, 4, h, h, generator=g),
        "clip": torch.randn(B, 1, CONFIG["cross_attention_dim"], generator=g),
        "t": torch.tensor(0.3),
        "drags": drags,
        "mask": mask,
    }


def ours_forward(model, x):
    T = x["sample"].shape[1]
    sample = torch.cat([x["sample"], x["cond"][:, None].repeat(1, T, 1, 1, 1)], dim=2)
    time_ids = torch.tensor([[6.0, 127.0, 0.02]]).repeat(sample.shape[0], 1)
    with torch.no_grad():
        return model(sample, x["t"], x["clip"], time_ids, x["drags"], x["mask"]).sample


def theirs_forward(reference, x):
    start = x["drags"][:, :1].expand_as(x["drags"])
    drags4 = torch.cat([start, x["drags"]], dim=-1)
    return reference_forward(reference, x["sample"], x["t"], x["cond"], x["clip"], drags4, POS)


def test_folder_checkpoint_runs_as_their_network(published):
    reference, folder, _ = published
    model, report = load_puppet_master_unet(folder)
    assert report.unused == [] and report.renamed > 0
    assert all(k.startswith("add_embedding.") for k in report.filled) and report.filled
    assert model.config.drag_variant == "puppet_master" and model.config.num_drags == K
    x = inputs()
    expected = theirs_forward(reference, x)
    got = ours_forward(model, x)
    assert torch.allclose(got, expected, atol=2e-5, rtol=1e-4), (got - expected).abs().max()
    # The drags reach the output (so the equality is not that of two drag-free paths).
    no_drags = {**x, "drags": torch.zeros_like(x["drags"])}
    assert (theirs_forward(reference, no_drags) - expected).abs().max() > 1e-3
    # Empty slots in our API are their all-zero drags.
    empty = ours_forward(model, {**x, "mask": torch.zeros_like(x["mask"])})
    assert torch.allclose(empty, theirs_forward(reference, no_drags), atol=2e-5, rtol=1e-4)


def test_bare_state_dict_needs_the_svd_config_and_infers_the_rest(published):
    _, folder, ema = published
    with pytest.raises(ValueError, match="no config.json"):
        load_puppet_master_unet(ema)
    model, report = load_puppet_master_unet(ema, base_config=dict(CONFIG))
    assert report.unused == []
    assert (model.config.num_drags, tuple(model.config.drag_encoder_channels)) == (K, WIDTHS)
    assert model.config.drag_pos_embed_dim == POS
    from_folder, _ = load_puppet_master_unet(folder)
    x = inputs(1)
    assert torch.equal(ours_forward(model, x), ours_forward(from_folder, x))


def test_unsafe_or_foreign_checkpoints_are_refused(published, tmp_path):
    reference, _, _ = published
    state = dict(reference.state_dict())
    pickled = tmp_path / "evil.pt"
    torch.save({**state, "extra": np.dtype("float32").type}, pickled)  # a class: not weights
    with pytest.raises(ValueError, match="evil.pt"):
        load_puppet_master_unet(pickled, base_config=dict(CONFIG))
    extra = tmp_path / "extra.safetensors"
    save_file({**state, "lora.weight": torch.zeros(2)}, str(extra))
    with pytest.raises(ValueError, match="lora.weight"):
        load_puppet_master_unet(extra, base_config=dict(CONFIG))
    _, report = load_puppet_master_unet(extra, base_config=dict(CONFIG), strict=False)
    assert report.unused == ["lora.weight"]
    missing = tmp_path / "missing.safetensors"
    save_file({k: v for k, v in state.items() if "conv_in" not in k}, str(missing))
    with pytest.raises(ValueError):
        load_puppet_master_unet(missing, base_config=dict(CONFIG))


@pytest.mark.parametrize("res", [16, 8, 4])
def test_drag_maps_follow_their_rasterisation(res):
    x = inputs()
    drags, mask = x["drags"], x["mask"]
    start = drags[:, :1].expand_as(drags)
    expected = drag_image(torch.cat([start, drags], dim=-1), res)
    assert torch.equal(drag_maps(drags, mask, res, res, rounding="round_clip"), expected)
    if res == 16:  # our own rule differs: the corner point and the point outside
        assert not torch.equal(drag_maps(drags, mask, res, res), expected)


def test_grid_position_embedding_reads_their_table():
    g = torch.Generator().manual_seed(3)
    points = torch.rand(40, 2, generator=g) * 1.2 - 0.1  # some outside the image
    for res in (32, 8, 2):
        table = pos_table(res, POS).float()
        grid = (points * 2 - 1)[None, None]
        expected = F.grid_sample(table, grid, "bilinear", "border", align_corners=False)
        expected = expected[0, :, 0].T
        assert torch.allclose(grid_sincos_embed_2d(points, res, res, POS), expected, atol=1e-6)


@pytest.fixture(scope="module")
def svd_folder(tmp_path_factory):
    """A tiny SVD pipeline folder with the UNet config the checkpoint was trained from."""
    from diffusers import UNetSpatioTemporalConditionModel

    root = tmp_path_factory.mktemp("svd")
    components = tiny_svd_components()
    components["unet"] = UNetSpatioTemporalConditionModel(**CONFIG)
    for name, component in components.items():
        component.save_pretrained(root / name)
    return root


def test_pipeline_and_converter_tool_give_the_same_video(published, svd_folder, tmp_path):
    _, folder, ema = published
    pipe = DragVideoPipeline.from_puppet_master(str(folder), str(svd_folder))
    pipe.set_progress_bar_config(disable=True)
    x = inputs()
    image = torch.rand(1, 3, 128, 128, generator=torch.Generator().manual_seed(0))

    def generate(p):
        return p(
            image,
            x["drags"][:1],
            x["mask"][:1],
            height=128,
            width=128,
            num_frames=3,
            num_inference_steps=2,
            generator=torch.Generator().manual_seed(0),
        ).frames

    frames = generate(pipe)
    assert frames.shape == (1, 3, 128, 128, 3) and np.isfinite(frames).all()
    out = tmp_path / "converted"
    cmd = [
        sys.executable,
        str(ROOT / "tools/convert_puppet_master.py"),
        str(ema),
        "--svd",
        str(svd_folder),
        "--out",
        str(out),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "drag keys renamed" in done.stdout and (out / "model_index.json").is_file()
    loaded = DragVideoPipeline.from_pretrained(out)
    loaded.set_progress_bar_config(disable=True)
    assert np.array_equal(generate(loaded), frames)
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and "not empty" in again.stderr
