"""Analysis by synthesis: the articulation that best re-renders every view and frame.

The part proposals (from tracks) give part labels on the rest mesh, a kinematic tree
and joints. This step checks and improves them against the videos themselves, with
one criterion (:mod:`.model_score`: robust photometric + silhouette error of the
re-rendered videos plus a description-length cost per part and joint):

1. **model-based tracking**: every moving part is followed frame by frame by
   render-and-compare against all views (:func:`.render_compare.track_parts`), which
   survives large rotations, faces turning away and weak texture, where 2D tracks die;
2. **joints from the tracked poses**: per part, the parent (the base or an earlier
   part) whose motion leaves the smallest joint residual, the joint type by model
   selection (:func:`.joints.select_joint`), composed parents first;
3. **model selection**: the proposal's joints and the tracked ones are rendered and
   scored; the better articulation is kept; its faces are then relabelled by the motion
   that re-renders them best (:mod:`.relabel`) and the parts tracked again, kept while
   the score drops (again after discovery);
4. **splitting** (:mod:`.split`): a part whose welded pieces move differently by
   their point tracks is split in two when that lowers the score (both sides tracked
   again by render-and-compare first);
5. **discovery** (:mod:`.discover`): where the chosen model leaves the videos' motion
   unexplained, candidate parts are tracked and kept when the score drops; then all
   parts are tracked together once more (kept if better);
6. **joint adjustment** (:mod:`.joint_adjust`): every joint's line and values refined
   together against all views and frames (a parent's value moves its children's
   pixels too), kept when the score drops;
7. **moving pieces** (:mod:`.pieces`): a whole welded piece given to a nearby part,
   motions held, when that lowers the score;
8. **folding**: each moving part is merged into its parent or its nearest part (its
   children re-parented, joints refitted) when that lowers the score, i.e. when its own
   motion explains fewer pixels than its parameters cost; after a fold the joints are
   adjusted again.

Every joint records its source (``tracks``, ``drag`` or ``render-compare``). Reads the videos,
the cameras, the rest mesh and the proposals only, never ground truth.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
from jaxtyping import UInt8

from partdrag4d.containers import Articulation, CameraRig, SceneMesh
from partdrag4d.progress import bar
from partdrag4d.reconstruct.discover import DiscoverConfig, discover_parts
from partdrag4d.reconstruct.joint_adjust import JointAdjustConfig, adjust_joints
from partdrag4d.reconstruct.joints import JointSelectConfig
from partdrag4d.reconstruct.model import (
    Model,
    folded,
    from_articulation,
    joints_from_poses,
    merge_targets,
    to_articulation,
)
from partdrag4d.reconstruct.model_score import Score, ScoreConfig, score_hypothesis
from partdrag4d.reconstruct.pieces import PieceMoveConfig, moved_pieces
from partdrag4d.reconstruct.relabel import RelabelConfig, relabel_parts
from partdrag4d.reconstruct.render_compare import RenderCompareConfig, track_parts
from partdrag4d.reconstruct.split import PointTracks, SplitConfig, split_parts
from partdrag4d.reconstruct.view_amplitude import ViewAmplitudeConfig, fit_view_scales


@dataclass
class ModelFitConfig:
    """Settings of the analysis-by-synthesis step."""

    enabled: bool = True
    """Run it (needs the video frames); off: the proposals are the result."""
    fold: bool = True
    """Try merging every moving part into its parent or a neighbour (kept when the score
    drops)."""
    merge_neighbours: int = 2
    """Besides the parent, a part may merge into this many nearest parts (two: a stray
    piece of a door lies about as near to the body as to the rest of its door)."""
    max_joint_points: int = 2000
    """Rest vertices per joint fit (evenly subsampled; speed)."""
    track: RenderCompareConfig = field(default_factory=RenderCompareConfig)
    """Render-and-compare tracking."""
    score: ScoreConfig = field(default_factory=ScoreConfig)
    """The criterion."""
    relabel: RelabelConfig = field(default_factory=RelabelConfig)
    """Faces given to the part whose motion re-renders them best."""
    split: SplitConfig = field(default_factory=SplitConfig)
    """Parts whose pieces move differently, split in two."""
    discover: DiscoverConfig = field(default_factory=DiscoverConfig)
    """New parts where the model leaves motion unexplained."""
    pieces: PieceMoveConfig = field(default_factory=PieceMoveConfig)
    """Whole welded pieces given to a nearby part, motions held."""
    view_amplitude: ViewAmplitudeConfig = field(default_factory=ViewAmplitudeConfig)
    """One amplitude per view and joint (generated views disagree on it)."""
    adjust: JointAdjustConfig = field(default_factory=JointAdjustConfig)
    """Every joint's line and values refined together against the videos."""


def tracked_model(
    model: Model,
    mesh: SceneMesh,
    rig: CameraRig,
    frames: UInt8[np.ndarray, "V T H W 3"],
    diag: float,
    cfg: ModelFitConfig,
    joint_cfg: JointSelectConfig,
) -> Model:
    """The model's parts tracked by render-and-compare, with joints (and parents) fitted
    to the tracked poses."""
    P = len(model.parents)
    poses = track_parts(mesh, model.vertex_part, rig, frames, list(range(1, P)), cfg.track)
    parents, fits, T_model = joints_from_poses(
        poses,
        model.vertex_part,
        mesh.vertices,
        diag,
        "render-compare",
        cfg.max_joint_points,
        joint_cfg,
    )
    return replace(model, parents=parents, fits=fits, T_world=T_model, view_scale=None)


def merged_model(
    model: Model,
    model_score: Score,
    mesh: SceneMesh,
    diag: float,
    score: Callable[[Model, str], Score],
    cfg: ModelFitConfig,
    joint_cfg: JointSelectConfig,
) -> tuple[Model, Score]:
    """Merge parts (last first) into their parent or nearest part while that lowers the
    score; passes repeat until none is kept (a merge can make another one pay)."""
    changed, tried = True, set()
    while changed and len(model.parents) > 1:
        changed = False
        for part in range(len(model.parents) - 1, 0, -1):
            if part >= len(model.parents):
                continue
            for into in merge_targets(model, part, mesh.vertices, cfg.merge_neighbours):
                key = (model.vertex_part.tobytes(), model.parents, part, into)
                if key in tried:
                    continue
                tried.add(key)
                trial = folded(
                    model, part, mesh.vertices, diag, cfg.max_joint_points, joint_cfg, into
                )
                s = score(trial, f"merge part_{part} into {into}")
                if s.total < model_score.total:
                    model, model_score, changed = trial, s, True
                    break
    return model, model_score


def fit_model(
    art: Articulation,
    mesh: SceneMesh,
    rig: CameraRig,
    frames: UInt8[np.ndarray, "V T H W 3"],
    cfg: ModelFitConfig,
    joint_cfg: JointSelectConfig,
    points: PointTracks | None = None,
) -> Articulation:
    """The proposal ``art`` checked and improved against the videos (module docstring).

    Args:
        art: the proposal (parts in tree order: every parent before its children).
        mesh: the rest mesh (appearance included: it is what the renders compare).
        rig: the cameras of the videos.
        frames: the videos (V, T, H, W, 3).
        cfg: settings.
        joint_cfg: joint-type selection.
        points: the tracked surface points (for splitting parts; None: no splitting).

    Returns:
        The articulation with the lowest score; its extras hold every score compared
        (``model_scores``) and each joint's source (``joint_source``).
    """
    if not cfg.enabled or len(art.part_names) < 2:
        return art
    from partdrag4d.render.rasterizer import Rasterizer

    diag = mesh.bbox_diagonal()
    log: list[dict] = []
    # the number of hypotheses is not known ahead: the bar counts them and names the step
    steps = bar(desc="articulate: models scored", unit="model")
    with Rasterizer(mesh, rig.width, rig.height) as rast, steps:

        def score(model: Model, what: str) -> Score:
            steps.set_postfix_str(what, refresh=False)
            s = score_hypothesis(model.hypothesis(), mesh, rig, frames, cfg.score, rast)
            log.append({"model": what, "parts": len(model.parents), "total": s.total})
            steps.update()
            return s

        last_cfg = replace(cfg.score, frame_step=max(frames.shape[1] - 1, 1))

        def last_frame_score(model: Model) -> float:
            h = model.hypothesis()
            return score_hypothesis(h, mesh, rig, frames, last_cfg, rast).total

        def with_amplitudes(model: Model, what: str) -> tuple[Model, Score]:
            """The model with or without per-view amplitudes, whichever scores better."""
            scaled = fit_view_scales(model, mesh, rig, frames, rast, cfg.view_amplitude, cfg.track)
            options = [(model, score(model, what))]
            if scaled is not model:
                options.append((scaled, score(scaled, what + " + view amplitudes")))
            return min(options, key=lambda c: c[1].total)

        def adjusted(model: Model, model_score: Score, what: str) -> tuple[Model, Score]:
            """The model with its joints adjusted against the videos, if that scores better."""
            if not cfg.adjust.enabled:
                return model, model_score
            trial = adjust_joints(model, mesh, rig, frames, rast, cfg.adjust, cfg.track)
            s = score(trial, what)
            return (trial, s) if s.total < model_score.total else (model, model_score)

        def relabelled(model: Model, model_score: Score, what: str) -> tuple[Model, Score]:
            """Faces relabelled by motion and the parts tracked again, while that scores
            better."""
            for _ in range(cfg.relabel.rounds if cfg.relabel.enabled else 0):
                trial = relabel_parts(model, mesh, rig, frames, rast, cfg.relabel, cfg.score)
                if trial is None:
                    break
                trial = tracked_model(trial, mesh, rig, frames, diag, cfg, joint_cfg)
                trial, s = with_amplitudes(trial, what)
                if s.total >= model_score.total:
                    break
                model, model_score = trial, s
            return model, model_score

        proposal = from_articulation(art)
        for part in range(len(proposal.parents) - 1, 0, -1):  # a part without vertices
            if not np.any(proposal.vertex_part == part):  # moves nothing: it goes
                proposal = folded(
                    proposal, part, mesh.vertices, diag, cfg.max_joint_points, joint_cfg
                )
        tracked = tracked_model(proposal, mesh, rig, frames, diag, cfg, joint_cfg)
        candidates = [with_amplitudes(proposal, "proposal"), with_amplitudes(tracked, "tracked")]
        best, best_score = min(candidates, key=lambda c: c[1].total)
        best, best_score = relabelled(best, best_score, "relabelled")
        best, best_score = split_parts(
            best,
            best_score,
            mesh,
            rig,
            frames,
            score,
            points,
            cfg.split,
            cfg.track,
            cfg.max_joint_points,
            joint_cfg,
        )
        grown, grown_score = discover_parts(
            best,
            best_score,
            mesh,
            rig,
            frames,
            rast,
            score,
            cfg.discover,
            cfg.track,
            cfg.max_joint_points,
            joint_cfg,
        )
        if grown is not best:  # parts were added: all parts tracked together again
            retracked = tracked_model(grown, mesh, rig, frames, diag, cfg, joint_cfg)
            grown, grown_score = min(
                [(grown, grown_score), with_amplitudes(retracked, "tracked again")],
                key=lambda c: c[1].total,
            )
            grown, grown_score = relabelled(grown, grown_score, "grown + relabelled")
        best, best_score = adjusted(grown, grown_score, "adjusted")
        best, best_score = moved_pieces(best, best_score, mesh, score, last_frame_score, cfg.pieces)
        if cfg.fold:
            merged, merged_score = merged_model(best, best_score, mesh, diag, score, cfg, joint_cfg)
            if merged is not best:  # parts went: the joints left adjusted again
                merged, merged_score = adjusted(merged, merged_score, "merged + adjusted")
            best, best_score = merged, merged_score
    out = to_articulation(best, art)
    out.extras["model_scores"] = log
    return out
