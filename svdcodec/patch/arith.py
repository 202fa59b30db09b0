"""The arithmetic-coded payload of the patch layout (spec section 13), pure Python reference.

Files whose ``HEAD`` has compression 2 (``arith``) store every ``PTCH`` payload as one stream
of an adaptive binary range coder (LZMA's, with 16-bit probabilities and count-driven
adaptation) instead of a zstd frame of byte symbols. Every bin's context is taken from data the
decoder already has, so the coder learns the plane's statistics as it goes: DC terms predicted
by LOCO-I's median predictor with a local-activity context, end-of-block counts with the
neighbours' counts, coefficient significance by component, neighbours and the patch's previous
components, magnitudes by the neighbours' magnitudes, signs by the neighbours' signs.

This module defines conformance: ``_patchc`` decodes and encodes the same bits in C. It is
slow (a few microseconds per binary decision) and meant for tests and small images. The syntax
is written once (:func:`_code_plane`) and run by both the encoder and the decoder: a coder's
``bit(ctx, b)`` writes ``b`` and returns it (encoder) or ignores ``b`` and returns the decoded
bit (decoder), so the two cannot drift apart.
"""

from __future__ import annotations

import numpy as np

from ..errors import CorruptError
from .symbols import PlaneCoefficients

# --- sections 13.1, 13.2: the binary range coder ---------------------------------------
PROB_BITS = 16  # probabilities of a 0 bit in units of 2^-16
PROB_INIT = 1 << (PROB_BITS - 1)  # every context starts at 1/2
RATE_MAX = 6  # adaptation shift: min(bit_length(n + 2) - 1, RATE_MAX) after n updates
COUNT_MAX = (1 << RATE_MAX) - 2  # n stops here (the shift has reached RATE_MAX)
RANGE_INIT = 0xFFFFFFFF
RANGE_TOP = 1 << 24  # renormalize (shift in one byte) while range < 2^24
INIT_BYTES = 4  # the decoder's code register starts as the first 4 payload bytes
RATE = [min((n + 2).bit_length() - 1, RATE_MAX) for n in range(COUNT_MAX + 1)]

# --- sections 13.1, 13.3: binarization ------------------------------------------------
UINT_PREFIX = 8  # contexts of the unary prefix (bin i uses min(i, 7))
UINT_SUFFIX_G = 6  # suffix contexts by min(g - 1, 5) ...
UINT_SUFFIX_I = 3  # ... and min(i, 2), i counting from the most significant suffix bit
UINT_SET = UINT_PREFIX + UINT_SUFFIX_G * UINT_SUFFIX_I  # contexts of one unsigned-integer set
UINT_MAX_G = 31  # a prefix longer than 31 ones is corrupt: values stay below 2^32 - 1
SIGNED_SET = 2 + UINT_SET  # zero flag, sign, magnitude - 1
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


# --- the coder ---------------------------------------------------------------------------
class _Contexts:
    """Every context's probability of a 0 bin and how often it was coded (section 13.2): the
    model the encoder and the decoder adapt alike."""

    def __init__(self) -> None:
        self.p = [PROB_INIT] * CONTEXTS
        self.n = [0] * CONTEXTS

    def _adapt(self, ctx: int, bit: int) -> None:
        """After coding ``bit`` in ``ctx``: move p by a shift that grows with its count."""
        p = self.p[ctx]
        n = self.n[ctx]
        s = RATE[n]
        if n < COUNT_MAX:
            self.n[ctx] = n + 1
        self.p[ctx] = p - (p >> s) if bit else p + (((1 << PROB_BITS) - p) >> s)


class Encoder(_Contexts):
    """LZMA's range encoder: low (33 bits with the carry), range, a pending byte and a run of
    0xFF bytes a carry may still change."""

    def __init__(self) -> None:
        super().__init__()
        self.low = 0
        self.range = RANGE_INIT
        self.cache = 0
        self.cache_size = 1
        self.out = bytearray()

    def bit(self, ctx: int, b: int) -> int:
        bound = (self.range >> PROB_BITS) * self.p[ctx]
        if b:
            self.low += bound
            self.range -= bound
        else:
            self.range = bound
        self._adapt(ctx, b)
        while self.range < RANGE_TOP:
            self.range <<= 8
            self._shift_low()
        return 1 if b else 0

    def _shift_low(self) -> None:
        if self.low < 0xFF000000 or self.low >= 1 << 32:
            carry = self.low >> 32
            temp = self.cache
            while True:
                self.out.append((temp + carry) & 0xFF)
                temp = 0xFF
                self.cache_size -= 1
                if not self.cache_size:
                    break
            self.cache = (self.low >> 24) & 0xFF
        self.cache_size += 1
        self.low = (self.low & 0x00FFFFFF) << 8

    def finish(self) -> bytes:
        for _ in range(5):
            self._shift_low()
        if self.out[0] != 0:  # pragma: no cover - the interval starts below 2^32
            raise AssertionError("range coder: first byte is not 0")
        return bytes(self.out[1:])  # the decoder never reads the leading 0


class Decoder(_Contexts):
    """Section 13.2: the range decoder. Reading past the payload raises CorruptError."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        if len(data) < INIT_BYTES:
            raise CorruptError(f"PTCH arith payload: expected at least {INIT_BYTES} bytes, "
                               f"got {len(data)}")
        self.data = data
        self.pos = INIT_BYTES
        self.code = int.from_bytes(data[:INIT_BYTES], "big")
        self.range = RANGE_INIT

    def bit(self, ctx: int, b: int = 0) -> int:
        bound = (self.range >> PROB_BITS) * self.p[ctx]
        if self.code < bound:
            self.range = bound
            bit = 0
        else:
            self.code -= bound
            self.range -= bound
            bit = 1
        self._adapt(ctx, bit)
        while self.range < RANGE_TOP:
            if self.pos >= len(self.data):
                raise CorruptError("PTCH arith payload ends early")
            self.range = (self.range << 8) & 0xFFFFFFFF
            self.code = ((self.code << 8) | self.data[self.pos]) & 0xFFFFFFFF
            self.pos += 1
        return bit

    def finish(self) -> None:
        if self.pos != len(self.data):
            raise CorruptError(f"PTCH arith payload: {len(self.data) - self.pos} bytes after "
                               f"the last symbol")


Coder = Encoder | Decoder


# --- binarization (section 13.3) ---------------------------------------------------------------
def code_uint(c: Coder, v: int, base: int) -> int:
    """v >= 0 as Exp-Golomb with adaptive bins: g ones and a zero (g = bit_length(v + 1) - 1),
    then the g bits of v + 1 below its leading one, most significant first."""
    t = (v + 1).bit_length() - 1
    g = 0
    while c.bit(base + min(g, UINT_PREFIX - 1), g < t):
        g += 1
        if g > UINT_MAX_G:
            raise CorruptError("PTCH arith payload: integer prefix longer than 31")
    x = 1
    if g:
        row = base + UINT_PREFIX + min(g - 1, UINT_SUFFIX_G - 1) * UINT_SUFFIX_I
        for i in range(g):
            x = (x << 1) | c.bit(row + min(i, UINT_SUFFIX_I - 1), ((v + 1) >> (g - 1 - i)) & 1)
    return x - 1


def code_sint(c: Coder, v: int, base: int) -> int:
    """A signed integer: a zero flag, a sign (1: negative), then |v| - 1 as an unsigned."""
    if not c.bit(base, v != 0):
        return 0
    negative = c.bit(base + 1, v < 0)
    m = code_uint(c, abs(v) - 1, base + 2) + 1
    return -m if negative else m


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
