"""One chunk of an array store as one .svdi file: what the zarr and numcodecs codecs share.

A chunk is an image: (y, x) or (y, x, c) with c in 1..4 for uint8 (L, LA, RGB, RGBA) and
(y, x) or (y, x, 1) for uint16 (I;16). The encode options are those of :func:`svdcodec.encode`
that make sense per chunk, kept as JSON values because the stores write them into their
metadata.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..codec import decode, encode
from ..errors import CorruptError

# The options of svdcodec.encode a chunk codec takes, with the JSON types each may have.
# Metadata (icc_profile, exif, ...) belongs to the store, not to every chunk; progressive
# serves partial downloads of one file, which a store does not do.
ENCODE_OPTIONS: dict[str, tuple[type, ...]] = {
    "quality": (numbers.Real,),
    "target_psnr": (numbers.Real,),
    "target_size": (numbers.Integral,),
    "rank": (numbers.Integral,),
    "energy": (numbers.Real,),
    "layout": (str,),
    "factors": (str,),
    "colour": (str,),
    "subsampling": (numbers.Integral,),
    "patch_size": (numbers.Integral,),
    "level": (numbers.Integral,),
    "entropy": (str,),
}

# dtype -> the channel counts the codec stores for it (spec section 4: modes)
CHANNELS = {np.dtype(np.uint8): (1, 2, 3, 4), np.dtype(np.uint16): (1,)}

# The probe image of check_options_fit: big enough for a 16x16 patch, small enough to cost
# a millisecond when a store is created or opened.
PROBE_SIZE = 16
PROBE_ANY_SIZE = 2**62  # a target_size every probe meets


def check_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The encode options as plain JSON values, None dropped.

    TypeError for an unknown option or a value of the wrong type. Whether the values are in
    range, and fit each other and the chunk, is checked by :func:`check_options_fit`.
    """
    checked: dict[str, Any] = {}
    for name, value in options.items():
        if name not in ENCODE_OPTIONS:
            raise TypeError(f"unknown svdi codec option {name!r}; expected one of "
                            f"{sorted(ENCODE_OPTIONS)}")
        if value is None:
            continue
        types = ENCODE_OPTIONS[name]
        if isinstance(value, bool) or not isinstance(value, types):
            expected = " or ".join(t.__name__.replace("Integral", "int").replace("Real", "float")
                                   for t in types)
            raise TypeError(f"svdi codec option {name} must be {expected}, got {value!r}")
        # numpy scalars become Python's, which json writes
        checked[name] = int(value) if isinstance(value, numbers.Integral) else \
            float(value) if isinstance(value, numbers.Real) else str(value)
    return checked


def check_chunk(shape: tuple[int, ...], dtype: np.dtype) -> None:
    """ValueError/TypeError unless a chunk of this shape and dtype is an image the codec stores.

    Parameters
    ----------
    shape : the chunk's shape, (y, x) or (y, x, c).
    """
    dtype = np.dtype(dtype)
    native = dtype.newbyteorder("=")
    if native not in CHANNELS:
        raise TypeError(f"the svdi codec stores uint8 or uint16 arrays, got {dtype}")
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise ValueError(f"svdi chunks must be (y, x) or (y, x, c) images, got chunk shape "
                         f"{tuple(shape)}")
    channels = 1 if len(shape) == 2 else shape[2]
    if channels not in CHANNELS[native]:
        raise ValueError(f"svdi chunks of {native} must have {list(CHANNELS[native])} "
                         f"channel(s) (last axis), got chunk shape {tuple(shape)}")


def check_options_fit(shape: tuple[int, ...], dtype: np.dtype, options: Mapping[str, Any]
                      ) -> None:
    """Encode a small blank chunk like ``shape`` with ``options``, so that options out of
    range or unfit for the chunk (colour="ycbcr" on grey) fail when the array is created, not
    at its first write. ``target_size`` is range-checked, then the probe gets a size it always
    meets: a probe smaller than the chunk could miss a size the chunk meets, but the option
    still meets the checks of the others (``quality`` with ``target_size`` fails here)."""
    check_chunk(shape, dtype)
    probe = np.zeros((min(shape[0], PROBE_SIZE), min(shape[1], PROBE_SIZE), *shape[2:]),
                     np.dtype(dtype).newbyteorder("="))
    try:
        probe_options = dict(options)
        if "target_size" in probe_options:
            if probe_options["target_size"] < 1:  # check_options checked it is an int
                raise ValueError(f"target_size must be an int >= 1, got "
                                 f"{probe_options['target_size']!r}")
            probe_options["target_size"] = PROBE_ANY_SIZE
        encode(probe, **probe_options)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"svdi codec options {dict(options)} do not fit chunks of shape "
                        f"{tuple(shape)} {np.dtype(dtype)}: {exc}") from exc


def encode_chunk(chunk: np.ndarray, options: Mapping[str, Any]) -> bytes:
    """One chunk as the bytes of an .svdi file."""
    check_chunk(chunk.shape, chunk.dtype)
    image = np.ascontiguousarray(chunk, dtype=chunk.dtype.newbyteorder("="))
    return encode(image, **options)


def decode_chunk(data: bytes, shape: tuple[int, ...] | None = None,
                 dtype: np.dtype | None = None) -> np.ndarray:
    """The image of one .svdi chunk, as ``shape`` and ``dtype`` when given.

    CorruptError when the file holds an image of another size or sample type than the chunk's
    (a 16-bit image is not cast into a uint8 chunk, nor an 8-bit one into uint16).
    """
    image = decode(bytes(data))
    if dtype is not None and np.dtype(dtype).newbyteorder("=") != image.dtype:
        raise CorruptError(f"the svdi chunk holds a {image.dtype} image, expected "
                           f"{np.dtype(dtype).newbyteorder('=')}")
    if shape is not None:
        if image.shape[:2] != tuple(shape[:2]) or image.size != math.prod(shape):
            raise CorruptError(f"the svdi chunk holds a {image.shape} image, expected the "
                               f"chunk shape {tuple(shape)}")
        image = image.reshape(shape)
    return image if dtype is None else image.astype(dtype, copy=False)
