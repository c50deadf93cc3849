"""Rendering: a headless CPU rasteriser (moderngl/EGL) and the OpenCV camera math it uses.

Public API: :class:`Rasterizer`, :class:`RasterizerConfig`, :class:`RenderOutput`,
:class:`RenderSequence`, :func:`render_video` and the pure helpers of
:mod:`partdrag4d.render.camera_math` (``project``, ``unproject``, ``pixel_centers``,
``opencv_to_opengl_projection``, ``opengl_view_from_opencv``).
"""

from partdrag4d.render.camera_math import (
    PIXEL_CENTER_OFFSET,
    opencv_to_opengl_projection,
    opengl_view_from_opencv,
    pixel_centers,
    project,
    unproject,
)
from partdrag4d.render.rasterizer import (
    Rasterizer,
    RasterizerConfig,
    RenderOutput,
    RenderSequence,
    render_video,
    shared_context,
    vertex_normals,
)

__all__ = [
    "PIXEL_CENTER_OFFSET",
    "Rasterizer",
    "RasterizerConfig",
    "RenderOutput",
    "RenderSequence",
    "opencv_to_opengl_projection",
    "opengl_view_from_opencv",
    "pixel_centers",
    "project",
    "render_video",
    "shared_context",
    "unproject",
    "vertex_normals",
]
