"""A file parsed once (:func:`open_svdi`): what an image viewer reports before decoding, the
damage found after a valid HEAD kept for later, and the decode of any frame on demand.

The Pillow plugin opens files only through this module and decodes them through
:mod:`.decoding`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from . import format as fmt
from .decoding import (
    as_bytes,
    check_size,
    decode_container,
    decode_progress,
    decode_stack_container,
    verify_container,
)
from .errors import LimitError, SvdiError, TruncatedError
from .info import SvdiInfo, container_info
from .limits import Limits, get_default_limits
from .progress import Callback

# open_svdi(check_size=False): the size limits are left to the caller (Pillow's
# MAX_IMAGE_PIXELS judges the size at open) and checked again on decode
_NO_SIZE_LIMITS = {"max_width": 2**32, "max_height": 2**32, "max_pixels": 2**64}


@dataclass(frozen=True)
class SvdiFile:
    """A file parsed once (:func:`open_svdi`): what an image viewer reports before decoding,
    and what :meth:`decode` decodes. Immutable, so threads may share it (but for a cache of
    decoded frames, filled once: a viewer stepping through a tall stack decodes it once)."""

    info: SvdiInfo  # HEAD's facts; groups, planes and metadata only if the body is sound
    error: SvdiError | None  # damage found after a valid HEAD (a cut file: TruncatedError)
    container: fmt.Container
    _frames: dict[tuple[int, Limits], np.ndarray] = dataclasses.field(
        default_factory=dict, compare=False, repr=False)

    def decode(self, *, limits: Limits | None = None, reduce: int = 1,
               allow_truncated: bool = False, frame: int | None = None,
               progress: Callback | None = None) -> np.ndarray:
        """The image; raises :attr:`error` unless it is a TruncatedError and
        ``allow_truncated`` (then what precedes the cut, as :func:`.decoding.decode` gives it)."""
        # salvage only what unpack salvaged (section 7.1): a stack cut inside or after FRMS
        # made unpack raise, and its HEAD-only stand-in is no image (section 14.4)
        salvaged = isinstance(self.error, TruncatedError) and bool(self.container.truncated)
        if self.error is not None and not (salvaged and allow_truncated):
            raise self.error
        limits = limits or get_default_limits()
        check_size(self.container.header, limits)
        stack = self.container.stack
        if stack is not None:  # open_svdi(check_size=False) lifted FRMS's limits (14.5) too
            fmt.check_stack_size(self.container.header, stack, limits)
        if stack is not None and stack.coding == fmt.StackCoding.TALL and frame and reduce == 1:
            reporter = decode_progress(progress, self.container.header)
            out = self._tall_frame(limits, frame)
            reporter.done()
            return out
        return decode_container(self.container, limits=limits, reduce=reduce, frame=frame,
                                progress=progress)

    def _tall_frame(self, limits: Limits, frame: int) -> np.ndarray:
        """Frame k of a tall stack (spec section 14.3) from the whole stack, decoded once:
        each frame alone would decode the whole coded image again."""
        frames = self._frames.get((0, limits))
        if frames is None:
            try:
                frames = decode_stack_container(self.container, None, limits)
            except LimitError:  # the whole stack's output above the limit: frame by frame
                return decode_container(self.container, limits=limits, frame=frame)
            self._frames.clear()
            self._frames[0, limits] = frames
        if isinstance(frame, bool) or not isinstance(frame, (int, np.integer)) or \
                not 0 <= frame < len(frames):
            raise ValueError(f"frame must be an int in 0..{len(frames) - 1}, got {frame!r}")
        one: np.ndarray = frames[frame]
        return one

    def verify(self, *, limits: Limits | None = None) -> None:
        """See :func:`.decoding.verify`; raises :attr:`error` first."""
        if self.error is not None:
            raise self.error
        verify_container(self.container, limits)


def open_svdi(data: bytes, *, limits: Limits | None = None,
              check_size: bool = True) -> SvdiFile:
    """Parse a file once, keeping damage found after a valid HEAD for later.

    Raises :class:`SvdiError` only if HEAD is unreadable (not an .svdi file, or unsupported).
    ``check_size=False`` leaves the size limits to the caller until :meth:`SvdiFile.decode`.
    """
    view = as_bytes(data)
    limits = strict = limits or get_default_limits()
    if not check_size:
        limits = dataclasses.replace(limits, **_NO_SIZE_LIMITS)
    error: SvdiError | None = None
    try:
        container = fmt.unpack(view, limits, allow_truncated=True)
        if container.truncated:
            error = TruncatedError(container.truncated)
    except SvdiError as exc:  # after a valid HEAD (unpack_head raises if HEAD is bad)
        container = fmt.Container(fmt.unpack_head(view, limits), (), {}, ())
        error = exc.with_traceback(None)
        if not check_size:  # the error a decoder with the limits meets first (FRMS's, 14.5)
            error = _limit_error(view, strict) or error
    return SvdiFile(container_info(container, len(view)), error, container)


def _limit_error(view: bytes | bytearray | memoryview, limits: Limits) -> LimitError | None:
    """The LimitError that parsing ``view`` with ``limits`` raises before any other error
    (section 9's order), or None. A file parsed without the size limits can fail later, at
    its chunk walk (a FRMS of 2^32 - 1 frames: "factor groups: expected 4294967295")."""
    try:
        fmt.unpack(view, limits, allow_truncated=True)
    except LimitError as exc:
        return exc.with_traceback(None)
    except SvdiError:
        pass
    return None
