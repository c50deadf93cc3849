"""User-facing errors: one line that names the file and the field that is wrong."""

from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """Bad user input. The app prints ``str(err)`` on one line and exits with status 2.

    Args:
        source: the file (or config key) the problem is in.
        field: the element/attribute/key inside it, e.g. ``joint[door_hinge].axis``.
        message: what is wrong, in a few words.
    """

    def __init__(self, source: str | Path, field: str, message: str):
        self.source = str(source)
        self.field = field
        self.message = message
        super().__init__(f"{self.source}: {field}: {message}")
