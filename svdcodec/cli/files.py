"""The job of ``svdcodec encode``, one file: an image file (any that :func:`.inputs.load_image`
reads, or a file of several frames as a stack) to an .svdi file; ``decode``'s is
:mod:`.decodefile`, what they share :mod:`.fileio`. :mod:`.batch` runs them in worker processes.

Nothing happens silently: an encode that could not give what was asked (a rank above the full
rank, a PSNR or size not reached) or that grew the file says so. Notes are returned in
``notes`` for the caller to print, one line each.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..codec import decode, encode, read_header
from ..limits import Limits, get_default_limits
from . import dicom
from .fileio import Result, check_output, write_output
from .inputs import load_image
from .npyfiles import NPY


def encode_file(src: Path, out: Path, options: dict[str, Any], force: bool = False,
                progress: Callable[[int, int], object] | None = None,
                coding: str | None = None) -> Result:
    """Encode the image file ``src`` to ``out``; the result's record is ``encode --json``.
    ``progress``: see :func:`svdcodec.encode`. An input of several frames (GIF, APNG, TIFF
    pages) is encoded as one stack (spec section 14; ``coding``: its stack coding)."""
    if dicom.is_dicom_path(src):  # one image or a stack, and the header (spec 15.2)
        return dicom.encode_dicom_file(src, out, options, force, progress, coding)
    notes: list[str] = []
    count = _frame_count(src) if src.suffix.lower() != NPY else 1
    if count > 1:
        from .stackfiles import MixedFrames, encode_stack_file

        try:
            return encode_stack_file([src], out, options, coding, force, progress)
        except MixedFrames as exc:  # TIFF pages of two sizes: frame 1, as before stacks
            reason = str(exc).removeprefix(f"{src}: ")
            notes.append(f"{src}: its {count} frames cannot make one stack ({reason}): "
                         f"encoded frame 1 as a single image" +
                         (f" (--coding {coding} applies to stacks)" if coding else ""))
            coding = None
    check_output(out, force, src)
    image, meta = load_image(src, notes)
    if coding is not None:
        notes.append(f"--coding {coding} applies to stacks: {src.name} has one frame, "
                     f"encoded as a single image")
    start = time.perf_counter()
    data = encode(image, **options, **meta, progress=progress)
    seconds = time.perf_counter() - start
    info = read_header(data, limits=own_limits(image))
    record: dict[str, Any] = {
        "input": str(src), "output": str(out), "bytes": len(data),
        "input_bytes": src.stat().st_size, "width": info.width, "height": info.height,
        "mode": info.mode, "layout": info.layout,
        "factors": info.factors if info.layout != "patch" else None,
        "ranks": list(info.ranks), "frames": 1, "stack_coding": None,
        "bpp": 8 * len(data) / (info.width * info.height), "seconds": seconds, "psnr": None,
        "durations": None, "loop": None}  # the keys of a stack's record too
    notes += encode_notes(image, data, options, record)
    if options.get("level") is not None and info.compression == "arith":
        why = "--entropy arith" if options.get("entropy") == "arith" else \
            "the default, --entropy auto, kept it as the smaller"
        notes.append(f"--level {options['level']} has no effect on the arith payload ({why}; "
                     f"--entropy zstd uses a level)")
    record["notes"] = notes
    write_output(out, data)
    return Result(out, record, notes)


def _frame_count(src: Path) -> int:
    """The frames of an image file (1 if it cannot be opened: load_image then says why)."""
    try:
        with Image.open(src) as im:
            return int(getattr(im, "n_frames", 1))
    except Exception:
        return 1


def own_limits(image: np.ndarray) -> Limits:
    """The default limits raised to admit ``image``'s size: the file just encoded from it is
    read back (its record, a measured PSNR) even when it is larger than the default decoder
    accepts (a gigapixel .npy input)."""
    default = get_default_limits()
    h, w = image.shape[:2]
    return dataclasses.replace(default, max_width=max(default.max_width, w),
                               max_height=max(default.max_height, h),
                               max_pixels=max(default.max_pixels, h * w),
                               max_alloc_bytes=max(default.max_alloc_bytes, 16 * image.size))


def encode_notes(image: np.ndarray, data: bytes, options: dict[str, Any],
                 record: dict[str, Any],
                 decoder: Callable[[bytes], np.ndarray] | None = None) -> list[str]:
    """What differs from what was asked; sets ``record['psnr']`` when it was measured
    (``decoder``: :func:`svdcodec.decode_stack` for a stack, its PSNR over every sample;
    None: :func:`svdcodec.decode` within :func:`own_limits`)."""
    notes = []
    rank = options.get("rank")
    if rank is not None and record["ranks"] and min(record["ranks"]) < rank:
        notes.append(f"--rank {rank} is above the full rank of this image: stored ranks "
                     f"{record['ranks']} (full rank)")
    target = options.get("target_psnr")
    if target is not None:
        from ..metrics import psnr  # here: scipy.ndimage slows every command's start

        bits = options.get("bits")  # the peak that --target-psnr meant
        measured = psnr(image, decode(data, limits=own_limits(image)) if decoder is None
                        else decoder(data), None if bits is None else 2.0**bits - 1)
        record["psnr"] = measured if np.isfinite(measured) else None
        if measured < target - 0.005:
            best = "the full rank" if record["layout"] != "patch" else "quality 100"
            notes.append(f"--target-psnr {target:g} dB not reached: {measured:.2f} dB at "
                         f"{best}, the best this layout gives")
    size = options.get("target_size")
    if size is not None and len(data) > size:
        notes.append(f"--target-size {size:,} not reached: the smallest file is "
                     f"{len(data):,} bytes")
    if len(data) > record["input_bytes"]:
        notes.append(f"the output ({len(data):,} bytes) is larger than the input "
                     f"({record['input_bytes']:,} bytes, "
                     f"{len(data) / max(record['input_bytes'], 1):.1f}x)")
    return notes
