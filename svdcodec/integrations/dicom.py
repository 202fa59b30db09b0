"""DICOM files <-> .svdi: the pixels as the image, the header in the ``dicm`` chunk (spec
section 15.2). The extra ``svdcodec[dicom]`` (pydicom) is imported on first use.

:func:`read_dicom` gives a DICOM file's pixels in the array the codec stores (grey uint8,
uint16 or int16 for mode ``I;16S``; colour as RGB, YBR converted by pydicom; compressed
transfer syntaxes through pydicom's pixel handlers) and its header without pixel data, a Part 10
file. :func:`encode_dicom` encodes one; :func:`decode_dicom` writes a DICOM file again from an
.svdi file that holds a header: the decoded pixels clipped to Bits Stored, uncompressed
(Explicit VR Little Endian), a new SOP Instance UID, and Lossy Image Compression "01" with the
ratio and method appended, as DICOM PS3.3 C.7.6.1.1.5 asks of lossy compressed images. Every
other element is the source's. (pydicom and Part 10 files: :mod:`.dicom_part10`; pixel data
in: :mod:`.dicom_pixels`; a DICOM file written: :mod:`.dicom_write`.)

>>> import io, numpy as np, pydicom, svdcodec
>>> from pydicom.data import get_testdata_file
>>> data = encode_dicom(get_testdata_file("CT_small.dcm"), quality=90)
>>> svdcodec.read_header(data).mode
'I;16S'
>>> ds = pydicom.dcmread(io.BytesIO(decode_dicom(data)))
>>> ds.Modality, ds.LossyImageCompression, ds.pixel_array.dtype.name
('CT', '01', 'int16')
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import codec
from .dicom_part10 import (
    DICM_PREFIX,
    PREAMBLE_SIZE,
    DicomError,
    PathLike,
    header_bytes,
    is_dicom,
    read_dataset,
    warnings_as_notes,
)
from .dicom_pixels import stored_pixels
from .dicom_write import LOSSY_METHOD, write_dicom


@dataclass(frozen=True)
class DicomImage:
    """A DICOM file as the codec stores it."""

    pixels: np.ndarray  # (H, W) uint8 / uint16 / int16, (H, W, 3) uint8; (N, ...) for frames
    header: bytes  # the dicm chunk: a Part 10 file without pixel data
    frames: int
    bits: int  # significant_bits: the default ``bits`` of the encode
    notes: tuple[str, ...] = ()  # conversions made on the way (YBR to RGB, int8 to int16)


def read_dicom(source: PathLike | bytes) -> DicomImage:
    """A DICOM file (path or bytes) as pixels and header; DicomError if it cannot be stored,
    ImportError naming the extra without pydicom."""
    notes: list[str] = []
    try:
        with warnings_as_notes(notes):
            ds = read_dataset(source)
            pixels, conversions = stored_pixels(ds)
            frames = int(ds.get("NumberOfFrames", 1) or 1)
            header = header_bytes(ds)
        stored = min(int(ds.get("BitsStored", ds.BitsAllocated)), 8 * pixels.itemsize)
    except (DicomError, ImportError, OSError, MemoryError):
        raise
    except Exception as exc:  # pydicom reads elements on access: a damaged one raises then,
        # of many kinds (a missing Rows, an unknown VR, a Command Set element)
        raise DicomError(f"not a readable DICOM file: {type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
    bits = significant_bits(pixels, stored)
    return DicomImage(pixels, header, frames, bits, tuple(conversions + notes))


def significant_bits(pixels: np.ndarray, bits_stored: int) -> int:
    """The bits the values of ``pixels`` span (max - min), at most ``bits_stored``, at least
    1: :func:`encode_dicom`'s default ``bits``, so that quality means the same precision
    relative to the values a scan holds (CT in 12 bits of 16-bit samples)."""
    span = int(pixels.max()) - int(pixels.min())
    return max(1, min(bits_stored, span.bit_length()))


def encode_dicom(source: PathLike | bytes, **options: Any) -> bytes:
    """A DICOM file as .svdi bytes with its header in ``dicm``; ``options`` as
    :func:`svdcodec.encode`, whose ``bits`` defaults here to :func:`significant_bits`. The
    frames of a multi-frame file are one stack (:func:`svdcodec.encode_stack`, whose
    ``coding`` option is taken too): never cut to the first frame."""
    image = read_dicom(source)
    options.setdefault("bits", image.bits)
    if image.frames > 1:
        return _encode_frames(image, options)
    return codec.encode(image.pixels, dicom=image.header, **options)


def _encode_frames(image: DicomImage, options: dict[str, Any]) -> bytes:
    """Every frame, as one stack (spec section 14; ``coding`` among ``options``)."""
    return codec.encode_stack(image.pixels, dicom=image.header, **options)


def decode_dicom(data: bytes, **options: Any) -> bytes:
    """A DICOM file from .svdi bytes that hold a ``dicm`` chunk (DicomError otherwise);
    ``options`` as :func:`svdcodec.decode`."""
    info = codec.read_header(data, limits=options.get("limits"),
                             allow_truncated=bool(options.get("allow_truncated")))
    header = info.metadata.get("dicom")
    if not header:
        raise DicomError("the .svdi file holds no DICOM header (dicm chunk, spec section 15.2):"
                         " it was not encoded from a DICOM file")
    # a stack (spec section 14): every frame (a stack is not salvaged: decode_stack refuses
    # a cut one whatever allow_truncated says)
    stack_options = {k: v for k, v in options.items() if k != "allow_truncated"}
    pixels = codec.decode(data, **options) if info.frames == 1 else \
        codec.decode_stack(data, **stack_options)
    dicm = next(c for c in info.chunks if c.type == "dicm")
    try:
        with warnings_as_notes():  # about elements the source had as they were: not ours
            return write_dicom(pixels, header, len(data) - dicm.size)
    except Exception as exc:  # pydicom on damaged elements raises many kinds (an unknown VR:
        if isinstance(exc, DicomError):  # NotImplementedError); all mean the same
            raise
        # the chunk's content is never checked (spec section 15.2): it may describe nothing
        raise DicomError(f"the dicm chunk's DICOM header cannot hold this image: "
                         f"{type(exc).__name__}: {exc}") from None


# --- what info shows ---------------------------------------------------------------------------
def describe(header: bytes) -> dict[str, Any]:
    """The facts of a DICOM header that ``svdcodec info`` shows: modality, size, frames,
    bits, signedness, photometric interpretation, rescale and window; values that pydicom
    cannot read are None. JSON-serializable (a multi-valued text element is one string)."""
    ds = read_dataset(header)

    def value(keyword: str) -> Any:
        try:  # pydicom converts on access: a bad value or an unknown VR raises then
            v = ds.get(keyword)
            if v is None or v == "":
                return None
            multi = isinstance(v, (list, tuple)) or type(v).__name__ == "MultiValue"
            if keyword.startswith(("Rescale", "Window")):  # 1e999 reads as inf: not JSON
                numbers = [float(x) for x in (v if multi else [v])]
                if not all(math.isfinite(x) for x in numbers):
                    return None
                return numbers if multi else numbers[0]
            if isinstance(v, int) and not multi:
                return int(v)
            return "\\".join(map(str, v)) if multi else str(v)
        except Exception:  # pydicom on damaged values raises many kinds; all mean the same
            return None  # a value it cannot read is no reason to refuse the file (spec 15.2)

    def integer(keyword: str, default: int) -> int:
        v = value(keyword)
        try:
            return int(v) if v is not None else default
        except (TypeError, ValueError):
            return default

    with warnings_as_notes():  # about values pydicom reads anyway (an unknown charset)
        return _facts(value, integer)


def _facts(value: Callable[[str], Any], integer: Callable[[str, int], int]) -> dict[str, Any]:
    """:func:`describe`'s dict from its readers of one element each."""
    return {
        "modality": value("Modality"), "columns": value("Columns"), "rows": value("Rows"),
        "frames": max(integer("NumberOfFrames", 1), 1),
        "bits_allocated": value("BitsAllocated"), "bits_stored": value("BitsStored"),
        "signed": bool(integer("PixelRepresentation", 0)),
        "photometric": value("PhotometricInterpretation"),
        "rescale_slope": value("RescaleSlope"), "rescale_intercept": value("RescaleIntercept"),
        "window_center": value("WindowCenter"), "window_width": value("WindowWidth"),
        "sop_instance_uid": value("SOPInstanceUID")}


__all__ = [
    "DICM_PREFIX",
    "LOSSY_METHOD",
    "PREAMBLE_SIZE",
    "DicomError",
    "DicomImage",
    "decode_dicom",
    "describe",
    "encode_dicom",
    "header_bytes",
    "is_dicom",
    "read_dicom",
    "significant_bits",
    "write_dicom",
]
