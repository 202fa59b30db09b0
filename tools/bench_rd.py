"""Rate–distortion benchmark: svdcodec's layouts against Pillow's JPEG, WebP and AVIF.

    python tools/bench_rd.py CORPUS_DIR [--every N] [--plot out.png] [--jobs 2] [--patch-only]

For every image (RGB) and codec it sweeps the quality (svdcodec's whole-image layouts: the
rank), measures bytes, bits per pixel, PSNR and SSIM over all RGB samples, then reports

- per codec, the mean PSNR and SSIM at fixed rates (each image's curve interpolated in log-rate
  with a monotone cubic, then averaged over images);
- BD-PSNR and BD-rate of every codec against JPEG (Pillow, ``optimize=True``) and against
  WebP (``method=6``) over 0.15–1.0 bpp, per image, then averaged. BD-PSNR is Bjøntegaard's
  (VCEG-M33): a cubic polynomial fit of PSNR against log10(rate) for each curve, integrated
  over the common rate interval; BD-rate fits log10(rate) against PSNR over the common PSNR
  interval. Fits use the points inside the interval plus one on each side. A monotone-cubic
  (pchip) variant is printed as a cross-check;
- decode time of the patch layout (arithmetic-coded payload, spec section 13, on one thread and
  with the decoder's second thread, and zstd
  payload, both through the C decoders) against JPEG and WebP at about 0.25, 0.5 and 1 bpp
  (medians of interleaved repeated decodes, measured after the sweeps, one process);
- encode time at quality 50 (svdcodec, both payloads) against AVIF (Pillow's default speed)
  and WebP (method 4 and 6);
- the published integer-matrix-factorization results at 0.25 and 0.5 bpp for comparison.

All codecs are measured in the same run on the same machine. ``--jobs`` runs images in
parallel processes for the sweeps (timings are taken afterwards, alone).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from functools import partial
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.interpolate import PchipInterpolator

import svdcodec
from svdcodec.metrics import psnr, ssim
from svdcodec.patch import decode as patchdecode
from svdcodec.teach import peers as peers

BD_RANGE = (0.15, 1.0)  # bpp
GRID = (0.15, 0.25, 0.5, 0.75, 1.0)  # bpp at which mean PSNR / SSIM are tabulated
REFERENCE = Path("/work/shared/reference/lrf_kodak_results.json")
PUBLISHED_IMF = {0.25: 25.54, 0.5: 27.85}  # rd-notes.md: interpolated means, Ashtari et al.
TIMING_BPPS = (0.25, 0.5, 1.0)
TIMING_REPEATS = 15
ENCODE_QUALITY = 50
ENCODE_REPEATS = 3
ANCHORS = ("jpeg", "webp")
# JPEG XL through pillow-jxl-plugin (optional: pip install svdcodec[bench]), effort 7
JXL_QUALITIES = (1, 5, 10, 15, 20, 30, 40, 50, 60, 75, 90)
JXL_EFFORT = 7
try:
    import pillow_jxl  # noqa: F401  (registers the JXL format with Pillow)

    HAVE_JXL = True
except ImportError:
    HAVE_JXL = False
PATCH_ONLY = ("svd-patch", "svd-patch-zstd")

# codec name -> list of (label, encode keyword arguments)
PATCH_QUALITIES = (0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 70)
SVD_MODES = {
    "svd-patch": [("q", {"quality": q, "entropy": "arith"}) for q in PATCH_QUALITIES],
    "svd-patch-zstd": [("q", {"quality": q, "entropy": "zstd"}) for q in PATCH_QUALITIES],
    "svd-per-channel": [("r", {"layout": "per-channel", "rank": r}) for r in (3, 5, 8, 12, 20)],
    "svd-stacked": [("r", {"layout": "stacked", "rank": r}) for r in (3, 5, 8, 12, 20)],
}
PEER_QUALITIES = {
    "jpeg": (1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 70, 80, 90),
    "webp": (0, 5, 10, 20, 30, 40, 50, 60, 75, 90),
    "avif": (5, 10, 20, 30, 40, 50, 60, 70, 80),
}


def load(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def _point(image: np.ndarray, data: bytes, decoded: np.ndarray) -> tuple[float, float, float]:
    bpp = 8 * len(data) / (image.shape[0] * image.shape[1])
    return bpp, psnr(image, decoded), ssim(image, decoded)


def sweep_image(path: Path, patch_only: bool = False
                ) -> dict[str, list[tuple[float, float, float]]]:
    """Every codec's (bpp, PSNR, SSIM) points for one image."""
    image = load(path)
    out: dict[str, list[tuple[float, float, float]]] = {}
    for name, settings in SVD_MODES.items():
        if patch_only and name not in PATCH_ONLY:
            continue
        points = []
        for _, options in settings:
            data = svdcodec.encode(image, **options)
            points.append(_point(image, data, svdcodec.decode(data)))
        out[name] = points
    for codec, qualities in PEER_QUALITIES.items():
        if not peers.available(codec):
            continue
        out[codec] = [_point(image, data, peers.decode_peer(data, channels=3))
                      for data in (peers.encode_peer(image, codec, q) for q in qualities)]
    if HAVE_JXL:
        out["jxl"] = [_point(image, data, _jxl_decode(data))
                      for data in (_jxl_encode(image, q) for q in JXL_QUALITIES)]
    return out


def _jxl_encode(image: np.ndarray, quality: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JXL", quality=quality, effort=JXL_EFFORT)
    return buf.getvalue()


def _jxl_decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


# --- Bjøntegaard ---------------------------------------------------------------------------------
def _window(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Indices of the points inside [lo, hi] plus the nearest one outside on each side."""
    order = np.argsort(x)
    xs = x[order]
    first = max(0, int(np.searchsorted(xs, lo, side="right")) - 1)
    last = min(len(xs), int(np.searchsorted(xs, hi, side="left")) + 1)
    return order[first:last]


def _integral(x: np.ndarray, y: np.ndarray, lo: float, hi: float, kind: str) -> float:
    """Mean of the fitted y(x) over [lo, hi]."""
    idx = _window(x, lo, hi)
    xs, ys = x[idx], y[idx]
    order = np.argsort(xs)
    xs, ys = xs[order], ys[order]
    if kind == "cubic":
        poly = np.polyint(np.polyfit(xs, ys, min(3, len(xs) - 1)))
        return float((np.polyval(poly, hi) - np.polyval(poly, lo)) / (hi - lo))
    keep = np.concatenate([[True], np.diff(xs) > 0])  # pchip needs increasing x
    f = PchipInterpolator(xs[keep], ys[keep])
    return float(f.integrate(lo, hi) / (hi - lo))


def bd_psnr(anchor: np.ndarray, test: np.ndarray, rate_range: tuple[float, float] = BD_RANGE,
            kind: str = "cubic") -> float:
    """Mean PSNR gain (dB) of ``test`` over ``anchor``; arrays of (bpp, PSNR) rows."""
    la, lt = np.log10(anchor[:, 0]), np.log10(test[:, 0])
    lo = max(np.log10(rate_range[0]), la.min(), lt.min())
    hi = min(np.log10(rate_range[1]), la.max(), lt.max())
    if hi <= lo:
        return float("nan")
    return _integral(lt, test[:, 1], lo, hi, kind) - _integral(la, anchor[:, 1], lo, hi, kind)


def bd_rate(anchor: np.ndarray, test: np.ndarray, rate_range: tuple[float, float] = BD_RANGE,
            kind: str = "cubic") -> float:
    """Mean rate change (%) of ``test`` at equal PSNR, over the anchor's PSNR in the range."""
    idx = _window(anchor[:, 0], *rate_range)
    f = PchipInterpolator(*_monotone(np.log10(anchor[idx, 0]), anchor[idx, 1]))
    p_lo, p_hi = (float(f(np.log10(r))) for r in rate_range)
    lo = max(p_lo, anchor[:, 1].min(), test[:, 1].min())
    hi = min(p_hi, anchor[:, 1].max(), test[:, 1].max())
    if hi <= lo:
        return float("nan")
    diff = (_integral(test[:, 1], np.log10(test[:, 0]), lo, hi, kind)
            - _integral(anchor[:, 1], np.log10(anchor[:, 0]), lo, hi, kind))
    return float((10**diff - 1) * 100)


def _monotone(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(x)
    x, y = x[order], y[order]
    keep = np.concatenate([[True], np.diff(x) > 0])
    return x[keep], y[keep]


def at_rate(points: np.ndarray, bpp: float, column: int) -> float:
    """A curve's PSNR (column 1) or SSIM (column 2) at ``bpp`` (pchip in log-rate; NaN outside)."""
    x, y = _monotone(np.log10(points[:, 0]), points[:, column])
    if not x[0] <= np.log10(bpp) <= x[-1]:
        return float("nan")
    return float(PchipInterpolator(x, y)(np.log10(bpp)))


# --- timing ------------------------------------------------------------------------------
def _median_times(fns: list, repeats: int = TIMING_REPEATS) -> list[float]:
    """Median seconds of each function, the functions interleaved within every repeat so that
    a change in machine load hits them alike."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, out in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return [float(np.median(t)) for t in times]


def _nearest(points: np.ndarray, settings: list, bpp: float) -> object:
    return settings[int(np.argmin(np.abs(np.log(points[:, 0] / bpp))))]


def decode_with_threads(threads: int, data: bytes) -> np.ndarray:
    """svdcodec.decode with the strip decoder's thread count fixed (2: the second thread
    whatever the load average, which the decoder otherwise consults)."""
    saved = patchdecode.DECODE_THREADS, patchdecode.LOAD_AWARE
    patchdecode.DECODE_THREADS, patchdecode.LOAD_AWARE = threads, False
    try:
        return svdcodec.decode(data)
    finally:
        patchdecode.DECODE_THREADS, patchdecode.LOAD_AWARE = saved


def decode_times(path: Path, curves: dict[str, np.ndarray]) -> list[tuple[float, ...]]:
    """Per rate of TIMING_BPPS: (svd-patch s on one thread, svd-patch s with the decoder's
    second thread, svd-patch-zstd s, JPEG s, WebP s, and the bpp of svd-patch, svd-patch-zstd,
    JPEG and WebP), each file the one of its sweep nearest to the rate."""
    image = load(path)
    pixels = image.shape[0] * image.shape[1]
    rows = []
    for bpp in TIMING_BPPS:
        options = _nearest(curves["svd-patch"], [o for _, o in SVD_MODES["svd-patch"]], bpp)
        arith = svdcodec.encode(image, **options)
        files = [(partial(decode_with_threads, 1), arith),
                 (partial(decode_with_threads, 2), arith)]
        options = _nearest(curves["svd-patch-zstd"],
                           [o for _, o in SVD_MODES["svd-patch-zstd"]], bpp)
        files.append((svdcodec.decode, svdcodec.encode(image, **options)))
        for name in ANCHORS:
            q = _nearest(curves[name], list(PEER_QUALITIES[name]), bpp)
            files.append((partial(peers.decode_peer, channels=3),
                          peers.encode_peer(image, name, q)))
        t = _median_times([partial(fn, data) for fn, data in files])
        rows.append((*t, *(8 * len(data) / pixels for _, data in files[1:])))
    return rows


def _webp4(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "WEBP", quality=ENCODE_QUALITY, method=4)
    return buf.getvalue()


def encode_times(path: Path) -> tuple[float, ...]:
    """Median encode seconds at quality ENCODE_QUALITY: svd-patch, svd-patch-zstd, AVIF
    (Pillow's default speed), WebP method 4, WebP method 6, and svdcodec's default
    (entropy "auto": the arith payload, and the zstd one where a probe says it may win)."""
    image = load(path)
    fns = [partial(svdcodec.encode, image, quality=ENCODE_QUALITY, entropy="arith"),
           partial(svdcodec.encode, image, quality=ENCODE_QUALITY, entropy="zstd"),
           partial(peers.encode_peer, image, "avif", ENCODE_QUALITY),
           partial(_webp4, image),
           partial(peers.encode_peer, image, "webp", ENCODE_QUALITY),
           partial(svdcodec.encode, image, quality=ENCODE_QUALITY)]
    return tuple(_median_times(fns, ENCODE_REPEATS))


# --- report ------------------------------------------------------------------------------
def report(names: list[str], results: list[dict[str, list]], times: list[tuple],
           encodes: list[tuple] | None = None) -> None:
    codecs = list(results[0])
    curves = {c: [np.array(r[c]) for r in results] for c in codecs}
    print(f"\n{len(names)} images; PSNR / SSIM over RGB; mean over images of each curve "
          f"interpolated at the rate (pchip in log-rate; images whose curve does not reach the "
          f"rate are left out, count in brackets when not all)\n")
    head = f"{'codec':<16}" + "".join(f"{f'{b:g} bpp':>16}" for b in GRID)
    print(head)
    print("-" * len(head))
    for c in codecs:
        cells = []
        for b in GRID:
            ps = np.array([at_rate(p, b, 1) for p in curves[c]])
            ss = np.array([at_rate(p, b, 2) for p in curves[c]])
            ok = ~np.isnan(ps)
            cell = f"{ps[ok].mean():.2f}/{ss[ok].mean():.3f}" if ok.any() else "-"
            cells.append(cell + (f"[{ok.sum()}]" if 0 < ok.sum() < len(ps) else ""))
        print(f"{c:<16}" + "".join(f"{cell:>16}" for cell in cells))
    print(f"{'published IMF':<16}" + "".join(
        f"{PUBLISHED_IMF[b]:>16.2f}" if b in PUBLISHED_IMF else f"{'':>16}" for b in GRID))

    for anchor in ANCHORS:
        if anchor not in curves:
            continue
        print(f"\nBD against {anchor.upper()} over {BD_RANGE[0]}–{BD_RANGE[1]} bpp (mean of "
              f"per-image values; BD-PSNR > 0 and BD-rate < 0 mean better than {anchor})\n")
        head = (f"{'codec':<16}{'BD-PSNR dB':>12}{'(pchip)':>10}{'min':>8}{'max':>8}"
                f"{'BD-rate %':>11}{'(pchip)':>10}")
        print(head)
        print("-" * len(head))
        for c in codecs:
            if c == anchor:
                continue
            pairs = list(zip(curves[anchor], curves[c], strict=True))
            bd = np.array([bd_psnr(a, t) for a, t in pairs])
            bdp = np.array([bd_psnr(a, t, kind="pchip") for a, t in pairs])
            br = np.array([bd_rate(a, t) for a, t in pairs])
            brp = np.array([bd_rate(a, t, kind="pchip") for a, t in pairs])
            print(f"{c:<16}{np.nanmean(bd):>+12.3f}{np.nanmean(bdp):>+10.3f}"
                  f"{np.nanmin(bd):>+8.2f}{np.nanmax(bd):>+8.2f}{np.nanmean(br):>+11.1f}"
                  f"{np.nanmean(brp):>+10.1f}")
    per_image = [bd_psnr(a, t) for a, t in zip(curves["jpeg"], curves["svd-patch"], strict=True)]
    print("\nsvd-patch BD-PSNR per image: " + " ".join(
        f"{Path(n).stem.replace('kodim', '')}:{v:+.2f}" for n, v in zip(names, per_image,
                                                                        strict=True)))
    if times:
        t = np.array(times)  # (images, rates, 9)
        print(f"\ndecode time (C decoders, wall), median of {TIMING_REPEATS} interleaved runs "
              f"per image, then over images; ratios are medians of per-image ratios; arith 1T "
              f"on one thread, 2T with the decoder's second thread (WebP: one thread)\n")
        head = (f"{'rate':>6}{'arith bpp':>10}{'zstd bpp':>9}{'JPEG bpp':>9}{'WebP bpp':>9}"
                f"{'arith 1T ms':>12}{'arith 2T ms':>12}{'zstd ms':>8}{'JPEG ms':>8}"
                f"{'WebP ms':>8}{'1T/WebP':>9}{'2T/WebP':>9}")
        print(head)
        print("-" * len(head))
        for i, bpp in enumerate(TIMING_BPPS):
            r = t[:, i]
            print(f"{bpp:>6g}{np.mean(r[:, 5]):>10.3f}{np.mean(r[:, 6]):>9.3f}"
                  f"{np.mean(r[:, 7]):>9.3f}{np.mean(r[:, 8]):>9.3f}"
                  + "".join(f"{1e3 * np.median(r[:, c]):>{w}.2f}"
                            for c, w in ((0, 12), (1, 12), (2, 8), (3, 8), (4, 8)))
                  + f"{np.median(r[:, 0] / r[:, 4]):>9.2f}{np.median(r[:, 1] / r[:, 4]):>9.2f}")
    if encodes:
        e = 1e3 * np.array(encodes)
        print(f"\nencode time at quality {ENCODE_QUALITY}, median of {ENCODE_REPEATS} runs per "
              f"image, then over images (ms)\n")
        names = ("svdi arith", "svdi zstd", "AVIF default", "WebP m4", "WebP m6", "svdi auto")
        print("".join(f"{n:>14}" for n in names) + f"{'arith/AVIF':>12}{'arith/WebP4':>12}"
              f"{'auto/AVIF':>12}")
        print("".join(f"{np.median(e[:, c]):>14.1f}" for c in range(len(names)))
              + f"{np.median(e[:, 0] / e[:, 2]):>12.2f}{np.median(e[:, 0] / e[:, 3]):>12.2f}"
              f"{np.median(e[:, 5] / e[:, 2]):>12.2f}")


def _mean_curve(curves: list[np.ndarray], grid: np.ndarray) -> np.ndarray:
    """Mean PSNR over images at each rate, where at least 90 % of the images reach it."""
    values = np.array([[at_rate(p, b, 1) for b in grid] for p in curves])
    enough = np.sum(~np.isnan(values), axis=0) >= 0.9 * len(curves)
    mean = np.full(len(grid), np.nan)
    mean[enough] = np.nanmean(values[:, enough], axis=0)
    return mean


def _published(names: list[str]) -> dict[str, list[np.ndarray]]:
    """Per-image (bpp, PSNR) curves of the published methods, for the images benchmarked."""
    if not REFERENCE.exists():
        return {}
    rows = json.loads(REFERENCE.read_text())
    out: dict[str, list[np.ndarray]] = {}
    for method in sorted({r["method"] for r in rows}):
        curves = []
        for name in names:
            pts = [(r["bit rate (bpp)"], r["PSNR (dB)"]) for r in rows
                   if r["method"] == method and r["data"] == name and r["bit rate (bpp)"] > 0]
            if len(pts) >= 2:
                curves.append(np.array(sorted(pts)))
        if curves:
            out[method] = curves
    return out


def plot(names: list[str], results: list[dict[str, list]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = np.geomspace(0.1, 3.0, 60)
    fig, ax = plt.subplots(figsize=(8, 5.5))
    for c in results[0]:
        mean = _mean_curve([np.array(r[c]) for r in results], grid)
        ax.plot(grid, mean, label=c, lw=2.4 if c in ("svd-patch", "jpeg") else 1.2)
    for method, curves in _published(names).items():
        ax.plot(grid, _mean_curve(curves, grid), ls="--", lw=1,
                label=f"published {method} (Ashtari et al.)")
    ax.axvspan(*BD_RANGE, color="0.93", zorder=0)
    ax.set_xscale("log")
    ax.set_xlim(0.1, 3.0)
    ax.set_ylim(18, 42)
    ax.set_xlabel("bits per pixel")
    ax.set_ylabel("mean PSNR over images (dB, RGB)")
    ax.set_title(f"Rate–distortion, mean over {len(results)} images (grey: the BD range)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"\nplot written to {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--every", type=int, default=1, help="use every N-th image")
    parser.add_argument("--plot", type=Path, help="write a PSNR-bpp plot (PNG)")
    parser.add_argument("--jobs", type=int, default=2, help="parallel processes for sweeps")
    parser.add_argument("--no-timing", action="store_true")
    parser.add_argument("--patch-only", action="store_true",
                        help="leave out the whole-image layouts (faster)")
    args = parser.parse_args(argv)
    paths = sorted(p for p in args.corpus.iterdir()
                   if p.suffix.lower() in (".png", ".ppm", ".bmp", ".tif", ".tiff"))
    paths = paths[::args.every]
    if not paths:
        print(f"no images in {args.corpus}", file=sys.stderr)
        return 1
    start = time.perf_counter()
    if args.jobs > 1:
        with Pool(args.jobs) as pool:
            results = pool.map(partial(sweep_image, patch_only=args.patch_only), paths)
    else:
        results = [sweep_image(p, args.patch_only) for p in paths]
    print(f"sweeps: {time.perf_counter() - start:.0f} s")
    times = [] if args.no_timing else [
        decode_times(p, {c: np.array(v) for c, v in r.items()})
        for p, r in zip(paths, results, strict=True)]
    encodes = [] if args.no_timing else [encode_times(p) for p in paths]
    report([p.name for p in paths], results, times, encodes)
    if args.plot:
        plot([p.name for p in paths], results, args.plot)
    print(f"total: {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
