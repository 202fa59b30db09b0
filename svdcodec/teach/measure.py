"""One encode of the byte-accounting report (:mod:`.report`), measured stage by stage.

:func:`measure` encodes the image at one rank or energy, decodes it, rebuilds the float64
products from the file's factors and, for each lossy peer, finds the smallest file of the same
PSNR: a :class:`RankResult`, whose fields the report's module docstring documents.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _zstd
from .. import format as fmt
from ..codec import decode, encode, read_header
from ..limits import get_default_limits
from ..metrics import psnr, ssim
from ..whole.quantize import FACTOR_TYPES, dequantize
from .peers import match_psnr

if TYPE_CHECKING:
    from tqdm import tqdm

__all__ = ["RankResult", "measure"]

FLOAT64_BYTES = 8
FLOAT32_BYTES = 4


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


def measure(image: np.ndarray, target: dict[str, Any], *, layout: str, factors: str,
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
