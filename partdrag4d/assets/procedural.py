"""A seeded library of procedural articulated objects, written as URDF folders.

Every object goes through the same path as a user's asset: :func:`write_procedural` writes
``model.urdf`` + ``meshes/<link>.obj`` / ``.mtl`` + ``textures/<link>_<material>.png`` with
relative paths, and callers read it back with :func:`partdrag4d.assets.urdf.load_urdf`.

Frame conventions of every generated object:
- metres, right-handed, **+Z up**; the object **stands on z = 0** (its lowest point is at
  z = 0) and is centred on x = 0, y = 0 (bounding box centre in x and y);
- the **front faces -Y**: doors and drawers open toward -Y, laptop screens and lamp heads
  face -Y;
- every link frame sits at its joint pivot with the same orientation as the world at rest
  (all joint ``rpy`` are zero), so joint ``origin xyz`` values are pivot offsets;
- every joint value 0 is the rest state and lies inside the limits; for most joints the
  rest state is the lower limit (closed), the laptop lid and desk-lamp arms can move both
  ways. Doors open up to ~1.6 rad, drawers slide out up to 0.8 of their own depth.

Geometry is boxes and cylinders (closed, outward-facing, with UVs); parts that move are kept
a few millimetres apart at rest so they never interpenetrate. UVs come from the rest-state
world coordinates divided by the object size, so texture density is uniform and all UVs lie
in [0, 1]. Each link gets its own hue (handles and knobs a dark neutral), and with
``textured=True`` a seeded 256x256 PNG (wood grain, noise, stripes or checker). Output is a
deterministic function of the config (same seed, same bytes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from partdrag4d.assets.builder import (
    GAP,
    Appearance,
    Builder,
    carcass,
    recentre,
    write_urdf,
)

CATEGORIES: tuple[str, ...] = (
    "cabinet",
    "drawers",
    "fridge",
    "oven",
    "laptop",
    "box",
    "washer",
    "microwave",
    "desk_lamp",
    "cabinet_drawer",
)
"""Categories :func:`write_procedural` can build. Two have two-level chains: ``desk_lamp``
(two revolute arms in series) and ``cabinet_drawer`` (a drawer whose front carries a hinged
flap: a revolute joint whose parent link is prismatic)."""


@dataclass
class ProceduralConfig:
    """What to generate."""

    category: str = "cabinet"
    """One of :data:`CATEGORIES`."""
    seed: int = 0
    """Seed of every random choice (sizes, proportions, joint placement, colours, textures)."""
    textured: bool = True
    """Write PNG textures (True) or plain coloured materials (False)."""
    texture_size: int = 256
    """Texture side in pixels."""
    scale: float = 1.0
    """Uniform scale applied to the sampled sizes."""


# --------------------------------------------------------------------------- categories
# Each builder places geometry in world coordinates (z up, floor z=0, front -Y) and returns
# nothing; link names are the URDF link names.


def _hinged_door(
    b: Builder,
    name: str,
    parent: str,
    x_lo: float,
    x_hi: float,
    z_lo: float,
    z_hi: float,
    y_front: float,
    thick: float,
    hinge_left: bool,
    max_open: float,
) -> None:
    """A vertical door in front of ``y_front`` hinged on its left or right edge."""
    y_back = y_front - GAP
    hx = x_lo if hinge_left else x_hi
    # The door swings toward -Y: about -Z for a left hinge, +Z for a right hinge.
    axis = (0.0, 0.0, -1.0) if hinge_left else (0.0, 0.0, 1.0)
    b.link(name, parent, "revolute", (hx, y_back, z_lo), axis, (0.0, max_open))
    b.box(name, "door", [x_lo, y_back - thick, z_lo], [x_hi, y_back, z_hi])
    # handle near the free edge
    hw = min(0.02, 0.1 * (x_hi - x_lo))
    hz = 0.3 * (z_hi - z_lo)
    zc = (z_lo + z_hi) / 2
    xh = x_hi - 0.06 * (x_hi - x_lo) - hw if hinge_left else x_lo + 0.06 * (x_hi - x_lo)
    b.box(
        name,
        "handle",
        [xh, y_back - thick - 0.025, zc - hz / 2],
        [xh + hw, y_back - thick, zc + hz / 2],
    )


def _cabinet(b: Builder, rng: np.random.Generator, s: float) -> None:
    w, d, h = rng.uniform(0.5, 1.0) * s, rng.uniform(0.35, 0.55) * s, rng.uniform(0.6, 1.2) * s
    t, plinth = 0.02 * s, rng.uniform(0.0, 0.08) * s
    b.link("base")
    carcass(b, "base", w, d, h, t, plinth)
    if plinth > 0.01:
        b.box("base", "body", [-w / 2 + t, -d / 2 + 0.03 * s, 0], [w / 2 - t, d / 2 - t, plinth])
    zshelf = plinth + rng.uniform(0.4, 0.6) * h
    b.box("base", "body", [-w / 2 + t, -d / 2 + t, zshelf], [w / 2 - t, d / 2 - t, zshelf + t])
    yf, thick = -d / 2, 0.02 * s
    max_open = float(rng.uniform(1.4, 1.6))
    if w > 0.7 * s or rng.random() < 0.4:  # wide cabinets get two doors
        _hinged_door(
            b, "door_left", "base", -w / 2, -GAP, plinth, plinth + h, yf, thick, True, max_open
        )
        _hinged_door(
            b, "door_right", "base", GAP, w / 2, plinth, plinth + h, yf, thick, False, max_open
        )
    else:
        _hinged_door(
            b,
            "door",
            "base",
            -w / 2,
            w / 2,
            plinth,
            plinth + h,
            yf,
            thick,
            rng.random() < 0.5,
            max_open,
        )


def _drawer(
    b: Builder,
    name: str,
    parent: str,
    x0: float,
    x1: float,
    z0: float,
    z1: float,
    d: float,
    s: float,
) -> None:
    """A drawer filling the opening x0..x1, z0..z1 of a carcass of depth d (front at -d/2)."""
    yf = -d / 2
    t = 0.012 * s
    depth = 0.85 * d
    b.link(name, parent, "prismatic", ((x0 + x1) / 2, yf, z0), (0.0, -1.0, 0.0), (0.0, 0.8 * depth))
    # front panel just in front of the carcass
    b.box(
        name,
        "front",
        [x0 - 0.008 * s, yf - GAP - 0.02 * s, z0 - 0.004 * s],
        [x1 + 0.008 * s, yf - GAP, z1 - 0.004 * s],
    )
    # tray inside the opening (clear of the carcass by GAP)
    xa, xb, za, zb = x0 + GAP, x1 - GAP, z0 + GAP, z0 + 0.75 * (z1 - z0)
    ya, yb = yf - GAP, yf + depth
    b.box(name, "front", [xa, ya, za], [xb, yb, za + t])  # bottom
    b.box(name, "front", [xa, ya, za + t], [xa + t, yb, zb])  # left
    b.box(name, "front", [xb - t, ya, za + t], [xb, yb, zb])  # right
    b.box(name, "front", [xa + t, yb - t, za + t], [xb - t, yb, zb])  # back
    hw, zc = 0.3 * (x1 - x0), (z0 + z1) / 2
    b.box(
        name,
        "handle",
        [-hw / 2 + (x0 + x1) / 2, yf - GAP - 0.045 * s, zc - 0.01 * s],
        [hw / 2 + (x0 + x1) / 2, yf - GAP - 0.02 * s, zc + 0.01 * s],
    )


def _drawers(b: Builder, rng: np.random.Generator, s: float) -> None:
    w, d, h = rng.uniform(0.5, 1.0) * s, rng.uniform(0.35, 0.55) * s, rng.uniform(0.5, 1.2) * s
    t, n = 0.02 * s, int(rng.integers(2, 5))
    b.link("base")
    carcass(b, "base", w, d, h, t, 0.0)
    # unequal drawer heights (deeper at the bottom), like real chests
    weights = np.sort(rng.uniform(0.8, 1.3, n))[::-1]
    inner = h - 2 * t - (n - 1) * t
    hs = inner * weights / weights.sum()
    z = t
    for i in range(n):
        _drawer(b, f"drawer_{i}", "base", -w / 2 + t, w / 2 - t, z, z + hs[i], d, s)
        z += hs[i]
        if i < n - 1:
            b.box("base", "body", [-w / 2 + t, -d / 2, z], [w / 2 - t, d / 2 - t, z + t])
            z += t


def _fridge(b: Builder, rng: np.random.Generator, s: float) -> None:
    w, d, h = rng.uniform(0.55, 0.8) * s, rng.uniform(0.55, 0.7) * s, rng.uniform(1.2, 1.5) * s
    t = 0.03 * s
    b.link("body")
    carcass(b, "body", w, d, h, t, 0.0)
    zsplit = h * rng.uniform(0.28, 0.4)  # freezer at the bottom or top
    freezer_top = rng.random() < 0.5
    if freezer_top:
        zsplit = h - zsplit
    b.box(
        "body", "body", [-w / 2 + t, -d / 2, zsplit - t / 2], [w / 2 - t, d / 2 - t, zsplit + t / 2]
    )
    for zs in rng.uniform(0.2, 0.8, 2):
        lo, hi = (zsplit + t, h - t) if not freezer_top else (t, zsplit - t)
        zz = lo + zs * (hi - lo)
        b.box(
            "body",
            "body",
            [-w / 2 + t, -d / 2 + 0.08 * s, zz],
            [w / 2 - t, d / 2 - t, zz + 0.01 * s],
        )
    hinge_left = rng.random() < 0.5
    thick, mo = 0.05 * s, float(rng.uniform(1.45, 1.6))
    _hinged_door(
        b, "door_lower", "body", -w / 2, w / 2, 0.0, zsplit - GAP, -d / 2, thick, hinge_left, mo
    )
    _hinged_door(
        b, "door_upper", "body", -w / 2, w / 2, zsplit + GAP, h, -d / 2, thick, hinge_left, mo
    )


def _oven(b: Builder, rng: np.random.Generator, s: float) -> None:
    w, d, h = rng.uniform(0.5, 0.75) * s, rng.uniform(0.5, 0.65) * s, rng.uniform(0.8, 0.95) * s
    t, plinth = 0.03 * s, rng.uniform(0.06, 0.12) * s
    panel = rng.uniform(0.1, 0.15) * s
    b.link("body")
    carcass(b, "body", w, d, h - plinth - panel, t, plinth)
    b.box("body", "body", [-w / 2, -d / 2 + 0.03 * s, 0.0], [w / 2, d / 2, plinth])  # plinth
    b.box("body", "panel", [-w / 2, -d / 2, h - panel], [w / 2, d / 2, h])  # control panel
    for xk in np.linspace(-w / 3, w / 3, int(rng.integers(3, 6))):
        b.cylinder("body", "handle", [xk, -d / 2 - 0.01 * s, h - panel / 2], 0.022 * s, 0.02 * s, 1)
    zb, zt = plinth, h - panel - GAP
    yb = -d / 2 - GAP
    thick = 0.04 * s
    # Bottom hinge: rotating about +X tips the door top toward -Y.
    b.link(
        "door",
        "body",
        "revolute",
        (0.0, yb, zb),
        (1.0, 0.0, 0.0),
        (0.0, float(rng.uniform(1.4, 1.57))),
    )
    b.box("door", "door", [-w / 2, yb - thick, zb], [w / 2, yb, zt])
    zh = zt - 0.12 * (zt - zb)
    b.cylinder("door", "handle", [0.0, yb - thick - 0.035 * s, zh], 0.012 * s, 0.7 * w, 0)
    for xs in (-0.3 * w, 0.3 * w):
        b.box(
            "door",
            "handle",
            [xs - 0.01 * s, yb - thick - 0.035 * s, zh - 0.01 * s],
            [xs + 0.01 * s, yb - thick, zh + 0.01 * s],
        )


def _laptop(b: Builder, rng: np.random.Generator, s: float) -> None:
    w, d = rng.uniform(0.3, 0.42) * s, rng.uniform(0.22, 0.3) * s
    tb, tl = rng.uniform(0.015, 0.025) * s, rng.uniform(0.006, 0.012) * s
    lid_h = d * rng.uniform(0.9, 1.0)
    b.link("base")
    b.box("base", "body", [-w / 2, -d / 2, 0.0], [w / 2, d / 2, tb])
    b.box("base", "keys", [-0.4 * w, -0.1 * d, tb], [0.4 * w, 0.4 * d, tb + 0.002 * s])
    b.box("base", "keys", [-0.12 * w, -0.45 * d, tb], [0.12 * w, -0.2 * d, tb + 0.001 * s])
    # Lid upright at rest behind the keyboard; axis -X: positive values tilt it back (open
    # further), negative values close it onto the base.
    yh, zh = d / 2 - tl, tb + GAP
    b.link(
        "lid",
        "base",
        "revolute",
        (0.0, yh, zh),
        (-1.0, 0.0, 0.0),
        (-1.45, float(rng.uniform(0.4, 0.7))),
    )
    b.box("lid", "lid", [-w / 2, yh, zh], [w / 2, yh + tl, zh + lid_h])
    b.box(
        "lid",
        "screen",
        [-0.45 * w, yh - 0.001 * s, zh + 0.06 * lid_h],
        [0.45 * w, yh, zh + 0.94 * lid_h],
    )


def _box(b: Builder, rng: np.random.Generator, s: float) -> None:
    w, d, h = rng.uniform(0.35, 0.8) * s, rng.uniform(0.3, 0.6) * s, rng.uniform(0.25, 0.6) * s
    t = rng.uniform(0.012, 0.025) * s
    b.link("base")
    b.box("base", "body", [-w / 2, -d / 2, 0.0], [w / 2, d / 2, t])
    b.box("base", "body", [-w / 2, -d / 2, t], [-w / 2 + t, d / 2, h])
    b.box("base", "body", [w / 2 - t, -d / 2, t], [w / 2, d / 2, h])
    b.box("base", "body", [-w / 2 + t, -d / 2, t], [w / 2 - t, -d / 2 + t, h])
    b.box("base", "body", [-w / 2 + t, d / 2 - t, t], [w / 2 - t, d / 2, h])
    # Lid hinged along the back top edge; axis -X lifts its front edge (-Y side) up.
    zl = h + GAP
    b.link(
        "lid",
        "base",
        "revolute",
        (0.0, d / 2, zl),
        (-1.0, 0.0, 0.0),
        (0.0, float(rng.uniform(1.6, 2.0))),
    )
    b.box("lid", "lid", [-w / 2, -d / 2, zl], [w / 2, d / 2, zl + t])
    b.box("lid", "handle", [-0.15 * w, -d / 2 - 0.02 * s, zl], [0.15 * w, -d / 2, zl + t])


def _washer(b: Builder, rng: np.random.Generator, s: float) -> None:
    w, d, h = rng.uniform(0.55, 0.65) * s, rng.uniform(0.5, 0.65) * s, rng.uniform(0.8, 0.9) * s
    b.link("body")
    panel = 0.12 * s
    b.box("body", "body", [-w / 2, -d / 2, 0.0], [w / 2, d / 2, h - panel])
    b.box("body", "panel", [-w / 2, -d / 2, h - panel], [w / 2, d / 2, h])
    b.cylinder("body", "handle", [0.3 * w, -d / 2 - 0.01 * s, h - panel / 2], 0.03 * s, 0.02 * s, 1)
    r = rng.uniform(0.3, 0.38) * w
    zc = (h - panel) * rng.uniform(0.5, 0.58)
    b.cylinder("body", "drum", [0.0, -d / 2 - 0.001 * s, zc], 0.85 * r, 0.002 * s, 1)
    thick, yb = 0.04 * s, -d / 2 - 0.002 * s - GAP
    b.link(
        "door",
        "body",
        "revolute",
        (-r, yb, zc),
        (0.0, 0.0, -1.0),
        (0.0, float(rng.uniform(1.5, 1.75))),
    )
    b.cylinder("door", "door", [0.0, yb - thick / 2, zc], r, thick, 1)
    b.box(
        "door",
        "handle",
        [0.7 * r, yb - thick - 0.02 * s, zc - 0.05 * s],
        [0.85 * r, yb - thick, zc + 0.05 * s],
    )


def _microwave(b: Builder, rng: np.random.Generator, s: float) -> None:
    w, d, h = rng.uniform(0.45, 0.6) * s, rng.uniform(0.35, 0.45) * s, rng.uniform(0.28, 0.35) * s
    t = 0.02 * s
    pw = rng.uniform(0.22, 0.3) * w  # control panel width
    b.link("body")
    carcass(b, "body", w, d, h, t, 0.0)
    b.box("body", "panel", [w / 2 - pw, -d / 2, t], [w / 2 - t, d / 2 - t, h - t])
    for zk in (0.35 * h, 0.65 * h):
        b.cylinder("body", "handle", [w / 2 - pw / 2, -d / 2 - 0.01 * s, zk], 0.02 * s, 0.02 * s, 1)
    _hinged_door(
        b,
        "door",
        "body",
        -w / 2,
        w / 2 - pw - GAP,
        0.0,
        h,
        -d / 2,
        0.025 * s,
        True,
        float(rng.uniform(1.5, 1.7)),
    )


def _desk_lamp(b: Builder, rng: np.random.Generator, s: float) -> None:
    rb, tb = rng.uniform(0.08, 0.12) * s, 0.025 * s
    l1, l2 = rng.uniform(0.3, 0.45) * s, rng.uniform(0.25, 0.4) * s
    a = 0.02 * s  # arm cross-section
    b.link("base")
    b.cylinder("base", "body", [0.0, 0.0, tb / 2], rb, tb, 2)
    b.cylinder("base", "handle", [0.0, 0.0, tb + 0.02 * s], 0.02 * s, 0.04 * s, 2)
    z1 = tb + 0.04 * s + GAP
    # Both joints turn about +X: the arms swing in the Y-Z plane and positive values tip the
    # arm's far end toward -Y (forward).
    b.link("lower_arm", "base", "revolute", (0.0, 0.0, z1), (1.0, 0.0, 0.0), (-0.5, 0.7))
    b.box("lower_arm", "arm", [-a / 2, -a / 2, z1], [a / 2, a / 2, z1 + l1])
    z2 = z1 + l1 + GAP
    b.link("upper_arm", "lower_arm", "revolute", (0.0, 0.0, z2), (1.0, 0.0, 0.0), (-0.6, 0.9))
    # elbow knuckle: round cap over the pivot, clear of the lower arm at rest
    b.cylinder("upper_arm", "handle", [0.0, 0.0, z2 + a / 2], a / 2, 1.6 * a, 0)
    b.box("upper_arm", "arm2", [-a / 2, -l2, z2], [a / 2, a / 2, z2 + a])
    # shade hangs below the far end, opening downward, facing -Y
    rh = rng.uniform(0.05, 0.08) * s
    b.cylinder("upper_arm", "shade", [0.0, -l2, z2 - 0.06 * s], rh, 0.12 * s, 2)


def _cabinet_drawer(b: Builder, rng: np.random.Generator, s: float) -> None:
    """A chest whose top drawer carries a hinged flap: revolute child of a prismatic link."""
    w, d, h = rng.uniform(0.5, 0.9) * s, rng.uniform(0.35, 0.5) * s, rng.uniform(0.5, 0.9) * s
    t = 0.02 * s
    b.link("base")
    carcass(b, "base", w, d, h, t, 0.0)
    zmid = t + rng.uniform(0.45, 0.6) * (h - 2 * t)
    b.box("base", "body", [-w / 2 + t, -d / 2, zmid], [w / 2 - t, d / 2 - t, zmid + t])
    _drawer(b, "drawer", "base", -w / 2 + t, w / 2 - t, zmid + t, h - t, d, s)
    # lower compartment closed by a door
    _hinged_door(
        b,
        "door",
        "base",
        -w / 2,
        w / 2,
        0.0,
        zmid + t - 0.004 * s - GAP,  # below the drawer front's overhang
        -d / 2,
        0.02 * s,
        rng.random() < 0.5,
        1.5,
    )
    # flap: a small lid on the drawer's front panel hinged at its bottom edge
    link = b.links["drawer"]
    pv = link.pivot
    y_front = -d / 2 - GAP - 0.02 * s
    zlo = pv[2] + 0.55 * (h - t - zmid - t)
    zhi = h - t - 0.02 * s
    # beside the drawer handle (which spans x = +-0.15 w), so the two never touch
    fx0, fx1 = 0.2 * w, 0.45 * w - t
    b.link("flap", "drawer", "revolute", (fx0, y_front - GAP, zlo), (1.0, 0.0, 0.0), (0.0, 1.3))
    b.box("flap", "flap", [fx0, y_front - GAP - 0.012 * s, zlo], [fx1, y_front - GAP, zhi])


_BUILDERS: dict[str, Callable[[Builder, np.random.Generator, float], None]] = {
    "cabinet": _cabinet,
    "drawers": _drawers,
    "fridge": _fridge,
    "oven": _oven,
    "laptop": _laptop,
    "box": _box,
    "washer": _washer,
    "microwave": _microwave,
    "desk_lamp": _desk_lamp,
    "cabinet_drawer": _cabinet_drawer,
}
assert set(_BUILDERS) == set(CATEGORIES)

_SIZE_HINT = {"laptop": 0.6, "desk_lamp": 1.0, "microwave": 0.8, "box": 1.0}
"""Approximate largest extent (m) per category; sets UV density (default 1.6 m)."""


# --------------------------------------------------------------------------- writing


def write_procedural(cfg: ProceduralConfig, out_dir: Path | str) -> Path:
    """Build a procedural articulated object and write it as a URDF folder.

    Args:
        cfg: category, seed and appearance options.
        out_dir: folder to write (created; existing files of the same names are replaced).

    Returns:
        Path of ``out_dir/model.urdf``.

    Raises:
        ValueError: unknown category.
    """
    if cfg.category not in _BUILDERS:
        raise ValueError(f"unknown category {cfg.category!r}; expected one of {CATEGORIES}")
    # Separate streams so geometry does not change when textures are toggled.
    geo_rng, col_rng, tex_rng = (
        np.random.default_rng([cfg.seed, CATEGORIES.index(cfg.category), k]) for k in range(3)
    )
    b = Builder(geo_rng, _SIZE_HINT.get(cfg.category, 1.6) * cfg.scale)
    _BUILDERS[cfg.category](b, geo_rng, cfg.scale)
    recentre(b)
    look = Appearance(textured=cfg.textured, texture_size=cfg.texture_size)
    return write_urdf(b, f"{cfg.category}_{cfg.seed}", Path(out_dir), look, col_rng, tex_rng)
