"""Many files on a Dask cluster: ``svdcodec encode|decode IN... --out-dir DIR --scheduler ADDR``.

The other engine of a batch beside :func:`svdcodec.cli.batch.run`'s process pool, with the same
tasks, jobs and outcomes: each file is one Dask task that runs the job
(:func:`~svdcodec.cli.files.encode_file` or :func:`~svdcodec.cli.decodefile.decode_file`) on
a worker, so the output bytes, the refusal to overwrite without ``force`` and the write through
a temporary file and a rename are the same. The workers read the inputs and write the outputs
themselves: on a cluster of several machines, the folders must be on a filesystem they share,
where relative paths are taken from the client's working directory.

``ADDR`` is a running scheduler (``tcp://host:8786``) or ``local``, which starts a
``LocalCluster`` of worker processes for the batch and closes it after. Each task runs with one
BLAS thread, as in the process pool (the reason is in :mod:`svdcodec.cli.batch`); Dask's own
workers start with ``OMP/MKL/OPENBLAS_NUM_THREADS=1`` too. dask.distributed is the optional extra
``svdcodec[dask]``, imported only here, when a batch asks for it.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from threadpoolctl import threadpool_limits
from tqdm import tqdm

from ..patch import decode as patchdecode
from .batch import Job, Outcome, Task, default_jobs, remove_temporaries
from .errors import CliError

if TYPE_CHECKING:
    from distributed import Client

LOCAL = "local"  # --scheduler local: a LocalCluster started for the batch
# No dashboard, and the scheduler's HTTP server (health checks) on a free port of this machine
# only: its default, 8787, warns when another cluster holds it.
LOCAL_CLUSTER: dict[str, Any] = {
    "dashboard_address": None, "scheduler_kwargs": {"dashboard_address": "127.0.0.1:0"}}
CONNECT_TIMEOUT = "10s"  # an unreachable address fails in this long, not dask's 30 s


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise CliError(f"--scheduler needs dask.distributed (pip install 'svdcodec[dask]'): "
                       f"{exc}") from None
    return distributed


@contextlib.contextmanager
def connect(scheduler: str, workers: int | None = None) -> Iterator[Client]:
    """A client of the scheduler at ``scheduler``, or of a new ``LocalCluster`` of ``workers``
    processes (default: one per CPU) when it is ``"local"``; closed (and the cluster shut
    down) after the block."""
    distributed = _distributed()
    if scheduler == LOCAL:
        with distributed.LocalCluster(n_workers=workers or default_jobs(), threads_per_worker=1,
                                      processes=True, **LOCAL_CLUSTER) as cluster, \
                distributed.Client(cluster) as client:
            yield client
        return
    if workers is not None:
        raise CliError("-j sets the workers of the local pool or of --scheduler local; a "
                       "running cluster has its own")
    try:
        client = distributed.Client(scheduler, timeout=CONNECT_TIMEOUT)
    except (OSError, ValueError, TypeError) as exc:
        raise CliError(f"cannot connect to the Dask scheduler {scheduler!r}: {exc}") from None
    with client:
        yield client


def run(tasks: Sequence[Task], job: Job, client: Client, *, desc: str = ""
        ) -> Generator[Outcome, None, None]:
    """Run ``job`` on every task on ``client``'s cluster; yield outcomes as they end.

    A task's exception, or its worker's death, becomes its outcome's error; the batch goes on.
    If the caller stops (Ctrl-C, closing the generator), the tasks not yet started are
    cancelled; those running finish their file (a whole file, through a rename) unless the
    cluster is shut down, as :func:`run_on` does with ``local``.
    """
    distributed = _distributed()
    futures = {}
    with tqdm(total=len(tasks), desc=desc, unit="file", file=sys.stderr, disable=None,
              leave=False) as bar:
        try:
            for task in tasks:
                if task.error is not None:
                    bar.update()
                    yield Outcome(task, task.error)
                else:
                    future = client.submit(run_task, job, task.source, task.output,
                                           os.getcwd(), pure=False)
                    futures[future] = task
            for future in distributed.as_completed(futures):
                bar.update()
                try:
                    outcome = Outcome(futures[future], *future.result())
                except Exception as exc:  # the worker died (KilledWorker), the cluster left
                    outcome = Outcome(futures[future], _first_line(exc))
                yield outcome
        except BaseException:
            client.cancel(list(futures))
            raise


def run_on(scheduler: str, tasks: Sequence[Task], job: Job, *, workers: int | None = None,
           desc: str = "") -> Generator[Outcome, None, None]:
    """:func:`run` on a client of :func:`connect`, closed when the outcomes are exhausted.

    Stopped early, it closes the cluster (a ``local`` one is shut down, its workers killed) and
    then removes the temporary files of the writes that were cut short.
    """
    try:
        with connect(scheduler, workers) as client:
            yield from run(tasks, job, client, desc=desc)
    except BaseException:
        remove_temporaries([t for t in tasks if t.error is None])
        raise


def run_task(job: Job, source: Path, output: Path, cwd: str
             ) -> tuple[str | None, int, int, tuple[str, ...], dict[str, Any] | None]:
    """On a worker: one file, with one BLAS thread, as the fields of its :class:`Outcome`
    after the task: error (None on success), bytes in, bytes out, notes, record.

    Relative paths are taken from the client's working directory ``cwd`` (a worker's may be
    another); the error, notes and record name the paths as the client gave them.
    """
    paths = [(Path(cwd) / p, p) for p in (source, output)]

    def as_given(value: Any) -> Any:
        if isinstance(value, list):
            return [as_given(v) for v in value]
        if isinstance(value, str):
            for absolute, given in paths:
                value = value.replace(str(absolute), str(given))
        return value

    # the workers use every CPU already: no second decoding thread either (the --jobs pool
    # sets SVDCODEC_DECODE_THREADS=1 for the same reason)
    patchdecode.DECODE_THREADS = 1
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            result = job(paths[0][0], paths[1][0])
        record = getattr(result, "record", None)
        if record is not None:
            record = {k: as_given(v) for k, v in record.items()}
        written = record["bytes"] if record is not None and "bytes" in record else \
            paths[1][0].stat().st_size  # a stack decoded frame by frame: the record's sum
        return (None, paths[0][0].stat().st_size, written,
                tuple(as_given(n) for n in getattr(result, "notes", ())), record)
    except Exception as exc:  # one file's failure must not stop the batch
        return as_given(_first_line(exc)), 0, 0, (), None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
