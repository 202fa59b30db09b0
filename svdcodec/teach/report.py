"""Byte accounting behind ``svdcodec compare``: where the bytes of an image go, stage by stage.

"Why are X and Xapprox the same size?" Because a decoder rebuilds every sample: the rank-r
approximation Xapprox = U[:, :r] · diag(σ) · Vᵀ[:r] is an m × n matrix, exactly as large as X.
What shrinks is what a file *stores*: r(m + n + 1) numbers per matrix instead of m·n, then
quantized (float16 or int8, spec section 5) and compressed with zstd. :func:`compare` encodes the
image at each rank with :func:`svdcodec.encode`, decodes it, and measures every stage for real.

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
    lowest quality whose PSNR reaches this decode's (:func:`svdcodec.peers.match_psnr`);
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
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from tqdm import tqdm

from .. import _zstd
from .. import format as fmt
from ..codec import decode, encode, read_header
from ..limits import get_default_limits
from ..metrics import psnr, ssim
from ..pillow.convert import from_array
from ..whole.layout import LAYOUTS, to_matrices
from ..whole.quantize import FACTOR_TYPES, dequantize
from .peers import PEERS, available, encode_peer, match_psnr

__all__ = ["DEFAULT_PEERS", "DEFAULT_RANKS", "Comparison", "RankResult", "compare",
           "format_table"]

SCHEMA = 1
DEFAULT_RANKS = (5, 10, 20, 50, 100)
DEFAULT_PEERS = ("png", "jpeg", "webp")
FLOAT64_BYTES = 8
FLOAT32_BYTES = 4
PEER_NAMES = {"png": "PNG", "jpeg": "JPEG", "webp": "WebP", "avif": "AVIF",
              "patch": ".svdi patch layout"}


@dataclass(frozen=True)
class RankResult:
    """Every stage of one encode; see the module docstring for the meaning of each field."""

    rank: int | None
    energy: float | None
    ranks: tuple[int, ...]
    values: int
    dense_values: int
    values_fraction: float
    dense_bytes: int
    xapprox_bytes: int
    dense_float64_bytes: int
    xapprox_float64_bytes: int
    factor_bytes: dict[str, int]
    raw_bytes: int
    zstd_bytes: int
    zstd_bytes_by_factors: dict[str, int]
    file_bytes: int
    file_bytes_by_factors: dict[str, int]
    bpp: float
    file_breakdown: dict[str, int]
    chunks: tuple[dict[str, Any], ...]
    matrices: tuple[dict[str, int], ...]
    energy_kept: float
    psnr: float
    ssim: float | None
    peers: dict[str, dict[str, Any]]
    data: bytes = field(repr=False, compare=False)  # the .svdi file; not in the JSON


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


def _breakdown(chunks: Sequence[fmt.ChunkInfo]) -> dict[str, int]:
    """Split the file into its contents and the chunk framing (spec sections 2, 3 and 5)."""
    parts = dict.fromkeys(("signature", "header", "metadata", "factor_fields", "factors",
                           "framing"), 0)
    parts["signature"] = fmt.PREFIX_SIZE
    for chunk in chunks:
        parts["framing"] += fmt.CHUNK_OVERHEAD
        data = chunk.size - fmt.CHUNK_OVERHEAD
        if chunk.type == "HEAD":
            parts["header"] += data
        elif chunk.type == "FACT":
            parts["factor_fields"] += fmt.FACT.size
            parts["factors"] += data - fmt.FACT.size
        elif chunk.type != "IEND":
            parts["metadata"] += data
    return parts


def _reconstruct_float64(data: bytes) -> tuple[int, float]:
    """Build each float64 U·diag(σ)·Vᵀ from the file's factors: (total nbytes, Σσ²)."""
    container = fmt.unpack(data, get_default_limits())
    factors = fmt.FACTOR_NAMES[container.header.factor_type]
    nbytes, energy = 0, 0.0
    for g in container.groups:
        raw = _zstd.decompress(g.payload, g.raw_size, what=f"FACT {g.index}")
        u, s, vt = dequantize(raw, g.rows, g.cols, factors)
        x_approx = (u * s) @ vt  # m x n, whatever the rank: the same size as X
        nbytes += x_approx.nbytes
        energy += float(s @ s)
        del x_approx
    return nbytes, energy


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


def _to_8bit(image: np.ndarray) -> np.ndarray:
    """round(v / 257), the 8-bit image ``svdcodec decode`` writes to 8-bit formats."""
    return ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)


def _png_bytes(image: np.ndarray) -> int:
    """Lossless PNG as :mod:`svdcodec.peers` makes it; 16-bit grey as a 16-bit PNG."""
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
    peers : codecs from ``svdcodec.peers.PEERS`` to compare with; ``()`` for none (fast).
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
    peer_image = image if image.dtype == np.uint8 else _to_8bit(image)
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
            _measure(image, target, layout=layout, factors=factors, level=level,
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


def _measure(image: np.ndarray, target: dict[str, Any], *, layout: str, factors: str,
             level: int, both_factors: bool, lossy: list[str], peer_image: np.ndarray,
             with_ssim: bool,
             metadata: dict[str, Any], dense: tuple[int, float],
             bar: tqdm[Any]) -> RankResult:
    dense_f64, norm2 = dense  # X as float64: nbytes and ‖X‖²_F
    label = f"rank {target['rank']}" if "rank" in target else f"energy {target['energy']}"
    bar.set_postfix_str(f"{label}: encode")
    data = encode(image, layout=layout, factors=factors, level=level, **target, **metadata)
    info = read_header(data)
    x_approx = decode(data)
    f64_bytes, energy = _reconstruct_float64(data)
    zstd_bytes = sum(g.compressed_size for g in info.groups)
    zstd_by, file_by = {factors: zstd_bytes}, {factors: len(data)}
    bar.update()
    if both_factors:
        other = next(f for f in FACTOR_TYPES if f != factors)
        bar.set_postfix_str(f"{label}: encode {other}")
        other_data = encode(image, layout=layout, factors=other, level=level, **target,
                            **metadata)
        zstd_by[other] = sum(g.compressed_size for g in read_header(other_data).groups)
        file_by[other] = len(other_data)
        bar.update()
    quality = psnr(image, x_approx)
    peers: dict[str, dict[str, Any]] = {}
    for codec in lossy:
        bar.set_postfix_str(f"{label}: {codec} at {quality:.2f} dB")
        if math.isfinite(quality) and codec == "patch":
            peers[codec] = _patch_at(image, quality, metadata)
        elif math.isfinite(quality):
            p = match_psnr(peer_image, codec, quality)
            peers[codec] = {"quality": p.quality, "bytes": p.nbytes, "psnr": p.psnr,
                            "bpp": p.bpp, "reached": p.reached}
        bar.update()
    groups = [{"rows": g.rows, "cols": g.cols, "rank": g.rank,
               "values": g.rank * (g.rows + g.cols + 1), "dense_values": g.rows * g.cols,
               "raw_bytes": g.raw_size, "zstd_bytes": g.compressed_size} for g in info.groups]
    values = sum(g["values"] for g in groups)
    dense_values = sum(g["dense_values"] for g in groups)
    return RankResult(
        rank=target.get("rank"), energy=target.get("energy"), ranks=info.ranks, values=values,
        dense_values=dense_values, values_fraction=values / dense_values,
        dense_bytes=image.nbytes, xapprox_bytes=x_approx.nbytes,
        dense_float64_bytes=dense_f64, xapprox_float64_bytes=f64_bytes,
        factor_bytes={
            "float64": FLOAT64_BYTES * values, "float32": FLOAT32_BYTES * values,
            "float16": sum(g.rank * fmt.record_size(g.rows, g.cols, fmt.FactorType.FLOAT16)
                           for g in info.groups),
            "int8": sum(g.rank * fmt.record_size(g.rows, g.cols, fmt.FactorType.INT8)
                        for g in info.groups)},
        raw_bytes=sum(g.raw_size for g in info.groups), zstd_bytes=zstd_bytes,
        zstd_bytes_by_factors=zstd_by, file_bytes=len(data), file_bytes_by_factors=file_by,
        bpp=8 * len(data) / (image.shape[0] * image.shape[1]),
        file_breakdown=_breakdown(info.chunks),
        chunks=tuple({"type": c.type, "offset": c.offset, "size": c.size} for c in info.chunks),
        matrices=tuple(groups), energy_kept=energy / norm2 if norm2 else 1.0, psnr=quality,
        ssim=ssim(image, x_approx) if with_ssim else None, peers=peers, data=data)


def _patch_at(image: np.ndarray, target: float, metadata: dict[str, Any]) -> dict[str, Any]:
    """The patch layout's smallest file reaching ``target`` dB, as a peer entry."""
    data = encode(image, target_psnr=target, **metadata)
    got = psnr(image, decode(data))
    return {"quality": None, "bytes": len(data), "psnr": got,
            "bpp": 8 * len(data) / (image.shape[0] * image.shape[1]),
            "reached": got >= target - 0.05}  # the search stops within 0.03 dB


# --- the table for people ---------------------------------------------------------------------
def _n(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _peer(result: RankResult, codec: str) -> str:
    p = result.peers.get(codec)
    if p is None:
        return "-"
    q = "" if p["quality"] is None else f" q{p['quality']}"
    return f"{p['bytes']:,}{q}" + ("" if p["reached"] else " (short)")


def _rows(c: Comparison) -> list[tuple[str, Any]]:
    """(label, cell function) for each line of the table; None for a blank line."""
    other = [f for f in FACTOR_TYPES if f != c.factors]
    rows: list[tuple[str, Any]] = [
        ("rank stored per matrix", lambda r: ",".join(map(str, sorted(set(r.ranks))))),
        (f"X, dense in memory ({c.dtype} bytes)", lambda r: _n(r.dense_bytes)),
        (f"Xapprox = decode ({c.dtype} bytes)", lambda r: _n(r.xapprox_bytes)),
        ("X as float64 (bytes)", lambda r: _n(r.dense_float64_bytes)),
        ("Xapprox = U diag(s) V^T, float64", lambda r: _n(r.xapprox_float64_bytes)),
        ("", None),
        ("numbers in X: m*n, all matrices", lambda r: _n(r.dense_values)),
        ("numbers stored: r(m+n+1), all matrices", lambda r: _n(r.values)),
        ("  stored / dense", lambda r: f"{r.values_fraction:.2%}"),
        ("factors as float64 (bytes)", lambda r: _n(r.factor_bytes["float64"])),
        ("factors as float32", lambda r: _n(r.factor_bytes["float32"])),
        ("float16 records (spec 5)", lambda r: _n(r.factor_bytes["float16"])),
        ("int8 records + scales (spec 5)", lambda r: _n(r.factor_bytes["int8"])),
        (f"after zstd ({c.factors}, in the file)", lambda r: _n(r.zstd_bytes)),
    ]
    if any(other[0] in r.zstd_bytes_by_factors for r in c.results):
        rows.append((f"after zstd ({other[0]}, 2nd encode)",
                     lambda r: _n(r.zstd_bytes_by_factors.get(other[0]))))
    rows += [
        (".svdi file (bytes)", lambda r: _n(r.file_bytes)),
        ("  signature + version", lambda r: _n(r.file_breakdown["signature"])),
        ("  HEAD data", lambda r: _n(r.file_breakdown["header"])),
        ("  metadata chunks data", lambda r: _n(r.file_breakdown["metadata"])),
        ("  FACT fields", lambda r: _n(r.file_breakdown["factor_fields"])),
        ("  FACT payloads (zstd)", lambda r: _n(r.file_breakdown["factors"])),
        ("  chunk length+type+CRC", lambda r: _n(r.file_breakdown["framing"])),
    ]
    if any(other[0] in r.file_bytes_by_factors for r in c.results):
        rows.append((f".svdi file with {other[0]} factors",
                     lambda r: _n(r.file_bytes_by_factors.get(other[0]))))
    rows += [
        ("bits per pixel", lambda r: f"{r.bpp:.3f}"),
        ("", None),
        ("energy kept: sum s^2 / |X|_F^2", lambda r: f"{r.energy_kept:.4%}"),
        ("PSNR (dB)", lambda r: f"{r.psnr:.2f}"),
        ("SSIM", lambda r: "-" if r.ssim is None else f"{r.ssim:.4f}"),
    ]
    codecs = list(dict.fromkeys(k for r in c.results for k in r.peers))
    if codecs:
        rows.append(("", None))
    of = "" if c.peer_source == "image" else " of the 8-bit image"
    for codec in codecs:
        rows.append((f"{PEER_NAMES.get(codec, codec)}{of} at >= this PSNR (bytes)",
                     lambda r, codec=codec: _peer(r, codec)))
    return rows


def format_table(c: Comparison, name: str = "image") -> str:
    """A plain-text table: one column per rank, one line per stage."""
    shapes = sorted(set(c.matrices))
    shape = " and ".join(f"{m}x{n}" for m, n in shapes)
    plural = "matrix" if len(c.matrices) == 1 else "matrices"
    dtype = c.dtype
    lines = [f"{name}: {c.width}x{c.height} {c.mode}, layout {c.layout} ({len(c.matrices)} "
             f"{plural} of {shape}), {c.factors} factors, zstd level {c.level}",
             f"X in memory: {c.dense_bytes:,} bytes as {dtype}; {c.dense_float64_bytes:,} bytes "
             f"as the float64 {plural} numpy.linalg.svd works on"]
    if c.png_bytes is not None:
        depth = " 16-bit" if c.dtype == "uint16" else ""
        lines.append(f"PNG{depth} (lossless): {c.png_bytes:,} bytes ({c.png_bpp:.3f} bpp)")
    if c.peer_source != "image":
        lines.append("JPEG/WebP/AVIF are 8-bit: they code the 8-bit reduction round(v / 257), "
                     "and its PSNR (peak 255) is matched to the decode's (peak 65535)")
    lines += [f"note: {note}" for note in c.notes]
    heads = [f"rank {r.rank}" if r.rank is not None else f"energy {r.energy:g}"
             for r in c.results]
    rows = _rows(c)
    cells = [[fn(r) for r in c.results] if fn else [] for _, fn in rows]
    width = max(11, *(len(x) for row in cells for x in row), *(len(h) for h in heads)) + 2
    label = max(len(text) for text, _ in rows)
    head = "stage".ljust(label) + "".join(h.rjust(width) for h in heads)
    lines += ["", head, "-" * len(head)]
    for (text, _), row in zip(rows, cells, strict=True):
        lines.append((text.ljust(label) + "".join(x.rjust(width) for x in row)).rstrip())
    lines += ["", "X and Xapprox are the same size: a decode rebuilds all m x n samples of every "
              "matrix,", "at any rank. Only the file is smaller: it stores r(m+n+1) numbers per "
              "matrix, quantized", "(float16 or int8 records), then compressed with zstd."]
    return "\n".join(lines)
