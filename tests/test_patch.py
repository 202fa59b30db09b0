"""The patch layout (spec section 12): round trips, rate control, streams, hostile files."""

from __future__ import annotations

import functools
import struct
import zlib

import numpy as np
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import svdcodec
from svdcodec import format as fmt
from svdcodec.limits import Limits
from svdcodec.metrics import psnr
from svdcodec.patch import analysis as patch_analysis
from svdcodec.patch import basis as patch_basis
from svdcodec.patch import encode as patch_encode
from svdcodec.patch import reconstruct as patch
from svdcodec.patch import symbols as entropy
from svdcodec.teach.demo import demo_image

MODES = {"L": 0, "LA": 2, "RGB": 3, "RGBA": 4, "I;16": 0}


def photo(h: int, w: int, mode: str = "RGB", y0: int = 180, x0: int = 260) -> np.ndarray:
    """A crop of the bundled Kodak photograph in the given mode (alpha: a ramp)."""
    with Image.open(demo_image()) as im:
        rgb = np.asarray(im.convert("RGB"))[y0:y0 + h, x0:x0 + w]
    if mode == "RGB":
        return rgb
    grey = np.asarray(Image.fromarray(rgb).convert("L"))
    if mode == "L":
        return grey
    if mode == "I;16":
        return grey.astype(np.uint16) * 257 + np.arange(w, dtype=np.uint16)[None, :]
    yy, xx = np.mgrid[0:h, 0:w]
    alpha = np.clip(255 - 3 * (xx + yy), 0, 255).astype(np.uint8)[:, :, None]
    base = rgb if mode == "RGBA" else grey[:, :, None]
    return np.concatenate([base, alpha], axis=2)


def rebuild(data: bytes, plane: int, edit: object) -> bytes:
    """The file with PTCH ``plane`` replaced by ``edit(fields, raw) -> (fields, raw)``, the
    payload recompressed and every CRC recomputed."""
    container = fmt.unpack(data, Limits())
    h = container.header
    planes = []
    for pl in container.planes:
        if pl.index == plane:
            raw = zstandard.ZstdDecompressor().decompress(pl.payload)
            fields = list(fmt.PTCH.unpack(fmt.PTCH.pack(
                pl.index, pl.patch_size, pl.subsample_x, pl.subsample_y, pl.components,
                pl.shift, *pl.deblock, pl.dc_multiplier, pl.ac_symbols, pl.escapes)))
            fields, raw = edit(fields, bytearray(raw))  # type: ignore[operator]
            payload = zstandard.ZstdCompressor(write_content_size=True).compress(bytes(raw))
            pl = fmt.Plane(fields[0], *fields[1:6], tuple(fields[6:9]), *fields[9:12], payload)
        planes.append(pl)
    return fmt.pack(h, [], container.metadata, planes)


# --- round trips ----------------------------------------------------------------------------
@pytest.mark.parametrize("mode", list(MODES))
def test_round_trip_every_mode(mode: str) -> None:
    image = photo(40, 56, mode)
    data = svdcodec.encode(image, quality=90)
    out = svdcodec.decode(data)
    assert out.shape == image.shape and out.dtype == image.dtype
    info = svdcodec.read_header(data)
    assert (info.layout, info.factors, info.mode) == ("patch", "coefficients", mode)
    assert len(info.groups) == (MODES[mode] or 1)
    assert psnr(image, out) > 38


@pytest.mark.parametrize("shape", [(1, 1), (7, 13), (13, 7), (29, 100), (100, 29), (9, 16)])
@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA"])
def test_odd_sizes(shape: tuple[int, int], mode: str) -> None:
    image = photo(*shape, mode)
    for quality in (20, 80):
        out = svdcodec.decode(svdcodec.encode(image, quality=quality))
        assert out.shape == image.shape
        if quality == 80 and image.size > 3:
            assert psnr(image, out) > 30


@pytest.mark.parametrize("options", [{"patch_size": 4}, {"patch_size": 16}, {"subsampling": 1},
                                     {"subsampling": 2, "quality": 95}, {"colour": "none"}])
def test_encoder_options(options: dict) -> None:
    image = photo(48, 40)
    out = svdcodec.decode(svdcodec.encode(image, **{"quality": 70, **options}))
    assert psnr(image, out) > 30


def test_default_layout_is_patch_and_whole_image_options_select_per_channel() -> None:
    image = photo(24, 32)
    assert svdcodec.read_header(svdcodec.encode(image)).layout == "patch"
    assert svdcodec.read_header(svdcodec.encode(image, rank=3)).layout == "per-channel"
    assert svdcodec.read_header(svdcodec.encode(image, factors="float16")).layout == \
        "per-channel"


def test_flat_image_has_no_basis() -> None:
    image = np.full((20, 30, 3), 77, dtype=np.uint8)
    data = svdcodec.encode(image, quality=50)
    assert svdcodec.read_header(data).ranks == (0, 0, 0)
    assert np.array_equal(svdcodec.decode(data), image)


# --- rate control ---------------------------------------------------------------------------
def test_quality_is_monotone_in_bytes_and_psnr() -> None:
    image = photo(96, 128)
    sizes, scores = [], []
    for quality in range(0, 101, 10):
        data = svdcodec.encode(image, quality=quality)
        sizes.append(len(data))
        scores.append(psnr(image, svdcodec.decode(data)))
    assert sizes == sorted(sizes) and scores == sorted(scores)
    assert scores[-1] > scores[0] + 15


@pytest.mark.parametrize("target", [700, 1500, 4000])
def test_target_size_within_three_percent(target: int) -> None:
    image = photo(96, 128)
    data = svdcodec.encode(image, target_size=target)
    assert 0.97 * target <= len(data) <= target


def test_target_size_too_small_is_an_error() -> None:
    with pytest.raises(ValueError, match="target_size"):
        svdcodec.encode(photo(96, 128), target_size=50)


def test_target_psnr_is_met() -> None:
    image = photo(96, 128)
    data = svdcodec.encode(image, target_psnr=33.0)
    achieved = psnr(image, svdcodec.decode(data))
    assert achieved >= 33.0
    assert len(data) < len(svdcodec.encode(image, quality=100))


@pytest.mark.parametrize("options", [
    {"layout": "patch", "rank": 3}, {"layout": "patch", "factors": "int8"},
    {"layout": "patch", "energy": 0.9}, {"quality": 50, "target_size": 1000},
    {"target_size": 0}, {"target_size": 1.5},
    {"layout": "per-channel", "target_size": 9, "rank": 2},
    {"layout": "stacked", "patch_size": 4}, {"patch_size": 5}, {"subsampling": 3},
    {"colour": "yuv"}, {"quality": float("nan")}, {"quality": 100.5}, {"target_psnr": -1},
    {"level": 20},
])
def test_bad_options(options: dict) -> None:
    with pytest.raises(ValueError):
        svdcodec.encode(photo(16, 16), **options)


def test_ycbcr_needs_colour() -> None:
    with pytest.raises(ValueError):
        svdcodec.encode(photo(16, 16, "L"), colour="ycbcr")


# --- streams --------------------------------------------------------------------------------
@given(st.lists(st.integers(-(2**30) + 1, 2**30 - 1), max_size=200))
def test_symbols_round_trip(values: list[int]) -> None:
    v = np.array(values, dtype=np.int64)
    symbols, escapes = entropy.pack_symbols(v)
    assert len(symbols) == len(values) and len(escapes) == symbols.count(255)
    back = entropy.unpack_symbols(np.frombuffer(symbols, np.uint8), escapes)
    assert back.tolist() == values


def test_zigzag() -> None:
    v = np.array([0, -1, 1, -2, 2, -128, 127])
    assert entropy.zigzag(v).tolist() == [0, 1, 2, 3, 4, 255, 254]
    assert entropy.unzigzag(entropy.zigzag(v)).tolist() == v.tolist()


@given(st.integers(1, 9), st.integers(1, 9), st.data())
def test_dc_prediction_round_trip(gh: int, gw: int, data: st.DataObject) -> None:
    grid = np.array(data.draw(st.lists(st.integers(-5000, 5000), min_size=gh * gw,
                                       max_size=gh * gw))).reshape(gh, gw)
    res = entropy.dc_residuals(grid)
    assert np.array_equal(entropy.dc_reconstruct(res, gh, gw), grid)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(0, 6), st.integers(0, 3), st.data())
def test_payload_round_trip(n: int, k: int, seed: int, data: st.DataObject) -> None:
    rng = np.random.default_rng(seed)
    q = rng.integers(-3, 4, (n, k)) * (rng.random((n, k)) < 0.4)
    if k and n:
        q[0, 0] = data.draw(st.integers(-(2**29), 2**29))  # an escape
    pc = entropy.PlaneCoefficients(rng.integers(1, 2**32, k), rng.integers(0, 4, k),
                                   rng.integers(-127, 128, (k, 2, 2)).astype(np.int8) | 1,
                                   rng.integers(-300, 300, (1, n)), q)
    raw, m, e = entropy.pack_payload(pc)
    back = entropy.unpack_payload(raw, k=k, half=2, gh=1, gw=n, ac_symbols=m, escapes=e)
    for name in ("multipliers", "parities", "basis", "dc", "q"):
        assert np.array_equal(getattr(back, name), getattr(pc, name)), name


def test_mirror_parities() -> None:
    quarter = np.arange(1, 5, dtype=np.int8).reshape(1, 2, 2)
    full = [patch.mirror(quarter, np.array([p]))[0].reshape(4, 4) for p in range(4)]
    assert np.array_equal(full[0], full[0][:, ::-1]) and np.array_equal(full[0], full[0][::-1])
    assert np.array_equal(full[1], -full[1][:, ::-1]) and np.array_equal(full[1], full[1][::-1])
    assert np.array_equal(full[2], full[2][:, ::-1]) and np.array_equal(full[2], -full[2][::-1])
    assert np.array_equal(full[3], -full[3][:, ::-1]) and np.array_equal(full[3], -full[3][::-1])


def test_reconstruction_is_the_exact_integer_formula() -> None:
    """Spec 12.5 computed with Python integers equals the float64 matrix product."""
    rng = np.random.default_rng(3)
    gh, gw, k, p, shift = 2, 3, 4, 4, 30
    dc = rng.integers(-50, 50, (gh, gw))
    q = rng.integers(-40, 40, (gh * gw, k))
    mult = rng.integers(1, 2**28, k)
    basis = patch.mirror(rng.integers(-127, 128, (k, 2, 2)), rng.integers(0, 4, k))
    m_dc = 2**29 + 12345
    got = patch.reconstruct(dc, q, mult, basis, m_dc, shift, p, 8)
    for n in range(gh * gw):
        for i in range(p * p):
            acc = int(dc.ravel()[n]) * m_dc + (1 << (shift - 1)) + sum(
                int(q[n, j]) * int(mult[j]) * int(basis[j, i]) for j in range(k))
            expected = min(max(128 + (acc >> shift), 0), 255)
            gy, gx = divmod(n, gw)
            assert got[gy * p + i // p, gx * p + i % p] == expected


def test_upsampling_matches_the_table() -> None:
    rng = np.random.default_rng(4)
    c = rng.integers(0, 256, (3, 4)).astype(np.int32)
    up = patch.upsample_rows(c, 2, 2, 3, 4, 0, 6, 7)
    for y in range(6):
        for x in range(7):
            i, j = y >> 1, x >> 1
            i2 = min(max(i - 1 if y % 2 == 0 else i + 1, 0), 2)
            j2 = min(max(j - 1 if x % 2 == 0 else j + 1, 0), 3)
            value = (9 * c[i, j] + 3 * c[i2, j] + 3 * c[i, j2] + c[i2, j2] + 8) >> 4
            assert up[y, x] == value


def test_lower_rank_decodes() -> None:
    image = photo(64, 64)
    data = svdcodec.encode(image, quality=80)
    full = svdcodec.decode(data)
    assert np.array_equal(svdcodec.decode(data, rank=255), full)
    low = svdcodec.decode(data, rank=1)
    assert low.shape == full.shape and psnr(image, low) < psnr(image, full)


# --- hostile files -------------------------------------------------------------------------
# the zstd payload of section 12.3 (tests/test_arith.py mutates the arith one, section 13)
@functools.cache
def small() -> bytes:
    """A 24x20 photo crop in the zstd payload; made on first use, not at import."""
    return svdcodec.encode(photo(20, 24), quality=60, entropy="zstd")


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_mutations_raise_only_svdi_errors(data: st.DataObject) -> None:
    blob = bytearray(small())
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(blob) - 1))
        blob[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(blob)))
    try:
        svdcodec.decode(bytes(blob[:cut]))
    except svdcodec.SvdiError:
        pass


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_payload_mutations_raise_only_svdi_errors(data: st.DataObject) -> None:
    """Edits behind valid CRCs and zstd frames reach the field and payload checks."""
    def edit(fields: list, raw: bytearray) -> tuple[list, bytearray]:
        if data.draw(st.booleans()):
            i = data.draw(st.integers(0, len(fields) - 1))
            fields[i] = data.draw(st.integers(0, 255 if i < 6 else 2**16 - 1 if i < 9
                                              else 2**32 - 1))
        for _ in range(data.draw(st.integers(0, 3))):
            if raw:
                raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
        return fields, raw
    try:
        blob = rebuild(small(), data.draw(st.integers(0, 2)), edit)
    except struct.error:
        return
    try:
        svdcodec.decode(blob)
    except svdcodec.SvdiError:
        pass


@pytest.mark.parametrize(("field", "value", "error"), [
    (1, 0, svdcodec.CorruptError), (1, 32, svdcodec.UnsupportedError),
    (2, 0, svdcodec.CorruptError), (3, 3, svdcodec.UnsupportedError),
    (4, 64, svdcodec.CorruptError), (5, 0, svdcodec.CorruptError),
    (5, 53, svdcodec.CorruptError), (9, 0, svdcodec.CorruptError),
    (10, 10**6, svdcodec.CorruptError), (0, 1, svdcodec.CorruptError),
])
def test_bad_fields(field: int, value: int, error: type) -> None:
    def edit(fields: list, raw: bytearray) -> tuple[list, bytearray]:
        fields[field] = value
        return fields, raw
    with pytest.raises(error):
        svdcodec.decode(rebuild(small(), 0, edit))


def test_accumulator_bound_is_enforced() -> None:
    def edit(fields: list, raw: bytearray) -> tuple[list, bytearray]:
        fields[9] = 2**32 - 1  # dc_multiplier: with shift 52, 2^(F + 8) alone exceeds 2^53
        fields[5] = 52
        return fields, raw
    with pytest.raises(svdcodec.CorruptError, match="2\\^53"):
        svdcodec.decode(rebuild(small(), 0, edit))


def test_layout_and_chunk_combinations_are_corrupt() -> None:
    head = fmt.PREFIX_SIZE + fmt.CHUNK_PREFIX.size
    grey = svdcodec.encode(photo(8, 8, "L"))
    # factor_type int8 with layout patch; layout per-channel with coefficients; YCbCr for L
    for base, offset, value in ((small(), 12, 2), (small(), 11, 1), (grey, 14, 1)):
        blob = bytearray(base)
        blob[head + offset] = value
        crc_at = head + fmt.HEAD.size
        blob[crc_at:crc_at + 4] = struct.pack("<I", zlib.crc32(bytes(blob[head - 4:crc_at])))
        with pytest.raises(svdcodec.CorruptError):
            svdcodec.decode(bytes(blob))
    whole = svdcodec.encode(photo(8, 8), rank=1)
    container = fmt.unpack(small(), Limits())
    mixed = fmt.pack(fmt.unpack(whole, Limits()).header, [], {}, container.planes)
    with pytest.raises(svdcodec.CorruptError, match="PTCH"):
        svdcodec.decode(mixed)


def test_limits_are_checked_before_decompressing() -> None:
    with pytest.raises(svdcodec.LimitError):
        svdcodec.decode(small(), limits=Limits(max_work=1000))
    with pytest.raises(svdcodec.LimitError):
        svdcodec.decode(small(), limits=Limits(max_alloc_bytes=10_000))


# --- simple images the encoder once refused (issue 11.2) ------------------------------------
def test_one_white_speck_encodes_at_quality_50() -> None:
    image = np.zeros((8, 8), dtype=np.uint8)
    image[0, 0] = 255  # raised LinAlgError: Singular matrix
    out = svdcodec.decode(svdcodec.encode(image, quality=50))
    assert out.shape == (8, 8) and out.dtype == np.uint8
    assert np.abs(out.astype(int) - image).max() <= 8


def test_two_specks_encode_at_quality_30() -> None:
    image = np.zeros((9, 11), dtype=np.uint8)
    image[0, 8] = image[5, 0] = 255
    out = svdcodec.decode(svdcodec.encode(image, quality=30))
    assert out.shape == (9, 11) and out.dtype == np.uint8
    assert np.abs(out.astype(int) - image).max() <= 16


@pytest.mark.parametrize("p", fmt.PATCH_SIZES)
def test_basis_vectors_have_one_parity_and_are_orthonormal(p: int) -> None:
    # One speck: its mirror images span a 4-dimensional eigenspace of one eigenvalue, whose
    # eigenvectors LAPACK may return mixed across the parity classes.
    r = np.zeros((3, p * p))
    r[0, 0] = 1.0
    r -= r.mean(axis=1, keepdims=True)
    quarter, parities = patch_basis.symmetric_basis(r, p)
    full = _mirror_float(quarter, parities)
    assert len(quarter) == 4 and sorted(parities.tolist()) == [0, 1, 2, 3]
    assert np.allclose(full @ full.T, np.eye(4), atol=1e-12)


def _mirror_float(quarter: np.ndarray, parities: np.ndarray) -> np.ndarray:
    """patch.mirror for float quarters (it casts to integers)."""
    scale = 2.0**40
    return patch.mirror(np.rint(quarter * scale), parities) / scale


def test_independent_basis_drops_near_duplicates() -> None:
    a = np.zeros((1, 4, 4), dtype=np.int8)
    a[0, 0, 0] = 15
    b = a.copy()
    b[0, 0, 1] = 1  # nearly a
    c = np.zeros((1, 4, 4), dtype=np.int8)
    c[0, 1, 1] = 15  # orthogonal to a
    basis = np.concatenate([a, b, c, b])
    parities = np.array([0, 0, 0, 1])  # the last is alone in its class: kept
    kept, kept_parities = patch_basis.independent_basis(basis, parities)
    assert np.array_equal(kept, np.concatenate([a, c, b]))
    assert kept_parities.tolist() == [0, 0, 1]


def test_shift_is_lowered_until_the_accumulators_are_exact() -> None:
    # Coefficients far beyond choose_shift's bound (least squares on nearly dependent vectors,
    # which independent_basis removes, gives such): the encoder lowers F until exact.
    rng = np.random.default_rng(0)
    an = patch_analysis.PlaneAnalysis(rng.uniform(-128, 127, (16, 16)), 8, 8)
    assert len(an.basis) > 2
    an.solve = an.solve * 1e12
    ratios = (1 + np.arange(len(an.basis)) / patch_encode.STEP_GROWTH) / an.norms
    first = patch_encode.choose_shift([*ratios.tolist(), 1 / 8], 8, 8)
    enc = patch_encode.encode_plane(an, 1.0)
    pc = enc.coefficients
    bound = patch.exactness_bound(pc.dc, pc.q, pc.multipliers, pc.basis, enc.dc_multiplier,
                                  enc.shift, 8)
    assert enc.shift < first and bound < patch.EXACT_LIMIT
