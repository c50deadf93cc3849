"""Denoising-step time of the drag UNet relative to the plain SVD UNet of the same config.

Two drag timings per config:
- ``uncached``: one forward computing everything (a training step, or the first
  sampling step);
- ``cached``: a later sampling step, where the drag modulation and token positions come
  from the ``drag_cache`` the pipeline keeps across steps (they depend on the drags only).

Configs: CPU ``tiny`` (the test UNet, drag encoder (16, 16)); CPU ``svd-width`` (UNet
block widths 320/640 with SVD's heads and cross-attention width and the design's drag
encoder 256 -> 320 -> 320, small latents: the proportions of the real model at a CPU
size); CUDA (when available) the full SVD UNet, fp16, 14 frames, 32x32 latents (256^2),
with peak memory. Prints times and ratios (no pass/fail; target overhead <= 10 %).

Usage: python tools/benchmarks/bench_drag_unet.py [--repeats N] [--threads N]
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
from diffusers import UNetSpatioTemporalConditionModel

from partdrag4d.generator.tiny import TinyConfig, tiny_svd_unet
from partdrag4d.generator.unet import DragUNetSpatioTemporalModel


def _time_interleaved(fns: dict, repeats: int, device: str) -> dict[str, float]:
    """Best time of each function, calls interleaved so that load drifting on a shared
    machine hits every variant alike."""
    best = dict.fromkeys(fns, float("inf"))
    for fn in fns.values():
        fn()  # warm-up (and fills the drag cache)
    for _ in range(repeats):
        for name, fn in fns.items():
            if device == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            fn()
            if device == "cuda":
                torch.cuda.synchronize()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def bench(name, base, drag, batch, frames, latent, ctx_dim, device, dtype, repeats) -> None:
    g = torch.Generator(device).manual_seed(0)
    x = torch.randn(batch, frames, 8, latent, latent, generator=g, device=device, dtype=dtype)
    ctx = torch.randn(batch, 1, ctx_dim, generator=g, device=device, dtype=dtype)
    ids = torch.tensor([[6.0, 127.0, 0.02]] * batch, device=device, dtype=dtype)
    K = drag.config.num_drags
    drags = torch.rand(batch, frames, K, 2, generator=g, device=device).to(dtype)
    mask = torch.ones(batch, K, dtype=torch.bool, device=device)
    cache: dict = {}
    fns = {
        "base": lambda: base(x, 1.0, ctx, ids),
        "uncached": lambda: drag(x, 1.0, ctx, ids, drags=drags, drag_mask=mask),
        "cached": lambda: drag(x, 1.0, ctx, ids, drags=drags, drag_mask=mask, drag_cache=cache),
    }
    with torch.no_grad():
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        best = _time_interleaved(fns, repeats, device)
        peak = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else float("nan")
    t_base, t_full, t_cached = best["base"], best["uncached"], best["cached"]
    print(
        f"[{name}: {device} {dtype} B={batch} T={frames} latent={latent}] "
        f"base {t_base * 1e3:.1f} ms | drag uncached {t_full * 1e3:.1f} ms, "
        f"ratio {t_full / t_base:.3f} | drag cached {t_cached * 1e3:.1f} ms, "
        f"ratio {t_cached / t_base:.3f}"
        + (f" | peak mem (all three) {peak:.2f} GiB" if device == "cuda" else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument("--skip-svd-width", action="store_true", help="only the tiny CPU config")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        "command:",
        " ".join([sys.executable, *sys.argv]),
        f"(torch threads {torch.get_num_threads()})",
    )
    torch.manual_seed(0)
    cfg = TinyConfig(num_frames=8)
    base = tiny_svd_unet(cfg).eval()
    drag = DragUNetSpatioTemporalModel.from_unet(base, 5, (16, 16), 16).eval()
    bench("tiny", base, drag, 1, 8, 32, cfg.cross_attention_dim, "cpu", torch.float32, args.repeats)
    if not args.skip_svd_width:
        base = UNetSpatioTemporalConditionModel(
            block_out_channels=(320, 640),
            down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
            up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
            num_attention_heads=(5, 10),
            cross_attention_dim=1024,
            num_frames=4,
        ).eval()
        drag = DragUNetSpatioTemporalModel.from_unet(base).eval()
        bench("svd-width", base, drag, 2, 4, 16, 1024, "cpu", torch.float32, args.repeats)
    if torch.cuda.is_available():
        base = UNetSpatioTemporalConditionModel(num_frames=14).to("cuda", torch.float16).eval()
        drag = DragUNetSpatioTemporalModel.from_unet(base).eval()
        bench("svd", base, drag, 2, 14, 32, 1024, "cuda", torch.float16, args.repeats)


if __name__ == "__main__":
    main()
