"""Progress of a long encode or decode, for an optional ``progress(done, total)`` callable.

``svdcodec.encode(..., progress=f)`` calls ``f(done, total)`` with integers, ``done``
increasing, up to a last call with ``done == total`` (the shared contract of issue 13: the
decoder reports the same way). The encoder's total is :data:`UNITS`, thousandths of the work:
its steps (strips of planes, passes, rate-control trials) differ in cost and in number, so
they are reported as fractions of the whole. The codecs report their own steps in [0, 1]
through :class:`Progress`; :meth:`Progress.part` maps a sub-task's [0, 1] onto a slice of its
parent's, so that nested steps need not know where they sit.
"""

from __future__ import annotations

from collections.abc import Callable

# what it returns is ignored (tqdm.update returns a bool)
Callback = Callable[[int, int], object]
UNITS = 1000  # the total an encode reports: thousandths of the work


class Progress:
    """Reports ``lo + (hi - lo) * fraction`` of the work to ``callback`` as (done, UNITS),
    only when ``done`` grows.

    >>> seen = []
    >>> p = Progress(lambda done, total: seen.append((done, total)))
    >>> half = p.part(0.5, 1.0)
    >>> p(0.25); half(0.5); p(0.4); half(0.5004); p.done()
    >>> seen
    [(250, 1000), (750, 1000), (1000, 1000)]
    """

    def __init__(self, callback: Callback | None = None, lo: float = 0.0, hi: float = 1.0,
                 _last: list[int] | None = None) -> None:
        self.callback = callback
        self.lo, self.hi = lo, hi
        self._last = [0] if _last is None else _last  # shared by a tree of parts

    def __call__(self, fraction: float) -> None:
        if self.callback is None:
            return
        value = min(1.0, self.lo + (self.hi - self.lo) * min(max(fraction, 0.0), 1.0))
        done = int(value * UNITS)
        if done > self._last[0]:
            self._last[0] = done
            self.callback(done, UNITS)

    def part(self, lo: float, hi: float) -> Progress:
        """The slice [lo, hi] of this task's [0, 1], as a task of its own."""
        span = self.hi - self.lo
        return Progress(self.callback, self.lo + span * lo, self.lo + span * hi, self._last)

    def done(self) -> None:
        self(1.0)
