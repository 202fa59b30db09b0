"""Peak memory and time of decoding: a large image, and the compute bomb the limits refuse.

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
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
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
