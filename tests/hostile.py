"""Shared helpers of the hostile-input tests (``tests/test_hostile_*.py``): the decoder's error
contract (spec sections 2–9).

Every byte string given to :func:`svdcodec.decode` or :func:`svdcodec.read_header` either returns
or raises :class:`svdcodec.SvdiError`. The tests check the *specific* subclass the spec
prescribes for each of the 17 classes of bad input in the design notes ("Bad inputs a trusted
decoder is tested on": ``test_NN_*``, one group per class) -- the container (1–11, 15:
``test_hostile_container.py``), the payload (12–14: ``test_hostile_payload.py``), the limits
(16, 17, every ``Limits`` field, memory, threads: ``test_hostile_api.py``) -- then mutate valid
files with hypothesis and replay the fuzzers' crash files (``test_hostile_mutations.py``).

Files are built with :func:`svdcodec.encode` on small synthetic images, on first use
(:func:`file`, cached: nothing is encoded at import time), and edited through :func:`split` /
:func:`build`, which recompute every CRC so that a corruption reaches the check behind the CRC.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pytest
import zstandard

import svdcodec
from svdcodec import format as fmt
from svdcodec.format.chunks import walk
from svdcodec.whole.quantize import record_dtype

PREFIX = fmt.SIGNATURE + bytes([fmt.FORMAT_VERSION])
HEAD_FIELDS = ("width", "height", "mode", "bit_depth", "channels", "layout", "factor_type",
               "compression", "colour_transform", "group_count", "incompatible_flags",
               "compatible_flags")
FACT_FIELDS = ("group_index", "rows", "cols", "rank", "raw_size")
Chunk = tuple[bytes, bytes]


# --- images and files ----------------------------------------------------------------------------
def image(h: int, w: int, c: int | None, dtype: type = np.uint8, seed: int = 0) -> np.ndarray:
    """A smooth gradient plus noise: low rank, but not exactly (fixed seed); int16 is the
    uint16 image shifted by -32768 (negative and positive samples)."""
    if dtype == np.int16:
        return (image(h, w, c, np.uint16, seed).astype(np.int32) - 32768).astype(np.int16)
    peak = np.iinfo(dtype).max
    i, j = np.mgrid[:h, :w]
    base = (0.2 + 0.5 * i / h + 0.3 * (j / w) ** 2) * peak
    planes = [base * (1 - 0.2 * k) for k in range(c or 1)]
    noise = np.random.default_rng(seed).normal(0, 0.03 * peak, (h, w, c or 1))
    x = np.clip(np.stack(planes, axis=-1) + noise, 0, peak).astype(dtype)
    return x[:, :, 0] if c is None else x


# name -> image(...) arguments
PICTURES: dict[str, tuple[int, int, int | None, type]] = {
    "rgb": (9, 12, 3, np.uint8),  # 12x9 RGB
    "grey": (5, 7, None, np.uint8),  # 7x5 L
    "grey16": (6, 5, None, np.uint16),
    "grey16s": (6, 5, None, np.int16),  # mode I;16S (spec section 15.1)
    "rgba": (4, 6, 4, np.uint8),
}
META = {"icc_profile": b"not really an ICC profile", "exif": b"II*\x00" + bytes(10),
        "xmp": "<x:xmpmeta/>", "dpi": (72, 300)}
# name -> (picture, encode keyword arguments)
FILES: dict[str, tuple[str, dict[str, Any]]] = {
    "rgb-int8": ("rgb", {"rank": 3}),  # HEAD, FACT x3, IEND
    "rgb-meta": ("rgb", {"rank": 2, **META}),  # HEAD, iccp, exif, xmpd, phys, FACT x3, IEND
    "grey-f16": ("grey", {"rank": 2, "factors": "float16"}),
    "grey16-f16": ("grey16", {"rank": 3, "factors": "float16"}),
    "grey16s-int8": ("grey16s", {"rank": 3, "dicom": b"DICM and anything: never checked"}),
    "rgba-stacked": ("rgba", {"rank": 2, "layout": "stacked"}),
    "rgb-vertical-f16": ("rgb", {"rank": 3, "layout": "stacked-vertical", "factors": "float16"}),
}


@functools.cache
def picture(name: str) -> np.ndarray:
    """The image called ``name`` in :data:`PICTURES` (read-only: it is shared)."""
    x = image(*PICTURES[name])
    x.flags.writeable = False
    return x


@functools.cache
def file(name: str) -> bytes:
    """The .svdi file called ``name`` in :data:`FILES`, encoded on first use."""
    source, options = FILES[name]
    return svdcodec.encode(picture(source), **options)


# --- editing files with correct CRCs -------------------------------------------------------------
def split(data: bytes) -> list[Chunk]:
    """The (type, data) chunks of a file (the lenient walk: CRCs are not checked)."""
    return [(c.type, c.body) for c in walk(data)]


def build(chunks: list[Chunk], *, prefix: bytes = PREFIX, tail: bytes = b"") -> bytes:
    """A file from chunks, every CRC correct (types are not validated: pack_chunk trusts us)."""
    return prefix + b"".join(fmt.pack_chunk(t, d) for t, d in chunks) + tail


def index_of(chunks: list[Chunk], ctype: bytes, nth: int = 0) -> int:
    return [i for i, (t, _) in enumerate(chunks) if t == ctype][nth]


def edit_head(data: bytes, **fields: int) -> bytes:
    chunks = split(data)
    values = dict(zip(HEAD_FIELDS, fmt.HEAD.unpack(chunks[0][1]), strict=True))
    values.update(fields)
    chunks[0] = (fmt.ChunkType.HEAD, fmt.HEAD.pack(*(values[f] for f in HEAD_FIELDS)))
    return build(chunks)


def fact(data: bytes, group: int) -> tuple[dict[str, int], bytes]:
    """(fields, payload) of FACT ``group``."""
    body = split(data)[index_of(split(data), fmt.ChunkType.FACT, group)][1]
    return dict(zip(FACT_FIELDS, fmt.FACT.unpack_from(body), strict=True)), body[fmt.FACT.size:]


def edit_fact(data: bytes, group: int, payload: bytes | None = None, **fields: int) -> bytes:
    chunks = split(data)
    k = index_of(chunks, fmt.ChunkType.FACT, group)
    values, old = fact(data, group)
    values.update(fields)
    body = fmt.FACT.pack(*(values[f] for f in FACT_FIELDS)) + (old if payload is None else payload)
    chunks[k] = (fmt.ChunkType.FACT, body)
    return build(chunks)


def raw_records(data: bytes, group: int = 0) -> bytes:
    return zstandard.ZstdDecompressor().decompress(fact(data, group)[1])


def records(data: bytes, group: int = 0) -> np.ndarray:
    """A writable copy of FACT ``group``'s component records (spec section 5)."""
    values, _ = fact(data, group)
    info = svdcodec.read_header(data)
    dtype = record_dtype(values["rows"], values["cols"], info.factors)
    return np.frombuffer(raw_records(data, group), dtype=dtype).copy()


def with_records(data: bytes, rec: np.ndarray, group: int = 0) -> bytes:
    """Replace FACT ``group``'s records: a valid, checksummed zstd frame of the right size."""
    frame = zstandard.ZstdCompressor(write_checksum=True).compress(rec.tobytes())
    return edit_fact(data, group, frame)


def metadata_bytes(data: bytes) -> int:
    """What the ancillary chunks of ``data`` count against ``max_metadata_bytes``."""
    return sum(len(body) for t, body in split(data) if not fmt.is_critical(t))


def assert_rejects(exc: type[svdcodec.SvdiError], data: bytes, *, header: bool = True,
                   limits: svdcodec.Limits | None = None, rank: int | None = None) -> None:
    """decode (and read_header unless ``header`` is False) raise exactly ``exc``.

    With ``header=False`` the framing is valid and only the payload is bad, so read_header,
    which never decompresses, must succeed.
    """
    with pytest.raises(svdcodec.SvdiError) as info:
        svdcodec.decode(data, limits=limits, rank=rank)
    assert type(info.value) is exc, f"decode: {type(info.value).__name__}: {info.value}"
    if header:
        with pytest.raises(svdcodec.SvdiError) as info:
            svdcodec.read_header(data, limits=limits)
        assert type(info.value) is exc, f"read_header: {type(info.value).__name__}: {info.value}"
    else:
        svdcodec.read_header(data, limits=limits)
