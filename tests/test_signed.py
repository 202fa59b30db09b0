"""Mode 6, ``I;16S``: signed 16-bit grey, coded as ``I;16`` of u = sample + 32768 (spec
section 15.1), through the codec, Pillow and the command line."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import svdcodec
from svdcodec import format as fmt
from svdcodec.cli import main
from svdcodec.format.chunks import walk

OPTIONS = [
    {"quality": 60},  # patch, arith
    {"quality": 60, "entropy": "zstd"},
    {"quality": 20, "patch_size": 4},
    {"rank": 5},  # per-channel int8
    {"rank": 5, "factors": "float16"},
    {"rank": 3, "layout": "stacked"},
    {"rank": 3, "layout": "stacked-vertical", "factors": "float16"},
    {"target_psnr": 60.0},
    {"target_size": 400},
]


def ct_slice(h: int = 24, w: int = 40) -> np.ndarray:
    """Air at -1000 with a negative ramp, a disc of tissue near 0, a bright insert."""
    yy, xx = np.mgrid[:h, :w]
    x = -1000.0 - 20 * xx + np.zeros((h, w))
    disc = (yy - h // 2) ** 2 + (xx - w // 2) ** 2 < (h // 3) ** 2
    x[disc] = 30 + 2 * yy[disc]
    x[2:5, 3:7] = 1500
    noise = np.random.default_rng(15).normal(0, 6, (h, w))
    return np.rint(x + noise).astype(np.int16)


def offset(image: np.ndarray) -> np.ndarray:
    return (image.astype(np.int32) + 32768).astype(np.uint16)


def with_mode(data: bytes, mode: int) -> bytes:
    """``data`` with HEAD's mode byte replaced (its CRC recomputed)."""
    head = next(walk(data))
    body = bytearray(head.body)
    body[8] = mode
    return data[:head.offset] + fmt.pack_chunk(b"HEAD", bytes(body)) + data[head.end:]


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(f"{k}={v}" for k, v in
                                                                     o.items()))
def test_signed_is_unsigned_of_offset_samples_byte_for_byte(options: dict) -> None:
    """Section 15.1, the encoder side: the file of an int16 image is the file of u with mode 6
    in HEAD, in every layout and payload; the decode is u - 32768 as int16."""
    image = ct_slice()
    signed = svdcodec.encode(image, **options)
    assert signed == with_mode(svdcodec.encode(offset(image), **options), fmt.Mode.I16S)
    out = svdcodec.decode(signed)
    assert out.dtype == np.int16 and out.shape == image.shape
    np.testing.assert_array_equal(out.astype(np.int32),
                                  svdcodec.decode(with_mode(signed, fmt.Mode.I16)).astype(
                                      np.int32) - 32768)
    assert svdcodec.read_header(signed).mode == "I;16S"


def test_signed_extremes_survive_at_high_quality() -> None:
    image = np.array([[-32768, 32767] * 8] * 16, np.int16)
    image[::2] = image[::2, ::-1]
    out = svdcodec.decode(svdcodec.encode(image, rank=16, factors="float16"))
    assert np.abs(out.astype(np.int32) - image).max() <= 64
    assert out.min() < -32000 and out.max() > 32000
    flat = np.full((8, 8), -32768, np.int16)
    out = svdcodec.decode(svdcodec.encode(flat, quality=50))  # the DC step is 1/20 of the range
    assert out.dtype == np.int16 and np.abs(out.astype(np.int32) - flat).max() <= 0.01 * 65535


def test_signed_reduce_and_rank() -> None:
    image = ct_slice()
    data = svdcodec.encode(image, rank=6)
    small = svdcodec.decode(data, reduce=2)
    assert small.dtype == np.int16 and small.shape == (12, 20)
    full = svdcodec.decode(data).astype(np.float64)
    means = full.reshape(12, 2, 20, 2).mean(axis=(1, 3))  # the means of 2 x 2 blocks
    assert np.abs(small - means).max() <= 1
    assert svdcodec.decode(data, rank=1).dtype == np.int16


def test_signed_salvage_leaves_missing_samples_at_minus_32768() -> None:
    """Section 7.1 on u: samples no group contributes to are u = 0, sample -32768."""
    data = svdcodec.encode(ct_slice(), rank=4)
    fact = next(c for c in walk(data) if c.type == b"FACT")
    cut = data[:fact.offset + 12 + fmt.FACT.size + 2]  # the frame's header only
    np.testing.assert_array_equal(svdcodec.decode(cut, allow_truncated=True),
                                  np.full((24, 40), -32768, np.int16))


def test_int16_of_other_byte_order_gives_the_same_bytes() -> None:
    image = ct_slice()
    assert svdcodec.encode(image.astype(">i2")) == svdcodec.encode(image)


@pytest.mark.parametrize(("array", "error"), [
    (np.zeros((4, 4, 3), np.int16), ValueError),  # one channel only
    (np.zeros((4, 4), np.int32), TypeError),
    (np.zeros((4, 4), np.int8), TypeError)])
def test_other_signed_arrays_are_refused(array: np.ndarray, error: type) -> None:
    with pytest.raises(error):
        svdcodec.encode(array)


@settings(deadline=None, max_examples=60)
@given(image=st.integers(1, 30).flatmap(lambda h: st.integers(1, 30).flatmap(
    lambda w: st.sampled_from(["ramp", "extremes", "noise"]).map(lambda kind: (h, w, kind)))),
    quality=st.floats(0, 100), layout=st.sampled_from(["patch", "per-channel"]))
def test_signed_round_trip_error_matches_the_unsigned(image: tuple[int, int, str],
                                                      quality: float, layout: str) -> None:
    """Any int16 image decodes exactly as its offset uint16 image does, shifted back."""
    h, w, kind = image
    yy, xx = np.mgrid[:h, :w]
    if kind == "ramp":  # negative ramps through 0
        x = 400 - 1500 * xx - 900 * yy
    elif kind == "extremes":
        x = np.where((xx + yy) % 2, 32767, -32768)
    else:
        x = np.random.default_rng(h * 31 + w).integers(-32768, 32768, (h, w))
    signed = np.clip(x, -32768, 32767).astype(np.int16)
    options = {"layout": layout, "quality": quality}
    out = svdcodec.decode(svdcodec.encode(signed, **options))
    expected = svdcodec.decode(svdcodec.encode(offset(signed), **options))
    np.testing.assert_array_equal(out.astype(np.int32) + 32768, expected)


# --- Pillow: mode I, raw mode I;16S --------------------------------------------------------------
def test_pillow_opens_signed_as_mode_i_and_saves_it_back() -> None:
    image = ct_slice()
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "SVDI", quality=80)  # int16 -> Pillow mode I
    assert svdcodec.read_header(buffer.getvalue()).mode == "I;16S"
    buffer.seek(0)
    with Image.open(buffer) as im:
        assert im.mode == "I" and im.size == (40, 24)
        pixels = np.asarray(im)
    np.testing.assert_array_equal(pixels, svdcodec.decode(buffer.getvalue()))
    assert pixels.min() < -1000 < 1000 < pixels.max()


def test_pillow_draft_of_signed() -> None:
    buffer = io.BytesIO(svdcodec.encode(ct_slice(), rank=4))
    with Image.open(buffer) as im:
        im.draft(None, (20, 12))
        assert im.size == (20, 12) and im.mode == "I"
        assert np.asarray(im).min() < 0


@pytest.mark.parametrize(("values", "stored"), [((0, 65535), "I;16"), ((-32768, 32767), "I;16S"),
                                                ((-5, 5), "I;16S"), ((0, 1), "I;16")])
def test_pillow_saves_mode_i_in_the_mode_its_values_fit(values: tuple[int, int],
                                                        stored: str) -> None:
    im = Image.fromarray(np.array([values * 4] * 8, np.int32))
    buffer = io.BytesIO()
    im.save(buffer, "SVDI", rank=2)
    assert svdcodec.read_header(buffer.getvalue()).mode == stored


@pytest.mark.parametrize("values", [(-1, 40000), (-40000, 0), (0, 70000)])
def test_pillow_refuses_mode_i_beyond_both_ranges(values: tuple[int, int]) -> None:
    im = Image.fromarray(np.array([values * 4] * 8, np.int32))
    with pytest.raises(OSError, match=r"fit neither 0 \.\. 65535 \(I;16\) nor -32768"):
        im.save(io.BytesIO(), "SVDI")


# --- the command line ------------------------------------------------------------------------
def test_cli_signed_tiff_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src, svdi, back = tmp_path / "ct.tif", tmp_path / "ct.svdi", tmp_path / "back.tif"
    image = ct_slice()
    Image.fromarray(image.astype(np.int32)).save(src)  # a 32-bit signed TIFF
    assert main(["encode", str(src), str(svdi), "--quality", "90"]) == 0
    assert svdcodec.read_header(svdi).mode == "I;16S"
    assert main(["decode", str(svdi), str(back)]) == 0
    with Image.open(back) as im:
        assert im.mode == "I"
        np.testing.assert_array_equal(np.asarray(im), svdcodec.read(svdi))
    capsys.readouterr()
    assert main(["decode", str(svdi), str(tmp_path / "back.png")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("svdcodec: error: ") and "signed 16-bit" in err and ".tif" in err
    assert not (tmp_path / "back.png").exists()


# --- bits: quality relative to the samples' significant bits ----------------------------------
def test_bits_scales_quality_to_the_values_held() -> None:
    """A 12-bit image in 16-bit samples: with bits=12, quality q gives errors about 16 times
    smaller than with all 16 bits; the default is bits=16 (the same bytes)."""
    image = (ct_slice(48, 64).astype(np.int32) + 1024).clip(0, 4095).astype(np.uint16)
    errors = {}
    for bits in (None, 16, 12):
        data = svdcodec.encode(image, quality=70, bits=bits)
        errors[bits] = float(np.abs(svdcodec.decode(data).astype(np.int32) - image).max())
    assert svdcodec.encode(image, quality=70) == svdcodec.encode(image, quality=70, bits=16)
    assert errors[12] * 4 < errors[16] == errors[None]


def test_bits_sets_the_peak_of_target_psnr() -> None:
    image = ct_slice(48, 64)
    out = svdcodec.decode(svdcodec.encode(image, target_psnr=45.0, bits=12))
    assert svdcodec.metrics.psnr(image, out, max_value=4095) >= 45.0 - 0.05
    # whole-image layouts: the rank is chosen for that peak (float16: section 15.1's floor)
    ranks = {bits: svdcodec.read_header(svdcodec.encode(image, target_psnr=45.0, bits=bits,
                                                         factors="float16")).ranks[0]
             for bits in (None, 12)}
    assert ranks[12] > ranks[None]


@pytest.mark.parametrize(("array", "bits"), [(np.zeros((4, 4), np.uint8), 9),
                                             (np.zeros((4, 4), np.int16), 17),
                                             (np.zeros((4, 4), np.uint16), 0),
                                             (np.zeros((4, 4), np.uint16), 12.0),
                                             (np.zeros((4, 4), np.uint16), True)])
def test_bits_out_of_range_is_a_caller_mistake(array: np.ndarray, bits: object) -> None:
    with pytest.raises(ValueError, match="bits must be an int"):
        svdcodec.encode(array, bits=bits)


def test_lessons_take_signed_images(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """compare and spectrum on a signed TIFF: the u = sample + 32768 its layouts code, noted."""
    src = tmp_path / "ct.tif"
    Image.fromarray(ct_slice().astype(np.int32)).save(src)
    capsys.readouterr()
    assert main(["compare", str(src), "--no-ssim", "--ranks", "2,4", "--json"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["mode"] == "I;16" and "I;16S" in out.err
    assert main(["spectrum", str(src)]) == 0
