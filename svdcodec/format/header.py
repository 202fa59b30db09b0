"""Sections 2 and 4 of spec/svdi.md: the file prefix and the HEAD chunk's fields.

Every field of HEAD has one constant, struct field or ``IntEnum`` here; the names used across
the package (``"per-channel"``, ``"int8"``, ``"I;16"``) are derived from these enums.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import TypeVar

from ..errors import CorruptError, LimitError, TruncatedError, UnsupportedError
from ..limits import Limits

# --- section 2: file structure -------------------------------------------------------------
SIGNATURE = b"\x89SVDI\r\n\x1a\n"
FORMAT_VERSION = 1
PREFIX_SIZE = len(SIGNATURE) + 1  # signature + format_version byte


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
    I16S = 6  # section 15.1: signed, coded as I16 of u = sample + SIGNED_OFFSET


# mode -> (name, channels, bit_depth)
MODE_INFO = {
    Mode.L: ("L", 1, 8),
    Mode.LA: ("LA", 2, 8),
    Mode.RGB: ("RGB", 3, 8),
    Mode.RGBA: ("RGBA", 4, 8),
    Mode.I16: ("I;16", 1, 16),
    Mode.I16S: ("I;16S", 1, 16),
}
# section 15.1: mode I;16S stores u = sample + SIGNED_OFFSET as mode I;16 stores its samples
SIGNED_OFFSET = 32768


class Layout(IntEnum):
    PER_CHANNEL = 1
    STACKED = 2
    STACKED_VERTICAL = 3
    PATCH = 4  # section 12
    SNAPSHOT = 5  # section 14.4: a stack's frames as the columns of one matrix (FRMS needed)


LAYOUT_NAMES = {Layout.PER_CHANNEL: "per-channel", Layout.STACKED: "stacked",
                Layout.STACKED_VERTICAL: "stacked-vertical", Layout.PATCH: "patch",
                Layout.SNAPSHOT: "snapshot"}
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


def pack_header(h: Header) -> bytes:
    return HEAD.pack(h.width, h.height, h.mode, h.bit_depth, h.channels, h.layout, h.factor_type,
                     h.compression, h.colour_transform, h.group_count, 0, h.compatible_flags)


def check_prefix(data: bytes | memoryview) -> None:
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


_E = TypeVar("_E", bound=IntEnum)


def _enum(cls: type[_E], value: int, name: str) -> _E:
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


def unpack_header(data: bytes | memoryview, limits: Limits) -> Header:
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
    check_size(width, height, limits)
    return header


def check_size(width: int, height: int, limits: Limits) -> None:
    """The size limits of section 8 (LimitError)."""
    if width > limits.max_width or height > limits.max_height:
        raise LimitError(f"image size {width}x{height} exceeds the limit "
                         f"{limits.max_width}x{limits.max_height}")
    if width * height > limits.max_pixels:
        raise LimitError(f"{width * height} pixels exceed the limit of {limits.max_pixels}")
