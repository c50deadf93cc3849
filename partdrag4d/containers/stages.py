"""What `generate`, `track`, `articulate` and `export` hand on: videos, tracks, the
articulation and the exported files."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from jaxtyping import Bool, Float, Int, UInt8

from partdrag4d.containers.asset import JointType
from partdrag4d.containers.scene import CameraRig


@dataclass(frozen=True)
class RenderGT:
    """Per-pixel ground truth of a rendered video set (for the evaluator only)."""

    depth: Float[np.ndarray, "V T H W"]
    """Camera z in metres; 0 where there is no surface."""
    part_id: Int[np.ndarray, "V T H W"]
    """Link index of the visible surface; -1 on background."""
    rest_xyz: Float[np.ndarray, "V T H W 3"]
    """Rest-state world position of the surface point seen at each pixel (NaN on
    background): the ground-truth correspondence from which 2D tracks/flow follow."""


@dataclass(frozen=True)
class VideoSet:
    """Output of `generate`: V calibrated clips of T frames each."""

    frames: UInt8[np.ndarray, "V T H W 3"]
    """sRGB frames."""
    fps: float
    """Frames per second."""
    cameras: CameraRig
    """Camera of each view (static over time)."""
    drags_2d: Float[np.ndarray, "V T D 2"]
    """Requested drag trajectories in pixels, per view."""
    drags_visible: Bool[np.ndarray, "V D"]
    """Whether each drag was visible (and so conditioned on) in each view."""
    alpha: Float[np.ndarray, "V T H W"] | None = None
    """Foreground coverage in [0, 1] when the backend knows it, else None."""
    gt: RenderGT | None = None
    """Per-pixel ground truth (render backend only); never read by reconstruction."""

    @property
    def num_views(self) -> int:
        return int(self.frames.shape[0])

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[1])


@dataclass(frozen=True)
class Tracks:
    """Output of `track`: surface points followed through the videos.

    N entries; an entry is one surface point followed through the frames of one view
    (``view``). Entries with the same ``point`` id are the same surface point seen from
    several views. ``points_3d`` holds triangulated/lifted world trajectories where
    available (NaN otherwise).
    """

    point: Int[np.ndarray, "N"]
    """Surface point id of each entry (0..G-1 for G points); entries of one point share
    ``anchors_3d`` and ``points_3d``."""
    anchors_3d: Float[np.ndarray, "N 3"]
    """Rest-state world position of the entry's point (from rendering the rest mesh)."""
    view: Int[np.ndarray, "N"]
    """View the entry is tracked in."""
    uv: Float[np.ndarray, "T N 2"]
    """Pixel position per frame."""
    visible: Bool[np.ndarray, "T N"]
    """Whether the observation is valid (visible and consistent)."""
    confidence: Float[np.ndarray, "T N"]
    """Observation confidence in [0, 1]."""
    points_3d: Float[np.ndarray, "T N 3"]
    """Lifted world trajectories (NaN where unknown)."""


@dataclass(frozen=True)
class Joint:
    """A reconstructed joint, expressed in the world frame at the rest state."""

    name: str
    """Joint name."""
    type: JointType
    """Joint type."""
    parent: str
    """Parent part name."""
    child: str
    """Child part name."""
    axis: Float[np.ndarray, "3"]
    """Unit axis direction, world frame."""
    origin: Float[np.ndarray, "3"]
    """A point on the axis (pivot), world frame; for prismatic joints any point of the
    child part is fine (the child's centroid by convention)."""
    values: Float[np.ndarray, "T"]
    """Joint value per frame relative to the rest state (rad or m)."""
    limits: tuple[float, float]
    """Observed (lower, upper) joint range."""

    def to_dict(self) -> dict:
        """The joint as plain JSON values (the schema of ``export/articulation.json``
        and of the GLB's node extras)."""
        return {
            "name": self.name,
            "type": self.type.value,
            "parent": self.parent,
            "child": self.child,
            "axis": [float(x) for x in self.axis],
            "origin": [float(x) for x in self.origin],
            "values": [float(x) for x in self.values],
            "limits": [float(self.limits[0]), float(self.limits[1])],
        }


@dataclass(frozen=True)
class Articulation:
    """Output of `articulate` (and `refine`): parts, joints and per-frame motion."""

    part_names: tuple[str, ...]
    """P part names; part 0 is the static base."""
    vertex_part: Int[np.ndarray, "N"]
    """Part index of every vertex of ``SceneInput.mesh``."""
    face_part: Int[np.ndarray, "F"]
    """Part index of every face of ``SceneInput.mesh``."""
    T_world_part: Float[np.ndarray, "T P 4 4"]
    """Per frame, maps a rest-state world point of the part to its world position."""
    joints: tuple[Joint, ...]
    """One joint per non-base part (joint ``i`` has ``child == part_names[i+1]``)."""
    fps: float
    """Frame rate of ``T_world_part`` / joint values (the videos' frame rate)."""
    extras: dict = field(default_factory=dict)
    """Free-form diagnostics (residuals, timings); never read by other stages."""

    @property
    def num_parts(self) -> int:
        return len(self.part_names)


@dataclass(frozen=True)
class FileTree:
    """Output of a stage that writes files people use as they are (the export stage).

    Saving *moves* ``root`` into the artefact as ``files/`` (it is a scratch folder the
    stage made); loading gives the ``files/`` folder inside the artefact.
    """

    root: Path
    """Folder holding the files."""


StageInputs = Mapping[str, Any]
"""What a stage function ``stage(cfg, inputs, rng) -> artefact`` receives: the artefacts
of its upstream stages by stage name (``inputs["prepare"]`` is the SceneInput, ...)."""
