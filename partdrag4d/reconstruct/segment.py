"""Mesh segmentation from labelled surface points: every face and vertex gets a part,
including surface no camera saw, and the mesh can be split along part boundaries.

Labels come from tracked anchors (rest-state points with a part index, -1 = unknown),
which vote for the triangle they lie on; see :func:`label_faces`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float, Int
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


@dataclass
class SegmentConfig:
    """Settings of face/vertex labelling."""

    surface_tolerance: float = 0.002
    """Anchors farther than this from the mesh (fraction of the bbox diagonal) do not
    vote."""
    component_majority: float = 0.9
    """A welded component whose voting faces agree at least this much is one part."""
    min_component_votes: int = 8
    """A welded component with fewer voting points than this ignores them and takes the
    part of the labelled surface it touches (a few stray points on a drawer's hidden
    tray or a carcass divider are often tracked with the neighbouring part)."""
    weld_tolerance: float = 1e-6
    """Vertices closer than this (fraction of the diagonal) are welded for connectivity."""


def weld(vertices: Float[np.ndarray, "N 3"], tol: float) -> Int[np.ndarray, "N"]:
    """Index of a representative for every vertex (coincident vertices share one)."""
    key = np.round(vertices / max(tol, 1e-300)).astype(np.int64)
    _, inv = np.unique(key, axis=0, return_inverse=True)
    return inv.reshape(-1)


def face_adjacency(rep: np.ndarray, faces: np.ndarray):
    """Faces sharing a (welded) vertex are adjacent (sparse F x F)."""
    F = len(faces)
    inc = coo_matrix(
        (np.ones(3 * F), (np.repeat(np.arange(F), 3), rep[faces].ravel())),
        (F, int(rep.max()) + 1),
    ).tocsr()
    return (inc @ inc.T).tocsr()


def anchor_normals(
    vertices: Float[np.ndarray, "V 3"],
    faces: Int[np.ndarray, "F 3"],
    points: Float[np.ndarray, "N 3"],
) -> Float[np.ndarray, "N 3"]:
    """Unit normal of the mesh face nearest each surface point (sign as the winding)."""
    import trimesh

    tm = trimesh.Trimesh(vertices, faces, process=False)
    _, _, tri = trimesh.proximity.closest_point(tm, points)
    return np.asarray(tm.face_normals)[tri]


def label_faces(
    vertices: Float[np.ndarray, "N 3"],
    faces: Int[np.ndarray, "F 3"],
    points: Float[np.ndarray, "M 3"],
    point_part: Int[np.ndarray, "M"],
    num_parts: int,
    cfg: SegmentConfig,
) -> Int[np.ndarray, "F"]:
    """Part index of every face from labelled surface points.

    Each point votes for the triangle it lies on; a welded connected component whose
    votes (almost) agree becomes one part; other unlabelled faces take the majority of
    their labelled neighbours, ring by ring; faces unreachable that way take the nearest
    labelled face's part.

    Args:
        vertices: rest-state mesh vertices.
        faces: triangles.
        points: labelled rest-state surface points.
        point_part: their part index (-1 = unknown, ignored).
        num_parts: number of parts P.
        cfg: settings.

    Returns:
        Part index in ``[0, P)`` per face (0 when nothing is labelled at all).
    """
    import trimesh

    F = len(faces)
    diag = float(np.linalg.norm(vertices.max(0) - vertices.min(0))) or 1.0
    keep = point_part >= 0
    points, point_part = points[keep], point_part[keep]
    if len(points) == 0:
        return np.zeros(F, np.int64)
    tm = trimesh.Trimesh(vertices, faces, process=False)
    _, dist, tri = trimesh.proximity.closest_point(tm, points)
    on = dist <= cfg.surface_tolerance * diag
    votes = np.zeros((F, num_parts))
    np.add.at(votes, (tri[on], point_part[on]), 1.0)
    label = np.where(votes.sum(1) > 0, votes.argmax(1), -1)
    rep = weld(vertices, cfg.weld_tolerance * diag)
    adj = face_adjacency(rep, faces)
    ncomp, comp = connected_components(adj, directed=False)
    weak = []
    for c in range(ncomp):
        m = comp == c
        v = votes[m].sum(0)
        if 0 < v.sum() < cfg.min_component_votes:
            weak.append(c)
        elif v.sum() > 0 and v.max() >= cfg.component_majority * v.sum():
            label[m] = v.argmax()
    if len(weak) < ncomp:
        label[np.isin(comp, weak)] = -1
    while True:
        un = np.nonzero(label < 0)[0]
        if len(un) == 0:
            break
        onehot = np.zeros((F, num_parts))
        li = np.nonzero(label >= 0)[0]
        onehot[li, label[li]] = 1.0
        nb = adj[un] @ onehot
        has = nb.sum(1) > 0
        if not has.any():
            break
        label[un[has]] = nb[has].argmax(1)
    # Components nothing reaches (a drawer's tray hidden inside the carcass) take the
    # part of the labelled surface they come closest to: the tray touches its own
    # drawer front, while it only faces the carcass across a gap. Among parts touching
    # it equally (a hinge knuckle between two arms), its few votes decide. One query for
    # all their vertices: each finds its nearest labelled face, and a part's distance to
    # a component is the least over the vertices it is nearest to.
    li = np.nonzero(label >= 0)[0]
    unreached = np.unique(comp[label < 0])
    if len(li) and len(unreached):
        labelled = trimesh.Trimesh(vertices, faces[li], process=False)
        vi = np.unique(faces[np.isin(comp, unreached)])
        vdist, vpart = np.full(len(vertices), np.inf), np.full(len(vertices), -1)
        _, near, tri = trimesh.proximity.closest_point(labelled, vertices[vi])
        vdist[vi], vpart[vi] = near, label[li][tri]
        tol = cfg.surface_tolerance * diag
        for c in unreached:
            m = np.nonzero(comp == c)[0]
            vc = np.unique(faces[m])
            dist, part = vdist[vc], vpart[vc]
            d = {int(k): float(dist[part == k].min()) for k in np.unique(part)}
            best = min(d, key=d.__getitem__)
            v = votes[m].sum(0)
            touching = [k for k in d if d[k] <= d[best] + tol]
            label[m] = int(v.argmax()) if v.sum() > 0 and v.argmax() in touching else best
    return label.astype(np.int64)


def vertex_labels(
    faces: Int[np.ndarray, "F 3"],
    face_part: Int[np.ndarray, "F"],
    num_vertices: int,
    num_parts: int,
) -> Int[np.ndarray, "N"]:
    """Majority part of the faces around each vertex (0 for unreferenced vertices)."""
    votes = np.zeros((num_vertices, num_parts))
    np.add.at(votes, (faces.ravel(), np.repeat(face_part, 3)), 1.0)
    return votes.argmax(1).astype(np.int64)
