"""Section 17 of spec/svdi.md: the ancillary ``dser`` chunk, the DICOM headers of a series.

A stack whose frames are the slices of a DICOM series keeps one header per frame (a Part 10
file without pixel data, as section 15.2 says for ``dicm``). The chunk is two fields and one
zstd frame whose content is N length-prefixed records. This module checks the fields when the
chunk is read (:func:`unpack_dser`) and packs and splits the records (:func:`pack_records`,
:func:`unpack_records`); compressing them is not this layer's work (no compression here):
:mod:`svdcodec.series` does it.

>>> raw = pack_records([b"first", b"2nd"])
>>> raw
b'\\x05\\x00\\x00\\x00first\\x03\\x00\\x00\\x002nd'
>>> unpack_records(raw, 2)
(b'first', b'2nd')
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import CorruptError, LimitError
from ..limits import Limits
from .frms import Stack

# --- section 17: dser (ancillary) --------------------------------------------------------------
DSER = struct.Struct(
    "<I"  # header_count: N, FRMS's frame_count
    "I"  # raw_size: the bytes of the decompressed records
)
RECORD_LENGTH = struct.Struct("<I")  # section 17: each record's length, >= 1, then its bytes
MIN_HEADER_LENGTH = 1  # a record holds a header: never empty
MIN_RECORD_SIZE = RECORD_LENGTH.size + MIN_HEADER_LENGTH  # rule 5: raw_size >= 5 N


@dataclass(frozen=True)
class Series:
    """The fields of ``dser`` (section 17), checked; ``payload`` the zstd frame as stored."""

    header_count: int
    raw_size: int
    payload: bytes


def pack_dser(header_count: int, raw_size: int, payload: bytes) -> bytes:
    """The chunk's data: the two fields, then the zstd frame of the records."""
    return DSER.pack(header_count, raw_size) + payload


def unpack_dser(data: bytes | memoryview, stack: Stack | None, dicm: bool,
                limits: Limits) -> Series:
    """Check ``dser``'s rules 1-6 (section 17.1) in their order: in a stack, not with
    ``dicm`` (``dicm``: the file had one before it), length, header_count, raw_size; the
    payload is not decompressed."""
    if stack is None:
        raise CorruptError("dser chunk in a single image: it belongs to a stack (FRMS, "
                           "section 17.1 rule 1)")
    if dicm:
        raise CorruptError("dser chunk in a file with a dicm chunk: they exclude each other "
                           "(section 17.1 rule 2)")
    if len(data) < DSER.size:
        raise CorruptError(f"dser length: expected at least {DSER.size}, got {len(data)}")
    header_count, raw_size = DSER.unpack_from(data, 0)
    if header_count != stack.frame_count:
        raise CorruptError(f"dser header_count: expected {stack.frame_count} (FRMS "
                           f"frame_count), got {header_count}")
    least = MIN_RECORD_SIZE * header_count
    if raw_size < least:
        raise CorruptError(f"dser raw_size: expected at least {least} ({MIN_RECORD_SIZE} x "
                           f"{header_count} records), got {raw_size}")
    if raw_size > limits.max_series_header_bytes:
        raise LimitError(f"dser: {raw_size} bytes of series headers exceed the limit of "
                         f"{limits.max_series_header_bytes}")
    return Series(header_count, raw_size, bytes(data[DSER.size:]))


def pack_records(headers: Sequence[bytes]) -> bytes:
    """The records of section 17: each header's length, then the header; ValueError for an
    empty header (a record is never empty)."""
    parts = []
    for k, header in enumerate(headers):
        if len(header) < MIN_HEADER_LENGTH:
            raise ValueError(f"dicom_series: header {k} is empty")
        parts.append(RECORD_LENGTH.pack(len(header)))
        parts.append(bytes(header))
    return b"".join(parts)


def unpack_records(raw: bytes | memoryview, count: int) -> tuple[bytes, ...]:
    """Split the decompressed content into ``count`` headers (section 17.1): each length
    field present, each header within ``raw``, no length 0, nothing left over."""
    headers = []
    offset = 0
    for k in range(count):
        if offset + RECORD_LENGTH.size > len(raw):
            raise CorruptError(f"dser record {k}: its length field at {offset} is past the "
                               f"end of the {len(raw)} bytes of records")
        (length,) = RECORD_LENGTH.unpack_from(raw, offset)
        offset += RECORD_LENGTH.size
        if length < MIN_HEADER_LENGTH:
            raise CorruptError(f"dser record {k}: length 0 (a header is at least "
                               f"{MIN_HEADER_LENGTH} byte)")
        if offset + length > len(raw):
            raise CorruptError(f"dser record {k}: {length} bytes at {offset} exceed the "
                               f"{len(raw)} bytes of records")
        headers.append(bytes(raw[offset:offset + length]))
        offset += length
    if offset != len(raw):
        raise CorruptError(f"dser: {len(raw) - offset} bytes after record {count - 1}")
    return tuple(headers)
