"""What `evaluate` makes: the articulation measured against ground truth.

Definitions and units are in README.md, "Metrics": lengths in metres, ``*_rel`` divided
by the ground truth's bounding-box diagonal, angles in degrees, Chamfer distances × 1000
of the diagonal-normalised shapes. ``to_dict`` gives the schema of ``metrics.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from partdrag4d.containers.asset import JointType


@dataclass(frozen=True)
class JointMetrics:
    """How one moving ground-truth joint was recovered (``None``: does not apply, e.g.
    everything after ``matched`` for a missing joint, ``axis_pos_err`` of a slider)."""

    gt_joint: str
    """Ground-truth joint name."""
    gt_type: JointType
    """Its type."""
    matched: bool
    """Whether a predicted joint's child part matched this joint's child part."""
    pred_joint: str | None = None
    """The matched predicted joint."""
    pred_type: JointType | None = None
    """Its type."""
    type_correct: bool | None = None
    """Whether the types agree."""
    axis_angle_deg: float | None = None
    """Angle between the axes (sign-free), degrees."""
    axis_pos_err: float | None = None
    """Distance between the hinge lines (revolute only), metres."""
    axis_pos_err_rel: float | None = None
    """``axis_pos_err`` over the bounding-box diagonal."""
    motion_err_per_frame: tuple[float, ...] | None = None
    """Per frame: rotation error in degrees (revolute) or translation error over the
    diagonal (prismatic) of the part's pose relative to rest."""
    motion_err_final: float | None = None
    """``motion_err_per_frame`` at the last frame."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values; fields that do not apply are left out."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if isinstance(value, JointType):
                value = value.value
            elif isinstance(value, tuple):
                value = [float(x) for x in value]
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> JointMetrics:
        """Inverse of :meth:`to_dict`."""
        values = dict(doc)
        for key in ("gt_type", "pred_type"):
            if values.get(key) is not None:
                values[key] = JointType(values[key])
        if values.get("motion_err_per_frame") is not None:
            values["motion_err_per_frame"] = tuple(values["motion_err_per_frame"])
        return cls(**values)


@dataclass(frozen=True)
class Metrics:
    """All articulation metrics of one run: means and counts over the moving
    ground-truth joints, segmentation and shape scores, and one entry per joint.
    Means over no joint are ``None``."""

    num_gt_moving_joints: int
    """Ground-truth joints that move in the animation."""
    num_pred_moving_joints: int
    """Predicted joints that are not fixed."""
    missing_joints: tuple[str, ...]
    """Moving ground-truth joints with no matched prediction."""
    extra_joints: tuple[str, ...]
    """Moving predicted joints matched to no ground-truth joint."""
    joint_type_accuracy: float | None
    """Share of matched joints with the right type."""
    axis_angle_deg: float | None
    """Mean axis angle error of the matched joints, degrees."""
    axis_pos_err: float | None
    """Mean hinge-line distance of the matched revolute joints, metres."""
    axis_pos_err_rel: float | None
    """``axis_pos_err`` over the bounding-box diagonal."""
    motion_err_final: float | None
    """Mean last-frame motion error (degrees and diagonal-relative lengths mixed)."""
    motion_err_revolute_deg: float | None
    """Mean last-frame rotation error of the matched revolute joints, degrees."""
    motion_err_prismatic_rel: float | None
    """Mean last-frame translation error of the matched prismatic joints over the
    diagonal."""
    seg_accuracy: float
    """Area share of the surface given the right part (after Hungarian matching)."""
    seg_miou: float
    """Mean area-weighted IoU of the ground-truth parts."""
    chamfer_static: float
    """Chamfer distance of the static parts at the last frame (× 1000, normalised)."""
    chamfer_movable: float
    """Chamfer distance of the moving parts at the last frame (× 1000, normalised)."""
    chamfer_whole: float
    """Chamfer distance of the whole object at the last frame (× 1000, normalised)."""
    joints: tuple[JointMetrics, ...]
    """One entry per moving ground-truth joint."""

    def scalars(self) -> dict[str, Any]:
        """Every field but ``joints``, as plain JSON values, in declaration order."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "joints":
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    def to_dict(self) -> dict[str, Any]:
        """The schema of ``metrics.json``."""
        return {**self.scalars(), "joints": [j.to_dict() for j in self.joints]}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Metrics:
        """Inverse of :meth:`to_dict` (e.g. a run folder's ``metrics.json``)."""
        values = dict(doc)
        values["missing_joints"] = tuple(values["missing_joints"])
        values["extra_joints"] = tuple(values["extra_joints"])
        values["joints"] = tuple(JointMetrics.from_dict(j) for j in values["joints"])
        return cls(**values)


@dataclass(frozen=True)
class Evaluation:
    """Output of the `evaluate` stage."""

    metrics: Metrics | None
    """The metrics, or None when the input has no ground truth to score against."""
