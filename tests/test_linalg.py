"""Tests for svdcodec.whole.linalg (truncated SVD backends) and svdcodec.whole.rank (rank
selection), which share this file's test matrices."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage
from hypothesis import given, settings
from hypothesis import strategies as st

from svdcodec.whole import rank
from svdcodec.whole.linalg import METHODS, truncated_svd
from svdcodec.whole.rank import select_rank

EXACT = ("gesdd", "gesvd")


def _orthonormal(m: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Random (m, n) matrix with orthonormal columns, m >= n."""
    q, _ = np.linalg.qr(rng.standard_normal((m, n)))
    return q


def _with_spectrum(m: int, n: int, s: np.ndarray, seed: int = 0) -> np.ndarray:
    """Random (m, n) matrix whose singular values are ``s`` (padded with zeros)."""
    rng = np.random.default_rng(seed)
    r = min(m, n)
    d = np.zeros(r)
    d[: len(s)] = s
    return (_orthonormal(m, r, rng) * d) @ _orthonormal(n, r, rng).T


def _decaying(m: int, n: int, ratio: float = 0.8, seed: int = 0) -> np.ndarray:
    """Well-separated, fast-decaying spectrum: every backend is close to exact on it."""
    return _with_spectrum(m, n, 100.0 * ratio ** np.arange(min(m, n)), seed)


def _smooth_image(m: int = 300, n: int = 400, seed: int = 0) -> np.ndarray:
    """Synthetic photograph: separable gradients, a blurred random field and sensor noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:m, 0:n] / np.array([m, n])[:, None, None]
    img = 100 + 60 * x + 40 * y**2 + 30 * np.sin(6 * x) * np.cos(4 * y)
    img += 400 * scipy.ndimage.gaussian_filter(rng.standard_normal((m, n)), 6)
    return img + rng.normal(0, 2, (m, n))


def _assert_orthonormal_columns(q: np.ndarray, atol: float = 1e-10) -> None:
    np.testing.assert_allclose(q.T @ q, np.eye(q.shape[1]), atol=atol)


def _assert_factors(x: np.ndarray, k: int, u: np.ndarray, s: np.ndarray, vt: np.ndarray) -> None:
    m, n = x.shape
    assert u.shape == (m, k) and s.shape == (k,) and vt.shape == (k, n)
    assert u.dtype == s.dtype == vt.dtype == np.float64
    assert np.all(s >= 0) and np.all(np.diff(s) <= 0)


def _smallest_k(x: np.ndarray, target: float) -> int:
    """Brute force: smallest k with sum(sigma[:k]**2) >= target, from numpy's full SVD."""
    cumulative = np.cumsum(np.linalg.svd(x, compute_uv=False) ** 2)
    return int(np.flatnonzero(cumulative >= target)[0]) + 1


def _midpoint_target(x: np.ndarray, k: int) -> float:
    """A cumulative energy strictly between ranks k-1 and k, far from rounding."""
    cumulative = np.cumsum(np.linalg.svd(x, compute_uv=False) ** 2)
    return float((cumulative[k - 2] + cumulative[k - 1]) / 2)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("shape", [(60, 40), (40, 60)])
def test_factors_orthonormal_sorted_and_exact(method: str, shape: tuple[int, int]) -> None:
    x = _decaying(*shape)
    k = 12
    u, s, vt = truncated_svd(x, k, method=method)
    _assert_factors(x, k, u, s, vt)
    _assert_orthonormal_columns(u)
    _assert_orthonormal_columns(vt.T)
    expected = np.linalg.svd(x, compute_uv=False)[:k]
    # gram loses about sqrt(eps) relative to s[0]; the others are exact on this spectrum
    atol = 1e-7 * expected[0] if method == "gram" else 1e-10 * expected[0]
    np.testing.assert_allclose(s, expected, rtol=1e-9, atol=atol)


@pytest.mark.parametrize("method", METHODS)
def test_same_sign_convention_for_every_method(method: str) -> None:
    x = _decaying(50, 30)
    u, _, vt = truncated_svd(x, 8, method=method)
    rows = np.argmax(np.abs(u), axis=0)
    assert np.all(u[rows, np.arange(8)] > 0)
    # the convention makes the backends agree on the vectors, not just on the subspace
    u_ref, _, vt_ref = truncated_svd(x, 8, method="gesdd")
    np.testing.assert_allclose(u, u_ref, atol=1e-6)
    np.testing.assert_allclose(vt, vt_ref, atol=1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_deterministic_bitwise(method: str) -> None:
    x = _smooth_image(160, 120)
    first = truncated_svd(x, 10, method=method, seed=3)
    second = truncated_svd(x.copy(), 10, method=method, seed=3)
    for a, b in zip(first, second, strict=True):
        assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("method", EXACT)
@pytest.mark.parametrize("k", [1, 5, 29, 30])
def test_eckart_young_error_for_exact_methods(method: str, k: int) -> None:
    x = np.random.default_rng(1).standard_normal((45, 30))
    u, s, vt = truncated_svd(x, k, method=method)
    sigma = np.linalg.svd(x, compute_uv=False)
    err = np.linalg.norm(x - (u * s) @ vt)
    assert err == pytest.approx(np.sqrt(np.sum(sigma[k:] ** 2)), rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("method", ["randomized", "auto"])
@pytest.mark.parametrize("k", [5, 20, 50])
def test_randomized_error_close_to_exact_on_smooth_image(method: str, k: int) -> None:
    x = _smooth_image()
    sigma = np.linalg.svd(x, compute_uv=False)
    exact = np.sqrt(np.sum(sigma[k:] ** 2))
    u, s, vt = truncated_svd(x, k, method=method)
    assert np.linalg.norm(x - (u * s) @ vt) <= 1.005 * exact


def test_randomized_recovers_exact_low_rank() -> None:
    x = _with_spectrum(120, 90, np.array([50.0, 20.0, 7.0, 3.0, 1.0]))
    u, s, vt = truncated_svd(x, 5, method="randomized", n_iter=0)
    np.testing.assert_allclose(s, [50.0, 20.0, 7.0, 3.0, 1.0], rtol=1e-10)
    np.testing.assert_allclose((u * s) @ vt, x, atol=1e-10)


def test_auto_dispatch() -> None:
    small = _decaying(40, 30)
    for a, b in zip(truncated_svd(small, 3), truncated_svd(small, 3, method="gesdd"), strict=True):
        assert np.array_equal(a, b)
    big = _smooth_image(300, 400)
    pairs = [(10, "randomized"), (61, "gesdd")]  # 0.2 * min(m, n) = 60
    for k, method in pairs:
        auto, chosen = truncated_svd(big, k), truncated_svd(big, k, method=method)
        for a, b in zip(auto, chosen, strict=True):
            assert np.array_equal(a, b)


def test_gesdd_falls_back_to_gesvd(monkeypatch: pytest.MonkeyPatch) -> None:
    x = _decaying(30, 20)
    expected = truncated_svd(x, 4, method="gesvd")

    def fail(*args: object, **kwargs: object) -> None:
        raise np.linalg.LinAlgError("SVD did not converge")

    monkeypatch.setattr(np.linalg, "svd", fail)
    for a, b in zip(truncated_svd(x, 4, method="gesdd"), expected, strict=True):
        np.testing.assert_array_equal(a, b)


def test_float32_input_gives_float64() -> None:
    x = _decaying(30, 20).astype(np.float32)
    u, s, vt = truncated_svd(x, 3, method="randomized")
    assert u.dtype == s.dtype == vt.dtype == np.float64
    np.testing.assert_allclose(s, np.linalg.svd(x.astype(np.float64), compute_uv=False)[:3])


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (7, 1), (6, 4), (4, 6)])
def test_edge_shapes_and_zeros(method: str, shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(2)
    for x in (rng.standard_normal(shape), np.zeros(shape)):
        k = min(shape)
        u, s, vt = truncated_svd(x, k, method=method)
        _assert_factors(x, k, u, s, vt)
        _assert_orthonormal_columns(u)
        _assert_orthonormal_columns(vt.T)
        np.testing.assert_allclose((u * s) @ vt, x, atol=1e-9)
        if not x.any():
            assert np.all(s == 0)


@pytest.mark.parametrize("k", [0, -1, 5])
def test_bad_k(k: int) -> None:
    with pytest.raises(ValueError, match=r"k must satisfy 1 <= k <= min\(m, n\) = 4"):
        truncated_svd(np.ones((4, 6)), k)


@pytest.mark.parametrize(
    "x", [np.ones(5), np.ones((2, 2, 2)), np.array(3.0), np.array([[1.0, np.nan]]),
          np.array([[1.0], [np.inf]])]
)
def test_bad_matrix(x: np.ndarray) -> None:
    with pytest.raises(ValueError, match="x must be"):
        truncated_svd(x, 1)


def test_bad_dtype_and_method() -> None:
    with pytest.raises(TypeError, match="real dtype"):
        truncated_svd(np.ones((2, 2), dtype=complex), 1)
    with pytest.raises(ValueError, match="method must be one of"):
        truncated_svd(np.ones((2, 2)), 1, method="lanczos")
    with pytest.raises(ValueError, match="n_iter"):
        truncated_svd(np.ones((2, 2)), 1, method="randomized", n_iter=-1)


@settings(deadline=None, max_examples=100)
@given(
    m=st.integers(1, 9),
    n=st.integers(1, 9),
    rank=st.integers(0, 9),
    seed=st.integers(0, 2**16),
    method=st.sampled_from(METHODS),
    data=st.data(),
)
def test_shape_properties(
    m: int, n: int, rank: int, seed: int, method: str, data: st.DataObject
) -> None:
    rng = np.random.default_rng(seed)
    # product of random factors: exact rank min(rank, m, n), including rank 0
    x = rng.standard_normal((m, rank)) @ rng.standard_normal((rank, n))
    k = data.draw(st.integers(1, min(m, n)), label="k")
    u, s, vt = truncated_svd(x, k, method=method, seed=seed)
    _assert_factors(x, k, u, s, vt)
    sigma = np.linalg.svd(x, compute_uv=False)
    scale = max(sigma[0], 1.0)
    if method == "gram":
        # only the eigenvector side is reliably orthonormal; the other is x @ v / s, as good as
        # the conditioning allows, and s is accurate to about sqrt(eps) * s[0]
        _assert_orthonormal_columns(vt.T if m >= n else u, atol=1e-8)
        np.testing.assert_allclose(s, sigma[:k], atol=1e-6 * scale)
    else:
        _assert_orthonormal_columns(u, atol=1e-8)
        _assert_orthonormal_columns(vt.T, atol=1e-8)
        np.testing.assert_allclose(s, sigma[:k], atol=1e-8 * scale)


# --- select_rank -----------------------------------------------------------------------------


def test_select_rank_rank_is_clipped() -> None:
    x = _decaying(20, 12)
    assert select_rank(x, rank=5)[1].shape == (5,)
    u, s, vt = select_rank(x, rank=100)
    assert (u.shape, s.shape, vt.shape) == ((20, 12), (12,), (12, 12))


@pytest.mark.parametrize("f", [0.1, 0.5, 0.9, 0.99, 0.999, 1.0])
def test_select_rank_energy_brute_force(f: float) -> None:
    x = np.random.default_rng(4).standard_normal((40, 30))
    k = _smallest_k(x, f * np.sum(x**2)) if f < 1.0 else 30
    u, s, vt = select_rank(x, energy=f)
    assert s.shape == (k,) and u.shape == (40, k) and vt.shape == (k, 30)
    np.testing.assert_allclose(s, np.linalg.svd(x, compute_uv=False)[:k])


@pytest.mark.parametrize("fraction", [0.0, 0.01, 0.2, 0.7, 0.99])
def test_select_rank_max_sse_brute_force(fraction: float) -> None:
    x = np.random.default_rng(5).standard_normal((30, 45))
    total = np.sum(x**2)
    max_sse = fraction * total
    k = _smallest_k(x, total - max_sse) if fraction > 0 else 30
    u, s, vt = select_rank(x, max_sse=max_sse)
    assert s.shape == (k,)
    assert np.sum((x - (u * s) @ vt) ** 2) <= max_sse + 1e-9 * total


def test_select_rank_numerical_rank() -> None:
    x = _with_spectrum(30, 20, np.array([5.0, 2.0, 1.0]))
    assert select_rank(x, energy=1.0)[1].shape == (3,)
    assert select_rank(x, max_sse=0.0)[1].shape == (3,)


@pytest.mark.parametrize(
    ("method", "k", "expected_calls"),
    [
        ("randomized", 10, [(16, "randomized")]),
        ("randomized", 25, [(16, "randomized"), (32, "randomized")]),
        ("randomized", 45, [(16, "randomized"), (32, "randomized"), (200, "gesdd")]),
        ("gram", 45, [(16, "gram"), (32, "gram"), (200, "gram")]),
        ("gesdd", 10, [(200, "gesdd")]),
        ("auto", 10, [(200, "gesdd")]),  # min(m, n) <= 256: exact at once
    ],
)
def test_select_rank_grows_then_goes_exact(
    monkeypatch: pytest.MonkeyPatch, method: str, k: int, expected_calls: list[tuple[int, str]]
) -> None:
    x = _decaying(200, 300, ratio=0.85, seed=6)
    calls: list[tuple[int, str]] = []
    real = rank.truncated_svd

    def spy(x: np.ndarray, k: int, *, method: str = "auto", **kwargs: object) -> tuple:
        calls.append((k, method))
        return real(x, k, method=method, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(rank, "truncated_svd", spy)
    target = _midpoint_target(x, k)
    total = np.sum(x**2)
    _, s_energy, _ = select_rank(x, energy=target / total, method=method)
    assert s_energy.shape == (k,)
    assert calls == expected_calls
    _, s_sse, _ = select_rank(x, max_sse=total - target, method=method)
    assert s_sse.shape == (k,)
    np.testing.assert_allclose(s_sse, np.linalg.svd(x, compute_uv=False)[:k], rtol=1e-7)


def test_select_rank_auto_on_large_matrix_grows() -> None:
    x = _smooth_image(300, 400)
    total = np.sum(x**2)
    for k in (3, 20, 40, 80):  # 80 > 0.2 * 300: decided by the exact SVD
        target = _midpoint_target(x, k)
        assert select_rank(x, energy=target / total)[1].shape == (k,)
        assert select_rank(x, max_sse=total - target)[1].shape == (k,)


@pytest.mark.parametrize(
    ("criterion", "k"), [({"energy": 0.5}, 1), ({"energy": 1.0}, 1), ({"max_sse": 0.0}, 1),
                         ({"rank": 3}, 3)]
)
@pytest.mark.parametrize("method", METHODS)
def test_select_rank_zero_matrix(criterion: dict[str, float], k: int, method: str) -> None:
    u, s, vt = select_rank(np.zeros((5, 8)), method=method, **criterion)  # type: ignore[arg-type]
    assert s.shape == (k,) and np.all(s == 0)
    _assert_orthonormal_columns(u)
    _assert_orthonormal_columns(vt.T)


def test_select_rank_1x1() -> None:
    u, s, vt = select_rank(np.array([[-3.0]]), energy=0.5)
    assert (u[0, 0], s[0], vt[0, 0]) == (1.0, 3.0, -1.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one"),
        ({"rank": 2, "energy": 0.5}, "exactly one"),
        ({"rank": 0}, "rank must be >= 1"),
        ({"energy": 0.0}, r"energy must be in \(0, 1\]"),
        ({"energy": 1.5}, r"energy must be in \(0, 1\]"),
        ({"max_sse": -1.0}, "max_sse must be >= 0"),
        ({"max_sse": float("nan")}, "max_sse must be >= 0"),
        ({"rank": 1, "method": "qr"}, "method must be one of"),
    ],
)
def test_select_rank_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        select_rank(np.ones((4, 4)), **kwargs)  # type: ignore[arg-type]


def test_gram_fill_of_a_tall_rank_deficient_matrix_stays_small() -> None:
    # A 30000 x 6 matrix of rank 2 (a centred or repeated stack of frames): the four lost
    # components get orthonormal fill without the complete QR's 30000 x 30000 Q (7.2 GB).
    import tracemalloc

    rng = np.random.default_rng(5)
    x = rng.standard_normal((30000, 2)) @ rng.standard_normal((2, 6))
    tracemalloc.start()
    try:
        u, s, vt = truncated_svd(x, 6, method="gram")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20
    _assert_orthonormal_columns(u, atol=1e-8)
    assert s[2:].max() == 0.0
    np.testing.assert_allclose((u * s) @ vt, x, atol=1e-9)
