"""Fixtures of the export tests: the hand-built cases and the glTF validator."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from export_cases import CASES, static_case


@pytest.fixture(params=sorted(CASES))
def articulated_case(request):
    """(name, mesh, articulation) for each moving case."""
    mesh, art = CASES[request.param]()
    return request.param, mesh, art


@pytest.fixture
def static():
    return static_case()


REPO = Path(__file__).resolve().parents[2]
VALIDATOR_SCRIPT = REPO / "tools/validators/validate_gltf.mjs"
VALIDATOR_PACKAGE = REPO / "tools/validators/node_modules/gltf-validator"


@pytest.fixture
def validate_gltf():
    """A function running the Khronos glTF validator on a file and returning its report;
    skips the test when node or the npm package is missing."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed (needed for the Khronos glTF validator)")
    if not VALIDATOR_PACKAGE.exists():
        pytest.skip("gltf-validator missing: run `npm install --prefix tools/validators`")

    def run(path) -> dict:
        proc = subprocess.run(
            ["node", str(VALIDATOR_SCRIPT), str(path)], capture_output=True, text=True, timeout=120
        )
        assert proc.returncode in (0, 1), proc.stderr
        return json.loads(proc.stdout)

    return run
