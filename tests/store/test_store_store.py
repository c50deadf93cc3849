"""Cache keys, manifests, atomic publish, locks and REFRESH replacement."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf
from store_helpers import assert_same

from partdrag4d.containers import Evaluation
from partdrag4d.store import serialize
from partdrag4d.store.store import (
    SCHEMA_VERSION,
    ArtefactStore,
    CacheMode,
    Manifest,
    StoreError,
    cache_key,
)

CFG = {"method": "dis", "grid": {"step": 4, "min_conf": 0.5}, "views": [0, 1]}


def key_of(config=CFG, **kw):
    args = {"stage": "track", "code_version": "1", "upstream": ("aaa", "bbb"), "seed": 0}
    args.update(kw)
    return cache_key(config=config, **args)


def manifest_for(kind, key="k0", stage="track"):
    return Manifest.create(kind=kind, key=key, stage=stage, config=CFG, upstream=["u"], seed=3)


# --------------------------------------------------------------------------- cache keys


def test_cache_key_stable_and_order_insensitive():
    k = key_of()
    assert len(k) == 20 and int(k, 16) >= 0
    reordered = {"views": [0, 1], "grid": {"min_conf": 0.5, "step": 4}, "method": "dis"}
    assert key_of(reordered) == k
    assert key_of(OmegaConf.create(CFG)) == k
    numpy_cfg = dict(CFG, grid={"step": np.int64(4), "min_conf": np.float64(0.5)})
    assert key_of(numpy_cfg) == k


def test_cache_key_stable_across_processes():
    code = (
        "from partdrag4d.store.store import cache_key;"
        f"print(cache_key('track', '1', {CFG!r}, ('aaa', 'bbb'), 0))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, PYTHONHASHSEED="123"),
    )
    assert out.stdout.strip() == key_of()


def test_cache_key_sensitive_to_every_input():
    k = key_of()
    changed = [
        key_of(dict(CFG, grid={"step": 5, "min_conf": 0.5})),
        key_of(dict(CFG, extra=None)),
        key_of(stage="articulate"),
        key_of(code_version="2"),
        key_of(upstream=("bbb", "aaa")),
        key_of(seed=1),
    ]
    assert len({k, *changed}) == len(changed) + 1


def test_cache_key_handles_paths():
    assert key_of({"p": Path("a/b")}) == key_of({"p": "a/b"})


# --------------------------------------------------------------------------- manifest


def test_manifest_json_round_trip():
    m = manifest_for("tracks")
    m = dataclasses.replace(m, wall_time_s=1.5, peak_memory_mb=100.25)
    assert Manifest.from_json(m.to_json()) == m
    assert m.schema_version == SCHEMA_VERSION and m.upstream == ("u",)
    doc = json.loads(m.to_json())
    assert doc["created_utc"].endswith("+00:00")
    with pytest.raises(StoreError, match="missing field"):
        Manifest.from_json(json.dumps({"kind": "tracks"}))


# --------------------------------------------------------------------------- store


def test_write_read_has(tracks, tmp_path):
    store = ArtefactStore(tmp_path / "store")
    assert store.mode is CacheMode.USE and not store.has("k0")
    final = store.write(manifest_for("tracks"), tracks)
    assert final == store.path("k0") and store.has("k0")
    back, manifest = store.read("k0")
    assert_same(tracks, back)
    assert (manifest.kind, manifest.key, manifest.config, manifest.seed) == ("tracks", "k0", CFG, 3)
    assert list((tmp_path / "store" / "tmp").iterdir()) == []


def test_failed_write_publishes_nothing_and_rerun_completes(tracks, tmp_path, monkeypatch):
    store = ArtefactStore(tmp_path)
    real_save = serialize.save

    def crashing_save(obj, directory, config=None):
        real_save(obj, directory, config)  # payload written, then the "crash"
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(serialize, "save", crashing_save)
    with pytest.raises(RuntimeError, match="disk on fire"):
        store.write(manifest_for("tracks"), tracks)
    assert not store.has("k0") and not store.path("k0").exists()
    assert list((tmp_path / "tmp").iterdir()) == []
    monkeypatch.setattr(serialize, "save", real_save)
    store.write(manifest_for("tracks"), tracks)
    assert_same(store.read("k0")[0], tracks)


def test_kind_mismatch_is_rejected(tracks, tmp_path):
    store = ArtefactStore(tmp_path)
    with pytest.raises(ValueError, match="kind"):
        store.write(manifest_for("articulation"), tracks)
    assert not store.has("k0")


def test_invalid_keys_rejected(tmp_path):
    store = ArtefactStore(tmp_path)
    for bad in ("../x", "a/b", "tmp", "", ".hidden"):
        with pytest.raises(ValueError):
            store.path(bad)


_KILLED_WRITER = """
import sys, time
from pathlib import Path
import numpy as np
from partdrag4d.containers import Evaluation
from partdrag4d.store import serialize
from partdrag4d.store.store import ArtefactStore, Manifest

def slow_save(obj, directory, config=None):
    Path(directory, "partial.bin").write_bytes(b"x" * 1000)
    Path(sys.argv[2]).touch()  # tell the parent we are mid-write
    time.sleep(60)

serialize.save = slow_save
store = ArtefactStore(Path(sys.argv[1]))
m = Manifest.create(kind="metrics", key="k0", stage="evaluate", config={}, upstream=[], seed=0)
with store.lock("k0"):
    store.write(m, Evaluation(None))
"""


def test_killed_writer_leaves_no_artefact(tmp_path):
    root, ready = tmp_path / "store", tmp_path / "ready"
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(root), str(ready)])
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert proc.poll() is None, "writer exited early"
            assert time.monotonic() < deadline, "writer never started writing"
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    store = ArtefactStore(root)
    assert not store.has("k0") and not store.path("k0").exists()
    assert len(list((root / "tmp").iterdir())) == 1  # stale temp dir, ignored
    assert store.clean_tmp(max_age_s=3600) == 0  # too young to be judged stale
    assert store.clean_tmp(max_age_s=0) == 1  # the dead writer's lock is free
    store.write(Manifest.create("metrics", "k0", "evaluate", {}, [], 0), Evaluation(None))
    assert store.read("k0")[0] == Evaluation(None)


_LOCKER = """
import sys, time
from pathlib import Path
from partdrag4d.store.store import ArtefactStore
store = ArtefactStore(Path(sys.argv[1]))
with store.lock("k0"):
    start = time.time()
    time.sleep(0.3)
    print(start, time.time())
"""


def test_lock_excludes_other_processes(tmp_path):
    procs = [
        subprocess.Popen([sys.executable, "-c", _LOCKER, str(tmp_path)], stdout=subprocess.PIPE)
        for _ in range(2)
    ]
    spans = sorted(tuple(map(float, p.communicate()[0].split())) for p in procs)
    assert all(p.returncode == 0 for p in procs)
    (_, end0), (start1, _) = spans
    assert start1 >= end0, f"critical sections overlap: {spans}"


def test_nonblocking_lock_sees_holder(tmp_path):
    store = ArtefactStore(tmp_path)
    with store.lock("k0"):
        from partdrag4d.store.store import KeyLock

        other = KeyLock(tmp_path / "locks" / "k0.lock", blocking=False)
        assert not other.acquire()
    assert other.acquire()
    other.release()


def test_refresh_replaces_existing(tracks, tmp_path):
    store = ArtefactStore(tmp_path, mode=CacheMode.REFRESH)
    store.write(manifest_for("tracks"), tracks)
    newer = dataclasses.replace(tracks, confidence=np.zeros_like(tracks.confidence))
    store.write(manifest_for("tracks"), newer)
    assert_same(store.read("k0")[0], newer)
    assert list((tmp_path / "trash").iterdir()) == []
    assert list((tmp_path / "tmp").iterdir()) == []


def test_schema_mismatch_and_missing_raise(tracks, tmp_path):
    store = ArtefactStore(tmp_path)
    with pytest.raises(StoreError, match="no complete artefact"):
        store.read("k0")
    final = store.write(manifest_for("tracks"), tracks)
    doc = json.loads((final / "manifest.json").read_text())
    doc["schema_version"] = SCHEMA_VERSION + 1
    (final / "manifest.json").write_text(json.dumps(doc))
    with pytest.raises(StoreError, match="refresh"):
        store.read("k0")


def test_store_accepts_plain_strings_from_configs(tmp_path):
    store = ArtefactStore(str(tmp_path), "refresh")
    assert store.mode is CacheMode.REFRESH and store.root == tmp_path
