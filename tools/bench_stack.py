"""Bytes of an image stack per stack coding, against N separate files, at equal mean PSNR.

    python tools/bench_stack.py PATH/catData.mat [--frames 80] [--psnr 30 35.3 40]

Reads the 80 cat faces of Brunton & Kutz (``catData.mat``: a 4096 x 80 matrix, each column a
64 x 64 image in Fortran order), sweeps quality for N separate default ``.svdi`` files, N
separate Pillow WebP files and each stack coding of ``svdcodec.encode_stack`` (``snapshot``:
target PSNR), and interpolates log(bytes) over mean PSNR (the mean over frames of each frame's
PSNR) at the PSNRs asked for -- by default that of the separate default files (quality 50),
the done-when point of issue 15. Prints one table.
"""

from __future__ import annotations

import argparse
import io
import math
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

import svdcodec
from svdcodec.options import DEFAULT_QUALITY
from svdcodec.stack.auto import mean_psnr

Curve = list[tuple[int, float]]  # (bytes, mean PSNR) per sweep point
QUALITIES = (0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90, 95)


def load_cats(path: Path, count: int) -> np.ndarray:
    """(N, 64, 64) uint8: column k of ``cat`` reshaped in Fortran order."""
    import scipy.io

    matrix = scipy.io.loadmat(str(path))["cat"]
    side = math.isqrt(matrix.shape[0])
    frames = [matrix[:, k].reshape(side, side, order="F") for k in range(matrix.shape[1])]
    return np.stack(frames[:count]).astype(np.uint8)


def separate_svdi(frames: np.ndarray, quality: float) -> tuple[int, np.ndarray]:
    files = [svdcodec.encode(f, quality=quality) for f in frames]
    return sum(map(len, files)), np.stack([svdcodec.decode(d) for d in files])


def separate_webp(frames: np.ndarray, quality: float) -> tuple[int, np.ndarray]:
    total, out = 0, []
    for f in frames:
        buf = io.BytesIO()
        Image.fromarray(f).save(buf, "WEBP", quality=int(quality), method=6)
        total += buf.tell()
        with Image.open(io.BytesIO(buf.getvalue())) as im:
            out.append(np.asarray(im.convert("L")))
    return total, np.stack(out)


def stack(coding: str, **options: object) -> Callable[[np.ndarray, float],
                                                      tuple[int, np.ndarray]]:
    def run(frames: np.ndarray, value: float) -> tuple[int, np.ndarray]:
        key = "target_psnr" if coding == "snapshot" else "quality"
        data = svdcodec.encode_stack(frames, coding=coding, **{key: value}, **options)
        return len(data), svdcodec.decode_stack(data)
    return run


def sweep(frames: np.ndarray, run: Callable[[np.ndarray, float], tuple[int, np.ndarray]],
          values: tuple[float, ...]) -> Curve:
    curve = []
    for v in values:
        size, decoded = run(frames, v)
        curve.append((size, mean_psnr(frames, decoded)))
    return curve


def bytes_at(curve: Curve, psnr: float) -> float:
    """log-linear interpolation of bytes at ``psnr``; nan outside the swept range."""
    points = sorted((p, np.log(b)) for b, p in curve)
    ps = np.array([p for p, _ in points])
    if not ps[0] <= psnr <= ps[-1]:
        return float("nan")
    return float(np.exp(np.interp(psnr, ps, [lb for _, lb in points])))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mat", type=Path)
    parser.add_argument("--frames", type=int, default=80)
    parser.add_argument("--quick", action="store_true",
                        help="a few sweep points only (a smoke test, not a measurement)")
    parser.add_argument("--psnr", type=float, nargs="*", default=None,
                        help="mean PSNRs to compare at (default: that of the separate default "
                             "files, and 30, 40)")
    args = parser.parse_args(argv)
    frames = load_cats(args.mat, args.frames)
    n = len(frames)
    default_size, default_out = separate_svdi(frames, DEFAULT_QUALITY)
    default_psnr = mean_psnr(frames, default_out)
    targets = args.psnr or [30.0, round(default_psnr, 2), 40.0]
    snapshot_psnrs = tuple(float(p) for p in range(16, 52, 2))
    qualities = QUALITIES
    if args.quick:
        qualities, snapshot_psnrs = QUALITIES[::6], snapshot_psnrs[::6]
    curves = {
        f"{n} x .svdi": sweep(frames, separate_svdi, qualities),
        f"{n} x WebP": sweep(frames, separate_webp, qualities),
        "frames": sweep(frames, stack("frames"), qualities),
        "tall": sweep(frames, stack("tall"), qualities),
        "tall p4": sweep(frames, stack("tall", patch_size=4), qualities),
        "tall p16": sweep(frames, stack("tall", patch_size=16), qualities),
        "snapshot": sweep(frames, stack("snapshot"), snapshot_psnrs),
        "auto": sweep(frames, stack("auto"), qualities[::2]),
    }
    print(f"{n} frames of {frames.shape[2]}x{frames.shape[1]}; {n} separate default .svdi "
          f"files (quality 50): {default_size} bytes at mean PSNR {default_psnr:.2f} dB")
    names = list(curves)
    print("| mean PSNR | " + " | ".join(names) + " | best stack / separate .svdi |")
    print("|---" * (len(names) + 2) + "|")
    for target in targets:
        sizes = {name: bytes_at(curve, target) for name, curve in curves.items()}
        stacks = [sizes[c] for c in names[2:] if np.isfinite(sizes[c])]
        ratio = min(stacks) / sizes[names[0]] if stacks else float("nan")
        cells = " | ".join("–" if not np.isfinite(v) else f"{v:,.0f}" for v in sizes.values())
        print(f"| {target:.2f} dB | {cells} | {100 * ratio:.1f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
