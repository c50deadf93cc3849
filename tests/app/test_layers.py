"""The package's layers (README.md, "Layout"): no module imports from a layer above it,
and the stage packages of one layer do not import each other."""

import ast
from pathlib import Path

import partdrag4d

LAYERS = {
    "geometry": 1,
    **dict.fromkeys(["containers", "errors", "config_checks", "progress", "atomic", "viz"], 2),
    **dict.fromkeys(["assets", "render", "store"], 3),
    **dict.fromkeys(["scene", "reconstruct", "evaluate"], 4),
    "generator": 5,
    "generate": 6,
    **dict.fromkeys(["export", "viewer"], 7),
    **dict.fromkeys(["config", "runner", "app", "api", "sweep", "__main__", "__init__"], 8),
    "train": 9,
}
SIBLINGS_APART = {4}
"""Layers whose packages must not import each other."""


def _imports(path: Path) -> list[str]:
    """Absolute ``partdrag4d.*`` imports anywhere in the file (in functions too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append(node.module)
    return [n for n in found if n.startswith("partdrag4d.")]


def test_no_module_imports_from_a_layer_above():
    root = Path(partdrag4d.__file__).parent
    upward = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        mine = rel.parts[0].removesuffix(".py")
        assert mine in LAYERS, f"{rel}: add its package to the layers (README and here)"
        for name in _imports(path):
            other = name.split(".")[1]
            layer = LAYERS[other]
            sibling = layer == LAYERS[mine] in SIBLINGS_APART and other != mine
            if layer > LAYERS[mine] or sibling:
                upward.append(f"{rel} imports {name}")
    assert upward == []
