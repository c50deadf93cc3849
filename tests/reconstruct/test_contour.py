"""Outline matches: known answers on masks, and a plain thin plate registered by its
outline where flow has nothing to follow."""

from __future__ import annotations

import numpy as np
import pytest
from recon_scenes import rig, textured_box

from partdrag4d.containers import SceneMesh
from partdrag4d.geometry.se3 import make_T, rotation_angle, so3_exp
from partdrag4d.reconstruct.contour import (
    ContourConfig,
    contour_matches,
    drawn_outline,
    mask_outline,
    outline,
)
from partdrag4d.reconstruct.render_compare import RenderCompareConfig, register_frame
from partdrag4d.render.rasterizer import Rasterizer


def _disc(cx: float, cy: float, r: float, size: int = 64) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size] + 0.5
    return (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r


def test_outline_is_the_masks_rim_and_not_the_image_border():
    mask = np.zeros((8, 8), bool)
    mask[2:6, 2:6] = True
    mask[:, 7] = True  # a column along the border: only its inner side is an outline
    edge = outline(mask)
    assert edge[2, 2:6].all() and edge[5, 2:6].all() and not edge[3:5, 3:5].any()
    assert edge[:, 7].all() and not outline(np.ones((8, 8), bool)).any()


def test_matches_point_across_to_the_frames_outline():
    drawn, seen = _disc(30, 32, 10), _disc(33, 32, 10)  # the frame's disc 3 px to the right
    yy, xx = np.mgrid[:64, :64] + 0.5
    # "rest points" that name their pixel, on the drawn disc only
    rest = np.where(drawn[..., None], np.stack([xx, yy, np.zeros_like(xx)], -1), np.nan)
    render = drawn_outline(drawn, np.where(drawn, 1, -1), rest)
    frame = mask_outline(seen, nearest=True)
    assert render is not None and frame is not None
    X, uv, view, info = contour_matches(render, frame, 1, 2, 1.0, ContourConfig())
    assert len(X) > 40 and np.all(view == 2)
    assert len(contour_matches(render, frame, 3, 2, 1.0, ContourConfig())[0]) == 0  # no part 3
    offset = uv - X[:, :2]
    normal = mask_outline(drawn).normal  # pyright: ignore[reportOptionalMemberAccess]
    n = normal[(X[:, 1] - 0.5).astype(int), (X[:, 0] - 0.5).astype(int)]
    right, left = n[:, 0] > 0.9, n[:, 0] < -0.9  # rims facing +x and -x
    assert right.any() and left.any()
    assert np.all(np.abs(offset[right | left, 0] - 3.0) <= 1.0)  # the frame's rim is 3 px on
    # every match constrains only its rim's normal direction
    eig, vec = np.linalg.eigh(info)
    np.testing.assert_allclose(eig[:, 0], 0.0, atol=1e-9)
    assert np.all(np.abs(np.einsum("ni,ni->n", vec[:, :, 1], n)) > 0.99)


@pytest.mark.parametrize("outline_matches", [True, False])
def test_plain_thin_plate_is_registered_by_its_outline(outline_matches):
    """A plain plate 10 degrees and 8 cm off: flow alone stops about a degree short, the
    outline brings it in."""
    rng = np.random.default_rng(0)
    base = textured_box([-0.3, 0.1, 0.0], [0.3, 0.2, 0.05], rng, "base", textured=False)
    plate = textured_box([-0.25, -0.2, 0.3], [0.25, -0.19, 0.6], rng, "plate", textured=False)
    mesh = SceneMesh((base, plate))
    vertex_part = np.repeat([0, 1], [len(base.vertices), len(plate.vertices)])
    cams = rig(3, 128)
    centre = mesh.vertices[vertex_part == 1].mean(0)
    R = so3_exp(np.radians(10.0) * np.array([0.0, 1.0, 0.0]))  # in the plate's plane
    wrong = make_T(R, centre - R @ centre + np.array([0.0, 0.0, 0.08]))
    cfg = RenderCompareConfig(iterations=4)
    cfg.contour.enabled = outline_matches
    with Rasterizer(mesh, cams.width, cams.height) as rast:
        frames = np.stack(
            [
                rast.render(cams.K[v], cams.T_cam_world[v], mesh.vertices, vertex_part).rgb
                for v in range(3)
            ]
        )
        start = np.stack([np.eye(4), wrong])
        est = register_frame(rast, cams, mesh.vertices, vertex_part, frames, start, [1], cfg)
    angle = float(np.degrees(rotation_angle(est[1][None, :3, :3])[0]))
    if outline_matches:
        assert angle < 0.7 and np.linalg.norm(est[1][:3, 3]) < 0.006, angle
    else:  # what the outline matches are for
        assert angle > 0.8, angle
