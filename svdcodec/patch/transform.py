"""The patch layout's forward transforms (encoder only): patches, colour, subsampling.

Not normative: any reasonable choice here gives a conforming file, as long as the decoder's
inverse (:mod:`.reconstruct`, spec sections 12.4-12.7) is what it is.
"""

from __future__ import annotations

import numpy as np

from .reconstruct import grid_shape


def to_patches(plane: np.ndarray, p: int) -> tuple[np.ndarray, tuple[int, int]]:
    """(rows, cols) plane -> (N, P²) patch matrix, edge-padded to whole patches, and (gh, gw)."""
    gh, gw = grid_shape(plane.shape[0], plane.shape[1], p)
    padded = np.pad(plane, ((0, gh * p - plane.shape[0]), (0, gw * p - plane.shape[1])),
                    mode="edge")
    return padded.reshape(gh, p, gw, p).transpose(0, 2, 1, 3).reshape(gh * gw, p * p), (gh, gw)


RGB_TO_YCBCR = np.array([[0.299, 0.587, 0.114],  # JFIF, BT.601 full range
                         [-0.168736, -0.331264, 0.5],
                         [0.5, -0.418688, -0.081312]])


def rgb_to_ycbcr(rgb: np.ndarray) -> list[np.ndarray]:
    """(H, W, 3) -> centred float Y - 128, Cb, Cr (JFIF, BT.601 full range), C-contiguous.

    Three multiply-adds per plane in numpy, not a (3, 3) x (3, N) product: BLAS is slow with an
    inner dimension of 3 on one thread (0.4 s against 0.2 s for 6 Mpixels), and the encoder
    runs on one (:func:`svdcodec.whole.linalg.one_blas_thread`).
    """
    channels = [rgb[:, :, c].astype(np.float64) for c in range(3)]
    planes = []
    for row in RGB_TO_YCBCR:
        plane = channels[0] * row[0]
        plane += channels[1] * row[1]
        plane += channels[2] * row[2]
        planes.append(plane)
    planes[0] -= 128.0
    return planes


def downsample(plane: np.ndarray, sx: int, sy: int) -> np.ndarray:
    """Box-filter a float plane by (sx, sy), edge-padding odd sizes."""
    rows, cols = plane.shape
    x = np.pad(plane, ((0, (-rows) % sy), (0, (-cols) % sx)), mode="edge")
    return x.reshape(x.shape[0] // sy, sy, x.shape[1] // sx, sx).mean(axis=(1, 3))
