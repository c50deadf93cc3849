"""Let PyPI's torchvision import beside the CPU build of torch.

The torchvision wheel that pip resolves for ``torch==2.13.0`` is built against a CUDA
torch; its compiled operators do not load next to the CPU build, and its import then
fails on ``torch.library.register_fake("torchvision::nms")`` ("operator torchvision::nms
does not exist"). nerfstudio imports torchvision but never calls those operators. When
the compiled library does not load, this hook declares the two missing schemas, just
before torchvision's first import (the ``.pth`` file next to it installs the hook).
"""

from __future__ import annotations

import importlib.machinery
import sys
from pathlib import Path

_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor qdets, Tensor scores, float iou_threshold) -> Tensor",
)
_library = None  # keeps the schema fragment registered


class _DeclareTorchvisionOps:
    """A meta-path hook that acts once, on ``import torchvision``, and then leaves."""

    def find_spec(self, name, path=None, target=None):
        if name != "torchvision":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.origin:
            declare_missing_ops(Path(spec.origin).parent)
        return None  # the normal finders import torchvision


def declare_missing_ops(package_dir: Path) -> bool:
    """Declare the schemas when ``package_dir/_C*.so`` does not load; return whether."""
    global _library
    import torch

    for lib in package_dir.glob("_C*.so"):
        try:
            torch.ops.load_library(str(lib))
            return False  # a matching build: it defines the operators itself
        except (OSError, RuntimeError):
            break
    _library = torch.library.Library("torchvision", "FRAGMENT")
    for schema in _SCHEMAS:
        _library.define(schema)
    return True


def install() -> None:
    """Put the hook in front of the import system (idempotent)."""
    if not any(isinstance(f, _DeclareTorchvisionOps) for f in sys.meta_path):
        sys.meta_path.insert(0, _DeclareTorchvisionOps())
