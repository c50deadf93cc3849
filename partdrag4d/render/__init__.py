"""Rendering: a headless CPU rasteriser (moderngl/EGL) and the OpenCV camera math it uses.

Public API: :class:`Rasterizer`, :class:`RasterizerConfig`, :class:`RenderOutput`,
:class:`RenderSequence`, :func:`render_video` and the OpenGL camera matrices of
:mod:`partdrag4d.render.camera_math` (``opencv_to_opengl_projection``,
``opengl_view_from_opencv``). Projection is :mod:`partdrag4d.geometry.camera`.
"""

from partdrag4d.render.camera_math import opencv_to_opengl_projection, opengl_view_from_opencv
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
    "Rasterizer",
    "RasterizerConfig",
    "RenderOutput",
    "RenderSequence",
    "opencv_to_opengl_projection",
    "opengl_view_from_opencv",
    "render_video",
    "shared_context",
    "vertex_normals",
]
