"""Training data engine of the drag UNet: rendered clips of the procedural library,
drags sampled on moving pixels, VAE latents and CLIP embeddings cached on disk.

One clip = one procedural object (random category and seed) or random object (of the
families asked for, assets/random_objects.py), one fixed camera (random azimuth around
the object's front, or facing where a random object moves, and random elevation), the
object's joints moved by ``drags=gt`` sampling, made by the pipeline's ``prepare`` and
``generate`` stages (``runner.run_stages``, render backend, a seed from the clip's own
random stream), exactly as ``partdrag4d`` would make that job. Drags
are chosen among the visible pixels of frame 0 that move (the render's ``rest_xyz`` + the
GT link motion give every pixel's 2D track) with
:func:`~partdrag4d.generator.training.sample_training_drags`.

Layout of a dataset folder (read by ``CachedClipDataset`` and ``load_val_clips``)::

    clip_00000.pt ...        training clips (DragClip fields)
    val/val_00000.npz ...    held-out clips: GT frames + drags in pixels (ValClip)
    dataset.json             the DataEngineConfig and one record per clip

Clip ``i`` is a pure function of (seed, i), so an interrupted build resumes by skipping
the files that exist. Pixel coordinates follow ``partdrag4d.geometry.camera``
(corner origin, pixel centres at +0.5).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from jaxtyping import Bool, Float, UInt8

from partdrag4d.generator.drag_maps import pixels_to_normalized
from partdrag4d.generator.training import DragClip, sample_training_drags, save_clip

REFERENCE_SIZE = 256
"""Image side at which the drag density and near-duplicate radius are specified."""


@dataclass
class DataEngineConfig:
    """What clips the data engine renders and how they are encoded."""

    num_clips: int = 1000
    """Training clips."""
    num_val_clips: int = 8
    """Held-out validation clips (other objects than the training clips' streams)."""
    categories: list[str] = field(default_factory=list)
    """Procedural categories to draw from; empty = all of ``CATEGORIES``."""
    families: list[str] = field(default_factory=list)
    """Random-object families (``assets/random_objects.py``) drawn alongside the
    categories, each entry as likely as one category; their camera faces the side that
    moves (``rig.front=auto``) instead of front +- ``azimuth_range_deg``."""
    seed: int = 0
    """Seed of every random choice."""
    width: int = 256
    """Clip width in pixels (the published setting: 256)."""
    height: int = 256
    """Clip height in pixels."""
    num_frames: int = 14
    """T, frames per clip (frame 0 = rest state)."""
    azimuth_range_deg: float = 60.0
    """Camera azimuth uniform in front +- this (degrees)."""
    elevation_min_deg: float = 5.0
    """Lowest camera elevation (degrees)."""
    elevation_max_deg: float = 40.0
    """Highest camera elevation (degrees)."""
    fov_deg: float = 40.0
    """Vertical field of view (degrees)."""
    max_drags: int = 5
    """K, drag slots of the model."""
    pixels_per_drag: float = 5000.0
    """One drag per this many visible pixels at 256^2 (scaled with the image area)."""
    min_separation_px: float = 8.0
    """Near-duplicate radius at 256 px width (scaled with the width)."""
    max_attempts: int = 5
    """Objects tried per clip when one shows no visible motion."""
    fps: int = 7
    """Frame-rate conditioning (the UNet sees fps - 1 = 6, the published value)."""
    motion_bucket_id: int = 127
    """Motion conditioning."""
    noise_aug_strength: float = 0.02
    """Noise added to frame 0 before its VAE latent is taken (as the pipeline does)."""


@dataclass(frozen=True)
class RenderedClip:
    """One rendered training clip before encoding."""

    frames: UInt8[np.ndarray, "T H W 3"]
    """sRGB frames of the fixed camera."""
    drags_px: Float[np.ndarray, "T D 2"]
    """Trajectories of the chosen pixels (D <= K), project pixel coordinates."""
    record: dict
    """Provenance: name, category, asset seed, azimuth, elevation, number of drags."""


@dataclass(frozen=True)
class ValClip:
    """A held-out clip for validation: the GT video and its drags."""

    frames: UInt8[np.ndarray, "T H W 3"]
    """Ground-truth frames (frame 0 conditions the generation)."""
    drags_px: Float[np.ndarray, "T K 2"]
    """Trajectories in project pixel coordinates; unused slots are zero."""
    drag_mask: Bool[np.ndarray, "K"]
    """Which slots hold a drag."""
    name: str
    """Clip name."""


# ------------------------------------------------------------------------- pure pieces


def pixel_tracks(
    part_id: np.ndarray,
    rest_xyz: Float[np.ndarray, "H W 3"],
    T_rel: Float[np.ndarray, "T L 4 4"],
    K: Float[np.ndarray, "3 3"],
    T_cam_world: Float[np.ndarray, "4 4"],
) -> Float[np.ndarray, "T N 2"]:
    """2D tracks of every foreground pixel of a rest-state (frame 0) render.

    Args:
        part_id: (H, W) link index of the surface at each pixel, -1 on background.
        rest_xyz: rest-state world position of that surface point (metres).
        T_rel: per-frame link motion ``T_world_link(t) @ T_world_link(0)^-1``.
        K: camera intrinsics.
        T_cam_world: camera extrinsics.

    Returns:
        (T, N, 2) pixel coordinates of the N foreground pixels in row-major order.
    """
    from partdrag4d.geometry.camera import project

    mask = part_id >= 0
    link = part_id[mask].astype(np.int64)
    rest = rest_xyz[mask].astype(np.float64)
    M = T_rel[:, link]  # T N 4 4
    posed = np.einsum("tnij,nj->tni", M[..., :3, :3], rest) + M[..., :3, 3]
    T_, N = posed.shape[:2]
    uv, _ = project(K, T_cam_world, posed.reshape(-1, 3))
    return uv.reshape(T_, N, 2)


def clip_rng(seed: int, split: int, index: int) -> np.random.Generator:
    """RNG of clip ``index`` of ``split`` (0 train, 1 validation): independent streams."""
    return np.random.default_rng([seed, split, index])


def render_clip(cfg: DataEngineConfig, split: int, index: int) -> RenderedClip | None:
    """Render one clip and choose its drags (None when no tried object moved visibly).

    Args:
        cfg: engine settings.
        split: 0 train, 1 validation.
        index: clip index in the split.

    Returns:
        The clip, or None after ``cfg.max_attempts`` objects without visible motion.
    """
    from partdrag4d.assets.kinematics import link_poses_over_time
    from partdrag4d.assets.procedural import CATEGORIES
    from partdrag4d.config import PipelineConfig, RuntimeConfig
    from partdrag4d.generate.render_backend import RenderGeneratorConfig
    from partdrag4d.runner import run_stages
    from partdrag4d.scene.assets import ProceduralAssetConfig
    from partdrag4d.scene.cameras import RigConfig
    from partdrag4d.scene.drags import GtDragsConfig

    rng = clip_rng(cfg.seed, split, index)
    sources = list(cfg.categories or CATEGORIES) + list(cfg.families)
    area_scale = cfg.width * cfg.height / REFERENCE_SIZE**2
    for _ in range(cfg.max_attempts):
        category = str(rng.choice(sources))
        asset_seed = int(rng.integers(2**31))
        azimuth = -90.0 + float(rng.uniform(-cfg.azimuth_range_deg, cfg.azimuth_range_deg))
        elevation = float(rng.uniform(cfg.elevation_min_deg, cfg.elevation_max_deg))
        with tempfile.TemporaryDirectory(prefix="partdrag4d-clip-") as tmp:
            asset = _asset_config(category, asset_seed, Path(tmp))
            if not isinstance(asset, ProceduralAssetConfig):
                azimuth = None  # a random object faces anywhere: look where it moves
            job = PipelineConfig(
                asset=asset,
                drags=GtDragsConfig(
                    num_frames=cfg.num_frames, fps=float(cfg.fps), max_drags=cfg.max_drags
                ),
                rig=RigConfig(
                    num_views=1,
                    width=cfg.width,
                    height=cfg.height,
                    fov_deg=cfg.fov_deg,
                    elevation_deg=elevation,
                    front_azimuth_deg=azimuth,
                ),
                generator=RenderGeneratorConfig(),
                runtime=RuntimeConfig(seed=int(rng.integers(2**31)), progress=False),
            )
            done = run_stages(job, ["prepare"])  # reads the asset's files
        done = run_stages(job, ["generate"], done)
        scene, video = done["prepare"], done["generate"]
        gt = scene.gt
        poses = link_poses_over_time(gt.asset, gt.joint_names, gt.joint_values)
        T_rel = poses @ np.linalg.inv(poses[0])[None]
        part_id = video.gt.part_id[0, 0]
        tracks = pixel_tracks(
            part_id,
            video.gt.rest_xyz[0, 0],
            T_rel,
            scene.cameras.K[0],
            scene.cameras.T_cam_world[0],
        )
        chosen = sample_training_drags(
            tracks,
            np.ones(tracks.shape[1], dtype=bool),
            int((part_id >= 0).sum()),
            rng,
            max_drags=cfg.max_drags,
            pixels_per_drag=cfg.pixels_per_drag * area_scale,
            min_separation_px=cfg.min_separation_px * cfg.width / REFERENCE_SIZE,
        )
        if len(chosen) == 0:
            continue
        record = {
            "name": scene.name,
            "category": category,
            "asset_seed": asset_seed,
            "azimuth_deg": scene.cameras.front.azimuth_deg,
            "elevation_deg": elevation,
            "num_drags": len(chosen),
        }
        return RenderedClip(frames=video.frames[0], drags_px=tracks[:, chosen], record=record)
    return None


def _asset_config(name: str, seed: int, folder: Path):
    """A procedural category, or a random object of family ``name`` written to ``folder``."""
    from partdrag4d.assets.random_objects import FAMILIES, RandomObjectConfig, write_random_object
    from partdrag4d.scene.assets import ProceduralAssetConfig, UrdfAssetConfig

    if name not in FAMILIES:
        return ProceduralAssetConfig(category=name, seed=seed)
    obj = write_random_object(RandomObjectConfig(family=name, seed=seed), folder)
    return UrdfAssetConfig(path=obj.urdf, name=f"{name}_{seed}")


def slot_drags(
    drags_px: Float[np.ndarray, "T D 2"], width: int, height: int, num_slots: int
) -> tuple[Float[np.ndarray, "T K 2"], Bool[np.ndarray, "K"]]:
    """Normalised drags padded to ``num_slots`` (unused slots zero) and their mask."""
    T, D, _ = drags_px.shape
    drags = np.zeros((T, num_slots, 2), dtype=np.float32)
    drags[:, :D] = pixels_to_normalized(drags_px, width, height)
    mask = np.zeros(num_slots, dtype=bool)
    mask[:D] = True
    return drags, mask


# ------------------------------------------------------------------------- encoding


@torch.no_grad()
def encode_clip(
    pipe, clip: RenderedClip, cfg: DataEngineConfig, generator: torch.Generator
) -> DragClip:
    """VAE latents and CLIP embedding of a rendered clip, as the pipeline would make them.

    Args:
        pipe: a ``DragVideoPipeline`` (its vae, image_encoder and processors are used).
        clip: the rendered clip.
        cfg: engine settings (conditioning values, K).
        generator: RNG of the conditioning-image noise augmentation (on the VAE device).

    Returns:
        The cached training clip (tensors on the CPU).
    """
    device = pipe.vae.device
    T, H, W, _ = clip.frames.shape
    video = torch.from_numpy(clip.frames).permute(0, 3, 1, 2).float() / 255.0  # T 3 H W
    pixels = pipe.video_processor.preprocess(video, height=H, width=W).to(device)
    pixels = pixels.to(pipe.vae.dtype)
    # The diffusion target: scaled posterior modes of every frame.
    latents = pipe.vae.encode(pixels).latent_dist.mode() * pipe.vae.config.scaling_factor
    noise = torch.randn(pixels[:1].shape, generator=generator, device=device, dtype=pixels.dtype)
    cond = pipe.encode_vae_image(pixels[:1] + cfg.noise_aug_strength * noise)[0]
    embeds = pipe.encode_image(video[:1], device)[0]  # 1 C
    drags, mask = slot_drags(clip.drags_px, W, H, cfg.max_drags)
    return DragClip(
        latents=latents.float().cpu(),
        cond_latent=cond.float().cpu(),
        image_embeds=embeds.float().cpu(),
        drags=torch.from_numpy(drags),
        drag_mask=torch.from_numpy(mask),
        added_time_ids=torch.tensor(
            [cfg.fps - 1, cfg.motion_bucket_id, cfg.noise_aug_strength], dtype=torch.float32
        ),
    )


def save_val_clip(clip: ValClip, path: str | Path) -> None:
    """Write one validation clip (npz)."""
    path = Path(path)
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez_compressed(
        tmp, frames=clip.frames, drags_px=clip.drags_px, drag_mask=clip.drag_mask, name=clip.name
    )
    tmp.replace(path)


def load_val_clips(root: str | Path, limit: int | None = None) -> list[ValClip]:
    """The validation clips ``root/val/val_*.npz`` of a dataset folder (sorted)."""
    clips = []
    for f in sorted(Path(root, "val").glob("val_*.npz"))[:limit]:
        with np.load(f) as z:
            clips.append(
                ValClip(z["frames"], z["drags_px"], z["drag_mask"].astype(bool), str(z["name"]))
            )
    return clips


def build_dataset(cfg: DataEngineConfig, pipe, out_dir: str | Path, log=print) -> dict:
    """Render, encode and write the training and validation clips of ``cfg``.

    Existing clip files are kept (a rerun resumes an interrupted build). A clip whose
    objects never moved visibly is skipped and recorded as such.

    Args:
        cfg: engine settings.
        pipe: the ``DragVideoPipeline`` whose VAE and CLIP encoder make the cache.
        out_dir: dataset folder.
        log: progress messages.

    Returns:
        The ``dataset.json`` content: ``{"config", "train": [records], "val": [records]}``.
    """
    out = Path(out_dir)
    (out / "val").mkdir(parents=True, exist_ok=True)
    index_path = out / "dataset.json"
    old = json.loads(index_path.read_text()) if index_path.exists() else {}
    summary: dict = {"config": asdict(cfg), "train": [], "val": []}
    for split, name, count in ((0, "train", cfg.num_clips), (1, "val", cfg.num_val_clips)):
        previous = {r["index"]: r for r in old.get(name, [])}
        for i in range(count):
            path = out / f"clip_{i:05d}.pt" if split == 0 else out / "val" / f"val_{i:05d}.npz"
            if path.exists() and i in previous:
                summary[name].append(previous[i])
                continue
            clip = render_clip(cfg, split, i)
            if clip is None:
                summary[name].append({"index": i, "skipped": "no visible motion"})
                continue
            if split == 0:
                gen = torch.Generator(pipe.vae.device).manual_seed(int(cfg.seed * 1_000_003 + i))
                tmp = path.with_suffix(".tmp")
                save_clip(encode_clip(pipe, clip, cfg, gen), tmp)
                tmp.replace(path)
            else:
                drags_px = np.zeros((cfg.num_frames, cfg.max_drags, 2))
                drags_px[:, : clip.drags_px.shape[1]] = clip.drags_px
                mask = np.arange(cfg.max_drags) < clip.drags_px.shape[1]
                save_val_clip(ValClip(clip.frames, drags_px, mask, clip.record["name"]), path)
            summary[name].append({"index": i, **clip.record})
            drags = clip.record["num_drags"]
            log(f"{name} clip {i + 1}/{count}: {clip.record['name']}, {drags} drags")
        index_path.write_text(json.dumps(summary, indent=1))
    return summary
