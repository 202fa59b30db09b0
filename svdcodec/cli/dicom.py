"""DICOM files on the command line: ``encode scan.dcm x.svdi``, ``decode x.svdi back.dcm`` and
what ``info`` shows, through :mod:`svdcodec.integrations.dicom` (the extra ``svdcodec[dicom]``).

A multi-frame file is encoded as one stack (spec section 14), never cut to its first frame.
Every failure is one :class:`CliError` line: pydicom missing (naming the extra), a transfer
syntax without an installed pixel handler (naming the handlers), pixels svdcodec cannot
store.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..codec import decode, decode_stack, encode, encode_stack, read_header
from ..integrations import dicom
from ..limits import Limits
from .errors import CliError, os_reason
from .fileio import Result, check_output, write_output

SUFFIXES = (".dcm", ".dicom")


def is_dicom_path(path: Path) -> bool:
    """A DICOM input: named ``.dcm``/``.dicom``, or a Part 10 file whatever its name."""
    if path.suffix.lower() in SUFFIXES:
        return True
    try:
        with path.open("rb") as f:
            return dicom.is_dicom(f.read(dicom.PREAMBLE_SIZE + len(dicom.DICM_PREFIX)))
    except OSError:
        return False  # the image reader reports it


def load_dicom(path: Path) -> dicom.DicomImage:
    """A DICOM file's pixels (all frames) and header; its notes name the file."""
    try:
        image = dicom.read_dicom(path)
    except OSError as exc:
        raise CliError(f"{path}: {os_reason(exc)}") from None
    except (ImportError, dicom.DicomError) as exc:
        raise CliError(f"{path}: {exc}") from None
    return dataclasses.replace(image, notes=tuple(f"{path}: {n}" for n in image.notes))


def encode_dicom_file(src: Path, out: Path, options: dict[str, Any], force: bool,
                      progress: Callable[[int, int], object] | None, coding: str | None
                      ) -> Result:
    """``encode scan.dcm x.svdi``: the pixels as one image, or every frame of a multi-frame
    file as one stack (spec section 14, ``coding``), the header in ``dicm``; the record says
    the error in stored and rescaled units."""
    from .files import encode_notes  # which imports this module

    check_output(out, force, src)
    image = load_dicom(src)
    notes = list(image.notes)
    options = {**options, "bits": options.get("bits") or image.bits}
    start = time.perf_counter()
    if image.frames > 1:
        data = encode_stack(image.pixels, coding=coding or "auto", dicom=image.header,
                            **options, progress=progress)
    else:
        data = encode(image.pixels, dicom=image.header, **options, progress=progress)
    seconds = time.perf_counter() - start
    info = read_header(data)
    decoded = decode_stack(data) if image.frames > 1 else decode(data)
    record: dict[str, Any] = {
        "input": str(src), "output": str(out), "bytes": len(data),
        "input_bytes": src.stat().st_size, "width": info.width, "height": info.height,
        "mode": info.mode, "layout": info.layout,
        "factors": info.factors if info.layout != "patch" else None,
        "ranks": list(info.ranks), "frames": info.frames, "stack_coding": info.stack_coding,
        "bpp": 8 * len(data) / (info.width * info.height * info.frames),
        "seconds": seconds, "psnr": None, "durations": None, "loop": None}
    if image.frames == 1:
        notes += encode_notes(image.pixels, data, options, record)
        if coding is not None:
            notes.append(f"--coding {coding} applies to stacks: {src.name} has one frame, "
                         f"encoded as a single image")
    else:  # as for any stack: --target-psnr measured over every frame, its notes
        notes += encode_notes(image.pixels, data, options, record, decode_stack)
        notes.append(f"encoded {info.frames} frames as one stack (coding {info.stack_coding})")
    record["dicom"] = error_record(image.pixels, decoded, image.header, options["bits"])
    record["notes"] = notes
    write_output(out, data)
    return Result(out, record, notes)


def error_record(image: np.ndarray, decoded: np.ndarray, header: bytes | Sequence[bytes],
                 bits: int) -> dict[str, Any]:
    """The error of an encode in stored units and after Rescale Slope (Hounsfield units for
    CT), and the PSNR with the peak 2^bits - 1 that quality was relative to: what ``encode``
    reports and the round trip keeps to. ``header``: the file's, or a series' one per frame
    (spec section 17), each frame's error rescaled by its own slope."""
    diff = decoded.astype(np.float64) - image.astype(np.float64)
    headers = [header] if isinstance(header, bytes) else list(header)
    facts = [dicom.describe(h) for h in headers]
    slopes = np.array([abs(f["rescale_slope"]) if isinstance(f["rescale_slope"], float) else
                       1.0 for f in facts])
    rescaled = np.abs(diff).reshape(len(headers), -1).max(axis=1) * slopes
    rms = float(np.sqrt(np.mean(diff * diff)))
    peak = 2.0**bits - 1
    return {"bits": bits, "max_error": int(np.abs(diff).max()), "rms_error": rms,
            "psnr": math.inf if rms == 0 else 20 * math.log10(peak / rms),
            "max_error_rescaled": float(rescaled.max()),
            "units": "HU" if facts[0]["modality"] == "CT" else "rescaled units"}


def describe_error(err: dict[str, Any]) -> str:
    return (f"max error {err['max_error']} ({err['max_error_rescaled']:g} "
            f"{err['units']}), rms {err['rms_error']:.2f}, {err['psnr']:.2f} dB of "
            f"{err['bits']}-bit samples")


def to_dicom(data: bytes, src: Path, rank: int | None, limits: Limits | None = None,
             allow_truncated: bool = False) -> bytes:
    """The DICOM file of an .svdi file that holds a DICOM header (``limits``: the decoder's,
    None for the default; ``allow_truncated``: see :func:`svdcodec.decode`)."""
    try:
        return dicom.decode_dicom(data, rank=rank, limits=limits,
                                  allow_truncated=allow_truncated)
    except (ImportError, dicom.DicomError) as exc:
        raise CliError(f"{src}: {exc}") from None


def stored_values_note(header: bytes | None) -> str | None:
    """The note of an image output (PNG, TIFF, .npy: not .dcm) decoded from a file whose
    ``dicm`` header says MONOCHROME1, or None. The output holds the stored samples, as
    pydicom's ``pixel_array`` does and as the .svdi file keeps them, so that encoding it again
    keeps the same values; MONOCHROME1 means low values display white (DICOM PS3.3
    C.7.6.3.1.2), so a viewer that knows only the image shows it inverted. Inverting here would
    change samples that a .dcm output keeps bit for bit."""
    if not header:
        return None
    try:
        photometric = dicom.describe(header)["photometric"]
    except (ImportError, ValueError, TypeError):  # DicomError, or a value unreadable
        return None
    if photometric != "MONOCHROME1":
        return None
    return ("DICOM MONOCHROME1 (low values display white): written as stored, not inverted "
            "for display, so an image viewer shows it inverted (decode to .dcm keeps "
            "MONOCHROME1)")


def info_line(header: bytes) -> str:
    """``DICOM: CT 128x128, 16 bits (16 stored, signed), rescale 1 x + -1024, window 40/400``"""
    try:
        f = dicom.describe(header)
    except (ImportError, ValueError, TypeError) as exc:  # DicomError, or a value unreadable
        return f"DICOM header of {len(header):,} bytes ({exc})"
    frames = f" x {f['frames']} frames" if f["frames"] > 1 else ""
    sign = "signed" if f["signed"] else "unsigned"
    text = (f"DICOM: {f['modality']} {f['columns']}x{f['rows']}{frames}, {f['photometric']}, "
            f"{f['bits_allocated']} bits ({f['bits_stored']} stored, {sign})")
    if f["rescale_slope"] is not None or f["rescale_intercept"] is not None:
        text += f", rescale {_num(f['rescale_slope'])} x + {_num(f['rescale_intercept'])}"
    if f["window_center"] is not None:
        text += f", window {_num(f['window_center'])}/{_num(f['window_width'])}"
    return text


def _num(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ",".join(_num(v) for v in value)
    return f"{value:g}"


def describe_header(header: bytes) -> dict[str, Any]:
    """``info --json``'s ``dicom`` object: :func:`svdcodec.integrations.dicom.describe`, or
    the reason it could not be read."""
    try:
        return dicom.describe(header)
    except (ImportError, ValueError, TypeError) as exc:  # DicomError, or a value unreadable
        return {"error": str(exc)}
