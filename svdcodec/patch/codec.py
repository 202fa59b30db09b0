"""The patch layout's file encoder (spec section 12): image -> HEAD and PTCH chunks at a quality.

:mod:`.transform` makes the planes, :mod:`.encode` quantizes each one, :mod:`.entropy` codes
its values (arith, zstd, or auto's choice); this module joins them with :mod:`.format`.
Rate control (a target size or PSNR) is :mod:`.ratecontrol`; the decoder (PTCH chunks ->
samples, verification) is :mod:`.decode`, its limits :mod:`.limits`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _zstd
from .. import format as fmt
from ..progress import Progress
from . import entropy as entropy_coding
from . import transform
from .analysis import PlaneAnalysis
from .encode import ARITH_MULTIPLIER_BITS, QuantizedPlane, quantize_plane
from .entropy import AUTO, DEFAULT_ENTROPY, ENTROPY_CHOICES, AutoEntropy
from .symbols import pack_payload_strips

PATCH_SIZE = 8
# zstd level: level 9 costs 0.26 dB BD-PSNR (every third Kodak image), levels 20-22 gain nothing
LEVEL = 19
CHROMA_STEP = 0.75  # chroma steps relative to luma; 0.6: +0.00 dB, 1.0: -0.06
COLOURS = ("ycbcr", "none")
ARITH_RDO = True  # price coefficients with the arith contexts (svdcodec/patch/arith_rdo.py)
# quality q -> step = STEP_AT_100 * 2^((100 - q) / QUALITY_OCTAVE) for 8-bit samples
STEP_AT_100 = 0.5
QUALITY_OCTAVE = 11.0
ANALYSIS_SHARE = 0.3  # of an encode's time, where the planes are not analysed yet (progress)
# Automatic chroma subsampling: 4:2:0 below this quality, 4:4:4 from it on. On Kodak the two
# curves cross between 1.5 and 5 bpp (qualities 60..80); 4:2:0 caps PSNR near 45 dB.
FULL_CHROMA_QUALITY = 75


def quality_to_step(quality: float, bit_depth: int) -> float:
    """The coefficient step of a quality 0..100 (smaller step: larger file, higher PSNR)."""
    unit = (2**bit_depth - 1) / 255
    return STEP_AT_100 * 2.0 ** ((100.0 - quality) / QUALITY_OCTAVE) * unit


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
                payload, ac_symbols = entropy_coding.arith_encode_strips(qp)
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
        if auto is not None and auto.too_large(plan.analysis.size):
            return None
        raw, ac_symbols, escapes = pack_payload_strips(
            *qp.header(), qp.dc, (qp.q_rows(a, b) for a, b in plan.analysis.strips))
        if auto is not None:
            fields = self._plane(index, plan, qp, b"", ac_symbols, escapes)
            if not auto.keeps_zstd(self.header("zstd"), fields, raw):
                return None
        payload = _zstd.compress(raw, self.level)
        del raw
        return self._plane(index, plan, qp, payload, ac_symbols, escapes)

    def encode(self, quality: float, metadata: dict[str, bytes],
               progress: Progress | None = None) -> bytes:
        header, planes = self.planes(quality, progress)
        return fmt.pack(header, [], metadata, planes)
