"""Channel layouts (spec section 6): an H x W x C image <-> the matrices that are factorized."""

from __future__ import annotations

import numpy as np

LAYOUTS = ("per-channel", "stacked", "stacked-vertical")


def to_matrices(image: np.ndarray, layout: str) -> list[np.ndarray]:
    """The float64 matrices of an (H, W, C) image, one per factor group."""
    h, w, c = image.shape
    x = image.astype(np.float64)
    if layout == "per-channel":
        return [np.ascontiguousarray(x[:, :, i]) for i in range(c)]
    if layout == "stacked":  # X[y, c*W + x] = sample[y, x, c]
        return [x.transpose(0, 2, 1).reshape(h, c * w)]
    if layout == "stacked-vertical":  # X[c*H + y, x] = sample[y, x, c]
        return [x.transpose(2, 0, 1).reshape(c * h, w)]
    raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")


def write_rows(out: np.ndarray, layout: str, group: int, row0: int, block: np.ndarray) -> None:
    """Store rows ``row0 ..`` of group ``group``'s matrix into the (H, W, C) image ``out``.

    Lets the decoder reconstruct a matrix in row strips without ever holding it whole.
    """
    h, w, c = out.shape
    n = block.shape[0]
    if layout == "per-channel":
        out[row0:row0 + n, :, group] = block
    elif layout == "stacked":
        out[row0:row0 + n] = block.reshape(n, c, w).transpose(0, 2, 1)
    elif layout == "stacked-vertical":
        # A strip may straddle two channels: split it at the channel boundaries.
        start = row0
        while start < row0 + n:
            channel, y = divmod(start, h)
            stop = min(row0 + n, (channel + 1) * h)
            out[y:y + stop - start, :, channel] = block[start - row0:stop - row0]
            start = stop
    else:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
