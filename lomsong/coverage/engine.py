"""One tower's prediction: its service level on its window of the terrain grid, or at points.

Service level (dBm) at receiver height = EIRP (dBm) + service offset (dB) + antenna pattern gain
relative to boresight (dB, ≤ 0) − path loss (dB), in the tower's technology's own quantity:
2G RxLev, 3G RSCP, 4G RSRP, 5G SS-RSRP (the offset from the total power:
:func:`lomsong.coverage.pruning.tower_params`, :mod:`lomsong.propagation.service`). Under a
calibration fitted per transmitter (absolute) the fitted offset replaces EIRP + service offset:
it was fitted on measured levels, which are already in the measured quantity; under one fitted
per operator/technology on walk tests (relative) the offset is added to it. Path loss is ITM
(:mod:`lomsong.propagation.itm_raster`) or the closed-form model's distance loss plus knife-edge
diffraction over the dominant terrain obstacle of the profile (:mod:`lomsong.propagation.paths`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from lomsong.coverage.pruning import pruning_mask, tower_params
from lomsong.coverage.types import CalibrationResult, LossWindow, TowerPrediction
from lomsong.defaults import (
    ENVIRONMENT,
    ITM_DEFAULTS,
    ITM_SIGMA_LOCATION,
    LOCATION_PROBABILITY,
    MAX_RADIUS_KM,
    RX_HEIGHT_M,
)
from lomsong.errors import LomsongError, ModelValidityWarning, log_warning
from lomsong.grid import Grid
from lomsong.propagation import antennas, itm_raster, models, paths
from lomsong.propagation.paths import half_width

__all__ = [
    "RASTER_MODELS",
    "predict_tower",
    "window_loss",
    "window_losses",
    "cell_prediction",
    "tower_cell",
    "itm_location_quantile",
    "path_loss_points",
    "path_loss_pair_points",
    "PointLevels",
    "service_levels_points",
    "received_power_points",
    "validity_notes",
    "warn_model_validity",
]

logger = logging.getLogger(__name__)

#: Models the raster engine evaluates. "hata" switches to COST-231 Hata above 1500 MHz (the
#: Hata family's usual split: Okumura-Hata is published for 150–1500 MHz only); "itm" is the
#: NTIA Longley-Rice point-to-point model evaluated incrementally along rays (:mod:`.itm_raster`).
#: Every model takes every environment of :data:`lomsong.defaults.ENVIRONMENTS`: "hata" and
#: "cost231" use it (COST-231's suburban and open areas take Hata's corrections, see
#: :func:`lomsong.propagation.models.cost231_loss`); "fspl" and "itm" ignore it.
RASTER_MODELS = ("fspl", "hata", "cost231", "itm")
_HATA_MAX_MHZ = models.HATA_VALIDITY["f_mhz"][1]


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


#: How many tower ids (or values) a validity note lists before "… and N more".
_LISTED = 5


def _listed(items: list[str]) -> str:
    more = f", … and {len(items) - _LISTED} more" if len(items) > _LISTED else ""
    return ", ".join(items[:_LISTED]) + more


def _towers(ids: np.ndarray, values: np.ndarray | None = None, unit: str = "") -> str:
    """``"2 towers at 2100, 3500 MHz (T1, T2) are"``: who, for a validity note."""
    n = len(ids)
    at = ""
    if values is not None:
        distinct = sorted(set(np.round(values, 1).tolist()))
        at = f" at {_listed([f'{v:g}' for v in distinct])} {unit}"
    noun, verb = ("tower", "is") if n == 1 else ("towers", "are")
    return f"{n} {noun}{at} ({_listed(list(ids))}) {verb}"


def validity_notes(
    towers: Any, model: str, *, rx_height_m: float, max_radius_km: float
) -> list[str]:
    """Where the towers' predictions leave the model's published ranges: one sentence a reason.

    The engine evaluates Okumura-Hata and COST-231 Hata over the whole radius with
    ``validate=False`` (one warning per raster call would say the same thing thousands of
    times); these notes say it once for a set of towers, naming them. One note per reason,
    each only when some tower is concerned:

    - frequency: ``"hata"`` is Okumura-Hata, published for 150–1500 MHz; above 1500 MHz the
      engine uses COST-231 Hata, published up to 2000 MHz (3G at 2100 MHz and 5G at 3500 MHz
      are beyond it); ``"cost231"`` is published for 1500–2000 MHz (2G at 900 MHz is below);
    - base-station height above ground (30–200 m);
    - mobile height ``rx_height_m`` (1–10 m);
    - distance: published to 20 km; a ``max_radius_km`` beyond takes every tower past it.

    Distances under 1 km are not reported: every tower has them, and the engine bounds the
    loss there by free space. "fspl" and "itm" give no notes.

    Parameters
    ----------
    towers
        Towers frame with ``tower_id``, ``freq_mhz`` (MHz) and ``height_m`` (m above ground).
    model
        The raster model name.
    rx_height_m
        Receiver height above ground (m).
    max_radius_km
        Prediction radius around each tower (km).

    Returns
    -------
    list of str
        The notes, frequency first; empty when every prediction is within range.
    """
    if model not in ("hata", "cost231") or len(towers) == 0:
        return []
    if "tower_id" in towers:
        ids = towers["tower_id"].astype(str).to_numpy()
    else:
        ids = np.array([str(i) for i in towers.index])
    f = towers["freq_mhz"].to_numpy(dtype=float)
    h = towers["height_m"].to_numpy(dtype=float)
    hata_lo, hata_hi = models.HATA_VALIDITY["f_mhz"]
    cost_lo, cost_hi = models.COST231_VALIDITY["f_mhz"]
    notes = []
    if model == "hata":
        parts = []
        if (sel := f > hata_hi).any():
            switch = f"COST-231 Hata is used above {hata_hi:g} MHz"
            parts.append(f"{_towers(ids[sel])} above it: {switch}")
        if (sel := f > cost_hi).any():
            beyond = f"beyond COST-231's {cost_hi:g} MHz: extrapolated"
            parts.append(f"{_towers(ids[sel], f[sel], 'MHz')} {beyond}")
        if (sel := f < hata_lo).any():
            parts.append(f"{_towers(ids[sel], f[sel], 'MHz')} below it: extrapolated")
        if parts:
            published = f"Okumura-Hata is published for {hata_lo:g}–{hata_hi:g} MHz"
            notes.append(f"{published}; {'; '.join(parts)}")
        name = "Okumura-Hata and COST-231 Hata are"
    else:
        if (sel := (f < cost_lo) | (f > cost_hi)).any():
            published = f"COST-231 Hata is published for {cost_lo:g}–{cost_hi:g} MHz"
            notes.append(f"{published}; {_towers(ids[sel], f[sel], 'MHz')} outside: extrapolated")
        name = "COST-231 Hata is"
    # the height and distance ranges are the same for both models
    h_lo, h_hi = models.HATA_VALIDITY["h_tx_m"]
    if (sel := (h < h_lo) | (h > h_hi)).any():
        published = f"{name} published for base-station heights {h_lo:g}–{h_hi:g} m"
        notes.append(f"{published}; {_towers(ids[sel], h[sel], 'm')} outside: extrapolated")
    m_lo, m_hi = models.HATA_VALIDITY["h_rx_m"]
    if not m_lo <= rx_height_m <= m_hi:
        published = f"{name} published for mobile heights {m_lo:g}–{m_hi:g} m"
        notes.append(f"{published}; rx_height_m = {rx_height_m:g} m is outside: extrapolated")
    d_hi = models.HATA_VALIDITY["d_km"][1]
    if max_radius_km > d_hi:
        published = f"{name} published up to {d_hi:g} km"
        reach = f"{_towers(ids)} predicted beyond it (max_radius_km = {max_radius_km:g})"
        notes.append(f"{published}; {reach}: extrapolated there")
    return notes


def warn_model_validity(
    towers: Any, model: str, *, rx_height_m: float, max_radius_km: float
) -> list[str]:
    """Say once, as a :class:`~lomsong.errors.ModelValidityWarning` log line each, every
    :func:`validity_notes` of these towers; returns the notes."""
    notes = validity_notes(towers, model, rx_height_m=rx_height_m, max_radius_km=max_radius_km)
    for note in notes:
        log_warning(logger, ModelValidityWarning, note)
    return notes


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
    return paths.distance_table(fn, max_m, step), step


def _calibrated(
    calibration: CalibrationResult, tower: Mapping, eirp: float, table: np.ndarray, step: float
) -> tuple[float, np.ndarray]:
    """(EIRP term, loss table + c(d)) of a tower under a fitted calibration (either kind:
    :meth:`~lomsong.coverage.types.CalibrationFit.service_eirp_dbm`)."""
    d_km = np.maximum(np.arange(len(table)) * step, step) / 1000.0
    return (
        calibration.service_eirp_dbm(eirp, tower),
        table + calibration.extra_loss_db(d_km, tower),
    )


def _calibrated_window(
    calibration: CalibrationResult, tower: Mapping, eirp: float, loss: np.ndarray, res: float
) -> tuple[float, np.ndarray]:
    """(EIRP term, loss + c(d)) on a loss window: the distance correction cell by cell."""
    R = loss.shape[0] // 2
    off = (np.arange(loss.shape[0]) - R) * res
    d_km = np.maximum(np.hypot(off[None, :], off[:, None]), res / 2) / 1000.0
    corrected = loss + calibration.extra_loss_db(d_km, tower)
    return calibration.service_eirp_dbm(eirp, tower), corrected.astype(np.float32)


def _check_model(model: str) -> None:
    if model not in RASTER_MODELS:
        raise LomsongError(f"unknown model {model!r}; use one of {', '.join(RASTER_MODELS)}")


def itm_location_quantile(location_probability: float) -> float:
    """The location quantile (0.5-1) at which the engine evaluates ITM beside its median.

    The run's location probability p when p > 0.5; at p = 0.5 (the median)
    :data:`~lomsong.defaults.ITM_SIGMA_LOCATION`, only to read each cell's location
    variability (the coverage probability): the classes at p = 0.5 use the median alone.
    """
    p = float(location_probability)
    return p if p > 0.5 else float(ITM_SIGMA_LOCATION)


def tower_cell(tower: Mapping, terrain: Grid) -> tuple[int, int] | None:
    """The terrain cell (row, col) of a tower's antenna; None outside the grid."""
    rows, cols = terrain.rowcol(tower["geometry"].x, tower["geometry"].y)
    row, col = int(rows), int(cols)
    if not terrain.inside(np.array(row), np.array(col)):
        return None
    return row, col


def window_loss(
    tower: Mapping,
    terrain: Grid,
    *,
    model: str = "hata",
    environment: str = ENVIRONMENT,
    rx_height_m: float = RX_HEIGHT_M,
    max_radius_km: float = MAX_RADIUS_KM,
    location_probability: float = LOCATION_PROBABILITY,
    calibration: CalibrationResult | None = None,
    skip: np.ndarray | None = None,
) -> LossWindow | None:
    """Path loss (dB) of a tower's antenna position on its window: what its co-sited cells of
    the same height and carrier share.

    ITM: the median and the location quantile :func:`itm_location_quantile` of
    ``location_probability`` in one pass (:func:`~lomsong.propagation.itm_raster.itm_loss_pair`,
    :data:`~lomsong.defaults.ITM_DEFAULTS`: broadcast mode, time and situation at 50 %). The
    closed-form models: their distance loss plus knife-edge diffraction, no quantile (the rule's
    fade margin); under a ``calibration`` their distance correction enters the loss table, so
    such a window is the tower's own (``calibration`` is ignored for ITM: it is applied per cell
    by :func:`cell_prediction`).

    ``skip``: cells not to evaluate (ITM only; +inf in both windows), see
    :func:`~lomsong.coverage.pruning.pruning_mask`. None when the antenna stands outside the
    terrain grid.
    """
    _check_model(model)
    cell = tower_cell(tower, terrain)
    if cell is None:
        return None
    row, col = cell
    f_mhz, h_tx, eirp = tower_params(tower)
    res = terrain.res
    max_m = max_radius_km * 1000.0
    if model == "itm":
        q = itm_location_quantile(location_probability)
        loss, loss_q = itm_raster.itm_loss_pair(
            terrain.data, row, col, res_m=res, max_radius_m=max_m, h_tx_m=h_tx,
            h_rx_m=rx_height_m, f_mhz=f_mhz, **{**ITM_DEFAULTS, "location": 100.0 * q},
            skip=skip,
        )  # fmt: skip
        return LossWindow(row, col, loss, loss_q)
    table, step = _loss_table(model, f_mhz, h_tx, rx_height_m, environment, max_m, res)
    if calibration is not None:
        _, table = _calibrated(calibration, tower, eirp, table, step)
    loss = paths.ray_loss_window(
        terrain.data, row, col, res_m=res, max_radius_m=max_m, h_tx_m=h_tx,
        h_rx_m=rx_height_m, f_mhz=f_mhz, table=table, table_step_m=step,
    )  # fmt: skip
    return LossWindow(row, col, loss)


def window_losses(
    towers: Sequence[Mapping],
    terrain: Grid,
    *,
    model: str = "hata",
    environment: str = ENVIRONMENT,
    rx_height_m: float = RX_HEIGHT_M,
    max_radius_km: float = MAX_RADIUS_KM,
    location_probability: float = LOCATION_PROBABILITY,
    calibration: CalibrationResult | None = None,
    skip: np.ndarray | None = None,
) -> list[LossWindow | None]:
    """:func:`window_loss` of each antenna of a site: the same grid cell and mast, any carriers.

    ITM walks the rays once for all of them (:func:`~lomsong.propagation.itm_raster.
    itm_loss_bands`: the path geometry does not depend on the frequency) and evaluates ITM's
    frequency terms per carrier; each window equals :func:`window_loss` of its antenna bit for
    bit. The closed-form models compute each window on its own (their cost is the loss table
    and the rays' knife edges, per carrier). ``skip`` applies to every window.

    Raises
    ------
    ValueError
        When ITM's antennas do not share one grid cell and one mast height.
    """
    options = {"model": model, "environment": environment, "rx_height_m": rx_height_m,
               "max_radius_km": max_radius_km, "location_probability": location_probability,
               "calibration": calibration, "skip": skip}  # fmt: skip
    if model != "itm" or len(towers) < 2:
        return [window_loss(t, terrain, **options) for t in towers]
    _check_model(model)
    cells = {tower_cell(t, terrain) for t in towers}
    params = [tower_params(t) for t in towers]
    if len(cells) != 1 or len({round(h, 6) for _, h, _ in params}) != 1:
        raise ValueError("window_losses: the antennas must share one grid cell and one mast "
                         f"height, got cells {sorted(map(str, cells))}")  # fmt: skip
    cell = cells.pop()
    if cell is None:
        return [None] * len(towers)
    row, col = cell
    q = itm_location_quantile(location_probability)
    pairs = itm_raster.itm_loss_bands(
        terrain.data, row, col, res_m=terrain.res, max_radius_m=max_radius_km * 1000.0,
        h_tx_m=params[0][1], h_rx_m=rx_height_m, f_mhz=[f for f, _, _ in params],
        **{**ITM_DEFAULTS, "location": 100.0 * q}, skip=skip,
    )  # fmt: skip
    return [LossWindow(row, col, loss, loss_q) for loss, loss_q in pairs]


def cell_eirp(tower: Mapping, calibration: CalibrationResult | None = None) -> float:
    """The EIRP term (dBm) of a cell's level: its service EIRP
    (:func:`~lomsong.coverage.pruning.tower_params`), or the calibration's."""
    eirp = tower_params(tower)[2]
    return eirp if calibration is None else float(calibration.service_eirp_dbm(eirp, tower))


def cell_gain(
    tower: Mapping, terrain: Grid, window: LossWindow, rx_height_m: float
) -> np.ndarray | None:
    """The cell's antenna pattern gain (dB ≤ 0, float32) on the window; None for an omni cell."""
    if math.isnan(float(tower.get("azimuth_deg", np.nan))):
        return None
    R = window.R
    return _sector_gain(tower, terrain, window.row - R, window.col - R, 2 * R + 1, rx_height_m)


def cell_prediction(
    tower: Mapping,
    terrain: Grid,
    window: LossWindow,
    *,
    model: str,
    rx_height_m: float = RX_HEIGHT_M,
    calibration: CalibrationResult | None = None,
    gain: np.ndarray | None = None,
) -> TowerPrediction:
    """One cell's level (dBm) on its antenna's loss window: EIRP term + pattern gain − loss,
    at the median and (ITM) at the location quantile, cropped to the grid (``gain``: the
    cell's :func:`cell_gain` when already computed)."""
    eirp = cell_eirp(tower, calibration)
    loss, loss_q = window.loss, window.loss_q
    if calibration is not None and model == "itm":
        raw = tower_params(tower)[2]
        _, loss = _calibrated_window(calibration, tower, raw, loss, terrain.res)
        if loss_q is not None:
            _, loss_q = _calibrated_window(calibration, tower, raw, loss_q, terrain.res)
    if gain is None:
        gain = cell_gain(tower, terrain, window, rx_height_m)
    R = window.R
    r0, c0 = window.row - R, window.col - R
    h, w = terrain.shape
    size = 2 * R + 1
    i0, j0 = max(0, -r0), max(0, -c0)
    i1, j1 = size - max(0, r0 + size - h), size - max(0, c0 + size - w)

    def level(lo: np.ndarray) -> np.ndarray:
        p = np.float32(eirp) - lo[i0:i1, j0:j1]
        if gain is not None:
            p += gain[i0:i1, j0:j1]
        return np.ascontiguousarray(p, dtype=np.float32)

    return TowerPrediction(r0 + i0, c0 + j0, level(loss),
                           None if loss_q is None else level(loss_q))  # fmt: skip


def predict_tower(
    tower: Mapping,
    terrain: Grid,
    *,
    model: str = "hata",
    environment: str = ENVIRONMENT,
    rx_height_m: float = RX_HEIGHT_M,
    max_radius_km: float = MAX_RADIUS_KM,
    calibration: CalibrationResult | None = None,
    floor: np.ndarray | None = None,
    location_probability: float = LOCATION_PROBABILITY,
) -> TowerPrediction | None:
    """Service level of one tower over the terrain cells within ``max_radius_km``.

    :func:`window_loss` then :func:`cell_prediction` (the composite of many cells shares the
    window among co-sited cells: :func:`lomsong.coverage.predict.predict`).

    Parameters
    ----------
    tower
        A row of the towers layer (``geometry`` Point in the terrain's CRS, ``tech``,
        ``freq_mhz``, ``bandwidth_mhz``, ``height_m``, ``eirp_dbm`` — the cell's total EIRP,
        ``azimuth_deg``, ``beamwidth_deg``, ``tilt_deg``).
    terrain
        Elevation Grid (m) in a metric CRS.
    calibration
        From ``lomsong calibrate``. Absolute (per transmitter): the tower's fitted offset (its
        own, or the mean of the calibrated transmitters) replaces EIRP + service offset — it
        was fitted on measured levels, already in the measured quantity, so no service offset
        is added. Relative (walk tests): its operator/technology offset and its own tower
        offset are added to EIRP + service offset. Either way the fitted distance correction
        c(d) is added to the model's loss.
    floor
        Best-server level at the location quantile (dBm, −inf where none; the median's for
        the closed-form models) of other cells on the terrain grid (ITM without calibration
        only): cells where this cell's level is certainly below it are not evaluated and hold
        −inf (see :func:`pruning_mask`). Exact for the best server at the median and at the
        quantile: such a cell can never be this cell's.
    location_probability
        ITM: the run's location probability; the prediction's ``power_q`` is the level at
        location quantile :func:`itm_location_quantile` of it.

    Returns
    -------
    TowerPrediction or None
        Service level (dBm) in the tower's technology's quantity (``power_q``: at the location
        quantile, ITM only); None when the tower stands outside the terrain grid.

    Raises
    ------
    InputError
        A tower of unknown technology, or a bandwidth that is no channel of its technology.
    """
    tower_params(tower)  # a bad technology or bandwidth fails before any work
    cell = tower_cell(tower, terrain)
    if cell is None:
        logger.warning("tower %s is outside the terrain grid: skipped", tower.get("tower_id"))
        return None
    _check_model(model)
    skip = gain = None
    if model == "itm" and floor is not None and calibration is None:
        R = half_width(max_radius_km * 1000.0, terrain.res)
        shape = LossWindow(cell[0], cell[1], np.empty((2 * R + 1, 2 * R + 1), np.float32))
        gain = cell_gain(tower, terrain, shape, rx_height_m)
        skip = pruning_mask(tower, floor, cell[0] - R, cell[1] - R, R, terrain.res,
                            rx_height_m=rx_height_m, gain=gain)  # fmt: skip
    window = window_loss(tower, terrain, model=model, environment=environment,
                         rx_height_m=rx_height_m, max_radius_km=max_radius_km,
                         location_probability=location_probability, calibration=calibration,
                         skip=skip)  # fmt: skip
    assert window is not None
    return cell_prediction(tower, terrain, window, model=model, rx_height_m=rx_height_m,
                           calibration=calibration, gain=gain)  # fmt: skip


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


def path_loss_points(
    terrain: Grid,
    tx_xy: tuple[float, float],
    points_x: np.ndarray,
    points_y: np.ndarray,
    *,
    f_mhz: float,
    h_tx_m: float,
    model: str = "hata",
    environment: str = ENVIRONMENT,
    rx_height_m: float = RX_HEIGHT_M,
    max_radius_km: float = MAX_RADIUS_KM,
) -> np.ndarray:
    """Path loss (dB) from one transmitter to given points, with the raster engine's model, at
    the location median (:func:`path_loss_pair_points` for ITM's location quantile too).

    Points beyond ``max_radius_km`` get NaN. Used for candidate sites, where only the
    households matter, not the whole grid.
    """
    return _point_losses(terrain, tx_xy, points_x, points_y, f_mhz=f_mhz, h_tx_m=h_tx_m,
                         model=model, environment=environment, rx_height_m=rx_height_m,
                         max_radius_km=max_radius_km, quantile=None)[0]  # fmt: skip


def path_loss_pair_points(
    terrain: Grid,
    tx_xy: tuple[float, float],
    points_x: np.ndarray,
    points_y: np.ndarray,
    *,
    f_mhz: float,
    h_tx_m: float,
    location_probability: float,
    model: str = "hata",
    environment: str = ENVIRONMENT,
    rx_height_m: float = RX_HEIGHT_M,
    max_radius_km: float = MAX_RADIUS_KM,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Path loss (dB) to points at the location median and, for ITM, at the location quantile
    :func:`itm_location_quantile` of ``location_probability`` — the pair the raster engine
    computes on the grid (:func:`window_loss`).

    ITM: two exact point-to-point evaluations of each straight profile
    (:func:`~lomsong.propagation.itm_raster.itm_point_loss`) in the raster's mode
    (:data:`~lomsong.defaults.ITM_DEFAULTS`: broadcast, ``mdvar`` 3, time and situation at
    50 %), the location at 50 % and at the quantile. The closed-form models: the median loss
    and None (their location variability is the rule's fade margin).

    Returns
    -------
    (ndarray, ndarray or None)
        Loss at the median and at the quantile (NaN beyond ``max_radius_km`` or where the
        profile leaves the grid); the quantile's loss is never below the median's.
    """
    q = itm_location_quantile(location_probability) if model == "itm" else None
    return _point_losses(terrain, tx_xy, points_x, points_y, f_mhz=f_mhz, h_tx_m=h_tx_m,
                         model=model, environment=environment, rx_height_m=rx_height_m,
                         max_radius_km=max_radius_km, quantile=q)  # fmt: skip


def _point_losses(
    terrain: Grid,
    tx_xy: tuple[float, float],
    points_x: Any,
    points_y: Any,
    *,
    f_mhz: float,
    h_tx_m: float,
    model: str,
    environment: str,
    rx_height_m: float,
    max_radius_km: float,
    quantile: float | None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """(loss at the median, loss at location quantile ``quantile`` or None): ITM's geometry and
    reference attenuation once per profile, its variability at both locations
    (:func:`~lomsong.propagation.itm_raster.itm_point_loss_pair`); the closed-form models
    once."""
    points_x = np.asarray(points_x, dtype=float)
    points_y = np.asarray(points_y, dtype=float)
    max_m = max_radius_km * 1000.0
    _check_model(model)
    loss_q = None
    if model == "itm":
        args = (terrain.data, terrain.transform, tx_xy, points_x, points_y)
        radio = {"h_tx_m": h_tx_m, "h_rx_m": rx_height_m, "f_mhz": f_mhz}
        if quantile is None:
            loss = itm_raster.itm_point_loss(*args, **radio, **ITM_DEFAULTS)
        else:  # one evaluation of each path for both (its variability twice)
            loss, loss_q = itm_raster.itm_point_loss_pair(
                *args, **radio, **{**ITM_DEFAULTS, "location": 100.0 * quantile}
            )
    else:
        table, step = _loss_table(
            model, f_mhz, h_tx_m, rx_height_m, environment, max_m, terrain.res
        )
        loss = paths.point_loss(
            terrain.data, terrain.transform, tx_xy, points_x, points_y, h_tx_m=h_tx_m,
            h_rx_m=rx_height_m, f_mhz=f_mhz, table=table, table_step_m=step,
        )  # fmt: skip
    far = np.hypot(points_x - tx_xy[0], points_y - tx_xy[1]) > max_m
    loss[far] = np.nan
    if loss_q is not None:
        loss_q[far] = np.nan
    return loss, loss_q


def _antenna_gain(
    tower: Mapping, terrain: Grid, xs: np.ndarray, ys: np.ndarray, h_tx_m: float, rx_h: float
) -> np.ndarray:
    """Pattern gain (dB ≤ 0) toward the points, with the elevation rule of ``_sector_gain``."""
    az = float(tower.get("azimuth_deg", np.nan))
    if math.isnan(az):
        return np.zeros(len(xs))
    tx, ty = tower["geometry"].x, tower["geometry"].y
    dx, dy = xs - tx, ys - ty
    dist = np.maximum(np.hypot(dx, dy), terrain.res / 2)
    z = terrain.sample(xs, ys)
    z_tx = float(terrain.sample(np.array([tx]), np.array([ty]))[0])
    z_tx = 0.0 if not math.isfinite(z_tx) else z_tx
    dz = z + rx_h - (z_tx + h_tx_m)
    return np.asarray(
        antennas.antenna_gain_db(
            antennas.bearing_deg(dx, dy),
            antennas.elevation_deg(dz, dist),
            azimuth_deg=az,
            beamwidth_deg=float(tower["beamwidth_deg"]),
            tilt_deg=float(tower["tilt_deg"]),
        ),  # fmt: skip
        dtype=float,
    ).reshape(len(xs))


class PointLevels(NamedTuple):
    """One tower's service levels at points (:func:`service_levels_points`).

    Attributes
    ----------
    level
        Level at the location median (dBm; NaN: no prediction).
    gain
        Antenna pattern gain toward each point (dB ≤ 0).
    level_q
        ITM: the level at location quantile ``quantile`` (dBm); None for the closed-form models
        or when not asked.
    quantile
        The location quantile of ``level_q`` (0.5-1), None without it.
    """

    level: np.ndarray
    gain: np.ndarray
    level_q: np.ndarray | None = None
    quantile: float | None = None

    @property
    def at_quantile(self) -> tuple[float, np.ndarray] | None:
        """``(q, level_q)`` for :meth:`~lomsong.coverage.rule.CoverageRule.margin_db` and
        :meth:`~lomsong.coverage.rule.CoverageRule.covers`; None without a quantile."""
        if self.level_q is None or self.quantile is None:
            return None
        return self.quantile, self.level_q

    def minus(self, db: Any) -> PointLevels:
        """The levels less a loss at the receiver (dB, e.g. the rule's terminal clutter), off
        the median and the quantile alike."""
        lq = None if self.level_q is None else self.level_q - db
        return PointLevels(self.level - db, self.gain, lq, self.quantile)


def service_levels_points(
    tower: Mapping,
    terrain: Grid,
    xs: Any,
    ys: Any,
    *,
    location_probability: float | None = None,
    h_tx_m: float | None = None,
    model: str = "hata",
    environment: str = ENVIRONMENT,
    rx_height_m: float = RX_HEIGHT_M,
    max_radius_km: float = MAX_RADIUS_KM,
    calibration: CalibrationResult | None = None,
    paths_memo: dict | None = None,
) -> PointLevels:
    """Service level (dBm) of one tower at points, at the location median and (ITM) at the
    location quantile: the point twin of :func:`predict_tower`.

    ``P = service EIRP + antenna gain − loss``, the service EIRP of
    :func:`~lomsong.coverage.pruning.tower_params` (total EIRP + the technology's service
    offset), the loss :func:`path_loss_pair_points` on the straight profile to each point. With
    a ``calibration`` the EIRP term and the distance correction are the calibration's, as
    :func:`predict_tower` applies them (to the median and the quantile alike): an absolute
    fit's offset replaces the service EIRP, a relative fit's operator/technology (and tower)
    offset is added to it — existing towers, candidates (by their ``tech`` and ``operator``, if
    any) and explanations alike.

    Parameters
    ----------
    location_probability
        The run's location probability p: under ITM ``level_q`` is the level at location
        quantile :func:`itm_location_quantile` of p, the quantile the raster engine evaluates
        for the same p (the rule then judges points as it judges the grid). None: the median
        only. Ignored by the closed-form models (the rule's fade margin).
    h_tx_m
        Overrides the tower's ``height_m`` (mast search).
    paths_memo
        A dict the caller keeps over a batch of calls on one terrain: the path losses computed
        are stored in it, keyed by the transmitter's position, height and carrier, the points
        and the model's settings, and read back by the next call that asks for the same paths
        — a site's sectors on one carrier (the loss does not depend on the antenna pattern;
        each adds its own gain and EIRP).

    Returns
    -------
    PointLevels
        NaN beyond ``max_radius_km`` or where the profile leaves the grid.
    """
    xs = np.atleast_1d(np.asarray(xs, dtype=float))
    ys = np.atleast_1d(np.asarray(ys, dtype=float))
    f_mhz, h_own, eirp = tower_params(tower)
    h = h_own if h_tx_m is None else float(h_tx_m)
    g = tower["geometry"]
    q = None
    if model == "itm" and location_probability is not None:
        q = itm_location_quantile(location_probability)
    key = None
    if paths_memo is not None:
        key = (float(g.x), float(g.y), h, f_mhz, xs.tobytes(), ys.tobytes(), model, environment,
               float(rx_height_m), float(max_radius_km), q)  # fmt: skip
    if key is not None and key in paths_memo:
        loss, loss_q = paths_memo[key]  # read only: the levels below are new arrays
    else:
        loss, loss_q = _point_losses(
            terrain, (g.x, g.y), xs, ys, f_mhz=f_mhz, h_tx_m=h, model=model,
            environment=environment, rx_height_m=rx_height_m, max_radius_km=max_radius_km,
            quantile=q,
        )  # fmt: skip
        if key is not None:
            paths_memo[key] = (loss, loss_q)
    gain = _antenna_gain(tower, terrain, xs, ys, h, rx_height_m)
    if calibration is None:

        def level(lo: np.ndarray) -> np.ndarray:
            return eirp + gain - lo

    else:
        # as _calibrated_window: EIRP term − loss − c(d), d from the cell distance rule
        d_km = np.maximum(np.hypot(xs - g.x, ys - g.y), terrain.res / 2) / 1000.0
        term = calibration.service_eirp_dbm(eirp, tower)
        extra = calibration.extra_loss_db(d_km, tower)

        def level(lo: np.ndarray) -> np.ndarray:
            return term - lo - extra + gain

    return PointLevels(level(loss), gain, None if loss_q is None else level(loss_q), q)


def received_power_points(
    tower: Mapping,
    terrain: Grid,
    xs: Any,
    ys: Any,
    *,
    h_tx_m: float | None = None,
    model: str = "hata",
    environment: str = ENVIRONMENT,
    rx_height_m: float = RX_HEIGHT_M,
    max_radius_km: float = MAX_RADIUS_KM,
    calibration: CalibrationResult | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Service level (dBm) of one tower at points at the location median, and its antenna gain
    toward them (dB): :func:`service_levels_points` without the location quantile.

    For a level to judge by the coverage rule under ITM, use :func:`service_levels_points`
    with the run's location probability: the rule reads ITM's own variability from the pair.
    ``h_tx_m`` overrides the tower's ``height_m`` (mast search). NaN beyond ``max_radius_km``
    or where the profile leaves the grid.
    """
    pl = service_levels_points(
        tower, terrain, xs, ys, h_tx_m=h_tx_m, model=model, environment=environment,
        rx_height_m=rx_height_m, max_radius_km=max_radius_km, calibration=calibration,
    )  # fmt: skip
    return pl.level, pl.gain
