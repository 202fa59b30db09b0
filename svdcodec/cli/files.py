"""Image files in and out: the jobs of ``svdcodec encode`` and ``decode``, one file each.

Outputs are written to a temporary file and renamed (:func:`svdcodec.codec.atomic_write`): an
existing file is replaced only with ``force``, an input never, and a failure leaves nothing
behind. :mod:`svdcodec.batch` runs these functions in worker processes.

Nothing happens silently: metadata an input carries that no file could store is dropped with a
note; an output format that cannot hold the decoded mode gets the nearest mode it can hold (16
bits to 8 as round(v / 257), L to RGB, LA to RGBA; :mod:`svdcodec.cli.outformat`) with a note,
or a clear error (alpha in a format without alpha); an encode that could not give what was asked
(a rank above the full rank, a PSNR or size not reached) or that grew the file says so. Notes
are returned in ``notes`` for the caller to print, one line each.

Arrays as ``.npy`` files (numpy's format) are images too, in and out: (H, W) or (H, W, C)
uint8, uint16 or int16 (either byte order), read memory-mapped; with ``--stack``, (N, H, W[, C])
frames (:func:`svdcodec.cli.stackfiles.npy_frames`). They hold images beyond what Pillow
opens (about 179 Mpixels) and beyond what PNG encodes in reasonable time: a gigapixel grey
image is 1 GiB.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..codec import atomic_write, decode, encode, read_header
from ..errors import LimitError, SvdiError, TruncatedError
from ..info import SvdiInfo
from ..limits import Limits, get_default_limits
from ..options import metadata_chunks
from ..pillow.convert import depth_note, from_array, to_stored
from . import dicom
from .errors import CliError, limit_hint, os_reason
from .outformat import METADATA_FORMATS, fit_format, metadata_options, written_mode


@dataclass
class Result:
    """What an encode or decode wrote: ``record`` is the ``--json`` object, ``notes`` the
    lines for stderr about what differs from what was asked."""

    output: Path
    record: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def check_output(out: Path, force: bool, *inputs: Path) -> None:
    """CliError unless ``out`` may be written: not an input, not existing without ``force``."""
    for path in inputs:
        if out.exists() and path.exists() and os.path.samefile(out, path):
            raise CliError(f"refusing to overwrite the input file {path}")
    if out.is_dir():
        raise CliError(f"{out} is a directory, not a file")
    if out.exists() and not force:
        raise CliError(f"{out} exists (use --force to replace it)")
    parent = out.parent
    if parent.exists() and not parent.is_dir():
        raise CliError(f"cannot write {out}: {parent} is a file, not a directory")
    if not parent.is_dir():
        raise CliError(f"cannot write {out}: the directory {parent} does not exist")


@contextlib.contextmanager
def writing(out: Path) -> Iterator[None]:
    """Turn an OSError of the block into 'cannot write OUT: reason': the user's path, not the
    hidden temporary file that atomic_write was writing."""
    try:
        yield
    except OSError as exc:
        raise CliError(f"cannot write {out}: {os_reason(exc)}") from None


def write_output(out: Path, data: bytes) -> None:
    """atomic_write, with errors that name ``out`` rather than its hidden temporary file."""
    with writing(out):
        atomic_write(out, data)


def read_input(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CliError(f"{path}: {os_reason(exc)}") from None


# --- input images ------------------------------------------------------------------------------
METADATA_KEYS = ("icc_profile", "exif", "xmp", "dpi")


def usable_metadata(info: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The metadata in a Pillow ``info`` dict that :func:`svdcodec.encode` can store, and one
    note per value dropped: an input's metadata never makes a valid image fail."""
    meta: dict[str, Any] = {}
    notes = []
    for key in METADATA_KEYS:
        value = info.get(key)
        if value is None:
            continue
        try:
            if not isinstance(value, _METADATA_TYPES[key]):
                raise TypeError(f"expected {_METADATA_TYPES[key][0].__name__}, got "
                                f"{type(value).__name__}")
            kwargs: dict[str, Any] = {**dict.fromkeys(METADATA_KEYS), key: value}
            metadata_chunks(**kwargs)  # the encoder's own check
        except Exception as exc:
            shown = repr(value) if len(repr(value)) <= 40 else f"{type(value).__name__} value"
            notes.append(f"dropped the input's {key} ({shown}): {exc}")
        else:
            meta[key] = value
    return meta, notes


# The types a Pillow plugin gives each key in ``info`` (bytes(3) would be three zero bytes).
_METADATA_TYPES: dict[str, tuple[type, ...]] = {
    "icc_profile": (bytes, bytearray), "exif": (bytes, bytearray),
    "xmp": (bytes, bytearray, str), "dpi": (tuple, list)}


def load_image(path: Path, notes: list[str] | None = None
               ) -> tuple[np.ndarray, dict[str, Any]]:
    """An input image through Pillow, as the codec's array, and its metadata.

    Metadata the encoder cannot store is dropped; a note saying so is appended to ``notes``,
    or printed to stderr when ``notes`` is None. A DICOM file (:mod:`.dicom`) gives its pixels
    (frame 1 of a multi-frame file, with a note) and its header as the ``dicom`` option.
    """
    if path.suffix.lower() == NPY:
        return load_npy(path), {}
    if dicom.is_dicom_path(path):
        image = dicom.load_dicom(path)
        dropped = list(image.notes)
        if image.frames > 1:
            dropped.insert(0, f"{path}: using frame 1 of {image.frames}")
        for note in dropped:
            print_note(note) if notes is None else notes.append(note)
        return (image.pixels[0] if image.frames > 1 else image.pixels), {"dicom": image.header}
    try:
        with Image.open(path) as im:
            frames = getattr(im, "n_frames", 1)
            depth = depth_note(im)
            im.load()
            meta, dropped = usable_metadata(im.info)
            if depth is not None:
                dropped.insert(0, depth)
            # the profile follows the conversion of the pixels, or is dropped (pillow.convert)
            array, icc_profile = to_stored(im, meta.pop("icc_profile", None))
            if icc_profile is not None:
                meta["icc_profile"] = icc_profile
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"{path}: {os_reason(exc)}") from None
    if frames > 1:  # callers that take one image (encode takes them all: cli.stackfiles)
        dropped.insert(0, f"using frame 1 of {frames}")
    dropped = [f"{path}: {n}" for n in dropped]
    if notes is None:
        for note in dropped:
            print_note(note)
    else:
        notes.extend(dropped)
    return array, meta


NPY = ".npy"


# The channels an (H, W, C) .npy image may have, by dtype (the codec's modes)
NPY_CHANNELS = {np.dtype(np.uint8): (1, 2, 3, 4), np.dtype(np.uint16): (1,),
                np.dtype(np.int16): (1,)}


def read_npy(path: Path) -> np.ndarray:
    """A .npy array, memory-mapped (pages are read as the encoder's strips reach them), of
    one of the codec's dtypes in native byte order (a big-endian file is converted)."""
    try:
        array: np.ndarray = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        reason = os_reason(exc) if isinstance(exc, OSError) else str(exc)
        raise CliError(f"{path}: not a readable .npy array: {reason}") from None
    native = array.dtype.newbyteorder("=") if array.dtype.byteorder == ">" else array.dtype
    if native not in NPY_CHANNELS:
        raise CliError(f"{path}: expected a uint8, uint16 or int16 array, got {array.shape} "
                       f"{array.dtype}")
    return array.astype(native) if native != array.dtype else array


def load_npy(path: Path) -> np.ndarray:
    """A .npy image: (H, W) or (H, W, C) with C as the dtype allows (:data:`NPY_CHANNELS`)."""
    array = read_npy(path)
    channels = NPY_CHANNELS[array.dtype]
    if array.ndim not in (2, 3) or 0 in array.shape or \
            (array.ndim == 3 and array.shape[2] not in channels):
        stack = " (a stack of frames (N, H, W[, C]): encode it with --stack OUT.svdi)" \
            if array.ndim in (3, 4) and array.shape[0] > 0 else ""
        raise CliError(f"{path}: expected an (H, W) or (H, W, C) {array.dtype} array with C in "
                       f"{', '.join(map(str, channels))}, got {array.shape}{stack}")
    return array


def save_npy(out: Path, array: np.ndarray) -> int:
    """Write ``array`` to ``out`` as .npy through a temporary file and a rename; its size."""
    with writing(out):
        atomic_write(out, lambda stream: np.save(stream, array, allow_pickle=False))
    return out.stat().st_size


def print_note(note: str) -> None:
    import sys

    print(f"svdcodec: note: {note}", file=sys.stderr)


# --- encode ------------------------------------------------------------------------------------
def encode_file(src: Path, out: Path, options: dict[str, Any], force: bool = False,
                progress: Callable[[int, int], object] | None = None,
                coding: str | None = None) -> Result:
    """Encode the image file ``src`` to ``out``; the result's record is ``encode --json``.
    ``progress``: see :func:`svdcodec.encode`. An input of several frames (GIF, APNG, TIFF
    pages) is encoded as one stack (spec section 14; ``coding``: its stack coding)."""
    if dicom.is_dicom_path(src):  # one image or a stack, and the header (spec 15.2)
        return dicom.encode_dicom_file(src, out, options, force, progress, coding)
    notes: list[str] = []
    count = _frame_count(src) if src.suffix.lower() != NPY else 1
    if count > 1:
        from .stackfiles import MixedFrames, encode_stack_file

        try:
            return encode_stack_file([src], out, options, coding, force, progress)
        except MixedFrames as exc:  # TIFF pages of two sizes: frame 1, as before stacks
            reason = str(exc).removeprefix(f"{src}: ")
            notes.append(f"{src}: its {count} frames cannot make one stack ({reason}): "
                         f"encoded frame 1 as a single image" +
                         (f" (--coding {coding} applies to stacks)" if coding else ""))
            coding = None
    check_output(out, force, src)
    image, meta = load_image(src, notes)
    if coding is not None:
        notes.append(f"--coding {coding} applies to stacks: {src.name} has one frame, "
                     f"encoded as a single image")
    start = time.perf_counter()
    data = encode(image, **options, **meta, progress=progress)
    seconds = time.perf_counter() - start
    info = read_header(data, limits=own_limits(image))
    record: dict[str, Any] = {
        "input": str(src), "output": str(out), "bytes": len(data),
        "input_bytes": src.stat().st_size, "width": info.width, "height": info.height,
        "mode": info.mode, "layout": info.layout,
        "factors": info.factors if info.layout != "patch" else None,
        "ranks": list(info.ranks), "bpp": 8 * len(data) / (info.width * info.height),
        "seconds": seconds, "psnr": None}
    notes += encode_notes(image, data, options, record)
    if options.get("level") is not None and info.compression == "arith":
        notes.append(f"--level {options['level']} has no effect on the arith payload (the "
                     f"patch layout's default; --entropy zstd uses a level)")
    record["notes"] = notes
    write_output(out, data)
    return Result(out, record, notes)


def _frame_count(src: Path) -> int:
    """The frames of an image file (1 if it cannot be opened: load_image then says why)."""
    try:
        with Image.open(src) as im:
            return int(getattr(im, "n_frames", 1))
    except Exception:
        return 1


def own_limits(image: np.ndarray) -> Limits:
    """The default limits raised to admit ``image``'s size: the file just encoded from it is
    read back (its record, a measured PSNR) even when it is larger than the default decoder
    accepts (a gigapixel .npy input)."""
    default = get_default_limits()
    h, w = image.shape[:2]
    return dataclasses.replace(default, max_width=max(default.max_width, w),
                               max_height=max(default.max_height, h),
                               max_pixels=max(default.max_pixels, h * w),
                               max_alloc_bytes=max(default.max_alloc_bytes, 16 * image.size))


def encode_notes(image: np.ndarray, data: bytes, options: dict[str, Any],
                 record: dict[str, Any],
                 decoder: Callable[[bytes], np.ndarray] | None = None) -> list[str]:
    """What differs from what was asked; sets ``record['psnr']`` when it was measured
    (``decoder``: :func:`svdcodec.decode_stack` for a stack, its PSNR over every sample;
    None: :func:`svdcodec.decode` within :func:`own_limits`)."""
    notes = []
    rank = options.get("rank")
    if rank is not None and record["ranks"] and min(record["ranks"]) < rank:
        notes.append(f"--rank {rank} is above the full rank of this image: stored ranks "
                     f"{record['ranks']} (full rank)")
    target = options.get("target_psnr")
    if target is not None:
        from ..metrics import psnr  # here: scipy.ndimage slows every command's start

        bits = options.get("bits")  # the peak that --target-psnr meant
        measured = psnr(image, decode(data, limits=own_limits(image)) if decoder is None
                        else decoder(data), None if bits is None else 2.0**bits - 1)
        record["psnr"] = measured if np.isfinite(measured) else None
        if measured < target - 0.005:
            best = "the full rank" if record["layout"] != "patch" else "quality 100"
            notes.append(f"--target-psnr {target:g} dB not reached: {measured:.2f} dB at "
                         f"{best}, the best this layout gives")
    size = options.get("target_size")
    if size is not None and len(data) > size:
        notes.append(f"--target-size {size:,} not reached: the smallest file is "
                     f"{len(data):,} bytes")
    if len(data) > record["input_bytes"]:
        notes.append(f"the output ({len(data):,} bytes) is larger than the input "
                     f"({record['input_bytes']:,} bytes, "
                     f"{len(data) / max(record['input_bytes'], 1):.1f}x)")
    return notes


# --- decode ------------------------------------------------------------------------------------
def decode_file(src: Path, out: Path, rank: int | None = None, force: bool = False,
                allow_truncated: bool = False, frame: int | None = None,
                all_frames: bool = False,
                progress: Callable[[int, int], object] | None = None, *,
                limits: Limits | None = None) -> Result:
    """Decode the .svdi file ``src`` to ``out`` (format from its extension; .npy: the array
    as decoded); of a stack (spec section 14), frame ``frame`` (None: 0), or with
    ``all_frames`` every frame to ``OUT-000.png``, ``OUT-001.png``, ...
    (:func:`svdcodec.cli.stackfiles.frame_path`). ``progress``, ``limits``: see
    :func:`svdcodec.decode`."""
    from .stackfiles import decode_frame_array, frame_path

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
        if info.frames > 1 or frame is not None:
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
            array = decode_frame_array(data, rank, frame, progress, limits=limits)
        else:
            array = decode(data, rank=rank, allow_truncated=allow_truncated, limits=limits,
                           progress=progress)
    except TruncatedError as exc:
        raise CliError(f"{src}: {exc}{salvage_hint(data, allow_truncated, str(exc))}") from None
    except SvdiError as exc:  # name the file, as a batch does
        raise svdi_failure(src, exc, limits, data) from None
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
