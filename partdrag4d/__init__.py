"""partdrag4d: drag a static 3D object into an articulated, animated one.

``partdrag4d.run([...overrides], out_dir=...)`` runs the pipeline,
``partdrag4d.load_run(out_dir)`` reads a run folder back (see :mod:`partdrag4d.api`).
"""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("partdrag4d")
except _metadata.PackageNotFoundError:  # an uninstalled checkout
    __version__ = "0+unknown"


def run(overrides=(), out_dir=None):
    """Run the pipeline (:func:`partdrag4d.api.run`)."""
    from partdrag4d.api import run as _run

    return _run(overrides, out_dir)


def load_run(out_dir):
    """Read a run folder back (:func:`partdrag4d.api.load_run`)."""
    from partdrag4d.api import load_run as _load_run

    return _load_run(out_dir)


__all__ = ["__version__", "load_run", "run"]
