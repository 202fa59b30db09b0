"""Encoder of the whole-image layouts (spec sections 5–7): image -> FACT groups.

:mod:`.layout` turns the image into matrices, :mod:`.rank` and :mod:`.linalg` (a large image's:
:mod:`.stripsvd`) factorize them at the rank a criterion asks (or, for a target size, the
components of largest σ² over all matrices), :mod:`.quantize` packs the factors and
:mod:`._zstd` compresses the records.
:mod:`.codec` decodes what this builds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _zstd
from .. import format as fmt
from ..progress import Progress
from .layout import matrix_views, to_matrices
from .linalg import truncated_svd
from .quantize import quantize
from .rank import STRIPS_ADVICE, select_rank, select_rank_strips
from .stripsvd import StripMatrix, truncated_svd_strips

__all__ = ["MAX_PIXELS", "STRIP_SAMPLES", "encode_groups", "encode_to_size"]

# Images of more samples than this (H W C) are factorized by strips (issue 13): the matrices
# stay integer views of the image and the randomized SVD's products widen a strip at a time;
# below it, float64 matrices and LAPACK as before (the same bytes as before for these).
STRIP_SAMPLES = 2**25
# The whole-image layouts refuse images of more pixels than this: beyond it a factorization
# takes minutes, and the patch layout, which encodes in strips, is the one to use.
MAX_PIXELS = 2**28  # 268 Mpixels
Matrix = np.ndarray | StripMatrix


def _matrices(image: np.ndarray, layout: fmt.Layout) -> list[Matrix]:
    """The matrices to factorize: float64 arrays, or StripMatrix views of a large image."""
    h, w = image.shape[:2]
    if h * w > MAX_PIXELS:
        raise ValueError(f"the whole-image layouts encode at most {MAX_PIXELS:,} pixels, got "
                         f"{w}x{h}: use layout='patch' (the default), which encodes any size "
                         f"in strips")
    if image.size > STRIP_SAMPLES:
        return [StripMatrix(x) for x in matrix_views(image, layout)]
    return list(to_matrices(image, layout))

# encode_to_size's first factorization rank, doubled until the file outgrows the target
SIZE_FIRST_RANK = 16
# encode_to_size keeps no component with sigma below this fraction of the largest
ZERO_SIGMA = 1e-9


def encode_groups(image: np.ndarray, header: fmt.Header, criteria: dict[str, Any], level: int,
                  svd: str, progressive: bool = False, progress: Progress | None = None,
                  bits: int | None = None, *,
                  matrices: Sequence[Matrix] | None = None) -> list[fmt.Group]:
    """The FACT groups of an (H, W, C) image; ``criteria``: rank, energy or psnr (one each;
    psnr's peak is 2^bits - 1, ``bits`` None: the mode's bit depth).
    ``progressive``: one zstd block per record (see :func:`svdcodec.encode`); ``progress``
    hears of each matrix done. ``matrices``: those of ``image`` when the layout is not one of
    section 6 (a stack's snapshot matrix, section 14.4; ``image`` then gives only the number
    of samples that a target PSNR counts)."""
    progress = progress or Progress()
    factors = fmt.FACTOR_NAMES[header.factor_type]
    matrices = _matrices(image, header.layout) if matrices is None else list(matrices)
    if "psnr" in criteria:
        peak = 2.0 ** (header.bit_depth if bits is None else bits) - 1
        budget = image.size * peak**2 / 10 ** (criteria["psnr"] / 10)
        criteria = {"max_sse": budget / len(matrices)}  # an equal share per matrix
    groups = []
    for index, x in enumerate(matrices):
        u, s, vt = select_rank_strips(x, method=svd, **criteria) \
            if isinstance(x, StripMatrix) else select_rank(x, method=svd, **criteria)
        raw = quantize(u, s, vt, factors)
        rows, cols = x.shape
        block = fmt.record_size(rows, cols, header.factor_type) if progressive else None
        groups.append(fmt.Group(index, x.shape[0], x.shape[1], s.shape[0], len(raw),
                                _zstd.compress(raw, level, block=block)))
        progress((index + 1) / len(matrices))
    return groups


def _factorize(x: Matrix, k: int, svd: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """truncated_svd at rank k; by strips (randomized, k up to a fifth of the short side) for
    a StripMatrix."""
    if not isinstance(x, StripMatrix):
        return truncated_svd(x, k, method=svd)
    m, n = x.shape
    if svd not in ("auto", "randomized"):
        raise ValueError(f"svd={svd!r} needs the whole {m}x{n} matrix in memory: a matrix this "
                         f"large is factorized with svd='auto' (randomized, by strips), "
                         f"{STRIPS_ADVICE}")
    if k > max(0.2 * min(m, n), SIZE_FIRST_RANK):
        raise ValueError(f"target_size needs more than {k // 2} components of the {m}x{n} "
                         f"matrix: give a rank or a smaller target_size, {STRIPS_ADVICE}")
    return truncated_svd_strips(x, k)


def encode_to_size(image: np.ndarray, header: fmt.Header, meta: dict[str, bytes],
                   target_size: int, level: int, svd: str, progressive: bool = False,
                   progress: Progress | None = None, *,
                   matrices: Sequence[Matrix] | None = None,
                   stack: fmt.Stack | None = None) -> bytes:
    """The file of at most ``target_size`` bytes that keeps the most energy (ValueError if even
    rank 1 everywhere is larger).

    Every record costs the same before zstd, so for a number t of components the error is
    smallest when they are the t largest σ² over all matrices (Eckart–Young per matrix): ranks
    grow in that merged order, and a bisection over t finds the largest file that fits. Records
    are quantized one component at a time (spec section 5), so a file of lower rank holds a
    prefix of the records: one factorization at a rank k (doubled from SIZE_FIRST_RANK until
    no matrix needs all k) and zstd runs, cached per matrix and rank. ``matrices`` and
    ``stack``: a stack's snapshot matrix and its FRMS (section 14.4).
    """
    factors = fmt.FACTOR_NAMES[header.factor_type]
    matrices = _matrices(image, header.layout) if matrices is None else list(matrices)
    rows, cols = matrices[0].shape
    size = fmt.record_size(rows, cols, header.factor_type)
    full = min(rows, cols)
    k = min(full, SIZE_FIRST_RANK)
    progress = progress or Progress()
    rounds = 0  # factorizations so far: each takes half of what is left (their count varies)
    while True:
        round_progress = progress.part(1 - 0.5**rounds, 1 - 0.5**(rounds + 1))
        rounds += 1
        factored = []
        for x in matrices:
            factored.append(_factorize(x, k, svd))
            round_progress(len(factored) / len(matrices))
        records = [quantize(u, s, vt, factors) for u, s, vt in factored]
        frames: dict[tuple[int, int], bytes] = {}

        def pack(ranks: list[int], records: list[bytes] = records,
                 frames: dict[tuple[int, int], bytes] = frames) -> bytes:
            groups = []
            for i, r in enumerate(ranks):
                if (i, r) not in frames:
                    frames[i, r] = _zstd.compress(records[i][:r * size], level,
                                                  block=size if progressive else None)
                groups.append(fmt.Group(i, rows, cols, r, r * size, frames[i, r]))
            return fmt.pack(header, groups, meta, stack=stack)

        # the merged order: after rank 1 everywhere, the next component of largest sigma²;
        # components of (numerically) zero sigma add bytes and nothing else, and are left out
        sigmas = np.concatenate([s[1:] for _, s, _ in factored])
        owner = np.concatenate([np.full(len(s) - 1, i) for i, (_, s, _) in enumerate(factored)])
        top = max(float(s[0]) for _, s, _ in factored)
        useful = sigmas > ZERO_SIGMA * top
        order = owner[useful][np.argsort(-sigmas[useful], kind="stable")]

        def ranks_at(t: int, order: np.ndarray = order) -> list[int]:
            return [1 + int(np.count_nonzero(order[:t] == i)) for i in range(len(matrices))]

        lo, hi, best = -1, len(order), b""  # t = lo fits (-1: not even rank 1); hi + 1 not
        while lo < hi:
            mid = (lo + hi + 1) // 2
            data = pack(ranks_at(max(mid, 0)))
            if len(data) <= target_size:
                lo, best = mid, data
            else:
                hi = mid - 1
        if lo < 0:
            raise ValueError(f"target_size {target_size} is below the smallest file of this "
                             f"layout ({len(pack(ranks_at(0)))} bytes at rank 1)")
        if k == full or max(ranks_at(lo)) < k or not useful.all():
            return best  # no matrix wants more than the k components it was given
        k = min(full, 2 * k)
