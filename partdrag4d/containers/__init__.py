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

Submodules follow the data flow: ``mesh`` and ``asset`` (inputs), ``scene`` (what
`prepare` makes), ``stages`` (videos, tracks, articulation, exported files) and
``metrics`` (what `evaluate` makes). Import the names from here.
"""

from partdrag4d.containers.asset import ArticulatedAsset, JointSpec, JointType, Link
from partdrag4d.containers.mesh import Material, Primitive, SceneMesh
from partdrag4d.containers.metrics import Evaluation, JointMetrics, Metrics
from partdrag4d.containers.scene import CameraRig, DragSet, GroundTruth, RigFront, SceneInput
from partdrag4d.containers.stages import (
    Articulation,
    FileTree,
    Joint,
    RenderGT,
    StageInputs,
    Tracks,
    VideoSet,
)

__all__ = [
    "ArticulatedAsset",
    "Articulation",
    "CameraRig",
    "DragSet",
    "Evaluation",
    "FileTree",
    "GroundTruth",
    "Joint",
    "JointMetrics",
    "JointSpec",
    "JointType",
    "Link",
    "Material",
    "Metrics",
    "Primitive",
    "RenderGT",
    "RigFront",
    "SceneInput",
    "SceneMesh",
    "StageInputs",
    "Tracks",
    "VideoSet",
]
