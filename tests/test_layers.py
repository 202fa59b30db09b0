"""Imports flow one way (house style): errors -> format, math, _zstd -> codec -> plugin -> cli."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "svdcodec"

# module -> imports it must not make (top-level packages or svdcodec modules)
FORBIDDEN = {
    "errors": {"numpy", "PIL", "zstandard", "svdcodec"},
    "limits": {"numpy", "PIL", "zstandard", "svdcodec"},
    "format": {"numpy", "PIL", "zstandard", "scipy", "codec", "quantize", "_zstd"},
    # imported by format, so it must not import format at run time (typing only)
    "patchformat": {"numpy", "PIL", "zstandard", "scipy", "codec", "quantize", "_zstd",
                    "format"},
    "_zstd": {"numpy", "PIL", "format", "codec"},
    "quantize": {"PIL", "zstandard", "format", "codec", "_zstd"},
    "layout": {"PIL", "zstandard", "format", "codec", "_zstd"},
    "linalg": {"PIL", "zstandard", "format", "codec", "_zstd", "quantize"},
    "metrics": {"PIL", "zstandard", "format", "codec"},
    "codec": {"PIL", "cli", "pillow_plugin", "report"},
    "info": {"numpy", "PIL", "zstandard", "codec", "_zstd"},  # reads fields, decodes nothing
    # the two halves codec joins: neither knows the other, nor codec
    "patchcodec": {"PIL", "cli", "pillow_plugin", "report", "codec", "wholecodec"},
    "wholecodec": {"PIL", "cli", "pillow_plugin", "report", "codec", "patchcodec"},
    # the math of the lessons (spectrum, denoise): no I/O, no codec; lessons.py draws them
    "spectrum": {"PIL", "zstandard", "format", "codec", "_zstd", "cli", "lessons", "plots"},
    "denoise": {"PIL", "zstandard", "format", "codec", "_zstd", "cli", "lessons", "plots",
                "svdcodec"},
}


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node but those under ``if TYPE_CHECKING:`` (imports for annotations only)."""
    nodes, stack = [], [tree]
    while stack:
        node = stack.pop()
        nodes.append(node)
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))
    return nodes


def _imports(module: str) -> set[str]:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    names: set[str] = set()
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: an svdcodec module
                names.add("svdcodec")
                names |= {node.module or a.name for a in node.names} if node.module is None \
                    else {node.module.split(".")[0]}
            elif node.module:
                names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("module", sorted(FORBIDDEN))
def test_module_respects_layering(module: str) -> None:
    found = _imports(module) & FORBIDDEN[module]
    assert not found, f"svdcodec.{module} imports {found}"


def test_nothing_imports_cli() -> None:
    for path in PACKAGE.glob("*.py"):
        if path.stem not in ("cli", "__main__"):
            assert "cli" not in _imports(path.stem), path.name
