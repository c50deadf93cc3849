"""Building blocks of procedural articulated objects, and their URDF writer.

A :class:`Builder` collects links (geometry in rest-state world coordinates, boxes and
cylinders) and the joints between them; :func:`write_urdf` writes them as a URDF folder
(``model.urdf`` + ``meshes/<link>.obj`` / ``.mtl`` + ``textures/<link>_<material>.png``,
relative paths) that goes through the same loader as a user's asset. Every link frame
sits at its joint pivot with its parent's orientation at rest (joint ``rpy`` zero but on
a mount joint that turns a whole object), so joint ``origin xyz`` values are pivot
offsets. Used by the category library
(assets/procedural.py) and the random object generator (assets/random_objects.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from jaxtyping import Float, Int
from PIL import Image

from partdrag4d.assets.textures import PATTERNS, distinct_colors, make_texture

GAP = 0.003
"""Clearance in metres between parts that move relative to each other."""

NEUTRAL = np.array([0.12, 0.12, 0.13])
"""Colour of small hardware (handles, knobs, keys): dark, so parts stay distinct."""


@dataclass(frozen=True)
class Appearance:
    """How the written materials look."""

    textured: bool = True
    """Write PNG textures (True) or plain coloured materials (False)."""
    texture_size: int = 256
    """Texture side in pixels."""
    contrast: float = 0.45
    """Pattern modulation depth of the textures (small = weakly textured)."""
    grain: float = 0.12
    """Per-pixel grain of the textures."""


# --------------------------------------------------------------------------- geometry


def box_mesh(
    center: Float[np.ndarray, "3"], size: Float[np.ndarray, "3"], uv_scale: float
) -> tuple[Float[np.ndarray, "24 3"], Int[np.ndarray, "12 3"], Float[np.ndarray, "24 2"]]:
    """Closed axis-aligned box with 4 vertices per face (sharp UV seams), CCW outward.

    Args:
        center: box centre (m).
        size: edge lengths along x, y, z (m), all > 0.
        uv_scale: metres per unit of UV (UV = 0.5 + in-plane world coordinate / uv_scale).

    Returns:
        ``(vertices, faces, uvs)``; UVs in OBJ convention (v up).
    """
    c = np.asarray(center, np.float64)
    h = np.asarray(size, np.float64) / 2.0
    verts, faces, uvs = [], [], []
    for axis in range(3):
        for sign in (-1.0, 1.0):
            # (u_axis, v_axis) chosen so that u x v = outward normal (CCW seen from outside).
            u_ax, v_ax = (axis + 1) % 3, (axis + 2) % 3
            if sign < 0:
                u_ax, v_ax = v_ax, u_ax
            base = len(verts)
            for du, dv in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
                p = c.copy()
                p[axis] += sign * h[axis]
                p[u_ax] += du * h[u_ax]
                p[v_ax] += dv * h[v_ax]
                verts.append(p)
                uvs.append((p[u_ax], p[v_ax]))
            faces += [(base, base + 1, base + 2), (base, base + 2, base + 3)]
    uv = 0.5 + np.asarray(uvs) / uv_scale
    return np.asarray(verts), np.asarray(faces, np.int64), uv


def cylinder_mesh(
    center: Float[np.ndarray, "3"],
    radius: float,
    length: float,
    axis: int,
    uv_scale: float,
    sections: int = 32,
) -> tuple[Float[np.ndarray, "N 3"], Int[np.ndarray, "F 3"], Float[np.ndarray, "N 2"]]:
    """Closed cylinder along a coordinate axis (side + two capped discs), CCW outward.

    Args:
        center: centre of the cylinder (m).
        radius: radius (m).
        length: length along ``axis`` (m).
        axis: 0, 1 or 2 for x, y, z.
        uv_scale: metres per UV unit.
        sections: segments around the circumference.

    Returns:
        ``(vertices, faces, uvs)``; UVs in OBJ convention.
    """
    c = np.asarray(center, np.float64)
    a1, a2 = (axis + 1) % 3, (axis + 2) % 3  # (a1, a2, axis) is right-handed
    ang = np.linspace(0.0, 2 * np.pi, sections + 1)
    verts, uvs, faces = [], [], []

    def point(theta: float, s: float, rr: float) -> np.ndarray:
        p = c.copy()
        p[a1] += rr * np.cos(theta)
        p[a2] += rr * np.sin(theta)
        p[axis] += s * length / 2.0
        return p

    # side: a seam column is duplicated so UVs stay continuous
    for th in ang:
        for s in (-1.0, 1.0):
            verts.append(point(th, s, radius))
            uvs.append((th * radius, s * length / 2.0))
    for i in range(sections):
        b0, t0, b1, t1 = 2 * i, 2 * i + 1, 2 * i + 2, 2 * i + 3
        faces += [(b0, b1, t1), (b0, t1, t0)]
    # caps
    for s in (-1.0, 1.0):
        ctr = len(verts)
        p = c.copy()
        p[axis] += s * length / 2.0
        verts.append(p)
        uvs.append((p[a1] - c[a1], p[a2] - c[a2]))
        ring = len(verts)
        for th in ang[:-1]:
            q = point(th, s, radius)
            verts.append(q)
            uvs.append((q[a1] - c[a1], q[a2] - c[a2]))
        for i in range(sections):
            j, k = ring + i, ring + (i + 1) % sections
            faces.append((ctr, j, k) if s > 0 else (ctr, k, j))
    uv = np.asarray(uvs)
    # side UVs span the circumference; wrap them into [0, 1] without changing density much
    uv = 0.5 + (uv - uv.mean(0)) / max(uv_scale, 2 * np.pi * radius + 1e-9)
    return np.asarray(verts), np.asarray(faces, np.int64), np.clip(uv, 0.0, 1.0)


# --------------------------------------------------------------------------- builder


@dataclass
class JointDef:
    type: str
    axis: tuple[float, float, float]
    limits: tuple[float, float] | None
    rpy: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """Rotation of the child frame (only a mount joint turning the whole object)."""


@dataclass
class LinkDef:
    name: str
    parent: str | None
    pivot: np.ndarray
    joint: JointDef | None
    pieces: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)


class Builder:
    """Collects links (geometry in rest-state world coordinates) and joints."""

    def __init__(self, rng: np.random.Generator, size_hint: float):
        self.rng = rng
        self.uv_scale = 1.1 * size_hint  # UVs of a whole object fit in [0, 1]
        self.links: dict[str, LinkDef] = {}
        self.material_kind: dict[str, str] = {}

    def link(
        self,
        name: str,
        parent: str | None = None,
        jtype: str = "fixed",
        pivot: tuple[float, float, float] | np.ndarray = (0.0, 0.0, 0.0),
        axis: tuple[float, float, float] = (1.0, 0.0, 0.0),
        limits: tuple[float, float] | None = None,
        rpy: tuple[float, float, float] = (0.0, 0.0, 0.0),
    ) -> str:
        joint = None if parent is None else JointDef(jtype, axis, limits, rpy)
        self.links[name] = LinkDef(name, parent, np.asarray(pivot, np.float64), joint)
        return name

    def box(self, link: str, mat: str, lo: np.ndarray | list, hi: np.ndarray | list) -> None:
        lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
        assert np.all(hi > lo), (link, lo, hi)
        v, f, uv = box_mesh((lo + hi) / 2, hi - lo, self.uv_scale)
        self.links[link].pieces.append((mat, v, f, uv))

    def cylinder(
        self, link: str, mat: str, center: list | np.ndarray, radius: float, length: float, ax: int
    ) -> None:
        v, f, uv = cylinder_mesh(np.asarray(center, np.float64), radius, length, ax, self.uv_scale)
        self.links[link].pieces.append((mat, v, f, uv))


def carcass(b: Builder, link: str, w: float, d: float, h: float, t: float, z0: float) -> None:
    """Open-front box: back, sides, bottom, top panels of thickness ``t``; front at -d/2."""
    x0, x1, y0, y1 = -w / 2, w / 2, -d / 2, d / 2
    b.box(link, "body", [x0, y1 - t, z0], [x1, y1, z0 + h])  # back
    b.box(link, "body", [x0, y0, z0], [x0 + t, y1 - t, z0 + h])  # left
    b.box(link, "body", [x1 - t, y0, z0], [x1, y1 - t, z0 + h])  # right
    b.box(link, "body", [x0 + t, y0, z0], [x1 - t, y1 - t, z0 + t])  # bottom
    b.box(link, "body", [x0 + t, y0, z0 + h - t], [x1 - t, y1 - t, z0 + h])  # top


# --------------------------------------------------------------------------- writing


def fmt(x: float) -> str:
    s = f"{x:.6f}".rstrip("0").rstrip(".")
    return "0" if s in ("", "-0") else s


def vec(v: np.ndarray | tuple) -> str:
    return " ".join(fmt(float(c)) for c in v)


def _write_link_mesh(
    link: LinkDef,
    out_dir: Path,
    colors: dict[str, np.ndarray],
    look: Appearance,
    rng: np.random.Generator,
) -> str:
    """Write meshes/<link>.obj + .mtl (+ textures); vertices relative to the link pivot."""
    mats: list[str] = []
    for m, *_ in link.pieces:
        if m not in mats:
            mats.append(m)
    obj = [f"# {link.name}: procedural, link frame (pivot at origin)", f"mtllib {link.name}.mtl"]
    mtl = []
    vbase = 1
    for m in mats:
        mname = f"{link.name}_{m}"
        rgb = colors[m]
        mtl.append(f"newmtl {mname}")
        if look.textured:
            kind = PATTERNS[int(rng.integers(len(PATTERNS)))]
            tex = make_texture(rng, rgb, kind, look.texture_size, look.contrast, look.grain)
            Image.fromarray(tex).save(out_dir / "textures" / f"{mname}.png", optimize=False)
            mtl += ["Kd 1 1 1", f"map_Kd ../textures/{mname}.png", ""]
        else:
            mtl += [f"Kd {vec(rgb)}", ""]
        obj.append(f"o {mname}")
        vs, vts, fs = [], [], []
        for pm, v, f, uv in link.pieces:
            if pm != m:
                continue
            off = vbase + sum(len(x) for x in vs)
            vs.append(v - link.pivot)
            vts.append(uv)
            fs.append(f + off)
        v, uv, f = np.concatenate(vs), np.concatenate(vts), np.concatenate(fs)
        obj += [f"v {vec(p)}" for p in v]
        if look.textured:
            obj += [f"vt {vec(t)}" for t in uv]
        obj.append(f"usemtl {mname}")
        if look.textured:
            obj += [f"f {a}/{a} {b}/{b} {c}/{c}" for a, b, c in f]
        else:
            obj += [f"f {a} {b} {c}" for a, b, c in f]
        vbase += len(v)
    (out_dir / "meshes" / f"{link.name}.obj").write_text("\n".join(obj) + "\n")
    (out_dir / "meshes" / f"{link.name}.mtl").write_text("\n".join(mtl) + "\n")
    return f"meshes/{link.name}.obj"


def write_urdf(
    b: Builder,
    name: str,
    out_dir: Path,
    look: Appearance,
    col_rng: np.random.Generator,
    tex_rng: np.random.Generator,
) -> Path:
    """Write the builder's links and joints as ``out_dir/model.urdf`` with its meshes.

    Args:
        b: the object (geometry in rest-state world coordinates).
        name: the robot name.
        out_dir: folder to write (created; files of the same names are replaced).
        look: textures or plain colours.
        col_rng: random stream of the colours.
        tex_rng: random stream of the texture patterns.

    Returns:
        Path of ``model.urdf``.
    """
    out_dir = Path(out_dir)
    (out_dir / "meshes").mkdir(parents=True, exist_ok=True)
    if look.textured:
        (out_dir / "textures").mkdir(parents=True, exist_ok=True)
    # one hue per link; hardware materials neutral; other named materials a shifted hue
    link_colors = distinct_colors(col_rng, len(b.links))
    urdf = ['<?xml version="1.0"?>', f'<robot name="{name}">']
    for li, link in enumerate(b.links.values()):
        colors: dict[str, np.ndarray] = {}
        for m, *_ in link.pieces:
            if m in colors:
                continue
            if m in ("handle", "keys"):
                colors[m] = NEUTRAL
            elif not colors:
                colors[m] = link_colors[li]
            else:  # a second panel of the same link: same hue, other brightness
                colors[m] = np.clip(link_colors[li] * col_rng.uniform(0.55, 0.8), 0, 1)
        urdf.append(f'  <link name="{link.name}">')
        if link.pieces:
            mesh = _write_link_mesh(link, out_dir, colors, look, tex_rng)
            urdf += [
                "    <visual>",
                '      <origin xyz="0 0 0" rpy="0 0 0"/>',
                f'      <geometry><mesh filename="{mesh}"/></geometry>',
                "    </visual>",
            ]
        urdf.append("  </link>")
    for link in b.links.values():
        if link.parent is None or link.joint is None:
            continue
        j = link.joint
        parent_pivot = b.links[link.parent].pivot
        urdf += [
            f'  <joint name="{link.name}_joint" type="{j.type}">',
            f'    <parent link="{link.parent}"/>',
            f'    <child link="{link.name}"/>',
            f'    <origin xyz="{vec(link.pivot - parent_pivot)}" rpy="{vec(j.rpy)}"/>',
            f'    <axis xyz="{vec(j.axis)}"/>',
        ]
        if j.limits is not None:
            lo, hi = j.limits
            urdf.append(
                f'    <limit lower="{fmt(lo)}" upper="{fmt(hi)}" effort="10" velocity="1"/>'
            )
        urdf.append("  </joint>")
    urdf.append("</robot>")
    path = out_dir / "model.urdf"
    path.write_text("\n".join(urdf) + "\n")
    return path


def recentre(b: Builder) -> None:
    """Centre the bounding box in x, y, put its bottom at z = 0 and fit the UVs into [0, 1]."""
    allv = np.concatenate([v for link in b.links.values() for _, v, _, _ in link.pieces])
    lo, hi = allv.min(0), allv.max(0)
    shift = np.array([-(lo[0] + hi[0]) / 2, -(lo[1] + hi[1]) / 2, -lo[2]])
    # One affine map for all UVs (same scale on both axes) keeps texture density uniform
    # across parts while guaranteeing UVs in [0, 1] (no wrap mode needed downstream).
    alluv = np.concatenate([uv for link in b.links.values() for _, _, _, uv in link.pieces])
    uv_lo, uv_span = alluv.min(0), float(np.max(alluv.max(0) - alluv.min(0)))
    for link in b.links.values():
        if link.parent is not None:  # the root frame is the world frame: stays at 0
            link.pivot = link.pivot + shift
        link.pieces = [(m, v + shift, f, (uv - uv_lo) / uv_span) for m, v, f, uv in link.pieces]
