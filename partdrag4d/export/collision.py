"""Collision geometry for simulators: each part as a set of convex pieces.

Physics engines collide convex shapes; given one concave mesh, pybullet (and most
others) silently uses its convex hull, which closes every cabinet opening and drawer
tray. So each part is cut into convex pieces first:

1. the part's triangles are welded by position and split into connected components
   (objects modelled from panels, like most furniture, fall apart into boxes here);
2. a closed component that fills most of its convex hull is that hull;
3. a flat component (a single panel modelled as one surface) is its hull thickened by
   a small fraction of the part's size, so that it has a volume;
4. any other component, or a part of more components than a simulator wants, goes
   through V-HACD (voxel-based approximate convex decomposition, ``vhacdx``), with a
   bounded number of hulls and voxels, so no input can make it run without bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, cast

import numpy as np
import trimesh
from jaxtyping import Float, Int
from trimesh.decomposition import convex_decomposition

from partdrag4d.config_checks import FRACTION, Range


@dataclass
class CollisionConfig:
    """How part meshes become collision shapes."""

    CHECKS: ClassVar[dict] = {
        "hull_fill": FRACTION,
        "max_hulls": Range(1, 256),
        "max_components": Range(1, 4096),
        "resolution": Range(10_000, 10_000_000),
        "flat_thickness": Range(0.0, 0.1, lo_open=True),
    }

    hull_fill: float = 0.9
    """A closed component whose volume is at least this fraction of its convex hull's
    volume is collided as that hull (1.0 only takes exact convex shapes)."""
    max_hulls: int = 16
    """Most convex pieces V-HACD may cut one component (or a whole part) into."""
    max_components: int = 64
    """A part with more connected components than this is decomposed as a whole."""
    resolution: int = 100_000
    """V-HACD voxel count (more: finer pieces, slower; ~1 s at 1e5 on 2 cores)."""
    flat_thickness: float = 0.005
    """Thickness given to a flat component, as a fraction of the part's bbox diagonal."""


Hull = tuple[np.ndarray, np.ndarray]
"""A convex mesh: vertices (V, 3) and outward triangles (T, 3)."""


def _hull(points: np.ndarray) -> Hull:
    hull = trimesh.convex.convex_hull(points)
    return np.asarray(hull.vertices, np.float64), np.asarray(hull.faces, np.int64)


def _thickened_hull(points: np.ndarray, thickness: float) -> Hull:
    """The hull of a (nearly) flat point set, offset by ``± thickness / 2`` along its
    normal (its direction of least extent)."""
    centred = points - points.mean(0)
    normal = np.linalg.svd(centred, full_matrices=False)[2][-1]
    offset = 0.5 * thickness * normal
    return _hull(np.concatenate([points + offset, points - offset]))


def _is_flat(points: np.ndarray, thickness: float) -> bool:
    """Whether the points' rms distance from their best plane is under a tenth of
    ``thickness`` (a hull would have next to no volume)."""
    if len(points) < 4:
        return True
    smallest = np.linalg.svd(points - points.mean(0), compute_uv=False)[-1]
    return bool(smallest / np.sqrt(len(points)) <= 0.1 * thickness)


def _vhacd(mesh: trimesh.Trimesh, cfg: CollisionConfig) -> list[Hull]:
    """V-HACD through trimesh's wrapper of ``vhacdx`` (which needs its own face layout)."""
    pieces = convex_decomposition(mesh, maxConvexHulls=cfg.max_hulls, resolution=cfg.resolution)
    return [_hull(np.asarray(p["vertices"], np.float64)) for p in pieces if len(p["vertices"]) >= 4]


def _simple_hull(component: trimesh.Trimesh, cfg: CollisionConfig, thickness: float):
    """The component's one convex piece when it is flat or nearly convex, else None."""
    points = np.asarray(component.vertices, np.float64)
    if _is_flat(points, thickness):
        return _thickened_hull(points, thickness)
    hull = component.convex_hull
    if component.is_watertight and abs(component.volume) >= cfg.hull_fill * hull.volume > 0:
        return np.asarray(hull.vertices, np.float64), np.asarray(hull.faces, np.int64)
    return None


def convex_pieces(
    vertices: Float[np.ndarray, "N 3"], faces: Int[np.ndarray, "F 3"], cfg: CollisionConfig
) -> list[Hull]:
    """Convex pieces covering the surface ``(vertices, faces)`` of one part.

    Components that are not one convex piece are decomposed together by one V-HACD call,
    so a part costs at most one decomposition (about a second at the default settings).

    Args:
        vertices: the part's vertices (any frame; the pieces are in the same frame).
        faces: its triangles.
        cfg: decomposition options.

    Returns:
        A list of convex meshes ``(vertices, faces)``, outward-facing; empty when the
        part has no triangles.
    """
    if len(faces) == 0:
        return []
    welded = trimesh.Trimesh(np.asarray(vertices, np.float64), np.asarray(faces), process=True)
    thickness = cfg.flat_thickness * float(np.linalg.norm(np.ptp(welded.vertices, axis=0)))
    components = welded.split(only_watertight=False)
    if len(components) > cfg.max_components:
        return _vhacd(welded, cfg) or [_hull(welded.vertices)]
    hulls, concave = [], []
    for component in components:
        hull = _simple_hull(component, cfg, thickness)
        if hull is None:
            concave.append(component)
        else:
            hulls.append(hull)
    if concave:
        rest = cast(trimesh.Trimesh, trimesh.util.concatenate(concave))
        hulls += _vhacd(rest, cfg) or [_hull(rest.vertices)]
    return hulls


def write_hull_obj(hull: Hull, path) -> None:
    """One convex piece as a plain OBJ (positions and triangles)."""
    vertices, faces = hull
    lines = [f"v {x:.9g} {y:.9g} {z:.9g}" for x, y, z in vertices]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in faces]
    path.write_text("\n".join(lines) + "\n")
