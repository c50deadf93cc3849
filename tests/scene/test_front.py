"""rig.front=auto: the views follow the motion, whatever way the asset faces."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import trimesh

from partdrag4d.assets.procedural import ProceduralConfig, write_procedural
from partdrag4d.containers import SceneMesh
from partdrag4d.scene.assets import MeshAssetConfig, UrdfAssetConfig
from partdrag4d.scene.cameras import RigConfig, orbit_rig
from partdrag4d.scene.drags import FileDragsConfig, GtDragsConfig, render_rest_views
from partdrag4d.scene.front import best_front, choose_front
from partdrag4d.scene.prepare import PrepareConfig, run_prepare
from partdrag4d.store.serialize import load_cameras, save_cameras

RIG = dict(num_views=3, width=96, height=96, front_probe_size=48)


def _yawed(urdf_text: str, yaw_deg: float) -> str:
    """The same asset on a mount link turned by ``yaw_deg`` about +Z (as written elsewhere)."""
    root = re.search(r'<link name="([^"]+)"', urdf_text).group(1)
    yaw = float(np.radians(yaw_deg))
    mount = (
        f'<link name="mount"/>\n  <joint name="mount_joint" type="fixed"><parent link="mount"/>'
        f'<child link="{root}"/><origin xyz="0 0 0" rpy="0 0 {yaw!r}"/></joint>\n'
        f'  <link name="{root}">'
    )
    return urdf_text.replace(f'<link name="{root}">', mount, 1)


def _moving_fraction(scene) -> float:
    """Fraction of the rest-state foreground pixels, over the rig, on parts that move."""
    views = render_rest_views(scene.mesh, scene.cameras, scene.gt.vertex_link)
    moving_links = {
        i
        for i, link in enumerate(scene.gt.asset.links)
        if any(j.child == link.name for j in scene.gt.asset.movable_joints)
    }
    fg = views.label >= 0
    return float(np.isin(views.label, list(moving_links)).sum() / fg.sum())


@pytest.mark.slow
def test_rotated_asset_gets_views_that_see_the_same_parts(tmp_path):
    text = write_procedural(ProceduralConfig(category="cabinet", seed=1), tmp_path).read_text()
    fronts, fractions = [], []
    for yaw in (0.0, 70.0, 180.0, -125.0):
        path = tmp_path / f"yaw_{yaw:g}.urdf"
        path.write_text(_yawed(text, yaw))
        cfg = PrepareConfig(
            asset=UrdfAssetConfig(path=str(path)), drags=GtDragsConfig(), rig=RigConfig(**RIG)
        )
        scene = run_prepare(cfg, np.random.default_rng(0))
        assert scene.cameras.front.source == "moving surface"
        fronts.append(scene.cameras.front.azimuth_deg - yaw)
        fractions.append(_moving_fraction(scene))
        assert scene.drags.visible.any(axis=0).all()  # every drag is seen by some view
    rel = np.mod(np.array(fronts) - fronts[0] + 180.0, 360.0) - 180.0
    assert np.abs(rel).max() < 5.0, fronts  # the same azimuth relative to the asset
    assert max(fractions) - min(fractions) < 0.05, fractions
    # the cabinet's doors open toward -Y in its own frame: the views face that side
    assert abs(np.mod(fronts[0] + 90.0 + 180.0, 360.0) - 180.0) < 30.0


def test_fixed_and_explicit_fronts_override_auto():
    mesh = _box_mesh()
    el = 25.0
    explicit = choose_front(RigConfig(front_azimuth_deg=33.0), mesh, "z", None, None, None)
    assert (explicit.azimuth_deg, explicit.source, explicit.elevation_deg) == (33.0, "config", el)
    fixed = choose_front(RigConfig(front="fixed"), mesh, "z", None, None, None)
    assert fixed.azimuth_deg == -90.0 and fixed.source == "config"


def _box_mesh() -> SceneMesh:
    from partdrag4d.containers import Material, Primitive

    box = trimesh.creation.box(extents=(0.6, 0.4, 0.5))
    box.apply_translation((0, 0, 0.25))
    material = Material("grey", np.array([0.6, 0.6, 0.6, 1.0]))
    return SceneMesh((Primitive(np.asarray(box.vertices), np.asarray(box.faces), material),))


@pytest.mark.parametrize("normal_axis", [0, 1])
def test_static_mesh_with_file_drags_faces_the_drags(tmp_path, normal_axis):
    box = trimesh.creation.box(extents=(0.6, 0.4, 0.5))
    box.apply_translation((0, 0, 0.25))
    box.export(tmp_path / "box.obj")
    # a drag on the +X face (or the -Y face) moving sideways across it
    start = [0.3, 0.05, 0.3] if normal_axis == 0 else [0.05, -0.2, 0.3]
    end = [0.3, 0.2, 0.35] if normal_axis == 0 else [0.2, -0.2, 0.35]
    (tmp_path / "drags.json").write_text(json.dumps({"drags": [{"start": start, "end": end}]}))
    cfg = PrepareConfig(
        asset=MeshAssetConfig(path=str(tmp_path / "box.obj")),
        drags=FileDragsConfig(path=str(tmp_path / "drags.json")),
        rig=RigConfig(**RIG),
    )
    scene = run_prepare(cfg, np.random.default_rng(0))
    front = scene.cameras.front
    assert front.source == "drags"
    want = 0.0 if normal_axis == 0 else -90.0
    assert abs(np.mod(front.azimuth_deg - want + 180.0, 360.0) - 180.0) < 20.0, front
    assert scene.drags.visible[:, 0].all()  # every view sees the drag's start


def test_best_front_is_the_peak_of_the_views_scores():
    cfg = RigConfig(num_views=1)
    scores = np.zeros(24)
    scores[6] = 1.0  # only the probe at 90 degrees sees anything
    az, totals = best_front(cfg, scores)
    assert az == pytest.approx(90.0) and totals.argmax() == 6
    scores[7] = 1.0  # two equal neighbours: halfway
    assert best_front(cfg, scores)[0] == pytest.approx(97.5)


def test_front_is_written_to_cameras_json(tmp_path):
    cfg = RigConfig(front_azimuth_deg=12.5)
    front = choose_front(cfg, _box_mesh(), "z", None, None, None)
    rig = orbit_rig(cfg, _box_mesh().bounds(), "z", front)
    save_cameras(rig, tmp_path / "cameras.json")
    doc = json.loads((tmp_path / "cameras.json").read_text())
    assert doc["front"]["azimuth_deg"] == 12.5 and doc["front"]["source"] == "config"
    assert load_cameras(tmp_path / "cameras.json").front == front


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"front": "sideways"}, "front"),
        ({"front_search_step_deg": 0.0}, "front_search_step_deg"),
        ({"front_probe_size": 2}, "front_probe_size"),
        ({"front_azimuth_deg": float("nan")}, "front_azimuth_deg"),
    ],
)
def test_bad_front_settings_name_the_field(override, field):
    from partdrag4d.errors import InputError

    with pytest.raises(InputError, match=field):
        choose_front(RigConfig(**override), _box_mesh(), "z", None, None, None)
