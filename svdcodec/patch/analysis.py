"""What the patch encoder learns of a plane before it picks a step: its strips and basis.

Large planes are read in strips of whole patch rows of about ``STRIP_SAMPLES`` samples (issue
13), so that the float copies exist one strip at a time; the basis (:mod:`.basis`) comes from
the patch covariance summed over the strips. A plane of one strip (Kodak's) is read once.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import reconstruct as patch
from . import transform
from .basis import BASIS_BITS, independent_basis, quantize_basis, symmetric_basis_of_gram

# Samples per strip: the quantization temporaries take about 100 bytes per sample of a strip
# (2^19 samples: about 50 MB; issue 13 asks 4x the input + 100 MB at most); a strip is at least
# one patch row. Kodak's planes (393,216 samples) are one strip.
STRIP_SAMPLES = 1 << 19

Report = Callable[[float], object]  # a strip's progress: the fraction of the plane's work


def strip_rows(gw: int, p: int) -> int:
    """Patch rows per strip for a plane gw patches wide."""
    return max(1, STRIP_SAMPLES // (gw * p * p))


class PlaneAnalysis:
    """What does not depend on the step: the strips of patches and the quantized basis.

    Parameters
    ----------
    plane : (rows, cols) float array of centred samples, or a :class:`.transform.PlaneSource`
        that makes it strip by strip. p : patch size. rows_per_strip : patch rows per strip
        (None: :func:`strip_rows`). progress : called with the fraction of the strips read.

    Attributes
    ----------
    strips : [(a, b)] the patch rows of each strip, in order.
    basis : (k, p/2, p/2) int8 quarters and parities : (k,) of the stored basis vectors.
    norms : (k,) norms of the full (mirrored) integer vectors.
    solve : (p², k) float: ``r @ solve`` are the least-squares coefficients of patch residuals
        ``r`` on the quantized basis, ``r v^T (v v^T)^-1`` with v the unit basis rows.
    """

    def __init__(self, plane: np.ndarray | transform.PlaneSource, p: int, bit_depth: int,
                 rows_per_strip: int | None = None, progress: Report | None = None) -> None:
        self.source = plane if isinstance(plane, transform.PlaneSource) else \
            transform.ArraySource(plane)
        self.p = p
        self.bit_depth = bit_depth
        self.rows, self.cols = self.source.rows, self.source.cols
        self.gh, self.gw = patch.grid_shape(self.rows, self.cols, p)
        step = rows_per_strip or strip_rows(self.gw, p)
        self.strips = [(a, min(a + step, self.gh)) for a in range(0, self.gh, step)]
        self.starts = [a for a, _ in self.strips]
        self._cache: tuple[np.ndarray, np.ndarray] | None = None
        gram = np.zeros((p * p, p * p))
        for i in range(len(self.strips)):
            x, mean = self.patches(i)
            r = x - mean[:, None]
            gram = r.T @ r if i == 0 else gram + r.T @ r
            if len(self.strips) == 1:
                self._cache = x, mean  # a plane of one strip is read once
            if progress is not None:
                progress((i + 1) / len(self.strips))
        quarter, parities = symmetric_basis_of_gram(gram, p)
        self.basis, self.parities = independent_basis(quantize_basis(quarter, BASIS_BITS),
                                                      parities)
        full = patch.mirror(self.basis, self.parities).astype(np.float64)
        self.norms = np.linalg.norm(full, axis=1)
        v = full / self.norms[:, None]
        self.solve = np.linalg.solve(v @ v.T, v).T if len(v) else np.zeros((p * p, 0))

    @property
    def size(self) -> int:
        """Samples in the plane."""
        return self.rows * self.cols

    def samples(self, i: int) -> np.ndarray:
        """The plane's samples in strip ``i``, (rows, cols) float (rows <= its patch rows P)."""
        a, b = self.strips[i]
        return self.source.strip(a * self.p, min(b * self.p, self.rows))

    def patches(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Strip ``i``'s (n, P²) patch matrix (edge-padded) and its (n,) patch means."""
        if self._cache is not None:
            return self._cache
        x, _ = transform.to_patches(self.samples(i), self.p)
        return x, x.mean(axis=1)
