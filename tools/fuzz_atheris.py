"""Coverage-guided fuzzing of the .svdi decoder (and its Pillow plugin) with atheris.

Modelled on Pillow's OSS-Fuzz harness (``Tests/oss-fuzz/fuzz_pillow.py``): every input is decoded
with :func:`svdcodec.decode` (at the stored rank, at rank 1, the progressive path, and with
``allow_truncated``, the salvage of spec section 7.1),
:func:`svdcodec.read_header`, and, when ``import svdcodec`` registers an SVDI Pillow plugin,
``Image.open(...).load()``. The error contract (spec section 9): :class:`svdcodec.SvdiError`, and
through Pillow ``SyntaxError``/``OSError`` (``UnidentifiedImageError`` is one), are expected;
any other exception, warning or hang is a crash and libFuzzer keeps the input as ``crash-*``.

Random bytes rarely get past the chunk CRCs and zstd checksums, so a structure-aware mutator
(``custom_mutator``) also edits chunk bodies, FACT and PTCH payloads (decompressed, edited,
recompressed) and header fields, shuffles / duplicates / deletes chunks, then recomputes every
CRC.

``--differential`` also decodes every patch-layout input with the numpy reference decoder and
treats any difference from the C decoder (samples, or error class) as a crash; for arith
payloads (spec section 13) that compares _arithc with the pure-Python range decoder too. To
catch memory errors in the C decoder, build it with AddressSanitizer and preload the runtime::

    CFLAGS="-O1 -g -fsanitize=address,undefined" pip install -e . --no-build-isolation
    LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)" \
        ASAN_OPTIONS=detect_leaks=0 python tools/fuzz_atheris.py CORPUS --differential ...

Usage::

    pip install atheris   # not a dependency of svdcodec
    python tools/fuzz_atheris.py CORPUS_DIR -max_total_time=600 [libFuzzer flags]
    python tools/fuzz_atheris.py --python CORPUS_DIR -max_total_time=60   # no atheris needed

The corpus directory is created and seeded with small valid files (every mode, layout and factor
type, with metadata) and with ``spec/vectors/*.svdi``. Found crashes belong in
``tests/regressions/`` (``tests/test_hostile_mutations.py`` decodes every file there).
"""

from __future__ import annotations

import importlib
import importlib.util
import io
import random
import struct
import sys
import time
import traceback
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path

try:
    import atheris
except ImportError:  # the pure-Python fallback below still works
    atheris = None

if atheris is not None:
    with atheris.instrument_imports(include=["svdcodec"]):
        import svdcodec
        from svdcodec import format as fmt
        from svdcodec.format.chunks import walk
        from svdcodec.patch import decode as patchdecode
        from svdcodec.patch.reference import decode_planes_reference
        from svdcodec.stack import decode as stackdecode
else:
    import svdcodec
    from svdcodec import format as fmt
    from svdcodec.format.chunks import walk
    from svdcodec.patch import decode as patchdecode
    from svdcodec.patch.reference import decode_planes_reference
    from svdcodec.stack import decode as stackdecode

import numpy as np
import zstandard
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
# Tighter than the defaults so that one input costs milliseconds, as Pillow's harness turns
# DecompressionBombWarning into an error; ``--default-limits`` fuzzes with the real defaults.
FUZZ_LIMITS = svdcodec.Limits(max_alloc_bytes=64 * 2**20, max_work=2**28)
PILLOW_EXPECTED = (SyntaxError, OSError, Image.DecompressionBombError,
                   Image.DecompressionBombWarning)
INTERESTING = (0, 1, 2, 3, 4, 5, 9, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x10000, 2**31 - 1, 2**31,
               2**32 - 1)


# --- the target ---------------------------------------------------------------------------------
def _pillow_format() -> str | None:
    """The Pillow format id that ``import svdcodec`` registered for .svdi, if any."""
    if importlib.util.find_spec("svdcodec.pillow.plugin") is not None:
        try:
            importlib.import_module("svdcodec.pillow.plugin")
        except Exception as exc:  # written concurrently; fuzz the codec alone meanwhile
            print(f"fuzz_atheris: svdcodec.pillow.plugin does not import ({exc!r}); "
                  "fuzzing without Pillow", file=sys.stderr)
            return None
    return Image.registered_extensions().get(".svdi")


PILLOW_FORMAT: str | None = None


DIFFERENTIAL = False


def _outcome(call: Callable[[], object]) -> object:
    try:
        return call()
    except svdcodec.SvdiError as exc:
        return type(exc)


def _differential(data: bytes, rank: int | None) -> None:
    """The C and numpy decoders of the patch layout agree on samples or on the error class."""
    try:
        container = fmt.unpack(data, svdcodec.get_default_limits())
        if container.header.layout != fmt.Layout.PATCH:
            return
        if container.stack is not None:  # spec section 14: the image the chunks code
            container = stackdecode.coded_container(container) \
                if container.stack.coding == fmt.StackCoding.TALL else \
                stackdecode.frame_container(container, 0)
        svdcodec.codec.check_decode_limits(container, svdcodec.get_default_limits(), rank)
    except svdcodec.SvdiError:
        return
    fast = _outcome(lambda: patchdecode.decode_planes(container, rank))  # C: ACCELERATED
    slow = _outcome(lambda: decode_planes_reference(container, rank))
    same = (fast is slow) if not isinstance(slow, np.ndarray) else (
        isinstance(fast, np.ndarray) and fast.dtype == slow.dtype and np.array_equal(fast, slow))
    if not same:
        raise AssertionError(f"C and numpy decoders differ at rank {rank}: "
                             f"{getattr(fast, 'shape', fast)} vs {getattr(slow, 'shape', slow)}")


def test_one_input(data: bytes) -> None:
    """One fuzz input: anything but the contract's errors propagates (a crash)."""
    for call in (svdcodec.decode, lambda d: svdcodec.decode(d, rank=1), svdcodec.read_header,
                 lambda d: svdcodec.decode(d, allow_truncated=True)):
        try:
            call(data)
        except svdcodec.SvdiError:
            pass
    if DIFFERENTIAL and patchdecode.ACCELERATED:
        _differential(data, None)
        _differential(data, 1)
    if PILLOW_FORMAT is not None:
        try:
            with Image.open(io.BytesIO(data), formats=[PILLOW_FORMAT]) as im:
                im.load()
        except (*PILLOW_EXPECTED, svdcodec.SvdiError):
            pass


# --- seeds --------------------------------------------------------------------------------------
def seed_files() -> dict[str, bytes]:
    """Small valid files covering every mode, layout, factor type and metadata chunk."""
    rng = np.random.default_rng(0)
    i, j = np.mgrid[:9, :12]
    smooth = 20.0 + 8.0 * i + 5.0 * j
    seeds: dict[str, bytes] = {}
    for mode, channels, dtype, peak in (("L", 1, np.uint8, 255), ("LA", 2, np.uint8, 255),
                                        ("RGB", 3, np.uint8, 255), ("RGBA", 4, np.uint8, 255),
                                        ("I16", 1, np.uint16, 65535)):
        scale = peak / 255
        planes = [smooth * scale + rng.normal(0, 6 * scale, smooth.shape) + 13 * c * scale
                  for c in range(channels)]
        img = np.clip(np.stack(planes, axis=-1), 0, peak).astype(dtype)
        if channels == 1:
            img = img[:, :, 0]
        for layout in ("per-channel", "stacked", "stacked-vertical"):
            for factors in ("int8", "float16"):
                name = f"seed-{mode}-{layout}-{factors}.svdi"
                seeds[name] = svdcodec.encode(img, rank=3, layout=layout, factors=factors)
    rgb = np.clip(np.stack([smooth] * 3, axis=-1), 0, 255).astype(np.uint8)
    seeds["seed-metadata.svdi"] = svdcodec.encode(
        rgb, rank=2, icc_profile=b"icc" * 5, exif=b"II*\x00" + bytes(8), xmp="<x/>",
        dpi=(72, 96))
    seeds["seed-1x1.svdi"] = svdcodec.encode(np.full((1, 1), 7, dtype=np.uint8), rank=1)
    texture = np.clip(np.stack([smooth + rng.normal(0, 25, smooth.shape) for _ in range(4)],
                               axis=-1), 0, 255).astype(np.uint8)
    for name, img, options in (
            ("rgb-q90", texture[:, :, :3], {"quality": 90}),  # escapes, many components
            ("rgb-q20-420", texture[:, :, :3], {"quality": 20, "subsampling": 2}),
            ("rgba-q60", texture, {"quality": 60}),
            ("l-p4-q70", texture[:, :, 0], {"quality": 70, "patch_size": 4}),
            ("la-p16-q50", texture[:, :, :2], {"quality": 50, "patch_size": 16}),
            ("i16-q80", texture[:, :, 0].astype(np.uint16) * 257, {"quality": 80})):
        seeds[f"seed-patch-{name}.svdi"] = svdcodec.encode(img, **options)  # arith (sec. 13)
        seeds[f"seed-patch-{name}-zstd.svdi"] = svdcodec.encode(img, entropy="zstd", **options)
    for path in sorted((ROOT / "spec" / "vectors").glob("*.svdi")):
        if path.stat().st_size <= 64 * 1024:
            seeds[f"vector-{path.name}"] = path.read_bytes()
    return seeds


def write_seeds(corpus: Path) -> int:
    corpus.mkdir(parents=True, exist_ok=True)
    seeds = seed_files()
    for name, data in seeds.items():
        (corpus / name).write_bytes(data)
    return len(seeds)


# --- structure-aware mutation -------------------------------------------------------------------
Chunks = list[tuple[bytes, bytes]]


def split_chunks(data: bytes) -> tuple[bytes, Chunks, bytes]:
    """(prefix, [(type, body)], tail), leniently: stops at the first chunk that does not fit."""
    start = min(len(data), fmt.PREFIX_SIZE)
    found = list(walk(data, start))
    end = found[-1].end if found else start
    return data[:fmt.PREFIX_SIZE], [(c.type, c.body) for c in found], data[end:]


def join_chunks(prefix: bytes, chunks: Chunks, tail: bytes = b"") -> bytes:
    """Reassemble with every CRC correct (the type need not be letters here)."""
    parts = [prefix]
    for ctype, body in chunks:
        crc = zlib.crc32(body, zlib.crc32(ctype))
        parts.append(fmt.CHUNK_PREFIX.pack(len(body), ctype) + body + fmt.CHUNK_CRC.pack(crc))
    parts.append(tail)
    return b"".join(parts)


def fix_crcs(data: bytes) -> bytes:
    return join_chunks(*split_chunks(data))


def _py_mutate(data: bytes, max_size: int, rnd: random.Random) -> bytes:
    """A byte-level mutator for the fallback (and payloads when atheris is absent)."""
    buf = bytearray(data)
    for _ in range(rnd.randint(1, 4)):
        op = rnd.randrange(6)
        if op == 0 and buf:  # bit flip
            k = rnd.randrange(len(buf))
            buf[k] ^= 1 << rnd.randrange(8)
        elif op == 1 and buf:  # random byte
            buf[rnd.randrange(len(buf))] = rnd.randrange(256)
        elif op == 2 and buf:  # truncate
            del buf[rnd.randrange(len(buf)):]
        elif op == 3:  # insert bytes
            k = rnd.randrange(len(buf) + 1)
            buf[k:k] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 8)))
        elif op == 4 and len(buf) >= 4:  # interesting u32
            k = rnd.randrange(len(buf) - 3)
            buf[k:k + 4] = struct.pack("<I", rnd.choice(INTERESTING) & 0xFFFFFFFF)
        elif op == 5 and buf:  # delete a range
            k = rnd.randrange(len(buf))
            del buf[k:k + rnd.randint(1, 16)]
    return bytes(buf[:max_size])


_LIBFUZZER = False  # atheris.Mutate works only inside atheris.Fuzz()


def _byte_mutate(data: bytes, max_size: int, rnd: random.Random) -> bytes:
    if _LIBFUZZER:
        return atheris.Mutate(data, max_size)
    return _py_mutate(data, max_size, rnd)


def _edit_field(body: bytes, rnd: random.Random) -> bytes:
    """Set one aligned HEAD/FACT-style field (u8, u32 or u64) to an interesting value."""
    if not body:
        return body
    buf = bytearray(body)
    width = rnd.choice((1, 4, 8)) if len(buf) >= 8 else 1
    k = rnd.randrange(0, len(buf) - width + 1)
    value = rnd.choice(INTERESTING) if rnd.random() < 0.8 else rnd.randrange(256**width)
    buf[k:k + width] = (value % 256**width).to_bytes(width, "little")
    return bytes(buf)


def _mutate_payload(body: bytes, max_size: int, rnd: random.Random, fixed: int) -> bytes:
    """Decompress a FACT or PTCH payload (after ``fixed`` header bytes), edit the records,
    recompress (valid frame, sizes kept)."""
    head, payload = body[:fixed], body[fixed:]
    try:  # a frame may declare any size and decompress() would allocate it (issue #332)
        if not 0 < zstandard.frame_content_size(payload) <= max(max_size, 1 << 16):
            return _byte_mutate(body, max_size, rnd)
        raw = zstandard.ZstdDecompressor().decompress(payload)
    except zstandard.ZstdError:
        return _byte_mutate(body, max_size, rnd)
    buf = bytearray(raw)
    for _ in range(rnd.randint(1, 3)):
        if not buf:
            break
        k = rnd.randrange(len(buf))
        kind = rnd.randrange(5)
        if kind == 4:  # PTCH symbols: an escape, a zero, a count or parity out of range
            buf[k] = rnd.choice((0xFF, 0x00, 0x01, 0x04, 0xFE))
        elif kind == 0:  # special float32 (sigma, int8 scales)
            special = (float("nan"), float("inf"), -1.0, 0.0, 1e38, 1e-45)
            buf[k:k + 4] = struct.pack("<f", rnd.choice(special))[:len(buf) - k]
        elif kind == 1:  # special float16 (factors)
            buf[k:k + 2] = rnd.choice((b"\x00\x7e", b"\x00\x7c", b"\xff\x7b"))[:len(buf) - k]
        elif kind == 2:  # int8 -128 and friends
            buf[k] = rnd.choice((0x80, 0x7F, 0x81, 0x00))
        else:
            buf[k] ^= 1 << rnd.randrange(8)
    options = rnd.choice(({}, {"write_checksum": False}, {"write_content_size": False}))
    frame = zstandard.ZstdCompressor(level=1, **options).compress(bytes(buf))
    if rnd.random() < 0.1:  # a second frame or junk after the first
        frame += rnd.choice((frame, b"\x00", b"junk"))
    return (head + frame)[:max_size]


def structured_mutate(data: bytes, max_size: int, seed: int) -> bytes:
    """libFuzzer custom mutator: byte-level or structure-aware edits (see module docstring)."""
    rnd = random.Random(seed)
    choice = rnd.randrange(8)
    if choice == 0:
        return _byte_mutate(data, max_size, rnd)  # CRCs mostly broken: tests the framing
    prefix, chunks, tail = split_chunks(data)
    if choice == 1 or not chunks:
        return fix_crcs(_byte_mutate(data, max_size, rnd))[:max_size]
    k = rnd.randrange(len(chunks))
    ctype, body = chunks[k]
    if choice == 2:  # chunk order, count and kind
        op = rnd.randrange(5)
        if op == 0:
            rnd.shuffle(chunks)
        elif op == 1:
            chunks.insert(rnd.randrange(len(chunks) + 1), chunks[k])
        elif op == 2:
            del chunks[k]
        elif op == 3:
            new = rnd.choice((b"abcd", b"ABCD", b"iccp", b"exif", b"xmpd", b"phys", b"IEND",
                              b"HEAD", b"FACT", b"ab1d"))
            chunks.insert(rnd.randrange(len(chunks) + 1), (new, body if rnd.random() < 0.5
                                                           else bytes(rnd.randrange(12))))
        else:
            tail = rnd.choice((b"", b"\x00", tail + b"x"))
    elif choice in (3, 4):  # a header field (HEAD, or the fixed part of FACT)
        chunks[k] = (ctype, _edit_field(body[:24], rnd) + body[24:])
    elif choice == 5 and ctype in (fmt.ChunkType.FACT, fmt.ChunkType.PTCH):
        fixed = fmt.FACT.size if ctype == fmt.ChunkType.FACT else fmt.PTCH.size
        chunks[k] = (ctype, _mutate_payload(body, max_size, rnd, fixed))
    else:  # any chunk body, byte level, CRC fixed
        chunks[k] = (ctype, _byte_mutate(body, max(1, max_size - len(data) + len(body)), rnd))
    if rnd.random() < 0.05:
        prefix = _byte_mutate(prefix, fmt.PREFIX_SIZE, rnd)
    return join_chunks(prefix, chunks, tail)[:max_size]


def structured_crossover(data1: bytes, data2: bytes, max_size: int, seed: int) -> bytes:
    """Splice chunks of two inputs (e.g. the HEAD of one with the FACTs of another)."""
    rnd = random.Random(seed)
    p1, c1, _ = split_chunks(data1)
    _, c2, t2 = split_chunks(data2)
    cut1, cut2 = rnd.randint(0, len(c1)), rnd.randint(0, len(c2))
    return join_chunks(p1, c1[:cut1] + c2[cut2:], t2)[:max_size]


# --- pure-Python fallback -----------------------------------------------------------------------
def _python_fuzz(corpus: Path, max_total_time: float, seed: int,
                 target: Callable[[bytes], None]) -> int:
    """Random structure-aware mutation without coverage feedback; crashes go to ./crash-*."""
    rnd = random.Random(seed)
    pool = [p.read_bytes() for p in sorted(corpus.iterdir()) if p.is_file()]
    max_size = max(4096, *(len(d) for d in pool))
    runs = crashes = 0
    start = time.monotonic()
    while time.monotonic() - start < max_total_time:
        data = rnd.choice(pool)
        for _ in range(rnd.randint(1, 3)):
            data = structured_mutate(data, max_size, rnd.getrandbits(32))
        runs += 1
        try:
            target(data)
        except Exception:
            crashes += 1
            name = f"crash-{zlib.crc32(data):08x}"
            Path(name).write_bytes(data)
            print(f"==CRASH== {name}\n{traceback.format_exc()}", file=sys.stderr)
        if runs % 5000 == 0:
            pool.append(data)  # keep some depth without coverage feedback
            print(f"#{runs} runs, {crashes} crashes, {time.monotonic() - start:.0f} s",
                  file=sys.stderr)
    print(f"Done {runs} runs in {time.monotonic() - start:.0f} second(s), {crashes} crashes",
          file=sys.stderr)
    return 1 if crashes else 0


def main(argv: list[str] | None = None) -> int:
    global PILLOW_FORMAT, _LIBFUZZER, DIFFERENTIAL
    argv = list(sys.argv if argv is None else argv)
    python_only = "--python" in argv
    default_limits = "--default-limits" in argv
    DIFFERENTIAL = "--differential" in argv
    argv = [a for a in argv if a not in ("--python", "--default-limits", "--differential")]
    dirs = [a for a in argv[1:] if not a.startswith("-")]
    if not dirs:
        print(__doc__, file=sys.stderr)
        return 2
    corpus = Path(dirs[0])
    print(f"fuzz_atheris: {write_seeds(corpus)} seeds written to {corpus}", file=sys.stderr)
    if not default_limits:
        svdcodec.set_default_limits(FUZZ_LIMITS)
    warnings.simplefilter("error")  # a numpy RuntimeWarning is a bug too (pytest agrees)
    PILLOW_FORMAT = _pillow_format()
    print(f"fuzz_atheris: Pillow format {PILLOW_FORMAT or '(not registered: codec only)'}",
          file=sys.stderr)
    if python_only or atheris is None:
        total = next((float(a.split("=", 1)[1]) for a in argv
                      if a.startswith("-max_total_time=")), 60.0)
        return _python_fuzz(corpus, total, 0, test_one_input)
    atheris.Setup(argv, test_one_input, custom_mutator=structured_mutate,
                  custom_crossover=structured_crossover)
    _LIBFUZZER = True
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main())
