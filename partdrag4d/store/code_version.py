"""A stage's code version, derived from the source it runs (so the cache follows the code).

The version of a stage is its hand-set version plus a hash of the source of its entry
modules and every ``partdrag4d`` module they import, transitively (imports inside
functions included, read statically with :mod:`ast`). Editing any of them, even a
docstring, gives new cache keys for that stage and (through the upstream keys) every
stage after it; an upgrade recomputes what changed and reuses the rest.

``partdrag4d.config`` (and ``config_checks``) are not followed: they hold schemas only,
and the stage's resolved config is hashed into its key already. Following them would
tie every stage to every module, since the top-level schema imports all of them.
"""

from __future__ import annotations

import ast
import hashlib
from functools import cache
from importlib.util import find_spec
from pathlib import Path

PACKAGE = "partdrag4d"
NOT_FOLLOWED = frozenset({"partdrag4d.config", "partdrag4d.config_checks"})


def _source(module: str) -> Path | None:
    try:
        spec = find_spec(module)
    except (ImportError, ValueError):  # a name inside a module, not a module
        return None
    return Path(spec.origin) if spec is not None and spec.origin else None


def _imports(module: str, path: Path) -> set[str]:
    """Package-internal modules ``module`` imports (absolute and relative imports)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)  # submodules by name
    return {m for m in found if m == PACKAGE or m.startswith(PACKAGE + ".")}


@cache
def module_closure(entry: str) -> tuple[str, ...]:
    """``entry`` and the package modules it reaches, sorted."""
    seen: set[str] = set()
    todo = [entry]
    while todo:
        module = todo.pop()
        if module in seen or module in NOT_FOLLOWED:
            continue
        path = _source(module)
        if path is None or path.suffix != ".py":
            continue  # a name imported from a module, not a module itself
        seen.add(module)
        todo.extend(_imports(module, path) - seen)
    return tuple(sorted(seen))


@cache
def source_hash(entries: tuple[str, ...]) -> str:
    """SHA-256 (16 hex digits) of the sources of ``entries`` and their closure."""
    digest = hashlib.sha256()
    for module in sorted({m for e in entries for m in module_closure(e)}):
        digest.update(module.encode())
        digest.update(_source(module).read_bytes())  # type: ignore[union-attr]
    return digest.hexdigest()[:16]
