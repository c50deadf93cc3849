"""Reading a run folder back: meshes in the world frame, joints, errors on bad input."""

import json

import numpy as np
import pytest

from partdrag4d.errors import InputError
from partdrag4d.viewer import joint_values_at, part_poses, read_run_folder


def test_run_folder_reads_back_parts_and_motion(run_case):
    _, root, mesh, art = run_case
    run = read_run_folder(root)
    assert run.articulation.part_names == art.part_names
    assert run.articulation.num_frames == art.T_world_part.shape[0]
    assert run.articulation.fps == art.fps
    for p in range(art.num_parts):  # every face of every part, at its rest position
        meshes = [piece.mesh for piece in run.pieces if piece.part == p]
        assert sum(len(m.faces) for m in meshes) == int((art.face_part == p).sum())
        rest = mesh.vertices[art.vertex_part == p]
        got = np.concatenate([m.vertices for m in meshes])
        np.testing.assert_allclose(got.min(0), rest.min(0), atol=1e-6)
        np.testing.assert_allclose(got.max(0), rest.max(0), atol=1e-6)
    for t in range(art.T_world_part.shape[0]):  # forward kinematics reproduces the motion
        time = t / (art.T_world_part.shape[0] - 1)
        poses = part_poses(run.articulation, joint_values_at(run.articulation, time))
        np.testing.assert_allclose(poses, art.T_world_part[t], atol=1e-9)
    assert run.cameras is not None and run.frame(1, 0) is not None


def _break(root, edit):
    path = root / "export" / "articulation.json"
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d["joints"][0].update(axis=[1, 0]), "joints[0].axis"),
        (lambda d: d["joints"][0].pop("origin"), "joints[0].origin"),
        (lambda d: d["joints"][0].update(type="ball"), "joints[0].type"),
        (lambda d: d["joints"][0].update(values=[0.0]), "joints[0].values"),
        (lambda d: d["joints"][0].update(parent="nowhere"), "joints"),
        (lambda d: d.pop("parts"), "parts"),
    ],
)
def test_bad_articulation_json_names_the_field(tmp_path, edit, field):
    from run_folders import write_run_folder

    root = tmp_path / "run"
    write_run_folder("door", root)
    _break(root, edit)
    with pytest.raises(InputError) as err:
        read_run_folder(root)
    assert err.value.field == field and err.value.source.endswith("articulation.json")


def test_missing_pieces_are_named(tmp_path):
    with pytest.raises(InputError, match="run folder: not found"):
        read_run_folder(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="articulation.json: file: not found"):
        read_run_folder(tmp_path / "empty")
