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

from . import reconstruct as patch
from . import transform
from .arith_rdo import rdo_quantize_arith
from .symbols import PlaneCoefficients, zigzag

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
# The quantized unit basis vectors keep (v v^T) >= MIN_EIGENVALUE I, so least squares at most
# doubles a residual's norm (1 / sqrt(0.25)) and the accumulators stay bounded (choose_shift).
MIN_EIGENVALUE = 0.25
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
    """What does not depend on the step: patches, their means and the quantized basis.

    Parameters
    ----------
    plane : (rows, cols) float array of centred samples. p : patch size.

    Attributes
    ----------
    basis : (k, p/2, p/2) int8 quarters and parities : (k,) of the stored basis vectors.
    norms : (k,) norms of the full (mirrored) integer vectors.
    solve : (p², k) float: ``r @ solve`` are the least-squares coefficients of patch residuals
        ``r`` on the quantized basis, ``r v^T (v v^T)^-1`` with v the unit basis rows.
    """

    def __init__(self, plane: np.ndarray, p: int, bit_depth: int) -> None:
        self.plane = plane
        self.p = p
        self.bit_depth = bit_depth
        self.x, (self.gh, self.gw) = transform.to_patches(plane, p)
        self.mean = self.x.mean(axis=1)
        quarter, parities = symmetric_basis(self.x - self.mean[:, None], p)
        self.basis, self.parities = independent_basis(quantize_basis(quarter, BASIS_BITS),
                                                      parities)
        full = patch.mirror(self.basis, self.parities).astype(np.float64)
        self.norms = np.linalg.norm(full, axis=1)
        v = full / self.norms[:, None]
        self.solve = np.linalg.solve(v @ v.T, v).T if len(v) else np.zeros((p * p, 0))


def symmetric_basis(r: np.ndarray, p: int) -> tuple[np.ndarray, np.ndarray]:
    """The right singular vectors of r augmented with its mirrored patches, by decreasing σ.

    Returns the (k, P/2, P/2) top-left quarters (unit-norm vectors) and their (k,) parities,
    k <= P² - 1; vectors of (numerically) zero singular value are left out.

    The Gram matrix of [r; r flipped in x; in y; in both] commutes with both mirrors, so it is
    block-diagonal over the four parity classes: each class is solved on its own, on the
    quarters. (One eigen-decomposition of the whole matrix returns, for a repeated eigenvalue,
    any basis of its eigenspace, mixing classes; projecting those vectors back onto one class
    gave duplicate vectors, a singular least-squares system on simple images, issue 11.)
    """
    h = p // 2
    gram = r.T @ r
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

    |c_j| <= 2 |patch| <= P 2^bd (least squares on a basis with v v^T >= I / 4, see
    MIN_EIGENVALUE) and |q_j| m_j max|b_j| is about |c_j| 2^F, summed over at most P²
    components: 2^F P³ 2^bd must stay below 2^52. :func:`encode_plane` checks the exact bound.
    """
    top = max(ratios)
    limit = U32_MAX if multiplier_bits is None else 2.0**multiplier_bits
    shift = min(MAX_SHIFT, 52 - 3 * (p.bit_length() - 1) - bit_depth - 1)
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
    steps = step * (1 + np.arange(len(an.basis)) / STEP_GROWTH)
    dc_step = step * DC_STEP if dc_step is None else dc_step
    shift = choose_shift([*(steps / an.norms).tolist(), dc_step / p], p, an.bit_depth,
                         multiplier_bits)
    while True:
        pc, m_dc = _quantize(an, steps, dc_step, shift, arith_rates)
        bound = patch.exactness_bound(pc.dc, pc.q, pc.multipliers, pc.basis, m_dc, shift,
                                      an.bit_depth)
        if bound < patch.EXACT_LIMIT:
            break
        # choose_shift's bound holds for coefficients up to twice a patch's norm; should a
        # plane ever exceed it, a smaller F (coarser multipliers) makes it exact.
        if shift == 1:
            raise RuntimeError(f"accumulator bound {bound} >= 2^53 at shift 1")
        shift = max(1, shift - (bound.bit_length() - 52))
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


def _quantize(an: PlaneAnalysis, steps: np.ndarray, dc_step: float, shift: int,
              arith_rates: bool = False) -> tuple[PlaneCoefficients, int]:
    """The plane's coefficients at steps ``steps`` and ``dc_step`` with shift F, and m_dc;
    ``arith_rates``: RDO with the arith payload's context rates (arith_rdo.py)."""
    p = an.p
    mult = np.maximum(np.rint(steps / an.norms * 2.0**shift), 1).astype(np.int64)
    m_dc = max(round(dc_step / p * 2.0**shift), 1)
    eff_steps = mult * an.norms / 2.0**shift  # the steps the decoder will apply
    dc = np.rint(an.mean * p / (m_dc * p / 2.0**shift)).astype(np.int64)
    if len(an.basis):
        # least squares on the quantized basis, one product over patches
        c = (an.x - (dc * m_dc / 2.0**shift)[:, None]) @ an.solve
        q = rdo_quantize_arith(c, eff_steps, ARITH_RDO_LAMBDA, an.gh, an.gw) if arith_rates \
            else rdo_quantize(c, eff_steps, RDO_LAMBDA)
    else:
        q = np.zeros((len(an.x), 0), dtype=np.int64)
    used = np.flatnonzero(np.any(q != 0, axis=0))
    return PlaneCoefficients(mult[used], an.parities[used], an.basis[used],
                             dc.reshape(an.gh, an.gw), q[:, used]), m_dc


def _sse(decoded: np.ndarray, target: np.ndarray) -> float:
    d = np.subtract(decoded, target).ravel()
    return float(d @ d)  # a dot product: no squared temporary
