"""Settings of the articulate stage (the part proposals from tracks and the model fit)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from partdrag4d.config_checks import COUNT, FRACTION, Range
from partdrag4d.reconstruct.joints import (
    JointSelectConfig,
)
from partdrag4d.reconstruct.model_fit import ModelFitConfig
from partdrag4d.reconstruct.sanity import SanityConfig
from partdrag4d.reconstruct.segment import (
    SegmentConfig,
)


@dataclass
class ProposalConfig:
    """Part proposals from tracks: the static points and the sequential RANSAC
    (pixel thresholds at the video resolution)."""

    CHECKS: ClassVar[dict] = {
        "ransac_iterations": COUNT,
        "ransac_sample": Range(3, 100, integer=True),
        "ransac_finalists": COUNT,
        "ransac_neighbours": COUNT,
        "min_part_points": Range(3, integer=True),
        "max_parts": COUNT,
        "min_part_fraction": FRACTION,
        "max_fit_points": COUNT,
        "view_scale_range": Range(0.0, 0.99),
    }

    static_threshold_px: float = 1.0
    """Points whose reprojection moves less than this (max over frames) may be static."""
    inlier_threshold_px: float = 1.5
    """RMS reprojection error below which a point is explained by a rigid motion."""
    ransac_iterations: int = 200
    """Hypotheses per part."""
    ransac_preview_points: int = 400
    """Hypotheses are first scored on at most this many of the remaining points (evenly
    spaced); only the ``ransac_finalists`` best are scored on all of them (speed)."""
    ransac_finalists: int = 8
    """Hypotheses scored on all remaining points after the preview."""
    ransac_neighbours: int = 30
    """Samples are drawn among this many nearest moving points (locality)."""
    ransac_sample: int = 3
    """Surface points per hypothesis (their triangulated trajectories give its poses by
    Kabsch; more than 3 average out triangulation noise)."""
    min_part_points: int = 12
    """Smallest number of surface points that makes a part."""
    max_parts: int = 8
    """Most moving parts searched for."""
    ambiguity_margin_px: float = 0.3
    """Points whose best two models differ by less than this do not label the mesh."""
    robust_scale_px: float = 1.0
    """Inlier scale of the robust losses (pixels)."""
    min_part_fraction: float = 0.04
    """Smallest part as a fraction of the moving points (with ``min_part_points``)."""
    min_track_frames: int = 2
    """RANSAC samples need triangulated trajectories over at least this many first
    frames (the pose is held after a sample's tracks end)."""
    grow_iterations: int = 8
    """Most refit-and-grow rounds of a RANSAC winner (it stops once it grows < 2 %)."""
    max_fit_points: int = 300
    """Surface points used per pose/joint least-squares fit (random subset; speed)."""
    split_gain: float = 0.5
    """A found part is split in two when two rigid motions explain its points with a
    median reprojection error below this fraction of the single motion's (two drawers
    sliding by different amounts fit one rotation about a far axis to within a pixel)."""
    split_min_px: float = 0.2
    """Floor of the inlier threshold of the split search (pixels)."""
    pnp_patch: int = 12
    """Surface points per hypothesis when no trajectory is triangulated (one view)."""
    pnp_iterations: int = 40
    """Patch-PnP hypotheses per part (each costs T pose fits)."""
    pnp_always: bool = True
    """Draw patch-PnP hypotheses also when trajectories are triangulated (they are the
    only consistent ones when views disagree on how far a part moved)."""
    view_scale_range: float = 0.4
    """Part discovery lets every view see each motion scaled by up to this much (1 -/+
    range; generated views disagree on amplitude and timing); 0 = views agree."""


@dataclass
class CleanupConfig:
    """Clean-up of the proposed parts: which ones another model already explains."""

    merge_threshold_px: float = 1.5
    """A part is merged away when another model explains at least half of its points
    with an RMS error below this (removes near-duplicate parts made of tracking noise)."""
    min_joint_motion: float = 0.02
    """A part whose points move less than this (fraction of the bbox diagonal, median
    over points, max over frames) relative to a bigger part or the base is a fragment of
    it (tracks drifting on a surface turning away) and is merged into it."""
    min_view_cos: float = 0.3
    """A part is also merged away when another model explains at least half of its
    tracks over the frames where it shows them at |cos| >= this to the camera ray (not
    grazing: there flow slides along the foreshortened texture); 0 turns this off."""
    head_on_gain_px: float = 0.5
    """... and the part's own motion fits them less than this much better there (a door
    near its hinge moves a little while still facing the cameras)."""


@dataclass
class TreeConfig:
    """The proposals' kinematic tree: parents, joint refit, folding, drags."""

    parent_tolerance: float = 0.003
    """A joint relative to the base whose residual is below this (fraction of the bbox
    diagonal) makes the base the parent; otherwise the best moving part may be."""
    hinge_gap: float = 0.1
    """A hinge relative to the base whose axis passes farther than this (fraction of
    the bbox diagonal) from the part or the base lets a moving part be the parent."""
    min_joint_travel: float = 0.03
    """A part whose fitted joint moves its points less than this (fraction of the bbox
    diagonal, median over points, max over frames) relative to its parent is folded
    into the others (its points go to the part whose motion explains them best). Larger
    than ``min_joint_motion``, which compares noisier free poses: 0.03 there merged a
    lamp's upper arm into its lower arm on degraded video."""
    min_frame_support: float = 0.05
    """A part's pose at a frame is trusted only when at least this fraction of its
    track entries seen at the rest frame (and at least 20) is seen there: a door that
    turns its tracked face away from every camera keeps only a few drifting tracks,
    whose pose would ruin the joint fit. Untrusted frames hold the last trusted value."""
    per_view_scale: bool = True
    """The joint refit gives every view its own motion amplitude (generated views
    disagree on it by several per cent); values are those of the views' mean."""
    min_trusted_fraction: float = 0.5
    """Below this fraction of trusted frames, a part's joint (type, axis, pivot) comes
    from the shape of its requested drag's path (see :func:`joint_from_drag`)."""
    drag_curvature: float = 0.05
    """A drag path deviating from its chord by more than this fraction of the chord's
    length is curved (a hinge)."""
    drag_weight: int = 20
    """In the joint refit, each requested drag on a part counts as this many tracked
    points observing every frame (0: the tracks alone decide)."""
    refine_joints: bool = True
    """Refit axis, pivot and values jointly on reprojection error."""
    relabel_by_joints: bool = True
    """After the joint refit, relabel the points by the joints' motions and refit once
    when labels change (with ``refine_joints``)."""


@dataclass
class ArticulateConfig:
    """Settings of the articulate stage, grouped by step."""

    proposals: ProposalConfig = field(default_factory=ProposalConfig)
    """Part proposals from tracks: the static points and the sequential RANSAC"""
    cleanup: CleanupConfig = field(default_factory=CleanupConfig)
    """Clean-up of the proposed parts: which ones another model already explains."""
    tree: TreeConfig = field(default_factory=TreeConfig)
    """The proposals' kinematic tree: parents, joint refit, folding, drags."""
    joint: JointSelectConfig = field(default_factory=JointSelectConfig)
    """Joint-type model selection."""
    segment: SegmentConfig = field(default_factory=SegmentConfig)
    """Mesh labelling."""
    model_fit: ModelFitConfig = field(default_factory=ModelFitConfig)
    """Analysis by synthesis: the proposals checked against the re-rendered videos."""
    sanity: SanityConfig = field(default_factory=SanityConfig)
    """Bounds of a plausible joint; an implausible one is made fixed (last step)."""
