"""Whole-pipeline runs through the command line (tiny sizes)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import trimesh


def run_app(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable,
        "-m",
        "partdrag4d",
        "debug=tiny",
        f"paths.cache_dir={tmp_path / 'c'}",
        f"hydra.run.dir={tmp_path / 'run'}",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def make_tiny_model(model: Path) -> Path:
    """A tiny random DragVideoPipeline saved by the tool users run."""
    made = subprocess.run(
        [sys.executable, "tools/make_tiny_drag_model.py", str(model)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert made.returncode == 0, made.stderr
    return model


def check_articulation_json(path: Path, num_frames: int) -> dict:
    doc = json.loads(path.read_text())
    assert doc["frame"] == "input" and doc["units"] == "m"
    for joint in doc["joints"]:
        assert set(joint) >= {
            "name",
            "type",
            "parent",
            "child",
            "axis",
            "origin",
            "values",
            "limits",
        }
        assert joint["type"] in {"revolute", "prismatic", "fixed"}
        assert len(joint["axis"]) == 3 and len(joint["origin"]) == 3
        assert len(joint["values"]) == num_frames and len(joint["limits"]) == 2
    assert all({"name", "num_vertices"} <= set(p) for p in doc["parts"])
    return doc


def _check_nerfstudio_copy(out: Path) -> None:
    """Every (view, frame) image with its time, cameras in the world frame of cameras.json."""
    from partdrag4d.store import read_nerfstudio_cameras

    rig = json.loads((out / "videos" / "cameras.json").read_text())["views"]
    K, T_cam_world, frames = read_nerfstudio_cameras(out / "export/nerfstudio/transforms.json")
    assert len(frames) == len(rig) * 8
    for k, entry in enumerate(frames):
        assert (out / "export/nerfstudio" / entry["file_path"]).is_file()
        assert entry["time"] == pytest.approx(entry["frame"] / 7)
        np.testing.assert_allclose(T_cam_world[k], rig[entry["view"]]["T_cam_world"], atol=1e-9)
        np.testing.assert_allclose(K[k], rig[entry["view"]]["K"], atol=1e-9)


@pytest.mark.slow
def test_default_pipeline_writes_every_output(tmp_path):
    out = tmp_path / "out"
    res = run_app(tmp_path, "asset.category=laptop", f"out_dir={out}")
    assert res.returncode == 0, res.stderr
    for rel in [
        "videos/view_00.mp4",
        "contact_sheet.png",
        "export/model.glb",
        "export/urdf/model.urdf",
        "export/articulation.json",
        "export/nerfstudio/transforms.json",
        "videos/cameras.json",
        "metrics.json",
        "report.html",
        "artefacts.json",
    ]:
        assert (out / rel).is_file(), rel
    doc = check_articulation_json(out / "export" / "articulation.json", num_frames=8)
    assert [j["type"] for j in doc["joints"]] == ["revolute"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["joint_type_accuracy"] == 1 and metrics["axis_angle_deg"] < 2.0
    assert "joint_type_accuracy" in res.stdout  # the metrics table is printed
    _check_nerfstudio_copy(out)
    front = json.loads((out / "videos" / "cameras.json").read_text())["front"]
    assert front["source"] == "moving surface" and "rig-front" in (out / "report.html").read_text()
    again = run_app(tmp_path, "asset.category=laptop", f"out_dir={out}")
    assert "computed: nothing" in again.stdout


def _partnet_style_asset(root: Path) -> Path:
    """A two-link asset laid out like PartNet-Mobility (not made by partdrag4d)."""
    (root / "textured_objs").mkdir(parents=True)
    trimesh.creation.box(extents=(0.6, 0.4, 0.5)).apply_translation((0, 0, 0.25)).export(
        root / "textured_objs" / "original-1.obj"
    )
    lid = trimesh.creation.box(extents=(0.6, 0.4, 0.04))
    lid.apply_translation((0, 0.2, 0.02)).export(root / "textured_objs" / "original-2.obj")
    (root / "mobility.urdf").write_text("""<?xml version="1.0"?>
<robot name="partnet_box">
  <link name="base"/>
  <link name="link_0"><visual name="body"><origin xyz="0 0 0"/>
    <geometry><mesh filename="textured_objs/original-1.obj"/></geometry></visual></link>
  <link name="link_1"><visual name="lid"><origin xyz="0 -0.2 0"/>
    <geometry><mesh filename="textured_objs/original-2.obj"/></geometry></visual></link>
  <joint name="joint_0" type="fixed"><parent link="base"/><child link="link_0"/></joint>
  <joint name="joint_1" type="revolute"><origin xyz="0 0.2 0.5"/><axis xyz="1 0 0"/>
    <parent link="link_0"/><child link="link_1"/><limit lower="0" upper="1.5"/></joint>
</robot>""")
    return root / "mobility.urdf"


@pytest.mark.slow
def test_foreign_urdf_through_the_cli(tmp_path):
    urdf = _partnet_style_asset(tmp_path / "asset")
    out = tmp_path / "out"
    res = run_app(
        tmp_path, "asset=urdf", f"asset.path={urdf}", f"out_dir={out}", "stages=[prepare,generate]"
    )
    assert res.returncode == 0, res.stderr
    frames = sorted((out / "videos" / "view_00").glob("*.png"))
    assert len(frames) == 8
    from partdrag4d.store.video_io import read_png

    first, last = read_png(frames[0]), read_png(frames[-1])
    assert np.abs(first.astype(int) - last).mean() > 0.5  # the lid moved


@pytest.mark.slow
def test_puppet_master_generator_end_to_end(tmp_path):
    model = make_tiny_model(tmp_path / "model")
    out = tmp_path / "out"
    res = run_app(
        tmp_path,
        "generator=puppet_master",
        f"generator.model_path={model}",
        "generator.num_inference_steps=2",
        "generator.height=64",
        "generator.width=64",
        "track.min_silhouette_iou=0",
        f"out_dir={out}",
    )
    assert res.returncode == 0, res.stderr
    assert (out / "videos" / "view_02.mp4").is_file()
    check_articulation_json(out / "export" / "articulation.json", num_frames=8)
    assert (out / "report.html").is_file()


@pytest.mark.slow
def test_rejected_generated_videos_are_named(tmp_path):
    """A random tiny model's videos fail the silhouette check (as they should): the one
    line error says where those videos are; debug=tiny made them small and quick."""
    model = make_tiny_model(tmp_path / "model")
    res = run_app(
        tmp_path,
        "generator=puppet_master",
        f"generator.model_path={model}",
        "stages=[prepare,generate,track]",
        f"out_dir={tmp_path / 'out'}",
    )
    assert res.returncode == 2, res.stderr
    line = res.stderr.strip().splitlines()[-1]
    assert "silhouette" in line and "the generated videos are in" in line, line
    videos = Path(line.split("the generated videos are in ")[1].split(" (overview: ")[0])
    sheet = Path(line.split("(overview: ")[1].rstrip(")"))
    assert sorted(p.name for p in videos.iterdir())[:1] == ["view_00"] and sheet.is_file()
    manifest = json.loads((videos.parent / "manifest.json").read_text())
    assert manifest["config"]["num_inference_steps"] == 4  # debug=tiny's
    assert not (tmp_path / "out").exists()


def test_missing_model_says_how_to_get_one(tmp_path):
    res = run_app(tmp_path, "generator=puppet_master", "stages=[prepare,generate]")
    assert res.returncode == 2 and "generator.model_path" in res.stderr
    assert "make_tiny_drag_model" in res.stderr


@pytest.mark.slow
def test_franka_arm_end_to_end(tmp_path):
    """The arm that once gave a 2.5e10 rad joint and a 379 GiB allocation in export: the
    run finishes, every joint value is sane, the GLB stays small and the URDF loads in
    pybullet with its collision pieces."""
    pybullet = pytest.importorskip("pybullet")
    pybullet_data = pytest.importorskip("pybullet_data")
    urdf = Path(pybullet_data.getDataPath()) / "franka_panda" / "panda.urdf"
    out = tmp_path / "out"
    res = run_app(tmp_path, "asset=urdf", f"asset.path={urdf}", f"out_dir={out}")
    assert res.returncode == 0, res.stderr
    doc = check_articulation_json(out / "export/articulation.json", 8)
    for joint in doc["joints"]:
        values = np.asarray(joint["values"])
        assert np.all(np.isfinite(values))
        bound = 2 * np.pi if joint["type"] == "revolute" else 3.0  # a turn; a few metres
        assert np.ptp(values) <= bound, joint
    assert (out / "export/model.glb").stat().st_size < 50e6
    client = pybullet.connect(pybullet.DIRECT)
    try:
        body = pybullet.loadURDF(str(out / "export/urdf/model.urdf"), physicsClientId=client)
        moving = [j for j in doc["joints"] if j["type"] != "fixed"]
        assert pybullet.getNumJoints(body, physicsClientId=client) == len(doc["joints"])
        assert len(moving) >= 1
    finally:
        pybullet.disconnect(client)
