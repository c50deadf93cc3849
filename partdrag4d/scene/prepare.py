"""The `prepare` stage: asset + drag spec + camera rig -> SceneInput."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from hydra.utils import get_method

from partdrag4d.containers import GroundTruth, SceneInput, SceneMesh, StageInputs
from partdrag4d.errors import InputError
from partdrag4d.scene.assets import AssetConfig
from partdrag4d.scene.cameras import RigConfig, orbit_rig
from partdrag4d.scene.drags import (
    DragPlan,
    DragsConfig,
    make_dragset,
    place_drags,
    render_rest_views,
)
from partdrag4d.scene.front import choose_front


@dataclass
class PrepareConfig:
    """What `prepare` depends on (its cache key): the asset, the drags and the rig."""

    asset: AssetConfig
    """Input object."""
    drags: DragsConfig
    """Requested motion."""
    rig: RigConfig
    """Camera rig."""


# Objects from a few millimetres to tens of metres (metres, the input's unit).
MIN_SIZE_M, MAX_SIZE_M = 1e-3, 1e3
# Drag points may reach this many bounding-box diagonals away from the box's centre.
MAX_DRAG_REACH = 2.0


def check_geometry(mesh: SceneMesh, source: str | Path) -> None:
    """The rest mesh (after URDF scales and forward kinematics) is finite and of a size
    the renderer can frame."""
    if mesh.num_vertices == 0 or not np.all(np.isfinite(mesh.vertices)):
        raise InputError(source, "geometry", "has no vertices or non-finite coordinates")
    size = float(np.ptp(mesh.vertices, axis=0).max())
    if not MIN_SIZE_M <= size <= MAX_SIZE_M:
        raise InputError(
            source,
            "geometry",
            f"is {size:.3g} m across; expected {MIN_SIZE_M:g} to {MAX_SIZE_M:g} m "
            "(a unit or scale error?)",
        )
    if float(np.abs(mesh.vertices).max()) > 100 * MAX_SIZE_M:
        raise InputError(source, "geometry", "lies more than 100 km from the origin")


def check_motion(plan: DragPlan, mesh: SceneMesh, cfg: PrepareConfig) -> None:
    """The requested motion stays finite and near the object; an explicit camera radius
    keeps the cameras outside it."""
    lo, hi = mesh.bounds()
    centre, diag = 0.5 * (lo + hi), float(np.linalg.norm(hi - lo))
    source = getattr(cfg.drags, "path", None) or getattr(cfg.asset, "path", None) or "asset"
    if plan.T_rel is not None and not np.all(np.isfinite(plan.T_rel)):
        raise InputError(source, "joints", "forward kinematics gives non-finite poses")
    if plan.points_3d is None:
        points = np.zeros((0, 3))
    else:
        points = np.asarray(plan.points_3d, dtype=np.float64).reshape(-1, 3)
    if not np.all(np.isfinite(points)):
        raise InputError(source, "drags", "non-finite drag points")
    reach = np.linalg.norm(points - centre, axis=-1).max(initial=0.0) / diag
    if reach > MAX_DRAG_REACH:
        raise InputError(
            source,
            "drags",
            f"a drag reaches {reach:.3g} bounding-box diagonals from the object's centre "
            f"(at most {MAX_DRAG_REACH:g})",
        )
    if cfg.rig.radius and cfg.rig.radius <= 0.5 * diag:
        raise InputError(
            "config",
            "rig.radius",
            f"{cfg.rig.radius:g} m puts the cameras inside the object "
            f"(its bounding sphere has radius {0.5 * diag:.3g} m; 0 frames it automatically)",
        )


def run_prepare(cfg: PrepareConfig, rng: np.random.Generator) -> SceneInput:
    """Load the asset, plan the motion, place the cameras where they see it, choose the
    drags on what they see and project them.

    Ground truth (the kinematic tree, the joint trajectories that realise the drags and
    each vertex's link) is attached only when the drags come from the asset's joints.
    """
    asset = get_method(cfg.asset._target_)(cfg.asset)
    check_geometry(asset.mesh, getattr(cfg.asset, "path", None) or "asset")
    plan = get_method(cfg.drags._target_)(cfg.drags, asset, rng)
    check_motion(plan, asset.mesh, cfg)
    front = choose_front(
        cfg.rig, asset.mesh, asset.up_axis, asset.vertex_link, plan.T_rel, plan.points_3d
    )
    rig = orbit_rig(cfg.rig, asset.mesh.bounds(), asset.up_axis, front)
    views = render_rest_views(asset.mesh, rig, asset.vertex_link)
    motion = place_drags(plan, asset, views, rng)
    drags = make_dragset(motion, rig, views, asset.mesh.bbox_diagonal())
    gt = None
    if motion.joint_values is not None and asset.articulated is not None:
        gt = GroundTruth(
            asset=asset.articulated,
            joint_names=motion.joint_names,
            joint_values=motion.joint_values,
            vertex_link=asset.vertex_link,
        )
    return SceneInput(
        name=asset.name,
        mesh=asset.mesh,
        cameras=rig,
        drags=drags,
        num_frames=cfg.drags.num_frames,
        fps=cfg.drags.fps,
        gt=gt,
        up_axis=asset.up_axis,
    )


def prepare_stage(cfg: PrepareConfig, inputs: StageInputs, rng: np.random.Generator) -> SceneInput:
    """The `prepare` stage (no upstream): :func:`run_prepare`."""
    return run_prepare(cfg, rng)
