"""Train the drag UNet on a cached dataset with the EDM objective (Hydra + accelerate).

Usage: python tools/train_drag_model.py init_from=DIR cache_dir=DATASET out_dir=OUT
       accelerate launch tools/train_drag_model.py ...   (multi-GPU)
Make DATASET with tools/build_drag_dataset.py. Resumes from OUT/checkpoint_rank*.pt when
present (model, optimizer, RNGs, step; the data order is a function of (seed, step)).
Validation (held-out clips of DATASET/val, motion error) is appended to
OUT/validation.json every ``validation.every`` steps. Logic: partdrag4d.train.trainer.
"""

from __future__ import annotations

import hydra
from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from partdrag4d.train.trainer import TrainConfig, train

ConfigStore.instance().store(group="train", name="base_train", node=TrainConfig)


@hydra.main(version_base=None, config_path="conf/train", config_name="default")
def main(raw) -> None:
    cfg: TrainConfig = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(TrainConfig), raw))
    print(f"saved {train(cfg)}")


if __name__ == "__main__":
    main()
