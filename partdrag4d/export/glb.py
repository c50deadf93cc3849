"""Animated, articulated GLB export (and a small reader used to check it).

Layout of the written glTF scene::

    asset_root            rotation only: asset +Z-up world -> glTF +Y-up (R_x(-90 deg))
    └── <base part>       pivot at the world origin
        └── <child part>  one node per part, nested as the kinematic tree
            └── ...

- Below ``asset_root`` everything is in the asset's world frame (metres), so a viewer
  that ignores the root sees the input's coordinates.
- Each part node is its joint's *pivot node*: at rest its translation is the joint
  origin minus the parent's pivot and its rotation is the identity; joint motion is a
  pure rotation (revolute) or translation (prismatic) of this node. The part's faces
  (split per source primitive, so each keeps its material, texture and uvs) are stored
  in the pivot frame. See :mod:`partdrag4d.export.kinematics`.
- Animations: ``reconstructed`` replays ``T_world_part`` at ``art.fps`` (LINEAR; node
  TRS relative to the parent part at every frame, which handles chains); one
  ``sweep_<joint>`` per joint goes from ``limits[0]`` to ``limits[1]`` and back.
  An articulation without joints gets no animation (a static GLB).
- Node ``extras`` carry the part name/index and the joint (type, axis, origin, limits,
  values). Quaternions are xyzw inside glTF (the project's wxyz is converted here).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pygltflib as gl
from jaxtyping import Float
from PIL import Image
from scipy.spatial.transform import Rotation, Slerp

from partdrag4d.config_checks import Range
from partdrag4d.containers import Articulation, JointType, SceneMesh
from partdrag4d.export.kinematics import (
    joint_motion,
    local_pivot_transforms,
    matrix_to_trs,
    part_parents,
    part_pivots,
)
from partdrag4d.export.parts import split_by_part

ROOT_NODE_NAME = "asset_root"
RECONSTRUCTED_ANIMATION = "reconstructed"

# glTF world = R_x(-90 deg) @ asset world: asset +Z (up) -> glTF +Y, asset +Y -> glTF -Z.
T_GLTF_ASSET = np.array(
    [[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, -1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
)
_ROOT_ROTATION_XYZW = {"z": [-np.sqrt(0.5), 0.0, 0.0, np.sqrt(0.5)], "y": [0.0, 0.0, 0.0, 1.0]}
"""The root node's rotation from the input's frame (by its up axis) to glTF's +Y up."""


@dataclass
class GlbConfig:
    """Options of the GLB writer."""

    CHECKS: ClassVar[dict] = {
        "sweep_seconds": Range(0.0, 3600.0, lo_open=True),
        "sweep_max_step_rad": Range(0.01, 3.0),
    }

    sweep_seconds: float = 2.0
    """Duration of one direction (lower -> upper limit) of each ``sweep_<joint>`` animation."""
    sweep_max_step_rad: float = 0.5
    """Largest rotation between two sweep keyframes (keeps slerp on the intended arc)."""
    double_sided: bool = True
    """Mark materials double-sided (reconstructed meshes may have inconsistent winding)."""
    include_normals: bool = True
    """Write area-weighted vertex normals (viewers otherwise compute flat ones)."""


class _BinaryBuilder:
    """Accumulates the GLB binary chunk with 4-byte aligned buffer views and accessors."""

    def __init__(self, gltf: gl.GLTF2):
        self.gltf = gltf
        self.data = bytearray()

    def view(self, payload: bytes, target: int | None = None) -> int:
        self.data.extend(b"\0" * (-len(self.data) % 4))
        self.gltf.bufferViews.append(
            gl.BufferView(
                buffer=0, byteOffset=len(self.data), byteLength=len(payload), target=target
            )
        )
        self.data.extend(payload)
        return len(self.gltf.bufferViews) - 1

    def accessor(
        self, array: np.ndarray, kind: str, target: int | None = None, minmax=False
    ) -> int:
        if array.dtype.kind in "iu":
            array, component = np.ascontiguousarray(array, dtype=np.uint32), gl.UNSIGNED_INT
        else:
            array, component = np.ascontiguousarray(array, dtype=np.float32), gl.FLOAT
        flat = array.reshape(len(array), -1)
        acc = gl.Accessor(
            bufferView=self.view(array.tobytes(), target),
            componentType=component,
            count=len(array),
            type=kind,
        )
        if minmax:
            acc.min = [float(x) for x in flat.min(0)]
            acc.max = [float(x) for x in flat.max(0)]
            if component == gl.UNSIGNED_INT:
                acc.min, acc.max = [int(x) for x in acc.min], [int(x) for x in acc.max]
        self.gltf.accessors.append(acc)
        return len(self.gltf.accessors) - 1


def _xyzw(quat_wxyz: Float[np.ndarray, "T 4"]) -> Float[np.ndarray, "T 4"]:
    return np.concatenate([quat_wxyz[:, 1:], quat_wxyz[:, :1]], axis=1)


def _joint_extras(art: Articulation, p: int) -> dict:
    extras: dict = {"part": art.part_names[p], "part_index": p}
    if p > 0:
        extras["joint"] = art.joints[p - 1].to_dict()
    return extras


def _add_materials(gltf: gl.GLTF2, builder: _BinaryBuilder, mesh: SceneMesh, cfg: GlbConfig):
    """One glTF material per source primitive (textured only when it has uvs)."""
    texture_of_array: dict[int, int] = {}
    for prim in mesh.primitives:
        mat = prim.material
        pbr = gl.PbrMetallicRoughness(
            baseColorFactor=[float(x) for x in np.clip(mat.base_color, 0.0, 1.0)],
            metallicFactor=0.0,
            roughnessFactor=0.9,
        )
        if mat.texture is not None and prim.uvs is not None:
            key = id(mat.texture)  # share one image between primitives of one texture
            if key not in texture_of_array:
                png = io.BytesIO()
                Image.fromarray(np.ascontiguousarray(mat.texture)).save(png, format="PNG")
                gltf.images.append(
                    gl.Image(bufferView=builder.view(png.getvalue()), mimeType="image/png")
                )
                gltf.textures.append(gl.Texture(sampler=0, source=len(gltf.images) - 1))
                texture_of_array[key] = len(gltf.textures) - 1
            pbr.baseColorTexture = gl.TextureInfo(index=texture_of_array[key])
        alpha_mode = gl.BLEND if float(mat.base_color[3]) < 1.0 else gl.OPAQUE
        gltf.materials.append(
            gl.Material(
                name=mat.name,
                pbrMetallicRoughness=pbr,
                doubleSided=cfg.double_sided,
                alphaMode=alpha_mode,
            )
        )
    if gltf.textures:
        gltf.samplers.append(gl.Sampler(magFilter=gl.LINEAR, minFilter=gl.LINEAR_MIPMAP_LINEAR))


def _add_channels(
    builder: _BinaryBuilder,
    anim: gl.Animation,
    node: int,
    times: Float[np.ndarray, "K"],
    translation: Float[np.ndarray, "K 3"] | None,
    rotation_wxyz: Float[np.ndarray, "K 4"] | None,
):
    time_acc = builder.accessor(times, gl.SCALAR, minmax=True)
    for path, values, kind in (
        ("translation", translation, gl.VEC3),
        ("rotation", None if rotation_wxyz is None else _xyzw(rotation_wxyz), gl.VEC4),
    ):
        if values is None:
            continue
        anim.samplers.append(
            gl.AnimationSampler(
                input=time_acc, output=builder.accessor(values, kind), interpolation="LINEAR"
            )
        )
        anim.channels.append(
            gl.AnimationChannel(
                sampler=len(anim.samplers) - 1,
                target=gl.AnimationChannelTarget(node=node, path=path),
            )
        )


MAX_SWEEP_STEPS = 256
"""At most this many keyframes per sweep direction."""


def _sweep_values(
    joint_type: JointType, lo: float, hi: float, cfg: GlbConfig
) -> Float[np.ndarray, "K"]:
    """Joint values lo -> hi -> lo with rotation steps below ``cfg.sweep_max_step_rad``."""
    steps = 1
    if joint_type is JointType.REVOLUTE:  # bounded whatever the range (a few turns at most)
        steps = int(np.clip(np.ceil(abs(hi - lo) / cfg.sweep_max_step_rad), 1, MAX_SWEEP_STEPS))
    up = np.linspace(lo, hi, steps + 1)
    return np.concatenate([up, up[-2::-1]])


def write_glb(
    art: Articulation,
    mesh: SceneMesh,
    path: Path,
    cfg: GlbConfig = GlbConfig(),
    up_axis: str = "z",
) -> Path:
    """Write ``art`` on ``mesh`` as an animated, articulated binary glTF.

    Args:
        art: parts, joints and per-frame motion (world frame of the asset).
        mesh: the rest-state mesh the articulation labels (``art.face_part``).
        path: output ``.glb`` file (parent folders are created).
        cfg: writer options.
        up_axis: up axis of the asset's frame; the root node rotates it to glTF's +Y
            (identity for a +Y-up input).

    Returns:
        ``path``.
    """
    if up_axis not in _ROOT_ROTATION_XYZW:
        raise ValueError(f"up_axis must be one of {sorted(_ROOT_ROTATION_XYZW)}, got {up_axis!r}")
    path = Path(path)
    parents = part_parents(art)
    pivots = part_pivots(art)
    pieces = split_by_part(mesh, np.asarray(art.face_part), pivots)

    gltf = gl.GLTF2(asset=gl.Asset(version="2.0", generator="partdrag4d"))
    gltf.scene = 0
    builder = _BinaryBuilder(gltf)
    _add_materials(gltf, builder, mesh, cfg)

    root = gl.Node(name=ROOT_NODE_NAME, rotation=list(_ROOT_ROTATION_XYZW[up_axis]), children=[])
    root.extras = {"note": "rotation converts the asset's +Z-up world to glTF +Y-up"}
    gltf.nodes.append(root)
    node_of_part: dict[int, int] = {}
    for p in range(art.num_parts):
        parent_pivot = pivots[parents[p]] if parents[p] >= 0 else np.zeros(3)
        node = gl.Node(
            name=art.part_names[p], translation=[float(x) for x in pivots[p] - parent_pivot]
        )
        node.extras = _joint_extras(art, p)
        if pieces[p]:
            prims = []
            for piece in pieces[p]:
                attrs = gl.Attributes(
                    POSITION=builder.accessor(piece.vertices, gl.VEC3, gl.ARRAY_BUFFER, minmax=True)
                )
                if cfg.include_normals:
                    attrs.NORMAL = builder.accessor(piece.normals, gl.VEC3, gl.ARRAY_BUFFER)
                if piece.uvs is not None:
                    attrs.TEXCOORD_0 = builder.accessor(piece.uvs, gl.VEC2, gl.ARRAY_BUFFER)
                indices = builder.accessor(
                    piece.faces.reshape(-1), gl.SCALAR, gl.ELEMENT_ARRAY_BUFFER, minmax=True
                )
                prims.append(
                    gl.Primitive(attributes=attrs, indices=indices, material=piece.primitive_index)
                )
            gltf.meshes.append(gl.Mesh(name=art.part_names[p], primitives=prims))
            node.mesh = len(gltf.meshes) - 1
        gltf.nodes.append(node)
        node_of_part[p] = len(gltf.nodes) - 1
    for p in range(art.num_parts):
        parent_node = gltf.nodes[node_of_part[parents[p]]] if parents[p] >= 0 else root
        if parent_node.children is None:
            parent_node.children = []
        parent_node.children.append(node_of_part[p])
    gltf.scenes = [gl.Scene(name=art.part_names[0], nodes=[0])]

    if art.joints:
        # (1) the reconstructed motion, sampled per frame as node-local TRS.
        local = local_pivot_transforms(art)
        times = np.arange(local.shape[0], dtype=np.float64) / art.fps
        anim = gl.Animation(name=RECONSTRUCTED_ANIMATION, samplers=[], channels=[])
        for p in range(art.num_parts):
            translation, quat = matrix_to_trs(local[:, p])
            _add_channels(builder, anim, node_of_part[p], times, translation, quat)
        gltf.animations.append(anim)
        # (2) one sweep per joint over its observed range, everything else at rest.
        for i, joint in enumerate(art.joints):
            if joint.type is JointType.FIXED:
                continue
            p = i + 1
            values = _sweep_values(joint.type, float(joint.limits[0]), float(joint.limits[1]), cfg)
            half = (len(values) - 1) // 2
            times = np.concatenate(
                [
                    np.linspace(0.0, cfg.sweep_seconds, half + 1),
                    np.linspace(cfg.sweep_seconds, 2 * cfg.sweep_seconds, half + 1)[1:],
                ]
            )
            motions = np.stack([joint_motion(joint.type, joint.axis, float(v)) for v in values])
            translation, quat = matrix_to_trs(motions)
            anim = gl.Animation(name=f"sweep_{joint.name}", samplers=[], channels=[])
            if joint.type is JointType.REVOLUTE:
                _add_channels(builder, anim, node_of_part[p], times, None, quat)
            else:
                rest = pivots[p] - pivots[parents[p]]
                _add_channels(builder, anim, node_of_part[p], times, translation + rest, None)
            gltf.animations.append(anim)

    gltf.buffers = [gl.Buffer(byteLength=len(builder.data))]
    gltf.set_binary_blob(bytes(builder.data))
    path.parent.mkdir(parents=True, exist_ok=True)
    gltf.save_binary(str(path))
    return path


# --------------------------------------------------------------------------- reading back


def _read_accessor(gltf: gl.GLTF2, blob: bytes, index: int) -> np.ndarray:
    acc = gltf.accessors[index]
    if acc.bufferView is None:
        raise ValueError(f"accessor {index} has no buffer view (sparse accessors are not read)")
    view = gltf.bufferViews[acc.bufferView]
    dtype = {gl.FLOAT: np.float32, gl.UNSIGNED_INT: np.uint32, gl.UNSIGNED_SHORT: np.uint16}[
        acc.componentType
    ]
    width = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}[acc.type]
    itemsize = np.dtype(dtype).itemsize * width
    stride = view.byteStride or itemsize
    start = (view.byteOffset or 0) + (acc.byteOffset or 0)
    raw = np.frombuffer(
        blob, dtype=np.uint8, count=stride * (acc.count - 1) + itemsize, offset=start
    )
    rows = np.lib.stride_tricks.as_strided(raw, shape=(acc.count, itemsize), strides=(stride, 1))
    return np.ascontiguousarray(rows).view(dtype).reshape(acc.count, width).astype(np.float64)


def _sample(
    key_times: np.ndarray, values: np.ndarray, times: np.ndarray, rotation: bool
) -> np.ndarray:
    """LINEAR glTF sampling (slerp for rotations), clamped outside the keyframes."""
    key_times = key_times[:, 0]
    if len(key_times) == 1:
        return np.repeat(values, len(times), axis=0)
    t = np.clip(times, key_times[0], key_times[-1])
    if rotation:
        return Slerp(key_times, Rotation.from_quat(values)).__call__(t).as_quat()  # xyzw
    return np.stack([np.interp(t, key_times, values[:, k]) for k in range(values.shape[1])], 1)


def _trs_matrix(translation, rotation_xyzw, scale) -> np.ndarray:
    out = np.eye(4)
    out[:3, :3] = Rotation.from_quat(rotation_xyzw).as_matrix() * np.asarray(scale)[None, :]
    out[:3, 3] = translation
    return out


def read_glb_node_world(
    path: Path, animation_name: str | None, times: Float[np.ndarray, "K"]
) -> dict[str, Float[np.ndarray, "K 4 4"]]:
    """World pose of every named node in the asset's (+Z-up) frame at the given times.

    Args:
        path: a GLB file.
        animation_name: animation to evaluate, or None for the rest pose (node TRS only).
        times: seconds.

    Returns:
        ``{node name: T_asset_node[K, 4, 4]}`` (the root's glTF +Y-up rotation undone).

    Raises:
        KeyError: when the animation does not exist.
    """
    gltf = gl.GLTF2.load_binary(str(path))
    if gltf is None:
        raise ValueError(f"{path}: not a readable GLB")
    blob = gltf.binary_blob() or b""
    times = np.asarray(times, dtype=np.float64)
    num = len(times)
    trs = []
    for node in gltf.nodes:
        if node.matrix is not None and not np.allclose(node.matrix, np.eye(4).ravel()):
            raise ValueError(f"node {node.name}: matrix nodes are not supported by this reader")
        trs.append(
            {
                "translation": np.tile(node.translation or [0.0, 0.0, 0.0], (num, 1)),
                "rotation": np.tile(node.rotation or [0.0, 0.0, 0.0, 1.0], (num, 1)),
                "scale": np.tile(node.scale or [1.0, 1.0, 1.0], (num, 1)),
            }
        )
    if animation_name is not None:
        anims = {a.name: a for a in gltf.animations}
        if animation_name not in anims:
            known = sorted(str(name) for name in anims)
            raise KeyError(f"{path}: no animation {animation_name!r} (has {known})")
        anim = anims[animation_name]
        for channel in anim.channels:
            sampler = anim.samplers[channel.sampler]
            if sampler.interpolation != "LINEAR":
                raise ValueError(
                    f"only LINEAR interpolation is supported, got {sampler.interpolation}"
                )
            key_times = _read_accessor(gltf, blob, sampler.input)
            values = _read_accessor(gltf, blob, sampler.output)
            if channel.target.node is None:
                continue  # a channel that animates no node
            trs[channel.target.node][channel.target.path] = _sample(
                key_times, values, times, channel.target.path == "rotation"
            )
    root_node = next((n for n in gltf.nodes if n.name == ROOT_NODE_NAME), None)
    T_gltf_asset = (
        _trs_matrix([0.0, 0.0, 0.0], root_node.rotation or [0.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0])
        if root_node is not None
        else T_GLTF_ASSET
    )
    T_asset_gltf = np.linalg.inv(T_gltf_asset)
    out: dict[str, np.ndarray] = {}

    def visit(index: int, parent_world: np.ndarray):
        node = gltf.nodes[index]
        world = np.stack(
            [
                parent_world[k]
                @ _trs_matrix(
                    trs[index]["translation"][k], trs[index]["rotation"][k], trs[index]["scale"][k]
                )
                for k in range(num)
            ]
        )
        if node.name:
            out[node.name] = T_asset_gltf @ world
        for child in node.children or []:
            visit(child, world)

    for root in gltf.scenes[gltf.scene or 0].nodes or []:
        visit(root, np.tile(np.eye(4), (num, 1, 1)))
    return out


def read_glb_part_poses(
    path: Path, animation_name: str, times: Float[np.ndarray, "K"]
) -> dict[str, Float[np.ndarray, "K 4 4"]]:
    """Evaluate an animation of a GLB back into part motions, in the asset frame.

    Samples the channels (linear; slerp for rotations), composes the node transforms
    and undoes the root's +Y-up rotation. The result uses the convention of
    ``Articulation.T_world_part``: it maps a rest-state world point of the node's part to
    its world position at each time (``W_node(t) @ W_node(rest)^-1``).

    Args:
        path: a GLB written by :func:`write_glb` (or any TRS-only glTF).
        animation_name: e.g. ``"reconstructed"`` or ``"sweep_<joint>"``.
        times: seconds.

    Returns:
        ``{node name: T[K, 4, 4]}`` for every named node.
    """
    rest = read_glb_node_world(path, None, np.zeros(1))
    posed = read_glb_node_world(path, animation_name, times)
    return {name: posed[name] @ np.linalg.inv(rest[name][0]) for name in posed}
