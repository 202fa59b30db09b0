"""Tests for svdcodec.teach.peers: the Pillow reference codecs and PSNR matching."""

from __future__ import annotations

import ast
import io
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from svdcodec.metrics import psnr
from svdcodec.teach import peers as peers
from svdcodec.teach.peers import (
    PEERS,
    QUALITY_RANGE,
    CodecUnavailableError,
    PeerPoint,
    available,
    decode_peer,
    encode_peer,
    match_psnr,
    sweep,
)

LOSSY = ("jpeg", "webp", "avif")
SHAPES = {"L": (40, 56), "LA": (40, 56, 2), "RGB": (40, 56, 3), "RGBA": (40, 56, 4)}


def make_image(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Smooth gradient plus noise, uint8, with a fixed seed.

    Most of the noise is shared by all channels (luminance texture, as in photographs); a
    little is per channel. Purely per-channel noise would be chroma that 4:2:0 codecs cannot
    keep at any quality.
    """
    rng = np.random.default_rng(seed)
    h, w = shape[:2]
    i = np.linspace(0.0, 1.0, h)[:, None]
    j = np.linspace(0.0, 1.0, w)[None, :]
    base = 40.0 + 120.0 * i * (1.0 - j) + 70.0 * j + rng.normal(0.0, 6.0, (h, w))
    if len(shape) == 3:
        base = base[..., None] + 25.0 * np.arange(shape[2])
    return np.clip(base + rng.normal(0.0, 1.5, shape), 0, 255).astype(np.uint8)


def need(codec: str) -> None:
    if not available(codec):
        pytest.skip(f"Pillow built without {codec}")


# Every codec with every layout, except JPEG with alpha (refused; tested below).
ROUND_TRIPS = [
    (codec, mode)
    for codec in PEERS
    for mode in sorted(SHAPES)
    if not (codec == "jpeg" and mode in ("LA", "RGBA"))
]


@pytest.mark.parametrize(("codec", "mode"), ROUND_TRIPS)
def test_round_trip_shape(codec: str, mode: str) -> None:
    need(codec)
    image = make_image(SHAPES[mode])
    data = encode_peer(image, codec, 90)
    decoded = decode_peer(data, channels=1 if image.ndim == 2 else image.shape[2])
    assert decoded.shape == image.shape
    assert decoded.dtype == np.uint8
    # Lossy at q90 on a smooth image: close, not exact.
    assert psnr(image, decoded) > 30.0


@pytest.mark.parametrize("mode", sorted(SHAPES))
def test_png_is_lossless(mode: str) -> None:
    image = make_image(SHAPES[mode], seed=3)
    decoded = decode_peer(encode_peer(image, "png"))
    np.testing.assert_array_equal(decoded, image)


@settings(deadline=None, max_examples=25, database=None)
@given(
    image=hnp.arrays(
        np.uint8,
        st.one_of(
            st.tuples(st.integers(1, 12), st.integers(1, 12)),
            st.tuples(st.integers(1, 12), st.integers(1, 12), st.integers(2, 4)),
        ),
    )
)
def test_png_lossless_any_image(image: np.ndarray) -> None:
    np.testing.assert_array_equal(decode_peer(encode_peer(image, "png")), image)


def test_png_ignores_quality() -> None:
    image = make_image(SHAPES["RGB"])
    assert encode_peer(image, "png", 5) == encode_peer(image, "png")


def test_decode_without_channels_returns_stored_mode() -> None:
    need("webp")
    grey = make_image(SHAPES["L"])
    assert decode_peer(encode_peer(grey, "webp", 80)).shape == (*grey.shape, 3)
    assert decode_peer(encode_peer(grey, "jpeg", 80)).shape == grey.shape


@pytest.mark.parametrize("mode", ["LA", "RGBA"])
def test_jpeg_refuses_alpha(mode: str) -> None:
    with pytest.raises(ValueError, match="JPEG has no alpha"):
        encode_peer(make_image(SHAPES[mode]), "jpeg", 50)


@pytest.mark.parametrize("codec", LOSSY)
def test_quality_out_of_range(codec: str) -> None:
    need(codec)
    lo, hi = QUALITY_RANGE[codec]
    image = make_image(SHAPES["RGB"])
    for bad in (lo - 1, hi + 1):
        with pytest.raises(ValueError, match=f"expected {codec} quality in {lo}..{hi}"):
            encode_peer(image, codec, bad)
    with pytest.raises(TypeError, match="integer quality"):
        encode_peer(image, codec, 50.0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("image", "error"),
    [
        (np.zeros((8, 8), np.uint16), TypeError),
        (np.zeros((8, 8), np.float64), TypeError),
        ([[0, 1], [2, 3]], TypeError),
        (np.zeros((8, 8, 1), np.uint8), ValueError),
        (np.zeros((8, 8, 5), np.uint8), ValueError),
        (np.zeros((8,), np.uint8), ValueError),
        (np.zeros((0, 8, 3), np.uint8), ValueError),
    ],
)
def test_bad_image(image: np.ndarray, error: type[Exception]) -> None:
    with pytest.raises(error, match="expected"):
        encode_peer(image, "png")


def test_bad_codec_name() -> None:
    image = make_image(SHAPES["RGB"])
    with pytest.raises(ValueError, match=r"expected a codec in \('png', 'jpeg', 'webp', 'avif'\)"):
        available("gif")
    with pytest.raises(ValueError, match="got 'JPEG'"):
        encode_peer(image, "JPEG")
    with pytest.raises(ValueError, match="expected a codec"):
        match_psnr(image, "jpeg2000", 30.0)
    with pytest.raises(ValueError, match="expected a codec"):
        sweep(image, "bmp", [50])


def test_unavailable_codec(monkeypatch: pytest.MonkeyPatch) -> None:
    # Simulate a Pillow built without libavif.
    real_check = peers.features.check
    monkeypatch.setattr(peers.features, "check", lambda name: name != "avif" and real_check(name))
    assert available("avif") is False
    assert available("png") is True
    image = make_image(SHAPES["RGB"])
    with pytest.raises(CodecUnavailableError, match="no avif support"):
        encode_peer(image, "avif", 50)
    with pytest.raises(CodecUnavailableError):
        match_psnr(image, "avif", 30.0)


def test_available_known_codecs() -> None:
    assert available("png")
    assert available("jpeg")
    assert all(isinstance(available(c), bool) for c in PEERS)


def test_decode_garbage() -> None:
    with pytest.raises(ValueError, match="cannot decode"):
        decode_peer(b"not an image at all")
    with pytest.raises(ValueError, match="channels"):
        decode_peer(b"", channels=5)


def test_decode_refuses_other_formats() -> None:
    buf = io.BytesIO()
    Image.fromarray(make_image(SHAPES["RGB"])).save(buf, "BMP")
    with pytest.raises(ValueError, match="got BMP"):
        decode_peer(buf.getvalue())


@pytest.mark.parametrize("codec", PEERS)
def test_sweep(codec: str) -> None:
    need(codec)
    image = make_image(SHAPES["RGB"], seed=1)
    qualities = [10, 50, 90]
    points = sweep(image, codec, qualities)
    assert len(points) == 3
    h, w = image.shape[:2]
    for q, p in zip(qualities, points, strict=True):
        assert p.codec == codec
        assert p.quality == (None if codec == "png" else q)
        assert p.nbytes == len(encode_peer(image, codec, q))
        assert p.bpp == pytest.approx(8 * p.nbytes / (h * w))
        assert p.reached
    if codec == "png":
        assert all(p.psnr == math.inf for p in points)
    else:
        assert points[0].psnr < points[2].psnr
        assert points[0].nbytes < points[2].nbytes


def test_peer_point_is_frozen() -> None:
    p = PeerPoint("jpeg", 50, 100, 30.0, 1.0)
    with pytest.raises(AttributeError):
        p.quality = 60  # type: ignore[misc]


@pytest.mark.parametrize("target", [33.0, 38.0])
@pytest.mark.parametrize("codec", LOSSY)
def test_match_psnr(codec: str, target: float) -> None:
    need(codec)
    image = make_image(SHAPES["RGB"], seed=2)
    p = match_psnr(image, codec, target)
    assert p.reached
    assert p.psnr >= target
    assert p.codec == codec
    assert p.quality is not None
    lo = QUALITY_RANGE[codec][0]
    if p.quality > lo:
        (below,) = sweep(image, codec, [p.quality - 1])
        assert below.psnr < target or below.nbytes > p.nbytes
    # The point is what a plain encode at that quality gives.
    assert p.nbytes == len(encode_peer(image, codec, p.quality))


def test_match_psnr_grey_image() -> None:
    need("webp")
    image = make_image(SHAPES["L"], seed=4)
    p = match_psnr(image, "webp", 33.0)
    assert p.reached
    assert p.psnr >= 33.0


@pytest.mark.parametrize("codec", LOSSY)
def test_match_psnr_unreachable(codec: str) -> None:
    need(codec)
    image = make_image(SHAPES["RGB"], seed=2)
    p = match_psnr(image, codec, 200.0)
    assert not p.reached
    assert p.quality == QUALITY_RANGE[codec][1]
    assert p.psnr < 200.0


@pytest.mark.parametrize("codec", LOSSY)
def test_match_psnr_trivial_target(codec: str) -> None:
    need(codec)
    p = match_psnr(make_image(SHAPES["RGB"]), codec, 0.0)
    assert p.reached
    assert p.quality == QUALITY_RANGE[codec][0]


def test_match_psnr_png() -> None:
    p = match_psnr(make_image(SHAPES["RGBA"]), "png", 60.0)
    assert p == PeerPoint("png", None, p.nbytes, math.inf, p.bpp, True)


def test_match_psnr_nan_target() -> None:
    with pytest.raises(ValueError, match="nan"):
        match_psnr(make_image(SHAPES["RGB"]), "jpeg", math.nan)


def test_peers_imports_only_metrics_of_svdcodec() -> None:
    tree = ast.parse(Path(peers.__file__).read_text())
    local = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level]
    absolute = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            absolute.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level:
            absolute.add(node.module.split(".")[0])
    assert local == ["metrics"]
    assert absolute <= {"__future__", "io", "math", "collections", "dataclasses", "numpy", "PIL"}
