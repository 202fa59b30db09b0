"""The patch layout's decoder (spec sections 12.3-12.8, 13): PTCH chunks -> samples.

Payloads are decoded (zstd byte symbols, section 12.3, or the arithmetic-coded payload,
section 13) and reconstructed by the C extensions when they are built, else by the reference
decoder (:mod:`.reference`), which gives the same samples; arith planes are decoded in strips,
with a second thread where a CPU is free (:func:`decode_threads`). Also :func:`verify_planes`.
The section 12.8 limits that bound these decoders are :mod:`.limits`.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable

import numpy as np

from .. import _zstd
from .. import format as fmt
from ..errors import CorruptError
from ..progress import Progress
from .limits import colour_rows
from .reference import decode_planes_reference, plane_coefficients
from .symbols import pack_payload, unpack_payload

try:  # the optional C decoder (svdcodec/_patchc.c), bit-exact with the numpy .reference
    from . import _patchc as _patchc
except ImportError:  # pragma: no cover - built by setup.py wherever a C compiler is present
    _patchc = None
try:  # the optional C range coder (svdcodec/patch/_arithc.c), bit-exact with svdcodec.patch.arith
    from . import _arithc as _arithc  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - built by setup.py wherever a C compiler is present
    _arithc = None
# Which decoder decode_planes uses; SVDCODEC_PURE_PYTHON=1 selects the reference for comparisons.
ACCELERATED = _patchc is not None and os.environ.get("SVDCODEC_PURE_PYTHON", "") != "1"
# Whether arith payloads are coded in C (encoder and decoder); the same variable turns it off.
ARITH_ACCELERATED = _arithc is not None and os.environ.get("SVDCODEC_PURE_PYTHON", "") != "1"
# Whether the C decoder decodes arith files in strips (else whole planes, transcoded): tests
# compare both.
STRIPS = True
# Image rows per call of the strip decoder (and per progress report): the GIL is taken between
# strips, so other threads and a progress callback run about every few milliseconds.
STRIP_ROWS = 64


@functools.cache
def _cpus() -> int:
    """The CPUs this process may use, read once: every decode's load check asks
    (:func:`_core_free`), and a system call per decode would be wasted."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


# The strip decoder entropy-decodes plane 0 on a second thread (a few patch rows ahead of the
# reconstruction, which runs with the other planes on the calling thread) where the process may
# use more than one CPU, the image has at least THREAD_MIN_PIXELS pixels (starting a thread
# costs tens of microseconds) and the thread's buffers fit in section 12.8's count (see
# decode_threads). The samples and errors are the same either way (tests compare).
def _threads_from_environment(value: str, cpus: int) -> int:
    """DECODE_THREADS from SVDCODEC_DECODE_THREADS (read at import): "1" or "0" keep every
    decode on the calling thread (e.g. many decoding processes on few cores); anything else,
    or unset, allows the second thread where the process may use 2 CPUs."""
    return 1 if value.strip() in ("0", "1") or cpus < 2 else 2


DECODE_THREADS = _threads_from_environment(os.environ.get("SVDCODEC_DECODE_THREADS", ""),
                                           _cpus())
THREAD_MIN_PIXELS = 1 << 16
# Whether decode_threads also asks the load average for a free CPU (benchmarks and tests that
# measure the threaded path turn it off)
LOAD_AWARE = True
# The threaded plane keeps this many patch rows of coefficients (the C decoder's constant;
# without the extension nothing is threaded)
AHEAD_SLOTS: int = getattr(_arithc, "AHEAD_SLOTS", 2)



Sink = Callable[[np.ndarray, int, int], None]


def decode_planes(container: fmt.Container, rank: int | None = None,
                  progress: Progress | None = None) -> np.ndarray:
    """Decode a parsed patch-layout container whose limits were checked: (H, W, C) array;
    ``progress`` hears of each plane (of each strip of rows, decoding in strips)."""
    if ACCELERATED:
        return _decode_planes_c(container, rank, progress)
    return decode_planes_reference(container, rank, progress)


def strips_available(container: fmt.Container) -> bool:
    """Whether :func:`decode_strips` decodes ``container`` in strips (arith planes, C built):
    then the allocation of section 12.8 is the strip decoder's."""
    return STRIPS and ARITH_ACCELERATED and \
        container.header.compression == fmt.Compression.ARITH


def decode_strips(container: fmt.Container, rank: int | None, rows: int,
                  sink: Sink | None = None, out: np.ndarray | None = None) -> np.ndarray:
    """Decode an arith-coded container (:func:`strips_available`) in strips of ``rows`` image
    rows through ``_arithc.decode_strips``: about the output plus O(width) of memory.

    With ``out`` (rows x W x C, of the image's dtype) the strips go there in turn and
    ``sink(out, y0, y1)`` receives each one (rows y0..y1 of the image in out[:y1 - y0]);
    without it the image is decoded into a new (H, W, C) array, which is returned, and
    ``sink(image, y0, y1)`` is told of each strip done. CorruptError for a bad payload."""
    h = container.header
    bd = h.bit_depth
    image = out
    if image is None:
        image = np.empty((h.height, h.width, h.channels), dtype=np.uint8 if bd == 8 else "=u2")
    elif image.shape != (rows, h.width, h.channels):
        raise ValueError(f"out must be ({rows}, {h.width}, {h.channels}), got {image.shape}")
    planes = []
    for pl in container.planes:
        gh, gw = pl.grid(h)
        planes.append((pl.payload, pl.components,
                       pl.components if rank is None else min(rank, pl.components),
                       pl.patch_size, pl.subsample_x, pl.subsample_y, gh, gw, pl.ac_symbols,
                       pl.dc_multiplier, pl.shift, *pl.deblock))
    target = image

    def tell(y0: int, y1: int) -> None:
        if sink is not None:
            sink(target, y0, y1)

    error = _arithc.decode_strips(tuple(planes), h.height, h.width, bd,
                                  int(h.colour_transform == fmt.ColourTransform.YCBCR), image,
                                  rows, tell if sink is not None else None,
                                  decode_threads(container))
    if error is not None:
        raise CorruptError(error)
    if bd == 16 and sys.byteorder != "little" and out is None:
        return image.astype("<u2")
    return image


def _core_free() -> bool:
    """Whether the machine's 1-minute load average leaves a CPU of this process's free: on a
    loaded machine the second thread is descheduled mid-row and the decode waits for it
    (measured on 2 cores with both busy: 6-8 ms instead of 5 ms serially at 1 bpp). The caller
    itself, busy decoding, adds about 1 to the load: below CPUs - 0.5 a CPU is free (2 CPUs:
    load 1.0-1.2 with this process alone, 2 and more with another busy one)."""
    try:
        return os.getloadavg()[0] < _cpus() - 0.5
    except (AttributeError, OSError):  # pragma: no cover - no load average (Windows)
        return True


def decode_threads(container: fmt.Container) -> int:
    """Threads the strip decoder uses for ``container``: 1 or 2.

    Two only if the load average leaves a CPU free (:func:`_core_free`) and the producer's
    extra patch rows of coefficients, DC terms and counts,
    (AHEAD_SLOTS - 2) gw (4 k + 9) bytes for plane 0, fit in what section 12.8's strip_bytes
    counts beyond the strip decoder's colour rows (4 W (C + 1) bytes): so the decoder never
    allocates more than the count that the allocation limit was checked against."""
    h = container.header
    if DECODE_THREADS < 2 or h.width * h.height < THREAD_MIN_PIXELS or \
            (LOAD_AWARE and not _core_free()):
        return 1
    first = container.planes[0]
    extra = (AHEAD_SLOTS - 2) * first.grid(h)[1] * (4 * first.components + 9)
    spare = 16 * colour_rows(h.width) * h.width * h.channels - 4 * h.width * (h.channels + 1)
    return DECODE_THREADS if extra <= spare else 1


def _payload(pl: fmt.Plane, h: fmt.Header, rank: int | None
             ) -> tuple[bytes, tuple[int, int], int, int, int]:
    """A plane's payload in the byte layout of section 12.3, its patch grid (gh, gw), the
    components used, its ac_symbols and escapes (an arith payload is transcoded)."""
    grid = pl.grid(h)
    r = pl.components if rank is None else min(rank, pl.components)
    if h.compression != fmt.Compression.ARITH:
        raw = _zstd.decompress(pl.payload, pl.raw_size(h), what=f"PTCH {pl.index}")
        return raw, grid, r, pl.ac_symbols, pl.escapes
    if ARITH_ACCELERATED:
        result = _arithc.decode(pl.payload, pl.components, pl.patch_size // 2, *grid,
                                pl.ac_symbols)
        if isinstance(result, str):
            raise CorruptError(f"PTCH {pl.index}: {result}")
        raw, escapes = result
        return raw, grid, r, pl.ac_symbols, escapes
    raw, ac_symbols, escapes = pack_payload(plane_coefficients(pl, h))
    return raw, grid, r, ac_symbols, escapes


def _decode_planes_c(container: fmt.Container, rank: int | None,
                     progress: Progress | None = None) -> np.ndarray:
    """decode_planes through the C decoders: the same samples, in about a fifth of the time;
    arith planes in strips (:func:`decode_strips`), others whole."""
    if strips_available(container):
        height = container.header.height

        def tell(image: np.ndarray, y0: int, y1: int) -> None:
            assert progress is not None
            progress(y1 / height)
        return decode_strips(container, rank, STRIP_ROWS, tell if progress is not None else None)
    return _decode_planes_whole(container, rank, progress)


def _decode_planes_whole(container: fmt.Container, rank: int | None,
                         progress: Progress | None = None) -> np.ndarray:
    """decode_planes through _patchc, one whole int32 padded plane per plane (the zstd
    payload's decoder; arith payloads are transcoded to section 12.3's layout first)."""
    h = container.header
    bd = h.bit_depth
    sources = []
    for pl in container.planes:
        raw, (gh, gw), r, ac_symbols, escapes = _payload(pl, h, rank)
        p = pl.patch_size
        plane = np.empty((gh * p, gw * p), dtype=np.int32)
        error = _patchc.decode_plane(raw, plane, pl.components, r, p, gh, gw, ac_symbols,
                                     escapes, pl.dc_multiplier, pl.shift, bd, *pl.deblock)
        if error is not None:
            raise CorruptError(error)
        sources.append((plane, gw * p, *pl.shape(h), pl.subsample_x, pl.subsample_y))
        if progress is not None:
            progress(0.9 * len(sources) / len(container.planes))  # then the colour pass
    out = np.empty((h.height, h.width, h.channels), dtype=np.uint8 if bd == 8 else np.uint16)
    _patchc.compose(out, h.height, h.width, bd,
                    int(h.colour_transform == fmt.ColourTransform.YCBCR), tuple(sources))
    return out if bd == 8 or sys.byteorder == "little" else out.astype("<u2")


def verify_planes(container: fmt.Container) -> None:
    """Decompress every plane's payload and check its symbol streams, without reconstructing
    (SvdiError)."""
    h = container.header
    for pl in container.planes:
        raw, (gh, gw), _, ac_symbols, escapes = _payload(pl, h, None)
        unpack_payload(raw, k=pl.components, half=pl.patch_size // 2, gh=gh, gw=gw,
                       ac_symbols=ac_symbols, escapes=escapes)
