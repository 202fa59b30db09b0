"""``svdcodec encode slices/*.dcm --stack series.svdi``, ``decode series.svdi out.dcm`` (one file
per slice), ``decode series.svdi DIR/``, ``.npy`` volumes and ``info``: a DICOM series on the
command line (spec section 17), on series synthesized with pydicom."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import svdcodec
from svdcodec.cli import main

pydicom = pytest.importorskip("pydicom", reason="the dicom extra (pydicom) is not installed")
from svdcodec.integrations.dicom_series import synthetic_slice  # noqa: E402

N = 4


def write_series(folder: Path, n: int = N, seed: int = 0) -> list[Path]:
    """N slices 2.5 mm apart under random names (their order says nothing)."""
    folder.mkdir(parents=True, exist_ok=True)
    names = random.Random(seed).sample(range(10_000), n)
    paths = []
    for k, name in enumerate(names):
        path = folder / f"IM{name:05d}.dcm"
        path.write_bytes(synthetic_slice(k, z=2.5 * k))
        paths.append(path)
    return paths


def encode(tmp_path: Path, capsys: pytest.CaptureFixture[str], *inputs: Path | str,
           out: str = "series.svdi") -> Path:
    target = tmp_path / out
    assert main(["encode", *map(str, inputs), "--stack", str(target), "--coding", "tall"]) == 0
    capsys.readouterr()
    return target


def z_of(path: Path) -> float:
    return float(pydicom.dcmread(path).ImagePositionPatient[2])


def test_encode_files_or_folder_in_any_order(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    slices = write_series(tmp_path / "slices")
    assert main(["encode", *map(str, slices), "--stack", str(tmp_path / "a.svdi"),
                 "--coding", "tall"]) == 0
    out = capsys.readouterr()
    assert "4 frames (tall)" in out.out and "DICOM pixels: max error" in out.out
    assert "ordered 4 slices by Image Position (Patient)" in out.err
    assert "with their 4 DICOM headers (dser:" in out.err
    b = encode(tmp_path, capsys, *reversed(slices), out="b.svdi")
    c = encode(tmp_path, capsys, tmp_path / "slices", out="c.svdi")
    a = (tmp_path / "a.svdi").read_bytes()
    assert a == b.read_bytes() == c.read_bytes()  # the order of the files does not matter
    assert svdcodec.read_header(a).dicom_series == 4


def test_decode_writes_one_file_per_slice(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    svdi = encode(tmp_path, capsys, *write_series(tmp_path / "slices"))
    assert main(["decode", str(svdi), str(tmp_path / "out.dcm")]) == 0
    out = capsys.readouterr()
    outputs = [tmp_path / f"out-{k:03d}.dcm" for k in range(N)]
    assert all(p.is_file() for p in outputs) and not (tmp_path / "out.dcm").exists()
    assert "4 files" in out.out and "wrote the 4 slices as 4 DICOM files" in out.err
    assert [z_of(p) for p in outputs] == [0.0, 2.5, 5.0, 7.5]
    volume = svdcodec.decode_stack(svdi.read_bytes())
    for k, path in enumerate(outputs):
        ds = pydicom.dcmread(path)
        np.testing.assert_array_equal(ds.pixel_array, volume[k])
        assert ds.LossyImageCompression == "01" and int(ds.InstanceNumber) == k + 1


def test_existing_slices_are_not_overwritten(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    svdi = encode(tmp_path, capsys, *write_series(tmp_path / "slices"))
    (tmp_path / "out-002.dcm").write_bytes(b"keep me")
    assert main(["decode", str(svdi), str(tmp_path / "out.dcm")]) == 1
    err = capsys.readouterr().err
    assert err.strip() == f"svdcodec: error: {tmp_path / 'out-002.dcm'} exists (use --force " \
                          f"to replace it)"
    assert not (tmp_path / "out-000.dcm").exists()  # nothing written before the check
    assert (tmp_path / "out-002.dcm").read_bytes() == b"keep me"
    assert main(["decode", str(svdi), str(tmp_path / "out.dcm"), "--force"]) == 0
    assert z_of(tmp_path / "out-002.dcm") == 5.0


def test_decode_into_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    svdi = encode(tmp_path, capsys, *write_series(tmp_path / "slices"))
    assert main(["decode", str(svdi), f"{tmp_path / 'missing'}/"]) == 1
    assert "the directory does not exist" in capsys.readouterr().err
    (tmp_path / "back").mkdir()
    assert main(["decode", str(svdi), str(tmp_path / "back")]) == 0
    capsys.readouterr()
    written = sorted((tmp_path / "back").iterdir())
    assert [p.name for p in written] == [f"series-{k:03d}.dcm" for k in range(N)]
    # and back again: the decoded slices are a series of their own
    assert main(["encode", str(tmp_path / "back"), "--stack", str(tmp_path / "again.svdi")]) \
        == 0
    assert svdcodec.read_header(tmp_path / "again.svdi").dicom_series == N


def test_folder_output_of_a_file_without_series(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    svdi = tmp_path / "plain.svdi"
    svdi.write_bytes(svdcodec.encode_stack(np.zeros((2, 8, 8), np.uint8), coding="tall"))
    (tmp_path / "d").mkdir()
    assert main(["decode", str(svdi), str(tmp_path / "d")]) == 1
    assert "holds no DICOM series" in capsys.readouterr().err


def test_npy_gives_the_volume(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    svdi = encode(tmp_path, capsys, *write_series(tmp_path / "slices"))
    assert main(["decode", str(svdi), str(tmp_path / "vol.npy")]) == 0
    volume = np.load(tmp_path / "vol.npy")
    assert volume.shape == (N, 24, 32) and volume.dtype == np.int16
    np.testing.assert_array_equal(volume, svdcodec.decode_stack(svdi.read_bytes()))


def test_frame_of_a_series_is_an_image(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    svdi = encode(tmp_path, capsys, *write_series(tmp_path / "slices"))
    assert main(["decode", str(svdi), str(tmp_path / "one.dcm"), "--frame", "1"]) == 1
    assert "one file per slice" in capsys.readouterr().err
    assert main(["decode", str(svdi), str(tmp_path / "s1.tif"), "--frame", "1"]) == 0
    with Image.open(tmp_path / "s1.tif") as im:
        assert im.size == (32, 24)


def test_info_shows_the_series(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    svdi = encode(tmp_path, capsys, *write_series(tmp_path / "slices"))
    assert main(["info", str(svdi)]) == 0
    assert '  DICOM series: 4 slices, CT "synthetic phantom", 2.5 mm apart, 32x24\n' in \
        capsys.readouterr().out
    assert main(["info", str(svdi), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["dicom_series"] == 4 and record["frames"] == 4
    assert record["series"]["slice_spacing"] == 2.5 and record["series"]["modality"] == "CT"


def test_batch_decode_to_dcm_writes_every_slice(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    svdi = encode(tmp_path, capsys, *write_series(tmp_path / "slices"))
    assert main(["decode", str(svdi), "--out-dir", str(tmp_path / "d"), "--format", "dcm",
                 "-j", "1"]) == 0
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == \
        [f"series-{k:03d}.dcm" for k in range(N)]


@pytest.mark.parametrize("bad", ["png", "empty folder", "other series"])
def test_what_is_no_series_is_one_error_line(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str],
                                             bad: str) -> None:
    slices = write_series(tmp_path / "slices", n=2)
    if bad == "png":
        extra = tmp_path / "x.png"
        Image.new("L", (32, 24)).save(extra)
        message = f"{extra}: not a DICOM file"
    elif bad == "empty folder":
        extra = tmp_path / "empty"
        extra.mkdir()
        message = f"{extra}: a folder without DICOM files"
    else:
        extra = tmp_path / "other.dcm"
        extra.write_bytes(synthetic_slice(5, z=9.0, series_uid="1.2.3"))
        message = f"{extra}: Series Instance UID 1.2.3 differs"
    out = tmp_path / "s.svdi"
    assert main(["encode", *map(str, slices), str(extra), "--stack", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("svdcodec: error: ") and message in err
    assert not out.exists()


def test_one_file_is_encoded_as_a_single_image(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    svdi = encode(tmp_path, capsys, *write_series(tmp_path / "slices", n=1))
    info = svdcodec.read_header(svdi)
    assert info.frames == 1 and info.metadata["dicom"] and info.dicom_series is None
    assert main(["decode", str(svdi), str(tmp_path / "back.dcm")]) == 0
    assert pydicom.dcmread(io.BytesIO((tmp_path / "back.dcm").read_bytes())).Modality == "CT"


def test_damaged_headers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A dser whose records are wrong (spec 17.1): the frames decode, the headers do not."""
    vectors = Path(__file__).resolve().parent.parent / "spec" / "vectors"
    svdi = vectors / "dser-stack-tall-l-patch-q50-bad-records.svdi"
    assert main(["info", str(svdi)]) == 0
    assert "DICOM series headers (dser) unreadable: dser record 2: 9 bytes" in \
        capsys.readouterr().out
    assert main(["decode", str(svdi), str(tmp_path / "out.dcm")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{svdi}: dser record 2" in err
    assert not list(tmp_path.iterdir())
    assert main(["decode", str(svdi), str(tmp_path / "vol.npy")]) == 0
    assert np.load(tmp_path / "vol.npy").shape == (3, 24, 32)


def test_missing_slice_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    slices = write_series(tmp_path / "slices", n=2)
    missing = tmp_path / "gone.dcm"
    assert main(["encode", *map(str, slices), str(missing), "--stack",
                 str(tmp_path / "s.svdi")]) == 1
    assert capsys.readouterr().err == f"svdcodec: error: {missing}: no such file\n"


def test_info_of_a_header_with_an_unknown_vr(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """A slice header whose Image Position has a VR pydicom does not know: info shows the
    series without a spacing (it crashed: NotImplementedError, an internal error)."""
    from svdcodec.integrations.dicom_series import read_series

    headers = [h.replace(b"\x20\x00\x32\x00DS", b"\x20\x00\x32\x00ZS") for h in
               read_series([synthetic_slice(k, z=2.5 * k) for k in range(2)]).headers]
    svdi = tmp_path / "s.svdi"
    svdi.write_bytes(svdcodec.encode_stack(np.zeros((2, 24, 32), np.int16), coding="tall",
                                           dicom_series=headers))
    assert main(["info", str(svdi)]) == 0
    assert '  DICOM series: 2 slices, CT "synthetic phantom", 32x24\n' in \
        capsys.readouterr().out
    assert main(["info", str(svdi), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["series"]["slice_spacing"] is None


@pytest.mark.parametrize("slopes", [(1.0, 10.0, 1.0), (0.5, 2.0, 8.0), (4.0, 4.0, 4.0)])
def test_rescaled_error_uses_each_slice_slope(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              slopes: tuple[float, float, float]) -> None:
    """encode --json's max_error_rescaled of a series whose Rescale Slope differs per slice:
    each slice's error times its own slope (it took slice 0's slope for all)."""
    folder = tmp_path / "slices"
    folder.mkdir()
    for k, slope in enumerate(slopes):
        data = pydicom.dcmread(io.BytesIO(synthetic_slice(k, z=2.5 * k)))
        data.RescaleSlope = slope
        data.save_as(folder / f"s{k}.dcm", enforce_file_format=True)
    target = tmp_path / "s.svdi"
    assert main(["encode", str(folder), "--stack", str(target), "--coding", "tall",
                 "--quality", "20", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)["dicom"]
    stored = np.stack([pydicom.dcmread(folder / f"s{k}.dcm").pixel_array for k in range(3)])
    error = np.abs(svdcodec.decode_stack(target.read_bytes()).astype(float) - stored)
    per_slice = error.reshape(3, -1).max(axis=1)
    assert record["max_error"] == per_slice.max() > 0
    rescaled = per_slice * np.array(slopes)
    assert record["max_error_rescaled"] == rescaled.max()


@pytest.mark.parametrize("out", ["vol.npy", "vol.tif"])
def test_monochrome1_series_image_output_notes_it(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str],
                                                  out: str) -> None:
    """A MONOCHROME1 series decoded to an image or .npy says, as a dicm file does, that the
    stored values are written uninverted (the note was missing: it read only dicm)."""
    folder = tmp_path / "slices"
    folder.mkdir()
    for k in range(3):
        data = pydicom.dcmread(io.BytesIO(synthetic_slice(k, z=2.5 * k)))
        data.PhotometricInterpretation = "MONOCHROME1"
        data.save_as(folder / f"s{k}.dcm", enforce_file_format=True)
    svdi = encode(tmp_path, capsys, folder)
    assert main(["decode", str(svdi), str(tmp_path / out)]) == 0
    assert "DICOM MONOCHROME1 (low values display white)" in capsys.readouterr().err
    assert main(["decode", str(svdi), str(tmp_path / "back.dcm")]) == 0
    assert "MONOCHROME1" not in capsys.readouterr().err
