"""Peak memory and time of encoding and decoding large images, and of the bombs the limits refuse.

``--codec`` (issue 13): for each case a fresh subprocess encodes a synthetic photograph-like
image (smooth shapes, edges, texture, noise; made in the parent as a .npy file and loaded by
the child before measuring, memory-mapped for the gigapixel cases) and another decodes the
file it wrote: time, peak RSS (``VmHWM`` of the whole process: interpreter, numpy, the input
array or its mapped pages, everything), its growth during the call, and the ``tracemalloc``
peak of a second run (numpy and Python allocations; skipped with ``--no-traced``), against
the input (encode) or output (decode) array's bytes. Cases: patch layout RGB at each
``--sizes`` megapixels, the whole-image layout per-channel at rank 50 at the largest, and with
``--giga`` a 32768 x 32768 grey and a 20000 x 20000 RGB image (patch layout; decoded with
``max_pixels`` and ``max_alloc_bytes`` raised, as ``svdcodec decode --limit`` does).

Without ``--codec``: the decoder's table, below.

For each case a fresh subprocess decodes the file twice. The first decode gives the time, the
process's ``ru_maxrss`` (its peak resident set: interpreter, imports, numpy, BLAS and zstd
buffers, anything malloc'd) and, on Linux, the growth of the resident set during the decode (the
peak ``VmHWM`` is reset through ``/proc/self/clear_refs`` just before it). The second decode runs
under ``tracemalloc`` (numpy and Python allocations only, no BLAS workspace). Both are compared
with the output size H*W*C*bytes and with what the allocation limit counts for the file (spec
section 8: output + sum r*(record_size + 8(m+n)) + one float64 strip).

The large files are built from random factors (quantized and packed as the encoder does) rather
than by running the SVD, which takes a minute at this size and changes nothing about decoding;
``--encode`` uses :func:`svdcodec.encode` on a synthetic image instead.

Usage::

    python tools/measure_memory.py [--width 4000 --height 3000 --rank 100] [--encode]
    python tools/measure_memory.py --codec [--sizes 1,16,64] [--giga] [--no-traced]
"""

from __future__ import annotations

import argparse
import json
import resource
import struct
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import zstandard

import svdcodec
from svdcodec import format as fmt
from svdcodec.whole.codec import STRIP_ROWS
from svdcodec.whole.quantize import quantize

MIB = 2**20


# --- files ----------------------------------------------------------------------------------------
def synthetic_file(width: int, height: int, rank: int, layout: str, factors: str,
                   seed: int = 0) -> bytes:
    """An RGB .svdi file of rank ``rank`` from random orthogonal-ish factors (no SVD)."""
    rng = np.random.default_rng(seed)
    header = fmt.Header(width, height, fmt.Mode.RGB, fmt.LAYOUT_BY_NAME[layout],
                        fmt.FACTOR_BY_NAME[factors])
    rows, cols = header.group_shape()
    groups = []
    for index in range(header.group_count):
        u = rng.standard_normal((rows, rank)) / np.sqrt(rows)
        vt = rng.standard_normal((rank, cols)) / np.sqrt(cols)
        s = 128.0 * np.sqrt(rows * cols) * 0.5 ** np.arange(rank, dtype=np.float64) ** 0.5
        raw = quantize(u, s, vt, factors)
        frame = zstandard.ZstdCompressor(write_checksum=True).compress(raw)
        groups.append(fmt.Group(index, rows, cols, rank, len(raw), frame))
    return fmt.pack(header, groups)


def encoded_file(width: int, height: int, rank: int, layout: str, factors: str) -> bytes:
    """The real encoder on a smooth image with noise (slow: the SVD of the full matrices)."""
    i, j = np.mgrid[:height, :width]
    base = (0.2 + 0.5 * i / height + 0.3 * (j / width) ** 2) * 255
    noise = np.random.default_rng(0).normal(0, 8, (height, width, 3))
    img = np.clip(np.stack([base * (1 - 0.2 * c) for c in range(3)], -1) + noise, 0, 255)
    return svdcodec.encode(img.astype(np.uint8), rank=rank, layout=layout, factors=factors)


def rle_frame(size: int) -> bytes:
    """A zstd frame of RLE blocks of zeros declaring ``size`` bytes: 4 bytes per 128 KiB."""
    parts = [b"\x28\xb5\x2f\xfd", b"\xe0", struct.pack("<Q", size)]  # single segment, 8-byte FCS
    while size:
        n = min(128 * 1024, size)
        size -= n
        parts.append(struct.pack("<I", (n << 3) | (1 << 1) | (size == 0))[:3] + b"\x00")
    return b"".join(parts)


def bomb_file(side: int = 65535, rank: int = 4096) -> bytes:
    """side x side L at ``rank``, float16: a valid file (all zeros) of about 33 KB."""
    header = fmt.Header(side, side, fmt.Mode.L, fmt.Layout.PER_CHANNEL, fmt.FactorType.FLOAT16)
    raw_size = rank * fmt.record_size(side, side, fmt.FactorType.FLOAT16)
    return fmt.pack(header, [fmt.Group(0, side, side, rank, raw_size, rle_frame(raw_size))])


def counted_bytes(data: bytes) -> tuple[int, int]:
    """(output bytes, what the allocation limit counts), from the header alone."""
    info = svdcodec.read_header(data, limits=svdcodec.Limits(max_pixels=2**40))
    ftype = fmt.FACTOR_BY_NAME[info.factors]
    output = info.width * info.height * info.channels * info.bit_depth // 8
    factors = sum(g.rank * (fmt.record_size(g.rows, g.cols, ftype) + 8 * (g.rows + g.cols))
                  for g in info.groups)
    strip = max(8 * g.cols * min(g.rows, STRIP_ROWS) for g in info.groups)
    return output, output + factors + strip


# --- the measuring child --------------------------------------------------------------------------
def _maxrss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def _proc_status(field: str) -> int | None:
    """VmRSS / VmHWM in bytes from /proc/self/status (Linux), else None."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        return True
    except OSError:
        return False


def child(path: str) -> None:
    """Decode ``path`` twice (see module docstring) and print the numbers as JSON."""
    data = Path(path).read_bytes()
    reset = _reset_peak_rss()
    rss0 = _proc_status("VmRSS")
    start = time.perf_counter()
    try:
        svdcodec.decode(data)
        outcome = "decoded"
    except svdcodec.SvdiError as exc:
        outcome = f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - start
    hwm = _proc_status("VmHWM")
    growth = hwm - rss0 if reset and hwm is not None and rss0 is not None else -1
    maxrss = _maxrss()
    tracemalloc.start()
    try:
        svdcodec.decode(data)
    except svdcodec.SvdiError:
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(json.dumps({"seconds": seconds, "rss_growth": growth, "maxrss": maxrss,
                      "traced_peak": peak, "outcome": outcome}))


def encode_child(path: str, out: str, options: str, traced: bool) -> None:
    """Encode the .npy image ``path`` with the JSON ``options`` into ``out``; print the numbers
    (as :func:`child` does for a decode)."""
    mmap = Path(path).stat().st_size > 2**30
    image = np.load(path, mmap_mode="r" if mmap else None)
    opts = json.loads(options)
    reset = _reset_peak_rss()
    rss0 = _proc_status("VmRSS")
    start = time.perf_counter()
    cpu = time.process_time()
    data = svdcodec.encode(image, **opts)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    hwm = _proc_status("VmHWM")
    growth = hwm - rss0 if reset and hwm is not None and rss0 is not None else -1
    Path(out).write_bytes(data)
    peak = -1
    if traced:
        tracemalloc.start()
        svdcodec.encode(image, **opts)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    print(json.dumps({"seconds": seconds, "cpu": cpu_seconds, "rss_growth": growth,
                      "peak_rss": hwm if hwm is not None else _maxrss(), "traced_peak": peak,
                      "outcome": f"{len(data)} bytes", "input": image.nbytes}))


def decode_child(path: str, limits: str, traced: bool) -> None:
    """Decode ``path`` with the JSON ``limits`` (fields of svdcodec.Limits changed) and print
    the numbers, as :func:`encode_child` does."""
    data = Path(path).read_bytes()
    lim = svdcodec.Limits(**json.loads(limits)) if limits != "{}" else None
    reset = _reset_peak_rss()
    rss0 = _proc_status("VmRSS")
    start = time.perf_counter()
    cpu = time.process_time()
    output = 0
    try:
        output = svdcodec.decode(data, limits=lim).nbytes
        outcome = "decoded"
    except svdcodec.SvdiError as exc:
        outcome = f"{type(exc).__name__}: {exc}"
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    hwm = _proc_status("VmHWM")
    growth = hwm - rss0 if reset and hwm is not None and rss0 is not None else -1
    peak = -1
    if traced and output:
        tracemalloc.start()
        svdcodec.decode(data, limits=lim)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    print(json.dumps({"seconds": seconds, "cpu": cpu_seconds, "rss_growth": growth,
                      "peak_rss": hwm if hwm is not None else _maxrss(), "traced_peak": peak,
                      "outcome": outcome, "output": output}))


def photo_npy(path: Path, width: int, height: int, channels: int, seed: int = 0) -> None:
    """A photograph-like uint8 image written to ``path`` as .npy in row chunks (it may be
    larger than memory): smooth shapes, hard edges, fine texture and noise."""
    shape = (height, width) if channels == 1 else (height, width, channels)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=shape)
    rng = np.random.default_rng(seed)
    xx = np.arange(width, dtype=np.float32)[None, :]
    for y0 in range(0, height, 1024):
        yy = np.arange(y0, min(y0 + 1024, height), dtype=np.float32)[:, None]
        base = 128 + 50 * np.sin(xx / 311.0 + yy / 517.0) * np.cos(yy / 173.0) \
            + 30 * (np.sin(xx / 23.0) * np.sin(yy / 29.0) > 0.3) \
            + 15 * np.sin((xx + 2 * yy) / 7.0)
        for c in range(channels):
            v = base * (1 - 0.15 * c) + rng.normal(0, 4, base.shape).astype(np.float32)
            v = np.clip(v, 0, 255).astype(np.uint8)
            if channels == 1:
                out[y0:y0 + v.shape[0]] = v
            else:
                out[y0:y0 + v.shape[0], :, c] = v
    out.flush()
    del out


def _run_child(*args: str) -> dict[str, object]:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True,
                         text=True).stdout
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return result


def codec_table(sizes: list[float], whole: list[float], giga: bool, traced: bool) -> None:
    """The encode and decode table of issue 13 (see the module docstring)."""
    cases: list[tuple[str, int, int, int, dict[str, object], dict[str, int]]] = []
    for mp in sizes:
        side = round((mp * 1e6 / 1.5) ** 0.5)  # 3:2
        cases.append((f"{mp:g} MP RGB patch q50", 3 * side // 2, side, 3, {"quality": 50}, {}))
    for mp in whole:
        side = round((mp * 1e6 / 1.5) ** 0.5)
        cases.append((f"{mp:g} MP RGB per-channel r50", 3 * side // 2, side, 3,
                      {"layout": "per-channel", "rank": 50}, {}))
    big = {"max_pixels": 2**31, "max_alloc_bytes": 2**36}
    if giga:
        cases.append(("1 GP grey 32768^2 patch q50", 32768, 32768, 1, {"quality": 50}, big))
        cases.append(("400 MP RGB 20000^2 patch q50", 20000, 20000, 3, {"quality": 50}, big))
    print(f"{'case':<30} {'dir':<3} {'array':>8} {'traced':>8} {'/arr':>5} {'rss+':>8} "
          f"{'/arr':>5} {'peakRSS':>8} {'limit':>8} {'time':>7} {'s/MP':>6}  outcome")
    with tempfile.TemporaryDirectory() as tmp:
        for name, width, height, channels, options, limits in cases:
            npy, svdi = Path(tmp) / "in.npy", Path(tmp) / "out.svdi"
            photo_npy(npy, width, height, channels)
            rows = [("enc", _run_child("--encode-child", str(npy), str(svdi),
                                       json.dumps(options), str(int(traced))))]
            npy.unlink()
            rows.append(("dec", _run_child("--decode-child", str(svdi), json.dumps(limits),
                                           str(int(traced)))))
            for direction, m in rows:
                size = int(m.get("input", m.get("output", 0)) or  # type: ignore[call-overload]
                           width * height * channels)
                traced_peak = int(m["traced_peak"])  # type: ignore[call-overload]
                growth, peak = int(m["rss_growth"]), int(m["peak_rss"])  # type: ignore[call-overload]
                seconds = float(m["seconds"])  # type: ignore[arg-type]
                limit = 4 * size + 100 * MIB if direction == "enc" else 1.5 * size + 100 * MIB
                shown = (f"{traced_peak / MIB:>6.0f}Mi {traced_peak / size:>5.2f}"
                         if traced_peak >= 0 else f"{'-':>8} {'-':>5}")
                print(f"{name:<30} {direction:<3} {size / MIB:>6.0f}Mi {shown} "
                      f"{growth / MIB:>6.0f}Mi {growth / size:>5.2f} {peak / MIB:>6.0f}Mi "
                      f"{limit / MIB:>6.0f}Mi {seconds:>6.1f}s "
                      f"{seconds / (width * height / 1e6):>6.3f}  {str(m['outcome'])[:60]}")
                sys.stdout.flush()
    print("array: input (enc) or output (dec) array bytes; traced: tracemalloc peak (-1: not "
          "run); rss+: growth of the resident set during the call;\npeakRSS: VmHWM of the "
          "process (interpreter and input included); limit: issue 13's bound, 4x input + 100 "
          "MiB (enc), 1.5x output + 100 MiB (dec); s/MP: wall seconds per megapixel")


def measure(data: bytes) -> dict[str, object]:
    with tempfile.NamedTemporaryFile(suffix=".svdi") as f:
        f.write(data)
        f.flush()
        out = subprocess.run([sys.executable, __file__, "--child", f.name], check=True,
                             capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


# --- the table ------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=4000)
    parser.add_argument("--height", type=int, default=3000)
    parser.add_argument("--rank", type=int, default=100)
    parser.add_argument("--encode", action="store_true", help="use svdcodec.encode (slow)")
    parser.add_argument("--codec", action="store_true",
                        help="the encode and decode table of issue 13")
    parser.add_argument("--sizes", default="1,16,64", help="--codec: megapixels, comma-separated")
    parser.add_argument("--whole", default=None,
                        help="--codec: megapixels of the whole-image cases (per-channel, rank "
                        "50); default the largest of --sizes, '' for none")
    parser.add_argument("--giga", action="store_true",
                        help="--codec: also 32768x32768 grey and 20000x20000 RGB (slow)")
    parser.add_argument("--no-traced", action="store_true",
                        help="--codec: skip the tracemalloc runs (half the time)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--encode-child", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--decode-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return 0
    if args.encode_child:
        path, out, options, traced = args.encode_child
        encode_child(path, out, options, traced == "1")
        return 0
    if args.decode_child:
        path, limits, traced = args.decode_child
        decode_child(path, limits, traced == "1")
        return 0
    if args.codec:
        sizes = [float(v) for v in args.sizes.split(",")]
        whole = [max(sizes)] if args.whole is None else \
            [float(v) for v in args.whole.split(",") if v]
        codec_table(sizes, whole, args.giga, not args.no_traced)
        return 0
    make = encoded_file if args.encode else synthetic_file
    cases = [(f"{args.width}x{args.height} RGB r{args.rank} {layout} {factors}",
              make(args.width, args.height, args.rank, layout, factors))
             for layout, factors in (("per-channel", "int8"), ("stacked", "int8"),
                                     ("stacked-vertical", "int8"), ("per-channel", "float16"))]
    cases.append(("bomb 65535x65535 L r4096 float16", bomb_file()))
    cases.append(("bomb 12000x12000 L r4096 float16", bomb_file(12000)))  # under the pixel limit
    print(f"{'case':<40} {'file':>8} {'output':>9} {'counted':>9} {'traced':>9} {'/out':>5} "
          f"{'rss+':>9} {'/out':>5} {'maxrss':>9} {'time':>9}  outcome")
    for name, data in cases:
        output, counted = counted_bytes(data)
        m = measure(data)
        traced, rss = int(m["traced_peak"]), int(m["rss_growth"])  # type: ignore[call-overload]
        maxrss = int(m["maxrss"])  # type: ignore[call-overload]
        seconds = float(m["seconds"])  # type: ignore[arg-type]
        print(f"{name:<40} {len(data) / 1024:>6.0f}Ki {output / MIB:>7.1f}Mi "
              f"{counted / MIB:>7.1f}Mi {traced / MIB:>7.1f}Mi {traced / output:>5.2f} "
              f"{rss / MIB:>7.1f}Mi {rss / output:>5.2f} {maxrss / MIB:>7.1f}Mi "
              f"{seconds * 1000:>7.1f}ms  {str(m['outcome'])[:48]}")
    print("file: .svdi size; output: H*W*C*bytes; counted: what the allocation limit counts "
          "(section 8);\ntraced: tracemalloc peak; rss+: resident-set growth during the decode "
          "(VmHWM, -1 if unavailable);\nmaxrss: ru_maxrss of the whole child process")
    return 0


if __name__ == "__main__":
    sys.exit(main())
