"""The C store of whole-image samples (svdcodec/_storec.c) against layout.write_rows_reference.

Both clip and round half to even (spec section 7): identical samples for every block.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from svdcodec.whole import layout as layout

_storec = layout._storec
needs_c = pytest.mark.skipif(_storec is None, reason="the C extension was not built")


def test_extension_is_built_in_ci() -> None:
    if os.environ.get("CI", "").lower() == "true":
        assert _storec is not None and layout.ACCELERATED


def _block(rng: np.random.Generator, n: int, cols: int, dtype: type, top: int) -> np.ndarray:
    """Values around and beyond the sample range, with many exact halves (rounding ties)."""
    x = rng.uniform(-0.3 * top, 1.3 * top, (n, cols))
    halves = rng.random((n, cols)) < 0.3
    x[halves] = np.round(x[halves]) + 0.5
    return x.astype(dtype)


@needs_c
@settings(max_examples=200, deadline=None)
@given(st.integers(1, 9), st.integers(1, 13), st.integers(1, 4),
       st.sampled_from(layout.LAYOUTS), st.sampled_from([np.float32, np.float64]),
       st.sampled_from([np.uint8, np.uint16]), st.data())
def test_write_rows_matches_the_reference(h: int, w: int, c: int, name: str, dtype: type,
                                          out_dtype: type, data: st.DataObject) -> None:
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    rows, cols = {"per-channel": (h, w), "stacked": (h, c * w),
                  "stacked-vertical": (c * h, w)}[name]
    group = data.draw(st.integers(0, c - 1)) if name == "per-channel" else 0
    row0 = data.draw(st.integers(0, rows - 1))
    n = data.draw(st.integers(1, rows - row0))
    block = _block(rng, n, cols, dtype, np.iinfo(out_dtype).max)
    fast = np.full((h, w, c), 7, dtype=out_dtype)
    slow = fast.copy()
    layout.write_rows(fast, name, group, row0, block.copy())
    layout.write_rows_reference(slow, name, group, row0, block.copy())
    assert np.array_equal(fast, slow)


@needs_c
@settings(max_examples=100, deadline=None)
@given(st.integers(1, 9), st.integers(1, 40), st.integers(1, 4),
       st.sampled_from([np.float32, np.float64]), st.sampled_from([np.uint8, np.uint16]),
       st.data())
def test_write_channels_matches_the_reference(h: int, w: int, c: int, dtype: type,
                                              out_dtype: type, data: st.DataObject) -> None:
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    channels = data.draw(st.lists(st.integers(0, c - 1), min_size=1, unique=True))
    row0 = data.draw(st.integers(0, h - 1))
    n = data.draw(st.integers(1, h - row0))
    blocks = [(i, _block(rng, n, w, dtype, np.iinfo(out_dtype).max)) for i in channels]
    fast = np.full((h, w, c), 7, dtype=out_dtype)
    slow = fast.copy()
    layout.write_channels(fast, row0, [(i, b.copy()) for i, b in blocks])
    for i, b in blocks:
        layout.write_rows_reference(slow, "per-channel", i, row0, b.copy())
    assert np.array_equal(fast, slow)


@needs_c
def test_rounding_ties_and_clipping() -> None:
    out = np.zeros((1, 8, 1), dtype=np.uint8)
    block = np.array([[-1.0, 0.5, 1.5, 2.5, 254.5, 255.5, np.inf, -np.inf]], dtype=np.float32)
    layout.write_rows(out, "per-channel", 0, 0, block)
    assert out.ravel().tolist() == [0, 0, 2, 2, 254, 255, 255, 0]


@needs_c
def test_bad_calls_are_value_errors() -> None:
    out = np.zeros((2, 3, 2), dtype=np.uint8)
    block = np.zeros((2, 3), dtype=np.float32)
    _storec.store(out, 2, 3, 2, 0, 2, ((1, block, 0, 3),))
    for args in [(out, 2, 3, 2, 1, 2, ((0, block, 0, 3),)),  # rows past the image
                 (out, 2, 3, 2, 0, 2, ((2, block, 0, 3),)),  # no such channel
                 (out, 2, 3, 2, 0, 2, ((0, block, 0, 3), (0, block, 0, 3))),  # twice
                 (out, 2, 3, 2, 0, 2, ((0, block, 1, 3),)),  # past the block's end
                 (out, 2, 4, 2, 0, 2, ((0, block, 0, 3),)),  # out of another size
                 (out, 2, 3, 2, 0, 2, ((0, block.astype(np.int32), 0, 3),)),
                 (out, 2, 3, 2, 0, 2, ())]:
        with pytest.raises((ValueError, TypeError)):
            _storec.store(*args)
