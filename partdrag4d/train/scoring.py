"""Score a drag-to-video pipeline the way Puppet-Master is scored.

Clips come from the Drag-a-Move test batches (ground truth = their stored latents
decoded by the pipeline's VAE; the stored first-frame embedding and latent condition
the generation) or from this project's render data engine (ground truth = the render).
Each clip is generated from its first frame and drags, then compared with the ground
truth: PSNR, SSIM, LPIPS (a TorchScript LPIPS module the user has locally), FVD (a
TorchScript I3D the user has locally) and the motion error, all at the clip's own size
except the motion error, measured at 256 x 256 (``evaluate.video_metrics``). Nothing is
downloaded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from partdrag4d.evaluate.video_metrics import frechet_distance, motion_error, psnr, ssim
from partdrag4d.generator.dragamove import DragAMoveClip
from partdrag4d.generator.pipeline import frames_to_uint8
from partdrag4d.train.data import ValClip

PUBLISHED = {
    "Puppet-Master": {
        "psnr": 24.41,
        "ssim": 0.927,
        "lpips": 0.085,
        "fvd": 246.99,
        "motion_error": 3.53,
    },
    "DragNUWA": {
        "psnr": 20.09,
        "ssim": 0.874,
        "lpips": 0.172,
        "fvd": 281.49,
        "motion_error": 15.41,
    },
}
"""Drag-a-Move test set (100 clips, 256^2, 14 frames), as reported by Li et al. 2024."""

MOTION_SIZE = 256
"""Resolution at which the motion error is reported."""


@dataclass(frozen=True)
class EvalClip:
    """One clip to generate and score."""

    frames: np.ndarray
    """(T, H, W, 3) uint8 ground truth; frame 0 conditions the generation."""
    drags: torch.Tensor
    """(T, K, 2) normalised trajectories, empty slots zero."""
    drag_mask: torch.Tensor
    """(K,) bool."""
    name: str
    image_embeddings: torch.Tensor | None = None
    """(1, C) precomputed CLIP embedding (Drag-a-Move), else computed from frame 0."""
    image_latent: torch.Tensor | None = None
    """(4, h, w) precomputed first-frame latent (Drag-a-Move)."""


@dataclass
class ScoreSettings:
    """Sampling settings of the evaluation (the published inference recipe)."""

    num_inference_steps: int = 25
    min_guidance_scale: float = 1.0
    max_guidance_scale: float = 3.0
    fps: int = 7
    motion_bucket_id: int = 127
    noise_aug_strength: float = 0.02
    seed: int = 0


@torch.no_grad()
def clips_from_dragamove(pipe, batches: list[DragAMoveClip]) -> list[EvalClip]:
    """Drag-a-Move clips with their ground truth decoded by ``pipe``'s VAE."""
    clips = []
    for b in batches:
        latents = b.latents[None].to(pipe.vae.device, pipe.vae.dtype)
        video = pipe.decode_latents(latents, latents.shape[1], latents.shape[1])
        frames = pipe.video_processor.postprocess_video(video=video, output_type="np")[0]
        clips.append(
            EvalClip(
                frames_to_uint8(frames), b.drags, b.drag_mask, b.name, b.embedding, b.cond_latent
            )
        )
    return clips


def clips_from_renders(val_clips: list[ValClip]) -> list[EvalClip]:
    """Render data engine clips (``train.data``): drags normalised by the size."""
    clips = []
    for c in val_clips:
        T, H, W, _ = c.frames.shape
        drags = torch.from_numpy(c.drags_px).float() / torch.tensor([W, H], dtype=torch.float32)
        mask = torch.from_numpy(c.drag_mask)
        clips.append(EvalClip(c.frames, drags * mask[None, :, None], mask, c.name))
    return clips


def generate(pipe, clip: EvalClip, settings: ScoreSettings, generator) -> np.ndarray:
    """The (T, H, W, 3) uint8 clip ``pipe`` generates for ``clip``'s first frame and drags."""
    T, H, W, _ = clip.frames.shape
    image = torch.from_numpy(clip.frames[0]).permute(2, 0, 1).float()[None] / 255.0
    extra = {}
    if clip.image_embeddings is not None and clip.image_latent is not None:
        extra = {
            "image_embeddings": clip.image_embeddings[None],
            "image_latents": clip.image_latent[None],
        }
        image = None
    out = pipe(
        image,
        clip.drags[None],
        clip.drag_mask[None],
        height=H,
        width=W,
        num_frames=T,
        num_inference_steps=settings.num_inference_steps,
        min_guidance_scale=settings.min_guidance_scale,
        max_guidance_scale=settings.max_guidance_scale,
        fps=settings.fps,
        motion_bucket_id=settings.motion_bucket_id,
        noise_aug_strength=settings.noise_aug_strength,
        generator=generator,
        output_type="np",
        **extra,
    ).frames[0]
    return frames_to_uint8(out)


def clip_motion_error(video: np.ndarray, clip: EvalClip) -> float:
    """Motion error of a generated clip at 256 x 256 (OpenCV pixel-centre convention)."""
    if video.shape[1:3] != (MOTION_SIZE, MOTION_SIZE):
        video = np.stack(
            [cv2.resize(f, (MOTION_SIZE, MOTION_SIZE), interpolation=cv2.INTER_AREA) for f in video]
        )
    requested = clip.drags[:, clip.drag_mask].numpy().astype(np.float64) * MOTION_SIZE - 0.5
    return motion_error(video, requested) if requested.shape[1] else float("nan")


def _as_model_input(frames: np.ndarray, size: int | None = None) -> torch.Tensor:
    """uint8 (T, H, W, 3) -> float (T, 3, h, w) in [-1, 1]."""
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    if size is not None:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x


@torch.no_grad()
def lpips_distance(model, video: np.ndarray, truth: np.ndarray) -> float:
    """Mean LPIPS over frames with a TorchScript module ``model(x, y)`` in [-1, 1]."""
    return float(model(_as_model_input(video), _as_model_input(truth)).mean())


@torch.no_grad()
def i3d_features(model, videos: list[np.ndarray]) -> np.ndarray:
    """(N, F) features of a TorchScript I3D taking (N, 3, T, 224, 224) in [-1, 1], called
    as the common ``i3d_torchscript.pt`` is for FVD (raw features, no rescale/resize)."""
    batch = torch.stack([_as_model_input(v, 224).permute(1, 0, 2, 3) for v in videos])
    feats = model(batch, rescale=False, resize=False, return_features=True)
    return feats.double().numpy()


def peak_memory_mb(device: torch.device) -> float:
    """Peak GPU memory allocated by torch, or this process's peak resident memory."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    from partdrag4d.store.store import peak_memory_mb as process_peak

    return float(process_peak())


def score(
    pipe,
    clips: list[EvalClip],
    settings: ScoreSettings,
    lpips=None,
    i3d=None,
    log: Callable[[str], None] = print,
) -> dict:
    """Generate and score every clip; means over clips, FVD over the set.

    Returns:
        ``{"mean": {metric: value}, "clips": [per-clip rows], "time_per_clip_s",
        "peak_memory_mb", "num_clips"}``; LPIPS and FVD are None without their model
        (FVD also with fewer than two clips).
    """
    device = pipe._execution_device
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    generator = torch.Generator(device).manual_seed(settings.seed)
    rows, generated = [], []
    for i, clip in enumerate(clips):
        began = time.perf_counter()
        video = generate(pipe, clip, settings, generator)
        seconds = time.perf_counter() - began
        row = {
            "name": clip.name,
            "psnr": psnr(video, clip.frames),
            "ssim": ssim(video, clip.frames),
            "lpips": lpips_distance(lpips, video, clip.frames) if lpips is not None else None,
            "motion_error": clip_motion_error(video, clip),
            "seconds": seconds,
        }
        rows.append(row)
        generated.append(video)
        log(
            f"[{i + 1}/{len(clips)}] {clip.name}: PSNR {row['psnr']:.2f} dB, SSIM "
            f"{row['ssim']:.3f}, motion error {row['motion_error']:.2f} px, {seconds:.1f} s"
        )
    fvd = None
    if i3d is not None and len(clips) >= 2:
        fvd = frechet_distance(
            i3d_features(i3d, generated), i3d_features(i3d, [c.frames for c in clips])
        )

    def mean(key: str) -> float | None:
        values = [r[key] for r in rows if r[key] is not None and np.isfinite(r[key])]
        return float(np.mean(values)) if values else None

    return {
        "mean": {
            "psnr": mean("psnr"),
            "ssim": mean("ssim"),
            "lpips": mean("lpips"),
            "fvd": fvd,
            "motion_error": mean("motion_error"),
        },
        "clips": rows,
        "time_per_clip_s": mean("seconds"),
        "peak_memory_mb": peak_memory_mb(device),
        "num_clips": len(clips),
    }


def format_table(result: dict) -> str:
    """Our means next to the published numbers (Drag-a-Move test set)."""
    keys = [
        ("psnr", "PSNR ↑", "{:.2f}"),
        ("ssim", "SSIM ↑", "{:.3f}"),
        ("lpips", "LPIPS ↓", "{:.3f}"),
        ("fvd", "FVD ↓", "{:.2f}"),
        ("motion_error", "motion err. ↓", "{:.2f}"),
    ]
    header = "| model | " + " | ".join(k[1] for k in keys) + " |"
    lines = [header, "|" + "---|" * (len(keys) + 1)]
    rows = [(f"this run ({result['num_clips']} clips)", result["mean"])]
    rows += [(f"{name} (published)", values) for name, values in PUBLISHED.items()]
    for name, values in rows:
        cells = [
            fmt.format(values[k]) if values.get(k) is not None else "n/a" for k, _, fmt in keys
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
