"""On-disk format of a ``scene_input`` artefact and its parts: cameras, mesh
primitives, drags and ground truth (layouts: :mod:`partdrag4d.store.serialize`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
from jaxtyping import Float, Int

from partdrag4d.containers import (
    ArticulatedAsset,
    CameraRig,
    DragSet,
    GroundTruth,
    Joint,
    JointSpec,
    JointType,
    Link,
    Material,
    Primitive,
    RigFront,
    SceneInput,
    SceneMesh,
)
from partdrag4d.store.plain import (
    SerializeConfig,
    load_npz,
    read_json,
    save_npz,
    write_json,
)
from partdrag4d.store.video_io import read_png, write_png

CAMERA_CONVENTION = (
    "OpenCV pinhole: camera x right, y down, z forward; K in pixels; T_cam_world (4x4) maps "
    "world points (metres, the input asset's frame) to camera coordinates; pixel coordinates "
    "have the image corner at (0, 0): pixel (col c, row r) covers [c, c+1) x [r, r+1), its "
    "centre is (c + 0.5, r + 0.5)"
)


# --------------------------------------------------------------------------- cameras


def save_cameras(cameras: CameraRig, path: Path) -> None:
    """Write a rig as human-readable JSON (values exact: float64 repr + recorded dtype)."""
    doc = {
        "convention": CAMERA_CONVENTION,
        "width": int(cameras.width),
        "height": int(cameras.height),
        "K_dtype": str(cameras.K.dtype),
        "T_cam_world_dtype": str(cameras.T_cam_world.dtype),
        "views": [
            {"K": cameras.K[v].tolist(), "T_cam_world": cameras.T_cam_world[v].tolist()}
            for v in range(cameras.num_views)
        ],
    }
    if cameras.front is not None:
        doc["front"] = dataclasses.asdict(cameras.front)
    write_json(path, doc)


def load_cameras(path: Path) -> CameraRig:
    """Read a rig written by :func:`save_cameras`."""
    doc = read_json(path)
    K = np.array([v["K"] for v in doc["views"]], dtype=doc["K_dtype"]).reshape(-1, 3, 3)
    T = np.array([v["T_cam_world"] for v in doc["views"]], dtype=doc["T_cam_world_dtype"])
    front = RigFront(**doc["front"]) if isinstance(doc.get("front"), dict) else None
    return CameraRig(
        K=K, T_cam_world=T.reshape(-1, 4, 4), width=doc["width"], height=doc["height"], front=front
    )


# --------------------------------------------------------------------------- meshes


def save_primitives(primitives: tuple[Primitive, ...], directory: Path) -> None:
    """Write primitives (geometry, material, texture PNG) into ``directory`` (created)."""
    directory.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    meta = []
    for i, p in enumerate(primitives):
        arrays[f"p{i}_vertices"] = p.vertices
        arrays[f"p{i}_faces"] = p.faces
        arrays[f"p{i}_base_color"] = p.material.base_color
        if p.uvs is not None:
            arrays[f"p{i}_uvs"] = p.uvs
        texture = None
        if p.material.texture is not None:
            texture = f"texture_{i}.png"
            write_png(p.material.texture, directory / texture)
        meta.append({"material": p.material.name, "texture": texture, "has_uvs": p.uvs is not None})
    save_npz(directory / "primitives.npz", arrays)
    write_json(directory / "primitives.json", meta)


def load_primitives(directory: Path) -> tuple[Primitive, ...]:
    """Read primitives written by :func:`save_primitives`."""
    meta = read_json(directory / "primitives.json")
    arrays = load_npz(directory / "primitives.npz")
    prims = []
    for i, m in enumerate(meta):
        texture = None if m["texture"] is None else read_png(directory / m["texture"])
        material = Material(m["material"], arrays[f"p{i}_base_color"], texture)
        uvs = arrays[f"p{i}_uvs"] if m["has_uvs"] else None
        prims.append(Primitive(arrays[f"p{i}_vertices"], arrays[f"p{i}_faces"], material, uvs))
    return tuple(prims)


def write_ply(
    vertices: Float[np.ndarray, "N 3"], faces: Int[np.ndarray, "F 3"], path: Path
) -> None:
    """Write a binary little-endian PLY mesh (float32 x y z, uint8-counted int32 faces)."""
    header = (
        "ply\nformat binary_little_endian 1.0\ncomment partdrag4d rest mesh (world frame, m)\n"
        f"element vertex {len(vertices)}\nproperty float x\nproperty float y\nproperty float z\n"
        f"element face {len(faces)}\nproperty list uchar int vertex_indices\nend_header\n"
    )
    face_rec = np.zeros(len(faces), dtype=[("n", "u1"), ("idx", "<i4", (3,))])
    face_rec["n"] = 3
    face_rec["idx"] = faces
    with open(path, "wb") as f:
        f.write(header.encode("ascii"))
        f.write(np.asarray(vertices, dtype="<f4").tobytes())
        f.write(face_rec.tobytes())


# --------------------------------------------------------------------------- drags


def _save_drags(drags: DragSet, path: Path) -> None:
    save_npz(
        path, {"points_3d": drags.points_3d, "points_2d": drags.points_2d, "visible": drags.visible}
    )


def _load_drags(path: Path) -> DragSet:
    a = load_npz(path)
    return DragSet(points_3d=a["points_3d"], points_2d=a["points_2d"], visible=a["visible"])


# --------------------------------------------------------------------------- ground truth


def _limits_to_json(limits: tuple[float, float] | None) -> list[float] | None:
    return None if limits is None else [float(limits[0]), float(limits[1])]


def _limits_from_json(limits: list[float] | None) -> tuple[float, float] | None:
    return None if limits is None else (float(limits[0]), float(limits[1]))


def joint_doc(
    joint: Joint | JointSpec, i: int, fields: tuple[str, ...], arrays: dict[str, np.ndarray]
) -> dict[str, Any]:
    """A joint's names, type and limits as JSON; its array ``fields`` go into ``arrays``
    as ``joint<i>_<field>`` (exact in the ``.npz``)."""
    for name in fields:
        arrays[f"joint{i}_{name}"] = getattr(joint, name)
    return {
        "name": joint.name,
        "type": joint.type.value,
        "parent": joint.parent,
        "child": joint.child,
        "limits": _limits_to_json(joint.limits),
    }


def _save_gt(gt: GroundTruth, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {"joint_values": gt.joint_values, "vertex_link": gt.vertex_link}
    fields = ("T_parent_joint", "axis")
    joints = [joint_doc(j, i, fields, arrays) for i, j in enumerate(gt.asset.joints)]
    links = []
    for i, link in enumerate(gt.asset.links):
        sub = f"links/link_{i:03d}"
        save_primitives(link.visuals, directory / sub)
        links.append({"name": link.name, "visuals": sub})
    doc = {
        "note": "ground truth: read only by generate/render and evaluate (honesty rule)",
        "asset_name": gt.asset.name,
        "links": links,
        "joints": joints,
        "joint_names": list(gt.joint_names),
    }
    write_json(directory / "gt.json", doc)
    save_npz(directory / "gt.npz", arrays)


def _load_gt(directory: Path) -> GroundTruth:
    doc = read_json(directory / "gt.json")
    a = load_npz(directory / "gt.npz")
    links = tuple(
        Link(name=link["name"], visuals=load_primitives(directory / link["visuals"]))
        for link in doc["links"]
    )
    joints = tuple(
        JointSpec(
            name=j["name"],
            type=JointType(j["type"]),
            parent=j["parent"],
            child=j["child"],
            T_parent_joint=a[f"joint{i}_T_parent_joint"],
            axis=a[f"joint{i}_axis"],
            limits=_limits_from_json(j["limits"]),
        )
        for i, j in enumerate(doc["joints"])
    )
    return GroundTruth(
        asset=ArticulatedAsset(name=doc["asset_name"], links=links, joints=joints),
        joint_names=tuple(doc["joint_names"]),
        joint_values=a["joint_values"],
        vertex_link=a["vertex_link"],
    )


# --------------------------------------------------------------------------- kinds


def save_scene_input(obj: SceneInput, d: Path, cfg: SerializeConfig) -> None:
    write_json(
        d / "scene.json",
        {
            "name": obj.name,
            "num_frames": int(obj.num_frames),
            "fps": float(obj.fps),
            "has_gt": obj.gt is not None,
            "up_axis": obj.up_axis,
        },
    )
    save_cameras(obj.cameras, d / "cameras.json")
    _save_drags(obj.drags, d / "drags.npz")
    save_primitives(obj.mesh.primitives, d / "mesh")
    if cfg.write_ply:
        write_ply(obj.mesh.vertices, obj.mesh.faces, d / "mesh.ply")
    if obj.gt is not None:
        _save_gt(obj.gt, d / "gt")


def load_scene_input(d: Path) -> SceneInput:
    doc = read_json(d / "scene.json")
    return SceneInput(
        name=doc["name"],
        mesh=SceneMesh(load_primitives(d / "mesh")),
        cameras=load_cameras(d / "cameras.json"),
        drags=_load_drags(d / "drags.npz"),
        num_frames=doc["num_frames"],
        fps=doc["fps"],
        gt=_load_gt(d / "gt") if doc["has_gt"] else None,
        up_axis=doc.get("up_axis", "z"),
    )
