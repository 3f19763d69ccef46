"""The best-server composite of many cells: orchestration of the engine, pruning, cache and
workers (one cell's physics is in :mod:`.engine`).

Cells that share an antenna position, height and carrier — the sectors of a site on one band —
share one loss window (:func:`~lomsong.coverage.engine.window_loss`): the window is the unit of
the cache; each cell's level is its EIRP term + its own pattern gain (horizontal and vertical)
− the shared loss, computed and merged for all the window's cells in one compiled pass
(:func:`_merge_cells`; the elevation angles are the antenna's, computed once for its sectors
and bands), and their pruning mask likewise
(:func:`~lomsong.coverage.pruning.window_skip_mask`). Cells of other bands on the same site get
windows of their own, but under ITM the windows of one site and mast are one task of work and
parallelism: ITM's ray geometry (horizons, effective heights, Δh) does not depend on the
frequency, so the rays are walked once for all of them
(:func:`~lomsong.coverage.engine.window_losses`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

import geopandas as gpd
import numba as nb
import numpy as np
from scipy import ndimage

from lomsong.coverage.engine import (
    cell_prediction,
    itm_location_quantile,
    tower_cell,
    warn_model_validity,
    window_loss,
    window_losses,
)
from lomsong.coverage.parallel import window_results
from lomsong.coverage.pruning import (
    PrunedCells,
    antenna_abs_m,
    any_sectored,
    cell_table,
    spread_order,
    top_eirp,
    tower_params,
    window_reaches,
    window_skip_mask,
)
from lomsong.coverage.types import CalibrationResult, Coverage, LossWindow, TowerPrediction
from lomsong.defaults import ENVIRONMENT, LOCATION_PROBABILITY, MAX_RADIUS_KM, RX_HEIGHT_M
from lomsong.grid import Grid, full_spans, row_counts, window_spans
from lomsong.layers.crs import match_crs
from lomsong.propagation.antennas import (
    depression_window,
    sector_db,
    window_bearings,
    window_cell_depression_deg,
)
from lomsong.propagation.paths import half_width

if TYPE_CHECKING:
    from lomsong.coverage.cache import TowerCache

__all__ = ["predict", "merge_prediction"]

logger = logging.getLogger(__name__)

#: A removed cell within this of a composite (dB) may have been its best: entries hold levels
#: rounded to 0.005 dB, the composite may hold the unrounded ones.
_TAKE_OUT_TOL_DB = 0.02
#: Depression-angle windows kept (the antennas of the tasks in flight and the one merging).
_DEPRESSION_WINDOWS = 4
#: An empty stand-in for an array a kernel does not use (no quantile, no group, no mask).
_NONE_B = np.zeros((1, 1), dtype=np.bool_)
_NONE_F32 = np.full((1, 1), -np.inf, dtype=np.float32)
_NO_DEP = np.zeros((1, 1))


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
    location_probability: float = LOCATION_PROBABILITY,
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
        Called as ``progress(done, total)`` (cells) after each shared window.
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
        :func:`predict_tower`): per transmitter (absolute), or per operator/technology and
        tower added to each tower's prediction (relative, from walk tests); candidates are
        predicted with the same calibration (``Coverage.calibration``).

    location_probability
        ITM: the run's location probability p (the rule's); each window is evaluated at the
        location median and at location quantile
        :func:`~lomsong.coverage.engine.itm_location_quantile` of p in one pass, giving
        ``Coverage.power_q`` and ``groups_q``. The closed-form models ignore it.

    Returns
    -------
    Coverage

    Notes
    -----
    Cost per shared window: 8R² ray samples with R = radius / cell size (8 million at 30 km,
    30 m), parallel over rays on all cores; memory ≈ 60 MB per window at that size, freed after
    each (with workers, ≤ 2 windows in flight per worker), plus the composites (float32 grids:
    median, quantile and each group's of both; int32 serving).

    With ITM without calibration, each window is evaluated only where one of its cells could
    beat the cells merged before it (:func:`~lomsong.coverage.pruning.window_skip_mask`):
    ITM's loss at the median and at a location quantile ≥ 50 % is never below free space minus
    the climate's largest median variability (1.25 dB for climate 1), so a cell where EIRP +
    the sector's exact gain − that bound is below the composite at the quantile can never be
    the cell's at either. With
    ``workers`` or a ``scheduler`` the same holds: each window's skipped cells are found when
    it is sent, against the composite of the windows merged by then (the first few run whole).
    The composite is the same (tested against the unpruned one). Cached windows keep those
    cells as skipped; when cells are removed or changed (or a cell is added to a cached
    window), the cached windows whose skipped cells could now serve are evaluated on exactly
    those cells (:class:`~lomsong.coverage.pruning.PrunedCells`).

    Under ITM, a site's carriers of one mast are one task: their windows share one walk of
    the rays (:func:`~lomsong.coverage.engine.window_losses`).

    Reruns with a ``cache`` start from the last composite: new cells are merged into it;
    removed or changed cells (without a calibration) are taken out of it — the grid cells
    where one of them held the best of a composite (median, quantile, per group) are reset
    and merged again, on those cells only, from the cached windows that reach them — so a
    rerun after removals reads the removed cells' windows and those around them, not every
    entry.
    """
    # towers in another CRS (another UTM zone, lon/lat) are points: reprojected exactly
    towers = match_crs(towers, terrain.crs, "<towers>")
    # once per call, naming the towers: the engine's per-window calls do not validate
    warn_model_validity(towers, model, rx_height_m=rx_height_m, max_radius_km=max_radius_km)
    h, w = terrain.shape
    best = np.full((h, w), -np.inf, dtype=np.float32)
    serving = np.full((h, w), -1, dtype=np.int32)
    # ITM carries its own location variability: a second composite at the location quantile
    q = itm_location_quantile(location_probability) if model == "itm" else None
    best_q = np.full((h, w), -np.inf, dtype=np.float32) if q is not None else None
    by_group: dict[tuple[str, str], np.ndarray] = {}
    by_group_q: dict[tuple[str, str], np.ndarray] = {}
    records = towers.reset_index(drop=True)
    n = len(records)
    params: dict = {"environment": environment, "max_radius_km": max_radius_km}
    if q is not None:
        params["location_quantile"] = q
    if calibration is not None:
        params["calibration"] = calibration.applied()
    settings = {"model": model, "rx_height_m": rx_height_m, **params}
    digest = cache.terrain_digest(terrain) if cache is not None else ""
    stats = {"predicted": 0, "cached": 0}
    skipped = 0  # cells not evaluated: certainly weaker than the composite
    tower_rows = records.to_dict("records")
    by_tech = groups == "tech"  # one group per technology ("" operator): fewer, larger groups

    def group_of(i: int) -> tuple[str, str]:
        op = "" if by_tech else str(tower_rows[i].get("operator", ""))
        return (op, str(tower_rows[i].get("tech", "")))

    # the shared windows: cells of one antenna position, height and carrier (a closed-form
    # model under a calibration puts the distance correction in the loss: one window a cell)
    own = calibration is not None and model != "itm"
    shared: dict[tuple, list[int]] = {}
    outside = []
    for i, t in enumerate(tower_rows):
        f_mhz, h_tx, _ = tower_params(t)  # a bad technology or bandwidth fails before any work
        cell = tower_cell(t, terrain)
        if cell is None:
            logger.warning("tower %s is outside the terrain grid: skipped", t.get("tower_id"))
            outside.append(i)
            continue
        key = (*cell, round(h_tx, 6), round(f_mhz, 6), *((i,) if own else ()))
        shared.setdefault(key, []).append(i)
    win_cells = list(shared.values())  # window j: its cells, in index order
    rep = [tower_rows[cells[0]] for cells in win_cells]  # the window's antenna
    # window j's mast (antenna cell and height): a site's carriers share it, and under ITM one
    # walk of the rays
    mast = [key[:3] for key in shared]
    # window j's antenna: grid cell, carrier (MHz), mast (m), height above sea level (m)
    antenna = []
    for t in rep:
        row, col = _window_cell(t, terrain)
        f_mhz, h_tx, _ = tower_params(t)
        antenna.append((row, col, f_mhz, h_tx, antenna_abs_m(t, terrain, row, col)))
    R = half_width(max_radius_km * 1000.0, terrain.res)
    Z = np.ascontiguousarray(terrain.data)
    # without a calibration a cell's level is its EIRP + its exact pattern gain − the shared
    # loss: computed and merged for all the window's cells in one compiled pass
    fused = calibration is None

    def composite_of(group: tuple[str, str] | None) -> np.ndarray:
        """The composite skipped cells are checked against: at the location quantile when the
        model has one (the lower composite), per group when groups are kept."""
        if group is not None:
            return (by_group_q if q is not None else by_group)[group]
        return best_q if best_q is not None else best

    def by_group_of(cells: list[int]) -> list[tuple[tuple[str, str] | None, list[int]]]:
        """The cells grouped as their composites are (one group, None, without groups)."""
        if not groups:
            return [(None, cells)]
        out: dict[tuple[str, str], list[int]] = {}
        for i in cells:
            out.setdefault(group_of(i), []).append(i)
        return list(out.items())

    def group_arrays(g: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
        if g not in by_group:
            by_group[g] = np.full((h, w), -np.inf, dtype=np.float32)
            if q is not None:
                by_group_q[g] = np.full((h, w), -np.inf, dtype=np.float32)
        return by_group[g], (by_group_q[g] if q is not None else _NONE_F32)

    # the depression angles of the last few antennas: a site's sectors and bands share them,
    # from its pruning masks to its merges (32 MB each at 30 km / 30 m)
    deps: dict[tuple, np.ndarray] = {}

    def dep_of(
        j: int, only: np.ndarray | None = None, spans: np.ndarray | None = None
    ) -> np.ndarray:
        """Window j's depression angles (with ``only``: on those grid cells alone, which
        ``spans`` bound), shared by the windows of its antenna position."""
        row, col, *_, z_ant = antenna[j]
        # the mask is the same object for a whole re-merge (take_out's): its id tells them apart
        key = (row, col, z_ant, None if only is None else id(only))
        if key not in deps:
            deps[key] = depression_window(Z, row, col, R, res_m=terrain.res,
                                          antenna_abs_m=z_ant, rx_height_m=rx_height_m,
                                          only=only, spans=spans)  # fmt: skip
            while len(deps) > _DEPRESSION_WINDOWS:
                deps.pop(next(iter(deps)))
        return deps[key]

    done = 0

    def merge(i: int, window: LossWindow | None) -> int:
        """Merge cell ``i``'s level on its window (the calibrated path: one cell at a time);
        returns how many cells it skipped."""
        skips = 0
        if window is not None:
            pred = cell_prediction(tower_rows[i], terrain, window, model=model,
                                   rx_height_m=rx_height_m, calibration=calibration)  # fmt: skip
            skips = merge_prediction(best, serving, pred, i)
            at_q = TowerPrediction(pred.row0, pred.col0, pred.power_q) if q is not None else None
            if at_q is not None:
                merge_prediction(best_q, None, at_q, i)
            if groups:
                g, g_q = group_arrays(group_of(i))
                merge_prediction(g, None, pred, i)
                if at_q is not None:
                    merge_prediction(g_q, None, at_q, i)
        return skips

    def merge_window(
        j: int,
        window: LossWindow | None,
        cells: list[int],
        only: np.ndarray | None = None,
        spans: np.ndarray | None = None,
    ) -> int:
        """Merge the levels of window ``j``'s ``cells`` (with ``only``: on those grid cells
        alone, within the window's ``spans`` of them, cells already counted as merged);
        returns how many window cells inside the grid it skipped (each counted once per
        cell)."""
        nonlocal done
        skips = 0
        if window is None or not fused:
            skips = sum(merge(i, window) for i in cells)
        else:
            row, col, *_, z_ant = antenna[j]
            with_q = window.loss_q is not None
            loss_q = window.loss_q if with_q else _NONE_F32
            main = True
            for g, members in by_group_of(cells):
                # each group's cells into their group's composites; all of them (once) into
                # the overall ones
                table = cell_table([tower_rows[i] for i in (cells if main else members)])
                ids = np.asarray(cells if main else members, dtype=np.int32)
                member = np.isin(ids, members) if g is not None else np.zeros(len(ids), bool)
                g_best, g_best_q = group_arrays(g) if g is not None else (_NONE_F32, _NONE_F32)
                n_skip = _merge_cells(
                    _f32(window.loss), _f32(loss_q), with_q,
                    dep_of(j, only, spans) if (table[:, 1] > 0).any() else _NO_DEP, row, col,
                    window_bearings(2 * R + 1), table, ids, best, serving,
                    best_q if best_q is not None else _NONE_F32, main, g_best, g_best_q, member,
                    only if only is not None else _NONE_B, only is not None,
                    full_spans(R) if spans is None else spans,
                )  # fmt: skip
                if main:
                    skips = n_skip * len(cells)
                main = False
        if only is None:
            done += len(cells)
            if progress is not None:
                progress(done, n)
        return skips

    def take_out(removed: dict[str, np.ndarray]) -> np.ndarray | None:
        """Take the removed (or changed) cells of the last run out of its composites: the grid
        cells where one of them was the best (``serving`` −2) or reaches a composite within
        the cache's rounding are reset to no level, and returned as a mask, to be merged again
        from the other cells' windows. None when a removed cell's window is not in the cache
        (its levels cannot be compared)."""
        dirty = serving == -2
        windows: dict[str, list[int]] = {}
        for k, key in enumerate(removed["window"]):
            if str(key):  # "": the cell stood outside the grid, in no composite
                windows.setdefault(str(key), []).append(k)
        current = set(wkeys)
        for key, ks in windows.items():
            window = cache.get(key)
            if key not in current:  # read only to compare: not kept for this run
                cache.used.discard(key)
            if not isinstance(window, LossWindow) or (window.loss_q is None) != (q is None):
                return None
            row, col, z_ant = (float(v) for v in removed["antenna"][ks[0]])
            with_q = window.loss_q is not None
            loss_q = _f32(window.loss_q) if with_q else _NONE_F32
            composites = [(ks, best, best_q if best_q is not None else _NONE_F32)]
            if groups:
                by_g: dict[tuple[str, str], list[int]] = {}
                for k in ks:
                    by_g.setdefault(tuple(str(removed["group"][k]).split("\x1f")), []).append(k)
                composites += [(members, by_group[g], by_group_q.get(g, _NONE_F32))
                               for g, members in by_g.items() if g in by_group]  # fmt: skip
            for members, comp, comp_q in composites:
                _mark_served(_f32(window.loss), loss_q, with_q, Z, int(row), int(col),
                             terrain.res, z_ant, rx_height_m, window_bearings(2 * R + 1),
                             np.ascontiguousarray(removed["table"][members]), comp, comp_q,
                             _TAKE_OUT_TOL_DB, dirty)  # fmt: skip
        for arr in [best, best_q, *by_group.values(), *by_group_q.values()]:
            if arr is not None:
                arr[dirty] = -np.inf
        serving[dirty] = -1
        logger.info("%d removed or changed cells taken out of the composite: %d grid cells to "
                    "merge again", len(removed["window"]), int(dirty.sum()))  # fmt: skip
        return dirty

    def cell_records() -> dict[str, np.ndarray]:
        """Per cell, what a rerun needs to take it out of the composites (see take_out)."""
        window = [""] * n
        place = np.full((n, 3), np.nan)
        for j, cells in enumerate(win_cells):
            for i in cells:
                window[i] = wkeys[j]
                place[i] = (antenna[j][0], antenna[j][1], antenna[j][4])
        return {"window": np.array(window, dtype=str), "table": cell_table(tower_rows),
                "group": np.array(["\x1f".join(group_of(i)) for i in range(n)], dtype=str),
                "antenna": place}  # fmt: skip

    dirty: np.ndarray | None = None
    # ITM: each window pruned against the composite of the cells merged before it (the other
    # models are cheap, and their losses are not bounded here)
    prune = model == "itm" and calibration is None
    cell_keys: list[str] = []
    wkeys: list[str] = []
    merged: set[int] = set()
    if cache is not None:
        cell_keys = [cache.key(t, terrain_digest=digest, settings=settings) for t in tower_rows]
        wkeys = [cache.window_key(t, terrain_digest=digest, settings=settings, own=own)
                 for t in rep]  # fmt: skip
        # without a calibration (levels from the shared windows), removed or changed cells
        # are taken out of the last composite instead of rebuilding it from every entry
        base = cache.load_composite(cell_keys, (h, w), groups=bool(groups), removals=fused)
        if base is not None and groups and {group_of(i) for i in range(n)} != set(base[2]):
            base = None  # stored with another grouping (per technology / per operator)
        if (
            base is not None
            and q is not None
            and (base[4] is None or (groups and set(base[5]) != set(base[2])))
        ):
            base = None  # stored without the location quantile
        if base is not None:  # start from the last composite
            best, serving, by_group, merged, stored_q, stored_groups_q, removed = base
            if q is not None:
                best_q, by_group_q = stored_q, stored_groups_q
            # taking out costs a read of each removed cell's window and a re-merge of the grid
            # cells they held from the others' windows: when as many cells go as stay (a new
            # engine version changes every key), rebuilding from the entries is cheaper (it
            # cost 99 s in the province case of 6,000 cells, for a composite rebuilt anyway)
            if removed is not None:
                many = len(removed["window"]) >= len(merged)
                dirty = None if many else take_out(removed)
                if dirty is None:  # or a removed cell's window is gone: rebuild from the entries
                    best = np.full((h, w), -np.inf, dtype=np.float32)
                    serving = np.full((h, w), -1, dtype=np.int32)
                    best_q = np.full((h, w), -np.inf, dtype=np.float32) if q is not None else None
                    by_group, by_group_q, merged = {}, {}, set()
            stats["cached"] = done = len(merged)
    for i in outside:
        if i not in merged:
            stats["cached" if cache is not None else "predicted"] += 1
            merge_window(-1, None, [i])
    pending = {j: todo for j, cells in enumerate(win_cells)
               if (todo := [i for i in cells if i not in merged])}  # fmt: skip
    options = {"model": model, "environment": environment, "rx_height_m": rx_height_m,
               "max_radius_km": max_radius_km, "location_probability": location_probability,
               "calibration": calibration}  # fmt: skip

    pruned = PrunedCells(terrain, max_radius_km, rx_height_m) if cache is not None else None
    entries_of: dict[int, list] = {}  # window → its entries in `pruned`

    def record_pruned(
        j: int,
        window: LossWindow,
        cells: list[int],
        only: np.ndarray | None = None,
        spans: np.ndarray | None = None,
    ) -> None:
        """Keep a cached window's skipped cells (with ``only``, those on these grid cells,
        within ``spans``: the other skipped cells stay below an unchanged composite) and its
        cells' bounds there for the check after removals
        (:class:`~lomsong.coverage.pruning.PrunedCells`)."""
        row, col, f_mhz, h_tx, z_ant = antenna[j]
        for g, members in by_group_of(cells):
            key = (j, g)
            pruned.add(key, cell_table([tower_rows[i] for i in members]), window.loss, g,
                       row=row, col=col, f_mhz=f_mhz, h_tx_m=h_tx, z_ant_m=z_ant, only=only,
                       spans=spans)  # fmt: skip
            entries_of.setdefault(j, []).append(key)

    if dirty is not None and dirty.any():
        # the grid cells the removed cells held, merged again from the windows that reach them
        # (the other cells of the composites keep their best: a cell still here)
        sat = np.zeros((h + 1, w + 1), dtype=np.int64)
        sat[1:, 1:] = dirty.cumsum(0).cumsum(1)
        again = []
        for j, cells in enumerate(win_cells):
            row, col = antenna[j][:2]
            r0, r1 = max(row - R, 0), min(row + R + 1, h)
            c0, c1 = max(col - R, 0), min(col + R + 1, w)
            reach = sat[r1, c1] - sat[r0, c1] - sat[r1, c0] + sat[r0, c0]
            if reach > 0 and any(i in merged for i in cells):
                again.append(j)
        # nearest first: once those are merged, a farther window whose bound (EIRP, 0 dB
        # gain, ITM's loss bound) is below the composite on every such cell it reaches is
        # certainly below there, and is not read at all
        near = ndimage.distance_transform_edt(~dirty) if prune else np.zeros((h, w))
        again.sort(key=lambda j: (near[antenna[j][0], antenna[j][1]], j))
        dirty_r, dirty_c = np.nonzero(dirty)  # row-major: sorted by row
        # each window's work on those cells, row by row from its first to its last one
        counts = row_counts(dirty)

        def reaches(j: int) -> bool:
            if not prune:
                return True
            row, col, f_mhz, h_tx, _ = antenna[j]
            held = [i for i in win_cells[j] if i in merged]
            # a group's composite is never above the overall one: checked against it alone
            for g, members in by_group_of(held):
                table = cell_table([tower_rows[i] for i in members])
                if window_reaches(table, composite_of(g), dirty_r, dirty_c, terrain, row, col,
                                  R, f_mhz=f_mhz, h_tx_m=h_tx,
                                  rx_height_m=rx_height_m):  # fmt: skip
                    return True
            return False

        read = 0
        for j, window in _prefetched(cache.get, again, wkeys, keep=reaches):
            read += 1
            held = [i for i in win_cells[j] if i in merged]
            if not isinstance(window, LossWindow) or (window.loss_q is None) != (q is None):
                pending[j] = win_cells[j]  # gone: predicted again whole (merging is idempotent)
                done -= len(held)
                stats["cached"] -= len(held)
                continue
            spans = window_spans(counts, *antenna[j][:2], R)
            if merge_window(j, window, held, only=dirty, spans=spans) and prune:
                record_pruned(j, window, held, only=dirty, spans=spans)
        logger.info("%d cached windows merged again on those cells (%d of those that reach "
                    "them certainly below: not read)", read, len(again) - read)  # fmt: skip

    jobs: list[int] = []
    if cache is None:
        jobs = list(pending)
    else:
        # a rebuilt composite reads every entry: two threads read and decode them (file I/O,
        # Zstandard and the numba decoder release the GIL) while this one merges, in order
        for j, window in _prefetched(cache.get, list(pending), wkeys):
            if not isinstance(window, LossWindow) or (window.loss_q is None) != (q is None):
                jobs.append(j)
                continue
            stats["cached"] += len(pending[j])
            if merge_window(j, window, pending[j]) and prune:
                record_pruned(j, window, pending[j])

    def skip_of(j: int) -> np.ndarray | None:
        """The window's cells that no cell sharing it can serve (None: evaluate all)."""
        if not prune:
            return None
        row, col, f_mhz, h_tx, z_ant = antenna[j]
        mask = None
        for g, members in by_group_of(pending[j]):
            if g is not None and g not in by_group:
                return None  # the group's first window: nothing to be below yet
            table = cell_table([tower_rows[i] for i in members])
            dep = dep_of(j) if (table[:, 1] > 0).any() else None
            m = window_skip_mask(table, composite_of(g), terrain, row, col, R, f_mhz=f_mhz,
                                 h_tx_m=h_tx, z_ant_m=z_ant, rx_height_m=rx_height_m,
                                 depression=dep)  # fmt: skip
            if m is None:
                return None
            mask = m if mask is None else (mask & m)
        return mask

    # cache entries are written by a background thread (compression and file I/O release the
    # GIL) while the next window is predicted; a few pending at most, so memory stays bounded
    writes: list[Future] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="lomsong-cache") as writer:

        def keep(j: int, window: LossWindow | None) -> None:
            nonlocal skipped
            if cache is not None and window is not None:
                writes.append(writer.submit(cache.put, wkeys[j], window))
                while len(writes) > 2:
                    writes.pop(0).result()
            skipped += merge_window(j, window, win_cells[j] if j not in pending else pending[j])

        # one task per site and mast under ITM: its carriers' windows share one walk of the
        # rays (the path geometry is the frequency's neither); sites in spread order
        tasks: dict[tuple, list[int]] = {}
        for k in spread_order([(j, rep[j]) for j in jobs]):
            key = mast[jobs[k]] if model == "itm" else (jobs[k],)
            tasks.setdefault(key, []).append(jobs[k])
        for j, window in window_results(
            [(tuple(js), tuple(rep[j] for j in js)) for js in tasks.values()], terrain,
            options=options, workers=workers, scheduler=scheduler, skips=skip_of,
        ):  # fmt: skip
            stats["predicted"] += len(pending[j])
            keep(j, window)
        # the cached windows' skipped cells that may now be theirs (cells removed or changed,
        # or new cells on a cached window), most likely servers first (each evaluation raises
        # the composite, settling the others' cells): evaluated on exactly those cells
        completed = 0
        seen: set[int] = set()
        # a site's carriers (one antenna cell and mast) are opened together: one walk of the
        # rays for all of them (itm_loss_bands), on the union of their open cells
        site_of: dict[tuple, list[int]] = {}
        for j in entries_of:
            site_of.setdefault(mast[j], []).append(j)
        for j, _ in pruned.candidates(composite_of) if pruned is not None else []:
            if j in seen:
                continue
            siblings = [k for k in site_of[mast[j]] if k not in seen]
            seen.update(siblings)
            opened: dict[int, tuple[LossWindow, np.ndarray]] = {}
            skip = np.ones((2 * R + 1,) * 2, dtype=bool)  # all but the open cells
            for k in siblings:
                old = cache.get(wkeys[k])
                if not isinstance(old, LossWindow):  # gone since it was merged: predicted whole
                    pending[k] = win_cells[k]
                    keep(k, window_loss(rep[k], terrain, **options, skip=skip_of(k)))
                    continue
                cells = np.zeros((2 * R + 1,) * 2, dtype=bool)
                for key in entries_of.get(k, []):
                    cells |= pruned.open_cells(key, old.loss, composite_of)
                if not cells.any():
                    continue
                skip[cells] = False
                opened[k] = (old, cells)
            if not opened:
                continue
            news = window_losses([rep[k] for k in opened], terrain, **options, skip=skip)
            for (k, (old, _)), new in zip(opened.items(), news, strict=True):
                filled = LossWindow(
                    old.row,
                    old.col,
                    _fill(old.loss, new.loss),
                    None if old.loss_q is None else _fill(old.loss_q, new.loss_q),
                )
                done -= len(win_cells[k])
                pending.pop(k, None)  # re-merge every cell of the window (idempotent)
                keep(k, filled)
                completed += 1
        if completed:
            logger.info("%d cached windows evaluated on cells they had skipped", completed)
        for fut in writes:
            fut.result()  # a failed write fails the run
    if cache is not None:
        cache.save_composite(cell_keys, best, serving, by_group, best_q=best_q,
                             groups_q=by_group_q, window_keys=wkeys,
                             cells=cell_records() if fused else None)  # fmt: skip
        logger.info("cells: %(predicted)d predicted, %(cached)d from the cache", stats)
    logger.info("%d cells in %d shared windows", n - len(outside), len(win_cells))
    if skipped:
        logger.info("%d cells skipped: those cells' level there is below the composite", skipped)
    power = np.where(np.isfinite(best), best, np.nan).astype(np.float32)
    power_q = None
    if best_q is not None:
        at_q = np.where(np.isfinite(best_q), best_q, np.nan).astype(np.float32)
        power_q = terrain.with_data(at_q)
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
        power_q=power_q,
        groups_q=by_group_q,
        location_quantile=q,
    )


def _window_cell(tower: dict, terrain: Grid) -> tuple[int, int]:
    cell = tower_cell(tower, terrain)
    assert cell is not None  # windows are made of cells inside the grid
    return cell


def _f32(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32)


def _fill(old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """``old`` with its skipped cells (+inf) taken from ``new`` (the same window)."""
    return np.where(np.isposinf(old), new, old).astype(np.float32)


def _prefetched(
    read: Callable[[str], TowerPrediction | None],
    indices: list[int],
    keys: list[str],
    *,
    keep: Callable[[int], bool] | None = None,
) -> Iterator[tuple[int, TowerPrediction | None]]:
    """``(i, read(keys[i]))`` in order, read by two threads at most 4 entries ahead (each
    entry is up to 16 MB decoded, so memory stays bounded); with ``keep``, only the indices
    it accepts when their turn to be read comes."""
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="lomsong-cache-read") as pool:
        pending: list[tuple[int, Future]] = []
        for i in indices:
            if keep is not None and not keep(i):
                continue
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


@nb.njit(cache=True, inline="always")
def _levels(
    cells: np.ndarray, k: int, lo: np.float32, lo_q: np.float32, bearing: float, dep: float
) -> tuple[np.float32, np.float32]:
    """Cell k's level at the median and at the location quantile on a window cell of losses
    ``lo``, ``lo_q``: float32 EIRP − loss + its exact pattern gain, the operations of
    :func:`~.engine.cell_prediction`."""
    e = np.float32(cells[k, 0])
    p = e - lo
    p_q = e - lo_q
    if cells[k, 1] > 0.0:
        g = sector_db(bearing, dep, cells[k, 2], cells[k, 3], cells[k, 4], cells[k, 5],
                      cells[k, 6], cells[k, 7])  # fmt: skip
        p = p + g
        p_q = p_q + g
    return p, p_q


@nb.njit(cache=True, parallel=True)
def _merge_cells(
    loss: np.ndarray,
    loss_q: np.ndarray,
    with_q: bool,
    depression: np.ndarray,
    row: int,
    col: int,
    bearing: np.ndarray,
    cells: np.ndarray,
    ids: np.ndarray,
    best: np.ndarray,
    serving: np.ndarray,
    best_q: np.ndarray,
    main: bool,
    g_best: np.ndarray,
    g_best_q: np.ndarray,
    member: np.ndarray,
    only: np.ndarray,
    use_only: bool,
    spans: np.ndarray,
) -> int:
    """The levels of the cells sharing a loss window, merged in one pass: cell k's level is
    float32 EIRP (``cells[k, 0]``) − loss + its exact pattern gain
    (:func:`~lomsong.propagation.antennas.sector_db`, as :func:`~.engine.cell_prediction`
    computes it, in the same float32 operations), at the median and (``with_q``) at the
    location quantile; with ``main`` into the overall composites (``best``, ``serving`` with
    ties to the lower id, ``best_q``), and those with ``member`` into their group's; with
    ``use_only``, on the grid cells marked in ``only`` alone; each window row i on its columns
    ``spans[i, 0]`` … ``spans[i, 1]`` − 1 (:func:`~lomsong.grid.window_spans` of ``only``, or
    :func:`~lomsong.grid.full_spans`). The elevation angles are the
    antenna's :func:`~lomsong.propagation.antennas.depression_window`, read for sectors only
    (per-cell gain windows and numpy levels took ~0.15 s a cell at 30 km / 30 m). Returns
    the number of window cells inside the grid (and ``only``) that were skipped (+inf)."""
    size = loss.shape[0]
    R = size // 2
    r0, c0 = row - R, col - R
    h, w = best.shape
    n = cells.shape[0]
    sectored = any_sectored(cells)
    # the highest float32 EIRP: top − loss bounds every cell's level (gains are ≤ 0 and float32
    # rounding is monotone), so a window cell where it reaches no composite needs no gain —
    # most of a window in a dense network, whose cells are served better by others
    top = np.float32(top_eirp(cells))  # rounding is monotone: the highest float32 EIRP
    grouped = member.any()
    skipped = 0
    for i in nb.prange(size):
        r = r0 + i
        if r < 0 or r >= h:
            continue
        for j in range(spans[i, 0], spans[i, 1]):
            c = c0 + j
            if c < 0 or c >= w or (use_only and not only[r, c]):
                continue
            lo = loss[i, j]
            if lo == np.inf:
                skipped += 1
                continue
            if lo != lo:  # NaN: outside the radius, or a void
                continue
            lo_q = loss_q[i, j] if with_q else np.float32(0.0)
            u = top - lo
            u_q = top - lo_q
            # ≥ for the overall best: an equal level of a lower id takes the cell
            if not (
                (main and (u >= best[r, c] or (with_q and u_q > best_q[r, c])))
                or (grouped and (u > g_best[r, c] or (with_q and u_q > g_best_q[r, c])))
            ):
                continue
            dep = depression[i, j] if sectored else np.nan
            for k in range(n):
                p, p_q = _levels(cells, k, lo, lo_q, bearing[i, j], dep)
                if main:
                    cur = best[r, c]
                    if p > cur or (p == cur and ids[k] < serving[r, c]):
                        best[r, c] = p
                        serving[r, c] = ids[k]
                    if with_q and p_q > best_q[r, c]:
                        best_q[r, c] = p_q
                if member[k]:
                    if p > g_best[r, c]:
                        g_best[r, c] = p
                    if with_q and p_q > g_best_q[r, c]:
                        g_best_q[r, c] = p_q
    return skipped


@nb.njit(cache=True, parallel=True)
def _mark_served(
    loss: np.ndarray,
    loss_q: np.ndarray,
    with_q: bool,
    Z: np.ndarray,
    row: int,
    col: int,
    res: float,
    z_ant: float,
    h_rx: float,
    bearing: np.ndarray,
    cells: np.ndarray,
    comp: np.ndarray,
    comp_q: np.ndarray,
    tol: float,
    out: np.ndarray,
) -> None:
    """Mark in ``out`` the grid cells where one of ``cells`` (sharing the loss window) reaches
    the composite ``comp`` (or, ``with_q``, ``comp_q`` at the quantile) within ``tol`` dB:
    where it may be the composite's best, :func:`_merge_cells`' levels."""
    size = loss.shape[0]
    R = size // 2
    r0, c0 = row - R, col - R
    h, w = comp.shape
    n = cells.shape[0]
    sectored = any_sectored(cells)
    for i in nb.prange(size):
        r = r0 + i
        if r < 0 or r >= h:
            continue
        for j in range(size):
            c = c0 + j
            if c < 0 or c >= w or out[r, c]:
                continue
            lo = loss[i, j]
            if not (lo < np.inf):  # skipped (below the composite) or NaN: not its best
                continue
            lo_q = loss_q[i, j] if with_q else np.float32(0.0)
            dep = np.nan
            if sectored:
                dep = window_cell_depression_deg(Z, r0, c0, R, i, j, res, z_ant, h_rx)
            for k in range(n):
                p, p_q = _levels(cells, k, lo, lo_q, bearing[i, j], dep)
                if p + tol >= comp[r, c] or (with_q and p_q + tol >= comp_q[r, c]):
                    out[r, c] = True
                    break
