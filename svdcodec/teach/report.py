"""Byte accounting behind ``svdcodec compare``: where the bytes of an image go, stage by stage.

"Why are X and Xapprox the same size?" Because a decoder rebuilds every sample: the rank-r
approximation Xapprox = U[:, :r] · diag(σ) · Vᵀ[:r] is an m × n matrix, exactly as large as X.
What shrinks is what a file *stores*: r(m + n + 1) numbers per matrix instead of m·n, then
quantized (float16 or int8, spec section 5) and compressed with zstd. :func:`compare` encodes the
image at each rank with :func:`svdcodec.encode`, decodes it, and measures every stage for real
(:mod:`.measure`); :func:`svdcodec.teach.table.format_table` prints it for people.

JSON (:meth:`Comparison.to_dict`, ``svdcodec compare --json``), schema 1. Byte counts are ints;
a float that is infinite (the PSNR of an exact decode) is written as ``null``. Top level:

- ``schema``: 1. ``width``, ``height``, ``mode`` ("L", "LA", "RGB", "RGBA", "I;16"), ``channels``.
- ``layout``, ``factors`` (the factor type in use), ``level`` (zstd level).
- ``matrices``: [[m, n], ...], the shape of each matrix the layout builds (spec section 6).
- ``samples``: H·W·C. ``dtype``: "uint8", or "uint16" for I;16. ``dense_bytes``: X as stored
  in memory, ``nbytes`` of that dtype.
- ``dense_float64_bytes``: the float64 matrices ``numpy.linalg.svd`` works on, ``nbytes``.
- ``png_bytes``, ``png_bpp``: the image as lossless PNG, 16-bit for I;16 (null if PNG was not
  asked for).
- ``peer_source``: what the lossy peers code: "image", or for 16-bit images "8-bit reduction"
  (round(v / 257): Pillow's JPEG, WebP and AVIF are 8-bit), whose PSNR (peak 255) is matched
  to the .svdi decode's (peak 65535).
- ``notes``: [str]: a rank above the full rank (stored at full rank); each peer asked for but
  left out, and why (JPEG has no alpha; an exact decode has no PSNR to match).
- ``results``: one object per requested rank or energy, in the order given:

  - ``rank``: the rank asked for (null when chosen by energy); ``energy``: the Σσ² fraction asked
    for (null when a rank was given); ``ranks``: the rank stored for each matrix.
  - ``values``: numbers stored, Σ r(m + n + 1) over the matrices; ``dense_values``: Σ m·n;
    ``values_fraction``: values / dense_values.
  - ``dense_bytes``: X, ``nbytes`` (uint8, or uint16 for I;16); ``xapprox_bytes``: the decoded
    Xapprox, ``nbytes`` (always equal). ``dense_float64_bytes``: X as float64;
    ``xapprox_float64_bytes``: the float64 products U·diag(σ)·Vᵀ built from the file's factors
    (always equal).
  - ``factor_bytes``: {"float64": 8·values, "float32": 4·values, "float16": Σ r(4 + 2m + 2n),
    "int8": Σ r(12 + m + n)}; the last two are the spec's record sizes (σ in f32; int8 adds two
    f32 scales per component).
  - ``raw_bytes``: the quantized records in the file, before zstd (= factor_bytes[factors]).
  - ``zstd_bytes``: the compressed payloads, Σ FACT payload sizes.
  - ``zstd_bytes_by_factors``, ``file_bytes_by_factors``: {factor type: bytes}, the type in use
    and, with ``both_factors``, the other one (a second encode).
  - ``file_bytes``: the .svdi file; ``bpp``: 8 · file_bytes / (H·W).
  - ``file_breakdown``: {"signature": 10 (signature + version byte), "header": HEAD data,
    "metadata": ancillary chunk data, "factor_fields": FACT fields (24 bytes per group),
    "factors": the zstd payloads, "framing": 12 bytes per chunk (length, type, CRC)}; sums to
    ``file_bytes``.
  - ``chunks``: [{"type", "offset", "size"}], ``size`` including the 12 framing bytes.
  - ``matrices``: per matrix {"rows", "cols", "rank", "values", "dense_values", "raw_bytes",
    "zstd_bytes"}.
  - ``energy_kept``: Σσ² of the stored σ over ‖X‖²_F (all matrices).
  - ``psnr`` (dB, null if exact), ``ssim`` (null if not computed).
  - ``peers``: {codec: {"quality", "bytes", "psnr", "bpp", "reached"}}: JPEG, WebP (AVIF) at the
    lowest quality whose PSNR reaches this decode's (:func:`svdcodec.teach.peers.match_psnr`);
    ``reached`` false if even the best quality falls short; for 16-bit images, of the 8-bit
    reduction (``peer_source``). JPEG is skipped for images with alpha, every peer for exact
    decodes (``notes`` says so). With ``patch=True``, the key ``"patch"`` holds the .svdi
    patch layout (the default one, spec section 12) at the lowest quality whose PSNR reaches
    this decode's (``encode(image, target_psnr=...)`` on the image itself, 16-bit included;
    its ``quality`` is null: the search does not report it).
"""

from __future__ import annotations

import io
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from tqdm import tqdm

from .. import _zstd
from ..codec import read_header
from ..pillow.convert import from_array, to_8bit
from ..whole.layout import LAYOUTS, to_matrices
from ..whole.quantize import FACTOR_TYPES
from .measure import RankResult, measure
from .peers import PEERS, available, encode_peer
from .table import PEER_NAMES

__all__ = ["DEFAULT_PEERS", "DEFAULT_RANKS", "Comparison", "RankResult", "compare"]

SCHEMA = 1
DEFAULT_RANKS = (5, 10, 20, 50, 100)
DEFAULT_PEERS = ("png", "jpeg", "webp")


@dataclass(frozen=True)
class Comparison:
    """The image as a whole and one :class:`RankResult` per rank or energy."""

    width: int
    height: int
    mode: str
    channels: int
    layout: str
    factors: str
    level: int
    matrices: tuple[tuple[int, int], ...]
    samples: int
    dtype: str
    dense_bytes: int
    dense_float64_bytes: int
    png_bytes: int | None
    png_bpp: float | None
    peer_source: str
    results: tuple[RankResult, ...]
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON: the documented keys, infinities as None."""
        record = {"schema": SCHEMA, **asdict(self)}
        for result in record["results"]:
            del result["data"]
        finite: dict[str, Any] = _finite(record)
        return finite

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _peer_codecs(image: np.ndarray, peers: Sequence[str]) -> tuple[bool, list[str], list[str]]:
    """(PNG wanted, lossy peers that apply to this image, notes on those left out); unknown or
    missing codecs raise."""
    for codec in peers:
        if codec not in PEERS:
            raise ValueError(f"peers must be among {PEERS}, got {codec!r}")
        if not available(codec):
            raise ValueError(f"this Pillow build has no {codec} support")
    alpha = image.ndim == 3 and image.shape[2] in (2, 4)
    notes = ["JPEG left out: it has no alpha channel"] if alpha and "jpeg" in peers else []
    lossy = [c for c in peers if c != "png" and not (c == "jpeg" and alpha)]
    return "png" in peers, list(dict.fromkeys(lossy)), notes


def _png_bytes(image: np.ndarray) -> int:
    """Lossless PNG as :mod:`svdcodec.teach.peers` makes it; 16-bit grey as a 16-bit PNG."""
    if image.dtype == np.uint8:
        return len(encode_peer(image, "png"))
    buffer = io.BytesIO()
    from_array(image).save(buffer, format="PNG", optimize=False)
    return buffer.tell()


def compare(image: np.ndarray, *, ranks: Sequence[int] | None = None,
            energies: Sequence[float] | None = None, layout: str = "per-channel",
            factors: str = "int8", level: int = _zstd.DEFAULT_LEVEL, both_factors: bool = False,
            peers: Sequence[str] = DEFAULT_PEERS, with_ssim: bool = True,
            metadata: dict[str, Any] | None = None, progress: bool | None = False,
            patch: bool = False) -> Comparison:
    """Encode ``image`` at each rank (or energy) and account for every byte.

    Parameters
    ----------
    image : (H, W) or (H, W, C) uint8, or (H, W) uint16, as for :func:`svdcodec.encode`.
    ranks : ranks per matrix (default :data:`DEFAULT_RANKS`); or ``energies``: Σσ² fractions.
    layout, factors, level : encoder options. both_factors : also encode with the other factor
        type and report its zstd and file bytes.
    peers : codecs from ``svdcodec.teach.peers.PEERS`` to compare with; ``()`` for none (fast).
    patch : also encode the patch layout (the default) at each result's PSNR, as ``"patch"``
        among the peers.
    with_ssim : compute SSIM (about 0.1 s per 768 x 512 RGB decode).
    metadata : ``icc_profile``, ``exif``, ``xmp``, ``dpi`` passed to the encoder.
    progress : a tqdm bar on stderr: True, False, or None for "if stderr is a terminal".

    Examples
    --------
    >>> import numpy as np
    >>> image = np.tile(np.arange(64, dtype=np.uint8), (48, 1))
    >>> c = compare(image, ranks=[2], peers=(), with_ssim=False)
    >>> r = c.results[0]
    >>> r.values, r.dense_values, r.xapprox_bytes == r.dense_bytes == image.nbytes
    (226, 3072, True)
    """
    if ranks is not None and energies is not None:
        raise ValueError("give ranks or energies, not both")
    if layout not in LAYOUTS or factors not in FACTOR_TYPES:
        raise ValueError(f"layout must be in {LAYOUTS} and factors in {FACTOR_TYPES}, got "
                         f"{layout!r}, {factors!r}")
    targets: list[dict[str, Any]]
    if energies is not None:
        targets = [{"energy": float(e)} for e in energies]
    else:
        targets = [{"rank": r} for r in (DEFAULT_RANKS if ranks is None else ranks)]
    if not targets:
        raise ValueError("give at least one rank or energy")
    png, lossy, notes = _peer_codecs(image, peers)
    # Pillow's lossy codecs are 8-bit: a 16-bit image's peers code its nearest 8-bit values
    peer_image = image if image.dtype == np.uint8 else to_8bit(image)
    matrices = to_matrices(image if image.ndim == 3 else image[:, :, None], layout)
    dense = (sum(x.nbytes for x in matrices), sum(float(np.vdot(x, x)) for x in matrices))
    shapes = tuple(x.shape for x in matrices)
    del matrices
    pixels = image.shape[0] * image.shape[1]
    png_bytes = _png_bytes(image) if png else None
    if patch:
        lossy = [*lossy, "patch"]
    steps = len(targets) * (1 + len(lossy) + both_factors)
    with tqdm(total=steps, desc="compare", unit="step", file=sys.stderr, leave=False,
              disable=None if progress is None else not progress) as bar:
        results = tuple(
            measure(image, target, layout=layout, factors=factors, level=level,
                     both_factors=both_factors, lossy=lossy, peer_image=peer_image,
                     with_ssim=with_ssim,
                     metadata=metadata or {}, dense=dense, bar=bar) for target in targets)
    return Comparison(
        width=image.shape[1], height=image.shape[0], mode=read_header(results[0].data).mode,
        channels=1 if image.ndim == 2 else image.shape[2], layout=layout, factors=factors,
        level=level, matrices=shapes, samples=image.size, dtype=str(image.dtype),
        dense_bytes=image.nbytes, dense_float64_bytes=dense[0],
        png_bytes=png_bytes, png_bpp=None if png_bytes is None else 8 * png_bytes / pixels,
        peer_source="image" if image.dtype == np.uint8 else "8-bit reduction",
        results=results, notes=tuple(notes + _rank_notes(results) + _exact_notes(results, lossy)))


def _rank_notes(results: Sequence[RankResult]) -> list[str]:
    """A rank asked for above what the matrices have: stored at their full rank."""
    return [f"rank {r.rank} is above the full rank: stored ranks {list(r.ranks)}"
            for r in results if r.rank is not None and r.ranks and min(r.ranks) < r.rank]


def _exact_notes(results: Sequence[RankResult], lossy: Sequence[str]) -> list[str]:
    exact = [r for r in results if not math.isfinite(r.psnr)]
    if not (exact and lossy):
        return []
    which = ", ".join(f"rank {r.rank}" if r.rank is not None else f"energy {r.energy:g}"
                      for r in exact)
    return [f"{', '.join(PEER_NAMES[c] for c in lossy)} left out at {which}: the decode is "
            "exact, there is no PSNR to match"]
