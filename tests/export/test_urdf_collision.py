"""Collision geometry: parts cut into convex pieces, so openings stay open in pybullet."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from export_cases import articulation_from_joints, box

from partdrag4d.containers import Material, Primitive, SceneMesh
from partdrag4d.export.collision import CollisionConfig, convex_pieces
from partdrag4d.export.urdf import UrdfConfig, write_urdf


def _trough(width=0.6, depth=0.5, height=0.3, wall=0.05) -> trimesh.Trimesh:
    """One welded, closed, concave mesh: a U profile in x-z extruded along y."""
    w, h, t = width, height, wall
    outline = np.array(
        [(0, 0), (w, 0), (w, h), (w - t, h), (w - t, t), (t, t), (t, h), (0, h)], float
    )
    triangles = np.array([(0, 1, 4), (0, 4, 5), (1, 2, 3), (1, 3, 4), (0, 5, 6), (0, 6, 7)])
    prism = trimesh.creation.extrude_triangulation(outline, triangles, depth)
    # the prism's "height" axis is z: turn it so that the U opens upwards (+z)
    prism.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, (1, 0, 0)))
    prism.apply_translation((0, depth, 0))
    assert prism.is_watertight and prism.bounds[1, 2] == pytest.approx(h)
    return prism


# An open-top box made of five separate panels (how furniture is often modelled); they
# touch without sharing vertices.
_PANELS = [
    ((0.0, 0.0, 0.0), (0.6, 0.6, 0.05)),
    ((0.0, 0.0, 0.05), (0.05, 0.6, 0.3)),
    ((0.55, 0.0, 0.05), (0.6, 0.6, 0.3)),
    ((0.05, 0.0, 0.05), (0.55, 0.05, 0.3)),
    ((0.05, 0.55, 0.05), (0.55, 0.6, 0.3)),
]


def _open_box() -> tuple[np.ndarray, np.ndarray]:
    vs, fs = [], []
    for lo, hi in _PANELS:
        v, f = box(lo, hi)
        fs.append(f + sum(len(x) for x in vs))
        vs.append(v)
    return np.concatenate(vs), np.concatenate(fs)


def _volume(hulls) -> float:
    return sum(trimesh.Trimesh(v, f).volume for v, f in hulls)


def test_a_box_is_one_exact_hull():
    v, f = box((0, 0, 0), (1.0, 0.5, 0.2))
    hulls = convex_pieces(v, f, CollisionConfig())
    assert len(hulls) == 1
    assert _volume(hulls) == pytest.approx(0.1, rel=1e-9)


def test_panels_become_one_hull_each():
    v, f = _open_box()
    hulls = convex_pieces(v, f, CollisionConfig())
    assert len(hulls) == 5
    assert all(trimesh.Trimesh(hv, hf).is_convex for hv, hf in hulls)
    assert _volume(hulls) == pytest.approx(
        sum(trimesh.Trimesh(*box(lo, hi)).volume for lo, hi in _PANELS), rel=1e-9
    )


def test_a_welded_concave_mesh_is_decomposed_close_to_its_volume():
    trough = _trough()
    hulls = convex_pieces(trough.vertices, trough.faces, CollisionConfig())
    assert len(hulls) >= 3  # the floor and two walls at least
    # the pieces cover the trough without filling its hollow (the hull is 2.7x bigger)
    assert trough.convex_hull.volume > 2.5 * trough.volume
    assert 0.8 * trough.volume < _volume(hulls) < 1.4 * trough.volume
    hollow = [(0.3, 0.25, 0.2), (0.3, 0.1, 0.15), (0.2, 0.4, 0.25)]
    walls = [(0.025, 0.25, 0.2), (0.3, 0.25, 0.025), (0.575, 0.1, 0.2)]
    pieces = [trimesh.Trimesh(v, f) for v, f in hulls]
    assert not np.any([piece.contains(hollow) for piece in pieces])
    assert np.all(np.any([piece.contains(walls) for piece in pieces], axis=0))


def test_a_flat_panel_gets_a_thickness_and_a_soup_is_bounded():
    quad = np.array([(0, 0, 0), (1, 0, 0), (1, 1, 0), (0, 1, 0)], float)
    hulls = convex_pieces(quad, np.array([(0, 1, 2), (0, 2, 3)]), CollisionConfig())
    assert len(hulls) == 1 and _volume(hulls) > 0
    rng = np.random.default_rng(0)
    soup = rng.uniform(size=(300, 3, 3)).reshape(-1, 3)  # 300 separate triangles
    faces = np.arange(len(soup)).reshape(-1, 3)
    hulls = convex_pieces(soup, faces, CollisionConfig(max_components=64, max_hulls=8))
    assert 1 <= len(hulls) <= 8


def _drop_sphere(urdf, centre_xy, start_z, radius=0.06) -> float:
    """Height of a sphere's centre after 2 s falling onto the fixed-base URDF."""
    p = pytest.importorskip("pybullet")
    client = p.connect(p.DIRECT)
    try:
        p.setGravity(0, 0, -9.81, physicsClientId=client)
        p.loadURDF(str(urdf), useFixedBase=True, physicsClientId=client)
        shape = p.createCollisionShape(p.GEOM_SPHERE, radius=radius, physicsClientId=client)
        ball = p.createMultiBody(
            0.1, shape, basePosition=(*centre_xy, start_z), physicsClientId=client
        )
        for _ in range(480):
            p.stepSimulation(physicsClientId=client)
        return float(p.getBasePositionAndOrientation(ball, physicsClientId=client)[0][2])
    finally:
        p.disconnect(client)


@pytest.mark.parametrize("shape", ["panels", "welded"])
def test_a_sphere_dropped_into_an_open_body_lands_inside(shape, tmp_path):
    if shape == "panels":
        vertices, faces = _open_box()
    else:
        trough = _trough()
        vertices, faces = np.asarray(trough.vertices), np.asarray(trough.faces)
    mesh = SceneMesh((Primitive(vertices, faces, Material("body", np.ones(4))),))
    art = articulation_from_joints(("base",), np.zeros(len(vertices), np.int64), mesh, [])
    rim, floor = 0.3, 0.05
    centre = (0.3, 0.25 if shape == "welded" else 0.3)
    landed = {}
    for collision in ("convex", "visual"):
        urdf = write_urdf(art, mesh, tmp_path / collision, UrdfConfig(collision=collision))
        landed[collision] = _drop_sphere(urdf, centre, start_z=0.6)
    radius = 0.06
    assert landed["convex"] == pytest.approx(floor + radius, abs=0.02)  # on the floor
    assert landed["visual"] > rim  # the visual mesh collides as its hull: on the lid
    assert sorted(p.name for p in (tmp_path / "convex/meshes/collision").iterdir())[0] == (
        "base_0.obj"
    )
