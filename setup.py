"""Build hook for the optional C parts of the decoders: svdcodec/patch/_patchc.c (the patch
layout), svdcodec/patch/_arithc.c (its arithmetic-coded payload) and svdcodec/whole/_storec.c
(the samples of the whole-image layouts).

Everything else about the package is in pyproject.toml. The extensions are optional: without a
C compiler the install still succeeds and svdcodec decodes with its numpy reference code, which
gives the same samples, only slower (``svdcodec.patch.decode.ACCELERATED`` and
``svdcodec.whole.layout.ACCELERATED`` tell which is used).
"""

import sys

from setuptools import Extension, setup

flags = [] if sys.platform == "win32" else ["-O3", "-std=c99", "-Wall", "-Wextra", "-pthread"]
# -pthread: _arithc's strip decoder may decode one plane on a second (POSIX) thread
link = [] if sys.platform == "win32" else ["-pthread"]
EXTENSIONS = (("patch", "_patchc"), ("patch", "_arithc"), ("whole", "_storec"))
# _samples.h: the sample arithmetic that _patchc.c and _arithc.c share
setup(ext_modules=[Extension(f"svdcodec.{pkg}.{name}", [f"svdcodec/{pkg}/{name}.c"],
                             depends=["svdcodec/patch/_samples.h"], optional=True,
                             extra_compile_args=flags, extra_link_args=link)
                   for pkg, name in EXTENSIONS])
