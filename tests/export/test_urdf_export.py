"""URDF export: loads in yourdfpy and pybullet; joint values reproduce T_world_part."""

from __future__ import annotations

import numpy as np
import pytest

from partdrag4d.containers import JointType
from partdrag4d.export.kinematics import part_pivots, part_poses_from_joint_values
from partdrag4d.export.urdf import UrdfConfig, urdf_limits, write_urdf


def _rest_offset(pivot: np.ndarray) -> np.ndarray:
    """Trans(-o_p): rest-world point -> link frame (links are axis-aligned at rest)."""
    out = np.eye(4)
    out[:3, 3] = -pivot
    return out


def _max_vertex_error(mesh, art, p, got, want) -> float:
    verts = mesh.vertices[art.vertex_part == p]
    verts_h = np.concatenate([verts, np.ones((len(verts), 1))], 1)
    return float(np.abs((verts_h @ got.T - verts_h @ want.T)[:, :3]).max())


def test_forward_kinematics_matches_hand_built(articulated_case):
    _, _, art = articulated_case
    values = np.stack([j.values for j in art.joints], 1)
    np.testing.assert_allclose(
        part_poses_from_joint_values(art, values), art.T_world_part, atol=1e-12
    )


def test_urdf_yourdfpy_reproduces_motion(articulated_case, tmp_path):
    yourdfpy = pytest.importorskip("yourdfpy")
    _, mesh, art = articulated_case
    path = write_urdf(art, mesh, tmp_path / "urdf", UrdfConfig(add_world_link=True))
    robot = yourdfpy.URDF.load(str(path), load_meshes=False, build_collision_scene_graph=False)
    assert robot.validate()
    assert set(robot.actuated_joint_names) == {j.name for j in art.joints}
    pivots = part_pivots(art)
    tol = 1e-4 * mesh.bbox_diagonal()
    for t in range(art.T_world_part.shape[0]):
        robot.update_cfg({j.name: float(j.values[t]) for j in art.joints})
        for p, part in enumerate(art.part_names):
            got = robot.get_transform(part, "world") @ _rest_offset(pivots[p])
            assert _max_vertex_error(mesh, art, p, got, art.T_world_part[t, p]) < tol, (t, part)


def test_urdf_pybullet_reproduces_motion(articulated_case, tmp_path):
    p = pytest.importorskip("pybullet")
    _, mesh, art = articulated_case
    path = write_urdf(art, mesh, tmp_path / "urdf")
    client = p.connect(p.DIRECT)
    try:
        body = p.loadURDF(str(path), useFixedBase=True, physicsClientId=client)
        index = {
            p.getJointInfo(body, j, physicsClientId=client)[1].decode(): j
            for j in range(p.getNumJoints(body, physicsClientId=client))
        }
        link_of_part = {
            p.getJointInfo(body, j, physicsClientId=client)[12].decode(): j for j in index.values()
        }
        assert set(index) == {j.name for j in art.joints}
        pivots = part_pivots(art)
        tol = 1e-4 * mesh.bbox_diagonal()
        for t in range(art.T_world_part.shape[0]):
            for joint in art.joints:
                p.resetJointState(
                    body, index[joint.name], float(joint.values[t]), physicsClientId=client
                )
            for part_index, part in enumerate(art.part_names[1:], start=1):
                state = p.getLinkState(
                    body, link_of_part[part], computeForwardKinematics=True, physicsClientId=client
                )
                T = np.eye(4)
                T[:3, :3] = np.array(p.getMatrixFromQuaternion(state[5])).reshape(3, 3)
                T[:3, 3] = state[4]
                got = T @ _rest_offset(pivots[part_index])
                err = _max_vertex_error(mesh, art, part_index, got, art.T_world_part[t, part_index])
                assert err < tol, (t, part, err)
    finally:
        p.disconnect(client)


def test_urdf_limits_widen_only_away_from_the_rest_state(articulated_case, tmp_path):
    """The observed range is widened on the sides the part moved to; a limit at the rest
    (closed) state stays there, so the part never enters its parent in a simulator."""
    _, mesh, art = articulated_case
    cfg = UrdfConfig(limit_margin=0.1, limit_margin_rad=0.02, limit_margin_m=0.002)
    for joint in art.joints:
        lo, hi = urdf_limits(joint, cfg)
        obs_lo, obs_hi = min(joint.values.min(), 0.0), max(joint.values.max(), 0.0)
        absolute = 0.02 if joint.type is JointType.REVOLUTE else 0.002
        margin = 0.1 * (obs_hi - obs_lo) + absolute
        assert lo == pytest.approx(obs_lo - margin if obs_lo < 0 else 0.0)
        assert hi == pytest.approx(obs_hi + margin if obs_hi > 0 else 0.0)
        assert lo == 0.0 or hi == 0.0  # these cases move one way from the rest state


def test_static_urdf(static, tmp_path):
    yourdfpy = pytest.importorskip("yourdfpy")
    mesh, art = static
    path = write_urdf(art, mesh, tmp_path / "urdf")
    robot = yourdfpy.URDF.load(str(path))
    assert robot.validate() and not robot.actuated_joint_names
    assert (tmp_path / "urdf/meshes/base.obj").exists()
    assert (tmp_path / "urdf/meshes/texture_0.png").exists()
    # The mesh loads back with the base's vertices (in the base frame = world at rest).
    loaded = robot.scene.to_geometry()
    np.testing.assert_allclose(loaded.bounds, mesh.bounds(), atol=1e-6)


def test_fit_residual_is_zero_for_ideal_joints_and_grows_with_misfit(articulated_case):
    from dataclasses import replace

    from partdrag4d.export.bundle import articulation_dict
    from partdrag4d.export.kinematics import joint_fit_residuals

    _, mesh, art = articulated_case
    assert max(joint_fit_residuals(art, mesh.vertices)) < 1e-9
    shifted = art.T_world_part.copy()
    shifted[:, 1, 0, 3] += 0.05 * mesh.bbox_diagonal()  # the first part drifts off its joint
    worse = joint_fit_residuals(replace(art, T_world_part=shifted), mesh.vertices)
    assert worse[0] == pytest.approx(0.05, rel=1e-6)
    doc = articulation_dict(art, mesh)
    assert all(j["fit_residual"] < 1e-9 for j in doc["joints"])
