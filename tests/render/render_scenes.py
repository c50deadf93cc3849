"""Small scenes shared by the render tests (built in code, no files)."""

from __future__ import annotations

import numpy as np
import trimesh

from partdrag4d.containers import Material, Primitive, SceneMesh

W = H = 64
# Off-centre principal point and unequal focal lengths so flips/transposes show up.
K = np.array([[90.0, 0.0, 30.0], [0.0, 100.0, 34.0], [0.0, 0.0, 1.0]])


def camera_at(distance: float) -> np.ndarray:
    """T_cam_world of a camera on the world -z axis looking along +z (OpenCV axes)."""
    T = np.eye(4)
    T[2, 3] = distance
    return T


def box_primitive(
    size: float = 1.0,
    centre: tuple[float, float, float] = (0.0, 0.0, 0.0),
    color: tuple[float, float, float] = (0.8, 0.2, 0.2),
) -> Primitive:
    box = trimesh.creation.box((size, size, size))
    verts = np.asarray(box.vertices, dtype=np.float64) + np.asarray(centre)
    mat = Material("box", np.array([*color, 1.0]))
    return Primitive(verts, np.asarray(box.faces, dtype=np.int64), mat)


def box_mesh(**kw) -> SceneMesh:
    return SceneMesh((box_primitive(**kw),))


def rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rotation matrix about a unit axis (Rodrigues)."""
    a = np.asarray(axis, dtype=np.float64)
    a = a / np.linalg.norm(a)
    Kx = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + np.sin(angle) * Kx + (1 - np.cos(angle)) * Kx @ Kx
