"""The command line: exit codes, no data lost, encode/decode/info/demo."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from svdcodec.cli import main


@pytest.fixture()
def png(tmp_path: Path) -> Path:
    yy, xx = np.mgrid[0:40, 0:60]
    rgb = np.stack([xx * 4, yy * 6, (xx + yy) * 2], axis=2).astype(np.uint8)
    path = tmp_path / "in.png"
    Image.fromarray(rgb).save(path)
    return path


def test_encode_decode_info(png: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "x.svdi"
    assert main(["encode", str(png), str(out), "--rank", "10"]) == 0
    back = tmp_path / "y.png"
    assert main(["decode", str(out), str(back)]) == 0
    with Image.open(back) as im, Image.open(png) as orig:
        assert im.size == orig.size and im.mode == orig.mode
    capsys.readouterr()
    assert main(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["width"], info["height"], info["layout"], info["factors"]) == \
        (60, 40, "per-channel", "int8")
    assert info["ranks"] == [10, 10, 10]
    assert main(["info", str(out)]) == 0
    assert "rank 10" in capsys.readouterr().out


@pytest.mark.parametrize("mode", ["P", "1", "I", "LA", "RGBA", "I;16", "CMYK"])
def test_encode_converts_pillow_modes(mode: str, tmp_path: Path) -> None:
    src = tmp_path / "in.tif"
    Image.new(mode, (9, 7)).save(src)
    assert main(["encode", str(src), str(tmp_path / "o.svdi"), "--rank", "2"]) == 0


def test_never_overwrites_without_force(png: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "x.svdi"
    out.write_bytes(b"precious")
    assert main(["encode", str(png), str(out)]) == 1
    assert out.read_bytes() == b"precious"
    err = capsys.readouterr().err.strip()
    assert err.startswith("svdcodec: error:") and "--force" in err and "\n" not in err
    assert main(["encode", str(png), str(out), "--force"]) == 0
    assert out.read_bytes()[:5] == b"\x89SVDI"


def test_never_overwrites_input(png: Path) -> None:
    before = png.read_bytes()
    assert main(["encode", str(png), str(png), "--force"]) == 1
    assert png.read_bytes() == before


def test_failed_decode_leaves_no_output(tmp_path: Path) -> None:
    bad = tmp_path / "bad.svdi"
    bad.write_bytes(b"\x89SVDI\r\n\x1a\n\x01garbage")
    out = tmp_path / "out.png"
    assert main(["decode", str(bad), str(out)]) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.svdi"]


def test_decode_allow_truncated(png: Path, tmp_path: Path) -> None:
    full = tmp_path / "x.svdi"
    assert main(["encode", str(png), str(full), "--rank", "5", "--layout", "per-channel"]) == 0
    cut = tmp_path / "cut.svdi"
    cut.write_bytes(full.read_bytes()[:-12])  # IEND missing: every group is complete
    out = tmp_path / "cut.png"
    assert main(["decode", str(cut), str(out)]) == 1
    assert not out.exists()
    assert main(["decode", str(cut), str(out), "--allow-truncated"]) == 0
    assert main(["decode", str(full), str(tmp_path / "full.png")]) == 0
    with Image.open(out) as a, Image.open(tmp_path / "full.png") as b:
        assert np.array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("argv", [[], ["encode"], ["encode", "a", "b", "--rank", "x"],
                                  ["encode", "a", "b", "--rank", "2", "--energy", "0.9"],
                                  ["nonsense"]])
def test_usage_errors_exit_2(argv: list[str]) -> None:
    assert main(argv) == 2


def test_missing_input_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["encode", str(tmp_path / "nope.png"), str(tmp_path / "o.svdi")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_unknown_output_extension(png: Path, tmp_path: Path) -> None:
    svdi = tmp_path / "x.svdi"
    assert main(["encode", str(png), str(svdi), "--rank", "3"]) == 0
    assert main(["decode", str(svdi), str(tmp_path / "y.unknownext")]) == 1


def test_demo_prints_table(capsys: pytest.CaptureFixture) -> None:
    assert main(["demo", "--ranks", "5,10", "--layouts", "per-channel",
                 "--factors", "int8", "--qualities", "20"]) == 0
    out = capsys.readouterr().out
    assert "PNG (lossless)" in out and "bpp" in out and "PSNR" in out
    assert len([line for line in out.splitlines() if line.strip().startswith(("5 ", "10 "))]) == 2
    patch_rows = [line.split() for line in out.split("patch layout")[1].splitlines()
                  if line.strip().startswith("20 ")]
    assert len(patch_rows) == 1 and len(patch_rows[0]) == 8  # quality row with its JPEG match


def test_python_dash_m_and_help() -> None:
    result = subprocess.run([sys.executable, "-m", "svdcodec", "--help"], capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0 and "examples:" in result.stdout


def test_blas_threads_pinned_during_a_command(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    from threadpoolctl import threadpool_info

    import svdcodec.cli.parser as cli_parser

    seen: list[int] = []

    def spy(args: object) -> int:
        seen.extend(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")
        return 0

    monkeypatch.setattr(cli_parser, "cmd_info", spy)  # build_parser binds it per call
    assert main(["info", str(tmp_path / "x.svdi")]) == 0
    assert seen and set(seen) == {1}
    assert main(["--blas-threads", "x", "info", "y"]) == 2


def test_basis_figure(png: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "basis.png"
    assert main(["basis", str(png), str(out), "--quality", "80"]) == 0
    assert "basis vectors of 8x8 (Y," in capsys.readouterr().out
    with Image.open(out) as im:
        assert im.format == "PNG" and im.width > 300
    svdi = tmp_path / "x.svdi"
    assert main(["encode", str(png), str(svdi), "--quality", "80"]) == 0
    assert main(["basis", str(svdi), str(tmp_path / "cb.svg"), "--plane", "1"]) == 0
    assert (tmp_path / "cb.svg").read_bytes().lstrip().startswith(b"<?xml")
    whole = tmp_path / "w.svdi"
    assert main(["encode", str(png), str(whole), "--rank", "3"]) == 0
    capsys.readouterr()
    for argv in (["basis", str(whole), str(tmp_path / "a.png")],  # no basis in that layout
                 ["basis", str(svdi), str(tmp_path / "b.png"), "--plane", "3"],  # RGB: 0..2
                 ["basis", str(svdi), str(tmp_path / "c.png"), "--quality", "5"],
                 ["basis", str(png), str(out)]):  # exists, no --force
        assert main(argv) == 1
        assert capsys.readouterr().err.startswith("svdcodec: error:")
    assert not any((tmp_path / n).exists() for n in ("a.png", "b.png", "c.png"))


def test_info_of_a_patch_file(png: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "p.svdi"
    assert main(["encode", str(png), str(out), "--quality", "60"]) == 0
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "plane 0 (Y): 40 patches of 8x8" in text and "plane 2 (Cr)" in text
    assert "group" not in text  # the dense-factor count means nothing for this layout
    assert main(["info", str(out), "--json"]) == 0
    planes = json.loads(capsys.readouterr().out)["planes"]
    assert [p["name"] for p in planes] == ["Y", "Cb", "Cr"]
    assert planes[0]["patches"] == 40 and planes[1]["subsampling"] == [2, 2]
    assert all(0 <= p["coefficients"] <= p["patches"] * p["components"] for p in planes)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp"])
def test_decode_keeps_metadata(tmp_path: Path, suffix: str) -> None:
    """icc_profile, Exif and dpi of the .svdi file reach an output format that holds them."""
    exif = Image.Exif()
    exif[0x0131] = "svdcodec test"  # Software
    src = tmp_path / "in.png"
    yy, xx = np.mgrid[0:24, 0:32]
    Image.fromarray(np.stack([xx * 8, yy * 10, xx + yy], axis=2).astype(np.uint8)).save(
        src, icc_profile=b"not an ICC profile", exif=exif, dpi=(300, 300))
    svdi = tmp_path / "x.svdi"
    assert main(["encode", str(src), str(svdi), "--rank", "4"]) == 0
    out = tmp_path / f"out{suffix}"
    assert main(["decode", str(svdi), str(out)]) == 0
    with Image.open(out) as im:
        assert im.info.get("icc_profile") == b"not an ICC profile"
        assert im.getexif()[0x0131] == "svdcodec test"
        if suffix != ".webp":  # WebP has no dpi
            assert im.info["dpi"] == pytest.approx((300, 300), abs=0.01)


def test_encode_progressive(png: Path, tmp_path: Path) -> None:
    plain, progressive = tmp_path / "a.svdi", tmp_path / "b.svdi"
    assert main(["encode", str(png), str(plain), "--rank", "8"]) == 0
    assert main(["encode", str(png), str(progressive), "--rank", "8", "--progressive"]) == 0
    assert progressive.stat().st_size > plain.stat().st_size  # a block header per record
    for path in (plain, progressive):
        assert main(["decode", str(path), str(path.with_suffix(".png"))]) == 0
    with Image.open(plain.with_suffix(".png")) as a, \
            Image.open(progressive.with_suffix(".png")) as b:
        assert np.array_equal(np.asarray(a), np.asarray(b))


# --- issue 11: outputs that cannot hold the data (item 4) -------------------------------------
def _image_of_mode(mode: str) -> np.ndarray:
    """A small image of each stored mode, with few distinct values so that GIF's palette and
    the lossy codecs keep them closely."""
    yy, xx = np.mgrid[0:24, 0:32]
    grey = (xx // 8 * 60 + yy // 12 * 30).astype(np.uint8)
    bands = {"L": [grey], "LA": [grey, 255 - grey], "RGB": [grey, 255 - grey, grey // 2],
             "RGBA": [grey, 255 - grey, grey // 2, (yy // 12 * 200 + 40).astype(np.uint8)]}
    if mode == "I;16":
        return (xx * 2000 + yy * 40 + 7).astype(np.uint16)
    image = np.stack(bands[mode], axis=2)
    return image[:, :, 0] if mode == "L" else image


OUTPUT_FORMATS = [".png", ".jpg", ".webp", ".tif", ".bmp", ".gif", ".ppm"]
LOSSY = {".jpg", ".webp", ".gif"}


@pytest.mark.parametrize("suffix", OUTPUT_FORMATS)
@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA", "I;16"])
def test_decode_writes_what_the_format_holds(mode: str, suffix: str, tmp_path: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    """Every (format, mode): the values decoded reach the file, 16 bits as round(v / 257) where
    the format has no 16-bit mode, alpha kept or a clear error; the line names what was
    written."""
    import svdcodec
    from svdcodec.cli.outformat import to_8bit
    from svdcodec.pillow.convert import to_array

    svdi = tmp_path / "x.svdi"
    svdcodec.write(svdi, _image_of_mode(mode), quality=100)
    decoded = svdcodec.read(svdi)
    decoded = decoded if decoded.ndim == 3 else decoded[:, :, None]
    out = tmp_path / f"out{suffix}"
    capsys.readouterr()
    code = main(["decode", str(svdi), str(out)])
    captured = capsys.readouterr()
    if code == 1:  # only alpha may be refused, and only by a format with no alpha at all
        assert "A" in mode and suffix in (".jpg", ".bmp", ".gif", ".ppm")
        assert captured.err.startswith("svdcodec: error:") and "cannot hold" in captured.err
        assert not out.exists()
        return
    assert code == 0
    with Image.open(out) as im:
        line_mode = captured.out.split(": ", 1)[1].split(" ", 1)[1].strip()
        assert line_mode == ("P (palette)" if im.mode == "P" else
                             {"I": "I;16"}.get(im.mode, im.mode))
        back = np.asarray(im.convert("RGBA" if "A" in mode else "RGB")) if im.mode == "P" \
            else to_array(im)  # PPM's 16 bits read back as mode I
    back = back if back.ndim == 3 else back[:, :, None]
    expected = decoded
    if back.dtype != np.uint16 and decoded.dtype == np.uint16:
        expected = to_8bit(decoded)
        assert "16 -> 8 bits as round(v / 257)" in captured.err
    if back.shape[2] != expected.shape[2]:  # grey written as RGB(A): equal channels
        assert (expected.shape[2], back.shape[2]) in ((1, 3), (2, 4))
        expected = np.concatenate([np.repeat(expected[:, :, :1], 3, axis=2),
                                   expected[:, :, 1:]], axis=2)
        assert "cannot hold" in captured.err
    assert back.dtype == expected.dtype and back.shape == expected.shape
    error = np.abs(back.astype(np.int64) - expected.astype(np.int64))
    if suffix in LOSSY:  # 16 bits clipped to 8 (the bug) are off by up to 255
        assert 10 * np.log10(255**2 / max(float((error**2).mean()), 1e-9)) > 30
    else:
        assert error.max() == 0


def test_16_bit_grey_to_webp_is_not_white(tmp_path: Path, capsys: pytest.CaptureFixture
                                          ) -> None:
    """The issue's example: 98 % of the pixels were white (Pillow clipped 16 bits to 8)."""
    ramp = np.tile(np.linspace(0, 65535, 256).round().astype(np.uint16), (16, 1))
    src, svdi, out = tmp_path / "ramp.png", tmp_path / "ramp.svdi", tmp_path / "ramp.webp"
    Image.fromarray(ramp).save(src)
    assert main(["encode", str(src), str(svdi), "--layout", "per-channel", "--factors",
                 "float16", "--rank", "16"]) == 0
    capsys.readouterr()
    assert main(["decode", str(svdi), str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == f"{out}: 256x16 RGB"
    assert "WEBP cannot hold I;16 images: 16 -> 8 bits as round(v / 257)" in captured.err
    with Image.open(out) as im:
        back = np.asarray(im)[:, :, 0].astype(int)
    assert (back == 255).mean() < 0.01
    assert np.abs(back - np.round(ramp / 257)).max() <= 3


def test_to_8bit_is_round_v_over_257_for_every_value() -> None:
    from svdcodec.cli.outformat import to_8bit

    v = np.arange(65536, dtype=np.uint16)
    assert np.array_equal(to_8bit(v), np.round(v / 257).astype(np.uint8))


def test_fits_mode_refuses_what_reads_back_differently() -> None:
    from svdcodec.cli.outformat import fits_mode

    assert fits_mode("PNG", "I;16") and fits_mode("TIFF", "LA")
    assert not fits_mode("WEBP", "I;16") and not fits_mode("WEBP", "L")
    assert not fits_mode("JPEG", "LA") and not fits_mode("JPEG", "RGBA")
    assert fits_mode("PDF", "RGB")  # write-only: from the table


# --- metadata that cannot be stored (item 6) ---------------------------------------------------
def test_png_with_zero_dpi_encodes_with_a_note(tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    src = tmp_path / "zero.png"
    Image.fromarray(_image_of_mode("RGB")).save(src, dpi=(0, 0))
    with Image.open(src) as im:
        assert im.info["dpi"] == (0, 0)
    svdi = tmp_path / "zero.svdi"
    assert main(["encode", str(src), str(svdi)]) == 0
    err = capsys.readouterr().err
    assert f"svdcodec: note: {src}: dropped the input's dpi ((0.0, 0.0))" in err
    assert "dpi" not in __import__("svdcodec").read_header(svdi).metadata
    assert main(["compare", str(src), "--ranks", "3", "--peers", "none", "--no-ssim"]) == 0
    assert "dropped the input's dpi" in capsys.readouterr().err


_DPI = st.one_of(
    st.tuples(st.floats(allow_nan=True, allow_infinity=True),
              st.floats(allow_nan=True, allow_infinity=True)),
    st.tuples(st.integers(-10, 10**12), st.integers(-10, 10**12)),
    st.just((72, 72)), st.just((0, 0)), st.just("300"), st.just((1, 2, 3)), st.integers())


@given(dpi=_DPI,
       icc=st.one_of(st.none(), st.binary(max_size=8), st.text(max_size=4), st.integers()),
       exif=st.one_of(st.none(), st.binary(max_size=8), st.text(max_size=4), st.just([1])),
       xmp=st.one_of(st.none(), st.binary(max_size=8), st.text(max_size=4), st.floats()))
def test_usable_metadata_never_blocks_an_encode(dpi: object, icc: object, exif: object,
                                                xmp: object) -> None:
    """Whatever an input's info holds, what is kept encodes, and what is dropped is noted."""
    import svdcodec
    from svdcodec.cli.inputs import usable_metadata

    info = {"dpi": dpi, "icc_profile": icc, "exif": exif, "xmp": xmp, "other": object()}
    meta, notes = usable_metadata(info)
    svdcodec.encode(np.zeros((4, 4), np.uint8), rank=1, **meta)  # never raises
    given_keys = {k for k in ("dpi", "icc_profile", "exif", "xmp") if info[k] is not None}
    assert set(meta) <= given_keys
    assert len(notes) == len(given_keys - set(meta))
    if dpi == (72, 72):
        assert meta["dpi"] == (72, 72)


# --- basis without matplotlib (item 9) ----------------------------------------------------------
@pytest.mark.parametrize("command", ["basis", "compare"])
def test_plot_commands_without_matplotlib_name_the_extra(
        command: str, png: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib: ImportError
    out = tmp_path / "fig.png"
    argv = ["basis", str(png), str(out)] if command == "basis" else \
        ["compare", str(png), "--ranks", "2", "--plot", str(out)]
    assert main(argv) == 1
    captured = capsys.readouterr()
    what = "compare --plot" if command == "compare" else command
    assert captured.err == \
        f"svdcodec: error: {what} needs matplotlib: pip install 'svdcodec[plot]'\n"
    assert captured.out == "" and not out.exists()


def test_help_says_which_commands_need_matplotlib(capsys: pytest.CaptureFixture) -> None:
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    assert "needed by: basis, compare --plot" in text and "svdcodec[plot]" in text
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert "pip install 'svdcodec[plot]'" in readme and "`basis`" in readme


# --- labels (item 10) ---------------------------------------------------------------------------
@pytest.mark.parametrize(("mode", "label"), [("L", "L, 768 samples = 768 bytes as uint8 (8 bpp)"),
                                             ("RGBA", "RGBA, 3,072 samples = 3,072 bytes as "
                                              "uint8 (32 bpp)"),
                                             ("I;16", "I;16, 768 samples = 1,536 bytes as "
                                              "uint16 (16 bpp)")])
def test_demo_labels_the_image_as_it_is(mode: str, label: str, tmp_path: Path,
                                        capsys: pytest.CaptureFixture) -> None:
    src = tmp_path / "in.png"
    Image.fromarray(_image_of_mode(mode)).save(src)
    assert main(["demo", "--image", str(src), "--ranks", "2", "--layouts", "per-channel",
                 "--factors", "int8", "--qualities", "50"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"in.png: 32x24 {label}; as float64 for numpy.linalg.svd: " \
        f"{8 * _image_of_mode(mode).size:,} bytes"
    assert "24 bpp" not in out
    assert ("no JPEG columns" in out) == (mode != "L")


def test_compare_of_a_16_bit_image_labels_and_peers(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    src = tmp_path / "deep.png"
    Image.fromarray(_image_of_mode("I;16")).save(src)
    assert main(["compare", str(src), "--ranks", "3", "--no-ssim"]) == 0
    out = capsys.readouterr().out
    assert "uint8" not in out and "X, dense in memory (uint16 bytes)" in out
    assert "PNG 16-bit (lossless)" in out
    assert "JPEG of the 8-bit image at >= this PSNR" in out
    assert "WebP of the 8-bit image at >= this PSNR" in out


# --- usage errors before any output (item 11) ---------------------------------------------------
@pytest.mark.parametrize("option", [["--ranks", "abc"], ["--ranks", "0"], ["--ranks", ""],
                                    ["--layouts", "bogus"], ["--layouts", "per-channel,x"],
                                    ["--factors", "int4"], ["--qualities", "200"],
                                    ["--qualities", "q"]])
def test_demo_usage_errors_exit_2_before_any_output(option: list[str],
                                                    capsys: pytest.CaptureFixture) -> None:
    assert main(["demo", *option]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "usage:" in captured.err


def test_demo_missing_image_is_one_error_line(tmp_path: Path,
                                              capsys: pytest.CaptureFixture) -> None:
    assert main(["demo", "--image", str(tmp_path / "none.png")]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == \
        f"svdcodec: error: {tmp_path / 'none.png'}: no such file\n"


# --- a closed pipe (item 12) --------------------------------------------------------------------
def test_info_into_a_closed_pipe_exits_quietly(png: Path, tmp_path: Path) -> None:
    svdi = tmp_path / "x.svdi"
    assert main(["encode", str(png), str(svdi), "--quality", "50"]) == 0
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line: EPIPE on every write
    try:
        result = subprocess.run([sys.executable, "-m", "svdcodec", "info", str(svdi)],
                                stdout=write_end, stderr=subprocess.PIPE, text=True, check=False)
    finally:
        os.close(write_end)
    assert result.stderr == "" and result.returncode == 141


def test_info_piped_to_head(png: Path, tmp_path: Path) -> None:
    svdi = tmp_path / "x.svdi"
    assert main(["encode", str(png), str(svdi), "--quality", "50"]) == 0
    result = subprocess.run(f'"{sys.executable}" -m svdcodec info "{svdi}" | head -1',
                            shell=True, capture_output=True, text=True, check=False)
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.startswith(f"{svdi}: 60x40 RGB") and result.stdout.count("\n") == 1


def test_broken_pipe_in_process(png: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture) -> None:
    class Closed(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    svdi = tmp_path / "x.svdi"
    assert main(["encode", str(png), str(svdi), "--rank", "3"]) == 0
    capsys.readouterr()
    monkeypatch.setattr(sys, "stdout", Closed())
    assert main(["info", str(svdi)]) == 141
    assert capsys.readouterr().err == ""


# --- say what happened (item 16) ----------------------------------------------------------------
def test_rank_above_full_rank_is_noted(png: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "x.svdi"
    assert main(["encode", str(png), str(out), "--rank", "100000", "--json"]) == 0
    captured = capsys.readouterr()
    record = json.loads(captured.out)
    assert record["ranks"] == [40, 40, 40] and record["layout"] == "per-channel"
    note = "--rank 100000 is above the full rank of this image: stored ranks [40, 40, 40] " \
        "(full rank)"
    assert note in record["notes"] and f"svdcodec: note: {note}\n" in captured.err
    assert record["output"] == str(out) and record["bytes"] == out.stat().st_size


def test_target_psnr_not_reached_is_noted(png: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture) -> None:
    import svdcodec
    from svdcodec.metrics import psnr

    out = tmp_path / "x.svdi"
    assert main(["encode", str(png), str(out), "--target-psnr", "80", "--layout", "stacked",
                 "--json"]) == 0
    captured = capsys.readouterr()
    record = json.loads(captured.out)
    with Image.open(png) as im:
        measured = psnr(np.asarray(im), svdcodec.read(out))
    assert record["psnr"] == pytest.approx(measured) and measured < 80
    assert f"--target-psnr 80 dB not reached: {measured:.2f} dB at the full rank" in \
        captured.err
    assert any(n.startswith("--target-psnr 80 dB not reached") for n in record["notes"])


def test_output_larger_than_input_is_noted(tmp_path: Path,
                                           capsys: pytest.CaptureFixture) -> None:
    yy, xx = np.mgrid[0:64, 0:64]
    src = tmp_path / "two.png"
    Image.fromarray(((xx // 8 + yy // 8) % 2 * 255).astype(np.uint8)).save(src)
    out = tmp_path / "two.svdi"
    assert main(["encode", str(src), str(out), "--rank", "64", "--json"]) == 0
    captured = capsys.readouterr()
    record = json.loads(captured.out)
    n_in, n_out = src.stat().st_size, out.stat().st_size
    assert n_out > n_in and record["input_bytes"] == n_in and record["bytes"] == n_out
    note = f"the output ({n_out:,} bytes) is larger than the input ({n_in:,} bytes, " \
        f"{n_out / n_in:.1f}x)"
    assert record["notes"] == [note] and captured.err == f"svdcodec: note: {note}\n"


@given(h=st.integers(1, 12), w=st.integers(1, 12), rank=st.integers(1, 20))
def test_rank_note_iff_rank_above_full_rank(h: int, w: int, rank: int) -> None:
    import tempfile

    rng = np.random.default_rng(h * 100 + w)
    with tempfile.TemporaryDirectory() as folder:
        src, out = Path(folder) / "in.png", Path(folder) / "o.svdi"
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(src)
        from svdcodec.cli.files import encode_file

        result = encode_file(src, out, {"rank": rank})
    noted = any(n.startswith(f"--rank {rank} is above") for n in result.notes)
    assert noted == (rank > min(h, w))
    assert result.record["ranks"] == [min(rank, h, w)] * 3


# --- messages that name the user's path (item 18) -----------------------------------------------
def test_missing_inputs_are_named_without_errno(tmp_path: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    missing = tmp_path / "nope.svdi"
    for argv in (["info", str(missing)], ["decode", str(missing), str(tmp_path / "o.png")],
                 ["basis", str(missing), str(tmp_path / "b.png")],
                 ["compare", str(tmp_path / "nope.png")]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert err == f"svdcodec: error: {argv[1]}: no such file\n"


def test_write_errors_name_the_output_not_the_temporary(png: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture) -> None:
    import svdcodec.codec

    out = tmp_path / "x.svdi"

    class Full(io.BytesIO):
        def write(self, data: object) -> int:
            raise OSError(28, "No space left on device")

    def fdopen(fd: int, mode: str) -> Full:
        os.close(fd)
        return Full()

    monkeypatch.setattr(svdcodec.codec.os, "fdopen", fdopen)
    assert main(["encode", str(png), str(out), "--rank", "2"]) == 1
    err = capsys.readouterr().err
    assert err == f"svdcodec: error: cannot write {out}: no space left on device\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]


@pytest.mark.parametrize("command", ["encode", "animate", "basis"])
def test_every_write_error_names_the_output(command: str, png: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture) -> None:
    """The kind: whatever writes the file, the error names the user's path, no [Errno]."""
    import svdcodec.codec

    def fdopen(fd: int, mode: str) -> io.BytesIO:
        os.close(fd)
        raise PermissionError(13, "Permission denied", "/x/.out.png.abcd1234.tmp")

    out = tmp_path / ("o.svdi" if command == "encode" else "o.gif" if command == "animate"
                      else "o.png")
    argv = [command, str(png), str(out), *(["--ranks", "1,2"] if command == "animate" else [])]
    monkeypatch.setattr(svdcodec.codec.os, "fdopen", fdopen)
    assert main(argv) == 1
    assert capsys.readouterr().err == f"svdcodec: error: cannot write {out}: permission denied\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]


def test_an_os_error_on_a_temporary_file_names_the_output() -> None:
    from svdcodec.cli.app import _os_message

    exc = PermissionError(13, "Permission denied", "/d/.photo.png.k2_9zq0a.tmp")
    assert _os_message(exc) == "cannot write /d/photo.png: permission denied"
    assert _os_message(FileNotFoundError(2, "No such file", "/d/a.svdi")) == \
        "/d/a.svdi: no such file"


def test_decode_rank_above_the_stored_ranks_is_noted(png: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    svdi = tmp_path / "x.svdi"
    assert main(["encode", str(png), str(svdi), "--rank", "6"]) == 0
    capsys.readouterr()
    assert main(["decode", str(svdi), str(tmp_path / "a.png"), "--rank", "50"]) == 0
    assert capsys.readouterr().err == "svdcodec: note: --rank 50 is above the ranks stored " \
        "([6, 6, 6]): decoded at the stored ranks\n"
    assert main(["decode", str(svdi), str(tmp_path / "b.png"), "--rank", "6"]) == 0
    assert capsys.readouterr().err == ""


def test_compare_notes_a_rank_above_full_rank(png: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["compare", str(png), "--ranks", "5,100", "--peers", "none", "--no-ssim",
                 "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["notes"] == ["rank 100 is above the full rank: stored ranks [40, 40, 40]"]


def test_encode_json_in_a_batch(png: Path, tmp_path: Path,
                                capsys: pytest.CaptureFixture) -> None:
    assert main(["encode", str(png), "--out-dir", str(tmp_path / "o"), "--rank", "99",
                 "--json", "-j", "1"]) == 0
    captured = capsys.readouterr()
    record = json.loads(captured.out)
    assert (record["ok"], record["failed"]) == (1, 0)
    (one,) = record["files"]
    assert one["output"] == str(tmp_path / "o" / "in.svdi") and one["ranks"] == [40, 40, 40]
    assert any("--rank 99 is above" in n for n in one["notes"])
    assert f"svdcodec: note: {png}: --rank 99 is above" in captured.err
    assert "encoded 1 file ok" in captured.err


@pytest.mark.parametrize("argv", [["encode", "a", "b", "--quality", "150"],
                                  ["encode", "a", "b", "--quality", "nan"],
                                  ["encode", "a", "b", "--target-psnr", "0"],
                                  ["encode", "a", "b", "--energy", "1.5"],
                                  ["encode", "a", "b", "--rank", "0"],
                                  ["encode", "a", "b", "--target-size", "-3"],
                                  ["encode", "a", "b", "--level", "20"],
                                  ["decode", "a", "b", "--rank", "0"],
                                  ["compare", "a", "--peers", "gif"],
                                  ["compare", "a", "--level", "0"],
                                  ["basis", "a", "b", "--quality", "101"],
                                  ["animate", "a", "b.gif", "--duration", "0"]])
def test_bad_option_values_are_usage_errors(argv: list[str],
                                            capsys: pytest.CaptureFixture) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "usage:" in captured.err


def test_a_file_where_a_folder_should_be(png: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture) -> None:
    assert main(["encode", str(png), str(png / "x.svdi")]) == 1
    assert capsys.readouterr().err == \
        f"svdcodec: error: cannot write {png / 'x.svdi'}: {png} is a file, not a directory\n"
    assert main(["encode", str(png), "--out-dir", str(png)]) == 1
    assert capsys.readouterr().err == \
        f"svdcodec: error: --out-dir {png} is a file, not a directory\n"
    assert main(["encode", str(png), str(tmp_path / "no" / "x.svdi")]) == 1
    assert "the directory" in capsys.readouterr().err


def test_truncated_file_errors_mention_allow_truncated(png: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    whole, patch = tmp_path / "w.svdi", tmp_path / "p.svdi"
    assert main(["encode", str(png), str(whole), "--rank", "8"]) == 0
    assert main(["encode", str(png), str(patch), "--quality", "50"]) == 0
    capsys.readouterr()
    for src in (whole, patch):
        cut = tmp_path / f"cut-{src.name}"
        cut.write_bytes(src.read_bytes()[:120])
        for argv in (["decode", str(cut), str(tmp_path / "o.png")], ["info", str(cut)]):
            assert main(argv) == 1
            err = capsys.readouterr().err
            assert err.startswith(f"svdcodec: error: {cut}: ") and err.count("\n") == 1
            assert ("--allow-truncated" in err) == (src is whole)
    assert main(["decode", str(tmp_path / "cut-w.svdi"), str(tmp_path / "o.png"),
                 "--allow-truncated"]) == 0


@pytest.mark.parametrize("argv", [["encode", "a", "b", "--rank", "3", "--entropy", "zstd"],
                                  ["encode", "a", "b", "--energy", "0.9", "--patch-size", "4"],
                                  ["encode", "a", "b", "--factors", "int8", "--entropy", "arith"],
                                  ["encode", "a", "b", "--layout", "stacked", "--entropy", "zstd"],
                                  ["encode", "a", "b", "--layout", "patch", "--rank", "3"],
                                  ["encode", "a", "b", "--layout", "patch", "--factors", "int8"],
                                  ["encode", "a", "--out-dir", "o", "--rank", "3",
                                   "--entropy", "zstd"]])
def test_options_of_the_other_layout_are_usage_errors(argv: list[str],
                                                      capsys: pytest.CaptureFixture) -> None:
    # A patch-layout option with a whole-image one is a usage error (exit 2, before any file is
    # read or any worker started), named by its flag, not the API's keyword
    # ("colour, subsampling, patch_size and entropy need layout='patch'", exit 1, once per
    # file of a batch).
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "usage:" in err and "--" in err.splitlines()[-1] and "layout='patch'" not in err


@pytest.mark.parametrize(("extra", "noted"), [([], True), (["--entropy", "arith"], True),
                                              (["--entropy", "zstd"], False),
                                              (["--rank", "3"], False)])
def test_a_level_the_arith_payload_ignores_is_noted(png: Path, tmp_path: Path, extra: list[str],
                                                    noted: bool,
                                                    capsys: pytest.CaptureFixture) -> None:
    # The default patch payload is arithmetic-coded and has no zstd level: --level 1 and
    # --level 19 wrote the same bytes without a word (README: "Nothing silent").
    out = tmp_path / "x.svdi"
    assert main(["encode", str(png), str(out), "--level", "1", *extra]) == 0
    err = capsys.readouterr().err
    assert ("--level 1 has no effect" in err) == noted
    if noted:  # and why: the default (auto) kept the arith payload, or it was asked for
        assert ("--entropy arith" in err) == ("arith" in extra)
        assert ("--entropy auto, kept it" in err) == (not extra)


# --- demo reads what the other lessons read (qa7) ------------------------------------------------
@pytest.mark.parametrize("kind", ["signed.tif", "grey.npy", "signed.npy"])
def test_demo_reads_the_inputs_the_other_lessons_read(kind: str, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    """demo opened its --image with Pillow alone: a signed 16-bit TIFF failed with
    'svdcodec: error: cannot write mode I as PNG' (a PNG the user never asked for) and an .npy
    array with 'cannot identify image file', though compare, animate and basis read both (a
    signed image as I;16 of sample + 32768, with a note)."""
    yy, xx = np.mgrid[0:24, 0:32]
    signed = (xx * 500 - 9000 + yy).astype(np.int16)
    src = tmp_path / kind
    if kind == "signed.tif":
        Image.fromarray(signed.astype(np.int32), mode="I").save(src)
    else:
        np.save(src, signed if kind == "signed.npy" else (xx * 7 + yy).astype(np.uint8))
    assert main(["demo", "--image", str(src), "--ranks", "2", "--layouts", "per-channel",
                 "--factors", "int8", "--qualities", "50"]) == 0
    captured = capsys.readouterr()
    label = "L" if kind == "grey.npy" else "I;16"
    assert captured.out.startswith(f"{kind}: 32x24 {label}, 768 samples")
    assert ("signed 16-bit (I;16S)" in captured.err) == kind.startswith("signed")


def test_demo_of_an_image_svdcodec_cannot_store_names_it(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    src = tmp_path / "float.tif"
    Image.fromarray(np.zeros((8, 8), np.float32), mode="F").save(src)
    assert main(["demo", "--image", str(src)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith(f"svdcodec: error: {src}: ")


def test_compare_help_names_a_module_that_documents_the_json(
        capsys: pytest.CaptureFixture) -> None:
    # compare --help sent readers to `pydoc svdcodec.report`, a module that no longer exists
    import importlib
    import re

    assert main(["compare", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    module = re.search(r"pydoc ([\w.]+)\)", help_text)
    assert module is not None
    assert "schema 1" in (importlib.import_module(module.group(1)).__doc__ or "")


def test_encode_help_names_every_key_of_encode_json(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    # the help's list of --json keys had fallen behind: frames, stack_coding, durations, loop
    src = tmp_path / "in.png"
    Image.fromarray(np.full((8, 8), 90, np.uint8)).save(src)
    assert main(["encode", str(src), str(tmp_path / "out.svdi"), "--json"]) == 0
    keys = json.loads(capsys.readouterr().out)
    assert main(["encode", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    listed = help_text.split("print a JSON object instead of the line:")[1].split(";")[0]
    assert {k for k in keys if k not in listed.replace(",", " ").split()} == set()
