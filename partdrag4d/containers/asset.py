"""Articulated assets as URDF describes them: links, joints and their types."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from jaxtyping import Float

from partdrag4d.containers.mesh import Primitive


class JointType(StrEnum):
    """Joint types. ``continuous`` URDF joints are revolute joints with ``limits=None``."""

    REVOLUTE = "revolute"
    PRISMATIC = "prismatic"
    FIXED = "fixed"


@dataclass(frozen=True)
class Link:
    """A rigid body of an articulated asset."""

    name: str
    """Unique link name."""
    visuals: tuple[Primitive, ...]
    """Visual geometry with vertices in the link frame (visual origins applied)."""


@dataclass(frozen=True)
class JointSpec:
    """A joint of an articulated asset, as in URDF (frames are URDF's)."""

    name: str
    """Unique joint name."""
    type: JointType
    """Joint type."""
    parent: str
    """Parent link name."""
    child: str
    """Child link name."""
    T_parent_joint: Float[np.ndarray, "4 4"]
    """Joint frame in the parent link frame (URDF ``<origin>``); child frame at q=0."""
    axis: Float[np.ndarray, "3"]
    """Unit axis in the joint frame (ignored for fixed joints)."""
    limits: tuple[float, float] | None
    """(lower, upper) in rad or m; None for continuous joints and fixed joints."""


@dataclass(frozen=True)
class ArticulatedAsset:
    """A kinematic tree of links and joints (loaded from URDF or built procedurally)."""

    name: str
    """Asset name."""
    links: tuple[Link, ...]
    """All links; ``links[0]`` is the root."""
    joints: tuple[JointSpec, ...]
    """All joints, parents before children (topological order)."""

    @property
    def root(self) -> str:
        return self.links[0].name

    @property
    def movable_joints(self) -> tuple[JointSpec, ...]:
        return tuple(j for j in self.joints if j.type is not JointType.FIXED)
