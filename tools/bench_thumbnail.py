"""Time ``Image.thumbnail`` on a large .svdi with ``draft()`` against a full ``load()``.

Upscales IMAGE (default: the bundled kodim23.png) to a large size, saves it as .svdi at a
moderate rank, then times ``Image.open(path).thumbnail((256, 256))``, which lets the plugin's
``draft()`` decode block means at a reduced size, against ``Image.open(path)``, ``load()`` and
the same ``thumbnail()``. Prints the median and the fastest of several runs.

    python tools/bench_thumbnail.py [IMAGE] [--size 4000x3000] [--rank 64] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _common import size_arg
from PIL import Image

import svdcodec  # registers the SVDI plugin

DEFAULT_IMAGE = Path(svdcodec.__file__).parent / "data" / "kodim23.png"
THUMBNAIL = (256, 256)


def _times(run: Callable[[], object], runs: int) -> list[float]:
    run()  # warm up (imports, caches)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("image", nargs="?", type=Path, default=DEFAULT_IMAGE)
    parser.add_argument("--size", type=size_arg, default=(4000, 3000), help="WIDTHxHEIGHT")
    parser.add_argument("--rank", type=int, default=64)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)

    with Image.open(args.image) as src:
        big = src.convert("RGB").resize(args.size, Image.Resampling.BICUBIC)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.svdi"
        start = time.perf_counter()
        big.save(path, rank=args.rank)
        encode_s = time.perf_counter() - start
        print(f"{args.image.name} upscaled to {args.size[0]}x{args.size[1]} RGB, rank "
              f"{args.rank} int8 per-channel: {path.stat().st_size:,} bytes "
              f"(encoded in {encode_s:.1f} s)")

        def with_draft() -> tuple[int, int]:
            with Image.open(path) as im:
                im.thumbnail(THUMBNAIL)
                return im.size

        def full_load() -> tuple[int, int]:
            with Image.open(path) as im:
                im.load()
                im.thumbnail(THUMBNAIL)
                return im.size

        with Image.open(path) as im:
            mode_box = im.draft(None, (THUMBNAIL[0] * 2, THUMBNAIL[1] * 2))  # as thumbnail()
            decoded = im.size
        assert with_draft() == full_load()
        rows = [("open + thumbnail (draft)", _times(with_draft, args.runs)),
                ("open + load() + thumbnail", _times(full_load, args.runs))]

    print(f"thumbnail {THUMBNAIL[0]}x{THUMBNAIL[1]}: draft decodes {decoded[0]}x{decoded[1]} "
          f"(box {mode_box[1] if mode_box else None})\n")
    print(f"{'method':<28} {'median s':>9} {'min s':>9} {'runs':>5}")
    for name, times in rows:
        print(f"{name:<28} {statistics.median(times):>9.3f} {min(times):>9.3f} {len(times):>5}")
    ratio = statistics.median(rows[1][1]) / statistics.median(rows[0][1])
    print(f"\ndraft speed-up (ratio of medians, this run): {ratio:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
