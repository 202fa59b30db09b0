"""The encoding half of :mod:`svdcodec.codec`: numpy images -> .svdi bytes.

Checks the caller's options (:mod:`.options`) and dispatches to the patch layout's encoder
(:mod:`.patch.codec`, its rate control :mod:`.patch.ratecontrol`) or the whole-image layouts'
(:mod:`.whole.encode`); image stacks go through :mod:`.stack.encode`, which is handed
:func:`encode`. :mod:`.format` frames the file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import _zstd
from . import format as fmt
from .decoding import decode_stack
from .options import (
    DEFAULT_QUALITY,
    check_bits,
    check_quality,
    check_target_psnr,
    check_target_size,
    image_mode,
    metadata_chunks,
    rate_criteria,
    signed_to_offset,
)
from .patch import codec as patchcodec
from .patch import ratecontrol
from .progress import Progress
from .series import with_dicom_series
from .stack import encode as stackencode
from .whole import encode as wholeencode
from .whole.layout import LAYOUTS
from .whole.linalg import one_blas_thread
from .whole.quantize import FACTOR_TYPES


def encode(image: np.ndarray, *, rank: int | str | None = None, energy: float | None = None,
           quality: float | None = None, target_psnr: float | None = None,
           target_size: int | None = None, layout: str | None = None,
           factors: str | None = None, level: int | None = None, svd: str = "auto",
           colour: str | None = None, subsampling: int | None = None, patch_size: int = 8,
           progressive: bool = False, entropy: str | None = None,
           icc_profile: bytes | None = None,
           exif: bytes | None = None, xmp: bytes | str | None = None,
           dpi: tuple[float, float] | None = None, dicom: bytes | None = None,
           bits: int | None = None,
           progress: Callable[[int, int], object] | None = None) -> bytes:
    """Encode an image as .svdi bytes.

    The default layout is ``"patch"`` (spec section 12), the one that competes with JPEG; the
    whole-image layouts are chosen by ``layout=``, and also by giving ``rank``, ``energy`` or
    ``factors`` without a layout (those options only mean something for them).

    Parameters
    ----------
    image : (H, W) or (H, W, C) uint8 array (L, LA, RGB, RGBA), (H, W) uint16 (I;16) or
        (H, W) int16 (I;16S, spec section 15.1: coded as I;16 of sample + 32768, so its
        quality, PSNR and errors are those of I;16); an (H, W, 1) array is stored as grey and
        decodes as (H, W).
    quality : 0..100 (default 50). Patch layout: sets the quantization step, so bytes and PSNR
        grow with it. Whole-image layouts: maps to ``target_psnr = 15 + 0.3 * quality``.
    target_psnr : patch layout: the lowest quality whose decoded image reaches this PSNR (a
        search over quality). Whole-image layouts: choose the rank from the Eckart–Young tail
        so that the truncation error alone meets it; quantization lowers the result slightly.
    target_size : the largest file of at most this many bytes (ValueError if even the smallest
        is larger). Patch layout: the highest quality that fits. Whole-image layouts: the
        components of largest σ² over all matrices that fit (ranks may differ per matrix).
    layout : "patch", "per-channel", "stacked" ([R | G | B]) or "stacked-vertical" ([R; G; B]).
    colour : patch layout: "ycbcr" (default for RGB and RGBA; alpha is its own plane) or
        "none". subsampling : patch layout with YCbCr: 2 (chroma halved in x and y), 1, or
        None (default): 2 below quality 75, 1 from there on.
    patch_size : patch layout: 4, 8 or 16.
    entropy : patch layout: "arith" (adaptive binary arithmetic coding, spec section 13),
        "zstd" (byte symbols in a zstd frame, section 12.3) or "auto" (the coefficients are
        coded both ways and the smaller file kept: arith on photographs, zstd on text, tiled
        or synthetic images, where it can be many times smaller); None: the default,
        ``svdcodec.patch.entropy.DEFAULT_ENTROPY`` ("auto").
    rank : keep this many components per matrix (clipped to min(m, n)); ``"optimal"``: per
        matrix, the singular values above the optimal hard threshold for white noise of
        unknown level, ω(β)·median(σ) (Gavish & Donoho 2014; :mod:`svdcodec.whole.denoise`).
    energy : keep the smallest rank whose Σσ² is at least this fraction of ‖X‖²_F. (Some
        tutorials use Σσ instead; svdcodec uses the squared values, the energy.)
    factors : "int8" (per-vector scales, the default) or "float16".
    level : zstd level 1..19 (default 19 for the patch layout with ``entropy="zstd"``, 3 for
        the others; the arith payload has no level).
    svd : backend, see :func:`svdcodec.whole.linalg.truncated_svd`.
    progressive : whole-image layouts: end a zstd block after every component record, so that
        a file cut anywhere (a partial download) still yields every record before the cut
        (``decode(..., allow_truncated=True)``, spec section 7.1); costs about 1-6 % more bytes.
        No effect on the patch layout, whose files are not salvaged (as Pillow's savers ignore
        options that do not apply).
    icc_profile, exif, xmp, dpi : metadata stored in ancillary chunks.
    bits : the significant bits of the samples, at most the mode's bit depth (None: all):
        ``quality`` and ``target_psnr`` are then those of samples 0 .. 2^bits - 1, so a
        12-bit scan stored as 16-bit samples gets at quality q the relative precision a
        full-range image gets (steps 16 times finer than with bits 16). Not stored; the
        decoder needs nothing of it.
    dicom : a DICOM Part 10 file without pixel data, stored in the ancillary chunk ``dicm``
        (spec section 15.2; :mod:`svdcodec.integrations.dicom` makes and reads it).
    progress : a callable ``progress(done, total)``, called from time to time with integers:
        ``done`` increasing, ``total`` fixed (:data:`svdcodec.progress.UNITS`, thousandths of
        the work), the last call ``done == total`` (once the bytes are ready). The patch
        layout reports each strip of each plane and each rate-control trial. For progress
        bars on large images (a 6 Mpixel photograph takes seconds); it runs in the encoding
        thread, so it should return quickly. An exception it raises ends the encode.

    Notes
    -----
    The same image and options give the same bytes on one numpy/BLAS build, whatever the number
    of BLAS threads (the float work runs on one, :func:`svdcodec.whole.linalg.one_blas_thread`) and
    whatever the array's byte order, strides or memory order.

    Examples
    --------
    >>> import numpy as np, svdcodec
    >>> img = np.tile(np.arange(64, dtype=np.uint8), (32, 1))
    >>> data = svdcodec.encode(img, rank=1)
    >>> svdcodec.decode(data).shape
    (32, 64)
    """
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable, got {progress!r}")
    reporter = Progress(progress)
    with one_blas_thread():
        data = _encode(image, rank=rank, energy=energy, quality=quality,
                       target_psnr=target_psnr, target_size=target_size, layout=layout,
                       factors=factors, level=level, svd=svd, colour=colour,
                       subsampling=subsampling, patch_size=patch_size, progressive=progressive,
                       entropy=entropy, icc_profile=icc_profile, exif=exif, xmp=xmp, dpi=dpi,
                       dicom=dicom, bits=bits, progress=reporter)
    reporter.done()
    return data


def _encode(image: np.ndarray, *, rank: int | str | None, energy: float | None,
            quality: float | None, target_psnr: float | None, target_size: int | None,
            layout: str | None, factors: str | None, level: int | None, svd: str,
            colour: str | None, subsampling: int | None, patch_size: int, progressive: bool,
            entropy: str | None,
            icc_profile: bytes | None, exif: bytes | None, xmp: bytes | str | None,
            dpi: tuple[float, float] | None, dicom: bytes | None, bits: int | None,
            progress: Progress) -> bytes:
    image, mode = image_mode(image)
    if mode == fmt.Mode.I16S:  # spec section 15.1: the layouts code u = sample + 32768
        image = signed_to_offset(image)
    bits = check_bits(bits, mode)
    if layout is None:
        layout = "per-channel" if (rank, energy, factors) != (None, None, None) else "patch"
    if level is not None and (isinstance(level, bool) or not isinstance(level, int)
                              or not 1 <= level <= 19):
        raise ValueError(f"zstd level must be in 1..19, got {level!r}")
    meta = metadata_chunks(icc_profile, exif, xmp, dpi, dicom)
    if not isinstance(progressive, bool):
        raise TypeError(f"progressive must be a bool, got {progressive!r}")
    if layout == "patch":  # progressive means nothing here: patch files are not salvaged
        return _encode_patch(image, mode, meta, rank=rank, energy=energy, factors=factors,
                             quality=quality, target_psnr=target_psnr, target_size=target_size,
                             level=level, colour=colour, subsampling=subsampling,
                             patch_size=patch_size, entropy=entropy, bits=bits,
                             progress=progress)
    if colour is not None or (subsampling, patch_size, entropy) != (None, 8, None):
        raise ValueError("colour, subsampling, patch_size and entropy need layout='patch'")
    factors = "int8" if factors is None else factors
    level = _zstd.DEFAULT_LEVEL if level is None else level
    if target_size is not None:
        given = [n for n, v in (("rank", rank), ("energy", energy), ("quality", quality),
                                ("target_psnr", target_psnr)) if v is not None]
        if given:
            raise ValueError(f"target_size excludes {given}")
    else:
        criteria = rate_criteria(rank, energy, quality, target_psnr)
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {(*LAYOUTS, 'patch')}, got {layout!r}")
    if factors not in FACTOR_TYPES:
        raise ValueError(f"factors must be one of {FACTOR_TYPES}, got {factors!r}")
    header = fmt.Header(image.shape[1], image.shape[0], mode, fmt.LAYOUT_BY_NAME[layout],
                        fmt.FACTOR_BY_NAME[factors])
    if target_size is not None:
        return wholeencode.encode_to_size(image, header, meta, check_target_size(target_size),
                                          level, svd, progressive, progress)
    return fmt.pack(header, wholeencode.encode_groups(image, header, criteria, level, svd,
                                                      progressive, progress, bits), meta)


def _encode_patch(image: np.ndarray, mode: fmt.Mode, meta: dict[str, bytes], *,
                  rank: int | str | None, energy: float | None, factors: str | None,
                  quality: float | None, target_psnr: float | None, target_size: int | None,
                  level: int | None, colour: str | None, subsampling: int | None,
                  patch_size: int, entropy: str | None, bits: int | None,
                  progress: Progress) -> bytes:
    """The patch layout (spec section 12): see :mod:`.patch.codec`."""
    if (rank, energy, factors) != (None, None, None):
        raise ValueError("rank, energy and factors are options of the whole-image layouts, "
                         "not of layout='patch'")
    given = [n for n, v in (("quality", quality), ("target_psnr", target_psnr),
                            ("target_size", target_size)) if v is not None]
    if len(given) > 1:
        raise ValueError(f"give at most one of quality, target_psnr, target_size; got {given}")
    encoder = patchcodec.PatchEncoder(image, mode, colour=colour, subsampling=subsampling,
                                      patch_size=patch_size,
                                      level=patchcodec.LEVEL if level is None else level,
                                      entropy=entropy, bits=bits)
    if target_size is not None:
        return ratecontrol.search(encoder, meta, target_size=check_target_size(target_size),
                                  progress=progress)
    if target_psnr is not None:
        return ratecontrol.search(encoder, meta, target_psnr=check_target_psnr(target_psnr),
                                  progress=progress)
    quality = DEFAULT_QUALITY if quality is None else check_quality(quality)
    return encoder.encode(quality, meta, progress)


def encode_stack(frames: np.ndarray | Sequence[np.ndarray], *, coding: str = "auto",
                 durations: float | Sequence[float] | None = None, loop: int | None = None,
                 dicom_series: Sequence[bytes] | None = None, **options: Any) -> bytes:
    """Encode N frames of one size and mode as one .svdi stack (spec section 14).

    Parameters
    ----------
    frames : (N, H, W) or (N, H, W, C) uint8/uint16 array, or a sequence of N same-shape
        arrays as :func:`encode` takes them. One frame gives a plain single-image file.
    coding : "frames" (every frame coded alone, as :func:`encode` codes it), "tall" (the
        frames as one image of W x N·Hp rows: one learned patch basis and one adaptive
        context state for all of them), "snapshot" (layout 5: the frames as the columns of one
        matrix, truncated SVD across frames; rank by rank, energy, quality, target_psnr or
        target_size, as the whole-image layouts), or "auto" (default): the smallest of them at
        the requested quality, measured (see :func:`svdcodec.stack.auto.encode_auto`).
    durations : an animation's display time of every frame in milliseconds: one number for
        all frames or a sequence of N (0: none given); stored with ``loop`` in the chunk
        ``anim`` (spec section 16), which :func:`read_header` reports as ``durations`` and
        ``loop``. None (default) with ``loop`` None: no ``anim`` chunk. Not stored for a
        single frame.
    loop : the loop count, 0 (without end) .. 2^32 - 2, as Pillow's ``loop``; None: none
        given (a GIF that plays once).
    dicom_series : the DICOM header of every frame (a Part 10 file without pixel data, spec
        section 15.2), N of them in frame order, stored in the chunk ``dser`` (section 17):
        the slices of a series. :func:`read_dicom_series` gives them back;
        :mod:`svdcodec.integrations.dicom_series` makes them. Excludes ``dicom``; not for a
        single frame (ValueError).
    options : as :func:`encode` (quality, target_psnr, target_size, layout, rank, ...).
        ``target_size`` bounds the whole file (coding "frames": an equal share per frame;
        the ``anim`` chunk is not counted); below what the coding (for "auto": any) can
        make, ValueError naming the smallest target_size it meets.

    Examples
    --------
    >>> import numpy as np, svdcodec
    >>> frames = np.stack([np.full((16, 16), 10 * k, dtype=np.uint8) for k in range(3)])
    >>> data = svdcodec.encode_stack(frames, coding="tall")
    >>> svdcodec.read_header(data).frames, svdcodec.decode_stack(data).shape
    (3, (3, 16, 16))
    >>> info = svdcodec.read_header(svdcodec.encode_stack(frames, durations=[100, 50, 250],
    ...                                                   loop=0))
    >>> info.durations, info.loop
    ((100, 50, 250), 0)
    """
    if dicom_series is not None and options.get("dicom"):
        raise ValueError("dicom_series and dicom exclude each other (spec section 17.1)")
    data = stackencode.encode_stack(frames, coding, encode, options, decode_stack,
                                    durations, loop)
    return data if dicom_series is None else with_dicom_series(data, dicom_series)
