"""Many files at once: a process pool whose workers each run BLAS on one thread.

numpy and scipy each bring an OpenBLAS with its own thread pool, sized to the machine. N worker
processes with those defaults would start N x cores x 2 BLAS threads on N cores, which spin
against each other: on a loaded two-core machine two-thread BLAS was measured 5 to 100 times
slower than one thread (see :mod:`svdcodec.linalg`). So a batch runs ``jobs`` processes with one
BLAS thread each. The libraries read their thread count once, when they load, from the
environment: the workers are *spawned* (a fresh interpreter that imports numpy itself, where a
forked child would inherit the parent's already-started BLAS threads) with the variables below
set to 1 while they start.

``run`` yields one :class:`Outcome` per task as the tasks complete; a task's exception becomes
its outcome's ``error`` and the batch goes on.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

# Read once at load time by OpenBLAS (numpy's and scipy's wheels), OpenMP, MKL and BLIS builds.
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                         "BLIS_NUM_THREADS")

# job(source, output): a module-level function (or a functools.partial of one), which the pool
# pickles by name; it writes ``output`` or raises.
Job = Callable[[Path, Path], object]


@dataclass(frozen=True)
class Task:
    """One file to convert; ``error`` set means refused before it was started."""

    source: Path
    output: Path
    error: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What became of a task: ``error`` is None on success, else one line."""

    task: Task
    error: str | None = None
    bytes_in: int = 0
    bytes_out: int = 0


def default_jobs() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def plan(sources: Sequence[Path], out_dir: Path, suffix: str) -> list[Task]:
    """One task per source, writing ``out_dir / (stem + suffix)``.

    A task whose output another task already writes, or whose output is one of the sources, is
    refused: with -j 2 the two would race, and an input must never be overwritten.
    """
    inputs = {_key(s): s for s in sources}
    claimed: dict[Path, Path] = {}
    tasks = []
    for source in sources:
        output = out_dir / (source.stem + suffix)
        key = _key(output)
        error = None
        if key in claimed:
            error = f"output {output} is also the output of {claimed[key]}"
        elif key in inputs:
            error = f"output {output} would overwrite the input file {inputs[key]}"
        else:
            claimed[key] = source
        tasks.append(Task(source, output, error))
    return tasks


def _key(path: Path) -> Path:
    return Path(os.path.abspath(path))


@contextlib.contextmanager
def single_thread_blas() -> Iterator[None]:
    """Set the BLAS thread variables to 1 in ``os.environ`` for the block, then restore them."""
    saved = {name: os.environ.get(name) for name in BLAS_THREAD_VARIABLES}
    os.environ.update(dict.fromkeys(BLAS_THREAD_VARIABLES, "1"))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def pool(jobs: int) -> Iterator[concurrent.futures.ProcessPoolExecutor]:
    """``jobs`` spawned worker processes with one BLAS thread each.

    The variables stay set for the whole block: a spawn-context pool starts its workers as
    tasks are submitted, and each copies the environment when it starts.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    with single_thread_blas():
        executor = concurrent.futures.ProcessPoolExecutor(
            max_workers=jobs, mp_context=multiprocessing.get_context("spawn"))
        try:
            yield executor
        except BaseException:
            executor.shutdown(wait=False, cancel_futures=True)
            raise
        executor.shutdown(wait=True)


def run(tasks: Sequence[Task], job: Job, jobs: int, *, desc: str = "") -> Iterator[Outcome]:
    """Run ``job`` on every task in ``min(jobs, len(tasks))`` workers; yield outcomes as they end.

    A tqdm progress bar is drawn on stderr when it is a terminal.
    """
    todo = [t for t in tasks if t.error is None]
    with tqdm(total=len(tasks), desc=desc, unit="file", file=sys.stderr, disable=None,
              leave=False) as bar:
        for task in tasks:
            if task.error is not None:
                bar.update()
                yield Outcome(task, task.error)
        if not todo:
            return
        with pool(min(jobs, len(todo))) as executor:
            futures = {executor.submit(_run_one, job, task): task for task in todo}
            for future in concurrent.futures.as_completed(futures):
                bar.update()
                try:
                    yield future.result()
                except Exception as exc:  # the worker died (e.g. killed): BrokenProcessPool
                    yield Outcome(futures[future], _message(exc))


def _run_one(job: Job, task: Task) -> Outcome:
    """In a worker: run one task, turning its exception into the outcome's error."""
    try:
        job(task.source, task.output)
        return Outcome(task, None, task.source.stat().st_size, task.output.stat().st_size)
    except Exception as exc:  # one file's failure must not stop the batch
        return Outcome(task, _message(exc))


def _message(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
