"""Truncated SVD backends.

``truncated_svd`` returns the leading ``k`` singular triplets of a real matrix with one
deterministic sign convention whatever the backend, so that encoders built on it produce the same
bytes for the same input and seed (bit for bit on one BLAS build and thread count). Choosing ``k``
(from a rank, an energy fraction or an error budget) is :mod:`svdcodec.whole.rank`'s.

Backends (``method``):

- ``"gesdd"``: LAPACK divide and conquer via ``numpy.linalg.svd``; falls back to ``gesvd`` in the
  rare cases where gesdd fails to converge.
- ``"gesvd"``: LAPACK QR iteration via ``scipy.linalg.svd``; slower, more robust.
- ``"randomized"``: Halko, Martinsson and Tropp (2011), "Finding structure with randomness",
  Algorithms 4.4 (power iterations, all but the last in float32) and 5.1; costs a few products
  with ``x`` instead of O(m n²).
- ``"gram"``: eigen-decomposition of the smaller Gram matrix. Teaching and comparison only: it
  squares the condition number, so singular values below about sqrt(eps) * s[0] are lost.
- ``"auto"``: ``"gesdd"`` for small matrices or large ``k``, else ``"randomized"``.

A large integer matrix is factorized by strips of rows instead (:mod:`.stripsvd`), with the
helpers here (:func:`svd_lapack`, :func:`orthonormalize`, :func:`truncate`, :func:`flip_signs`).
"""

from __future__ import annotations

import contextlib
import operator
import sys
from collections.abc import Iterator

import numpy as np
from threadpoolctl import ThreadpoolController

# scipy.linalg is imported where gesvd and eigh are used, not here: it is 0.19 s of a 0.43 s
# command-line start (paid again by every batch worker), and it loads scipy's own OpenBLAS, a
# second BLAS thread pool, which the default randomized and gesdd paths never need.

__all__ = ["DEFAULT_N_ITER", "METHODS", "one_blas_thread", "truncated_svd"]

METHODS = ("auto", "gesdd", "gesvd", "randomized", "gram")

# "auto" and rank.select_rank switch to an exact SVD above these: for small matrices LAPACK is
# already fast, and for k beyond ~20 % of the short side the randomized sketch costs as much as
# gesdd.
_AUTO_EXACT_MAX_SIDE = 256
_AUTO_EXACT_RANK_FRACTION = 0.2
# Power iterations of the randomized SVD. scikit-learn takes 7 when k < 0.1 min(m, n); measured
# on the 24 Kodak images (rank 10 and 50 per channel) and kodim23 upscaled to 1080p and 12 MP
# (ranks 20-100), 4 loses at most 0.022 dB of truncation PSNR against the exact SVD (7: 0.004 dB)
# and encodes about 1.6x faster (tools/bench_speed.py checks the 0.1 dB bound of issue 7).
DEFAULT_N_ITER = 4
# The randomized SVD's power iterations run in float32 for matrices whose entries stay below
# this (every image; float32 overflows at 3.4e38 and products sum up to min(m, n) terms).
_FLOAT32_SKETCH_MAX = 1e30


_controller: list[tuple[int, ThreadpoolController]] = []  # (scipy modules loaded, controller)


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run every BLAS library loaded so far (numpy's, and scipy's once imported) on one thread.

    The encoder's results depend on how BLAS splits its sums: OpenBLAS's ``ddot`` adds per-thread
    partial sums for vectors of more than 10,000 entries, and its LAPACK and GEMM kernels may
    differ likewise on other builds, so the same image gave files of different sizes with one
    and two threads (issue 11). On one thread the bytes depend on the BLAS build alone. The
    controller (1.9 ms to build) is cached, and built again after scipy modules were imported
    (they may load scipy's own BLAS).
    """
    key = sum(1 for name in sys.modules if name.startswith("scipy"))
    if not _controller or _controller[0][0] != key:
        _controller[:] = [(key, ThreadpoolController())]
    with _controller[0][1].limit(limits=1, user_api="blas"):
        yield


def truncated_svd(
    x: np.ndarray,
    k: int,
    *,
    method: str = "auto",
    n_oversamples: int = 10,
    n_iter: int | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rank-k truncated SVD of a 2-D real matrix, ``x ≈ u @ np.diag(s) @ vt``.

    Parameters
    ----------
    x : ndarray, shape (m, n)
        Finite real matrix (any real dtype; the computation is in float64).
    k : int
        Number of singular triplets, ``1 <= k <= min(m, n)``.
    method : {"auto", "gesdd", "gesvd", "randomized", "gram"}
        Backend; see the module docstring.
    n_oversamples : int
        Randomized only: extra sketch columns ``p``; the sketch has ``min(k + p, min(m, n))``
        columns. 10 or more is recommended.
    n_iter : int or None
        Randomized only: power iterations. None picks 4 (scikit-learn's ``randomized_svd``
        takes 7 when ``k < 0.1 * min(m, n)``; on photographs 4 is within 0.03 dB of exact).
    seed : int
        Randomized only: seed of ``numpy.random.default_rng`` for the test matrix.

    Returns
    -------
    u : ndarray, shape (m, k), float64
        Orthonormal columns; the entry of largest magnitude in each column is positive.
    s : ndarray, shape (k,), float64
        Singular values, non-increasing, ``>= 0``.
    vt : ndarray, shape (k, n), float64
        Orthonormal rows.

    Raises
    ------
    ValueError
        If ``x`` is not 2-D or not finite, ``k`` is out of range, or ``method`` is unknown.
    TypeError
        If ``x`` is not real.

    Examples
    --------
    >>> x = np.outer([1.0, 2.0, 3.0], [4.0, 5.0]) + np.outer([1.0, 0.0, -1.0], [1.0, -1.0])
    >>> u, s, vt = truncated_svd(x, 1)
    >>> u.shape, s.shape, vt.shape
    ((3, 1), (1,), (1, 2))
    >>> bool(np.allclose(s, np.linalg.svd(x, compute_uv=False)[:1]))
    True
    """
    x = _as_float_matrix(x)
    r = min(x.shape)
    k = operator.index(k)
    if not 1 <= k <= r:
        raise ValueError(f"k must satisfy 1 <= k <= min(m, n) = {r}, got k={k}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method == "auto":
        exact = r <= _AUTO_EXACT_MAX_SIDE or k > _AUTO_EXACT_RANK_FRACTION * r
        method = "gesdd" if exact else "randomized"
    if method == "gesdd":
        u, s, vt = svd_lapack(x, "gesdd")
    elif method == "gesvd":
        u, s, vt = svd_lapack(x, "gesvd")
    elif method == "randomized":
        if n_oversamples < 0:
            raise ValueError(f"n_oversamples must be >= 0, got {n_oversamples}")
        if n_iter is None:
            n_iter = DEFAULT_N_ITER
        if n_iter < 0:
            raise ValueError(f"n_iter must be >= 0, got {n_iter}")
        u, s, vt = _svd_randomized(x, min(k + n_oversamples, r), n_iter, seed)
    else:
        u, s, vt = _svd_gram(x, k)
    u, s, vt = truncate(u, s, vt, k)
    flip_signs(u, vt)
    return u, s, vt


def _as_float_matrix(x: np.ndarray) -> np.ndarray:
    """Validate ``x`` and return it as float64, shape (m, n), without copying if possible."""
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"x must be a 2-D matrix, got {x.ndim} dimension(s) {x.shape}")
    if x.dtype.kind not in "biuf":
        raise TypeError(f"x must have a real dtype, got {x.dtype}")
    x = x.astype(np.float64, copy=False)
    if not np.isfinite(x).all():
        raise ValueError("x must be finite, got NaN or infinity")
    return x


def truncate(
    u: np.ndarray, s: np.ndarray, vt: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Leading k triplets as contiguous copies, which do not pin the full factors in memory."""
    return np.array(u[:, :k], order="C"), s[:k].copy(), np.array(vt[:k], order="C")


def flip_signs(u: np.ndarray, vt: np.ndarray) -> None:
    """Make the largest-magnitude entry of each ``u[:, i]`` positive, in place.

    Same rule as scikit-learn's ``svd_flip(u_based_decision=True)``; LAPACK's signs depend on the
    driver and the BLAS build, so without this the factors (and the files) would too.
    """
    rows = np.argmax(np.abs(u), axis=0)  # first index on ties
    signs = np.sign(u[rows, np.arange(u.shape[1])])
    signs[signs == 0] = 1.0
    u *= signs
    vt *= signs[:, None]


def svd_lapack(x: np.ndarray, driver: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Thin SVD by LAPACK: u (m, r), s (r,), vt (r, n) with ``r = min(m, n)``."""
    if driver == "gesdd":
        try:
            return np.linalg.svd(x, full_matrices=False)
        except np.linalg.LinAlgError:
            pass  # gesdd occasionally fails to converge where gesvd's QR iteration succeeds
    import scipy.linalg

    with one_blas_thread():  # scipy's own BLAS, loaded just now: deterministic like numpy's
        u, s, vt = scipy.linalg.svd(x, full_matrices=False, lapack_driver="gesvd",
                                    check_finite=False)
    return u, s, vt


def _svd_randomized(
    x: np.ndarray, n_sketch: int, n_iter: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Randomized SVD: u (m, p), s (p,), vt (p, n) from a sketch of ``p = n_sketch`` columns.

    Halko et al. 2011, Algorithm 4.4 with QR between products (without it the sketch columns
    collapse onto the top singular vector in floating point), then Algorithm 5.1.
    """
    # Work on the tall orientation so that the final small SVD is of (n_sketch, short side).
    # x.T is a view; BLAS reads it through its transpose flag, so no copy is made.
    transpose = x.shape[0] < x.shape[1]
    a = x.T if transpose else x
    # All power iterations but the last run in float32, at twice the product rate: they only
    # steer the subspace. The last one, in float64, removes what float32 left (each iteration
    # shrinks the error outside the top subspace by (σ_out / σ_in)², to 0 for an exactly
    # low-rank matrix), so the result is as accurate as an all-float64 run.
    sketch = a
    if n_iter > 0 and max(a.max(initial=0), -a.min(initial=0)) < _FLOAT32_SKETCH_MAX:
        sketch = a.astype(np.float32)
    rng = np.random.default_rng(seed)
    omega = rng.standard_normal((a.shape[1], n_sketch))
    q = orthonormalize(sketch @ omega.astype(sketch.dtype))
    for i in range(n_iter):
        m = a if i == n_iter - 1 else sketch
        q = orthonormalize(m.T @ q.astype(m.dtype))
        q = orthonormalize(m @ q)
    del sketch
    # The SVD of the small b = qᵀ a lifts to a's through q.
    ub, s, vt = svd_lapack(q.T @ a, "gesdd")
    u = q @ ub
    if transpose:
        return vt.T, s, u.T
    return u, s, vt


def orthonormalize(y: np.ndarray) -> np.ndarray:
    """Orthonormal basis (economic Householder QR) of the columns of ``y``, shape kept."""
    # numpy's, not scipy's: the wheels bundle two OpenBLAS builds with separate thread pools, and
    # after a scipy call its idle workers spin and steal the cores numpy's next products need
    # (measured: 1080x1920, rank 50, 7 iterations, 2 cores: 100 ms with numpy, 150-1000 ms mixed).
    return np.linalg.qr(y)[0]


def _svd_gram(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-k SVD from ``eigh`` of the smaller Gram matrix: u (m, k), s (k,), vt (k, n)."""
    import scipy.linalg

    transpose = x.shape[0] < x.shape[1]
    a = x.T if transpose else x  # tall, so aᵀa is the smaller Gram matrix
    n = a.shape[1]
    with one_blas_thread():  # scipy's own BLAS: see svd_lapack
        w, v = scipy.linalg.eigh(a.T @ a, subset_by_index=(n - k, n - 1), check_finite=False)
    w, v = w[::-1], v[:, ::-1]  # eigh sorts ascending
    # Eigenvalues carry an absolute error of about n * eps * w[0]; anything below that cannot be
    # told from zero, and dividing by its square root would blow up noise in u.
    nonzero = w > n * np.finfo(np.float64).eps * max(float(w[0]), 0.0)
    s = np.sqrt(np.where(nonzero, w, 0.0))
    u = np.empty((a.shape[0], k))
    u[:, nonzero] = (a @ v[:, nonzero]) / s[nonzero]
    u[:, ~nonzero] = _complement(u[:, nonzero], int(np.count_nonzero(~nonzero)))
    if transpose:
        return v, s, u.T
    return u, s, v.T


def _complement(q: np.ndarray, count: int) -> np.ndarray:
    """``count`` orthonormal columns orthogonal to the orthonormal columns of ``q`` (m, r)."""
    m, r = q.shape
    if r == 0 or count == 0:
        return np.eye(m, count)
    # Not the complete QR of q: its Q is m x m, 18 GiB for the 49152 x 24 snapshot matrix of 24
    # colour frames of 128 x 128 (svdcodec stack). Random columns (fixed seed: the same fill
    # every time) projected off q twice ("twice is enough", Kahan), then orthonormalized.
    y = np.random.default_rng(0).standard_normal((m, count))
    for _ in range(2):
        y -= q @ (q.T @ y)
    return orthonormalize(y)
