"""Write the example stacks of docs/stacks.md as .npy arrays for ``svdcodec stack``.

    python tools/stack_examples.py OUTDIR --cats ../shared/corpus/brunton/catData.mat \
        --kodak ../shared/corpus/kodak
    svdcodec stack OUTDIR/cats.npy --plot cats.png

Stacks (each (N, H, W[, C]) uint8), those whose source is given:

- ``cats.npy``: the 80 cat faces of Brunton & Kutz's book, 64 x 64 grey; in ``catData.mat``
  each column of the 4096 x 80 matrix ``cat`` is one face in Fortran (column-major) order.
- ``lapse.npy``: a made-up time-lapse of one Kodak photograph (the first in the folder): its
  centre square shrunk to 128 x 128, under daylight that rises and sets (a gain), warms at
  both ends (a colour shift) and a cloud shadow at a fixed place that comes and goes, with
  sensor noise of sigma 2. A few modes plus noise: where a stack compresses.
- ``shaky.npy``: the same frames, each shifted by up to 3 pixels (a camera on a loose tripod):
  the same content, no longer aligned.
- ``unrelated.npy``: the Kodak photographs themselves, each centre square at 128 x 128: frames
  that share nothing but their size.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
from PIL import Image

SIDE = 128  # frame side of the Kodak stacks
SHIFT = 3  # largest shift of a shaky frame, pixels
NOISE = 2.0  # sensor noise of the time-lapse, sample units


def cats(path: Path) -> np.ndarray:
    """(80, 64, 64): the columns of ``cat``, each reshaped in Fortran order."""
    import scipy.io

    x = scipy.io.loadmat(path)["cat"]
    side = math.isqrt(x.shape[0])  # square faces
    return np.stack([x[:, j].reshape(side, side, order="F") for j in range(x.shape[1])]
                    ).astype(np.uint8)


def square(path: Path, side: int) -> np.ndarray:
    """The centre square of an image, shrunk to side x side RGB (float64)."""
    with Image.open(path) as im:
        rgb = im.convert("RGB")
        short = min(rgb.size)
        left, top = (rgb.width - short) // 2, (rgb.height - short) // 2
        crop = rgb.crop((left, top, left + short, top + short)).resize((side, side),
                                                                        Image.Resampling.BOX)
        return np.asarray(crop, dtype=np.float64)


def lapse(scene: np.ndarray, frames: int, rng: np.random.Generator) -> np.ndarray:
    """A day over ``scene``: gain, warmth and a fixed cloud shadow that change per frame."""
    h, w = scene.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    cloud = np.exp(-((xx - 0.3 * w) ** 2 + (yy - 0.4 * h) ** 2) / (2 * (0.2 * w) ** 2))
    t = np.linspace(0, 1, frames)
    out = []
    for tj in t:
        gain = 0.45 + 0.55 * np.sin(np.pi * tj)
        warmth = 1 - np.sin(np.pi * tj)  # 1 at dawn and dusk, 0 at noon
        tint = np.array([1 + 0.15 * warmth, 1.0, 1 - 0.2 * warmth])
        shade = 1 - 0.5 * np.sin(3 * np.pi * tj) ** 2 * cloud
        frame = scene * gain * tint * shade[:, :, None] + rng.normal(0, NOISE, scene.shape)
        out.append(frame)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def shaky(scene: np.ndarray, frames: int, rng: np.random.Generator) -> np.ndarray:
    """The time-lapse of a scene SHIFT pixels larger on each side, cropped at random offsets."""
    padded = np.pad(scene, ((SHIFT, SHIFT), (SHIFT, SHIFT), (0, 0)), mode="reflect")
    day = lapse(padded, frames, rng)
    h, w = scene.shape[:2]
    offsets = rng.integers(0, 2 * SHIFT + 1, (frames, 2))
    return np.stack([f[dy:dy + h, dx:dx + w] for f, (dy, dx) in zip(day, offsets, strict=True)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--cats", type=Path, help="catData.mat")
    parser.add_argument("--kodak", type=Path, help="a folder of Kodak PNGs (lapse, shaky, "
                        "unrelated)")
    parser.add_argument("--frames", type=int, default=24, help="frames of lapse and shaky")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.outdir.mkdir(parents=True, exist_ok=True)
    stacks: dict[str, np.ndarray] = {}
    if args.cats is not None:
        stacks["cats"] = cats(args.cats)
    if args.kodak is not None:
        photos = sorted(args.kodak.glob("*.png"))
        if not photos:
            parser.error(f"no .png files in {args.kodak}")
        scene = square(photos[0], SIDE)
        stacks["lapse"] = lapse(scene, args.frames, np.random.default_rng(args.seed))
        stacks["shaky"] = shaky(scene, args.frames, np.random.default_rng(args.seed))
        stacks["unrelated"] = np.clip(np.rint([square(p, SIDE) for p in photos]), 0, 255
                                      ).astype(np.uint8)
    if not stacks:
        parser.error("give --cats, --kodak or both")
    for name, stack in stacks.items():
        path = args.outdir / f"{name}.npy"
        np.save(path, stack)
        print(f"{path}: {stack.shape} {stack.dtype}")


if __name__ == "__main__":
    main()
