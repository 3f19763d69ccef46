"""Signal prediction over terrain: per-tower received power and the best-server composite.

Received power (dBm) at receiver height = EIRP (dBm) + antenna pattern gain relative to boresight
(dB, ≤ 0) − path loss (dB). Path loss is the closed-form model's distance loss plus knife-edge
diffraction over the dominant terrain obstacle of the profile (see :mod:`.profiles`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import geopandas as gpd
import numba as nb
import numpy as np

from lomsong.coverage import antennas, itm_raster, models, profiles
from lomsong.coverage.profiles import half_width
from lomsong.defaults import MAX_RADIUS_KM, RX_HEIGHT_M
from lomsong.errors import InputError, LomsongError
from lomsong.grid import Grid

if TYPE_CHECKING:
    from lomsong.coverage.cache import TowerCache
    from lomsong.coverage.calibrate import CalibrationResult

__all__ = ["Coverage", "TowerPrediction", "predict", "predict_tower", "path_loss_points",
           "RASTER_MODELS"]  # fmt: skip

logger = logging.getLogger(__name__)

#: Models the raster engine evaluates. "hata" switches to COST-231 Hata above 1500 MHz (the
#: Hata family's usual split: Okumura-Hata is published for 150–1500 MHz only); "itm" is the
#: NTIA Longley-Rice point-to-point model evaluated incrementally along rays (:mod:`.itm_raster`).
RASTER_MODELS = ("fspl", "hata", "cost231", "itm")
#: ITM radio-climate and ground defaults for Vietnam: climate 1 (equatorial), surface
#: refractivity N0 = 350 N-units (humid tropics), average ground (ε = 15, σ = 0.005 S/m),
#: vertical polarisation, mdvar 12 (broadcast mode, location variability eliminated — the
#: cell value is the median over time and situations), 50 % time/location/situation.
ITM_DEFAULTS = {"climate": 1, "n0": 350.0, "pol": 1, "epsilon": 15.0, "sigma": 0.005,
                "mdvar": 12, "time": 50.0, "location": 50.0, "situation": 50.0}  # fmt: skip
_HATA_MAX_MHZ = 1500.0


@dataclass
class Coverage:
    """Result of :func:`predict`.

    Attributes
    ----------
    power
        float32 Grid of best-server received power (dBm) at receiver height;
        NaN where no tower is within range.
    serving
        int32 Grid of the serving tower's positional index into ``towers`` (-1 = none).
    towers
        The towers predicted (project CRS), in the order that ``serving`` indexes.
    model
        Name of the propagation model ("fspl", "hata", "cost231", "itm").
    rx_height_m
        Receiver height above ground (m).
    params
        Model parameters used (environment, max radius, …) for reports and cache keys.
    groups
        Best power (float32 dBm, −inf where none) per (operator, technology), when asked.
    stats
        How many towers were predicted and how many read from the cache.
    """

    power: Grid
    serving: Grid
    towers: gpd.GeoDataFrame
    model: str
    rx_height_m: float
    params: dict = field(default_factory=dict)
    groups: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    stats: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class TowerPrediction:
    """Received power of one tower on a window of the terrain grid.

    ``power[i, j]`` is the cell ``(row0 + i, col0 + j)`` of the terrain grid (float32 dBm, NaN
    outside the radius or the grid, −inf where it was not evaluated because the tower
    certainly does not serve the cell: see :func:`predict_tower`'s ``floor``). Reusable across
    runs (the unit a cache stores).
    """

    row0: int
    col0: int
    power: np.ndarray


def _distance_loss_fn(
    model: str, f_mhz: float, h_tx_m: float, h_rx_m: float, environment: str
) -> Callable[[np.ndarray], np.ndarray]:
    """The tower's distance loss: the model, never below free space (short range)."""
    if model not in RASTER_MODELS or model == "itm":
        raise LomsongError(f"model {model!r} is not a closed-form model")
    name = "cost231" if model == "hata" and f_mhz > _HATA_MAX_MHZ else model
    fn = models.get_model(name)

    def loss(d_km: np.ndarray) -> np.ndarray:
        # Hata/COST-231 are fitted for ≥ 1 km; nearer the tower they can fall below free
        # space, which is physically impossible, so free space bounds them from below.
        m = fn(d_km, f_mhz, h_tx_m, h_rx_m, environment=environment, validate=False)
        return np.maximum(m, models.free_space_loss(d_km, f_mhz))

    return loss


def _loss_table(
    model: str,
    f_mhz: float,
    h_tx_m: float,
    h_rx_m: float,
    environment: str,
    max_m: float,
    res_m: float,
) -> tuple[np.ndarray, float]:
    """The model's distance loss tabulated every quarter cell out to ``max_m``."""
    step = res_m / 4.0
    fn = _distance_loss_fn(model, f_mhz, h_tx_m, h_rx_m, environment)
    return profiles.distance_table(fn, max_m, step), step


def _calibrated(
    calibration: CalibrationResult, tower_id: str, table: np.ndarray, step: float
) -> tuple[float, np.ndarray]:
    """(offset, loss table + c(d)) of a tower under a fitted calibration."""
    fit = calibration.fit
    offset = float(fit.offsets_db.get(tower_id, fit.mean_offset_db))
    d_km = np.maximum(np.arange(len(table)) * step, step) / 1000.0
    # received = offset − L − c(d)  ⇒  L + c(d) = offset − received
    return offset, offset - calibration.received_dbm(table, d_km, tx_id=tower_id)


def _calibrated_window(
    calibration: CalibrationResult, tower: Mapping, loss: np.ndarray, res: float
) -> tuple[float, np.ndarray]:
    """(offset, loss + c(d)) on a loss window: the distance correction cell by cell."""
    tower_id = str(tower.get("tower_id", ""))
    fit = calibration.fit
    offset = float(fit.offsets_db.get(tower_id, fit.mean_offset_db))
    R = loss.shape[0] // 2
    off = (np.arange(loss.shape[0]) - R) * res
    d_km = np.maximum(np.hypot(off[None, :], off[:, None]), res / 2) / 1000.0
    return offset, (offset - calibration.received_dbm(loss, d_km, tx_id=tower_id)).astype(
        np.float32
    )


def _check_model(model: str) -> None:
    if model not in RASTER_MODELS:
        raise LomsongError(f"unknown model {model!r}; use one of {', '.join(RASTER_MODELS)}")


def _tower_params(tower: Mapping) -> tuple[float, float, float]:
    return float(tower["freq_mhz"]), float(tower["height_m"]), float(tower["eirp_dbm"])


def predict_tower(
    tower: Mapping,
    terrain: Grid,
    *,
    model: str = "hata",
    environment: str = "suburban",
    rx_height_m: float = RX_HEIGHT_M,
    max_radius_km: float = MAX_RADIUS_KM,
    calibration: CalibrationResult | None = None,
    floor: np.ndarray | None = None,
) -> TowerPrediction | None:
    """Received power of one tower over the terrain cells within ``max_radius_km``.

    Parameters
    ----------
    tower
        A row of the towers layer (``geometry`` Point in the terrain's CRS, ``freq_mhz``,
        ``height_m``, ``eirp_dbm``, ``azimuth_deg``, ``beamwidth_deg``, ``tilt_deg``).
    terrain
        Elevation Grid (m) in a metric CRS.
    calibration
        From ``lomsong calibrate``: the tower's fitted offset (its own, or the mean of the
        calibrated transmitters) replaces EIRP, and the fitted distance correction c(d) is
        added to the model's loss.
    floor
        Best-server power (dBm, −inf where none) of other towers on the terrain grid (ITM
        without calibration only): cells where this tower's power is certainly below it are not
        evaluated and hold −inf (see :func:`pruning_mask`). Exact for the best server: such a
        cell can never be this tower's.

    Returns
    -------
    TowerPrediction or None
        None when the tower stands outside the terrain grid.
    """
    f_mhz, h_tx, eirp = _tower_params(tower)
    res = terrain.res
    rows, cols = terrain.rowcol(tower["geometry"].x, tower["geometry"].y)
    row, col = int(rows), int(cols)
    if not terrain.inside(np.array(row), np.array(col)):
        logger.warning("tower %s is outside the terrain grid: skipped", tower.get("tower_id"))
        return None
    max_m = max_radius_km * 1000.0
    _check_model(model)
    if model == "itm":
        skip = None
        if floor is not None and calibration is None:
            R = half_width(max_m, res)
            skip = pruning_mask(tower, floor, row - R, col - R, R, res, rx_height_m=rx_height_m)
        loss = itm_raster.itm_loss_window(
            terrain.data, row, col, res_m=res, max_radius_m=max_m, h_tx_m=h_tx,
            h_rx_m=rx_height_m, f_mhz=f_mhz, **ITM_DEFAULTS, skip=skip,
        )  # fmt: skip
        if calibration is not None:
            eirp, loss = _calibrated_window(calibration, tower, loss, res)
    else:
        table, step = _loss_table(model, f_mhz, h_tx, rx_height_m, environment, max_m, res)
        if calibration is not None:
            eirp, table = _calibrated(calibration, str(tower.get("tower_id", "")), table, step)
        loss = profiles.ray_loss_window(
            terrain.data, row, col, res_m=res, max_radius_m=max_m, h_tx_m=h_tx,
            h_rx_m=rx_height_m, f_mhz=f_mhz, table=table, table_step_m=step,
        )  # fmt: skip
    R = loss.shape[0] // 2
    power = (eirp - loss).astype(np.float32)
    az = float(tower.get("azimuth_deg", np.nan))
    r0, c0 = row - R, col - R
    if not math.isnan(az):
        gain = _sector_gain(tower, terrain, r0, c0, loss.shape[0], rx_height_m)
        power += gain.astype(np.float32)
    # crop the window to the grid
    h, w = terrain.shape
    i0, j0 = max(0, -r0), max(0, -c0)
    i1, j1 = (
        loss.shape[0] - max(0, r0 + loss.shape[0] - h),
        loss.shape[1] - max(0, c0 + loss.shape[1] - w),
    )
    return TowerPrediction(r0 + i0, c0 + j0, np.ascontiguousarray(power[i0:i1, j0:j1]))


#: Pruning margin (dB): a cell is skipped only when the tower's power bound is this much below
#: the floor — more than the float32 rounding of powers and the cache's 0.005 dB rounding, so
#: a skipped cell could not even have tied.
_PRUNE_MARGIN_DB = 0.05
#: Margin (dB) of the check of skipped cells against a composite rebuilt from cache entries:
#: smaller than the pruning margin by more than the entries' 0.005 dB rounding, so that a
#: rebuild with nothing removed finds every skipped cell still settled; still above the
#: rounding of both powers, so a cell passing it can still not tie.
_RECHECK_MARGIN_DB = 0.02


def _power_bound_terms(tower: Mapping, R: int, res: float, rx_height_m: float) -> tuple | None:
    """(loss bound window, bearings, EIRP, azimuth, beamwidth, front-to-back, sectored): the
    terms of an ITM tower's power bound on its window (:func:`_power_bound`), or None when
    ITM's loss is not bounded (quantiles other than the medians)."""
    f_mhz, h_tx, eirp = _tower_params(tower)
    lmin = itm_raster.loss_lower_bound_window(
        R, res_m=res, f_mhz=f_mhz, climate=ITM_DEFAULTS["climate"], time=ITM_DEFAULTS["time"],
        location=ITM_DEFAULTS["location"], situation=ITM_DEFAULTS["situation"], h_tx_m=h_tx,
        h_rx_m=rx_height_m,
    )  # fmt: skip
    if lmin is None:
        return None
    az = float(tower.get("azimuth_deg", np.nan))
    sectored = not math.isnan(az)
    bw = float(tower.get("beamwidth_deg", np.nan)) if sectored else 360.0
    bearing = antennas._window_bearings(2 * R + 1) if sectored else np.zeros((1, 1))
    return (lmin, bearing, eirp, az if sectored else 0.0, bw, antennas.DEFAULT_FRONT_TO_BACK_DB,
            sectored)  # fmt: skip


def pruning_mask(
    tower: Mapping,
    floor: np.ndarray,
    r0: int,
    c0: int,
    R: int,
    res: float,
    *,
    rx_height_m: float = RX_HEIGHT_M,
) -> np.ndarray | None:
    """Cells of the tower's (2R+1)² window (grid cell (r0, c0) first) where its ITM power is
    certainly below ``floor`` (a best-server power grid, dBm, −inf where none).

    Model: power = EIRP + antenna gain − loss ≤ EIRP + A_H(bearing) −
    :func:`~lomsong.coverage.itm_raster.loss_lower_bound_window`, since the sector's gain never
    exceeds its horizontal pattern (the vertical term is ≤ 0) and ITM's median loss never
    goes below the bound (free space minus ITM's largest median variability). A cell is
    marked when that bound is :data:`_PRUNE_MARGIN_DB` below the floor. None when ITM's loss
    is not bounded (quantiles other than the medians).
    """
    terms = _power_bound_terms(tower, R, res, rx_height_m)
    if terms is None:
        return None
    return _skip_window(floor, r0, c0, terms, _PRUNE_MARGIN_DB)


@nb.njit(cache=True, inline="always")
def _power_bound(terms: tuple, i: int, j: int) -> float:
    """Window cell (i, j)'s power bound: EIRP + the sector's horizontal pattern (its gain's
    upper bound) − the loss bound (``terms`` from :func:`_power_bound_terms`)."""
    lmin, bearing, eirp, az, bw, am, sectored = terms
    g = antennas.horizontal_db(bearing[i, j], az, bw, am) if sectored else 0.0
    return eirp + g - lmin[i, j]


@nb.njit(cache=True, parallel=True)
def _skip_window(floor: np.ndarray, r0: int, c0: int, terms: tuple, margin: float) -> np.ndarray:
    """:func:`pruning_mask` on the window whose cell (0, 0) is grid cell (r0, c0)."""
    size = terms[0].shape[0]
    h, w = floor.shape
    out = np.zeros((size, size), dtype=np.bool_)
    for i in nb.prange(size):
        r = r0 + i
        if r < 0 or r >= h:
            continue
        for j in range(size):
            c = c0 + j
            if 0 <= c < w:
                out[i, j] = _power_bound(terms, i, j) + margin < floor[r, c]
    return out


@nb.njit(cache=True, parallel=True)
def _skipped_bounds(
    grid: np.ndarray,
    power: np.ndarray,
    row0: int,
    col0: int,
    i0: int,
    j0: int,
    terms: tuple,
    margin: float,
    raise_grid: bool,
) -> np.ndarray:
    """The power bound u of each cell a prediction skipped (−inf): with ``raise_grid``,
    grid = max(grid, u) there (and the mask of the skipped cells is returned); otherwise the
    mask of the skipped cells where u + margin reaches ``grid`` (a composite). ``power`` is
    the prediction's window at grid cell (row0, col0), window cell (i0, j0) of the bound's."""
    hh, ww = power.shape
    out = np.zeros((hh, ww), dtype=np.bool_)
    for a in nb.prange(hh):
        for b in range(ww):
            if power[a, b] == -np.inf:
                u = _power_bound(terms, i0 + a, j0 + b)
                cur = grid[row0 + a, col0 + b]
                if raise_grid:
                    out[a, b] = True
                    if np.float32(u) > cur:
                        grid[row0 + a, col0 + b] = np.float32(u)
                else:
                    out[a, b] = u + margin >= cur
    return out


def _sector_gain(
    tower: Mapping, terrain: Grid, r0: int, c0: int, size: int, rx_height_m: float
) -> np.ndarray:
    """Antenna pattern gain (dB ≤ 0) on the window, from bearing and elevation of each cell."""
    z_tx = terrain.data[r0 + size // 2, c0 + size // 2]
    z_tx = 0.0 if not np.isfinite(z_tx) else float(z_tx)
    return antennas.sector_gain_window(
        terrain.data, r0, c0, size, terrain.res, antenna_abs_m=z_tx + float(tower["height_m"]),
        rx_height_m=rx_height_m, azimuth_deg=float(tower["azimuth_deg"]),
        beamwidth_deg=float(tower["beamwidth_deg"]), tilt_deg=float(tower["tilt_deg"]),
    )  # fmt: skip


def predict(
    towers: gpd.GeoDataFrame,
    terrain: Grid,
    *,
    model: str = "hata",
    environment: str = "suburban",
    rx_height_m: float = RX_HEIGHT_M,
    max_radius_km: float = MAX_RADIUS_KM,
    groups: bool = False,
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
        Towers from :func:`lomsong.read_towers`, in the terrain's CRS.
    terrain
        Elevation Grid (m). Without real terrain, pass a flat grid (ones) over the area.
    model
        "itm" (NTIA Longley-Rice, :data:`ITM_DEFAULTS`), or "fspl", "hata" (Okumura-Hata
        ≤ 1500 MHz, COST-231 Hata above), "cost231", each plus single knife-edge diffraction.
    environment
        Hata environment: "urban_large", "urban", "suburban", "open".
    rx_height_m
        Receiver height above ground (m).
    max_radius_km
        Prediction radius around each tower (km).
    groups
        Also keep the best power per (operator, technology) in ``Coverage.groups``, for
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
    if towers.crs is None or terrain.crs != towers.crs:
        raise InputError(
            "<towers>",
            f"towers CRS {towers.crs and towers.crs.to_string()} differs from terrain CRS "
            f"{terrain.crs.to_string()}",
        )
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

    def group_of(i: int) -> tuple[str, str]:
        return (str(tower_rows[i].get("operator", "")), str(tower_rows[i].get("tech", "")))

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
        base = cache.load_composite(keys, (h, w), groups=groups)
        if base is not None:  # no tower removed or changed: start from the last composite
            best, serving, by_group, merged = base
            stats["cached"] = done = len(merged)
    rest = [i for i in range(n) if i not in merged]
    if cache is None:
        todo = [(i, tower_rows[i]) for i in rest]
    else:
        # a rebuilt composite reads every entry: two threads read and decode them (file I/O,
        # Zstandard and the numba decoder release the GIL) while this one merges, in order
        pruned = _PrunedCells(terrain, max_radius_km, rx_height_m)
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
    from lomsong.coverage.parallel import tower_predictions

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
            todo = [todo[k] for k in _spread_order(todo)]
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
                pred = _completed(old, new)
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
    )


def _completed(old: TowerPrediction, new: TowerPrediction) -> TowerPrediction:
    """A cached prediction with its skipped cells (−inf) filled from ``new`` (same window)."""
    return TowerPrediction(old.row0, old.col0, np.where(np.isneginf(old.power), new.power,
                                                        old.power))  # fmt: skip


def _spread_order(jobs: list[tuple[int, dict]]) -> list[int]:
    """Order of the jobs' towers that covers the area early: farthest-point first (each next
    tower the one farthest from those before it; co-sited sectors last).

    Pruning skips the cells already served better than a tower could; with towers in file
    order, the composite stays patchy for a few hundred towers, so those are evaluated almost
    whole. The order changes nothing in the results (ties go to the lower index anyway).
    """
    if len(jobs) < 3:
        return list(range(len(jobs)))
    xy = np.array([(t["geometry"].x, t["geometry"].y) for _, t in jobs])
    centre = xy.mean(axis=0)
    first = int(np.argmin(((xy - centre) ** 2).sum(axis=1)))
    order = [first]
    dist = ((xy - xy[first]) ** 2).sum(axis=1)
    dist[first] = -1.0
    for _ in range(len(jobs) - 1):
        k = int(np.argmax(dist))
        order.append(k)
        dist = np.minimum(dist, ((xy - xy[k]) ** 2).sum(axis=1))  # chosen ones stay at −1
        dist[k] = -1.0
    return order


class _PrunedCells:
    """The cells cached predictions skipped, while a composite is rebuilt from the entries.

    A skipped cell was below the composite of its run (:func:`pruning_mask`); once towers are
    removed or changed, the rebuilt composite can be lower there. Per group (None: the overall
    composite), ``bound`` keeps the highest power bound of the skipped cells; a cell is
    unsettled when that bound reaches the rebuilt composite (within the pruning margin). The
    entries whose window holds unsettled cells are the candidates (:meth:`candidates`, likeliest
    servers first); each one's own skipped cells whose own bound reaches the composite at its
    turn (:meth:`open_cells`) are evaluated — in the province benchmark, after removing 10 of
    1,010 towers, none: the towers' own bounds are much tighter than the maximum of all.
    """

    def __init__(self, terrain: Grid, max_radius_km: float, rx_height_m: float) -> None:
        self.terrain = terrain
        self.rx_height_m = rx_height_m
        self.R = half_width(max_radius_km * 1000.0, terrain.res)
        self.bounds: dict[tuple[str, str] | None, np.ndarray] = {}
        # index → (group, window row0, col0, rows, cols, EIRP, tower row, col)
        self.entries: dict[int, tuple] = {}

    def add(
        self, i: int, tower: Mapping, pred: TowerPrediction, group: tuple[str, str] | None
    ) -> None:
        """Record entry ``i`` (which skipped cells) and raise its group's bound there."""
        terms = _power_bound_terms(tower, self.R, self.terrain.res, self.rx_height_m)
        hh, ww = pred.power.shape
        row, col = (int(v) for v in self.terrain.rowcol(tower["geometry"].x, tower["geometry"].y))
        eirp = _tower_params(tower)[2]
        self.entries[i] = (group, pred.row0, pred.col0, hh, ww, eirp, row, col)
        bound = self.bounds.get(group)
        if bound is None:
            bound = self.bounds[group] = np.full(self.terrain.shape, -np.inf, dtype=np.float32)
        if terms is None:  # cannot happen for an ITM entry; never trust a skipped cell then
            bound[pred.row0 : pred.row0 + hh, pred.col0 : pred.col0 + ww] = np.inf
            return
        _skipped_bounds(bound, np.ascontiguousarray(pred.power), pred.row0, pred.col0,
                        pred.row0 - (row - self.R), pred.col0 - (col - self.R), terms,
                        _PRUNE_MARGIN_DB, True)  # fmt: skip

    def candidates(self, composite: Callable[[tuple[str, str] | None], np.ndarray]) -> list[int]:
        """Entries whose window holds a cell where the bound of some skipped cell reaches
        ``composite(group)``, the likeliest servers first: by EIRP minus free space to the
        centre of those cells (a tower that wins there settles the others' cells)."""
        sats = {}
        for group, bound in self.bounds.items():
            # (−inf: no skipped cell there; −inf ≥ −inf would count cells no tower reaches)
            unsure = (bound > -np.inf) & (
                bound + np.float32(_RECHECK_MARGIN_DB) >= composite(group)
            )
            if unsure.any():
                # summed-area tables of the unsettled cells and of their rows and columns
                rr, cc = np.indices(unsure.shape, dtype=np.float64)
                tabs = []
                for a in (unsure.astype(np.float64), unsure * rr, unsure * cc):
                    t = np.zeros((a.shape[0] + 1, a.shape[1] + 1))
                    t[1:, 1:] = a.cumsum(0).cumsum(1)
                    tabs.append(t)
                sats[group] = tabs
        scored = []
        for i, (group, r0, c0, hh, ww, eirp, row, col) in self.entries.items():
            if group not in sats:
                continue
            r1, c1 = r0 + hh, c0 + ww
            n, sr, sc = (t[r1, c1] - t[r0, c1] - t[r1, c0] + t[r0, c0] for t in sats[group])
            if n < 0.5:
                continue
            d = max(math.hypot(sr / n - row, sc / n - col), 1.0) * self.terrain.res
            scored.append((-(eirp - 20.0 * math.log10(d)), i))
        return [i for _, i in sorted(scored)]

    def open_cells(
        self,
        i: int,
        tower: Mapping,
        pred: TowerPrediction,
        composite: Callable[[tuple[str, str] | None], np.ndarray],
    ) -> np.ndarray:
        """The cells (on entry ``i``'s window) it skipped whose bound reaches the composite
        now (within the pruning margin): those it must evaluate."""
        group, *_, row, col = self.entries[i]
        terms = _power_bound_terms(tower, self.R, self.terrain.res, self.rx_height_m)
        if terms is None:
            return np.isneginf(pred.power)
        return _skipped_bounds(composite(group), np.ascontiguousarray(pred.power), pred.row0,
                               pred.col0, pred.row0 - (row - self.R), pred.col0 - (col - self.R),
                               terms, _RECHECK_MARGIN_DB, False)  # fmt: skip


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


def path_loss_points(
    terrain: Grid,
    tx_xy: tuple[float, float],
    points_x: np.ndarray,
    points_y: np.ndarray,
    *,
    f_mhz: float,
    h_tx_m: float,
    model: str = "hata",
    environment: str = "suburban",
    rx_height_m: float = RX_HEIGHT_M,
    max_radius_km: float = MAX_RADIUS_KM,
) -> np.ndarray:
    """Path loss (dB) from one transmitter to given points, with the raster engine's model.

    Points beyond ``max_radius_km`` get NaN. Used for candidate sites, where only the
    households matter, not the whole grid.
    """
    points_x = np.asarray(points_x, dtype=float)
    points_y = np.asarray(points_y, dtype=float)
    max_m = max_radius_km * 1000.0
    _check_model(model)
    if model == "itm":
        loss = itm_raster.itm_point_loss(
            terrain.data, terrain.transform, tx_xy, points_x, points_y, h_tx_m=h_tx_m,
            h_rx_m=rx_height_m, f_mhz=f_mhz, **ITM_DEFAULTS,
        )  # fmt: skip
    else:
        table, step = _loss_table(
            model, f_mhz, h_tx_m, rx_height_m, environment, max_m, terrain.res
        )
        loss = profiles.point_loss(
            terrain.data, terrain.transform, tx_xy, points_x, points_y, h_tx_m=h_tx_m,
            h_rx_m=rx_height_m, f_mhz=f_mhz, table=table, table_step_m=step,
        )  # fmt: skip
    far = np.hypot(points_x - tx_xy[0], points_y - tx_xy[1]) > max_m
    loss[far] = np.nan
    return loss
