"""Build hook for the optional C decoder of the patch layout (svdcodec/_patchc.c).

Everything else about the package is in pyproject.toml. The extension is optional: without a
C compiler the install still succeeds and svdcodec decodes with its numpy reference code, which
gives the same samples, only slower (``svdcodec.patchcodec.ACCELERATED`` tells which is used).
"""

import sys

from setuptools import Extension, setup

flags = [] if sys.platform == "win32" else ["-O3", "-std=c99", "-Wall", "-Wextra"]
setup(ext_modules=[Extension("svdcodec._patchc", ["svdcodec/_patchc.c"], optional=True,
                             extra_compile_args=flags)])
