"""The bad-input corpus: small fixtures and the cases built from them.

Each case is ``(name, build)``: ``build(tmp_path, base)`` writes what the case needs
under ``tmp_path`` and returns ``(overrides, source, field)``: the command-line
overrides of the run, and what its one-line error must name (a substring of the source
and the exact field). ``base`` is a folder of valid videos (``generator=files``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

# --------------------------------------------------------------------------- fixtures


def urdf(root: Path, scale: str = "1 1 1", origin: str = "0 0.2 0.5", axis: str = "1 0 0") -> Path:
    """A two-link box with a lid on a revolute joint, written as a user would."""
    (root / "meshes").mkdir(parents=True, exist_ok=True)
    trimesh.creation.box(extents=(0.6, 0.4, 0.5)).apply_translation((0, 0, 0.25)).export(
        root / "meshes" / "body.obj"
    )
    lid = trimesh.creation.box(extents=(0.6, 0.4, 0.04)).apply_translation((0, -0.2, 0.02))
    lid.export(root / "meshes" / "lid.obj")
    path = root / "box.urdf"
    path.write_text(f"""<?xml version="1.0"?>
<robot name="box">
  <link name="body"><visual><geometry><mesh filename="meshes/body.obj" scale="{scale}"/>
    </geometry></visual></link>
  <link name="lid"><visual><geometry><mesh filename="meshes/lid.obj"/></geometry></visual>
  </link>
  <joint name="hinge" type="revolute"><origin xyz="{origin}"/><axis xyz="{axis}"/>
    <parent link="body"/><child link="lid"/><limit lower="0" upper="1.5"/></joint>
</robot>""")
    return path


def mesh(root: Path, vertices: np.ndarray | None = None) -> Path:
    """A static box mesh (OBJ), or one with the given vertex positions."""
    root.mkdir(parents=True, exist_ok=True)
    box = trimesh.creation.box(extents=(0.5, 0.4, 0.3))
    if vertices is not None:
        box = trimesh.Trimesh(vertices, box.faces, process=False)
    path = root / "box.obj"
    box.export(path)
    return path


GOOD_DRAG = {"start": [0.25, 0.0, 0.0], "end": [0.35, 0.0, 0.0]}


def drags(root: Path, content: object) -> Path:
    """A drag JSON file (``content`` as JSON, or a str written verbatim)."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / "drags.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def videos(root: Path, base: Path, edit=None) -> Path:
    """A copy of a valid ``generator=files`` folder, then ``edit(folder)``."""
    folder = root / "videos"
    shutil.copytree(base, folder)
    if edit is not None:
        edit(folder)
    return folder


def edit_cameras(change):
    def edit(folder: Path) -> None:
        doc = json.loads((folder / "cameras.json").read_text())
        change(doc)
        (folder / "cameras.json").write_text(json.dumps(doc))

    return edit


# --------------------------------------------------------------------------- cases

CONFIG_CASES = [  # (override, field): checked before anything runs
    ("rig.num_views=-1", "rig.num_views"),
    ("rig.num_views=0", "rig.num_views"),
    ("rig.num_views=1000", "rig.num_views"),
    ("rig.width=0", "rig.width"),
    ("rig.height=-5", "rig.height"),
    ("rig.width=100000", "rig.width"),
    ("rig.fov_deg=0", "rig.fov_deg"),
    ("rig.fov_deg=-30", "rig.fov_deg"),
    ("rig.fov_deg=180", "rig.fov_deg"),
    ("rig.fov_deg=nan", "rig.fov_deg"),
    ("rig.fov_deg=inf", "rig.fov_deg"),
    ("rig.radius=-1", "rig.radius"),
    ("rig.margin=0", "rig.margin"),
    ("rig.margin=0.5", "rig.margin"),
    ("rig.elevation_deg=95", "rig.elevation_deg"),
    ("rig.front=sideways", "rig.front"),
    ("rig.azimuth_spread_deg=0", "rig.azimuth_spread_deg"),
    ("rig.azimuth_spread_deg=720", "rig.azimuth_spread_deg"),
    ("rig.front_probe_size=0", "rig.front_probe_size"),
    ("rig.front_search_step_deg=0", "rig.front_search_step_deg"),
    ("drags.num_frames=0", "drags.num_frames"),
    ("drags.num_frames=1", "drags.num_frames"),
    ("drags.num_frames=-4", "drags.num_frames"),
    ("drags.fps=0", "drags.fps"),
    ("drags.fps=-7", "drags.fps"),
    ("drags.fps=inf", "drags.fps"),
    ("drags.max_drags=0", "drags.max_drags"),
    ("drags.target_fraction_min=2", "drags.target_fraction_min"),
    ("drags.target_fraction_max=-1", "drags.target_fraction_max"),
    ("drags.target_fraction_min=0.95", "drags.target_fraction_min"),
    ("drags.max_moving_joints=0", "drags.max_moving_joints"),
    ("asset.up_axis=x", "asset.up_axis"),
    ("asset.category=spaceship", "asset.category"),
    ("asset.seed=-1", "asset.seed"),
    ("generator.samples=-1", "generator.samples"),
    ("generator.samples=64", "generator.samples"),
    ("generator.background=[2,0,0]", "generator.background[0]"),
    ("generator.degrade.noise_std=-0.1", "generator.degrade.noise_std"),
    ("generator.degrade.jitter=1e9", "generator.degrade.jitter"),
    ("generator.degrade.amplitude_error=3", "generator.degrade.amplitude_error"),
    ("runtime.cache=bogus", "runtime.cache"),
    ("runtime.seed=-3", "runtime.seed"),
    ("runtime.num_threads=-1", "runtime.num_threads"),
    ("track.anchors_per_view=0", "track.anchors_per_view"),
    ("track.min_silhouette_iou=1.5", "track.min_silhouette_iou"),
    ("track.flow_preset=ultra", "track.flow_preset"),
    ("track.fb_threshold_px=-1", "track.fb_threshold_px"),
    ("articulate.proposals.ransac_iterations=0", "articulate.proposals.ransac_iterations"),
    ("articulate.proposals.max_parts=0", "articulate.proposals.max_parts"),
    ("articulate.model_fit.score.frame_step=0", "articulate.model_fit.score.frame_step"),
    ("articulate.model_fit.track.iterations=0", "articulate.model_fit.track.iterations"),
    ("articulate.model_fit.pieces.targets=0", "articulate.model_fit.pieces.targets"),
    ("articulate.joint.noise_floor=-1", "articulate.joint.noise_floor"),
    ("export.glb.sweep_max_step_rad=0", "export.glb.sweep_max_step_rad"),
    ("export.glb.sweep_seconds=0", "export.glb.sweep_seconds"),
    ("export.report.overlay_opacity=2", "export.report.overlay_opacity"),
    ("export.urdf.effort=-5", "export.urdf.effort"),
]

PUPPET_MASTER_CASES = [
    ("generator.num_inference_steps=0", "generator.num_inference_steps"),
    ("generator.height=100", "generator.height"),
    ("generator.width=32", "generator.width"),
    ("generator.dtype=float8", "generator.dtype"),
    ("generator.min_guidance_scale=5", "generator.min_guidance_scale"),
    ("generator.noise_aug_strength=2", "generator.noise_aug_strength"),
]


def _urdf_case(field: str = "geometry", **kwargs):
    def build(tmp: Path, base: Path):
        path = urdf(tmp / "asset", **kwargs)
        return ["asset=urdf", f"asset.path={path}"], "box.urdf", field

    return build


def _mesh_case(vertices):
    def build(tmp: Path, base: Path):
        path = mesh(tmp / "asset", vertices(trimesh.creation.box(extents=(0.5, 0.4, 0.3))))
        d = drags(tmp / "d", {"drags": [GOOD_DRAG]})
        return (
            ["asset=mesh", f"asset.path={path}", "drags=file", f"drags.path={d}"],
            "box.obj",
            "geometry",
        )

    return build


def _drag_case(content, field: str):
    def build(tmp: Path, base: Path):
        path = mesh(tmp / "asset")
        d = drags(tmp / "d", content)
        return (
            ["asset=mesh", f"asset.path={path}", "drags=file", f"drags.path={d}"],
            "drags.json",
            field,
        )

    return build


def _files_case(edit, source: str, field: str):
    def build(tmp: Path, base: Path):
        folder = videos(tmp, base, edit)
        return ["generator=files", f"generator.path={folder}"], source, field

    return build


def _write(name: str, data: bytes):
    def edit(folder: Path) -> None:
        (folder / name).write_bytes(data)

    return edit


def _remove_frames_of_view_0(folder: Path) -> None:
    (folder / "view_00.mp4").unlink(missing_ok=True)
    for f in (folder / "view_00").glob("*.png"):
        f.unlink()


def _png_view_0(change):
    def edit(folder: Path) -> None:
        (folder / "view_00.mp4").unlink(missing_ok=True)
        change(sorted((folder / "view_00").glob("*.png")))

    return edit


def _corrupt(paths):
    paths[3].write_bytes(b"\x89PNG\r\n\x1a\n not really")


def _mixed_sizes(paths):
    Image.new("RGB", (64, 64)).save(paths[2])


def _extra_view(folder: Path) -> None:
    shutil.copytree(folder / "view_00", folder / f"view_{_num_views(folder):02d}")


def _num_views(folder: Path) -> int:
    return len(json.loads((folder / "cameras.json").read_text())["views"])


def _set_view(key, value):
    def change(doc):
        doc["views"][0][key] = value

    return change


ZERO_K = [[0, 0, 0], [0, 0, 0], [0, 0, 0]]
SHEAR_T = [[1, 0.5, 0, 0], [0, 1, 0, 0], [0, 0, 1, 2], [0, 0, 0, 1]]
FILE_CASES = {
    "urdf_scale_1e308": _urdf_case(scale="1e308 1e308 1e308"),
    "urdf_origin_1e308": _urdf_case(origin="0 1e308 0"),
    "urdf_zero_scale": _urdf_case("link[body].visual[0].geometry.mesh.scale", scale="0 0 0"),
    "mesh_zero_size": _mesh_case(lambda box: np.zeros_like(box.vertices)),
    "mesh_coordinates_1e200": _mesh_case(lambda box: box.vertices * 1e200),
    "mesh_far_from_origin": _mesh_case(lambda box: box.vertices + 1e7),
    "drag_start_strings": _drag_case(
        {"drags": [{"start": ["a", "b", "c"], "end": [0, 0, 0]}]}, "drags[0].start"
    ),
    "drag_start_ragged": _drag_case(
        {"drags": [{"start": [0.25, [0.0], 0.0], "end": [0, 0, 0]}]}, "drags[0].start"
    ),
    "drag_start_two_numbers": _drag_case(
        {"drags": [{"start": [0.25, 0.0], "end": [0, 0, 0]}]}, "drags[0].start"
    ),
    "drag_start_booleans": _drag_case(
        {"drags": [{"start": [True, 0.0, 0.0], "end": [0, 0, 0]}]}, "drags[0].start"
    ),
    "drag_end_1e300": _drag_case(
        {"drags": [{"start": [0.25, 0.0, 0.0], "end": [1e300, 0, 0]}]}, "drags"
    ),
    "drag_end_far": _drag_case(
        {"drags": [{"start": [0.25, 0.0, 0.0], "end": [40, 0, 0]}]}, "drags"
    ),
    "drag_end_null": _drag_case(
        {"drags": [{"start": [0.25, 0.0, 0.0], "end": None}]}, "drags[0].end"
    ),
    "drag_no_start": _drag_case({"drags": [{"end": [0, 0, 0]}]}, "drags[0]"),
    "drag_no_end": _drag_case({"drags": [{"start": [0.25, 0.0, 0.0]}]}, "drags[0]"),
    "drag_empty_list": _drag_case({"drags": []}, "drags"),
    "drag_not_a_list": _drag_case({"drags": {"start": [0, 0, 0]}}, "drags"),
    "drag_top_level_list": _drag_case([GOOD_DRAG], "drags"),
    "drag_not_json": _drag_case("{drags: nope", "json"),
    "drag_trajectory_short": _drag_case(
        {"drags": [{"start": [0.25, 0.0, 0.0], "trajectory": [[0.25, 0, 0]]}]},
        "drags[0].trajectory",
    ),
    "drag_off_surface": _drag_case(
        {"drags": [{"start": [2.0, 2.0, 2.0], "end": [2.1, 2.0, 2.0]}]}, "drags[0].start"
    ),
    "drag_too_many": _drag_case({"drags": [GOOD_DRAG] * 9}, "drags"),
    "files_garbage_mp4": _files_case(_write("view_00.mp4", b"not a video"), "view_00", "video"),
    "files_empty_mp4": _files_case(_write("view_00.mp4", b""), "view_00", "video"),
    "files_empty_view_folder": _files_case(_remove_frames_of_view_0, "view_00", "video"),
    "files_corrupt_png": _files_case(_png_view_0(_corrupt), "view_00", "video"),
    "files_mixed_sizes": _files_case(_png_view_0(_mixed_sizes), "view_00", "frames"),
    "files_no_views": _files_case(
        edit_cameras(lambda d: d.update(views=[])), "cameras.json", "views"
    ),
    "files_width_string": _files_case(
        edit_cameras(lambda d: d.update(width="128")), "cameras.json", "width"
    ),
    "files_height_zero": _files_case(
        edit_cameras(lambda d: d.update(height=0)), "cameras.json", "height"
    ),
    "files_zero_K": _files_case(edit_cameras(_set_view("K", ZERO_K)), "cameras.json", "views[0].K"),
    "files_K_strings": _files_case(
        edit_cameras(_set_view("K", [["a"] * 3] * 3)), "cameras.json", "views[0].K"
    ),
    "files_K_2x2": _files_case(
        edit_cameras(_set_view("K", [[1, 0], [0, 1]])), "cameras.json", "views[0].K"
    ),
    "files_T_sheared": _files_case(
        edit_cameras(_set_view("T_cam_world", SHEAR_T)), "cameras.json", "views[0].T_cam_world"
    ),
    "files_T_missing": _files_case(
        edit_cameras(lambda d: d["views"][0].pop("T_cam_world")),
        "cameras.json",
        "views[0].T_cam_world",
    ),
    "files_view_not_object": _files_case(
        edit_cameras(lambda d: d["views"].__setitem__(0, 5)), "cameras.json", "views[0]"
    ),
    "files_cameras_not_json": _files_case(_write("cameras.json", b"{oops"), "cameras.json", "json"),
    "files_cameras_list": _files_case(_write("cameras.json", b"[]"), "cameras.json", "json"),
    "files_extra_video": _files_case(_extra_view, "cameras.json", "views"),
    "files_no_cameras": _files_case(
        lambda f: (f / "cameras.json").unlink(), "cameras.json", "generator.path"
    ),
}
