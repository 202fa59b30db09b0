"""The snapshot SVD of a stack of images: the lectures' "columns of X are images" (the math behind
``svdcodec stack``; docs/stacks.md tells the story).

No I/O: arrays in, numbers out. Each of the N frames (H, W) or (H, W, C) becomes one column of
the tall-skinny *snapshot matrix* X of P = H·W·C rows and N columns, row ``(c·H + y)·W + x``
holding sample (y, x, c): channel after channel, exactly the X that the ``snapshot`` stack
coding factorizes (layout 5, spec section 14.4; :func:`svdcodec.whole.snapshot.to_snapshot`).
Its economy SVD ``X = U Σ Vᵀ`` has r = min(P, N) = N terms (P ≫ N):

- the columns of U (P × N) are the *eigen-images*, orthonormal spatial modes of frame shape;
- the rows of ΣVᵀ (N × N) are their *time courses*: frame j is
  ``Σ_i u_i · (σ_i v_i[j])``, a mix of the eigen-images with weights that change from frame
  to frame;
- σ_i² / ‖X‖²_F is the share of the stack's energy (squared samples) mode i carries.

Everything comes from the small N × N Gram matrix ``G = XᵀX = V Σ² Vᵀ`` (Sirovich's *method of
snapshots*): eigenvalues σ_i², eigenvectors V, then ``U = X V Σ⁻¹``. That costs one P × N × N
product and an N × N eigendecomposition instead of any P × P work
(:func:`svdcodec.whole.linalg.truncated_svd`, ``method="gram"``). Squaring the matrix squares
its condition number: singular values below about ``sqrt(N·eps)·σ₁`` (≈ 1e-7 σ₁ for N = 80)
are lost, and their eigen-images are replaced by orthonormal fill. Far below anything 8- or
16-bit samples can show.

``center=True`` subtracts the mean frame first (the eigenfaces of the lectures, PCA): the
modes then describe how frames differ from the average; the codec's truncated SVD does not
centre.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..whole.linalg import truncated_svd
from ..whole.snapshot import to_snapshot
from ..whole.spectrum import ImageSpectrum, peak, rank_for_psnr, truncation_psnr

__all__ = ["SnapshotSVD", "as_frames", "frame_ranks", "snapshot_svd"]


def as_frames(frames: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    """The stack as one (N, H, W) or (N, H, W, C) uint8/uint16 array.

    ``frames``: such an array, or a sequence of same-shape, same-dtype (H, W[, C]) arrays.
    ValueError for fewer than one frame, mixed shapes or a bad shape; TypeError for another
    dtype.
    """
    if isinstance(frames, np.ndarray):
        stack = frames
    else:
        arrays = [np.asarray(f) for f in frames]
        if not arrays:
            raise ValueError("expected at least one frame, got none")
        shapes = {(a.shape, a.dtype.str) for a in arrays}
        if len(shapes) > 1:
            raise ValueError(f"every frame must have the first frame's shape and dtype "
                             f"{arrays[0].shape} {arrays[0].dtype}, got "
                             f"{sorted(s for s, _ in shapes)}")
        stack = np.stack(arrays)
    if stack.ndim not in (3, 4) or (stack.ndim == 4 and stack.shape[3] not in (1, 2, 3, 4)):
        raise ValueError(f"expected frames of shape (N, H, W) or (N, H, W, C) with C in 1..4, "
                         f"got {stack.shape}")
    if min(stack.shape[:3]) < 1:
        raise ValueError(f"expected at least one frame of at least 1x1, got {stack.shape}")
    peak(stack)  # TypeError unless uint8 or uint16
    return stack


@dataclass(frozen=True)
class SnapshotSVD:
    """``X = U Σ Vᵀ`` of a stack's snapshot matrix, and what it implies."""

    frame_shape: tuple[int, ...]  # (H, W) or (H, W, C)
    peak: float  # L of the PSNR: 255 or 65535
    mean: np.ndarray | None  # the mean frame (frame_shape, float64) when centred, else None
    u: np.ndarray  # (P, r), r = min(P, N): the eigen-images, orthonormal columns
    s: np.ndarray  # (r,): σ_1 >= ... >= σ_r >= 0
    vt: np.ndarray  # (r, N): orthonormal rows, one per mode
    norm2: float  # ‖X‖²_F of the (centred) snapshot matrix, summed from its samples

    @property
    def pixels(self) -> int:
        """P: the rows of X, the samples of one frame."""
        return int(self.u.shape[0])

    @property
    def frames(self) -> int:
        """N: the columns of X."""
        return int(self.vt.shape[1])

    def eigen_images(self, k: int | None = None) -> np.ndarray:
        """The first ``k`` (default all) columns of U as (k, H, W[, C]) images."""
        k = len(self.s) if k is None else k
        return self._as_frames(self.u[:, :k].T)

    def _as_frames(self, rows: np.ndarray) -> np.ndarray:
        """(k, P) rows, each a column of X, as (k, H, W[, C]) images."""
        h, w = self.frame_shape[:2]
        c = self.frame_shape[2] if len(self.frame_shape) == 3 else 1
        images: np.ndarray = rows.reshape(len(rows), c, h, w).transpose(0, 2, 3, 1)
        return images.reshape((len(rows), *self.frame_shape))

    def time_courses(self, k: int | None = None) -> np.ndarray:
        """(k, N): row i is ``σ_i v_i``, mode i's weight in each frame."""
        k = len(self.s) if k is None else k
        courses: np.ndarray = self.s[:k, None] * self.vt[:k]
        return courses

    def tail(self) -> np.ndarray:
        """``tail[k]``: ‖X − X_k‖²_F of the rank-k truncation, k = 0 .. N (Eckart–Young:
        the energy of the modes left out)."""
        kept = np.concatenate(([0.0], np.cumsum(self.s * self.s)))
        return np.maximum(self.norm2 - kept, 0.0)

    def energy(self) -> np.ndarray:
        """``energy[k]``: the share Σ_{i<=k} σ_i² / ‖X‖²_F of the rank-k truncation, k = 0 .. N."""
        if self.norm2 == 0:
            return np.ones(len(self.s) + 1)
        return 1.0 - self.tail() / self.norm2

    def psnr(self) -> np.ndarray:
        """``psnr[k]``: the PSNR in dB of all frames at rank k, their squared errors pooled
        (truncation alone, before any quantization or rounding)."""
        return truncation_psnr(self.tail(), self.pixels * self.frames, self.peak)

    def rank_for(self, target_db: float) -> int:
        """The smallest rank whose truncation reaches ``target_db`` over the whole stack."""
        return rank_for_psnr(self.psnr(), target_db)

    def rank_for_energy(self, fraction: float) -> int:
        """The smallest rank capturing at least ``fraction`` of ‖X‖²_F."""
        hits = np.flatnonzero(self.energy() >= fraction - 1e-12)
        return int(hits[0]) if hits.size else len(self.s)

    def values_fraction(self, k: int) -> float:
        """``k (P + N + 1) / (P N)``: the share of X's numbers that rank k stores (k
        eigen-images, k singular values, k time courses; plus P for the mean if centred)."""
        mean = self.pixels if self.mean is not None else 0
        return (k * (self.pixels + self.frames + 1) + mean) / (self.pixels * self.frames)

    def reconstruct(self, k: int) -> np.ndarray:
        """The float64 frames (N, H, W[, C]) of the rank-k truncation (plus the mean)."""
        x = self.u[:, :k] @ self.time_courses(k)
        frames = self._as_frames(x.T)
        return frames if self.mean is None else frames + self.mean


def snapshot_svd(frames: np.ndarray | Sequence[np.ndarray], *, center: bool = False
                 ) -> SnapshotSVD:
    """The economy SVD of the snapshot matrix of ``frames`` through its N × N Gram matrix.

    Parameters
    ----------
    frames : (N, H, W) or (N, H, W, C) uint8/uint16 array, or a sequence of same-shape arrays.
    center : subtract the mean frame first (PCA, the eigenfaces of the lectures).

    Examples
    --------
    >>> a, b = np.zeros((2, 4, 4), np.uint8), np.zeros((2, 4, 4), np.uint8)
    >>> a[:, :2], b[:, 2:] = 10, 20
    >>> snap = snapshot_svd(np.stack([a[0], b[0], a[0] + b[0]]))
    >>> snap.u.shape, snap.rank_for_energy(1.0), bool(snap.energy()[2] > 0.999999)
    ((16, 3), 2, True)
    """
    stack = as_frames(frames)
    x = to_snapshot(stack if stack.ndim == 4 else stack[..., None])  # (P, N), float64
    mean = None
    if center:
        mean = stack.mean(axis=0, dtype=np.float64)
        x -= x.mean(axis=1, keepdims=True)
    norm2 = float(np.vdot(x, x))
    if norm2 == 0:  # every frame alike (centred) or black: no modes, only fill
        r = min(x.shape)
        u, s, vt = np.eye(x.shape[0], r), np.zeros(r), np.eye(r, x.shape[1])
    else:
        u, s, vt = truncated_svd(x, min(x.shape), method="gram")
    return SnapshotSVD(tuple(stack.shape[1:]), peak(stack), mean, u, s, vt, norm2)


def frame_ranks(frames: np.ndarray | Sequence[np.ndarray], target_db: float
                ) -> tuple[list[int], int]:
    """The other view: each frame alone as its matrices (one H × W matrix per channel, as the
    per-channel layout factorizes it). Returns the smallest rank per frame whose truncation
    reaches ``target_db`` for that frame, and the numbers all frames store at those ranks,
    Σ_frames C·k·(H + W + 1)."""
    stack = as_frames(frames)
    cube = stack if stack.ndim == 4 else stack[..., None]
    h, w, c = cube.shape[1:]
    ranks = []
    for frame in cube:
        s = tuple(np.linalg.svd(frame[:, :, i].astype(np.float64), compute_uv=False)
                  for i in range(c))
        ranks.append(ImageSpectrum("per-channel", s, (h, w), peak(stack)).rank_for(target_db))
    return ranks, sum(c * k * (h + w + 1) for k in ranks)
