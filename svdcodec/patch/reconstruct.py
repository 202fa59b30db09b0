"""The patch layout's normative decoder math (spec section 12): basis, exact reconstruction.

A plane (a channel, or a colour-transformed and possibly subsampled channel) is cut into P x P
patches; the matrix whose rows are the patches (N x P²) is approximated by a per-patch DC term
plus a few basis vectors learned from the image (its right singular vectors), so every patch is
``dc * 1/P + sum_j c_j v_j``. Basis vectors are mirror-symmetric or -antisymmetric in x and in y
and stored as their top-left quarter. The decoder's arithmetic is exact in integers: every
conforming decoder produces the same samples. The encoder's forward transforms, where any
reasonable choice conforms, are in :mod:`.transform`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import CorruptError

EXACT_LIMIT = 2**53  # spec section 12.5: integers below this are exact in float64
# spec section 12.7: JFIF YCbCr -> RGB in 16-bit fixed point (libjpeg's constants)
FIX_CR_R = 91881  # round(1.402 * 2^16)
FIX_CB_G = 22554  # round(0.344136 * 2^16)
FIX_CR_G = 46802  # round(0.714136 * 2^16)
FIX_CB_B = 116130  # round(1.772 * 2^16)
FIX_HALF = 1 << 15
# Products are split so that m * n * k stays at OpenBLAS's single-thread threshold (65536 * 4):
# its threads cost far more than these small products on a busy 2-core machine (measured 8 ms
# instead of 0.7 ms for a Kodak luma plane, and seconds with 4 processes on 2 cores).
GEMM_MNK = 1 << 18


# --- geometry ----------------------------------------------------------------------------------
def plane_shape(height: int, width: int, sx: int, sy: int) -> tuple[int, int]:
    """(rows, cols) of a plane subsampled by (sx, sy): ceil(H / sy) x ceil(W / sx)."""
    return -(-height // sy), -(-width // sx)


def grid_shape(rows: int, cols: int, p: int) -> tuple[int, int]:
    """(gh, gw): patches per column and per row."""
    return -(-rows // p), -(-cols // p)


def mirror(quarter: np.ndarray, parities: np.ndarray) -> np.ndarray:
    """(k, h, h) quarters and (k,) parities -> (k, (2h)²) full basis vectors (spec 12.4).

    Bit 0 of a parity: the vector is odd under x -> P-1-x; bit 1: odd under y -> P-1-y.
    """
    k, h, _ = quarter.shape
    q = quarter.astype(np.int64)
    sx = np.where(parities & 1, -1, 1)[:, None, None]
    sy = np.where(parities & 2, -1, 1)[:, None, None]
    full = np.empty((k, 2 * h, 2 * h), dtype=np.int64)
    full[:, :h, :h] = q
    full[:, :h, h:] = sx * q[:, :, ::-1]
    full[:, h:, :h] = sy * q[:, ::-1, :]
    full[:, h:, h:] = (sx * sy) * q[:, ::-1, ::-1]
    return full.reshape(k, 4 * h * h)


# --- reconstruction (spec section 12.5) ---------------------------------------------------------
def exactness_bound(dc: np.ndarray, q: np.ndarray, multipliers: np.ndarray, basis: np.ndarray,
                    dc_multiplier: int, shift: int, bit_depth: int) -> int:
    """Spec 12.5: a bound on every partial sum of the reconstruction, rounding and sample
    offset included (2^(F + bd) >= 2^(F-1) + 2^(bd-1) 2^F), in Python integers."""
    bound = (1 << (shift + bit_depth)) + int(np.abs(dc).max(initial=0)) * dc_multiplier
    if q.shape[1]:
        qmax = np.abs(q).max(axis=0).tolist()
        bmax = np.abs(basis).reshape(len(qmax), -1).max(axis=1).tolist()
        bound += sum(a * int(m) * b for a, m, b in zip(qmax, multipliers.tolist(), bmax,
                                                        strict=True))
    return bound


def reconstruct(dc: np.ndarray, q: np.ndarray, multipliers: np.ndarray, full_basis: np.ndarray,
                dc_multiplier: int, shift: int, p: int, bit_depth: int,
                strip: int = 1024) -> np.ndarray:
    """Exact integer reconstruction of the padded (gh P, gw P) plane, int32 samples.

    sample = clip(2^(bd-1) + ((dc m_dc + sum_j q_j m_j b_j + 2^(F-1)) >> F), 0, 2^bd - 1).
    The caller has checked :func:`exactness_bound` < 2^53, so the sum is exact in float64 as
    sum of (q_j m_j 2^-F) b_j + dc m_dc 2^-F: scaling by a power of two is exact and every
    partial sum is a multiple of 2^-F below 2^(53-F), so BLAS may add in any order. Adding
    1/2 + 2^(bd-1) and clipping to [0, 2^bd - 1] before truncating to an integer gives the
    floor: truncation differs from it only below 0, where both clip to 0.
    Works about ``strip`` patches (whole patch rows) at a time to bound the temporaries.
    """
    gh, gw = dc.shape
    k = q.shape[1]
    plane = np.empty((gh, p, gw, p), dtype=np.int32)
    basis = np.ones((k + 1, p * p))
    basis[:k] = full_basis
    scale = np.append(multipliers.astype(np.float64), float(dc_multiplier)) * 2.0**-shift
    top = float((1 << bit_depth) - 1)
    offset = 0.5 + (1 << (bit_depth - 1))
    dc_flat = dc.reshape(-1)
    rows = max(1, strip // gw)
    chunk = max(8, GEMM_MNK // (p * p * (k + 1)))
    for gy in range(0, gh, rows):
        nr = min(rows, gh - gy)
        sl = slice(gy * gw, (gy + nr) * gw)
        w = np.empty((nr * gw, k + 1))
        w[:, :k] = q[sl]
        w[:, k] = dc_flat[sl]
        w *= scale
        w[:, k] += offset
        acc = np.empty((nr * gw, p * p))
        for a in range(0, len(w), chunk):
            np.matmul(w[a:a + chunk], basis, out=acc[a:a + chunk])
        np.maximum(acc, 0.0, out=acc)
        np.minimum(acc, top, out=acc)
        np.copyto(plane[gy:gy + nr], acc.reshape(nr, gw, p, p).transpose(0, 2, 1, 3),
                  casting="unsafe")
    return plane.reshape(gh * p, gw * p)


def deblock(plane: np.ndarray, p: int, alpha: int, beta: int, tc: int, bit_depth: int) -> None:
    """In-place deblocking of a padded int32 plane (spec section 12.6): first every vertical
    edge (x a multiple of P), then every horizontal one, each pass reading the previous result.

    At an edge p1 p0 | q0 q1, if |p0-q0| < alpha, |p1-p0| < beta and |q1-q0| < beta:
    d = clip((4(q0-p0) + (p1-q1) + 4) >> 3, -tc, tc), e = d / 2 truncated towards zero;
    p1 += e, p0 += d, q0 -= d, q1 -= e, each clipped to the plane's range.
    """
    if alpha == 0:
        return
    rows, cols = plane.shape
    across = plane.reshape(rows, cols // p, p)  # vertical edges: between patches along x
    _filter(across, np.s_[:, :-1, p - 2], np.s_[:, :-1, p - 1], np.s_[:, 1:, 0], np.s_[:, 1:, 1],
            alpha, beta, tc, bit_depth)
    down = plane.reshape(rows // p, p, cols)  # horizontal edges: between patches along y
    _filter(down, np.s_[:-1, p - 2], np.s_[:-1, p - 1], np.s_[1:, 0], np.s_[1:, 1],
            alpha, beta, tc, bit_depth)


def _filter(v: np.ndarray, s_p1: Any, s_p0: Any, s_q0: Any, s_q1: Any, alpha: int, beta: int,
            tc: int, bit_depth: int) -> None:
    """One deblocking pass on the four sample views of every edge (views into the plane)."""
    p1, p0, q0, q1 = v[s_p1], v[s_p0], v[s_q0], v[s_q1]
    if p0.size == 0:
        return
    step = q0 - p0
    on = (np.abs(step) < alpha) & (np.abs(p1 - p0) < beta) & (np.abs(q1 - q0) < beta)
    d = (4 * step + (p1 - q1) + 4) >> 3
    np.clip(d, -tc, tc, out=d)
    d *= on
    e = d - (d >> 31)  # add 1 to negative d, so that the shift truncates towards zero
    e >>= 1
    lo, hi = 0, (1 << bit_depth) - 1
    v[s_p1] = np.clip(p1 + e, lo, hi)
    v[s_p0] = np.clip(p0 + d, lo, hi)
    v[s_q0] = np.clip(q0 - d, lo, hi)
    v[s_q1] = np.clip(q1 - e, lo, hi)


def upsample_rows(plane: np.ndarray, sx: int, sy: int, rows: int, cols: int, y0: int, y1: int,
                  width: int) -> np.ndarray:
    """Image rows y0..y1 (y0 even) of a plane at full resolution, int32 (spec section 12.7).

    ``rows`` x ``cols`` is the plane's size before padding; a subsampled axis is doubled with
    the triangle filter: sample 2i gets 3 c[i] + c[i-1], sample 2i+1 gets 3 c[i] + c[i+1]
    (neighbours clamped to the plane), then (sum + 2^(s-1)) >> s with s = 2 per doubled axis.
    """
    if sy == 2:
        c0, c1 = y0 // 2, (y1 + 1) // 2
        src = plane[max(c0 - 1, 0):min(c1 + 1, rows), :cols]
        parts = [src[:1]] if c0 == 0 else []  # clamp at the plane's edges
        parts.append(src)
        if c1 >= rows:
            parts.append(src[-1:])
        ext = np.concatenate(parts) if len(parts) > 1 else src
        mid = 3 * ext[1:-1]
        out = np.empty((2 * (c1 - c0), cols), dtype=np.int32)
        np.add(mid, ext[:-2], out=out[0::2])
        np.add(mid, ext[2:], out=out[1::2])
        out = out[:y1 - y0]
    else:
        out = plane[y0:y1, :cols]
    if sx == 2:
        ext = np.concatenate([out[:, :1], out, out[:, -1:]], axis=1)
        mid = 3 * ext[:, 1:-1]
        wide = np.empty((out.shape[0], 2 * cols), dtype=np.int32)
        np.add(mid, ext[:, :-2], out=wide[:, 0::2])
        np.add(mid, ext[:, 2:], out=wide[:, 1::2])
        out = wide[:, :width]
    else:
        out = out[:, :width]
    shift = 2 * ((sx == 2) + (sy == 2))
    if shift:
        out = (out + (1 << (shift - 1))) >> shift
    return out


def ycbcr_to_rgb(y: np.ndarray, cb: np.ndarray, cr: np.ndarray, out: np.ndarray) -> None:
    """int32 Y, Cb, Cr (0..255) -> out[..., :3] uint8, libjpeg's fixed point (spec 12.7).

    R = Y + ((91881 (Cr - 128) + 2^15) >> 16), G = Y + ((-22554 (Cb - 128) - 46802 (Cr - 128)
    + 2^15) >> 16), B = Y + ((116130 (Cb - 128) + 2^15) >> 16), clipped to 0..255; the -128
    offsets are folded into the constants.
    """
    terms = ((FIX_CR_R * cr + (FIX_HALF - 128 * FIX_CR_R)) >> 16,
             (-FIX_CB_G * cb - FIX_CR_G * cr + (FIX_HALF + 128 * (FIX_CB_G + FIX_CR_G))) >> 16,
             (FIX_CB_B * cb + (FIX_HALF - 128 * FIX_CB_B)) >> 16)
    for c, term in enumerate(terms):
        term += y
        np.maximum(term, 0, out=term)  # np.clip's Python wrapper costs more than the pass
        np.minimum(term, 255, out=term)
        out[..., c] = term


def check_exact(bound: int) -> None:
    """Spec section 12.5: a file whose accumulators could reach 2^53 is rejected."""
    if bound >= EXACT_LIMIT:
        raise CorruptError(f"PTCH values too large: accumulator bound {bound} >= 2^53")
