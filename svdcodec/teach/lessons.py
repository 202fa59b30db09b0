"""The teaching edge of ``svdcodec spectrum`` and ``svdcodec denoise``: tables and a figure.

The math is in :mod:`svdcodec.whole.spectrum` and :mod:`svdcodec.whole.denoise`; this turns it into
what the commands print and draw. matplotlib is imported only by :func:`spectrum_figure`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..metrics import psnr
from ..whole.denoise import denoise_factors, energy_rank, truncate
from ..whole.spectrum import ImageSpectrum

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PSNR_TARGETS = (30.0, 35.0, 40.0)
ENERGY_FRACTIONS = (0.7, 0.8, 0.9)
GAVISH_DONOHO = "Gavish-Donoho threshold"
MODE_TEXT = {"luminance": "the luminance Y = 0.299 R + 0.587 G + 0.114 B of colour images, the "
                          "grey channel of grey ones (one matrix, alpha ignored)",
             "per-channel": "each colour channel (one matrix each, the same rank in each; alpha "
                            "ignored)"}


# --- spectrum ---------------------------------------------------------------------------------
def spectrum_record(name: str, spec: ImageSpectrum,
                    targets: Sequence[float] = PSNR_TARGETS) -> dict[str, Any]:
    """Plain data for one image: its size, σ₁, and the rank and share each PSNR costs."""
    table = spec.psnr()
    m, n = spec.shape
    ranks = {}
    for t in targets:
        k = spec.rank_for(t)
        ranks[f"{t:g}"] = {"rank": k, "values_fraction": spec.values_fraction(k),
                           "psnr": table[k] if math.isfinite(table[k]) else None}
    return {"image": name, "mode": spec.mode, "matrices": len(spec.s), "rows": m, "cols": n,
            "peak": spec.peak, "sigma_1": float(max(s[0] for s in spec.s)), "targets": ranks,
            "sigma": [s.tolist() for s in spec.s]}


def format_spectrum_table(records: Sequence[dict[str, Any]], mode: str) -> str:
    """One line per image: the rank needed for each PSNR and r(m+n+1)/(mn) at that rank."""
    targets = list(records[0]["targets"])
    head = ["image", "m x n", "sigma_1"] + [f"{t} dB: rank (numbers)" for t in targets]
    body = []
    for r in records:
        cells = [r["image"], f"{r['rows']}x{r['cols']}", f"{r['sigma_1']:.4g}"]
        for t in targets:
            hit = r["targets"][t]
            cells.append(f"{hit['rank']} ({hit['values_fraction']:.1%})")
        body.append(cells)
    widths = [max(len(row[i]) for row in (head, *body)) for i in range(len(head))]
    lines = [f"spectrum of {MODE_TEXT[mode]}",
             "rank: the smallest rank whose truncation reaches the PSNR, exact from the "
             "Eckart-Young tail of the float64 SVD",
             "(the truncation alone: the codec's quantized factors lose a little more); "
             "numbers: r(m+n+1) / (m n), the share of X's numbers stored", ""]
    for row in (head, *body):
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths, strict=True))))
        if row is head:
            lines.append("-" * len(lines[-1]))
    return "\n".join(lines)


def spectrum_figure(named: Sequence[tuple[str, ImageSpectrum]]) -> Figure:
    """Two panels, every image together: σᵢ/σ₁ and the energy rank k leaves out,
    1 − Σσ²/‖X‖²_F (the cumulative energy's complement), both on log axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 5), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax_s, ax_e = fig.subplots(1, 2)
    styles = ("-", "--", ":", "-.")
    colours = [f"C{i % 10}" for i in range(len(named))]
    for (name, spec), colour in zip(named, colours, strict=True):
        top = max(float(s[0]) for s in spec.s) or 1.0
        channels = ["R", "G", "B"] if len(spec.s) == 3 else [""] * len(spec.s)
        for s, style, ch in zip(spec.s, styles, channels, strict=False):
            k = np.arange(1, len(s) + 1)
            label = f"{name} {ch}".strip()
            ax_s.loglog(k, np.maximum(s / top, 1e-17), style, color=colour, lw=1.2, label=label)
        cumulative = [np.cumsum(s * s) for s in spec.s]
        energy: np.ndarray = sum(cumulative[1:], cumulative[0])
        total = float(energy[-1]) or 1.0
        # What the first k components leave out, 1 - Σσ²/‖X‖²: near 1 the cumulative energy
        # itself is unreadable (92 % at rank 1 for most photographs), its complement is not.
        left = np.maximum(1.0 - energy / total, 1e-17)
        k = np.arange(1, len(energy) + 1)
        ax_e.loglog(k, left, color=colour, lw=1.5, label=name)
        for t in PSNR_TARGETS:
            rank = spec.rank_for(t)
            if 1 <= rank <= len(energy):
                ax_e.plot(rank, left[rank - 1], "o", color=colour, ms=4)
    what = "luminance" if named[0][1].mode == "luminance" else "per channel"
    ax_s.set(xlabel="component i", ylabel=r"$\sigma_i / \sigma_1$",
             title=f"Normalized singular values ({what})", ylim=(1e-6, 1.5))
    ax_e.set(xlabel="rank k", ylabel=r"$1 - \Sigma_{i \leq k} \sigma_i^2 / \|X\|_F^2$",
             title="Energy left out by rank k; dots: 30, 35, 40 dB",
             ylim=(1e-7, 1))
    for ax in (ax_s, ax_e):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    return fig


# --- denoise ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rule:
    """One way to pick the rank of each channel, and the PSNR it gives against the reference."""

    name: str
    ranks: tuple[int, ...]
    psnr: float | None


def _to_dtype(x: np.ndarray, dtype: np.dtype[np.integer[Any]]) -> np.ndarray:
    out: np.ndarray = np.rint(np.clip(x, 0, np.iinfo(dtype).max)).astype(dtype)
    return out


def _colour(image: np.ndarray) -> int:
    """How many leading channels are colour (alpha, the last of 2 or 4, is left alone)."""
    if image.ndim == 2:
        return 1
    return 1 if image.shape[2] in (1, 2) else 3


def denoise_image(noisy: np.ndarray, sigma: float | None = None,
                  reference: np.ndarray | None = None
                  ) -> tuple[np.ndarray, list[Rule], dict[str, Any]]:
    """Denoise every colour channel at its optimal hard threshold.

    Returns the denoised image (``noisy``'s shape and dtype, alpha unchanged), the rules
    (Gavish–Donoho first; with ``reference``: the noisy input, the energy rules and the best
    ranks by search, each with its PSNR) and facts for the caption (thresholds, σ).
    """
    if reference is not None and reference.shape != noisy.shape:
        raise ValueError(f"the reference must have the noisy image's shape {noisy.shape}, got "
                         f"{reference.shape}")
    cube = noisy if noisy.ndim == 3 else noisy[:, :, None]
    ref = None if reference is None else (reference if reference.ndim == 3
                                          else reference[:, :, None])
    channels = _colour(noisy)
    out = cube.copy()
    factors, results = [], []
    for c in range(channels):
        factors.append(np.linalg.svd(cube[:, :, c].astype(np.float64), full_matrices=False))
        result = denoise_factors(*factors[-1], sigma)
        results.append(result)
        out[:, :, c] = _to_dtype(result.x, cube.dtype)
    out = out if noisy.ndim == 3 else out[:, :, 0]
    facts = {"thresholds": [r.threshold for r in results], "sigma": [r.sigma for r in results],
             "known": sigma is not None, "channels": channels}
    gd = tuple(r.rank for r in results)

    def score(ranks: Sequence[int]) -> float | None:
        if ref is None:
            return None
        img = cube.copy()
        for c, ((u, s, vt), k) in enumerate(zip(factors, ranks, strict=True)):
            img[:, :, c] = _to_dtype(truncate(u, s, vt, k), cube.dtype)
        return psnr(ref[:, :, :channels], img[:, :, :channels])

    rules = [Rule(GAVISH_DONOHO, gd, score(gd))]
    if ref is None:
        return out, rules, facts
    rules.insert(0, Rule("noisy input", (), psnr(ref[:, :, :channels], cube[:, :, :channels])))
    for squared in (False, True):
        for f in ENERGY_FRACTIONS:
            ranks = tuple(max(1, energy_rank(s, f, squared=squared)) for _, s, _ in factors)
            what = "sigma^2" if squared else "sigma"
            rules.append(Rule(f"{f:.0%} of sum {what}", ranks, score(ranks)))
    best = tuple(_best_rank(u, s, vt, ref[:, :, c].astype(np.float64))
                 for c, (u, s, vt) in enumerate(factors))
    rules.append(Rule("best rank by search (oracle)", best, score(best)))
    return out, rules, facts


def _best_rank(u: np.ndarray, s: np.ndarray, vt: np.ndarray, clean: np.ndarray) -> int:
    """The k minimizing ‖U_k S_k V_kᵀ − clean‖²_F, for all k at once:
    ‖clean‖² − 2 Σ_{i<k} σ_i u_iᵀ clean v_i + Σ_{i<k} σ_i² (before rounding to samples)."""
    projections = np.einsum("mi,mn,in->i", u, clean, vt)
    err = np.concatenate(([0.0], np.cumsum(s * s - 2 * s * projections)))
    return int(np.argmin(err))


def format_denoise(name: str, shape: tuple[int, ...], rules: Sequence[Rule],
                   facts: dict[str, Any]) -> str:
    channels = facts["channels"]
    what = "grey" if channels == 1 else "per colour channel (R, G, B)"
    if len(shape) == 3 and shape[2] in (2, 4):
        what += ", alpha kept as it is"
    if facts["known"]:
        noise = f"noise sigma {facts['sigma'][0]:g} (given): tau = lambda*(beta) sqrt(n) sigma"
    else:
        noise = ("noise sigma unknown: tau = omega(beta) median(sigma_i), which implies sigma ~ "
                 + ", ".join(f"{s:.2f}" for s in facts["sigma"]))
    m, n = sorted(shape[:2])
    lines = [f"{name}: {shape[1]}x{shape[0]}, {what}; beta = {m}/{n} = {m / n:.3f}", noise,
             "threshold tau: " + ", ".join(f"{t:.1f}" for t in facts["thresholds"]),
             "Gavish & Donoho 2014, 'The optimal hard threshold for singular values is 4/sqrt(3)'"
             ", IEEE Trans. Inf. Theory 60(8)"]
    if rules[0].psnr is None:
        lines.append("rank chosen: " + ",".join(map(str, rules[0].ranks)))
        return "\n".join(lines)
    width = max(len(r.name) for r in rules)
    lines += ["", f"{'rule'.ljust(width)}  {'ranks':>14}  PSNR vs reference",
              "-" * (width + 35)]
    for r in rules:
        ranks = ",".join(map(str, r.ranks)) or "-"
        db = "inf" if r.psnr is None or math.isinf(r.psnr) else f"{r.psnr:.2f} dB"
        lines.append(f"{r.name.ljust(width)}  {ranks:>14}  {db}")
    return "\n".join(lines)
