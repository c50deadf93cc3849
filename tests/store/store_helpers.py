"""Helpers for the store tests: random containers and a recursive exact-equality check."""

from __future__ import annotations

import dataclasses
from enum import Enum

import numpy as np

from partdrag4d.containers import (
    CameraRig,
    Material,
    Primitive,
)


def assert_same(a, b, where="obj"):
    """Exact equality of containers: same types, dtypes, shapes and values (NaN == NaN)."""
    assert type(a) is type(b), f"{where}: {type(a)} != {type(b)}"
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype, f"{where}: dtype {a.dtype} != {b.dtype}"
        assert a.shape == b.shape, f"{where}: shape {a.shape} != {b.shape}"
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), f"{where}: values differ"
    elif dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            assert_same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), f"{where}: len {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), f"{where}: keys {a.keys()} != {b.keys()}"
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, Enum):
        assert a is b, f"{where}: {a} != {b}"
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b), where
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def look_at(eye, target=(0.0, 0.0, 0.0), up=(0.0, 0.0, 1.0)):
    """OpenCV T_cam_world of a camera at ``eye`` looking at ``target``."""
    eye, target, up = (np.asarray(x, dtype=np.float64) for x in (eye, target, up))
    z = target - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, up)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = -R @ eye
    return T


def make_cameras(rng, num_views=2, width=11, height=9, shared_K=True):
    K = np.tile(np.array([[20.0, 0, 5.5], [0, 21.0, 4.5], [0, 0, 1]]), (num_views, 1, 1))
    if not shared_K:
        K[:, 0, 0] += np.arange(num_views)
    eyes = rng.normal(size=(num_views, 3)) * 0.3 + [2.0, 0.5, 1.0]
    T = np.stack([look_at(eye) for eye in eyes])
    return CameraRig(K=K, T_cam_world=T, width=width, height=height)


def make_primitive(rng, n, f, textured, name):
    tex = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8) if textured else None
    return Primitive(
        vertices=rng.normal(size=(n, 3)).astype(np.float32),
        faces=rng.integers(0, n, (f, 3)).astype(np.int32),
        material=Material(name, rng.uniform(size=4), tex),
        uvs=rng.uniform(size=(n, 2)) if textured else None,
    )
