"""Fixtures: small random artefacts of every kind."""

from __future__ import annotations

import numpy as np
import pytest
from store_helpers import make_cameras, make_primitive

from partdrag4d.containers import (
    ArticulatedAsset,
    Articulation,
    DragSet,
    GroundTruth,
    Joint,
    JointSpec,
    JointType,
    Link,
    RenderGT,
    SceneInput,
    SceneMesh,
    Tracks,
    VideoSet,
)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def scene_input(rng):
    V, T, D = 2, 4, 2
    prims = (make_primitive(rng, 6, 4, True, "wood"), make_primitive(rng, 5, 3, False, "metal"))
    mesh = SceneMesh(prims)
    joints = (
        JointSpec(
            "hinge",
            JointType.REVOLUTE,
            "base",
            "door",
            np.eye(4),
            np.array([0.0, 0, 1]),
            (-1.5, 0.25),
        ),
        JointSpec("spin", JointType.REVOLUTE, "door", "knob", np.eye(4), np.ones(3) / 3**0.5, None),
        JointSpec("glue", JointType.FIXED, "door", "plate", np.eye(4), np.zeros(3), None),
    )
    links = (
        Link("base", (prims[0],)),
        Link("door", (prims[1],)),
        Link("knob", ()),
        Link("plate", ()),
    )
    gt = GroundTruth(
        asset=ArticulatedAsset("cabinet", links, joints),
        joint_names=("hinge", "spin"),
        joint_values=rng.normal(size=(T, 2)),
        vertex_link=rng.integers(0, 4, mesh.num_vertices),
    )
    drags = DragSet(
        points_3d=rng.normal(size=(T, D, 3)),
        points_2d=rng.normal(size=(V, T, D, 2)).astype(np.float32),
        visible=rng.uniform(size=(V, D)) > 0.5,
    )
    return SceneInput(
        name="cabinet",
        mesh=mesh,
        cameras=make_cameras(rng, V),
        drags=drags,
        num_frames=T,
        fps=7.5,
        gt=gt,
    )


@pytest.fixture
def video_set(rng):
    V, T, H, W, D = 2, 3, 9, 11, 2
    depth = rng.uniform(size=(V, T, H, W)).astype(np.float32)
    rest = rng.normal(size=(V, T, H, W, 3)).astype(np.float32)
    rest[:, :, 0, 0] = np.nan
    return VideoSet(
        frames=rng.integers(0, 256, (V, T, H, W, 3), dtype=np.uint8),
        fps=12.0,
        cameras=make_cameras(rng, V, W, H, shared_K=False),
        drags_2d=rng.normal(size=(V, T, D, 2)),
        drags_visible=np.array([[True, False], [True, True]]),
        alpha=rng.uniform(size=(V, T, H, W)).astype(np.float32),
        gt=RenderGT(depth=depth, part_id=rng.integers(-1, 3, (V, T, H, W)), rest_xyz=rest),
    )


@pytest.fixture
def tracks(rng):
    T, N = 4, 10
    pts = rng.normal(size=(T, N, 3))
    pts[2, 3] = np.nan
    point = rng.integers(0, 6, N)
    return Tracks(
        point=point,
        anchors_3d=rng.normal(size=(6, 3))[point],
        view=rng.integers(0, 3, N),
        uv=rng.normal(size=(T, N, 2)).astype(np.float32),
        visible=rng.uniform(size=(T, N)) > 0.3,
        confidence=rng.uniform(size=(T, N)),
        points_3d=pts,
    )


@pytest.fixture
def articulation(rng):
    T, P, N, F = 4, 3, 12, 8
    joints = tuple(
        Joint(
            name=f"joint_{i}",
            type=jt,
            parent="base",
            child=f"part_{i + 1}",
            axis=rng.normal(size=3),
            origin=rng.normal(size=3),
            values=rng.normal(size=T),
            limits=(float(-i), float(i) + 0.5),
        )
        for i, jt in enumerate((JointType.REVOLUTE, JointType.PRISMATIC))
    )
    return Articulation(
        part_names=("base", "part_1", "part_2"),
        vertex_part=rng.integers(0, P, N),
        face_part=rng.integers(0, P, F),
        T_world_part=np.tile(np.eye(4), (T, P, 1, 1)),
        joints=joints,
        fps=9.0,
        extras={"residual": 0.25, "iters": [3, 4], "nested": {"name": "x", "ok": True}},
    )
