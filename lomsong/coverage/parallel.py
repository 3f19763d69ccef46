"""The shared loss window as the unit of parallel work: in process, local processes, or dask.

In process (the default), each window's rays already run on every core through numba threads.
Local processes (``workers=N``) and a dask.distributed cluster (``scheduler="tcp://…"``) run
whole windows side by side; the terrain is sent to each worker once (a process initializer, or
``Client.scatter(broadcast=True)``), never once per task. The same tasks everywhere: one
:func:`~lomsong.coverage.engine.window_loss` per window, with the cells it may skip.

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

from lomsong.coverage.engine import window_loss
from lomsong.coverage.types import LossWindow
from lomsong.grid import Grid

__all__ = ["window_results"]

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


def _window_in_worker(j: int, tower: Mapping, options: dict, skip: Any) -> tuple[int, Any]:
    assert _WORKER_TERRAIN is not None, "worker not initialised"
    return j, window_loss(tower, _WORKER_TERRAIN, **options, skip=_unpacked(skip))


def _window_task(j: int, tower: Mapping, terrain: Grid, options: dict, skip: Any) -> tuple:
    import numba
    from distributed import get_worker

    # the worker's threads are its share of the cores: numba's threads for the rays, as local
    # worker processes get theirs (set_num_threads holds for this thread only)
    numba.set_num_threads(max(1, min(numba.config.NUMBA_NUM_THREADS, get_worker().state.nthreads)))
    return j, window_loss(tower, terrain, **options, skip=_unpacked(skip))


def window_results(
    jobs: Sequence[tuple[int, Mapping]],
    terrain: Grid,
    *,
    options: dict,
    workers: int | None = None,
    scheduler: str | Any | None = None,
    skips: Callable[[int], np.ndarray | None] | None = None,
) -> Iterator[tuple[int, LossWindow | None]]:
    """Compute each ``(index, antenna)`` job's loss window, yielding ``(index, window)`` as
    they finish.

    Parameters
    ----------
    options
        Keyword options of :func:`~lomsong.coverage.engine.window_loss`.
    workers
        Number of local worker processes (None or 1: in this process).
    scheduler
        Address of a dask.distributed scheduler (``"tcp://host:8786"``) or a ``Client``.
    skips
        ``skips(index)``: the window's cells not to evaluate (or None), called when the job is
        sent — after the windows yielded before it were merged by the caller.
    """
    if not jobs:
        return

    def skip_of(j: int) -> np.ndarray | None:
        return skips(j) if skips is not None else None

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
                    j, t = queue.pop(0)
                    running.add(pool.submit(_window_in_worker, j, t, options,
                                            _packed(skip_of(j))))  # fmt: skip
                finished, running = wait(running, return_when=FIRST_COMPLETED)
                for fut in finished:
                    yield fut.result()
    else:
        for j, tower in jobs:
            yield j, window_loss(tower, terrain, **options, skip=skip_of(j))


def _on_dask(
    jobs: Sequence[tuple[int, Mapping]],
    terrain: Grid,
    options: dict,
    scheduler: Any,
    skip_of: Callable[[int], np.ndarray | None],
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

        def submit(j: int, t: Mapping):
            return client.submit(_window_task, j, t, shared, options, _packed(skip_of(j)),
                                 pure=False)  # fmt: skip

        first = [submit(*queue.pop(0)) for _ in range(min(len(queue), _IN_FLIGHT * n_workers))]
        pending = dask_completed(first)
        for fut in pending:
            result = fut.result()
            yield result  # the caller merges it before the next job's mask is made
            if queue:
                pending.add(submit(*queue.pop(0)))
    finally:
        if own:
            client.close()
