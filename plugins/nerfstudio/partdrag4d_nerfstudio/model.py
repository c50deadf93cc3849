"""The articulation as a nerfstudio model: posed parts, ray-cast, one colour per part.

The geometry and the motion are partdrag4d's reconstruction (read from the run folder,
never trained). What is fitted to the videos is the appearance of that model: one RGB
colour per part and a background colour, shaded by the angle between ray and surface.
A good articulation explains the videos with these few numbers; a wrong part or joint
shows up as a colour bleeding across a boundary in the viewer and a worse PSNR.

Viewer: nerfstudio's Time slider poses the parts at that time; with ``joints follow
time`` off, one slider per joint poses them by hand (radians or metres).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from nerfstudio.cameras.rays import RayBundle
from nerfstudio.models.base_model import Model, ModelConfig
from nerfstudio.viewer.viewer_elements import ViewerCheckbox, ViewerSlider
from torch import nn

from partdrag4d_nerfstudio.raycast import cast_parts
from partdrag4d_nerfstudio.run_folder import read_run_articulation


@dataclass
class ArticulationModelConfig(ModelConfig):
    """The posed, ray-cast parts of a partdrag4d run."""

    _target: type = field(default_factory=lambda: ArticulationModel)
    enable_collider: bool = False
    ambient: float = 0.35
    """Share of a part's colour shown on surfaces seen edge-on (the rest is Lambertian)."""


class ArticulationModel(Model):
    config: ArticulationModelConfig

    def populate_modules(self) -> None:
        run_dir = Path(self.kwargs["metadata"]["run_dir"])
        self.articulation = read_run_articulation(run_dir)
        art = self.articulation
        for p, tri in enumerate(art.triangles):
            self.register_buffer(f"triangles_{p}", torch.from_numpy(tri), persistent=False)
        self.part_colour = nn.Parameter(torch.full((len(art.part_names), 3), 0.0))  # logits
        self.background = nn.Parameter(torch.zeros(3))
        self.follow_time = ViewerCheckbox("joints follow time", True)
        for i, joint in enumerate(art.joints):
            lo = min(joint.limits[0], float(joint.values.min()), 0.0)
            hi = max(joint.limits[1], float(joint.values.max()), 0.0, lo + 1e-3)
            setattr(
                self,
                f"joint_slider_{i}",
                ViewerSlider(joint.name, 0.0, lo, hi, (hi - lo) / 200),
            )

    def get_param_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"fields": [self.part_colour, self.background]}

    def _joint_values(self, time: float) -> np.ndarray:
        if self.training or self.follow_time.value:
            return self.articulation.values_at(time)
        sliders = [getattr(self, f"joint_slider_{i}") for i in range(len(self.articulation.joints))]
        return np.array([s.value for s in sliders], dtype=float)

    def get_outputs(self, ray_bundle: RayBundle) -> dict[str, torch.Tensor]:
        origins = ray_bundle.origins.reshape(-1, 3)
        directions = torch.nn.functional.normalize(ray_bundle.directions.reshape(-1, 3), dim=-1)
        times = (
            ray_bundle.times.reshape(-1)
            if ray_bundle.times is not None
            else torch.zeros(len(origins), device=origins.device)
        )
        triangles = [getattr(self, f"triangles_{p}") for p in range(len(self.part_colour))]
        distance = torch.full((len(origins),), float("inf"), device=origins.device)
        part = torch.full((len(origins),), -1, dtype=torch.long, device=origins.device)
        normal = torch.zeros_like(origins)
        for time in torch.unique(times).tolist():  # one pose of the parts per time
            rays = times == time
            poses = self.articulation.poses(self._joint_values(time))
            d, p, n = cast_parts(
                origins[rays],
                directions[rays],
                triangles,
                torch.as_tensor(poses, dtype=torch.float32, device=origins.device),
            )
            distance[rays], part[rays], normal[rays] = d, p, n
        hit = part >= 0
        colour = torch.sigmoid(self.part_colour)[part.clamp(min=0)]
        shade = (
            self.config.ambient + (1 - self.config.ambient) * (normal * directions).sum(-1).abs()
        )
        background = torch.sigmoid(self.background).expand_as(colour)
        rgb = torch.where(hit[:, None], colour * shade[:, None], background)
        far = distance[hit].max() if hit.any() else torch.tensor(1.0, device=origins.device)
        depth = torch.where(hit, distance, far * 1.5)
        shape = ray_bundle.origins.shape[:-1]
        return {
            "rgb": rgb.reshape(*shape, 3),
            "depth": depth.reshape(*shape, 1),
            "accumulation": hit.float().reshape(*shape, 1),
            "part": part.float().reshape(*shape, 1),
        }

    def get_metrics_dict(self, outputs, batch) -> dict[str, torch.Tensor]:
        image = batch["image"][..., :3].to(self.device)
        mse = ((outputs["rgb"] - image) ** 2).mean()
        return {"psnr": -10.0 * torch.log10(mse.clamp(min=1e-10))}

    def get_loss_dict(self, outputs, batch, metrics_dict=None) -> dict[str, torch.Tensor]:
        image = batch["image"][..., :3].to(self.device)
        return {"rgb_loss": ((outputs["rgb"] - image) ** 2).mean()}

    def get_image_metrics_and_images(self, outputs, batch):
        image = batch["image"][..., :3].to(self.device)
        mse = ((outputs["rgb"] - image) ** 2).mean()
        metrics = {"psnr": float(-10.0 * torch.log10(mse.clamp(min=1e-10)))}
        return metrics, {"img": torch.cat([image, outputs["rgb"]], dim=1)}
