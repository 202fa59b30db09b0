"""The teaching commands: ``demo``, ``compare``, ``basis``, ``animate``, ``spectrum``,
``denoise`` (:mod:`svdcodec.teach`; plots need the ``plot`` extra)."""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..codec import encode
from ..decoding import offset_to_signed
from ..format import SIGNATURE
from ..options import signed_to_offset
from ..teach import demo
from .errors import CliError
from .fileio import check_output, print_note, read_input, write_output, writing
from .inputs import load_image as _load_any
from .outformat import fits_mode


def load_image(path: Path) -> tuple[np.ndarray, dict[str, Any]]:
    """An input as the lessons take it: a signed 16-bit image (I;16S) as the unsigned u =
    sample + 32768 that its layouts code (spec section 15.1), with a note; its bytes and errors
    are those of the signed image."""
    image, meta = _load_any(path)
    if image.dtype == np.int16:
        print_note(f"{path}: signed 16-bit (I;16S): shown as I;16 of sample + 32768, the "
                   "samples its layouts code")
        image = signed_to_offset(image)
    meta.pop("dicom", None)  # the lessons write no DICOM
    meta.pop("bits", None)
    return image, meta


def cmd_demo(args: argparse.Namespace) -> int:
    # read as the other lessons read (a signed image, an .npy array, DICOM), not by Pillow alone
    path = Path(args.image) if args.image else None
    demo.run(path, args.ranks, args.layouts, args.factors, args.qualities,
             image=load_image(path)[0] if path is not None else None)
    return 0

def cmd_compare(args: argparse.Namespace) -> int:
    from ..teach import report, table

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
        with writing(plot):
            plots.save_figure(figure, plot)
    print(comparison.to_json() if args.json else table.format_table(comparison, src.name))
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
    with writing(out):
        plots.save_figure(figure, out)
    print(f"{out}: {len(basis.vectors)} basis vectors of {basis.patch_size}x{basis.patch_size} "
          f"({basis.name}, {basis.patches:,} patches)")
    return 0

def cmd_animate(args: argparse.Namespace) -> int:
    from ..teach import animation

    src, out = Path(args.input), Path(args.output)
    if out.suffix.lower() not in (".gif", ".webp"):
        raise CliError(f"the animation must be a .gif or .webp file, got {out.name!r}")
    check_output(out, args.force, src)
    image, _ = load_image(src)
    image = animation.shrink(image, max_size=args.max_size, scale=args.scale)
    ranks = args.ranks or animation.default_ranks(image, args.layout)
    frames = animation.animation_frames(image, ranks, layout=args.layout, factors=args.factors,
                                        level=args.level, progress=None)
    with writing(out):
        animation.save_animation(frames, out, duration=args.duration)
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

        with writing(plot):
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
    noisy, _ = _load_any(src)
    signed = noisy.dtype == np.int16  # denoised as u = sample + 32768, written back signed
    if signed:
        if not fits_mode(fmt_name, "I"):
            raise CliError(f"{fmt_name} cannot hold signed 16-bit (I;16S) images: use .tif")
        print_note(f"{src}: signed 16-bit (I;16S): denoised as I;16 of sample + 32768, the "
                   "samples its layouts code, and written back signed")
        noisy = signed_to_offset(noisy)
    reference = load_image(Path(args.reference))[0] if args.reference else None
    image, rules, facts = lessons.denoise_image(noisy, args.sigma, reference)
    if signed:
        image = offset_to_signed(image)
    buffer = io.BytesIO()
    from_array(image).save(buffer, format=fmt_name)
    write_output(out, buffer.getvalue())
    print(lessons.format_denoise(src.name, noisy.shape, rules, facts))
    chosen = next(r for r in rules if r.name == lessons.GAVISH_DONOHO)
    print(f"{out}: {image.shape[1]}x{image.shape[0]}, rank {','.join(map(str, chosen.ranks))}")
    return 0
