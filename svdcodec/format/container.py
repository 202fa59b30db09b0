"""The container of spec/svdi.md (sections 3, 7.1 and 9): a file as an ordered walk of chunks.

:func:`pack` assembles a file and :func:`unpack` parses and checks one -- framing, CRCs, HEAD,
FACT or PTCH fields, metadata, the chunk order -- without decompressing anything. The fields
themselves live in :mod:`.header`, :mod:`.chunks`, :mod:`.fact` and :mod:`.ptch`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import CorruptError, LimitError, SvdiError, TruncatedError, UnsupportedError
from ..limits import Limits
from .chunks import (
    CHUNK_PREFIX,
    METADATA_CHUNKS,
    ChunkType,
    check_metadata,
    chunk_at,
    is_critical,
    pack_chunk,
)
from .dser import Series, unpack_dser
from .fact import FACT, Group, unpack_group
from .frms import Anim, Stack, StackCoding, pack_anim, pack_stack, unpack_anim, unpack_stack
from .header import (
    FORMAT_VERSION,
    LAYOUT_NAMES,
    PREFIX_SIZE,
    SIGNATURE,
    Header,
    Layout,
    check_prefix,
    pack_header,
    unpack_header,
)
from .ptch import Plane, pack_plane, unpack_plane


@dataclass(frozen=True)
class ChunkInfo:
    """Where a chunk sits in the file; ``size`` includes its 12 framing bytes."""

    type: str
    offset: int
    size: int


@dataclass(frozen=True)
class Container:
    """A parsed file: everything but the decompressed factors."""

    header: Header
    groups: tuple[Group, ...]
    metadata: dict[str, bytes]
    chunks: tuple[ChunkInfo, ...]
    planes: tuple[Plane, ...] = ()  # layout patch (section 12); groups is then empty
    # unpack(allow_truncated=True) of a file cut short (section 7.1): why it stopped, and the
    # FACT chunk it ends in, whose payload is a cut zstd frame
    truncated: str = ""
    partial: Group | None = None
    stack: Stack | None = None  # FRMS (section 14): a multi-frame file
    anim: Anim | None = None  # anim (section 16): a stack's durations and loop count
    series: Series | None = None  # dser (section 17): a DICOM series' headers, compressed

    @property
    def frame_count(self) -> int:
        return 1 if self.stack is None else self.stack.frame_count

    @property
    def coded_header(self) -> Header:
        """The header of the image the FACT/PTCH chunks code (section 14.3: tall)."""
        return self.header if self.stack is None else self.stack.coded_header(self.header)

    @property
    def decodable_groups(self) -> tuple[Group, ...]:
        """The FACT groups a decoder uses: the complete ones, then a partial one (7.1)."""
        return self.groups + ((self.partial,) if self.partial is not None else ())


# --- writing ---------------------------------------------------------------------------------
def pack(header: Header, groups: list[Group], metadata: dict[str, bytes] | None = None,
         planes: tuple[Plane, ...] | list[Plane] = (), stack: Stack | None = None) -> bytes:
    """Assemble a file: signature, HEAD, FRMS (a stack, section 14), metadata, FACT (or PTCH)
    chunks, IEND (section 3)."""
    parts = [SIGNATURE, bytes([FORMAT_VERSION]), pack_chunk(ChunkType.HEAD, pack_header(header))]
    if stack is not None:
        parts.append(pack_chunk(ChunkType.FRMS, pack_stack(stack)))
    keys = {key: ctype for ctype, key in METADATA_CHUNKS.items()}
    for key, value in (metadata or {}).items():
        if value:
            parts.append(pack_chunk(keys[key], value))
    for g in groups:
        fact = FACT.pack(g.index, g.rows, g.cols, g.rank, g.raw_size)
        parts.append(pack_chunk(ChunkType.FACT, fact + g.payload))
    for pl in planes:
        parts.append(pack_chunk(ChunkType.PTCH, pack_plane(pl)))
    parts.append(pack_chunk(ChunkType.IEND, b""))
    return b"".join(parts)


def add_anim(data: bytes, anim: Anim) -> bytes:
    """``data``, a stack, with the chunk ``anim`` (section 16) inserted directly after FRMS,
    where section 16 asks encoders to write it; ValueError if ``data`` is no stack."""
    view = memoryview(data)
    head_type, _, offset = chunk_at(view, PREFIX_SIZE)
    frms_type, _, offset = chunk_at(view, offset)
    if (head_type, frms_type) != (ChunkType.HEAD, ChunkType.FRMS):
        raise ValueError("anim belongs to a stack: the data has no FRMS after HEAD")
    return data[:offset] + pack_chunk(ChunkType.ANIM, pack_anim(anim)) + data[offset:]


def add_dser(data: bytes, body: bytes) -> bytes:
    """``data``, a stack, with the chunk ``dser`` (section 17) inserted after FRMS and an
    ``anim`` chunk that follows it (ancillary chunks before the first FACT, section 3 rule 2);
    ValueError if ``data`` is no stack."""
    view = memoryview(data)
    head_type, _, offset = chunk_at(view, PREFIX_SIZE)
    frms_type, _, offset = chunk_at(view, offset)
    if (head_type, frms_type) != (ChunkType.HEAD, ChunkType.FRMS):
        raise ValueError("dser belongs to a stack: the data has no FRMS after HEAD")
    next_type, _, after = chunk_at(view, offset)
    if next_type == ChunkType.ANIM:
        offset = after
    return data[:offset] + pack_chunk(ChunkType.DSER, body) + data[offset:]


# --- reading ---------------------------------------------------------------------------------
def unpack_head(data: bytes | bytearray | memoryview, limits: Limits) -> Header:
    """Only the prefix and the first chunk, HEAD (sections 2–4): the header of a file whose
    later chunks may be broken."""
    view = memoryview(data)
    check_prefix(view)
    ctype, body, _ = chunk_at(view, PREFIX_SIZE)
    if ctype != ChunkType.HEAD:
        raise CorruptError(f"first chunk: expected HEAD, got {ctype.decode()}")
    return unpack_header(body, limits)


def unpack(data: bytes | bytearray | memoryview, limits: Limits, *,
           allow_truncated: bool = False) -> Container:
    """Parse a whole file: framing, CRCs, HEAD, FACT headers, metadata (sections 2–6, 8).

    The factor payloads stay compressed; :func:`svdcodec.codec.check_decode_limits` bounds
    the decode. With ``allow_truncated``, a file cut short after a valid HEAD gives what
    precedes the cut (section 7.1) instead of :class:`TruncatedError`.
    """
    view = memoryview(data)
    check_prefix(view)
    offset = PREFIX_SIZE
    chunks: list[ChunkInfo] = []
    walk: _Walk | None = None  # from HEAD on
    while True:
        if len(chunks) >= limits.max_chunks:
            raise LimitError(f"more than {limits.max_chunks} chunks")
        try:
            ctype, body, next_offset = chunk_at(view, offset)
        except TruncatedError as exc:
            if not allow_truncated or walk is None or _cut_stack(view, offset, walk):
                raise
            partial = None if walk.stack is not None else \
                _partial_group(view, offset, walk.header, len(walk.groups))
            return walk.container(chunks, truncated=str(exc), partial=partial)
        chunks.append(ChunkInfo(ctype.decode(), offset, next_offset - offset))
        offset = next_offset
        if walk is None:
            if ctype != ChunkType.HEAD:
                raise CorruptError(f"first chunk: expected HEAD, got {ctype.decode()}")
            walk = _Walk(unpack_header(body, limits), limits)
        elif ctype == ChunkType.IEND:
            walk.end(body, trailing=len(view) - offset)
            return walk.container(chunks)
        else:
            walk.add(ctype, body)


@dataclass
class _Walk:
    """What :func:`unpack` has gathered from the chunks after HEAD, and the checks of each."""

    header: Header
    limits: Limits
    groups: list[Group] = field(default_factory=list)
    planes: list[Plane] = field(default_factory=list)
    metadata: dict[str, bytes] = field(default_factory=dict)
    metadata_bytes: int = 0
    stack: Stack | None = None
    anim: Anim | None = None
    series: Series | None = None
    after_head: int = 0  # chunks read after HEAD

    def add(self, ctype: bytes, body: memoryview) -> None:
        """A chunk between HEAD and IEND (section 3: critical ones known, others skipped)."""
        self.after_head += 1
        if ctype == ChunkType.FRMS:
            self._add_stack(body)
            return
        self._need_stack()
        if ctype == ChunkType.FACT:
            self._add_group(body)
        elif ctype == ChunkType.PTCH:
            self._add_plane(body)
        elif ctype == ChunkType.HEAD:
            raise CorruptError("duplicate HEAD chunk")
        elif is_critical(ctype):
            raise UnsupportedError(f"unknown critical chunk {ctype.decode()}")
        else:
            self._add_metadata(ctype, body)

    @property
    def expected_groups(self) -> int:
        """FACT or PTCH chunks the file holds: group_count, N times for stack_coding
        frames (section 14.2)."""
        return self.header.group_count * (1 if self.stack is None else self.stack.runs)

    def _add_stack(self, body: memoryview) -> None:
        """FRMS (section 14.1): once, as the chunk right after HEAD."""
        if self.stack is not None:
            raise CorruptError("duplicate FRMS chunk")
        if self.after_head != 1:
            raise CorruptError("FRMS chunk not directly after HEAD (section 14.1)")
        self.stack = unpack_stack(body, self.header, self.limits)

    def _need_stack(self) -> None:
        """Section 14.4: layout snapshot only in a stack (FRMS right after HEAD)."""
        if self.stack is None and self.header.layout == Layout.SNAPSHOT:
            raise CorruptError("layout snapshot without a FRMS chunk after HEAD (section 14.4)")

    def _add_group(self, body: memoryview) -> None:
        header = self.header
        if header.layout == Layout.PATCH:
            raise CorruptError("FACT chunk in a file of layout patch (section 12.1)")
        if len(self.groups) >= self.expected_groups:
            raise CorruptError(f"more FACT chunks than {self.expected_groups}")
        index = len(self.groups) % header.group_count  # section 14.2: restarts per frame
        if self.stack is None:
            self.groups.append(unpack_group(body, header, index))
        else:
            self.groups.append(unpack_group(body, header, index,
                                            self.stack.group_shape(header)))

    def _add_plane(self, body: memoryview) -> None:
        header = self.header
        if header.layout != Layout.PATCH:
            raise CorruptError(f"PTCH chunk in a file of layout {LAYOUT_NAMES[header.layout]}")
        if len(self.planes) >= self.expected_groups:
            raise CorruptError(f"more PTCH chunks than {self.expected_groups}")
        index = len(self.planes) % header.group_count  # section 14.2: restarts per frame
        coded = header if self.stack is None else self.stack.coded_header(header)
        plane = unpack_plane(body, coded, index)
        if self.stack is not None and self.stack.coding == StackCoding.TALL:
            step = plane.patch_size * plane.subsample_y
            if self.stack.frame_pitch % step:
                raise CorruptError(f"FRMS frame_pitch {self.stack.frame_pitch} is not a "
                                   f"multiple of PTCH {index}'s patch_size x subsample_y "
                                   f"{step} (section 14.3)")
        self.planes.append(plane)

    def _add_metadata(self, ctype: bytes, body: memoryview) -> None:
        self.metadata_bytes += len(body)
        if self.metadata_bytes > self.limits.max_metadata_bytes:
            raise LimitError(f"metadata exceeds {self.limits.max_metadata_bytes} bytes")
        if ctype == ChunkType.ANIM:  # section 16: once, in a stack, 4 + 4 N bytes
            if self.anim is not None:
                raise CorruptError("duplicate anim chunk")
            self.anim = unpack_anim(body, self.stack)
            return
        if ctype == ChunkType.DSER:  # section 17.1: once, in a stack, not with dicm
            if self.series is not None:
                raise CorruptError("duplicate dser chunk")
            self.series = unpack_dser(body, self.stack, "dicom" in self.metadata, self.limits)
            return
        key = METADATA_CHUNKS.get(ctype)
        if key is not None:
            if key in self.metadata:
                raise CorruptError(f"duplicate {ctype.decode()} chunk")
            if ctype == ChunkType.DICM and self.series is not None:
                raise CorruptError("dicm chunk in a file with a dser chunk: they exclude each "
                                   "other (section 17.1 rule 2)")
            self.metadata[key] = check_metadata(ctype, body)

    def end(self, body: memoryview, trailing: int) -> None:
        """IEND (section 3): empty, after every group, and the last bytes of the file."""
        self.after_head += 1
        self._need_stack()
        if len(body):
            raise CorruptError(f"IEND length: expected 0, got {len(body)}")
        found = len(self.groups) + len(self.planes)
        if found != self.expected_groups:
            raise CorruptError(f"factor groups: expected {self.expected_groups}, got {found}")
        if trailing:
            raise CorruptError(f"{trailing} bytes of trailing data after IEND")

    def container(self, chunks: list[ChunkInfo], truncated: str = "",
                  partial: Group | None = None) -> Container:
        return Container(self.header, tuple(self.groups), self.metadata, tuple(chunks),
                         tuple(self.planes), truncated=truncated, partial=partial,
                         stack=self.stack, anim=self.anim, series=self.series)


def _cut_stack(view: memoryview, offset: int, walk: _Walk) -> bool:
    """Section 14.4: a stack cut inside its FRMS (type visible) or a layout-5 file cut before
    it is not salvaged: it cannot be decoded as the single image section 7.1 salvages."""
    if walk.stack is not None or walk.header.layout == Layout.SNAPSHOT:
        return walk.stack is None
    return offset + CHUNK_PREFIX.size <= len(view) and \
        CHUNK_PREFIX.unpack_from(view, offset)[1] == ChunkType.FRMS


def _partial_group(view: memoryview, offset: int, header: Header, index: int) -> Group | None:
    """Section 7.1: the FACT chunk a file is cut in, if its fixed fields are all there and
    valid (its CRC cannot be checked); None otherwise."""
    if offset + CHUNK_PREFIX.size > len(view) or header.layout == Layout.PATCH or \
            index >= header.group_count:
        return None
    _, ctype = CHUNK_PREFIX.unpack_from(view, offset)
    if ctype != ChunkType.FACT:
        return None
    try:
        return unpack_group(view[offset + CHUNK_PREFIX.size:], header, index)
    except SvdiError:
        return None
