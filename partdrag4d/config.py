"""Typed configuration: one dataclass schema per Hydra config group.

Each group's schema lives next to the code it configures (``scene.assets``,
``scene.drags``, ``scene.cameras``, ``scene.prepare``, ``generate.*``,
``reconstruct.*``, ``export.bundle``); this module holds the pipeline schema, the
runtime and paths groups, and the registration, and imports the others downward.

Every schema is registered in Hydra's ConfigStore as ``<name>_schema`` in its group;
the YAML files in ``partdrag4d/conf/<group>/`` extend a schema and only select and override
values. Implementations are swapped with ``_target_``: a dotted path
to the function that runs the thing the config describes, resolved with
``hydra.utils.get_method`` — no home-made registry.

Library code receives these dataclasses (``OmegaConf.to_object``), never a DictConfig.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from partdrag4d.config_checks import OneOf, Range
from partdrag4d.export.bundle import ExportConfig
from partdrag4d.generate import GeneratorConfig
from partdrag4d.generate.diffusion_config import PuppetMasterGeneratorConfig
from partdrag4d.generate.files_backend import FilesGeneratorConfig
from partdrag4d.generate.render_backend import RenderGeneratorConfig
from partdrag4d.reconstruct.articulate import ArticulateConfig
from partdrag4d.reconstruct.track import TrackConfig
from partdrag4d.scene.assets import (
    AssetConfig,
    MeshAssetConfig,
    ProceduralAssetConfig,
    UrdfAssetConfig,
)
from partdrag4d.scene.cameras import RigConfig
from partdrag4d.scene.drags import DragsConfig, FileDragsConfig, GtDragsConfig
from partdrag4d.store.store import CacheMode

# --------------------------------------------------------------------------- paths, runtime


@dataclass
class PathsConfig:
    """Where things are written."""

    cache_dir: str = "${oc.env:PARTDRAG4D_CACHE_DIR,.artefacts}"
    """Root of the content-addressed artefact store (shared by all jobs of a sweep);
    relative paths are relative to the directory the command runs in."""


@dataclass
class RuntimeConfig:
    """How the run executes."""

    CHECKS: ClassVar[dict] = {
        "cache": OneOf(tuple(m.value for m in CacheMode)),
        "num_threads": Range(0, 1024, integer=True),
    }

    seed: int = 0
    """Seed of every stage (each stage derives its own generator from it)."""
    cache: str = CacheMode.USE.value
    """``use``: reuse finished artefacts; ``refresh``: recompute and replace them; ``off``:
    no cache (a temporary store, deleted at the end). Values of ``CacheMode``."""
    progress: bool = True
    """Show progress bars."""
    num_threads: int = 0
    """torch/OpenCV CPU threads (0 = library default)."""


# --------------------------------------------------------------------------- top level

STAGES: tuple[str, ...] = ("prepare", "generate", "track", "articulate", "evaluate", "export")


@dataclass
class PipelineConfig:
    """The whole job. ``partdrag4d key=value ...`` overrides any field."""

    asset: AssetConfig = MISSING
    """Input object (group ``asset``: procedural, urdf, mesh)."""
    drags: DragsConfig = MISSING
    """Requested motion (group ``drags``: gt, file)."""
    rig: RigConfig = MISSING
    """Camera rig (group ``rig``: orbit)."""
    generator: GeneratorConfig = MISSING
    """Video source (group ``generator``: render, puppet_master, files)."""
    paths: PathsConfig = MISSING
    """Cache and asset folders (group ``paths``)."""
    runtime: RuntimeConfig = MISSING
    """Seed, cache mode, progress (group ``runtime``)."""
    track: TrackConfig = MISSING
    """Tracking settings (group ``track``)."""
    articulate: ArticulateConfig = MISSING
    """Part/joint fitting settings (group ``articulate``)."""
    export: ExportConfig = MISSING
    """GLB / URDF / report options (group ``export``)."""
    out_dir: str = "${hydra:runtime.output_dir}"
    """Where this run's outputs go (videos/, export/, metrics.json, report.html)."""
    stages: list[str] = field(default_factory=lambda: list(STAGES))
    """Stages to run: a prefix of the pipeline (e.g. ``[prepare,generate]``)."""
    objective: str | None = None
    """A key of ``metrics.json`` (e.g. ``axis_angle_deg``) whose value the job returns to
    a sweeper that optimises, such as Optuna (``experiment=tune_articulate``); None
    returns nothing. A job that fails or lacks the metric returns None (a failed trial)."""


def register_configs() -> None:
    """Register every schema in Hydra's ConfigStore (idempotent)."""
    cs = ConfigStore.instance()
    cs.store(name="pipeline_schema", node=PipelineConfig)
    for group, name, node in [
        ("asset", "procedural_schema", ProceduralAssetConfig),
        ("asset", "urdf_schema", UrdfAssetConfig),
        ("asset", "mesh_schema", MeshAssetConfig),
        ("drags", "gt_schema", GtDragsConfig),
        ("drags", "file_schema", FileDragsConfig),
        ("rig", "orbit_schema", RigConfig),
        ("generator", "render_schema", RenderGeneratorConfig),
        ("generator", "files_schema", FilesGeneratorConfig),
        ("generator", "puppet_master_schema", PuppetMasterGeneratorConfig),
        ("paths", "paths_schema", PathsConfig),
        ("runtime", "runtime_schema", RuntimeConfig),
        ("export", "export_schema", ExportConfig),
        ("track", "track_schema", TrackConfig),
        ("articulate", "articulate_schema", ArticulateConfig),
    ]:
        cs.store(group=group, name=name, node=node)
