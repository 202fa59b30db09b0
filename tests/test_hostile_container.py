"""Hostile input, the container (spec sections 2–4, 9; classes 1–11 and 15 of the design notes'
bad inputs): signature, version, truncation, chunk framing and CRCs, chunk order, HEAD and FACT
fields, ancillary and critical chunks. Helpers and the files: ``tests/hostile.py``.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from hostile import (
    FILES,
    Chunk,
    assert_rejects,
    build,
    edit_fact,
    edit_head,
    fact,
    file,
    index_of,
    picture,
    records,
    split,
    with_records,
)
from hypothesis import given, settings
from hypothesis import strategies as st

import svdcodec
from svdcodec import ChecksumError, CorruptError, LimitError, TruncatedError, UnsupportedError
from svdcodec import format as fmt
from svdcodec.format.chunks import walk


def test_helpers_round_trip() -> None:
    for data in map(file, FILES):
        assert build(split(data)) == data
        assert edit_head(data) == data
        np.testing.assert_array_equal(svdcodec.decode(with_records(data, records(data))),
                                      svdcodec.decode(data))
    assert [t for t, _ in split(file("rgb-meta"))] == [
        b"HEAD", b"iccp", b"exif", b"xmpd", b"phys", b"FACT", b"FACT", b"FACT", b"IEND"]



@settings(max_examples=300)
@given(name=st.sampled_from(list(FILES)), cut=st.integers(0, 2000), flip=st.integers(0, 2000))
def test_walk_is_lenient(name: str, cut: int, flip: int) -> None:
    """format.chunks.walk, the lenient walk the helpers and tools use: every chunk of a valid
    file with its stored CRC; of any prefix, the chunks that end inside it and never an error;
    a damaged byte changes what it yields but raises nothing either."""
    data = file(name)
    chunks = list(walk(data))
    assert build([(c.type, c.body) for c in chunks]) == data
    assert chunks[0].offset == fmt.PREFIX_SIZE and chunks[-1].end == len(data)
    assert all(c.crc == zlib.crc32(c.body, zlib.crc32(c.type)) for c in chunks)
    n = cut % (len(data) + 1)
    assert list(walk(data[:n])) == [c for c in chunks if c.end <= n]
    damaged = bytearray(data)
    damaged[flip % len(data)] ^= 0x80
    assert all(c.end <= len(data) for c in walk(bytes(damaged)))


# --- 1. bad signature; CR/LF conversion damage (section 2) -------------------------------------
SIGNATURE_DAMAGE = {
    "high_bit_cleared": lambda d: bytes([d[0] & 0x7F]) + d[1:],
    "wrong_letter": lambda d: d[:4] + b"J" + d[5:],
    "lower_case": lambda d: d[:1] + b"svdi" + d[5:],
    "ctrl_z_replaced": lambda d: d.replace(b"\x1a", b"\x00", 1),
    "ctrl_z_stripped": lambda d: d.replace(b"\x1a", b"", 1),
    "crlf_to_lf": lambda d: d.replace(b"\r\n", b"\n"),
    "lf_to_crlf": lambda d: d.replace(b"\n", b"\r\n"),
    "cr_stripped": lambda d: d.replace(b"\r", b""),
    "png_signature": lambda d: b"\x89PNG\r\n\x1a\n" + d[8:],
    "text": lambda d: b"hello, world\n",
    "short_not_a_prefix": lambda d: b"\x89SVDX",
}


@pytest.mark.parametrize("damage", SIGNATURE_DAMAGE, ids=list(SIGNATURE_DAMAGE))
def test_01_bad_signature(damage: str) -> None:
    assert_rejects(CorruptError, SIGNATURE_DAMAGE[damage](file("rgb-int8")))


def test_01_bad_signature_high_bit_cleared_in_whole_file() -> None:
    # a 7-bit channel clears every high bit, not just the first
    assert_rejects(CorruptError, bytes(b & 0x7F for b in file("rgb-int8")))


# --- 2. unknown major version (section 2) ------------------------------------------------------
@pytest.mark.parametrize("version", [0, 2, 255])
def test_02_unknown_format_version(version: int) -> None:
    whole = file("rgb-int8")
    data = whole[:9] + bytes([version]) + whole[10:]
    assert_rejects(UnsupportedError, data)


# --- 3. empty file; truncation at every byte offset (sections 2, 3 rule 3) ---------------------
def test_03_empty_file() -> None:
    assert_rejects(TruncatedError, b"")


@pytest.mark.parametrize("name", FILES)
def test_03_truncation_at_every_offset(name: str) -> None:
    """Every proper prefix of a valid file is TruncatedError, never Corrupt or Checksum."""
    data = file(name)
    for n in range(len(data)):
        for call in (svdcodec.decode, svdcodec.read_header):
            with pytest.raises(svdcodec.SvdiError) as info:
                call(data[:n])
            assert type(info.value) is TruncatedError, (n, call.__name__, info.value)


# --- 4. chunk length past EOF or > 2^31-1; non-letter chunk type (section 3 rules 3, 5) --------
@pytest.mark.parametrize("length", [2**31, 2**32 - 1])
def test_04_chunk_length_above_2_31_minus_1(length: int) -> None:
    whole = file("rgb-int8")
    data = whole[:10] + struct.pack("<I", length) + whole[14:]
    assert_rejects(CorruptError, data)


@pytest.mark.parametrize("length", ["file_size", 10_000, 2**31 - 1])
def test_04_chunk_length_past_end_of_file(length: int | str) -> None:
    whole = file("rgb-int8")
    n = len(whole) if length == "file_size" else int(length)
    data = whole[:10] + struct.pack("<I", n) + whole[14:]
    assert_rejects(TruncatedError, data)


def test_04_last_chunk_length_past_end_of_file() -> None:
    whole = file("rgb-int8")
    data = whole[:-12] + struct.pack("<I", 1) + whole[-8:]
    assert_rejects(TruncatedError, data)


@pytest.mark.parametrize("ctype", [b"HEA\x00", b"HE D", b"1EAD", b"HEA\xc4", b"H-AD", b"\xc8EAD",
                                   b"HEA@", b"HEA[", b"HEA`", b"HEA{"])
def test_04_non_letter_chunk_type(ctype: bytes) -> None:
    """Bytes around the letter ranges (@ [ ` {) and high-bit letters are not letters."""
    chunks = split(file("rgb-int8"))
    assert_rejects(CorruptError, build([(ctype, chunks[0][1]), *chunks[1:]]))
    ancillary = ctype.lower()
    assert_rejects(CorruptError, build([chunks[0], (ancillary, b"x"), *chunks[1:]]))


# --- 5. bad CRC in header, factor, metadata chunks (section 3 rule 4) --------------------------
@pytest.mark.parametrize("ctype", [b"HEAD", b"iccp", b"exif", b"xmpd", b"phys", b"FACT", b"IEND",
                                   b"abcd"])
@pytest.mark.parametrize("where", ["crc", "data"])
def test_05_bad_crc(ctype: bytes, where: str) -> None:
    chunks = split(file("rgb-meta"))
    chunks.insert(1, (b"abcd", b"unknown ancillary: its CRC is still checked"))
    data = bytearray(build(chunks))
    offset = fmt.PREFIX_SIZE
    for t, body in chunks:  # the first chunk of that type
        if t == ctype:
            break
        offset += len(body) + fmt.CHUNK_OVERHEAD
    length = len(body)
    if where == "data" and length:
        data[offset + 8 + length // 2] ^= 0x10
    else:
        data[offset + 8 + length] ^= 0x01
    assert_rejects(ChecksumError, bytes(data))


# --- 6. header not first, duplicated, wrong length; missing end chunk; data after it -----------
@pytest.mark.parametrize("first", [b"iccp", b"abcd", b"FACT", b"IEND"])
def test_06_header_not_first(first: bytes) -> None:
    chunks = split(file("rgb-meta"))
    body = dict(chunks).get(first, b"x")
    assert_rejects(CorruptError, build([(first, body), *chunks]))
    if first in dict(chunks):  # moved rather than added
        chunks.insert(0, chunks.pop(index_of(chunks, first)))
        assert_rejects(CorruptError, build(chunks))


@pytest.mark.parametrize("position", [1, 2, 4])
def test_06_duplicated_header(position: int) -> None:
    chunks = split(file("rgb-int8"))
    chunks.insert(position, chunks[0])
    assert_rejects(CorruptError, build(chunks))


@pytest.mark.parametrize("length", [0, 1, 23, 25, 48])
def test_06_wrong_header_length(length: int) -> None:
    chunks = split(file("rgb-int8"))
    head = chunks[0][1]
    chunks[0] = (b"HEAD", (head * 2)[:length])
    assert_rejects(CorruptError, build(chunks))


def test_06_missing_end_chunk() -> None:
    """A file ending at a chunk boundary before IEND is truncated (rule 3)."""
    data = file("rgb-int8")
    assert_rejects(TruncatedError, build(split(data)[:-1]))
    assert_rejects(TruncatedError, build(split(data)[:1]))


TAILS = {"nul": lambda: b"\x00", "newline": lambda: b"\n",
         "second_end": lambda: fmt.pack_chunk(b"IEND", b""),
         "ancillary": lambda: fmt.pack_chunk(b"abcd", b"after the end"),
         "second_file": lambda: file("rgb-int8")}


@pytest.mark.parametrize("tail", TAILS)
def test_06_data_after_end_chunk(tail: str) -> None:
    assert_rejects(CorruptError, file("rgb-int8") + TAILS[tail]())


def test_06_end_chunk_not_empty_or_early() -> None:
    chunks = split(file("rgb-int8"))
    assert_rejects(CorruptError, build([*chunks[:-1], (b"IEND", b"\x00")]))
    assert_rejects(CorruptError, build([chunks[0], chunks[-1], *chunks[1:-1]]))
    assert_rejects(CorruptError, build([*chunks[:-2], chunks[-1], chunks[-2]]))


# --- 7. zero or huge width / height / pixel count (sections 4, 8) ------------------------------
@pytest.mark.parametrize("fields", [{"width": 0}, {"height": 0}, {"width": 0, "height": 0}])
def test_07_zero_width_or_height(fields: dict[str, int]) -> None:
    assert_rejects(CorruptError, edit_head(file("rgb-int8"), **fields))


@pytest.mark.parametrize("fields", [{"width": 1_000_001}, {"height": 1_000_001},
                                    {"width": 2**32 - 1, "height": 2**32 - 1},
                                    {"width": 1_000_000, "height": 179},  # 179e6 > 178,956,970
                                    {"width": 65535, "height": 65535}])
def test_07_huge_width_height_or_pixels(fields: dict[str, int]) -> None:
    assert_rejects(LimitError, edit_head(file("rgb-int8"), **fields))


def test_07_limits_are_inclusive() -> None:
    """At the limit the header passes; the FACT shape (for a 12x9 image) then disagrees."""
    for fields in ({"width": 1_000_000}, {"height": 1_000_000},
                   {"width": 178_956_970 // 200, "height": 200}):
        assert_rejects(CorruptError, edit_head(file("rgb-int8"), **fields))


# --- 8. invalid enumerated values (section 4) ----------------------------------------------------
@pytest.mark.parametrize("field", ["mode", "layout", "factor_type", "compression"])
def test_08_enum_zero_is_corrupt(field: str) -> None:
    assert_rejects(CorruptError, edit_head(file("rgb-int8"), **{field: 0}))


# compression 2 (arith, section 13) is defined for layout patch only: CorruptError elsewhere
# (tests/test_arith.py::test_arith_needs_layout_patch_and_no_escapes)
@pytest.mark.parametrize(("field", "value"), [
    ("mode", 7), ("mode", 9), ("mode", 255), ("layout", 6), ("layout", 9),
    ("factor_type", 4), ("factor_type", 9), ("compression", 3), ("compression", 9),
    ("colour_transform", 2), ("colour_transform", 9), ("colour_transform", 255)])
def test_08_enum_unknown_code_is_unsupported(field: str, value: int) -> None:
    assert_rejects(UnsupportedError, edit_head(file("rgb-int8"), **{field: value}))


@pytest.mark.parametrize(("name", "fields"), [
    ("rgb-int8", {"bit_depth": 16}), ("rgb-int8", {"bit_depth": 0}),
    ("rgb-int8", {"channels": 1}), ("rgb-int8", {"channels": 4}),
    ("rgb-int8", {"group_count": 1}), ("rgb-int8", {"group_count": 0}),
    ("rgba-stacked", {"group_count": 4}), ("grey16-f16", {"bit_depth": 8}),
    ("rgb-int8", {"mode": 4}),  # RGBA with RGB's bit_depth 8 but channels 3
    ("grey-f16", {"mode": 5}),  # I;16 with L's bit_depth 8
    ("grey-f16", {"mode": 6}),  # I;16S with L's bit_depth 8
    ("grey16s-int8", {"bit_depth": 8}), ("grey16s-int8", {"channels": 3}),
    ("grey16s-int8", {"layout": 4}),  # I;16S keeps mode 5's combinations: patch needs coeffs
    ("rgb-int8", {"mode": 6})])  # I;16S with RGB's channels
def test_08_bit_depth_channels_group_count_mismatch(name: str, fields: dict[str, int]) -> None:
    assert_rejects(CorruptError, edit_head(file(name), **fields))


# --- 9. unknown incompatible flag (refuse) vs unknown compatible flag (decode) -----------------
@pytest.mark.parametrize("flags", [1, 0x100, 2**31, 2**32 - 1])
def test_09_unknown_incompatible_flag_is_unsupported(flags: int) -> None:
    assert_rejects(UnsupportedError, edit_head(file("rgb-int8"), incompatible_flags=flags))


@pytest.mark.parametrize("flags", [1, 0x100, 2**31, 2**32 - 1])
def test_09_unknown_compatible_flag_decodes(flags: int) -> None:
    data = edit_head(file("rgb-meta"), compatible_flags=flags)
    np.testing.assert_array_equal(svdcodec.decode(data), svdcodec.decode(file("rgb-meta")))
    assert svdcodec.read_header(data).shape == (9, 12, 3)


# --- 10. factor group missing, duplicated, out of range; shape disagreeing with the header -----
def _facts(name: str) -> tuple[list[Chunk], list[int]]:
    chunks = split(file(name))
    return chunks, [i for i, (t, _) in enumerate(chunks) if t == b"FACT"]


@pytest.mark.parametrize("case", ["missing_first", "missing_middle", "missing_last",
                                  "duplicated", "duplicated_last", "swapped", "extra"])
def test_10_factor_group_missing_duplicated_reordered(case: str) -> None:
    chunks, f = _facts("rgb-int8")
    if case == "missing_first":
        del chunks[f[0]]
    elif case == "missing_middle":
        del chunks[f[1]]
    elif case == "missing_last":
        del chunks[f[2]]
    elif case == "duplicated":
        chunks.insert(f[1], chunks[f[0]])
    elif case == "duplicated_last":
        chunks.insert(f[2], chunks[f[2]])
    elif case == "swapped":
        chunks[f[0]], chunks[f[1]] = chunks[f[1]], chunks[f[0]]
    else:
        extra = fmt.FACT.pack(3, *fmt.FACT.unpack_from(chunks[f[2]][1])[1:])
        chunks.insert(f[2] + 1, (b"FACT", extra + chunks[f[2]][1][fmt.FACT.size:]))
    assert_rejects(CorruptError, build(chunks))


@pytest.mark.parametrize("index", [3, 4, 255, 2**32 - 1])
def test_10_factor_group_index_out_of_range(index: int) -> None:
    data = file("rgb-int8")
    assert_rejects(CorruptError, edit_fact(data, 2, group_index=index))
    assert_rejects(CorruptError, edit_fact(data, 0, group_index=index))


@pytest.mark.parametrize(("name", "fields"), [
    ("rgb-int8", {"rows": 10}), ("rgb-int8", {"cols": 11}), ("rgb-int8", {"rows": 12, "cols": 9}),
    ("rgb-int8", {"rows": 0}), ("rgb-int8", {"cols": 2**32 - 1}),
    ("rgba-stacked", {"cols": 6}),  # stacked: W*C columns
    ("rgb-vertical-f16", {"rows": 9})])  # stacked-vertical: H*C rows
def test_10_factor_group_shape_disagrees_with_header(name: str, fields: dict[str, int]) -> None:
    assert_rejects(CorruptError, edit_fact(file(name), 0, **fields))


@pytest.mark.parametrize("length", [0, 1, fmt.FACT.size - 1])
def test_10_factor_chunk_too_short(length: int) -> None:
    chunks, f = _facts("rgb-int8")
    chunks[f[0]] = (b"FACT", chunks[f[0]][1][:length])
    assert_rejects(CorruptError, build(chunks))


# --- 11. rank 0 or > min(rows, cols); raw length not what rows, cols, k imply (section 5) ------
@pytest.mark.parametrize("rank", [0, 10, 12, 2**32 - 1])
def test_11_rank_zero_or_above_min_dimension(rank: int) -> None:
    data = file("rgb-int8")
    values, _ = fact(data, 0)
    raw = rank * fmt.record_size(values["rows"], values["cols"], fmt.FactorType.INT8)
    assert_rejects(CorruptError, edit_fact(data, 0, rank=rank, raw_size=raw))


@pytest.mark.parametrize("raw_size", [lambda n: n - 1, lambda n: n + 1, lambda n: 0,
                                      lambda n: 2 * n, lambda n: 2**64 - 1],
                         ids=["minus_1", "plus_1", "zero", "double", "max"])
def test_11_raw_size_not_implied(raw_size) -> None:
    data = file("rgb-int8")
    values, _ = fact(data, 1)
    assert_rejects(CorruptError, edit_fact(data, 1, raw_size=raw_size(values["raw_size"])))


def test_11_rank_and_raw_size_consistent_but_payload_of_other_rank() -> None:
    """FACT says rank 2, the frame holds 3 records: the frame's declared size disagrees."""
    data = file("rgb-int8")
    values, _ = fact(data, 0)
    raw = 2 * fmt.record_size(values["rows"], values["cols"], fmt.FactorType.INT8)
    assert_rejects(CorruptError, edit_fact(data, 0, rank=2, raw_size=raw), header=False)


# --- 15. unknown ancillary chunk (ignored) vs unknown critical chunk (refused) -----------------
@pytest.mark.parametrize("ctype", [b"abcd", b"zZZZ", b"aBCD", b"iCCP", b"hEAD", b"fACT", b"iend"])
@pytest.mark.parametrize("position", [1, 5, -1])
def test_15_unknown_ancillary_chunk_is_ignored(ctype: bytes, position: int) -> None:
    chunks = split(file("rgb-meta"))
    chunks.insert(position % len(chunks), (ctype, b"\x00\xff" * 40))
    data = build(chunks)
    np.testing.assert_array_equal(svdcodec.decode(data), svdcodec.decode(file("rgb-meta")))
    assert svdcodec.read_header(data).metadata == svdcodec.read_header(file("rgb-meta")).metadata


@pytest.mark.parametrize("ctype", [b"ABCD", b"Abcd", b"ZZZZ", b"FACt", b"HEAd", b"IENd", b"ICCP",
                                   b"EXIF", b"PHYS"])
@pytest.mark.parametrize("position", [1, 5, -1])
def test_15_unknown_critical_chunk_is_unsupported(ctype: bytes, position: int) -> None:
    chunks = split(file("rgb-meta"))
    chunks.insert(position % len(chunks), (ctype, b""))
    assert_rejects(UnsupportedError, build(chunks))


@pytest.mark.parametrize("ctype", [b"iccp", b"exif", b"xmpd", b"phys"])
def test_15_known_ancillary_chunk_repeated(ctype: bytes) -> None:
    chunks = split(file("rgb-meta"))
    k = index_of(chunks, ctype)
    chunks.insert(k + 1, chunks[k])
    assert_rejects(CorruptError, build(chunks))


@pytest.mark.parametrize("body", [b"", bytes(8), struct.pack("<II", 0, 1),
                                  struct.pack("<II", 1, 0), struct.pack("<III", 1, 1, 1),
                                  struct.pack("<I", 1)])
def test_15_bad_phys(body: bytes) -> None:
    chunks = split(file("rgb-meta"))
    chunks[index_of(chunks, b"phys")] = (b"phys", body)
    assert_rejects(CorruptError, build(chunks))


@pytest.mark.parametrize("body", [b"", b"garbage", b"Exif\x00\x00MM\x00*", b"\xff" * 100])
def test_15_exif_content_is_not_checked(body: bytes) -> None:
    """Rule 7: a decoder MUST NOT reject exif for its content."""
    chunks = split(file("rgb-meta"))
    chunks[index_of(chunks, b"exif")] = (b"exif", body)
    assert svdcodec.decode(build(chunks)).shape == picture("rgb").shape




# --- dicm (spec section 15.2): known, not repeated, its content never checked -----------------
def test_15_dicm_repeated() -> None:
    chunks = split(file("grey16s-int8"))
    k = index_of(chunks, b"dicm")
    chunks.insert(k + 1, chunks[k])
    assert_rejects(CorruptError, build(chunks))


@pytest.mark.parametrize("body", [b"", b"garbage", b"\x00" * 128 + b"DICM", b"\xff" * 300])
def test_15_dicm_content_is_not_checked(body: bytes) -> None:
    """Section 15.2: decoders MUST NOT reject a dicm chunk for its content."""
    chunks = split(file("grey16s-int8"))
    chunks[index_of(chunks, b"dicm")] = (b"dicm", body)
    data = build(chunks)
    assert svdcodec.read_header(data).metadata["dicom"] == body
    np.testing.assert_array_equal(svdcodec.decode(data), svdcodec.decode(file("grey16s-int8")))
