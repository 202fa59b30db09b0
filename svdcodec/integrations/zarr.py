"""svdi as a zarr v3 array -> bytes codec: each chunk is stored as an .svdi file.

The codec's name in the array metadata is ``svdcodec.svdi`` (an unregistered extension, so
prefixed as ZEP 0009 asks) and its configuration is the encode options, e.g.
``{"name": "svdcodec.svdi", "configuration": {"quality": 70}}``. svdcodec registers it under
zarr's ``zarr.codecs`` entry point, so ``zarr.open_array`` reads such a store in any process
where svdcodec is installed. The chunks are compressed already: give ``compressors=None``.

>>> import numpy as np, zarr
>>> from svdcodec.integrations.zarr import SvdiCodec
>>> z = zarr.create_array(store={}, shape=(40, 50, 3), chunks=(32, 32, 3), dtype="uint8",
...                       serializer=SvdiCodec(quality=90), compressors=None)
>>> z[:] = np.full((40, 50, 3), 120, np.uint8)
>>> int(np.abs(z[:].astype(int) - 120).max()) <= 1
True

Shapes and dtypes the codec cannot store, and options that do not fit them, raise when the array
is created. zarr pads the chunks at the array's edges to the full chunk shape with the fill
value and crops them after decoding: every stored chunk is a full-size image.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from zarr.abc.codec import ArrayBytesCodec
from zarr.core.chunk_grids import RegularChunkGrid
from zarr.core.common import parse_named_configuration

from .chunks import check_options, check_options_fit, decode_chunk, encode_chunk

if TYPE_CHECKING:
    from typing_extensions import Self
    from zarr.core.array_spec import ArraySpec
    from zarr.core.buffer import Buffer, NDBuffer
    from zarr.core.chunk_grids import ChunkGrid
    from zarr.core.common import JSON
    from zarr.core.dtype.wrapper import TBaseDType, TBaseScalar, ZDType

NAME = "svdcodec.svdi"


@dataclass(frozen=True)
class SvdiCodec(ArrayBytesCodec):
    """Stores each chunk as an .svdi file; keyword arguments are :func:`svdcodec.encode`'s
    per-chunk options (quality, target_psnr, target_size, rank, energy, layout, factors, entropy,
    colour, subsampling, patch_size, level)."""

    is_fixed_size = False

    # the options as sorted (name, value) pairs: hashable, as a frozen dataclass field must be
    configuration: tuple[tuple[str, Any], ...]

    def __init__(self, **options: Any) -> None:
        object.__setattr__(self, "configuration", tuple(sorted(check_options(options).items())))

    @property
    def options(self) -> dict[str, Any]:
        """The encode options, as :func:`svdcodec.encode` takes them."""
        return dict(self.configuration)

    @classmethod
    def from_dict(cls, data: dict[str, JSON]) -> Self:
        _, configuration = parse_named_configuration(data, NAME, require_configuration=False)
        return cls(**(configuration or {}))

    def to_dict(self) -> dict[str, JSON]:
        return {"name": NAME, "configuration": self.options}

    def validate(self, *, shape: tuple[int, ...], dtype: ZDType[TBaseDType, TBaseScalar],
                 chunk_grid: ChunkGrid) -> None:
        """At array creation (and opening): every chunk must be an image this codec stores."""
        chunks = chunk_grid.chunk_shape if isinstance(chunk_grid, RegularChunkGrid) else shape
        check_options_fit(tuple(chunks), dtype.to_native_dtype(), self.options)

    def compute_encoded_size(self, input_byte_length: int, chunk_spec: ArraySpec) -> int:
        raise NotImplementedError  # variable: it depends on the image

    def _encode_sync(self, chunk_array: NDBuffer, chunk_spec: ArraySpec) -> Buffer | None:
        data = encode_chunk(np.asarray(chunk_array.as_numpy_array()), self.options)
        return chunk_spec.prototype.buffer.from_bytes(data)

    def _decode_sync(self, chunk_bytes: Buffer, chunk_spec: ArraySpec) -> NDBuffer:
        image = decode_chunk(chunk_bytes.to_bytes(), chunk_spec.shape,
                             chunk_spec.dtype.to_native_dtype())
        return chunk_spec.prototype.nd_buffer.from_numpy_array(image)

    # Encoding is CPU work of milliseconds to seconds: in a thread, so that the chunks of one
    # zarr call overlap where numpy and zstd release the GIL.
    async def _encode_single(self, chunk_array: NDBuffer, chunk_spec: ArraySpec
                             ) -> Buffer | None:
        return await asyncio.to_thread(self._encode_sync, chunk_array, chunk_spec)

    async def _decode_single(self, chunk_bytes: Buffer, chunk_spec: ArraySpec) -> NDBuffer:
        return await asyncio.to_thread(self._decode_sync, chunk_bytes, chunk_spec)
