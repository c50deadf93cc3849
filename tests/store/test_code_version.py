"""The cache follows the code: editing a stage's source recomputes that stage only."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from partdrag4d.store.code_version import module_closure, source_hash

REPO = Path(__file__).resolve().parents[2]


def test_closure_follows_imports_but_not_the_schemas():
    closure = module_closure("partdrag4d.reconstruct.articulate")
    assert "partdrag4d.reconstruct.model_fit" in closure  # imported by articulate
    assert "partdrag4d.geometry.se3" in closure  # imported by what it imports
    assert "partdrag4d.config" not in closure and "partdrag4d.generator.unet" not in closure
    assert source_hash(("partdrag4d.reconstruct.track",)) != source_hash(
        ("partdrag4d.reconstruct.articulate",)
    )


def _run(code_root: Path, tmp_path: Path, out: str) -> list[str]:
    cmd = [
        sys.executable, "-m", "partdrag4d", "debug=tiny",
        "stages=[prepare,generate,track]",
        f"paths.cache_dir={tmp_path / 'cache'}",
        f"hydra.run.dir={tmp_path / out}",
        f"out_dir={tmp_path / out / 'out'}",
    ]  # fmt: skip
    env = {"PYTHONPATH": str(code_root), "PATH": "/usr/bin:/bin"}
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=code_root, env=env)
    assert res.returncode == 0, res.stderr
    status = json.loads((tmp_path / out / "status.json").read_text())
    return status["executed"]


@pytest.mark.slow
def test_an_upgrade_recomputes_what_changed(tmp_path):
    code = tmp_path / "code"
    shutil.copytree(REPO / "partdrag4d", code / "partdrag4d")
    assert _run(code, tmp_path, "a") == ["prepare", "generate", "track"]
    assert _run(code, tmp_path, "b") == []
    track = code / "partdrag4d" / "reconstruct" / "track.py"
    track.write_text(track.read_text() + "\n# a new release of the tracker\n")
    assert _run(code, tmp_path, "c") == ["track"]  # prepare and generate are reused
