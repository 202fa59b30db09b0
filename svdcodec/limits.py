"""Decoder limits (spec section 8): checked before anything is allocated.

The defaults can be changed for the whole process with :func:`set_default_limits` or passed per
call as ``limits=Limits(...)``.

``max_alloc_bytes`` bounds what a decode allocates, counted from the file's header fields by the
formulas of spec sections 8 (layouts 1-3) and 12.8 (patch): the output samples plus the
decoder's working memory. For the patch layout's arith payload (the default) that working
memory is the strip decoder's, O(width) per plane, so the count is about the output itself.
The default, 1 GiB, admits every image Pillow opens by default (``max_pixels``, 4 bytes a pixel
for RGBA: 716 MB, plus the strips), while a header declaring more is refused in microseconds.
``max_work`` bounds the reconstruction's multiply-adds (for the patch layout P^2 per patch and
per stored coefficient used, P^2 (N + min(M, N r))): 2^36 admits 178,956,970 RGBA pixels even
if every patch stored 63 coefficients (4.6e10), and refuses a 33 KB file declaring 65535^2
pixels at rank 4096.
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
    max_alloc_bytes: int = 1024 * 1024 * 1024  # max_pixels of RGBA (716 MB) and the strips
    max_work: int = 2**36  # multiply-adds sum(m * n * r): the SVD-specific compute bomb
    max_metadata_bytes: int = 8 * 1024 * 1024
    # spec section 17: dser's raw_size, the decompressed headers of a series (1,000 slices
    # of 64 KiB each), checked before the zstd frame is read
    max_series_header_bytes: int = 64 * 1024 * 1024
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
