"""Encoder of the patch layout: a plane quantized at a step, rate-distortion optimised.

Nothing here is normative: any encoder whose output follows spec section 12 is conforming. The
choices were measured on Kodak (``tools/bench_rd.py``; the list of what helped and what did not
is in ``spec/svdi.md`` section 12.9):

- the basis is the right singular vectors of the patch matrix augmented with its mirror images
  (equivalently, eigenvectors of the flip-symmetrized covariance), so that every vector is even
  or odd in x and y and only its quarter is stored, quantized to 5 bits (:mod:`.basis`, learned
  by :class:`.analysis.PlaneAnalysis`);
- coefficient steps grow slowly with the component index, ``step_j = step (1 + j / 64)``;
- every coefficient is chosen among {0, floor - 1, floor, floor + 1} minimizing
  ``D + lambda R`` with ``lambda = 0.08 step_j²`` and R from the component's own histogram
  (:mod:`.rdo`) or from the arith payload's contexts (:mod:`.arith_rdo`);
- the deblocking strength is chosen by trying a few and keeping the smallest error
  (:mod:`.deblock_search`).

Large planes are encoded in strips of whole patch rows of about ``analysis.STRIP_SAMPLES``
samples (issue 13), so that the float copies and quantization temporaries exist one strip at a
time: the basis comes from the patch covariance summed over the strips, the rate tables from a
first pass over them, the deblocking error from each strip with a patch row of its neighbours;
the quantized coefficients are kept in the smallest integer type that holds them. Every
decision is the one the whole plane would get, so the bytes do not depend on the strip size
except where sums of floats are added in another order (the covariance, the deblocking errors:
a basis entry or a strength may then differ at a near tie). A plane of one strip (Kodak's) is
coded as before.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import reconstruct as patch
from .analysis import PlaneAnalysis, Report
from .arith_rdo import Above, ArithStatistics, arith_decide, dead_zone, last_row
from .deblock_search import choose_deblock
from .rdo import RDO_LAMBDA, RDO_PASSES, component_histograms, rdo_decide
from .symbols import PlaneCoefficients

# BD-PSNR against JPEG, every third Kodak image, relative to these values (tools/bench_rd.py):
STEP_GROWTH = 64.0  # g in step_j = step (1 + j / g); g = 16: -0.17 dB, 32: -0.05, inf: -0.03
ARITH_RDO_LAMBDA = 0.08  # rdo.RDO_LAMBDA with the arith payload's context rates (arith_rdo.py)
DC_STEP = 1.0  # DC step relative to the first AC step; 0.75: +0.00 dB, 1.3: -0.06
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


def choose_shift(ratios: list[float], p: int, bit_depth: int,
                 multiplier_bits: int | None = None) -> int:
    """The largest F with every round(ratio 2^F) below 2^32 (below 2^multiplier_bits if
    given) and the accumulators exact.

    |c_j| <= 2 |patch| <= P 2^bd (least squares on a basis with v v^T >= I / 4: see
    basis.MIN_EIGENVALUE) and |q_j| m_j max|b_j| is about |c_j| 2^F, summed over at most P²
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
    best, sse = choose_deblock(qp, step, deblock, tick)
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
    the whole plane's previous pass (:func:`.rdo.rdo_quantize`)."""
    an = strips.an
    k = len(an.basis)
    histograms = np.zeros((k, 256), dtype=np.int64)
    top = np.zeros(k)
    for i in range(len(an.strips)):
        _, c = strips.coefficients(i)
        histograms += component_histograms(dead_zone(c, steps))
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
                following += component_histograms(q)
            tick()
        histograms = following
    return np.concatenate(dcs), q_strips
