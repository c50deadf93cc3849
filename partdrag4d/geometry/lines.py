"""Distances and angles between 3D lines (joint axes).

A line is a point ``o`` and a direction ``d`` (any length, sign irrelevant). Units are
those of the inputs (metres in this project); angles are in degrees.
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float


def axis_angle_deg(d1: Float[np.ndarray, "3"], d2: Float[np.ndarray, "3"]) -> float:
    """Angle between two axis directions ignoring their sign: ``min(theta, 180 - theta)``."""
    c = abs(float(np.dot(d1, d2) / (np.linalg.norm(d1) * np.linalg.norm(d2))))
    return float(np.degrees(np.arccos(min(1.0, c))))


def line_distance(
    o1: Float[np.ndarray, "3"],
    d1: Float[np.ndarray, "3"],
    o2: Float[np.ndarray, "3"],
    d2: Float[np.ndarray, "3"],
    parallel_sin: float = 1e-6,
) -> float:
    """Shortest distance between two infinite lines.

    Skew lines: ``|(o2 - o1) . (d1 x d2)| / |d1 x d2|``. When the lines are (nearly)
    parallel (``|sin angle| < parallel_sin``) the distance from ``o1`` to line 2,
    ``|(o1 - o2) x d2|``, is returned instead (it is *not* zero, unlike PARIS).
    """
    u1 = d1 / np.linalg.norm(d1)
    u2 = d2 / np.linalg.norm(d2)
    n = np.cross(u1, u2)
    sn = float(np.linalg.norm(n))
    diff = o2 - o1
    if sn < parallel_sin:
        return float(np.linalg.norm(np.cross(-diff, u2)))
    return float(abs(np.dot(diff, n)) / sn)


def closest_point_on_line(
    o: Float[np.ndarray, "3"], d: Float[np.ndarray, "3"], x: Float[np.ndarray, "3"]
) -> Float[np.ndarray, "3"]:
    """Orthogonal projection of ``x`` onto the line ``(o, d)``."""
    u = d / np.linalg.norm(d)
    return o + np.dot(x - o, u) * u
