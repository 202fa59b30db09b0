"""The decoding half of :mod:`svdcodec.codec`: .svdi bytes -> numpy images.

The one place that dispatches a parsed file to its layout's decoder, owns the decode limits
(spec sections 8 and 12.8), the reduced decode behind Pillow's ``draft()``, and ``verify()``.
The Pillow plugin decodes only through :func:`.svdifile.open_svdi` and the functions below.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Union

import numpy as np

from . import format as fmt
from .errors import TruncatedError
from .info import SvdiInfo, container_info
from .limits import Limits, get_default_limits
from .patch import decode as patchdecode
from .patch import limits as patchlimits
from .progress import Callback, Progress
from .stack import decode as stackdecode
from .whole import codec as wholecodec
from .whole import snapshot as wholesnapshot
from .whole.layout import block_mean

PathLike = Union[str, "os.PathLike[str]"]


def as_bytes(data: object) -> bytes | bytearray | memoryview:
    """``data``, bytes-like, as a view of single bytes (TypeError for anything else)."""
    if isinstance(data, memoryview):
        return data.cast("B")  # byte offsets, whatever the caller's item size
    if isinstance(data, (bytes, bytearray)):
        return data
    raise TypeError(f"data must be bytes-like, got {type(data).__name__} (use read() for paths)")


def read_header(source: bytes | PathLike, *, limits: Limits | None = None,
                allow_truncated: bool = False) -> SvdiInfo:
    """Parse and check a file's structure, checksums and metadata without decoding pixels
    (``allow_truncated``: of what precedes the cut of a file cut short, spec section 7.1)."""
    data = source if isinstance(source, (bytes, bytearray, memoryview)) else \
        Path(source).read_bytes()
    return container_info(fmt.unpack(data, limits or get_default_limits(),
                                     allow_truncated=allow_truncated), len(data))


def check_rank(rank: object) -> None:
    if rank is not None and (isinstance(rank, bool) or not isinstance(rank, (int, np.integer))
                             or rank < 1):
        raise ValueError(f"rank must be an int >= 1, got {rank!r}")


def _check_reduce(reduce: int) -> None:
    if isinstance(reduce, bool) or not isinstance(reduce, (int, np.integer)) or reduce < 1:
        raise ValueError(f"reduce must be an int >= 1, got {reduce!r}")


def is_svdi(prefix: bytes) -> bool:
    """Whether ``prefix`` (the first bytes of a file) starts with the .svdi signature."""
    return bytes(prefix[:len(fmt.SIGNATURE)]) == fmt.SIGNATURE


def check_size(h: fmt.Header, limits: Limits) -> None:
    """The size limits of spec section 8 (LimitError), for a header parsed without them."""
    fmt.check_size(h.width, h.height, limits)


def check_decode_limits(container: fmt.Container, limits: Limits,
                        rank: int | None = None) -> None:
    """Allocation and work of decoding ``container`` at ``rank`` (None: the stored ranks),
    by the rules of spec section 8 (whole-image layouts) or 12.8 (patch layout): LimitError
    before anything is decompressed. For a stack (section 14.5): of decoding its frame 0."""
    stack = container.stack
    if stack is None:
        stackdecode.check_image_limits(container, limits, rank)
    elif stack.coding == fmt.StackCoding.SNAPSHOT:
        wholesnapshot.check_limits(container, limits, rank, 1)
    elif stack.coding == fmt.StackCoding.TALL:
        stackdecode.check_image_limits(stackdecode.coded_container(container), limits, rank)
    else:
        stackdecode.check_image_limits(stackdecode.frame_container(container, 0), limits, rank)


def _decode_image(container: fmt.Container, rank: int | None, limits: Limits,
                  progress: Progress | None = None) -> np.ndarray:
    """One image (not a stack), (H, W, C), limits checked first; ``progress`` hears of each
    plane or matrix."""
    if container.truncated and container.header.layout == fmt.Layout.PATCH:
        raise TruncatedError(f"{container.truncated} (files of layout patch are not salvaged)")
    check_decode_limits(container, limits, rank)
    if container.header.layout == fmt.Layout.PATCH:
        return patchdecode.decode_planes(container, rank, progress)
    return wholecodec.decode_groups(container, rank, progress)


def _reduced(out: np.ndarray, reduce: int) -> np.ndarray:
    if reduce == 1:
        return out
    small: np.ndarray = np.rint(block_mean(block_mean(out, reduce, 0), reduce, 1))
    return small.astype(out.dtype)


def decode_progress(progress: Callback | None, h: fmt.Header) -> Progress:
    """The Progress of a decode: ``progress(done, total)`` hears of the image rows decoded of
    the image's height (:mod:`svdcodec.progress`)."""
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable, got {progress!r}")
    return Progress(progress, total=h.height)


def _decode_strips(container: fmt.Container, rank: int | None, reduce: int,
                   progress: Progress) -> np.ndarray:
    """A patch-layout image of arith planes in strips (:func:`patchdecode.decode_strips`),
    limits checked: a reduced decode averages each strip as it comes, so the full-size image
    never exists; ``progress`` hears of every strip (the image rows decoded so far)."""
    h = container.header
    if reduce == 1:
        def tell(image: np.ndarray, y0: int, y1: int) -> None:
            progress.count(y1)
        return patchdecode.decode_strips(container, rank, patchdecode.STRIP_ROWS,
                                         tell if progress.callback is not None else None)
    # R / 2 rows (or `reduce`) at a time: averaging takes about 17 bytes per sample, within the
    # 16 R W C bytes that section 12.8 counts
    rows = reduce * max(1, patchlimits.colour_rows(h.width) // (2 * reduce))
    small = np.empty((-(-h.height // reduce), -(-h.width // reduce), h.channels),
                     dtype=np.uint8 if h.bit_depth == 8 else np.dtype("<u2"))

    def average(strip: np.ndarray, y0: int, y1: int) -> None:
        small[y0 // reduce:-(-y1 // reduce)] = _reduced(strip[:y1 - y0], reduce)
        progress.count(y1)

    buffer = np.empty((min(rows, h.height), h.width, h.channels),
                      dtype=np.uint8 if h.bit_depth == 8 else "=u2")
    patchdecode.decode_strips(container, rank, len(buffer), average, out=buffer)
    return small


def decode_container(container: fmt.Container, *, rank: int | None = None,
                     limits: Limits | None = None, reduce: int = 1,
                     frame: int | None = None, progress: Callback | None = None) -> np.ndarray:
    """Decode a parsed container (spec section 7); see :func:`decode`."""
    check_rank(rank)
    _check_reduce(reduce)
    h = container.header
    reporter = decode_progress(progress, h)
    limits = limits or get_default_limits()
    if container.stack is not None:
        out = _reduced(stackdecode.decode_frame(container, 0 if frame is None else frame, rank,
                                                limits, _decode_image), reduce)
    elif frame not in (None, 0) or isinstance(frame, bool):
        raise ValueError(f"frame: a single image has only frame 0, got {frame!r}")
    elif patchdecode.strips_available(container) and not container.truncated:
        check_decode_limits(container, limits, rank)
        out = _decode_strips(container, rank, reduce, reporter)
    elif h.layout != fmt.Layout.PATCH and reduce > 1 and rank is None:
        check_decode_limits(container, limits, rank)  # from block means of U and Vᵀ
        out = wholecodec.decode_groups_reduced(container, reduce)
    else:
        out = _reduced(_decode_image(container, rank, limits, reporter), reduce)
    out = _samples(out, h)
    reporter.done()
    return out[:, :, 0] if h.channels == 1 else out


def offset_to_signed(u: np.ndarray) -> np.ndarray:
    """Decoded u of mode I;16S as the int16 samples u - 32768 (spec section 15.1)."""
    # - 2^15 modulo 2^16 is the top bit inverted: one array of the output's size, no int32 copy
    flipped: np.ndarray = u.astype(np.uint16, copy=False) ^ np.uint16(fmt.SIGNED_OFFSET)
    return flipped.view(np.int16)


def _samples(out: np.ndarray, h: fmt.Header) -> np.ndarray:
    """The decoded samples of the layouts as the caller's: int16 for mode I;16S (15.1)."""
    return offset_to_signed(out) if h.mode == fmt.Mode.I16S else out


def decode(data: bytes, *, rank: int | None = None, limits: Limits | None = None,
           allow_truncated: bool = False, reduce: int = 1,
           frame: int | None = None, progress: Callback | None = None) -> np.ndarray:
    """Decode .svdi bytes to an array of the encoded shape and dtype (an encoded (H, W, 1)
    array comes back as (H, W): both are stored as one grey channel; mode I;16S as int16).

    ``rank`` decodes with only the first ``rank`` components of each matrix (a cheaper,
    coarser preview; a rank above the stored one decodes at the stored one). ``reduce`` = s > 1
    decodes a (ceil(H / s), ceil(W / s)[, C]) image whose samples are the rounded means of
    s x s blocks (whole-image layouts compute it from block means of U and Vᵀ, at about 1/s²
    of the work; the patch layout averages strips of rows as it decodes them, or, for its zstd
    payload, the whole image). ``limits`` bounds
    size, memory and work (:class:`svdcodec.Limits`). ``allow_truncated`` decodes a
    whole-image file cut short (a partial download) from what precedes the cut: complete
    matrices in full, the one the file ends in at the rank its whole records give, missing
    ones as 0 (spec section 7.1); it raises TruncatedError only if HEAD itself is cut, or for
    layout patch and for stacks. ``frame``: of a stack (spec section 14, :func:`decode_stack`),
    frame k (0 ... N − 1; None: frame 0); a single image has only frame 0.
    ``progress(done, total)``, if given, is called from the caller's thread with the image
    rows decoded so far and the image's height (the last call has done == total; the patch
    layout's arith files report every strip of rows, the other decoders each plane or matrix
    decoded, as that fraction of the height).
    Raises :class:`svdcodec.SvdiError`.
    """
    container = fmt.unpack(as_bytes(data), limits or get_default_limits(),
                           allow_truncated=allow_truncated)
    return decode_container(container, rank=rank, limits=limits, reduce=reduce, frame=frame,
                            progress=progress)


def decode_stack(data: bytes, *, rank: int | None = None,
                 limits: Limits | None = None) -> np.ndarray:
    """Every frame of a stack (spec section 14) as one (N, H, W) or (N, H, W, C) array; a
    single image gives N = 1. ``rank`` and ``limits`` as :func:`decode`; the limits bound the
    whole stack's output (section 14.5). Raises :class:`svdcodec.SvdiError`."""
    check_rank(rank)
    limits = limits or get_default_limits()
    return decode_stack_container(fmt.unpack(as_bytes(data), limits), rank, limits)


def decode_stack_container(container: fmt.Container, rank: int | None,
                           limits: Limits) -> np.ndarray:
    """Every frame of a parsed file (a single image: one); see :func:`decode_stack`."""
    if container.stack is None:
        return decode_container(container, rank=rank, limits=limits)[None]
    out = _samples(stackdecode.decode_frames(container, rank, limits, _decode_image),
                   container.header)
    return out[..., 0] if container.header.channels == 1 else out


def verify_container(container: fmt.Container, limits: Limits | None = None) -> None:
    """Decompress every payload and validate its records or symbols without reconstructing
    pixels (SvdiError)."""
    limits = limits or get_default_limits()
    check_size(container.header, limits)
    if container.stack is not None:
        stackdecode.verify(container, limits)
    elif container.header.layout == fmt.Layout.PATCH:
        patchdecode.verify_planes(container)
    else:
        wholecodec.verify_groups(container, limits)


def verify(data: bytes, *, limits: Limits | None = None) -> None:
    """Check every CRC, zstd frame (bounded by its declared size, content checksum included)
    and record of .svdi bytes without reconstructing pixels; raises :class:`SvdiError`."""
    verify_container(fmt.unpack(as_bytes(data), limits or get_default_limits()), limits)
