"""The patch layout's reference decoder in numpy (spec sections 12.3-12.7, 13): PTCH chunks ->
samples, through the pure-Python payload decoders (:mod:`.symbols`, :mod:`.arith`) and the
normative integer reconstruction (:mod:`.reconstruct`).

The C decoders of :mod:`.decode` give the same samples, about five times faster; this one is
what they are compared with, and what decodes where the extensions are not built.
"""

from __future__ import annotations

import numpy as np

from .. import _zstd
from .. import format as fmt
from ..progress import Progress
from . import arith
from . import reconstruct as patch
from .limits import PATCH_STRIP, colour_rows
from .symbols import PlaneCoefficients, unpack_payload


def plane_coefficients(pl: fmt.Plane, h: fmt.Header) -> PlaneCoefficients:
    """The decoded values of a plane (section 12.3 or 13) through the reference decoders."""
    gh, gw = pl.grid(h)
    if h.compression == fmt.Compression.ARITH:
        return arith.decode_payload(pl.payload, k=pl.components, half=pl.patch_size // 2,
                                    gh=gh, gw=gw, ac_symbols=pl.ac_symbols)
    raw = _zstd.decompress(pl.payload, pl.raw_size(h), what=f"PTCH {pl.index}")
    return unpack_payload(raw, k=pl.components, half=pl.patch_size // 2, gh=gh, gw=gw,
                          ac_symbols=pl.ac_symbols, escapes=pl.escapes)


def decode_planes_reference(container: fmt.Container, rank: int | None = None,
                            progress: Progress | None = None) -> np.ndarray:
    """The reference decoder of spec section 12 in numpy: (H, W, C) array."""
    h = container.header
    bd = h.bit_depth
    planes = []
    for pl in container.planes:
        r = pl.components if rank is None else min(rank, pl.components)
        pc = plane_coefficients(pl, h)
        q, mult, basis = pc.q[:, :r], pc.multipliers[:r], pc.basis[:r]
        patch.check_exact(patch.exactness_bound(pc.dc, q, mult, basis, pl.dc_multiplier,
                                                pl.shift, bd))
        plane = patch.reconstruct(pc.dc, q, mult, patch.mirror(basis, pc.parities[:r]),
                                  pl.dc_multiplier, pl.shift, pl.patch_size, bd, PATCH_STRIP)
        del pc, q
        patch.deblock(plane, pl.patch_size, *pl.deblock, bd)
        planes.append((plane, pl))
        if progress is not None:
            progress(0.9 * len(planes) / len(container.planes))
    dtype = np.uint8 if bd == 8 else np.dtype("<u2")
    out = np.empty((h.height, h.width, h.channels), dtype=dtype)
    rows = colour_rows(h.width)
    for y0 in range(0, h.height, rows):
        y1 = min(y0 + rows, h.height)
        full = [patch.upsample_rows(plane, pl.subsample_x, pl.subsample_y, *pl.shape(h),
                                    y0, y1, h.width) for plane, pl in planes]
        first = 0
        if h.colour_transform == fmt.ColourTransform.YCBCR:
            patch.ycbcr_to_rgb(full[0], full[1], full[2], out[y0:y1])
            first = 3
        for c in range(first, h.channels):
            out[y0:y1, :, c] = full[c]
    return out
