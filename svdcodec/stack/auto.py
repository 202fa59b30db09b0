"""A stack's coding chosen by measure (``coding="auto"``, spec section 14): each candidate
coding of :mod:`.codings` encoded and decoded once, the smallest file at the requested quality
kept; and the error of a ``target_size`` that no coding meets, naming the least one does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import format as fmt
from ..progress import Progress
from .checks import NO_LIMITS, check_frame_limits
from .codings import (
    ENCODERS,
    FRMS_BYTES,
    PATCH_OPTIONS,
    WHOLE_OPTIONS,
    EncodeImage,
    framing,
    image_layout,
    single,
)

DecodeStack = Callable[..., np.ndarray]  # svdcodec.decode_stack(data, limits=...)
# auto: a coding whose mean PSNR is this far below the reference still counts as equal
AUTO_PSNR_SLACK = 0.05
AUTO_SMALL_PATCH = 4  # auto also tries tall with this patch size
# auto's candidates in order (frames, tall, tall 4x4, snapshot): their slices of the progress
AUTO_PROGRESS = ((0.0, 0.4), (0.4, 0.6), (0.6, 0.85), (0.85, 1.0))


def mean_psnr(frames: np.ndarray, decoded: np.ndarray, bits: int | None = None) -> float:
    """The mean over frames of each frame's PSNR in dB (an exact frame counts as 100 dB), with
    the peak 2^bits - 1 (None: 255 or 65535), as the encoder's target_psnr means it."""
    peak = (255.0 if frames.dtype == np.uint8 else 65535.0) if bits is None else 2.0**bits - 1
    n = frames.shape[0]
    diff = frames.reshape(n, -1).astype(np.float64) - decoded.reshape(n, -1)
    mse = np.mean(diff * diff, axis=1)
    db = 10 * np.log10(peak**2 / np.maximum(mse, peak**2 * 1e-10))
    return float(np.mean(db))


def encode_auto(frames: np.ndarray, encode_image: EncodeImage, options: dict[str, Any],
                decode_stack: DecodeStack) -> bytes:
    """The smallest coding at the requested quality, measured (each coding is encoded and
    decoded once):

    - with ``target_size``: every coding at that size; the one of highest mean PSNR wins;
    - with ``rank``, ``energy`` or ``factors`` (whole-image options): every coding with those
      options; the smallest file wins;
    - otherwise (``quality`` or ``target_psnr``, patch layout by default): ``frames`` and
      ``tall`` with the options; their lower mean PSNR is the reference; then ``tall`` with
      4 x 4 patches (unless a patch size is given) and ``snapshot``, both aimed at the
      reference (``target_psnr``); of the files whose mean PSNR is within AUTO_PSNR_SLACK of
      the reference, the smallest wins.
    """
    reporter = Progress(options.get("progress"))
    tried = [0]  # candidates so far: each gets the next slice of the progress
    refusals: list[ValueError] = []  # why candidates failed: the first is the caller's answer

    def coded(coding: str, opts: dict[str, Any]) -> tuple[bytes, float] | None:
        share = AUTO_PROGRESS[min(tried[0], len(AUTO_PROGRESS) - 1)]
        tried[0] += 1
        opts = {**opts, "progress": reporter.part(*share)}
        try:  # the coding cannot meet the options (a target too small, too many chunks)
            data = ENCODERS[coding](frames, encode_image, opts)
            check_frame_limits(data, coding)
        except ValueError as exc:
            refusals.append(exc)
            return None
        # measured whole: above the allocation limit, decode_stack refuses what decode reads
        return data, mean_psnr(frames, decode_stack(data, limits=NO_LIMITS),
                               options.get("bits"))

    patch_only = any(options.get(n) is not None for n in (*PATCH_OPTIONS, "patch_size"))
    snapshot_ok = not patch_only and options.get("layout") in (None, "snapshot")
    base = {k: v for k, v in options.items() if k != "layout" or v != "snapshot"}
    if options.get("target_size") is not None or \
            any(options.get(n) is not None for n in WHOLE_OPTIONS):
        found = [r for c in fmt.STACK_CODING_BY_NAME
                 if c != "snapshot" or snapshot_ok
                 for r in [coded(c, base if c != "snapshot" else options)] if r is not None]
        if not found and options.get("target_size") is not None:
            codings = {"frames": base, "tall": base, **({"snapshot": options} if snapshot_ok
                                                        else {})}
            raise size_refusal(frames, encode_image, codings, _refused(refusals))
        if not found:
            raise _refused(refusals)
        if options.get("target_size") is not None:
            return max(found, key=lambda r: r[1])[0]
        return min(found, key=lambda r: len(r[0]))[0]
    results = [r for r in (coded("frames", base), coded("tall", base)) if r is not None]
    if not results:  # options that neither coding accepts (a quality of 200)
        raise _refused(refusals)
    reference = min(p for _, p in results)
    aimed = {k: v for k, v in options.items() if k not in ("quality", "target_psnr")}
    aimed["target_psnr"] = min(reference, 100.0)  # a pooled PSNR: the mean one is no lower
    if image_layout(options) == "patch" and options.get("patch_size") is None:
        small = coded("tall", {**aimed, "patch_size": AUTO_SMALL_PATCH})
        if small is not None:  # on small frames 4x4 patches often pay (tools/bench_stack.py)
            results.append(small)
    if snapshot_ok:
        snap = coded("snapshot", aimed)
        if snap is not None:
            results.append(snap)
    fair = [r for r in results if r[1] >= reference - AUTO_PSNR_SLACK]
    return min(fair, key=lambda r: len(r[0]))[0]


def _refused(refusals: list[ValueError]) -> ValueError:
    """The error of an auto encode that no coding accepted: every coding's reason (the first
    is what coding='frames' would have said), once each."""
    reasons = "; ".join(dict.fromkeys(str(e) for e in refusals))
    return ValueError(f"no stack coding accepts the options: {reasons}")


def _least_target(coding: str, frames: np.ndarray, encode_image: EncodeImage,
                  options: dict[str, Any]) -> tuple[int, str] | None:
    """The smallest target_size that ``coding`` meets with ``options`` (their target_size
    aside), and the setting that gives it: its file at its least (quality 0 for the patch
    layout, rank 1 else, as the single-image encoders define their smallest file); for
    ``frames``, whose frames get equal shares, the share the largest frame needs. None if the
    coding refuses even that."""
    least: dict[str, Any] = {"rank": 1} if coding == "snapshot" or \
        image_layout(options) != "patch" else {"quality": 0}
    opts = {k: v for k, v in options.items() if k not in ("target_size", "progress")} | least
    setting = ", ".join(f"{k} {v}" for k, v in least.items())
    try:
        if coding != "frames":
            return len(ENCODERS[coding](frames, encode_image, opts)), setting
        largest = max(len(encode_image(single(frame), **opts)) for frame in frames)
    except ValueError:
        return None
    framed = framing(frames, options)
    return frames.shape[0] * (largest - framed) + framed + FRMS_BYTES, setting


def size_refusal(frames: np.ndarray, encode_image: EncodeImage,
                  tried: dict[str, dict[str, Any]], refusal: ValueError) -> ValueError:
    """The error of a stack encode whose target_size no coding of ``tried`` (each with its
    options) met: the caller's target, not each coding's share of it, and the smallest
    target that one of them meets, when known."""
    target = next(iter(tried.values()))["target_size"]
    found = [(r[0], c, r[1]) for c, opts in tried.items()
             for r in [_least_target(c, frames, encode_image, opts)] if r is not None]
    if not found or min(found)[0] <= target:  # refused for another reason too
        return ValueError(f"target_size {target} not met: {refusal}")
    size, coding, setting = min(found)
    which, how = ("any stack coding", f": coding {coding!r} at") if len(tried) > 1 else \
        (f"coding {coding!r}", " at")
    return ValueError(f"target_size {target} is below the smallest file {which} makes of these "
                      f"frames ({size:,} bytes{how} {setting})")

