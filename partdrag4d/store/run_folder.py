"""Writing the run folder (``out_dir``) as one transaction, and checking it can be written.

The results of a run (videos, export, report, metrics, the artefact index) are first
assembled in a hidden sibling folder, ``.<name>.staging-<pid>-<id>``, together with
hard links to whatever else the old folder held (Hydra's ``.hydra/`` and log, the
user's own files). Then two renames swap it in: the old folder goes aside, the new one
takes its name, the old one is deleted. A failure or a kill therefore leaves the
previous complete folder, or (between the two renames) no folder, never a mix of two
runs; leftovers of killed runs are removed by the next run writing there.
"""

from __future__ import annotations

import errno
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from partdrag4d.atomic import swap_in
from partdrag4d.errors import InputError

OWNED = (
    "videos",
    "contact_sheet.png",
    "metrics.json",
    "export",
    "report",
    "report.html",
    "artefacts.json",
)
"""What a run writes into its folder; the rest of an existing folder is kept."""


def link_or_copy(src: str | Path, dst: str | Path) -> None:
    """Hard-link a file (both folders share the bytes), copy across devices."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def place(src: Path, dst: Path, link: bool = False) -> None:
    """Copy (or hard-link) the file or folder ``src`` to ``dst`` (created)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dst, copy_function=link_or_copy if link else shutil.copy2)
    elif link:
        link_or_copy(src, dst)
    else:
        shutil.copy2(src, dst)


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (leftovers of dead ones may be removed)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_leftovers(out_dir: Path) -> None:
    """Remove the staging/old siblings of ``out_dir`` left by runs that were killed."""
    parent = out_dir.parent
    if not parent.is_dir():
        return
    for entry in parent.glob(f".{out_dir.name}.*-*-*"):
        kind, _, rest = entry.name[len(out_dir.name) + 2 :].partition("-")
        pid = rest.split("-", 1)[0]
        if kind in {"staging", "old"} and pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(entry, ignore_errors=True)


def write_run_folder(out_dir: Path, fill: Callable[[Path], None]) -> None:
    """Build the run folder with ``fill(staging)`` and swap it in as a whole.

    Args:
        out_dir: the run folder (created when missing).
        fill: writes this run's results (only names in :data:`OWNED`) into the folder
            it is given.
    """
    out_dir = out_dir.absolute()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    clean_leftovers(out_dir)
    token = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    staging = out_dir.parent / f".{out_dir.name}.staging-{token}"
    old = out_dir.parent / f".{out_dir.name}.old-{token}"
    staging.mkdir()
    try:
        fill(staging)
        if out_dir.is_dir():
            for entry in out_dir.iterdir():
                if entry.name not in OWNED and not (staging / entry.name).exists():
                    place(entry, staging / entry.name, link=True)
        swap_in(staging, out_dir, old)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def check_writable(
    path: Path, key: str, need_bytes: int = 0, *, swapped: bool = False, hint: str = ""
) -> None:
    """``path`` is (or can be made) a writable folder with ``need_bytes`` free. Nothing
    is created: the probe file goes into the nearest folder that exists.

    Args:
        path: the folder.
        key: the config key it comes from (named by the error).
        need_bytes: free space the run needs there.
        swapped: the folder is replaced through a sibling (:func:`write_run_folder`), so
            its parent must take new folders too.
        hint: appended to the not-writable error (what to do instead).

    Raises:
        InputError: naming ``key``.
    """
    path = path.absolute()
    if path.exists() and not path.is_dir():
        raise InputError("config", key, f"{path} is a file, not a folder")
    existing = path
    while not existing.exists():  # probe the nearest folder that exists: create nothing
        existing = existing.parent
    try:
        probe = existing / f".partdrag4d-probe-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        probe.write_bytes(b"0" * 4096)
        probe.unlink()
        if swapped and path.exists():
            sibling = path.parent / f".{path.name}.probe-{uuid.uuid4().hex[:6]}"
            sibling.mkdir()
            sibling.rmdir()
    except OSError as err:
        reason = "no space left" if err.errno == errno.ENOSPC else err.strerror or str(err)
        tail = f"; {hint}" if hint else ""
        raise InputError("config", key, f"{path} is not writable ({reason}){tail}") from None
    free = shutil.disk_usage(existing).free
    if free < need_bytes:
        raise InputError(
            "config",
            key,
            f"{free / 2**20:.0f} MB free on {path}'s file system; "
            f"this run needs about {need_bytes / 2**20:.0f} MB",
        )
