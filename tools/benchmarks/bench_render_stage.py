"""Benchmark of the `generate` stage with the render backend on a procedural object.

Times `prepare` and `generate` (render backend) as the pipeline runs them, and the
artefact write (PNG + MP4 + nerfstudio copy), for V views x T frames at S^2.

Run: ``.venv/bin/python tools/benchmarks/bench_render_stage.py [--category cabinet]
[--views 4] [--frames 14] [--size 256] [--repeat 3]``. Prints times and the ratio of the
render stage to its 5 s target (a ratio, not pass/fail).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from partdrag4d.generate.render_backend import RenderGeneratorConfig, generate_render
from partdrag4d.scene.assets import ProceduralAssetConfig
from partdrag4d.scene.cameras import RigConfig
from partdrag4d.scene.drags import GtDragsConfig
from partdrag4d.scene.prepare import PrepareConfig, run_prepare
from partdrag4d.store import serialize

TARGET_S = 5.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--category", default="cabinet")
    ap.add_argument("--views", type=int, default=4)
    ap.add_argument("--frames", type=int, default=14)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print("command:", shlex.join([Path(sys.executable).name, *sys.argv]))

    cfg = PrepareConfig(
        asset=ProceduralAssetConfig(category=args.category),
        drags=GtDragsConfig(num_frames=args.frames),
        rig=RigConfig(num_views=args.views, width=args.size, height=args.size),
    )
    t0 = time.perf_counter()
    scene = run_prepare(cfg, np.random.default_rng(0))
    t_prepare = time.perf_counter() - t0
    print(f"mesh: {scene.mesh.num_vertices} vertices, {len(scene.mesh.faces)} faces")
    print(f"prepare: {t_prepare:.2f} s")

    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        videos = generate_render(RenderGeneratorConfig(), scene, np.random.default_rng(0))
        times.append(time.perf_counter() - t0)
    n = args.views * args.frames
    best = min(times)
    print(
        f"generate (render) {args.views} views x {args.frames} frames x {args.size}^2: "
        f"best {best:.2f} s of {args.repeat} (all: {', '.join(f'{t:.2f}' for t in times)}), "
        f"{1000 * best / n:.1f} ms/frame, {n / best:.0f} frames/s"
    )
    print(f"ratio to the {TARGET_S:.0f} s target: {best / TARGET_S:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        serialize.save(videos, Path(tmp) / "videos")
        print(
            f"artefact write (PNG + MP4 + nerfstudio + contact sheet): "
            f"{time.perf_counter() - t0:.2f} s"
        )


if __name__ == "__main__":
    main()
