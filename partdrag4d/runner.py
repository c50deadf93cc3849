"""The stage runner: the one place that does caching, loading, saving and run records.

A stage is a pure function ``run(cfg, inputs, rng) -> artefact`` (no Hydra, no paths,
no global state). The runner computes each stage's cache key from its code version,
its part of the config, the keys of its upstream artefacts and the seed; reuses a
finished artefact from the store or computes and writes one atomically under a lock;
loads upstream artefacts only when a stage actually needs them (a run that is all
cache hits loads nothing); and writes the run's outputs and ``artefacts.json``
(the index of artefacts used, hit or computed, with times) into ``out_dir``.
:func:`run_stages` runs the same stages with the same seeds in memory, for library use.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any

import numpy as np

from partdrag4d.config import STAGES, PipelineConfig
from partdrag4d.config_checks import check_config
from partdrag4d.errors import InputError
from partdrag4d.progress import silenced
from partdrag4d.store.code_version import source_hash
from partdrag4d.store.run_folder import check_writable, place, write_run_folder
from partdrag4d.store.store import ArtefactStore, CacheMode, Manifest, cache_key, peak_memory_mb

log = logging.getLogger(__name__)
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
    run: str
    """``module:function`` of the stage function ``f(cfg, inputs, rng) -> artefact``
    (``inputs`` maps upstream names to artefacts); imported on first use."""

    def fn(self) -> StageFn:
        """The stage function."""
        module, _, name = self.run.partition(":")
        return getattr(import_module(module), name)

    def code_version(self, stage_cfg: Any) -> str:
        """``<version>+<source hash>`` of the stage's module, every module of the config's
        ``_target_`` s and the package modules they import
        (:mod:`partdrag4d.store.code_version`)."""
        targets = tuple(t.rpartition(".")[0] for t in _targets(_plain(stage_cfg)))
        modules = {self.run.partition(":")[0], *targets}
        return f"{self.version}+{source_hash(tuple(sorted(modules)))}"


def _targets(plain: Any) -> list[str]:
    """Every ``_target_`` string in a plain (JSON-like) config."""
    if isinstance(plain, dict):
        found = [plain["_target_"]] if isinstance(plain.get("_target_"), str) else []
        return found + [t for v in plain.values() for t in _targets(v)]
    if isinstance(plain, list):
        return [t for v in plain for t in _targets(v)]
    return []


def _prepare_config(c: PipelineConfig) -> Any:
    from partdrag4d.scene.prepare import PrepareConfig

    return PrepareConfig(asset=c.asset, drags=c.drags, rig=c.rig)


STAGE_TABLE: dict[str, Stage] = {
    s.name: s
    for s in (
        Stage("prepare", "2", (), _prepare_config, "partdrag4d.scene.prepare:prepare_stage"),
        Stage(
            "generate",
            "1",
            ("prepare",),
            lambda c: c.generator,
            "partdrag4d.generate:generate_stage",
        ),
        Stage(
            "track",
            "1",
            ("prepare", "generate"),
            lambda c: c.track,
            "partdrag4d.reconstruct.track:track_stage",
        ),
        Stage(
            "articulate",
            "2",
            ("prepare", "generate", "track"),
            lambda c: c.articulate,
            "partdrag4d.reconstruct.articulate:articulate_stage",
        ),
        Stage(
            "evaluate",
            "1",
            ("prepare", "articulate"),
            lambda c: {},
            "partdrag4d.evaluate.metrics:evaluate_stage",
        ),
        Stage(
            "export",
            "2",
            ("prepare", "generate", "articulate", "evaluate"),
            lambda c: c.export,
            "partdrag4d.export.bundle:export_stage",
        ),
    )
}
"""Every stage, in pipeline order (:data:`partdrag4d.config.STAGES`)."""


def stage_seed(seed: int, stage: str) -> int:
    """A stage's own seed, derived from the run seed and the stage name (stable)."""
    return int(np.random.SeedSequence([seed, *stage.encode()]).generate_state(1)[0])


def run_stages(
    cfg: PipelineConfig,
    stages: Sequence[str],
    inputs: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Run ``stages`` in memory, in order, exactly as a CLI run with ``cfg`` computes
    them (same stage configs and seeds), with no cache, files or config checks.

    The library way to run part of the pipeline (tests, benchmarks, the data engine).
    ``cfg`` may be built in Python; only the fields the stages read need values.

    Args:
        cfg: the job config (``runtime.seed`` and ``runtime.progress`` are read).
        stages: stage names in pipeline order, e.g. ``["prepare", "generate"]``.
        inputs: artefacts of stages already run (say ``{"prepare": scene}``), so a caller
            can start in the middle or swap in its own upstream artefact.

    Returns:
        ``inputs`` plus each stage's artefact under its name.

    Raises:
        ValueError: an unknown stage, or a stage whose upstream artefact is neither given
            nor run before it.
    """
    done = dict(inputs or {})
    with silenced(not cfg.runtime.progress):
        for name in stages:
            if name not in STAGE_TABLE:
                raise ValueError(f"unknown stage {name!r}; stages are {list(STAGE_TABLE)}")
            stage = STAGE_TABLE[name]
            missing = [u for u in stage.upstream if u not in done]
            if missing:
                raise ValueError(f"stage {name!r} needs {missing}: run them first or pass them")
            rng = np.random.default_rng(stage_seed(cfg.runtime.seed, name))
            done[name] = stage.fn()(stage.config(cfg), done, rng)
    return done


# --------------------------------------------------------------------------- runner


@dataclass
class StageRecord:
    """One line of ``artefacts.json``: which artefact a stage used and how."""

    stage: str
    key: str
    path: str | None
    """Absolute path of the artefact in the store (``None`` after ``runtime.cache=off``)."""
    cache_hit: bool
    status: str
    """``cached`` (reused) or ``computed`` (in this run)."""
    wall_time_s: float
    """Seconds this run spent on the stage (lookup only, for a cached artefact)."""
    compute_time_s: float
    """Seconds the computation took when the artefact was made."""
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


def _naming_videos(err: InputError, inputs: _LazyInputs, mode: CacheMode) -> InputError:
    """A stage that rejects the generated videos says where they are to look at (the
    ``generate`` artefact in the store: ``videos/``, ``contact_sheet.png``)."""
    key = inputs.keys.get("generate")
    if key is None or mode is CacheMode.OFF or not inputs.store.has(key):
        return err
    where = inputs.store.path(key).absolute()
    message = (
        f"{err.message}; the generated videos are in {where / 'videos'} "
        f"(overview: {where / 'contact_sheet.png'})"
    )
    return InputError(err.source, err.field, message)


def check_stages(requested: list[str]) -> list[str]:
    """``stages=[...]`` must be a prefix of the pipeline's stage order."""
    for i, name in enumerate(requested):
        if name not in STAGES:
            raise InputError(
                "config", "stages", f"unknown stage {name!r}; stages are {list(STAGES)}"
            )
        if STAGES[i] != name:
            raise InputError(
                "config",
                "stages",
                f"{requested} must be a prefix of {list(STAGES)} (stage {i} is {STAGES[i]!r})",
            )
    return list(requested)


def run_pipeline(cfg: PipelineConfig, out_dir: Path) -> RunResult:
    """Run ``cfg.stages`` with caching, then write the outputs into ``out_dir``.

    The whole config is checked first (:func:`partdrag4d.config_checks.check_config`):
    a bad value stops the run before anything is computed or written.
    """
    check_config(cfg)
    names = check_stages(cfg.stages)
    check_writable(Path(out_dir), "out_dir", estimated_bytes(cfg), swapped=True)
    if cfg.runtime.cache not in {m.value for m in CacheMode}:
        raise InputError("runtime.cache", cfg.runtime.cache, "must be use, refresh or off")
    mode = CacheMode(cfg.runtime.cache)
    tmp_root = None
    if mode is CacheMode.OFF:
        tmp_root = tempfile.mkdtemp(prefix="partdrag4d-nocache-")
        store = ArtefactStore(Path(tmp_root), mode)
    else:
        cache_dir = Path(cfg.paths.cache_dir).expanduser()
        check_writable(
            cache_dir,
            "paths.cache_dir",
            estimated_bytes(cfg),
            hint="use a writable paths.cache_dir or runtime.cache=off",
        )
        store = ArtefactStore(cache_dir, mode)
        store.clean_tmp(max_age_s=60.0)
    with silenced(not cfg.runtime.progress):
        try:
            result = RunResult()
            inputs = _LazyInputs(store)
            for name in names:
                stage = STAGE_TABLE[name]
                stage_cfg = stage.config(cfg)
                upstream = [inputs.keys[u] for u in stage.upstream]
                seed = stage_seed(cfg.runtime.seed, name)
                code = stage.code_version(stage_cfg)
                key = cache_key(name, code, _plain(stage_cfg), upstream, seed)
                began = time.perf_counter()
                log.info("%s: %s", name, "looking up" if mode is CacheMode.USE else "computing")
                with store.lock(key):
                    artefact = None
                    hit = mode is CacheMode.USE and store.has(key)
                    if hit:
                        manifest = store.read_manifest(key)
                    else:
                        start = time.perf_counter()
                        try:
                            rng = np.random.default_rng(seed)
                            artefact = stage.fn()(stage_cfg, inputs, rng)
                        except InputError as err:
                            raise _naming_videos(err, inputs, mode) from None
                        manifest = Manifest.create(
                            kind=_kind(artefact),
                            key=key,
                            stage=name,
                            config=_plain(stage_cfg),
                            upstream=upstream,
                            seed=seed,
                            wall_time_s=time.perf_counter() - start,
                            peak_memory_mb=peak_memory_mb(),
                            code_version=code,
                        )
                        store.write(manifest, artefact)
                inputs.put(name, key, artefact)
                result.artefacts[name] = store.path(key)
                spent = time.perf_counter() - began
                status = "cached" if hit else "computed"
                log.info("%s: %s in %.1f s (key %s)", name, status, spent, key)
                path = None if mode is CacheMode.OFF else str(store.path(key).absolute())
                result.records.append(
                    StageRecord(
                        name,
                        key,
                        path,
                        hit,
                        status,
                        spent,
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


def materialize(result: RunResult, inputs: _LazyInputs, out_dir: Path) -> None:
    """Copy what users look at from the store into ``out_dir`` and write the index,
    swapping the whole run folder in at once (:func:`write_run_folder`).

    The run folder is self-contained: ``videos/`` (frames, MP4s, ``cameras.json``),
    ``export/`` (GLB, URDF, ``articulation.json``, ``nerfstudio/``), the report and
    the metrics; a viewer or another tool needs nothing else.
    """

    def fill(folder: Path) -> None:
        art = result.artefacts
        if "generate" in art:
            place(art["generate"] / "videos", folder / "videos")
            if (art["generate"] / "cameras.json").is_file():  # the rig beside its videos
                place(art["generate"] / "cameras.json", folder / "videos" / "cameras.json")
            if (art["generate"] / "contact_sheet.png").is_file():
                place(art["generate"] / "contact_sheet.png", folder / "contact_sheet.png")
        if "evaluate" in art:
            metrics = art["evaluate"] / "metrics.json"
            if metrics.is_file() and json.loads(metrics.read_text()):
                place(metrics, folder / "metrics.json")
        if "export" in art:
            for name in ("export", "report", "report.html"):
                if (art["export"] / "files" / name).exists():
                    place(art["export"] / "files" / name, folder / name)
        if "generate" in art and (art["generate"] / "nerfstudio").is_dir():
            # the videos as a nerfstudio dataset (world frame kept, per-frame time and view)
            place(art["generate"] / "nerfstudio", folder / "export" / "nerfstudio", link=True)
        index = {"stages": [asdict(r) for r in result.records]}
        (folder / "artefacts.json").write_text(json.dumps(index, indent=1))

    write_run_folder(out_dir, fill)


def estimated_bytes(cfg: PipelineConfig) -> int:
    """A generous estimate of what one run writes (frames dominate), for the free-space
    check before it starts."""
    frames = cfg.rig.num_views * cfg.drags.num_frames * cfg.rig.width * cfg.rig.height * 3
    return 3 * frames + 50 * 2**20
