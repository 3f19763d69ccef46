"""Calibrate a path-loss model against measured signal levels (drive tests, LoRaWAN uplinks).

This module fits the *absolute* calibration of paths from known transmitters of unknown power
(one CSV of paths: ``lomsong calibrate MEASUREMENTS.csv``). Walk tests of a project's own
network — offsets per operator × technology relative to the project's prediction, no-service
rows censored — are fitted by :mod:`lomsong.calibration.censored`
(``lomsong calibrate --project P.toml EVIDENCE...``).

Model
-----
A measurement is a received level ``rssi`` (dBm) on the path from a known transmitter ``tx`` to a
known position, at distance ``d`` (km, in the project's metric CRS). With ``L`` the model's path
loss on that path (dB), the calibrated prediction is::

    rssi = offset[tx] - L - c(d)

- ``offset[tx]`` (dBm) absorbs everything the model does not know about a transmitter: EIRP,
  both antenna gains, cable losses, the receiver's RSSI bias. It is fitted per transmitter.
- ``c(d)`` is an optional distance correction shared by all transmitters (``slope="shared"``)
  or one per transmitter (``slope="per_tx"``):

  - single slope: ``c(d) = b · 10 log10(d_km)`` — ``b`` is an *extra path-loss exponent*
    (free space with ``b = 1.5`` behaves like ``d^3.5``); ``10 b`` is in dB per decade;
  - dual slope (``breakpoint_km`` given or ``"fit"``, shared slopes only):
    ``c(d) = b · 10 log10(min(d, d_bp)) + b_far · 10 log10(max(d, d_bp) / d_bp)``,
    continuous at the breakpoint ``d_bp``; with ``"fit"`` the breakpoint is chosen on a
    log-spaced grid to minimise the squared residuals (nested in each leave-one-out fold).

Everything is ordinary least squares on ``y = rssi + L``: the offsets are per-transmitter
intercepts, shared terms are solved on the within-transmitter demeaned data (Frisch-Waugh), so a
fit costs O(n) per term.

Figures
-------
``residual_rms_db``
    In-sample root-mean-square of ``rssi - prediction`` over every path (pooled; each
    transmitter's residuals average to zero, so this is their standard deviation, ddof = 0).
Leave one transmitter out (``loo_*``)
    For each transmitter in turn, every *shared* parameter (slopes, breakpoint) is fitted on the
    other transmitters only, then the held-out transmitter is predicted:

    - ``loo_refit_rms_db``: its offset is fitted on its own measurements (one number, its mean
      residual) — this is the realistic use (a new site is calibrated with a few measurements of
      its own; the test is whether the *shape* of the model transfers). Per-transmitter slopes
      of the held-out transmitter are replaced by the unweighted mean of the others' slopes.
    - ``loo_mean_offset_rms_db``: its offset is the unweighted mean of the other transmitters'
      offsets — the figure for a site with no measurement at all, including the spread of EIRP
      and gains between sites.

    Both are the RMS of the held-out residuals pooled over all paths. With no distance term
    ``loo_refit`` equals the in-sample figure (nothing is shared).

Caveats
-------
- Measurements are censored at the receiver's sensitivity floor: links too weak to be received
  are missing, mostly far from the transmitter, so the surviving far paths are the lucky ones.
  Fitted slopes are biased flat (too little loss with distance) and the residual spread is
  smaller than the true spread; predictions beyond the measured distances are optimistic.
- An offset fitted per transmitter assumes an omnidirectional pattern; sector antennas mix
  pattern gain into the residuals.
- Paths shorter than :data:`MIN_PATH_M` are dropped (near field, position error of a GPS fix is
  comparable to the distance).

Use
---
>>> res = calibrate_file("drive_test.csv", model="fspl", slope="shared")   # doctest: +SKIP
>>> print(res.summary_text()); res.to_json("calibration.json")               # doctest: +SKIP
>>> rx_dbm = res.received_dbm(loss_db, d_km, tx_id="gw1")                   # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS, Transformer

from lomsong.calibration.measurements import read_measurements
from lomsong.coverage.types import MIN_PATH_M, CalibrationFit, CalibrationResult
from lomsong.defaults import CALIBRATION_TX_HEIGHT_M, ENVIRONMENT, ITM_DEFAULTS, RX_HEIGHT_M
from lomsong.errors import InputError, LomsongError
from lomsong.grid import Grid

__all__ = [
    "MIN_PATH_M",
    "CALIBRATION_MODELS",
    "CalibrationFit",
    "CalibrationResult",
    "path_distances_m",
    "predict_path_loss",
    "itm_profiles",
    "fit_calibration",
    "leave_one_out",
    "calibrate",
    "calibrate_file",
]

logger = logging.getLogger(__name__)

ITM_PROFILE_STEP_M: float = 30.0
"""Target spacing (m) of ITM terrain profiles: the DEM's native resolution (SRTM 1″)."""

CALIBRATION_MODELS = ("fspl", "hata", "cost231", "itm")
"""Models :func:`predict_path_loss` evaluates. With a terrain grid, ``fspl``/``hata``/
``cost231`` use the raster engine (closed form + knife edge, as ``lomsong run`` does)."""

SlopeMode = Literal["none", "shared", "per_tx"]
_BREAKPOINT_GRID_N = 25


# --------------------------------------------------------------------------------------------
# geometry and model losses


def _metric_crs(meas: pd.DataFrame, crs: CRS | str | None) -> CRS:
    if crs is not None:
        return CRS.from_user_input(crs)
    from lomsong.layers.crs import utm_crs

    return utm_crs(float(np.median(meas["lon"])), float(np.median(meas["lat"])))


def _project(meas: pd.DataFrame, crs: CRS) -> tuple[NDArray, NDArray, NDArray, NDArray]:
    to = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    x, y = to.transform(meas["lon"].to_numpy(float), meas["lat"].to_numpy(float))
    tx, ty = to.transform(meas["tx_lon"].to_numpy(float), meas["tx_lat"].to_numpy(float))
    return np.asarray(tx), np.asarray(ty), np.asarray(x), np.asarray(y)


def path_distances_m(meas: pd.DataFrame, *, crs: CRS | str | None = None) -> NDArray[np.float64]:
    """Transmitter-to-measurement distance (m) in a metric CRS (default: UTM of the data)."""
    tx, ty, x, y = _project(meas, _metric_crs(meas, crs))
    return np.hypot(x - tx, y - ty)


def itm_profiles(
    terrain: Grid,
    tx_xy: tuple[ArrayLike, ArrayLike],
    rx_xy: tuple[ArrayLike, ArrayLike],
    *,
    step_m: float = ITM_PROFILE_STEP_M,
) -> list[NDArray[np.float64]]:
    """Terrain profiles in ITM's PFL format along straight lines of a metric grid.

    Each path of length ``D`` gets ``n = ceil(D / step_m)`` intervals of ``D / n`` m; the
    elevation at each of the ``n + 1`` points is interpolated bilinearly between cell centres.
    A profile touching NaN (void, outside the grid) is returned all-NaN.

    Returns
    -------
    list of numpy.ndarray
        ``[n, spacing_m, z0, ..., zn]`` per path, transmitter first.
    """
    from scipy.ndimage import map_coordinates

    tx_x, tx_y = (np.atleast_1d(np.asarray(v, dtype=float)) for v in tx_xy)
    rx_x, rx_y = (np.atleast_1d(np.asarray(v, dtype=float)) for v in rx_xy)
    tx_x, tx_y, rx_x, rx_y = np.broadcast_arrays(tx_x, tx_y, rx_x, rx_y)
    d = np.hypot(rx_x - tx_x, rx_y - tx_y)
    n = np.maximum(1, np.ceil(d / step_m).astype(np.int64))
    starts = np.concatenate([[0], np.cumsum(n + 1)])
    frac = np.concatenate([np.linspace(0.0, 1.0, k + 1) for k in n])
    owner = np.repeat(np.arange(d.size), n + 1)
    xs = tx_x[owner] + frac * (rx_x - tx_x)[owner]
    ys = tx_y[owner] + frac * (rx_y - tx_y)[owner]
    t = terrain.transform
    # array coordinates of the points, cell centres at integer positions
    cols = (xs - t.c) / t.a - 0.5
    rows = (ys - t.f) / t.e - 0.5
    h, w = terrain.shape
    outside = (rows < -0.5) | (cols < -0.5) | (rows > h - 0.5) | (cols > w - 0.5)
    z = map_coordinates(
        np.asarray(terrain.data, dtype=np.float64), [rows, cols], order=1, mode="nearest"
    )
    z[outside] = np.nan
    out = []
    for k in range(d.size):
        zk = z[starts[k] : starts[k + 1]]
        pfl = np.concatenate([[n[k], d[k] / n[k]], zk])
        if not np.all(np.isfinite(zk)):
            pfl[2:] = np.nan
        out.append(pfl)
    return out


def predict_path_loss(
    meas: pd.DataFrame,
    *,
    model: str,
    terrain: Grid | None = None,
    environment: str = ENVIRONMENT,
    h_tx_m: float = CALIBRATION_TX_HEIGHT_M,
    h_rx_m: float = RX_HEIGHT_M,
    itm_params: Mapping[str, float] | None = None,
    validate: bool = True,
) -> NDArray[np.float64]:
    """The model's path loss (dB) on every measured path (NaN where it cannot be predicted).

    Parameters
    ----------
    meas
        Standardised measurements (:func:`read_measurements`).
    model
        ``"fspl"`` (free space), ``"hata"`` (Okumura-Hata, 150-1500 MHz), ``"cost231"``
        (COST-231 Hata, 1500-2000 MHz) or ``"itm"`` (Longley-Rice point-to-point; needs
        ``terrain``). With ``terrain`` the first three run lomsong's raster engine (the model's
        distance loss, never below free space, plus knife-edge diffraction over the dominant
        terrain obstacle) — the prediction ``lomsong run`` makes.
    terrain
        Elevation Grid in a metric CRS; distances are measured in its CRS.
    environment
        Hata/COST-231 environment.
    h_tx_m, h_rx_m
        Antenna heights above ground (m) of the transmitter and the measuring receiver.
    itm_params
        Overrides of :data:`ITM_DEFAULTS`.
    validate
        Closed-form models only: warn (:class:`~lomsong.errors.ModelValidityWarning`) when a
        path is outside the model's validity range.

    Notes
    -----
    ITM: one PFL profile per path from :func:`itm_profiles` (~30 m spacing), the transmitter
    at the profile's start; paths the ITM reference refuses get NaN.
    """
    from lomsong.propagation import models

    if model not in CALIBRATION_MODELS:
        raise LomsongError(
            f"unknown model {model!r}; expected one of {', '.join(CALIBRATION_MODELS)}"
        )
    if model == "itm" and terrain is None:
        raise LomsongError("model 'itm' needs a terrain grid (terrain=...)")
    crs = terrain.crs if terrain is not None else None
    tx, ty, x, y = _project(meas, _metric_crs(meas, crs))
    d_m = np.hypot(x - tx, y - ty)
    f = meas["f_mhz"].to_numpy(float)
    if terrain is None:
        d_km = d_m / 1000.0
        if model == "fspl":
            return np.asarray(models.free_space_loss(d_km, f), dtype=float)
        fn = models.get_model(model)
        return np.asarray(
            fn(d_km, f, h_tx_m, h_rx_m, environment=environment, validate=validate), dtype=float
        )
    if model == "itm":
        from lomsong.propagation import itm

        params = {**ITM_DEFAULTS, **dict(itm_params or {})}
        pfls = itm_profiles(terrain, (tx, ty), (x, y))
        ok = np.array([np.isfinite(p[2]) for p in pfls])
        loss = np.full(len(meas), np.nan)
        if ok.any():
            r = itm.p2p_tls_batch(
                [p for p, k in zip(pfls, ok, strict=True) if k],
                h_tx_m=h_tx_m, h_rx_m=h_rx_m, f_mhz=f[ok], errors="nan", **params,
            )  # fmt: skip
            loss[ok] = r.loss_db
        return loss
    from lomsong.coverage.engine import path_loss_points

    loss = np.full(len(meas), np.nan)
    radius_km = float(np.max(d_m)) / 1000.0 + 1.0
    key = pd.DataFrame({"tx": tx, "ty": ty, "f": np.round(f, 3)})
    for (gx, gy, fk), idx in key.groupby(["tx", "ty", "f"]).indices.items():
        loss[idx] = path_loss_points(
            terrain, (gx, gy), x[idx], y[idx], f_mhz=float(fk), h_tx_m=h_tx_m, model=model,
            environment=environment, rx_height_m=h_rx_m, max_radius_km=radius_km,
        )  # fmt: skip
    return loss


# --------------------------------------------------------------------------------------------
# fitting


def _codes(tx_id: ArrayLike) -> tuple[NDArray, NDArray[np.int64]]:
    names, gi = np.unique(np.asarray(tx_id).astype(str), return_inverse=True)
    return names, gi.astype(np.int64)


def _group_mean(v: NDArray, gi: NDArray, k: int) -> NDArray:
    cnt = np.bincount(gi, minlength=k)
    return np.bincount(gi, weights=v, minlength=k) / np.maximum(cnt, 1)


def _distance_terms(x: NDArray, breakpoint_km: float | None) -> NDArray:
    if breakpoint_km is None:
        return x[:, None]
    xb = 10.0 * math.log10(breakpoint_km)
    return np.column_stack([np.minimum(x, xb), np.maximum(x - xb, 0.0)])


def _fit_arrays(
    y: NDArray, x: NDArray, gi: NDArray, k: int, slope: str, breakpoint_km: float | None
) -> tuple[NDArray, NDArray, NDArray, float]:
    """Solve y = a[g] - Z·beta: returns (offsets per group, beta shared, beta per group, sse)."""
    if slope == "none":
        a = _group_mean(y, gi, k)
        r = y - a[gi]
        return a, np.zeros(0), np.zeros(k), float(r @ r)
    if slope == "per_tx":
        xm = _group_mean(x, gi, k)
        ym = _group_mean(y, gi, k)
        xd, yd = x - xm[gi], y - ym[gi]
        sxx = np.bincount(gi, weights=xd * xd, minlength=k)
        sxy = np.bincount(gi, weights=xd * yd, minlength=k)
        # a transmitter measured at one distance only has no slope of its own: shared one
        ok = sxx > 1e-9
        pooled = -float(sxy.sum() / sxx.sum()) if sxx.sum() > 1e-9 else 0.0
        b = np.where(ok, -sxy / np.where(ok, sxx, 1.0), pooled)
        a = ym + b * xm
        r = y - a[gi] + b[gi] * x
        return a, np.array([pooled]), b, float(r @ r)
    Z = _distance_terms(x, breakpoint_km)
    Zd = Z - np.column_stack([_group_mean(z, gi, k)[gi] for z in Z.T])
    yd = y - _group_mean(y, gi, k)[gi]
    beta, *_ = np.linalg.lstsq(-Zd, yd, rcond=None)
    a = _group_mean(y + Z @ beta, gi, k)
    r = y - a[gi] + Z @ beta
    return a, beta, np.zeros(k), float(r @ r)


def _breakpoint_grid(d_km: NDArray) -> NDArray:
    lo, hi = np.percentile(d_km, [5, 95])
    if not hi > lo:
        raise LomsongError("cannot fit a breakpoint: all paths have the same length")
    return np.geomspace(lo, hi, _BREAKPOINT_GRID_N)


def _fit_core(
    y: NDArray, x: NDArray, d_km: NDArray, gi: NDArray, k: int, slope: str,
    breakpoint_km: float | str | None,
) -> tuple[NDArray, NDArray, NDArray, float | None]:  # fmt: skip
    if breakpoint_km == "fit":
        best = None
        for bp in _breakpoint_grid(d_km):
            sol = _fit_arrays(y, x, gi, k, slope, float(bp))
            if best is None or sol[3] < best[0][3]:
                best = (sol, float(bp))
        assert best is not None
        (a, beta, bt, _), bp = best
        return a, beta, bt, bp
    bp = None if breakpoint_km is None else float(breakpoint_km)
    a, beta, bt, _ = _fit_arrays(y, x, gi, k, slope, bp)
    return a, beta, bt, bp


def _check_options(slope: str, breakpoint_km: float | str | None) -> None:
    if slope not in ("none", "shared", "per_tx"):
        raise ValueError(f"slope must be 'none', 'shared' or 'per_tx', got {slope!r}")
    if breakpoint_km is not None:
        if slope != "shared":
            raise ValueError("a breakpoint (dual slope) needs slope='shared'")
        if breakpoint_km != "fit" and not (
            isinstance(breakpoint_km, (int, float)) and breakpoint_km > 0
        ):
            raise ValueError(f"breakpoint_km must be positive or 'fit', got {breakpoint_km!r}")


def _clean(
    rssi_dbm: ArrayLike, loss_db: ArrayLike, d_km: ArrayLike, tx_id: ArrayLike
) -> tuple[NDArray, NDArray, NDArray, NDArray]:
    rssi = np.asarray(rssi_dbm, dtype=float)
    loss = np.asarray(loss_db, dtype=float)
    d = np.asarray(d_km, dtype=float)
    tx = np.asarray(tx_id).astype(str)
    if not (rssi.shape == loss.shape == d.shape == tx.shape) or rssi.ndim != 1:
        raise ValueError("rssi_dbm, loss_db, d_km and tx_id must be 1-D arrays of one length")
    if not np.all(np.isfinite(rssi) & np.isfinite(loss) & (d > 0)):
        raise ValueError("rssi_dbm and loss_db must be finite and d_km positive (drop those rows)")
    if rssi.size == 0:
        raise ValueError("no measurement to fit")
    return rssi, loss, d, tx


def fit_calibration(
    rssi_dbm: ArrayLike,
    loss_db: ArrayLike,
    d_km: ArrayLike,
    tx_id: ArrayLike,
    *,
    slope: SlopeMode | str = "none",
    breakpoint_km: float | Literal["fit"] | None = None,
) -> CalibrationFit:
    """Least-squares fit of ``rssi = offset[tx] - loss - c(d)`` (module notes).

    Parameters
    ----------
    rssi_dbm, loss_db, d_km, tx_id
        One value per path: measured level (dBm), model loss (dB), distance (km), transmitter.
    slope
        ``"none"`` (offsets only), ``"shared"`` (one ``b`` for all) or ``"per_tx"``; a
        transmitter measured at a single distance gets the pooled within-transmitter slope.
    breakpoint_km
        Dual slope (``slope="shared"`` only): a breakpoint (km) or ``"fit"`` (grid search).
    """
    _check_options(slope, breakpoint_km)
    rssi, loss, d, tx = _clean(rssi_dbm, loss_db, d_km, tx_id)
    names, gi = _codes(tx)
    y = rssi + loss
    x = 10.0 * np.log10(d)
    a, beta, bt, bp = _fit_core(y, x, d, gi, names.size, slope, breakpoint_km)
    offsets = {str(n): float(v) for n, v in zip(names, a, strict=True)}
    if slope == "none":
        return CalibrationFit(offsets)
    if slope == "per_tx":
        return CalibrationFit(
            offsets, "per_tx", b=float(beta[0]),
            b_per_tx={str(n): float(v) for n, v in zip(names, bt, strict=True)},
        )  # fmt: skip
    return CalibrationFit(
        offsets, "shared", b=float(beta[0]),
        b_far=float(beta[1]) if bp is not None else None, breakpoint_km=bp,
    )  # fmt: skip


@dataclass(frozen=True)
class LeaveOneOut:
    """Held-out residuals (dB, per path, input order) of :func:`leave_one_out`."""

    refit: NDArray[np.float64]
    mean_offset: NDArray[np.float64]


def leave_one_out(
    rssi_dbm: ArrayLike,
    loss_db: ArrayLike,
    d_km: ArrayLike,
    tx_id: ArrayLike,
    *,
    slope: SlopeMode | str = "none",
    breakpoint_km: float | Literal["fit"] | None = None,
) -> LeaveOneOut:
    """Residuals ``rssi − prediction`` with each transmitter held out in turn.

    The shared parameters (slopes, breakpoint — refitted by grid search inside each fold when
    ``"fit"``) come from the other transmitters. The held-out transmitter's offset is

    - ``refit``: the mean of its own ``rssi + loss + c(d)`` (its residuals average to zero);
    - ``mean_offset``: the unweighted mean of the other transmitters' offsets.

    With ``slope="per_tx"`` the held-out transmitter's slope is the unweighted mean of the
    others' slopes. With a single transmitter there is nothing to transfer: ``ValueError``.
    """
    _check_options(slope, breakpoint_km)
    rssi, loss, d, tx = _clean(rssi_dbm, loss_db, d_km, tx_id)
    names, gi = _codes(tx)
    k = names.size
    if k < 2:
        raise ValueError("leave-one-transmitter-out needs at least two transmitters")
    y = rssi + loss
    x = 10.0 * np.log10(d)
    refit = np.empty_like(y)
    mean_off = np.empty_like(y)
    for g in range(k):
        test = gi == g
        train = ~test
        # renumber the training groups 0..k-2
        gtr = gi[train] - (gi[train] > g)
        a, beta, bt, bp = _fit_core(y[train], x[train], d[train], gtr, k - 1, slope, breakpoint_km)
        if slope == "none":
            corr = np.zeros(test.sum())
        elif slope == "per_tx":
            corr = float(np.mean(bt)) * x[test]
        else:
            corr = _distance_terms(x[test], bp) @ beta
        # residual = rssi - (offset - loss - c) = (y + c) - offset
        r = y[test] + corr
        refit[test] = r - r.mean()
        mean_off[test] = r - float(np.mean(a))
    return LeaveOneOut(refit=refit, mean_offset=mean_off)


def _rms(v: NDArray) -> float:
    return float(np.sqrt(np.mean(np.square(v)))) if v.size else float("nan")


# --------------------------------------------------------------------------------------------
# the whole calibration


def calibrate(
    meas: pd.DataFrame,
    *,
    model: str,
    terrain: Grid | None = None,
    environment: str = ENVIRONMENT,
    h_tx_m: float = CALIBRATION_TX_HEIGHT_M,
    h_rx_m: float = RX_HEIGHT_M,
    slope: SlopeMode | str = "none",
    breakpoint_km: float | Literal["fit"] | None = None,
    itm_params: Mapping[str, float] | None = None,
    loss_db: ArrayLike | None = None,
    validate: bool = True,
    terrain_label: str | None = None,
    source: str | None = None,
) -> CalibrationResult:
    """Fit the calibration on standardised measurements (:func:`read_measurements`).

    Parameters
    ----------
    meas
        Measurements with the standard columns.
    model, terrain, environment, h_tx_m, h_rx_m, itm_params, validate
        As in :func:`predict_path_loss`.
    slope, breakpoint_km
        As in :func:`fit_calibration`.
    loss_db
        The model loss per row when already computed (skips :func:`predict_path_loss`).
    terrain_label, source
        Names stored in the result (the DEM and measurement files).

    Returns
    -------
    CalibrationResult
    """
    _check_options(slope, breakpoint_km)
    d_m = path_distances_m(meas, crs=terrain.crs if terrain is not None else None)
    if loss_db is None:
        loss = predict_path_loss(
            meas, model=model, terrain=terrain, environment=environment, h_tx_m=h_tx_m,
            h_rx_m=h_rx_m, itm_params=itm_params, validate=validate,
        )  # fmt: skip
    else:
        loss = np.asarray(loss_db, dtype=float)
        if loss.shape != (len(meas),):
            raise ValueError(f"loss_db has shape {loss.shape}, expected ({len(meas)},)")
    short = d_m < MIN_PATH_M
    nopred = ~short & ~np.isfinite(loss)
    use = ~short & ~nopred
    if short.any():
        logger.info("calibration: %d paths shorter than %g m excluded", short.sum(), MIN_PATH_M)
    if nopred.any():
        logger.warning("calibration: %d paths without a model prediction excluded", nopred.sum())
    if not use.any():
        raise InputError(source, "no path left to calibrate on (all too short or unpredicted)")
    rssi = meas["rssi_dbm"].to_numpy(float)[use]
    tx = meas["tx_id"].to_numpy().astype(str)[use]
    d_km = d_m[use] / 1000.0
    L = loss[use]
    fit = fit_calibration(rssi, L, d_km, tx, slope=slope, breakpoint_km=breakpoint_km)
    names, gi = _codes(tx)
    pred = np.empty_like(rssi)
    for j, n in enumerate(names):
        sel = gi == j
        pred[sel] = fit.received_dbm(L[sel], d_km[sel], str(n))
    resid = rssi - pred
    if names.size >= 2:
        loo = leave_one_out(rssi, L, d_km, tx, slope=slope, breakpoint_km=breakpoint_km)
    else:
        nan = np.full_like(rssi, np.nan)
        loo = LeaveOneOut(nan, nan)
    per_tx: dict[str, dict[str, float]] = {}
    for j, n in enumerate(names):
        sel = gi == j
        row = {"n": float(sel.sum()), "offset_db": fit.offsets_db[str(n)]}
        if fit.slope == "per_tx":
            row["b"] = fit.b_per_tx[str(n)]
        row |= {
            "rms_db": _rms(resid[sel]),
            "loo_refit_rms_db": _rms(loo.refit[sel]),
            "loo_mean_offset_rms_db": _rms(loo.mean_offset[sel]),
            "d_min_km": float(d_km[sel].min()),
            "d_max_km": float(d_km[sel].max()),
        }
        per_tx[str(n)] = row
    return CalibrationResult(
        fit=fit, model=model,
        environment=environment if model in ("hata", "cost231") else None,
        terrain=terrain_label if terrain is not None else None,
        h_tx_m=float(h_tx_m), h_rx_m=float(h_rx_m),
        n_paths=int(use.sum()), n_excluded_short=int(short.sum()),
        n_no_prediction=int(nopred.sum()),
        residual_rms_db=_rms(resid), loo_refit_rms_db=_rms(loo.refit),
        loo_mean_offset_rms_db=_rms(loo.mean_offset), per_tx=per_tx,
        itm_params={**ITM_DEFAULTS, **dict(itm_params or {})} if model == "itm" else None,
        source=source,
    )  # fmt: skip


def calibrate_file(
    path: str | PathLike[str],
    *,
    model: str,
    terrain: str | PathLike[str] | Sequence[str | PathLike[str]] | Grid | None = None,
    columns: Mapping[str, str] | None = None,
    f_mhz: float | None = None,
    environment: str = ENVIRONMENT,
    h_tx_m: float = CALIBRATION_TX_HEIGHT_M,
    h_rx_m: float = RX_HEIGHT_M,
    slope: SlopeMode | str = "none",
    breakpoint_km: float | Literal["fit"] | None = None,
    itm_params: Mapping[str, float] | None = None,
    validate: bool = True,
) -> CalibrationResult:
    """Read a measurement file, predict every path with ``model`` and fit the calibration.

    The entry point of ``lomsong calibrate``. ``terrain`` (DEM files or a Grid) is read into the
    UTM zone of the measurements; with it, ``fspl``/``hata``/``cost231`` use the raster engine
    (knife-edge over terrain, as ``lomsong run``); ``itm`` requires it.

    Raises
    ------
    InputError
        Bad measurement file (missing columns, bad rows: all listed) or unusable terrain.
    LomsongError
        Unknown model, ITM without terrain.
    ValueError
        Inconsistent options (``breakpoint_km`` without ``slope="shared"``, ...).
    """
    _check_options(slope, breakpoint_km)
    if model not in CALIBRATION_MODELS:
        raise LomsongError(
            f"unknown model {model!r}; expected one of {', '.join(CALIBRATION_MODELS)}"
        )
    meas = read_measurements(path, columns=columns, f_mhz=f_mhz)
    grid: Grid | None
    label: str | None = None
    if terrain is None or isinstance(terrain, Grid):
        grid = terrain
        label = None if terrain is None else "<Grid>"
    else:
        from lomsong.layers.terrain import read_terrain

        grid = read_terrain(terrain, crs=_metric_crs(meas, None))
        label = (
            str(terrain)
            if isinstance(terrain, (str, PathLike))
            else ", ".join(str(t) for t in terrain)
        )
    return calibrate(
        meas, model=model, terrain=grid, environment=environment, h_tx_m=h_tx_m, h_rx_m=h_rx_m,
        slope=slope, breakpoint_km=breakpoint_km, itm_params=itm_params, validate=validate,
        terrain_label=label, source=str(path),
    )  # fmt: skip
