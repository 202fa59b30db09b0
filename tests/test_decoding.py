"""svdcodec.decoding: verify(), the reduced decode and open_svdi() that the Pillow plugin uses."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

import svdcodec
from svdcodec import codec


def _image(h: int = 37, w: int = 29, c: int = 3) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    base = (40 + 2 * x + 2 * y + (x * y) % 17).astype(np.uint8)  # no clipping at low rank
    return np.dstack([base, base[::-1], (base // 2 + 40).astype(np.uint8)])[:, :, :c]


def _block_mean(a: np.ndarray, s: int) -> np.ndarray:
    h, w = a.shape[:2]
    out = np.empty((-(-h // s), -(-w // s), *a.shape[2:]))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = a[i * s:(i + 1) * s, j * s:(j + 1) * s].astype(np.float64).mean((0, 1))
    return out


@pytest.mark.parametrize("options", [{"quality": 60}, {"rank": 6},
                                     {"rank": 6, "layout": "stacked"},
                                     {"rank": 6, "layout": "stacked-vertical"}])
@pytest.mark.parametrize("scale", [2, 3, 8])
def test_reduce_gives_block_means_of_the_full_decode(options: dict, scale: int) -> None:
    data = svdcodec.encode(_image(), **options)
    full = svdcodec.decode(data)
    small = svdcodec.decode(data, reduce=scale)
    expected = _block_mean(full, scale)
    assert small.shape == expected.shape and small.dtype == full.dtype
    # the patch layout averages its decode; the whole-image layouts average U and Vᵀ first,
    # which differs from the mean of the rounded samples by less than one step
    tolerance = 0.5 if "quality" in options else 1.0
    assert np.abs(small - expected).max() <= tolerance


@pytest.mark.parametrize("reduce", [0, -1, 1.5, True, "2"])
def test_reduce_must_be_a_positive_int(reduce: object) -> None:
    with pytest.raises(ValueError, match="reduce"):
        svdcodec.decode(svdcodec.encode(_image(), rank=2), reduce=reduce)  # type: ignore[arg-type]


@pytest.mark.parametrize("options", [{"quality": 40}, {"rank": 4}])
def test_verify_accepts_a_sound_file_and_refuses_a_damaged_one(options: dict) -> None:
    data = svdcodec.encode(_image(64, 48), **options)
    svdcodec.verify(data)
    info = svdcodec.read_header(data)
    # damage inside the compressed payload of the first factor/plane chunk, CRC recomputed:
    # only decompression or record validation can find it
    chunk = next(c for c in info.chunks if c.type in ("FACT", "PTCH"))
    end = chunk.offset + chunk.size - 4  # the CRC follows the body
    damaged = bytearray(data)
    for i in range(end - 8, end - 2):
        damaged[i] ^= 0x5A
    damaged[end:end + 4] = struct.pack("<I", zlib.crc32(bytes(damaged[chunk.offset + 4:end])))
    with pytest.raises(svdcodec.SvdiError):
        svdcodec.verify(bytes(damaged))


def test_open_svdi_defers_damage_after_head() -> None:
    data = svdcodec.encode(_image(), rank=3)
    opened = codec.open_svdi(data[:-30])
    assert isinstance(opened.error, svdcodec.TruncatedError)
    assert opened.info.size == (29, 37)
    with pytest.raises(svdcodec.TruncatedError):
        opened.decode()
    assert opened.decode(allow_truncated=True).shape == (37, 29, 3)
    with pytest.raises(svdcodec.SvdiError):
        codec.open_svdi(b"not an svdi file at all")


def test_open_svdi_check_size_false_defers_the_size_limit() -> None:
    data = svdcodec.encode(_image(), rank=2)
    small = svdcodec.Limits(max_pixels=100)
    with pytest.raises(svdcodec.LimitError):
        codec.open_svdi(data, limits=small)
    opened = codec.open_svdi(data, limits=small, check_size=False)
    with pytest.raises(svdcodec.LimitError):
        opened.decode(limits=small)
    assert opened.decode().shape == (37, 29, 3)
