"""Faults around the outputs: unwritable or full places fail before any work, and the
run folder is one transaction (the previous complete folder or none, never a mix)."""

import errno
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from app_helpers import job_config

from partdrag4d.errors import InputError
from partdrag4d.runner import run_pipeline
from partdrag4d.store import run_folder
from partdrag4d.store.run_folder import write_run_folder

PREFIX = "stages=[prepare,generate]"


def _no_artefacts(cache: Path) -> bool:
    return not cache.exists() or not [p for p in cache.iterdir() if (p / "manifest.json").exists()]


def _rejected(tmp_path: Path, field: str, *overrides: str) -> InputError:
    cfg = job_config(tmp_path, PREFIX, *overrides)
    with pytest.raises(InputError) as err:
        run_pipeline(cfg, Path(cfg.out_dir))
    assert err.value.field == field, str(err.value)
    assert _no_artefacts(Path(cfg.paths.cache_dir)), "work started before the check"
    return err.value


@pytest.fixture
def tmpfs(tmp_path):
    """Mount a small tmpfs (root only); yields a function ``mount(size, read_only)``."""
    mounted = []

    def mount(size: str = "4m", read_only: bool = False) -> Path:
        point = tmp_path / f"mnt{len(mounted)}"
        point.mkdir()
        opts = f"size={size}" + (",ro" if read_only else "")
        res = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(point)])
        if res.returncode:
            pytest.skip("cannot mount a tmpfs here (needs root)")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)])


def test_out_dir_that_is_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    err = _rejected(tmp_path, "out_dir", f"out_dir={tmp_path / 'file'}")
    assert "is a file" in err.message


def test_out_dir_under_proc(tmp_path):
    _rejected(tmp_path, "out_dir", "out_dir=/proc/partdrag4d-out")


def test_out_dir_on_a_read_only_file_system(tmp_path, tmpfs):
    point = tmpfs(read_only=True)
    err = _rejected(tmp_path, "out_dir", f"out_dir={point / 'run'}")
    assert "not writable" in err.message


def test_out_dir_on_a_full_file_system(tmp_path, tmpfs):
    point = tmpfs(size="1m")
    err = _rejected(tmp_path, "out_dir", f"out_dir={point / 'run'}")
    assert "MB free" in err.message


def test_read_only_cache(tmp_path, tmpfs):
    point = tmpfs(read_only=True)
    _rejected(tmp_path, "paths.cache_dir", f"paths.cache_dir={point / 'cache'}")


def test_failed_write_keeps_the_previous_folder(tmp_path, monkeypatch):
    out = tmp_path / "run"
    write_run_folder(out, lambda f: (f / "metrics.json").write_text("old"))
    (out / "notes.txt").write_text("mine")
    calls = []

    def fill(folder: Path) -> None:
        (folder / "metrics.json").write_text("new")
        calls.append(1)
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError):
        write_run_folder(out, fill)
    assert calls and (out / "metrics.json").read_text() == "old"
    assert (out / "notes.txt").read_text() == "mine"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no staging left


def test_rerun_replaces_the_whole_folder(tmp_path):
    out = tmp_path / "run"
    write_run_folder(
        out, lambda f: [(f / n).write_text("1") for n in ("metrics.json", "report.html")]
    )
    (out / ".hydra").mkdir()
    write_run_folder(out, lambda f: (f / "metrics.json").write_text("2"))
    assert sorted(p.name for p in out.iterdir()) == [".hydra", "metrics.json"]  # no stale report


KILL_CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from partdrag4d import atomic
    from partdrag4d.store import run_folder
    out, after = Path(sys.argv[1]), int(sys.argv[2])
    renames = []
    real = os.replace
    def rename(a, b):
        if len(renames) == after:
            os.kill(os.getpid(), signal.SIGKILL)
        renames.append(a)
        real(a, b)
    atomic.os.replace = rename
    run_folder.write_run_folder(out, lambda f: (f / "metrics.json").write_text("new"))
    """
)


@pytest.mark.parametrize("after_renames", [0, 1])
def test_kill_during_the_swap(tmp_path, after_renames):
    out = tmp_path / "run"
    write_run_folder(out, lambda f: (f / "metrics.json").write_text("old"))
    res = subprocess.run([sys.executable, "-c", KILL_CHILD, str(out), str(after_renames)])
    assert res.returncode == -signal.SIGKILL
    if out.exists():  # killed before the swap: the previous complete folder
        assert (out / "metrics.json").read_text() == "old"
    else:  # killed between the two renames: no folder, never a mix
        assert after_renames == 1
    run_folder.clean_leftovers(out)
    assert [p.name for p in tmp_path.iterdir() if p.name != "run"] == []
    write_run_folder(out, lambda f: (f / "metrics.json").write_text("again"))
    assert (out / "metrics.json").read_text() == "again"
    assert os.listdir(tmp_path) == ["run"]


def test_internal_error_is_one_line_and_recorded(tmp_path, monkeypatch, capsys):
    import json

    import partdrag4d.runner
    from partdrag4d.app import run_job

    def broken(cfg, out_dir):
        raise RuntimeError("a bug\nwith a second line")

    monkeypatch.setattr(partdrag4d.runner, "run_pipeline", broken)
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    run_dir = tmp_path / "job"
    code = run_job(job_config(tmp_path), run_dir, multirun=False)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and err[0].startswith("partdrag4d: internal error:")
    assert "RuntimeError: a bug" in err[0] and "app.log" in err[0]
    assert "Traceback" in (run_dir / "app.log").read_text()
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "failed" and "a bug" in status["error"]
