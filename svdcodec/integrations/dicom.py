"""DICOM files <-> .svdi: the pixels as the image, the header in the ``dicm`` chunk (spec
section 15.2). The extra ``svdcodec[dicom]`` (pydicom) is imported on first use.

:func:`read_dicom` gives a DICOM file's pixels in the array the codec stores (grey uint8,
uint16 or int16 for mode ``I;16S``; colour as RGB, YBR converted by pydicom; compressed
transfer syntaxes through pydicom's pixel handlers) and its header without pixel data, a Part 10
file. :func:`encode_dicom` encodes one; :func:`decode_dicom` writes a DICOM file again from an
.svdi file that holds a header: the decoded pixels clipped to Bits Stored, uncompressed
(Explicit VR Little Endian), a new SOP Instance UID, and Lossy Image Compression "01" with the
ratio and method appended, as DICOM PS3.3 C.7.6.1.1.5 asks of lossy compressed images. Every
other element is the source's.

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

import contextlib
import io
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from .. import codec

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

PathLike = Union[str, "os.PathLike[str]"]
EXTRA = "svdcodec[dicom]"
# PS3.10 section 7.1: a 128-byte preamble, then the prefix
PREAMBLE_SIZE = 128
DICM_PREFIX = b"DICM"
# Pixel Data, Float Pixel Data, Double Float Pixel Data and the offset tables of encapsulated
# pixel data: left out of the dicm chunk (spec section 15.2)
PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009, 0x7FE00001, 0x7FE00002)
# Lossy Image Compression Method (0028,2114) is a list of defined terms, which may be extended:
# ours names the format (a CS value: capitals, digits, underscore, at most 16 characters)
LOSSY_METHOD = "SVDCODEC_SVDI"
YBR = ("YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "YBR_PARTIAL_420")


class DicomError(ValueError):
    """A DICOM file this integration cannot convert (not a bad .svdi file: no SvdiError)."""


def _pydicom() -> Any:
    try:
        import pydicom
    except ImportError:
        raise ImportError(f"DICOM files need pydicom: pip install '{EXTRA}'") from None
    return pydicom


def is_dicom(prefix: bytes) -> bool:
    """Whether ``prefix`` (at least the first 132 bytes of a file) is a DICOM Part 10 file."""
    return bytes(prefix[PREAMBLE_SIZE:PREAMBLE_SIZE + len(DICM_PREFIX)]) == DICM_PREFIX


@dataclass(frozen=True)
class DicomImage:
    """A DICOM file as the codec stores it."""

    pixels: np.ndarray  # (H, W) uint8 / uint16 / int16, (H, W, 3) uint8; (N, ...) for frames
    header: bytes  # the dicm chunk: a Part 10 file without pixel data
    frames: int
    bits: int  # significant_bits: the default ``bits`` of the encode
    notes: tuple[str, ...] = ()  # conversions made on the way (YBR to RGB, int8 to int16)


@contextlib.contextmanager
def _warnings_as_notes(notes: list[str] | None = None) -> Iterator[None]:
    """pydicom's warnings about a file it still reads (a wrong VR, a bad value) as notes, or
    dropped: a readable file is not refused for them."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    if notes is not None:
        notes.extend(dict.fromkeys(f"pydicom: {w.message}" for w in caught))


def _read(source: PathLike | bytes) -> Dataset:
    pydicom = _pydicom()
    fp = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
    try:
        with _warnings_as_notes():
            return pydicom.dcmread(fp)
    except OSError:
        raise  # a file that cannot be read: the caller names it
    except Exception as exc:  # pydicom on damaged bytes raises many kinds; all mean the same
        raise DicomError(f"not a readable DICOM file: {exc or type(exc).__name__}") from None


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


def _pixels(ds: Dataset) -> tuple[np.ndarray, list[str]]:
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


def header_bytes(ds: Dataset) -> bytes:
    """``ds`` without pixel data as a Part 10 file in Explicit VR Little Endian: the content of
    the dicm chunk (spec section 15.2)."""
    pydicom = _pydicom()
    header = pydicom.Dataset()  # new containers: ds (its transfer syntax) stays as it was
    header.update({tag: ds[tag] for tag in ds.keys() if tag not in PIXEL_TAGS})
    header.file_meta = pydicom.dataset.FileMetaDataset()
    header.file_meta.update(ds.file_meta)
    header.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    return _part10(header)


def _part10(ds: Dataset) -> bytes:
    """``ds`` as a Part 10 file in Explicit VR Little Endian, whatever its source's encoding
    (big endian and implicit VR sources are converted)."""
    pydicom = _pydicom()
    buffer = io.BytesIO()
    with _warnings_as_notes():
        pydicom.dcmwrite(buffer, ds, enforce_file_format=True, implicit_vr=False,
                         little_endian=True)
    return buffer.getvalue()


def read_dicom(source: PathLike | bytes) -> DicomImage:
    """A DICOM file (path or bytes) as pixels and header; DicomError if it cannot be stored,
    ImportError naming the extra without pydicom."""
    notes: list[str] = []
    try:
        with _warnings_as_notes(notes):
            ds = _read(source)
            pixels, conversions = _pixels(ds)
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


# --- writing DICOM -----------------------------------------------------------------------------
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


def write_dicom(pixels: np.ndarray, header: bytes, compressed_size: int) -> bytes:
    """A DICOM Part 10 file: ``header`` (the dicm chunk) with ``pixels`` as its Pixel Data.

    ``compressed_size``: the bytes the pixels took in the .svdi file, for Lossy Image
    Compression Ratio (uncompressed pixel bytes / compressed_size).
    """
    pydicom = _pydicom()
    ds = _read(header)
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
    _append(ds, "LossyImageCompressionRatio", _ratio(samples.nbytes / max(compressed_size, 1)))
    _append(ds, "LossyImageCompressionMethod", LOSSY_METHOD)
    written = _part10(ds)
    _check_readable(written, samples.shape)
    return written


def _check_readable(written: bytes, shape: tuple[int, ...]) -> None:
    """DicomError unless pydicom reads ``written`` back with pixels of ``shape``: the dicm
    chunk is never checked (spec section 15.2), and a file whose elements pydicom cannot read
    its pixels by (a Pixel Representation of 48384) is no DICOM file to hand anyone."""
    try:
        with _warnings_as_notes():
            back = _pydicom().dcmread(io.BytesIO(written)).pixel_array
    except Exception as exc:  # pydicom on inconsistent elements raises many kinds
        raise DicomError(f"the dicm chunk's DICOM header does not describe these pixels: "
                         f"{type(exc).__name__}: {exc}") from None
    if back.shape != shape:
        raise DicomError(f"the dicm chunk's DICOM header describes pixels of shape "
                         f"{back.shape}, the image is {shape}")


def _ratio(value: float) -> str:
    """A DS value (at most 16 characters)."""
    return f"{value:.6g}"


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
        with _warnings_as_notes():  # about elements the source had as they were: not ours
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
    ds = _read(header)

    def value(keyword: str) -> Any:
        try:  # pydicom converts on access: a bad value or an unknown VR raises then
            v = ds.get(keyword)
            if v is None or v == "":
                return None
            multi = isinstance(v, (list, tuple)) or type(v).__name__ == "MultiValue"
            if keyword.startswith(("Rescale", "Window")):
                return [float(x) for x in v] if multi else float(v)
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

    with _warnings_as_notes():  # about values pydicom reads anyway (an unknown charset)
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
    "DicomError",
    "DicomImage",
    "decode_dicom",
    "describe",
    "encode_dicom",
    "header_bytes",
    "is_dicom",
    "read_dicom",
    "write_dicom",
]
