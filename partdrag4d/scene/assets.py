"""Loading the input object for `prepare`: procedural, URDF or static mesh.

Each loader is the ``_target_`` of an ``asset`` config and returns a
:class:`LoadedAsset`: the rest-state mesh in the world frame plus, when the asset has
joints, the kinematic tree and each vertex's link (ground truth for the render backend
and the evaluator only).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
from jaxtyping import Int
from omegaconf import MISSING

from partdrag4d.assets.procedural import CATEGORIES
from partdrag4d.config_checks import OneOf
from partdrag4d.containers import ArticulatedAsset, SceneMesh
from partdrag4d.errors import InputError


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


@dataclass(frozen=True)
class LoadedAsset:
    """An input object, ready for the camera rig and the drags."""

    name: str
    """Object name."""
    source: Path
    """File it was read from (for error messages)."""
    mesh: SceneMesh
    """Rest-state mesh in the world frame (joints at zero)."""
    articulated: ArticulatedAsset | None
    """The kinematic tree, or None for a static mesh."""
    vertex_link: Int[np.ndarray, "N"] | None
    """Link index (into ``articulated.links``) of every mesh vertex, or None."""
    up_axis: str
    """World up axis (``z`` or ``y``)."""


def _from_urdf(path: Path, name: str, up_axis: str) -> LoadedAsset:
    from partdrag4d.assets.kinematics import posed_mesh
    from partdrag4d.assets.urdf import load_urdf

    asset = load_urdf(path)
    mesh, vertex_link = posed_mesh(asset, {})
    if mesh.num_vertices == 0:
        raise InputError(path, "link.visual", "the asset has no visual geometry")
    return LoadedAsset(name or asset.name, path, mesh, asset, vertex_link, up_axis)


def load_urdf_asset(cfg: UrdfAssetConfig) -> LoadedAsset:
    """Any URDF in PartNet-Mobility layout."""
    path = Path(cfg.path).expanduser()
    if not path.is_file():
        raise InputError(path, "asset.path", "file not found")
    return _from_urdf(path, cfg.name, cfg.up_axis)


def load_procedural_asset(cfg: ProceduralAssetConfig) -> LoadedAsset:
    """A procedural object, written as a URDF folder and loaded back through the URDF
    loader like any user asset (the folder is temporary: everything lives in memory)."""
    from partdrag4d.assets.procedural import CATEGORIES, ProceduralConfig, write_procedural

    if cfg.category not in CATEGORIES:
        raise InputError(
            "asset.category", cfg.category, f"unknown category; choose one of {list(CATEGORIES)}"
        )
    pcfg = ProceduralConfig(category=cfg.category, seed=cfg.seed, textured=cfg.textured)
    with tempfile.TemporaryDirectory(prefix="partdrag4d-asset-") as tmp:
        urdf = write_procedural(pcfg, Path(tmp))
        return _from_urdf(urdf, cfg.name or f"{cfg.category}_{cfg.seed}", cfg.up_axis)


def load_mesh_asset(cfg: MeshAssetConfig) -> LoadedAsset:
    """A static mesh with no joints."""
    from partdrag4d.assets.mesh import load_mesh

    path = Path(cfg.path).expanduser()
    mesh = load_mesh(path)
    return LoadedAsset(cfg.name or path.stem, path, mesh, None, None, cfg.up_axis)
