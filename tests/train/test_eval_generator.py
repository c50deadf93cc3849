"""tools/eval_generator.py end to end on synthetic Drag-a-Move batches and render clips,
with a tiny model and tiny local TorchScript LPIPS / I3D modules."""

import collections
import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from partdrag4d.generator.dragamove import read_dragamove
from partdrag4d.generator.tiny import tiny_drag_pipeline
from partdrag4d.train.data import ValClip, save_val_clip

ROOT = Path(__file__).resolve().parents[2]
T, LATENT = 3, 8  # 64 px clips through the tiny 8x VAE


def _batch(seed: int) -> dict:
    """A test batch laid out as the authors' .pkl files are (a plain pickle)."""
    g = torch.Generator().manual_seed(seed)
    drags = torch.zeros(1, T, 5, 4)
    drags[0, :, 0, :2] = torch.tensor([0.4, 0.5])
    drags[0, :, 0, 2] = torch.linspace(0.4, 0.6, T)
    drags[0, :, 0, 3] = 0.5
    return {
        "latents": torch.randn(1, T, 4, LATENT, LATENT, generator=g),
        "cond_latent": torch.randn(1, 4, LATENT, LATENT, generator=g) * 5,
        "embedding": torch.randn(1, 1, 32, generator=g),
        "drags": drags,
        "category": ["StorageFurniture"],
        "instance_idx": ["45194"],
        "subset_idx": [np.str_("000_total01")],
        "camera_idx": torch.tensor([3]),
        "extra": collections.OrderedDict(start_motion_t=np.int64(0)),
    }


class _Evil:
    def __reduce__(self):
        return (print, ("this would run any code",))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    model = root / "model"
    tiny_drag_pipeline().save_pretrained(model)
    batches = root / "dragamove"
    batches.mkdir()
    for i in range(2):
        (batches / f"{i:05d}.pkl").write_bytes(pickle.dumps(_batch(i)))

    class Lpips(torch.nn.Module):
        def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return ((x - y) ** 2).mean(dim=(1, 2, 3))

    class I3d(torch.nn.Module):
        def forward(
            self,
            x: torch.Tensor,
            rescale: bool = False,
            resize: bool = False,
            return_features: bool = True,
        ) -> torch.Tensor:
            return torch.stack([x.mean(dim=(1, 2, 3, 4)), x.std(dim=(1, 2, 3, 4))], dim=1)

    torch.jit.script(Lpips()).save(str(root / "lpips.pt"))
    torch.jit.script(I3d()).save(str(root / "i3d.pt"))
    return root


def _run(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(ROOT / "tools/eval_generator.py"), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def test_reader_takes_their_layout_and_refuses_code(setup, tmp_path):
    clip = read_dragamove(setup / "dragamove" / "00001.pkl")
    assert clip.latents.shape == (T, 4, LATENT, LATENT) and clip.embedding.shape == (1, 32)
    assert clip.drag_mask.tolist() == [True, False, False, False, False]
    torch.testing.assert_close(clip.drags[-1, 0], torch.tensor([0.6, 0.5]))
    assert clip.name == "00001 StorageFurniture"
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({**_batch(0), "x": _Evil()}))
    with pytest.raises(ValueError, match="builtins.print"):
        read_dragamove(evil)


def test_dragamove_scores_next_to_the_published_numbers(setup, tmp_path):
    out = tmp_path / "result.json"
    res = _run(
        "--model",
        str(setup / "model"),
        "--dragamove",
        str(setup / "dragamove"),
        "--steps",
        "2",
        "--lpips",
        str(setup / "lpips.pt"),
        "--i3d",
        str(setup / "i3d.pt"),
        "--out",
        str(out),
    )
    assert res.returncode == 0, res.stderr
    assert "Puppet-Master (published) | 24.41 | 0.927 | 0.085 | 246.99 | 3.53" in res.stdout
    result = json.loads(out.read_text())
    assert result["num_clips"] == 2
    mean = result["mean"]
    assert all(np.isfinite(mean[k]) for k in ("psnr", "ssim", "lpips", "fvd", "motion_error"))
    assert -1.0 < mean["ssim"] < 1.0 and mean["fvd"] >= 0.0 and mean["lpips"] > 0.0
    assert result["time_per_clip_s"] > 0 and result["peak_memory_mb"] > 0


def test_render_clips_and_missing_weights(setup, tmp_path):
    data = tmp_path / "dataset"
    (data / "val").mkdir(parents=True)
    rng = np.random.default_rng(0)
    drags = np.zeros((T, 5, 2))
    drags[:, 0] = [[20, 30], [24, 30], [28, 30]]
    clip = ValClip(
        rng.integers(0, 256, (T, 64, 64, 3), dtype=np.uint8),
        drags,
        np.array([True, False, False, False, False]),
        "val_000",
    )
    save_val_clip(clip, data / "val" / "val_000.npz")
    res = _run("--model", str(setup / "model"), "--renders", str(data), "--steps", "1")
    assert res.returncode == 0, res.stderr
    assert "this run (1 clips) |" in res.stdout and "| n/a | n/a |" in res.stdout
    bad = _run("--model", str(setup / "model"), "--renders", str(data), "--i3d", "nope.pt")
    assert bad.returncode == 2 and "--i3d nope.pt: no such file" in bad.stderr
