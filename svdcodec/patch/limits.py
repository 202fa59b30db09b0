"""The patch layout's limits (spec section 12.8): the work and allocation of decoding a file,
counted from its header fields before anything is decompressed or allocated.

The counts bound the decoders of :mod:`.decode` (the strip decoder of arith planes, the
whole-plane decoder of zstd planes) and :mod:`.reference`, whose strip sizes are set here.
"""

from __future__ import annotations

from .. import format as fmt
from ..errors import LimitError
from ..limits import Limits

# Section 12.8: the reference decoder reconstructs about PATCH_STRIP patches (at least one
# patch row) at a time and converts colours in strips of about COLOUR_PIXELS pixels (at least
# two rows); the allocation limit counts those temporaries.
PATCH_STRIP = 1024
COLOUR_PIXELS = 1 << 16
# Section 12.8: a plane's fixed cost in the strip decoder (its coder's 2098 contexts, bounds)
STRIP_PLANE_BYTES = 1 << 14


def colour_rows(width: int) -> int:
    """Image rows per colour-conversion strip: even, >= 2."""
    return max(2, COLOUR_PIXELS // width // 2 * 2)


def check_limits(container: fmt.Container, limits: Limits, rank: int | None = None) -> None:
    """Section 12.8: allocation and work of decoding a patch-layout file at ``rank``;
    LimitError before anything is decompressed (or allocated)."""
    work, total = limit_counts(container, rank)
    if work > limits.max_work:
        raise LimitError(f"reconstruction work {work} multiply-adds exceeds {limits.max_work}")
    if total > limits.max_alloc_bytes:
        raise LimitError(f"decoding needs {total} bytes, limit {limits.max_alloc_bytes}")


def limit_counts(container: fmt.Container, rank: int | None = None) -> tuple[int, int]:
    """(work, allocation) of section 12.8, from the header fields alone.

    Work: P^2 multiply-adds per patch (its DC term, rounding and clipping) and per stored
    coefficient used (at most min(M, N r) of the M stored), what a decoder that skips the
    coefficients a patch does not store performs (the C decoders do a quarter of it).

    Compression 2 counts the strip decoder's buffers (:func:`.decode.decode_strips`; per plane
    two patch rows of int32 samples, two patch rows of coefficients, DC terms, counts and
    deblocking samples, the basis and the coder state); compression 1 the whole-plane
    decoder's (its decompressed payload and int32 padded plane). Both add the output samples
    and a strip of colour conversion (or of a reduced decode's averaging) of R image rows."""
    h = container.header
    total = h.width * h.height * h.channels * (h.bit_depth // 8)
    work = 0
    strip = 0
    for pl in container.planes:
        n, p, k = pl.patches(h), pl.patch_size, pl.components
        gw = pl.grid(h)[1]
        r = k if rank is None else min(rank, k)
        work += p * p * (n + min(pl.ac_symbols, n * r))
        if h.compression == fmt.Compression.ARITH:
            total += 8 * gw * (p * p + k + 5) + 8 * k * (p * p // 4 + 4) + STRIP_PLANE_BYTES
            strip = 16 * colour_rows(h.width) * h.width * h.channels
            continue
        # payload; int32 plane; int32 coefficients and their mask; AC values; DC and counts;
        # deblocking temporaries
        total += (pl.raw_size(h) + 4 * n * p * p + 5 * n * k + 8 * pl.ac_symbols + 32 * n
                  + 40 * n * p)
        strip = max(strip, 8 * max(PATCH_STRIP, gw) * (k + 1 + p * p)
                    + 64 * colour_rows(h.width) * h.width * h.channels)
    return work, total + strip
