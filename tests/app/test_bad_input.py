"""The bad-input corpus: every case stops with one InputError naming the right source and
field, before anything is cached or written; a few go through the command line too."""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from app_helpers import job_config
from bad_inputs import CONFIG_CASES, FILE_CASES, PUPPET_MASTER_CASES

from partdrag4d.errors import InputError
from partdrag4d.runner import run_pipeline

PREFIX = "stages=[prepare,generate]"


@pytest.fixture(scope="module")
def base_videos(tmp_path_factory) -> Path:
    """Valid videos for ``generator=files`` (written by a tiny run)."""
    tmp = tmp_path_factory.mktemp("base")
    cfg = job_config(tmp, PREFIX)
    run_pipeline(cfg, Path(cfg.out_dir))
    return Path(cfg.out_dir) / "videos"


def _expect_rejected(
    tmp_path: Path, overrides: list[str], source: str, field: str, upstream_ok=frozenset()
) -> None:
    stages = [] if any(o.startswith("stages=") for o in overrides) else [PREFIX]
    cfg = job_config(tmp_path, *overrides, *stages)
    scratch = tmp_path / "tmpdir"  # this run's temp files, and nobody else's
    scratch.mkdir()
    saved, tempfile.tempdir = tempfile.tempdir, str(scratch)
    try:
        with pytest.raises(InputError) as err:
            run_pipeline(cfg, Path(cfg.out_dir))
    finally:
        tempfile.tempdir = saved
    assert err.value.field == field, str(err.value)
    assert source in err.value.source, str(err.value)
    assert "\n" not in str(err.value)
    assert not Path(cfg.out_dir).exists(), "a rejected run wrote its folder"
    cache = Path(cfg.paths.cache_dir)  # only the stages before the bad input are cached
    stages = {
        json.loads((p / "manifest.json").read_text())["stage"]
        for p in (cache.iterdir() if cache.exists() else [])
        if (p / "manifest.json").is_file()
    }
    assert stages <= upstream_ok, stages
    assert list(scratch.iterdir()) == [], "temp files left behind"


@pytest.mark.parametrize(("override", "field"), CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_config_value_out_of_range(tmp_path, override, field):
    _expect_rejected(tmp_path, [override], "config", field)


@pytest.mark.parametrize(
    ("override", "field"), PUPPET_MASTER_CASES, ids=[c[0] for c in PUPPET_MASTER_CASES]
)
def test_generator_setting_out_of_range(tmp_path, override, field):
    _expect_rejected(tmp_path, ["generator=puppet_master", override], "config", field)


@pytest.mark.parametrize("stages", ["[generate]", "[prepare,track]", "[prepare,paint]"])
def test_stages_must_be_a_prefix(tmp_path, stages):
    _expect_rejected(tmp_path, [f"stages={stages}"], "config", "stages")


@pytest.mark.parametrize("name", sorted(FILE_CASES))
def test_bad_file_names_file_and_field(tmp_path, base_videos, name):
    overrides, source, field = FILE_CASES[name](tmp_path, base_videos)
    upstream = {"prepare"} if name.startswith("files_") else set()  # a valid scene is kept
    _expect_rejected(tmp_path, overrides, source, field, upstream)


def test_radius_inside_the_object(tmp_path):
    _expect_rejected(tmp_path, ["rig.radius=0.01"], "config", "rig.radius")


def test_accepted_edge_values(tmp_path):
    """Values at the edge of their range run."""
    cfg = job_config(tmp_path, "rig.margin=1", "generator.samples=0", "drags.num_frames=2")
    cfg.stages = ["prepare", "generate"]
    run_pipeline(cfg, Path(cfg.out_dir))
    assert (Path(cfg.out_dir) / "videos" / "view_00.mp4").is_file()


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable, "-m", "partdrag4d", "debug=tiny",
        f"paths.cache_dir={tmp_path / 'cache'}", f"hydra.run.dir={tmp_path / 'run'}", *args,
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["rig.width=0"], "config: rig.width: must be >= 16, got 0"),
        (["asset=urdf"], "asset.path"),
        (["drags.fps=0"], "config: drags.fps:"),
    ],
)
def test_cli_error_is_one_line_with_status_2(tmp_path, args, needle):
    res = _cli(tmp_path, *args, f"out_dir={tmp_path / 'out'}")
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and lines[0].startswith("partdrag4d: error:")
    assert "Traceback" not in res.stderr + res.stdout and not (tmp_path / "out").exists()
