"""DICOM series on the command line (spec section 17, the chunk ``dser``), through
:mod:`svdcodec.integrations.dicom_series`:

- ``encode slices/*.dcm --stack series.svdi`` (or ``encode slices/ --stack series.svdi``): the
  slices of one series, in the order of their positions, as one stack with every header;
- ``decode series.svdi out.dcm`` writes ``out-000.dcm``, ``out-001.dcm``, ... and ``decode
  series.svdi DIR/`` writes ``DIR/series-000.dcm``, ...: one file per slice, each checked
  before any is written (an existing one only with --force);
- ``info series.svdi`` shows the series (slices, description, modality, slice spacing).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..codec import decode_stack, encode, encode_stack, read_dicom_series, read_header
from ..errors import SvdiError, TruncatedError
from ..integrations import dicom
from ..integrations import dicom_series as series
from ..limits import Limits
from .dicom import error_record, is_dicom_path
from .errors import CliError, os_reason
from .fileio import Result, check_output, read_input, write_output


def is_series_input(paths: list[Path]) -> bool:
    """Whether ``encode PATHS --stack OUT`` joins DICOM files: a DICOM input or a folder."""
    return any(p.is_dir() or is_dicom_path(p) for p in paths)


def series_sources(paths: list[Path]) -> list[Path]:
    """The DICOM files of ``paths``: each file as given, each folder's DICOM files (by name,
    not recursing, hidden files skipped); CliError for an input that is not DICOM or a folder
    without DICOM files."""
    sources: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir()
                           if p.is_file() and not p.name.startswith(".") and is_dicom_path(p))
            if not found:
                raise CliError(f"{path}: a folder without DICOM files")
            sources += found
        elif not is_dicom_path(path):
            raise CliError(f"{path}: not a DICOM file: --stack joins either DICOM files (the "
                           f"slices of a series) or image files")
        else:
            sources.append(path)
    return sources


def encode_series_file(paths: list[Path], out: Path, options: dict[str, Any],
                       coding: str | None, force: bool = False,
                       progress: Callable[[int, int], object] | None = None) -> Result:
    """``encode slices/*.dcm --stack OUT``: one stack with a ``dser`` chunk (one file: as
    ``encode scan.dcm OUT``); the record says the error in stored and rescaled units."""
    from .files import encode_notes  # which imports the DICOM module

    sources = series_sources(paths)
    check_output(out, force, *sources)
    try:
        image = series.read_series(sources)
    except OSError as exc:
        raise CliError(f"{getattr(exc, 'filename', None) or out}: {os_reason(exc)}") from None
    except (ImportError, dicom.DicomError) as exc:
        raise CliError(str(exc)) from None
    notes = list(image.notes)
    options = {**options, "bits": options.get("bits") or image.bits}
    start = time.perf_counter()
    try:
        data = _encode(image, coding or "auto", options, progress)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    seconds = time.perf_counter() - start
    info = read_header(data)
    record: dict[str, Any] = {
        "input": [str(s) for s in sources], "output": str(out), "bytes": len(data),
        "input_bytes": sum(s.stat().st_size for s in sources), "width": info.width,
        "height": info.height, "mode": info.mode, "layout": info.layout,
        "factors": info.factors if info.layout != "patch" else None,
        "ranks": list(info.ranks), "frames": info.frames, "stack_coding": info.stack_coding,
        "bpp": 8 * len(data) / (info.width * info.height * info.frames),
        "seconds": seconds, "psnr": None, "durations": None, "loop": None}
    notes += encode_notes(image.pixels, data, options, record, decode_stack)
    decoded = decode_stack(data)
    record["dicom"] = error_record(image.pixels, decoded.reshape(image.pixels.shape),
                                   image.headers, options["bits"])
    if info.frames > 1:
        notes.append(f"encoded {info.frames} slices as one stack (coding {info.stack_coding}) "
                     f"with their {info.frames} DICOM headers (dser: "
                     f"{_chunk_size(info, 'dser'):,} bytes)")
    record["notes"] = notes
    write_output(out, data)
    return Result(out, record, notes)


def _encode(image: series.SeriesImage, coding: str, options: dict[str, Any],
            progress: Callable[[int, int], object] | None) -> bytes:
    """The stack with ``dser``; one slice as ``encode scan.dcm`` writes it (with ``dicm``)."""
    if len(image.headers) == 1:
        return encode(image.pixels[0], dicom=image.headers[0], **options, progress=progress)
    return encode_stack(image.pixels, coding=coding, dicom_series=image.headers, **options,
                        progress=progress)


def _chunk_size(info: Any, ctype: str) -> int:
    return sum(c.size for c in info.chunks if c.type == ctype)


def has_series(path: Path) -> bool:
    """Whether ``path`` is an .svdi file with a ``dser`` chunk (False if unreadable: the
    decode then says why)."""
    try:
        return read_header(path.read_bytes()).dicom_series is not None
    except (OSError, SvdiError):
        return False


def is_directory_output(output: str) -> bool:
    """``decode X.svdi DIR/``: an existing folder, or a name that ends with a separator."""
    return output.endswith(("/", os.sep)) or Path(output).is_dir()


def series_outputs(src: Path, out: Path, count: int, directory: bool) -> list[Path]:
    """The files of a series' slices: ``DIR/STEM-000.dcm`` ... for a folder ``out`` (STEM:
    the input's), else ``OUT-000.dcm`` ... (numbered as the frames of any stack)."""
    from .stackfiles import frame_path

    base = out / f"{src.stem}.dcm" if directory else out
    return [frame_path(base, k, count) for k in range(count)]


def decode_series_file(src: Path, out: Path, rank: int | None, force: bool = False,
                       directory: bool = False, *, limits: Limits | None = None) -> Result:
    """One DICOM file per slice of ``src`` (section 17.2): every output checked and every
    slice written in memory before the first file is written."""
    from .decodefile import salvage_hint, svdi_failure

    data = read_input(src)
    try:
        info = read_header(data, limits=limits)
        headers = read_dicom_series(data, limits=limits)
        if headers is None:
            raise CliError(f"{src}: holds no DICOM series (dser chunk): a folder output "
                           f"holds the slices of a series; name an output file")
        if directory and not out.is_dir():
            raise CliError(f"cannot write into {out}: the directory does not exist")
        outputs = series_outputs(src, out, len(headers), directory)
        for path in outputs:
            check_output(path, force, src)
        files = series.decode_series(data, rank=rank, limits=limits)
    except TruncatedError as exc:
        raise CliError(f"{src}: {exc}{salvage_hint(data, False, str(exc))}") from None
    except SvdiError as exc:
        raise svdi_failure(src, exc, limits, data) from None
    except (ImportError, dicom.DicomError) as exc:
        raise CliError(f"{src}: {exc}") from None
    for path, written in zip(outputs, files, strict=True):
        write_output(path, written)
    notes = [f"wrote the {len(files)} slices as {len(files)} DICOM files, "
             f"{outputs[0].name} ... {outputs[-1].name}"]
    return Result(outputs[0], {
        "input": str(src), "output": [str(p) for p in outputs], "format": "DICOM",
        "width": info.width, "height": info.height, "mode": info.mode,
        "decoded_mode": info.mode, "bytes": sum(len(f) for f in files), "frames": len(files),
        "notes": notes}, notes)


def describe(data: bytes) -> dict[str, Any]:
    """``info --json``'s ``series`` object, or the reason it could not be read."""
    try:
        headers = read_dicom_series(data)
        if headers is None:
            return {"error": "no dser chunk"}
        return series.describe_series(headers)
    except (ImportError, ValueError, TypeError) as exc:  # SvdiError, DicomError
        return {"error": str(exc)}


def info_line(data: bytes) -> str:
    """``DICOM series: 40 slices, CT "chest", 2.5 mm apart, 512x512``"""
    facts = describe(data)
    if "error" in facts:
        return f"DICOM series headers (dser) unreadable: {facts['error']}"
    description = f' "{facts["series_description"]}"' if facts["series_description"] else ""
    spacing = "" if facts["slice_spacing"] is None else \
        f", {facts['slice_spacing']:g} mm apart"
    rescale = ", Rescale Slope/Intercept differ between slices" if facts["rescale_varies"] \
        else ""
    return (f"DICOM series: {facts['count']} slices, {facts['modality']}{description}"
            f"{spacing}, {facts['columns']}x{facts['rows']}{rescale}")
