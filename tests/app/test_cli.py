"""The command-line contract: bad input, multirun with a failing job, foreign URDFs."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

PREFIX = "stages=[prepare,generate]"


def run_app(tmp_path: Path, *args: str, multirun: bool = False) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable,
        "-m",
        "partdrag4d",
        *(["-m"] if multirun else []),
        "debug=tiny",
        f"paths.cache_dir={tmp_path / 'cache'}",
        *args,
    ]
    if multirun:
        cmd.append(f"hydra.sweep.dir={tmp_path / 'sweep'}")
    else:
        cmd.append(f"hydra.run.dir={tmp_path / 'run'}")
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def _no_artefacts(tmp_path: Path) -> bool:
    cache = tmp_path / "cache"
    return not cache.exists() or not [
        p for p in cache.iterdir() if p.name not in {"tmp", "locks", "trash"}
    ]


BROKEN_URDF = {
    "malformed": ("<robot name='x'><link name='a'>", "model.urdf"),
    "unknown_joint": (
        "<robot name='x'><link name='a'/><link name='b'/>"
        "<joint name='j' type='screw'><parent link='a'/><child link='b'/></joint></robot>",
        "joint[j]",
    ),
    "escaping_mesh": (
        "<robot name='x'><link name='a'><visual><geometry><mesh filename='../../etc/x.obj'/>"
        "</geometry></visual></link></robot>",
        "mesh",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN_URDF))
def test_bad_urdf_is_one_line_error(tmp_path, case):
    text, must_name = BROKEN_URDF[case]
    urdf = tmp_path / "asset" / "model.urdf"
    urdf.parent.mkdir()
    urdf.write_text(text)
    out = tmp_path / "out"
    res = run_app(tmp_path, "asset=urdf", f"asset.path={urdf}", f"out_dir={out}", PREFIX)
    assert res.returncode == 2, res.stderr
    lines = [ln for ln in res.stderr.strip().splitlines() if ln.startswith("partdrag4d: error")]
    assert len(lines) == 1 and str(urdf) in lines[0] and must_name in lines[0], res.stderr
    assert not out.exists() and _no_artefacts(tmp_path)
    status = json.loads((tmp_path / "run" / "status.json").read_text())
    assert status["status"] == "failed"


def test_missing_urdf_file(tmp_path):
    res = run_app(tmp_path, "asset=urdf", f"asset.path={tmp_path / 'nope.urdf'}", PREFIX)
    assert res.returncode == 2 and "nope.urdf" in res.stderr and "not found" in res.stderr


def test_gt_drags_on_static_mesh_is_an_error(tmp_path):
    import trimesh

    mesh = tmp_path / "box.glb"
    trimesh.creation.box(extents=(0.4, 0.3, 0.5)).export(mesh)
    res = run_app(tmp_path, "asset=mesh", f"asset.path={mesh}", PREFIX)
    assert res.returncode == 2 and "joint" in res.stderr and str(mesh) in res.stderr
    assert _no_artefacts(tmp_path)


def test_drag_off_the_surface_is_an_error(tmp_path):
    import trimesh

    mesh = tmp_path / "box.glb"
    trimesh.creation.box(extents=(0.4, 0.3, 0.5)).export(mesh)
    drags = tmp_path / "drags.json"
    drags.write_text(
        json.dumps(
            {
                "drags": [
                    {"start": [0.2, 0.0, 0.0], "end": [0.3, 0.0, 0.0]},
                    {"start": [0.0, 0.0, 0.9], "end": [0.1, 0.0, 0.9]},
                ]
            }
        )
    )
    res = run_app(
        tmp_path,
        "asset=mesh",
        f"asset.path={mesh}",
        "drags=file",
        f"drags.path={drags}",
        "stages=[prepare]",
    )
    assert (
        res.returncode == 2 and "drags[1].start" in res.stderr and "off the surface" in (res.stderr)
    )


def test_multirun_with_a_failing_job_finishes_the_other(tmp_path):
    res = run_app(tmp_path, "asset.category=cabinet,no_such_category", PREFIX, multirun=True)
    assert res.returncode == 1, res.stderr  # the sweep finishes, then says what failed
    assert "1 job(s) of the sweep failed" in res.stderr and "asset.category" in res.stderr
    statuses = {
        json.loads(p.read_text())["status"] for p in (tmp_path / "sweep").glob("*/status.json")
    }
    assert statuses == {"ok", "failed"}
    ok_dir = next(
        p.parent
        for p in (tmp_path / "sweep").glob("*/status.json")
        if json.loads(p.read_text())["status"] == "ok"
    )
    assert (ok_dir / "videos" / "view_00.mp4").is_file()
    assert (ok_dir / "contact_sheet.png").is_file()
    _check_summary(tmp_path / "sweep", {"asset.category=cabinet": "ok"})
    headers = [ln for ln in res.stdout.splitlines() if ln.startswith("partdrag4d: job ")]
    assert len(headers) == 2 and "asset.category=cabinet" in headers[0]  # a header per job


def _check_summary(sweep: Path, expected: dict[str, str]) -> list[dict]:
    """sweep_summary.csv/.md: one row per job with its overrides and status."""
    import csv

    with open(sweep / "sweep_summary.csv") as f:
        rows = list(csv.DictReader(f))
    for overrides, status in expected.items():
        (row,) = [r for r in rows if overrides in r["overrides"].split()]
        assert row["status"] == status, rows
    assert (sweep / "sweep_summary.md").read_text().count("\n") == len(rows) + 2
    failed = [r for r in rows if r["status"] == "failed"]
    assert all(r["error"] for r in failed)
    return rows


def _two_job_sweep(tmp_path: Path, *launcher: str) -> list[dict]:
    """A two-job sweep (``generator.samples=0,4``) through ``launcher``; both jobs ok."""
    res = run_app(tmp_path, *launcher, "generator.samples=0,4", PREFIX, multirun=True)
    assert res.returncode == 0, res.stderr
    statuses = [json.loads(p.read_text()) for p in (tmp_path / "sweep").glob("*/status.json")]
    assert [s["status"] for s in statuses] == ["ok", "ok"]
    return statuses


def test_parallel_sweep_shares_upstream_artefacts(tmp_path):
    """Two jobs at once (joblib launcher) that differ only downstream of `prepare`: one
    computes `prepare`, the other waits on the key's lock and reuses it."""
    statuses = _two_job_sweep(tmp_path, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2")
    computed = [s["executed"] for s in statuses]
    assert sorted(len(c) for c in computed) == [1, 2]
    assert sum("prepare" in c for c in computed) == 1
    _check_summary(tmp_path / "sweep", {"generator.samples=0": "ok", "generator.samples=4": "ok"})


def test_submitit_local_launcher_sweep(tmp_path):
    """The submitit launcher (its local executor: one subprocess per job) ends in the
    same summary as the basic launcher."""
    _two_job_sweep(tmp_path, "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10")
    _check_summary(tmp_path / "sweep", {"generator.samples=0": "ok", "generator.samples=4": "ok"})


def test_optuna_sweep_minimises_the_objective(tmp_path):
    """`experiment=tune_articulate`: every trial returns its `axis_angle_deg` to Optuna,
    whose best value is the smallest one in the sweep summary."""
    import csv

    import yaml

    res = run_app(
        tmp_path,
        "experiment=tune_articulate",
        "hydra.sweeper.n_trials=2",
        "asset.category=cabinet",
        multirun=True,
    )
    assert res.returncode == 0, res.stderr
    sweep = tmp_path / "sweep"
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    with open(sweep / "sweep_summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and all(r["status"] == "ok" for r in rows)
    assert best["best_value"] == pytest.approx(min(float(r["axis_angle_deg"]) for r in rows))
    assert set(best["best_params"]) >= {"articulate.model_fit.score.sigma_grey"}
