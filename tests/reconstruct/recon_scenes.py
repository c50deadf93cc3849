"""Tiny textured articulated objects rendered into VideoSets for end-to-end tests.

Most are built here (not from partdrag4d.assets.procedural) so the reconstruction
tests only depend on the kinematics and the rasteriser; :func:`door_video` uses the
procedural microwave.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.ndimage import gaussian_filter

from partdrag4d.assets.kinematics import forward_kinematics, posed_mesh
from partdrag4d.assets.procedural import ProceduralConfig, write_procedural
from partdrag4d.assets.urdf import load_urdf
from partdrag4d.config import PipelineConfig, RuntimeConfig
from partdrag4d.containers import (
    ArticulatedAsset,
    CameraRig,
    DragSet,
    GroundTruth,
    JointSpec,
    JointType,
    Link,
    Material,
    Primitive,
    RenderGT,
    RigFront,
    SceneInput,
    VideoSet,
)
from partdrag4d.geometry.camera import project
from partdrag4d.reconstruct.articulate import ArticulateConfig
from partdrag4d.reconstruct.track import TrackConfig
from partdrag4d.render.rasterizer import Rasterizer, RasterizerConfig
from partdrag4d.runner import run_stages
from partdrag4d.scene.cameras import RigConfig, orbit_rig


def _texture(rng, n=64):
    img = gaussian_filter(rng.uniform(0, 1, (n, n, 3)), (1.5, 1.5, 0))
    img = (img - img.min()) / (img.max() - img.min())
    return (img * 230 + 10).astype(np.uint8)


def textured_box(lo, hi, rng, name, textured: bool = True) -> Primitive:
    """Axis-aligned box, 4 vertices per face so every face gets the whole texture (or,
    not ``textured``, one plain colour drawn from ``rng``)."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    corners = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], float)
    corners = lo + corners * (hi - lo)
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    verts, faces, uvs = [], [], []
    for q in quads:
        b = len(verts)
        verts += [corners[i] for i in q]
        uvs += [[0, 0], [1, 0], [1, 1], [0, 1]]
        faces += [[b, b + 1, b + 2], [b, b + 2, b + 3]]
    if not textured:
        colour = np.r_[rng.uniform(0.2, 0.9, 3), 1.0]
        return Primitive(np.array(verts), np.array(faces, np.int64), Material(name, colour, None))
    return Primitive(
        np.array(verts),
        np.array(faces, np.int64),
        Material(name, np.ones(4), _texture(rng)),
        np.array(uvs, float),
    )


def _T(t):
    T = np.eye(4)
    T[:3, 3] = t
    return T


def cabinet(
    kind: str, seed: int = 0, textured: bool = True, turn: np.ndarray | None = None
) -> ArticulatedAsset:
    """'door' (revolute, vertical hinge), 'drawer' (prismatic along -y), 'two' (both),
    or 'nested' (the door carries a panel sliding across it: a two-joint chain); plain
    colours unless ``textured``; the whole object turned by the rotation ``turn``."""
    rng = np.random.default_rng(seed)
    box = lambda lo, hi, name: textured_box(lo, hi, rng, name, textured)  # noqa: E731
    body = Link("body", (box([-0.3, -0.2, 0.0], [0.3, 0.2, 0.6], "body"),))
    links, joints = [body], []
    if kind in ("door", "two", "nested"):
        # Hinge at the front-left edge; door geometry in the joint frame.
        door = Link("door", (box([0.0, -0.03, 0.3], [0.45, 0.0, 0.6], "door"),))
        links.append(door)
        joints.append(
            JointSpec(
                "hinge",
                JointType.REVOLUTE,
                "body",
                "door",
                _T([-0.3, -0.22, 0.0]),
                np.array([0.0, 0.0, -1.0]),
                (0.0, 2.0),
            )
        )
    if kind == "nested":
        panel = Link("panel", (box([0.05, -0.06, 0.35], [0.25, -0.03, 0.55], "p"),))
        links.append(panel)
        joints.append(
            JointSpec(
                "panel",
                JointType.PRISMATIC,
                "door",
                "panel",
                np.eye(4),
                np.array([1.0, 0.0, 0.0]),
                (0.0, 0.2),
            )
        )
    if kind in ("drawer", "two"):
        drawer = Link("drawer", (box([-0.25, -0.05, 0.05], [0.25, 0.0, 0.25], "d"),))
        links.append(drawer)
        joints.append(
            JointSpec(
                "slide",
                JointType.PRISMATIC,
                "body",
                "drawer",
                _T([0.0, -0.2, 0.0]),
                np.array([0.0, -1.0, 0.0]),
                (0.0, 0.3),
            )
        )
    if turn is not None:
        M = np.eye(4)
        M[:3, :3] = turn
        centre = np.array([0.0, 0.0, 0.3])
        M[:3, 3] = centre - turn @ centre  # about the body's centre
        p = body.visuals[0]
        moved = Primitive((p.vertices @ M[:3, :3].T) + M[:3, 3], p.faces, p.material, p.uvs)
        links[0] = Link("body", (moved,))
        joints = [
            dataclasses.replace(j, T_parent_joint=M @ j.T_parent_joint) if j.parent == "body" else j
            for j in joints
        ]
    return ArticulatedAsset(kind, tuple(links), tuple(joints))


def _look_at(eye, target):
    z = np.asarray(target, float) - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = -R @ eye
    return T


def rig(num_views=3, size=128) -> CameraRig:
    """Cameras in front of the object (it faces -y), spread over 70 degrees, elevated."""
    K = np.array([[size * 1.1, 0, size / 2], [0, size * 1.1, size / 2], [0, 0, 1.0]])
    az = np.radians(np.linspace(-125, -55, num_views))
    eyes = [np.array([1.3 * np.cos(a), 1.3 * np.sin(a), 0.9]) for a in az]
    T = np.stack([_look_at(e, [0.0, -0.1, 0.3]) for e in eyes])
    return CameraRig(np.stack([K] * num_views), T, size, size)


def make_scene(
    kind: str,
    num_views=3,
    num_frames=8,
    size=128,
    with_gt=True,
    view_amplitude=None,
    textured=True,
    turn=None,
):
    """Render the GT animation: returns (SceneInput, VideoSet).

    ``view_amplitude`` (one factor per view) makes the views disagree on how far the
    parts moved, as generated videos do; the GT values are those of factor 1.
    """
    asset = cabinet(kind, textured=textured, turn=turn)
    cams = rig(num_views, size)
    amp = {"hinge": 0.9, "slide": 0.2, "panel": 0.15}
    names = tuple(j.name for j in asset.joints)
    values = np.stack([np.linspace(0, amp[n], num_frames) for n in names], 1)
    rest, vertex_link = posed_mesh(asset, {})

    def posed(vals):
        return np.stack(
            [posed_mesh(asset, dict(zip(names, row, strict=True)))[0].vertices for row in vals]
        )

    verts = posed(values)
    amps = np.ones(num_views) if view_amplitude is None else np.asarray(view_amplitude)
    frames, alpha, depth, label, rxyz = [], [], [], [], []
    with Rasterizer(rest, size, size, RasterizerConfig(samples=0)) as r:
        for v in range(num_views):
            vv = verts if amps[v] == 1 else posed(values * amps[v])
            outs = [r.render(cams.K[v], cams.T_cam_world[v], vt, vertex_link) for vt in vv]
            frames.append([o.rgb for o in outs])
            alpha.append([o.alpha for o in outs])
            depth.append([o.depth for o in outs])
            label.append([o.label for o in outs])
            rxyz.append([o.rest_xyz for o in outs])
    # One drag on the first moving link's far corner.
    moving = vertex_link == 1
    pick = np.nonzero(moving)[0][np.argmax(rest.vertices[moving, 0])]
    p3 = verts[:, pick][:, None]
    p2 = np.stack(
        [
            np.stack([project(cams.K[v], cams.T_cam_world[v], p3[t])[0] for t in range(num_frames)])
            for v in range(num_views)
        ]
    )
    drags = DragSet(p3, p2, np.ones((num_views, 1), bool))
    gt = GroundTruth(asset, names, values, vertex_link) if with_gt else None
    scene = SceneInput(kind, rest, cams, drags, num_frames, 10.0, gt)
    rgt = RenderGT(np.array(depth), np.array(label).astype(np.int64), np.array(rxyz, float))
    videos = VideoSet(
        np.array(frames), 10.0, cams, p2, drags.visible, None, rgt if with_gt else None
    )
    return scene, videos


def render_clips(mesh, vertex_part, rig: CameraRig, T_world_part) -> np.ndarray:
    """Frames (V, T, H, W, 3) of ``mesh`` with every part at its pose per frame
    (``T_world_part``: T, P, 4, 4), seen by every camera of ``rig``."""
    from partdrag4d.assets.kinematics import move_vertices

    with Rasterizer(mesh, rig.width, rig.height) as rast:
        clips = [
            [
                rast.render(
                    rig.K[v], rig.T_cam_world[v], move_vertices(mesh.vertices, vertex_part, Tp)
                ).rgb
                for Tp in T_world_part
            ]
            for v in range(rig.num_views)
        ]
    return np.array(clips)


def reconstruct(scene: SceneInput, videos: VideoSet, seed: int = 0):
    """``track`` then ``articulate`` on a hand-made scene and its videos, as a CLI run
    with ``runtime.seed=seed`` would (the runner's stage seeds); returns (tracks, art)."""
    cfg = PipelineConfig(
        track=TrackConfig(),
        articulate=ArticulateConfig(),
        runtime=RuntimeConfig(seed=seed, progress=False),
    )
    out = run_stages(cfg, ["track", "articulate"], {"prepare": scene, "generate": videos})
    return out["track"], out["articulate"]


def door_video(tmp_path, T: int, degrees: float):
    """A one-door cabinet (the procedural microwave) opening to ``degrees`` over ``T``
    frames, seen by three views: (mesh, vertex_part, rig, frames, hinge axis, the door's
    motion per frame)."""
    asset = load_urdf(write_procedural(ProceduralConfig("microwave", 2, True), tmp_path))
    mesh, vertex_link = posed_mesh(asset)
    joint = asset.movable_joints[0]
    door = [lk.name for lk in asset.links].index(joint.child)
    vertex_part = (vertex_link == door).astype(np.int64)
    rest_pose = forward_kinematics(asset)[joint.child]
    values = np.radians(np.linspace(0.0, degrees, T)) * np.sign(joint.limits[1])
    motion = np.stack(
        [
            forward_kinematics(asset, {joint.name: q})[joint.child] @ np.linalg.inv(rest_pose)
            for q in values
        ]
    )
    rig = orbit_rig(
        RigConfig(num_views=3, width=112, height=112, azimuth_spread_deg=120.0),
        mesh.bounds(),
        "z",
        RigFront(-70.0, 30.0, "config", "test"),
    )
    poses = np.stack([np.broadcast_to(np.eye(4), motion.shape), motion], axis=1)
    frames = render_clips(mesh, vertex_part, rig, poses)
    axis = forward_kinematics(asset)[joint.parent][:3, :3] @ joint.axis
    return mesh, vertex_part, rig, frames, axis, motion


def hinge_origin(motion: np.ndarray) -> np.ndarray:
    """A point on the true hinge line (from the last frame's rotation and translation)."""
    R, t = motion[-1, :3, :3], motion[-1, :3, 3]
    o, *_ = np.linalg.lstsq(np.eye(3) - R, t, rcond=1e-9)
    return o
