"""Write the golden files of spec/vectors/ (spec section 11).

    python tools/make_vectors.py spec/vectors

Each vector is a small crop of the bundled Kodak photograph (or a synthetic 16-bit image)
encoded with one feature; its expected decode is written beside it as PNG. Vectors are committed
once and never regenerated: every later release must still decode them (a new feature adds a
new vector). Only vectors whose .svdi file does not exist yet are written; the README table
rows of those are printed, to be appended to the folder's README by hand.

``VECTORS`` are files of the reference encoder; ``BUILT`` are files assembled here from the
format layer, for what that encoder never writes (chroma subsampled in one axis only, factors
chosen so that X̂ is exactly a half-integer, a frame whose last raw zstd block is cut); each
builder checks that its file exercises what it claims. ``REJECTED`` are byte strings that a
decoder must refuse, with the error class.
"""

from __future__ import annotations

import argparse
import hashlib
import struct
import sys
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
import zstandard
from PIL import Image

import svdcodec
from svdcodec import _zstd
from svdcodec import format as fmt
from svdcodec.format.chunks import walk
from svdcodec.patch import codec as patchcodec
from svdcodec.patch import reconstruct, transform
from svdcodec.patch.analysis import PlaneAnalysis
from svdcodec.patch.encode import encode_plane
from svdcodec.patch.reference import decode_planes_reference
from svdcodec.patch.symbols import pack_payload, unpack_payload
from svdcodec.teach.demo import demo_image


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


def _signed_sixteen_bit() -> np.ndarray:
    """A small CT-like int16 slice (spec section 15.1): air at -1000, a disc of soft tissue
    around +40 with a bright insert, a negative ramp, noise, and the extremes -32768 and 32767."""
    yy, xx = np.mgrid[0:24, 0:32]
    rng = np.random.default_rng(1516)
    image = np.full((24, 32), -1000.0) - 30 * xx
    disc = (yy - 12) ** 2 + (xx - 16) ** 2 < 100
    image[disc] = 40 + 15 * rng.standard_normal(int(disc.sum()))
    image[(yy - 10) ** 2 + (xx - 18) ** 2 < 6] = 1200
    image += 8 * rng.standard_normal(image.shape)
    image[0, 0], image[23, 31] = -32768, 32767
    return np.clip(np.rint(image), -32768, 32767).astype(np.int16)


def expected_png(image: np.ndarray) -> Image.Image:
    """The expected decode as PNG: int16 (I;16S) as the 16-bit u = sample + 32768 (spec
    sections 11 and 15.1), which PNG can hold; other images as they are."""
    if image.dtype == np.int16:
        image = (image.astype(np.int32) + fmt.SIGNED_OFFSET).astype(np.uint16)
    return Image.fromarray(image)


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


# --- vectors assembled from the format layer (BUILT) ------------------------------------------
LIMITS = svdcodec.Limits()
# RFC 8878 section 3.1.1.2: a block header is 3 bytes, Last_Block in bit 0, Block_Type in bits
# 1-2 (0: raw), Block_Size in bits 3-23
ZSTD_BLOCK_HEADER = 3
ZSTD_LAST_RAW_BLOCK = 1


def _raw_last_block(raw: bytes, size: int, compressed: int) -> tuple[bytes, int]:
    """A zstd frame of ``raw``: one block holding the first ``compressed`` records of ``size``
    bytes (compressed, or raw where zstd finds that smaller), then one raw last block holding
    all the others, then the content checksum. Returns the frame and the offset of the last
    block's header in it."""
    obj = zstandard.ZstdCompressor(level=3, write_content_size=True,
                                   write_checksum=True).compressobj(size=len(raw))
    head = obj.compress(raw[:compressed * size]) + obj.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
    rest = raw[compressed * size:]
    block = (ZSTD_LAST_RAW_BLOCK | len(rest) << 3).to_bytes(ZSTD_BLOCK_HEADER, "little") + rest
    # the checksum covers the content, however it is cut into blocks: any frame of it has it
    checksum = zstandard.ZstdCompressor(write_checksum=True).compress(raw)[-4:]
    frame = head + block + checksum
    assert zstandard.ZstdDecompressor().decompress(frame) == raw
    return frame, len(head)


def _rawblock_truncated() -> tuple[bytes, np.ndarray]:
    """RGB, int8, rank 8; FACT 1's frame is a block of records 0-3 and a raw last block of
    records 4-7, and the file is cut in that raw block after 2.5 of its records.
    Section 7.1: channel 0 in full, channel 1 at rank 6 (the whole records the cut frame
    yields; a raw block is decoded as far as it goes), channel 2 zero. Reading r as the records
    of complete blocks would give rank 4."""
    whole_file = svdcodec.encode(_crop("RGB"), rank=8)
    container = fmt.unpack(whole_file, LIMITS)
    h, groups = container.header, list(container.groups)
    g1 = groups[1]
    size = fmt.record_size(g1.rows, g1.cols, h.factor_type)
    frame, raw_block = _raw_last_block(_zstd.decompress(g1.payload, g1.raw_size), size, 4)
    groups[1] = fmt.Group(g1.index, g1.rows, g1.cols, g1.rank, g1.raw_size, frame)
    whole = fmt.pack(h, groups, container.metadata)
    fact1 = [c for c in fmt.unpack(whole, LIMITS).chunks if c.type == "FACT"][1]
    cut = (fact1.offset + fmt.CHUNK_PREFIX.size + fmt.FACT.size + raw_block
           + ZSTD_BLOCK_HEADER + 2 * size + size // 2)
    full, at6, at4 = (svdcodec.decode(whole, rank=r) for r in (None, 6, 4))
    expected = np.zeros_like(full)
    expected[:, :, 0], expected[:, :, 1] = full[:, :, 0], at6[:, :, 1]
    assert not np.array_equal(at6[:, :, 1], at4[:, :, 1])  # the two readings differ
    return whole[:cut], expected


def _records(factor_type: fmt.FactorType, components: list[tuple[float, list[int], list[int]]]
             ) -> bytes:
    """Component records (section 5) of (sigma, u, v) with small integer u, v (int8: scales
    a = b = 1)."""
    out = b""
    for sigma, u, v in components:
        if factor_type == fmt.FactorType.FLOAT16:
            out += struct.pack("<f", sigma) + np.array(u + v, dtype="<f2").tobytes()
        else:
            out += struct.pack("<fff", sigma, 1.0, 1.0) + np.array(u + v, dtype="i1").tobytes()
    return out


def _half_even(width: int, height: int, mode: fmt.Mode, layout: fmt.Layout,
               factor_type: fmt.FactorType,
               components: list[tuple[float, list[int], list[int]]]) -> tuple[bytes, np.ndarray]:
    """A one-group file whose X̂ is exact in binary floating point and a half-integer in many
    places: section 7 rounds those half to even. The expected image is computed here in
    exact rational arithmetic, not by the decoder."""
    header = fmt.Header(width, height, mode, layout, factor_type)
    m, n = header.group_shape()
    assert header.group_count == 1 and all(len(u) == m and len(v) == n
                                           for _, u, v in components)
    raw = _records(factor_type, components)
    data = fmt.pack(header, [fmt.Group(0, m, n, len(components), len(raw), _zstd.compress(raw))])
    x = [[sum(Fraction(s) * u[i] * v[j] for s, u, v in components) for j in range(n)]
         for i in range(m)]
    assert any(value.denominator == 2 and round(value) % 2 == 0 for row in x for value in row)
    top = 2**header.bit_depth - 1
    matrix = np.array([[min(max(round(value), 0), top) for value in row] for row in x])
    channels = header.channels
    if layout == fmt.Layout.STACKED:  # section 6: X[y, c W + x] = sample[y, x, c]
        image = matrix.reshape(height, channels, width).transpose(0, 2, 1)
    else:
        image = matrix.reshape(height, width, channels)
    expected = image.astype(np.uint8 if header.bit_depth == 8 else np.uint16)
    return data, expected[:, :, 0] if channels == 1 else expected


def _l_float16_half_even() -> tuple[bytes, np.ndarray]:
    """L 16 x 8, float16, rank 2: X̂ = (2i+1)(2j+1)/2 ± 1/2 where j is a multiple of 3."""
    u0, v0 = [2 * i + 1 for i in range(8)], [2 * j + 1 for j in range(16)]
    u1, v1 = [2 if i % 2 == 0 else -2 for i in range(8)], [1 if j % 3 == 0 else 0
                                                           for j in range(16)]
    return _half_even(16, 8, fmt.Mode.L, fmt.Layout.PER_CHANNEL, fmt.FactorType.FLOAT16,
                      [(0.5, u0, v0), (0.25, u1, v1)])


def _rgb_int8_stacked_half_even() -> tuple[bytes, np.ndarray]:
    """RGB 8 x 6, stacked, int8, rank 1: X̂ = (2i+1)(2j+1)/2 (a few above 255 clip)."""
    return _half_even(8, 6, fmt.Mode.RGB, fmt.Layout.STACKED, fmt.FactorType.INT8,
                      [(0.5, [2 * i + 1 for i in range(6)], [2 * j + 1 for j in range(24)])])


def _patch_subsampled(sx: int, sy: int, quality: float) -> tuple[bytes, np.ndarray]:
    """The odd crop, patch layout, YCbCr with chroma subsampled by (sx, sy): the reference
    encoder subsamples both axes or neither, so its planes are made here one by one, as
    ``PatchEncoder.planes`` makes them."""
    image = _odd_crop()
    encoder = patchcodec.PatchEncoder(image, fmt.Mode.RGB, subsampling=1, entropy="zstd")
    step = patchcodec.quality_to_step(quality, 8)
    planes = []
    for index, source in enumerate(transform.rgb_to_ycbcr(image)):
        s = (sx, sy) if index in (1, 2) else (1, 1)
        plane = transform.downsample(source, *s) if index in (1, 2) else source
        enc = encode_plane(PlaneAnalysis(plane, patchcodec.PATCH_SIZE, 8),
                           step * (patchcodec.CHROMA_STEP if index in (1, 2) else 1.0))
        raw, ac_symbols, escapes = pack_payload(enc.coefficients)
        planes.append(fmt.Plane(index, patchcodec.PATCH_SIZE, *s, enc.coefficients.q.shape[1],
                                enc.shift, enc.deblock, enc.dc_multiplier, ac_symbols, escapes,
                                _zstd.compress(raw, patchcodec.LEVEL)))
    data = fmt.pack(encoder.header("zstd"), [], {}, planes)
    return data, svdcodec.decode(data)


def _patch_sub21() -> tuple[bytes, np.ndarray]:
    return _patch_subsampled(2, 1, 50)


def _patch_sub12() -> tuple[bytes, np.ndarray]:
    return _patch_subsampled(1, 2, 50)


def _padding_deblock() -> tuple[bytes, np.ndarray]:
    """L, patch 8x8: the 48 x 32 crop encoded at quality 50, its HEAD then saying 41 x 25 (the
    same patch grid, 6 x 4): the padding holds the rest of the photograph, and the last
    vertical and horizontal edges (x = 40, y = 24) have q1 in the padding. Section 12.6 filters
    the padded plane, so a decoder that crops or extends the plane first decodes otherwise."""
    container = fmt.unpack(svdcodec.encode(_crop("L"), quality=50), LIMITS)
    h = container.header
    header = fmt.Header(41, 25, h.mode, h.layout, h.factor_type, h.compression,
                        h.colour_transform)
    data = fmt.pack(header, [], {}, container.planes)
    assert container.planes[0].deblock[0] > 0
    expected = svdcodec.decode(data)
    assert not np.array_equal(expected, _decode_with_edge_padding(data))
    return data, expected


def _decode_with_edge_padding(data: bytes) -> np.ndarray:
    """The reference decode, but with the padding replaced by copies of the plane's edge
    samples before deblocking (a wrong reading of section 12.6)."""
    container = fmt.unpack(data, LIMITS)
    shapes = iter([pl.shape(container.header) for pl in container.planes])
    deblock = reconstruct.deblock

    def edge_padded(plane: np.ndarray, *args: int) -> None:
        rows, cols = next(shapes)
        plane[:] = np.pad(plane[:rows, :cols], ((0, plane.shape[0] - rows),
                                                (0, plane.shape[1] - cols)), mode="edge")
        deblock(plane, *args)

    reconstruct.deblock = edge_padded
    try:
        out = decode_planes_reference(container)
    finally:
        reconstruct.deblock = deblock
    return out[:, :, 0] if out.shape[2] == 1 else out


def _symbols(pl: fmt.Plane, h: fmt.Header) -> tuple[bytes, bytes]:
    """The DC and AC symbol bytes of a plane (section 12.3)."""
    raw = _zstd.decompress(pl.payload, pl.raw_size(h))
    gh, gw = pl.grid(h)
    unpack_payload(raw, k=pl.components, half=pl.patch_size // 2, gh=gh, gw=gw,
                   ac_symbols=pl.ac_symbols, escapes=pl.escapes)  # valid
    start = pl.components * (5 + (pl.patch_size // 2) ** 2)
    n = gh * gw
    return raw[start:start + n], raw[start + 2 * n:start + 2 * n + pl.ac_symbols]


def _check_escapes(data: bytes) -> None:
    """Escapes among both the DC and the AC symbols (section 12.3: DC ones first)."""
    container = fmt.unpack(data, LIMITS)
    dc, ac = _symbols(container.planes[0], container.header)
    assert dc.count(255) and ac.count(255)


def _check_deblock_16(data: bytes) -> None:
    """16-bit samples, deblocking on, with thresholds above 255, changing samples."""
    container = fmt.unpack(data, LIMITS)
    pl = container.planes[0]
    assert container.header.bit_depth == 16 and min(pl.deblock) > 255
    off = fmt.Plane(pl.index, pl.patch_size, pl.subsample_x, pl.subsample_y, pl.components,
                    pl.shift, (0, 0, 0), pl.dc_multiplier, pl.ac_symbols, pl.escapes,
                    pl.payload)
    undeblocked = svdcodec.decode(fmt.pack(container.header, [], {}, [off]))
    assert not np.array_equal(undeblocked, svdcodec.decode(data))


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
    "rgb-patch-q30": (lambda: _crop("RGB"), {"quality": 30, "entropy": "zstd"},
                      "RGB, patch 8x8, YCbCr 4:2:0, quality 30, deblocking"),
    "rgb-patch-odd-q50": (_odd_crop, {"quality": 50, "entropy": "zstd"},
                          "RGB 37x23, patch 8x8, YCbCr 4:2:0, quality 50 (padding, odd sizes)"),
    "rgba-patch-q85": (lambda: _crop("RGBA"), {"quality": 85, "entropy": "zstd"},
                       "RGBA, patch 8x8, YCbCr 4:4:4 and an alpha plane, quality 85"),
    "l-patch-p4-q60": (lambda: _crop("L"), {"quality": 60, "patch_size": 4, "entropy": "zstd"},
                       "L, patch 4x4, quality 60"),
    "la-patch-p16-q40": (lambda: _crop("LA"),
                         {"quality": 40, "patch_size": 16, "entropy": "zstd"},
                         "LA, patch 16x16, quality 40"),
    "i16-patch-q70": (_sixteen_bit, {"quality": 70, "entropy": "zstd"},
                      "I;16, patch 8x8, quality 70"),
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
    # added for issue 16 (what no vector exercised)
    "l-patch-q100-escapes": (lambda: _crop("L"), {"quality": 100, "entropy": "zstd"},
                             "L, patch 8x8, quality 100: escapes among the DC and the AC "
                             "symbols (section 12.3, DC escapes first)"),
    "i16-patch-q30-deblock": (_sixteen_bit, {"quality": 30, "entropy": "zstd"},
                              "I;16, patch 8x8, quality 30: deblocking at 16-bit depth, "
                              "thresholds above 255 (section 12.6)"),
    # mode 6, I;16S (spec section 15.1): coded as I;16 of sample + 32768
    "i16s-float16-rank4": (_signed_sixteen_bit, {"rank": 4, "factors": "float16"},
                           "I;16S (signed, CT-like, with -32768 and 32767), per-channel, "
                           "float16, rank 4"),
    "i16s-int8-rank6": (_signed_sixteen_bit, {"rank": 6},
                        "I;16S, per-channel, int8, rank 6"),
    "i16s-patch-q70": (_signed_sixteen_bit, {"quality": 70, "entropy": "zstd"},
                       "I;16S, patch 8x8, quality 70"),
    "i16s-patch-arith-q70": (_signed_sixteen_bit, {"quality": 70, "entropy": "arith"},
                             "I;16S, patch 8x8, quality 70, arith"),
    "i16s-patch-arith-q30": (_signed_sixteen_bit, {"quality": 30, "entropy": "arith"},
                             "I;16S, patch 8x8, quality 30, arith"),
}
# name -> a check that the encoder's file exercises what the vector claims
CHECKS: dict[str, Callable[[bytes], None]] = {
    "l-patch-q100-escapes": _check_escapes,
    "i16-patch-q30-deblock": _check_deblock_16,
}
# name -> (builder returning the file and its expected decode, description)
BUILT: dict[str, tuple[Callable[[], tuple[bytes, np.ndarray]], str]] = {
    "rgb-int8-rank8-rawblock-truncated": (
        _rawblock_truncated,
        "RGB, per-channel, int8, rank 8; FACT 1's frame ends in a raw block of 4 records, cut "
        "after 2.5 of them (section 7.1: channel 0 in full, channel 1 at rank 6, channel 2 "
        "zero; rank 4 would be the complete-blocks misreading)"),
    "rgb-patch-sub21-odd-q50": (
        _patch_sub21,
        "RGB 37x23, patch 8x8, YCbCr with chroma subsampled 2x1 (sx = 2, sy = 1), quality 50 "
        "(section 12.7, clamped at the odd right edge)"),
    "rgb-patch-sub12-odd-q50": (
        _patch_sub12,
        "RGB 37x23, patch 8x8, YCbCr with chroma subsampled 1x2 (sx = 1, sy = 2), quality 50 "
        "(section 12.7, clamped at the odd bottom edge)"),
    "l-patch-41x25-q50-padding": (
        _padding_deblock,
        "L 41x25, patch 8x8, deblocking; the padding holds image content and the last edges "
        "have q1 in the padding (section 12.6 filters the padded plane)"),
    "l-float16-rank2-half-even": (
        _l_float16_half_even,
        "L 16x8, per-channel, float16, rank 2, hand-made factors: X̂ exactly k + 0.5 in most "
        "samples, rounded half to even (section 7); expected image computed exactly"),
    "rgb-int8-stacked-rank1-half-even": (
        _rgb_int8_stacked_half_even,
        "RGB 8x6, stacked, int8, rank 1, hand-made factors: X̂ = (2i+1)(2j+1)/2, rounded half "
        "to even and clipped (section 7); expected image computed exactly"),
}


# --- image stacks (spec section 14): NAME.png holds the N frames one under another ----------
def _pan(mode: str, n: int, height: int, width: int) -> np.ndarray:
    """N frames of a slow pan over the Kodak photograph (2 rows, 3 columns per frame)."""
    with Image.open(demo_image()) as im:
        rgb = np.asarray(im.convert(mode))
    return np.stack([rgb[150 + 2 * k:150 + 2 * k + height, 250 + 3 * k:250 + 3 * k + width]
                     for k in range(n)])


# name -> (frames maker, encode_stack options, description)
STACKS = {
    "stack-frames-l-int8-rank3": (lambda: _pan("L", 3, 24, 32),
                                  {"coding": "frames", "rank": 3},
                                  "stack of 3 L 32x24 frames, coding frames (14.2), "
                                  "per-channel int8 rank 3 per frame"),
    "stack-frames-rgb-patch-q50": (lambda: _pan("RGB", 3, 24, 32),
                                   {"coding": "frames", "quality": 50},
                                   "stack of 3 RGB 32x24 frames, coding frames, patch "
                                   "YCbCr 4:2:0 arith per frame (plane indexes restart)"),
    "stack-tall-l-patch-odd-q50": (lambda: _pan("L", 4, 23, 37),
                                   {"coding": "tall", "quality": 50},
                                   "stack of 4 L 37x23 frames, coding tall (14.3): one patch "
                                   "image of 37x96, frame_pitch 24"),
    "stack-tall-rgb-patch-odd-q40": (lambda: _pan("RGB", 3, 23, 37),
                                     {"coding": "tall", "quality": 40},
                                     "stack of 3 RGB 37x23 frames, coding tall, YCbCr 4:2:0, "
                                     "frame_pitch 32 (2 x 8 for the chroma)"),
    "stack-snapshot-l-float16-rank4": (lambda: _pan("L", 5, 24, 32),
                                       {"coding": "snapshot", "rank": 4, "factors": "float16"},
                                       "stack of 5 L 32x24 frames, coding snapshot (layout 5, "
                                       "14.4): X of 768x5, float16, rank 4"),
    "stack-snapshot-rgb-odd-int8-rank3": (lambda: _pan("RGB", 4, 23, 37),
                                          {"coding": "snapshot", "rank": 3},
                                          "stack of 4 RGB 37x23 frames, coding snapshot: X of "
                                          "2553x4 (channel after channel), int8, rank 3"),
    # signed stacks (spec sections 14 and 15.1): every coding holds u = sample + 32768
    "i16s-stack-snapshot-float16-rank3": (lambda: _signed_frames(4),
                                          {"coding": "snapshot", "rank": 3,
                                           "factors": "float16"},
                                          "stack of 4 I;16S 32x24 frames, coding snapshot "
                                          "(layout 5 of u), float16, rank 3"),
    "i16s-stack-tall-patch-q60": (lambda: _signed_frames(3),
                                  {"coding": "tall", "quality": 60},
                                  "stack of 3 I;16S 32x24 frames, coding tall, patch 8x8, "
                                  "quality 60, arith"),
    # animations (spec section 16): the anim chunk after FRMS
    "anim-stack-tall-rgb-patch-q50": (lambda: _pan("RGB", 3, 24, 32),
                                      {"coding": "tall", "quality": 50,
                                       "durations": [100, 40, 0], "loop": 0},
                                      "animation of 3 RGB 32x24 frames, coding tall, patch: "
                                      "anim (section 16) with loop_count 0 (without end), "
                                      "durations 100, 40 and 0 ms"),
    "anim-stack-frames-l-int8-rank3-noloop": (lambda: _pan("L", 3, 24, 32),
                                              {"coding": "frames", "rank": 3,
                                               "durations": 70},
                                              "animation of 3 L 32x24 frames, coding frames, "
                                              "int8 rank 3: anim with loop_count 2^32 − 1 "
                                              "(LOOP_UNSET: none given), every frame 70 ms"),
}


def _signed_frames(n: int) -> np.ndarray:
    """N CT-like int16 frames: the signed slice of the i16s-* vectors, shifted a pixel and a
    little brighter per frame."""
    base = _signed_sixteen_bit().astype(np.int32)
    return np.stack([np.clip(np.roll(base, k, axis=1) + 25 * k, -32768, 32767)
                     for k in range(n)]).astype(np.int16)


def _stack_edit(coding: str, edit: str) -> bytes:
    """A small valid stack, then one thing made wrong (every CRC recomputed)."""
    data = svdcodec.encode_stack(_pan("L", 2, 8, 8), coding=coding, rank=1) \
        if coding == "snapshot" else svdcodec.encode_stack(_pan("L", 2, 8, 8), coding=coding)
    chunks = [(c.type, c.body) for c in walk(data)]
    count, pitch, code, flags, reserved = fmt.FRMS.unpack(chunks[1][1])
    if edit == "drop":
        del chunks[1]
    else:
        count = {"count1": 1, "huge": 2**32 - 1}[edit]
        chunks[1] = (fmt.ChunkType.FRMS, fmt.FRMS.pack(count, pitch, code, flags, reserved))
    return data[:fmt.PREFIX_SIZE] + b"".join(fmt.pack_chunk(t, b) for t, b in chunks)


def _anim_edit(edit: str) -> bytes:
    """A small valid file, then an anim chunk (section 16) that breaks one of its rules."""
    if edit == "single":  # rule 2: anim in a file without FRMS, right after HEAD
        data = svdcodec.encode(_pan("L", 1, 8, 8)[0], rank=1)
        anim = fmt.Anim(fmt.LOOP_FOREVER, (100,))
    else:  # a stack of 2 frames
        data = svdcodec.encode_stack(_pan("L", 2, 8, 8), coding="tall")
        anim = fmt.Anim(fmt.LOOP_FOREVER, (100, 100, 100) if edit == "count" else (100, 100))
    chunks = [(c.type, c.body) for c in walk(data)]
    at = 2 if edit != "single" else 1
    extra = [(fmt.ChunkType.ANIM, fmt.pack_anim(anim))] * (2 if edit == "duplicate" else 1)
    chunks[at:at] = extra
    return data[:fmt.PREFIX_SIZE] + b"".join(fmt.pack_chunk(t, b) for t, b in chunks)


# --- DICOM series (spec section 17): the dser chunk after FRMS -----------------------------
def _series_slices() -> list[bytes]:
    """3 slices of a synthetic unsigned CT series (pydicom), given out of order."""
    from svdcodec.integrations.dicom_series import synthetic_slice

    return [synthetic_slice(k, z=2.5 * k, size=(24, 32), signed=False) for k in (2, 0, 1)]


def _series_tall() -> bytes:
    from svdcodec.integrations.dicom_series import encode_series

    data = encode_series(_series_slices(), coding="tall", quality=60)
    headers = svdcodec.read_dicom_series(data)
    assert headers is not None and len(headers) == 3
    return data


def _series_bad_records() -> bytes:
    """A tall stack whose dser holds a valid zstd frame of records that overrun it: the
    frames decode; a reader of the headers rejects them (section 17.1)."""
    data = svdcodec.encode_stack(_pan("L", 3, 24, 32), coding="tall", quality=50)
    raw = b"".join(struct.pack("<I", n) + b"dicom" for n in (5, 5, 9))  # record 2: 9 of 5
    data = fmt.add_dser(data, fmt.pack_dser(3, len(raw), _zstd.compress(raw)))
    try:
        svdcodec.read_dicom_series(data)
    except svdcodec.CorruptError:
        return data
    raise AssertionError("the records were read")


# name -> (file maker, description, made by): stacks with dser, NAME.png as for STACKS
SERIES: dict[str, tuple[Callable[[], bytes], str, str]] = {
    "dser-stack-tall-i16-patch-q60": (
        _series_tall, "DICOM series of 3 I;16 32x24 slices (synthetic CT, pydicom), coding "
        "tall, patch quality 60: dser (section 17) with the 3 headers in slice order",
        "`encode_series([synthetic_slice(k, z=2.5 * k, size=(24, 32), signed=False) for k in "
        "(2, 0, 1)], coding='tall', quality=60)`"),
    "dser-stack-tall-l-patch-q50-bad-records": (
        _series_bad_records, "stack of 3 L 32x24 frames, coding tall, patch: a dser whose "
        "record 2 says 9 bytes where 5 are left; the frames decode, `read_dicom_series` "
        "raises `CorruptError` (section 17.1)", "`tools/make_vectors.py` "
        "`_series_bad_records`"),
}


def _dser_edit(edit: str) -> bytes:
    """A small valid file, then a dser chunk (section 17) that breaks one rule of 17.1."""
    if edit == "single":  # rule 1: dser in a file without FRMS, right after HEAD
        data, at, count = svdcodec.encode(_pan("L", 1, 8, 8)[0], rank=1), 1, 1
    else:  # a stack of 2 frames
        data, at, count = svdcodec.encode_stack(_pan("L", 2, 8, 8), coding="tall"), 2, 2
    raw = fmt.pack_records([b"header %d" % k for k in range(count)])
    body = fmt.pack_dser(3 if edit == "count" else count,
                         2**32 - 1 if edit == "huge" else len(raw), _zstd.compress(raw))
    extra = [(fmt.ChunkType.DSER, body)] * (2 if edit == "duplicate" else 1)
    if edit == "dicm":  # rule 2: dicm first, so dser is the second of the two
        extra.insert(0, (fmt.ChunkType.DICM, b"a DICOM header"))
    chunks = [(c.type, c.body) for c in walk(data)]
    chunks[at:at] = extra
    return data[:fmt.PREFIX_SIZE] + b"".join(fmt.pack_chunk(t, b) for t, b in chunks)


# name -> (file, description, [(decode options, error class name)]): files a decoder rejects
REJECTED: dict[str, tuple[bytes, str, list[tuple[str, str]]]] = {
    "signature-only": (fmt.SIGNATURE, "the 9-byte signature and nothing else (section 2)",
                       [("", "TruncatedError"), ("allow_truncated=True", "TruncatedError")]),
    "stack-frms-count1": (_stack_edit("tall", "count1"),
                          "a tall stack whose FRMS says frame_count 1 (section 14.1)",
                          [("", "CorruptError")]),
    "stack-huge-frame-count": (_stack_edit("frames", "huge"),
                               "a stack of 8x8 frames whose FRMS declares 2^32 − 1 of them: "
                               "refused when FRMS is read (section 14.5)",
                               [("", "LimitError"), ("frame=0", "LimitError")]),
    "stack-snapshot-without-frms": (_stack_edit("snapshot", "drop"),
                                    "layout 5 (snapshot) without its FRMS chunk (14.1 rule 1)",
                                    [("", "CorruptError")]),
    "anim-in-single-image": (_anim_edit("single"),
                             "a single image (no FRMS) holding an anim chunk (section 16, "
                             "rule 2)", [("", "CorruptError")]),
    "anim-count-mismatch": (_anim_edit("count"),
                            "a stack of 2 frames whose anim gives 3 durations (section 16, "
                            "rule 3)", [("", "CorruptError"), ("frame=0", "CorruptError")]),
    "anim-duplicate": (_anim_edit("duplicate"),
                       "a stack with two valid anim chunks (section 3, rule 6)",
                       [("", "CorruptError")]),
    "dser-in-single-image": (_dser_edit("single"),
                             "a single image (no FRMS) holding a dser chunk (section 17.1, "
                             "rule 1)", [("", "CorruptError")]),
    "dser-with-dicm": (_dser_edit("dicm"),
                       "a stack holding dicm, then dser (section 17.1, rule 2)",
                       [("", "CorruptError"), ("frame=0", "CorruptError")]),
    "dser-count-mismatch": (_dser_edit("count"),
                            "a stack of 2 frames whose dser says header_count 3 (section 17.1, "
                            "rule 4)", [("", "CorruptError")]),
    "dser-huge-raw-size": (_dser_edit("huge"),
                           "a stack whose dser declares 2^32 − 1 bytes of headers: refused "
                           "from the field, before the zstd frame (section 17.1, rule 6)",
                           [("", "LimitError"), ("frame=0", "LimitError")]),
    "dser-duplicate": (_dser_edit("duplicate"),
                       "a stack with two valid dser chunks (section 3, rule 6)",
                       [("", "CorruptError")]),
}


def _row(name: str, description: str, data: bytes, made_by: str) -> str:
    digest = hashlib.sha256(data).hexdigest()[:16]
    return f"| `{name}.svdi` | {description} | {len(data)} | `{digest}` | {made_by} |"


def _write_series(outdir: Path) -> list[str]:
    """The SERIES vectors not written yet, and their README rows."""
    rows = []
    for name, (make_series, description, made_by) in SERIES.items():
        if (outdir / f"{name}.svdi").exists():
            continue
        data = make_series()
        decoded = svdcodec.decode_stack(data)
        (outdir / f"{name}.svdi").write_bytes(data)
        expected_png(decoded.reshape(-1, *decoded.shape[2:])).save(outdir / f"{name}.png")
        rows.append(_row(name, description, data, made_by))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    args = parser.parse_args(argv)
    args.outdir.mkdir(parents=True, exist_ok=True)
    rows, rejected = [], []
    for name, (make, options, description) in VECTORS.items():
        if (args.outdir / f"{name}.svdi").exists():
            continue  # committed vectors are never regenerated (spec section 11)
        data = svdcodec.encode(make(), **options)
        if "metadata" in name:
            data = _with_unknown_ancillary(data)
        if "truncated" in name:
            data = _truncated_blockwise(data)
        if name in CHECKS:
            CHECKS[name](data)
        (args.outdir / f"{name}.svdi").write_bytes(data)
        image = svdcodec.decode(data, allow_truncated="truncated" in name)
        expected_png(image).save(args.outdir / f"{name}.png")
        call = ", ".join(f"{k}={v!r}" for k, v in options.items())
        rows.append(_row(name, description, data, f"`encode(image, {call})`"))
    for name, (build, description) in BUILT.items():
        if (args.outdir / f"{name}.svdi").exists():
            continue
        data, expected = build()
        decoded = svdcodec.decode(data, allow_truncated="truncated" in name)
        assert decoded.dtype == expected.dtype and np.array_equal(decoded, expected), name
        (args.outdir / f"{name}.svdi").write_bytes(data)
        expected_png(expected).save(args.outdir / f"{name}.png")
        rows.append(_row(name, description, data, f"`tools/make_vectors.py` `{build.__name__}`"))
    for name, (make_frames, options, description) in STACKS.items():
        if (args.outdir / f"{name}.svdi").exists():
            continue
        frames = make_frames()
        data = svdcodec.encode_stack(frames, **options)
        decoded = svdcodec.decode_stack(data)
        assert svdcodec.read_header(data).frames == len(frames) and \
            decoded.shape == frames.shape, name
        (args.outdir / f"{name}.svdi").write_bytes(data)
        expected_png(decoded.reshape(-1, *decoded.shape[2:])).save(args.outdir / f"{name}.png")
        call = ", ".join(f"{k}={v!r}" for k, v in options.items())
        rows.append(_row(name, description, data, f"`encode_stack(frames, {call})`"))
    rows += _write_series(args.outdir)
    for name, (data, description, calls) in REJECTED.items():
        if (args.outdir / f"{name}.svdi").exists():
            continue
        (args.outdir / f"{name}.svdi").write_bytes(data)
        rejected.append(_row(name, description, data, "`tools/make_vectors.py` `REJECTED`"))
        rejected += [f"| `{name}.svdi` | `{opts}` | `{error}` |" for opts, error in calls]
    print("\n".join(rows + rejected))
    return 0


if __name__ == "__main__":
    sys.exit(main())
