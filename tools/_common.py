"""What more than one tool needs. The tools run as ``python tools/NAME.py``, which puts this
folder on ``sys.path``: they import it as ``_common``."""

from __future__ import annotations

import argparse

import numpy as np


def naive_encode(image: np.ndarray, rank: int) -> tuple[bytes, list[np.ndarray]]:
    """The tutorial encoder the benchmarks compare with: a full ``numpy.linalg.svd`` per
    channel of an (H, W, C) image, truncated to ``rank`` and stored as float16 factors and
    float32 singular values. Returns the bytes and every channel's singular values."""
    parts, sigmas = [], []
    for c in range(image.shape[2]):
        u, s, vt = np.linalg.svd(image[:, :, c].astype(np.float64), full_matrices=False)
        parts += [u[:, :rank].astype(np.float16).tobytes(),
                  s[:rank].astype(np.float32).tobytes(), vt[:rank].astype(np.float16).tobytes()]
        sigmas.append(s)
    return b"".join(parts), sigmas


def size_arg(text: str) -> tuple[int, int]:
    """argparse type: "WIDTHxHEIGHT" -> (width, height)."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}") from None
    return width, height
