"""Report and export_all: contents, self-contained HTML, atomic re-export, Chromium."""

from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser

import av
import numpy as np
import pytest
from export_cases import chain_case, drawer_case, make_videos, static_case
from PIL import Image

from partdrag4d.containers import JointMetrics, JointType, Metrics
from partdrag4d.export import export_all
from partdrag4d.export.report import NO_MOVING_PART


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.srcs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.srcs.append(dict(attrs).get("src", ""))


def _img_srcs(path) -> list[str]:
    parser = _Images()
    parser.feed(path.read_text())
    return parser.srcs


_METRICS = Metrics(
    2,
    2,
    ("flap_hinge",),
    (),
    1.0,
    1.25,
    0.01,
    0.002,
    0.5,
    0.5,
    None,
    0.95,
    0.9,
    1.0,
    2.0,
    1.5,
    (
        JointMetrics(
            "door_gt",
            JointType.REVOLUTE,
            True,
            "door_hinge",
            JointType.REVOLUTE,
            True,
            1.25,
            0.01,
            0.002,
            (0.0, 0.5),
            0.5,
        ),
        JointMetrics("flap_gt", JointType.REVOLUTE, matched=False),
    ),
)


@pytest.fixture(scope="module")
def chain_export(tmp_path_factory):
    mesh, art = chain_case()
    videos = make_videos(mesh, art)
    out = tmp_path_factory.mktemp("run")
    paths = export_all(art, mesh, videos, _METRICS, out)
    return out, paths, mesh, art, videos


def test_export_layout_and_json(chain_export):
    out, paths, mesh, art, _ = chain_export
    assert paths.glb == out / "export/model.glb" and paths.glb.stat().st_size > 0
    assert paths.urdf == out / "export/urdf/model.urdf" and paths.urdf.exists()
    data = json.loads(paths.articulation_json.read_text())
    assert data["frame"] == "input" and data["units"] == "m"
    assert [j["name"] for j in data["joints"]] == ["door_hinge", "flap_hinge"]
    flap = data["joints"][1]
    assert flap["parent"] == "door" and flap["child"] == "flap" and flap["type"] == "revolute"
    np.testing.assert_allclose(flap["axis"], art.joints[1].axis)
    np.testing.assert_allclose(flap["values"], art.joints[1].values)
    assert sum(p["num_vertices"] for p in data["parts"]) == mesh.num_vertices
    assert not [p for p in out.iterdir() if p.name.startswith(".export_")]


def test_report_contents(chain_export):
    out, paths, _, art, videos = chain_export
    page = paths.report_html.read_text()
    assert "axis_angle_deg" in page and "1.25" in page  # the metrics table
    assert "<h3>joints</h3>" in page and "door_gt" in page and "flap_gt" in page
    assert NO_MOVING_PART not in page
    srcs = _img_srcs(paths.report_html)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    pngs = sorted(p.name for p in paths.report_dir.glob("*.png") if p.name != "contact_sheet.png")
    assert len(srcs) == len(pngs) == 1 + 3 * videos.num_views
    # The drag arrows change the first frame where a visible drag starts.
    first = np.asarray(Image.open(paths.report_dir / "view_00_first_drags.png"))
    assert (first != videos.frames[0, 0]).any()
    # The side-by-side MP4 decodes to T frames of (input | re-render).
    for v in range(videos.num_views):
        with av.open(str(paths.report_dir / f"side_by_side_view_{v:02d}.mp4")) as container:
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        assert len(frames) == art.T_world_part.shape[0]
        h, w = videos.frames.shape[2:4]
        assert frames[0].shape == (h, 2 * w, 3)
        # The re-render of the exact articulation looks like the input (codec loss only).
        left = frames[-1][:, :w].astype(float)
        right = frames[-1][:, w:].astype(float)
        assert np.abs(left - right).mean() < 12.0


def test_report_contact_sheet_draws_drags_in_their_joints_colours(chain_export):
    """Each drag starts on a part; its dot has that part's colour (the colour of the
    part's joint in the axes and plots), not the drag palette's colour for its index."""
    from partdrag4d.export.report import part_color
    from partdrag4d.viz import DRAG_COLORS

    out, paths, _, art, videos = chain_export
    sheet = np.asarray(Image.open(paths.report_dir / "contact_sheet.png"))
    scale = max(1, 256 // videos.cameras.width)
    allowed = {tuple(c) for c in part_color(np.arange(art.num_parts))} | {(128, 128, 128)}
    for d in np.flatnonzero(videos.drags_visible[0]):
        col, row = np.floor(videos.drags_2d[0, 0, d] * scale).astype(int)
        got = tuple(int(x) for x in sheet[row, col])
        assert got in allowed, (d, got)
    last = np.flatnonzero(videos.drags_visible[0])[-1]
    col, row = np.floor(videos.drags_2d[0, 0, last] * scale).astype(int)
    assert tuple(int(x) for x in sheet[row, col]) != DRAG_COLORS[last]  # not by index


def test_static_export_says_no_moving_part(tmp_path, validate_gltf):
    mesh, art = static_case()
    paths = export_all(art, mesh, make_videos(mesh, art), None, tmp_path)
    assert NO_MOVING_PART in paths.report_html.read_text()
    assert validate_gltf(paths.glb)["issues"]["numErrors"] == 0
    assert json.loads(paths.articulation_json.read_text())["joints"] == []
    assert "<joint" not in paths.urdf.read_text()


def test_reexport_replaces_previous(tmp_path):
    mesh, art = chain_case()
    export_all(art, mesh, make_videos(mesh, art), None, tmp_path)
    stale = tmp_path / "export/urdf/meshes/flap.obj"
    assert stale.exists()
    (tmp_path / "videos").mkdir()  # other stages' outputs must survive
    mesh2, art2 = drawer_case()
    paths = export_all(art2, mesh2, make_videos(mesh2, art2), None, tmp_path)
    assert not stale.exists()  # the old export's files are gone
    assert (tmp_path / "export/urdf/meshes/drawer.obj").exists()
    assert json.loads(paths.articulation_json.read_text())["joints"][0]["name"] == "drawer_slide"
    assert (tmp_path / "videos").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "export",
        "report",
        "report.html",
        "videos",
    ]


def test_failed_export_keeps_previous(tmp_path, monkeypatch):
    mesh, art = chain_case()
    export_all(art, mesh, make_videos(mesh, art), None, tmp_path)
    before = (tmp_path / "export/articulation.json").read_text()

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("partdrag4d.export.bundle.write_report", boom)
    with pytest.raises(RuntimeError):
        export_all(art, mesh, make_videos(mesh, art), None, tmp_path)
    assert (tmp_path / "export/articulation.json").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export", "report", "report.html"]


def test_report_renders_in_chromium(chain_export, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium)")
    _, paths, _, _, _ = chain_export
    shot = tmp_path / "shot.png"
    proc = subprocess.run(
        [
            chromium, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr",
            "--v=0", f"--screenshot={shot}", "--window-size=1280,2000",
            paths.report_html.resolve().as_uri(),
        ],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert shot.exists(), proc.stderr[-2000:]
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line]
    assert not console, console
    image = np.asarray(Image.open(shot).convert("RGB")).astype(float)
    assert image.std() > 5.0  # not a blank page
