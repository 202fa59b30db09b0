"""The decoding half of :mod:`svdcodec.codec`: .svdi bytes -> numpy images.

The one place that dispatches a parsed file to its layout's decoder, owns the decode limits
(spec sections 8 and 12.8), the reduced decode behind Pillow's ``draft()``, and ``verify()``.
The Pillow plugin decodes only through :func:`open_svdi` and the functions below.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np

from . import format as fmt
from .errors import SvdiError, TruncatedError
from .info import SvdiInfo, container_info
from .limits import Limits, get_default_limits
from .patch import decode as patchdecode
from .progress import Progress
from .whole import codec as wholecodec
from .whole.layout import block_mean

PathLike = Union[str, "os.PathLike[str]"]
# open_svdi(check_size=False): the size limits are left to the caller (Pillow's
# MAX_IMAGE_PIXELS judges the size at open) and checked again on decode
_NO_SIZE_LIMITS = {"max_width": 2**32, "max_height": 2**32, "max_pixels": 2**64}


def _as_bytes(data: object) -> bytes | bytearray | memoryview:
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
    before anything is decompressed."""
    if container.header.layout == fmt.Layout.PATCH:
        patchdecode.check_limits(container, limits, rank)
    else:
        wholecodec.check_limits(container, limits, rank)


def decode_container(container: fmt.Container, *, rank: int | None = None,
                     limits: Limits | None = None, reduce: int = 1,
                     progress: Callable[[int, int], object] | None = None) -> np.ndarray:
    """Decode a parsed container (spec section 7); see :func:`decode`."""
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable, got {progress!r}")
    reporter = Progress(progress)
    check_rank(rank)
    _check_reduce(reduce)
    h = container.header
    if container.truncated and h.layout == fmt.Layout.PATCH:
        raise TruncatedError(f"{container.truncated} (files of layout patch are not salvaged)")
    check_decode_limits(container, limits or get_default_limits(), rank)
    if h.layout == fmt.Layout.PATCH:
        out = patchdecode.decode_planes(container, rank, reporter)
        if reduce > 1:
            small = block_mean(block_mean(out, reduce, 0), reduce, 1)
            out = np.rint(small).astype(out.dtype)
    elif reduce > 1 and rank is None:
        out = wholecodec.decode_groups_reduced(container, reduce)
    else:
        out = wholecodec.decode_groups(container, rank, reporter)
        if reduce > 1:
            out = np.rint(block_mean(block_mean(out, reduce, 0), reduce, 1)).astype(out.dtype)
    reporter.done()
    return out[:, :, 0] if h.channels == 1 else out


def decode(data: bytes, *, rank: int | None = None, limits: Limits | None = None,
           allow_truncated: bool = False, reduce: int = 1,
           progress: Callable[[int, int], object] | None = None) -> np.ndarray:
    """Decode .svdi bytes to an array of the encoded shape and dtype (an encoded (H, W, 1)
    array comes back as (H, W): both are stored as one grey channel).

    ``rank`` decodes with only the first ``rank`` components of each matrix (a cheaper,
    coarser preview; a rank above the stored one decodes at the stored one). ``reduce`` = s > 1
    decodes a (ceil(H / s), ceil(W / s)[, C]) image whose samples are the rounded means of
    s x s blocks (whole-image layouts compute it from block means of U and Vᵀ, at about 1/s²
    of the work; the patch layout decodes in full, then averages). ``limits`` bounds
    size, memory and work (:class:`svdcodec.Limits`). ``allow_truncated`` decodes a
    whole-image file cut short (a partial download) from what precedes the cut: complete
    matrices in full, the one the file ends in at the rank its whole records give, missing
    ones as 0 (spec section 7.1); it raises TruncatedError only if HEAD itself is cut, or for
    layout patch. ``progress(done, total)``: as :func:`svdcodec.encode` calls it (each plane
    or matrix). Raises :class:`svdcodec.SvdiError`.
    """
    container = fmt.unpack(_as_bytes(data), limits or get_default_limits(),
                           allow_truncated=allow_truncated)
    return decode_container(container, rank=rank, limits=limits, reduce=reduce,
                            progress=progress)


def verify_container(container: fmt.Container, limits: Limits | None = None) -> None:
    """Decompress every payload and validate its records or symbols without reconstructing
    pixels (SvdiError)."""
    limits = limits or get_default_limits()
    check_size(container.header, limits)
    if container.header.layout == fmt.Layout.PATCH:
        patchdecode.verify_planes(container)
    else:
        wholecodec.verify_groups(container, limits)


def verify(data: bytes, *, limits: Limits | None = None) -> None:
    """Check every CRC, zstd frame (bounded by its declared size, content checksum included)
    and record of .svdi bytes without reconstructing pixels; raises :class:`SvdiError`."""
    verify_container(fmt.unpack(_as_bytes(data), limits or get_default_limits()), limits)


@dataclass(frozen=True)
class SvdiFile:
    """A file parsed once (:func:`open_svdi`): what an image viewer reports before decoding,
    and what :meth:`decode` decodes. Immutable, so threads may share it."""

    info: SvdiInfo  # HEAD's facts; groups, planes and metadata only if the body is sound
    error: SvdiError | None  # damage found after a valid HEAD (a cut file: TruncatedError)
    container: fmt.Container

    def decode(self, *, limits: Limits | None = None, reduce: int = 1,
               allow_truncated: bool = False) -> np.ndarray:
        """The image; raises :attr:`error` unless it is a TruncatedError and
        ``allow_truncated`` (then what precedes the cut, as :func:`decode` gives it)."""
        if self.error is not None and not (isinstance(self.error, TruncatedError)
                                           and allow_truncated):
            raise self.error
        limits = limits or get_default_limits()
        check_size(self.container.header, limits)
        return decode_container(self.container, limits=limits, reduce=reduce)

    def verify(self, *, limits: Limits | None = None) -> None:
        """See :func:`verify`; raises :attr:`error` first."""
        if self.error is not None:
            raise self.error
        verify_container(self.container, limits)


def open_svdi(data: bytes, *, limits: Limits | None = None,
              check_size: bool = True) -> SvdiFile:
    """Parse a file once, keeping damage found after a valid HEAD for later.

    Raises :class:`SvdiError` only if HEAD is unreadable (not an .svdi file, or unsupported).
    ``check_size=False`` leaves the size limits to the caller until :meth:`SvdiFile.decode`.
    """
    view = _as_bytes(data)
    limits = limits or get_default_limits()
    if not check_size:
        limits = dataclasses.replace(limits, **_NO_SIZE_LIMITS)
    error: SvdiError | None = None
    try:
        container = fmt.unpack(view, limits, allow_truncated=True)
        if container.truncated:
            error = TruncatedError(container.truncated)
    except SvdiError as exc:  # after a valid HEAD (unpack_head raises if HEAD is bad)
        container = fmt.Container(fmt.unpack_head(view, limits), (), {}, ())
        error = exc.with_traceback(None)
    return SvdiFile(container_info(container, len(view)), error, container)
