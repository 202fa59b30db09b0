"""Decoder limits (spec section 8): checked before anything is allocated.

The defaults can be changed for the whole process with :func:`set_default_limits` or passed per
call as ``limits=Limits(...)``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Upper bounds a decoder enforces on a file before allocating for it."""

    max_width: int = 1_000_000  # as libpng
    max_height: int = 1_000_000
    max_pixels: int = 2 * 89_478_485  # twice Pillow's MAX_IMAGE_PIXELS: where Pillow errors
    max_alloc_bytes: int = 512 * 1024 * 1024  # as image-rs
    max_work: int = 2**36  # multiply-adds sum(m * n * r): the SVD-specific compute bomb
    max_metadata_bytes: int = 8 * 1024 * 1024
    max_chunks: int = 1000

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{field.name} must be a positive int, got {value!r}")


_default = Limits()


def get_default_limits() -> Limits:
    """The limits used when a call passes none."""
    return _default


def set_default_limits(limits: Limits | None = None, **changes: int) -> Limits:
    """Replace the process-wide default limits; returns the previous ones.

    ``set_default_limits(Limits())`` restores the built-in defaults;
    ``set_default_limits(max_pixels=10**9)`` changes single fields.
    """
    global _default
    previous = _default
    base = limits if limits is not None else _default
    _default = dataclasses.replace(base, **changes)
    return previous
