"""generator=files: videos made elsewhere come back as the same VideoSet; bad folders fail."""

import shutil

import numpy as np
import pytest

from partdrag4d.config import PipelineConfig, RuntimeConfig
from partdrag4d.errors import InputError
from partdrag4d.generate.files_backend import FilesGeneratorConfig, generate_from_files
from partdrag4d.generate.render_backend import RenderGeneratorConfig
from partdrag4d.runner import run_stages
from partdrag4d.scene.assets import ProceduralAssetConfig
from partdrag4d.scene.cameras import RigConfig
from partdrag4d.scene.drags import GtDragsConfig
from partdrag4d.store import serialize


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    cfg = PipelineConfig(
        asset=ProceduralAssetConfig(category="box", seed=1),
        drags=GtDragsConfig(num_frames=5),
        rig=RigConfig(num_views=2, width=64, height=48),
        generator=RenderGeneratorConfig(),
        runtime=RuntimeConfig(progress=False),
    )
    done = run_stages(cfg, ["prepare", "generate"])
    scene, videos = done["prepare"], done["generate"]
    root = tmp_path_factory.mktemp("videoset")
    serialize.save(videos, root)
    return scene, videos, root


def _folder(tmp_path, root, use_mp4: bool):
    d = tmp_path / "made_elsewhere"
    d.mkdir()
    shutil.copy(root / "cameras.json", d / "cameras.json")
    for v in range(2):
        if use_mp4:
            shutil.copy(root / "videos" / f"view_{v:02d}.mp4", d / f"view_{v:02d}.mp4")
        else:
            shutil.copytree(root / "videos" / f"view_{v:02d}", d / f"view_{v:02d}")
    return d


def test_png_folders_round_trip(tmp_path, rendered):
    scene, videos, root = rendered
    out = generate_from_files(
        FilesGeneratorConfig(path=str(_folder(tmp_path, root, False))),
        scene,
        np.random.default_rng(0),
    )
    np.testing.assert_array_equal(out.frames, videos.frames)
    np.testing.assert_allclose(out.drags_2d, videos.drags_2d, atol=1e-9)
    np.testing.assert_array_equal(out.drags_visible, videos.drags_visible)
    assert out.gt is None


def test_mp4_files_are_read(tmp_path, rendered):
    scene, videos, root = rendered
    out = generate_from_files(
        FilesGeneratorConfig(path=str(_folder(tmp_path, root, True))),
        scene,
        np.random.default_rng(0),
    )
    assert out.frames.shape == videos.frames.shape
    assert np.abs(out.frames.astype(int) - videos.frames).mean() < 4


def test_frame_count_mismatch_names_the_file(tmp_path, rendered):
    scene, _, root = rendered
    d = _folder(tmp_path, root, False)
    sorted((d / "view_01").glob("*.png"))[-1].unlink()
    with pytest.raises(InputError, match=r"view_01.*frames"):
        generate_from_files(FilesGeneratorConfig(path=str(d)), scene, np.random.default_rng(0))


def test_missing_cameras(tmp_path, rendered):
    scene, _, _ = rendered
    with pytest.raises(InputError, match="cameras.json"):
        generate_from_files(
            FilesGeneratorConfig(path=str(tmp_path)), scene, np.random.default_rng(0)
        )
