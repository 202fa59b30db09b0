"""Rank selection: the truncated SVD at a rank chosen by a rank, an energy fraction or an error
budget.

``select_rank`` picks ``k`` without a full SVD when the answer is small: it grows a truncated SVD
(:mod:`svdcodec.whole.linalg`, the backends) until the criterion is met, and lets one exact SVD
decide past the size where the randomized sketch stops paying.
"""

from __future__ import annotations

import operator

import numpy as np

from .denoise import optimal_rank
from .linalg import (
    _AUTO_EXACT_MAX_SIDE,
    _AUTO_EXACT_RANK_FRACTION,
    METHODS,
    _as_float_matrix,
    truncate,
    truncated_svd,
)
from .stripsvd import StripMatrix, truncated_svd_strips

__all__ = ["select_rank", "select_rank_strips"]

STRIPS_ADVICE = "or use layout='patch' (the default), which encodes any size in strips"


def select_rank_strips(
    x: StripMatrix,
    *,
    rank: int | str | None = None,
    energy: float | None = None,
    max_sse: float | None = None,
    method: str = "auto",
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`select_rank` for a large matrix given by strips (:class:`.stripsvd.StripMatrix`):
    the randomized SVD only, its rank grown from 16 by doubling for ``energy`` and
    ``max_sse`` up to ``0.2 * min(m, n)``. What needs an exact SVD of the whole matrix (the
    exact backends, ``rank="optimal"``, a criterion not met by then) raises ValueError."""
    _check_one_criterion(rank, energy, max_sse)
    m, n = x.shape
    if method not in ("auto", "randomized"):
        raise ValueError(f"svd={method!r} needs the whole {m}x{n} matrix in memory: a matrix "
                         f"this large is factorized with svd='auto' (randomized, by strips), "
                         f"{STRIPS_ADVICE}")
    r = min(m, n)
    if isinstance(rank, str):
        raise ValueError(f"rank={rank!r} needs every singular value of the {m}x{n} matrix (an "
                         f"exact SVD): give a rank, energy or PSNR, {STRIPS_ADVICE}")
    if rank is not None:
        rank = _rank_at_least_1(rank)
        return truncated_svd_strips(x, min(rank, r), seed=seed)
    total = x.squared_norm()
    target = _target_energy(total, energy, max_sse)
    if target <= 0.0:
        return truncated_svd_strips(x, 1, seed=seed)
    target -= _ENERGY_RTOL * total
    k = min(_FIRST_RANK, r)
    while True:
        u, s, vt = truncated_svd_strips(x, k, seed=seed)
        k_hit = _first_reaching(s, total, target)
        if k_hit is not None:
            return truncate(u, s, vt, k_hit)
        if k == r:
            return u, s, vt
        if 2 * k > max(_AUTO_EXACT_RANK_FRACTION * r, _FIRST_RANK):
            raise ValueError(f"the energy or PSNR asked needs more than {k} components of the "
                             f"{m}x{n} matrix: give a rank, or a lower target, "
                             f"{STRIPS_ADVICE}")
        k = min(2 * k, r)

def _check_one_criterion(rank: object, energy: object, max_sse: object) -> None:
    """ValueError unless exactly one of the three rate criteria is given."""
    given = [name for name, v in (("rank", rank), ("energy", energy), ("max_sse", max_sse))
             if v is not None]
    if len(given) != 1:
        raise ValueError(f"give exactly one of rank, energy, max_sse; got {given or 'none'}")


def _rank_at_least_1(rank: object) -> int:
    """``rank`` as an int >= 1 (TypeError for a non-integer, ValueError below 1)."""
    k = operator.index(rank)  # type: ignore[arg-type]
    if k < 1:
        raise ValueError(f"rank must be >= 1, got {k}")
    return k


# select_rank's first guess; doubled until the criterion is met.
_FIRST_RANK = 16
# Cumulative energies carry rounding of order eps * sqrt(min(m, n)) * ||x||_F²; a criterion met up
# to this fraction of ||x||_F² counts as met, so e.g. energy=1.0 finds the numerical rank.
_ENERGY_RTOL = 1e-12


def select_rank(
    x: np.ndarray,
    *,
    rank: int | str | None = None,
    energy: float | None = None,
    max_sse: float | None = None,
    method: str = "auto",
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Truncated SVD at a rank chosen by exactly one of three criteria.

    With ``e_k = s[0]² + ... + s[k-1]²`` (energy is the sum of *squared* singular values, the
    share of ``||x||_F²`` that rank k keeps; some tutorials use the sum of ``s`` instead, which
    has no such meaning), the rank is:

    - ``rank``: ``min(rank, min(m, n))``; ``rank="optimal"``: the singular values above the
      optimal hard threshold for an unknown noise level, ω(β)·median(s) (Gavish & Donoho 2014,
      :mod:`svdcodec.whole.denoise`; at least 1), from one exact SVD;
    - ``energy=f``: the smallest k with ``e_k >= f * ||x||_F²``;
    - ``max_sse``: the smallest k with ``||x||_F² - e_k <= max_sse``. By Eckart-Young this tail is
      the squared error of the rank-k reconstruction, so a target PSNR maps to ``max_sse``. It is
      also exact for randomized factors: their reconstruction is an orthogonal projection of x.

    ``e_k`` is that of the returned factors, so the criteria hold for them, up to
    ``1e-12 * ||x||_F²`` of rounding. To avoid a full SVD when k is small, k starts at 16 and
    doubles (with ``method`` "auto", "randomized" or "gram"); past ``0.2 * min(m, n)`` one exact
    SVD decides.

    Parameters
    ----------
    x : ndarray, shape (m, n)
        Finite real matrix.
    rank : int or "optimal", optional
        Requested rank, ``>= 1``, or ``"optimal"`` (see above).
    energy : float, optional
        Fraction of the energy to keep, in (0, 1].
    max_sse : float, optional
        Largest allowed sum of squared errors, ``>= 0``.
    method : str
        Backend for ``truncated_svd``; the exact step uses ``"gesdd"`` unless ``method`` is exact.
    seed : int
        Seed for the randomized backend.

    Returns
    -------
    u : ndarray, shape (m, k), float64
    s : ndarray, shape (k,), float64
    vt : ndarray, shape (k, n), float64
        Factors as from ``truncated_svd``, with ``1 <= k <= min(m, n)``.

    Raises
    ------
    ValueError
        If not exactly one criterion is given, a criterion is out of range, or ``x`` is invalid.
    """
    _check_one_criterion(rank, energy, max_sse)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    x = _as_float_matrix(x)
    r = min(x.shape)
    if isinstance(rank, str):
        if rank != "optimal":
            raise ValueError(f"rank must be an int >= 1 or 'optimal', got {rank!r}")
        exact = method if method in ("gesdd", "gesvd") else "gesdd"
        u, s, vt = truncated_svd(x, r, method=exact, seed=seed)
        return truncate(u, s, vt, max(1, optimal_rank(s, x.shape)))
    if rank is not None:
        rank = _rank_at_least_1(rank)
        return truncated_svd(x, min(rank, r), method=method, seed=seed)

    total = _squared_norm(x)
    target = _target_energy(total, energy, max_sse)
    if target <= 0.0:  # includes the all-zero matrix: any rank meets the criterion
        return truncated_svd(x, 1, method=method, seed=seed)
    target -= _ENERGY_RTOL * total

    # Exact backends compute every singular value anyway: one call suffices.
    grow = method in ("randomized", "gram") or (method == "auto" and r > _AUTO_EXACT_MAX_SIDE)
    k = min(_FIRST_RANK, r)
    while grow and k <= _AUTO_EXACT_RANK_FRACTION * r:
        u, s, vt = truncated_svd(x, k, method=method, seed=seed)
        k_hit = _first_reaching(s, total, target)
        if k_hit is not None:
            return truncate(u, s, vt, k_hit)
        k *= 2
    exact = method if method in ("gesdd", "gesvd", "gram") else "gesdd"
    u, s, vt = truncated_svd(x, r, method=exact, seed=seed)
    # Not reached only through rounding (e.g. energy=1.0): all of x is then the answer.
    k_hit = _first_reaching(s, total, target) or r
    return truncate(u, s, vt, k_hit)


def _target_energy(total: float, energy: float | None, max_sse: float | None) -> float:
    """The ``e_k`` that the energy or max_sse criterion asks of x, of energy ``total``."""
    if energy is not None:
        if not 0.0 < energy <= 1.0:
            raise ValueError(f"energy must be in (0, 1], got {energy}")
        return energy * total
    assert max_sse is not None
    if not max_sse >= 0.0:  # also rejects NaN
        raise ValueError(f"max_sse must be >= 0, got {max_sse}")
    return total - max_sse


def _squared_norm(x: np.ndarray) -> float:
    """``||x||_F²`` in one BLAS pass, without the temporary of ``np.linalg.norm``."""
    flat = x.ravel(order="K")  # no copy for C- or F-contiguous x
    return float(np.dot(flat, flat))


def _first_reaching(s: np.ndarray, total: float, target: float) -> int | None:
    """Smallest k whose cumulative energy ``sum(s[:k]**2)`` reaches ``target``, or None."""
    # Rounding can push the running sum slightly above ||x||_F²; the true value cannot be.
    cumulative = np.minimum(np.cumsum(s * s), total)
    hits = np.flatnonzero(cumulative >= target)
    return int(hits[0]) + 1 if hits.size else None
