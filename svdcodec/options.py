"""The caller's encode options, checked: the image array and its mode, the one rate criterion
(rank, energy, quality or target PSNR), sizes, metadata and a stack's timing.

Each check raises a plain ValueError or TypeError naming the option, the expected and the actual
value (caller mistakes, not bad files); :func:`svdcodec.encode` runs them before any work.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from . import format as fmt
from .decoding import check_rank
from .info import EXIF_APP1_PREFIX, METRES_PER_INCH

__all__ = [
    "DEFAULT_QUALITY",
    "check_bits",
    "check_quality",
    "check_target_psnr",
    "check_target_size",
    "check_timing",
    "image_mode",
    "metadata_chunks",
    "quality_to_psnr",
    "rate_criteria",
    "signed_to_offset",
]

DEFAULT_QUALITY = 50


def image_mode(image: np.ndarray) -> tuple[np.ndarray, fmt.Mode]:
    """Check a caller's array and return it as (H, W, C) with its mode (int16: I;16S, whose
    layouts code :func:`signed_to_offset` of it, spec section 15.1)."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array, got {type(image).__name__}")
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image must be H x W or H x W x C with H, W >= 1, got shape "
                         f"{image.shape}")
    channels = image.shape[2]
    if image.dtype.kind in "ui" and image.dtype.itemsize in (1, 2):
        # Byte order, strides and memory order are the caller's storage, not the image: encode
        # a native, aligned, C-contiguous copy (only where the array is not one already), so
        # that the same samples give the same bytes.
        image = np.require(image, image.dtype.newbyteorder("="), ["C", "A"])
    if image.dtype == np.uint8:
        modes = {1: fmt.Mode.L, 2: fmt.Mode.LA, 3: fmt.Mode.RGB, 4: fmt.Mode.RGBA}
    elif image.dtype == np.uint16:
        modes = {1: fmt.Mode.I16}
    elif image.dtype == np.int16:
        modes = {1: fmt.Mode.I16S}
    else:
        raise TypeError(f"image dtype must be uint8, uint16 or int16, got {image.dtype}")
    if channels not in modes:
        raise ValueError(f"{image.dtype} images must have {sorted(modes)} channels, "
                         f"got {channels}")
    return image, modes[channels]


def signed_to_offset(samples: np.ndarray) -> np.ndarray:
    """int16 samples as the uint16 u = sample + 32768 that mode I;16S codes (spec section
    15.1); :func:`svdcodec.decoding.offset_to_signed` is the inverse."""
    # + 2^15 modulo 2^16 is the top bit inverted: one uint16 array, no int32 copy
    u: np.ndarray = samples.astype(np.int16, copy=False).view(np.uint16) ^ np.uint16(
        fmt.SIGNED_OFFSET)
    return u


def quality_to_psnr(quality: float) -> float:
    """The target PSNR (dB) that ``quality`` 0..100 stands for: 15 dB + 0.3 dB per step."""
    return 15.0 + 0.3 * quality


def rate_criteria(rank: int | str | None, energy: float | None, quality: float | None,
                  target_psnr: float | None) -> dict[str, Any]:
    """The one rate criterion of the whole-image layouts (``rank``, ``energy`` or ``psnr``);
    quality 50 when none is given."""
    given = [name for name, v in (("rank", rank), ("energy", energy), ("quality", quality),
                                  ("target_psnr", target_psnr)) if v is not None]
    if len(given) > 1:
        raise ValueError(f"give at most one of rank, energy, quality, target_psnr; got {given}")
    if isinstance(rank, str) and rank == "optimal":  # Gavish–Donoho, see select_rank
        return {"rank": rank}
    if rank is not None:
        check_rank(rank)
        return {"rank": int(rank)}
    if energy is not None:
        if not (_real(energy) and 0 < energy <= 1):
            raise ValueError(f"energy must be a number in (0, 1], got {energy!r}")
        return {"energy": float(energy)}
    if quality is None and target_psnr is None:
        quality = DEFAULT_QUALITY
    if quality is not None:
        return {"psnr": quality_to_psnr(check_quality(quality))}
    return {"psnr": check_target_psnr(target_psnr)}


def _real(value: Any) -> bool:
    """A finite real number, not a bool."""
    return not isinstance(value, bool) and isinstance(value, numbers.Real) and \
        math.isfinite(value)


def check_bits(bits: Any, mode: fmt.Mode) -> int | None:
    """``bits`` None, or an int 1 .. the mode's bit depth (the samples' significant bits)."""
    depth = fmt.MODE_INFO[mode][2]
    if bits is None:
        return None
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or \
            not 1 <= bits <= depth:
        raise ValueError(f"bits must be an int in 1..{depth} for mode "
                         f"{fmt.MODE_INFO[mode][0]}, got {bits!r}")
    return int(bits)


def check_quality(quality: Any) -> float:
    """``quality`` 0..100 (every layout: the patch layout's step, the whole-image layouts'
    target PSNR)."""
    if not (_real(quality) and 0 <= quality <= 100):
        raise ValueError(f"quality must be in 0..100, got {quality!r}")
    return float(quality)


def check_target_size(target_size: Any) -> int:
    if isinstance(target_size, bool) or not isinstance(target_size, (int, np.integer)) \
            or target_size < 1:
        raise ValueError(f"target_size must be an int >= 1, got {target_size!r}")
    return int(target_size)


def check_target_psnr(target_psnr: Any) -> float:
    if not (_real(target_psnr) and target_psnr > 0):
        raise ValueError(f"target_psnr must be a finite number > 0, got {target_psnr!r}")
    return float(target_psnr)


def metadata_chunks(icc_profile: bytes | None, exif: bytes | None, xmp: bytes | str | None,
                    dpi: tuple[float, float] | None, dicom: bytes | None = None
                    ) -> dict[str, bytes]:
    meta: dict[str, bytes] = {}
    if dicom is not None:
        if not isinstance(dicom, (bytes, bytearray, memoryview)):
            raise TypeError(f"dicom must be bytes, got {type(dicom).__name__}")
        if dicom:
            meta["dicom"] = bytes(dicom)
    if icc_profile:
        meta["icc_profile"] = bytes(icc_profile)
    if exif:
        exif = bytes(exif)
        meta["exif"] = exif[len(EXIF_APP1_PREFIX):] if exif.startswith(EXIF_APP1_PREFIX) else exif
    if xmp:
        meta["xmp"] = xmp.encode("utf-8") if isinstance(xmp, str) else bytes(xmp)
    if dpi is not None:
        if not (isinstance(dpi, (tuple, list)) and len(dpi) == 2
                and all(_real(d) and d > 0 for d in dpi)):
            raise ValueError(f"dpi must be two positive numbers, got {dpi!r}")
        ppm = [round(float(d) / METRES_PER_INCH) for d in dpi]
        if min(ppm) < 1 or max(ppm) > 2**32 - 1:
            raise ValueError(f"dpi {dpi!r} is out of range (1 .. 2^32 - 1 pixels per metre)")
        meta["phys"] = fmt.PHYS.pack(*ppm)
    return meta


def check_timing(durations: Any, loop: Any, frame_count: int) -> fmt.Anim | None:
    """The ``anim`` chunk (spec section 16) of ``encode_stack(durations=..., loop=...)``, or
    None when neither is given.

    ``durations``: one display time in milliseconds for every frame, or a sequence of
    ``frame_count`` of them; real numbers >= 0, rounded to whole milliseconds (Pillow reads
    APNG delays as floats). ``loop``: an int, 0 (without end) .. MAX_LOOP. Without durations
    the frames get 0 (none given); without loop, LOOP_UNSET (none given).
    """
    if durations is None and loop is None:
        return None
    if durations is None:
        times = [0] * frame_count
    elif isinstance(durations, (list, tuple, np.ndarray)):
        values = list(np.asarray(durations).reshape(-1)) if isinstance(durations, np.ndarray) \
            else list(durations)
        if len(values) != frame_count:
            raise ValueError(f"durations: expected {frame_count} values, one per frame, got "
                             f"{len(values)}")
        times = [_milliseconds(v) for v in values]
    else:
        times = [_milliseconds(durations)] * frame_count
    if loop is None:
        count = fmt.LOOP_UNSET
    elif isinstance(loop, bool) or not isinstance(loop, numbers.Integral):
        raise TypeError(f"loop must be an int, got {type(loop).__name__}")
    elif not 0 <= int(loop) <= fmt.MAX_LOOP:
        raise ValueError(f"loop must be in 0..{fmt.MAX_LOOP} (0: without end), got {loop!r}")
    else:
        count = int(loop)
    return fmt.Anim(count, tuple(times))


def _milliseconds(value: Any) -> int:
    """One duration: a real number >= 0, rounded to a whole millisecond that a u32 holds."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"durations must be numbers of milliseconds, got "
                        f"{type(value).__name__}")
    number = float(value) if not isinstance(value, numbers.Integral) else int(value)
    if not (math.isfinite(number) and number >= 0 and round(number) <= fmt.MAX_DURATION):
        raise ValueError(f"durations must be in 0..{fmt.MAX_DURATION} milliseconds, got "
                         f"{value!r}")
    return round(number)
