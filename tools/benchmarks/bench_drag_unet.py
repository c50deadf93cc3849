"""Denoising-step time of the drag UNet relative to the plain SVD UNet of the same config.

CPU: tiny config. CUDA (when available): full SVD size, random weights, fp16, 14 frames
at 256x256 (32x32 latents), with peak GPU memory. Prints times and ratios (no pass/fail;
target overhead <= 10 %).

Usage: python tools/benchmarks/bench_drag_unet.py [--repeats N]
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
from diffusers import UNetSpatioTemporalConditionModel

from partdrag4d.generator.tiny import TinyConfig, tiny_svd_unet
from partdrag4d.generator.unet import DragUNetSpatioTemporalModel


def _time(fn, repeats: int, device: str) -> float:
    fn()  # warm-up
    if device == "cuda":
        torch.cuda.synchronize()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return best


def bench(base, drag, frames, latent, ctx_dim, device, dtype, repeats) -> None:
    g = torch.Generator(device).manual_seed(0)
    x = torch.randn(1, frames, 8, latent, latent, generator=g, device=device, dtype=dtype)
    ctx = torch.randn(1, 1, ctx_dim, generator=g, device=device, dtype=dtype)
    ids = torch.tensor([[6.0, 127.0, 0.02]], device=device, dtype=dtype)
    drags = torch.rand(1, frames, drag.config.num_drags, 2, generator=g, device=device)
    mask = torch.ones(1, drag.config.num_drags, dtype=torch.bool, device=device)
    with torch.no_grad():
        t_base = _time(lambda: base(x, 1.0, ctx, ids), repeats, device)
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        t_drag = _time(
            lambda: drag(x, 1.0, ctx, ids, drags=drags.to(dtype), drag_mask=mask), repeats, device
        )
        peak = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else float("nan")
    print(
        f"[{device} {dtype} T={frames} latent={latent}] base {t_base * 1e3:.1f} ms, "
        f"drag {t_drag * 1e3:.1f} ms, ratio {t_drag / t_base:.3f}"
        + (f", drag peak mem {peak:.2f} GiB" if device == "cuda" else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print("command:", " ".join([sys.executable, *sys.argv]))
    torch.manual_seed(0)
    cfg = TinyConfig(num_frames=8)
    base = tiny_svd_unet(cfg).eval()
    drag = DragUNetSpatioTemporalModel.from_unet(base, 5, (16, 16), 16).eval()
    bench(base, drag, 8, 32, cfg.cross_attention_dim, "cpu", torch.float32, args.repeats)
    if torch.cuda.is_available():
        base = UNetSpatioTemporalConditionModel(num_frames=14).to("cuda", torch.float16).eval()
        drag = DragUNetSpatioTemporalModel.from_unet(base).eval()
        bench(base, drag, 14, 32, 1024, "cuda", torch.float16, args.repeats)


if __name__ == "__main__":
    main()
