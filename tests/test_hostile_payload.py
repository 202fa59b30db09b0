"""Hostile input, the payload (spec section 5; classes 12–14 of the design notes' bad inputs):
zstd frames that lie about their size or carry junk, corrupted compressed bodies behind a valid
CRC, and component records holding NaN, Inf, negative or unsorted sigma and bad int8 scales.
Helpers and the files: ``tests/hostile.py``.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable

import numpy as np
import pytest
import zstandard
from hostile import (
    assert_rejects,
    edit_fact,
    fact,
    file,
    picture,
    raw_records,
    records,
    with_records,
)

import svdcodec
from svdcodec import ChecksumError, CorruptError, UnsupportedError


# --- 12. zstd frame lying about its size, without one, followed by junk or a second frame -----
def rewindowed(frame: bytes, exponent: int) -> bytes:
    """``frame`` with a Window_Descriptor (window 2^(10+exponent)) and a 4-byte content size."""
    header = zstandard.frame_header_size(frame)
    fhd = frame[4]
    size = zstandard.frame_content_size(frame)
    checksum = fhd & 0x04
    return (frame[:4] + bytes([0x80 | checksum, exponent << 3]) + struct.pack("<I", size)
            + frame[header:])


def _compress(raw: bytes, **options: bool) -> bytes:
    return zstandard.ZstdCompressor(**options).compress(raw)


SKIPPABLE = b"\x50\x2a\x4d\x18" + struct.pack("<I", 4) + b"skip"
# case -> (error, frame from the raw records and a good frame of them)
ZSTD_CASES: dict[str, tuple[type[svdcodec.SvdiError], Callable[[bytes, bytes], bytes]]] = {
    "declares_more": (CorruptError, lambda raw, good: _compress(raw + b"\x00")),
    "declares_less": (CorruptError, lambda raw, good: _compress(raw[:-1])),
    "no_content_size": (CorruptError, lambda raw, good: _compress(raw, write_content_size=False)),
    "trailing_junk": (CorruptError, lambda raw, good: good + b"\x00"),
    "trailing_text": (CorruptError, lambda raw, good: good + b"junk"),
    "second_frame": (CorruptError, lambda raw, good: good + good),
    "second_empty_frame": (CorruptError, lambda raw, good: good + _compress(b"")),
    "skippable_frame_first": (CorruptError, lambda raw, good: SKIPPABLE + good),
    "empty": (CorruptError, lambda raw, good: b""),
    "magic_only": (CorruptError, lambda raw, good: good[:4]),
    "header_only": (CorruptError, lambda raw, good: good[:zstandard.frame_header_size(good)]),
    "not_zstd": (CorruptError, lambda raw, good: raw),
    "window_16_mib": (UnsupportedError, lambda raw, good: rewindowed(good, 14)),
}


@functools.cache
def rgb_raw() -> bytes:
    """The decompressed records of the first FACT of "rgb-int8"."""
    return raw_records(file("rgb-int8"), 0)


@pytest.mark.parametrize("case", ZSTD_CASES)
def test_12_bad_zstd_frame(case: str) -> None:
    exc, make = ZSTD_CASES[case]
    frame = make(rgb_raw(), _compress(rgb_raw(), write_checksum=True))
    assert_rejects(exc, edit_fact(file("rgb-int8"), 0, frame), header=False)


def test_12_frame_declaring_the_right_size_but_holding_less() -> None:
    """The content-size field is patched to raw_size over a frame of raw_size - 1 bytes."""
    raw = rgb_raw()
    frame = bytearray(zstandard.ZstdCompressor(write_checksum=True).compress(raw[:-1]))
    frame = bytearray(rewindowed(bytes(frame), 0))  # 4-byte content size at offset 6
    frame[6:10] = struct.pack("<I", len(raw))
    assert zstandard.frame_content_size(bytes(frame)) == len(raw)
    assert_rejects(CorruptError, edit_fact(file("rgb-int8"), 0, bytes(frame)), header=False)


def test_12_controls_decode() -> None:
    """The hand-built frames are valid when nothing is wrong with them."""
    data, raw = file("rgb-int8"), rgb_raw()
    good = zstandard.ZstdCompressor(write_checksum=True).compress(raw)
    expected = svdcodec.decode(data)
    for frame in (rewindowed(good, 10), rewindowed(good, 13),  # 1 MiB, 8 MiB windows
                  zstandard.ZstdCompressor(level=19).compress(raw)):  # no checksum: allowed
        np.testing.assert_array_equal(svdcodec.decode(edit_fact(data, 0, frame)), expected)


# --- 13. corrupted zstd body with the chunk CRC recomputed ---------------------------------------
def test_13_zstd_checksum_field_flipped() -> None:
    data = file("rgb-int8")
    frame = bytearray(fact(data, 0)[1])
    frame[-1] ^= 0x01
    assert_rejects(ChecksumError, edit_fact(data, 0, bytes(frame)), header=False)


def _raw_block_file() -> tuple[bytes, int]:
    """An int8 file whose records are noise, so zstd stores them as a raw block."""
    rec = records(file("rgb-int8"), 0)
    rng = np.random.default_rng(1)
    rec["u"] = rng.integers(-127, 128, rec["u"].shape)
    rec["v"] = rng.integers(-127, 128, rec["v"].shape)
    data = with_records(file("rgb-int8"), rec)
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
    data = file(name)
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
    rec = _set(records(file(name)), "s", BAD_SIGMA[value], (record,))
    assert_rejects(CorruptError, with_records(file(name), rec), header=False)


def test_14_unsorted_sigma() -> None:
    data = file("rgb-int8")
    rec = records(data)
    rec["s"][1] = rec["s"][0] * 1.5
    assert_rejects(CorruptError, with_records(data, rec), header=False)
    rec = records(data)
    rec["s"] = rec["s"][::-1].copy()
    assert_rejects(CorruptError, with_records(data, rec), header=False)


BAD_SCALE = {"zero": 0.0, "negative": -0.5, "minus_zero": -0.0, "nan": np.nan, "inf": np.inf,
             "signalling_nan": SNAN32}


@pytest.mark.parametrize("field", ["a", "b"])
@pytest.mark.parametrize("value", BAD_SCALE, ids=list(BAD_SCALE))
def test_14_bad_int8_scale(field: str, value: str) -> None:
    data = file("rgb-int8")
    rec = _set(records(data), field, BAD_SCALE[value], (1,))
    assert_rejects(CorruptError, with_records(data, rec), header=False)


@pytest.mark.parametrize("field", ["u", "v"])
def test_14_int8_minus_128(field: str) -> None:
    data = file("rgb-int8")
    rec = _set(records(data), field, -128, (0, 2))
    assert_rejects(CorruptError, with_records(data, rec), header=False)


BAD_F16 = {"nan": np.nan, "inf": np.inf, "minus_inf": -np.inf, "signalling_nan": SNAN16}


@pytest.mark.parametrize("name", ["grey-f16", "grey16-f16", "rgb-vertical-f16"])
@pytest.mark.parametrize("field", ["u", "v"])
@pytest.mark.parametrize("value", BAD_F16, ids=list(BAD_F16))
def test_14_non_finite_float16_factor(name: str, field: str, value: str) -> None:
    rec = _set(records(file(name)), field, BAD_F16[value], (1, 3))
    assert_rejects(CorruptError, with_records(file(name), rec), header=False)


def test_14_boundary_values_decode() -> None:
    """Values the spec allows: equal or zero sigma, -0.0 sigma, +-127, subnormal scales,
    the largest finite float16."""
    rec = records(file("rgb-int8"))
    rec["s"] = [rec["s"][0], rec["s"][0], 0.0]
    rec["s"][2] = -0.0
    rec["u"][0, 0], rec["v"][1, 1] = -127, 127
    rec["a"][2] = np.float32(1e-45)
    svdcodec.decode(with_records(file("rgb-int8"), rec))
    rec = records(file("grey-f16"))
    rec["u"][0, 0], rec["v"][0, 0] = 65504.0, -65504.0
    rec["s"][:] = np.float32(3.4e38)
    out = svdcodec.decode(with_records(file("grey-f16"), rec))
    assert out.dtype == np.uint8 and out.shape == picture("grey").shape


def test_14_progressive_decode_reads_only_the_prefix() -> None:
    """A bad value in record 2 is not seen by a rank-1 decode (section 5: prefix decoding)."""
    data = with_records(file("rgb-int8"), _set(records(file("rgb-int8")), "s", np.nan, (2,)))
    assert_rejects(CorruptError, data, header=False)
    assert svdcodec.decode(data, rank=1).shape == picture("rgb").shape


