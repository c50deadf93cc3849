"""Rasteriser outputs against known answers: depth, silhouette, labels, rest positions,
texture orientation, coverage, animation and float32 safety."""

from __future__ import annotations

import numpy as np
import pytest
from render_scenes import H, K, W, box_mesh, box_primitive, camera_at, rotation

from partdrag4d.containers import Material, Primitive, SceneMesh
from partdrag4d.geometry.camera import pixel_centers, project, unproject
from partdrag4d.render import Rasterizer, RasterizerConfig, render_video

# Off-centre box so the silhouette edges fall between pixel centres (no ties).
CENTRE = (0.033, -0.071, 0.0)
DIST = 3.0  # camera to box centre; the front face is at z = 2.5


def _front_face_rect() -> tuple[float, float, float, float]:
    """Projected (u0, u1, v0, v1) of the front face via project() of its corners."""
    corners = np.array(
        [[x, y, -0.5] for x in (-0.5, 0.5) for y in (-0.5, 0.5)], dtype=np.float64
    ) + np.asarray(CENTRE)
    uv, _ = project(K, camera_at(DIST), corners)
    return uv[:, 0].min(), uv[:, 0].max(), uv[:, 1].min(), uv[:, 1].max()


@pytest.fixture(scope="module")
def box_render():
    with Rasterizer(box_mesh(centre=CENTRE), W, H) as r:
        yield r.render(K, camera_at(DIST))


def test_depth_at_centre_is_known_distance(box_render):
    u0, u1, v0, v1 = _front_face_rect()
    col, row = int((u0 + u1) / 2), int((v0 + v1) / 2)
    assert box_render.depth[row, col] == pytest.approx(2.5, abs=1e-5)
    fg = box_render.label >= 0
    np.testing.assert_allclose(box_render.depth[fg], 2.5, atol=1e-5)  # head-on face
    assert np.all(box_render.depth[~fg] == 0)


def test_silhouette_is_projected_square(box_render):
    """A pixel is foreground iff its centre (index + 0.5) is inside the projected face."""
    u0, u1, v0, v1 = _front_face_rect()
    c = pixel_centers(W, H)
    # Guard: no pixel centre within 0.02 px of an edge, so the expectation is unambiguous.
    for e, axis in [(u0, 0), (u1, 0), (v0, 1), (v1, 1)]:
        assert np.abs(c[..., axis] - e).min() > 0.02
    expected = (c[..., 0] > u0) & (c[..., 0] < u1) & (c[..., 1] > v0) & (c[..., 1] < v1)
    fg = box_render.label >= 0
    assert np.array_equal(fg, expected)
    assert abs(fg.sum() - (u1 - u0) * (v1 - v0)) < (u1 - u0) + (v1 - v0)
    # The silhouette's corner pixels contain the projected cube corners (within 1 px).
    rows, cols = np.nonzero(fg)
    assert abs(cols.min() - u0) < 1 and abs(cols.max() + 1 - u1) < 1
    assert abs(rows.min() - v0) < 1 and abs(rows.max() + 1 - v1) < 1


def test_background_and_alpha(box_render):
    fg = box_render.label >= 0
    assert np.all(box_render.rgb[~fg & (box_render.alpha == 0)] == 255)  # white background
    assert np.all(np.isnan(box_render.rest_xyz[~fg]))
    assert np.all(box_render.alpha[fg] > 0)
    # MSAA (default 4 samples): fractional coverage on the edges only.
    frac = (box_render.alpha > 0) & (box_render.alpha < 1)
    assert frac.any()
    assert frac.sum() < 2 * (fg.sum() ** 0.5) * 4


def test_no_msaa_gives_binary_alpha_and_background_colour():
    cfg = RasterizerConfig(samples=0, background=(0.0, 0.0, 1.0))
    with Rasterizer(box_mesh(centre=CENTRE), W, H, cfg) as r:
        out = r.render(K, camera_at(DIST))
    fg = out.label >= 0
    assert np.array_equal(out.mask, fg)
    assert np.array_equal(out.alpha, fg.astype(np.float32))
    assert np.all(out.rgb[~fg] == [0, 0, 255])


def test_rest_xyz_is_back_projected_point():
    """Oblique view showing three faces: rest_xyz equals the unprojected pixel centre."""
    T = camera_at(DIST)
    T[:3, :3] = rotation(np.array([1.0, 1.0, 0.0]), 0.6)
    with Rasterizer(box_mesh(centre=CENTRE), W, H) as r:
        out = r.render(K, T)
    fg = out.label >= 0
    assert fg.sum() > 500
    p = unproject(K, T, pixel_centers(W, H)[fg], out.depth[fg])
    np.testing.assert_allclose(out.rest_xyz[fg], p, atol=1e-3)
    # Every rest point lies on the box surface.
    local = np.abs(out.rest_xyz[fg] - CENTRE)
    np.testing.assert_allclose(local.max(axis=1), 0.5, atol=1e-4)


def test_rest_xyz_stays_rest_when_vertices_move():
    mesh = box_mesh(centre=CENTRE)
    R = rotation(np.array([0.2, 1.0, 0.1]), 0.5)
    t = np.array([0.15, -0.1, 0.3])
    moved = mesh.vertices @ R.T + t
    T = camera_at(DIST)
    with Rasterizer(mesh, W, H) as r:
        out = r.render(K, T, vertices=moved)
        out_f32 = r.render(K, T, vertices=moved.astype(np.float32))
        rest = r.render(K, T)  # back to the rest state
    fg = out.label >= 0
    p_world = unproject(K, T, pixel_centers(W, H)[fg], out.depth[fg])
    np.testing.assert_allclose(out.rest_xyz[fg], (p_world - t) @ R, atol=1e-3)
    assert np.abs(out.rest_xyz[fg] - p_world).max() > 0.1  # the motion is visible
    np.testing.assert_allclose(out_f32.depth, out.depth, atol=1e-5)
    assert np.array_equal(out_f32.label, out.label)
    np.testing.assert_allclose(rest.depth[rest.label >= 0], 2.5, atol=1e-5)


def test_labels_and_occlusion():
    """Two boxes, the right one nearer and overlapping: labels follow the visible surface."""
    far_box = box_primitive(centre=(-0.3, 0.0, 0.5), color=(0.2, 0.8, 0.2))
    near_box = box_primitive(size=0.5, centre=(0.3, 0.0, -0.5), color=(0.2, 0.2, 0.8))
    mesh = SceneMesh((far_box, near_box))
    T = camera_at(DIST)
    labels = np.r_[np.full(8, 3), np.full(8, 7)]
    with Rasterizer(mesh, W, H) as r:
        default = r.render(K, T)
        out = r.render(K, T, vertex_label=labels)
    assert set(np.unique(default.label)) == {-1, 0, 1}  # default = primitive index
    assert np.array_equal(out.label, np.where(default.label >= 0, 3 + 4 * default.label, -1))
    # The near box's front face (z = 0.25 from the camera at -3 => camera z 2.25).
    uv, _ = project(K, T, np.array([[0.3, 0.0, -0.75], [-0.6, 0.0, 0.0]]))
    (c_near, r_near), (c_far, r_far) = np.floor(uv).astype(int)
    assert out.label[r_near, c_near] == 7
    assert out.depth[r_near, c_near] == pytest.approx(2.25, abs=1e-5)
    assert out.label[r_far, c_far] == 3
    assert out.depth[r_far, c_far] == pytest.approx(3.0, abs=1e-5)


def _checker_quad(with_uvs: bool = True) -> SceneMesh:
    # Quad facing the camera; uv (0, 0) at the top-left vertex (world y is image-down).
    verts = np.array([[-0.5, -0.5, 0.0], [0.5, -0.5, 0.0], [-0.5, 0.5, 0.0], [0.5, 0.5, 0.0]])
    uvs = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    faces = np.array([[0, 2, 1], [1, 2, 3]])
    tex = np.zeros((4, 4, 3), dtype=np.uint8)  # 2x2 texels per quadrant
    tex[:2, :2] = [255, 0, 0]  # top-left red
    tex[:2, 2:] = [0, 255, 0]  # top-right green
    tex[2:, :2] = [0, 0, 255]  # bottom-left blue
    tex[2:, 2:] = [255, 255, 0]  # bottom-right yellow
    mat = Material("checker", np.ones(4), tex)
    return SceneMesh((Primitive(verts, faces, mat, uvs if with_uvs else None),))


def test_texture_orientation():
    T = camera_at(2.0)
    Kc = np.array([[100.0, 0.0, 32.0], [0.0, 100.0, 32.0], [0.0, 0.0, 1.0]])
    with Rasterizer(_checker_quad(), 64, 64, RasterizerConfig(lighting=False)) as r:
        out = r.render(Kc, T)
    # Quad spans pixels 7..56; quadrant centres at 19 and 44.
    quadrants = {(19, 19): [255, 0, 0], (19, 44): [0, 255, 0], (44, 19): [0, 0, 255]}
    quadrants[(44, 44)] = [255, 255, 0]
    for (row, col), color in quadrants.items():
        np.testing.assert_allclose(out.rgb[row, col], color, atol=1)

    for mesh, cfg in [
        (_checker_quad(with_uvs=False), RasterizerConfig(lighting=False)),
        (_checker_quad(), RasterizerConfig(lighting=False, textured=False)),
    ]:
        with Rasterizer(mesh, 64, 64, cfg) as r:
            plain = r.render(Kc, T)
        np.testing.assert_array_equal(plain.rgb[19, 19], [255, 255, 255])  # base colour


def test_float32_safe_far_from_origin():
    shift = np.array([1.0e4, -2.0e4, 5.0e3])
    mesh = box_mesh(centre=tuple(np.asarray(CENTRE) + shift))
    T = camera_at(DIST)
    T_shift = np.eye(4)
    T_shift[:3, 3] = -shift
    with Rasterizer(mesh, W, H) as r:
        out = r.render(K, T @ T_shift)
    with Rasterizer(box_mesh(centre=CENTRE), W, H) as r:
        ref = r.render(K, T)
    assert np.array_equal(out.label, ref.label)
    np.testing.assert_allclose(out.depth, ref.depth, atol=1e-4)
    fg = ref.label >= 0
    np.testing.assert_allclose(out.rest_xyz[fg] - shift, ref.rest_xyz[fg], atol=1e-3)


def test_render_video_and_smooth_shading():
    mesh = box_mesh(centre=CENTRE)
    steps = np.linspace(0.0, 0.3, 3)
    frames = np.stack([mesh.vertices + [s, 0.0, 0.0] for s in steps])
    cfg = RasterizerConfig(shading="smooth")
    with Rasterizer(mesh, W, H, cfg) as r:
        seq = render_video(r, K, camera_at(DIST), frames, np.zeros(8, dtype=np.int64))
        single = r.render(K, camera_at(DIST), frames[2])
    assert seq.rgb.shape == (3, H, W, 3) and seq.rest_xyz.shape == (3, H, W, 3)
    assert np.array_equal(seq.rgb[2], single.rgb)
    # Moving +x by 0.3 m at z 2.5 shifts the silhouette right by 0.3 * 90 / 2.5 = 10.8 px.
    cols = [np.nonzero((seq.label[t] >= 0).any(axis=0))[0].min() for t in range(3)]
    assert cols[2] - cols[0] in (10, 11, 12)
    assert set(np.unique(seq.label)) == {-1, 0}


def test_bad_inputs():
    mesh = box_mesh()
    r = Rasterizer(mesh, W, H)
    with pytest.raises(ValueError, match="vertices"):
        r.render(K, camera_at(DIST), vertices=np.zeros((5, 3)))
    with pytest.raises(ValueError, match="vertex_label"):
        r.render(K, camera_at(DIST), vertex_label=np.zeros(5, dtype=np.int64))
    r.release()
    with pytest.raises(RuntimeError):
        r.render(K, camera_at(DIST))
