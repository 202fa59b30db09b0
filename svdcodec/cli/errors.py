"""The CLI's one failure: :class:`CliError`, reported as one line and exit code 1, and the
reason an OSError gives in that line."""

from __future__ import annotations


class CliError(Exception):
    """A failure reported as one line and exit code 1."""


def os_reason(exc: OSError) -> str:
    """'no such file' rather than '[Errno 2] No such file or directory: ...'."""
    text = exc.strerror or str(exc) or type(exc).__name__
    return "no such file" if isinstance(exc, FileNotFoundError) else text[:1].lower() + text[1:]
