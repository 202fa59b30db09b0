"""A DICOM series (a folder of single-frame files, one slice each) <-> one .svdi stack whose
chunk ``dser`` keeps every slice's header (spec section 17). Needs the extra
``svdcodec[dicom]`` (pydicom), imported on first use.

:func:`read_series` reads the files, refuses a set that is not one volume (another series, a
multi-frame file, slices of different size or kind) and orders the slices by their position
along the slice normal (section 17.2, :mod:`.dicom_order`), so that the order of the files
does not matter.
:func:`encode_series` encodes them as one stack, :func:`decode_series` writes one DICOM file per
slice again (each from its own header, new SOP Instance UIDs, Lossy Image Compression as
section 15.2 says), :func:`describe_series` gives what ``svdcodec info`` shows.

>>> import io, pydicom, svdcodec
>>> files = [synthetic_slice(k, z=2.5 * k) for k in (2, 0, 1)]  # any order
>>> data = encode_series(files, coding="tall", quality=90)
>>> svdcodec.read_header(data).dicom_series
3
>>> [int(pydicom.dcmread(io.BytesIO(f)).InstanceNumber) for f in decode_series(data)]
[1, 2, 3]
>>> describe_series(svdcodec.read_dicom_series(data))["slice_spacing"]
2.5
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from .. import codec
from . import dicom
from .dicom import DicomError, DicomImage
from .dicom_order import SliceKey, quiet, slice_key, slice_order, slice_spacing, text

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

PathLike = Union[str, "os.PathLike[str]"]
EXTRA = "svdcodec[dicom]"  # the extra that installs pydicom
# the elements that every slice of one volume shares (section 17.2), in the order checked
SAME_KIND = ("Rows", "Columns", "SamplesPerPixel", "BitsAllocated", "BitsStored",
             "PixelRepresentation", "PhotometricInterpretation")




@dataclass(frozen=True)
class SeriesImage:
    """A series as the codec stores it: the slices in stack order."""

    pixels: np.ndarray  # (N, H, W) uint8 / uint16 / int16, (N, H, W, 3) uint8
    headers: tuple[bytes, ...]  # the dser records: each slice's Part 10 file, no pixel data
    bits: int  # the default ``bits`` of the encode (dicom.significant_bits of the volume)
    order: tuple[int, ...]  # order[k]: the index among the inputs of slice k
    notes: tuple[str, ...] = ()




def _dataset(header: bytes) -> Dataset:
    """A header (a Part 10 file without pixel data) as a pydicom Dataset."""
    try:
        import pydicom
    except ImportError:
        raise ImportError(f"DICOM files need pydicom: pip install '{EXTRA}'") from None
    try:
        with quiet():
            return pydicom.dcmread(io.BytesIO(header))
    except Exception as exc:  # pydicom on damaged bytes raises many kinds; all mean the same
        raise DicomError(f"not a readable DICOM header: {exc or type(exc).__name__}") from None






















def _kind(ds: Dataset) -> tuple[str, ...]:
    return tuple(text(ds, keyword) for keyword in SAME_KIND)


def _name(source: PathLike | bytes, index: int) -> str:
    return f"input {index}" if isinstance(source, (bytes, bytearray)) else str(source)


def _read_slice(source: PathLike | bytes, name: str) -> tuple[DicomImage, Dataset]:
    try:
        image = dicom.read_dicom(source)
    except DicomError as exc:
        raise DicomError(f"{name}: {exc}") from None
    if image.frames > 1:
        raise DicomError(f"{name}: a multi-frame file ({image.frames} frames): a series joins "
                         f"single-frame files (a multi-frame file is a stack of its own)")
    return image, _dataset(image.header)


def _check_same(name: str, ds: Dataset, first_name: str, first: Dataset) -> None:
    """DicomError unless ``ds`` is a slice of ``first``'s series and kind (section 17.2)."""
    uid = text(ds, "SeriesInstanceUID")
    if not uid:
        raise DicomError(f"{name}: no Series Instance UID: cannot tell that it belongs to the "
                         f"series")
    if uid != text(first, "SeriesInstanceUID"):
        raise DicomError(f"{name}: Series Instance UID {uid} differs from {first_name}'s "
                         f"{text(first, 'SeriesInstanceUID')}: --stack joins the slices of one "
                         f"series")
    for keyword, value, expected in zip(SAME_KIND, _kind(ds), _kind(first), strict=True):
        if value != expected:
            raise DicomError(f"{name}: {keyword} {value or '(none)'} differs from "
                             f"{first_name}'s {expected or '(none)'}: the slices of a stack "
                             f"share one size and kind")


def _check_distinct(names: Sequence[str], keys: Sequence[SliceKey]) -> None:
    """DicomError for one slice given twice (one SOP Instance UID in two inputs)."""
    seen: dict[str, str] = {}
    for name, key in zip(names, keys, strict=True):
        if key.uid and key.uid in seen:
            raise DicomError(f"{name}: the same slice as {seen[key.uid]} (SOP Instance UID "
                             f"{key.uid}): each slice once")
        seen.setdefault(key.uid, name)


def read_series(sources: Sequence[PathLike | bytes]) -> SeriesImage:
    """The slices of one series (paths or bytes of single-frame DICOM files, any order) in
    stack order (section 17.2), with their headers; DicomError naming the file that does not
    fit, ImportError naming the extra without pydicom."""
    if not sources:
        raise ValueError("read_series needs at least one DICOM file")
    names = [_name(s, i) for i, s in enumerate(sources)]
    slices = [_read_slice(s, name) for s, name in zip(sources, names, strict=True)]
    first = slices[0][1]
    if not text(first, "SeriesInstanceUID"):
        raise DicomError(f"{names[0]}: no Series Instance UID: cannot tell that it belongs "
                         f"to the series")
    for name, (_, ds) in zip(names[1:], slices[1:], strict=True):
        _check_same(name, ds, names[0], first)
    keys = [slice_key(ds) for _, ds in slices]
    _check_distinct(names, keys)
    order, how = slice_order(keys)
    pixels = np.stack([slices[i][0].pixels for i in order])
    stored = min(int(first.get("BitsStored", first.BitsAllocated)), 8 * pixels.itemsize)
    notes = [n for i in order for n in (f"{names[i]}: {m}" for m in slices[i][0].notes)]
    spacing = slice_spacing(keys)
    shown = "" if spacing is None else f", slice spacing {spacing:g} mm"
    notes.append(f"ordered {len(order)} slices {how}{shown}")
    return SeriesImage(pixels, tuple(slices[i][0].header for i in order),
                       dicom.significant_bits(pixels, stored), tuple(order), tuple(notes))


def encode_series(sources: Sequence[PathLike | bytes], *, coding: str = "auto",
                  **options: Any) -> bytes:
    """The slices of one series as one stack (spec sections 14 and 17) with their headers in
    ``dser``; ``options`` as :func:`svdcodec.encode_stack`, whose ``bits`` defaults to the bits
    the volume's values span. One file is encoded as :func:`.dicom.encode_dicom` does."""
    series = read_series(sources)
    options.setdefault("bits", series.bits)
    if len(series.headers) == 1:
        return codec.encode(series.pixels[0], dicom=series.headers[0], **options)
    return codec.encode_stack(series.pixels, coding=coding, dicom_series=series.headers,
                              **options)


def decode_series(data: bytes, **options: Any) -> list[bytes]:
    """One DICOM file per frame of an .svdi file with ``dser`` (DicomError without one), frame
    k written with header k as section 17.2 says; ``options`` as :func:`svdcodec.decode_stack`
    (``rank``, ``limits``)."""
    limits = options.get("limits")
    info = codec.read_header(data, limits=limits)
    headers = codec.read_dicom_series(data, limits=limits)
    if headers is None:
        raise DicomError("the .svdi file holds no DICOM series headers (dser chunk, spec "
                         "section 17)")
    pixels = codec.decode_stack(data, **options)
    dser = next(c for c in info.chunks if c.type == "dser")
    # each slice's share of the file less dser, not rounded: the ratio is the whole file's
    per_slice = (len(data) - dser.size) / len(headers)
    return [_write_slice(pixels[k], header, per_slice, k) for k, header in enumerate(headers)]


def _write_slice(pixels: np.ndarray, header: bytes, compressed_size: float, k: int) -> bytes:
    try:
        with quiet():  # about elements the source had as they were: not ours
            return dicom.write_dicom(pixels, header, compressed_size)
    except DicomError as exc:
        raise DicomError(f"slice {k}: {exc}") from None
    except Exception as exc:  # pydicom on damaged elements raises many kinds
        raise DicomError(f"slice {k}: the dser header cannot hold this image: "
                         f"{type(exc).__name__}: {exc}") from None


def describe_series(headers: Sequence[bytes]) -> dict[str, Any]:
    """What ``svdcodec info`` shows of a series: the slice count, series description,
    modality, the first slice's facts (:func:`.dicom.describe`), the slice spacing (mm, None
    without positions) and whether Rescale Slope or Intercept differ between slices."""
    datasets = [_dataset(h) for h in headers]
    first = dicom.describe(headers[0])
    description = text(datasets[0], "SeriesDescription") or None
    rescales = {(text(ds, "RescaleSlope"), text(ds, "RescaleIntercept")) for ds in datasets}
    return {"count": len(headers), "series_description": description,
            "modality": first["modality"], "columns": first["columns"], "rows": first["rows"],
            "series_instance_uid": text(datasets[0], "SeriesInstanceUID") or None,
            "slice_spacing": slice_spacing([slice_key(ds) for ds in datasets]),
            "rescale_varies": len(rescales) > 1}


def synthetic_slice(instance: int, z: float, *, size: tuple[int, int] = (24, 32),
                    series_uid: str = "1.2.826.0.1.3680043.8.498.1",
                    intercept: float = -1024.0, signed: bool = True) -> bytes:
    """A small CT slice as a DICOM file, for examples and tests: 16-bit pixels (``signed``:
    Pixel Representation 1) of a smooth phantom that changes with ``z``, stored as Hounsfield
    units less ``intercept``, Instance Number ``instance`` + 1, Image Position (Patient)
    (0, 0, z), axial orientation."""
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    rows, cols = size
    y, x = np.mgrid[0:rows, 0:cols]
    radius = np.hypot(y - rows / 2, x - cols / 2)
    pixels = np.where(radius < rows / 2.5, 40 + 5 * z + 10 * np.cos(x / 3), -1000)
    ds = pydicom.Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    uid = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = uid
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, uid
    ds.Modality, ds.SeriesDescription = "CT", "synthetic phantom"
    ds.PatientName, ds.PatientID = "Phantom^Synthetic", "0"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.2", series_uid
    ds.InstanceNumber = instance + 1
    ds.ImagePositionPatient = [0.0, 0.0, z]
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.SliceLocation, ds.SliceThickness, ds.PixelSpacing = z, 2.5, [0.7, 0.7]
    ds.RescaleSlope, ds.RescaleIntercept = 1, intercept
    ds.Rows, ds.Columns, ds.SamplesPerPixel = rows, cols, 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.PixelRepresentation = int(signed)
    stored = np.round(pixels - intercept)
    ds.PixelData = stored.astype("<i2" if signed else "<u2").tobytes()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


__all__ = [
    "SeriesImage",
    "SliceKey",
    "decode_series",
    "describe_series",
    "encode_series",
    "read_series",
    "slice_key",
    "slice_order",
    "slice_spacing",
    "synthetic_slice",
]
