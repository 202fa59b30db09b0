"""The ``svdcodec`` command line: encode, decode, info, demo, compare, animate, basis.

``main(argv) -> int``: 0 on success, 1 with one line ``svdcodec: error: ...`` on failure, 2 for
usage errors. Outputs are written to a temporary file and renamed: an existing file is replaced
only with ``--force``, an input never, and a failure leaves no output behind.

``encode``/``decode`` take one ``IN OUT`` pair, or with ``--out-dir`` any number of inputs, run in
``-j`` worker processes (:mod:`svdcodec.batch`): one error line per failed file
(``svdcodec: error: FILE: ...``), the others go on, a summary line, exit 1 if any failed.
``--scheduler`` runs such a batch on a Dask cluster instead (:mod:`.dask_batch`).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from PIL import Image
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from .. import __version__
from ..codec import encode, read_header
from ..errors import SvdiError
from ..format.container import SIGNATURE
from ..teach import demo
from ..whole.layout import LAYOUTS
from ..whole.quantize import FACTOR_TYPES
from . import batch, dask_batch
from .files import CliError, check_output, decode_file, encode_file, load_image

EXAMPLES = """examples:
  svdcodec encode photo.png photo.svdi --quality 30
  svdcodec encode photo.png photo.svdi --target-size 20000
  svdcodec encode photo.png photo.svdi --rank 40
  svdcodec encode photo.png photo.svdi --energy 0.99 --layout stacked --factors float16
  svdcodec decode photo.svdi back.png --rank 10
  svdcodec encode photos/*.png --out-dir svdi/ -j 2 --rank 50
  svdcodec decode svdi/*.svdi --out-dir png/ --format png
  svdcodec encode photos/*.png --out-dir svdi/ --scheduler tcp://scheduler:8786
  svdcodec info photo.svdi --json
  svdcodec demo
  svdcodec compare photo.png --ranks 5,20,100 --plot compare.png
  svdcodec animate photo.png ranks.gif
  svdcodec basis photo.png basis.png

threads: numpy's BLAS uses every core by default; on a busy machine OPENBLAS_NUM_THREADS=1 is
often faster and always steadier. --out-dir batches run -j processes of one BLAS thread each.
"""


def _encode_options(args: argparse.Namespace) -> dict:
    options = {"rank": args.rank, "energy": args.energy, "quality": args.quality,
               "target_psnr": args.target_psnr, "layout": args.layout, "factors": args.factors,
               "level": args.level, "progressive": args.progressive}
    if args.target_size is not None:
        options["target_size"] = args.target_size
    if args.patch_size is not None:  # a patch layout option, passed only when given
        options["patch_size"] = args.patch_size
    return options


def cmd_encode(args: argparse.Namespace) -> int:
    if args.out_dir is not None:
        job = functools.partial(encode_file, options=_encode_options(args), force=args.force)
        return _run_batch(args, job, ".svdi", "encoded")
    out = Path(args.output)
    data, seconds = encode_file(Path(args.input), out, _encode_options(args), args.force)
    info = read_header(data)
    print(f"{out}: {info.width}x{info.height} {info.mode}, {info.layout}, {info.factors}, "
          f"ranks {list(info.ranks)}, {len(data):,} bytes "
          f"({8 * len(data) / (info.width * info.height):.3f} bpp), {seconds:.2f} s")
    return 0


def cmd_decode(args: argparse.Namespace) -> int:
    if args.out_dir is not None:
        job = functools.partial(decode_file, rank=args.rank, force=args.force,
                                allow_truncated=args.allow_truncated)
        return _run_batch(args, job, "." + args.format, "decoded")
    out = Path(args.output)
    im = decode_file(Path(args.input), out, args.rank, args.force, args.allow_truncated)
    print(f"{out}: {im.width}x{im.height} {im.mode}")
    return 0


def _run_batch(args: argparse.Namespace, job: batch.Job, suffix: str, verb: str) -> int:
    """Run ``job`` over every input into ``--out-dir``; one line per failure, then a summary."""
    out_dir = Path(args.out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot create the output directory {out_dir}: {exc}") from None
    tasks = batch.plan([Path(p) for p in args.paths], out_dir, suffix)
    jobs = args.jobs or batch.default_jobs()
    start = time.perf_counter()
    ok = failed = bytes_in = bytes_out = 0
    if args.scheduler is None:
        outcomes = batch.run(tasks, job, jobs, desc=args.command)
        engine = f"-j {min(jobs, len(tasks))}"
    else:
        outcomes = dask_batch.run_on(args.scheduler, tasks, job, workers=args.jobs,
                                     desc=args.command)
        engine = f"--scheduler {args.scheduler}" + (f" -j {args.jobs}" if args.jobs else "")
    for outcome in outcomes:
        if outcome.error is None:
            ok += 1
            bytes_in += outcome.bytes_in
            bytes_out += outcome.bytes_out
        else:
            failed += 1
            source = str(outcome.task.source)
            message = outcome.error
            if not message.startswith(f"{source}:"):
                message = f"{source}: {message}"
            tqdm.write(f"svdcodec: error: {message}", file=sys.stderr)
    seconds = time.perf_counter() - start
    print(f"{verb} {ok} file{'s' * (ok != 1)} ok, {failed} failed: {bytes_in:,} bytes in, "
          f"{bytes_out:,} bytes out, {seconds:.2f} s ({engine})")
    return 1 if failed else 0


def cmd_info(args: argparse.Namespace) -> int:
    info = read_header(Path(args.input))
    if args.json:
        record = asdict(info)
        record["metadata"] = {k: (len(v) if isinstance(v, bytes) else v)
                              for k, v in info.metadata.items()}
        print(json.dumps(record, indent=2))
        return 0
    print(f"{args.input}: {info.width}x{info.height} {info.mode} ({info.bit_depth}-bit), "
          f"layout {info.layout}, factors {info.factors}, {info.file_size:,} bytes")
    for pl in info.planes:  # layout patch: what each plane stores (spec section 12)
        dense = pl.patches * pl.components
        share = f" of {dense:,} ({pl.coefficients / dense:.1%})" if dense else ""
        sub = "" if pl.subsampling == (1, 1) else \
            f", subsampled {pl.subsampling[0]}x{pl.subsampling[1]}"
        deblock = "off" if pl.deblock[0] == 0 else "/".join(map(str, pl.deblock))
        print(f"  plane {pl.index} ({pl.name}): {pl.patches:,} patches of "
              f"{pl.patch_size}x{pl.patch_size}{sub}, {pl.components} basis vectors, "
              f"{pl.coefficients:,} coefficients stored{share}, deblocking {deblock}, "
              f"{pl.raw_size:,} bytes raw, {pl.compressed_size:,} bytes zstd")
    for g in info.groups if not info.planes else ():
        print(f"  group {g.index}: {g.rows}x{g.cols} rank {g.rank}, "
              f"{g.rank * (g.rows + g.cols + 1):,} numbers, {g.raw_size:,} bytes quantized, "
              f"{g.compressed_size:,} bytes zstd")
    for key, value in info.metadata.items():
        print(f"  {key}: {len(value):,} bytes" if isinstance(value, bytes) else
              f"  {key}: {value}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    demo.run(Path(args.image) if args.image else None, [int(r) for r in args.ranks.split(",")],
             args.layouts.split(","), args.factors.split(","),
             [float(q) for q in args.qualities.split(",")] if args.qualities else [])
    return 0


def _rank_list(text: str) -> list[int]:
    """argparse type: "5,20,100" -> [5, 20, 100], each >= 1."""
    try:
        ranks = [int(r) for r in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected ranks like 5,20,100, got {text!r}") from None
    if not ranks or min(ranks) < 1:
        raise argparse.ArgumentTypeError(f"ranks must be >= 1, got {text!r}")
    return ranks


def _energy_list(text: str) -> list[float]:
    """argparse type: "0.9,0.99" -> [0.9, 0.99], each in (0, 1]."""
    try:
        energies = [float(e) for e in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected energies like 0.9,0.99, got {text!r}") from None
    if not all(0 < e <= 1 for e in energies):
        raise argparse.ArgumentTypeError(f"energies must be in (0, 1], got {text!r}")
    return energies


def cmd_compare(args: argparse.Namespace) -> int:
    from ..teach import report

    src = Path(args.input)
    plot = Path(args.plot) if args.plot else None
    if plot is not None:
        check_output(plot, args.force, src)
    image, meta = load_image(src)
    peers = [] if args.peers in ("", "none") else args.peers.split(",")
    if args.avif and "avif" not in peers:
        peers.append("avif")
    comparison = report.compare(
        image, ranks=args.ranks, energies=args.energies, layout=args.layout,
        factors=args.factors, level=args.level, both_factors=args.both_factors, peers=peers,
        with_ssim=not args.no_ssim, metadata=meta, progress=None)
    if plot is not None:
        try:
            from ..teach import plots
            figure = plots.plot_compare(comparison, image, title=src.name, progress=None)
        except ImportError as exc:
            raise CliError(f"--plot needs matplotlib (pip install 'svdcodec[plot]'): {exc}"
                           ) from None
        plots.save_figure(figure, plot)
    print(comparison.to_json() if args.json else report.format_table(comparison, src.name))
    if plot is not None:
        print(f"plot: {plot}", file=sys.stderr if args.json else sys.stdout)
    return 0


def cmd_basis(args: argparse.Namespace) -> int:
    src, out = Path(args.input), Path(args.output)
    check_output(out, args.force, src)
    try:
        from ..teach import basis as patchplot
        from ..teach import plots
    except ImportError as exc:  # pragma: no cover - matplotlib is in the test extras
        raise CliError(f"basis needs matplotlib (pip install 'svdcodec[plot]'): {exc}") from None
    try:
        data = src.read_bytes()
    except FileNotFoundError:
        raise CliError(f"{src}: no such file") from None
    if not data.startswith(SIGNATURE):  # an image: encode it in the patch layout first
        image, _ = load_image(src)
        data = encode(image, quality=args.quality)
    elif args.quality is not None:
        raise CliError("--quality applies to an image input, not to an .svdi file")
    basis = patchplot.plane_basis(data, args.plane)
    plots.save_figure(patchplot.basis_figure(basis, title=f"{src.name}: {basis.name}, "
                                             f"{len(basis.vectors)} learned basis vectors"), out)
    print(f"{out}: {len(basis.vectors)} basis vectors of {basis.patch_size}x{basis.patch_size} "
          f"({basis.name}, {basis.patches:,} patches)")
    return 0


def cmd_animate(args: argparse.Namespace) -> int:
    from ..teach import plots

    src, out = Path(args.input), Path(args.output)
    if out.suffix.lower() not in (".gif", ".webp"):
        raise CliError(f"the animation must be a .gif or .webp file, got {out.name!r}")
    check_output(out, args.force, src)
    image, _ = load_image(src)
    ranks = args.ranks or plots.default_ranks(image, args.layout)
    frames = plots.animation_frames(image, ranks, layout=args.layout, factors=args.factors,
                                    level=args.level, progress=None)
    plots.save_animation(frames, out, duration=args.duration)
    print(f"{out}: {len(frames)} frames, ranks {','.join(map(str, ranks))}, "
          f"{frames[0].width}x{frames[0].height}, {out.stat().st_size:,} bytes")
    return 0


def _add_rank_options(p: argparse.ArgumentParser) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument("--rank", type=int, help="components kept per matrix")
    group.add_argument("--energy", type=float,
                       help="keep the smallest rank with this fraction of sum(sigma^2)")
    group.add_argument("--quality", type=float, help="0..100, the default 50 (patch layout: "
                       "the quantization step; whole-image layouts: target PSNR 15 + 0.3*Q dB)")
    group.add_argument("--target-psnr", type=float, help="PSNR in dB to reach (whole-image "
                       "layouts: by the truncation alone)")
    group.add_argument("--target-size", type=int, help="at most this many bytes (whole-image "
                       "layouts: ranks chosen by the largest singular values that fit)")
    p.add_argument("--layout", choices=(*LAYOUTS, "patch"), default=None,
                   help="default: patch, or per-channel when --rank, --energy or --factors is "
                        "given")
    p.add_argument("--factors", choices=FACTOR_TYPES, default=None,
                   help="whole-image layouts: int8 (default) or float16")
    p.add_argument("--progressive", action="store_true",
                   help="whole-image layouts: one zstd block per component, so that a cut file "
                   "still decodes at the rank it holds (decode --allow-truncated)")
    p.add_argument("--patch-size", type=int, choices=(4, 8, 16), default=None,
                   help="patch layout: 4, 8 (default) or 16")
    p.add_argument("--level", type=int, default=None,
                   help="zstd level 1..19 (default 19 for the patch layout, else 3)")


def _int_at_least(minimum: int) -> Any:
    """argparse type: an int >= ``minimum``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value
    return parse


_positive_int = _int_at_least(1)


def _image_format(text: str) -> str:
    """argparse type: an extension Pillow can write, e.g. "png" or ".tif" -> "tif"."""
    ext = text.lower().lstrip(".")
    name = Image.registered_extensions().get(f".{ext}")
    if name is None or name not in Image.SAVE:
        raise argparse.ArgumentTypeError(f"unknown image format {text!r}: use png, tif, webp, "
                                         "...")
    return ext


def _add_batch_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out-dir", metavar="DIR",
                   help="convert every FILE into DIR (created if missing), in parallel")
    p.add_argument("-j", "--jobs", type=_positive_int, metavar="N",
                   help="with --out-dir: worker processes, one BLAS thread each "
                   "(default: one per CPU)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="with --out-dir: run on the Dask cluster of this scheduler "
                   "(tcp://host:8786; the folders on a filesystem its workers share), or "
                   "'local' to start a LocalCluster of -j workers (needs svdcodec[dask])")


def _check_paths(args: argparse.Namespace) -> None:
    """encode/decode: ``IN OUT``, or inputs with --out-dir; argparse usage errors exit 2."""
    if getattr(args, "subparser", None) is None:
        return
    if args.out_dir is None:
        if len(args.paths) != 2:
            args.subparser.error(f"expected IN OUT (or inputs with --out-dir), got "
                                 f"{len(args.paths)} path(s)")
        if args.jobs is not None or getattr(args, "format", None) is not None:
            args.subparser.error("-j and --format apply only with --out-dir")
        if args.scheduler is not None:
            args.subparser.error("--scheduler applies only with --out-dir")
        args.input, args.output = args.paths
    elif getattr(args, "format", "") is None:
        args.format = "png"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="svdcodec", description="The .svdi image format: truncated SVD, quantized, zstd.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"svdcodec {__version__}")
    parser.add_argument("--blas-threads", type=_int_at_least(0), default=1, metavar="N",
                        help="BLAS threads for this process (default 1; 0: the library default)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("encode", help="image (PNG, JPEG, TIFF, ...) -> .svdi",
                       usage="%(prog)s IN OUT [options]\n"
                       "       %(prog)s IN... --out-dir DIR [-j N] [options]")
    p.add_argument("paths", nargs="+", metavar="FILE",
                   help="IN OUT; with --out-dir, every FILE is an input (DIR/NAME.svdi)")
    _add_rank_options(p)
    p.add_argument("--force", action="store_true", help="replace an existing output file")
    _add_batch_options(p)
    p.set_defaults(func=cmd_encode, subparser=p)

    p = sub.add_parser("decode", help=".svdi -> image (format from the extension)",
                       usage="%(prog)s IN OUT [options]\n"
                       "       %(prog)s IN... --out-dir DIR [-j N] [--format png] [options]")
    p.add_argument("paths", nargs="+", metavar="FILE",
                   help="IN OUT; with --out-dir, every FILE is an input (DIR/NAME.FORMAT)")
    p.add_argument("--rank", type=int, help="decode with only this many components (preview)")
    p.add_argument("--allow-truncated", action="store_true",
                   help="decode a cut whole-image file from what precedes the cut (spec 7.1)")
    p.add_argument("--force", action="store_true", help="replace an existing output file")
    _add_batch_options(p)
    p.add_argument("--format", type=_image_format,
                   help="with --out-dir: output format as an extension (default png)")
    p.set_defaults(func=cmd_decode, subparser=p)

    p = sub.add_parser("info", help="header, ranks and sizes of an .svdi file")
    p.add_argument("input")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("demo", help="bytes, bpp and PSNR of several ranks on a bundled photo")
    p.add_argument("--image", help="another image instead of the bundled Kodak photograph")
    p.add_argument("--ranks", default="5,10,20,40,80")
    p.add_argument("--layouts", default="per-channel,stacked")
    p.add_argument("--factors", default="float16,int8")
    p.add_argument("--qualities", default="10,30,50,70,90",
                   help="patch-layout qualities compared with JPEG ('' to skip)")
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("compare", help="where the bytes go: X, Xapprox, factors, zstd, file, "
                       "PNG/JPEG/WebP", description="Encode an image at several ranks and "
                       "account for every byte: X and Xapprox (same size), the numbers "
                       "stored, the factors at float64/float32/float16/int8, after zstd, the "
                       ".svdi file by chunk, PSNR/SSIM, and PNG, JPEG and WebP at the same PSNR.")
    p.add_argument("input")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--ranks", type=_rank_list, help="ranks per matrix (default 5,10,20,50,100)")
    group.add_argument("--energies", type=_energy_list,
                       help="choose each rank by this fraction of sum(sigma^2), e.g. 0.9,0.99")
    p.add_argument("--layout", choices=LAYOUTS, default="per-channel")
    p.add_argument("--factors", choices=FACTOR_TYPES, default="int8")
    p.add_argument("--level", type=int, default=3, help="zstd level 1..19 (default 3)")
    p.add_argument("--both-factors", action="store_true",
                   help="also encode with the other factor type and report its bytes")
    p.add_argument("--peers", default="png,jpeg,webp",
                   help="codecs to compare with (png,jpeg,webp,avif; 'none' for none)")
    p.add_argument("--avif", action="store_true", help="add AVIF to the peers (slower)")
    p.add_argument("--no-ssim", action="store_true", help="skip SSIM")
    p.add_argument("--json", action="store_true", help="machine-readable output (keys: "
                   "pydoc svdcodec.report)")
    p.add_argument("--plot", metavar="OUT.png",
                   help="write one figure: bytes per stage, PSNR vs bpp, singular values, "
                   "reconstructions (needs matplotlib; .png, .svg, .pdf)")
    p.add_argument("--force", action="store_true", help="replace an existing plot file")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("basis", help="the patch layout's learned basis vectors as a figure",
                       description="Draw the basis vectors a patch-layout file learned from its "
                       "image (the right singular vectors of its matrix of patches) and how "
                       "many patches use each. INPUT is an .svdi file of layout patch, or an "
                       "image, which is encoded first.")
    p.add_argument("input")
    p.add_argument("output", help="OUT.png (or .svg, .pdf)")
    p.add_argument("--plane", type=_int_at_least(0), default=0,
                   help="0 (default: Y, or the first channel), 1, 2 (Cb, Cr), 3 (alpha)")
    p.add_argument("--quality", type=float, default=None,
                   help="for an image input: the quality to encode at (default 50)")
    p.add_argument("--force", action="store_true", help="replace an existing output file")
    p.set_defaults(func=cmd_basis)

    p = sub.add_parser("animate", help="rank-by-rank reconstruction as an animated GIF/WebP")
    p.add_argument("input")
    p.add_argument("output", help="OUT.gif or OUT.webp")
    p.add_argument("--ranks", type=_rank_list,
                   help="one frame per rank (default 1,2,3,5,8,12,20,30,50,80,... up to full)")
    p.add_argument("--layout", choices=LAYOUTS, default="per-channel")
    p.add_argument("--factors", choices=FACTOR_TYPES, default="int8")
    p.add_argument("--level", type=int, default=3, help="zstd level 1..19 (default 3)")
    p.add_argument("--duration", type=int, default=700, help="milliseconds per frame")
    p.add_argument("--force", action="store_true", help="replace an existing output file")
    p.set_defaults(func=cmd_animate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        _check_paths(args)
    except SystemExit as exc:  # argparse: usage errors exit 2, --help/--version exit 0
        return int(exc.code or 0)
    try:
        # One BLAS thread unless asked: on a machine whose other core is busy, OpenBLAS's
        # spinning second thread made a 768x512 encode take 4-9 s instead of 0.06 s, and with
        # both cores free one thread is as fast for the SVD (tools/bench_speed.py).
        with threadpool_limits(limits=args.blas_threads or None, user_api="blas"):
            return int(args.func(args))
    except (CliError, SvdiError, OSError, ValueError, TypeError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"svdcodec: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("svdcodec: error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
