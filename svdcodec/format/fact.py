"""Section 5 of spec/svdi.md: the FACT chunk of the whole-image layouts (one factor group)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from ..errors import CorruptError
from .header import FactorType, Header

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
class Group:
    """One FACT chunk: its fields and the still-compressed payload."""

    index: int
    rows: int
    cols: int
    rank: int
    raw_size: int
    payload: bytes = field(repr=False)


def unpack_group(data: bytes | memoryview, header: Header, expected_index: int,
                 shape: tuple[int, int] | None = None) -> Group:
    """Parse and validate a FACT chunk (section 5) against the header (section 6), or
    against ``shape`` (a stack's matrices, section 14)."""
    if len(data) < FACT.size:
        raise CorruptError(f"FACT length: expected at least {FACT.size}, got {len(data)}")
    index, rows, cols, rank, raw_size = FACT.unpack_from(data)
    if index != expected_index:
        raise CorruptError(f"FACT group_index: expected {expected_index}, got {index}")
    shape = header.group_shape() if shape is None else shape
    if (rows, cols) != shape:
        raise CorruptError(f"FACT {index} shape: expected {shape}, got {(rows, cols)}")
    if not 1 <= rank <= min(rows, cols):
        raise CorruptError(f"FACT {index} rank: expected 1..{min(rows, cols)}, got {rank}")
    expected_raw = rank * record_size(rows, cols, header.factor_type)
    if raw_size != expected_raw:
        raise CorruptError(f"FACT {index} raw_size: expected {expected_raw}, got {raw_size}")
    return Group(index, rows, cols, rank, raw_size, bytes(data[FACT.size:]))
