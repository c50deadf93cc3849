"""Train the drag UNet on cached clips with the EDM objective (Hydra + accelerate).

Usage: python tools/train_drag_model.py init_from=DIR cache_dir=CACHE out_dir=OUT
       accelerate launch tools/train_drag_model.py ...   (multi-GPU)
Resumes from OUT/checkpoint.pt when present (model, optimizer, RNGs, step; the data
order is a function of (seed, step)). Logic lives in partdrag4d.generator.training.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import hydra
import torch
from accelerate import Accelerator
from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from partdrag4d.generator.pipeline import DragVideoPipeline
from partdrag4d.generator.training import (
    CachedClipDataset,
    EDMConfig,
    batch_indices,
    collate,
    edm_loss,
    load_checkpoint,
    save_checkpoint,
)


@dataclass
class TrainConfig:
    """Training run settings."""

    init_from: str = ""
    """Saved DragVideoPipeline folder (or SVD folder/hub id when ``from_svd``)."""
    from_svd: bool = False
    """Start from an SVD checkpoint with zero-initialised drag modules."""
    cache_dir: str = "./cache/drag_clips"
    """Folder of cached clips (clip_*.pt)."""
    out_dir: str = "./runs/drag_model"
    """Checkpoints and the final saved pipeline."""
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
    edm: EDMConfig = field(default_factory=EDMConfig)
    """Noise distribution and conditioning dropout."""


ConfigStore.instance().store(group="train", name="base_train", node=TrainConfig)


@hydra.main(version_base=None, config_path="../conf/train", config_name="default")
def main(raw) -> None:
    cfg: TrainConfig = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(TrainConfig), raw))
    acc = Accelerator(
        gradient_accumulation_steps=cfg.grad_accum, mixed_precision=cfg.mixed_precision
    )
    if cfg.from_svd:
        pipe = DragVideoPipeline.from_svd(cfg.init_from)
    else:
        pipe = DragVideoPipeline.from_pretrained(cfg.init_from)
    unet = pipe.unet.train()
    if cfg.gradient_checkpointing:
        unet.enable_gradient_checkpointing()
    data = CachedClipDataset(cfg.cache_dir)
    opt = torch.optim.Adam(unet.parameters(), lr=cfg.lr)
    unet, opt = acc.prepare(unet, opt)
    gen = torch.Generator(acc.device).manual_seed(cfg.seed + acc.process_index)
    out = Path(cfg.out_dir)
    ckpt = out / f"checkpoint_rank{acc.process_index}.pt"
    step = load_checkpoint(ckpt, unet, opt, gen) if ckpt.exists() else 0
    world = acc.num_processes
    while step < cfg.max_steps:
        # Each rank reads its slice of the global batch of this step.
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
        if step % 10 == 0 and acc.is_main_process:
            print(f"step {step} loss {loss.item():.4f}")
        if step % cfg.checkpoint_every == 0 or step == cfg.max_steps:
            save_checkpoint(ckpt, acc.unwrap_model(unet), opt, step, gen)
    acc.wait_for_everyone()
    if acc.is_main_process:
        pipe.unet = acc.unwrap_model(unet)
        pipe.save_pretrained(out / "pipeline")


if __name__ == "__main__":
    main()
