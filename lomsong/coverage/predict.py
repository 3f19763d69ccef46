"""The best-server composite of many towers: orchestration of the engine, pruning, cache and
workers (one tower's physics is in :mod:`.engine`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

import geopandas as gpd
import numba as nb
import numpy as np

from lomsong.coverage.engine import predict_tower, warn_model_validity
from lomsong.coverage.parallel import tower_predictions
from lomsong.coverage.pruning import PrunedCells, fill_skipped, spread_order
from lomsong.coverage.types import CalibrationResult, Coverage, TowerPrediction
from lomsong.defaults import ENVIRONMENT, MAX_RADIUS_KM, RX_HEIGHT_M
from lomsong.grid import Grid
from lomsong.layers.crs import match_crs

if TYPE_CHECKING:
    from lomsong.coverage.cache import TowerCache

__all__ = ["predict", "merge_prediction"]

logger = logging.getLogger(__name__)


def predict(
    towers: gpd.GeoDataFrame,
    terrain: Grid,
    *,
    model: str = "hata",
    environment: str = ENVIRONMENT,
    rx_height_m: float = RX_HEIGHT_M,
    max_radius_km: float = MAX_RADIUS_KM,
    groups: bool | str = False,
    progress: Callable[[int, int], None] | None = None,
    cache: TowerCache | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    calibration: CalibrationResult | None = None,
) -> Coverage:
    """Predict received power of every tower and the best-server composite.

    Parameters
    ----------
    towers
        Towers from :func:`lomsong.read_towers`; reprojected to the terrain's CRS when in
        another (``Coverage.towers`` is in the terrain's CRS). Refused without any CRS.
    terrain
        Elevation Grid (m). Without real terrain, pass a flat grid (ones) over the area.
    model
        "itm" (NTIA Longley-Rice, :data:`ITM_DEFAULTS`), or "fspl", "hata" (Okumura-Hata
        ≤ 1500 MHz, COST-231 Hata above), "cost231", each plus single knife-edge diffraction.
        Towers outside the Hata family's published ranges are named once, in a
        ModelValidityWarning log line per reason (:func:`~.engine.validity_notes`).
    environment
        Hata environment: "urban_large", "urban", "suburban", "open".
    rx_height_m
        Receiver height above ground (m).
    max_radius_km
        Prediction radius around each tower (km).
    groups
        Also keep the best level per (operator, technology) in ``Coverage.groups`` (``"tech"``:
        per technology only, keyed ``("", tech)`` — fewer groups, so pruning stays strong), for
        per-technology thresholds and per-operator coverage (one float32 grid per group).
    progress
        Called as ``progress(done, total)`` after each tower.
    cache
        A :class:`~lomsong.coverage.cache.TowerCache`: towers whose key (radio parameters,
        position, terrain, model) is stored are read back instead of predicted again.
    workers
        Local worker processes predicting towers side by side (default: this process, each
        tower's rays on all cores).
    scheduler
        A dask.distributed scheduler address (or Client): towers become cluster tasks.
    calibration
        Fitted offsets and distance correction from ``lomsong calibrate`` (see
        :func:`predict_tower`).

    Returns
    -------
    Coverage

    Notes
    -----
    Cost per tower: 8R² ray samples with R = radius / cell size (8 million at 30 km, 30 m),
    parallel over rays on all cores; memory ≈ 60 MB per tower at that size, freed after each.

    With ITM in this process (no ``workers``, no ``scheduler``, no calibration), each tower is
    evaluated only where it could beat the towers merged before it (:func:`pruning_mask`):
    ITM's median loss is never below free space minus the climate's largest median
    variability (1.25 dB for climate 1), nor the sector's gain above its horizontal pattern,
    so a cell where that bound is below the composite can never be the tower's. The composite
    is the same (tested against the unpruned one); in a province of 1,000 towers within each
    other's 30 km, later towers skip most of their window (64 % against the final composite
    of the province benchmark), and ITM's per-cell work with them. Cached entries keep those
    cells as skipped; when a tower is removed or changed, the cached towers whose skipped
    cells could now serve are evaluated on exactly those cells (:class:`_PrunedCells`).
    """
    # towers in another CRS (another UTM zone, lon/lat) are points: reprojected exactly
    towers = match_crs(towers, terrain.crs, "<towers>")
    # once per call, naming the towers: the engine's per-window calls do not validate
    warn_model_validity(towers, model, rx_height_m=rx_height_m, max_radius_km=max_radius_km)
    h, w = terrain.shape
    best = np.full((h, w), -np.inf, dtype=np.float32)
    serving = np.full((h, w), -1, dtype=np.int32)
    by_group: dict[tuple[str, str], np.ndarray] = {}
    records = towers.reset_index(drop=True)
    n = len(records)
    params = {"environment": environment, "max_radius_km": max_radius_km}
    if calibration is not None:
        doc = calibration.to_dict()
        params["calibration"] = {"offsets_db": doc["offsets_db"], "distance": doc["distance"]}
    settings = {"model": model, "rx_height_m": rx_height_m, **params}
    digest = cache.terrain_digest(terrain) if cache is not None else ""
    stats = {"predicted": 0, "cached": 0}
    skipped = 0  # cells not evaluated: certainly weaker than the composite
    tower_rows = records.to_dict("records")
    keys = [""] * n
    todo: list[tuple[int, dict]] = []
    done = 0

    by_tech = groups == "tech"  # one group per technology ("" operator): fewer, larger groups

    def group_of(i: int) -> tuple[str, str]:
        op = "" if by_tech else str(tower_rows[i].get("operator", ""))
        return (op, str(tower_rows[i].get("tech", "")))

    def merge(i: int, pred: TowerPrediction | None) -> int:
        """Merge; returns how many cells the prediction skipped."""
        nonlocal done
        skipped = 0
        if pred is not None:
            skipped = merge_prediction(best, serving, pred, i)
            if groups:
                g = group_of(i)
                if g not in by_group:
                    by_group[g] = np.full((h, w), -np.inf, dtype=np.float32)
                merge_prediction(by_group[g], None, pred, i)
        done += 1
        if progress is not None:
            progress(done, n)
        return skipped

    def composite_of(group: tuple[str, str] | None) -> np.ndarray:
        return by_group[group] if group is not None else best

    def floor_of(i: int) -> np.ndarray | None:
        """The composite a tower's cells are pruned against: its group's, when groups are
        kept (each group's best must stay exact), else the overall one (read at call time:
        towers are predicted one after the other, each against those merged before it)."""
        return by_group.get(group_of(i)) if groups else best

    # ITM in this process: each tower pruned against the composite of the towers before it
    # (the other models are cheap, and their losses are not bounded here)
    prune = model == "itm" and calibration is None
    local = prune and workers in (None, 1) and scheduler is None
    again: set[int] = set()  # cached towers predicted again whole (workers, cluster)
    candidates: list[int] = []  # cached towers that may have skipped cells they now serve

    merged: set[int] = set()
    if cache is not None:
        keys = [cache.key(t, terrain_digest=digest, settings=settings) for t in tower_rows]
        base = cache.load_composite(keys, (h, w), groups=bool(groups))
        if base is not None and groups and {group_of(i) for i in range(n)} != set(base[2]):
            base = None  # stored with another grouping (per technology / per operator)
        if base is not None:  # no tower removed or changed: start from the last composite
            best, serving, by_group, merged = base
            stats["cached"] = done = len(merged)
    rest = [i for i in range(n) if i not in merged]
    if cache is None:
        todo = [(i, tower_rows[i]) for i in rest]
    else:
        # a rebuilt composite reads every entry: two threads read and decode them (file I/O,
        # Zstandard and the numba decoder release the GIL) while this one merges, in order
        pruned = PrunedCells(terrain, max_radius_km, rx_height_m)
        for i, pred in _prefetched(cache.get, rest, keys):
            if pred is not None:
                stats["cached"] += 1
                if merge(i, pred):
                    pruned.add(i, tower_rows[i], pred, group_of(i) if groups else None)
            else:
                todo.append((i, tower_rows[i]))
        # entries predicted against a composite that held towers now removed or changed may
        # have skipped cells they would now serve: in process, those cells are evaluated after
        # the new towers (below); towers side by side predict such a tower again whole
        candidates = pruned.candidates(composite_of)
        if not local:
            for i in candidates:
                old = cache.get(keys[i])
                if old is None or pruned.open_cells(i, tower_rows[i], old, composite_of).any():
                    again.add(i)
                    todo.append((i, tower_rows[i]))
            done -= len(again)
    options = {"model": model, "environment": environment, "rx_height_m": rx_height_m,
               "max_radius_km": max_radius_km, "calibration": calibration}  # fmt: skip

    # cache entries are written by a background thread (compression and file I/O release the
    # GIL) while the next tower is predicted; a few pending at most, so memory stays bounded
    writes: list[Future] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="lomsong-cache") as writer:

        def keep(i: int, pred: TowerPrediction | None) -> None:
            nonlocal skipped
            if pred is None:  # outside the grid: remembered as an empty window
                pred = TowerPrediction(0, 0, np.zeros((0, 0), dtype=np.float32))
            if cache is not None:
                writes.append(writer.submit(cache.put, keys[i], pred))
                while len(writes) > 2:
                    writes.pop(0).result()
            skipped += merge(i, pred)

        if local:
            todo = [todo[k] for k in spread_order(todo)]
        for i, pred in tower_predictions(
            todo, terrain, options=options, workers=workers, scheduler=scheduler,
            floors=floor_of if local else None,
        ):  # fmt: skip
            stats["predicted"] += 1
            stats["cached"] -= i in again  # predicted again whole (side by side, unpruned)
            keep(i, pred)
        # in process: the cached towers' skipped cells that may now be theirs, most likely
        # servers first (each evaluation raises the composite, settling the others' cells)
        completed = 0
        for i in candidates if local else []:
            old = cache.get(keys[i])
            if old is None:  # gone since it was merged: predicted again whole
                stats["predicted"] += 1
                stats["cached"] -= 1
                pred = predict_tower(tower_rows[i], terrain, **options, floor=floor_of(i))
            else:
                cells = pruned.open_cells(i, tower_rows[i], old, composite_of)
                if not cells.any():
                    continue
                floor = np.full((h, w), np.inf, dtype=np.float32)  # skip all but those cells
                hh, ww = cells.shape
                floor[old.row0 : old.row0 + hh, old.col0 : old.col0 + ww][cells] = -np.inf
                new = predict_tower(tower_rows[i], terrain, **options, floor=floor)
                pred = fill_skipped(old, new)
                completed += 1
            done -= 1
            keep(i, pred)
        if completed:
            logger.info("%d cached towers evaluated on cells they had skipped", completed)
        for fut in writes:
            fut.result()  # a failed write fails the run
    if cache is not None:
        cache.save_composite(keys, best, serving, by_group)
    if cache is not None:
        logger.info("towers: %(predicted)d predicted, %(cached)d from the cache", stats)
    if skipped:
        logger.info("%d cells skipped: those towers' power there is below the composite", skipped)
    power = np.where(np.isfinite(best), best, np.nan).astype(np.float32)
    return Coverage(
        power=terrain.with_data(power),
        serving=terrain.with_data(serving, nodata=-1),
        towers=records,
        model=model,
        rx_height_m=rx_height_m,
        params=params,
        groups=by_group,
        stats=stats,
        calibration=calibration,
    )


def _prefetched(
    read: Callable[[str], TowerPrediction | None], indices: list[int], keys: list[str]
) -> Iterator[tuple[int, TowerPrediction | None]]:
    """``(i, read(keys[i]))`` in order, read by two threads at most 4 entries ahead (each
    entry is up to 16 MB decoded, so memory stays bounded)."""
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="lomsong-cache-read") as pool:
        pending: list[tuple[int, Future]] = []
        for i in indices:
            pending.append((i, pool.submit(read, keys[i])))
            if len(pending) > 4:
                j, fut = pending.pop(0)
                yield j, fut.result()
        for j, fut in pending:
            yield j, fut.result()


def merge_prediction(
    best: np.ndarray, serving: np.ndarray | None, pred: TowerPrediction, i: int
) -> int:
    """Best-server update in place: cells where tower ``i`` is stronger take its power.

    Ties go to the lower tower index, so the composite does not depend on the order in which
    parallel workers finish. Returns the number of cells the prediction skipped (−inf, see
    :func:`predict_tower`'s ``floor``).
    """
    if pred.power.size == 0:
        return 0
    hh, ww = pred.power.shape
    inside = 0 <= pred.row0 <= best.shape[0] - hh and 0 <= pred.col0 <= best.shape[1] - ww
    if not inside:  # the compiled merge does not check bounds
        raise ValueError(
            f"prediction window {hh} × {ww} at ({pred.row0}, {pred.col0}) exceeds the "
            f"{best.shape[0]} × {best.shape[1]} grid"
        )
    power = np.ascontiguousarray(pred.power, dtype=np.float32)
    if serving is None:
        return _merge_window(best, np.empty((1, 1), dtype=np.int32), False, power, pred.row0,
                             pred.col0, i)  # fmt: skip
    return _merge_window(best, serving, True, power, pred.row0, pred.col0, i)


@nb.njit(cache=True, nogil=True)
def _merge_window(
    best: np.ndarray,
    serving: np.ndarray,
    with_serving: bool,
    power: np.ndarray,
    row0: int,
    col0: int,
    i: int,
) -> int:
    """:func:`merge_prediction` in one pass over the window (numpy's masked assignments took
    11 ms per 30 km window, this ~2 ms: a composite rebuilt from 1,000 cache entries)."""
    hh, ww = power.shape
    skipped = 0
    for a in range(hh):
        for b in range(ww):
            p = power[a, b]
            skipped += p == -np.inf
            cur = best[row0 + a, col0 + b]
            if with_serving:
                # NaN compares False: never serves
                if p > cur or (p == cur and i < serving[row0 + a, col0 + b]):
                    best[row0 + a, col0 + b] = p
                    serving[row0 + a, col0 + b] = i
            elif p > cur:
                best[row0 + a, col0 + b] = p
    return skipped
