"""Hostile input, the limits and the API around them (spec section 8; classes 16 and 17 of the
design notes' bad inputs): metadata and chunk-count limits, compute bombs, every ``Limits``
field per call and process-wide, the memory a decode really allocates, and decoding from
threads. Helpers and the files: ``tests/hostile.py``.
"""

from __future__ import annotations

import concurrent.futures
import struct
import time
import tracemalloc

import numpy as np
import pytest
import zstandard
from hostile import assert_rejects, build, edit_head, file, image, metadata_bytes, picture, split

import svdcodec
from svdcodec import CorruptError, LimitError, TruncatedError, UnsupportedError
from svdcodec import format as fmt


# --- 16. metadata too large or too many chunks (section 8) ---------------------------------------
def test_16_metadata_too_large() -> None:
    data = file("rgb-meta")
    need = metadata_bytes(data)
    assert_rejects(LimitError, data, limits=svdcodec.Limits(max_metadata_bytes=need - 1))
    svdcodec.decode(data, limits=svdcodec.Limits(max_metadata_bytes=need))
    # unknown ancillary chunks count as well
    chunks = split(file("rgb-int8"))
    chunks.insert(1, (b"junk", bytes(100)))
    assert_rejects(LimitError, build(chunks), limits=svdcodec.Limits(max_metadata_bytes=99))


def test_16_metadata_too_large_default_limit() -> None:
    chunks = split(file("rgb-int8"))
    chunks[1:1] = [(b"iccp", bytes(4 * 2**20)), (b"xmpd", bytes(4 * 2**20)), (b"abcd", b"1")]
    assert_rejects(LimitError, build(chunks))
    del chunks[3]
    svdcodec.decode(build(chunks))  # exactly 8 MiB


def test_16_too_many_chunks() -> None:
    data = file("rgb-int8")
    chunks = split(data)
    n = len(chunks)
    assert_rejects(LimitError, data, limits=svdcodec.Limits(max_chunks=n - 1))
    svdcodec.decode(data, limits=svdcodec.Limits(max_chunks=n))
    chunks[1:1] = [(b"abcd", b"")] * (1000 - n)
    svdcodec.decode(build(chunks))  # 1000 chunks: the default limit
    chunks.insert(1, (b"abcd", b""))
    assert_rejects(LimitError, build(chunks))


def test_16_too_many_chunks_is_checked_before_reading_them() -> None:
    """100,000 empty ancillary chunks are refused after 1000, quickly."""
    data = build([split(file("rgb-int8"))[0], *[(b"abcd", b"")] * 100_000])
    start = time.perf_counter()
    assert_rejects(LimitError, data)
    assert time.perf_counter() - start < 1.0


# --- 17. the compute bomb: huge declared size and rank, tiny payloads (section 8) --------------
def rle_frame(size: int, byte: int = 0) -> bytes:
    """A zstd frame of RLE blocks that decompresses to ``size`` copies of ``byte``.

    4 bytes per 128 KiB: 1 GiB costs 32 KiB. Frame header: single segment, 8-byte content size,
    no checksum (RFC 8878 section 3.1.1).
    """
    block = 128 * 1024
    parts = [b"\x28\xb5\x2f\xfd", b"\xe0", struct.pack("<Q", size)]
    while True:
        n = min(block, size)
        size -= n
        parts.append(struct.pack("<I", (n << 3) | (1 << 1) | (size == 0))[:3] + bytes([byte]))
        if not size:
            return b"".join(parts)


def bomb(width: int, height: int, rank: int, factors: str = "float16") -> bytes:
    """A valid L file (zero sigma and factors) whose payload is RLE: tiny, decodes to zeros."""
    ftype = fmt.FACTOR_BY_NAME[factors]
    header = fmt.Header(width, height, fmt.Mode.L, fmt.Layout.PER_CHANNEL, ftype)
    raw_size = rank * fmt.record_size(height, width, ftype)
    group = fmt.Group(0, height, width, rank, raw_size, rle_frame(raw_size))
    return fmt.pack(header, [group])


def test_17_rle_frame_and_bomb_shape_are_valid() -> None:
    assert zstandard.ZstdDecompressor().decompress(rle_frame(300_000, 7)) == b"\x07" * 300_000
    for factors in ("float16", "int8"):
        if factors == "int8":  # int8 scales must be > 0: zeros are only valid for float16
            assert_rejects(CorruptError, bomb(64, 48, 48, factors), header=False)
        else:
            out = svdcodec.decode(bomb(64, 48, 48, factors))
            assert out.shape == (48, 64) and not out.any()


def test_17_compute_bomb_is_refused_fast() -> None:
    """65535 x 65535 at rank 4096 in about 33 KB: refused before any allocation."""
    data = bomb(65535, 65535, 4096)
    assert 30_000 < len(data) < 40_000
    cases = [
        (None, "pixels"),
        (svdcodec.Limits(max_pixels=2**40), "work"),
        (svdcodec.Limits(max_pixels=2**40, max_work=2**60), "bytes"),  # the allocation limit
    ]
    for limits, what in cases:
        start = time.perf_counter()
        with pytest.raises(LimitError, match=what):
            svdcodec.decode(data, limits=limits)
        with pytest.raises(LimitError):  # at rank 1 the output alone is over the limits
            svdcodec.decode(data, limits=limits, rank=1)
        assert time.perf_counter() - start < 0.5


def test_17_work_bomb_within_the_pixel_limit() -> None:
    """12000 x 12000 (under the pixel limit) at rank 4096: the work limit refuses it."""
    data = bomb(12000, 12000, 4096)
    assert svdcodec.read_header(data).ranks == (4096,)  # the header alone is fine
    with pytest.raises(LimitError, match="work"):
        svdcodec.decode(data)
    with pytest.raises(LimitError, match="bytes"):
        svdcodec.decode(data, limits=svdcodec.Limits(max_work=2**62))


def test_17_limits_are_checked_before_decompression(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("decompressed before the limits were checked")

    monkeypatch.setattr(svdcodec._zstd, "decompress", boom)
    with pytest.raises(LimitError):
        svdcodec.decode(bomb(12000, 12000, 4096))


# --- limits: every field, per call and process-wide (section 8) --------------------------------
def needs(data: bytes, rank: int | None = None) -> dict[str, int]:
    """What decoding ``data`` needs of each limit, from the spec's formulas (section 8)."""
    info = svdcodec.read_header(data)
    ftype = fmt.FACTOR_BY_NAME[info.factors]
    alloc = info.width * info.height * info.channels * info.bit_depth // 8
    work = strip = 0
    for g in info.groups:
        r = g.rank if rank is None else min(rank, g.rank)
        alloc += r * (fmt.record_size(g.rows, g.cols, ftype) + 8 * (g.rows + g.cols))
        work += g.rows * g.cols * r
        strip = max(strip, 8 * g.cols * min(g.rows, 256))
    return {"max_width": info.width, "max_height": info.height,
            "max_pixels": info.width * info.height, "max_alloc_bytes": alloc + strip,
            "max_work": work, "max_metadata_bytes": metadata_bytes(data),
            "max_chunks": len(info.chunks)}


HEADER_LIMITS = ("max_width", "max_height", "max_pixels", "max_metadata_bytes", "max_chunks")
DECODE_LIMITS = ("max_alloc_bytes", "max_work")


@pytest.fixture
def restore_default_limits():
    previous = svdcodec.get_default_limits()
    yield
    svdcodec.set_default_limits(previous)


@pytest.mark.parametrize("field", HEADER_LIMITS + DECODE_LIMITS)
def test_limit_per_call(field: str) -> None:
    data = file("rgb-meta")
    need = needs(data)[field]
    expected = svdcodec.decode(data)
    np.testing.assert_array_equal(
        svdcodec.decode(data, limits=svdcodec.Limits(**{field: need})), expected)
    tight = svdcodec.Limits(**{field: need - 1})
    assert_rejects(LimitError, data, limits=tight, header=field in HEADER_LIMITS)


@pytest.mark.parametrize("field", HEADER_LIMITS + DECODE_LIMITS)
@pytest.mark.usefixtures("restore_default_limits")
def test_limit_process_wide(field: str) -> None:
    data = file("rgb-meta")
    need = needs(data)[field]
    svdcodec.set_default_limits(**{field: need})
    svdcodec.decode(data)
    svdcodec.set_default_limits(**{field: need - 1})
    assert_rejects(LimitError, data, header=field in HEADER_LIMITS)
    # a per-call Limits replaces the process-wide one entirely
    svdcodec.decode(data, limits=svdcodec.Limits())
    svdcodec.set_default_limits(svdcodec.Limits())
    svdcodec.decode(data)


@pytest.mark.parametrize("field", DECODE_LIMITS)
def test_limit_counts_the_requested_rank(field: str) -> None:
    data = file("rgb-int8")
    at_rank_1 = needs(data, rank=1)[field]
    assert at_rank_1 < needs(data)[field]
    limits = svdcodec.Limits(**{field: at_rank_1})
    assert svdcodec.decode(data, rank=1, limits=limits).shape == picture("rgb").shape
    assert_rejects(LimitError, data, rank=2, limits=limits, header=False)


@pytest.mark.usefixtures("restore_default_limits")
def test_set_default_limits_returns_previous() -> None:
    original = svdcodec.get_default_limits()
    previous = svdcodec.set_default_limits(max_chunks=3)
    assert previous == original
    assert svdcodec.get_default_limits() == svdcodec.Limits(max_chunks=3)
    with pytest.raises(ValueError, match="max_work"):
        svdcodec.Limits(max_work=0)


# --- memory: a decode allocates what the allocation limit counts (section 8) -------------------
@pytest.mark.parametrize(("shape", "layout", "factors"), [
    ((1200, 40, 3), "stacked-vertical", "int8"),  # tall: m x k float64 factors dominate
    ((1200, 40, 3), "stacked-vertical", "float16"),
    ((60, 700, 3), "stacked", "int8"),  # wide: the strip dominates
    ((200, 150, 4), "per-channel", "float16")])
def test_decode_peak_memory_within_the_counted_allocation(shape, layout, factors) -> None:
    data = svdcodec.encode(image(*shape), rank=40, layout=layout, factors=factors)
    counted = needs(data)["max_alloc_bytes"]
    svdcodec.decode(data)  # warm up imports and caches
    tracemalloc.start()
    try:
        svdcodec.decode(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # the container keeps a copy of the compressed payloads (at most the file), and the
    # finiteness check of float16 factors and the next strip add at most a quarter
    assert peak <= 1.25 * counted + len(data), (peak, counted, len(data))


# --- concurrency ----------------------------------------------------------------------------------
def test_concurrent_decode_matches_serial() -> None:
    files = [svdcodec.encode(image(96, 80, 3, seed=s), rank=12, layout=layout, factors=factors)
             for s, (layout, factors) in enumerate([("per-channel", "int8"),
                                                    ("stacked", "float16"),
                                                    ("stacked-vertical", "int8")])]
    files += [file("grey16-f16"), file("rgb-meta")]
    # the patch layout's C decoder releases the GIL too
    files += [svdcodec.encode(image(96, 80, 3, seed=7), quality=60),
              svdcodec.encode(image(64, 48, 3, seed=8), quality=85, patch_size=4)]
    bad = [file("rgb-int8")[:-1], edit_head(file("rgb-int8"), mode=9), bomb(12000, 12000, 4096)]
    serial = [svdcodec.decode(d) for d in files]
    jobs = [(i % len(files), rank) for i in range(60) for rank in (None, 5)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda job: svdcodec.decode(files[job[0]], rank=job[1]), jobs))
        errors = list(pool.map(_error_type, bad * 10))
    for (i, rank), out in zip(jobs, results, strict=True):
        expected = serial[i] if rank is None else svdcodec.decode(files[i], rank=rank)
        np.testing.assert_array_equal(out, expected)
    assert errors == [TruncatedError, UnsupportedError, LimitError] * 10


def _error_type(data: bytes) -> type[BaseException] | None:
    try:
        svdcodec.decode(data)
    except svdcodec.SvdiError as exc:
        return type(exc)
    return None


