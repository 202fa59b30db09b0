"""``svdcodec stack FRAME...``: a stack of images as N separate ``.svdi`` files against the stack
codings, and its snapshot SVD (:mod:`svdcodec.teach.stackreport`, the figure
:mod:`svdcodec.teach.stackplots`; docs/stacks.md).

A stack is read from several image files (every frame of each: an animated GIF, APNG or WebP,
the pages of a TIFF, the frames of an ``.svdi`` stack, through Pillow's ``ImageSequence``) or
from ``.npy`` arrays of shape (N, H, W) or (N, H, W, C), uint8 or uint16 (an (H, W) array is one
frame). Every frame must have the first one's size; 8-bit frames of different modes (a GIF's
first frame is a palette image, the next ones RGB) are brought to one mode, and RGB frames whose
three channels are equal everywhere are read as grey. Signed 16-bit frames (an I;16S stack, mode
I pages with negative values) are read as I;16 of sample + 32768, with a note, as the other
lessons read a signed image.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageSequence, UnidentifiedImageError

from ..options import signed_to_offset
from ..pillow.convert import one_stored_mode, to_array
from .argtypes import choice_list, number_in, positive_int
from .errors import CliError, os_reason
from .fileio import check_output, print_note, writing

__all__ = ["add_parser", "cmd_stack", "load_stack"]

PLOT_FORMATS = ("eps", "jpeg", "jpg", "pdf", "png", "ps", "svg", "svgz", "tif", "tiff", "webp")
MIN_FRAMES = 2

DESCRIPTION = """\
A stack of N related images (a time-lapse, the frames of an animation, the slices of a scan,
aligned faces) as N separate .svdi files against one file of each stack coding, and the SVD of
its snapshot matrix X: one frame per column (pixels x frames, tall and skinny). Prints the bytes
per frame and the PSNR of each, then X's singular values, the energy each rank captures and the
rank each PSNR needs, next to what the frames need as separate matrices. --plot draws the
spectrum, the eigen-images (columns of U) and their time courses (rows of S Vt)."""

EXAMPLES = """examples:
  svdcodec stack frame*.png
  svdcodec stack timelapse.gif --plot eigen.png
  svdcodec stack faces.npy --center --webp --json"""


def plot_file(text: str) -> str:
    """argparse type: a figure file name whose extension matplotlib writes."""
    ext = Path(text).suffix.lower().lstrip(".")
    if ext not in PLOT_FORMATS:
        raise argparse.ArgumentTypeError(f"expected a figure file ending in one of "
                                         f"{', '.join('.' + f for f in PLOT_FORMATS)}; "
                                         f"got {text!r}")
    return text


def add_parser(sub: Any) -> None:
    """The ``stack`` subcommand on the subparsers action ``sub`` of the main parser."""
    from ..teach.stackreport import CODING_CHOICES, STACK_CODINGS

    p = sub.add_parser("stack", help="a stack of frames: N .svdi files vs the stack codings, "
                       "and its snapshot SVD (eigen-images, time courses; --plot needs "
                       "matplotlib)", description=DESCRIPTION, epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("frames", nargs="+", metavar="FRAME",
                   help="image files (every frame of a GIF/TIFF/APNG) or .npy arrays "
                   "(N, H, W[, C]) of uint8 or uint16")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--quality", type=number_in(0, 100),
                       help="0..100 for every encoder (default: svdcodec.encode's default for "
                       "the N files; the stack codings at the files' mean PSNR)")
    group.add_argument("--target-psnr", type=number_in(0, float("inf"), low_open=True),
                       metavar="DB", help="every encoder aims at this PSNR in dB")
    p.add_argument("--codings", type=choice_list(CODING_CHOICES), default=list(STACK_CODINGS),
                   help=f"stack codings of svdcodec.encode_stack to compare, among "
                   f"{','.join(CODING_CHOICES)} (default {','.join(STACK_CODINGS)}; auto: the "
                   f"smallest, as encode picks it)")
    p.add_argument("--same-quality", action="store_true",
                   help="encode the stack codings with the files' default quality, not at "
                   "their mean PSNR")
    p.add_argument("--webp", action="store_true",
                   help="add N WebP files, each the smallest at its frame's .svdi PSNR (8-bit)")
    p.add_argument("--center", action="store_true",
                   help="subtract the mean frame before the SVD (PCA, eigenfaces); the codec "
                   "does not")
    p.add_argument("--components", type=positive_int, default=8, metavar="K",
                   help="eigen-images drawn by --plot (default 8)")
    p.add_argument("--plot", type=plot_file, metavar="OUT.png",
                   help="write the figure: spectrum, time courses, eigen-images, rank-k "
                   "frames (needs matplotlib: pip install 'svdcodec[plot]')")
    p.add_argument("--json", action="store_true", help="machine-readable output (keys: schema, "
                   "shape, dtype, center, rows, snapshot, targets, notes; pydoc "
                   "svdcodec.teach.stackreport)")
    p.add_argument("--force", action="store_true", help="replace an existing plot file")
    p.set_defaults(func=cmd_stack)


def cmd_stack(args: argparse.Namespace) -> int:
    from ..teach import stackreport

    sources = [Path(p) for p in args.frames]
    plot = Path(args.plot) if args.plot else None
    if plot is not None:
        check_output(plot, args.force, *sources)
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise CliError("stack --plot needs matplotlib: pip install 'svdcodec[plot]'"
                           ) from None
    stack = load_stack(sources)
    if args.webp and stack.dtype != np.uint8:
        raise CliError(f"--webp needs 8-bit frames, got {stack.dtype}")
    comparison = stackreport.compare_stack(
        stack, quality=args.quality, target_psnr=args.target_psnr, codings=args.codings,
        equal_psnr=not args.same_quality, webp=args.webp, center=args.center)
    name = sources[0].name if len(sources) == 1 else f"{sources[0].name} ... {sources[-1].name}"
    print(comparison.to_json() if args.json else stackreport.format_stack_table(comparison, name))
    if plot is not None:
        from ..teach.plots import save_figure
        from ..teach.stackplots import stack_figure

        figure = stack_figure(comparison.snapshot, stack, title=f"{name}: {len(stack)} frames",
                              components=args.components)
        with writing(plot):
            save_figure(figure, plot)
        print(f"plot: {plot}", file=sys.stderr if args.json else sys.stdout)
    return 0


# --- reading a stack ---------------------------------------------------------------------------
def _npy_frames(path: Path) -> list[np.ndarray]:
    try:
        array = np.load(path, allow_pickle=False)
    except OSError as exc:
        raise CliError(f"{path}: {os_reason(exc)}") from None
    except ValueError as exc:  # not an .npy file, or an object array
        raise CliError(f"{path}: not a numeric .npy array ({exc})") from None
    if not isinstance(array, np.ndarray) or array.dtype not in (np.uint8, np.uint16):
        got = array.dtype if isinstance(array, np.ndarray) else type(array).__name__
        raise CliError(f"{path}: expected a uint8 or uint16 array, got {got}")
    if array.ndim == 2:  # one grey frame; a 3-D array is (N, H, W), never (H, W, C)
        array = array[None]
    if array.ndim not in (3, 4) or (array.ndim == 4 and array.shape[3] not in (1, 2, 3, 4)):
        raise CliError(f"{path}: expected an array of shape (N, H, W) or (N, H, W, C) with C "
                       f"in 1..4, got {array.shape}")
    return [frame[..., 0] if frame.ndim == 3 and frame.shape[2] == 1 else frame
            for frame in array]


def _image_frames(path: Path) -> list[Image.Image]:
    try:
        with Image.open(path) as im:
            return [frame.copy() for frame in ImageSequence.Iterator(im)]
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"{path}: {os_reason(exc)}") from None


def _as_arrays(images: Sequence[Image.Image]) -> list[np.ndarray]:
    """One array per frame, in one mode: 8-bit frames whose modes differ become RGB (RGBA if
    any has alpha), and RGB without alpha whose channels are equal everywhere becomes grey."""
    try:
        arrays = [to_array(im) for im in images]
    except OSError as exc:  # a mode svdcodec cannot store
        raise CliError(str(exc)) from None
    try:  # mode I frames: int16 where a frame has a negative value, uint16 where not
        arrays = one_stored_mode(arrays)
    except ValueError as exc:
        raise CliError(f"frames of a stack share one size and mode: {exc}") from None
    kinds = {(a.ndim, a.shape[2:], a.dtype.str) for a in arrays}
    if len(kinds) > 1 and all(a.dtype == np.uint8 for a in arrays):
        alpha = any(a.ndim == 3 and a.shape[2] in (2, 4) for a in arrays)
        arrays = [np.asarray(im.convert("RGBA" if alpha else "RGB")) for im in images]
    if all(a.ndim == 3 and a.shape[2] == 3 for a in arrays) and all(
            (a[:, :, 0] == a[:, :, 1]).all() and (a[:, :, 1] == a[:, :, 2]).all()
            for a in arrays):
        arrays = [a[:, :, 0] for a in arrays]
    return arrays


def load_stack(paths: Sequence[Path]) -> np.ndarray:
    """The frames of every file in order, as one (N, H, W[, C]) uint8/uint16 array."""
    frames: list[np.ndarray] = []
    images: list[Image.Image] = []
    for path in paths:
        if path.suffix.lower() == ".npy":
            frames += _npy_frames(path)
        else:
            images += _image_frames(path)
    if images and frames:
        raise CliError("give image files or .npy arrays, not both")
    if images:
        frames = _as_arrays(images)
    shapes = {(f.shape, f.dtype.str) for f in frames}
    if len(shapes) > 1:
        first = frames[0]
        bad = next(f for f in frames if (f.shape, f.dtype.str) != (first.shape, first.dtype.str))
        raise CliError(f"every frame must have the first frame's shape and type "
                       f"{first.shape} {first.dtype}, got {bad.shape} {bad.dtype}")
    if len(frames) < MIN_FRAMES:
        raise CliError(f"a stack needs at least {MIN_FRAMES} frames, got {len(frames)}")
    if images and frames[0].ndim == 2 and images[0].mode not in ("L", "I;16", "I", "1"):
        print_note(f"{paths[0]}: the frames are grey (R = G = B): read as L")
    if frames[0].dtype == np.int16:  # as the other lessons show it (cli/lessons.load_image)
        print_note(f"{paths[0]}: signed 16-bit (I;16S): shown as I;16 of sample + 32768, the "
                   "samples its layouts code")
        frames = [signed_to_offset(f) for f in frames]
    return np.stack(frames)
