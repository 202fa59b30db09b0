"""Encoding a stack (spec section 14): N frames of one size and mode -> one .svdi file.

- ``frames`` (14.2): every frame encoded alone (the caller's single-image encoder and its
  options), its FACT or PTCH chunks written after each other;
- ``tall`` (14.3): the frames, each padded to Hp rows, as one W x N·Hp image, so that one
  learned patch basis and one adaptive context state serve every frame;
- ``snapshot`` (14.4, layout 5): the frames as the columns of one matrix, truncated SVD across
  frames, rank by the options of the whole-image layouts;
- ``auto``: the smallest of them at the requested quality (:func:`.auto.encode_auto`).

This module checks the caller's frames and dispatches; the codings are :mod:`.codings`, the
choice among them :mod:`.auto`, the limits checked before writing :mod:`.checks`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import format as fmt
from ..options import check_timing, image_mode
from ..progress import Progress
from .auto import DecodeStack, encode_auto, size_refusal
from .checks import check_frame_limits, check_stack_limits, with_anim
from .codings import ENCODERS, EncodeImage, single

CODINGS = ("auto", *fmt.STACK_CODING_BY_NAME)


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
        return encode_image(single(array[0]), **options)
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
            data = ENCODERS[coding](array, encode_image, options)
        except ValueError as exc:  # its message names the share a frame or image got
            if options.get("target_size") is None:
                raise
            raise size_refusal(array, encode_image, {coding: options}, exc) from None
        check_frame_limits(data, coding)
    reporter.done()
    return data if anim is None else with_anim(data, anim)

