"""Batch throughput against worker count, process pool and Dask, and zarr rates (issue 14).

    python tools/bench_scale.py [--kodak DIR] [--workers 1,2,N] [--size 4096] [--chunk 1024]
                                [--quality 50] [--repeats 3]

For each worker count (default: 1, 2 and one per CPU): the encode of every PNG in DIR by the
local process pool (``convert(..., jobs=N)``, its start included) and by a Dask LocalCluster of N
worker processes (``convert(..., client=...)``, the cluster started beforehand and its start
time shown apart), each the median of REPEATS runs taken in turn; the outputs of both must be
the same bytes. Then, on that cluster, a SIZE x
SIZE RGB array (the bundled photograph, tiled) written to a zarr store with the svdi codec in
CHUNK x CHUNK chunks and read back whole. Speed-ups are against one worker of the same engine,
all in this one run, so that a change of load hits every row alike as far as it can.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import dask.array as da
import zarr
from distributed import Client, LocalCluster

from svdcodec.cli.batch import default_jobs
from svdcodec.cli.convert import convert
from svdcodec.cli.dask_batch import LOCAL_CLUSTER

sys.path.insert(0, str(Path(__file__).resolve().parent))
from zarr_dask_example import WARM_UP, tiled_image, write_store


def timed_convert(paths: list[Path], out: Path, **kwargs: object) -> float:
    start = time.perf_counter()
    outcomes = convert(paths, out, **kwargs)
    seconds = time.perf_counter() - start
    failed = [o for o in outcomes if o.error is not None]
    if failed:
        raise SystemExit(f"{failed[0].task.source}: {failed[0].error}")
    return seconds


def same_outputs(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in a.iterdir())
    return names == sorted(p.name for p in b.iterdir()) and all(
        (a / n).read_bytes() == (b / n).read_bytes() for n in names)


def zarr_rates(client: Client, store: Path, size: int, chunk: int, quality: float
               ) -> tuple[float, float, float]:
    """(write MiB/s, read MiB/s, compression ratio) of a size x size x 3 array."""
    image = tiled_image(size, chunk)
    _, write_s = write_store(image, store, chunk, quality)
    start = time.perf_counter()
    da.from_zarr(zarr.open_array(store, mode="r")).sum(dtype="u8").compute()
    read_s = time.perf_counter() - start
    stored = sum(p.stat().st_size for p in (store / "c").rglob("*") if p.is_file())
    mib = image.nbytes / 2**20
    return mib / write_s, mib / read_s, image.nbytes / stored


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kodak", type=Path, default=Path("/work/shared/corpus/kodak"))
    parser.add_argument("--workers", default=None,
                        help="comma-separated worker counts (default 1,2,CPUs)")
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--chunk", type=int, default=1024)
    parser.add_argument("--quality", type=float, default=50)
    parser.add_argument("--repeats", type=int, default=3,
                        help="batch runs per engine and worker count; the median is shown")
    args = parser.parse_args(argv)
    counts = sorted({int(w) for w in args.workers.split(",")} if args.workers else
                    {1, 2, default_jobs()})
    paths = sorted(args.kodak.glob("*.png"))
    if not paths:
        raise SystemExit(f"no PNG files in {args.kodak}")
    print(f"{len(paths)} images from {args.kodak}, quality {args.quality}; zarr array "
          f"{args.size}x{args.size}x3 in {args.chunk}x{args.chunk} chunks; {default_jobs()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f} at the start")
    print(f"{'workers':>7} | {'pool s':>7} {'files/s':>7} {'speed-up':>8} | {'dask s':>7} "
          f"{'files/s':>7} {'speed-up':>8} {'start s':>7} | {'zarr write':>10} "
          f"{'zarr read':>10} {'ratio':>6}")
    base: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in counts:
            start = time.perf_counter()
            with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                              **LOCAL_CLUSTER) as cluster, Client(cluster) as client:
                client.run(exec, WARM_UP)
                start_s = time.perf_counter() - start
                pool, dask = [], []
                for r in range(args.repeats):  # in turn, so that a change of load hits both
                    pool.append(timed_convert(paths, Path(tmp) / f"pool{n}-{r}", jobs=n,
                                              quality=args.quality))
                    dask.append(timed_convert(paths, Path(tmp) / f"dask{n}-{r}",
                                              client=client, quality=args.quality))
                    if not same_outputs(Path(tmp) / f"pool{n}-{r}", Path(tmp) / f"dask{n}-{r}"):
                        raise SystemExit(f"-j {n}: the pool and Dask wrote different bytes")
                write, read, ratio = zarr_rates(client, Path(tmp) / f"a{n}.zarr", args.size,
                                                args.chunk, args.quality)
            pool_s, dask_s = statistics.median(pool), statistics.median(dask)
            base.setdefault("pool", pool_s)
            base.setdefault("dask", dask_s)
            print(f"{n:>7} | {pool_s:>7.1f} {len(paths) / pool_s:>7.2f} "
                  f"{base['pool'] / pool_s:>7.2f}x | {dask_s:>7.1f} {len(paths) / dask_s:>7.2f} "
                  f"{base['dask'] / dask_s:>7.2f}x {start_s:>7.1f} | {write:>5.2f} MiB/s "
                  f"{read:>5.1f} MiB/s {ratio:>6.1f}", flush=True)
    print(f"medians of {args.repeats} runs; pool s includes starting its processes, dask s "
          "does not include starting the cluster (start s). Outputs of both engines: identical "
          "bytes.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
