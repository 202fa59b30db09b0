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
and a stack's N·W·H, section 14.5; :func:`svdcodec.set_default_limits` or
``register(limits=...)``) and raises ``OSError`` with the ``LimitError``'s message (a ``FRMS``
declaring 2^32 − 1 frames opens as a broken file of one frame).

**ImageFile.LOAD_TRUNCATED_IMAGES**: a single image of a whole-image layout (``per-channel``,
``stacked``, ``stacked-vertical``: layouts 1–3) cut after HEAD loads as far as it goes. Every
complete factor group is decoded, the group the file ends in is decoded from the component
records its cut zstd frame still yields (a prefix of the records is the lower-rank
approximation, spec section 5; its CRC cannot be checked), and missing groups are zero, like
the missing rows of other formats. Not salvaged, flag or not (spec section 7.1, and for stacks
the end of 14.4): a file of layout ``patch`` (each plane needs its whole frame) and a stack
cut once ``FRMS``'s type is visible; their ``load()`` raises ``OSError`` ("image file is
truncated"). Other damage (CRC mismatch, corrupt data) still raises ``OSError``.

>>> from PIL import ImageFile
>>> stack = svdcodec.encode_stack(np.full((2, 8, 12), 90, np.uint8))
>>> ImageFile.LOAD_TRUNCATED_IMAGES = True
>>> try:
...     with Image.open(io.BytesIO(stack[:-20])) as im:
...         im.load()
... except OSError as exc:
...     print(str(exc).split(":")[0])
... finally:
...     ImageFile.LOAD_TRUNCATED_IMAGES = False
image file is truncated

**Saving** takes ``quality`` (0..100, default 50), or ``rank``, ``energy``, ``target_size`` or
``target_psnr``, and ``layout``, ``factors``, ``progressive``, ``icc_profile``, ``exif`` (bytes or
``Image.Exif``), ``xmp`` (bytes or str), ``dpi``; see :func:`svdcodec.encode`, which checks them
(``ValueError``, or ``TypeError`` for a value of the wrong type). As Pillow's PNG and AVIF
plugins do, ``icc_profile`` is carried over from ``im.info`` unless given, while ``exif``, ``xmp``
and ``dpi`` are written only when passed. Modes: ``L``, ``LA``, ``RGB``, ``RGBA`` and ``I;16`` as
they are; others as :func:`svdcodec.pillow.convert.storage_mode` says (``P`` to ``RGBA`` with
transparency else ``RGB``, ``1`` to ``L``, ``I`` to ``I;16`` when its values fit 0 .. 65535, else
to the signed ``I;16S`` when they fit -32768 .. 32767), else ``OSError``. A file of mode
``I;16S`` (signed 16-bit grey, spec section 15.1) opens as mode ``I``, Pillow's signed mode.
The ICC profile follows the pixels (:mod:`svdcodec.pillow.convert`): ``CMYK`` with a CMYK
profile is converted to sRGB through it and stored without a profile; a profile that does not
describe the stored pixels (an RGB profile on an ``L`` image) is dropped. ``save_all`` with
more than one frame (``im``'s frames, then those of ``append_images``) writes a stack (spec
section 14, :func:`svdcodec.encode_stack`; option ``coding``: "auto", "frames", "tall" or
"snapshot"); frames of another size or stored mode raise ``OSError`` (``I`` frames stored
``I;16`` next to ``I;16S`` ones are all stored ``I;16S`` when their values fit). Without
``save_all`` the current frame is saved, as for every single-image format.

**Stacks** open with ``n_frames`` = N and ``is_animated``; ``seek(k)``/``tell()`` and
``ImageSequence`` give frame k, which ``load()`` decodes alone; ``info["stack_coding"]`` names
the coding. imageio reads them with ``imread(index=k)``, ``imiter`` and ``index=...``.

**Animations** (a stack with the chunk ``anim``, spec section 16) set ``info["duration"]``, the
current frame's display time in milliseconds (updated by ``seek``), and ``info["loop"]`` (0:
without end; absent when the file gives no count, as for a GIF that plays once), as Pillow's
GIF, APNG and WebP plugins do; a file without ``anim`` sets neither. ``save_all`` writes them
from ``duration`` (milliseconds, one number or one per frame) and ``loop`` (default
``im.info["loop"]``); without ``duration``, each frame's ``info["duration"]`` where the frames
have one (as the GIF and APNG savers do), so that ``Image.open("a.gif").save("a.svdi",
save_all=True)`` keeps the GIF's timing and ``Image.open("a.svdi").save("b.gif",
save_all=True)`` writes it back.

**info**: ``icc_profile``, ``exif`` (with the ``Exif\\0\\0`` prefix, as PNG and JPEG give it, so
it can be passed to any plugin), ``xmp`` (bytes) and ``dpi`` when stored; always ``layout`` and
``factors``, and ``rank``: a tuple with one rank per factor group (absent if the file is damaged).

**draft(mode, size)** picks the integer scale ``s = min(W // w, H // h)`` and decodes a
``ceil(W / s) x ceil(H / s)`` image, never smaller than asked, whose pixels are the means of
``s x s`` blocks: the blocks of ``s`` rows of U and of ``s`` columns of Vᵀ are averaged before the
product, which then costs about 1/s² of a full decode (every layout; stacked layouts are averaged
within each channel's block). The requested mode is ignored. ``thumbnail()`` uses it.

**verify()** checks the CRCs, decompresses every frame (bounded by its declared size, checking the
zstd content checksum) and validates the records, without computing pixels; it raises
``OSError``.

Saving is :mod:`svdcodec.pillow.save`; this module opens, decodes and registers.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageFile

from .. import codec
from ..errors import SvdiError, TruncatedError
from ..info import EXIF_APP1_PREFIX
from ..limits import Limits, get_default_limits
from . import imageio_support
from .convert import PILLOW_MODES
from .save import save, save_all

FORMAT = "SVDI"
EXTENSIONS = [".svdi"]
MIME_TYPE = "image/x-svdi"

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
    Image.register_save(FORMAT, save)
    Image.register_save_all(FORMAT, save_all)
    Image.register_extensions(FORMAT, EXTENSIONS)
    Image.register_mime(FORMAT, MIME_TYPE)
    Image.register_decoder(FORMAT, SvdiDecoder)
    imageio_support.register()


def _accept(prefix: bytes) -> bool:
    return codec.is_svdi(prefix)


@dataclass(frozen=True)
class _Plan:
    """What load() decodes: the parsed file and draft()'s reduction; immutable, so one plan
    can be shared by threads."""

    file: codec.SvdiFile
    scale: int = 1  # draft(): each output pixel is the mean of a scale x scale block
    frame: int = 0  # seek(): the frame of a stack (spec section 14)


# --- opening ---------------------------------------------------------------------------------
class SvdiImageFile(ImageFile.ImageFile):
    format = FORMAT
    format_description = "SVD image (svdcodec)"
    n_frames = 1
    is_animated = False
    _plan: _Plan
    _frame = 0
    _durations: tuple[int, ...] | None = None  # spec section 16: anim, one per frame

    def _open(self) -> None:
        assert self.fp is not None
        try:  # Pillow's MAX_IMAGE_PIXELS judges the size here; svdcodec's limits on load
            opened = codec.open_svdi(self.fp.read(), limits=_limits, check_size=False)
        except SvdiError as exc:  # HEAD unreadable: let Image.open try the other formats
            raise SyntaxError(f"not an SVDI file: {exc}") from exc
        info = opened.info
        self._mode = PILLOW_MODES.get(info.mode, (info.mode,))[0]
        self.info["layout"] = info.layout
        self.info["factors"] = info.factors
        self.n_frames = info.frames
        self.is_animated = info.frames > 1
        if self.is_animated:  # load() drops fp; each frame's load needs it (as GIF does)
            self._close_exclusive_fp_after_loading = False
            self._fp = self.fp
        if info.stack_coding is not None:
            self.info["stack_coding"] = info.stack_coding
        if opened.error is None:
            self.info["rank"] = info.ranks
            self.info.update(_info_metadata(info.metadata))
            self._durations = info.durations
            if info.durations is not None:
                self.info["duration"] = info.durations[0]
            if info.loop is not None:
                self.info["loop"] = info.loop
        self._set_tile(_Plan(opened))

    def _set_tile(self, plan: _Plan) -> None:
        self._plan = plan
        info = plan.file.info
        width, height = _scaled(info.width, plan.scale), _scaled(info.height, plan.scale)
        self._size = width, height
        self.tile = [ImageFile._Tile(FORMAT, (0, 0, width, height), 0, (plan,))]

    def draft(self, mode: str | None, size: tuple[int, int] | None
              ) -> tuple[str, tuple[int, int, float, float]] | None:
        """Decode at the smallest integer reduction not smaller than ``size``; see the module."""
        if not self.tile or size is None:  # already loaded, or nothing asked
            return None
        width, height = self._plan.file.info.size
        if size[0] < 1 or size[1] < 1:
            raise ValueError(f"draft size must be positive, got {size!r}")
        scale = max(1, min(width // int(size[0]), height // int(size[1])))
        self._set_tile(dataclasses.replace(self._plan, scale=scale))
        if scale == 1:
            return None
        return self.mode, (0, 0, width / scale, height / scale)

    def seek(self, frame: int) -> None:
        """Frame ``frame`` of a stack (spec section 14): ``load()`` decodes it alone."""
        if not self._seek_check(frame):
            return
        self._frame = frame
        if self._durations is not None:  # as Pillow's GIF plugin: the current frame's
            self.info["duration"] = self._durations[frame]
        stream = getattr(self, "_fp", None)  # a DeferredError once closed
        if hasattr(stream, "read"):
            self.fp = stream
        self._set_tile(dataclasses.replace(self._plan, frame=frame))  # draft()'s scale stays

    def tell(self) -> int:
        return self._frame

    def load_seek(self, pos: int) -> None:
        """Nothing to seek: ``_open`` read the file. (Also makes ImageFile.Parser wait for all
        the data instead of feeding it to the decoder.)"""

    def verify(self) -> None:
        """Check CRCs, zstd frames and records without computing pixels; OSError if bad."""
        if self.fp is None:
            raise RuntimeError("verify must be called directly after open")
        try:
            self._plan.file.verify(limits=_limits or get_default_limits())
        except SvdiError as exc:
            raise _oserror(exc) from exc
        finally:
            self.tile = []
            super().verify()


def _info_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """Ancillary chunks as Pillow's ``info`` keys: exif with the ``Exif\\0\\0`` prefix, as
    Pillow's PNG and JPEG plugins give it."""
    info = dict(metadata)
    if "exif" in info:
        info["exif"] = EXIF_APP1_PREFIX + info["exif"]
    return info


def _scaled(n: int, scale: int) -> int:
    return -(-n // scale)


# --- decoding --------------------------------------------------------------------------------
class SvdiDecoder(ImageFile.PyDecoder):
    """Decodes the plan in the tile's arguments; the file was already read by ``_open``."""

    _pulls_fd = True  # decode() is called once, and reads nothing from the stream

    def decode(self, buffer: Any) -> tuple[int, int]:
        plan = self.args[0]
        try:
            pixels = plan.file.decode(limits=_limits or get_default_limits(), reduce=plan.scale,
                                      allow_truncated=bool(ImageFile.LOAD_TRUNCATED_IMAGES),
                                      frame=plan.frame)
        except SvdiError as exc:
            raise _oserror(exc) from exc
        stored = plan.file.info.mode
        if stored in PILLOW_MODES:  # I;16S: int16 unpacked into mode I
            self.set_as_raw(pixels.astype("<i2").tobytes(), PILLOW_MODES[stored][1])
        else:
            self.set_as_raw(pixels.tobytes())  # "I;16" is little-endian, as the array is
        return -1, 0


def _oserror(exc: SvdiError) -> OSError:
    if isinstance(exc, TruncatedError):
        return OSError(f"image file is truncated: {exc}")
    return OSError(f"broken SVDI file: {exc}")
