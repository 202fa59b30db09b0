"""float16 vs int8 factors on real photographs, and encode speed against a naive encoder.

    python tools/bench_factors.py ../shared/corpus/kodak [--rank 40] [--images 6] [--speed-size WxH]

Prints, per image, the .svdi bytes, bits per pixel and PSNR of whole-image per-channel SVD at
one rank with float16 and with int8 factors, and the int8/float16 byte ratio and PSNR gap; then
the encode time of a 1920x1080 RGB photograph (the first image, upscaled with Lanczos) at rank
50 against a naive encoder that runs ``numpy.linalg.svd`` on each channel and truncates, both
measured in this run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from _common import naive_encode, size_arg
from PIL import Image

import svdcodec
from svdcodec.metrics import psnr


def _load(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def factor_table(paths: list[Path], rank: int) -> None:
    print(f"whole-image per-channel SVD, rank {rank}")
    print(f"{'image':<12} {'f16 bytes':>10} {'f16 bpp':>8} {'f16 dB':>7} {'i8 bytes':>9} "
          f"{'i8 bpp':>7} {'i8 dB':>7} {'i8/f16':>7} {'gap dB':>7}")
    ratios, gaps = [], []
    for path in paths:
        image = _load(path)
        pixels = image.shape[0] * image.shape[1]
        row = []
        for factors in ("float16", "int8"):
            data = svdcodec.encode(image, rank=rank, factors=factors)
            row.append((len(data), 8 * len(data) / pixels, psnr(image, svdcodec.decode(data))))
        (b16, bpp16, p16), (b8, bpp8, p8) = row
        ratios.append(b8 / b16)
        gaps.append(p16 - p8)
        print(f"{path.stem:<12} {b16:>10,} {bpp16:>8.3f} {p16:>7.2f} {b8:>9,} {bpp8:>7.3f} "
              f"{p8:>7.2f} {b8 / b16:>7.3f} {p16 - p8:>7.3f}")
    print(f"{'median':<12} {'':>10} {'':>8} {'':>7} {'':>9} {'':>7} {'':>7} "
          f"{statistics.median(ratios):>7.3f} {statistics.median(gaps):>7.3f}")
    print(f"max i8/f16 ratio {max(ratios):.3f}, max PSNR gap {max(gaps):.3f} dB\n")


def speed(path: Path, rank: int = 50, repeats: int = 3, size: tuple[int, int] = (1920, 1080)
          ) -> None:
    with Image.open(path) as im:
        image = np.asarray(im.convert("RGB").resize(size, Image.Resampling.LANCZOS))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        data = svdcodec.encode(image, rank=rank)
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    naive_encode(image, rank)
    naive = time.perf_counter() - start
    ours = statistics.median(times)
    start = time.perf_counter()
    svdcodec.decode(data)
    dec = time.perf_counter() - start
    print(f"{size[0]}x{size[1]} RGB ({path.stem} upscaled), rank {rank}: svdcodec encode "
          f"{ours:.3f} s (median of {repeats}), decode {dec:.3f} s; naive numpy.linalg.svd encoder "
          f"{naive:.2f} s; ratio {naive / ours:.0f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--rank", type=int, default=40)
    parser.add_argument("--images", type=int, default=6, help="how many images (0: all)")
    parser.add_argument("--speed-size", type=size_arg, default=(1920, 1080), metavar="WxH",
                        help="size of the encode-speed image (default 1920x1080)")
    args = parser.parse_args(argv)
    paths = sorted(args.corpus.glob("*.png"))
    if not paths:
        parser.error(f"no .png images in {args.corpus}")
    factor_table(paths[: args.images or None], args.rank)
    speed(paths[0], size=args.speed_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
