"""The shared loss window as the unit of parallel work: in process, local processes, or dask.

In process (the default), each window's rays already run on every core through numba threads.
Local processes (``workers=N``) and a dask.distributed cluster (``scheduler="tcp://…"``) run
whole windows side by side; the terrain is sent to each worker once (a process initializer, or
``Client.scatter(broadcast=True)``), never once per task. The same tasks everywhere: one
:func:`~lomsong.coverage.engine.window_losses` per task — a window, or the windows of one
site's carriers, whose rays ITM walks once — with the cells it may skip.

Pruning side by side: a window's skipped cells are found when it is sent (``skips``), against
the composite of the windows merged by then; at most two windows per worker are in flight, so
every window but the first few is pruned against nearly all those before it (the composite
stays exact whatever the order: a skipped cell is certainly below real predictions). The mask
travels packed, 1 bit a cell (0.5 MB at 30 km / 30 m).
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any

import numpy as np

from lomsong.coverage.engine import window_losses
from lomsong.coverage.types import LossWindow
from lomsong.grid import Grid

__all__ = ["Job", "window_results"]

logger = logging.getLogger(__name__)

_WORKER_TERRAIN: Grid | None = None
#: Windows in flight per worker: enough to keep it busy while the next one's mask is made.
_IN_FLIGHT = 2


def _init_worker(terrain: Grid, threads: int) -> None:
    global _WORKER_TERRAIN
    _WORKER_TERRAIN = terrain
    import numba

    numba.set_num_threads(max(1, threads))  # processes × threads ≤ cores


def _unpacked(skip: tuple[np.ndarray, tuple[int, int]] | None) -> np.ndarray | None:
    if skip is None:
        return None
    bits, shape = skip
    return np.unpackbits(bits, count=shape[0] * shape[1]).astype(bool).reshape(shape)


def _packed(skip: np.ndarray | None) -> tuple[np.ndarray, tuple[int, int]] | None:
    return None if skip is None else (np.packbits(skip), skip.shape)


#: A task: the indices of its windows and their antennas (one site's carriers, or one window).
Job = tuple[tuple[int, ...], tuple[Mapping, ...]]


def _results(job: Job, terrain: Grid, options: dict, skip: np.ndarray | None) -> list[tuple]:
    indices, antennas = job
    windows = window_losses(antennas, terrain, **options, skip=skip)
    return list(zip(indices, windows, strict=True))


def _window_in_worker(job: Job, options: dict, skip: Any) -> list[tuple]:
    assert _WORKER_TERRAIN is not None, "worker not initialised"
    return _results(job, _WORKER_TERRAIN, options, _unpacked(skip))


def _window_task(job: Job, terrain: Grid, options: dict, skip: Any) -> list[tuple]:
    import numba
    from distributed import get_worker

    # the worker's threads are its share of the cores: numba's threads for the rays, as local
    # worker processes get theirs (set_num_threads holds for this thread only)
    numba.set_num_threads(max(1, min(numba.config.NUMBA_NUM_THREADS, get_worker().state.nthreads)))
    return _results(job, terrain, options, _unpacked(skip))


def window_results(
    jobs: Sequence[Job],
    terrain: Grid,
    *,
    options: dict,
    workers: int | None = None,
    scheduler: str | Any | None = None,
    skips: Callable[[int], np.ndarray | None] | None = None,
) -> Iterator[tuple[int, LossWindow | None]]:
    """Compute each job's loss windows, yielding ``(index, window)`` as they finish.

    Parameters
    ----------
    jobs
        ``(indices, antennas)``: one task each, the windows of antennas that share a grid cell
        and a mast (a site's carriers; see :func:`~lomsong.coverage.engine.window_losses`) or
        a single window.
    options
        Keyword options of :func:`~lomsong.coverage.engine.window_losses`.
    workers
        Number of local worker processes (None or 1: in this process).
    scheduler
        Address of a dask.distributed scheduler (``"tcp://host:8786"``) or a ``Client``.
    skips
        ``skips(index)``: the window's cells not to evaluate (or None), called when the job is
        sent — after the windows yielded before it were merged by the caller. A task skips
        the cells every one of its windows skips.
    """
    if not jobs:
        return

    def skip_of(job: Job) -> np.ndarray | None:
        if skips is None:
            return None
        mask = None
        for j in job[0]:
            m = skips(j)
            if m is None:
                return None  # one window evaluates every cell: the walk reaches them anyway
            mask = m if mask is None else (mask & m)
        return mask

    if scheduler is not None:
        yield from _on_dask(jobs, terrain, options, scheduler, skip_of)
    elif workers is not None and workers > 1 and len(jobs) > 1:
        cores = multiprocessing.cpu_count()
        threads = max(1, cores // workers)
        # spawn, not fork: forking a process whose numba threads are running can deadlock
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=ctx, initializer=_init_worker,
            initargs=(terrain, threads),
        ) as pool:  # fmt: skip
            queue = list(jobs)
            running: set = set()
            while queue or running:
                while queue and len(running) < _IN_FLIGHT * workers:
                    job = queue.pop(0)
                    running.add(pool.submit(_window_in_worker, job, options,
                                            _packed(skip_of(job))))  # fmt: skip
                finished, running = wait(running, return_when=FIRST_COMPLETED)
                for fut in finished:
                    yield from fut.result()
    else:
        for job in jobs:
            yield from _results(job, terrain, options, skip_of(job))


def _on_dask(
    jobs: Sequence[Job],
    terrain: Grid,
    options: dict,
    scheduler: Any,
    skip_of: Callable[[Job], np.ndarray | None],
) -> Iterator[tuple[int, LossWindow | None]]:
    from distributed import Client
    from distributed import as_completed as dask_completed

    own = not isinstance(scheduler, Client)
    client = Client(scheduler) if own else scheduler
    try:
        # once per worker, not per task; under a key of its own (hash=False): the same terrain
        # scattered by the previous call on this client has the same content key, which the
        # scheduler may be releasing as this call scatters it ("lost dependencies")
        shared = client.scatter(terrain, broadcast=True, hash=False)
        n_workers = max(1, len(client.scheduler_info().get("workers", {})))
        queue = list(jobs)

        def submit(job: Job):
            return client.submit(_window_task, job, shared, options, _packed(skip_of(job)),
                                 pure=False)  # fmt: skip

        first = [submit(queue.pop(0)) for _ in range(min(len(queue), _IN_FLIGHT * n_workers))]
        pending = dask_completed(first)
        for fut in pending:
            # the caller merges them before the next job's mask is made
            yield from fut.result()
            if queue:
                pending.add(submit(queue.pop(0)))
    finally:
        if own:
            client.close()
