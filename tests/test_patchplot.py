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


# --- the basis of a stack (qa7) ------------------------------------------------------------------
@pytest.mark.parametrize("entropy", ["arith", "zstd"])
def test_a_tall_stack_shows_the_basis_of_its_coded_image(entropy: str) -> None:
    """A tall stack (spec section 14.3) codes one image of W x N*Hp: its planes were read with
    HEAD's frame size, so basis of a valid file said it was broken ('PTCH arith payload: 40
    bytes after the last symbol'; zstd: 'zstd frame declares 372 bytes, expected 252')."""
    yy, xx = np.mgrid[0:40, 0:48]
    frames = np.stack([(xx * 3 + yy * j) % 256 for j in range(3)]).astype(np.uint8)
    data = svdcodec.encode_stack(frames, coding="tall", entropy=entropy, quality=60)
    b = patchplot.plane_basis(data, 0)
    assert b.patches == 3 * 5 * 6  # N frames of 5 x 6 patches, one coded image
    assert b.vectors.shape[1:] == (8, 8) and b.nonzero.shape == (len(b.vectors),)


@settings(deadline=None, max_examples=15)
@given(n=st.integers(2, 4), h=st.integers(1, 20), w=st.integers(1, 20),
       coding=st.sampled_from(["tall", "frames"]), seed=st.integers(0, 2**16))
def test_every_patch_stack_has_a_readable_basis(n: int, h: int, w: int, coding: str,
                                                seed: int) -> None:
    """Whatever its size, a patch-layout stack of either coding gives plane 0's basis (of the
    coded image for tall, of frame 0 for frames), not an error about the file; its planes are
    one frame's (a grey frames stack has plane 0 only: plane 1 was frame 1's, named
    'channel 1')."""
    frames = np.random.default_rng(seed).integers(0, 256, (n, h, w), dtype=np.uint8)
    data = svdcodec.encode_stack(frames, coding=coding, quality=50)
    b = patchplot.plane_basis(data, 0)
    assert b.patch_size == 8 and b.nonzero.shape == (len(b.vectors),)
    assert b.name == "channel 0"
    with pytest.raises(ValueError, match=r"plane must be in 0\.\.0"):  # not frame 1's plane 0
        patchplot.plane_basis(data, 1)
