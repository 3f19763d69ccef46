"""Pruning: the cells a tower certainly does not serve, so the engine never evaluates them.

ITM's loss (at the median, and at any location quantile ≥ 50 % with time and situation at their
medians) is never below free space minus the climate's largest median variability: where
EIRP + the sector's exact gain − that loss bound is below the composite at the location
quantile of the cells merged before (the lower of the two composites), the cell cannot be the
best server at the median nor at the quantile, and is skipped (−inf). Co-sited cells sharing
one loss window skip a cell only where each of them can. Reruns after removals re-check the
skipped cells of cached towers (:class:`PrunedCells`). The EIRP here, as in the engine, is the
tower's service EIRP (:func:`tower_params`): the bound is on the level the composite holds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numba as nb
import numpy as np

from lomsong.coverage.types import TowerPrediction
from lomsong.defaults import (
    CPICH_SHARE,
    ITM_DEFAULTS,
    NR_SCS_KHZ,
    RX_HEIGHT_M,
    TECH_DEFAULTS,
    canonical_tech,
)
from lomsong.errors import InputError
from lomsong.grid import Grid, full_spans
from lomsong.propagation import antennas, itm_raster
from lomsong.propagation.paths import half_width
from lomsong.propagation.service import service_offset_db

__all__ = [
    "pruning_mask",
    "tower_params",
    "service_offset",
    "PrunedCells",
    "spread_order",
    "fill_skipped",
    "cell_table",
    "CELL_COLUMNS",
    "antenna_abs_m",
    "window_skip_mask",
    "window_reaches",
]


def service_offset(tower: Mapping) -> float:
    """dB from a tower's total EIRP to the EIRP of its technology's measured quantity.

    :func:`lomsong.propagation.service.service_offset_db` of the row's ``tech`` and
    ``bandwidth_mhz`` (MHz; the technology's default carrier when the row has none, as the
    towers reader fills it), with :data:`~lomsong.defaults.CPICH_SHARE` (3G) and
    :data:`~lomsong.defaults.NR_SCS_KHZ` (5G): 0 dB for 2G RxLev, −10.0 dB for 3G RSCP,
    −27.78 dB for 4G RSRP on 10 MHz, −35.15 dB for 5G SS-RSRP on 100 MHz.

    Raises
    ------
    InputError
        A technology that is not 2G/3G/4G/5G (or an alias), or a bandwidth that is no channel
        bandwidth of the technology, naming the tower. The readers reject such rows, so only
        towers built by hand can get here.
    """
    tech = canonical_tech(tower.get("tech"))
    where = f"tower {tower.get('tower_id', tower.get('site_id', '?'))}"
    if tech is None:
        raise InputError("<towers>", f"tech {tower.get('tech')!r} is not one of "
                         f"{', '.join(TECH_DEFAULTS)} (or GSM, UMTS, LTE, NR)",
                         row=where)  # fmt: skip
    bw = tower.get("bandwidth_mhz")
    if bw is None or not math.isfinite(float(bw)):
        bw = TECH_DEFAULTS[tech]["bandwidth_mhz"]
    try:
        return service_offset_db(tech, bandwidth_mhz=float(bw), cpich_share=CPICH_SHARE,
                                 scs_khz=NR_SCS_KHZ)  # fmt: skip
    except ValueError as exc:
        raise InputError("<towers>", str(exc), row=where) from None


def tower_params(tower: Mapping) -> tuple[float, float, float]:
    """(carrier MHz, antenna height above ground m, service EIRP dBm) of a towers-layer row.

    The service EIRP is the total EIRP (``eirp_dbm``) + :func:`service_offset`: predictions
    are in the technology's own quantity (2G RxLev, 3G RSCP, 4G RSRP, 5G SS-RSRP). The engine,
    the pruning bound and the rerun checks all take the EIRP from here, so all of them work in
    that quantity. A calibration's fitted offset replaces this EIRP (see
    :func:`lomsong.coverage.engine.predict_tower`).
    """
    eirp = float(tower["eirp_dbm"]) + service_offset(tower)
    return float(tower["freq_mhz"]), float(tower["height_m"]), eirp


#: Pruning margin (dB): a cell is skipped only when the tower's power bound is this much below
#: the floor — more than the float32 rounding of powers and the cache's 0.005 dB rounding, so
#: a skipped cell could not even have tied.
_PRUNE_MARGIN_DB = 0.05
#: Margin (dB) of the check of skipped cells against a composite rebuilt from cache entries:
#: smaller than the pruning margin by more than the entries' 0.005 dB rounding, so that a
#: rebuild with nothing removed finds every skipped cell still settled; still above the
#: rounding of both powers, so a cell passing it can still not tie.
_RECHECK_MARGIN_DB = 0.02


#: An empty gain window: the bound takes no exact pattern.
_NO_GAIN = np.zeros((1, 1), dtype=np.float32)
#: An empty depression window: omni cells take no vertical pattern.
_NO_DEP = np.zeros((1, 1))
#: No grid mask (a kernel's ``only`` when it is not used).
_NO_MASK = np.zeros((1, 1), dtype=np.bool_)


def _power_bound_terms(
    tower: Mapping, R: int, res: float, rx_height_m: float, gain: np.ndarray | None = None
) -> tuple | None:
    """(loss bound window, bearings, EIRP, azimuth, beamwidth, front-to-back, sectored, gain,
    exact): the terms of an ITM tower's power bound on its window (:func:`_power_bound`), or
    None when ITM's loss is not bounded (time or situation quantiles other than the medians).
    ``gain``: the cell's exact pattern gain on the window (vertical pattern included, as the
    engine adds it), else the horizontal pattern bounds it."""
    f_mhz, h_tx, eirp = tower_params(tower)
    lmin = _loss_bound(R, res, f_mhz, h_tx, rx_height_m)
    if lmin is None:
        return None
    az = float(tower.get("azimuth_deg", np.nan))
    sectored = not math.isnan(az)
    bw = float(tower.get("beamwidth_deg", np.nan)) if sectored else 360.0
    exact = gain is not None and sectored
    bearing = antennas.window_bearings(2 * R + 1) if sectored and not exact else np.zeros((1, 1))
    g = np.ascontiguousarray(gain, dtype=np.float32) if exact else _NO_GAIN
    return (lmin, bearing, eirp, az if sectored else 0.0, bw, antennas.DEFAULT_FRONT_TO_BACK_DB,
            sectored, g, exact)  # fmt: skip


def pruning_mask(
    tower: Mapping,
    floor: np.ndarray,
    r0: int,
    c0: int,
    R: int,
    res: float,
    *,
    rx_height_m: float = RX_HEIGHT_M,
    gain: np.ndarray | None = None,
) -> np.ndarray | None:
    """Cells of the tower's (2R+1)² window (grid cell (r0, c0) first) where its ITM power is
    certainly below ``floor`` (a best-server power grid, dBm, −inf where none).

    Model: power = EIRP + antenna gain − loss ≤ EIRP + gain −
    :func:`~lomsong.propagation.itm_raster.loss_lower_bound_window`: ITM's loss — at the
    median, and at any location quantile ≥ 50 % with time and situation at their medians —
    never goes below the bound (free space minus ITM's largest median variability). ``gain``
    is the sector's exact gain on the window (horizontal and vertical pattern, as the engine
    adds it: :func:`lomsong.coverage.engine.cell_gain`); without it the horizontal pattern
    bounds it (the vertical term is ≤ 0). A cell is marked when that bound is
    :data:`_PRUNE_MARGIN_DB` below the floor. Against the composite at the location quantile,
    the cells marked can serve neither at the median nor at the quantile (the quantile's
    composite is the lower). None when ITM's loss is not bounded.
    """
    terms = _power_bound_terms(tower, R, res, rx_height_m, gain)
    if terms is None:
        return None
    return _skip_window(floor, r0, c0, terms, _PRUNE_MARGIN_DB)


#: Columns of a window's cell table (:func:`cell_table`).
CELL_COLUMNS = ("eirp_dbm", "sectored", "azimuth_deg", "beamwidth_deg", "tilt_deg",
                "front_to_back_db", "vertical_beamwidth_deg", "sidelobe_db")  # fmt: skip


_PATTERN_DEFAULTS = (antennas.DEFAULT_FRONT_TO_BACK_DB, antennas.DEFAULT_VERTICAL_BEAMWIDTH_DEG,
                     antennas.DEFAULT_SIDELOBE_DB)  # fmt: skip


def cell_table(towers: Sequence[Mapping], eirps: Sequence[float] | None = None) -> np.ndarray:
    """The cells sharing one loss window as a float64 table (:data:`CELL_COLUMNS`, one row a
    cell): what the composite's kernels read to give each cell its level and its pruning
    bound from the shared loss — EIRP term (dBm: the service EIRP of :func:`tower_params`
    unless ``eirps`` gives each cell's), sectored (1) or omni (0), and the sector pattern's
    parameters (:func:`lomsong.propagation.antennas.antenna_gain_db`'s defaults for the rest)."""
    out = np.zeros((len(towers), len(CELL_COLUMNS)), dtype=np.float64)
    for k, t in enumerate(towers):
        az = float(t.get("azimuth_deg", np.nan))
        sectored = not math.isnan(az)
        eirp = tower_params(t)[2] if eirps is None else float(eirps[k])
        pattern = (az, float(t["beamwidth_deg"]), float(t["tilt_deg"])) if sectored else (0, 0, 0)
        out[k] = (eirp, float(sectored), *pattern, *_PATTERN_DEFAULTS)
    return out


def antenna_abs_m(tower: Mapping, terrain: Grid, row: int, col: int) -> float:
    """The antenna's height above sea level (m): ground of its cell (0 where void) + mast, as
    :func:`lomsong.coverage.engine.cell_gain` places it for the vertical pattern."""
    z = float(terrain.data[row, col])
    return (z if math.isfinite(z) else 0.0) + float(tower["height_m"])


def window_skip_mask(
    cells: np.ndarray,
    floor: np.ndarray,
    terrain: Grid,
    row: int,
    col: int,
    R: int,
    *,
    f_mhz: float,
    h_tx_m: float,
    z_ant_m: float,
    rx_height_m: float = RX_HEIGHT_M,
    depression: np.ndarray | None = None,
) -> np.ndarray | None:
    """:func:`pruning_mask` of every cell sharing one loss window at once: the window cells
    where each of them (rows of ``cells``, :func:`cell_table`) is certainly below ``floor``,
    each with its exact sector gain (:func:`lomsong.propagation.antennas.sector_db`, the
    engine's) — one pass, one loss bound and one elevation angle per window cell for all of
    them, where the masks of the cells and their AND took one gain window per cell.
    ``z_ant_m``: :func:`antenna_abs_m`; ``depression``: the window's
    :func:`~lomsong.propagation.antennas.depression_window` when the caller has it. None when
    ITM's loss is not bounded."""
    lmin = _loss_bound(R, terrain.res, f_mhz, h_tx_m, rx_height_m)
    if lmin is None:
        return None
    if not (cells[:, 1] > 0).any():
        depression = _NO_DEP
    elif depression is None:
        depression = antennas.depression_window(terrain.data, row, col, R, res_m=terrain.res,
                                                antenna_abs_m=z_ant_m,
                                                rx_height_m=rx_height_m)  # fmt: skip
    return _skip_cells(floor, lmin, depression, row, col, antennas.window_bearings(2 * R + 1),
                       cells, _PRUNE_MARGIN_DB)  # fmt: skip


def window_reaches(
    cells: np.ndarray,
    floor: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    terrain: Grid,
    row: int,
    col: int,
    R: int,
    *,
    f_mhz: float,
    h_tx_m: float,
    rx_height_m: float = RX_HEIGHT_M,
) -> bool:
    """Whether one of the ``cells`` sharing the window of the antenna at grid cell (row, col)
    may reach ``floor`` (within the pruning margin) on one of the grid cells (``rows``,
    ``cols``, sorted by row): the highest EIRP with 0 dB gain (sector gains are ≤ 0) − ITM's
    loss bound (:func:`window_skip_mask`'s, without the pattern). True when ITM's loss is not
    bounded. Costs the listed cells inside the window, not the window."""
    lmin = _loss_bound(R, terrain.res, f_mhz, h_tx_m, rx_height_m)
    if lmin is None:
        return True
    return bool(_reaches_any(rows, cols, floor, lmin, int(row), int(col),
                             float(cells[:, 0].max()), _PRUNE_MARGIN_DB))  # fmt: skip


@nb.njit(cache=True)
def _reaches_any(
    rows: np.ndarray,
    cols: np.ndarray,
    floor: np.ndarray,
    lmin: np.ndarray,
    row: int,
    col: int,
    top: float,
    margin: float,
) -> bool:
    R = lmin.shape[0] // 2
    lo = np.searchsorted(rows, row - R)
    hi = np.searchsorted(rows, row + R + 1)
    for k in range(lo, hi):
        j = cols[k] - (col - R)
        if j < 0 or j > 2 * R:
            continue
        lm = lmin[rows[k] - (row - R), j]
        # NaN (beyond the radius) compares False
        if (top - lm) + margin >= floor[rows[k], cols[k]]:
            return True
    return False


def _loss_bound(R: int, res: float, f_mhz: float, h_tx_m: float, rx_height_m: float):
    """ITM's loss bound on the window (the engine's settings): None when not bounded."""
    return itm_raster.loss_lower_bound_window(
        R, res_m=res, f_mhz=f_mhz, climate=ITM_DEFAULTS["climate"], time=ITM_DEFAULTS["time"],
        location=ITM_DEFAULTS["location"], situation=ITM_DEFAULTS["situation"], h_tx_m=h_tx_m,
        h_rx_m=rx_height_m,
    )  # fmt: skip


@nb.njit(cache=True, inline="always")
def any_sectored(cells: np.ndarray) -> bool:
    """Whether a row of a :func:`cell_table` is a sector (its gain needs the elevation)."""
    for k in range(cells.shape[0]):  # noqa: SIM110 (numba compiles no generator into any())
        if cells[k, 1] > 0.0:
            return True
    return False


@nb.njit(cache=True, inline="always")
def top_eirp(cells: np.ndarray) -> float:
    """The highest EIRP term of a :func:`cell_table`: with gain 0 (sector gains are ≤ 0), a
    bound on every row's level over any loss."""
    top = -np.inf
    for k in range(cells.shape[0]):
        top = max(top, cells[k, 0])
    return top


@nb.njit(cache=True, inline="always")
def _cell_bound(cells: np.ndarray, k: int, bearing: float, dep: float, lm: float) -> float:
    """Cell k's power bound at a window cell (``dep``: its depression angle, NaN for an omni
    cell): EIRP + exact gain − loss bound."""
    g = 0.0
    if cells[k, 1] > 0.0:
        g = float(antennas.sector_db(bearing, dep, cells[k, 2], cells[k, 3], cells[k, 4],
                                     cells[k, 5], cells[k, 6], cells[k, 7]))  # fmt: skip
    return cells[k, 0] + g - lm


@nb.njit(cache=True, parallel=True)
def _skip_cells(
    floor: np.ndarray,
    lmin: np.ndarray,
    depression: np.ndarray,
    row: int,
    col: int,
    bearing: np.ndarray,
    cells: np.ndarray,
    margin: float,
) -> np.ndarray:
    """:func:`window_skip_mask` on the window centred on grid cell (row, col) (``depression``
    read only for sectors)."""
    size = lmin.shape[0]
    R = size // 2
    r0, c0 = row - R, col - R
    h, w = floor.shape
    n = cells.shape[0]
    top = top_eirp(cells)
    sectored = any_sectored(cells)
    out = np.zeros((size, size), dtype=np.bool_)
    for i in nb.prange(size):
        r = r0 + i
        if r < 0 or r >= h:
            continue
        for j in range(size):
            c = c0 + j
            if c < 0 or c >= w:
                continue
            fl = floor[r, c]
            lm = lmin[i, j]
            # the highest EIRP with gain 0 below the floor: every cell is (gains are ≤ 0 and
            # float64 rounding is monotone), no pattern needed; NaN compares False
            if (top - lm) + margin < fl:
                out[i, j] = True
                continue
            if not (lm == lm and fl > -np.inf):
                continue
            dep = depression[i, j] if sectored else np.nan
            below = True
            for k in range(n):
                if not (_cell_bound(cells, k, bearing[i, j], dep, lm) + margin < fl):
                    below = False
                    break
            out[i, j] = below
    return out


@nb.njit(cache=True, inline="always")
def _power_bound(terms: tuple, i: int, j: int) -> float:
    """Window cell (i, j)'s power bound: EIRP + the sector's horizontal pattern (its gain's
    upper bound) − the loss bound (``terms`` from :func:`_power_bound_terms`)."""
    lmin, bearing, eirp, az, bw, am, sectored, gain, exact = terms
    if exact:
        g = float(gain[i, j])
    else:
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
    loss: np.ndarray,
    lmin: np.ndarray,
    Z: np.ndarray,
    row: int,
    col: int,
    res: float,
    z_ant: float,
    h_rx: float,
    bearing: np.ndarray,
    cells: np.ndarray,
    margin: float,
    raise_grid: bool,
    only: np.ndarray,
    use_only: bool,
    spans: np.ndarray,
) -> np.ndarray:
    """The power bound u (the highest of the window's ``cells``, see :func:`_skip_cells`) of
    each cell the loss window centred on grid cell (row, col) skipped (+inf) inside the grid
    (with ``use_only``, on the grid cells of ``only`` alone; window row i on its columns
    ``spans[i, 0]`` … ``spans[i, 1]`` − 1): with ``raise_grid``, grid = max(grid, u) there;
    otherwise the window's mask of the skipped cells where u + margin reaches ``grid`` (a
    composite)."""
    size = loss.shape[0]
    R = size // 2
    r0, c0 = row - R, col - R
    h, w = grid.shape
    n = cells.shape[0]
    sectored = any_sectored(cells)
    top = top_eirp(cells)
    out = np.zeros((size, size), dtype=np.bool_)
    for i in nb.prange(size):
        r = r0 + i
        if r < 0 or r >= h:
            continue
        for j in range(spans[i, 0], spans[i, 1]):
            c = c0 + j
            if c < 0 or c >= w or loss[i, j] != np.inf or (use_only and not only[r, c]):
                continue
            lm = lmin[i, j]
            cur = grid[r, c]
            # the highest EIRP with gain 0 (gains are ≤ 0; float64 rounding is monotone) bounds
            # every cell's u: at or below the grid, no pattern nor elevation angle is needed
            # (most skipped cells, far below the composite)
            if raise_grid and top - lm <= cur:
                continue
            if not raise_grid and (top - lm) + margin < cur:
                continue
            dep = np.nan
            if sectored:
                dep = antennas.window_cell_depression_deg(Z, r0, c0, R, i, j, res, z_ant, h_rx)
            u = -np.inf
            for k in range(n):
                v = _cell_bound(cells, k, bearing[i, j], dep, lm)
                if v > u:
                    u = v
            if raise_grid:
                if np.float32(u) > cur:
                    grid[r, c] = np.float32(u)
            else:
                out[i, j] = u + margin >= cur
    return out


def fill_skipped(old: TowerPrediction, new: TowerPrediction) -> TowerPrediction:
    """A cached prediction with its skipped cells (−inf) filled from ``new`` (same window)."""
    return TowerPrediction(old.row0, old.col0, np.where(np.isneginf(old.power), new.power,
                                                        old.power))  # fmt: skip


def spread_order(jobs: list[tuple[int, dict]]) -> list[int]:
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


class PrunedCells:
    """The cells cached windows skipped, while a composite is rebuilt from the entries.

    A skipped cell was below the composite of its run for every cell sharing the window
    (:func:`window_skip_mask`); once cells are removed or changed, the rebuilt composite can be
    lower there. Per group (None: the overall composite), ``bound`` keeps the highest power
    bound of the skipped cells; a cell is unsettled when that bound reaches the rebuilt
    composite (within the pruning margin). The entries — a window's cells of one group — whose
    window holds unsettled cells are the candidates (:meth:`candidates`, likeliest servers
    first); each one's own skipped cells whose own bound reaches the composite at its turn
    (:meth:`open_cells`) are evaluated — in the province benchmark, after removing 10 of
    1,010 towers, none: the towers' own bounds are much tighter than the maximum of all.
    """

    def __init__(self, terrain: Grid, max_radius_km: float, rx_height_m: float) -> None:
        self.terrain = terrain
        self.rx_height_m = rx_height_m
        self.R = half_width(max_radius_km * 1000.0, terrain.res)
        self.bounds: dict[tuple[str, str] | None, np.ndarray] = {}
        # key → (group, window row0, col0, rows, cols, top EIRP, antenna row, col, terms)
        self.entries: dict[object, tuple] = {}
        self._z = np.ascontiguousarray(terrain.data)

    def add(
        self,
        key: object,
        cells: np.ndarray,
        loss: np.ndarray,
        group: tuple[str, str] | None,
        *,
        row: int,
        col: int,
        f_mhz: float,
        h_tx_m: float,
        z_ant_m: float,
        only: np.ndarray | None = None,
        spans: np.ndarray | None = None,
    ) -> None:
        """Record entry ``key`` — the ``cells`` (:func:`cell_table`) of one group sharing the
        loss window ``loss`` of the antenna at grid cell (row, col), its skipped cells +inf —
        and raise its group's bound there (each cell's exact gain, see
        :func:`window_skip_mask`). With ``only`` (a grid mask, bounded on each window row by
        ``spans``: :func:`lomsong.grid.window_spans`), its skipped cells there alone."""
        h, w = self.terrain.shape
        R = self.R
        r0, c0 = max(row - R, 0), max(col - R, 0)
        hh, ww = min(row + R + 1, h) - r0, min(col + R + 1, w) - c0
        bound = self.bounds.get(group)
        if bound is None:
            bound = self.bounds[group] = np.full(self.terrain.shape, -np.inf, dtype=np.float32)
        lmin = _loss_bound(R, self.terrain.res, f_mhz, h_tx_m, self.rx_height_m)
        self.entries[key] = (group, r0, c0, hh, ww, float(cells[:, 0].max()),
                             row, col, (cells, f_mhz, h_tx_m, z_ant_m))  # fmt: skip
        if lmin is None:  # cannot happen for an ITM entry; never trust a skipped cell then
            bound[r0 : r0 + hh, c0 : c0 + ww] = np.inf
            return
        loss = np.ascontiguousarray(loss, dtype=np.float32)  # (a cached window's already is)
        _skipped_bounds(bound, loss, lmin, self._z, row, col, self.terrain.res, z_ant_m,
                        self.rx_height_m, antennas.window_bearings(2 * R + 1), cells,
                        _PRUNE_MARGIN_DB, True, _NO_MASK if only is None else only,
                        only is not None, full_spans(R) if spans is None else spans)  # fmt: skip

    def candidates(self, composite: Callable[[tuple[str, str] | None], np.ndarray]) -> list:
        """Entries whose window holds a cell where the bound of some skipped cell reaches
        ``composite(group)``, the likeliest servers first: by EIRP minus free space to the
        centre of those cells (a cell that wins there settles the others' cells)."""
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
        for key, (group, r0, c0, hh, ww, eirp, row, col, _) in self.entries.items():
            if group not in sats:
                continue
            r1, c1 = r0 + hh, c0 + ww
            n, sr, sc = (t[r1, c1] - t[r0, c1] - t[r1, c0] + t[r0, c0] for t in sats[group])
            if n < 0.5:
                continue
            d = max(math.hypot(sr / n - row, sc / n - col), 1.0) * self.terrain.res
            scored.append((-(eirp - 20.0 * math.log10(d)), len(scored), key))
        return [key for *_, key in sorted(scored)]

    def open_cells(
        self,
        key: object,
        loss: np.ndarray,
        composite: Callable[[tuple[str, str] | None], np.ndarray],
    ) -> np.ndarray:
        """The cells of entry ``key``'s loss window ``loss`` (a window mask) it skipped (+inf)
        inside the grid whose bound reaches the composite now (within the pruning margin):
        those its cells must evaluate."""
        group, *_, row, col, (cells, f_mhz, h_tx_m, z_ant_m) = self.entries[key]
        R = self.R
        lmin = _loss_bound(R, self.terrain.res, f_mhz, h_tx_m, self.rx_height_m)
        if lmin is None:
            return np.isposinf(loss)
        loss = np.ascontiguousarray(loss, dtype=np.float32)
        return _skipped_bounds(composite(group), loss, lmin, self._z, row, col,
                               self.terrain.res, z_ant_m, self.rx_height_m,
                               antennas.window_bearings(2 * R + 1), cells, _RECHECK_MARGIN_DB,
                               False, _NO_MASK, False, full_spans(R))  # fmt: skip
