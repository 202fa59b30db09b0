"""Write the golden files of spec/vectors/ (spec section 11).

    python tools/make_vectors.py spec/vectors

Each vector is a small crop of the bundled Kodak photograph (or a synthetic 16-bit image)
encoded with one feature; its expected decode is written beside it as PNG. Vectors are committed
once and never regenerated: every later release must still decode them (a new feature adds a
new vector). Only vectors whose .svdi file does not exist yet are written; the README table
rows of those are printed, to be appended to the folder's README by hand.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np
import zstandard
from PIL import Image

import svdcodec
from svdcodec import format as fmt
from svdcodec.demo import demo_image


def _crop(mode: str) -> np.ndarray:
    with Image.open(demo_image()) as im:
        rgb = np.asarray(im.convert("RGB"))[200:232, 300:348]  # 48 x 32
    if mode == "L":
        return np.asarray(Image.fromarray(rgb).convert("L"))
    if mode in ("LA", "RGBA"):
        yy, xx = np.mgrid[0:32, 0:48]
        alpha = np.clip(255 - 4 * (xx + yy), 0, 255).astype(np.uint8)
        base = np.asarray(Image.fromarray(rgb).convert(mode[:-1])) if mode == "LA" else rgb
        base = base if base.ndim == 3 else base[:, :, None]
        return np.concatenate([base, alpha[:, :, None]], axis=2)
    return rgb


def _odd_crop() -> np.ndarray:
    """37 x 23 RGB: no side a multiple of the patch size or of the chroma subsampling."""
    with Image.open(demo_image()) as im:
        return np.asarray(im.convert("RGB"))[150:173, 250:287]


def _sixteen_bit() -> np.ndarray:
    yy, xx = np.mgrid[0:20, 0:30]
    rng = np.random.default_rng(16)
    image = 30000 + 900 * xx - 700 * yy + 40 * rng.standard_normal((20, 30))
    return np.clip(image, 0, 65535).astype(np.uint16)


def _with_unknown_ancillary(data: bytes) -> bytes:
    """Insert an ancillary chunk a version-1 decoder does not know (it MUST skip it)."""
    head_end = fmt.PREFIX_SIZE + fmt.CHUNK_OVERHEAD + fmt.HEAD.size
    chunk = fmt.pack_chunk(b"zzzz", b"a future ancillary chunk")
    return data[:head_end] + chunk + data[head_end:]


def _truncated_blockwise(data: bytes) -> bytes:
    """The file recompressed with one zstd block per component record, then cut inside FACT 1
    after its fourth block: spec section 7.1 decodes group 0 in full, group 1 at the rank of
    its whole records (4 of them), group 2 as 0."""
    container = fmt.unpack(data, svdcodec.Limits())
    h = container.header
    groups = []
    for g in container.groups:
        raw = zstandard.ZstdDecompressor().decompress(g.payload)
        size = fmt.record_size(g.rows, g.cols, h.factor_type)
        obj = zstandard.ZstdCompressor(level=3, write_content_size=True,
                                       write_checksum=True).compressobj(size=len(raw))
        blocks = [obj.compress(raw[i:i + size]) + obj.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
                  for i in range(0, len(raw), size)]
        if g.index == 1:
            cut_inside = sum(len(b) for b in blocks[:4]) + len(blocks[4]) // 2
        payload = b"".join(blocks) + obj.flush()
        groups.append(fmt.Group(g.index, g.rows, g.cols, g.rank, g.raw_size, payload))
    whole = fmt.pack(h, groups, container.metadata)
    fact1 = [c for c in fmt.unpack(whole, svdcodec.Limits()).chunks if c.type == "FACT"][1]
    return whole[:fact1.offset + fmt.CHUNK_PREFIX.size + fmt.FACT.size + cut_inside]


# name -> (image maker, encode options, description)
VECTORS = {
    "l-float16-rank8": (lambda: _crop("L"), {"rank": 8, "factors": "float16"},
                        "L, per-channel, float16, rank 8"),
    "la-int8-rank6": (lambda: _crop("LA"), {"rank": 6}, "LA, per-channel, int8, rank 6"),
    "rgb-int8-rank10": (lambda: _crop("RGB"), {"rank": 10}, "RGB, per-channel, int8, rank 10"),
    "rgb-float16-stacked-rank12": (lambda: _crop("RGB"),
                                   {"rank": 12, "layout": "stacked", "factors": "float16"},
                                   "RGB, stacked [R|G|B], float16, rank 12"),
    "rgba-int8-vertical-rank9": (lambda: _crop("RGBA"),
                                 {"rank": 9, "layout": "stacked-vertical"},
                                 "RGBA, stacked-vertical, int8, rank 9"),
    "i16-float16-rank4": (_sixteen_bit, {"rank": 4, "factors": "float16"},
                          "I;16, per-channel, float16, rank 4"),
    "rgb-metadata-rank3": (lambda: _crop("RGB"),
                           {"rank": 3, "icc_profile": b"not a real ICC profile",
                            "exif": b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x00\x00",
                            "xmp": "<x:xmpmeta xmlns:x='adobe:ns:meta/'/>",
                            "dpi": (300, 300)},
                           "RGB, int8, rank 3, with iccp, exif, xmpd, phys and an unknown "
                           "ancillary chunk `zzzz`"),
    # layout 4, patch (spec section 12)
    "rgb-patch-q30": (lambda: _crop("RGB"), {"quality": 30},
                      "RGB, patch 8x8, YCbCr 4:2:0, quality 30, deblocking"),
    "rgb-patch-odd-q50": (_odd_crop, {"quality": 50},
                          "RGB 37x23, patch 8x8, YCbCr 4:2:0, quality 50 (padding, odd sizes)"),
    "rgba-patch-q85": (lambda: _crop("RGBA"), {"quality": 85},
                       "RGBA, patch 8x8, YCbCr 4:4:4 and an alpha plane, quality 85"),
    "l-patch-p4-q60": (lambda: _crop("L"), {"quality": 60, "patch_size": 4},
                       "L, patch 4x4, quality 60"),
    "la-patch-p16-q40": (lambda: _crop("LA"), {"quality": 40, "patch_size": 16},
                         "LA, patch 16x16, quality 40"),
    "i16-patch-q70": (_sixteen_bit, {"quality": 70}, "I;16, patch 8x8, quality 70"),
    # compression 2, arith (spec section 13)
    "rgb-patch-arith-q30": (lambda: _crop("RGB"), {"quality": 30, "entropy": "arith"},
                            "RGB, patch 8x8, YCbCr 4:2:0, quality 30, arith payload"),
    "rgb-patch-arith-odd-q50": (_odd_crop, {"quality": 50, "entropy": "arith"},
                                "RGB 37x23, patch 8x8, YCbCr 4:2:0, quality 50, arith"),
    "rgba-patch-arith-q85": (lambda: _crop("RGBA"), {"quality": 85, "entropy": "arith"},
                             "RGBA, patch 8x8, YCbCr 4:4:4 and an alpha plane, quality 85, "
                             "arith"),
    "rgb-patch-arith-444-q20": (lambda: _crop("RGB"),
                                {"quality": 20, "subsampling": 1, "entropy": "arith"},
                                "RGB, patch 8x8, YCbCr 4:4:4 forced, quality 20, arith"),
    "l-patch-arith-p4-q60": (lambda: _crop("L"),
                             {"quality": 60, "patch_size": 4, "entropy": "arith"},
                             "L, patch 4x4, quality 60, arith"),
    "la-patch-arith-p16-q40": (lambda: _crop("LA"),
                               {"quality": 40, "patch_size": 16, "entropy": "arith"},
                               "LA, patch 16x16, quality 40, arith"),
    "i16-patch-arith-q70": (_sixteen_bit, {"quality": 70, "entropy": "arith"},
                            "I;16, patch 8x8, quality 70, arith"),
    "i16-patch-arith-q100": (_sixteen_bit, {"quality": 100, "entropy": "arith"},
                             "I;16, patch 8x8, quality 100, arith: long Exp-Golomb codes (the "
                             "values that need escapes in section 12.3)"),
    "rgb-patch-arith-tiny": (lambda: _crop("RGB")[:3, :5], {"quality": 50, "entropy": "arith"},
                             "RGB 5x3 (one patch per plane), quality 50, arith"),
    "l-patch-arith-q0": (lambda: _crop("L"), {"quality": 0, "entropy": "arith"},
                         "L, patch 8x8, quality 0 (few components), arith"),
    # spec section 7.1: decoded with allow_truncated=True (a plain decode is TruncatedError)
    "rgb-int8-rank10-truncated": (lambda: _crop("RGB"), {"rank": 10},
                                  "RGB, per-channel, int8, rank 10, one zstd block per record, "
                                  "cut inside FACT 1 after 4 records (section 7.1 salvage)"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    args = parser.parse_args(argv)
    args.outdir.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, (make, options, description) in VECTORS.items():
        if (args.outdir / f"{name}.svdi").exists():
            continue  # committed vectors are never regenerated (spec section 11)
        data = svdcodec.encode(make(), **options)
        if "metadata" in name:
            data = _with_unknown_ancillary(data)
        if "truncated" in name:
            data = _truncated_blockwise(data)
        (args.outdir / f"{name}.svdi").write_bytes(data)
        image = svdcodec.decode(data, allow_truncated="truncated" in name)
        Image.fromarray(image).save(args.outdir / f"{name}.png")
        digest = hashlib.sha256(data).hexdigest()[:16]
        call = ", ".join(f"{k}={v!r}" for k, v in options.items())
        rows.append(f"| `{name}.svdi` | {description} | {len(data)} | `{digest}` | "
                    f"`encode(image, {call})` |")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
