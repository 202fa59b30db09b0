"""The report of ``svdcodec stack``: what a stack of N frames costs as N separate ``.svdi``
files and in each stack coding, and the spectrum of its snapshot matrix.

Rows (:class:`CodingRow`), in this order:

- ``files``: N files, :func:`svdcodec.encode` on each frame (the per-frame coding);
- ``stack:CODING``: one file of :func:`svdcodec.encode_stack` for each coding asked (``frames``,
  ``tall``, ``snapshot``; spec section 14), decoded with :func:`svdcodec.decode_stack`. Unless
  options are given, at ``target_psnr`` = the mean PSNR of the N files (equal quality);
- ``webp`` (asked for): N WebP files, each the smallest whose PSNR reaches that of the frame's
  ``.svdi`` file (:func:`svdcodec.teach.peers.match_psnr`).

PSNR per row: the mean and the minimum over frames, and the pooled PSNR of the whole stack (the
squared errors of all frames together). Numbers only; :mod:`.stackplots` draws the figure.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .. import codec
from ..metrics import psnr
from .peers import match_psnr
from .report import _finite
from .snapshot import SnapshotSVD, as_frames, frame_ranks, snapshot_svd

__all__ = ["CODING_CHOICES", "PSNR_TARGETS", "STACK_CODINGS", "CodingRow", "StackComparison",
           "compare_stack", "format_stack_table"]

SCHEMA = 1  # of the JSON record
STACK_CODINGS = ("frames", "tall", "snapshot")  # the codings compared by default
CODING_CHOICES = ("auto", *STACK_CODINGS)  # auto: encode_stack's pick, the smallest
PSNR_TARGETS = (30.0, 35.0, 40.0)
ENERGY_FRACTIONS = (0.9, 0.99, 0.999)
CODING_NAMES = {"files": "N files (encode per frame)", "stack:frames": "stack: frames",
                "stack:tall": "stack: tall (shared basis)",
                "stack:snapshot": "stack: snapshot (X = U S Vt)", "stack:auto": "stack: auto",
                "webp": "N WebP files (same PSNR per frame)"}


@dataclass(frozen=True)
class CodingRow:
    """One way of storing the stack: its bytes and the quality of its decoded frames."""

    coding: str  # "files", "stack:<coding>" or "webp"
    total_bytes: int
    frames: int
    pixels: int  # H·W of one frame
    psnr_mean: float  # mean over frames of each frame's PSNR (inf if all are exact)
    psnr_min: float
    psnr_pooled: float  # PSNR of the stack as one array
    options: dict[str, Any] = field(default_factory=dict)  # what the encoder was given
    stored: str | None = None  # coding "auto": the coding it chose

    @property
    def bytes_per_frame(self) -> float:
        return self.total_bytes / self.frames

    @property
    def bpp(self) -> float:
        return 8 * self.total_bytes / (self.frames * self.pixels)


@dataclass(frozen=True)
class StackComparison:
    """A stack's rows, its snapshot SVD and the ranks each view needs for each PSNR."""

    shape: tuple[int, ...]  # (N, H, W[, C])
    dtype: str
    center: bool
    rows: tuple[CodingRow, ...]
    snapshot: SnapshotSVD
    targets: tuple[dict[str, Any], ...]  # per PSNR target: both views' ranks and numbers
    notes: tuple[str, ...] = ()

    def row(self, coding: str) -> CodingRow | None:
        return next((r for r in self.rows if r.coding == coding), None)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (infinities as None)."""
        snap = self.snapshot
        rows = [{**asdict(r), "bytes_per_frame": r.bytes_per_frame, "bpp": r.bpp}
                for r in self.rows]
        record = {"schema": SCHEMA, "shape": list(self.shape), "dtype": self.dtype,
                  "center": self.center, "rows": rows,
                  "snapshot": {"rows": snap.pixels, "cols": snap.frames,
                               "sigma": snap.s.tolist(), "energy": snap.energy().tolist()},
                  "targets": list(self.targets), "notes": list(self.notes)}
        finite: dict[str, Any] = _finite(record)
        return finite

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)


def _row(coding: str, stack: np.ndarray, decoded: np.ndarray, total_bytes: int,
         options: dict[str, Any]) -> CodingRow:
    scores = [psnr(a, b) for a, b in zip(stack, decoded, strict=True)]
    return CodingRow(coding, total_bytes, len(stack), stack.shape[1] * stack.shape[2],
                     float(np.mean(scores)), min(scores), psnr(stack, decoded), options)


def files_row(stack: np.ndarray, options: dict[str, Any]) -> tuple[CodingRow, list[float]]:
    """N separate files, and each frame's PSNR."""
    datas = [codec.encode(frame, **options) for frame in stack]
    decoded = np.stack([codec.decode(d) for d in datas]).reshape(stack.shape)
    return (_row("files", stack, decoded, sum(map(len, datas)), options),
            [psnr(a, b) for a, b in zip(stack, decoded, strict=True)])


def stack_row(stack: np.ndarray, coding: str, options: dict[str, Any]) -> CodingRow:
    """One file of ``encode_stack(stack, coding=coding, **options)``."""
    data = codec.encode_stack(stack, coding=coding, **options)
    decoded = np.asarray(codec.decode_stack(data)).reshape(stack.shape)
    row = _row(f"stack:{coding}", stack, decoded, len(data), options)
    if coding == "auto":
        row = dataclasses.replace(row, stored=codec.read_header(data).stack_coding)
    return row


def webp_row(stack: np.ndarray, targets: Sequence[float]) -> CodingRow:
    """N WebP files, frame j the smallest that reaches ``targets[j]`` dB (uint8 stacks)."""
    total, decoded_psnr = 0, []
    for frame, target in zip(stack, targets, strict=True):
        point = match_psnr(frame, "webp", min(target, 99.0))
        total += point.nbytes
        decoded_psnr.append(point.psnr)
    # Pooled PSNR from the per-frame errors: every frame has the same number of samples.
    errors = [0.0 if math.isinf(p) else 255.0 ** 2 / 10 ** (p / 10) for p in decoded_psnr]
    pooled = math.inf if not any(errors) else 10 * math.log10(255.0 ** 2 / np.mean(errors))
    return CodingRow("webp", total, len(stack), stack.shape[1] * stack.shape[2],
                     float(np.mean(decoded_psnr)), min(decoded_psnr), pooled,
                     {"target": "each frame's .svdi PSNR"})


def view_targets(stack: np.ndarray, snap: SnapshotSVD,
                 targets: Sequence[float] = PSNR_TARGETS) -> tuple[dict[str, Any], ...]:
    """For each PSNR: the snapshot rank k and k(P+N+1)/(PN), against the ranks of each frame
    as its own matrices and the numbers they store (both the truncation alone)."""
    out = []
    for t in targets:
        k = snap.rank_for(t)
        ranks, numbers = frame_ranks(stack, t)
        out.append({"psnr": t, "snapshot_rank": k, "snapshot_fraction": snap.values_fraction(k),
                    "frame_rank_mean": float(np.mean(ranks)), "frame_rank_max": max(ranks),
                    "frames_fraction": numbers / stack.size})
    return tuple(out)


def compare_stack(frames: np.ndarray | Sequence[np.ndarray], *, quality: float | None = None,
                  target_psnr: float | None = None,
                  codings: Sequence[str] = STACK_CODINGS, equal_psnr: bool = True,
                  webp: bool = False, center: bool = False) -> StackComparison:
    """Every row of the module docstring, the snapshot SVD and :func:`view_targets`.

    ``quality`` or ``target_psnr`` (not both) go to every encoder; with neither, the N files
    use the default quality and, if ``equal_psnr``, the stack codings get ``target_psnr`` =
    the files' mean PSNR (else the default quality too).
    """
    if quality is not None and target_psnr is not None:
        raise ValueError("give quality or target_psnr, not both")
    bad = [c for c in codings if c not in CODING_CHOICES]
    if bad:
        raise ValueError(f"codings must be among {CODING_CHOICES}, got {bad}")
    stack = as_frames(frames)
    if webp and stack.dtype != np.uint8:
        raise ValueError(f"the WebP row needs 8-bit frames, got {stack.dtype}")
    options: dict[str, Any] = {}
    if quality is not None:
        options["quality"] = quality
    if target_psnr is not None:
        options["target_psnr"] = target_psnr
    files, frame_psnr = files_row(stack, options)
    rows, notes = [files], []
    stack_options = dict(options)
    if not options and equal_psnr and math.isfinite(files.psnr_mean) and codings:
        stack_options = {"target_psnr": round(files.psnr_mean, 2)}
        notes.append(f"stack codings asked for target_psnr={stack_options['target_psnr']}, the "
                     f"N files' mean PSNR; frames aims at it in each frame, tall in its coded "
                     f"image, snapshot over all samples (spec 14.6)")
    rows += [stack_row(stack, coding, stack_options) for coding in codings]
    if webp:
        rows.append(webp_row(stack, frame_psnr))
    snap = snapshot_svd(stack, center=center)
    return StackComparison(tuple(stack.shape), str(stack.dtype), center, tuple(rows), snap,
                           view_targets(stack, snap), tuple(notes))


# --- the text table ---------------------------------------------------------------------------
def _db(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:.2f}"


def _options(options: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in options.items()) or "defaults"


def _aligned(head: Sequence[str], body: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in (head, *body)) for i in range(len(head))]
    lines = []
    for row in (head, *body):
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths, strict=True))))
        if row is head:
            lines.append("-" * len(lines[-1]))
    return lines


def _coding_lines(c: StackComparison) -> list[str]:
    files = c.rows[0]
    head = ["coding", "bytes", "bytes/frame", "bpp", "vs N files", "mean dB", "min dB",
            "pooled dB", "options"]
    body = [[CODING_NAMES.get(r.coding, r.coding) + (f" = {r.stored}" if r.stored else ""),
             f"{r.total_bytes:,}",
             f"{r.bytes_per_frame:,.0f}", f"{r.bpp:.3f}",
             f"{r.total_bytes / files.total_bytes:.1%}", _db(r.psnr_mean), _db(r.psnr_min),
             _db(r.psnr_pooled), _options(r.options)] for r in c.rows]
    return _aligned(head, body)


def _spectrum_lines(c: StackComparison) -> list[str]:
    snap = c.snapshot
    n = len(snap.s)
    energy = snap.energy()
    ranks = sorted({k for k in (1, 2, 3, 5, 10, 20, 40, n) if k <= n})
    top = float(snap.s[0]) or 1.0
    lines = [f"sigma_i / sigma_1, i = 1..{min(n, 10)}: "
             + ", ".join(f"{v / top:.3g}" for v in snap.s[:10]),
             "energy captured by rank k (sum sigma^2 / |X|_F^2): "
             + ", ".join(f"k={k}: {energy[k]:.2%}" for k in ranks),
             "rank for " + ", ".join(f"{f:.1%}" for f in ENERGY_FRACTIONS) + " of the energy: "
             + ", ".join(str(snap.rank_for_energy(f)) for f in ENERGY_FRACTIONS), ""]
    head = ["PSNR", "snapshot rank k", "numbers k(P+N+1)/(PN)", "per-frame rank mean (max)",
            "numbers sum C k(H+W+1)/(NP)"]
    body = [[f"{t['psnr']:g} dB", str(t["snapshot_rank"]), f"{t['snapshot_fraction']:.1%}",
             f"{t['frame_rank_mean']:.1f} ({t['frame_rank_max']})",
             f"{t['frames_fraction']:.1%}"] for t in c.targets]
    return lines + _aligned(head, body)


def format_stack_table(c: StackComparison, name: str = "stack") -> str:
    """The bytes table and the spectrum table, as ``svdcodec stack`` prints them."""
    n, h, w = c.shape[:3]
    channels = c.shape[3] if len(c.shape) == 4 else 1
    snap = c.snapshot
    centred = ", mean frame subtracted" if c.center else ""
    lines = [f"{name}: {n} frames of {w}x{h}, {channels} channel(s), {c.dtype}", "",
             "bytes per coding (PSNR of the decoded frames against the originals)"]
    lines += _coding_lines(c)
    lines += [f"note: {note}" for note in c.notes]
    lines += ["", f"snapshot matrix X: {snap.pixels} x {snap.frames} (P = pixels x channels, "
              f"one frame per column{centred}); economy SVD from the "
              f"{snap.frames} x {snap.frames} Gram matrix X^T X"]
    lines += _spectrum_lines(c)
    lines += ["(ranks: the smallest whose truncation alone reaches the PSNR over the stack, "
              "Eckart-Young; per frame: each frame's own H x W matrices, the view of one image "
              "as a matrix)"]
    return "\n".join(lines)
