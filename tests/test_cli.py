"""The command line: exit codes, no data lost, encode/decode/info/demo."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
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

    import svdcodec.cli.commands as cli

    seen: list[int] = []

    def spy(args: object) -> int:
        seen.extend(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")
        return 0

    monkeypatch.setattr(cli, "cmd_info", spy)
    assert cli.main(["info", str(tmp_path / "x.svdi")]) == 0
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
