"""GLSL sources of the rasteriser (one program, several render targets).

The vertex shader works in OpenCV camera coordinates (``u_view`` is ``T_cam_obj``; the
OpenCV-to-GL flip is folded into ``u_proj``) so the fragment shader can write the exact
camera depth ``z`` as a perspective-correct varying. Fragment outputs:

- location 0: RGBA8 colour (sRGB-encoded, alpha = 1 on the surface),
- location 1: R32F camera z (metres),
- location 2: RGBA32F rest position (object frame = world minus the renderer's origin),
- location 3: R32I per-vertex label (``flat``: the provoking vertex's label).

Uniform switches (rather than separate programs) keep every attribute active, so one
vertex array serves all modes.
"""

from __future__ import annotations

VERTEX_SHADER = """
#version 330
uniform mat4 u_view;   // object -> OpenCV camera
uniform mat4 u_proj;   // OpenCV camera -> clip
in vec3 in_pos;
in vec3 in_rest;
in vec3 in_normal;
in vec2 in_uv;
in int in_label;
out vec3 v_cam;
out vec3 v_rest;
out vec3 v_normal;
out vec2 v_uv;
flat out int v_label;
void main() {
    vec4 p_cam = u_view * vec4(in_pos, 1.0);
    v_cam = p_cam.xyz;
    v_rest = in_rest;
    v_normal = mat3(u_view) * in_normal;
    v_uv = in_uv;
    v_label = in_label;
    gl_Position = u_proj * p_cam;
}
"""

FRAGMENT_SHADER = """
#version 330
uniform vec3 u_base_color;      // linear RGB
uniform bool u_use_texture;
uniform sampler2D u_texture;    // sRGB texels, t = 0 at image row 0 (glTF v)
uniform bool u_lighting;
uniform bool u_smooth;
uniform vec3 u_light_dir;       // unit, camera frame, surface -> light
uniform float u_ambient;
uniform float u_diffuse;
in vec3 v_cam;
in vec3 v_rest;
in vec3 v_normal;
in vec2 v_uv;
flat in int v_label;
layout(location = 0) out vec4 f_color;
layout(location = 1) out float f_z;
layout(location = 2) out vec4 f_rest;
layout(location = 3) out int f_label;

vec3 srgb_to_linear(vec3 c) {
    return mix(c / 12.92, pow((c + 0.055) / 1.055, vec3(2.4)), step(0.04045, c));
}
vec3 linear_to_srgb(vec3 c) {
    c = clamp(c, 0.0, 1.0);
    return mix(c * 12.92, 1.055 * pow(c, vec3(1.0 / 2.4)) - 0.055, step(0.0031308, c));
}

void main() {
    vec3 albedo = u_base_color;
    if (u_use_texture) {
        albedo *= srgb_to_linear(texture(u_texture, v_uv).rgb);
    }
    vec3 color = albedo;
    if (u_lighting) {
        vec3 n = u_smooth ? v_normal : cross(dFdx(v_cam), dFdy(v_cam));
        n = normalize(n);
        // Two-sided: face the normal towards the camera (meshes may be open or flipped).
        if (dot(n, v_cam) > 0.0) n = -n;
        color = albedo * (u_ambient + u_diffuse * max(dot(n, u_light_dir), 0.0));
    }
    f_color = vec4(linear_to_srgb(color), 1.0);
    f_z = v_cam.z;
    f_rest = vec4(v_rest, 1.0);
    f_label = v_label;
}
"""
