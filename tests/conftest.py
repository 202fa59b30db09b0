"""Shared pytest configuration: hypothesis profiles.

``default``: no deadline (a decode's first call pays numpy/BLAS warm-up, which is not a bug).
``ci`` (loaded when the environment has ``CI=true``, as ``.ci/run`` sets): derandomized, so a CI
run is reproducible and never fails on an example no developer saw, and no example database.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("default", deadline=None)
settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci" if os.environ.get("CI", "").lower() == "true" else "default")
