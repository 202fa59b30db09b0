"""Tests for svdcodec.teach.report (with measure and table), plots, animation and the compare /
animate commands."""

from __future__ import annotations

import io
import json
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import svdcodec
from svdcodec.cli import main
from svdcodec.metrics import psnr
from svdcodec.teach import report as report
from svdcodec.teach.animation import animation_frames, default_ranks
from svdcodec.teach.peers import encode_peer
from svdcodec.teach.plots import spectrum
from svdcodec.teach.table import format_table

SIGNATURE_AND_VERSION = 10  # spec section 2
FRAMING = 12  # spec section 3: length, type, CRC
FACT_FIELDS = 24  # spec section 5


def make_image(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """A smooth gradient with texture, uint8: full rank but with a decaying spectrum."""
    rng = np.random.default_rng(seed)
    h, w = shape[:2]
    y, x = np.mgrid[0:h, 0:w]
    base = 100 + 60 * np.sin(x / 9.0) * np.cos(y / 7.0) + 0.5 * x
    channels = shape[2] if len(shape) == 3 else 1
    planes = [base + 25 * c + rng.normal(0, 12, (h, w)) for c in range(channels)]
    image = np.clip(np.stack(planes, axis=-1), 0, 255).round().astype(np.uint8)
    return image[:, :, 0] if len(shape) == 2 else image


def spec_chunks(data: bytes) -> list[tuple[str, int]]:
    """(type, data length) of each chunk, read with struct alone (not svdcodec.format)."""
    offset, chunks = SIGNATURE_AND_VERSION, []
    while offset < len(data):
        length, ctype = struct.unpack_from("<I4s", data, offset)
        chunks.append((ctype.decode(), length))
        offset += FRAMING + length
    assert offset == len(data)
    return chunks


@pytest.fixture(scope="module")
def rgb() -> np.ndarray:
    return make_image((48, 64, 3))


@pytest.fixture(scope="module")
def grey() -> np.ndarray:
    return make_image((48, 64))


def test_1080p_rank_50_stores_150050_of_2073600_numbers() -> None:
    image = (np.add.outer(np.arange(1080), 3 * np.arange(1920)) % 251).astype(np.uint8)
    c = report.compare(image, ranks=[50], peers=(), with_ssim=False)
    r = c.results[0]
    assert (r.values, r.dense_values) == (150_050, 2_073_600)
    assert r.values_fraction == pytest.approx(0.0724, abs=5e-5)
    assert r.dense_bytes == r.xapprox_bytes == 2_073_600
    assert r.dense_float64_bytes == r.xapprox_float64_bytes == 8 * 2_073_600
    assert r.factor_bytes["int8"] == 50 * (12 + 1080 + 1920)
    assert r.factor_bytes["float16"] == 50 * (4 + 2 * 1080 + 2 * 1920)


@pytest.mark.parametrize("layout", ["per-channel", "stacked", "stacked-vertical"])
@pytest.mark.parametrize("factors", ["int8", "float16"])
@pytest.mark.parametrize("channels", [1, 3])
def test_every_stage_adds_up(rgb: np.ndarray, grey: np.ndarray, layout: str, factors: str,
                             channels: int) -> None:
    image = rgb if channels == 3 else grey
    ranks = [1, 7, 100]  # 100 is above min(m, n): clipped
    c = report.compare(image, ranks=ranks, layout=layout, factors=factors, peers=(),
                       with_ssim=False)
    assert c.dense_bytes == image.nbytes and c.dense_float64_bytes == 8 * image.size
    for asked, r in zip(ranks, c.results, strict=True):
        data = svdcodec.encode(image, rank=asked, layout=layout, factors=factors)
        assert r.data == data and r.file_bytes == len(data)
        info = svdcodec.read_header(data)
        assert r.rank == asked and r.ranks == tuple(min(asked, m, n) for m, n in c.matrices)
        # X and Xapprox: same shape, same bytes, as uint8 and as float64
        assert r.dense_bytes == r.xapprox_bytes == image.nbytes
        assert r.dense_float64_bytes == r.xapprox_float64_bytes == 8 * image.size
        # numbers stored: r(m + n + 1) per matrix, against m·n
        for g, (m, n), k in zip(r.matrices, c.matrices, r.ranks, strict=True):
            assert (g["rows"], g["cols"], g["rank"]) == (m, n, k)
            assert g["values"] == k * (m + n + 1) and g["dense_values"] == m * n
        assert r.values == sum(k * (m + n + 1) for (m, n), k in zip(c.matrices, r.ranks,
                                                                     strict=True))
        assert r.dense_values == image.size
        assert r.values_fraction == r.values / r.dense_values
        # factor bytes: float64 / float32 per number; float16 / int8 = spec record size x rank
        assert r.factor_bytes["float64"] == 8 * r.values
        assert r.factor_bytes["float32"] == 4 * r.values
        f16 = sum(k * (4 + 2 * m + 2 * n) for (m, n), k in zip(c.matrices, r.ranks, strict=True))
        i8 = sum(k * (12 + m + n) for (m, n), k in zip(c.matrices, r.ranks, strict=True))
        assert (r.factor_bytes["float16"], r.factor_bytes["int8"]) == (f16, i8)
        assert r.raw_bytes == r.factor_bytes[factors] == sum(g.raw_size for g in info.groups)
        # zstd: the FACT payloads as they sit in the file
        facts = [length for ctype, length in spec_chunks(data) if ctype == "FACT"]
        assert r.zstd_bytes == sum(facts) - FACT_FIELDS * len(facts)
        assert r.zstd_bytes == sum(g.compressed_size for g in info.groups)
        assert r.zstd_bytes_by_factors == {factors: r.zstd_bytes}
        assert r.file_bytes_by_factors == {factors: r.file_bytes}
        # the file: chunks and breakdown both sum to its size
        assert sum(ch["size"] for ch in r.chunks) + SIGNATURE_AND_VERSION == r.file_bytes
        offsets = [ch["offset"] for ch in r.chunks]
        assert offsets == list(np.cumsum([SIGNATURE_AND_VERSION] + [ch["size"] for ch in
                                                                    r.chunks])[:-1])
        assert sum(r.file_breakdown.values()) == r.file_bytes
        assert r.file_breakdown["factors"] == r.zstd_bytes
        assert r.file_breakdown["framing"] == FRAMING * len(r.chunks)
        assert r.file_breakdown["signature"] == SIGNATURE_AND_VERSION
        assert r.file_breakdown["header"] == 24
        assert r.bpp == 8 * len(data) / (image.shape[0] * image.shape[1])
        assert r.psnr == psnr(image, svdcodec.decode(data))
        assert 0 < r.energy_kept <= 1 + 1e-6
    psnrs = [r.psnr for r in c.results]
    assert psnrs == sorted(psnrs)


def test_peers_png_and_both_factors(rgb: np.ndarray) -> None:
    c = report.compare(rgb, ranks=[4, 12], both_factors=True, peers=("png", "jpeg", "webp"))
    assert c.png_bytes == len(encode_peer(rgb, "png"))
    assert c.png_bpp == 8 * c.png_bytes / (48 * 64)
    for r in c.results:
        assert set(r.peers) == {"jpeg", "webp"}
        for p in r.peers.values():
            assert p["reached"] == (p["psnr"] >= r.psnr)
            assert p["bpp"] == 8 * p["bytes"] / (48 * 64)
        other = svdcodec.encode(rgb, rank=r.rank, factors="float16")
        assert r.file_bytes_by_factors == {"int8": r.file_bytes, "float16": len(other)}
        assert r.zstd_bytes_by_factors["float16"] == sum(
            g.compressed_size for g in svdcodec.read_header(other).groups)
        assert r.ssim is not None and 0 < r.ssim <= 1


def test_energies_choose_ranks(rgb: np.ndarray) -> None:
    c = report.compare(rgb, energies=[0.9, 0.999], peers=(), with_ssim=False)
    low, high = c.results
    assert low.rank is None and low.energy == 0.9
    assert all(a <= b for a, b in zip(low.ranks, high.ranks, strict=True))
    assert high.energy_kept >= 0.999 - 1e-3


def test_alpha_and_16_bit_images_skip_peers_that_cannot_code_them() -> None:
    rgba = make_image((20, 24, 4))
    c = report.compare(rgba, ranks=[3], with_ssim=False)
    assert c.png_bytes is not None and set(c.results[0].peers) == {"webp"}
    assert c.notes == ("JPEG left out: it has no alpha channel",)


def test_16_bit_images_have_their_peers_and_labels() -> None:
    """Issue 11.10: a 16-bit image's dense rows say uint16, PNG is measured at 16 bits and the
    lossy peers on the 8-bit reduction, labelled so (they used to vanish silently)."""
    deep = make_image((20, 24)).astype(np.uint16) * 257 + 3
    c = report.compare(deep, ranks=[3], with_ssim=False)
    assert c.mode == "I;16" and c.dtype == "uint16" and c.peer_source == "8-bit reduction"
    assert c.dense_bytes == c.results[0].xapprox_bytes == deep.nbytes
    with Image.open(io.BytesIO(_png16(deep))) as im:
        assert im.mode == "I;16" and np.array_equal(np.asarray(im), deep)
    assert c.png_bytes == len(_png16(deep))
    assert set(c.results[0].peers) == {"jpeg", "webp"}
    table = format_table(c, "deep.png")
    assert "uint8" not in table and "X, dense in memory (uint16 bytes)" in table
    assert "PNG 16-bit (lossless)" in table and "JPEG of the 8-bit image at >= this PSNR" in table
    record = json.loads(c.to_json())
    assert record["dtype"] == "uint16" and record["peer_source"] == "8-bit reduction"


def _png16(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def test_exact_decode_has_null_psnr_in_json() -> None:
    image = np.tile(np.arange(32, dtype=np.uint8), (16, 1))  # rank 1
    c = report.compare(image, ranks=[16], factors="float16", peers=("png", "jpeg"))
    record = json.loads(c.to_json())
    assert record["results"][0]["psnr"] is None and record["results"][0]["peers"] == {}
    assert record["notes"] == ["JPEG left out at rank 16: the decode is exact, there is no "
                               "PSNR to match"]


def test_bad_arguments_raise(rgb: np.ndarray) -> None:
    with pytest.raises(ValueError, match="not both"):
        report.compare(rgb, ranks=[1], energies=[0.5])
    with pytest.raises(ValueError, match="peers"):
        report.compare(rgb, ranks=[1], peers=("gif",))
    with pytest.raises(ValueError, match="layout"):
        report.compare(rgb, ranks=[1], layout="diagonal")


def test_json_has_the_documented_keys(rgb: np.ndarray) -> None:
    c = report.compare(rgb, ranks=[2, 6], both_factors=True, peers=("png", "jpeg"))
    record = json.loads(c.to_json())
    doc = report.__doc__ or ""
    documented = set(re.findall(r"``(\w+)``", doc)) | set(re.findall(r'"(\w+)"', doc))
    for key in ("dense_bytes", "values", "zstd_bytes", "file_bytes", "psnr", "png_bytes"):
        assert key in record or key in record["results"][0]
    assert set(record) <= documented
    result = record["results"][0]
    assert set(result) <= documented
    for nested in ("factor_bytes", "file_breakdown", "zstd_bytes_by_factors"):
        assert set(result[nested]) <= documented | {"int8", "float16"}
    assert set(result["chunks"][0]) <= documented
    assert set(result["matrices"][0]) <= documented
    assert set(result["peers"]["jpeg"]) <= documented
    assert "data" not in result


def test_table_for_people(rgb: np.ndarray) -> None:
    c = report.compare(rgb, ranks=[3, 9], peers=("png", "jpeg"), with_ssim=False)
    table = format_table(c, "test.png")
    r = c.results[0]
    assert "test.png: 64x48 RGB" in table
    for number in (r.values, r.dense_values, r.file_bytes, r.zstd_bytes, c.png_bytes):
        assert f"{number:,}" in table
    assert "X and Xapprox are the same size" in table
    assert "JPEG at >= this PSNR" in table


def test_spectrum_is_the_full_svd(grey: np.ndarray) -> None:
    spec = spectrum(grey)
    expected = np.linalg.svd(grey.astype(float), compute_uv=False)
    assert spec.exact and np.allclose(spec.s[0], expected)
    assert spec.norm2 == pytest.approx(float((grey.astype(float) ** 2).sum()))


def test_animation_frames_are_captioned_and_same_size(rgb: np.ndarray) -> None:
    assert default_ranks(rgb) == [1, 2, 3, 5, 8, 12, 20, 30, 48]
    frames = animation_frames(rgb, [1, 4])
    assert len(frames) == 2 and frames[0].size == frames[1].size
    assert frames[0].width >= 320 and frames[0].height > 48 * frames[0].width // 64


def test_report_and_plots_import_no_matplotlib() -> None:
    code = ("import sys, svdcodec.teach.report, svdcodec.teach.plots, svdcodec.teach.animation; "
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


# --- the command line ---------------------------------------------------------------------
@pytest.fixture
def png_path(tmp_path: Path, rgb: np.ndarray) -> Path:
    path = tmp_path / "in.png"
    Image.fromarray(rgb).save(path)
    return path


def test_cli_compare_json(png_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(png_path), "--ranks", "2,5", "--json", "--peers", "none",
                 "--no-ssim"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert [r["rank"] for r in record["results"]] == [2, 5]
    assert record["results"][0]["file_bytes"] == len(svdcodec.encode(
        np.asarray(Image.open(png_path)), rank=2))


def test_cli_compare_table_and_plot(png_path: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    plot = tmp_path / "compare.png"
    assert main(["compare", str(png_path), "--ranks", "2,5,20", "--peers", "png,jpeg",
                 "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "numbers stored" in out and str(plot) in out
    with Image.open(plot) as im:
        assert im.format == "PNG" and im.width >= 1200 and 600 <= im.height <= 2000
    # the plot is an output: not replaced without --force
    assert main(["compare", str(png_path), "--ranks", "2", "--plot", str(plot)]) == 1
    assert "exists" in capsys.readouterr().err


def test_cli_animate_gif_and_webp(png_path: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    gif = tmp_path / "anim.gif"
    assert main(["animate", str(png_path), str(gif)]) == 0
    with Image.open(gif) as im:
        assert im.format == "GIF" and im.n_frames == len(default_ranks(make_image((48, 64, 3))))
        assert im.n_frames >= 5
    assert main(["animate", str(png_path), str(gif), "--ranks", "1,2"]) == 1
    assert "exists" in capsys.readouterr().err
    assert main(["animate", str(png_path), str(gif), "--ranks", "1,2,3,4,5", "--force"]) == 0
    with Image.open(gif) as im:
        assert im.n_frames == 5
    webp = tmp_path / "anim.webp"
    assert main(["animate", str(png_path), str(webp), "--ranks", "1,3,9"]) == 0
    with Image.open(webp) as im:
        assert im.format == "WEBP" and im.n_frames == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["anim.gif", "anim.webp", "in.png"]


def test_cli_errors(png_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(tmp_path / "missing.png")
    assert main(["compare", missing, "--ranks", "2"]) == 1
    assert main(["animate", missing, str(tmp_path / "a.gif")]) == 1
    assert "no such file" in capsys.readouterr().err
    assert main(["animate", str(png_path), str(tmp_path / "a.mp4")]) == 1
    assert main(["animate", str(png_path), str(tmp_path / "no" / "a.gif")]) == 1
    assert main(["compare", str(png_path), "--plot", str(tmp_path / "p.xyz"), "--ranks", "1",
                 "--peers", "none"]) == 1
    assert main(["compare", str(png_path), "--peers", "gif"]) == 2  # a usage error (issue 11.11)
    assert main(["compare", str(png_path), "--ranks", "0"]) == 2
    assert main(["compare", str(png_path), "--ranks", "a,b"]) == 2
    assert main(["compare", str(png_path), "--energies", "1.5"]) == 2
    assert main(["compare", str(png_path), "--ranks", "2", "--energies", "0.9"]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]


# --- issue 17: the patch layout in compare, Σσ over all σ, animate --max-size / --scale --------
def test_compare_patch_row_reaches_each_psnr(rgb: np.ndarray) -> None:
    c = report.compare(rgb, ranks=[3, 12], peers=(), with_ssim=False, patch=True)
    for r in c.results:
        p = r.peers["patch"]
        data = svdcodec.encode(rgb, target_psnr=r.psnr)
        assert p["bytes"] == len(data) and p["quality"] is None
        assert p["reached"] and p["psnr"] >= r.psnr - 0.05
        assert p["bpp"] == pytest.approx(8 * len(data) / (48 * 64))
    table = format_table(c, "t.png")
    assert ".svdi patch layout at >= this PSNR" in table
    assert f"{c.results[0].peers['patch']['bytes']:,}" in table
    json.loads(c.to_json())  # null quality is valid JSON
    assert "patch" not in report.compare(rgb, ranks=[3], peers=(), with_ssim=False).results[0].peers


def test_cli_compare_has_the_patch_layout_unless_asked(png_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(png_path), "--ranks", "4", "--peers", "none", "--json"]) == 0
    assert "patch" in json.loads(capsys.readouterr().out)["results"][0]["peers"]
    assert main(["compare", str(png_path), "--ranks", "4", "--peers", "none", "--json",
                 "--no-patch"]) == 0
    assert json.loads(capsys.readouterr().out)["results"][0]["peers"] == {}


def test_spectrum_has_every_singular_value_of_a_large_matrix() -> None:
    """The Σσ curve is normalized over all σ: even a matrix above a million samples gets them."""
    tall = make_image((1100, 1000))
    spec = spectrum(tall)
    assert spec.exact and spec.s[0].shape == (1000,)


def test_shrink_and_animate_sizes(png_path: Path, tmp_path: Path) -> None:
    from svdcodec.teach.animation import shrink

    image = make_image((48, 64, 3))
    assert shrink(image, max_size=32).shape == (24, 32, 3)
    assert shrink(image, scale=0.5).shape == (24, 32, 3)
    assert shrink(image, max_size=1000) is image  # never enlarged
    deep = (make_image((40, 30)).astype(np.uint16) * 257)
    small = shrink(deep, scale=0.5)
    assert small.dtype == np.uint16 and small.shape == (20, 15)
    with pytest.raises(ValueError):
        shrink(image, max_size=8, scale=0.5)
    with pytest.raises(ValueError):
        shrink(image, scale=1.5)
    full, half = tmp_path / "full.gif", tmp_path / "half.gif"
    assert main(["animate", str(png_path), str(full), "--ranks", "2"]) == 0
    assert main(["animate", str(png_path), str(half), "--ranks", "2", "--scale", "0.25"]) == 0
    assert half.stat().st_size < full.stat().st_size
    assert main(["animate", str(png_path), str(half), "--scale", "2", "--force"]) == 2
    assert main(["animate", str(png_path), str(half), "--max-size", "0", "--force"]) == 2


@settings(max_examples=25)
@given(h=st.integers(1, 40), w=st.integers(1, 40), c=st.sampled_from([0, 2, 3, 4]),
       limit=st.integers(1, 50))
def test_shrink_bounds_the_longest_side(h: int, w: int, c: int, limit: int) -> None:
    from svdcodec.teach.animation import shrink

    shape = (h, w) if c == 0 else (h, w, c)
    image = np.random.default_rng(h * w).integers(0, 256, shape, dtype=np.uint8)
    small = shrink(image, max_size=limit)
    assert max(small.shape[:2]) == min(limit, max(h, w))
    assert max(small.shape[:2]) <= max(h, w) and small.dtype == image.dtype
    assert small.ndim == image.ndim and small.shape[2:] == image.shape[2:]


# --- animate of thin images (qa7) -----------------------------------------------------------
def test_animate_a_one_pixel_column_enlarges_within_bounds(tmp_path: Path) -> None:
    """A 300 x 1 image was enlarged 320 times to fit the caption: a 320 x 96,000 frame, which
    the GIF writer refused with an internal error (OverflowError, exit 3) and WebP with its
    16383-pixel limit. Enlarging stops at MAX_ENLARGED_SIDE; the caption strip is as wide as
    a caption needs."""
    from svdcodec.teach.animation import MAX_ENLARGED_SIDE, MIN_FRAME_WIDTH

    column = (np.arange(300) % 256).astype(np.uint8).reshape(300, 1)
    frames = animation_frames(column, [1])
    assert frames[0].width >= MIN_FRAME_WIDTH
    assert frames[0].height < MAX_ENLARGED_SIDE + 200
    png = tmp_path / "column.png"
    Image.fromarray(column).save(png)
    for name in ("a.gif", "a.webp"):
        assert main(["animate", str(png), str(tmp_path / name)]) == 0
        with Image.open(tmp_path / name) as im:
            assert im.height < MAX_ENLARGED_SIDE + 200


def test_an_animation_above_the_formats_size_is_refused_naming_max_size(tmp_path: Path
                                                                      ) -> None:
    """A frame taller than GIF (65535) or WebP (16383) holds: a ValueError that names
    --max-size, not an OverflowError from the GIF writer."""
    from svdcodec.teach.animation import save_animation

    tall = Image.new("L", (4, 70_000))
    for name in ("a.gif", "a.webp"):
        with pytest.raises(ValueError, match="max-size"):
            save_animation([tall], tmp_path / name)
        assert not (tmp_path / name).exists()


@settings(max_examples=20, deadline=None)
@given(h=st.integers(1, 3000), w=st.integers(1, 400))
def test_animation_frames_fit_the_caption_and_stay_bounded(h: int, w: int) -> None:
    """Every frame is wide enough for its caption and no side is enlarged past
    MAX_ENLARGED_SIDE (an image larger than that is shown at its own size)."""
    from svdcodec.teach.animation import MAX_ENLARGED_SIDE, MIN_FRAME_WIDTH

    image = ((np.arange(h)[:, None] + np.arange(w)[None, :]) % 256).astype(np.uint8)
    frame = animation_frames(image, [1])[0]
    assert frame.width >= MIN_FRAME_WIDTH
    assert frame.width <= max(w, MAX_ENLARGED_SIDE, MIN_FRAME_WIDTH)
    assert frame.height <= max(h, MAX_ENLARGED_SIDE) + 200  # the image, then its caption


# --- compare --plot of every stored mode (qa7) ---------------------------------------------------
@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA", "I;16", "I;16S"])
def test_cli_compare_plot_of_every_mode(mode: str, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """compare --plot swept JPEG and WebP over the image as it is: a 16-bit image (I;16, or
    I;16S shown as I;16) printed its table and then failed with 'svdcodec: error: expected a
    uint8 numpy array, got uint16', no plot written. The sweeps code the 8-bit reduction, as
    the table's peer columns do."""
    grey = make_image((24, 32))
    image = {"L": grey, "LA": np.dstack([grey, 255 - grey]), "RGB": make_image((24, 32, 3)),
             "RGBA": make_image((24, 32, 4)), "I;16": grey.astype(np.uint16) * 257,
             "I;16S": grey.astype(np.int32) * 200 - 20000}[mode]
    src = tmp_path / ("in.tif" if mode == "I;16S" else "in.png")
    Image.fromarray(image, mode="I" if mode == "I;16S" else None).save(src)
    plot = tmp_path / "compare.png"
    assert main(["compare", str(src), "--ranks", "1,3", "--no-ssim", "--plot", str(plot)]) == 0
    assert f"plot: {plot}" in capsys.readouterr().out
    with Image.open(plot) as im:
        assert im.format == "PNG" and im.width >= 1200


# --- animate --duration within what GIF holds (qa7) ----------------------------------------------
@settings(deadline=None, max_examples=12)
@given(duration=st.one_of(st.integers(1, 700_000), st.integers(700_000, 10**12)),
       suffix=st.sampled_from([".gif", ".webp"]))
def test_animate_duration_is_written_or_a_usage_error(duration: int, suffix: str) -> None:
    """--duration 99999999 ended in an internal error (exit 3: OverflowError from the GIF
    writer, which stores a frame's delay as u16 hundredths of a second). A duration up to
    655,350 ms is written (GIF: to 10 ms); above, a usage error (exit 2) names the range."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:  # not tmp_path: one per example
        src, out = Path(folder) / "in.png", Path(folder) / f"out{suffix}"
        Image.fromarray(make_image((12, 16))).save(src)
        code = main(["animate", str(src), str(out), "--ranks", "1,2",
                     "--duration", str(duration)])
        if duration > 655_350:
            assert code == 2 and not out.exists()
            return
        assert code == 0
        with Image.open(out) as im:
            im.load()  # WebP sets a frame's duration when it is loaded
            # GIF holds hundredths: below 10 ms it writes 0, which Pillow reads as no duration
            written = im.info.get("duration", 0)
            assert abs(written - duration) < (10 if suffix == ".gif" else 1)
