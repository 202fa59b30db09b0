"""Section 3 of spec/svdi.md: chunk framing (length, type, body, CRC-32) and chunk types."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from typing import NamedTuple

from ..errors import ChecksumError, CorruptError, TruncatedError
from .header import PREFIX_SIZE

# --- section 3: chunks -----------------------------------------------------------------------
CHUNK_PREFIX = struct.Struct("<I4s")  # length, type
CHUNK_CRC = struct.Struct("<I")
CHUNK_OVERHEAD = CHUNK_PREFIX.size + CHUNK_CRC.size
MAX_CHUNK_LENGTH = 2**31 - 1


class ChunkType:
    """Chunk type codes (section 3); upper-case first letter = critical."""

    HEAD = b"HEAD"
    FACT = b"FACT"
    IEND = b"IEND"
    PTCH = b"PTCH"  # section 12: one plane of the patch layout
    FRMS = b"FRMS"  # section 14: the frames of a stack, right after HEAD
    ICCP = b"iccp"
    EXIF = b"exif"
    XMP = b"xmpd"
    PHYS = b"phys"
    DICM = b"dicm"  # section 15.2: a DICOM Part 10 file without its pixel data
    ANIM = b"anim"  # section 16: a stack's frame durations and loop count
    DSER = b"dser"  # section 17: the DICOM headers of a series, one per frame


# Known ancillary chunks and the metadata key each one fills.
METADATA_CHUNKS = {ChunkType.ICCP: "icc_profile", ChunkType.EXIF: "exif", ChunkType.XMP: "xmp",
                   ChunkType.PHYS: "phys", ChunkType.DICM: "dicom"}
PHYS = struct.Struct("<II")  # section 3: x_ppm, y_ppm


def is_critical(chunk_type: bytes) -> bool:
    """Section 3: bit 5 of the first letter clear (upper case) means critical."""
    return not chunk_type[0] & 0x20


def pack_chunk(chunk_type: bytes, data: bytes) -> bytes:
    if len(data) > MAX_CHUNK_LENGTH:
        raise ValueError(f"chunk {chunk_type!r} too long: {len(data)} > {MAX_CHUNK_LENGTH}")
    crc = zlib.crc32(data, zlib.crc32(chunk_type))
    return CHUNK_PREFIX.pack(len(data), chunk_type) + data + CHUNK_CRC.pack(crc)


def check_metadata(chunk_type: bytes, data: bytes | memoryview) -> bytes:
    """The body of a known ancillary chunk as bytes, validated (section 3)."""
    if chunk_type == ChunkType.PHYS:
        if len(data) != PHYS.size or 0 in PHYS.unpack(data):
            raise CorruptError("phys: expected 8 bytes with both densities >= 1")
    return bytes(data)


def chunk_at(view: memoryview, offset: int) -> tuple[bytes, memoryview, int]:
    """The chunk at ``offset`` (section 3): (type, body, offset of the next chunk)."""
    if offset + CHUNK_PREFIX.size > len(view):
        raise TruncatedError(f"file ends at byte {len(view)}, expected a chunk at {offset}")
    length, ctype = CHUNK_PREFIX.unpack_from(view, offset)
    if length > MAX_CHUNK_LENGTH:
        raise CorruptError(f"chunk length at {offset}: {length} > {MAX_CHUNK_LENGTH}")
    if not all(0x41 <= b <= 0x5A or 0x61 <= b <= 0x7A for b in ctype):
        raise CorruptError(f"chunk type at {offset}: expected 4 ASCII letters, got {ctype!r}")
    end = offset + CHUNK_PREFIX.size + length
    if end + CHUNK_CRC.size > len(view):
        raise TruncatedError(f"chunk {ctype.decode()} at {offset} needs {end + 4} bytes, "
                             f"file has {len(view)}")
    body = view[offset + CHUNK_PREFIX.size:end]
    (crc,) = CHUNK_CRC.unpack_from(view, end)
    if zlib.crc32(body, zlib.crc32(ctype)) != crc:
        raise ChecksumError(f"CRC mismatch in chunk {ctype.decode()} at {offset}")
    return ctype, body, end + CHUNK_CRC.size


class RawChunk(NamedTuple):
    """One chunk as :func:`walk` finds it: nothing in it has been checked."""

    offset: int  # of the length field
    length: int
    type: bytes
    body: bytes
    crc: int  # as stored, not recomputed

    @property
    def end(self) -> int:
        """The offset of the byte after this chunk's CRC."""
        return self.offset + CHUNK_OVERHEAD + self.length


def walk(data: bytes, offset: int = PREFIX_SIZE) -> Iterator[RawChunk]:
    """The chunks of ``data`` from ``offset`` on, leniently: the chunk walk for tools and tests.

    A decoder reads chunks with :func:`chunk_at`, which validates them; this walk validates
    nothing -- not the CRC, the type's letters or the length limit -- so that tests and fuzzers
    can take apart files they have broken on purpose. It stops at the first chunk that does not
    fit in ``data``: whatever follows the last chunk's :attr:`RawChunk.end` is a tail.

    >>> from svdcodec.format.header import SIGNATURE
    >>> data = SIGNATURE + b"\\x01" + pack_chunk(b"abcd", b"xy") + pack_chunk(b"IEND", b"") + b"!"
    >>> [(c.offset, c.type, c.body, c.end) for c in walk(data)]
    [(10, b'abcd', b'xy', 24), (24, b'IEND', b'', 36)]
    """
    while offset + CHUNK_OVERHEAD <= len(data):
        length, ctype = CHUNK_PREFIX.unpack_from(data, offset)
        end = offset + CHUNK_PREFIX.size + length
        if end + CHUNK_CRC.size > len(data):
            return
        (crc,) = CHUNK_CRC.unpack_from(data, end)
        yield RawChunk(offset, length, bytes(ctype), bytes(data[offset + CHUNK_PREFIX.size:end]),
                       crc)
        offset = end + CHUNK_CRC.size
