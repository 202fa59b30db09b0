"""zstd compression of factor payloads; the only module that imports ``zstandard``.

Decompression is bounded by the exact size the validated header implies (spec section 5):
``ZstdDecompressor.decompress`` allocates what the frame *declares* and ignores
``max_output_size`` when a content size is present (python-zstandard issue #332), so the declared
size is compared with the expected one before anything is allocated.
"""

from __future__ import annotations

import zstandard

from .errors import ChecksumError, CorruptError, UnsupportedError

DEFAULT_LEVEL = 3
MAX_WINDOW_SIZE = 1 << 23  # spec section 5: larger windows MAY be refused; levels <= 19 fit


def compress(raw: bytes, level: int = DEFAULT_LEVEL, *, block: int | None = None) -> bytes:
    """One zstd frame with content size and checksum (spec section 5).

    ``block``: end a zstd block after every ``block`` bytes (one component record), so that a
    frame cut anywhere still yields every record before the cut (spec section 7.1).
    """
    if not 1 <= level <= 19:
        raise ValueError(f"zstd level must be in 1..19, got {level}")
    cctx = zstandard.ZstdCompressor(level=level, write_checksum=True, write_content_size=True)
    if not block:
        return cctx.compress(raw)
    obj = cctx.compressobj(size=len(raw))
    parts = []
    for start in range(0, len(raw), block):
        parts.append(obj.compress(raw[start:start + block]))
        parts.append(obj.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK))
    parts.append(obj.flush())
    return b"".join(parts)


def _error(exc: zstandard.ZstdError, what: str) -> Exception:
    if "checksum" in str(exc):
        return ChecksumError(f"{what}: zstd content checksum mismatch")
    return CorruptError(f"{what}: corrupt zstd frame ({exc})")


def decompress(payload: bytes, size: int, *, prefix: int | None = None,
               what: str = "payload") -> bytes:
    """Decompress a frame that must hold exactly ``size`` bytes.

    With ``prefix`` only the first ``prefix`` bytes are produced (progressive decoding): the
    rest of the frame is not read, so its content checksum cannot be verified.
    """
    try:
        declared = zstandard.frame_content_size(payload)
        params = zstandard.get_frame_parameters(payload)
    except zstandard.ZstdError as exc:
        raise CorruptError(f"{what}: not a zstd frame ({exc})") from None
    if declared != size:
        raise CorruptError(f"{what}: zstd frame declares {declared} bytes, expected {size}")
    if params.window_size > MAX_WINDOW_SIZE:
        raise UnsupportedError(f"{what}: zstd window {params.window_size} > {MAX_WINDOW_SIZE}")
    dctx = zstandard.ZstdDecompressor(max_window_size=MAX_WINDOW_SIZE)
    try:
        if prefix is None or prefix >= size:
            out = dctx.decompress(payload, max_output_size=size, allow_extra_data=False)
        else:
            out = dctx.stream_reader(payload, read_across_frames=False).read(prefix)
            size = prefix
    except zstandard.ZstdError as exc:
        raise _error(exc, what) from None
    if len(out) != size:
        raise CorruptError(f"{what}: zstd frame gave {len(out)} bytes, expected {size}")
    return out
