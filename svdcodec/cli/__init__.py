"""The ``svdcodec`` command line: :func:`main` (:mod:`.app`: exit codes and error lines), the
arguments (:mod:`.parser`), the codec's commands (:mod:`.commands`), the teaching commands
(:mod:`.lessons`), file jobs (:mod:`.files`) and batches over a process pool (:mod:`.batch`)."""

from .app import main

__all__ = ["main"]
