"""svdcodec.teach.lessons and the ``spectrum`` / ``denoise`` commands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from svdcodec.cli import main
from svdcodec.metrics import psnr
from svdcodec.teach.lessons import GAVISH_DONOHO, denoise_image


def _clean(h: int = 48, w: int = 64) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    r = 128 + 50 * np.sin(xx / 6.0) + 40 * np.cos(yy / 5.0)
    g = 100 + 60 * np.cos(xx / 9.0)
    b = 90 + 30 * np.sin(yy / 4.0) * np.sin(xx / 11.0)
    return np.clip(np.stack([r, g, b], axis=2), 0, 255).round().astype(np.uint8)


def _noisy(clean: np.ndarray, sigma: float = 12.0, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, sigma, clean.shape)
    return np.clip(clean + noise, 0, 255).round().astype(clean.dtype)


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    clean = _clean()
    paths = {"clean": tmp_path / "clean.png", "noisy": tmp_path / "noisy.png",
             "grey16": tmp_path / "grey16.png", "grey": tmp_path / "grey.png"}
    Image.fromarray(clean).save(paths["clean"])
    Image.fromarray(_noisy(clean)).save(paths["noisy"])
    Image.fromarray(clean[:, :, 0].astype(np.uint16) * 257).save(paths["grey16"])
    Image.fromarray(clean[:, :, 1]).save(paths["grey"])
    return paths


def test_spectrum_table_plot_and_json(files: dict[str, Path], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    plot = tmp_path / "spectra.png"
    inputs = [str(files[k]) for k in ("clean", "noisy", "grey16", "grey")]
    assert main(["spectrum", *inputs, "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "luminance" in out and "Eckart-Young" in out and "noisy.png" in out
    with Image.open(plot) as im:
        assert im.width >= 1000
    assert main(["spectrum", *inputs, "--json", "--mode", "per-channel"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["matrices"] for r in records] == [3, 3, 1, 1]
    clean, noisy = records[0], records[1]
    # noise costs rank: the noisy copy needs more components for the same PSNR
    assert noisy["targets"]["30"]["rank"] > clean["targets"]["30"]["rank"]
    for r in records:
        hit = r["targets"]["35"]
        assert hit["values_fraction"] == pytest.approx(
            hit["rank"] * (r["rows"] + r["cols"] + 1) / (r["rows"] * r["cols"]))
        assert hit["psnr"] is None or hit["psnr"] >= 35.0
    # 16-bit: the same picture as the 8-bit red channel scaled by 257, the same ranks
    assert records[2]["peak"] == 65535.0


def test_spectrum_refuses_to_overwrite_the_plot(files: dict[str, Path], tmp_path: Path) -> None:
    plot = tmp_path / "p.png"
    plot.write_bytes(b"keep")
    assert main(["spectrum", str(files["grey"]), "--plot", str(plot)]) == 1
    assert plot.read_bytes() == b"keep"


def test_denoise_command_with_reference(files: dict[str, Path], tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "den.png"
    assert main(["denoise", str(files["noisy"]), str(out), "--sigma", "12",
                 "--reference", str(files["clean"])]) == 0
    text = capsys.readouterr().out
    for rule in (GAVISH_DONOHO, "70% of sum sigma", "90% of sum sigma^2", "best rank by search",
                 "noisy input", "4/sqrt(3)"):
        assert rule in text
    with Image.open(out) as im, Image.open(files["clean"]) as ref, \
            Image.open(files["noisy"]) as noisy:
        assert im.size == ref.size and im.mode == "RGB"
        gain = psnr(np.asarray(ref), np.asarray(im)) - psnr(np.asarray(ref), np.asarray(noisy))
    assert gain > 3.0  # dB


def test_denoise_command_unknown_noise(files: dict[str, Path], tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "den.png"
    assert main(["denoise", str(files["noisy"]), str(out)]) == 0
    text = capsys.readouterr().out
    assert "omega(beta)" in text and "rank" in text
    assert main(["denoise", str(files["noisy"]), str(out)]) == 1  # exists, no --force
    assert main(["denoise", str(files["noisy"]), str(tmp_path / "x.png"), "--sigma", "-1"]) == 2


def test_denoise_image_rules_and_alpha() -> None:
    clean = _clean()
    noisy = _noisy(clean)
    _out, rules, facts = denoise_image(noisy, 12.0, clean)
    by_name = {r.name: r for r in rules}
    gd, best = by_name[GAVISH_DONOHO], by_name["best rank by search (oracle)"]
    assert gd.psnr is not None and best.psnr is not None
    assert gd.psnr > by_name["noisy input"].psnr
    assert best.psnr >= gd.psnr - 0.5  # the oracle is at least about as good
    energy = [r.psnr for r in rules if "% of sum" in r.name]
    assert len(energy) == 6 and gd.psnr > max(energy)
    assert facts["known"] and len(facts["thresholds"]) == 3
    rgba = np.concatenate([noisy, np.full((*noisy.shape[:2], 1), 77, np.uint8)], axis=2)
    out4, rules4, _ = denoise_image(rgba)
    assert out4.shape == rgba.shape and np.all(out4[:, :, 3] == 77)
    np.testing.assert_array_equal(out4[:, :, :3], denoise_image(noisy)[0])
    assert rules4[0].psnr is None
    with pytest.raises(ValueError, match="shape"):
        denoise_image(noisy, None, clean[:10])


# --- denoise of a signed image writes signed samples (qa7) ---------------------------------------
def _ct(h: int = 24, w: int = 32, seed: int = 0) -> np.ndarray:
    """A noisy CT-like slice in Hounsfield units: air (-1000) around soft tissue (40)."""
    yy, xx = np.mgrid[0:h, 0:w]
    body = ((yy - h / 2) ** 2 / (h / 2.5) ** 2 + (xx - w / 2) ** 2 / (w / 2.5) ** 2) < 1
    noise = np.random.default_rng(seed).normal(0, 15, (h, w))
    return np.rint(np.where(body, 40.0, -1000.0) + noise).astype(np.int16)


def test_denoise_of_a_signed_image_writes_its_signed_samples(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """denoise read a signed 16-bit image as u = sample + 32768 (as the lessons show it) and
    wrote u: a CT slice of -1000 .. 40 HU came back as a TIFF of 31,768 .. 32,808 with no
    error. It writes the signed samples (TIFF mode I); a format without signed 16-bit (PNG)
    is refused naming it."""
    ct = _ct()
    src = tmp_path / "ct.tif"
    Image.fromarray(ct.astype(np.int32), mode="I").save(src)
    out = tmp_path / "clean.tif"
    assert main(["denoise", str(src), str(out)]) == 0
    with Image.open(out) as im:
        back = np.asarray(im).astype(np.int64)
    assert back.shape == ct.shape and back.min() < -900 and back.max() < 200
    assert np.abs(back - ct).mean() < 30
    capsys.readouterr()
    assert main(["denoise", str(src), str(tmp_path / "clean.png")]) == 1
    assert "signed 16-bit" in capsys.readouterr().err
    assert not (tmp_path / "clean.png").exists()


@settings(deadline=None, max_examples=15)
@given(seed=st.integers(0, 2**16), shift=st.integers(-20000, 20000))
def test_denoise_of_a_signed_image_is_the_denoise_of_its_offset(seed: int,
                                                               shift: int) -> None:
    """The samples written are those of the denoised u = sample + 32768, less 32768: the
    lesson's arithmetic (spec section 15.1) with the input's own values (an image with no
    negative value is I;16, denoised as it is)."""
    import tempfile

    from svdcodec.decoding import offset_to_signed
    from svdcodec.options import signed_to_offset

    ct = np.clip(_ct(12, 16, seed).astype(np.int64) + shift, -32768, 32767).astype(np.int16)
    with tempfile.TemporaryDirectory() as folder:  # not tmp_path: one per example
        src, out = Path(folder) / "ct.tif", Path(folder) / "out.tif"
        Image.fromarray(ct.astype(np.int32), mode="I").save(src)
        assert main(["denoise", str(src), str(out)]) == 0
        with Image.open(out) as im:
            back = np.asarray(im).astype(np.int64)
    if ct.min() >= 0:  # mode I whose values fit 0 .. 65535 is read as I;16 (README: inputs)
        expected = denoise_image(ct.astype(np.uint16))[0]
    else:
        expected = offset_to_signed(denoise_image(signed_to_offset(ct))[0])
    np.testing.assert_array_equal(back, expected.astype(np.int64))
