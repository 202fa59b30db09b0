"""The patch layout's learned basis (encoder only): symmetric, quantized, independent.

The basis is the right singular vectors of the patch residuals augmented with their mirror
images (equivalently, eigenvectors of the flip-symmetrized covariance), so that every vector
is even or odd in x and y and only its quarter is stored (spec section 12.4), quantized to
``BASIS_BITS`` bits; vectors that rounding made nearly dependent are dropped.
"""

from __future__ import annotations

import numpy as np

from . import reconstruct as patch

# BD-PSNR against JPEG, every third Kodak image (tools/bench_rd.py; spec section 12.9):
BASIS_BITS = 5  # quarter entries in -15..15; 4 bits: -0.01 dB, 6 bits: -0.03
# The quantized unit basis vectors keep (v v^T) >= MIN_EIGENVALUE I, so least squares at most
# doubles a residual's norm (1 / sqrt(0.25)) and the accumulators stay bounded
# (encode.choose_shift).
MIN_EIGENVALUE = 0.25


def symmetric_basis(r: np.ndarray, p: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`symmetric_basis_of_gram` of the patch residuals r (N, P²)."""
    return symmetric_basis_of_gram(r.T @ r, p)


def symmetric_basis_of_gram(gram: np.ndarray, p: int) -> tuple[np.ndarray, np.ndarray]:
    """The right singular vectors of the patch residuals r augmented with their mirrored
    patches, by decreasing σ, from the Gram matrix r^T r (summed over strips).

    Returns the (k, P/2, P/2) top-left quarters (unit-norm vectors) and their (k,) parities,
    k <= P² - 1; vectors of (numerically) zero singular value are left out.

    The Gram matrix of [r; r flipped in x; in y; in both] commutes with both mirrors, so it is
    block-diagonal over the four parity classes: each class is solved on its own, on the
    quarters. (One eigen-decomposition of the whole matrix returns, for a repeated eigenvalue,
    any basis of its eigenspace, mixing classes; projecting those vectors back onto one class
    gave duplicate vectors, a singular least-squares system on simple images, issue 11.)
    """
    h = p // 2
    values, quarters, parities = [], [], []
    for parity in range(4):
        # (h², P²): row i is the full vector of the quarter with a 1 at entry i; its rows are
        # orthogonal, of norm 2, and b^T G b over the class is m^T G m for b = m^T y.
        m = patch.mirror(np.eye(h * h).reshape(h * h, h, h),
                         np.full(h * h, parity)).astype(np.float64)
        w, y = np.linalg.eigh(m @ gram @ m.T / 4)
        values.append(w)
        # LAPACK's signs are arbitrary: make the largest entry (first on ties) positive
        y *= np.where(y[np.argmax(np.abs(y), axis=0), np.arange(len(w))] < 0, -1.0, 1.0)
        quarters.append(y.T.reshape(-1, h, h) / 2)  # quarters of unit-norm full vectors
        parities.append(np.full(len(w), parity))
    w = np.concatenate(values)
    order = np.argsort(-w, kind="stable")[:p * p - 1]  # the constant patch is the DC's
    w = w[order]
    keep = w > 1e-9 * max(float(w[0]), 1e-300)
    return (np.concatenate(quarters)[order][keep],
            np.concatenate(parities)[order][keep].astype(np.int64))


def quantize_basis(quarter: np.ndarray, bits: int) -> np.ndarray:
    """Scale each quarter so its largest entry is 2^(bits-1) - 1 and round to int8."""
    if len(quarter) == 0:
        return np.zeros(quarter.shape, dtype=np.int8)
    peak = np.abs(quarter).reshape(len(quarter), -1).max(axis=1)
    top = (1 << (bits - 1)) - 1
    return np.rint(quarter * (top / peak)[:, None, None]).astype(np.int8)


def independent_basis(basis: np.ndarray, parities: np.ndarray, floor: float = MIN_EIGENVALUE
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Drop quantized vectors until the Gram matrix of the unit vectors has every eigenvalue
    >= ``floor``, keeping them in order (the first ones, of largest σ, are kept first).

    Rounding to a few bits moves orthonormal vectors off orthogonality, and on simple images
    (one speck, a ramp) several vectors can round to nearly the same one: least squares on
    them would give huge coefficients that cancel. Vectors of different parities stay exactly
    orthogonal (the mirror is applied to the integers), so each class is checked alone.
    """
    keep = np.ones(len(basis), dtype=bool)
    full = patch.mirror(basis, parities).astype(np.float64)
    v = full / np.maximum(np.linalg.norm(full, axis=1), 1e-300)[:, None]
    for parity in range(4):
        members = np.flatnonzero(parities == parity)
        if len(members) < 2 or _smallest_eigenvalue(v[members]) >= floor:
            continue
        kept: list[int] = []
        for j in members:
            if _smallest_eigenvalue(v[[*kept, j]]) >= floor:
                kept.append(int(j))
            else:
                keep[j] = False
    return basis[keep], parities[keep]


def _smallest_eigenvalue(v: np.ndarray) -> float:
    return float(np.linalg.eigvalsh(v @ v.T)[0])
