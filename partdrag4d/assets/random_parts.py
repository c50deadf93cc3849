"""Parts of random articulated objects (assets/random_objects.py), built on a
:class:`~partdrag4d.assets.builder.Builder` in the object's own frame: metres, +Z up,
front toward -Y; every opening part opens toward -Y (or up, or sideways) from a rest
state at joint value 0 with a clearance of ``GAP`` to its neighbours.

Rectangles are ``(x0, z0, x1, z1)`` on the front plane; lengths scale with the object's
size ``b.uv_scale``.
"""

from __future__ import annotations

import math

import numpy as np

from partdrag4d.assets.builder import GAP, Builder

RECESS = 0.04
"""Set-back of a plinth's kick plate, relative to the object's size."""


def door(b: Builder, name: str, parent: str, rect, y: float, hinge: str, open_rad: float):
    """A panel in front of ``y`` over ``rect = (x0, z0, x1, z1)``, hinged on one edge and
    opening toward -Y; a handle near the free edge."""
    x0, z0, x1, z1 = rect
    s, t = b.uv_scale, 0.015 * b.uv_scale
    yb = y - GAP
    pivot = {"left": (x0, yb, z0), "right": (x1, yb, z0), "bottom": (x0, yb, z0)}
    pivot["top"] = (x0, yb, z1)
    axis = {
        "left": (0.0, 0.0, -1.0),
        "right": (0.0, 0.0, 1.0),
        "bottom": (1.0, 0.0, 0.0),
        "top": (-1.0, 0.0, 0.0),
    }
    b.link(name, parent, "revolute", pivot[hinge], axis[hinge], (0.0, open_rad))
    b.box(name, "door", [x0, yb - t, z0], [x1, yb, z1])
    hw, hl = 0.012 * s, 0.25 * min(x1 - x0, z1 - z0)
    xc, zc = (x0 + x1) / 2, (z0 + z1) / 2
    xc = {"left": x1 - 0.1 * (x1 - x0), "right": x0 + 0.1 * (x1 - x0)}.get(hinge, xc)
    zc = {"bottom": z1 - 0.12 * (z1 - z0), "top": z0 + 0.12 * (z1 - z0)}.get(hinge, zc)
    half = (hw, hl / 2) if hinge in ("left", "right") else (hl / 2, hw)
    lo, hi = [xc - half[0], yb - t - 0.02 * s, zc - half[1]], [xc + half[0], yb - t, zc + half[1]]
    b.box(name, "handle", lo, hi)


def drawer(b: Builder, name: str, parent: str, rect, inner, y: float, d: float, thin: bool):
    """A drawer front over ``rect`` with (unless ``thin``) a tray in the ``inner`` opening;
    it slides out along -Y by the tray depth (full extension) or 0.6 d."""
    x0, z0, x1, z1 = rect
    s, t = b.uv_scale, 0.01 * b.uv_scale
    depth = 0.85 * d
    reach = 0.6 * d if thin else 0.95 * depth
    b.link(name, parent, "prismatic", ((x0 + x1) / 2, y, z0), (0.0, -1.0, 0.0), (0.0, reach))
    b.box(name, "front", [x0, y - GAP - 0.015 * s, z0], [x1, y - GAP, z1])
    if not thin:
        xa, za, xb, zb = inner
        zb = za + 0.7 * (zb - za)
        ya, yb = y - GAP, y + depth
        b.box(name, "front", [xa, ya, za], [xb, yb, za + t])
        b.box(name, "front", [xa, ya, za + t], [xa + t, yb, zb])
        b.box(name, "front", [xb - t, ya, za + t], [xb, yb, zb])
        b.box(name, "front", [xa + t, yb - t, za + t], [xb - t, yb, zb])
    hw, xc, zc = 0.15 * (x1 - x0), (x0 + x1) / 2, (z0 + z1) / 2
    lo = [xc - hw, y - GAP - 0.035 * s, zc - 0.008 * s]
    b.box(name, "handle", lo, [xc + hw, y - GAP - 0.015 * s, zc + 0.008 * s])


def slider(b: Builder, name: str, parent: str, rect, y: float, direction: str):
    """A plain panel on its own track well in front of ``y`` (clear of every handle),
    sliding sideways (``left``/``right``) by its width or ``up`` by 0.8 of its height."""
    x0, z0, x1, z1 = rect
    s = b.uv_scale
    yb = y - 0.045 * s
    axis = {"left": (-1.0, 0.0, 0.0), "right": (1.0, 0.0, 0.0), "up": (0.0, 0.0, 1.0)}[direction]
    reach = (x1 - x0) if direction != "up" else 0.8 * (z1 - z0)
    b.link(name, parent, "prismatic", ((x0 + x1) / 2, yb, z0), axis, (0.0, reach))
    b.box(name, "panel", [x0, yb - 0.012 * s, z0], [x1, yb, z1])


def small_part(b: Builder, name: str, parent: str, where: str, box, area: float, rng) -> None:
    """A part of about ``area`` m² on the body ``box = (w, d, top, plinth)``: a hatch on
    a side wall (``side``), or a foot pedal in front of the plinth (``pedal``)."""
    w, d, h, plinth = box
    s = b.uv_scale
    if where == "pedal":
        pw = min(math.sqrt(area / 0.6), 0.8 * w)
        pd = min(area / pw / 2.0, 0.3 * d)  # top + bottom faces dominate its area
        th, z, y = 0.02 * s, 0.25 * plinth, -d / 2 + RECESS * s - GAP
        b.link(name, parent, "revolute", (0.0, y, z + th), (1.0, 0.0, 0.0), (0.0, 0.4))
        b.box(name, "pedal", [-pw / 2, y - pd, z], [pw / 2, y, z + th])
        return
    side = 1.0 if rng.random() < 0.5 else -1.0
    hd = min(math.sqrt(area / 2.0), 0.7 * d)  # its two faces make the area
    hh = min(area / 2.0 / hd, 0.7 * h)
    y0, z0 = -d / 2 + 0.15 * d, 0.5 * (h - hh)
    x = side * (w / 2 + GAP)
    b.link(
        name,
        parent,
        "revolute",
        (x, y0, z0),
        (0.0, 0.0, -side),
        (0.0, float(rng.uniform(1.2, 2.2))),
    )
    lo, hi = sorted([x, x + side * 0.01 * s])
    b.box(name, "hatch", [lo, y0, z0], [hi, y0 + hd, z0 + hh])


def arm(b: Builder, rng: np.random.Generator, joints: int) -> None:
    """A base with a chain of ``joints`` revolute links (yaw, then pitch joints)."""
    s = b.uv_scale
    r, a = 0.12 * s, 0.05 * s
    b.link("base")
    b.cylinder("base", "body", [0.0, 0.0, 0.03 * s], r, 0.06 * s, 2)
    z, parent = 0.06 * s + GAP, "base"
    for k in range(joints):
        length = float(rng.uniform(0.25, 0.4)) * s
        yaw = k == 0 and joints == 3
        axis = (0.0, 0.0, 1.0) if yaw else ((1.0, 0.0, 0.0) if k % 2 else (0.0, 1.0, 0.0))
        lim = float(rng.uniform(0.6, 1.2))
        name = b.link(f"arm_{k}", parent, "revolute", (0.0, 0.0, z), axis, (-lim, lim))
        if yaw:
            b.cylinder(name, "arm", [0.0, 0.0, z + 0.04 * s], 0.8 * r, 0.08 * s, 2)
            z += 0.08 * s + GAP
        else:
            b.box(name, "arm", [-a / 2, -a / 2, z], [a / 2, a / 2, z + length])
            z += length + GAP
        parent = name
    b.box(parent, "handle", [-a, -a, z], [a, a, z + 0.06 * s])


def flap_on(b: Builder, rng: np.random.Generator, parent: str) -> str:
    """A flap on a drawer's front or a hatch on a door (a revolute child of ``parent``),
    hinged at its bottom edge on the panel, clear of the parent's handle."""
    link = b.links[parent]
    panel = link.pieces[0][1]  # the door panel / drawer front box
    lo, hi = panel.min(0), panel.max(0)
    span = hi - lo
    door = link.joint is not None and link.joint.type == "revolute"
    fx = (0.3, 0.7) if door else (0.7, 0.95)
    fz = (0.25, 0.55) if door else (0.62, 0.9)
    x0, x1 = lo[0] + fx[0] * span[0], lo[0] + fx[1] * span[0]
    z0, z1 = lo[2] + fz[0] * span[2], lo[2] + fz[1] * span[2]
    name, yb = f"{parent}_flap", lo[1] - GAP
    b.link(
        name, parent, "revolute", (x0, yb, z0), (1.0, 0.0, 0.0), (0.0, float(rng.uniform(1.0, 1.6)))
    )
    b.box(name, "flap", [x0, yb - 0.01 * b.uv_scale, z0], [x1, yb, z1])
    return name


def lid(b: Builder, rng: np.random.Generator, w: float, d: float, h: float) -> None:
    """A lid on the carcass top, hinged along the back edge, lifting its front edge."""
    t, zl = 0.015 * b.uv_scale, h + GAP
    b.link(
        "lid",
        "body",
        "revolute",
        (0.0, d / 2, zl),
        (-1.0, 0.0, 0.0),
        (0.0, float(rng.uniform(1.2, 2.6))),
    )
    b.box("lid", "lid", [-w / 2, -d / 2, zl], [w / 2, d / 2, zl + t])
