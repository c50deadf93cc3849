"""The rest-state geometry: materials, primitives and the world-frame scene mesh."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float, Int, UInt8


@dataclass(frozen=True)
class Material:
    """Surface appearance of one mesh primitive."""

    name: str
    """Material name (from MTL/URDF/glTF, or generated)."""
    base_color: Float[np.ndarray, "4"]
    """Linear RGBA in [0, 1]; multiplies the texture when there is one."""
    texture: UInt8[np.ndarray, "th tw 3"] | None = None
    """sRGB texture image, row 0 at the top (image convention), or None."""


@dataclass(frozen=True)
class Primitive:
    """A triangle mesh with a single material."""

    vertices: Float[np.ndarray, "N 3"]
    """Vertex positions (frame given by the owner: link frame or world)."""
    faces: Int[np.ndarray, "F 3"]
    """Triangle vertex indices, counter-clockwise seen from outside."""
    material: Material
    """Appearance."""
    uvs: Float[np.ndarray, "N 2"] | None = None
    """Texture coordinates (glTF convention: v=0 at the top of the image), or None."""


@dataclass(frozen=True)
class SceneMesh:
    """The rest-state object in the world frame: a list of primitives.

    Concatenated views (``vertices``, ``faces``) index vertices in primitive order, which
    is the vertex order every per-vertex label in the project refers to.
    """

    primitives: tuple[Primitive, ...]
    """Primitives with vertices in the world frame at the rest state."""

    @property
    def num_vertices(self) -> int:
        return sum(len(p.vertices) for p in self.primitives)

    @property
    def vertices(self) -> Float[np.ndarray, "N 3"]:
        return np.concatenate([p.vertices for p in self.primitives], axis=0)

    @property
    def faces(self) -> Int[np.ndarray, "F 3"]:
        out, offset = [], 0
        for p in self.primitives:
            out.append(p.faces + offset)
            offset += len(p.vertices)
        return np.concatenate(out, axis=0)

    @property
    def vertex_offsets(self) -> Int[np.ndarray, "n_prim_plus_1"]:
        """Start index of each primitive's vertices in the concatenated array (+ total)."""
        return np.cumsum([0] + [len(p.vertices) for p in self.primitives])

    def bounds(self) -> Float[np.ndarray, "2 3"]:
        v = self.vertices
        return np.stack([v.min(0), v.max(0)])

    def bbox_diagonal(self) -> float:
        lo, hi = self.bounds()
        return float(np.linalg.norm(hi - lo))

    def with_vertices(self, vertices: Float[np.ndarray, "N 3"]) -> SceneMesh:
        """Same topology and materials, new (concatenated) vertex positions."""
        offs = self.vertex_offsets
        prims = tuple(
            Primitive(vertices[offs[i] : offs[i + 1]], p.faces, p.material, p.uvs)
            for i, p in enumerate(self.primitives)
        )
        return SceneMesh(prims)
