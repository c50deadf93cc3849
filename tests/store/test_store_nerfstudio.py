"""nerfstudio export: camera convention conversion and file layout."""

from __future__ import annotations

import dataclasses

import numpy as np
from store_helpers import make_cameras

from partdrag4d.store.nerfstudio import (
    nerfstudio_to_opencv,
    opencv_to_nerfstudio,
    read_nerfstudio_cameras,
    write_nerfstudio,
)
from partdrag4d.store.video_io import read_png


def project_opencv(K, T_cam_world, X):
    x = (T_cam_world @ np.append(X, 1.0))[:3]
    return (K @ x)[:2] / x[2]


def project_nerfstudio(entry_or_doc, c2w, X):
    """Pinhole projection the way nerfstudio/OpenGL cameras see it (camera looks down -z)."""
    x, y, z = (np.linalg.inv(c2w) @ np.append(X, 1.0))[:3]
    fx, fy, cx, cy = (entry_or_doc[k] for k in ("fl_x", "fl_y", "cx", "cy"))
    return np.array([fx * x / -z + cx, fy * -y / -z + cy])


def test_conversion_is_inverse_and_keeps_camera_centre(rng):
    T = make_cameras(rng, 3).T_cam_world
    for T_cw in T:
        c2w = opencv_to_nerfstudio(T_cw)
        np.testing.assert_allclose(nerfstudio_to_opencv(c2w), T_cw, atol=1e-12)
        np.testing.assert_allclose(c2w[:3, 3], np.linalg.inv(T_cw)[:3, 3], atol=1e-12)
        # nerfstudio cameras look down their -z axis: -z_gl == +z_cv in world coordinates
        np.testing.assert_allclose(-c2w[:3, 2], np.linalg.inv(T_cw)[:3, 2], atol=1e-12)


def test_write_nerfstudio_round_trip_and_projection(video_set, tmp_path):
    path = write_nerfstudio(video_set, tmp_path / "ns")
    K, T_cw, entries = read_nerfstudio_cameras(path)
    V, T = video_set.num_views, video_set.num_frames
    assert len(entries) == V * T
    X = np.array([0.1, -0.2, 0.05])
    for entry, K_i, T_i in zip(entries, K, T_cw, strict=True):
        v, t = entry["view"], entry["frame"]
        np.testing.assert_allclose(T_i, video_set.cameras.T_cam_world[v], atol=1e-12)
        np.testing.assert_allclose(K_i, video_set.cameras.K[v], atol=1e-12)
        assert entry["time"] == t / (T - 1)
        img = read_png(tmp_path / "ns" / entry["file_path"])
        np.testing.assert_array_equal(img, video_set.frames[v, t])
        uv_cv = project_opencv(video_set.cameras.K[v], video_set.cameras.T_cam_world[v], X)
        uv_ns = project_nerfstudio(entry, np.array(entry["transform_matrix"]), X)
        np.testing.assert_allclose(uv_ns, uv_cv, atol=1e-9)


def test_shared_intrinsics_written_once(video_set, rng, tmp_path):
    vs = dataclasses.replace(video_set, cameras=make_cameras(rng, 2, 11, 9, shared_K=True))
    import json

    doc = json.loads(write_nerfstudio(vs, tmp_path / "ns").read_text())
    assert doc["camera_model"] == "OPENCV" and doc["w"] == 11 and doc["h"] == 9
    assert all("fl_x" not in f for f in doc["frames"])
    K, _, _ = read_nerfstudio_cameras(tmp_path / "ns" / "transforms.json")
    np.testing.assert_allclose(K, np.repeat(vs.cameras.K, vs.num_frames, axis=0))
