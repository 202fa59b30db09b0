"""What :func:`svdcodec.read_header` reports about a file, without decoding pixels.

:class:`SvdiInfo` for the file, a :class:`GroupInfo` per factor group (and per patch-layout
plane, seen as its matrix of patches), a :class:`PlaneInfo` per patch-layout plane, and the
metadata chunks as the keys Pillow's ``info`` uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import format as fmt

METRES_PER_INCH = 0.0254  # phys stores pixels per metre (spec section 3), dpi is per inch
EXIF_APP1_PREFIX = b"Exif\x00\x00"  # spec section 3, rule 7: stripped on write


@dataclass(frozen=True)
class GroupInfo:
    """One factor group: matrix shape, rank and payload sizes in bytes."""

    index: int
    rows: int
    cols: int
    rank: int
    raw_size: int  # quantized records, before zstd
    compressed_size: int  # the zstd frame as stored


@dataclass(frozen=True)
class PlaneInfo:
    """One plane of the patch layout (spec section 12.2): its geometry and what it stores."""

    index: int
    name: str  # "Y", "Cb", "Cr", "alpha" or "channel c"
    patch_size: int
    subsampling: tuple[int, int]  # (x, y)
    patches: int
    components: int  # basis vectors stored
    coefficients: int  # AC coefficients stored (up to each patch's last non-zero one)
    escapes: int
    deblock: tuple[int, int, int]  # alpha, beta, tc; alpha 0: off
    raw_size: int  # the payload before zstd (its section 12.3 bytes, for an arith payload)
    compressed_size: int  # the zstd frame or arith stream as stored


@dataclass(frozen=True)
class SvdiInfo:
    """What :func:`read_header` reports about a file, without decoding pixels."""

    width: int
    height: int
    mode: str  # "L", "LA", "RGB", "RGBA", "I;16" or "I;16S"
    bit_depth: int
    channels: int
    layout: str
    factors: str
    ranks: tuple[int, ...]
    groups: tuple[GroupInfo, ...]
    file_size: int
    chunks: tuple[fmt.ChunkInfo, ...]
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)
    planes: tuple[PlaneInfo, ...] = ()  # layout patch: its planes (groups lists them too)
    compression: str = "zstd"  # "zstd", or "arith" (layout patch, spec section 13)
    frames: int = 1  # a stack (spec section 14): its frame count N
    stack_coding: str | None = None  # "frames", "tall" or "snapshot"; None: one image
    frame_pitch: int = 0  # stack coding tall: rows per frame in the coded image (Hp)
    # an animation (spec section 16, chunk anim): each frame's display time in milliseconds
    # (0: none given) and the loop count (0: without end); None where the file gives none
    durations: tuple[int, ...] | None = None
    loop: int | None = None
    # a DICOM series (spec section 17, chunk dser): the number of slice headers it holds (one
    # per frame; svdcodec.read_dicom_series gives them); None where the file has no dser
    dicom_series: int | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), as Pillow reports it."""
        return self.width, self.height

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of the decoded numpy array."""
        if self.channels == 1:
            return self.height, self.width
        return self.height, self.width, self.channels


def container_info(container: fmt.Container, file_size: int) -> SvdiInfo:
    """The report of a parsed file; with stack coding frames (spec section 14.2) the groups
    and planes of every frame, in file order; with tall (14.3), planes of the coded image."""
    h = container.coded_header
    name = fmt.MODE_INFO[h.mode][0]
    groups = tuple(GroupInfo(g.index, g.rows, g.cols, g.rank, g.raw_size, len(g.payload))
                   for g in container.groups)
    # patch layout: a plane's matrix has one row per patch and P² columns, rank k (+ the DC)
    groups += tuple(GroupInfo(p.index, p.patches(h), p.patch_size**2, p.components,
                              p.raw_size(h), len(p.payload)) for p in container.planes)
    ycbcr = h.colour_transform == fmt.ColourTransform.YCBCR
    planes = tuple(PlaneInfo(p.index, fmt.plane_name(p.index, ycbcr), p.patch_size,
                             (p.subsample_x, p.subsample_y), p.patches(h), p.components,
                             p.ac_symbols, p.escapes, p.deblock, p.raw_size(h), len(p.payload))
                   for p in container.planes)
    meta = metadata_info(container.metadata)
    stack = container.stack
    coding = None if stack is None else fmt.STACK_CODING_NAMES[stack.coding]
    head = container.header
    anim = container.anim
    return SvdiInfo(head.width, head.height, name, h.bit_depth, h.channels,
                    fmt.LAYOUT_NAMES[h.layout], fmt.FACTOR_NAMES[h.factor_type],
                    tuple(g.rank for g in groups), groups, file_size, container.chunks, meta,
                    planes, fmt.COMPRESSION_NAMES[h.compression], container.frame_count, coding,
                    0 if stack is None else stack.frame_pitch,
                    None if anim is None else anim.durations,
                    None if anim is None else anim.loop,
                    None if container.series is None else container.series.header_count)


def metadata_info(metadata: dict[str, bytes]) -> dict[str, Any]:
    """Ancillary chunks (spec section 3) as info keys: the bytes, and ``phys`` as ``dpi``."""
    info: dict[str, Any] = {k: v for k, v in metadata.items() if k != "phys"}
    if "phys" in metadata:
        info["dpi"] = tuple(p * METRES_PER_INCH for p in fmt.PHYS.unpack(metadata["phys"]))
    return info
