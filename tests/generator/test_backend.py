"""generate_puppet_master with a tiny saved model returns a valid VideoSet on CPU."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from partdrag4d.containers import CameraRig, DragSet, Material, Primitive, SceneInput, SceneMesh
from partdrag4d.errors import InputError
from partdrag4d.generator.backend import PuppetMasterConfig, generate_puppet_master

ROOT = Path(__file__).resolve().parents[2]


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
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "make_tiny_drag_model.py"), str(out)], check=True
    )
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


def test_missing_model_raises_input_error(tmp_path):
    scene = _scene()
    for path in ["", str(tmp_path / "nope")]:
        with pytest.raises(InputError, match="model_path"):
            generate_puppet_master(
                PuppetMasterConfig(model_path=path), scene, torch.Generator().manual_seed(0)
            )
