"""Writing a DICOM file again from a decoded image and the ``dicm`` chunk's header (spec
section 15.2), for :func:`.dicom.decode_dicom`: the pixels clipped to Bits Stored,
uncompressed (Explicit VR Little Endian), a new SOP Instance UID, and Lossy Image Compression
"01" with the ratio and method appended (DICOM PS3.3 C.7.6.1.1.5). The header is never checked
when stored, so what it describes is checked here against the pixels."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np

from .dicom_part10 import (
    PIXEL_TAGS,
    DicomError,
    part10,
    pydicom_module,
    read_dataset,
    warnings_as_notes,
)

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

# Lossy Image Compression Method (0028,2114) is a list of defined terms, which may be extended:
# ours names the format (a CS value: capitals, digits, underscore, at most 16 characters)
LOSSY_METHOD = "SVDCODEC_SVDI"


def _stored_range(ds: Dataset) -> tuple[int, int, np.dtype]:
    """The sample range of Bits Stored and the dtype of Bits Allocated."""
    bits = int(ds.BitsAllocated)
    stored = int(ds.get("BitsStored", bits))
    if int(ds.get("PixelRepresentation", 0)):
        return -(1 << (stored - 1)), (1 << (stored - 1)) - 1, np.dtype(f"<i{bits // 8}")
    return 0, (1 << stored) - 1, np.dtype(f"<u{bits // 8}")


# Bits Allocated that write_dicom writes grey samples in (PS3.5 8.1.1: a multiple of 8)
GREY_BITS_ALLOCATED = (8, 16, 32)


def _check_grey_sample(ds: Dataset) -> None:
    """DicomError unless the header describes one sample per pixel in whole bytes with Bits
    Stored within Bits Allocated: the dicm chunk is never checked (spec section 15.2), and a
    Pixel Data that its header does not describe is no DICOM file."""
    samples = int(ds.get("SamplesPerPixel", 1))
    bits = int(ds.BitsAllocated)
    stored = int(ds.get("BitsStored", bits))
    if samples != 1 or bits not in GREY_BITS_ALLOCATED or not 1 <= stored <= bits:
        raise DicomError(f"the dicm chunk's DICOM header describes {samples} sample(s) of "
                         f"{stored} bits stored in {bits}: it cannot hold this grey image")


def _append(ds: Dataset, keyword: str, value: str) -> None:
    """A multi-valued element with ``value`` added after the values it had."""
    old = ds.get(keyword)
    values = [] if old in (None, "") else [str(v) for v in
                                           (old if isinstance(old, (list, tuple)) or
                                            type(old).__name__ == "MultiValue" else [old])]
    setattr(ds, keyword, [*values, value] if values else value)


def write_dicom(pixels: np.ndarray, header: bytes, compressed_size: float) -> bytes:
    """A DICOM Part 10 file: ``header`` (the dicm chunk) with ``pixels`` as its Pixel Data.

    ``compressed_size``: the bytes the pixels took in the .svdi file (a slice of a series:
    its share, a fraction), for Lossy Image Compression Ratio (uncompressed pixel bytes /
    compressed_size).
    """
    pydicom = pydicom_module()
    ds = read_dataset(header)
    for tag in PIXEL_TAGS:  # a header that kept some: the decoded pixels replace them
        if tag in ds:
            del ds[tag]
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    shape = (int(ds.Rows), int(ds.Columns))
    colour = pixels.ndim == (4 if frames > 1 else 3)
    got = pixels.shape[1:3] if frames > 1 else pixels.shape[:2]
    if got != shape or (frames > 1 and pixels.shape[0] != frames):
        raise DicomError(f"the DICOM header describes {frames} frame(s) of {shape[1]}x"
                         f"{shape[0]}, the image is {pixels.shape}")
    if colour:
        ds.PhotometricInterpretation = "RGB"
        ds.PlanarConfiguration = 0
        ds.SamplesPerPixel, ds.BitsAllocated, ds.BitsStored, ds.HighBit = 3, 8, 8, 7
    else:
        _check_grey_sample(ds)
    lo, hi, dtype = _stored_range(ds)
    samples = np.clip(pixels.astype(np.int64), lo, hi).astype(dtype)
    ds.PixelData = samples.tobytes()
    ds["PixelData"].VR = "OB" if dtype.itemsize == 1 else "OW"
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    uid = pydicom.uid.generate_uid()
    ds.SOPInstanceUID = uid
    ds.file_meta.MediaStorageSOPInstanceUID = uid
    ds.LossyImageCompression = "01"
    share = compressed_size if compressed_size > 0 else 1
    _append(ds, "LossyImageCompressionRatio", _ratio(samples.nbytes / share))
    _append(ds, "LossyImageCompressionMethod", LOSSY_METHOD)
    written = part10(ds)
    _check_readable(written, samples.shape)
    return written


def _check_readable(written: bytes, shape: tuple[int, ...]) -> None:
    """DicomError unless pydicom reads ``written`` back with pixels of ``shape``: the dicm
    chunk is never checked (spec section 15.2), and a file whose elements pydicom cannot read
    its pixels by (a Pixel Representation of 48384) is no DICOM file to hand anyone."""
    try:
        with warnings_as_notes():
            back = pydicom_module().dcmread(io.BytesIO(written)).pixel_array
    except Exception as exc:  # pydicom on inconsistent elements raises many kinds
        raise DicomError(f"the dicm chunk's DICOM header does not describe these pixels: "
                         f"{type(exc).__name__}: {exc}") from None
    if back.shape != shape:
        raise DicomError(f"the dicm chunk's DICOM header describes pixels of shape "
                         f"{back.shape}, the image is {shape}")


def _ratio(value: float) -> str:
    """A DS value (at most 16 characters)."""
    return f"{value:.6g}"
