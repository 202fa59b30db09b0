"""The verdicts the spec fixes for files that break several rules, or are cut short.

Spec section 9, "Which error when several apply": the class of the first failing check, in the
order listed there; section 4: an enumerated field's 0 is corrupt, every other undefined value
reserved (unsupported). Section 7.1: what a cut file yields, cut position by position.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

import numpy as np
import pytest
import zstandard
from hypothesis import given
from hypothesis import strategies as st

import svdcodec
from svdcodec import ChecksumError, CorruptError, LimitError, TruncatedError, UnsupportedError
from svdcodec import format as fmt

HEAD_FIELDS = ("width", "height", "mode", "bit_depth", "channels", "layout", "factor_type",
               "compression", "colour_transform", "group_count", "incompatible_flags",
               "compatible_flags")
ENUMS = {"mode": fmt.Mode, "layout": fmt.Layout, "factor_type": fmt.FactorType,
         "compression": fmt.Compression, "colour_transform": fmt.ColourTransform}
LIMITS = svdcodec.Limits()


def _image(h: int, w: int, c: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, c), dtype=np.uint8)


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, data) of every chunk of a file whose framing is sound (its content need not
    be)."""
    out, at = [], fmt.PREFIX_SIZE
    while at < len(data):
        length, ctype = fmt.CHUNK_PREFIX.unpack_from(data, at)
        out.append((ctype, data[at + fmt.CHUNK_PREFIX.size:at + fmt.CHUNK_PREFIX.size + length]))
        at += fmt.CHUNK_OVERHEAD + length
    return out


def _build(chunks: list[tuple[bytes, bytes]]) -> bytes:
    return fmt.SIGNATURE + bytes([fmt.FORMAT_VERSION]) + b"".join(
        fmt.pack_chunk(t, d) for t, d in chunks)


RGB = svdcodec.encode(_image(6, 8, 3), rank=2)  # HEAD, FACT x3, IEND
PATCH = svdcodec.encode(_image(8, 8, 1)[:, :, 0], quality=50)  # HEAD, PTCH, IEND


def _head(data: bytes, **fields: int) -> bytes:
    chunks = _chunks(data)
    values = dict(zip(HEAD_FIELDS, fmt.HEAD.unpack(chunks[0][1]), strict=True))
    values.update(fields)
    chunks[0] = (b"HEAD", fmt.HEAD.pack(*(values[f] for f in HEAD_FIELDS)))
    return _build(chunks)


def _body(data: bytes, nth: int, change: Callable[[bytes], bytes]) -> bytes:
    """The file with the data of its chunk number ``nth`` changed, CRC recomputed."""
    chunks = _chunks(data)
    chunks[nth] = (chunks[nth][0], change(chunks[nth][1]))
    return _build(chunks)


def _insert(data: bytes, nth: int, ctype: bytes, body: bytes) -> bytes:
    chunks = _chunks(data)
    chunks.insert(nth, (ctype, body))
    return _build(chunks)


def _u32(offset: int, value: int) -> Callable[[bytes], bytes]:
    """Set the u32 at ``offset`` of a chunk's data."""
    return lambda body: body[:offset] + struct.pack("<I", value) + body[offset + 4:]


def _bad_payload(body: bytes) -> bytes:
    """A FACT body whose payload is not a zstd frame (its fields untouched)."""
    return body[:fmt.FACT.size] + bytes(len(body) - fmt.FACT.size)


def _bad_crc(data: bytes, nth: int) -> bytes:
    """The file with the CRC of chunk ``nth`` flipped."""
    at = fmt.PREFIX_SIZE + sum(fmt.CHUNK_OVERHEAD + len(body)
                               for _, body in _chunks(data)[:nth + 1]) - 1
    return data[:at] + bytes([data[at] ^ 1]) + data[at + 1:]


def _cut_in_fact(data: bytes, nth_fact: int) -> bytes:
    c = [c for c in fmt.unpack(data, LIMITS).chunks if c.type == "FACT"][nth_fact]
    return data[:c.offset + c.size // 2]


BIG = 2_000_000  # above the default width and height limits
# (what, file, limits, expected): the first failing check of spec section 9 decides
CASES = [
    ("reserved mode beats a wrong bit_depth", _head(RGB, mode=9, bit_depth=3), None,
     UnsupportedError),
    ("width 0 beats a reserved layout", _head(RGB, width=0, layout=9), None, CorruptError),
    ("mode 0 beats a reserved layout (mode comes first)", _head(RGB, mode=0, layout=9), None,
     CorruptError),
    ("reserved layout beats factor_type 0 (layout comes first)",
     _head(RGB, layout=9, factor_type=0), None, UnsupportedError),
    ("reserved colour_transform beats a wrong group_count",
     _head(RGB, colour_transform=2, group_count=7), None, UnsupportedError),
    ("a wrong bit_depth beats an incompatible flag", _head(RGB, bit_depth=16,
                                                           incompatible_flags=1), None,
     CorruptError),
    ("a bad combination beats an incompatible flag", _head(RGB, factor_type=3,
                                                           incompatible_flags=1), None,
     CorruptError),
    ("an incompatible flag beats the size limits", _head(RGB, incompatible_flags=1, width=BIG),
     None, UnsupportedError),
    ("a reserved code beats the size limits", _head(RGB, compression=2, height=BIG), None,
     UnsupportedError),
    ("the size limits beat the later FACT chunks, whose shape no longer fits",
     _head(RGB, width=BIG), None, LimitError),
    ("the CRC beats the content of its chunk", _bad_crc(_head(RGB, mode=9), 0), None,
     ChecksumError),
    ("the format version beats everything after it",
     fmt.SIGNATURE + b"\x02" + _head(RGB, mode=0)[fmt.PREFIX_SIZE:], None, UnsupportedError),
    ("a bad signature beats a short file", b"\x89SVDX", None, CorruptError),
    ("framing before payloads: a cut file with a corrupt first payload is truncated",
     _cut_in_fact(_body(RGB, 1, _bad_payload), 1), None, TruncatedError),
    ("a later CRC beats an earlier corrupt payload",
     _bad_crc(_body(RGB, 1, _bad_payload), 2), None, ChecksumError),
    ("a FACT field beats the allocation limit", _body(RGB, 1, _u32(12, 0)),
     svdcodec.Limits(max_alloc_bytes=1), CorruptError),
    ("the allocation limit beats a corrupt payload", _body(RGB, 1, _bad_payload),
     svdcodec.Limits(max_alloc_bytes=1), LimitError),
    ("the work limit beats a corrupt payload", _body(RGB, 1, _bad_payload),
     svdcodec.Limits(max_work=1), LimitError),
    ("the metadata limit beats a repeated ancillary chunk",
     _insert(_insert(RGB, 1, b"iccp", bytes(8)), 1, b"iccp", bytes(8)),
     svdcodec.Limits(max_metadata_bytes=10), LimitError),
    ("the chunk count beats a cut", _insert(_insert(RGB, 1, b"zzzz", b""), 1, b"zzzz", b"")[:-6],
     svdcodec.Limits(max_chunks=3), LimitError),
    ("an unknown critical chunk beats a later corrupt FACT",
     _insert(_body(RGB, 1, _u32(0, 5)), 1, b"ABCD", b""), None, UnsupportedError),
    ("a FACT field beats a later unknown critical chunk",
     _insert(_body(RGB, 1, _u32(0, 5)), 2, b"ABCD", b""), None, CorruptError),
    ("PTCH: a reserved patch_size beats too many components",
     _body(PATCH, 1, lambda b: b[:1] + bytes([32]) + b[2:4] + bytes([255]) + b[5:]), None,
     UnsupportedError),
    ("PTCH: patch_size 0 beats a reserved subsample_x",
     _body(PATCH, 1, lambda b: b[:1] + bytes([0, 3]) + b[3:]), None, CorruptError),
    ("PTCH: a reserved subsample_y beats dc_multiplier 0",
     _body(PATCH, 1, lambda b: b[:3] + bytes([4]) + b[4:12] + bytes(4) + b[16:]), None,
     UnsupportedError),
]


@pytest.mark.parametrize(("data", "limits", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_first_failing_check_decides(data: bytes, limits: svdcodec.Limits | None,
                                     expected: type[svdcodec.SvdiError]) -> None:
    with pytest.raises(svdcodec.SvdiError) as info:
        svdcodec.decode(data, limits=limits)
    assert type(info.value) is expected, f"{type(info.value).__name__}: {info.value}"


def test_the_cases_break_more_than_one_rule() -> None:
    """The later faults of the cases above, alone, give other classes than the cases expect:
    the order of the checks, not the kind of fault, decides."""
    alone = [(_head(RGB, bit_depth=3), CorruptError), (_head(RGB, layout=9), UnsupportedError),
             (_head(RGB, incompatible_flags=1), UnsupportedError),
             (_head(RGB, width=BIG), LimitError), (_body(RGB, 1, _bad_payload), CorruptError)]
    for data, expected in alone:
        with pytest.raises(expected):
            svdcodec.decode(data)


@given(field=st.sampled_from(sorted(ENUMS)), value=st.integers(0, 255))
def test_enum_zero_is_corrupt_and_other_undefined_codes_are_reserved(field: str,
                                                                     value: int) -> None:
    """Section 4: no enumerated code is 'out of range'; 0 (where invalid) is CorruptError,
    every other undefined value UnsupportedError, a defined one neither of those for it."""
    data = _head(RGB, **{field: value})
    defined = value in ENUMS[field]._value2member_map_
    try:
        svdcodec.decode(data)
    except svdcodec.SvdiError as exc:
        if defined:  # a defined code may still disagree with the other fields
            assert type(exc) is CorruptError
        else:
            assert type(exc) is (CorruptError if value == 0 else UnsupportedError)
    else:
        assert defined


# HEAD damages in the order section 9 checks them, each with its class
ORDERED = [("width", 0, CorruptError), ("mode", 200, UnsupportedError),
           ("layout", 200, UnsupportedError), ("factor_type", 0, CorruptError),
           ("compression", 200, UnsupportedError), ("colour_transform", 200, UnsupportedError),
           ("group_count", 9, CorruptError), ("incompatible_flags", 1, UnsupportedError),
           ("height", BIG, LimitError)]


@given(st.sets(st.integers(0, len(ORDERED) - 1), min_size=1))
def test_property_head_damages_report_the_first(chosen: set[int]) -> None:
    data = _head(RGB, **{ORDERED[i][0]: ORDERED[i][1] for i in chosen})
    with pytest.raises(svdcodec.SvdiError) as info:
        svdcodec.decode(data)
    assert type(info.value) is ORDERED[min(chosen)][2]


# --- section 7.1: what a cut file yields, cut by cut ------------------------------------------
LA = svdcodec.encode(_image(12, 16, 2, seed=3), rank=4, progressive=True)  # a block per record
# HEAD, FACT 0, zzzz (an ancillary chunk between the groups), FACT 1, IEND
SALVAGE = _insert(LA, 2, b"zzzz", b"an ancillary chunk")
PLACES = {c.type + str(i): c for i, c in enumerate(fmt.unpack(SALVAGE, LIMITS).chunks)}
FACT0, ZZZZ, FACT1, IEND = PLACES["FACT1"], PLACES["zzzz2"], PLACES["FACT3"], PLACES["IEND4"]
RECORD = fmt.record_size(12, 16, fmt.FactorType.INT8)
FIXED = fmt.CHUNK_PREFIX.size + fmt.FACT.size


def _block_ends(chunk: fmt.ChunkInfo) -> list[int]:
    """File offsets where each block of a FACT chunk's zstd frame ends (RFC 8878 3.1.1.2)."""
    at = chunk.offset + FIXED + zstandard.frame_header_size(SALVAGE[chunk.offset + FIXED:])
    ends = []
    while True:
        header = int.from_bytes(SALVAGE[at:at + 3], "little")
        at += 3 + (1 if (header >> 1) & 3 == 1 else header >> 3)  # RLE blocks hold one byte
        ends.append(at)
        if header & 1:
            return ends


def _end(chunk: fmt.ChunkInfo) -> int:
    return chunk.offset + chunk.size


# cut (bytes kept) -> ranks salvaged for channels 0 and 1 (0: nothing)
CUTS = {
    "at the end of HEAD": (PLACES["HEAD0"].offset + PLACES["HEAD0"].size, (0, 0)),
    "inside FACT 0's 8-byte prefix": (FACT0.offset + 5, (0, 0)),
    "inside FACT 0's fixed fields": (FACT0.offset + 8 + 10, (0, 0)),
    "right after FACT 0's fixed fields": (FACT0.offset + FIXED, (0, 0)),
    "inside FACT 0's frame header": (FACT0.offset + FIXED + 3, (0, 0)),
    "inside FACT 0's third block": (_block_ends(FACT0)[2] - RECORD // 2, (2, 0)),
    "inside FACT 0's zstd checksum": (_end(FACT0) - 4 - 2, (3, 0)),
    "between FACT 0's data and its CRC": (_end(FACT0) - 4, (4, 0)),
    "inside FACT 0's CRC": (_end(FACT0) - 2, (3, 0)),
    "at the end of FACT 0": (_end(FACT0), (4, 0)),
    "inside an ancillary chunk": (ZZZZ.offset + 10, (4, 0)),
    "inside FACT 1's second block": (_block_ends(FACT1)[1] - RECORD // 2, (4, 1)),
    "inside IEND": (IEND.offset + 6, (4, 4)),
}


@pytest.mark.parametrize(("cut", "ranks"), list(CUTS.values()), ids=list(CUTS))
def test_salvage_by_cut_position(cut: int, ranks: tuple[int, int]) -> None:
    data = SALVAGE[:cut]
    with pytest.raises(TruncatedError):
        svdcodec.decode(data)
    got = svdcodec.decode(data, allow_truncated=True).astype(np.int32)
    for c, r in enumerate(ranks):
        want = svdcodec.decode(SALVAGE, rank=r)[:, :, c] if r else 0
        assert np.abs(got[:, :, c] - want).max() <= 1, (c, r)
        if 1 <= r < 4:  # and not the next rank up: the count is exact
            assert np.abs(got[:, :, c] - svdcodec.decode(SALVAGE, rank=r + 1)[:, :, c]).max() > 1


def test_salvage_inside_head_is_truncated() -> None:
    for cut in (9, fmt.PREFIX_SIZE, fmt.PREFIX_SIZE + 20, FACT0.offset - 1):
        with pytest.raises(TruncatedError):
            svdcodec.decode(SALVAGE[:cut], allow_truncated=True)


def test_salvage_requested_rank_caps_the_cut_group() -> None:
    data = SALVAGE[:CUTS["inside FACT 1's second block"][0]]
    got = svdcodec.decode(data, allow_truncated=True, rank=3).astype(np.int32)
    assert np.abs(got[:, :, 0] - svdcodec.decode(SALVAGE, rank=3)[:, :, 0]).max() <= 1
    assert np.abs(got[:, :, 1] - svdcodec.decode(SALVAGE, rank=1)[:, :, 1]).max() <= 1


def test_salvage_ignores_a_cut_fact_with_a_bad_field() -> None:
    """A cut FACT whose fixed fields fail section 5 contributes nothing, without error."""
    bad = _body(SALVAGE, 3, _u32(0, 7))  # FACT 1's group_index
    got = svdcodec.decode(bad[:CUTS["inside FACT 1's second block"][0]], allow_truncated=True)
    assert not got[:, :, 1].any() and got[:, :, 0].any()


def test_salvage_checks_the_cut_chunks_prefix() -> None:
    """The 8 bytes of the cut chunk are checked (section 3 rule 5), nothing else of it."""
    at = FACT1.offset + 4
    bad = SALVAGE[:at] + b"FA1T" + SALVAGE[at + 4:FACT1.offset + 30]
    with pytest.raises(CorruptError):
        svdcodec.decode(bad, allow_truncated=True)
    unknown = SALVAGE[:at] + b"FACX" + SALVAGE[at + 4:FACT1.offset + 30]  # critical, unknown
    assert not svdcodec.decode(unknown, allow_truncated=True)[:, :, 1].any()


def test_salvage_limits_count_the_declared_rank() -> None:
    """Section 7.1: the cut group counts at its declared rank, though it holds fewer records."""
    data = SALVAGE[:CUTS["inside FACT 1's second block"][0]]
    h = svdcodec.read_header(SALVAGE)
    per_rank = RECORD + 8 * (12 + 16)
    alloc = 12 * 16 * 2 + 2 * 4 * per_rank + 8 * 12 * 16
    svdcodec.decode(data, allow_truncated=True, limits=svdcodec.Limits(max_alloc_bytes=alloc))
    with pytest.raises(LimitError):
        svdcodec.decode(data, allow_truncated=True,
                        limits=svdcodec.Limits(max_alloc_bytes=alloc - 1))
    assert h.ranks == (4, 4)
