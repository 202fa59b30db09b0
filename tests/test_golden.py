"""The golden files of spec/vectors/ decode to their expected images (spec section 11).

``spec/vectors/README.md`` is the list: every file it names must be present, with the size and
digest it gives, and every ``.svdi`` in the folder must be named there. Files of its first table
decode to ``NAME.png``; those of "Files a decoder must reject" raise the error it gives.
"""

from __future__ import annotations

import ast
import hashlib
import re
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import svdcodec
from svdcodec import _zstd
from svdcodec import format as fmt
from svdcodec.patch.reference import decode_planes_reference

VECTORS = Path(__file__).resolve().parent.parent / "spec" / "vectors"
REJECT_HEADING = "## Files a decoder must reject"


def _table_rows(text: str) -> list[list[str]]:
    """The cells of every table row naming a `.svdi` file in its first column (``\\|`` is a
    pipe inside a cell)."""
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        if line.startswith("| `") and cells[0].endswith(".svdi`"):
            rows.append([c.strip("`") for c in cells])
    return rows


def _readme() -> tuple[dict[str, tuple[int, str]], dict[str, tuple[int, str]],
                       list[tuple[str, str, str]]]:
    """(decodable files, rejected files) as name -> (bytes, sha256 prefix), and the expected
    errors as (file, decode options, error class name)."""
    decodable, _, rejected = (VECTORS / "README.md").read_text().partition(REJECT_HEADING)
    good = {r[0][:-5]: (int(r[2]), r[3]) for r in _table_rows(decodable)}
    bad = {r[0][:-5]: (int(r[2]), r[3]) for r in _table_rows(rejected) if len(r) == 5}
    errors = [(r[0][:-5], r[1], r[2]) for r in _table_rows(rejected) if len(r) == 3]
    return good, bad, errors


DECODABLE, REJECTED, ERRORS = _readme()
LISTED = {**DECODABLE, **REJECTED}


STACKS = sorted(n for n in DECODABLE if "stack-" in n)  # spec section 14 (i16s-stack-*: 15.1)
SINGLE = sorted(n for n in DECODABLE if "stack-" not in n)


def _is_exact(name: str, data: bytes) -> bool:
    """Spec section 11: layout 4 and the exact-half vectors decode exactly, others within 1."""
    layout = fmt.unpack_head(data, svdcodec.Limits()).layout
    return layout == fmt.Layout.PATCH or name.endswith("-half-even")


def _options(text: str) -> dict[str, Any]:
    """`rank=0, allow_truncated=True` -> keyword arguments."""
    call = ast.parse(f"f({text})", mode="eval").body
    assert isinstance(call, ast.Call)
    return {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg}


def test_vectors_present() -> None:
    on_disk = {p.stem for p in VECTORS.glob("*.svdi")}
    assert on_disk == set(LISTED)  # nothing missing, nothing unlisted
    assert len(DECODABLE) >= 22 and REJECTED and ERRORS
    assert all((VECTORS / f"{name}.png").is_file() for name in DECODABLE)
    assert {name for name, _, _ in ERRORS} <= set(LISTED)


@pytest.mark.parametrize("name", sorted(LISTED))
def test_vector_bytes_match_the_readme(name: str) -> None:
    """Vectors are never regenerated: their sizes and digests are those listed."""
    data = (VECTORS / f"{name}.svdi").read_bytes()
    assert (len(data), hashlib.sha256(data).hexdigest()[:16]) == LISTED[name]


def _expected(name: str) -> np.ndarray:
    """NAME.png as the decoded array: for I;16S (``i16s-*``) the PNG holds u = sample + 32768
    (spec section 15.1), turned back into int16 here."""
    with Image.open(VECTORS / f"{name}.png") as im:
        expected = np.asarray(im)
    if name.startswith("i16s-"):
        return (expected.astype(np.int32) - fmt.SIGNED_OFFSET).astype(np.int16)
    return expected


@pytest.mark.parametrize("name", SINGLE)
def test_vector_decodes_to_expected(name: str) -> None:
    data = (VECTORS / f"{name}.svdi").read_bytes()
    expected = _expected(name)
    if "truncated" in name:  # spec section 7.1
        with pytest.raises(svdcodec.TruncatedError):
            svdcodec.decode(data)
    decoded = svdcodec.decode(data, allow_truncated="truncated" in name)
    assert decoded.shape == expected.shape
    dtypes = {"i16s-": np.int16, "i16-": np.uint16}
    assert decoded.dtype == next((t for p, t in dtypes.items() if name.startswith(p)), np.uint8)
    if _is_exact(name, data):
        np.testing.assert_array_equal(decoded, expected)
    else:  # spec section 7: conforming decoders may differ by 1 at rounding boundaries
        assert np.abs(decoded.astype(np.int32) - expected.astype(np.int32)).max() <= 1


@pytest.mark.parametrize("name", sorted(n for n in SINGLE if "patch" in n))
def test_patch_vector_reference_decoder_is_exact(name: str) -> None:
    """Section 12: integer decoding, so the numpy reference matches as exactly as the C one."""
    data = (VECTORS / f"{name}.svdi").read_bytes()
    with Image.open(VECTORS / f"{name}.png") as im:
        expected = np.asarray(im)
    out = decode_planes_reference(fmt.unpack(data, svdcodec.Limits()))
    np.testing.assert_array_equal(out[:, :, 0] if out.shape[2] == 1 else out, expected)


@pytest.mark.parametrize(("name", "options", "error"), ERRORS)
def test_vector_is_rejected(name: str, options: str, error: str) -> None:
    data = (VECTORS / f"{name}.svdi").read_bytes()
    cls = ValueError if error == "ValueError" else getattr(svdcodec, error)
    with pytest.raises(cls) as info:
        svdcodec.decode(data, **_options(options))
    if cls is ValueError:  # a caller's mistake, not a bad file (spec sections 7, 9)
        assert not isinstance(info.value, svdcodec.SvdiError)


def test_vector_metadata_and_unknown_ancillary_chunk() -> None:
    info = svdcodec.read_header(VECTORS / "rgb-metadata-rank3.svdi")
    assert "zzzz" in [c.type for c in info.chunks]  # present, skipped
    assert info.metadata["icc_profile"] == b"not a real ICC profile"
    assert info.metadata["exif"].startswith(b"II*\x00")  # the Exif\0\0 prefix was stripped
    assert info.metadata["xmp"].startswith(b"<x:xmpmeta")
    assert info.metadata["dpi"] == pytest.approx((300, 300), abs=0.02)


@pytest.mark.parametrize("name", sorted(DECODABLE))
def test_vector_header_matches_name(name: str) -> None:
    info = svdcodec.read_header(VECTORS / f"{name}.svdi", allow_truncated="truncated" in name)
    assert (info.stack_coding is not None) == ("stack-" in name)
    if info.stack_coding is not None:  # [i16s-]stack-CODING-...
        assert name.partition("stack-")[2].split("-")[0] == info.stack_coding
    if info.layout == "patch":  # spec section 12: named by layout and quality, not rank
        assert "patch" in name and info.factors == "coefficients"
        return
    assert info.factors in name or (info.factors == "int8" and "float16" not in name)
    assert f"rank{info.ranks[0]}" in name


# --- the vectors added for what no vector exercised before (issue 16) -----------------------
def _info(name: str) -> svdcodec.SvdiInfo:
    return svdcodec.read_header(VECTORS / f"{name}.svdi", allow_truncated="truncated" in name)


@pytest.mark.parametrize(("name", "chroma"), [("rgb-patch-sub21-odd-q50", (2, 1)),
                                              ("rgb-patch-sub12-odd-q50", (1, 2))])
def test_vector_one_axis_subsampling(name: str, chroma: tuple[int, int]) -> None:
    info = _info(name)
    assert [p.subsampling for p in info.planes] == [(1, 1), chroma, chroma]
    assert info.width % 2 == 1 and info.height % 2 == 1  # clamped at the far edge


def test_vector_deblocking_at_16_bits() -> None:
    info = _info("i16-patch-q30-deblock")
    assert info.bit_depth == 16 and min(info.planes[0].deblock) > 255


def test_vector_deblocking_edge_beside_the_padding() -> None:
    info = _info("l-patch-41x25-q50-padding")
    p = info.planes[0].patch_size
    # the last patch column and row hold one real sample: q1 of their edges is padding
    assert info.width % p == 1 and info.height % p == 1 and info.planes[0].deblock[0] > 0


def test_vector_escapes_among_dc_and_ac_symbols() -> None:
    data = (VECTORS / "l-patch-q100-escapes.svdi").read_bytes()
    container = fmt.unpack(data, svdcodec.Limits())
    pl, h = container.planes[0], container.header
    raw = _zstd.decompress(pl.payload, pl.raw_size(h))
    n = pl.patches(h)
    dc = raw[pl.components * (5 + (pl.patch_size // 2) ** 2):][:n]
    ac = raw[-4 * pl.escapes - pl.ac_symbols:][:pl.ac_symbols]
    assert dc.count(255) and ac.count(255) and dc.count(255) + ac.count(255) == pl.escapes


def test_vector_rawblock_truncated_salvages_the_records_before_the_cut() -> None:
    """Section 7.1: r counts the whole records the cut frame yields, raw-block bytes included
    (here 6), not only those of complete blocks (4)."""
    data = (VECTORS / "rgb-int8-rank8-rawblock-truncated.svdi").read_bytes()
    container = fmt.unpack(data, svdcodec.Limits(), allow_truncated=True)
    assert len(container.groups) == 1 and container.partial is not None
    decoded = svdcodec.decode(data, allow_truncated=True)
    assert not decoded[:, :, 2].any()  # the group after the cut one contributes nothing
    fact1 = container.partial
    size = fmt.record_size(fact1.rows, fact1.cols, container.header.factor_type)
    whole_at = {r: _zstd.decompress(fact1.payload, fact1.raw_size, prefix=r * size)
                for r in (4, 6)}  # a prefix of the cut frame decodes at 6 records
    assert len(whole_at[6]) == 6 * size
    with pytest.raises(svdcodec.SvdiError):
        _zstd.decompress(fact1.payload, fact1.raw_size, prefix=7 * size)


# --- mode 6, I;16S (spec section 15.1, issue 15) ----------------------------------------------
I16S = sorted(n for n in DECODABLE if n.startswith("i16s-"))


def test_signed_vectors_cover_every_payload() -> None:
    """Whole-image (float16, int8) and patch (zstd, arith) files of mode I;16S, holding the
    extremes of the range."""
    infos = [_info(name) for name in I16S]
    assert {i.mode for i in infos} == {"I;16S"}
    assert {(i.layout, i.factors, i.compression) for i in infos} >= {
        ("per-channel", "float16", "zstd"), ("per-channel", "int8", "zstd"),
        ("patch", "coefficients", "zstd"), ("patch", "coefficients", "arith")}
    decoded = [svdcodec.decode((VECTORS / f"{n}.svdi").read_bytes()) for n in I16S]
    assert min(int(d.min()) for d in decoded) < 0 < max(int(d.max()) for d in decoded)


@pytest.mark.parametrize("name", I16S)
def test_signed_vector_is_unsigned_vector_of_offset_samples(name: str) -> None:
    """Section 15.1: the file with mode 5 in HEAD (and HEAD's CRC fixed) decodes to u, the
    signed decode plus 32768, sample for sample."""
    data = (VECTORS / f"{name}.svdi").read_bytes()
    head = fmt.PREFIX_SIZE + fmt.CHUNK_PREFIX.size
    body = bytearray(data[head:head + fmt.HEAD.size])
    body[8] = fmt.Mode.I16
    unsigned = data[:fmt.PREFIX_SIZE] + fmt.pack_chunk(b"HEAD", bytes(body)) + \
        data[head + fmt.HEAD.size + fmt.CHUNK_CRC.size:]
    u = svdcodec.decode(unsigned)
    assert u.dtype == np.uint16
    np.testing.assert_array_equal(u.astype(np.int32) - fmt.SIGNED_OFFSET,
                                  svdcodec.decode(data))


# --- image stacks (spec section 14, issue 15) ------------------------------------------------
@pytest.mark.parametrize("name", STACKS)
def test_stack_vector_decodes_to_expected(name: str) -> None:
    """NAME.png holds the frames one under another; frame k decodes alone to its rows."""
    data = (VECTORS / f"{name}.svdi").read_bytes()
    expected = _expected(name)
    info = svdcodec.read_header(data)
    n, h = info.frames, info.height
    assert n >= 2 and expected.shape[0] == n * h
    stack = svdcodec.decode_stack(data)
    assert stack.shape == (n, *expected.reshape(n, h, *expected.shape[1:]).shape[1:])
    exact = info.layout == "patch"
    for k in range(n):
        frame = svdcodec.decode(data, frame=k)
        np.testing.assert_array_equal(frame, stack[k])
        want = expected[k * h:(k + 1) * h]
        if exact:
            np.testing.assert_array_equal(frame, want)
        else:
            assert np.abs(frame.astype(np.int32) - want.astype(np.int32)).max() <= 1
    svdcodec.verify(data)


def test_stack_vectors_cover_every_coding_grey_rgb_and_odd_sizes() -> None:
    infos = [svdcodec.read_header(VECTORS / f"{n}.svdi") for n in STACKS]
    assert {(i.stack_coding, i.mode) for i in infos} >= {
        (c, m) for c in ("frames", "tall", "snapshot") for m in ("L", "RGB")}
    assert any(i.stack_coding == "tall" and i.frame_pitch > i.height and i.mode == "RGB"
               for i in infos)
    assert any(i.width % 2 and i.height % 2 for i in infos)


# --- section 14 alone: each stack-* vector rewritten as single images of sections 2-13 ------
def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """Section 3's framing, read here without the package: (type, data) after the prefix."""
    out, offset = [], len(fmt.SIGNATURE) + 1
    while offset < len(data):
        (length,) = struct.unpack_from("<I", data, offset)
        ctype = data[offset + 4:offset + 8]
        body = data[offset + 8:offset + 8 + length]
        (crc,) = struct.unpack_from("<I", data, offset + 8 + length)
        assert crc == zlib.crc32(ctype + body)
        out.append((ctype, body))
        offset += 12 + length
    return out


def _file(chunks: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(struct.pack("<I", len(d)) + t + d + struct.pack("<I", zlib.crc32(t + d))
                    for t, d in chunks)
    return fmt.SIGNATURE + bytes([fmt.FORMAT_VERSION]) + body


def _spec14_frames(data: bytes) -> np.ndarray:
    """Every frame by the words of section 14 only: FRMS (14.1) read with struct; frames
    (14.2) as the single images HEAD + run k; tall (14.3) as one image of N·Hp rows, cropped;
    snapshot (14.4) as the single grey image X (m rows, N columns) of layout 1 whose
    column k is frame k, channel after channel. Single images decode by sections 2-13."""
    chunks = _chunks(data)
    assert chunks[0][0] == b"HEAD" and chunks[1][0] == b"FRMS" and chunks[-1][0] == b"IEND"
    head = bytearray(chunks[0][1])
    width, height = struct.unpack_from("<II", head)
    mode, _, channels, layout, _, _, _, groups = head[8:16]
    count, pitch, coding, flags, reserved = struct.unpack("<IIBBH", chunks[1][1])
    assert count >= 2 and flags == 0 and reserved == 0
    body = [c for c in chunks[2:-1] if c[0] in (b"FACT", b"PTCH")]
    if coding == 1:  # frames: N runs of group_count chunks
        assert len(body) == count * groups
        return np.stack([
            svdcodec.decode(_file([chunks[0], *body[k * groups:(k + 1) * groups],
                                   (b"IEND", b"")]))
            for k in range(count)])
    if coding == 2:  # tall: one image of W x N·Hp, frame k its rows k·Hp ... k·Hp + H - 1
        assert pitch >= height
        struct.pack_into("<I", head, 4, count * pitch)
        coded = svdcodec.decode(_file([(b"HEAD", bytes(head)), *body, (b"IEND", b"")]))
        return np.stack([coded[k * pitch:k * pitch + height] for k in range(count)])
    assert coding == 3 and layout == 5 and len(body) == 1
    m = height * width * channels
    grey = mode if channels == 1 else 1  # one channel of the same samples (L, I;16, I;16S)
    struct.pack_into("<II", head, 0, count, m)  # width N, height m: X itself
    head[8], head[10], head[11] = grey, 1, 1  # layout 1 per-channel, one group
    x = svdcodec.decode(_file([(b"HEAD", bytes(head)), *body, (b"IEND", b"")]))
    frames = x.T.reshape(count, channels, height, width).transpose(0, 2, 3, 1)
    return frames[..., 0] if channels == 1 else frames


@pytest.mark.parametrize("name", STACKS)
def test_stack_vector_decodes_by_section_14_alone(name: str) -> None:
    data = (VECTORS / f"{name}.svdi").read_bytes()
    expected = _expected(name)
    frames = _spec14_frames(data)
    assert frames.shape[0] * frames.shape[1] == expected.shape[0]
    got = frames.reshape(expected.shape).astype(np.int32)
    tolerance = 0 if svdcodec.read_header(data).layout == "patch" else 1
    assert np.abs(got - expected.astype(np.int32)).max() <= tolerance
    np.testing.assert_array_equal(frames, svdcodec.decode_stack(data))
