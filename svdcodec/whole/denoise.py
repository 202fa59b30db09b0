"""Denoising by truncated SVD at the optimal hard threshold (Gavish & Donoho 2014).

No I/O: matrices in, matrices and numbers out (the ``denoise`` command is the edge).

Model: ``Y = X + σ Z`` with X (m × n) of low rank and Z white noise of unit variance. Keeping
the singular values of Y above a threshold τ and zeroing the rest is a *hard threshold*; M.
Gavish and D. L. Donoho, "The optimal hard threshold for singular values is 4/√3", IEEE Trans.
Inf. Theory 60(8):5040-5053, 2014, find the τ that minimizes the asymptotic mean squared error
‖X̂ − X‖²_F. With β = m/n ≤ 1 the aspect ratio (m the short side, n the long one):

- noise level σ known: ``τ = λ*(β) · √n · σ`` with
  ``λ*(β) = sqrt(2(β + 1) + 8β / ((β + 1) + sqrt(β² + 14β + 1)))``, which is 4/√3 ≈ 2.309
  for a square matrix (β = 1);
- σ unknown: ``τ = ω(β) · median(σ_i(Y))``, ``ω(β) ≈ 0.56β³ − 0.95β² + 1.82β + 1.43``
  (their cubic fit, within 0.02 of the exact λ*(β)/sqrt(μ_β), μ_β the median of the
  Marchenko–Pastur law): the median singular value of Y estimates the noise level, because
  a low-rank X moves only a few of them.

The optimality is for a low-rank X. Photographs are only approximately low rank: on a
textured one with little noise the components below τ carry detail, and truncation can score
below the noisy input itself (kodim01 with σ = 10: 27.96 dB against 28.14 dB); the median then
also overestimates σ.

For comparison the *energy rules* of many tutorials keep the smallest rank whose Σσ (or Σσ²)
reaches a fixed fraction, 70-90 %, of the total: they ignore the noise level, so they keep too
many components of a clean-ish image and too few of a noisy one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Denoised", "denoise", "denoise_factors", "energy_rank", "hard_threshold", "omega",
           "optimal_lambda", "optimal_rank", "truncate"]


def _beta(shape: tuple[int, int]) -> tuple[float, int]:
    """(β = short/long side, the long side n)."""
    m, n = sorted(int(d) for d in shape)
    if m < 1:
        raise ValueError(f"shape must have sides >= 1, got {shape}")
    return m / n, n


def optimal_lambda(beta: float) -> float:
    """λ*(β), the threshold coefficient for a known noise level (Gavish & Donoho, eq. 11).

    >>> round(optimal_lambda(1.0), 6) == round(4 / 3 ** 0.5, 6)
    True
    """
    if not 0.0 < beta <= 1.0:
        raise ValueError(f"beta must be in (0, 1], got {beta}")
    return math.sqrt(2 * (beta + 1) + 8 * beta / ((beta + 1) + math.sqrt(beta**2 + 14 * beta + 1)))


def omega(beta: float) -> float:
    """ω(β) ≈ 0.56β³ − 0.95β² + 1.82β + 1.43, the coefficient of median(σ) for unknown noise.

    >>> round(omega(1.0), 2)
    2.86
    """
    if not 0.0 < beta <= 1.0:
        raise ValueError(f"beta must be in (0, 1], got {beta}")
    return 0.56 * beta**3 - 0.95 * beta**2 + 1.82 * beta + 1.43


def hard_threshold(shape: tuple[int, int], s: np.ndarray | None = None,
                   sigma: float | None = None) -> float:
    """The optimal hard threshold τ for a matrix of ``shape``.

    Parameters
    ----------
    shape : (m, n)
    s : ndarray, shape (min(m, n),), optional
        Every singular value of the noisy matrix; needed when ``sigma`` is None.
    sigma : float, optional
        The noise standard deviation per entry, if known.
    """
    beta, n = _beta(shape)
    if sigma is not None:
        if not (math.isfinite(sigma) and sigma >= 0):
            raise ValueError(f"sigma must be a finite number >= 0, got {sigma}")
        return optimal_lambda(beta) * math.sqrt(n) * sigma
    if s is None:
        raise ValueError("give the singular values s when sigma is unknown")
    s = np.asarray(s, dtype=np.float64)
    if s.shape != (min(shape),):
        raise ValueError(f"s must hold all min(m, n) = {min(shape)} singular values, got "
                         f"shape {s.shape}")
    return omega(beta) * float(np.median(s))


def optimal_rank(s: np.ndarray, shape: tuple[int, int], sigma: float | None = None) -> int:
    """How many singular values exceed the optimal hard threshold (may be 0)."""
    tau = hard_threshold(shape, s, sigma)
    return int(np.count_nonzero(np.asarray(s) > tau))


def energy_rank(s: np.ndarray, fraction: float, *, squared: bool) -> int:
    """The smallest k whose Σ_{i<k} σ_i (``squared``: σ_i²) reaches ``fraction`` of the total.

    >>> energy_rank(np.array([3.0, 1.0, 0.0]), 0.75, squared=False)
    1
    >>> energy_rank(np.array([3.0, 1.0, 0.0]), 0.95, squared=True)
    2
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    w = np.asarray(s, dtype=np.float64)
    w = w * w if squared else w
    cumulative = np.cumsum(w)
    if cumulative[-1] == 0:
        return 0
    # A relative slack of 1e-12 so that fraction=1.0 stops at the numerical rank.
    return int(np.searchsorted(cumulative, fraction * cumulative[-1] * (1 - 1e-12))) + 1


def truncate(u: np.ndarray, s: np.ndarray, vt: np.ndarray, k: int) -> np.ndarray:
    """``U_k diag(s_k) V_kᵀ``, the rank-k truncation (zeros for k = 0)."""
    x: np.ndarray = (u[:, :k] * s[:k]) @ vt[:k]
    return x


@dataclass(frozen=True)
class Denoised:
    """The result of :func:`denoise`."""

    x: np.ndarray  # (m, n) float64, the rank-``rank`` truncation
    rank: int
    threshold: float  # τ
    sigma: float  # the noise level given, or the estimate τ / (λ*(β) √n) implied by ω(β)
    known: bool  # sigma was given


def denoise(y: np.ndarray, sigma: float | None = None) -> Denoised:
    """Truncate the SVD of ``y`` (m, n) at the optimal hard threshold (see the module doc)."""
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 2:
        raise ValueError(f"y must be a 2-D matrix, got shape {y.shape}")
    u, s, vt = np.linalg.svd(y, full_matrices=False)
    return denoise_factors(u, s, vt, sigma)


def denoise_factors(u: np.ndarray, s: np.ndarray, vt: np.ndarray,
                    sigma: float | None = None) -> Denoised:
    """:func:`denoise` from the thin SVD ``y = u @ diag(s) @ vt`` of all min(m, n) triplets."""
    shape = (u.shape[0], vt.shape[1])
    tau = hard_threshold(shape, s, sigma)
    k = int(np.count_nonzero(s > tau))
    beta, n = _beta(shape)
    estimate = tau / (optimal_lambda(beta) * math.sqrt(n)) if sigma is None else float(sigma)
    return Denoised(truncate(u, s, vt, k), k, tau, estimate, sigma is not None)
