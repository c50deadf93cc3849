"""Content-addressed artefact store: cache keys, manifests, atomic writes, key locks.

Layout under ``root`` (a shared folder outside any Hydra run directory)::

    root/<key>/manifest.json + payload   complete artefacts (see serialize.py)
    root/tmp/<key>-<uuid>/               writes in progress (or left by a killed run)
    root/trash/<key>-<uuid>/             an old artefact being replaced (REFRESH)
    root/locks/<key>.lock                fcntl.flock files (kept; deleting them would race)

An artefact directory appears under ``root/<key>`` only by one ``rename`` of a complete,
fsynced temp directory whose ``manifest.json`` was written last, so ``has(key)`` never
sees half an artefact. Writers are expected to hold :meth:`ArtefactStore.lock` around
"check, compute, write" (the runner does); readers of a key being REFRESHed should too,
because replacing is two renames (old aside, new in) with a short gap between them.

How a runner uses it::

    key = cache_key(stage, CODE_VERSION, cfg, upstream_keys, seed)
    with store.lock(key):
        if store.mode is CacheMode.USE and store.has(key):
            artefact, manifest = store.read(key)
        else:
            t0 = time.perf_counter()
            artefact = stage_fn(cfg, inputs, generator)
            manifest = Manifest.create(kind_of(artefact), key, stage, cfg, upstream_keys,
                                       seed, time.perf_counter() - t0, peak_memory_mb())
            store.write(manifest, artefact)
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import resource
import shutil
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from importlib import metadata
from pathlib import Path

from partdrag4d.atomic import swap_in
from partdrag4d.store import serialize

SCHEMA_VERSION: int = 1
"""Version of the on-disk formats in serialize.py; part of every cache key, so bumping it
invalidates old artefacts instead of misreading them."""

_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_RESERVED = {"tmp", "trash", "locks"}


class CacheMode(StrEnum):
    """How the runner uses the store (the store itself only provides the primitives)."""

    USE = "use"
    """Reuse a complete artefact with the same key; compute and write it otherwise."""
    REFRESH = "refresh"
    """Always compute, then replace any existing artefact with the same key."""
    OFF = "off"
    """Neither read nor keep cached artefacts (the runner writes into a temporary store)."""


class StoreError(Exception):
    """A cached artefact is missing, unreadable or written by an incompatible version."""


def package_version() -> str:
    """Installed version of partdrag4d (``"unknown"`` when run from an uninstalled tree)."""
    try:
        return metadata.version("partdrag4d")
    except metadata.PackageNotFoundError:
        return "unknown"


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux ``ru_maxrss`` is KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def canonical_json(obj: object) -> str:
    """Deterministic JSON text of a config-like value (sorted keys, no whitespace)."""
    return json.dumps(
        serialize.to_jsonable(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=True
    )


def cache_key(
    stage: str, code_version: str, config: Mapping, upstream: Sequence[str], seed: int
) -> str:
    """Content address of a stage result.

    SHA-256 of the canonical JSON of (stage, code_version, config, upstream keys, seed,
    :data:`SCHEMA_VERSION`), first 20 hex digits (80 bits). Stable across processes and
    Python runs; mapping key order is irrelevant, upstream order is significant. Configs
    may hold numpy scalars, paths, enums, dataclasses and OmegaConf containers.

    Returns:
        20 lowercase hex characters.
    """
    doc = {
        "stage": stage,
        "code_version": code_version,
        "config": config,
        "upstream": list(upstream),
        "seed": int(seed),
        "schema_version": SCHEMA_VERSION,
    }
    return hashlib.sha256(canonical_json(doc).encode("utf-8")).hexdigest()[:20]


@dataclass(frozen=True)
class Manifest:
    """``manifest.json`` of an artefact: what it is and how it was made."""

    kind: str
    """Artefact kind (``serialize.KINDS``), selects the loader."""
    schema_version: int
    """On-disk format version it was written with (:data:`SCHEMA_VERSION`)."""
    key: str
    """Its cache key (also its directory name)."""
    stage: str
    """Stage that produced it (``prepare``, ``generate``, ...)."""
    config: dict
    """Resolved stage config (plain JSON types)."""
    upstream: tuple[str, ...]
    """Cache keys of the input artefacts, in the stage's argument order."""
    seed: int
    """Seed of the stage's generator."""
    package_version: str
    """partdrag4d version that wrote it."""
    wall_time_s: float
    """Wall-clock time of the stage computation, seconds."""
    peak_memory_mb: float
    """Peak resident memory of the process after the stage, MiB."""
    created_utc: str
    """ISO-8601 UTC time of writing."""
    code_version: str = ""
    """The stage's code version (hand-set version + hash of the source it runs)."""

    @classmethod
    def create(
        cls,
        kind: str,
        key: str,
        stage: str,
        config: Mapping,
        upstream: Sequence[str],
        seed: int,
        wall_time_s: float | int = 0.0,
        peak_memory_mb: float | int = 0.0,
        code_version: str = "",
    ) -> Manifest:
        """A manifest stamped with the current schema/package version and UTC time."""
        return cls(
            kind=kind,
            schema_version=SCHEMA_VERSION,
            key=key,
            stage=stage,
            config=serialize.to_jsonable(config),
            upstream=tuple(upstream),
            seed=int(seed),
            package_version=package_version(),
            wall_time_s=float(wall_time_s),
            peak_memory_mb=float(peak_memory_mb),
            created_utc=datetime.now(UTC).isoformat(timespec="seconds"),
            code_version=code_version,
        )

    def to_json(self) -> str:
        """Pretty JSON text (config made JSON-safe)."""
        doc = asdict(self)
        doc["config"] = serialize.to_jsonable(self.config)
        doc["upstream"] = list(self.upstream)
        return json.dumps(doc, indent=1)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Parse :meth:`to_json` output.

        Raises:
            StoreError: when a field is missing.
        """
        doc = json.loads(text)
        try:
            return cls(
                kind=doc["kind"],
                schema_version=int(doc["schema_version"]),
                key=doc["key"],
                stage=doc["stage"],
                config=doc["config"],
                upstream=tuple(doc["upstream"]),
                seed=int(doc["seed"]),
                package_version=doc["package_version"],
                wall_time_s=float(doc["wall_time_s"]),
                peak_memory_mb=float(doc["peak_memory_mb"]),
                created_utc=doc["created_utc"],
            )
        except KeyError as err:
            raise StoreError(f"manifest.json: missing field {err}") from err


class KeyLock:
    """Exclusive inter-process lock on one key (``fcntl.flock``; blocking).

    Not re-entrant: a second ``KeyLock`` on the same key in the same process blocks
    forever, so take it once around "check, compute, write".
    """

    def __init__(self, path: Path, blocking: bool = True):
        self.path = path
        self.blocking = blocking
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock; returns False only when non-blocking and held elsewhere."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o664)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if self.blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return True

    def release(self) -> None:
        """Release the lock (closing the descriptor releases it too, e.g. on a crash)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> KeyLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(directory: Path) -> None:
    """fsync every file and folder under ``directory`` so a rename publishes durable data."""
    for dirpath, _, filenames in os.walk(directory):
        for name in filenames:
            _fsync_path(Path(dirpath) / name)
        _fsync_path(Path(dirpath))


class ArtefactStore:
    """Artefacts on disk, addressed by cache key.

    Args:
        root: store root (created).
        mode: how the runner should use it (kept here so the runner has one object).
        serialize_config: optional preview payloads to write (MP4, PLY, nerfstudio).
    """

    def __init__(
        self,
        root: Path | str,
        mode: CacheMode | str = CacheMode.USE,
        serialize_config: serialize.SerializeConfig | None = None,
    ):
        self.root = Path(root)
        self.mode = CacheMode(mode)
        self.serialize_config = serialize_config or serialize.SerializeConfig()
        self.root.mkdir(parents=True, exist_ok=True)

    def _check_key(self, key: str) -> str:
        if not _KEY_RE.match(key) or key in _RESERVED:
            raise ValueError(f"invalid artefact key {key!r}")
        return key

    def path(self, key: str) -> Path:
        """Directory of the artefact ``key`` (whether or not it exists)."""
        return self.root / self._check_key(key)

    def has(self, key: str) -> bool:
        """Whether a complete artefact ``key`` is present (regardless of ``mode``)."""
        return (self.path(key) / "manifest.json").is_file()

    def lock(self, key: str) -> KeyLock:
        """Blocking exclusive inter-process lock on ``root/locks/<key>.lock``.

        Use as ``with store.lock(key): ...``.
        """
        return KeyLock(self.root / "locks" / f"{self._check_key(key)}.lock")

    def write(self, manifest: Manifest, artefact: object) -> Path:
        """Serialize ``artefact`` and publish it atomically as ``root/<manifest.key>``.

        The payload goes to ``root/tmp/<key>-<uuid>/``, ``manifest.json`` is written
        last, everything is fsynced, then the folder is renamed into place. An existing
        artefact with that key (REFRESH) is renamed aside first and deleted after. On any
        exception the temp folder is removed and nothing is published.

        Returns:
            The final artefact directory.

        Raises:
            ValueError: when the manifest's kind or schema version does not match.
        """
        key = self._check_key(manifest.key)
        if manifest.schema_version != SCHEMA_VERSION:
            raise ValueError(
                f"manifest schema_version {manifest.schema_version} != {SCHEMA_VERSION}"
            )
        tmp = self.root / "tmp" / f"{key}-{uuid.uuid4().hex}"
        tmp.mkdir(parents=True)
        try:
            kind = serialize.save(artefact, tmp, self.serialize_config)
            if kind != manifest.kind:
                raise ValueError(f"manifest kind {manifest.kind!r} but artefact is {kind!r}")
            (tmp / "manifest.json").write_text(manifest.to_json())
            _fsync_tree(tmp)
            final = self.path(key)
            self._publish(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return final

    def _publish(self, tmp: Path, final: Path) -> None:
        aside = self.root / "trash" / tmp.name
        aside.parent.mkdir(exist_ok=True)
        moved = swap_in(tmp, final, aside)
        _fsync_path(self.root)
        if moved:
            shutil.rmtree(aside, ignore_errors=True)

    def read_manifest(self, key: str) -> Manifest:
        """The manifest of artefact ``key``.

        Raises:
            StoreError: when absent, or written with another :data:`SCHEMA_VERSION`.
        """
        path = self.path(key) / "manifest.json"
        if not path.is_file():
            raise StoreError(f"{self.path(key)}: no complete artefact")
        manifest = Manifest.from_json(path.read_text())
        if manifest.schema_version != SCHEMA_VERSION:
            raise StoreError(
                f"{path}: schema_version {manifest.schema_version}, this code reads "
                f"{SCHEMA_VERSION}; rerun with cache mode 'refresh'"
            )
        return manifest

    def read(self, key: str) -> tuple[object, Manifest]:
        """Load artefact ``key`` and its manifest."""
        manifest = self.read_manifest(key)
        return serialize.load(self.path(key), manifest.kind), manifest

    def clean_tmp(self, max_age_s: float | int = 3600.0) -> int:
        """Delete temp/trash folders left by killed runs.

        A folder goes when it is older than ``max_age_s`` and its key's lock is free
        (writers hold it while writing), so a live write is never removed.

        Returns:
            The number of folders removed.
        """
        removed = 0
        now = time.time()
        for sub in ("tmp", "trash"):
            folder = self.root / sub
            if not folder.is_dir():
                continue
            for entry in folder.iterdir():
                if now - entry.stat().st_mtime < max_age_s:
                    continue
                key = entry.name.rsplit("-", 1)[0]
                lock = KeyLock(self.root / "locks" / f"{key}.lock", blocking=False)
                if not lock.acquire():
                    continue
                try:
                    shutil.rmtree(entry, ignore_errors=True)
                    removed += 1
                finally:
                    lock.release()
        return removed
