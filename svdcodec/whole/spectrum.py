"""Singular-value spectra of images, and the rank a PSNR costs (the math behind ``spectrum``).

No I/O: arrays in, numbers out. The plot and the table are in :mod:`svdcodec.teach.lessons`
and the command line.

What an image's spectrum is computed on (``luminance`` or ``per-channel``):

- ``"luminance"``: one matrix, ``Y = 0.299 R + 0.587 G + 0.114 B`` (ITU-R BT.601, the weights
  of Pillow's ``convert("L")``) in float64 on the samples as stored, not rounded; grey images
  (L, LA, I;16) are their grey channel; alpha is ignored.
- ``"per-channel"``: one matrix per colour channel (alpha ignored), as the codec's per-channel
  layout factorizes them.

The PSNR a rank gives is exact, not estimated: by Eckart–Young the squared error of the best
rank-k approximation of X is the tail ``σ_{k+1}² + ... + σ_r²`` of X's float64 SVD, so
``PSNR(k) = 10 log10(L² · N / Σ_tails)`` with ``N`` the samples of all matrices and ``L`` the
peak value (255, or 65535 for 16-bit). This is the truncation alone, before the codec
quantizes its factors or rounds the samples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["BT601", "MODES", "ImageSpectrum", "image_spectrum", "luminance",
           "rank_for_psnr", "truncation_psnr"]

BT601 = (0.299, 0.587, 0.114)  # luma weights of R, G, B (Pillow's convert("L"))
MODES = ("luminance", "per-channel")


def _colour_channels(image: np.ndarray) -> np.ndarray:
    """(H, W, C') without alpha: 1 channel for grey (+alpha), 3 for RGB(A)."""
    if image.ndim == 2:
        return image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"image must be H x W or H x W x C with C in 1..4, got {image.shape}")
    return image[:, :, :1] if image.shape[2] in (1, 2) else image[:, :, :3]


def luminance(image: np.ndarray) -> np.ndarray:
    """The float64 (H, W) luma of an image (BT.601 weights; grey as is; alpha ignored).

    >>> luminance(np.array([[[255, 0, 0], [0, 0, 255]]], dtype=np.uint8)).round(3).tolist()
    [[76.245, 29.07]]
    """
    c = _colour_channels(np.asarray(image))
    if c.shape[2] == 1:
        return c[:, :, 0].astype(np.float64)
    gray: np.ndarray = c.astype(np.float64) @ np.array(BT601)
    return gray


def peak(image: np.ndarray) -> float:
    """The peak sample value L: 255 for uint8, 65535 for uint16."""
    if image.dtype not in (np.uint8, np.uint16):
        raise TypeError(f"image dtype must be uint8 or uint16, got {image.dtype}")
    return float(np.iinfo(image.dtype).max)


@dataclass(frozen=True)
class ImageSpectrum:
    """The singular values of an image's matrices and what they imply."""

    mode: str  # "luminance" or "per-channel"
    s: tuple[np.ndarray, ...]  # one non-increasing float64 array per matrix
    shape: tuple[int, int]  # (m, n) of each matrix
    peak: float  # L of the PSNR

    @property
    def samples(self) -> int:
        return len(self.s) * self.shape[0] * self.shape[1]

    def tail(self) -> np.ndarray:
        """``tail[k]``: the squared error of the best rank-k approximation, summed over the
        matrices, for k = 0 .. min(m, n)."""
        total = np.zeros(len(self.s[0]) + 1)
        for s in self.s:
            s2 = s * s
            # suffix sums: tail[k] = Σ_{i >= k} s_i², computed from the small end for accuracy
            total[:-1] += np.cumsum(s2[::-1])[::-1]
        return total

    def psnr(self) -> np.ndarray:
        """``psnr[k]``: the PSNR in dB of the rank-k truncation, k = 0 .. min(m, n)."""
        return truncation_psnr(self.tail(), self.samples, self.peak)

    def rank_for(self, target_db: float) -> int:
        """The smallest rank whose truncation reaches ``target_db``."""
        return rank_for_psnr(self.psnr(), target_db)

    def values_fraction(self, k: int) -> float:
        """``k (m + n + 1) / (m n)``: the share of the numbers of X that rank k stores."""
        m, n = self.shape
        return k * (m + n + 1) / (m * n)


def image_spectrum(image: np.ndarray, mode: str = "luminance") -> ImageSpectrum:
    """Every singular value of the image's luminance, or of each colour channel (float64)."""
    image = np.asarray(image)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    top = peak(image)
    if mode == "luminance":
        matrices = [luminance(image)]
    else:
        c = _colour_channels(image)
        matrices = [c[:, :, i].astype(np.float64) for i in range(c.shape[2])]
    s = tuple(np.linalg.svd(x, compute_uv=False) for x in matrices)
    return ImageSpectrum(mode, s, matrices[0].shape, top)


def truncation_psnr(tail: np.ndarray, samples: int, peak_value: float) -> np.ndarray:
    """PSNR in dB for each squared-error ``tail`` over ``samples`` samples (inf at 0)."""
    tail = np.maximum(np.asarray(tail, dtype=np.float64), 0.0)
    with np.errstate(divide="ignore", over="ignore"):  # a zero (or subnormal) tail: inf
        return 10.0 * np.log10(peak_value ** 2 * samples / tail)


def rank_for_psnr(psnr: Sequence[float] | np.ndarray, target_db: float) -> int:
    """The first index k with ``psnr[k] >= target_db`` (the full rank if none).

    >>> rank_for_psnr([10.0, 25.0, 31.0, 40.0], 30.0)
    2
    """
    if not math.isfinite(target_db):
        raise ValueError(f"target_db must be finite, got {target_db}")
    values = np.asarray(psnr)
    # Rounding can leave the tail a hair above zero where the exact one is zero; the last
    # index is the full rank, which reproduces X.
    hits = np.flatnonzero(values >= target_db)
    return int(hits[0]) if hits.size else len(values) - 1
