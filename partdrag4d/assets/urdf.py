"""URDF loading (PartNet-Mobility layout) into an :class:`~partdrag4d.containers.ArticulatedAsset`.

What is read:
- ``<link>``: every ``<visual>`` (``<collision>`` and ``<inertial>`` are ignored). Geometry is
  ``<mesh filename scale>`` (OBJ+MTL with ``map_Kd`` textures, STL, DAE, GLB/GLTF, PLY) or a
  ``<box>``/``<cylinder>``/``<sphere>``. The visual ``<origin xyz rpy>`` and mesh ``scale``
  are applied, so :attr:`Link.visuals` vertices are in the link frame. A multi-material
  mesh file becomes one primitive per material. UVs are converted to glTF convention
  (``v_gltf = 1 - v_obj``; see :mod:`partdrag4d.assets.mesh`).
- ``<material>`` (top-level, referenced by name, or inline) gives ``rgba`` colour and
  optionally a texture for geometry whose file has no material of its own; a mesh file's
  own materials (MTL, glTF) take precedence, as in most URDF viewers.
- ``<joint>``: ``revolute``, ``continuous`` (-> revolute with ``limits=None``),
  ``prismatic`` and ``fixed``, with ``<origin xyz rpy>`` (URDF fixed-axis rpy:
  ``R = Rz(yaw) Ry(pitch) Rx(roll)``), ``<axis xyz>`` (normalised, default ``1 0 0``) and
  ``<limit lower upper>`` (a revolute/prismatic joint without ``<limit>`` gets ``None``).
  ``floating``/``planar`` joints are rejected.

Mesh filenames are relative to the URDF's folder (the asset folder); ``package://NAME/rel``
and ``file://`` prefixes are resolved inside that folder. Any path that leaves the asset
folder is an :class:`~partdrag4d.errors.InputError`, as is every other malformed input; each
error names the URDF file and the element at fault.

The returned asset lists the root link first and the other links and all joints in
depth-first order from the root (document order among siblings), so parents come before
children.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

from partdrag4d.assets.kinematics import rpy_to_matrix
from partdrag4d.assets.mesh import (
    DEFAULT_COLOR,
    LoadedPrimitive,
    geometry_to_primitive,
    read_primitives,
)
from partdrag4d.containers import (
    ArticulatedAsset,
    JointSpec,
    JointType,
    Link,
    Material,
    Primitive,
)
from partdrag4d.errors import InputError
from partdrag4d.geometry.se3 import make_T

_JOINT_TYPES: dict[str, JointType] = {
    "revolute": JointType.REVOLUTE,
    "continuous": JointType.REVOLUTE,
    "prismatic": JointType.PRISMATIC,
    "fixed": JointType.FIXED,
}


@dataclass(frozen=True)
class _UrdfMaterial:
    """A URDF ``<material>``: colour and optional texture image."""

    name: str
    rgba: np.ndarray | None
    texture: np.ndarray | None


class _Parser:
    """Holds the file being parsed so errors can name it; methods are parse steps."""

    def __init__(self, urdf_path: Path):
        self.path = urdf_path
        self.root_dir = urdf_path.parent.resolve()
        self.materials: dict[str, _UrdfMaterial] = {}
        self.mesh_cache: dict[Path, list[LoadedPrimitive]] = {}

    def error(self, field: str, message: str) -> InputError:
        return InputError(self.path, field, message)

    # ------------------------------------------------------------------ numbers
    def floats(
        self, text: str | None, n: int, field: str, default: list[float | int]
    ) -> np.ndarray:
        if text is None:
            return np.asarray(default, dtype=np.float64)
        parts = text.split()
        if len(parts) != n:
            raise self.error(field, f"expected {n} numbers, got {text!r}")
        try:
            vals = np.array([float(p) for p in parts], dtype=np.float64)
        except ValueError:
            raise self.error(field, f"not a number: {text!r}") from None
        if not np.isfinite(vals).all():
            raise self.error(field, f"non-finite number in {text!r}")
        return vals

    def scalar(self, text: str | None, field: str) -> float | None:
        if text is None:
            return None
        try:
            v = float(text)
        except ValueError:
            raise self.error(field, f"not a number: {text!r}") from None
        if not math.isfinite(v):
            raise self.error(field, f"non-finite number {text!r}")
        return v

    def origin(self, elem: ET.Element | None, field: str) -> np.ndarray:
        """``<origin xyz rpy>`` -> 4x4 (identity when absent)."""
        if elem is None:
            return np.eye(4)
        xyz = self.floats(elem.get("xyz"), 3, f"{field}.origin.xyz", [0, 0, 0])
        rpy = self.floats(elem.get("rpy"), 3, f"{field}.origin.rpy", [0, 0, 0])
        return make_T(rpy_to_matrix(rpy), np.asarray(xyz, dtype=np.float64))

    # ------------------------------------------------------------------ files
    def resolve(self, filename: str | None, field: str) -> Path:
        """Resolve a mesh/texture filename inside the asset folder."""
        if not filename:
            raise self.error(field, "missing filename")
        rel = filename.strip()
        candidates: list[str]
        if rel.startswith("package://"):
            rest = rel[len("package://") :]
            pkg, _, sub = rest.partition("/")
            # The package root is unknown; both "<asset>/<sub>" and "<asset>/<pkg>/<sub>"
            # stay inside the asset folder.
            candidates = [sub, rest] if sub else [rest]
        elif rel.startswith("file://"):
            candidates = [rel[len("file://") :]]
        else:
            candidates = [rel]
        for cand in candidates:
            p = Path(cand)
            full = (p if p.is_absolute() else self.root_dir / p).resolve()
            if not full.is_relative_to(self.root_dir):
                raise self.error(field, f"path {filename!r} leaves the asset folder")
            if full.is_file():
                return full
        raise self.error(field, f"file not found: {filename!r}")

    def texture(self, filename: str | None, field: str) -> np.ndarray:
        path = self.resolve(filename, field)
        try:
            with Image.open(path) as im:
                return np.ascontiguousarray(np.asarray(im.convert("RGB"), dtype=np.uint8))
        except Exception as err:
            raise self.error(field, f"cannot read texture {path.name}: {err}") from err

    # ------------------------------------------------------------------ materials
    def material(self, elem: ET.Element, field: str) -> _UrdfMaterial:
        name = elem.get("name", "")
        color_el = elem.find("color")
        tex_el = elem.find("texture")
        rgba = None
        if color_el is not None:
            rgba = np.clip(
                self.floats(color_el.get("rgba"), 4, f"{field}.color.rgba", [1, 1, 1, 1]), 0, 1
            )
        tex = None
        if tex_el is not None:
            tex = self.texture(tex_el.get("filename"), f"{field}.texture.filename")
        if rgba is None and tex is None and name in self.materials:
            return self.materials[name]
        return _UrdfMaterial(name, rgba, tex)

    # ------------------------------------------------------------------ visuals
    def visual(self, link_name: str, idx: int, elem: ET.Element) -> list[Primitive]:
        field = f"link[{link_name}].visual[{idx}]"
        T_link_visual = self.origin(elem.find("origin"), field)
        mat_el = elem.find("material")
        urdf_mat = self.material(mat_el, f"{field}.material") if mat_el is not None else None
        geo = elem.find("geometry")
        if geo is None or len(geo) == 0:
            raise self.error(f"{field}.geometry", "missing geometry")
        shape = geo[0]
        gfield = f"{field}.geometry.{shape.tag}"
        loaded: list[LoadedPrimitive]
        if shape.tag == "mesh":
            path = self.resolve(shape.get("filename"), f"{gfield}.filename")
            scale = self.floats(shape.get("scale"), 3, f"{gfield}.scale", [1, 1, 1])
            if np.any(scale == 0):
                raise self.error(f"{gfield}.scale", "zero scale")
            if path not in self.mesh_cache:
                self.mesh_cache[path] = read_primitives(
                    path, self.path, f"{gfield}.filename", asset_root=self.root_dir
                )
            T = T_link_visual @ np.diag([*scale, 1.0])
            loaded = [
                LoadedPrimitive(self._transformed(lp.primitive, T), lp.has_file_material)
                for lp in self.mesh_cache[path]
            ]
        else:
            geom = self.shape(shape, gfield)
            loaded = [geometry_to_primitive(geom, T_link_visual, shape.tag, self.path, gfield)]
            loaded = [LoadedPrimitive(lp.primitive, False) for lp in loaded]
        return [self._apply_material(lp, urdf_mat, f"{link_name}_{idx}") for lp in loaded]

    def shape(self, elem: ET.Element, field: str) -> trimesh.Trimesh:
        if elem.tag == "box":
            size = self.floats(elem.get("size"), 3, f"{field}.size", [0, 0, 0])
            if np.any(size <= 0):
                raise self.error(f"{field}.size", "empty geometry (non-positive size)")
            return trimesh.creation.box(extents=size)
        if elem.tag in ("cylinder", "sphere"):
            r = self.scalar(elem.get("radius"), f"{field}.radius")
            if r is None or r <= 0:
                raise self.error(f"{field}.radius", "empty geometry (missing or non-positive)")
            if elem.tag == "sphere":
                return trimesh.creation.icosphere(subdivisions=2, radius=r)
            length = self.scalar(elem.get("length"), f"{field}.length")
            if length is None or length <= 0:
                raise self.error(f"{field}.length", "empty geometry (missing or non-positive)")
            return trimesh.creation.cylinder(radius=r, height=length, sections=32)
        raise self.error(field, f"unsupported geometry <{elem.tag}>")

    @staticmethod
    def _transformed(p: Primitive, T: np.ndarray) -> Primitive:
        faces = p.faces[:, ::-1].copy() if np.linalg.det(T[:3, :3]) < 0 else p.faces
        return Primitive(p.vertices @ T[:3, :3].T + T[:3, 3], faces, p.material, p.uvs)

    @staticmethod
    def _apply_material(
        lp: LoadedPrimitive, urdf_mat: _UrdfMaterial | None, fallback: str
    ) -> Primitive:
        p = lp.primitive
        if lp.has_file_material or urdf_mat is None:
            return p
        color = urdf_mat.rgba if urdf_mat.rgba is not None else np.array(DEFAULT_COLOR)
        use_tex = urdf_mat.texture is not None and p.uvs is not None
        mat = Material(urdf_mat.name or fallback, color, urdf_mat.texture if use_tex else None)
        return Primitive(p.vertices, p.faces, mat, p.uvs if use_tex else None)

    # ------------------------------------------------------------------ joints
    def joint(self, elem: ET.Element, idx: int, link_names: set[str]) -> JointSpec:
        name = elem.get("name")
        field = f"joint[{name if name else idx}]"
        if not name:
            raise self.error(f"{field}.name", "missing joint name")
        type_str = elem.get("type")
        if type_str not in _JOINT_TYPES:
            raise self.error(
                f"{field}.type",
                f"unknown/unsupported joint type {type_str!r} "
                f"(expected one of {sorted(_JOINT_TYPES)})",
            )
        jtype = _JOINT_TYPES[type_str]
        ends = {}
        for tag in ("parent", "child"):
            el = elem.find(tag)
            link = el.get("link") if el is not None else None
            if not link:
                raise self.error(f"{field}.{tag}", f"missing <{tag} link=...>")
            if link not in link_names:
                raise self.error(f"{field}.{tag}", f"unknown link {link!r}")
            ends[tag] = link
        if ends["parent"] == ends["child"]:
            raise self.error(f"{field}.child", "a joint cannot connect a link to itself")
        T_parent_joint = self.origin(elem.find("origin"), field)
        axis_el = elem.find("axis")
        axis = self.floats(
            axis_el.get("xyz") if axis_el is not None else None, 3, f"{field}.axis", [1, 0, 0]
        )
        norm = float(np.linalg.norm(axis))
        if norm < 1e-12:
            if jtype is not JointType.FIXED:
                raise self.error(f"{field}.axis", "zero axis")
            axis, norm = np.array([1.0, 0.0, 0.0]), 1.0
        axis = axis / norm
        limits = None
        lim_el = elem.find("limit")
        if type_str in ("revolute", "prismatic") and lim_el is not None:
            lo = self.scalar(lim_el.get("lower"), f"{field}.limit.lower")
            hi = self.scalar(lim_el.get("upper"), f"{field}.limit.upper")
            lo = 0.0 if lo is None else lo  # URDF's defaults
            hi = 0.0 if hi is None else hi
            if lo > hi:
                raise self.error(f"{field}.limit", f"lower {lo} > upper {hi}")
            limits = (lo, hi)
        return JointSpec(name, jtype, ends["parent"], ends["child"], T_parent_joint, axis, limits)


def _tree_order(
    parser: _Parser, link_names: list[str], joints: list[JointSpec]
) -> tuple[list[str], list[JointSpec]]:
    """Root first, then depth-first; raises on several roots, cycles or two parents."""
    parent_of: dict[str, JointSpec] = {}
    for j in joints:
        if j.child in parent_of:
            raise parser.error(
                f"joint[{j.name}].child",
                f"link {j.child!r} already has parent joint {parent_of[j.child].name!r}",
            )
        parent_of[j.child] = j
    roots = [n for n in link_names if n not in parent_of]
    if not roots:
        raise parser.error("joint", "kinematic cycle: every link has a parent")
    if len(roots) > 1:
        raise parser.error("link", f"several root links {roots} (the tree must be connected)")
    children: dict[str, list[JointSpec]] = {n: [] for n in link_names}
    for j in joints:
        children[j.parent].append(j)
    order_links, order_joints = [roots[0]], []
    stack = list(reversed(children[roots[0]]))
    while stack:
        j = stack.pop()
        order_joints.append(j)
        order_links.append(j.child)
        stack.extend(reversed(children[j.child]))
    if len(order_links) != len(link_names):
        missing = sorted(set(link_names) - set(order_links))
        raise parser.error("joint", f"kinematic cycle through links {missing}")
    return order_links, order_joints


def load_urdf(path: str | Path) -> ArticulatedAsset:
    """Load a URDF file and its meshes (see the module docstring for what is supported).

    Args:
        path: the ``.urdf`` file; mesh paths are resolved inside its folder.

    Returns:
        The asset: ``links[0]`` is the root, joints parents-before-children, visuals in
        link frames with materials, textures and glTF-convention UVs.

    Raises:
        InputError: naming the file and element for any malformed or unsupported input.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file", "URDF file not found")
    parser = _Parser(path)
    try:
        robot = ET.parse(path).getroot()
    except ET.ParseError as err:
        raise InputError(path, "xml", f"malformed XML: {err}") from None
    if robot.tag != "robot":
        raise parser.error("robot", f"root element is <{robot.tag}>, expected <robot>")

    for i, m in enumerate(robot.findall("material")):
        mat = parser.material(m, f"material[{m.get('name', i)}]")
        parser.materials[mat.name] = mat

    link_elems = robot.findall("link")
    if not link_elems:
        raise parser.error("link", "no <link> elements")
    link_names: list[str] = []
    for i, le in enumerate(link_elems):
        name = le.get("name")
        if not name:
            raise parser.error(f"link[{i}].name", "missing link name")
        if name in link_names:
            raise parser.error(f"link[{name}].name", "duplicate link name")
        link_names.append(name)

    joints = [parser.joint(je, i, set(link_names)) for i, je in enumerate(robot.findall("joint"))]
    seen: set[str] = set()
    for j in joints:
        if j.name in seen:
            raise parser.error(f"joint[{j.name}].name", "duplicate joint name")
        seen.add(j.name)
    order_links, order_joints = _tree_order(parser, link_names, joints)

    links_by_name: dict[str, Link] = {}
    for le in link_elems:
        name = le.get("name", "")
        prims: list[Primitive] = []
        for vi, ve in enumerate(le.findall("visual")):
            prims.extend(parser.visual(name, vi, ve))
        links_by_name[name] = Link(name, tuple(prims))

    if not any(link.visuals for link in links_by_name.values()):
        raise parser.error("link", "empty geometry: no link has a visual")
    return ArticulatedAsset(
        name=robot.get("name") or path.parent.name or path.stem,
        links=tuple(links_by_name[n] for n in order_links),
        joints=tuple(order_joints),
    )
