"""Rate control of the patch layout: the quality whose file meets a ``target_size`` or a
``target_psnr``, found by a search over quality (sizes and PSNR grow with it).

:class:`.codec.PatchEncoder` analyses the image once and codes it at each quality tried;
``target_psnr`` decodes each trial (:mod:`.decode`) to measure it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from .. import format as fmt
from ..metrics import psnr
from ..progress import Progress
from . import decode
from .codec import PatchEncoder

SEARCH_STEPS = 12  # refinements of target_size / target_psnr over quality
MAX_MEASURES = 3 + SEARCH_STEPS  # quality 50, two steps of 25 to bracket, the refinements
SIZE_TOLERANCE = math.log(0.985)  # target_size: stop once the file has >= 98.5 % of it
PSNR_TOLERANCE = 0.03  # target_psnr: stop within 0.03 dB above it

# What one quality gives: the HEAD (its compression field) and the PTCH chunks.
Coded = tuple[fmt.Header, list[fmt.Plane]]
# A trial of the quality search: (quality, h(quality), what that quality gives).
Trial = tuple[float, float, Coded]
Measure = Callable[[float], tuple[float, Coded]]


def search(encoder: PatchEncoder, metadata: dict[str, bytes], *,
           target_size: int | None = None, target_psnr: float | None = None,
           progress: Progress | None = None) -> bytes:
    """The file of ``encoder``'s image at the quality that meets the target.

    ``target_size``: the highest quality whose file has at most that many bytes (found to
    within 1.5 % of the target; ValueError if even quality 0 is larger). ``target_psnr``:
    the lowest quality whose decoded image reaches that PSNR (within 0.03 dB; quality 100
    if none does). h(q) = log(size / target) or PSNR - target grows with q; the root is
    bracketed from quality 50 in steps of 25 and refined by regula falsi.
    """
    progress = progress or Progress()
    count = [0]  # encodes so far, of at most MAX_MEASURES

    def measure(quality: float) -> tuple[float, Coded]:
        header, planes = encoder.planes(quality, progress.part(count[0] / MAX_MEASURES,
                                                               (count[0] + 1) / MAX_MEASURES))
        count[0] += 1
        if target_size is not None:
            size = len(fmt.pack(header, [], metadata, planes))
            return math.log(size / target_size), (header, planes)
        container = fmt.Container(header, (), {}, (), tuple(planes))
        decoded = decode.decode_planes(container).reshape(encoder.image.shape)
        assert target_psnr is not None  # the caller gives one of the two targets
        peak = 2.0**encoder.bits - 1
        return psnr(encoder.image, decoded, peak) - target_psnr, (header, planes)

    def pack(trial: Trial) -> bytes:
        return fmt.pack(trial[2][0], [], metadata, trial[2][1])

    lo, hi = _bracket(measure)
    if hi is None:  # even quality 100 is small enough, or not good enough
        assert lo is not None  # the loop ends with a bracket or at a bound
        return pack(lo)
    if lo is None:
        if target_size is not None:
            raise ValueError(f"target_size {target_size} is below the smallest file the "
                             f"patch layout makes of this image ({len(pack(hi))} bytes at "
                             "quality 0)")
        return pack(hi)
    if target_size is not None:
        lo, hi = _refine(measure, lo, hi, lambda lo, hi: lo[1] >= SIZE_TOLERANCE)
    else:
        lo, hi = _refine(measure, lo, hi, lambda lo, hi: hi[1] <= PSNR_TOLERANCE)
    return pack(lo if target_size is not None else hi)


def _bracket(measure: Measure) -> tuple[Trial | None, Trial | None]:
    """From quality 50 in steps of 25: the trials with h <= 0 and h > 0 around the root, or
    None on a side where quality 0 or 100 is reached first."""
    q = 50.0
    h, planes = measure(q)
    lo: Trial | None = None
    hi: Trial | None = None
    while True:
        if h <= 0:
            lo = (q, h, planes)
        else:
            hi = (q, h, planes)
        if lo is not None and hi is not None:
            break
        if (q == 100.0 and h <= 0) or (q == 0.0 and h > 0):
            break
        q = min(100.0, q + 25) if h <= 0 else max(0.0, q - 25)
        h, planes = measure(q)
    return lo, hi


def _refine(measure: Measure, lo: Trial, hi: Trial,
            done: Callable[[Trial, Trial], bool]) -> tuple[Trial, Trial]:
    """Regula falsi on the bracket, each step kept within its inner 80 %, until ``done``."""
    for _ in range(SEARCH_STEPS):
        width = hi[0] - lo[0]
        if done(lo, hi) or width < 0.02:
            break
        q = lo[0] + width * (-lo[1]) / (hi[1] - lo[1])
        q = min(max(q, lo[0] + 0.1 * width), hi[0] - 0.1 * width)
        h, planes = measure(q)
        if h <= 0:
            lo = (q, h, planes)
        else:
            hi = (q, h, planes)
    return lo, hi
