"""Shared test helpers: compose a typed job config without a running Hydra app."""

from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from partdrag4d.app import CONF_DIR
from partdrag4d.config import PipelineConfig, register_configs


def job_config(tmp_path: Path, *overrides: str) -> PipelineConfig:
    """The job config of ``partdrag4d debug=tiny <overrides>`` with paths in tmp_path."""
    register_configs()
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        cfg = compose(
            "config",
            overrides=[
                "debug=tiny",
                f"out_dir={tmp_path / 'out'}",
                f"paths.cache_dir={tmp_path / 'cache'}",
                *overrides,
            ],
        )
    return OmegaConf.to_object(cfg)
