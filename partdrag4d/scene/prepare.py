"""The `prepare` stage: asset + drag spec + camera rig -> SceneInput."""

from __future__ import annotations

import numpy as np
from hydra.utils import get_method

from partdrag4d.config import PrepareConfig
from partdrag4d.containers import GroundTruth, SceneInput
from partdrag4d.scene.cameras import orbit_rig
from partdrag4d.scene.drags import make_dragset, place_drags, render_rest_views
from partdrag4d.scene.front import choose_front


def run_prepare(cfg: PrepareConfig, rng: np.random.Generator) -> SceneInput:
    """Load the asset, plan the motion, place the cameras where they see it, choose the
    drags on what they see and project them.

    Ground truth (the kinematic tree, the joint trajectories that realise the drags and
    each vertex's link) is attached only when the drags come from the asset's joints.
    """
    asset = get_method(cfg.asset._target_)(cfg.asset)
    plan = get_method(cfg.drags._target_)(cfg.drags, asset, rng)
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
    )
