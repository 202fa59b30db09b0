"""Figures and the rank animation behind ``svdcodec compare --plot`` and ``svdcodec animate``.

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
from PIL import Image, ImageDraw, ImageFont
from tqdm import tqdm

from ..codec import atomic_write, decode, encode
from ..metrics import psnr
from ..whole.layout import to_matrices
from .peers import QUALITY_RANGE, sweep
from .report import Comparison
from .table import PEER_NAMES

if TYPE_CHECKING:
    from matplotlib.figure import Figure

SWEEP_QUALITIES = (5, 10, 20, 30, 50, 70, 85, 95)  # panel 2's thin lines, after the lowest
MAX_RECONSTRUCTIONS = 4
ANIMATION_RANKS = (1, 2, 3, 5, 8, 12, 20, 30, 50, 80, 120, 200, 300, 500, 800, 1200, 2000)
MIN_FRAME_WIDTH = 320  # smaller images are enlarged (nearest) so that the caption fits
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


def _display(image: np.ndarray) -> tuple[np.ndarray, str | None]:
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
            swept = sweep(image, codec, tqdm(qualities, desc=f"{codec} sweep", file=sys.stderr,
                                             leave=False,
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
        shown, cmap = _display(array)
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


# --- the rank animation ---------------------------------------------------------------------
def shrink(image: np.ndarray, *, max_size: int | None = None,
           scale: float | None = None) -> np.ndarray:
    """``image`` resized (Lanczos, per channel in float) so that its longest side is at most
    ``max_size``, or by the factor ``scale`` in (0, 1]; never enlarged. Same dtype and channels.

    An animation of a 12-megapixel photograph at full size is tens of megabytes of GIF; the
    lesson (what rank does) reads as well at 512 pixels.
    """
    if max_size is not None and scale is not None:
        raise ValueError("give max_size or scale, not both")
    h, w = image.shape[:2]
    if max_size is not None:
        if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
            raise ValueError(f"max_size must be an int >= 1, got {max_size!r}")
        factor = min(1.0, max_size / max(h, w))
    elif scale is not None:
        if not (isinstance(scale, (int, float)) and 0 < scale <= 1):
            raise ValueError(f"scale must be in (0, 1], got {scale!r}")
        factor = float(scale)
    else:
        return image
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    if size == (w, h):
        return image
    top = np.iinfo(image.dtype).max
    cube = image if image.ndim == 3 else image[:, :, None]
    resized = np.stack([np.asarray(Image.fromarray(cube[:, :, c].astype(np.float32), mode="F")
                                   .resize(size, Image.Resampling.LANCZOS)) for c in
                        range(cube.shape[2])], axis=2)
    out: np.ndarray = np.clip(np.rint(resized), 0, top).astype(image.dtype)
    return out if image.ndim == 3 else out[:, :, 0]


def default_ranks(image: np.ndarray, layout: str = "per-channel") -> list[int]:
    """:data:`ANIMATION_RANKS` up to 3/4 of the full rank min(m, n), then the full rank."""
    h, w = image.shape[:2]
    c = 1 if image.ndim == 2 else image.shape[2]
    full = {"per-channel": min(h, w), "stacked": min(h, w * c),
            "stacked-vertical": min(h * c, w)}[layout]
    return [r for r in ANIMATION_RANKS if r <= 0.75 * full] + [full]


def _font(size: int) -> Any:
    return ImageFont.load_default(size=size)


def _font_size(width: int, texts: Sequence[str], pad: int) -> int:
    """The largest size up to width / 36 at which every text fits in one line of ``width``."""
    draw = ImageDraw.Draw(Image.new("L", (1, 1)))
    size = max(10, width // 36)
    while size > 6 and max(draw.textlength(t, font=_font(size)) for t in texts) > width - 2 * pad:
        size -= 1
    return size


def _caption(frame: Image.Image, lines: Sequence[str], size: int, pad: int) -> Image.Image:
    """``frame`` with a black strip underneath holding ``lines`` in white."""
    font = _font(size)
    line_height = int(size * 1.3)
    out = Image.new(frame.mode, (frame.width, frame.height + 2 * pad + line_height * len(lines)))
    out.paste(frame, (0, 0))
    draw = ImageDraw.Draw(out)
    white = 255 if out.mode == "L" else (255, 255, 255)
    for i, text in enumerate(lines):
        draw.text((pad, frame.height + pad + i * line_height), text, fill=white, font=font)
    return out


def animation_frames(image: np.ndarray, ranks: Sequence[int] | None = None, *,
                     layout: str = "per-channel", factors: str = "int8", level: int = 3,
                     progress: bool | None = False) -> list[Image.Image]:
    """One captioned frame per rank: the decode of a file encoded at that rank."""
    ranks = list(ranks) if ranks is not None else default_ranks(image, layout)
    if not ranks:
        raise ValueError("give at least one rank")
    h, w = image.shape[:2]
    scale = math.ceil(MIN_FRAME_WIDTH / w) if w < MIN_FRAME_WIDTH else 1
    frames, captions = [], []
    for rank in tqdm(ranks, desc="animate", unit="frame", file=sys.stderr, leave=False,
                     disable=None if progress is None else not progress):
        data = encode(image, rank=rank, layout=layout, factors=factors, level=level)
        x_approx = decode(data)
        quality = psnr(image, x_approx)
        shown, _ = _display(x_approx)
        frame = Image.fromarray(np.ascontiguousarray(shown))
        frame = frame.convert("L" if frame.mode == "L" else "RGB")
        if scale > 1:
            frame = frame.resize((w * scale, h * scale), Image.Resampling.NEAREST)
        db = "exact" if math.isinf(quality) else f"PSNR {quality:.2f} dB"
        frames.append(frame)
        captions.append([
            f"rank {rank}: {len(data):,} bytes ({8 * len(data) / (h * w):.2f} bpp), {db}",
            f"Xapprox in memory: {'x'.join(map(str, x_approx.shape))} {x_approx.dtype} = "
            f"{x_approx.nbytes:,} bytes, the same as X"])
    width = frames[0].width
    pad = max(4, width // 100)
    size = _font_size(width, [t for lines in captions for t in lines], pad)
    return [_caption(f, lines, size, pad) for f, lines in zip(frames, captions, strict=True)]


def save_animation(frames: Sequence[Image.Image], path: Path, *, duration: int = 700,
                   last: int = 2500) -> None:
    """Write ``frames`` as an animated GIF or WebP (from the extension), atomically.

    ``duration`` is each frame's time in milliseconds, ``last`` the final frame's.
    """
    formats: dict[str, tuple[str, dict[str, Any]]] = {
        ".gif": ("GIF", {"optimize": False}),
        ".webp": ("WEBP", {"quality": 90, "method": 4})}
    if path.suffix.lower() not in formats:
        raise ValueError(f"animation must be .gif or .webp, got {path.name!r}")
    fmt_name, options = formats[path.suffix.lower()]
    buf = io.BytesIO()
    frames[0].save(buf, format=fmt_name, save_all=True, append_images=list(frames[1:]),
                   duration=[duration] * (len(frames) - 1) + [last], loop=0, **options)
    atomic_write(path, buf.getvalue())
