"""prepare: drags lie on the visible surface, trajectories follow the joints, GT attached."""

import numpy as np
import pytest

from partdrag4d.render.rasterizer import Rasterizer
from partdrag4d.scene.assets import ProceduralAssetConfig
from partdrag4d.scene.cameras import RigConfig
from partdrag4d.scene.drags import GtDragsConfig
from partdrag4d.scene.prepare import PrepareConfig, run_prepare


@pytest.fixture(scope="module", params=["cabinet", "drawers"])
def scene(request):
    cfg = PrepareConfig(
        asset=ProceduralAssetConfig(category=request.param, seed=3),
        drags=GtDragsConfig(num_frames=8),
        rig=RigConfig(num_views=3, width=96, height=96),
    )
    return run_prepare(cfg, np.random.default_rng(0))


def test_drags_project_onto_visible_surface(scene):
    rig, drags = scene.cameras, scene.drags
    assert drags.num_drags >= 1 and drags.visible.any()
    diag = scene.mesh.bbox_diagonal()
    with Rasterizer(scene.mesh, rig.width, rig.height) as rast:
        for v in range(rig.num_views):
            out = rast.render(rig.K[v], rig.T_cam_world[v])
            for d in np.flatnonzero(drags.visible[v]):
                x, y = drags.points_2d[v, 0, d]
                i, j = int(y), int(x)
                window = out.rest_xyz[max(i - 1, 0) : i + 2, max(j - 1, 0) : j + 2].reshape(-1, 3)
                dist = np.linalg.norm(window - drags.points_3d[0, d], axis=1)
                assert np.nanmin(dist) < 0.02 * diag


def test_trajectories_follow_the_joints(scene):
    from partdrag4d.assets.kinematics import link_poses_over_time

    gt = scene.gt
    assert gt is not None and gt.joint_values.shape == (8, len(gt.joint_names))
    np.testing.assert_allclose(np.diff(gt.joint_values[[0, -1]], axis=0) != 0, True)
    poses = link_poses_over_time(gt.asset, gt.joint_names, gt.joint_values)
    # Every drag start moves rigidly with some link: find it and check the whole path.
    p0 = scene.drags.points_3d[0]
    for d in range(scene.drags.num_drags):
        errs = []
        for link in range(len(gt.asset.links)):
            rel = poses[:, link] @ np.linalg.inv(poses[0, link])
            pred = rel[:, :3, :3] @ p0[d] + rel[:, :3, 3]
            errs.append(np.abs(pred - scene.drags.points_3d[:, d]).max())
        assert min(errs) < 1e-9
    assert np.linalg.norm(scene.drags.points_3d[-1] - p0, axis=1).min() > 1e-3


def test_vertex_link_matches_mesh(scene):
    assert scene.gt.vertex_link.shape == (scene.mesh.num_vertices,)
