"""An articulation hypothesis as analysis by synthesis handles it, and the joint fits
that turn per-part poses into a kinematic tree (pure functions, no rendering)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from jaxtyping import Float

from partdrag4d.containers import Articulation, Joint
from partdrag4d.geometry.se3 import invert_T
from partdrag4d.reconstruct.joints import (
    JointFit,
    JointSelectConfig,
    joint_transforms,
    select_joint,
)
from partdrag4d.reconstruct.model_score import Hypothesis


@dataclass(frozen=True)
class Model:
    """An articulation hypothesis as the model-fit step handles it."""

    vertex_part: np.ndarray
    """Part of every rest vertex (0 = base; parents have lower indices)."""
    face_part: np.ndarray
    """Part of every face."""
    parents: tuple[int, ...]
    """Parent of every part (the base's is -1)."""
    fits: tuple[JointFit | None, ...]
    """Joint of every part relative to its parent (None for the base)."""
    T_world: Float[np.ndarray, "T P 4 4"]
    """Modelled world-from-rest pose of every part per frame."""
    view_scale: Float[np.ndarray, "V P"] | None = None
    """How far each view sees each joint move, as a factor of its values (generated
    views disagree on amplitude); None: every view sees the values themselves."""

    def fit(self, part: int) -> JointFit:
        """The joint of a part other than the base."""
        return joint_of(self.fits, part)

    @property
    def joint_fits(self) -> tuple[JointFit, ...]:
        """The joints of parts 1..P-1, in part order."""
        return tuple(joint_of(self.fits, p) for p in range(1, len(self.fits)))

    def view_poses(self, view_scale: np.ndarray) -> Float[np.ndarray, "V T P 4 4"]:
        """World poses of every part as each view sees them (values scaled per view)."""
        T = self.T_world.shape[0]
        out = []
        for scale in view_scale:
            out.append(compose(self.parents, scaled_fits(self.fits, scale), T))
        return np.stack(out)

    def hypothesis(self) -> Hypothesis:
        if self.view_scale is None:
            return Hypothesis(self.vertex_part, self.T_world)
        return Hypothesis(self.vertex_part, self.view_poses(self.view_scale))


def fit_motion(fit: JointFit) -> Float[np.ndarray, "T 4 4"]:
    """The joint's relative motion per frame (child in its parent's frame)."""
    return joint_transforms(fit.type, fit.axis, fit.origin, fit.values)


def joint_of(fits: Sequence[JointFit | None], part: int) -> JointFit:
    """``fits[part]``, which is a joint for every part but the base (index 0)."""
    fit = fits[part]
    if fit is None:
        raise ValueError(f"part {part} has no joint: it is the base")
    return fit


def scaled_fits(fits: tuple[JointFit | None, ...], factors: np.ndarray) -> tuple:
    """The joints with every part's values multiplied by its factor."""
    return tuple(
        None if f is None else replace(f, values=f.values * factors[p]) for p, f in enumerate(fits)
    )


def compose(parents: tuple[int, ...], fits: tuple[JointFit | None, ...], T: int) -> np.ndarray:
    """World poses (T, P, 4, 4) of a tree of joints, parents before children."""
    out = np.tile(np.eye(4), (T, len(parents), 1, 1))
    for p in range(1, len(parents)):
        out[:, p] = out[:, parents[p]] @ fit_motion(joint_of(fits, p))
    return out


def part_points(rest: np.ndarray, vertex_part: np.ndarray, part: int, most: int) -> np.ndarray:
    """At most ``most`` rest vertices of ``part`` (evenly spaced)."""
    X = rest[vertex_part == part]
    if len(X) > most:
        X = X[np.linspace(0, len(X) - 1, most).astype(int)]
    return X


def fit_parent_joint(
    poses: Float[np.ndarray, "T 4 4"],
    X: Float[np.ndarray, "N 3"],
    candidates: dict[int, np.ndarray],
    diag: float,
    cfg: JointSelectConfig,
) -> tuple[int, JointFit]:
    """The parent among ``candidates`` (index -> modelled poses, T 4 4) relative to
    which a joint best explains the part's ``poses``, and that joint. The base (index
    0) wins when its residual is within the noise floor of the best (the simpler
    tree)."""
    fits = {q: select_joint(invert_T(Tq) @ poses, X, diag, cfg) for q, Tq in candidates.items()}
    best = min(fits, key=lambda q: fits[q].residual)
    if 0 in fits and fits[0].residual <= fits[best].residual + cfg.noise_floor * diag:
        best = 0
    return best, fits[best]


def joints_from_poses(
    poses: Float[np.ndarray, "T P 4 4"],
    vertex_part: np.ndarray,
    rest: np.ndarray,
    diag: float,
    source: str,
    max_points: int,
    joint_cfg: JointSelectConfig,
    parents: tuple[int, ...] | None = None,
) -> tuple[tuple[int, ...], tuple[JointFit | None, ...], np.ndarray]:
    """(parents, joints, modelled poses) explaining per-part world ``poses``; parents
    are chosen among the base and lower-indexed parts unless given."""
    T, P = poses.shape[:2]
    T_model = np.tile(np.eye(4), (T, P, 1, 1))
    par: list[int] = [-1]
    fits: list[JointFit | None] = [None]
    for p in range(1, P):
        X = part_points(rest, vertex_part, p, max_points)
        pool = range(p) if parents is None else [parents[p]]
        q, fit = fit_parent_joint(poses[:, p], X, {q: T_model[:, q] for q in pool}, diag, joint_cfg)
        fit = replace(fit, source=source)
        T_model[:, p] = T_model[:, q] @ fit_motion(fit)
        par.append(q)
        fits.append(fit)
    return tuple(par), tuple(fits), T_model


def descendants(parents: tuple[int, ...], part: int) -> set[int]:
    """Every part below ``part`` in the tree."""
    out: set[int] = set()
    for p in range(len(parents)):
        a = parents[p]
        while a > 0 and a != part:
            a = parents[a]
        if a == part and p != part:
            out.add(p)
    return out


def merge_targets(model: Model, part: int, rest: np.ndarray, most: int) -> list[int]:
    """Where ``part`` may be merged: its parent, then the ``most`` parts (not below it)
    whose vertices come closest to its own."""
    from scipy.spatial import KDTree

    below = descendants(model.parents, part) | {part, model.parents[part]}
    others = [q for q in range(len(model.parents)) if q not in below]
    tree = KDTree(rest[model.vertex_part == part])
    gap = {q: float(tree.query(rest[model.vertex_part == q])[0].min()) for q in others}
    return [model.parents[part]] + sorted(gap, key=gap.__getitem__)[:most]


def folded(
    model: Model,
    part: int,
    rest: np.ndarray,
    diag: float,
    max_points: int,
    joint_cfg: JointSelectConfig,
    into: int | None = None,
) -> Model:
    """``part`` merged into ``into`` (by default its parent): its vertices and faces
    follow ``into``, its children hang from its parent and their joints are refitted to
    the same world poses."""
    q = model.parents[part]
    into = q if into is None else into
    keep = [p for p in range(len(model.parents)) if p != part]
    new = {old: i for i, old in enumerate(keep)}
    remap = np.array([new[into] if p == part else new[p] for p in range(len(model.parents))])
    parents = tuple(
        -1 if p == 0 else new[q if model.parents[p] == part else model.parents[p]] for p in keep
    )
    vertex_part, face_part = remap[model.vertex_part], remap[model.face_part]
    refit = {new[p] for p in keep if model.parents[p] == part} | {new[into]} - {0}
    T_world = model.T_world[:, keep]
    fits: list[JointFit | None] = [model.fits[p] for p in keep]
    T_model = np.tile(np.eye(4), (T_world.shape[0], len(keep), 1, 1))
    for i in range(1, len(keep)):
        if i in refit:
            X = part_points(rest, vertex_part, i, max_points)
            _, fit = fit_parent_joint(
                T_world[:, i], X, {parents[i]: T_model[:, parents[i]]}, diag, joint_cfg
            )
            fits[i] = replace(fit, source=joint_of(fits, i).source)
        T_model[:, i] = T_model[:, parents[i]] @ fit_motion(joint_of(fits, i))
    scale = None if model.view_scale is None else model.view_scale[:, keep]
    return Model(vertex_part, face_part, parents, tuple(fits), T_model, scale)


def from_articulation(art: Articulation) -> Model:
    """The proposal as a model (its joints keep their recorded source)."""
    index = {n: i for i, n in enumerate(art.part_names)}
    P = len(art.part_names)
    parents: list[int] = [-1] * P
    fits: list[JointFit | None] = [None] * P
    sources = art.extras.get("joint_source", {})
    for j in art.joints:
        c = index[j.child]
        parents[c] = index[j.parent]
        fits[c] = JointFit(j.type, j.axis, j.origin, j.values, 0.0, sources.get(j.name, "tracks"))
    return Model(art.vertex_part, art.face_part, tuple(parents), tuple(fits), art.T_world_part)


def to_articulation(model: Model, template: Articulation) -> Articulation:
    """The model as an :class:`Articulation` (names by index, extras updated)."""
    P = len(model.parents)
    names = ["base"] + [f"part_{i}" for i in range(1, P)]
    joints, source = [], {}
    for i in range(1, P):
        f = model.fit(i)
        joints.append(
            Joint(
                name=f"joint_{i}",
                type=f.type,
                parent=names[model.parents[i]],
                child=names[i],
                axis=f.axis,
                origin=f.origin,
                values=f.values,
                limits=(float(f.values.min()), float(f.values.max())),
            )
        )
        source[f"joint_{i}"] = f.source
    extras = dict(template.extras)
    extras.update(
        joint_source=source,
        points_per_part=[int(np.sum(model.vertex_part == m)) for m in range(P)],
    )
    if model.view_scale is not None:
        extras["view_amplitude"] = {
            f"joint_{i}": [round(float(s), 4) for s in model.view_scale[:, i]] for i in range(1, P)
        }
    return replace(
        template,
        part_names=tuple(names),
        vertex_part=model.vertex_part,
        face_part=model.face_part,
        T_world_part=model.T_world,
        joints=tuple(joints),
        extras=extras,
    )
