"""svdcodec.format: framing, header packing and the layering rule (no numpy in the byte layer)."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

import svdcodec
from svdcodec import format as fmt
from svdcodec.errors import CorruptError, TruncatedError, UnsupportedError
from svdcodec.limits import Limits


def _header(**kw: object) -> fmt.Header:
    base = dict(width=5, height=3, mode=fmt.Mode.RGB, layout=fmt.Layout.PER_CHANNEL,
                factor_type=fmt.FactorType.INT8)
    base.update(kw)
    return fmt.Header(**base)  # type: ignore[arg-type]


def test_signature_is_png_style() -> None:
    assert fmt.SIGNATURE == bytes([0x89, 0x53, 0x56, 0x44, 0x49, 0x0D, 0x0A, 0x1A, 0x0A])
    assert fmt.PREFIX_SIZE == 10


def test_struct_sizes_match_spec() -> None:
    assert fmt.HEAD.size == 24
    assert fmt.FACT.size == 24
    assert fmt.CHUNK_OVERHEAD == 12


def test_chunk_crc_covers_type_and_data() -> None:
    chunk = fmt.pack_chunk(b"abcd", b"xyz")
    assert chunk[:8] == b"\x03\x00\x00\x00abcd"
    assert int.from_bytes(chunk[-4:], "little") == zlib.crc32(b"abcdxyz")


@pytest.mark.parametrize("ctype, critical", [(b"HEAD", True), (b"FACT", True),
                                              (b"iccp", False), (b"zZZZ", False)])
def test_critical_bit(ctype: bytes, critical: bool) -> None:
    assert fmt.is_critical(ctype) is critical


def test_header_round_trip_every_mode_and_layout() -> None:
    for mode in fmt.Mode:
        for layout in fmt.Layout:
            patch = layout == fmt.Layout.PATCH  # spec 13.1: patch goes with coefficients only
            h = _header(mode=mode, layout=layout, factor_type=fmt.FactorType.COEFFICIENTS
                        if patch else fmt.FactorType.INT8)
            assert fmt.unpack_header(fmt.pack_header(h), Limits()) == h


@pytest.mark.parametrize("layout, shape", [(fmt.Layout.PER_CHANNEL, (3, 5)),
                                            (fmt.Layout.STACKED, (3, 15)),
                                            (fmt.Layout.STACKED_VERTICAL, (9, 5))])
def test_group_shape(layout: fmt.Layout, shape: tuple[int, int]) -> None:
    assert _header(layout=layout).group_shape() == shape


def test_record_size() -> None:
    assert fmt.record_size(3, 5, fmt.FactorType.FLOAT16) == 4 + 2 * 8
    assert fmt.record_size(3, 5, fmt.FactorType.INT8) == 12 + 8


def _file(*chunks: tuple[bytes, bytes]) -> bytes:
    return fmt.SIGNATURE + b"\x01" + b"".join(fmt.pack_chunk(t, d) for t, d in chunks)


def test_unpack_minimal_container() -> None:
    h = _header(mode=fmt.Mode.L, width=2, height=2)
    rec = fmt.record_size(2, 2, fmt.FactorType.INT8)
    fact = fmt.FACT.pack(0, 2, 2, 1, rec) + b"payload"
    c = fmt.unpack(_file((b"HEAD", fmt.pack_header(h)), (b"FACT", fact), (b"IEND", b"")),
                   Limits())
    assert c.header == h
    assert c.groups[0].payload == b"payload"
    assert [ch.type for ch in c.chunks] == ["HEAD", "FACT", "IEND"]
    assert sum(ch.size for ch in c.chunks) + fmt.PREFIX_SIZE == 10 + 36 + 12 + 31 + 12


def test_prefix_errors() -> None:
    with pytest.raises(TruncatedError):
        fmt.unpack(fmt.SIGNATURE[:4], Limits())
    with pytest.raises(CorruptError):
        fmt.unpack(b"\x89PNG\r\n\x1a\n\x00\x00", Limits())
    with pytest.raises(UnsupportedError):
        fmt.unpack(fmt.SIGNATURE + b"\x02", Limits())


def test_unpack_allow_truncated_and_unpack_head() -> None:
    data = svdcodec.encode(np.arange(600, dtype=np.uint8).reshape(20, 30), rank=3)
    whole = fmt.unpack(data, Limits())
    assert whole.truncated == "" and whole.partial is None
    fact = next(c for c in whole.chunks if c.type == "FACT")
    cut = fmt.unpack(data[:fact.offset + fact.size - 5], Limits(), allow_truncated=True)
    assert "FACT" in cut.truncated and cut.groups == ()
    assert cut.partial is not None and cut.partial.rank == 3
    assert cut.decodable_groups == (cut.partial,)
    assert fmt.unpack(data[:fact.offset + 8], Limits(), allow_truncated=True).partial is None
    with pytest.raises(svdcodec.TruncatedError):
        fmt.unpack(data[:fact.offset + 30], Limits())
    broken = bytearray(data)
    broken[fact.offset + 30] ^= 0xFF
    assert fmt.unpack_head(bytes(broken), Limits()) == whole.header
    with pytest.raises(svdcodec.ChecksumError):
        fmt.unpack(bytes(broken), Limits(), allow_truncated=True)
    with pytest.raises(svdcodec.TruncatedError):
        fmt.unpack_head(data[:20], Limits())
