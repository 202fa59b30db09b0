"""The SVD algorithm race: speed and accuracy of five ways to factorize photographs.

usage: python tools/svd_algorithms.py PATH... [--rank 50] [--scales 0.25,0.5,1] [--plot out.png]
                                             [--runs 1] [--check]

PATH is image files or folders of them. Each image is taken as one grey matrix: its luminance
Y = 0.299 R + 0.587 G + 0.114 B (BT.601, in float64, not rounded; grey images as they are,
alpha ignored; :func:`svdcodec.whole.spectrum.luminance`), optionally resized (``--scales``,
Lanczos on the luminance) to get several sizes.

The algorithms (all LAPACK but the last two):

- **gesvd, QR iteration.** Householder reflections reduce A to an upper bidiagonal B = Q₁ᵀ A P₁
  (O(mn²) flops); implicit zero-shift/shifted QR sweeps (Golub–Kahan, Demmel–Kahan) then chase a
  bulge down B's diagonal, each sweep a product of Givens rotations, until the off-diagonal
  entries fall below the tolerance; the rotations are accumulated into U and V.
- **gesdd, divide and conquer.** The same bidiagonalization, then B is split in two by removing
  one row, each half is solved recursively, and the halves are glued back by solving a secular
  equation for the new singular values (a rank-one update); vectors come from matrix products,
  which is why it is many times faster than gesvd with vectors.
- **gejsv, one-sided Jacobi** (Drmač–Veselić 2008, ``scipy.linalg.lapack.dgejsv``). After a
  pivoted QR preconditioning step, plane rotations are applied to *pairs of columns* of A
  (working on AV, never forming AᵀA) so as to make each pair orthogonal; sweeps over all pairs
  repeat until every pair is orthogonal to working accuracy. The column norms are then the
  singular values and the normalized columns U. Slower, but accurate to high *relative*
  accuracy for matrices that are well conditioned up to a column scaling.
- **randomized** (Halko, Martinsson & Tropp 2011): multiply A by a random n×(k+p) matrix,
  sharpen the sample with q power iterations (AAᵀ)^q, orthonormalize it into Q, and take the
  SVD of the small QᵀA. Only the leading k triplets, at the cost of a few products.
- **Gram**: the eigen-decomposition of the smaller Gram matrix AᵀA (eigh); σ = sqrt(λ),
  U = AV/σ. It squares the condition number: σ below about sqrt(eps)·σ_max (1.5e-8·σ_max in
  float64, 3.5e-4·σ_max in float32) have no correct digit.

The reference is LAPACK gesvd in float64 (QR iteration: backward stable, the slowest and most
conservative driver). ``--check`` tests it, and every full method, on a matrix of known
spectrum built from orthogonal factors, A = Q₁ diag(σ) Q₂ᵀ with σ from 1e4 down to 1e-8
(forming A in float64 perturbs each σ by about eps·σ_max, so the check is of absolute error
against σ_max, which is what backward-stable SVDs promise).

Columns (medians over the images of each size): wall time; |σ_max − ref| / σ_max;
|σ_min − ref| / σ_max (relative to σ_max because photographs can be rank-deficient: the
luminance of kodim01 has σ_min = 0; full SVDs only); |σ_k − ref| / σ_k; ‖U_k − U_ref‖₂ and
‖V_k − V_ref‖₂ of the leading k vectors after flipping each column's sign to match (large for
vectors whose singular values nearly tie, however good the subspace); the rank-k relative
error ‖A − U S Vᵀ‖_F / ‖A‖_F and how far it exceeds the exact (Eckart–Young) one.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.linalg
import scipy.linalg.lapack
from PIL import Image

from svdcodec.pillow.convert import to_array
from svdcodec.whole.linalg import truncated_svd
from svdcodec.whole.spectrum import luminance

Factors = tuple[np.ndarray, np.ndarray, np.ndarray]
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp", ".ppm", ".pgm"}
REFERENCE = "gesvd (QR iteration)"
FLOOR = 1e-17  # exact zeros (the reference itself) cannot sit on a log axis


@dataclass(frozen=True)
class Method:
    name: str
    run: Callable[[np.ndarray, int], Factors]
    full: bool  # every singular value (else only the leading k)


@dataclass
class Row:
    method: str
    image: str
    shape: tuple[int, int]
    seconds: float
    err_smax: float
    err_smin: float  # nan for truncated methods
    err_sk: float
    err_u: float
    err_v: float
    rel_error: float
    excess: float  # rel_error / exact - 1


# --- the algorithms ---------------------------------------------------------------------------
def svd_gesvd(a: np.ndarray, k: int) -> Factors:
    return scipy.linalg.svd(a, full_matrices=False, lapack_driver="gesvd", check_finite=False)


def svd_gesdd(a: np.ndarray, k: int) -> Factors:
    return scipy.linalg.svd(a, full_matrices=False, lapack_driver="gesdd", check_finite=False)


def svd_jacobi(a: np.ndarray, k: int = 0) -> Factors:
    """Thin SVD by LAPACK dgejsv (preconditioned one-sided Jacobi); every singular value.

    dgejsv needs m >= n, so a wide matrix is factorized as its transpose. Options (scipy's
    integer codes for LAPACK's letters): JOBA=0 'C' (high relative accuracy for A = B D with
    B well conditioned, no rank truncation), JOBU=0 'U' (the m×n U), JOBV=0 'V', JOBR=0 'N'
    (no restricted range: tiny σ are kept, not zeroed), JOBT=0, JOBP=0 'N' (no perturbation).
    """
    tall = a.shape[0] >= a.shape[1]
    b = np.asfortranarray(a if tall else a.T)
    sva, u, v, work, _iwork, info = scipy.linalg.lapack.dgejsv(
        b, joba=0, jobu=0, jobv=0, jobr=0, jobt=0, jobp=0)
    if info < 0:
        raise ValueError(f"dgejsv: argument {-info} is invalid")
    if info > 0:
        raise np.linalg.LinAlgError(f"dgejsv did not converge (info={info})")
    # LAPACK: the singular values are (WORK(1)/WORK(2)) * SVA. The ratio is 1 unless σ_max
    # would overflow or small σ were saved from underflow by scaling A; ignoring it would
    # return scaled values in exactly those cases.
    scale = work[0] / work[1]
    s = scale * sva
    if not (np.isfinite(s).all() and np.all(np.diff(s) <= 0)):
        raise np.linalg.LinAlgError("dgejsv returned unsorted or non-finite singular values")
    return (u, s, v.T) if tall else (v, s, u.T)


def gram_svd_float32(a: np.ndarray, k: int) -> Factors:
    """Rank-k SVD of ``a`` (m, n) from eigh of its smaller Gram matrix, all in float32."""
    tall = a.shape[0] >= a.shape[1]
    b = (a if tall else a.T).astype(np.float32)
    n = b.shape[1]
    w, v = scipy.linalg.eigh(b.T @ b, subset_by_index=(n - k, n - 1))
    w, v = w[::-1], v[:, ::-1]
    s = np.sqrt(np.maximum(w, 0.0))
    u = (b @ v) / np.where(s > 0, s, 1.0)  # s == 0 only for a zero image; u is then 0
    u, s, v = u.astype(np.float64), s.astype(np.float64), v.astype(np.float64)
    return (u, s, v.T) if tall else (v, s, u.T)


def methods() -> list[Method]:
    table = [Method(REFERENCE, svd_gesvd, True),
             Method("gesdd (divide & conquer)", svd_gesdd, True),
             Method("gejsv (one-sided Jacobi)", svd_jacobi, True)]
    for q in (2, 4, 7):
        table.append(Method(f"randomized q={q}", lambda a, k, q=q: truncated_svd(
            a, k, method="randomized", n_iter=q), False))
    table.append(Method("gram eigh f64", lambda a, k: truncated_svd(a, k, method="gram"), False))
    table.append(Method("gram eigh f32", gram_svd_float32, False))
    return table


# --- measuring --------------------------------------------------------------------------------
def timed(fn: Callable[[], Factors], runs: int) -> tuple[float, Factors]:
    times, out = [], None
    for _ in range(runs):
        # numpy and scipy bundle separate OpenBLAS thread pools; a pause lets the previous
        # method's spinning workers fall asleep so they do not slow this one down.
        time.sleep(0.05)
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    assert out is not None
    return statistics.median(times), out


def distance(x: np.ndarray, ref: np.ndarray) -> float:
    """||x - ref||_2 after flipping each column of x to agree in sign with ref."""
    signs = np.sign(np.sum(x * ref, axis=0))
    signs[signs == 0] = 1.0
    return float(np.linalg.norm(x * signs - ref, 2))


def race(a: np.ndarray, k: int, name: str = "", runs: int = 1) -> list[Row]:
    """One row per method for the matrix ``a``; the first method (gesvd) is the reference."""
    norm = float(np.linalg.norm(a))
    rows: list[Row] = []
    ref: Factors | None = None
    for method in methods():
        seconds, (u, s, vt) = timed(lambda m=method: m.run(a, k), runs)
        if ref is None:
            ref = (u, s, vt)
        u_ref, s_ref, vt_ref = ref
        exact = float(np.sqrt(np.sum(s_ref[k:] ** 2))) / norm if norm else 0.0
        uk, sk, vtk = u[:, :k], s[:k], vt[:k]
        rel_error = float(np.linalg.norm(a - (uk * sk) @ vtk)) / norm if norm else 0.0
        top = s_ref[0] if s_ref[0] > 0 else 1.0
        rows.append(Row(
            method=method.name, image=name, shape=a.shape, seconds=seconds,
            err_smax=abs(s[0] - s_ref[0]) / top,
            err_smin=abs(s[-1] - s_ref[-1]) / top if method.full else float("nan"),
            err_sk=abs(sk[-1] - s_ref[k - 1]) / (s_ref[k - 1] or 1.0),
            err_u=distance(uk, u_ref[:, :k]), err_v=distance(vtk.T, vt_ref[:k].T),
            rel_error=rel_error,
            excess=rel_error / exact - 1.0 if exact > 0 else rel_error))
    return rows


def known_spectrum_check(m: int = 300, n: int = 200, seed: int = 0) -> list[tuple[str, float]]:
    """max |σ_i − σ_i,true| / σ_max of each full method on A = Q₁ diag(σ) Q₂ᵀ."""
    rng = np.random.default_rng(seed)
    q1 = np.linalg.qr(rng.standard_normal((m, n)))[0]
    q2 = np.linalg.qr(rng.standard_normal((n, n)))[0]
    s_true = np.logspace(4, -8, n)
    a = (q1 * s_true) @ q2.T
    return [(meth.name, float(np.max(np.abs(meth.run(a, n)[1] - s_true)) / s_true[0]))
            for meth in methods() if meth.full]


# --- images -----------------------------------------------------------------------------------
def image_paths(paths: Sequence[str]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        else:
            out.append(p)
    return out


def load_grey(path: Path, scale: float = 1.0) -> np.ndarray:
    """The image's float64 luminance, resized by ``scale`` (Lanczos) if not 1."""
    with Image.open(path) as im:
        y = luminance(to_array(im))
    if scale != 1.0:
        h, w = y.shape
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        y = np.asarray(Image.fromarray(y.astype(np.float32), mode="F").resize(
            size, Image.Resampling.LANCZOS), dtype=np.float64)
    return y


# --- output -----------------------------------------------------------------------------------
def medians(rows: Sequence[Row]) -> list[Row]:
    """One row per method: the median of each column over the images."""
    out = []
    for name in dict.fromkeys(r.method for r in rows):
        group = [r for r in rows if r.method == name]

        def med(attr: str, group: list[Row] = group) -> float:
            return statistics.median(getattr(r, attr) for r in group)

        out.append(Row(name, f"{len(group)} images", group[0].shape, med("seconds"),
                       med("err_smax"), med("err_smin"), med("err_sk"), med("err_u"),
                       med("err_v"), med("rel_error"), med("excess")))
    return out


def _sci(x: float) -> str:
    return "-" if x != x else f"{x:.1e}"


def format_table(rows: Sequence[Row], k: int) -> str:
    head = ("method", "time ms", "err σmax", "err σmin", f"err σ{k}", "|U-Uref|2",
            "|V-Vref|2", "rank-k err", "vs exact")
    body = [(r.method, f"{1000 * r.seconds:.1f}", _sci(r.err_smax), _sci(r.err_smin),
             _sci(r.err_sk), _sci(r.err_u), _sci(r.err_v), f"{r.rel_error:.5f}",
             f"{100 * r.excess:+.3f} %") for r in rows]
    widths = [max(len(line[i]) for line in (head, *body)) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                       for i, (c, w) in enumerate(zip(line, widths, strict=True)))
             for line in (head, *body)]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def plot(rows: Sequence[Row], k: int, path: str) -> None:
    """Four panels against the image size m·n: time, σ errors, U/V errors, rank-k excess."""
    import matplotlib  # lazily: only --plot needs it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(r.method for r in rows))
    sizes = sorted({r.shape[0] * r.shape[1] for r in rows})
    fig, axes = plt.subplots(2, 2, figsize=(14, 10))
    panels = [
        (axes[0, 0], [("seconds", "-")], "time (s)", "time against size"),
        (axes[0, 1], [("err_smax", "-"), ("err_smin", "--")],
         "error / σmax", "σmax (solid) and σmin (dashed, full SVDs), against gesvd"),
        (axes[1, 0], [("err_u", "-"), ("err_v", "--")],
         "‖·‖₂ after sign alignment", f"U_k (solid) and V_k (dashed), k = {k}"),
        (axes[1, 1], [("excess", "-")], "|rank-k error / exact − 1|",
         f"rank-{k} error beyond Eckart–Young"),
    ]
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, series, ylabel, title in panels:
        for i, name in enumerate(names):
            for attr, style in series:
                ys = []
                for size in sizes:
                    vals = [abs(getattr(r, attr)) for r in rows
                            if r.method == name and r.shape[0] * r.shape[1] == size]
                    vals = [v for v in vals if v == v]
                    ys.append(max(statistics.median(vals), FLOOR) if vals else np.nan)
                ax.plot(sizes, ys, style, marker="o", ms=4, color=colours[i % len(colours)],
                        label=name if style == "-" else None)
        ax.set(xscale="log", yscale="log", xlabel="pixels m·n (medians over the images)",
               ylabel=ylabel if ax is axes[0, 0] else f"{ylabel} (0 drawn at {FLOOR:g})",
               title=title)
        ax.grid(True, which="both", alpha=0.3)
    axes[0, 0].legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", metavar="PATH", help="images or folders of images")
    parser.add_argument("--rank", type=int, default=50, help="k (default 50)")
    parser.add_argument("--scales", default="0.25,0.5,1",
                        help="resize factors (default 0.25,0.5,1: time against size)")
    parser.add_argument("--runs", type=int, default=1, help="timed runs per method (median)")
    parser.add_argument("--plot", metavar="PNG", help="also write the four panels here")
    parser.add_argument("--check", action="store_true",
                        help="check the full SVDs on a matrix of known spectrum first")
    args = parser.parse_args(argv)
    try:
        scales = sorted(float(s) for s in args.scales.split(","))
    except ValueError:
        parser.error(f"--scales: expected numbers like 0.5,1, got {args.scales!r}")
    if not args.paths and not args.check:
        parser.error("give images or folders (or --check)")
    if args.check:
        print("known spectrum (300x200, σ = 1e4 .. 1e-8): max |σ - σtrue| / σmax")
        for name, err in known_spectrum_check():
            print(f"  {name:28s} {err:.1e}")
    paths = image_paths(args.paths)
    if args.paths and not paths:
        print("error: no images found", file=sys.stderr)
        return 1
    rows: list[Row] = []
    for scale in scales:
        scale_rows: list[Row] = []
        for path in paths:
            try:
                a = load_grey(path, scale)
            except OSError as e:
                print(f"error: cannot read {path}: {e}", file=sys.stderr)
                return 1
            if not 1 <= args.rank <= min(a.shape):
                print(f"error: --rank must be in [1, {min(a.shape)}] for {path} at scale "
                      f"{scale:g}, got {args.rank}", file=sys.stderr)
                return 2
            scale_rows += race(a, args.rank, path.name, args.runs)
        shapes = sorted({r.shape for r in scale_rows})
        print(f"\nscale {scale:g}: {len(paths)} images, luminance (BT.601), "
              f"{', '.join(f'{m}x{n}' for m, n in shapes)}, rank {args.rank}, "
              f"reference {REFERENCE} float64; medians over the images")
        print(format_table(medians(scale_rows), args.rank))
        rows += scale_rows
    if args.plot and rows:
        plot(rows, args.rank, args.plot)
        print(f"plot written to {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
