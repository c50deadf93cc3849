"""``partdrag4d-articulation``: the method registered with nerfstudio."""

from __future__ import annotations

from nerfstudio.configs.base_config import MachineConfig, ViewerConfig
from nerfstudio.data.datamanagers.base_datamanager import VanillaDataManagerConfig
from nerfstudio.engine.optimizers import AdamOptimizerConfig
from nerfstudio.engine.trainer import TrainerConfig
from nerfstudio.pipelines.base_pipeline import VanillaPipelineConfig
from nerfstudio.plugins.types import MethodSpecification

from partdrag4d_nerfstudio.dataparser import RunFolderDataParserConfig
from partdrag4d_nerfstudio.model import ArticulationModelConfig

articulation_method = MethodSpecification(
    config=TrainerConfig(
        method_name="partdrag4d-articulation",
        steps_per_eval_batch=100,
        steps_per_eval_image=200,
        steps_per_eval_all_images=100000,
        steps_per_save=200,
        max_num_iterations=300,
        mixed_precision=False,
        machine=MachineConfig(device_type="cpu"),
        pipeline=VanillaPipelineConfig(
            datamanager=VanillaDataManagerConfig(
                dataparser=RunFolderDataParserConfig(),
                train_num_rays_per_batch=1024,
                eval_num_rays_per_batch=1024,
            ),
            model=ArticulationModelConfig(eval_num_rays_per_chunk=4096),
        ),
        optimizers={"fields": {"optimizer": AdamOptimizerConfig(lr=0.05), "scheduler": None}},
        viewer=ViewerConfig(num_rays_per_chunk=4096, websocket_host="127.0.0.1"),
        vis="viewer",
    ),
    description="partdrag4d's articulation (parts, joints, motion) posed over time",
)
