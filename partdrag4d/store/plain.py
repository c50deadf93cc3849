"""Plain payloads of the artefact formats: JSON values (configs, enums, numpy scalars),
``.npz`` arrays (dtype and values kept exactly) and the options of what optional
previews to write."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path, PurePath
from typing import Any

import numpy as np


@dataclass(frozen=True)
class SerializeConfig:
    """Which optional, human-facing payloads to write next to the canonical ones."""

    write_mp4: bool = True
    """Write an H.264 preview ``videos/view_XX.mp4`` per view of a ``VideoSet``."""
    write_nerfstudio: bool = True
    """Write a nerfstudio copy of a ``VideoSet`` under ``nerfstudio/``."""
    write_ply: bool = True
    """Write ``mesh.ply`` (rest mesh) for a ``SceneInput``."""
    write_contact_sheet: bool = True
    """Write ``contact_sheet.png`` (first and last frame of every view, drags drawn)."""


# --------------------------------------------------------------------------- JSON helpers


def to_jsonable(obj: Any, arrays: dict[str, np.ndarray] | None = None, _path: str = "") -> Any:
    """Convert configs/values to plain JSON types, deterministically.

    Mappings (incl. OmegaConf ``DictConfig``) become dicts with ``str`` keys, sequences
    lists, dataclasses dicts of their fields, enums their value, paths POSIX strings,
    numpy scalars Python scalars. Numpy arrays become nested lists, or, when ``arrays`` is
    given, are moved into it and replaced by ``{"__ndarray__": name}``.

    Raises:
        TypeError: for values with no JSON meaning (the path of the value is named).
    """
    if obj is None or isinstance(obj, bool | str):
        return obj
    if isinstance(obj, Enum):
        return to_jsonable(obj.value, arrays, _path)
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return float(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        if arrays is None:
            return obj.tolist()
        name = _path.strip(".") or f"array_{len(arrays)}"
        arrays[name] = obj
        return {"__ndarray__": name}
    if isinstance(obj, PurePath):
        return obj.as_posix()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        obj = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        out = {}
        for k, v in obj.items():
            key = str(to_jsonable(k)) if isinstance(k, Enum | int | str) else None
            if key is None:
                raise TypeError(f"{_path or '<root>'}: mapping key {k!r} is not a str/int/enum")
            out[key] = to_jsonable(v, arrays, f"{_path}.{key}")
        return out
    if isinstance(obj, Sequence) and not isinstance(obj, bytes):
        return [to_jsonable(v, arrays, f"{_path}.{i}") for i, v in enumerate(obj)]
    raise TypeError(f"{_path or '<root>'}: {type(obj).__name__} is not JSON-serialisable")


def from_jsonable(obj: Any, arrays: Mapping[str, np.ndarray]) -> Any:
    """Inverse of :func:`to_jsonable` for ``{"__ndarray__": name}`` references."""
    if isinstance(obj, dict):
        if set(obj) == {"__ndarray__"}:
            return arrays[obj["__ndarray__"]]
        return {k: from_jsonable(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [from_jsonable(v, arrays) for v in obj]
    return obj


def write_json(path: Path, doc: Any) -> None:
    path.write_text(json.dumps(doc, indent=1, sort_keys=False))


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def save_npz(path: Path, arrays: Mapping[str, np.ndarray], compressed: bool = False) -> None:
    # (pyright reads the names as possibly ``allow_pickle``; they are array names.)
    (np.savez_compressed if compressed else np.savez)(path, **arrays)  # pyright: ignore[reportArgumentType]


def load_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}
