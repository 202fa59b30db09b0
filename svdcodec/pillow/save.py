"""Saving .svdi through Pillow (``Image.save``, ``save_all``): Pillow's save options checked and
turned into :func:`svdcodec.encode` arguments, one frame or a stack (spec section 14) with its
timing (section 16). What each option means is the plugin's documentation
(:mod:`svdcodec.pillow.plugin`, **Saving** and **Animations**); :func:`.plugin.register`
registers :func:`save` and :func:`save_all`."""

from __future__ import annotations

import weakref
from typing import IO, Any

from PIL import Image

from .. import codec
from .convert import one_stored_mode, same_kind, storage_mode, to_stored

# save() options passed on to svdcodec.encode (besides the metadata ones)
SAVE_OPTIONS = ("quality", "rank", "energy", "target_size", "target_psnr", "layout", "factors",
                "progressive")


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


def save(im: Image.Image, fp: IO[bytes], filename: str | bytes) -> None:
    storage_mode(im)  # OSError("cannot write mode X as SVDI") before any work
    options = _encode_options(im, im.encoderinfo)
    array, options["icc_profile"] = to_stored(im, options["icc_profile"])
    fp.write(codec.encode(array, **options))


def save_all(im: Image.Image, fp: IO[bytes], filename: str | bytes) -> None:
    """``save_all=True``: every frame of ``im`` and of ``append_images`` in one stack (spec
    section 14; :func:`svdcodec.encode_stack`, its ``coding`` option, default "auto"); one
    frame is saved as :func:`save` does. Frames of another size or stored mode than the first
    raise ``OSError``.

    A stream refused once (any failure of a multi-frame save) is refused again: imageio's Pillow
    plugin, when its batch write fails, retries from ``close()`` with the frames left, and would
    write them without the first (or the last frame alone).
    """
    images = [im, *im.encoderinfo.get("append_images", ())]
    count = sum(getattr(image, "n_frames", 1) for image in images)
    if _is_refused(fp):
        raise OSError("cannot write to an SVDI stream that refused a multi-frame save")
    if count == 1:
        save(im, fp, filename)
        return
    try:
        _save_stack(im, images, fp)
    except Exception:  # whatever failed, imageio's retry must not write the frames left
        _refuse(fp)
        raise


def _save_stack(im: Image.Image, images: list[Image.Image], fp: IO[bytes]) -> None:
    """Every frame of ``images`` (``im`` first, which holds the options) as one stack."""
    storage_mode(im)
    options = _encode_options(im, im.encoderinfo)
    coding = im.encoderinfo.get("coding", "auto")
    frames: list[Any] = []
    own_durations: list[float | None] = []  # each frame's info["duration"] (GIF, APNG, ...)
    icc = options["icc_profile"]
    for image in images:
        current = image.tell()  # given back as Pillow's other savers do
        try:
            for k in range(getattr(image, "n_frames", 1)):
                if getattr(image, "n_frames", 1) > 1:
                    image.seek(k)
                array, profile = to_stored(image, options["icc_profile"])
                if frames and not same_kind(array, frames[0]):
                    raise OSError(f"cannot write frames of different sizes or modes as one "
                                  f"SVDI stack: {array.shape} {array.dtype} after "
                                  f"{frames[0].shape} {frames[0].dtype}")
                icc = profile if not frames else icc
                frames.append(array)
                own_durations.append(image.info.get("duration"))
        finally:
            if image.tell() != current:
                image.seek(current)
    options["icc_profile"] = icc
    try:
        frames = one_stored_mode(frames)
    except ValueError as exc:
        raise OSError(f"cannot write frames of different sizes or modes as one SVDI stack: "
                      f"{exc}") from None
    durations = im.encoderinfo.get("duration")
    if durations is None and any(d is not None for d in own_durations):
        durations = [0 if d is None else d for d in own_durations]
    loop = im.encoderinfo.get("loop", im.info.get("loop"))
    fp.write(codec.encode_stack(frames, coding=coding, durations=durations, loop=loop,
                                **options))


_refused: weakref.WeakSet[Any] = weakref.WeakSet()  # streams save_all refused


def _is_refused(fp: IO[bytes]) -> bool:
    try:
        return fp in _refused
    except TypeError:  # not weakly referenceable: not remembered
        return False


def _refuse(fp: IO[bytes]) -> None:
    try:
        _refused.add(fp)
    except TypeError:
        pass
