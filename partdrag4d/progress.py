"""Progress bars that ``runtime.progress=false`` silences.

Every bar of the package goes through :func:`bar`, and the diffusion pipeline's bar is
configured from :func:`disabled`, so the setting holds everywhere. :func:`silenced`
switches bars off for the block it wraps (a context variable: no process-wide state is
changed, and a user's own ``TQDM_DISABLE=1`` is honoured as well).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from tqdm import tqdm

_SILENT: ContextVar[bool] = ContextVar("partdrag4d_progress_silent", default=False)


def disabled() -> bool | None:
    """True when progress is switched off; None lets tqdm decide (no bar without a TTY)."""
    if _SILENT.get() or os.environ.get("TQDM_DISABLE", "") not in ("", "0"):
        return True
    return None


def bar(*args, **kwargs) -> tqdm:
    """A tqdm bar (same arguments) that honours ``runtime.progress``."""
    kwargs.setdefault("disable", disabled())
    kwargs.setdefault("leave", False)
    return tqdm(*args, **kwargs)


@contextmanager
def silenced(silent: bool = True) -> Iterator[None]:
    """No progress bars inside the block when ``silent``."""
    token = _SILENT.set(True) if silent else None
    try:
        yield
    finally:
        if token is not None:
            _SILENT.reset(token)
