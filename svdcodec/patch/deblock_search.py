"""The encoder's choice of a plane's deblocking strength (encoder only; the filter itself is
normative: :func:`.reconstruct.deblock`, spec section 12.6).

A few strengths are tried and the one of least squared error is kept, strip by strip: each
strip is reconstructed with a patch row of each neighbour, which the filter reads. The errors
of the strips are summed, so a strength may differ between strip sizes at a near tie.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from . import reconstruct as patch

if TYPE_CHECKING:
    from .encode import QuantizedPlane

try:  # the C decoder's deblocking, bit-exact with patch.deblock, for the strength search
    from ._patchc import deblock as _deblock  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - built by setup.py wherever a C compiler is present
    _deblock = patch.deblock

# alpha = s step, beta = tc = s step / 2; the best of these per plane (none at all: -0.16 dB
# BD-PSNR against JPEG, every third Kodak image, tools/bench_rd.py)
DEBLOCK_STRENGTHS = (0.0, 0.35, 0.5, 0.7, 1.0)


def choose_deblock(qp: QuantizedPlane, step: float, deblock: bool, tick: Callable[[], None]
                   ) -> tuple[tuple[int, int, int], float]:
    """The deblocking strength (alpha, beta, tc) of least squared error, and that error
    (``deblock`` False: no filter, and its error); ``tick`` is called after each strip."""
    an, p = qp.analysis, qp.analysis.p
    strengths = [(0, 0, 0)]
    for s in DEBLOCK_STRENGTHS[1:] if deblock else ():
        params = (round(s * step), round(s * step / 2), round(s * step / 2))
        if min(params) >= 1 and max(params) <= 0xFFFF:
            strengths.append(params)
    sse = np.zeros(len(strengths))
    mult, parities, basis = qp.header()
    full = patch.mirror(basis, parities)
    half = 2.0 ** (an.bit_depth - 1)
    for i, (a, b) in enumerate(an.strips):
        a0, b0 = max(a - 1, 0), min(b + 1, an.gh)
        rec = patch.reconstruct(qp.dc[a0:b0], qp.q_rows(a0, b0), mult, full, qp.dc_multiplier,
                                qp.shift, p, an.bit_depth)
        target = an.samples(i) + half  # decoded planes are not centred
        rows = slice((a - a0) * p, (a - a0) * p + target.shape[0])
        sse[0] += _sse(rec[rows, :an.cols], target)
        trial = np.empty_like(rec)
        for n, params in enumerate(strengths[1:], 1):
            np.copyto(trial, rec)
            _deblock(trial, p, *params, an.bit_depth)
            sse[n] += _sse(trial[rows, :an.cols], target)
        tick()
    best = 0
    for n in range(1, len(strengths)):
        if sse[n] < sse[best]:
            best = n
    return strengths[best], float(sse[best])


def _sse(decoded: np.ndarray, target: np.ndarray) -> float:
    d = np.subtract(decoded, target).ravel()
    return float(d @ d)  # a dot product: no squared temporary
