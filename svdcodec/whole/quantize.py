"""Factor quantization: (u, s, vt) arrays <-> component records (spec section 5).

float16 stores u and v as IEEE half floats; int8 stores each vector as a per-vector scale (f32)
times integers in -127..127. sigma is always float32. Records are written in rank order so that a
prefix of the payload is a lower-rank factorization.
"""

from __future__ import annotations

import numpy as np

from .. import format as fmt
from ..errors import CorruptError

# spec section 5: the factor types of the whole-image layouts, named as format.FACTOR_NAMES does
FACTOR_TYPES = tuple(name for ftype, name in fmt.FACTOR_NAMES.items()
                     if ftype != fmt.FactorType.COEFFICIENTS)
INT8_MAX = 127  # spec section 5: -128 is never written, so scales are symmetric


def record_dtype(rows: int, cols: int, factors: str) -> np.dtype:
    """The numpy dtype of one component record, packed (no alignment), little-endian."""
    if factors == "float16":
        return np.dtype([("s", "<f4"), ("u", "<f2", (rows,)), ("v", "<f2", (cols,))])
    if factors == "int8":
        return np.dtype([("s", "<f4"), ("a", "<f4"), ("b", "<f4"),
                         ("u", "i1", (rows,)), ("v", "i1", (cols,))])
    raise ValueError(f"factors must be one of {FACTOR_TYPES}, got {factors!r}")


def _to_int8(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Quantize the rows of x (k, n) to int8 with one scale per row."""
    peak = np.abs(x).max(axis=1)
    # A zero vector still needs a positive scale (spec: scales > 0); its integers are all 0.
    scale = np.where(peak > 0, peak / INT8_MAX, 1.0).astype(np.float32)
    q = np.rint(x / scale.astype(np.float64)[:, None])
    return np.clip(q, -INT8_MAX, INT8_MAX).astype(np.int8), scale


def quantize(u: np.ndarray, s: np.ndarray, vt: np.ndarray, factors: str) -> bytes:
    """Pack a factorization into k component records.

    Parameters
    ----------
    u : (m, k) array; s : (k,) non-increasing, >= 0; vt : (k, n) array.
    factors : "float16" or "int8".
    """
    k = s.shape[0]
    rows, cols = u.shape[0], vt.shape[1]
    rec = np.zeros(k, dtype=record_dtype(rows, cols, factors))
    rec["s"] = s
    if factors == "float16":
        rec["u"] = u.T
        rec["v"] = vt
    else:
        rec["u"], rec["a"] = _to_int8(u.T)
        rec["v"], rec["b"] = _to_int8(vt)
    return rec.tobytes()


def dequantize(raw: bytes, rows: int, cols: int, factors: str,
               dtype: np.dtype | type = np.float64
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unpack and validate records: returns u (m, k), s (k,), vt (k, n) of ``dtype``.

    ``dtype`` is float64 or float32 (spec section 7 allows either; float16 factors, sigma and
    the int8 scales are stored as f16/f32, so float32 holds all but the int8 products exactly).
    Raises CorruptError for values the spec forbids (section 5).
    """
    record = record_dtype(rows, cols, factors)
    if len(raw) % record.itemsize:
        raise CorruptError(f"payload of {len(raw)} bytes is not a whole number of "
                           f"{record.itemsize}-byte records")
    rec = np.frombuffer(raw, dtype=record)
    # A signalling NaN in the file makes casts and comparisons raise "invalid value" warnings
    # (errors under -W error); it is rejected below as CorruptError like any other NaN.
    with np.errstate(invalid="ignore"):
        return _dequantize(rec, factors, np.dtype(dtype))


def magnitude_bound(raw: bytes, rows: int, cols: int, factors: str) -> float:
    """A bound on the magnitude of every value the decoder forms from these records.

    Covers u, v, σ·u and every partial sum of ``Σ σ_c u_c[i] v_c[j]``, from sigma and the
    int8 scales alone (float16 vectors are taken at the largest float16), without a pass over
    the vectors. The decoder computes in float32 only when this is far below float32's range:
    a file may legally hold sigma = 3.4e38. NaN (an invalid file) compares as not below.
    """
    record = record_dtype(rows, cols, factors)
    rec = np.frombuffer(raw, dtype=record, count=len(raw) // record.itemsize)
    with np.errstate(over="ignore", invalid="ignore"):
        s = np.abs(rec["s"].astype(np.float64))
        if factors == "float16":
            a = b = np.full(s.shape, float(np.finfo(np.float16).max))
        else:
            a = np.abs(rec["a"].astype(np.float64)) * INT8_MAX
            b = np.abs(rec["b"].astype(np.float64)) * INT8_MAX
        if not s.size:
            return 0.0
        # np.max propagates NaN, where Python's max would depend on the order
        return float(np.max([a.max(), b.max(), (s * a).max(), np.sum(s * a * b)]))


def _dequantize(rec: np.ndarray, factors: str, dtype: np.dtype
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = rec["s"].astype(dtype)
    if not np.all(np.isfinite(s)) or np.any(s < 0) or np.any(np.diff(s) > 0):
        raise CorruptError("sigma must be finite, >= 0 and non-increasing")
    # u is built directly as the (m, k) C-contiguous array the decoder multiplies: converting
    # (k, m) and then transposing would hold two m x k copies, twice what the allocation limit
    # (spec section 8) counts.
    if factors == "float16":
        u = rec["u"].T.astype(dtype, order="C")
        v = rec["v"].astype(dtype)
        if not (np.all(np.isfinite(u)) and np.all(np.isfinite(v))):
            raise CorruptError("float16 factors must be finite")
    else:
        a, b = rec["a"].astype(dtype), rec["b"].astype(dtype)
        if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))
                and np.all(a > 0) and np.all(b > 0)):
            raise CorruptError("int8 scales must be finite and > 0")
        if np.any(rec["u"] == -128) or np.any(rec["v"] == -128):
            raise CorruptError("int8 factors must lie in -127..127")
        u = np.multiply(rec["u"].T, a, out=np.empty(rec["u"].shape[::-1], dtype))
        v = rec["v"] * b[:, None]
    return u, s, v
