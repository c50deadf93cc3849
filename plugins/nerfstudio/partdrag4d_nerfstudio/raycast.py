"""Ray casting of posed rigid parts (Moller-Trumbore, batched in torch)."""

from __future__ import annotations

import torch


def cast_part(
    origins: torch.Tensor, directions: torch.Tensor, triangles: torch.Tensor, chunk: int = 512
) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest hit of every ray with one part's triangles (same frame for both).

    Args:
        origins, directions: (R, 3) rays.
        triangles: (F, 3, 3) corners.
        chunk: triangles per batch (bounds the R x chunk temporaries).

    Returns:
        ``(distance (R,), face (R,))``: ``inf`` / ``-1`` where a ray misses.
    """
    best = torch.full(origins.shape[:1], float("inf"), device=origins.device)
    face = torch.full(origins.shape[:1], -1, dtype=torch.long, device=origins.device)
    for start in range(0, len(triangles), chunk):
        tri = triangles[start : start + chunk]
        v0, e1, e2 = tri[:, 0], tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
        p = torch.cross(directions[:, None], e2[None], dim=-1)  # (R, F, 3)
        det = (e1[None] * p).sum(-1)
        ok = det.abs() > 1e-12
        inv = torch.where(ok, 1.0 / torch.where(ok, det, torch.ones_like(det)), 0.0)
        s = origins[:, None] - v0[None]
        u = (s * p).sum(-1) * inv
        q = torch.cross(s, e1[None].expand_as(s), dim=-1)
        v = (directions[:, None] * q).sum(-1) * inv
        t = (e2[None] * q).sum(-1) * inv
        hit = ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 1e-6)
        t = torch.where(hit, t, torch.full_like(t, float("inf")))
        t_min, f_min = t.min(dim=1)
        closer = t_min < best
        best = torch.where(closer, t_min, best)
        face = torch.where(closer, f_min + start, face)
    return best, face


def cast_parts(
    origins: torch.Tensor,
    directions: torch.Tensor,
    triangles: list[torch.Tensor],
    poses: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Nearest hit over parts each moved by its rest-world -> world pose.

    Returns:
        ``(distance (R,), part (R,), normal (R, 3))``: the hit distance along the ray
        (``inf`` on a miss), the part hit (``-1``) and the world normal there.
    """
    best = torch.full(origins.shape[:1], float("inf"), device=origins.device)
    part = torch.full(origins.shape[:1], -1, dtype=torch.long, device=origins.device)
    normal = torch.zeros_like(origins)
    for p, tri in enumerate(triangles):
        if len(tri) == 0:
            continue
        rot, trans = poses[p, :3, :3], poses[p, :3, 3]
        local_o = (origins - trans) @ rot  # R^T (o - t), row vectors
        local_d = directions @ rot
        dist, face = cast_part(local_o, local_d, tri)
        closer = dist < best
        if closer.any():
            f = tri[face[closer]]
            n = torch.cross(f[:, 1] - f[:, 0], f[:, 2] - f[:, 0], dim=-1) @ rot.T
            normal[closer] = torch.nn.functional.normalize(n, dim=-1)
            best = torch.where(closer, dist, best)
            part = torch.where(closer, torch.full_like(part, p), part)
    return best, part, normal
