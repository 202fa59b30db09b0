"""``svdcodec demo``: the size report of the whole-image layouts and of the patch layout.

For an image (default: the bundled Kodak photograph) it prints, per rank, layout and factor type,
the numbers the factors store, the file's bytes, bits per pixel, PSNR and the share of the PNG;
then the patch layout at several qualities next to JPEG at the same PSNR.
"""

from __future__ import annotations

import time
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..codec import decode, encode, read_header
from ..pillow.convert import from_array, to_array

# (bytes per sample, channels) -> the image's mode, as svdcodec.read_header names it
MODE_NAMES = {(1, 1): "L", (1, 2): "LA", (1, 3): "RGB", (1, 4): "RGBA", (2, 1): "I;16"}


def demo_image() -> Path:
    """The bundled photograph: Kodak image 23 (768x512, 'unrestricted research use')."""
    return Path(__file__).resolve().parent.parent / "data" / "kodim23.png"


def run(image_path: Path | None, ranks: list[int], layouts: list[str], factor_types: list[str],
        qualities: list[float], image: np.ndarray | None = None) -> None:
    """Print the size report of ``svdcodec demo`` for an image (default: the bundled one);
    ``image``: its samples, read by the caller (else opened with Pillow)."""
    from ..metrics import psnr  # here, not at the top: scipy.ndimage slows every command's start

    path = image_path or demo_image()
    if image is None:
        with Image.open(path) as im:
            image = to_array(im)
    h, w = image.shape[:2]
    pixels = h * w
    png = BytesIO()
    from_array(image).save(png, format="PNG")
    channels = 1 if image.ndim == 2 else image.shape[2]
    print(f"{path.name}: {w}x{h} {MODE_NAMES[image.dtype.itemsize, channels]}, "
          f"{image.size:,} samples = {image.nbytes:,} bytes as {image.dtype} "
          f"({8 * image.itemsize * channels} bpp); as float64 for numpy.linalg.svd: "
          f"{image.size * 8:,} bytes")
    print(f"PNG (lossless): {png.tell():,} bytes = {8 * png.tell() / pixels:.3f} bpp\n")
    header = (f"{'rank':>5} {'layout':<16} {'factors':<8} {'numbers':>10} {'bytes':>9} "
              f"{'bpp':>7} {'PSNR dB':>8} {'vs PNG':>7} {'enc s':>6}")
    print(header)
    print("-" * len(header))
    for layout in layouts:
        for factors in factor_types:
            for rank in ranks:
                start = time.perf_counter()
                data = encode(image, rank=rank, layout=layout, factors=factors)
                seconds = time.perf_counter() - start
                info = read_header(data)
                numbers = sum(g.rank * (g.rows + g.cols + 1) for g in info.groups)
                quality = psnr(image, decode(data))
                print(f"{rank:>5} {layout:<16} {factors:<8} {numbers:>10,} {len(data):>9,} "
                      f"{8 * len(data) / pixels:>7.3f} {quality:>8.2f} "
                      f"{len(data) / png.tell():>7.1%} {seconds:>6.2f}")
    print("\nnumbers = rank x (rows + cols + 1) per matrix: what the factors store, "
          "before quantization (float16 or int8) and zstd.")
    if qualities:
        _patch_rows(image, qualities, psnr)


def _patch_rows(image: np.ndarray, qualities: list[float], psnr: Any) -> None:
    """The patch layout at several qualities, next to JPEG at the same PSNR."""
    from .peers import match_psnr

    pixels = image.shape[0] * image.shape[1]
    jpeg_ok = image.dtype == np.uint8 and (image.ndim == 2 or image.shape[2] == 3)
    print("\npatch layout (spec section 12), the default; JPEG = Pillow, optimize=True, "
          "smallest quality reaching the same PSNR")
    header = (f"{'quality':>7} {'bytes':>9} {'bpp':>7} {'PSNR dB':>8} {'enc s':>6} "
              f"{'JPEG bytes':>10} {'JPEG q':>6} {'svdi/JPEG':>9}")
    print(header)
    print("-" * len(header))
    if not jpeg_ok:
        print("(no JPEG columns: JPEG holds 8-bit L and RGB only, this image is "
              f"{image.dtype} with {1 if image.ndim == 2 else image.shape[2]} channel(s))")
    for q in qualities:  # "n/a": even JPEG quality 100 stays below this PSNR
        start = time.perf_counter()
        data = encode(image, quality=q)
        seconds = time.perf_counter() - start
        quality = psnr(image, decode(data))
        row = (f"{q:>7g} {len(data):>9,} {8 * len(data) / pixels:>7.3f} {quality:>8.2f} "
               f"{seconds:>6.2f}")
        if jpeg_ok:
            peer = match_psnr(image, "jpeg", quality)
            ratio = f"{len(data) / peer.nbytes:.2f}" if peer.reached else "n/a"
            row += f" {peer.nbytes:>10,} {peer.quality:>6} {ratio:>9}"
        print(row)
