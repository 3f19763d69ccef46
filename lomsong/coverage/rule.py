"""The coverage rule: when a household counts as covered. Built once, consulted by every stage.

Dead zones, explanations (margins), the siting coverage matrix, "which proposed site covers this
village", the map legend, the report and ``summary.json`` all read the same
:class:`CoverageRule`; none of them derives a threshold of its own.

Today's rule: a household is covered when some cell of technology *t* delivers, at receiver
height, a received power of at least ``threshold(t) = thresholds.get(t, threshold_dbm) +
indoor_margin_db`` (dBm); a village is dead when at least ``dead_share`` of its households are
uncovered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lomsong.defaults import (
    DEAD_SHARE,
    INDOOR_MARGIN_DB,
    TECH_ALIASES,
    TECH_DEFAULTS,
    THRESHOLD_DBM,
    canonical_tech,
)
from lomsong.text import RULE, for_lang, format_dbm, format_float, format_pct

__all__ = ["CoverageRule", "TECH_ALIASES", "canonical_tech"]

# TECH_ALIASES / canonical_tech live in lomsong.defaults (the project file is checked against
# them without importing coverage); re-exported here, where the rule applies them.


@dataclass(frozen=True)
class CoverageRule:
    """When a place counts as covered.

    Parameters
    ----------
    threshold_dbm
        Received power at receiver height that counts as covered, for every technology without
        its own threshold (dBm).
    thresholds
        Per-technology thresholds (dBm), keyed "2G" | "3G" | "4G" | "5G".
    indoor_margin_db
        Building-entry margin added to every threshold (dB, ≥ 0; 0 = outdoor coverage).
    dead_share
        A village is dead when at least this share of its households is uncovered (0–1].
    """

    threshold_dbm: float = THRESHOLD_DBM
    thresholds: Mapping[str, float] = field(default_factory=dict)
    indoor_margin_db: float = INDOOR_MARGIN_DB
    dead_share: float = DEAD_SHARE

    def __post_init__(self) -> None:
        bad = [k for k in self.thresholds if k not in TECH_DEFAULTS]
        if bad:
            known = ", ".join(TECH_DEFAULTS)
            raise ValueError(f"thresholds for unknown technologies {bad}: use {known}")
        if not 0.0 < self.dead_share <= 1.0:
            raise ValueError(f"dead_share must be in (0, 1], got {self.dead_share}")
        # a plain dict, copied: the rule is immutable and hashable by value
        object.__setattr__(self, "thresholds", dict(self.thresholds))

    @classmethod
    def from_config(cls, coverage: Any) -> CoverageRule:
        """The rule of a project file's ``[coverage]`` table (a ``CoverageConfig``)."""
        return cls(
            threshold_dbm=float(coverage.threshold_dbm),
            thresholds={canonical_tech(k) or k: float(v) for k, v in coverage.thresholds.items()},
            indoor_margin_db=float(coverage.indoor_margin_db),
            dead_share=float(coverage.dead_share),
        )

    @property
    def per_technology(self) -> bool:
        """True when technologies have thresholds of their own (the engine keeps one best-power
        grid per technology then)."""
        return bool(self.thresholds)

    def threshold(self, tech: str | None = None) -> float:
        """Received power (dBm) a cell of ``tech`` must deliver: its threshold + indoor margin."""
        base = self.threshold_dbm if tech is None else self.thresholds.get(tech, self.threshold_dbm)
        return float(base) + self.indoor_margin_db

    def margin_db(self, power_dbm: Any, tech: str | None = None) -> np.ndarray:
        """Power above the threshold of ``tech`` (dB; ≥ 0 covered, NaN where no power)."""
        return np.asarray(power_dbm, dtype=float) - self.threshold(tech)

    def covers(self, power_dbm: Any, tech: str | None = None) -> np.ndarray:
        """Bool: does ``power_dbm`` of a cell of ``tech`` reach the rule? NaN → False."""
        p = np.nan_to_num(np.asarray(power_dbm, dtype=float), nan=-np.inf)
        return p >= self.threshold(tech)

    def covered_grid(
        self, power: np.ndarray, groups: Mapping[tuple[str, str], np.ndarray]
    ) -> np.ndarray:
        """Bool grid: covered by any cell. ``power`` is the best-server grid; ``groups`` the best
        power per (operator, technology), needed when technologies have their own thresholds."""
        if not self.per_technology:
            return self.covers(power)
        if not groups:
            raise ValueError("per-technology thresholds need the best power per technology")
        out = np.zeros(np.shape(power), dtype=bool)
        for (_, tech), grid in groups.items():
            out |= self.covers(grid, tech)
        return out

    def describe(self, lang: str) -> str:
        """The rule in one sentence of ``lang`` ("vi" | "en"), for the map and the report."""
        words = for_lang(RULE, lang)

        def dbm(v: float) -> str:
            return f"{format_dbm(v, lang)} dBm"

        if self.thresholds:
            parts = [f"{t} {dbm(v)}" for t, v in sorted(self.thresholds.items())]
            parts.append(f"{words['other']} {dbm(self.threshold_dbm)}")
            thr = ", ".join(parts)
        else:
            thr = dbm(self.threshold_dbm)
        indoor = (words["indoor"].format(m=format_float(self.indoor_margin_db, lang))
                  if self.indoor_margin_db else "")  # fmt: skip
        return words["rule"].format(thr=thr, indoor=indoor,
                                    share=format_pct(self.dead_share, lang, digits=0))  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """The rule in full, for ``summary.json`` (``rule``), the legend and the report."""
        techs = sorted(set(TECH_DEFAULTS))
        return {
            "quantity": "received power at receiver height (total, dBm), median",
            "threshold_dbm": self.threshold_dbm,
            "thresholds_dbm": {t: self.threshold(t) for t in techs},
            "indoor_margin_db": self.indoor_margin_db,
            "dead_share": self.dead_share,
        }
