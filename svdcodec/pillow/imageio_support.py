"""Tell imageio (an optional dependency) that ``.svdi`` files are read and written by Pillow.

imageio picks a plugin by the file extension in its table ``imageio.config.known_extensions``;
an extension it does not know is tried against every plugin with the extension forgotten, so
``imageio.v3.imwrite("<bytes>", x, extension=".svdi")`` failed with "unknown file extension".
Registering Pillow for ``.svdi`` there is all it takes (imageio's Pillow plugin then asks
Pillow, which knows the format after ``import svdcodec``).

Lazily: if imageio is already imported the entry is added now; otherwise an import hook adds it
when imageio's table is first imported, so ``import svdcodec`` never imports imageio. Nothing
here may fail ``import svdcodec``: any error (imageio missing, or its table changed) leaves
imageio as it was.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from types import ModuleType
from typing import Any

EXTENSION = ".svdi"
_TABLE = "imageio.config.extensions"  # imageio 2.16+ (the v3 API)


def register() -> None:
    """Add ``.svdi`` to imageio's extension table, now or when imageio is imported."""
    try:
        table = sys.modules.get(_TABLE)
        if table is not None:
            _add(table)
        elif importlib.util.find_spec("imageio") is not None and not any(
                isinstance(finder, _Hook) for finder in sys.meta_path):
            sys.meta_path.insert(0, _Hook())
    except Exception:  # optional support must never break the import
        pass


def _add(table: ModuleType) -> None:
    """The entry itself: the table of an imported ``imageio.config.extensions``."""
    try:
        known = table.known_extensions
        if any(getattr(e, "name", None) == "SVDI" for e in known.get(EXTENSION, ())):
            return
        entry = table.FileExtension(extension=EXTENSION, priority=["pillow"], name="SVDI",
                                    description="SVD image (svdcodec, through Pillow)")
        known.setdefault(EXTENSION, []).append(entry)
        table.extension_list.append(entry)
    except Exception:  # a changed imageio: leave it as it is
        pass


class _Hook(importlib.abc.MetaPathFinder):
    """Runs :func:`_add` right after imageio's extension table is first executed."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None
                  ) -> importlib.machinery.ModuleSpec | None:
        if fullname != _TABLE:
            return None
        if self in sys.meta_path:  # once; and the search below must not find this hook
            sys.meta_path.remove(self)
        spec: importlib.machinery.ModuleSpec | None = None
        for finder in sys.meta_path:
            find_spec = getattr(finder, "find_spec", None)
            spec = find_spec(fullname, path, target) if find_spec is not None else None
            if spec is not None:
                break
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader = spec.loader
        spec.loader = _AddingLoader(loader)
        return spec


class _AddingLoader(importlib.abc.Loader):
    """imageio's own loader for its table (which may serve other modules too, as a
    zipimporter does, so it is wrapped, not patched), then :func:`_add`."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        _add(module)

    def __getattr__(self, name: str) -> Any:  # get_resource_reader, get_source, ...
        return getattr(self._loader, name)
