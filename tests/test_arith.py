"""The arithmetic-coded payload of the patch layout (spec section 13): svdcodec/patch/arith.py,
the reference, and svdcodec/patch/_arithc.c, which must write the same bytes and accept the
same payloads.
"""

from __future__ import annotations

import functools
import os
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
from svdcodec.patch import arith
from svdcodec.patch import codec as patchcodec
from svdcodec.patch import decode as patchdecode
from svdcodec.patch.symbols import PlaneCoefficients, pack_payload

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
    assert arith.RATE[:8] == [1, 1, 2, 2, 2, 2, 3, 3]
    assert arith.RATE[-1] == arith.RATE_MAX
    enc = arith.Encoder()
    enc.bit(0, 0)
    assert enc.p[0] == arith.PROB_INIT + (arith.PROB_INIT >> 1)  # 1/2 -> 3/4 after one 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.booleans()), max_size=400))
def test_bits_round_trip(bits: list[tuple[int, bool]]) -> None:
    enc = arith.Encoder()
    for ctx, b in bits:
        enc.bit(ctx, b)
    data = enc.finish()
    assert len(data) >= arith.INIT_BYTES
    dec = arith.Decoder(data)
    assert [dec.bit(ctx) for ctx, _ in bits] == [int(b) for _, b in bits]
    dec.finish()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-(2**31), 2**31), max_size=50))
def test_integers_round_trip(values: list[int]) -> None:
    enc = arith.Encoder()
    for v in values:
        arith.code_sint(enc, v, 0)
        arith.code_uint(enc, abs(v), arith.SIGNED_SET)
    dec = arith.Decoder(enc.finish())
    out = []
    for _ in values:
        out.append(arith.code_sint(dec, 0, 0))
        assert arith.code_uint(dec, 0, arith.SIGNED_SET) == abs(out[-1])
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
        return patchcodec.arith_encode(pc)
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
    arith.code_uint(enc, mult - 1, arith.CTX_MULT_FIRST)
    enc.bit(arith.CTX_PARITY, 0)
    enc.bit(arith.CTX_PARITY + 1, 0)
    for _ in range(4):
        arith.code_sint(enc, basis, arith.CTX_BASIS)


def test_hostile_multiplier() -> None:
    def write(enc: arith.Encoder) -> None:
        _header(enc, mult=5)
        arith.code_sint(enc, -5, arith.CTX_MULT_DELTA)  # m_1 = 0

    _hostile(write, k=2)

    def write_big(enc: arith.Encoder) -> None:
        _header(enc, mult=2**32 - 1)
        arith.code_sint(enc, 1, arith.CTX_MULT_DELTA)  # m_1 = 2^32

    _hostile(write_big, k=2)


def test_hostile_basis() -> None:
    _hostile(lambda enc: _header(enc, basis=0))  # a zero vector
    _hostile(lambda enc: _header(enc, basis=128))  # out of -127..127


def test_hostile_dc_count_and_coefficient() -> None:
    dc0 = arith.CTX_DC  # activity class 0, neighbours' counts 0
    _hostile(lambda enc: (_header(enc), arith.code_sint(enc, 2**29, dc0)))
    count0 = arith.CTX_COUNT
    _hostile(lambda enc: (_header(enc), arith.code_sint(enc, 0, dc0),
                          arith.code_uint(enc, 2, count0)), m=1)  # count 2 > k = 1

    def big_coefficient(enc: arith.Encoder) -> None:
        _header(enc)
        arith.code_sint(enc, 0, dc0)
        arith.code_uint(enc, 1, count0)
        arith.code_uint(enc, 2**30 - 1, arith.CTX_MAG)  # |q| = 2^30

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


@pytest.mark.parametrize("name", sorted(p.stem for p in VECTORS.glob("*-arith-*.svdi")))
def test_arith_vectors_decode_alike_on_every_path(name: str) -> None:
    """C range decoder + C reconstruction, Python range decoder + C reconstruction, and the
    pure reference give the expected image (spec/vectors, section 11)."""
    data = (VECTORS / f"{name}.svdi").read_bytes()
    assert fmt.unpack(data, Limits()).header.compression == fmt.Compression.ARITH
    with Image.open(VECTORS / f"{name}.png") as im:
        expected = np.asarray(im)
    if name.startswith("i16s-"):  # the PNG holds u = sample + 32768 (spec section 15.1)
        expected = (expected.astype(np.int32) - fmt.SIGNED_OFFSET).astype(np.int16)
    saved = patchdecode.ACCELERATED, patchdecode.ARITH_ACCELERATED
    try:
        for paths in ((True, True), (True, False), (False, False)):
            patchdecode.ACCELERATED = paths[0] and saved[0]
            patchdecode.ARITH_ACCELERATED = paths[1] and saved[1]
            assert np.array_equal(svdcodec.decode(data), expected), paths
    finally:
        patchdecode.ACCELERATED, patchdecode.ARITH_ACCELERATED = saved


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
    outcomes = []
    saved = patchdecode.ACCELERATED, patchdecode.ARITH_ACCELERATED
    try:
        for paths in ((True, True), (True, False), (False, False)):
            patchdecode.ACCELERATED = paths[0] and saved[0]
            patchdecode.ARITH_ACCELERATED = paths[1] and saved[1]
            try:
                outcomes.append(svdcodec.decode(blob))
            except svdcodec.SvdiError as exc:
                outcomes.append(type(exc))
    finally:
        patchdecode.ACCELERATED, patchdecode.ARITH_ACCELERATED = saved
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
