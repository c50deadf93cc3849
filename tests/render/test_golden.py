"""Golden image: a small lit, anti-aliased scene of two coloured boxes at 64x64.

Regenerate the golden PNG (after an intended change of the look, and review it) with::

    PARTDRAG4D_REGEN_GOLDEN=1 .venv/bin/pytest tests/render/test_golden.py

Tolerances allow other GL drivers (MSAA sample patterns and rounding differ on edges):
mean absolute difference below 2/255, and at most 2% of pixels off by more than 16/255.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image
from render_scenes import K, box_primitive, camera_at, rotation

from partdrag4d.containers import SceneMesh
from partdrag4d.render import Rasterizer

GOLDEN = Path(__file__).parent / "golden" / "two_boxes_64.png"


def _render() -> np.ndarray:
    mesh = SceneMesh(
        (
            box_primitive(centre=(0.0, 0.1, 0.0), color=(0.8, 0.3, 0.1)),
            box_primitive(size=0.5, centre=(0.2, -0.6, -0.1), color=(0.1, 0.4, 0.8)),
        )
    )
    T = camera_at(3.2)
    T[:3, :3] = rotation(np.array([1.0, 1.0, 0.0]), 0.6)
    with Rasterizer(mesh, 64, 64) as r:
        return r.render(K, T).rgb


def test_golden_image():
    rgb = _render()
    if os.environ.get("PARTDRAG4D_REGEN_GOLDEN") == "1":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rgb).save(GOLDEN)
    golden = np.asarray(Image.open(GOLDEN).convert("RGB"))
    diff = np.abs(rgb.astype(np.int16) - golden.astype(np.int16))
    assert diff.mean() < 2.0
    assert (diff.max(axis=-1) > 16).mean() <= 0.02
