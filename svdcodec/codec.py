"""encode / decode / read / write: numpy images <-> .svdi bytes -- the public codec.

The API that the edges (Pillow plugin, CLI, integrations) use: the encoding half
(:mod:`.encoding`: the caller's options checked and dispatched to the patch layout or the
whole-image layouts) and the decoding half (:mod:`.decoding`, the same path backwards,
checking limits before allocating; a file parsed once, :mod:`.svdifile`), with the file
functions :func:`read`, :func:`write` and :func:`atomic_write`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, Union

import numpy as np

from .decoding import (
    check_decode_limits,
    decode,
    decode_container,
    decode_stack,
    is_svdi,
    read_header,
    verify,
)
from .encoding import encode, encode_stack
from .limits import Limits
from .series import read_dicom_series
from .svdifile import SvdiFile, open_svdi

PathLike = Union[str, "os.PathLike[str]"]


def write(path: PathLike, image: np.ndarray, **options: Any) -> int:
    """Encode ``image`` (see :func:`encode` for options) and write it; returns the byte count.

    The file is written to a temporary name in the same directory and renamed, so a failure
    never leaves a partial file or damages an existing one.
    """
    data = encode(image, **options)
    atomic_write(Path(path), data)
    return len(data)


def atomic_write(path: Path, data: bytes | Callable[[BinaryIO], object]) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename; ``data`` is the bytes,
    or a function that writes them to the open binary stream it is given (e.g. ``np.save``)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data)
        # mkstemp makes the file private (0600); give it the mode a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def read(path: PathLike, *, rank: int | None = None, limits: Limits | None = None,
         allow_truncated: bool = False, frame: int | None = None) -> np.ndarray:
    """Read and decode an .svdi file; see :func:`decode`."""
    return decode(Path(path).read_bytes(), rank=rank, limits=limits,
                  allow_truncated=allow_truncated, frame=frame)


__all__ = [
    "SvdiFile",
    "atomic_write",
    "check_decode_limits",
    "decode",
    "decode_container",
    "decode_stack",
    "encode",
    "encode_stack",
    "is_svdi",
    "open_svdi",
    "read",
    "read_dicom_series",
    "read_header",
    "verify",
    "write",
]
