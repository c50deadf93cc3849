"""load_urdf: geometry, materials, frames, mesh formats, PartNet-Mobility layout, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image

from partdrag4d.assets.kinematics import forward_kinematics, posed_mesh
from partdrag4d.assets.urdf import load_urdf
from partdrag4d.containers import JointType
from partdrag4d.errors import InputError


def _box(path: Path, extents=(0.2, 0.2, 0.2)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    trimesh.creation.box(extents=extents).export(path)
    return path


def _urdf(tmp: Path, body: str, name: str = "model.urdf") -> Path:
    p = tmp / name
    p.write_text(f'<?xml version="1.0"?>\n<robot name="t">\n{body}\n</robot>\n')
    return p


LINKS = """
<link name="base"><visual><geometry><mesh filename="meshes/box.stl"/></geometry></visual></link>
<link name="door"><visual><geometry><mesh filename="meshes/box.stl"/></geometry></visual></link>
"""


def _joint(
    jtype="revolute", parent="base", child="door", axis="0 0 1", limit='lower="0" upper="1.5"'
):
    lim = f"<limit {limit} effort='1' velocity='1'/>" if limit else ""
    return f"""<joint name="hinge" type="{jtype}">
  <parent link="{parent}"/><child link="{child}"/>
  <origin xyz="1 0 0" rpy="0 0 0"/><axis xyz="{axis}"/>{lim}
</joint>"""


def test_basic_revolute_and_frames(tmp_path):
    _box(tmp_path / "meshes/box.stl")
    body = """
<material name="red"><color rgba="1 0 0 1"/></material>
<link name="base"><visual><geometry><mesh filename="meshes/box.stl"/></geometry>
  <material name="red"/></visual></link>
<link name="door"><visual>
  <origin xyz="0.5 0 0" rpy="0 0 1.5707963267948966"/>
  <geometry><mesh filename="meshes/box.stl" scale="2 1 1"/></geometry>
  <material name="inline"><color rgba="0 0 1 1"/></material></visual></link>
<joint name="hinge" type="revolute"><parent link="base"/><child link="door"/>
  <origin xyz="1 0 0"/><axis xyz="0 0 2"/><limit lower="0" upper="1.5"/></joint>
"""
    asset = load_urdf(_urdf(tmp_path, body))
    assert [link.name for link in asset.links] == ["base", "door"]
    j = asset.joints[0]
    assert j.type is JointType.REVOLUTE and j.limits == (0.0, 1.5)
    np.testing.assert_allclose(j.axis, [0, 0, 1])
    np.testing.assert_allclose(asset.links[0].visuals[0].material.base_color, [1, 0, 0, 1])
    np.testing.assert_allclose(asset.links[1].visuals[0].material.base_color, [0, 0, 1, 1])
    # door visual: box scaled to x-extent 0.4, then yawed 90 deg -> y-extent 0.4, centred at 0.5
    v = asset.links[1].visuals[0].vertices
    np.testing.assert_allclose(v.min(0), [0.4, -0.2, -0.1], atol=1e-9)
    np.testing.assert_allclose(v.max(0), [0.6, 0.2, 0.1], atol=1e-9)
    assert asset.links[1].visuals[0].uvs is None
    # posed: rotating 90 deg about z through (1,0,0) maps the visual centre (1.5,0,0) to (1,0.5,0)
    mesh, vl = posed_mesh(asset, {"hinge": np.pi / 2})
    centre = mesh.vertices[vl == 1].mean(0)
    np.testing.assert_allclose(centre, [1, 0.5, 0], atol=1e-9)


def test_continuous_prismatic_fixed_and_order(tmp_path):
    _box(tmp_path / "meshes/box.stl")
    body = """
<link name="c"><visual><geometry><box size="0.1 0.1 0.1"/></geometry></visual></link>
<link name="b"><visual><geometry><cylinder radius="0.1" length="0.2"/></geometry></visual></link>
<link name="a"><visual><geometry><sphere radius="0.1"/></geometry></visual></link>
<link name="root"/>
<joint name="jc" type="continuous"><parent link="b"/><child link="c"/></joint>
<joint name="jb" type="prismatic"><parent link="a"/><child link="b"/>
  <axis xyz="0 1 0"/><limit lower="-0.1" upper="0.3"/></joint>
<joint name="ja" type="fixed"><parent link="root"/><child link="a"/>
  <origin xyz="0 0 1" rpy="0.1 0.2 0.3"/></joint>
"""
    asset = load_urdf(_urdf(tmp_path, body))
    assert [link.name for link in asset.links] == ["root", "a", "b", "c"]
    assert [j.name for j in asset.joints] == ["ja", "jb", "jc"]
    types = {j.name: (j.type, j.limits) for j in asset.joints}
    assert types["jc"] == (JointType.REVOLUTE, None)
    assert types["jb"] == (JointType.PRISMATIC, (-0.1, 0.3))
    assert types["ja"] == (JointType.FIXED, None)
    np.testing.assert_allclose(asset.joints[2].axis, [1, 0, 0])  # default axis
    poses = forward_kinematics(asset, {"jb": 0.2})
    np.testing.assert_allclose(poses["b"][:3, 3], [0, 0, 1] + poses["a"][:3, :3] @ [0, 0.2, 0])


@pytest.mark.parametrize("ext", ["obj", "stl", "glb", "dae", "ply"])
def test_mesh_formats(tmp_path, ext):
    mesh = trimesh.creation.box(extents=(0.3, 0.2, 0.1))
    mesh.export(tmp_path / f"part.{ext}")
    body = f'<link name="base"><visual><geometry><mesh filename="part.{ext}"/></geometry>'
    body += "</visual></link>"
    asset = load_urdf(_urdf(tmp_path, body))
    v = np.concatenate([p.vertices for p in asset.links[0].visuals])
    np.testing.assert_allclose(v.max(0) - v.min(0), [0.3, 0.2, 0.1], atol=1e-6)
    assert sum(len(p.faces) for p in asset.links[0].visuals) == 12


def test_glb_with_node_transform(tmp_path):
    scene = trimesh.Scene()
    T = np.eye(4)
    T[:3, 3] = [1.0, 2.0, 3.0]
    scene.add_geometry(trimesh.creation.box(extents=(0.2, 0.2, 0.2)), transform=T)
    scene.export(tmp_path / "s.glb")
    body = '<link name="base"><visual><geometry><mesh filename="s.glb"/></geometry></visual></link>'
    v = load_urdf(_urdf(tmp_path, body)).links[0].visuals[0].vertices
    np.testing.assert_allclose(v.mean(0), [1, 2, 3], atol=1e-6)


def _textured_obj(folder: Path, name: str, mtl_body: str, obj_extra: str = "") -> None:
    """Unit quad (two triangles) with UVs; vt (0,0) is the bottom-left in OBJ convention."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.obj").write_text(
        f"mtllib {name}.mtl\nv 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\n"
        "vt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\nusemtl mat_a\nf 1/1 2/2 3/3\nf 1/1 3/3 4/4\n" + obj_extra
    )
    (folder / f"{name}.mtl").write_text(mtl_body)


def test_textured_obj_uv_convention_and_multi_material(tmp_path):
    img = np.zeros((4, 8, 3), np.uint8)
    img[0] = [255, 0, 0]  # top row red
    (tmp_path / "images").mkdir()
    Image.fromarray(img).save(tmp_path / "images/tex.png")
    mtl = "newmtl mat_a\nKd 1 1 1\nmap_Kd ../images/tex.png\n\nnewmtl mat_b\nKd 0 1 0\n"
    extra = "v 0 0 1\nv 1 0 1\nv 1 1 1\nusemtl mat_b\nf 5 6 7\n"
    _textured_obj(tmp_path / "objs", "m", mtl, extra)
    body = '<link name="base"><visual><geometry><mesh filename="objs/m.obj"/></geometry>'
    body += "</visual></link>"
    prims = load_urdf(_urdf(tmp_path, body)).links[0].visuals
    assert len(prims) == 2
    tex = next(p for p in prims if p.material.texture is not None)
    plain = next(p for p in prims if p.material.texture is None)
    assert tex.material.texture.shape == (4, 8, 3) and tex.material.texture.dtype == np.uint8
    np.testing.assert_array_equal(tex.material.texture[0, 0], [255, 0, 0])
    # glTF convention: vertex at OBJ vt v=1 (top of the image) has v=0
    for vert, uv in zip(tex.vertices, tex.uvs, strict=True):
        np.testing.assert_allclose(uv, [vert[0], 1.0 - vert[1]], atol=1e-6)
    assert plain.uvs is None
    np.testing.assert_allclose(plain.material.base_color[:3], [0, 1, 0], atol=1e-6)


def test_partnet_mobility_layout(tmp_path):
    """A hand-built PartNet-Mobility-style folder: textured_objs/, a link without visuals,
    several visuals per link, a continuous joint and relative paths without package://."""
    (tmp_path / "images").mkdir()
    Image.fromarray(np.full((8, 8, 3), 200, np.uint8)).save(tmp_path / "images/texture_0.png")
    mtl = "newmtl mat_a\nKd 1 1 1\nmap_Kd ../images/texture_0.png\n"
    for i in range(1, 4):
        _textured_obj(tmp_path / "textured_objs", f"original-{i}", mtl)
    (tmp_path / "mobility.urdf").write_text("""<?xml version="1.0" ?>
<robot name="partnet_test">
  <link name="base"/>
  <link name="link_0">
    <visual name="wheel-1"><origin xyz="0 0 0"/>
      <geometry><mesh filename="textured_objs/original-1.obj"/></geometry></visual>
    <visual name="wheel-2"><origin xyz="0 0 0"/>
      <geometry><mesh filename="textured_objs/original-2.obj"/></geometry></visual>
    <collision><geometry><mesh filename="textured_objs/missing-is-ignored.obj"/></geometry>
    </collision>
  </link>
  <link name="link_1">
    <visual name="body"><origin xyz="0 0 0"/>
      <geometry><mesh filename="textured_objs/original-3.obj"/></geometry></visual>
  </link>
  <joint name="joint_0" type="continuous">
    <origin xyz="0.5 0 0" rpy="0 0 0"/><axis xyz="0 -1 0"/>
    <child link="link_0"/><parent link="link_1"/>
  </joint>
  <joint name="joint_1" type="fixed">
    <origin rpy="1.570796326794897 0 -1.570796326794897" xyz="0 0 0"/>
    <child link="link_1"/><parent link="base"/>
  </joint>
</robot>
""")
    asset = load_urdf(tmp_path / "mobility.urdf")
    assert asset.name == "partnet_test"
    assert [link.name for link in asset.links] == ["base", "link_1", "link_0"]
    assert asset.links[0].visuals == ()
    assert len(asset.links[2].visuals) == 2
    assert all(p.material.texture is not None for p in asset.links[2].visuals)
    (j,) = asset.movable_joints
    assert j.name == "joint_0" and j.type is JointType.REVOLUTE and j.limits is None
    mesh, vl = posed_mesh(asset, {"joint_0": 1.0})
    assert np.isfinite(mesh.vertices).all() and set(vl.tolist()) == {1, 2}


def test_package_uri_resolves_inside_asset(tmp_path):
    _box(tmp_path / "meshes/box.stl")
    body = '<link name="base"><visual><geometry><mesh filename="package://whatever/meshes/'
    body += 'box.stl"/></geometry></visual></link>'
    assert len(load_urdf(_urdf(tmp_path, body)).links[0].visuals) == 1


# --------------------------------------------------------------------------- bad input


def _bad_cases(tmp: Path) -> dict[str, tuple[str, str]]:
    """name -> (urdf body, expected substring of the field)."""
    good_base = LINKS
    outside = tmp.parent / f"{tmp.name}_outside.stl"
    _box(outside)
    empty = tmp / "meshes/empty.obj"
    empty.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\n")
    nan = tmp / "meshes/nan.obj"
    nan.write_text("v 0 0 nan\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    mesh_link = '<link name="base"><visual><geometry><mesh filename="{}"/></geometry>'
    mesh_link += "</visual></link>"
    return {
        "unknown_type": (good_base + _joint(jtype="spherical"), "joint[hinge].type"),
        "floating": (good_base + _joint(jtype="floating"), "joint[hinge].type"),
        "missing_parent": (
            good_base + '<joint name="hinge" type="fixed"><child link="door"/></joint>',
            "joint[hinge].parent",
        ),
        "unknown_link": (good_base + _joint(child="nope"), "joint[hinge].child"),
        "cycle": (
            good_base
            + _joint()
            + '<joint name="back" type="fixed"><parent link="door"/><child link="base"/></joint>',
            "joint",
        ),
        "several_roots": (good_base, "link"),
        "leaves_folder": (mesh_link.format(f"../{outside.name}"), "filename"),
        "absolute_elsewhere": (mesh_link.format(str(outside)), "filename"),
        "package_escape": (mesh_link.format("package://p/../../x.stl"), "filename"),
        "missing_mesh": (mesh_link.format("meshes/nothere.obj"), "filename"),
        "nonfinite_origin": (
            good_base.replace("<visual>", '<visual><origin xyz="0 nan 0"/>', 1) + _joint(),
            "origin.xyz",
        ),
        "nonfinite_limit": (good_base + _joint(limit='lower="0" upper="inf"'), "limit.upper"),
        "empty_geometry": (mesh_link.format("meshes/empty.obj"), "filename"),
        "nan_vertices": (mesh_link.format("meshes/nan.obj"), "filename"),
        "lower_gt_upper": (good_base + _joint(limit='lower="1" upper="0"'), "joint[hinge].limit"),
        "zero_axis": (good_base + _joint(axis="0 0 0"), "joint[hinge].axis"),
        "bad_number": (good_base + _joint(axis="0 x 1"), "joint[hinge].axis"),
        "duplicate_link": (good_base + good_base, "link[base].name"),
    }


BAD_NAMES = [
    "unknown_type",
    "floating",
    "missing_parent",
    "unknown_link",
    "cycle",
    "several_roots",
    "leaves_folder",
    "absolute_elsewhere",
    "package_escape",
    "missing_mesh",
    "nonfinite_origin",
    "nonfinite_limit",
    "empty_geometry",
    "nan_vertices",
    "lower_gt_upper",
    "zero_axis",
    "bad_number",
    "duplicate_link",
]


@pytest.mark.parametrize("case", BAD_NAMES)
def test_bad_input_raises_input_error(tmp_path, case):
    _box(tmp_path / "meshes/box.stl")
    body, field = _bad_cases(tmp_path)[case]
    path = _urdf(tmp_path, body)
    with pytest.raises(InputError) as info:
        load_urdf(path)
    err = info.value
    assert err.source == str(path)
    assert field in err.field, (err.field, str(err))
    assert "\n" not in str(err)


def test_missing_file_and_malformed_xml(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_urdf(tmp_path / "nope.urdf")
    p = tmp_path / "bad.urdf"
    p.write_text("<robot><link name='a'></robot>")
    with pytest.raises(InputError) as info:
        load_urdf(p)
    assert info.value.field == "xml" and info.value.source == str(p)
