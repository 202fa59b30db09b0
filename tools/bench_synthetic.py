"""Bytes and PSNR on images that are not photographs: svdcodec's two payloads and its default
("auto": the smaller of the two for the same coefficients) against Pillow's PNG, JPEG and WebP.

    python tools/bench_synthetic.py [--quality 50] [--size 512x768] [--out DIR]

The images are made here, so the figures are reproducible anywhere: a render of text (a
screenshot's repeated glyphs), a tiled 16 x 16 pattern, a bar chart, a checkerboard and a
smooth ramp. svdcodec runs at one quality (default 50: what ``svdcodec encode`` does without
options); JPEG and WebP at the quality whose file is nearest in size to svdcodec's default
file, so the PSNR columns compare equal bytes. ``--out`` writes the images as PNG.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

import svdcodec
from svdcodec.metrics import psnr
from svdcodec.teach import peers

PEER_QUALITIES = tuple(range(5, 101, 5))


def text(h: int, w: int) -> np.ndarray:
    im = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(im)
    for i in range(h // 12):
        draw.text((6, 12 * i + 1), "The quick brown fox jumps over the lazy dog. 0123456789 " * 4,
                  fill=(20, 20, 20) if i % 5 else (180, 30, 30))
    return np.asarray(im)


def tiled(h: int, w: int) -> np.ndarray:
    tile = np.random.default_rng(0).integers(0, 256, (16, 16, 3))
    return np.tile(tile, (h // 16 + 1, w // 16 + 1, 1))[:h, :w].astype(np.uint8)


def chart(h: int, w: int) -> np.ndarray:
    im = Image.new("RGB", (w, h), (245, 245, 245))
    draw = ImageDraw.Draw(im)
    rng = np.random.default_rng(1)
    colours = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40)]
    bars = 24
    base = h - max(2, h // 25)
    for b in range(bars):
        top = int(base * (0.15 + 0.7 * rng.random()))
        x0 = int(w * 0.05 + b * w * 0.9 / bars)
        draw.rectangle((x0, top, x0 + int(w * 0.6 / bars), base), fill=colours[b % 4])
    for y in range(base % 40, base, 40):
        draw.line((0, y, w, y), fill=(200, 200, 200))
    return np.asarray(im)


def checker(h: int, w: int) -> np.ndarray:
    board = (np.indices((h, w)).sum(axis=0) // 8 % 2 * 255).astype(np.uint8)
    return np.stack([board] * 3, axis=2)


def ramp(h: int, w: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // w, y * 255 // h, (x + y) * 255 // (w + h)],
                    axis=2).astype(np.uint8)


IMAGES: dict[str, Callable[[int, int], np.ndarray]] = {
    "text": text, "tiled": tiled, "chart": chart, "checker": checker, "ramp": ramp}


def nearest(image: np.ndarray, codec: str, size: int) -> tuple[int, float]:
    """(bytes, PSNR) of the peer's file nearest ``size`` bytes over its quality sweep."""
    files = [peers.encode_peer(image, codec, q) for q in PEER_QUALITIES]
    best = min(files, key=lambda d: abs(np.log(len(d) / size)))
    return len(best), psnr(image, peers.decode_peer(best, channels=3))


def size(text: str) -> tuple[int, int]:
    """HxW, each at least 2 (the chart needs a row above its base line)."""
    h, w = (int(v) for v in text.lower().split("x"))
    if min(h, w) < 2:
        raise argparse.ArgumentTypeError(f"HxW with H, W >= 2, got {text!r}")
    return h, w


def quality(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"a quality in 0..100, got {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quality", type=quality, default=50.0)
    parser.add_argument("--size", type=size, default=(512, 768), help="HxW (default 512x768)")
    parser.add_argument("--out", type=Path, help="write the images there as PNG")
    args = parser.parse_args(argv)
    h, w = args.size
    print(f"{h}x{w} RGB, svdcodec at quality {args.quality:g}; JPEG and WebP at the quality "
          "nearest svdcodec's default file in bytes")
    print("| image | PNG bytes | arith bytes | zstd bytes | default (auto) bytes | PSNR dB "
          "| JPEG bytes | JPEG dB | WebP bytes | WebP dB | arith / auto |")
    print("|---" * 11 + "|")
    for name, make in IMAGES.items():
        image = make(h, w)
        if args.out is not None:
            args.out.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(args.out / f"{name}.png")
        coded = {e: svdcodec.encode(image, quality=args.quality, entropy=e)
                 for e in ("arith", "zstd", "auto")}
        auto = coded["auto"]
        png = len(peers.encode_peer(image, "png"))
        jpeg = nearest(image, "jpeg", len(auto))
        webp = nearest(image, "webp", len(auto))
        print(f"| {name} | {png:,} | {len(coded['arith']):,} | {len(coded['zstd']):,} "
              f"| {len(auto):,} | {psnr(image, svdcodec.decode(auto)):.2f} "
              f"| {jpeg[0]:,} | {jpeg[1]:.2f} | {webp[0]:,} | {webp[1]:.2f} "
              f"| {len(coded['arith']) / len(auto):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
