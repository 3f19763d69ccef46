"""Which uncovered households each candidate site would reach: the sparse coverage matrix."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.spatial import cKDTree

from lomsong.coverage.engine import PointLevels, service_levels_points
from lomsong.coverage.rule import CoverageRule
from lomsong.grid import Grid
from lomsong.layers.crs import match_crs

__all__ = ["CoverageMatrix", "coverage_matrix", "covered_by_site", "COVER_SHARE"]

logger = logging.getLogger(__name__)

#: A site "covers" a village when it alone reaches at least this share of the village's
#: uncovered households (by weight).
COVER_SHARE = 0.5


@dataclass(frozen=True)
class CoverageMatrix:
    """Candidates × uncovered household points.

    Attributes
    ----------
    cover
        csr bool (n_candidates, n_demand): True where the candidate's predicted level at the
        demand point is reliable by the dead zones' rule (:meth:`CoverageRule.covers`; under
        ITM with ITM's own location variability at that point, as the grid judges it). Only
        households not covered today are columns, so every entry is a household *newly*
        covered.
    power
        csr float32 of the same pattern: predicted median level (dBm, in the candidate's
        technology's quantity, clutter subtracted) where covered.
    weights
        Households at each demand point.
    demand
        The demand points (uncovered households), in column order.
    """

    cover: sp.csr_array
    power: sp.csr_array
    weights: np.ndarray
    demand: gpd.GeoDataFrame


def coverage_matrix(
    candidates: gpd.GeoDataFrame,
    gaps,
    terrain: Grid,
    *,
    model: str | None = None,
    environment: str | None = None,
    rx_height_m: float | None = None,
    max_radius_km: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> CoverageMatrix:
    """Predict each candidate at the uncovered household points with the towers' engine.

    Model options default to those the dead zones were computed with (``gaps.params``), so
    candidates are predicted exactly like existing towers (omni antennas at ``height_m``), and
    judged by the dead zones' rule with the same criterion: under ITM each household's level at
    the median and at the location quantile (:func:`service_levels_points`), the rule's σ from
    their difference; under the closed-form models the rule's fade margin.

    Notes
    -----
    Cost: one terrain profile per (candidate, demand point) pair within ``max_radius_km``,
    ≈ a few µs each on two cores; under ITM one point-to-point evaluation at the median, and
    where that gives signal two more (the median and the location quantile, one evaluation
    each: the point kernel takes one location per call).
    """
    p = gaps.params
    model = model or p.get("model", "hata")
    environment = environment or p.get("environment", "suburban")
    rx_height_m = rx_height_m if rx_height_m is not None else p.get("rx_height_m", 1.5)
    max_radius_km = max_radius_km if max_radius_km is not None else p.get("max_radius_km", 30.0)
    rule = gaps.rule  # the dead zones' own rule: a candidate covers what a tower would
    # points in another CRS than the terrain's are reprojected exactly to it
    demand = match_crs(gaps.uncovered, terrain.crs, "<households>").reset_index(drop=True)
    weights = demand["households"].to_numpy(dtype=float)
    n_c, n_d = len(candidates), len(demand)
    dx = demand.geometry.x.to_numpy()
    dy = demand.geometry.y.to_numpy()
    tree = cKDTree(np.column_stack([dx, dy])) if n_d else None
    rows, cols, vals = [], [], []
    opts = {"model": model, "environment": environment, "rx_height_m": rx_height_m,
            "max_radius_km": max_radius_km, "calibration": gaps.calibration}  # fmt: skip
    cand = match_crs(candidates, terrain.crs, "<candidates>").reset_index(drop=True)
    for i, site in enumerate(cand.to_dict("records")):
        if tree is not None:
            x, y = site["geometry"].x, site["geometry"].y
            near = np.asarray(tree.query_ball_point([x, y], max_radius_km * 1000.0), dtype=int)
            if len(near):
                tech = str(site.get("tech", ""))
                median = _site_levels(site, terrain, dx[near], dy[near], rule, opts)
                level, at_q = median.level, None
                if model == "itm":
                    # under ITM at the dead zones' location quantile too, so the rule reads
                    # ITM's own variability at each household as on the grid — only where the
                    # median gives signal: the rule covers no point without it, whatever σ
                    near = near[rule.has_signal(median.level, tech)]
                    both = _site_levels(
                        site,
                        terrain,
                        dx[near],
                        dy[near],
                        rule,
                        opts,
                        location_probability=rule.location_probability,
                    )
                    level, at_q = both.level, both.at_quantile
                hit = rule.covers(level, tech, at_quantile=at_q)
                rows.append(np.full(hit.sum(), i))
                cols.append(near[hit])
                vals.append(level[hit])
        if progress is not None:
            progress(i + 1, n_c)
    r = np.concatenate(rows) if rows else np.zeros(0, dtype=int)
    c = np.concatenate(cols) if cols else np.zeros(0, dtype=int)
    v = np.concatenate(vals) if vals else np.zeros(0)
    power = sp.csr_array((v.astype(np.float32), (r, c)), shape=(n_c, n_d))
    cover = sp.csr_array((np.ones(len(r), dtype=bool), (r, c)), shape=(n_c, n_d))
    logger.info("coverage matrix: %d candidates × %d demand points, %d entries", n_c, n_d, len(r))
    return CoverageMatrix(cover, power, weights, demand)


def _site_levels(
    site: dict, terrain: Grid, x: np.ndarray, y: np.ndarray, rule: CoverageRule, opts: dict,
    *, location_probability: float | None = None,
) -> PointLevels:  # fmt: skip
    """A candidate's levels at points: an omni antenna at the site, predicted (and calibrated)
    like the towers, the rule's terminal clutter at the receiver subtracted."""
    levels = service_levels_points({**site, "azimuth_deg": np.nan}, terrain, x, y,
                                   location_probability=location_probability, **opts)  # fmt: skip
    return levels.minus(rule.clutter_at(str(site.get("tech", "")), x, y))


def covered_by_site(
    village_ids: Sequence[str] | np.ndarray,
    demand_village_ids: Sequence[str] | np.ndarray,
    demand_weights: Sequence[float] | np.ndarray,
    cover_ranked: Any,
    *,
    ranks: Sequence[int] | np.ndarray | None = None,
    min_share: float = COVER_SHARE,
) -> pd.arrays.IntegerArray:
    """Rank of the first ranked site that covers each village (NA when none does).

    A site covers a village when it reaches at least ``min_share`` of the village's uncovered
    households (by weight) on its own — whatever the sites ranked before it cover.

    Parameters
    ----------
    village_ids
        The villages to answer for (e.g. the villages table's ``village_id``).
    demand_village_ids, demand_weights
        Village and households of each demand point (uncovered household), column order of
        ``cover_ranked``.
    cover_ranked
        Bool matrix (dense or scipy.sparse), ``(n_ranked, n_demand)``: row r is the ranked site
        ``ranks[r]`` (default r + 1). From ``rank_sites``: ``matrix.cover[chosen]``.
    ranks
        Rank of each row (default 1, 2, …).
    min_share
        Share of the village's uncovered households that counts as covering it (0–1].

    Returns
    -------
    pandas IntegerArray (Int64)
        One rank per ``village_ids`` entry; NA for villages no ranked site covers (and for
        villages without uncovered households).
    """
    vids = np.asarray(village_ids).astype(str)
    dv = np.asarray(demand_village_ids).astype(str)
    w = np.asarray(demand_weights, dtype=float)
    cover = sp.csr_array(cover_ranked, dtype=float) if not sp.issparse(cover_ranked) else (
        sp.csr_array(cover_ranked).astype(float))  # fmt: skip
    n_sites = cover.shape[0]
    rk = np.arange(1, n_sites + 1) if ranks is None else np.asarray(ranks, dtype=np.int64)
    out = pd.array([None] * len(vids), dtype="Int64")
    if n_sites == 0 or len(dv) == 0:
        return out
    codes, uniq = pd.factorize(dv)
    # village indicator (demand × villages), weighted: covered households per site and village
    ind = sp.csr_array((w, (np.arange(len(dv)), codes)), shape=(len(dv), len(uniq)))
    per = (cover @ ind).toarray()  # sites × villages
    total = np.bincount(codes, weights=w, minlength=len(uniq))
    ok = per >= min_share * total[None, :] - 1e-9
    ok &= total[None, :] > 0
    first = np.where(ok.any(axis=0), ok.argmax(axis=0), -1)
    pos = pd.Index(uniq).get_indexer(vids)
    for a, b in enumerate(pos):
        if b >= 0 and first[b] >= 0:
            out[a] = int(rk[first[b]])
    return out
