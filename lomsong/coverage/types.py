"""The coverage stage's data types: a tower's prediction, the composite, a fitted calibration.

They live apart from the engine so that every stage can pass them without importing the code
that makes them (``predict`` applies a calibration without importing ``calibration/``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
from numpy.typing import ArrayLike, NDArray

from lomsong.errors import InputError
from lomsong.grid import Grid

__all__ = ["Coverage", "TowerPrediction", "CalibrationFit", "CalibrationResult", "MIN_PATH_M"]

#: Version of the calibration file written by :meth:`CalibrationResult.to_json`.
FORMAT_VERSION = 1

MIN_PATH_M: float = 50.0
"""Paths shorter than this (m) are excluded: GPS error (~5-10 m) and the antennas' near field
make the distance meaningless there, and every log-distance law diverges."""


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
    calibration
        The fitted calibration applied to the towers (None: none), so that candidates and
        explanations are predicted alike.
    """

    power: Grid
    serving: Grid
    towers: gpd.GeoDataFrame
    model: str
    rx_height_m: float
    params: dict = field(default_factory=dict)
    groups: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    stats: dict[str, int] = field(default_factory=dict)
    calibration: CalibrationResult | None = None


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


@dataclass(frozen=True)
class CalibrationFit:
    """Fitted parameters of ``rssi = offset[tx] - L - c(d)`` (see the module notes).

    Attributes
    ----------
    offsets_db
        Offset (dBm) per transmitter id.
    slope
        ``"none"``, ``"shared"`` or ``"per_tx"``.
    b
        Extra path-loss exponent (shared), 0 without a distance term.
    b_per_tx
        Per-transmitter exponents (``slope="per_tx"``), else empty.
    b_far
        Exponent beyond the breakpoint (dual slope), else ``None``.
    breakpoint_km
        Breakpoint of the dual slope, else ``None``.
    """

    offsets_db: dict[str, float]
    slope: str = "none"
    b: float = 0.0
    b_per_tx: dict[str, float] = field(default_factory=dict)
    b_far: float | None = None
    breakpoint_km: float | None = None

    @property
    def mean_offset_db(self) -> float:
        """Unweighted mean of the offsets: the offset of a transmitter never measured."""
        return float(np.mean(list(self.offsets_db.values())))

    def correction_db(self, d_km: ArrayLike, tx_id: str | None = None) -> NDArray[np.float64]:
        """The distance correction ``c(d)`` (dB) of transmitter ``tx_id`` (None: shared/mean)."""
        x = 10.0 * np.log10(np.maximum(np.asarray(d_km, dtype=float), 1e-6))
        b = self.b
        if self.slope == "per_tx":
            b = self.b_per_tx.get(tx_id, self.b) if tx_id is not None else self.b
        if self.breakpoint_km is None:
            return b * x
        xb = 10.0 * math.log10(self.breakpoint_km)
        return b * np.minimum(x, xb) + float(self.b_far) * np.maximum(x - xb, 0.0)

    def offset_db(self, tx_id: str | None = None) -> float:
        """Offset of ``tx_id``; the mean offset for an unknown or unnamed transmitter."""
        if tx_id is not None and tx_id in self.offsets_db:
            return self.offsets_db[tx_id]
        return self.mean_offset_db

    def received_dbm(
        self, loss_db: ArrayLike, d_km: ArrayLike, tx_id: str | None = None
    ) -> NDArray[np.float64]:
        """Calibrated received level (dBm) = offset − loss − c(d)."""
        return (
            self.offset_db(tx_id)
            - np.asarray(loss_db, dtype=float)
            - self.correction_db(d_km, tx_id)
        )


@dataclass
class CalibrationResult:
    """A fitted calibration with its figures; :meth:`to_json` writes it for ``lomsong run``.

    Attributes
    ----------
    fit
        The fitted parameters (:class:`CalibrationFit`).
    model, environment, terrain, h_tx_m, h_rx_m, itm_params
        How the model loss was computed (``terrain``: the DEM's name, or None).
    n_paths
        Paths used in the fit.
    n_excluded_short, n_no_prediction
        Paths dropped for being shorter than :data:`MIN_PATH_M`, or the model giving no value.
    residual_rms_db, loo_refit_rms_db, loo_mean_offset_rms_db
        Pooled RMS residuals (dB): in sample, and leaving one transmitter out with its offset
        re-fitted on its own data / set to the others' mean (module notes). NaN for the
        leave-one-out figures with a single transmitter.
    per_tx
        Per transmitter: ``n``, ``offset_db``, ``b`` (per_tx), ``rms_db``, ``loo_refit_rms_db``,
        ``loo_mean_offset_rms_db``, ``d_min_km``, ``d_max_km``.
    source
        The measurement file.
    """

    fit: CalibrationFit
    model: str
    environment: str | None
    terrain: str | None
    h_tx_m: float
    h_rx_m: float
    n_paths: int
    n_excluded_short: int
    n_no_prediction: int
    residual_rms_db: float
    loo_refit_rms_db: float
    loo_mean_offset_rms_db: float
    per_tx: dict[str, dict[str, float]]
    itm_params: dict[str, float] | None = None
    source: str | None = None

    # -- use ----------------------------------------------------------------------------------
    def received_dbm(
        self, loss_db: ArrayLike, d_km: ArrayLike, *, tx_id: str | None = None
    ) -> NDArray[np.float64]:
        """Calibrated level (dBm) = offset[tx] − loss − c(d); unknown tx → mean offset."""
        return self.fit.received_dbm(loss_db, d_km, tx_id)

    # -- I/O ----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The JSON document (see :meth:`to_json`)."""
        f = self.fit
        distance: dict[str, Any] = {"slope": f.slope}
        if f.slope != "none":
            distance["b"] = _r(f.b)
            distance["extra_db_per_decade"] = _r(10 * f.b)
        if f.slope == "per_tx":
            distance["b_per_tx"] = {k: _r(v) for k, v in f.b_per_tx.items()}
        if f.breakpoint_km is not None:
            distance["breakpoint_km"] = _r(f.breakpoint_km)
            distance["b_far"] = _r(f.b_far)
        return {
            "lomsong_calibration": FORMAT_VERSION,
            "formula": "rssi_dbm = offset_db[tx] - loss_db(model) - correction_db(d_km); "
            "correction_db = b*10*log10(d_km) (single slope) or "
            "b*10*log10(min(d_km,breakpoint_km)) + b_far*10*log10(max(d_km,breakpoint_km)"
            "/breakpoint_km) (dual slope); unknown tx: offset_db_mean",
            "model": {
                "name": self.model,
                "environment": self.environment,
                "terrain": self.terrain,
                "h_tx_m": self.h_tx_m,
                "h_rx_m": self.h_rx_m,
                "itm_params": self.itm_params,
            },  # fmt: skip
            "offsets_db": {k: _r(v) for k, v in f.offsets_db.items()},
            "offset_db_mean": _r(f.mean_offset_db),
            "distance": distance,
            "figures": {
                "n_paths": self.n_paths,
                "n_transmitters": len(f.offsets_db),
                "n_excluded_short": self.n_excluded_short,
                "min_path_m": MIN_PATH_M,
                "n_no_prediction": self.n_no_prediction,
                "residual_rms_db": _r(self.residual_rms_db),
                "loo_refit_rms_db": _r(self.loo_refit_rms_db),
                "loo_mean_offset_rms_db": _r(self.loo_mean_offset_rms_db),
            },
            "per_tx": {k: {kk: _r(vv) for kk, vv in v.items()} for k, v in self.per_tx.items()},
            "source": self.source,
        }

    def to_json(self, path: str | PathLike[str]) -> None:
        """Write :meth:`to_dict` as indented UTF-8 JSON."""
        Path(path).write_text(
            json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )

    @classmethod
    def from_json(cls, path: str | PathLike[str]) -> CalibrationResult:
        """Read a file written by :meth:`to_json`."""
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
            if doc.get("lomsong_calibration") != FORMAT_VERSION:
                raise InputError(path, "not a lomsong calibration file (version 1)")
            dist = doc["distance"]
            fit = CalibrationFit(
                offsets_db={k: float(v) for k, v in doc["offsets_db"].items()},
                slope=dist["slope"],
                b=float(dist.get("b", 0.0)),
                b_per_tx={k: float(v) for k, v in dist.get("b_per_tx", {}).items()},
                b_far=dist.get("b_far"),
                breakpoint_km=dist.get("breakpoint_km"),
            )
            m, fig = doc["model"], doc["figures"]
            return cls(
                fit=fit, model=m["name"], environment=m["environment"], terrain=m["terrain"],
                h_tx_m=m["h_tx_m"], h_rx_m=m["h_rx_m"], itm_params=m.get("itm_params"),
                n_paths=fig["n_paths"], n_excluded_short=fig["n_excluded_short"],
                n_no_prediction=fig["n_no_prediction"],
                residual_rms_db=_f(fig["residual_rms_db"]),
                loo_refit_rms_db=_f(fig["loo_refit_rms_db"]),
                loo_mean_offset_rms_db=_f(fig["loo_mean_offset_rms_db"]),
                per_tx={k: {kk: _f(vv) for kk, vv in v.items()} for k, v in doc["per_tx"].items()},
                source=doc.get("source"),
            )  # fmt: skip
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            if isinstance(exc, InputError):
                raise
            raise InputError(path, f"cannot be read as a calibration: {exc}") from None

    def summary_text(self) -> str:
        """A few lines for the terminal: the model, the fitted law and the figures."""
        f = self.fit
        model = self.model + (f" ({self.environment})" if self.model in ("hata", "cost231") else "")
        if self.terrain:
            model += f" over terrain {self.terrain}"
        lines = [
            f"calibration of {model}: h_tx {self.h_tx_m:g} m, h_rx {self.h_rx_m:g} m",
            f"  {self.n_paths} paths, {len(f.offsets_db)} transmitters "
            f"({self.n_excluded_short} paths < {MIN_PATH_M:g} m and "
            f"{self.n_no_prediction} without prediction excluded)",
        ]
        if f.slope == "none":
            lines.append("  rssi = offset[tx] - L")
        elif f.breakpoint_km is not None:
            lines.append(
                f"  rssi = offset[tx] - L - c(d): extra exponent b = {f.b:+.3f} below "
                f"{f.breakpoint_km:.3g} km, b_far = {f.b_far:+.3f} beyond (dual slope)"
            )
        elif f.slope == "shared":
            lines.append(
                f"  rssi = offset[tx] - L - b·10·log10(d_km), b = {f.b:+.3f} "
                f"({10 * f.b:+.1f} dB/decade)"
            )
        else:
            lines.append(f"  rssi = offset[tx] - L - b[tx]·10·log10(d_km), pooled b = {f.b:+.3f}")
        lines.append(
            f"  residual RMS {self.residual_rms_db:.2f} dB in sample; one transmitter left out: "
            f"{self.loo_refit_rms_db:.2f} dB (own offset refitted), "
            f"{self.loo_mean_offset_rms_db:.2f} dB (mean offset)"
        )
        lines.append(f"  {'tx':<20} {'n':>6} {'offset dBm':>10} {'rms dB':>7} {'loo dB':>7}")
        for k, v in self.per_tx.items():
            lines.append(
                f"  {k:<20} {int(v['n']):>6} {v['offset_db']:>10.1f} {v['rms_db']:>7.2f} "
                f"{v['loo_refit_rms_db']:>7.2f}"
            )
        lines.append(
            "  note: levels below the receiver's floor were never recorded (censored data): "
            "slopes are biased flat, far predictions optimistic"
        )
        return "\n".join(lines)


def _r(v: float | None) -> float | None:
    if v is None or not math.isfinite(v):
        return None
    return round(float(v), 4)


def _f(v: float | None) -> float:
    return float("nan") if v is None else float(v)
