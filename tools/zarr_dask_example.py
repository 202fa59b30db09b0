"""The worked example of docs/scaling.md: a big image as a Dask array, into a zarr store with the
svdi codec on a LocalCluster, read back lazily (issue 14).

    python tools/zarr_dask_example.py [--size 20000] [--chunk 1024] [--workers 2]
                                      [--quality 50] [--store DIR]

The image (SIZE x SIZE RGB) is the bundled Kodak photograph 23 tiled, built lazily from tiles:
no process ever holds it whole. Each worker encodes one chunk at a time, so its memory stays at
a few chunks whatever SIZE is; the script prints each worker's peak resident memory before and
after the write, the stored bytes and the compression ratio, the PSNR of the whole array (a
reduction over chunks) and the time to decode one region.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import zarr
from distributed import Client, LocalCluster
from PIL import Image

from svdcodec.cli.convert import convert
from svdcodec.cli.dask_batch import LOCAL_CLUSTER
from svdcodec.integrations.zarr import SvdiCodec
from svdcodec.teach.demo import demo_image


def tiled_image(size: int, chunk: int) -> da.Array:
    """``size`` x ``size`` x 3 uint8, the bundled photograph repeated, in (chunk, chunk, 3)."""
    with Image.open(demo_image()) as im:
        photo = da.from_array(np.asarray(im.convert("RGB")), chunks=-1)
    reps = (-(-size // photo.shape[0]), -(-size // photo.shape[1]), 1)
    return da.tile(photo, reps)[:size, :size].rechunk((chunk, chunk, 3))


# Run on each worker before measuring: the imports and a first small encode, so that the peak
# memory after the write minus the one before is the encoding's own.
WARM_UP = ("import numpy, zarr, svdcodec.integrations.zarr\n"
           "svdcodec.encode(numpy.zeros((64, 64, 3), numpy.uint8))")


def peak_rss_mib(client: Client) -> list[float]:
    """Each worker's peak resident memory so far (Linux reports ru_maxrss in KiB)."""
    usage = client.run(resource.getrusage, resource.RUSAGE_SELF)
    return [round(u.ru_maxrss / 1024, 1) for u in usage.values()]


def psnr(a: da.Array, b: da.Array) -> float:
    """PSNR in dB of two uint8 Dask arrays, as a reduction over their chunks."""
    mse = ((a.astype(np.float32) - b.astype(np.float32)) ** 2).mean(dtype=np.float64)
    return float(10 * np.log10(255.0**2 / mse.compute()))


def write_store(image: da.Array, store: Path, chunk: int, quality: float
                ) -> tuple[zarr.Array, float]:
    """Write ``image`` (H, W, 3) to a new zarr store with the svdi codec: the array, seconds."""
    z = zarr.create_array(store=store, shape=image.shape, chunks=(chunk, chunk, 3),
                          dtype="uint8", serializer=SvdiCodec(quality=quality),
                          compressors=None, overwrite=True)
    start = time.perf_counter()
    # One task per chunk, on the workers. (da.to_zarr would first rechunk to blocks of
    # dask's array.chunk-size, 128 MiB: a worker would hold 36 chunks of 3 MiB at once.)
    da.store(image, z, lock=False)
    return z, time.perf_counter() - start


def run(client: Client, store: Path, size: int, chunk: int, quality: float) -> dict[str, Any]:
    """Write, reopen lazily, decode a region; returns the figures printed by :func:`main`."""
    image = tiled_image(size, chunk)
    client.run(exec, WARM_UP)
    before = peak_rss_mib(client)
    z, write_s = write_store(image, store, chunk, quality)
    after = peak_rss_mib(client)
    stored = sum(p.stat().st_size for p in (store / "c").rglob("*") if p.is_file())
    back = da.from_zarr(zarr.open_array(store, mode="r"))  # lazy: nothing decoded yet
    y, x = size // 3, size // 2
    start = time.perf_counter()
    region = back[y:y + 500, x:x + 700].compute()  # decodes only the chunks it touches
    region_s = time.perf_counter() - start
    region_ok = bool(np.array_equal(region.shape, (min(500, size - y), min(700, size - x), 3)))
    start = time.perf_counter()
    quality_db = psnr(image, back)
    read_s = time.perf_counter() - start
    return {"shape": image.shape, "chunks": z.chunks, "raw_bytes": image.nbytes,
            "stored_bytes": stored, "ratio": image.nbytes / stored, "psnr": quality_db,
            "write_s": write_s, "read_and_psnr_s": read_s, "region_s": region_s,
            "region_ok": region_ok, "rss_before_mib": before, "rss_peak_mib": after,
            "chunk_mib": chunk * chunk * 3 / 2**20}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=20000)
    parser.add_argument("--chunk", type=int, default=1024)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quality", type=float, default=50)
    parser.add_argument("--store", type=Path, default=None,
                        help="where to write the zarr store (default: a temporary folder)")
    parser.add_argument("--folder", type=Path, default=None,
                        help="also convert the images of this folder with --scheduler's engine")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, \
            LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                         **LOCAL_CLUSTER) as cluster, Client(cluster) as client:
        store = args.store or Path(tmp) / "big.zarr"
        r = run(client, store, args.size, args.chunk, args.quality)
        h, w, c = r["shape"]
        print(f"{h}x{w}x{c} uint8 in chunks {r['chunks']} on {args.workers} workers: "
              f"{r['raw_bytes']:,} bytes raw, {r['stored_bytes']:,} stored "
              f"(ratio {r['ratio']:.1f}, {8 * r['stored_bytes'] / (h * w):.3f} bpp), "
              f"PSNR {r['psnr']:.2f} dB")
        print(f"write {r['write_s']:.1f} s ({r['raw_bytes'] / 2**20 / r['write_s']:.1f} MiB/s), "
              f"read + PSNR {r['read_and_psnr_s']:.1f} s, one 500x700 region "
              f"{r['region_s']:.2f} s")
        print(f"worker peak RSS: {r['rss_before_mib']} MiB before the write, "
              f"{r['rss_peak_mib']} MiB after (one chunk is {r['chunk_mib']:.1f} MiB raw)")
        if args.folder is not None:
            outcomes = convert(sorted(args.folder.glob("*.png")), Path(tmp) / "svdi",
                               client=client, quality=args.quality)
            ok = [o for o in outcomes if o.error is None]
            print(f"folder: {len(ok)} of {len(outcomes)} files converted, "
                  f"{sum(o.bytes_in for o in ok):,} bytes in, "
                  f"{sum(o.bytes_out for o in ok):,} out")
    return 0


if __name__ == "__main__":
    sys.exit(main())
