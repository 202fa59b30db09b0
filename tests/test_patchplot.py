"""svdcodec.teach.basis: the stored basis of a patch-layout file, and its figure."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import svdcodec
from svdcodec.teach import basis as patchplot
from svdcodec.teach.demo import demo_image


def _photo() -> np.ndarray:
    with Image.open(demo_image()) as im:
        return np.asarray(im.convert("RGB"))[100:196, 200:328]


def test_plane_basis_is_the_stored_basis() -> None:
    data = svdcodec.encode(_photo(), quality=60)
    b = patchplot.plane_basis(data, 0)
    k = len(b.vectors)
    assert b.name == "Y" and b.patch_size == 8 and b.patches == 12 * 16
    assert k > 3 and b.vectors.shape == (k, 8, 8) and b.nonzero.shape == (k,)
    assert np.all((b.nonzero >= 0) & (b.nonzero <= 1)) and b.nonzero[0] > 0
    for v, parity in zip(b.vectors, b.parities, strict=True):  # spec 12.4's mirror rule
        assert np.array_equal(v[:, ::-1], -v if parity & 1 else v)
        assert np.array_equal(v[::-1, :], -v if parity & 2 else v)
    assert patchplot.plane_basis(data, 2).name == "Cr"
    with pytest.raises(ValueError, match="plane"):
        patchplot.plane_basis(data, 3)
    with pytest.raises(ValueError, match="only layout patch"):
        patchplot.plane_basis(svdcodec.encode(_photo(), rank=2), 0)


def test_figure_has_a_tile_per_vector() -> None:
    pytest.importorskip("matplotlib")
    b = patchplot.plane_basis(svdcodec.encode(_photo()[:, :, 0], quality=40), 0)
    fig = patchplot.basis_figure(b)
    images = [ax for ax in fig.axes if ax.images]
    assert len(images) == len(b.vectors)
    assert b.name == "channel 0"


@functools.cache
def _small() -> bytes:
    """A 40x24 RGB patch-layout file (encoded on first use, not at import)."""
    with Image.open(demo_image()) as im:
        return svdcodec.encode(np.asarray(im.convert("RGB"))[:24, :40], quality=70)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_hostile_files_raise_only_svdi_errors(data: st.DataObject) -> None:
    """A damaged file raises SvdiError; the one plain ValueError is the documented caller
    error a 3-plane file reaches, plane 3 (another layout needs a valid HEAD CRC)."""
    blob = bytearray(_small())
    for _ in range(data.draw(st.integers(1, 3))):
        blob[data.draw(st.integers(0, len(blob) - 1))] = data.draw(st.integers(0, 255))
    plane = data.draw(st.integers(0, 3))
    try:
        b = patchplot.plane_basis(bytes(blob[:data.draw(st.integers(0, len(blob)))]), plane)
    except svdcodec.SvdiError:
        return
    except ValueError as exc:  # not an SvdiError: only the documented one may occur
        assert type(exc) is ValueError and plane == 3, repr(exc)
        assert str(exc).startswith("plane must be in 0..2"), repr(exc)
        return
    assert plane < 3 and len(b.vectors) == len(b.nonzero) == len(b.parities)
