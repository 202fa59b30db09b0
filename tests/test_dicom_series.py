"""A DICOM series as one stack (spec section 17): reading and ordering the slices, the refusals,
encoding and writing one DICOM file per slice again (svdcodec.integrations.dicom_series)."""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import svdcodec
from svdcodec.integrations import dicom_series as ds
from svdcodec.integrations.dicom import DicomError

pydicom = pytest.importorskip("pydicom", reason="the dicom extra (pydicom) is not installed")
VECTORS = Path(__file__).resolve().parent.parent / "spec" / "vectors"


def edited(data: bytes, **elements: Any) -> bytes:
    """A DICOM file with elements set (None: deleted), written again."""
    dataset = pydicom.dcmread(io.BytesIO(data))
    for keyword, value in elements.items():
        if value is None:
            if keyword in dataset:
                delattr(dataset, keyword)
        else:
            setattr(dataset, keyword, value)
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def read(data: bytes) -> Any:
    return pydicom.dcmread(io.BytesIO(data))


def series(n: int = 4, spacing: float = 2.5, **kwargs: Any) -> list[bytes]:
    """N slices in slice order, z = spacing * k."""
    return [ds.synthetic_slice(k, z=spacing * k, **kwargs) for k in range(n)]


# --- ordering (section 17.2) -----------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(st.permutations(range(5)), st.sampled_from([2.5, -1.25, 0.6]))
def test_shuffled_files_give_the_same_stack_order(perm: list[int], spacing: float) -> None:
    slices = series(5, spacing, size=(6, 8))
    image = ds.read_series([slices[i] for i in perm])
    z = [float(read(h).ImagePositionPatient[2]) for h in image.headers]
    assert z == sorted(z)  # increasing along the normal (0, 0, 1)
    assert [perm[i] for i in image.order] == sorted(range(5), key=lambda k: spacing * k)
    expected = np.stack([read(slices[k]).pixel_array for k in
                         sorted(range(5), key=lambda k: spacing * k)])
    np.testing.assert_array_equal(image.pixels, expected)


SHUFFLED = series(4, size=(8, 8))


@settings(max_examples=10, deadline=None)
@given(st.permutations(range(4)))
def test_shuffled_files_give_the_same_file(perm: list[int]) -> None:
    """The encoded bytes do not depend on the order of the inputs (section 17.2)."""
    expected = ds.encode_series(SHUFFLED, coding="tall", quality=60)
    assert ds.encode_series([SHUFFLED[i] for i in perm], coding="tall", quality=60) == expected


@settings(max_examples=25, deadline=None)
@given(st.permutations(range(4)),
       st.tuples(*[st.floats(-1, 1, allow_nan=False)] * 3).filter(
           lambda v: 0.1 < float(np.linalg.norm(v))))
def test_oblique_slices_order_along_their_normal(perm: list[int],
                                                 axis: tuple[float, float, float]) -> None:
    """Any orientation: d = n . p orders the slices, whatever the order of the files."""
    a = np.asarray(axis) / np.linalg.norm(axis)
    helper = np.array([1.0, 0, 0]) if abs(a[0]) < 0.9 else np.array([0, 1.0, 0])
    r = np.cross(a, helper)
    r /= np.linalg.norm(r)
    c = np.cross(a, r)  # r x c = a
    keys = [ds.SliceKey(tuple(float(v) for v in (10 + 3 * k) * a + r), tuple(r) + tuple(c),
                        None, f"uid{k}") for k in range(4)]
    order, how = ds.slice_order([keys[i] for i in perm])
    assert "Image Position" in how
    assert [perm[i] for i in order] == [0, 1, 2, 3]


def test_instance_number_without_positions() -> None:
    slices = [edited(s, ImagePositionPatient=None) for s in series(4)]
    image = ds.read_series([slices[2], slices[0], slices[3], slices[1]])
    assert [int(read(h).InstanceNumber) for h in image.headers] == [1, 2, 3, 4]
    assert any("by Instance Number" in n for n in image.notes)


def test_differing_orientations_fall_back_to_instance_number() -> None:
    slices = series(3)
    slices[1] = edited(slices[1], ImageOrientationPatient=[0, 1, 0, 0, 0, -1])
    image = ds.read_series(slices[::-1])
    assert [int(read(h).InstanceNumber) for h in image.headers] == [1, 2, 3]


def test_nothing_to_order_by_keeps_the_order_given() -> None:
    slices = [edited(s, ImagePositionPatient=None, InstanceNumber=None) for s in series(3)]
    image = ds.read_series(slices[::-1])
    assert image.order == (0, 1, 2)
    assert any("in the order given" in n for n in image.notes)


def test_slices_at_one_position_order_by_instance_number() -> None:
    slices = [edited(s, ImagePositionPatient=[0, 0, 5]) for s in series(3)]
    image = ds.read_series([slices[1], slices[2], slices[0]])
    assert [int(read(h).InstanceNumber) for h in image.headers] == [1, 2, 3]


def test_slice_spacing_is_the_median_gap() -> None:
    keys = [ds.SliceKey((0.0, 0.0, z), (1, 0, 0, 0, 1, 0), None, "") for z in (0, 2, 4, 7)]
    assert ds.slice_spacing(keys) == 2.0
    assert ds.slice_spacing(keys[:1]) is None
    assert ds.slice_spacing([ds.SliceKey(None, None, 1, "")]) is None


# --- refusals --------------------------------------------------------------------------------
@pytest.mark.parametrize(("change", "match"), [
    ({"SeriesInstanceUID": "1.2.3.4"}, "input 1: Series Instance UID 1.2.3.4 differs"),
    ({"SeriesInstanceUID": None}, "input 1: no Series Instance UID"),
    ({"BitsStored": 12}, "input 1: BitsStored 12 differs from input 0's 16"),
    ({"PhotometricInterpretation": "MONOCHROME1"}, "PhotometricInterpretation MONOCHROME1"),
    ({"PixelRepresentation": 0}, "PixelRepresentation 0 differs"),
])
def test_not_one_volume_is_refused(change: dict[str, Any], match: str) -> None:
    slices = series(3)
    slices[1] = edited(slices[1], **change)
    with pytest.raises(DicomError, match=match):
        ds.read_series(slices)


def test_other_size_is_refused() -> None:
    slices = [*series(2), ds.synthetic_slice(2, z=5.0, size=(16, 32))]
    with pytest.raises(DicomError, match="input 2: Rows 16 differs from input 0's 24"):
        ds.read_series(slices)


def test_first_file_without_series_uid_is_refused() -> None:
    slices = series(2)
    slices[0] = edited(slices[0], SeriesInstanceUID=None)
    with pytest.raises(DicomError, match="input 0: no Series Instance UID"):
        ds.read_series(slices)


def test_multi_frame_file_is_refused() -> None:
    multi = edited(series(1)[0], NumberOfFrames=2, Rows=12)
    with pytest.raises(DicomError, match="input 1: a multi-frame file"):
        ds.read_series([series(1)[0], multi])


def test_unreadable_file_is_named() -> None:
    with pytest.raises(DicomError, match="input 1: not a readable DICOM file"):
        ds.read_series([series(1)[0], b"not DICOM at all" * 10])


def test_one_slice_twice_is_refused() -> None:
    slices = series(2)
    with pytest.raises(DicomError, match="input 2: the same slice as input 0"):
        ds.read_series([*slices, slices[0]])


def test_no_sources() -> None:
    with pytest.raises(ValueError, match="at least one"):
        ds.read_series([])


# --- encode and decode -----------------------------------------------------------------------
def test_round_trip_keeps_each_slice_header_and_values() -> None:
    slices = series(5, intercept=-1024.0)
    slices[3] = edited(slices[3], RescaleIntercept=-1000, WindowCenter=40)  # one slice differs
    random.Random(1).shuffle(slices)
    data = ds.encode_series(slices, coding="tall", quality=95)
    assert svdcodec.read_header(data).dicom_series == 5
    files = ds.decode_series(data)
    assert len(files) == 5
    sources = sorted((read(s) for s in slices), key=lambda d: float(d.ImagePositionPatient[2]))
    outs = [read(f) for f in files]
    np.testing.assert_array_equal(np.stack([o.pixel_array for o in outs]),
                                  svdcodec.decode_stack(data))
    for src, out in zip(sources, outs, strict=True):
        assert out.InstanceNumber == src.InstanceNumber
        assert out.RescaleIntercept == src.RescaleIntercept
        assert out.SeriesInstanceUID == src.SeriesInstanceUID
        assert out.SOPInstanceUID != src.SOPInstanceUID
        assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID
        assert out.LossyImageCompression == "01"
        assert out.LossyImageCompressionMethod == "SVDCODEC_SVDI"
        assert out.pixel_array.dtype == np.int16
        diff = out.pixel_array.astype(float) - src.pixel_array
        assert np.sqrt(np.mean(diff * diff)) < 8  # quality 95 of 1,100 values (11 bits)
    assert "WindowCenter" in outs[3] and "WindowCenter" not in outs[0]
    assert len({o.SOPInstanceUID for o in outs}) == 5
    ratios = {str(o.LossyImageCompressionRatio) for o in outs}
    assert len(ratios) == 1  # the whole file's ratio, in every slice
    dser = next(c for c in svdcodec.read_header(data).chunks if c.type == "dser")
    assert float(ratios.pop()) == pytest.approx(5 * 24 * 32 * 2 / (len(data) - dser.size),
                                                rel=0.01)


def test_volume_is_the_stack() -> None:
    slices = series(3)
    data = ds.encode_series(slices[::-1], coding="frames", quality=90)
    volume = svdcodec.decode_stack(data)
    assert volume.shape == (3, 24, 32) and volume.dtype == np.int16
    original = np.stack([read(s).pixel_array for s in slices])
    diff = volume.astype(float) - original
    assert np.sqrt(np.mean(diff * diff)) < 8 and np.abs(diff).max() < 64  # of 1,100 values


def test_one_file_is_a_single_image_with_dicm() -> None:
    data = ds.encode_series(series(1), quality=90)
    info = svdcodec.read_header(data)
    assert info.frames == 1 and info.dicom_series is None and info.metadata["dicom"]


def test_decode_series_needs_dser() -> None:
    with pytest.raises(DicomError, match="no DICOM series headers"):
        ds.decode_series(svdcodec.encode_stack(np.zeros((2, 4, 4), np.uint8), coding="tall"))


def test_header_that_cannot_hold_the_slice() -> None:
    data = svdcodec.encode_stack(np.zeros((2, 24, 32), np.int16), coding="tall",
                                 dicom_series=[b"not a DICOM header"] * 2)
    with pytest.raises(DicomError, match="slice 0"):
        ds.decode_series(data)


def test_describe_series() -> None:
    slices = series(4, spacing=1.5)
    slices[2] = edited(slices[2], RescaleSlope=2)
    data = ds.encode_series(slices, coding="tall", quality=50)
    facts = ds.describe_series(svdcodec.read_dicom_series(data) or ())
    assert facts == {"count": 4, "series_description": "synthetic phantom", "modality": "CT",
                     "columns": 32, "rows": 24,
                     "series_instance_uid": "1.2.826.0.1.3680043.8.498.1",
                     "slice_spacing": 1.5, "rescale_varies": True}


def test_golden_series_vector_headers_are_in_slice_order() -> None:
    data = (VECTORS / "dser-stack-tall-i16-patch-q60.svdi").read_bytes()
    headers = svdcodec.read_dicom_series(data) or ()
    assert [int(read(h).InstanceNumber) for h in headers] == [1, 2, 3]
    assert [float(read(h).ImagePositionPatient[2]) for h in headers] == [0.0, 2.5, 5.0]
    files = ds.decode_series(data)
    assert [read(f).pixel_array.shape for f in files] == [(24, 32)] * 3
    np.testing.assert_array_equal(np.stack([read(f).pixel_array for f in files]),
                                  svdcodec.decode_stack(data))


def test_measure_tool_runs(tmp_path: Path) -> None:
    """tools/measure_dicom_series.py (spec 17.3) runs against the package as it is now."""
    import os
    import subprocess
    import sys

    tool = Path(__file__).resolve().parents[1] / "tools" / "measure_dicom_series.py"
    done = subprocess.run([sys.executable, str(tool), "--slices", "3", "--size", "16"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("one stack (auto") == 2 and "3 separate .svdi" in done.stdout


def rgb_slice(k: int) -> bytes:
    """An 8-bit RGB secondary capture of the series, Instance Number k + 1, no positions."""
    base = read(ds.synthetic_slice(k, z=0.0))
    dataset = pydicom.Dataset()
    dataset.file_meta = base.file_meta
    for keyword in ("SOPClassUID", "SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID",
                    "InstanceNumber", "Modality"):
        setattr(dataset, keyword, getattr(base, keyword))
    dataset.Rows, dataset.Columns, dataset.SamplesPerPixel = 8, 10, 3
    dataset.PhotometricInterpretation, dataset.PlanarConfiguration = "RGB", 0
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = 8, 8, 7
    dataset.PixelRepresentation = 0
    i, j = np.mgrid[:8, :10]
    pixels = np.stack([i * 20 + 10 * k, j * 20, (i + j) * 10 + 5 * k], -1).astype(np.uint8)
    dataset.PixelData = pixels.tobytes()
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def test_colour_series_by_instance_number() -> None:
    data = ds.encode_series([rgb_slice(k) for k in (2, 0, 1)], coding="tall", quality=90)
    volume = svdcodec.decode_stack(data)
    assert volume.shape == (3, 8, 10, 3)
    files = [read(f) for f in ds.decode_series(data)]
    assert [int(f.InstanceNumber) for f in files] == [1, 2, 3]
    assert all(f.PhotometricInterpretation == "RGB" for f in files)
    np.testing.assert_array_equal(np.stack([f.pixel_array for f in files]), volume)


# elements that ordering and describe_series read, with their explicit-VR tag bytes
READ_ELEMENTS = {"ImagePositionPatient": b"\x20\x00\x32\x00DS",
                 "ImageOrientationPatient": b"\x20\x00\x37\x00DS",
                 "InstanceNumber": b"\x20\x00\x13\x00IS",
                 "SOPInstanceUID": b"\x08\x00\x18\x00UI",
                 "SeriesInstanceUID": b"\x20\x00\x0e\x00UI",
                 "SeriesDescription": b"\x08\x00\x3e\x10LO",
                 "RescaleIntercept": b"\x28\x00\x52\x10DS",
                 "RescaleSlope": b"\x28\x00\x53\x10DS"}


@settings(max_examples=20, deadline=None)
@given(st.sampled_from(sorted(READ_ELEMENTS)), st.integers(0, 2),
       st.sampled_from([b"ZS", b"\x44\xe0", b"Db"]))
def test_describe_series_of_an_unknown_vr(keyword: str, k: int, vr: bytes) -> None:
    """A dser header whose element has a VR pydicom does not know (it raises
    NotImplementedError on access) describes with that value unknown, as dicom.describe
    does: describe_series and info never crashed on it."""
    headers = list(ds.read_series(series(3)).headers)
    tag = READ_ELEMENTS[keyword]
    assert headers[k].count(tag) == 1
    headers[k] = headers[k].replace(tag, tag[:4] + vr)
    data = svdcodec.encode_stack(np.zeros((3, 24, 32), np.int16), coding="tall",
                                 dicom_series=headers)
    facts = ds.describe_series(svdcodec.read_dicom_series(data) or ())
    assert facts["count"] == 3 and facts["modality"] == "CT"
    if keyword in ("ImagePositionPatient", "ImageOrientationPatient"):
        assert facts["slice_spacing"] is None
    elif keyword == "SeriesDescription" and k == 0:
        assert facts["series_description"] is None
    elif keyword == "SeriesInstanceUID" and k == 0:
        assert facts["series_instance_uid"] is None
    elif keyword.startswith("Rescale"):
        assert facts["rescale_varies"]
    else:
        assert facts["slice_spacing"] == 2.5


@settings(max_examples=8, deadline=None)
@given(st.integers(2, 40), st.sampled_from([(1, 3), (4, 4), (8, 6)]))
def test_compression_ratio_is_the_whole_files(n: int, size: tuple[int, int]) -> None:
    """Spec 17.2: every slice's Lossy Image Compression Ratio is the whole file's, the pixel
    bytes of every frame over the file less dser; the per-slice share was rounded to whole
    bytes (300 slices of 16x16: 73.1429 for 73.8462)."""
    data = ds.encode_series([ds.synthetic_slice(k, z=0.5 * k, size=size) for k in range(n)],
                            coding="tall", quality=50)
    dser = next(c for c in svdcodec.read_header(data).chunks if c.type == "dser")
    expected = float(f"{n * size[0] * size[1] * 2 / (len(data) - dser.size):.6g}")
    ratios = [float(read(f).LossyImageCompressionRatio) for f in ds.decode_series(data)]
    assert ratios == [expected] * n


@settings(max_examples=20, deadline=None)
@given(st.lists(st.sampled_from([-1.7e308, -1e308, 0.0, 2.5, 1e308, 1.7e308]), min_size=2,
                max_size=4, unique=True))
def test_slice_spacing_is_finite_or_none(zs: list[float]) -> None:
    """Finite positions whose differences overflow (1e308 and -1e308): no spacing, rather than
    inf, which info --json wrote as Infinity, not JSON."""
    import itertools
    import math

    keys = [ds.SliceKey((0.0, 0.0, z), (1.0, 0.0, 0.0, 0.0, 1.0, 0.0), k + 1, f"1.{k}")
            for k, z in enumerate(zs)]
    spacing = ds.slice_spacing(keys)
    assert spacing is None or math.isfinite(spacing)
    ordered = sorted(zs)
    gaps = [b - a for a, b in itertools.pairwise(ordered)]
    if all(math.isfinite(g) for g in gaps):
        assert spacing is not None


@settings(max_examples=12, deadline=None)
@given(st.sampled_from(["RescaleSlope", "RescaleIntercept", "WindowCenter", "WindowWidth"]),
       st.sampled_from(["1e999", "-1e999"]))
def test_describe_gives_no_infinite_number(keyword: str, value: str) -> None:
    """A DS value beyond float (1e999) reads as inf: describe gave it, and info --json and
    encode --json (max_error_rescaled) wrote Infinity, which is not JSON; it is unreadable."""
    import json

    from svdcodec.integrations import dicom

    dataset = read(ds.synthetic_slice(0, z=0.0))
    dataset.add_new(pydicom.datadict.tag_for_keyword(keyword), "DS", "1")
    dataset[keyword].value = value
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    facts = dicom.describe(ds.read_series([buffer.getvalue()]).headers[0])
    assert facts[{"RescaleSlope": "rescale_slope", "RescaleIntercept": "rescale_intercept",
                  "WindowCenter": "window_center", "WindowWidth": "window_width"}[keyword]] \
        is None
    json.dumps(facts, allow_nan=False)
