"""Imports flow one way (house style, docs/architecture.md): one rule per folder.

errors, limits -> format/ (bytes), _zstd, metrics, info -> whole/, patch/ (math) -> codec ->
pillow/, cli/, teach/, integrations/ (edges). Imports under ``if TYPE_CHECKING:`` are for
annotations only and are not counted.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "svdcodec"
THIRD_PARTY_NUMERIC = {"numpy", "scipy", "zstandard"}
# the public codec: its API (codec), its encoding and decoding halves, a file parsed once
PUBLIC_CODEC = ("svdcodec.codec", "svdcodec.encoding", "svdcodec.decoding", "svdcodec.svdifile")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


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


def imports(module: str) -> set[str]:
    """The absolute names ``module`` imports at run time: third-party top-level packages
    (``numpy``) and svdcodec modules (``svdcodec.format.container``, ``svdcodec.patch``)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name if a.name.startswith("svdcodec") else a.name.split(".")[0]
                      for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
                if not prefix.startswith("svdcodec"):
                    names.add(prefix.split(".")[0])
                    continue
            for alias in node.names:  # `from . import x` may name a submodule
                sub = f"{prefix}.{alias.name}"
                names.add(sub if sub in MODULES else prefix)
    return names


def _in(name: str, *packages: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def _svdcodec(names: set[str]) -> set[str]:
    return {n for n in names if n.startswith("svdcodec")}


def _modules(*packages: str) -> list[str]:
    return [m for m in MODULES if _in(m, *packages)]


@pytest.mark.parametrize("module", _modules("svdcodec.errors", "svdcodec.limits"))
def test_errors_and_limits_import_only_the_standard_library(module: str) -> None:
    found = {n for n in imports(module) if n in THIRD_PARTY_NUMERIC | {"PIL"}}
    assert not found and not _svdcodec(imports(module)) - {"svdcodec.errors"}, module


@pytest.mark.parametrize("module", _modules("svdcodec.format", "svdcodec.info"))
def test_format_is_bytes_only(module: str) -> None:
    """format/ frames bytes: no numpy, no compression, nothing above it."""
    names = imports(module)
    assert not names & (THIRD_PARTY_NUMERIC | {"PIL"}), module
    allowed = ("svdcodec.errors", "svdcodec.limits", "svdcodec.format")
    assert all(_in(n, *allowed) for n in _svdcodec(names)), (module, _svdcodec(names))


@pytest.mark.parametrize("module", _modules("svdcodec._zstd", "svdcodec.metrics"))
def test_helpers_import_nothing_above_them(module: str) -> None:
    assert all(_in(n, "svdcodec.errors") for n in _svdcodec(imports(module))), module
    assert "PIL" not in imports(module)


@pytest.mark.parametrize("module", _modules("svdcodec.whole", "svdcodec.patch"))
def test_layouts_are_math_and_know_neither_each_other_nor_what_is_above(module: str) -> None:
    """whole/ and patch/: the arrays, no Pillow, no file I/O; neither imports the other."""
    other = "svdcodec.patch" if _in(module, "svdcodec.whole") else "svdcodec.whole"
    names = imports(module)
    assert "PIL" not in names, module
    above = (*PUBLIC_CODEC, "svdcodec.pillow", "svdcodec.cli", "svdcodec.teach", other)
    found = {n for n in _svdcodec(names) if _in(n, *above)}
    assert not found, (module, found)


@pytest.mark.parametrize("module", _modules("svdcodec.stack"))
def test_stack_joins_the_layouts_below_the_public_codec(module: str) -> None:
    """stack/ (spec section 14) joins whole/ and patch/ like the public codec, which it does
    not import (encoding.py and decoding.py hand it the single-image encoder and decoder); no
    Pillow, no edge."""
    names = imports(module)
    assert "PIL" not in names, module
    above = (*PUBLIC_CODEC, "svdcodec.pillow", "svdcodec.cli", "svdcodec.teach",
             "svdcodec.integrations")
    found = {n for n in _svdcodec(names) if _in(n, *above)}
    assert not found, (module, found)


@pytest.mark.parametrize("module", PUBLIC_CODEC)
def test_codec_imports_no_edge(module: str) -> None:
    found = {n for n in imports(module)
             if _in(n, "svdcodec.pillow", "svdcodec.cli", "svdcodec.teach") or n == "PIL"}
    assert not found, (module, found)


@pytest.mark.parametrize("module", _modules("svdcodec.pillow"))
def test_pillow_plugin_imports_only_the_public_codec(module: str) -> None:
    """pillow/ is thin: it decodes and encodes only through svdcodec.codec."""
    allowed = ("svdcodec.codec", "svdcodec.errors", "svdcodec.limits", "svdcodec.info",
               "svdcodec.pillow")
    found = {n for n in _svdcodec(imports(module)) if not _in(n, *allowed)}
    assert not found, (module, found)


@pytest.mark.parametrize("module", _modules("svdcodec.integrations"))
def test_integrations_import_only_the_public_codec(module: str) -> None:
    """integrations/ (zarr, numcodecs) store chunks only through svdcodec.codec."""
    allowed = ("svdcodec.codec", "svdcodec.errors", "svdcodec.limits", "svdcodec.integrations")
    found = {n for n in _svdcodec(imports(module)) if not _in(n, *allowed)}
    assert not found, (module, found)


def test_nothing_imports_the_edges_but_the_edges() -> None:
    """Nothing imports cli/ but itself and __main__; only cli/ imports teach/."""
    for module in MODULES:
        names = _svdcodec(imports(module))
        if not _in(module, "svdcodec.cli") and module != "svdcodec.__main__":
            assert not {n for n in names if _in(n, "svdcodec.cli")}, module
        if not _in(module, "svdcodec.cli", "svdcodec.teach"):
            assert not {n for n in names if _in(n, "svdcodec.teach")}, module
        # integrations are found by entry point, not by import; the CLI reads and writes
        # DICOM files (and series, spec section 17) through integrations.dicom and
        # integrations.dicom_series (an edge using an edge)
        dicom_edges = {"svdcodec.integrations.dicom", "svdcodec.integrations.dicom_series"}
        allowed = ("svdcodec.integrations", "svdcodec.cli") if \
            names & dicom_edges else ("svdcodec.integrations",)
        if not _in(module, *allowed):
            assert not {n for n in names if _in(n, "svdcodec.integrations")}, module
        if _in(module, "svdcodec.cli"):
            assert {n for n in names if _in(n, "svdcodec.integrations")} <= dicom_edges, module


def test_import_walker_sees_relative_imports() -> None:
    """The rules above would pass vacuously if the walker missed relative imports."""
    assert "svdcodec.decoding" in imports("svdcodec.codec")
    assert "svdcodec.format" in imports("svdcodec.encoding")
    assert "svdcodec.patch.codec" in imports("svdcodec.encoding")
    assert "numpy" in imports("svdcodec.whole.linalg")


def test_the_architecture_diagram_names_every_module() -> None:
    """docs/architecture.md's diagram is where a newcomer looks a module up: it names each
    one in its layer (the DICOM series, stack and progress modules were missing from it)."""
    import re

    text = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    diagram = text.split("```")[1]
    names = {p.stem if p.suffix == ".py" else p.name
             for p in PACKAGE.rglob("*") if p.suffix in {".py", ".c", ".h"}} - {"__init__",
                                                                                "__main__"}
    missing = {n for n in names if not re.search(rf"(?<![\w.]){re.escape(n)}(?![\w])", diagram)}
    assert not missing
