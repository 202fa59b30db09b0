"""Peak memory and time of decoding large patch-layout (arith) files: the strip decoder against
the output size (issue 13's target: peak <= 1.5 x output + 100 MB, default limits).

A large file is made without running the encoder at that size (which takes minutes and GBs):
a source image (``--source``, e.g. a Kodak PNG, else a synthetic photo-like image) is encoded
at ``--quality``, its planes' coefficients are tiled over the patch grid of the large image and
coded again with the arith coder, so that the payload has the statistics of a real photograph.

Each file is decoded in a fresh subprocess: once for the time, ``ru_maxrss`` and the growth of
the resident set during the decode (Linux ``VmHWM`` reset through ``/proc/self/clear_refs``),
once under ``tracemalloc`` (numpy, Python and the C extension's PyMem_Raw buffers). ``--whole``
also decodes through the whole-plane C decoder (limits raised), for comparison.

Usage::

    python tools/measure_decode_memory.py [--sizes 4096x4096 9248x6936 15000x10000]
        [--source kodim23.png] [--quality 50] [--whole]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import size_arg

import svdcodec
from svdcodec import format as fmt
from svdcodec.patch import decode as patchdecode
from svdcodec.patch import entropy as patchentropy
from svdcodec.patch import limits as patchlimits
from svdcodec.patch.symbols import PlaneCoefficients, unpack_payload

MB = 10**6


def source_image(path: str | None) -> np.ndarray:
    if path:
        from PIL import Image
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    i, j = np.mgrid[:512, :768]
    rng = np.random.default_rng(0)
    base = 128 + 70 * np.sin(j / 37.0) * np.cos(i / 23.0) + 30 * np.sin((i + j) / 7.0)
    img = np.stack([base, base * 0.8 + 30, 255 - base * 0.9], axis=2)
    return np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)


def plane_coefficients(pl: fmt.Plane, h: fmt.Header) -> PlaneCoefficients:
    raw, (gh, gw), _, ac_symbols, escapes = patchdecode._payload(pl, h, None)
    return unpack_payload(raw, k=pl.components, half=pl.patch_size // 2, gh=gh, gw=gw,
                          ac_symbols=ac_symbols, escapes=escapes)


def tiled_file(source: np.ndarray, quality: int, width: int, height: int) -> bytes:
    """A width x height RGB arith file whose planes tile the source's coefficients."""
    small = fmt.unpack(svdcodec.encode(source, quality=quality), svdcodec.Limits())
    header = fmt.Header(width, height, small.header.mode, fmt.Layout.PATCH,
                        fmt.FactorType.COEFFICIENTS, compression=fmt.Compression.ARITH,
                        colour_transform=small.header.colour_transform)
    planes = []
    for pl in small.planes:
        pc = plane_coefficients(pl, small.header)
        gh, gw = pl.grid(header)
        sh, sw = pc.dc.shape
        reps = (-(-gh // sh), -(-gw // sw))
        dc = np.tile(pc.dc, reps)[:gh, :gw]
        k = pc.q.shape[1]
        q = np.tile(pc.q.reshape(sh, sw, k), (*reps, 1))[:gh, :gw].reshape(gh * gw, k)
        big = PlaneCoefficients(pc.multipliers, pc.parities, pc.basis,
                                np.ascontiguousarray(dc), np.ascontiguousarray(q, np.int64))
        del q, dc
        payload, m = patchentropy.arith_encode(big)
        planes.append(fmt.Plane(pl.index, pl.patch_size, pl.subsample_x, pl.subsample_y,
                                pl.components, pl.shift, pl.deblock, pl.dc_multiplier, m, 0,
                                payload))
    return fmt.pack(header, [], {}, planes)


_CHILD = r"""
import json, resource, sys, time, tracemalloc
from pathlib import Path
import svdcodec
from svdcodec.patch import decode as patchdecode
path, whole = sys.argv[1], sys.argv[2] == "1"
data = Path(path).read_bytes()
limits = svdcodec.Limits(max_alloc_bytes=2**40, max_work=2**50) if whole else None
if whole:
    patchdecode.STRIPS = False
def status(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
before = status("VmRSS")
Path("/proc/self/clear_refs").write_text("5")
t = time.perf_counter()
out = svdcodec.decode(data, limits=limits)
seconds = time.perf_counter() - t
rss_growth = status("VmHWM") - before
maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
del out
tracemalloc.start()
out = svdcodec.decode(data, limits=limits)
traced = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
print(json.dumps({"seconds": seconds, "rss_growth": rss_growth, "maxrss": maxrss,
                  "traced": traced, "output": out.nbytes}))
"""


def measure(path: Path, whole: bool) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", _CHILD, str(path), "1" if whole else "0"],
                          capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=size_arg, nargs="+",
                        default=[(4096, 4096), (9248, 6936), (15000, 10000)])
    parser.add_argument("--source", help="an image whose coefficients are tiled")
    parser.add_argument("--quality", type=int, default=50)
    parser.add_argument("--whole", action="store_true",
                        help="also measure the whole-plane decoder (needs ~8x the output)")
    args = parser.parse_args()
    source = source_image(args.source)
    print("| size | MP | file MB | output MB | counted MB | decoder | s | RSS growth MB "
          "| traced MB | peak / output | target 1.5 out + 100 MB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for width, height in args.sizes:
            t = time.perf_counter()
            data = tiled_file(source, args.quality, width, height)
            made = time.perf_counter() - t
            container = fmt.unpack(data, svdcodec.Limits())
            counted = patchlimits.limit_counts(container)[1]
            path = Path(tmp) / f"{width}x{height}.svdi"
            path.write_bytes(data)
            del data, container
            for whole in (False, True) if args.whole else (False,):
                r = measure(path, whole)
                peak = max(r["rss_growth"], r["traced"])
                target = 1.5 * r["output"] + 100 * MB
                print(f"| {width}x{height} | {width * height / 1e6:.0f} "
                      f"| {path.stat().st_size / MB:.1f} | {r['output'] / MB:.0f} "
                      f"| {counted / MB:.0f} | {'whole' if whole else 'strips'} "
                      f"| {r['seconds']:.2f} | {r['rss_growth'] / MB:.0f} "
                      f"| {r['traced'] / MB:.0f} | {peak / r['output']:.2f} "
                      f"| {'yes' if peak <= target else 'NO'} |", flush=True)
            print(f"(file made in {made:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
