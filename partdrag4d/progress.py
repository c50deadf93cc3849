"""Progress bars that ``runtime.progress=false`` silences.

tqdm reads ``TQDM_DISABLE`` only when a bar is not given ``disable`` explicitly; every
bar of the package goes through :func:`bar` so the setting holds everywhere, and
:func:`silenced` sets the variable for one run only (third-party bars read it too).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from tqdm import tqdm


def disabled() -> bool | None:
    """True when progress is switched off; None lets tqdm decide (no bar without a TTY)."""
    return True if os.environ.get("TQDM_DISABLE", "") not in ("", "0") else None


def bar(*args, **kwargs) -> tqdm:
    """A tqdm bar (same arguments) that honours ``runtime.progress``."""
    kwargs.setdefault("disable", disabled())
    kwargs.setdefault("leave", False)
    return tqdm(*args, **kwargs)


@contextmanager
def silenced(silent: bool = True) -> Iterator[None]:
    """No progress bars inside the block when ``silent``; the environment is restored
    on exit."""
    if not silent:
        yield
        return
    before = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = before
