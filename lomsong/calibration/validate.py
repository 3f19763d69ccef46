"""Prediction against field evidence: walk-test levels and reported hamlets.

Interface (other stages rely on it)
-----------------------------------
``match_measurements(evidence, towers, *, terrain, rule, model="itm", rx_height_m=1.5,
params=None, calibration=None, villages=None) -> geopandas.GeoDataFrame``: one row per evidence
row, in order, in the project CRS (``terrain.crs``), the evidence columns kept, plus

- ``tower_id`` — the serving cell matched (None when none);
- ``matched_by`` — ``"cell_id"``, ``"best_server"`` or ``"none"`` (rules below);
- ``predicted_dbm`` — the matched cell's median outdoor level at the point, at receiver height,
  in its technology's own quantity (2G RxLev, 3G RSCP, 4G RSRP, 5G SS-RSRP:
  :mod:`lomsong.propagation.service`), the rule's land-cover clutter loss subtracted when it
  has one, ``calibration`` applied when given (NaN: no prediction — beyond the radius, off the
  terrain, or no cell matched);
- ``predicted_q_dbm`` — under ITM with a ``rule``, the same cell's level at the location
  quantile the coverage engine evaluates for the rule's location probability
  (:func:`lomsong.coverage.engine.itm_location_quantile`), clutter subtracted alike: ITM's own
  location variability at the point (NaN for the closed-form models, whose variability is the
  rule's fade margin);
- ``level_dbm`` — measured (NaN = no service), ``no_service`` (bool);
- ``residual_db`` = ``level_dbm − predicted_dbm`` (NaN for no service or no prediction);
- ``distance_km`` — from the matched cell to the point;
- ``village_id`` — the village containing the point (None outside every village, or without
  ``villages``);
- ``operator``, ``tech`` — as read.

Matching a measurement to its cell
----------------------------------
1. **Cell identity** (``matched_by = "cell_id"``). A tower's identities are its ``tower_id``
   and the ids in its columns :data:`TOWER_CELL_COLUMNS` (``cell_ids`` holds the cells an
   OpenCelliD unit was grouped from, space-separated; ``cell_id``/``cell``/``eci``/``ci`` a
   cell list's own id). Ids compare as text, numbers without leading zeros. A row whose
   ``cell_id`` is one of them, for the same operator and technology, is that tower's. Else
   the site its id names — LTE eNodeB (ECI ≫ 8), UMTS RNC + NodeB block, the rule of
   :func:`lomsong.layers.towers.cell_site_numbers` by which the OpenCelliD reader grouped the
   cells — is compared with the sites the towers' ids name: a row of a cell not in the list
   but of a listed eNodeB is that eNodeB's; among several of its cells (sectors), the one
   predicted strongest at the point.
2. **Best server** (``"best_server"``): otherwise the tower of the same operator and technology
   predicted strongest at the point (the phone camps on the strongest cell it may use). A row
   without operator takes every operator's towers of its technology.
3. ``"none"``: no tower of the operator and technology within the radius; and a neighbour
   cell's row (Tower Collector ``neighboring``) that its id does not match — a neighbour is
   by definition not the best server.

Operators compare without case and surrounding spaces.

Statistics and statuses
-----------------------
- **Residuals** (:func:`residual_stats`), per operator × technology and per tower, over the rows
  with a level and a prediction: ``n``; ``bias_db`` = mean of measured − predicted (> 0: the
  model is pessimistic there); ``std_db``, their sample standard deviation (ddof = 1; NaN for
  n < 2); ``rmse_db`` = √(mean of the squared residuals) = √(bias² + (n−1)/n · std²).
- **Observed status** of a village from its samples (:func:`observed_status`). A *sample* is a
  row inside the village, of a technology the rule counts, not a neighbour-cell row. It is
  *without signal* when it has no service or its level is below the rule's median signal
  threshold of its technology (:meth:`CoverageRule.signal_threshold`: threshold + indoor
  loss — measured outdoors, a level must clear what the rule asks of the outdoor median).
  With f the share of samples without signal, per village and operator:
  ``no_signal`` if f ≥ ``dead_share``; else ``weak`` if f > 1 − p (the measured location
  probability 1 − f is below the rule's p, so the village does not reach "reliable"); else
  ``ok``. At p = 0.5 and dead_share = 0.5 there is no weak class, as in the rule. Fewer than
  :data:`~lomsong.defaults.VALIDATION_MIN_SAMPLES` samples judge nothing (status ``""``).
  A village's status over all operators is the best of its operators' (the rule's "by any
  operator": a village has signal when some network serves it).
- **Predicted status at the samples** (per village and operator, for the confusion tables):
  the rule's village rule applied to the predicted levels at the same samples, each weighing
  one: no signal at a sample when its prediction is below the median signal threshold (or
  missing), not reliable when the rule does not cover it (:meth:`CoverageRule.covers`: under
  ITM with ITM's own variability from ``predicted_q_dbm``, as the grid judges the households;
  else the fade margin);
  ``no_signal`` when at least ``dead_share`` of the samples have no signal, ``weak`` when at
  least ``dead_share`` are not reliable, else ``reliable`` — the map's prediction where the
  phone was, like for like.
- **Agreement** of a prediction with evidence (``no_signal`` < ``weak`` < ``ok``/``reliable``):
  ``agreed`` when the classes are equal; ``missed`` when the evidence is darker than the
  prediction (reported dark, predicted covered: the map misses a problem); ``extra`` when the
  prediction is darker (predicted dark, reported fine). A reported hamlet whose name matches
  no single village is ``unmatched`` (:func:`lomsong.calibration.reports.match_reported`).

References
----------
3GPP TS 36.413 (eNodeB id in the ECI) and TS 25.401 (RNC id in the UTRAN cell id), through
:func:`lomsong.layers.towers.cell_site_numbers`; Tower Collector's ``neighboring`` flag
(:mod:`lomsong.calibration.evidence`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from lomsong.calibration.evidence import read_evidence
from lomsong.calibration.reports import match_reported, read_reported
from lomsong.coverage.deadzones import DeadZones
from lomsong.coverage.engine import itm_location_quantile, service_levels_points
from lomsong.coverage.rule import CLASSES, CoverageRule
from lomsong.coverage.types import CalibrationResult, Coverage
from lomsong.defaults import (
    ENVIRONMENT,
    MAX_RADIUS_KM,
    RX_HEIGHT_M,
    VALIDATION_MIN_SAMPLES,
    canonical_tech,
)
from lomsong.grid import Grid
from lomsong.layers._io import SPREADSHEET_SUFFIXES, TABLE_SUFFIXES, has_suffix, read_table
from lomsong.layers.crs import match_crs
from lomsong.layers.towers import cell_site_numbers

__all__ = [
    "TOWER_CELL_COLUMNS",
    "MATCHED_BY",
    "OBSERVED_CLASSES",
    "AGREEMENT",
    "CSV_COLUMNS",
    "match_measurements",
    "residual_stats",
    "observed_status",
    "predicted_at_samples",
    "agreement",
    "compare_reported",
    "confusion",
    "read_evidence_files",
    "EvidenceFiles",
    "Validation",
    "validate",
]

logger = logging.getLogger(__name__)

#: Tower columns holding a cell's identity besides ``tower_id`` (first found are all used).
TOWER_CELL_COLUMNS = ("cell_ids", "cell_id", "cell", "eci", "ci")
#: How a measurement was matched to its cell (module docstring).
MATCHED_BY = ("cell_id", "best_server", "none")
#: Observed and reported classes, worst first (the report's words).
OBSERVED_CLASSES = ("no_signal", "weak", "ok")
#: The outcomes of comparing a prediction with evidence.
AGREEMENT = ("agreed", "missed", "extra", "unmatched")
#: Columns of ``validation.csv``, in order (the issue's contract).
CSV_COLUMNS = ["village_id", "name", "predicted_status", "observed_status", "samples",
               "reported_status", "agreement"]  # fmt: skip

# a class's rank: observed/reported "ok" and predicted "reliable" are the same class
_RANK = {"no_signal": 0, "weak": 1, "ok": 2, "reliable": 2}
# columns match_measurements adds (an evidence frame that has them is overwritten)
_ADDED = ["tower_id", "matched_by", "predicted_dbm", "predicted_q_dbm", "residual_db",
          "distance_km", "village_id"]  # fmt: skip


# -- matching --------------------------------------------------------------------------------
def _norm_operator(values: Any) -> np.ndarray:
    return np.array([str(v).strip().casefold() if _present(v) else "" for v in values],
                    dtype=object)  # fmt: skip


def _present(v: Any) -> bool:
    if v is None:
        return False
    try:
        return not bool(pd.isna(v))
    except (TypeError, ValueError):
        return True


def _norm_id(value: Any) -> str:
    """A cell id as text: stripped, ``12.0`` → ``12``, digits without leading zeros."""
    if not _present(value):
        return ""
    text = str(value).strip()
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    return str(int(text)) if text.isdigit() else text


def _tech_of(values: Any) -> np.ndarray:
    out = []
    for v in values:
        t = canonical_tech(v) if _present(v) else None
        out.append(t or "")
    return np.array(out, dtype=object)


def _tower_identities(towers: pd.DataFrame) -> list[set[str]]:
    """Each tower's cell ids (normalised): its ``tower_id`` and :data:`TOWER_CELL_COLUMNS`."""
    cols = [c for c in TOWER_CELL_COLUMNS if c in towers.columns]
    out = []
    for i in range(len(towers)):
        ids = {_norm_id(towers["tower_id"].iloc[i])}
        for c in cols:
            value = towers[c].iloc[i]
            if _present(value):
                ids.update(_norm_id(v) for v in str(value).replace(",", " ").split())
        ids.discard("")
        out.append(ids)
    return out


def _site_of(tech: str, cell: str) -> int:
    if not cell.isdigit() or len(cell) > 10:
        return 0
    return int(cell_site_numbers(np.array([tech]), np.array([int(cell)]))[0])


class _TowerIndex:
    """Look-ups from (operator, technology, id or site) to tower positions."""

    def __init__(self, towers: pd.DataFrame) -> None:
        self.op = _norm_operator(towers["operator"]) if "operator" in towers else np.full(
            len(towers), "", dtype=object)  # fmt: skip
        self.tech = _tech_of(towers["tech"])
        self.by_cell: dict[tuple[str, str, str], list[int]] = {}
        self.by_site: dict[tuple[str, str, int], list[int]] = {}
        self.by_group: dict[tuple[str, str], list[int]] = {}
        for k, ids in enumerate(_tower_identities(towers)):
            op, tech = self.op[k], self.tech[k]
            self.by_group.setdefault((op, tech), []).append(k)
            self.by_group.setdefault(("", tech), []).append(k)  # a row without operator
            sites = set()
            for cid in ids:
                for o in {op, ""}:
                    self.by_cell.setdefault((o, tech, cid), []).append(k)
                site = _site_of(tech, cid)
                if site:
                    sites.add(site)
            for site in sites:
                for o in {op, ""}:
                    self.by_site.setdefault((o, tech, site), []).append(k)

    def candidates(self, op: str, tech: str, cell: str, neighbour: bool) -> tuple[str, list[int]]:
        """(matched_by, tower positions to evaluate) of one kind of row."""
        if cell:
            hit = self.by_cell.get((op, tech, cell))
            if hit:
                return "cell_id", sorted(set(hit))
            site = _site_of(tech, cell)
            hit = self.by_site.get((op, tech, site)) if site else None
            if hit:
                return "cell_id", sorted(set(hit))
        if neighbour:
            return "none", []
        group = self.by_group.get((op, tech), [])
        return ("best_server", sorted(set(group))) if group else ("none", [])


def _column(frame: pd.DataFrame, name: str, default: Any) -> pd.Series:
    if name in frame.columns:
        return frame[name]
    return pd.Series([default] * len(frame), index=frame.index, dtype=object)


def match_measurements(
    evidence: gpd.GeoDataFrame,
    towers: gpd.GeoDataFrame,
    *,
    terrain: Grid,
    rule: CoverageRule | None,
    model: str = "itm",
    rx_height_m: float = RX_HEIGHT_M,
    params: Mapping[str, Any] | None = None,
    calibration: CalibrationResult | None = None,
    villages: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Match each measurement to its serving cell and predict that cell's level there.

    See the module docstring for the columns added and the matching rules.

    Parameters
    ----------
    evidence
        Measurements from :func:`lomsong.calibration.evidence.read_evidence` (any CRS):
        ``level_dbm`` (dBm, NaN = no service), ``tech``, ``operator``, optionally
        ``cell_id``, ``no_service`` and ``neighboring``; Point geometry.
    towers
        The towers layer (``tower_id``, ``operator``, ``tech`` and the radio columns of
        :func:`lomsong.layers.towers.read_towers`), reprojected to the terrain's CRS if needed.
    terrain
        Elevation Grid (m) of the prediction, in the project CRS.
    rule
        The coverage rule: its land-cover clutter loss (per technology) is subtracted from the
        prediction; under ITM the level at its location quantile is predicted too
        (``predicted_q_dbm``). None: no clutter, the median only.
    model, rx_height_m
        Propagation model (:data:`lomsong.coverage.engine.RASTER_MODELS`) and receiver height
        (m), as the coverage was predicted.
    params
        The prediction's other parameters (``Coverage.params``): ``environment`` (Hata family)
        and ``max_radius_km`` (km); the defaults otherwise.
    calibration
        A fitted calibration, applied as :func:`~lomsong.coverage.engine.service_levels_points`
        applies it.
    villages
        Village polygons (``village_id``): each point gets the village containing it.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per evidence row, same order and index, in ``terrain.crs``.

    Notes
    -----
    Vectorised per tower: every (row, candidate cell) pair within the radius is gathered, and
    each tower's points are predicted in one :func:`service_levels_points` call (one
    point-to-point profile each; under ITM with a rule, ITM twice on it: the median and the
    quantile). A walk test with cell ids costs one profile per row; rows matched by best server
    one per tower of their operator and technology within the radius.
    """
    p = dict(params or {})
    environment = p.get("environment") or ENVIRONMENT
    max_radius_km = float(p.get("max_radius_km") or MAX_RADIUS_KM)
    crs = terrain.crs
    ev = match_crs(evidence, crs, "<evidence>") if len(evidence) else evidence.copy()
    if ev.crs is None:
        ev = ev.set_crs(crs)
    out = ev.drop(columns=[c for c in _ADDED if c in ev.columns]).copy()
    tw = match_crs(towers, crs, "<towers>").reset_index(drop=True) if len(towers) else towers
    n = len(out)
    x = out.geometry.x.to_numpy(dtype=float) if n else np.zeros(0)
    y = out.geometry.y.to_numpy(dtype=float) if n else np.zeros(0)
    level = pd.to_numeric(_column(out, "level_dbm", np.nan), errors="coerce").to_numpy(float)
    if "no_service" in out.columns:
        no_service = out["no_service"].fillna(False).to_numpy(dtype=bool)
    else:
        no_service = ~np.isfinite(level)
    op = _norm_operator(_column(out, "operator", ""))
    tech = _tech_of(_column(out, "tech", ""))
    cell = np.array([_norm_id(v) for v in _column(out, "cell_id", "")], dtype=object)
    neighbour = _column(out, "neighboring", False).fillna(False).astype(bool).to_numpy()

    tower_pos = np.full(n, -1, dtype=np.int64)
    matched_by = np.full(n, "none", dtype=object)
    predicted = np.full(n, np.nan)
    predicted_q = np.full(n, np.nan)
    p_loc = None if rule is None else rule.location_probability
    if n and len(tw):
        index = _TowerIndex(tw)
        tx = tw.geometry.x.to_numpy(dtype=float)
        ty = tw.geometry.y.to_numpy(dtype=float)
        # each kind of row (operator, technology, cell, neighbour) looked up once
        kinds = pd.DataFrame({"op": op, "tech": tech, "cell": cell, "nb": neighbour})
        codes, uniques = pd.factorize(pd.MultiIndex.from_frame(kinds))
        rows_of = pd.Series(np.arange(n)).groupby(codes).indices
        pair_rows, pair_towers = [], []
        for code, (k_op, k_tech, k_cell, k_nb) in enumerate(uniques):
            how, cands = index.candidates(k_op, k_tech, k_cell, bool(k_nb))
            rows = rows_of[code]
            matched_by[rows] = how
            if cands:
                pair_rows.append(np.repeat(rows, len(cands)))
                pair_towers.append(np.tile(np.asarray(cands, dtype=np.int64), len(rows)))
        if pair_rows:
            pr, pt = np.concatenate(pair_rows), np.concatenate(pair_towers)
            dist = np.hypot(x[pr] - tx[pt], y[pr] - ty[pt])
            power = np.full(len(pr), np.nan)
            power_q = np.full(len(pr), np.nan)
            near = dist <= max_radius_km * 1000.0
            opts = {"model": model, "environment": environment, "rx_height_m": rx_height_m,
                    "max_radius_km": max_radius_km, "calibration": calibration}  # fmt: skip
            idx = np.flatnonzero(near)
            by_tower = pd.Series(idx).groupby(pt[idx]).indices if len(idx) else {}
            for k, sel in by_tower.items():
                pairs = idx[sel]
                tower = tw.iloc[int(k)].to_dict()
                px, py = x[pr[pairs]], y[pr[pairs]]
                lv = service_levels_points(tower, terrain, px, py, location_probability=p_loc,
                                           **opts)  # fmt: skip
                if rule is not None:
                    lv = lv.minus(rule.clutter_at(index.tech[int(k)], px, py))
                power[pairs] = lv.level
                if lv.level_q is not None:
                    power_q[pairs] = lv.level_q
            # per row: its strongest candidate; without any prediction, its nearest
            score = np.where(np.isfinite(power), power, -np.inf)
            order = np.lexsort((dist, -score, pr))
            first = order[np.r_[True, pr[order][1:] != pr[order][:-1]]]
            tower_pos[pr[first]] = pt[first]
            predicted[pr[first]] = power[first]
            predicted_q[pr[first]] = power_q[first]
            # a best server needs a prediction: beyond every tower's reach there is none
            lost = (matched_by == "best_server") & ~np.isfinite(predicted)
            matched_by[lost] = "none"
            tower_pos[lost] = -1
    has = tower_pos >= 0
    tower_id = np.full(n, None, dtype=object)
    if has.any():
        tower_id[has] = tw["tower_id"].astype(str).to_numpy()[tower_pos[has]]
    out["tower_id"] = pd.Series(tower_id, index=out.index, dtype=object)
    out["matched_by"] = matched_by
    out["predicted_dbm"] = predicted
    out["predicted_q_dbm"] = predicted_q
    out["level_dbm"] = np.where(no_service, np.nan, level)
    out["no_service"] = no_service
    out["residual_db"] = np.where(no_service, np.nan, level - predicted)
    distance = np.full(n, np.nan)
    if has.any():
        k = tower_pos[has]
        distance[has] = np.hypot(x[has] - tw.geometry.x.to_numpy()[k],
                                 y[has] - tw.geometry.y.to_numpy()[k]) / 1000.0  # fmt: skip
    out["distance_km"] = distance
    out["village_id"] = pd.Series(_containing_village(x, y, villages, crs), index=out.index,
                                  dtype=object)  # fmt: skip
    out["operator"] = _column(out, "operator", "").to_numpy()
    out["tech"] = np.where(tech != "", tech, _column(out, "tech", "").astype(str).to_numpy())
    counts = pd.Series(matched_by).value_counts().to_dict()
    logger.info("matched %d measurements: %s", n, counts)
    return out


def _containing_village(
    x: np.ndarray, y: np.ndarray, villages: gpd.GeoDataFrame | None, crs: Any
) -> np.ndarray:
    """The ``village_id`` of the village containing each point (first of overlapping ones)."""
    out = np.full(len(x), None, dtype=object)
    if villages is None or not len(villages) or not len(x):
        return out
    v = match_crs(villages, crs, "<villages>")
    ok = v.geometry.notna().to_numpy() & ~v.geometry.is_empty.to_numpy()
    geoms = v.geometry.to_numpy()[ok]
    vids = v["village_id"].astype(str).to_numpy()[ok]
    tree = shapely.STRtree(geoms)
    pi, gi = tree.query(shapely.points(x, y), predicate="within")
    # the first village of each point (in the villages' order)
    order = np.lexsort((gi, pi))
    pi, gi = pi[order], gi[order]
    first = np.r_[True, pi[1:] != pi[:-1]] if len(pi) else np.zeros(0, dtype=bool)
    out[pi[first]] = vids[gi[first]]
    return out


# -- statistics ------------------------------------------------------------------------------
def residual_stats(matched: pd.DataFrame, by: Sequence[str] = ("operator", "tech")) -> pd.DataFrame:
    """Residual statistics of matched measurements per group.

    Parameters
    ----------
    matched
        Output of :func:`match_measurements` (``residual_db`` and the ``by`` columns).
    by
        Grouping columns: ``("operator", "tech")`` or ``("tower_id",)``.

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, then ``n``, ``bias_db`` (mean of measured − predicted, dB),
        ``std_db`` (sample standard deviation, ddof = 1; NaN when n < 2) and ``rmse_db``
        (√ mean of squares, dB); one row per group with at least one finite residual, sorted.
    """
    cols = list(by)
    r = pd.to_numeric(matched["residual_db"], errors="coerce") if len(matched) else pd.Series(
        [], dtype=float)  # fmt: skip
    ok = np.isfinite(r.to_numpy(dtype=float))
    frame = pd.DataFrame({c: matched[c].fillna("").astype(str).to_numpy()[ok] for c in cols})
    frame["r"] = r.to_numpy(dtype=float)[ok]
    frame["r2"] = frame["r"] ** 2
    if not len(frame):
        return pd.DataFrame(columns=[*cols, "n", "bias_db", "std_db", "rmse_db"])
    g = frame.groupby(cols, sort=True)
    out = pd.DataFrame({
        "n": g["r"].size(),
        "bias_db": g["r"].mean(),
        "std_db": g["r"].std(ddof=1),
        "rmse_db": np.sqrt(g["r2"].mean()),
    }).reset_index()  # fmt: skip
    out["n"] = out["n"].astype(np.int64)
    return out


def _samples(matched: pd.DataFrame, rule: CoverageRule) -> pd.DataFrame:
    """The rows that are samples of a village's signal (module docstring)."""
    if not len(matched):
        return matched.assign(_tech=[])
    tech = matched["tech"].astype(str).to_numpy()
    counted = np.array([t in rule.thresholds and rule.counts(t) for t in tech], dtype=bool)
    inside = matched["village_id"].notna().to_numpy()
    neighbour = (
        matched["neighboring"].fillna(False).astype(bool).to_numpy()
        if "neighboring" in matched.columns
        else np.zeros(len(matched), dtype=bool)
    )
    return matched[counted & inside & ~neighbour].assign(_tech=tech[counted & inside & ~neighbour])


def _below(levels: np.ndarray, techs: np.ndarray, threshold: Any) -> np.ndarray:
    """Bool: level below ``threshold(tech)`` or missing."""
    thr = np.array([threshold(t) for t in techs], dtype=float)
    lv = np.nan_to_num(np.asarray(levels, dtype=float), nan=-np.inf)
    return lv < thr


def _predicted_reliable(s: pd.DataFrame, techs: np.ndarray, rule: CoverageRule) -> np.ndarray:
    """Bool: is the prediction at each sample reliable by the rule (:meth:`CoverageRule.covers`)?
    Under ITM (finite ``predicted_q_dbm``) with ITM's own variability at the location quantile
    the engine evaluates for the rule's p, as on the grid; else with the fade margin."""
    pred = pd.to_numeric(s["predicted_dbm"], errors="coerce").to_numpy(float)
    pq = None
    if "predicted_q_dbm" in s.columns:
        pq = pd.to_numeric(s["predicted_q_dbm"], errors="coerce").to_numpy(float)
        pq = pq if np.isfinite(pq).any() else None
    q = itm_location_quantile(rule.location_probability)
    out = np.zeros(len(pred), dtype=bool)
    for t in np.unique(techs):
        sel = techs == t
        at_q = None if pq is None else (q, pq[sel])
        out[sel] = rule.covers(pred[sel], str(t), at_quantile=at_q)
    return out


def observed_status(
    matched: pd.DataFrame, rule: CoverageRule, *, min_samples: int = VALIDATION_MIN_SAMPLES
) -> pd.DataFrame:
    """Each village's status per operator as its samples measure it (module docstring).

    Parameters
    ----------
    matched
        Output of :func:`match_measurements` (with ``village_id``).
    rule
        The coverage rule: thresholds, counted technologies, ``dead_share`` and the location
        probability.
    min_samples
        Fewest samples that give a status.

    Returns
    -------
    pandas.DataFrame
        One row per (``village_id``, ``operator``) with samples: ``samples``,
        ``without_signal`` (samples without service or below the median signal threshold),
        ``share_without_signal``, ``observed_status`` (``no_signal`` | ``weak`` | ``ok``, ``""``
        with fewer than ``min_samples`` samples) and ``predicted_status`` (the rule at the
        same samples' predictions: :func:`predicted_at_samples`).
    """
    s = _samples(matched, rule)
    columns = ["village_id", "operator", "samples", "without_signal", "share_without_signal",
               "observed_status", "predicted_status"]  # fmt: skip
    if not len(s):
        return pd.DataFrame(columns=columns)
    techs = s["_tech"].to_numpy()
    dark = s["no_service"].to_numpy(bool) | _below(s["level_dbm"], techs, rule.signal_threshold)
    no_sig = _below(s["predicted_dbm"], techs, rule.signal_threshold)
    unreliable = ~_predicted_reliable(s, techs, rule)
    frame = pd.DataFrame({
        "village_id": s["village_id"].astype(str).to_numpy(),
        "operator": s["operator"].fillna("").astype(str).to_numpy(),
        "dark": dark, "no_sig": no_sig, "unreliable": unreliable,
    })  # fmt: skip
    g = frame.groupby(["village_id", "operator"], sort=True)
    out = pd.DataFrame({
        "samples": g.size(),
        "without_signal": g["dark"].sum(),
        "p_none": g["no_sig"].mean(),
        "p_unrel": g["unreliable"].mean(),
    }).reset_index()  # fmt: skip
    out["share_without_signal"] = out["without_signal"] / out["samples"]
    f = out["share_without_signal"].to_numpy(dtype=float)
    enough = out["samples"].to_numpy() >= min_samples
    # "more than 1 − p" without float noise: 1 − 0.9 is 0.09999999999999998
    fail = round(1.0 - rule.location_probability, 12)
    status = np.select([f >= rule.dead_share, f > fail], ["no_signal", "weak"],
                       "ok").astype(object)  # fmt: skip
    out["observed_status"] = np.where(enough, status, "")
    out["predicted_status"] = predicted_at_samples(out["p_none"], out["p_unrel"], rule)
    out["samples"] = out["samples"].astype(np.int64)
    out["without_signal"] = out["without_signal"].astype(np.int64)
    return out[columns]


def predicted_at_samples(share_no_signal: Any, share_unreliable: Any, rule: CoverageRule) -> Any:
    """The rule's village status from the shares of samples predicted without signal and
    not reliable (each sample weighing one): ``no_signal`` | ``weak`` | ``reliable``."""
    none = np.asarray(share_no_signal, dtype=float)
    unrel = np.asarray(share_unreliable, dtype=float)
    return np.select([none >= rule.dead_share, unrel >= rule.dead_share], ["no_signal", "weak"],
                     "reliable").astype(object)  # fmt: skip


def agreement(evidence_status: Any, predicted_status: Any) -> str:
    """``agreed`` | ``missed`` (evidence darker) | ``extra`` (prediction darker); ``""`` when
    either status is missing or unknown."""
    e, p = _RANK.get(str(evidence_status)), _RANK.get(str(predicted_status))
    if e is None or p is None:
        return ""
    return "agreed" if e == p else "missed" if e < p else "extra"


def _best(statuses: Sequence[str]) -> str:
    known = [s for s in statuses if s in _RANK]
    return max(known, key=_RANK.__getitem__) if known else ""


def _worst(statuses: Sequence[str]) -> str:
    known = [s for s in statuses if s in _RANK]
    return min(known, key=_RANK.__getitem__) if known else ""


def compare_reported(reported: pd.DataFrame, villages: pd.DataFrame) -> pd.DataFrame:
    """Reported hamlets against the predicted status of the villages they name.

    Parameters
    ----------
    reported
        From :func:`~lomsong.calibration.reports.read_reported` (``name``, ``status``,
        optionally ``commune``).
    villages
        ``village_id``, ``name``, ``commune`` and the predicted ``status`` (``dead_zones``).

    Returns
    -------
    pandas.DataFrame
        ``reported`` with :func:`~lomsong.calibration.reports.match_reported`'s columns,
        ``predicted_status`` (None when unmatched) and ``agreement`` (``agreed``, ``missed``,
        ``extra`` or ``unmatched``), every row kept in order.
    """
    matched = match_reported(reported, villages)
    status = dict(zip(villages["village_id"].astype(str), villages["status"].astype(str),
                      strict=True))  # fmt: skip
    pred = [status.get(v) if v is not None else None for v in matched["village_id"]]
    matched["predicted_status"] = pd.Series(pred, index=matched.index, dtype=object)
    matched["agreement"] = [
        agreement(r, p) if p is not None else "unmatched"
        for r, p in zip(matched["status"], pred, strict=True)
    ]
    return matched


def confusion(predicted: Any, observed: Any) -> pd.DataFrame:
    """Counts of predicted (rows: :data:`~lomsong.coverage.rule.CLASSES`) × observed
    (columns: :data:`OBSERVED_CLASSES`) statuses; pairs with an unknown status are left out."""
    table = pd.DataFrame(0, index=list(CLASSES), columns=list(OBSERVED_CLASSES), dtype=np.int64)
    for p, o in zip(predicted, observed, strict=True):
        if p in table.index and o in table.columns:
            table.loc[p, o] += 1
    return table


# -- evidence files --------------------------------------------------------------------------
@dataclass
class EvidenceFiles:
    """What :func:`read_evidence_files` read: the measurements (one frame, ``source`` = the
    file), the reported hamlets (one frame, ``source`` likewise) and every rejected row."""

    measurements: gpd.GeoDataFrame | None
    reported: pd.DataFrame | None
    rejects: list[dict] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # file → "measurements" | "reported"


def _is_report(path: Path) -> bool:
    """A table whose header has ``name`` and ``status``: a commune office's list."""
    if not has_suffix(path, TABLE_SUFFIXES + SPREADSHEET_SUFFIXES):
        return False
    header = {str(c).strip().lower() for c in read_table(path).columns}
    return {"name", "status"} <= header


def read_evidence_files(paths: Sequence[str | PathLike[str]], *, crs: Any = None) -> EvidenceFiles:
    """Read evidence files, telling reported-hamlet lists from measurement logs by header.

    A table whose header holds ``name`` and ``status`` is a list of reported hamlets
    (:func:`~lomsong.calibration.reports.read_reported`); anything else a measurement log
    (:func:`~lomsong.calibration.evidence.read_evidence`: Tower Collector, generic CSV or
    GeoPackage).

    Parameters
    ----------
    paths
        The files.
    crs
        CRS of the measurements' geometry (the project's); EPSG:4326 when None.

    Raises
    ------
    InputError
        A file that cannot be read, naming its problems (the first such file).
    """
    meas, reps, rejects, kinds = [], [], [], {}
    for path in paths:
        p = Path(path)
        if _is_report(p):
            frame = read_reported(p)
            frame.insert(0, "source", str(p))
            reps.append(frame)
            kinds[str(p)] = "reported"
        else:
            frame = read_evidence(p, crs=crs)
            rejects.extend(frame.attrs.get("rejects", []))
            frame.insert(0, "source", str(p))
            meas.append(frame)
            kinds[str(p)] = "measurements"
    measurements = None
    if meas:
        measurements = gpd.GeoDataFrame(pd.concat(meas, ignore_index=True), crs=meas[0].crs)
    reported = pd.concat(reps, ignore_index=True) if reps else None
    return EvidenceFiles(measurements, reported, rejects, kinds)


# -- the whole comparison --------------------------------------------------------------------
@dataclass
class Validation:
    """The prediction against the evidence (:func:`validate`).

    Attributes
    ----------
    measurements
        :func:`match_measurements`'s frame (empty without measurements).
    residuals
        :func:`residual_stats` per operator × technology.
    residuals_by_tower
        :func:`residual_stats` per tower (with the tower's operator and technology).
    observed
        :func:`observed_status` per village × operator.
    villages
        Per village (every village of the prediction, its geometry kept): :data:`CSV_COLUMNS`
        plus ``commune``, ``district``. ``observed_status`` is over all operators (the best),
        ``reported_status`` the worst reported for it, ``agreement`` compares the predicted
        status with the reported one where there is one, else with the observed one.
    hamlets
        :func:`compare_reported`'s frame (empty without reports).
    confusion
        ``"all"``: the villages' predicted status × observed status over all operators; one
        entry per operator: the status predicted at its samples × observed (tables of
        :func:`confusion`).
    rule
        The coverage rule the statuses were judged by.
    rejects
        Rows the evidence readers left out (``source``, ``row``, ``reason``).
    """

    measurements: gpd.GeoDataFrame
    residuals: pd.DataFrame
    residuals_by_tower: pd.DataFrame
    observed: pd.DataFrame
    villages: gpd.GeoDataFrame
    hamlets: pd.DataFrame
    confusion: dict[str, pd.DataFrame]
    rule: CoverageRule
    rejects: list[dict] = field(default_factory=list)
    min_samples: int = VALIDATION_MIN_SAMPLES

    def names(self, outcome: str) -> list[str]:
        """Reported hamlets of one outcome (``agreed`` | ``missed`` | ``extra`` |
        ``unmatched``), names as written in the report, in report order."""
        if not len(self.hamlets):
            return []
        return self.hamlets.loc[self.hamlets["agreement"] == outcome, "name"].astype(str).tolist()

    @property
    def agreed(self) -> list[str]:
        return self.names("agreed")

    @property
    def missed(self) -> list[str]:
        return self.names("missed")

    @property
    def extra(self) -> list[str]:
        return self.names("extra")

    @property
    def unmatched(self) -> list[str]:
        return self.names("unmatched")

    def table(self) -> pd.DataFrame:
        """``validation.csv``: :data:`CSV_COLUMNS`, one row per village."""
        return pd.DataFrame(self.villages[CSV_COLUMNS]).reset_index(drop=True)

    def summary(self) -> dict[str, Any]:
        """A few figures for ``summary.json``: samples, matched, villages observed, and the
        count of reported hamlets per outcome."""
        m = self.measurements
        return {
            "measurements": len(m),
            "with_residual": int(np.isfinite(m["residual_db"].to_numpy(float)).sum())
            if len(m)
            else 0,
            "villages_observed": int((self.villages["observed_status"] != "").sum()),
            "hamlets": {k: len(self.names(k)) for k in AGREEMENT},
        }

    def to_dict(self) -> dict[str, Any]:
        """``validation.json``: ``residuals`` keyed ``"operator/tech"`` (``bias_db``,
        ``std_db``, ``rmse_db``, ``n``), ``residuals_by_tower``, ``hamlets`` (``agreed``,
        ``missed``, ``extra``, ``unmatched``: names as written), ``confusion``
        (``[table][predicted][observed]`` counts), ``measurements`` (counts), the observed
        status rule and ``rejects``. NaN becomes null."""

        def stats(row: Any) -> dict[str, Any]:
            return {"bias_db": _num(row.bias_db), "std_db": _num(row.std_db),
                    "rmse_db": _num(row.rmse_db), "n": int(row.n)}  # fmt: skip

        m = self.measurements
        matched_by = m["matched_by"].value_counts().to_dict() if len(m) else {}
        return {
            "residuals": {
                f"{r.operator or '-'}/{r.tech}": stats(r) for r in self.residuals.itertuples()
            },  # fmt: skip
            "residuals_by_tower": {
                str(r.tower_id): {"operator": r.operator, "tech": r.tech, **stats(r)}
                for r in self.residuals_by_tower.itertuples()
            },
            "hamlets": {k: self.names(k) for k in AGREEMENT},
            "confusion": {
                name: {p: {o: int(t.loc[p, o]) for o in t.columns} for p in t.index}
                for name, t in self.confusion.items()
            },
            "measurements": {
                "n": len(m),
                "no_service": int(m["no_service"].sum()) if len(m) else 0,
                "matched_by": {k: int(matched_by.get(k, 0)) for k in MATCHED_BY},
                "with_residual": int(np.isfinite(m["residual_db"].to_numpy(float)).sum())
                if len(m)
                else 0,
                "in_villages": int(m["village_id"].notna().sum()) if len(m) else 0,
            },
            "villages": {
                "with_samples": int((self.villages["samples"] > 0).sum()),
                "with_observed_status": int((self.villages["observed_status"] != "").sum()),
                "with_reported_status": int((self.villages["reported_status"] != "").sum()),
            },
            "observed_rule": {
                "min_samples": self.min_samples,
                "dead_share": self.rule.dead_share,
                "location_probability": self.rule.location_probability,
                "signal_threshold_dbm": {
                    t: self.rule.signal_threshold(t)
                    for t in (self.rule.present or self.rule.thresholds)
                },
            },  # fmt: skip
            "rejects": [
                {"source": r.get("source"), "row": r.get("row"), "reason": r.get("reason")}
                for r in self.rejects
            ],  # fmt: skip
        }


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return round(f, 4) if math.isfinite(f) else None


def validate(
    measurements: gpd.GeoDataFrame | None = None,
    reported: pd.DataFrame | None = None,
    *,
    signal: Coverage,
    gaps: DeadZones,
    terrain: Grid,
    rejects: Sequence[dict] = (),
    min_samples: int = VALIDATION_MIN_SAMPLES,
) -> Validation:
    """Compare a run's prediction with walk-test measurements and reported hamlets.

    Parameters
    ----------
    measurements
        Walk-test rows (:func:`~lomsong.calibration.evidence.read_evidence`, several files
        concatenated); None: none.
    reported
        Reported hamlets (:func:`~lomsong.calibration.reports.read_reported`); None: none.
    signal
        The prediction (its towers, model, receiver height, parameters and calibration are
        used, so the measurements are predicted exactly as the map was).
    gaps
        The dead zones: the villages' predicted ``status`` and the coverage rule.
    terrain
        Elevation Grid (m) of the prediction.
    rejects
        The evidence readers' rejected rows, carried into the result.
    min_samples
        Fewest samples for an observed status.

    Returns
    -------
    Validation
    """
    rule = gaps.rule
    villages = gaps.villages
    params = {**signal.params, **{k: v for k, v in gaps.params.items() if k in
                                  ("environment", "max_radius_km")}}  # fmt: skip
    calibration = gaps.calibration if gaps.calibration is not None else signal.calibration
    if measurements is not None and len(measurements):
        matched = match_measurements(
            measurements, signal.towers, terrain=terrain, rule=rule, model=signal.model,
            rx_height_m=signal.rx_height_m, params=params, calibration=calibration,
            villages=villages,
        )  # fmt: skip
    else:
        matched = _empty_matched(terrain.crs)
    residuals = residual_stats(matched)
    by_tower = residual_stats(matched, by=("tower_id",))
    if len(by_tower):
        towers = signal.towers.drop_duplicates("tower_id").set_index(
            signal.towers.drop_duplicates("tower_id")["tower_id"].astype(str))  # fmt: skip
        for i, col in enumerate(("operator", "tech"), start=1):
            known = towers[col].astype(str).to_dict()
            by_tower.insert(i, col, [known.get(t, "") for t in by_tower["tower_id"]])
    observed = observed_status(matched, rule, min_samples=min_samples)

    hamlets = (compare_reported(reported, villages) if reported is not None and len(reported)
               else pd.DataFrame(columns=["name", "status", "village_id", "match",
                                          "predicted_status", "agreement"]))  # fmt: skip
    table = _village_table(villages, observed, hamlets)
    tables = {"all": confusion(table["predicted_status"], table["observed_status"])}
    for op, part in observed.groupby("operator", sort=True):
        tables[str(op) or "-"] = confusion(part["predicted_status"], part["observed_status"])
    return Validation(matched, residuals, by_tower, observed, table, hamlets, tables, rule,
                      list(rejects), min_samples)  # fmt: skip


def _empty_matched(crs: Any) -> gpd.GeoDataFrame:
    cols = {"level_dbm": float, "no_service": bool, "tech": object, "operator": object,
            "cell_id": object, "tower_id": object, "matched_by": object,
            "predicted_dbm": float, "predicted_q_dbm": float, "residual_db": float,
            "distance_km": float,
            "village_id": object}  # fmt: skip
    frame = pd.DataFrame({c: pd.Series([], dtype=t) for c, t in cols.items()})
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs=crs), crs=crs)


def _village_table(
    villages: gpd.GeoDataFrame, observed: pd.DataFrame, hamlets: pd.DataFrame
) -> gpd.GeoDataFrame:
    """Per village: predicted, observed (best over operators) and reported (worst) status."""
    v = villages.sort_values("village_id").reset_index(drop=True)
    vid = v["village_id"].astype(str)
    samples = observed.groupby("village_id")["samples"].sum() if len(observed) else pd.Series(
        dtype=np.int64)  # fmt: skip
    best = (observed.groupby("village_id")["observed_status"].agg(lambda s: _best(list(s)))
            if len(observed) else pd.Series(dtype=object))  # fmt: skip
    matched = hamlets[hamlets["agreement"] != "unmatched"] if len(hamlets) else hamlets
    worst = (matched.groupby(matched["village_id"].astype(str))["status"].agg(
        lambda s: _worst(list(s))) if len(matched) else pd.Series(dtype=object))  # fmt: skip

    def lookup(values: pd.Series, default: Any) -> np.ndarray:
        table = values.to_dict()
        return np.array([table.get(i, default) for i in vid], dtype=object)

    out = gpd.GeoDataFrame(
        {
            "village_id": vid.to_numpy(),
            "name": v["name"].to_numpy(),
            "commune": v["commune"].to_numpy() if "commune" in v else "",
            "district": v["district"].to_numpy() if "district" in v else "",
            "predicted_status": v["status"].astype(str).to_numpy(),
            "observed_status": lookup(best, ""),
            "samples": lookup(samples, 0).astype(np.int64),
            "reported_status": lookup(worst, ""),
        },
        geometry=v.geometry.to_numpy(),
        crs=v.crs,
    )
    out["agreement"] = [
        agreement(r if r else o, p)
        for r, o, p in zip(out["reported_status"], out["observed_status"],
                           out["predicted_status"], strict=True)
    ]  # fmt: skip
    return out[[*CSV_COLUMNS, "commune", "district", "geometry"]]
