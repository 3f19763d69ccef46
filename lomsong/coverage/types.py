"""The coverage stage's data types: a tower's prediction, the composite, a fitted calibration.

They live apart from the engine so that every stage can pass them without importing the code
that makes them (``predict`` applies a calibration without importing ``calibration/``).

A fitted calibration (``fit.json``, ``[model] calibration``) is of one of two kinds:

- **absolute** (format 1, ``lomsong calibrate MEASUREMENTS.csv``, LoRa-style paths from known
  transmitters): ``level = offset[tx] − L − c(d)``; the fitted offset *replaces* the tower's
  service EIRP (it was fitted on measured levels of transmitters whose power is unknown);
- **relative** (format 2, ``lomsong calibrate --project P.toml EVIDENCE...``, walk tests against
  the project's own prediction, :mod:`lomsong.calibration.censored`): ``level = predicted +
  offset["operator/tech"] + offset[tower] − b["operator/tech"] · 10 log10(d_km)``; the offsets
  are *added* to the tower's own prediction (service EIRP − loss + pattern gain).

Both are applied by the engine through :meth:`CalibrationFit.service_eirp_dbm` (the EIRP term)
and :meth:`CalibrationFit.extra_loss_db` (the distance term), to existing towers and candidate
sites alike.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
from numpy.typing import ArrayLike, NDArray

from lomsong.errors import InputError
from lomsong.grid import Grid

__all__ = [
    "Coverage",
    "TowerPrediction",
    "LossWindow",
    "CalibrationFit",
    "CalibrationResult",
    "MIN_PATH_M",
    "group_key",
]

#: Version of the calibration file written by :meth:`CalibrationResult.to_json` for an
#: absolute (per-transmitter, LoRa-style) calibration.
FORMAT_VERSION = 1
#: Version of the file of a relative (per operator/technology, walk-test) calibration.
FORMAT_VERSION_RELATIVE = 2
#: ``kind`` of a :class:`CalibrationFit`.
ABSOLUTE, RELATIVE = "absolute", "relative"


def group_key(operator: object, tech: object) -> str:
    """The ``"operator/tech"`` key of a relative calibration's offsets (``"Viettel/4G"``);
    a missing operator (NaN, None) is ``""`` (``"/4G"``)."""
    return f"{_text(operator)}/{_text(tech)}"


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def _tower_id(tower: Mapping) -> str:
    """A towers-layer row's id (a candidate's ``site_id`` when it has no ``tower_id``)."""
    return _text(tower.get("tower_id", tower.get("site_id", "")))


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
    power_q, groups_q, location_quantile
        For a model with its own location variability (ITM): the best level (dBm, NaN where
        none) and the best level per group (−inf where none) at location quantile
        ``location_quantile`` (0.5-1), each cell's best over all cells at that quantile (not
        necessarily the median's best server). None / empty for the closed-form models: the
        rule's fade margin stands for their location variability.
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
    power_q: Grid | None = None
    groups_q: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    location_quantile: float | None = None

    def at_quantile(self) -> tuple[float, np.ndarray, dict[tuple[str, str], np.ndarray]] | None:
        """``(q, best level grid at q, best level per group at q)`` for
        :meth:`~lomsong.coverage.rule.CoverageRule.margins`; None without (closed-form models)."""
        if self.power_q is None or self.location_quantile is None:
            return None
        return self.location_quantile, self.power_q.data, self.groups_q


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
    power_q: np.ndarray | None = None


@dataclass(frozen=True)
class LossWindow:
    """Path loss (dB) of one antenna position on its (2R+1)² window: what co-sited cells of one
    height and carrier share (sectors differ only by antenna gain and EIRP).

    ``loss[i, j]`` is grid cell ``(row − R + i, col − R + j)`` (float32; NaN outside the radius
    or the grid, +inf where not evaluated: every cell sharing it certainly does not serve
    there). ``loss_q`` is the loss at the location quantile of a model with its own location
    variability (ITM; None for the closed-form models). The unit the cache stores.
    """

    row: int
    col: int
    loss: np.ndarray
    loss_q: np.ndarray | None = None

    @property
    def R(self) -> int:  # noqa: N802 — the engine's name for the half-width
        """Half-width of the window (cells)."""
        return self.loss.shape[0] // 2


@dataclass(frozen=True)
class CalibrationFit:
    """Fitted parameters of a calibration (see the module notes for the two kinds).

    Attributes
    ----------
    offsets_db
        Absolute kind: offset (dBm) per transmitter id. Relative kind: offset (dB, added to the
        prediction) per ``"operator/tech"`` (:func:`group_key`).
    slope
        ``"none"``, ``"shared"`` or ``"per_tx"`` (absolute); ``"per_group"`` or ``"none"``
        (relative).
    b
        Extra path-loss exponent (shared), 0 without a distance term.
    b_per_tx
        Absolute: per-transmitter exponents (``slope="per_tx"``). Relative: exponent per
        ``"operator/tech"`` where the data supported one (others: none).
    b_far
        Exponent beyond the breakpoint (dual slope), else ``None``.
    breakpoint_km
        Breakpoint of the dual slope, else ``None``.
    kind
        ``"absolute"`` or ``"relative"``.
    tower_offsets_db
        Relative kind: a tower's own offset (dB, partially pooled), added to its group's.
    sigma_db
        Relative kind: the fitted spread of measured levels about the calibrated prediction.
    """

    offsets_db: dict[str, float]
    slope: str = "none"
    b: float = 0.0
    b_per_tx: dict[str, float] = field(default_factory=dict)
    b_far: float | None = None
    breakpoint_km: float | None = None
    kind: str = ABSOLUTE
    tower_offsets_db: dict[str, float] = field(default_factory=dict)
    sigma_db: float | None = None

    # -- relative kind ------------------------------------------------------------------------
    def group_terms(self, operator: object, tech: object) -> tuple[float, float]:
        """(offset dB, exponent b) of an operator and technology (relative kind).

        The group's own fit when the evidence measured it; else — a candidate site without an
        operator, an operator nobody measured — the unweighted mean over the operators of that
        technology (a group without a slope counts 0); else (a technology never measured) no
        correction, (0, 0).
        """
        key = group_key(operator, tech)
        if key in self.offsets_db:
            return self.offsets_db[key], self.b_per_tx.get(key, 0.0)
        suffix = "/" + _text(tech)
        same = [k for k in self.offsets_db if k.endswith(suffix)]
        if not same:
            return 0.0, 0.0
        return (
            float(np.mean([self.offsets_db[k] for k in same])),
            float(np.mean([self.b_per_tx.get(k, 0.0) for k in same])),
        )

    # -- both kinds: what the engine applies --------------------------------------------------
    def service_eirp_dbm(self, eirp_dbm: float, tower: Mapping) -> float:
        """The EIRP term (dBm) of ``tower`` under this calibration.

        Absolute: the transmitter's fitted offset (the mean offset for one never measured),
        replacing ``eirp_dbm``. Relative: ``eirp_dbm`` + its operator/technology offset + its
        own tower offset (0 when it has none).
        """
        tid = _tower_id(tower)
        if self.kind == ABSOLUTE:
            return self.offset_db(tid)
        offset, _ = self.group_terms(tower.get("operator"), tower.get("tech"))
        return float(eirp_dbm) + offset + self.tower_offsets_db.get(tid, 0.0)

    def extra_loss_db(self, d_km: ArrayLike, tower: Mapping) -> NDArray[np.float64]:
        """The distance term (dB) added to the model's loss for ``tower`` at ``d_km``."""
        if self.kind == ABSOLUTE:
            return self.correction_db(d_km, _tower_id(tower))
        _, b = self.group_terms(tower.get("operator"), tower.get("tech"))
        d = np.maximum(np.asarray(d_km, dtype=float), 1e-6)
        return b * 10.0 * np.log10(d)

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
        ``loo_mean_offset_rms_db``, ``d_min_km``, ``d_max_km``. Relative kind: per tower with
        its own offset (``n``, ``n_censored``, ``offset_db``).
    source
        The measurement file(s).
    details
        Relative kind: the rest of the fit's document (``sigma_db``, ``tau_db``, ``floors_dbm``,
        ``truncated``, ``figures`` with the held-out figures, ``groups``), kept verbatim so
        that :meth:`to_json` after :meth:`from_json` writes the same file.

    Notes
    -----
    For the relative kind ``h_tx_m`` is None (each tower's own height is used),
    ``n_excluded_short`` counts rows without a position or distance, ``residual_rms_db`` is
    the in-sample RMS over rows with a level, ``loo_mean_offset_rms_db`` the
    leave-one-tower-out RMS (the held-out tower gets its group's offset) and
    ``loo_refit_rms_db`` NaN.
    """

    fit: CalibrationFit
    model: str
    environment: str | None
    terrain: str | None
    h_tx_m: float | None
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
    details: dict[str, Any] = field(default_factory=dict)

    # -- use ----------------------------------------------------------------------------------
    def received_dbm(
        self, loss_db: ArrayLike, d_km: ArrayLike, *, tx_id: str | None = None
    ) -> NDArray[np.float64]:
        """Calibrated level (dBm) = offset[tx] − loss − c(d); unknown tx → mean offset.

        Absolute kind only: a relative calibration needs the tower's own EIRP
        (:meth:`service_eirp_dbm`)."""
        if self.fit.kind != ABSOLUTE:
            raise ValueError("received_dbm needs an absolute calibration; use service_eirp_dbm")
        return self.fit.received_dbm(loss_db, d_km, tx_id)

    def service_eirp_dbm(self, eirp_dbm: float, tower: Mapping) -> float:
        """The EIRP term of ``tower`` (:meth:`CalibrationFit.service_eirp_dbm`)."""
        return self.fit.service_eirp_dbm(eirp_dbm, tower)

    def extra_loss_db(self, d_km: ArrayLike, tower: Mapping) -> NDArray[np.float64]:
        """The distance term of ``tower`` (:meth:`CalibrationFit.extra_loss_db`)."""
        return self.fit.extra_loss_db(d_km, tower)

    def applied(self) -> dict[str, Any]:
        """The parameters the engine applies (for cache keys and the run's summary)."""
        doc = self.to_dict()
        if self.fit.kind == ABSOLUTE:
            return {"offsets_db": doc["offsets_db"], "distance": doc["distance"]}
        keys = ("kind", "offsets_db", "tower_offsets_db", "slopes")
        return {k: doc[k] for k in keys}

    # -- I/O ----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The JSON document (see :meth:`to_json`)."""
        f = self.fit
        if f.kind == RELATIVE:
            return self._relative_dict()
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

    def _relative_dict(self) -> dict[str, Any]:
        f = self.fit
        return {
            "lomsong_calibration": FORMAT_VERSION_RELATIVE,
            "kind": RELATIVE,
            "formula": "level_dbm = predicted_dbm(model, tower's EIRP) + "
            "offsets_db[operator/tech] + tower_offsets_db[tower_id] - "
            "slopes[operator/tech]*10*log10(d_km); an operator/tech not in offsets_db takes the "
            "mean over the operators of its tech (slopes: 0 where none), a tech never measured "
            "no correction; a tower not in tower_offsets_db 0",
            "model": {
                "name": self.model,
                "environment": self.environment,
                "terrain": self.terrain,
                "h_rx_m": self.h_rx_m,
                "itm_params": self.itm_params,
            },  # fmt: skip
            "offsets_db": {k: _r(v) for k, v in f.offsets_db.items()},
            "tower_offsets_db": {k: _r(v) for k, v in f.tower_offsets_db.items()},
            "slopes": {k: _r(v) for k, v in f.b_per_tx.items()},
            "sigma_db": _r(f.sigma_db),
            **{k: v for k, v in self.details.items() if k != "sigma_db"},
            "n": self.n_paths,
            "n_no_prediction": self.n_no_prediction,
            "n_unplaced": self.n_excluded_short,
            "per_tower": {k: {kk: _r(vv) for kk, vv in v.items()} for k, v in self.per_tx.items()},
            "source": self.source,
        }

    @classmethod
    def _from_relative(cls, doc: dict[str, Any]) -> CalibrationResult:
        fit = CalibrationFit(
            offsets_db={k: float(v) for k, v in doc["offsets_db"].items()},
            slope="per_group" if doc.get("slopes") else "none",
            b_per_tx={k: float(v) for k, v in doc.get("slopes", {}).items()},
            kind=RELATIVE,
            tower_offsets_db={k: float(v) for k, v in doc.get("tower_offsets_db", {}).items()},
            sigma_db=_f(doc.get("sigma_db")),
        )
        m = doc["model"]
        known = {"lomsong_calibration", "kind", "formula", "model", "offsets_db",
                 "tower_offsets_db", "slopes", "n", "n_no_prediction", "n_unplaced",
                 "per_tower", "source"}  # fmt: skip
        figures = doc.get("figures", {})
        loto = figures.get("loto", {}).get("after", {})
        return cls(
            fit=fit, model=m["name"], environment=m.get("environment"), terrain=m.get("terrain"),
            h_tx_m=None, h_rx_m=float(m["h_rx_m"]), itm_params=m.get("itm_params"),
            n_paths=int(doc["n"]), n_excluded_short=int(doc.get("n_unplaced", 0)),
            n_no_prediction=int(doc.get("n_no_prediction", 0)),
            residual_rms_db=_f(figures.get("in_sample", {}).get("rmse_db")),
            loo_refit_rms_db=float("nan"), loo_mean_offset_rms_db=_f(loto.get("rmse_db")),
            per_tx={k: {kk: _f(vv) for kk, vv in v.items()}
                    for k, v in doc.get("per_tower", {}).items()},
            source=doc.get("source"),
            details={k: v for k, v in doc.items() if k not in known},
        )  # fmt: skip

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
            version = doc.get("lomsong_calibration") if isinstance(doc, dict) else None
            if version == FORMAT_VERSION_RELATIVE:
                return cls._from_relative(doc)
            if version != FORMAT_VERSION:
                raise InputError(path, "not a lomsong calibration file (version 1 or 2)")
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
        if f.kind == RELATIVE:
            return self._relative_summary()
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

    def _relative_summary(self) -> str:
        f, det = self.fit, self.details
        figs = det.get("figures", {})
        model = self.model + (f" ({self.environment})" if self.model in ("hata", "cost231") else "")
        lines = [
            f"calibration of {model} against field evidence (censored maximum likelihood): "
            f"{self.n_paths} measurements, {figs.get('n_censored', 0)} without service",
            f"  level = predicted + offset[operator/tech] + offset[tower] - b·10·log10(d_km) "
            f"+ N(0, σ²), σ = {_fmt(f.sigma_db)} dB, tower spread τ = {_fmt(det.get('tau_db'))} dB",
            f"  {'operator/tech':<22} {'n':>6} {'no serv.':>8} {'offset dB':>9} {'± dB':>5} "
            f"{'b':>6} {'naive dB':>8}",
        ]
        for k, g in det.get("groups", {}).items():
            b = f.b_per_tx.get(k)
            lines.append(
                f"  {k:<22} {g.get('n', 0):>6} {g.get('n_censored', 0):>8} "
                f"{_fmt(f.offsets_db.get(k), '+.2f'):>9} {_fmt(g.get('se_db'), '.2f'):>5} "
                f"{'—' if b is None else format(b, '+.2f'):>6} "
                f"{_fmt(g.get('naive_offset_db'), '+.2f'):>8}"
            )
        lines.append(f"  {len(f.tower_offsets_db)} towers with their own offset")
        for name, label in (("in_sample", "in sample"), ("loto", "one tower left out"),
                            ("lovo", "one village left out")):  # fmt: skip
            fig = figs.get(name)
            if not fig:
                continue
            if "after" in fig:
                b, a = fig["before"], fig["after"]
                lines.append(
                    f"  {label}: RMSE {_fmt(b.get('rmse_db'))} → {_fmt(a.get('rmse_db'))} dB, "
                    f"no-service rows predicted below the floor "
                    f"{_pct(b.get('censored_hit_share'))} → {_pct(a.get('censored_hit_share'))}, "
                    f"log score {_fmt(a.get('log_score'), '.3f')} ({fig.get('folds', '?')} folds)"
                )
            else:
                lines.append(f"  {label}: RMSE {_fmt(fig.get('rmse_db'))} dB, bias "
                             f"{_fmt(fig.get('bias_db'), '+.2f')} dB")  # fmt: skip
        return "\n".join(lines)


def _fmt(v: object, spec: str = ".2f") -> str:
    return "—" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, spec)


def _pct(v: object) -> str:
    return "—" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.0%}"


def _r(v: float | None) -> float | None:
    if v is None or not math.isfinite(v):
        return None
    return round(float(v), 4)


def _f(v: float | None) -> float:
    return float("nan") if v is None else float(v)
