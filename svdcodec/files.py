"""Image files in and out: the jobs of ``svdcodec encode`` and ``decode``, one file each.

Outputs are written to a temporary file and renamed (:func:`svdcodec.codec.atomic_write`): an
existing file is replaced only with ``force``, an input never, and a failure leaves nothing
behind. :mod:`svdcodec.batch` runs these functions in worker processes.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from .codec import atomic_write, decode, encode, read_header
from .info import EXIF_APP1_PREFIX
from .pilutil import from_array, to_array


class CliError(Exception):
    """A failure reported as one line and exit code 1."""


def check_output(out: Path, force: bool, *inputs: Path) -> None:
    """CliError unless ``out`` may be written: not an input, not existing without ``force``."""
    for path in inputs:
        if out.exists() and path.exists() and os.path.samefile(out, path):
            raise CliError(f"refusing to overwrite the input file {path}")
    if out.exists() and not force:
        raise CliError(f"{out} exists (use --force to replace it)")
    if not out.parent.is_dir():
        raise CliError(f"directory {out.parent} does not exist")


def load_image(path: Path) -> tuple[np.ndarray, dict]:
    """An input image through Pillow, as the codec's array, and its metadata."""
    try:
        with Image.open(path) as im:
            im.load()
            meta = {"icc_profile": im.info.get("icc_profile"), "dpi": im.info.get("dpi")}
            exif = im.info.get("exif")
            if exif:
                meta["exif"] = exif
            return to_array(im), meta
    except FileNotFoundError:
        raise CliError(f"{path}: no such file") from None
    except (Image.UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise CliError(str(exc)) from None


def encode_file(src: Path, out: Path, options: dict, force: bool = False,
                progress: Callable[[float], None] | None = None) -> tuple[bytes, float]:
    """Encode the image file ``src`` to ``out``; returns the .svdi bytes and encode seconds.
    ``progress``: see :func:`svdcodec.encode`."""
    check_output(out, force, src)
    image, meta = load_image(src)
    start = time.perf_counter()
    data = encode(image, **options, **meta, progress=progress)
    seconds = time.perf_counter() - start
    atomic_write(out, data)
    return data, seconds


def decode_file(src: Path, out: Path, rank: int | None = None, force: bool = False,
                allow_truncated: bool = False) -> Image.Image:
    """Decode the .svdi file ``src`` to ``out`` (format from its extension); returns the image."""
    check_output(out, force, src)
    fmt_name = Image.registered_extensions().get(out.suffix.lower())
    if fmt_name is None:
        raise CliError(f"unknown output format for {out.name!r}: use .png, .tif, .webp, ...")
    data = src.read_bytes()
    info = read_header(data, allow_truncated=allow_truncated)
    im = from_array(decode(data, rank=rank, allow_truncated=allow_truncated))
    save = _metadata_options(info.metadata) if fmt_name in METADATA_FORMATS else {}
    buffer = io.BytesIO()
    im.save(buffer, format=fmt_name, **save)
    atomic_write(out, buffer.getvalue())
    return im


# Output formats whose Pillow plugins take icc_profile, exif, dpi and xmp (each keeps what it
# can store: Pillow 11-13 PNG keeps icc, exif and dpi; JPEG all four; WebP icc, exif, xmp;
# TIFF icc and dpi)
METADATA_FORMATS = ("PNG", "JPEG", "WEBP", "TIFF", "AVIF")


def _metadata_options(metadata: dict) -> dict:
    """The decoded file's metadata (read_header's keys) as Pillow save options, so that a
    decode keeps what the output format can hold."""
    options = {key: metadata[key] for key in ("icc_profile", "dpi", "xmp") if metadata.get(key)}
    if metadata.get("exif"):
        options["exif"] = EXIF_APP1_PREFIX + metadata["exif"]  # Pillow's exif= form
    return options
