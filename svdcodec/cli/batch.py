"""Many files at once: a process pool whose workers each run BLAS on one thread.

numpy and scipy each bring an OpenBLAS with its own thread pool, sized to the machine. N worker
processes with those defaults would start N x cores x 2 BLAS threads on N cores, which spin
against each other: on a loaded two-core machine two-thread BLAS was measured 5 to 100 times
slower than one thread (see :mod:`svdcodec.whole.linalg`). So a batch runs ``jobs`` processes
with one BLAS thread each. The libraries read their thread count once, when they load, from the
environment: the workers are *spawned* (a fresh interpreter that imports numpy itself, where a
forked child would inherit the parent's already-started BLAS threads) with the variables below
set to 1 while they start.

``run`` yields one :class:`Outcome` per task as the tasks complete; a task's exception becomes
its outcome's ``error`` and the batch goes on.

Ctrl-C (or any exception, or closing the generator) stops a batch at once: the workers ignore
SIGINT, so the parent alone decides; it cancels the queued tasks, terminates the workers, waits
for them to be gone and removes the temporary files of the writes they were killed in. Every
output left behind is a complete file (outputs are written through a rename), and nothing is
written after ``run`` returns.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import glob
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    notes: tuple[str, ...] = ()  # what differs from what was asked, one line each
    record: dict[str, Any] | None = field(default=None, compare=False)  # the job's JSON object


def default_jobs() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def plan(sources: Sequence[Path], out_dir: Path, suffix: str,
         outputs: Callable[[Path, Path], Sequence[Path]] | None = None) -> list[Task]:
    """One task per source, writing ``out_dir / (stem + suffix)``; ``outputs(source, output)``
    names every file the task writes where that is more than ``output`` (a stack decoded to
    NAME-000.png, NAME-001.png, ...).

    A task that would write a file another task already writes, or one of the sources, is
    refused: with -j 2 the two would race (with --force, one would silently replace the
    other's file), and an input must never be overwritten.
    """
    inputs = {_key(s): s for s in sources}
    claimed: dict[Path, Path] = {}
    tasks = []
    for source in sources:
        output = out_dir / (source.stem + suffix)
        written = list(outputs(source, output)) if outputs is not None else [output]
        error = None
        for path in written:
            key = _key(path)
            if key in claimed:
                error = f"output {path} is also the output of {claimed[key]}"
            elif key in inputs:
                error = f"output {path} would overwrite the input file {inputs[key]}"
            if error is not None:
                break
        if error is None:
            claimed.update((_key(path), source) for path in written)
        tasks.append(Task(source, output, error))
    return tasks


def _key(path: Path) -> Path:
    return Path(os.path.abspath(path))


@contextlib.contextmanager
def single_thread_blas() -> Iterator[None]:
    """Set the BLAS thread variables and the decoder's (SVDCODEC_DECODE_THREADS: the workers
    already use every CPU) to 1 in ``os.environ`` for the block, then restore them."""
    names = (*BLAS_THREAD_VARIABLES, "SVDCODEC_DECODE_THREADS")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(dict.fromkeys(names, "1"))
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
    """``jobs`` spawned worker processes with one BLAS thread each, which ignore SIGINT.

    The variables stay set for the whole block: a spawn-context pool starts its workers as
    tasks are submitted, and each copies the environment when it starts. If the block raises
    (KeyboardInterrupt included) the queued tasks are cancelled and the workers terminated and
    joined before the exception goes on.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    with single_thread_blas():
        executor = concurrent.futures.ProcessPoolExecutor(
            max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
            initializer=_ignore_sigint)
        try:
            yield executor
        except BaseException:
            stop(executor)
            raise
        executor.shutdown(wait=True)


def _ignore_sigint() -> None:
    """In a worker: a terminal's Ctrl-C reaches the whole process group; the parent handles it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while workers are started: an ignored signal stays ignored across exec,
    so a Ctrl-C while a worker imports (before its initializer runs) cannot reach it either."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def stop(executor: concurrent.futures.ProcessPoolExecutor) -> None:
    """Cancel the queued tasks, terminate the workers and wait until they are gone, the pool's
    management thread too: ``shutdown(wait=False)`` forgets that thread without joining it, and
    at exit ``concurrent.futures`` wakes it through a pipe it may be closing (Python 3.11: an
    "Exception ignored ... OSError: [Errno 9] Bad file descriptor" after "interrupted", seen
    once in CI)."""
    processes = list((getattr(executor, "_processes", None) or {}).values())
    manager = getattr(executor, "_executor_manager_thread", None)
    executor.shutdown(wait=False, cancel_futures=True)
    terminate = getattr(executor, "terminate_workers", None)  # Python >= 3.14
    if terminate is not None:
        terminate()
    else:
        for process in processes:
            with contextlib.suppress(Exception):
                process.terminate()
    for process in processes:
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
            process.join()
    executor.shutdown(wait=True)
    if manager is not None:
        manager.join(timeout=30)


def run(tasks: Sequence[Task], job: Job, jobs: int, *, desc: str = ""
        ) -> Generator[Outcome, None, None]:
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
        try:
            with pool(min(jobs, len(todo))) as executor:
                with _sigint_ignored():
                    futures = {executor.submit(_run_one, job, task): task for task in todo}
                for future in concurrent.futures.as_completed(futures):
                    bar.update()
                    try:
                        outcome = future.result()
                    except Exception as exc:  # the worker died (e.g. killed): BrokenProcessPool
                        outcome = Outcome(futures[future], _message(exc))
                    yield outcome
        except BaseException:
            remove_temporaries(todo)
            raise


def remove_temporaries(tasks: Sequence[Task]) -> None:
    """Remove what a worker killed inside :func:`svdcodec.codec.atomic_write` left behind: its
    temporary file ``.NAME.XXXX.tmp`` next to the output, or ``.STEM-NNN.SUFFIX.XXXX.tmp``
    next to a stack's frame files (:func:`svdcodec.cli.stackfiles.frame_path`)."""
    for task in tasks:
        out = task.output
        stem, suffix = glob.escape(out.stem), glob.escape(out.suffix)
        patterns = (f".{glob.escape(out.name)}.*.tmp", f".{stem}-[0-9][0-9][0-9]*{suffix}.*.tmp")
        for tmp in (t for p in patterns for t in out.parent.glob(p)):
            frame = tmp.name[len(out.stem) + 2:].split(".", 1)[0]
            if tmp.name.startswith(f".{out.name}.") or frame.isdigit():
                with contextlib.suppress(OSError):
                    tmp.unlink()




def _run_one(job: Job, task: Task) -> Outcome:
    """In a worker: run one task, turning its exception into the outcome's error."""
    try:
        result = job(task.source, task.output)
        record = getattr(result, "record", None)
        # a stack decoded frame by frame writes NAME-000.png, ...: the record counts them all
        written = record["bytes"] if isinstance(record, dict) and "bytes" in record else \
            task.output.stat().st_size
        return Outcome(task, None, task.source.stat().st_size, written,
                       tuple(getattr(result, "notes", ())), record)
    except Exception as exc:  # one file's failure must not stop the batch
        return Outcome(task, _message(exc))


def _message(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
