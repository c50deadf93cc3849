"""The ``partdrag4d`` console script: a thin Hydra main around the stage runner.

Every job writes ``status.json`` (status, error) into its Hydra run directory, failed
ones included. Bad input (:class:`partdrag4d.errors.InputError`) is one line on stderr
and exit status 2; any other exception is one line too (``partdrag4d: internal error:
...``, exit 1) with the traceback appended to the job's ``app.log``
(``HYDRA_FULL_ERROR=1`` raises it instead). In a ``--multirun`` the other jobs go on;
the sweep then exits non-zero, naming the jobs that failed.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
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
FAILURES_ENV = "PARTDRAG4D_FAILURES"
"""A file each failing job of a sweep appends its folder to (set by :func:`main`; jobs
in launcher subprocesses inherit it)."""


def _record_failure(run_dir: Path, error: str) -> None:
    path = os.environ.get(FAILURES_ENV)
    if path:
        with open(path, "a") as f:
            f.write(f"{run_dir}\t{error}\n")


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
    except Exception as err:  # recorded so that a sweep goes on
        trace = traceback.format_exc()
        status.update(status="failed", error=f"{type(err).__name__}: {err}", traceback=trace)
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            _write_status(run_dir, status)
            raise
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            with open(run_dir / "app.log", "a") as log:
                log.write(trace)
        except OSError:
            pass
        first = str(err).splitlines()[0] if str(err) else ""
        print(
            f"partdrag4d: internal error: {type(err).__name__}: {first} "
            f"(traceback in {run_dir / 'app.log'}; HYDRA_FULL_ERROR=1 shows it)",
            file=sys.stderr,
        )
        code = 1
    if code:
        _record_failure(run_dir, status["error"].splitlines()[0])
    _write_status(run_dir, status)
    return code


def _write_status(run_dir: Path, status: dict) -> None:
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "status.json").write_text(json.dumps(status, indent=1))
    except OSError as err:  # an unwritable run folder: said already, or say it now
        print(f"partdrag4d: could not write {run_dir / 'status.json'}: {err}", file=sys.stderr)


@hydra.main(version_base=None, config_path=CONF_DIR, config_name="config")
def _main(dcfg: DictConfig) -> None:
    hc = HydraConfig.get()
    multirun = hc.mode == RunMode.MULTIRUN
    run_dir = Path(hc.runtime.output_dir)
    try:
        cfg = OmegaConf.to_object(dcfg)
    except Exception as err:  # a missing mandatory value, a type mismatch
        key = getattr(err, "full_key", "") or "?"
        reason = (str(err).splitlines() or [type(err).__name__])[0]
        if "missing mandatory value" in reason.lower():
            reason = f"missing; set {key}=..."
        print(f"partdrag4d: error: config: {key}: {reason}", file=sys.stderr)
        _record_failure(run_dir, str(err).splitlines()[0])
        if not multirun:
            sys.exit(2)
        return
    code = run_job(cfg, run_dir, multirun)
    if code and not multirun:
        sys.exit(code)


def main() -> None:
    """Console-script entry point: ``partdrag4d view RUN_DIR`` opens the viewer, anything
    else is the Hydra app (``partdrag4d [overrides]``)."""
    if len(sys.argv) > 1 and sys.argv[1] == "view":
        from partdrag4d.viewer.cli import main as view

        sys.exit(view(sys.argv[2:]))
    fd, failures = tempfile.mkstemp(prefix="partdrag4d-failures-")
    os.close(fd)
    os.environ[FAILURES_ENV] = failures
    try:
        _main()
        lines = Path(failures).read_text().splitlines()
    finally:
        os.unlink(failures)
    if lines and any(a in sys.argv[1:] for a in ("-m", "--multirun")):
        print(f"partdrag4d: {len(lines)} job(s) of the sweep failed:", file=sys.stderr)
        for line in lines:
            print(f"  {line.replace(chr(9), ': ', 1)}", file=sys.stderr)
        sys.exit(1)
