"""Build hook for the optional C parts of the decoders: svdcodec/_patchc.c (the patch layout),
svdcodec/_storec.c (the samples of the whole-image layouts) and svdcodec/_arithc.c (the patch
layout's arithmetic-coded payload).

Everything else about the package is in pyproject.toml. The extensions are optional: without a
C compiler the install still succeeds and svdcodec decodes with its numpy reference code, which
gives the same samples, only slower (``svdcodec.patchcodec.ACCELERATED`` and
``svdcodec.layout.ACCELERATED`` tell which is used).
"""

import sys

from setuptools import Extension, setup

flags = [] if sys.platform == "win32" else ["-O3", "-std=c99", "-Wall", "-Wextra"]
NAMES = ("_patchc", "_storec", "_arithc")
setup(ext_modules=[Extension(f"svdcodec.{name}", [f"svdcodec/{name}.c"], optional=True,
                             extra_compile_args=flags) for name in NAMES])
