"""The DICOM headers of a series: the chunk ``dser`` (spec section 17) through the API, its
rules, golden files and hostile chunk bytes. DICOM files themselves: test_dicom_series.py;
the command line: test_cli_dicom_series.py."""

from __future__ import annotations

import functools
import re
import struct
from pathlib import Path

import numpy as np
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

import svdcodec
from svdcodec import format as fmt
from svdcodec.errors import ChecksumError, CorruptError, LimitError, SvdiError, UnsupportedError
from svdcodec.series import pack_series

from .hostile import build, index_of, split

VECTORS = Path(__file__).resolve().parent.parent / "spec" / "vectors"
HEADERS = (b"header of slice 0", b"header of slice 1 is longer", b"2")


def frames(n: int = 3, h: int = 8, w: int = 8) -> np.ndarray:
    i, j = np.mgrid[:h, :w]
    return np.stack([((i * 20 + j * 7 + 30 * k) % 256).astype(np.uint8) for k in range(n)])


@functools.cache
def series_file(coding: str = "tall") -> bytes:
    return svdcodec.encode_stack(frames(), coding=coding, dicom_series=list(HEADERS))


def with_dser_body(body: bytes, data: bytes | None = None) -> bytes:
    """``data`` (default: :func:`series_file`) with its dser chunk's data replaced, CRC right."""
    chunks = split(series_file() if data is None else data)
    chunks[index_of(chunks, fmt.ChunkType.DSER)] = (fmt.ChunkType.DSER, body)
    return build(chunks)


def body(count: int, raw: bytes, raw_size: int | None = None) -> bytes:
    """A dser chunk's data: the two fields and a checksummed zstd frame of ``raw``."""
    frame = zstandard.ZstdCompressor(write_checksum=True).compress(raw)
    return fmt.DSER.pack(count, len(raw) if raw_size is None else raw_size) + frame


# --- API -------------------------------------------------------------------------------------
@pytest.mark.parametrize("coding", ["frames", "tall", "snapshot"])
def test_headers_come_back_in_frame_order(coding: str) -> None:
    data = series_file(coding)
    info = svdcodec.read_header(data)
    assert info.dicom_series == 3 and info.frames == 3
    assert svdcodec.read_dicom_series(data) == HEADERS
    assert [c.type for c in info.chunks][:3] == ["HEAD", "FRMS", "dser"]  # before any FACT
    assert svdcodec.decode_stack(data).shape == (3, 8, 8)


def test_dser_follows_anim() -> None:
    data = svdcodec.encode_stack(frames(), coding="tall", durations=40, dicom_series=HEADERS)
    info = svdcodec.read_header(data)
    assert [c.type for c in info.chunks][:4] == ["HEAD", "FRMS", "anim", "dser"]
    assert info.durations == (40, 40, 40) and svdcodec.read_dicom_series(data) == HEADERS


def test_file_without_dser() -> None:
    data = svdcodec.encode_stack(frames(), coding="tall")
    assert svdcodec.read_header(data).dicom_series is None
    assert svdcodec.read_dicom_series(data) is None


def test_chunk_layout_is_count_raw_size_and_one_zstd_frame() -> None:
    dser = [b for t, b in split(series_file()) if t == fmt.ChunkType.DSER]
    assert len(dser) == 1
    count, raw_size = struct.unpack_from("<II", dser[0])
    raw = zstandard.ZstdDecompressor().decompress(dser[0][8:])
    assert (count, raw_size, len(raw)) == (3, sum(4 + len(h) for h in HEADERS), raw_size)
    assert raw == b"".join(struct.pack("<I", len(h)) + h for h in HEADERS)


def test_repetitive_headers_compress() -> None:
    headers = [b"(0008,0018) UI 1.2.3.%d " % k + b"the same elements " * 100
               for k in range(50)]
    chunk = pack_series(headers)
    assert len(chunk) < sum(map(len, headers)) // 20


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"dicom_series": HEADERS[:2]}, ValueError, "expected 3 headers"),
    ({"dicom_series": [*HEADERS[:2], b""]}, ValueError, "header 2 is empty"),
    ({"dicom_series": HEADERS, "dicom": b"x"}, ValueError, "exclude each other"),
    ({"dicom_series": b"one"}, TypeError, "sequence of bytes"),
    ({"dicom_series": ["a", "b", "c"]}, TypeError, "sequence of bytes"),
])
def test_caller_mistakes(kwargs: dict[str, object], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        svdcodec.encode_stack(frames(), coding="tall", **kwargs)  # type: ignore[arg-type]


def test_a_single_frame_takes_no_series() -> None:
    with pytest.raises(ValueError, match="belongs to a stack"):
        svdcodec.encode_stack(frames(1), coding="tall", dicom_series=[b"one"])


def test_writer_refuses_what_decoders_refuse() -> None:
    headers = [bytes(np.random.default_rng(k).integers(0, 256, 3_000_000, dtype=np.uint8))
               for k in range(3)]  # incompressible: over the 8 MiB of metadata
    with pytest.raises(ValueError, match="decoders refuse the file"):
        svdcodec.encode_stack(frames(), coding="tall", dicom_series=headers)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=300), min_size=2, max_size=6))
def test_any_headers_round_trip(headers: list[bytes]) -> None:
    data = svdcodec.encode_stack(frames(len(headers), 4, 4), coding="tall",
                                 dicom_series=headers)
    assert svdcodec.read_dicom_series(data) == tuple(headers)
    assert fmt.unpack_records(fmt.pack_records(headers), len(headers)) == tuple(headers)


# --- the rules of section 17.1, checked when the chunk is read ------------------------------
def test_rule1_not_in_a_single_image() -> None:
    single = svdcodec.encode(frames(1)[0], rank=1)
    chunks = split(single)
    chunks.insert(1, (fmt.ChunkType.DSER, body(1, b"\x01\x00\x00\x00x")))
    with pytest.raises(CorruptError, match="single image"):
        svdcodec.read_header(build(chunks))


@pytest.mark.parametrize("dicm_first", [True, False])
def test_rule2_dser_and_dicm_exclude_each_other(dicm_first: bool) -> None:
    chunks = split(series_file())
    dicm = (fmt.ChunkType.DICM, b"a DICOM header")
    chunks.insert(index_of(chunks, fmt.ChunkType.DSER) + (0 if dicm_first else 1), dicm)
    second = "dser" if dicm_first else "dicm"
    with pytest.raises(CorruptError, match=f"^{second} chunk in a file with a"):
        svdcodec.decode_stack(build(chunks))


def test_rule3_length() -> None:
    for cut in range(fmt.DSER.size):
        with pytest.raises(CorruptError, match="dser length"):
            svdcodec.read_header(with_dser_body(b"\x03" * cut))


@pytest.mark.parametrize("count", [0, 2, 4, 2**32 - 1])
def test_rule4_header_count_is_the_frame_count(count: int) -> None:
    with pytest.raises(CorruptError, match=f"header_count: expected 3 .* got {count}$"):
        svdcodec.read_header(with_dser_body(body(count, b"\x01\x00\x00\x00x" * 3)))


def test_rule5_raw_size_holds_a_record_per_frame() -> None:
    with pytest.raises(CorruptError, match="raw_size: expected at least 15"):
        svdcodec.read_header(with_dser_body(body(3, b"\x01\x00\x00\x00x" * 2 + b"\0" * 4)))


def test_rule6_raw_size_limit_before_decompressing() -> None:
    data = series_file()
    need = sum(4 + len(h) for h in HEADERS)
    limits = svdcodec.Limits(max_series_header_bytes=need)
    assert svdcodec.read_dicom_series(data, limits=limits) == HEADERS
    tight = svdcodec.Limits(max_series_header_bytes=need - 1)
    with pytest.raises(LimitError, match=f"{need} bytes of series headers exceed"):
        svdcodec.read_header(data, limits=tight)
    with pytest.raises(LimitError):
        svdcodec.decode_stack(data, limits=tight)
    # a frame of 12 bytes declaring 4 GiB - 1: refused from the field, nothing allocated
    huge = with_dser_body(fmt.DSER.pack(3, 2**32 - 1) + b"\x28\xb5\x2f\xfd" + b"\0" * 8)
    with pytest.raises(LimitError):
        svdcodec.read_header(huge)


def test_duplicate_dser() -> None:
    chunks = split(series_file())
    at = index_of(chunks, fmt.ChunkType.DSER)
    chunks.insert(at, chunks[at])
    with pytest.raises(CorruptError, match="duplicate dser"):
        svdcodec.read_header(build(chunks))


def test_metadata_limit_counts_dser_first() -> None:
    data = series_file()
    size = len(split(data)[index_of(split(data), fmt.ChunkType.DSER)][1])
    with pytest.raises(LimitError, match="metadata exceeds"):
        svdcodec.read_header(data, limits=svdcodec.Limits(max_metadata_bytes=size - 1))


# --- the payload, checked by a reader of the headers only -----------------------------------
@pytest.mark.parametrize(("raw", "raw_size", "error", "match"), [
    (b"\x05\x00\x00\x00abcde" * 3, 26, CorruptError, "declares 27 bytes, expected 26"),
    (b"\x00\x00\x00\x00abcde" + b"\x01\x00\x00\x00x" * 2 + b"\0" * 4, None, CorruptError,
     "record 0: length 0"),
    (b"\x01\x00\x00\x00x" * 2 + b"\x09\x00\x00\x00abcde", None, CorruptError,
     "record 2: 9 bytes at 14 exceed the 19"),
    (b"\x01\x00\x00\x00x" * 3 + b"!", None, CorruptError, "1 bytes after record 2"),
    (b"\x06\x00\x00\x00x" + b"\x01\x00\x00\x00x" * 2, None, CorruptError,
     "record 2: its length field at 15 is past the end"),
])
def test_records_are_exact(raw: bytes, raw_size: int | None, error: type[SvdiError],
                           match: str) -> None:
    data = with_dser_body(body(3, raw, raw_size))
    assert svdcodec.decode_stack(data).shape == (3, 8, 8)  # ancillary: the frames decode
    assert svdcodec.read_header(data).dicom_series == 3
    with pytest.raises(error, match=match):
        svdcodec.read_dicom_series(data)


def test_zstd_frame_checks() -> None:
    raw = b"".join(struct.pack("<I", len(h)) + h for h in HEADERS)
    good = body(3, raw)
    flipped = bytearray(good)
    flipped[-1] ^= 0xFF  # the content checksum
    with pytest.raises(ChecksumError):
        svdcodec.read_dicom_series(with_dser_body(bytes(flipped)))
    with pytest.raises(CorruptError, match="not a zstd frame"):
        svdcodec.read_dicom_series(with_dser_body(good[:8] + b"not zstd at all"))
    params = zstandard.ZstdCompressionParameters(window_log=24, enable_ldm=False)
    wide = zstandard.ZstdCompressor(compression_params=params).compress(raw)
    big = fmt.DSER.pack(3, len(raw)) + wide
    try:  # a window above 8 MiB: refused (section 5), when the frame header says so
        svdcodec.read_dicom_series(with_dser_body(big))
    except UnsupportedError:
        pass


def _cuts(data: bytes) -> list[bytes]:
    """The dser chunk of ``data`` cut at every length, each CRC right."""
    dser = split(data)[index_of(split(data), fmt.ChunkType.DSER)][1]
    return [with_dser_body(dser[:n], data) for n in range(len(dser))]


def test_every_cut_of_the_chunk_raises_an_svdi_error() -> None:
    data = series_file()
    for cut in _cuts(data):
        with pytest.raises(SvdiError):  # the walk's checks, else the reader's
            svdcodec.read_header(cut)
            svdcodec.read_dicom_series(cut)


def test_every_cut_of_the_file_raises_an_svdi_error() -> None:
    data = series_file()
    end = svdcodec.read_header(data).chunks[2]
    assert end.type == "dser"
    for n in range(end.offset, end.offset + end.size):
        with pytest.raises(SvdiError):
            svdcodec.read_dicom_series(data[:n])


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=80))
def test_hostile_chunk_bytes(data: bytes) -> None:
    """Any dser data: the walk and the reader give headers or an SvdiError, nothing else."""
    try:
        headers = svdcodec.read_dicom_series(with_dser_body(data))
    except SvdiError:
        return
    assert headers is not None and len(headers) == 3


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=0, max_size=60), st.integers(0, 200))
def test_hostile_records(raw: bytes, raw_size: int) -> None:
    try:
        headers = svdcodec.read_dicom_series(with_dser_body(body(3, raw, raw_size)))
    except SvdiError:
        return
    assert headers is not None and b"".join(struct.pack("<I", len(h)) + h
                                            for h in headers) == raw


# --- golden files ----------------------------------------------------------------------------
def _reader_rejects() -> list[tuple[str, str]]:
    """The README's table of files whose headers a reader rejects: (file, error)."""
    text = (VECTORS / "README.md").read_text()
    section = text.partition("**DICOM series**")[2]
    return re.findall(r"^\| `read_dicom_series\(\)` \| `([\w-]+)\.svdi` \| `(\w+)` \|", section,
                      re.MULTILINE)


def test_golden_series_headers() -> None:
    data = (VECTORS / "dser-stack-tall-i16-patch-q60.svdi").read_bytes()
    headers = svdcodec.read_dicom_series(data)
    assert headers is not None and len(headers) == 3
    assert all(h[128:132] == b"DICM" for h in headers)  # Part 10 files (section 15.2)
    assert all(b"\xe0\x7f\x10\x00" not in h for h in headers)  # no Pixel Data element


def test_golden_reader_rejects() -> None:
    rows = _reader_rejects()
    assert rows == [("dser-stack-tall-l-patch-q50-bad-records", "CorruptError")]
    for name, error in rows:
        data = (VECTORS / f"{name}.svdi").read_bytes()
        svdcodec.decode_stack(data)  # the frames decode: the chunk is ancillary
        with pytest.raises(SvdiError) as info:
            svdcodec.read_dicom_series(data)
        assert type(info.value).__name__ == error


def test_rules_in_the_order_of_section_17_1() -> None:
    """Several rules broken at once: the first in 17.1's order is reported."""
    single = split(svdcodec.encode(frames(1)[0], rank=1))
    single.insert(1, (fmt.ChunkType.DSER, b"\x01"))  # rule 1 before rule 3
    with pytest.raises(CorruptError, match="single image"):
        svdcodec.read_header(build(single))
    both = split(series_file())
    both.insert(2, (fmt.ChunkType.DICM, b"x"))  # rule 2 before rule 3
    both[index_of(both, fmt.ChunkType.DSER)] = (fmt.ChunkType.DSER, b"\x01")
    with pytest.raises(CorruptError, match="exclude each other"):
        svdcodec.read_header(build(both))
    # rule 4 (a CorruptError) before rule 6 (a LimitError)
    with pytest.raises(CorruptError, match="header_count"):
        svdcodec.read_header(with_dser_body(fmt.DSER.pack(2, 2**32 - 1)))
    # rule 5 before rule 6, with a limit below 5 N
    with pytest.raises(CorruptError, match="raw_size: expected at least 15"):
        svdcodec.read_header(with_dser_body(fmt.DSER.pack(3, 14)),
                             limits=svdcodec.Limits(max_series_header_bytes=10))
