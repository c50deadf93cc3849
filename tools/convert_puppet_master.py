"""Convert the published Puppet-Master checkpoint into a DragVideoPipeline folder.

Usage:
    python tools/convert_puppet_master.py CHECKPOINT --svd SVD --out OUT_DIR
        [--filename FILE] [--repo-type model|space] [--dtype fp16|bf16|fp32] [--unet-only]

CHECKPOINT is their UNet: a weights file (.safetensors, or a .pt/.bin state dict read
with ``weights_only``), a diffusers folder, or a hub id (with ``--filename`` for one
file of it). SVD is the Stable Video Diffusion img2vid pipeline they fine-tuned
(``stabilityai/stable-video-diffusion-img2vid`` or a local copy): its vae, CLIP encoder,
scheduler and, for a bare state dict, its UNet config. The folder written is what
``DragVideoPipeline.from_pretrained(OUT_DIR)`` and
``partdrag4d generator=puppet_master generator.model_path=OUT_DIR`` read. Every key of
the checkpoint is reported; unused keys are an error.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import uuid
from pathlib import Path

import torch

DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="their UNet: file, diffusers folder or hub id")
    parser.add_argument("--svd", required=True, help="SVD img2vid pipeline folder or hub id")
    parser.add_argument("--out", required=True, type=Path, help="folder to write (new)")
    parser.add_argument("--filename", help="a file inside CHECKPOINT (folder or hub repo)")
    parser.add_argument("--repo-type", default="model", choices=["model", "space"])
    parser.add_argument("--dtype", choices=sorted(DTYPES), help="default: the checkpoint's")
    parser.add_argument("--unet-only", action="store_true", help="write only the UNet")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from diffusers.models import UNetSpatioTemporalConditionModel

    from partdrag4d.generator.pipeline import DragVideoPipeline
    from partdrag4d.generator.puppet_master import load_puppet_master_unet

    out = args.out.absolute()
    if out.exists() and any(out.iterdir()):
        print(f"error: --out {out} exists and is not empty", file=sys.stderr)
        return 2
    dtype = DTYPES.get(args.dtype)
    try:
        base = dict(UNetSpatioTemporalConditionModel.load_config(args.svd, subfolder="unet"))
        unet, report = load_puppet_master_unet(
            args.checkpoint, base, args.filename, args.repo_type, dtype
        )
        model = unet
        if not args.unet_only:
            model = DragVideoPipeline(
                unet=unet, **DragVideoPipeline.svd_components(args.svd, dtype)
            )
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    staging = out.parent / f".{out.name}.staging-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        model.save_pretrained(staging, safe_serialization=True)
        if out.exists():
            out.rmdir()
        os.rename(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(report.summary())
    print(f"wrote {'the UNet' if args.unet_only else 'a DragVideoPipeline'} to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
