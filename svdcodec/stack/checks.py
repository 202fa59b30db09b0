"""What a stack encode checks before it writes (spec sections 8, 14.5 and 16): that a decoder
with the default limits (:func:`svdcodec.set_default_limits`) reads the file it makes, frame
by frame, its FRMS and its ``anim`` chunk; the encoder never writes what
:func:`svdcodec.decode` refuses."""

from __future__ import annotations

import numpy as np

from .. import format as fmt
from ..errors import LimitError
from ..limits import Limits, get_default_limits
from ..options import image_mode
from ..whole import snapshot
from . import decode as stackdecode

# the encoder's own files are parsed back without the decoder's limits
NO_LIMITS = Limits(max_width=2**40, max_height=2**40, max_pixels=2**62,
                   max_alloc_bytes=2**62, max_work=2**62, max_chunks=2**40)


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


def check_chunk_count(first: fmt.Container, n: int) -> None:
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
