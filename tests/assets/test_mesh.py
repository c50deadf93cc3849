"""load_mesh on GLB / OBJ (+MTL texture) / PLY (vertex colours), and its bad input."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from PIL import Image

from partdrag4d.assets.mesh import load_mesh
from partdrag4d.errors import InputError


def test_glb_two_meshes_with_colors(tmp_path):
    a = trimesh.creation.box(extents=(1, 1, 1))
    a.visual.face_colors = [255, 0, 0, 255]
    b = trimesh.creation.icosphere(subdivisions=1, radius=0.5)
    b.apply_translation([3, 0, 0])
    scene = trimesh.Scene([a, b])
    scene.export(tmp_path / "s.glb")
    mesh = load_mesh(tmp_path / "s.glb")
    assert len(mesh.primitives) == 2
    assert mesh.num_vertices == len(mesh.vertices)
    assert mesh.faces.max() < mesh.num_vertices
    np.testing.assert_allclose(mesh.bounds(), [[-0.5, -0.5, -0.5], [3.5, 0.5, 0.5]], atol=1e-5)


def test_textured_obj(tmp_path):
    Image.fromarray(np.full((16, 16, 3), 99, np.uint8)).save(tmp_path / "t.png")
    (tmp_path / "m.mtl").write_text("newmtl a\nKd 1 1 1\nmap_Kd t.png\n")
    (tmp_path / "m.obj").write_text(
        "mtllib m.mtl\nv 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0 0\nvt 1 0\nvt 0 1\nusemtl a\nf 1/1 2/2 3/3\n"
    )
    (prim,) = load_mesh(tmp_path / "m.obj").primitives
    assert prim.material.texture.shape == (16, 16, 3)
    np.testing.assert_allclose(prim.uvs[:, 1], 1.0 - prim.vertices[:, 1], atol=1e-6)


def test_ply_vertex_colors(tmp_path):
    m = trimesh.creation.box(extents=(1, 2, 3))
    m.visual.vertex_colors = np.tile([0, 255, 0, 255], (len(m.vertices), 1)).astype(np.uint8)
    m.export(tmp_path / "m.ply")
    (prim,) = load_mesh(tmp_path / "m.ply").primitives
    assert prim.uvs is None and prim.material.texture is None
    np.testing.assert_allclose(prim.material.base_color, [0, 1, 0, 1], atol=1e-6)
    np.testing.assert_allclose(np.ptp(prim.vertices, axis=0), [1, 2, 3], atol=1e-6)


def test_bad_meshes(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_mesh(tmp_path / "none.glb")
    (tmp_path / "junk.glb").write_bytes(b"not a glb at all")
    with pytest.raises(InputError, match="junk.glb"):
        load_mesh(tmp_path / "junk.glb")
    (tmp_path / "pts.obj").write_text("v 0 0 0\nv 1 0 0\n")
    with pytest.raises(InputError, match="empty geometry"):
        load_mesh(tmp_path / "pts.obj")
    (tmp_path / "nan.obj").write_text("v 0 0 nan\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    with pytest.raises(InputError, match="non-finite"):
        load_mesh(tmp_path / "nan.obj")
    (tmp_path / "x.xyz").write_text("1 2 3\n")
    with pytest.raises(InputError, match="unsupported"):
        load_mesh(tmp_path / "x.xyz")
