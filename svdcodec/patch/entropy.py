"""Entropy coding of the patch layout's quantized planes: the arithmetic-coded payload (spec
section 13, HEAD compression 2) or a zstd frame of byte symbols (section 12.3, compression 1),
and ``entropy="auto"``, which codes the same coefficients both ways and keeps the smaller file.

:mod:`.codec` quantizes each plane and hands it here; the arith payload is coded in C when the
extension is built (``decode.ARITH_ACCELERATED`` says whether it is used, for both directions),
else by the reference :mod:`.arith`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import _zstd
from .. import format as fmt
from ..errors import LimitError
from ..limits import get_default_limits
from . import arith, decode
from .encode import QuantizedPlane
from .limits import check_limits
from .symbols import PlaneCoefficients

# entropy coding of the planes: "arith" (spec section 13, HEAD compression 2) or "zstd"
# (section 12.3, compression 1)
ENTROPIES = tuple(sorted(fmt.COMPRESSION_NAMES.values()))  # named as the spec's enum
# "auto": the quantized coefficients coded both ways, the smaller file kept. The arith payload
# is 17-28 % smaller on photographs, but its contexts see only left and upper neighbours, while
# zstd finds repeated patches: on text, tiled or synthetic images the zstd payload of the same
# coefficients was 3-145 times smaller (measured on a 768 x 512 text render, a tiled pattern,
# a checkerboard and a ramp at qualities 30-80). Same coefficients: the same decoded image.
AUTO = "auto"
ENTROPY_CHOICES = (AUTO, *ENTROPIES)
DEFAULT_ENTROPY = AUTO
# auto compresses with zstd at the encoder's level only while a fast probe (PROBE_LEVEL) of
# the planes' section 12.3 bytes so far stays below PROBE_RATIO times their arith payloads plus
# PROBE_SLACK bytes (a flat chroma plane is a few bytes either way), and only for planes of at
# most AUTO_MAX_SAMPLES samples (the probe holds the plane's raw payload in memory; larger
# images stay arith). On Kodak the probe is 1.27-1.77 times the arith payload at qualities
# 10-50 and 1.04-1.32 at 80-95, where zstd at level 19 did not win either: a ratio of 1 spares
# photographs the slow level-19 compression; text measured 0.07.
PROBE_LEVEL = 3
PROBE_RATIO = 1.0
PROBE_SLACK = 256
AUTO_MAX_SAMPLES = 1 << 26


@dataclass
class AutoEntropy:
    """What ``entropy="auto"`` knows of the planes coded so far while zstd is still in the
    running (arith always is): the bytes of both codings, and the zstd planes' fields."""

    zstd_probe_bytes: int = 0  # the fast zstd probes (PROBE_LEVEL) of their byte symbols
    arith_bytes: int = 0  # their arith payloads
    zstd_planes: list[fmt.Plane] = field(default_factory=list)  # fields only: no payloads

    @staticmethod
    def too_large(samples: int) -> bool:
        """Whether a plane of ``samples`` samples is too large for the probe, which holds the
        plane's section 12.3 bytes in memory: zstd is then out of the running."""
        return samples > AUTO_MAX_SAMPLES

    def keeps_zstd(self, header: fmt.Header, plane: fmt.Plane, raw: bytes) -> bool:
        """Whether zstd stays in the running with ``plane`` (its fields; ``raw``: its section
        12.3 bytes, not compressed yet): not once the default limits refuse the zstd planes
        (:meth:`zstd_refused`) or the probes say that zstd will not be smaller."""
        if self.zstd_refused(header, plane):
            return False
        self.zstd_probe_bytes += len(_zstd.compress(raw, PROBE_LEVEL))
        return not self.zstd_losing()

    def zstd_losing(self) -> bool:
        """Whether the probes say that zstd will not be smaller."""
        return self.zstd_probe_bytes > PROBE_RATIO * self.arith_bytes + PROBE_SLACK

    def zstd_refused(self, header: fmt.Header, plane: fmt.Plane) -> bool:
        """Add ``plane`` (its fields; the payload is not made yet) and say whether a decoder
        with the default limits refuses the zstd planes so far (section 12.8: a count of
        header fields, which only grows with planes). Auto's zstd payload counts its whole
        planes (about 46 bytes a pixel for RGB at 4:4:4), the arith strip decoder about the
        output: auto keeps arith where zstd would be refused, and refuses it before the slow
        compression."""
        self.zstd_planes.append(plane)
        container = fmt.Container(header, (), {}, (), tuple(self.zstd_planes))
        try:
            check_limits(container, get_default_limits())
        except LimitError:
            return True
        return False


def arith_encode_strips(qp: QuantizedPlane) -> tuple[bytes, int]:
    """:func:`arith_encode` of a plane quantized in strips, coded strip by strip in C."""
    if not decode.ARITH_ACCELERATED:
        return arith.encode_payload(qp.coefficients())
    multipliers, parities, basis = qp.header()
    k = qp.components
    half = basis.shape[1] if k else 0
    an = qp.analysis
    encoder = decode._arithc.encoder_start(np.ascontiguousarray(multipliers, dtype=np.int64),
                                           np.ascontiguousarray(parities, dtype=np.int64),
                                           np.ascontiguousarray(basis, dtype=np.int8),
                                           k, half, an.gh, an.gw)
    for a, b in an.strips:
        decode._arithc.encoder_rows(encoder, np.ascontiguousarray(qp.dc[a:b]), qp.q_rows(a, b),
                                    b - a)
    payload: tuple[bytes, int] = decode._arithc.encoder_finish(encoder)
    return payload


def arith_encode(pc: PlaneCoefficients) -> tuple[bytes, int]:
    """A plane's section 13 payload and its ac_symbols, in C when the extension is built
    (``decode.ARITH_ACCELERATED`` says whether it is used, for both directions)."""
    if decode.ARITH_ACCELERATED:
        k = pc.q.shape[1]
        return decode._arithc.encode(np.ascontiguousarray(pc.multipliers, dtype=np.int64),
                              np.ascontiguousarray(pc.parities, dtype=np.int64),
                              np.ascontiguousarray(pc.basis, dtype=np.int8),
                              np.ascontiguousarray(pc.dc, dtype=np.int64),
                              np.ascontiguousarray(pc.q, dtype=np.int64), k,
                              pc.basis.shape[1] if k else 0, *pc.dc.shape)
    return arith.encode_payload(pc)
