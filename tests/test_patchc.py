"""The C decoder of the patch layout (svdcodec/_patchc.c) against the numpy reference.

Both must give identical samples for every file (spec section 12 is exact integer arithmetic),
and the same error class for every bad one.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import svdcodec
from svdcodec import format as fmt
from svdcodec.limits import Limits
from svdcodec.patch import decode as patchdecode
from svdcodec.patch import reconstruct as patch
from svdcodec.patch import symbols as entropy
from svdcodec.patch.reference import decode_planes_reference
from svdcodec.teach.demo import demo_image

_patchc = patchdecode._patchc
needs_c = pytest.mark.skipif(_patchc is None, reason="the C extension was not built")
VECTORS = Path(__file__).resolve().parent.parent / "spec" / "vectors"
CHANNELS = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4, "I;16": 1}


def test_extension_is_built_in_ci() -> None:
    """CI has a compiler: a silent fallback to the numpy decoder there would hide a build bug."""
    if os.environ.get("CI", "").lower() != "true":
        pytest.skip("not in CI (CI=true unset): the C extension is optional here")
    assert _patchc is not None
    assert patchdecode.ACCELERATED


def decode_both(container: fmt.Container, rank: int | None = None) -> np.ndarray | type:
    """The decoded image, or the error class, after checking that both decoders agree."""
    outcomes = []
    for fn in (patchdecode._decode_planes_c, decode_planes_reference):
        try:
            outcomes.append(fn(container, rank))
        except svdcodec.SvdiError as exc:
            outcomes.append(type(exc))
    c, ref = outcomes
    if isinstance(ref, np.ndarray):
        assert isinstance(c, np.ndarray), c
        assert c.dtype == ref.dtype and c.shape == ref.shape
        assert np.array_equal(c, ref)
    else:
        assert c is ref
    return ref


@needs_c
@pytest.mark.parametrize("name", sorted(p.stem for p in VECTORS.glob("*patch*.svdi")
                                         if "stack-" not in p.stem))  # test_golden
def test_golden_vectors_are_exact(name: str) -> None:
    container = fmt.unpack((VECTORS / f"{name}.svdi").read_bytes(), Limits())
    with Image.open(VECTORS / f"{name}.png") as im:
        expected = np.asarray(im)
    for rank in (None, 1, 2):
        out = decode_both(container, rank)
        assert isinstance(out, np.ndarray)
    full = decode_both(container)
    assert np.array_equal(full.reshape(expected.shape), expected)


# --- random planes -------------------------------------------------------------------------
@st.composite
def containers(draw: st.DrawFn) -> fmt.Container:
    """A container with random, mostly valid planes: every geometry, large and escaped values,
    counts with stored zeros, clipping at both ends, deblocking on and off."""
    mode_name = draw(st.sampled_from(sorted(CHANNELS)))
    mode = fmt.Mode[mode_name.replace(";", "")]
    height, width = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    ycbcr = mode in (fmt.Mode.RGB, fmt.Mode.RGBA) and draw(st.booleans())
    bd = 16 if mode_name == "I;16" else 8
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    planes = []
    for index in range(CHANNELS[mode_name]):
        p = draw(st.sampled_from(fmt.PATCH_SIZES))
        sx, sy = (draw(st.sampled_from(fmt.SUBSAMPLING)) for _ in range(2))
        rows, cols = patch.plane_shape(height, width, sx, sy)
        gh, gw = patch.grid_shape(rows, cols, p)
        n, k = gh * gw, draw(st.integers(0, min(8, p * p - 1)))
        h = p // 2
        basis = rng.integers(-127, 128, (k, h, h))
        basis[:, 0, 0] = np.where(basis[:, 0, 0] == 0, 1, basis[:, 0, 0])
        counts = rng.integers(0, k + 1, n)
        scale = draw(st.sampled_from([3, 40, 2**12]))
        q = rng.integers(-scale, scale + 1, (n, k)) * (rng.random((n, k)) < 0.6)
        q[np.arange(k)[None, :] >= counts[:, None]] = 0
        shift = draw(st.integers(8, 30))
        mult = rng.integers(1, 2 ** (shift - 4), k)
        m_dc = int(rng.integers(1, 2 ** (shift - 2)))
        dc = rng.integers(-(2 ** bd) // 2, 2 ** bd // 2, (gh, gw)) * 4
        raw = b"".join([
            mult.astype("<u4").tobytes(), rng.integers(0, 4, k).astype(np.uint8).tobytes(),
            basis.astype(np.int8).tobytes()])
        dc_bytes, dc_esc = entropy.pack_symbols(entropy.dc_residuals(dc))
        ac_bytes, ac_esc = entropy.pack_symbols(
            q.T[np.arange(k)[:, None] < counts[None, :]])
        escapes = np.concatenate([dc_esc, ac_esc]).astype("<u4")
        raw += dc_bytes + counts.astype(np.uint8).tobytes() + ac_bytes + escapes.tobytes()
        deblock = draw(st.sampled_from([(0, 0, 0), (20, 10, 6), (300, 200, 90)]))
        payload = zstandard.ZstdCompressor(write_content_size=True).compress(raw)
        planes.append(fmt.Plane(index, p, sx, sy, k, shift, deblock, m_dc, len(ac_bytes),
                                int(escapes.size), payload))
    transform = fmt.ColourTransform.YCBCR if ycbcr else fmt.ColourTransform.NONE
    header = fmt.Header(width, height, mode, fmt.Layout.PATCH, fmt.FactorType.COEFFICIENTS,
                        colour_transform=transform)
    return fmt.Container(header, (), {}, (), tuple(planes))


@needs_c
@settings(max_examples=300, deadline=None)
@given(containers(), st.sampled_from([None, 1, 3]))
def test_random_planes_decode_identically(container: fmt.Container, rank: int | None) -> None:
    out = decode_both(container, rank)
    assert isinstance(out, np.ndarray)  # the strategy only makes valid files


@needs_c
def test_accumulator_bound_is_the_same() -> None:
    """A plane whose bound reaches 2^53 is rejected by both, one below it decodes."""
    image = np.full((8, 8), 100, dtype=np.uint8)
    data = svdcodec.encode(image, quality=50)
    container = fmt.unpack(data, Limits())
    pl = container.planes[0]
    for m_dc, ok in ((2**32 - 1, True), (2**32 - 1, False)):
        shift = 30 if ok else 52
        big = fmt.Plane(pl.index, pl.patch_size, 1, 1, pl.components, shift, pl.deblock, m_dc,
                        pl.ac_symbols, pl.escapes, pl.payload)
        out = decode_both(fmt.Container(container.header, (), {}, (), (big,)))
        assert isinstance(out, np.ndarray) if ok else out is svdcodec.CorruptError


def single_patch(escape: int, *, dc_symbol: int = 0, shift: int = 40) -> fmt.Container:
    """An 8x8 L image of one 8x8 patch, k = 1, whose AC symbol is an escape."""
    raw = (np.array([1], "<u4").tobytes() + bytes([0]) + bytes([1] + [0] * 15)
           + bytes([dc_symbol, 1, 255]) + np.array([escape], "<u4").tobytes())
    plane = fmt.Plane(0, 8, 1, 1, 1, shift, (0, 0, 0), 1, 1, 1,
                      zstandard.ZstdCompressor(write_content_size=True).compress(raw))
    header = fmt.Header(8, 8, fmt.Mode.L, fmt.Layout.PATCH, fmt.FactorType.COEFFICIENTS)
    return fmt.Container(header, (), {}, (), (plane,))


@needs_c
def test_escape_limits_are_the_same() -> None:
    """255 + e < 2^31 (spec 12.3): the largest escape decodes, one more is corrupt."""
    assert isinstance(decode_both(single_patch(entropy.ESCAPE_MAX)), np.ndarray)
    assert decode_both(single_patch(entropy.ESCAPE_MAX + 1)) is svdcodec.CorruptError
    # a stored value that makes the sample clip at the top and at the bottom
    top = decode_both(single_patch(2**31 - 257, shift=1))  # u = 2^31 - 2: +(2^30 - 1)
    bottom = decode_both(single_patch(2**31 - 258, shift=1))  # u odd: -(2^30 - 1)
    assert top[0, 0, 0] == 255 and bottom[0, 0, 0] == 0


# --- hostile payloads ----------------------------------------------------------------------
@functools.cache
def small() -> bytes:
    """A 33x30 crop at quality 90: escapes in two planes (section 12.3); made on first use."""
    with Image.open(demo_image()) as im:
        crop = np.asarray(im.convert("RGB"))[200:230, 300:333]
    return svdcodec.encode(crop, quality=90, entropy="zstd")


@needs_c
@settings(max_examples=300, deadline=None)
@given(st.data())
def test_payload_mutations_agree(data: st.DataObject) -> None:
    """Bytes edited behind a valid zstd frame reach every payload check of both decoders."""
    container = fmt.unpack(small(), Limits())
    planes = list(container.planes)
    i = data.draw(st.integers(0, len(planes) - 1))
    pl = planes[i]
    raw = bytearray(zstandard.ZstdDecompressor().decompress(pl.payload))
    # edits anywhere, or among the few bytes of multipliers, parities and basis, or of escapes
    params = pl.components * (5 + (pl.patch_size // 2) ** 2)
    where = data.draw(st.sampled_from(["any", "params", "escapes"]))
    spots = {"any": range(len(raw)), "params": range(max(1, params)),
             "escapes": np.flatnonzero(np.frombuffer(bytes(raw), np.uint8) == 255).tolist()
             or [0]}[where]
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.sampled_from(spots))] = data.draw(
            st.sampled_from([0, 1, 2, 3, 4, 127, 128, 254, 255]))
    cut = data.draw(st.sampled_from([0, 0, 0, 1, 4]))
    raw = raw[:len(raw) - cut]
    fields = {"ac_symbols": pl.ac_symbols + data.draw(st.sampled_from([0, 0, 1, -1])),
              "escapes": pl.escapes + data.draw(st.sampled_from([0, 0, 1]))}
    payload = zstandard.ZstdCompressor(write_content_size=True).compress(bytes(raw))
    planes[i] = fmt.Plane(pl.index, pl.patch_size, pl.subsample_x, pl.subsample_y,
                          pl.components, pl.shift, pl.deblock, pl.dc_multiplier,
                          fields["ac_symbols"], fields["escapes"], payload)
    decode_both(fmt.Container(container.header, (), {}, (), tuple(planes)))


@needs_c
@pytest.mark.parametrize("rank", [None, 1])
def test_encoded_images_decode_identically(rank: int | None) -> None:
    with Image.open(demo_image()) as im:
        rgb = np.asarray(im.convert("RGB"))[:90, :130]
    for options in ({"quality": 5}, {"quality": 50}, {"quality": 90},
                    {"quality": 40, "patch_size": 4}, {"quality": 40, "patch_size": 16}):
        container = fmt.unpack(svdcodec.encode(rgb, **options), Limits())
        decode_both(container, rank)


# --- bad calls -----------------------------------------------------------------------------
@needs_c
def test_bad_buffers_are_value_errors() -> None:
    raw = bytes(2)  # k = 0, one patch: DC symbol and count
    plane = np.empty((4, 4), dtype=np.int32)
    assert _patchc.decode_plane(raw, plane, 0, 0, 4, 1, 1, 0, 0, 1, 8, 8, 0, 0, 0) is None
    assert np.all(plane == 128)
    with pytest.raises(ValueError, match="out"):
        _patchc.decode_plane(raw, np.empty((4, 3), np.int32), 0, 0, 4, 1, 1, 0, 0, 1, 8, 8,
                             0, 0, 0)
    with pytest.raises(ValueError, match="parameters"):
        _patchc.decode_plane(raw, plane, 0, 0, 5, 1, 1, 0, 0, 1, 8, 8, 0, 0, 0)
    with pytest.raises(TypeError):
        _patchc.decode_plane(raw, b"read-only", 0, 0, 4, 1, 1, 0, 0, 1, 8, 8, 0, 0, 0)
    assert "expected 2 bytes" in _patchc.decode_plane(raw[:1], plane, 0, 0, 4, 1, 1, 0, 0, 1,
                                                      8, 8, 0, 0, 0)
    out = np.empty((4, 4, 1), dtype=np.uint8)
    _patchc.compose(out, 4, 4, 8, 0, ((plane, 4, 4, 4, 1, 1),))
    assert np.all(out == 128)
    with pytest.raises(ValueError, match="geometry"):
        _patchc.compose(out, 4, 4, 8, 0, ((plane, 4, 2, 4, 1, 1),))
    with pytest.raises(ValueError, match="geometry"):
        _patchc.compose(out, 4, 5, 8, 0, ((plane, 4, 4, 4, 1, 1),))
    with pytest.raises(ValueError, match="geometry"):
        _patchc.compose(out, 4, 4, 8, 1, ((plane, 4, 4, 4, 1, 1),))


@needs_c
@settings(max_examples=100, deadline=None)
@given(st.sampled_from(fmt.PATCH_SIZES), st.integers(1, 6), st.integers(1, 6),
       st.sampled_from([8, 16]), st.tuples(*[st.integers(0, 300)] * 3), st.data())
def test_deblock_matches_the_reference(p: int, gh: int, gw: int, bd: int,
                                       strength: tuple[int, int, int],
                                       data: st.DataObject) -> None:
    """The encoder's strength search uses the C deblocking: the same samples as section 12.6."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    top = 2**bd - 1
    plane = rng.integers(0, top + 1, (gh * p, gw * p)).astype(np.int32)
    plane[rng.random(plane.shape) < 0.5] //= 7  # small steps, so that edges get filtered
    fast, slow = plane.copy(), plane.copy()
    _patchc.deblock(fast, p, *strength, bd)
    patch.deblock(slow, p, *strength, bd)
    assert np.array_equal(fast, slow)
    with pytest.raises(ValueError):
        _patchc.deblock(plane[:, :-1].copy(), p, *strength, bd)
    with pytest.raises((ValueError, BufferError)):
        _patchc.deblock(plane.astype(np.int64), p, *strength, bd)


_DEV_MODE_DECODE = """
import threading, numpy as np, svdcodec
from svdcodec.patch import codec as patchcodec
from svdcodec.patch import decode as patchdecode
from svdcodec.whole import layout as layout
assert patchdecode.ACCELERATED and layout.ACCELERATED
rng = np.random.default_rng(0)
files = [svdcodec.encode(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), quality=q)
         for h, w, q in ((17, 23, 30), (64, 48, 80), (8, 8, 50))]
files.append(svdcodec.encode(rng.integers(0, 256, (40, 30), dtype=np.uint8), rank=5))
errors = []
def work():
    try:
        for _ in range(20):
            for data in files:
                svdcodec.decode(data)
    except BaseException as e:
        errors.append(e)
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
assert not errors, errors
print("ok")
"""


@needs_c
def test_c_decoders_under_dev_mode_from_threads() -> None:
    """Issue 11.1: the C decoders ran PyMem_Malloc without the GIL; Python's debug allocator
    (-X dev) aborts the process on that, and Python 3.12 segfaulted. Decode patch-layout and
    whole-image files from eight threads in a -X dev child: it must exit cleanly."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-X", "dev", "-c", _DEV_MODE_DECODE],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"


@needs_c
def test_c_constants_agree_with_the_reference() -> None:
    """_patchc.c copies a few constants of spec section 12 from the Python reference; it
    exports them so that a drifted copy fails here, not only where a vector reaches it."""
    from svdcodec.patch import reconstruct as reference
    from svdcodec.patch import symbols

    assert (_patchc.ESCAPE, _patchc.ESCAPE_MAX) == (symbols.ESCAPE, symbols.ESCAPE_MAX)
    assert _patchc.MAX_PARITY == symbols.MAX_PARITY
    assert _patchc.EXACT_LIMIT == reference.EXACT_LIMIT
    for name in ("FIX_CR_R", "FIX_CB_G", "FIX_CR_G", "FIX_CB_B", "FIX_HALF"):
        assert getattr(_patchc, name) == getattr(reference, name), name
