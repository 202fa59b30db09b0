"""Rate-distortion-optimized quantization against the arith payload's context model.

Encoder only, nothing normative. :func:`.patch_encode.rdo_quantize` prices a coefficient by
the order-0 histogram of its component, which suits zstd's byte symbols; the arith payload
(spec section 13) codes significance by component class, neighbours and the patch's previous
components, and magnitudes by the neighbours' magnitudes. Here each coefficient is priced with
those contexts: the probabilities are estimated from the previous pass's coefficients (what
the adaptive coder will have learnt), the neighbours' values also from the previous pass, the
patch's previous components from the current one. Zeros after a patch's last non-zero
coefficient cost nothing (they fall beyond its count), so isolated trailing coefficients pay
for the significance bins they add.
"""

from __future__ import annotations

import numpy as np

from .arith import J_CLASSES, MAG_J, MAG_NEIGHBOURS, SIG_NEIGHBOURS, SIG_PREVIOUS, bucket

MAG_CAP = 24  # magnitude histograms up to this; larger ones cost the cap's rate + Exp-Golomb
PASSES = 1  # a second pass with the first one's statistics: +0.003 dB for 40 % of the encode
SIGN_BITS = 1.0


def _counts(q: np.ndarray) -> np.ndarray:
    k = q.shape[1]
    if k == 0:
        return np.zeros(len(q), dtype=np.int64)
    nz = q[:, ::-1] != 0
    return np.where(nz.any(axis=1), k - np.argmax(nz, axis=1), 0)


def _neighbours(v: np.ndarray, gh: int, gw: int) -> tuple[np.ndarray, np.ndarray]:
    """Left and upper neighbours' values of an (N, ...) array in raster order (0 if none)."""
    g = v.reshape(gh, gw, *v.shape[1:])
    left = np.zeros_like(g)
    up = np.zeros_like(g)
    left[:, 1:] = g[:, :-1]
    up[1:] = g[:-1]
    return left.reshape(v.shape), up.reshape(v.shape)


def _bits(hits: np.ndarray, total: np.ndarray) -> np.ndarray:
    """-log2 of Krichevsky-Trofimov estimates."""
    return -np.log2((hits + 0.5) / (total + 1.0))


def rdo_quantize_arith(c: np.ndarray, steps: np.ndarray, lam: float, gh: int, gw: int,
                       passes: int = PASSES) -> np.ndarray:
    """Quantize (N, k) coefficients (patches in raster order on a gh x gw grid) minimizing
    D + lam step_j² R with R from the arith payload's contexts; returns int64 (N, k)."""
    n, k = c.shape
    q = np.zeros((n, k), dtype=np.int64)
    if k == 0 or n == 0:
        return q
    a_all = np.abs(c) / steps
    sign = np.where(c < 0, -1, 1)
    q = sign * np.floor(a_all + 0.35).astype(np.int64)  # a dead-zone start
    jb = np.minimum([bucket(j) for j in range(k)], J_CLASSES - 1)
    n_sig = J_CLASSES * SIG_NEIGHBOURS * SIG_PREVIOUS
    n_mag = MAG_J * MAG_NEIGHBOURS
    for _ in range(passes):
        counts = _counts(q)
        cl, cu = _neighbours(counts, gh, gw)
        ql, qu = _neighbours(q, gh, gw)
        # the statistics of the current coefficients, per context
        js = np.arange(k)[None, :]
        s_l = np.where(js >= cl[:, None], 0, np.where(ql != 0, 2, 1))
        s_u = np.where(js >= cu[:, None], 0, np.where(qu != 0, 2, 1))
        nz = q != 0
        prev = np.zeros((n, k), dtype=np.int64)
        prev[:, 1:] += nz[:, :-1]
        prev[:, 2:] += nz[:, :-2]
        sig_ctx = (jb[None, :] * SIG_NEIGHBOURS + s_l + s_u) * SIG_PREVIOUS + prev
        coded = js < counts[:, None] - 1
        total = np.bincount(sig_ctx[coded], minlength=n_sig).astype(np.float64)
        ones = np.bincount(sig_ctx[coded & nz], minlength=n_sig).astype(np.float64)
        rate0, rate1 = _bits(total - ones, total), _bits(ones, total)
        mn = np.abs(ql) + np.abs(qu)
        mcls = np.where(mn < 3, mn, np.where(mn < 5, 3, 4))
        mag_ctx = np.minimum(jb, MAG_J - 1)[None, :] * MAG_NEIGHBOURS + mcls
        m = np.minimum(np.abs(q), MAG_CAP)
        hist = np.bincount(mag_ctx[nz] * (MAG_CAP + 1) + m[nz],
                           minlength=n_mag * (MAG_CAP + 1)).reshape(n_mag, MAG_CAP + 1) \
            .astype(np.float64)
        mag_rate = _bits(hist, hist[:, 1:].sum(axis=1, keepdims=True) + 0.5 * MAG_CAP - 1)
        for j in range(k):
            # below half a step zero wins (less distortion, and a zero costs at most the
            # rate of the context's likelier outcome): price only the others
            idx = np.flatnonzero(a_all[:, j] >= 0.5)
            q[:, j] = 0
            if idx.size == 0:
                continue
            a = a_all[idx, j]
            lo = np.floor(a)
            cands = np.stack([np.zeros_like(a), np.maximum(lo - 1, 0), lo, lo + 1])
            dist = (a - cands) ** 2
            p = np.zeros(idx.size, dtype=np.int64)  # previous components, decided this pass
            if j >= 1:
                p += q[idx, j - 1] != 0
            if j >= 2:
                p += q[idx, j - 2] != 0
            ctx = (jb[j] * SIG_NEIGHBOURS + s_l[idx, j] + s_u[idx, j]) * SIG_PREVIOUS + p
            ci = np.minimum(cands, MAG_CAP).astype(np.int64)
            big = np.maximum(cands - MAG_CAP, 0)
            r_mag = mag_rate[mag_ctx[idx, j][None, :], ci] + 2 * np.log2(1 + big)
            cnt = counts[idx]
            inside = j < cnt - 1
            beyond = j >= cnt
            r_nonzero = r_mag + SIGN_BITS + np.where(inside | beyond, rate1[ctx], 0.0) + \
                np.where(beyond, (j - cnt) * rate0[ctx], 0.0)
            r_zero = np.where(inside, rate0[ctx], 0.0)
            rate = np.where(cands == 0, r_zero[None, :], r_nonzero)
            best = np.argmin(dist + lam * rate, axis=0)
            q[idx, j] = sign[idx, j] * np.take_along_axis(cands, best[None], axis=0)[0] \
                .astype(np.int64)
    return q
