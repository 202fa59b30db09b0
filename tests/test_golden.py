"""The golden files of spec/vectors/ decode to their expected images (spec section 11)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import svdcodec

VECTORS = Path(__file__).resolve().parent.parent / "spec" / "vectors"
NAMES = sorted(p.stem for p in VECTORS.glob("*.svdi"))


def test_vectors_present() -> None:
    assert len(NAMES) >= 7


@pytest.mark.parametrize("name", NAMES)
def test_vector_decodes_to_expected(name: str) -> None:
    data = (VECTORS / f"{name}.svdi").read_bytes()
    with Image.open(VECTORS / f"{name}.png") as im:
        expected = np.asarray(im)
    if "truncated" in name:  # spec section 7.1
        with pytest.raises(svdcodec.TruncatedError):
            svdcodec.decode(data)
    decoded = svdcodec.decode(data, allow_truncated="truncated" in name)
    assert decoded.shape == expected.shape
    assert decoded.dtype == (np.uint16 if name.startswith("i16") else np.uint8)
    # spec section 7: conforming decoders may differ by 1 at rounding boundaries
    assert np.abs(decoded.astype(np.int32) - expected.astype(np.int32)).max() <= 1


def test_vector_metadata_and_unknown_ancillary_chunk() -> None:
    info = svdcodec.read_header(VECTORS / "rgb-metadata-rank3.svdi")
    assert "zzzz" in [c.type for c in info.chunks]  # present, skipped
    assert info.metadata["icc_profile"] == b"not a real ICC profile"
    assert info.metadata["exif"].startswith(b"II*\x00")  # the Exif\0\0 prefix was stripped
    assert info.metadata["xmp"].startswith(b"<x:xmpmeta")
    assert info.metadata["dpi"] == pytest.approx((300, 300), abs=0.02)


@pytest.mark.parametrize("name", NAMES)
def test_vector_header_matches_name(name: str) -> None:
    info = svdcodec.read_header(VECTORS / f"{name}.svdi", allow_truncated="truncated" in name)
    if info.layout == "patch":  # spec section 12: named by layout and quality, not rank
        assert "patch" in name and info.factors == "coefficients"
        return
    assert info.factors in name or (info.factors == "int8" and "float16" not in name)
    assert f"rank{info.ranks[0]}" in name
