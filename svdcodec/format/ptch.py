"""The bytes of the patch layout's ``PTCH`` chunk (``spec/svdi.md`` section 12.2, 12.3, 12.8).

One chunk per plane: 24 bytes of fields, then a zstd frame of the payload that
:mod:`.entropy` parses. Like :mod:`.format`, which re-exports these names, this module knows no
numpy and never decompresses; it needs no name of :mod:`.format` at run time (the header and
container it is given are used only for their fields), so that module can import it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from ..errors import CorruptError, UnsupportedError
from .header import Compression, Header

# --- section 12.2: the fields of PTCH ---------------------------------------------------------
PTCH = struct.Struct(
    "<B"  # plane_index
    "B"  # patch_size P
    "B"  # subsample_x
    "B"  # subsample_y
    "B"  # components k
    "B"  # shift F
    "H"  # deblock_alpha (0: no deblocking)
    "H"  # deblock_beta
    "H"  # deblock_tc
    "I"  # dc_multiplier
    "I"  # ac_symbols M
    "I"  # escapes E
)
PATCH_SIZES = (4, 8, 16)  # section 12.2
SUBSAMPLING = (1, 2)  # section 12.2
MAX_PATCH_SHIFT = 52  # section 12.2
# section 12.3: bytes per component of the payload: multiplier u32, parity u8 (+ the quarter)
COMPONENT_BYTES = 5


def patch_raw_size(k: int, p: int, patches: int, ac_symbols: int, escapes: int) -> int:
    """Bytes of a decompressed PTCH payload (section 12.3)."""
    return k * (COMPONENT_BYTES + (p // 2) ** 2) + 2 * patches + ac_symbols + 4 * escapes


@dataclass(frozen=True)
class Plane:
    """One PTCH chunk (section 12.2): its fields and the still-compressed payload."""

    index: int
    patch_size: int
    subsample_x: int
    subsample_y: int
    components: int
    shift: int
    deblock: tuple[int, int, int]  # alpha, beta, tc
    dc_multiplier: int
    ac_symbols: int
    escapes: int
    payload: bytes = field(repr=False)

    def shape(self, header: Header) -> tuple[int, int]:
        """(rows, cols) of the plane: ceil(H / subsample_y) x ceil(W / subsample_x)."""
        return -(-header.height // self.subsample_y), -(-header.width // self.subsample_x)

    def grid(self, header: Header) -> tuple[int, int]:
        """(gh, gw): patches per column and per row of the plane."""
        rows, cols = self.shape(header)
        return -(-rows // self.patch_size), -(-cols // self.patch_size)

    def patches(self, header: Header) -> int:
        gh, gw = self.grid(header)
        return gh * gw

    def raw_size(self, header: Header) -> int:
        return patch_raw_size(self.components, self.patch_size, self.patches(header),
                              self.ac_symbols, self.escapes)

def plane_name(index: int, ycbcr: bool) -> str:
    """Section 12.1: planes 0, 1, 2 hold Y, Cb, Cr with colour_transform 1 (plane 3, alpha),
    else plane c holds channel c."""
    return ("Y", "Cb", "Cr", "alpha")[index] if ycbcr else f"channel {index}"


def pack_plane(pl: Plane) -> bytes:
    """The body of a PTCH chunk: its fields, then the compressed payload (section 12.2)."""
    return PTCH.pack(pl.index, pl.patch_size, pl.subsample_x, pl.subsample_y, pl.components,
                     pl.shift, *pl.deblock, pl.dc_multiplier, pl.ac_symbols, pl.escapes) + \
        pl.payload


def unpack_plane(data: bytes | memoryview, header: Header, expected_index: int) -> Plane:
    """Parse and validate a PTCH chunk's fields (section 12.2); the payload stays compressed."""
    if len(data) < PTCH.size:
        raise CorruptError(f"PTCH length: expected at least {PTCH.size}, got {len(data)}")
    (index, p, sx, sy, k, shift, alpha, beta, tc, m_dc, ac_symbols,
     escapes) = PTCH.unpack_from(data)
    if index != expected_index:
        raise CorruptError(f"PTCH plane_index: expected {expected_index}, got {index}")
    for name, value, allowed in (("patch_size", p, PATCH_SIZES),
                                 ("subsample_x", sx, SUBSAMPLING),
                                 ("subsample_y", sy, SUBSAMPLING)):
        if value == 0:
            raise CorruptError(f"PTCH {index} {name}: 0 is invalid")
        if value not in allowed:
            raise UnsupportedError(f"PTCH {index} {name}: expected one of {allowed}, got {value}")
    if k > p * p - 1:
        raise CorruptError(f"PTCH {index} components: expected 0..{p * p - 1}, got {k}")
    if not 1 <= shift <= MAX_PATCH_SHIFT:
        raise CorruptError(f"PTCH {index} shift: expected 1..{MAX_PATCH_SHIFT}, got {shift}")
    if m_dc == 0:
        raise CorruptError(f"PTCH {index} dc_multiplier: expected >= 1, got 0")
    plane = Plane(index, p, sx, sy, k, shift, (alpha, beta, tc), m_dc, ac_symbols, escapes,
                  bytes(data[PTCH.size:]))
    n = plane.patches(header)
    if ac_symbols > n * k:
        raise CorruptError(f"PTCH {index} ac_symbols: expected <= {n * k}, got {ac_symbols}")
    if escapes > n + ac_symbols:
        raise CorruptError(f"PTCH {index} escapes: expected <= {n + ac_symbols}, got {escapes}")
    if header.compression == Compression.ARITH and escapes:
        raise CorruptError(f"PTCH {index} escapes: expected 0 with compression arith, "
                           f"got {escapes}")
    return plane
