"""The Python API, the help text, one run folder per run, and a real (wheel) install."""

import json
import shutil
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from app_helpers import job_config

import partdrag4d

REPO = Path(__file__).resolve().parents[2]


def test_version_is_the_installed_one():
    assert partdrag4d.__version__ == metadata.version("partdrag4d")


@pytest.mark.slow
def test_run_then_load_run(tmp_path):
    out = tmp_path / "out"
    result = partdrag4d.run(
        ["debug=tiny", "asset.category=laptop", f"paths.cache_dir={tmp_path / 'c'}"], out_dir=out
    )
    assert result.executed == ["prepare", "generate", "track", "articulate", "evaluate", "export"]
    run = partdrag4d.load_run(out)
    assert [j.type.value for j in run.articulation.joints] == ["revolute"]
    assert run.metrics["joint_type_accuracy"] == 1.0
    assert run.glb.is_file() and run.urdf.is_file() and run.report.is_file()
    assert {s["status"] for s in run.stages} == {"computed"}
    assert all(Path(s["path"]).is_absolute() for s in run.stages)
    again = partdrag4d.run(
        ["debug=tiny", "asset.category=laptop", f"paths.cache_dir={tmp_path / 'c'}"], out_dir=out
    )
    assert again.executed == [] and {r.status for r in again.records} == {"cached"}
    # In memory, the same config gives the very artefacts the CLI run stored.
    from partdrag4d.api import compose_config
    from partdrag4d.runner import run_stages
    from partdrag4d.store import serialize

    cfg = compose_config(["debug=tiny", "asset.category=laptop"], out_dir=tmp_path / "unused")
    done = run_stages(cfg, ["prepare", "generate", "track", "articulate", "evaluate"])
    stored = serialize.load(result.artefacts["articulate"], "articulation")
    assert np.array_equal(done["articulate"].T_world_part, stored.T_world_part)
    assert done["articulate"].joints[0].to_dict() == stored.joints[0].to_dict()
    assert done["evaluate"].metrics.to_dict() == run.metrics
    with pytest.raises(ValueError, match="needs"):
        run_stages(cfg, ["track"])  # its upstream is neither given nor run


def test_load_run_of_a_folder_that_is_not_one(tmp_path):
    with pytest.raises(partdrag4d.api.InputError, match="artefacts.json"):
        partdrag4d.load_run(tmp_path)


def _cli(*args: str, cwd: Path | None = None, exe: str | None = None):
    cmd = [exe] if exe else [sys.executable, "-m", "partdrag4d"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=600, cwd=cwd)


def test_help_names_the_commands_and_groups_only():
    res = _cli("--help")
    assert res.returncode == 0
    assert "partdrag4d view RUN_DIR" in res.stdout and "generator   files" in res.stdout
    assert "_schema" not in res.stdout and "train" not in res.stdout


def test_out_dir_holds_hydra_log_and_status(tmp_path):
    out = tmp_path / "run"
    res = _cli(
        "debug=tiny", "stages=[prepare]", f"paths.cache_dir={tmp_path / 'c'}", f"out_dir={out}"
    )
    assert res.returncode == 0, res.stderr
    assert (out / ".hydra" / "config.yaml").is_file()
    assert json.loads((out / "status.json").read_text())["status"] == "ok"
    assert (out / "artefacts.json").is_file()


@pytest.mark.slow
def test_wheel_installs_and_runs_outside_the_repo(tmp_path):
    wheels, source = tmp_path / "wheels", tmp_path / "source"  # build outside the checkout
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(REPO / "partdrag4d", source / "partdrag4d", ignore=skip)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(source)],
        check=True,
        timeout=600,
    )
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    # the dependencies come from the test environment, partdrag4d from the wheel alone
    (Path(site) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    wheel = next(wheels.glob("partdrag4d-*.whl"))
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
        check=True,
        timeout=600,
    )
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = _cli("-c", "import partdrag4d; print(partdrag4d.__file__)", exe=str(python), cwd=work)
    assert where.stdout.startswith(site), where.stdout + where.stderr
    res = _cli(
        "debug=tiny",
        "stages=[prepare]",
        "out_dir=run",
        exe=str(venv / "bin" / "partdrag4d"),
        cwd=work,
    )
    assert res.returncode == 0, res.stderr
    assert (work / "run" / "artefacts.json").is_file()


def test_objective_value_reads_the_metric_or_says_what_is_there(tmp_path, capsys):
    from partdrag4d.app import objective_value

    cfg = job_config(tmp_path, "objective=axis_angle_deg")
    out = Path(cfg.out_dir)
    out.mkdir(parents=True)
    (out / "metrics.json").write_text(json.dumps({"axis_angle_deg": 0.25, "per_joint": []}))
    assert objective_value(cfg) == 0.25
    cfg.objective = "no_such_metric"
    assert objective_value(cfg) is None
    err = capsys.readouterr().err
    assert "objective: 'no_such_metric'" in err and "axis_angle_deg" in err
