"""Mesh segmentation from labelled surface points: every vertex and face gets a part,
including surface no camera saw, and the mesh can be split along part boundaries.

Labels come from tracked anchors (rest-state points with a part index, -1 = unknown).
Vertices vote from nearby anchors; a welded connected component that is almost
entirely one part takes that part; the rest propagates over mesh edges, and surfaces
unreachable by edges take the nearest labelled vertex's part.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float, Int
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from partdrag4d.containers import Primitive, SceneMesh


@dataclass(frozen=True)
class SegmentConfig:
    """Settings of vertex labelling."""

    knn: int = 8
    """Anchors consulted per vertex."""
    radius: float = 0.03
    """Anchors farther than this (fraction of the bbox diagonal) do not vote directly."""
    component_majority: float = 0.9
    """A welded component whose voting vertices agree at least this much is one part."""
    weld_tolerance: float = 1e-6
    """Vertices closer than this (fraction of the diagonal) are welded for connectivity."""


def weld(vertices: Float[np.ndarray, "N 3"], tol: float) -> Int[np.ndarray, "N"]:
    """Index of a representative for every vertex (coincident vertices share one)."""
    key = np.round(vertices / max(tol, 1e-300)).astype(np.int64)
    _, inv = np.unique(key, axis=0, return_inverse=True)
    return inv.reshape(-1)


def _adjacency(rep: np.ndarray, faces: np.ndarray, n: int):
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    e = rep[e]
    data = np.ones(len(e) * 2)
    return coo_matrix((data, (np.r_[e[:, 0], e[:, 1]], np.r_[e[:, 1], e[:, 0]])), (n, n)).tocsr()


def label_vertices(
    vertices: Float[np.ndarray, "N 3"],
    faces: Int[np.ndarray, "F 3"],
    points: Float[np.ndarray, "M 3"],
    point_part: Int[np.ndarray, "M"],
    num_parts: int,
    cfg: SegmentConfig,
) -> Int[np.ndarray, "N"]:
    """Part index of every vertex from labelled surface points.

    Args:
        vertices: rest-state mesh vertices.
        faces: triangles.
        points: labelled rest-state surface points.
        point_part: their part index (-1 = unknown, ignored).
        num_parts: number of parts P.
        cfg: settings.

    Returns:
        Part index in ``[0, P)`` per vertex (0 when nothing is labelled at all).
    """
    diag = float(np.linalg.norm(vertices.max(0) - vertices.min(0))) or 1.0
    keep = point_part >= 0
    points, point_part = points[keep], point_part[keep]
    if len(points) == 0:
        return np.zeros(len(vertices), np.int64)
    rep = weld(vertices, cfg.weld_tolerance * diag)
    n = int(rep.max()) + 1
    wv = np.zeros((n, 3))
    wv[rep] = vertices
    # 1. Direct, distance-weighted votes of nearby anchors.
    k = min(cfg.knn, len(points))
    d, idx = cKDTree(points).query(wv, k=k, distance_upper_bound=cfg.radius * diag)
    d, idx = d.reshape(n, k), idx.reshape(n, k)
    votes = np.zeros((n, num_parts))
    valid = np.isfinite(d)
    rows = np.repeat(np.arange(n)[:, None], k, 1)[valid]
    np.add.at(votes, (rows, point_part[idx[valid]]), 1.0 / (d[valid] + 1e-3 * diag))
    label = np.where(votes.sum(1) > 0, votes.argmax(1), -1)
    # 2. Components that (almost) agree become one part.
    adj = _adjacency(rep, faces, n)
    ncomp, comp = connected_components(adj, directed=False)
    for c in range(ncomp):
        m = comp == c
        lab = label[m]
        lab = lab[lab >= 0]
        if len(lab) == 0:
            continue
        counts = np.bincount(lab, minlength=num_parts)
        if counts.max() >= cfg.component_majority * len(lab):
            label[m] = counts.argmax()
    # 3. Propagate over edges (majority of labelled neighbours), ring by ring.
    adj = adj.tocsr()
    while True:
        un = np.nonzero(label < 0)[0]
        if len(un) == 0:
            break
        onehot = np.zeros((n, num_parts))
        lab_idx = np.nonzero(label >= 0)[0]
        onehot[lab_idx, label[lab_idx]] = 1.0
        nb = adj[un] @ onehot
        has = nb.sum(1) > 0
        if not has.any():
            break
        label[un[has]] = nb[has].argmax(1)
    # 4. Unreachable surfaces: nearest labelled vertex.
    un = label < 0
    if un.any():
        lab_idx = np.nonzero(~un)[0]
        _, j = cKDTree(wv[lab_idx]).query(wv[un])
        label[un] = label[lab_idx[j]]
    return label[rep].astype(np.int64)


def face_labels(
    faces: Int[np.ndarray, "F 3"], vertex_part: Int[np.ndarray, "N"]
) -> Int[np.ndarray, "F"]:
    """Majority part of each face's three vertices (first vertex's on a three-way tie)."""
    lab = vertex_part[faces]
    a, b, c = lab[:, 0], lab[:, 1], lab[:, 2]
    return np.where((b == c) & (a != b), b, a).astype(np.int64)


def split_mesh(
    mesh: SceneMesh, face_part: Int[np.ndarray, "F"], num_parts: int
) -> list[SceneMesh | None]:
    """Split a mesh into one mesh per part (faces by ``face_part``; None for an empty
    part). Vertices are re-indexed per primitive; materials and uvs are kept."""
    out: list[SceneMesh | None] = []
    offs = np.cumsum([0] + [len(p.faces) for p in mesh.primitives])
    for k in range(num_parts):
        prims = []
        for i, p in enumerate(mesh.primitives):
            sel = face_part[offs[i] : offs[i + 1]] == k
            if not sel.any():
                continue
            f = p.faces[sel]
            used, inv = np.unique(f, return_inverse=True)
            uvs = None if p.uvs is None else p.uvs[used]
            prims.append(Primitive(p.vertices[used], inv.reshape(-1, 3), p.material, uvs))
        out.append(SceneMesh(tuple(prims)) if prims else None)
    return out
