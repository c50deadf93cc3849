"""Run folders for the viewer tests: the export cases written as ``partdrag4d`` does."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "export"))

from export_cases import CASES, make_videos, static_case  # noqa: E402

from partdrag4d.export.bundle import export_all  # noqa: E402
from partdrag4d.store import write_nerfstudio  # noqa: E402
from partdrag4d.store.serialize import save_cameras  # noqa: E402
from partdrag4d.store.video_io import write_frames_dir  # noqa: E402

CASE_NAMES = (*sorted(CASES), "static")


def write_run_folder(case: str, root: Path):
    """Write ``root/export`` (with ``nerfstudio/``) and ``root/videos`` for one case, as the
    runner lays a run folder out; return (mesh, articulation)."""
    mesh, art = static_case() if case == "static" else CASES[case]()
    videos = make_videos(mesh, art, size=48)
    export_all(art, mesh, videos, None, root)
    for v in range(videos.num_views):
        write_frames_dir(videos.frames[v], root / "videos" / f"view_{v:02d}")
    save_cameras(videos.cameras, root / "videos" / "cameras.json")
    write_nerfstudio(videos, root / "export" / "nerfstudio", frames_dir=root / "videos")
    return mesh, art
