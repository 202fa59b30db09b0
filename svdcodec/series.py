"""The DICOM headers of a series in a stack (spec section 17, the ancillary chunk ``dser``).

One header per frame, each a DICOM Part 10 file without pixel data (section 15.2), stored as
one zstd frame of length-prefixed records: the headers of a series' slices repeat each other
and compress to a few percent. :mod:`.format.dser` checks the fields and splits the records;
this module compresses and decompresses them. The headers' content is never checked
(section 15.2): :mod:`svdcodec.integrations.dicom_series` makes and reads them with pydicom.

>>> import numpy as np, svdcodec
>>> frames = np.zeros((2, 8, 8), dtype=np.uint8)
>>> data = svdcodec.encode_stack(frames, coding="tall", dicom_series=[b"slice 0", b"slice 1"])
>>> svdcodec.read_header(data).dicom_series, read_dicom_series(data)
(2, (b'slice 0', b'slice 1'))
"""

from __future__ import annotations

from collections.abc import Sequence

from . import _zstd
from . import format as fmt
from .errors import LimitError
from .limits import Limits, get_default_limits

# zstd level of the records: slice headers are small and repetitive; 19 is the highest level
# whose window fits the 8 MiB that section 5 lets decoders refuse above
SERIES_LEVEL = 19


def pack_series(headers: Sequence[bytes]) -> bytes:
    """The data of a ``dser`` chunk holding ``headers`` (section 17), one per frame."""
    raw = fmt.pack_records(headers)
    return fmt.pack_dser(len(headers), len(raw), _zstd.compress(raw, SERIES_LEVEL))


def with_dicom_series(data: bytes, headers: object) -> bytes:
    """The stack ``data`` with a ``dser`` chunk of ``headers`` after FRMS (and anim).

    ValueError (the caller's mistake) for a single image, a header count other than the
    frame count, a file that holds ``dicm`` (section 17.1 rule 2), an empty header, or a
    chunk that a decoder with the default limits refuses (section 8)."""
    if not isinstance(headers, Sequence) or isinstance(headers, (bytes, bytearray, str)) or \
            not all(isinstance(h, (bytes, bytearray)) for h in headers):
        raise TypeError("dicom_series must be a sequence of bytes, one DICOM header per frame")
    limits = get_default_limits()
    container = fmt.unpack(data, limits)
    if container.stack is None:
        raise ValueError("dicom_series belongs to a stack of 2 or more frames (spec section "
                         "17); one DICOM header is stored with dicom=")
    if len(headers) != container.frame_count:
        raise ValueError(f"dicom_series: expected {container.frame_count} headers, one per "
                         f"frame, got {len(headers)}")
    if "dicom" in container.metadata:
        raise ValueError("dicom_series and dicom exclude each other (spec section 17.1)")
    out = fmt.add_dser(data, pack_series(headers))
    try:
        fmt.unpack(out, limits)
    except LimitError as exc:
        raise ValueError(f"dicom_series: decoders refuse the file with its dser chunk ({exc}; "
                         f"spec sections 8 and 17)") from None
    return out


def read_dicom_series(data: bytes | bytearray | memoryview, *,
                      limits: Limits | None = None) -> tuple[bytes, ...] | None:
    """The headers of ``data``'s ``dser`` chunk, frame 0's first; None if it has none.

    Checks what section 17.1 asks of a reader of the headers: the zstd frame (CorruptError,
    UnsupportedError for a window above 8 MiB, ChecksumError), then the records
    (CorruptError); the file's chunks as :func:`svdcodec.read_header` does."""
    container = fmt.unpack(data, limits or get_default_limits())
    series = container.series
    if series is None:
        return None
    raw = _zstd.decompress(series.payload, series.raw_size, what="dser")
    return fmt.unpack_records(raw, series.header_count)
