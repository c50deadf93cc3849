"""The drag UNet training loop: cached clips, EDM loss, accelerate, exact resume, and
periodic validation (generate held-out clips, measure motion error).

``tools/train_drag_model.py`` is the Hydra shell around :func:`train`; the objective and
checkpoint helpers are in ``partdrag4d.generator.training``, the dataset in
``partdrag4d.train.data``.

Written to ``out_dir``: ``checkpoint_rank{r}.pt`` (resume state), ``validation.json``
(one entry per validation: step, mean motion error in pixels, mean PSNR against the
rendered ground truth, per-clip values), ``pipeline/`` (the final saved pipeline).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from partdrag4d.evaluate.video_metrics import motion_error, psnr
from partdrag4d.generator.pipeline import frames_to_uint8
from partdrag4d.generator.training import (
    CachedClipDataset,
    EDMConfig,
    batch_indices,
    collate,
    edm_loss,
    load_checkpoint,
    save_checkpoint,
)
from partdrag4d.train.data import ValClip, load_val_clips


@dataclass
class ValidationConfig:
    """Periodic generation of held-out clips during training."""

    every: int = 500
    """Micro-steps between validations (0 = never)."""
    at_start: bool = True
    """Also validate before the first step (the baseline of the curve)."""
    num_clips: int = 4
    """First this many clips of ``cache_dir/val`` are generated."""
    batch_size: int = 4
    """Clips per pipeline call."""
    num_inference_steps: int = 25
    """Euler steps of the validation generations."""
    min_guidance_scale: float = 1.0
    """Guidance on the first frame."""
    max_guidance_scale: float = 3.0
    """Guidance on the last frame."""
    seed: int = 0
    """Noise seed; the same at every validation so the numbers are comparable."""


@dataclass
class TrainConfig:
    """Training run settings."""

    init_from: str = ""
    """Saved DragVideoPipeline folder (or SVD folder/hub id when ``from_svd``)."""
    from_svd: bool = False
    """Start from an SVD checkpoint with zero-initialised drag modules."""
    cache_dir: str = "./cache/drag_clips"
    """Dataset folder written by tools/build_drag_dataset.py (clip_*.pt, val/)."""
    out_dir: str = "./runs/drag_model"
    """Checkpoints, validation.json and the final saved pipeline."""
    seed: int = 0
    """Seed of data order and noise."""
    batch_size: int = 1
    """Clips per device per micro-step."""
    max_steps: int = 1000
    """Micro-steps to train."""
    lr: float = 1e-5
    """Adam learning rate."""
    grad_accum: int = 64
    """Gradient accumulation micro-steps."""
    mixed_precision: str = "no"
    """accelerate mixed precision ("no", "fp16", "bf16")."""
    gradient_checkpointing: bool = False
    """Trade compute for memory."""
    checkpoint_every: int = 100
    """Micro-steps between checkpoints."""
    log_every: int = 10
    """Micro-steps between loss prints."""
    edm: EDMConfig = field(default_factory=EDMConfig)
    """Noise distribution and conditioning dropout."""
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    """Held-out generation and motion error."""


def _conditioning(cache_dir: str | Path) -> dict:
    """fps / motion bucket / noise augmentation the dataset was cached with."""
    index = Path(cache_dir) / "dataset.json"
    cfg = json.loads(index.read_text())["config"] if index.exists() else {}
    return {
        "fps": int(cfg.get("fps", 7)),
        "motion_bucket_id": int(cfg.get("motion_bucket_id", 127)),
        "noise_aug_strength": float(cfg.get("noise_aug_strength", 0.02)),
    }


@torch.no_grad()
def validate(
    pipe, clips: list[ValClip], cfg: ValidationConfig, conditioning: dict | None = None
) -> dict:
    """Generate every validation clip from its first frame and drags; score the motion.

    Motion error: the generated clip is tracked from each drag's start point (see
    :func:`~partdrag4d.evaluate.video_metrics.motion_error`) and compared with the requested
    trajectory, in pixels of the clip's resolution. PSNR is against the rendered ground
    truth (the same motion rendered exactly).

    Args:
        pipe: the ``DragVideoPipeline`` to evaluate (its UNet in eval mode).
        clips: held-out clips (all of one size and length per batch).
        cfg: validation settings.
        conditioning: ``fps``, ``motion_bucket_id``, ``noise_aug_strength`` of the data.

    Returns:
        ``{"motion_error": mean px, "psnr": mean dB, "clips": [{"name", "motion_error",
        "psnr"}]}``.
    """
    cond = conditioning or {}
    device = pipe._execution_device
    generator = torch.Generator(device).manual_seed(cfg.seed)
    rows = []
    for start in range(0, len(clips), cfg.batch_size):
        batch = clips[start : start + cfg.batch_size]
        T, H, W, _ = batch[0].frames.shape
        image = torch.stack(
            [torch.from_numpy(c.frames[0]).permute(2, 0, 1).float() / 255.0 for c in batch]
        )
        scale = torch.tensor([W, H], dtype=torch.float32)
        drags = torch.stack([torch.from_numpy(c.drags_px).float() / scale for c in batch])
        masks = torch.stack([torch.from_numpy(c.drag_mask) for c in batch])
        out = pipe(
            image,
            drags * masks[:, None, :, None],
            masks,
            height=H,
            width=W,
            num_frames=T,
            num_inference_steps=cfg.num_inference_steps,
            min_guidance_scale=cfg.min_guidance_scale,
            max_guidance_scale=cfg.max_guidance_scale,
            generator=generator,
            output_type="np",
            **cond,
        ).frames
        videos = frames_to_uint8(out)
        for clip, video in zip(batch, videos, strict=True):
            # motion_error wants OpenCV pixel coordinates (centres at integers).
            requested = clip.drags_px[:, clip.drag_mask] - 0.5
            rows.append(
                {
                    "name": clip.name,
                    "motion_error": motion_error(video, requested),
                    "psnr": psnr(video[1:], clip.frames[1:]),
                }
            )
    return {
        "motion_error": float(np.mean([r["motion_error"] for r in rows])),
        "psnr": float(np.mean([r["psnr"] for r in rows])),
        "clips": rows,
    }


def train(cfg: TrainConfig, log: Callable[[str], None] = print) -> Path:
    """Train (or resume) the drag UNet; returns the folder of the saved pipeline.

    Each rank reads its slice of the global batch of a step (the order is a function of
    (seed, step)); the main process runs validation every ``cfg.validation.every``
    micro-steps on the first ``num_clips`` clips of ``cache_dir/val`` and appends the
    result to ``out_dir/validation.json``.
    """
    from accelerate import Accelerator

    from partdrag4d.generator.pipeline import DragVideoPipeline

    acc = Accelerator(
        gradient_accumulation_steps=cfg.grad_accum, mixed_precision=cfg.mixed_precision
    )
    if cfg.from_svd:
        pipe = DragVideoPipeline.from_svd(cfg.init_from)
    else:
        pipe = DragVideoPipeline.from_pretrained(cfg.init_from, use_safetensors=True)
    pipe.set_progress_bar_config(disable=True)
    pipe.to(acc.device)
    unet = pipe.unet.train()
    if cfg.gradient_checkpointing:
        unet.enable_gradient_checkpointing()
    data = CachedClipDataset(cfg.cache_dir)
    val_clips = load_val_clips(cfg.cache_dir, cfg.validation.num_clips)
    conditioning = _conditioning(cfg.cache_dir)
    opt = torch.optim.Adam(unet.parameters(), lr=cfg.lr)
    unet, opt = acc.prepare(unet, opt)
    gen = torch.Generator(acc.device).manual_seed(cfg.seed + acc.process_index)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / f"checkpoint_rank{acc.process_index}.pt"
    step = load_checkpoint(ckpt, unet, opt, gen) if ckpt.exists() else 0
    val_path = out / "validation.json"
    history = json.loads(val_path.read_text()) if val_path.exists() else []
    history = [h for h in history if h["step"] <= step]  # a resumed run redoes later ones

    def run_validation() -> None:
        if not (val_clips and acc.is_main_process):
            return
        model = acc.unwrap_model(unet)
        pipe.unet = model.eval()
        result = validate(pipe, val_clips, cfg.validation, conditioning)
        model.train()
        history.append({"step": step, **result})
        tmp = val_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(history, indent=1))
        tmp.replace(val_path)
        log(
            f"step {step} validation motion error {result['motion_error']:.3f} px, "
            f"PSNR {result['psnr']:.2f} dB"
        )

    every = cfg.validation.every
    if every > 0 and cfg.validation.at_start and step == 0:
        run_validation()
    world = acc.num_processes
    while step < cfg.max_steps:
        idx = batch_indices(len(data), cfg.batch_size * world, cfg.seed, step)
        mine = idx[acc.process_index * cfg.batch_size : (acc.process_index + 1) * cfg.batch_size]
        batch = collate([data[i] for i in mine])
        batch = type(batch)(**{k: v.to(acc.device) for k, v in vars(batch).items()})
        with acc.accumulate(unet):
            loss = edm_loss(unet, batch, gen, cfg.edm)
            acc.backward(loss)
            opt.step()
            opt.zero_grad()
        step += 1
        if step % cfg.log_every == 0 and acc.is_main_process:
            log(f"step {step} loss {loss.item():.4f}")
        if step % cfg.checkpoint_every == 0 or step == cfg.max_steps:
            save_checkpoint(ckpt, acc.unwrap_model(unet), opt, step, gen)
        if every > 0 and (step % every == 0 or step == cfg.max_steps):
            run_validation()
    acc.wait_for_everyone()
    final = out / "pipeline"
    if acc.is_main_process:
        pipe.unet = acc.unwrap_model(unet)
        pipe.save_pretrained(final)
    return final
