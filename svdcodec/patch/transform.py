"""The patch layout's forward transforms (encoder only): patches, colour, subsampling.

Not normative: any reasonable choice here gives a conforming file, as long as the decoder's
inverse (:mod:`.reconstruct`, spec sections 12.4-12.7) is what it is.
"""

from __future__ import annotations

import numpy as np

from .reconstruct import grid_shape, plane_shape


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


def ycbcr_plane(rgb: np.ndarray, index: int) -> np.ndarray:
    """Plane ``index`` (0: Y - 128, 1: Cb, 2: Cr) of :func:`rgb_to_ycbcr`, alone: the same
    operations, so the same values."""
    row = RGB_TO_YCBCR[index]
    plane = rgb[:, :, 0].astype(np.float64) * row[0]
    plane += rgb[:, :, 1].astype(np.float64) * row[1]
    plane += rgb[:, :, 2].astype(np.float64) * row[2]
    if index == 0:
        plane -= 128.0
    return plane


class PlaneSource:
    """A plane to encode, made strip by strip (issue 13: the float copies of a large image's
    planes would take 8 bytes per sample each): ``rows`` x ``cols`` centred float samples."""

    rows: int
    cols: int

    def strip(self, r0: int, r1: int) -> np.ndarray:
        """Rows r0..r1 of the plane, (r1 - r0, cols) float64."""
        raise NotImplementedError


class ArraySource(PlaneSource):
    """A plane already in memory."""

    def __init__(self, plane: np.ndarray) -> None:
        self.plane = plane
        self.rows, self.cols = plane.shape

    def strip(self, r0: int, r1: int) -> np.ndarray:
        return self.plane[r0:r1]


class ImageSource(PlaneSource):
    """Plane ``index`` of an (H, W, C) image: YCbCr's Y, Cb or Cr (``ycbcr`` and index < 3),
    else channel ``index`` minus half the range; box-filtered by ``subsample`` in x and y.
    A strip's samples are those of the whole plane made at once (the same operations per
    sample; subsampled planes are cut at even image rows)."""

    def __init__(self, image: np.ndarray, index: int, ycbcr: bool, subsample: int,
                 bit_depth: int) -> None:
        self.image = image
        self.index = index
        self.ycbcr = ycbcr and index < 3
        self.subsample = subsample
        self.half = 2.0 ** (bit_depth - 1)
        self.rows, self.cols = plane_shape(image.shape[0], image.shape[1], subsample,
                                           subsample)

    def strip(self, r0: int, r1: int) -> np.ndarray:
        s = self.subsample
        rows = self.image[r0 * s:min(r1 * s, self.image.shape[0])]
        if self.ycbcr:
            plane = ycbcr_plane(rows, self.index)
        else:
            plane = rows[:, :, self.index].astype(np.float64) - self.half
        return downsample(plane, s, s) if s > 1 else plane


def downsample(plane: np.ndarray, sx: int, sy: int) -> np.ndarray:
    """Box-filter a float plane by (sx, sy), edge-padding odd sizes."""
    rows, cols = plane.shape
    x = np.pad(plane, ((0, (-rows) % sy), (0, (-cols) % sx)), mode="edge")
    if sx == sy == 2 and x.shape[1] > 2:  # numpy mean's sums, in its order, 6 times faster
        out = x[0::2, 0::2] + x[0::2, 1::2]
        out += x[1::2, 0::2] + x[1::2, 1::2]
        out /= 4
        return out
    return x.reshape(x.shape[0] // sy, sy, x.shape[1] // sx, sx).mean(axis=(1, 3))
