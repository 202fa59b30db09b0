"""The job of ``svdcodec decode``, one file: an .svdi file to an image file (any format
Pillow writes, .npy, DICOM), or a stack's frames to one file each or an animation.

An output format that cannot hold the decoded mode gets the nearest mode it can hold (16 bits to
8 as round(v / 257), L to RGB, LA to RGBA; :mod:`svdcodec.cli.outformat`) with a note, or a
clear error (alpha in a format without alpha). Notes are returned in ``notes`` for the caller to
print, one line each.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from ..codec import decode, decode_stack, read_dicom_series, read_header
from ..errors import LimitError, SvdiError, TruncatedError
from ..info import SvdiInfo
from ..limits import Limits
from ..pillow.convert import from_array
from . import dicom
from .dicomseries import decode_series_file, has_series
from .errors import CliError, limit_hint
from .fileio import Result, check_output, read_input, write_output
from .npyfiles import NPY, save_npy
from .outformat import METADATA_FORMATS, fit_format, metadata_options, written_mode


def decode_file(src: Path, out: Path, rank: int | None = None, force: bool = False,
                allow_truncated: bool = False, frame: int | None = None,
                all_frames: bool = False,
                progress: Callable[[int, int], object] | None = None, *,
                limits: Limits | None = None) -> Result:
    """Decode the .svdi file ``src`` to ``out`` (format from its extension; .npy: the array
    as decoded); of a stack (spec section 14), frame ``frame``, or with ``all_frames`` every
    frame to ``OUT-000.png``, ``OUT-001.png``, ... (:func:`svdcodec.cli.stackfiles.frame_path`),
    or neither: every frame where the format holds them (an animation, the pages of a TIFF,
    an (N, H, W[, C]) .npy array), else frame 0. ``progress``, ``limits``: see
    :func:`svdcodec.decode`. A file of DICOM MONOCHROME1 pixels is written as stored, with a
    note (:func:`svdcodec.cli.dicom.stored_values_note`)."""
    if out.suffix.lower() in dicom.SUFFIXES and has_series(src):  # one file a slice (spec 17)
        if frame is not None:
            raise CliError(f"--frame {frame}: the DICOM output of a series is one file per "
                           f"slice, every slice")
        return decode_series_file(src, out, rank, force, limits=limits)
    check_output(out, force, src)
    if out.suffix.lower() in dicom.SUFFIXES:
        if frame is not None:
            raise CliError(f"--frame {frame}: a DICOM output holds every frame of the stack")
        return _decode_to_dicom(read_input(src), src, out, rank, limits, allow_truncated)
    npy = out.suffix.lower() == NPY
    fmt_name = "NPY" if npy else Image.registered_extensions().get(out.suffix.lower())
    if fmt_name is None or (not npy and fmt_name not in Image.SAVE):
        raise CliError(f"unknown output format for {out.name!r}: use .png, .tif, .webp, "
                       f".npy, ...")
    data = read_input(src)
    try:
        info = read_header(data, allow_truncated=allow_truncated, limits=limits)
        result = _decode_image(data, info, src, out, fmt_name, rank, force, allow_truncated,
                               frame, all_frames, progress, limits)
    except TruncatedError as exc:
        raise CliError(f"{src}: {exc}{salvage_hint(data, allow_truncated, str(exc))}") from None
    except SvdiError as exc:  # name the file, as a batch does
        raise svdi_failure(src, exc, limits, data) from None
    series = _series_header(data, limits) if info.dicom_series is not None else None
    shown = dicom.stored_values_note(info.metadata.get("dicom") or series)
    if shown is not None:
        result.notes.insert(0, shown)
        result.record["notes"] = result.notes
    return result


def _series_header(data: bytes, limits: Limits | None) -> bytes | None:
    """The first slice header of a series (dser, spec section 17: one Photometric
    Interpretation for all), or None where it is unreadable (the frames decode anyway)."""
    try:
        headers = read_dicom_series(data, limits=limits)
    except SvdiError:
        return None
    return headers[0] if headers else None


def _decode_image(data: bytes, info: SvdiInfo, src: Path, out: Path, fmt_name: str,
                  rank: int | None, force: bool, allow_truncated: bool, frame: int | None,
                  all_frames: bool, progress: Callable[[int, int], object] | None,
                  limits: Limits | None) -> Result:
    """:func:`decode_file` to an image file or .npy, ``info`` read (raises SvdiError)."""
    from .stackfiles import decode_frame_array, frame_path

    whole = None if frame is not None or all_frames else \
        _write_stack(data, info, out, fmt_name, src, rank, limits)
    if whole is not None:
        return whole
    if all_frames and frame is None and info.frames > 1:
        outputs = [frame_path(out, k, info.frames) for k in range(info.frames)]
        for path in outputs:
            check_output(path, force, src)
        # every frame rendered before the first is written: a frame that fails
        # leaves the directory as it was
        rendered = [_render(decode(data, rank=rank, frame=k, limits=limits), info,
                            path, fmt_name, src, [], rank)
                    for k, path in enumerate(outputs)]
        results = []
        for encoded, result in rendered:
            write_output(result.output, encoded)
            results.append(result)
        record = dict(results[0].record, output=[str(p) for p in outputs],
                      bytes=sum(r.record["bytes"] for r in results))
        return Result(out, record, results[0].notes)
    if info.frames > 1 or frame is not None:
        array = decode_frame_array(data, rank, frame, progress, limits=limits)
    else:
        array = decode(data, rank=rank, allow_truncated=allow_truncated, limits=limits,
                       progress=progress)
    notes = []
    if info.frames > 1 and frame is None:
        notes.append(f"decoded frame 0 of a stack of {info.frames} frames (--frame K for "
                     f"another, --out-dir DIR for every frame)")
    return _write_image(array, info, out, fmt_name, src, notes, rank)


def _write_image(array: np.ndarray, info: SvdiInfo, out: Path, fmt_name: str, src: Path,
                 notes: list[str], rank: int | None) -> Result:
    """One decoded image written to ``out`` in ``fmt_name``, fitted to what it can hold (.npy:
    the array as decoded, written as it is serialized)."""
    if fmt_name == "NPY":
        _rank_note(info, rank, notes)
        return _npy_result(info, out, src, notes, save_npy(out, array))
    encoded, result = _render(array, info, out, fmt_name, src, notes, rank)
    write_output(out, encoded)
    return result


def _write_stack(data: bytes, info: SvdiInfo, out: Path, fmt_name: str, src: Path,
                 rank: int | None, limits: Limits | None) -> Result | None:
    """Every frame of ``data`` written to ``out`` where its format holds them: an animation
    (spec section 16) with its timing, the pages of one file
    (:func:`svdcodec.cli.stackfiles.render_pages`) or one (N, H, W[, C]) .npy array; None
    (nothing written) where it does not."""
    from .stackfiles import ANIMATED_FORMATS, PAGED_FORMATS, render_animation, render_pages

    animation = info.durations is not None and fmt_name in ANIMATED_FORMATS
    if not animation and (info.frames == 1 or fmt_name not in PAGED_FORMATS):
        return None
    frames = decode_stack(data, rank=rank, limits=limits)
    if fmt_name == "NPY":
        notes = [f"wrote the {info.frames} frames as one (N, H, W[, C]) array of shape "
                 f"{frames.shape} (--frame K for one frame)"]
        _rank_note(info, rank, notes)
        result = _npy_result(info, out, src, notes, save_npy(out, frames))
        result.record["frames"] = info.frames
        return result
    render = render_animation if animation else render_pages
    encoded, result = render(frames, info, out, fmt_name, src)
    _rank_note(info, rank, result.notes)
    write_output(out, encoded)
    return result


def _rank_note(info: SvdiInfo, rank: int | None, notes: list[str]) -> None:
    if rank is not None and info.ranks and rank > max(info.ranks):
        notes.append(f"--rank {rank} is above the ranks stored ({list(info.ranks)}): decoded "
                     f"at the stored ranks")


def _npy_result(info: SvdiInfo, out: Path, src: Path, notes: list[str], size: int) -> Result:
    return Result(out, {"input": str(src), "output": str(out), "format": "NPY",
                        "width": info.width, "height": info.height, "mode": info.mode,
                        "decoded_mode": info.mode, "bytes": size, "notes": notes}, notes)


def _render(array: np.ndarray, info: SvdiInfo, out: Path, fmt_name: str, src: Path,
            notes: list[str], rank: int | None) -> tuple[bytes, Result]:
    """The bytes of ``out`` (see :func:`_write_image`) and its result, nothing written."""
    _rank_note(info, rank, notes)
    if fmt_name == "NPY":
        stream = io.BytesIO()
        np.save(stream, array, allow_pickle=False)
        return stream.getvalue(), _npy_result(info, out, src, notes, stream.tell())
    im, converted = fit_format(from_array(array), fmt_name)
    save = metadata_options(info.metadata) if fmt_name in METADATA_FORMATS else {}
    grey_to_rgb = info.mode in ("L", "LA", "I;16") and im.mode in ("RGB", "RGBA")
    if grey_to_rgb and save.pop("icc_profile", None) is not None:
        notes.append("dropped the grey ICC profile: it does not describe RGB pixels")
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. GIF/ICO size or palette warnings
        im.save(buffer, format=fmt_name, **save)
    written, size = written_mode(buffer.getvalue(), im)
    if converted or written != im.mode:
        how = "; ".join(filter(None, [converted, f"written as {written}"]))
        notes.insert(0, f"{fmt_name} cannot hold {info.mode} images: {how}")
    if size != im.size:  # ICO keeps at most 256 x 256
        raise CliError(f"{fmt_name} cannot hold a {im.width}x{im.height} image (it would be "
                       f"{size[0]}x{size[1]}): use .png or .tif")
    return buffer.getvalue(), Result(out, {
        "input": str(src), "output": str(out), "format": fmt_name, "width": im.width,
        "height": im.height, "mode": written, "decoded_mode": info.mode,
        "bytes": buffer.tell(), "notes": notes}, notes)


def _decode_to_dicom(data: bytes, src: Path, out: Path, rank: int | None,
                     limits: Limits | None = None, allow_truncated: bool = False) -> Result:
    """``decode x.svdi y.dcm``: a DICOM file from the header the .svdi file keeps."""
    try:
        info = read_header(data, limits=limits, allow_truncated=allow_truncated)
        written = dicom.to_dicom(data, src, rank, limits, allow_truncated)
    except TruncatedError as exc:
        raise CliError(f"{src}: {exc}{salvage_hint(data, allow_truncated, str(exc))}") from None
    except SvdiError as exc:
        raise svdi_failure(src, exc, limits, data) from None
    write_output(out, written)
    return Result(out, {"input": str(src), "output": str(out), "format": "DICOM",
                        "width": info.width, "height": info.height, "mode": info.mode,
                        "decoded_mode": info.mode, "bytes": len(written), "notes": []})


def svdi_failure(src: Path, exc: SvdiError, limits: Limits | None, data: bytes = b""
                 ) -> CliError:
    """'SRC: reason', and for a LimitError the --limit that raises it (:func:`limit_hint`;
    ``data``, the file, gives a stack's N·W·H)."""
    hint = limit_hint(str(exc), limits, _stack_pixels(data)) \
        if isinstance(exc, LimitError) else ""
    return CliError(f"{src}: {exc}{hint}")


_HEADER_ONLY = Limits(max_width=2**40, max_height=2**40, max_pixels=2**62, max_alloc_bytes=2**62,
                      max_work=2**62, max_chunks=2**40)  # read_header allocates no pixels


def _stack_pixels(data: bytes) -> int:
    """N·W·H of a stack (0 for a single image or an unreadable header)."""
    try:
        info = read_header(data, limits=_HEADER_ONLY)
    except (SvdiError, ValueError, TypeError):
        return 0
    return info.width * info.height * info.frames if info.frames > 1 else 0


def salvage_hint(data: bytes, allow_truncated: bool, message: str = "") -> str:
    """'; decode --allow-truncated ...' when that option would decode the file, else why not
    (a stack, a patch-layout file); '' when ``message``, the error's, says it already."""
    try:
        info = read_header(data, allow_truncated=True)
    except Exception:
        return ""
    if "salvaged" in message:
        return ""
    if info.frames > 1:  # --allow-truncated too: the decode refuses (spec 14.5)
        return " (stacks cannot be salvaged, spec section 14.5)"
    if allow_truncated:
        return ""
    if info.layout == "patch":
        return " (files of layout patch cannot be salvaged)"
    return "; decode --allow-truncated decodes what precedes the cut"
