"""The rank animation behind ``svdcodec animate``: one captioned frame per rank, each the decode
of a file encoded at that rank, written as an animated GIF or WebP.

Pillow only (no matplotlib): the captions are drawn with Pillow's default font.
"""

from __future__ import annotations

import io
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from tqdm import tqdm

from ..codec import atomic_write, decode, encode
from ..metrics import psnr
from .plots import display_array

__all__ = ["ANIMATION_RANKS", "animation_frames", "default_ranks", "save_animation", "shrink"]

ANIMATION_RANKS = (1, 2, 3, 5, 8, 12, 20, 30, 50, 80, 120, 200, 300, 500, 800, 1200, 2000)
MIN_FRAME_WIDTH = 320  # smaller images are enlarged (nearest) so that the caption fits
# ... but no side past this: a 300 x 1 column was enlarged 320 times, a 320 x 96,000 frame that
# GIF and WebP cannot hold; the caption strip is MIN_FRAME_WIDTH wide even so
MAX_ENLARGED_SIDE = 4096
# The largest side each format holds (GIF: u16 fields; WebP: 14 bits)
MAX_SIDE = {".gif": 65535, ".webp": 16383}


def shrink(image: np.ndarray, *, max_size: int | None = None,
           scale: float | None = None) -> np.ndarray:
    """``image`` resized (Lanczos, per channel in float) so that its longest side is at most
    ``max_size``, or by the factor ``scale`` in (0, 1]; never enlarged. Same dtype and channels.

    An animation of a 12-megapixel photograph at full size is tens of megabytes of GIF; the
    lesson (what rank does) reads as well at 512 pixels.
    """
    if max_size is not None and scale is not None:
        raise ValueError("give max_size or scale, not both")
    h, w = image.shape[:2]
    if max_size is not None:
        if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
            raise ValueError(f"max_size must be an int >= 1, got {max_size!r}")
        factor = min(1.0, max_size / max(h, w))
    elif scale is not None:
        if not (isinstance(scale, (int, float)) and 0 < scale <= 1):
            raise ValueError(f"scale must be in (0, 1], got {scale!r}")
        factor = float(scale)
    else:
        return image
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    if size == (w, h):
        return image
    top = np.iinfo(image.dtype).max
    cube = image if image.ndim == 3 else image[:, :, None]
    resized = np.stack([np.asarray(Image.fromarray(cube[:, :, c].astype(np.float32), mode="F")
                                   .resize(size, Image.Resampling.LANCZOS)) for c in
                        range(cube.shape[2])], axis=2)
    out: np.ndarray = np.clip(np.rint(resized), 0, top).astype(image.dtype)
    return out if image.ndim == 3 else out[:, :, 0]


def default_ranks(image: np.ndarray, layout: str = "per-channel") -> list[int]:
    """:data:`ANIMATION_RANKS` up to 3/4 of the full rank min(m, n), then the full rank."""
    h, w = image.shape[:2]
    c = 1 if image.ndim == 2 else image.shape[2]
    full = {"per-channel": min(h, w), "stacked": min(h, w * c),
            "stacked-vertical": min(h * c, w)}[layout]
    return [r for r in ANIMATION_RANKS if r <= 0.75 * full] + [full]


def _font(size: int) -> Any:
    return ImageFont.load_default(size=size)


def _font_size(width: int, texts: Sequence[str], pad: int) -> int:
    """The largest size up to width / 36 at which every text fits in one line of ``width``."""
    draw = ImageDraw.Draw(Image.new("L", (1, 1)))
    size = max(10, width // 36)
    while size > 6 and max(draw.textlength(t, font=_font(size)) for t in texts) > width - 2 * pad:
        size -= 1
    return size


def _caption(frame: Image.Image, lines: Sequence[str], size: int, pad: int,
             width: int) -> Image.Image:
    """``frame`` on a black canvas ``width`` wide with a strip underneath holding ``lines``
    in white."""
    font = _font(size)
    line_height = int(size * 1.3)
    out = Image.new(frame.mode, (width, frame.height + 2 * pad + line_height * len(lines)))
    out.paste(frame, (0, 0))
    draw = ImageDraw.Draw(out)
    white = 255 if out.mode == "L" else (255, 255, 255)
    for i, text in enumerate(lines):
        draw.text((pad, frame.height + pad + i * line_height), text, fill=white, font=font)
    return out


def animation_frames(image: np.ndarray, ranks: Sequence[int] | None = None, *,
                     layout: str = "per-channel", factors: str = "int8", level: int = 3,
                     progress: bool | None = False) -> list[Image.Image]:
    """One captioned frame per rank: the decode of a file encoded at that rank."""
    ranks = list(ranks) if ranks is not None else default_ranks(image, layout)
    if not ranks:
        raise ValueError("give at least one rank")
    h, w = image.shape[:2]
    scale = max(1, min(math.ceil(MIN_FRAME_WIDTH / w), MAX_ENLARGED_SIDE // max(h, w)))
    frames, captions = [], []
    for rank in tqdm(ranks, desc="animate", unit="frame", file=sys.stderr, leave=False,
                     disable=None if progress is None else not progress):
        data = encode(image, rank=rank, layout=layout, factors=factors, level=level)
        x_approx = decode(data)
        quality = psnr(image, x_approx)
        shown, _ = display_array(x_approx)
        frame = Image.fromarray(np.ascontiguousarray(shown))
        frame = frame.convert("L" if frame.mode == "L" else "RGB")
        if scale > 1:
            frame = frame.resize((w * scale, h * scale), Image.Resampling.NEAREST)
        db = "exact" if math.isinf(quality) else f"PSNR {quality:.2f} dB"
        frames.append(frame)
        captions.append([
            f"rank {rank}: {len(data):,} bytes ({8 * len(data) / (h * w):.2f} bpp), {db}",
            f"Xapprox in memory: {'x'.join(map(str, x_approx.shape))} {x_approx.dtype} = "
            f"{x_approx.nbytes:,} bytes, the same as X"])
    width = max(frames[0].width, MIN_FRAME_WIDTH)
    pad = max(4, width // 100)
    size = _font_size(width, [t for lines in captions for t in lines], pad)
    return [_caption(f, lines, size, pad, width)
            for f, lines in zip(frames, captions, strict=True)]


def save_animation(frames: Sequence[Image.Image], path: Path, *, duration: int = 700,
                   last: int = 2500) -> None:
    """Write ``frames`` as an animated GIF or WebP (from the extension), atomically.

    ``duration`` is each frame's time in milliseconds, ``last`` the final frame's.
    """
    formats: dict[str, tuple[str, dict[str, Any]]] = {
        ".gif": ("GIF", {"optimize": False}),
        ".webp": ("WEBP", {"quality": 90, "method": 4})}
    if path.suffix.lower() not in formats:
        raise ValueError(f"animation must be .gif or .webp, got {path.name!r}")
    fmt_name, options = formats[path.suffix.lower()]
    largest = MAX_SIDE[path.suffix.lower()]
    if max(frames[0].size) > largest:
        raise ValueError(f"the animation's frames are {frames[0].width}x{frames[0].height}, "
                         f"above the {largest} pixels a {fmt_name} side holds: use --max-size "
                         f"or --scale")
    buf = io.BytesIO()
    frames[0].save(buf, format=fmt_name, save_all=True, append_images=list(frames[1:]),
                   duration=[duration] * (len(frames) - 1) + [last], loop=0, **options)
    atomic_write(path, buf.getvalue())
