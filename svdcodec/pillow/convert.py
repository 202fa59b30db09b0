"""Pillow images <-> the numpy arrays the codec takes: the mode conversions in one place.

Used by the Pillow plugin's save and by the command line, so both accept the same images.

An ICC profile describes pixels in one colour space (its header says which), so it follows the
pixels: a conversion within a colour space keeps it (``P`` to ``RGB``, ``1`` to ``L``, ``I`` to
``I;16`` or ``I;16S``), a conversion to another one goes through it with LittleCMS and stores
sRGB, which needs no profile (``CMYK`` with a CMYK profile), and a profile that cannot describe
the stored pixels is dropped (an RGB profile on an ``L`` image, a CMYK profile LittleCMS cannot
read). Bytes that are not an ICC profile at all are the caller's business and kept, when the
pixels keep their colour space, as they are.
"""

from __future__ import annotations

import io
from typing import cast

import numpy as np
from PIL import Image

# Pillow modes stored as they are; the array layout the codec expects.
NATIVE_MODES = ("L", "LA", "RGB", "RGBA", "I;16")
# A stored mode Pillow has no image mode for -> (Pillow's image mode, raw mode of its bytes):
# signed 16-bit grey (spec section 15.1) opens as 32-bit ``I``, unpacked from little-endian int16.
PILLOW_MODES = {"I;16S": ("I", "I;16S")}
# The sample ranges of ``I`` images that fit a stored mode, tried in order (unsigned first, as
# before signed 16-bit existed).
I_RANGES = (("I;16", 0, 65535), ("I;16S", -32768, 32767))
# Pillow modes converted on the way in (documented in the README and the plugin).
CONVERTIBLE = {"1": "L", "La": "LA", "RGBa": "RGBA", "PA": "RGBA", "CMYK": "RGB",
               "YCbCr": "RGB", "LAB": "RGB", "HSV": "RGB", "I;16L": "I;16", "I;16B": "I;16",
               "I;16N": "I;16"}
# The ICC data colour space (header bytes 16-19) of a mode's pixels. YCbCr and HSV are other
# coordinates of the RGB values that an RGB profile describes (a JPEG read in draft YCbCr mode
# carries its RGB profile), so Pillow's conversion to RGB keeps that profile valid.
_GREY, _RGB = b"GRAY", b"RGB "
COLOUR_SPACE = {"1": _GREY, "L": _GREY, "LA": _GREY, "La": _GREY, "I": _GREY, "I;16": _GREY,
                "I;16S": _GREY,
                "I;16L": _GREY, "I;16B": _GREY, "I;16N": _GREY, "P": _RGB, "PA": _RGB,
                "RGB": _RGB, "RGBA": _RGB, "RGBa": _RGB, "YCbCr": _RGB, "HSV": _RGB,
                "CMYK": b"CMYK", "LAB": b"Lab "}


def storage_mode(im: Image.Image) -> str:
    """The mode ``im`` is stored in, or OSError if it has none."""
    if im.mode in NATIVE_MODES:
        return im.mode
    if im.mode == "P":
        rgba = im.palette is not None and im.palette.mode == "RGBA"
        return "RGBA" if "transparency" in im.info or rgba else "RGB"
    if im.mode in CONVERTIBLE:
        return CONVERTIBLE[im.mode]
    if im.mode == "I":
        # one band: (min, max), not the per-band pairs of the general signature
        lo, hi = cast(tuple[int, int], im.getextrema())
        for mode, low, high in I_RANGES:
            if low <= lo and hi <= high:
                return mode
        raise OSError(f"cannot write mode I as SVDI: its values {lo} .. {hi} fit neither "
                      "0 .. 65535 (I;16) nor -32768 .. 32767 (I;16S)")
    raise OSError(f"cannot write mode {im.mode} as SVDI")


def same_kind(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two stored frames can share one stack, maybe after :func:`one_stored_mode`:
    one shape, and one dtype or 16-bit grey both (I;16 and I;16S)."""
    return a.shape == b.shape and (a.dtype == b.dtype or {a.dtype.name, b.dtype.name} ==
                                   {"uint16", "int16"})


def one_stored_mode(frames: list[np.ndarray]) -> list[np.ndarray]:
    """The frames of one stack in one stored mode. :func:`storage_mode` stores an ``I`` image
    as ``I;16`` when its values fit 0 .. 65535, so a signed series (CT slices as mode ``I``)
    whose first frame has no negative value gives ``I;16`` next to ``I;16S`` frames: unsigned
    frames whose values fit -32768 .. 32767 become ``I;16S`` (the same values). Frames of one
    dtype are returned as they are; ValueError when an unsigned frame above 32767 meets a
    signed one (no stored mode holds both)."""
    if {f.dtype.name for f in frames} != {"uint16", "int16"}:
        return frames
    top = max(int(f.max()) for f in frames if f.dtype == np.uint16)
    if top > 32767:
        low = min(int(f.min()) for f in frames if f.dtype == np.int16)
        raise ValueError(f"16-bit grey frames of values {low} .. {top} share no stored mode "
                         f"(I;16 holds 0 .. 65535, I;16S -32768 .. 32767)")
    return [f.astype(np.int16) if f.dtype == np.uint16 else f for f in frames]


def profile_colour_space(icc_profile: bytes) -> bytes | None:
    """The data colour space an ICC profile's header names (b"RGB ", b"GRAY", b"CMYK", ...),
    or None for bytes that are not an ICC profile (ICC.1 section 7.2: 128-byte header, ``acsp``
    at byte 36)."""
    if len(icc_profile) < 128 or icc_profile[36:40] != b"acsp":
        return None
    return bytes(icc_profile[16:20])


def depth_note(im: Image.Image) -> str | None:
    """A note when Pillow reads ``im``'s samples with fewer bits than the file holds, or None.

    Pillow opens a 16-bit RGB, RGBA or grey-alpha PNG or TIFF as an 8-bit image (its decoder's
    raw mode, e.g. ``RGB;16B``, keeps the high byte); .svdi stores 16 bits for grey only
    (spec section 4), so the low byte is lost before encoding. Call before ``im.load()``,
    which clears the tile list this reads.
    """
    if im.mode.startswith("I"):  # I;16*, I: the values are read whole
        return None
    for tile in getattr(im, "tile", None) or ():  # an ImageFile.ImageFile before load()
        args = tile[3]  # (decoder, extents, offset, args): args is the raw mode or starts with it
        rawmode = args[0] if isinstance(args, tuple) and args else args
        if isinstance(rawmode, str) and ";16" in rawmode:
            return (f"the file has 16-bit {im.mode} samples; Pillow reads them as 8 bits "
                    f"(.svdi stores 16 bits for grey only)")
    return None


def to_array(im: Image.Image) -> np.ndarray:
    """The uint8 (H, W[, C]), uint16 or int16 (H, W) array that stores ``im`` (converted through the
    profile in ``im.info`` where the colour space changes)."""
    return to_stored(im, im.info.get("icc_profile"))[0]


def to_stored(im: Image.Image, icc_profile: bytes | None = None
              ) -> tuple[np.ndarray, bytes | None]:
    """The array that stores ``im`` (as :func:`to_array`) and the ICC profile that describes
    it: ``icc_profile`` (which describes ``im``) carried through the conversion, or None (see
    the module docstring)."""
    mode = storage_mode(im)
    stored_space = COLOUR_SPACE[mode]
    space = profile_colour_space(icc_profile) if icc_profile else None
    if icc_profile and COLOUR_SPACE.get(im.mode) != stored_space:  # CMYK, LAB -> RGB
        converted = None
        if space == COLOUR_SPACE.get(im.mode):
            converted = _through_profile(im, icc_profile)
        return np.asarray(im.convert(mode) if converted is None else converted), None
    if space is not None and space != stored_space:
        icc_profile = None  # names other pixels than these
    if mode == "I;16":  # I, I;16, I;16B, I;16L: the values, in native byte order
        return np.asarray(im).astype(np.uint16), icc_profile
    if mode == "I;16S":  # I within -32768 .. 32767
        return np.asarray(im).astype(np.int16), icc_profile
    if im.mode != mode:
        im = im.convert(mode)
    return np.asarray(im), icc_profile


def _through_profile(im: Image.Image, icc_profile: bytes) -> Image.Image | None:
    """``im`` converted to sRGB through its profile (the profile's rendering intent), or None
    if LittleCMS cannot read the profile or build the transform, or Pillow was built without
    it."""
    try:
        from PIL import ImageCms
    except ImportError:
        return None
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        intent = ImageCms.Intent(profile.profile.rendering_intent)
        return ImageCms.profileToProfile(im, profile, ImageCms.createProfile("sRGB"),
                                         renderingIntent=intent, outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None


def from_array(array: np.ndarray) -> Image.Image:
    """A Pillow image of a decoded array (the inverse of :func:`to_array`)."""
    return Image.fromarray(np.ascontiguousarray(array))


def to_8bit(a: np.ndarray) -> np.ndarray:
    """16-bit samples as the nearest 8-bit value: round(v / 257), exact (no ties occur); what
    ``svdcodec decode`` writes to 8-bit formats and what ``compare`` gives 8-bit peers."""
    return ((a.astype(np.uint32) + 128) // 257).astype(np.uint8)
