"""Rate-distortion-optimized quantization against the arith payload's context model.

Encoder only, nothing normative. :func:`.rdo.rdo_quantize` prices a coefficient by
the order-0 histogram of its component, which suits zstd's byte symbols; the arith payload
(spec section 13) codes significance by component class, neighbours and the patch's previous
components, and magnitudes by the neighbours' magnitudes. Here each coefficient is priced with
those contexts: the probabilities are estimated from the previous pass's coefficients (what
the adaptive coder will have learnt), the neighbours' values also from the previous pass, the
patch's previous components from the current one. Zeros after a patch's last non-zero
coefficient cost nothing (they fall beyond its count), so isolated trailing coefficients pay
for the significance bins they add.

A plane too large to quantize at once (issue 13) is quantized in strips of patch rows with the
same decisions: :class:`ArithStatistics` sums the context counts of the starting point over the
strips, then :func:`arith_decide` quantizes each strip with the rates of the whole plane. A
strip's upper neighbours are the previous strip's last row (:class:`Above`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .arith import J_CLASSES, MAG_J, MAG_NEIGHBOURS, SIG_NEIGHBOURS, SIG_PREVIOUS, bucket

MAG_CAP = 24  # magnitude histograms up to this; larger ones cost the cap's rate + Exp-Golomb
PASSES = 1  # a second pass with the first one's statistics: +0.003 dB for 40 % of the encode
# (encode.quantize_plane, which works in strips, makes one pass: this is rdo_quantize_arith's)
SIGN_BITS = 1.0



def _counts(q: np.ndarray) -> np.ndarray:
    k = q.shape[1]
    if k == 0:
        return np.zeros(len(q), dtype=np.int64)
    nz = q[:, ::-1] != 0
    return np.where(nz.any(axis=1), k - np.argmax(nz, axis=1), 0)


@dataclass(frozen=True)
class Above:
    """The starting point's coefficients (gw, k) and counts (gw,) of the patch row above a
    strip: its upper neighbours."""

    q: np.ndarray
    counts: np.ndarray


def last_row(q0: np.ndarray, gw: int) -> Above:
    """The :class:`Above` of the strip after the one whose starting point is ``q0``."""
    row = q0[-gw:]
    return Above(row.copy(), _counts(row))


def _neighbours(v: np.ndarray, gw: int, above: np.ndarray | None
                ) -> tuple[np.ndarray, np.ndarray]:
    """Left and upper neighbours' values of an (N, ...) array in raster order (0 if none;
    ``above``: the values of the row above the first one)."""
    g = v.reshape(-1, gw, *v.shape[1:])
    left = np.zeros_like(g)
    up = np.zeros_like(g)
    left[:, 1:] = g[:, :-1]
    up[1:] = g[:-1]
    if above is not None:
        up[0] = above
    return left.reshape(v.shape), up.reshape(v.shape)


def _bits(hits: np.ndarray, total: np.ndarray) -> np.ndarray:
    """-log2 of Krichevsky-Trofimov estimates."""
    return -np.log2((hits + 0.5) / (total + 1.0))


def dead_zone(c: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """The starting point: |c| / step rounded with a dead zone, int64."""
    sign = np.where(c < 0, -1, 1)
    return sign * np.floor(np.abs(c) / steps + 0.35).astype(np.int64)


@dataclass(frozen=True)
class _Contexts:
    counts: np.ndarray  # (n,) of the starting point
    s_l: np.ndarray  # (n, k) the significance classes of the left and upper neighbours
    s_u: np.ndarray
    mag_ctx: np.ndarray  # (n, k)


def _contexts(q: np.ndarray, gw: int, above: Above | None) -> _Contexts:
    k = q.shape[1]
    counts = _counts(q)
    cl, cu = _neighbours(counts, gw, None if above is None else above.counts)
    ql, qu = _neighbours(q, gw, None if above is None else above.q)
    js = np.arange(k)[None, :]
    s_l = np.where(js >= cl[:, None], 0, np.where(ql != 0, 2, 1))
    s_u = np.where(js >= cu[:, None], 0, np.where(qu != 0, 2, 1))
    jb = _j_classes(k)
    mn = np.abs(ql) + np.abs(qu)
    mcls = np.where(mn < 3, mn, np.where(mn < 5, 3, 4))
    mag_ctx = np.minimum(jb, MAG_J - 1)[None, :] * MAG_NEIGHBOURS + mcls
    return _Contexts(counts, s_l, s_u, mag_ctx)


def _j_classes(k: int) -> np.ndarray:
    return np.minimum([bucket(j) for j in range(k)], J_CLASSES - 1).astype(np.int64)


class ArithStatistics:
    """Per context, how often the starting point codes a 0 or a 1 and each magnitude,
    summed over the strips of a plane (:meth:`add`); :meth:`rates` prices them."""

    def __init__(self, k: int) -> None:
        self.k = k
        n_sig = J_CLASSES * SIG_NEIGHBOURS * SIG_PREVIOUS
        self.total = np.zeros(n_sig)
        self.ones = np.zeros(n_sig)
        self.hist = np.zeros((MAG_J * MAG_NEIGHBOURS, MAG_CAP + 1))

    def add(self, q: np.ndarray, gw: int, above: Above | None) -> None:
        """Count the contexts of a strip's starting point ``q`` (patch rows of width gw)."""
        n, k = q.shape
        if k == 0 or n == 0:
            return
        ctx = _contexts(q, gw, above)
        js = np.arange(k)[None, :]
        nz = q != 0
        prev = np.zeros((n, k), dtype=np.int64)
        prev[:, 1:] += nz[:, :-1]
        prev[:, 2:] += nz[:, :-2]
        sig_ctx = (_j_classes(k)[None, :] * SIG_NEIGHBOURS + ctx.s_l + ctx.s_u) * SIG_PREVIOUS \
            + prev
        coded = js < ctx.counts[:, None] - 1
        self.total += np.bincount(sig_ctx[coded], minlength=len(self.total))
        self.ones += np.bincount(sig_ctx[coded & nz], minlength=len(self.ones))
        m = np.minimum(np.abs(q), MAG_CAP)
        self.hist += np.bincount(ctx.mag_ctx[nz] * (MAG_CAP + 1) + m[nz],
                                 minlength=self.hist.size).reshape(self.hist.shape)

    def rates(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Bits of a 0 and of a 1 per significance context, and per magnitude context and
        magnitude."""
        rate0, rate1 = _bits(self.total - self.ones, self.total), _bits(self.ones, self.total)
        mag_rate = _bits(self.hist, self.hist[:, 1:].sum(axis=1, keepdims=True)
                         + 0.5 * MAG_CAP - 1)
        return rate0, rate1, mag_rate


def arith_decide(c: np.ndarray, steps: np.ndarray, lam: float, q0: np.ndarray, gw: int,
                 above: Above | None, rates: tuple[np.ndarray, np.ndarray, np.ndarray]
                 ) -> np.ndarray:
    """Quantize a strip of (n, k) coefficients minimizing D + lam step_j² R, R priced with
    ``rates`` (:meth:`ArithStatistics.rates`) in the contexts of the starting point ``q0``."""
    n, k = c.shape
    q = np.zeros((n, k), dtype=np.int64)
    if k == 0 or n == 0:
        return q
    rate0, rate1, mag_rate = rates
    ctx = _contexts(q0, gw, above)
    jb = _j_classes(k)
    for j in range(k):
        # below half a step zero wins (less distortion, and a zero costs at most the
        # rate of the context's likelier outcome): price only the others
        a_j = np.abs(c[:, j]) / steps[j]
        idx = np.flatnonzero(a_j >= 0.5)
        if idx.size == 0:
            continue
        a = a_j[idx]
        lo = np.floor(a)
        cands = np.stack([np.zeros_like(a), np.maximum(lo - 1, 0), lo, lo + 1])
        dist = (a - cands) ** 2
        p = np.zeros(idx.size, dtype=np.int64)  # previous components, decided this pass
        if j >= 1:
            p += q[idx, j - 1] != 0
        if j >= 2:
            p += q[idx, j - 2] != 0
        sctx = (jb[j] * SIG_NEIGHBOURS + ctx.s_l[idx, j] + ctx.s_u[idx, j]) * SIG_PREVIOUS + p
        ci = np.minimum(cands, MAG_CAP).astype(np.int64)
        big = np.maximum(cands - MAG_CAP, 0)
        r_mag = mag_rate[ctx.mag_ctx[idx, j][None, :], ci] + 2 * np.log2(1 + big)
        cnt = ctx.counts[idx]
        inside = j < cnt - 1
        beyond = j >= cnt
        r_nonzero = r_mag + SIGN_BITS + np.where(inside | beyond, rate1[sctx], 0.0) + \
            np.where(beyond, (j - cnt) * rate0[sctx], 0.0)
        r_zero = np.where(inside, rate0[sctx], 0.0)
        rate = np.where(cands == 0, r_zero[None, :], r_nonzero)
        best = np.argmin(dist + lam * rate, axis=0)
        sign = np.where(c[idx, j] < 0, -1, 1)
        q[idx, j] = sign * np.take_along_axis(cands, best[None], axis=0)[0].astype(np.int64)
    return q


def rdo_quantize_arith(c: np.ndarray, steps: np.ndarray, lam: float, gh: int, gw: int,
                       passes: int = PASSES) -> np.ndarray:
    """Quantize (N, k) coefficients (patches in raster order on a gh x gw grid) minimizing
    D + lam step_j² R with R from the arith payload's contexts; returns int64 (N, k)."""
    n, k = c.shape
    if k == 0 or n == 0:
        return np.zeros((n, k), dtype=np.int64)
    q = dead_zone(c, steps)
    for _ in range(passes):
        stats = ArithStatistics(k)
        stats.add(q, gw, None)
        q = arith_decide(c, steps, lam, q, gw, None, stats.rates())
    return q
