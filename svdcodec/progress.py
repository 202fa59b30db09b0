"""Progress of a long encode: fractions of the work done, for an optional callable.

``svdcodec.encode(..., progress=f)`` calls ``f(fraction)`` with non-decreasing fractions in
(0, 1] as the work goes on, the last one 1.0. The codecs report their own steps in [0, 1]
through :class:`Progress`; :meth:`Progress.part` maps a sub-task's [0, 1] onto a slice of its
parent's, so that nested steps need not know where they sit.
"""

from __future__ import annotations

from collections.abc import Callable

Callback = Callable[[float], object]  # what it returns is ignored (tqdm.update returns a bool)


class Progress:
    """Reports ``lo + (hi - lo) * fraction`` to ``callback``, never a smaller value than before.

    >>> seen = []
    >>> p = Progress(seen.append)
    >>> half = p.part(0.5, 1.0)
    >>> p(0.25); half(0.5); p(0.4); p.done()
    >>> seen
    [0.25, 0.75, 1.0]
    """

    def __init__(self, callback: Callback | None = None, lo: float = 0.0, hi: float = 1.0,
                 _last: list[float] | None = None) -> None:
        self.callback = callback
        self.lo, self.hi = lo, hi
        self._last = [0.0] if _last is None else _last  # shared by a tree of parts

    def __call__(self, fraction: float) -> None:
        if self.callback is None:
            return
        value = min(1.0, self.lo + (self.hi - self.lo) * min(max(fraction, 0.0), 1.0))
        if value > self._last[0]:
            self._last[0] = value
            self.callback(value)

    def part(self, lo: float, hi: float) -> Progress:
        """The slice [lo, hi] of this task's [0, 1], as a task of its own."""
        span = self.hi - self.lo
        return Progress(self.callback, self.lo + span * lo, self.lo + span * hi, self._last)

    def done(self) -> None:
        self(1.0)
