"""Typed containers passed between stages (the data flow in README.md).

Conventions (README.md, "Conventions"):
- World frame = the input asset's frame, right-handed, metres.
- Cameras are OpenCV (x right, y down, z forward): ``K`` 3x3 and ``T_cam_world`` 4x4.
- Dimension letters: V views, T frames, H, W, N points/vertices, F faces, P parts,
  J joints, D drags.
- ``T_a_b`` maps coordinates in frame ``b`` to frame ``a``.

Arrays are numpy; stages convert to torch where they need autograd or a model.
Ground truth lives only in :class:`GroundTruth` / :class:`RenderGT` fields, which only
the ``render`` generator backend and the evaluator may read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from jaxtyping import Bool, Float, Int, UInt8


class JointType(StrEnum):
    """Joint types. ``continuous`` URDF joints are revolute joints with ``limits=None``."""

    REVOLUTE = "revolute"
    PRISMATIC = "prismatic"
    FIXED = "fixed"


# --------------------------------------------------------------------------- geometry


@dataclass(frozen=True)
class Material:
    """Surface appearance of one mesh primitive."""

    name: str
    """Material name (from MTL/URDF/glTF, or generated)."""
    base_color: Float[np.ndarray, "4"]
    """Linear RGBA in [0, 1]; multiplies the texture when there is one."""
    texture: UInt8[np.ndarray, "th tw 3"] | None = None
    """sRGB texture image, row 0 at the top (image convention), or None."""


@dataclass(frozen=True)
class Primitive:
    """A triangle mesh with a single material."""

    vertices: Float[np.ndarray, "N 3"]
    """Vertex positions (frame given by the owner: link frame or world)."""
    faces: Int[np.ndarray, "F 3"]
    """Triangle vertex indices, counter-clockwise seen from outside."""
    material: Material
    """Appearance."""
    uvs: Float[np.ndarray, "N 2"] | None = None
    """Texture coordinates (glTF convention: v=0 at the top of the image), or None."""


@dataclass(frozen=True)
class SceneMesh:
    """The rest-state object in the world frame: a list of primitives.

    Concatenated views (``vertices``, ``faces``) index vertices in primitive order, which
    is the vertex order every per-vertex label in the project refers to.
    """

    primitives: tuple[Primitive, ...]
    """Primitives with vertices in the world frame at the rest state."""

    @property
    def num_vertices(self) -> int:
        return sum(len(p.vertices) for p in self.primitives)

    @property
    def vertices(self) -> Float[np.ndarray, "N 3"]:
        return np.concatenate([p.vertices for p in self.primitives], axis=0)

    @property
    def faces(self) -> Int[np.ndarray, "F 3"]:
        out, offset = [], 0
        for p in self.primitives:
            out.append(p.faces + offset)
            offset += len(p.vertices)
        return np.concatenate(out, axis=0)

    @property
    def vertex_offsets(self) -> Int[np.ndarray, "n_prim_plus_1"]:
        """Start index of each primitive's vertices in the concatenated array (+ total)."""
        return np.cumsum([0] + [len(p.vertices) for p in self.primitives])

    def bounds(self) -> Float[np.ndarray, "2 3"]:
        v = self.vertices
        return np.stack([v.min(0), v.max(0)])

    def bbox_diagonal(self) -> float:
        lo, hi = self.bounds()
        return float(np.linalg.norm(hi - lo))

    def with_vertices(self, vertices: Float[np.ndarray, "N 3"]) -> SceneMesh:
        """Same topology and materials, new (concatenated) vertex positions."""
        offs = self.vertex_offsets
        prims = tuple(
            Primitive(vertices[offs[i] : offs[i + 1]], p.faces, p.material, p.uvs)
            for i, p in enumerate(self.primitives)
        )
        return SceneMesh(prims)


# --------------------------------------------------------------------------- assets


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


# --------------------------------------------------------------------------- cameras, drags


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


# --------------------------------------------------------------------------- stage artefacts


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

    N points in total; each was seeded in one view (``view``) on the rest surface and
    tracked through that view's frames. ``points_3d`` holds triangulated/lifted world
    trajectories where available (NaN otherwise).
    """

    anchors_3d: Float[np.ndarray, "N 3"]
    """Rest-state world position of each point (from rendering the rest mesh)."""
    view: Int[np.ndarray, "N"]
    """View the point is tracked in."""
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
    fps: float = 10.0
    """Frame rate of ``T_world_part`` / joint values."""
    extras: dict = field(default_factory=dict)
    """Free-form diagnostics (residuals, timings); never read by other stages."""

    @property
    def num_parts(self) -> int:
        return len(self.part_names)
