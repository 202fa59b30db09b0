"""Decode time of the patch layout against Pillow's WebP at 0.25, 0.5 and 1 bpp (issue 12's
decode target): the strip decoder on one thread and with its second thread (plane 0's entropy
decoding a few patch rows ahead), and the whole-plane decoder, on a corpus of PNGs.

Files are chosen as ``tools/bench_rd.py`` chooses them (per image, the quality of each codec's
sweep whose rate is nearest the target) and decoded in turn ``--repeats`` times, interleaved.
Both wall time and CPU time (``time.process_time``, all threads) are measured on every call:
on a machine shared with other jobs the wall time of a 5 ms decode varies several-fold with
their load, its CPU time far less; the second thread shows in wall time only, and costs CPU.
Pillow's WebP decoder runs on one thread.

Usage::

    python tools/bench_decode_speed.py CORPUS [--repeats 15] [--every 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import bench_rd
import numpy as np

import svdcodec
from svdcodec.patch import decode as patchdecode


def decode_whole(data: bytes) -> np.ndarray:
    """svdcodec.decode through the whole-plane C decoder (the decoder before strips)."""
    saved = patchdecode.STRIPS
    patchdecode.STRIPS = False
    try:
        return svdcodec.decode(data)
    finally:
        patchdecode.STRIPS = saved


def medians(fns: list[Callable[[], object]], repeats: int) -> list[tuple[float, float]]:
    """(median wall seconds, median CPU seconds) of each function, interleaved in every repeat."""
    times: list[list[tuple[float, float]]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, out in zip(fns, times, strict=True):
            wall, cpu = time.perf_counter(), time.process_time()
            fn()
            out.append((time.perf_counter() - wall, time.process_time() - cpu))
    return [(float(np.median([t[0] for t in ts])), float(np.median([t[1] for t in ts])))
            for ts in times]


def nearest(files: list[bytes], pixels: int, bpp: float) -> bytes:
    return min(files, key=lambda d: abs(np.log(8 * len(d) / pixels / bpp)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--repeats", type=int, default=bench_rd.TIMING_REPEATS)
    parser.add_argument("--every", type=int, default=1, help="use every N-th image")
    args = parser.parse_args(argv)
    names = ("strips, 1 thread", "strips, 2 threads", "whole-plane", "WebP")
    rows: dict[float, list[list[float]]] = {b: [] for b in bench_rd.TIMING_BPPS}
    for path in sorted(args.corpus.glob("*.png"))[::args.every]:
        image = bench_rd.load(path)
        pixels = image.shape[0] * image.shape[1]
        svd = [svdcodec.encode(image, quality=q) for q in bench_rd.PATCH_QUALITIES]
        webp = [bench_rd.peers.encode_peer(image, "webp", q)
                for q in bench_rd.PEER_QUALITIES["webp"]]
        for bpp in bench_rd.TIMING_BPPS:
            s, w = nearest(svd, pixels, bpp), nearest(webp, pixels, bpp)
            t = medians([partial(bench_rd.decode_with_threads, 1, s),
                         partial(bench_rd.decode_with_threads, 2, s),
                         partial(decode_whole, s),
                         partial(bench_rd.peers.decode_peer, w, channels=3)], args.repeats)
            rows[bpp].append([*(x for pair in t for x in pair),
                              8 * len(s) / pixels, 8 * len(w) / pixels])
        print(path.stem, file=sys.stderr, flush=True)
    count = len(rows[bench_rd.TIMING_BPPS[0]])
    print(f"load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    for label, col in (("wall", 0), ("cpu", 1)):
        print(f"\n{label} time (ms), median over {count} images; ratios: median of per-image "
              "ratios to WebP")
        print("| bpp | svd bpp | WebP bpp | " + " | ".join(f"{n} ms" for n in names)
              + " | " + " | ".join(f"{n} / WebP" for n in names[:3]) + " |")
        print("|---" * (3 + len(names) + 3) + "|")
        for bpp, found in rows.items():
            r = np.array(found)
            ms = [r[:, 2 * i + col] for i in range(len(names))]
            print(f"| {bpp:g} | {np.mean(r[:, -2]):.3f} | {np.mean(r[:, -1]):.3f} | "
                  + " | ".join(f"{np.median(m) * 1e3:.2f}" for m in ms) + " | "
                  + " | ".join(f"{np.median(m / ms[-1]):.2f}" for m in ms[:3]) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
