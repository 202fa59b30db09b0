"""QA of the signed 16-bit mode, DICOM, .npy and decode limits on the command line (branch
qa-new): each test holds a defect found by using them as a new user would."""

from __future__ import annotations

import io
import json
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_hostile_api import bomb

import svdcodec
from svdcodec.cli import main

pydicom = pytest.importorskip("pydicom", reason="the dicom extra (pydicom) is not installed")
from pydicom.data import get_testdata_file  # noqa: E402

from svdcodec.integrations import dicom  # noqa: E402
from svdcodec.integrations.dicom_part10 import part10  # noqa: E402


def ct_small() -> str:
    path = get_testdata_file("CT_small.dcm", download=False)
    if path is None:
        pytest.skip("CT_small.dcm is not shipped with this pydicom")
    return str(path)


def with_element_value(header: bytes, tag: tuple[int, int], value: bytes) -> bytes:
    """``header`` (Explicit VR Little Endian) with the value of a short element overwritten,
    padded or cut to its length: a value pydicom itself would refuse to set."""
    i = header.index(struct.pack("<HH", *tag))
    n = struct.unpack("<H", header[i + 6:i + 8])[0]
    return header[:i + 8] + value.ljust(n)[:n] + header[i + 8 + n:]


def ct_with_header(header: bytes) -> bytes:
    image = dicom.read_dicom(ct_small())
    return svdcodec.encode(image.pixels, dicom=header)


def ct_header_with(**elements: object) -> bytes:
    image = dicom.read_dicom(ct_small())
    ds = pydicom.dcmread(io.BytesIO(image.header))
    for keyword, value in elements.items():
        setattr(ds, keyword, value)
    return part10(ds)


# --- a dicm chunk whose content is odd: info shows the file, decode refuses to write nonsense ----
def test_info_shows_a_file_whose_dicm_has_an_unreadable_rescale_slope(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Rescale Slope 'x': info exited 1 with 'could not convert string to float' (spec 15.2:
    decoders must not reject a dicm chunk for its content)."""
    header = dicom.read_dicom(ct_small()).header
    src = tmp_path / "x.svdi"
    src.write_bytes(ct_with_header(with_element_value(header, (0x0028, 0x1053), b"x")))
    assert main(["info", str(src)]) == 0
    assert "DICOM" in capsys.readouterr().out
    assert main(["info", str(src), "--json"]) == 0


@pytest.mark.parametrize("elements", [{"BitsAllocated": 12}, {"SamplesPerPixel": 3},
                                      {"BitsStored": 20}, {"BitsAllocated": 8}])
def test_decode_to_dicom_refuses_a_header_that_does_not_describe_the_pixels(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], elements: dict[str, int]) -> None:
    """A dicm chunk of grey int16 pixels claiming 12-bit allocation or 3 samples per pixel gave
    a .dcm whose Pixel Data does not match its header (pydicom cannot read its pixels)."""
    src = tmp_path / "x.svdi"
    src.write_bytes(ct_with_header(ct_header_with(**elements)))
    out = tmp_path / "y.dcm"
    assert main(["decode", str(src), str(out)]) == 1
    assert "svdcodec: error:" in capsys.readouterr().err
    assert not out.exists()


# --- decode limits on the command line -------------------------------------------------------
def test_a_refused_decode_says_how_to_raise_the_limit(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "big.svdi"
    src.write_bytes(bomb(20000, 10000, 1))  # 200 Mpixels
    out = tmp_path / "big.png"
    assert main(["decode", str(src), str(out)]) == 1
    err = capsys.readouterr().err
    assert "--limit max_pixels=" in err
    assert not out.exists()


def test_a_refused_info_says_how_to_raise_the_limit(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "big.svdi"
    src.write_bytes(bomb(20000, 10000, 1))
    assert main(["info", str(src)]) == 1
    assert "--limit max_pixels=" in capsys.readouterr().err
    assert main(["info", str(src), "--limit", "max_pixels=200000000"]) == 0
    assert "20000x10000" in capsys.readouterr().out


def test_decode_to_dicom_takes_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                     ) -> None:
    """decode x.svdi y.dcm ignored --limit (both ways): read_header and decode_dicom ran with
    the default limits."""
    src = tmp_path / "ct.svdi"
    assert main(["encode", ct_small(), str(src)]) == 0
    out = tmp_path / "ct.dcm"
    assert main(["decode", str(src), str(out), "--limit", "max_pixels=1000"]) == 1
    assert "exceed the limit of 1000" in capsys.readouterr().err
    assert not out.exists()
    assert main(["decode", str(src), str(out), "--limit", "max_pixels=16384"]) == 0


# --- .npy inputs -----------------------------------------------------------------------------
def test_encode_stack_takes_npy_frames(tmp_path: Path) -> None:
    """encode a.npy b.npy --stack x.svdi said "cannot identify image file 'a.npy'"; an (N, H, W)
    array is N frames, as `svdcodec stack` reads it."""
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (5, 24, 32)).astype(np.uint8)
    np.save(tmp_path / "a.npy", frames[0])
    np.save(tmp_path / "b.npy", frames[1:])
    out = tmp_path / "x.svdi"
    assert main(["encode", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"),
                 "--stack", str(out), "--quality", "90"]) == 0
    back = svdcodec.decode_stack(out.read_bytes())
    assert back.shape == frames.shape


@pytest.mark.parametrize("shape, dtype", [((3, 16, 20, 3), "u1"), ((4, 16, 20), ">i2"),
                                          ((2, 16, 20, 1), "<u2")])
def test_encode_stack_of_one_npy_of_frames(tmp_path: Path, shape: tuple[int, ...], dtype: str
                                          ) -> None:
    frames = np.linspace(0, 200, int(np.prod(shape))).reshape(shape).astype(dtype)
    np.save(tmp_path / "f.npy", frames)
    out = tmp_path / "x.svdi"
    assert main(["encode", str(tmp_path / "f.npy"), "--stack", str(out), "--quality", "90"]
                ) == 0
    back = svdcodec.decode_stack(out.read_bytes())
    assert back.shape == (shape if shape[-1] != 1 else shape[:-1])
    assert back.dtype == frames.dtype.newbyteorder("=")


@settings(deadline=None, max_examples=12)
@given(dtype=st.sampled_from(["<u2", ">u2", "<i2", ">i2", "u1"]),
       fortran=st.booleans())
def test_npy_inputs_of_any_byte_order_encode_as_native(dtype: str, fortran: bool,
                                                       tmp_path_factory: pytest.TempPathFactory
                                                       ) -> None:
    """A big-endian int16/uint16 .npy was refused ('got (H, W) >i2')."""
    tmp = tmp_path_factory.mktemp("npy")
    info = np.iinfo(np.dtype(dtype))
    array = np.linspace(info.min, info.max, 12 * 10).reshape(12, 10).astype(dtype)
    if fortran:
        array = np.asfortranarray(array)
    np.save(tmp / "a.npy", array)
    assert main(["encode", str(tmp / "a.npy"), str(tmp / "a.svdi"), "--quality", "100"]) == 0
    back = svdcodec.decode((tmp / "a.svdi").read_bytes())
    assert back.dtype == array.dtype.newbyteorder("=")
    scale = 1 if array.dtype.itemsize == 1 else 257
    assert int(np.abs(back.astype(np.int64) - array.astype(np.int64)).max()) <= 8 * scale


@pytest.mark.parametrize("shape, dtype", [((6, 20, 30), "u1"), ((20, 30, 5), "u1"),
                                          ((20, 30, 3), "<u2"), ((20, 30, 2), "<i2"),
                                          ((20, 30, 0), "u1"), ((0, 30), "u1")])
def test_npy_of_a_shape_the_codec_cannot_store_is_refused_naming_the_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], shape: tuple[int, ...],
        dtype: str) -> None:
    """'svdcodec: error: uint8 images must have [1, 2, 3, 4] channels, got 30' named neither
    the file nor --stack for an (N, H, W) stack."""
    src = tmp_path / "s.npy"
    np.save(src, np.zeros(shape, dtype))
    assert main(["encode", str(src), str(tmp_path / "s.svdi")]) == 1
    err = capsys.readouterr().err
    assert f"{src}:" in err and str(shape) in err
    assert not (tmp_path / "s.svdi").exists()


@pytest.mark.parametrize("field", ["max_width", "max_height", "max_pixels", "max_alloc_bytes",
                                   "max_work", "max_metadata_bytes", "max_chunks"])
@pytest.mark.parametrize("layout", ["patch", "per-channel"])
def test_the_suggested_limit_decodes_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              field: str, layout: str) -> None:
    """Every limit lowered to 1: the refusal names --limit FIELD=N, and with the setting it
    suggests (N given) the file decodes."""
    image = np.random.default_rng(1).integers(0, 256, (24, 40, 3)).astype(np.uint8)
    src = tmp_path / "x.svdi"
    src.write_bytes(svdcodec.encode(image, layout=layout, rank=4 if layout != "patch" else None,
                                    dpi=(72, 72)))
    out = tmp_path / "x.png"
    assert main(["decode", str(src), str(out), "--limit", f"{field}=1"]) == 1
    err = capsys.readouterr().err
    assert not out.exists()
    suggested = [w for w in err.split() if w.startswith(f"{field}=")]
    assert suggested, err
    value = suggested[0].split("=")[1].rstrip(")")
    if value != "N":
        assert main(["decode", str(src), str(out), "--limit", f"{field}={value}"]) == 0


@pytest.mark.parametrize("name", ["out.png", "out.dcm", "out.npy", "out.TIF"])
@pytest.mark.parametrize("stack", [False, True])
def test_encode_refuses_an_output_named_as_an_image_format(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, stack: bool) -> None:
    """encode x.npy out.png wrote .svdi bytes into out.png (and scan.dcm into scan2.dcm)."""
    src = tmp_path / "x.npy"
    np.save(src, np.zeros((8, 8), np.uint8))
    out = tmp_path / name
    argv = ["encode", str(src), "--stack", str(out)] if stack else ["encode", str(src), str(out)]
    assert main(argv) == 1
    assert ".svdi" in capsys.readouterr().err
    assert not out.exists()
    assert main(["encode", str(src), str(tmp_path / "out.svdi")]) == 0
    assert main(["encode", str(src), str(tmp_path / "out.bin")]) == 0


def test_a_signed_image_refused_as_png_names_outputs_that_hold_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """'use .tif or .dcm': .dcm then failed for a file not encoded from DICOM; .npy was not
    named."""
    src = tmp_path / "s.svdi"
    src.write_bytes(svdcodec.encode(np.full((8, 8), -5, np.int16)))
    assert main(["decode", str(src), str(tmp_path / "s.png")]) == 1
    err = capsys.readouterr().err
    assert ".npy" in err and ".tif" in err
    assert main(["decode", str(src), str(tmp_path / "s.npy")]) == 0
    assert np.load(tmp_path / "s.npy").dtype == np.int16


def with_vr(header: bytes, tag: tuple[int, int], vr: bytes) -> bytes:
    """``header`` with the VR of an element overwritten (an unknown VR: pydicom raises
    NotImplementedError when the element is read)."""
    i = header.index(struct.pack("<HH", *tag))
    return header[:i + 4] + vr + header[i + 6:]


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err


def check_dicm_handled(header: bytes, tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """info and info --json show the file (the dicm chunk is never a reason to reject it);
    decode to .dcm writes a file pydicom reads with its pixels, or says why not (exit 1)."""
    src = tmp / "x.svdi"
    src.write_bytes(ct_with_header(header))
    for argv in (["info", str(src)], ["info", str(src), "--json"]):
        code, err = run_cli(argv, capsys)
        assert code == 0, err
    out = tmp / "x.dcm"
    out.unlink(missing_ok=True)
    code, err = run_cli(["decode", str(src), str(out)], capsys)
    assert code in (0, 1), err
    if code == 0:
        with warnings.catch_warnings():  # about the header's own values (an unknown charset)
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(out)
            assert ds.pixel_array.shape == (128, 128)
    else:
        assert err.startswith("svdcodec: error:") and not out.exists()


def ct_header() -> bytes:
    return dicom.read_dicom(ct_small()).header


@pytest.mark.parametrize("make", [
    lambda h: with_vr(h, (0x0008, 0x0018), b"TI"),  # unknown VR of SOP Instance UID
    lambda h: with_vr(h, (0x0008, 0x0060), b"CA"),  # unknown VR of Modality
    lambda h: with_element_value(h, (0x0008, 0x0060), b"C\\"),  # Modality of two values
    lambda h: with_element_value(h, (0x0028, 0x0004), b"MONO\\CHROME2"),  # two photometrics
    lambda h: with_element_value(h, (0x0028, 0x0103), b"\x00\xbd"),  # Pixel Representation
], ids=["unknown-vr-uid", "unknown-vr-modality", "multi-modality", "multi-photometric",
        "pixel-representation-48384"])
def test_hostile_dicm_values(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                             make: object) -> None:
    """Found by mutating dicm chunks: info exited 3 (internal error) on an unknown VR
    (NotImplementedError from pydicom) and info --json on a multi-valued Modality (MultiValue is
    not JSON serializable); decode wrote a .dcm with Pixel Representation 48384 that pydicom
    cannot read."""
    check_dicm_handled(make(ct_header()), tmp_path, capsys)  # type: ignore[operator]


def test_dicm_without_pixel_representation(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    ds = pydicom.dcmread(io.BytesIO(ct_header()))
    del ds.PixelRepresentation
    check_dicm_handled(part10(ds), tmp_path, capsys)


@settings(deadline=None, max_examples=40,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(132, 10**6), st.integers(0, 255)), min_size=1,
                      max_size=6))
def test_mutated_dicm_chunks_never_crash_the_cli(
        edits: list[tuple[int, int]], tmp_path_factory: pytest.TempPathFactory,
        capsys: pytest.CaptureFixture[str]) -> None:
    header = bytearray(ct_header())
    for position, value in edits:
        header[position % len(header)] = value
    check_dicm_handled(bytes(header), tmp_path_factory.mktemp("dicm"), capsys)


# --- damaged DICOM inputs: refused with one line (exit 1), never an internal error ------------
def test_dicom_input_without_rows_is_refused(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    ds = pydicom.dcmread(ct_small())
    del ds.Rows
    src = tmp_path / "norows.dcm"
    ds.save_as(src)
    code, err = run_cli(["encode", str(src), str(tmp_path / "x.svdi")], capsys)
    assert code == 1 and err.startswith("svdcodec: error:"), err
    assert not (tmp_path / "x.svdi").exists()


def test_dicom_input_with_an_unknown_vr_is_refused_or_encoded(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "vr.dcm"
    src.write_bytes(with_vr(Path(ct_small()).read_bytes(), (0x0008, 0x0060), b"AA"))
    code, err = run_cli(["encode", str(src), str(tmp_path / "x.svdi")], capsys)
    assert code in (0, 1) and "internal error" not in err, err


@settings(deadline=None, max_examples=40,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(132, 10**6), st.integers(0, 255)), min_size=1,
                      max_size=4))
def test_mutated_dicom_inputs_never_crash_encode(
        edits: list[tuple[int, int]], tmp_path_factory: pytest.TempPathFactory,
        capsys: pytest.CaptureFixture[str]) -> None:
    data = bytearray(Path(ct_small()).read_bytes())
    for position, value in edits:
        data[132 + position % (len(data) - 132)] = value
    tmp = tmp_path_factory.mktemp("dcm")
    (tmp / "in.dcm").write_bytes(bytes(data))
    code, err = run_cli(["encode", str(tmp / "in.dcm"), str(tmp / "x.svdi")], capsys)
    assert code in (0, 1) and "internal error" not in err, err
    assert code == 0 or not (tmp / "x.svdi").exists()


@pytest.mark.parametrize("fmt", ["dcm", "npy"])
def test_batch_decode_writes_dicom_and_npy(tmp_path: Path, fmt: str) -> None:
    """decode --out-dir D --format dcm (or npy) was refused: "unknown image format 'dcm'",
    though a single decode writes both."""
    frames = np.stack([dicom.read_dicom(ct_small()).pixels] * 3)
    single = tmp_path / "ct.svdi"
    assert main(["encode", ct_small(), str(single)]) == 0
    (tmp_path / "stack.svdi").write_bytes(svdcodec.encode_stack(frames, quality=90))
    out = tmp_path / "out"
    code = main(["decode", str(single), *([str(tmp_path / "stack.svdi")] if fmt == "npy" else []),
                 "--out-dir", str(out), "--format", fmt, "-j", "1"])
    assert code == 0
    if fmt == "dcm":
        ds = pydicom.dcmread(out / "ct.dcm")
        assert ds.pixel_array.shape == (128, 128) and ds.LossyImageCompression == "01"
    else:
        assert np.load(out / "ct.npy").dtype == np.int16
        assert sorted(p.name for p in out.glob("stack-*.npy")) == [
            "stack-000.npy", "stack-001.npy", "stack-002.npy"]


def multi_frame_ct(tmp: Path, frames: int = 3) -> Path:
    ds = pydicom.dcmread(ct_small())
    base = ds.pixel_array.astype(np.int32)
    pixels = np.stack([base + 30 * k for k in range(frames)]).astype(np.int16)
    ds.NumberOfFrames = frames
    ds.PixelData = pixels.tobytes()
    path = tmp / "mf.dcm"
    ds.save_as(path)
    return path


def test_multi_frame_dicom_encode_measures_target_psnr(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """encode mf.dcm --target-psnr P --json gave psnr null and no 'not reached' note for a
    multi-frame DICOM file (single-frame ones and other stacks had both)."""
    src = multi_frame_ct(tmp_path)
    assert main(["encode", str(src), str(tmp_path / "a.svdi"), "--target-psnr", "50",
                 "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["psnr"] is not None and record["psnr"] >= 50 - 0.005
    assert record["psnr"] == pytest.approx(record["dicom"]["psnr"])
    assert main(["encode", str(src), str(tmp_path / "b.svdi"), "--target-psnr", "200",
                 "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert any("not reached" in note for note in record["notes"])


def test_coding_on_a_one_frame_dicom_is_a_note(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["encode", ct_small(), str(tmp_path / "a.svdi"), "--coding", "tall"]) == 0
    assert "--coding tall applies to stacks" in capsys.readouterr().err


def test_decode_to_dicom_of_a_cut_file_takes_allow_truncated(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """decode cut.svdi y.dcm --allow-truncated ignored the option (and gave no hint without it)
    while decode cut.svdi y.tif salvaged the file."""
    full = tmp_path / "ct.svdi"
    assert main(["encode", ct_small(), str(full), "--layout", "per-channel", "--rank", "20",
                 "--progressive"]) == 0
    data = full.read_bytes()
    cut = tmp_path / "cut.svdi"
    cut.write_bytes(data[:len(data) - 2000])
    out = tmp_path / "cut.dcm"
    capsys.readouterr()
    assert main(["decode", str(cut), str(out)]) == 1
    assert "--allow-truncated" in capsys.readouterr().err and not out.exists()
    assert main(["decode", str(cut), str(out), "--allow-truncated"]) == 0
    salvaged = pydicom.dcmread(out).pixel_array
    assert np.array_equal(salvaged, svdcodec.decode(cut.read_bytes(), allow_truncated=True))


def test_a_dicom_file_with_fewer_frames_than_it_declares_says_so(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An RLE file whose Number of Frames (3) exceeds its fragments (2) was refused as 'not a
    readable DICOM file: StopIteration: ' (pydicom's fragment generator ran dry)."""
    path = get_testdata_file("SC_rgb_rle_2frame.dcm", download=False)
    if path is None:
        pytest.skip("SC_rgb_rle_2frame.dcm is not shipped with this pydicom")
    ds = pydicom.dcmread(path)
    ds.NumberOfFrames = 3
    src = tmp_path / "three.dcm"
    ds.save_as(src)
    out = tmp_path / "x.svdi"
    assert main(["encode", str(src), str(out)]) == 1
    err = capsys.readouterr().err
    assert "StopIteration" not in err
    assert "holds fewer frames than its Number of Frames (3)" in err
    assert not out.exists()
