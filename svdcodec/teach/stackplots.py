"""The figure of ``svdcodec stack --plot``: a stack's snapshot SVD drawn.

1. the singular values σ_i of the snapshot matrix (log scale) and the energy captured by rank k,
   Σ_{i<=k} σ_i² / ‖X‖²_F;
2. the time courses σ_i v_i of the first modes: each mode's weight in each frame;
3. the eigen-images u_i (after the mean frame when centred), signed values on a diverging map
   (red positive, blue negative; each image scaled to its own largest magnitude);
4. one frame and its rank-k reconstructions from the snapshot SVD, captioned with the stack's
   pooled PSNR at that rank.

matplotlib (``svdcodec[plot]``) is imported inside :func:`stack_figure`, on the Agg canvas
without pyplot, as :mod:`.plots` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .plots import display_array
from .snapshot import SnapshotSVD

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["stack_figure"]

FIGURE_WIDTH = 14.0  # inches at 100 dpi
COURSES = 4  # time courses drawn
RECONSTRUCTION_RANKS = (1, 3, 10)  # and the rank of 99 % energy


def _spectrum_panel(ax: Any, snap: SnapshotSVD) -> None:
    k = np.arange(1, len(snap.s) + 1)
    ax.semilogy(k, np.maximum(snap.s, 1e-300), "o-", ms=3, color="k", lw=1.2,
                label=r"$\sigma_i$")
    ax.set(xlabel="mode i", ylabel=r"singular value $\sigma_i$ (log scale)",
           title=f"Spectrum of the {snap.pixels} x {snap.frames} snapshot matrix")
    top = float(snap.s[0]) or 1.0
    # Round-off (a centred stack has rank N - 1: its last σ is ~1e-12 σ_1) would squash the
    # values that matter into the top of the axis.
    ax.set_ylim(max(float(snap.s[-1]), top * 1e-6) / 2, top * 2)
    twin = ax.twinx()
    twin.plot(np.arange(len(snap.s) + 1), snap.energy(), color="tab:orange", lw=2,
              label=r"energy of rank k, $\Sigma_{i\leq k}\sigma_i^2 / \|X\|_F^2$")
    twin.set_ylim(0, 1.02)
    twin.set_ylabel("energy captured")
    for fraction in (0.9, 0.99):
        r = snap.rank_for_energy(fraction)
        twin.axvline(r, color="0.5", lw=0.8, ls=":")
        twin.annotate(f"{fraction:.0%}: k={r}", (r, fraction), xytext=(4, -12),
                      textcoords="offset points", fontsize=8)
    lines, more = ax.get_legend_handles_labels(), twin.get_legend_handles_labels()
    twin.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="center right")
    ax.grid(True, which="both", alpha=0.3)


def _courses_panel(ax: Any, snap: SnapshotSVD) -> None:
    courses = snap.time_courses(min(COURSES, len(snap.s)))
    j = np.arange(snap.frames)
    for i, course in enumerate(courses):
        ax.plot(j, course, "o-" if snap.frames <= 40 else "-", ms=3, lw=1.2,
                label=rf"mode {i + 1}: $\sigma_{i + 1} v_{i + 1}$")
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set(xlabel="frame j (column of X)", ylabel="weight of the eigen-image in frame j",
           title="Time courses: frame j = sum_i u_i (sigma_i v_i[j])")
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)


def _signed(image: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """An eigen-image as imshow shows signed values: grey on a diverging map, colour around
    mid-grey."""
    top = float(np.abs(image).max()) or 1.0
    if image.ndim == 3 and image.shape[2] >= 3:
        return np.clip(0.5 + image[:, :, :3] / (2 * top), 0, 1), {}
    grey = image if image.ndim == 2 else image[:, :, 0]
    return grey, {"cmap": "RdBu_r", "vmin": -top, "vmax": top}


def _image_row(fig: Any, cell: Any, panels: list[tuple[np.ndarray, dict[str, Any], str]]) -> None:
    grid = cell.subgridspec(1, len(panels), wspace=0.05)
    for i, (array, style, caption) in enumerate(panels):
        ax = fig.add_subplot(grid[0, i])
        ax.imshow(array, interpolation="nearest", **style)
        ax.set_xlabel(caption, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])


def _eigen_panels(snap: SnapshotSVD, components: int
                  ) -> list[tuple[np.ndarray, dict[str, Any], str]]:
    energy = snap.s ** 2 / (snap.norm2 or 1.0)
    panels = []
    if snap.mean is not None:
        shown, cmap = display_array(np.clip(np.rint(snap.mean), 0, snap.peak)
                                    .astype(np.uint16 if snap.peak > 255 else np.uint8))
        panels.append((shown, {"cmap": cmap, "vmin": 0, "vmax": 255}, "mean frame"))
    for i, image in enumerate(snap.eigen_images(min(components, len(snap.s)))):
        array, style = _signed(image)
        panels.append((array, style, f"u{i + 1}: {energy[i]:.1%} of energy"))
    return panels


def _reconstruction_panels(snap: SnapshotSVD, stack: np.ndarray, frame: int
                           ) -> list[tuple[np.ndarray, dict[str, Any], str]]:
    shown, cmap = display_array(stack[frame])
    panels = [(shown, {"cmap": cmap, "vmin": 0, "vmax": 255}, f"frame {frame}")]
    psnr = snap.psnr()
    ranks = sorted({min(k, len(snap.s)) for k in (*RECONSTRUCTION_RANKS,
                                                  snap.rank_for_energy(0.99))})
    for k in ranks:
        approx = snap.reconstruct(k)[frame]
        stored = np.clip(np.rint(approx), 0, snap.peak).astype(stack.dtype)
        shown, cmap = display_array(stored)
        panels.append((shown, {"cmap": cmap, "vmin": 0, "vmax": 255},
                       f"rank {k}: stack {psnr[k]:.1f} dB"))
    return panels


def _row_height(count: int, h: int, w: int) -> float:
    """Inches for a row of ``count`` images of h x w at their aspect, and their captions."""
    return FIGURE_WIDTH / max(count, 4) * h / w + 0.5


def stack_figure(snap: SnapshotSVD, stack: np.ndarray, *, title: str = "",
                 components: int = 8, frame: int = 0) -> Figure:
    """The four panels of the module docstring as one matplotlib Figure (Agg canvas)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not 0 <= frame < len(stack):
        raise ValueError(f"frame must be in 0..{len(stack) - 1}, got {frame}")
    eigen = _eigen_panels(snap, components)
    recon = _reconstruction_panels(snap, stack, frame)
    h, w = stack.shape[1:3]
    heights = (4.5, _row_height(len(eigen), h, w), _row_height(len(recon), h, w))
    fig = Figure(figsize=(FIGURE_WIDTH, sum(heights) + 0.6), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    outer = fig.add_gridspec(3, 1, height_ratios=heights)
    top = outer[0].subgridspec(1, 2)
    _spectrum_panel(fig.add_subplot(top[0, 0]), snap)
    _courses_panel(fig.add_subplot(top[0, 1]), snap)
    _image_row(fig, outer[1], eigen)
    _image_row(fig, outer[2], recon)
    n = snap.frames
    fig.suptitle(title or f"{n} frames of {w}x{h}: eigen-images (columns of U) and time courses "
                 f"(rows of S Vt)", fontsize=12)
    return fig
