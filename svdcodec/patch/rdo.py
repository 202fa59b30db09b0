"""Rate-distortion-optimised quantization priced with per-component histograms (encoder only).

Every coefficient is chosen among {0, floor - 1, floor, floor + 1} minimizing ``D + lambda R``
with ``lambda = RDO_LAMBDA step_j²`` and R from the component's own histogram of symbol bytes
(spec section 12.9): the rate model of the zstd payload. The arith payload's context rates are
:mod:`.arith_rdo`'s.
"""

from __future__ import annotations

import numpy as np

from .arith_rdo import dead_zone
from .symbols import zigzag

# BD-PSNR against JPEG, every third Kodak image, relative to these values (tools/bench_rd.py):
RDO_LAMBDA = 0.08  # lambda_j = RDO_LAMBDA step_j²; 0.05: -0.01 dB, 0.12: -0.06
RDO_PASSES = 2  # 3: +0.00


def _rates(histogram: np.ndarray) -> np.ndarray:
    counts = histogram.astype(np.float64) + 0.02
    return -np.log2(counts / counts.sum())


def component_histograms(q: np.ndarray) -> np.ndarray:
    """(k, 256) counts of each component's symbol bytes (escapes lumped into 255)."""
    k = q.shape[1]
    u = np.minimum(zigzag(q), 255) + 256 * np.arange(k)[None, :]
    return np.bincount(u.ravel(), minlength=256 * k).reshape(k, 256)


def rdo_quantize(c: np.ndarray, steps: np.ndarray, lam: float) -> np.ndarray:
    """Quantize (N, k) coefficients with per-component steps, minimizing D + λ R per value.

    One component at a time (its rate table depends on it alone), so that the temporaries stay
    at a few N-vectors whatever k is. R comes from the component's histogram of the previous
    pass (the first: a dead-zone rounding); a component below half a step everywhere is zero.
    """
    skip = np.abs(c).max(axis=0, initial=0) / steps <= 0.5 if c.shape[1] else np.zeros(0, bool)
    q = dead_zone(c, steps)
    for _ in range(RDO_PASSES):
        q = rdo_decide(c, steps, lam, component_histograms(q), skip)
    return q


def rdo_decide(c: np.ndarray, steps: np.ndarray, lam: float, histograms: np.ndarray,
               skip: np.ndarray) -> np.ndarray:
    """One pass of :func:`rdo_quantize` on a strip: rates from ``histograms`` (k, 256) of the
    previous pass over the whole plane; the components ``skip`` are zero."""
    q = np.zeros(c.shape, dtype=np.int64)
    for j in range(c.shape[1]):
        if skip[j]:
            continue  # rounds to zero everywhere
        a = np.abs(c[:, j]) / steps[j]
        sign = np.where(c[:, j] < 0, -1, 1)
        lo = np.floor(a)
        cands = np.stack([np.zeros_like(a), np.maximum(lo - 1, 0), lo, lo + 1])
        dist = (a - cands) ** 2 * steps[j] ** 2
        symbols = np.minimum(zigzag(sign * cands.astype(np.int64)), 255)
        cost = dist + lam * steps[j] ** 2 * _rates(histograms[j])[symbols]
        q[:, j] = sign * np.take_along_axis(cands, np.argmin(cost, axis=0)[None], axis=0)[0] \
            .astype(np.int64)
    return q
