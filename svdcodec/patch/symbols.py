"""Symbol streams of the patch layout (spec section 12.3): zigzag, escapes, DC prediction.

Signed integers are zigzag-mapped to unsigned ones (0, -1, 1, -2, ... -> 0, 1, 2, 3, ...) and
written one byte each; the byte 255 is an escape whose value is 255 plus the next ``u32`` of the
escape stream, so that zstd sees small, repetitive bytes and the rare large value costs four
bytes more. The DC-like coefficient of a patch is predicted by its left neighbour's: a running
sum undoes that without a Python loop. (LOCO-I's median predictor made the DC stream about 10 %
smaller, 0.4 % of the file, but needs a sequential loop that cost a fifth of the decode time.)
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..errors import CorruptError

ESCAPE = 255  # spec section 12.3: a symbol byte of 255 takes its value from the escape stream
ESCAPE_MAX = 2**31 - 1 - ESCAPE  # section 12.3: 255 + e < 2^31, so values fit an int32


def zigzag(v: np.ndarray) -> np.ndarray:
    """Signed -> unsigned: v >= 0 -> 2v, v < 0 -> -2v - 1 (int64 in, int64 out)."""
    v = np.asarray(v, dtype=np.int64)
    return np.where(v >= 0, 2 * v, -2 * v - 1)


def unzigzag(u: np.ndarray) -> np.ndarray:
    """Unsigned -> signed, the inverse of :func:`zigzag`."""
    u = np.asarray(u, dtype=np.int64)
    return (u >> 1) ^ -(u & 1)


def pack_symbols(values: np.ndarray) -> tuple[bytes, np.ndarray]:
    """Signed integers -> (symbol bytes, escape values as uint32).

    >>> pack_symbols(np.array([0, -1, 3, 200]))
    (b'\\x00\\x01\\x06\\xff', array([145], dtype=uint32))
    """
    u = zigzag(values)
    big = u >= ESCAPE
    escapes = u[big] - ESCAPE
    if escapes.size and int(escapes.max()) > ESCAPE_MAX:
        raise ValueError(f"value too large for an escape: {int(escapes.max())}")
    return np.minimum(u, ESCAPE).astype(np.uint8).tobytes(), escapes.astype(np.uint32)


def unpack_symbols(symbols: np.ndarray, escapes: np.ndarray) -> np.ndarray:
    """Symbol bytes and the escape values they use, in order -> signed int32 values.

    ``escapes`` MUST hold exactly one value per 255 byte (the caller checks the count); an
    escape value above ``ESCAPE_MAX`` raises CorruptError.

    >>> unpack_symbols(np.frombuffer(b'\\x00\\x01\\x06\\xff', np.uint8), np.array([145]))
    array([  0,  -1,   3, 200], dtype=int32)
    """
    if escapes.size and int(escapes.max()) > ESCAPE_MAX:
        raise CorruptError(f"escape value {int(escapes.max())} exceeds {ESCAPE_MAX}")
    u = symbols.astype(np.int32)
    u[symbols == ESCAPE] = ESCAPE + escapes.astype(np.int32)
    return (u >> 1) ^ -(u & 1)


def dc_residuals(grid: np.ndarray) -> np.ndarray:
    """Residuals of the DC grid against its left neighbour (first column: the one above; the
    first entry: 0), in raster order (spec section 12.4).

    >>> dc_residuals(np.array([[5, 6, 8], [4, 4, 3]]))
    array([ 5,  1,  2, -1,  0, -1])
    """
    grid = np.asarray(grid, dtype=np.int64)
    res = grid.copy()
    res[:, 1:] -= grid[:, :-1]
    res[1:, 0] -= grid[:-1, 0]
    return res.ravel()


def dc_reconstruct(residuals: np.ndarray, gh: int, gw: int) -> np.ndarray:
    """Undo :func:`dc_residuals`: running sums down the first column, then along each row.

    Residuals are below 2^30 in magnitude and gh + gw below 2^21, so int64 cannot overflow.
    """
    grid = residuals.astype(np.int64).reshape(gh, gw)
    np.cumsum(grid[:, 0], out=grid[:, 0])
    return np.cumsum(grid, axis=1, out=grid)


# --- the plane payload (spec section 12.3) ---------------------------------------------------
MULTIPLIER = np.dtype("<u4")
MAX_PARITY = 3  # bit 0: odd under a horizontal mirror, bit 1: under a vertical one


class PlaneCoefficients:
    """The decompressed content of one PTCH payload, as arrays.

    Attributes
    ----------
    multipliers : (k,) int64, m_j >= 1. parities : (k,) int64 in 0..3.
    basis : (k, h, h) int8, the top-left quarter of each basis vector (h = P / 2).
    dc : (gh, gw) int64, the quantized DC-like coefficient of every patch.
    q : (N, k) int32 (decoder) or int64 (encoder), the quantized coefficients of the N = gh gw
        patches in raster order.
    """

    def __init__(self, multipliers: np.ndarray, parities: np.ndarray, basis: np.ndarray,
                 dc: np.ndarray, q: np.ndarray) -> None:
        self.multipliers = multipliers
        self.parities = parities
        self.basis = basis
        self.dc = dc
        self.q = q

    @property
    def counts(self) -> np.ndarray:
        """Per patch: 1 + the index of its last non-zero coefficient (0 if none)."""
        k = self.q.shape[1]
        if k == 0:
            return np.zeros(len(self.q), dtype=np.int64)
        nz = self.q[:, ::-1] != 0
        return np.where(nz.any(axis=1), k - np.argmax(nz, axis=1), 0)


def pack_payload(pc: PlaneCoefficients) -> tuple[bytes, int, int]:
    """Serialize a plane: returns (raw payload, ac_symbols M, escapes E)."""
    counts = pc.counts
    k = pc.q.shape[1]
    mask = np.arange(k)[:, None] < counts[None, :]  # (k, N): component-major order
    dc_bytes, dc_esc = pack_symbols(dc_residuals(pc.dc))
    ac_bytes, ac_esc = pack_symbols(pc.q.T[mask])
    escapes = np.concatenate([dc_esc, ac_esc]).astype(MULTIPLIER)
    raw = b"".join([pc.multipliers.astype(MULTIPLIER).tobytes(),
                    pc.parities.astype(np.uint8).tobytes(), pc.basis.astype(np.int8).tobytes(),
                    dc_bytes, counts.astype(np.uint8).tobytes(), ac_bytes, escapes.tobytes()])
    return raw, len(ac_bytes), int(escapes.size)


def pack_payload_strips(multipliers: np.ndarray, parities: np.ndarray, basis: np.ndarray,
                        dc: np.ndarray, strips: Iterable[np.ndarray]) -> tuple[bytes, int, int]:
    """:func:`pack_payload` of a plane given as strips of coefficients (patch rows, in order):
    the same bytes, with one strip's dense coefficients at a time."""
    k = len(multipliers)
    counts_parts: list[bytes] = []
    ac_parts: list[list[bytes]] = [[] for _ in range(k)]  # component-major order
    esc_parts: list[list[np.ndarray]] = [[] for _ in range(k)]
    for q in strips:
        counts = PlaneCoefficients(multipliers, parities, basis, dc, q).counts
        counts_parts.append(counts.astype(np.uint8).tobytes())
        for j in range(k):
            symbols, esc = pack_symbols(q[counts > j, j])
            ac_parts[j].append(symbols)
            esc_parts[j].append(esc)
    dc_bytes, dc_esc = pack_symbols(dc_residuals(dc))
    ac_bytes = b"".join(part for parts in ac_parts for part in parts)
    escapes = np.concatenate([dc_esc, *(e for parts in esc_parts for e in parts)]) \
        .astype(MULTIPLIER)
    raw = b"".join([multipliers.astype(MULTIPLIER).tobytes(), parities.astype(np.uint8).tobytes(),
                    basis.astype(np.int8).tobytes(), dc_bytes, *counts_parts, ac_bytes,
                    escapes.tobytes()])
    return raw, len(ac_bytes), int(escapes.size)


def unpack_payload(raw: bytes, *, k: int, half: int, gh: int, gw: int, ac_symbols: int,
                   escapes: int) -> PlaneCoefficients:
    """Parse and validate a decompressed payload whose length the caller has checked."""
    buf = np.frombuffer(raw, dtype=np.uint8)
    n = gh * gw
    sizes = [4 * k, k, k * half * half, n, n, ac_symbols, 4 * escapes]
    if len(buf) != sum(sizes):
        raise CorruptError(f"PTCH payload: expected {sum(sizes)} bytes, got {len(buf)}")
    parts = np.split(buf, np.cumsum(sizes)[:-1])
    mult = parts[0].view(MULTIPLIER).astype(np.int64)
    parities = parts[1].astype(np.int64)
    basis = parts[2].view(np.int8).reshape(k, half, half)
    dc_sym, counts, ac_sym = parts[3], parts[4].astype(np.int64), parts[5]
    esc = parts[6].view(MULTIPLIER)
    if np.any(mult < 1):
        raise CorruptError("PTCH multipliers must be >= 1")
    if np.any(parities > MAX_PARITY):
        raise CorruptError(f"PTCH parities must be 0..{MAX_PARITY}, got {int(parities.max())}")
    if np.any(basis == -128):
        raise CorruptError("PTCH basis entries must lie in -127..127")
    if k and not np.all(basis.reshape(k, -1).any(axis=1)):
        raise CorruptError("PTCH basis vectors must not be zero")
    if np.any(counts > k):
        raise CorruptError(f"PTCH counts must be <= components {k}, got {int(counts.max())}")
    if int(counts.sum()) != ac_symbols:
        raise CorruptError(f"PTCH ac_symbols: counts sum to {int(counts.sum())}, header says "
                           f"{ac_symbols}")
    n_dc_esc = int(np.count_nonzero(dc_sym == ESCAPE))
    n_esc = n_dc_esc + int(np.count_nonzero(ac_sym == ESCAPE))
    if n_esc != escapes:
        raise CorruptError(f"PTCH escapes: symbols use {n_esc}, header says {escapes}")
    dc = dc_reconstruct(unpack_symbols(dc_sym, esc[:n_dc_esc]), gh, gw)
    q = np.zeros((k, n), dtype=np.int32)
    q[np.arange(k)[:, None] < counts[None, :]] = unpack_symbols(ac_sym, esc[n_dc_esc:])
    return PlaneCoefficients(mult, parities, basis, dc, q.T)
