"""Fixtures of the viewer tests: run folders of the export cases and a free port."""

from __future__ import annotations

import socket

import pytest
from run_folders import CASE_NAMES, write_run_folder


@pytest.fixture(params=CASE_NAMES)
def run_case(request, tmp_path):
    """(case name, run folder, mesh, articulation) for one joint, a drawer, a nested
    chain and a static result."""
    root = tmp_path / "run"
    mesh, art = write_run_folder(request.param, root)
    return request.param, root, mesh, art


@pytest.fixture
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
