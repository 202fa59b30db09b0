"""Hostile input, mutated: hypothesis edits valid files (bytes at random, or chunks and fields
with every CRC fixed) and the fuzzers' crash files (``tests/regressions/``) are replayed; every
outcome keeps the contract -- a decoded array that matches the header, or an ``SvdiError``.
Helpers and the files: ``tests/hostile.py``.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import zstandard
from hostile import FILES, PREFIX, build, file, split
from hypothesis import given, settings
from hypothesis import strategies as st

import svdcodec
from svdcodec import format as fmt

REGRESSIONS = Path(__file__).parent / "regressions"


# --- property: mutated files keep the contract ----------------------------------------------------
BASES = st.sampled_from(list(FILES)).map(file)  # the files, by name: encoded on first use


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
        signed = info.mode == "I;16S"  # spec section 15.1
        assert out.dtype == (np.int16 if signed else np.uint16 if info.bit_depth == 16
                             else np.uint8)


@st.composite
def byte_mutations(draw: st.DrawFn) -> bytes:
    """Bit flips, byte edits, insertions, deletions, truncation: CRCs mostly broken."""
    data = bytearray(draw(BASES))
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
def structured_mutations(draw: st.DrawFn) -> bytes:  # noqa: C901 - a flat table of operations
    """Chunk shuffles, duplication, deletion, field and payload edits, all with correct CRCs."""
    chunks = split(draw(BASES))
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
