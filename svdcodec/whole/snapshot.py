"""Layout 5, ``snapshot`` (spec section 14.4): a stack's frames as the columns of one matrix.

The N frames of H x W x C samples are the columns of the tall-skinny matrix X (m x N,
m = H·W·C), row ``(c·H + y)·W + x`` holding sample (y, x, c) -- each column a frame laid out
channel after channel, as layout 3 stacks channels. Its truncated SVD gives the eigen-images
(columns of U) and their time courses (rows of Vᵀ); one FACT group stores it as section 5 does.
Frame k is U·diag(σ)·Vᵀ[:, k]: decoding one frame needs m·r multiply-adds and no other frame.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .. import format as fmt
from ..errors import LimitError
from ..limits import Limits
from .codec import decode_dtype, group_records
from .quantize import dequantize, magnitude_bound

# frames reconstructed at a time by a stack decode (section 14.5 counts this strip)
FRAME_STRIP = 16


def to_snapshot(frames: np.ndarray) -> np.ndarray:
    """The float64 snapshot matrix (H·W·C, N) of an (N, H, W, C) stack."""
    n = frames.shape[0]
    matrix: np.ndarray = frames.transpose(3, 1, 2, 0).reshape(-1, n).astype(np.float64)
    return matrix


def check_limits(container: fmt.Container, limits: Limits, rank: int | None,
                 frames: int) -> None:
    """Section 14.5: allocation and work of decoding ``frames`` frames (1 or N) of a snapshot
    file at ``rank``; LimitError before anything is decompressed."""
    h = container.header
    (g,) = container.groups
    m, n = g.rows, g.cols
    r = g.rank if rank is None else min(rank, g.rank)
    work = m * frames * r
    if work > limits.max_work:
        raise LimitError(f"reconstruction work {work} multiply-adds exceeds {limits.max_work}")
    total = (frames * m * (h.bit_depth // 8)
             + r * (fmt.record_size(m, n, h.factor_type) + 8 * (m + n))
             + 8 * m * min(frames, FRAME_STRIP))
    if total > limits.max_alloc_bytes:
        raise LimitError(f"decoding needs {total} bytes, limit {limits.max_alloc_bytes}")


def _factors(container: fmt.Container, rank: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(U·diag(σ) (m, r), Vᵀ (r, N)) of the one group, at the decoder's precision (section 7)."""
    h = container.header
    (g,) = container.groups
    factors = fmt.FACTOR_NAMES[h.factor_type]
    raw = group_records(g, h, rank)
    work = decode_dtype(h.bit_depth, magnitude_bound(raw, g.rows, g.cols, factors))
    u, s, vt = dequantize(raw, g.rows, g.cols, factors, work)
    return np.multiply(u, s, out=u), vt


def _frames(container: fmt.Container, rank: int | None, first: int, count: int
            ) -> Iterator[np.ndarray]:
    """Frames first .. first + count − 1, each (H, W, C), FRAME_STRIP columns at a time."""
    h = container.header
    dtype = np.uint8 if h.bit_depth == 8 else np.dtype("<u2")
    peak = 2**h.bit_depth - 1
    us, vt = _factors(container, rank)
    for k0 in range(first, first + count, FRAME_STRIP):
        block = us @ vt[:, k0:min(k0 + FRAME_STRIP, first + count)]
        np.clip(np.rint(block, out=block), 0, peak, out=block)  # section 7: half to even
        for j in range(block.shape[1]):
            column = block[:, j].astype(dtype)
            yield column.reshape(h.channels, h.height, h.width).transpose(1, 2, 0)


def decode_frame(container: fmt.Container, k: int, rank: int | None = None) -> np.ndarray:
    """Frame k (H, W, C) of a snapshot file whose limits were checked for one frame."""
    return next(_frames(container, rank, k, 1))


def decode_frames(container: fmt.Container, rank: int | None = None) -> np.ndarray:
    """Every frame, (N, H, W, C), of a snapshot file whose limits were checked for N."""
    h = container.header
    n = container.frame_count
    dtype = np.uint8 if h.bit_depth == 8 else np.dtype("<u2")
    out = np.empty((n, h.height, h.width, h.channels), dtype=dtype)
    for k, frame in enumerate(_frames(container, rank, 0, n)):
        out[k] = frame
    return out
