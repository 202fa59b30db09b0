"""DICOM Part 10 files through pydicom, for :mod:`.dicom` (spec section 15.2): the extra
imported on first use, the preamble and prefix, a file read and written (always Explicit VR
Little Endian), the header without pixel data that the ``dicm`` chunk holds, and pydicom's
warnings about files it reads anyway."""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Union

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


class DicomError(ValueError):
    """A DICOM file this integration cannot convert (not a bad .svdi file: no SvdiError)."""


def pydicom_module() -> Any:
    """pydicom, or ImportError naming the extra that installs it."""
    try:
        import pydicom
    except ImportError:
        raise ImportError(f"DICOM files need pydicom: pip install '{EXTRA}'") from None
    return pydicom


def is_dicom(prefix: bytes) -> bool:
    """Whether ``prefix`` (at least the first 132 bytes of a file) is a DICOM Part 10 file."""
    return bytes(prefix[PREAMBLE_SIZE:PREAMBLE_SIZE + len(DICM_PREFIX)]) == DICM_PREFIX


@contextlib.contextmanager
def warnings_as_notes(notes: list[str] | None = None) -> Iterator[None]:
    """pydicom's warnings about a file it still reads (a wrong VR, a bad value) as notes, or
    dropped: a readable file is not refused for them."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    if notes is not None:
        notes.extend(dict.fromkeys(f"pydicom: {w.message}" for w in caught))


def read_dataset(source: PathLike | bytes) -> Dataset:
    """A DICOM file (path or bytes) as pydicom reads it; DicomError if it cannot."""
    pydicom = pydicom_module()
    fp = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
    try:
        with warnings_as_notes():
            return pydicom.dcmread(fp)
    except OSError:
        raise  # a file that cannot be read: the caller names it
    except Exception as exc:  # pydicom on damaged bytes raises many kinds; all mean the same
        raise DicomError(f"not a readable DICOM file: {exc or type(exc).__name__}") from None


def header_bytes(ds: Dataset) -> bytes:
    """``ds`` without pixel data as a Part 10 file in Explicit VR Little Endian: the content of
    the dicm chunk (spec section 15.2)."""
    pydicom = pydicom_module()
    header = pydicom.Dataset()  # new containers: ds (its transfer syntax) stays as it was
    header.update({tag: ds[tag] for tag in ds.keys() if tag not in PIXEL_TAGS})
    header.file_meta = pydicom.dataset.FileMetaDataset()
    header.file_meta.update(ds.file_meta)
    header.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    return part10(header)


def part10(ds: Dataset) -> bytes:
    """``ds`` as a Part 10 file in Explicit VR Little Endian, whatever its source's encoding
    (big endian and implicit VR sources are converted)."""
    pydicom = pydicom_module()
    buffer = io.BytesIO()
    with warnings_as_notes():
        pydicom.dcmwrite(buffer, ds, enforce_file_format=True, implicit_vr=False,
                         little_endian=True)
    return buffer.getvalue()
