"""Encode random structured images with random options and count the failures (issue 11.2).

Specks, ramps, bilevel art, flat areas and checkerboards of 1-40 pixels a side, in every mode
(L, LA, RGB, RGBA, I;16), every layout and random options; each file must decode to the
image's shape and dtype. Prints the failures grouped by exception and one line of totals.

    OPENBLAS_NUM_THREADS=1 python tools/fuzz_encode.py -n 2000 --seed 1
"""

from __future__ import annotations

import argparse
import collections
import sys
import traceback
from typing import Any

import numpy as np

import svdcodec

KINDS = ("flat", "specks", "ramp", "bilevel", "checker")
MODES = ("L", "LA", "RGB", "RGBA", "I;16")
LAYOUTS = ("patch", "per-channel", "stacked", "stacked-vertical")


def structured_plane(rng: np.random.Generator, kind: str, h: int, w: int, top: int
                     ) -> np.ndarray:
    """One (h, w) plane of values 0..top of the given kind."""
    lo, hi = (int(v) for v in rng.choice([0, top, int(rng.integers(0, top + 1))], 2))
    if kind == "flat":
        return np.full((h, w), lo)
    if kind == "specks":
        x = np.full((h, w), lo)
        n = int(rng.integers(1, 4))
        x[rng.integers(0, h, n), rng.integers(0, w, n)] = hi
        return x
    if kind == "ramp":
        y, xx = np.mgrid[:h, :w]
        a, b = rng.integers(-3, 4, 2) * (top // 255 or 1) * int(rng.choice([1, 8, 40]))
        return np.clip(lo + a * y + b * xx, 0, top)
    if kind == "bilevel":
        x = np.full((h, w), lo)
        for _ in range(int(rng.integers(1, 4))):  # a few rectangles, as in line art
            y0, x0 = int(rng.integers(0, h)), int(rng.integers(0, w))
            x[y0:y0 + int(rng.integers(1, h + 1)), x0:x0 + int(rng.integers(1, w + 1))] = hi
        return x
    period = int(rng.integers(1, 5))
    y, xx = np.mgrid[:h, :w]
    return np.where((y // period + xx // period) % 2, hi, lo)


def structured_image(rng: np.random.Generator) -> tuple[np.ndarray, str, str]:
    mode = str(rng.choice(MODES))
    kind = str(rng.choice(KINDS))
    h, w = (int(v) for v in rng.integers(1, 41, 2))
    channels = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4, "I;16": 1}[mode]
    top = 65535 if mode == "I;16" else 255
    same = rng.random() < 0.5  # grey content in colour modes, or one kind per channel
    first = structured_plane(rng, kind, h, w, top)
    planes = [first if same or c == 0 else structured_plane(rng, str(rng.choice(KINDS)), h, w,
                                                            top) for c in range(channels)]
    x = np.stack(planes, axis=-1).astype(np.uint16 if mode == "I;16" else np.uint8)
    return (x[:, :, 0] if channels == 1 else x), mode, kind


def random_options(rng: np.random.Generator, mode: str) -> dict[str, Any]:
    layout = str(rng.choice(LAYOUTS))
    opts: dict[str, Any] = {"layout": layout}
    criterion = rng.choice(["quality", "quality", "target_size", "target_psnr"]
                           + ([] if layout == "patch" else ["rank", "energy"]))
    if criterion == "quality":
        opts["quality"] = float(rng.choice([0, 100, rng.uniform(0, 100)]))
    elif criterion == "target_size":
        opts["target_size"] = int(rng.integers(200, 4000))
    elif criterion == "target_psnr":
        opts["target_psnr"] = float(rng.uniform(10, 90))
    elif criterion == "rank":
        opts["rank"] = int(rng.integers(1, 50))
    else:
        opts["energy"] = float(rng.choice([1.0, rng.uniform(0.01, 1)]))
    if layout == "patch":
        opts["patch_size"] = int(rng.choice([4, 8, 16]))
        if mode in ("RGB", "RGBA"):
            opts["colour"] = str(rng.choice(["ycbcr", "none"]))
            if opts["colour"] == "ycbcr":
                opts["subsampling"] = rng.choice([None, 1, 2])
    else:
        opts["factors"] = str(rng.choice(["int8", "float16"]))
        opts["progressive"] = bool(rng.random() < 0.5)
    return opts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--show", type=int, default=3, help="examples printed per exception")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    failures: dict[str, list[str]] = collections.defaultdict(list)
    kinds: collections.Counter[str] = collections.Counter()
    for i in range(args.n):
        x, mode, kind = structured_image(rng)
        opts = random_options(rng, mode)
        try:
            data = svdcodec.encode(x, **opts)
            y = svdcodec.decode(data)
            if y.shape != x.shape or y.dtype != x.dtype:
                raise AssertionError(f"decoded {y.shape} {y.dtype}")
        except ValueError as e:  # a target_size no file can meet is the caller's limit
            if "target_size" in opts and "below the smallest" in str(e):
                continue
            failures[f"{type(e).__name__}: {str(e)[:60]}"].append(
                f"#{i} {mode} {kind} {x.shape} {opts}")
            kinds[kind] += 1
        except Exception as e:  # counting every kind of failure is the point
            where = traceback.extract_tb(e.__traceback__)[-1]
            failures[f"{type(e).__name__}: {str(e)[:60]} ({where.name})"].append(
                f"#{i} {mode} {kind} {x.shape} {opts}")
            kinds[kind] += 1
    total = sum(len(v) for v in failures.values())
    for what, cases in sorted(failures.items(), key=lambda kv: -len(kv[1])):
        print(f"{len(cases):5d}  {what}")
        for case in cases[:args.show]:
            print(f"         {case}")
    print(f"{total} of {args.n} failed ({100 * total / args.n:.1f} %); by kind: {dict(kinds)}")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
