"""Forward kinematics against hand-computed poses and scipy's rotation conventions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from partdrag4d.assets.kinematics import (
    forward_kinematics,
    link_poses_over_time,
    posed_mesh,
    rpy_to_matrix,
)
from partdrag4d.containers import (
    ArticulatedAsset,
    JointSpec,
    JointType,
    Link,
    Material,
    Primitive,
)
from partdrag4d.geometry.se3 import axis_angle_to_matrix, make_T


def _point_link(name: str, p: tuple[float, float, float]) -> Link:
    """A link whose only visual is a tiny triangle with its first vertex at ``p``."""
    v = np.array([p, (p[0] + 0.01, p[1], p[2]), (p[0], p[1] + 0.01, p[2])], dtype=np.float64)
    mat = Material("m", np.ones(4))
    return Link(name, (Primitive(v, np.array([[0, 1, 2]]), mat),))


def _joint(name, jtype, parent, child, xyz, axis, rpy=(0, 0, 0), limits=None) -> JointSpec:
    T = make_T(rpy_to_matrix(np.asarray(rpy, float)), np.asarray(xyz, float))
    return JointSpec(name, jtype, parent, child, T, np.asarray(axis, float), limits)


def test_rpy_matches_fixed_axis_convention():
    rpy = np.array([0.3, -0.7, 1.1])
    expected = Rotation.from_euler("xyz", rpy).as_matrix()  # lowercase = extrinsic/fixed axes
    np.testing.assert_allclose(rpy_to_matrix(rpy), expected, atol=1e-12)
    # yaw 90 deg maps x to y
    np.testing.assert_allclose(rpy_to_matrix([0, 0, np.pi / 2]) @ [1, 0, 0], [0, 1, 0], atol=1e-12)
    # roll then yaw (fixed axes): z -> -y (roll 90) -> x (yaw 90)
    R = rpy_to_matrix([np.pi / 2, 0, np.pi / 2])
    np.testing.assert_allclose(R @ [0, 0, 1], [1, 0, 0], atol=1e-12)


def test_axis_angle_matches_rotvec():
    axis = np.array([1.0, 2.0, -0.5])
    angle = 0.83
    expected = Rotation.from_rotvec(axis / np.linalg.norm(axis) * angle).as_matrix()
    np.testing.assert_allclose(axis_angle_to_matrix(axis * 3, angle), expected, atol=1e-12)


def test_revolute_about_z_at_offset_origin():
    asset = ArticulatedAsset(
        "a",
        (_point_link("base", (0, 0, 0)), _point_link("door", (1, 0, 0))),
        (
            _joint(
                "hinge", JointType.REVOLUTE, "base", "door", (1, 0, 0), (0, 0, 1), limits=(0.0, 2.0)
            ),
        ),
    )
    poses = forward_kinematics(asset, {"hinge": np.pi / 2})
    np.testing.assert_allclose(poses["base"], np.eye(4))
    # child point (1,0,0) in the child frame = world (2,0,0) at rest; rotating 90 deg about
    # z through (1,0,0) sends it to (1,1,0).
    p = poses["door"] @ np.array([1, 0, 0, 1.0])
    np.testing.assert_allclose(p[:3], [1, 1, 0], atol=1e-12)
    # joints not given are at 0
    np.testing.assert_allclose(
        forward_kinematics(asset)["door"], make_T(np.eye(3), np.array([1.0, 0, 0]))
    )


def test_chain_revolute_then_prismatic_with_rpy():
    # base -> arm: revolute about z at (0,0,1); arm -> slider: prismatic along the arm's x,
    # joint frame at (1,0,0) in the arm and rotated by yaw 90 deg.
    asset = ArticulatedAsset(
        "chain",
        (
            _point_link("base", (0, 0, 0)),
            _point_link("arm", (0, 0, 0)),
            _point_link("slider", (0, 0, 0)),
        ),
        (
            _joint("j1", JointType.REVOLUTE, "base", "arm", (0, 0, 1), (0, 0, 1)),
            _joint(
                "j2", JointType.PRISMATIC, "arm", "slider", (1, 0, 0), (1, 0, 0), (0, 0, np.pi / 2)
            ),
        ),
    )
    poses = forward_kinematics(asset, {"j1": np.pi / 2, "j2": 0.5})
    # slider origin: arm rotated 90 about z -> joint at (0,1,1); the slider's x axis is the arm's
    # y axis (yaw 90), which after the 90 deg turn is world -x; 0.5 along it -> (-0.5, 1, 1).
    np.testing.assert_allclose(poses["slider"][:3, 3], [-0.5, 1, 1], atol=1e-12)
    np.testing.assert_allclose(poses["slider"][:3, 0], [-1, 0, 0], atol=1e-12)

    mesh, vertex_link = posed_mesh(asset, {"j1": np.pi / 2, "j2": 0.5})
    assert vertex_link.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    np.testing.assert_allclose(mesh.vertices[6], [-0.5, 1, 1], atol=1e-12)

    values = np.array([[0.0, 0.0], [np.pi / 2, 0.5]])
    T = link_poses_over_time(asset, ("j1", "j2"), values)
    assert T.shape == (2, 3, 4, 4)
    np.testing.assert_allclose(T[1, 2], poses["slider"])
    np.testing.assert_allclose(T[0, 1], make_T(np.eye(3), np.array([0, 0, 1.0])))


def test_fixed_joint_ignores_value_and_unknown_joint_raises():
    asset = ArticulatedAsset(
        "f",
        (_point_link("a", (0, 0, 0)), _point_link("b", (0, 0, 0))),
        (_joint("fx", JointType.FIXED, "a", "b", (0, 2, 0), (1, 0, 0)),),
    )
    np.testing.assert_allclose(forward_kinematics(asset, {"fx": 3.0})["b"][:3, 3], [0, 2, 0])
    with pytest.raises(KeyError):
        forward_kinematics(asset, {"nope": 1.0})


@pytest.mark.parametrize("category", ["cabinet_drawer", "desk_lamp", "laptop"])
def test_fk_matches_yourdfpy(tmp_path, category):
    """Reference check: link poses agree with yourdfpy on a procedural URDF with rpy origins."""
    yourdfpy = pytest.importorskip("yourdfpy")
    from partdrag4d.assets.procedural import ProceduralConfig, write_procedural
    from partdrag4d.assets.urdf import load_urdf

    path = write_procedural(ProceduralConfig(category, seed=4, textured=False), tmp_path)
    # add a non-trivial rpy on every joint origin to exercise the convention
    text = path.read_text().replace('rpy="0 0 0"/>\n    <axis', 'rpy="0.2 -0.3 0.4"/>\n    <axis')
    assert text.count("0.2 -0.3 0.4") == len(text.split("<joint ")) - 1
    path.write_text(text)
    asset = load_urdf(path)
    ref = yourdfpy.URDF.load(str(path), load_meshes=False, build_collision_scene_graph=False)
    rng = np.random.default_rng(0)
    q = {j.name: float(rng.uniform(*j.limits)) for j in asset.movable_joints}
    ref.update_cfg(q)
    poses = forward_kinematics(asset, q)
    for link in asset.links:
        np.testing.assert_allclose(
            poses[link.name], ref.get_transform(link.name, asset.root), atol=1e-9
        )
