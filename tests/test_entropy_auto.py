"""entropy="auto" (the default): the patch layout's quantized coefficients coded as the arith
payload and as the zstd payload, the smaller file kept. Same coefficients either way, so the
decoded image is the arith file's; never larger than it; zstd where repeats make it smaller."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from content import KINDS
from content import structured as _structured
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

import svdcodec
from svdcodec import _zstd
from svdcodec import format as fmt
from svdcodec.cli import main
from svdcodec.limits import Limits
from svdcodec.patch import codec as patchcodec
from svdcodec.patch import entropy as patchentropy
from svdcodec.patch import limits as patchlimits


def structured(kind: str, h: int, w: int, c: int, seed: int) -> np.ndarray:
    """content.structured, (h, w) for one channel."""
    x = _structured(kind, h, w, c, seed)
    return x[:, :, 0] if c == 1 else x


def text_image() -> np.ndarray:
    """A 256 x 384 render of a repeated line of text: a screenshot's repeated glyphs."""
    im = Image.new("RGB", (384, 256), "white")
    draw = ImageDraw.Draw(im)
    for i in range(20):
        draw.text((4, 12 * i + 2), "The quick brown fox jumps over the lazy dog 0123",
                  fill=(0, 0, 0))
    return np.asarray(im)


def compression(data: bytes) -> fmt.Compression:
    return fmt.unpack(data, Limits()).header.compression


@settings(deadline=None, max_examples=30)
@given(st.sampled_from(KINDS), st.integers(1, 70), st.integers(1, 70),
       st.sampled_from([1, 3, 4]), st.sampled_from([0, 30, 50, 90]), st.integers(0, 2**16))
def test_auto_is_never_larger_than_arith_and_decodes_alike(kind: str, h: int, w: int, c: int,
                                                           quality: int, seed: int) -> None:
    image = structured(kind, h, w, c, seed)
    auto = svdcodec.encode(image, quality=quality)
    arith = svdcodec.encode(image, quality=quality, entropy="arith")
    assert len(auto) <= len(arith)
    assert np.array_equal(svdcodec.decode(auto), svdcodec.decode(arith))
    assert compression(auto) == (fmt.Compression.ARITH if auto == arith else
                                 fmt.Compression.ZSTD)


@pytest.mark.parametrize("quality", [30, 50, 80])
def test_text_is_coded_as_zstd_many_times_smaller(quality: int) -> None:
    image = text_image()
    auto = svdcodec.encode(image, quality=quality)
    arith = svdcodec.encode(image, quality=quality, entropy="arith")
    assert compression(auto) == fmt.Compression.ZSTD
    assert 3 * len(auto) < len(arith), (len(auto), len(arith))
    assert np.array_equal(svdcodec.decode(auto), svdcodec.decode(arith))


def test_a_photograph_stays_arith() -> None:
    image = structured("photo", 96, 128, 3, 1)
    for quality in (10, 50, 90):
        auto = svdcodec.encode(image, quality=quality)
        assert auto == svdcodec.encode(image, quality=quality, entropy="arith")


def test_explicit_entropy_is_kept() -> None:
    image = text_image()
    assert compression(svdcodec.encode(image, entropy="arith")) == fmt.Compression.ARITH
    assert compression(svdcodec.encode(image, entropy="zstd")) == fmt.Compression.ZSTD
    with pytest.raises(ValueError, match="entropy"):
        svdcodec.encode(image, entropy="best")


def test_auto_stays_arith_above_its_sample_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(patchentropy, "AUTO_MAX_SAMPLES", 1000)
    image = text_image()
    assert compression(svdcodec.encode(image)) == fmt.Compression.ARITH


def test_target_size_with_auto_reaches_its_size() -> None:
    image = text_image()
    data = svdcodec.encode(image, target_size=6000)
    assert len(data) <= 6000
    assert compression(data) == fmt.Compression.ZSTD
    # a size that the arith payload alone would need a much lower quality for
    arith = svdcodec.encode(image, target_size=6000, entropy="arith")
    assert svdcodec.metrics.psnr(image, svdcodec.decode(data)) > \
        svdcodec.metrics.psnr(image, svdcodec.decode(arith)) + 3


def test_a_frames_stack_gets_one_compression() -> None:
    """auto chooses per frame; a stack has one HEAD: frames coded otherwise are coded again."""
    text = text_image()[:64, :64]
    photo = structured("photo", 64, 64, 3, 2)
    frames = np.stack([text, text, photo])
    data = svdcodec.encode_stack(frames, coding="frames")
    decoded = svdcodec.decode_stack(data)
    assert decoded.shape == frames.shape
    kinds = {compression(svdcodec.encode(f)) for f in frames}
    assert kinds == {fmt.Compression.ZSTD, fmt.Compression.ARITH}  # the frames disagree
    assert compression(data) == fmt.Compression.ZSTD  # the smaller stack (two text frames)


def test_cli_entropy_auto(tmp_path: Path) -> None:
    src = tmp_path / "text.png"
    Image.fromarray(text_image()).save(src)
    for entropy, expected in (("auto", fmt.Compression.ZSTD), ("arith", fmt.Compression.ARITH)):
        out = tmp_path / f"{entropy}.svdi"
        assert main(["encode", str(src), str(out), "--entropy", entropy]) == 0
        assert compression(out.read_bytes()) == expected


def test_auto_keeps_arith_where_the_zstd_file_is_above_the_decoders_limits() -> None:
    """The zstd payload's decoder counts the whole plane (section 12.8: about 46 bytes a pixel
    for RGB at 4:4:4), the arith strip decoder about the output: a 6600 x 4000 chart coded by
    auto as zstd was refused by svdcodec.decode with the default limits (LimitError, 1.13e9
    bytes), where its arith file decodes. The same here with the allocation limit lowered."""
    image = text_image()
    zstd = svdcodec.encode(image)
    arith = svdcodec.encode(image, entropy="arith")
    assert compression(zstd) == fmt.Compression.ZSTD
    needs = {name: patchlimits.limit_counts(fmt.unpack(data, Limits()))[1]
             for name, data in (("zstd", zstd), ("arith", arith))}
    assert needs["arith"] < needs["zstd"]
    previous = svdcodec.set_default_limits(max_alloc_bytes=needs["arith"])
    try:
        data = svdcodec.encode(image)
        assert np.array_equal(svdcodec.decode(data), svdcodec.decode(arith))
        # and a tall stack of it (one frame counts as the whole coded image) is written
        stack = svdcodec.encode_stack(np.stack([image[:64], image[64:128]]), coding="tall")
    finally:
        svdcodec.set_default_limits(previous)
    assert compression(data) == fmt.Compression.ARITH
    assert len(svdcodec.decode_stack(stack)) == 2


def test_auto_refuses_zstd_before_compressing_it_where_the_limits_refuse_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Section 12.8's count of a zstd file needs only its planes' fields: where the default
    limits refuse it, auto refuses zstd before the level-19 compression (which on a 6600 x 4000
    chart took seconds to make a file that was then thrown away), and writes the same arith
    file. Above the limits, the text image's zstd planes are compressed as before."""
    image = text_image()
    arith = svdcodec.encode(image, entropy="arith")
    levels: list[int] = []
    compress = _zstd.compress

    def spy(data: bytes, level: int) -> bytes:
        levels.append(level)
        return compress(data, level)

    monkeypatch.setattr(_zstd, "compress", spy)
    assert compression(svdcodec.encode(image)) == fmt.Compression.ZSTD
    assert levels.count(patchcodec.LEVEL) == 3  # Y, Cb and Cr
    levels.clear()
    needs = patchlimits.limit_counts(fmt.unpack(arith, Limits()))[1]
    previous = svdcodec.set_default_limits(max_alloc_bytes=needs)
    try:
        data = svdcodec.encode(image)
    finally:
        svdcodec.set_default_limits(previous)
    assert data == arith
    assert patchcodec.LEVEL not in levels


def test_a_frames_stack_is_never_larger_than_its_arith_stack() -> None:
    """Two frames of bars (zstd 14 % smaller each) outvoted a noisy frame (zstd 29 % larger):
    most frames' choice made the default stack 8,578 bytes, entropy="arith" 7,696."""
    frames = np.stack([_structured("bilevel", 64, 64, 3, 1)] * 2
                      + [_structured("noise", 64, 64, 3, 1)])
    auto = svdcodec.encode_stack(frames, coding="frames")
    arith = svdcodec.encode_stack(frames, coding="frames", entropy="arith")
    assert len(auto) <= len(arith)
    assert compression(auto) == fmt.Compression.ARITH
    assert np.array_equal(svdcodec.decode_stack(auto), svdcodec.decode_stack(arith))


@settings(deadline=None, max_examples=10)
@given(st.lists(st.sampled_from(KINDS), min_size=2, max_size=4), st.integers(0, 2**16),
       st.sampled_from([20, 50, 90]))
def test_any_frames_stack_is_at_most_its_arith_stack(kinds: list[str], seed: int,
                                                     quality: int) -> None:
    frames = np.stack([_structured(kind, 24, 32, 3, seed + i) for i, kind in enumerate(kinds)])
    auto = svdcodec.encode_stack(frames, coding="frames", quality=quality)
    arith = svdcodec.encode_stack(frames, coding="frames", quality=quality, entropy="arith")
    assert len(auto) <= len(arith)


def test_a_frames_stack_at_a_target_size_keeps_its_quality() -> None:
    """At a target_size every frame meets its share whatever the compression: the smaller
    stack is the worse one. Choosing it (as without a target) gave 11.2 dB in 6,888 bytes of
    8,000 where most frames' choice, zstd, gives 32.8 dB in 7,932."""
    frames = np.stack([_structured("bilevel", 64, 64, 3, 1)] * 2
                      + [_structured("noise", 64, 64, 3, 1)])

    def mean_psnr(data: bytes) -> float:
        decoded = svdcodec.decode_stack(data)
        return float(np.mean([svdcodec.metrics.psnr(f, d) for f, d in zip(frames, decoded,
                                                                             strict=True)]))

    auto = svdcodec.encode_stack(frames, coding="frames", target_size=8000)
    assert len(auto) <= 8000
    pinned = [mean_psnr(svdcodec.encode_stack(frames, coding="frames", target_size=8000,
                                              entropy=e)) for e in ("arith", "zstd")]
    assert mean_psnr(auto) >= max(pinned) - 0.5
