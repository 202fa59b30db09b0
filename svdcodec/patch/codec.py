"""The patch layout's encoder (spec section 12): image -> PTCH chunks, and rate control.

:mod:`.transform` makes the planes, :mod:`.encode` quantizes each one, :mod:`.symbols` and
:mod:`.arith` code its values; this module joins them with :mod:`._zstd` and :mod:`.format`.
The decoder (PTCH chunks -> samples, limits, verification) is :mod:`.decode`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .. import _zstd
from .. import format as fmt
from ..errors import LimitError
from ..limits import get_default_limits
from ..metrics import psnr
from ..progress import Progress
from . import arith, decode, transform
from .analysis import PlaneAnalysis
from .encode import ARITH_MULTIPLIER_BITS, QuantizedPlane, quantize_plane
from .symbols import PlaneCoefficients, pack_payload_strips

PATCH_SIZE = 8
# zstd level: level 9 costs 0.26 dB BD-PSNR (every third Kodak image), levels 20-22 gain nothing
LEVEL = 19
CHROMA_STEP = 0.75  # chroma steps relative to luma; 0.6: +0.00 dB, 1.0: -0.06
COLOURS = ("ycbcr", "none")
# entropy coding of the planes: "arith" (spec section 13, HEAD compression 2) or "zstd"
# (section 12.3, compression 1)
ENTROPIES = tuple(sorted(fmt.COMPRESSION_NAMES.values()))  # named as the spec's enum
# "auto": the quantized coefficients coded both ways, the smaller file kept. The arith payload
# is 17-28 % smaller on photographs, but its contexts see only left and upper neighbours, while
# zstd finds repeated patches: on text, tiled or synthetic images the zstd payload of the same
# coefficients was 3-145 times smaller (measured on a 768 x 512 text render, a tiled pattern,
# a checkerboard and a ramp at qualities 30-80). Same coefficients: the same decoded image.
AUTO = "auto"
ENTROPY_CHOICES = (AUTO, *ENTROPIES)
DEFAULT_ENTROPY = AUTO
# auto compresses with zstd at the encoder's level only while a fast probe (PROBE_LEVEL) of
# the planes' section 12.3 bytes so far stays below PROBE_RATIO times their arith payloads plus
# PROBE_SLACK bytes (a flat chroma plane is a few bytes either way), and only for planes of at
# most AUTO_MAX_SAMPLES samples (the probe holds the plane's raw payload in memory; larger
# images stay arith). On Kodak the probe is 1.27-1.77 times the arith payload at qualities
# 10-50 and 1.04-1.32 at 80-95, where zstd at level 19 did not win either: a ratio of 1 spares
# photographs the slow level-19 compression; text measured 0.07.
PROBE_LEVEL = 3
PROBE_RATIO = 1.0
PROBE_SLACK = 256
AUTO_MAX_SAMPLES = 1 << 26
ARITH_RDO = True  # price coefficients with the arith contexts (svdcodec/patch/arith_rdo.py)
# quality q -> step = STEP_AT_100 * 2^((100 - q) / QUALITY_OCTAVE) for 8-bit samples
STEP_AT_100 = 0.5
QUALITY_OCTAVE = 11.0
SEARCH_STEPS = 12  # refinements of target_size / target_psnr over quality
MAX_MEASURES = 3 + SEARCH_STEPS  # quality 50, two steps of 25 to bracket, the refinements
ANALYSIS_SHARE = 0.3  # of an encode's time, where the planes are not analysed yet (progress)
SIZE_TOLERANCE = math.log(0.985)  # target_size: stop once the file has >= 98.5 % of it
PSNR_TOLERANCE = 0.03  # target_psnr: stop within 0.03 dB above it
# Automatic chroma subsampling: 4:2:0 below this quality, 4:4:4 from it on. On Kodak the two
# curves cross between 1.5 and 5 bpp (qualities 60..80); 4:2:0 caps PSNR near 45 dB.
FULL_CHROMA_QUALITY = 75


def quality_to_step(quality: float, bit_depth: int) -> float:
    """The coefficient step of a quality 0..100 (smaller step: larger file, higher PSNR)."""
    unit = (2**bit_depth - 1) / 255
    return STEP_AT_100 * 2.0 ** ((100.0 - quality) / QUALITY_OCTAVE) * unit


@dataclass
class AutoEntropy:
    """What ``entropy="auto"`` knows of the planes coded so far while zstd is still in the
    running (arith always is): the bytes of both codings, and the zstd planes' fields."""

    zstd_probe_bytes: int = 0  # the fast zstd probes (PROBE_LEVEL) of their byte symbols
    arith_bytes: int = 0  # their arith payloads
    zstd_planes: list[fmt.Plane] = field(default_factory=list)  # fields only: no payloads

    def zstd_losing(self) -> bool:
        """Whether the probes say that zstd will not be smaller."""
        return self.zstd_probe_bytes > PROBE_RATIO * self.arith_bytes + PROBE_SLACK

    def zstd_refused(self, header: fmt.Header, plane: fmt.Plane) -> bool:
        """Add ``plane`` (its fields; the payload is not made yet) and say whether a decoder
        with the default limits refuses the zstd planes so far (section 12.8: a count of
        header fields, which only grows with planes). Auto's zstd payload counts its whole
        planes (about 46 bytes a pixel for RGB at 4:4:4), the arith strip decoder about the
        output: auto keeps arith where zstd would be refused, and refuses it before the slow
        compression."""
        self.zstd_planes.append(plane)
        container = fmt.Container(header, (), {}, (), tuple(self.zstd_planes))
        try:
            decode.check_limits(container, get_default_limits())
        except LimitError:
            return True
        return False


@dataclass(frozen=True)
class PlanePlan:
    """How one plane is made: the analysis (patches and basis), subsampling, step factor."""

    analysis: PlaneAnalysis
    subsample: int
    step_factor: float


class PatchEncoder:
    """Analyse an image once; encode it at any quality (rate control calls this repeatedly).

    Parameters
    ----------
    image : (H, W, C) uint8 or uint16 array. mode : its fmt.Mode.
    colour : "ycbcr" (RGB and RGBA; the default for them) or "none".
    subsampling : 2 to halve the chroma planes in x and y (YCbCr only), 1 not to, None for
        2 below quality ``FULL_CHROMA_QUALITY`` and 1 from there on.
    bits : the samples' significant bits (at most the mode's bit depth; None: all of them):
        quality's step and target_psnr's peak are those of samples 0 .. 2^bits - 1.
    patch_size : 4, 8 or 16.
    entropy : "arith" (spec section 13), "zstd" (section 12.3) or "auto" (whichever codes the
        same coefficients in fewer bytes); None for DEFAULT_ENTROPY.
    """

    def __init__(self, image: np.ndarray, mode: fmt.Mode, *, colour: str | None = None,
                 subsampling: int | None = None, patch_size: int = PATCH_SIZE,
                 level: int = LEVEL, entropy: str | None = None,
                 bits: int | None = None) -> None:
        entropy = DEFAULT_ENTROPY if entropy is None else entropy
        if entropy not in ENTROPY_CHOICES:
            raise ValueError(f"entropy must be one of {ENTROPY_CHOICES}, got {entropy!r}")
        self.entropy = entropy
        if patch_size not in fmt.PATCH_SIZES:
            raise ValueError(f"patch_size must be one of {fmt.PATCH_SIZES}, got {patch_size!r}")
        if subsampling is not None and subsampling not in fmt.SUBSAMPLING:
            raise ValueError(f"subsampling must be 1, 2 or None, got {subsampling!r}")
        rgb = mode in (fmt.Mode.RGB, fmt.Mode.RGBA)
        colour = ("ycbcr" if rgb else "none") if colour is None else colour
        if colour not in COLOURS or (colour == "ycbcr" and not rgb):
            raise ValueError(f"colour must be 'ycbcr' (RGB, RGBA) or 'none', got {colour!r}")
        self.image = image
        self.mode = mode
        self.level = level
        self.patch_size = patch_size
        self.subsampling = subsampling
        self.bit_depth = fmt.MODE_INFO[mode][2]
        self.bits = self.bit_depth if bits is None else bits  # the scale of quality and PSNR
        self.ycbcr = colour == "ycbcr"
        self._plans: dict[int, list[PlanePlan]] = {}

    def plans(self, quality: float, progress: Progress | None = None) -> list[PlanePlan]:
        """The planes to code at ``quality`` (analysed once per chroma subsampling)."""
        sub = self.subsampling or (2 if quality < FULL_CHROMA_QUALITY else 1)
        sub = sub if self.ycbcr else 1
        if sub not in self._plans:
            plans = []
            count = self.image.shape[2]
            for index in range(count):
                chroma = self.ycbcr and index in (1, 2)
                s = sub if chroma else 1
                source = transform.ImageSource(self.image, index, self.ycbcr, s, self.bit_depth)
                part = None if progress is None else progress.part(index / count,
                                                                   (index + 1) / count)
                plans.append(PlanePlan(PlaneAnalysis(source, self.patch_size, self.bit_depth,
                                                     progress=part), s,
                                       CHROMA_STEP if chroma else 1.0))
            self._plans[sub] = plans
        return self._plans[sub]

    def header(self, entropy: str) -> fmt.Header:
        h, w = self.image.shape[:2]
        transform = fmt.ColourTransform.YCBCR if self.ycbcr else fmt.ColourTransform.NONE
        return fmt.Header(w, h, self.mode, fmt.Layout.PATCH, fmt.FactorType.COEFFICIENTS,
                          fmt.COMPRESSION_BY_NAME[entropy], transform)

    def planes(self, quality: float, progress: Progress | None = None
               ) -> tuple[fmt.Header, list[fmt.Plane]]:
        """The HEAD and PTCH chunks of the image at ``quality``; ``progress`` hears of each step
        (the analysis, a third of the work where it is not cached yet, then each plane)."""
        progress = progress or Progress()
        step = quality_to_step(quality, self.bits)
        plans = self.plans(quality, progress.part(0.0, ANALYSIS_SHARE))
        sizes = np.cumsum([0] + [plan.analysis.size for plan in plans]) / \
            sum(plan.analysis.size for plan in plans)
        coded: dict[str, list[fmt.Plane]] = {"arith": [], "zstd": []}
        auto = AutoEntropy() if self.entropy == AUTO else None
        ways = [self.entropy] if auto is None else ["arith", "zstd"]
        for index, plan in enumerate(plans):
            part = progress.part(ANALYSIS_SHARE + (1 - ANALYSIS_SHARE) * float(sizes[index]),
                                 ANALYSIS_SHARE + (1 - ANALYSIS_SHARE) * float(sizes[index + 1]))
            arith_rates = "arith" in ways
            qp = quantize_plane(plan.analysis, step * plan.step_factor,
                                multiplier_bits=ARITH_MULTIPLIER_BITS if arith_rates else None,
                                arith_rates=arith_rates and ARITH_RDO,
                                progress=part.part(0.0, 0.9))
            if "arith" in ways:
                payload, ac_symbols = arith_encode_strips(qp)
                if auto is not None:
                    auto.arith_bytes += len(payload)
                coded["arith"].append(self._plane(index, plan, qp, payload, ac_symbols, 0))
            if "zstd" in ways:
                zstd = self._zstd_plane(index, plan, qp, auto)
                if zstd is None:  # auto: zstd is out of the running
                    ways = ["arith"]
                else:
                    coded["zstd"].append(zstd)
            part(1.0)
        entropy = min(ways, key=lambda way: sum(len(pl.payload) for pl in coded[way]))
        return self.header(entropy), coded[entropy]

    def _plane(self, index: int, plan: PlanePlan, qp: QuantizedPlane, payload: bytes,
               ac_symbols: int, escapes: int) -> fmt.Plane:
        return fmt.Plane(index, plan.analysis.p, plan.subsample, plan.subsample, qp.components,
                         qp.shift, qp.deblock, qp.dc_multiplier, ac_symbols, escapes, payload)

    def _zstd_plane(self, index: int, plan: PlanePlan, qp: QuantizedPlane,
                    auto: AutoEntropy | None) -> fmt.Plane | None:
        """The plane with a section 12.3 payload. Under "auto" (``auto``: the planes so far,
        this plane's arith payload included), None once zstd is out of the running: a plane
        too large for the probe, a file the default limits refuse, or probes that say that
        zstd will not be smaller."""
        if auto is not None and plan.analysis.size > AUTO_MAX_SAMPLES:
            return None
        raw, ac_symbols, escapes = pack_payload_strips(
            *qp.header(), qp.dc, (qp.q_rows(a, b) for a, b in plan.analysis.strips))
        if auto is not None:
            fields = self._plane(index, plan, qp, b"", ac_symbols, escapes)
            if auto.zstd_refused(self.header("zstd"), fields):
                return None
            auto.zstd_probe_bytes += len(_zstd.compress(raw, PROBE_LEVEL))
            if auto.zstd_losing():
                return None
        payload = _zstd.compress(raw, self.level)
        del raw
        return self._plane(index, plan, qp, payload, ac_symbols, escapes)

    def encode(self, quality: float, metadata: dict[str, bytes],
               progress: Progress | None = None) -> bytes:
        header, planes = self.planes(quality, progress)
        return fmt.pack(header, [], metadata, planes)

    def search(self, metadata: dict[str, bytes], *, target_size: int | None = None,
               target_psnr: float | None = None, progress: Progress | None = None) -> bytes:
        """Rate control by a search over quality (sizes and PSNR grow with it).

        ``target_size``: the highest quality whose file has at most that many bytes (found to
        within 1.5 % of the target; ValueError if even quality 0 is larger). ``target_psnr``:
        the lowest quality whose decoded image reaches that PSNR (within 0.03 dB; quality 100
        if none does). h(q) = log(size / target) or PSNR - target grows with q; the root is
        bracketed from quality 50 in steps of 25 and refined by regula falsi.
        """
        progress = progress or Progress()
        count = [0]  # encodes so far, of at most MAX_MEASURES

        def measure(quality: float) -> tuple[float, Coded]:
            header, planes = self.planes(quality, progress.part(count[0] / MAX_MEASURES,
                                                                (count[0] + 1) / MAX_MEASURES))
            count[0] += 1
            if target_size is not None:
                size = len(fmt.pack(header, [], metadata, planes))
                return math.log(size / target_size), (header, planes)
            container = fmt.Container(header, (), {}, (), tuple(planes))
            decoded = decode.decode_planes(container).reshape(self.image.shape)
            assert target_psnr is not None  # the caller gives one of the two targets
            return psnr(self.image, decoded, 2.0**self.bits - 1) - target_psnr, (header, planes)

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


# What one quality gives: the HEAD (its compression field) and the PTCH chunks.
Coded = tuple[fmt.Header, list[fmt.Plane]]
# A trial of the quality search: (quality, h(quality), what that quality gives).
Trial = tuple[float, float, Coded]
Measure = Callable[[float], tuple[float, Coded]]


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


def arith_encode_strips(qp: QuantizedPlane) -> tuple[bytes, int]:
    """:func:`arith_encode` of a plane quantized in strips, coded strip by strip in C."""
    if not decode.ARITH_ACCELERATED:
        return arith.encode_payload(qp.coefficients())
    multipliers, parities, basis = qp.header()
    k = qp.components
    half = basis.shape[1] if k else 0
    an = qp.analysis
    encoder = decode._arithc.encoder_start(np.ascontiguousarray(multipliers, dtype=np.int64),
                                           np.ascontiguousarray(parities, dtype=np.int64),
                                           np.ascontiguousarray(basis, dtype=np.int8),
                                           k, half, an.gh, an.gw)
    for a, b in an.strips:
        decode._arithc.encoder_rows(encoder, np.ascontiguousarray(qp.dc[a:b]), qp.q_rows(a, b),
                                    b - a)
    payload: tuple[bytes, int] = decode._arithc.encoder_finish(encoder)
    return payload


def arith_encode(pc: PlaneCoefficients) -> tuple[bytes, int]:
    """A plane's section 13 payload and its ac_symbols, in C when the extension is built
    (``decode.ARITH_ACCELERATED`` says whether it is used, for both directions)."""
    if decode.ARITH_ACCELERATED:
        k = pc.q.shape[1]
        return decode._arithc.encode(np.ascontiguousarray(pc.multipliers, dtype=np.int64),
                              np.ascontiguousarray(pc.parities, dtype=np.int64),
                              np.ascontiguousarray(pc.basis, dtype=np.int8),
                              np.ascontiguousarray(pc.dc, dtype=np.int64),
                              np.ascontiguousarray(pc.q, dtype=np.int64), k,
                              pc.basis.shape[1] if k else 0, *pc.dc.shape)
    return arith.encode_payload(pc)
