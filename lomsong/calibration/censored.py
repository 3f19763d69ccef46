"""Calibrate the project's prediction against walk tests: censored (Tobit) maximum likelihood.

Model
-----
Measurement ``i`` — a level ``y_i`` (dBm, in its technology's quantity: RxLev, RSCP, RSRP,
SS-RSRP) of tower ``t``, of operator × technology ``g`` (``"Viettel/4G"``), at ``d_i`` km, where
lomsong predicts the median level ``p_i`` — is modelled as::

    y_i = μ_i + ε_i,   μ_i = p_i + a[g] + u[t] − b[g] · 10 log10(d_i),   ε_i ~ N(0, σ²)

- ``a[g]``: an offset per operator × technology, always fitted;
- ``u[t]``: a tower's own offset, only for towers with at least ``min_tower_samples``
  measurements (:data:`~lomsong.defaults.CALIBRATION_TOWER_MIN_SAMPLES`), **partially pooled**:
  ``u[t] ~ N(0, τ²)`` enters the objective as the penalty ``u²/(2τ²)`` (the Gaussian prior of a
  random effect; without censoring its optimum is the BLUP of Henderson's mixed-model equations,
  Henderson 1975, *Biometrics* 31:423-447). ``τ`` is a method-of-moments estimate (the
  between-tower variance of DerSimonian & Laird 1986, *Controlled Clinical Trials* 7:177-188):
  the spread of nearly unpooled tower offsets minus their sampling variance. A tower with few
  samples, or ``τ = 0``, has its group's offset only;
- ``b[g]``: an extra path-loss exponent (``10 b`` dB per decade, same sign as the absolute
  calibration's ``c(d)``), kept only for the groups where a likelihood-ratio test against the
  offset-only fit rejects ``b = 0`` at :data:`~lomsong.defaults.CALIBRATION_SLOPE_ALPHA`
  (χ² with one degree of freedom, Wilks 1938). Rows without a distance count ``d = 1 km``.

Likelihood
----------
A walk-test row without service says only that the level was below the phone's floor ``c``
(:data:`~lomsong.defaults.PHONE_FLOOR_DBM` per technology): a left-censored value. The
log-likelihood of the type-I Tobit model (Tobin 1958, *Econometrica* 26:24-36; Amemiya 1984,
*J. Econometrics* 24:3-61, eq. 2.4) is the sum over rows of

- a measured level: ``log φ((y − μ)/σ) − log σ``;
- no service: ``log Φ((c − μ)/σ)``.

Measured levels are **not** truncated at the floor when no-service rows are kept: those rows
already carry the probability below the floor, and truncating as well would count it twice.
``truncated=True`` is for samples from which the non-detections are missing altogether (a LoRa
gateway logs only the uplinks it received): each level then contributes
``log φ((y − μ)/σ) − log σ − log Φ((μ − c)/σ)`` (truncated regression, Hausman & Wise 1977,
*Econometrica* 45:919-938), and no-service rows are refused. A measured level below the floor
is used as measured.

The negative log-likelihood plus the penalty is minimised with BFGS on its analytic gradient
(scipy), ``σ`` as ``log σ``; the Tobit log-likelihood is globally concave in Olsen's (1978,
*Econometrica* 46:1211-1215) reparametrisation, so the optimum is unique. ``se_db`` of an offset
is ``1/√I`` with ``I`` the Fisher information of that offset alone (the other parameters held).

Held-out figures
----------------
- **Leave one tower out** (``loto``): each tower's rows predicted from a fit on the other towers'
  rows; its own offset is unknown (0); its group's offset comes from the others, a group only it
  measured takes the fallback of :meth:`~lomsong.coverage.types.CalibrationFit.group_terms` —
  exactly what a new tower of that operator would get.
- **Leave one village out** (``lovo``): each village's rows from a fit on the other villages'
  rows (towers keep the own offsets the other villages give them). Rows without a village are
  never held out.
- With more than ``max_folds`` towers (villages), whole towers (villages) are dealt into
  ``max_folds`` folds. Which slopes and ``τ`` are chosen once on all rows; the parameters are
  refitted in every fold (warm-started).
- Figures, pooled over held-out rows, ``before`` (the uncalibrated prediction, all offsets 0) and
  ``after`` (the calibrated one): ``rmse_db`` and ``bias_db`` (measured − predicted) over rows
  with a level; ``censored_hit_share``, the share of no-service rows whose predicted median is
  below the floor (the model calls "no service" more likely than not); ``log_score``, the mean
  log predictive density over all held-out rows, no-service rows counting ``log Φ((c − μ)/σ)``
  — a strictly proper score (Gneiting & Raftery 2007, *JASA* 102:359-378) that judges both
  kinds of row at once (``before`` with the ``σ`` that best fits the uncalibrated prediction on
  the training rows).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special, stats

from lomsong.coverage.types import (
    RELATIVE,
    CalibrationFit,
    CalibrationResult,
    group_key,
)
from lomsong.defaults import (
    CALIBRATION_MAX_FOLDS,
    CALIBRATION_SLOPE_ALPHA,
    CALIBRATION_TOWER_MIN_SAMPLES,
    PHONE_FLOOR_DBM,
)
from lomsong.errors import InputError

__all__ = [
    "MATCHED_COLUMNS",
    "EvidenceFit",
    "log_likelihood",
    "fit_censored",
]

logger = logging.getLogger(__name__)

#: Columns :func:`fit_censored` reads (from :func:`lomsong.calibration.validate
#: .match_measurements`); ``distance_km`` and ``village_id`` may be absent.
MATCHED_COLUMNS = ("tower_id", "operator", "tech", "predicted_dbm", "level_dbm", "no_service")

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
#: Prior spread (dB) of the nearly unpooled fit that estimates τ: wide enough to leave a
#: tower's offset to its own data, narrow enough to pin a group whose every tower has one.
_TAU_WEAK_DB = 50.0
#: Fewest measured levels, and smallest spread of 10 log10(d) (dB, a factor 2 in distance), for
#: a group's slope to be tested at all.
_SLOPE_MIN_ROWS = 20
_SLOPE_MIN_SPREAD_DB = 3.0


# --------------------------------------------------------------------------------------------
# the likelihood


def _mills(h: NDArray) -> NDArray:
    """Inverse Mills ratio φ(h)/Φ(h), stable in both tails (log_ndtr)."""
    return np.exp(-0.5 * h * h - _LOG_SQRT_2PI - special.log_ndtr(h))


def log_likelihood(
    level_dbm: ArrayLike,
    no_service: ArrayLike,
    mu_dbm: ArrayLike,
    sigma_db: float,
    floor_dbm: ArrayLike,
    *,
    truncated: bool = False,
) -> NDArray[np.float64]:
    """Per-row log-likelihood of the censored normal model (module notes).

    Parameters
    ----------
    level_dbm
        Measured level (dBm); ignored where ``no_service``.
    no_service
        True where the phone had no service (the level is below ``floor_dbm``).
    mu_dbm
        Predicted median level μ (dBm).
    sigma_db
        Spread σ (dB), > 0.
    floor_dbm
        The phone's floor c (dBm), per row or one value.
    truncated
        Measured levels are known to lie above the floor (non-detections absent from the data).

    Returns
    -------
    numpy.ndarray
        ``log φ((y − μ)/σ) − log σ`` (``− log Φ((μ − c)/σ)`` more when truncated) for a level,
        ``log Φ((c − μ)/σ)`` for no service.
    """
    y, cens, mu, c = np.broadcast_arrays(
        np.asarray(level_dbm, dtype=float), np.asarray(no_service, dtype=bool),
        np.asarray(mu_dbm, dtype=float), np.asarray(floor_dbm, dtype=float),
    )  # fmt: skip
    s = float(sigma_db)
    out = np.empty(y.shape)
    z = (y - mu) / s
    out[~cens] = -0.5 * z[~cens] ** 2 - math.log(s) - _LOG_SQRT_2PI
    if truncated:
        out[~cens] -= special.log_ndtr((mu[~cens] - c[~cens]) / s)
    out[cens] = special.log_ndtr((c[cens] - mu[cens]) / s)
    return out


@dataclass(frozen=True)
class _Rows:
    """The fit's data as arrays (one row per usable measurement)."""

    y: NDArray  # level, NaN where censored
    cens: NDArray  # no service
    floor: NDArray
    pred: NDArray
    x: NDArray  # 10 log10(d_km), 0 without a distance
    g: NDArray  # group index
    t: NDArray  # own-offset tower index, -1 without one
    groups: list[str]
    towers: list[str]  # towers with an own offset
    tower_id: NDArray  # every row's tower id (str)
    village: NDArray  # village id (str, "" without)
    tech: NDArray
    operator: NDArray

    def subset(self, keep: NDArray) -> _Rows:
        return _Rows(*(getattr(self, f)[keep] if isinstance(getattr(self, f), np.ndarray)
                       else getattr(self, f) for f in self.__dataclass_fields__))  # fmt: skip


@dataclass
class _Params:
    a: NDArray  # offset per group
    b: NDArray  # exponent per group (0 where none)
    u: NDArray  # own offset per tower
    sigma: float
    loglik: float = float("nan")  # without the penalty

    def mu(self, r: _Rows) -> NDArray:
        m = r.pred + self.a[r.g] - self.b[r.g] * r.x
        own = r.t >= 0
        if own.any():
            m = m.copy()
            m[own] += self.u[r.t[own]]
        return m


def _objective(
    theta: NDArray, r: _Rows, slope: NDArray, own: bool, tau: float, truncated: bool
) -> tuple[float, NDArray]:
    """Negative penalised log-likelihood and its gradient; θ = (a, b[slope], u, log σ)."""
    G, S, T = len(r.groups), int(slope.sum()), len(r.towers) if own else 0
    a, u = theta[:G], theta[G + S : G + S + T]
    b = np.zeros(G)
    b[slope] = theta[G : G + S]
    log_s = theta[-1]
    s = math.exp(log_s)
    mu = r.pred + a[r.g] - b[r.g] * r.x
    has_u = (r.t >= 0) if T else np.zeros(len(mu), dtype=bool)
    if T:
        mu[has_u] += u[r.t[has_u]]
    o, c = ~r.cens, r.cens
    ll = np.empty(mu.size)
    dmu = np.empty(mu.size)  # dℓ/dμ
    dls = np.empty(mu.size)  # dℓ/dlog σ
    z = (r.y[o] - mu[o]) / s
    ll[o] = -0.5 * z * z - log_s - _LOG_SQRT_2PI
    dmu[o] = z / s
    dls[o] = z * z - 1.0
    if truncated:
        w = (mu[o] - r.floor[o]) / s
        lam = _mills(w)
        ll[o] -= special.log_ndtr(w)
        dmu[o] -= lam / s
        dls[o] += lam * w
    h = (r.floor[c] - mu[c]) / s
    lam = _mills(h)
    ll[c] = special.log_ndtr(h)
    dmu[c] = -lam / s
    dls[c] = -h * lam
    f = -float(ll.sum())
    grad = np.empty_like(theta)
    grad[:G] = -np.bincount(r.g, weights=dmu, minlength=G)
    grad[G : G + S] = np.bincount(r.g, weights=dmu * r.x, minlength=G)[slope]
    if T:
        f += float(u @ u) / (2.0 * tau * tau)
        grad[G + S : G + S + T] = -np.bincount(r.t[has_u], weights=dmu[has_u], minlength=T) + u / (
            tau * tau
        )
    grad[-1] = -float(dls.sum())
    return f, grad


def _information(r: _Rows, mu: NDArray, s: float, truncated: bool) -> NDArray:
    """−∂²ℓ_i/∂μ² per row: the Fisher information a row carries about an offset."""
    info = np.empty(mu.size)
    o, c = ~r.cens, r.cens
    info[o] = 1.0 / s**2
    if truncated:
        w = (mu[o] - r.floor[o]) / s
        lam = _mills(w)
        info[o] = (1.0 - lam * (w + lam)) / s**2
    h = (r.floor[c] - mu[c]) / s
    lam = _mills(h)
    info[c] = lam * (h + lam) / s**2
    return info


def _fit(
    r: _Rows,
    *,
    slope: NDArray,
    own: bool,
    tau: float,
    truncated: bool,
    start: _Params | None = None,
) -> _Params:
    """Maximise the penalised likelihood of ``r`` (module notes)."""
    G, T = len(r.groups), len(r.towers) if own else 0
    if start is None:
        resid = np.where(r.cens, np.nan, r.y - r.pred)
        a0 = np.zeros(G)
        for k in range(G):
            v = resid[(r.g == k) & ~r.cens]
            a0[k] = float(np.mean(v)) if v.size else 0.0
        obs = ~r.cens
        s0 = float(np.std((r.y - r.pred - a0[r.g])[obs])) if obs.sum() > 1 else 8.0
        start = _Params(a0, np.zeros(G), np.zeros(len(r.towers)), max(s0, 1.0))
    u0 = start.u if own and start.u.size == len(r.towers) else np.zeros(len(r.towers))
    theta0 = np.concatenate([start.a, start.b[slope], u0[:T], [math.log(start.sigma)]])
    n = max(len(r.y), 1)

    def per_row(theta: NDArray) -> tuple[float, NDArray]:
        # per row, so that the tolerance means the same for 100 and 100,000 measurements
        f, g = _objective(theta, r, slope, own, tau, truncated)
        return f / n, g / n

    # BFGS: a few dozen parameters, so the dense inverse Hessian costs nothing
    res = optimize.minimize(per_row, theta0, jac=True, method="BFGS",
                            options={"maxiter": 1000, "gtol": 1e-7})  # fmt: skip
    if not res.success and np.max(np.abs(res.jac)) > 1e-4:
        logger.warning("calibration: the likelihood's optimiser stopped early (%s)", res.message)
    th = res.x
    a = th[:G].copy()
    b = np.zeros(G)
    b[slope] = th[G : G + int(slope.sum())]
    u = np.zeros(len(r.towers))
    if T:
        u[:] = th[G + int(slope.sum()) : G + int(slope.sum()) + T]
    p = _Params(a, b, u, math.exp(th[-1]))
    p.loglik = float(log_likelihood(r.y, r.cens, p.mu(r), p.sigma, r.floor,
                                    truncated=truncated).sum())  # fmt: skip
    return p


def _sigma_only(r: _Rows, truncated: bool) -> float:
    """σ that best fits the uncalibrated prediction (all offsets 0) on ``r``."""

    def nll(log_s: float) -> float:
        return -float(log_likelihood(r.y, r.cens, r.pred, math.exp(log_s), r.floor,
                                     truncated=truncated).sum())  # fmt: skip

    res = optimize.minimize_scalar(nll, bounds=(math.log(0.1), math.log(100.0)), method="bounded")
    return math.exp(float(res.x))


# --------------------------------------------------------------------------------------------
# the result


@dataclass
class EvidenceFit:
    """Result of :func:`fit_censored`.

    Attributes
    ----------
    fit
        The relative :class:`~lomsong.coverage.types.CalibrationFit` (offsets per
        ``"operator/tech"``, tower offsets, slopes, σ) that ``[model] calibration`` applies.
    groups
        Per ``"operator/tech"``: ``n``, ``n_censored``, ``offset_db``, ``se_db``,
        ``naive_offset_db`` (mean of measured − predicted over rows with a level: what a plain
        mean would say), ``b`` and ``slope_lr`` (likelihood-ratio statistic) where tested.
    per_tower
        Per tower with its own offset: ``n``, ``n_censored``, ``offset_db``.
    sigma_db, tau_db
        Spread of the levels about the calibrated prediction, and of the towers' own offsets.
    floors_dbm
        The floor used per technology.
    truncated
        Whether measured levels were taken as truncated at the floor.
    figures
        ``n``, ``n_censored``, ``in_sample`` and, when held out, ``loto`` and ``lovo`` (each
        ``before`` / ``after`` with ``rmse_db, bias_db, n_levels, n_censored,
        censored_hit_share, log_score``, and ``folds``).
    n_no_prediction
        Rows left out for want of a prediction (no tower within reach).
    """

    fit: CalibrationFit
    groups: dict[str, dict[str, float]]
    per_tower: dict[str, dict[str, float]]
    sigma_db: float
    tau_db: float
    floors_dbm: dict[str, float]
    truncated: bool
    figures: dict[str, Any] = field(default_factory=dict)
    n_no_prediction: int = 0

    @property
    def offsets_db(self) -> dict[str, float]:
        """Offset (dB) per ``"operator/tech"``."""
        return self.fit.offsets_db

    def to_result(
        self,
        *,
        model: str,
        environment: str | None,
        terrain: str | None,
        rx_height_m: float,
        itm_params: Mapping[str, float] | None = None,
        source: str | None = None,
    ) -> CalibrationResult:
        """The :class:`~lomsong.coverage.types.CalibrationResult` written as ``fit.json``."""
        figs = self.figures
        loto = figs.get("loto", {}).get("after", {})
        details = {
            "tau_db": _clean(self.tau_db),
            "floors_dbm": dict(self.floors_dbm),
            "truncated": self.truncated,
            "figures": _clean(figs),
            "groups": _clean(self.groups),
        }
        return CalibrationResult(
            fit=self.fit, model=model,
            environment=environment if model in ("hata", "cost231") else None,
            terrain=terrain, h_tx_m=None, h_rx_m=float(rx_height_m),
            n_paths=int(figs.get("n", 0)), n_excluded_short=0,
            n_no_prediction=self.n_no_prediction,
            residual_rms_db=float(figs.get("in_sample", {}).get("rmse_db", math.nan)),
            loo_refit_rms_db=math.nan,
            loo_mean_offset_rms_db=float(loto.get("rmse_db", math.nan)),
            per_tx=self.per_tower, itm_params=dict(itm_params) if itm_params else None,
            source=source, details=details,
        )  # fmt: skip


def _clean(v: Any) -> Any:
    """JSON-safe copy: floats rounded to 4 decimals, NaN/inf → None."""
    if isinstance(v, Mapping):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return round(float(v), 4) if math.isfinite(v) else None
    return v


# --------------------------------------------------------------------------------------------
# preparing the rows


def _rows(
    matched: pd.DataFrame,
    floors: Mapping[str, float],
    min_tower_samples: int,
    truncated: bool,
    label: str,
) -> tuple[_Rows, int]:
    missing = [c for c in MATCHED_COLUMNS if c not in matched.columns]
    if missing:
        raise InputError(label, f"missing column(s) {', '.join(missing)} for the calibration")
    pred = pd.to_numeric(matched["predicted_dbm"], errors="coerce").to_numpy(float)
    level = pd.to_numeric(matched["level_dbm"], errors="coerce").to_numpy(float)
    cens = matched["no_service"].fillna(False).to_numpy(dtype=bool)
    has_pred = np.isfinite(pred)
    usable = has_pred & (cens | np.isfinite(level))
    n_no_pred = int((~has_pred).sum())
    if n_no_pred:
        logger.info("calibration: %d measurements without a prediction left out", n_no_pred)
    if not usable.any():
        raise InputError(label, "no measurement with a prediction to calibrate on")
    m = matched.loc[usable]
    cens = cens[usable]
    if truncated and cens.any():
        raise InputError(label, f"{int(cens.sum())} rows without service: a truncated fit is "
                         "for data without non-detections (use truncated=False)")  # fmt: skip
    tech = m["tech"].astype(str).to_numpy(dtype=object)
    operator = np.array([_label(v) for v in m["operator"]], dtype=object)
    need = sorted(set(tech[cens]) | (set(tech) if truncated else set()))
    unknown = [t for t in need if t not in floors]
    if unknown:
        raise InputError(label, f"no phone floor for technology {', '.join(unknown)}: give "
                         "floors_dbm={...} (dBm)")  # fmt: skip
    floor = np.array([floors.get(t, np.nan) for t in tech], dtype=float)
    keys = np.array([group_key(o, t) for o, t in zip(operator, tech, strict=True)], dtype=object)
    groups, g = np.unique(keys.astype(str), return_inverse=True)
    tower_id = np.array([_label(v) for v in m["tower_id"]], dtype=object)
    counts = pd.Series(tower_id).value_counts()
    own = sorted(k for k, n in counts.items() if k and n >= min_tower_samples)
    index = {k: i for i, k in enumerate(own)}
    t = np.array([index.get(k, -1) for k in tower_id], dtype=np.int64)
    if "distance_km" in m.columns:
        d = pd.to_numeric(m["distance_km"], errors="coerce").to_numpy(float)
        x = np.where(np.isfinite(d) & (d > 0), 10.0 * np.log10(np.where(d > 0, d, 1.0)), 0.0)
    else:
        x = np.zeros(len(m))
    village = (
        np.array([_label(v) for v in m["village_id"]], dtype=object)
        if "village_id" in m.columns
        else np.full(len(m), "", dtype=object)
    )
    rows = _Rows(
        y=np.where(cens, np.nan, level[usable]), cens=cens, floor=floor, pred=pred[usable], x=x,
        g=g.astype(np.int64), t=t, groups=[str(k) for k in groups], towers=own,
        tower_id=tower_id, village=village, tech=tech, operator=operator,
    )  # fmt: skip
    return rows, n_no_pred


def _label(v: object) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return ""
    return str(v).strip()


# --------------------------------------------------------------------------------------------
# model choice


def _choose_slopes(
    r: _Rows, base: _Params, truncated: bool, alpha: float
) -> tuple[NDArray, dict[int, float]]:
    """Groups whose slope a likelihood-ratio test keeps; the statistic of each group tested."""
    G = len(r.groups)
    crit = float(stats.chi2.ppf(1.0 - alpha, 1))
    keep = np.zeros(G, dtype=bool)
    lr: dict[int, float] = {}
    for k in range(G):
        sel = r.g == k
        obs = sel & ~r.cens
        if obs.sum() < _SLOPE_MIN_ROWS or np.ptp(r.x[sel]) < _SLOPE_MIN_SPREAD_DB:
            continue
        one = np.zeros(G, dtype=bool)
        one[k] = True
        alt = _fit(r, slope=one, own=False, tau=1.0, truncated=truncated, start=base)
        lr[k] = max(0.0, 2.0 * (alt.loglik - base.loglik))
        keep[k] = lr[k] > crit
    return keep, lr


def _tau(r: _Rows, slope: NDArray, truncated: bool, start: _Params) -> tuple[float, _Params]:
    """Between-tower spread τ (dB) by the method of moments, and the nearly unpooled fit."""
    if not r.towers:
        return 0.0, start
    free = _fit(r, slope=slope, own=True, tau=_TAU_WEAK_DB, truncated=truncated, start=start)
    info = _information(r, free.mu(r), free.sigma, truncated)
    has = r.t >= 0
    T = len(r.towers)
    info_t = np.bincount(r.t[has], weights=info[has], minlength=T)
    se2 = 1.0 / np.maximum(info_t, 1e-12)
    # each tower's group: a group's towers' offsets are compared with their own mean
    group_of = np.full(T, -1)
    group_of[r.t[has]] = r.g[has]
    dev, var, dof = 0.0, 0.0, 0
    for k in np.unique(group_of):
        members = np.flatnonzero(group_of == k)
        if members.size < 2:
            continue  # one tower's offset is its group's: nothing to compare
        uk = free.u[members]
        dev += float(np.sum((uk - uk.mean()) ** 2))
        var += float(np.sum(se2[members])) * (members.size - 1) / members.size
        dof += members.size - 1
    if dof == 0:
        return 0.0, free
    return math.sqrt(max(0.0, (dev - var) / dof)), free


# --------------------------------------------------------------------------------------------
# held-out figures


def _as_fit(r: _Rows, p: _Params, present: NDArray, slope: NDArray, own: bool) -> CalibrationFit:
    """The relative CalibrationFit of parameters fitted on the groups ``present``."""
    offsets = {r.groups[k]: float(p.a[k]) for k in range(len(r.groups)) if present[k]}
    slopes = {r.groups[k]: float(p.b[k]) for k in range(len(r.groups)) if present[k] and slope[k]}
    towers = {name: float(p.u[i]) for i, name in enumerate(r.towers)} if own else {}
    return CalibrationFit(
        offsets_db=offsets, slope="per_group" if slopes else "none", b_per_tx=slopes,
        kind=RELATIVE, tower_offsets_db=towers, sigma_db=p.sigma,
    )  # fmt: skip


def _mu_applied(r: _Rows, fit: CalibrationFit) -> NDArray:
    """μ as ``[model] calibration`` applies ``fit`` (fallbacks of ``group_terms`` included)."""
    mu = r.pred.copy()
    for key in np.unique(np.stack([r.operator, r.tech]).T.astype(str), axis=0):
        sel = (r.operator == key[0]) & (r.tech == key[1])
        a, b = fit.group_terms(key[0], key[1])
        mu[sel] += a - b * r.x[sel]
    mu += np.array([fit.tower_offsets_db.get(t, 0.0) for t in r.tower_id])
    return mu


def _scores(r: _Rows, mu: NDArray, sigma: float, truncated: bool) -> dict[str, float]:
    obs = ~r.cens
    resid = r.y[obs] - mu[obs]
    ll = log_likelihood(r.y, r.cens, mu, sigma, r.floor, truncated=truncated)
    return {
        "rmse_db": float(np.sqrt(np.mean(resid**2))) if resid.size else math.nan,
        "bias_db": float(np.mean(resid)) if resid.size else math.nan,
        "n_levels": int(obs.sum()),
        "n_censored": int(r.cens.sum()),
        "censored_hit_share": float(np.mean(mu[r.cens] < r.floor[r.cens]))
        if r.cens.any()
        else math.nan,
        "log_score": float(np.mean(ll)) if ll.size else math.nan,
    }


def _folds(labels: NDArray, max_folds: int) -> list[NDArray]:
    """Row masks of the folds: one per label, or whole labels dealt into ``max_folds``."""
    names = sorted({v for v in labels if v})
    if len(names) < 2:
        return []
    k = min(len(names), max_folds)
    which = {n: i % k for i, n in enumerate(names)}
    fold = np.array([which.get(v, -1) for v in labels])
    return [fold == i for i in range(k)]


def _held_out(
    r: _Rows,
    labels: NDArray,
    *,
    slope: NDArray,
    own: bool,
    tau: float,
    truncated: bool,
    start: _Params,
    max_folds: int,
    progress: Callable[[int, int], None] | None,
) -> dict[str, Any]:
    folds = _folds(labels, max_folds)
    if not folds:
        return {}
    mu_after = np.full(len(r.y), np.nan)
    mu_before = r.pred
    sig_after = np.full(len(r.y), np.nan)
    sig_before = np.full(len(r.y), np.nan)
    for i, test in enumerate(folds):
        train = r.subset(~test)
        p = _fit(train, slope=slope, own=own, tau=tau, truncated=truncated, start=start)
        present = np.bincount(train.g, minlength=len(r.groups)) > 0
        trained_towers = set(train.tower_id[train.t >= 0])
        fit = _as_fit(r, p, present, slope, own)
        # a tower held out has no own offset: the fit never saw it
        kept = {k: v for k, v in fit.tower_offsets_db.items() if k in trained_towers}
        fit = dataclasses.replace(fit, tower_offsets_db=kept)
        held = r.subset(test)
        mu_after[test] = _mu_applied(held, fit)
        sig_after[test] = p.sigma
        sig_before[test] = _sigma_only(train, truncated)
        if progress is not None:
            progress(i + 1, len(folds))
    out = np.zeros(len(r.y), dtype=bool)
    for f in folds:
        out |= f
    held = r.subset(out)
    return {
        "folds": len(folds),
        "before": _scores_var(held, mu_before[out], sig_before[out], truncated),
        "after": _scores_var(held, mu_after[out], sig_after[out], truncated),
    }


def _scores_var(r: _Rows, mu: NDArray, sigma: NDArray, truncated: bool) -> dict[str, float]:
    """:func:`_scores` with a σ per row (each fold's own)."""
    out = _scores(r, mu, 1.0, truncated)
    ll = np.empty(len(mu))
    for s in np.unique(sigma):
        sel = sigma == s
        ll[sel] = log_likelihood(r.y[sel], r.cens[sel], mu[sel], float(s), r.floor[sel],
                                 truncated=truncated)  # fmt: skip
    out["log_score"] = float(np.mean(ll)) if ll.size else math.nan
    return out


# --------------------------------------------------------------------------------------------
# the fit


def fit_censored(
    matched: pd.DataFrame,
    *,
    floors_dbm: Mapping[str, float] | None = None,
    min_tower_samples: int = CALIBRATION_TOWER_MIN_SAMPLES,
    slopes: str = "auto",
    slope_alpha: float = CALIBRATION_SLOPE_ALPHA,
    tower_offsets: bool = True,
    truncated: bool = False,
    holdout: bool = True,
    max_folds: int = CALIBRATION_MAX_FOLDS,
    progress: Callable[[str, int], Callable[[int, int], None]] | None = None,
    source: str | None = None,
) -> EvidenceFit:
    """Fit offsets per operator × technology (and tower, and slopes) to censored walk tests.

    Parameters
    ----------
    matched
        One row per measurement with :data:`MATCHED_COLUMNS` (and ``distance_km``,
        ``village_id`` when known): ``predicted_dbm`` the model's median level there (dBm, in
        the technology's quantity; NaN = no prediction, left out), ``level_dbm`` the measured
        one (NaN where ``no_service``).
    floors_dbm
        The phone's floor per technology (dBm), over :data:`~lomsong.defaults.PHONE_FLOOR_DBM`.
    min_tower_samples
        Fewest measurements for a tower's own offset.
    slopes
        ``"auto"`` (a likelihood-ratio test per group) or ``"none"``.
    slope_alpha
        Significance of that test.
    tower_offsets
        Fit towers' own (partially pooled) offsets at all.
    truncated
        Measured levels are truncated at the floor (data without non-detections: module notes).
    holdout
        Compute the leave-one-tower-out and leave-one-village-out figures.
    max_folds
        Most folds of each held-out figure.
    progress
        ``progress(description, total)`` → ``advance(done, total)`` (the pipeline's factory).
    source
        Name of the evidence, for error messages.

    Returns
    -------
    EvidenceFit

    Raises
    ------
    InputError
        Missing columns, no usable row, a no-service row of a technology without a floor.
    """
    if slopes not in ("auto", "none"):
        raise ValueError(f"slopes must be 'auto' or 'none', got {slopes!r}")
    floors = {**PHONE_FLOOR_DBM, **dict(floors_dbm or {})}
    label = source or "<measurements>"
    r, n_no_pred = _rows(matched, floors, min_tower_samples, truncated, label)
    G = len(r.groups)
    no_slope = np.zeros(G, dtype=bool)
    base = _fit(r, slope=no_slope, own=False, tau=1.0, truncated=truncated)
    slope, lr = (
        _choose_slopes(r, base, truncated, slope_alpha) if slopes == "auto" else (no_slope, {})
    )
    start = base
    if slope.any():
        start = _fit(r, slope=slope, own=False, tau=1.0, truncated=truncated, start=base)
    tau, free = (0.0, start)
    if tower_offsets and r.towers:
        tau, free = _tau(r, slope, truncated, start)
    own = tau > 0.0
    final = start
    if own:
        final = _fit(r, slope=slope, own=True, tau=tau, truncated=truncated, start=free)
    present = np.ones(G, dtype=bool)
    fit = _as_fit(r, final, present, slope, own)

    mu = final.mu(r)
    info = _information(r, mu, final.sigma, truncated)
    groups: dict[str, dict[str, float]] = {}
    for k, name in enumerate(r.groups):
        sel = r.g == k
        obs = sel & ~r.cens
        row: dict[str, float] = {
            "n": int(sel.sum()),
            "n_censored": int((sel & r.cens).sum()),
            "offset_db": float(final.a[k]),
            "se_db": float(1.0 / math.sqrt(max(info[sel].sum(), 1e-12))),
            "naive_offset_db": float(np.mean(r.y[obs] - r.pred[obs])) if obs.any() else math.nan,
        }
        if k in lr:
            row["slope_lr"] = lr[k]
        if slope[k]:
            row["b"] = float(final.b[k])
        groups[name] = row
    per_tower: dict[str, dict[str, float]] = {}
    if own:
        for i, name in enumerate(r.towers):
            sel = r.t == i
            per_tower[name] = {"n": int(sel.sum()), "n_censored": int((sel & r.cens).sum()),
                               "offset_db": float(final.u[i])}  # fmt: skip
    figures: dict[str, Any] = {
        "n": len(r.y),
        "n_censored": int(r.cens.sum()),
        "n_towers": len(set(r.tower_id) - {""}),
        "n_villages": len(set(r.village) - {""}),
        "in_sample": _scores(r, mu, final.sigma, truncated),
    }
    if holdout:
        for name, labels, text in (("loto", r.tower_id, "Leaving each tower out"),
                                   ("lovo", r.village, "Leaving each village out")):  # fmt: skip
            n = min(len(set(labels) - {""}), max_folds)
            adv = progress(text, n) if progress is not None and n >= 2 else None
            figs = _held_out(r, labels, slope=slope, own=own, tau=max(tau, 1e-9),
                             truncated=truncated, start=final, max_folds=max_folds,
                             progress=adv)  # fmt: skip
            if figs:
                figures[name] = figs
    return EvidenceFit(
        fit=fit, groups=groups, per_tower=per_tower, sigma_db=final.sigma, tau_db=tau,
        floors_dbm={t: floors[t] for t in sorted(set(r.tech)) if t in floors},
        truncated=truncated, figures=figures, n_no_prediction=n_no_pred,
    )  # fmt: skip
