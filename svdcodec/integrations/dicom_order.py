"""The order of a DICOM series' slices (spec section 17.2): what each slice's header says of its
place (:class:`SliceKey`), the stack order along the slice normal (:func:`slice_order`) and the
slice spacing (:func:`slice_spacing`); and the reading of one element that never rejects a
header for its content (section 17.1), which :mod:`svdcodec.integrations.dicom_series` shares.
Needs pydicom only for the Dataset handed in.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

# section 17.2: orientations equal within this (direction cosines) share one slice normal
ORIENTATION_TOLERANCE = 1e-4


@dataclass(frozen=True)


class SliceKey:
    """What orders one slice (section 17.2); None where the header lacks it."""

    position: tuple[float, float, float] | None  # Image Position (Patient), mm
    orientation: tuple[float, ...] | None  # Image Orientation (Patient): row, column cosines
    instance: int | None  # Instance Number
    uid: str  # SOP Instance UID ("" if none)


@contextlib.contextmanager


def quiet() -> Iterator[None]:
    """pydicom's warnings about values it reads anyway: not the caller's to see here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def element(ds: Dataset, keyword: str) -> Any:
    """An element's value, or None when absent or unreadable: pydicom converts on access, and
    a damaged value or an unknown VR raises then (NotImplementedError, among many kinds); a
    header is never rejected for its content (section 17.1), as dicom.describe does."""
    try:
        with quiet():
            return ds.get(keyword)
    except Exception:  # pydicom on damaged values raises many kinds; all mean the same
        return None


def _numbers(ds: Dataset, keyword: str, count: int) -> tuple[float, ...] | None:
    """``count`` finite numbers of a multi-valued element, or None (absent or unreadable)."""
    try:
        with quiet():
            values = tuple(float(v) for v in element(ds, keyword) or ())
    except (TypeError, ValueError):
        return None
    if len(values) != count or not all(math.isfinite(v) for v in values):
        return None
    return values


def _integer(ds: Dataset, keyword: str) -> int | None:
    try:
        with quiet():
            value = element(ds, keyword)
            return None if value is None or value == "" else int(value)
    except (TypeError, ValueError):
        return None


def slice_key(ds: Dataset) -> SliceKey:
    position = _numbers(ds, "ImagePositionPatient", 3)
    return SliceKey(None if position is None else (position[0], position[1], position[2]),
                    _numbers(ds, "ImageOrientationPatient", 6), _integer(ds, "InstanceNumber"),
                    text(ds, "SOPInstanceUID"))


def _normal(orientation: tuple[float, ...]) -> tuple[float, float, float]:
    """n = r x c: the row cosines r and column cosines c of Image Orientation (Patient)."""
    r, c = orientation[:3], orientation[3:]
    return (r[1] * c[2] - r[2] * c[1], r[2] * c[0] - r[0] * c[2], r[0] * c[1] - r[1] * c[0])


def _common_orientation(keys: Sequence[SliceKey]) -> tuple[float, ...] | None:
    """The orientation every slice has (within ORIENTATION_TOLERANCE) when each has a position
    and an orientation, else None; the least of them, so that the order of the slices does
    not change it."""
    if not all(k.position is not None and k.orientation is not None for k in keys):
        return None
    orientations = [k.orientation for k in keys if k.orientation is not None]
    first = min(orientations)
    if any(max(abs(a - b) for a, b in zip(o, first, strict=True)) > ORIENTATION_TOLERANCE
           for o in orientations):
        return None
    return first


def slice_distances(keys: Sequence[SliceKey]) -> list[float] | None:
    """d = n . p of every slice (section 17.2), or None when they cannot be compared."""
    orientation = _common_orientation(keys)
    if orientation is None:
        return None
    n = _normal(orientation)
    return [sum(a * b for a, b in zip(n, k.position, strict=True))
            for k in keys if k.position is not None]


def slice_order(keys: Sequence[SliceKey]) -> tuple[list[int], str]:
    """The stack order of the slices (section 17.2) as indexes into ``keys``, and how it was
    found: by d along the slice normal, by Instance Number, or as given."""
    distances = slice_distances(keys)
    if distances is not None:
        order = sorted(range(len(keys)), key=lambda i: (
            distances[i], keys[i].instance is None, keys[i].instance or 0, keys[i].uid))
        return order, "by Image Position (Patient) along the slice normal"
    if all(k.instance is not None for k in keys):
        order = sorted(range(len(keys)), key=lambda i: (keys[i].instance, keys[i].uid))
        return order, "by Instance Number (no common Image Orientation and Position)"
    return list(range(len(keys))), "in the order given (neither positions nor Instance Numbers)"


def slice_spacing(keys: Sequence[SliceKey]) -> float | None:
    """The median distance between consecutive slices along the normal, in mm (section
    17.2), or None without positions, with one slice, or where it is not finite (positions
    near 1e308 whose differences overflow: info --json would write Infinity, not JSON)."""
    distances = slice_distances(keys)
    if distances is None or len(distances) < 2:
        return None
    gaps = sorted(b - a for a, b in itertools.pairwise(sorted(distances)))
    middle = len(gaps) // 2  # the median, as halves: two gaps near 1e308 have a finite mean
    spacing = gaps[middle] if len(gaps) % 2 else gaps[middle - 1] / 2 + gaps[middle] / 2
    return spacing if math.isfinite(spacing) else None


def text(ds: Dataset, keyword: str) -> str:
    """An element as text, "" when absent or unreadable."""
    value = element(ds, keyword)
    return "" if value is None else str(value)
