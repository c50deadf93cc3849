"""Full-size Puppet-Master checkpoint conversion: time, memory, keys, one forward.

Writes a random fp16 state dict with the published network's key names and SVD
img2vid's sizes (what their EMA checkpoint holds, 1.5 B parameters), then times
``load_puppet_master_unet`` on it (meta-device construction, weights assigned, not
copied), counts the keys it renamed / kept / filled, and runs one denoising forward
(14 frames; 16 x 16 latents on CPU, 32 x 32 on CUDA). Prints times and peak resident
memory; no pass/fail. Needs ~3 GB of free disk in the temp folder.

Usage: python tools/benchmarks/bench_convert_puppet_master.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import save_file

from partdrag4d.generator.puppet_master import load_puppet_master_unet
from partdrag4d.generator.unet import DragUNetSpatioTemporalModel
from partdrag4d.store.store import peak_memory_mb

SVD_IMG2VID_UNET = {"num_frames": 14, "sample_size": 96}
"""SVD img2vid's UNet config where it differs from the class defaults."""


def their_name(ours: str) -> str | None:
    """The published checkpoint's name of one of our keys (None: not in theirs)."""
    if ours.startswith("add_embedding."):
        return None
    if m := re.match(r"drag_encoders\.(down|up)_(\d+)\.(\d+)\.net\.(\d+)\.(\w+)$", ours):
        prefix, block, layer, index, kind = m.groups()
        part = "conv_in" if index == "0" else f"blocks.{int(index) // 2 - 1}"
        return f"{prefix}_blocks.{block}.flow_convs.{layer}.{part}.{kind}"
    if m := re.match(r"drag_modulations\.(down|up)_(\d+)\.(\d+)\.(\w+)$", ours):
        prefix, block, layer, kind = m.groups()
        return f"{prefix}_blocks.{block}.flow_convs.{layer}.conv_out.{kind}"
    if m := re.match(r"drag_tokenizers\.(down|up)_(\d+)\.(\d+)\.mlp\.(\d+)\.(\w+)$", ours):
        prefix, block, layer, index, kind = m.groups()
        return f"{prefix}_blocks.{block}.drag_token_mlps.{layer}.{index}.{kind}"
    return ours


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="write the checkpoint here (kept)")
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    with torch.device("meta"):
        layout = DragUNetSpatioTemporalModel(**SVD_IMG2VID_UNET, drag_variant="puppet_master")
    shapes = {their_name(k): v.shape for k, v in layout.state_dict().items() if their_name(k)}
    began = time.perf_counter()
    g = torch.Generator().manual_seed(0)
    state = {k: (torch.randn(s, generator=g) * 0.02).half() for k, s in shapes.items()}
    params = sum(v.numel() for v in state.values())
    folder = args.keep or Path(tempfile.mkdtemp(prefix="pm_bench_"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "puppet_master_ema.safetensors"
    save_file(state, str(path))
    del state
    print(
        f"wrote {len(shapes)} keys, {params / 1e9:.2f} B parameters, "
        f"{path.stat().st_size / 2**30:.2f} GiB in {time.perf_counter() - began:.0f} s"
    )

    began = time.perf_counter()
    base = {k: v for k, v in layout.config.items() if not k.startswith(("drag_", "num_drags"))}
    model, report = load_puppet_master_unet(path, base_config=base)
    print(f"converted in {time.perf_counter() - began:.1f} s: {report.summary()}")
    print(f"peak resident memory after loading {peak_memory_mb():.0f} MiB")

    model = model.to(device=device, dtype=torch.float16 if device == "cuda" else torch.float32)
    side = 32 if device == "cuda" else 16
    T, K = 14, model.config.num_drags
    sample = torch.randn(1, T, 8, side, side, device=device, dtype=model.dtype)
    clip = torch.randn(1, 1, 1024, device=device, dtype=model.dtype)
    ids = torch.tensor([[6.0, 127.0, 0.02]], device=device, dtype=model.dtype)
    drags = torch.rand(1, T, K, 2, device=device, dtype=model.dtype)
    mask = torch.tensor([[True, True, False, False, False]], device=device)
    began = time.perf_counter()
    with torch.no_grad():
        out = model(sample, 0.5, clip, ids, drags, mask).sample
    if device == "cuda":
        torch.cuda.synchronize()
    print(
        f"one forward ({device}, {model.dtype}, {T} frames, {side}x{side} latents): "
        f"{time.perf_counter() - began:.1f} s, output finite: {bool(out.isfinite().all())}"
    )
    print(f"peak resident memory {peak_memory_mb():.0f} MiB")
    if args.keep is None:
        path.unlink()
        folder.rmdir()


if __name__ == "__main__":
    main()
