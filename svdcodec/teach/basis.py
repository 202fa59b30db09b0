"""The basis a patch-layout file learned from its image, as a figure (``svdcodec basis``).

The patch layout (spec section 12) cuts a plane into P x P patches and stores, per plane, k basis
vectors: the right singular vectors of the matrix whose rows are the patches, quantized. Drawn as
P x P tiles they show what the SVD found in this image (smooth ramps first, then finer and
finer stripes and checkerboards, much like the DCT that JPEG fixes in advance, but fitted to
the image). Under the tiles: the share of patches whose coefficient of each vector is not zero
after quantization, which is where the bytes go.

matplotlib is optional (``svdcodec[plot]``) and imported inside :func:`basis_figure`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .. import codec
from .. import format as fmt
from ..limits import get_default_limits
from ..patch import reconstruct as patch
from ..patch.reference import plane_coefficients

if TYPE_CHECKING:
    from matplotlib.figure import Figure

@dataclass(frozen=True)
class PlaneBasis:
    """One plane's stored basis: vectors (k, P, P) int, as the decoder unfolds them (section
    12.4), their parities, and per vector the share of patches with a non-zero coefficient."""

    name: str
    patch_size: int
    patches: int
    vectors: np.ndarray
    parities: np.ndarray
    nonzero: np.ndarray


def plane_basis(data: bytes, plane: int = 0) -> PlaneBasis:
    """The basis of plane ``plane`` of a patch-layout file (ValueError for another layout or
    a plane it does not have; SvdiError for a bad file); of a stack, that of its coded image
    (tall) or of frame 0 (frames)."""
    limits = get_default_limits()
    container = fmt.unpack(data, limits)
    h = container.header
    if h.layout != fmt.Layout.PATCH:
        raise ValueError(f"a {fmt.LAYOUT_NAMES[h.layout]} file has no learned basis: "
                               "only layout patch has one")
    planes = h.group_count  # a stack coded frame by frame: frame 0's (section 14.2)
    if not 0 <= plane < planes:
        raise ValueError(f"plane must be in 0..{planes - 1}, got {plane}")
    codec.check_decode_limits(container, limits)  # before decompressing, as a decode would
    h = container.coded_header  # a tall stack's planes code W x N*Hp (section 14.3)
    pl = container.planes[plane]
    gh, gw = pl.grid(h)
    pc = plane_coefficients(pl, h)
    p = pl.patch_size
    vectors = patch.mirror(pc.basis, pc.parities).reshape(-1, p, p)
    ycbcr = h.colour_transform == fmt.ColourTransform.YCBCR
    return PlaneBasis(fmt.plane_name(plane, ycbcr), p, gh * gw, vectors, pc.parities,
                      (pc.q != 0).mean(axis=0) if gh * gw else np.zeros(pl.components))


def basis_figure(b: PlaneBasis, title: str = "") -> Figure:
    """The tiles of the basis vectors (diverging colours, zero is white; each scaled to its
    own largest entry) and a bar chart of their non-zero shares."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    k = len(b.vectors)
    cols = max(1, min(16, int(np.ceil(np.sqrt(k * 2)))))
    rows = max(1, -(-k // cols))
    fig = Figure(figsize=(max(6.0, 0.75 * cols), 0.8 * rows + 3.2), dpi=100,
                 layout="constrained")
    FigureCanvasAgg(fig)
    outer = fig.add_gridspec(2, 1, height_ratios=(0.8 * rows + 0.3, 2.4))
    grid = outer[0].subgridspec(rows, cols)
    for j in range(rows * cols):
        ax = fig.add_subplot(grid[j // cols, j % cols])
        ax.set_xticks([])
        ax.set_yticks([])
        if j >= k:
            ax.axis("off")
            continue
        v = b.vectors[j].astype(np.float64)
        ax.imshow(v, cmap="RdBu_r", vmin=-np.abs(v).max(), vmax=np.abs(v).max(),
                  interpolation="nearest")
        ax.set_title(str(j), fontsize=7, pad=2)
    bars = fig.add_subplot(outer[1])
    bars.bar(np.arange(k), 100 * b.nonzero, color="tab:blue")
    bars.set_xlabel("basis vector (in the order stored: decreasing singular value)")
    bars.set_ylabel("patches with a non-zero\ncoefficient (%)")
    bars.set_xlim(-0.6, max(k, 1) - 0.4)
    bars.grid(True, axis="y", alpha=0.3)
    fig.suptitle(title or f"{b.name}: {k} learned {b.patch_size}x{b.patch_size} basis vectors "
                 f"for {b.patches:,} patches", fontsize=11)
    if k == 0:
        bars.text(0.5, 0.5, "no basis vector: every patch is its DC term alone",
                  transform=bars.transAxes, ha="center")
    return fig
