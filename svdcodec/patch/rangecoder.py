"""The adaptive binary range coder of the arithmetic-coded payload (spec sections 13.1-13.3),
pure Python reference: LZMA's range coder with 16-bit probabilities and count-driven adaptation,
and the binarization of integers (Exp-Golomb with adaptive bins) into its binary decisions.

A coder's ``bit(ctx, b)`` writes ``b`` and returns it (:class:`RangeEncoder`) or ignores ``b``
and returns the decoded bit (:class:`RangeDecoder`), so that one syntax run by both cannot
drift apart. The contexts are numbered by the syntax that uses them (:mod:`.arith`, section
13.4); the coder is given their count.
"""

from __future__ import annotations

from ..errors import CorruptError

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


class ContextModel:
    """Every context's probability of a 0 bin and how often it was coded (section 13.2): the
    model the encoder and the decoder adapt alike; ``contexts``: how many there are."""

    def __init__(self, contexts: int) -> None:
        self.p = [PROB_INIT] * contexts
        self.n = [0] * contexts

    def _adapt(self, ctx: int, bit: int) -> None:
        """After coding ``bit`` in ``ctx``: move p by a shift that grows with its count."""
        p = self.p[ctx]
        n = self.n[ctx]
        s = RATE[n]
        if n < COUNT_MAX:
            self.n[ctx] = n + 1
        self.p[ctx] = p - (p >> s) if bit else p + (((1 << PROB_BITS) - p) >> s)


class RangeEncoder(ContextModel):
    """LZMA's range encoder: low (33 bits with the carry), range, a pending byte and a run of
    0xFF bytes a carry may still change."""

    def __init__(self, contexts: int) -> None:
        super().__init__(contexts)
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


class RangeDecoder(ContextModel):
    """Section 13.2: the range decoder. Reading past the payload raises CorruptError."""

    def __init__(self, data: bytes, contexts: int) -> None:
        super().__init__(contexts)
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


Coder = RangeEncoder | RangeDecoder


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


