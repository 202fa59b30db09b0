"""The source distribution carries what its own tests need: spec (test vectors), tests
(conftest, regression files), tools, docs, README, LICENSE, the C sources.

Builds the sdist offline with ``python -m build --no-isolation`` (build and setuptools are in
the ``test`` extra) from a copy of the tree, so the checkout is left as it is.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# folders whose every file the sdist must carry (the tests read spec/vectors, tests/regressions)
TREES = ("spec", "tests", "tools", "docs", "svdcodec")
FILES = ("LICENSE", "README.md", "Makefile", "setup.py", "pyproject.toml", "MANIFEST.in")
BUILT = shutil.ignore_patterns(".venv", ".git", "build", "dist", "*.egg-info", "__pycache__",
                               "*.pyc", "*.so", ".hypothesis", ".pytest_cache", ".ruff_cache")


def _source_files() -> set[str]:
    """The files of the tree that are not build outputs, caches or virtual environments."""
    found = set(FILES)
    for top in TREES:
        for path in (ROOT / top).rglob("*"):
            parts = set(path.relative_to(ROOT).parts)
            if path.is_file() and not parts & {"__pycache__", ".hypothesis", ".pytest_cache"} \
                    and path.suffix not in (".pyc", ".so"):
                found.add(path.relative_to(ROOT).as_posix())
    return found


@pytest.fixture(scope="module")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tarfile.TarFile]:
    tmp = tmp_path_factory.mktemp("sdist")
    shutil.copytree(ROOT, tmp / "src", ignore=BUILT)
    subprocess.run([sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir",
                    str(tmp / "dist"), str(tmp / "src")], check=True, capture_output=True,
                   timeout=300)
    (archive,) = (tmp / "dist").glob("svdcodec-*.tar.gz")
    with tarfile.open(archive) as tar:
        yield tar


def test_sdist_carries_the_tree_its_tests_need(sdist: tarfile.TarFile) -> None:
    prefix = sdist.getnames()[0].split("/")[0] + "/"
    members = {name.removeprefix(prefix) for name in sdist.getnames()}
    missing = _source_files() - members
    assert not missing, f"missing from the sdist: {sorted(missing)}"
    for needed in ("tests/conftest.py", "tests/regressions/snan-int8-scale.svdi",
                   "spec/svdi.md", "LICENSE", "svdcodec/patch/_patchc.c", "svdcodec/py.typed"):
        assert needed in members
    assert any(name.startswith("spec/vectors/") for name in members)
    assert not [n for n in members if n.endswith((".so", ".pyc")) or "/.venv/" in n]


def test_sdist_declares_the_mit_licence(sdist: tarfile.TarFile) -> None:
    prefix = sdist.getnames()[0].split("/")[0] + "/"
    pkg_info = sdist.extractfile(prefix + "PKG-INFO").read().decode()
    assert "License-Expression: MIT" in pkg_info and "License-File: LICENSE" in pkg_info
    licence = sdist.extractfile(prefix + "LICENSE").read().decode()
    assert licence.startswith("MIT License") and "2026 svdcodec developers" in licence
