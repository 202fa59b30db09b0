"""The patch layout end to end (spec section 12): image <-> PTCH chunks, and rate control.

:mod:`.patch` holds the normative arithmetic, :mod:`.patch_encode` the encoder's choices,
:mod:`.entropy` the byte streams; this module joins them with :mod:`._zstd` and :mod:`.format`.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass

import numpy as np

from .. import _zstd
from .. import format as fmt
from ..errors import CorruptError, LimitError
from ..limits import Limits
from ..metrics import psnr
from ..progress import Progress
from . import arith, transform
from . import reconstruct as patch
from .encode import ARITH_MULTIPLIER_BITS, PlaneAnalysis, encode_plane
from .symbols import PlaneCoefficients, pack_payload, unpack_payload

PATCH_SIZE = 8
# zstd level: level 9 costs 0.26 dB BD-PSNR (every third Kodak image), levels 20-22 gain nothing
LEVEL = 19
CHROMA_STEP = 0.75  # chroma steps relative to luma; 0.6: +0.00 dB, 1.0: -0.06
COLOURS = ("ycbcr", "none")
# entropy coding of the planes: "arith" (spec section 13, HEAD compression 2) or "zstd"
# (section 12.3, compression 1)
ENTROPIES = ("arith", "zstd")
DEFAULT_ENTROPY = "arith"
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
    patch_size : 4, 8 or 16.
    entropy : "arith" (spec section 13) or "zstd" (section 12.3); None for DEFAULT_ENTROPY.
    """

    def __init__(self, image: np.ndarray, mode: fmt.Mode, *, colour: str | None = None,
                 subsampling: int | None = None, patch_size: int = PATCH_SIZE,
                 level: int = LEVEL, entropy: str | None = None) -> None:
        entropy = DEFAULT_ENTROPY if entropy is None else entropy
        if entropy not in ENTROPIES:
            raise ValueError(f"entropy must be one of {ENTROPIES}, got {entropy!r}")
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
        self.ycbcr = colour == "ycbcr"
        half = 2.0 ** (self.bit_depth - 1)
        first = 3 if self.ycbcr else 0
        self.sources = transform.rgb_to_ycbcr(image[:, :, :3]) if self.ycbcr else []
        self.sources += [image[:, :, c].astype(np.float64) - half
                         for c in range(first, image.shape[2])]
        self._plans: dict[int, list[PlanePlan]] = {}

    def plans(self, quality: float, progress: Progress | None = None) -> list[PlanePlan]:
        """The planes to code at ``quality`` (analysed once per chroma subsampling)."""
        sub = self.subsampling or (2 if quality < FULL_CHROMA_QUALITY else 1)
        sub = sub if self.ycbcr else 1
        if sub not in self._plans:
            plans = []
            for index, plane in enumerate(self.sources):
                chroma = self.ycbcr and index in (1, 2)
                s = sub if chroma else 1
                if s > 1:
                    plane = transform.downsample(plane, s, s)
                plans.append(PlanePlan(PlaneAnalysis(plane, self.patch_size, self.bit_depth), s,
                                       CHROMA_STEP if chroma else 1.0))
                if progress is not None:
                    progress((index + 1) / len(self.sources))
            self._plans[sub] = plans
        return self._plans[sub]

    def header(self) -> fmt.Header:
        h, w = self.image.shape[:2]
        transform = fmt.ColourTransform.YCBCR if self.ycbcr else fmt.ColourTransform.NONE
        return fmt.Header(w, h, self.mode, fmt.Layout.PATCH, fmt.FactorType.COEFFICIENTS,
                          fmt.COMPRESSION_BY_NAME[self.entropy], transform)

    def planes(self, quality: float, progress: Progress | None = None) -> list[fmt.Plane]:
        """The PTCH chunks of the image at ``quality``; ``progress`` hears of each step (the
        analysis, a third of the work where it is not cached yet, then each plane)."""
        progress = progress or Progress()
        step = quality_to_step(quality, self.bit_depth)
        plans = self.plans(quality, progress.part(0.0, ANALYSIS_SHARE))
        sizes = np.cumsum([plan.analysis.plane.size for plan in plans]) / \
            sum(plan.analysis.plane.size for plan in plans)
        out = []
        coded = self.entropy == "arith"
        for index, plan in enumerate(plans):
            enc = encode_plane(plan.analysis, step * plan.step_factor,
                               multiplier_bits=ARITH_MULTIPLIER_BITS if coded else None,
                               arith_rates=coded and ARITH_RDO)
            if coded:
                payload, ac_symbols = arith_encode(enc.coefficients)
                escapes = 0
            else:
                raw, ac_symbols, escapes = pack_payload(enc.coefficients)
                payload = _zstd.compress(raw, self.level)
            out.append(fmt.Plane(index, plan.analysis.p, plan.subsample, plan.subsample,
                                 enc.coefficients.q.shape[1], enc.shift, enc.deblock,
                                 enc.dc_multiplier, ac_symbols, escapes, payload))
            progress(ANALYSIS_SHARE + (1 - ANALYSIS_SHARE) * float(sizes[index]))
        return out

    def encode(self, quality: float, metadata: dict[str, bytes],
               progress: Progress | None = None) -> bytes:
        return fmt.pack(self.header(), [], metadata, self.planes(quality, progress))

    def search(self, metadata: dict[str, bytes], *, target_size: int | None = None,  # noqa: C901 - split after the arith merge
               target_psnr: float | None = None, progress: Progress | None = None) -> bytes:
        """Rate control by a search over quality (sizes and PSNR grow with it).

        ``target_size``: the highest quality whose file has at most that many bytes (found to
        within 1.5 % of the target; ValueError if even quality 0 is larger). ``target_psnr``:
        the lowest quality whose decoded image reaches that PSNR (within 0.03 dB; quality 100
        if none does). h(q) = log(size / target) or PSNR - target grows with q; the root is
        bracketed from quality 50 in steps of 25 and refined by regula falsi.
        """
        header = self.header()
        progress = progress or Progress()
        count = [0]  # encodes so far, of at most MAX_MEASURES

        def measure(quality: float) -> tuple[float, list[fmt.Plane]]:
            planes = self.planes(quality, progress.part(count[0] / MAX_MEASURES,
                                                        (count[0] + 1) / MAX_MEASURES))
            count[0] += 1
            if target_size is not None:
                return math.log(len(fmt.pack(header, [], metadata, planes)) / target_size), planes
            container = fmt.Container(header, (), {}, (), tuple(planes))
            decoded = decode_planes(container).reshape(self.image.shape)
            assert target_psnr is not None  # the caller gives one of the two targets
            return psnr(self.image, decoded) - target_psnr, planes

        q = 50.0
        h, planes = measure(q)
        lo = hi = None  # (quality, h, planes) with h <= 0 and h > 0
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
        if hi is None:  # even quality 100 is small enough, or not good enough
            assert lo is not None  # the loop ends with a bracket or at a bound
            return fmt.pack(header, [], metadata, lo[2])
        if lo is None:
            if target_size is not None:
                size = len(fmt.pack(header, [], metadata, hi[2]))
                raise ValueError(f"target_size {target_size} is below the smallest file the "
                                 f"patch layout makes of this image ({size} bytes at quality 0)")
            return fmt.pack(header, [], metadata, hi[2])
        for _ in range(SEARCH_STEPS):
            done = lo[1] >= SIZE_TOLERANCE if target_size is not None else \
                hi[1] <= PSNR_TOLERANCE
            width = hi[0] - lo[0]
            if done or width < 0.02:
                break
            q = lo[0] + width * (-lo[1]) / (hi[1] - lo[1])
            q = min(max(q, lo[0] + 0.1 * width), hi[0] - 0.1 * width)
            h, planes = measure(q)
            if h <= 0:
                lo = (q, h, planes)
            else:
                hi = (q, h, planes)
        return fmt.pack(header, [], metadata, lo[2] if target_size is not None else hi[2])


# --- decoding ----------------------------------------------------------------------------------
try:  # the optional C decoder (svdcodec/_patchc.c), bit-exact with the numpy code below
    from . import _patchc
except ImportError:  # pragma: no cover - built by setup.py wherever a C compiler is present
    _patchc = None
try:  # the optional C range coder (svdcodec/patch/_arithc.c), bit-exact with svdcodec.patch.arith
    from . import _arithc  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - built by setup.py wherever a C compiler is present
    _arithc = None
# Which decoder decode_planes uses; SVDCODEC_PURE_PYTHON=1 selects the reference for comparisons.
ACCELERATED = _patchc is not None and os.environ.get("SVDCODEC_PURE_PYTHON", "") != "1"
# Whether arith payloads are coded in C (encoder and decoder); the same variable turns it off.
ARITH_ACCELERATED = _arithc is not None and os.environ.get("SVDCODEC_PURE_PYTHON", "") != "1"


def arith_encode(pc: PlaneCoefficients) -> tuple[bytes, int]:
    """A plane's section 13 payload and its ac_symbols, in C when the extension is built."""
    if ARITH_ACCELERATED:
        k = pc.q.shape[1]
        return _arithc.encode(np.ascontiguousarray(pc.multipliers, dtype=np.int64),
                              np.ascontiguousarray(pc.parities, dtype=np.int64),
                              np.ascontiguousarray(pc.basis, dtype=np.int8),
                              np.ascontiguousarray(pc.dc, dtype=np.int64),
                              np.ascontiguousarray(pc.q, dtype=np.int64), k,
                              pc.basis.shape[1] if k else 0, *pc.dc.shape)
    return arith.encode_payload(pc)


def decode_planes(container: fmt.Container, rank: int | None = None) -> np.ndarray:
    """Decode a parsed patch-layout container whose limits were checked: (H, W, C) array."""
    if ACCELERATED:
        return _decode_planes_c(container, rank)
    return decode_planes_reference(container, rank)


def _payload(pl: fmt.Plane, h: fmt.Header, rank: int | None
             ) -> tuple[bytes, tuple[int, int], int, int, int]:
    """A plane's payload in the byte layout of section 12.3, its patch grid (gh, gw), the
    components used, its ac_symbols and escapes (an arith payload is transcoded)."""
    grid = pl.grid(h)
    r = pl.components if rank is None else min(rank, pl.components)
    if h.compression != fmt.Compression.ARITH:
        raw = _zstd.decompress(pl.payload, pl.raw_size(h), what=f"PTCH {pl.index}")
        return raw, grid, r, pl.ac_symbols, pl.escapes
    if ARITH_ACCELERATED:
        result = _arithc.decode(pl.payload, pl.components, pl.patch_size // 2, *grid,
                                pl.ac_symbols)
        if isinstance(result, str):
            raise CorruptError(f"PTCH {pl.index}: {result}")
        raw, escapes = result
        return raw, grid, r, pl.ac_symbols, escapes
    raw, ac_symbols, escapes = pack_payload(_arith_coefficients(pl, h))
    return raw, grid, r, ac_symbols, escapes


def plane_coefficients(pl: fmt.Plane, h: fmt.Header) -> PlaneCoefficients:
    """The decoded values of a plane (section 12.3 or 13) through the reference decoders."""
    if h.compression == fmt.Compression.ARITH:
        return _arith_coefficients(pl, h)
    gh, gw = pl.grid(h)
    raw = _zstd.decompress(pl.payload, pl.raw_size(h), what=f"PTCH {pl.index}")
    return unpack_payload(raw, k=pl.components, half=pl.patch_size // 2, gh=gh, gw=gw,
                          ac_symbols=pl.ac_symbols, escapes=pl.escapes)


def _arith_coefficients(pl: fmt.Plane, h: fmt.Header) -> PlaneCoefficients:
    gh, gw = pl.grid(h)
    return arith.decode_payload(pl.payload, k=pl.components, half=pl.patch_size // 2, gh=gh,
                                gw=gw, ac_symbols=pl.ac_symbols)


def _decode_planes_c(container: fmt.Container, rank: int | None) -> np.ndarray:
    """decode_planes through _patchc: the same samples, in about a fifth of the time."""
    h = container.header
    bd = h.bit_depth
    sources = []
    for pl in container.planes:
        raw, (gh, gw), r, ac_symbols, escapes = _payload(pl, h, rank)
        p = pl.patch_size
        plane = np.empty((gh * p, gw * p), dtype=np.int32)
        error = _patchc.decode_plane(raw, plane, pl.components, r, p, gh, gw, ac_symbols,
                                     escapes, pl.dc_multiplier, pl.shift, bd, *pl.deblock)
        if error is not None:
            raise CorruptError(error)
        sources.append((plane, gw * p, *pl.shape(h), pl.subsample_x, pl.subsample_y))
    out = np.empty((h.height, h.width, h.channels), dtype=np.uint8 if bd == 8 else np.uint16)
    _patchc.compose(out, h.height, h.width, bd,
                    int(h.colour_transform == fmt.ColourTransform.YCBCR), tuple(sources))
    return out if bd == 8 or sys.byteorder == "little" else out.astype("<u2")


def decode_planes_reference(container: fmt.Container, rank: int | None = None) -> np.ndarray:
    """The reference decoder of spec section 12 in numpy: (H, W, C) array."""
    h = container.header
    bd = h.bit_depth
    planes = []
    for pl in container.planes:
        r = pl.components if rank is None else min(rank, pl.components)
        pc = plane_coefficients(pl, h)
        q, mult, basis = pc.q[:, :r], pc.multipliers[:r], pc.basis[:r]
        patch.check_exact(patch.exactness_bound(pc.dc, q, mult, basis, pl.dc_multiplier,
                                                pl.shift, bd))
        plane = patch.reconstruct(pc.dc, q, mult, patch.mirror(basis, pc.parities[:r]),
                                  pl.dc_multiplier, pl.shift, pl.patch_size, bd, PATCH_STRIP)
        del pc, q
        patch.deblock(plane, pl.patch_size, *pl.deblock, bd)
        planes.append((plane, pl))
    dtype = np.uint8 if bd == 8 else np.dtype("<u2")
    out = np.empty((h.height, h.width, h.channels), dtype=dtype)
    rows = colour_rows(h.width)
    for y0 in range(0, h.height, rows):
        y1 = min(y0 + rows, h.height)
        full = [patch.upsample_rows(plane, pl.subsample_x, pl.subsample_y, *pl.shape(h),
                                    y0, y1, h.width) for plane, pl in planes]
        first = 0
        if h.colour_transform == fmt.ColourTransform.YCBCR:
            patch.ycbcr_to_rgb(full[0], full[1], full[2], out[y0:y1])
            first = 3
        for c in range(first, h.channels):
            out[y0:y1, :, c] = full[c]
    return out


# --- limits (spec section 12.8) and verification ---------------------------------------------
# Section 12.8: the reference decoder reconstructs about PATCH_STRIP patches (at least one
# patch row) at a time and converts colours in strips of about COLOUR_PIXELS pixels (at least
# two rows); the allocation limit counts those temporaries.
PATCH_STRIP = 1024
COLOUR_PIXELS = 1 << 16


def colour_rows(width: int) -> int:
    """Image rows per colour-conversion strip: even, >= 2."""
    return max(2, COLOUR_PIXELS // width // 2 * 2)


def check_limits(container: fmt.Container, limits: Limits, rank: int | None = None) -> None:
    """Section 12.8: allocation and work of decoding a patch-layout file at ``rank``;
    LimitError before anything is decompressed."""
    h = container.header
    total = h.width * h.height * h.channels * (h.bit_depth // 8)
    work = 0
    strip = 0
    for pl in container.planes:
        n, p, k = pl.patches(h), pl.patch_size, pl.components
        r = k if rank is None else min(rank, k)
        work += n * p * p * (r + 1)
        # payload; int32 plane; int32 coefficients and their mask; AC values; DC and counts;
        # deblocking temporaries
        total += (pl.raw_size(h) + 4 * n * p * p + 5 * n * k + 8 * pl.ac_symbols + 32 * n
                  + 40 * n * p)
        strip = max(strip, 8 * max(PATCH_STRIP, pl.grid(h)[1]) * (k + 1 + p * p))
    total += strip + 64 * colour_rows(h.width) * h.width * h.channels
    if work > limits.max_work:
        raise LimitError(f"reconstruction work {work} multiply-adds exceeds {limits.max_work}")
    if total > limits.max_alloc_bytes:
        raise LimitError(f"decoding needs {total} bytes, limit {limits.max_alloc_bytes}")


def verify_planes(container: fmt.Container) -> None:
    """Decompress every plane's payload and check its symbol streams, without reconstructing
    (SvdiError)."""
    h = container.header
    for pl in container.planes:
        raw, (gh, gw), _, ac_symbols, escapes = _payload(pl, h, None)
        unpack_payload(raw, k=pl.components, half=pl.patch_size // 2, gh=gh, gw=gw,
                       ac_symbols=ac_symbols, escapes=escapes)
