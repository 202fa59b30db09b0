"""svdi as a numcodecs codec (svdcodec.integrations.numcodecs), and in zarr v2 stores."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

numcodecs = pytest.importorskip("numcodecs")
zarr = pytest.importorskip("zarr")

from svdcodec import CorruptError, decode, encode  # noqa: E402
from svdcodec.integrations.numcodecs import Svdi  # noqa: E402
from svdcodec.metrics import psnr  # noqa: E402

# shape, chunks (neither divides the shape), dtype: as in test_zarr.py
CASES = {
    "rgb8": ((70, 90, 3), (32, 40, 3), "uint8"),
    "grey8": ((50, 75), (32, 32), "uint8"),
    "grey16": ((45, 61), (20, 24), "uint16"),
}


def photo(shape: tuple[int, ...], dtype: str, seed: int = 0) -> np.ndarray:
    """Smooth gradients plus noise, per channel."""
    rng = np.random.default_rng(seed)
    top = np.iinfo(dtype).max
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    base = (np.sin(xx / 9.0) + np.cos(yy / 13.0) + 2) / 4 * top * 0.8
    image = base[..., None] if len(shape) == 2 else base[..., None] * np.linspace(
        0.6, 1, shape[2])
    image = image + rng.normal(0, top / 40, image.shape)
    return np.clip(image, 0, top).astype(dtype).reshape(shape)


def test_get_codec_finds_it_by_entry_point_in_a_fresh_process() -> None:
    script = ("import sys, numcodecs\n"
              "codec = numcodecs.get_codec({'id': 'svdi', 'quality': 30})\n"
              "print(type(codec).__module__, codec.get_config())\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True, timeout=120)
    assert result.stdout.split(" ", 1) == ["svdcodec.integrations.numcodecs",
                                           "{'id': 'svdi', 'quality': 30}\n"]


def test_config_round_trips() -> None:
    codec = Svdi(target_psnr=38.5, layout="patch", level=9)
    config = json.loads(json.dumps(codec.get_config()))
    assert config == {"id": "svdi", "target_psnr": 38.5, "layout": "patch", "level": 9}
    assert Svdi.from_config(config).get_config() == config
    assert numcodecs.get_codec(config).get_config() == config
    assert repr(codec) == "Svdi(target_psnr=38.5, layout='patch', level=9)"


@pytest.mark.parametrize("name", CASES)
def test_encode_gives_an_svdi_file_and_decode_the_image(name: str) -> None:
    shape, _, dtype = CASES[name]
    image = photo(shape, dtype)
    codec = Svdi(quality=90)
    data = codec.encode(image)
    assert decode(data).shape == image.shape
    back = codec.decode(data)
    assert back.shape == image.shape and back.dtype == image.dtype
    assert psnr(image, back) > 35
    out = np.empty(image.size, image.dtype)  # as zarr v2 passes a flat buffer
    assert codec.decode(np.frombuffer(data, np.uint8), out=out) is out
    np.testing.assert_array_equal(out.reshape(image.shape), back)


@pytest.mark.parametrize(("buf", "error", "match"), [
    (b"\x00" * 64, TypeError, "numpy arrays"),
    (np.zeros(64, np.uint8), ValueError, r"\(y, x\) or \(y, x, c\)"),
    (np.zeros((8, 8), np.float64), TypeError, "uint8 or uint16"),
    (np.zeros((8, 8, 3), np.uint16), ValueError, r"\[1\] channel"),
])
def test_encode_refuses_what_is_not_an_image(buf: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        Svdi().encode(buf)


def test_bad_options_fail_when_the_codec_is_made() -> None:
    with pytest.raises(TypeError, match="unknown svdi codec option 'id'"):
        Svdi(id="svdi")


@pytest.mark.parametrize("name", CASES)
def test_zarr_v2_round_trip_reopened_in_a_fresh_process(name: str, tmp_path: Path) -> None:
    shape, chunks, dtype = CASES[name]
    image = photo(shape, dtype)
    path = tmp_path / f"{name}.zarr"
    z = zarr.create_array(store=path, shape=shape, chunks=chunks, dtype=dtype, zarr_format=2,
                          compressors=Svdi(quality=90), filters=None)
    z[:] = image
    meta = json.loads((path / ".zarray").read_text())
    assert meta["compressor"] == {"id": "svdi", "quality": 90}
    edge = path / ".".join(str(-(-s // c) - 1) for s, c in zip(shape, chunks, strict=True))
    assert decode(edge.read_bytes()).shape[:2] == chunks[:2]  # a full chunk, padded
    script = ("import sys, numpy as np, zarr\n"
              "assert 'svdcodec' not in sys.modules\n"
              "np.save(sys.argv[2], zarr.open_array(sys.argv[1], mode='r')[:])\n")
    subprocess.run([sys.executable, "-c", script, str(path), str(tmp_path / "back.npy")],
                   check=True, timeout=120)
    back = np.load(tmp_path / "back.npy")
    assert back.shape == image.shape and back.dtype == image.dtype
    assert psnr(image, back) > 35


def test_big_endian_uint16_is_refused_rather_than_read_back_byte_swapped() -> None:
    """numcodecs' decode gets bytes only, and zarr v2 views what it returns as the array's
    dtype: a '>u2' chunk came back with its bytes swapped (errors up to 59 000). The codec
    refuses to encode what it cannot give back, naming the way that works."""
    image = photo((10, 11), "uint16").astype(">u2")
    with pytest.raises(TypeError, match="byte order"):
        Svdi(quality=90).encode(image)
    z = zarr.create_array(store={}, shape=image.shape, chunks=(4, 7), dtype=">u2",
                          zarr_format=2, compressors=Svdi(quality=90), filters=None)
    with pytest.raises(TypeError, match="byte order"):
        z[:] = image
    native = image.astype(np.uint16)  # what the codec decodes to: native-order uint16
    assert psnr(native, Svdi(quality=90).decode(Svdi(quality=90).encode(native))) > 35


def test_decode_into_out_checks_the_chunk_it_fills() -> None:
    """With ``out`` the codec knows the chunk: another size or sample type is CorruptError,
    not numpy's reshape ValueError nor a silent reshape of a 2x8 image into 4x4."""
    codec = Svdi(quality=90)
    wide = encode(np.full((4, 4), 1000, np.uint16), quality=100)
    with pytest.raises(CorruptError, match="uint16 image, expected uint8"):
        codec.decode(wide, out=np.zeros((4, 4), np.uint8))
    with pytest.raises(CorruptError, match="expected the chunk shape"):
        codec.decode(encode(np.full((2, 8), 1, np.uint8)), out=np.zeros((4, 4), np.uint8))
    out = np.zeros((4, 4), np.uint16)
    codec.decode(wide, out=out)
    assert np.abs(out.astype(int) - 1000).max() <= 16
    flat = np.zeros(16, np.uint16)  # a flat buffer of the right size is filled in order
    codec.decode(wide, out=flat)
    assert np.array_equal(flat, out.reshape(-1))


@pytest.mark.parametrize("entropy", ["zstd", "arith"])
def test_the_entropy_option_reaches_the_chunks(entropy: str) -> None:
    """Chunk codecs take the payload choice of svdcodec.encode (compression 1 or 2)."""
    from svdcodec import read_header
    from svdcodec.integrations.zarr import SvdiCodec
    image = photo((40, 48), "uint8")
    expected = encode(image, quality=60, layout="patch", entropy=entropy)
    codec = Svdi(quality=60, layout="patch", entropy=entropy)
    assert codec.encode(image) == expected
    assert read_header(codec.encode(image)).compression == entropy
    assert Svdi.from_config(json.loads(json.dumps(codec.get_config()))).encode(image) == expected
    z = zarr.create_array(store={}, shape=image.shape, chunks=image.shape, dtype="uint8",
                          serializer=SvdiCodec(quality=60, layout="patch", entropy=entropy),
                          compressors=None)
    z[:] = image
    assert np.array_equal(z[:], decode(expected))


def test_an_unknown_entropy_fails_when_the_array_is_created() -> None:
    from svdcodec.integrations.zarr import SvdiCodec
    with pytest.raises(ValueError, match="entropy"):
        zarr.create_array(store={}, shape=(16, 16), chunks=(16, 16), dtype="uint8",
                          serializer=SvdiCodec(entropy="huffman"), compressors=None)


@pytest.mark.parametrize("name", CASES)
def test_fortran_order_is_refused_rather_than_read_back_scrambled(name: str) -> None:
    """zarr v2 hands a Fortran-order array (``order="F"``) to the compressor and reads what
    decode returns as bytes in that order; decode gets bytes only and returns C order, so
    every chunk came back scrambled (errors up to 255). The codec refuses to encode what it
    cannot give back, naming the ways that work."""
    shape, chunks, dtype = CASES[name]
    image = photo(shape, dtype)
    with pytest.raises(TypeError, match="order"):
        Svdi(quality=90).encode(np.asfortranarray(image))
    z = zarr.create_array(store={}, shape=shape, chunks=chunks, dtype=dtype, zarr_format=2,
                          compressors=Svdi(quality=90), filters=None, order="F")
    with pytest.raises(TypeError, match="order"):
        z[:] = image
    c_order = zarr.create_array(store={}, shape=shape, chunks=chunks, dtype=dtype,
                                zarr_format=2, compressors=Svdi(quality=90), filters=None)
    c_order[:] = image
    assert psnr(image, c_order[:]) > 35


@settings(deadline=None, max_examples=25)
@given(rows=st.integers(1, 12), cols=st.integers(1, 12), channels=st.sampled_from([0, 1, 3]),
       fortran=st.booleans())
def test_a_chunk_the_codec_encodes_decodes_to_the_same_bytes(rows: int, cols: int,
                                                             channels: int,
                                                             fortran: bool) -> None:
    """What zarr v2 relies on: the bytes decode returns, read in the memory order of the array
    encode was given, are the image (within the codec's loss); an order for which that cannot
    hold is refused (a one-row or one-column chunk is both C and Fortran order)."""
    shape = (rows, cols) if channels == 0 else (rows, cols, channels)
    image = photo(shape, "uint8")
    given = np.asfortranarray(image) if fortran else image
    codec = Svdi(quality=100)
    try:
        data = codec.encode(given)
    except TypeError as exc:
        assert "order" in str(exc) and not given.flags.c_contiguous
        return
    flat = np.asarray(codec.decode(data)).reshape(-1, order="A")
    order = "F" if given.flags.f_contiguous and not given.flags.c_contiguous else "C"
    back = flat.reshape(shape, order=order)
    assert np.abs(back.astype(int) - image.astype(int)).max() <= 8


@pytest.mark.parametrize("out", [np.zeros(10, np.uint8), np.zeros(13, np.uint8),
                                 bytearray(10), memoryview(bytearray(16))])
def test_decode_into_a_flat_out_of_another_size_is_corrupt_error(out: object) -> None:
    """A flat ``out`` (as zarr v2 passes) that the file's image does not fill exactly:
    CorruptError naming both sizes; it was numpy's 'cannot reshape array of size 12 into
    shape (10,)', unlike an image-shaped ``out`` of another shape."""
    data = encode(np.full((3, 4), 9, np.uint8), quality=100)
    with pytest.raises(CorruptError, match="12 bytes"):
        Svdi().decode(data, out=out)
