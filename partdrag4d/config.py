"""Typed configuration: one dataclass schema per Hydra config group.

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

from partdrag4d.assets.procedural import CATEGORIES
from partdrag4d.config_checks import COUNT, FRACTION, SIGNED, OneOf, Range
from partdrag4d.export.bundle import ExportConfig
from partdrag4d.generate.diffusion_backend import PuppetMasterConfig
from partdrag4d.reconstruct.articulate import ArticulateConfig
from partdrag4d.reconstruct.track import TrackConfig
from partdrag4d.store.store import CacheMode

# --------------------------------------------------------------------------- asset


@dataclass
class AssetConfig:
    """Base schema of the ``asset`` group: where the object comes from."""

    CHECKS: ClassVar[dict] = {"up_axis": OneOf(("z", "y"))}

    _target_: str = MISSING
    """Loader ``f(cfg) -> LoadedAsset`` (see partdrag4d.scene.assets)."""
    name: str = ""
    """Object name used in reports and filenames; derived from the asset when empty."""
    up_axis: str = "z"
    """World up axis of the asset file: ``z`` or ``y`` (PartNet-Mobility meshes are often
    +Y up). Only the camera rig uses it; the world frame itself is never changed."""


@dataclass
class ProceduralAssetConfig(AssetConfig):
    """A procedurally generated articulated object, written as a URDF folder and loaded
    through the URDF loader like any user asset."""

    CHECKS: ClassVar[dict] = {**AssetConfig.CHECKS, "category": OneOf(CATEGORIES)}

    _target_: str = "partdrag4d.scene.assets.load_procedural_asset"
    category: str = "cabinet"
    """One of ``partdrag4d.assets.procedural.CATEGORIES``."""
    seed: int = 0
    """Seed of sizes, proportions, textures and joint placement."""
    textured: bool = True
    """Procedural texture images (False: plain coloured materials)."""


@dataclass
class UrdfAssetConfig(AssetConfig):
    """Any URDF (PartNet-Mobility layout): meshes resolved inside its folder."""

    _target_: str = "partdrag4d.scene.assets.load_urdf_asset"
    path: str = MISSING
    """Path to the ``.urdf`` file."""


@dataclass
class MeshAssetConfig(AssetConfig):
    """A static mesh (GLB/GLTF, OBJ, PLY) with no joints; needs ``drags=file``."""

    _target_: str = "partdrag4d.scene.assets.load_mesh_asset"
    path: str = MISSING
    """Path to the mesh file."""


# --------------------------------------------------------------------------- drags


@dataclass
class DragsConfig:
    """Base schema of the ``drags`` group: what motion is requested, over how many frames."""

    CHECKS: ClassVar[dict] = {
        "num_frames": Range(2, 1000, integer=True),
        "fps": Range(0.0, 1000.0, lo_open=True),
        "max_drags": Range(1, 64, integer=True),
    }

    _target_: str = MISSING
    """Drag source ``f(cfg, asset, rng) -> DragPlan`` (scene/drags.py)."""
    num_frames: int = 14
    """T, frames per clip including the rest frame (Puppet-Master: 14)."""
    fps: float = 7.0
    """Frame rate of the clips."""
    max_drags: int = 5
    """At most this many drags (the generator's K)."""


@dataclass
class GtDragsConfig(DragsConfig):
    """Drags sampled from the asset's own joints (assets with joints only)."""

    CHECKS: ClassVar[dict] = {
        **DragsConfig.CHECKS,
        "target_fraction_min": FRACTION,
        "target_fraction_max": FRACTION,
        "max_moving_joints": COUNT,
    }
    RELATIONS: ClassVar[tuple] = (("target_fraction_min", "<=", "target_fraction_max"),)

    _target_: str = "partdrag4d.scene.drags.drags_from_joints"
    target_fraction_min: float = 0.5
    """Each moving joint goes from its rest value to a target sampled uniformly in
    [min, max] x its range (continuous joints: x 90 degrees)."""
    target_fraction_max: float = 0.9
    """Upper end of the target fraction."""
    max_moving_joints: int = 5
    """At most this many joints move in one clip (chosen at random when more)."""
    ease: bool = True
    """Smooth-step easing in time (zero velocity at both ends) instead of linear."""


@dataclass
class FileDragsConfig(DragsConfig):
    """Drags read from a JSON file (schema in README.md, "Drag files")."""

    CHECKS: ClassVar[dict] = {**DragsConfig.CHECKS, "surface_tolerance": FRACTION}

    _target_: str = "partdrag4d.scene.drags.drags_from_file"
    path: str = MISSING
    """Path to the drag JSON."""
    surface_tolerance: float = 0.01
    """A start point may lie at most this fraction of the bbox diagonal off the surface."""


# --------------------------------------------------------------------------- rig


@dataclass
class RigConfig:
    """Orbit rig of V calibrated views looking at the object's bounding-box centre."""

    CHECKS: ClassVar[dict] = {
        "num_views": Range(1, 64, integer=True),
        "width": Range(16, 4096, integer=True),
        "height": Range(16, 4096, integer=True),
        "fov_deg": Range(1.0, 170.0),
        "elevation_deg": Range(-89.0, 89.0),
        "front": OneOf(("auto", "fixed")),
        "front_azimuth_deg": SIGNED,
        "front_search_step_deg": Range(1.0, 360.0),
        "front_probe_size": Range(16, 1024, integer=True),
        "azimuth_spread_deg": Range(0.0, 360.0, lo_open=True),
        "margin": Range(1.0, 100.0),
    }

    num_views: int = 4
    """V, number of views."""
    width: int = 256
    """Image width in pixels."""
    height: int = 256
    """Image height in pixels."""
    fov_deg: float = 40.0
    """Vertical field of view in degrees."""
    elevation_deg: float = 25.0
    """Camera elevation above the horizontal plane, degrees."""
    front: str = "auto"
    """Where the views look from: ``auto`` picks the front azimuth that sees the most
    motion (the moving surface of a known articulation over the whole clip, or the
    drags' start points and directions; scene/front.py), ``fixed`` uses
    ``front_azimuth_deg`` (-90 when unset: the front faces -Y, the procedural library's
    convention)."""
    front_azimuth_deg: float | None = None
    """Azimuth of the object's front, degrees from +X toward +Y in the ground plane.
    When set it overrides ``front``."""
    front_search_step_deg: float = 15.0
    """``front=auto``: azimuth step of the probe renders (and of the candidate fronts)."""
    front_probe_size: int = 64
    """``front=auto``: side in pixels of the probe renders that score the azimuths."""
    azimuth_spread_deg: float = 100.0
    """Views are spread evenly over this arc centred on the front (360 = full orbit)."""
    radius: float = 0.0
    """Camera distance from the centre in metres; 0 = frame the object automatically."""
    margin: float = 1.15
    """Auto framing: the bounding sphere times this fits in the field of view."""


# --------------------------------------------------------------------------- generator


@dataclass
class DegradeConfig:
    """Seeded imitation of what generated videos get wrong (off by default)."""

    CHECKS: ClassVar[dict] = {
        "noise_std": FRACTION,
        "blur_sigma_px": Range(0.0, 50.0),
        "drift": FRACTION,
        "amplitude_error": FRACTION,
        "jitter": Range(0.0, 100.0),
    }

    enabled: bool = False
    """Apply the degradations below."""
    noise_std: float = 0.02
    """Std of Gaussian pixel noise, in [0, 1] intensity units."""
    blur_sigma_px: float = 0.7
    """Std of Gaussian blur in pixels (0 = none)."""
    drift: float = 0.06
    """Appearance drift: colour gain/offset change reached at the last frame (linear in t)."""
    amplitude_error: float = 0.08
    """Per-view relative std of the motion amplitude (views disagree on how far parts move)."""
    jitter: float = 0.15
    """Std of temporal jitter of the motion, in frames."""


@dataclass
class GeneratorConfig:
    """Base schema of the ``generator`` group."""

    _target_: str = MISSING
    """Backend ``f(cfg, scene, generator) -> VideoSet``."""


@dataclass
class RenderGeneratorConfig(GeneratorConfig):
    """Render the ground-truth animation of the asset (needs an asset with joints)."""

    CHECKS: ClassVar[dict] = {"background": FRACTION, "samples": Range(0, 16, integer=True)}

    _target_: str = "partdrag4d.generate.render_backend.generate_render"
    background: list[float] = field(default_factory=lambda: [1.0, 1.0, 1.0])
    """Background colour (linear RGB in [0, 1])."""
    samples: int = 4
    """MSAA samples for the colour images."""
    degrade: DegradeConfig = field(default_factory=DegradeConfig)
    """Degradations imitating generated videos."""


@dataclass
class PuppetMasterGeneratorConfig(PuppetMasterConfig, GeneratorConfig):
    """The drag-conditioned video diffusion model (fields: PuppetMasterConfig)."""

    _target_: str = "partdrag4d.generate.diffusion_backend.generate_diffusion"


@dataclass
class FilesGeneratorConfig(GeneratorConfig):
    """Import videos made elsewhere: a folder holding ``cameras.json`` and one
    ``view_XX.mp4`` or ``view_XX/`` of PNG frames per camera."""

    _target_: str = "partdrag4d.generate.files_backend.generate_from_files"
    path: str = MISSING
    """Folder with the videos and cameras."""


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


@dataclass
class PrepareConfig:
    """What `prepare` depends on (its cache key): the asset, the drags and the rig."""

    asset: AssetConfig
    """Input object."""
    drags: DragsConfig
    """Requested motion."""
    rig: RigConfig
    """Camera rig."""


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
