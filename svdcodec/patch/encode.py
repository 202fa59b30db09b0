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

Large planes are encoded in strips of whole patch rows of about ``STRIP_SAMPLES`` samples
(issue 13), so that the float copies and quantization temporaries exist one strip at a time:
the basis comes from the patch covariance summed over the strips, the rate tables from a first
pass over them, the deblocking error from each strip with a patch row of its neighbours; the
quantized coefficients are kept in the smallest integer type that holds them. Every decision is
the one the whole plane would get, so the bytes do not depend on the strip size except where
sums of floats are added in another order (the covariance, the deblocking errors: a basis
entry or a strength may then differ at a near tie). A plane of one strip (Kodak's) is coded
as before.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import reconstruct as patch
from . import transform
from .arith_rdo import Above, ArithStatistics, arith_decide, dead_zone, last_row
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
# Samples per strip: the quantization temporaries take about 100 bytes per sample of a strip
# (2^19 samples: about 50 MB; issue 13 asks 4x the input + 100 MB at most); a strip is at least
# one patch row. Kodak's planes (393,216 samples) are one strip.
STRIP_SAMPLES = 1 << 19

Report = Callable[[float], object]  # a strip's progress: the fraction of the plane's work


def strip_rows(gw: int, p: int) -> int:
    """Patch rows per strip for a plane gw patches wide."""
    return max(1, STRIP_SAMPLES // (gw * p * p))


@dataclass(frozen=True)
class EncodedPlane:
    """A quantized plane and the PTCH fields that go with it."""

    coefficients: PlaneCoefficients
    shift: int
    dc_multiplier: int
    deblock: tuple[int, int, int]  # alpha, beta, tc
    sse: float  # squared error of the decoded plane against the input plane


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


def _rates(histogram: np.ndarray) -> np.ndarray:
    counts = histogram.astype(np.float64) + 0.02
    return -np.log2(counts / counts.sum())


def _histograms(q: np.ndarray) -> np.ndarray:
    """(k, 256) counts of each component's symbol bytes (escapes lumped into 255)."""
    k = q.shape[1]
    u = np.minimum(zigzag(q), 255) + 256 * np.arange(k)[None, :]
    return np.bincount(u.ravel(), minlength=256 * k).reshape(k, 256)


def rdo_quantize(c: np.ndarray, steps: np.ndarray, lam: float) -> np.ndarray:
    """Quantize (N, k) coefficients with per-component steps, minimizing D + λ R per value.

    One component at a time (its rate table depends on it alone), so that the temporaries stay
    at a few N-vectors whatever k is. R comes from the component's histogram of the previous
    pass (the first: a dead-zone rounding); a component below half a step everywhere is zero.
    """
    skip = np.abs(c).max(axis=0, initial=0) / steps <= 0.5 if c.shape[1] else np.zeros(0, bool)
    q = dead_zone(c, steps)
    for _ in range(RDO_PASSES):
        q = rdo_decide(c, steps, lam, _histograms(q), skip)
    return q


def rdo_decide(c: np.ndarray, steps: np.ndarray, lam: float, histograms: np.ndarray,
               skip: np.ndarray) -> np.ndarray:
    """One pass of :func:`rdo_quantize` on a strip: rates from ``histograms`` (k, 256) of the
    previous pass over the whole plane; the components ``skip`` are zero."""
    q = np.zeros(c.shape, dtype=np.int64)
    for j in range(c.shape[1]):
        if skip[j]:
            continue  # rounds to zero everywhere
        a = np.abs(c[:, j]) / steps[j]
        sign = np.where(c[:, j] < 0, -1, 1)
        lo = np.floor(a)
        cands = np.stack([np.zeros_like(a), np.maximum(lo - 1, 0), lo, lo + 1])
        dist = (a - cands) ** 2 * steps[j] ** 2
        symbols = np.minimum(zigzag(sign * cands.astype(np.int64)), 255)
        cost = dist + lam * steps[j] ** 2 * _rates(histograms[j])[symbols]
        q[:, j] = sign * np.take_along_axis(cands, np.argmin(cost, axis=0)[None], axis=0)[0] \
            .astype(np.int64)
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
    """:func:`quantize_plane` with the plane's coefficients gathered (for small planes)."""
    qp = quantize_plane(an, step, dc_step=dc_step, deblock=deblock,
                        multiplier_bits=multiplier_bits, arith_rates=arith_rates)
    return EncodedPlane(qp.coefficients(), qp.shift, qp.dc_multiplier, qp.deblock, qp.sse)


@dataclass(frozen=True)
class QuantizedPlane:
    """A plane quantized in strips: the PTCH fields and the coefficients strip by strip.

    ``q_strips[i]`` holds strip i's (n_i, k_i) coefficients over all the analysis' components
    (those from k_i on are zero) in the smallest integer type; ``used`` are the components
    that are non-zero somewhere, the ones stored.
    """

    analysis: PlaneAnalysis
    multipliers: np.ndarray  # (k,) of every analysis component
    used: np.ndarray
    shift: int
    dc_multiplier: int
    dc: np.ndarray  # (gh, gw) int64
    q_strips: list[np.ndarray]
    deblock: tuple[int, int, int]  # alpha, beta, tc
    sse: float  # squared error of the decoded plane against the input plane

    @property
    def components(self) -> int:
        return len(self.used)

    def header(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The multipliers, parities and basis quarters of the stored components."""
        an = self.analysis
        return self.multipliers[self.used], an.parities[self.used], an.basis[self.used]

    def q_rows(self, a: int, b: int) -> np.ndarray:
        """Dense int64 (n, components) coefficients of patch rows a..b, stored ones only."""
        gw, strips = self.analysis.gw, self.analysis.strips
        out = np.zeros(((b - a) * gw, len(self.used)), dtype=np.int64)
        first = bisect.bisect_right(self.analysis.starts, a) - 1
        for (s0, s1), q in zip(strips[first:], self.q_strips[first:], strict=True):
            lo, hi = max(a, s0), min(b, s1)
            if lo >= hi:
                break
            inside = self.used < q.shape[1]
            out[(lo - a) * gw:(hi - a) * gw, inside] = \
                q[(lo - s0) * gw:(hi - s0) * gw][:, self.used[inside]]
        return out

    def coefficients(self) -> PlaneCoefficients:
        """The whole plane's :class:`PlaneCoefficients`."""
        return PlaneCoefficients(*self.header(), self.dc, self.q_rows(0, self.analysis.gh))


def _compact(q: np.ndarray) -> np.ndarray:
    """q without its trailing all-zero components, in the smallest integer type."""
    nz = np.flatnonzero(np.any(q != 0, axis=0))
    q = q[:, :nz[-1] + 1] if len(nz) else q[:, :0]
    top = int(np.abs(q).max(initial=0))
    for dtype in (np.int8, np.int16, np.int32):
        if top <= np.iinfo(dtype).max:
            return q.astype(dtype)
    return q


class _Strips:
    """The coefficients of a plane's strips at given steps, computed when asked (kept for a
    plane of one strip, which every pass asks for)."""

    def __init__(self, an: PlaneAnalysis, m_dc: int, shift: int) -> None:
        self.an, self.m_dc, self.shift = an, m_dc, shift
        self._kept: tuple[np.ndarray, np.ndarray] | None = None

    def coefficients(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Strip i's DC terms (n,) and least-squares coefficients (n, k)."""
        if self._kept is None:
            result = self._coefficients(i)
            if len(self.an.strips) == 1:
                self._kept = result
            return result
        return self._kept

    def _coefficients(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        an, p, scale = self.an, self.an.p, 2.0**self.shift
        x, mean = an.patches(i)
        dc = np.rint(mean * p / (self.m_dc * p / scale)).astype(np.int64)
        # least squares on the quantized basis, one product over patches
        return dc, (x - (dc * self.m_dc / scale)[:, None]) @ an.solve


def quantize_plane(an: PlaneAnalysis, step: float, *, dc_step: float | None = None,
                   deblock: bool = True, multiplier_bits: int | None = None,
                   arith_rates: bool = False, progress: Report | None = None
                   ) -> QuantizedPlane:
    """Quantize one plane at ``step`` (coefficient units) and pick its deblocking strength.

    ``multiplier_bits``: keep every multiplier below 2^multiplier_bits (the arithmetic-coded
    payload stores them in about that many bits; zstd's stores 32 whatever their size).
    ``arith_rates``: price coefficients with the arith payload's contexts (arith_rdo.py)
    rather than per-component histograms. ``progress`` hears of each strip of each pass.
    """
    p = an.p
    steps = step * (1 + np.arange(len(an.basis)) / STEP_GROWTH)
    dc_step = step * DC_STEP if dc_step is None else dc_step
    shift = choose_shift([*(steps / an.norms).tolist(), dc_step / p], p, an.bit_depth,
                         multiplier_bits)
    passes = 1 + (1 if arith_rates else RDO_PASSES) + 1  # statistics, RDO, deblock
    done = [0]

    def tick() -> None:
        done[0] += 1
        if progress is not None:
            progress(min(done[0] / (passes * len(an.strips)), 1.0))

    while True:
        mult = np.maximum(np.rint(steps / an.norms * 2.0**shift), 1).astype(np.int64)
        m_dc = max(round(dc_step / p * 2.0**shift), 1)
        eff_steps = mult * an.norms / 2.0**shift  # the steps the decoder will apply
        strips = _Strips(an, m_dc, shift)
        dc, q_strips = (_quantize_arith if arith_rates else _quantize_histogram)(
            strips, eff_steps, tick)
        qmax = np.zeros(len(an.basis), dtype=np.int64)
        for q in q_strips:
            np.maximum(qmax[:q.shape[1]], np.abs(q).max(axis=0, initial=0), out=qmax[:q.shape[1]])
        used = np.flatnonzero(qmax != 0)
        bound = patch.exactness_bound(dc, qmax[None, used], mult[used], an.basis[used], m_dc,
                                      shift, an.bit_depth)
        if bound < patch.EXACT_LIMIT:
            break
        # choose_shift's bound holds for coefficients up to twice a patch's norm; should a
        # plane ever exceed it, a smaller F (coarser multipliers) makes it exact.
        if shift == 1:
            raise RuntimeError(f"accumulator bound {bound} >= 2^53 at shift 1")
        shift = max(1, shift - (bound.bit_length() - 52))
        done[0] = 0
    qp = QuantizedPlane(an, mult, used, shift, m_dc, dc.reshape(an.gh, an.gw), q_strips,
                        (0, 0, 0), 0.0)
    best, sse = _choose_deblock(qp, step, deblock, tick)
    return QuantizedPlane(an, mult, used, shift, m_dc, qp.dc, q_strips, best, sse)


def _quantize_arith(strips: _Strips, steps: np.ndarray, tick: Callable[[], None]
                    ) -> tuple[np.ndarray, list[np.ndarray]]:
    """DC terms (N,) and compact coefficient strips, priced with the arith contexts of the
    whole plane's starting point (:mod:`.arith_rdo`)."""
    an = strips.an
    stats = ArithStatistics(len(an.basis))
    above: Above | None = None
    for i in range(len(an.strips)):
        _, c = strips.coefficients(i)
        q0 = dead_zone(c, steps)
        stats.add(q0, an.gw, above)
        above = last_row(q0, an.gw)
        tick()
    rates = stats.rates()
    dcs, q_strips = [], []
    above = None
    for i in range(len(an.strips)):
        dc, c = strips.coefficients(i)
        q0 = dead_zone(c, steps)
        q_strips.append(_compact(arith_decide(c, steps, ARITH_RDO_LAMBDA, q0, an.gw, above,
                                              rates)))
        above = last_row(q0, an.gw)
        dcs.append(dc)
        tick()
    return np.concatenate(dcs), q_strips


def _quantize_histogram(strips: _Strips, steps: np.ndarray, tick: Callable[[], None]
                        ) -> tuple[np.ndarray, list[np.ndarray]]:
    """DC terms (N,) and compact coefficient strips, priced with per-component histograms of
    the whole plane's previous pass (:func:`rdo_quantize`)."""
    an = strips.an
    k = len(an.basis)
    histograms = np.zeros((k, 256), dtype=np.int64)
    top = np.zeros(k)
    for i in range(len(an.strips)):
        _, c = strips.coefficients(i)
        histograms += _histograms(dead_zone(c, steps))
        np.maximum(top, np.abs(c).max(axis=0, initial=0), out=top)
        tick()
    skip = top / steps <= 0.5
    dcs: list[np.ndarray] = []
    q_strips: list[np.ndarray] = []
    for rdo_pass in range(RDO_PASSES):
        last = rdo_pass == RDO_PASSES - 1
        following = np.zeros((k, 256), dtype=np.int64)
        for i in range(len(an.strips)):
            dc, c = strips.coefficients(i)
            q = rdo_decide(c, steps, RDO_LAMBDA, histograms, skip)
            if last:
                q_strips.append(_compact(q))
                dcs.append(dc)
            else:
                following += _histograms(q)
            tick()
        histograms = following
    return np.concatenate(dcs), q_strips


def _choose_deblock(qp: QuantizedPlane, step: float, deblock: bool, tick: Callable[[], None]
                    ) -> tuple[tuple[int, int, int], float]:
    """The deblocking strength of least squared error, and that error, strip by strip: each
    strip is reconstructed with a patch row of each neighbour, which the filter reads."""
    an, p = qp.analysis, qp.analysis.p
    strengths = [(0, 0, 0)]
    for s in DEBLOCK_STRENGTHS[1:] if deblock else ():
        params = (round(s * step), round(s * step / 2), round(s * step / 2))
        if min(params) >= 1 and max(params) <= 0xFFFF:
            strengths.append(params)
    sse = np.zeros(len(strengths))
    mult, parities, basis = qp.header()
    full = patch.mirror(basis, parities)
    half = 2.0 ** (an.bit_depth - 1)
    for i, (a, b) in enumerate(an.strips):
        a0, b0 = max(a - 1, 0), min(b + 1, an.gh)
        rec = patch.reconstruct(qp.dc[a0:b0], qp.q_rows(a0, b0), mult, full, qp.dc_multiplier,
                                qp.shift, p, an.bit_depth)
        target = an.samples(i) + half  # decoded planes are not centred
        rows = slice((a - a0) * p, (a - a0) * p + target.shape[0])
        sse[0] += _sse(rec[rows, :an.cols], target)
        trial = np.empty_like(rec)
        for n, params in enumerate(strengths[1:], 1):
            np.copyto(trial, rec)
            _deblock(trial, p, *params, an.bit_depth)
            sse[n] += _sse(trial[rows, :an.cols], target)
        tick()
    best = 0
    for n in range(1, len(strengths)):
        if sse[n] < sse[best]:
            best = n
    return strengths[best], float(sse[best])


def _sse(decoded: np.ndarray, target: np.ndarray) -> float:
    d = np.subtract(decoded, target).ravel()
    return float(d @ d)  # a dot product: no squared temporary
