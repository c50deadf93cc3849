"""Analysis by synthesis: parents, folding and model selection with known answers."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from recon_scenes import door_video, hinge_origin

from partdrag4d.containers import Articulation, Joint, JointType
from partdrag4d.geometry.lines import axis_angle_deg
from partdrag4d.reconstruct.joints import JointFit, JointSelectConfig
from partdrag4d.reconstruct.model import Model, compose, folded, joints_from_poses
from partdrag4d.reconstruct.model_fit import ModelFitConfig, fit_model

T = 6
CFG = ModelFitConfig()
JCFG = JointSelectConfig()


def _chain_poses(nested: bool):
    """A box of three slabs: part 1 swings about a hinge on the base, part 2 slides out
    of part 1 (``nested``) or slides relative to the base by itself."""
    rng = np.random.default_rng(0)
    rest = np.concatenate(
        [rng.uniform([0, 0, 0], [1, 1, 0.2], (200, 3)) + [0, 0, z] for z in (0.0, 0.3, 0.6)]
    )
    vertex_part = np.repeat([0, 1, 2], 200)
    q = np.linspace(0.0, 1.0, T)
    hinge = JointFit(JointType.REVOLUTE, np.array([0, 1.0, 0]), np.array([0, 0, 0.4]), 0.8 * q, 0.0)
    slide = JointFit(JointType.PRISMATIC, np.array([1.0, 0, 0]), np.zeros(3), 0.3 * q, 0.0)
    parents = (-1, 0, 1 if nested else 0)
    return rest, vertex_part, parents, compose(parents, (None, hinge, slide), T)


@pytest.mark.parametrize("nested", [True, False])
def test_a_chain_picks_the_right_parent(nested):
    rest, vertex_part, parents, poses = _chain_poses(nested)
    diag = float(np.linalg.norm(rest.max(0) - rest.min(0)))
    found, fits, T_model = joints_from_poses(poses, vertex_part, rest, diag, "test", 2000, JCFG)
    assert found == parents
    assert [f.type for f in fits[1:]] == [JointType.REVOLUTE, JointType.PRISMATIC]
    assert axis_angle_deg(fits[2].axis, np.array([1.0, 0, 0])) < 0.1
    assert np.allclose(T_model, poses, atol=1e-6)
    assert all(f.source == "test" for f in fits[1:])


def test_folding_a_chain_link_keeps_the_world_motion_of_its_children():
    rest, vertex_part, parents, poses = _chain_poses(nested=True)
    diag = float(np.linalg.norm(rest.max(0) - rest.min(0)))
    par, fits, T_model = joints_from_poses(poses, vertex_part, rest, diag, "test", 2000, JCFG)
    model = Model(vertex_part, vertex_part[:10], par, fits, T_model)
    out = folded(model, 1, rest, diag, 2000, JCFG)
    assert out.parents == (-1, 0)
    assert np.array_equal(out.vertex_part, np.repeat([0, 0, 1], 200))
    # the slab that rode on the hinge now hangs from the base: same world motion
    # (a hinge-then-slide fits one revolute joint about the same axis only roughly)
    assert out.fits[1].type is JointType.REVOLUTE
    assert out.fits[1].source == "test"
    assert np.abs(out.T_world[:, 1, :3, :3] - poses[:, 2, :3, :3]).max() < 1e-6


def _lift(child: str, height: float) -> Joint:
    """A slide of ``child`` straight up from the base by ``height`` over the clip."""
    values = np.linspace(0, height, T)
    return Joint(
        "joint_2",
        JointType.PRISMATIC,
        "base",
        child,
        np.array([0.0, 0, 1]),
        np.zeros(3),
        values,
        (0.0, height),
    )


def _proposal(mesh, vertex_part, axis, origin, values, extra: np.ndarray | None) -> Articulation:
    """A proposal: the door with the given joint, plus (``extra``) a static chunk of the
    body proposed as a moving part."""
    labels = vertex_part.copy()
    joints = [
        Joint("joint_1", JointType.REVOLUTE, "base", "part_1", axis, origin, values, (0.0, 1.0))
    ]
    if extra is not None:
        labels[extra] = 2
        joints.append(_lift("part_2", 1e-4))
    P = int(labels.max()) + 1
    parents = (-1,) + (0,) * (P - 1)
    fits = (None,) + tuple(JointFit(j.type, j.axis, j.origin, j.values, 0.0) for j in joints)
    return Articulation(
        part_names=("base",) + tuple(f"part_{i}" for i in range(1, P)),
        vertex_part=labels,
        face_part=labels[mesh.faces[:, 0]],
        T_world_part=compose(parents, fits, T),
        joints=tuple(joints),
        fps=10.0,
    )


def test_fit_model_tracks_the_door_and_folds_a_static_part(tmp_path):
    mesh, vertex_part, rig, frames, axis, motion = door_video(tmp_path, T, 100.0)
    body = np.nonzero(vertex_part == 0)[0]
    extra = body[mesh.vertices[body, 2] > np.quantile(mesh.vertices[body, 2], 0.8)]
    # the proposal's hinge is 12 degrees off and stops at 60 of the 100 degrees
    tilt = np.array([np.sin(np.radians(12.0)), 0.0, 0.0])
    bad_axis = (axis + tilt) / np.linalg.norm(axis + tilt)
    origin = hinge_origin(motion)
    values = np.radians(np.minimum(np.linspace(0, 100.0, T), 60.0))
    art = _proposal(mesh, vertex_part, bad_axis, origin, values, extra)
    out = fit_model(art, mesh, rig, frames, CFG, JCFG)
    assert len(out.joints) == 1  # the static chunk folded into the base
    j = out.joints[0]
    assert j.type is JointType.REVOLUTE
    assert axis_angle_deg(j.axis, axis) < 2.0
    assert abs(np.degrees(np.abs(j.values).max()) - 100.0) < 3.0
    assert out.extras["joint_source"] == {"joint_1": "render-compare"}
    scored = [s["model"] for s in out.extras["model_scores"]]
    assert scored[0] == "proposal" and "tracked" in scored and "merge part_2 into 0" in scored


def test_fit_model_keeps_a_proposal_that_already_explains_the_video(tmp_path):
    mesh, vertex_part, rig, frames, axis, motion = door_video(tmp_path, T, 40.0)
    origin = hinge_origin(motion)
    values = np.radians(np.linspace(0, 40.0, T))
    art = _proposal(mesh, vertex_part, axis, origin, values, None)
    out = fit_model(art, mesh, rig, frames, CFG, JCFG)
    assert len(out.joints) == 1
    assert axis_angle_deg(out.joints[0].axis, axis) < 0.5
    assert abs(np.degrees(np.abs(out.joints[0].values).max()) - 40.0) < 1.0


def test_a_proposed_part_without_vertices_is_dropped(tmp_path):
    mesh, vertex_part, rig, frames, axis, motion = door_video(tmp_path, T, 40.0)
    values = np.radians(np.linspace(0, 40.0, T))
    art = _proposal(mesh, vertex_part, axis, hinge_origin(motion), values, None)
    ghost = _lift("part_2", 0.1)
    art = dataclasses.replace(
        art,
        part_names=(*art.part_names, "part_2"),
        joints=(*art.joints, ghost),
        T_world_part=np.concatenate([art.T_world_part, art.T_world_part[:, :1]], axis=1),
    )
    out = fit_model(art, mesh, rig, frames, CFG, JCFG)
    assert len(out.joints) == 1 and out.part_names == ("base", "part_1")
    assert axis_angle_deg(out.joints[0].axis, axis) < 0.5
