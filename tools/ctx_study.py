"""Measurement study: what would a revised context model / probability estimator of the
arithmetic-coded patch layout (spec section 13) save?  Nothing here changes the format.

    OPENBLAS_NUM_THREADS=1 nice -n 10 python tools/ctx_study.py [--kodak DIR] [--cats MAT]
        [--cache DIR] [--images NAME ...] [--bpp B ...] [--validate] [--speed]
        [--only MODEL ...]

Prints: the current model's ideal bytes per stream and bins per stream; per candidate model
the saving in % of the real payload at each corpus point (8 Kodak images at the qualities
whose mean bpp is nearest 0.15, 0.25, 0.5, 1; the 80 cat faces as 80 default files, as a tall
stack and as auto's stack), their mean over the Kodak points (a BD-rate proxy) and the
issue-15 ratio (auto's stack / 80 files, in file bytes) with the model's payloads. The whole
run takes about 10 minutes on one core (captures are cached in --cache).

1. Capture: ``svdcodec.encode`` / ``encode_stack`` run as they are, with
   ``svdcodec.patch.entropy.arith_encode_strips`` wrapped so that every plane's quantized
   coefficients (PlaneCoefficients) and its real payload length are kept (cached as .npz).
2. Trace: every plane is binarized as section 13.3/13.5 does, vectorized in NumPy: one row per
   bin (stream, patch n, component j, binarization role, bit) in coding order. ``--validate``
   checks that the current model's contexts of this trace equal, bin for bin, what the
   pure-Python reference ``arith._code_plane`` codes (a recording coder), and that the ideal
   adaptive code length is within ~1 % of the real payload.
3. Cost: the ideal adaptive code length (sum of -log2 p, p updated by the spec's exact 16-bit
   rule, or by the candidate estimator) is computed by a small C kernel (compiled with cc at
   first use); each candidate is a context function over the trace's features.
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import math
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import svdcodec
import svdcodec.patch.entropy as patchentropy
from svdcodec.patch import arith
from svdcodec.patch.symbols import PlaneCoefficients

KODAK = Path("/work/shared/corpus/kodak")
CATS = Path("/work/shared/corpus/brunton/catData.mat")
IMAGES = ("kodim01", "kodim04", "kodim07", "kodim10", "kodim13", "kodim16", "kodim19", "kodim22")
BPP_TARGETS = (0.15, 0.25, 0.5, 1.0)
CAT_PSNR = 35.3
STREAMS = ("header", "dc", "count", "sig", "mag", "sign")
HDR, DC, CNT, SIG, MAG, SGN = range(6)

# --- C kernel: ideal adaptive code length --------------------------------------------------
C_SOURCE = r"""
#include <stdint.h>
#include <stdlib.h>
#include <math.h>
/* ctx: N x M context ids (M models averaged), ra/rb: per context fast/slow max shift
   (rb = 0: one probability). Warm-up: shift = min(bit_length(n + 2) - 1, r). */
static int rate(int n) { int b = 0; n += 2; while (n) { b++; n >>= 1; } return b - 1; }
void cost(const int32_t *ctx, int M, const uint8_t *bit, int64_t N, int32_t C,
          const int8_t *ra, const int8_t *rb, double *out, const uint16_t *p0,
          const uint8_t *n0, int logistic, const int32_t *mixsel, int32_t nmix, double lr) {
    /* logistic 2: a learned mixer (weights per mixsel[i], inputs: every model's fast and slow
       probabilities, stretched), trained online on the coding error, as in PAQ/JPEG XL. */
    double *w = NULL;
    if (logistic == 2) {
        w = malloc(sizeof(double) * 16 * (size_t)nmix);
        for (int64_t i = 0; i < 16 * (int64_t)nmix; i++) w[i] = 0;
    }
    static double lg[65537]; static int init = 0;
    if (!init) { for (int p = 1; p < 65536; p++) lg[p] = -log2(p / 65536.0); init = 1; }
    uint16_t *pa = malloc(2 * (size_t)C), *pb = malloc(2 * (size_t)C);
    uint8_t *na = malloc((size_t)C);
    for (int32_t c = 0; c < C; c++) { pa[c] = p0[c]; pb[c] = p0[c]; na[c] = n0[c]; }
    for (int64_t i = 0; i < N; i++) {
        uint32_t p;
        if (!logistic) {
            uint32_t ps = 0;
            for (int m = 0; m < M; m++) {
                int32_t c = ctx[i * M + m];
                ps += rb[c] ? ((uint32_t)pa[c] + pb[c] + 1) >> 1 : pa[c];
            }
            p = ps / M;
        } else if (logistic == 2) {
            double x[16]; int K = 0;
            for (int m = 0; m < M; m++) {
                int32_t c = ctx[i * M + m];
                double q = pa[c] / 65536.0;
                x[K++] = log(q / (1 - q));
                if (rb[c]) { q = pb[c] / 65536.0; x[K++] = log(q / (1 - q)); }
            }
            double *wi = w + 16 * (int64_t)mixsel[i];
            if (wi[15] == 0) { for (int k = 0; k < K; k++) wi[k] = 1.0 / K; wi[15] = 1; }
            double dot = 0;
            for (int k = 0; k < K; k++) dot += wi[k] * x[k];
            double pz = 1 / (1 + exp(-dot));
            p = (uint32_t)(65536.0 * pz + 0.5);
            double err = (bit[i] ? 0.0 : 1.0) - pz;
            for (int k = 0; k < K; k++) wi[k] += lr * err * x[k];
        } else {  /* average in the logistic domain (equal weights) */
            double st = 0;
            for (int m = 0; m < M; m++) {
                int32_t c = ctx[i * M + m];
                double q = (rb[c] ? (pa[c] + pb[c]) / 2.0 : pa[c]) / 65536.0;
                st += log(q / (1 - q));
            }
            p = (uint32_t)(65536.0 / (1 + exp(-st / M)) + 0.5);
        }
        if (p < 1) p = 1; if (p > 65535) p = 65535;
        int b = bit[i];
        out[i] = b ? lg[65536 - p] : lg[p];
        for (int m = 0; m < M; m++) {
            int32_t c = ctx[i * M + m];
            int n = na[c], r = rate(n);
            int s = r < ra[c] ? r : ra[c];
            pa[c] = b ? pa[c] - (pa[c] >> s) : pa[c] + ((65536 - pa[c]) >> s);
            if (rb[c]) {
                s = r < rb[c] ? r : rb[c];
                pb[c] = b ? pb[c] - (pb[c] >> s) : pb[c] + ((65536 - pb[c]) >> s);
            }
            if (n < 254) na[c] = n + 1;
        }
    }
    free(pa); free(pb); free(na); free(w);
}
/* Speed proxy: a range encoder (LZMA's arithmetic, carries ignored) over the bins of a
   plane in coding order with mode 0: one probability, count-based shift (today); 1: two
   probabilities (shifts 4 and 8), averaged; M = 2: two contexts per bin, averaged. Returns
   nanoseconds per bin (best of reps). */
#include <time.h>
double bench(const int32_t *ctx, int M, const uint8_t *bit, int64_t N, int32_t C, int mode,
             int reps) {
    uint16_t *pa = malloc(2 * (size_t)C), *pb = malloc(2 * (size_t)C);
    uint8_t *na = malloc((size_t)C);
    double best = 1e30; volatile uint64_t sink = 0;
    /* mode 2: two rates and an integer learned mixer (PAQ style: 12-bit stretch/squash
       tables, 16.16 weights), one weight set per stream */
    static int16_t stretch[4096]; static int16_t squash[4096];
    for (int i = 0; i < 4096; i++) {
        double q = (i + 0.5) / 4096.0;
        double v = log(q / (1 - q)) * 256; if (v > 2047) v = 2047; if (v < -2047) v = -2047;
        stretch[i] = (int16_t)v;
        squash[i] = (int16_t)(4096.0 / (1 + exp(-(i - 2048) / 256.0)));
        if (squash[i] > 4095) squash[i] = 4095; if (squash[i] < 1) squash[i] = 1;
    }
    int32_t wt[4] = {16384, 16384, 16384, 16384};
    static const uint8_t RATE[256] = {0};
    uint8_t rt[256]; for (int n = 0; n < 256; n++) rt[n] = (uint8_t)rate(n);
    (void)RATE;
    for (int rep = 0; rep < reps; rep++) {
        for (int32_t c = 0; c < C; c++) { pa[c] = 32768; pb[c] = 32768; na[c] = 0; }
        struct timespec t0, t1; clock_gettime(CLOCK_MONOTONIC, &t0);
        uint64_t low = 0, bytes = 0; uint32_t range = 0xFFFFFFFFu;
        for (int64_t i = 0; i < N; i++) {
            int b = bit[i];
            uint32_t p;
            int32_t c0 = ctx[i * M], c1 = M > 1 ? ctx[i * M + 1] : -1;
            int mm = c1 >= 0 ? 2 : 1;  /* c1 < 0: a bin of a stream with one model */
            int16_t xs[4]; int K = 0; int p12 = 0;
            if (mode == 2) {
                xs[K++] = stretch[pa[c0] >> 4]; xs[K++] = stretch[pb[c0] >> 4];
                if (mm == 2) { xs[K++] = stretch[pa[c1] >> 4]; xs[K++] = stretch[pb[c1] >> 4]; }
                int64_t dot = 0;
                for (int k = 0; k < K; k++) dot += (int64_t)wt[k] * xs[k];
                int d = (int)(dot >> 16); if (d > 2047) d = 2047; if (d < -2047) d = -2047;
                p12 = squash[d + 2048];
                p = (uint32_t)p12 << 4;
            } else if (mode == 0 && mm == 1) p = pa[c0];
            else if (mm == 1) p = ((uint32_t)pa[c0] + pb[c0] + 1) >> 1;
            else if (mode == 0) p = ((uint32_t)pa[c0] + pa[c1] + 1) >> 1;
            else p = ((uint32_t)pa[c0] + pb[c0] + pa[c1] + pb[c1] + 2) >> 2;
            uint32_t bound = (range >> 16) * p;
            if (b) { low += bound; range -= bound; } else range = bound;
            if (mode == 2) {
                int err = ((b ? 0 : 4095) - p12) * 6;
                for (int k = 0; k < K; k++) wt[k] += (xs[k] * err) >> 10;
            }
            for (int m = 0; m < mm; m++) {
                int32_t c = m ? c1 : c0;
                int n = na[c], r = rt[n];
                if (mode == 0) {
                    int s = r < 6 ? r : 6;
                    pa[c] = b ? pa[c] - (pa[c] >> s) : pa[c] + ((65536 - pa[c]) >> s);
                    if (n < 62) na[c] = n + 1;
                } else {
                    int s = r < 4 ? r : 4, s2 = r < 8 ? r : 8;
                    pa[c] = b ? pa[c] - (pa[c] >> s) : pa[c] + ((65536 - pa[c]) >> s);
                    pb[c] = b ? pb[c] - (pb[c] >> s2) : pb[c] + ((65536 - pb[c]) >> s2);
                    if (n < 254) na[c] = n + 1;
                }
            }
            while (range < (1u << 24)) { range <<= 8; low = (low & 0xFFFFFFu) << 8; bytes++; }
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        sink += bytes + low;
        double ns = (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec);
        if (ns < best) best = ns;
    }
    free(pa); free(pb); free(na);
    return best / (double)N;
}
"""


def _kernel() -> Callable[..., None]:
    tag = hashlib.sha1(C_SOURCE.encode()).hexdigest()[:12]
    lib = Path(tempfile.gettempdir()) / f"ctx_study_{tag}.so"
    if not lib.exists():
        src = lib.with_suffix(".c")
        src.write_text(C_SOURCE)
        subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", str(lib), str(src), "-lm"],
                       check=True)
    dll = ctypes.CDLL(str(lib))
    dll.bench.restype = ctypes.c_double
    global _BENCH
    _BENCH = dll.bench
    f = dll.cost
    f.restype = None
    return f  # type: ignore[no-any-return]


_BENCH: Callable[..., float] | None = None


def speed(tr: Trace, model: Model, reps: int = 15) -> dict[str, float]:
    """ns per bin of the range-encoder proxy over the plane's non-header bins in coding order:
    today's update, two-rate, and with the model's mixed streams coded with two contexts."""
    _kernel_ready()
    rc = {st: cols for st, cols, _ in raw_contexts(tr, model) if st != HDR}
    n = len(tr.B["bit"])
    ctx = np.zeros((n, 2), np.int32)
    off = 0
    for st, cols in rc.items():
        ids = [np.unique(c, return_inverse=True)[1].reshape(-1) for c in cols]
        sel = tr.sel(st)
        ctx[sel, 0] = ids[0] + off
        off += int(ids[0].max()) + 1
        if len(ids) > 1:
            ctx[sel, 1] = ids[1] + off
            off += int(ids[1].max()) + 1
        else:
            ctx[sel, 1] = -1
    bits = np.ascontiguousarray(tr.B["bit"], np.uint8)
    p = ctypes.c_void_p
    out = {}
    mixed = any(len(c) > 1 for c in rc.values())
    for name, m, mode in (("one rate", 1, 0), ("two rates", 1, 1), ("mixed, one rate", 2, 0),
                          ("mixed, two rates", 2, 1), ("learned mixer, two rates", 2, 2)):
        if m == 2 and not mixed:
            continue
        c = np.ascontiguousarray(ctx if m == 2 else ctx[:, :1])
        assert _BENCH is not None
        out[name] = _BENCH(p(c.ctypes.data), ctypes.c_int(m), p(bits.ctypes.data),
                           ctypes.c_int64(n), ctypes.c_int32(off), ctypes.c_int(mode),
                           ctypes.c_int(reps))
    return out


def _kernel_ready() -> None:
    global _COST
    if _COST is None:
        _COST = _kernel()


_COST: Callable[..., None] | None = None


def code_length(ctx: np.ndarray, bits: np.ndarray, ra: np.ndarray, rb: np.ndarray,
                p0: np.ndarray | None = None, n0: np.ndarray | None = None,
                logistic: int = 0, mixsel: np.ndarray | None = None, lr: float = 0.002
                ) -> np.ndarray:
    """Per-bin ideal cost in bits; ctx (N,) or (N, M) compact ids, ra/rb per context (fast,
    slow max shift; rb 0: one probability), p0/n0 initial probability and count per context
    (default 1/2 and 0), models mixed linearly or in the logistic domain."""
    global _COST
    if _COST is None:
        _COST = _kernel()
    c2 = np.ascontiguousarray(ctx.reshape(len(bits), -1), dtype=np.int32)
    out = np.empty(len(bits), dtype=np.float64)
    ra8 = np.ascontiguousarray(ra, dtype=np.int8)
    rb8 = np.ascontiguousarray(rb, dtype=np.int8)
    b8 = np.ascontiguousarray(bits, dtype=np.uint8)
    ms = np.ascontiguousarray(np.zeros(len(bits)) if mixsel is None else mixsel,
                              dtype=np.int32)
    pi = np.ascontiguousarray(np.full(len(ra8), 32768) if p0 is None else p0, dtype=np.uint16)
    ni = np.ascontiguousarray(np.zeros(len(ra8)) if n0 is None else n0, dtype=np.uint8)
    p = ctypes.c_void_p
    _COST(p(c2.ctypes.data), ctypes.c_int(c2.shape[1]), p(b8.ctypes.data),
          ctypes.c_int64(len(bits)), ctypes.c_int32(len(ra8)), p(ra8.ctypes.data),
          p(rb8.ctypes.data), p(out.ctypes.data), p(pi.ctypes.data), p(ni.ctypes.data),
          ctypes.c_int(int(logistic)), p(ms.ctypes.data), ctypes.c_int32(int(ms.max()) + 1),
          ctypes.c_double(lr))
    return out


# --- capture -------------------------------------------------------------------------------
@dataclass
class Plane:
    pc: PlaneCoefficients
    payload: int  # real payload bytes written by the codec


def capture(run: Callable[[], bytes]) -> tuple[list[Plane], int]:
    """The planes that ``run`` codes (the last encode's, when it encodes more than once is
    the caller's business) and the file bytes it returns."""
    got: list[Plane] = []
    orig = patchentropy.arith_encode_strips

    def wrapped(qp):  # type: ignore[no-untyped-def]
        payload, ac = orig(qp)
        pc = qp.coefficients()
        got.append(Plane(PlaneCoefficients(pc.multipliers.copy(), pc.parities.copy(),
                                           pc.basis.copy(), pc.dc.copy(),
                                           pc.q.astype(np.int64)), len(payload)))
        return payload, ac

    patchentropy.arith_encode_strips = wrapped
    try:
        data = run()
    finally:
        patchentropy.arith_encode_strips = orig
    return got, len(data)


def save_planes(path: Path, planes: list[Plane], file_bytes: int, meta: dict[str, float]) -> None:
    arrays: dict[str, np.ndarray] = {"file_bytes": np.array(file_bytes),
                                     "meta_keys": np.array(list(meta)),
                                     "meta_vals": np.array(list(meta.values()), dtype=float)}
    for i, pl in enumerate(planes):
        for f in ("multipliers", "parities", "basis", "dc", "q"):
            arrays[f"{i}_{f}"] = getattr(pl.pc, f)
        arrays[f"{i}_payload"] = np.array(pl.payload)
    arrays["n"] = np.array(len(planes))
    np.savez_compressed(path, **arrays)


def load_planes(path: Path) -> tuple[list[Plane], int, dict[str, float]]:
    z = np.load(path)
    planes = [Plane(PlaneCoefficients(*(z[f"{i}_{f}"] for f in
                                        ("multipliers", "parities", "basis", "dc", "q"))),
                    int(z[f"{i}_payload"])) for i in range(int(z["n"]))]
    meta = {str(k): float(v) for k, v in zip(z["meta_keys"], z["meta_vals"], strict=True)}
    return planes, int(z["file_bytes"]), meta


# --- the trace -----------------------------------------------------------------------------
def bitlen(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.int64)
    return np.where(x > 0, np.frexp(np.maximum(x, 1).astype(np.float64))[1], 0).astype(np.int64)


def bucket(t: np.ndarray) -> np.ndarray:
    t = np.asarray(t, dtype=np.int64)
    b = bitlen(t)
    return np.where(t < 4, t, 2 * b - 2 + ((t >> np.maximum(b - 2, 0)) & 1))


def med(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    return np.where(c >= hi, lo, np.where(c <= lo, hi, a + b - c))


def expand_uint(v: np.ndarray) -> dict[str, np.ndarray]:
    """Exp-Golomb bins of values v >= 0: sym (index into v), pos, bit, g, role (2 prefix,
    3 suffix), idx (prefix index or suffix i)."""
    v = np.asarray(v, dtype=np.int64)
    g = bitlen(v + 1) - 1
    nb = 2 * g + 1
    sym = np.repeat(np.arange(len(v)), nb)
    start = np.cumsum(nb) - nb
    pos = np.arange(int(nb.sum())) - np.repeat(start, nb)
    gs = g[sym]
    pre = pos <= gs
    idx = np.where(pre, pos, pos - gs - 1)
    bit = np.where(pre, pos < gs, ((v[sym] + 1) >> np.maximum(gs - 1 - idx, 0)) & 1)
    return {"sym": sym, "pos": pos, "bit": bit.astype(np.uint8), "g": gs,
            "role": np.where(pre, 2, 3), "idx": idx, "val": v[sym]}


def expand_sint(v: np.ndarray) -> dict[str, np.ndarray]:
    """Zero flag (role 0), sign (role 1), then U(|v| - 1) with pos offset 2."""
    v = np.asarray(v, dtype=np.int64)
    nz = np.flatnonzero(v != 0)
    u = expand_uint(np.abs(v[nz]) - 1)
    n0, n1 = len(v), len(nz)
    sym = np.concatenate([np.arange(n0), nz, nz[u["sym"]]])
    return {"sym": sym,
            "pos": np.concatenate([np.zeros(n0, np.int64), np.ones(n1, np.int64), u["pos"] + 2]),
            "bit": np.concatenate([(v != 0).astype(np.uint8), (v[nz] < 0).astype(np.uint8),
                                   u["bit"]]),
            "g": np.concatenate([np.zeros(n0 + n1, np.int64), u["g"]]),
            "role": np.concatenate([np.zeros(n0, np.int64), np.ones(n1, np.int64), u["role"]]),
            "idx": np.concatenate([np.zeros(n0 + n1, np.int64), u["idx"]]),
            "val": np.concatenate([np.zeros(n0 + n1, np.int64), u["val"]])}


def uint_off(role: np.ndarray, idx: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Offset of a bin in its U set (26), or S set (28) with roles 0/1."""
    u = np.where(role == 2, np.minimum(idx, 7),
                 8 + np.minimum(g - 1, 5) * 3 + np.minimum(idx, 2))
    return np.where(role == 0, 0, np.where(role == 1, 1, 2 + u))


class Recorder:
    """A coder that records (context, bit): run through arith's syntax functions."""

    def __init__(self) -> None:
        self.ctx: list[int] = []
        self.bits: list[int] = []

    def bit(self, ctx: int, b: int) -> int:
        self.ctx.append(ctx)
        self.bits.append(1 if b else 0)
        return 1 if b else 0


class Trace:
    """One plane's bins in coding order with per-bin features (section 13.5)."""

    def __init__(self, pc: PlaneCoefficients) -> None:
        q = np.asarray(pc.q, dtype=np.int64)
        k = q.shape[1]
        gh, gw = pc.dc.shape
        N = gh * gw
        self.k, self.gh, self.gw = k, gh, gw
        half = pc.basis.shape[1] if k else 0
        rec = Recorder()
        arith._code_header(rec, k, half * half, pc)  # type: ignore[arg-type]
        self.basis = np.asarray(pc.basis)
        self.hdr_ctx = np.array(rec.ctx, dtype=np.int64)
        self.hdr_bits = np.array(rec.bits, dtype=np.uint8)
        # per patch
        D = np.asarray(pc.dc, dtype=np.int64)
        gy, gx = np.divmod(np.arange(N), gw)
        C = pc.counts.astype(np.int64)
        Cg = C.reshape(gh, gw)
        Qg = q.reshape(gh, gw, k)

        def shifted(a: np.ndarray, dy: int, dx: int) -> np.ndarray:
            """a[y + dy, x + dx] (0 outside), for the (gh, gw, ...) grid."""
            out = np.zeros_like(a)
            ys = slice(max(-dy, 0), gh - max(dy, 0))
            xs = slice(max(-dx, 0), gw - max(dx, 0))
            ys2 = slice(max(dy, 0), gh + min(dy, 0))
            xs2 = slice(max(dx, 0), gw + min(dx, 0))
            out[ys, xs] = a[ys2, xs2]
            return out

        hasL, hasU = gx > 0, gy > 0
        hasUR = hasU & (gx < gw - 1)
        cl = shifted(Cg, 0, -1).reshape(-1)
        cu = shifted(Cg, -1, 0).reshape(-1)
        cur = shifted(Cg, -1, 1).reshape(-1)
        cul = shifted(Cg, -1, -1).reshape(-1)
        t = np.where(hasL & hasU, cl + cu, np.where(hasL, 2 * cl, np.where(hasU, 2 * cu, 0)))
        a = shifted(D, 0, -1).reshape(-1)
        b = shifted(D, -1, 0).reshape(-1)
        c = shifted(D, -1, -1).reshape(-1)
        d = D.reshape(-1)
        both = hasL & hasU
        pred = np.where(both, med(a, b, c), np.where(hasL, a, np.where(hasU, b, 0)))
        act = np.where(both, np.abs(a - c) + np.abs(b - c), 0)
        r = d - pred
        self.P = {"gx": gx, "gy": gy, "hasL": hasL, "hasU": hasU, "hasUR": hasUR, "cnt": C,
                  "cl": cl, "cu": cu, "cur": cur, "cul": cul, "t": t, "act": act, "r": r,
                  "dcl": a, "dcu": b, "dcul": c, "pred": pred,
                  "dcur": shifted(D, -1, 1).reshape(-1),
                  "rl": shifted(r.reshape(gh, gw), 0, -1).reshape(-1),
                  "ru": shifted(r.reshape(gh, gw), -1, 0).reshape(-1)}
        self.Q = q
        self.QL = shifted(Qg, 0, -1).reshape(N, k)
        self.QU = shifted(Qg, -1, 0).reshape(N, k)
        self.QUR = shifted(Qg, -1, 1).reshape(N, k)
        self.QUL = shifted(Qg, -1, -1).reshape(N, k)
        # bins
        slots = 3 * k + 3
        parts: list[dict[str, np.ndarray]] = []

        def add(stream: int, n: np.ndarray, j: np.ndarray, slot: np.ndarray,
                e: dict[str, np.ndarray]) -> None:
            s = e["sym"]
            parts.append({"stream": np.full(len(s), stream, np.int64), "n": n[s], "j": j[s],
                          "bit": e["bit"], "g": e["g"], "role": e["role"], "idx": e["idx"],
                          "val": e.get("val", np.zeros(len(s), np.int64)),
                          "key": ((n[s] * slots + slot[s]) << 7) + e["pos"]})

        pn = np.arange(N)
        add(DC, pn, np.full(N, -1), np.zeros(N, np.int64), expand_sint(r))
        add(CNT, pn, np.full(N, -1), np.ones(N, np.int64), expand_uint(C))
        jj = np.arange(k)
        sig_n, sig_j = np.nonzero(jj[None, :] < (C[:, None] - 1))
        bits = (q[sig_n, sig_j] != 0).astype(np.uint8)
        z = np.zeros(len(sig_n), np.int64)
        add(SIG, sig_n, sig_j, 2 + 3 * sig_j,
            {"sym": np.arange(len(sig_n)), "pos": z, "bit": bits, "g": z, "role": z + 4,
             "idx": z})
        nz_n, nz_j = np.nonzero(q)
        add(MAG, nz_n, nz_j, 3 + 3 * nz_j, expand_uint(np.abs(q[nz_n, nz_j]) - 1))
        z = np.zeros(len(nz_n), np.int64)
        add(SGN, nz_n, nz_j, 4 + 3 * nz_j,
            {"sym": np.arange(len(nz_n)), "pos": z,
             "bit": (q[nz_n, nz_j] < 0).astype(np.uint8), "g": z, "role": z + 5, "idx": z})
        keys = np.concatenate([p["key"] for p in parts])
        order = np.argsort(keys, kind="stable")
        dtypes = {"stream": np.int8, "n": np.int32, "j": np.int16, "bit": np.uint8,
                  "g": np.int8, "role": np.int8, "idx": np.int8, "val": np.int32}
        self.B = {f: np.concatenate([p[f] for p in parts])[order].astype(dt)
                  for f, dt in dtypes.items()}
        self._sel = {st: np.flatnonzero(self.B["stream"] == st) for st in (DC, CNT, SIG, MAG,
                                                                           SGN)}
        self.nbins = len(order) + len(self.hdr_bits)
        self.ncoef = int(C.sum())

    # per-bin gathers
    def pf(self, name: str, stream: int) -> np.ndarray:
        return self.P[name][self.B["n"][self._sel[stream]]]

    def sel(self, stream: int) -> np.ndarray:
        return self._sel[stream]

    def bf(self, name: str, stream: int) -> np.ndarray:
        """Bin field ``name`` of the stream's bins, as int64."""
        return self.B[name][self._sel[stream]].astype(np.int64)

    def qf(self, arr: np.ndarray, stream: int, dj: int = 0) -> np.ndarray:
        """arr[n, j + dj] for the stream's bins (0 where j + dj < 0)."""
        n, j = self.bf("n", stream), self.bf("j", stream) + dj
        return np.where(j >= 0, arr[n, np.maximum(j, 0)], 0)


# --- context models ------------------------------------------------------------------------
# A model maps (trace, stream) -> local context ids (any int64 array; compacted later) for the
# stream's bins, or for a mixing model a list of such arrays. Each candidate overrides some
# streams of the current model.
CtxFn = Callable[[Trace], np.ndarray]


def uoff(tr: Trace, stream: int) -> np.ndarray:
    off = uint_off(tr.bf("role", stream), tr.bf("idx", stream), tr.bf("g", stream))
    return off if stream == DC else off - 2  # U sets have no zero flag and sign


def cur_dc(tr: Trace) -> np.ndarray:
    act, t = tr.pf("act", DC), tr.pf("t", DC)
    return (np.minimum(bitlen(act), 9) * 2 + (t > 0)) * 28 + uoff(tr, DC)


def cur_cnt(tr: Trace) -> np.ndarray:
    return np.minimum(bucket(tr.pf("t", CNT)), 11) * 26 + uoff(tr, CNT)


def sig_state(tr: Trace, arr: np.ndarray, cname: str, stream: int) -> np.ndarray:
    j = tr.bf("j", stream)
    v = tr.qf(arr, stream)
    return np.where(j >= tr.pf(cname, stream), 0, np.where(v != 0, 2, 1))


def cur_sig(tr: Trace) -> np.ndarray:
    j = tr.bf("j", SIG)
    jb = np.minimum(bucket(j), 12)
    sl, su = sig_state(tr, tr.QL, "cl", SIG), sig_state(tr, tr.QU, "cu", SIG)
    prev = (tr.qf(tr.Q, SIG, -1) != 0).astype(np.int64) + (tr.qf(tr.Q, SIG, -2) != 0)
    return (jb * 5 + sl + su) * 3 + prev


def mcls_cur(mu: np.ndarray) -> np.ndarray:
    return np.where(mu < 3, mu, np.where(mu < 5, 3, 4))


def cur_mag(tr: Trace) -> np.ndarray:
    jb = np.minimum(bucket(tr.bf("j", MAG)), 12)
    mu = np.abs(tr.qf(tr.QL, MAG)) + np.abs(tr.qf(tr.QU, MAG))
    return (np.minimum(jb, 6) * 5 + mcls_cur(mu)) * 26 + uoff(tr, MAG)


def sgn3(v: np.ndarray) -> np.ndarray:
    return np.where(v == 0, 0, np.where(v > 0, 1, 2))


def cur_sign(tr: Trace) -> np.ndarray:
    j = tr.bf("j", SGN)
    return np.minimum(j, 3) * 9 + sgn3(tr.qf(tr.QL, SGN)) * 3 + sgn3(tr.qf(tr.QU, SGN))


CURRENT: dict[int, CtxFn] = {DC: cur_dc, CNT: cur_cnt, SIG: cur_sig, MAG: cur_mag,
                             SGN: cur_sign}


def combine(*parts: tuple[np.ndarray, int]) -> np.ndarray:
    """Mixed-radix product of (value, radix) pairs (values clipped to the radix)."""
    out = np.zeros(len(parts[0][0]), dtype=np.int64)
    for v, r in parts:
        out = out * r + np.clip(v, 0, r - 1)
    return out


Table = dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]]


@dataclass
class Model:
    name: str
    ctx: dict[int, CtxFn | list[CtxFn]]  # streams overriding CURRENT (list: models mixed)
    rates: dict[int, tuple[int, int]] | None = None  # per stream (fast, slow); None: (6, 0)
    logistic: int = 0  # mixed models averaged: 0 linearly, 1 in the logistic domain, 2 by a
    # learned mixer (weights per stream and mixsel class)
    mixsel: dict[int, CtxFn] | None = None
    lr: float = 0.002
    init: int = 0  # > 0: initial p from a table trained elsewhere, with this initial count
    table: Table | None = None
    share: bool = False  # the planes of a file share one adaptive state (not reset per plane)
    # a different binarization: streams -> (context columns, bits), replacing those streams
    custom: Callable[[Trace], dict[int, tuple[list[np.ndarray], np.ndarray]]] | None = None


def raw_contexts(tr: Trace, model: Model
                 ) -> list[tuple[int, list[np.ndarray], np.ndarray]]:
    """(stream, context columns with raw ids, bits) for every stream with bins."""
    fns: dict[int, CtxFn | list[CtxFn]] = {**CURRENT, **model.ctx}
    out = []
    if len(tr.hdr_bits):
        out.append((HDR, [tr.hdr_ctx], tr.hdr_bits))
    custom = model.custom(tr) if model.custom else {}
    if HDR in custom:
        out = [(HDR, *custom[HDR])] if len(custom[HDR][1]) else []
    for stream in (DC, CNT, SIG, MAG, SGN):
        if stream in custom:
            cols, bits = custom[stream]
            if len(bits):
                out.append((stream, cols, bits))
            continue
        s = tr.sel(stream)
        if not len(s):
            continue
        f = fns[stream]
        cols = [fn(tr) for fn in f] if isinstance(f, list) else [f(tr)]
        out.append((stream, cols, tr.B["bit"][s]))
    return out


def train(ms: list[Model], planes: list[Plane]) -> None:
    """Set each model's table: counts of 0 and 1 bins per (stream, column, raw context) over
    ``planes`` (one pass, every model at once)."""
    acc: list[dict[tuple[int, int], list[tuple[np.ndarray, np.ndarray]]]] = [{} for _ in ms]
    for pl in planes:
        tr = Trace(pl.pc)
        for m, a in zip(ms, acc, strict=True):
            for st, cols, bits in raw_contexts(tr, m):
                for ci, col in enumerate(cols):
                    keys, inv = np.unique(col, return_inverse=True)
                    inv = inv.reshape(-1)
                    ones = np.bincount(inv, weights=bits.astype(np.float64), minlength=len(keys))
                    total = np.bincount(inv, minlength=len(keys)).astype(np.float64)
                    a.setdefault((st, ci), []).append((keys, np.stack([total - ones, ones])))
    for m, a in zip(ms, acc, strict=True):
        table: Table = {}
        for key, parts in a.items():
            allkeys = np.concatenate([k for k, _ in parts])
            cnts = np.concatenate([c for _, c in parts], axis=1)
            keys, inv = np.unique(allkeys, return_inverse=True)
            inv = inv.reshape(-1)
            table[key] = (keys, np.bincount(inv, weights=cnts[0], minlength=len(keys)),
                          np.bincount(inv, weights=cnts[1], minlength=len(keys)))
        m.table = table


def plane_cost(tr: Trace | list[Trace], model: Model) -> np.ndarray:
    """Bytes per stream (len(STREAMS),) for one plane, or for several planes coded with one
    adaptive state (a list: each plane's bins after the previous plane's)."""
    rates = model.rates or {}
    out = np.zeros(len(STREAMS))
    streams: dict[int, tuple[list[list[np.ndarray]], list[np.ndarray]]] = {}
    for t in tr if isinstance(tr, list) else [tr]:
        for stream, cols, bits in raw_contexts(t, model):
            c_, b_ = streams.setdefault(stream, ([], []))
            c_.append(cols)
            b_.append(bits)
    for stream, (cl_, bl_) in streams.items():
        cols = [np.concatenate([c[i] for c in cl_]) for i in range(len(cl_[0]))]
        bits = np.concatenate(bl_)
        ids, p0s, n0s = [], [], []
        offset = 0
        for ci, col in enumerate(cols):
            uniq, inv = np.unique(col, return_inverse=True)
            ids.append(inv.reshape(-1) + offset)
            offset += len(uniq)
            p0 = np.full(len(uniq), 32768.0)
            n0 = np.zeros(len(uniq))
            if model.table is not None and (stream, ci) in model.table:
                keys, zeros, ones = model.table[(stream, ci)]
                pos = np.minimum(np.searchsorted(keys, uniq), len(keys) - 1)
                hit = keys[pos] == uniq
                z, o = np.where(hit, zeros[pos], 0), np.where(hit, ones[pos], 0)
                p0 = np.where(hit, 65536 * (z + 0.4) / (z + o + 0.8), 32768.0)
                p0 = np.clip(p0, 1024, 64512)
                n0 = np.where(hit, np.minimum(z + o, model.init), 0)
            p0s.append(p0)
            n0s.append(n0)
        ctx = np.stack(ids, axis=1)
        ra_s, rb_s = rates.get(stream, (6, 0))
        sel = None
        if model.logistic == 2 and model.mixsel and stream in model.mixsel:
            sel = np.concatenate([model.mixsel[stream](t)
                                  for t in (tr if isinstance(tr, list) else [tr])])
        out[stream] = code_length(ctx, bits, np.full(offset, ra_s), np.full(offset, rb_s),
                                  np.round(np.concatenate(p0s)), np.concatenate(n0s),
                                  model.logistic, sel, model.lr).sum()
    return out / 8.0  # bytes


# --- validation ----------------------------------------------------------------------------
def validate(planes: list[Plane], label: str) -> None:
    """Bin-for-bin equality with the reference syntax, ideal vs real payload bytes."""
    for i, pl in enumerate(planes):
        pc = pl.pc
        k = pc.q.shape[1]
        half = pc.basis.shape[1] if k else 0
        gh, gw = pc.dc.shape
        rec = Recorder()
        arith._code_plane(rec, k, half, gh, gw, pc)  # type: ignore[arg-type]
        tr = Trace(pc)
        mine_ctx = np.concatenate([tr.hdr_ctx] + [
            base + CURRENT[st](tr) for st, base in
            ((DC, arith.CTX_DC), (CNT, arith.CTX_COUNT), (SIG, arith.CTX_SIG),
             (MAG, arith.CTX_MAG), (SGN, arith.CTX_SIGN))])
        # reorder: my per-stream concatenation -> coding order
        idx = np.concatenate([np.arange(len(tr.hdr_ctx))] + [
            len(tr.hdr_ctx) + tr.sel(st) for st in (DC, CNT, SIG, MAG, SGN)])
        ordered = np.empty_like(mine_ctx)
        ordered[idx] = mine_ctx
        bits = np.concatenate([tr.hdr_bits, tr.B["bit"]])
        ok = (np.array_equal(ordered, np.array(rec.ctx))
              and np.array_equal(bits, np.array(rec.bits, dtype=np.uint8)))
        ideal = code_length(np.array(rec.ctx), np.array(rec.bits, dtype=np.uint8),
                            np.full(arith.CONTEXTS, 6), np.zeros(arith.CONTEXTS)).sum() / 8
        ref = len(arith.encode_payload(pc)[0])
        print(f"  {label} plane {i}: {len(rec.ctx)} bins, trace == reference: {ok}; ideal "
              f"{ideal:,.0f} B, reference encoder {ref:,} B, codec payload {pl.payload:,} B "
              f"({100 * (ideal / pl.payload - 1):+.2f} %)")
        if not ok:
            raise SystemExit("trace mismatch")


# --- corpora -------------------------------------------------------------------------------
def kodak_points(kodak: Path, cache: Path, images: tuple[str, ...] = IMAGES,
                 targets: tuple[float, ...] = BPP_TARGETS
                 ) -> dict[str, list[tuple[list[Plane], int, int]]]:
    """Per target bpp label: (planes, file bytes, pixels) per image, at the one quality whose
    mean bpp over ``images`` is nearest the target."""
    from PIL import Image

    imgs = [np.asarray(Image.open(kodak / f"{name}.png").convert("RGB")) for name in images]
    pix = [im.shape[0] * im.shape[1] for im in imgs]
    key = hashlib.sha1(repr((images, targets)).encode()).hexdigest()[:8]
    qfile = cache / ("kodak_qualities.txt" if (images, targets) == (IMAGES, BPP_TARGETS)
                     else f"qualities_{key}.txt")
    if qfile.exists():
        chosen = [float(x) for x in qfile.read_text().split()]
    else:
        grid = np.arange(8.0, 50.0, 1.0)
        bpp = []
        for q in grid:
            bpp.append(np.mean([8 * len(svdcodec.encode(im, quality=float(q))) / p
                                for im, p in zip(imgs, pix, strict=True)]))
        chosen = [float(grid[int(np.argmin(np.abs(np.log(np.array(bpp) / tb))))])
                  for tb in targets]
        qfile.write_text(" ".join(map(str, chosen)))
    out: dict[str, list[tuple[list[Plane], int, int]]] = {}
    for tb, q in zip(targets, chosen, strict=True):
        rows = []
        for name, im, p in zip(images, imgs, pix, strict=True):
            f = cache / f"{name}_q{q:g}.npz"
            if not f.exists():
                planes, nbytes = capture(lambda im=im, q=q: svdcodec.encode(im, quality=q))
                save_planes(f, planes, nbytes, {"quality": q})
            planes, nbytes, _ = load_planes(f)
            rows.append((planes, nbytes, p))
        bpp = 8 * sum(r[1] for r in rows) / sum(pix)
        out[f"{tb:g} bpp (q{q:g}, {bpp:.3f})"] = rows
    out["qualities"] = chosen  # type: ignore[assignment]
    return out


def training_planes(kodak: Path, cache: Path, images: tuple[str, ...],
                    chosen: list[float]) -> list[Plane]:
    """The other images of the folder (the 16 other Kodak images) at the study's qualities:
    a training set for initial probabilities, disjoint from ``images``."""
    from PIL import Image

    out: list[Plane] = []
    for name in sorted(p.stem for p in kodak.glob("*.png")):
        if name in images:
            continue
        im = None
        for q in chosen:
            f = cache / f"train_{name}_q{q:g}.npz"
            if not f.exists():
                if im is None:
                    im = np.asarray(Image.open(kodak / f"{name}.png").convert("RGB"))
                planes, nbytes = capture(lambda im=im, q=q: svdcodec.encode(im, quality=q))
                save_planes(f, planes, nbytes, {"quality": q})
            out += load_planes(f)[0]
    return out


def cat_points(mat: Path, cache: Path) -> dict[str, list[tuple[list[Plane], int, int]]]:
    """The 80 cat faces: the 80 separate default files (quality 50) and the tall stack at the
    quality of equal mean PSNR (the issue-15 point)."""
    import scipy.io

    from svdcodec.stack.auto import mean_psnr

    m = scipy.io.loadmat(str(mat))["cat"]
    side = math.isqrt(m.shape[0])
    frames = np.stack([m[:, i].reshape(side, side, order="F") for i in range(m.shape[1])]
                      ).astype(np.uint8)
    fsep = cache / "cats_separate.npz"
    if not fsep.exists():
        planes: list[Plane] = []
        total = 0
        dec = []
        for fr in frames:
            pl, nb = capture(lambda fr=fr: svdcodec.encode(fr, quality=50.0))
            planes += pl
            total += nb
            dec.append(svdcodec.decode(svdcodec.encode(fr, quality=50.0)))
        psnr = mean_psnr(frames, np.stack(dec))
        save_planes(fsep, planes, total, {"quality": 50.0, "psnr": psnr})
    sep, sep_bytes, meta = load_planes(fsep)
    target = meta["psnr"]
    ftall = cache / "cats_tall.npz"
    if not ftall.exists():
        best: tuple[float, float, list[Plane], int] | None = None
        for q in np.arange(30.0, 70.0, 0.5):
            pl, nb = capture(lambda q=q: svdcodec.encode_stack(frames, coding="tall",
                                                                 quality=float(q)))
            ps = mean_psnr(frames, svdcodec.decode_stack(
                svdcodec.encode_stack(frames, coding="tall", quality=float(q))))
            if best is None or abs(ps - target) < abs(best[1] - target):
                best = (float(q), ps, pl, nb)
            if ps > target + 0.5:
                break
        assert best is not None
        save_planes(ftall, best[2], best[3], {"quality": best[0], "psnr": best[1]})
    tall, tall_bytes, tmeta = load_planes(ftall)
    fauto = cache / "cats_auto.npz"
    if not fauto.exists():  # auto's choice at the tall quality: tall with 4 x 4 patches
        q = tmeta["quality"]
        planes, nb = capture(lambda: svdcodec.encode_stack(frames, coding="auto", quality=q))
        data = svdcodec.encode_stack(frames, coding="auto", quality=q)
        info = svdcodec.read_header(data)
        want = info.planes[0].compressed_size
        chosen = [pl for pl in planes if pl.payload == want]
        ps = mean_psnr(frames, svdcodec.decode_stack(data))
        tall_auto = info.stack_coding == "tall"
        save_planes(fauto, chosen[-1:] if tall_auto else [], nb,
                    {"quality": q, "psnr": ps, "patch": info.planes[0].patch_size,
                     "tall": float(tall_auto)})
    auto, auto_bytes, ameta = load_planes(fauto)
    npix = frames.shape[0] * side * side
    out = {f"cats {len(frames)} files (q50, {target:.2f} dB)": [(sep, sep_bytes, npix)],
           f"cats tall (q{tmeta['quality']:g}, {tmeta['psnr']:.2f} dB)":
               [(tall, tall_bytes, npix)]}
    if auto:  # auto's choice when it is a tall stack (the issue-15 point)
        out[f"cats auto = tall p{ameta['patch']:g} ({ameta['psnr']:.2f} dB)"] = \
            [(auto, auto_bytes, npix)]
    return out


# --- candidate context functions -----------------------------------------------------------
def _coef(tr: Trace, st: int) -> dict[str, np.ndarray]:
    """Features of a coefficient stream's bins."""
    j = tr.bf("j", st)
    cnt = tr.pf("cnt", st)
    vl, vu, vur = tr.qf(tr.QL, st), tr.qf(tr.QU, st), tr.qf(tr.QUR, st)
    return {"j": j, "cnt": cnt, "jb": np.minimum(bucket(j), 12), "vl": vl, "vu": vu,
            "vur": vur, "sl": sig_state(tr, tr.QL, "cl", st),
            "su": sig_state(tr, tr.QU, "cu", st), "sur": sig_state(tr, tr.QUR, "cur", st),
            "p1": tr.qf(tr.Q, st, -1), "p2": tr.qf(tr.Q, st, -2)}


def prefix_only(tr: Trace, st: int, base: np.ndarray, extra: np.ndarray, first: int = 3
                ) -> np.ndarray:
    """U-set contexts: ``extra`` conditions only the first prefix bins (idx < first); the
    other bins keep ``base``."""
    role, idx = tr.bf("role", st), tr.bf("idx", st)
    use = (role == 2) & (idx < first) if st != DC else (role <= 1) | ((role == 2) & (idx < first))
    return np.where(use, (base + 1) * 4096 + extra, base)


# significance
def sig_dist(tr: Trace) -> np.ndarray:
    f = _coef(tr, SIG)
    prev = (f["p1"] != 0).astype(np.int64) + (f["p2"] != 0)
    d = np.minimum(bucket(f["cnt"] - 2 - f["j"]), 7)  # distance to the last one, 0 = next
    return combine((f["jb"], 13), (f["sl"] + f["su"], 5), (prev, 3), (d, 8))


def sig_dist_noprev(tr: Trace) -> np.ndarray:
    f = _coef(tr, SIG)
    d = np.minimum(bucket(f["cnt"] - 2 - f["j"]), 7)
    return combine((f["jb"], 13), (f["sl"] + f["su"], 5), (d, 8))


def sig_dist4(tr: Trace) -> np.ndarray:
    f = _coef(tr, SIG)
    prev = (f["p1"] != 0).astype(np.int64) + (f["p2"] != 0)
    d = np.minimum(f["cnt"] - 2 - f["j"], 3)
    return combine((f["jb"], 13), (f["sl"] + f["su"], 5), (prev, 3), (d, 4))


def sig_ratio(tr: Trace) -> np.ndarray:
    f = _coef(tr, SIG)
    prev = (f["p1"] != 0).astype(np.int64) + (f["p2"] != 0)
    r = (8 * f["j"]) // np.maximum(f["cnt"], 1)
    return combine((f["jb"], 13), (f["sl"] + f["su"], 5), (prev, 3), (r, 8))


def sig_nbmag(tr: Trace) -> np.ndarray:
    f = _coef(tr, SIG)
    prev = (f["p1"] != 0).astype(np.int64) + (f["p2"] != 0)
    avail = (f["sl"] > 0).astype(np.int64) + (f["su"] > 0)
    m = np.minimum(np.abs(f["vl"]) + np.abs(f["vu"]), 4)
    return combine((f["jb"], 13), (avail, 3), (m, 5), (prev, 3))


def sig_ur(tr: Trace) -> np.ndarray:
    f = _coef(tr, SIG)
    prev = (f["p1"] != 0).astype(np.int64) + (f["p2"] != 0)
    return combine((f["jb"], 13), (f["sl"] + f["su"] + f["sur"], 7), (prev, 3))


def sig_finej(tr: Trace) -> np.ndarray:
    f = _coef(tr, SIG)
    prev = (f["p1"] != 0).astype(np.int64) + (f["p2"] != 0)
    jf = np.where(f["j"] < 16, f["j"], 12 + bucket(f["j"]) - 8)
    return combine((jf, 24), (f["sl"] + f["su"], 5), (prev, 3))


def sig_best(tr: Trace) -> np.ndarray:
    f = _coef(tr, SIG)
    prev = (f["p1"] != 0).astype(np.int64) + (f["p2"] != 0)
    d = np.minimum(bucket(f["cnt"] - 2 - f["j"]), 7)
    return combine((f["jb"], 13), (f["sl"] + f["su"] + f["sur"], 7), (prev, 3), (d, 8))


def sig_best2(tr: Trace) -> np.ndarray:
    f = _coef(tr, SIG)
    prev = (f["p1"] != 0).astype(np.int64) + (f["p2"] != 0)
    d = np.minimum(bucket(f["cnt"] - 2 - f["j"]), 5)
    return combine((f["jb"], 13), (f["sl"] + f["su"] + f["sur"], 7), (prev, 3), (d, 6))


# magnitudes
def _mag_base(tr: Trace, f: dict[str, np.ndarray]) -> np.ndarray:
    mu = np.abs(f["vl"]) + np.abs(f["vu"])
    return (np.minimum(f["jb"], 6) * 5 + mcls_cur(mu)) * 26 + uoff(tr, MAG)


def mag_prev(tr: Trace) -> np.ndarray:
    f = _coef(tr, MAG)
    pc = np.minimum(np.abs(f["p1"]) + np.abs(f["p2"]), 3)
    return prefix_only(tr, MAG, _mag_base(tr, f), pc)


def mag_prev_all(tr: Trace) -> np.ndarray:
    f = _coef(tr, MAG)
    pc = np.minimum(np.abs(f["p1"]) + np.abs(f["p2"]), 3)
    return _mag_base(tr, f) * 4 + pc


def mag_dist(tr: Trace) -> np.ndarray:
    f = _coef(tr, MAG)
    d = np.minimum(bucket(f["cnt"] - 1 - f["j"]), 4)
    return prefix_only(tr, MAG, _mag_base(tr, f), d)


def mag_finenb(tr: Trace) -> np.ndarray:
    f = _coef(tr, MAG)
    mu = 2 * (np.abs(f["vl"]) + np.abs(f["vu"])) + np.abs(f["vur"])
    m = np.minimum(bucket(mu), 9)
    return (np.minimum(f["jb"], 6) * 10 + m) * 26 + uoff(tr, MAG)


def mag_best(tr: Trace) -> np.ndarray:
    f = _coef(tr, MAG)
    mu = 2 * (np.abs(f["vl"]) + np.abs(f["vu"])) + np.abs(f["vur"])
    m = np.minimum(bucket(mu), 9)
    base = (np.minimum(f["jb"], 6) * 10 + m) * 26 + uoff(tr, MAG)
    pc = np.minimum(np.abs(f["p1"]) + np.abs(f["p2"]), 3)
    d = np.minimum(bucket(f["cnt"] - 1 - f["j"]), 4)
    return prefix_only(tr, MAG, base, pc * 5 + d)


def mag_best_pc(tr: Trace) -> np.ndarray:
    f = _coef(tr, MAG)
    mu = 2 * (np.abs(f["vl"]) + np.abs(f["vu"])) + np.abs(f["vur"])
    m = np.minimum(bucket(mu), 9)
    base = (np.minimum(f["jb"], 6) * 10 + m) * 26 + uoff(tr, MAG)
    pc = np.minimum(np.abs(f["p1"]) + np.abs(f["p2"]), 3)
    return prefix_only(tr, MAG, base, pc)


# signs
def sign_ur(tr: Trace) -> np.ndarray:
    f = _coef(tr, SGN)
    return combine((np.minimum(f["j"], 3), 4), (sgn3(f["vl"]), 3), (sgn3(f["vu"]), 3),
                   (sgn3(f["vur"]), 3))


def sign_finej(tr: Trace) -> np.ndarray:
    f = _coef(tr, SGN)
    return combine((np.minimum(f["j"], 7), 8), (sgn3(f["vl"]), 3), (sgn3(f["vu"]), 3))


def sign_vote(tr: Trace) -> np.ndarray:
    """Sign of the weighted neighbour sum 2 (q_L + q_U) + q_UR, and its size."""
    f = _coef(tr, SGN)
    s = 2 * (f["vl"] + f["vu"]) + f["vur"]
    return combine((np.minimum(f["j"], 7), 8), (sgn3(s), 3), (np.minimum(bitlen(np.abs(s)), 3),
                                                                4))


# DC
def _dc_extra(tr: Trace, extra: np.ndarray, radix: int, act_fine: bool = False,
              tcls: bool = False) -> np.ndarray:
    act, t = tr.pf("act", DC), tr.pf("t", DC)
    a = np.minimum(bucket(act), 19) if act_fine else np.minimum(bitlen(act), 9)
    tc = np.minimum(bucket(t), 5) if tcls else (t > 0).astype(np.int64)
    return combine((a, 20), (tc, 6), (extra, radix), (uoff(tr, DC), 28))


def dc_fineact(tr: Trace) -> np.ndarray:
    return _dc_extra(tr, np.zeros(len(tr.sel(DC)), np.int64), 1, act_fine=True)


def dc_tcls(tr: Trace) -> np.ndarray:
    return _dc_extra(tr, np.zeros(len(tr.sel(DC)), np.int64), 1, tcls=True)


def dc_nres(tr: Trace) -> np.ndarray:
    rn = np.abs(tr.pf("rl", DC)) + np.abs(tr.pf("ru", DC))
    return _dc_extra(tr, np.minimum(bitlen(rn), 5), 6)


def dc_act_ur(tr: Trace) -> np.ndarray:
    act = tr.pf("act", DC) + np.where(tr.pf("hasUR", DC),
                                      np.abs(tr.pf("dcu", DC) - tr.pf("dcur", DC)), 0)
    t = tr.pf("t", DC)
    return combine((np.minimum(bitlen(act), 10), 11), ((t > 0).astype(np.int64), 2),
                   (uoff(tr, DC), 28))


def dc_best(tr: Trace) -> np.ndarray:
    rn = np.abs(tr.pf("rl", DC)) + np.abs(tr.pf("ru", DC))
    return _dc_extra(tr, np.minimum(bitlen(rn), 5), 6, act_fine=True, tcls=True)


# counts
def _t3(tr: Trace) -> np.ndarray:
    hl, hu, hur = tr.pf("hasL", CNT), tr.pf("hasU", CNT), tr.pf("hasUR", CNT)
    s = tr.pf("cl", CNT) + tr.pf("cu", CNT) + tr.pf("cur", CNT)
    na = hl.astype(np.int64) + hu + hur
    return np.where(na > 0, (2 * s + na // 2) // np.maximum(na, 1), 0)  # 2 x mean


def cnt_t3(tr: Trace) -> np.ndarray:
    return np.minimum(bucket(_t3(tr)), 11) * 26 + uoff(tr, CNT)


def cnt_dcres(tr: Trace) -> np.ndarray:
    base = np.minimum(bucket(tr.pf("t", CNT)), 11) * 26 + uoff(tr, CNT)
    return prefix_only(tr, CNT, base, np.minimum(bitlen(np.abs(tr.pf("r", CNT))), 4))


def cnt_act(tr: Trace) -> np.ndarray:
    base = np.minimum(bucket(tr.pf("t", CNT)), 11) * 26 + uoff(tr, CNT)
    return prefix_only(tr, CNT, base, np.minimum(bitlen(tr.pf("act", CNT)), 5))


def cnt_lu(tr: Trace) -> np.ndarray:
    """Both counts, each bucketed (a 2-D class) instead of their sum."""
    cl = np.where(tr.pf("hasL", CNT), tr.pf("cl", CNT), tr.pf("cu", CNT))
    cu = np.where(tr.pf("hasU", CNT), tr.pf("cu", CNT), cl)
    lo, hi = np.minimum(cl, cu), np.maximum(cl, cu)
    return combine((np.minimum(bucket(lo), 9), 10), (np.minimum(bucket(hi), 9), 10),
                   (uoff(tr, CNT), 26))


def cnt_tree(tr: Trace) -> np.ndarray:
    """Exp-Golomb suffix bins with the bits so far as context (a binary tree per g)."""
    role, idx, g, v = tr.bf("role", CNT), tr.bf("idx", CNT), tr.bf("g", CNT), tr.bf("val", CNT)
    cls = np.minimum(bucket(tr.pf("t", CNT)), 11)
    node = np.where(role == 3, (v + 1) >> np.maximum(g - idx, 0), 0)  # leading 1 + bits so far
    pre = np.where(role == 2, np.minimum(idx, 7), 0)
    gs = np.where(role == 3, np.minimum(g, 7), 0)  # g is known only after the prefix
    return combine((cls, 12), (role, 4), (pre, 8), (gs, 8), (node, 128))


def cnt_best(tr: Trace) -> np.ndarray:
    role, idx, g, v = tr.bf("role", CNT), tr.bf("idx", CNT), tr.bf("g", CNT), tr.bf("val", CNT)
    cls = np.minimum(bucket(_t3(tr)), 11)
    node = np.where(role == 3, (v + 1) >> np.maximum(g - idx, 0), 0)
    pre = np.where(role == 2, np.minimum(idx, 7), 0)
    r = np.where(role == 2, np.minimum(bitlen(np.abs(tr.pf("r", CNT))), 4), 0)
    gs = np.where(role == 3, np.minimum(g, 7), 0)
    return combine((cls, 12), (role, 4), (pre, 8), (r, 5), (gs, 8), (node, 128))


def mag_tree(tr: Trace) -> np.ndarray:
    f = _coef(tr, MAG)
    role, idx, g, v = tr.bf("role", MAG), tr.bf("idx", MAG), tr.bf("g", MAG), tr.bf("val", MAG)
    node = np.where(role == 3, np.minimum((v + 1) >> np.maximum(g - idx, 0), 15), 0)
    return np.where(role == 3, _mag_base(tr, f) * 16 + node, _mag_base(tr, f))


def eob_binarization2(tr: Trace) -> dict[int, tuple[list[np.ndarray], np.ndarray]]:
    """As eob_binarization, the end flag also by min(|q[n, j]|, 3) (coded before it)."""
    return eob_binarization(tr, with_mag=True)


def eob_mixed(tr: Trace) -> dict[int, tuple[list[np.ndarray], np.ndarray]]:
    """eob_binarization2 with significance mixed from two contexts: the current one and
    (min(j, 31), how many of the left/upper counts exceed j, min(non-zero ones before j, 3))."""
    return eob_binarization(tr, with_mag=True, mixed=True)


def eob_binarization(tr: Trace, with_mag: bool = False, mixed: bool = False
                     ) -> dict[int, tuple[list[np.ndarray], np.ndarray]]:
    """No count: a flag "any coefficient" per patch (context: bucket(t)), a significance flag
    for every j up to the last non-zero one (current contexts), and after each non-zero
    coefficient (j < k - 1) an end flag "was it the last" (context: bucket(j), how many of
    the left/upper counts exceed j + 1, and the patch's non-zero count so far, capped at 2)."""
    C, q, k = tr.P["cnt"], tr.Q, tr.k
    P = tr.P
    any_bits = (C > 0).astype(np.uint8)
    any_ctx = np.minimum(bucket(P["t"]), 11)
    sn, sj = np.nonzero(np.arange(k)[None, :] < C[:, None])
    sig_bits = (q[sn, sj] != 0).astype(np.uint8)

    def state(arr: np.ndarray, cn: np.ndarray) -> np.ndarray:
        v = arr[sn, sj]
        return np.where(sj >= cn[sn], 0, np.where(v != 0, 2, 1))

    p1 = np.where(sj >= 1, q[sn, np.maximum(sj - 1, 0)], 0)
    p2 = np.where(sj >= 2, q[sn, np.maximum(sj - 2, 0)], 0)
    sig_ctx = (np.minimum(bucket(sj), 12) * 5 + state(tr.QL, P["cl"]) + state(tr.QU, P["cu"])
               ) * 3 + (p1 != 0) + (p2 != 0)
    en, ej = np.nonzero(q)
    keep = ej < k - 1
    en, ej = en[keep], ej[keep]
    end_bits = (ej == C[en] - 1).astype(np.uint8)
    nzc = np.cumsum(q != 0, axis=1)[en, ej] - 1  # non-zero ones before j in the patch
    beyond = (P["cl"][en] > ej + 1).astype(np.int64) + (P["cu"][en] > ej + 1)
    end_ctx = combine((np.minimum(bucket(ej), 12), 13), (beyond, 3), (np.minimum(nzc, 2), 3))
    if with_mag:
        end_ctx = end_ctx * 4 + np.minimum(np.abs(q[en, ej]), 3)
    # the "any" flag of patch n precedes its end flags: one stream, coding order by (n, j)
    cn = np.concatenate([np.arange(len(C)), en])
    cj = np.concatenate([np.full(len(C), -1), ej])
    order = np.lexsort((cj, cn))
    cnt_ctx = np.concatenate([any_ctx, 1000 + end_ctx])[order]
    cnt_bits = np.concatenate([any_bits, end_bits])[order]
    cols = [sig_ctx]
    if mixed:
        nzb = np.cumsum(q != 0, axis=1) - (q != 0)  # non-zero ones before j
        above = (P["cl"][sn] > sj).astype(np.int64) + (P["cu"][sn] > sj)
        cols.append(combine((np.minimum(sj, 31), 32), (above, 3),
                            (np.minimum(nzb[sn, sj], 3), 4)))
    return {CNT: ([cnt_ctx], cnt_bits), SIG: (cols, sig_bits)}


def _basis_bins(tr: Trace, predict: str) -> tuple[np.ndarray, np.ndarray]:
    """Basis quarter entries (section 13.5 header, step 3) as S bins: (context, bit).
    predict: "none" (current syntax: the entry itself, one S set), "pos" (the entry itself,
    an S set per position class r + c in the quarter), "left"/"med" (the residual from the
    left entry / LOCO-I's median of left, upper, upper-left in the quarter, 0 outside; an S
    set per activity class min(bit_length(|a - c| + |b - c|), 5))."""
    b = tr.basis.astype(np.int64)  # (k, h, h)
    k, h = b.shape[0], b.shape[1]
    if k == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.uint8)
    pad = np.zeros((k, h + 1, h + 1), np.int64)
    pad[:, 1:, 1:] = b
    a, u, c = pad[:, 1:, :-1], pad[:, :-1, 1:], pad[:, :-1, :-1]
    rr, cc = np.meshgrid(np.arange(h), np.arange(h), indexing="ij")
    if predict in ("none", "pos"):
        v = b
        cls = (np.broadcast_to(np.minimum(rr + cc, 6), b.shape) if predict == "pos"
               else np.zeros_like(b))
    else:
        pred = a if predict == "left" else med(a, u, c)
        v = b - pred
        cls = np.minimum(bitlen(np.abs(a - c) + np.abs(u - c)), 5)
    e = expand_sint(v.reshape(-1))
    ctx = cls.reshape(-1)[e["sym"]] * 28 + uint_off(e["role"], e["idx"], e["g"])
    return ctx, e["bit"]


def header_custom(predict: str) -> Callable[[Trace], dict[int, tuple[list[np.ndarray],
                                                                       np.ndarray]]]:
    def f(tr: Trace) -> dict[int, tuple[list[np.ndarray], np.ndarray]]:
        keep = tr.hdr_ctx < arith.CTX_BASIS  # multipliers and parities as they are
        ctx, bits = _basis_bins(tr, predict)
        return {HDR: ([np.concatenate([tr.hdr_ctx[keep], 100000 + ctx])],
                      np.concatenate([tr.hdr_bits[keep], bits]))}
    return f


def dc_custom(predict: str) -> Callable[[Trace], dict[int, tuple[list[np.ndarray],
                                                                   np.ndarray]]]:
    """DC terms predicted otherwise, coded with the current DC contexts."""
    def f(tr: Trace) -> dict[int, tuple[list[np.ndarray], np.ndarray]]:
        P = tr.P
        a, b, c = P["dcl"], P["dcu"], P["dcul"]
        hl, hu = P["hasL"], P["hasU"]
        both = hl & hu
        d = P["pred"] + P["r"]
        if predict == "avg":
            p2 = (a + b) >> 1
        elif predict == "grad":  # a + b - c, clamped to the range of a, b
            p2 = np.clip(a + b - c, np.minimum(a, b), np.maximum(a, b))
        elif predict == "med+avg":  # mean of MED and (a + b) / 2
            p2 = (med(a, b, c) + ((a + b) >> 1)) >> 1
        elif predict == "med4":  # MED of a, b and the upper-right d_UR (when it exists)
            p2 = np.where(P["hasUR"], np.median(np.stack([a, b, P["dcur"],
                                                           med(a, b, c)]), axis=0)
                          .astype(np.int64), med(a, b, c))
        else:
            raise ValueError(predict)
        pred = np.where(both, p2, P["pred"])
        r = d - pred
        e = expand_sint(r)
        act, t = P["act"][e["sym"]], P["t"][e["sym"]]
        ctx = (np.minimum(bitlen(act), 9) * 2 + (t > 0)) * 28 + uint_off(e["role"], e["idx"],
                                                                           e["g"])
        return {DC: ([ctx], e["bit"])}
    return f


def dc_signctx(tr: Trace) -> np.ndarray:
    """Current DC sets, the zero flag and sign also by the neighbours' residual signs."""
    role = tr.bf("role", DC)
    sg = sgn3(tr.pf("rl", DC)) * 3 + sgn3(tr.pf("ru", DC))
    return np.where(role <= 1, cur_dc(tr) * 9 + sg, cur_dc(tr) * 9)


R = (6, 0)


def rates(fast: int, slow: int) -> dict[int, tuple[int, int]]:
    return {st: (fast, slow) for st in range(6)}


def models() -> list[Model]:
    ms = [Model("current", {})]
    for fast, slow in ((5, 0), (7, 0), (4, 7), (4, 8), (5, 7), (5, 8), (3, 7), (4, 6), (3, 6)):
        ms.append(Model(f"rate {fast}/{slow}" if slow else f"rate {fast}", {},
                        rates(fast, slow)))
    ms += [Model("sig +dist(cnt-j) 8", {SIG: sig_dist}),
           Model("sig +dist(cnt-j) 4", {SIG: sig_dist4}),
           Model("sig dist replaces prev", {SIG: sig_dist_noprev}),
           Model("sig +j/cnt 8", {SIG: sig_ratio}),
           Model("sig nb magnitude sum", {SIG: sig_nbmag}),
           Model("sig +upper-right", {SIG: sig_ur}),
           Model("sig finer j", {SIG: sig_finej}),
           Model("sig UR+dist8", {SIG: sig_best}),
           Model("sig UR+dist6", {SIG: sig_best2}),
           Model("sig mix(current, UR+dist8)", {SIG: [cur_sig, sig_best]}),
           Model("mag +prev mags (prefix 3)", {MAG: mag_prev}),
           Model("mag +prev mags (all bins)", {MAG: mag_prev_all}),
           Model("mag +dist (prefix 3)", {MAG: mag_dist}),
           Model("mag finer nb L,U,UR", {MAG: mag_finenb}),
           Model("mag finenb+prev", {MAG: mag_best_pc}),
           Model("mag finenb+prev+dist", {MAG: mag_best}),
           Model("mag suffix tree", {MAG: mag_tree}),
           Model("sign +UR", {SGN: sign_ur}),
           Model("sign j<8", {SGN: sign_finej}),
           Model("sign vote 2(L+U)+UR", {SGN: sign_vote}),
           Model("dc finer act (bucket)", {DC: dc_fineact}),
           Model("dc t class 6", {DC: dc_tcls}),
           Model("dc +nb residuals", {DC: dc_nres}),
           Model("dc act incl. UR", {DC: dc_act_ur}),
           Model("dc all", {DC: dc_best}),
           Model("count L+U+UR", {CNT: cnt_t3}),
           Model("count +|dc res| (prefix)", {CNT: cnt_dcres}),
           Model("count +act (prefix)", {CNT: cnt_act}),
           Model("count 2-D (min,max)", {CNT: cnt_lu}),
           Model("count suffix tree", {CNT: cnt_tree}),
           Model("count tree+t3+dcres", {CNT: cnt_best})]
    return ms


# --- evaluation ----------------------------------------------------------------------------
Point = list[tuple[list[Plane], int, int]]


def evaluate(points: dict[str, Point], ms: list[Model]
             ) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, dict[str, float]]]:
    """res[model][point] = bytes per stream; info[point] = payload, file bytes, bins, ..."""
    res: dict[str, dict[str, np.ndarray]] = {m.name: {} for m in ms}
    info: dict[str, dict[str, float]] = {}
    for label, rows in points.items():
        acc = {m.name: np.zeros(len(STREAMS)) for m in ms}
        payload = files = pixels = bins = coefs = 0
        sbins = [0] * len(STREAMS)
        for planes, nbytes, npix in rows:
            files += nbytes
            pixels += npix
            traces = [Trace(pl.pc) for pl in planes] if any(m.share for m in ms) else []
            if traces and len(rows) == 1 and len(planes) > 3:  # 80 separate files
                groups = [traces[i:i + 1] for i in range(len(traces))]
            else:
                groups = [traces]
            for m in ms:
                if m.share:
                    for g in groups:
                        acc[m.name] += plane_cost(g, m)
            del traces, groups
            for pl in planes:
                payload += pl.payload
                tr = Trace(pl.pc)
                bins += tr.nbins
                for st in (DC, CNT, SIG, MAG, SGN):
                    sbins[st] += len(tr.sel(st))
                sbins[HDR] += len(tr.hdr_bits)
                coefs += tr.ncoef
                for m in ms:
                    if not m.share:
                        acc[m.name] += plane_cost(tr, m)
                del tr
        for m in ms:
            res[m.name][label] = acc[m.name]
        info[label] = {"payload": payload, "file": files, "pixels": pixels, "bins": bins,
                       "coefs": coefs, **{f"bins_{STREAMS[i]}": sbins[i]
                                          for i in range(len(STREAMS))}}
        print(f"  evaluated {label}", file=sys.stderr, flush=True)
    return res, info


def report(res: dict[str, dict[str, np.ndarray]], info: dict[str, dict[str, float]],
           base: str = "current") -> None:
    labels = list(info)
    kod = [lb for lb in labels if "bpp" in lb]
    cats = [lb for lb in labels if lb.startswith("cats")]
    print("\nCurrent model, ideal bytes per stream (payload = real bytes written):")
    print("| point | payload | file | " + " | ".join(STREAMS) + " | bins/pixel | bins/coef |")
    print("|---" * (len(STREAMS) + 5) + "|")
    for lb in labels:
        b = res[base][lb]
        i = info[lb]
        print(f"| {lb} | {i['payload']:,.0f} | {i['file']:,.0f} | "
              + " | ".join(f"{v:,.0f}" for v in b)
              + f" | {i['bins'] / i['pixels']:.3f} | {i['bins'] / max(i['coefs'], 1):.2f} |")
    print("\nBins per stream (share of all bins):")
    print("| point | " + " | ".join(STREAMS) + " |")
    print("|---" * (len(STREAMS) + 1) + "|")
    for lb in labels:
        i = info[lb]
        print(f"| {lb} | " + " | ".join(f"{i['bins_' + st]:,.0f} "
                                       f"({100 * i['bins_' + st] / i['bins']:.0f} %)"
                                       for st in STREAMS) + " |")
    print("\nSaving in % of the total payload (negative = smaller), per candidate:")
    head = " | ".join(lb.split(" (")[0] for lb in kod + cats)
    print(f"| candidate | {head} | Kodak mean | Kodak mean, % of file | streams (Kodak 1 bpp "
          "bytes delta) | cats auto stack/80 files |")
    print("|---" * (len(kod) + len(cats) + 5) + "|")
    ratio0 = _ratio(res[base], res[base], info, cats)
    for name in res:
        cells = []
        ks = []
        kf = [(res[name][lb].sum() - res[base][lb].sum()) / info[lb]["file"] * 100
              for lb in kod]
        for lb in kod + cats:
            d = (res[name][lb].sum() - res[base][lb].sum()) / info[lb]["payload"] * 100
            cells.append(f"{d:+.2f}")
            if lb in kod:
                ks.append(d)
        top = kod[-1] if kod else labels[-1]
        delta = res[name][top] - res[base][top]
        ds = ", ".join(f"{STREAMS[s]} {delta[s]:+,.0f}" for s in range(len(STREAMS))
                       if abs(delta[s]) >= 0.5)
        rt = _ratio(res[name], res[base], info, cats)
        rtxt = f"{rt:.2f} % (was {ratio0:.2f})" if cats else ""
        print(f"| {name} | " + " | ".join(cells) + f" | {np.mean(ks) if ks else 0:+.2f} | "
              f"{np.mean(kf) if kf else 0:+.2f} | {ds} | {rtxt} |")


def _ratio(r: dict[str, np.ndarray], base: dict[str, np.ndarray],
           info: dict[str, dict[str, float]], cats: list[str]) -> float:
    """The last cat point's (auto's stack) file bytes / 80 files' bytes with the model's
    payloads (issue 15)."""
    if len(cats) < 2:
        return float("nan")
    sep, tall = cats[0], cats[-1]
    f_sep = info[sep]["file"] + (r[sep].sum() - base[sep].sum())
    f_tall = info[tall]["file"] + (r[tall].sum() - base[tall].sum())
    return 100 * f_tall / f_sep


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kodak", type=Path, default=KODAK)
    ap.add_argument("--cats", type=Path, default=CATS, help="catData.mat (a missing path: "
                    "no cat points)")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "ctxstudy_cache")
    ap.add_argument("--images", nargs="+", default=list(IMAGES),
                    help="image names (NAME.png in --kodak); the folder's other PNGs train "
                         "the initial-probability tables")
    ap.add_argument("--bpp", type=float, nargs="+", default=list(BPP_TARGETS))
    ap.add_argument("--validate", action="store_true",
                    help="check the trace against arith._code_plane, bin for bin (slow)")
    ap.add_argument("--speed", action="store_true", help="also print the speed proxy")
    ap.add_argument("--only", nargs="*", default=None, help="model names to run")
    args = ap.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    images = tuple(args.images)
    kp = kodak_points(args.kodak, args.cache, images, tuple(args.bpp))
    chosen: list[float] = kp.pop("qualities")  # type: ignore[assignment]
    points = {**kp, **(cat_points(args.cats, args.cache) if args.cats.exists() else {})}
    if args.validate:
        for lb, rows in points.items():
            validate(rows[0][0], lb)
    ms = models() + combos()
    if args.only:
        ms = [m for m in ms if m.name in args.only or m.name == "current"]
    trained = [m for m in ms if m.init]
    if trained:
        train(trained, training_planes(args.kodak, args.cache, images, chosen))
        print("  trained", file=sys.stderr, flush=True)
    res, info = evaluate(points, ms)
    report(res, info)
    if args.speed:
        print_speed(points)
    return 0


def print_speed(points: dict[str, Point]) -> None:
    """Speed proxy on the luma plane of the first image at the highest Kodak rate."""
    kod = [lb for lb in points if "bpp" in lb]
    if not kod:
        return
    tr = Trace(points[kod[-1]][0][0][0].pc)
    print(f"\nSpeed proxy (range encoder over {len(tr.B['bit']):,} bins of the first luma "
          f"plane at {kod[-1]}; ns per bin, best of 21; mixed: COMBO2's streams with two "
          "contexts):")
    for _ in range(2):
        sp = speed(tr, Model("COMBO2", BEST), reps=21)
        print("  " + ", ".join(f"{k} {v:.2f}" for k, v in sp.items()))


def sig_rich(tr: Trace) -> np.ndarray:
    """A fine significance model meant to be mixed with the current one."""
    f = _coef(tr, SIG)
    prev = (f["p1"] != 0).astype(np.int64) + (f["p2"] != 0)
    avail = (f["sl"] > 0).astype(np.int64) + (f["su"] > 0)
    m = np.minimum(np.abs(f["vl"]) + np.abs(f["vu"]), 4)
    d = np.minimum(bucket(f["cnt"] - 2 - f["j"]), 7)
    return combine((f["jb"], 13), (avail, 3), (m, 5), (prev, 3), (d, 8))


def sig_dist_only(tr: Trace) -> np.ndarray:
    """j and distance to the end only (a second model to mix)."""
    f = _coef(tr, SIG)
    d = np.minimum(bucket(f["cnt"] - 2 - f["j"]), 7)
    return combine((np.minimum(f["j"], 31), 32), (d, 8))


def mag_rich(tr: Trace) -> np.ndarray:
    f = _coef(tr, MAG)
    mu = 2 * (np.abs(f["vl"]) + np.abs(f["vu"])) + np.abs(f["vur"])
    pc = np.minimum(np.abs(f["p1"]) + np.abs(f["p2"]), 3)
    d = np.minimum(bucket(f["cnt"] - 1 - f["j"]), 4)
    return combine((np.minimum(f["jb"], 6), 7), (np.minimum(bucket(mu), 9), 10), (pc, 4),
                   (d, 5), (uoff(tr, MAG), 26))


MIXES: dict[int, list[CtxFn]] = {
    SIG: [cur_sig, sig_best], MAG: [cur_mag, mag_rich], SGN: [cur_sign, sign_vote],
    DC: [cur_dc, dc_best], CNT: [cur_cnt, cnt_lu]}


def mag_rich_nodist(tr: Trace) -> np.ndarray:
    """mag_rich without the count (for the EOB binarization, where it is not known yet)."""
    f = _coef(tr, MAG)
    mu = 2 * (np.abs(f["vl"]) + np.abs(f["vu"])) + np.abs(f["vur"])
    pc = np.minimum(np.abs(f["p1"]) + np.abs(f["p2"]), 3)
    return combine((np.minimum(f["jb"], 6), 7), (np.minimum(bucket(mu), 9), 10), (pc, 4),
                   (uoff(tr, MAG), 26))


def mag_rich_prefix(tr: Trace) -> np.ndarray:
    """mag_rich's classes on the first 3 prefix bins only (today's sets elsewhere): a smaller
    second model (7 * 5 * 3 * 200 prefix contexts)."""
    f = _coef(tr, MAG)
    mu = 2 * (np.abs(f["vl"]) + np.abs(f["vu"])) + np.abs(f["vur"])
    pc = np.minimum(np.abs(f["p1"]) + np.abs(f["p2"]), 3)
    d = np.minimum(bucket(f["cnt"] - 1 - f["j"]), 4)
    return prefix_only(tr, MAG, _mag_base(tr, f),
                       combine((np.minimum(bucket(mu), 9), 10), (pc, 4), (d, 5)))


# the best per stream (contexts only; streams are coded with disjoint contexts, so their
# savings add up). A model with custom=dc_custom(...) replaces the DC stream, dc_act_ur too.
BEST: dict[int, CtxFn | list[CtxFn]] = {
    SIG: [cur_sig, sig_dist_only], MAG: [cur_mag, mag_rich], CNT: [cur_cnt, cnt_lu],
    SGN: sign_finej, DC: dc_act_ur}


BEST_LITE: dict[int, CtxFn | list[CtxFn]] = {**BEST, MAG: [cur_mag, mag_rich_prefix]}
BEST3: dict[int, CtxFn | list[CtxFn]] = {**BEST, SIG: [cur_sig, sig_dist_only, sig_rich]}
BEST_EOB: dict[int, CtxFn | list[CtxFn]] = {MAG: [cur_mag, mag_rich_nodist], SGN: sign_finej,
                                            DC: dc_act_ur}


# cheap to decode: a second context on significance bins only, single contexts elsewhere
CHEAP: dict[int, CtxFn | list[CtxFn]] = {SIG: [cur_sig, sig_dist_only], SGN: sign_finej}


def _jsel(st: int) -> CtxFn:
    return lambda tr: np.minimum(bucket(tr.bf("j", st)), 12)


MIXSEL: dict[int, CtxFn] = {SIG: _jsel(SIG), MAG: _jsel(MAG), SGN: _jsel(SGN)}


def combos() -> list[Model]:
    singles_best: dict[int, CtxFn | list[CtxFn]] = {
        SIG: [cur_sig, sig_best], MAG: [cur_mag, mag_rich], SGN: sign_finej, DC: dc_act_ur}
    ms = [Model("sig mix(current, rich)", {SIG: [cur_sig, sig_rich]}),
          Model("sig mix(current, j+dist)", {SIG: [cur_sig, sig_dist_only]}),
          Model("sig mix(current, UR+dist8) logistic", {SIG: [cur_sig, sig_best]},
                logistic=True),
          Model("mag mix(current, rich)", {MAG: MIXES[MAG]}),
          Model("mag mix(current, rich) logistic", {MAG: MIXES[MAG]}, logistic=True),
          Model("sign mix(current, vote)", {SGN: MIXES[SGN]}),
          Model("dc mix(current, all)", {DC: MIXES[DC]}),
          Model("count mix(current, 2-D)", {CNT: MIXES[CNT]}),
          Model("EOB flags instead of count", {}, custom=eob_binarization),
          Model("EOB flags (+|q|) instead of count", {}, custom=eob_binarization2),
          Model("trained init n0=6", {}, init=6),
          Model("trained init n0=14", {}, init=14),
          Model("trained init n0=30", {}, init=30),
          Model("trained init n0=14, rate 4/8", {}, rates(4, 8), init=14),
          Model("COMBO contexts", singles_best),
          Model("COMBO contexts + rate 4/8", singles_best, rates(4, 8)),
          Model("COMBO contexts + rate 4/8 logistic", singles_best, rates(4, 8),
                logistic=True),
          Model("COMBO contexts + rate 4/8 + init 14", singles_best, rates(4, 8), init=14),
          Model("COMBO all mixes + rate 4/8", dict(MIXES), rates(4, 8)),
          Model("header basis: current (check)", {}, custom=header_custom("none")),
          Model("header basis: ctx by position", {}, custom=header_custom("pos")),
          Model("header basis: left predictor", {}, custom=header_custom("left")),
          Model("header basis: MED predictor", {}, custom=header_custom("med")),
          Model("dc predictor (a+b)/2", {}, custom=dc_custom("avg")),
          Model("dc predictor clamped gradient", {}, custom=dc_custom("grad")),
          Model("dc predictor (MED+avg)/2", {}, custom=dc_custom("med+avg")),
          Model("dc predictor median(a,b,UR,MED)", {}, custom=dc_custom("med4")),
          Model("dc zero/sign by nb residual signs", {DC: dc_signctx}),
          Model("planes share one state (Y, Cb, Cr)", {}, share=True),
          Model("EOB flags, sig mixed", {}, custom=eob_mixed),
          Model("COMBO-EOB + rate 4/8 logistic", BEST_EOB, rates(4, 8), logistic=True,
                custom=eob_mixed),
          Model("COMBO-EOB + rate 4/8 logistic + init 14", BEST_EOB, rates(4, 8),
                logistic=True, init=14, custom=eob_mixed),
          Model("COMBO3 (sig mix3) + rate 4/8 logistic", BEST3, rates(4, 8), logistic=True),
          Model("COMBO3 (sig mix3) + rate 4/8 logistic + init 14", BEST3, rates(4, 8),
                logistic=True, init=14),
          Model("COMBO3 + rate 4/8 logistic + shared planes", BEST3, rates(4, 8),
                logistic=True, share=True),
          Model("dc predictor (MED+avg)/2 + COMBO3 + rate 4/8 logistic + shared planes",
                BEST3, rates(4, 8), logistic=True, share=True, custom=dc_custom("med+avg")),
          Model("dc predictor (MED+avg)/2 + COMBO3 + rate 4/8 logistic + init 14", BEST3,
                rates(4, 8), logistic=True, init=14, custom=dc_custom("med+avg")),
          Model("COMBO3 + rate 4/8 + learned mixer lr .002", BEST3, rates(4, 8), logistic=2),
          Model("COMBO3 + rate 4/8 + learned mixer lr .0005", BEST3, rates(4, 8), logistic=2,
                lr=0.0005),
          Model("COMBO3 + rate 4/8 + learned mixer lr .005", BEST3, rates(4, 8), logistic=2,
                lr=0.005),
          Model("COMBO3 + rate 4/8 + learned mixer lr .01", BEST3, rates(4, 8), logistic=2,
                lr=0.01),
          Model("current contexts, rate 4/8 + learned mixer lr .005", {}, rates(4, 8),
                logistic=2, lr=0.005),
          Model("ALL: COMBO3 + dc (MED+avg)/2 + rate 4/8 + mixer .005 + shared planes", BEST3,
                rates(4, 8), logistic=2, lr=0.005, share=True, custom=dc_custom("med+avg")),
          Model("CHEAP: sig mix2 + sign j<8 + dc (MED+avg)/2 + shared planes",
                CHEAP, share=True, custom=dc_custom("med+avg")),
          Model("CHEAP + rate 4/8", CHEAP, rates(4, 8), share=True,
                custom=dc_custom("med+avg")),
          Model("CHEAP + rate 4/8 + init 14", CHEAP, rates(4, 8), share=True, init=14,
                custom=dc_custom("med+avg")),
          Model("FREE: dc (MED+avg)/2 + shared planes + sign j<8", {SGN: sign_finej},
                share=True, custom=dc_custom("med+avg")),
          Model("FREE + init 14", {SGN: sign_finej}, share=True, init=14,
                custom=dc_custom("med+avg")),
          Model("MID: COMBO2 linear + rate 4/8 + dc (MED+avg)/2 + shared planes", BEST,
                rates(4, 8), share=True, custom=dc_custom("med+avg")),
          Model("MID + init 14", BEST, rates(4, 8), share=True, init=14,
                custom=dc_custom("med+avg")),
          Model("MID-lite (mag second model on 3 prefix bins)", BEST_LITE, rates(4, 8),
                share=True, custom=dc_custom("med+avg")),
          Model("MID-lite + init 14", BEST_LITE, rates(4, 8), share=True, init=14,
                custom=dc_custom("med+avg")),
          Model("ALL + init 14", BEST3, rates(4, 8), logistic=2, lr=0.005, share=True,
                init=14, custom=dc_custom("med+avg")),
          Model("COMBO3 + rate 4/8 + learned mixer by j lr .002", BEST3, rates(4, 8),
                logistic=2, mixsel=MIXSEL),
          Model("sig mix3(current, j+dist, rich)", {SIG: [cur_sig, sig_dist_only, sig_rich]}),
          Model("COMBO2", BEST),
          Model("COMBO2 + rate 4/8", BEST, rates(4, 8)),
          Model("COMBO2 + rate 4/8 logistic", BEST, rates(4, 8), logistic=True),
          Model("COMBO2 + rate 4/8 + init 14", BEST, rates(4, 8), init=14),
          Model("COMBO2 + rate 4/8 logistic + init 14", BEST, rates(4, 8), logistic=True,
                init=14),
          Model("COMBO2 + rate 5/8 + init 14", BEST, rates(5, 8), init=14),
          Model("init 14 + rate 4/8, current contexts but EOB flags", {}, rates(4, 8),
                init=14, custom=eob_binarization2),
          ]
    return ms


if __name__ == "__main__":
    sys.exit(main())
