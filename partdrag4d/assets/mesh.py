"""Static mesh loading: GLB/GLTF, OBJ(+MTL, ``map_Kd`` textures), PLY, STL, DAE -> SceneMesh.

Owns the conversion of trimesh geometry into :class:`~partdrag4d.containers.Primitive`
objects, which :mod:`partdrag4d.assets.urdf` reuses for link visuals.

Conventions:
- One primitive per (geometry, material) of the file; scene-graph node transforms of
  GLB/GLTF/DAE files are applied, so vertices are in the file's root frame, in file units.
  glTF files are returned in the file's own +Y-up frame (no axis conversion).
- UVs follow glTF: ``v = 0`` at the *top* of the texture image. trimesh stores OBJ-style UVs
  (``v = 0`` at the bottom) for every format, so ``v_gltf = 1 - v_trimesh``.
- Textures are uint8 (H, W, 3) sRGB with row 0 at the top; alpha is dropped.
- ``base_color`` is the material's diffuse/base colour factor / 255 as trimesh reports it
  (MTL ``Kd``, glTF ``baseColorFactor``); no colour-space conversion is applied. Per-vertex
  or per-face colours (PLY) become their mean as ``base_color``.
- A primitive without a texture image or without UVs gets ``uvs=None`` and ``texture=None``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh
from jaxtyping import Float
from trimesh.resolvers import FilePathResolver
from trimesh.visual import ColorVisuals, TextureVisuals
from trimesh.visual.material import PBRMaterial, SimpleMaterial

from partdrag4d.containers import Material, Primitive, SceneMesh
from partdrag4d.errors import InputError

MESH_SUFFIXES: tuple[str, ...] = (".glb", ".gltf", ".obj", ".ply", ".stl", ".dae", ".off")
"""File suffixes ``load_mesh`` / ``read_primitives`` accept (case-insensitive)."""

DEFAULT_COLOR: tuple[float, float, float, float] = (0.7, 0.7, 0.7, 1.0)
"""Base colour of geometry whose file carries no material."""


@dataclass(frozen=True)
class LoadedPrimitive:
    """A primitive read from a mesh file, plus whether the file defined its appearance."""

    primitive: Primitive
    """The primitive (vertices in the file's root frame)."""
    has_file_material: bool
    """True when the file had a material/colours for it (OBJ MTL, glTF material, colours)."""


class _BoundedResolver(FilePathResolver):
    """Resolves files referenced by a mesh (MTL, textures, glTF buffers) relative to the
    mesh's folder, allowing ``..`` as long as the result stays inside ``bound``.

    PartNet-Mobility MTL files reference ``../images/*.png``, which trimesh's default
    resolver refuses; the bound keeps a malicious file from reading outside the asset.
    """

    def __init__(self, source: str, bound: Path):
        super().__init__(source)
        self.bound = Path(bound).resolve()

    def absolute(self, name: str) -> Path:
        path = (Path(self.parent).resolve() / name.strip()).resolve()
        if not path.is_relative_to(self.bound):
            raise ValueError(f"{name!r} escapes the asset folder {self.bound}")
        return path

    def namespaced(self, namespace: str) -> _BoundedResolver:
        return _BoundedResolver(str(Path(self.parent) / namespace), self.bound)


def _to_rgb_uint8(image: object) -> np.ndarray:
    """PIL image (any mode) -> contiguous uint8 (H, W, 3), row 0 at the top."""
    arr = np.asarray(image.convert("RGB"), dtype=np.uint8)  # type: ignore[attr-defined]
    return np.ascontiguousarray(arr)


def _rgba01(color: object) -> np.ndarray:
    """A trimesh colour (uint8 or float, RGB or RGBA) -> float64 RGBA in [0, 1]."""
    c = np.asarray(color, dtype=np.float64).reshape(-1)
    if c.size == 3:
        c = np.append(c, 255.0 if c.max() > 1.0 else 1.0)
    if c.max() > 1.0 or np.asarray(color).dtype == np.uint8:
        c = c / 255.0
    return np.clip(c[:4], 0.0, 1.0)


def _appearance(geom: trimesh.Trimesh, name: str) -> tuple[Material, np.ndarray | None, bool]:
    """Material, glTF-convention UVs (or None) and whether the file defined the appearance."""
    visual = geom.visual
    if isinstance(visual, TextureVisuals):
        mat = visual.material
        mat_name = str(getattr(mat, "name", None) or name)
        image = None
        if isinstance(mat, PBRMaterial):
            image = mat.baseColorTexture
            factor = mat.baseColorFactor
            color = _rgba01(factor) if factor is not None else np.array(DEFAULT_COLOR)
        elif isinstance(mat, SimpleMaterial):
            image = mat.image
            color = _rgba01(mat.diffuse)
        else:
            color = _rgba01(mat.main_color) if mat is not None else np.array(DEFAULT_COLOR)
        uv = visual.uv
        if image is not None and uv is not None and len(uv) == len(geom.vertices):
            uvs = np.asarray(uv, dtype=np.float64)[:, :2].copy()
            uvs[:, 1] = 1.0 - uvs[:, 1]
            texture = _to_rgb_uint8(image)
            return Material(mat_name, color, texture), uvs, True
        return Material(mat_name, color, None), None, mat is not None
    if isinstance(visual, ColorVisuals) and visual.defined:
        kind = visual.kind
        colors = visual.vertex_colors if kind == "vertex" else visual.face_colors
        color = _rgba01(np.asarray(colors, dtype=np.float64).mean(axis=0))
        return Material(name, color, None), None, True
    return Material(name, np.array(DEFAULT_COLOR, dtype=np.float64), None), None, False


def _check_geometry(vertices: np.ndarray, faces: np.ndarray, source: Path, field: str) -> None:
    if len(faces) == 0 or len(vertices) == 0:
        raise InputError(source, field, "empty geometry (no triangles)")
    if not np.isfinite(vertices).all():
        raise InputError(source, field, "non-finite vertex coordinates")
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise InputError(source, field, "face index out of range")


def geometry_to_primitive(
    geom: trimesh.Trimesh,
    T: Float[np.ndarray, "4 4"],
    name: str,
    source: Path,
    field: str,
) -> LoadedPrimitive:
    """Convert one trimesh geometry placed by ``T`` into a primitive (validated).

    Args:
        geom: triangle mesh with its visual.
        T: transform applied to the vertices (node transform, URDF visual origin, scale).
        name: fallback material name.
        source: file reported in errors.
        field: field reported in errors.

    Returns:
        The primitive; face winding is flipped when ``T`` mirrors, to keep it outward.
    """
    vertices = np.asarray(geom.vertices, dtype=np.float64)
    faces = np.asarray(geom.faces, dtype=np.int64).reshape(-1, 3)
    _check_geometry(vertices, faces, source, field)
    vertices = vertices @ T[:3, :3].T + T[:3, 3]
    if np.linalg.det(T[:3, :3]) < 0:
        faces = faces[:, ::-1].copy()
    if not np.isfinite(vertices).all():
        raise InputError(source, field, "non-finite vertex coordinates after transform")
    material, uvs, has_mat = _appearance(geom, name)
    if uvs is not None and not np.isfinite(uvs).all():
        raise InputError(source, field, "non-finite texture coordinates")
    return LoadedPrimitive(Primitive(vertices, faces, material, uvs), has_mat)


def read_primitives(
    path: Path,
    source: Path | None = None,
    field: str = "mesh",
    asset_root: Path | None = None,
) -> list[LoadedPrimitive]:
    """Read every triangle primitive of a mesh file, scene transforms applied.

    Args:
        path: mesh file (suffix in :data:`MESH_SUFFIXES`).
        source: file named in errors (default: ``path``); a URDF passes itself here.
        field: field named in errors.
        asset_root: files the mesh references (MTL, textures, buffers) must lie inside this
            folder (default: the mesh's folder); ``..`` is allowed within it.

    Returns:
        Primitives in the file's scene order (one per geometry and material).

    Raises:
        InputError: missing, unsupported or unreadable file, or empty / non-finite geometry.
    """
    path = Path(path)
    source = path if source is None else source
    if not path.is_file():
        raise InputError(source, field, f"mesh file not found: {path}")
    if path.suffix.lower() not in MESH_SUFFIXES:
        raise InputError(source, field, f"unsupported mesh format {path.suffix!r} ({path.name})")
    try:
        root = path.parent if asset_root is None else Path(asset_root)
        resolver = _BoundedResolver(str(path), root)
        scene = trimesh.load_scene(str(path), process=False, resolver=resolver)
    except Exception as err:  # trimesh raises many exception types for bad files
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise InputError(source, field, f"cannot read {path.name}: {msg}") from err
    out: list[LoadedPrimitive] = []
    for node in scene.graph.nodes_geometry:
        T, geom_name = scene.graph[node]
        geom = scene.geometry[geom_name]
        if not isinstance(geom, trimesh.Trimesh):
            continue  # point clouds / paths carry no surface
        if len(geom.faces) == 0:
            continue  # checked for the whole file below
        prim = geometry_to_primitive(
            geom, np.asarray(T, dtype=np.float64), str(geom_name), source, field
        )
        out.append(prim)
    if not out:
        raise InputError(source, field, f"empty geometry: no triangles in {path.name}")
    return out


def load_mesh(path: str | Path) -> SceneMesh:
    """Load a static mesh file as a :class:`SceneMesh` (see the module conventions).

    Args:
        path: GLB/GLTF, OBJ (with MTL and textures), PLY, STL, DAE or OFF file.

    Returns:
        The mesh, one primitive per geometry and material, in the file's frame and units.

    Raises:
        InputError: missing/unreadable file, empty geometry or non-finite vertices.
    """
    prims = read_primitives(Path(path))
    return SceneMesh(tuple(p.primitive for p in prims))
