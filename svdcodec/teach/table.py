"""The byte-accounting report as a plain-text table for people: one column per rank, one line
per stage (``svdcodec compare``; its ``--json`` is :meth:`.report.Comparison.to_json`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..whole.quantize import FACTOR_TYPES

if TYPE_CHECKING:
    from .measure import RankResult
    from .report import Comparison

__all__ = ["PEER_NAMES", "format_table"]

PEER_NAMES = {"png": "PNG", "jpeg": "JPEG", "webp": "WebP", "avif": "AVIF",
              "patch": ".svdi patch layout"}


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
