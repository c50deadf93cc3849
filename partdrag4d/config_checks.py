"""Checks of a whole job config before any stage runs (one-line errors naming the key).

The rule: every number in a config schema is a finite, non-negative amount, unless its
schema says otherwise in a ``CHECKS`` class variable (a :class:`Range` or :class:`OneOf`
per field name) and relates fields with ``RELATIONS`` (``(a, "<=", b)``). Strings with
a fixed set of values say so with :class:`OneOf`. The walk visits nested schemas, so a
rule sits next to the field it guards; this module knows no schema.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

from partdrag4d.errors import InputError

SOURCE = "config"
"""What a config error names as its source (``config: rig.width: ...``)."""


@dataclass(frozen=True)
class Range:
    """A closed (or half-open) interval of allowed numbers; None = unbounded."""

    lo: int | float | None = None
    hi: int | float | None = None
    lo_open: bool = False
    """Exclude ``lo`` itself (``> lo`` instead of ``>= lo``)."""
    integer: bool = False
    """Also require a whole number."""
    multiple_of: int | None = None
    """Also require a multiple of this."""

    def problem(self, value: float) -> str | None:
        """Why ``value`` is not allowed, or None."""
        if not math.isfinite(value):
            return f"must be a finite number, got {value}"
        if self.integer and value != int(value):
            return f"must be a whole number, got {value}"
        if self.lo is not None and (value <= self.lo if self.lo_open else value < self.lo):
            return f"must be {'>' if self.lo_open else '>='} {self.lo:g}, got {value:g}"
        if self.hi is not None and value > self.hi:
            return f"must be <= {self.hi:g}, got {value:g}"
        if self.multiple_of and value % self.multiple_of:
            return f"must be a multiple of {self.multiple_of}, got {value:g}"
        return None


@dataclass(frozen=True)
class OneOf:
    """A string field with a fixed set of values."""

    options: tuple[str, ...]

    def problem(self, value: str) -> str | None:
        if value in self.options:
            return None
        return f"must be one of {', '.join(self.options)}; got {value!r}"


AMOUNT = Range(0.0)
"""The default rule of numbers: finite and non-negative."""
SIGNED = Range()
"""Any finite number (angles, offsets)."""
FRACTION = Range(0.0, 1.0)
"""A number in [0, 1]."""
POSITIVE = Range(0.0, lo_open=True)
"""A finite number > 0."""
COUNT = Range(1, integer=True)
"""A whole number >= 1."""


def _check_value(value: Any, rule: Range | OneOf | None, key: str) -> None:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, (int, float)):
        problem = (rule if isinstance(rule, Range) else AMOUNT).problem(float(value))
    elif isinstance(value, str):
        problem = rule.problem(value) if isinstance(rule, OneOf) else None
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_value(item, rule, f"{key}[{i}]")
        return
    else:
        return
    if problem is not None:
        raise InputError(SOURCE, key, problem)


_COMPARE = {"<=": lambda a, b: a <= b, "<": lambda a, b: a < b}


def check_config(cfg: Any, prefix: str = "") -> None:
    """Raise :class:`InputError` for the first field of ``cfg`` (a schema dataclass,
    nested ones included) that breaks its rule."""
    checks = getattr(type(cfg), "CHECKS", {})
    for f in fields(cfg):
        value = getattr(cfg, f.name)
        key = f"{prefix}{f.name}"
        if is_dataclass(value):
            check_config(value, f"{key}.")
        else:
            _check_value(value, checks.get(f.name), key)
    for a, op, b in getattr(type(cfg), "RELATIONS", ()):
        va, vb = getattr(cfg, a), getattr(cfg, b)
        if va is not None and vb is not None and not _COMPARE[op](va, vb):
            raise InputError(SOURCE, f"{prefix}{a}", f"must be {op} {prefix}{b} ({vb}), got {va}")
