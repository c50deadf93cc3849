"""Replacing a file or folder by a finished one with renames (the one swap every writer
of the package uses: the artefact store, the run folder, the export bundle)."""

from __future__ import annotations

import os
from pathlib import Path


def swap_in(new: Path, target: Path, aside: Path) -> bool:
    """Put ``new`` (a file or folder) at ``target``.

    An existing ``target`` is first renamed to ``aside`` (which must not exist, on the
    same file system); the caller deletes it once the swap is done. Between the two
    renames ``target`` is briefly absent, never half written.

    Returns:
        Whether an old ``target`` was moved to ``aside``.
    """
    moved = os.path.lexists(target)
    if moved:
        os.replace(target, aside)
    os.replace(new, target)
    return moved
