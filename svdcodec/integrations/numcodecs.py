"""svdi as a numcodecs codec (``codec_id = "svdi"``): for zarr v2 stores and numcodecs users.

In a zarr v2 array it is the ``compressor``: zarr hands it each chunk as an array, (y, x) or
(y, x, c), and it returns the bytes of an .svdi file. svdcodec registers it under the
``numcodecs.codecs`` entry point, so ``numcodecs.get_codec({"id": "svdi", ...})`` and zarr v2
stores find it without importing svdcodec by hand.

>>> import numpy as np, numcodecs
>>> codec = numcodecs.get_codec({"id": "svdi", "quality": 90})
>>> codec.get_config()
{'id': 'svdi', 'quality': 90}
>>> image = np.full((20, 30), 200, np.uint8)
>>> int(np.abs(codec.decode(codec.encode(image)).astype(int) - 200).max()) <= 1
True
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numcodecs.abc import Codec
from numcodecs.compat import ensure_contiguous_ndarray_like, ensure_ndarray_like, ndarray_copy

from ..errors import CorruptError
from .chunks import check_options, decode_chunk, encode_chunk


class Svdi(Codec):
    """Each buffer is encoded as an .svdi file; keyword arguments are :func:`svdcodec.encode`'s
    per-chunk options (quality, target_psnr, target_size, rank, energy, layout, factors, entropy,
    colour, subsampling, patch_size, level).

    ``encode`` needs an array shaped like an image: (y, x) or (y, x, c), uint8 with c in 1..4,
    or uint16 grey in native byte order and C order (decode sees bytes only, so it could not
    give a big-endian or Fortran-order array back). ``decode`` returns the image, (y, x) or
    (y, x, c), or fills ``out`` (CorruptError when an ndarray ``out`` has another sample
    type, or is an image of another shape, or ``out`` holds another number of bytes).
    """

    codec_id = "svdi"

    def __init__(self, **options: Any) -> None:
        self.options = check_options(options)

    def encode(self, buf: Any) -> bytes:
        if not isinstance(buf, np.ndarray):
            raise TypeError(f"the svdi codec encodes numpy arrays shaped like an image, got "
                            f"{type(buf).__name__}")
        if not buf.dtype.isnative:
            # decode() gets bytes only and returns native-order samples, which zarr v2 views
            # as the array's dtype: a swapped byte order would come back swapped
            raise TypeError(f"the svdi numcodecs codec stores native byte order only, got "
                            f"{buf.dtype.str}: use a {buf.dtype.newbyteorder('=').str} array, "
                            f"or the zarr v3 codec svdcodec.integrations.zarr.SvdiCodec, which "
                            f"knows the array's dtype")
        if buf.flags.f_contiguous and not buf.flags.c_contiguous:
            # decode() returns C order, and zarr v2 reads it in the array's order: an
            # order="F" array came back scrambled
            raise TypeError("the svdi numcodecs codec stores C-order arrays only, got a "
                            "Fortran-order one: use np.ascontiguousarray, a zarr v2 array of "
                            "order='C', or the zarr v3 codec "
                            "svdcodec.integrations.zarr.SvdiCodec")
        return encode_chunk(buf, self.options)

    def decode(self, buf: Any, out: Any = None) -> Any:
        data = ensure_contiguous_ndarray_like(buf).view("u1").tobytes()
        if isinstance(out, np.ndarray):  # the chunk's sample type, and shape if an image's
            image = decode_chunk(data, out.shape if out.ndim >= 2 else None, out.dtype)
        else:
            image = decode_chunk(data)
        if out is None:
            return image
        size = ensure_ndarray_like(out).nbytes  # a flat out: numpy's reshape error before
        if size != image.nbytes:
            raise CorruptError(f"the svdi chunk holds a {image.shape} {image.dtype} image of "
                               f"{image.nbytes} bytes, expected {size} bytes")
        return ndarray_copy(image, out)

    def get_config(self) -> dict[str, Any]:
        return {"id": self.codec_id, **self.options}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Svdi:
        return cls(**{k: v for k, v in config.items() if k != "id"})

    def __repr__(self) -> str:
        return f"Svdi({', '.join(f'{k}={v!r}' for k, v in self.options.items())})"
