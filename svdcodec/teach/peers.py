"""Reference codecs svdcodec is compared with: PNG, JPEG, WebP and AVIF through Pillow.

Settings (those of ``rd-notes.md``, so its tables can be reproduced):

- ``png``: lossless, ``optimize=False``, Pillow's default ``compress_level``; quality is ignored.
- ``jpeg``: libjpeg(-turbo), ``optimize=True``, Pillow's default chroma subsampling (4:2:0 for
  RGB), quality 1..100 (libjpeg treats 0 as 1). JPEG has no alpha channel: LA and RGBA images
  are refused with ``ValueError`` rather than silently flattened, because a PSNR over fewer
  channels than the other codecs keep would not be comparable.
- ``webp``: libwebp lossy, ``method=6`` (slowest, smallest), quality 0..100, alpha lossless
  (Pillow's ``alpha_quality=100``) and ``exact=True`` so that RGB under fully transparent pixels
  is coded rather than discarded: PSNR here counts every sample. WebP has no grey mode: L and
  LA are coded as RGB / RGBA with equal channels.
- ``avif``: libavif through Pillow with its defaults: ``speed=6`` (0 slowest .. 10 fastest),
  4:2:0 (4:0:0 for L), quality 0..100. LA is coded as RGBA.

Decoding returns the mode the file holds; :func:`decode_peer` takes ``channels`` to convert back
to the caller's layout (WebP's RGB back to L, for instance). PSNR is computed over all channels
of the image as given, alpha included.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError, features

from ..metrics import psnr

__all__ = [
    "PEERS",
    "CodecUnavailableError",
    "PeerPoint",
    "available",
    "decode_peer",
    "encode_peer",
    "match_psnr",
    "sweep",
]

PEERS = ("png", "jpeg", "webp", "avif")

# Pillow's name for the feature that must be compiled in, and its format name.
_FEATURE = {"png": "zlib", "jpeg": "jpg", "webp": "webp", "avif": "avif"}
_FORMAT = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP", "avif": "AVIF"}
# Inclusive quality range each lossy encoder accepts; PNG has none.
QUALITY_RANGE: dict[str, tuple[int, int]] = {"jpeg": (1, 100), "webp": (0, 100), "avif": (0, 100)}
# Fixed encoder options; quality is added per call.
_OPTIONS: dict[str, dict[str, object]] = {
    "png": {"optimize": False},
    "jpeg": {"optimize": True},
    "webp": {"method": 6, "lossless": False, "exact": True},
    "avif": {},
}
# Channel count -> Pillow mode, for the four layouts accepted.
_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


class CodecUnavailableError(RuntimeError):
    """The Pillow build at hand lacks the codec (e.g. no libavif)."""


@dataclass(frozen=True)
class PeerPoint:
    """One encoded peer file.

    Attributes
    ----------
    codec : str
        One of :data:`PEERS`.
    quality : int or None
        Encoder quality; None for PNG.
    nbytes : int
        Size of the encoded file.
    psnr : float
        PSNR of the decoded image against the original, dB (``inf`` if lossless).
    bpp : float
        Bits per pixel, ``8 * nbytes / (H * W)``.
    reached : bool
        For :func:`match_psnr`: whether ``psnr`` reached the target. Always True from
        :func:`sweep`.
    """

    codec: str
    quality: int | None
    nbytes: int
    psnr: float
    bpp: float
    reached: bool = True


def _check_codec(codec: str) -> None:
    """Raise ValueError for a name not in PEERS."""
    if codec not in PEERS:
        raise ValueError(f"expected a codec in {PEERS}, got {codec!r}")


def available(codec: str) -> bool:
    """Return whether this Pillow build can encode and decode ``codec``."""
    _check_codec(codec)
    return bool(features.check(_FEATURE[codec]))


def _channels(image: np.ndarray) -> int:
    """Return the channel count of a valid uint8 HxW / HxWx{2,3,4} image, else raise."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        got = image.dtype if isinstance(image, np.ndarray) else type(image).__name__
        raise TypeError(f"expected a uint8 numpy array, got {got}")
    if image.ndim == 2:
        channels = 1
    elif image.ndim == 3 and image.shape[2] in (2, 3, 4):
        channels = image.shape[2]
    else:
        raise ValueError(f"expected shape HxW or HxWx{{2,3,4}}, got {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"expected a non-empty image, got shape {image.shape}")
    return channels


def encode_peer(image: np.ndarray, codec: str, quality: int | None = None) -> bytes:
    """Encode an image with a reference codec.

    Parameters
    ----------
    image : np.ndarray
        uint8, shape (H, W) for L, (H, W, 2) LA, (H, W, 3) RGB or (H, W, 4) RGBA.
    codec : str
        One of :data:`PEERS`.
    quality : int, optional
        Encoder quality within ``QUALITY_RANGE[codec]``; None for Pillow's default. Ignored
        for PNG.

    Returns
    -------
    bytes
        The encoded file.
    """
    _check_codec(codec)
    channels = _channels(image)
    if not available(codec):
        raise CodecUnavailableError(f"this Pillow build has no {codec} support")
    if codec == "jpeg" and channels in (2, 4):
        raise ValueError(f"JPEG has no alpha: expected an L or RGB image, got shape {image.shape}")
    options = dict(_OPTIONS[codec])
    if quality is not None and codec in QUALITY_RANGE:
        lo, hi = QUALITY_RANGE[codec]
        if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)):
            raise TypeError(f"expected an integer quality, got {type(quality).__name__}")
        if not lo <= quality <= hi:
            raise ValueError(f"expected {codec} quality in {lo}..{hi}, got {quality}")
        options["quality"] = int(quality)
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, _FORMAT[codec], **options)
    return buf.getvalue()


def decode_peer(data: bytes, *, channels: int | None = None) -> np.ndarray:
    """Decode a file written by :func:`encode_peer`.

    Parameters
    ----------
    data : bytes
        A PNG, JPEG, WebP or AVIF file.
    channels : int, optional
        1, 2, 3 or 4 to convert the result to L, LA, RGB or RGBA (as codecs without a grey
        mode return RGB); None returns the mode stored in the file.

    Returns
    -------
    np.ndarray
        uint8, shape (H, W) for L, else (H, W, C).
    """
    if channels is not None and channels not in _MODES:
        raise ValueError(f"expected channels in 1..4 or None, got {channels}")
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            fmt = im.format
            if channels is not None:
                im = im.convert(_MODES[channels])
            elif im.mode not in _MODES.values():
                # Not written by encode_peer (palette, 16-bit...): give plain 8-bit samples.
                im = im.convert("RGBA" if im.has_transparency_data else "RGB")
            out = np.array(im)
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(f"cannot decode peer file: {exc}") from exc
    if fmt not in _FORMAT.values():
        raise ValueError(f"expected a file in {sorted(_FORMAT.values())}, got {fmt}")
    return out


def _point(image: np.ndarray, codec: str, quality: int | None, max_value: float) -> PeerPoint:
    """Encode, decode and measure one point."""
    data = encode_peer(image, codec, quality)
    decoded = decode_peer(data, channels=_channels(image))
    h, w = image.shape[:2]
    return PeerPoint(
        codec=codec,
        quality=quality if codec in QUALITY_RANGE else None,
        nbytes=len(data),
        psnr=psnr(image, decoded, max_value),
        bpp=8.0 * len(data) / (h * w),
    )


def sweep(
    image: np.ndarray, codec: str, qualities: Iterable[int], *, max_value: float = 255
) -> list[PeerPoint]:
    """Encode ``image`` once per quality and measure each file.

    Parameters
    ----------
    image : np.ndarray
        As for :func:`encode_peer`.
    codec : str
        One of :data:`PEERS`.
    qualities : iterable of int
        Qualities to try, in the order given (PNG ignores them but yields one point each).
    max_value : float
        Peak value for PSNR.

    Returns
    -------
    list of PeerPoint
    """
    return [_point(image, codec, q, max_value) for q in qualities]


def match_psnr(
    image: np.ndarray, codec: str, target_psnr: float, *, max_value: float = 255
) -> PeerPoint:
    """Find the lowest quality, hence the smallest file, whose PSNR is at least the target.

    Binary search over the codec's integer quality range: about 8 encodes. PSNR and size are
    nearly but not strictly monotone in quality (encoders switch tools between quality steps),
    so the point returned is the lowest quality on the boundary the search met: quality - 1
    is guaranteed to fall short of the target, but a quality further down, or a larger quality
    with a smaller file, is not ruled out. Errors from this are a few bytes, not dB.

    Parameters
    ----------
    image : np.ndarray
        As for :func:`encode_peer`.
    codec : str
        One of :data:`PEERS`. PNG is lossless: its single point always reaches the target.
    target_psnr : float
        Target PSNR in dB.
    max_value : float
        Peak value for PSNR.

    Returns
    -------
    PeerPoint
        With ``reached=False`` and the highest quality if even that falls short.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.tile(np.arange(64, dtype=np.uint8) * 4, (48, 1))
    >>> point = match_psnr(image, "jpeg", 40.0)
    >>> point.reached, point.psnr >= 40.0
    (True, True)
    >>> match_psnr(image, "png", 40.0).psnr
    inf
    """
    _check_codec(codec)
    if math.isnan(target_psnr):
        raise ValueError("expected a target_psnr, got nan")
    if codec not in QUALITY_RANGE:
        return _point(image, codec, None, max_value)
    lo, hi = QUALITY_RANGE[codec]
    best = _point(image, codec, hi, max_value)
    if best.psnr < target_psnr:
        return PeerPoint(best.codec, best.quality, best.nbytes, best.psnr, best.bpp, False)
    # Invariant: quality hi reaches the target (best is its point); qualities < lo do not.
    while lo < hi:
        mid = (lo + hi) // 2
        point = _point(image, codec, mid, max_value)
        if point.psnr >= target_psnr:
            hi, best = mid, point
        else:
            lo = mid + 1
    return best
