"""Build the drag UNet's training data: render procedural clips, sample drags, cache
VAE latents and CLIP embeddings (Hydra).

Usage: python tools/build_drag_dataset.py pipeline=DIR out_dir=DATASET engine.num_clips=N
       (pipeline: a saved DragVideoPipeline, or an SVD folder/hub id with from_svd=true;
       only its VAE and CLIP encoder are used)
Reruns skip the clips already written. Logic: partdrag4d.train.data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import hydra
import torch
from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from partdrag4d.train.data import DataEngineConfig, build_dataset


@dataclass
class BuildConfig:
    """Dataset build settings."""

    pipeline: str = ""
    """Saved DragVideoPipeline folder, or SVD folder/hub id with ``from_svd``."""
    from_svd: bool = False
    """Load ``pipeline`` as a Stable Video Diffusion checkpoint."""
    out_dir: str = "./cache/drag_clips"
    """Dataset folder."""
    device: str = "cpu"
    """Device of the VAE and CLIP encoder."""
    dtype: str = "float32"
    """Encoder dtype ("float32", "float16", "bfloat16")."""
    engine: DataEngineConfig = field(default_factory=DataEngineConfig)
    """What to render and how to encode it."""


ConfigStore.instance().store(group="train", name="base_dataset", node=BuildConfig)


@hydra.main(version_base=None, config_path="conf/train", config_name="dataset")
def main(raw) -> None:
    from partdrag4d.generator.pipeline import DragVideoPipeline

    cfg: BuildConfig = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(BuildConfig), raw))
    dtype = getattr(torch, cfg.dtype)
    if cfg.from_svd:
        pipe = DragVideoPipeline.from_svd(cfg.pipeline, torch_dtype=dtype)
    else:
        pipe = DragVideoPipeline.from_pretrained(cfg.pipeline, dtype=dtype, use_safetensors=True)
    pipe.set_progress_bar_config(disable=True)
    summary = build_dataset(cfg.engine, pipe.to(cfg.device), cfg.out_dir)
    kept = sum("skipped" not in r for r in summary["train"])
    print(f"{cfg.out_dir}: {kept} training clips, {len(summary['val'])} validation clips")


if __name__ == "__main__":
    main()
