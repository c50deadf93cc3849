"""The ``puppet_master`` generate backend: a saved DragVideoPipeline run on every view.

The stage hands every backend a numpy Generator; the diffusion pipeline wants a
``torch.Generator`` (diffusers' ``generator=``), seeded from it so the stage's seed
fixes the clips (:func:`generate_diffusion`).

For each view: render the rest object (the first frame), take the drags visible in that
view (at most the model's slots), normalise them, and generate a clip; views are
batched. The result is a :class:`~partdrag4d.containers.VideoSet` like the render
backend's, without alpha or ground truth. Never reads ``scene.gt``.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np
import torch

from partdrag4d.containers import SceneInput, VideoSet
from partdrag4d.errors import InputError
from partdrag4d.generate.diffusion_config import PuppetMasterConfig
from partdrag4d.generator.drag_maps import pixels_to_normalized
from partdrag4d.progress import bar, disabled

log = logging.getLogger(__name__)

MAX_DRAGS_PER_VIEW = 5
"""Puppet-Master's K: drags conditioned on per clip."""

_HOW_TO_GET_WEIGHTS = (
    "set generator.model_path to a folder saved with DragVideoPipeline.save_pretrained "
    "(e.g. made by `python tools/make_tiny_drag_model.py DIR` for a tiny random model, or "
    "by tools/train_drag_model.py) or to a hub id of such a pipeline"
)


def load_pipeline(cfg: PuppetMasterConfig):
    """Load the saved pipeline named by ``cfg.model_path`` (InputError when impossible)."""
    from partdrag4d.generator.pipeline import DragVideoPipeline

    if not cfg.model_path:
        raise InputError("generator.model_path", "model_path", f"is empty; {_HOW_TO_GET_WEIGHTS}")
    dtype = getattr(torch, cfg.dtype)
    try:
        pipe = DragVideoPipeline.from_pretrained(cfg.model_path, dtype=dtype, use_safetensors=True)
    except (OSError, ValueError) as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise InputError(
            "generator.model_path",
            "model_path",
            f"cannot load a DragVideoPipeline from {cfg.model_path!r} ({reason}); "
            f"only safetensors weights and no custom code are loaded; {_HOW_TO_GET_WEIGHTS}",
        ) from None
    pipe.set_progress_bar_config(disable=bool(disabled()), desc="diffusion", leave=False)
    if cfg.forward_chunking:
        pipe.unet.enable_forward_chunking(chunk_size=1, dim=0)
    if cfg.cpu_offload:
        if not cfg.device.startswith("cuda"):
            raise InputError("generator.cpu_offload", "cpu_offload", "needs a CUDA device")
        pipe.enable_model_cpu_offload(device=cfg.device)
        return pipe
    return pipe.to(cfg.device)


def select_view_drags(
    points_2d: np.ndarray, visible: np.ndarray, width: int, height: int, max_drags: int
) -> tuple[np.ndarray, np.ndarray]:
    """Normalised drags of one view: the first ``max_drags`` visible ones.

    Args:
        points_2d: (T, D, 2) pixel trajectories in this view.
        visible: (D,) visibility of each drag's start in this view.
        width: image width in pixels.
        height: image height in pixels.
        max_drags: slots available.

    Returns:
        (T, max_drags, 2) normalised drags (unused slots zero) and the (max_drags,) mask.
    """
    T = points_2d.shape[0]
    chosen = np.flatnonzero(visible)[:max_drags]
    drags = np.zeros((T, max_drags, 2), dtype=np.float32)
    mask = np.zeros(max_drags, dtype=bool)
    drags[:, : len(chosen)] = pixels_to_normalized(points_2d[:, chosen], width, height)
    mask[: len(chosen)] = True
    return drags, mask


def generate_puppet_master(
    cfg: PuppetMasterConfig, scene: SceneInput, generator: torch.Generator
) -> VideoSet:
    """Generate one drag-conditioned clip per view of ``scene``.

    Args:
        cfg: backend settings.
        scene: the prepared scene (rest mesh, cameras, drags); ``scene.gt`` is not read.
        generator: RNG for the diffusion noise (views share the stream in order).

    Returns:
        VideoSet with frames uint8 (V, T, H, W, 3) at the cameras' size, the scene's
        fps, cameras and drags; ``drags_visible`` marks the drags conditioned on.
    """
    from partdrag4d.generator.pipeline import frames_to_uint8
    from partdrag4d.render.rasterizer import Rasterizer

    pipe = load_pipeline(cfg)
    rig = scene.cameras
    V, T, W, H = rig.num_views, scene.num_frames, rig.width, rig.height
    slots = min(MAX_DRAGS_PER_VIEW, pipe.unet.config.num_drags)
    trained = pipe.unet.config.num_frames
    if pipe.unet.config.get("drag_variant") == "puppet_master" and trained != T:
        log.warning(
            "the Puppet-Master network was trained on %d frames; generating %d "
            "(set drags.num_frames=%d)",
            trained,
            T,
            trained,
        )

    with Rasterizer(scene.mesh, W, H) as raster:
        firsts = [raster.render(rig.K[v], rig.T_cam_world[v]).rgb for v in range(V)]

    conditioned = np.zeros((V, scene.drags.num_drags), dtype=bool)
    frames = np.zeros((V, T, H, W, 3), dtype=np.uint8)
    batches = range(0, V, cfg.views_per_batch)
    for start in bar(batches, desc=f"generate ({cfg.views_per_batch} views/call)", unit="call"):
        views = list(range(start, min(V, start + cfg.views_per_batch)))
        images, drags, masks = [], [], []
        for v in views:
            d, m = select_view_drags(scene.drags.points_2d[v], scene.drags.visible[v], W, H, slots)
            conditioned[v, np.flatnonzero(scene.drags.visible[v])[:slots]] = True
            images.append(torch.from_numpy(firsts[v]).permute(2, 0, 1).float() / 255.0)
            drags.append(torch.from_numpy(d))
            masks.append(torch.from_numpy(m))
        result = pipe(
            torch.stack(images),
            torch.stack(drags),
            torch.stack(masks),
            height=cfg.height,
            width=cfg.width,
            num_frames=T,
            num_inference_steps=cfg.num_inference_steps,
            min_guidance_scale=cfg.min_guidance_scale,
            max_guidance_scale=cfg.max_guidance_scale,
            fps=cfg.fps,
            motion_bucket_id=cfg.motion_bucket_id,
            noise_aug_strength=cfg.noise_aug_strength,
            decode_chunk_size=cfg.decode_chunk_size,
            generator=generator,
            output_type="np",
        )
        # frames: B T h w 3 in [0, 1] (a pipeline output, not the return_dict=False tuple)
        clips = frames_to_uint8(np.asarray(result.frames))  # pyright: ignore[reportAttributeAccessIssue]
        for i, v in enumerate(views):
            for t in range(T):
                frame = clips[i, t]
                if frame.shape[:2] != (H, W):
                    frame = cv2.resize(frame, (W, H), interpolation=cv2.INTER_AREA)
                frames[v, t] = frame

    return VideoSet(
        frames=frames,
        fps=scene.fps,
        cameras=rig,
        drags_2d=scene.drags.points_2d,
        drags_visible=conditioned,
        alpha=None,
        gt=None,
    )


def generate_diffusion(
    cfg: PuppetMasterConfig, scene: SceneInput, rng: np.random.Generator
) -> VideoSet:
    """The stage entry: one clip per view, the diffusion noise seeded from ``rng``."""
    generator = torch.Generator(device="cpu").manual_seed(int(rng.integers(2**62)))
    return generate_puppet_master(cfg, scene, generator)
