"""The kinematic tree of the proposals: parents, joints per part, relabelling by joints."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from partdrag4d.containers import (
    DragSet,
    JointType,
)
from partdrag4d.geometry.se3 import invert_T, transform_points
from partdrag4d.reconstruct.articulate_config import ArticulateConfig
from partdrag4d.reconstruct.drag_joints import assign_drags
from partdrag4d.reconstruct.joint_refit import fit_joint
from partdrag4d.reconstruct.joints import (
    JointFit,
    joint_transforms,
    select_joint,
)
from partdrag4d.reconstruct.observations import (
    Observations,
    confident,
    evidence,
    fit_poses,
    reliable_frames,
)
from partdrag4d.reconstruct.proposals import per_view_motion


@dataclass
class Tree:
    """Parts as a kinematic tree: ``order`` lists part indices parents first, ``parents``
    gives each part's parent, ``fits`` each moving part's joint,
    ``T_world`` (T, P, 4, 4) the modelled poses with columns in tree order."""

    order: list[int]
    parents: list[int]  # the base's is -1
    fits: dict[int, JointFit]
    T_world: np.ndarray


def fit_tree(
    obs: Observations,
    poses: list[np.ndarray],
    point_part: np.ndarray,
    drags: DragSet,
    diag: float,
    cfg: ArticulateConfig,
    refine: bool,
    fitted: dict[bytes, JointFit],
) -> Tree:
    """Parents, then every joint relative to its parent's modelled motion (parents
    first). ``fitted`` caches joints by their inputs across calls."""
    P, T = len(poses), len(poses[0])
    X_parts = [obs.anchors[point_part == m] for m in range(P)]
    trusted = [reliable_frames(obs, np.nonzero(point_part == m)[0], cfg) for m in range(P)]
    drag_part = assign_drags(drags, obs.anchors, point_part, poses, trusted)
    parents = choose_parents(poses, X_parts, trusted, diag, cfg)
    order = [0]
    while len(order) < P:
        order += [p for p in range(1, P) if p not in order and parents[p] in order]
    T_world = np.zeros((T, P, 4, 4))
    T_world[:, 0] = np.eye(4)
    fits: dict[int, JointFit] = {}
    for i, part in enumerate(order[1:], start=1):
        T_parent = T_world[:, order.index(parents[part])]
        groups = np.nonzero(point_part == part)[0]
        ok = trusted[part] & trusted[parents[part]]
        own_drags = drags.points_3d[:, drag_part == part]
        key = b"".join(x.tobytes() for x in (groups, T_parent, ok, own_drags)) + bytes(refine)
        if key not in fitted:
            fitted[key] = fit_joint(
                obs, poses[part], T_parent, groups, ok, own_drags, diag, cfg, refine
            )
        fits[part] = fit = fitted[key]
        T_world[:, i] = T_parent @ joint_transforms(fit.type, fit.axis, fit.origin, fit.values)
    return Tree(order, parents, fits, T_world)


def joint_errors(obs: Observations, tree: Tree, point_part: np.ndarray, cfg: ArticulateConfig):
    """(G, P) RMS pixel error of every point under each part's fitted joint motion (columns
    in tree order), each seen per view as in :func:`per_view_motion`."""
    G = len(obs.anchors)
    models = [tree.T_world[:, 0]] + [
        per_view_motion(obs, tree.T_world[:, col], np.nonzero(point_part == part)[0], cfg)
        for col, part in enumerate(tree.order[1:], start=1)
    ]
    return np.stack([obs.group_rms(m, np.ones(G, bool)) for m in models], 1)


def joint_cost(obs: Observations, err: np.ndarray, cfg: ArticulateConfig) -> float:
    """How badly a tree explains all points, whatever their labels: evidence-weighted
    error of each point's best joint motion, capped at twice the inlier threshold."""
    best = np.minimum(err.min(1), 2 * cfg.proposals.inlier_threshold_px)
    return float(np.sum(evidence(obs) * best))


def relabel_by_joints(
    err: np.ndarray, tree: Tree, point_part: np.ndarray, min_points: int, cfg: ArticulateConfig
) -> np.ndarray:
    """Point labels (-1 = ambiguous) by the fitted joints' motions (``err`` from
    :func:`joint_errors`), with the confidence rules of the part search; the old labels
    when a part would keep fewer than ``min_points`` points."""
    label = np.where(confident(err, cfg), np.array(tree.order)[err.argmin(1)], -1)
    if np.bincount(label[label > 0], minlength=err.shape[1])[1:].min() < min_points:
        return point_part
    return label


def refit_relabelled(
    obs: Observations,
    tree: Tree,
    point_part: np.ndarray,
    poses: list[np.ndarray],
    drags: DragSet,
    diag: float,
    min_points: int,
    cfg: ArticulateConfig,
    fitted: dict[bytes, JointFit],
) -> tuple[np.ndarray, list[np.ndarray], Tree]:
    """Labels, poses and tree after relabelling the points by the fitted joints and
    refitting, or the given ones when that does not help.

    Per-frame poses of a part whose tracks die early are loose; its joint model is not,
    and claims points the loose poses left to a neighbour. The refit is kept only if the
    joints keep their types and explain all points better (a type flip means the
    labels, not the joints, were fitted)."""
    err = joint_errors(obs, tree, point_part, cfg)
    relabelled = relabel_by_joints(err, tree, point_part, min_points, cfg)
    if np.array_equal(relabelled, point_part):
        return point_part, poses, tree
    poses2 = [poses[0]] + [
        fit_poses(obs, np.nonzero(relabelled == m)[0], poses[m], cfg) for m in range(1, len(poses))
    ]
    tree2 = fit_tree(obs, poses2, relabelled, drags, diag, cfg, True, fitted)
    err2 = joint_errors(obs, tree2, relabelled, cfg)
    same_types = all(tree2.fits[m].type is tree.fits[m].type for m in tree.fits)
    if same_types and joint_cost(obs, err2, cfg) < joint_cost(obs, err, cfg):
        return relabelled, poses2, tree2
    return point_part, poses, tree


def joint_motion(fit: JointFit, X: np.ndarray) -> float:
    """How far (m) a joint moves its part's points ``X`` (parent frame): the largest over
    frames of the median over points (0 for a fixed joint or no points)."""
    if fit.type is JointType.FIXED or len(X) == 0:
        return 0.0
    d = transform_points(joint_transforms(fit.type, fit.axis, fit.origin, fit.values), X) - X
    return float(np.max(np.median(np.linalg.norm(d, axis=-1), axis=1)))


def hinge_gap(fit: JointFit, X_child: np.ndarray, X_parent: np.ndarray) -> float:
    """How far (m) a revolute axis passes from the nearer of the two parts' surface
    points, the larger over both parts (0 for other joint types): a real hinge touches
    both the child and its parent."""
    if fit.type is not JointType.REVOLUTE or len(X_child) == 0 or len(X_parent) == 0:
        return 0.0

    def dist(X: np.ndarray) -> float:
        d = X - fit.origin
        return float(np.min(np.linalg.norm(d - np.outer(d @ fit.axis, fit.axis), axis=1)))

    return max(dist(X_child), dist(X_parent))


def choose_parents(
    poses: list[np.ndarray],
    X_parts: list[np.ndarray],
    trusted: list[np.ndarray],
    diag: float,
    cfg: ArticulateConfig,
) -> list[int]:
    """Parent index of every part (entry 0, the base, gets -1).

    The parent is the base when a simple joint relative to it explains the part's
    motion and (for a hinge) its axis touches both; otherwise a part relative to which
    a simple joint does (two hinges in series with proportional motions compose to one
    fixed-axis rotation about the base, but that axis floats in mid-air), else the part
    with the smallest joint residual plus hinge gap (see :func:`hinge_gap`).
    """
    P = len(poses)
    parents = [-1] + [0] * (P - 1)
    tol = cfg.tree.parent_tolerance * diag
    for p in range(1, P):
        res, gap = {}, {}
        for q in range(P):
            if q == p:
                continue
            T_rel = invert_T(poses[q]) @ poses[p]
            ok = trusted[p] & trusted[q]
            fit = select_joint(T_rel[ok], X_parts[p], diag, cfg.joint)
            res[q] = fit.residual
            gap[q] = hinge_gap(fit, X_parts[p], X_parts[q])
        if res[0] <= tol and gap[0] <= cfg.tree.hinge_gap * diag:
            continue
        simple = [q for q in res if res[q] <= tol]
        # Without a simple joint, a hinge floating away from the parts costs as much
        # as a residual of the same length.
        ranked = sorted(simple, key=gap.__getitem__) + sorted(
            (q for q in res if q not in simple), key=lambda q: res[q] + gap[q]
        )
        for q in ranked:
            # Walk up q's chain: choosing q must not create a cycle.
            a, ok = q, True
            while a > 0:
                if a == p:
                    ok = False
                    break
                a = parents[a]
            if ok:
                parents[p] = q
                break
    return parents


def fold_fragments(
    obs: Observations,
    poses: list[np.ndarray],
    point_part: np.ndarray,
    drags: DragSet,
    diag: float,
    cfg: ArticulateConfig,
    fitted: dict[bytes, JointFit],
) -> tuple[Tree, list[np.ndarray], np.ndarray]:
    """The tree of selected joints (parents before children) after folding, one by one,
    every part whose joint moves its points less than ``min_joint_travel`` (a fragment
    riding on its parent): its points go to the part whose motion explains them best
    (a fragment at an elbow may belong to the child), and the tree is refitted."""
    while True:
        tree = fit_tree(obs, poses, point_part, drags, diag, cfg, False, fitted)
        motion = {
            m: joint_motion(tree.fits[m], obs.anchors[point_part == m]) for m in tree.order[1:]
        }
        m = min(motion, key=motion.__getitem__, default=None)
        if m is None or motion[m] >= cfg.tree.min_joint_travel * diag:
            return tree, poses, point_part
        own = point_part == m
        poses = [p for i, p in enumerate(poses) if i != m]
        err = np.stack([obs.group_rms(pp, own) for pp in poses], 1)  # G P-1
        point_part = np.where(point_part > m, point_part - 1, point_part)
        point_part[own] = err[own].argmin(1)
        for k in np.unique(point_part[own]):
            if k > 0:
                poses[k] = fit_poses(obs, np.nonzero(point_part == k)[0], poses[k], cfg)
