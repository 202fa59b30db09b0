"""The bytes of an .svdi file: signature, chunks, header and factor-group framing.

This module implements ``spec/svdi.md`` sections 2–8 and nothing else: it knows no numpy and
never decompresses. Every on-disk field has one constant or struct here, with the section of
the spec that defines it; the ``PTCH`` chunk of the patch layout (section 12) is in
:mod:`.patchformat`, whose names this module re-exports.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from enum import IntEnum

from .errors import (
    ChecksumError,
    CorruptError,
    LimitError,
    SvdiError,
    TruncatedError,
    UnsupportedError,
)
from .limits import Limits
from .patchformat import COLOUR_PIXELS as COLOUR_PIXELS
from .patchformat import COMPONENT_BYTES as COMPONENT_BYTES
from .patchformat import MAX_PATCH_SHIFT as MAX_PATCH_SHIFT
from .patchformat import PATCH_SIZES as PATCH_SIZES
from .patchformat import PATCH_STRIP as PATCH_STRIP
from .patchformat import PTCH as PTCH
from .patchformat import SUBSAMPLING as SUBSAMPLING
from .patchformat import Plane as Plane
from .patchformat import check_patch_limits as check_patch_limits
from .patchformat import colour_rows as colour_rows
from .patchformat import pack_plane as pack_plane
from .patchformat import patch_raw_size as patch_raw_size
from .patchformat import plane_name as plane_name
from .patchformat import unpack_plane as unpack_plane

# --- section 2: file structure -------------------------------------------------------------
SIGNATURE = b"\x89SVDI\r\n\x1a\n"
FORMAT_VERSION = 1
PREFIX_SIZE = len(SIGNATURE) + 1  # signature + format_version byte

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
    ICCP = b"iccp"
    EXIF = b"exif"
    XMP = b"xmpd"
    PHYS = b"phys"


# Known ancillary chunks and the metadata key each one fills.
METADATA_CHUNKS = {ChunkType.ICCP: "icc_profile", ChunkType.EXIF: "exif", ChunkType.XMP: "xmp",
                   ChunkType.PHYS: "phys"}
PHYS = struct.Struct("<II")  # section 3: x_ppm, y_ppm


def is_critical(chunk_type: bytes) -> bool:
    """Section 3: bit 5 of the first letter clear (upper case) means critical."""
    return not chunk_type[0] & 0x20


# --- section 4: HEAD -------------------------------------------------------------------------
HEAD = struct.Struct(
    "<I"  # width
    "I"  # height
    "B"  # mode
    "B"  # bit_depth
    "B"  # channels
    "B"  # layout
    "B"  # factor_type
    "B"  # compression
    "B"  # colour_transform
    "B"  # group_count
    "I"  # incompatible_flags
    "I"  # compatible_flags
)
KNOWN_INCOMPATIBLE_FLAGS = 0  # section 4: no bit defined in version 1


class Mode(IntEnum):
    L = 1
    LA = 2
    RGB = 3
    RGBA = 4
    I16 = 5


# mode -> (name, channels, bit_depth)
MODE_INFO = {
    Mode.L: ("L", 1, 8),
    Mode.LA: ("LA", 2, 8),
    Mode.RGB: ("RGB", 3, 8),
    Mode.RGBA: ("RGBA", 4, 8),
    Mode.I16: ("I;16", 1, 16),
}
MODE_BY_NAME = {info[0]: mode for mode, info in MODE_INFO.items()}


class Layout(IntEnum):
    PER_CHANNEL = 1
    STACKED = 2
    STACKED_VERTICAL = 3
    PATCH = 4  # section 12


LAYOUT_NAMES = {Layout.PER_CHANNEL: "per-channel", Layout.STACKED: "stacked",
                Layout.STACKED_VERTICAL: "stacked-vertical", Layout.PATCH: "patch"}
LAYOUT_BY_NAME = {name: layout for layout, name in LAYOUT_NAMES.items()}


class FactorType(IntEnum):
    FLOAT16 = 1
    INT8 = 2
    COEFFICIENTS = 3  # section 12: quantized patch coefficients (layout patch only)


FACTOR_NAMES = {FactorType.FLOAT16: "float16", FactorType.INT8: "int8",
                FactorType.COEFFICIENTS: "coefficients"}
FACTOR_BY_NAME = {name: ftype for ftype, name in FACTOR_NAMES.items()}


class Compression(IntEnum):
    ZSTD = 1
    ARITH = 2  # section 13: adaptive binary arithmetic coding (layout patch only)


COMPRESSION_NAMES = {Compression.ZSTD: "zstd", Compression.ARITH: "arith"}
COMPRESSION_BY_NAME = {name: c for c, name in COMPRESSION_NAMES.items()}


class ColourTransform(IntEnum):
    NONE = 0
    YCBCR = 1  # section 12.7: JFIF YCbCr, RGB and RGBA with layout patch only


COLOUR_NAMES = {ColourTransform.NONE: "none", ColourTransform.YCBCR: "ycbcr"}


# --- section 5: FACT -------------------------------------------------------------------------
FACT = struct.Struct(
    "<I"  # group_index
    "I"  # rows
    "I"  # cols
    "I"  # rank
    "Q"  # raw_size
)


def record_size(rows: int, cols: int, factor_type: FactorType) -> int:
    """Bytes of one component record (section 5)."""
    if factor_type == FactorType.FLOAT16:
        return 4 + 2 * rows + 2 * cols
    return 12 + rows + cols


@dataclass(frozen=True)
class Header:
    """The fields of HEAD (section 4), validated."""

    width: int
    height: int
    mode: Mode
    layout: Layout
    factor_type: FactorType
    compression: Compression = Compression.ZSTD
    colour_transform: ColourTransform = ColourTransform.NONE
    compatible_flags: int = 0

    @property
    def channels(self) -> int:
        return MODE_INFO[self.mode][1]

    @property
    def bit_depth(self) -> int:
        return MODE_INFO[self.mode][2]

    @property
    def group_count(self) -> int:
        return self.channels if self.layout in (Layout.PER_CHANNEL, Layout.PATCH) else 1

    def group_shape(self) -> tuple[int, int]:
        """(rows, cols) of every group's matrix (section 6)."""
        if self.layout == Layout.STACKED:
            return self.height, self.width * self.channels
        if self.layout == Layout.STACKED_VERTICAL:
            return self.height * self.channels, self.width
        return self.height, self.width


@dataclass(frozen=True)
class Group:
    """One FACT chunk: its fields and the still-compressed payload."""

    index: int
    rows: int
    cols: int
    rank: int
    raw_size: int
    payload: bytes = field(repr=False)


@dataclass(frozen=True)
class ChunkInfo:
    """Where a chunk sits in the file; ``size`` includes its 12 framing bytes."""

    type: str
    offset: int
    size: int


@dataclass(frozen=True)
class Container:
    """A parsed file: everything but the decompressed factors."""

    header: Header
    groups: tuple[Group, ...]
    metadata: dict[str, bytes]
    chunks: tuple[ChunkInfo, ...]
    planes: tuple[Plane, ...] = ()  # layout patch (section 12); groups is then empty
    # unpack(allow_truncated=True) of a file cut short (section 7.1): why it stopped, and the
    # FACT chunk it ends in, whose payload is a cut zstd frame
    truncated: str = ""
    partial: Group | None = None

    @property
    def decodable_groups(self) -> tuple[Group, ...]:
        """The FACT groups a decoder uses: the complete ones, then a partial one (7.1)."""
        return self.groups + ((self.partial,) if self.partial is not None else ())


# --- writing ---------------------------------------------------------------------------------
def pack_chunk(chunk_type: bytes, data: bytes) -> bytes:
    if len(data) > MAX_CHUNK_LENGTH:
        raise ValueError(f"chunk {chunk_type!r} too long: {len(data)} > {MAX_CHUNK_LENGTH}")
    crc = zlib.crc32(data, zlib.crc32(chunk_type))
    return CHUNK_PREFIX.pack(len(data), chunk_type) + data + CHUNK_CRC.pack(crc)


def pack_header(h: Header) -> bytes:
    return HEAD.pack(h.width, h.height, h.mode, h.bit_depth, h.channels, h.layout, h.factor_type,
                     h.compression, h.colour_transform, h.group_count, 0, h.compatible_flags)


def pack(header: Header, groups: list[Group], metadata: dict[str, bytes] | None = None,
         planes: tuple[Plane, ...] | list[Plane] = ()) -> bytes:
    """Assemble a file: signature, HEAD, metadata, FACT (or PTCH) chunks, IEND (section 3)."""
    parts = [SIGNATURE, bytes([FORMAT_VERSION]), pack_chunk(ChunkType.HEAD, pack_header(header))]
    keys = {key: ctype for ctype, key in METADATA_CHUNKS.items()}
    for key, value in (metadata or {}).items():
        if value:
            parts.append(pack_chunk(keys[key], value))
    for g in groups:
        fact = FACT.pack(g.index, g.rows, g.cols, g.rank, g.raw_size)
        parts.append(pack_chunk(ChunkType.FACT, fact + g.payload))
    for pl in planes:
        parts.append(pack_chunk(ChunkType.PTCH, pack_plane(pl)))
    parts.append(pack_chunk(ChunkType.IEND, b""))
    return b"".join(parts)


# --- reading ---------------------------------------------------------------------------------
def check_prefix(data: bytes) -> None:
    """Section 2: signature and format version."""
    head = bytes(data[: len(SIGNATURE)])
    if head != SIGNATURE:
        if SIGNATURE.startswith(head):
            raise TruncatedError(f"file ends after {len(head)} bytes, inside the signature")
        raise CorruptError(f"not an SVDI file: expected signature {SIGNATURE!r}, got {head!r}")
    if len(data) < PREFIX_SIZE:
        raise TruncatedError("file ends before the format version byte")
    if data[len(SIGNATURE)] != FORMAT_VERSION:
        raise UnsupportedError(
            f"format_version: expected {FORMAT_VERSION}, got {data[len(SIGNATURE)]}")


def _enum(cls: type[IntEnum], value: int, name: str) -> IntEnum:
    if value == 0 and 0 not in cls._value2member_map_:
        raise CorruptError(f"{name}: 0 is invalid")
    try:
        return cls(value)
    except ValueError:
        raise UnsupportedError(f"{name}: unknown code {value}") from None


def _check_combination(h: Header) -> None:
    """Section 12.1: layout patch <-> factor_type coefficients; YCbCr only for RGB(A) patch;
    section 13: compression arith only with layout patch."""
    patch = h.layout == Layout.PATCH
    if h.compression == Compression.ARITH and not patch:
        raise CorruptError(f"compression: arith is invalid with layout {LAYOUT_NAMES[h.layout]}")
    if patch != (h.factor_type == FactorType.COEFFICIENTS):
        raise CorruptError(f"factor_type: {FACTOR_NAMES[h.factor_type]} is invalid with layout "
                           f"{LAYOUT_NAMES[h.layout]}")
    if h.colour_transform == ColourTransform.YCBCR and not (
            patch and h.mode in (Mode.RGB, Mode.RGBA)):
        raise CorruptError(f"colour_transform: ycbcr needs layout patch and mode RGB or RGBA, "
                           f"got {LAYOUT_NAMES[h.layout]} and {MODE_INFO[h.mode][0]}")


def unpack_header(data: bytes, limits: Limits) -> Header:
    """Parse and validate HEAD data (section 4) and the size limits of section 8."""
    if len(data) != HEAD.size:
        raise CorruptError(f"HEAD length: expected {HEAD.size}, got {len(data)}")
    (width, height, mode, bit_depth, channels, layout, ftype, compression, transform,
     group_count, incompatible, compatible) = HEAD.unpack(data)
    if width == 0 or height == 0:
        raise CorruptError(f"image size must be at least 1x1, got {width}x{height}")
    mode = _enum(Mode, mode, "mode")
    header = Header(width, height, mode, _enum(Layout, layout, "layout"),
                    _enum(FactorType, ftype, "factor_type"),
                    _enum(Compression, compression, "compression"),
                    _enum(ColourTransform, transform, "colour_transform"), compatible)
    for name, actual, expected in (("bit_depth", bit_depth, header.bit_depth),
                                   ("channels", channels, header.channels),
                                   ("group_count", group_count, header.group_count)):
        if actual != expected:
            raise CorruptError(f"{name}: expected {expected} for mode {MODE_INFO[mode][0]} "
                               f"and layout {LAYOUT_NAMES[header.layout]}, got {actual}")
    _check_combination(header)
    if incompatible & ~KNOWN_INCOMPATIBLE_FLAGS:
        raise UnsupportedError(f"unknown incompatible flags 0x{incompatible:08x}")
    if width > limits.max_width or height > limits.max_height:
        raise LimitError(f"image size {width}x{height} exceeds the limit "
                         f"{limits.max_width}x{limits.max_height}")
    if width * height > limits.max_pixels:
        raise LimitError(f"{width * height} pixels exceed the limit of {limits.max_pixels}")
    return header


def unpack_group(data: bytes, header: Header, expected_index: int) -> Group:
    """Parse and validate a FACT chunk (section 5) against the header (section 6)."""
    if len(data) < FACT.size:
        raise CorruptError(f"FACT length: expected at least {FACT.size}, got {len(data)}")
    index, rows, cols, rank, raw_size = FACT.unpack_from(data)
    if index != expected_index:
        raise CorruptError(f"FACT group_index: expected {expected_index}, got {index}")
    if (rows, cols) != header.group_shape():
        raise CorruptError(f"FACT {index} shape: expected {header.group_shape()}, "
                           f"got {(rows, cols)}")
    if not 1 <= rank <= min(rows, cols):
        raise CorruptError(f"FACT {index} rank: expected 1..{min(rows, cols)}, got {rank}")
    expected_raw = rank * record_size(rows, cols, header.factor_type)
    if raw_size != expected_raw:
        raise CorruptError(f"FACT {index} raw_size: expected {expected_raw}, got {raw_size}")
    return Group(index, rows, cols, rank, raw_size, bytes(data[FACT.size:]))


def _metadata(chunk_type: bytes, data: bytes) -> bytes:
    if chunk_type == ChunkType.PHYS:
        if len(data) != PHYS.size or 0 in PHYS.unpack(data):
            raise CorruptError("phys: expected 8 bytes with both densities >= 1")
    return bytes(data)


def _chunk_at(view: memoryview, offset: int) -> tuple[bytes, memoryview, int]:
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


def unpack_head(data: bytes, limits: Limits) -> Header:
    """Only the prefix and the first chunk, HEAD (sections 2–4): the header of a file whose
    later chunks may be broken."""
    view = memoryview(data)
    check_prefix(view)
    ctype, body, _ = _chunk_at(view, PREFIX_SIZE)
    if ctype != ChunkType.HEAD:
        raise CorruptError(f"first chunk: expected HEAD, got {ctype.decode()}")
    return unpack_header(body, limits)


def unpack(data: bytes, limits: Limits, *, allow_truncated: bool = False) -> Container:
    """Parse a whole file: framing, CRCs, HEAD, FACT headers, metadata (sections 2–6, 8).

    The factor payloads stay compressed; :func:`check_decode_limits` bounds the decode. With
    ``allow_truncated``, a file cut short after a valid HEAD gives what precedes the cut
    (section 7.1) instead of :class:`TruncatedError`.
    """
    view = memoryview(data)
    check_prefix(view)
    offset = PREFIX_SIZE
    header: Header | None = None
    groups: list[Group] = []
    planes: list[Plane] = []
    metadata: dict[str, bytes] = {}
    chunks: list[ChunkInfo] = []
    metadata_bytes = 0
    while True:
        if len(chunks) >= limits.max_chunks:
            raise LimitError(f"more than {limits.max_chunks} chunks")
        try:
            ctype, body, next_offset = _chunk_at(view, offset)
        except TruncatedError as exc:
            if not allow_truncated or header is None:
                raise
            partial = _partial_group(view, offset, header, len(groups))
            return Container(header, tuple(groups), metadata, tuple(chunks), tuple(planes),
                             truncated=str(exc), partial=partial)
        chunks.append(ChunkInfo(ctype.decode(), offset, next_offset - offset))
        offset = next_offset
        if header is None:
            if ctype != ChunkType.HEAD:
                raise CorruptError(f"first chunk: expected HEAD, got {ctype.decode()}")
            header = unpack_header(body, limits)
        elif ctype == ChunkType.FACT:
            if header.layout == Layout.PATCH:
                raise CorruptError("FACT chunk in a file of layout patch (section 12.1)")
            if len(groups) >= header.group_count:
                raise CorruptError(f"more FACT chunks than group_count {header.group_count}")
            groups.append(unpack_group(body, header, len(groups)))
        elif ctype == ChunkType.PTCH:
            if header.layout != Layout.PATCH:
                raise CorruptError(f"PTCH chunk in a file of layout {LAYOUT_NAMES[header.layout]}")
            if len(planes) >= header.group_count:
                raise CorruptError(f"more PTCH chunks than group_count {header.group_count}")
            planes.append(unpack_plane(body, header, len(planes)))
        elif ctype == ChunkType.IEND:
            if len(body):
                raise CorruptError(f"IEND length: expected 0, got {len(body)}")
            if len(groups) + len(planes) != header.group_count:
                raise CorruptError(f"factor groups: expected {header.group_count}, "
                                   f"got {len(groups) + len(planes)}")
            if offset != len(view):
                raise CorruptError(f"{len(view) - offset} bytes of trailing data after IEND")
            return Container(header, tuple(groups), metadata, tuple(chunks), tuple(planes))
        elif ctype == ChunkType.HEAD:
            raise CorruptError("duplicate HEAD chunk")
        elif is_critical(ctype):
            raise UnsupportedError(f"unknown critical chunk {ctype.decode()}")
        else:
            metadata_bytes += len(body)
            if metadata_bytes > limits.max_metadata_bytes:
                raise LimitError(f"metadata exceeds {limits.max_metadata_bytes} bytes")
            key = METADATA_CHUNKS.get(ctype)
            if key is not None:
                if key in metadata:
                    raise CorruptError(f"duplicate {ctype.decode()} chunk")
                metadata[key] = _metadata(ctype, body)


def _partial_group(view: memoryview, offset: int, header: Header, index: int) -> Group | None:
    """Section 7.1: the FACT chunk a file is cut in, if its fixed fields are all there and
    valid (its CRC cannot be checked); None otherwise."""
    if offset + CHUNK_PREFIX.size > len(view) or header.layout == Layout.PATCH or \
            index >= header.group_count:
        return None
    _, ctype = CHUNK_PREFIX.unpack_from(view, offset)
    if ctype != ChunkType.FACT:
        return None
    try:
        return unpack_group(view[offset + CHUNK_PREFIX.size:], header, index)
    except SvdiError:
        return None


def check_decode_limits(container: Container, limits: Limits, rank: int | None = None) -> None:
    """Section 8: allocation and work of decoding at ``rank`` (None: the stored ranks)."""
    h = container.header
    if h.layout == Layout.PATCH:
        check_patch_limits(container, limits, rank)
        return
    output = h.width * h.height * h.channels * (h.bit_depth // 8)
    work = 0
    raw = 0
    strip = 0
    for g in container.decodable_groups:
        r = g.rank if rank is None else min(rank, g.rank)
        work += g.rows * g.cols * r
        # the decompressed records plus the factors widened to float64
        raw += r * (record_size(g.rows, g.cols, h.factor_type) + 8 * (g.rows + g.cols))
        strip = max(strip, 8 * g.cols * min(g.rows, STRIP_ROWS))
    if work > limits.max_work:
        raise LimitError(f"reconstruction work {work} multiply-adds exceeds {limits.max_work}")
    total = output + raw + strip
    if total > limits.max_alloc_bytes:
        raise LimitError(f"decoding needs {total} bytes, limit {limits.max_alloc_bytes}")


# Rows reconstructed at a time (section 8's "working row strip"): bounds float64 temporaries.
STRIP_ROWS = 256
