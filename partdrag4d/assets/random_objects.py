"""Random articulated objects, written as URDF folders (benchmark and training source).

The category library (assets/procedural.py) draws ten object kinds in one pose. This
generator draws objects the project was not written around, so a benchmark over them
cannot be tuned case by case:

- a body (an open-front carcass) whose front is split into a grid of cells, each holding
  a door hinged on any side (left, right, top, bottom; opening up to 150°), a drawer
  (full extension, or only a thin front panel) or a panel sliding sideways or up;
  doors stacked in one column share their hinge axis;
- extras: a lid on top, a small hatch on a side wall or a foot pedal (2-5 % of the
  surface), a flap hinged on a drawer or a hatch on a door (a chain of depth 2) and a
  hatch on that flap (depth 3), or a two- or three-joint arm instead of a body;
- textured, weakly textured (low-contrast pattern and grain) or plain materials;
- the whole object turned by any yaw and a small pitch and roll on a mount joint (as an
  asset placed in a scene), its largest extent drawn log-uniformly in 0.2-3 m.

Families select the mix: ``household`` (1-4 parts), ``chains`` (nested chains),
``many_part`` (5-8 parts), ``thin_small`` (thin drawers, small parts) and ``plain``
(household objects without texture). Output is a deterministic function of the config.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from partdrag4d.assets.builder import (
    GAP,
    Appearance,
    Builder,
    JointDef,
    carcass,
    recentre,
    write_urdf,
)
from partdrag4d.assets.random_parts import (
    RECESS,
    arm,
    door,
    drawer,
    flap_on,
    lid,
    slider,
    small_part,
)

FAMILIES: tuple[str, ...] = ("household", "chains", "many_part", "thin_small", "plain")
"""Families :func:`write_random_object` can draw."""

_PARTS = {"household": (1, 4), "chains": (2, 4), "many_part": (5, 8), "thin_small": (2, 4)}
_PARTS["plain"] = _PARTS["household"]
APPEARANCES = {
    "textured": Appearance(textured=True),
    "weak": Appearance(textured=True, contrast=0.06, grain=0.03),
    "plain": Appearance(textured=False),
}
"""Material looks: full texture, weak texture (hard for flow), plain colour."""


@dataclass(frozen=True)
class RandomObjectConfig:
    """What to draw."""

    family: str = "household"
    """One of :data:`FAMILIES`."""
    seed: int = 0
    """Seed of every random choice."""
    num_parts: int = 0
    """Moving parts (movable joints); 0 draws it from the family's range."""
    max_tilt_deg: float = 10.0
    """Pitch and roll of the whole object are uniform in +- this."""
    min_size: float = 0.2
    """Smallest largest-extent of the object (m)."""
    max_size: float = 3.0
    """Largest largest-extent of the object (m)."""


@dataclass(frozen=True)
class RandomObject:
    """What was drawn (also written to ``object.json`` beside ``model.urdf``)."""

    urdf: str
    family: str
    seed: int
    appearance: str
    size_m: float
    rpy: tuple[float, float, float]
    joints: dict[str, str]
    """Movable joint name -> type (``revolute``/``prismatic``)."""
    depth: int
    """Longest chain of movable joints from the base."""
    small_parts: tuple[str, ...]
    """Links drawn at 2-5 % of the surface."""
    thin_parts: tuple[str, ...]
    """Drawers that are only a front panel."""


# --------------------------------------------------------------------------- layout


def _cells(w: float, z0: float, h: float, rows: int, cols: int, t: float):
    """Front rectangles (x0, z0, x1, z1) of a rows x cols grid over a front from height
    ``z0`` to ``z0 + h`` and the inner openings behind them (inside the carcass walls
    and the dividers, with clearance)."""
    xs, zs = np.linspace(-w / 2, w / 2, cols + 1), np.linspace(z0, z0 + h, rows + 1)
    out = []
    for r in range(rows):
        for c in range(cols):
            x0, x1, z0, z1 = xs[c], xs[c + 1], zs[r], zs[r + 1]
            front = (x0 + GAP, z0 + GAP, x1 - GAP, z1 - GAP)
            m = lambda edge: (t if edge else t / 2) + GAP  # noqa: E731
            inner = (x0 + m(c == 0), z0 + m(r == 0), x1 - m(c == cols - 1), z1 - m(r == rows - 1))
            out.append((r, c, front, inner))
    return out


def _body(b: Builder, rng, n_cells: int, kinds: list[str], family: str, plinth: float):
    """A carcass on a recessed plinth of height ``plinth`` with ``n_cells`` moving cells
    on its front; returns (w, d, top height) and the drawers that are only a front."""
    w, d, h = rng.uniform(0.5, 1.0), rng.uniform(0.35, 0.7), rng.uniform(0.5, 1.0)
    w, d, h = (x / max(w, d, h) * b.uv_scale for x in (w, d, h))
    t = 0.02 * b.uv_scale
    b.link("body")
    carcass(b, "body", w, d, h, t, plinth)
    if plinth > 0:  # a kick plate set back by RECESS
        b.box("body", "body", [-w / 2, -d / 2 + RECESS * b.uv_scale, 0.0], [w / 2, d / 2, plinth])
    cols = 1 if n_cells <= 2 and rng.random() < 0.6 else 2
    rows = max(1, math.ceil(n_cells / cols))
    cells = _cells(w, plinth, h, rows, cols, t)
    xs, zs = np.linspace(-w / 2, w / 2, cols + 1), np.linspace(plinth, plinth + h, rows + 1)
    for z in zs[1:-1]:
        b.box("body", "body", [-w / 2 + t, -d / 2, z - t / 2], [w / 2 - t, d / 2 - t, z + t / 2])
    for x in xs[1:-1]:
        for r in range(rows):
            lo = [x - t / 2, -d / 2, zs[r] + (t if r == 0 else t / 2)]
            hi = [x + t / 2, d / 2 - t, zs[r + 1] - (t if r == rows - 1 else t / 2)]
            b.box("body", "body", lo, hi)
    column_hinge = {c: str(rng.choice(["left", "right"])) for c in range(cols)}
    thin: list[str] = []
    for k, (_, c, front, inner) in enumerate(cells[:n_cells]):
        kind, name = kinds[k], f"part_{k}"
        if kind == "door":
            hinge = column_hinge[c] if rng.random() < 0.7 else str(rng.choice(["top", "bottom"]))
            door(b, name, "body", front, -d / 2, hinge, float(rng.uniform(1.0, math.radians(150))))
        elif kind == "drawer":
            if family == "thin_small" and rng.random() < 0.7:
                thin.append(name)
            drawer(b, name, "body", front, inner, -d / 2, d, name in thin)
        else:
            slider(b, name, "body", front, -d / 2, str(rng.choice(["left", "right", "up"])))
    return w, d, plinth + h, thin


def _plan(cfg: RandomObjectConfig, rng: np.random.Generator) -> tuple[int, list[str], list[str]]:
    """How many parts, the cell kinds and the extras (lid, hatch, pedal, chain)."""
    lo, hi = _PARTS[cfg.family]
    n = cfg.num_parts or int(rng.integers(lo, hi + 1))
    extras: list[str] = []
    if cfg.family == "chains":
        extras += ["chain", "chain2"] if n >= 3 and rng.random() < 0.5 else ["chain"]
    if cfg.family == "thin_small":
        extras.append(str(rng.choice(["side", "pedal"])))
    if cfg.family in ("household", "many_part", "plain") and rng.random() < 0.3:
        extras.append("lid")
    extras = extras[: max(n - 1, 0)]
    n_cells = n - len(extras)
    weights = {"door": 0.45, "drawer": 0.4, "slider": 0.15}
    if cfg.family == "thin_small":
        weights = {"door": 0.3, "drawer": 0.6, "slider": 0.1}
    kinds = list(rng.choice(list(weights), size=n_cells, p=list(weights.values())))
    if "chain" in extras and not any(k in ("door", "drawer") for k in kinds):
        kinds[0] = "drawer"
    return n, [str(k) for k in kinds], extras


def _surface_area(b: Builder) -> float:
    return float(
        sum(
            0.5
            * np.linalg.norm(
                np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]), axis=1
            ).sum()
            for link in b.links.values()
            for _, v, f, _ in link.pieces
        )
    )


def _depth(b: Builder) -> int:
    def movable_depth(name: str) -> int:
        link = b.links[name]
        if link.parent is None:
            return 0
        own = int(link.joint is not None and link.joint.type != "fixed")
        return own + movable_depth(link.parent)

    return max(movable_depth(n) for n in b.links)


def _mount(b: Builder, rpy: tuple[float, float, float]) -> None:
    """Put the object on a new root link ``mount`` through a fixed joint turned by ``rpy``."""
    root, links = next(iter(b.links)), dict(b.links)
    b.links = {}
    b.link("mount")
    b.links.update(links)
    b.links[root].parent = "mount"
    b.links[root].joint = JointDef("fixed", (1.0, 0.0, 0.0), None, rpy)


def write_random_object(cfg: RandomObjectConfig, out_dir: Path | str) -> RandomObject:
    """Draw a random articulated object and write it as a URDF folder.

    Args:
        cfg: family, seed and ranges.
        out_dir: folder receiving ``model.urdf``, ``meshes/``, ``textures/`` and
            ``object.json`` (created).

    Returns:
        What was drawn.

    Raises:
        ValueError: unknown family, or a part count outside 1-8.
    """
    if cfg.family not in FAMILIES:
        raise ValueError(f"unknown family {cfg.family!r}; expected one of {FAMILIES}")
    if not 0 <= cfg.num_parts <= 8:
        raise ValueError(f"num_parts must be in 1..8 (0 = random), got {cfg.num_parts}")
    geo, col, tex = (
        np.random.default_rng([cfg.seed, FAMILIES.index(cfg.family), k]) for k in range(3)
    )
    size = float(np.exp(geo.uniform(np.log(cfg.min_size), np.log(cfg.max_size))))
    b = Builder(geo, size / 1.1)  # uv_scale = size: every length below is relative to it
    n, kinds, extras = _plan(cfg, geo)
    small: list[str] = []
    thin: list[str] = []
    if cfg.family == "chains" and (n == 3 and geo.random() < 0.5 or n == 2 and geo.random() < 0.3):
        arm(b, geo, n)
    else:
        plinth = 0.1 * size if "pedal" in extras else 0.0
        w, d, h, thin = _body(b, geo, len(kinds), kinds, cfg.family, plinth)
        if "lid" in extras:
            lid(b, geo, w, d, h)
        for where in ("side", "pedal"):
            if where in extras:
                frac = float(geo.uniform(0.02, 0.05))
                box = (w, d, h, plinth)
                small_part(b, where, "body", where, box, frac * _surface_area(b), geo)
                small.append(where)
        if "chain" in extras:
            host = next(f"part_{k}" for k, kind in enumerate(kinds) if kind in ("door", "drawer"))
            flap = flap_on(b, geo, host)
            if "chain2" in extras:  # depth 3: a hatch on the flap
                flap_on(b, geo, flap)
    recentre(b)
    # the whole object turned on a mount joint, as an asset placed in a scene
    tilt = math.radians(cfg.max_tilt_deg)
    rpy = (
        float(geo.uniform(-tilt, tilt)),
        float(geo.uniform(-tilt, tilt)),
        float(geo.uniform(0, 2 * math.pi)),
    )
    _mount(b, rpy)
    look_name = str(geo.choice(["plain", "weak"] if cfg.family == "plain" else list(APPEARANCES)))
    name = f"{cfg.family}_{cfg.seed}"
    urdf = write_urdf(b, name, Path(out_dir), APPEARANCES[look_name], col, tex)
    joints = {
        f"{nm}_joint": lk.joint.type
        for nm, lk in b.links.items()
        if lk.joint and lk.joint.type != "fixed"
    }
    obj = RandomObject(
        str(urdf),
        cfg.family,
        cfg.seed,
        look_name,
        size,
        rpy,
        joints,
        _depth(b),
        tuple(small),
        tuple(thin),
    )
    (Path(out_dir) / "object.json").write_text(json.dumps(asdict(obj), indent=1) + "\n")
    return obj
