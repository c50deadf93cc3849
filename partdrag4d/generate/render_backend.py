"""`generator=render`: render the ground-truth animation of the asset in every view.

The data engine of the project: exact videos with per-pixel ground truth (depth, part
ids, rest-state surface positions -> dense 2D tracks) for the evaluator and for
training the diffusion generator. Optional degradations (generate/degrade.py) imitate
generated videos. This backend reads ``SceneInput.gt`` by design (with the evaluator,
the only code that may).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from partdrag4d.config_checks import FRACTION, Range
from partdrag4d.containers import RenderGT, SceneInput, VideoSet
from partdrag4d.errors import InputError
from partdrag4d.generate import GeneratorConfig
from partdrag4d.generate.degrade import DegradeConfig, degrade_frames, perturb_motion
from partdrag4d.progress import bar as progress_bar


@dataclass
class RenderGeneratorConfig(GeneratorConfig):
    """Render the ground-truth animation of the asset (needs an asset with joints)."""

    CHECKS: ClassVar[dict] = {"background": FRACTION, "samples": Range(0, 16, integer=True)}

    _target_: str = "partdrag4d.generate.render_backend.generate_render"
    background: list[float] = field(default_factory=lambda: [1.0, 1.0, 1.0])
    """Background colour (linear RGB in [0, 1])."""
    samples: int = 4
    """MSAA samples for the colour images."""
    degrade: DegradeConfig = field(default_factory=DegradeConfig)
    """Degradations imitating generated videos."""


def generate_render(
    cfg: RenderGeneratorConfig, scene: SceneInput, rng: np.random.Generator
) -> VideoSet:
    """Render V views x T frames of the asset moving as the GT joint trajectories say."""
    from partdrag4d.assets.kinematics import link_poses_over_time, move_vertices
    from partdrag4d.render.rasterizer import Rasterizer, RasterizerConfig

    gt = scene.gt
    if gt is None:
        raise InputError(
            "generator",
            "render",
            "the render backend needs the true articulation "
            "(an asset with joints and drags=gt); use generator=puppet_master for a static mesh",
        )
    rig = scene.cameras
    V, T = rig.num_views, scene.num_frames
    H, W = rig.height, rig.width
    rest = scene.mesh.vertices
    frames = np.zeros((V, T, H, W, 3), np.uint8)
    alpha = np.zeros((V, T, H, W), np.float32)
    depth = np.zeros((V, T, H, W), np.float32)
    part_id = np.zeros((V, T, H, W), np.int16)
    rest_xyz = np.zeros((V, T, H, W, 3), np.float32)
    r, g, b = cfg.background
    rcfg = RasterizerConfig(background=(r, g, b), samples=cfg.samples)
    view_rngs = rng.spawn(V)
    with (
        Rasterizer(scene.mesh, W, H, rcfg) as rast,
        progress_bar(total=V * T, desc="render", unit="frame") as bar,
    ):
        for v in range(V):
            values = gt.joint_values
            if cfg.degrade.enabled:
                values = perturb_motion(values, cfg.degrade, view_rngs[v])
            poses = link_poses_over_time(gt.asset, gt.joint_names, values)
            T_rel = poses @ np.linalg.inv(poses[0])[None]
            for t in range(T):
                verts = move_vertices(rest, gt.vertex_link, T_rel[t])
                out = rast.render(rig.K[v], rig.T_cam_world[v], verts, gt.vertex_link)
                frames[v, t], alpha[v, t], depth[v, t] = out.rgb, out.alpha, out.depth
                part_id[v, t], rest_xyz[v, t] = out.label, out.rest_xyz
                bar.update()
            if cfg.degrade.enabled:
                frames[v] = degrade_frames(frames[v], cfg.degrade, view_rngs[v])
    return VideoSet(
        frames=frames,
        fps=scene.fps,
        cameras=rig,
        drags_2d=scene.drags.points_2d,
        drags_visible=scene.drags.visible,
        alpha=alpha,
        gt=RenderGT(depth=depth, part_id=part_id, rest_xyz=rest_xyz),
    )
