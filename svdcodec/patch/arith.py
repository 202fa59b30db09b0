"""The arithmetic-coded payload of the patch layout (spec section 13), pure Python reference.

Files whose ``HEAD`` has compression 2 (``arith``) store every ``PTCH`` payload as one stream
of an adaptive binary range coder (LZMA's, with 16-bit probabilities and count-driven
adaptation) instead of a zstd frame of byte symbols. Every bin's context is taken from data the
decoder already has, so the coder learns the plane's statistics as it goes: DC terms predicted
by LOCO-I's median predictor with a local-activity context, end-of-block counts with the
neighbours' counts, coefficient significance by component, neighbours and the patch's previous
components, magnitudes by the neighbours' magnitudes, signs by the neighbours' signs.

This module defines conformance, with :mod:`.rangecoder` (the binary range coder and the
binarization of integers, sections 13.1-13.3): ``_patchc`` decodes and encodes the same bits in
C. It is slow (a few microseconds per binary decision) and meant for tests and small images.
The syntax is written once (:func:`_code_plane`) and run by both the encoder and the decoder: a
coder's ``bit(ctx, b)`` writes ``b`` and returns it (encoder) or ignores ``b`` and returns the
decoded bit (decoder), so the two cannot drift apart.
"""

from __future__ import annotations

import numpy as np

from ..errors import CorruptError
from .rangecoder import (
    SIGNED_SET,
    UINT_SET,
    RangeDecoder,
    RangeEncoder,
    code_sint,
    code_uint,
)
from .symbols import PlaneCoefficients

# section 13.5: |DC term| <= DC_MAX and |coefficient| <= COEFFICIENT_MAX, so that a decoder
# may transcode the plane to the byte symbols of section 12.3 (255 + escape < 2^31)
DC_MAX = 2**29 - 1
COEFFICIENT_MAX = 2**30 - 1
MULTIPLIER_MAX = 2**32 - 1

# --- section 13.4: context sets, in the order of the context array --------------------------
DC_CLASSES = 10  # min(bit_length(activity), 9)
DC_NEIGHBOURS = 2  # whether the left and upper patches' counts sum to 0 (0) or not (1)
COUNT_CLASSES = 12  # bucket(neighbour counts), capped at 11
J_CLASSES = 13  # bucket(j), capped at 12
SIG_NEIGHBOURS = 5  # s(left) + s(up), each 0 (absent or count <= j), 1 (zero), 2 (non-zero)
SIG_PREVIOUS = 3  # non-zero among the patch's components j - 1 and j - 2
MAG_J = 7  # min(bucket(j), 6)
MAG_NEIGHBOURS = 5  # |q left| + |q up| -> 0, 1, 2, 3 (3..4), 4 (5 and more)
SIGN_J = 4  # min(j, 3)
SIGN_NEIGHBOURS = 9  # 3 sign(left) + sign(up), each 0 (zero or absent), 1 (> 0), 2 (< 0)

CTX_MULT_FIRST = 0  # m_0 - 1, an unsigned set
CTX_MULT_DELTA = CTX_MULT_FIRST + UINT_SET  # m_j - m_(j-1), a signed set
CTX_PARITY = CTX_MULT_DELTA + SIGNED_SET  # bit 0; bit 1 after a 0; bit 1 after a 1
CTX_BASIS = CTX_PARITY + 3  # quarter entries, a signed set
CTX_DC = CTX_BASIS + SIGNED_SET  # DC residuals: a signed set per activity class
CTX_COUNT = CTX_DC + DC_CLASSES * DC_NEIGHBOURS * SIGNED_SET  # counts: an unsigned set per class
CTX_SIG = CTX_COUNT + COUNT_CLASSES * UINT_SET  # significance flags
CTX_MAG = CTX_SIG + J_CLASSES * SIG_NEIGHBOURS * SIG_PREVIOUS  # |q| - 1: unsigned sets
CTX_SIGN = CTX_MAG + MAG_J * MAG_NEIGHBOURS * UINT_SET  # signs
CONTEXTS = CTX_SIGN + SIGN_J * SIGN_NEIGHBOURS


def bucket(t: int) -> int:
    """Half-octave bucket of t >= 0: 0, 1, 2, 3, then two buckets per octave
    (4-5: 4, 6-7: 5, 8-11: 6, 12-15: 7, 16-23: 8, ...).

    >>> [bucket(t) for t in (0, 3, 4, 5, 6, 8, 12, 16, 24, 32)]
    [0, 3, 4, 4, 5, 6, 7, 8, 9, 10]
    """
    if t < 4:
        return t
    b = t.bit_length()
    return 2 * b - 2 + ((t >> (b - 2)) & 1)


def med(a: int, b: int, c: int) -> int:
    """LOCO-I's median edge detector: the median of a, b and a + b - c."""
    if c >= max(a, b):
        return min(a, b)
    if c <= min(a, b):
        return max(a, b)
    return a + b - c



class Encoder(RangeEncoder):
    """The range encoder over every context of section 13.4."""

    def __init__(self) -> None:
        super().__init__(CONTEXTS)


class Decoder(RangeDecoder):
    """The range decoder over every context of section 13.4; reading past the payload raises
    CorruptError."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data, CONTEXTS)


Coder = Encoder | Decoder


# --- the plane syntax (sections 13.4, 13.5) -------------------------------------------
def _code_header(c: Coder, k: int, hh: int, pc: PlaneCoefficients | None
                 ) -> tuple[list[int], list[int], list[int]]:
    mult, par, quarter = [], [], []
    src_m = pc.multipliers.tolist() if pc else [0] * k
    src_p = pc.parities.tolist() if pc else [0] * k
    src_b = pc.basis.reshape(-1).tolist() if pc else [0] * (k * hh)
    prev = 0
    for j in range(k):
        if j == 0:
            m = code_uint(c, src_m[0] - 1, CTX_MULT_FIRST) + 1
        else:
            m = prev + code_sint(c, src_m[j] - prev, CTX_MULT_DELTA)
        if not 1 <= m <= MULTIPLIER_MAX:
            raise CorruptError(f"PTCH multiplier {j}: expected 1..{MULTIPLIER_MAX}, got {m}")
        mult.append(m)
        prev = m
        b0 = c.bit(CTX_PARITY, src_p[j] & 1)
        b1 = c.bit(CTX_PARITY + 1 + b0, src_p[j] >> 1)
        par.append(b0 | b1 << 1)
        nonzero = False
        for i in range(hh):
            v = code_sint(c, src_b[j * hh + i], CTX_BASIS)
            if not -127 <= v <= 127:
                raise CorruptError(f"PTCH basis entries must lie in -127..127, got {v}")
            nonzero |= v != 0
            quarter.append(v)
        if not nonzero:
            raise CorruptError("PTCH basis vectors must not be zero")
    return mult, par, quarter


def _code_plane(c: Coder, k: int, half: int, gh: int, gw: int,  # noqa: C901 - 13.5 in order
                pc: PlaneCoefficients | None) -> PlaneCoefficients:
    """Run the syntax of one plane through the coder ``c`` (values from ``pc`` when encoding)."""
    hh = half * half
    mult, par, quarter = _code_header(c, k, hh, pc)
    n_patches = gh * gw
    # the values to encode; empty when decoding (read only under `if pc`)
    src_dc: list[int] = pc.dc.reshape(-1).tolist() if pc else []
    src_q: list[list[int]] = pc.q.tolist() if pc else []
    src_c: list[int] = pc.counts.tolist() if pc else []
    dc = [0] * n_patches
    counts = [0] * n_patches
    q = np.zeros((n_patches, k), dtype=np.int64)
    above: list[list[int]] = []  # the previous patch row's coefficients, for the contexts
    for gy in range(gh):
        current: list[list[int]] = []
        for gx in range(gw):
            n = gy * gw + gx
            left = n - 1 if gx else -1
            up = n - gw if gy else -1
            if left >= 0 and up >= 0:
                t = counts[left] + counts[up]
            elif left >= 0 or up >= 0:
                t = 2 * counts[max(left, up)]
            else:
                t = 0
            # 1. DC term (section 13.5)
            if gx and gy:
                a, b, cc = dc[n - 1], dc[n - gw], dc[n - gw - 1]
                pred, act = med(a, b, cc), abs(a - cc) + abs(b - cc)
            else:
                pred = dc[n - 1] if gx else (dc[n - gw] if gy else 0)
                act = 0
            base = CTX_DC + (min(act.bit_length(), DC_CLASSES - 1) * DC_NEIGHBOURS
                             + (t > 0)) * SIGNED_SET
            r = code_sint(c, (src_dc[n] - pred) if pc else 0, base)
            d = pred + r
            if abs(d) > DC_MAX:
                raise CorruptError(f"PTCH DC term {d} out of range")
            dc[n] = d
            # 2. count
            cls = min(bucket(t), COUNT_CLASSES - 1)
            cnt = code_uint(c, src_c[n] if pc else 0, CTX_COUNT + cls * UINT_SET)
            if cnt > k:
                raise CorruptError(f"PTCH counts must be <= components {k}, got {cnt}")
            counts[n] = cnt
            # 3. coefficients
            row = [0] * k
            current.append(row)
            src = src_q[n] if pc else None
            ql = current[gx - 1] if gx else None
            qu = above[gx] if gy else None
            cl = counts[left] if left >= 0 else 0
            cu = counts[up] if up >= 0 else 0
            for j in range(cnt):
                vl = ql[j] if ql is not None else 0
                vu = qu[j] if qu is not None else 0
                jb = min(bucket(j), J_CLASSES - 1)
                if j < cnt - 1:
                    sl = 0 if j >= cl else (2 if vl else 1)
                    su = 0 if j >= cu else (2 if vu else 1)
                    prev = (j >= 1 and row[j - 1] != 0) + (j >= 2 and row[j - 2] != 0)
                    ctx = CTX_SIG + (jb * SIG_NEIGHBOURS + sl + su) * SIG_PREVIOUS + prev
                    if not c.bit(ctx, src[j] != 0 if src else 0):
                        continue
                mn = abs(vl) + abs(vu)
                mcls = mn if mn < 3 else (3 if mn < 5 else 4)
                mbase = CTX_MAG + (min(jb, MAG_J - 1) * MAG_NEIGHBOURS + mcls) * UINT_SET
                m = code_uint(c, abs(src[j]) - 1 if src else 0, mbase) + 1
                if m > COEFFICIENT_MAX:
                    raise CorruptError(f"PTCH coefficient magnitude {m} out of range")
                sgn = (0 if vl == 0 else (1 if vl > 0 else 2)) * 3 + \
                      (0 if vu == 0 else (1 if vu > 0 else 2))
                if c.bit(CTX_SIGN + min(j, SIGN_J - 1) * SIGN_NEIGHBOURS + sgn,
                         src[j] < 0 if src else 0):
                    m = -m
                row[j] = m
            q[n, :cnt] = row[:cnt]
        above = current
    return PlaneCoefficients(np.array(mult, dtype=np.int64), np.array(par, dtype=np.int64),
                             np.array(quarter, dtype=np.int64).astype(np.int8)
                             .reshape(k, half, half),
                             np.array(dc, dtype=np.int64).reshape(gh, gw), q)


def encode_payload(pc: PlaneCoefficients) -> tuple[bytes, int]:
    """One plane's arithmetic-coded payload and its ac_symbols (the sum of the counts).

    The counts are taken from ``pc`` (one more than each patch's last non-zero coefficient).
    """
    k = pc.q.shape[1]
    half = pc.basis.shape[1] if k else 0
    gh, gw = pc.dc.shape
    enc = Encoder()
    _code_plane(enc, k, half, gh, gw, pc)
    return enc.finish(), int(pc.counts.sum())


def decode_payload(data: bytes, *, k: int, half: int, gh: int, gw: int,
                   ac_symbols: int) -> PlaneCoefficients:
    """Parse one arithmetic-coded payload (section 13); raises CorruptError on bad input."""
    dec = Decoder(data)
    pc = _code_plane(dec, k, half, gh, gw, None)
    dec.finish()
    total = int(pc.counts.sum()) if k else 0
    if total != ac_symbols:
        raise CorruptError(f"PTCH ac_symbols: counts sum to {total}, header says {ac_symbols}")
    pc.q = pc.q.astype(np.int32)
    return pc
