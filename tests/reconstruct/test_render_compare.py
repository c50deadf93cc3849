"""Render-and-compare registration recovers known part poses (known answers)."""

from __future__ import annotations

import numpy as np
import pytest

from partdrag4d.assets.kinematics import forward_kinematics, move_vertices, posed_mesh
from partdrag4d.assets.procedural import ProceduralConfig, write_procedural
from partdrag4d.assets.urdf import load_urdf
from partdrag4d.containers import RigFront
from partdrag4d.geometry.se3 import make_T, rotation_angle, so3_exp
from partdrag4d.reconstruct.render_compare import (
    RenderCompareConfig,
    register_frame,
    sqrt_information,
    track_parts,
)
from partdrag4d.render.rasterizer import Rasterizer
from partdrag4d.scene.cameras import RigConfig, orbit_rig


def _door_scene(tmp_path, textured: bool):
    """A one-door cabinet: rest mesh, part labels (0 body, 1 door), the door joint, a rig
    of three views around its front."""
    asset = load_urdf(write_procedural(ProceduralConfig("microwave", 2, textured), tmp_path))
    mesh, vertex_link = posed_mesh(asset)
    joint = asset.movable_joints[0]
    door = [lk.name for lk in asset.links].index(joint.child)
    vertex_part = (vertex_link == door).astype(np.int64)
    rig_cfg = RigConfig(num_views=3, width=128, height=128, azimuth_spread_deg=120.0)
    front = RigFront(-70.0, 30.0, "config", "test")
    return asset, mesh, vertex_part, joint, orbit_rig(rig_cfg, mesh.bounds(), "z", front)


def _door_motion(asset, joint, angle: float) -> np.ndarray:
    """World-from-rest motion of the door link at joint value ``angle``."""
    rest = forward_kinematics(asset)[joint.child]
    return forward_kinematics(asset, {joint.name: angle})[joint.child] @ np.linalg.inv(rest)


def _frames(mesh, vertex_part, rig, T_parts) -> np.ndarray:
    verts = move_vertices(mesh.vertices, vertex_part, T_parts)
    with Rasterizer(mesh, rig.width, rig.height) as rast:
        return np.stack(
            [rast.render(rig.K[v], rig.T_cam_world[v], verts, vertex_part).rgb for v in range(3)]
        )


def _rot_err_deg(A: np.ndarray, B: np.ndarray) -> float:
    return float(np.degrees(rotation_angle((A[:3, :3].T @ B[:3, :3])[None])[0]))


@pytest.mark.parametrize("textured", [True, False])
def test_recovers_a_100_degree_door_from_a_perturbed_start(tmp_path, textured):
    asset, mesh, vertex_part, joint, rig = _door_scene(tmp_path, textured)
    truth = _door_motion(asset, joint, np.radians(100.0))
    frames = _frames(mesh, vertex_part, rig, np.stack([np.eye(4), truth]))
    # 7 degrees about a tilted axis through the door and 1 cm off
    centre = (truth[:3, :3] @ mesh.vertices[vertex_part == 1].mean(0)) + truth[:3, 3]
    R = so3_exp(np.radians(7.0) * np.array([0.3, 0.2, 0.93]) / np.linalg.norm([0.3, 0.2, 0.93]))
    wrong = make_T(R, centre - R @ centre + np.array([0.01, -0.005, 0.0])) @ truth
    start = np.stack([np.eye(4), wrong])
    cfg = RenderCompareConfig(iterations=4)
    with Rasterizer(mesh, rig.width, rig.height) as rast:
        est = register_frame(rast, rig, mesh.vertices, vertex_part, frames, start, [1], cfg)
    assert _rot_err_deg(wrong, truth) > 6.5
    assert _rot_err_deg(est[1], truth) < 0.5
    assert np.linalg.norm(est[1][:3, 3] - truth[:3, 3]) < 0.004
    np.testing.assert_array_equal(est[0], np.eye(4))  # parts not asked for stay


def test_tracks_a_door_opening_to_100_degrees(tmp_path):
    asset, mesh, vertex_part, joint, rig = _door_scene(tmp_path, textured=True)
    angles = np.radians(np.linspace(0.0, 100.0, 7))
    truth = np.stack([np.stack([np.eye(4), _door_motion(asset, joint, a)]) for a in angles])
    frames = np.stack([_frames(mesh, vertex_part, rig, T) for T in truth], axis=1)
    est = track_parts(mesh, vertex_part, rig, frames, [1], RenderCompareConfig(iterations=2))
    errors = [_rot_err_deg(e[1], t[1]) for e, t in zip(est, truth, strict=True)]
    assert max(errors) < 1.0, errors


def test_sqrt_information_whitens_along_the_gradient_only():
    # an edge along y (gradient along x): x is informative, y only by the floor
    info = np.array([[[4.0, 0.0], [0.0, 0.0]], [[4.0, 0.0], [0.0, 0.0]]])
    S = sqrt_information(info, floor=1e-2)
    np.testing.assert_allclose(np.swapaxes(S, 1, 2) @ S, [[[2.01, 0], [0, 0.01]]] * 2, atol=1e-9)
