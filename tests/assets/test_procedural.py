"""Procedural library: every category loads through load_urdf, is valid and deterministic."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from partdrag4d.assets.builder import Builder, box_mesh, cylinder_mesh
from partdrag4d.assets.kinematics import forward_kinematics, posed_mesh
from partdrag4d.assets.procedural import CATEGORIES, ProceduralConfig, write_procedural
from partdrag4d.assets.urdf import load_urdf
from partdrag4d.containers import JointType


@pytest.mark.parametrize("category", CATEGORIES)
def test_category_loads_and_is_valid(tmp_path, category):
    path = write_procedural(ProceduralConfig(category=category, seed=3), tmp_path / category)
    asset = load_urdf(path)
    assert asset.movable_joints
    mesh, vertex_link = posed_mesh(asset)
    v = mesh.vertices
    assert np.isfinite(v).all() and len(mesh.faces) > 0
    lo, hi = mesh.bounds()
    # standing on z = 0, centred in x/y, 0.25-1.6 m
    assert abs(lo[2]) < 1e-5
    np.testing.assert_allclose((lo[:2] + hi[:2]) / 2, 0, atol=1e-5)
    assert 0.25 < (hi - lo).max() < 1.6
    for p in mesh.primitives:
        assert p.material.texture is not None and p.uvs is not None
        assert p.uvs.min() >= -1e-6 and p.uvs.max() <= 1 + 1e-6
        # closed pieces with outward normals have a positive signed volume
        tri = p.vertices[p.faces]
        assert np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() > 0
        # non-degenerate triangles
        tri = p.vertices[p.faces]
        area = np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
        assert area.min() > 1e-10
    for j in asset.movable_joints:
        assert j.limits is not None and j.limits[0] <= 0.0 <= j.limits[1]
        assert j.limits[1] - j.limits[0] > 0.1
        # moving a joint to its limit moves only its subtree
        q = {j.name: j.limits[1]}
        moved, _ = posed_mesh(asset, q)
        assert np.abs(moved.vertices - v).max() > 0.02
    assert set(vertex_link.tolist()) == {i for i, link in enumerate(asset.links) if link.visuals}


@pytest.mark.parametrize("category", ["cabinet", "fridge", "oven", "washer", "microwave"])
def test_doors_open_toward_minus_y(tmp_path, category):
    asset = load_urdf(write_procedural(ProceduralConfig(category, seed=1), tmp_path))
    rest, vl = posed_mesh(asset)
    for j in asset.movable_joints:
        li = [link.name for link in asset.links].index(j.child)
        opened, _ = posed_mesh(asset, {j.name: j.limits[1]})
        assert opened.vertices[vl == li, 1].min() < rest.vertices[vl == li, 1].min() - 0.05


def test_drawers_slide_toward_minus_y(tmp_path):
    asset = load_urdf(write_procedural(ProceduralConfig("drawers", seed=2), tmp_path))
    for j in asset.movable_joints:
        assert j.type is JointType.PRISMATIC
        T = forward_kinematics(asset, {j.name: j.limits[1]})[j.child]
        assert T[1, 3] < forward_kinematics(asset)[j.child][1, 3] - 0.1


def test_deterministic_for_seed(tmp_path):
    files = []
    for run in ("a", "b", "c"):
        seed = 7 if run != "c" else 8
        root = tmp_path / run
        write_procedural(ProceduralConfig("cabinet_drawer", seed=seed), root)
        files.append({p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()})
    assert files[0] == files[1]
    assert files[0] != files[2]


def test_textureless(tmp_path):
    path = write_procedural(ProceduralConfig("laptop", seed=0, textured=False), tmp_path)
    assert not (tmp_path / "textures").exists()
    mesh, _ = posed_mesh(load_urdf(path))
    colors = set()
    for p in mesh.primitives:
        assert p.uvs is None and p.material.texture is None
        colors.add(tuple(np.round(p.material.base_color, 3)))
    assert len(colors) >= 2


@pytest.mark.parametrize("category", ["desk_lamp", "cabinet_drawer"])
def test_chain_has_moving_parent(tmp_path, category):
    asset = load_urdf(write_procedural(ProceduralConfig(category, seed=0), tmp_path))
    movable_children = {j.child for j in asset.movable_joints}
    chained = [j for j in asset.movable_joints if j.parent in movable_children]
    assert chained
    # the grandchild follows its parent's motion
    j = chained[0]
    parent_joint = next(p for p in asset.movable_joints if p.child == j.parent)
    q = {parent_joint.name: parent_joint.limits[1]}
    T0, T1 = forward_kinematics(asset)[j.child], forward_kinematics(asset, q)[j.child]
    assert np.abs(T1 - T0).max() > 0.05


def test_different_seeds_give_different_sizes(tmp_path):
    ext = []
    for seed in range(3):
        asset = load_urdf(write_procedural(ProceduralConfig("cabinet", seed), tmp_path / str(seed)))
        lo, hi = posed_mesh(asset)[0].bounds()
        ext.append(hi - lo)
    assert np.ptp(np.array(ext), axis=0).max() > 0.02


def test_unknown_category(tmp_path):
    with pytest.raises(ValueError, match="unknown category"):
        write_procedural(ProceduralConfig("spaceship"), tmp_path)


def test_box_and_cylinder_are_closed_and_outward():
    for v, f, uv in (
        box_mesh(np.array([0.1, 0.2, 0.3]), np.array([0.5, 0.2, 0.1]), 1.0),
        cylinder_mesh(np.array([0.0, 0.0, 0.0]), 0.2, 0.05, 1, 1.0),
    ):
        m = trimesh.Trimesh(v, f, process=False)
        m.merge_vertices()  # UV seams duplicate positions
        assert m.is_watertight and m.is_winding_consistent
        assert m.volume > 0
        assert uv.shape == (len(v), 2)
    v, f, _ = box_mesh(np.zeros(3), np.array([0.5, 0.2, 0.1]), 1.0)
    assert abs(trimesh.Trimesh(v, f).volume - 0.01) < 1e-9


@pytest.mark.parametrize("category", CATEGORIES)
def test_links_do_not_interpenetrate_at_rest(category):
    """Bounding boxes of pieces of different links are disjoint at rest (GAP clearance)."""
    from partdrag4d.assets import procedural as proc

    for seed in range(3):
        rng = np.random.default_rng(seed)
        b = Builder(rng, 1.0)
        proc._BUILDERS[category](b, rng, 1.0)
        boxes = [
            (link.name, v.min(0), v.max(0))
            for link in b.links.values()
            for _, v, _, _ in link.pieces
        ]
        for i, (la, lo_a, hi_a) in enumerate(boxes):
            for lb, lo_b, hi_b in boxes[i + 1 :]:
                overlap = np.minimum(hi_a, hi_b) - np.maximum(lo_a, lo_b)
                assert la == lb or not (overlap > 1e-6).all(), (category, seed, la, lb)
