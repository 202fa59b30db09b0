"""The figure behind ``svdcodec compare --plot`` (the rank animation of ``svdcodec animate`` is
:mod:`.animation`'s).

matplotlib is an optional dependency (``svdcodec[plot]``): it is imported inside the plotting
functions, and figures are drawn on the Agg canvas without pyplot, so nothing global (backend,
open figures) changes in the caller's process.

``compare --plot OUT.png`` writes one figure of four panels (the format follows the extension:
png, svg, pdf, ...):

1. bytes per stage against rank: dense X (= Xapprox) as uint8 and float64, the factors as
   float64, float32, float16 and int8 records, after zstd, the .svdi file, PNG;
2. PSNR against bits per pixel: the .svdi files, JPEG / WebP (/ AVIF) at the same PSNR as each
   file and, as thin lines, their quality sweeps; PNG and the raw samples as vertical lines;
3. the singular values of each matrix on a log scale, with the cumulative energy Σσ² / ‖X‖²_F
   and the cumulative Σσ / Σ all σ of all matrices together (every singular value is computed,
   numpy's values-only SVD, so that the Σσ curve is normalized over all of them: a sum over
   the first few hundred, as before, ended at 100 % where the true share was far lower);
4. the original and up to four reconstructions, captioned with rank, bytes, bpp and PSNR.
"""

from __future__ import annotations

import io
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

from ..codec import atomic_write, decode, encode
from ..metrics import psnr
from ..pillow.convert import to_8bit
from ..whole.layout import to_matrices
from .peers import QUALITY_RANGE, sweep
from .report import Comparison
from .table import PEER_NAMES

if TYPE_CHECKING:
    from matplotlib.figure import Figure

SWEEP_QUALITIES = (5, 10, 20, 30, 50, 70, 85, 95)  # panel 2's thin lines, after the lowest
MAX_RECONSTRUCTIONS = 4
PEER_COLOURS = {"jpeg": "tab:red", "webp": "tab:green", "avif": "tab:purple",
                "patch": "tab:orange"}
PATCH_QUALITIES = (5, 10, 20, 30, 50, 70, 85, 95)  # the patch layout's curve
FIGURE_WIDTH = 18.0  # inches at 100 dpi
TOP_HEIGHT = 5.5  # inches: the three plots


@dataclass(frozen=True)
class Spectrum:
    """Singular values of each matrix of an image's layout."""

    s: tuple[np.ndarray, ...]  # one non-increasing array per matrix
    norm2: float  # Σ ‖X‖²_F over the matrices: the total energy
    exact: bool  # every singular value (always, since the Σσ curve needs them all)


def spectrum(image: np.ndarray, layout: str = "per-channel") -> Spectrum:
    """The singular values of the matrices :func:`svdcodec.encode` would factorize."""
    matrices = to_matrices(image if image.ndim == 3 else image[:, :, None], layout)
    values = tuple(np.linalg.svd(x, compute_uv=False) for x in matrices)
    return Spectrum(values, sum(float(np.vdot(x, x)) for x in matrices), True)


def display_array(image: np.ndarray) -> tuple[np.ndarray, str | None]:
    """An array and colour map that imshow shows as the image looks."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 2:  # LA: the grey channel
        image = image[:, :, 0]
    return image, ("gray" if image.ndim == 2 else None)


def _mean_rank(ranks: Sequence[int]) -> float:
    return sum(ranks) / len(ranks)


def _bytes_panel(ax: Any, c: Comparison) -> None:
    results = sorted(c.results, key=lambda r: _mean_rank(r.ranks))
    x = [_mean_rank(r.ranks) for r in results]
    stages = [("factors as float64: 8·r(m+n+1)", [r.factor_bytes["float64"] for r in results]),
              ("factors as float32", [r.factor_bytes["float32"] for r in results]),
              ("float16 records", [r.factor_bytes["float16"] for r in results]),
              ("int8 records + scales", [r.factor_bytes["int8"] for r in results]),
              (f"after zstd ({c.factors})", [r.zstd_bytes for r in results]),
              (".svdi file", [r.file_bytes for r in results])]
    for label, y in stages:
        if label == ".svdi file":  # nearly on top of the zstd line: wide and pale, behind it
            ax.plot(x, y, color="tab:brown", lw=6, alpha=0.35, zorder=1, label=label)
        else:
            ax.plot(x, y, marker="o", ms=4, lw=1.2, zorder=2, label=label)
    dtype = "uint16" if c.mode == "I;16" else "uint8"
    levels = [(f"X = Xapprox, float64 ({c.dense_float64_bytes:,})", c.dense_float64_bytes, "k"),
              (f"X = Xapprox, {dtype} ({c.dense_bytes:,})", c.dense_bytes, "0.35")]
    if c.png_bytes is not None:
        levels.append((f"PNG, lossless ({c.png_bytes:,})", c.png_bytes, "tab:blue"))
    for label, size, colour in levels:
        ax.axhline(size, color=colour, ls="--", lw=1.2, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    lowest = min(min(y) for _, y in stages)
    ax.set_ylim(bottom=lowest / 30)  # room under the lines for the legend
    ax.set_xticks(x, [f"{v:g}" for v in x])
    ax.minorticks_off()
    ax.set_xlabel("rank per matrix")
    ax.set_ylabel("bytes")
    ax.set_title("Bytes at each stage: Xapprox is as large as X; the file is not")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")


def _rd_panel(ax: Any, c: Comparison, image: np.ndarray | None, progress: bool | None) -> None:
    from matplotlib.lines import Line2D

    results = sorted(c.results, key=lambda r: r.bpp)
    finite = [r for r in results if math.isfinite(r.psnr)]
    ax.plot([r.bpp for r in finite], [r.psnr for r in finite], "o-", color="k", lw=2,
            label=f".svdi ({c.layout}, {c.factors})")
    for r in finite:
        rank = r.rank if r.rank is not None else round(_mean_rank(r.ranks))
        ax.annotate(f"r={rank}", (r.bpp, r.psnr), textcoords="offset points", xytext=(-6, 4),
                    ha="right", fontsize=8)
    codecs = list(dict.fromkeys(k for r in results for k in r.peers))
    for codec in codecs:
        colour = PEER_COLOURS.get(codec, "tab:gray")
        points = [r.peers[codec] for r in results if codec in r.peers]
        square = ax.plot([p["bpp"] for p in points], [p["psnr"] for p in points], "s",
                         color=colour, label=PEER_NAMES[codec])[0]
        if image is not None and codec == "patch":
            curve = _patch_sweep(image, PATCH_QUALITIES)
            ax.plot([b for b, _ in curve], [p for _, p in curve], "-", color=colour, lw=1.5)
            square.set_label("_nolegend_")
            ax.add_line(Line2D([], [], color=colour, marker="s", lw=1.5,
                               label=f"{PEER_NAMES[codec]} (the default), q"
                                     f"{PATCH_QUALITIES[0]}..{PATCH_QUALITIES[-1]}"))
        elif image is not None:
            qualities = (QUALITY_RANGE[codec][0], *SWEEP_QUALITIES)
            # the peers are 8-bit: the reduction the table's peer columns code (report.compare)
            peer_image = image if image.dtype == np.uint8 else to_8bit(image)
            swept = sweep(peer_image, codec, tqdm(
                qualities, desc=f"{codec} sweep", file=sys.stderr, leave=False,
                disable=None if progress is None else not progress))
            ax.plot([p.bpp for p in swept], [p.psnr for p in swept], "-", color=colour,
                    lw=0.8, alpha=0.6)
            # One legend entry for both: a proxy with the line and the square.
            square.set_label("_nolegend_")
            ax.add_line(Line2D([], [], color=colour, marker="s", lw=0.8,
                               label=f"{PEER_NAMES[codec]}, q{qualities[0]}..{qualities[-1]}"))
    if c.png_bpp is not None:
        ax.axvline(c.png_bpp, color="tab:blue", ls="--", lw=1.2,
                   label=f"PNG, lossless ({c.png_bpp:.2f} bpp)")
    raw_bpp = 8 * c.dense_bytes / (c.width * c.height)
    ax.axvline(raw_bpp, color="0.35", ls="--", lw=1.2, label=f"X as samples ({raw_bpp:g} bpp)")
    ax.set_xscale("log")
    ax.set_xlabel("bits per pixel (8 · file bytes / pixels)")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title("Quality against size; squares: smallest peer file at the .svdi's PSNR",
                 fontsize=11)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")


def _patch_sweep(image: np.ndarray, qualities: Sequence[int]) -> list[tuple[float, float]]:
    """(bpp, PSNR) of the patch layout at each quality."""
    points = []
    for q in qualities:
        data = encode(image, quality=q)
        points.append((8 * len(data) / (image.shape[0] * image.shape[1]),
                       psnr(image, decode(data))))
    return points


def _spectrum_panel(ax: Any, c: Comparison, spec: Spectrum) -> None:
    names = {1: ["grey"], 2: ["grey", "alpha"], 3: ["R", "G", "B"], 4: ["R", "G", "B", "alpha"]}
    colours = {"R": "tab:red", "G": "tab:green", "B": "tab:blue", "grey": "k", "alpha": "0.6"}
    labels = names[c.channels] if len(spec.s) == c.channels else [f"{c.layout} matrix"]
    for s, label in zip(spec.s, labels, strict=True):
        ax.loglog(np.arange(1, len(s) + 1), s, lw=1.2, color=colours.get(label, "k"),
                  label=rf"$\sigma_i$, {label}")
    top = max(float(s[0]) for s in spec.s)
    ax.set_ylim(max(top * 1e-5, min(float(s[-1]) for s in spec.s)) / 2, top * 2)
    ax.set_xlabel("component i (log scale)")
    ax.set_ylabel(r"singular value $\sigma_i$ (log scale)")
    n = max(len(s) for s in spec.s)
    padded = np.zeros((len(spec.s), n))
    for row, s in zip(padded, spec.s, strict=True):
        row[:len(s)] = s
    k = np.arange(1, n + 1)
    energy = np.cumsum((padded ** 2).sum(axis=0)) / spec.norm2
    total = np.cumsum(padded.sum(axis=0))
    twin = ax.twinx()
    twin.plot(k, energy, color="tab:orange", lw=2,
              label=r"cumulative $\Sigma\sigma^2 / \|X\|_F^2$ (energy)")
    twin.plot(k, total / total[-1], color="tab:cyan", lw=2, ls="-.",
              label=r"cumulative $\Sigma\sigma$ / $\Sigma$ all $\sigma$")
    twin.set_ylim(0, 1.02)
    twin.set_ylabel("cumulative fraction (all matrices)")
    for r in c.results:
        ax.axvline(_mean_rank(r.ranks), color="0.5", lw=0.8, ls=":")
    lines = ax.get_legend_handles_labels()
    more = twin.get_legend_handles_labels()
    twin.legend(lines[0] + more[0], lines[1] + more[1], fontsize=7, loc="lower left")
    ax.set_title("Singular values; dotted: the ranks compared")


def _reconstruction_panels(fig: Any, cell: Any, c: Comparison, image: np.ndarray) -> None:
    results = sorted(c.results, key=lambda r: _mean_rank(r.ranks))
    if len(results) > MAX_RECONSTRUCTIONS:
        picks = np.linspace(0, len(results) - 1, MAX_RECONSTRUCTIONS).round().astype(int)
        results = [results[i] for i in dict.fromkeys(picks)]
    grid = cell.subgridspec(1, len(results) + 1, wspace=0.05)
    png = f"; PNG {c.png_bytes:,} B" if c.png_bytes is not None else ""
    panels = [(image, f"original X: {c.dense_bytes:,} B in memory{png}")]
    for r in results:
        rank = f"rank {r.rank}" if r.rank is not None else f"energy {r.energy:g}"
        panels.append((decode(r.data), f"{rank}: {r.file_bytes:,} B, {r.bpp:.2f} bpp, "
                                        f"{r.psnr:.2f} dB\nXapprox: {r.xapprox_bytes:,} B"))
    for i, (array, caption) in enumerate(panels):
        ax = fig.add_subplot(grid[0, i])
        shown, cmap = display_array(array)
        ax.imshow(shown, cmap=cmap, vmin=0, vmax=255)
        ax.set_xlabel(caption, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])


def plot_compare(c: Comparison, image: np.ndarray, *, title: str = "",
                 peer_sweeps: bool = True, progress: bool | None = False) -> Figure:
    """The four panels of the module docstring as one matplotlib Figure (Agg canvas)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    shown = min(len(c.results), MAX_RECONSTRUCTIONS) + 1
    bottom = FIGURE_WIDTH / shown * c.height / c.width + 0.8  # images at their aspect + captions
    fig = Figure(figsize=(FIGURE_WIDTH, TOP_HEIGHT + bottom), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    outer = fig.add_gridspec(2, 1, height_ratios=(TOP_HEIGHT, bottom))
    top = outer[0].subgridspec(1, 3)
    _bytes_panel(fig.add_subplot(top[0, 0]), c)
    _rd_panel(fig.add_subplot(top[0, 1]), c, image if peer_sweeps else None, progress)
    _spectrum_panel(fig.add_subplot(top[0, 2]), c, spectrum(image, c.layout))
    _reconstruction_panels(fig, outer[1], c, image)
    fig.suptitle(title or f"{c.width}x{c.height} {c.mode}, layout {c.layout}, "
                 f"{c.factors} factors", fontsize=13)
    return fig


def save_figure(fig: Figure, path: Path) -> None:
    """Write ``fig`` atomically, in the format of the file name's extension."""
    formats = fig.canvas.get_supported_filetypes()
    ext = path.suffix.lower().lstrip(".")
    if ext not in formats:
        raise ValueError(f"unknown plot format {path.suffix!r}: use one of "
                         f"{', '.join('.' + f for f in sorted(formats))}")
    buf = io.BytesIO()
    fig.savefig(buf, format=ext)
    atomic_write(path, buf.getvalue())
