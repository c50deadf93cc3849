"""URDF export for simulators: one link per part, per-part OBJ meshes, joint limits.

Layout written under ``out_dir``::

    model.urdf
    meshes/<part>.obj, meshes/<part>.mtl, meshes/texture_<k>.png
    meshes/collision/<part>_<k>.obj      (convex pieces: one <collision> each)

Frames (see :mod:`partdrag4d.export.kinematics`): each link frame is its part's pivot
frame (the world frame translated to the joint origin at rest, no rotation); link
meshes are stored in it. Joint ``<origin>`` is the child's pivot minus the parent's
(``rpy = 0``) and ``<axis>`` is the world-frame axis (the same in the joint frame,
because every frame is axis-aligned with the world at rest). The joint zero is the
rest state, so setting joint ``i`` to ``values[t]`` places every link as
``T_world_part[t]`` does (for an articulation that follows its joints).

Limits are the observed range widened by a margin (``UrdfConfig``) so that the
simulator can reach every observed value without sitting on a limit. The base link is
the root (fixed in a simulator with ``useFixedBase``); an optional ``world`` link with
a fixed joint pins it explicitly.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
from PIL import Image

from partdrag4d.config_checks import OneOf
from partdrag4d.containers import Articulation, Joint, JointType, SceneMesh
from partdrag4d.export.collision import CollisionConfig, convex_pieces, write_hull_obj
from partdrag4d.export.kinematics import joint_range, part_parents, part_pivots
from partdrag4d.export.parts import PartPiece, split_by_part


@dataclass
class UrdfConfig:
    """Options of the URDF writer."""

    CHECKS: ClassVar[dict] = {"collision": OneOf(("convex", "visual", "none"))}

    limit_margin: float = 0.1
    """Relative widening of each side of the observed range (fraction of its width)."""
    limit_margin_rad: float = 0.02
    """Absolute widening of each side of a revolute range (radians)."""
    limit_margin_m: float = 0.002
    """Absolute widening of each side of a prismatic range (metres)."""
    effort: float = 100.0
    """Joint ``effort`` limit (N·m or N); simulators require the attribute."""
    velocity: float = 2.0
    """Joint ``velocity`` limit (rad/s or m/s)."""
    link_mass: float = 1.0
    """Mass of every link (kg): the reconstruction does not know densities."""
    add_world_link: bool = False
    """Add a ``world`` link with a fixed joint to the base (some tools expect one)."""
    collision: str = "convex"
    """Collision geometry of each link: ``convex`` (the part cut into convex pieces, one
    ``<collision>`` each, so openings stay open in a simulator), ``visual`` (the visual
    mesh, which most simulators replace by its convex hull) or ``none``."""
    convex: CollisionConfig = field(default_factory=CollisionConfig)
    """How ``collision=convex`` cuts a part into pieces."""
    robot_name: str = "partdrag4d"
    """``<robot name>``."""


def urdf_limits(joint: Joint, cfg: UrdfConfig) -> tuple[float, float]:
    """Observed range of ``joint`` (including every value and the rest state 0), widened
    by ``cfg.limit_margin * width + absolute margin`` (rad or m) only on the sides the
    part was seen moving to. The rest state is where the part closes against its parent
    (a door shut, a drawer in), so a limit at the rest state is never pushed past it
    into the body."""
    lo, hi = joint_range(joint)
    absolute = cfg.limit_margin_rad if joint.type is JointType.REVOLUTE else cfg.limit_margin_m
    margin = cfg.limit_margin * (hi - lo) + absolute
    return (lo - margin if lo < 0 else lo), (hi + margin if hi > 0 else hi)


def _safe(name: str) -> str:
    """A file-name-safe version of a part name."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "part"


def _fmt(values) -> str:
    return " ".join(f"{float(v):.9g}" for v in values)


def _write_obj(pieces: list[PartPiece], stem: str, mesh_dir: Path, textures: dict[int, str]):
    """``<stem>.obj`` + ``<stem>.mtl``: one ``usemtl`` group per piece. OBJ texture
    coordinates have v=0 at the bottom, so glTF-convention uvs are flipped."""
    obj = [f"mtllib {stem}.mtl"]
    mtl = []
    offset = 0
    for k, piece in enumerate(pieces):
        mat_name = f"m{k}_{_safe(piece.material.name)}"
        color = np.clip(piece.material.base_color, 0.0, 1.0)
        mtl += [f"newmtl {mat_name}", f"Kd {_fmt(color[:3])}", f"d {color[3]:.6g}", "illum 1"]
        has_uv = piece.uvs is not None
        if has_uv and piece.primitive_index in textures:
            mtl.append(f"map_Kd {textures[piece.primitive_index]}")
        obj.append(f"o {stem}_{k}")
        obj += [f"v {_fmt(v)}" for v in piece.vertices]
        obj += [f"vn {_fmt(n)}" for n in piece.normals]
        if piece.uvs is not None:
            obj += [f"vt {u:.9g} {1.0 - v:.9g}" for u, v in piece.uvs]
        obj.append(f"usemtl {mat_name}")
        for face in piece.faces + offset + 1:
            corners = [f"{i}/{i}/{i}" if has_uv else f"{i}//{i}" for i in face]
            obj.append("f " + " ".join(corners))
        offset += len(piece.vertices)
    (mesh_dir / f"{stem}.obj").write_text("\n".join(obj) + "\n")
    (mesh_dir / f"{stem}.mtl").write_text("\n".join(mtl) + "\n")


def _inertial(link: ET.Element, pieces: list[PartPiece], cfg: UrdfConfig):
    """Box inertia of the part's bounding box, at its centre (simulators need a
    positive-definite inertia; the true mass distribution is unknown)."""
    if pieces:
        verts = np.concatenate([p.vertices for p in pieces])
        lo, hi = verts.min(0), verts.max(0)
    else:
        lo = hi = np.zeros(3)
    size = np.maximum(hi - lo, 1e-3)
    m = cfg.link_mass
    ixx, iyy, izz = (m / 12.0 * (size[[1, 0, 0]] ** 2 + size[[2, 2, 1]] ** 2)).tolist()
    inertial = ET.SubElement(link, "inertial")
    ET.SubElement(inertial, "origin", xyz=_fmt((lo + hi) / 2), rpy="0 0 0")
    ET.SubElement(inertial, "mass", value=f"{m:.9g}")
    ET.SubElement(
        inertial, "inertia", ixx=f"{ixx:.9g}", iyy=f"{iyy:.9g}", izz=f"{izz:.9g}", ixy="0", ixz="0",
        iyz="0",
    )  # fmt: skip


def _add_mesh(link: ET.Element, tag: str, filename: str) -> None:
    element = ET.SubElement(link, tag)
    ET.SubElement(element, "origin", xyz="0 0 0", rpy="0 0 0")
    ET.SubElement(ET.SubElement(element, "geometry"), "mesh", filename=filename)


def _write_collision(
    pieces: list[PartPiece], stem: str, folder: Path, cfg: CollisionConfig
) -> list[str]:
    """The part's convex pieces as ``<stem>_<k>.obj`` under ``folder``; their names."""
    vertices, faces, offset = [], [], 0
    for piece in pieces:
        vertices.append(piece.vertices)
        faces.append(piece.faces + offset)
        offset += len(piece.vertices)
    hulls = convex_pieces(np.concatenate(vertices), np.concatenate(faces), cfg)
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for k, hull in enumerate(hulls):
        names.append(f"{stem}_{k}.obj")
        write_hull_obj(hull, folder / names[-1])
    return names


def write_urdf(
    art: Articulation, mesh: SceneMesh, out_dir: Path, cfg: UrdfConfig = UrdfConfig()
) -> Path:
    """Write ``out_dir/model.urdf`` with one link per part and meshes under ``meshes/``.

    Args:
        art: parts, joints and motion (only the rest geometry, joints and their
            observed ranges are used).
        mesh: the rest-state mesh labelled by ``art.face_part``.
        out_dir: output folder (created).
        cfg: writer options.

    Returns:
        Path of ``model.urdf``.

    Raises:
        ValueError: when a part is named ``world`` while ``cfg.add_world_link`` is set.
    """
    out_dir = Path(out_dir)
    mesh_dir = out_dir / "meshes"
    mesh_dir.mkdir(parents=True, exist_ok=True)
    parents = part_parents(art)
    pivots = part_pivots(art)
    pieces = split_by_part(mesh, np.asarray(art.face_part), pivots)
    if cfg.add_world_link and "world" in art.part_names:
        raise ValueError("a part is named 'world', which add_world_link needs")

    textures: dict[int, str] = {}
    for k, prim in enumerate(mesh.primitives):
        if prim.material.texture is not None and prim.uvs is not None:
            textures[k] = f"texture_{k}.png"
            image = Image.fromarray(np.ascontiguousarray(prim.material.texture))
            image.save(mesh_dir / textures[k])

    robot = ET.Element("robot", name=cfg.robot_name)
    if cfg.add_world_link:
        ET.SubElement(robot, "link", name="world")
        fixed = ET.SubElement(robot, "joint", name="world_to_base", type="fixed")
        ET.SubElement(fixed, "parent", link="world")
        ET.SubElement(fixed, "child", link=art.part_names[0])
        ET.SubElement(fixed, "origin", xyz="0 0 0", rpy="0 0 0")
    stems: set[str] = set()
    for p, name in enumerate(art.part_names):
        link = ET.SubElement(robot, "link", name=name)
        _inertial(link, pieces[p], cfg)
        if not pieces[p]:
            continue
        stem = _safe(name)
        while stem in stems:  # distinct part names may sanitise to the same stem
            stem += "_"
        stems.add(stem)
        _write_obj(pieces[p], stem, mesh_dir, textures)
        _add_mesh(link, "visual", f"meshes/{stem}.obj")
        if cfg.collision == "visual":
            _add_mesh(link, "collision", f"meshes/{stem}.obj")
        elif cfg.collision == "convex":
            for name in _write_collision(pieces[p], stem, mesh_dir / "collision", cfg.convex):
                _add_mesh(link, "collision", f"meshes/collision/{name}")
    for i, joint in enumerate(art.joints):
        p = i + 1
        element = ET.SubElement(robot, "joint", name=joint.name, type=joint.type.value)
        ET.SubElement(element, "parent", link=art.part_names[parents[p]])
        ET.SubElement(element, "child", link=art.part_names[p])
        ET.SubElement(element, "origin", xyz=_fmt(pivots[p] - pivots[parents[p]]), rpy="0 0 0")
        if joint.type is JointType.FIXED:
            continue
        axis = np.asarray(joint.axis, dtype=np.float64)
        ET.SubElement(element, "axis", xyz=_fmt(axis / np.linalg.norm(axis)))
        lo, hi = urdf_limits(joint, cfg)
        ET.SubElement(
            element,
            "limit",
            lower=f"{lo:.9g}",
            upper=f"{hi:.9g}",
            effort=f"{cfg.effort:.9g}",
            velocity=f"{cfg.velocity:.9g}",
        )
    ET.indent(robot)
    path = out_dir / "model.urdf"
    ET.ElementTree(robot).write(path, encoding="utf-8", xml_declaration=True)
    return path
