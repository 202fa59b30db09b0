"""Batch conversion from Python: what ``svdcodec encode|decode IN... --out-dir DIR`` does.

>>> from svdcodec.cli.convert import convert
>>> convert([], "out", quality=30)
[]

``convert(paths, out_dir, to="svdi", quality=30)`` encodes image files, ``to="png"`` (or any
format Pillow writes) decodes .svdi files; ``client=`` runs the batch on that Dask cluster
(:mod:`.dask_batch`) instead of local worker processes (:mod:`.batch`). A file that fails is
reported in its :class:`~svdcodec.cli.batch.Outcome`; the others go on.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from . import batch, dask_batch
from .batch import Outcome, Task
from .decodefile import decode_file
from .files import encode_file

if TYPE_CHECKING:
    from distributed import Client

    from ..codec import PathLike


def convert(paths: Iterable[PathLike], out_dir: PathLike, *, to: str = "svdi",
            force: bool = False, jobs: int | None = None, client: Client | None = None,
            rank: int | None = None, allow_truncated: bool = False, **options: Any
            ) -> list[Outcome]:
    """Convert every file of ``paths`` into ``out_dir`` (created if missing) as NAME.``to``.

    Parameters
    ----------
    to : "svdi" encodes images with ``rank`` and ``options`` (those of
        :func:`svdcodec.encode`); an image extension ("png", "tif", "webp", ...) decodes .svdi
        files, with ``rank`` and ``allow_truncated`` as :func:`svdcodec.decode` takes them.
    force : replace existing outputs (an input is never replaced).
    jobs : local worker processes (default: one per CPU); ignored with ``client``.
    client : a ``dask.distributed.Client``: run the files as tasks on its cluster, whose
        workers must see ``paths`` and ``out_dir``.

    Returns
    -------
    One :class:`~svdcodec.cli.batch.Outcome` per path, in the order of ``paths``.
    """
    ext = to.lower().lstrip(".")
    if ext == "svdi":
        if allow_truncated:
            raise ValueError("allow_truncated is a decode option; to='svdi' encodes")
        if rank is not None:
            options["rank"] = rank
        job: batch.Job = functools.partial(encode_file, options=options, force=force)
    else:
        if Image.registered_extensions().get(f".{ext}") not in Image.SAVE:
            raise ValueError(f"to must be 'svdi' or an image format Pillow writes, got {to!r}")
        if options:
            raise ValueError(f"encode options {sorted(options)} need to='svdi'")
        job = functools.partial(decode_file, rank=rank, force=force,
                                allow_truncated=allow_truncated)
    sources = [Path(p) for p in paths]
    if not sources:
        return []
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tasks = batch.plan(sources, out, f".{ext}")
    if client is None:
        outcomes = batch.run(tasks, job, jobs or batch.default_jobs())
    else:
        outcomes = dask_batch.run(tasks, job, client)
    order: dict[Task, int] = {}
    for i, task in enumerate(tasks):
        order.setdefault(task, i)
    return sorted(outcomes, key=lambda o: order[o.task])
