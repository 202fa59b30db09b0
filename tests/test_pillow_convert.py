"""Tests for svdcodec.pillow.convert and the input side of the CLI (cli.inputs.load_image): what
an input image becomes when stored, its ICC profile through mode conversions, and multi-frame
inputs."""

from __future__ import annotations

import io
import json
import struct
import sys
from pathlib import Path

import numpy as np
import PIL
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageCms

import svdcodec
from svdcodec.cli import main
from svdcodec.cli.inputs import load_image
from svdcodec.pillow.convert import (
    COLOUR_SPACE,
    one_stored_mode,
    profile_colour_space,
    same_kind,
    storage_mode,
    to_array,
    to_stored,
)

SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
LAB = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
JUNK = b"not an ICC profile"
D50 = (0.9642, 1.0, 0.8249)


# --- ICC profiles made here (ICC.1:2001 v2; LittleCMS must accept them) ----------------------
def _s15(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def _profile(device_class: bytes, space: bytes, pcs: bytes, tags: list[tuple[bytes, bytes]]
             ) -> bytes:
    """Header (128 bytes), tag table, tag data padded to 4 bytes."""
    tags = [(b"desc", _desc(f"svdcodec test {space.decode().strip()}")),
            (b"cprt", b"text" + bytes(4) + b"No copyright, use freely\0"),
            (b"wtpt", b"XYZ " + bytes(4) + b"".join(map(_s15, D50))), *tags]
    offset, table, body = 128 + 4 + 12 * len(tags), b"", b""
    for sig, data in tags:
        data += bytes(-len(data) % 4)
        table += sig + struct.pack(">II", offset + len(body), len(data))
        body += data
    header = (struct.pack(">I", offset + len(body)) + bytes(4) + bytes([2, 0x10, 0, 0])
              + device_class + space + pcs + bytes(12) + b"acsp" + bytes(24)
              + struct.pack(">I", 0) + b"".join(map(_s15, D50)) + bytes(48))
    return header + struct.pack(">I", len(tags)) + table + body


def _desc(text: str) -> bytes:
    ascii_ = text.encode("ascii") + b"\0"
    return b"desc" + bytes(4) + struct.pack(">I", len(ascii_)) + ascii_ + bytes(8 + 3 + 67)


def _lut8(n_in: int, n_out: int, clut: np.ndarray) -> bytes:
    """lut8Type with a 2-point grid per input and identity curves."""
    identity = bytes(range(256))
    matrix = b"".join(_s15(v) for v in (1, 0, 0, 0, 1, 0, 0, 0, 1))
    return (b"mft1" + bytes(4) + struct.pack(">BBBx", n_in, n_out, 2) + matrix
            + identity * n_in + np.asarray(clut, np.uint8).tobytes() + identity * n_out)


def _cms(pixels: np.ndarray, src: object, dst: object, in_mode: str, out_mode: str
         ) -> np.ndarray:
    im = Image.frombytes(in_mode, (len(pixels), 1), np.asarray(pixels, np.uint8).tobytes())
    out = ImageCms.profileToProfile(im, src, dst, outputMode=out_mode)
    return np.asarray(out).reshape(len(pixels), -1)


def cmyk_profile(paper: tuple[int, int, int] = (255, 240, 200)) -> bytes:
    """A CMYK output profile whose inks are ideal filters on a cream paper: colours differ
    from Pillow's naive CMYK -> RGB by up to ~50 levels (a cyan is (0, 240, 201), not
    (0, 255, 255))."""
    srgb, lab = ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB")
    cmyk = np.array([[c, m, y, k] for c in (0, 1) for m in (0, 1) for y in (0, 1)
                     for k in (0, 1)], float)  # the grid, first input slowest
    rgb = np.rint(np.array(paper) * (1 - cmyk[:, :3]) * (1 - cmyk[:, 3:]))
    a2b = _cms(rgb, srgb, lab, "RGB", "LAB").astype(np.int16)
    a2b[:, 1:] = (a2b[:, 1:] + 128) % 256  # Pillow's signed a*, b* -> the ICC's offset 128
    lab_grid = np.array([[v, a, b] for v in (0, 255) for a in (128, 127) for b in (128, 127)])
    b2a = np.column_stack([255 - _cms(lab_grid, lab, srgb, "LAB", "RGB"), np.zeros(8)])
    return _profile(b"prtr", b"CMYK", b"Lab ", [(b"A2B0", _lut8(4, 3, a2b)),
                                                 (b"B2A0", _lut8(3, 4, b2a))])


def grey_profile() -> bytes:
    """A grey display profile: gamma 2.2, D50 white."""
    curve = b"curv" + bytes(4) + struct.pack(">IH", 1, round(2.2 * 256))
    return _profile(b"mntr", b"GRAY", b"XYZ ", [(b"kTRC", curve)])


CMYK = cmyk_profile()
GREY = grey_profile()


def test_made_profiles_are_read_by_littlecms() -> None:
    for data, space in ((CMYK, "CMYK"), (GREY, "GRAY")):
        profile = ImageCms.ImageCmsProfile(io.BytesIO(data))
        assert profile.profile.xcolor_space.strip() == space
        assert profile_colour_space(data) == space.encode().ljust(4)
    assert profile_colour_space(SRGB) == b"RGB " and profile_colour_space(JUNK) is None


# --- helpers -----------------------------------------------------------------------------------
def cmyk_image() -> Image.Image:
    """Flat 4x4 blocks of paper, pure inks, a rich black and a mix: 16 x 8 pixels."""
    colours = [(0, 0, 0, 0), (255, 0, 0, 0), (0, 255, 0, 0), (0, 0, 255, 0), (0, 0, 0, 255),
               (0, 128, 255, 0), (90, 30, 10, 40), (255, 255, 255, 255)]
    blocks = np.array(colours, np.uint8).reshape(2, 4, 1, 1, 4)
    pixels = np.broadcast_to(blocks, (2, 4, 4, 4, 4)).transpose(0, 2, 1, 3, 4).reshape(8, 16, 4)
    return Image.fromarray(np.ascontiguousarray(pixels), "CMYK")


def through_profile(im: Image.Image, profile: bytes) -> np.ndarray:
    """The right value: ``im`` in sRGB through ``profile`` (LittleCMS, perceptual intent)."""
    src = ImageCms.ImageCmsProfile(io.BytesIO(profile))
    return np.asarray(ImageCms.profileToProfile(im, src, ImageCms.createProfile("sRGB"),
                                                outputMode="RGB"), dtype=np.int16)


def cmyk_jpeg(path: Path) -> Path:
    cmyk_image().save(path, "JPEG", quality=95, icc_profile=CMYK)
    return path


def assert_close(decoded: np.ndarray, expected: np.ndarray, tolerance: int) -> None:
    assert np.abs(decoded.astype(np.int16) - expected).max() <= tolerance


# --- the example: a CMYK JPEG with a CMYK profile ------------------------------------------------
def test_cmyk_jpeg_through_the_plugin_is_converted_through_its_profile(tmp_path: Path) -> None:
    with Image.open(cmyk_jpeg(tmp_path / "in.jpg")) as im:
        assert im.mode == "CMYK" and im.info["icc_profile"] == CMYK
        expected, naive = through_profile(im, CMYK), np.asarray(im.convert("RGB"), np.int16)
        im.save(tmp_path / "out.svdi", rank=8)
    with Image.open(tmp_path / "out.svdi") as out:
        assert out.mode == "RGB" and "icc_profile" not in out.info  # sRGB, the default
        decoded = np.asarray(out)
    assert_close(decoded, expected, 3)
    assert np.abs(decoded - naive).max() >= 40  # the profile made a difference


def test_cmyk_jpeg_through_the_cli_is_converted_through_its_profile(tmp_path: Path) -> None:
    src = cmyk_jpeg(tmp_path / "in.jpg")
    with Image.open(src) as im:
        expected = through_profile(im, CMYK)
    image, meta = load_image(src)
    assert meta.get("icc_profile") is None
    assert_close(image, expected, 0)
    assert main(["encode", str(src), str(tmp_path / "x.svdi"), "--rank", "8"]) == 0
    assert "icc_profile" not in svdcodec.read_header(tmp_path / "x.svdi").metadata
    for name in ("x.png", "x.jpg", "x.webp"):  # decode passes on no CMYK profile
        assert main(["decode", str(tmp_path / "x.svdi"), str(tmp_path / name)]) == 0
        with Image.open(tmp_path / name) as im:
            assert "icc_profile" not in im.info or profile_colour_space(
                im.info["icc_profile"]) == b"RGB "
            if name == "x.png":
                assert_close(np.asarray(im), expected, 3)


# --- each conversion ------------------------------------------------------------------------------
def _image(mode: str) -> Image.Image:
    rgb = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3) * 3
    base = Image.fromarray(rgb)
    via = {"La": "LA", "RGBa": "RGBA", "PA": "P"}
    if mode in ("1", "L", "LA", "La", "I", "I;16", "I;16B"):
        base = base.convert("L")
    if mode in via:
        base = base.convert(via[mode])
    if mode == "LAB":
        return ImageCms.profileToProfile(base, ImageCms.createProfile("sRGB"),
                                         ImageCms.createProfile("LAB"), outputMode="LAB")
    return base.convert(mode)


@pytest.mark.parametrize(("mode", "profile", "kept"), [
    ("P", SRGB, True),  # palette -> RGB: the same colours, the same profile
    ("PA", SRGB, True), ("RGBa", SRGB, True), ("RGB", SRGB, True),
    ("1", GREY, True), ("L", GREY, True), ("La", GREY, True), ("I", GREY, True),
    ("I;16B", GREY, True),
    ("YCbCr", SRGB, True),  # other coordinates of the RGB values the profile describes
    ("L", SRGB, False),  # an RGB profile on grey pixels
    ("LA", CMYK, False), ("RGB", GREY, False), ("RGB", CMYK, False), ("P", GREY, False),
    ("CMYK", SRGB, False),  # names other pixels than CMYK ones: dropped, naive conversion
    ("CMYK", CMYK, False),  # converted through it: sRGB, no profile
    ("CMYK", JUNK, False), ("LAB", LAB, False), ("LAB", SRGB, False), ("HSV", GREY, False),
    ("RGB", JUNK, True), ("L", JUNK, True),  # not a profile: the caller's business
    ("CMYK", None, False),
])
def test_profile_follows_each_conversion(mode: str, profile: bytes | None, kept: bool) -> None:
    im = _image(mode)
    array, stored = to_stored(im, profile)
    assert stored == (profile if kept else None)
    assert array.shape[:2] == (4, 6)


def test_cmyk_with_a_profile_that_lcms_cannot_read_is_converted_plainly() -> None:
    broken = CMYK[:200]  # a CMYK header, tags cut off
    im = cmyk_image()
    array, stored = to_stored(im, broken)
    assert stored is None
    assert np.array_equal(array, np.asarray(im.convert("RGB")))


def test_without_littlecms_cmyk_is_converted_plainly_and_its_profile_dropped(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "PIL.ImageCms", None)  # a Pillow built without lcms2
    monkeypatch.delattr(PIL, "ImageCms", raising=False)
    im = cmyk_image()
    array, stored = to_stored(im, CMYK)
    assert stored is None
    assert np.array_equal(array, np.asarray(im.convert("RGB")))


@given(mode=st.sampled_from(["1", "L", "LA", "La", "I", "I;16", "I;16B", "P", "PA", "RGB",
                             "RGBA", "RGBa", "YCbCr", "HSV", "CMYK", "LAB"]),
       profile=st.sampled_from([SRGB, LAB, GREY, CMYK, JUNK, None]))
def test_a_stored_profile_always_describes_the_stored_pixels(mode: str,
                                                              profile: bytes | None) -> None:
    """The kind: whatever the mode and profile, the profile stored is None, or names the
    colour space of the stored mode (or is not a profile, on pixels that kept their space)."""
    im = _image(mode)
    _, stored = to_stored(im, profile)
    stored_space = COLOUR_SPACE[storage_mode(im)]
    if stored is not None:
        assert stored == profile
        space = profile_colour_space(stored)
        assert space == stored_space or (space is None and COLOUR_SPACE[mode] == stored_space)
    elif profile is not None and profile_colour_space(profile) == COLOUR_SPACE[mode] == \
            stored_space:
        pytest.fail("a profile that describes the pixels was dropped")
    # and through the plugin: the file holds that profile or none
    buf = io.BytesIO()
    im.save(buf, "SVDI", rank=1, icc_profile=profile)
    assert svdcodec.read_header(buf.getvalue()).metadata.get("icc_profile") == stored


def test_to_array_converts_through_the_profile_in_im_info() -> None:
    im = cmyk_image()
    im.info["icc_profile"] = CMYK
    assert np.array_equal(to_array(im), through_profile(im, CMYK))


def test_plugin_converts_the_profile_in_im_info() -> None:
    im = cmyk_image()
    im.info["icc_profile"] = CMYK
    buf = io.BytesIO()
    im.save(buf, "SVDI", rank=8)
    with Image.open(buf) as out:
        assert "icc_profile" not in out.info
        assert_close(np.asarray(out), through_profile(im, CMYK), 3)


# --- multi-frame inputs -------------------------------------------------------------------------
def _frames(n: int) -> list[Image.Image]:
    return [Image.new("RGB", (10, 6), (40 * i, 200 - 40 * i, 90)) for i in range(n)]


@pytest.mark.parametrize(("suffix", "n"), [(".gif", 3), (".png", 2), (".tif", 4), (".webp", 2)])
def test_cli_encodes_every_frame_of_a_multi_frame_input(
        suffix: str, n: int, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """An animated GIF, APNG, multi-page TIFF or animated WebP becomes one stack (spec
    section 14), with a note saying so."""
    src = tmp_path / f"anim{suffix}"
    first, *rest = _frames(n)
    first.save(src, save_all=True, append_images=rest, lossless=True)
    out = tmp_path / "x.svdi"
    assert main(["encode", str(src), str(out), "--rank", "6"]) == 0
    line = "svdcodec: note: encoded {} frames as one stack (coding {})"
    info = svdcodec.read_header(out)
    lines = capsys.readouterr().err.splitlines()  # ", with their durations ..." (section 16)
    assert sum(x.startswith(line.format(n, info.stack_coding)) for x in lines) == 1
    frames = svdcodec.decode_stack(out.read_bytes())
    assert frames.shape == (n, 6, 10, 3)
    for k in range(n):
        assert_close(frames[k, 2, 4], np.array([40 * k, 200 - 40 * k, 90]), 4)
    assert main(["encode", str(src), str(out), "--rank", "6", "--force", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["frames"] == n and f"encoded {n} frames" in record["notes"][-1]


def test_cli_is_quiet_about_single_frame_inputs(tmp_path: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    src = tmp_path / "one.gif"
    _frames(1)[0].save(src)
    assert main(["encode", str(src), str(tmp_path / "x.svdi"), "--rank", "2"]) == 0
    assert "frame" not in capsys.readouterr().err


def _png16(path: Path, samples: np.ndarray) -> None:
    """A 16-bit PNG written by hand (Pillow cannot write 16-bit RGB): grey, LA, RGB, RGBA."""
    import zlib
    h, w, c = samples.shape
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    raw = b"".join(b"\0" + samples[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data)))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" +
                     chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0)) +
                     chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_a_16_bit_colour_png_says_that_pillow_reads_8_bits(tmp_path: Path, channels: int,
                                                           capsys: pytest.CaptureFixture[str]
                                                           ) -> None:
    """Pillow opens 16-bit LA/RGB/RGBA PNGs as 8-bit images: the encode says so (it was a
    silent loss of the low byte); 16-bit grey is read whole and gets no note."""
    from svdcodec.cli import main
    samples = np.random.default_rng(channels).integers(0, 65536, (6, 7, channels))
    src = tmp_path / "in.png"
    _png16(src, samples.astype(np.uint16))
    assert main(["encode", str(src), str(tmp_path / "out.svdi")]) == 0
    err = capsys.readouterr().err
    noted = "16-bit" in err and "Pillow reads them as 8 bits" in err
    assert noted == (channels != 1), err
    header = svdcodec.read_header(tmp_path / "out.svdi")
    assert (header.mode == "I;16") == (channels == 1)


@given(st.lists(st.tuples(st.sampled_from(["uint16", "int16", "uint8"]),
                          st.integers(-32768, 65535)), min_size=1, max_size=5))
def test_one_stored_mode_keeps_values_or_refuses(specs: list[tuple[str, int]]) -> None:
    """Frames of one stack in one stored mode: the same values in one dtype, the frames as
    given when their dtypes are not exactly uint16 and int16, or ValueError when no 16-bit
    mode holds them all."""
    frames = [np.full((2, 3), np.clip(v, *{"uint16": (0, 65535), "int16": (-32768, 32767),
                                           "uint8": (0, 255)}[d]), dtype=d) for d, v in specs]
    try:
        out = one_stored_mode(frames)
    except ValueError:
        assert {f.dtype.name for f in frames} == {"uint16", "int16"}
        assert max(int(f.max()) for f in frames if f.dtype == np.uint16) > 32767
        return
    assert len(out) == len(frames)
    for a, b in zip(frames, out, strict=True):
        np.testing.assert_array_equal(a.astype(np.int64), b.astype(np.int64))
    if {f.dtype.name for f in frames} == {"uint16", "int16"}:
        assert {f.dtype.name for f in out} == {"int16"}
    else:
        assert all(a is b for a, b in zip(frames, out, strict=True))
    assert all(same_kind(out[0], f) for f in out) == (len({f.dtype for f in out}) == 1)
