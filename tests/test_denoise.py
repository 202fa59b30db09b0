"""svdcodec.whole.denoise: the Gavish–Donoho threshold and what it buys over the energy rules."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from svdcodec.whole.denoise import (
    denoise,
    energy_rank,
    hard_threshold,
    omega,
    optimal_lambda,
    optimal_rank,
    truncate,
)


def _low_rank_plus_noise(seed: int, m: int = 60, n: int = 90, r: int = 6,
                         sigma: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(X, Y = X + σZ): X of rank r with singular values from 4 to 1.2 times √n σ, so that
    some sit well above the noise and the last near the limit of detection (β^¼ ≈ 0.9)."""
    rng = np.random.default_rng(seed)
    q1 = np.linalg.qr(rng.standard_normal((m, r)))[0]
    q2 = np.linalg.qr(rng.standard_normal((n, r)))[0]
    x = (q1 * (math.sqrt(max(m, n)) * sigma * np.linspace(4.0, 1.2, r))) @ q2.T
    return x, x + sigma * rng.standard_normal((m, n))


def test_square_threshold_is_four_over_root_three() -> None:
    assert optimal_lambda(1.0) == pytest.approx(4 / math.sqrt(3), rel=1e-15)
    # n x n with known sigma: (4/√3) √n σ
    assert hard_threshold((100, 100), sigma=2.5) == pytest.approx(4 / math.sqrt(3) * 10 * 2.5)


@pytest.mark.parametrize(("shape", "beta"), [((50, 200), 0.25), ((300, 100), 1 / 3),
                                             ((64, 128), 0.5)])
def test_threshold_equals_the_formula(shape: tuple[int, int], beta: float) -> None:
    n = max(shape)
    lam = math.sqrt(2 * (beta + 1) + 8 * beta / (beta + 1 + math.sqrt(beta**2 + 14 * beta + 1)))
    assert hard_threshold(shape, sigma=3.0) == pytest.approx(lam * math.sqrt(n) * 3.0)
    s = np.linspace(10.0, 1.0, min(shape))
    w = 0.56 * beta**3 - 0.95 * beta**2 + 1.82 * beta + 1.43
    assert hard_threshold(shape, s) == pytest.approx(w * np.median(s))


def _marchenko_pastur_median(beta: float) -> float:
    from scipy.integrate import quad
    from scipy.optimize import brentq

    lo, hi = (1 - math.sqrt(beta)) ** 2, (1 + math.sqrt(beta)) ** 2

    def density(t: float) -> float:
        return math.sqrt((hi - t) * (t - lo)) / (2 * math.pi * beta * t)

    return brentq(lambda mu: quad(density, lo, mu)[0] - 0.5, lo, hi)


@pytest.mark.parametrize("beta", [0.1, 0.25, 0.5, 0.75, 1.0])
def test_omega_cubic_is_close_to_the_exact_coefficient(beta: float) -> None:
    """ω(β) fits λ*(β) / sqrt(μ_β), μ_β the Marchenko–Pastur median, within 0.02 (the paper's
    claim; measured 0.006 at most). ω(1) = 2.858 and ω(0.5) = 2.171 exactly."""
    exact = optimal_lambda(beta) / math.sqrt(_marchenko_pastur_median(beta))
    assert omega(beta) == pytest.approx(exact, abs=0.02)


def test_gavish_donoho_beats_every_energy_rule_in_mse() -> None:
    """Averaged over seeds, truncation at the optimal threshold (noise known or not) has a
    lower MSE against the clean matrix than the best of the six energy rules."""
    seeds = range(12)
    totals: dict[str, float] = {}
    for seed in seeds:
        x, y = _low_rank_plus_noise(seed)
        u, s, vt = np.linalg.svd(y, full_matrices=False)
        ranks = {"gd known": optimal_rank(s, y.shape, 1.0), "gd unknown": optimal_rank(s, y.shape)}
        for f in (0.7, 0.8, 0.9):
            ranks[f"sigma {f}"] = energy_rank(s, f, squared=False)
            ranks[f"sigma^2 {f}"] = energy_rank(s, f, squared=True)
        for name, k in ranks.items():
            err = float(np.mean((truncate(u, s, vt, k) - x) ** 2))
            totals[name] = totals.get(name, 0.0) + err / len(seeds)
    best_energy = min(v for k, v in totals.items() if not k.startswith("gd"))
    assert totals["gd known"] < 0.5 * best_energy
    assert totals["gd unknown"] < 0.5 * best_energy


def test_denoise_returns_the_truncation_it_reports() -> None:
    _x, y = _low_rank_plus_noise(3)
    result = denoise(y, sigma=1.0)
    u, s, vt = np.linalg.svd(y, full_matrices=False)
    assert result.rank == int(np.sum(s > result.threshold))
    np.testing.assert_allclose(result.x, truncate(u, s, vt, result.rank), atol=1e-10)
    assert result.known and result.sigma == 1.0
    # Unknown noise: the implied σ estimate is close to the true 1.0
    assert denoise(y).sigma == pytest.approx(1.0, rel=0.1)


@settings(max_examples=30)
@given(m=st.integers(20, 60), n=st.integers(20, 60), r=st.integers(1, 4),
       seed=st.integers(0, 2**32 - 1))
def test_strong_signal_rank_is_recovered(m: int, n: int, r: int, seed: int) -> None:
    """Components far above the threshold (10 √n σ) are kept and pure noise is not."""
    rng = np.random.default_rng(seed)
    q1 = np.linalg.qr(rng.standard_normal((m, r)))[0]
    q2 = np.linalg.qr(rng.standard_normal((n, r)))[0]
    x = (q1 * (10.0 * math.sqrt(max(m, n)) * np.arange(r, 0, -1))) @ q2.T
    y = x + rng.standard_normal((m, n))
    s = np.linalg.svd(y, compute_uv=False)
    assert optimal_rank(s, y.shape, sigma=1.0) == r


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5, math.nan])
def test_beta_out_of_range(bad: float) -> None:
    with pytest.raises(ValueError):
        optimal_lambda(bad)
    with pytest.raises(ValueError):
        omega(bad)


def test_caller_mistakes() -> None:
    with pytest.raises(ValueError, match="singular values"):
        hard_threshold((4, 5))
    with pytest.raises(ValueError, match="min"):
        hard_threshold((4, 5), np.ones(3))
    with pytest.raises(ValueError, match="sigma"):
        hard_threshold((4, 5), sigma=-1.0)
    with pytest.raises(ValueError, match="fraction"):
        energy_rank(np.ones(3), 0.0, squared=True)
    assert energy_rank(np.zeros(3), 0.9, squared=False) == 0


# --- rank="optimal" in select_rank and encode -------------------------------------------------
def test_select_rank_optimal_is_the_unknown_noise_threshold() -> None:
    from svdcodec.whole.rank import select_rank

    _, y = _low_rank_plus_noise(5)
    _u, s, _vt = select_rank(y, rank="optimal")
    full = np.linalg.svd(y, compute_uv=False)
    assert len(s) == max(1, optimal_rank(full, y.shape)) in (5, 6)  # the 6th is near the limit
    with pytest.raises(ValueError, match="optimal"):
        select_rank(y, rank="best")


def test_encode_rank_optimal_whole_image() -> None:
    import svdcodec

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:48, 0:64]
    clean = 128 + 50 * np.sin(xx / 6.0) + 40 * np.cos(yy / 5.0)  # rank 2
    noisy = np.clip(clean + rng.normal(0, 8, clean.shape), 0, 255).round().astype(np.uint8)
    data = svdcodec.encode(noisy, rank="optimal")
    info = svdcodec.read_header(data)
    assert info.layout == "per-channel" and info.ranks == (2,)
    with pytest.raises(ValueError):
        svdcodec.encode(noisy, rank="optimal", layout="patch")
    with pytest.raises(ValueError):
        svdcodec.encode(noisy, rank="many")
