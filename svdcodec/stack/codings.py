"""The stack codings (spec section 14), each N frames of one size and mode -> one .svdi file:

- ``frames`` (14.2): every frame encoded alone (the caller's single-image encoder and its
  options), its FACT or PTCH chunks written after each other;
- ``tall`` (14.3): the frames, each padded to Hp rows, as one W x N·Hp image, so that one
  learned patch basis and one adaptive context state serve every frame;
- ``snapshot`` (14.4, layout 5): the frames as the columns of one matrix, truncated SVD across
  frames, rank by the options of the whole-image layouts.

:mod:`.auto` chooses among them; :mod:`.encode` checks the caller's frames and dispatches.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import _zstd
from .. import format as fmt
from ..options import (
    check_bits,
    check_target_size,
    image_mode,
    metadata_chunks,
    rate_criteria,
    signed_to_offset,
)
from ..progress import Progress
from ..whole import encode as wholeencode
from ..whole.quantize import FACTOR_TYPES
from ..whole.snapshot import to_snapshot
from .checks import NO_LIMITS, check_chunk_count, check_stack_limits

EncodeImage = Callable[..., bytes]  # svdcodec.encode(image, **options)
WHOLE_OPTIONS = ("rank", "energy", "factors")
FRMS_BYTES = fmt.CHUNK_OVERHEAD + fmt.FRMS.size  # what a stack adds to one image's framing
PATCH_OPTIONS = ("colour", "subsampling", "entropy")
_META_OPTIONS = ("icc_profile", "exif", "xmp", "dpi", "dicom")  # metadata_chunks' order


def image_layout(options: dict[str, Any]) -> str:
    """The single-image layout the options select (as :func:`svdcodec.encode` does)."""
    layout = options.get("layout")
    if layout is None:
        whole = any(options.get(n) is not None for n in WHOLE_OPTIONS)
        return "per-channel" if whole else "patch"
    return str(layout)


def parse(data: bytes) -> fmt.Container:
    return fmt.unpack(data, NO_LIMITS)


def single(frame: np.ndarray) -> np.ndarray:
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
        framed = framing(frames, options)
        options["target_size"] = max(1, (target - framed - FRMS_BYTES) // n + framed)
    reporter = Progress(progress)
    containers = []
    for k in range(n):
        containers.append(parse(encode_image(single(frames[k]), **options)))
        if k == 0:
            check_chunk_count(containers[0], n)
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


def framing(frames: np.ndarray, options: dict[str, Any]) -> int:
    """The bytes of one image's prefix, HEAD, metadata and IEND: what each frame's file of
    the ``frames`` coding holds besides its data."""
    meta = metadata_chunks(*(options.get(k) for k in _META_OPTIONS))
    return len(fmt.pack(_probe_header(frames), [], meta))


def _probe_header(frames: np.ndarray) -> fmt.Header:
    _, mode = image_mode(frames[0])
    return fmt.Header(frames.shape[2], frames.shape[1], mode, fmt.Layout.PER_CHANNEL,
                      fmt.FactorType.INT8)


def frame_pitch(frames: np.ndarray, options: dict[str, Any]) -> int:
    """Section 14.3: Hp, H rounded up so that no patch or subsampled chroma sample straddles
    two frames: a multiple of P (patch_size) times 2 where chroma may be subsampled."""
    height = int(frames.shape[1])
    if image_layout(options) != "patch":
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
                 parse(encode_image(single(frames[k]), **pinned))
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
        options["target_size"] = check_target_size(options["target_size"]) - FRMS_BYTES
    c = parse(encode_image(single(tall), **options))
    header = dataclasses.replace(c.header, height=height)
    return fmt.pack(header, list(c.groups), c.metadata, c.planes,
                    stack=fmt.Stack(n, fmt.StackCoding.TALL, pitch))


def encode_snapshot(frames: np.ndarray, options: dict[str, Any]) -> bytes:
    """Section 14.4: layout 5, one FACT group of the (H·W·C, N) snapshot matrix."""
    options = dict(options)
    layout = options.pop("layout", None)
    if layout not in (None, "snapshot"):
        raise ValueError(f"coding='snapshot' has layout 'snapshot', got layout={layout!r}")
    for name in (*PATCH_OPTIONS, "patch_size"):
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


def _snapshot(frames: np.ndarray, encode_image: EncodeImage, options: dict[str, Any]) -> bytes:
    return encode_snapshot(frames, options)


ENCODERS: dict[str, Callable[[np.ndarray, EncodeImage, dict[str, Any]], bytes]] = {
    "frames": encode_frames, "tall": encode_tall, "snapshot": _snapshot}

