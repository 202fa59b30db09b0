"""Decoding a stack (spec section 14): one frame, or all of them, from a parsed container.

``frames`` files decode frame k as the image of its k-th run of chunks (14.2); ``tall`` files
decode the coded image of W x N·Hp and crop rows k·Hp ... k·Hp + H − 1 (14.3); ``snapshot``
files (layout 5) compute column k of U·diag(σ)·Vᵀ (14.4, :mod:`svdcodec.whole.snapshot`).
The single-image decoder is the caller's (:func:`svdcodec.decoding.decode_container`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from .. import format as fmt
from ..errors import LimitError, TruncatedError
from ..limits import Limits
from ..patch import decode as patchdecode
from ..patch import limits as patchlimits
from ..whole import codec as wholecodec
from ..whole import snapshot

# decode_image(container, rank, limits) -> (H, W, C): svdcodec.decoding's single-image path
DecodeImage = Callable[[fmt.Container, "int | None", Limits], np.ndarray]


def frame_container(container: fmt.Container, k: int) -> fmt.Container:
    """The single image that frame k's chunks form (section 14.2: its run of group_count)."""
    c = container.header.group_count
    return dataclasses.replace(container, groups=container.groups[k * c:(k + 1) * c],
                               planes=container.planes[k * c:(k + 1) * c], stack=None)


def coded_container(container: fmt.Container) -> fmt.Container:
    """The tall coded image (section 14.3) as a single image of W x N·Hp."""
    return dataclasses.replace(container, header=container.coded_header, stack=None)


def _check(container: fmt.Container, k: int | None) -> fmt.Stack:
    stack = container.stack
    assert stack is not None
    if container.truncated:
        raise TruncatedError(f"{container.truncated} (stacks are not salvaged, section 14.5)")
    if k is not None and (isinstance(k, bool) or not isinstance(k, (int, np.integer))
                          or not 0 <= k < stack.frame_count):
        raise ValueError(f"frame must be an int in 0..{stack.frame_count - 1}, got {k!r}")
    return stack


def check_output(container: fmt.Container, limits: Limits, frames: int) -> None:
    """Section 14.5: the output of ``frames`` frames within the allocation limit."""
    h = container.header
    size = frames * h.width * h.height * h.channels * (h.bit_depth // 8)
    if size > limits.max_alloc_bytes:
        raise LimitError(f"{frames} frames need {size} bytes, limit {limits.max_alloc_bytes}")


def decode_frame(container: fmt.Container, k: int, rank: int | None, limits: Limits,
                 decode_image: DecodeImage) -> np.ndarray:
    """Frame k, (H, W, C), of a stack (section 14)."""
    stack = _check(container, k)
    h = container.header
    if stack.coding == fmt.StackCoding.FRAMES:
        return decode_image(frame_container(container, k), rank, limits)
    if stack.coding == fmt.StackCoding.TALL:
        top = k * stack.frame_pitch
        return decode_image(coded_container(container), rank, limits)[top:top + h.height]
    snapshot.check_limits(container, limits, rank, 1)
    return snapshot.decode_frame(container, k, rank)


def decode_frames(container: fmt.Container, rank: int | None, limits: Limits,
                  decode_image: DecodeImage) -> np.ndarray:
    """Every frame, (N, H, W, C), of a stack (section 14)."""
    stack = _check(container, None)
    h = container.header
    n = stack.frame_count
    check_output(container, limits, n)
    if stack.coding == fmt.StackCoding.SNAPSHOT:
        snapshot.check_limits(container, limits, rank, n)
        return snapshot.decode_frames(container, rank)
    if stack.coding == fmt.StackCoding.TALL:
        coded = decode_image(coded_container(container), rank, limits)
        frames: np.ndarray = coded.reshape(n, stack.frame_pitch, h.width, -1)[:, :h.height]
        return np.ascontiguousarray(frames)
    for k in range(n):  # every run's limits before the first payload (section 14.5)
        check_image_limits(frame_container(container, k), limits, rank)
    out = None
    for k in range(n):
        frame = decode_image(frame_container(container, k), rank, limits)
        if out is None:
            out = np.empty((n, *frame.shape), dtype=frame.dtype)
        out[k] = frame
    assert out is not None
    return out


def check_image_limits(container: fmt.Container, limits: Limits, rank: int | None) -> None:
    """Sections 8 and 12.8 for one image (a frame's run, or the tall coded image)."""
    if container.header.layout == fmt.Layout.PATCH:
        patchlimits.check_limits(container, limits, rank)
    else:
        wholecodec.check_limits(container, limits, rank)


def verify(container: fmt.Container, limits: Limits) -> None:
    """Decompress and validate every payload of a stack without reconstructing (SvdiError)."""
    stack = _check(container, None)
    if stack.coding == fmt.StackCoding.SNAPSHOT:
        wholecodec.verify_groups(container, limits)
        return
    images = [coded_container(container)] if stack.coding == fmt.StackCoding.TALL else \
        [frame_container(container, k) for k in range(stack.frame_count)]
    for image in images:
        if image.header.layout == fmt.Layout.PATCH:
            patchdecode.verify_planes(image)
        else:
            wholecodec.verify_groups(image, limits)
