"""Test images of structured content (not only noise), shared by the test modules."""

from __future__ import annotations

import numpy as np

KINDS = ("ramp", "specks", "flat", "bilevel", "noise", "photo", "tiled")


def structured(kind: str, h: int, w: int, c: int, seed: int) -> np.ndarray:
    """(h, w, c) uint8 of one kind of content: a ramp, specks, flat, bilevel bars, noise, a
    photograph's smooth shapes with noise, or a tiled 8 x 8 pattern; planes shifted copies."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    if kind == "ramp":
        base = (xx * 3 + yy * 2) % 256
    elif kind == "specks":
        base = np.where(rng.random((h, w)) < 0.02, 255, 10)
    elif kind == "flat":
        base = np.full((h, w), 77)
    elif kind == "bilevel":
        base = np.where((xx // 5 + yy // 3) % 2 == 0, 0, 255)
    elif kind == "noise":
        base = rng.integers(0, 256, (h, w))
    elif kind == "tiled":
        base = np.tile(rng.integers(0, 256, (8, 8)), (h // 8 + 1, w // 8 + 1))[:h, :w]
    else:
        base = 128 + 60 * np.sin(xx / 7.0) * np.cos(yy / 5.0) + 12 * rng.standard_normal((h, w))
    planes = [np.roll(base, 3 * i, axis=1) + 15 * i for i in range(c)]
    return np.clip(np.stack(planes, axis=2), 0, 255).astype(np.uint8)
