"""Encoder of the patch layout: the learned basis, rate-distortion-optimised quantization.

Nothing here is normative: any encoder whose output follows spec section 12 is conforming. The
choices were measured on Kodak (``tools/bench_rd.py``; the list of what helped and what did not
is in ``spec/svdi.md`` section 12.9):

- the basis is the right singular vectors of the patch matrix augmented with its mirror images
  (equivalently, eigenvectors of the flip-symmetrized covariance), so that every vector is even
  or odd in x and y and only its quarter is stored, quantized to 5 bits;
- coefficient steps grow slowly with the component index, ``step_j = step (1 + j / 64)``;
- every coefficient is chosen among {0, floor - 1, floor, floor + 1} minimizing
  ``D + lambda R`` with ``lambda = 0.08 step_j²`` and R from the component's own histogram;
- the deblocking strength is chosen by trying a few and keeping the smallest error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import patch
from .arith_rdo import rdo_quantize_arith
from .entropy import PlaneCoefficients, zigzag

try:  # the C decoder's deblocking, bit-exact with patch.deblock, for the strength search
    from ._patchc import deblock as _deblock  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - built by setup.py wherever a C compiler is present
    _deblock = patch.deblock

# BD-PSNR against JPEG, every third Kodak image, relative to these values (tools/bench_rd.py):
STEP_GROWTH = 64.0  # g in step_j = step (1 + j / g); g = 16: -0.17 dB, 32: -0.05, inf: -0.03
RDO_LAMBDA = 0.08  # lambda_j = RDO_LAMBDA step_j²; 0.05: -0.01 dB, 0.12: -0.06
BASIS_BITS = 5  # quarter entries in -15..15; 4 bits: -0.01 dB, 6 bits: -0.03
RDO_PASSES = 2  # 3: +0.00
ARITH_RDO_LAMBDA = 0.08  # the same with the arith payload's context rates (arith_rdo.py)
DC_STEP = 1.0  # DC step relative to the first AC step; 0.75: +0.00 dB, 1.3: -0.06
# alpha = s step, beta = tc = s step / 2; the best of these per plane (none at all: -0.16 dB)
DEBLOCK_STRENGTHS = (0.0, 0.35, 0.5, 0.7, 1.0)
MAX_SHIFT = 30
# arith payloads (spec section 13): multipliers below 2^12 cost 20 % fewer header bytes than
# below 2^30 and lose nothing measurable (steps are then exact to 2^-9 or better)
ARITH_MULTIPLIER_BITS = 12
U32_MAX = 2**32 - 1


@dataclass(frozen=True)
class EncodedPlane:
    """A quantized plane and the PTCH fields that go with it."""

    coefficients: PlaneCoefficients
    shift: int
    dc_multiplier: int
    deblock: tuple[int, int, int]  # alpha, beta, tc
    sse: float  # squared error of the decoded plane against the input plane


class PlaneAnalysis:
    """What does not depend on the step: patches, their means and the symmetric basis.

    Parameters
    ----------
    plane : (rows, cols) float array of centred samples. p : patch size.
    """

    def __init__(self, plane: np.ndarray, p: int, bit_depth: int) -> None:
        self.plane = plane
        self.p = p
        self.bit_depth = bit_depth
        self.x, (self.gh, self.gw) = patch.to_patches(plane, p)
        self.mean = self.x.mean(axis=1)
        residual = self.x - self.mean[:, None]
        self.quarter, self.parities = symmetric_basis(residual, p)


def symmetric_basis(r: np.ndarray, p: int) -> tuple[np.ndarray, np.ndarray]:
    """The right singular vectors of r augmented with its mirrored patches, by decreasing σ.

    Returns the (k, P/2, P/2) top-left quarters (unit-norm vectors) and their (k,) parities;
    vectors of (numerically) zero singular value are left out.
    """
    idx = np.arange(p * p).reshape(p, p)
    flips = [idx, idx[:, ::-1], idx[::-1, :], idx[::-1, ::-1]]
    gram = r.T @ r
    # The Gram matrix of [r; r flipped in x; in y; in both]: it commutes with both mirrors.
    sym = sum(gram[np.ix_(f.ravel(), f.ravel())] for f in flips) / 4
    w, v = np.linalg.eigh(sym)
    order = np.argsort(w)[::-1]
    w, v = w[order], v[:, order]
    keep = w > 1e-9 * max(float(w[0]), 1e-300) if w.size else w > 0
    h = p // 2
    quarters, parities = [], []
    for vec in v[:, keep].T:
        x = vec.reshape(p, p)
        best = None
        for parity in range(4):  # project onto each mirror class; eigenvectors lie in one
            sx, sy = (-1 if parity & 1 else 1), (-1 if parity & 2 else 1)
            y = (x + sx * x[:, ::-1] + sy * x[::-1, :] + sx * sy * x[::-1, ::-1]) / 4
            norm = float(np.linalg.norm(y))
            if best is None or norm > best[0]:
                best = (norm, y, parity)
        norm, y, parity = best
        if norm > 1e-6:
            quarters.append(y[:h, :h] / norm)
            parities.append(parity)
    return (np.array(quarters).reshape(-1, h, h), np.array(parities, dtype=np.int64))


def quantize_basis(quarter: np.ndarray, bits: int) -> np.ndarray:
    """Scale each quarter so its largest entry is 2^(bits-1) - 1 and round to int8."""
    if len(quarter) == 0:
        return np.zeros(quarter.shape, dtype=np.int8)
    peak = np.abs(quarter).reshape(len(quarter), -1).max(axis=1)
    top = (1 << (bits - 1)) - 1
    return np.rint(quarter * (top / peak)[:, None, None]).astype(np.int8)


def _rate_table(u: np.ndarray) -> np.ndarray:
    """Bits per symbol byte estimated from a histogram (escapes lumped into 255)."""
    counts = np.bincount(np.minimum(u, 255), minlength=256).astype(np.float64) + 0.02
    return -np.log2(counts / counts.sum())


def rdo_quantize(c: np.ndarray, steps: np.ndarray, lam: float) -> np.ndarray:
    """Quantize (N, k) coefficients with per-component steps, minimizing D + λ R per value.

    One component at a time (its rate table depends on it alone), so that the temporaries stay
    at a few N-vectors whatever k is.
    """
    q = np.zeros(c.shape, dtype=np.int64)
    for j in range(c.shape[1]):
        a = np.abs(c[:, j]) / steps[j]
        if a.max(initial=0) <= 0.5:
            continue  # rounds to zero everywhere
        sign = np.where(c[:, j] < 0, -1, 1)
        lo = np.floor(a)
        cands = np.stack([np.zeros_like(a), np.maximum(lo - 1, 0), lo, lo + 1])
        dist = (a - cands) ** 2 * steps[j] ** 2
        symbols = np.minimum(zigzag(sign * cands.astype(np.int64)), 255)
        qj = sign * np.floor(a + 0.35).astype(np.int64)  # a dead-zone start for the histogram
        for _ in range(RDO_PASSES):
            cost = dist + lam * steps[j] ** 2 * _rate_table(zigzag(qj))[symbols]
            qj = sign * np.take_along_axis(cands, np.argmin(cost, axis=0)[None], axis=0)[0] \
                .astype(np.int64)
        q[:, j] = qj
    return q


def choose_shift(ratios: list[float], p: int, bit_depth: int,
                 multiplier_bits: int | None = None) -> int:
    """The largest F with every round(ratio 2^F) below 2^32 (below 2^multiplier_bits if
    given) and the accumulators exact.

    |c_j| <= |patch| <= P 2^(bd-1) and |q_j| m_j max|b_j| <= |c_j| 2^F, summed over at most P²
    components: 2^F P³ 2^(bd-1) must stay below 2^52.
    """
    top = max(ratios)
    limit = U32_MAX if multiplier_bits is None else 2.0**multiplier_bits
    shift = min(MAX_SHIFT, 52 - 3 * (p.bit_length() - 1) - bit_depth)
    while shift > 1 and top * 2.0**shift >= limit:
        shift -= 1
    return shift


def encode_plane(an: PlaneAnalysis, step: float, *, dc_step: float | None = None,
                 deblock: bool = True, multiplier_bits: int | None = None,
                 arith_rates: bool = False) -> EncodedPlane:
    """Quantize one plane at ``step`` (coefficient units) and pick its deblocking strength.

    ``multiplier_bits``: keep every multiplier below 2^multiplier_bits (the arithmetic-coded
    payload stores them in about that many bits; zstd's stores 32 whatever their size).
    ``arith_rates``: price coefficients with the arith payload's contexts (arith_rdo.py)
    rather than per-component histograms.
    """
    p = an.p
    basis = quantize_basis(an.quarter, BASIS_BITS)
    full = patch.mirror(basis, an.parities).astype(np.float64)
    norms = np.linalg.norm(full, axis=1)
    steps = step * (1 + np.arange(len(basis)) / STEP_GROWTH)
    dc_step = step * DC_STEP if dc_step is None else dc_step
    shift = choose_shift([*(steps / norms).tolist(), dc_step / p], p, an.bit_depth,
                         multiplier_bits)
    mult = np.maximum(np.rint(steps / norms * 2.0**shift), 1).astype(np.int64)
    m_dc = max(round(dc_step / p * 2.0**shift), 1)
    eff_steps = mult * norms / 2.0**shift  # the steps the decoder will apply
    dc = np.rint(an.mean * p / (m_dc * p / 2.0**shift)).astype(np.int64)
    residual = an.x - (dc * m_dc / 2.0**shift)[:, None]
    if len(basis):
        v = full / norms[:, None]
        # least squares on the quantized basis: c = r v^T (v v^T)^-1, one product over patches
        c = residual @ np.linalg.solve(v @ v.T, v).T
        q = rdo_quantize_arith(c, eff_steps, ARITH_RDO_LAMBDA, an.gh, an.gw) if arith_rates \
            else rdo_quantize(c, eff_steps, RDO_LAMBDA)
    else:
        q = np.zeros((len(an.x), 0), dtype=np.int64)
    used = np.flatnonzero(np.any(q != 0, axis=0))
    pc = PlaneCoefficients(mult[used], an.parities[used], basis[used],
                           dc.reshape(an.gh, an.gw), q[:, used])
    bound = patch.exactness_bound(pc.dc, pc.q, pc.multipliers, pc.basis, m_dc, shift,
                                  an.bit_depth)
    if bound >= patch.EXACT_LIMIT:  # cannot happen for samples in range (see choose_shift)
        raise RuntimeError(f"accumulator bound {bound} >= 2^53")
    rec = patch.reconstruct(pc.dc, pc.q, pc.multipliers, patch.mirror(pc.basis, pc.parities),
                            m_dc, shift, p, an.bit_depth)
    best = (0, 0, 0)
    rows, cols = an.plane.shape
    target = an.plane + 2.0 ** (an.bit_depth - 1)  # decoded planes are not centred
    best_sse = _sse(rec[:rows, :cols], target)
    if deblock:
        trial = np.empty_like(rec)
        for s in DEBLOCK_STRENGTHS[1:]:
            params = (round(s * step), round(s * step / 2), round(s * step / 2))
            if min(params) < 1 or max(params) > 0xFFFF:
                continue
            np.copyto(trial, rec)
            _deblock(trial, p, *params, an.bit_depth)
            sse = _sse(trial[:rows, :cols], target)
            if sse < best_sse:
                best, best_sse = params, sse
    return EncodedPlane(pc, shift, m_dc, best, best_sse)


def _sse(decoded: np.ndarray, target: np.ndarray) -> float:
    d = np.subtract(decoded, target).ravel()
    return float(d @ d)  # a dot product: no squared temporary
