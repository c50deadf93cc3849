"""Drags: where a surface point starts and where it goes, and how the views see it.

Two sources, each the ``_target_`` of a ``drags`` config:

- :func:`drags_from_joints` (assets with joints): every chosen movable joint goes from
  its rest value toward a target inside its limits, smoothly over T frames. Once the
  rig is placed (its front chosen from this motion, scene/front.py), :func:`place_drags`
  puts one drag per moving part on a surface point visible from the rig, sampled with
  probability proportional to its displacement (as Puppet-Master and DragAPart sample
  them).
- :func:`drags_from_file`: a JSON file of 3D start points and end points or
  trajectories (schema in README.md, "Drag files").

:func:`make_dragset` projects the trajectories into every view and marks which start
points each view sees (depth test against a render of the rest mesh).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
from jaxtyping import Bool, Float, Int
from omegaconf import MISSING

from partdrag4d.config_checks import COUNT, FRACTION, Range
from partdrag4d.containers import ArticulatedAsset, CameraRig, DragSet, JointType, SceneMesh
from partdrag4d.errors import InputError
from partdrag4d.geometry.camera import project
from partdrag4d.scene.assets import LoadedAsset


@dataclass
class DragsConfig:
    """Base schema of the ``drags`` group: what motion is requested, over how many frames."""

    CHECKS: ClassVar[dict] = {
        "num_frames": Range(2, 1000, integer=True),
        "fps": Range(0.0, 1000.0, lo_open=True),
        "max_drags": Range(1, 64, integer=True),
    }

    _target_: str = MISSING
    """Drag source ``f(cfg, asset, rng) -> DragPlan`` (scene/drags.py)."""
    num_frames: int = 14
    """T, frames per clip including the rest frame (Puppet-Master: 14)."""
    fps: float = 7.0
    """Frame rate of the clips."""
    max_drags: int = 5
    """At most this many drags (the generator's K)."""


@dataclass
class GtDragsConfig(DragsConfig):
    """Drags sampled from the asset's own joints (assets with joints only)."""

    CHECKS: ClassVar[dict] = {
        **DragsConfig.CHECKS,
        "target_fraction_min": FRACTION,
        "target_fraction_max": FRACTION,
        "max_moving_joints": COUNT,
    }
    RELATIONS: ClassVar[tuple] = (("target_fraction_min", "<=", "target_fraction_max"),)

    _target_: str = "partdrag4d.scene.drags.drags_from_joints"
    target_fraction_min: float = 0.5
    """Each moving joint goes from its rest value to a target sampled uniformly in
    [min, max] x its range (continuous joints: x 90 degrees)."""
    target_fraction_max: float = 0.9
    """Upper end of the target fraction."""
    max_moving_joints: int = 5
    """At most this many joints move in one clip (chosen at random when more)."""
    ease: bool = True
    """Smooth-step easing in time (zero velocity at both ends) instead of linear."""


@dataclass
class FileDragsConfig(DragsConfig):
    """Drags read from a JSON file (schema in README.md, "Drag files")."""

    CHECKS: ClassVar[dict] = {**DragsConfig.CHECKS, "surface_tolerance": FRACTION}

    _target_: str = "partdrag4d.scene.drags.drags_from_file"
    path: str = MISSING
    """Path to the drag JSON."""
    surface_tolerance: float = 0.01
    """A start point may lie at most this fraction of the bbox diagonal off the surface."""


@dataclass(frozen=True)
class RestViews:
    """Renders of the rest mesh from every view of the rig (used to pick visible points)."""

    depth: Float[np.ndarray, "V H W"]
    """Camera z, 0 on background."""
    label: np.ndarray
    """(V, H, W) link index of the visible surface (-1 background; all 0 for static meshes)."""
    rest_xyz: Float[np.ndarray, "V H W 3"]
    """World position of the visible surface point (NaN on background)."""


@dataclass(frozen=True)
class DragMotion:
    """Requested 3D motion, before projection into the views."""

    points_3d: Float[np.ndarray, "T D 3"]
    """Trajectories; ``points_3d[0]`` lie on the rest surface."""
    joint_names: tuple[str, ...]
    """Joints animated (empty for file drags)."""
    joint_values: Float[np.ndarray, "T J"] | None
    """Absolute joint values per frame (None for file drags)."""


def render_rest_views(
    mesh: SceneMesh, rig: CameraRig, vertex_label: Int[np.ndarray, "N"] | None = None
) -> RestViews:
    """Render depth, labels and surface positions of the rest mesh in every view."""
    from partdrag4d.render.rasterizer import Rasterizer

    labels = vertex_label
    if labels is None:
        labels = np.zeros(mesh.num_vertices, dtype=np.int64)
    depth, label, xyz = [], [], []
    with Rasterizer(mesh, rig.width, rig.height) as rast:
        for v in range(rig.num_views):
            out = rast.render(rig.K[v], rig.T_cam_world[v], vertex_label=labels)
            depth.append(out.depth)
            label.append(out.label)
            xyz.append(out.rest_xyz)
    return RestViews(np.stack(depth), np.stack(label), np.stack(xyz))


def ease(s: Float[np.ndarray, "T"], smooth: bool) -> Float[np.ndarray, "T"]:
    """Smooth-step 3s^2 - 2s^3 (zero velocity at both ends), or the identity."""
    return s * s * (3 - 2 * s) if smooth else s


def _part_roots(asset: ArticulatedAsset) -> dict[str, str]:
    """For each link, the link that heads its rigid part: the nearest ancestor (itself
    included) that is the child of a movable joint, or the root."""
    parent_joint = {j.child: j for j in asset.joints}
    roots: dict[str, str] = {}
    for link in asset.links:
        name = link.name
        while name in parent_joint and parent_joint[name].type is JointType.FIXED:
            name = parent_joint[name].parent
        roots[link.name] = name
    return roots


def sample_joint_targets(
    cfg: GtDragsConfig, asset: ArticulatedAsset, rng: np.random.Generator
) -> tuple[tuple[str, ...], Float[np.ndarray, "T J"]]:
    """Choose the moving joints and their smooth trajectories from rest to a target."""
    movable = list(asset.movable_joints)
    limit = min(cfg.max_moving_joints, cfg.max_drags)
    if len(movable) > limit:
        keep = sorted(rng.choice(len(movable), size=limit, replace=False))
        movable = [movable[i] for i in keep]
    s = ease(np.linspace(0.0, 1.0, cfg.num_frames), cfg.ease)
    values = np.zeros((cfg.num_frames, len(movable)))
    for k, joint in enumerate(movable):
        frac = rng.uniform(cfg.target_fraction_min, cfg.target_fraction_max)
        if joint.limits is None:  # continuous: a quarter turn either way
            rest, target = 0.0, float(rng.choice([-1.0, 1.0])) * frac * math.pi / 2
        else:
            lo, hi = joint.limits
            rest = min(max(0.0, lo), hi)
            end = hi if hi - rest >= rest - lo else lo
            target = rest + frac * (end - rest)
        values[:, k] = rest + s * (target - rest)
    return tuple(j.name for j in movable), values


@dataclass(frozen=True)
class DragPlan:
    """The requested motion, known before any camera is placed (the rig's front is
    chosen from it; GT drag points are then sampled on what the rig sees)."""

    joint_names: tuple[str, ...]
    """Joints animated (empty for file drags)."""
    joint_values: Float[np.ndarray, "T J"] | None
    """Absolute joint values per frame (None for file drags)."""
    T_rel: Float[np.ndarray, "T L 4 4"] | None
    """Per-frame motion of every link from its rest pose (None for file drags)."""
    points_3d: Float[np.ndarray, "T D 3"] | None
    """File drags' trajectories (None for drags sampled from the joints)."""


def drags_from_joints(cfg: GtDragsConfig, asset: LoadedAsset, rng: np.random.Generator) -> DragPlan:
    """Joint trajectories from rest toward sampled targets (the drag points are chosen
    later, on what the rig sees: :func:`place_drags`)."""
    from partdrag4d.assets.kinematics import link_poses_over_time

    art = asset.articulated
    if art is None or not art.movable_joints:
        raise InputError(
            asset.source,
            "joints",
            "no movable joint: GT drags need an articulated asset "
            "(use drags=file drags.path=DRAGS.json for a static object)",
        )
    names, values = sample_joint_targets(cfg, art, rng)
    poses = link_poses_over_time(art, names, values)  # T L 4 4
    T_rel = poses @ np.linalg.inv(poses[0])[None]
    return DragPlan(names, values, T_rel, None)


def place_drags(
    plan: DragPlan, asset: LoadedAsset, views: RestViews, rng: np.random.Generator
) -> DragMotion:
    """The drags of a plan: file trajectories as they are; for joint trajectories, one
    drag per moving part on a surface point the rig sees, sampled proportionally to its
    displacement over the clip (see the module docstring)."""
    if plan.points_3d is not None:
        return DragMotion(plan.points_3d, (), None)
    art = asset.articulated
    assert art is not None and plan.T_rel is not None and plan.joint_values is not None
    link_index = {link.name: i for i, link in enumerate(art.links)}
    roots = _part_roots(art)
    moving_heads = [j.child for j in art.joints if j.name in plan.joint_names]

    label = views.label.reshape(-1)
    xyz = views.rest_xyz.reshape(-1, 3)
    trajectories = []
    for head in moving_heads:
        members = [link_index[n] for n, r in roots.items() if r == head]
        pix = np.flatnonzero(np.isin(label, members))
        if len(pix) == 0:
            continue
        rel = plan.T_rel[:, link_index[head]]  # T 4 4: rest world -> world at t
        p0 = xyz[pix]
        disp = np.linalg.norm(p0 @ rel[-1, :3, :3].T + rel[-1, :3, 3] - p0, axis=1)
        if disp.sum() <= 1e-9:
            continue
        p = p0[rng.choice(len(pix), p=disp / disp.sum())]
        trajectories.append(rel[:, :3, :3] @ p + rel[:, :3, 3])
    if not trajectories:
        raise InputError(
            asset.source,
            "joints",
            "no moving part is visible from the camera rig "
            "(check rig.front / rig.front_azimuth_deg / asset.up_axis)",
        )
    return DragMotion(np.stack(trajectories, axis=1), plan.joint_names, plan.joint_values)


def _vec3(value: object, source: Path, field: str) -> np.ndarray:
    ok = isinstance(value, list) and all(
        isinstance(x, (int, float)) and not isinstance(x, bool) for x in value
    )
    arr = np.asarray(value, dtype=float) if ok else None
    if arr is None or arr.shape != (3,) or not np.all(np.isfinite(arr)):
        raise InputError(source, field, "must be a list of 3 finite numbers [x, y, z]")
    return arr


def drags_from_file(cfg: FileDragsConfig, asset: LoadedAsset, rng: np.random.Generator) -> DragPlan:
    """Drags from a JSON file; start points must lie on the rest surface."""
    import trimesh

    path = Path(cfg.path).expanduser()
    if not path.is_file():
        raise InputError(path, "drags.path", "file not found")
    try:
        spec = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(path, "json", f"not valid JSON ({err})") from None
    drags = spec.get("drags") if isinstance(spec, dict) else None
    if not isinstance(drags, list) or not drags:
        raise InputError(path, "drags", "must be a non-empty list of {start, end|trajectory}")
    if len(drags) > cfg.max_drags:
        raise InputError(path, "drags", f"{len(drags)} drags; at most {cfg.max_drags}")
    T = cfg.num_frames
    s = ease(np.linspace(0.0, 1.0, T), True)
    trajectories = []
    for i, d in enumerate(drags):
        if not isinstance(d, dict) or "start" not in d:
            raise InputError(path, f"drags[{i}]", "needs 'start' and 'end' or 'trajectory'")
        start = _vec3(d["start"], path, f"drags[{i}].start")
        if "trajectory" in d:
            traj = d["trajectory"]
            if not isinstance(traj, list) or len(traj) != T:
                raise InputError(path, f"drags[{i}].trajectory", f"must list {T} points")
            pts = np.stack(
                [_vec3(p, path, f"drags[{i}].trajectory[{k}]") for k, p in enumerate(traj)]
            )
            if np.linalg.norm(pts[0] - start) > 1e-6:
                raise InputError(path, f"drags[{i}].trajectory[0]", "must equal 'start'")
        elif "end" in d:
            end = _vec3(d["end"], path, f"drags[{i}].end")
            pts = start + s[:, None] * (end - start)
        else:
            raise InputError(path, f"drags[{i}]", "needs 'end' or 'trajectory'")
        trajectories.append(pts)
    points = np.stack(trajectories, axis=1)

    tm = trimesh.Trimesh(asset.mesh.vertices, asset.mesh.faces, process=False)
    _, dist, _ = trimesh.proximity.closest_point(tm, points[0])
    tol = cfg.surface_tolerance * asset.mesh.bbox_diagonal()
    for i, dd in enumerate(dist):
        if dd > tol:
            raise InputError(
                path,
                f"drags[{i}].start",
                f"is {dd:.4f} m off the surface (tolerance {tol:.4f} m)",
            )
    return DragPlan((), None, None, points)


def start_visibility(
    rig: CameraRig, views: RestViews, starts: Float[np.ndarray, "D 3"], tolerance: float
) -> Bool[np.ndarray, "V D"]:
    """A start point is visible in a view when it projects inside the image and its
    depth matches the rendered rest depth there (within ``tolerance`` metres)."""
    uv, z = project(rig.K, rig.T_cam_world, starts)
    visible = np.zeros(uv.shape[:2], dtype=bool)
    for v in range(rig.num_views):
        for d in range(len(starts)):
            x, y = uv[v, d]
            if not (0 <= x < rig.width and 0 <= y < rig.height) or z[v, d] <= 0:
                continue
            # Nearest rendered depth in a 3x3 window: the point may sit on a silhouette.
            i, j = int(y), int(x)
            win = views.depth[v, max(i - 1, 0) : i + 2, max(j - 1, 0) : j + 2]
            win = win[win > 0]
            visible[v, d] = win.size > 0 and np.min(np.abs(win - z[v, d])) < tolerance
    return visible


def make_dragset(motion: DragMotion, rig: CameraRig, views: RestViews, diag: float) -> DragSet:
    """Project 3D trajectories into every view and mark visible start points."""
    T, D, _ = motion.points_3d.shape
    uv, _ = project(rig.K, rig.T_cam_world, motion.points_3d.reshape(T * D, 3))
    points_2d = uv.reshape(rig.num_views, T, D, 2)
    visible = start_visibility(rig, views, motion.points_3d[0], tolerance=0.01 * diag)
    return DragSet(points_3d=motion.points_3d, points_2d=points_2d, visible=visible)
