"""Random object generator: every object loads, FK agrees with yourdfpy, no part
interpenetrates another at rest, and the requested parts and joint kinds are there."""

from __future__ import annotations

import json

import numpy as np
import pytest
import trimesh

from partdrag4d.assets.kinematics import forward_kinematics, posed_mesh
from partdrag4d.assets.random_objects import FAMILIES, RandomObjectConfig, write_random_object
from partdrag4d.assets.urdf import load_urdf
from partdrag4d.containers import JointType

SEEDS = (0, 1, 2)


def _winding_number(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Generalised winding number of closed outward-facing surfaces at ``points``: the
    number of closed pieces containing the point (solid angles, Van Oosterom-Strackee)."""
    out = []
    for chunk in np.array_split(points, max(len(points) // 256, 1)):
        a, b, c = (triangles[None, :, k] - chunk[:, None] for k in range(3))
        la, lb, lc = (np.linalg.norm(x, axis=-1) for x in (a, b, c))
        det = np.einsum("pfi,pfi->pf", a, np.cross(b, c))
        dot = lambda x, y: np.einsum("pfi,pfi->pf", x, y)  # noqa: E731
        den = la * lb * lc + dot(a, b) * lc + dot(b, c) * la + dot(c, a) * lb
        out.append(np.arctan2(det, den).sum(axis=1) / (2 * np.pi))
    return np.concatenate(out)


@pytest.mark.parametrize("family", FAMILIES)
def test_objects_load_and_match_their_description(tmp_path, family):
    for seed in SEEDS:
        obj = write_random_object(
            RandomObjectConfig(family=family, seed=seed), tmp_path / str(seed)
        )
        asset = load_urdf(obj.urdf)
        joints = {j.name: j.type.value for j in asset.movable_joints}
        assert joints == obj.joints
        assert 1 <= len(joints) <= 8
        mesh, _ = posed_mesh(asset)
        extent = float(np.max(mesh.bounds()[1] - mesh.bounds()[0]))
        assert 0.15 < extent < 3.6
        assert json.loads((tmp_path / str(seed) / "object.json").read_text())["joints"] == joints
        for (
            j
        ) in asset.movable_joints:  # every joint moves its subtree from a rest inside its limits
            assert j.limits is not None and j.limits[0] <= 0.0 <= j.limits[1]
            moved, _ = posed_mesh(asset, {j.name: j.limits[1] if j.limits[1] > 0 else j.limits[0]})
            assert np.abs(moved.vertices - mesh.vertices).max() > 0.01 * extent


def test_requested_part_counts(tmp_path):
    for n in range(1, 9):
        obj = write_random_object(
            RandomObjectConfig(family="many_part", num_parts=n, seed=n), tmp_path / str(n)
        )
        assert len(load_urdf(obj.urdf).movable_joints) == n
    with pytest.raises(ValueError):
        write_random_object(RandomObjectConfig(num_parts=9), tmp_path / "x")
    with pytest.raises(ValueError):
        write_random_object(RandomObjectConfig(family="spaceship"), tmp_path / "y")


def test_families_have_their_kinds_of_parts(tmp_path):
    objs = {
        f: [
            write_random_object(RandomObjectConfig(family=f, seed=s), tmp_path / f"{f}{s}")
            for s in range(8)
        ]
        for f in FAMILIES
    }
    kinds = {t for f in FAMILIES for o in objs[f] for t in o.joints.values()}
    assert kinds == {"revolute", "prismatic"}
    assert all(o.depth >= 2 for o in objs["chains"]) and max(o.depth for o in objs["chains"]) == 3
    assert all(len(o.joints) >= 5 for o in objs["many_part"])
    assert all(o.appearance in ("plain", "weak") for o in objs["plain"])
    assert {o.appearance for f in FAMILIES for o in objs[f]} == {"textured", "weak", "plain"}
    assert any(o.thin_parts for o in objs["thin_small"])
    # small parts are 2-5 % of the surface (measured on the written meshes)
    for o in objs["thin_small"]:
        assert o.small_parts
        asset = load_urdf(o.urdf)
        area = {
            lk.name: sum(trimesh.Trimesh(p.vertices, p.faces).area for p in lk.visuals)
            for lk in asset.links
        }
        for name in o.small_parts:
            assert 0.015 < area[name] / sum(area.values()) < 0.06, (o.urdf, name)
    # two doors in one column share a hinge axis somewhere in the many-part objects
    shared = 0
    for o in objs["many_part"]:
        revolute = [j for j in load_urdf(o.urdf).movable_joints if j.type is JointType.REVOLUTE]
        lines = [
            (tuple(np.round(j.T_parent_joint[:3, 3][[0, 1]], 6)), tuple(j.axis)) for j in revolute
        ]
        shared += len(lines) - len(set(lines))
    assert shared > 0
    # yaw covers the circle, pitch and roll stay small
    rpy = np.array([o.rpy for f in FAMILIES for o in objs[f]])
    assert np.abs(rpy[:, :2]).max() <= np.radians(10) + 1e-9
    assert np.ptp(rpy[:, 2]) > np.radians(270)


@pytest.mark.parametrize("family", FAMILIES)
def test_fk_matches_yourdfpy(tmp_path, family):
    yourdfpy = pytest.importorskip("yourdfpy")
    obj = write_random_object(RandomObjectConfig(family=family, seed=5), tmp_path)
    asset = load_urdf(obj.urdf)
    ref = yourdfpy.URDF.load(obj.urdf, load_meshes=False, build_collision_scene_graph=False)
    rng = np.random.default_rng(0)
    q = {j.name: float(rng.uniform(*j.limits)) for j in asset.movable_joints}
    ref.update_cfg(q)
    poses = forward_kinematics(asset, q)
    for link in asset.links:
        np.testing.assert_allclose(
            poses[link.name], ref.get_transform(link.name, asset.root), atol=1e-9
        )


@pytest.mark.parametrize("family", FAMILIES)
def test_no_part_interpenetrates_another_at_rest(tmp_path, family):
    for seed in SEEDS:
        obj = write_random_object(
            RandomObjectConfig(family=family, seed=seed), tmp_path / str(seed)
        )
        asset = load_urdf(obj.urdf)
        mesh, vertex_link = posed_mesh(asset)
        tol = 1e-4 * mesh.bbox_diagonal()
        offsets = mesh.vertex_offsets
        links = {}
        for i, p in enumerate(mesh.primitives):
            li = int(vertex_link[offsets[i]])
            links.setdefault(li, []).append(trimesh.Trimesh(p.vertices, p.faces, process=False))
        merged = {li: trimesh.util.concatenate(ms) for li, ms in links.items()}
        for la, ma in merged.items():
            pts = np.concatenate([ma.vertices, trimesh.sample.sample_surface(ma, 1500, seed=0)[0]])
            for lb, mb in merged.items():
                if la == lb:
                    continue
                inside = pts[_winding_number(pts, mb.triangles) > 0.5]
                if len(inside):  # inside, deeper than the tolerance below the surface
                    depth = trimesh.proximity.closest_point(mb, inside)[1].max()
                    names = (asset.links[la].name, asset.links[lb].name)
                    assert depth < tol, (obj.urdf, names, depth)


def test_deterministic(tmp_path):
    a = write_random_object(RandomObjectConfig(family="chains", seed=7), tmp_path / "a")
    b = write_random_object(RandomObjectConfig(family="chains", seed=7), tmp_path / "b")
    for f in sorted((tmp_path / "a").rglob("*")):
        if f.is_file() and f.name != "object.json":
            assert f.read_bytes() == (tmp_path / "b" / f.relative_to(tmp_path / "a")).read_bytes()
    assert a.joints == b.joints and a.rpy == b.rpy
