"""Score a drag-to-video model like Puppet-Master: PSNR, SSIM, LPIPS, FVD, motion error.

Usage:
    python tools/eval_generator.py --model DIR|HUB_ID (--dragamove DIR | --renders DIR)
        [--limit N] [--steps 25] [--device cuda] [--dtype float16]
        [--lpips LPIPS.pt] [--i3d i3d_torchscript.pt] [--out result.json]

--model is a saved DragVideoPipeline (e.g. written by tools/convert_puppet_master.py).
--dragamove is the authors' DragAMove-test-batches folder (*.pkl, read with an
unpickler that allows only tensors, numpy scalars and OrderedDicts); --renders is a
dataset folder of tools/build_drag_dataset.py (its val/ clips). LPIPS needs a local
TorchScript module ``lpips(x, y)`` on [-1, 1] images; FVD a local TorchScript I3D (the
common ``i3d_torchscript.pt``); without them those columns read n/a. Nothing is
downloaded. Prints our means next to the published Drag-a-Move numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="saved DragVideoPipeline folder/hub id")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--dragamove", type=Path, help="folder of Drag-a-Move *.pkl batches")
    source.add_argument("--renders", type=Path, help="dataset folder with val/val_*.npz")
    parser.add_argument("--limit", type=int, help="score only the first N clips")
    parser.add_argument("--steps", type=int, default=25, help="Euler steps (published: 25)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lpips", type=Path, help="TorchScript LPIPS module (local file)")
    parser.add_argument("--i3d", type=Path, help="TorchScript I3D for FVD (local file)")
    parser.add_argument("--out", type=Path, help="write the full result as JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from partdrag4d.generator.dragamove import read_dragamove_dir
    from partdrag4d.generator.pipeline import DragVideoPipeline
    from partdrag4d.train.data import load_val_clips
    from partdrag4d.train.scoring import (
        ScoreSettings,
        clips_from_dragamove,
        clips_from_renders,
        format_table,
        score,
    )

    try:
        for name in ("lpips", "i3d"):
            path = getattr(args, name)
            if path is not None and not path.is_file():
                raise ValueError(f"--{name} {path}: no such file")
        pipe = DragVideoPipeline.from_pretrained(
            args.model, dtype=getattr(torch, args.dtype), use_safetensors=True
        ).to(args.device)
        pipe.set_progress_bar_config(leave=False, desc="diffusion")
        if args.dragamove is not None:
            clips = clips_from_dragamove(pipe, read_dragamove_dir(args.dragamove, args.limit))
        else:
            val = load_val_clips(args.renders, args.limit)
            if not val:
                raise ValueError(f"--renders {args.renders}: no val/val_*.npz clips")
            clips = clips_from_renders(val)
        lpips = torch.jit.load(str(args.lpips), map_location="cpu") if args.lpips else None
        i3d = torch.jit.load(str(args.i3d), map_location="cpu") if args.i3d else None
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    settings = ScoreSettings(num_inference_steps=args.steps, seed=args.seed)
    result = score(pipe, clips, settings, lpips=lpips, i3d=i3d)
    result["settings"] = {
        **vars(settings),
        "model": args.model,
        "device": args.device,
        "dtype": args.dtype,
    }
    print(format_table(result))
    print(
        f"time per clip {result['time_per_clip_s']:.2f} s, peak memory "
        f"{result['peak_memory_mb']:.0f} MiB ({args.device}, {args.dtype}, {args.steps} steps)"
    )
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
