"""Speed of svdcodec against Pillow's codecs, a naive SVD encoder and the machine (issue 7).

    python tools/bench_speed.py [IMAGE] [--kodak DIR] [--repeats 5] [--no-12mp] [--no-batch]
    python tools/bench_speed.py --quick   # a smoke run (tests/test_tools.py)

IMAGE (default: the bundled Kodak image 23) is upscaled with Lanczos to 1920x1080 and to
4000x3000 (12 Mpixel): an upscaled photograph is smoother than a real one of that size, so its
spectrum decays faster. For each size, in one run: encode and decode times of svdcodec's
whole-image modes (per-channel / stacked, int8 / float16, rank 50), of Pillow's JPEG (q90), PNG
and WebP (q90), and of a naive encoder (``numpy.linalg.svd`` of each channel, truncated); the
PSNR of svdcodec's randomized truncation against the exact one; the decode against its physical
limit (its m·n·k multiply-adds per matrix at this machine's float32 matrix-product rate, also
measured here). Then the batch throughput of the Kodak corpus with -j 1 and -j 2.

Times are medians of ``--repeats`` runs taken in turn (codec A, B, C, A, B, C, ...), so that a
change of load hits every row alike. Run it with and without OPENBLAS_NUM_THREADS=1.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from _common import naive_encode
from PIL import Image

import svdcodec
from svdcodec.cli import main as cli_main
from svdcodec.metrics import psnr
from svdcodec.teach.demo import demo_image
from svdcodec.whole.layout import to_matrices
from svdcodec.whole.linalg import DEFAULT_N_ITER, truncated_svd

RANK = 50
N_ITER, N_OVERSAMPLES = DEFAULT_N_ITER, 10  # truncated_svd's defaults
SIZES = {"1080p": (1920, 1080), "12 MP": (4000, 3000)}
MODES = [(layout, factors) for layout in ("per-channel", "stacked")
         for factors in ("int8", "float16")]
PEERS = {"JPEG q90": ("JPEG", {"quality": 90}), "PNG": ("PNG", {}),
         "WebP q90": ("WEBP", {"quality": 90})}


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f} (5 min {five:.2f})"


def median_times(fns: dict[str, Callable[[], object]], repeats: int, warm_up: bool = True
                 ) -> dict[str, float]:
    """Median wall time of each function, the functions run in turn ``repeats`` times.

    After one untimed call of each (``warm_up``; a first call on a new image was measured up to
    2x slower), each round runs them in a new random order: a call pays for the caches and the
    memory the previous codec left cold, so no function should always follow the same one.
    """
    names = list(fns)
    for name in names if warm_up else ():
        fns[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    rng = np.random.default_rng(0)
    for _ in range(repeats):
        for name in rng.permutation(names):
            start = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def matmul_rate(m: int, k: int, n: int, dtype: type, repeats: int = 7) -> float:
    """Multiply-adds per second of an (m, k) @ (k, n) product."""
    rng = np.random.default_rng(0)
    a, b = rng.random((m, k)).astype(dtype), rng.random((k, n)).astype(dtype)
    out = np.empty((m, n), dtype)
    seconds = median_times({"mm": lambda: np.matmul(a, b, out=out)}, repeats)["mm"]
    return m * k * n / seconds


def naive_decode(data: bytes, shape: tuple[int, int, int], rank: int) -> np.ndarray:
    h, w, c = shape
    out = np.empty(shape, np.uint8)
    offset = 0
    for i in range(c):
        u = np.frombuffer(data, np.float16, h * rank, offset).reshape(h, rank)
        offset += 2 * h * rank
        s = np.frombuffer(data, np.float32, rank, offset)
        offset += 4 * rank
        vt = np.frombuffer(data, np.float16, rank * w, offset).reshape(rank, w)
        offset += 2 * rank * w
        x = (u.astype(np.float64) * s) @ vt.astype(np.float64)
        out[:, :, i] = np.clip(np.rint(x), 0, 255)
    return out


def pillow_codec(image: np.ndarray, fmt: str, options: dict
                 ) -> tuple[Callable[[], bytes], Callable[[bytes], np.ndarray]]:
    im = Image.fromarray(image)

    def enc() -> bytes:
        buf = io.BytesIO()
        im.save(buf, format=fmt, **options)
        return buf.getvalue()

    def dec(data: bytes) -> Image.Image:
        with Image.open(io.BytesIO(data)) as out:
            out.load()  # pixels in memory, no copy to numpy: the peers' best case
            return out.copy()

    return enc, dec


def bench_image(name: str, image: np.ndarray, repeats: int, f32_rate: float, f64_rate: float,
                rank: int = RANK) -> None:
    h, w, c = image.shape
    naive_repeats = 1 if h * w > 5e6 else min(repeats, 3)
    print(f"\n== {name}: {w}x{h} RGB, rank {rank}; {load()}")
    encoders: dict[str, Callable[[], object]] = {}
    for layout, factors in MODES:
        encoders[f"svdcodec {layout} {factors}"] = (
            lambda lay=layout, fac=factors: svdcodec.encode(image, rank=rank, layout=lay,
                                                            factors=fac))
    peers = {label: pillow_codec(image, fmt, opts) for label, (fmt, opts) in PEERS.items()}
    for label, (enc, _) in peers.items():
        encoders[label] = enc
    enc_times = median_times(encoders, repeats)
    naive_time = median_times({"naive": lambda: naive_encode(image, rank)}, naive_repeats,
                              warm_up=False)
    enc_times["naive numpy.linalg.svd"] = naive_time["naive"]
    data = {label: fn() for label, fn in encoders.items()}
    naive_data, sigmas = naive_encode(image, rank)
    data["naive numpy.linalg.svd"] = naive_data
    decoders: dict[str, Callable[[], object]] = {}
    for label in encoders:
        if label.startswith("svdcodec"):
            decoders[label] = lambda d=data[label]: svdcodec.decode(d)
        else:
            decoders[label] = lambda d=data[label], dec=peers[label][1]: dec(d)
    decoders["naive numpy.linalg.svd"] = lambda: naive_decode(naive_data, image.shape, rank)
    dec_times = median_times(decoders, repeats)

    jpeg_dec = dec_times["JPEG q90"]
    naive = enc_times["naive numpy.linalg.svd"]
    print(f"{'codec':<30} {'enc ms':>9} {'dec ms':>8} {'bytes':>11} {'bpp':>6} {'PSNR':>6} "
          f"{'naive/enc':>9} {'dec/JPEG':>8}")
    for label in decoders:
        decoded = np.asarray(decoders[label]())
        print(f"{label:<30} {1000 * enc_times[label]:>9.1f} {1000 * dec_times[label]:>8.1f} "
              f"{len(data[label]):>11,} {8 * len(data[label]) / (h * w):>6.3f} "
              f"{psnr(image, decoded):>6.2f} {naive / enc_times[label]:>8.1f}x "
              f"{dec_times[label] / jpeg_dec:>7.2f}x")
    main_label = "svdcodec per-channel int8"
    print(f"naive encoder: {naive_repeats} run(s); others: median of {repeats}. "
          f"Pillow decodes are timed to a loaded PIL image (no numpy copy).")

    # truncation only, before quantization: svdcodec's randomized factors against Eckart-Young
    sse_exact = sum(float(np.sum(s[rank:] ** 2)) for s in sigmas)
    sse_rand = 0.0
    for x in to_matrices(image, "per-channel"):
        u, s, vt = truncated_svd(x, rank)
        sse_rand += float(np.sum((x - (u * s) @ vt) ** 2))
    to_db = lambda sse: 10 * np.log10(255.0**2 * image.size / sse)  # noqa: E731
    print(f"truncation PSNR, per channel, rank {rank}: exact {to_db(sse_exact):.3f} dB, "
          f"svdcodec randomized {to_db(sse_rand):.3f} dB, "
          f"difference {to_db(sse_exact) - to_db(sse_rand):.4f} dB (issue: <= 0.1 dB)")

    madds = c * h * w * rank  # per-channel: c matrices of h x w at rank k
    limit = madds / f32_rate
    best = min(dec_times[f"svdcodec {lay} {fac}"] for lay, fac in MODES)
    print(f"decode vs physical limit: {madds / 1e6:,.0f} M multiply-adds at the measured "
          f"float32 rate = {1000 * limit:.1f} ms; {main_label} {1000 * dec_times[main_label]:.1f}"
          f" ms = {dec_times[main_label] / limit:.2f}x the limit; best mode "
          f"{1000 * best:.1f} ms = {best / jpeg_dec:.2f}x JPEG q90 decode (issue: <= 1.5x); "
          f"the limit alone is {limit / jpeg_dec:.2f}x JPEG")
    print(f"encode: {main_label} {1000 * enc_times[main_label]:.0f} ms vs naive "
          f"{naive:.2f} s: {naive / enc_times[main_label]:.1f}x faster (issue: >= 100x); "
          f"{load()}")
    # The randomized SVD's products alone: the sketch, n_iter pairs of power iterations and the
    # projection, each m·n·(k + p) multiply-adds per matrix, at the 2000³ float64 rate.
    sketch_work = c * (2 * N_ITER + 2) * h * w * (rank + N_OVERSAMPLES)
    floor = sketch_work / f64_rate
    print(f"encode floor: {c} x (2*{N_ITER} + 2) x {h}*{w}*{rank + N_OVERSAMPLES} = "
          f"{sketch_work / 1e9:.1f} G multiply-adds = {1000 * floor:.0f} ms at the float64 rate, "
          f"so at most {naive / floor:.0f}x faster than this naive encoder; 100x needs a naive "
          f"encoder of {100 * floor:.1f} s")


def bench_batch(kodak: Path, repeats: int) -> None:
    pngs = sorted(kodak.glob("*.png"))
    if not pngs:
        print(f"\n== batch: no .png images in {kodak}, skipped")
        return
    size = sum(p.stat().st_size for p in pngs)
    print(f"\n== batch: {len(pngs)} images from {kodak} ({size / 1e6:.1f} MB of PNG), "
          f"rank {RANK}, {load()}")
    times: dict[tuple[str, int], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(repeats):
            for jobs in (1, 2):
                enc_dir, dec_dir = Path(tmp, f"e{round_}{jobs}"), Path(tmp, f"d{round_}{jobs}")
                _batch(times, jobs, ["encode", *map(str, pngs), "--out-dir", str(enc_dir),
                                     "--rank", str(RANK)])
                svdis = sorted(enc_dir.glob("*.svdi"))
                _batch(times, jobs, ["decode", *map(str, svdis), "--out-dir", str(dec_dir),
                                     "--format", "png"])
    print(f"{'':<8} {'-j 1 s':>8} {'-j 2 s':>8} {'speed-up':>9}   (median of {repeats}, "
          "including worker start-up)")
    for verb in ("encode", "decode"):
        one = statistics.median(times[(verb, 1)])
        two = statistics.median(times[(verb, 2)])
        print(f"{verb:<8} {one:>8.2f} {two:>8.2f} {one / two:>8.2f}x   "
              f"({len(pngs) / two:.1f} files/s with -j 2)")
    print(f"issue target: -j 2 >= 1.6x faster than -j 1; {load()}")


def _batch(times: dict[tuple[str, int], list[float]], jobs: int, argv: list[str]) -> None:
    """Run one ``svdcodec encode|decode ... --out-dir`` in this process and time it."""
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        code = cli_main([*argv, "-j", str(jobs)])
    times.setdefault((argv[0], jobs), []).append(time.perf_counter() - start)
    if code != 0:
        raise SystemExit(f"batch {argv[0]} -j {jobs} failed")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", nargs="?", type=Path, default=demo_image(),
                        help="photograph to upscale (default: the bundled kodim23.png)")
    parser.add_argument("--kodak", type=Path, default=Path("../shared/corpus/kodak"),
                        help="folder of .png images for the batch test")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-12mp", action="store_true", help="skip the 4000x3000 image")
    parser.add_argument("--no-batch", action="store_true", help="skip the batch test")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run in seconds: one 96x64 image at rank 16, 200³ products, "
                             "1 repeat, no 12 MP image, no batch test")
    args = parser.parse_args(argv)
    sizes, rank, side = ({"quick": (96, 64)}, 16, 200) if args.quick else (SIZES, RANK, 2000)
    if args.quick:
        args.repeats, args.no_batch = 1, True

    import scipy.linalg  # noqa: F401  (its OpenBLAS starts its threads too)

    task = Path("/proc/self/task")
    threads = len(list(task.iterdir())) if task.is_dir() else "?"
    print(f"svdcodec {svdcodec.__version__}, numpy {np.__version__}, {os.cpu_count()} CPUs, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(unset)')} "
          f"({threads} threads in this process: 1 + numpy's and scipy's BLAS workers), {load()}")
    cube, (w, h) = f"{side}x{side}x{side}", next(iter(sizes.values()))
    rates = {(name, dt.__name__): matmul_rate(*shape, dt)
             for name, shape in ((cube, (side, side, side)),
                                 (f"{h}x{rank} @ {rank}x{w}", (h, rank, w)))
             for dt in (np.float64, np.float32)}
    print("matrix product rate: " + "; ".join(f"{name} {dt} {rate / 1e9:.1f} G multiply-adds/s"
                                              for (name, dt), rate in rates.items()))
    f32_rate = max(rate for (_, dt), rate in rates.items() if dt == "float32")
    with Image.open(args.image) as im:
        base = im.convert("RGB")
    for name, size in sizes.items():
        if name == "12 MP" and args.no_12mp:
            continue
        image = np.asarray(base.resize(size, Image.Resampling.LANCZOS))
        bench_image(f"{args.image.name} ({base.width}x{base.height}) upscaled with Lanczos",
                    image, args.repeats if size[0] < 3000 else max(1, (args.repeats + 1) // 2),
                    f32_rate, rates[(cube, "float64")], rank)
    if not args.no_batch:
        bench_batch(args.kodak, max(1, min(args.repeats, 3)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
