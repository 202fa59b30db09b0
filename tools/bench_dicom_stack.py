"""A multi-frame DICOM file as one stack against N separate default ``.svdi`` files, at equal
mean PSNR (issue 15's done-when for the 30-frame ultrasound cine).

    python tools/bench_dicom_stack.py [FILE.dcm] [--quality 30 50 75] [--quick]

FILE defaults to pydicom's ``examples_ybr_color.dcm`` (30 frames of 320 x 240, JPEG baseline,
YBR converted to RGB by pydicom). For each quality: the frames as one stack
(``svdcodec.encode_stack``, coding ``auto``: the smallest of its codings), its mean PSNR (the
mean over frames of each frame's PSNR), then N separate default files, each aimed at that PSNR
(``encode(frame, target_psnr=...)``), and, for reference, N separate files at the same
quality; the ratio is against the fewer bytes of the two that reach the stack's PSNR
(within 0.05 dB). Headers are left out of both (pixels only: ``dicm`` would be the same
bytes once per stack and once per separate file). ``--quick``: coding ``tall`` only, for a
smoke test.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import svdcodec
from svdcodec.integrations import dicom
from svdcodec.stack.auto import mean_psnr


def frames_of(path: Path) -> tuple[np.ndarray, int]:
    """(N, H, W[, 3]) frames and the bits their values span (the DICOM encode's default)."""
    image = dicom.read_dicom(path)
    if image.frames < 2:
        raise SystemExit(f"{path}: a single frame; this compares stacks")
    return image.pixels, image.bits


def row(frames: np.ndarray, bits: int, quality: float, coding: str) -> str:
    start = time.perf_counter()
    options = {"bits": bits} if frames.dtype != np.uint8 else {}
    stack = svdcodec.encode_stack(frames, coding=coding, quality=quality, **options)
    info = svdcodec.read_header(stack)
    p_stack = mean_psnr(frames, svdcodec.decode_stack(stack), options.get("bits"))
    aimed = [svdcodec.encode(f, target_psnr=p_stack, **options) for f in frames]
    p_aimed = mean_psnr(frames, np.stack([svdcodec.decode(d) for d in aimed]), options.get("bits"))
    same_q = [svdcodec.encode(f, quality=quality, **options) for f in frames]
    p_same = mean_psnr(frames, np.stack([svdcodec.decode(d) for d in same_q]), options.get("bits"))
    # the fewest separate bytes that reach the stack's PSNR (within 0.05 dB)
    fair = [size for size, db in ((sum(map(len, aimed)), p_aimed),
                                  (sum(map(len, same_q)), p_same)) if db >= p_stack - 0.05]
    ratio = f"{len(stack) / min(fair):.3f}" if fair else "-"
    return (f"| {quality:g} | {info.stack_coding} | {len(stack):,} | {p_stack:.2f} | "
            f"{sum(map(len, aimed)):,} | {p_aimed:.2f} | {sum(map(len, same_q)):,} | "
            f"{p_same:.2f} | {ratio} | {time.perf_counter() - start:.0f} s |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, nargs="?")
    parser.add_argument("--quality", type=float, nargs="+", default=[50.0])
    parser.add_argument("--quick", action="store_true", help="coding tall only")
    args = parser.parse_args(argv)
    if args.file is None:
        from pydicom.data import get_testdata_file

        args.file = Path(get_testdata_file("examples_ybr_color.dcm"))
    frames, bits = frames_of(args.file)
    n = frames.shape[0]
    print(f"{args.file.name}: {n} frames of {frames.shape[2]}x{frames.shape[1]} "
          f"{frames.dtype}{' RGB' if frames.ndim == 4 else ''}, {frames.nbytes:,} bytes raw")
    print(f"| quality | stack coding | stack bytes | stack dB | {n} separate, same dB: bytes | dB "
          f"| {n} separate, same quality: bytes | dB | stack / separate | time |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for quality in args.quality:
        print(row(frames, bits, quality, "tall" if args.quick else "auto"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
