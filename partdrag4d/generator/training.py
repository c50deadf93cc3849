"""Training core of the drag UNet: EDM objective, deterministic data order, exact resume,
drag sampling from rendered clips, and the motion-error metric.

The loop that uses them is ``partdrag4d.train.trainer`` (``tools/train_drag_model.py``).

EDM (Karras et al. 2022) as used by SVD, with sigma_data = 1 and v-style output:
``c_skip = 1 / (s^2 + 1)``, ``c_out = -s / sqrt(s^2 + 1)``, ``c_in = 1 / sqrt(s^2 + 1)``,
``c_noise = log(s) / 4``; training noise ``log s ~ N(p_mean, p_std^2)``, loss weight
``1 + 1 / s^2``. Latents are VAE latents times the VAE scaling factor.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import torch

from partdrag4d.generator.unet import DragUNetSpatioTemporalModel


@dataclass
class EDMConfig:
    """Noise distribution and conditioning dropout of the training objective."""

    p_mean: float = 0.7
    """Mean of log sigma."""
    p_std: float = 1.6
    """Standard deviation of log sigma."""
    drag_dropout: float = 0.1
    """Probability of dropping the image and drag conditioning together (enables CFG)."""


@dataclass(frozen=True)
class DragClip:
    """One cached training clip (or a batch of them, with a leading B)."""

    latents: torch.Tensor
    """(T, 4, h, w) scaled VAE latents of the frames (the diffusion target)."""
    cond_latent: torch.Tensor
    """(4, h, w) unscaled VAE latent (posterior mode) of the noise-augmented frame 0, as
    the pipeline concatenates it."""
    image_embeds: torch.Tensor
    """(1, C) CLIP embedding of frame 0."""
    drags: torch.Tensor
    """(T, K, 2) normalised drag trajectories."""
    drag_mask: torch.Tensor
    """(K,) bool, which slots are used."""
    added_time_ids: torch.Tensor
    """(3,) fps - 1, motion bucket, noise augmentation."""


class CachedClipDataset:
    """Clips cached as ``clip_XXXXX.pt`` files (dicts of DragClip fields) in a folder."""

    def __init__(self, root: str | Path):
        self.files = sorted(Path(root).glob("clip_*.pt"))
        if not self.files:
            raise FileNotFoundError(f"no clip_*.pt files in {root}")

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> DragClip:
        return DragClip(**torch.load(self.files[index], weights_only=True))


def save_clip(clip: DragClip, path: str | Path) -> None:
    """Write one clip in the :class:`CachedClipDataset` format."""
    torch.save({k: getattr(clip, k) for k in DragClip.__dataclass_fields__}, path)


def collate(clips: list[DragClip]) -> DragClip:
    """Stack clips into a batch (leading B on every field)."""
    return DragClip(
        **{k: torch.stack([getattr(c, k) for c in clips]) for k in DragClip.__dataclass_fields__}
    )


def batch_indices(num_items: int, batch_size: int, seed: int, step: int) -> list[int]:
    """Clip indices of training step ``step``: epochs are seeded permutations.

    The order is a pure function of (seed, step), so a resumed run reads exactly the
    batches the uninterrupted run would have read.
    """
    out = []
    for i in range(step * batch_size, (step + 1) * batch_size):
        epoch, pos = divmod(i, num_items)
        perm = np.random.default_rng([seed, epoch]).permutation(num_items)
        out.append(int(perm[pos]))
    return out


def edm_loss(
    unet: DragUNetSpatioTemporalModel,
    batch: DragClip,
    generator: torch.Generator,
    cfg: EDMConfig,
) -> torch.Tensor:
    """Weighted EDM denoising loss of one batch.

    Args:
        unet: the drag UNet (predicts the SVD v-style output F).
        batch: batched clips on the UNet's device.
        generator: RNG for sigma, noise and dropout (on the same device as the batch).
        cfg: noise distribution and dropout.

    Returns:
        Scalar loss: mean of (1 + 1/s^2) (D(x + s n) - x)^2.
    """
    x = batch.latents
    B, T = x.shape[:2]
    dev, dt = x.device, x.dtype
    log_sigma = cfg.p_mean + cfg.p_std * torch.randn(B, generator=generator, device=dev)
    sigma = log_sigma.exp().to(dt)
    noise = torch.randn(x.shape, generator=generator, device=dev, dtype=dt)
    keep = (torch.rand(B, generator=generator, device=dev) >= cfg.drag_dropout).to(dt)

    s = sigma[:, None, None, None, None]
    noisy = x + s * noise
    c_skip = 1.0 / (s**2 + 1.0)
    c_out = -s / (s**2 + 1.0).sqrt()
    c_in = 1.0 / (s**2 + 1.0).sqrt()
    c_noise = 0.25 * sigma.log()

    # Conditioning dropout: the unconditional input of the pipeline's CFG (zero image
    # embedding, zero first-frame latent, no drags).
    cond_latent = (batch.cond_latent * keep[:, None, None, None])[:, None]
    embeds = batch.image_embeds * keep[:, None, None]
    drag_mask = batch.drag_mask.bool() & keep.bool()[:, None]
    model_input = torch.cat([c_in * noisy, cond_latent.expand_as(x)], dim=2)
    pred = unet(
        model_input,
        c_noise,
        encoder_hidden_states=embeds,
        added_time_ids=batch.added_time_ids.to(dt),
        drags=batch.drags.to(dt),
        drag_mask=drag_mask,
    ).sample
    denoised = c_skip * noisy + c_out * pred
    weight = 1.0 + 1.0 / s**2
    return (weight * (denoised - x) ** 2).mean()


# ------------------------------------------------------------------------- checkpoints


def save_checkpoint(
    path: str | Path,
    unet: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    step: int,
    generator: torch.Generator,
) -> None:
    """Save everything a bit-identical resume needs (model, optimizer, RNGs, step).

    The data order needs only (seed, step): see :func:`batch_indices`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(
        {
            "model": unet.state_dict(),
            "optimizer": optimizer.state_dict(),
            "step": step,
            "generator": generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "numpy_rng": _numpy_state_to_tensors(cast(tuple, np.random.get_state())),
            "python_rng": random.getstate(),
        },
        tmp,
    )
    tmp.replace(path)  # atomic: a killed run never leaves half a checkpoint


def _numpy_state_to_tensors(state: tuple) -> tuple:
    """NumPy's legacy RNG state with its key array as a tensor (``weights_only`` safe)."""
    kind, keys, pos, has_gauss, cached = state
    return (kind, torch.from_numpy(np.asarray(keys, dtype=np.int64)), pos, has_gauss, cached)


def _numpy_state_from_tensors(state: tuple) -> tuple:
    kind, keys, pos, has_gauss, cached = state
    return (kind, keys.numpy().astype(np.uint32), int(pos), int(has_gauss), float(cached))


def load_checkpoint(
    path: str | Path,
    unet: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
) -> int:
    """Restore a :func:`save_checkpoint` file in place; returns the step to continue at.

    The file is read with ``weights_only=True``: tensors, numbers, strings and their
    containers only, so a checkpoint from elsewhere cannot run code.
    """
    state = torch.load(path, weights_only=True)
    unet.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    generator.set_state(state["generator"])
    torch.set_rng_state(state["torch_rng"])
    np.random.set_state(_numpy_state_from_tensors(state["numpy_rng"]))
    random.setstate(state["python_rng"])
    return int(state["step"])


# ------------------------------------------------------------------------- drags, metrics


def sample_training_drags(
    tracks_px: np.ndarray,
    visible: np.ndarray,
    num_visible_pixels: int,
    rng: np.random.Generator,
    max_drags: int = 5,
    pixels_per_drag: float = 5000.0,
    min_separation_px: float = 8.0,
    min_displacement_px: float = 1.0,
) -> np.ndarray:
    """Pick drag points on visible moving vertices (the Puppet-Master recipe).

    Probability proportional to displacement (first to last frame); about one drag per
    ``pixels_per_drag`` visible pixels (at least 1, at most ``max_drags``); a candidate
    whose start and end are both within ``min_separation_px`` of a chosen drag's is a
    near-duplicate and skipped.

    Args:
        tracks_px: (T, N, 2) projected vertex trajectories in pixels.
        visible: (N,) whether each vertex is visible in frame 0.
        num_visible_pixels: foreground pixels of frame 0.
        rng: numpy RNG.
        max_drags: K.
        pixels_per_drag: drag density.
        min_separation_px: near-duplicate radius.
        min_displacement_px: vertices that move less are not candidates.

    Returns:
        Indices (<= max_drags) of the chosen vertices; empty when nothing moves.
    """
    disp = np.linalg.norm(tracks_px[-1] - tracks_px[0], axis=-1)
    cand = np.flatnonzero(visible & (disp >= min_displacement_px))
    if len(cand) == 0:
        return np.zeros(0, dtype=np.int64)
    want = int(np.clip(round(num_visible_pixels / pixels_per_drag), 1, max_drags))
    order = rng.choice(cand, size=len(cand), replace=False, p=disp[cand] / disp[cand].sum())
    chosen: list[int] = []
    for i in order:
        close = [
            np.linalg.norm(tracks_px[0, i] - tracks_px[0, j]) < min_separation_px
            and np.linalg.norm(tracks_px[-1, i] - tracks_px[-1, j]) < min_separation_px
            for j in chosen
        ]
        if not any(close):
            chosen.append(int(i))
        if len(chosen) == want:
            break
    return np.asarray(chosen, dtype=np.int64)
