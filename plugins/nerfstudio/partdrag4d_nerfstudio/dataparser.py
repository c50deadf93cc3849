"""``partdrag4d-run``: a partdrag4d run folder as a nerfstudio dataset, frame kept."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from nerfstudio.cameras.cameras import Cameras, CameraType
from nerfstudio.data.dataparsers.base_dataparser import (
    DataParser,
    DataParserConfig,
    DataparserOutputs,
)
from nerfstudio.data.scene_box import SceneBox
from nerfstudio.plugins.registry_dataparser import DataParserSpecification


@dataclass
class RunFolderDataParserConfig(DataParserConfig):
    """Reads ``<data>/export/nerfstudio/transforms.json`` (``<data>`` is the run folder)."""

    _target: type = field(default_factory=lambda: RunFolderDataParser)
    data: Path = Path()
    """The run folder (``out_dir`` of a partdrag4d run)."""
    scene_margin: float = 0.25
    """The scene box: the cameras' bounding box grown by this fraction of its size."""


class RunFolderDataParser(DataParser):
    """Every (view, frame) image with its camera and time; no re-orientation or scaling."""

    config: RunFolderDataParserConfig
    includes_time: bool = True

    def _generate_dataparser_outputs(self, split: str = "train", **kwargs) -> DataparserOutputs:
        root = Path(self.config.data)
        folder = root / "export" / "nerfstudio"
        doc = json.loads((folder / "transforms.json").read_text())
        frames = doc["frames"]
        c2w = torch.tensor([f["transform_matrix"] for f in frames], dtype=torch.float32)

        def intrinsic(key: str) -> torch.Tensor:
            return torch.tensor([[float(f.get(key, doc.get(key)))] for f in frames])

        cameras = Cameras(
            camera_to_worlds=c2w[:, :3, :4],
            fx=intrinsic("fl_x"),
            fy=intrinsic("fl_y"),
            cx=intrinsic("cx"),
            cy=intrinsic("cy"),
            width=intrinsic("w").long(),
            height=intrinsic("h").long(),
            camera_type=CameraType.PERSPECTIVE,
            times=torch.tensor([[float(f["time"])] for f in frames]),
        )
        centres = c2w[:, :3, 3].numpy()
        lo, hi = centres.min(0), centres.max(0)
        grow = self.config.scene_margin * float(np.max(hi - lo) or 1.0)
        aabb = torch.tensor(np.stack([lo - grow, hi + grow]), dtype=torch.float32)
        return DataparserOutputs(
            image_filenames=[folder / f["file_path"] for f in frames],
            cameras=cameras,
            scene_box=SceneBox(aabb=aabb),
            metadata={"run_dir": str(root.resolve())},
        )


run_folder_dataparser = DataParserSpecification(
    config=RunFolderDataParserConfig(),
    description="a partdrag4d run folder: its videos in the input world frame, with time",
)
