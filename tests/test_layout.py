"""Repository layout rules that pytest itself would only report as a collection error."""

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).parent


def test_test_module_basenames_are_unique():
    # tests/ folders are not packages (pytest's rootdir import mode): two modules with one
    # basename in different folders cannot both be imported.
    names = Counter(p.name for p in TESTS.rglob("*.py") if p.name != "conftest.py")
    assert [n for n, c in names.items() if c > 1] == []


def test_top_level_layout():
    root = TESTS.parent
    allowed = {"pyproject.toml", "README.md", "partdrag4d", "plugins", "tools", "tests"}
    allowed |= {"Makefile", "docs"}
    visible = {p.name for p in root.iterdir() if not p.name.startswith(".")}
    assert visible - {"outputs", "multirun"} <= allowed | {"partdrag4d.egg-info"}
