"""Hostile input: the decoder's error contract (spec sections 2–9).

Every byte string given to :func:`svdcodec.decode` or :func:`svdcodec.read_header` either returns
or raises :class:`svdcodec.SvdiError`. The tests below check the *specific* subclass the spec
prescribes for each of the 17 classes of bad input in the design notes ("Bad inputs a trusted
decoder is tested on": ``test_NN_*``, one group per class), then mutate valid files with
hypothesis, check every limit, decode from threads, bound the memory a decode allocates and
replay the fuzzers' crash files (``tests/regressions/``).

Files are built with :func:`svdcodec.encode` on small synthetic images and edited through
:func:`split` / :func:`build`, which recompute every CRC so that a corruption reaches the check
behind the CRC.
"""

from __future__ import annotations

import concurrent.futures
import struct
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

import svdcodec
from svdcodec import ChecksumError, CorruptError, LimitError, TruncatedError, UnsupportedError
from svdcodec import format as fmt
from svdcodec.quantize import record_dtype

REGRESSIONS = Path(__file__).parent / "regressions"
PREFIX = fmt.SIGNATURE + bytes([fmt.FORMAT_VERSION])
HEAD_FIELDS = ("width", "height", "mode", "bit_depth", "channels", "layout", "factor_type",
               "compression", "colour_transform", "group_count", "incompatible_flags",
               "compatible_flags")
FACT_FIELDS = ("group_index", "rows", "cols", "rank", "raw_size")
Chunk = tuple[bytes, bytes]


# --- images and files ----------------------------------------------------------------------------
def image(h: int, w: int, c: int | None, dtype: type = np.uint8, seed: int = 0) -> np.ndarray:
    """A smooth gradient plus noise: low rank, but not exactly (fixed seed)."""
    peak = np.iinfo(dtype).max
    i, j = np.mgrid[:h, :w]
    base = (0.2 + 0.5 * i / h + 0.3 * (j / w) ** 2) * peak
    planes = [base * (1 - 0.2 * k) for k in range(c or 1)]
    noise = np.random.default_rng(seed).normal(0, 0.03 * peak, (h, w, c or 1))
    x = np.clip(np.stack(planes, axis=-1) + noise, 0, peak).astype(dtype)
    return x[:, :, 0] if c is None else x


RGB = image(9, 12, 3)  # 12x9 RGB
GREY = image(5, 7, None)  # 7x5 L
GREY16 = image(6, 5, None, np.uint16)
RGBA = image(4, 6, 4)
META = {"icc_profile": b"not really an ICC profile", "exif": b"II*\x00" + bytes(10),
        "xmp": "<x:xmpmeta/>", "dpi": (72, 300)}

RGB_INT8 = svdcodec.encode(RGB, rank=3)  # HEAD, FACT x3, IEND
RGB_META = svdcodec.encode(RGB, rank=2, **META)  # HEAD, iccp, exif, xmpd, phys, FACT x3, IEND
GREY_F16 = svdcodec.encode(GREY, rank=2, factors="float16")
GREY16_F16 = svdcodec.encode(GREY16, rank=3, factors="float16")
RGBA_STACKED = svdcodec.encode(RGBA, rank=2, layout="stacked")
RGB_VERTICAL = svdcodec.encode(RGB, rank=3, layout="stacked-vertical", factors="float16")
FILES = {"rgb-int8": RGB_INT8, "rgb-meta": RGB_META, "grey-f16": GREY_F16,
         "grey16-f16": GREY16_F16, "rgba-stacked": RGBA_STACKED, "rgb-vertical-f16": RGB_VERTICAL}


# --- editing files with correct CRCs -------------------------------------------------------------
def split(data: bytes) -> list[Chunk]:
    """The (type, data) chunks of a valid file."""
    chunks, offset = [], fmt.PREFIX_SIZE
    while offset < len(data):
        length, ctype = fmt.CHUNK_PREFIX.unpack_from(data, offset)
        start = offset + fmt.CHUNK_PREFIX.size
        chunks.append((ctype, data[start:start + length]))
        offset = start + length + fmt.CHUNK_CRC.size
    return chunks


def build(chunks: list[Chunk], *, prefix: bytes = PREFIX, tail: bytes = b"") -> bytes:
    """A file from chunks, every CRC correct (types are not validated: pack_chunk trusts us)."""
    return prefix + b"".join(fmt.pack_chunk(t, d) for t, d in chunks) + tail


def index_of(chunks: list[Chunk], ctype: bytes, nth: int = 0) -> int:
    return [i for i, (t, _) in enumerate(chunks) if t == ctype][nth]


def edit_head(data: bytes, **fields: int) -> bytes:
    chunks = split(data)
    values = dict(zip(HEAD_FIELDS, fmt.HEAD.unpack(chunks[0][1]), strict=True))
    values.update(fields)
    chunks[0] = (fmt.ChunkType.HEAD, fmt.HEAD.pack(*(values[f] for f in HEAD_FIELDS)))
    return build(chunks)


def fact(data: bytes, group: int) -> tuple[dict[str, int], bytes]:
    """(fields, payload) of FACT ``group``."""
    body = split(data)[index_of(split(data), fmt.ChunkType.FACT, group)][1]
    return dict(zip(FACT_FIELDS, fmt.FACT.unpack_from(body), strict=True)), body[fmt.FACT.size:]


def edit_fact(data: bytes, group: int, payload: bytes | None = None, **fields: int) -> bytes:
    chunks = split(data)
    k = index_of(chunks, fmt.ChunkType.FACT, group)
    values, old = fact(data, group)
    values.update(fields)
    body = fmt.FACT.pack(*(values[f] for f in FACT_FIELDS)) + (old if payload is None else payload)
    chunks[k] = (fmt.ChunkType.FACT, body)
    return build(chunks)


def raw_records(data: bytes, group: int = 0) -> bytes:
    return zstandard.ZstdDecompressor().decompress(fact(data, group)[1])


def records(data: bytes, group: int = 0) -> np.ndarray:
    """A writable copy of FACT ``group``'s component records (spec section 5)."""
    values, _ = fact(data, group)
    info = svdcodec.read_header(data)
    dtype = record_dtype(values["rows"], values["cols"], info.factors)
    return np.frombuffer(raw_records(data, group), dtype=dtype).copy()


def with_records(data: bytes, rec: np.ndarray, group: int = 0) -> bytes:
    """Replace FACT ``group``'s records: a valid, checksummed zstd frame of the right size."""
    frame = zstandard.ZstdCompressor(write_checksum=True).compress(rec.tobytes())
    return edit_fact(data, group, frame)


def assert_rejects(exc: type[svdcodec.SvdiError], data: bytes, *, header: bool = True,
                   limits: svdcodec.Limits | None = None, rank: int | None = None) -> None:
    """decode (and read_header unless ``header`` is False) raise exactly ``exc``.

    With ``header=False`` the framing is valid and only the payload is bad, so read_header,
    which never decompresses, must succeed.
    """
    with pytest.raises(svdcodec.SvdiError) as info:
        svdcodec.decode(data, limits=limits, rank=rank)
    assert type(info.value) is exc, f"decode: {type(info.value).__name__}: {info.value}"
    if header:
        with pytest.raises(svdcodec.SvdiError) as info:
            svdcodec.read_header(data, limits=limits)
        assert type(info.value) is exc, f"read_header: {type(info.value).__name__}: {info.value}"
    else:
        svdcodec.read_header(data, limits=limits)


def test_helpers_round_trip() -> None:
    for data in FILES.values():
        assert build(split(data)) == data
        assert edit_head(data) == data
        np.testing.assert_array_equal(svdcodec.decode(with_records(data, records(data))),
                                      svdcodec.decode(data))
    assert [t for t, _ in split(RGB_META)] == [b"HEAD", b"iccp", b"exif", b"xmpd", b"phys",
                                               b"FACT", b"FACT", b"FACT", b"IEND"]


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
    assert_rejects(CorruptError, SIGNATURE_DAMAGE[damage](RGB_INT8))


def test_01_bad_signature_high_bit_cleared_in_whole_file() -> None:
    # a 7-bit channel clears every high bit, not just the first
    assert_rejects(CorruptError, bytes(b & 0x7F for b in RGB_INT8))


# --- 2. unknown major version (section 2) ------------------------------------------------------
@pytest.mark.parametrize("version", [0, 2, 255])
def test_02_unknown_format_version(version: int) -> None:
    data = RGB_INT8[:9] + bytes([version]) + RGB_INT8[10:]
    assert_rejects(UnsupportedError, data)


# --- 3. empty file; truncation at every byte offset (sections 2, 3 rule 3) ---------------------
def test_03_empty_file() -> None:
    assert_rejects(TruncatedError, b"")


@pytest.mark.parametrize("name", FILES)
def test_03_truncation_at_every_offset(name: str) -> None:
    """Every proper prefix of a valid file is TruncatedError, never Corrupt or Checksum."""
    data = FILES[name]
    for n in range(len(data)):
        for call in (svdcodec.decode, svdcodec.read_header):
            with pytest.raises(svdcodec.SvdiError) as info:
                call(data[:n])
            assert type(info.value) is TruncatedError, (n, call.__name__, info.value)


# --- 4. chunk length past EOF or > 2^31-1; non-letter chunk type (section 3 rules 3, 5) --------
@pytest.mark.parametrize("length", [2**31, 2**32 - 1])
def test_04_chunk_length_above_2_31_minus_1(length: int) -> None:
    data = RGB_INT8[:10] + struct.pack("<I", length) + RGB_INT8[14:]
    assert_rejects(CorruptError, data)


@pytest.mark.parametrize("length", [len(RGB_INT8), 10_000, 2**31 - 1])
def test_04_chunk_length_past_end_of_file(length: int) -> None:
    data = RGB_INT8[:10] + struct.pack("<I", length) + RGB_INT8[14:]
    assert_rejects(TruncatedError, data)


def test_04_last_chunk_length_past_end_of_file() -> None:
    data = RGB_INT8[:-12] + struct.pack("<I", 1) + RGB_INT8[-8:]
    assert_rejects(TruncatedError, data)


@pytest.mark.parametrize("ctype", [b"HEA\x00", b"HE D", b"1EAD", b"HEA\xc4", b"H-AD", b"\xc8EAD",
                                   b"HEA@", b"HEA[", b"HEA`", b"HEA{"])
def test_04_non_letter_chunk_type(ctype: bytes) -> None:
    """Bytes around the letter ranges (@ [ ` {) and high-bit letters are not letters."""
    chunks = split(RGB_INT8)
    assert_rejects(CorruptError, build([(ctype, chunks[0][1]), *chunks[1:]]))
    ancillary = ctype.lower()
    assert_rejects(CorruptError, build([chunks[0], (ancillary, b"x"), *chunks[1:]]))


# --- 5. bad CRC in header, factor, metadata chunks (section 3 rule 4) --------------------------
@pytest.mark.parametrize("ctype", [b"HEAD", b"iccp", b"exif", b"xmpd", b"phys", b"FACT", b"IEND",
                                   b"abcd"])
@pytest.mark.parametrize("where", ["crc", "data"])
def test_05_bad_crc(ctype: bytes, where: str) -> None:
    chunks = split(RGB_META)
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
    chunks = split(RGB_META)
    body = dict(chunks).get(first, b"x")
    assert_rejects(CorruptError, build([(first, body), *chunks]))
    if first in dict(chunks):  # moved rather than added
        chunks.insert(0, chunks.pop(index_of(chunks, first)))
        assert_rejects(CorruptError, build(chunks))


@pytest.mark.parametrize("position", [1, 2, 4])
def test_06_duplicated_header(position: int) -> None:
    chunks = split(RGB_INT8)
    chunks.insert(position, chunks[0])
    assert_rejects(CorruptError, build(chunks))


@pytest.mark.parametrize("length", [0, 1, 23, 25, 48])
def test_06_wrong_header_length(length: int) -> None:
    chunks = split(RGB_INT8)
    head = chunks[0][1]
    chunks[0] = (b"HEAD", (head * 2)[:length])
    assert_rejects(CorruptError, build(chunks))


def test_06_missing_end_chunk() -> None:
    """A file ending at a chunk boundary before IEND is truncated (rule 3)."""
    assert_rejects(TruncatedError, build(split(RGB_INT8)[:-1]))
    assert_rejects(TruncatedError, build(split(RGB_INT8)[:1]))


@pytest.mark.parametrize("tail", [b"\x00", b"\n", fmt.pack_chunk(b"IEND", b""),
                                  fmt.pack_chunk(b"abcd", b"after the end"), RGB_INT8])
def test_06_data_after_end_chunk(tail: bytes) -> None:
    assert_rejects(CorruptError, RGB_INT8 + tail)


def test_06_end_chunk_not_empty_or_early() -> None:
    chunks = split(RGB_INT8)
    assert_rejects(CorruptError, build([*chunks[:-1], (b"IEND", b"\x00")]))
    assert_rejects(CorruptError, build([chunks[0], chunks[-1], *chunks[1:-1]]))
    assert_rejects(CorruptError, build([*chunks[:-2], chunks[-1], chunks[-2]]))


# --- 7. zero or huge width / height / pixel count (sections 4, 8) ------------------------------
@pytest.mark.parametrize("fields", [{"width": 0}, {"height": 0}, {"width": 0, "height": 0}])
def test_07_zero_width_or_height(fields: dict[str, int]) -> None:
    assert_rejects(CorruptError, edit_head(RGB_INT8, **fields))


@pytest.mark.parametrize("fields", [{"width": 1_000_001}, {"height": 1_000_001},
                                    {"width": 2**32 - 1, "height": 2**32 - 1},
                                    {"width": 1_000_000, "height": 179},  # 179e6 > 178,956,970
                                    {"width": 65535, "height": 65535}])
def test_07_huge_width_height_or_pixels(fields: dict[str, int]) -> None:
    assert_rejects(LimitError, edit_head(RGB_INT8, **fields))


def test_07_limits_are_inclusive() -> None:
    """At the limit the header passes; the FACT shape (for a 12x9 image) then disagrees."""
    for fields in ({"width": 1_000_000}, {"height": 1_000_000},
                   {"width": 178_956_970 // 200, "height": 200}):
        assert_rejects(CorruptError, edit_head(RGB_INT8, **fields))


# --- 8. invalid enumerated values (section 4) ----------------------------------------------------
@pytest.mark.parametrize("field", ["mode", "layout", "factor_type", "compression"])
def test_08_enum_zero_is_corrupt(field: str) -> None:
    assert_rejects(CorruptError, edit_head(RGB_INT8, **{field: 0}))


# compression 2 (arith, section 13) is defined for layout patch only: CorruptError elsewhere
# (tests/test_arith.py::test_arith_needs_layout_patch_and_no_escapes)
@pytest.mark.parametrize(("field", "value"), [
    ("mode", 6), ("mode", 9), ("mode", 255), ("layout", 5), ("layout", 9),
    ("factor_type", 4), ("factor_type", 9), ("compression", 3), ("compression", 9),
    ("colour_transform", 2), ("colour_transform", 9), ("colour_transform", 255)])
def test_08_enum_unknown_code_is_unsupported(field: str, value: int) -> None:
    assert_rejects(UnsupportedError, edit_head(RGB_INT8, **{field: value}))


@pytest.mark.parametrize(("name", "fields"), [
    ("rgb-int8", {"bit_depth": 16}), ("rgb-int8", {"bit_depth": 0}),
    ("rgb-int8", {"channels": 1}), ("rgb-int8", {"channels": 4}),
    ("rgb-int8", {"group_count": 1}), ("rgb-int8", {"group_count": 0}),
    ("rgba-stacked", {"group_count": 4}), ("grey16-f16", {"bit_depth": 8}),
    ("rgb-int8", {"mode": 4}),  # RGBA with RGB's bit_depth 8 but channels 3
    ("grey-f16", {"mode": 5})])  # I;16 with L's bit_depth 8
def test_08_bit_depth_channels_group_count_mismatch(name: str, fields: dict[str, int]) -> None:
    assert_rejects(CorruptError, edit_head(FILES[name], **fields))


# --- 9. unknown incompatible flag (refuse) vs unknown compatible flag (decode) -----------------
@pytest.mark.parametrize("flags", [1, 0x100, 2**31, 2**32 - 1])
def test_09_unknown_incompatible_flag_is_unsupported(flags: int) -> None:
    assert_rejects(UnsupportedError, edit_head(RGB_INT8, incompatible_flags=flags))


@pytest.mark.parametrize("flags", [1, 0x100, 2**31, 2**32 - 1])
def test_09_unknown_compatible_flag_decodes(flags: int) -> None:
    data = edit_head(RGB_META, compatible_flags=flags)
    np.testing.assert_array_equal(svdcodec.decode(data), svdcodec.decode(RGB_META))
    assert svdcodec.read_header(data).shape == (9, 12, 3)


# --- 10. factor group missing, duplicated, out of range; shape disagreeing with the header -----
def _facts(name: str) -> tuple[list[Chunk], list[int]]:
    chunks = split(FILES[name])
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
    assert_rejects(CorruptError, edit_fact(RGB_INT8, 2, group_index=index))
    assert_rejects(CorruptError, edit_fact(RGB_INT8, 0, group_index=index))


@pytest.mark.parametrize(("name", "fields"), [
    ("rgb-int8", {"rows": 10}), ("rgb-int8", {"cols": 11}), ("rgb-int8", {"rows": 12, "cols": 9}),
    ("rgb-int8", {"rows": 0}), ("rgb-int8", {"cols": 2**32 - 1}),
    ("rgba-stacked", {"cols": 6}),  # stacked: W*C columns
    ("rgb-vertical-f16", {"rows": 9})])  # stacked-vertical: H*C rows
def test_10_factor_group_shape_disagrees_with_header(name: str, fields: dict[str, int]) -> None:
    assert_rejects(CorruptError, edit_fact(FILES[name], 0, **fields))


@pytest.mark.parametrize("length", [0, 1, fmt.FACT.size - 1])
def test_10_factor_chunk_too_short(length: int) -> None:
    chunks, f = _facts("rgb-int8")
    chunks[f[0]] = (b"FACT", chunks[f[0]][1][:length])
    assert_rejects(CorruptError, build(chunks))


# --- 11. rank 0 or > min(rows, cols); raw length not what rows, cols, k imply (section 5) ------
@pytest.mark.parametrize("rank", [0, 10, 12, 2**32 - 1])
def test_11_rank_zero_or_above_min_dimension(rank: int) -> None:
    values, _ = fact(RGB_INT8, 0)
    raw = rank * fmt.record_size(values["rows"], values["cols"], fmt.FactorType.INT8)
    assert_rejects(CorruptError, edit_fact(RGB_INT8, 0, rank=rank, raw_size=raw))


@pytest.mark.parametrize("raw_size", [lambda n: n - 1, lambda n: n + 1, lambda n: 0,
                                      lambda n: 2 * n, lambda n: 2**64 - 1],
                         ids=["minus_1", "plus_1", "zero", "double", "max"])
def test_11_raw_size_not_implied(raw_size) -> None:
    values, _ = fact(RGB_INT8, 1)
    assert_rejects(CorruptError, edit_fact(RGB_INT8, 1, raw_size=raw_size(values["raw_size"])))


def test_11_rank_and_raw_size_consistent_but_payload_of_other_rank() -> None:
    """FACT says rank 2, the frame holds 3 records: the frame's declared size disagrees."""
    values, _ = fact(RGB_INT8, 0)
    raw = 2 * fmt.record_size(values["rows"], values["cols"], fmt.FactorType.INT8)
    assert_rejects(CorruptError, edit_fact(RGB_INT8, 0, rank=2, raw_size=raw), header=False)


# --- 12. zstd frame lying about its size, without one, followed by junk or a second frame -----
def rewindowed(frame: bytes, exponent: int) -> bytes:
    """``frame`` with a Window_Descriptor (window 2^(10+exponent)) and a 4-byte content size."""
    header = zstandard.frame_header_size(frame)
    fhd = frame[4]
    size = zstandard.frame_content_size(frame)
    checksum = fhd & 0x04
    return (frame[:4] + bytes([0x80 | checksum, exponent << 3]) + struct.pack("<I", size)
            + frame[header:])


def _zstd_cases(raw: bytes) -> dict[str, tuple[type[svdcodec.SvdiError], bytes]]:
    good = zstandard.ZstdCompressor(write_checksum=True).compress(raw)
    skippable = b"\x50\x2a\x4d\x18" + struct.pack("<I", 4) + b"skip"
    return {
        "declares_more": (CorruptError, zstandard.ZstdCompressor().compress(raw + b"\x00")),
        "declares_less": (CorruptError, zstandard.ZstdCompressor().compress(raw[:-1])),
        "no_content_size": (CorruptError, zstandard.ZstdCompressor(
            write_content_size=False).compress(raw)),
        "trailing_junk": (CorruptError, good + b"\x00"),
        "trailing_text": (CorruptError, good + b"junk"),
        "second_frame": (CorruptError, good + good),
        "second_empty_frame": (CorruptError, good + zstandard.ZstdCompressor().compress(b"")),
        "skippable_frame_first": (CorruptError, skippable + good),
        "empty": (CorruptError, b""),
        "magic_only": (CorruptError, good[:4]),
        "header_only": (CorruptError, good[:zstandard.frame_header_size(good)]),
        "not_zstd": (CorruptError, raw),
        "window_16_mib": (UnsupportedError, rewindowed(good, 14)),
    }


RAW = raw_records(RGB_INT8, 0)
ZSTD_CASES = _zstd_cases(RAW)


@pytest.mark.parametrize("case", ZSTD_CASES)
def test_12_bad_zstd_frame(case: str) -> None:
    exc, frame = ZSTD_CASES[case]
    assert_rejects(exc, edit_fact(RGB_INT8, 0, frame), header=False)


def test_12_frame_declaring_the_right_size_but_holding_less() -> None:
    """The content-size field is patched to raw_size over a frame of raw_size - 1 bytes."""
    frame = bytearray(zstandard.ZstdCompressor(write_checksum=True).compress(RAW[:-1]))
    frame = bytearray(rewindowed(bytes(frame), 0))  # 4-byte content size at offset 6
    frame[6:10] = struct.pack("<I", len(RAW))
    assert zstandard.frame_content_size(bytes(frame)) == len(RAW)
    assert_rejects(CorruptError, edit_fact(RGB_INT8, 0, bytes(frame)), header=False)


def test_12_controls_decode() -> None:
    """The hand-built frames are valid when nothing is wrong with them."""
    good = zstandard.ZstdCompressor(write_checksum=True).compress(RAW)
    expected = svdcodec.decode(RGB_INT8)
    for frame in (rewindowed(good, 10), rewindowed(good, 13),  # 1 MiB, 8 MiB windows
                  zstandard.ZstdCompressor(level=19).compress(RAW)):  # no checksum: allowed
        np.testing.assert_array_equal(svdcodec.decode(edit_fact(RGB_INT8, 0, frame)), expected)


# --- 13. corrupted zstd body with the chunk CRC recomputed ---------------------------------------
def test_13_zstd_checksum_field_flipped() -> None:
    frame = bytearray(fact(RGB_INT8, 0)[1])
    frame[-1] ^= 0x01
    assert_rejects(ChecksumError, edit_fact(RGB_INT8, 0, bytes(frame)), header=False)


def _raw_block_file() -> tuple[bytes, int]:
    """An int8 file whose records are noise, so zstd stores them as a raw block."""
    rec = records(RGB_INT8, 0)
    rng = np.random.default_rng(1)
    rec["u"] = rng.integers(-127, 128, rec["u"].shape)
    rec["v"] = rng.integers(-127, 128, rec["v"].shape)
    data = with_records(RGB_INT8, rec)
    frame = fact(data, 0)[1]
    assert len(frame) > len(rec.tobytes()), "expected an uncompressed (raw) block"
    return data, zstandard.frame_header_size(frame) + 3  # frame header + block header


def test_13_corrupt_raw_block_is_checksum_error() -> None:
    data, body = _raw_block_file()
    frame = bytearray(fact(data, 0)[1])
    for k in range(body, len(frame) - 4, 7):  # data bytes of the raw block
        damaged = bytearray(frame)
        damaged[k] ^= 0x04
        assert_rejects(ChecksumError, edit_fact(data, 0, bytes(damaged)), header=False)


@pytest.mark.parametrize("name", ["rgb-int8", "grey-f16"])
def test_13_every_byte_of_a_compressed_frame(name: str) -> None:
    """A flipped byte anywhere in the frame, CRC fixed: checksum/corrupt, or identical output."""
    data = FILES[name]
    expected = svdcodec.decode(data)
    frame = fact(data, 0)[1]
    outcomes = set()
    for k in range(len(frame)):
        damaged = bytearray(frame)
        damaged[k] ^= 0xFF if k % 2 else 0x01
        try:
            out = svdcodec.decode(edit_fact(data, 0, bytes(damaged)))
        except (ChecksumError, CorruptError, UnsupportedError) as exc:
            outcomes.add(type(exc))
        else:
            np.testing.assert_array_equal(out, expected)
    assert ChecksumError in outcomes and CorruptError in outcomes


# --- 14. NaN/Inf factors, negative or unsorted sigma, zero or non-finite scales (section 5) ----
SNAN32 = np.array([0x7FA00000], dtype="<u4").view("<f4")[0]  # signalling NaN
SNAN16 = np.array([0x7D00], dtype="<u2").view("<f2")[0]


def _set(rec: np.ndarray, field: str, value: float, where: tuple[int, ...]) -> np.ndarray:
    rec = rec.copy()
    rec[field][where] = value
    return rec


BAD_SIGMA = {"nan": np.nan, "inf": np.inf, "minus_inf": -np.inf, "negative": -1.0,
             "signalling_nan": SNAN32}


@pytest.mark.parametrize("name", ["rgb-int8", "grey-f16"])
@pytest.mark.parametrize("value", BAD_SIGMA, ids=list(BAD_SIGMA))
@pytest.mark.parametrize("record", [0, -1])
def test_14_bad_sigma(name: str, value: str, record: int) -> None:
    rec = _set(records(FILES[name]), "s", BAD_SIGMA[value], (record,))
    assert_rejects(CorruptError, with_records(FILES[name], rec), header=False)


def test_14_unsorted_sigma() -> None:
    rec = records(RGB_INT8)
    rec["s"][1] = rec["s"][0] * 1.5
    assert_rejects(CorruptError, with_records(RGB_INT8, rec), header=False)
    rec = records(RGB_INT8)
    rec["s"] = rec["s"][::-1].copy()
    assert_rejects(CorruptError, with_records(RGB_INT8, rec), header=False)


BAD_SCALE = {"zero": 0.0, "negative": -0.5, "minus_zero": -0.0, "nan": np.nan, "inf": np.inf,
             "signalling_nan": SNAN32}


@pytest.mark.parametrize("field", ["a", "b"])
@pytest.mark.parametrize("value", BAD_SCALE, ids=list(BAD_SCALE))
def test_14_bad_int8_scale(field: str, value: str) -> None:
    rec = _set(records(RGB_INT8), field, BAD_SCALE[value], (1,))
    assert_rejects(CorruptError, with_records(RGB_INT8, rec), header=False)


@pytest.mark.parametrize("field", ["u", "v"])
def test_14_int8_minus_128(field: str) -> None:
    rec = _set(records(RGB_INT8), field, -128, (0, 2))
    assert_rejects(CorruptError, with_records(RGB_INT8, rec), header=False)


BAD_F16 = {"nan": np.nan, "inf": np.inf, "minus_inf": -np.inf, "signalling_nan": SNAN16}


@pytest.mark.parametrize("name", ["grey-f16", "grey16-f16", "rgb-vertical-f16"])
@pytest.mark.parametrize("field", ["u", "v"])
@pytest.mark.parametrize("value", BAD_F16, ids=list(BAD_F16))
def test_14_non_finite_float16_factor(name: str, field: str, value: str) -> None:
    rec = _set(records(FILES[name]), field, BAD_F16[value], (1, 3))
    assert_rejects(CorruptError, with_records(FILES[name], rec), header=False)


def test_14_boundary_values_decode() -> None:
    """Values the spec allows: equal or zero sigma, -0.0 sigma, +-127, subnormal scales,
    the largest finite float16."""
    rec = records(RGB_INT8)
    rec["s"] = [rec["s"][0], rec["s"][0], 0.0]
    rec["s"][2] = -0.0
    rec["u"][0, 0], rec["v"][1, 1] = -127, 127
    rec["a"][2] = np.float32(1e-45)
    svdcodec.decode(with_records(RGB_INT8, rec))
    rec = records(GREY_F16)
    rec["u"][0, 0], rec["v"][0, 0] = 65504.0, -65504.0
    rec["s"][:] = np.float32(3.4e38)
    out = svdcodec.decode(with_records(GREY_F16, rec))
    assert out.dtype == np.uint8 and out.shape == GREY.shape


def test_14_progressive_decode_reads_only_the_prefix() -> None:
    """A bad value in record 2 is not seen by a rank-1 decode (section 5: prefix decoding)."""
    data = with_records(RGB_INT8, _set(records(RGB_INT8), "s", np.nan, (2,)))
    assert_rejects(CorruptError, data, header=False)
    assert svdcodec.decode(data, rank=1).shape == RGB.shape


# --- 15. unknown ancillary chunk (ignored) vs unknown critical chunk (refused) -----------------
@pytest.mark.parametrize("ctype", [b"abcd", b"zZZZ", b"aBCD", b"iCCP", b"hEAD", b"fACT", b"iend"])
@pytest.mark.parametrize("position", [1, 5, -1])
def test_15_unknown_ancillary_chunk_is_ignored(ctype: bytes, position: int) -> None:
    chunks = split(RGB_META)
    chunks.insert(position % len(chunks), (ctype, b"\x00\xff" * 40))
    data = build(chunks)
    np.testing.assert_array_equal(svdcodec.decode(data), svdcodec.decode(RGB_META))
    assert svdcodec.read_header(data).metadata == svdcodec.read_header(RGB_META).metadata


@pytest.mark.parametrize("ctype", [b"ABCD", b"Abcd", b"ZZZZ", b"FACt", b"HEAd", b"IENd", b"ICCP",
                                   b"EXIF", b"PHYS"])
@pytest.mark.parametrize("position", [1, 5, -1])
def test_15_unknown_critical_chunk_is_unsupported(ctype: bytes, position: int) -> None:
    chunks = split(RGB_META)
    chunks.insert(position % len(chunks), (ctype, b""))
    assert_rejects(UnsupportedError, build(chunks))


@pytest.mark.parametrize("ctype", [b"iccp", b"exif", b"xmpd", b"phys"])
def test_15_known_ancillary_chunk_repeated(ctype: bytes) -> None:
    chunks = split(RGB_META)
    k = index_of(chunks, ctype)
    chunks.insert(k + 1, chunks[k])
    assert_rejects(CorruptError, build(chunks))


@pytest.mark.parametrize("body", [b"", bytes(8), struct.pack("<II", 0, 1),
                                  struct.pack("<II", 1, 0), struct.pack("<III", 1, 1, 1),
                                  struct.pack("<I", 1)])
def test_15_bad_phys(body: bytes) -> None:
    chunks = split(RGB_META)
    chunks[index_of(chunks, b"phys")] = (b"phys", body)
    assert_rejects(CorruptError, build(chunks))


@pytest.mark.parametrize("body", [b"", b"garbage", b"Exif\x00\x00MM\x00*", b"\xff" * 100])
def test_15_exif_content_is_not_checked(body: bytes) -> None:
    """Rule 7: a decoder MUST NOT reject exif for its content."""
    chunks = split(RGB_META)
    chunks[index_of(chunks, b"exif")] = (b"exif", body)
    assert svdcodec.decode(build(chunks)).shape == RGB.shape


# --- 16. metadata too large or too many chunks (section 8) ---------------------------------------
def metadata_bytes(data: bytes) -> int:
    return sum(len(body) for t, body in split(data) if not fmt.is_critical(t))


def test_16_metadata_too_large() -> None:
    need = metadata_bytes(RGB_META)
    assert_rejects(LimitError, RGB_META, limits=svdcodec.Limits(max_metadata_bytes=need - 1))
    svdcodec.decode(RGB_META, limits=svdcodec.Limits(max_metadata_bytes=need))
    # unknown ancillary chunks count as well
    chunks = split(RGB_INT8)
    chunks.insert(1, (b"junk", bytes(100)))
    assert_rejects(LimitError, build(chunks), limits=svdcodec.Limits(max_metadata_bytes=99))


def test_16_metadata_too_large_default_limit() -> None:
    chunks = split(RGB_INT8)
    chunks[1:1] = [(b"iccp", bytes(4 * 2**20)), (b"xmpd", bytes(4 * 2**20)), (b"abcd", b"1")]
    assert_rejects(LimitError, build(chunks))
    del chunks[3]
    svdcodec.decode(build(chunks))  # exactly 8 MiB


def test_16_too_many_chunks() -> None:
    chunks = split(RGB_INT8)
    n = len(chunks)
    assert_rejects(LimitError, RGB_INT8, limits=svdcodec.Limits(max_chunks=n - 1))
    svdcodec.decode(RGB_INT8, limits=svdcodec.Limits(max_chunks=n))
    chunks[1:1] = [(b"abcd", b"")] * (1000 - n)
    svdcodec.decode(build(chunks))  # 1000 chunks: the default limit
    chunks.insert(1, (b"abcd", b""))
    assert_rejects(LimitError, build(chunks))


def test_16_too_many_chunks_is_checked_before_reading_them() -> None:
    """100,000 empty ancillary chunks are refused after 1000, quickly."""
    data = build([split(RGB_INT8)[0], *[(b"abcd", b"")] * 100_000])
    start = time.perf_counter()
    assert_rejects(LimitError, data)
    assert time.perf_counter() - start < 1.0


# --- 17. the compute bomb: huge declared size and rank, tiny payloads (section 8) --------------
def rle_frame(size: int, byte: int = 0) -> bytes:
    """A zstd frame of RLE blocks that decompresses to ``size`` copies of ``byte``.

    4 bytes per 128 KiB: 1 GiB costs 32 KiB. Frame header: single segment, 8-byte content size,
    no checksum (RFC 8878 section 3.1.1).
    """
    block = 128 * 1024
    parts = [b"\x28\xb5\x2f\xfd", b"\xe0", struct.pack("<Q", size)]
    while True:
        n = min(block, size)
        size -= n
        parts.append(struct.pack("<I", (n << 3) | (1 << 1) | (size == 0))[:3] + bytes([byte]))
        if not size:
            return b"".join(parts)


def bomb(width: int, height: int, rank: int, factors: str = "float16") -> bytes:
    """A valid L file (zero sigma and factors) whose payload is RLE: tiny, decodes to zeros."""
    ftype = fmt.FACTOR_BY_NAME[factors]
    header = fmt.Header(width, height, fmt.Mode.L, fmt.Layout.PER_CHANNEL, ftype)
    raw_size = rank * fmt.record_size(height, width, ftype)
    group = fmt.Group(0, height, width, rank, raw_size, rle_frame(raw_size))
    return fmt.pack(header, [group])


def test_17_rle_frame_and_bomb_shape_are_valid() -> None:
    assert zstandard.ZstdDecompressor().decompress(rle_frame(300_000, 7)) == b"\x07" * 300_000
    for factors in ("float16", "int8"):
        if factors == "int8":  # int8 scales must be > 0: zeros are only valid for float16
            assert_rejects(CorruptError, bomb(64, 48, 48, factors), header=False)
        else:
            out = svdcodec.decode(bomb(64, 48, 48, factors))
            assert out.shape == (48, 64) and not out.any()


def test_17_compute_bomb_is_refused_fast() -> None:
    """65535 x 65535 at rank 4096 in about 33 KB: refused before any allocation."""
    data = bomb(65535, 65535, 4096)
    assert 30_000 < len(data) < 40_000
    cases = [
        (None, "pixels"),
        (svdcodec.Limits(max_pixels=2**40), "work"),
        (svdcodec.Limits(max_pixels=2**40, max_work=2**60), "bytes"),  # the allocation limit
    ]
    for limits, what in cases:
        start = time.perf_counter()
        with pytest.raises(LimitError, match=what):
            svdcodec.decode(data, limits=limits)
        with pytest.raises(LimitError):  # at rank 1 the output alone is over the limits
            svdcodec.decode(data, limits=limits, rank=1)
        assert time.perf_counter() - start < 0.5


def test_17_work_bomb_within_the_pixel_limit() -> None:
    """12000 x 12000 (under the pixel limit) at rank 4096: the work limit refuses it."""
    data = bomb(12000, 12000, 4096)
    assert svdcodec.read_header(data).ranks == (4096,)  # the header alone is fine
    with pytest.raises(LimitError, match="work"):
        svdcodec.decode(data)
    with pytest.raises(LimitError, match="bytes"):
        svdcodec.decode(data, limits=svdcodec.Limits(max_work=2**62))


def test_17_limits_are_checked_before_decompression(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("decompressed before the limits were checked")

    monkeypatch.setattr(svdcodec.codec._zstd, "decompress", boom)
    with pytest.raises(LimitError):
        svdcodec.decode(bomb(12000, 12000, 4096))


# --- limits: every field, per call and process-wide (section 8) --------------------------------
def needs(data: bytes, rank: int | None = None) -> dict[str, int]:
    """What decoding ``data`` needs of each limit, from the spec's formulas (section 8)."""
    info = svdcodec.read_header(data)
    ftype = fmt.FACTOR_BY_NAME[info.factors]
    alloc = info.width * info.height * info.channels * info.bit_depth // 8
    work = strip = 0
    for g in info.groups:
        r = g.rank if rank is None else min(rank, g.rank)
        alloc += r * (fmt.record_size(g.rows, g.cols, ftype) + 8 * (g.rows + g.cols))
        work += g.rows * g.cols * r
        strip = max(strip, 8 * g.cols * min(g.rows, 256))
    return {"max_width": info.width, "max_height": info.height,
            "max_pixels": info.width * info.height, "max_alloc_bytes": alloc + strip,
            "max_work": work, "max_metadata_bytes": metadata_bytes(data),
            "max_chunks": len(info.chunks)}


HEADER_LIMITS = ("max_width", "max_height", "max_pixels", "max_metadata_bytes", "max_chunks")
DECODE_LIMITS = ("max_alloc_bytes", "max_work")


@pytest.fixture
def restore_default_limits():
    previous = svdcodec.get_default_limits()
    yield
    svdcodec.set_default_limits(previous)


@pytest.mark.parametrize("field", HEADER_LIMITS + DECODE_LIMITS)
def test_limit_per_call(field: str) -> None:
    need = needs(RGB_META)[field]
    expected = svdcodec.decode(RGB_META)
    np.testing.assert_array_equal(
        svdcodec.decode(RGB_META, limits=svdcodec.Limits(**{field: need})), expected)
    tight = svdcodec.Limits(**{field: need - 1})
    assert_rejects(LimitError, RGB_META, limits=tight, header=field in HEADER_LIMITS)


@pytest.mark.parametrize("field", HEADER_LIMITS + DECODE_LIMITS)
@pytest.mark.usefixtures("restore_default_limits")
def test_limit_process_wide(field: str) -> None:
    need = needs(RGB_META)[field]
    svdcodec.set_default_limits(**{field: need})
    svdcodec.decode(RGB_META)
    svdcodec.set_default_limits(**{field: need - 1})
    assert_rejects(LimitError, RGB_META, header=field in HEADER_LIMITS)
    # a per-call Limits replaces the process-wide one entirely
    svdcodec.decode(RGB_META, limits=svdcodec.Limits())
    svdcodec.set_default_limits(svdcodec.Limits())
    svdcodec.decode(RGB_META)


@pytest.mark.parametrize("field", DECODE_LIMITS)
def test_limit_counts_the_requested_rank(field: str) -> None:
    at_rank_1 = needs(RGB_INT8, rank=1)[field]
    assert at_rank_1 < needs(RGB_INT8)[field]
    limits = svdcodec.Limits(**{field: at_rank_1})
    assert svdcodec.decode(RGB_INT8, rank=1, limits=limits).shape == RGB.shape
    assert_rejects(LimitError, RGB_INT8, rank=2, limits=limits, header=False)


@pytest.mark.usefixtures("restore_default_limits")
def test_set_default_limits_returns_previous() -> None:
    original = svdcodec.get_default_limits()
    previous = svdcodec.set_default_limits(max_chunks=3)
    assert previous == original
    assert svdcodec.get_default_limits() == svdcodec.Limits(max_chunks=3)
    with pytest.raises(ValueError, match="max_work"):
        svdcodec.Limits(max_work=0)


# --- memory: a decode allocates what the allocation limit counts (section 8) -------------------
@pytest.mark.parametrize(("shape", "layout", "factors"), [
    ((1200, 40, 3), "stacked-vertical", "int8"),  # tall: m x k float64 factors dominate
    ((1200, 40, 3), "stacked-vertical", "float16"),
    ((60, 700, 3), "stacked", "int8"),  # wide: the strip dominates
    ((200, 150, 4), "per-channel", "float16")])
def test_decode_peak_memory_within_the_counted_allocation(shape, layout, factors) -> None:
    data = svdcodec.encode(image(*shape), rank=40, layout=layout, factors=factors)
    counted = needs(data)["max_alloc_bytes"]
    svdcodec.decode(data)  # warm up imports and caches
    tracemalloc.start()
    try:
        svdcodec.decode(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # the container keeps a copy of the compressed payloads (at most the file), and the
    # finiteness check of float16 factors and the next strip add at most a quarter
    assert peak <= 1.25 * counted + len(data), (peak, counted, len(data))


# --- concurrency ----------------------------------------------------------------------------------
def test_concurrent_decode_matches_serial() -> None:
    files = [svdcodec.encode(image(96, 80, 3, seed=s), rank=12, layout=layout, factors=factors)
             for s, (layout, factors) in enumerate([("per-channel", "int8"),
                                                    ("stacked", "float16"),
                                                    ("stacked-vertical", "int8")])]
    files += [GREY16_F16, RGB_META]
    # the patch layout's C decoder releases the GIL too
    files += [svdcodec.encode(image(96, 80, 3, seed=7), quality=60),
              svdcodec.encode(image(64, 48, 3, seed=8), quality=85, patch_size=4)]
    bad = [RGB_INT8[:-1], edit_head(RGB_INT8, mode=9), bomb(12000, 12000, 4096)]
    serial = [svdcodec.decode(d) for d in files]
    jobs = [(i % len(files), rank) for i in range(60) for rank in (None, 5)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda job: svdcodec.decode(files[job[0]], rank=job[1]), jobs))
        errors = list(pool.map(_error_type, bad * 10))
    for (i, rank), out in zip(jobs, results, strict=True):
        expected = serial[i] if rank is None else svdcodec.decode(files[i], rank=rank)
        np.testing.assert_array_equal(out, expected)
    assert errors == [TruncatedError, UnsupportedError, LimitError] * 10


def _error_type(data: bytes) -> type[BaseException] | None:
    try:
        svdcodec.decode(data)
    except svdcodec.SvdiError as exc:
        return type(exc)
    return None


# --- property: mutated files keep the contract ----------------------------------------------------
BASES = list(FILES.values())


def check_contract(data: bytes) -> None:
    """decode / read_header return or raise SvdiError; a decoded array matches the header."""
    try:
        info = svdcodec.read_header(data)
    except svdcodec.SvdiError:
        info = None
    for rank in (None, 1):
        try:
            out = svdcodec.decode(data, rank=rank)
        except svdcodec.SvdiError:
            continue
        assert info is not None, "decode succeeded where read_header failed"
        assert out.shape == info.shape
        assert out.dtype == (np.uint16 if info.bit_depth == 16 else np.uint8)


@st.composite
def byte_mutations(draw: st.DrawFn) -> bytes:
    """Bit flips, byte edits, insertions, deletions, truncation: CRCs mostly broken."""
    data = bytearray(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate"]))
        k = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[k] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and data:
            data[k] = draw(st.integers(0, 255))
        elif op == "insert":
            data[k:k] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[k:k + draw(st.integers(1, 16))]
        else:
            del data[k:]
    return bytes(data)


INTERESTING = (0, 1, 2, 3, 4, 5, 9, 127, 128, 255, 256, 65535, 2**31 - 1, 2**31, 2**32 - 1)


def _field_edit(draw: st.DrawFn, ctype: bytes, body: bytes) -> bytes:
    if ctype == b"HEAD" and len(body) == fmt.HEAD.size:
        values = list(fmt.HEAD.unpack(body))
        k = draw(st.integers(0, len(values) - 1))
        limit = 255 if 2 <= k <= 9 else 2**32 - 1
        values[k] = draw(st.sampled_from([v for v in INTERESTING if v <= limit])
                         | st.integers(0, limit))
        return fmt.HEAD.pack(*values)
    if ctype == b"FACT" and len(body) >= fmt.FACT.size:
        values = list(fmt.FACT.unpack_from(body))
        k = draw(st.integers(0, len(values) - 1))
        delta = draw(st.sampled_from([-1, 1, None]))
        top = 2**64 - 1 if k == len(values) - 1 else 2**32 - 1  # raw_size is a u64
        if delta is not None:  # an earlier edit may have left the field at 0 or its maximum
            values[k] = min(max(0, values[k] + delta), top)
        else:
            values[k] = draw(st.sampled_from([v for v in INTERESTING if v <= top]))
        return fmt.FACT.pack(*values) + body[fmt.FACT.size:]
    return body


def _payload_edit(draw: st.DrawFn, body: bytes) -> bytes:
    """Edit the decompressed records of a FACT and recompress them (checksum and size valid)."""
    head, frame = body[:fmt.FACT.size], body[fmt.FACT.size:]
    try:
        size = zstandard.frame_content_size(frame)
        if not 0 < size <= 1 << 16:
            return body
        raw = bytearray(zstandard.ZstdDecompressor().decompress(frame))
    except zstandard.ZstdError:
        return body
    k = draw(st.integers(0, len(raw) - 1))
    value = draw(st.sampled_from([
        struct.pack("<f", float("nan")), struct.pack("<f", float("inf")),
        struct.pack("<f", -1.0), struct.pack("<f", 0.0), struct.pack("<f", 3e38),
        b"\x00\x7e", b"\x00\x7c", b"\x00\x7d", b"\x80", b"\x7f", b"\x81", b"\x00"]))
    raw[k:k + len(value)] = value
    options = draw(st.sampled_from([{}, {"write_checksum": True}, {"write_content_size": False}]))
    return head + zstandard.ZstdCompressor(**options).compress(bytes(raw))


@st.composite
def structured_mutations(draw: st.DrawFn) -> bytes:
    """Chunk shuffles, duplication, deletion, field and payload edits, all with correct CRCs."""
    chunks = split(draw(st.sampled_from(BASES)))
    prefix, tail = PREFIX, b""
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["shuffle", "swap", "duplicate", "delete", "insert", "field",
                                   "field", "payload", "payload", "body", "tail", "version"]))
        if not chunks:
            break
        k = draw(st.integers(0, len(chunks) - 1))
        ctype, body = chunks[k]
        if op == "shuffle":
            chunks = draw(st.permutations(chunks))
        elif op == "swap":
            j = draw(st.integers(0, len(chunks) - 1))
            chunks[k], chunks[j] = chunks[j], chunks[k]
        elif op == "duplicate":
            chunks.insert(draw(st.integers(0, len(chunks))), chunks[k])
        elif op == "delete":
            del chunks[k]
        elif op == "insert":
            new = draw(st.sampled_from([b"abcd", b"ABCD", b"iccp", b"exif", b"xmpd", b"phys",
                                        b"HEAD", b"FACT", b"IEND", b"a1cd"]))
            chunks.insert(draw(st.integers(0, len(chunks))),
                          (new, draw(st.binary(max_size=32) | st.just(body))))
        elif op == "field":
            chunks[k] = (ctype, _field_edit(draw, ctype, body))
        elif op == "payload" and ctype == b"FACT":
            chunks[k] = (ctype, _payload_edit(draw, body))
        elif op == "body" and body:
            j = draw(st.integers(0, len(body) - 1))
            chunks[k] = (ctype, body[:j] + bytes([draw(st.integers(0, 255))]) + body[j + 1:])
        elif op == "tail":
            tail = draw(st.binary(min_size=1, max_size=16))
        elif op == "version":
            prefix = fmt.SIGNATURE + bytes([draw(st.integers(0, 255))])
    return build(chunks, prefix=prefix, tail=tail)


@settings(max_examples=2500)
@given(byte_mutations())
def test_property_byte_mutations_keep_the_contract(data: bytes) -> None:
    check_contract(data)


@settings(max_examples=4000)
@given(structured_mutations())
def test_property_structured_mutations_keep_the_contract(data: bytes) -> None:
    check_contract(data)


# --- regressions: inputs that once broke the contract ---------------------------------------------
REGRESSION_FILES = sorted(REGRESSIONS.glob("*.svdi"))


@pytest.mark.parametrize("path", REGRESSION_FILES, ids=[p.name for p in REGRESSION_FILES])
def test_regression_files_keep_the_contract(path: Path) -> None:
    check_contract(path.read_bytes())
