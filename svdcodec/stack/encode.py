"""Encoding a stack (spec section 14): N frames of one size and mode -> one .svdi file.

- ``frames`` (14.2): every frame encoded alone (the caller's single-image encoder and its
  options), its FACT or PTCH chunks written after each other;
- ``tall`` (14.3): the frames, each padded to Hp rows, as one W x N·Hp image, so that one
  learned patch basis and one adaptive context state serve every frame;
- ``snapshot`` (14.4, layout 5): the frames as the columns of one matrix, truncated SVD across
  frames, rank by the options of the whole-image layouts;
- ``auto``: the smallest of them at the requested quality (:func:`encode_auto`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import _zstd
from .. import format as fmt
from ..errors import LimitError
from ..limits import Limits, get_default_limits
from ..options import (
    check_bits,
    check_target_size,
    check_timing,
    image_mode,
    metadata_chunks,
    rate_criteria,
    signed_to_offset,
)
from ..progress import Progress
from ..whole import encode as wholeencode
from ..whole import snapshot
from ..whole.quantize import FACTOR_TYPES
from ..whole.snapshot import to_snapshot
from . import decode as stackdecode

EncodeImage = Callable[..., bytes]  # svdcodec.encode(image, **options)
DecodeStack = Callable[..., np.ndarray]  # svdcodec.decode_stack(data, limits=...)
CODINGS = ("auto", *fmt.STACK_CODING_BY_NAME)
# the encoder's own files are parsed back without the decoder's limits
_NO_LIMITS = Limits(max_width=2**40, max_height=2**40, max_pixels=2**62,
                    max_alloc_bytes=2**62, max_work=2**62, max_chunks=2**40)
# auto: a coding whose mean PSNR is this far below the reference still counts as equal
AUTO_PSNR_SLACK = 0.05
AUTO_SMALL_PATCH = 4  # auto also tries tall with this patch size
# auto's candidates in order (frames, tall, tall 4x4, snapshot): their slices of the progress
AUTO_PROGRESS = ((0.0, 0.4), (0.4, 0.6), (0.6, 0.85), (0.85, 1.0))
_WHOLE_OPTIONS = ("rank", "energy", "factors")
_FRMS_BYTES = fmt.CHUNK_OVERHEAD + fmt.FRMS.size  # what a stack adds to one image's framing
_PATCH_OPTIONS = ("colour", "subsampling", "entropy")
_META_OPTIONS = ("icc_profile", "exif", "xmp", "dpi", "dicom")  # metadata_chunks' order


def as_frames(frames: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    """The caller's frames as one (N, H, W, C) array (TypeError/ValueError if they are not
    N >= 1 arrays of one shape and dtype)."""
    if isinstance(frames, np.ndarray):
        if frames.ndim not in (3, 4):
            raise ValueError(f"frames must be (N, H, W) or (N, H, W, C), got shape "
                             f"{frames.shape}")
        arrays = list(frames)
    elif isinstance(frames, (list, tuple)):
        arrays = list(frames)
    else:
        raise TypeError(f"frames must be an array or a sequence of arrays, got "
                        f"{type(frames).__name__}")
    if not arrays:
        raise ValueError("frames: expected at least one frame, got none")
    checked = [image_mode(a) for a in arrays]
    first, mode = checked[0]
    for k, (image, m) in enumerate(checked):
        if image.shape != first.shape or image.dtype != first.dtype or m != mode:
            raise ValueError(f"frame {k}: expected shape {first.shape} and dtype "
                             f"{first.dtype} like frame 0, got {image.shape} {image.dtype}")
    return np.stack([image for image, _ in checked])


def _layout(options: dict[str, Any]) -> str:
    """The single-image layout the options select (as :func:`svdcodec.encode` does)."""
    layout = options.get("layout")
    if layout is None:
        whole = any(options.get(n) is not None for n in _WHOLE_OPTIONS)
        return "per-channel" if whole else "patch"
    return str(layout)


def _parse(data: bytes) -> fmt.Container:
    return fmt.unpack(data, _NO_LIMITS)


def _single(frame: np.ndarray) -> np.ndarray:
    return frame[:, :, 0] if frame.shape[2] == 1 else frame


def encode_frames(frames: np.ndarray, encode_image: EncodeImage,
                  options: dict[str, Any]) -> bytes:
    """Section 14.2: frame after frame. A ``target_size`` gives every frame an equal share."""
    n = frames.shape[0]
    options = dict(options)
    progress = options.pop("progress", None)
    target = options.pop("target_size", None)
    if target is not None:
        target = check_target_size(target)
        single = _framing(frames, options)
        options["target_size"] = max(1, (target - single - _FRMS_BYTES) // n + single)
    reporter = Progress(progress)
    containers = []
    for k in range(n):
        containers.append(_parse(encode_image(_single(frames[k]), **options)))
        if k == 0:
            _check_chunk_count(containers[0], n)
        reporter((k + 1) / n)
    containers = _one_compression(frames, containers, encode_image, options)
    header = containers[0].header
    if any(c.header != header for c in containers):
        raise ValueError("frames: the frames' encodings disagree on HEAD; give the options "
                         "explicitly (layout, colour, entropy)")
    groups = [g for c in containers for g in c.groups]
    planes = [p for c in containers for p in c.planes]
    return fmt.pack(header, groups, containers[0].metadata, planes,
                    stack=fmt.Stack(n, fmt.StackCoding.FRAMES))


def _framing(frames: np.ndarray, options: dict[str, Any]) -> int:
    """The bytes of one image's prefix, HEAD, metadata and IEND: what each frame's file of
    the ``frames`` coding holds besides its data."""
    meta = metadata_chunks(*(options.get(k) for k in _META_OPTIONS))
    return len(fmt.pack(_probe_header(frames), [], meta))


def _least_target(coding: str, frames: np.ndarray, encode_image: EncodeImage,
                  options: dict[str, Any]) -> tuple[int, str] | None:
    """The smallest target_size that ``coding`` meets with ``options`` (their target_size
    aside), and the setting that gives it: its file at its least (quality 0 for the patch
    layout, rank 1 else, as the single-image encoders define their smallest file); for
    ``frames``, whose frames get equal shares, the share the largest frame needs. None if the
    coding refuses even that."""
    least: dict[str, Any] = {"rank": 1} if coding == "snapshot" or \
        _layout(options) != "patch" else {"quality": 0}
    opts = {k: v for k, v in options.items() if k not in ("target_size", "progress")} | least
    setting = ", ".join(f"{k} {v}" for k, v in least.items())
    try:
        if coding != "frames":
            return len(_ENCODERS[coding](frames, encode_image, opts)), setting
        largest = max(len(encode_image(_single(frame), **opts)) for frame in frames)
    except ValueError:
        return None
    single = _framing(frames, options)
    return frames.shape[0] * (largest - single) + single + _FRMS_BYTES, setting


def _size_refusal(frames: np.ndarray, encode_image: EncodeImage,
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


def check_frame_limits(data: bytes, coding: str) -> None:
    """ValueError unless a decoder with the default limits decodes a frame of ``data``, the
    stack ``coding`` wrote (sections 8, 12.8 and 14.5; one frame of a tall stack counts as
    its whole coded image): every coding, auto's candidates and the explicit ones, writes
    only what :func:`svdcodec.decode` reads frame by frame."""
    limits = get_default_limits()
    try:
        container = fmt.unpack(data, limits)
        stack = container.stack
        assert stack is not None
        if stack.coding == fmt.StackCoding.SNAPSHOT:
            snapshot.check_limits(container, limits, None, 1)
        else:
            image = stackdecode.coded_container(container) \
                if stack.coding == fmt.StackCoding.TALL \
                else stackdecode.frame_container(container, 0)
            stackdecode.check_image_limits(image, limits, None)
    except LimitError as exc:
        others = " or ".join(repr(c) for c in ("frames", "tall", "snapshot") if c != coding)
        raise ValueError(f"coding={coding!r}: one frame of this stack is above the limits "
                         f"that decoders apply ({exc}; spec sections 8 and 14.5, "
                         f"svdcodec.set_default_limits): use coding={others}") from None


def _check_chunk_count(first: fmt.Container, n: int) -> None:
    """ValueError unless the frames file of ``n`` frames like ``first`` has at most the
    chunks a decoder reads by default (section 8): it would write a file that
    :func:`svdcodec.decode` refuses (LimitError)."""
    runs = max(len(first.groups), len(first.planes))
    chunks = len(first.chunks) + 1 + (n - 1) * runs  # and FRMS
    limit = get_default_limits().max_chunks
    if chunks > limit:
        raise ValueError(f"coding='frames' of {n} frames needs {chunks} chunks, above the "
                         f"chunk limit of {limit} that decoders apply (spec section 8): use "
                         f"coding='tall' or 'snapshot'")


def check_stack_limits(frames: np.ndarray, coding: fmt.StackCoding, pitch: int = 0) -> None:
    """ValueError unless a decoder with the default limits reads the stack's FRMS (section
    14.5: N·W·H, and the tall coded image of N·Hp rows); :func:`svdcodec.set_default_limits`
    moves them. Without it the encoder writes what :func:`svdcodec.decode` refuses."""
    n, height, width = (int(x) for x in frames.shape[:3])
    header = fmt.Header(width, height, image_mode(frames[0])[1], fmt.Layout.PER_CHANNEL,
                        fmt.FactorType.INT8)
    try:
        fmt.check_stack_size(header, fmt.Stack(n, coding, pitch), get_default_limits())
    except LimitError as exc:
        raise ValueError(f"{exc}: decoders refuse such a stack (the pixel limit of spec "
                         f"section 14.5; svdcodec.set_default_limits)") from None


def _probe_header(frames: np.ndarray) -> fmt.Header:
    _, mode = image_mode(frames[0])
    return fmt.Header(frames.shape[2], frames.shape[1], mode, fmt.Layout.PER_CHANNEL,
                      fmt.FactorType.INT8)


def frame_pitch(frames: np.ndarray, options: dict[str, Any]) -> int:
    """Section 14.3: Hp, H rounded up so that no patch or subsampled chroma sample straddles
    two frames: a multiple of P (patch_size) times 2 where chroma may be subsampled."""
    height = int(frames.shape[1])
    if _layout(options) != "patch":
        return height
    p = int(options.get("patch_size", 8))
    colour = frames.shape[3] >= 3 and options.get("colour") != "none" and \
        options.get("subsampling") != 1
    step = p * (2 if colour else 1)
    pitch: int = -(-height // step) * step
    return pitch


def _one_compression(frames: np.ndarray, containers: list[fmt.Container],
                     encode_image: EncodeImage, options: dict[str, Any]) -> list[fmt.Container]:
    """The patch layout's default entropy coding ("auto") chooses per frame, but a stack has one
    HEAD: where the frames disagree, each compression they chose is tried for every frame (the
    others coded again with it) and the smaller stack kept, arith on a tie. Most frames' choice
    could make the stack larger than entropy="arith" (two frames of bars, 14 % smaller in
    zstd, outvoted a noisy frame 29 % larger in it); either way the frames coded arith are
    those of entropy="arith", so the stack never is. With a ``target_size`` every frame meets
    its share either way and the smaller stack is the coarser one: most frames' choice is
    kept (the others coded again with it)."""
    if options.get("entropy") is not None:
        return containers
    kinds = {c.header.compression for c in containers}
    if len(kinds) == 1:
        return containers
    if options.get("target_size") is not None:
        counts = [c.header.compression for c in containers]
        kinds = {max(sorted(kinds), key=counts.count)}
    best: tuple[int, bool, list[fmt.Container]] | None = None
    for kind in sorted(kinds):
        pinned = dict(options, entropy=fmt.COMPRESSION_NAMES[kind])
        coded = [c if c.header.compression == kind else
                 _parse(encode_image(_single(frames[k]), **pinned))
                 for k, c in enumerate(containers)]
        size = sum(len(pl.payload) for c in coded for pl in c.planes)
        candidate = (size, kind != fmt.Compression.ARITH, coded)
        if best is None or candidate[:2] < best[:2]:
            best = candidate
    assert best is not None  # kinds is not empty
    return best[2]


def encode_tall(frames: np.ndarray, encode_image: EncodeImage,
                options: dict[str, Any]) -> bytes:
    """Section 14.3: one W x N·Hp image, each frame's rows repeated at its bottom to Hp."""
    n, height = frames.shape[:2]
    pitch = frame_pitch(frames, options)
    check_stack_limits(frames, fmt.StackCoding.TALL, pitch)
    padded = np.pad(frames, ((0, 0), (0, pitch - height), (0, 0), (0, 0)), mode="edge")
    tall = padded.reshape(n * pitch, *frames.shape[2:])
    options = dict(options)
    if options.get("target_size") is not None:  # the FRMS chunk counts too
        options["target_size"] = check_target_size(options["target_size"]) - _FRMS_BYTES
    c = _parse(encode_image(_single(tall), **options))
    header = dataclasses.replace(c.header, height=height)
    return fmt.pack(header, list(c.groups), c.metadata, c.planes,
                    stack=fmt.Stack(n, fmt.StackCoding.TALL, pitch))


def encode_snapshot(frames: np.ndarray, options: dict[str, Any]) -> bytes:
    """Section 14.4: layout 5, one FACT group of the (H·W·C, N) snapshot matrix."""
    options = dict(options)
    layout = options.pop("layout", None)
    if layout not in (None, "snapshot"):
        raise ValueError(f"coding='snapshot' has layout 'snapshot', got layout={layout!r}")
    for name in (*_PATCH_OPTIONS, "patch_size"):
        value = options.pop(name, None)
        if value is not None and not (name == "patch_size" and value == 8):
            raise ValueError(f"{name} is an option of the patch layout, not of "
                             f"coding='snapshot'")
    factors = options.pop("factors", None) or "int8"
    if factors not in FACTOR_TYPES:
        raise ValueError(f"factors must be one of {FACTOR_TYPES}, got {factors!r}")
    level = options.pop("level", None)
    level = _zstd.DEFAULT_LEVEL if level is None else level
    if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 19:
        raise ValueError(f"zstd level must be in 1..19, got {level!r}")
    svd = options.pop("svd", "auto")
    progressive = bool(options.pop("progressive", False))
    reporter = Progress(options.pop("progress", None))
    meta = metadata_chunks(*(options.pop(k, None) for k in _META_OPTIONS))
    bits = options.pop("bits", None)
    target_size = options.pop("target_size", None)
    criteria = {k: options.pop(k, None) for k in ("rank", "energy", "quality", "target_psnr")}
    if options:
        raise TypeError(f"unknown options {sorted(options)}")
    _, mode = image_mode(frames[0])
    bits = check_bits(bits, mode)
    if mode == fmt.Mode.I16S:  # section 15.1: the layouts code u = sample + 32768
        frames = signed_to_offset(frames)
    n, height, width = frames.shape[:3]
    header = fmt.Header(width, height, mode, fmt.Layout.SNAPSHOT, fmt.FACTOR_BY_NAME[factors])
    stack = fmt.Stack(n, fmt.StackCoding.SNAPSHOT)
    matrices = [to_snapshot(frames)]
    if target_size is not None:
        given = [k for k, v in criteria.items() if v is not None]
        if given:
            raise ValueError(f"target_size excludes {given}")
        return wholeencode.encode_to_size(frames, header, meta, check_target_size(target_size),
                                          level, svd, progressive, reporter,
                                          matrices=matrices, stack=stack)
    groups = wholeencode.encode_groups(frames, header, rate_criteria(**criteria), level, svd,
                                       progressive, reporter, bits, matrices=matrices)
    return fmt.pack(header, groups, meta, stack=stack)


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
            data = _ENCODERS[coding](frames, encode_image, opts)
            check_frame_limits(data, coding)
        except ValueError as exc:
            refusals.append(exc)
            return None
        # measured whole: above the allocation limit, decode_stack refuses what decode reads
        return data, mean_psnr(frames, decode_stack(data, limits=_NO_LIMITS),
                               options.get("bits"))

    patch_only = any(options.get(n) is not None for n in (*_PATCH_OPTIONS, "patch_size"))
    snapshot_ok = not patch_only and options.get("layout") in (None, "snapshot")
    base = {k: v for k, v in options.items() if k != "layout" or v != "snapshot"}
    if options.get("target_size") is not None or \
            any(options.get(n) is not None for n in _WHOLE_OPTIONS):
        found = [r for c in fmt.STACK_CODING_BY_NAME
                 if c != "snapshot" or snapshot_ok
                 for r in [coded(c, base if c != "snapshot" else options)] if r is not None]
        if not found and options.get("target_size") is not None:
            codings = {"frames": base, "tall": base, **({"snapshot": options} if snapshot_ok
                                                        else {})}
            raise _size_refusal(frames, encode_image, codings, _refused(refusals))
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
    if _layout(options) == "patch" and options.get("patch_size") is None:
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


def _snapshot(frames: np.ndarray, encode_image: EncodeImage, options: dict[str, Any]) -> bytes:
    return encode_snapshot(frames, options)


_ENCODERS: dict[str, Callable[[np.ndarray, EncodeImage, dict[str, Any]], bytes]] = {
    "frames": encode_frames, "tall": encode_tall, "snapshot": _snapshot}


def encode_stack(frames: np.ndarray | Sequence[np.ndarray], coding: str,
                 encode_image: EncodeImage, options: dict[str, Any],
                 decode_stack: DecodeStack, durations: Any = None, loop: Any = None) -> bytes:
    """See :func:`svdcodec.encode_stack`; ``encode_image`` and ``decode_stack`` are the
    single-image encoder and the stack decoder."""
    if not isinstance(coding, str) or coding not in CODINGS:
        raise ValueError(f"coding must be one of {CODINGS}, got {coding!r}")
    array = as_frames(frames)
    anim = check_timing(durations, loop, array.shape[0])
    if array.shape[0] == 1:  # a single image: no FRMS (14.1), no anim (16)
        if coding == "snapshot":
            raise ValueError("coding='snapshot' needs at least 2 frames")
        return encode_image(_single(array[0]), **options)
    check_stack_limits(array, fmt.StackCoding.FRAMES)  # N·W·H, whatever the coding
    callback = options.get("progress")
    if callback is not None and not callable(callback):
        raise TypeError(f"progress must be callable, got {callback!r}")
    reporter = Progress(callback)  # one non-decreasing sequence over every encode below
    options = {**options, "progress": reporter if callback is not None else None}
    if coding == "auto":
        data = encode_auto(array, encode_image, options, decode_stack)
    else:
        try:
            data = _ENCODERS[coding](array, encode_image, options)
        except ValueError as exc:  # its message names the share a frame or image got
            if options.get("target_size") is None:
                raise
            raise _size_refusal(array, encode_image, {coding: options}, exc) from None
        check_frame_limits(data, coding)
    reporter.done()
    return data if anim is None else with_anim(data, anim)


def with_anim(data: bytes, anim: fmt.Anim) -> bytes:
    """The stack ``data`` with its ``anim`` chunk after FRMS (section 16); ValueError if a
    decoder with the default limits would refuse the chunk (section 8: the metadata bytes of
    a stack of very many frames, or a frames stack at the chunk limit)."""
    data = fmt.add_anim(data, anim)
    try:
        fmt.unpack(data, get_default_limits())
    except LimitError as exc:
        raise ValueError(f"durations: decoders refuse the file with its anim chunk ({exc}; "
                         f"spec sections 8 and 16)") from None
    return data
