"""What every file job of the CLI shares: its result, and outputs and inputs whose errors name
the user's path.

Outputs are written to a temporary file and renamed (:func:`svdcodec.codec.atomic_write`): an
existing file is replaced only with ``force``, an input never, and a failure leaves nothing
behind. Notes (what differs from what was asked) go to stderr, one line each.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..codec import atomic_write
from .errors import CliError, os_reason


@dataclass
class Result:
    """What an encode or decode wrote: ``record`` is the ``--json`` object, ``notes`` the
    lines for stderr about what differs from what was asked."""

    output: Path
    record: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def check_output(out: Path, force: bool, *inputs: Path) -> None:
    """CliError unless ``out`` may be written: not an input, not existing without ``force``."""
    for path in inputs:
        if out.exists() and path.exists() and os.path.samefile(out, path):
            raise CliError(f"refusing to overwrite the input file {path}")
    if out.is_dir():
        raise CliError(f"{out} is a directory, not a file")
    if out.exists() and not force:
        raise CliError(f"{out} exists (use --force to replace it)")
    parent = out.parent
    if parent.exists() and not parent.is_dir():
        raise CliError(f"cannot write {out}: {parent} is a file, not a directory")
    if not parent.is_dir():
        raise CliError(f"cannot write {out}: the directory {parent} does not exist")


@contextlib.contextmanager
def writing(out: Path) -> Iterator[None]:
    """Turn an OSError of the block into 'cannot write OUT: reason': the user's path, not the
    hidden temporary file that atomic_write was writing."""
    try:
        yield
    except OSError as exc:
        raise CliError(f"cannot write {out}: {os_reason(exc)}") from None


def write_output(out: Path, data: bytes) -> None:
    """atomic_write, with errors that name ``out`` rather than its hidden temporary file."""
    with writing(out):
        atomic_write(out, data)


def read_input(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CliError(f"{path}: {os_reason(exc)}") from None


def print_note(note: str) -> None:
    import sys

    print(f"svdcodec: note: {note}", file=sys.stderr)
