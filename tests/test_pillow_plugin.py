"""Tests for svdcodec.pillow.plugin: .svdi through Pillow's Image.open / Image.save."""

from __future__ import annotations

import contextlib
import gc
import io
import struct
import subprocess
import sys
import warnings
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import ExifTags, Image, ImageFile, ImageSequence, UnidentifiedImageError

import svdcodec
from svdcodec.metrics import psnr
from svdcodec.pillow import plugin as pillow_plugin
from svdcodec.whole import codec as wholecodec

HEAD_END = 10 + 12 + 24  # signature, version, HEAD chunk (spec sections 2-4)


# --- helpers ---------------------------------------------------------------------------------
def photo(w: int, h: int, seed: int = 0) -> np.ndarray:
    """A real-ish RGB scene: smooth shading, hard-edged shapes, texture and noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([120 + 80 * x, 90 + 100 * y, 160 - 60 * x * y], axis=-1)
    base[(x - 0.6) ** 2 + (y - 0.4) ** 2 < 0.04] = (220, 60, 40)
    base[(x > 0.1) & (x < 0.35) & (y > 0.5) & (y < 0.8)] = (30, 40, 200)
    base += (12 * np.sin(40 * x) * np.cos(25 * y))[..., None]
    base += rng.normal(0, 4, base.shape)
    return np.clip(base, 0, 255).astype(np.uint8)


def image(mode: str, w: int = 48, h: int = 32) -> Image.Image:
    rgb = photo(w, h)
    alpha = np.linspace(40, 255, w * h).reshape(h, w).astype(np.uint8)
    grey = rgb.mean(axis=2).astype(np.uint8)
    arrays = {"L": grey, "LA": np.dstack([grey, alpha]), "RGB": rgb,
              "RGBA": np.dstack([rgb, alpha]), "I;16": grey.astype(np.uint16) * 257 + 100}
    return Image.fromarray(arrays[mode])


def save(im: Image.Image, **options) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "SVDI", **options)
    return buf.getvalue()


def reopen(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def block_means(a: np.ndarray, s: int) -> np.ndarray:
    """Means of the s x s blocks of a (H, W[, C]) array; edge blocks may be smaller."""
    a = a.astype(np.float64)
    h, w = a.shape[:2]
    out = np.empty((-(-h // s), -(-w // s), *a.shape[2:]))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = a[i * s:(i + 1) * s, j * s:(j + 1) * s].mean(axis=(0, 1))
    return out


def chunk_offsets(data: bytes, ctype: str) -> list[int]:
    return [c.offset for c in svdcodec.read_header(data).chunks if c.type == ctype]


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Records the shapes of every product the reduced / salvaging decoder computes."""
    calls: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
    original = wholecodec.reconstruct

    def recording(out, layout, index, us, vt, *strip):
        calls.append((us.shape, vt.shape))
        original(out, layout, index, us, vt, *strip)

    # both the reduced decode and a full-size salvage reconstruct through whole.codec
    monkeypatch.setattr(wholecodec, "reconstruct", recording)
    return calls


# --- registration and opening ----------------------------------------------------------------
def test_registered_idempotently() -> None:
    svdcodec.register()
    svdcodec.register()
    assert Image.ID.count("SVDI") == 1
    assert Image.EXTENSION[".svdi"] == "SVDI"
    assert Image.MIME["SVDI"] == "image/x-svdi"
    assert "SVDI" in Image.SAVE and "SVDI" in Image.SAVE_ALL
    with Image.open(io.BytesIO(save(image("RGB"), rank=2))) as im:
        assert im.format == "SVDI"
        assert im.get_format_mimetype() == "image/x-svdi"


def test_open_reads_the_container_only(monkeypatch: pytest.MonkeyPatch) -> None:
    data = save(image("RGB"), rank=3, layout="stacked", factors="float16")

    def no_decode(*args, **kwargs):
        raise AssertionError("Image.open decompressed or decoded pixels")

    monkeypatch.setattr(svdcodec._zstd, "decompress", no_decode)
    monkeypatch.setattr(svdcodec.decoding, "decode_container", no_decode)
    monkeypatch.setattr(svdcodec.svdifile, "decode_container", no_decode)
    with Image.open(io.BytesIO(data)) as im:
        assert (im.mode, im.size) == ("RGB", (48, 32))
        assert im.info["rank"] == (3,)
        assert im.info["layout"] == "stacked"
        assert im.info["factors"] == "float16"
        assert im.n_frames == 1
        assert im.is_animated is False


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA", "I;16"])
def test_round_trip_per_mode(mode: str, tmp_path: Path) -> None:
    original = image(mode)
    path = tmp_path / "a.svdi"
    original.save(path, quality=90)
    with Image.open(path) as im:
        assert (im.format, im.mode, im.size) == ("SVDI", mode, original.size)
        im.load()
        got = np.asarray(im)
    expected = np.asarray(original)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    assert psnr(expected, got) > 38
    # the plugin decodes exactly as the reference decoder does
    np.testing.assert_array_equal(got, svdcodec.read(path))


@pytest.mark.parametrize("size", [(1, 1), (29, 100), (100, 29), (1, 37), (37, 1)])
def test_odd_sizes(size: tuple[int, int]) -> None:
    original = Image.fromarray(photo(*size))
    with reopen(save(original, quality=100)) as im:
        assert im.size == size
        assert psnr(np.asarray(original), np.asarray(im)) > 35


def test_file_objects_and_paths(tmp_path: Path) -> None:
    original = image("RGBA")
    path = tmp_path / "b.svdi"
    original.save(path, rank=4)  # format from the extension
    with open(path, "rb") as f, Image.open(f) as im:
        from_file = np.asarray(im)
    with Image.open(io.BytesIO(path.read_bytes())) as im:
        from_bytes = np.asarray(im)
    with Image.open(str(path), formats=["SVDI"]) as im:
        from_str = np.asarray(im)
    np.testing.assert_array_equal(from_file, from_bytes)
    np.testing.assert_array_equal(from_file, from_str)


def test_no_resource_warning(tmp_path: Path) -> None:
    path = tmp_path / "c.svdi"
    image("L").save(path)

    def open_and_load() -> None:
        im = Image.open(path)
        im.load()
        assert im.fp is None  # closed by load()

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        open_and_load()
        gc.collect()


def test_incremental_parser() -> None:
    data = save(image("RGB"), rank=3)
    parser = ImageFile.Parser()
    for start in range(0, len(data), 100):
        parser.feed(data[start:start + 100])
    with parser.close() as im:
        np.testing.assert_array_equal(np.asarray(im), svdcodec.decode(data))


def test_png_still_opens_as_png() -> None:
    buf = io.BytesIO()
    image("RGB").save(buf, "PNG")
    with Image.open(buf) as im:
        assert im.format == "PNG"


@pytest.mark.parametrize("data", [b"", b"\x89SVD", b"garbage" * 20,
                                  b"\x89SVDI\r\n\x1a\n\x02" + bytes(60),  # format_version 2
                                  b"\x89SVDI\r\n\x1a\n\x01" + bytes(60)])
def test_garbage_is_unidentified(data: bytes) -> None:
    with pytest.raises(UnidentifiedImageError):
        Image.open(io.BytesIO(data))
    with pytest.raises(SyntaxError):
        pillow_plugin.SvdiImageFile(io.BytesIO(data))


def test_decompression_bomb(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "bomb.svdi"
    image("L", 20, 10).save(path, rank=1)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 90)  # 200 pixels > 2 * 90
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and the file is closed
        with pytest.raises(Image.DecompressionBombError):
            Image.open(path)
        gc.collect()


def test_decode_limits_are_honoured() -> None:
    data = save(image("RGB"), rank=4)
    try:
        svdcodec.register(limits=svdcodec.Limits(max_work=1000))
        with Image.open(io.BytesIO(data)) as im, pytest.raises(OSError, match="work"):
            im.load()
        # svdcodec's pixel limit applies on load; Pillow's MAX_IMAGE_PIXELS governs open
        svdcodec.register(limits=svdcodec.Limits(max_pixels=1000))
        with Image.open(io.BytesIO(data)) as im, pytest.raises(OSError, match="pixels"):
            assert im.size == (48, 32)
            im.load()
    finally:
        svdcodec.register()
    reopen(data).close()


# --- truncation and corruption ---------------------------------------------------------------
@pytest.mark.parametrize("length", [1, 8, 9, 10, 30, HEAD_END - 1])
def test_truncated_header_is_unidentified(length: int) -> None:
    data = save(image("RGB"), rank=3)
    with pytest.raises(UnidentifiedImageError):
        Image.open(io.BytesIO(data[:length]))


@pytest.mark.parametrize("cut", [HEAD_END, HEAD_END + 5, 0.5, -13, -12, -1])
def test_truncated_body_opens_and_fails_on_load(cut: float, monkeypatch) -> None:
    data = save(image("RGB"), rank=3)
    length = int(len(data) * cut) if isinstance(cut, float) else cut % len(data)
    with Image.open(io.BytesIO(data[:length])) as im:
        assert (im.mode, im.size) == ("RGB", (48, 32))
        with pytest.raises(OSError, match="truncated"):
            im.load()
    with Image.open(io.BytesIO(data[:length])) as im, pytest.raises(OSError, match="truncated"):
        im.verify()
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with Image.open(io.BytesIO(data[:length])) as im:
        im.load()
        assert im.size == (48, 32)
    if length >= len(data) - 12:  # only IEND is missing: every group is whole
        np.testing.assert_array_equal(np.asarray(im), svdcodec.decode(data))


def test_load_truncated_keeps_complete_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    data = save(image("RGB", 64, 40), rank=5)
    cut = chunk_offsets(data, "FACT")[2] + 40  # inside the blue group's frame
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with reopen(data[:cut]) as im:
        got = np.asarray(im)
    full = svdcodec.decode(data)
    np.testing.assert_array_equal(got[..., :2], full[..., :2])


def test_load_truncated_decodes_the_records_that_remain(monkeypatch, spy) -> None:
    # float16 records of a 100 x 1000 matrix are 2204 bytes: 100 of them span two zstd blocks
    # of 128 KiB, so a frame cut after the first still yields its records (spec section 5).
    rng = np.random.default_rng(3)
    original = Image.fromarray(rng.integers(0, 256, (100, 1000), dtype=np.uint8))
    data = save(original, rank=100, factors="float16")
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with reopen(data[: len(data) * 3 // 4]) as im:
        got = np.asarray(im)
    ((us_shape, vt_shape),) = spy
    rank = vt_shape[0]
    assert 0 < rank < 100 and us_shape == (100, rank)
    np.testing.assert_array_equal(got, svdcodec.decode(data, rank=rank))


def flip(data: bytes, offset: int) -> bytes:
    return data[:offset] + bytes([data[offset] ^ 0x40]) + data[offset + 1:]


def test_crc_mismatch_opens_and_fails_on_load_and_verify() -> None:
    data = save(image("RGB"), rank=3)
    broken = flip(data, chunk_offsets(data, "FACT")[1] + 40)
    with Image.open(io.BytesIO(broken)) as im:
        assert im.size == (48, 32)
        with pytest.raises(OSError, match="CRC"):
            im.load()
    with Image.open(io.BytesIO(broken)) as im, pytest.raises(OSError, match="CRC"):
        im.verify()
    with pytest.raises(UnidentifiedImageError):  # the HEAD's own CRC
        Image.open(io.BytesIO(flip(data, 20)))


def test_verify_checks_zstd_frames_behind_a_valid_crc() -> None:
    data = save(image("RGB"), rank=3)
    offset = chunk_offsets(data, "FACT")[0]
    (length,) = struct.unpack_from("<I", data, offset)
    body = bytearray(data[offset + 8:offset + 8 + length])
    body[-6] ^= 0x55  # inside the compressed records, then a correct CRC
    crc = zlib.crc32(bytes(body), zlib.crc32(b"FACT"))
    broken = (data[:offset + 8] + bytes(body) + struct.pack("<I", crc)
              + data[offset + 12 + length:])
    with Image.open(io.BytesIO(data)) as im:
        im.verify()
        assert im.fp is None
    with Image.open(io.BytesIO(broken)) as im, pytest.raises(OSError, match="broken SVDI"):
        im.verify()
    with Image.open(io.BytesIO(broken)) as im, pytest.raises(OSError):
        im.load()


def test_trailing_bytes_fail_on_load() -> None:
    with Image.open(io.BytesIO(save(image("L"), rank=2) + b"xx")) as im:
        with pytest.raises(OSError, match="trailing"):
            im.load()


# --- saving ----------------------------------------------------------------------------------
def test_quality_is_monotone() -> None:
    original = Image.fromarray(photo(96, 64))
    scores = []
    for quality in range(0, 101, 10):
        with reopen(save(original, quality=quality)) as im:
            scores.append(psnr(np.asarray(original), np.asarray(im)))
    assert scores == sorted(scores), scores
    assert scores[-1] > scores[0] + 15


@pytest.mark.parametrize(("options", "ranks"), [
    ({"rank": 3}, (3, 3, 3)),
    ({"rank": 3, "layout": "stacked"}, (3,)),
    ({"rank": 2, "layout": "stacked-vertical", "factors": "float16"}, (2,)),
    ({"energy": 0.5}, (1, 1, 1)),
    ({"energy": 1.0}, (32, 32, 32)),
    ({"target_size": 3000, "layout": "per-channel"}, None),
    ({"target_psnr": 30.0, "layout": "stacked"}, None),
    ({}, None),
])
def test_save_options(options: dict, ranks: tuple[int, ...] | None) -> None:
    data = save(image("RGB"), **options)
    assert len(data) <= options.get("target_size", len(data))
    with reopen(data) as im:
        if ranks is not None:
            assert im.info["rank"] == ranks
        # the default is the patch layout; rank/energy/factors alone select per-channel
        assert im.info["layout"] == options.get("layout", "per-channel" if options else "patch")
        assert im.info["factors"] == options.get("factors",
                                                 "int8" if options else "coefficients")


@pytest.mark.parametrize("options", [
    {"quality": -1}, {"quality": 101}, {"quality": "high"}, {"quality": float("nan")},
    {"quality": True}, {"rank": 0}, {"rank": 2.5}, {"rank": "3"}, {"energy": 0},
    {"energy": 1.5}, {"energy": "all"}, {"layout": "planar"}, {"factors": "int4"},
    {"quality": 50, "rank": 3}, {"icc_profile": "sRGB"}, {"exif": 42}, {"xmp": 3.0},
    {"dpi": 72}, {"dpi": (72, 0)}, {"dpi": (72, 72, 72)}, {"dpi": ("a", "b")},
    {"energy": True}, {"dpi": (72, float("inf"))}, {"target_size": 0}, {"target_size": 10},
    {"target_psnr": -3}, {"target_size": 5000, "quality": 50},
])
def test_invalid_save_options(options: dict) -> None:
    with pytest.raises(ValueError):
        save(image("RGB"), **options)


def test_metadata_round_trip() -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Software] = "svdcodec test"
    icc = b"not really an ICC profile \x00\x01"
    xmp = '<x:xmpmeta xmlns:x="adobe:ns:meta/">é</x:xmpmeta>'
    data = save(image("RGB"), rank=2, exif=exif, icc_profile=icc, xmp=xmp, dpi=(300, 150))
    with reopen(data) as im:
        assert im.getexif()[ExifTags.Base.Orientation] == 6
        assert im.getexif()[ExifTags.Base.Software] == "svdcodec test"
        assert im.info["exif"].startswith(b"Exif\x00\x00")
        assert im.info["icc_profile"] == icc
        assert im.info["xmp"] == xmp.encode("utf-8")
        assert im.info["dpi"] == pytest.approx((300, 150), abs=0.013)  # integer ppm
        # info["exif"] can be passed back (bytes with the APP1 prefix)
        with reopen(save(im, exif=im.info["exif"])) as again:
            assert again.getexif()[ExifTags.Base.Orientation] == 6


def test_metadata_defaults() -> None:
    original = image("RGB")
    original.info.update(icc_profile=b"icc", exif=Image.Exif().tobytes(), xmp=b"<x/>",
                         dpi=(72, 72))
    with reopen(save(original, rank=1)) as im:
        assert im.info["icc_profile"] == b"icc"  # carried over, as Pillow's PNG does
        assert not {"exif", "xmp", "dpi"} & set(im.info)  # only when passed
    with reopen(save(original, rank=1, icc_profile=None)) as im:
        assert "icc_profile" not in im.info


@pytest.mark.parametrize(("mode", "stored"), [("1", "L"), ("P", "RGB"), ("PA", "RGBA"),
                                              ("I", "I;16"), ("I;16B", "I;16")])
def test_converted_modes(mode: str, stored: str) -> None:
    original = image("RGB").convert(mode)
    with reopen(save(original, quality=100)) as im:
        assert im.mode == stored
        expected = np.asarray(original.convert(stored) if mode != "I" else original)
        assert psnr(expected.astype(np.uint16), np.asarray(im).astype(np.uint16),
                    max_value=255 if stored != "I;16" else 65535) > 30


def test_palette_with_transparency_becomes_rgba() -> None:
    original = image("RGB").convert("P")
    original.info["transparency"] = 0
    with reopen(save(original, quality=100)) as im:
        assert im.mode == "RGBA"
        assert psnr(np.asarray(original.convert("RGBA")), np.asarray(im)) > 30


@pytest.mark.parametrize("original", [
    Image.new("F", (4, 4), 0.5),
    Image.new("RGBX", (4, 4)),
    Image.fromarray(np.full((4, 4), 70000, dtype=np.int32)),  # I beyond the I;16 range
    Image.fromarray(np.full((4, 4), -40000, dtype=np.int32)),  # and the I;16S range
], ids=["F", "RGBX", "I-high", "I-negative"])
def test_unsupported_modes(original: Image.Image, tmp_path: Path) -> None:
    with pytest.raises(OSError, match=f"cannot write mode {original.mode} as SVDI"):
        save(original)
    with pytest.raises(OSError):
        original.save(tmp_path / "x.svdi")
    assert not (tmp_path / "x.svdi").exists()


# --- draft and thumbnail ---------------------------------------------------------------------
@pytest.mark.parametrize("layout", ["per-channel", "stacked", "stacked-vertical"])
@pytest.mark.parametrize("mode", ["RGB", "LA", "I;16"])
def test_draft_decodes_block_means(layout: str, mode: str, spy) -> None:
    original = image(mode, 101, 62)  # 101 = 4 * 25 + 1: a partial block at the edge
    data = save(original, rank=6, layout=layout)
    expected = block_means(svdcodec.decode(data), 4)
    spy.clear()  # only the draft decode's products
    with Image.open(io.BytesIO(data)) as im:
        assert im.draft(None, (25, 15)) == (mode, (0, 0, 101 / 4, 62 / 4))
        assert im.size == (26, 16)  # ceil(101 / 4), ceil(62 / 4): never smaller than asked
        im.load()
        assert im.size == (26, 16)
        assert im.draft(None, (10, 10)) is None  # loaded: no effect
        small = np.asarray(im).astype(np.float64)
    assert small.shape == expected.shape
    # the exact block means of the full decode, up to rounding each (spec section 7)
    assert np.abs(small - expected).max() <= 1
    # the products had a quarter of the rows and columns
    channels = len(original.getbands())
    rows, cols = {"per-channel": (16, 26), "stacked": (16, 26 * channels),
                  "stacked-vertical": (16 * channels, 26)}[layout]
    assert spy and all(us[0] == rows and vt[1] == cols for us, vt in spy)


def test_draft_is_not_smaller_than_asked() -> None:
    data = save(image("L", 29, 100), rank=2)
    for size in [(29, 100), (30, 200), (14, 50), (15, 10), (1, 1), (7, 33)]:
        with Image.open(io.BytesIO(data)) as im:
            result = im.draft("L", size)
            assert im.size[0] >= min(size[0], 29) and im.size[1] >= min(size[1], 100)
            assert (result is None) == (im.size == (29, 100))
            im.load()
            assert np.asarray(im).shape == im.size[::-1]


def test_thumbnail_uses_draft(spy) -> None:
    original = image("RGB", 256, 192)
    data = save(original, rank=8)
    with Image.open(io.BytesIO(data)) as im:
        im.thumbnail((32, 32))
        assert im.size == (32, 24)
        thumb = np.asarray(im).astype(np.float64)
    # thumbnail asks draft for (64, 64): scale min(256 // 64, 192 // 64) = 3
    assert spy and all(us[0] == 64 and vt[1] == 86 for us, vt in spy)
    reference = Image.fromarray(svdcodec.decode(data))
    reference.thumbnail((32, 32))
    assert np.abs(thumb - np.asarray(reference)).mean() < 3


def test_draft_with_load_truncated_images(monkeypatch: pytest.MonkeyPatch) -> None:
    data = save(image("RGB", 64, 40), rank=5)
    cut = chunk_offsets(data, "FACT")[2] + 40
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with Image.open(io.BytesIO(data[:cut])) as im:
        im.draft(None, (32, 20))
        im.load()
        assert im.size == (32, 20)


# --- verify, threads -------------------------------------------------------------------------
def test_verify_then_load_needs_a_reopen() -> None:
    with Image.open(io.BytesIO(save(image("L"), rank=2))) as im:
        im.verify()
        with pytest.raises(OSError):
            im.load()


def test_concurrent_decodes_agree() -> None:
    files = [save(Image.fromarray(photo(80, 60, seed)), rank=6) for seed in range(6)]

    def decode(data: bytes) -> np.ndarray:
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im)

    sequential = [decode(d) for d in files]
    with ThreadPoolExecutor(4) as pool:
        concurrent = list(pool.map(decode, files * 3))
    for i, got in enumerate(concurrent):
        np.testing.assert_array_equal(got, sequential[i % len(files)])


# --- multi-frame images: stacks (spec section 14) ---------------------------------------------
def animated_gif(n: int) -> Image.Image:
    frames = [Image.new("RGB", (10, 6), (40 * i, 200 - 40 * i, 90)) for i in range(n)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    return Image.open(buf)


def test_save_all_writes_a_stack_and_seek_reads_it(tmp_path: Path) -> None:
    with animated_gif(3) as im:
        assert im.n_frames == 3
        im.save(tmp_path / "x.svdi", save_all=True, quality=90)
    with Image.open(tmp_path / "x.svdi") as out:
        assert (out.n_frames, out.is_animated, out.size) == (3, True, (10, 6))
        assert out.info["stack_coding"] in ("frames", "tall", "snapshot")
        seen = []
        for k, frame in enumerate(ImageSequence.Iterator(out)):
            assert out.tell() == k
            seen.append(np.asarray(frame.convert("RGB"))[2, 4].astype(int))
        out.seek(1)
        assert np.abs(np.asarray(out)[2, 4].astype(int) - (40, 160, 90)).max() <= 6
        with pytest.raises(EOFError):
            out.seek(3)
    with Image.open(tmp_path / "x.svdi") as out:  # draft()'s reduction survives seek()
        out.draft("RGB", (5, 3))
        out.seek(2)
        assert out.size == (5, 3) and out.tell() == 2
        assert np.abs(np.asarray(out)[1, 2].astype(int) - (80, 120, 90)).max() <= 8
    for k, pixel in enumerate(seen):
        assert np.abs(pixel - (40 * k, 200 - 40 * k, 90)).max() <= 6


def test_save_all_with_append_images_and_a_coding() -> None:
    first = image("L")
    flipped = first.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    data = save(first, save_all=True, append_images=[flipped], coding="snapshot", rank=2)
    info = svdcodec.read_header(data)
    assert (info.frames, info.stack_coding) == (2, "snapshot")
    np.testing.assert_array_equal(svdcodec.decode_stack(data)[1], svdcodec.decode(data, frame=1))


def test_save_all_of_frames_of_different_sizes_is_refused() -> None:
    with pytest.raises(OSError, match="different sizes or modes"):
        save(image("RGB"), save_all=True, append_images=[Image.new("RGB", (3, 3))])


def test_save_all_of_one_frame_saves_it() -> None:
    assert save(image("RGB"), rank=2, save_all=True) == save(image("RGB"), rank=2)
    assert save(image("L"), rank=2, save_all=True, append_images=[]) == save(image("L"), rank=2)


def test_open_is_one_frame() -> None:
    with Image.open(io.BytesIO(save(image("RGB"), rank=2))) as im:
        assert (im.n_frames, im.is_animated, im.tell()) == (1, False, 0)
        im.seek(0)
        with pytest.raises(EOFError):
            im.seek(1)


# --- imageio (an optional dependency; in the test extra) ---------------------------------------
def test_imageio_reads_and_writes_svdi(tmp_path: Path) -> None:
    import imageio.v3 as iio

    x = photo(24, 16)
    data = iio.imwrite("<bytes>", x, extension=".svdi", rank=16)
    assert data[:5] == b"\x89SVDI"
    assert psnr(x, iio.imread(data, extension=".svdi")) > 35
    buf = io.BytesIO()
    iio.imwrite(buf, x, extension=".svdi", rank=16)
    assert buf.getvalue() == data
    iio.imwrite(tmp_path / "x.bin", x, extension=".svdi", rank=16)  # the extension decides
    iio.imwrite(tmp_path / "x.svdi", x, rank=16)
    for name in ("x.bin", "x.svdi"):
        assert (tmp_path / name).read_bytes() == data
    assert iio.improps(tmp_path / "x.svdi").shape == (16, 24, 3)
    assert np.array_equal(iio.imread(tmp_path / "x.bin", extension=".svdi"),
                          iio.imread(data, extension=".svdi"))


def test_imageio_writes_and_reads_stacks(tmp_path: Path) -> None:
    """A batch written by imageio is one stack; ``imread(index=k)`` and ``imiter`` read it."""
    import imageio.v3 as iio

    stack = np.stack([photo(12, 8, seed) for seed in range(3)])
    out = tmp_path / "x.svdi"
    iio.imwrite(out, stack, quality=90)
    assert svdcodec.read_header(out).frames == 3
    decoded = svdcodec.decode_stack(out.read_bytes())
    for k in range(3):
        np.testing.assert_array_equal(iio.imread(out, index=k), decoded[k])
    assert len(list(iio.imiter(out))) == 3
    np.testing.assert_array_equal(iio.imread(out, index=...), decoded)  # all frames


def test_imageio_registration_is_lazy_and_robust() -> None:
    code = """if True:
        import sys, numpy as np
        {before}
        import svdcodec
        assert ("imageio" in sys.modules) == {imported}, "import svdcodec imported imageio"
        import imageio.v3 as iio
        svdcodec.register()  # idempotent
        from imageio.config.extensions import known_extensions
        assert len(known_extensions[".svdi"]) == 1
        x = np.full((4, 6), 77, np.uint8)
        data = iio.imwrite("<bytes>", x, extension=".svdi")
        assert iio.imread(data, extension=".svdi")[0, 0] == 77
        """
    for before, imported in (("", False), ("import imageio", True)):
        result = subprocess.run([sys.executable, "-c", code.format(before=before,
                                                                     imported=imported)],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
    missing = "import sys; sys.modules['imageio'] = None; import svdcodec; print('ok')"
    result = subprocess.run([sys.executable, "-c", missing], capture_output=True, text=True,
                            timeout=120)
    assert result.stdout == "ok\n", result.stderr


def test_imageio_table_that_changed_is_left_alone() -> None:
    from types import SimpleNamespace

    from svdcodec.pillow import imageio_support

    changed = SimpleNamespace(known_extensions=None)  # not a dict any more
    imageio_support._add(changed)  # type: ignore[arg-type]
    assert changed.known_extensions is None


# --- stacks cut or damaged, through Pillow (QA of issue 15) ---------------------------------
def _stack_bytes(coding: str, **options: object) -> bytes:
    frames = np.stack([photo(9, 10, seed)[..., :3] for seed in range(3)])
    return svdcodec.encode_stack(frames, coding=coding, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(("coding", "options"), [
    ("tall", {}), ("frames", {}), ("frames", {"rank": 2, "progressive": True}),
    ("tall", {"rank": 2, "layout": "stacked"})])
def test_a_stack_cut_inside_frms_is_not_salvaged_by_load_truncated_images(
        coding: str, options: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> None:
    """Spec 14.4: a stack cut once FRMS's type is visible is never salvaged. Pillow with
    LOAD_TRUNCATED_IMAGES raised ValueError from the patch C code (or showed an image made of
    HEAD alone): it must raise OSError as for any file it cannot load."""
    data = _stack_bytes(coding, **options)
    frms = HEAD_END  # FRMS is the chunk after HEAD
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    for cut in range(frms + 8, frms + 24):
        with Image.open(io.BytesIO(data[:cut])) as im:
            with pytest.raises(OSError, match="truncated"):
                im.load()


def test_save_all_leaves_every_source_at_its_frame(tmp_path: Path) -> None:
    """Pillow's GIF, PNG, WebP and TIFF savers give the source back at the frame it was on;
    save_all to .svdi left it (and every animated append_images) on its last frame."""
    with animated_gif(3) as im, animated_gif(4) as more:
        im.seek(1)
        im.save(tmp_path / "x.svdi", save_all=True, append_images=[more], quality=20)
        assert (im.tell(), more.tell()) == (1, 0)
    assert svdcodec.read_header(tmp_path / "x.svdi").frames == 7


@pytest.mark.parametrize(("coding", "options"), [
    ("tall", {}), ("frames", {"rank": 2, "progressive": True}), ("snapshot", {"rank": 2})])
@settings(max_examples=40, deadline=None)
@given(data=st.data(), salvage=st.booleans())
def test_cut_or_mutated_stacks_through_pillow_raise_what_pillow_expects(
        coding: str, options: dict[str, object], data: st.DataObject, salvage: bool) -> None:
    """Any cut or byte change of a stack: Image.open refuses with UnidentifiedImageError
    (SyntaxError inside), every seek/load/verify raises OSError (EOFError past the end),
    never another exception, LOAD_TRUNCATED_IMAGES or not."""
    original = _stack_bytes(coding, **options)
    if data.draw(st.booleans()):
        damaged = original[:data.draw(st.integers(0, len(original) - 1))]
    else:
        body = bytearray(original)
        for _ in range(data.draw(st.integers(1, 3))):
            body[data.draw(st.integers(0, len(body) - 1))] = data.draw(st.integers(0, 255))
        damaged = bytes(body)
    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = salvage
    try:
        try:
            im = Image.open(io.BytesIO(damaged))
        except UnidentifiedImageError:
            return
        with im:
            for k in range(im.n_frames):
                try:
                    im.seek(k)
                    im.load()
                except OSError:
                    pass
        with Image.open(io.BytesIO(damaged)) as im, contextlib.suppress(OSError):
            im.verify()
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous


VECTORS = Path(__file__).resolve().parent.parent / "spec" / "vectors"


def test_a_huge_frame_count_fails_on_load_with_the_limit_error() -> None:
    """Spec 14.5: FRMS's N·W·H is checked against the pixel limit when FRMS is read. Pillow
    opens without the size limits (its MAX_IMAGE_PIXELS judges the size), so the file's FRMS
    (2^32 - 1 frames of 8x8) passed and load() said "factor groups: expected 4294967295, got
    2". It opens as a broken file (one frame), and load() gives svdcodec.decode's LimitError."""
    path = VECTORS / "stack-huge-frame-count.svdi"
    with pytest.raises(svdcodec.LimitError) as expected:
        svdcodec.decode(path.read_bytes(), frame=0)
    assert "pixels exceed the limit" in str(expected.value)
    with Image.open(path) as im:
        assert (im.size, im.n_frames, im.is_animated) == ((8, 8), 1, False)
        with pytest.raises(OSError, match="pixels exceed the limit") as raised:
            im.load()
    assert str(expected.value) in str(raised.value)


@settings(max_examples=8, deadline=None)
@given(n=st.integers(2, 6), side=st.integers(2, 12), coding=st.sampled_from(
    ["frames", "tall", "snapshot"]), seed=st.integers(0, 99))
def test_pillow_refuses_a_stack_above_the_pixel_limit_as_decode_does(
        n: int, side: int, coding: str, seed: int) -> None:
    """A stack within the limits it was written under, read with a pixel limit below N·W·H:
    svdcodec.decode raises LimitError (14.5), and so does Pillow's load() (as OSError)."""
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, (n, side, side), dtype=np.uint8)
    data = svdcodec.encode_stack(frames, coding=coding, rank=1)
    previous = svdcodec.set_default_limits(max_pixels=n * side * side - 1)
    try:
        with pytest.raises(svdcodec.LimitError) as expected:
            svdcodec.decode(data, frame=n - 1)
        with Image.open(io.BytesIO(data)) as im:
            if im.n_frames > 1:
                im.seek(im.n_frames - 1)
            with pytest.raises(OSError) as raised:
                im.load()
        assert str(expected.value) in str(raised.value)
    finally:
        svdcodec.set_default_limits(previous)


def test_save_all_of_signed_mode_i_frames_whose_first_has_no_negative_value() -> None:
    """save_all of mode I frames raised 'cannot write frames of different sizes or modes as one
    SVDI stack: (8, 8) int16 after (8, 8) uint16' when the first frame had no negative value
    (stored I;16) and a later one had (I;16S): every frame fits I;16S."""
    values = [np.full((8, 8), v, np.int32) for v in (0, 2000, -1000)]
    frames = [Image.fromarray(v) for v in values]
    data = save(frames[0], save_all=True, append_images=frames[1:], quality=95)
    with reopen(data) as im:
        assert (im.n_frames, im.mode) == (3, "I")
        for k, im_k in enumerate(ImageSequence.Iterator(im)):
            assert abs(int(np.asarray(im_k)[4, 4]) - int(values[k][4, 4])) <= 40
    with pytest.raises(OSError, match=r"values -1000 \.\. 60000 share no stored mode"):
        save(frames[2], save_all=True, append_images=[Image.fromarray(
            np.full((8, 8), 60000, np.int32))])


def test_imageio_writes_an_int16_stack_whose_first_frame_is_not_negative(tmp_path: Path
                                                                        ) -> None:
    """iio.imwrite of an int16 (N, H, W) array whose frame 0 held no negative value raised
    OSError (and an ignored exception from imageio's close()): frame 0 went to I;16."""
    import imageio.v3 as iio

    stack = np.stack([np.full((8, 8), v, np.int16) for v in (0, -400, -800)])
    out = tmp_path / "s.svdi"
    iio.imwrite(out, stack, quality=95)
    back = svdcodec.decode_stack(out.read_bytes())
    assert back.dtype == np.int16
    assert np.abs(back.astype(int) - stack).max() <= 40


def test_imageio_retry_after_a_failed_stack_writes_no_frames(tmp_path: Path) -> None:
    """A stack whose frame 0 Pillow cannot store (mode I above 65535) raised OSError from
    imwrite, but imageio's close() then saved the frames left: a file of frames 1..3, frame 0
    missing, lay on disk after the error. Any failure of a multi-frame save refuses the
    stream, not only frames of different sizes. (In a subprocess: imageio's __del__ retries
    and leaves its file open, warnings that would land in another test.)"""
    out = tmp_path / "s.svdi"
    code = f"""if True:
        import gc, os, warnings, numpy as np, imageio.v3 as iio, svdcodec
        warnings.simplefilter("ignore")
        stack = np.stack([np.full((8, 8), v, np.int32) for v in (70000, 100, 200, 300)])
        try:
            iio.imwrite({str(out)!r}, stack)
        except OSError as exc:
            print("raised", "70000" in str(exc))
        gc.collect()
        print(os.path.getsize({str(out)!r}) if os.path.exists({str(out)!r}) else 0)
        """
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.stdout.split("\n")[:2] == ["raised True", "0"], result.stdout + result.stderr


def test_a_stream_whose_stack_save_failed_is_refused() -> None:
    """Pillow-level view of the test above: after any failed save_all, the same stream takes
    no more frames."""
    buf = io.BytesIO()
    frames = [Image.fromarray(np.full((8, 8), v, np.int32)) for v in (70000, 100, 200)]
    with pytest.raises(OSError, match="70000"):
        frames[0].save(buf, "SVDI", save_all=True, append_images=frames[1:])
    with pytest.raises(OSError, match="refused a multi-frame save"):
        frames[1].save(buf, "SVDI", save_all=True, append_images=frames[2:])
    assert buf.getvalue() == b""
    other = io.BytesIO()
    with pytest.raises(ValueError, match="coding must be one of"):
        frames[1].save(other, "SVDI", save_all=True, append_images=frames[2:], coding="x")
    with pytest.raises(OSError, match="refused a multi-frame save"):
        frames[1].save(other, "SVDI", save_all=True, append_images=frames[2:])


@pytest.mark.parametrize(("kind", "salvaged"), [
    ("stacked", True), ("per-channel", True), ("stacked-vertical", True), ("patch", False),
    ("stack tall", False), ("stack frames", False), ("stack snapshot", False)])
def test_load_truncated_images_salvages_whole_image_layouts_only(
        kind: str, salvaged: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the plugin's docstring states: with LOAD_TRUNCATED_IMAGES a single image of
    layouts 1-3 cut anywhere after HEAD loads; a patch-layout file or a stack cut after FRMS's
    prefix (spec 7.1, 14.4) raises OSError 'image file is truncated', as without the flag."""
    if kind.startswith("stack "):
        data = _stack_bytes(kind.split()[1], **({"rank": 2} if "snapshot" in kind else {}))
        first = HEAD_END + 8  # FRMS's type visible: a stack, never salvaged
    else:
        data = save(image("RGB"), layout=kind, **({} if kind == "patch" else {"rank": 3}))
        first = HEAD_END
    assert (svdcodec.read_header(data).frames > 1) == kind.startswith("stack ")
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    for cut in range(first, len(data), max(1, (len(data) - first) // 40)):
        with Image.open(io.BytesIO(data[:cut])) as im:
            if salvaged:
                im.load()
                assert im.size == (48, 32)
            else:
                with pytest.raises(OSError, match="image file is truncated"):
                    im.load()
