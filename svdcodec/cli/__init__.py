"""The ``svdcodec`` command line: :func:`main` (argument parsing and subcommands in
:mod:`.commands`), file jobs in :mod:`.files`, batches over a process pool in :mod:`.batch`."""

from .commands import main

__all__ = ["main"]
