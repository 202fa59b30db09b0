"""Image stacks on the command line (spec section 14): the frames of an animated input (GIF,
APNG, multi-page TIFF) or several inputs (``encode a.png b.png --stack x.svdi``) encoded as one
stack, and a stack decoded one frame (``--frame K``) or every frame to its own file. An
animation keeps its frame durations and loop count (spec section 16: the chunk ``anim``) both
ways: ``encode anim.gif x.svdi`` stores them, ``decode x.svdi y.gif`` (or ``.webp``, ``.png``
as APNG) writes every frame with them."""

from __future__ import annotations

import io
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageSequence, UnidentifiedImageError

from ..codec import decode, decode_stack, encode_stack, read_header
from ..errors import SvdiError
from ..format import MAX_DURATION, MAX_LOOP
from ..info import SvdiInfo
from ..limits import Limits
from ..pillow.convert import depth_note, from_array, one_stored_mode, same_kind, to_8bit, to_stored
from .dicom import SUFFIXES as DICOM_SUFFIXES
from .dicom import is_dicom_path
from .errors import CliError, os_reason
from .fileio import Result, check_output, write_output
from .files import encode_notes
from .inputs import usable_metadata
from .npyfiles import NPY, NPY_CHANNELS, read_npy
from .outformat import METADATA_FORMATS, fit_format, metadata_options, written_mode

# Output formats whose Pillow writers store an animation: decode writes every frame of a file
# with an anim chunk (spec section 16) to them, with its durations and loop count
ANIMATED_FORMATS = ("GIF", "WEBP", "PNG")
# Output formats that hold a stack without timing: decode writes every frame of a stack to
# them unless --frame K asks for one (.npy: one (N, H, W[, C]) array, as encode --stack takes)
PAGED_FORMATS = ("TIFF", "NPY")
# The largest loop count and frame duration (milliseconds) each of them stores, where anim
# stores any u32 (section 16, rule 4): GIF a 16-bit count and 16-bit centiseconds, WebP a
# 16-bit count and 24-bit milliseconds, APNG a 32-bit play count and a delay of a 16-bit
# numerator over a 16-bit denominator (above 65,535 ms only whole seconds fit, 65,535 at most)
TIMING_RANGE = {"GIF": (0xFFFF, 0xFFFF * 10), "WEBP": (0xFFFF, 2**24 - 1),
                "PNG": (2**32 - 1, 0xFFFF * 1000)}
APNG_MS_DELAYS = 0xFFFF  # APNG durations up to this many milliseconds keep every millisecond


@dataclass
class Timing:
    """An animation's timing as Pillow reads it (spec section 16): each frame's
    ``info["duration"]`` (None where it has none) and the first frame's ``info["loop"]``."""

    durations: list[float | None] = field(default_factory=list)
    loop: int | None = None

    def options(self) -> dict[str, Any]:
        """``encode_stack``'s durations and loop: none where no frame gave a duration and no
        loop count was given (no anim chunk: nothing invented)."""
        if self.loop is None and all(d is None for d in self.durations):
            return {}
        durations = None if all(d is None for d in self.durations) else \
            [0 if d is None else d for d in self.durations]
        return {"durations": durations, "loop": self.loop}


class MixedFrames(CliError):
    """The frames of one input differ in size or mode (TIFF pages and a thumbnail): no stack."""


def load_frames(path: Path, notes: list[str], timing: Timing | None = None
                ) -> tuple[list[np.ndarray], dict[str, Any]]:
    """Every frame of an image file as the codec's arrays, and the first frame's metadata;
    each frame's duration and the loop count are appended to ``timing``."""
    if is_dicom_path(path):  # one header per file: a series is not one DICOM file
        raise CliError(f"{path}: --stack joins image files; DICOM files are encoded one file "
                       "each (a multi-frame DICOM file becomes one stack)")
    if path.suffix.lower() == NPY:
        return npy_frames(path), {}
    frames: list[np.ndarray] = []
    try:
        with Image.open(path) as im:
            meta, dropped = usable_metadata(im.info)
            depth = depth_note(im)
            if depth is not None:
                dropped.insert(0, depth)
            icc = meta.pop("icc_profile", None)
            if timing is not None and timing.loop is None and not timing.durations:
                timing.loop = _loop(im.info.get("loop"))
            for frame in ImageSequence.Iterator(im):
                array, profile = to_stored(frame, icc)
                if timing is not None:  # after the load: WebP sets it there
                    timing.durations.append(_duration(frame.info.get("duration")))
                if not frames and profile is not None:
                    meta["icc_profile"] = profile
                frames.append(array)
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"{path}: {os_reason(exc)}") from None
    notes.extend(f"{path}: {n}" for n in dropped)
    return frames, meta


def _duration(value: Any) -> float | None:
    """A frame's ``info["duration"]`` as encode_stack takes it, or None if it is not one."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not 0 <= value <= MAX_DURATION:
        return None
    return value


def _loop(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_LOOP:
        return None
    return value


def npy_frames(path: Path) -> list[np.ndarray]:
    """The frames of a .npy input of a stack, as ``svdcodec stack`` reads them: an (H, W)
    array is one frame, an (N, H, W) array N grey frames (never one (H, W, C) image), an
    (N, H, W, C) array N frames of C channels (C as :data:`.npyfiles.NPY_CHANNELS` allows)."""
    array = read_npy(path)
    channels = NPY_CHANNELS[array.dtype]
    if array.ndim == 2:
        array = array[None]
    if array.ndim not in (3, 4) or 0 in array.shape or \
            (array.ndim == 4 and array.shape[3] not in channels):
        raise CliError(f"{path}: a stack's .npy input is an (H, W), (N, H, W) or (N, H, W, C) "
                       f"{array.dtype} array with C in {', '.join(map(str, channels))}, got "
                       f"{array.shape}")
    return [frame[..., 0] if frame.ndim == 3 and frame.shape[2] == 1 else frame
            for frame in array]


def _differs(a: Any, b: Any) -> bool:
    """Whether two metadata values differ (dpi as numbers: Pillow reads 72 as 72.009)."""
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
        return any(round(float(x)) != round(float(y)) for x, y in zip(a, b, strict=True))
    return bool(a != b)


def describe(frame: np.ndarray) -> str:
    """``WxH MODE`` of a frame as the codec stores it (to_stored's arrays)."""
    channels = frame.shape[2] if frame.ndim == 3 else 1
    mode = {"uint16": "I;16", "int16": "I;16S"}.get(frame.dtype.name) or \
        {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}.get(channels, f"{channels} channels")
    return f"{frame.shape[1]}x{frame.shape[0]} {mode}"


def encode_stack_file(sources: list[Path], out: Path, options: dict[str, Any],
                      coding: str | None, force: bool = False,
                      progress: Callable[[int, int], object] | None = None) -> Result:
    """Encode every frame of ``sources``, in order, as one stack in ``out``; ``progress``: see
    :func:`svdcodec.encode`."""
    check_output(out, force, *sources)
    notes: list[str] = []
    frames: list[np.ndarray] = []
    meta: dict[str, Any] = {}
    timing = Timing()
    for src in sources:
        more, found = load_frames(src, notes, timing)
        for frame in more:  # within an animated input too (TIFF pages of two sizes)
            first = frames[0] if frames else more[0]
            if not same_kind(frame, first):
                error = MixedFrames if not frames else CliError  # within the first input
                raise error(f"{src}: frames of a stack share one size and mode: "
                            f"{describe(frame)} after {describe(first)}")
        if frames:  # one set of metadata per file: the first input's
            notes.extend(f"{src}: its {key} differs from the first input's; the stack keeps "
                         f"the first's" for key in sorted(set(meta) | set(found))
                         if _differs(meta.get(key), found.get(key)))
        else:
            meta = found
        frames += more
        timing.durations += [None] * (len(frames) - len(timing.durations))  # .npy: none
    if len(frames) == 1:  # a single image has no FRMS (spec 14.1): what encode IN OUT writes
        names = ", ".join(src.name for src in sources)
        notes.append(f"--stack: {names} has one frame, encoded as a single image" +
                     (f" (--coding {coding} applies to stacks)" if coding else ""))
        coding = None
    try:
        frames = one_stored_mode(frames)
    except ValueError as exc:
        error = MixedFrames if len(sources) == 1 else CliError
        raise error(f"frames of a stack share one size and mode: {exc}") from None
    start = time.perf_counter()
    try:
        data = encode_stack(frames, coding=coding or "auto", **options, **meta,
                            **timing.options(), progress=progress)
    except ValueError as exc:  # frames of different sizes within one animated input
        raise CliError(str(exc)) from None
    seconds = time.perf_counter() - start
    info = read_header(data)
    record: dict[str, Any] = {
        # one input (an animation) is named as a still image's is; a list names several
        "input": str(sources[0]) if len(sources) == 1 else [str(s) for s in sources],
        "output": str(out), "bytes": len(data),
        "input_bytes": sum(s.stat().st_size for s in sources), "width": info.width,
        "height": info.height, "mode": info.mode, "layout": info.layout,
        "factors": info.factors if info.layout not in ("patch",) else None,
        "ranks": list(info.ranks), "frames": info.frames, "stack_coding": info.stack_coding,
        "bpp": 8 * len(data) / (info.width * info.height * info.frames),
        "seconds": seconds, "psnr": None, "notes": notes,
        "durations": None if info.durations is None else list(info.durations),
        "loop": info.loop}
    notes += encode_notes(np.stack(frames), data, options, record, decode_stack)
    if info.frames > 1:
        timed = ", with their durations and loop count" if info.durations is not None else ""
        notes.append(f"encoded {info.frames} frames as one stack (coding "
                     f"{info.stack_coding}){timed}")
    write_output(out, data)
    return Result(out, record, notes)


def frame_path(out: Path, k: int, count: int) -> Path:
    """``DIR/NAME-003.png``: frame k of ``count``, numbered with at least 3 digits."""
    return out.with_name(f"{out.stem}-{k:0{max(3, len(str(count - 1)))}d}{out.suffix}")


def decoded_outputs(source: Path, output: Path) -> list[Path]:
    """What ``decode SOURCE --out-dir`` writes without ``--frame``: ``output``, or one file per
    frame of a stack (:func:`frame_path`); ``[output]`` if ``source`` cannot be read (the
    decode then says why) or for a DICOM output (one file holds every frame)."""
    try:
        info = read_header(source.read_bytes())
    except (OSError, SvdiError):
        return [output]
    count = info.frames
    if output.suffix.lower() in DICOM_SUFFIXES and info.dicom_series is None:
        return [output]
    if count == 1:
        return [output]
    return [frame_path(output, k, count) for k in range(count)]


def decode_frame_array(data: bytes, rank: int | None, frame: int | None,
                       progress: Callable[[int, int], object] | None = None, *,
                       limits: Limits | None = None) -> np.ndarray:
    """Frame ``frame`` (None: 0) of ``data``; a frame beyond the stack is the caller's error.
    ``progress``, ``limits``: see :func:`svdcodec.decode`."""
    count = read_header(data, limits=limits).frames
    if frame is not None and not 0 <= frame < count:
        raise CliError(f"--frame {frame}: the file holds {count} frame"
                       f"{'s' * (count != 1)} (0..{count - 1})")
    return decode(data, rank=rank, frame=frame, progress=progress, limits=limits)


def _fit_timing(durations: list[int], loop: int | None, fmt_name: str
                ) -> tuple[list[int], int | None, list[str]]:
    """The durations and loop count that ``fmt_name`` stores (:data:`TIMING_RANGE`): each
    above the format's largest value becomes that value (an APNG duration above
    APNG_MS_DELAYS ms the nearest whole second), with notes saying so."""
    most_loops, longest = TIMING_RANGE[fmt_name]
    notes = []
    if loop is not None and loop > most_loops:
        notes.append(f"the loop count {loop:,} is above {fmt_name}'s largest, {most_loops:,}: "
                     f"written as {most_loops:,}")
        loop = most_loops
    fitted = [min(d, longest) for d in durations]
    if fmt_name == "PNG":
        fitted = [d if d <= APNG_MS_DELAYS else min(round(d / 1000) * 1000, longest)
                  for d in fitted]
    if fitted != durations:
        changed = sum(a != b for a, b in zip(durations, fitted, strict=True))
        notes.append(f"{changed} frame duration{'s' * (changed != 1)} above what {fmt_name} "
                     f"holds ({longest:,} ms" + (", whole seconds above 65,535 ms"
                                                  if fmt_name == "PNG" else "")
                     + "): written as the nearest it holds")
    return fitted, loop, notes


def render_animation(frames: np.ndarray, info: SvdiInfo, out: Path, fmt_name: str,
                     src: Path) -> tuple[bytes, Result]:
    """Every frame of a decoded animation (spec section 16) as one file of ``fmt_name``
    (:data:`ANIMATED_FORMATS`), with the file's durations and loop count, nothing written.
    No loop count (LOOP_UNSET: a GIF that played once) is no GIF loop extension, and loop 1
    (one play) for APNG and WebP, whose Pillow writers would loop without end."""
    loop = info.loop if info.loop is not None or fmt_name == "GIF" else 1
    durations, loop, timing_notes = _fit_timing(list(info.durations or ()), loop, fmt_name)
    timing: dict[str, Any] = {"duration": durations}
    if loop is not None:
        timing["loop"] = loop
    encoded, record, notes = _save_all(frames, info, fmt_name, timing)
    notes += timing_notes
    count = record["frames"]  # the writers merge identical consecutive frames
    merged = "" if count == len(frames) else \
        f" as {count} (identical consecutive frames merged, their durations added)"
    notes.append(f"wrote the {len(frames)} frames{merged} as an animation with their durations "
                 f"and loop count")
    record = {"input": str(src), "output": str(out), **record,
              "durations": list(info.durations or ()), "loop": info.loop}
    return encoded, Result(out, record, notes)


def render_pages(frames: np.ndarray, info: SvdiInfo, out: Path, fmt_name: str,
                 src: Path) -> tuple[bytes, Result]:
    """Every frame of a decoded stack as one page each of a file of ``fmt_name``
    (:data:`PAGED_FORMATS`: a multi-page TIFF, which ``encode`` reads back as one stack),
    nothing written."""
    encoded, record, notes = _save_all(frames, info, fmt_name, {})
    notes.append(f"wrote the {len(frames)} frames as pages of one {fmt_name} file (--frame K "
                 f"for one frame)")
    return encoded, Result(out, {"input": str(src), "output": str(out), **record}, notes)


def _save_all(frames: np.ndarray, info: SvdiInfo, fmt_name: str, options: dict[str, Any]
              ) -> tuple[bytes, dict[str, Any], list[str]]:
    """``frames`` saved as one file of ``fmt_name`` (Pillow's ``save_all``) with the file's
    metadata and ``options``: its bytes, its record (less input and output; "frames": the
    frames the file holds, read back), its notes."""
    fitted = [fit_format(from_array(frame), fmt_name) for frame in frames]
    images = [im for im, _ in fitted]
    eight_bit = fmt_name == "PNG" and images[0].mode == "I;16"
    if eight_bit:
        # Pillow's APNG writer compares frames in 8-bit RGBA (16-bit samples above 255 all
        # read 255): it merged frames that differ only there and cropped the others to that
        # difference. In 8 bits, as GIF and WebP are written, it sees every change.
        images = [Image.fromarray(to_8bit(np.asarray(im))) for im in images]
    save = metadata_options(info.metadata) if fmt_name in METADATA_FORMATS else {}
    if info.mode in ("L", "LA", "I;16") and images[0].mode in ("RGB", "RGBA"):
        save.pop("icc_profile", None)  # a grey profile does not describe RGB pixels
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # GIF palette warnings
        images[0].save(buffer, format=fmt_name, save_all=True, append_images=images[1:],
                       **save, **options)
    written, _ = written_mode(buffer.getvalue(), images[0])
    notes = [f"{fmt_name} cannot hold {info.mode} images: {fitted[0][1]}"] if fitted[0][1] \
        else []
    if eight_bit:
        notes.insert(0, "an animated PNG of I;16 frames is written 16 -> 8 bits as "
                        "round(v / 257): Pillow's APNG writer compares frames in 8 bits and "
                        "drops or crops frames that differ above 255 (--out-dir DIR writes "
                        "16-bit frames)")
    with Image.open(buffer) as back:
        count = getattr(back, "n_frames", 1)
    return buffer.getvalue(), {
        "format": fmt_name, "width": images[0].width, "height": images[0].height,
        "mode": written, "decoded_mode": info.mode, "bytes": len(buffer.getvalue()),
        "frames": count, "notes": notes}, notes
