"""Render-and-compare part tracking alone, on the wide suite's objects (an ablation).

Measures what ``partdrag4d.reconstruct.render_compare.track_parts`` achieves when the
part labels are given: every object of the chosen families is prepared and rendered
as in ``bench_reconstruct.py`` (default rig, every joint moving), its vertices are
labelled by their true moving part (ground truth, read here by the benchmark only: this
isolates the tracker from part discovery), and every moving part is tracked through
all frames from the rest pose. Reports, per family, the rotation error of each part's
pose against the true motion (final frame and worst frame, degrees), the translation
error over the bounding-box diagonal, the share of parts ending within 2°, and the
time per part and frame.

Run (2 cores)::

    .venv/bin/python tools/benchmarks/bench_render_compare.py --jobs 2
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np
from bench_reconstruct import ARMS, WIDE, Job, _asset_config, _degrade_config


def _part_labels(gt) -> tuple[np.ndarray, list[int]]:
    """Vertex -> moving part (0 = base) and each part's head link index."""
    links = [lk.name for lk in gt.asset.links]
    by_child = {j.child: j for j in gt.asset.joints}
    moving = set(gt.joint_names)

    def head(name: str) -> str:
        while name in by_child and by_child[name].name not in moving:
            name = by_child[name].parent
        return name

    heads = list(dict.fromkeys(head(n) for n in links))
    heads.sort(key=lambda n: (n != gt.asset.root, links.index(n)))
    link_part = np.array([heads.index(head(n)) for n in links])
    return link_part[gt.vertex_link], [links.index(h) for h in heads]


def run_case(case: tuple[Job, bool]) -> dict:
    """One object tracked with its true labels (``case``: the job, outline matches on)."""
    job, contour = case
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import tempfile

    from partdrag4d.assets.kinematics import link_poses_over_time
    from partdrag4d.config import PipelineConfig, RuntimeConfig
    from partdrag4d.generate.render_backend import RenderGeneratorConfig
    from partdrag4d.geometry.se3 import rotation_angle
    from partdrag4d.reconstruct.render_compare import RenderCompareConfig, track_parts
    from partdrag4d.runner import run_stages
    from partdrag4d.scene.cameras import RigConfig
    from partdrag4d.scene.drags import GtDragsConfig

    with tempfile.TemporaryDirectory() as tmp:
        cfg = PipelineConfig(
            asset=_asset_config(job, Path(tmp)),
            drags=GtDragsConfig(max_moving_joints=16, max_drags=16),
            rig=RigConfig(num_views=job.views, width=job.size, height=job.size),
            generator=RenderGeneratorConfig(degrade=_degrade_config(job.degrade_scale)),
            runtime=RuntimeConfig(seed=job.seed, progress=False),
        )
        done = run_stages(cfg, ["prepare"])
    done = run_stages(cfg, ["generate"], done)  # the asset's files are read by prepare only
    scene, videos = done["prepare"], done["generate"]
    gt = scene.gt
    vertex_part, heads = _part_labels(gt)
    poses = link_poses_over_time(gt.asset, gt.joint_names, gt.joint_values)
    truth = (poses @ np.linalg.inv(poses[0])[None])[:, heads]  # T P 4 4
    moving = list(range(1, len(heads)))
    t0 = time.perf_counter()
    track_cfg = RenderCompareConfig()
    track_cfg.contour.enabled = contour
    est = track_parts(scene.mesh, vertex_part, scene.cameras, videos.frames, moving, track_cfg)
    seconds = time.perf_counter() - t0
    R_err = np.degrees(
        rotation_angle(np.swapaxes(est[..., :3, :3], -1, -2) @ truth[..., :3, :3])
    )  # T P
    t_err = (
        np.linalg.norm(est[..., :3, 3] - truth[..., :3, 3], axis=-1) / scene.mesh.bbox_diagonal()
    )
    return {
        "name": job.name,
        "seed": job.seed,
        "degrade": job.degrade_scale,
        "final_deg": R_err[-1, moving].tolist(),
        "max_deg": R_err[:, moving].max(0).tolist(),
        "final_trans_rel": t_err[-1, moving].tolist(),
        "s_per_part_frame": seconds / max(len(moving) * (len(est) - 1), 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-family", type=int, default=4, help="objects per family (seeds 0..n-1)")
    ap.add_argument("--degrade-scale", type=float, nargs="+", default=[0.0, 1.0])
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--no-contour", action="store_true", help="flow matches only (ablation)")
    args = ap.parse_args()
    print("command:", shlex.join([Path(sys.executable).name, *sys.argv]))
    jobs = [
        Job("random", f, s, 4, 256, 14, d, "main", 16)
        for d in args.degrade_scale
        for f in WIDE
        for s in range(args.per_family)
    ] + [Job("arm", a, 0, 4, 256, 14, d, "main", 16) for d in args.degrade_scale for a in ARMS]
    t0 = time.perf_counter()
    with mp.get_context("spawn").Pool(args.jobs, maxtasksperchild=4) as pool:
        results = pool.map(run_case, [(j, not args.no_contour) for j in jobs])
        pool.close()
        pool.join()
    print(f"wall time {time.perf_counter() - t0:.0f} s, {len(jobs)} cases")
    print(f"\n{'':<22}{'parts':>6}{'final°':>8}{'max°':>8}{'≤2° final':>10}", end="")
    print(f"{'trans/diag':>11}{'s/part-frame':>13}")
    for d in args.degrade_scale:
        for row in [*WIDE, "arms"]:
            rs = [
                r
                for r in results
                if r["degrade"] == d and (r["name"] == row or (row == "arms" and r["name"] in ARMS))
            ]
            final = np.concatenate([r["final_deg"] for r in rs])
            worst = np.concatenate([r["max_deg"] for r in rs])
            trans = np.concatenate([r["final_trans_rel"] for r in rs])
            speed = np.mean([r["s_per_part_frame"] for r in rs])
            label = f"{row} (deg x{d:g})"
            print(
                f"{label:<22}{len(final):>6}{np.mean(final):>8.2f}{np.max(worst):>8.1f}"
                f"{np.mean(final <= 2.0):>10.2f}{np.mean(trans):>11.4f}{speed:>13.3f}"
            )


if __name__ == "__main__":
    main()
