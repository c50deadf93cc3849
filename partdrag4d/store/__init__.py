"""Artefact store: cache keys, manifests, atomic writes, and the on-disk formats.

The runner uses :class:`ArtefactStore`; exporters may use :func:`write_nerfstudio` and
:mod:`partdrag4d.store.video_io` directly.
"""

from partdrag4d.store.nerfstudio import read_nerfstudio_cameras, write_nerfstudio
from partdrag4d.store.serialize import KINDS, SerializeConfig, kind_of, load, save
from partdrag4d.store.store import (
    SCHEMA_VERSION,
    ArtefactStore,
    CacheMode,
    KeyLock,
    Manifest,
    StoreError,
    cache_key,
    peak_memory_mb,
)

__all__ = [
    "KINDS",
    "SCHEMA_VERSION",
    "ArtefactStore",
    "CacheMode",
    "KeyLock",
    "Manifest",
    "SerializeConfig",
    "StoreError",
    "cache_key",
    "kind_of",
    "load",
    "peak_memory_mb",
    "read_nerfstudio_cameras",
    "save",
    "write_nerfstudio",
]
