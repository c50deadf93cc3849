"""The ``articulate`` stage: rigid parts, their per-frame motion, joints and the tree.

Input is only what a user has: tracks (from the videos), the videos, cameras, drags and
the rest mesh (the honesty rule). Two phases:

**Proposals from tracks**

1. Static points: surface points whose reprojection stays put may be the base.
2. Part search (:mod:`.proposals`): sequential RANSAC over rigid motions of the
   remaining points, from triangulated trajectories and from one-view patch PnP; each
   view sees a motion scaled along its screw by its own factor per frame (generated
   views disagree on amplitude and timing); winners grow on their inliers and split
   when two motions explain them much better.
3. Clean-up (:mod:`.part_cleanup`): every point goes to the model that explains it
   best; parts another model explains, fragments of bigger parts and parts that own no
   face are dropped.
4. Tree (:mod:`.tree`, :mod:`.joint_refit`, :mod:`.drag_joints`): parents, joint types,
   a joint refit on the reprojection error over all views and frames (per-view
   amplitude), folding of joints that hardly move, one relabel by the joints.
5. Mesh labels by propagation over the mesh (:mod:`.segment`).

**Analysis by synthesis** (:mod:`.model_fit`, with the videos): the proposals are
rendered and compared with every view and frame; parts are re-tracked by
render-and-compare, missing parts are discovered where motion is left unexplained, and
one criterion (re-rendering error + description length) picks among the hypotheses,
merges and folds.
"""

from __future__ import annotations

import logging

import numpy as np
from jaxtyping import UInt8

from partdrag4d.containers import (
    Articulation,
    CameraRig,
    DragSet,
    Joint,
    SceneMesh,
    StageInputs,
    Tracks,
)
from partdrag4d.reconstruct.articulate_config import ArticulateConfig
from partdrag4d.reconstruct.joints import JointFit
from partdrag4d.reconstruct.model_fit import fit_model
from partdrag4d.reconstruct.observations import (
    Observations,
    check_inputs,
    fit_poses,
    make_observations,
)
from partdrag4d.reconstruct.part_cleanup import clean_parts
from partdrag4d.reconstruct.pose import reprojection_errors
from partdrag4d.reconstruct.proposals import Part, ransac_part, split_part
from partdrag4d.reconstruct.sanity import sane_articulation
from partdrag4d.reconstruct.segment import anchor_normals, label_faces, vertex_labels
from partdrag4d.reconstruct.split import PointTracks
from partdrag4d.reconstruct.tree import Tree, fit_tree, fold_fragments, refit_relabelled

__all__ = ["ArticulateConfig", "run_articulate"]


log = logging.getLogger(__name__)


def point_motion(obs: Observations) -> np.ndarray:
    """Per surface point: how far (pixels) its tracks leave the reprojected rest point
    (the mean over its track entries of their largest displacement)."""
    T, G = obs.uv.shape[0], len(obs.anchors)
    eye = np.broadcast_to(np.eye(4), (T, 4, 4))
    e_static = reprojection_errors(eye, obs.X, obs.uv, obs.view, obs.K, obs.Tcw)
    disp = np.where(obs.vis, e_static, 0.0).max(0)
    return np.bincount(obs.group, disp, minlength=G) / np.bincount(obs.group, minlength=G)


def search_parts(
    obs: Observations,
    remaining: np.ndarray,
    min_points: int,
    cfg: ArticulateConfig,
    rng: np.random.Generator,
) -> list[Part]:
    """Sequential RANSAC over the ``remaining`` (moving) points, each found part split
    when two motions explain it (drawers sliding by different amounts)."""
    remaining = remaining.copy()
    parts: list[Part] = []
    while len(parts) < cfg.proposals.max_parts:
        found = ransac_part(obs, remaining, cfg, rng)
        if found is None:
            break
        parts += split_part(obs, found, min_points, cfg, rng)
        remaining &= ~found.members
    return parts


def tree_articulation(
    tree: Tree,
    point_part: np.ndarray,
    obs: Observations,
    mesh: SceneMesh,
    cfg: ArticulateConfig,
    extras: dict,
    fps: float,
) -> Articulation:
    """The tree as an :class:`Articulation`: parts renumbered in tree order, joints,
    and face / vertex labels propagated from the labelled points."""
    P = len(tree.order)
    new_index = {old: i for i, old in enumerate(tree.order)}
    names = ["base"] + [f"part_{i}" for i in range(1, P)]
    joints, residuals, sources = [], {}, {}
    for old in tree.order[1:]:
        i, par, fit = new_index[old], new_index[tree.parents[old]], tree.fits[old]
        residuals[names[i]] = fit.residual
        sources[f"joint_{i}"] = fit.source
        joints.append(
            Joint(
                name=f"joint_{i}",
                type=fit.type,
                parent=names[par],
                child=names[i],
                axis=fit.axis,
                origin=fit.origin,
                values=fit.values,
                limits=(float(fit.values.min()), float(fit.values.max())),
            )
        )
    remap = np.array([new_index[m] for m in range(P)])
    anchor_part = np.where(point_part >= 0, remap[np.maximum(point_part, 0)], -1)
    face_part = label_faces(mesh.vertices, mesh.faces, obs.anchors, anchor_part, P, cfg.segment)
    return Articulation(
        part_names=tuple(names),
        vertex_part=vertex_labels(mesh.faces, face_part, mesh.num_vertices, P),
        face_part=face_part,
        T_world_part=tree.T_world,
        joints=tuple(joints),
        fps=fps,
        extras=extras
        | {
            "points_per_part": [int(np.sum(anchor_part == m)) for m in range(P)],
            "joint_residual_m": residuals,
            "joint_source": sources,
        },
    )


def run_articulate(
    cfg: ArticulateConfig,
    tracks: Tracks,
    mesh: SceneMesh,
    cameras: CameraRig,
    drags: DragSet,
    generator: np.random.Generator,
    frames: UInt8[np.ndarray, "V T H W 3"] | None = None,
    *,
    fps: float,
) -> Articulation:
    """Discover parts, poses and joints from tracks and check them against the videos
    (never reads ground truth).

    Args:
        cfg: settings.
        tracks: output of the track stage.
        mesh: rest-state mesh (labels are per its concatenated vertices/faces).
        cameras: the rig the tracks were observed with.
        drags: the requested drags (soft evidence for the proposals' joints).
        generator: randomness for RANSAC sampling.
        frames: the videos the tracks came from; with them (and ``cfg.model_fit``) the
            proposals are refined by analysis by synthesis (:mod:`.model_fit`).
        fps: frame rate of those videos (the joint values are per frame of them).

    Returns:
        The articulation; a video without motion gives the base alone.
    """
    check_inputs(tracks, cameras)
    obs = make_observations(tracks, cameras)
    obs.normals = anchor_normals(mesh.vertices, mesh.faces, obs.anchors)
    diag = mesh.bbox_diagonal()
    moving = point_motion(obs) >= cfg.proposals.static_threshold_px
    min_points = max(
        cfg.proposals.min_part_points, int(cfg.proposals.min_part_fraction * moving.sum())
    )
    log.info("articulate: %d of %d points move", int(moving.sum()), len(moving))
    parts = search_parts(obs, moving, min_points, cfg, generator)
    log.info("articulate: %d rigid parts proposed from the tracks", len(parts))
    point_part, poses = clean_parts(obs, parts, mesh, min_points, diag, cfg)
    fitted: dict[bytes, JointFit] = {}  # joint fits cached by their inputs
    tree, poses, point_part = fold_fragments(obs, poses, point_part, drags, diag, cfg, fitted)
    if cfg.tree.refine_joints:
        tree = fit_tree(obs, poses, point_part, drags, diag, cfg, True, fitted)
        if cfg.tree.relabel_by_joints and len(poses) > 1:
            point_part, poses, tree = refit_relabelled(
                obs, tree, point_part, poses, drags, diag, min_points, cfg, fitted
            )
    extras = {
        "num_points": len(obs.anchors),
        "num_moving_points": int(moving.sum()),
        "num_drags": int(drags.num_drags),
    }
    proposal = tree_articulation(tree, point_part, obs, mesh, cfg, extras, fps)
    if frames is not None:
        log.info("articulate: checking %d joints against the videos", len(proposal.joints))
        points = PointTracks(obs.anchors, lambda groups, T0: fit_poses(obs, groups, T0, cfg))
        proposal = fit_model(proposal, mesh, cameras, frames, cfg.model_fit, cfg.joint, points)
    art = sane_articulation(proposal, mesh, cfg.sanity)
    log.info(
        "articulate: %s", ", ".join(f"{j.name} {j.type.value}" for j in art.joints) or "static"
    )
    return art


def articulate_stage(
    cfg: ArticulateConfig, inputs: StageInputs, rng: np.random.Generator
) -> Articulation:
    """The `articulate` stage: :func:`run_articulate` on the tracks, the prepared scene
    and the videos (their cameras, frames and frame rate)."""
    scene, videos = inputs["prepare"], inputs["generate"]
    return run_articulate(
        cfg,
        inputs["track"],
        scene.mesh,
        videos.cameras,
        scene.drags,
        rng,
        videos.frames,
        fps=videos.fps,
    )
