"""The stage runner: the one place that does caching, loading, saving and run records.

A stage is a pure function ``run(cfg, inputs, rng) -> artefact`` (no Hydra, no paths,
no global state). The runner computes each stage's cache key from its code version,
its part of the config, the keys of its upstream artefacts and the seed; reuses a
finished artefact from the store or computes and writes one atomically under a lock;
loads upstream artefacts only when a stage actually needs them (a run that is all
cache hits loads nothing); and writes the run's outputs and ``artefacts.json``
(the index of artefacts used, hit or computed, with times) into ``out_dir``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from partdrag4d.config import STAGES, PipelineConfig
from partdrag4d.containers import Articulation, SceneInput, Tracks, VideoSet
from partdrag4d.errors import InputError
from partdrag4d.store.serialize import FileTree, Metrics
from partdrag4d.store.store import ArtefactStore, CacheMode, Manifest, cache_key, peak_memory_mb

StageFn = Callable[[Any, Mapping[str, Any], np.random.Generator], Any]


@dataclass(frozen=True)
class Stage:
    """One pipeline stage as the runner sees it."""

    name: str
    """Stage name (``prepare``, ``generate``, ...)."""
    version: str
    """Code version; bump when a change alters the stage's output (invalidates caches)."""
    upstream: tuple[str, ...]
    """Stages whose artefacts this one reads, in order."""
    config: Callable[[PipelineConfig], Any]
    """The part of the job config that determines the output (hashed into the key)."""
    run: StageFn
    """``run(cfg, inputs, rng) -> artefact``; ``inputs`` maps upstream names to artefacts."""


# --------------------------------------------------------------------------- stage adapters


def _prepare(cfg: Any, inputs: Mapping[str, Any], rng: np.random.Generator) -> SceneInput:
    from partdrag4d.scene.prepare import run_prepare

    return run_prepare(cfg, rng)


def _generate(cfg: Any, inputs: Mapping[str, Any], rng: np.random.Generator) -> VideoSet:
    from hydra.utils import get_method

    return get_method(cfg._target_)(cfg, inputs["prepare"], rng)


def _track(cfg: Any, inputs: Mapping[str, Any], rng: np.random.Generator) -> Tracks:
    from partdrag4d.reconstruct.track import run_track

    return run_track(cfg, inputs["generate"], inputs["prepare"].mesh, rng)


def _articulate(cfg: Any, inputs: Mapping[str, Any], rng: np.random.Generator) -> Articulation:
    from partdrag4d.reconstruct.articulate import run_articulate

    scene: SceneInput = inputs["prepare"]
    videos: VideoSet = inputs["generate"]
    art = run_articulate(
        cfg, inputs["track"], scene.mesh, videos.cameras, scene.drags, rng, videos.frames
    )
    return replace(art, fps=videos.fps)  # per-frame values are at the videos' frame rate


def _evaluate(cfg: Any, inputs: Mapping[str, Any], rng: np.random.Generator) -> Metrics:
    from partdrag4d.evaluate.metrics import run_evaluate

    scene: SceneInput = inputs["prepare"]
    if scene.gt is None:
        return Metrics(values={})
    return Metrics(values=run_evaluate(inputs["articulate"], scene))


def _export(cfg: Any, inputs: Mapping[str, Any], rng: np.random.Generator) -> FileTree:
    from partdrag4d.export.bundle import export_all

    scene: SceneInput = inputs["prepare"]
    metrics = inputs["evaluate"].values or None
    scratch = Path(tempfile.mkdtemp(prefix="partdrag4d-export-"))
    export_all(
        inputs["articulate"],
        scene.mesh,
        inputs["generate"],
        metrics,
        scratch,
        replace(cfg, name=cfg.name or scene.name),
    )
    return FileTree(scratch)  # moved into the store by the writer


def _stage_table() -> dict[str, Stage]:
    from partdrag4d.config import PrepareConfig

    def prepare_cfg(c: PipelineConfig) -> PrepareConfig:
        return PrepareConfig(asset=c.asset, drags=c.drags, rig=c.rig)

    stages = [
        Stage("prepare", "2", (), prepare_cfg, _prepare),
        Stage("generate", "1", ("prepare",), lambda c: c.generator, _generate),
        Stage("track", "1", ("prepare", "generate"), lambda c: c.track, _track),
        Stage(
            "articulate", "2", ("prepare", "generate", "track"), lambda c: c.articulate, _articulate
        ),
        Stage("evaluate", "1", ("prepare", "articulate"), lambda c: {}, _evaluate),
        Stage(
            "export",
            "2",
            ("prepare", "generate", "articulate", "evaluate"),
            lambda c: c.export,
            _export,
        ),
    ]
    return {s.name: s for s in stages}


# --------------------------------------------------------------------------- runner


@dataclass
class StageRecord:
    """One line of ``artefacts.json``: which artefact a stage used and how."""

    stage: str
    key: str
    path: str
    cache_hit: bool
    wall_time_s: float
    peak_memory_mb: float


@dataclass
class RunResult:
    """What a run produced."""

    records: list[StageRecord] = field(default_factory=list)
    """One per stage run, in order."""
    artefacts: dict[str, Path] = field(default_factory=dict)
    """Artefact directory per stage."""

    @property
    def executed(self) -> list[str]:
        return [r.stage for r in self.records if not r.cache_hit]


class _LazyInputs(Mapping[str, Any]):
    """Upstream artefacts, loaded from the store on first access only."""

    def __init__(self, store: ArtefactStore):
        self.store = store
        self.keys: dict[str, str] = {}
        self.loaded: dict[str, Any] = {}

    def put(self, stage: str, key: str, artefact: Any | None) -> None:
        self.keys[stage] = key
        if artefact is not None:
            self.loaded[stage] = artefact

    def __getitem__(self, stage: str) -> Any:
        if stage not in self.loaded:
            self.loaded[stage] = self.store.read(self.keys[stage])[0]
        return self.loaded[stage]

    def __iter__(self):
        return iter(self.keys)

    def __len__(self) -> int:
        return len(self.keys)


def stage_seed(seed: int, stage: str) -> int:
    """A stage's own seed, derived from the run seed and the stage name (stable)."""
    return int(np.random.SeedSequence([seed, *stage.encode()]).generate_state(1)[0])


def check_stages(requested: list[str]) -> list[str]:
    """``stages=[...]`` must be a prefix of the pipeline's stage order."""
    for i, name in enumerate(requested):
        if name not in STAGES:
            raise InputError("stages", name, f"unknown stage; stages are {list(STAGES)}")
        if STAGES[i] != name:
            raise InputError(
                "stages",
                str(requested),
                f"must be a prefix of {list(STAGES)} (stage {i} is {STAGES[i]!r})",
            )
    return list(requested)


def run_pipeline(cfg: PipelineConfig, out_dir: Path) -> RunResult:
    """Run ``cfg.stages`` with caching, then write the outputs into ``out_dir``."""
    names = check_stages(cfg.stages)
    table = _stage_table()
    if cfg.runtime.cache not in {m.value for m in CacheMode}:
        raise InputError("runtime.cache", cfg.runtime.cache, "must be use, refresh or off")
    mode = CacheMode(cfg.runtime.cache)
    tmp_root = None
    if mode is CacheMode.OFF:
        tmp_root = tempfile.mkdtemp(prefix="partdrag4d-nocache-")
        store = ArtefactStore(Path(tmp_root), mode)
    else:
        store = ArtefactStore(Path(cfg.paths.cache_dir).expanduser(), mode)
    if not cfg.runtime.progress:
        os.environ["TQDM_DISABLE"] = "1"
    try:
        result = RunResult()
        inputs = _LazyInputs(store)
        for name in names:
            stage = table[name]
            stage_cfg = stage.config(cfg)
            upstream = [inputs.keys[u] for u in stage.upstream]
            seed = stage_seed(cfg.runtime.seed, name)
            key = cache_key(name, stage.version, _plain(stage_cfg), upstream, seed)
            with store.lock(key):
                artefact = None
                hit = mode is CacheMode.USE and store.has(key)
                if hit:
                    manifest = store.read_manifest(key)
                else:
                    start = time.perf_counter()
                    artefact = stage.run(stage_cfg, inputs, np.random.default_rng(seed))
                    manifest = Manifest.create(
                        kind=_kind(artefact),
                        key=key,
                        stage=name,
                        config=_plain(stage_cfg),
                        upstream=upstream,
                        seed=seed,
                        wall_time_s=time.perf_counter() - start,
                        peak_memory_mb=peak_memory_mb(),
                    )
                    store.write(manifest, artefact)
            inputs.put(name, key, artefact)
            result.artefacts[name] = store.path(key)
            result.records.append(
                StageRecord(
                    name,
                    key,
                    str(store.path(key)),
                    hit,
                    manifest.wall_time_s,
                    manifest.peak_memory_mb,
                )
            )
        materialize(result, inputs, out_dir)
        return result
    finally:
        if tmp_root is not None:
            shutil.rmtree(tmp_root, ignore_errors=True)


def _plain(cfg: Any) -> Any:
    from partdrag4d.store.serialize import to_jsonable

    return to_jsonable(cfg)


def _kind(artefact: Any) -> str:
    from partdrag4d.store import serialize

    return serialize.kind_of(artefact)


# --------------------------------------------------------------------------- outputs


def _replace(src_write: Callable[[Path], None], dest: Path) -> None:
    """Write ``dest`` (file or folder) through a sibling temp path, then swap it in."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent)) / dest.name
    src_write(tmp)
    old = None
    if dest.exists():
        old = dest.parent / f".{dest.name}.old-{os.getpid()}"
        dest.rename(old)
    tmp.rename(dest)
    shutil.rmtree(tmp.parent, ignore_errors=True)
    if old is not None:
        if old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)


def _link_or_copy(src: str, dst: str) -> None:
    """Hard-link a file (store and run folder share the bytes), copy across devices."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _copy(src: Path, link: bool = False) -> Callable[[Path], None]:
    def write(dst: Path) -> None:
        if src.is_dir():
            shutil.copytree(src, dst, copy_function=_link_or_copy if link else shutil.copy2)
        else:
            shutil.copy2(src, dst)

    return write


def materialize(result: RunResult, inputs: _LazyInputs, out_dir: Path) -> None:
    """Copy what users look at from the store into ``out_dir`` and write the index.

    The run folder is self-contained: ``videos/`` (frames, MP4s, ``cameras.json``),
    ``export/`` (GLB, URDF, ``articulation.json``, ``nerfstudio/``), the report and
    the metrics; a viewer or another tool needs nothing else.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    if "generate" in result.artefacts:
        gen = result.artefacts["generate"]
        _replace(_copy(gen / "videos"), out_dir / "videos")
        if (gen / "cameras.json").is_file():  # the rig (and its chosen front) beside its videos
            shutil.copy2(gen / "cameras.json", out_dir / "videos" / "cameras.json")
        sheet = gen / "contact_sheet.png"
        if sheet.is_file():
            _replace(_copy(sheet), out_dir / "contact_sheet.png")
    if "evaluate" in result.artefacts:
        metrics = result.artefacts["evaluate"] / "metrics.json"
        if metrics.is_file() and json.loads(metrics.read_text()):
            _replace(_copy(metrics), out_dir / "metrics.json")
    if "export" in result.artefacts:
        exp = result.artefacts["export"] / "files"
        for name in ("export", "report", "report.html"):
            if (exp / name).exists():
                _replace(_copy(exp / name), out_dir / name)
    if "generate" in result.artefacts and (result.artefacts["generate"] / "nerfstudio").is_dir():
        # the videos as a nerfstudio dataset (world frame kept, per-frame time and view)
        ns = result.artefacts["generate"] / "nerfstudio"
        _replace(_copy(ns, link=True), out_dir / "export" / "nerfstudio")
    index = {"stages": [asdict(r) for r in result.records]}
    _replace(lambda p: p.write_text(json.dumps(index, indent=1)), out_dir / "artefacts.json")
