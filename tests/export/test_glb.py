"""GLB export: Khronos validator clean, and the animation reads back to T_world_part."""

from __future__ import annotations

import numpy as np
import pygltflib as gl
import pytest

from partdrag4d.export.glb import read_glb_node_world, read_glb_part_poses, write_glb
from partdrag4d.export.kinematics import joint_motion


def _issues(report: dict) -> list:
    return [m for m in report["issues"]["messages"] if m["severity"] <= 1]


def test_glb_validates_and_replays_reconstruction(articulated_case, tmp_path, validate_gltf):
    name, mesh, art = articulated_case
    path = write_glb(art, mesh, tmp_path / "model.glb")
    report = validate_gltf(path)
    assert report["issues"]["numErrors"] == 0, _issues(report)
    assert report["issues"]["numWarnings"] == 0, _issues(report)
    num_frames = art.T_world_part.shape[0]
    poses = read_glb_part_poses(path, "reconstructed", np.arange(num_frames) / art.fps)
    tol = 1e-4 * mesh.bbox_diagonal()
    for p, part in enumerate(art.part_names):
        # Compare as motions of the part's rest vertices (scale-aware, frame-free).
        verts = mesh.vertices[art.vertex_part == p]
        verts_h = np.concatenate([verts, np.ones((len(verts), 1))], 1)
        got = np.einsum("tij,nj->tni", poses[part], verts_h)[..., :3]
        want = np.einsum("tij,nj->tni", art.T_world_part[:, p], verts_h)[..., :3]
        assert np.abs(got - want).max() < tol, (name, part)


def test_glb_layout_and_sweeps(tmp_path):
    from export_cases import chain_case

    mesh, art = chain_case()
    path = write_glb(art, mesh, tmp_path / "m.glb")
    gltf = gl.GLTF2.load_binary(str(path))
    names = [n.name for n in gltf.nodes]
    root = gltf.nodes[gltf.scenes[0].nodes[0]]
    assert root.name == "asset_root" and root.translation is None
    door, flap = gltf.nodes[names.index("door")], gltf.nodes[names.index("flap")]
    assert names.index("flap") in door.children
    # Pivot node at the joint origin relative to the parent's pivot, at rest.
    np.testing.assert_allclose(
        flap.translation, art.joints[1].origin - art.joints[0].origin, atol=1e-6
    )
    assert door.extras["joint"]["type"] == "revolute"
    assert door.extras["joint"]["values"] == pytest.approx(list(art.joints[0].values))
    anims = {a.name for a in gltf.animations}
    assert anims == {"reconstructed", "sweep_door_hinge", "sweep_flap_hinge"}
    # Sweep: the door reaches its upper limit halfway and is back at the lower at the end.
    world = read_glb_node_world(path, "sweep_door_hinge", np.array([0.0, 2.0, 4.0]))
    rest = read_glb_node_world(path, None, np.zeros(1))
    joint = art.joints[0]
    for k, q in zip(range(3), (joint.limits[0], joint.limits[1], joint.limits[0]), strict=True):
        want = rest["door"][0] @ joint_motion(joint.type, joint.axis, q)
        np.testing.assert_allclose(world["door"][k], want, atol=1e-5)
    # The asset's +Z is glTF's +Y: undoing the root gives the rest pivot in asset coordinates.
    np.testing.assert_allclose(rest["door"][0][:3, 3], joint.origin, atol=1e-6)


def test_static_glb_has_no_animation(static, tmp_path, validate_gltf):
    mesh, art = static
    path = write_glb(art, mesh, tmp_path / "static.glb")
    report = validate_gltf(path)
    assert report["issues"]["numErrors"] == 0, _issues(report)
    gltf = gl.GLTF2.load_binary(str(path))
    assert not gltf.animations
    assert gltf.images and gltf.textures  # the textured primitive keeps its texture


def test_y_up_input_keeps_its_frame_in_the_glb(tmp_path, validate_gltf):
    """A +Y-up input needs no rotation into glTF's +Y up: the GLB holds it as it is, and
    a +Z-up input is rotated (its +Z becomes glTF +Y)."""
    import trimesh
    from export_cases import door_case

    mesh, art = door_case()
    lo, hi = mesh.bounds()
    for up, expected_up in (("y", 1), ("z", 2)):
        path = write_glb(art, mesh, tmp_path / f"{up}.glb", up_axis=up)
        assert validate_gltf(path)["issues"]["numErrors"] == 0
        scene = trimesh.load(path, force="scene")  # glTF's frame: +Y up
        gl_bounds = scene.bounds
        # the asset's up extent is glTF's Y extent
        np.testing.assert_allclose(
            gl_bounds[1, 1] - gl_bounds[0, 1], hi[expected_up] - lo[expected_up], atol=1e-6
        )
        poses = read_glb_part_poses(path, "reconstructed", np.arange(3) / art.fps)
        np.testing.assert_allclose(poses["door"], art.T_world_part[:3, 1], atol=1e-5)
