"""Splitting a part whose pieces move differently: kept only when the score drops."""

from __future__ import annotations

import numpy as np
from recon_scenes import render_clips

from partdrag4d.assets.kinematics import forward_kinematics, posed_mesh
from partdrag4d.assets.procedural import ProceduralConfig, write_procedural
from partdrag4d.assets.urdf import load_urdf
from partdrag4d.containers import Articulation, Joint, RigFront
from partdrag4d.geometry.lines import axis_angle_deg
from partdrag4d.geometry.se3 import make_T, so3_exp
from partdrag4d.reconstruct.discover import DiscoverConfig
from partdrag4d.reconstruct.joints import JointSelectConfig
from partdrag4d.reconstruct.model import joints_from_poses
from partdrag4d.reconstruct.model_fit import ModelFitConfig, fit_model
from partdrag4d.reconstruct.split import PointTracks
from partdrag4d.scene.cameras import RigConfig, orbit_rig

T = 6
JCFG = JointSelectConfig()


def _scene(tmp_path, category: str, seed: int, degrees: tuple[float, ...]):
    """The category's first joints opening to ``degrees`` over T frames, three views;
    returns the mesh, true labels, rig, frames, true axes and per-part poses."""
    asset = load_urdf(write_procedural(ProceduralConfig(category, seed, True), tmp_path))
    mesh, vertex_link = posed_mesh(asset)
    names = [lk.name for lk in asset.links]
    rest = forward_kinematics(asset)
    vertex_part = np.zeros(len(vertex_link), np.int64)
    motions, axes = [], []
    for k, (joint, deg) in enumerate(zip(asset.movable_joints, degrees, strict=False)):
        vertex_part[vertex_link == names.index(joint.child)] = k + 1
        assert joint.limits is not None  # a drawer or a door has limits
        values = np.radians(np.linspace(0.0, deg, T)) * np.sign(joint.limits[1])
        motions.append(
            np.stack(
                [
                    forward_kinematics(asset, {joint.name: q})[joint.child]
                    @ np.linalg.inv(rest[joint.child])
                    for q in values
                ]
            )
        )
        axes.append(rest[joint.parent][:3, :3] @ joint.axis)
    poses = np.stack([np.broadcast_to(np.eye(4), motions[0].shape), *motions], axis=1)
    rig = orbit_rig(
        RigConfig(num_views=3, width=112, height=112, azimuth_spread_deg=120.0),
        mesh.bounds(),
        "z",
        RigFront(-90.0, 30.0, "config", "test"),
    )
    return mesh, vertex_part, rig, render_clips(mesh, vertex_part, rig, poses), axes, poses


def _perfect_tracks(mesh, vertex_part, poses) -> PointTracks:
    """Every vertex tracked without error: a group moves as the part most of it is on."""

    def group_poses(groups: np.ndarray, T_init: np.ndarray) -> np.ndarray:
        return poses[:, np.bincount(vertex_part[groups]).argmax()]

    return PointTracks(mesh.vertices.copy(), group_poses)


def _tracks_off_by(mesh, vertex_part, poses, degrees: float, shift: float) -> PointTracks:
    """Point tracks of a plain surface: each group's poses are the true ones of the part
    most of it is on, turned by up to ``degrees`` about a tilted axis through the
    group's centre and shifted by up to ``shift`` (a fraction of the bbox diagonal),
    growing over the frames."""
    diag = mesh.bbox_diagonal()

    def group_poses(groups: np.ndarray, T_init: np.ndarray) -> np.ndarray:
        true = poses[:, np.bincount(vertex_part[groups]).argmax()]
        centre = mesh.vertices[groups].mean(0)
        out = []
        for t, s in enumerate(np.linspace(0.0, 1.0, len(true))):
            R = so3_exp(np.array([1.0, 1.0, 0.0]) / np.sqrt(2) * np.radians(degrees) * s)
            off = make_T(R, centre - R @ centre + np.array([0.0, 0.0, shift * diag * s]))
            out.append(true[t] @ off)
        return np.stack(out)

    return PointTracks(mesh.vertices.copy(), group_poses)


def _proposal(mesh, labels, poses) -> Articulation:
    """The articulation of ``labels`` with joints fitted to ``poses`` (T, P, 4, 4)."""
    diag = mesh.bbox_diagonal()
    parents, fits, T_model = joints_from_poses(
        poses, labels, mesh.vertices, diag, "tracks", 2000, JCFG
    )
    P = len(parents)
    names = ("base",) + tuple(f"part_{i}" for i in range(1, P))
    joints = tuple(
        Joint(
            f"joint_{i}", f.type, names[parents[i]], names[i], f.axis, f.origin, f.values,
            (float(f.values.min()), float(f.values.max())),
        )
        for i, f in enumerate(fits) if f is not None
    )  # fmt: skip
    return Articulation(names, labels, labels[mesh.faces[:, 0]], T_model, joints, 10.0)


def test_two_doors_proposed_as_one_part_are_split(tmp_path):
    mesh, vertex_part, rig, frames, axes, poses = _scene(tmp_path, "cabinet", 0, (60.0, 25.0))
    assert vertex_part.max() == 2  # this cabinet has two doors
    merged = np.minimum(vertex_part, 1)  # both doors one part, moving as the left one
    art = _proposal(mesh, merged, poses[:, :2])
    points = _perfect_tracks(mesh, vertex_part, poses)
    out = fit_model(art, mesh, rig, frames, ModelFitConfig(), JCFG, points)
    assert len(out.joints) == 2
    errors = sorted(min(axis_angle_deg(j.axis, a) for j in out.joints) for a in axes)
    assert errors[-1] < 1.0, errors
    door = [np.bincount(out.vertex_part[vertex_part == k]).argmax() for k in (1, 2)]
    assert door[0] != door[1] and 0 not in door
    assert any(s["model"] == "split part_1" for s in out.extras["model_scores"])


def test_a_split_is_found_when_the_point_tracks_are_far_off(tmp_path):
    # the tracks only group the pieces; each side is tracked by render-and-compare (with
    # the poses of those tracks, the split scores worse than the merged part); discovery
    # is off so that the split alone has to find the second door
    mesh, vertex_part, rig, frames, axes, poses = _scene(tmp_path, "cabinet", 0, (60.0, 25.0))
    merged = np.minimum(vertex_part, 1)
    art = _proposal(mesh, merged, poses[:, :2])
    points = _tracks_off_by(mesh, vertex_part, poses, 40.0, 0.15)
    cfg = ModelFitConfig(discover=DiscoverConfig(enabled=False))
    out = fit_model(art, mesh, rig, frames, cfg, JCFG, points)
    assert len(out.joints) == 2
    errors = sorted(min(axis_angle_deg(j.axis, a) for j in out.joints) for a in axes)
    assert errors[-1] < 1.0, errors


def test_a_door_and_its_handle_moving_together_stay_one_part(tmp_path):
    mesh, vertex_part, rig, frames, axes, poses = _scene(tmp_path, "microwave", 2, (40.0,))
    art = _proposal(mesh, vertex_part, poses)
    points = _perfect_tracks(mesh, vertex_part, poses)
    out = fit_model(art, mesh, rig, frames, ModelFitConfig(), JCFG, points)
    assert len(out.joints) == 1
    assert axis_angle_deg(out.joints[0].axis, axes[0]) < 0.5
    tried = [s["model"] for s in out.extras["model_scores"]]
    assert "split part_1" in tried  # the door's pieces were compared, and kept together
