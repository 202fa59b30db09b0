"""The whole-image layouts end to end (spec sections 5–7): FACT groups -> image.

:mod:`.encode` builds the groups (image -> matrices -> factors -> records); this module decodes
them: :mod:`.quantize` unpacks the factors and :mod:`.layout` writes the rows back, with limits
checked first (section 8), a reduced decode and verification, as :mod:`svdcodec.patch.decode`
does for the patch layout. :mod:`svdcodec.encoding` validates the options and calls one or the
other; :mod:`svdcodec.decoding` dispatches a file to its layout's decoder.
"""

from __future__ import annotations

import numpy as np

from .. import _zstd
from .. import format as fmt
from ..errors import LimitError, SvdiError
from ..limits import Limits
from ..progress import Progress
from .layout import block_mean, write_channels, write_rows
from .quantize import dequantize, magnitude_bound

# Decoding computes in float32 while every intermediate value stays below this (float32's
# largest is 3.4e38); real 8-bit images stay below about 1e8.
FLOAT32_SAFE_BOUND = 1e30
# Rows reconstructed at a time (section 8's "working row strip"): bounds float64 temporaries.
STRIP_ROWS = 256


def decode_groups(container: fmt.Container, rank: int | None = None,
                  progress: Progress | None = None) -> np.ndarray:
    """Decode a parsed whole-image container whose limits were checked: (H, W, C) array;
    ``progress`` hears of each group's factors (then the products)."""
    h = container.header
    factors = fmt.FACTOR_NAMES[h.factor_type]
    layout = h.layout
    dtype = np.uint8 if h.bit_depth == 8 else np.dtype("<u2")
    # spec 7.1: groups missing from a truncated file contribute nothing
    out = (np.zeros if container.truncated else np.empty)(
        (h.height, h.width, h.channels), dtype=dtype)
    decoded = []  # (index, u diag(s), vt) of every group: section 8 counts them all at once
    for g in container.decodable_groups:
        raw = group_records(g, h, rank, partial=g is container.partial)
        work = decode_dtype(h.bit_depth, magnitude_bound(raw, g.rows, g.cols, factors))
        u, s, vt = dequantize(raw, g.rows, g.cols, factors, work)
        decoded.append((g.index, np.multiply(u, s, out=u), vt))  # in place: one m x k array
        del raw
        if progress is not None:
            progress(0.5 * len(decoded) / len(container.decodable_groups))
    if layout == fmt.Layout.PER_CHANNEL and len(decoded) > 1:
        reconstruct_channels(out, decoded)
        return out
    # One strip reused by every group (they share one shape, section 6), as the limit counts:
    # `us[rows] @ vt` would allocate each strip while the previous one is still alive.
    rows, cols = h.group_shape()
    strip: np.ndarray | None = None
    for index, us, vt in decoded:
        if strip is None or strip.dtype != us.dtype:
            strip = None  # freed before the next one: the limit counts one
            strip = np.empty((min(rows, STRIP_ROWS), cols), dtype=us.dtype)
        reconstruct(out, layout, index, us, vt, strip)
    return out


def reconstruct_channels(out: np.ndarray,
                         decoded: list[tuple[int, np.ndarray, np.ndarray]]) -> None:
    """Layout per-channel: every channel's rows at once, so that the samples are stored
    interleaved in one pass (:func:`layout.write_channels`); one strip per channel, of
    STRIP_ROWS / channels rows, as much memory as section 8 counts for the one strip."""
    work = np.result_type(*(us.dtype for _, us, _ in decoded))
    decoded = [(i, us.astype(work, copy=False), vt.astype(work, copy=False))
               for i, us, vt in decoded]
    height, width = out.shape[:2]
    step = max(1, STRIP_ROWS // len(decoded))
    strips = [np.empty((min(step, height), width), dtype=work) for _ in decoded]
    for row0 in range(0, height, step):
        n = min(step, height - row0)
        for (_, us, vt), strip in zip(decoded, strips, strict=True):
            np.matmul(us[row0:row0 + n], vt, out=strip[:n])
        write_channels(out, row0, [(i, strip[:n])
                                   for (i, _, _), strip in zip(decoded, strips, strict=True)])


def group_records(g: fmt.Group, h: fmt.Header, rank: int | None = None, *,
                  partial: bool = False) -> bytes:
    """The decompressed records of a FACT group: the first min(rank, g.rank) (spec sections
    5, 7); for the group a truncated file ends in (``partial``), as many whole ones as its cut
    frame yields (section 7.1), found by bisection, as ``_zstd.decompress`` fails when asked
    for more bytes than the frame holds.
    """
    size = fmt.record_size(g.rows, g.cols, h.factor_type)
    r = g.rank if rank is None else min(rank, g.rank)
    what = f"FACT {g.index}"
    if not partial:
        return _zstd.decompress(g.payload, g.raw_size, what=what, prefix=r * size)
    raw, lo, hi = b"", 0, r  # lo records are known to be there
    while lo < hi:
        mid = (lo + hi + 1) // 2
        try:
            raw = _zstd.decompress(g.payload, g.raw_size, prefix=mid * size, what=what)
            lo = mid
        except SvdiError:
            hi = mid - 1
    return raw[:lo * size]


def reconstruct(out: np.ndarray, layout: fmt.Layout, index: int, us: np.ndarray, vt: np.ndarray,
                strip: np.ndarray | None = None) -> None:
    """Store group ``index`` = clip(round(us @ vt)) into ``out`` (spec section 7), in strips.

    ``us`` (m, r) and ``vt`` (r, n) share one float dtype; ``strip`` is an optional reusable
    buffer of at least min(m, STRIP_ROWS) x n of that dtype.
    """
    rows = us.shape[0]
    if strip is None:
        strip = np.empty((min(rows, STRIP_ROWS), vt.shape[1]), dtype=us.dtype)
    for row0 in range(0, rows, STRIP_ROWS):
        block = strip[:min(STRIP_ROWS, rows - row0)]
        np.matmul(us[row0:row0 + STRIP_ROWS], vt, out=block)
        write_rows(out, layout, index, row0, block)  # clips and rounds half to even


def decode_dtype(bit_depth: int, bound: float) -> type:
    """The float type of the products of section 7: float32 for 8-bit samples, else float64.

    float32's 24-bit significand leaves about 16 bits below the unit of an 8-bit sample: on
    Kodak images, up to full rank, X̂ differs from float64's by at most 5e-4, which moves about
    one sample in 40,000 by 1 (section 7 allows that). It halves the memory traffic and doubles
    the BLAS rate. A 16-bit sample would leave only 8 bits, so I;16 stays in float64, and so
    do files whose factors could overflow float32 (``bound``: see ``magnitude_bound``).
    """
    return np.float32 if bit_depth == 8 and bound < FLOAT32_SAFE_BOUND else np.float64


# --- limits (spec section 8) -----------------------------------------------------------------
def check_limits(container: fmt.Container, limits: Limits, rank: int | None = None) -> None:
    """Section 8: allocation and work of decoding a whole-image file at ``rank`` (None: the
    stored ranks); LimitError before anything is decompressed."""
    h = container.header
    output = h.width * h.height * h.channels * (h.bit_depth // 8)
    work = 0
    raw = 0
    strip = 0
    for g in container.decodable_groups:
        r = g.rank if rank is None else min(rank, g.rank)
        work += g.rows * g.cols * r
        # the decompressed records plus the factors widened to float64
        raw += r * (fmt.record_size(g.rows, g.cols, h.factor_type) + 8 * (g.rows + g.cols))
        strip = max(strip, 8 * g.cols * min(g.rows, STRIP_ROWS))
    if work > limits.max_work:
        raise LimitError(f"reconstruction work {work} multiply-adds exceeds {limits.max_work}")
    total = output + raw + strip
    if total > limits.max_alloc_bytes:
        raise LimitError(f"decoding needs {total} bytes, limit {limits.max_alloc_bytes}")


# --- reduced decode and verification (Pillow's draft() and verify()) --------------------------
def group_factors(g: fmt.Group, h: fmt.Header, *, partial: bool = False
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decompress and dequantize a group: u (m, k), s (k,), vt (k, n) (spec section 5); for
    the group a truncated file ends in, k is the number of whole records it holds (7.1)."""
    raw = group_records(g, h, partial=partial)
    factors = fmt.FACTOR_NAMES[h.factor_type]
    # the reference decoder's precision: a salvaged file decodes as decode(rank=k) would
    work = decode_dtype(h.bit_depth, magnitude_bound(raw, g.rows, g.cols, factors))
    return dequantize(raw, g.rows, g.cols, factors, work)


def decode_groups_reduced(container: fmt.Container, scale: int) -> np.ndarray:
    """The (ceil(H / scale), ceil(W / scale), C) image whose samples are the rounded means of
    ``scale`` x ``scale`` blocks, computed from block means of U's rows and Vᵀ's columns.

    The mean of an s x s block of U·diag(σ)·Vᵀ is (block means of U's rows)·diag(σ)·(block
    means of Vᵀ's columns), so the product is exact and costs about 1/s² of a full decode.
    """
    h = container.header
    dtype = np.uint8 if h.bit_depth == 8 else np.dtype("<u2")
    out = np.zeros((-(-h.height // scale), -(-h.width // scale), h.channels), dtype=dtype)
    for g in container.decodable_groups:
        u, s, vt = group_factors(g, h, partial=g is container.partial)
        u, vt = _shrink(u, vt, h, scale)
        reconstruct(out, h.layout, g.index, np.multiply(u, s, out=u), vt)
    return out


def _shrink(u: np.ndarray, vt: np.ndarray, h: fmt.Header, scale: int
            ) -> tuple[np.ndarray, np.ndarray]:
    """Average blocks of image rows in u and image columns in vt (spec section 6 layouts);
    the stacked layouts average within each channel's block."""
    k = u.shape[1]
    if h.layout == fmt.Layout.STACKED_VERTICAL:  # rows: channel blocks of H
        u = block_mean(u.reshape(h.channels, h.height, k), scale, 1).reshape(-1, k)
    else:
        u = block_mean(u, scale, 0)
    if h.layout == fmt.Layout.STACKED:  # columns: channel blocks of W
        vt = block_mean(vt.reshape(k, h.channels, h.width), scale, 2).reshape(k, -1)
    else:
        vt = block_mean(vt, scale, 1)
    return u, vt


def verify_groups(container: fmt.Container, limits: Limits) -> None:
    """Decompress and validate every group's records without reconstructing (SvdiError)."""
    for g in container.groups:
        if g.raw_size > limits.max_alloc_bytes:
            raise LimitError(f"FACT {g.index}: {g.raw_size} bytes of records exceed "
                             f"{limits.max_alloc_bytes}")
        group_factors(g, container.header)
