"""DICOM in and out (spec section 15.2, svdcodec.integrations.dicom, ``svdcodec encode x.dcm``
and ``decode x.svdi y.dcm``), on the test files pydicom ships in its wheel and on synthetic
data sets."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import svdcodec
from svdcodec.cli import main

pydicom = pytest.importorskip("pydicom", reason="the dicom extra (pydicom) is not installed")
from pydicom.data import get_testdata_file  # noqa: E402
from pydicom.pixels import apply_modality_lut  # noqa: E402

from svdcodec.integrations import dicom  # noqa: E402

# elements a lossy round trip changes (DICOM PS3.3 C.7.6.1.1.5) or that describe the pixel data
CHANGED = {"SOPInstanceUID", "LossyImageCompression", "LossyImageCompressionRatio",
           "LossyImageCompressionMethod", "PixelData", "PhotometricInterpretation",
           "PlanarConfiguration"}


def shipped(name: str) -> Path:
    """A test file of pydicom's wheel; skip if this install lacks it (never download)."""
    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"{name} is not shipped with this pydicom")
    return Path(path)


def cli_round_trip(src: Path, tmp_path: Path, capsys: pytest.CaptureFixture,
                   *options: str) -> tuple[dict[str, Any], Any]:
    """encode SRC --json, decode to .dcm: the encode record and the data set read back."""
    svdi, back = tmp_path / "x.svdi", tmp_path / "back.dcm"
    capsys.readouterr()
    assert main(["encode", str(src), str(svdi), "--json", *options]) == 0
    record = json.loads(capsys.readouterr().out)
    assert main(["decode", str(svdi), str(back)]) == 0
    return record, pydicom.dcmread(back)


def other_elements(ds: Any) -> dict[str, Any]:
    return {e.keyword or str(e.tag): e.value for e in ds if e.keyword not in CHANGED}


@pytest.mark.parametrize(("name", "psnr", "bits"), [("CT_small.dcm", 56.5, 12),
                                                     ("MR_small.dcm", 55.0, 11),
                                                     ("examples_overlay.dcm", 58.5, 11)])
def test_round_trip_keeps_header_and_reported_error(name: str, psnr: float, bits: int,
                                                    tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    """Issue 15's done-when: pydicom reads the result; values after rescale within the error
    the encode reports; every element but pixel data, the UIDs and the lossy-compression ones
    unchanged. PSNR (peak 2^bits - 1, the bits the values span) measured at quality 90: 56.87,
    55.45 and 58.79 dB; max errors 26 HU, 13 and 13."""
    src = shipped(name)
    record, back = cli_round_trip(src, tmp_path, capsys, "--quality", "90")
    original = pydicom.dcmread(src)
    err = record["dicom"]
    assert err["bits"] == bits and err["psnr"] >= psnr and 0 < err["max_error"] <= 30
    before = apply_modality_lut(original.pixel_array, original).astype(np.float64)
    after = apply_modality_lut(back.pixel_array, back).astype(np.float64)
    assert np.abs(after - before).max() <= err["max_error_rescaled"]
    assert back.pixel_array.dtype == original.pixel_array.dtype
    assert other_elements(back) == other_elements(original)
    assert back.SOPInstanceUID != original.SOPInstanceUID
    assert back.file_meta.MediaStorageSOPInstanceUID == back.SOPInstanceUID
    assert back.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert back.LossyImageCompression == "01"
    assert back.LossyImageCompressionMethod == dicom.LOSSY_METHOD
    ratio = original.pixel_array.nbytes / (record["bytes"] - _dicm_size(tmp_path / "x.svdi"))
    assert float(back.LossyImageCompressionRatio) == pytest.approx(ratio, rel=1e-5)


def _dicm_size(path: Path) -> int:
    return next(c.size for c in svdcodec.read_header(path).chunks if c.type == "dicm")


def test_ct_hounsfield_units_and_mode(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """CT_small is signed: stored as I;16S; its rescale makes Hounsfield units. Its values
    span 12 bits (128 .. 2191): quality is relative to those unless --bits says otherwise
    (measured at quality 90: max error 26 HU with 12 bits, 283 HU with --bits 16)."""
    record, back = cli_round_trip(shipped("CT_small.dcm"), tmp_path, capsys)
    assert record["mode"] == "I;16S" and record["dicom"]["units"] == "HU"
    assert (back.RescaleSlope, back.RescaleIntercept) == (1, -1024)
    errors = {}
    for bits in ("12", "16"):
        (tmp_path / "x.svdi").unlink()
        (tmp_path / "back.dcm").unlink()
        record, _ = cli_round_trip(shipped("CT_small.dcm"), tmp_path, capsys, "--quality", "90",
                                   "--bits", bits)
        errors[bits] = record["dicom"]["max_error_rescaled"]
    assert errors["12"] <= 30 < 200 <= errors["16"]


def test_twelve_bit_is_clipped_to_bits_stored(tmp_path: Path,
                                              capsys: pytest.CaptureFixture) -> None:
    src = shipped("examples_overlay.dcm")
    original = pydicom.dcmread(src)
    assert (original.BitsStored, original.PixelRepresentation) == (12, 0)
    record, back = cli_round_trip(src, tmp_path, capsys, "--quality", "20")
    assert record["mode"] == "I;16"
    assert 0 <= back.pixel_array.min() and back.pixel_array.max() <= 4095
    assert 0x60003000 in back  # Overlay Data (6000,3000): header, kept


@pytest.mark.filterwarnings("ignore:Expected explicit VR")  # SC_rgb_jpeg's own flaw
@pytest.mark.parametrize("name", ["SC_rgb_rle.dcm", "SC_ybr_full_422_uncompressed.dcm",
                                  "SC_rgb_jpeg.dcm"])
def test_colour_round_trips_as_rgb(name: str, tmp_path: Path,
                                   capsys: pytest.CaptureFixture) -> None:
    """RGB and YBR (converted by pydicom), uncompressed, RLE or JPEG: written back as RGB."""
    src = shipped(name)
    record, back = cli_round_trip(src, tmp_path, capsys, "--quality", "95")
    original = pydicom.dcmread(src)
    assert record["mode"] == "RGB" and back.PhotometricInterpretation == "RGB"
    assert back.PlanarConfiguration == 0
    assert svdcodec.metrics.psnr(original.pixel_array, back.pixel_array) > 30


def test_earlier_lossy_compression_is_kept_in_the_history(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    """Ratio and method are appended to the values of an earlier lossy compression."""
    src = shipped("SC_ybr_full_422_uncompressed.dcm")
    original = pydicom.dcmread(src)
    _, back = cli_round_trip(src, tmp_path, capsys)
    assert original.LossyImageCompressionMethod == "ISO_10918_1"  # one value: JPEG before
    assert list(back.LossyImageCompressionMethod) == ["ISO_10918_1", dicom.LOSSY_METHOD]
    assert len(back.LossyImageCompressionRatio) == 2
    assert back.LossyImageCompressionRatio[0] == original.LossyImageCompressionRatio  # 21.521


@pytest.mark.parametrize(("name", "options", "psnr"), [
    ("SC_rgb_rle_2frame.dcm", (), 45.0),
    ("examples_ybr_color.dcm", ("--coding", "tall", "--quality", "30"), 33.0)])
def test_multi_frame_round_trips_as_a_stack(name: str, options: tuple[str, ...], psnr: float,
                                            tmp_path: Path,
                                            capsys: pytest.CaptureFixture) -> None:
    """Every frame, as one stack (spec section 14), never the first alone; written back as a
    multi-frame DICOM with the same header. (Measured: the 2-frame RLE file 58.1 dB, the
    30-frame cine tall at quality 30 35.4 dB.)"""
    src = shipped(name)
    original = pydicom.dcmread(src)
    frames = int(original.NumberOfFrames)
    record, back = cli_round_trip(src, tmp_path, capsys, *options)
    assert record["frames"] == frames and record["stack_coding"] is not None
    assert record["dicom"]["psnr"] >= psnr
    assert int(back.NumberOfFrames) == frames
    assert back.pixel_array.shape == original.pixel_array.shape
    diff = np.abs(back.pixel_array.astype(np.int32) - original.pixel_array)
    assert diff.max() <= record["dicom"]["max_error"]
    assert other_elements(back) == other_elements(original)


def test_missing_pixel_handler_is_one_line_naming_it(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    src = shipped("MR_small_jpeg_ls_lossless.dcm")
    if pydicom.pixels.get_decoder(pydicom.dcmread(src).file_meta.TransferSyntaxUID).is_available:
        pytest.skip("a JPEG-LS pixel handler is installed here")
    capsys.readouterr()
    assert main(["encode", str(src), str(tmp_path / "x.svdi")]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "JPEG-LS" in err and "pylibjpeg" in err


@pytest.mark.parametrize(("name", "what"), [("rtdose_1frame.dcm", "32 bits"),
                                            ("examples_palette.dcm", "PALETTE COLOR")])
def test_pixels_svdcodec_cannot_hold_are_refused(name: str, what: str) -> None:
    with pytest.raises(dicom.DicomError, match=what):
        dicom.read_dicom(shipped(name))


def test_missing_pydicom_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                         capsys: pytest.CaptureFixture) -> None:
    src = shipped("CT_small.dcm")
    monkeypatch.setitem(sys.modules, "pydicom", None)  # import pydicom raises ImportError
    with pytest.raises(ImportError, match=r"svdcodec\[dicom\]"):
        dicom.read_dicom(src)
    capsys.readouterr()
    assert main(["encode", str(src), str(tmp_path / "x.svdi")]) == 1
    assert "pip install 'svdcodec[dicom]'" in capsys.readouterr().err


def test_info_shows_modality_size_bits_rescale_window(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    svdi = tmp_path / "mr.svdi"
    assert main(["encode", str(shipped("MR_small.dcm")), str(svdi)]) == 0
    capsys.readouterr()
    assert main(["info", str(svdi)]) == 0
    out = capsys.readouterr().out
    assert "DICOM: MR 64x64, MONOCHROME2, 16 bits (16 stored, signed), window 600/1600" in out
    assert main(["info", str(svdi), "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)["dicom"]
    assert (facts["modality"], facts["bits_stored"], facts["window_center"]) == ("MR", 16, 600)
    ct = tmp_path / "ct.svdi"
    assert main(["encode", str(shipped("CT_small.dcm")), str(ct)]) == 0
    capsys.readouterr()
    assert main(["info", str(ct)]) == 0
    assert "rescale 1 x + -1024" in capsys.readouterr().out


def test_decode_to_dcm_needs_a_dicom_header(tmp_path: Path,
                                            capsys: pytest.CaptureFixture) -> None:
    svdi = tmp_path / "plain.svdi"
    svdi.write_bytes(svdcodec.encode(np.zeros((8, 8), np.uint8)))
    capsys.readouterr()
    assert main(["decode", str(svdi), str(tmp_path / "x.dcm")]) == 1
    assert "holds no DICOM header" in capsys.readouterr().err
    assert not (tmp_path / "x.dcm").exists()


def test_header_chunk_is_a_part10_file_without_pixel_data() -> None:
    """Spec section 15.2: the dicm chunk is a Part 10 file, Explicit VR Little Endian, with
    no pixel data, from whatever transfer syntax the source used."""
    for name in ("MR_small.dcm", "MR_small_bigendian.dcm", "MR_small_implicit.dcm",
                 "MR_small_RLE.dcm"):
        data = dicom.encode_dicom(shipped(name), quality=50)
        header = svdcodec.read_header(data).metadata["dicom"]
        assert dicom.is_dicom(header)
        ds = pydicom.dcmread(io.BytesIO(header))
        assert "PixelData" not in ds and ds.Rows == 64
        assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian


# --- synthetic data sets: every sample kind, structured content -------------------------------
def synthetic(pixels: np.ndarray, bits_stored: int, signed: bool) -> bytes:
    """A minimal secondary-capture Part 10 file holding ``pixels`` (grey)."""
    from pydicom.dataset import Dataset, FileMetaDataset

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = pydicom.uid.SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.PatientName = "OT", "Test^Synthetic"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated = 8 * pixels.dtype.itemsize
    ds.BitsStored, ds.HighBit = bits_stored, bits_stored - 1
    ds.PixelRepresentation = int(signed)
    ds.PixelData = pixels.astype(pixels.dtype.newbyteorder("<")).tobytes()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


@st.composite
def dicom_images(draw: st.DrawFn) -> tuple[np.ndarray, int, bool]:
    allocated = draw(st.sampled_from([8, 16]))
    stored = draw(st.integers(max(2, allocated - 8), allocated))
    signed = draw(st.booleans())
    lo, hi = (-(1 << (stored - 1)), (1 << (stored - 1)) - 1) if signed else (0, (1 << stored) - 1)
    h, w = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    yy, xx = np.mgrid[:h, :w]
    kind = draw(st.sampled_from(["ramp", "extremes", "flat"]))
    if kind == "ramp":  # negative ramps too
        x = lo + (hi - lo) * ((draw(st.integers(-3, 3)) * yy + xx) % 7) // 6
    elif kind == "extremes":
        x = np.where((xx + yy) % 2, hi, lo)
    else:
        x = np.full((h, w), draw(st.integers(lo, hi)))
    dtype = f"{'i' if signed else 'u'}{allocated // 8}"
    return x.astype(dtype), stored, signed


@settings(deadline=None, max_examples=40)
@given(image=dicom_images(), quality=st.sampled_from([0, 50, 100]))
def test_synthetic_round_trip(image: tuple[np.ndarray, int, bool], quality: int) -> None:
    """Any grey DICOM of 8 or 16 bits (2..16 stored, signed or not) encodes; the DICOM written
    back holds the .svdi decode clipped to Bits Stored, in the source's sample type."""
    pixels, stored, signed = image
    data = dicom.encode_dicom(synthetic(pixels, stored, signed), quality=quality)
    back = pydicom.dcmread(io.BytesIO(dicom.decode_dicom(data)))
    lo, hi = (-(1 << (stored - 1)), (1 << (stored - 1)) - 1) if signed else (0, (1 << stored) - 1)
    expected = np.clip(svdcodec.decode(data).astype(np.int64), lo, hi)
    assert back.pixel_array.dtype == pixels.dtype
    np.testing.assert_array_equal(back.pixel_array, expected)
    assert back.PatientName == "Test^Synthetic" and back.BitsStored == stored
    mode = svdcodec.read_header(data).mode
    assert mode == ("I;16S" if signed else "I;16" if pixels.itemsize == 2 else "L")


@pytest.mark.parametrize("coding", ["frames", "tall", "snapshot"])
def test_signed_multi_frame_in_every_stack_coding(coding: str) -> None:
    """A signed 4-frame series: I;16S frames through each stack coding and back to DICOM."""
    yy, xx = np.mgrid[:20, :24]
    frames = np.stack([(-1000 + 40 * k + 30 * xx - 20 * yy) for k in range(4)]).astype(np.int16)
    source = synthetic(frames.reshape(-1, 24), 16, True)  # one tall frame, made multi-frame:
    ds = pydicom.dcmread(io.BytesIO(source))
    ds.Rows, ds.NumberOfFrames = 20, 4
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    # snapshot is a whole-image layout: int8 factors cannot hold u's offset finely (15.1)
    factors = {"factors": "float16"} if coding == "snapshot" else {}
    data = dicom.encode_dicom(buffer.getvalue(), coding=coding, quality=80, **factors)
    info = svdcodec.read_header(data)
    assert (info.mode, info.frames, info.stack_coding) == ("I;16S", 4, coding)
    back = pydicom.dcmread(io.BytesIO(dicom.decode_dicom(data)))
    assert back.pixel_array.dtype == np.int16 and back.pixel_array.shape == (4, 20, 24)
    np.testing.assert_array_equal(back.pixel_array, svdcodec.decode_stack(data))
    bits = dicom.significant_bits(frames, 16)  # 11: quality 80 is relative to 0 .. 2047
    assert svdcodec.metrics.psnr(frames, back.pixel_array, max_value=2**bits - 1) > 30


def test_dcm_output_holds_every_frame(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    svdi = tmp_path / "two.svdi"
    assert main(["encode", str(shipped("SC_rgb_rle_2frame.dcm")), str(svdi)]) == 0
    capsys.readouterr()
    assert main(["decode", str(svdi), str(tmp_path / "one.dcm"), "--frame", "1"]) == 1
    assert "holds every frame" in capsys.readouterr().err
    assert main(["decode", str(svdi), str(tmp_path / "f1.png"), "--frame", "1"]) == 0


def test_one_slice_twice_is_no_series(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """--stack joins the slices of a series (spec section 17: test_cli_dicom_series.py);
    the same file twice is one slice twice."""
    src = str(shipped("MR_small.dcm"))
    capsys.readouterr()
    assert main(["encode", src, src, "--stack", str(tmp_path / "x.svdi")]) == 1
    assert "the same slice as" in capsys.readouterr().err


@pytest.mark.parametrize("header", [b"garbage", b"\x00" * 128 + b"DICM" + b"\xff" * 40,
                                    "no rows"])
def test_a_damaged_dicm_header_is_one_error_line(header: Any, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture) -> None:
    """The chunk's content is never checked on decode (15.2); writing a DICOM file from it
    fails in one line, and info says what it could not read."""
    if header == "no rows":  # a readable header that cannot describe the image
        ds = pydicom.dcmread(io.BytesIO(synthetic(np.zeros((4, 4), np.uint8), 8, False)))
        del ds.Rows
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        header = dicom.header_bytes(pydicom.dcmread(io.BytesIO(buffer.getvalue())))
    svdi = tmp_path / "x.svdi"
    svdi.write_bytes(svdcodec.encode(np.zeros((4, 4), np.uint8), dicom=header))
    capsys.readouterr()
    assert main(["decode", str(svdi), str(tmp_path / "x.dcm")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("svdcodec: error: ") and "\n" not in err and "internal" not in err
    assert main(["info", str(svdi)]) == 0
    assert "DICOM" in capsys.readouterr().out


@pytest.mark.parametrize("suffix", [".png", ".tif", ".npy"])
def test_monochrome1_decoded_to_an_image_is_stored_values_with_a_note(
        suffix: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """MONOCHROME1 (low values display white, PS3.3 C.7.6.3.1.2): an image output holds the
    stored samples, not inverted, as pydicom's pixel_array does, and a note says so; the .dcm
    output keeps MONOCHROME1 and the decoded samples bit for bit."""
    yy, xx = np.mgrid[:16, :20]
    pixels = (40 + 8 * xx + 3 * yy).astype(np.uint8)
    ds = pydicom.dcmread(io.BytesIO(synthetic(pixels, 8, False)))
    ds.PhotometricInterpretation = "MONOCHROME1"
    src, svdi = tmp_path / "m1.dcm", tmp_path / "m1.svdi"
    ds.save_as(src, enforce_file_format=True)
    assert main(["encode", str(src), str(svdi), "--quality", "90"]) == 0
    decoded = svdcodec.decode(svdi.read_bytes())
    capsys.readouterr()
    out = tmp_path / f"m1{suffix}"
    assert main(["decode", str(svdi), str(out)]) == 0
    err = capsys.readouterr().err
    assert "MONOCHROME1" in err and "as stored" in err and "inverted" in err
    written = np.load(out) if suffix == ".npy" else np.asarray(Image.open(out))
    np.testing.assert_array_equal(written, decoded)
    back = tmp_path / "back.dcm"
    assert main(["decode", str(svdi), str(back)]) == 0
    assert "MONOCHROME1" not in capsys.readouterr().err
    again = pydicom.dcmread(back)
    assert again.PhotometricInterpretation == "MONOCHROME1"
    np.testing.assert_array_equal(again.pixel_array, decoded)


def test_monochrome2_decoded_to_an_image_has_no_note(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    src, svdi = tmp_path / "m2.dcm", tmp_path / "m2.svdi"
    src.write_bytes(synthetic(np.arange(64, dtype=np.uint8).reshape(8, 8), 8, False))
    assert main(["encode", str(src), str(svdi)]) == 0
    capsys.readouterr()
    assert main(["decode", str(svdi), str(tmp_path / "m2.png")]) == 0
    assert "MONOCHROME" not in capsys.readouterr().err


def test_encode_json_of_dicom_has_the_keys_of_any_encode(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture) -> None:
    """The record of a DICOM input has every key of an image's or a stack's, and ``dicom``."""
    src = tmp_path / "m2.dcm"
    src.write_bytes(synthetic(np.arange(64, dtype=np.uint8).reshape(8, 8), 8, False))
    capsys.readouterr()
    assert main(["encode", str(src), str(tmp_path / "m2.svdi"), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert set(record) == {"input", "output", "bytes", "input_bytes", "width", "height", "mode",
                           "layout", "factors", "ranks", "bpp", "seconds", "psnr", "notes",
                           "frames", "stack_coding", "durations", "loop", "dicom"}
    assert (record["input"], record["frames"], record["durations"]) == (str(src), 1, None)
