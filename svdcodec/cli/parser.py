"""The ``svdcodec`` command line's arguments: :func:`build_parser`, whose argparse types
(:mod:`.argtypes`) turn every bad value into a usage error (exit 2) before any work or output."""

from __future__ import annotations

import argparse
import math

from .. import __version__
from ..format import COMPRESSION_NAMES, PATCH_SIZES, STACK_CODING_BY_NAME
from ..whole.layout import LAYOUTS
from ..whole.quantize import FACTOR_TYPES
from .argtypes import (
    MAX_FRAME_MS,
    choice_list,
    energy_list,
    frame_ms,
    image_format,
    int_at_least,
    limit_setting,
    number_in,
    peer_list,
    positive_int,
    quality_list,
    rank_list,
    zstd_level,
)
from .commands import cmd_decode, cmd_encode, cmd_info
from .lessons import (
    PLOT_EXTRA,
    cmd_animate,
    cmd_basis,
    cmd_compare,
    cmd_demo,
    cmd_denoise,
    cmd_spectrum,
)
from .stackview import add_parser as add_stack_parser

EXAMPLES = """examples:
  svdcodec encode photo.png photo.svdi --quality 30
  svdcodec encode photo.png photo.svdi --target-size 20000
  svdcodec encode photo.png photo.svdi --rank 40
  svdcodec encode photo.png photo.svdi --energy 0.99 --layout stacked --factors float16
  svdcodec decode photo.svdi back.png --rank 10
  svdcodec encode anim.gif anim.svdi --coding tall
  svdcodec encode frame*.png --stack frames.svdi
  svdcodec decode frames.svdi third.png --frame 2
  svdcodec decode frames.svdi --out-dir frames/
  svdcodec encode slices/*.dcm --stack series.svdi
  svdcodec decode series.svdi slices-back/
  svdcodec encode photos/*.png --out-dir svdi/ -j 2 --rank 50
  svdcodec decode svdi/*.svdi --out-dir png/ --format png
  svdcodec encode photos/*.png --out-dir svdi/ --scheduler tcp://scheduler:8786
  svdcodec info photo.svdi --json
  svdcodec demo
  svdcodec compare photo.png --ranks 5,20,100 --plot compare.png
  svdcodec animate photo.png ranks.gif --max-size 512
  svdcodec basis photo.png basis.png
  svdcodec spectrum a.png b.png --plot spectra.png
  svdcodec denoise noisy.png clean.png --sigma 20 --reference original.png
  svdcodec stack frame*.png --plot eigen-images.png

matplotlib (pip install 'svdcodec[plot]') is needed by: basis, compare --plot, stack --plot.

threads: numpy's BLAS uses every core by default; on a busy machine OPENBLAS_NUM_THREADS=1 is
often faster and always steadier. --out-dir batches run -j processes of one BLAS thread each.
"""

def _add_rank_options(p: argparse.ArgumentParser) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument("--rank", type=positive_int, help="components kept per matrix")
    group.add_argument("--energy", type=number_in(0, 1, low_open=True),
                       help="keep the smallest rank with this fraction of sum(sigma^2)")
    group.add_argument("--quality", type=number_in(0, 100),
                       help="0..100, the default 50 (patch layout: the quantization step; "
                       "whole-image layouts: target PSNR 15 + 0.3*Q dB)")
    group.add_argument("--target-psnr", type=number_in(0, math.inf, low_open=True),
                       help="PSNR in dB to reach (whole-image layouts: by the truncation alone)")
    group.add_argument("--target-size", type=positive_int,
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
    p.add_argument("--patch-size", type=int, choices=PATCH_SIZES, default=None,
                   help="patch layout: 4, 8 (default) or 16")
    p.add_argument("--entropy", choices=["auto", *sorted(COMPRESSION_NAMES.values())],
                   default=None,
                   help="patch layout: auto (default: the smaller of the two for the same "
                   "coefficients), arith (spec section 13; smaller on photographs) or zstd "
                   "(section 12.3; smaller on text, tiles and synthetic images)")
    p.add_argument("--bits", type=positive_int, default=None,
                   help="the samples' significant bits (a 12-bit scan in 16-bit samples): "
                   "--quality and --target-psnr are then those of samples 0..2^BITS-1 "
                   "(default: all of the mode's bits; DICOM inputs: the bits their values "
                   "span, at most Bits Stored)")
    p.add_argument("--level", type=zstd_level, default=None,
                   help="zstd level 1..19 (default 19 for the patch layout's zstd payload, "
                   "else 3; the arith payload has none)")

def _add_progress_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="a progress bar on stderr for a single file taking over a second "
                   "(default: when stderr is a terminal)")

def _add_batch_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out-dir", metavar="DIR",
                   help="convert every FILE into DIR (created if missing), in parallel")
    p.add_argument("-j", "--jobs", type=positive_int, metavar="N",
                   help="with --out-dir: worker processes, one BLAS thread each "
                   "(default: one per CPU)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="with --out-dir: run on the Dask cluster of this scheduler "
                   "(tcp://host:8786; the folders on a filesystem its workers share), or "
                   "'local' to start a LocalCluster of -j workers (needs svdcodec[dask])")

def _check_layout_options(args: argparse.Namespace) -> None:
    """encode: options of the patch layout and of the whole-image layouts do not mix (a usage
    error, exit 2, before any file is read; not the API's ValueError once per file)."""
    whole = [flag for flag, value in (("--rank", args.rank), ("--energy", args.energy),
                                      ("--factors", args.factors)) if value is not None]
    patch = [flag for flag, value in (("--patch-size", args.patch_size),
                                      ("--entropy", args.entropy)) if value is not None]
    if args.layout == "patch" and whole:
        args.subparser.error(f"argument {whole[0]}: not allowed with --layout patch "
                             f"(it applies to the whole-image layouts)")
    if patch and (args.layout in LAYOUTS or (args.layout is None and whole)):
        chosen = f"--layout {args.layout}" if args.layout is not None else whole[0]
        args.subparser.error(f"argument {patch[0]}: not allowed with {chosen} "
                             f"(it applies to the patch layout)")


def check_paths(args: argparse.Namespace) -> None:
    """encode/decode: ``IN OUT``, or inputs with --out-dir; argparse usage errors exit 2."""
    if getattr(args, "subparser", None) is None:
        return
    if hasattr(args, "entropy"):
        _check_layout_options(args)
    if getattr(args, "stack", None) is not None:  # encode a.png b.png --stack x.svdi
        if args.out_dir is not None:
            args.subparser.error("--stack and --out-dir exclude each other")
        args.inputs, args.output = args.paths, args.stack
    elif args.out_dir is None:
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
    parser.add_argument("--blas-threads", type=int_at_least(0), default=1, metavar="N",
                        help="BLAS threads for this process (default 1; 0: the library default)")
    parser.add_argument("--debug", action="store_true",
                        help="print the traceback of any error (internal errors always print it)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("encode", help="image (PNG, JPEG, TIFF, ...) -> .svdi",
                       usage="%(prog)s IN OUT [options]\n"
                       "       %(prog)s IN... --out-dir DIR [-j N] [options]")
    p.add_argument("paths", nargs="+", metavar="FILE",
                   help="IN OUT; with --out-dir, every FILE is an input (DIR/NAME.svdi)")
    _add_rank_options(p)
    p.add_argument("--stack", metavar="OUT.svdi",
                   help="encode every FILE (every frame of each) as one image stack in "
                   "OUT.svdi (spec section 14); an animated input is a stack anyway; a .npy "
                   "input is one (H, W) frame or (N, H, W[, C]) frames; DICOM files (or a "
                   "folder of them) are the slices of one series, ordered by position, "
                   "every header kept (spec section 17)")
    p.add_argument("--coding", choices=("auto", *STACK_CODING_BY_NAME), default=None,
                   help="stacks: frames (each alone), tall (one image, shared basis), "
                   "snapshot (frames as matrix columns) or auto (the smallest; default)")
    p.add_argument("--force", action="store_true", help="replace an existing output file")
    p.add_argument("--json", action="store_true", help="print a JSON object instead of the "
                   "line: input, output, bytes, input_bytes, width, height, mode, layout, "
                   "factors, ranks, frames, stack_coding, durations, loop, bpp, seconds, psnr "
                   "(measured for --target-psnr, else null), notes (a DICOM input adds "
                   "dicom); with --out-dir {files: [...], ok, failed}")
    _add_progress_option(p)
    _add_batch_options(p)
    p.set_defaults(func=cmd_encode, subparser=p)

    p = sub.add_parser("decode", help=".svdi -> image (format from the extension)",
                       usage="%(prog)s IN OUT [options]\n"
                       "       %(prog)s IN... --out-dir DIR [-j N] [--format png] [options]")
    p.add_argument("paths", nargs="+", metavar="FILE",
                   help="IN OUT; with --out-dir, every FILE is an input (DIR/NAME.FORMAT); "
                   "a DICOM series (spec section 17) to OUT.dcm or DIR/ is one .dcm a slice")
    p.add_argument("--rank", type=positive_int,
                   help="decode with only this many components (preview)")
    p.add_argument("--allow-truncated", action="store_true",
                   help="decode a cut whole-image file from what precedes the cut (spec 7.1)")
    p.add_argument("--frame", type=int_at_least(0), metavar="K",
                   help="of a stack: frame K (default: every frame to .npy (N, H, W[, C]), "
                   ".tif pages or an animation, else frame 0; with --out-dir, no --frame "
                   "writes every frame as NAME-000.png, NAME-001.png, ...)")
    p.add_argument("--force", action="store_true", help="replace an existing output file")
    p.add_argument("--limit", type=limit_setting, action="append", default=[],
                   metavar="FIELD=N", dest="limit_settings",
                   help="raise (or lower) one decoder limit of svdcodec.Limits, e.g. "
                   "max_pixels=1100000000 for a gigapixel image (the defaults refuse images "
                   "above 179 Mpixels); repeatable")
    _add_progress_option(p)
    _add_batch_options(p)
    p.add_argument("--format", type=image_format,
                   help="with --out-dir: output format as an extension (default png)")
    p.set_defaults(func=cmd_decode, subparser=p)

    p = sub.add_parser("info", help="header, ranks and sizes of an .svdi file")
    p.add_argument("input")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--limit", type=limit_setting, action="append", default=[],
                   metavar="FIELD=N", dest="limit_settings",
                   help="as decode --limit: read the header of a file above the default "
                   "limits (max_pixels=... for an image above 179 Mpixels)")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("demo", help="bytes, bpp and PSNR of several ranks on a bundled photo")
    p.add_argument("--image", help="another image instead of the bundled Kodak photograph")
    p.add_argument("--ranks", type=rank_list, default=[5, 10, 20, 40, 80],
                   help="ranks per matrix (default 5,10,20,40,80)")
    p.add_argument("--layouts", type=choice_list(LAYOUTS), default=["per-channel", "stacked"],
                   help=f"whole-image layouts among {','.join(LAYOUTS)} "
                   "(default per-channel,stacked)")
    p.add_argument("--factors", type=choice_list(FACTOR_TYPES), default=["float16", "int8"],
                   help="factor types (default float16,int8)")
    p.add_argument("--qualities", type=quality_list, default=[10.0, 30.0, 50.0, 70.0, 90.0],
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
    group.add_argument("--ranks", type=rank_list, help="ranks per matrix (default 5,10,20,50,100)")
    group.add_argument("--energies", type=energy_list,
                       help="choose each rank by this fraction of sum(sigma^2), e.g. 0.9,0.99")
    p.add_argument("--layout", choices=LAYOUTS, default="per-channel")
    p.add_argument("--factors", choices=FACTOR_TYPES, default="int8")
    p.add_argument("--level", type=zstd_level, default=3, help="zstd level 1..19 (default 3)")
    p.add_argument("--both-factors", action="store_true",
                   help="also encode with the other factor type and report its bytes")
    p.add_argument("--peers", type=peer_list, default=["png", "jpeg", "webp"],
                   help="codecs to compare with (png,jpeg,webp,avif; 'none' for none)")
    p.add_argument("--avif", action="store_true", help="add AVIF to the peers (slower)")
    p.add_argument("--no-ssim", action="store_true", help="skip SSIM")
    p.add_argument("--no-patch", action="store_true", help="leave out the patch layout (the "
                   "default one) at each rank's PSNR")
    p.add_argument("--json", action="store_true", help="machine-readable output (keys: "
                   "pydoc svdcodec.teach.report)")
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
    p.add_argument("--plane", type=int_at_least(0), default=0,
                   help="0 (default: Y, or the first channel), 1, 2 (Cb, Cr), 3 (alpha)")
    p.add_argument("--quality", type=number_in(0, 100), default=None,
                   help="for an image input: the quality to encode at (default 50)")
    p.add_argument("--force", action="store_true", help="replace an existing output file")
    p.set_defaults(func=cmd_basis)

    p = sub.add_parser("animate", help="rank-by-rank reconstruction as an animated GIF/WebP")
    p.add_argument("input")
    p.add_argument("output", help="OUT.gif or OUT.webp")
    p.add_argument("--ranks", type=rank_list,
                   help="one frame per rank (default 1,2,3,5,8,12,20,30,50,80,... up to full)")
    p.add_argument("--layout", choices=LAYOUTS, default="per-channel")
    p.add_argument("--factors", choices=FACTOR_TYPES, default="int8")
    p.add_argument("--level", type=zstd_level, default=3, help="zstd level 1..19 (default 3)")
    p.add_argument("--duration", type=frame_ms, default=700,
                   help=f"milliseconds per frame, 1..{MAX_FRAME_MS} (default 700)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--max-size", type=positive_int, metavar="N",
                      help="shrink the image first so that its longest side is at most N pixels")
    size.add_argument("--scale", type=number_in(0.0, 1.0, low_open=True), metavar="F",
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
    p.add_argument("--sigma", type=number_in(0.0, math.inf), help="noise standard deviation "
                   "in sample units "
                   "(default: unknown, estimated from the median singular value)")
    p.add_argument("--reference", metavar="CLEAN", help="the clean image: also print the PSNR "
                   "of the energy rules (70/80/90 %% of sum sigma and sum sigma^2) and of the "
                   "best rank by search")
    p.add_argument("--force", action="store_true", help="replace an existing output file")
    p.set_defaults(func=cmd_denoise)
    add_stack_parser(sub)
    return parser
