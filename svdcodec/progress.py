"""Progress of a long encode or decode, for an optional ``progress(done, total)`` callable.

``svdcodec.encode(..., progress=f)`` and ``svdcodec.decode(..., progress=f)`` call
``f(done, total)`` with integers, ``done`` increasing, up to a last call with ``done == total``
(the shared contract of issue 13). The encoder's total is :data:`UNITS`, thousandths of the
work: its steps (strips of planes, passes, rate-control trials) differ in cost and in number,
so they are reported as fractions of the whole. The decoder's total is the image's height:
the strip decoder reports the rows decoded so far (:meth:`Progress.count`), the other decoders
the fraction of their planes or matrices decoded. The codecs report their own steps in [0, 1]
through :class:`Progress`; :meth:`Progress.part` maps a sub-task's [0, 1] onto a slice of its
parent's, so that nested steps need not know where they sit.
"""

from __future__ import annotations

from collections.abc import Callable

# what it returns is ignored (tqdm.update returns a bool)
Callback = Callable[[int, int], object]
UNITS = 1000  # the total an encode reports: thousandths of the work


class Progress:
    """Reports ``lo + (hi - lo) * fraction`` of the work to ``callback`` as (done, total),
    only when ``done`` grows. A Progress given as the callback is continued (its slice, its
    total and what it reported so far): an encode called by another encode reports into it.

    >>> seen = []
    >>> p = Progress(lambda done, total: seen.append((done, total)))
    >>> half = p.part(0.5, 1.0)
    >>> p(0.25); half(0.5); p(0.4); half(0.5004); p.done()
    >>> seen
    [(250, 1000), (750, 1000), (1000, 1000)]
    """

    callback: Callback | None
    lo: float
    hi: float
    total: int
    _last: list[int]  # what was reported, shared by a tree of parts

    def __init__(self, callback: Callback | Progress | None = None, lo: float = 0.0,
                 hi: float = 1.0, total: int = UNITS) -> None:
        if isinstance(callback, Progress):
            span = callback.hi - callback.lo
            self.lo, self.hi = callback.lo + span * lo, callback.lo + span * hi
            self.callback, self.total, self._last = callback.callback, callback.total, \
                callback._last
        else:
            self.callback, self.lo, self.hi, self.total = callback, lo, hi, total
            self._last = [0]

    def __call__(self, fraction: float) -> None:
        if self.callback is None:
            return
        value = min(1.0, self.lo + (self.hi - self.lo) * min(max(fraction, 0.0), 1.0))
        # (a fraction y / total gives y back, though its product may fall an ulp short)
        self._report(self.total if value >= 1.0 else int(value * self.total + 1e-6))

    def count(self, done: int) -> None:
        """``done`` of the total (an integer; of the whole task, whatever this part's slice)."""
        if self.callback is not None:
            self._report(min(done, self.total))

    def _report(self, done: int) -> None:
        assert self.callback is not None
        if done > self._last[0]:
            self._last[0] = done
            self.callback(done, self.total)

    def part(self, lo: float, hi: float) -> Progress:
        """The slice [lo, hi] of this task's [0, 1], as a task of its own."""
        return Progress(self, lo, hi)

    def done(self) -> None:
        self(1.0)
