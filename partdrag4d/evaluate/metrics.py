"""Metrics of a reconstructed articulation against ground truth (definitions and units:
README.md, "Metrics").

The only reader of ``SceneInput.gt`` besides the render backend. GT parts are groups
of links that move together in the animation (a link hangs on its nearest ancestor
joint that actually moves; fixed or unanimated joints merge links). Predicted parts
are matched to GT parts by Hungarian matching on area-weighted vertex IoU; a GT joint
is matched to the predicted joint whose child part matched the GT joint's child group.
Joint frames are compared in the world frame at the rest state (frame 0). Axes within
1 degree of parallel get the distance of the predicted pivot to the GT axis as position
error (the skew-line formula would report their far-away crossing as ~0).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial import KDTree

from partdrag4d.containers import (
    Articulation,
    Evaluation,
    GroundTruth,
    JointMetrics,
    JointType,
    Metrics,
    SceneInput,
    StageInputs,
)
from partdrag4d.geometry.lines import axis_angle_deg, line_distance
from partdrag4d.geometry.se3 import invert_T, rotation_angle, transform_points

_NUM_SAMPLES = 10_000
_PARALLEL_SIN = float(np.sin(np.radians(1.0)))


def _gt_groups(gt: GroundTruth) -> tuple[np.ndarray, list[str | None], np.ndarray]:
    """GT part of every vertex, the moving joint of each GT part (None for the base),
    and per-frame link poses relative to rest ``(T, L, 4, 4)``."""
    from partdrag4d.assets.kinematics import link_poses_over_time

    asset = gt.asset
    moving = {
        n for n, col in zip(gt.joint_names, gt.joint_values.T, strict=True) if np.ptp(col) > 1e-9
    }
    group_of_link = {asset.root: 0}
    group_joint: list[str | None] = [None]
    for j in asset.joints:  # topological order: parents first
        if j.name in moving and j.type is not JointType.FIXED:
            group_of_link[j.child] = len(group_joint)
            group_joint.append(j.name)
        else:
            group_of_link[j.child] = group_of_link[j.parent]
    link_group = np.array([group_of_link.get(link.name, 0) for link in asset.links])
    Tl = link_poses_over_time(asset, gt.joint_names, gt.joint_values)
    rel = Tl @ invert_T(Tl[0])[None]
    return link_group[gt.vertex_link], group_joint, rel


def _vertex_areas(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    tri = vertices[faces]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    w = np.zeros(len(vertices))
    np.add.at(w, faces.ravel(), np.repeat(area / 3.0, 3))
    return w


def _sample(vertices: np.ndarray, faces: np.ndarray, n: int, rng: np.random.Generator):
    tri = vertices[faces]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    if len(faces) == 0 or area.sum() <= 0:
        return np.zeros((0, 3))
    f = rng.choice(len(faces), n, p=area / area.sum())
    r1, r2 = rng.random(n), rng.random(n)
    s = np.sqrt(r1)
    a, b, c = 1 - s, s * (1 - r2), s * r2
    return a[:, None] * tri[f, 0] + b[:, None] * tri[f, 1] + c[:, None] * tri[f, 2]


def chamfer(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared nearest-neighbour distance summed over both directions."""
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    da, _ = KDTree(b).query(a)
    db, _ = KDTree(a).query(b)
    return float(np.mean(da**2) + np.mean(db**2))


def run_evaluate(articulation: Articulation, scene: SceneInput) -> Metrics:
    """All articulation metrics (README.md, "Metrics"; reads ``scene.gt``).

    Returns:
        Means and counts over the moving GT joints and one :class:`JointMetrics` per
        joint. Lengths in metres and ``*_rel`` divided by the GT bounding-box diagonal;
        angles in degrees.

    Raises:
        ValueError: the scene has no ground truth.
    """
    if scene.gt is None:
        raise ValueError("run_evaluate needs SceneInput.gt")
    art = articulation
    mesh = scene.mesh
    V, F = mesh.vertices, mesh.faces
    diag = mesh.bbox_diagonal()
    gt_vpart, gt_joint_of_group, rel = _gt_groups(scene.gt)
    G, P = len(gt_joint_of_group), art.num_parts
    w = _vertex_areas(V, F)

    # Segmentation: area-weighted IoU, Hungarian matching.
    inter = np.zeros((G, P))
    np.add.at(inter, (gt_vpart, art.vertex_part), w)
    gsum, psum = inter.sum(1), inter.sum(0)
    iou = inter / np.maximum(gsum[:, None] + psum[None, :] - inter, 1e-300)
    rows, cols = linear_sum_assignment(-iou)
    match = {int(r): int(c) for r, c in zip(rows, cols, strict=True) if iou[r, c] > 0}
    accuracy = float(sum(inter[g, p] for g, p in match.items()) / w.sum())
    miou = float(np.mean([iou[g, match[g]] if g in match else 0.0 for g in range(G)]))

    # Joints.
    from partdrag4d.assets.kinematics import forward_kinematics

    asset = scene.gt.asset
    q0 = dict(zip(scene.gt.joint_names, scene.gt.joint_values[0].tolist(), strict=True))
    poses = forward_kinematics(asset, q0)
    gt_joints = {j.name: j for j in asset.joints}
    link_of_joint = {
        j.name: [i for i, lk in enumerate(asset.links) if lk.name == j.child][0]
        for j in asset.joints
    }
    pred_by_child = {j.child: j for j in art.joints}
    Tn = min(len(rel), art.T_world_part.shape[0])
    per_joint, matched_pred = [], set()
    for g in range(1, G):
        name = gt_joint_of_group[g]
        assert name is not None  # every group but the base hangs on a moving joint
        js = gt_joints[name]
        Tj = poses[js.parent] @ js.T_parent_joint
        a_gt, o_gt = Tj[:3, :3] @ js.axis, Tj[:3, 3]
        p = match.get(g)
        pj = pred_by_child.get(art.part_names[p]) if p is not None and p > 0 else None
        if pj is None:
            per_joint.append(JointMetrics(name, js.type, matched=False))
            continue
        matched_pred.add(pj.name)
        pos_err = None
        if js.type is JointType.REVOLUTE:
            # Below 1 degree the lines' closest approach usually lies far outside
            # the object: use the point-to-line distance instead (see module doc).
            pos_err = line_distance(o_gt, a_gt, pj.origin, pj.axis, _PARALLEL_SIN)
        R_gt = rel[:Tn, link_of_joint[name]]
        R_pr = art.T_world_part[:Tn, p]
        if js.type is JointType.REVOLUTE:
            err = np.degrees(rotation_angle(R_pr[:, :3, :3] @ np.swapaxes(R_gt[:, :3, :3], -1, -2)))
        else:
            err = np.linalg.norm(R_pr[:, :3, 3] - R_gt[:, :3, 3], axis=1) / diag
        per_joint.append(
            JointMetrics(
                name,
                js.type,
                matched=True,
                pred_joint=pj.name,
                pred_type=pj.type,
                type_correct=pj.type is js.type,
                axis_angle_deg=axis_angle_deg(pj.axis, a_gt),
                axis_pos_err=pos_err,
                axis_pos_err_rel=None if pos_err is None else pos_err / diag,
                motion_err_per_frame=tuple(float(x) for x in err),
                motion_err_final=float(err[-1]),
            )
        )
    moving_pred = [j for j in art.joints if j.type is not JointType.FIXED]
    extra = [j.name for j in moving_pred if j.name not in matched_pred]

    # Chamfer at the final frame (posed prediction vs posed GT), normalised by diag.
    rng = np.random.default_rng(0)
    t = Tn - 1
    V_gt = np.empty_like(V)
    for li in range(rel.shape[1]):
        m = scene.gt.vertex_link == li
        V_gt[m] = transform_points(rel[t, li], V[m])
    V_pr = np.empty_like(V)
    for k in range(P):
        m = art.vertex_part == k
        V_pr[m] = transform_points(art.T_world_part[t, k], V[m])
    gt_fpart = gt_vpart[F[:, 0]]
    cd = {}
    for key, fp, fg in [
        ("static", art.face_part == 0, gt_fpart == 0),
        ("movable", art.face_part != 0, gt_fpart != 0),
        ("whole", np.ones(len(F), bool), np.ones(len(F), bool)),
    ]:
        a = _sample(V_pr / diag, F[fp], _NUM_SAMPLES, rng)
        b = _sample(V_gt / diag, F[fg], _NUM_SAMPLES, rng)
        cd[key] = 1000.0 * chamfer(a, b)

    matched = [e for e in per_joint if e.matched]

    def mean(values) -> float | None:
        values = [float(v) for v in values if v is not None]
        return float(np.mean(values)) if values else None

    def motion_mean(kind: JointType) -> float | None:
        return mean(e.motion_err_final for e in matched if e.gt_type is kind)

    return Metrics(
        num_gt_moving_joints=G - 1,
        num_pred_moving_joints=len(moving_pred),
        missing_joints=tuple(e.gt_joint for e in per_joint if not e.matched),
        extra_joints=tuple(extra),
        joint_type_accuracy=mean(e.type_correct for e in matched),
        axis_angle_deg=mean(e.axis_angle_deg for e in matched),
        axis_pos_err=mean(e.axis_pos_err for e in matched),
        axis_pos_err_rel=mean(e.axis_pos_err_rel for e in matched),
        motion_err_final=mean(e.motion_err_final for e in matched),
        motion_err_revolute_deg=motion_mean(JointType.REVOLUTE),
        motion_err_prismatic_rel=motion_mean(JointType.PRISMATIC),
        seg_accuracy=accuracy,
        seg_miou=miou,
        chamfer_static=cd["static"],
        chamfer_movable=cd["movable"],
        chamfer_whole=cd["whole"],
        joints=tuple(per_joint),
    )


def evaluate_stage(cfg: object, inputs: StageInputs, rng: np.random.Generator) -> Evaluation:
    """The `evaluate` stage (no settings): :func:`run_evaluate` of the articulation, or
    no metrics when the prepared scene has no ground truth."""
    scene: SceneInput = inputs["prepare"]
    if scene.gt is None:
        return Evaluation(metrics=None)
    return Evaluation(metrics=run_evaluate(inputs["articulate"], scene))


def format_metrics_table(metrics: Metrics) -> str:
    """Human-readable two-column table of the scalar metrics, then one line per joint."""
    lines = []
    for k, v in metrics.scalars().items():
        lines.append(f"{k:<24} {v:.4g}" if isinstance(v, float) else f"{k:<24} {v}")
    for e in metrics.joints:
        parts = [f"joint {e.gt_joint} ({e.gt_type.value})"]
        if e.pred_type is not None:
            parts.append(f"pred_type={e.pred_type.value}")
        for k, v in (
            ("axis_angle_deg", e.axis_angle_deg),
            ("axis_pos_err_rel", e.axis_pos_err_rel),
            ("motion_err_final", e.motion_err_final),
        ):
            if v is not None:
                parts.append(f"{k}={v:.4g}")
        if not e.matched:
            parts.append("MISSING")
        lines.append("  ".join(parts))
    return "\n".join(lines)
