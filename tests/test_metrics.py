"""Tests for svdcodec.metrics: MSE, PSNR and SSIM."""

from __future__ import annotations

import ast
import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from svdcodec.metrics import mse, psnr, ssim


def smooth_noisy(h: int, w: int, c: int | None = 3, seed: int = 0, sigma: float = 8.0):
    """Smooth gradient plus Gaussian noise, uint8; fixed seed."""
    rng = np.random.default_rng(seed)
    i = np.linspace(0.0, 1.0, h)[:, None]
    j = np.linspace(0.0, 1.0, w)[None, :]
    base = 30.0 + 120.0 * i + 80.0 * j * j
    shape = (h, w) if c is None else (h, w, c)
    if c is not None:
        base = base[..., None] + 10.0 * np.arange(c)
    return np.clip(base + rng.normal(0.0, sigma, shape), 0, 255).astype(np.uint8)


def add_noise(a: np.ndarray, sigma: float, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(a + rng.normal(0.0, sigma, a.shape), 0, 255).astype(np.uint8)


def pinned_pair(h: int, w: int, c: int, amp: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer-only image pair (no RNG, no libm): bit-identical on every platform."""
    i, j, k = np.ogrid[:h, :w, :c]
    base = 40 + (150 * i * j) // (h * w) + np.abs((3 * j + 5 * i + 17 * k) % 40 - 20)
    noise = (i * 7919 + j * 104729 + k * 1299709) % 61 - 30
    a = base.astype(np.uint8)
    b = np.clip(base + (amp * noise) // 30, 0, 255).astype(np.uint8)
    if c == 1:
        a, b = a[..., 0], b[..., 0]
    return a, b


# (h, w, c, amp) -> SSIM, computed with scikit-image 0.26.0 (numpy 2.4.6, scipy 1.17.1) as
#   structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
#                         data_range=255, channel_axis=-1)   # no channel_axis when c == 1
# on a, b = pinned_pair(h, w, c, amp); for 5x7 with win_size=5 added (see the module docstring),
# for 12x9 with win_size=9.
SKIMAGE_SSIM = {
    (24, 32, 3, 10): 0.8238713945247967,
    (24, 32, 3, 30): 0.34518351098445677,
    (16, 16, 1, 20): 0.6075926041106264,
    (5, 7, 3, 20): 0.8683288614450207,
    (12, 9, 4, 15): 0.8628327867348171,
}


# --- MSE / PSNR ---------------------------------------------------------------------------


@settings(deadline=None, max_examples=40, database=None)
@given(
    d=st.integers(1, 55),
    h=st.integers(1, 20),
    w=st.integers(1, 20),
    sign=st.sampled_from([-1, 1]),
)
def test_psnr_constant_error(d: int, h: int, w: int, sign: int) -> None:
    # Values in 100..199, so that +-55 never clips and the error is exactly d everywhere.
    a = (100 + smooth_noisy(h, w, 3) % 100).astype(np.uint8)
    b = (a.astype(np.int64) + sign * d).astype(np.uint8)
    assert mse(a, b) == pytest.approx(d * d)
    assert psnr(a, b) == pytest.approx(10 * math.log10(255.0**2 / d**2), abs=1e-12)


def test_psnr_uint16_default_peak() -> None:
    a = np.full((8, 8), 1000, np.uint16)
    b = a + np.uint16(3)
    assert psnr(a, b) == pytest.approx(10 * math.log10(65535.0**2 / 9.0))


def test_psnr_known_value() -> None:
    a = np.zeros((2, 2), np.uint8)
    b = np.array([[0, 0], [0, 10]], np.uint8)  # mse = 25
    assert psnr(a, b) == pytest.approx(10 * math.log10(255.0**2 / 25.0))


def test_identical_is_inf_and_zero() -> None:
    a = smooth_noisy(17, 23)
    assert mse(a, a.copy()) == 0.0
    assert psnr(a, a.copy()) == math.inf
    assert psnr(a.astype(np.float32), a.astype(np.float32), max_value=255) == math.inf


@settings(deadline=None, max_examples=40, database=None)
@given(
    pair=hnp.arrays(np.uint8, st.tuples(st.integers(1, 9), st.integers(1, 9), st.integers(2, 2)))
)
def test_symmetric(pair: np.ndarray) -> None:
    a, b = pair[..., 0], pair[..., 1]
    assert mse(a, b) == mse(b, a)
    assert psnr(a, b) == psnr(b, a)
    assert ssim(a, b) == pytest.approx(ssim(b, a), abs=1e-12)


def test_no_uint8_wraparound() -> None:
    a = np.zeros((3, 3), np.uint8)
    b = np.full((3, 3), 255, np.uint8)
    assert mse(a, b) == 255.0**2
    assert psnr(a, b) == pytest.approx(0.0)


@pytest.mark.parametrize("fn", [mse, psnr, ssim])
def test_shape_mismatch(fn) -> None:
    with pytest.raises(ValueError, match=r"expected shape \(4, 5\), got \(5, 4\)"):
        fn(np.zeros((4, 5), np.uint8), np.zeros((5, 4), np.uint8))


@pytest.mark.parametrize("fn", [psnr, ssim])
def test_float_needs_max_value(fn) -> None:
    a = np.zeros((12, 12), np.float64)
    with pytest.raises(ValueError, match="max_value"):
        fn(a, a + 0.1)
    assert fn(a, a + 0.1, max_value=1.0) < math.inf


def test_float_equals_scaled_integer() -> None:
    a = smooth_noisy(20, 30)
    b = add_noise(a, 10.0)
    fa, fb = a / 255.0, b / 255.0
    assert psnr(fa, fb, max_value=1.0) == pytest.approx(psnr(a, b), abs=1e-9)
    assert ssim(fa, fb, max_value=1.0) == pytest.approx(ssim(a, b), abs=1e-9)
    assert psnr(a.astype(np.float32), b.astype(np.float32), 255) == pytest.approx(psnr(a, b))


@pytest.mark.parametrize(
    ("dtype", "peak"),
    [(np.uint8, 255), (np.uint16, 65535), (np.int16, 65535), (np.int32, 2**32 - 1)],
)
def test_integer_dtypes(dtype, peak: int) -> None:
    a = np.full((4, 4), 7, dtype)
    b = np.full((4, 4), 9, dtype)
    assert psnr(a, b) == pytest.approx(10 * math.log10(peak**2 / 4.0))


def test_mixed_integer_dtypes() -> None:
    a = np.zeros((4, 4), np.uint8)
    b = np.ones((4, 4), np.uint16)
    with pytest.raises(ValueError, match="mixed dtypes"):
        psnr(a, b)
    assert psnr(a, b, max_value=255) == pytest.approx(20 * math.log10(255.0))


@pytest.mark.parametrize("bad", [np.bool_, np.complex128])
def test_bad_dtype(bad) -> None:
    a = np.zeros((4, 4), bad)
    with pytest.raises(TypeError, match="expected an integer or floating-point array"):
        mse(a, a)


@pytest.mark.parametrize("peak", [0, -1, math.inf, math.nan])
def test_bad_max_value(peak: float) -> None:
    a = np.zeros((4, 4), np.uint8)
    with pytest.raises(ValueError, match="max_value"):
        psnr(a, a + 1, max_value=peak)


def test_empty() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        psnr(np.zeros((0, 3), np.uint8), np.zeros((0, 3), np.uint8))


# --- SSIM ---------------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(SKIMAGE_SSIM))
def test_ssim_matches_scikit_image(key: tuple[int, int, int, int]) -> None:
    a, b = pinned_pair(*key)
    assert ssim(a, b) == pytest.approx(SKIMAGE_SSIM[key], abs=1e-10)
    assert ssim(a / 255.0, b / 255.0, max_value=1.0) == pytest.approx(SKIMAGE_SSIM[key], abs=1e-10)


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (2, 2), (3, 40), (10, 10), (11, 11), (64, 48)])
def test_ssim_identical_is_one(shape: tuple[int, int]) -> None:
    a = smooth_noisy(*shape)
    assert ssim(a, a.copy()) == pytest.approx(1.0, abs=1e-12)


def test_ssim_constant_images() -> None:
    # With no variance the structure term is C2 / C2 = 1, leaving the luminance term.
    c1 = (0.01 * 255) ** 2
    a = np.full((16, 16), 100, np.uint8)
    b = np.full((16, 16), 120, np.uint8)
    expected = (2 * 100 * 120 + c1) / (100**2 + 120**2 + c1)
    assert ssim(a, b) == pytest.approx(expected, abs=1e-12)


@settings(deadline=None, max_examples=40, database=None)
@given(
    pair=hnp.arrays(
        np.uint8,
        st.tuples(st.integers(1, 24), st.integers(1, 24), st.integers(2, 2)),
        elements=st.sampled_from([0, 1, 128, 254, 255]) | st.integers(0, 255),
    )
)
def test_ssim_in_range(pair: np.ndarray) -> None:
    value = ssim(pair[..., 0], pair[..., 1])
    assert -1.0 <= value <= 1.0 + 1e-12


def test_ssim_anticorrelated_is_negative() -> None:
    a = smooth_noisy(32, 32, None, sigma=40.0)
    assert ssim(a, 255 - a) < 0.0


def test_ssim_decreases_with_noise() -> None:
    a = smooth_noisy(48, 64)
    values = [ssim(a, add_noise(a, s)) for s in (1.0, 4.0, 12.0, 30.0, 60.0)]
    assert all(x > y for x, y in itertools.pairwise(values))
    assert values[0] > 0.9


def test_ssim_channels_are_averaged() -> None:
    a = smooth_noisy(20, 25, 3)
    b = add_noise(a, 15.0)
    per_channel = [ssim(a[..., k], b[..., k]) for k in range(3)]
    assert ssim(a, b) == pytest.approx(np.mean(per_channel), abs=1e-12)
    assert ssim(a[..., :1], b[..., :1]) == pytest.approx(per_channel[0], abs=1e-12)


@pytest.mark.parametrize("shape", [(1, 1, 3), (1, 9), (2, 3), (4, 4, 4), (9, 10), (10, 200)])
def test_ssim_tiny_images(shape: tuple[int, ...]) -> None:
    c = shape[2] if len(shape) == 3 else None
    a = smooth_noisy(shape[0], shape[1], c)
    b = add_noise(a, 20.0)
    value = ssim(a, b)
    assert math.isfinite(value)
    assert -1.0 <= value < 1.0


@pytest.mark.parametrize("shape", [(5,), (2, 3, 4, 1)])
def test_ssim_bad_ndim(shape: tuple[int, ...]) -> None:
    a = np.zeros(shape, np.uint8)
    with pytest.raises(ValueError, match="expected an HxW or HxWxC array"):
        ssim(a, a)


def test_metrics_imports_nothing_of_svdcodec() -> None:
    import svdcodec.metrics as m

    tree = ast.parse(Path(m.__file__).read_text())
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            roots.add("." if node.level else node.module.split(".")[0])
    assert roots <= {"__future__", "math", "numpy", "scipy"}
