"""Hostile stacks (spec section 14): FRMS fields, chunk order and counts, limits before
allocation, truncation and mutation -- every byte string decodes or raises the SvdiError
subclass the spec names."""

from __future__ import annotations

import functools
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import svdcodec
from svdcodec import format as fmt
from svdcodec.errors import (
    CorruptError,
    LimitError,
    SvdiError,
    TruncatedError,
    UnsupportedError,
)

from .hostile import assert_rejects, build, edit_head, index_of, split

FRMS_FIELDS = ("frame_count", "frame_pitch", "stack_coding", "stack_flags", "reserved")


def _frames(c: int | None) -> np.ndarray:
    y, x = np.mgrid[:11, :13]
    frames = np.stack([(20 * k + 9 * y + 5 * x) % 256 for k in range(3)])
    frames = frames if c is None else np.repeat(frames[..., None], c, -1)
    return frames.astype(np.uint8)


@functools.cache
def stack(coding: str, colour: bool = False) -> bytes:
    options = {"rank": 2} if coding == "frames" else {"quality": 60}
    return svdcodec.encode_stack(_frames(3 if colour else None), coding=coding, **options)


def edit_frms(data: bytes, **fields: int) -> bytes:
    chunks = split(data)
    values = dict(zip(FRMS_FIELDS, fmt.FRMS.unpack(chunks[1][1]), strict=True))
    values.update(fields)
    chunks[1] = (fmt.ChunkType.FRMS, fmt.FRMS.pack(*(values[f] for f in FRMS_FIELDS)))
    return build(chunks)


@pytest.mark.parametrize(("coding", "fields", "error"), [
    ("tall", {"frame_count": 0}, CorruptError),
    ("tall", {"frame_count": 1}, CorruptError),
    ("snapshot", {"frame_count": 1}, CorruptError),
    ("frames", {"stack_coding": 0}, CorruptError),
    ("frames", {"stack_coding": 4}, UnsupportedError),
    ("frames", {"stack_coding": 255}, UnsupportedError),
    ("frames", {"stack_flags": 1}, UnsupportedError),
    ("tall", {"stack_flags": 0x80}, UnsupportedError),
    ("frames", {"reserved": 1}, CorruptError),
    ("frames", {"stack_coding": 3}, CorruptError),  # snapshot without layout 5
    ("snapshot", {"stack_coding": 1}, CorruptError),  # layout 5 without snapshot
    ("tall", {"frame_pitch": 10}, CorruptError),  # below H = 11
    ("tall", {"frame_pitch": 12}, CorruptError),  # not a multiple of P = 8
    ("frames", {"frame_pitch": 16}, CorruptError),
    ("snapshot", {"frame_pitch": 16}, CorruptError),
    ("frames", {"frame_count": 2}, CorruptError),  # one run too many before IEND
    ("frames", {"frame_count": 4}, CorruptError),  # one run missing
    ("snapshot", {"frame_count": 4}, CorruptError),  # FACT cols != N
])
def test_frms_fields(coding: str, fields: dict[str, int], error: type[SvdiError]) -> None:
    assert_rejects(error, edit_frms(stack(coding), **fields))


def test_tall_frame_count_changes_the_coded_image() -> None:
    """One more frame: the PTCH fields still fit the taller coded image, its payload does
    not (a CorruptError of the payload; read_header, which never decompresses, passes)."""
    assert_rejects(CorruptError, edit_frms(stack("tall"), frame_count=4), header=False)


@pytest.mark.parametrize("coding", ["frames", "tall", "snapshot"])
@pytest.mark.parametrize("count", [2**32 - 1, 2**24])
def test_huge_frame_counts_are_refused_before_allocating(coding: str, count: int) -> None:
    """Section 14.5: N · W · H above the pixel limit is LimitError when FRMS is read, whatever
    follows (a 12-byte field must not make the decoder allocate N frames)."""
    data = edit_frms(stack(coding), frame_count=count)
    tracemalloc.start()
    try:
        assert_rejects(LimitError, data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20  # refused from FRMS's 12 bytes, nothing sized by N allocated


def test_stack_output_is_bounded_by_the_allocation_limit() -> None:
    data = stack("tall")
    small = svdcodec.Limits(max_alloc_bytes=11 * 13 * 3 - 1)
    assert svdcodec.decode(data, frame=1).shape == (11, 13)
    with pytest.raises(LimitError):
        svdcodec.decode_stack(data, limits=small)


def test_tall_pitch_against_the_height_limit() -> None:
    data = edit_frms(stack("tall"), frame_pitch=400_000)
    assert_rejects(LimitError, data)


@pytest.mark.parametrize("coding", ["frames", "tall", "snapshot"])
def test_frms_must_be_the_second_chunk(coding: str) -> None:
    chunks = split(stack(coding))
    frms = chunks.pop(1)
    moved = [*chunks[:2], frms, *chunks[2:]]
    assert_rejects(CorruptError, build(moved))
    twice = [*chunks[:1], frms, frms, *chunks[1:]]
    assert_rejects(CorruptError, build(twice))
    meta = [*chunks[:1], (b"zzzz", b"x"), frms, *chunks[1:]]
    assert_rejects(CorruptError, build(meta))


def test_snapshot_layout_needs_frms() -> None:
    chunks = split(stack("snapshot"))
    del chunks[1]
    assert_rejects(CorruptError, build(chunks))
    assert_rejects(CorruptError, build([chunks[0], chunks[-1]]))  # HEAD, IEND


def test_layout_5_in_a_single_image_is_corrupt_not_reserved() -> None:
    data = edit_head(svdcodec.encode(_frames(None)[0], rank=2), layout=5)
    assert_rejects(CorruptError, data)


def test_frames_runs_restart_their_indexes() -> None:
    data = stack("frames")
    chunks = split(data)
    k = index_of(chunks, fmt.ChunkType.FACT, 1)  # frame 1's FACT: group_index must be 0
    body = bytearray(chunks[k][1])
    body[0] = 1
    chunks[k] = (fmt.ChunkType.FACT, bytes(body))
    assert_rejects(CorruptError, build(chunks))


@pytest.mark.parametrize("coding", ["frames", "tall", "snapshot"])
def test_cut_stacks_are_truncated(coding: str) -> None:
    """Section 14.4: stacks are not salvaged, once the cut leaves FRMS's type visible (a
    file of layouts 1–3 cut before it reads as a single image cut after HEAD)."""
    data = stack(coding, colour=True)
    frms_type = len(fmt.SIGNATURE) + 1 + fmt.CHUNK_OVERHEAD + fmt.HEAD.size + 8
    for end in range(len(fmt.SIGNATURE), len(data), max(1, len(data) // 61)):
        with pytest.raises(TruncatedError):
            svdcodec.decode(data[:end])
        if end >= frms_type or coding == "snapshot":
            with pytest.raises(TruncatedError):
                svdcodec.decode(data[:end], allow_truncated=True)
        with pytest.raises(TruncatedError):
            svdcodec.decode_stack(data[:end])


@pytest.mark.parametrize("coding", ["frames", "tall", "snapshot"])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_mutated_stacks_decode_or_raise_svdi_errors(coding: str, data: st.DataObject) -> None:
    original = bytearray(stack(coding, colour=True))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(original) - 1))
        original[i] = data.draw(st.integers(0, 255))
    for decode in (svdcodec.decode, svdcodec.decode_stack, svdcodec.verify):
        try:
            decode(bytes(original))
        except SvdiError:
            pass


@pytest.mark.parametrize("coding", ["frames", "tall", "snapshot"])
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_crc_consistent_payload_corruption(coding: str, data: st.DataObject) -> None:
    """Corrupt a FACT/PTCH chunk behind a correct CRC: decode or an SvdiError."""
    chunks = split(stack(coding, colour=True))
    k = data.draw(st.integers(2, len(chunks) - 2))
    body = bytearray(chunks[k][1])
    i = data.draw(st.integers(0, len(body) - 1))
    body[i] = data.draw(st.integers(0, 255))
    chunks[k] = (chunks[k][0], bytes(body))
    for decode in (svdcodec.decode, svdcodec.decode_stack, svdcodec.verify):
        try:
            decode(build(chunks))
        except SvdiError:
            pass


@pytest.mark.parametrize(("fields", "error"), [
    ({"frame_count": 1, "stack_coding": 9}, CorruptError),  # frame_count first
    ({"stack_coding": 9, "reserved": 1}, UnsupportedError),  # then stack_coding
    ({"stack_coding": 0, "stack_flags": 1}, CorruptError),
    ({"stack_flags": 1, "reserved": 1}, UnsupportedError),  # flags before reserved
    ({"reserved": 1, "frame_pitch": 3}, CorruptError),
    ({"stack_flags": 2, "frame_count": 2**32 - 1}, UnsupportedError),  # fields before limits
    ({"frame_pitch": 5, "frame_count": 2**32 - 1}, CorruptError),
])
def test_frms_checks_in_the_order_of_section_14(fields: dict[str, int],
                                                error: type[SvdiError]) -> None:
    """Sections 9 and 14.5: FRMS's fields in their order, then the limits."""
    assert_rejects(error, edit_frms(stack("tall"), **fields))


def test_frms_after_a_bad_crc_is_checksum_error() -> None:
    data = bytearray(edit_frms(stack("frames"), frame_count=2**32 - 1))
    frms_body = len(fmt.SIGNATURE) + 1 + fmt.CHUNK_OVERHEAD + fmt.HEAD.size + 8
    data[frms_body + 9] ^= 1  # stack_flags, behind a now-wrong CRC
    assert_rejects(svdcodec.ChecksumError, bytes(data))
