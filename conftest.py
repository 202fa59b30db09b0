"""Collection of the package's doctests: the modules of an optional extra that is not installed
are left out (their tests in tests/ skip the same way), so that ``pytest svdcodec`` runs on a
core install."""

from __future__ import annotations

import importlib.util

collect_ignore = [path for path, module in (("svdcodec/integrations/zarr.py", "zarr"),
                                            ("svdcodec/integrations/numcodecs.py", "numcodecs"))
                  if importlib.util.find_spec(module) is None]
