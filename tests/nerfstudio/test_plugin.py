"""The nerfstudio plugin, the way a user meets it: ns-train on a run folder, then ns-viewer.

Runs in ``.venv-nerfstudio/`` (``make nerfstudio``; ``make test`` builds it and sets
``PARTDRAG4D_NERFSTUDIO``, so that there a missing environment fails instead of skipping).
"""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from ns_viewer_client import NerfstudioViewerClient
from scipy.ndimage import binary_dilation

sys.path.insert(0, str(Path(__file__).parents[1] / "viewer"))
from run_folders import write_run_folder  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("PARTDRAG4D_NERFSTUDIO", REPO / ".venv-nerfstudio")).resolve()
SIDE = 64  # "Max res" set in the viewer (its least), the height of a still view's image
SCALE = 10.0  # nerfstudio's viewer draws the scene x10 (VISER_NERFSTUDIO_SCALE_RATIO)


@pytest.fixture(scope="module")
def ns_bin() -> Path:
    if not (VENV / "bin" / "ns-train").exists():
        if "PARTDRAG4D_NERFSTUDIO" in os.environ:
            pytest.fail(f"{VENV} has no ns-train: `make nerfstudio` did not install it")
        pytest.skip("no .venv-nerfstudio/ (make nerfstudio)")
    return VENV / "bin"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _train(ns_bin: Path, run: Path, out: Path, iterations: int = 30) -> Path:
    cmd = [
        str(ns_bin / "ns-train"),
        "partdrag4d-articulation",
        "--data", str(run),
        "--output-dir", str(out),
        "--experiment-name", "run",
        "--timestamp", "test",
        "--max-num-iterations", str(iterations),
        "--vis", "tensorboard",
    ]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=out.parent)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    config = out / "run" / "partdrag4d-articulation" / "test" / "config.yml"
    assert config.is_file()
    return config


def _moving_mask(mesh, art, K, T_cam_world, size, t) -> np.ndarray:
    """Pixels showing a moving part at frame t (the project's rasteriser, as a reference)."""
    from partdrag4d.render.rasterizer import Rasterizer, render_video

    T = art.T_world_part[t][art.vertex_part]
    posed = np.einsum("nij,nj->ni", T[:, :3, :3], mesh.vertices) + T[:, :3, 3]
    with Rasterizer(mesh, size, size) as rasterizer:
        label = render_video(rasterizer, K, T_cam_world, posed[None], art.vertex_part).label[0]
    return label >= 1


@pytest.mark.slow
def test_train_then_view_with_time_and_joint_sliders(ns_bin, tmp_path):
    run = tmp_path / "run"
    mesh, art = write_run_folder("chain", run)
    config = _train(ns_bin, run, tmp_path / "ns")
    port = _free_port()
    viewer = subprocess.Popen(
        [
            str(ns_bin / "ns-viewer"),
            "--load-config",
            str(config),
            "--viewer.websocket-host",
            "127.0.0.1",
            "--viewer.websocket-port",
            str(port),
        ],  # fmt: skip
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )
    client = None
    try:
        end = time.monotonic() + 180
        while client is None and time.monotonic() < end:
            assert viewer.poll() is None, viewer.stdout.read()[-3000:]
            try:
                client = NerfstudioViewerClient(port)
            except OSError:
                time.sleep(0.5)
        assert client is not None, "ns-viewer did not listen"
        names = [j.name for j in art.joints]
        client.wait_for(lambda c: {"Time", "joints follow time", *names} <= set(c.gui))
        assert client.gui["Time"].get("visible") is True  # includes_time: the slider shows
        for joint in art.joints:
            slider = client.gui[joint.name]
            assert slider["min"] <= joint.values.min() and joint.values.max() <= slider["max"]

        cams = json.loads((run / "videos" / "cameras.json").read_text())
        K48 = np.array(cams["views"][0]["K"])
        T_cam_world = np.array(cams["views"][0]["T_cam_world"])
        fov = 2 * np.arctan(cams["height"] / (2 * K48[1, 1]))
        client.send_camera(np.linalg.inv(T_cam_world), fov, 1.0, SCALE)
        client.move("Max res", SIDE)  # the still view's image: SIDE x SIDE (aspect 1)
        at_0 = client.next_image(SIDE)
        client.move("Time", 1.0)
        at_1 = client.next_image(SIDE)
        client.move("joints follow time", False)  # the joint sliders take over (all at 0)
        by_hand = client.next_image(SIDE)
    finally:
        if client is not None:
            client.close()
        viewer.terminate()
        viewer.wait(timeout=30)

    size = at_0.shape[0]
    K = K48 * np.array([[size / 48], [size / 48], [1.0]])
    moving = _moving_mask(mesh, art, K, T_cam_world, size, 0) | _moving_mask(
        mesh, art, K, T_cam_world, size, art.T_world_part.shape[0] - 1
    )
    changed = np.abs(at_0.astype(int) - at_1.astype(int)).max(axis=2) > 30
    assert changed.mean() > 0.05, "the Time slider did not move the parts"
    assert (changed & ~binary_dilation(moving, iterations=4)).mean() < 0.002  # nothing else
    back = np.abs(at_0.astype(int) - by_hand.astype(int)).max(axis=2) > 30
    assert back.mean() < 0.01, "joint sliders at 0 do not give the rest pose"


@pytest.mark.slow
@pytest.mark.parametrize("case", ["drawer", "static"])
def test_fitted_colours_explain_the_videos(ns_bin, tmp_path, case):
    """A prismatic joint and a result with no moving part train and evaluate too, and the
    fitted colours explain the videos better than the initial ones."""
    run = tmp_path / "run"
    write_run_folder(case, run)
    psnr = {}
    for iterations in (1, 100):
        config = _train(ns_bin, run, tmp_path / f"ns_{iterations}", iterations)
        out = tmp_path / f"eval_{iterations}.json"
        cmd = [str(ns_bin / "ns-eval"), "--load-config", str(config), "--output-path", str(out)]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
        psnr[iterations] = json.loads(out.read_text())["results"]["psnr"]
    assert psnr[100] > psnr[1] + 3.0, psnr  # the fit explains the videos better
