"""Channel layouts (spec section 6): an H x W x C image <-> the matrices that are factorized."""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np

from .. import format as fmt

try:  # the optional C extension (svdcodec/_storec.c), bit-exact with write_rows_reference
    from . import _storec  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - built by setup.py wherever a C compiler is present
    _storec = None

# spec section 6: the whole-image layouts, named as format.LAYOUT_NAMES names them (layout 5,
# snapshot, factorizes a stack of frames, section 14.4: svdcodec.stack)
_NOT_WHOLE = (fmt.Layout.PATCH, fmt.Layout.SNAPSHOT)
LAYOUTS = tuple(name for layout, name in fmt.LAYOUT_NAMES.items() if layout not in _NOT_WHOLE)
# Which write_rows runs; SVDCODEC_PURE_PYTHON=1 selects the reference, as for the patch layout.
ACCELERATED = _storec is not None and os.environ.get("SVDCODEC_PURE_PYTHON", "") != "1"


LayoutLike = fmt.Layout | str  # the enum, or its name ("stacked")


def as_layout(layout: LayoutLike) -> fmt.Layout:
    """A whole-image layout as the spec's enum (section 4), from the enum or its name."""
    if isinstance(layout, fmt.Layout) and layout not in _NOT_WHOLE:
        return layout
    found = fmt.LAYOUT_BY_NAME.get(layout) if isinstance(layout, str) else None
    if found is None or found in _NOT_WHOLE:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    return found


def to_matrices(image: np.ndarray, layout: LayoutLike) -> list[np.ndarray]:
    """The float64 matrices of an (H, W, C) image, one per factor group."""
    layout = as_layout(layout)
    h, w, c = image.shape
    # Rearranged first and widened to float64 last, in one copy each: no float64 copy of the
    # whole image beside the matrices (2.2x faster per channel on a 12 Mpixel image).
    if layout == fmt.Layout.PER_CHANNEL:
        return [image[:, :, i].astype(np.float64) for i in range(c)]
    if layout == fmt.Layout.STACKED:  # X[y, c*W + x] = sample[y, x, c]
        return [image.transpose(0, 2, 1).reshape(h, c * w).astype(np.float64)]
    if layout == fmt.Layout.STACKED_VERTICAL:  # X[c*H + y, x] = sample[y, x, c]
        return [image.transpose(2, 0, 1).reshape(c * h, w).astype(np.float64)]
    raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")


def matrix_views(image: np.ndarray, layout: LayoutLike) -> list[np.ndarray]:
    """The matrices of :func:`to_matrices` in the image's integer type: views of the image
    (per-channel) or one integer copy (the stacked layouts), for large images factorized by
    strips (:class:`.stripsvd.StripMatrix`)."""
    layout = as_layout(layout)
    h, w, c = image.shape
    if layout == fmt.Layout.PER_CHANNEL:
        return [image[:, :, i] for i in range(c)]
    if layout == fmt.Layout.STACKED:
        return [np.ascontiguousarray(image.transpose(0, 2, 1)).reshape(h, c * w)]
    if layout == fmt.Layout.STACKED_VERTICAL:
        return [np.ascontiguousarray(image.transpose(2, 0, 1)).reshape(c * h, w)]
    raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")


def write_rows(out: np.ndarray, layout: LayoutLike, group: int, row0: int,
               block: np.ndarray) -> None:
    """Store rows ``row0 ..`` of group ``group``'s matrix into the (H, W, C) image ``out``.

    Lets the decoder reconstruct a matrix in row strips without ever holding it whole. The
    floats of ``block`` are clipped to the range of ``out``'s dtype and rounded half to even
    (spec section 7); ``block`` may be overwritten. Through the C extension when it is built,
    else :func:`write_rows_reference`; the samples are the same.
    """
    layout = as_layout(layout)
    if not _accelerated(out, block):
        write_rows_reference(out, layout, group, row0, block)
        return
    h, w, c = out.shape
    n = block.shape[0]
    if layout == fmt.Layout.PER_CHANNEL:
        _storec.store(out, h, w, c, row0, n, ((group, block, 0, w),))
    elif layout == fmt.Layout.STACKED:  # X[y, c*W + x] = sample[y, x, c]
        _storec.store(out, h, w, c, row0, n, tuple((i, block, i * w, c * w) for i in range(c)))
    elif layout == fmt.Layout.STACKED_VERTICAL:  # X[c*H + y, x] = sample[y, x, c]
        for channel, y, i, j in _channel_runs(row0, n, h):
            _storec.store(out, h, w, c, y, j - i, ((channel, block, i * w, w),))
    else:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")


def write_channels(out: np.ndarray, row0: int, blocks: list[tuple[int, np.ndarray]]) -> None:
    """Layout per-channel: rows ``row0 ..`` of several channels at once, ``blocks`` holding
    (channel, rows) pairs of one height; as :func:`write_rows` for each, but with every channel
    given the C extension interleaves them with contiguous stores (3x faster for RGB)."""
    if all(_accelerated(out, block) for _, block in blocks):
        h, w, c = out.shape
        _storec.store(out, h, w, c, row0, blocks[0][1].shape[0],
                      tuple((channel, block, 0, w) for channel, block in blocks))
        return
    for channel, block in blocks:
        write_rows_reference(out, fmt.Layout.PER_CHANNEL, channel, row0, block)


def _accelerated(out: np.ndarray, block: np.ndarray) -> bool:
    return ACCELERATED and block.flags.c_contiguous and out.flags.c_contiguous and \
        out.dtype.isnative and block.dtype in (np.float32, np.float64)


def write_rows_reference(out: np.ndarray, layout: LayoutLike, group: int, row0: int,
                         block: np.ndarray) -> None:
    """:func:`write_rows` in numpy: clip in place, then round as the samples are stored."""
    layout = as_layout(layout)
    np.clip(block, 0, np.iinfo(out.dtype).max, out=block)
    h, w, c = out.shape
    n = block.shape[0]
    if layout == fmt.Layout.PER_CHANNEL:
        np.rint(block, out=out[row0:row0 + n, :, group], casting="unsafe")
    elif layout == fmt.Layout.STACKED:
        np.rint(block.reshape(n, c, w).transpose(0, 2, 1), out=out[row0:row0 + n],
                casting="unsafe")
    elif layout == fmt.Layout.STACKED_VERTICAL:
        for channel, y, i, j in _channel_runs(row0, n, h):
            np.rint(block[i:j], out=out[y:y + j - i, :, channel], casting="unsafe")
    else:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")


def _channel_runs(row0: int, n: int, height: int) -> Iterator[tuple[int, int, int, int]]:
    """Layout stacked-vertical: rows row0 .. row0 + n - 1 of the (C H) x W matrix, which may
    straddle channels, as runs (channel, first image row, first and end block row)."""
    start = row0
    while start < row0 + n:
        channel, y = divmod(start, height)
        stop = min(row0 + n, (channel + 1) * height)
        yield channel, y, start - row0, stop - row0
        start = stop


def block_mean(a: np.ndarray, scale: int, axis: int) -> np.ndarray:
    """float64 means of consecutive blocks of ``scale`` entries along ``axis`` (the last block
    may be shorter): the reduction of a reduced (draft) decode."""
    n = a.shape[axis]
    starts = np.arange(0, n, scale)
    counts = np.minimum(scale, n - starts).astype(np.float64)
    shape = [1] * a.ndim
    shape[axis] = -1
    sums = np.add.reduceat(a.astype(np.float64, copy=False), starts, axis=axis)
    means: np.ndarray = sums / counts.reshape(shape)
    return means
