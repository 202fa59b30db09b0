"""The ``svdcodec`` command line: encode, decode, info, demo, compare, animate, basis, spectrum,
denoise.

``main(argv) -> int``: 0 on success, 1 with one line ``svdcodec: error: ...`` on failure, 2 for
usage errors, 3 with the traceback for an internal error (a bug: please report it), 130 on
Ctrl-C, 141 when the reader of stdout went away. ``--debug`` prints the traceback of any error.

Outputs are written to a temporary file and renamed: an existing file is replaced only with
``--force``, an input never, and a failure leaves no output behind.

``encode``/``decode`` take one ``IN OUT`` pair, or with ``--out-dir`` any number of inputs, run in
``-j`` worker processes (:mod:`.batch`): one error line per failed file
(``svdcodec: error: FILE: ...``), the others go on, a summary line, exit 1 if any failed.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from threadpoolctl import threadpool_limits

from .. import __version__
from ..errors import SvdiError
from .errors import CliError, os_reason
from .parser import build_parser, check_paths


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        check_paths(args)
    except SystemExit as exc:  # argparse: usage errors exit 2, --help/--version exit 0
        return int(exc.code or 0)
    try:
        # One BLAS thread unless asked: on a machine whose other core is busy, OpenBLAS's
        # spinning second thread made a 768x512 encode take 4-9 s instead of 0.06 s, and with
        # both cores free one thread is as fast for the SVD (tools/bench_speed.py).
        with threadpool_limits(limits=args.blas_threads or None, user_api="blas"):
            code = int(args.func(args))
            sys.stdout.flush()  # here, so that a closed pipe is seen below, not at exit
            return code
    except BrokenPipeError:
        return _broken_pipe()
    except (CliError, SvdiError, OSError, ValueError, TypeError) as exc:
        if args.debug or not _deliberate(exc):
            return _internal_error(exc, args.debug)
        if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
            message = _os_message(exc)  # not "[Errno 2] ...", nor a temporary file's name
        else:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"svdcodec: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("svdcodec: error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # anything else is a bug in svdcodec
        return _internal_error(exc, args.debug)


INTERNAL_ERROR = 3
# Packages whose deliberate ValueError/TypeError describes the user's input or options:
# svdcodec's own checks, and Pillow's (an unknown output extension, a bad save option).
_USER_FACING = ("svdcodec", "PIL")


def _deliberate(exc: BaseException) -> bool:
    """Whether ``exc`` is a user error: the package's errors, an OSError, or a ValueError /
    TypeError raised on purpose by svdcodec or Pillow. One raised inside numpy, scipy or
    Python itself (a shape mismatch, a singular matrix) means svdcodec passed them something
    it should not have: a bug, reported with its traceback instead of as one line."""
    if isinstance(exc, (CliError, SvdiError, OSError)):
        return True
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    module = "" if tb is None else str(tb.tb_frame.f_globals.get("__name__", ""))
    return module.split(".")[0] in _USER_FACING


def _internal_error(exc: BaseException, debug: bool) -> int:
    """The traceback, then one line; exit 3 (1 for a user error seen with --debug)."""
    traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    if debug and _deliberate(exc):
        print(f"svdcodec: error: {exc}", file=sys.stderr)
        return 1
    print(f"svdcodec: internal error: {type(exc).__name__}: {exc} (a bug in svdcodec "
          f"{__version__}: please report it with the traceback above)", file=sys.stderr)
    return INTERNAL_ERROR

# atomic_write's temporary file: tempfile.mkstemp(prefix=".NAME.", suffix=".tmp")
_TEMPORARY = re.compile(r"\.(?P<name>.+)\.[A-Za-z0-9_]{8}\.tmp")

def _os_message(exc: OSError) -> str:
    """'PATH: reason', naming the output a temporary file stands for ('cannot write OUT: ...')."""
    path = Path(os.fsdecode(exc.filename))
    temporary = _TEMPORARY.fullmatch(path.name)
    if temporary:
        return f"cannot write {path.with_name(temporary['name'])}: {os_reason(exc)}"
    return f"{path}: {os_reason(exc)}"

def _broken_pipe() -> int:
    """The reader of stdout went away (``svdcodec info x | head -1``): exit quietly, as Unix
    tools do, with 141 (128 + SIGPIPE). stdout goes to devnull so that Python's flush at exit
    does not fail again (the recipe of the signal module's documentation)."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return 141


if __name__ == "__main__":
    sys.exit(main())
