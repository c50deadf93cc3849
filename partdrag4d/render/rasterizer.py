"""CPU rasteriser (moderngl on an EGL standalone context, Mesa llvmpipe without a GPU).

Renders a :class:`~partdrag4d.containers.SceneMesh` from OpenCV cameras into colour,
coverage, exact camera depth, per-vertex labels and the interpolated *rest* position of
the visible surface (dense ground-truth correspondences for animated meshes).

Design:

- Geometry is uploaded once: one vertex buffer per attribute over the mesh's concatenated
  vertices and one index buffer; each primitive is a draw call over its range of indices
  with its own material. Per frame only the positions (and smooth normals / labels when
  they change) are rewritten.
- The camera model lives in :mod:`partdrag4d.geometry.camera`; pixel coordinates have
  the image corner at (0, 0) and pixel centres at ``+0.5``, so
  ``project(K, T_cam_world, p)`` lands in pixel ``floor(uv)`` of the rendered image.
- Exact outputs (depth, label, rest_xyz, and coverage without MSAA) come from one
  single-sample pass with float/integer targets; with ``samples > 0`` colour and coverage
  come from an extra multisampled pass, so anti-aliasing never blends labels or depths.
- To stay float32-safe far from the origin, vertices are uploaded relative to the rest
  mesh's bounding-box centre and the camera transform absorbs that shift (in float64).

One EGL context is shared by all rasterisers of a process (creating one takes tens of
milliseconds); a rasteriser owns only its buffers, textures and frame-buffers, freed by
:meth:`Rasterizer.release` or by leaving its ``with`` block. GL contexts are bound to the
thread that created them: use a rasteriser from one thread.
"""

# moderngl types ``program[name]`` as a union of uniform, uniform block, attribute and
# varying, so every ``.value =`` / ``.write`` on a uniform would be flagged.
# pyright: reportAttributeAccessIssue=false

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import moderngl
import numpy as np
from jaxtyping import Bool, Float, Int, UInt8
from tqdm import tqdm

from partdrag4d.containers import SceneMesh
from partdrag4d.render.camera_math import opencv_to_opengl_projection
from partdrag4d.render.shaders import FRAGMENT_SHADER, VERTEX_SHADER

_CV_TO_GL = np.diag([1.0, -1.0, -1.0, 1.0])


@dataclass(frozen=True)
class RasterizerConfig:
    """Appearance and quality settings of :class:`Rasterizer`."""

    background: tuple[float, float, float] = (1.0, 1.0, 1.0)
    """Background colour, sRGB in [0, 1] (default white)."""
    textured: bool = True
    """Use material textures (primitives with a texture and uvs); else base colours only."""
    lighting: bool = True
    """Shade with ambient + Lambert from a camera-fixed light; False renders albedo only."""
    shading: Literal["flat", "smooth"] = "flat"
    """Normals of the posed geometry: per face ("flat", exact on any mesh) or
    area-weighted vertex normals ("smooth", recomputed on the CPU every frame)."""
    light_dir: tuple[float, float, float] = (-0.3, -0.5, -1.0)
    """Direction from the surface towards the light, OpenCV camera frame (normalised
    internally); the default is a headlight from slightly above-left."""
    ambient: float = 0.35
    """Ambient light factor (fraction of albedo everywhere)."""
    diffuse: float = 0.65
    """Lambert factor (fraction of albedo where the surface faces the light)."""
    samples: int = 4
    """MSAA samples for the colour/coverage pass; 0 disables it (single pass, binary
    coverage). Depth, label and rest_xyz are always single-sample and exact."""
    near: float | None = None
    """Near clip distance in metres; None derives it per frame from the scene bounds."""
    far: float | None = None
    """Far clip distance in metres; None derives it per frame from the scene bounds."""


@dataclass(frozen=True)
class RenderOutput:
    """One rendered view. Images are top row first (row 0 = top of the picture)."""

    rgb: UInt8[np.ndarray, "H W 3"]
    """sRGB colour; background pixels have the configured background colour."""
    alpha: Float[np.ndarray, "H W"]
    """Coverage in [0, 1]: 1 inside the silhouette, 0 on background, fractional on
    anti-aliased edges when MSAA is on."""
    depth: Float[np.ndarray, "H W"]
    """OpenCV camera z of the visible surface (metres); 0 on background."""
    label: Int[np.ndarray, "H W"]
    """Per-vertex label of the visible surface (the provoking vertex's label for faces
    whose vertices disagree); -1 on background."""
    rest_xyz: Float[np.ndarray, "H W 3"]
    """Rest-state world position of the visible surface point (NaN on background)."""

    @property
    def mask(self) -> Bool[np.ndarray, "H W"]:
        """Exact (single-sample) foreground mask: pixels whose centre sees the surface."""
        return ~np.isnan(self.rest_xyz[..., 0])


@dataclass(frozen=True)
class RenderSequence:
    """T rendered frames of one view, stacked (same meaning as :class:`RenderOutput`)."""

    rgb: UInt8[np.ndarray, "T H W 3"]
    """sRGB colour."""
    alpha: Float[np.ndarray, "T H W"]
    """Coverage in [0, 1]."""
    depth: Float[np.ndarray, "T H W"]
    """Camera z in metres; 0 on background."""
    label: Int[np.ndarray, "T H W"]
    """Per-vertex label; -1 on background."""
    rest_xyz: Float[np.ndarray, "T H W 3"]
    """Rest-state world position; NaN on background."""


_context: moderngl.Context | None = None


def shared_context() -> moderngl.Context:
    """The process-wide headless EGL context (created on first use)."""
    global _context
    if _context is None:
        _context = moderngl.create_standalone_context(backend="egl")  # pyright: ignore[reportArgumentType]
    return _context


def vertex_normals(
    vertices: Float[np.ndarray, "N 3"], faces: Int[np.ndarray, "F 3"]
) -> Float[np.ndarray, "N 3"]:
    """Area-weighted unit vertex normals (zero for unreferenced vertices)."""
    v = np.asarray(vertices, dtype=np.float64)
    tri = v[faces]
    face_n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # length = 2 * area
    out = np.zeros_like(v)
    for k in range(3):
        idx = faces[:, k]
        for d in range(3):
            out[:, d] += np.bincount(idx, weights=face_n[:, d], minlength=len(v))
    norm = np.linalg.norm(out, axis=1, keepdims=True)
    return np.divide(out, norm, out=np.zeros_like(out), where=norm > 0)


class Rasterizer:
    """Renders one :class:`SceneMesh` (fixed topology, animated vertices) at one size.

    Args:
        mesh: the rest-state mesh; its concatenated vertex order is the order of
            ``vertices`` / ``vertex_label`` passed to :meth:`render`.
        width: image width in pixels.
        height: image height in pixels.
        cfg: appearance and quality settings.
        ctx: a moderngl context to use instead of the shared EGL one.
    """

    def __init__(
        self,
        mesh: SceneMesh,
        width: int,
        height: int,
        cfg: RasterizerConfig = RasterizerConfig(),
        *,
        ctx: moderngl.Context | None = None,
    ):
        if width <= 0 or height <= 0:
            raise ValueError(f"image size must be positive, got {width}x{height}")
        if not mesh.primitives:
            raise ValueError("mesh has no primitives")
        self.mesh = mesh
        self.width = int(width)
        self.height = int(height)
        self.cfg = cfg
        self.ctx = ctx if ctx is not None else shared_context()
        self._released = False
        ctx = self.ctx

        rest = np.asarray(mesh.vertices, dtype=np.float64)
        self._num_vertices = len(rest)
        self._faces = np.asarray(mesh.faces, dtype=np.int64)
        # Render in a frame shifted to the rest bbox centre (float32 safety).
        self._origin = 0.5 * (rest.min(0) + rest.max(0))
        self._T_world_obj = np.eye(4)
        self._T_world_obj[:3, 3] = self._origin

        uvs = np.zeros((self._num_vertices, 2), dtype=np.float32)
        offs = mesh.vertex_offsets
        default_label = np.zeros(self._num_vertices, dtype=np.int32)
        for i, p in enumerate(mesh.primitives):
            if p.uvs is not None:
                uvs[offs[i] : offs[i + 1]] = p.uvs
            default_label[offs[i] : offs[i + 1]] = i
        self._default_label = default_label

        self._prog = ctx.program(vertex_shader=VERTEX_SHADER, fragment_shader=FRAGMENT_SHADER)
        rest_obj = (rest - self._origin).astype(np.float32)
        self._vbo_pos = ctx.buffer(rest_obj.tobytes())
        self._vbo_rest = ctx.buffer(rest_obj.tobytes())
        normals = vertex_normals(rest, self._faces).astype(np.float32)
        self._vbo_normal = ctx.buffer(normals.tobytes())
        self._vbo_uv = ctx.buffer(uvs.tobytes())
        self._vbo_label = ctx.buffer(default_label.tobytes())
        self._current_label: np.ndarray | None = default_label
        self._ibo = ctx.buffer(self._faces.astype(np.uint32).tobytes())
        self._vao = ctx.vertex_array(
            self._prog,
            [
                (self._vbo_pos, "3f", "in_pos"),
                (self._vbo_rest, "3f", "in_rest"),
                (self._vbo_normal, "3f", "in_normal"),
                (self._vbo_uv, "2f", "in_uv"),
                (self._vbo_label, "i", "in_label"),
            ],
            index_buffer=self._ibo,
            index_element_size=4,
        )

        # Per-primitive draw ranges and materials; textures shared between primitives.
        self._textures: dict[int, moderngl.Texture] = {}
        self._draws: list[tuple[int, int, np.ndarray, moderngl.Texture | None]] = []
        first = 0
        for p in mesh.primitives:
            count = 3 * len(p.faces)
            tex = None
            if cfg.textured and p.material.texture is not None and p.uvs is not None:
                tex = self._texture_for(p.material.texture)
            base = np.asarray(p.material.base_color, dtype=np.float32)[:3]
            self._draws.append((first, count, base, tex))
            first += count

        size = (self.width, self.height)
        self._color = ctx.texture(size, 4)
        self._z = ctx.texture(size, 1, dtype="f4")
        self._rest = ctx.texture(size, 4, dtype="f4")
        self._label = ctx.texture(size, 1, dtype="i4")
        self._depth = ctx.depth_renderbuffer(size)
        self._fbo = ctx.framebuffer(
            color_attachments=[self._color, self._z, self._rest, self._label],
            depth_attachment=self._depth,
        )
        self._msaa_fbo = self._resolve_fbo = None
        self._msaa_objs: list = []
        if cfg.samples > 0:
            samples = min(int(cfg.samples), ctx.max_samples)
            msaa_color = ctx.renderbuffer(size, 4, samples=samples)
            msaa_depth = ctx.depth_renderbuffer(size, samples=samples)
            self._msaa_fbo = ctx.framebuffer([msaa_color], msaa_depth)
            resolve_color = ctx.texture(size, 4)
            self._resolve_fbo = ctx.framebuffer([resolve_color])
            self._msaa_objs = [msaa_color, msaa_depth, self._msaa_fbo]
            self._msaa_objs += [resolve_color, self._resolve_fbo]

        light = np.asarray(cfg.light_dir, dtype=np.float64)
        self._prog["u_light_dir"].value = tuple(light / np.linalg.norm(light))
        self._prog["u_ambient"].value = float(cfg.ambient)
        self._prog["u_diffuse"].value = float(cfg.diffuse)
        self._prog["u_lighting"].value = bool(cfg.lighting)
        self._prog["u_smooth"].value = cfg.shading == "smooth"
        self._prog["u_texture"].value = 0

    # ------------------------------------------------------------------ setup helpers

    def _texture_for(self, image: np.ndarray) -> moderngl.Texture:
        key = id(image)
        if key not in self._textures:
            img = np.ascontiguousarray(image, dtype=np.uint8)
            if img.ndim != 3 or img.shape[2] != 3:
                raise ValueError(f"texture must be HxWx3 uint8, got shape {img.shape}")
            # Row 0 uploaded first = texture t 0, which is glTF v 0 (top): no flip needed.
            tex = self.ctx.texture((img.shape[1], img.shape[0]), 3, img.tobytes())
            tex.build_mipmaps()
            tex.filter = (moderngl.LINEAR_MIPMAP_LINEAR, moderngl.LINEAR)
            tex.repeat_x = tex.repeat_y = True
            self._textures[key] = tex
        return self._textures[key]

    def _near_far(self, verts_obj: np.ndarray, T_cam_obj: np.ndarray) -> tuple[float, float]:
        lo, hi = verts_obj.min(0), verts_obj.max(0)
        centre = 0.5 * (lo + hi)
        radius = max(0.5 * float(np.linalg.norm(hi - lo)), 1e-6)
        z_c = float(T_cam_obj[2, :3] @ centre + T_cam_obj[2, 3])
        far = self.cfg.far if self.cfg.far is not None else max(z_c + radius, 1e-3) * 1.01
        # Keep far/near bounded so the 24-bit depth buffer still separates surfaces.
        near_default = max(z_c - radius, far * 1e-4) * 0.99
        near = self.cfg.near if self.cfg.near is not None else near_default
        return float(near), float(far)

    # ------------------------------------------------------------------ rendering

    def render(
        self,
        K: Float[np.ndarray, "3 3"],
        T_cam_world: Float[np.ndarray, "4 4"],
        vertices: Float[np.ndarray, "N 3"] | None = None,
        vertex_label: Int[np.ndarray, "N"] | None = None,
    ) -> RenderOutput:
        """Render one view.

        Args:
            K: intrinsics (pixels; corner-origin pixel coordinates, see geometry.camera).
            T_cam_world: world-to-camera transform (OpenCV axes).
            vertices: world positions of the mesh's concatenated vertices for this frame
                (same topology); None renders the rest state. Stays uploaded for later
                calls until replaced.
            vertex_label: integer label per vertex (e.g. link index); None uses each
                vertex's primitive index. Stays uploaded until replaced.

        Returns:
            The rendered images (top row first).
        """
        if self._released:
            raise RuntimeError("Rasterizer was released")
        ctx = self.ctx
        if vertices is None:
            verts_obj = (np.asarray(self.mesh.vertices, np.float64) - self._origin).astype(
                np.float32
            )
        else:
            if vertices.shape != (self._num_vertices, 3):
                raise ValueError(
                    f"vertices must have shape ({self._num_vertices}, 3), got {vertices.shape}"
                )
            verts_obj = (np.asarray(vertices, np.float64) - self._origin).astype(np.float32)
        self._vbo_pos.write(verts_obj.tobytes())
        if self.cfg.lighting and self.cfg.shading == "smooth":
            normals = vertex_normals(verts_obj, self._faces).astype(np.float32)
            self._vbo_normal.write(normals.tobytes())
        self._set_labels(vertex_label)

        T_cam_obj = np.asarray(T_cam_world, np.float64) @ self._T_world_obj
        near, far = self._near_far(verts_obj.astype(np.float64), T_cam_obj)
        proj = opencv_to_opengl_projection(K, self.width, self.height, near, far) @ _CV_TO_GL
        # moderngl takes matrices column-major: pass the transpose's bytes.
        self._prog["u_view"].write(T_cam_obj.T.astype(np.float32).tobytes())
        self._prog["u_proj"].write(proj.T.astype(np.float32).tobytes())

        ctx.enable(moderngl.DEPTH_TEST)
        ctx.disable(moderngl.CULL_FACE | moderngl.BLEND)
        # Cleared to zero: camera z > near > 0 on any surface, so z == 0 marks background.
        # (moderngl clears every attachment with the same float value, which would be
        # reinterpreted as bits in the integer label target; zero is the safe value.)
        self._fbo.use()
        self._fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
        self._draw()
        if self._msaa_fbo is not None:
            self._msaa_fbo.use()
            self._msaa_fbo.clear(*self.cfg.background, 0.0, depth=1.0)
            self._draw()
            assert self._resolve_fbo is not None  # made with the multisampled one
            ctx.copy_framebuffer(self._resolve_fbo, self._msaa_fbo)
        return self._read()

    def _set_labels(self, vertex_label: np.ndarray | None) -> None:
        label = self._default_label if vertex_label is None else vertex_label
        if label.shape != (self._num_vertices,):
            raise ValueError(
                f"vertex_label must have shape ({self._num_vertices},), got {label.shape}"
            )
        if self._current_label is label or (
            self._current_label is not None and np.array_equal(self._current_label, label)
        ):
            return
        self._vbo_label.write(np.ascontiguousarray(label, dtype=np.int32).tobytes())
        self._current_label = np.array(label, copy=True)

    def _draw(self) -> None:
        prog = self._prog
        for first, count, base, tex in self._draws:
            prog["u_base_color"].value = tuple(float(c) for c in base)
            prog["u_use_texture"].value = tex is not None
            if tex is not None:
                tex.use(location=0)
            self._vao.render(moderngl.TRIANGLES, vertices=count, first=first)

    def _read(self) -> RenderOutput:
        H, W = self.height, self.width

        def grab(fbo: moderngl.Framebuffer, att: int, comps: int, dtype: str, np_dtype):
            buf = fbo.read(components=comps, attachment=att, dtype=dtype)
            # GL rows start at the bottom of the image.
            return np.frombuffer(buf, dtype=np_dtype).reshape(H, W, comps)[::-1]

        z = grab(self._fbo, 1, 1, "f4", np.float32)[..., 0]
        mask = z > 0
        if self._resolve_fbo is not None:
            # Cleared to the background with alpha 0: the resolve averages the samples, so
            # rgb is already composited and alpha is the coverage.
            rgba = grab(self._resolve_fbo, 0, 4, "f1", np.uint8)
            rgb = np.ascontiguousarray(rgba[..., :3])
            alpha = rgba[..., 3].astype(np.float32) / 255.0
        else:
            rgb = np.array(grab(self._fbo, 0, 3, "f1", np.uint8))
            rgb[~mask] = np.rint(np.asarray(self.cfg.background) * 255.0).astype(np.uint8)
            alpha = mask.astype(np.float32)
        rest = grab(self._fbo, 2, 4, "f4", np.float32)
        label = grab(self._fbo, 3, 1, "i4", np.int32)[..., 0]

        rest_xyz = np.full((H, W, 3), np.nan)
        rest_xyz[mask] = rest[mask][:, :3] + self._origin  # float64 add: float32-safe
        return RenderOutput(
            rgb=rgb,
            alpha=alpha,
            depth=np.where(mask, z, np.float32(0.0)),
            label=np.where(mask, label, np.int32(-1)),
            rest_xyz=rest_xyz,
        )

    # ------------------------------------------------------------------ lifetime

    def release(self) -> None:
        """Free this rasteriser's GL objects (the shared context stays alive)."""
        if self._released:
            return
        objs = [self._fbo, self._color, self._z, self._rest, self._label, self._depth]
        objs += self._msaa_objs + list(self._textures.values())
        objs += [self._vao, self._ibo, self._vbo_pos, self._vbo_rest, self._vbo_normal]
        objs += [self._vbo_uv, self._vbo_label, self._prog]
        for obj in objs:
            obj.release()
        self._released = True

    def __enter__(self) -> Rasterizer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def render_video(
    rasterizer: Rasterizer,
    K: Float[np.ndarray, "3 3"],
    T_cam_world: Float[np.ndarray, "4 4"],
    vertices_over_time: Float[np.ndarray, "T N 3"],
    vertex_label: Int[np.ndarray, "N"] | None = None,
    progress: bool = False,
) -> RenderSequence:
    """Render T frames of an animated mesh from one static camera.

    Args:
        rasterizer: the rasteriser of the mesh (same vertex order as the frames).
        K: intrinsics (pixels).
        T_cam_world: world-to-camera transform.
        vertices_over_time: world vertex positions per frame.
        vertex_label: per-vertex labels (e.g. link index); None = primitive index.
        progress: show a tqdm progress bar.

    Returns:
        The stacked frames.
    """
    frames = [
        rasterizer.render(K, T_cam_world, v, vertex_label)
        for v in tqdm(vertices_over_time, desc="render", disable=not progress, leave=False)
    ]
    return RenderSequence(
        rgb=np.stack([f.rgb for f in frames]),
        alpha=np.stack([f.alpha for f in frames]),
        depth=np.stack([f.depth for f in frames]),
        label=np.stack([f.label for f in frames]),
        rest_xyz=np.stack([f.rest_xyz for f in frames]),
    )
