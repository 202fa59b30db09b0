"""The CLI's one failure: :class:`CliError`, reported as one line and exit code 1, and the
reason an OSError gives in that line."""

from __future__ import annotations

import re

from ..limits import Limits, get_default_limits


class CliError(Exception):
    """A failure reported as one line and exit code 1."""


def os_reason(exc: OSError) -> str:
    """'no such file' rather than '[Errno 2] No such file or directory: ...'."""
    text = exc.strerror or str(exc) or type(exc).__name__
    return "no such file" if isinstance(exc, FileNotFoundError) else text[:1].lower() + text[1:]


# The messages of svdcodec's LimitErrors (spec section 8) and the Limits field each names: the
# pattern's groups are the values needed, one per field.
_LIMIT_MESSAGES = (
    (re.compile(r"image size (\d+)x(\d+) exceeds"), ("max_width", "max_height")),
    (re.compile(r"tall coded image (\d+)x(\d+) exceeds"), ("", "max_height")),
    (re.compile(r"(\d+) pixels exceed"), ("max_pixels",)),
    (re.compile(r"needs? (\d+) bytes"), ("max_alloc_bytes",)),
    (re.compile(r"(\d+) bytes of records exceed"), ("max_alloc_bytes",)),
    (re.compile(r"work (\d+) multiply-adds"), ("max_work",)),
    (re.compile(r"metadata exceeds"), ("max_metadata_bytes",)),
    (re.compile(r"more than \d+ chunks"), ("max_chunks",)),
)


def limit_hint(message: str, limits: Limits | None = None, stack_pixels: int = 0) -> str:
    """'; decode --limit max_pixels=200000000 (or higher) raises it' for the message of a
    LimitError, naming the limit it crossed and the value needed where the message gives it
    ('' for another message): a refused decode says how to get it decoded. ``stack_pixels``:
    a stack's N·W·H, which max_pixels must also admit (spec 14.5) when HEAD's W·H was refused
    first."""
    current = limits if limits is not None else get_default_limits()
    for pattern, names in _LIMIT_MESSAGES:
        match = pattern.search(message)
        if match is None:
            continue
        needed = [int(v) for v in match.groups()] + [0] * (len(names) - len(match.groups()))
        needed = [max(v, stack_pixels) if name == "max_pixels" else v
                  for name, v in zip(names, needed, strict=True)]
        settings = [f"--limit {name}={value}" if value else f"--limit {name}=N"
                    for name, value in zip(names, needed, strict=True)
                    if name and (not value or value > getattr(current, name))]
        if "tall coded image" in message:
            settings.append("--limit max_pixels=N")
        return f" (the decoder's limit: {' '.join(settings)} raises it)" if settings else ""
    return ""
