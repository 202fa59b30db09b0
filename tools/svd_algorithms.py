"""Compare SVD algorithms on one greyscale image: speed and accuracy of the rank-k factors.

usage: python tools/svd_algorithms.py IMAGE [--rank 50] [--plot out.png]

Rows: LAPACK gesdd (the reference) and gesvd, the randomized SVD with 2, 4 and 7 power
iterations, and the Gram route (eigh of AᵀA, with A transposed if wide so that AᵀA is the
smaller Gram matrix) in float64 and float32. Columns: median wall time of 3 runs, relative
error of s[0] and s[k-1] against gesdd, spectral-norm distance of U_k and V_k to gesdd's after
aligning signs (large for vectors whose singular values nearly tie, however good the subspace),
the relative rank-k error ||A - U S Vᵀ||_F / ||A||_F and how far it exceeds the exact one.

Why the Gram route squares the condition number: the eigenvalues of AᵀA are σ², so
κ(AᵀA) = κ(A)². eigh finds them with an absolute error of about eps·σ_max², so σ = sqrt(λ) has an
error of about eps·σ_max²/σ: singular values below about sqrt(eps)·σ_max (1.5e-8·σ_max in
float64, 3.5e-4·σ_max in float32) have no correct digit left, and U = A V / σ loses
orthogonality in the same proportion.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from PIL import Image

from svdcodec.whole.linalg import truncated_svd

Factors = tuple[np.ndarray, np.ndarray, np.ndarray]
RUNS = 3


@dataclass
class Row:
    name: str
    seconds: float
    err_s_first: float
    err_s_last: float
    err_u: float
    err_v: float
    rel_error: float
    excess: float  # rel_error / exact rel_error - 1


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


def methods(k: int) -> dict[str, Callable[[np.ndarray], Factors]]:
    table: dict[str, Callable[[np.ndarray], Factors]] = {
        "gesdd": lambda a: truncated_svd(a, k, method="gesdd"),
        "gesvd": lambda a: truncated_svd(a, k, method="gesvd"),
    }
    for n_iter in (2, 4, 7):
        table[f"randomized q={n_iter}"] = (
            lambda a, q=n_iter: truncated_svd(a, k, method="randomized", n_iter=q)
        )
    table["gram eigh f64"] = lambda a: truncated_svd(a, k, method="gram")
    table["gram eigh f32"] = lambda a: gram_svd_float32(a, k)
    return table


def timed(fn: Callable[[np.ndarray], Factors], a: np.ndarray) -> tuple[float, Factors]:
    times, out = [], None
    for _ in range(RUNS):
        # numpy and scipy bundle separate OpenBLAS thread pools; a pause lets the previous
        # method's spinning workers fall asleep so they do not slow this one down.
        time.sleep(0.2)
        start = time.perf_counter()
        out = fn(a)
        times.append(time.perf_counter() - start)
    assert out is not None
    return statistics.median(times), out


def distance(x: np.ndarray, ref: np.ndarray) -> float:
    """||x - ref||_2 after flipping each column of x to agree in sign with ref."""
    signs = np.sign(np.sum(x * ref, axis=0))
    signs[signs == 0] = 1.0
    return float(np.linalg.norm(x * signs - ref, 2))


def compare(a: np.ndarray, k: int) -> list[Row]:
    norm = float(np.linalg.norm(a))
    rows: list[Row] = []
    ref: Factors | None = None
    exact = 0.0
    for name, fn in methods(k).items():
        seconds, (u, s, vt) = timed(fn, a)
        rel_error = float(np.linalg.norm(a - (u * s) @ vt)) / norm
        if ref is None:  # gesdd comes first and is the reference
            ref, exact = (u, s, vt), rel_error
        u_ref, s_ref, vt_ref = ref
        rows.append(Row(
            name=name,
            seconds=seconds,
            err_s_first=abs(s[0] - s_ref[0]) / s_ref[0],
            err_s_last=abs(s[-1] - s_ref[-1]) / s_ref[-1],
            err_u=distance(u, u_ref),
            err_v=distance(vt.T, vt_ref.T),
            rel_error=rel_error,
            excess=rel_error / exact - 1.0 if exact > 0 else 0.0,
        ))
    return rows


def format_table(rows: list[Row], k: int) -> str:
    head = ("method", "time ms", "err s[0]", f"err s[{k - 1}]", "|U-Uref|2", "|V-Vref|2",
            "rel err", "vs exact")
    body = [
        (r.name, f"{1000 * r.seconds:.1f}", f"{r.err_s_first:.1e}", f"{r.err_s_last:.1e}",
         f"{r.err_u:.1e}", f"{r.err_v:.1e}", f"{r.rel_error:.5f}", f"{100 * r.excess:+.3f} %")
        for r in rows
    ]
    widths = [max(len(line[i]) for line in (head, *body)) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                       for i, (c, w) in enumerate(zip(line, widths, strict=True)))
             for line in (head, *body)]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def plot(rows: list[Row], k: int, path: str) -> None:
    import matplotlib  # lazily: only --plot needs it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r.name for r in rows]
    x = np.arange(len(rows))
    floor = 1e-17  # exact zeros (the reference itself) cannot sit on a log axis
    fig, (ax_time, ax_err) = plt.subplots(1, 2, figsize=(13, 4.8))
    ax_time.bar(x, [1000 * r.seconds for r in rows], color="tab:blue")
    ax_time.set(yscale="log", ylabel="ms (median of 3)", title="time")
    series = {
        f"rank-{k} error / exact - 1": [r.excess for r in rows],
        f"relative error of s[{k - 1}]": [r.err_s_last for r in rows],
        "|U - Uref|2": [r.err_u for r in rows],
    }
    width = 0.8 / len(series)
    for i, (label, values) in enumerate(series.items()):
        ax_err.bar(x + (i - 1) * width, np.maximum(values, floor), width, label=label)
    ax_err.set(yscale="log", ylim=(floor, 10), title="error against gesdd")
    ax_err.legend(fontsize="small")
    for ax in (ax_time, ax_err):
        ax.set_xticks(x, names, rotation=45, ha="right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", help="image file; converted to greyscale (L)")
    parser.add_argument("--rank", type=int, default=50, help="k (default 50)")
    parser.add_argument("--plot", metavar="PNG", help="also write a bar chart here")
    args = parser.parse_args(argv)
    try:
        with Image.open(args.image) as im:
            a = np.asarray(im.convert("L"), dtype=np.float64)
    except OSError as e:
        print(f"error: cannot read {args.image}: {e}", file=sys.stderr)
        return 1
    if not 1 <= args.rank <= min(a.shape):
        print(f"error: --rank must be in [1, {min(a.shape)}], got {args.rank}", file=sys.stderr)
        return 2
    print(f"{args.image}: {a.shape[0]}x{a.shape[1]} greyscale, rank {args.rank}")
    rows = compare(a, args.rank)
    print(format_table(rows, args.rank))
    if args.plot:
        plot(rows, args.rank, args.plot)
        print(f"plot written to {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
