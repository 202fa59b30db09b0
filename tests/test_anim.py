"""Frame durations and loop count of an animation: the chunk ``anim`` (spec section 16) through
the API, golden files and hostile ``anim`` chunks (Pillow, imageio, CLI: test_anim_io.py)."""

from __future__ import annotations

import functools
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

import svdcodec
from svdcodec import format as fmt

from .hostile import build, split

VECTORS = Path(__file__).resolve().parent.parent / "spec" / "vectors"


def frames(n: int = 3, h: int = 8, w: int = 8) -> np.ndarray:
    """N distinct grey frames (GIF merges equal neighbours, adding their durations)."""
    i, j = np.mgrid[:h, :w]
    return np.stack([((i * 20 + j * 7 + 60 * k) % 256).astype(np.uint8) for k in range(n)])


@functools.cache
def stack_file(durations: Any = (100, 40, 250), loop: int | None = 0) -> bytes:
    return svdcodec.encode_stack(frames(), coding="frames", rank=1,
                                 durations=None if durations is None else list(durations),
                                 loop=loop)


# --- API -------------------------------------------------------------------------------------
@pytest.mark.parametrize("coding", ["frames", "tall", "snapshot", "auto"])
def test_encode_stack_keeps_durations_and_loop(coding: str) -> None:
    data = svdcodec.encode_stack(frames(), coding=coding, durations=[100, 40, 250], loop=3)
    info = svdcodec.read_header(data)
    assert (info.durations, info.loop) == ((100, 40, 250), 3)
    assert [c.type for c in info.chunks][:3] == ["HEAD", "FRMS", "anim"]  # right after FRMS
    assert svdcodec.decode_stack(data).shape == (3, 8, 8)


def test_one_duration_is_every_frames_and_no_loop_is_loop_unset() -> None:
    data = svdcodec.encode_stack(frames(), coding="tall", durations=70)
    info = svdcodec.read_header(data)
    assert (info.durations, info.loop) == ((70, 70, 70), None)
    anim = [body for ctype, body in split(data) if ctype == b"anim"]
    assert anim == [struct.pack("<4I", 2**32 - 1, 70, 70, 70)]  # LOOP_UNSET, then N u32


def test_loop_without_durations_stores_durations_of_zero() -> None:
    info = svdcodec.read_header(svdcodec.encode_stack(frames(), coding="tall", loop=0))
    assert (info.durations, info.loop) == ((0, 0, 0), 0)


def test_no_timing_writes_no_anim_chunk_and_reports_none() -> None:
    info = svdcodec.read_header(stack_file(None, None))
    assert "anim" not in [c.type for c in info.chunks]
    assert (info.durations, info.loop) == (None, None)


def test_old_stack_vectors_report_no_timing() -> None:
    for path in sorted(VECTORS.glob("stack-*.svdi")):
        if "frms" in path.name or "huge" in path.name or "without" in path.name:
            continue  # the rejected ones
        info = svdcodec.read_header(path)
        assert (info.durations, info.loop) == (None, None), path.name
        with Image.open(path) as im:
            assert "duration" not in im.info and "loop" not in im.info


def test_single_frame_stores_no_anim() -> None:
    data = svdcodec.encode_stack(frames(1), rank=1, durations=[100], loop=0)
    info = svdcodec.read_header(data)
    assert info.frames == 1 and info.durations is None and info.loop is None


def test_float_durations_round_to_milliseconds() -> None:
    """Pillow reads APNG delays as floats (100/3 ms)."""
    data = svdcodec.encode_stack(frames(), coding="tall", durations=[100 / 3, 12.5, 0.4])
    assert svdcodec.read_header(data).durations == (33, 12, 0)  # half to even


@pytest.mark.parametrize(("options", "error"), [
    ({"durations": [100, 100]}, ValueError),  # 3 frames
    ({"durations": [100] * 4}, ValueError),
    ({"durations": -1}, ValueError),
    ({"durations": [0, -0.5, 0]}, ValueError),
    ({"durations": 2**32}, ValueError),
    ({"durations": float("nan")}, ValueError),
    ({"durations": float("inf")}, ValueError),
    ({"durations": "100"}, TypeError),
    ({"durations": [100, None, 100]}, TypeError),
    ({"durations": [True, 1, 1]}, TypeError),
    ({"loop": -1}, ValueError),
    ({"loop": 2**32 - 1}, ValueError),  # LOOP_UNSET is not a count
    ({"loop": 1.5}, TypeError),
    ({"loop": True}, TypeError),
    ({"loop": "0"}, TypeError),
])
def test_caller_mistakes_are_plain_errors(options: dict[str, Any], error: type) -> None:
    with pytest.raises(error) as info:
        svdcodec.encode_stack(frames(), coding="tall", **options)
    assert not isinstance(info.value, svdcodec.SvdiError)


def test_largest_values_are_stored() -> None:
    data = svdcodec.encode_stack(frames(), coding="tall", durations=[2**32 - 1, 0, 1],
                                 loop=2**32 - 2)
    info = svdcodec.read_header(data)
    assert (info.durations, info.loop) == ((2**32 - 1, 0, 1), 2**32 - 2)


@given(st.lists(st.integers(0, 2**32 - 1), min_size=2, max_size=40),
       st.none() | st.integers(0, 2**32 - 2))
def test_anim_fields_round_trip(durations: list[int], loop: int | None) -> None:
    anim = fmt.Anim(fmt.LOOP_UNSET if loop is None else loop, tuple(durations))
    body = fmt.pack_anim(anim)
    assert len(body) == fmt.anim_size(len(durations)) == 4 + 4 * len(durations)
    back = fmt.unpack_anim(body, fmt.Stack(len(durations), fmt.StackCoding.TALL, 8))
    assert back == anim and back.loop == loop


@given(st.lists(st.integers(0, 2**32 - 1), min_size=3, max_size=3),
       st.none() | st.integers(0, 2**32 - 2))
def test_encode_stack_round_trips_any_timing(durations: list[int], loop: int | None) -> None:
    data = svdcodec.encode_stack(frames(), coding="frames", rank=1, durations=durations,
                                 loop=loop)
    info = svdcodec.read_header(data)
    assert (list(info.durations or ()), info.loop) == (durations, loop)


def test_golden_animation_vectors() -> None:
    tall = svdcodec.read_header(VECTORS / "anim-stack-tall-rgb-patch-q50.svdi")
    assert (tall.durations, tall.loop, tall.frames) == ((100, 40, 0), 0, 3)
    frames_ = svdcodec.read_header(VECTORS / "anim-stack-frames-l-int8-rank3-noloop.svdi")
    assert (frames_.durations, frames_.loop, frames_.frames) == ((70, 70, 70), None, 3)
    body = [b for t, b in split((VECTORS / "anim-stack-frames-l-int8-rank3-noloop.svdi")
                                .read_bytes()) if t == b"anim"]
    assert body == [struct.pack("<4I", fmt.LOOP_UNSET, 70, 70, 70)]


# --- hostile anim chunks (spec section 16: rules 1-3, CorruptError; section 3 framing) -------
def _with_anim(body: bytes, at: int = 2, data: bytes | None = None) -> bytes:
    chunks = split(stack_file(None, None) if data is None else data)
    chunks.insert(at, (b"anim", body))
    return build(chunks)


@given(st.binary(max_size=40).filter(lambda b: len(b) != 16))
def test_anim_of_any_other_length_is_corrupt(body: bytes) -> None:
    with pytest.raises(svdcodec.CorruptError, match="anim length"):
        svdcodec.read_header(_with_anim(body))


@given(st.binary(min_size=16, max_size=16))
def test_anim_of_the_right_length_decodes_whatever_its_values(body: bytes) -> None:
    info = svdcodec.read_header(_with_anim(body))
    loop, *durations = struct.unpack("<4I", body)
    assert info.durations == tuple(durations)
    assert info.loop == (None if loop == fmt.LOOP_UNSET else loop)


def test_anim_in_a_single_image_is_corrupt() -> None:
    single = svdcodec.encode(frames(1)[0], rank=1)
    with pytest.raises(svdcodec.CorruptError, match="single image"):
        svdcodec.decode(_with_anim(struct.pack("<2I", 0, 100), at=1, data=single))


def test_anim_before_frms_is_read_as_in_a_single_image() -> None:
    """Section 16 rule 2: FRMS is the second chunk, so an anim in second place is in no
    stack yet (and FRMS after it would break 14.1 rule 1: the same class)."""
    with pytest.raises(svdcodec.CorruptError, match="single image"):
        svdcodec.read_header(_with_anim(struct.pack("<4I", 0, 1, 2, 3), at=1))


def test_anim_after_the_payload_chunks_is_read() -> None:
    """Ancillary chunks may stand anywhere between HEAD and IEND (section 3, rule 2)."""
    chunks = split(stack_file(None, None))
    data = _with_anim(struct.pack("<4I", 5, 1, 2, 3), at=len(chunks) - 1)
    assert svdcodec.read_header(data).durations == (1, 2, 3)
    np.testing.assert_array_equal(svdcodec.decode_stack(data),
                                  svdcodec.decode_stack(stack_file(None, None)))


def test_duplicate_anim_is_corrupt() -> None:
    body = struct.pack("<4I", 0, 1, 2, 3)
    with pytest.raises(svdcodec.CorruptError, match="duplicate anim"):
        svdcodec.read_header(_with_anim(body, data=_with_anim(body)))


def test_anim_counts_towards_the_metadata_limit() -> None:
    """Section 9: the metadata limit comes before anim's own checks."""
    bad = _with_anim(b"\0" * 20)  # a wrong length too
    with pytest.raises(svdcodec.LimitError):
        svdcodec.read_header(bad, limits=svdcodec.Limits(max_metadata_bytes=12))
    with pytest.raises(svdcodec.CorruptError):
        svdcodec.read_header(bad)


def _anim_offset(data: bytes) -> int:
    return next(c.offset for c in fmt.unpack(data, svdcodec.Limits()).chunks
                if c.type == "anim")


@pytest.mark.parametrize("cut", range(1, 28))
def test_cut_in_the_anim_chunk_is_truncated(cut: int) -> None:
    """A stack cut inside its anim chunk (12 + 16 bytes after FRMS) is not salvaged."""
    data = stack_file()
    start = _anim_offset(data)
    for allow in (False, True):
        with pytest.raises(svdcodec.TruncatedError):
            svdcodec.decode(data[:start + cut], allow_truncated=allow)


@pytest.mark.parametrize("offset", range(8, 28))
def test_flipped_byte_in_anim_fails_its_crc(offset: int) -> None:
    data = bytearray(stack_file())
    start = _anim_offset(bytes(data))
    data[start + offset] ^= 0x10
    with pytest.raises(svdcodec.ChecksumError):
        svdcodec.read_header(bytes(data))


def test_encoder_refuses_an_anim_that_decoders_refuse() -> None:
    """A frames stack at the chunk limit has no room for anim: ValueError, not a file that
    svdcodec.decode refuses (section 8)."""
    n = 997  # HEAD, FRMS, IEND and 997 FACT chunks: the limit of 1000
    many = np.zeros((n, 2, 2), np.uint8)
    assert svdcodec.read_header(svdcodec.encode_stack(many, coding="frames", rank=1)).frames == n
    with pytest.raises(ValueError, match="anim"):
        svdcodec.encode_stack(many, coding="frames", rank=1, durations=10)
