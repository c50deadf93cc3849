"""The Python API: run the pipeline and read a run folder back, without the CLI.

.. code-block:: python

    import partdrag4d

    result = partdrag4d.run(["debug=tiny", "asset.category=laptop"], out_dir="runs/laptop")
    run = partdrag4d.load_run("runs/laptop")
    print(run.metrics["axis_angle_deg"], [j.type for j in run.articulation.joints])
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, cast

from partdrag4d.errors import InputError

if TYPE_CHECKING:
    from partdrag4d.config import PipelineConfig


def compose_config(
    overrides: list[str] | tuple[str, ...] = (), out_dir: str | Path | None = None
) -> PipelineConfig:
    """The typed job config of ``partdrag4d <overrides>`` (a :class:`PipelineConfig`).

    Args:
        overrides: command-line style overrides (``key=value``, ``group=option``).
        out_dir: the run folder; default ``outputs/<date>/<time>`` like the CLI.
    """
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from partdrag4d.app import CONF_DIR
    from partdrag4d.config import register_configs

    register_configs()
    when = datetime.now().strftime("%Y-%m-%d/%H-%M-%S")
    target = str(out_dir) if out_dir is not None else f"outputs/{when}"
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        cfg = compose("config", overrides=[*overrides, f"out_dir={target}"])
    try:
        return cast("PipelineConfig", OmegaConf.to_object(cfg))
    except Exception as err:  # a missing mandatory value
        key = getattr(err, "full_key", "") or "config"
        raise InputError("config", key, (str(err).splitlines() or ["invalid"])[0]) from None


def run(overrides: list[str] | tuple[str, ...] = (), out_dir: str | Path | None = None):
    """Run the pipeline like ``partdrag4d <overrides> out_dir=<out_dir>``.

    Returns:
        The runner's :class:`~partdrag4d.runner.RunResult` (stage records, artefacts).

    Raises:
        InputError: on bad input, as the CLI reports it.
    """
    from partdrag4d.runner import run_pipeline

    cfg = compose_config(overrides, out_dir)
    return run_pipeline(cfg, Path(cfg.out_dir))


@dataclass(frozen=True)
class LoadedRun:
    """A run folder read back."""

    root: Path
    """The run folder."""
    articulation: object | None
    """The exported articulation (:class:`partdrag4d.viewer.ExportedArticulation`), or
    None when the run stopped before ``export``."""
    metrics: dict
    """``metrics.json`` (empty without ground truth)."""
    stages: list[dict]
    """``artefacts.json``: per stage its key, path, cached/computed and times."""
    glb: Path | None
    """``export/model.glb``."""
    urdf: Path | None
    """``export/urdf/model.urdf``."""
    report: Path | None
    """``report.html``."""


def load_run(out_dir: str | Path) -> LoadedRun:
    """Read the results of a run folder (``out_dir``).

    Raises:
        InputError: when the folder is not a partdrag4d run folder.
    """
    from partdrag4d.viewer.run_folder import read_articulation_json

    root = Path(out_dir)
    index = root / "artefacts.json"
    if not index.is_file():
        raise InputError(root, "artefacts.json", "not found (is this a partdrag4d run folder?)")

    def existing(rel: str) -> Path | None:
        return root / rel if (root / rel).is_file() else None

    art_json = root / "export" / "articulation.json"
    metrics = root / "metrics.json"
    return LoadedRun(
        root=root,
        articulation=read_articulation_json(art_json) if art_json.is_file() else None,
        metrics=json.loads(metrics.read_text()) if metrics.is_file() else {},
        stages=json.loads(index.read_text())["stages"],
        glb=existing("export/model.glb"),
        urdf=existing("export/urdf/model.urdf"),
        report=existing("report.html"),
    )
