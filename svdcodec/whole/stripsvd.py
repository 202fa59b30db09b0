"""The truncated SVD of a large integer matrix by row strips (issue 13): an image's samples,
never copied whole to float. :class:`StripMatrix` makes the products ``x @ b`` and
``x.T @ y`` strip by strip, each strip widened to float when it is used;
:func:`truncated_svd_strips` is :func:`.linalg.truncated_svd`'s randomized backend on it.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator

import numpy as np

from .linalg import DEFAULT_N_ITER, flip_signs, orthonormalize, svd_lapack, truncate

__all__ = ["STRIP_BYTES", "StripMatrix", "truncated_svd_strips"]

# Bytes of float64 per strip of a StripMatrix: its temporaries stay at a few of these.
STRIP_BYTES = 16 * 2**20


class StripMatrix:
    """An integer matrix (a view of an image's samples) whose float products are made by strips
    of rows, each widened to float when it is used: no float copy of the whole matrix exists.

    ``x @ b`` and ``x.T @ y`` in float32 or float64; their sums run in another order than
    one product of the whole matrix, so results differ from :func:`truncated_svd`'s by rounding.
    """

    def __init__(self, x: np.ndarray) -> None:
        if x.ndim != 2 or x.dtype.kind not in "ui":
            raise ValueError(f"a StripMatrix is a 2-D integer matrix, got {x.shape} {x.dtype}")
        self.x = x
        self.shape: tuple[int, int] = x.shape
        self.rows = max(1, STRIP_BYTES // (8 * x.shape[1]))

    def _strips(self) -> Iterator[tuple[int, int]]:
        for r0 in range(0, self.shape[0], self.rows):
            yield r0, min(r0 + self.rows, self.shape[0])

    def matmul(self, b: np.ndarray, dtype: type) -> np.ndarray:
        """x @ b, (m, p), in ``dtype``."""
        out: np.ndarray = np.empty((self.shape[0], b.shape[1]), dtype=dtype)
        b = b.astype(dtype, copy=False)
        for r0, r1 in self._strips():
            np.matmul(self.x[r0:r1].astype(dtype), b, out=out[r0:r1])
        return out

    def rmatmul(self, y: np.ndarray, dtype: type) -> np.ndarray:
        """x.T @ y, (n, p), in ``dtype``."""
        out: np.ndarray = np.zeros((self.shape[1], y.shape[1]), dtype=dtype)
        y = y.astype(dtype, copy=False)
        for r0, r1 in self._strips():
            out += self.x[r0:r1].astype(dtype).T @ y[r0:r1]
        return out

    def squared_norm(self) -> float:
        """||x||_F², exactly (integers)."""
        return float(sum(int(np.einsum("ij,ij->", s, s, dtype=np.int64))
                         for s in (self.x[r0:r1].astype(np.int64) for r0, r1 in self._strips())))


def truncated_svd_strips(x: StripMatrix, k: int, *, n_oversamples: int = 10,
                         n_iter: int | None = None, seed: int = 0
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`truncated_svd`'s randomized backend on a :class:`StripMatrix`: the same algorithm
    (power iterations in float32 but the last) with products by strips."""
    r = min(x.shape)
    k = operator.index(k)
    if not 1 <= k <= r:
        raise ValueError(f"k must satisfy 1 <= k <= min(m, n) = {r}, got k={k}")
    n_iter = DEFAULT_N_ITER if n_iter is None else n_iter
    n_sketch = min(k + n_oversamples, r)
    transpose = x.shape[0] < x.shape[1]  # work on a = x.T, tall, as _svd_randomized does

    def a_times(b: np.ndarray, dtype: type) -> np.ndarray:
        return x.rmatmul(b, dtype) if transpose else x.matmul(b, dtype)

    def at_times(y: np.ndarray, dtype: type) -> np.ndarray:
        return x.matmul(y, dtype) if transpose else x.rmatmul(y, dtype)

    n = x.shape[0] if transpose else x.shape[1]
    rng = np.random.default_rng(seed)
    omega = rng.standard_normal((n, n_sketch))
    first = np.float32 if n_iter > 0 else np.float64
    q = orthonormalize(a_times(omega, first))
    for i in range(n_iter):
        dtype = np.float64 if i == n_iter - 1 else np.float32
        q = orthonormalize(at_times(q, dtype))
        q = orthonormalize(a_times(q, dtype))
    q = q.astype(np.float64, copy=False)
    ub, s, vt = svd_lapack(at_times(q, np.float64).T, "gesdd")  # b = q^T a
    u = q @ ub
    if transpose:
        u, vt = vt.T, u.T
    u, s, vt = truncate(u, s, vt, k)
    flip_signs(u, vt)
    return u, s, vt
