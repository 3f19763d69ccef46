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
from collections.abc import Callable, Mapping

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
from lomsong.grid import Grid
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


def _power_bound_terms(
    tower: Mapping, R: int, res: float, rx_height_m: float, gain: np.ndarray | None = None
) -> tuple | None:
    """(loss bound window, bearings, EIRP, azimuth, beamwidth, front-to-back, sectored, gain,
    exact): the terms of an ITM tower's power bound on its window (:func:`_power_bound`), or
    None when ITM's loss is not bounded (time or situation quantiles other than the medians).
    ``gain``: the cell's exact pattern gain on the window (vertical pattern included, as the
    engine adds it), else the horizontal pattern bounds it."""
    f_mhz, h_tx, eirp = tower_params(tower)
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
    exact = gain is not None and sectored
    bearing = antennas._window_bearings(2 * R + 1) if sectored and not exact else np.zeros((1, 1))
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
        self,
        i: int,
        tower: Mapping,
        pred: TowerPrediction,
        group: tuple[str, str] | None,
        gain: np.ndarray | None = None,
    ) -> None:
        """Record cell ``i`` (which skipped cells) and raise its group's bound there
        (``gain``: its exact pattern gain on the window, see :func:`pruning_mask`)."""
        terms = _power_bound_terms(tower, self.R, self.terrain.res, self.rx_height_m, gain)
        hh, ww = pred.power.shape
        row, col = (int(v) for v in self.terrain.rowcol(tower["geometry"].x, tower["geometry"].y))
        eirp = tower_params(tower)[2]
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
        gain: np.ndarray | None = None,
    ) -> np.ndarray:
        """The cells (on entry ``i``'s window) it skipped whose bound reaches the composite
        now (within the pruning margin): those it must evaluate."""
        group, *_, row, col = self.entries[i]
        terms = _power_bound_terms(tower, self.R, self.terrain.res, self.rx_height_m, gain)
        if terms is None:
            return np.isneginf(pred.power)
        return _skipped_bounds(composite(group), np.ascontiguousarray(pred.power), pred.row0,
                               pred.col0, pred.row0 - (row - self.R), pred.col0 - (col - self.R),
                               terms, _RECHECK_MARGIN_DB, False)  # fmt: skip
