"""Split a rest-state :class:`SceneMesh` into per-part meshes in pivot frames.

Both exporters need, for every part, the faces labelled with that part, kept split by
the source primitive (so each piece has one material and its own uvs), with vertices
re-indexed to the ones the faces use and expressed in the part's pivot frame
(``v - o_p``: see :mod:`partdrag4d.export.kinematics`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float, Int

from partdrag4d.containers import Material, SceneMesh
from partdrag4d.render.rasterizer import vertex_normals as rasterizer_vertex_normals


@dataclass(frozen=True)
class PartPiece:
    """The faces of one part that come from one source primitive."""

    primitive_index: int
    """Index of the source primitive in ``SceneMesh.primitives``."""
    vertices: Float[np.ndarray, "N 3"]
    """Vertex positions in the part's pivot frame (metres)."""
    faces: Int[np.ndarray, "F 3"]
    """Triangles indexing ``vertices``."""
    normals: Float[np.ndarray, "N 3"]
    """Unit area-weighted vertex normals (``+z`` where a vertex has no area)."""
    uvs: Float[np.ndarray, "N 2"] | None
    """Texture coordinates (glTF convention, v=0 at the top) or None."""
    material: Material
    """The source primitive's material."""


def vertex_normals(
    vertices: Float[np.ndarray, "N 3"], faces: Int[np.ndarray, "F 3"]
) -> Float[np.ndarray, "N 3"]:
    """Area-weighted unit vertex normals; vertices without area get ``+z`` (glTF requires
    unit normals everywhere)."""
    normals = rasterizer_vertex_normals(vertices, faces)
    normals[np.linalg.norm(normals, axis=1) == 0] = (0.0, 0.0, 1.0)
    return normals


def split_by_part(
    mesh: SceneMesh, face_part: Int[np.ndarray, "F"], pivots: Float[np.ndarray, "P 3"]
) -> list[list[PartPiece]]:
    """Per part, the pieces of its faces grouped by source primitive.

    Args:
        mesh: rest-state mesh in the world frame.
        face_part: part index of every face of ``mesh`` (concatenated order).
        pivots: pivot point of every part (world frame at rest).

    Returns:
        ``pieces[p]`` for every part ``p``; empty when the part has no faces.

    Raises:
        ValueError: when ``face_part`` does not match the mesh's face count.
    """
    num_faces = sum(len(p.faces) for p in mesh.primitives)
    if len(face_part) != num_faces:
        raise ValueError(f"face_part has {len(face_part)} entries, mesh has {num_faces} faces")
    pieces: list[list[PartPiece]] = [[] for _ in range(len(pivots))]
    face_start = 0
    for prim_index, prim in enumerate(mesh.primitives):
        labels = face_part[face_start : face_start + len(prim.faces)]
        face_start += len(prim.faces)
        for p in np.unique(labels):
            faces = prim.faces[labels == p]
            used, new_faces = np.unique(faces, return_inverse=True)
            new_faces = new_faces.reshape(-1, 3).astype(np.int64)
            verts = np.asarray(prim.vertices[used], dtype=np.float64) - pivots[p]
            pieces[int(p)].append(
                PartPiece(
                    primitive_index=prim_index,
                    vertices=verts,
                    faces=new_faces,
                    normals=vertex_normals(verts, new_faces),
                    uvs=None if prim.uvs is None else np.asarray(prim.uvs[used]),
                    material=prim.material,
                )
            )
    return pieces
