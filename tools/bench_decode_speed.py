"""Decode time of the patch layout against Pillow's WebP at 0.25, 0.5 and 1 bpp (issue 12's
decode target), through the strip decoder and the whole-plane one, on a corpus of PNGs.

Files are chosen as ``tools/bench_rd.py`` chooses them (per image, the quality of each codec's
sweep whose rate is nearest the target) and decoded in turn ``--repeats`` times. ``--cpu``
measures CPU time (``time.process_time``) instead of wall time: on a machine shared with other
jobs the wall time of a 5 ms decode varies several-fold with their load, its CPU time far less
(WebP and svdcodec both decode on one thread here).

Usage::

    python tools/bench_decode_speed.py CORPUS [--cpu] [--repeats 15] [--every 1]
"""

from __future__ import annotations

import argparse
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


def medians(fns: list[Callable[[], object]], repeats: int, clock: Callable[[], float]
            ) -> list[float]:
    """Median seconds of each function, interleaved within every repeat."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, out in zip(fns, times, strict=True):
            start = clock()
            fn()
            out.append(clock() - start)
    return [float(np.median(t)) for t in times]


def nearest(files: list[bytes], pixels: int, bpp: float) -> bytes:
    return min(files, key=lambda d: abs(np.log(8 * len(d) / pixels / bpp)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--cpu", action="store_true", help="CPU time instead of wall time")
    parser.add_argument("--repeats", type=int, default=bench_rd.TIMING_REPEATS)
    parser.add_argument("--every", type=int, default=1, help="use every N-th image")
    args = parser.parse_args(argv)
    clock = time.process_time if args.cpu else time.perf_counter
    rows: dict[float, list[tuple[float, ...]]] = {b: [] for b in bench_rd.TIMING_BPPS}
    for path in sorted(args.corpus.glob("*.png"))[::args.every]:
        image = bench_rd.load(path)
        pixels = image.shape[0] * image.shape[1]
        svd = [svdcodec.encode(image, quality=q) for q in bench_rd.PATCH_QUALITIES]
        webp = [bench_rd.peers.encode_peer(image, "webp", q)
                for q in bench_rd.PEER_QUALITIES["webp"]]
        for bpp in bench_rd.TIMING_BPPS:
            s, w = nearest(svd, pixels, bpp), nearest(webp, pixels, bpp)
            t = medians([partial(svdcodec.decode, s), partial(decode_whole, s),
                         partial(bench_rd.peers.decode_peer, w, channels=3)], args.repeats,
                        clock)
            rows[bpp].append((*t, 8 * len(s) / pixels, 8 * len(w) / pixels))
        print(path.stem, file=sys.stderr, flush=True)
    print(f"{'cpu' if args.cpu else 'wall'} time, median over {len(rows[1.0])} images")
    print("| bpp | svd bpp | WebP bpp | strips ms | whole-plane ms | WebP ms | strips / WebP "
          "| whole / WebP |")
    print("|---|---|---|---|---|---|---|---|")
    for bpp, found in rows.items():
        r = np.array(found)
        print(f"| {bpp:g} | {np.mean(r[:, 3]):.3f} | {np.mean(r[:, 4]):.3f} "
              f"| {np.median(r[:, 0]) * 1e3:.2f} | {np.median(r[:, 1]) * 1e3:.2f} "
              f"| {np.median(r[:, 2]) * 1e3:.2f} | {np.median(r[:, 0] / r[:, 2]):.2f} "
              f"| {np.median(r[:, 1] / r[:, 2]):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
