"""The arithmetic-coded payload of the patch layout (spec section 13): svdcodec/patch/arith.py,
the reference, and svdcodec/patch/_arithc.c, which must write the same bytes and accept the
same payloads.
"""

from __future__ import annotations

import functools
import os
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import svdcodec
from svdcodec import format as fmt
from svdcodec.errors import CorruptError
from svdcodec.limits import Limits
from svdcodec.metrics import psnr
from svdcodec.patch import arith, rangecoder
from svdcodec.patch import decode as patchdecode
from svdcodec.patch import entropy as patchentropy
from svdcodec.patch import limits as patchlimits
from svdcodec.patch.symbols import PlaneCoefficients, pack_payload
from svdcodec.whole.layout import block_mean

_arithc = patchdecode._arithc
needs_c = pytest.mark.skipif(_arithc is None, reason="the C extension was not built")


def test_extension_is_built_in_ci() -> None:
    if os.environ.get("CI", "").lower() == "true":
        assert _arithc is not None
        assert patchdecode.ARITH_ACCELERATED


# --- the coder ----------------------------------------------------------------------------
def test_bucket_and_median() -> None:
    assert [arith.bucket(t) for t in (0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 16, 24, 32, 48)] == \
        [0, 1, 2, 3, 4, 4, 5, 5, 6, 6, 7, 8, 9, 10, 11]
    assert arith.med(5, 9, 12) == 5  # c above both: the smaller
    assert arith.med(5, 9, 1) == 9  # c below both: the larger
    assert arith.med(5, 9, 7) == 7  # in between: a + b - c


def test_adaptation_rates() -> None:
    assert rangecoder.RATE[:8] == [1, 1, 2, 2, 2, 2, 3, 3]
    assert rangecoder.RATE[-1] == rangecoder.RATE_MAX
    enc = arith.Encoder()
    enc.bit(0, 0)
    assert enc.p[0] == rangecoder.PROB_INIT + (rangecoder.PROB_INIT >> 1)  # 1/2 -> 3/4 after one 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.booleans()), max_size=400))
def test_bits_round_trip(bits: list[tuple[int, bool]]) -> None:
    enc = arith.Encoder()
    for ctx, b in bits:
        enc.bit(ctx, b)
    data = enc.finish()
    assert len(data) >= rangecoder.INIT_BYTES
    dec = arith.Decoder(data)
    assert [dec.bit(ctx) for ctx, _ in bits] == [int(b) for _, b in bits]
    dec.finish()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-(2**31), 2**31), max_size=50))
def test_integers_round_trip(values: list[int]) -> None:
    enc = arith.Encoder()
    for v in values:
        rangecoder.code_sint(enc, v, 0)
        rangecoder.code_uint(enc, abs(v), rangecoder.SIGNED_SET)
    dec = arith.Decoder(enc.finish())
    out = []
    for _ in values:
        out.append(rangecoder.code_sint(dec, 0, 0))
        assert rangecoder.code_uint(dec, 0, rangecoder.SIGNED_SET) == abs(out[-1])
    assert out == values


def test_payload_cut_or_extended_is_corrupt() -> None:
    enc = arith.Encoder()
    for i in range(100):
        enc.bit(i % 3, i % 7 == 0)
    data = enc.finish()
    with pytest.raises(CorruptError, match="at least"):
        arith.Decoder(data[:3])
    for cut in (data[:-1], data[: len(data) // 2]):
        dec = arith.Decoder(cut)
        with pytest.raises(CorruptError, match="ends early"):  # it reads every byte
            for i in range(100):
                dec.bit(i % 3)
    dec = arith.Decoder(data + b"\x00")
    for i in range(100):
        dec.bit(i % 3)
    with pytest.raises(CorruptError, match="after the last symbol"):
        dec.finish()


# --- planes --------------------------------------------------------------------------------
@st.composite
def planes(draw: st.DrawFn, big: bool = False) -> PlaneCoefficients:
    half = draw(st.sampled_from([2, 4, 8]))
    k = draw(st.integers(0, min(6, 4 * half * half - 1)))
    gh, gw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    n = gh * gw
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    top = 2**29 - 1 if big else 40
    mult = rng.integers(1, 2**32 - 1 if big else 5000, k, endpoint=True)
    parities = rng.integers(0, 3, k, endpoint=True)
    basis = rng.integers(-127, 127, (k, half, half), endpoint=True).astype(np.int8)
    basis[:, 0, 0] = np.where(basis[:, 0, 0] == 0, 1, basis[:, 0, 0])
    dc = rng.integers(-top, top, (gh, gw), endpoint=True)
    q = rng.integers(-top, top, (n, k), endpoint=True)
    q[rng.random((n, k)) < draw(st.floats(0, 1))] = 0
    return PlaneCoefficients(mult, parities, basis, dc, q)


def _check_round_trip(pc: PlaneCoefficients) -> bytes:
    data, m = arith.encode_payload(pc)
    assert m == int(pc.counts.sum())
    k = pc.q.shape[1]
    out = arith.decode_payload(data, k=k, half=pc.basis.shape[1], gh=pc.dc.shape[0],
                               gw=pc.dc.shape[1], ac_symbols=m)
    assert np.array_equal(out.multipliers, pc.multipliers)
    assert np.array_equal(out.parities, pc.parities)
    assert np.array_equal(out.basis, pc.basis)
    assert np.array_equal(out.dc, pc.dc)
    assert np.array_equal(out.q, pc.q)
    return data


@settings(max_examples=150, deadline=None)
@given(planes())
def test_planes_round_trip(pc: PlaneCoefficients) -> None:
    _check_round_trip(pc)


@settings(max_examples=50, deadline=None)
@given(planes(big=True))
def test_extreme_values_round_trip(pc: PlaneCoefficients) -> None:
    _check_round_trip(pc)


def _c_encode(pc: PlaneCoefficients) -> tuple[bytes, int]:
    saved = patchdecode.ARITH_ACCELERATED
    patchdecode.ARITH_ACCELERATED = True
    try:
        return patchentropy.arith_encode(pc)
    finally:
        patchdecode.ARITH_ACCELERATED = saved


@needs_c
@settings(max_examples=200, deadline=None)
@given(planes())
def test_c_encoder_and_decoder_are_bit_exact(pc: PlaneCoefficients) -> None:
    data = _check_round_trip(pc)
    assert _c_encode(pc) == (data, int(pc.counts.sum()))
    k, half = pc.q.shape[1], pc.basis.shape[1]
    raw, escapes = _arithc.decode(data, k, half, *pc.dc.shape, int(pc.counts.sum()))
    expected = pack_payload(pc)
    assert (raw, escapes) == (expected[0], expected[2])


@needs_c
@settings(max_examples=50, deadline=None)
@given(planes(big=True))
def test_c_is_bit_exact_on_extreme_values(pc: PlaneCoefficients) -> None:
    data = _check_round_trip(pc)
    assert _c_encode(pc)[0] == data
    raw, _escapes = _arithc.decode(data, pc.q.shape[1], pc.basis.shape[1], *pc.dc.shape,
                                  int(pc.counts.sum()))
    assert raw == pack_payload(pc)[0]


def _outcome_python(data: bytes, k: int, half: int, gh: int, gw: int, m: int) -> object:
    try:
        return pack_payload(arith.decode_payload(data, k=k, half=half, gh=gh, gw=gw,
                                                 ac_symbols=m))[0]
    except CorruptError:
        return CorruptError


def _outcome_c(data: bytes, k: int, half: int, gh: int, gw: int, m: int) -> object:
    result = _arithc.decode(data, k, half, gh, gw, m)
    return CorruptError if isinstance(result, str) else result[0]


@needs_c
@settings(max_examples=300, deadline=None)
@given(planes(), st.data())
def test_mutated_payloads_agree(pc: PlaneCoefficients, data: st.DataObject) -> None:
    """Flipped, cut or appended bytes: the same coefficients or CorruptError from both."""
    payload, m = arith.encode_payload(pc)
    buf = bytearray(payload)
    how = data.draw(st.sampled_from(["flip", "cut", "append", "count"]))
    if how == "flip":
        i = data.draw(st.integers(0, len(buf) - 1))
        buf[i] ^= data.draw(st.integers(1, 255))
    elif how == "cut":
        del buf[data.draw(st.integers(0, len(buf) - 1)):]
    elif how == "append":
        buf += bytes(data.draw(st.lists(st.integers(0, 255), min_size=1, max_size=4)))
    else:
        m = data.draw(st.integers(0, pc.dc.size * pc.q.shape[1]))
    args = (bytes(buf), pc.q.shape[1], pc.basis.shape[1], *pc.dc.shape, m)
    assert _outcome_c(*args) == _outcome_python(*args)


# --- hostile fields (section 13.5) ------------------------------------------------------------
def _hostile(write: object, k: int = 1, half: int = 2, gh: int = 1, gw: int = 1,
             m: int = 0) -> None:
    enc = arith.Encoder()
    write(enc)
    data = enc.finish()
    with pytest.raises(CorruptError):
        arith.decode_payload(data, k=k, half=half, gh=gh, gw=gw, ac_symbols=m)
    if _arithc is not None:
        assert isinstance(_arithc.decode(data, k, half, gh, gw, m), str)


def _header(enc: arith.Encoder, mult: int = 1, basis: int = 3) -> None:
    rangecoder.code_uint(enc, mult - 1, arith.CTX_MULT_FIRST)
    enc.bit(arith.CTX_PARITY, 0)
    enc.bit(arith.CTX_PARITY + 1, 0)
    for _ in range(4):
        rangecoder.code_sint(enc, basis, arith.CTX_BASIS)


def test_hostile_multiplier() -> None:
    def write(enc: arith.Encoder) -> None:
        _header(enc, mult=5)
        rangecoder.code_sint(enc, -5, arith.CTX_MULT_DELTA)  # m_1 = 0

    _hostile(write, k=2)

    def write_big(enc: arith.Encoder) -> None:
        _header(enc, mult=2**32 - 1)
        rangecoder.code_sint(enc, 1, arith.CTX_MULT_DELTA)  # m_1 = 2^32

    _hostile(write_big, k=2)


def test_hostile_basis() -> None:
    _hostile(lambda enc: _header(enc, basis=0))  # a zero vector
    _hostile(lambda enc: _header(enc, basis=128))  # out of -127..127


def test_hostile_dc_count_and_coefficient() -> None:
    dc0 = arith.CTX_DC  # activity class 0, neighbours' counts 0
    _hostile(lambda enc: (_header(enc), rangecoder.code_sint(enc, 2**29, dc0)))
    count0 = arith.CTX_COUNT
    _hostile(lambda enc: (_header(enc), rangecoder.code_sint(enc, 0, dc0),
                          rangecoder.code_uint(enc, 2, count0)), m=1)  # count 2 > k = 1

    def big_coefficient(enc: arith.Encoder) -> None:
        _header(enc)
        rangecoder.code_sint(enc, 0, dc0)
        rangecoder.code_uint(enc, 1, count0)
        rangecoder.code_uint(enc, 2**30 - 1, arith.CTX_MAG)  # |q| = 2^30

    _hostile(big_coefficient, m=1)


def test_hostile_ac_symbols_and_long_prefix() -> None:
    ok = _check_round_trip(PlaneCoefficients(np.array([3]), np.array([1]),
                                             np.full((1, 2, 2), 5, np.int8),
                                             np.array([[4, -2]]), np.array([[0], [-7]])))
    for m in (0, 2):  # the true sum is 1
        with pytest.raises(CorruptError, match="ac_symbols"):
            arith.decode_payload(ok, k=1, half=2, gh=1, gw=2, ac_symbols=m)
    with pytest.raises(CorruptError, match="prefix"):
        arith.decode_payload(b"\xff" * 64, k=1, half=2, gh=1, gw=1, ac_symbols=0)


# --- files -------------------------------------------------------------------------------------
def _image(h: int = 40, w: int = 56, c: int = 3) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(7)
    base = 128 + 60 * np.sin(xx / 7.0) * np.cos(yy / 5.0) + 10 * rng.standard_normal((h, w))
    return np.clip(np.stack([base + 20 * i for i in range(c)], axis=2), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("quality", [0, 30, 90])
def test_encode_arith_header_and_decoders_agree(quality: int) -> None:
    image = _image()
    data = svdcodec.encode(image, quality=quality, entropy="arith")
    container = fmt.unpack(data, Limits())
    assert container.header.compression == fmt.Compression.ARITH
    assert all(pl.escapes == 0 for pl in container.planes)
    decoded = svdcodec.decode(data)
    saved = patchdecode.ACCELERATED, patchdecode.ARITH_ACCELERATED
    try:
        patchdecode.ACCELERATED, patchdecode.ARITH_ACCELERATED = False, False
        assert np.array_equal(svdcodec.decode(data), decoded)
        patchdecode.ACCELERATED = saved[0]  # _patchc with the Python range decoder
        assert np.array_equal(svdcodec.decode(data), decoded)
    finally:
        patchdecode.ACCELERATED, patchdecode.ARITH_ACCELERATED = saved
    zstd = svdcodec.encode(image, quality=quality, entropy="zstd")
    assert fmt.unpack(zstd, Limits()).header.compression == fmt.Compression.ZSTD
    assert len(data) < len(zstd)
    assert abs(psnr(image, decoded) - psnr(image, svdcodec.decode(zstd))) \
        < 0.2


def test_rate_control_with_arith() -> None:
    image = _image(64, 64)
    data = svdcodec.encode(image, target_size=900, entropy="arith")
    assert 0.9 * 900 <= len(data) <= 900
    data = svdcodec.encode(image, target_psnr=33.0, entropy="arith")
    assert psnr(image, svdcodec.decode(data)) >= 33.0


def test_entropy_option_is_checked() -> None:
    with pytest.raises(ValueError, match="entropy"):
        svdcodec.encode(_image(), entropy="huffman")
    with pytest.raises(ValueError, match="entropy"):
        svdcodec.encode(_image(), layout="per-channel", rank=2, entropy="arith")


def test_arith_needs_layout_patch_and_no_escapes() -> None:
    image = _image()
    whole = bytearray(svdcodec.encode(image, layout="per-channel", rank=2))
    head = fmt.unpack(bytes(whole), Limits()).header
    body = fmt.pack_header(fmt.Header(head.width, head.height, head.mode, head.layout,
                                      head.factor_type, fmt.Compression.ARITH))
    with pytest.raises(CorruptError, match="arith"):
        fmt.unpack_header(body, Limits())
    data = svdcodec.encode(image, quality=40, entropy="arith")
    container = fmt.unpack(data, Limits())
    planes = list(container.planes)
    pl = planes[0]
    planes[0] = fmt.Plane(pl.index, pl.patch_size, pl.subsample_x, pl.subsample_y,
                          pl.components, pl.shift, pl.deblock, pl.dc_multiplier, pl.ac_symbols,
                          1, pl.payload)
    with pytest.raises(CorruptError, match="escapes"):
        fmt.unpack(fmt.pack(container.header, [], {}, planes), Limits())


VECTORS = Path(__file__).resolve().parent.parent / "spec" / "vectors"
# (ACCELERATED, ARITH_ACCELERATED, STRIPS): the C strip decoder, the C range decoder with the C
# whole-plane reconstruction, the Python range decoder with it, the pure-Python reference
PATHS = ((True, True, True), (True, True, False), (True, False, False), (False, False, False))


def decode_paths(data: bytes, **options: object) -> list[tuple[tuple[bool, ...], object]]:
    """``data`` decoded through each of PATHS: the image, or the SvdiError's class."""
    saved = patchdecode.ACCELERATED, patchdecode.ARITH_ACCELERATED, patchdecode.STRIPS
    outcomes: list[tuple[tuple[bool, ...], object]] = []
    try:
        for paths in PATHS:
            patchdecode.ACCELERATED = paths[0] and saved[0]
            patchdecode.ARITH_ACCELERATED = paths[1] and saved[1]
            patchdecode.STRIPS = paths[2]
            try:
                outcomes.append((paths, svdcodec.decode(data, **options)))  # type: ignore[arg-type]
            except svdcodec.SvdiError as exc:
                outcomes.append((paths, type(exc)))
    finally:
        patchdecode.ACCELERATED, patchdecode.ARITH_ACCELERATED, patchdecode.STRIPS = saved
    return outcomes


@pytest.mark.parametrize("name", sorted(p.stem for p in VECTORS.glob("*-arith-*.svdi")))
def test_arith_vectors_decode_alike_on_every_path(name: str) -> None:
    """The C strip decoder, the C range decoder + C whole-plane reconstruction, the Python range
    decoder + C reconstruction, and the pure reference give the expected image (spec/vectors,
    section 11)."""
    data = (VECTORS / f"{name}.svdi").read_bytes()
    assert fmt.unpack(data, Limits()).header.compression == fmt.Compression.ARITH
    with Image.open(VECTORS / f"{name}.png") as im:
        expected = np.asarray(im)
    if name.startswith("i16s-"):  # the PNG holds u = sample + 32768 (spec section 15.1)
        expected = (expected.astype(np.int32) - fmt.SIGNED_OFFSET).astype(np.int16)
    for paths, out in decode_paths(data):
        assert isinstance(out, np.ndarray) and np.array_equal(out, expected), paths


@functools.cache
def arith_small() -> bytes:
    """A 40x24 image at quality 90 in the arith payload; made on first use, not at import."""
    return svdcodec.encode(_image(24, 40), quality=90, entropy="arith")


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_file_mutations_raise_only_svdi_errors(data: st.DataObject) -> None:
    """PTCH fields and payload bytes of an arith file edited behind valid CRCs: every decoder
    path gives the same image or the same error class."""
    container = fmt.unpack(arith_small(), Limits())
    planes = list(container.planes)
    i = data.draw(st.integers(0, len(planes) - 1))
    pl = planes[i]
    payload = bytearray(pl.payload)
    for _ in range(data.draw(st.integers(0, 3))):
        payload[data.draw(st.integers(0, len(payload) - 1))] = data.draw(st.integers(0, 255))
    payload = payload[:len(payload) - data.draw(st.sampled_from([0, 0, 1, 5]))]
    m = max(0, pl.ac_symbols + data.draw(st.sampled_from([0, 0, 1, -1])))
    k = min(pl.components + data.draw(st.sampled_from([0, 0, 1, -1])), pl.patch_size**2 - 1)
    planes[i] = fmt.Plane(pl.index, pl.patch_size, pl.subsample_x, pl.subsample_y, max(k, 0),
                          pl.shift, pl.deblock, pl.dc_multiplier, m, 0, bytes(payload))
    blob = fmt.pack(container.header, [], {}, planes)
    outcomes = [out for _, out in decode_paths(blob)]
    for other in outcomes[1:]:
        if isinstance(outcomes[0], np.ndarray):
            assert isinstance(other, np.ndarray) and np.array_equal(other, outcomes[0])
        else:
            assert other is outcomes[0]


def test_default_entropy_is_arith() -> None:
    data = svdcodec.encode(_image())
    assert fmt.unpack(data, Limits()).header.compression == fmt.Compression.ARITH


def test_read_header_and_cli_name_the_payload(tmp_path: Path) -> None:
    from svdcodec import cli

    assert svdcodec.read_header(svdcodec.encode(_image())).compression == "arith"
    assert svdcodec.read_header(svdcodec.encode(_image(), entropy="zstd")).compression == "zstd"
    src = tmp_path / "in.png"
    Image.fromarray(_image()).save(src)
    for entropy in ("arith", "zstd"):
        out = tmp_path / f"{entropy}.svdi"
        assert cli.main(["encode", str(src), str(out), "--entropy", entropy]) == 0
        assert svdcodec.read_header(out).compression == entropy


# --- strip decoding (spec sections 12.8 and 13.5: one patch row at a time) ------------------
def agree(data: bytes, **options: object) -> object:
    """Every decoder path's outcome on ``data``, after checking that they agree."""
    outcomes = decode_paths(data, **options)
    first = outcomes[0][1]
    for paths, other in outcomes[1:]:
        if isinstance(first, np.ndarray):
            assert isinstance(other, np.ndarray), (paths, other)
            assert other.dtype == first.dtype and np.array_equal(other, first), paths
        else:
            assert other is first, (paths, other, first)
    return first


@st.composite
def arith_files(draw: st.DrawFn) -> bytes:
    """Files of random arith planes: every mode, patch size, subsampling and deblocking, random
    coefficients (DC terms and values large enough to clip and to need escapes in section
    12.3's layout), some with an accumulator bound at or above 2^53."""
    mode = draw(st.sampled_from(list(fmt.Mode)))
    _, channels, bd = fmt.MODE_INFO[mode]
    height, width = draw(st.integers(1, 45)), draw(st.integers(1, 45))
    ycbcr = channels >= 3 and draw(st.booleans())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    header = fmt.Header(width, height, mode, fmt.Layout.PATCH, fmt.FactorType.COEFFICIENTS,
                        compression=fmt.Compression.ARITH,
                        colour_transform=fmt.ColourTransform.YCBCR if ycbcr else
                        fmt.ColourTransform.NONE)
    planes = []
    for index in range(channels):
        p = draw(st.sampled_from([4, 8, 16]))
        sx, sy = draw(st.sampled_from([1, 2])), draw(st.sampled_from([1, 2]))
        gh, gw = fmt.Plane(index, p, sx, sy, 0, 1, (0, 0, 0), 1, 0, 0, b"").grid(header)
        k = draw(st.integers(0, 5))
        top = draw(st.sampled_from([3, 300, 2**20]))
        q = rng.integers(-top, top, (gh * gw, k), endpoint=True)
        q[rng.random(q.shape) < 0.5] = 0
        basis = rng.integers(-127, 127, (k, p // 2, p // 2), endpoint=True).astype(np.int8)
        basis[:, 0, 0] = 1
        pc = PlaneCoefficients(rng.integers(1, 3000, k), rng.integers(0, 3, k, endpoint=True),
                               basis, rng.integers(-top, top, (gh, gw), endpoint=True), q)
        payload, m = patchentropy.arith_encode(pc)
        shift = draw(st.sampled_from([12, 20, 36, 52 - bd]))
        m_dc = int(rng.integers(1, 2**12))
        deblock = draw(st.sampled_from([(0, 0, 0), (20, 10, 6), (300, 200, 90)]))
        planes.append(fmt.Plane(index, p, sx, sy, k, shift, deblock, m_dc, m, 0, payload))
    return fmt.pack(header, [], {}, planes)


@settings(max_examples=150, deadline=None)
@given(arith_files(), st.sampled_from([None, 1, 2]))
def test_strip_decoder_agrees_with_every_path(data: bytes, rank: int | None) -> None:
    """Random arith files: the strip decoder gives the reference's samples, or its error."""
    agree(data, rank=rank)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 70), st.integers(1, 70), st.sampled_from([1, 3, 4]),
       st.sampled_from([10, 45, 95]), st.sampled_from([4, 8, 16]), st.sampled_from([None, 1]))
def test_strip_decoder_agrees_on_encoded_images(height: int, width: int, channels: int,
                                                quality: int, patch_size: int,
                                                subsampling: int | None) -> None:
    image = _image(height, width, channels)
    data = svdcodec.encode(image[:, :, 0] if channels == 1 else image, quality=quality,
                           patch_size=patch_size, subsampling=subsampling, layout="patch")
    for rank in (None, 2):
        assert isinstance(agree(data, rank=rank), np.ndarray)


def _bound_file(last: int) -> bytes:
    """A 24 x 16 grey arith file (3 x 2 patches, k = 1) whose coefficients are 1 except
    ``last`` in the last patch: its accumulator bound (section 12.5) is set by that patch."""
    q = np.ones((6, 1), dtype=np.int64)
    q[-1, 0] = last
    basis = np.full((1, 4, 4), 127, dtype=np.int8)
    pc = PlaneCoefficients(np.array([2**32 - 1]), np.array([0]), basis,
                           np.zeros((3, 2), dtype=np.int64), q)
    payload, m = patchentropy.arith_encode(pc)
    header = fmt.Header(16, 24, fmt.Mode.L, fmt.Layout.PATCH, fmt.FactorType.COEFFICIENTS,
                        compression=fmt.Compression.ARITH)
    plane = fmt.Plane(0, 8, 1, 1, 1, 44, (20, 10, 6), 1, m, 0, payload)
    return fmt.pack(header, [], {}, [plane])


def test_strip_decoder_checks_the_bound_of_the_rows_so_far() -> None:
    """Section 12.8: the strip decoder reconstructs the first patch rows before it meets the
    last patch's coefficient; a bound >= 2^53 there still rejects the file, as the decoders
    that check the whole plane first reject it; 2^53 - 1 decodes alike."""
    limit = (2**53 - 2**52 - 1) // ((2**32 - 1) * 127)  # 2^(F+bd) = 2^52 with F = 44, bd = 8
    assert isinstance(agree(_bound_file(limit)), np.ndarray)
    assert agree(_bound_file(limit + 1)) is CorruptError
    with pytest.raises(CorruptError, match="PTCH 0: values too large"):
        svdcodec.decode(_bound_file(limit + 1))


def test_decode_reports_progress_per_strip() -> None:
    data = svdcodec.encode(_image(200, 30), quality=50)
    seen: list[tuple[int, int]] = []
    out = svdcodec.decode(data, progress=lambda done, total: seen.append((done, total)))
    assert np.array_equal(out, svdcodec.decode(data))
    assert seen == [(64, 200), (128, 200), (192, 200), (200, 200)]
    seen.clear()
    svdcodec.decode(data, reduce=3, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (200, 200) and [d for d, _ in seen] == sorted({d for d, _ in seen})
    seen.clear()  # other layouts: each matrix as a fraction of the rows, then the end
    svdcodec.decode(svdcodec.encode(_image(20, 30), rank=3, layout="per-channel"),
                    progress=lambda done, total: seen.append((done, total)))
    assert seen == [(3, 20), (6, 20), (10, 20), (20, 20)]
    with pytest.raises(TypeError, match="progress"):
        svdcodec.decode(data, progress=3)  # type: ignore[arg-type]


def test_progress_exception_stops_the_decode() -> None:
    data = svdcodec.encode(_image(200, 30), quality=50)

    def stop(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        svdcodec.decode(data, progress=stop)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 90), st.integers(1, 40), st.integers(2, 9), st.sampled_from([1, 3]))
def test_reduced_decode_through_strips(height: int, width: int, scale: int,
                                       channels: int) -> None:
    """decode(reduce=s) of an arith file averages strips as they come: the same samples as
    averaging the full decode (what the whole-plane path does)."""
    image = _image(height, width, channels)
    data = svdcodec.encode(image[:, :, 0] if channels == 1 else image, quality=60)
    for paths, out in decode_paths(data, reduce=scale):
        full = svdcodec.decode(data)
        full = full if full.ndim == 3 else full[:, :, None]
        means = np.rint(block_mean(block_mean(full, scale, 0), scale, 1)).astype(full.dtype)
        assert isinstance(out, np.ndarray)
        assert np.array_equal(out, means if channels == 3 else means[:, :, 0]), paths


def test_decode_memory_is_about_the_output() -> None:
    """Issue 13: the strip decoder's peak is the output plus O(width), within what section
    12.8 counts; the whole-plane decoder needed several times the output."""
    image = _image(1200, 400)
    data = svdcodec.encode(image, quality=70)
    container = fmt.unpack(data, Limits())
    _, counted = patchlimits.limit_counts(container)
    output = image.nbytes
    svdcodec.decode(data)  # warm up
    tracemalloc.start()
    try:
        svdcodec.decode(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= counted + len(data), (peak, counted)
    assert peak <= output + len(data) + 200_000, (peak, output, len(data))


def _big_header(width: int, height: int, mode: fmt.Mode, subsample: int, k: int,
                compression: fmt.Compression = fmt.Compression.ARITH) -> fmt.Container:
    """A patch-layout container of that size, every patch storing k coefficients (payloads
    of a few bytes: the limits read only the header fields)."""
    header = fmt.Header(width, height, mode, fmt.Layout.PATCH, fmt.FactorType.COEFFICIENTS,
                        compression=compression,
                        colour_transform=fmt.ColourTransform.YCBCR
                        if fmt.MODE_INFO[mode][1] >= 3 else fmt.ColourTransform.NONE)
    planes = []
    for index in range(header.channels):
        s = subsample if index in (1, 2) else 1
        gh, gw = fmt.Plane(index, 8, s, s, 0, 1, (0, 0, 0), 1, 0, 0, b"").grid(header)
        planes.append(fmt.Plane(index, 8, s, s, k, 20, (0, 0, 0), 1,
                                min(gh * gw * k, 2**32 - 1), 0, b"\0" * 8))
    return fmt.Container(header, (), {}, (), tuple(planes))


@pytest.mark.parametrize(("width", "height", "mode", "subsample"), [
    (9248, 6936, fmt.Mode.RGB, 2),     # 64 MP, 4:2:0
    (9248, 6936, fmt.Mode.RGB, 1),     # 64 MP, 4:4:4
    (15000, 10000, fmt.Mode.RGB, 1),   # 150 MP
    (13377, 13377, fmt.Mode.RGBA, 1),  # the pixel limit, 4 channels
    (100_000, 1789, fmt.Mode.RGBA, 1),  # as wide as section 8 promises
    (13377, 13377, fmt.Mode.I16, 1),
])
def test_default_limits_admit_every_size_svdcodec_writes(width: int, height: int,
                                                         mode: fmt.Mode, subsample: int) -> None:
    """Issue 13: arith files up to the pixel limit pass the default limits, even with 63
    coefficients stored in every patch; the zstd payload's whole-plane decoder does not."""
    assert width * height <= Limits().max_pixels
    container = _big_header(width, height, mode, subsample, 63)
    patchlimits.check_limits(container, Limits())
    alloc = patchlimits.limit_counts(container)[1]
    h = container.header
    output = width * height * h.channels * h.bit_depth // 8
    assert alloc < output + 100_000_000 + 1100 * width * h.channels
    zstd = _big_header(width, height, mode, subsample, 63, fmt.Compression.ZSTD)
    with pytest.raises(svdcodec.LimitError, match="bytes"):
        patchlimits.check_limits(zstd, Limits())


def test_arith_bomb_header_is_refused_fast_without_allocating() -> None:
    """Huge dimensions with a tiny payload: refused by the pixel limit, or (raised) by the
    output's size, or (raised too) by the work, in milliseconds and without allocating."""
    container = _big_header(1_000_000, 1_000_000, fmt.Mode.RGBA, 1, 63)
    data = fmt.pack(container.header, [], {}, list(container.planes))
    assert len(data) < 300
    cases = [(Limits(), "pixels"), (Limits(max_pixels=2**40), "work"),
             (Limits(max_pixels=2**40, max_work=2**60), "bytes")]
    for limits, what in cases:
        tracemalloc.start()
        start = time.perf_counter()
        try:
            with pytest.raises(svdcodec.LimitError, match=what):
                svdcodec.decode(data, limits=limits)
            elapsed = time.perf_counter() - start
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert elapsed < 0.5 and peak < 1_000_000, (what, elapsed, peak)


@needs_c
def test_decode_strips_checks_its_arguments() -> None:
    data = svdcodec.encode(_image(20, 30), quality=50)
    container = fmt.unpack(data, Limits())
    good = patchdecode.decode_strips(container, None, 8)
    assert np.array_equal(good, svdcodec.decode(data))
    strip = np.empty((8, 30, 3), dtype=np.uint8)
    got = np.empty((20, 30, 3), dtype=np.uint8)

    def keep(out: np.ndarray, y0: int, y1: int) -> None:
        got[y0:y1] = out[:y1 - y0]

    patchdecode.decode_strips(container, None, 8, keep, out=strip)
    assert np.array_equal(got, good)
    h = container.header
    planes = tuple((pl.payload, pl.components, pl.components, pl.patch_size, pl.subsample_x,
                    pl.subsample_y, *pl.grid(h), pl.ac_symbols, pl.dc_multiplier, pl.shift,
                    *pl.deblock) for pl in container.planes)
    args = (planes, 20, 30, 8, 1)
    with pytest.raises(ValueError, match="step"):  # 8 buffer rows are not a multiple of 3
        _arithc.decode_strips(*args, strip, 3, None)
    with pytest.raises(ValueError):
        _arithc.decode_strips(*args, np.empty((20, 30, 2), np.uint8), 8, None)
    with pytest.raises(ValueError):
        _arithc.decode_strips(*args, got, 8, 5)  # the sink is not callable
    bad = ((planes[0][0], *planes[0][1:6], 99, *planes[0][7:]), *planes[1:])
    with pytest.raises(ValueError, match="plane parameters"):  # gh does not fit the image
        _arithc.decode_strips(bad, 20, 30, 8, 1, got, 8, None)
    cut = ((planes[0][0][:3], *planes[0][1:]), *planes[1:])
    assert "at least 4 bytes" in _arithc.decode_strips(cut, 20, 30, 8, 1, got, 8, None)
