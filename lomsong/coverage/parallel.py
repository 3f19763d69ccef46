"""Per-tower prediction as the unit of parallel work: in process, local processes, or dask.

In process (the default), each tower's rays already run on every core through numba threads.
Local processes (``workers=N``) and a dask.distributed cluster (``scheduler="tcp://…"``) run
whole towers side by side; the terrain is sent to each worker once (a process initializer, or
``Client.scatter(broadcast=True)``), never once per task.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

from lomsong.coverage.engine import predict_tower
from lomsong.coverage.types import TowerPrediction
from lomsong.grid import Grid

__all__ = ["tower_predictions"]

logger = logging.getLogger(__name__)

_WORKER_TERRAIN: Grid | None = None


def _init_worker(terrain: Grid, threads: int) -> None:
    global _WORKER_TERRAIN
    _WORKER_TERRAIN = terrain
    import numba

    numba.set_num_threads(max(1, threads))  # processes × threads ≤ cores


def _predict_in_worker(i: int, tower: Mapping, options: dict) -> tuple[int, Any]:
    assert _WORKER_TERRAIN is not None, "worker not initialised"
    return i, predict_tower(tower, _WORKER_TERRAIN, **options)


def _predict_task(i: int, tower: Mapping, terrain: Grid, options: dict) -> tuple[int, Any]:
    return i, predict_tower(tower, terrain, **options)


def tower_predictions(
    jobs: Sequence[tuple[int, Mapping]],
    terrain: Grid,
    *,
    options: dict,
    workers: int | None = None,
    scheduler: str | Any | None = None,
    floors: Callable[[int], Any] | None = None,
) -> Iterator[tuple[int, TowerPrediction | None]]:
    """Predict each ``(index, tower)`` job, yielding ``(index, prediction)`` as they finish.

    Parameters
    ----------
    options
        Keyword options of :func:`~lomsong.coverage.engine.predict_tower`.
    workers
        Number of local worker processes (None or 1: in this process).
    scheduler
        Address of a dask.distributed scheduler (``"tcp://host:8786"``) or a ``Client``.
    floors
        In process only: ``floors(index)`` is the tower's ``floor`` (see
        :func:`~lomsong.coverage.engine.predict_tower`), read when its turn comes, after the
        towers yielded before it were merged. Workers and clusters run towers side by side,
        so they predict every cell.
    """
    if not jobs:
        return
    if scheduler is not None:
        yield from _on_dask(jobs, terrain, options, scheduler)
    elif workers is not None and workers > 1 and len(jobs) > 1:
        cores = multiprocessing.cpu_count()
        threads = max(1, cores // workers)
        # spawn, not fork: forking a process whose numba threads are running can deadlock
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=ctx, initializer=_init_worker,
            initargs=(terrain, threads),
        ) as pool:  # fmt: skip
            futures = [pool.submit(_predict_in_worker, i, t, options) for i, t in jobs]
            for fut in as_completed(futures):
                yield fut.result()
    else:
        for i, tower in jobs:
            floor = floors(i) if floors is not None else None
            yield i, predict_tower(tower, terrain, **options, floor=floor)


def _on_dask(
    jobs: Sequence[tuple[int, Mapping]], terrain: Grid, options: dict, scheduler: Any
) -> Iterator[tuple[int, TowerPrediction | None]]:
    from distributed import Client
    from distributed import as_completed as dask_completed

    own = not isinstance(scheduler, Client)
    client = Client(scheduler) if own else scheduler
    try:
        shared = client.scatter(terrain, broadcast=True)  # once per worker, not per task
        futures = [client.submit(_predict_task, i, t, shared, options, pure=False) for i, t in jobs]
        for fut in dask_completed(futures):
            yield fut.result()
    finally:
        if own:
            client.close()
