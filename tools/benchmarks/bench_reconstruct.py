"""Benchmark of the reconstruction (track + articulate) over articulated objects.

Two suites:

- ``wide`` (default): 60 objects the method was not written around: random articulated
  objects from fixed seeds (``partdrag4d.assets.random_objects``: any yaw, small pitch
  and roll, 0.2-3 m, 1-8 moving parts, hinges on any side opening up to 150°, sliders in
  any direction, chains up to depth 3, shared hinge axes, thin and small parts,
  textured, weakly textured and plain) in five families, plus the two robot arms that
  ship in the ``pybullet`` package (``kuka_iiwa``, ``franka_panda``). Every joint of an
  object moves in its clip.
- ``categories``: the procedural library's ten categories (front toward -Y), two seeds
  each, at most 5 joints moving per clip.

For every object: ``prepare`` with GT drags and the default rig (``rig.front=auto``),
render V views x T frames at S^2 (clean, and with the default degradation imitating
generated videos), run ``track`` and ``articulate``, score with ``evaluate``. Then two
sweeps on a few objects: the number of views (V = 1, 2, 4, 8, no degradation) and the
degradation strength (0, 0.5, 1, 2 x the defaults, V = 4); cases shared with the main
run are run once.

Run (2 cores)::

    .venv/bin/python tools/benchmarks/bench_reconstruct.py --jobs 2                 # wide
    .venv/bin/python tools/benchmarks/bench_reconstruct.py --suite categories --jobs 2

Prints the command, a table per family (or category), aggregates against the
reconstruction targets (ratios and "meets"/"misses", never assertions), the sweeps and
the workers' peak memory (``ru_maxrss``); writes every per-object metric to ``--out``
(JSON, by default ``outputs/bench_reconstruct_<suite>.json``, which git ignores).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing as mp
import os
import resource
import shlex
import sys
import tempfile
import time
import traceback
from pathlib import Path

from bench_reconstruct_report import print_report

ARMS = {"kuka_iiwa": "kuka_iiwa/model.urdf", "franka_panda": "franka_panda/panda.urdf"}
"""The robot arms of the wide suite, inside the installed ``pybullet_data`` folder."""

WIDE = {"household": 12, "chains": 10, "many_part": 10, "thin_small": 12, "plain": 14}
"""Random objects per family in the wide suite (seeds 0..n-1)."""


@dataclasses.dataclass(frozen=True)
class Job:
    """One benchmark case."""

    source: str
    """``procedural`` (a category), ``random`` (a family) or ``arm``."""
    name: str
    """The category, family or arm."""
    seed: int
    views: int
    size: int
    frames: int
    degrade_scale: float
    """0 = no degradation; s = every DegradeConfig default strength times s."""
    tag: str
    """Which table the case belongs to: main, views or degrade."""
    max_moving: int
    """At most this many joints move in the clip."""
    front: str = "auto"
    """``rig.front`` of the case."""

    @property
    def row(self) -> str:
        return "arms" if self.source == "arm" else self.name

    @property
    def key(self) -> tuple:
        return (self.source, self.name, self.seed, self.views, self.degrade_scale)


def _degrade_config(scale: float):
    from partdrag4d.generate.degrade import DegradeConfig

    if scale <= 0:
        return DegradeConfig(enabled=False)
    d = DegradeConfig(enabled=True)
    return dataclasses.replace(
        d,
        noise_std=d.noise_std * scale,
        blur_sigma_px=d.blur_sigma_px * scale,
        drift=d.drift * scale,
        amplitude_error=d.amplitude_error * scale,
        jitter=d.jitter * scale,
    )


def _asset_config(job: Job, folder: Path):
    """The asset config of a case (random objects are written into ``folder``)."""
    from partdrag4d.scene.assets import ProceduralAssetConfig, UrdfAssetConfig

    if job.source == "procedural":
        return ProceduralAssetConfig(category=job.name, seed=job.seed)
    if job.source == "random":
        from partdrag4d.assets.random_objects import RandomObjectConfig, write_random_object

        obj = write_random_object(RandomObjectConfig(family=job.name, seed=job.seed), folder)
        return UrdfAssetConfig(path=obj.urdf, name=f"{job.name}_{job.seed}")
    import pybullet_data

    return UrdfAssetConfig(path=str(Path(pybullet_data.getDataPath()) / ARMS[job.name]))


def run_job(job: Job) -> dict:
    """One case as ``partdrag4d ... runtime.seed=<seed>`` computes it (``run_stages``:
    the CLI's stage configs and seeds), in a worker process."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from partdrag4d.config import PipelineConfig, RuntimeConfig
    from partdrag4d.generate.render_backend import RenderGeneratorConfig
    from partdrag4d.reconstruct.articulate import ArticulateConfig
    from partdrag4d.reconstruct.track import TrackConfig
    from partdrag4d.runner import run_stages
    from partdrag4d.scene.cameras import RigConfig
    from partdrag4d.scene.drags import GtDragsConfig

    out = dataclasses.asdict(job) | {"row": job.row}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-asset-") as tmp:
            cfg = PipelineConfig(
                asset=_asset_config(job, Path(tmp)),
                drags=GtDragsConfig(
                    num_frames=job.frames,
                    max_moving_joints=job.max_moving,
                    max_drags=job.max_moving,
                ),
                rig=RigConfig(
                    num_views=job.views, width=job.size, height=job.size, front=job.front
                ),
                generator=RenderGeneratorConfig(degrade=_degrade_config(job.degrade_scale)),
                track=TrackConfig(),
                articulate=ArticulateConfig(),
                runtime=RuntimeConfig(seed=job.seed, progress=False),
            )
            done = run_stages(cfg, ["prepare"])
        done = run_stages(cfg, ["generate"], done)
        t0 = time.perf_counter()
        done = run_stages(cfg, ["track"], done)
        t1 = time.perf_counter()
        done = run_stages(cfg, ["articulate", "evaluate"], done)
        t2 = time.perf_counter()
        scene, art = done["prepare"], done["articulate"]
        out.update(
            ok=True,
            track_s=t1 - t0,
            articulate_s=t2 - t1,
            metrics=done["evaluate"].metrics.to_dict(),
            front_azimuth_deg=scene.cameras.front.azimuth_deg if scene.cameras.front else None,
            pred_joints=[
                {"name": j.name, "type": j.type.value, "parent": j.parent, "child": j.child}
                for j in art.joints
            ],
        )
    except Exception as e:  # a failed case is recorded, the benchmark goes on
        out.update(ok=False, error=f"{type(e).__name__}: {e}", trace=traceback.format_exc())
    out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return out


def _objects(args) -> list[tuple[str, str, int]]:
    """(source, name, seed) of the suite's main run."""
    if args.suite == "categories":
        from partdrag4d.assets.procedural import CATEGORIES

        return [("procedural", c, s) for c in CATEGORIES for s in args.seeds]
    objs = [("random", f, s) for f, n in WIDE.items() for s in range(n)]
    return objs + [("arm", a, 0) for a in ARMS]


def _selected(args) -> list[tuple[str, str, int]]:
    """The main run's objects: the suite's, or only those ``--objects`` names
    (``NAME:SEED``, or ``NAME`` for all seeds of a family, category or arm)."""
    objs = _objects(args)
    if not args.objects:
        return objs
    wanted = set(args.objects)
    return [o for o in objs if o[1] in wanted or f"{o[1]}:{o[2]}" in wanted]


def _parse_object(text: str) -> tuple[str, str, int]:
    """``family:seed``, ``category:seed`` or an arm name, as in ``--sweep-objects``."""
    from partdrag4d.assets.procedural import CATEGORIES

    name, _, seed = text.partition(":")
    source = "arm" if name in ARMS else ("procedural" if name in CATEGORIES else "random")
    return source, name, int(seed or 0)


def make_jobs(args) -> list[Job]:
    moving = 5 if args.suite == "categories" else 16
    common = dict(size=args.size, frames=args.frames, max_moving=moving, front=args.rig_front)
    jobs: list[Job] = []
    for d in [0.0] if args.no_degraded else [0.0, 1.0]:
        for src, name, seed in _selected(args):
            jobs.append(Job(src, name, seed, args.views, degrade_scale=d, tag="main", **common))
    sweep = args.sweep_objects or (
        ["cabinet:0", "laptop:0", "microwave:0"]
        if args.suite == "categories"
        else ["household:0", "chains:1", "thin_small:2"]
    )
    for src, name, seed in map(_parse_object, sweep):
        for v in args.views_sweep:
            jobs.append(Job(src, name, seed, v, degrade_scale=0.0, tag="views", **common))
        for d in args.degrade_scale:
            jobs.append(Job(src, name, seed, args.views, degrade_scale=d, tag="degrade", **common))
    return jobs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", choices=["wide", "categories"], default="wide")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1], help="categories suite")
    ap.add_argument("--views", type=int, default=4)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--frames", type=int, default=14)
    ap.add_argument("--degrade-scale", nargs="*", type=float, default=[0.0, 0.5, 1.0, 2.0])
    ap.add_argument("--views-sweep", nargs="*", type=int, default=[1, 2, 4, 8])
    ap.add_argument(
        "--sweep-objects", nargs="*", default=None, help="NAME:SEED of the sweeps' objects"
    )
    ap.add_argument(
        "--objects", nargs="*", default=None, help="NAME or NAME:SEED: run only these objects"
    )
    ap.add_argument("--no-degraded", action="store_true", help="skip the degraded main run")
    ap.add_argument(
        "--rig-front", choices=["auto", "fixed"], default="auto", help="rig.front of every case"
    )
    ap.add_argument("--jobs", type=int, default=1, help="worker processes")
    ap.add_argument("--out", default=None, help="JSON of every case")
    args = ap.parse_args()
    print("command:", shlex.join([Path(sys.executable).name, *sys.argv]))

    jobs = make_jobs(args)
    todo = list({j.key: j for j in reversed(jobs)}.values())[::-1]  # first of each key
    print(f"{len(jobs)} cases ({len(todo)} distinct runs), {args.jobs} worker(s)")
    t0 = time.perf_counter()
    by_key: dict = {}
    ctx = mp.get_context("spawn")  # a fresh GL context and BLAS per worker
    with ctx.Pool(args.jobs, maxtasksperchild=4) as pool:
        for i, r in enumerate(pool.imap_unordered(run_job, todo)):
            k = (r["source"], r["name"], r["seed"], r["views"], r["degrade_scale"])
            by_key[k] = r
            status = "ok" if r["ok"] else r["error"][:80]
            tt = r.get("track_s", 0) + r.get("articulate_s", 0)
            print(
                f"[{i + 1}/{len(todo)}] {k[1]} seed={k[2]} V={k[3]} deg={k[4]:g}: "
                f"{status} ({tt:.1f} s)",
                flush=True,
            )
        pool.close()  # let the workers exit on their own (no leaked semaphores)
        pool.join()
    print(f"wall time {time.perf_counter() - t0:.0f} s (shared CPUs: timings are noisy)")
    results = [dict(by_key[j.key], tag=j.tag) for j in jobs]
    rows = list(dict.fromkeys(j.row for j in jobs if j.tag == "main"))
    peak = max(r["maxrss_mb"] for r in results)
    summary = print_report(results, rows, peak)
    out = Path(args.out or f"outputs/bench_reconstruct_{args.suite}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"command": sys.argv, "summary": summary, "results": results}))
    print(f"results written to {out}")


if __name__ == "__main__":
    main()
