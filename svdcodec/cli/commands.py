"""The ``svdcodec`` command line: encode, decode, info, demo, compare, animate, basis, spectrum,
denoise.

``main(argv) -> int``: 0 on success, 1 with one line ``svdcodec: error: ...`` on failure, 2 for
usage errors. Outputs are written to a temporary file and renamed: an existing file is replaced
only with ``--force``, an input never, and a failure leaves no output behind.

``encode``/``decode`` take one ``IN OUT`` pair, or with ``--out-dir`` any number of inputs, run in
``-j`` worker processes (:mod:`svdcodec.batch`): one error line per failed file
(``svdcodec: error: FILE: ...``), the others go on, a summary line, exit 1 if any failed.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from PIL import Image
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from .. import __version__
from ..codec import encode, read_header
from ..errors import SvdiError, TruncatedError
from ..format.container import SIGNATURE
from ..teach import demo
from ..whole.layout import LAYOUTS
from ..whole.quantize import FACTOR_TYPES
from . import batch, files
from .files import (
    CliError,
    check_output,
    decode_file,
    encode_file,
    load_image,
    print_note,
    read_input,
)

EXAMPLES = """examples:
  svdcodec encode photo.png photo.svdi --quality 30
  svdcodec encode photo.png photo.svdi --target-size 20000
  svdcodec encode photo.png photo.svdi --rank 40
  svdcodec encode photo.png photo.svdi --energy 0.99 --layout stacked --factors float16
  svdcodec decode photo.svdi back.png --rank 10
  svdcodec encode photos/*.png --out-dir svdi/ -j 2 --rank 50
  svdcodec decode svdi/*.svdi --out-dir png/ --format png
  svdcodec info photo.svdi --json
  svdcodec demo
  svdcodec compare photo.png --ranks 5,20,100 --plot compare.png
  svdcodec animate photo.png ranks.gif --max-size 512
  svdcodec basis photo.png basis.png
  svdcodec spectrum a.png b.png --plot spectra.png
  svdcodec denoise noisy.png clean.png --sigma 20 --reference original.png

matplotlib (pip install 'svdcodec[plot]') is needed by: basis, compare --plot.

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
    with _encode_bar(args) as progress:
        result = encode_file(Path(args.input), Path(args.output), _encode_options(args),
                             args.force, progress)
    for note in result.notes:
        print_note(note)
    r = result.record
    if args.json:
        print(json.dumps(r, indent=2))
        return 0
    factors = "" if r["factors"] is None else f", {r['factors']}"
    psnr = "" if r["psnr"] is None else f", {r['psnr']:.2f} dB"
    print(f"{r['output']}: {r['width']}x{r['height']} {r['mode']}, {r['layout']}{factors}, "
          f"ranks {r['ranks']}, {r['bytes']:,} bytes ({r['bpp']:.3f} bpp){psnr}, "
          f"{r['seconds']:.2f} s")
    return 0


# A single encode shows a progress bar on a terminal once it has run this long (seconds).
PROGRESS_DELAY = 1.0


@contextlib.contextmanager
def _encode_bar(args: argparse.Namespace) -> Iterator[Callable[[float], None] | None]:
    """The progress callable of one encode: a tqdm bar on stderr when stderr is a terminal
    (shown after PROGRESS_DELAY, removed when done); none for --json or other streams."""
    if getattr(args, "json", False) or not sys.stderr.isatty():
        yield None
        return
    with tqdm(total=100, desc="encode", unit="%", file=sys.stderr, delay=PROGRESS_DELAY,
              leave=False, bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}") as bar:
        yield lambda fraction: bar.update(round(100 * fraction) - bar.n)


def cmd_decode(args: argparse.Namespace) -> int:
    if args.out_dir is not None:
        job = functools.partial(decode_file, rank=args.rank, force=args.force,
                                allow_truncated=args.allow_truncated)
        return _run_batch(args, job, "." + args.format, "decoded")
    result = decode_file(Path(args.input), Path(args.output), args.rank, args.force,
                         args.allow_truncated)
    for note in result.notes:
        print_note(note)
    r = result.record
    print(f"{r['output']}: {r['width']}x{r['height']} {r['mode']}")
    return 0


def _run_batch(args: argparse.Namespace, job: batch.Job, suffix: str, verb: str) -> int:
    """Run ``job`` over every input into ``--out-dir``; one line per failure, then a summary."""
    out_dir = Path(args.out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise CliError(f"--out-dir {out_dir} is a file, not a directory")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot create the output directory {out_dir}: {files.os_reason(exc)}"
                       ) from None
    tasks = batch.plan([Path(p) for p in args.paths], out_dir, suffix)
    jobs = args.jobs or batch.default_jobs()
    start = time.perf_counter()
    ok = failed = bytes_in = bytes_out = 0
    records = []
    with contextlib.closing(batch.run(tasks, job, jobs, desc=args.command)) as outcomes:
        for outcome in outcomes:
            for note in outcome.notes:
                source = str(outcome.task.source)
                note = note if note.startswith(f"{source}:") else f"{source}: {note}"
                tqdm.write(f"svdcodec: note: {note}", file=sys.stderr)
            if outcome.record is not None:
                records.append(outcome.record)
            if outcome.error is None:
                ok += 1
                bytes_in += outcome.bytes_in
                bytes_out += outcome.bytes_out
                continue
            failed += 1
            source = str(outcome.task.source)
            message = outcome.error
            if not message.startswith(f"{source}:"):
                message = f"{source}: {message}"
            tqdm.write(f"svdcodec: error: {message}", file=sys.stderr)
    seconds = time.perf_counter() - start
    summary = (f"{verb} {ok} file{'s' * (ok != 1)} ok, {failed} failed: {bytes_in:,} bytes in, "
               f"{bytes_out:,} bytes out, {seconds:.2f} s (-j {min(jobs, len(tasks))})")
    if getattr(args, "json", False):
        print(json.dumps({"files": records, "ok": ok, "failed": failed}, indent=2))
        print(summary, file=sys.stderr)
    else:
        print(summary)
    return 1 if failed else 0


def cmd_info(args: argparse.Namespace) -> int:
    src = Path(args.input)
    data = read_input(src)
    try:
        info = read_header(data)
    except TruncatedError as exc:
        raise CliError(f"{src}: {exc}{files.salvage_hint(data, False)}") from None
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
    demo.run(Path(args.image) if args.image else None, args.ranks, args.layouts, args.factors,
             args.qualities)
    return 0


def _choice_list(choices: Sequence[str]) -> Any:
    """argparse type: "a,b" -> ["a", "b"], each one of ``choices``."""
    def parse(text: str) -> list[str]:
        items = [t.strip() for t in text.split(",")]
        bad = [t for t in items if t not in choices]
        if bad or not items:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list of "
                                             f"{', '.join(choices)}; got {text!r}")
        return items
    return parse


def _quality_list(text: str) -> list[float]:
    """argparse type: "10,50" -> [10.0, 50.0], each in 0..100; '' -> []."""
    if not text.strip():
        return []
    try:
        qualities = [float(q) for q in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected qualities like 10,50,90, got {text!r}"
                                         ) from None
    if not all(0 <= q <= 100 for q in qualities):
        raise argparse.ArgumentTypeError(f"qualities must be in 0..100, got {text!r}")
    return qualities


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
        _need_matplotlib("compare --plot")
    image, meta = load_image(src)
    peers = list(args.peers)
    if args.avif and "avif" not in peers:
        peers.append("avif")
    comparison = report.compare(
        image, ranks=args.ranks, energies=args.energies, layout=args.layout,
        factors=args.factors, level=args.level, both_factors=args.both_factors, peers=peers,
        with_ssim=not args.no_ssim, metadata=meta, progress=None, patch=not args.no_patch)
    if plot is not None:
        from ..teach import plots

        figure = plots.plot_compare(comparison, image, title=src.name, progress=None)
        with files.writing(plot):
            plots.save_figure(figure, plot)
    print(comparison.to_json() if args.json else report.format_table(comparison, src.name))
    if plot is not None:
        print(f"plot: {plot}", file=sys.stderr if args.json else sys.stdout)
    return 0


PLOT_EXTRA = "pip install 'svdcodec[plot]'"


def _need_matplotlib(what: str) -> None:
    """CliError naming the extra to install unless matplotlib imports."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise CliError(f"{what} needs matplotlib: {PLOT_EXTRA}") from None


def cmd_basis(args: argparse.Namespace) -> int:
    from ..teach import basis as patchplot
    from ..teach import plots

    src, out = Path(args.input), Path(args.output)
    check_output(out, args.force, src)
    _need_matplotlib("basis")
    data = read_input(src)
    if not data.startswith(SIGNATURE):  # an image: encode it in the patch layout first
        image, _ = load_image(src)
        data = encode(image, quality=args.quality)
    elif args.quality is not None:
        raise CliError("--quality applies to an image input, not to an .svdi file")
    basis = patchplot.plane_basis(data, args.plane)
    figure = patchplot.basis_figure(basis, title=f"{src.name}: {basis.name}, "
                                    f"{len(basis.vectors)} learned basis vectors")
    with files.writing(out):
        plots.save_figure(figure, out)
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
    image = plots.shrink(image, max_size=args.max_size, scale=args.scale)
    ranks = args.ranks or plots.default_ranks(image, args.layout)
    frames = plots.animation_frames(image, ranks, layout=args.layout, factors=args.factors,
                                    level=args.level, progress=None)
    with files.writing(out):
        plots.save_animation(frames, out, duration=args.duration)
    print(f"{out}: {len(frames)} frames, ranks {','.join(map(str, ranks))}, "
          f"{frames[0].width}x{frames[0].height}, {out.stat().st_size:,} bytes")
    return 0


def cmd_spectrum(args: argparse.Namespace) -> int:
    from ..teach import lessons
    from ..whole.spectrum import image_spectrum

    sources = [Path(p) for p in args.inputs]
    plot = Path(args.plot) if args.plot else None
    if plot is not None:
        check_output(plot, args.force, *sources)
    named = [(src.name, image_spectrum(load_image(src)[0], args.mode)) for src in sources]
    records = [lessons.spectrum_record(name, spec) for name, spec in named]
    if args.json:
        print(json.dumps(records, indent=2))
    else:
        print(lessons.format_spectrum_table(records, args.mode))
    if plot is not None:
        try:
            figure = lessons.spectrum_figure(named)
        except ImportError as exc:
            raise CliError(f"--plot needs matplotlib (pip install 'svdcodec[plot]'): {exc}"
                           ) from None
        from ..teach.plots import save_figure

        with files.writing(plot):
            save_figure(figure, plot)
        print(f"plot: {plot}", file=sys.stderr if args.json else sys.stdout)
    return 0


def cmd_denoise(args: argparse.Namespace) -> int:
    from ..pillow.convert import from_array
    from ..teach import lessons

    src, out = Path(args.input), Path(args.output)
    check_output(out, args.force, src)
    fmt_name = Image.registered_extensions().get(out.suffix.lower())
    if fmt_name is None:
        raise CliError(f"unknown output format for {out.name!r}: use .png, .tif, .webp, ...")
    noisy, _ = load_image(src)
    reference = load_image(Path(args.reference))[0] if args.reference else None
    image, rules, facts = lessons.denoise_image(noisy, args.sigma, reference)
    buffer = io.BytesIO()
    from_array(image).save(buffer, format=fmt_name)
    files.write_output(out, buffer.getvalue())
    print(lessons.format_denoise(src.name, noisy.shape, rules, facts))
    chosen = next(r for r in rules if r.name == lessons.GAVISH_DONOHO)
    print(f"{out}: {image.shape[1]}x{image.shape[0]}, rank {','.join(map(str, chosen.ranks))}")
    return 0


def _add_rank_options(p: argparse.ArgumentParser) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument("--rank", type=_positive_int, help="components kept per matrix")
    group.add_argument("--energy", type=_number_in(0, 1, low_open=True),
                       help="keep the smallest rank with this fraction of sum(sigma^2)")
    group.add_argument("--quality", type=_number_in(0, 100),
                       help="0..100, the default 50 (patch layout: the quantization step; "
                       "whole-image layouts: target PSNR 15 + 0.3*Q dB)")
    group.add_argument("--target-psnr", type=_number_in(0, math.inf, low_open=True),
                       help="PSNR in dB to reach (whole-image layouts: by the truncation alone)")
    group.add_argument("--target-size", type=_positive_int,
                       help="at most this many bytes (whole-image layouts: ranks chosen by the "
                       "largest singular values that fit)")
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
    p.add_argument("--level", type=_zstd_level, default=None,
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


def _zstd_level(text: str) -> int:
    """argparse type: a zstd level 1..19 (spec section 5: larger windows may be refused)."""
    level = _positive_int(text)
    if level > 19:
        raise argparse.ArgumentTypeError(f"must be in 1..19, got {level}")
    return level


def _number_in(low: float, high: float, low_open: bool = False) -> Any:
    """argparse type: a finite number in [low, high] (or (low, high])."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value) or value < low or (low_open and value == low) or \
                value > high:
            where = f"in {'(' if low_open else '['}{low:g}, {high:g}]" if math.isfinite(high) \
                else f"> {low:g}" if low_open else f">= {low:g}"
            raise argparse.ArgumentTypeError(f"must be {where}, got {text!r}")
        return value
    return parse


def _peer_list(text: str) -> list[str]:
    """argparse type: "png,jpeg" -> ["png", "jpeg"]; "none" or "" -> []."""
    from ..teach.peers import PEERS

    return [] if text.strip() in ("", "none") else _choice_list(PEERS)(text)


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
    p.add_argument("--json", action="store_true", help="print a JSON object instead of the "
                   "line: input, output, bytes, input_bytes, width, height, mode, layout, "
                   "factors, ranks, bpp, seconds, psnr (measured for --target-psnr, else null), "
                   "notes; with --out-dir {files: [...], ok, failed}")
    _add_batch_options(p)
    p.set_defaults(func=cmd_encode, subparser=p)

    p = sub.add_parser("decode", help=".svdi -> image (format from the extension)",
                       usage="%(prog)s IN OUT [options]\n"
                       "       %(prog)s IN... --out-dir DIR [-j N] [--format png] [options]")
    p.add_argument("paths", nargs="+", metavar="FILE",
                   help="IN OUT; with --out-dir, every FILE is an input (DIR/NAME.FORMAT)")
    p.add_argument("--rank", type=_positive_int,
                   help="decode with only this many components (preview)")
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
    p.add_argument("--ranks", type=_rank_list, default=[5, 10, 20, 40, 80],
                   help="ranks per matrix (default 5,10,20,40,80)")
    p.add_argument("--layouts", type=_choice_list(LAYOUTS), default=["per-channel", "stacked"],
                   help=f"whole-image layouts among {','.join(LAYOUTS)} "
                   "(default per-channel,stacked)")
    p.add_argument("--factors", type=_choice_list(FACTOR_TYPES), default=["float16", "int8"],
                   help="factor types (default float16,int8)")
    p.add_argument("--qualities", type=_quality_list, default=[10.0, 30.0, 50.0, 70.0, 90.0],
                   help="patch-layout qualities compared with JPEG (default 10,30,50,70,90; "
                   "'' to skip)")
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("compare", help="where the bytes go: X, Xapprox, factors, zstd, file, "
                       "PNG/JPEG/WebP (--plot needs matplotlib)",
                       description="Encode an image at several ranks and "
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
    p.add_argument("--level", type=_zstd_level, default=3, help="zstd level 1..19 (default 3)")
    p.add_argument("--both-factors", action="store_true",
                   help="also encode with the other factor type and report its bytes")
    p.add_argument("--peers", type=_peer_list, default=["png", "jpeg", "webp"],
                   help="codecs to compare with (png,jpeg,webp,avif; 'none' for none)")
    p.add_argument("--avif", action="store_true", help="add AVIF to the peers (slower)")
    p.add_argument("--no-ssim", action="store_true", help="skip SSIM")
    p.add_argument("--no-patch", action="store_true", help="leave out the patch layout (the "
                   "default one) at each rank's PSNR")
    p.add_argument("--json", action="store_true", help="machine-readable output (keys: "
                   "pydoc svdcodec.report)")
    p.add_argument("--plot", metavar="OUT.png",
                   help="write one figure: bytes per stage, PSNR vs bpp, singular values, "
                   "reconstructions (.png, .svg, .pdf; needs matplotlib: "
                   f"{PLOT_EXTRA})")
    p.add_argument("--force", action="store_true", help="replace an existing plot file")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("basis", help="the patch layout's learned basis vectors as a figure "
                       "(needs matplotlib)",
                       description="Draw the basis vectors a patch-layout file learned from its "
                       "image (the right singular vectors of its matrix of patches) and how "
                       "many patches use each. INPUT is an .svdi file of layout patch, or an "
                       "image, which is encoded first.")
    p.add_argument("input")
    p.add_argument("output", help="OUT.png (or .svg, .pdf)")
    p.add_argument("--plane", type=_int_at_least(0), default=0,
                   help="0 (default: Y, or the first channel), 1, 2 (Cb, Cr), 3 (alpha)")
    p.add_argument("--quality", type=_number_in(0, 100), default=None,
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
    p.add_argument("--level", type=_zstd_level, default=3, help="zstd level 1..19 (default 3)")
    p.add_argument("--duration", type=_positive_int, default=700, help="milliseconds per frame")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--max-size", type=_positive_int, metavar="N",
                      help="shrink the image first so that its longest side is at most N pixels")
    size.add_argument("--scale", type=_number_in(0.0, 1.0, low_open=True), metavar="F",
                      help="shrink the image first by the factor F in (0, 1]")
    p.add_argument("--force", action="store_true", help="replace an existing output file")
    p.set_defaults(func=cmd_animate)

    p = sub.add_parser("spectrum", help="normalized singular values of images, and the rank "
                       "each needs for 30/35/40 dB", description="The singular values of "
                       "several images side by side (sigma_i / sigma_1 and the cumulative "
                       "energy), and the rank each image needs for 30, 35 and 40 dB PSNR with "
                       "the share of numbers r(m+n+1)/(mn) that costs.")
    p.add_argument("inputs", nargs="+", metavar="IMAGE")
    p.add_argument("--mode", choices=("luminance", "per-channel"), default="luminance",
                   help="one luminance matrix (default), or each colour channel")
    p.add_argument("--plot", metavar="OUT.png", help="write the spectra as a figure")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--force", action="store_true", help="replace an existing plot file")
    p.set_defaults(func=cmd_spectrum)

    p = sub.add_parser("denoise", help="truncate at the optimal hard threshold of singular "
                       "values (Gavish-Donoho)", description="Denoise an image by truncating "
                       "the SVD of each colour channel at the optimal hard threshold of Gavish "
                       "& Donoho (2014): lambda*(beta) sqrt(n) sigma for a known noise level, "
                       "omega(beta) median(sigma_i) otherwise.")
    p.add_argument("input", metavar="NOISY")
    p.add_argument("output", metavar="OUT")
    p.add_argument("--sigma", type=_number_in(0.0, math.inf), help="noise standard deviation "
                   "in sample units "
                   "(default: unknown, estimated from the median singular value)")
    p.add_argument("--reference", metavar="CLEAN", help="the clean image: also print the PSNR "
                   "of the energy rules (70/80/90 %% of sum sigma and sum sigma^2) and of the "
                   "best rank by search")
    p.add_argument("--force", action="store_true", help="replace an existing output file")
    p.set_defaults(func=cmd_denoise)
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
            code = int(args.func(args))
            sys.stdout.flush()  # here, so that a closed pipe is seen below, not at exit
            return code
    except BrokenPipeError:
        return _broken_pipe()
    except (CliError, SvdiError, OSError, ValueError, TypeError) as exc:
        if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
            message = _os_message(exc)  # not "[Errno 2] ...", nor a temporary file's name
        else:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"svdcodec: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("svdcodec: error: interrupted", file=sys.stderr)
        return 130


# atomic_write's temporary file: tempfile.mkstemp(prefix=".NAME.", suffix=".tmp")
_TEMPORARY = re.compile(r"\.(?P<name>.+)\.[A-Za-z0-9_]{8}\.tmp")


def _os_message(exc: OSError) -> str:
    """'PATH: reason', naming the output a temporary file stands for ('cannot write OUT: ...')."""
    path = Path(os.fsdecode(exc.filename))
    temporary = _TEMPORARY.fullmatch(path.name)
    if temporary:
        return f"cannot write {path.with_name(temporary['name'])}: {files.os_reason(exc)}"
    return f"{path}: {files.os_reason(exc)}"


def _broken_pipe() -> int:
    """The reader of stdout went away (``svdcodec info x | head -1``): exit quietly, as Unix
    tools do, with 141 (128 + SIGPIPE). stdout goes to devnull so that Python's flush at exit
    does not fail again (the recipe of the signal module's documentation)."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return 141


if __name__ == "__main__":
    sys.exit(main())
