"""The ``partdrag4d`` console script: a thin Hydra main around the stage runner.

A failing job writes ``status.json`` (status, error) into its Hydra run directory. In a
``--multirun`` the other jobs go on; a single run exits non-zero, with one line on
stderr for bad input (:class:`partdrag4d.errors.InputError`).
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from partdrag4d.config import PipelineConfig, register_configs
from partdrag4d.errors import InputError

CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")
register_configs()


def run_job(cfg: PipelineConfig, run_dir: Path, multirun: bool) -> int:
    """Run one job; record its status in ``run_dir/status.json``; return an exit code."""
    from partdrag4d.runner import run_pipeline

    status: dict = {"status": "ok", "out_dir": str(cfg.out_dir)}
    try:
        result = run_pipeline(cfg, Path(cfg.out_dir))
        status["executed"] = result.executed
        metrics = Path(cfg.out_dir) / "metrics.json"
        if metrics.is_file():
            from partdrag4d.evaluate.metrics import format_metrics_table

            print(format_metrics_table(json.loads(metrics.read_text())))
        print(f"partdrag4d: wrote {cfg.out_dir} (computed: {result.executed or 'nothing'})")
        code = 0
    except InputError as err:
        status.update(status="failed", error=str(err))
        print(f"partdrag4d: error: {err}", file=sys.stderr)
        code = 2
    except Exception as err:  # recorded so that a sweep goes on; re-raised when alone
        status.update(
            status="failed", error=f"{type(err).__name__}: {err}", traceback=traceback.format_exc()
        )
        if not multirun:
            raise
        print(f"partdrag4d: job failed: {status['error']}", file=sys.stderr)
        code = 1
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "status.json").write_text(json.dumps(status, indent=1))
    return code


@hydra.main(version_base=None, config_path=CONF_DIR, config_name="config")
def _main(dcfg: DictConfig) -> None:
    hc = HydraConfig.get()
    multirun = hc.mode == RunMode.MULTIRUN
    code = run_job(OmegaConf.to_object(dcfg), Path(hc.runtime.output_dir), multirun)
    if code and not multirun:
        sys.exit(code)


def main() -> None:
    """Console-script entry point: ``partdrag4d view RUN_DIR`` opens the viewer, anything
    else is the Hydra app (``partdrag4d [overrides]``)."""
    if len(sys.argv) > 1 and sys.argv[1] == "view":
        from partdrag4d.viewer.cli import main as view

        sys.exit(view(sys.argv[2:]))
    _main()
