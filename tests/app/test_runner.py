"""The stage runner: cache hits, atomic writes, prefixes, cache modes."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from app_helpers import job_config

from partdrag4d.errors import InputError
from partdrag4d.runner import run_pipeline
from partdrag4d.store import serialize

PREFIX = "stages=[prepare,generate]"


def _artefact_dirs(cache: Path) -> list[Path]:
    return [p for p in cache.iterdir() if p.is_dir() and p.name not in {"tmp", "locks", "trash"}]


def test_second_run_is_all_cache_hits(tmp_path):
    cfg = job_config(tmp_path, PREFIX)
    first = run_pipeline(cfg, Path(cfg.out_dir))
    assert first.executed == ["prepare", "generate"]
    second = run_pipeline(cfg, Path(cfg.out_dir))
    assert second.executed == []
    assert [r.key for r in first.records] == [r.key for r in second.records]
    index = json.loads((Path(cfg.out_dir) / "artefacts.json").read_text())
    assert [s["cache_hit"] for s in index["stages"]] == [True, True]
    assert (Path(cfg.out_dir) / "videos" / "view_00.mp4").is_file()


def test_config_change_recomputes_only_downstream(tmp_path):
    run_pipeline(job_config(tmp_path, PREFIX), tmp_path / "a")
    cfg = job_config(tmp_path, PREFIX, "generator.samples=0")
    assert run_pipeline(cfg, tmp_path / "b").executed == ["generate"]


def test_refresh_and_off_modes(tmp_path):
    run_pipeline(job_config(tmp_path, PREFIX), tmp_path / "a")
    refresh = job_config(tmp_path, PREFIX, "runtime.cache=refresh")
    assert run_pipeline(refresh, tmp_path / "b").executed == ["prepare", "generate"]
    before = sorted(p.name for p in _artefact_dirs(tmp_path / "cache"))
    off = job_config(tmp_path, PREFIX, "runtime.cache=off")
    assert run_pipeline(off, tmp_path / "c").executed == ["prepare", "generate"]
    assert sorted(p.name for p in _artefact_dirs(tmp_path / "cache")) == before
    assert (tmp_path / "c" / "videos" / "view_00.mp4").is_file()


def test_stage_prefix_is_checked(tmp_path):
    with pytest.raises(InputError, match="prefix"):
        run_pipeline(job_config(tmp_path, "stages=[generate]"), tmp_path / "o")
    with pytest.raises(InputError, match="unknown stage"):
        run_pipeline(job_config(tmp_path, "stages=[prepare,bogus]"), tmp_path / "o")


def test_crash_mid_write_leaves_no_artefact_and_rerun_completes(tmp_path, monkeypatch):
    cfg = job_config(tmp_path, PREFIX)
    real_save = serialize.save

    def crashing_save(obj, directory, *args, **kwargs):
        kind = real_save(obj, directory, *args, **kwargs)  # payload written, manifest not yet
        if type(obj).__name__ == "VideoSet":
            raise RuntimeError("simulated crash while writing")
        return kind

    monkeypatch.setattr(serialize, "save", crashing_save)
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_pipeline(cfg, Path(cfg.out_dir))
    dirs = _artefact_dirs(tmp_path / "cache")
    assert len(dirs) == 1 and all((d / "manifest.json").is_file() for d in dirs)  # prepare only
    monkeypatch.setattr(serialize, "save", real_save)
    assert run_pipeline(cfg, Path(cfg.out_dir)).executed == ["generate"]


@pytest.mark.parametrize("kill_after_s", [1.0, 2.5])
def test_killed_process_leaves_only_complete_artefacts(tmp_path, kill_after_s):
    cmd = [
        sys.executable,
        "-m",
        "partdrag4d",
        "debug=tiny",
        PREFIX,
        f"out_dir={tmp_path / 'out'}",
        f"paths.cache_dir={tmp_path / 'cache'}",
        f"hydra.run.dir={tmp_path / 'run'}",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(kill_after_s)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    cache = tmp_path / "cache"
    if cache.exists():
        assert all((d / "manifest.json").is_file() for d in _artefact_dirs(cache))
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert all((d / "manifest.json").is_file() for d in _artefact_dirs(cache))
    assert len(_artefact_dirs(cache)) == 2
