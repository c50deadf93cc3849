"""The orbit camera rig (OpenCV convention) and its framing of an object.

Pure functions. Cameras follow the conventions of README.md ("Conventions"): ``K`` in
pixels with the principal point at the image centre (pixel (i, j) covers
[j, j+1) x [i, i+1), so the centre of a W x H image is (W/2, H/2)), and ``T_cam_world``
with x right, y down, z forward.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from jaxtyping import Float

from partdrag4d.config_checks import SIGNED, OneOf, Range
from partdrag4d.containers import CameraRig, RigFront


@dataclass
class RigConfig:
    """Orbit rig of V calibrated views looking at the object's bounding-box centre."""

    CHECKS: ClassVar[dict] = {
        "num_views": Range(1, 64, integer=True),
        "width": Range(16, 4096, integer=True),
        "height": Range(16, 4096, integer=True),
        "fov_deg": Range(1.0, 170.0),
        "elevation_deg": Range(-89.0, 89.0),
        "front": OneOf(("auto", "fixed")),
        "front_azimuth_deg": SIGNED,
        "front_search_step_deg": Range(1.0, 360.0),
        "front_probe_size": Range(16, 1024, integer=True),
        "azimuth_spread_deg": Range(0.0, 360.0, lo_open=True),
        "margin": Range(1.0, 100.0),
    }

    num_views: int = 4
    """V, number of views."""
    width: int = 256
    """Image width in pixels."""
    height: int = 256
    """Image height in pixels."""
    fov_deg: float = 40.0
    """Vertical field of view in degrees."""
    elevation_deg: float = 25.0
    """Camera elevation above the horizontal plane, degrees."""
    front: str = "auto"
    """Where the views look from: ``auto`` picks the front azimuth that sees the most
    motion (the moving surface of a known articulation over the whole clip, or the
    drags' start points and directions; scene/front.py), ``fixed`` uses
    ``front_azimuth_deg`` (-90 when unset: the front faces -Y, the procedural library's
    convention)."""
    front_azimuth_deg: float | None = None
    """Azimuth of the object's front, degrees from +X toward +Y in the ground plane.
    When set it overrides ``front``."""
    front_search_step_deg: float = 15.0
    """``front=auto``: azimuth step of the probe renders (and of the candidate fronts)."""
    front_probe_size: int = 64
    """``front=auto``: side in pixels of the probe renders that score the azimuths."""
    azimuth_spread_deg: float = 100.0
    """Views are spread evenly over this arc centred on the front (360 = full orbit)."""
    radius: float = 0.0
    """Camera distance from the centre in metres; 0 = frame the object automatically."""
    margin: float = 1.15
    """Auto framing: the bounding sphere times this fits in the field of view."""


UP_AXES: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {
    # up, first and second ground-plane axes (right-handed: e1 x e2 = up)
    "z": (np.array([0.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])),
    "y": (np.array([0.0, 1.0, 0.0]), np.array([0.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0])),
}


def intrinsics(width: int, height: int, fov_deg: float) -> Float[np.ndarray, "3 3"]:
    """Pinhole intrinsics with square pixels and a vertical field of view ``fov_deg``."""
    f = 0.5 * height / math.tan(math.radians(fov_deg) / 2)
    return np.array([[f, 0.0, width / 2], [0.0, f, height / 2], [0.0, 0.0, 1.0]])


def look_at(
    eye: Float[np.ndarray, "3"], target: Float[np.ndarray, "3"], up: Float[np.ndarray, "3"]
) -> Float[np.ndarray, "4 4"]:
    """``T_cam_world`` of an OpenCV camera at ``eye`` looking at ``target``.

    The camera's z axis points at the target, x is ``forward x up`` (right on screen)
    and y completes a right-handed frame (down on screen).
    """
    forward = target - eye
    forward = forward / np.linalg.norm(forward)
    right = np.cross(forward, up)
    if np.linalg.norm(right) < 1e-9:  # looking straight along `up`: any right will do
        right = np.cross(forward, np.roll(up, 1))
    right = right / np.linalg.norm(right)
    down = np.cross(forward, right)
    R_world_cam = np.stack([right, down, forward], axis=1)
    T = np.eye(4)
    T[:3, :3] = R_world_cam.T
    T[:3, 3] = -R_world_cam.T @ eye
    return T


FIXED_FRONT_DEG = -90.0
"""The front when none is chosen or set: it faces -Y (the procedural library's)."""


def config_front(cfg: RigConfig) -> RigFront:
    """The front the config sets: ``front_azimuth_deg``, else :data:`FIXED_FRONT_DEG`."""
    el = float(cfg.elevation_deg)
    if cfg.front_azimuth_deg is not None:
        return RigFront(float(cfg.front_azimuth_deg), el, "config", "rig.front_azimuth_deg")
    return RigFront(FIXED_FRONT_DEG, el, "config", "front faces -Y (rig.front=fixed)")


def view_azimuths_deg(cfg: RigConfig, front_azimuth_deg: float) -> Float[np.ndarray, "V"]:
    """Azimuths of the V views: evenly over the arc centred on the front."""
    v = cfg.num_views
    if v == 1:
        offsets = np.zeros(1)
    elif cfg.azimuth_spread_deg >= 360.0:
        offsets = 360.0 * np.arange(v) / v
    else:
        offsets = np.linspace(-cfg.azimuth_spread_deg / 2, cfg.azimuth_spread_deg / 2, v)
    return front_azimuth_deg + offsets


def orbit_rig(
    cfg: RigConfig,
    bounds: Float[np.ndarray, "2 3"],
    up_axis: str = "z",
    front: RigFront | None = None,
) -> CameraRig:
    """Cameras on a circle around the bounding-box centre, framing the whole object.

    Args:
        cfg: rig settings (views, image size, field of view, elevation, spread, radius).
        bounds: (min, max) corners of the object's bounding box, world frame, metres.
        up_axis: the world's up axis, ``"z"`` or ``"y"``.
        front: where the views are centred (scene/front.py chooses it); None uses
            ``cfg.front_azimuth_deg``, or -90 (the front faces -Y) when that is unset.

    Returns:
        The calibrated rig (recording ``front``).
    """
    front = front or config_front(cfg)
    up, e1, e2 = UP_AXES[up_axis]
    center = bounds.mean(axis=0)
    sphere_r = 0.5 * float(np.linalg.norm(bounds[1] - bounds[0]))
    half_fov_v = math.radians(cfg.fov_deg) / 2
    half_fov_h = math.atan(math.tan(half_fov_v) * cfg.width / cfg.height)
    radius = cfg.radius or cfg.margin * sphere_r / math.sin(min(half_fov_v, half_fov_h))
    K = intrinsics(cfg.width, cfg.height, cfg.fov_deg)
    el = math.radians(front.elevation_deg)
    Ks, Ts = [], []
    for az in np.radians(view_azimuths_deg(cfg, front.azimuth_deg)):
        direction = math.cos(el) * (math.cos(az) * e1 + math.sin(az) * e2) + math.sin(el) * up
        Ts.append(look_at(center + radius * direction, center, up))
        Ks.append(K)
    return CameraRig(np.stack(Ks), np.stack(Ts), cfg.width, cfg.height, front)
