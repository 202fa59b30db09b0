"""A DICOM file's pixel data as the array the codec stores (spec section 15.2), for
:mod:`.dicom`: grey uint8, uint16 or int16 (mode ``I;16S``), colour as RGB (YBR converted by
pydicom), compressed transfer syntaxes through pydicom's pixel handlers; one-line errors for
what cannot be stored or decoded."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .dicom_part10 import DicomError

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

YBR = ("YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "YBR_PARTIAL_420")


def _check_decodable(ds: Dataset) -> None:
    """A one-line DicomError naming the missing pixel handler, before pydicom's long one."""
    from pydicom.pixels.decoders.base import get_decoder

    syntax = ds.file_meta.get("TransferSyntaxUID")
    if syntax is None or not syntax.is_compressed:
        return
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError:
        raise DicomError(f"pydicom has no decoder for the transfer syntax {syntax.name} "
                         f"({syntax})") from None
    if not decoder.is_available:
        needs = "; or ".join(decoder.missing_dependencies)
        raise DicomError(f"cannot decode {syntax.name} pixel data: no pydicom pixel handler "
                         f"for it is installed (install {needs})")


def _other_handlers(ds: Dataset) -> str:
    """' (other pixel handlers: ...)' for a compressed transfer syntax, else ''."""
    from pydicom.pixels.decoders.base import get_decoder

    syntax = ds.file_meta.get("TransferSyntaxUID")
    try:
        missing = get_decoder(syntax).missing_dependencies if syntax.is_compressed else []
    except (NotImplementedError, AttributeError):
        return ""
    return f" (other pixel handlers: install {'; or '.join(missing)})" if missing else ""


def _sample_kind(ds: Dataset) -> tuple[int, int, int, str]:
    """(samples per pixel, bits allocated, pixel representation, photometric), checked."""
    if "PixelData" not in ds:
        kind = "float" if ("FloatPixelData" in ds or "DoubleFloatPixelData" in ds) else "no"
        raise DicomError(f"the DICOM file has {kind} pixel data: svdcodec stores integer "
                         "images")
    samples = int(ds.get("SamplesPerPixel", 1))
    if ds.get("BitsAllocated") is None:
        raise DicomError("the DICOM file has pixel data but no Bits Allocated")
    bits = int(ds.BitsAllocated)
    signed = int(ds.get("PixelRepresentation", 0))
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2"))
    if samples == 1 and bits in (8, 16) and photometric.startswith("MONOCHROME"):
        return samples, bits, signed, photometric
    if samples == 3 and bits == 8 and (photometric == "RGB" or photometric in YBR):
        return samples, bits, signed, photometric
    raise DicomError(f"cannot store {photometric} pixels of {samples} sample(s) of "
                     f"{bits} bits: svdcodec stores grey of 8 or 16 bits and 8-bit RGB/YBR")


def stored_pixels(ds: Dataset) -> tuple[np.ndarray, list[str]]:
    """The pixels as the codec's array and the conversions made."""
    from pydicom.pixels.utils import pixel_array

    samples, _, _, photometric = _sample_kind(ds)
    _check_decodable(ds)
    try:
        pixels = pixel_array(ds, as_rgb=True)  # YBR -> RGB; masked / sign-extended to BitsStored
    except (ValueError, RuntimeError, NotImplementedError) as exc:
        # pydicom lists each plugin's reason on a line of its own: one line here
        reason = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        raise DicomError(f"cannot decode the pixel data: {reason or type(exc).__name__}"
                         f"{_other_handlers(ds)}") from None
    except StopIteration:  # pydicom's generator of encapsulated frames ran out of fragments
        raise DicomError(f"cannot decode the pixel data: it holds fewer frames than its Number "
                         f"of Frames ({ds.get('NumberOfFrames')})") from None
    notes = []
    if samples == 3 and photometric != "RGB":
        notes.append(f"{photometric} converted to RGB by pydicom")
    if pixels.dtype == np.int8:
        pixels = pixels.astype(np.int16)
        notes.append("signed 8-bit samples stored as signed 16-bit (I;16S)")
    return np.ascontiguousarray(pixels), notes
