"""The strip decoder's second thread (plane 0 entropy-decoded a few patch rows ahead): the same
samples, the same errors, the same rows delivered, and no more memory than section 12.8 counts
as the serial decoder."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from content import KINDS, structured
from hypothesis import given, settings
from hypothesis import strategies as st

import svdcodec
from svdcodec import format as fmt
from svdcodec.limits import Limits
from svdcodec.patch import decode as patchdecode
from svdcodec.patch import limits as patchlimits

try:
    from svdcodec.patch import _arithc  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    _arithc = None

pytestmark = pytest.mark.skipif(_arithc is None or not patchdecode.ARITH_ACCELERATED,
                                reason="the C strip decoder is not built")

def strips(data: bytes, threads: int, rows: int, rank: int | None = None
           ) -> tuple[str | None, np.ndarray, list[tuple[int, int]]]:
    """_arithc.decode_strips on ``data`` with ``threads``: (error message or None, the image
    rows written, the (y0, y1) strips the sink heard of)."""
    container = fmt.unpack(data, Limits())
    h = container.header
    planes = tuple((pl.payload, pl.components,
                    pl.components if rank is None else min(rank, pl.components),
                    pl.patch_size, pl.subsample_x, pl.subsample_y, *pl.grid(h), pl.ac_symbols,
                    pl.dc_multiplier, pl.shift, *pl.deblock) for pl in container.planes)
    out = np.zeros((h.height, h.width, h.channels), np.uint8 if h.bit_depth == 8 else "=u2")
    heard: list[tuple[int, int]] = []
    error = _arithc.decode_strips(planes, h.height, h.width, h.bit_depth,
                                  int(h.colour_transform == fmt.ColourTransform.YCBCR), out,
                                  rows, lambda y0, y1: heard.append((y0, y1)), threads)
    return error, out, heard


@settings(deadline=None, max_examples=25)
@given(st.sampled_from(KINDS), st.integers(1, 90), st.integers(1, 90),
       st.sampled_from([1, 2, 3, 4]), st.sampled_from([0, 40, 90]), st.sampled_from([4, 8, 16]),
       st.integers(1, 40), st.integers(0, 2**16))
def test_threaded_and_serial_strip_decodes_agree(kind: str, h: int, w: int, c: int,
                                                 quality: int, patch: int, rows: int,
                                                 seed: int) -> None:
    image = structured(kind, h, w, c, seed)
    data = svdcodec.encode(image[:, :, 0] if c == 1 else image, quality=quality,
                           patch_size=patch, entropy="arith")
    serial = strips(data, 1, rows)
    threaded = strips(data, 2, rows)
    assert serial[0] is None and threaded[0] is None
    assert np.array_equal(serial[1], threaded[1])
    assert serial[2] == threaded[2]
    assert np.array_equal(threaded[1].reshape(image.shape),
                          svdcodec.decode(data).reshape(image.shape))


@pytest.mark.parametrize("rank", [1, 3, None])
def test_threaded_decode_at_a_rank_is_the_serial_one(rank: int | None) -> None:
    data = svdcodec.encode(structured("photo", 70, 50, 3, 1), quality=80, entropy="arith")
    assert np.array_equal(strips(data, 1, 16, rank)[1], strips(data, 2, 16, rank)[1])


def test_sixteen_bit_grey_decodes_alike_threaded() -> None:
    rng = np.random.default_rng(3)
    image = (np.add.outer(np.arange(60), np.arange(45)) * 700
             + rng.integers(0, 900, (60, 45))).astype(np.uint16)
    data = svdcodec.encode(image, quality=70, entropy="arith")
    serial, threaded = strips(data, 1, 8), strips(data, 2, 8)
    assert serial[0] is None and threaded[0] is None
    assert np.array_equal(serial[1], threaded[1])


def _with_payload(data: bytes, index: int, payload: bytes) -> fmt.Container:
    container = fmt.unpack(data, Limits())
    planes = list(container.planes)
    pl = planes[index]
    planes[index] = fmt.Plane(pl.index, pl.patch_size, pl.subsample_x, pl.subsample_y,
                              pl.components, pl.shift, pl.deblock, pl.dc_multiplier,
                              pl.ac_symbols, pl.escapes, payload)
    return fmt.Container(container.header, container.groups, container.metadata,
                         container.chunks, tuple(planes))


@pytest.mark.parametrize("plane", [0, 1, 2])
@pytest.mark.parametrize("seed", range(4))
def test_threaded_decode_reports_the_serial_error(plane: int, seed: int) -> None:
    """Damage in plane 0 (the threaded one) or in another plane: the same message, the same
    rows written before it, the same strips heard of."""
    data = svdcodec.encode(structured("photo", 90, 70, 3, seed), quality=85,
                           entropy="arith")
    container = fmt.unpack(data, Limits())
    payload = container.planes[plane].payload
    rng = np.random.default_rng(seed)
    cases = [payload[: len(payload) // 2], payload + b"\x01", payload[:3]]
    for _ in range(12):
        b = bytearray(payload)
        b[int(rng.integers(0, len(b)))] ^= int(rng.integers(1, 256))
        cases.append(bytes(b))
    failures = 0
    for damaged in cases:
        mutant = _with_payload(data, plane, damaged)
        blob = fmt.pack(mutant.header, list(mutant.groups), dict(mutant.metadata),
                        list(mutant.planes))
        serial, threaded = strips(blob, 1, 8), strips(blob, 2, 8)
        assert serial[0] == threaded[0]
        assert np.array_equal(serial[1], threaded[1])
        assert serial[2] == threaded[2]
        failures += serial[0] is not None
    assert failures >= 3  # the truncations and the appended byte at least


def test_a_sink_that_raises_stops_the_threaded_decode() -> None:
    """The producer is stopped and joined when the caller's sink raises: the exception
    propagates, and the next decode works."""
    data = svdcodec.encode(structured("photo", 200, 120, 3, 5), quality=80,
                           entropy="arith")
    container = fmt.unpack(data, Limits())
    h = container.header
    planes = tuple((pl.payload, pl.components, pl.components, pl.patch_size, pl.subsample_x,
                    pl.subsample_y, *pl.grid(h), pl.ac_symbols, pl.dc_multiplier, pl.shift,
                    *pl.deblock) for pl in container.planes)
    out = np.zeros((h.height, h.width, 3), np.uint8)

    def stop(y0: int, y1: int) -> None:
        raise KeyboardInterrupt

    for _ in range(20):
        with pytest.raises(KeyboardInterrupt):
            _arithc.decode_strips(planes, h.height, h.width, 8, 1, out, 8, stop, 2)
    assert strips(data, 2, 8)[0] is None


def test_decode_strips_refuses_a_bad_thread_count() -> None:
    data = svdcodec.encode(structured("ramp", 20, 20, 1, 0), entropy="arith")
    for threads in (0, 3, -1):
        with pytest.raises(ValueError, match="threads"):
            strips(data, threads, 8)


def _header(width: int, height: int, mode: fmt.Mode, k: int) -> fmt.Container:
    header = fmt.Header(width, height, mode, fmt.Layout.PATCH, fmt.FactorType.COEFFICIENTS,
                        compression=fmt.Compression.ARITH,
                        colour_transform=fmt.ColourTransform.YCBCR
                        if fmt.MODE_INFO[mode][1] >= 3 else fmt.ColourTransform.NONE)
    planes = []
    for index in range(header.channels):
        gh, gw = fmt.Plane(index, 8, 1, 1, 0, 1, (0, 0, 0), 1, 0, 0, b"").grid(header)
        planes.append(fmt.Plane(index, 8, 1, 1, k, 20, (0, 0, 0), 1, gh * gw * k, 0, b"\0" * 8))
    return fmt.Container(header, (), {}, (), tuple(planes))


def test_threads_only_where_the_count_covers_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """Section 12.8's count is not raised for the thread: an image whose producer's extra
    rows would not fit in the count's colour strip decodes serially."""
    monkeypatch.setattr(patchdecode, "DECODE_THREADS", 2)
    monkeypatch.setattr(patchdecode, "LOAD_AWARE", False)
    assert patchdecode.decode_threads(_header(768, 512, fmt.Mode.RGB, 63)) == 2
    assert patchdecode.decode_threads(_header(100_000, 1000, fmt.Mode.L, 63)) == 1
    assert patchdecode.decode_threads(_header(100_000, 1000, fmt.Mode.L, 2)) == 2
    assert patchdecode.decode_threads(_header(100, 100, fmt.Mode.RGB, 63)) == 1  # too small
    monkeypatch.setattr(patchdecode, "DECODE_THREADS", 1)
    assert patchdecode.decode_threads(_header(768, 512, fmt.Mode.RGB, 63)) == 1


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_threaded_decode_memory_is_within_the_count(mode: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(patchdecode, "DECODE_THREADS", 2)
    monkeypatch.setattr(patchdecode, "THREAD_MIN_PIXELS", 0)
    monkeypatch.setattr(patchdecode, "LOAD_AWARE", False)
    image = structured("photo", 300, 1600, 3, 2)
    image = image[:, :, 0] if mode == "L" else image
    data = svdcodec.encode(image, quality=95, subsampling=1, entropy="arith") \
        if mode == "RGB" else svdcodec.encode(image, quality=95, entropy="arith")
    container = fmt.unpack(data, Limits())
    assert patchdecode.decode_threads(container) == 2
    counted = patchlimits.limit_counts(container)[1]
    svdcodec.decode(data)
    tracemalloc.start()
    try:
        decoded = svdcodec.decode(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= counted + len(data), (peak, counted)
    monkeypatch.setattr(patchdecode, "DECODE_THREADS", 1)
    assert np.array_equal(decoded, svdcodec.decode(data))


def test_a_loaded_machine_decodes_on_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """With every CPU busy the second thread would wait for a core mid-row: one thread then."""
    monkeypatch.setattr(patchdecode, "DECODE_THREADS", 2)
    monkeypatch.setattr(patchdecode, "_cpus", lambda: 4)
    container = _header(768, 512, fmt.Mode.RGB, 63)
    monkeypatch.setattr(patchdecode.os, "getloadavg", lambda: (3.5, 1.0, 1.0))
    assert patchdecode.decode_threads(container) == 1
    monkeypatch.setattr(patchdecode.os, "getloadavg", lambda: (2.9, 1.0, 1.0))
    assert patchdecode.decode_threads(container) == 2
    monkeypatch.setattr(patchdecode, "_cpus", lambda: 2)  # the decoding process alone: ~1
    monkeypatch.setattr(patchdecode.os, "getloadavg", lambda: (1.2, 1.0, 1.0))
    assert patchdecode.decode_threads(container) == 2
    monkeypatch.setattr(patchdecode.os, "getloadavg", lambda: (1.6, 1.0, 1.0))
    assert patchdecode.decode_threads(container) == 1
    monkeypatch.setattr(patchdecode, "LOAD_AWARE", False)
    monkeypatch.setattr(patchdecode.os, "getloadavg", lambda: (9.0, 9.0, 9.0))
    assert patchdecode.decode_threads(container) == 2


def test_the_cpu_count_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The load check of every decode (:func:`_core_free`) asks for the process's CPUs: read
    once (os.sched_getaffinity is a system call), then cached."""
    calls: list[int] = []
    affinity = patchdecode.os.sched_getaffinity

    def spy(pid: int) -> set[int]:
        calls.append(pid)
        return affinity(pid)

    monkeypatch.setattr(patchdecode.os, "sched_getaffinity", spy)
    patchdecode._cpus.cache_clear()
    try:
        cpus = patchdecode._cpus()
        for _ in range(3):
            patchdecode._core_free()
        assert patchdecode._cpus() == cpus == len(affinity(0))
    finally:
        patchdecode._cpus.cache_clear()  # read again, unpatched, by the next caller
    assert calls == [0]


def test_the_consumer_decodes_rows_the_producer_has_not_claimed() -> None:
    """Many threaded decodes in a row from several Python threads at once (more decoding
    threads than CPUs, so producers wait for a core and consumers decode rows themselves):
    every result is the serial one."""
    import concurrent.futures

    data = svdcodec.encode(structured("photo", 160, 200, 3, 9), quality=90, entropy="arith")
    expected = strips(data, 1, 8)[1]
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: strips(data, 2, 8), range(60)))
    for error, out, _ in results:
        assert error is None
        assert np.array_equal(out, expected)


@pytest.mark.parametrize(("value", "cpus", "threads"), [
    ("", 2, 2), ("1", 2, 1), ("0", 2, 1), (" 1 ", 8, 1), ("2", 2, 2), ("", 1, 1), ("yes", 4, 2)])
def test_the_environment_variable_turns_the_second_thread_off(value: str, cpus: int,
                                                               threads: int) -> None:
    assert patchdecode._threads_from_environment(value, cpus) == threads
