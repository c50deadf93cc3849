"""Hand-built articulations for the export tests (the reconstruction is not used).

Cases: a box base with a revolute door, a prismatic drawer, and a two-level chain (a
flap hinged on the door). ``T_world_part`` is computed here independently of the
package (Rodrigues about the pivot, composed down the chain).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from partdrag4d.containers import (
    Articulation,
    CameraRig,
    Joint,
    JointType,
    Material,
    Primitive,
    SceneMesh,
    VideoSet,
)

NUM_FRAMES = 8
FPS = 10.0


@dataclass(frozen=True)
class JointDef:
    name: str
    type: JointType
    parent: str
    child: str
    axis: tuple[float, float, float]
    origin: tuple[float, float, float]
    values: np.ndarray


def box(lo, hi) -> tuple[np.ndarray, np.ndarray]:
    """Axis-aligned box: 8 vertices, 12 outward counter-clockwise triangles."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    corners = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], float)
    verts = lo + corners * (hi - lo)
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    faces = []
    for a, b, c, d in quads:
        faces += [(a, b, c), (a, c, d)]
    return verts, np.array(faces, dtype=np.int64)


def rigid(axis, angle, pivot, translation=(0.0, 0.0, 0.0)) -> np.ndarray:
    """Rotation by ``angle`` about ``axis`` through ``pivot``, then a translation (4x4)."""
    k = np.asarray(axis, float) / np.linalg.norm(axis)
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    rot = np.eye(3) + np.sin(angle) * kx + (1 - np.cos(angle)) * kx @ kx
    out = np.eye(4)
    out[:3, :3] = rot
    out[:3, 3] = np.asarray(pivot) - rot @ np.asarray(pivot) + np.asarray(translation)
    return out


def articulation_from_joints(
    part_names: tuple[str, ...], vertex_part: np.ndarray, mesh: SceneMesh, joints: list[JointDef]
) -> Articulation:
    """An Articulation whose motion follows the joints exactly (chains composed)."""
    faces = mesh.faces
    face_part = vertex_part[faces[:, 0]]
    T_world_part = np.tile(np.eye(4), (NUM_FRAMES, len(part_names), 1, 1))
    for i, jd in enumerate(joints):
        assert jd.child == part_names[i + 1]
        parent = part_names.index(jd.parent)
        for t in range(NUM_FRAMES):
            if jd.type is JointType.REVOLUTE:
                local = rigid(jd.axis, jd.values[t], jd.origin)
            else:
                local = rigid(jd.axis, 0.0, jd.origin, np.asarray(jd.axis) * jd.values[t])
            T_world_part[t, i + 1] = T_world_part[t, parent] @ local
    out_joints = tuple(
        Joint(
            name=jd.name,
            type=jd.type,
            parent=jd.parent,
            child=jd.child,
            axis=np.asarray(jd.axis, float),
            origin=np.asarray(jd.origin, float),
            values=np.asarray(jd.values, float),
            limits=(float(jd.values.min()), float(jd.values.max())),
        )
        for jd in joints
    )
    return Articulation(
        part_names=part_names,
        vertex_part=vertex_part.astype(np.int64),
        face_part=face_part.astype(np.int64),
        T_world_part=T_world_part,
        joints=out_joints,
        fps=FPS,
    )


def _checker() -> np.ndarray:
    tex = np.zeros((16, 16, 3), np.uint8)
    tex[(np.arange(16)[:, None] // 4 + np.arange(16)[None, :] // 4) % 2 == 0] = (200, 80, 40)
    return tex


def make_mesh(part_boxes: list[tuple]) -> tuple[SceneMesh, np.ndarray]:
    """Primitive 0: the first box, textured. Primitive 1: all the other boxes (one
    primitive holding several parts, to exercise the split)."""
    v0, f0 = box(*part_boxes[0])
    uv0 = np.stack([v0[:, 0], 1.0 - v0[:, 2]], 1)
    prims = [Primitive(v0, f0, Material("wood", np.array([1.0, 1.0, 1.0, 1.0]), _checker()), uv0)]
    labels = [np.zeros(len(v0), np.int64)]
    if len(part_boxes) > 1:
        vs, fs, offset = [], [], 0
        for p, b in enumerate(part_boxes[1:], start=1):
            v, f = box(*b)
            vs.append(v)
            fs.append(f + offset)
            labels.append(np.full(len(v), p, np.int64))
            offset += len(v)
        prims.append(
            Primitive(
                np.concatenate(vs),
                np.concatenate(fs),
                Material("paint", np.array([0.2, 0.4, 0.8, 1.0])),
            )
        )
    return SceneMesh(tuple(prims)), np.concatenate(labels)


BASE_BOX = ((0.0, 0.0, 0.0), (1.0, 0.5, 1.0))


def door_case():
    mesh, vp = make_mesh([BASE_BOX, ((0.0, -0.05, 0.05), (0.9, -0.01, 0.95))])
    joints = [
        JointDef(
            "door_hinge",
            JointType.REVOLUTE,
            "base",
            "door",
            (0, 0, -1),
            (0.0, -0.03, 0.5),
            np.linspace(0.0, 1.2, NUM_FRAMES),
        ),
    ]
    return mesh, articulation_from_joints(("base", "door"), vp, mesh, joints)


def drawer_case():
    mesh, vp = make_mesh([BASE_BOX, ((0.1, -0.02, 0.3), (0.9, 0.45, 0.7))])
    joints = [
        JointDef(
            "drawer_slide",
            JointType.PRISMATIC,
            "base",
            "drawer",
            (0, -1, 0),
            (0.5, 0.2, 0.5),
            np.linspace(0.0, 0.3, NUM_FRAMES),
        ),
    ]
    return mesh, articulation_from_joints(("base", "drawer"), vp, mesh, joints)


def chain_case():
    mesh, vp = make_mesh(
        [
            BASE_BOX,
            ((0.0, -0.05, 0.05), (0.9, -0.01, 0.6)),
            ((0.0, -0.05, 0.62), (0.9, -0.01, 0.95)),
        ]
    )
    joints = [
        JointDef(
            "door_hinge",
            JointType.REVOLUTE,
            "base",
            "door",
            (0, 0, -1),
            (0.0, -0.03, 0.5),
            np.linspace(0.0, 1.2, NUM_FRAMES),
        ),
        JointDef(
            "flap_hinge",
            JointType.REVOLUTE,
            "door",
            "flap",
            (1, 0, 0),
            (0.45, -0.03, 0.61),
            np.linspace(0.0, -0.8, NUM_FRAMES),
        ),
    ]
    return mesh, articulation_from_joints(("base", "door", "flap"), vp, mesh, joints)


def static_case():
    mesh, vp = make_mesh([BASE_BOX])
    return mesh, articulation_from_joints(("base",), vp, mesh, [])


CASES = {"door": door_case, "drawer": drawer_case, "chain": chain_case}


def look_at(eye, target) -> np.ndarray:
    """OpenCV ``T_cam_world`` of a camera at ``eye`` looking at ``target`` (+z world up)."""
    eye, target = np.asarray(eye, float), np.asarray(target, float)
    forward = (target - eye) / np.linalg.norm(target - eye)
    right = np.cross(forward, (0.0, 0.0, 1.0))
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    out = np.eye(4)
    out[:3, :3] = np.stack([right, down, forward])
    out[:3, 3] = -out[:3, :3] @ eye
    return out


def make_videos(mesh: SceneMesh, art: Articulation, size: int = 64) -> VideoSet:
    """Two views of the hand-built motion rendered with the project's rasteriser, with
    one drag per moving part (a vertex of the part followed through the frames)."""
    from partdrag4d.geometry.camera import project
    from partdrag4d.render.rasterizer import Rasterizer, render_video

    K = np.array([[size * 1.2, 0, size / 2], [0, size * 1.2, size / 2], [0, 0, 1.0]])
    Ts = np.stack(
        [look_at((0.5, -2.2, 1.4), (0.5, 0.2, 0.5)), look_at((2.0, -1.6, 1.2), (0.5, 0.2, 0.5))]
    )
    verts = mesh.vertices
    T = art.T_world_part[:, art.vertex_part]
    posed = np.einsum("tnij,nj->tni", T[..., :3, :3], verts) + T[..., :3, 3]
    drag_vertices = []
    for p in range(1, art.num_parts):  # the part's vertex farthest from its pivot
        ids = np.flatnonzero(art.vertex_part == p)
        dist = np.linalg.norm(verts[ids] - art.joints[p - 1].origin, axis=1)
        drag_vertices.append(int(ids[np.argmax(dist)]))
    if not drag_vertices:
        drag_vertices = [0]
    frames, drags = [], []
    with Rasterizer(mesh, size, size) as rasterizer:
        for v in range(2):
            frames.append(render_video(rasterizer, K, Ts[v], posed).rgb)
            uv = [project(K, Ts[v], posed[t, drag_vertices])[0] for t in range(len(posed))]
            drags.append(np.stack(uv))
    return VideoSet(
        frames=np.stack(frames),
        fps=art.fps,
        cameras=CameraRig(np.stack([K, K]), Ts, size, size),
        drags_2d=np.stack(drags),
        drags_visible=np.ones((2, len(drag_vertices)), bool),
    )
