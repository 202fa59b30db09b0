"""argparse types of the ``svdcodec`` command line: each turns a bad value into a usage error
(exit 2) that names the value, before any work or output."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from typing import Any

from PIL import Image

__all__ = ["choice_list", "energy_list", "image_format", "int_at_least", "limit_setting",
           "number_in", "peer_list", "positive_int", "quality_list", "rank_list", "zstd_level"]


def limit_setting(text: str) -> tuple[str, int]:
    """argparse type: "max_pixels=2000000000" -> ("max_pixels", 2000000000), a field of
    :class:`svdcodec.Limits` and a positive int (underscores allowed)."""
    from dataclasses import fields

    from ..limits import Limits

    names = [f.name for f in fields(Limits)]
    name, _, value = text.partition("=")
    try:
        number = int(value)
    except ValueError:
        number = 0
    if name not in names or number < 1:
        raise argparse.ArgumentTypeError(f"expected FIELD=N with FIELD one of "
                                         f"{', '.join(names)} and N >= 1, got {text!r}")
    return name, number


def choice_list(choices: Sequence[str]) -> Any:
    """argparse type: "a,b" -> ["a", "b"], each one of ``choices``."""
    def parse(text: str) -> list[str]:
        items = [t.strip() for t in text.split(",")]
        bad = [t for t in items if t not in choices]
        if bad or not items:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list of "
                                             f"{', '.join(choices)}; got {text!r}")
        return items
    return parse


def _number_list(text: str, convert: Callable[[str], float], valid: Callable[[float], bool],
                 example: str, rule: str) -> list[Any]:
    """The comma-separated numbers of ``text``, each converted and checked; usage errors
    name the example form or the rule they break."""
    try:
        values = [convert(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {example}, got {text!r}") from None
    if not values or not all(valid(v) for v in values):
        raise argparse.ArgumentTypeError(f"{rule}, got {text!r}")
    return values


def quality_list(text: str) -> list[float]:
    """argparse type: "10,50" -> [10.0, 50.0], each in 0..100; '' -> []."""
    if not text.strip():
        return []
    return _number_list(text, float, lambda q: 0 <= q <= 100, "qualities like 10,50,90",
                        "qualities must be in 0..100")


def rank_list(text: str) -> list[int]:
    """argparse type: "5,20,100" -> [5, 20, 100], each >= 1."""
    return _number_list(text, int, lambda r: r >= 1, "ranks like 5,20,100",
                        "ranks must be >= 1")


def energy_list(text: str) -> list[float]:
    """argparse type: "0.9,0.99" -> [0.9, 0.99], each in (0, 1]."""
    return _number_list(text, float, lambda e: 0 < e <= 1, "energies like 0.9,0.99",
                        "energies must be in (0, 1]")


def int_at_least(minimum: int) -> Callable[[str], int]:
    """argparse type: an int >= ``minimum``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value
    return parse


positive_int = int_at_least(1)

# animate --duration: GIF stores a frame's delay as u16 hundredths of a second (WebP: 24 bits)
MAX_FRAME_MS = 655_350


def frame_ms(text: str) -> int:
    """argparse type: milliseconds per frame of an animation, 1 .. MAX_FRAME_MS."""
    value = positive_int(text)
    if value > MAX_FRAME_MS:
        raise argparse.ArgumentTypeError(f"must be in 1..{MAX_FRAME_MS} ms (the longest a GIF "
                                         f"frame holds), got {value}")
    return value


def zstd_level(text: str) -> int:
    """argparse type: a zstd level 1..19 (spec section 5: larger windows may be refused)."""
    level = positive_int(text)
    if level > 19:
        raise argparse.ArgumentTypeError(f"must be in 1..19, got {level}")
    return level


def number_in(low: float, high: float, low_open: bool = False) -> Any:
    """argparse type: a finite number in [low, high] (or (low, high])."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value) or value < low or (low_open and value == low) or \
                value > high:
            where = f"in {'(' if low_open else '['}{low:g}, {high:g}]" if math.isfinite(high) \
                else f"> {low:g}" if low_open else f">= {low:g}"
            raise argparse.ArgumentTypeError(f"must be {where}, got {text!r}")
        return value
    return parse


def peer_list(text: str) -> list[str]:
    """argparse type: "png,jpeg" -> ["png", "jpeg"]; "none" or "" -> []."""
    from ..teach.peers import PEERS

    return [] if text.strip() in ("", "none") else choice_list(PEERS)(text)


# Output extensions that decode writes without Pillow: numpy arrays and DICOM files (of .svdi
# files encoded from DICOM)
OWN_FORMATS = ("npy", "dcm", "dicom")


def image_format(text: str) -> str:
    """argparse type: an extension Pillow can write, or npy / dcm (which decode writes itself),
    e.g. "png" or ".tif" -> "tif"."""
    ext = text.lower().lstrip(".")
    if ext in OWN_FORMATS:
        return ext
    name = Image.registered_extensions().get(f".{ext}")
    if name is None or name not in Image.SAVE:
        raise argparse.ArgumentTypeError(f"unknown image format {text!r}: use png, tif, webp, "
                                         "npy, dcm, ...")
    return ext
