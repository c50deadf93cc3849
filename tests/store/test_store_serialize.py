"""Round trips of every artefact kind through save/load (exact equality)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import trimesh
from store_helpers import assert_same

from partdrag4d.containers import Evaluation, JointMetrics, JointType, Metrics
from partdrag4d.store import serialize
from partdrag4d.store.serialize import SerializeConfig, kind_of, load, save
from partdrag4d.store.video_io import read_mp4


def roundtrip(obj, tmp_path, **cfg):
    kind = save(obj, tmp_path / "a", SerializeConfig(**cfg) if cfg else None)
    return kind, load(tmp_path / "a", kind)


def test_scene_input_round_trip_with_gt(scene_input, tmp_path):
    kind, back = roundtrip(scene_input, tmp_path)
    assert kind == "scene_input"
    assert_same(scene_input, back)
    assert (tmp_path / "a" / "gt" / "gt.json").is_file()
    # the preview PLY is a real mesh of the rest-state vertices
    ply = trimesh.load(tmp_path / "a" / "mesh.ply", process=False)
    np.testing.assert_allclose(ply.vertices, scene_input.mesh.vertices, rtol=1e-6)
    np.testing.assert_array_equal(ply.faces, scene_input.mesh.faces)


def test_scene_input_without_gt_has_no_gt_folder(scene_input, tmp_path):
    scene = dataclasses.replace(scene_input, gt=None)
    _, back = roundtrip(scene, tmp_path, write_ply=False)
    assert_same(scene, back)
    assert not (tmp_path / "a" / "gt").exists()
    assert not (tmp_path / "a" / "mesh.ply").exists()


def test_video_set_round_trip_and_previews(video_set, tmp_path):
    kind, back = roundtrip(video_set, tmp_path)
    assert kind == "video_set"
    assert_same(video_set, back)
    d = tmp_path / "a"
    assert (d / "videos" / "view_01" / "frame_002.png").is_file()
    assert (d / "gt" / "render_gt.npz").is_file()
    cams = json.loads((d / "cameras.json").read_text())
    assert "OpenCV" in cams["convention"]
    mp4 = read_mp4(d / "videos" / "view_00.mp4", size=(9, 11))
    assert mp4.shape == video_set.frames[0].shape
    assert (d / "nerfstudio" / "transforms.json").is_file()


def test_video_set_minimal(video_set, tmp_path):
    vs = dataclasses.replace(video_set, alpha=None, gt=None)
    _, back = roundtrip(vs, tmp_path, write_mp4=False, write_nerfstudio=False)
    assert_same(vs, back)
    assert not (tmp_path / "a" / "nerfstudio").exists()


def test_tracks_round_trip(tracks, tmp_path):
    kind, back = roundtrip(tracks, tmp_path)
    assert kind == "tracks"
    assert_same(tracks, back)


def test_articulation_round_trip_with_array_extras(articulation, tmp_path):
    extras = dict(articulation.extras, curve=np.arange(5.0), n=np.int64(7))
    art = dataclasses.replace(articulation, extras=extras)
    kind, back = roundtrip(art, tmp_path)
    assert kind == "articulation"
    # JSON turns numpy scalars into Python scalars; arrays come back from extras.npz
    expected = dataclasses.replace(art, extras=dict(articulation.extras, curve=np.arange(5.0), n=7))
    assert_same(expected, back)


def test_articulation_drops_unserialisable_extras_with_warning(articulation, tmp_path):
    art = dataclasses.replace(articulation, extras={"ok": 1.5, "bad": object()})
    with pytest.warns(UserWarning, match="bad"):
        _, back = roundtrip(art, tmp_path)
    assert back.extras == {"ok": 1.5}
    doc = json.loads((tmp_path / "a" / "articulation.json").read_text())
    assert doc["extras_dropped"] == ["bad"]


def _metrics(chamfer) -> Metrics:
    hinge = JointMetrics(
        "hinge",
        JointType.REVOLUTE,
        True,
        "j0",
        JointType.REVOLUTE,
        True,
        0.5,
        0.01,
        0.002,
        (0.0, 0.25),
        0.25,
    )
    slide = JointMetrics("slide", JointType.PRISMATIC, matched=False)
    return Metrics(
        2,
        1,
        ("slide",),
        (),
        1.0,
        0.5,
        0.01,
        0.002,
        0.25,
        0.25,
        None,
        0.9,
        0.8,
        chamfer,
        1.0,
        1.5,
        (hinge, slide),
    )


def test_metrics_round_trip(tmp_path):
    kind = save(Evaluation(_metrics(0.5)), tmp_path / "m")
    assert kind == "metrics" == kind_of(Evaluation(None))
    assert load(tmp_path / "m", kind) == Evaluation(_metrics(0.5))
    doc = json.loads((tmp_path / "m" / "metrics.json").read_text())
    assert doc["joints"][1] == {"gt_joint": "slide", "gt_type": "prismatic", "matched": False}
    assert doc["missing_joints"] == ["slide"] and doc["motion_err_prismatic_rel"] is None
    save(Evaluation(None), tmp_path / "none")  # no ground truth: an empty file
    assert json.loads((tmp_path / "none" / "metrics.json").read_text()) == {}
    assert load(tmp_path / "none", "metrics") == Evaluation(None)
    with pytest.raises(TypeError, match="not an artefact"):
        kind_of({"x": 1.0})  # a plain dict is no longer taken for metrics


def test_unknown_kind_and_type_raise(tmp_path):
    with pytest.raises(TypeError, match="not an artefact"):
        save(np.zeros(3), tmp_path / "x")
    with pytest.raises(ValueError, match="unknown artefact kind"):
        load(tmp_path, "nope")


def test_to_jsonable_handles_config_types(tmp_path):
    from enum import Enum
    from pathlib import Path

    class Mode(Enum):
        A = "a"

    @dataclasses.dataclass
    class Cfg:
        p: Path
        m: Mode

    out = serialize.to_jsonable({1: np.float64(2.0), "c": Cfg(Path("x/y"), Mode.A), "t": (1, 2)})
    assert out == {"1": 2.0, "c": {"p": "x/y", "m": "a"}, "t": [1, 2]}
    with pytest.raises(TypeError, match="set"):
        serialize.to_jsonable({"s": {1, 2}})
