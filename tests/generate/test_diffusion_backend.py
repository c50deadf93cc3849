"""generate_puppet_master with a tiny saved model returns a valid VideoSet on CPU.

Torch runs on one thread here, as in the generator tests (tiny ops only lose to
thread spin-waits on a loaded machine)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from partdrag4d.containers import CameraRig, DragSet, Material, Primitive, SceneInput, SceneMesh
from partdrag4d.errors import InputError
from partdrag4d.generate.diffusion_backend import PuppetMasterConfig, generate_puppet_master
from partdrag4d.generator.tiny import tiny_drag_pipeline

ROOT = Path(__file__).resolve().parents[2]
torch.set_num_threads(1)


def _scene(V=2, T=3, D=6, size=32):
    import trimesh

    box = trimesh.creation.box((0.4, 0.4, 0.4))
    prim = Primitive(
        np.asarray(box.vertices, dtype=np.float64),
        np.asarray(box.faces, dtype=np.int64),
        Material("grey", np.array([0.6, 0.5, 0.4, 1.0])),
    )
    K = np.array([[40.0, 0, size / 2], [0, 40.0, size / 2], [0, 0, 1]])
    T_cw = np.eye(4)
    T_cw[2, 3] = 2.0
    rig = CameraRig(np.stack([K] * V), np.stack([T_cw] * V), size, size)
    pts = np.random.default_rng(0).uniform(4, size - 4, (V, T, D, 2))
    visible = np.ones((V, D), dtype=bool)
    visible[1, 0] = False
    drags = DragSet(np.zeros((T, D, 3)), pts, visible)
    return SceneInput("box", SceneMesh((prim,)), rig, drags, T, 10.0)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny_drag")
    tiny_drag_pipeline().save_pretrained(out)  # what tools/make_tiny_drag_model.py saves
    return out


def test_generate_returns_video_set(model_dir):
    scene = _scene()
    cfg = PuppetMasterConfig(
        model_path=str(model_dir), num_inference_steps=2, height=32, width=32, views_per_batch=2
    )
    vs = generate_puppet_master(cfg, scene, torch.Generator().manual_seed(0))
    assert vs.frames.shape == (2, 3, 32, 32, 3) and vs.frames.dtype == np.uint8
    assert vs.fps == 10.0 and vs.alpha is None and vs.gt is None
    assert vs.cameras is scene.cameras
    np.testing.assert_array_equal(vs.drags_2d, scene.drags.points_2d)
    # At most 5 visible drags conditioned per view.
    assert vs.drags_visible.sum(axis=1).tolist() == [5, 5]
    assert not vs.drags_visible[1, 0]


def test_memory_options_keep_the_result(model_dir):
    """Feed-forward chunking changes how, not what, the UNet computes; CPU offload is
    refused without CUDA."""
    scene = _scene()
    base = {"model_path": str(model_dir), "num_inference_steps": 2, "height": 32, "width": 32}
    plain = generate_puppet_master(
        PuppetMasterConfig(**base), scene, torch.Generator().manual_seed(0)
    )
    chunked = generate_puppet_master(
        PuppetMasterConfig(**base, forward_chunking=True), scene, torch.Generator().manual_seed(0)
    )
    assert np.abs(plain.frames.astype(int) - chunked.frames).max() <= 1
    with pytest.raises(InputError, match="cpu_offload"):
        generate_puppet_master(
            PuppetMasterConfig(**base, cpu_offload=True), scene, torch.Generator().manual_seed(0)
        )


def test_missing_model_raises_input_error(tmp_path):
    scene = _scene()
    for path in ["", str(tmp_path / "nope")]:
        with pytest.raises(InputError, match="model_path"):
            generate_puppet_master(
                PuppetMasterConfig(model_path=path), scene, torch.Generator().manual_seed(0)
            )


def test_tiny_smoke_size_is_fast(model_dir):
    """The smoke path (2 views x 6 frames at 64^2, 2 steps) takes well under seconds of
    compute: the tiny VAE downsamples 8x like SVD's, so the UNet sees 8^2 latents."""
    import time

    scene = _scene(V=2, T=6, size=64)
    cfg = PuppetMasterConfig(model_path=str(model_dir), num_inference_steps=2, height=64, width=64)
    t0 = time.process_time()
    vs = generate_puppet_master(cfg, scene, torch.Generator().manual_seed(0))
    assert vs.frames.shape == (2, 6, 64, 64, 3)
    assert time.process_time() - t0 < 10.0  # about 1 s here; minutes before the 8x VAE


@pytest.mark.slow
def test_tools_build_train_and_make_model(tmp_path):
    """The three Hydra/argparse tools run end to end at tiny sizes."""

    def run(*args):
        env = {**os.environ, "OMP_NUM_THREADS": "1"}  # tiny models: threads only contend
        res = subprocess.run(
            [sys.executable, *map(str, args)], cwd=ROOT, capture_output=True, text=True, env=env
        )
        assert res.returncode == 0, res.stderr[-3000:]

    model, data, runs = tmp_path / "model", tmp_path / "data", tmp_path / "run"
    run(ROOT / "tools" / "make_tiny_drag_model.py", model)
    run(
        ROOT / "tools" / "build_drag_dataset.py",
        f"pipeline={model}",
        f"out_dir={data}",
        "engine.num_clips=2",
        "engine.num_val_clips=1",
        "engine.width=64",
        "engine.height=64",
        "engine.num_frames=4",
        f"hydra.run.dir={tmp_path / 'hydra1'}",
    )
    run(
        ROOT / "tools" / "train_drag_model.py",
        f"init_from={model}",
        f"cache_dir={data}",
        f"out_dir={runs}",
        "max_steps=2",
        "grad_accum=1",
        "validation.every=2",
        "validation.num_inference_steps=1",
        f"hydra.run.dir={tmp_path / 'hydra2'}",
    )
    assert (runs / "pipeline" / "model_index.json").is_file()
    assert (runs / "validation.json").is_file()
