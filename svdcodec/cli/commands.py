"""The codec's commands: ``encode``, ``decode`` (one file, or many with ``--out-dir``) and
``info``."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ..codec import read_header
from ..errors import SvdiError, TruncatedError
from ..info import SvdiInfo
from ..limits import Limits, get_default_limits
from . import batch, dask_batch, dicom, dicomseries
from .decodefile import decode_file, salvage_hint, svdi_failure
from .errors import CliError, os_reason
from .fileio import print_note, read_input
from .files import encode_file
from .stackfiles import decoded_outputs, encode_stack_file


def _encode_options(args: argparse.Namespace) -> dict[str, Any]:
    options = {"rank": args.rank, "energy": args.energy, "quality": args.quality,
               "target_psnr": args.target_psnr, "layout": args.layout, "factors": args.factors,
               "level": args.level, "progressive": args.progressive}
    if args.target_size is not None:
        options["target_size"] = args.target_size
    if args.patch_size is not None:  # a patch layout option, passed only when given
        options["patch_size"] = args.patch_size
    if getattr(args, "entropy", None) is not None:  # likewise
        options["entropy"] = args.entropy
    if getattr(args, "bits", None) is not None:  # DICOM inputs choose theirs otherwise
        options["bits"] = args.bits
    return options

def _check_encode_output(out: Path) -> None:
    """CliError for an encode output named as another format (photo.png, scan.dcm, a.npy):
    encode writes .svdi bytes, which would sit in a file whose name says PNG or DICOM."""
    from PIL import Image

    suffix = out.suffix.lower()
    if suffix != ".svdi" and (suffix in (".npy", *dicom.SUFFIXES) or
                              suffix in Image.registered_extensions()):
        raise CliError(f"{out}: encode writes an .svdi file, not {suffix[1:].upper()}: name it "
                       f"{out.with_suffix('.svdi').name} (decode X.svdi {out.name} writes "
                       f"{suffix})")


def cmd_encode(args: argparse.Namespace) -> int:
    if args.out_dir is not None:
        job = functools.partial(encode_file, options=_encode_options(args), force=args.force,
                                coding=args.coding)
        return _run_batch(args, job, ".svdi", "encoded")
    _check_encode_output(Path(args.stack if args.stack is not None else args.output))
    with _bar(args, "encode") as progress:
        if args.stack is not None and dicomseries.is_series_input(
                [Path(p) for p in args.inputs]):  # the slices of a series (spec section 17)
            result = dicomseries.encode_series_file([Path(p) for p in args.inputs],
                                                    Path(args.output), _encode_options(args),
                                                    args.coding, args.force, progress)
        elif args.stack is not None:
            result = encode_stack_file([Path(p) for p in args.inputs], Path(args.output),
                                       _encode_options(args), args.coding, args.force,
                                       progress)
        else:
            result = encode_file(Path(args.input), Path(args.output), _encode_options(args),
                                 args.force, progress, args.coding)
    for note in result.notes:
        print_note(note)
    r = result.record
    if args.json:
        print(json.dumps(r, indent=2))
        return 0
    factors = "" if r["factors"] is None else f", {r['factors']}"
    if r.get("frames", 1) > 1:
        factors += f", {r['frames']} frames ({r['stack_coding']})"
    psnr = "" if r["psnr"] is None else f", {r['psnr']:.2f} dB"
    print(f"{r['output']}: {r['width']}x{r['height']} {r['mode']}, {r['layout']}{factors}, "
          f"ranks {r['ranks']}, {r['bytes']:,} bytes ({r['bpp']:.3f} bpp){psnr}, "
          f"{r['seconds']:.2f} s")
    if "dicom" in r:
        print(f"  DICOM pixels: {dicom.describe_error(r['dicom'])}")
    return 0

# A single encode or decode shows a progress bar once it has run this long (seconds).
PROGRESS_DELAY = 1.0

@contextlib.contextmanager
def _bar(args: argparse.Namespace, desc: str) -> Iterator[Callable[[int, int], object] | None]:
    """The ``progress(done, total)`` callable of one encode or decode: a tqdm bar on stderr,
    shown after PROGRESS_DELAY and removed when done. ``--progress``: always;
    ``--no-progress``: never; neither: when stderr is a terminal (and not for --json)."""
    wanted = getattr(args, "progress", None)
    if wanted is None:
        wanted = not getattr(args, "json", False) and sys.stderr.isatty()
    if not wanted:
        yield None
        return
    with tqdm(total=100, desc=desc, unit="%", file=sys.stderr, delay=PROGRESS_DELAY,
              leave=False, bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}") as bar:
        def update(done: int, total: int) -> None:
            bar.update(100 * done // max(total, 1) - bar.n)
        yield update

def _limits(args: argparse.Namespace) -> Limits | None:
    """decode --limit FIELD=N ...: the default limits with those fields changed."""
    settings = dict(getattr(args, "limit_settings", None) or [])
    return dataclasses.replace(get_default_limits(), **settings) if settings else None

def cmd_decode(args: argparse.Namespace) -> int:
    args.limits = _limits(args)
    if args.out_dir is not None:
        job = functools.partial(decode_file, rank=args.rank, force=args.force,
                                allow_truncated=args.allow_truncated, frame=args.frame,
                                all_frames=True, limits=args.limits)
        outputs = decoded_outputs if args.frame is None else None
        return _run_batch(args, job, "." + args.format, "decoded", outputs)
    if dicomseries.is_directory_output(args.output):  # DIR/: a series' slices (spec 17)
        if args.frame is not None:
            raise CliError(f"--frame {args.frame}: a folder output holds every slice")
        result = dicomseries.decode_series_file(Path(args.input), Path(args.output), args.rank,
                                                args.force, True, limits=args.limits)
    else:
        with _bar(args, "decode") as progress:
            result = decode_file(Path(args.input), Path(args.output), args.rank, args.force,
                                 args.allow_truncated, args.frame, progress=progress,
                                 limits=args.limits)
    for note in result.notes:
        print_note(note)
    r = result.record
    shown = r["output"] if isinstance(r["output"], str) else \
        f"{r['output'][0]} ... {r['output'][-1]} ({len(r['output'])} files)"
    print(f"{shown}: {r['width']}x{r['height']} {r['mode']}")
    return 0

def _run_batch(args: argparse.Namespace, job: batch.Job, suffix: str, verb: str,
               outputs: Callable[[Path, Path], list[Path]] | None = None) -> int:
    """Run ``job`` over every input into ``--out-dir``; one line per failure, then a summary."""
    out_dir = Path(args.out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise CliError(f"--out-dir {out_dir} is a file, not a directory")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot create the output directory {out_dir}: {os_reason(exc)}"
                       ) from None
    tasks = batch.plan([Path(p) for p in args.paths], out_dir, suffix, outputs)
    jobs = args.jobs or batch.default_jobs()
    start = time.perf_counter()
    ok = failed = bytes_in = bytes_out = 0
    records = []
    if getattr(args, "scheduler", None) is None:
        engine = f"-j {min(jobs, len(tasks))}"
        run = batch.run(tasks, job, jobs, desc=args.command)
    else:  # on a Dask cluster
        engine = f"--scheduler {args.scheduler}" + (f" -j {args.jobs}" if args.jobs else "")
        run = dask_batch.run_on(args.scheduler, tasks, job, workers=args.jobs,
                                desc=args.command)
    with contextlib.closing(run) as outcomes:
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
               f"{bytes_out:,} bytes out, {seconds:.2f} s ({engine})")
    if getattr(args, "json", False):
        print(json.dumps({"files": records, "ok": ok, "failed": failed}, indent=2))
        print(summary, file=sys.stderr)
    else:
        print(summary)
    return 1 if failed else 0

def timing_line(info: SvdiInfo) -> str:
    """The anim chunk (spec section 16) in words: loop count, then the durations."""
    loop = "no loop count" if info.loop is None else \
        "loops without end" if info.loop == 0 else f"loop count {info.loop}"
    times = info.durations or ()
    if len(set(times)) == 1:
        shown = f"every frame {times[0]} ms"
    else:
        shown = ", ".join(map(str, times[:12])) + (", ..." if len(times) > 12 else "") + " ms"
    return f"animation: {loop}; durations {shown} (total {sum(times):,} ms)"


def cmd_info(args: argparse.Namespace) -> int:
    src = Path(args.input)
    data = read_input(src)
    limits = _limits(args)
    try:
        info = read_header(data, limits=limits)
    except TruncatedError as exc:
        raise CliError(f"{src}: {exc}{salvage_hint(data, False, str(exc))}") from None
    except SvdiError as exc:  # name the file, as a batch does
        raise svdi_failure(src, exc, limits, data) from None
    if args.json:
        record = asdict(info)
        record["metadata"] = {k: (len(v) if isinstance(v, bytes) else v)
                              for k, v in info.metadata.items()}
        if info.metadata.get("dicom"):
            record["dicom"] = dicom.describe_header(info.metadata["dicom"])
        if info.dicom_series is not None:  # spec section 17
            record["series"] = dicomseries.describe(data)
        print(json.dumps(record, indent=2))
        return 0
    print(f"{args.input}: {info.width}x{info.height} {info.mode} ({info.bit_depth}-bit), "
          f"layout {info.layout}, factors {info.factors}, {info.file_size:,} bytes")
    if info.stack_coding is not None:  # spec section 14
        pitch = f", {info.frame_pitch} rows per frame in the coded image of " \
            f"{info.width}x{info.frames * info.frame_pitch}" if info.frame_pitch else ""
        runs = ", one run of chunks per frame" if info.stack_coding == "frames" else ""
        print(f"  {info.frames} frames, stack coding {info.stack_coding}{pitch}{runs}")
    if info.durations is not None or info.loop is not None:  # spec section 16
        print(f"  {timing_line(info)}")
    for pl in info.planes:  # layout patch: what each plane stores (spec section 12)
        dense = pl.patches * pl.components
        share = f" of {dense:,} ({pl.coefficients / dense:.1%})" if dense else ""
        sub = "" if pl.subsampling == (1, 1) else \
            f", subsampled {pl.subsampling[0]}x{pl.subsampling[1]}"
        deblock = "off" if pl.deblock[0] == 0 else "/".join(map(str, pl.deblock))
        print(f"  plane {pl.index} ({pl.name}): {pl.patches:,} patches of "
              f"{pl.patch_size}x{pl.patch_size}{sub}, {pl.components} basis vectors, "
              f"{pl.coefficients:,} coefficients stored{share}, deblocking {deblock}, "
              f"{pl.raw_size:,} bytes raw, {pl.compressed_size:,} bytes {info.compression}")
    for g in info.groups if not info.planes else ():
        print(f"  group {g.index}: {g.rows}x{g.cols} rank {g.rank}, "
              f"{g.rank * (g.rows + g.cols + 1):,} numbers, {g.raw_size:,} bytes quantized, "
              f"{g.compressed_size:,} bytes zstd")
    _print_metadata(info, data)
    return 0


def _print_metadata(info: SvdiInfo, data: bytes) -> None:
    """``info``'s lines of the ancillary chunks: sizes, the DICOM header or series."""
    for key, value in info.metadata.items():
        print(f"  {key}: {len(value):,} bytes" if isinstance(value, bytes) else
              f"  {key}: {value}")
    if info.metadata.get("dicom"):
        print(f"  {dicom.info_line(info.metadata['dicom'])}")
    if info.dicom_series is not None:  # spec section 17
        print(f"  {dicomseries.info_line(data)}")
