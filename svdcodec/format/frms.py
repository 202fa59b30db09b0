"""Section 14 of spec/svdi.md: the ``FRMS`` chunk of a multi-frame file (an image stack).

``FRMS`` is critical and follows ``HEAD`` directly, so a decoder that predates stacks refuses
the file (unknown critical chunk, or layout 5, section 10). ``HEAD`` keeps describing one
frame (W × H, mode); ``FRMS`` says how many frames there are and how they are coded:

- ``frames`` (1): frame after frame, each frame's FACT or PTCH chunks as one image;
- ``tall`` (2): one image of W × N·Hp (``frame_pitch`` Hp ≥ H rows per frame);
- ``snapshot`` (3, layout 5): the frames are the columns of one matrix (section 14.4).

The ancillary ``anim`` chunk (section 16) gives a stack's frames their display times and a
loop count (an animation); it is parsed here because its length depends on FRMS.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from enum import IntEnum

from ..errors import CorruptError, LimitError, UnsupportedError
from ..limits import Limits
from .header import LAYOUT_NAMES, Header, Layout

# --- section 14.1: FRMS ---------------------------------------------------------------------
FRMS = struct.Struct(
    "<I"  # frame_count N >= 2
    "I"  # frame_pitch: tall, rows per frame in the coded image (Hp >= H); else 0
    "B"  # stack_coding (StackCoding)
    "B"  # stack_flags: incompatible, no bit defined
    "H"  # reserved: 0
)
MIN_FRAMES = 2  # section 14.1: a single image has no FRMS
KNOWN_STACK_FLAGS = 0  # section 14.1: no bit defined


class StackCoding(IntEnum):
    FRAMES = 1  # section 14.2: frame after frame
    TALL = 2  # section 14.3: one image of W x N*Hp
    SNAPSHOT = 3  # section 14.4: layout 5, frames as matrix columns


STACK_CODING_NAMES = {StackCoding.FRAMES: "frames", StackCoding.TALL: "tall",
                      StackCoding.SNAPSHOT: "snapshot"}
STACK_CODING_BY_NAME = {name: c for c, name in STACK_CODING_NAMES.items()}


@dataclass(frozen=True)
class Stack:
    """The fields of FRMS (section 14.1), validated against HEAD."""

    frame_count: int
    coding: StackCoding
    frame_pitch: int = 0

    @property
    def runs(self) -> int:
        """How many times group_count FACT/PTCH chunks follow (section 14.2): N or 1."""
        return self.frame_count if self.coding == StackCoding.FRAMES else 1

    def coded_header(self, header: Header) -> Header:
        """The header of the image the chunks code: tall, W x N*Hp (14.3); else HEAD's."""
        if self.coding == StackCoding.TALL:
            return replace(header, height=self.frame_count * self.frame_pitch)
        return header

    def group_shape(self, header: Header) -> tuple[int, int]:
        """(rows, cols) of every FACT matrix (sections 6, 14.4)."""
        if self.coding == StackCoding.SNAPSHOT:
            return header.height * header.width * header.channels, self.frame_count
        return self.coded_header(header).group_shape()


# --- section 16: anim (ancillary): loop_count, then one duration per frame ------------------
ANIM_LOOP = struct.Struct("<I")  # loop_count: 0 without end, LOOP_UNSET none given
ANIM_DURATION = struct.Struct("<I")  # duration[k]: milliseconds, 0 none given
LOOP_FOREVER = 0
LOOP_UNSET = 2**32 - 1  # the source gave no loop count (a GIF without NETSCAPE: plays once)
MAX_LOOP = LOOP_UNSET - 1  # the largest loop count proper
MAX_DURATION = 2**32 - 1


@dataclass(frozen=True)
class Anim:
    """The fields of ``anim`` (section 16): ``loop_count`` as stored, one duration a frame."""

    loop_count: int
    durations: tuple[int, ...]

    @property
    def loop(self) -> int | None:
        """The loop count as Pillow's ``info["loop"]`` gives it: None for LOOP_UNSET."""
        return None if self.loop_count == LOOP_UNSET else self.loop_count


def anim_size(frame_count: int) -> int:
    """Section 16: the length of ``anim`` in a stack of ``frame_count`` frames."""
    return ANIM_LOOP.size + ANIM_DURATION.size * frame_count


def pack_anim(anim: Anim) -> bytes:
    return ANIM_LOOP.pack(anim.loop_count) + b"".join(ANIM_DURATION.pack(d)
                                                      for d in anim.durations)


def unpack_anim(data: bytes | memoryview, stack: Stack | None) -> Anim:
    """Parse ``anim`` (section 16, rules 2 and 3): only in a stack, 4 + 4 N bytes."""
    if stack is None:
        raise CorruptError("anim chunk in a single image: it belongs to a stack (FRMS, "
                           "section 16)")
    expected = anim_size(stack.frame_count)
    if len(data) != expected:
        raise CorruptError(f"anim length: expected {expected} (4 + 4 x {stack.frame_count} "
                           f"frames), got {len(data)}")
    (loop_count,) = ANIM_LOOP.unpack_from(data, 0)
    durations = tuple(d for (d,) in ANIM_DURATION.iter_unpack(data[ANIM_LOOP.size:]))
    return Anim(loop_count, durations)


def pack_stack(stack: Stack) -> bytes:
    return FRMS.pack(stack.frame_count, stack.frame_pitch, stack.coding, 0, 0)


def unpack_stack(data: bytes | memoryview, header: Header, limits: Limits) -> Stack:
    """Parse and validate FRMS (section 14.1), then the stack limits (14.5)."""
    if len(data) != FRMS.size:
        raise CorruptError(f"FRMS length: expected {FRMS.size}, got {len(data)}")
    count, pitch, coding, flags, reserved = FRMS.unpack(data)
    if count < MIN_FRAMES:
        raise CorruptError(f"FRMS frame_count: expected >= {MIN_FRAMES}, got {count}")
    if coding == 0:
        raise CorruptError("FRMS stack_coding: 0 is invalid")
    if coding not in STACK_CODING_NAMES:
        raise UnsupportedError(f"FRMS stack_coding: unknown code {coding}")
    coding = StackCoding(coding)
    if flags & ~KNOWN_STACK_FLAGS:
        raise UnsupportedError(f"FRMS: unknown stack flags 0x{flags:02x}")
    if reserved:
        raise CorruptError(f"FRMS reserved: expected 0, got {reserved}")
    if (coding == StackCoding.SNAPSHOT) != (header.layout == Layout.SNAPSHOT):
        raise CorruptError(f"FRMS stack_coding {STACK_CODING_NAMES[coding]} is invalid with "
                           f"layout {LAYOUT_NAMES[header.layout]}")
    if coding == StackCoding.TALL and pitch < header.height:
        raise CorruptError(f"FRMS frame_pitch: expected >= height {header.height}, got {pitch}")
    if coding != StackCoding.TALL and pitch:
        raise CorruptError(f"FRMS frame_pitch: expected 0 with stack_coding "
                           f"{STACK_CODING_NAMES[coding]}, got {pitch}")
    stack = Stack(count, coding, pitch)
    check_stack_size(header, stack, limits)
    return stack


def check_stack_size(header: Header, stack: Stack, limits: Limits) -> None:
    """Section 14.5: the samples of every frame, and the tall coded image, within the limits
    of section 8 (LimitError), before anything is allocated."""
    pixels = stack.frame_count * header.width * header.height
    if pixels > limits.max_pixels:
        raise LimitError(f"{stack.frame_count} frames of {header.width}x{header.height}: "
                         f"{pixels} pixels exceed the limit of {limits.max_pixels}")
    if stack.coding == StackCoding.TALL:
        height = stack.frame_count * stack.frame_pitch
        if height > limits.max_height or height * header.width > limits.max_pixels:
            raise LimitError(f"tall coded image {header.width}x{height} exceeds the limits")
