"""Image stacks (spec section 14, issue 15): encode_stack, decode(frame=k), decode_stack,
read_header().frames / .stack_coding, verify, for every stack coding."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import svdcodec
from svdcodec import format as fmt
from svdcodec.format.chunks import walk
from svdcodec.progress import UNITS
from svdcodec.stack.auto import mean_psnr
from svdcodec.stack.codings import frame_pitch

CODINGS = ("frames", "tall", "snapshot")


def faces(n: int, h: int, w: int, c: int | None = None, seed: int = 0) -> np.ndarray:
    """N related frames: a moving blob on a gradient, with a little noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:h, :w]
    out = []
    for k in range(n):
        cy, cx = h * (0.3 + 0.4 * k / max(n - 1, 1)), w * 0.5
        blob = 120 * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (0.1 * h * w + 1))
        frame = 40 + 80 * x / max(w - 1, 1) + blob + rng.normal(0, 2, (h, w))
        planes = [frame * (1 - 0.15 * i) for i in range(c or 1)]
        out.append(np.clip(np.stack(planes, -1), 0, 255).astype(np.uint8))
    stack = np.stack(out)
    return stack[..., 0] if c is None else stack


@functools.cache
def stack_file(coding: str, colour: bool) -> bytes:
    frames = faces(4, 19, 23, 3 if colour else None)
    return svdcodec.encode_stack(frames, coding=coding)


@pytest.mark.parametrize("colour", [False, True])
@pytest.mark.parametrize("coding", CODINGS)
def test_every_coding_round_trips_frame_by_frame(coding: str, colour: bool) -> None:
    frames = faces(4, 19, 23, 3 if colour else None)
    data = stack_file(coding, colour)
    info = svdcodec.read_header(data)
    assert (info.frames, info.stack_coding, info.size) == (4, coding, (23, 19))
    assert info.layout == ("snapshot" if coding == "snapshot" else "patch")
    stack = svdcodec.decode_stack(data)
    assert stack.shape == frames.shape and stack.dtype == np.uint8
    assert mean_psnr(frames, stack) > 28
    for k in range(4):
        np.testing.assert_array_equal(svdcodec.decode(data, frame=k), stack[k])
    np.testing.assert_array_equal(svdcodec.decode(data), stack[0])  # frame None: frame 0
    svdcodec.verify(data)


@pytest.mark.parametrize("coding", CODINGS)
def test_frms_is_the_critical_second_chunk(coding: str) -> None:
    """Section 14.1 / 10: an old decoder meets FRMS (or layout 5) and refuses the stack."""
    chunks = list(walk(stack_file(coding, False)))
    assert [c.type for c in chunks[:2]] == [fmt.ChunkType.HEAD, fmt.ChunkType.FRMS]
    assert fmt.is_critical(fmt.ChunkType.FRMS)
    count, pitch, code, flags, reserved = fmt.FRMS.unpack(chunks[1].body)
    assert (count, code, flags, reserved) == (4, fmt.STACK_CODING_BY_NAME[coding], 0, 0)
    assert pitch == (24 if coding == "tall" else 0)  # 19 rows rounded up to 8 (grey)


def test_frames_coding_restarts_indexes_per_frame() -> None:
    data = svdcodec.encode_stack(faces(3, 8, 8, 3), coding="frames", rank=2)
    fields = [fmt.FACT.unpack_from(c.body)[0] for c in walk(data) if c.type == b"FACT"]
    assert fields == [0, 1, 2] * 3


def test_tall_pitch_keeps_patches_and_chroma_inside_frames() -> None:
    rgb = faces(2, 19, 5, 3)
    assert frame_pitch(rgb, {}) == 32  # 2 x 8 for 4:2:0 chroma
    assert frame_pitch(rgb, {"colour": "none"}) == 24
    assert frame_pitch(rgb, {"patch_size": 4}) == 24
    assert frame_pitch(rgb, {"rank": 2}) == 19  # whole-image layouts: no padding


def test_tall_with_a_whole_image_layout(tmp_path: Path) -> None:
    """Section 14.3: layouts 1-3 code the tall image too, with Hp = H (no padding)."""
    frames = faces(3, 9, 11, 3)
    data = svdcodec.encode_stack(frames, coding="tall", rank=6, layout="stacked")
    info = svdcodec.read_header(data)
    assert (info.layout, info.frame_pitch, info.groups[0].rows) == ("stacked", 9, 27)
    stack = svdcodec.decode_stack(data)
    assert mean_psnr(frames, stack) > 25
    (tmp_path / "t.svdi").write_bytes(data)
    np.testing.assert_array_equal(svdcodec.read(tmp_path / "t.svdi", frame=2), stack[2])


def test_snapshot_prefix_is_a_lower_rank_stack() -> None:
    frames = faces(6, 12, 10)
    data = svdcodec.encode_stack(frames, coding="snapshot", rank=5, factors="float16")
    assert svdcodec.read_header(data).ranks == (5,)
    errors = [np.abs(svdcodec.decode_stack(data, rank=r).astype(float) - frames).mean()
              for r in (1, 3, 5)]
    assert errors[0] > errors[1] > errors[2]
    np.testing.assert_array_equal(svdcodec.decode(data, frame=2, rank=3),
                                  svdcodec.decode_stack(data, rank=3)[2])


def test_snapshot_of_rank_one_frames_is_nearly_exact() -> None:
    """Frames that are multiples of one image: X has rank 1, one component decodes them."""
    base = np.add.outer(np.arange(9), np.arange(7)).astype(float) * 3
    frames = np.stack([(base * (k + 1) / 4).round().astype(np.uint8) for k in range(5)])
    data = svdcodec.encode_stack(frames, coding="snapshot", rank=1, factors="float16")
    assert np.abs(svdcodec.decode_stack(data).astype(int) - frames).max() <= 2


@pytest.mark.parametrize("coding", CODINGS)
def test_target_size_bounds_the_whole_file(coding: str) -> None:
    frames = faces(3, 16, 16)
    data = svdcodec.encode_stack(frames, coding=coding, target_size=900)
    assert len(data) <= 900
    assert svdcodec.read_header(data).stack_coding == coding


def test_auto_is_the_smallest_at_equal_quality() -> None:
    frames = faces(5, 16, 16)
    auto = svdcodec.encode_stack(frames, quality=40)
    sizes = {c: len(svdcodec.encode_stack(frames, coding=c, quality=40))
             for c in ("frames", "tall")}
    assert len(auto) <= min(sizes.values())
    assert svdcodec.read_header(auto).stack_coding in CODINGS


@pytest.mark.parametrize("coding", ["auto", *CODINGS])
def test_progress_increases_and_ends_at_its_total(coding: str) -> None:
    seen: list[tuple[int, int]] = []  # progress(done, total), as svdcodec.encode calls it
    svdcodec.encode_stack(faces(3, 12, 12), coding=coding,
                          progress=lambda done, total: seen.append((done, total)))
    done = [d for d, _ in seen]
    assert seen and seen[-1] == (UNITS, UNITS) and {t for _, t in seen} == {UNITS}
    assert done == sorted(set(done)) and 0 < done[0]


def test_sequence_of_arrays_and_one_frame() -> None:
    frames = list(faces(2, 8, 9))
    data = svdcodec.encode_stack(frames, coding="tall")
    assert svdcodec.decode_stack(data).shape == (2, 8, 9)
    one = svdcodec.encode_stack(frames[:1], coding="tall")  # one frame: a plain image
    assert svdcodec.read_header(one).frames == 1
    assert svdcodec.read_header(one).stack_coding is None
    assert svdcodec.decode_stack(one).shape == (1, 8, 9)


def test_sixteen_bit_stacks() -> None:
    frames = (faces(3, 10, 12).astype(np.uint16) * 257)
    for coding in CODINGS:
        data = svdcodec.encode_stack(frames, coding=coding, quality=80)
        out = svdcodec.decode_stack(data)
        assert out.dtype == np.uint16 and out.shape == frames.shape
        assert mean_psnr(frames, out) > 30, coding


@pytest.mark.parametrize(("frames", "options", "error"), [
    ([np.zeros((4, 4), np.uint8), np.zeros((4, 5), np.uint8)], {}, ValueError),
    ([np.zeros((4, 4), np.uint8), np.zeros((4, 4), np.uint16)], {}, ValueError),
    (np.zeros((2, 4), np.uint8), {}, ValueError),
    ([], {}, ValueError),
    ("frames", {}, TypeError),
    (np.zeros((2, 4, 4), np.float32), {}, TypeError),
    (np.zeros((2, 4, 4), np.uint8), {"coding": "mosaic"}, ValueError),
    (np.zeros((2, 4, 4), np.uint8), {"coding": "snapshot", "patch_size": 4}, ValueError),
    (np.zeros((2, 4, 4), np.uint8), {"coding": "snapshot", "layout": "patch"}, ValueError),
    (np.zeros((2, 4, 4), np.uint8), {"coding": "snapshot", "rank": 1, "quality": 3},
     ValueError),
    (np.zeros((1, 4, 4), np.uint8), {"coding": "snapshot"}, ValueError),
])
def test_caller_mistakes(frames: object, options: dict[str, object],
                         error: type[Exception]) -> None:
    with pytest.raises(error):
        svdcodec.encode_stack(frames, **options)  # type: ignore[arg-type]


def test_frame_out_of_range_is_a_caller_mistake() -> None:
    data = stack_file("tall", False)
    for k in (-1, 4, True, 1.0):
        with pytest.raises(ValueError):
            svdcodec.decode(data, frame=k)  # type: ignore[arg-type]
    single = svdcodec.encode(faces(1, 8, 8)[0])
    np.testing.assert_array_equal(svdcodec.decode(single, frame=0), svdcodec.decode(single))
    with pytest.raises(ValueError):
        svdcodec.decode(single, frame=1)


def test_single_images_report_one_frame() -> None:
    info = svdcodec.read_header(svdcodec.encode(faces(1, 8, 8)[0]))
    assert (info.frames, info.stack_coding) == (1, None)


# --- property: structured stacks of every coding ------------------------------------------------
@st.composite
def stacks(draw: st.DrawFn) -> np.ndarray:
    n = draw(st.integers(2, 4))
    h, w = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    c = draw(st.sampled_from([None, 3]))
    kind = draw(st.sampled_from(["flat", "ramp", "specks"]))
    value = draw(st.integers(0, 255))
    shape = (n, h, w) + (() if c is None else (c,))
    if kind == "flat":
        return np.full(shape, value, np.uint8)
    if kind == "ramp":
        ramp = np.add.outer(np.arange(h), np.arange(w)) * 7 + value
        frames = np.stack([ramp + 11 * k for k in range(n)]) % 256
        frames = frames if c is None else np.repeat(frames[..., None], c, -1)
        return frames.astype(np.uint8)
    frames = np.zeros(shape, np.uint8)
    rng = np.random.default_rng(value)
    frames[rng.random(shape) < 0.1] = 255
    return frames


@settings(max_examples=25, deadline=None)
@given(stacks(), st.sampled_from(CODINGS))
def test_structured_stacks_round_trip(frames: np.ndarray, coding: str) -> None:
    data = svdcodec.encode_stack(frames, coding=coding, quality=90)
    info = svdcodec.read_header(data)
    assert (info.frames, info.stack_coding) == (len(frames), coding)
    out = svdcodec.decode_stack(data)
    assert out.shape == frames.shape and out.dtype == frames.dtype
    k = len(frames) - 1
    np.testing.assert_array_equal(svdcodec.decode(data, frame=k), out[k])
    svdcodec.verify(data)
    if np.all(frames == frames.flat[0]):  # flat stacks decode almost exactly
        assert np.abs(out.astype(int) - frames).max() <= 2


def test_open_svdi_decodes_a_tall_stack_once_for_all_frames(monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    """A viewer stepping through a tall stack (Pillow's seek) decodes the coded image once."""
    from svdcodec import svdifile

    data = stack_file("tall", True)
    opened = svdifile.open_svdi(data)
    calls = []
    real = svdifile.decode_stack_container
    monkeypatch.setattr(svdifile, "decode_stack_container",
                        lambda *a: calls.append(1) or real(*a))
    frames = [opened.decode(frame=k) for k in (1, 2, 3, 1)]
    assert len(calls) == 1
    stack = svdcodec.decode_stack(data)
    for k, frame in zip((1, 2, 3, 1), frames, strict=True):
        np.testing.assert_array_equal(frame, stack[k])
    with pytest.raises(ValueError):
        opened.decode(frame=4)


# --- auto and the caller's mistakes (QA of issue 15) -----------------------------------------
@pytest.mark.parametrize(("options", "message"), [
    ({"rank": 2, "layout": "patch"}, "options of the whole-image layouts"),
    ({"rank": 0}, "rank must be"),
    ({"layout": "patch", "factors": "int8"}, "options of the whole-image layouts"),
    ({"quality": 200}, "quality must be in 0..100"),
    ({"entropy": "bogus"}, "entropy must be one of"),
    ({"patch_size": 5}, "patch_size must be one of"),
    ({"subsampling": 3}, "subsampling must be"),
])
def test_auto_reports_the_callers_mistake(options: dict[str, object], message: str) -> None:
    """coding='auto' tries every coding; when none accepts the options it raised KeyError
    ('target_size') or ValueError('min() arg is an empty sequence'): the caller must read
    what is wrong with the options, as coding='frames' says it."""
    frames = faces(2, 8, 8)
    with pytest.raises(ValueError, match=message):
        svdcodec.encode_stack(frames, coding="auto", **options)  # type: ignore[arg-type]


@settings(max_examples=15, deadline=None)
@given(quality=st.one_of(st.integers(-50, -1), st.integers(101, 500)),
       coding=st.sampled_from(("auto", "frames", "tall", "snapshot")))
def test_every_coding_refuses_a_bad_quality_alike(quality: int, coding: str) -> None:
    with pytest.raises(ValueError, match=r"quality must be in 0\.\.100"):
        svdcodec.encode_stack(faces(2, 8, 8), coding=coding, quality=quality)


def test_auto_names_the_callers_target_size() -> None:
    with pytest.raises(ValueError, match=r"^target_size 60 is below the smallest file any "
                                         r"stack coding makes of these frames \([\d,]+ bytes"):
        svdcodec.encode_stack(faces(3, 16, 16), coding="auto", target_size=60)


def _unequal(n: int, h: int, w: int) -> np.ndarray:
    """Frames of unequal detail: a flat one, then noisier ones (their smallest files differ)."""
    rng = np.random.default_rng(5)
    return np.stack([np.full((h, w), 90) + rng.integers(0, 1 + 60 * k, (h, w))
                     for k in range(n)]).astype(np.uint8)


@pytest.mark.parametrize("coding", ["auto", "frames", "tall", "snapshot"])
@pytest.mark.parametrize("make", [faces, _unequal])
def test_a_target_size_too_small_names_it_and_the_smallest_that_is_met(
        coding: str, make: Callable[[int, int, int], np.ndarray]) -> None:
    """The error names the caller's target_size, never a coding's share of it ('target_size
    61 ... target_size 51 ...'), and the smallest target that is met: that one encodes, one
    byte less is refused again."""
    frames = make(3, 16, 20)
    with pytest.raises(ValueError) as refused:
        svdcodec.encode_stack(frames, coding=coding, target_size=61)
    message = str(refused.value)
    assert re.findall(r"target_size (\d+)", message) == ["61"], message
    smallest = int(re.search(r"\(([\d,]+) bytes", message)[1].replace(",", ""))  # type: ignore[index]
    assert len(svdcodec.encode_stack(frames, coding=coding, target_size=smallest)) <= smallest
    with pytest.raises(ValueError, match=rf"target_size {smallest - 1} is below .*\({smallest:,} "
                                         rf"bytes"):
        svdcodec.encode_stack(frames, coding=coding, target_size=smallest - 1)


# --- many frames and section 8's chunk limit ---------------------------------------------------
def test_auto_encodes_more_frames_than_the_chunk_limit_allows_runs() -> None:
    """340 RGB frames: coding='frames' needs 3 chunks per frame, 1024 in all, above section
    8's 1000; auto measured every candidate with the default decoder, whose LimitError
    escaped: any GIF of 334 colour frames (999 grey) failed to encode. It must pick a coding
    whose file the default decoder reads."""
    frames = np.stack([faces(1, 4, 4, 3, seed=k)[0] for k in range(340)])
    data = svdcodec.encode_stack(frames, coding="auto")
    info = svdcodec.read_header(data)
    assert info.frames == 340 and info.stack_coding != "frames"
    assert svdcodec.decode_stack(data).shape == frames.shape


@pytest.mark.parametrize(("n", "c"), [(999, None), (334, 3), (250, 4)])
def test_frames_coding_refuses_a_file_the_default_decoder_would_refuse(
        n: int, c: int | None) -> None:
    """coding='frames' wrote files of more than 1000 chunks, which svdcodec.decode with the
    default limits refuses (LimitError): the encoder says so instead."""
    frames = np.zeros((n, 2, 2, c or 1), np.uint8)
    with pytest.raises(ValueError, match="chunk limit"):
        svdcodec.encode_stack(frames[..., 0] if c is None else frames, coding="frames",
                              quality=10)


@settings(max_examples=8, deadline=None)
@given(n=st.integers(2, 400), c=st.sampled_from([None, 3]), meta=st.booleans())
def test_frames_coding_files_stay_within_the_default_limits(n: int, c: int | None,
                                                             meta: bool) -> None:
    frames = np.zeros((n, 2, 2, c or 1), np.uint8)
    frames = frames[..., 0] if c is None else frames
    options = {"icc_profile": b"x" * 10, "xmp": "<x/>"} if meta else {}
    try:
        data = svdcodec.encode_stack(frames, coding="frames", quality=10, **options)
    except ValueError as exc:
        assert "chunk limit" in str(exc)
        return
    assert svdcodec.decode(data, frame=n - 1).shape == frames.shape[1:]


@pytest.fixture()
def small_pixel_limit() -> Iterator[int]:
    """Default limits of 2,000 pixels (section 14.5 counts N·W·H), restored afterwards."""
    previous = svdcodec.set_default_limits(max_pixels=2000)
    try:
        yield 2000
    finally:
        svdcodec.set_default_limits(previous)


@pytest.mark.parametrize("coding", ["auto", "frames", "tall", "snapshot"])
def test_no_coding_writes_a_stack_above_the_pixel_limit(small_pixel_limit: int,
                                                        coding: str) -> None:
    """Section 14.5: a decoder refuses N·W·H above its pixel limit when FRMS is read. The
    encoder wrote such stacks (a default decoder then refused them; auto's measuring decode
    raised LimitError): it refuses them, naming the limit."""
    frames = faces(9, 15, 15)  # 2,025 pixels
    with pytest.raises(ValueError, match=r"the pixel limit of spec section 14\.5") as raised:
        svdcodec.encode_stack(frames, coding=coding, quality=30)
    assert not isinstance(raised.value, svdcodec.SvdiError)


def test_auto_skips_tall_when_its_padded_image_is_above_the_limit(
        small_pixel_limit: int) -> None:
    """Section 14.5 also bounds the tall coded image (N·Hp·W): 8 frames of 16x15 are 1,920
    pixels, but tall pads each to 16 rows, 2,048: tall is refused and auto takes another."""
    frames = faces(8, 15, 16)  # 1,920 pixels; tall pads 15 rows to 16: 2,048
    with pytest.raises(ValueError, match=r"the pixel limit of spec section 14\.5"):
        svdcodec.encode_stack(frames, coding="tall", quality=30)
    data = svdcodec.encode_stack(frames, coding="auto", quality=30)
    assert svdcodec.read_header(data).stack_coding != "tall"
    assert svdcodec.decode_stack(data).shape == frames.shape


def test_auto_measures_a_stack_whose_whole_output_is_above_the_allocation_limit() -> None:
    """decode_stack counts N·W·H·C bytes against the allocation limit (14.5), decode(frame=k)
    one frame: a valid stack can be above the first and not the second. auto measured its
    candidates with decode_stack under the default limits, and its LimitError escaped. It
    must measure regardless, and keep only files whose frames the default decoder reads."""
    frames = faces(40, 16, 16, 4)  # 40,960 bytes of samples
    previous = svdcodec.set_default_limits(max_alloc_bytes=30_000)
    try:
        with pytest.raises(svdcodec.LimitError):
            svdcodec.decode_stack(svdcodec.encode_stack(frames, coding="frames", rank=2))
        data = svdcodec.encode_stack(frames, coding="auto", rank=2)
        for k in (0, 39):
            assert svdcodec.decode(data, frame=k).shape == frames.shape[1:]
    finally:
        svdcodec.set_default_limits(previous)


# --- property: every coding x mode x option: a file within its options, or a ValueError -------
OPTION_SETS = st.one_of(
    st.just({}), st.builds(dict, quality=st.integers(0, 100)),
    st.builds(dict, rank=st.integers(1, 4)), st.builds(dict, energy=st.floats(0.5, 0.999)),
    st.builds(dict, target_psnr=st.floats(15, 60)),
    st.builds(dict, target_size=st.integers(150, 2500)),
    st.builds(dict, patch_size=st.sampled_from([4, 8, 16])), st.just({"entropy": "zstd"}),
    st.builds(dict, subsampling=st.sampled_from([1, 2])),
    st.builds(dict, layout=st.sampled_from(["stacked", "stacked-vertical"]), rank=st.just(2)),
    st.just({"rank": 2, "progressive": True, "factors": "float16"}))


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 4), h=st.integers(1, 14), w=st.integers(1, 14),
       mode=st.sampled_from(["L", "LA", "RGB", "RGBA", "I;16"]), options=OPTION_SETS,
       coding=st.sampled_from(("auto", *CODINGS)), seed=st.integers(0, 99))
def test_every_coding_mode_and_option(n: int, h: int, w: int, mode: str,
                                      options: dict[str, object], coding: str,
                                      seed: int) -> None:
    channels = {"L": None, "LA": 2, "RGB": 3, "RGBA": 4, "I;16": None}[mode]
    frames = faces(n, h, w, channels, seed=seed)
    if mode == "I;16":
        frames = frames.astype(np.uint16) * 257
    try:
        data = svdcodec.encode_stack(frames, coding=coding, **options)  # type: ignore[arg-type]
    except ValueError as exc:  # the options do not fit this coding: said, not crashed
        assert not isinstance(exc, svdcodec.SvdiError)
        return
    out = svdcodec.decode_stack(data)
    assert out.shape == frames.shape and out.dtype == frames.dtype
    np.testing.assert_array_equal(svdcodec.decode(data, frame=n - 1), out[n - 1])
    svdcodec.verify(data)
    if "target_size" in options:
        assert len(data) <= options["target_size"]  # type: ignore[operator]


@pytest.fixture()
def small_alloc_limit() -> Iterator[int]:
    """Default limits of 30,000 bytes of allocation, restored afterwards."""
    previous = svdcodec.set_default_limits(max_alloc_bytes=30_000)
    try:
        yield 30_000
    finally:
        svdcodec.set_default_limits(previous)


def test_explicit_tall_refuses_a_coded_image_above_the_allocation_limit(
        small_alloc_limit: int) -> None:
    """Section 14.5 counts one frame of a tall stack as its whole coded image: 40 frames of
    16x16 RGBA make a coded image of 121,056 bytes to decode at rank 2. coding='tall' wrote
    it, and decode(frame=0) with the same default limits refused it (LimitError); auto
    skipped it. The explicit coding refuses it too, naming the limit and another coding."""
    frames = faces(40, 16, 16, 4)
    with pytest.raises(ValueError, match=r"coding='tall'.*limit 30000.*coding='frames'") \
            as raised:
        svdcodec.encode_stack(frames, coding="tall", rank=2)
    assert not isinstance(raised.value, svdcodec.SvdiError)
    data = svdcodec.encode_stack(frames, coding="frames", rank=2)  # one frame: 1,024 bytes
    assert svdcodec.decode(data, frame=0).shape == frames.shape[1:]


@settings(max_examples=12, deadline=None)
@given(n=st.integers(2, 12), side=st.integers(4, 16), coding=st.sampled_from(CODINGS),
       options=st.sampled_from([{"rank": 2}, {"rank": 6}, {"quality": 40}]),
       alloc=st.integers(5_000, 200_000))
def test_an_explicit_coding_writes_only_stacks_whose_frames_decode(
        n: int, side: int, coding: str, options: dict[str, int], alloc: int) -> None:
    """Whatever the coding and the default limits, encode_stack refuses (a plain
    ValueError) or writes a file whose first and last frames decode with those limits."""
    frames = faces(n, side, side, 3)
    previous = svdcodec.set_default_limits(max_alloc_bytes=alloc)
    try:
        try:
            data = svdcodec.encode_stack(frames, coding=coding, **options)
        except ValueError as exc:
            assert not isinstance(exc, svdcodec.SvdiError)
            assert "limit" in str(exc)
            return
        for k in (0, n - 1):
            assert svdcodec.decode(data, frame=k).shape == frames.shape[1:]
    finally:
        svdcodec.set_default_limits(previous)
