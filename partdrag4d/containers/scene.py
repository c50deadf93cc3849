"""What `prepare` hands the pipeline: cameras, drags, the scene and its ground truth."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Bool, Float, Int

from partdrag4d.containers.asset import ArticulatedAsset
from partdrag4d.containers.mesh import SceneMesh


@dataclass(frozen=True)
class RigFront:
    """Where an orbit rig's views are centred, and why (written to cameras.json)."""

    azimuth_deg: float
    """Azimuth of the rig's centre view, degrees from the first ground axis toward the
    second (+X toward +Y for a +Z-up asset)."""
    elevation_deg: float
    """Camera elevation above the ground plane, degrees."""
    source: str
    """``config`` (set by the user), ``moving surface`` or ``drags`` (chosen from them)."""
    reason: str
    """One line on how it was chosen (scores of the best and worst candidate)."""


@dataclass(frozen=True)
class CameraRig:
    """V calibrated pinhole cameras sharing one image size (OpenCV convention)."""

    K: Float[np.ndarray, "V 3 3"]
    """Intrinsics in pixels."""
    T_cam_world: Float[np.ndarray, "V 4 4"]
    """World-to-camera extrinsics (OpenCV axes: x right, y down, z forward)."""
    width: int
    """Image width in pixels."""
    height: int
    """Image height in pixels."""
    front: RigFront | None = None
    """How an orbit rig chose its views (None for cameras read from elsewhere)."""

    @property
    def num_views(self) -> int:
        return int(self.K.shape[0])


@dataclass(frozen=True)
class DragSet:
    """D drags: 3D surface points and where they go over T frames, seen from V views."""

    points_3d: Float[np.ndarray, "T D 3"]
    """World positions over time; ``points_3d[0]`` are the start points on the surface."""
    points_2d: Float[np.ndarray, "V T D 2"]
    """Pixel coordinates (x, y) of the trajectories projected into every view."""
    visible: Bool[np.ndarray, "V D"]
    """Whether the start point is visible (not occluded, inside the image) in each view."""

    @property
    def num_drags(self) -> int:
        return int(self.points_3d.shape[1])

    @property
    def num_frames(self) -> int:
        return int(self.points_3d.shape[0])


@dataclass(frozen=True)
class GroundTruth:
    """What is known about the true articulation. Read only by `generate/render` and
    `evaluate` (the honesty rule)."""

    asset: ArticulatedAsset
    """The articulated asset (links with visual meshes, joints)."""
    joint_names: tuple[str, ...]
    """Movable joints animated, in column order of ``joint_values``."""
    joint_values: Float[np.ndarray, "T J"]
    """Joint value per frame (rad or m); frame 0 is the rest state."""
    vertex_link: Int[np.ndarray, "N"]
    """Index into ``asset.links`` for every vertex of ``SceneInput.mesh``."""


@dataclass(frozen=True)
class SceneInput:
    """Output of `prepare`: what the pipeline works on."""

    name: str
    """Object name (for filenames and reports)."""
    mesh: SceneMesh
    """Rest-state mesh in the world frame."""
    cameras: CameraRig
    """The calibrated rig every generator renders / generates from."""
    drags: DragSet
    """The requested drags."""
    num_frames: int
    """T, frames per generated clip (frame 0 = rest state)."""
    fps: float
    """Frames per second of the generated clips."""
    gt: GroundTruth | None = None
    """Ground truth when the true articulation is known (URDF / procedural input)."""
    up_axis: str = "z"
    """Up axis of the input's world frame (``z`` or ``y``: ``asset.up_axis``). The frame
    itself is never changed; exporters whose format fixes an up axis (glTF: +Y) rotate
    into it only when it differs."""
