"""svdcodec/patch/arith_rdo.py: quantization priced by the arith payload's contexts."""

from __future__ import annotations

import numpy as np
import pytest

from svdcodec.patch import arith
from svdcodec.patch.arith_rdo import rdo_quantize_arith
from svdcodec.patch.rdo import rdo_quantize
from svdcodec.patch.symbols import PlaneCoefficients


def _plane(seed: int, gh: int = 12, gw: int = 16, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Laplacian coefficients whose scale falls with the component and varies smoothly across
    the grid (busy and flat regions), as a plane's coefficient maps do."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:gh, 0:gw]
    busy = (1.5 + np.sin(xx / 3.0) * np.cos(yy / 4.0)).reshape(-1, 1)
    c = rng.laplace(size=(gh * gw, k)) * busy * 6.0 / (1 + np.arange(k))
    return c, np.full(k, 1.0)


def _bits(q: np.ndarray, gh: int, gw: int) -> int:
    k = q.shape[1]
    pc = PlaneCoefficients(np.ones(k, dtype=np.int64), np.zeros(k, dtype=np.int64),
                           np.ones((k, 2, 2), dtype=np.int8), np.zeros((gh, gw), np.int64), q)
    return 8 * len(arith.encode_payload(pc)[0])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_lower_cost_than_histogram_rdo_and_rounding(seed: int) -> None:
    """D + lambda R with R the real arith bits: context pricing beats order-0 pricing and
    plain rounding."""
    c, steps = _plane(seed)
    lam = 0.08

    def cost(q: np.ndarray) -> float:
        return float(((c / steps - q) ** 2).sum()) + lam * _bits(q, 12, 16)

    for passes in (1, 2):
        q = rdo_quantize_arith(c, steps, lam, 12, 16, passes)
        assert q.dtype == np.int64 and q.shape == c.shape
        # 0 or one of floor - 1 .. floor + 1 of |c| / step, with the sign of c
        assert np.all((q == 0) | (np.abs(q - c / steps) < 1.0 + 1e-9))
        assert np.all(q * c >= 0)
        assert cost(q) < cost(np.rint(c / steps).astype(np.int64))
    # with statistics of its own first pass, it beats the order-0 histogram's pricing
    assert cost(q) < cost(rdo_quantize(c, steps, lam))


def test_empty_planes() -> None:
    assert rdo_quantize_arith(np.zeros((6, 0)), np.zeros(0), 0.08, 2, 3).shape == (6, 0)
    q = rdo_quantize_arith(np.full((4, 2), 0.2), np.ones(2), 0.08, 2, 2)
    assert not q.any()
