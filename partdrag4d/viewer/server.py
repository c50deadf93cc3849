"""The built-in viewer: one run folder in the browser, on a standalone viser server.

Scene (world frame of the input asset, +Z up, metres):

- ``/parts/<part>``: one frame per part, posed by forward kinematics from the joint
  values of ``articulation.json``; under it the textured meshes (``textured_<k>``), the
  same faces in the part's colour (``colour``) and the axes of the joints whose parent
  it is (``joint_<name>``), so an axis moves with its parent.
- ``/cameras/view_XX``: the video cameras as frustums showing the current frame.

Controls: a ``time`` slider in [0, 1] (frame ``t`` of T is at ``t / (T - 1)``, joint
values linear in between) with ``play`` at the videos' frame rate, one slider per joint
within its observed range, and toggles for part colours, joint axes and cameras.
Moving the time sets every joint slider; moving a joint slider poses that joint alone
until the time moves again.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import cast

import numpy as np
import trimesh
import viser
from scipy.spatial.transform import Rotation

from partdrag4d.containers import JointType
from partdrag4d.export.kinematics import joint_range, part_parents
from partdrag4d.export.report import part_color
from partdrag4d.viewer.run_folder import RunFolder, joint_values_at, part_poses


@dataclass
class ViewerConfig:
    """Options of ``partdrag4d view``."""

    host: str = "127.0.0.1"
    """Interface to listen on (``0.0.0.0`` to share on the network)."""
    port: int = 8080
    """Port (the next free one is taken when it is busy)."""
    image_size: int = 160
    """Longest side (pixels) of the video frames shown in the camera frustums."""


def _rgb(color: np.ndarray) -> tuple[int, int, int]:
    r, g, b = (int(c) for c in color)
    return r, g, b


def _xyz(point: np.ndarray) -> tuple[float, float, float]:
    x, y, z = (float(c) for c in point)
    return x, y, z


def _wxyz(matrix: np.ndarray) -> np.ndarray:
    return Rotation.from_matrix(matrix[:3, :3]).as_quat(scalar_first=True)


def _downscale(image: np.ndarray, size: int) -> np.ndarray:
    step = max(1, int(np.ceil(max(image.shape[:2]) / size)))
    return np.ascontiguousarray(image[::step, ::step])


class RunViewer:
    """A viser server showing one run folder; :meth:`stop` shuts it down."""

    def __init__(self, run: RunFolder, cfg: ViewerConfig = ViewerConfig()):
        self.run = run
        self.cfg = cfg
        self.art = run.articulation
        self.server = viser.ViserServer(host=cfg.host, port=cfg.port, verbose=False)
        self.time = 0.0
        self.values = joint_values_at(self.art, 0.0)
        self._lock = threading.RLock()
        self._syncing = False
        self._frame_shown = -1
        self._stop = threading.Event()
        bounds = (
            np.concatenate([p.mesh.bounds for p in run.pieces]) if run.pieces else np.zeros((2, 3))
        )
        self.size = float(np.ptp(bounds, axis=0).max()) or 1.0
        self.centre = 0.5 * (bounds.min(axis=0) + bounds.max(axis=0))
        self.server.scene.set_up_direction("+z")
        self._add_parts()
        self._add_joint_axes()
        self._add_cameras()
        self._add_gui()
        self.set_time(0.0)
        self._player = threading.Thread(target=self._play_loop, daemon=True)
        self._player.start()

    @property
    def url(self) -> str:
        """Address to open in a browser."""
        return f"http://{self.server.get_host()}:{self.server.get_port()}"

    # ----------------------------------------------------------------- scene

    def _add_parts(self) -> None:
        scene = self.server.scene
        names = self.art.part_names
        self.part_frames = [scene.add_frame(f"/parts/{n}", show_axes=False) for n in names]
        self.textured: list = []
        self.coloured: list = []
        for p, name in enumerate(names):
            pieces = [piece.mesh for piece in self.run.pieces if piece.part == p]
            for k, mesh in enumerate(pieces):
                self.textured.append(scene.add_mesh_trimesh(f"/parts/{name}/textured_{k}", mesh))
            if pieces:
                merged = cast(trimesh.Trimesh, trimesh.util.concatenate(pieces))
                color = _rgb(part_color(np.array(p)))
                self.coloured.append(
                    scene.add_mesh_simple(
                        f"/parts/{name}/colour",
                        np.asarray(merged.vertices, dtype=np.float32),
                        np.asarray(merged.faces, dtype=np.uint32),
                        color=color,
                        visible=False,
                    )
                )

    def _add_joint_axes(self) -> None:
        parents = part_parents(self.art)
        self.axes: list = []
        half = 0.35 * self.size
        for i, joint in enumerate(self.art.joints):
            parent = self.art.part_names[int(parents[i + 1])]
            start = joint.origin - (half if joint.type is JointType.REVOLUTE else 0.0) * joint.axis
            points = np.stack([start, joint.origin + half * joint.axis])[None].astype(np.float32)
            color = _rgb(part_color(np.array(i + 1)))
            self.axes.append(
                self.server.scene.add_line_segments(
                    f"/parts/{parent}/joint_{joint.name}",
                    points,
                    color,
                    thickness=3.0,
                    thickness_units="screen",
                )
            )

    def _add_cameras(self) -> None:
        self.frustums: list = []
        cams = self.run.cameras
        if cams is None:
            return
        for v in range(cams.num_views):
            T_world_cam = np.linalg.inv(cams.T_cam_world[v])
            self.frustums.append(
                self.server.scene.add_camera_frustum(
                    f"/cameras/view_{v:02d}",
                    fov=float(2 * np.arctan(cams.height / (2 * cams.K[v, 1, 1]))),
                    aspect=cams.width / cams.height,
                    scale=0.15 * self.size,
                    thickness=1.5,
                    thickness_units="screen",
                    wxyz=_wxyz(T_world_cam),
                    position=T_world_cam[:3, 3],
                )
            )
        # The first view: behind and above camera 0, so that its frustum (and frame) sits
        # below the object instead of covering it.
        centre = self.centre
        eye = np.linalg.inv(cams.T_cam_world[0])[:3, 3]
        self.server.initial_camera.position = _xyz(
            centre + 1.3 * (eye - centre) + (0.0, 0.0, 0.6 * self.size)
        )
        self.server.initial_camera.look_at = _xyz(centre)
        self.server.initial_camera.up = (0.0, 0.0, 1.0)

    # ----------------------------------------------------------------- controls

    def _add_gui(self) -> None:
        gui = self.server.gui
        art = self.art
        gui.add_markdown(
            f"**{self.run.root.name}**: {len(art.part_names)} parts, {len(art.joints)} joints, "
            f"{art.num_frames} frames at {art.fps:g} fps"
        )
        self.time_slider = gui.add_slider("time", 0.0, 1.0, 0.001, 0.0)
        self.time_slider.on_update(
            lambda _: None if self._syncing else self.set_time(self.time_slider.value)
        )
        self.play = gui.add_checkbox("play", False)
        self.joint_sliders = []
        with gui.add_folder("joints"):
            for j, joint in enumerate(art.joints):
                lo, hi = joint_range(joint)
                hi = hi if hi > lo else lo + 1e-3
                slider = gui.add_slider(joint.name, lo, hi, (hi - lo) / 500, float(self.values[j]))
                slider.on_update(lambda _, j=j: self.set_joint(j, self.joint_sliders[j].value))
                self.joint_sliders.append(slider)
        with gui.add_folder("show"):
            self.show_colours = gui.add_checkbox("part colours", False)
            self.show_axes = gui.add_checkbox("joint axes", True)
            self.show_cameras = gui.add_checkbox("cameras", True)
        self.show_colours.on_update(lambda _: self._set_colours(self.show_colours.value))
        self.show_axes.on_update(lambda _: self._set_visible(self.axes, self.show_axes.value))
        self.show_cameras.on_update(
            lambda _: self._set_visible(self.frustums, self.show_cameras.value)
        )

    @staticmethod
    def _set_visible(handles: list, visible: bool) -> None:
        for handle in handles:
            handle.visible = visible

    def _set_colours(self, colours: bool) -> None:
        self._set_visible(self.coloured, colours)
        self._set_visible(self.textured, not colours)

    # ----------------------------------------------------------------- state

    def set_time(self, value: float) -> None:
        """Pose every part at normalised time ``value`` and show that video frame."""
        with self._lock:
            self.time = float(np.clip(value, 0.0, 1.0))
            self.values = joint_values_at(self.art, self.time)
            self._syncing = True
            try:
                self.time_slider.value = self.time
                for slider, q in zip(self.joint_sliders, self.values, strict=True):
                    slider.value = float(np.clip(q, slider.min, slider.max))
            finally:
                self._syncing = False
            self._apply()
            self._show_frame(int(round(self.time * (self.art.num_frames - 1))))

    def set_joint(self, index: int, value: float) -> None:
        """Set joint ``index`` to ``value`` (rad or m) and pose its subtree."""
        with self._lock:
            if self._syncing:
                return
            self.values = self.values.copy()
            self.values[index] = float(value)
            self._apply()

    def _apply(self) -> None:
        poses = part_poses(self.art, self.values)
        with self.server.atomic():
            for frame, pose in zip(self.part_frames, poses, strict=True):
                frame.wxyz = _wxyz(pose)
                frame.position = pose[:3, 3]

    def _show_frame(self, frame: int) -> None:
        if frame == self._frame_shown or not self.frustums:
            return
        self._frame_shown = frame
        for v, frustum in enumerate(self.frustums):
            image = self.run.frame(v, frame)
            if image is not None:
                frustum.image = _downscale(image, self.cfg.image_size)

    def _play_loop(self) -> None:
        tick = 1.0 / 30.0
        while not self._stop.wait(tick):
            if self.play.value and self.art.num_frames > 1:
                step = self.art.fps * tick / (self.art.num_frames - 1)
                self.set_time((self.time + step) % (1.0 + 1e-9))

    def stop(self) -> None:
        """Stop the player thread and the server."""
        self._stop.set()
        self._player.join(timeout=2.0)
        self.server.stop()
