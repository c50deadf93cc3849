"""The viewer in a real browser: headless Chromium renders what the server sends."""

import shutil

import numpy as np
import pytest
from cdp import Browser
from run_folders import write_run_folder

from partdrag4d.viewer import read_run_folder
from partdrag4d.viewer.server import RunViewer, ViewerConfig


def _changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.astype(int) - b.astype(int)).max(axis=2) > 24


@pytest.mark.slow
def test_screenshots_move_where_the_parts_are(tmp_path, free_port):
    if shutil.which("chromium") is None and shutil.which("chromium-browser") is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium)")
    root = tmp_path / "run"
    _, art = write_run_folder("chain", root)
    viewer = RunViewer(read_run_folder(root), ViewerConfig(port=free_port))
    viewer.show_cameras.value = False  # the frustum images change with time too
    viewer.show_axes.value = False
    browser = Browser()
    try:
        browser.open(viewer.url)
        moving = viewer.part_frames[1:]
        shots = {}
        for t in (0.0, 1.0):
            viewer.set_time(t)
            shots[t, True] = browser.steady_screenshot()
            for frame in moving:
                frame.visible = False
            shots[t, False] = browser.steady_screenshot()
            for frame in moving:
                frame.visible = True
    finally:
        browser.close()
        viewer.stop()
    parts_at_0 = _changed(shots[0.0, True], shots[0.0, False])  # where the moving parts are
    parts_at_1 = _changed(shots[1.0, True], shots[1.0, False])
    controls = _changed(shots[0.0, False], shots[1.0, False])  # the time slider itself
    diff = _changed(shots[0.0, True], shots[1.0, True])
    assert parts_at_0.sum() > 500 and parts_at_1.sum() > 500, "the parts are not drawn"
    assert controls.sum() < 0.02 * controls.size, "something besides the slider changed"
    explained = parts_at_0 | parts_at_1 | controls
    assert (diff & ~explained).sum() <= 0.002 * diff.size  # agree away from the parts
    assert (diff & (parts_at_0 ^ parts_at_1)).sum() >= 0.5 * (parts_at_0 ^ parts_at_1).sum()
