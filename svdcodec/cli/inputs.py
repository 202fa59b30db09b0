"""Input images for the CLI: any file Pillow opens, a DICOM file or a ``.npy`` array, as the
codec's array and the metadata the encoder can store.

Nothing happens silently: metadata an input carries that no file could store is dropped with a
note (an input's metadata never makes a valid image fail), as is every frame but the first of a
file read as one image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..options import metadata_chunks
from ..pillow.convert import depth_note, to_stored
from . import dicom
from .errors import CliError, os_reason
from .fileio import print_note
from .npyfiles import NPY, load_npy

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
