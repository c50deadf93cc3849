"""The built-in viewer over its websocket, as a browser meets it (no browser here)."""

import io
import os
import signal
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
from PIL import Image
from viewer_client import ViewerClient

from partdrag4d.viewer import read_run_folder
from partdrag4d.viewer.server import RunViewer, ViewerConfig


@pytest.fixture
def viewer(run_case, free_port):
    name, root, mesh, art = run_case
    server = RunViewer(read_run_folder(root), ViewerConfig(port=free_port))
    client = ViewerClient(server.server.get_port())
    client.wait_for(lambda c: "time" in c.gui and f"/parts/{art.part_names[-1]}" in c.nodes)
    client.settle()
    yield name, root, art, server, client
    client.close()
    server.stop()


def _image(node: dict) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(bytes(node["props"]["_image_data"]))).convert("RGB"))


def test_every_part_and_control_arrives(viewer):
    _, _, art, _, client = viewer
    for p, name in enumerate(art.part_names):
        assert f"/parts/{name}/textured_0" in client.nodes
        colour = client.nodes[f"/parts/{name}/colour"]["props"]
        assert len(colour["faces"]) // 3 == int((art.face_part == p).sum())
    for joint in art.joints:
        assert client.gui[joint.name]["type"] == "GuiSliderMessage"
        lo, hi = client.gui[joint.name]["props"]["min"], client.gui[joint.name]["props"]["max"]
        assert lo <= joint.values.min() and joint.values.max() <= hi
    assert {"time", "play", "part colours", "joint axes", "cameras"} <= set(client.gui)
    assert {"/cameras/view_00", "/cameras/view_01"} <= set(client.nodes)


def test_time_slider_poses_every_part_and_shows_the_frame(viewer):
    _, root, art, _, client = viewer
    first = _image(client.nodes["/cameras/view_00"])
    num_frames = art.T_world_part.shape[0]
    for t in (num_frames - 1, num_frames // 2):
        client.move("time", t / (num_frames - 1))
        client.settle()
        for p, name in enumerate(art.part_names):
            np.testing.assert_allclose(
                client.pose(f"/parts/{name}"), art.T_world_part[t, p], atol=1e-6
            )
        for joint in art.joints:  # the joint sliders follow the time
            assert client.gui[joint.name]["value"] == pytest.approx(joint.values[t], abs=1e-6)
    last = _image(client.nodes["/cameras/view_00"])
    if art.joints:  # the frustum shows the current video frame
        assert np.abs(last.astype(int) - first.astype(int)).max() > 30


def test_joint_slider_moves_its_subtree_only(viewer):
    name, _, art, _, client = viewer
    if not art.joints:
        pytest.skip("a static result has no joint")
    client.move("time", 1.0)
    client.settle()
    before = {n: client.pose(f"/parts/{n}") for n in art.part_names}
    joint = art.joints[0]
    client.move(joint.name, float(joint.values[-1]) / 2)
    client.settle()
    moved = {n for n in art.part_names if not np.allclose(client.pose(f"/parts/{n}"), before[n])}
    expected = {"chain": {"door", "flap"}}.get(name, {joint.child})
    assert moved == expected


def test_toggles_switch_colours_and_axes(viewer):
    _, _, art, _, client = viewer
    base = art.part_names[0]
    assert not client.shown(f"/parts/{base}/colour") and client.shown(f"/parts/{base}/textured_0")
    client.move("part colours", True)
    client.settle()
    assert client.shown(f"/parts/{base}/colour") and not client.shown(f"/parts/{base}/textured_0")
    client.move("cameras", False)
    client.settle()
    assert not client.shown("/cameras/view_00")
    if art.joints:
        axis = f"/parts/{art.joints[0].parent}/joint_{art.joints[0].name}"
        assert client.shown(axis)
        client.move("joint axes", False)
        client.settle()
        assert not client.shown(axis)


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize(
    "stop, started_ignoring_sigint",
    [(signal.SIGINT, False), (signal.SIGINT, True), (signal.SIGTERM, False)],
    ids=["ctrl_c", "ctrl_c_in_background_job", "kill"],
)
def test_cli_serves_on_localhost_and_stops_on_ctrl_c(
    tmp_path, free_port, stop, started_ignoring_sigint
):
    # A background job starts with SIGINT ignored; the viewer still stops on it.
    from run_folders import write_run_folder

    root = tmp_path / "run"
    write_run_folder("chain", root)
    proc = subprocess.Popen(
        [sys.executable, "-m", "partdrag4d", "view", str(root), "--port", str(free_port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=_ignore_sigint if started_ignoring_sigint else None,
    )
    try:
        url = None
        end = time.monotonic() + 60
        while url is None and time.monotonic() < end:
            line = proc.stdout.readline()
            if "partdrag4d view:" in line and " at http://" in line:
                url = line.split(" at ")[1].split()[0]
        assert url == f"http://127.0.0.1:{free_port}"
        with urllib.request.urlopen(url, timeout=10) as page:
            assert page.status == 200
        proc.send_signal(stop)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0 and "stopped" in out and "Traceback" not in out
    finally:
        proc.kill()


def test_cli_bad_run_folder_is_one_line(tmp_path):
    res = subprocess.run(
        [sys.executable, "-m", "partdrag4d", "view", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "run folder: not found" in res.stderr


def test_stop_closes_every_connection(run_case, free_port):
    _, root, _, _ = run_case
    server = RunViewer(read_run_folder(root), ViewerConfig(port=free_port))
    client = ViewerClient(free_port)
    client.wait_for(lambda c: "time" in c.gui)
    server.stop()
    client._thread.join(timeout=10)
    assert not client._thread.is_alive() and not server._player.is_alive()
