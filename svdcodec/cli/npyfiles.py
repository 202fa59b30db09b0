"""Arrays as ``.npy`` files (numpy's format) are images too, in and out.

(H, W) or (H, W, C) uint8, uint16 or int16 (either byte order), read memory-mapped; with
``--stack``, (N, H, W[, C]) frames (:func:`svdcodec.cli.stackfiles.npy_frames`). They hold
images beyond what Pillow opens (about 179 Mpixels) and beyond what PNG encodes in reasonable
time: a gigapixel grey image is 1 GiB.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..codec import atomic_write
from .errors import CliError, os_reason
from .fileio import writing

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
