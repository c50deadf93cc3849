"""One criterion for an articulation hypothesis: how well its re-rendered videos explain
every view and frame, plus what its parts and joints cost (minimum description length).

A hypothesis is the rest mesh's part labels and every part's pose per frame. Rendered
with the project's rasteriser from every camera, it is compared with the videos:

- **photometric**: where both the render and the frame show the object, the grey
  levels (the frame's matched to the render's mean and spread per view and frame, as
  generated videos drift) differ by ``r``; each pixel costs ``log(1 + (r / s)^2)``, a
  Cauchy negative log-likelihood that caps the pull of outliers;
- **silhouette**: a pixel that only one of the two shows (both silhouettes found by
  the same colour test, so anti-aliased rims agree) costs as a residual of
  ``silhouette_sigmas * s``;
- **complexity**: every free parameter costs ``0.5 * log(n)`` (BIC / two-part MDL with
  ``n`` compared pixels): per moving part its joint geometry (``joint_params``: a
  hinge's axis line, a slide's direction), one value per frame after the rest frame,
  and, when views may disagree on the amplitude, one scale per extra view.

Lower is better. Splitting a part that moves as one adds parameters and explains
nothing more; merging two parts that move differently leaves residuals; a joint whose
motion the videos cannot see costs more than it explains, so it folds. The score reads
only the videos, cameras, rest mesh and the hypothesis: no ground truth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from jaxtyping import Float, Int, UInt8

from partdrag4d.config_checks import COUNT, POSITIVE
from partdrag4d.containers import CameraRig, SceneMesh


@dataclass
class ScoreConfig:
    """Weights of the criterion."""

    CHECKS: ClassVar[dict] = {"frame_step": COUNT, "sigma_grey": POSITIVE}

    sigma_grey: float = 8.0
    """Scale ``s`` of the photometric residual, grey levels (0-255)."""
    silhouette_sigmas: float = 3.0
    """A silhouette mismatch pixel costs as a residual of this many ``s``."""
    background_threshold: int = 12
    """A frame pixel is foreground when its colour differs from the median border
    colour by more than this (as the track stage decides)."""
    joint_params: int = 4
    """Geometry parameters of a moving part's joint (axis direction 2 + pivot 2)."""
    per_view_amplitude: bool = True
    """Charge one amplitude scale per view after the first for every moving part."""
    frame_step: int = 2
    """Frames compared: every ``frame_step``-th counting back from the last (the rest
    frame never); 1 compares all (slower, hardly different decisions)."""


@dataclass(frozen=True)
class Hypothesis:
    """An articulation to score: labels on the rest mesh and poses per frame."""

    vertex_part: Int[np.ndarray, "N"]
    """Part of every rest-mesh vertex (0 = the static base)."""
    T_world_part: Float[np.ndarray, "*V T P 4 4"]
    """World-from-rest pose of every part in every frame (frame 0 = rest), shared by the
    views or, with a leading view axis, as each view sees it."""

    @property
    def num_moving(self) -> int:
        return int(self.T_world_part.shape[-3]) - 1

    def poses(self, view: int, frame: int) -> Float[np.ndarray, "P 4 4"]:
        """The parts' poses at ``frame`` as ``view`` sees them."""
        T = self.T_world_part
        return T[frame] if T.ndim == 4 else T[view, frame]


@dataclass(frozen=True)
class Score:
    """The criterion and its terms (nats)."""

    photometric: float
    silhouette: float
    complexity: float
    pixels: int
    """Pixels compared (the union of rendered and observed foreground)."""

    @property
    def total(self) -> float:
        return self.photometric + self.silhouette + self.complexity


def frame_residuals(
    render_rgb: UInt8[np.ndarray, "H W 3"],
    render_mask: np.ndarray,
    frame: UInt8[np.ndarray, "H W 3"],
    cfg: ScoreConfig,
) -> tuple[float, float, int]:
    """(photometric, silhouette, compared pixels) of one render against one frame.

    The silhouettes of both images come from the same colour test (specks and pinholes
    removed), so anti-aliased rims cost nothing at the right pose; the photometric term
    reads the pixels whose centre the render's surface covers and the frame shows."""
    from partdrag4d.reconstruct.contour import silhouette
    from partdrag4d.reconstruct.render_compare import grey, match_levels

    seen = silhouette(frame, cfg.background_threshold)
    drawn = silhouette(render_rgb, cfg.background_threshold)
    both = render_mask & seen
    a = grey(render_rgb)
    r = (a - match_levels(a, grey(frame), both))[both] / cfg.sigma_grey
    photometric = float(np.log1p(r * r).sum())
    either = drawn | seen
    mismatch = int(either.sum() - (drawn & seen).sum())
    return photometric, mismatch * math.log1p(cfg.silhouette_sigmas**2), int(either.sum())


def complexity(h: Hypothesis, num_views: int, pixels: int, cfg: ScoreConfig) -> float:
    """``0.5 log(n)`` per free parameter of the hypothesis (see the module docstring)."""
    T = h.T_world_part.shape[-4]
    per_part = cfg.joint_params + (T - 1)
    if cfg.per_view_amplitude:
        per_part += num_views - 1
    return 0.5 * math.log(max(pixels, 2)) * per_part * h.num_moving


def score_hypothesis(
    h: Hypothesis,
    mesh: SceneMesh,
    rig: CameraRig,
    frames: UInt8[np.ndarray, "V T H W 3"],
    cfg: ScoreConfig | None = None,
    rast=None,
) -> Score:
    """Render the hypothesis in every view and frame after the rest and score it.

    Args:
        h: labels and poses.
        mesh: the rest-state mesh (appearance included).
        rig: the cameras of the videos.
        frames: the videos.
        cfg: weights.
        rast: a rasteriser of ``mesh`` at the rig's size to reuse (one is made if None).

    Returns:
        The criterion and its terms.
    """
    from partdrag4d.assets.kinematics import move_vertices
    from partdrag4d.render.rasterizer import Rasterizer

    cfg = cfg or ScoreConfig()
    own = rast is None
    rast = rast or Rasterizer(mesh, rig.width, rig.height)
    photometric = silhouette = 0.0
    pixels = 0
    try:
        for t in range(frames.shape[1] - 1, 0, -max(cfg.frame_step, 1)):
            for v in range(rig.num_views):
                verts = move_vertices(mesh.vertices, h.vertex_part, h.poses(v, t))
                out = rast.render(rig.K[v], rig.T_cam_world[v], verts, h.vertex_part)
                p, s, n = frame_residuals(out.rgb, out.mask, frames[v, t], cfg)
                photometric, silhouette, pixels = photometric + p, silhouette + s, pixels + n
    finally:
        if own:
            rast.release()
    cost = complexity(h, rig.num_views, pixels, cfg)
    return Score(photometric, silhouette, cost, pixels)
