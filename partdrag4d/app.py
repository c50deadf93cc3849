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
from typing import cast

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from partdrag4d.config import PipelineConfig, register_configs
from partdrag4d.errors import InputError

CONF_DIR = str(Path(__file__).resolve().parent / "conf")
register_configs()
FAILURES_ENV = "PARTDRAG4D_FAILURES"
"""A file each failing job of a sweep appends its folder to (set by :func:`main`; jobs
in launcher subprocesses inherit it)."""


def _clean_failure_files() -> None:
    """Remove the failure lists of runs that were killed (their pid is gone)."""
    from partdrag4d.store.run_folder import pid_alive

    for path in Path(tempfile.gettempdir()).glob("partdrag4d-failures-*-*"):
        pid = path.name.split("-")[2]
        if pid.isdigit() and not pid_alive(int(pid)):
            path.unlink(missing_ok=True)


def _record_failure(run_dir: Path, error: str) -> None:
    path = os.environ.get(FAILURES_ENV)
    if path:
        with open(path, "a") as f:
            f.write(f"{run_dir}\t{error}\n")


def articulation_summary(doc: dict) -> str:
    """What a run found, for runs without ground truth: parts, then one line per joint."""
    lines = [f"found {len(doc['parts'])} parts, {len(doc['joints'])} joints"]
    for j in doc["joints"]:
        unit = "rad" if j["type"] == "revolute" else "m"
        lo, hi = j["limits"]
        lines.append(
            f"  {j['name']}: {j['type']} {j['parent']} -> {j['child']}, "
            f"axis ({', '.join(f'{x:.3f}' for x in j['axis'])}), range [{lo:.3g}, {hi:.3g}] {unit}"
        )
    return "\n".join(lines)


def run_job(cfg: PipelineConfig, run_dir: Path, multirun: bool) -> int:
    """Run one job; record its status in ``run_dir/status.json``; return an exit code."""
    from partdrag4d.runner import run_pipeline

    status: dict = {"status": "ok", "out_dir": str(cfg.out_dir)}
    try:
        result = run_pipeline(cfg, Path(cfg.out_dir))
        status["executed"] = result.executed
        metrics = Path(cfg.out_dir) / "metrics.json"
        found = Path(cfg.out_dir) / "export" / "articulation.json"
        if metrics.is_file():
            from partdrag4d.containers import Metrics
            from partdrag4d.evaluate.metrics import format_metrics_table

            doc = json.loads(metrics.read_text())
            print(format_metrics_table(Metrics.from_dict(doc)))
        elif found.is_file():  # no ground truth: say what was found
            print(articulation_summary(json.loads(found.read_text())))
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
def _main(dcfg: DictConfig) -> float | None:
    hc = HydraConfig.get()
    multirun = hc.mode == RunMode.MULTIRUN
    run_dir = Path(hc.runtime.output_dir)
    try:
        cfg = cast(PipelineConfig, OmegaConf.to_object(dcfg))
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
    if multirun:  # a header per job: which one this is
        print(f"partdrag4d: job {hc.job.num}: {' '.join(hc.overrides.task) or '(defaults)'}")
    code = run_job(cfg, run_dir, multirun)
    if code and not multirun:
        sys.exit(code)
    return None if code else objective_value(cfg)


def objective_value(cfg: PipelineConfig) -> float | None:
    """The value of ``cfg.objective`` in the run's ``metrics.json`` (what an optimising
    sweeper reads from the job), or None; a missing metric is said on stderr."""
    if cfg.objective is None:
        return None
    path = Path(cfg.out_dir) / "metrics.json"
    metrics = json.loads(path.read_text()) if path.is_file() else {}
    value = metrics.get(cfg.objective)
    if not isinstance(value, int | float):
        known = ", ".join(k for k, v in metrics.items() if isinstance(v, int | float))
        print(
            f"partdrag4d: error: objective: {cfg.objective!r} is not a number in {path} "
            f"(numbers there: {known or 'none; the run has no ground truth'})",
            file=sys.stderr,
        )
        return None
    return float(value)


HELP = """partdrag4d: drag a static 3D object into an articulated, animated one.

It makes drag-conditioned videos of the object from several calibrated views (or reads
yours), reconstructs the moving parts and their joints, and exports an animated GLB, a
URDF, a nerfstudio dataset and a report into the run folder (out_dir).

Commands:
  partdrag4d [key=value ...] [group=option ...]   run the pipeline (Hydra overrides)
  partdrag4d -m key=a,b ...                        a sweep, one job per combination
  partdrag4d --cfg job [overrides]                 print the resolved config
  partdrag4d view RUN_DIR [--host H] [--port P]    look at a run in the browser

Examples:
  partdrag4d                                        the built-in example (a cabinet)
  partdrag4d asset=urdf asset.path=model.urdf out_dir=runs/mine
  partdrag4d asset=mesh asset.path=m.glb drags=file drags.path=drags.json

Config groups (group=option):
{groups}

Every field of a group is documented in its schema (partdrag4d/config.py and next to
the code it configures); README.md has the details. Hydra's own help: --hydra-help.
"""


def _help_text() -> str:
    conf = Path(CONF_DIR)
    rows = []
    for group in sorted(p for p in conf.iterdir() if p.is_dir()):
        options = ", ".join(sorted(f.stem for f in group.glob("*.yaml")))
        rows.append(f"  {group.name:<11} {options}")
    return HELP.format(groups="\n".join(rows))


def _with_run_dir(argv: list[str]) -> list[str]:
    """``out_dir=X`` on a single run also makes X Hydra's run directory, so ``.hydra/``,
    the log and ``status.json`` sit with the results."""
    if any(a in argv for a in ("-m", "--multirun")):
        return argv
    out = [a.split("=", 1)[1] for a in argv if a.startswith("out_dir=")]
    if out and not any(a.startswith("hydra.run.dir=") for a in argv):
        return [*argv, f"hydra.run.dir={out[-1]}"]
    return argv


def main() -> None:
    """Console-script entry point: ``partdrag4d view RUN_DIR`` opens the viewer, anything
    else is the Hydra app (``partdrag4d [overrides]``)."""
    if len(sys.argv) > 1 and sys.argv[1] == "view":
        from partdrag4d.viewer.cli import main as view

        sys.exit(view(sys.argv[2:]))
    if any(a in sys.argv[1:] for a in ("-h", "--help")):
        print(_help_text())
        return
    sys.argv = [sys.argv[0], *_with_run_dir(sys.argv[1:])]
    _clean_failure_files()
    fd, failures = tempfile.mkstemp(prefix=f"partdrag4d-failures-{os.getpid()}-")
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
