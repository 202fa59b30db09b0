"""Pillow plugin for .svdi: after ``import svdcodec``, ``Image.open`` and ``Image.save`` know it.

Format id ``"SVDI"``, extension ``.svdi``, MIME type ``image/x-svdi``. ``import svdcodec`` calls
:func:`register`; calling it again is harmless.

>>> import io, numpy as np, svdcodec
>>> from PIL import Image
>>> buf = io.BytesIO()
>>> Image.fromarray(np.full((8, 12, 3), 90, np.uint8)).save(buf, "SVDI", rank=1)
>>> with Image.open(buf) as im:
...     print(im.format, im.mode, im.size, im.info["rank"], im.getpixel((0, 0)))
SVDI RGB (12, 8) (1, 1, 1) (90, 90, 90)

**Opening** reads the file and parses the whole container (spec sections 2–6: framing, CRCs,
HEAD, FACT fields, metadata) but decompresses nothing. It declares the true size, so Pillow's
``MAX_IMAGE_PIXELS`` check (``DecompressionBombError``) applies; svdcodec's own pixel-count limit
is left to it. Pixels are decoded by ``load()``.

**Errors.** A file that is not .svdi, or whose HEAD is unreadable (bad signature or version,
invalid or unsupported header field, HEAD's CRC, a file cut before the end of HEAD) raises
``SyntaxError`` in ``_open``, so ``Image.open`` tries the other formats and then raises
``UnidentifiedImageError``. Anything wrong after a valid HEAD (truncation, a CRC mismatch, an
invalid FACT field, an unknown critical chunk, trailing bytes, too much metadata) still opens,
with the size and mode of HEAD, and ``load()`` raises ``OSError``, as Pillow does for a PNG cut
in IDAT. ``load()`` also checks svdcodec's decode limits (size, memory, work; spec section 8,
:func:`svdcodec.set_default_limits` or ``register(limits=...)``) and raises ``OSError``.

**ImageFile.LOAD_TRUNCATED_IMAGES**: a file cut after HEAD loads as far as it goes. Every complete
factor group is decoded, the group the file ends in is decoded from the component records its
cut zstd frame still yields (a prefix of the records is the lower-rank approximation, spec
section 5; its CRC cannot be checked), and missing groups are zero, like the missing rows of
other formats. Other damage (CRC mismatch, corrupt data) still raises ``OSError``.

**Saving** takes ``quality`` (0..100, default 50), or ``rank``, ``energy``, ``target_size`` or
``target_psnr``, and ``layout``, ``factors``, ``progressive``, ``icc_profile``, ``exif`` (bytes or
``Image.Exif``), ``xmp`` (bytes or str), ``dpi``; see :func:`svdcodec.encode`, which checks them
(``ValueError``, or ``TypeError`` for a value of the wrong type). As Pillow's PNG and AVIF
plugins do, ``icc_profile`` is carried over from ``im.info`` unless given, while ``exif``, ``xmp``
and ``dpi`` are written only when passed. Modes: ``L``, ``LA``, ``RGB``, ``RGBA`` and ``I;16`` as
they are; others as :func:`svdcodec.pilutil.storage_mode` says (``P`` to ``RGBA`` with
transparency else ``RGB``, ``1`` to ``L``, ``I`` to ``I;16`` when in range), else ``OSError``.

**info**: ``icc_profile``, ``exif`` (with the ``Exif\\0\\0`` prefix, as PNG and JPEG give it, so
it can be passed to any plugin), ``xmp`` (bytes) and ``dpi`` when stored; always ``layout`` and
``factors``, and ``rank``: a tuple with one rank per factor group (absent if the file is damaged).

**draft(mode, size)** picks the integer scale ``s = min(W // w, H // h)`` and decodes a
``ceil(W / s) x ceil(H / s)`` image, never smaller than asked, whose pixels are the means of
``s x s`` blocks: the blocks of ``s`` rows of U and of ``s`` columns of Vᵀ are averaged before the
product, which then costs about 1/s² of a full decode (every layout; stacked layouts are averaged
within each channel's block). The requested mode is ignored. ``thumbnail()`` uses it.

**verify()** checks the CRCs, decompresses every frame (bounded by its declared size, checking the
zstd content checksum) and validates the records, without reconstructing pixels; it raises
``OSError``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import IO, Any

import numpy as np
from PIL import Image, ImageFile

from .. import _zstd, codec
from .. import format as fmt
from ..errors import LimitError, SvdiError, TruncatedError
from ..info import EXIF_APP1_PREFIX, metadata_info
from ..limits import Limits, get_default_limits
from ..whole import codec as wholecodec
from ..whole.quantize import dequantize, magnitude_bound
from .convert import storage_mode, to_array

FORMAT = "SVDI"
EXTENSIONS = [".svdi"]
MIME_TYPE = "image/x-svdi"
# Pillow's MAX_IMAGE_PIXELS judges the size at open; svdcodec's size limits apply on load.
_NO_SIZE_LIMITS = {"max_width": 2**32, "max_height": 2**32, "max_pixels": 2**64}
# save() options passed on to svdcodec.encode (besides the metadata ones)
SAVE_OPTIONS = ("quality", "rank", "energy", "target_size", "target_psnr", "layout", "factors",
                "progressive")
_Tile = getattr(ImageFile, "_Tile", lambda *fields: tuple(fields))  # a NamedTuple in Pillow 11+

_limits: Limits | None = None  # register(limits=...); None: svdcodec's process-wide defaults


def register(*, limits: Limits | None = None) -> None:
    """Register the SVDI format with Pillow (idempotent).

    ``limits`` bounds every decode through Pillow (:class:`svdcodec.Limits`); None, the default,
    uses :func:`svdcodec.get_default_limits` at the time of each decode.
    """
    global _limits
    if limits is not None and not isinstance(limits, Limits):
        raise TypeError(f"limits must be a svdcodec.Limits, got {type(limits).__name__}")
    _limits = limits
    Image.register_open(FORMAT, SvdiImageFile, _accept)
    Image.register_save(FORMAT, _save)
    Image.register_extensions(FORMAT, EXTENSIONS)
    Image.register_mime(FORMAT, MIME_TYPE)
    Image.register_decoder(FORMAT, SvdiDecoder)


def _accept(prefix: bytes) -> bool:
    return prefix.startswith(fmt.SIGNATURE)


@dataclass(frozen=True)
class _Plan:
    """What load() decodes; immutable, so one plan can be shared by threads."""

    header: fmt.Header
    groups: tuple[fmt.Group, ...]  # complete, CRC-checked factor groups
    error: SvdiError | None = None  # found after a valid HEAD: raised by load()
    partial: fmt.Group | None = None  # the group a truncated file ends in
    scale: int = 1  # draft(): each output pixel is the mean of a scale x scale block
    planes: tuple[fmt.Plane, ...] = ()  # layout patch (spec section 12): PTCH chunks


# --- opening ---------------------------------------------------------------------------------
class SvdiImageFile(ImageFile.ImageFile):
    format = FORMAT
    format_description = "SVD image (svdcodec)"
    n_frames = 1
    is_animated = False
    _plan: _Plan

    def _open(self) -> None:
        assert self.fp is not None
        data = self.fp.read()
        limits = dataclasses.replace(_limits or get_default_limits(), **_NO_SIZE_LIMITS)
        try:
            container = fmt.unpack(data, limits, allow_truncated=True)
        except SvdiError as exc:  # found after a valid HEAD, raised by load()
            try:
                header = fmt.unpack_head(data, limits)
            except SvdiError as head_error:
                raise SyntaxError(f"not an SVDI file: {head_error}") from head_error
            self._plan, metadata = _Plan(header, (), exc.with_traceback(None)), {}
        else:
            cut = TruncatedError(container.truncated) if container.truncated else None
            self._plan = _Plan(container.header, container.groups, cut, container.partial,
                               planes=container.planes)
            metadata = container.metadata
            if cut is None:
                self.info["rank"] = tuple(g.rank for g in container.groups) + tuple(
                    p.components for p in container.planes)
        h = self._plan.header
        self._mode = fmt.MODE_INFO[h.mode][0]
        self.info["layout"] = fmt.LAYOUT_NAMES[h.layout]
        self.info["factors"] = fmt.FACTOR_NAMES[h.factor_type]
        self.info.update(_info_metadata(metadata))
        self._set_tile(self._plan)

    def _set_tile(self, plan: _Plan) -> None:
        self._plan = plan
        self._size = _scaled(plan.header.width, plan.scale), _scaled(plan.header.height,
                                                                     plan.scale)
        self.tile = [_Tile(FORMAT, (0, 0, *self.size), 0, (plan,))]

    def draft(self, mode: str | None, size: tuple[int, int] | None
              ) -> tuple[str, tuple[int, int, float, float]] | None:
        """Decode at the smallest integer reduction not smaller than ``size``; see the module."""
        if not self.tile or size is None:  # already loaded, or nothing asked
            return None
        width, height = self._plan.header.width, self._plan.header.height
        if size[0] < 1 or size[1] < 1:
            raise ValueError(f"draft size must be positive, got {size!r}")
        scale = max(1, min(width // int(size[0]), height // int(size[1])))
        self._set_tile(dataclasses.replace(self._plan, scale=scale))
        if scale == 1:
            return None
        return self.mode, (0, 0, width / scale, height / scale)

    def load_seek(self, pos: int) -> None:
        """Nothing to seek: ``_open`` read the file. (Also makes ImageFile.Parser wait for all
        the data instead of feeding it to the decoder.)"""

    def verify(self) -> None:
        """Check CRCs, zstd frames and records without reconstructing pixels; OSError if bad."""
        if self.fp is None:
            raise RuntimeError("verify must be called directly after open")
        try:
            _verify(self._plan, _limits or get_default_limits())
        finally:
            self.tile = []
            super().verify()


def _info_metadata(metadata: dict[str, bytes]) -> dict[str, Any]:
    """Ancillary chunks as Pillow's ``info`` keys: exif with the ``Exif\\0\\0`` prefix, as
    Pillow's PNG and JPEG plugins give it."""
    info = metadata_info(metadata)
    if "exif" in info:
        info["exif"] = EXIF_APP1_PREFIX + info["exif"]
    return info


# --- decoding --------------------------------------------------------------------------------
class SvdiDecoder(ImageFile.PyDecoder):
    """Decodes the plan in the tile's arguments; the file was already read by ``_open``."""

    _pulls_fd = True  # decode() is called once, and reads nothing from the stream

    def decode(self, buffer: Any) -> tuple[int, int]:
        pixels = _decode(self.args[0], _limits or get_default_limits())
        self.set_as_raw(pixels.tobytes())  # "I;16" is little-endian, as the array is
        return -1, 0


def _decode(plan: _Plan, limits: Limits) -> np.ndarray:
    """The image of ``plan`` as (H, W) or (H, W, C); OSError for anything wrong."""
    h = plan.header
    if plan.error is not None and not (isinstance(plan.error, TruncatedError)
                                       and ImageFile.LOAD_TRUNCATED_IMAGES):
        raise _oserror(plan.error) from plan.error
    try:
        _check_size(h, limits)
        container = fmt.Container(h, plan.groups, {}, (), plan.planes, partial=plan.partial,
                                  truncated=str(plan.error) if plan.error else "")
        if h.layout == fmt.Layout.PATCH:
            return _decode_patch(container, plan, limits)
        if plan.scale == 1:  # the reference decoder, which also salvages (spec section 7.1)
            return codec.decode_container(container, limits=limits)
        fmt.check_decode_limits(container, limits)
        dtype = np.uint8 if h.bit_depth == 8 else np.dtype("<u2")
        out = np.zeros((_scaled(h.height, plan.scale), _scaled(h.width, plan.scale),
                        h.channels), dtype=dtype)
        for g in container.decodable_groups:
            u, s, vt = _factors(g, h, partial=g is plan.partial)
            u, vt = _shrink(u, vt, h, plan.scale)
            us = np.multiply(u, s, out=u)  # in place, as codec.decode_container
            _reconstruct(out, fmt.LAYOUT_NAMES[h.layout], g.index, us, vt)
    except SvdiError as exc:
        raise _oserror(exc) from exc
    return out[:, :, 0] if h.channels == 1 else out


def _decode_patch(container: fmt.Container, plan: _Plan, limits: Limits) -> np.ndarray:
    """Layout patch: the reference decoder (no salvage), then block means for draft()."""
    out = codec.decode_container(container, limits=limits)
    if plan.scale == 1:
        return out
    small = _block_mean(_block_mean(out.astype(np.float64), plan.scale, 0), plan.scale, 1)
    return np.rint(small).astype(out.dtype)


def _oserror(exc: SvdiError) -> OSError:
    if isinstance(exc, TruncatedError):
        return OSError(f"image file is truncated: {exc}")
    return OSError(f"broken SVDI file: {exc}")


def _check_size(h: fmt.Header, limits: Limits) -> None:
    """svdcodec's size limits (spec section 8), which ``_open`` left to Pillow."""
    if h.width > limits.max_width or h.height > limits.max_height:
        raise LimitError(f"image size {h.width}x{h.height} exceeds the limit "
                         f"{limits.max_width}x{limits.max_height}")
    if h.width * h.height > limits.max_pixels:
        raise LimitError(f"{h.width * h.height} pixels exceed the limit of "
                         f"{limits.max_pixels}")


def _factors(g: fmt.Group, h: fmt.Header, *, partial: bool = False
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decompress and dequantize a group: u (m, k), s (k,), vt (k, n) (spec section 5); for
    the group a truncated file ends in, k is the number of whole records it holds (7.1)."""
    raw = wholecodec.group_records(g, h, partial=partial)
    factors = fmt.FACTOR_NAMES[h.factor_type]
    # the reference decoder's precision: a salvaged file decodes as decode(rank=k) would
    work = wholecodec.decode_dtype(h.bit_depth, magnitude_bound(raw, g.rows, g.cols, factors))
    return dequantize(raw, g.rows, g.cols, factors, work)


def _scaled(n: int, scale: int) -> int:
    return -(-n // scale)


def _block_mean(a: np.ndarray, scale: int, axis: int) -> np.ndarray:
    """Means of consecutive blocks of ``scale`` entries along ``axis`` (the last may be short)."""
    n = a.shape[axis]
    starts = np.arange(0, n, scale)
    counts = np.minimum(scale, n - starts).astype(np.float64)
    shape = [1] * a.ndim
    shape[axis] = -1
    return np.add.reduceat(a, starts, axis=axis) / counts.reshape(shape)


def _shrink(u: np.ndarray, vt: np.ndarray, h: fmt.Header, scale: int
            ) -> tuple[np.ndarray, np.ndarray]:
    """Average blocks of image rows in u and image columns in vt (spec section 6 layouts).

    The mean of an s x s block of u·diag(s)·vt is (block means of u's rows)·diag(s)·(block
    means of vt's columns), so the product shrinks by s² and the result is exact.
    """
    if scale == 1:
        return u, vt
    k = u.shape[1]
    if h.layout == fmt.Layout.STACKED_VERTICAL:  # rows: channel blocks of H
        u = _block_mean(u.reshape(h.channels, h.height, k), scale, 1).reshape(-1, k)
    else:
        u = _block_mean(u, scale, 0)
    if h.layout == fmt.Layout.STACKED:  # columns: channel blocks of W
        vt = _block_mean(vt.reshape(k, h.channels, h.width), scale, 2).reshape(k, -1)
    else:
        vt = _block_mean(vt, scale, 1)
    return u, vt


# The reduced and salvaging decodes reconstruct like the reference decoder (a module-level
# name, so tests can count the products these paths compute).
_reconstruct = wholecodec.reconstruct


def _verify(plan: _Plan, limits: Limits) -> None:
    if plan.error is not None:
        raise _oserror(plan.error) from plan.error
    try:
        for pl in plan.planes:
            _zstd.decompress(pl.payload, pl.raw_size(plan.header), what=f"PTCH {pl.index}")
        for g in plan.groups:
            if g.raw_size > limits.max_alloc_bytes:
                raise LimitError(f"FACT {g.index}: {g.raw_size} bytes of records exceed "
                                 f"{limits.max_alloc_bytes}")
            _factors(g, plan.header)
    except SvdiError as exc:
        raise _oserror(exc) from exc


# --- saving ----------------------------------------------------------------------------------
def _encode_options(im: Image.Image, info: dict[str, Any]) -> dict[str, Any]:
    """Check Pillow's save options and turn them into :func:`svdcodec.encode` arguments."""
    # svdcodec.encode checks every value (ValueError or TypeError, as Pillow's savers raise)
    options = {key: info[key] for key in SAVE_OPTIONS if info.get(key) is not None}
    icc = info.get("icc_profile", im.info.get("icc_profile"))
    exif = info.get("exif")
    if isinstance(exif, Image.Exif):
        exif = exif.tobytes()
    xmp = info.get("xmp")
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    for key, value in (("icc_profile", icc), ("exif", exif), ("xmp", xmp)):
        if value is not None and not isinstance(value, (bytes, bytearray, memoryview)):
            raise ValueError(f"{key} must be bytes, got {type(value).__name__}")
        options[key] = value
    options["dpi"] = info.get("dpi")
    return options


def _save(im: Image.Image, fp: IO[bytes], filename: str | bytes) -> None:
    storage_mode(im)  # OSError("cannot write mode X as SVDI") before any work
    options = _encode_options(im, im.encoderinfo)
    fp.write(codec.encode(to_array(im), **options))
