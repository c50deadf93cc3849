"""The last step of articulate: no joint leaves it with values no object could have.

A joint whose values are not finite, that turns more than a full turn (``max_turn``) or
slides more than ``max_slide_diag`` bounding-box diagonals, or whose pivot lies more
than ``max_pivot_diag`` diagonals from the object, is a failed fit, not a motion. It is
turned into a fixed joint: the part then moves with its parent (its children keep their
own joints), and ``extras["repaired_joints"]`` says which joint and why. So an absurd
fit never reaches the exporters or the cache.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np

from partdrag4d.containers import Articulation, Joint, JointType, SceneMesh

log = logging.getLogger(__name__)


@dataclass
class SanityConfig:
    """Bounds of a plausible joint."""

    max_turn: float = 2 * np.pi
    """Largest revolute travel (rad) from the rest state."""
    max_slide_diag: float = 3.0
    """Largest prismatic travel, in bounding-box diagonals."""
    max_pivot_diag: float = 10.0
    """Largest distance of a pivot from the object's centre, in diagonals."""


def joint_problem(joint: Joint, centre: np.ndarray, diag: float, cfg: SanityConfig) -> str | None:
    """Why ``joint`` cannot be a real joint of this object, or None."""
    values = np.asarray(joint.values, dtype=np.float64)
    numbers = np.concatenate([values, joint.axis, joint.origin, np.asarray(joint.limits)])
    if not np.all(np.isfinite(numbers)):
        return "non-finite values"
    travel = float(np.abs(values).max(initial=0.0))
    if joint.type is JointType.REVOLUTE and travel > cfg.max_turn:
        return f"turns {travel:.3g} rad (more than {cfg.max_turn:.3g})"
    if joint.type is JointType.PRISMATIC and travel > cfg.max_slide_diag * diag:
        return f"slides {travel:.3g} m (more than {cfg.max_slide_diag:g} diagonals)"
    if joint.type is JointType.REVOLUTE:
        distance = float(np.linalg.norm(joint.origin - centre))
        if distance > cfg.max_pivot_diag * diag:
            limit = f"{cfg.max_pivot_diag:g} diagonals"
            return f"pivot {distance:.3g} m from the object (more than {limit})"
    return None


def sane_articulation(art: Articulation, mesh: SceneMesh, cfg: SanityConfig) -> Articulation:
    """``art`` with every implausible joint made fixed (see the module docstring)."""
    lo, hi = mesh.bounds()
    centre, diag = 0.5 * (lo + hi), float(np.linalg.norm(hi - lo))
    joints, T_world_part = list(art.joints), np.array(art.T_world_part, dtype=np.float64)
    repaired = []
    for i, joint in enumerate(art.joints):
        problem = joint_problem(joint, centre, diag, cfg)
        if problem is None:
            continue
        log.warning("articulate: joint %s %s; made fixed", joint.name, problem)
        parent = art.part_names.index(joint.parent)
        T_world_part[:, i + 1] = T_world_part[:, parent]
        joints[i] = replace(
            joint,
            type=JointType.FIXED,
            axis=np.array([0.0, 0.0, 1.0]),
            origin=np.nan_to_num(joint.origin, nan=0.0, posinf=0.0, neginf=0.0),
            values=np.zeros_like(np.asarray(joint.values, dtype=np.float64)),
            limits=(0.0, 0.0),
        )
        repaired.append({"joint": joint.name, "problem": problem})
    if not repaired:
        return art
    extras = {**art.extras, "repaired_joints": repaired}
    return replace(art, joints=tuple(joints), T_world_part=T_world_part, extras=extras)
