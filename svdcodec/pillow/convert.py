"""Pillow images <-> the numpy arrays the codec takes: the mode conversions in one place.

Used by the Pillow plugin's save and by the command line, so both accept the same images.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

# Pillow modes stored as they are; the array layout the codec expects.
NATIVE_MODES = ("L", "LA", "RGB", "RGBA", "I;16")
# Pillow modes converted on the way in (documented in the README and the plugin).
CONVERTIBLE = {"1": "L", "La": "LA", "RGBa": "RGBA", "PA": "RGBA", "CMYK": "RGB",
               "YCbCr": "RGB", "LAB": "RGB", "HSV": "RGB", "I;16L": "I;16", "I;16B": "I;16",
               "I;16N": "I;16"}


def storage_mode(im: Image.Image) -> str:
    """The mode ``im`` is stored in, or OSError if it has none."""
    if im.mode in NATIVE_MODES:
        return im.mode
    if im.mode == "P":
        return "RGBA" if "transparency" in im.info or im.palette.mode == "RGBA" else "RGB"
    if im.mode in CONVERTIBLE:
        return CONVERTIBLE[im.mode]
    if im.mode == "I":
        lo, hi = im.getextrema()
        if 0 <= lo and hi <= 65535:
            return "I;16"
    raise OSError(f"cannot write mode {im.mode} as SVDI")


def to_array(im: Image.Image) -> np.ndarray:
    """The uint8 (H, W[, C]) or uint16 (H, W) array that stores ``im``."""
    mode = storage_mode(im)
    if mode == "I;16":  # I, I;16, I;16B, I;16L: the values, in native byte order
        return np.asarray(im).astype(np.uint16)
    if im.mode != mode:
        im = im.convert(mode)
    return np.asarray(im)


def from_array(array: np.ndarray) -> Image.Image:
    """A Pillow image of a decoded array (the inverse of :func:`to_array`)."""
    return Image.fromarray(np.ascontiguousarray(array))
