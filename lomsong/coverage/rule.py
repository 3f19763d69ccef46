"""The coverage rule: when a household has signal. Built once, consulted by every stage.

Dead zones, explanations (margins), the siting coverage matrix, "which proposed site covers this
village", the map legend, the report and ``summary.json`` all read the same
:class:`CoverageRule`; none of them derives a threshold of its own.

The rule, per technology *t* (levels in the technology's own quantity: 2G RxLev, 3G RSCP,
4G RSRP, 5G SS-RSRP — :mod:`lomsong.propagation.service`)::

    has signal (median)   P_t − C_t ≥ T_t + B_t
    reliable  (at p)      P_t − C_t ≥ T_t + B_t + Q⁻¹(1 − p) · √(σ_t² + σ_B,t²)

with P_t the predicted median level of the best cell of technology *t*, C_t the terminal clutter
loss at the receiver (land cover, ITU-R P.2108; 0 without a land-cover input), T_t the
threshold, B_t the median building entry loss indoors (ITU-R P.2109 for the chosen building
type at *t*'s frequency; or the manual ``indoor_margin_db``; 0 outdoors) and σ_B,t its spread
(P.2109's 90 % − 50 % points over 1.2816), σ_t the outdoor location variability (log-normal,
ITU-R P.1546-5 §12) and p the location probability: indoor and outdoor variations combined as
independent log-normals rather than two 90 % points added (which would ask ~99 %). A
household has **no signal** when no counted technology has signal at the median, is **weak**
when one has but none is reliable, and **reliable** otherwise. Its coverage probability is
max_t Φ((P_t − C_t − T_t − B_t) / √(σ_t² + σ_B,t²)). A village's status applies
``dead_share`` to its households: ``no_signal`` when at least that share has no signal, else
``weak`` when at least that share is not reliable, else ``reliable``.

Where the location variability comes from depends on the model:

- the closed-form models (Hata, COST-231, free space) have none of their own: σ_t above is
  ITU-R P.1546-5 §12's, a fade margin σ_t · Q⁻¹(1 − p) over the median (``fade_margin_db``
  in ``summary.json``);
- ITM has its own, per path: σ_L = 10 k Δh(d) / (k Δh(d) + 13) dB (k = f / 47.7 MHz, Δh(d)
  the path's terrain irregularity; NTIA ITM v1.4 ``Variability``): < 1 dB on flat ground,
  ≈ 10 dB on hilly paths at UHF. The engine evaluates every cell at the location median and
  at location quantile q (p, or 0.9 when p = 0.5 — only to read σ_L) in one pass, in ITM's
  broadcast mode (``mdvar`` 3, time and situation at 50 %:
  :data:`lomsong.defaults.ITM_DEFAULTS`), and the composite keeps both: the best level at the
  median P_t and at the quantile P_t,q (:meth:`margins`' ``at_quantile``). Each cell's
  outdoor deviation is then y = P_t − P_t,q and its σ_L = y / Q⁻¹(1 − q), which replaces
  σ_t: outdoors at q = p, *reliable* is exactly "the best cell at the location quantile
  reaches the threshold". P_t and P_t,q may come from different cells (each composite is its
  own best); σ_L then is that of the two composites, not of one path.

One criterion on the grid and at points: :meth:`CoverageRule.margins` judges grids (dead zones,
``margin.tif``) and :meth:`CoverageRule.margin_db` / :meth:`CoverageRule.covers` judge levels
at points (the siting coverage matrix, explanations and their mast search, the walk-test
comparison), both through one arithmetic (``_judge``). Under ITM the point stages pass the
level at the median and at the same location quantile
(:func:`lomsong.coverage.engine.service_levels_points`), so a household is judged by the same
σ whether it is read off the grid or predicted at its point.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import ndtr

from lomsong.defaults import (
    DEAD_SHARE,
    ENVIRONMENT,
    INDOOR_MARGIN_DB,
    INDOOR_TYPES,
    ITM_DEFAULTS,
    ITM_SIGMA_LOCATION,
    LOCATION_PROBABILITY,
    SERVICE_THRESHOLDS_DBM,
    TECH_DEFAULTS,
    canonical_tech,
)
from lomsong.grid import Grid
from lomsong.propagation.clutter import building_entry_loss_db
from lomsong.propagation.service import QUANTITY
from lomsong.propagation.variability import fade_margin_db, location_sigma_db
from lomsong.text import RULE, for_lang, format_dbm, format_float, format_pct

__all__ = ["CoverageRule", "CLASSES", "OWN_VARIABILITY_MODELS"]

#: The three classes of a household and a village, worst first.
CLASSES = ("no_signal", "weak", "reliable")
#: The propagation models with a location variability of their own, evaluated per place at the
#: location quantile (the others take the rule's fade margin).
OWN_VARIABILITY_MODELS = ("itm",)
#: NTIA ITM's modes of variability (``mdvar`` without the +10 / +20 flags).
_MDVAR_MODES = ("single message", "accidental", "mobile", "broadcast")
_TECHS = tuple(TECH_DEFAULTS)


@dataclass(frozen=True)
class CoverageRule:
    """When a place has signal.

    Parameters
    ----------
    thresholds
        Threshold per technology in its own quantity (dBm): RxLev (2G), RSCP (3G), RSRP (4G),
        SS-RSRP (5G). Technologies not given take ``threshold_dbm`` when it is set, else
        :data:`lomsong.defaults.SERVICE_THRESHOLDS_DBM`.
    threshold_dbm
        One threshold for every technology without its own (dBm); None: the defaults.
    location_probability
        Probability p (0.5 ≤ p < 1) at which "reliable" is judged; 0.5 = the median (no weak
        class then).
    sigma_db
        Location variability σ per technology (dB); see :meth:`for_network`.
    indoor
        ``None`` (outdoor), ``"traditional"`` or ``"thermally_efficient"`` (ITU-R P.2109).
    indoor_margin_db
        A manual building-entry margin (dB, added to every threshold); replaces ``indoor``'s
        P.2109 loss when > 0.
    frequencies_mhz
        The carrier of each technology used for σ and the building entry loss.
    technologies
        Technologies that count (empty: every one); e.g. ("4G", "5G") for "no 4G".
    dead_share
        Share of households that sets a village's status (0–1].
    clutter
        Terminal clutter loss grids per technology (dB, on the terrain grid; from a land-cover
        input), subtracted from the level at each receiver cell.
    landcover
        Name of the land-cover input, for the record.
    present
        The technologies of the network (what the rule is stated for; empty: all).
    model
        The propagation model of the run's levels, for the record and the legends: under a
        model of :data:`OWN_VARIABILITY_MODELS` (ITM) "reliable" is judged per place with the
        model's own σ (:attr:`per_place`), so no single level makes a place reliable
        (:meth:`reliable_level`). The judgement itself never reads it: the stages pass the
        levels at the quantile (``at_quantile``). None: unknown (the fade margin's levels).
    """

    thresholds: Mapping[str, float] = field(default_factory=dict)
    threshold_dbm: float | None = None
    location_probability: float = 0.5
    sigma_db: Mapping[str, float] = field(default_factory=dict)
    indoor: str | None = None
    indoor_margin_db: float = INDOOR_MARGIN_DB
    frequencies_mhz: Mapping[str, float] = field(default_factory=dict)
    technologies: tuple[str, ...] = ()
    dead_share: float = DEAD_SHARE
    clutter: Mapping[str, Grid] = field(default_factory=dict, compare=False, repr=False)
    landcover: str | None = None
    present: tuple[str, ...] = ()
    model: str | None = None

    def __post_init__(self) -> None:
        bad = [k for k in (*self.thresholds, *self.technologies) if k not in _TECHS]
        if bad:
            raise ValueError(f"unknown technologies {bad}: use {', '.join(_TECHS)}")
        if not 0.0 < self.dead_share <= 1.0:
            raise ValueError(f"dead_share must be in (0, 1], got {self.dead_share}")
        if not 0.5 <= self.location_probability < 1.0:
            raise ValueError(f"location_probability must be in [0.5, 1), got "
                             f"{self.location_probability}")  # fmt: skip
        if self.indoor is not None and self.indoor not in INDOOR_TYPES:
            raise ValueError(f"indoor: one of {', '.join(INDOOR_TYPES)}, not {self.indoor}")
        full = {t: float(self.thresholds.get(t, self._fallback(t))) for t in _TECHS}
        object.__setattr__(self, "thresholds", full)
        object.__setattr__(self, "technologies", tuple(self.technologies))

    def _fallback(self, tech: str) -> float:
        return SERVICE_THRESHOLDS_DBM[tech] if self.threshold_dbm is None else self.threshold_dbm

    # -- building ----------------------------------------------------------------------------
    @classmethod
    def for_network(
        cls,
        *,
        towers: Any = None,
        environment: str = ENVIRONMENT,
        thresholds: Mapping[str, float] | None = None,
        location_probability: float = LOCATION_PROBABILITY,
        indoor: str | bool | None = None,
        indoor_margin_db: float = INDOOR_MARGIN_DB,
        technologies: Sequence[str] = (),
        dead_share: float = DEAD_SHARE,
        clutter: Mapping[str, Grid] | None = None,
        landcover: str | None = None,
        model: str | None = None,
    ) -> CoverageRule:
        """The rule for a network: each technology's σ and building loss at its carrier (the
        median carrier of its towers; the technology's default without towers).

        σ_t is ITU-R P.1546-5 §12's location variability (5.5 dB for systems of ≥ 1 MHz, the
        frequency law of ``environment`` for GSM's 200 kHz carriers).
        """
        freqs, bws, present = {}, {}, []
        for t in _TECHS:
            f = TECH_DEFAULTS[t]["freq_mhz"]
            bw = TECH_DEFAULTS[t]["bandwidth_mhz"]
            if towers is not None and len(towers) and "tech" in towers:
                mine = towers[towers["tech"].astype(str) == t]
                if len(mine):
                    present.append(t)
                    f = float(np.median(mine["freq_mhz"].to_numpy(dtype=float)))
                    if "bandwidth_mhz" in mine:
                        bw = float(np.nanmedian(mine["bandwidth_mhz"].to_numpy(dtype=float)))
            freqs[t] = float(f)
            bws[t] = float(bw)
        sigma = {t: float(location_sigma_db(freqs[t], environment, bandwidth_mhz=bws[t],
                                            validate=False)) for t in _TECHS}  # fmt: skip
        return cls(
            thresholds={canonical_tech(k) or k: float(v) for k, v in (thresholds or {}).items()},
            location_probability=float(location_probability),
            sigma_db=sigma,
            indoor=indoor if isinstance(indoor, str) else None,
            indoor_margin_db=float(indoor_margin_db),
            frequencies_mhz=freqs,
            technologies=tuple(canonical_tech(t) or t for t in technologies),
            dead_share=float(dead_share),
            clutter=dict(clutter or {}),
            landcover=landcover,
            present=tuple(present),
            model=model,
        )

    # -- the levels ----------------------------------------------------------------------------
    def counts(self, tech: str) -> bool:
        """Does a cell of ``tech`` count for coverage (``technologies``)?"""
        return not self.technologies or tech in self.technologies

    def sigma(self, tech: str) -> float:
        """Total location variability of ``tech`` (dB): σ_L and, indoors, the spread of the
        building entry loss, combined as independent log-normals, √(σ_L² + σ_B²)."""
        return float(np.hypot(float(self.sigma_db.get(tech, 0.0)), self.indoor_sigma(tech)))

    def fade_margin(self, tech: str) -> float:
        """σ · Q⁻¹(1 − p): the margin over the median that the location probability asks (dB)."""
        sigma = self.sigma(tech)
        return float(fade_margin_db(self.location_probability, sigma)) if sigma else 0.0

    def _bel(self, tech: str, p: float) -> float:
        f = float(self.frequencies_mhz.get(tech, TECH_DEFAULTS[tech]["freq_mhz"]))
        return float(building_entry_loss_db(f, p, building=self.indoor, validate=False))

    def indoor_loss(self, tech: str) -> float:
        """Median building entry loss (dB) at ``tech``'s carrier (ITU-R P.2109); the manual
        margin when set; 0 outdoors."""
        if self.indoor_margin_db > 0:
            return float(self.indoor_margin_db)
        return 0.0 if self.indoor is None else self._bel(tech, 0.5)

    def indoor_sigma(self, tech: str) -> float:
        """Spread of the building entry loss as a log-normal σ (dB): its 90 % − 50 % points of
        P.2109 over Q⁻¹(0.1) = 1.2816; 0 outdoors or with a manual margin."""
        if self.indoor is None or self.indoor_margin_db > 0:
            return 0.0
        return (self._bel(tech, 0.9) - self._bel(tech, 0.5)) / float(fade_margin_db(0.9, 1.0))

    def signal_threshold(self, tech: str | None = None) -> float:
        """Median level (dBm) a cell of ``tech`` must reach to give signal (threshold + median
        building loss); ``tech`` None: 4G."""
        t = tech if tech in self.thresholds else "4G"
        return self.thresholds[t] + self.indoor_loss(t)

    def threshold(self, tech: str | None = None) -> float:
        """Median level (dBm) a cell of ``tech`` must reach to be *reliable* at the location
        probability: threshold + median building loss + fade margin (σ_t: ITU-R P.1546's
        location variability, with the building loss's spread indoors).

        The reliable criterion of the closed-form models, and what a legend shows for them. A
        model with its own variability (ITM) has no single such level: its σ_L differs from
        place to place, so every stage judges a level with :meth:`margin_db` / :meth:`covers`
        (``at_quantile``) or :meth:`margins`, never against this value."""
        t = tech if tech in self.thresholds else "4G"
        return self.thresholds[t] + self.indoor_loss(t) + self.fade_margin(t)

    @property
    def per_place(self) -> bool:
        """Is "reliable" judged per place with the model's own location variability (the run's
        ``model`` is ITM)? Then :meth:`threshold` is only P.1546's level, not the run's."""
        return self.model in OWN_VARIABILITY_MODELS

    def reliable_level(self, tech: str | None = None) -> float:
        """The median level (dBm) from which a cell of ``tech`` is reliable, for legends:
        :meth:`threshold` (the fade margin's) under the closed-form models; NaN when the
        run's model has its own variability (ITM: the level differs from place to place, with
        σ_L; ``margin.tif`` holds each place's margin)."""
        return math.nan if self.per_place else self.threshold(tech)

    def clutter_at(self, tech: str, x: Any, y: Any) -> np.ndarray:
        """Terminal clutter loss (dB) of ``tech`` at points (0 without a land-cover input)."""
        xs = np.atleast_1d(np.asarray(x, dtype=float))
        if tech not in self.clutter:
            return np.zeros(xs.shape)
        return self.clutter[tech].sample(xs, np.atleast_1d(np.asarray(y, dtype=float)), fill=0.0)

    def margin_db(
        self,
        level_dbm: Any,
        tech: str | None = None,
        *,
        at_quantile: tuple[float, Any] | None = None,
    ) -> np.ndarray:
        """Margin (dB) of levels of ``tech`` at points over the rule: ≥ 0 reliable, NaN where no
        level. The rule's one point criterion, that of :meth:`margins` on the grid.

        Parameters
        ----------
        level_dbm
            Median level at each point (dBm, the terminal clutter already subtracted).
        tech
            The levels' technology (None: 4G's values).
        at_quantile
            ``(q, level_q)`` of a model with its own location variability (ITM,
            :func:`lomsong.coverage.engine.service_levels_points`): the level at location
            quantile q at the same points (clutter subtracted alike). The margin is then
            m − Q⁻¹(1 − p) · √(σ_L² + σ_B²) with σ_L = (level − level_q) / Q⁻¹(1 − q), each
            point its own (:meth:`margins`); at q = p outdoors, level_q − the signal threshold.
            None: the closed-form models' fade margin, level − :meth:`threshold`.
        """
        level = np.asarray(level_dbm, dtype=float)
        t = tech if tech in self.thresholds else "4G"
        q, level_q = (None, None) if at_quantile is None else at_quantile
        lq = None if level_q is None else np.asarray(level_q, dtype=float)
        return self._judge(t, level, lq, q)[1]

    def has_signal(self, level_dbm: Any, tech: str | None = None) -> np.ndarray:
        """Bool: does a median level of ``tech`` at a point give signal (weak or reliable; NaN →
        False; a technology that does not count never does)? The ``signal`` of
        :meth:`margins` at points; a point the rule :meth:`covers` always has signal, whatever
        σ (the reliable margin is the signal margin less Q⁻¹(1 − p) σ ≥ 0)."""
        level = np.asarray(level_dbm, dtype=float)
        t = tech if tech in self.thresholds else "4G"
        m = np.nan_to_num(self._over_signal(t, level), nan=-np.inf)
        if tech is not None and tech in self.thresholds and not self.counts(tech):
            return np.zeros(m.shape, dtype=bool)
        return m >= 0

    def covers(
        self,
        level_dbm: Any,
        tech: str | None = None,
        *,
        at_quantile: tuple[float, Any] | None = None,
    ) -> np.ndarray:
        """Bool: is a level of ``tech`` reliable at its point (:meth:`margin_db` ≥ 0)? NaN →
        False; a technology that does not count never covers. ``at_quantile``: as
        :meth:`margin_db` (ITM's own variability); None: the fade margin."""
        m = np.nan_to_num(self.margin_db(level_dbm, tech, at_quantile=at_quantile), nan=-np.inf)
        if tech is not None and tech in self.thresholds and not self.counts(tech):
            return np.zeros(m.shape, dtype=bool)
        return m >= 0

    def _over_signal(self, tech: str, level: np.ndarray) -> np.ndarray:
        """Margin (dB) of levels over the signal threshold of ``tech``, in their float type."""
        ft = level.dtype.type if level.dtype.kind == "f" else np.float64
        return level - ft(self.signal_threshold(tech))

    def _judge(
        self, tech: str, level: np.ndarray, level_q: np.ndarray | None, q: float | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The rule's arithmetic, one home for grids (:meth:`margins`) and points
        (:meth:`margin_db`): ``(margin over the signal threshold, margin over the reliable
        rule, coverage probability)`` of levels of ``tech`` (clutter subtracted), in their own
        float type.

        ``level_q`` None: σ is the rule's σ_t (the closed-form models' fade margin). Else the
        model's own deviation at location quantile ``q`` per place: y = level − level_q
        (≥ 0; 0 where either is not a finite level), σ = √((y / Q⁻¹(1 − q))² + σ_B²) and the
        reliable margin m − Q⁻¹(1 − p) σ (module docstring).
        """
        ft = level.dtype.type if level.dtype.kind == "f" else np.float64
        m_med = self._over_signal(tech, level)
        if level_q is None:
            margin = level - ft(self.threshold(tech))
            sigma = self.sigma(tech)
            with np.errstate(invalid="ignore"):
                pr = ndtr(m_med / sigma) if sigma > 0 else (m_med >= 0).astype(level.dtype)
        else:
            z_q = ft(fade_margin_db(q, 1.0))  # Q⁻¹(1 − q) > 0
            z_p = ft(fade_margin_db(self.location_probability, 1.0))
            with np.errstate(invalid="ignore"):
                y = np.where(np.isfinite(level), np.maximum(level - level_q, 0.0), 0.0)
            # a level at the median without one at q (−inf or NaN at q): no deviation read
            y = np.nan_to_num(y, nan=0.0, posinf=0.0).astype(level.dtype)
            sigma_b = ft(self.indoor_sigma(tech))
            sigma = np.sqrt((y / z_q) ** 2 + sigma_b**2)
            margin = m_med - z_p * sigma
            with np.errstate(all="ignore"):  # −inf / tiny σ: the probability is 0
                pr = np.where(sigma > 0, ndtr(m_med / np.maximum(sigma, 1e-6)),
                              (m_med >= 0).astype(level.dtype))  # fmt: skip
        return m_med, margin, np.nan_to_num(pr, nan=0.0).astype(level.dtype)

    # -- grids ---------------------------------------------------------------------------------
    def margins(
        self,
        power: np.ndarray,
        groups: Mapping[tuple[str, str], np.ndarray],
        *,
        serving_tech: tuple[np.ndarray, Sequence[str]] | None = None,
        clutter: bool = True,
        at_quantile: tuple[float, np.ndarray, Mapping[tuple[str, str], np.ndarray]] | None = None,
    ) -> dict[str, np.ndarray]:
        """The rule on the grid.

        Parameters
        ----------
        power
            Best-server level grid (dBm, NaN where none).
        groups
            Best level per (operator, technology) (−inf where none). Without it each cell is
            judged by its best server's technology: ``serving_tech`` = (serving index grid,
            technology of each tower index); without either, with 4G's values.
        clutter
            Subtract the rule's clutter grids (False: the levels already carry it).
        at_quantile
            ``(q, power_q, groups_q)`` of a model with its own location variability (ITM,
            :meth:`lomsong.coverage.types.Coverage.at_quantile`): the best levels at location
            quantile q, laid out as ``power`` and ``groups``. Each cell's σ is then
            (level − level at q) / Q⁻¹(1 − q) instead of the fade margin's σ_t (module
            docstring). None: the closed-form models' fade margin.

        Returns
        -------
        dict
            ``signal`` (bool: some counted technology has signal at the median),
            ``reliable`` (bool), ``margin`` (float32: best margin over the reliable threshold,
            dB, −inf where no level), ``probability`` (float32: best coverage probability).
        """
        shape = np.shape(power)
        signal = np.zeros(shape, dtype=bool)
        margin = np.full(shape, -np.inf, dtype=np.float32)
        prob = np.zeros(shape, dtype=np.float32)
        layers = self._layers(power, groups, serving_tech)
        q_layers: dict[str, np.ndarray] = {}
        q = None
        if at_quantile is not None:
            q, power_q, groups_q = at_quantile
            q_layers = dict(self._layers(power_q, groups_q, serving_tech))
        for tech, level in layers:
            if not self.counts(tech):
                continue
            lv = np.nan_to_num(np.asarray(level, dtype=np.float32), nan=-np.inf)
            lq = None
            if tech in q_layers:
                lq = np.nan_to_num(np.asarray(q_layers[tech], dtype=np.float32), nan=-np.inf)
            if clutter and tech in self.clutter:
                # a terminal loss: the same dB off the median and the quantile
                c = self.clutter[tech].data.astype(np.float32)
                lv = lv - c
                lq = None if lq is None else lq - c
            m_med, m_rel, pr = self._judge(tech, lv, lq, q)
            signal |= m_med >= 0
            np.maximum(margin, m_rel, out=margin)
            np.maximum(prob, pr, out=prob)
        return {"signal": signal, "reliable": margin >= 0, "margin": margin, "probability": prob}

    def _layers(self, power, groups, serving_tech) -> list[tuple[str, np.ndarray]]:
        if groups:
            return [(tech, grid) for (_, tech), grid in groups.items()]
        if serving_tech is None:
            return [("4G", power)]
        # serving_tech: (serving index grid, technology of each tower index)
        serving, techs = serving_tech
        techs = np.asarray(techs, dtype=str)
        out = []
        for tech in sorted(set(techs) & set(self.thresholds)):
            mine = np.isin(serving, np.flatnonzero(techs == tech))
            out.append((tech, np.where(mine, power, np.nan)))
        return out

    # -- words ---------------------------------------------------------------------------------
    def describe(self, lang: str) -> str:
        """The rule in one sentence of ``lang`` ("vi" | "en"), for the map and the report."""
        words = for_lang(RULE, lang)
        techs = self.technologies or self.present or _TECHS
        thr = ", ".join(f"{QUANTITY[t]} {format_dbm(self.thresholds[t], lang)} dBm" for t in techs)
        extra = []
        if self.indoor_margin_db > 0:
            extra.append(words["indoor"].format(m=format_float(self.indoor_margin_db, lang)))
        elif self.indoor:
            extra.append(words["indoor_p2109"].format(building=words[self.indoor]))
        if self.landcover:
            extra.append(words["clutter"])
        return words["rule"].format(
            thr=thr, indoor="".join(extra),
            p=format_pct(self.location_probability, lang, digits=0),
            share=format_pct(self.dead_share, lang, digits=0),
        )  # fmt: skip

    def itm_variability(self) -> dict[str, Any]:
        """How ITM's own location variability is used (``summary.json`` → ``rule``): NTIA ITM
        v1.4's mode of variability, the quantiles evaluated, and the σ it gives."""
        q = self.location_probability if self.location_probability > 0.5 else ITM_SIGMA_LOCATION
        return {
            "mdvar": int(ITM_DEFAULTS["mdvar"]),
            "mode": _MDVAR_MODES[int(ITM_DEFAULTS["mdvar"]) % 10],
            "time_pct": float(ITM_DEFAULTS["time"]),
            "situation_pct": float(ITM_DEFAULTS["situation"]),
            "location_pct": [50.0, round(100.0 * q, 4)],
            "sigma": "per cell: (level at 50 % − level at location_pct) / Q⁻¹(1 − q), ITM's "
                     "σ_L = 10 kΔh(d) / (kΔh(d) + 13) dB",
        }  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """The rule in full, for ``summary.json`` (``rule``)."""
        techs = list(self.technologies or self.present or _TECHS)
        return {
            "metric": {t: QUANTITY[t] for t in techs},
            "threshold_dbm": {t: self.thresholds[t] for t in techs},
            "location_probability": self.location_probability,
            "sigma_db": {t: round(float(self.sigma_db.get(t, 0.0)), 2) for t in techs},
            # σ_t and the fade margin stand for the closed-form models' location variability;
            # ITM uses its own (itm_variability)
            "fade_margin_db": {t: round(self.fade_margin(t), 2) for t in techs},
            "fade_margin_models": ["hata", "cost231", "fspl"],
            "itm_variability": self.itm_variability(),
            # which of the two judged this run: ITM's own per place, or the fade margin
            "model": self.model,
            "variability": "itm" if self.per_place else "fade_margin",
            "indoor": self.indoor if self.indoor_margin_db <= 0 else None,
            "indoor_margin_db": self.indoor_margin_db,
            "indoor_loss_db": {t: round(self.indoor_loss(t), 2) for t in techs},
            "indoor_sigma_db": {t: round(self.indoor_sigma(t), 2) for t in techs},
            "landcover": self.landcover,
            "technologies": techs,
            "dead_share": self.dead_share,
            "classes": list(CLASSES),
        }
