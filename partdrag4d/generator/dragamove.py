"""Read the Drag-a-Move test batches that Puppet-Master is scored on, safely.

The authors publish their 100-clip test set as ``DragAMove-test-batches/NNNNN.pkl``:
a plain pickle of a dict holding torch tensors (``latents``: the 14 frames' SVD VAE
latents, scaled by 0.18215; ``cond_latent``: the first frame's unscaled latent;
``embedding``: its CLIP image embedding; ``drags``: (14, K, 4) [start xy, current xy]
in [0, 1], empty slots zero), numpy scalars (``category``, ids) and an OrderedDict.

A pickle can run any code, so :class:`SafeUnpickler` resolves only the globals those
files need (tensor and storage rebuilding, numpy scalars and dtypes, ``OrderedDict``);
the storages inside are read with ``torch.load(weights_only=True)``. Anything else is
refused with the name of the global it asked for.
"""

from __future__ import annotations

import collections
import io
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

LATENT_SCALE = 0.18215
"""SVD's VAE scaling factor, applied to ``latents`` in the batches."""


def _load_storage(data: bytes):
    return torch.load(io.BytesIO(data), weights_only=True)


# (private names on purpose: they are what the pickles reference)
_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,  # pyright: ignore[reportAttributeAccessIssue]
    ("torch.storage", "_load_from_bytes"): _load_storage,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "scalar"): np._core.multiarray.scalar,  # pyright: ignore[reportAttributeAccessIssue]
    ("numpy._core.multiarray", "scalar"): np._core.multiarray.scalar,  # pyright: ignore[reportAttributeAccessIssue]
}


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that builds tensors, numpy scalars and OrderedDicts, nothing else."""

    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")


@dataclass(frozen=True)
class DragAMoveClip:
    """One test clip as the authors stored it."""

    latents: torch.Tensor
    """(T, 4, h, w) scaled VAE latents of the ground-truth frames."""
    cond_latent: torch.Tensor
    """(4, h, w) unscaled VAE latent of the first frame (the conditioning)."""
    embedding: torch.Tensor
    """(1, C) CLIP image embedding of the first frame."""
    drags: torch.Tensor
    """(T, K, 2) normalised trajectories (frame 0 = start), empty slots zero."""
    drag_mask: torch.Tensor
    """(K,) bool, which slots hold a drag."""
    name: str
    """File stem and category, e.g. ``00000 StorageFurniture``."""


def read_dragamove(path: str | Path) -> DragAMoveClip:
    """One ``.pkl`` test batch (the first clip when it holds a batch dimension).

    Raises:
        ValueError: the file is not a test batch or asks for other globals.
    """
    path = Path(path)
    try:
        with path.open("rb") as f:
            batch = SafeUnpickler(f).load()
    except (pickle.UnpicklingError, EOFError, RuntimeError) as exc:
        raise ValueError(f"{path}: not a Drag-a-Move test batch ({exc})") from exc
    missing = {"latents", "cond_latent", "embedding", "drags"} - set(batch)
    if missing:
        raise ValueError(f"{path}: missing {sorted(missing)}")
    latents, cond, emb, drags = (batch[k] for k in ("latents", "cond_latent", "embedding", "drags"))
    if latents.ndim == 5:  # a collated batch of one
        latents, cond, emb, drags = latents[0], cond[0], emb[0], drags[0]
    if drags.ndim != 3 or drags.shape[-1] != 4 or drags.shape[0] != latents.shape[0]:
        raise ValueError(f"{path}: drags of shape {tuple(drags.shape)}, expected (T, K, 4)")
    mask = drags.abs().sum(dim=(0, 2)) > 0
    category = batch.get("category", "")
    category = category[0] if isinstance(category, list | tuple) and category else category
    return DragAMoveClip(
        latents=latents.float(),
        cond_latent=cond.float(),
        embedding=emb.float().reshape(1, -1),
        drags=(drags[..., 2:] * mask[None, :, None]).float(),
        drag_mask=mask,
        name=f"{path.stem} {category}".strip(),
    )


def read_dragamove_dir(root: str | Path, limit: int | None = None) -> list[DragAMoveClip]:
    """The sorted ``*.pkl`` batches of a folder (at most ``limit``)."""
    files = sorted(Path(root).glob("*.pkl"))[:limit]
    if not files:
        raise ValueError(f"{root}: no .pkl test batches")
    return [read_dragamove(f) for f in files]
