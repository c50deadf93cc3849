"""Progress bars that ``runtime.progress=false`` silences (it sets ``TQDM_DISABLE``).

tqdm reads ``TQDM_DISABLE`` only when a bar is not given ``disable`` explicitly; every
bar of the package goes through :func:`bar` so the setting holds everywhere.
"""

from __future__ import annotations

import os

from tqdm import tqdm


def disabled() -> bool | None:
    """True when progress is switched off; None lets tqdm decide (no bar without a TTY)."""
    return True if os.environ.get("TQDM_DISABLE", "") not in ("", "0") else None


def bar(*args, **kwargs) -> tqdm:
    """A tqdm bar (same arguments) that honours ``runtime.progress``."""
    kwargs.setdefault("disable", disabled())
    kwargs.setdefault("leave", False)
    return tqdm(*args, **kwargs)
