"""Benchmark of the CPU rasteriser: 4 views x 14 frames at 256x256 of a ~10k-triangle
textured mesh with moving vertices, all outputs (rgb, alpha, depth, label, rest_xyz).

Run: ``.venv/bin/python tools/benchmarks/bench_render.py [--size 256] [--views 4]
[--frames 14] [--samples 4]``. Prints the time and its ratio to the 5 s target
(a ratio, not a pass/fail; shared CPUs distort timings).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time

import numpy as np
import trimesh

from partdrag4d.containers import Material, Primitive, SceneMesh
from partdrag4d.render import Rasterizer, RasterizerConfig, render_video

TARGET_S = 5.0


def _textured_sphere(subdivisions: int, centre: np.ndarray, radius: float) -> Primitive:
    sphere = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
    v = np.asarray(sphere.vertices, dtype=np.float64)
    # Spherical uv mapping (seams are fine for a benchmark).
    u = 0.5 + np.arctan2(v[:, 1], v[:, 0]) / (2 * np.pi)
    w = 0.5 - np.arcsin(np.clip(v[:, 2] / radius, -1, 1)) / np.pi
    checker = ((np.indices((256, 256)) // 32).sum(0) % 2).astype(np.uint8)
    tex = np.stack([checker * 200 + 30, np.full_like(checker, 120), 230 - checker * 200], -1)
    mat = Material("checker", np.ones(4), tex.astype(np.uint8))
    return Primitive(v + centre, np.asarray(sphere.faces, np.int64), mat, np.c_[u, w])


def build_scene() -> SceneMesh:
    """Two icospheres of 5120 triangles each (10240 in all), both textured."""
    base = _textured_sphere(4, np.array([0.0, 0.0, 0.0]), 0.5)
    part = _textured_sphere(4, np.array([0.0, -0.8, 0.0]), 0.3)
    return SceneMesh((base, part))


def cameras(num_views: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """K and T_cam_world of views on a ring at 3 m, looking at the origin."""
    f = 1.2 * size
    K = np.array([[f, 0.0, size / 2], [0.0, f, size / 2], [0.0, 0.0, 1.0]])
    Ts = []
    for a in np.linspace(0, 2 * np.pi, num_views, endpoint=False):
        eye = 3.0 * np.array([np.sin(a), -0.3, -np.cos(a)])
        z = -eye / np.linalg.norm(eye)
        x = np.cross([0.0, 1.0, 0.0], z)  # OpenCV y points down = world +y here
        x /= np.linalg.norm(x)
        y = np.cross(z, x)
        R = np.stack([x, y, z])
        T = np.eye(4)
        T[:3, :3] = R
        T[:3, 3] = -R @ eye
        Ts.append(T)
    return K, np.stack(Ts)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--views", type=int, default=4)
    p.add_argument("--frames", type=int, default=14)
    p.add_argument("--samples", type=int, default=4, help="MSAA samples (0 = off)")
    args = p.parse_args()
    print("command:", shlex.join([sys.executable, *sys.argv]))

    mesh = build_scene()
    n0 = len(mesh.primitives[0].vertices)
    rest = mesh.vertices
    # The small sphere slides and lifts over the clip (moving vertices every frame).
    offsets = np.linspace(0.0, 0.4, args.frames)
    frames = np.repeat(rest[None], args.frames, axis=0)
    frames[:, n0:, 0] += offsets[:, None]
    frames[:, n0:, 1] -= 0.5 * offsets[:, None]
    labels = np.r_[np.zeros(n0, np.int64), np.ones(len(rest) - n0, np.int64)]
    K, Ts = cameras(args.views, args.size)

    t0 = time.perf_counter()
    r = Rasterizer(mesh, args.size, args.size, RasterizerConfig(samples=args.samples))
    t_setup = time.perf_counter() - t0
    r.render(K, Ts[0])  # warm-up (shader compile / first draw)
    t0 = time.perf_counter()
    for T in Ts:
        seq = render_video(r, K, T, frames, labels)
    total = time.perf_counter() - t0
    r.release()

    n = args.views * args.frames
    print(f"mesh: {len(mesh.faces)} triangles, {len(rest)} vertices, textured")
    print(f"views x frames: {args.views} x {args.frames} = {n} at {args.size}^2", end="")
    print(f", MSAA {args.samples}")
    print(f"setup (context + upload): {t_setup * 1e3:.1f} ms")
    print(f"total: {total:.3f} s   per frame: {total / n * 1e3:.2f} ms   {n / total:.1f} frames/s")
    print(f"ratio to {TARGET_S:.0f} s target: {total / TARGET_S:.3f} (lower is better)")
    print(f"last frame foreground pixels: {(seq.label[-1] >= 0).sum()}")


if __name__ == "__main__":
    main()
