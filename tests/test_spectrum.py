"""svdcodec.whole.spectrum: luminance, spectra and the exact rank a PSNR costs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from svdcodec.metrics import psnr
from svdcodec.whole.spectrum import image_spectrum, luminance, rank_for_psnr


def _photo(h: int = 24, w: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = 120 + 60 * np.sin(x / 5.0) * np.cos(y / 7.0)
    rgb = np.stack([base, base * 0.8 + 20, 255 - base], axis=2) + rng.normal(0, 6, (h, w, 3))
    return np.clip(rgb, 0, 255).round().astype(np.uint8)


def test_luminance_weights_and_grey() -> None:
    rgb = np.array([[[10, 20, 30], [200, 100, 50]]], dtype=np.uint8)
    expected = rgb.astype(float) @ np.array([0.299, 0.587, 0.114])
    np.testing.assert_allclose(luminance(rgb), expected)
    grey = np.array([[1, 2], [3, 4]], dtype=np.uint16)
    np.testing.assert_array_equal(luminance(grey), grey.astype(float))
    la = np.stack([grey, grey * 0 + 9], axis=2)  # alpha ignored
    np.testing.assert_array_equal(luminance(la), grey.astype(float))
    rgba = np.concatenate([rgb, np.zeros((1, 2, 1), np.uint8)], axis=2)
    np.testing.assert_allclose(luminance(rgba), expected)


@pytest.mark.parametrize("mode", ["luminance", "per-channel"])
def test_rank_for_psnr_is_exact(mode: str) -> None:
    """The PSNR table equals the PSNR of the float64 rank-k reconstruction, for every k."""
    image = _photo()
    spec = image_spectrum(image, mode)
    table = spec.psnr()
    matrices = [luminance(image)] if mode == "luminance" else \
        [image[:, :, c].astype(float) for c in range(3)]
    for k in (0, 1, 5, 12):
        approx = []
        for x in matrices:
            u, s, vt = np.linalg.svd(x, full_matrices=False)
            approx.append((u[:, :k] * s[:k]) @ vt[:k])
        got = psnr(np.stack(matrices), np.stack(approx), max_value=255)
        assert table[k] == pytest.approx(got, abs=1e-9)
    for target in (30.0, 35.0, 40.0):
        k = spec.rank_for(target)
        assert table[k] >= target and (k == 0 or table[k - 1] < target)
    assert spec.values_fraction(10) == pytest.approx(10 * (24 + 32 + 1) / (24 * 32))
    assert len(spec.s) == (1 if mode == "luminance" else 3)


def test_sixteen_bit_uses_its_peak() -> None:
    image = (_photo()[:, :, 0].astype(np.uint16) * 257)
    spec16 = image_spectrum(image)
    spec8 = image_spectrum(_photo()[:, :, 0])
    assert spec16.peak == 65535.0 and spec8.peak == 255.0
    # the same picture scaled by 257: the same PSNR at every rank
    np.testing.assert_allclose(spec16.psnr()[:-1], spec8.psnr()[:-1], atol=1e-9)


def test_full_rank_is_exact() -> None:
    image = _photo()
    spec = image_spectrum(image)
    assert spec.rank_for(200.0) <= min(image.shape[:2])
    assert rank_for_psnr([1.0, 2.0], 5.0) == 1  # never reached: the full rank
    assert math.isinf(spec.psnr()[-1]) or spec.psnr()[-1] > 200


@settings(max_examples=20)
@given(h=st.integers(2, 20), w=st.integers(2, 20), seed=st.integers(0, 2**32 - 1),
       target=st.floats(5.0, 80.0))
def test_psnr_table_rises_with_rank(h: int, w: int, seed: int, target: float) -> None:
    image = np.random.default_rng(seed).integers(0, 256, (h, w), dtype=np.uint8)
    spec = image_spectrum(image)
    table = spec.psnr()
    assert len(table) == min(h, w) + 1
    assert np.all(np.diff(table) >= -1e-9)
    k = spec.rank_for(target)
    assert k == min(h, w) or table[k] >= target  # reached, or the full rank
    assert k == 0 or table[k - 1] < target  # and the smallest such rank


def test_caller_mistakes() -> None:
    with pytest.raises(ValueError, match="mode"):
        image_spectrum(_photo(), "stacked")
    with pytest.raises(TypeError, match="dtype"):
        image_spectrum(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="finite"):
        rank_for_psnr([1.0], math.nan)
