"""svdcodec.encode / decode / read / write / read_header."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import threadpoolctl
from hypothesis import given, settings
from hypothesis import strategies as st

import svdcodec
from svdcodec.patch import codec as patchcodec
from svdcodec.whole import encode as wholeencode
from svdcodec.whole.layout import to_matrices

LAYOUTS = ("per-channel", "stacked", "stacked-vertical")
FACTORS = ("float16", "int8")
CHANNELS = {"L": 0, "LA": 2, "RGB": 3, "RGBA": 4, "I;16": 0}


def make_image(h: int, w: int, mode: str, seed: int = 0) -> np.ndarray:
    """A smooth image with some noise: low-rank-ish like a photograph."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w, 2)
    c = CHANNELS[mode] or 1
    planes = [np.sin(3 * xx + k) * np.cos(2 * yy - k) + 0.2 * rng.standard_normal((h, w))
              for k in range(c)]
    x = (np.stack(planes, axis=2) + 1.5) / 3
    peak = 65535 if mode == "I;16" else 255
    x = np.clip(x * peak, 0, peak).astype(np.uint16 if mode == "I;16" else np.uint8)
    return x[:, :, 0] if CHANNELS[mode] == 0 else x


def rms(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)))


@settings(deadline=None, max_examples=60)
@given(h=st.integers(1, 40), w=st.integers(1, 40), mode=st.sampled_from(list(CHANNELS)),
       layout=st.sampled_from(LAYOUTS), factors=st.sampled_from(FACTORS),
       rank=st.integers(1, 50), seed=st.integers(0, 3))
def test_round_trip_shape_dtype_and_rank(h: int, w: int, mode: str, layout: str, factors: str,
                                         rank: int, seed: int) -> None:
    image = make_image(h, w, mode, seed)
    data = svdcodec.encode(image, rank=rank, layout=layout, factors=factors)
    out = svdcodec.decode(data)
    assert out.shape == image.shape and out.dtype == image.dtype
    info = svdcodec.read_header(data)
    assert info.shape == image.shape and info.mode == mode and info.layout == layout
    assert info.factors == factors and info.file_size == len(data)
    for g in info.groups:
        assert g.rank == min(rank, g.rows, g.cols)


@settings(deadline=None, max_examples=30)
@given(h=st.integers(1, 30), w=st.integers(1, 30), mode=st.sampled_from(list(CHANNELS)),
       layout=st.sampled_from(LAYOUTS))
def test_full_rank_float16_within_one_percent(h: int, w: int, mode: str, layout: str) -> None:
    image = make_image(h, w, mode)
    out = svdcodec.decode(svdcodec.encode(image, rank=10_000, layout=layout, factors="float16"))
    peak = 65535 if mode == "I;16" else 255
    assert rms(out, image) <= 0.01 * peak


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("rank", [1, 3, 8, 20])
def test_error_is_eckart_young_tail(layout: str, rank: int) -> None:
    image = make_image(48, 64, "RGB", seed=1)
    out = svdcodec.decode(svdcodec.encode(image, rank=rank, layout=layout, factors="float16"))
    tail2 = 0.0
    for x in to_matrices(image, layout):
        s = np.linalg.svd(x, compute_uv=False)
        tail2 += float(np.sum(s[rank:] ** 2))
    err = float(np.sqrt(np.sum((out.astype(np.float64) - image) ** 2)))
    # rounding to integers adds at most 0.5 per sample in quadrature (~0.29 rms); float16
    # factors add a little more
    slack = 0.5 * np.sqrt(image.size) + 0.01 * np.sqrt(tail2)
    assert abs(err - np.sqrt(tail2)) <= slack


def test_int8_halves_bytes_at_no_visible_loss() -> None:
    image = make_image(120, 160, "RGB", seed=2)
    f16 = svdcodec.encode(image, rank=40, factors="float16")
    i8 = svdcodec.encode(image, rank=40, factors="int8")
    assert len(i8) <= 0.55 * len(f16)
    err16 = rms(svdcodec.decode(f16), image)
    err8 = rms(svdcodec.decode(i8), image)
    psnr_gap = 20 * np.log10(err8 / err16)
    assert psnr_gap < 0.15


@pytest.mark.parametrize("layout", LAYOUTS)
def test_lower_rank_decode_equals_lower_rank_encode(layout: str) -> None:
    image = make_image(40, 50, "RGBA", seed=3)
    data = svdcodec.encode(image, rank=12, layout=layout, factors="float16")
    low = svdcodec.decode(data, rank=4)
    direct = svdcodec.decode(svdcodec.encode(image, rank=4, layout=layout, factors="float16"))
    assert np.abs(low.astype(int) - direct.astype(int)).max() <= 1
    assert rms(low, image) > rms(svdcodec.decode(data), image)
    assert np.array_equal(svdcodec.decode(data, rank=99), svdcodec.decode(data))


def test_energy_picks_smallest_rank() -> None:
    image = make_image(60, 70, "L", seed=4)
    s = np.linalg.svd(image.astype(np.float64), compute_uv=False)
    cum = np.cumsum(s**2) / np.sum(s**2)
    for f in (0.5, 0.9, 0.99, 0.999):
        k = int(np.searchsorted(cum, f) + 1)
        assert svdcodec.read_header(svdcodec.encode(image, energy=f)).ranks == (k,)


def test_quality_is_monotone_in_psnr_and_bytes() -> None:
    image = make_image(64, 80, "RGB", seed=5)
    previous_err, previous_size = np.inf, 0
    for q in (0, 20, 40, 60, 80, 100):
        data = svdcodec.encode(image, quality=q)
        err = rms(svdcodec.decode(data), image)
        assert err <= previous_err and len(data) >= previous_size
        previous_err, previous_size = err, len(data)


def test_target_psnr_meets_target_before_quantization() -> None:
    image = make_image(64, 80, "L", seed=6)
    out = svdcodec.decode(svdcodec.encode(image, target_psnr=30, factors="float16"))
    achieved = 20 * np.log10(255 / rms(out, image))
    assert 29.0 <= achieved


def test_default_is_quality_50() -> None:
    image = make_image(30, 30, "RGB")
    assert svdcodec.encode(image) == svdcodec.encode(image, quality=50)


def test_encode_is_deterministic() -> None:
    image = make_image(300, 400, "L", seed=7)  # large enough for the randomized SVD
    assert svdcodec.encode(image, rank=20) == svdcodec.encode(image, rank=20)


def test_metadata_round_trip() -> None:
    image = make_image(8, 8, "RGB")
    data = svdcodec.encode(image, rank=2, icc_profile=b"icc", exif=b"Exif\0\0MM\0*rest",
                           xmp="<xmp/>", dpi=(72, 150))
    meta = svdcodec.read_header(data).metadata
    assert meta["icc_profile"] == b"icc" and meta["exif"] == b"MM\0*rest"
    assert meta["xmp"] == b"<xmp/>"
    assert meta["dpi"] == pytest.approx((72, 150), abs=0.02)


def test_write_read_and_atomicity(tmp_path: Path) -> None:
    image = make_image(20, 30, "LA")
    path = tmp_path / "x.svdi"
    n = svdcodec.write(path, image, rank=5)
    assert n == path.stat().st_size
    assert np.array_equal(svdcodec.read(path), svdcodec.decode(path.read_bytes()))
    assert svdcodec.read_header(path).file_size == n
    with pytest.raises(ValueError):
        svdcodec.write(path, image, rank=0)
    assert path.stat().st_size == n  # a failed write leaves the old file intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.svdi"]  # no temporary left


@pytest.mark.parametrize("image, exc", [
    (np.zeros((4, 4), dtype=np.float32), TypeError),
    (np.zeros((4, 4), dtype=np.int32), TypeError),  # int16 is mode I;16S (spec section 15.1)
    (np.zeros((4, 4), dtype=">u4"), TypeError),
    (np.zeros((4, 4, 5), dtype=np.uint8), ValueError),
    (np.zeros((4, 4, 3), dtype=np.uint16), ValueError),
    (np.zeros((0, 4), dtype=np.uint8), ValueError),
    (np.zeros(4, dtype=np.uint8), ValueError),
    ([[1, 2]], TypeError),
])
def test_encode_rejects_bad_images(image: np.ndarray, exc: type) -> None:
    with pytest.raises(exc):
        svdcodec.encode(image, rank=1)


@pytest.mark.parametrize("options", [
    {"rank": 0}, {"rank": 1.5}, {"energy": 0}, {"energy": 1.5}, {"quality": 101},
    {"quality": -1}, {"target_psnr": float("nan")}, {"rank": 2, "energy": 0.9},
    {"layout": "diagonal"}, {"factors": "int4"}, {"level": 0}, {"dpi": (0, 72)},
])
def test_encode_rejects_bad_options(options: dict) -> None:
    with pytest.raises(ValueError):
        svdcodec.encode(make_image(6, 6, "RGB"), **options)


def test_decode_rejects_bad_arguments() -> None:
    data = svdcodec.encode(make_image(6, 6, "L"), rank=2)
    with pytest.raises(ValueError):
        svdcodec.decode(data, rank=0)
    with pytest.raises(TypeError):
        svdcodec.decode("x.svdi")  # type: ignore[arg-type]
    with pytest.raises(svdcodec.SvdiError):
        svdcodec.decode(b"not an svdi file")


def test_errors_are_value_errors() -> None:
    for cls in (svdcodec.CorruptError, svdcodec.TruncatedError, svdcodec.ChecksumError,
                svdcodec.UnsupportedError, svdcodec.LimitError):
        assert issubclass(cls, svdcodec.SvdiError) and issubclass(cls, ValueError)


def test_file_holds_little_beyond_its_factors() -> None:
    # issue 2: a float16 file <= 3 * k * (m + n + 1) * 2 bytes + 4 KiB
    image = make_image(96, 128, "RGB")
    data = svdcodec.encode(image, rank=40, factors="float16")
    assert len(data) <= 3 * 40 * (96 + 128 + 1) * 2 + 4096


# --- progressive decoding reads only a prefix of each zstd frame (spec sections 5 and 7) --------
def test_lower_rank_decode_decompresses_only_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    from svdcodec import _zstd
    from svdcodec import format as fmt

    data = svdcodec.encode(make_image(60, 80, "RGB"), rank=30, factors="float16")
    calls: list[tuple[int, int | None, int]] = []
    original = _zstd.decompress

    def spy(payload: bytes, size: int, *, prefix: int | None = None, what: str = "") -> bytes:
        out = original(payload, size, prefix=prefix, what=what)
        calls.append((size, prefix, len(out)))
        return out

    monkeypatch.setattr(_zstd, "decompress", spy)
    svdcodec.decode(data, rank=4)
    record = fmt.record_size(60, 80, fmt.FactorType.FLOAT16)
    assert calls == [(30 * record, 4 * record, 4 * record)] * 3


def test_lower_rank_decode_never_reaches_the_end_of_the_frame() -> None:
    # 100 float16 records of a 100 x 1000 matrix (2204 bytes each) span two zstd blocks; a bad
    # content checksum at the end of each frame is seen by a full decode only.
    from svdcodec import format as fmt

    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (100, 1000, 3), dtype=np.uint8)
    data = svdcodec.encode(image, rank=100, factors="float16")
    container = fmt.unpack(data, svdcodec.get_default_limits())
    groups = [fmt.Group(g.index, g.rows, g.cols, g.rank, g.raw_size,
                        g.payload[:-4] + bytes(b ^ 0xFF for b in g.payload[-4:]))
              for g in container.groups]
    broken = fmt.pack(container.header, groups)  # valid chunk CRCs around the bad frames
    with pytest.raises(svdcodec.ChecksumError):
        svdcodec.decode(broken)
    np.testing.assert_array_equal(svdcodec.decode(broken, rank=10),
                                  svdcodec.decode(data, rank=10))


def test_decode_in_float32_is_within_one_of_float64() -> None:
    # spec section 7: 8-bit images decode in float32 unless the factors could overflow it
    from svdcodec import _zstd
    from svdcodec import format as fmt
    from svdcodec.whole.quantize import dequantize

    image = make_image(64, 96, "RGB", seed=2)
    data = svdcodec.encode(image, rank=64, factors="float16")
    container = fmt.unpack(data, svdcodec.get_default_limits())
    exact = np.stack([np.clip(np.rint((u * s) @ vt), 0, 255) for u, s, vt in (
        dequantize(_zstd.decompress(g.payload, g.raw_size), g.rows, g.cols, "float16")
        for g in container.groups)], axis=2)
    assert np.abs(svdcodec.decode(data) - exact).max() <= 1
    assert svdcodec.whole.codec.decode_dtype(8, 1e8) is np.float32
    assert svdcodec.whole.codec.decode_dtype(8, 1e31) is np.float64
    assert svdcodec.whole.codec.decode_dtype(16, 1.0) is np.float64


# --- truncated files (spec section 7.1) ----------------------------------------------------
def _chunk(data: bytes, kind: str, nth: int = 0) -> svdcodec.format.ChunkInfo:
    chunks = svdcodec.read_header(data).chunks
    return [c for c in chunks if c.type == kind][nth]


def test_allow_truncated_keeps_complete_groups_and_zeroes_missing_ones() -> None:
    image = make_image(30, 40, "RGB")
    data = svdcodec.encode(image, rank=6, layout="per-channel")
    full = svdcodec.decode(data)
    cut = data[:_chunk(data, "FACT", 1).offset + 20]  # inside FACT 1's fixed fields
    with pytest.raises(svdcodec.TruncatedError):
        svdcodec.decode(cut)
    got = svdcodec.decode(cut, allow_truncated=True)
    assert got.shape == full.shape and got.dtype == full.dtype
    assert np.array_equal(got[:, :, 0], full[:, :, 0])
    assert not got[:, :, 1:].any()


def test_allow_truncated_decodes_the_whole_records_of_a_cut_group() -> None:
    # float16 records of a 100 x 1000 matrix are 2204 bytes: 100 of them span two zstd blocks
    # of 128 KiB, so a frame cut after the first still yields its records (spec section 5)
    rng = np.random.default_rng(3)
    data = svdcodec.encode(rng.integers(0, 256, (100, 1000), dtype=np.uint8), rank=100,
                           factors="float16")
    got = svdcodec.decode(data[:len(data) * 3 // 4], allow_truncated=True)
    lower = [k for k in range(1, 100) if np.array_equal(got, svdcodec.decode(data, rank=k))]
    assert len(lower) == 1 and 40 <= lower[0] < 100  # the first block's records, all of them


def test_allow_truncated_every_cut() -> None:
    """Every prefix that keeps HEAD decodes to the right shape; a shorter one is truncated."""
    data = svdcodec.encode(make_image(9, 11, "LA"), rank=3, layout="stacked", factors="int8")
    head = _chunk(data, "HEAD")
    for n in range(len(data)):
        if n < head.offset + head.size:
            with pytest.raises(svdcodec.TruncatedError):
                svdcodec.decode(data[:n], allow_truncated=True)
        else:
            assert svdcodec.decode(data[:n], allow_truncated=True).shape == (9, 11, 2)


def test_allow_truncated_refuses_what_it_cannot_salvage(tmp_path: Path) -> None:
    patch = svdcodec.encode(make_image(16, 16, "RGB"), quality=50)
    with pytest.raises(svdcodec.TruncatedError, match="not salvaged"):
        svdcodec.decode(patch[:-20], allow_truncated=True)
    whole = bytearray(svdcodec.encode(make_image(16, 16, "L"), rank=2))
    whole[-20] ^= 1  # a broken CRC is no truncation
    with pytest.raises(svdcodec.ChecksumError):
        svdcodec.decode(bytes(whole), allow_truncated=True)
    path = tmp_path / "cut.svdi"
    data = svdcodec.encode(make_image(16, 16, "L"), rank=2)
    path.write_bytes(data[:-12])  # IEND missing
    assert np.array_equal(svdcodec.read(path, allow_truncated=True), svdcodec.decode(data))


# --- target_size for the whole-image layouts --------------------------------------------------
@pytest.mark.parametrize("layout", LAYOUTS)
def test_whole_image_target_size_fits_and_is_tight(layout: str) -> None:
    image = make_image(48, 64, "RGB", seed=5)
    for target in (4_000, 9_000):
        data = svdcodec.encode(image, target_size=target, layout=layout)
        assert len(data) <= target
        info = svdcodec.read_header(data)
        # one more component anywhere would not fit: the next rank up is larger than the target
        record = 12 + info.groups[0].rows + info.groups[0].cols  # int8 record (spec section 5)
        assert len(data) > target - 2 * record
    with pytest.raises(ValueError, match="below the smallest file"):
        svdcodec.encode(image, target_size=100, layout=layout)


def test_whole_image_target_size_keeps_the_largest_singular_values() -> None:
    # one channel flat, one busy: the busy one gets the components
    rng = np.random.default_rng(0)
    busy = rng.integers(0, 256, (40, 40)).astype(np.uint8)
    image = np.stack([np.full((40, 40), 90, np.uint8), busy], axis=2)
    info = svdcodec.read_header(svdcodec.encode(image, target_size=3_000,
                                                layout="per-channel"))
    flat, noisy = info.ranks
    assert flat == 1 and noisy > 5
    with pytest.raises(ValueError, match="excludes"):
        svdcodec.encode(image, target_size=3_000, rank=4)
    with pytest.raises(ValueError, match="target_size must be"):
        svdcodec.encode(image, target_size=0, layout="stacked")


def test_whole_image_target_size_stores_no_zero_components() -> None:
    """A generous target does not fill up with components of zero sigma (nor factor the
    whole matrix looking for them)."""
    flat = np.full((64, 96, 3), 77, np.uint8)
    data = svdcodec.encode(flat, target_size=100_000, layout="per-channel")
    assert svdcodec.read_header(data).ranks == (1, 1, 1)
    assert np.array_equal(svdcodec.decode(data), flat)


def test_progressive_files_salvage_every_record_before_the_cut() -> None:
    image = make_image(40, 56, "L", seed=3)
    plain = svdcodec.encode(image, rank=12, factors="float16")
    progressive = svdcodec.encode(image, rank=12, factors="float16", progressive=True)
    assert np.array_equal(svdcodec.decode(plain), svdcodec.decode(progressive))
    assert len(plain) < len(progressive) < 1.15 * len(plain)
    fact = _chunk(progressive, "FACT")
    cut = progressive[:fact.offset + fact.size * 2 // 3]
    got = svdcodec.decode(cut, allow_truncated=True)
    ranks = [k for k in range(1, 13) if np.array_equal(got, svdcodec.decode(plain, rank=k))]
    assert len(ranks) == 1 and ranks[0] >= 6  # most of the records before the cut
    # a plain file keeps its records in one zstd block: cut, it yields none
    fact = _chunk(plain, "FACT")
    assert not svdcodec.decode(plain[:fact.offset + fact.size * 2 // 3],
                               allow_truncated=True).any()
    assert svdcodec.encode(image, progressive=True) == svdcodec.encode(image)  # patch: no effect
    with pytest.raises(TypeError):
        svdcodec.encode(image, rank=2, progressive="yes")


# --- every valid image encodes: structured content (issue 11.2) ------------------------------
MODE_CHANNELS = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4, "I;16": 1, "I;16S": 1}
ALL_LAYOUTS = ("patch", *LAYOUTS)


@st.composite
def structured_plane(draw: st.DrawFn, h: int, w: int, top: int) -> np.ndarray:
    """Flat areas, specks, ramps, bilevel rectangles or a checkerboard, 0..top."""
    level = st.sampled_from([0, top]) | st.integers(0, top)
    lo, hi = draw(level), draw(level)
    kind = draw(st.sampled_from(["flat", "specks", "ramp", "bilevel", "checker"]))
    x = np.full((h, w), lo, dtype=np.int64)
    yy, xx = np.mgrid[:h, :w]
    if kind == "specks":
        for y, x0 in draw(st.lists(st.tuples(st.integers(0, h - 1), st.integers(0, w - 1)),
                                   min_size=1, max_size=3)):
            x[y, x0] = hi
    elif kind == "ramp":
        a, b = draw(st.integers(-3, 3)), draw(st.integers(-3, 3))
        scale = draw(st.sampled_from([1, 8, 40])) * (top // 255)
        x = np.clip(lo + scale * (a * yy + b * xx), 0, top)
    elif kind == "bilevel":
        for y0, x0, dy, dx in draw(st.lists(st.tuples(
                st.integers(0, h - 1), st.integers(0, w - 1), st.integers(1, h),
                st.integers(1, w)), min_size=1, max_size=3)):
            x[y0:y0 + dy, x0:x0 + dx] = hi
    elif kind == "checker":
        period = draw(st.integers(1, 4))
        x = np.where((yy // period + xx // period) % 2, hi, lo)
    return x


@st.composite
def structured_images(draw: st.DrawFn) -> np.ndarray:
    mode = draw(st.sampled_from(list(MODE_CHANNELS)))
    h, w = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    top = 65535 if mode.startswith("I;16") else 255
    first = draw(structured_plane(h, w, top))
    grey = draw(st.booleans())  # colour modes: one plane repeated, or one per channel
    planes = [first if grey or c == 0 else draw(structured_plane(h, w, top))
              for c in range(MODE_CHANNELS[mode])]
    x = np.stack(planes, axis=2).astype(np.uint16 if mode == "I;16" else np.uint8)
    if mode == "I;16S":  # 0 .. 65535 shifted: negative ramps, -32768 and 32767 included
        x = (np.stack(planes, axis=2) - 32768).astype(np.int16)
    return x[:, :, 0] if len(planes) == 1 else x


@st.composite
def encode_options(draw: st.DrawFn, channels: int) -> dict:
    layout = draw(st.sampled_from(ALL_LAYOUTS))
    options: dict = {"layout": layout}
    criteria = ["quality", "quality", "quality", "target_size", "target_psnr"]
    criterion = draw(st.sampled_from(criteria + ([] if layout == "patch" else ["rank",
                                                                               "energy"])))
    options[criterion] = draw({
        "quality": st.sampled_from([0.0, 100.0]) | st.floats(0, 100),
        "target_size": st.integers(100, 4000), "target_psnr": st.floats(10, 90),
        "rank": st.integers(1, 50), "energy": st.floats(0.01, 1)}[criterion])
    if layout == "patch":
        options["patch_size"] = draw(st.sampled_from([4, 8, 16]))
        if channels >= 3:
            options["colour"] = draw(st.sampled_from(["ycbcr", "none"]))
            if options["colour"] == "ycbcr":
                options["subsampling"] = draw(st.sampled_from([None, 1, 2]))
    else:
        options["factors"] = draw(st.sampled_from(FACTORS))
        options["progressive"] = draw(st.booleans())
    return options


@settings(deadline=None, max_examples=1000)
@given(data=st.data())
def test_structured_images_encode_in_every_layout(data: st.DataObject) -> None:
    image = data.draw(structured_images())
    options = data.draw(encode_options(1 if image.ndim == 2 else image.shape[2]))
    try:
        encoded = svdcodec.encode(image, **options)
    except ValueError as e:  # the one refusal: a target no file of this image can meet
        assert "target_size" in options and "below the smallest" in str(e)
        return
    out = svdcodec.decode(encoded)
    assert out.shape == image.shape and out.dtype == image.dtype
    if "target_size" in options:
        assert len(encoded) <= options["target_size"]
    h, w = image.shape[:2]
    c = 1 if image.ndim == 2 else image.shape[2]
    full = {"per-channel": min(h, w), "stacked": min(h, c * w),
            "stacked-vertical": min(c * h, w)}.get(options["layout"], 0)
    if options["layout"] != "patch" and options.get("rank", 0) >= full and \
            options["factors"] == "float16":
        peak = np.iinfo(image.dtype).max - np.iinfo(image.dtype).min
        assert rms(out, image) <= 0.01 * peak  # full rank: near exact


# --- any storage of the same samples gives the same bytes (issue 11.5) -----------------------
@settings(deadline=None, max_examples=60)
@given(image=structured_images(), how=st.sampled_from(
    ["swapped", "fortran", "reversed", "strided", "swapped-reversed"]),
    layout=st.sampled_from(ALL_LAYOUTS))
def test_byte_order_strides_and_memory_order_do_not_change_the_bytes(
        image: np.ndarray, how: str, layout: str) -> None:
    if how == "swapped" or how == "swapped-reversed":  # the other byte order, same values
        view = image.astype(image.dtype.newbyteorder("S"))
        view = view[::-1, ::-1] if how == "swapped-reversed" else view
    elif how == "fortran":
        view = np.asfortranarray(image)
    elif how == "reversed":  # negative strides
        view = image[::-1, ::-1]
    else:  # every other sample of a larger array
        big = np.repeat(np.repeat(image, 2, axis=0), 3, axis=1)
        view = big[::2, ::3]
    native = np.ascontiguousarray(view, dtype=image.dtype.newbyteorder("="))
    assert np.array_equal(view, native)
    options = {"layout": layout, "quality": 60}
    assert svdcodec.encode(view, **options) == svdcodec.encode(native, **options)


def test_big_endian_uint16_encodes_as_native() -> None:
    image = make_image(20, 30, "I;16")
    big = image.astype(">u2")
    assert big.dtype.str == ">u2"
    assert svdcodec.encode(big) == svdcodec.encode(image)
    assert svdcodec.encode(big, rank=5) == svdcodec.encode(image, rank=5)
    assert np.array_equal(svdcodec.decode(svdcodec.encode(big, rank=100, factors="float16")),
                          svdcodec.decode(svdcodec.encode(image, rank=100,
                                                          factors="float16")))


# --- the bytes do not depend on the number of BLAS threads (issue 11.7) ----------------------
def _blas_threads() -> int:
    return max(lib["num_threads"] for lib in threadpoolctl.threadpool_info()
               if lib["user_api"] == "blas")


def test_encode_runs_blas_on_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []

    def spy(wrapped: Callable) -> Callable:
        def call(*args: object, **kwargs: object) -> object:
            seen.append(_blas_threads())
            return wrapped(*args, **kwargs)
        return call

    monkeypatch.setattr(wholeencode, "select_rank", spy(wholeencode.select_rank))
    monkeypatch.setattr(wholeencode, "truncated_svd", spy(wholeencode.truncated_svd))
    monkeypatch.setattr(patchcodec, "quantize_plane", spy(patchcodec.quantize_plane))
    monkeypatch.setattr(patchcodec, "PlaneAnalysis", spy(patchcodec.PlaneAnalysis))
    image = make_image(40, 60, "RGB")
    with threadpoolctl.threadpool_limits(2):
        for options in ({"rank": 5}, {"target_size": 3000, "layout": "stacked"}, {},
                        {"target_psnr": 35}):
            svdcodec.encode(image, **options)
        assert _blas_threads() == 2  # restored after each encode
    assert len(seen) >= 8 and set(seen) == {1}


@pytest.mark.parametrize("options", [
    {"rank": 20}, {"quality": 50, "layout": "stacked"},
    {"target_psnr": 30, "layout": "stacked-vertical"}, {"energy": 0.99, "factors": "float16"},
    {"target_size": 20_000, "layout": "per-channel"}, {"quality": 50}, {"target_psnr": 30},
])
def test_bytes_do_not_depend_on_blas_threads(options: dict) -> None:
    # products and dot products large enough that OpenBLAS splits them in two
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:384, 0:512] / 512
    planes = [np.sin(5 * xx + k) * np.cos(4 * yy - k) for k in range(3)]
    image = np.clip(127.5 + 100 * np.stack(planes, axis=2)
                    + 3 * rng.standard_normal((384, 512, 3)), 0, 255).astype(np.uint8)
    files = []
    for threads in (1, 2):
        with threadpoolctl.threadpool_limits(threads):
            files.append(svdcodec.encode(image, **options))
    assert files[0] == files[1]


@settings(deadline=None, max_examples=20)
@given(st.integers(1, 20), st.integers(1, 20), st.sampled_from([np.uint8, np.uint16]),
       st.sampled_from([{}, {"rank": 2}, {"layout": "stacked", "rank": 1}]))
def test_a_channel_axis_of_one_is_stored_as_grey(h: int, w: int, dtype: type,
                                                 options: dict) -> None:
    # A file of mode L (or I;16) cannot tell (H, W) from (H, W, 1): both encode to the same
    # bytes and decode as (H, W), as the README's "same shape as encoded" now says.
    rng = np.random.default_rng(h * 31 + w)
    grey = rng.integers(0, np.iinfo(dtype).max, (h, w), endpoint=True).astype(dtype)
    data = svdcodec.encode(grey[:, :, None], **options)
    assert data == svdcodec.encode(grey, **options)
    assert svdcodec.decode(data).shape == (h, w)


def test_readme_says_what_shape_decode_returns() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    line = next(x for x in readme.splitlines() if x.startswith("out = svdcodec.decode(data)"))
    assert "(H, W, 1)" in line
