"""Output formats: which Pillow format holds which decoded mode, and the conversion to one it holds.

``decode`` writes any format Pillow saves. Not every format holds every mode the codec decodes
(16-bit grey, grey with alpha, ...): :func:`fit_format` picks the nearest mode the format holds
(16 bits to 8 as round(v / 257), L to RGB, LA to RGBA), found by saving and reopening a probe
image (:func:`fits_mode`), and never drops alpha. :func:`metadata_options` passes the decoded
file's metadata to the formats that take it.
"""

from __future__ import annotations

import functools
import io
import warnings
from typing import Any

import numpy as np
from PIL import Image

from ..info import EXIF_APP1_PREFIX
from ..pillow.convert import from_array, to_8bit, to_array
from .errors import CliError

# Output formats whose Pillow plugins take icc_profile, exif, dpi and xmp (each keeps what it
# can store: Pillow 11-13 PNG keeps icc, exif and dpi; JPEG all four; WebP icc, exif, xmp;
# TIFF icc and dpi)
METADATA_FORMATS = ("PNG", "JPEG", "WEBP", "TIFF", "AVIF")

# A decoded mode, then the modes that hold its values in order of preference: 16 bits become 8
# (round(v / 257)) only where 16 cannot be stored, grey becomes RGB where grey cannot, and
# alpha is never dropped.
FALLBACK_MODES = {"I;16": ("I;16", "L", "RGB"), "L": ("L", "RGB"), "LA": ("LA", "RGBA"),
                  "RGB": ("RGB",), "RGBA": ("RGBA",), "I": ("I",)}
# Formats Pillow writes but cannot read back, so that fits_mode cannot check them.
WRITE_ONLY_MODES = {"PDF": ("L", "LA", "RGB", "RGBA"), "PALM": ("L",), "EPS": ("L", "RGB")}
# One flat sample value per band of the probe image of each mode.
_PROBE = {"I;16": (40000,), "L": (100,), "LA": (100, 50), "RGB": (200, 100, 50),
          "RGBA": (200, 100, 50, 128), "I": (-1000,)}
# The dtype of each probe: I is signed 16-bit grey (I;16S, spec section 15.1), kept signed:
# no format that cannot hold negative values gets a shifted or clipped copy.
_PROBE_DTYPES = {"I;16": np.uint16, "I": np.int16}


@functools.cache
def fits_mode(fmt_name: str, mode: str) -> bool:
    """Whether Pillow's ``fmt_name`` writes ``mode`` images and reads back the same bands and
    bit depth (values within a lossy codec's error): a probe image saved and reopened."""
    if fmt_name in WRITE_ONLY_MODES:
        return mode in WRITE_ONLY_MODES[fmt_name]
    values = _PROBE[mode]
    dtype = _PROBE_DTYPES.get(mode, np.uint8)
    probe = np.broadcast_to(np.array(values, dtype), (16, 16, len(values)))
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from_array(probe[:, :, 0] if len(values) == 1 else probe).save(buffer,
                                                                          format=fmt_name)
            buffer.seek(0)
            with Image.open(buffer) as im:
                back = to_array(im)
    except Exception:  # any refusal, in writing or reading, means: not this mode
        return False
    back = back if back.ndim == 3 else back[:, :, None]
    tolerance = 4 * (1 if dtype == np.uint8 else 257)
    return back.dtype == dtype and back.shape == probe.shape and \
        int(np.abs(back.astype(np.int64) - probe.astype(np.int64)).max()) <= tolerance


def fit_format(im: Image.Image, fmt_name: str) -> tuple[Image.Image, str]:
    """``im`` in the first mode of FALLBACK_MODES that ``fmt_name`` holds, and a description of
    the conversion ('' if none); CliError if the format holds none of them."""
    for mode in FALLBACK_MODES.get(im.mode, (im.mode,)):
        if mode == im.mode and (im.mode not in _PROBE or fits_mode(fmt_name, mode)):
            return im, ""
        if mode != im.mode and fits_mode(fmt_name, mode):
            steps = []
            if im.mode == "I;16":
                im = Image.fromarray(to_8bit(np.asarray(im)))
                steps.append("16 -> 8 bits as round(v / 257)")
            if im.mode != mode:
                steps.append(f"{im.mode} -> {mode}")
                im = im.convert(mode)
            return im, "; ".join(steps)
    if im.mode == "I":
        raise CliError(f"{fmt_name} cannot hold signed 16-bit (I;16S) images: use .tif or .npy "
                       f"(.dcm: of a file encoded from DICOM)")
    alpha = " (alpha)" if "A" in im.mode else ""
    raise CliError(f"{fmt_name} cannot hold {im.mode}{alpha} images: use .png or .tif")


def metadata_options(metadata: dict[str, Any]) -> dict[str, Any]:
    """The decoded file's metadata (read_header's keys) as Pillow save options, so that a
    decode keeps what the output format can hold."""
    options = {key: metadata[key] for key in ("icc_profile", "dpi", "xmp") if metadata.get(key)}
    if metadata.get("exif"):
        options["exif"] = EXIF_APP1_PREFIX + metadata["exif"]  # Pillow's exif= form
    return options


def written_mode(data: bytes, saved: Image.Image) -> tuple[str, tuple[int, int]]:
    """The mode (P for a palette, else the mode saved) and size a reader sees in ``data``."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            return ("P (palette)" if im.mode == "P" else saved.mode), im.size
    except Exception:  # a format Pillow writes but cannot read (PDF)
        return saved.mode, saved.size
