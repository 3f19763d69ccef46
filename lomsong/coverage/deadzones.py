"""Dead zones: who has no signal, per household and per village."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio.features
import shapely
from scipy import ndimage

from lomsong.coverage.rule import CoverageRule
from lomsong.coverage.types import CalibrationResult, Coverage
from lomsong.defaults import DEAD_SHARE
from lomsong.errors import LomsongError
from lomsong.grid import Grid
from lomsong.layers.crs import match_crs
from lomsong.layers.households import match_to_census

__all__ = ["DeadZones", "dead_zones"]

logger = logging.getLogger(__name__)


@dataclass
class DeadZones:
    """Result of :func:`dead_zones`.

    Attributes
    ----------
    villages
        The villages with ``households, households_covered, households_uncovered,
        share_uncovered, dead`` (project CRS), sorted by households_uncovered descending.
        Each figure is the (rounded) sum of the village's household points' weights, so the
        villages add up to the totals of ``households``.
    zones
        Dead-zone polygons: ``zone_id, households, area_km2, villages, nearest_tower_km``.
    households
        Every household point with ``households`` (weight), ``village_id``,
        ``power_dbm`` and ``covered`` (bool).
    rule
        The coverage rule the households were judged by.
    params
        The prediction's model and parameters, so candidate sites are predicted alike.
    calibration
        The calibration the towers were predicted with (candidates and explanations apply it
        too).
    margin
        float32 Grid: the best margin over the rule's reliable threshold (dB; ≥ 0 reliable,
        −inf where no cell reaches; ``margin.tif``).
    """

    villages: gpd.GeoDataFrame
    zones: gpd.GeoDataFrame
    households: gpd.GeoDataFrame
    rule: CoverageRule
    params: dict = field(default_factory=dict)
    calibration: CalibrationResult | None = None
    margin: Grid | None = None

    @property
    def uncovered(self) -> gpd.GeoDataFrame:
        """Household points without coverage: the demand of site ranking."""
        return self.households[~self.households["covered"]]

    @property
    def dead(self) -> gpd.GeoDataFrame:
        """The dead villages, most uncovered households first: the list a province reports."""
        return self.villages[self.villages["dead"]]


def dead_zones(
    signal: Coverage,
    villages: gpd.GeoDataFrame,
    households: gpd.GeoDataFrame,
    *,
    rule: CoverageRule | None = None,
    threshold_dbm: float | None = None,
    thresholds: Mapping[str, float] | None = None,
    indoor_margin_db: float = 0.0,
    dead_share: float = DEAD_SHARE,
    by_operator: bool = False,
    min_zone_cells: int = 4,
) -> DeadZones:
    """Find households without signal or with weak signal, dead villages and dead-zone polygons.

    Each household point is judged in its cell by the rule
    (:class:`~lomsong.coverage.rule.CoverageRule`): *no signal* when no counted technology's
    median level reaches its threshold, *weak* when one does at the median but none at the
    location probability, *reliable* otherwise; ``covered`` = reliable (the demand of siting is
    every household not reliably covered). A village's ``status`` applies ``dead_share`` to its
    households; ``dead`` = status ``no_signal``. Dead-zone polygons are the 8-connected groups
    of cells not reliably covered inside villages that hold households, after sieving groups
    smaller than ``min_zone_cells``.

    Parameters
    ----------
    signal
        Output of :func:`predict`: levels in each technology's quantity. With ``groups=True``
        each technology is judged by its own best cell; without, each cell by its best server's
        technology (``by_operator`` needs the groups).
    villages, households
        From :func:`read_villages` and :func:`read_households`; reprojected to the signal's
        CRS when in another (the results are in the signal's CRS). The village figures count
        the points' weights: :func:`read_households` weights them to the census counts.
    rule
        The coverage rule. Without it, one is built from ``threshold_dbm`` (one threshold for
        every technology; None: the per-technology defaults), ``thresholds``,
        ``indoor_margin_db`` and ``dead_share``, judged at the median (a shortcut for
        notebooks; the pipeline passes the project's rule).
    by_operator
        Also count covered households per operator (``households_covered_<operator>``
        columns): coverage "by any operator" is the default, this shows each one's share.

    Returns
    -------
    DeadZones
    """
    if rule is None:
        rule = CoverageRule(threshold_dbm=threshold_dbm, thresholds=dict(thresholds or {}),
                            indoor_margin_db=indoor_margin_db, dead_share=dead_share)  # fmt: skip
    if by_operator and not signal.groups:
        raise LomsongError("by_operator needs predict(..., groups=True)")
    grid = signal.power
    # layers in another CRS (lon/lat, another UTM zone) are sampled on the signal's grid there
    villages = match_crs(villages, grid.crs, "<villages>")
    households = match_crs(households, grid.crs, "<households>")
    techs = signal.towers["tech"].astype(str).tolist() if "tech" in signal.towers else []
    # ITM: the best levels at the location quantile too (its own location variability)
    at_q = signal.at_quantile()
    judged = rule.margins(grid.data, signal.groups,
                          serving_tech=(signal.serving.data, techs) if techs else None,
                          at_quantile=at_q)  # fmt: skip
    hh = households.copy()
    # one unit for the whole run: the points of a village with a census count sum to it (the
    # points say where, the census how many) — read_households(villages=...) does it already;
    # points given otherwise are matched here by the same rule
    census = villages.set_index("village_id")["households"].astype(float)
    sums = hh.groupby("village_id")["households"].sum().reindex(census.index).fillna(0.0)
    if ((census > 0) & ((sums - census).abs() > 1e-6)).any():
        hh = match_to_census(hh, villages)
    x, y = hh.geometry.x.to_numpy(), hh.geometry.y.to_numpy()
    hh["power_dbm"] = grid.sample(x, y).astype(np.float32)
    hh["margin_db"] = grid.with_data(judged["margin"]).sample(x, y, fill=-np.inf)
    hh["signal"] = _sample_mask(grid, judged["signal"], x, y)
    hh["covered"] = _sample_mask(grid, judged["reliable"], x, y)
    hh["coverage_probability"] = grid.with_data(judged["probability"]).sample(x, y, fill=0.0)
    hh["status"] = np.select([~hh["signal"].to_numpy(), ~hh["covered"].to_numpy()],
                             ["no_signal", "weak"], "reliable")  # fmt: skip

    weight = hh["households"].to_numpy(dtype=float)
    sums = {"w": weight, "wc": weight * hh["covered"], "ws": weight * hh["signal"],
            "wp": weight * hh["coverage_probability"]}  # fmt: skip
    operators = sorted({op for op, _ in signal.groups}) if by_operator else []
    for op in operators:
        mine = {k: g for k, g in signal.groups.items() if k[0] == op}
        mine_q = (
            None
            if at_q is None
            else (at_q[0], at_q[1], {k: g for k, g in at_q[2].items() if k[0] == op})
        )
        reliable = rule.margins(grid.data, mine, at_quantile=mine_q)["reliable"]
        sums[f"op:{op}"] = weight * _sample_mask(grid, reliable, x, y)
    by_village = pd.DataFrame({"village_id": hh["village_id"], **sums}).groupby("village_id").sum()
    v = villages.copy()

    # Every village figure is a sum of its points' weights, as every total and ranking gain
    # is (the points of a village with a census count sum to it, see above).
    def col(name: str) -> np.ndarray:
        return v["village_id"].map(by_village[name]).fillna(0.0).to_numpy()

    total, covered, with_signal, expected = col("w"), col("wc"), col("ws"), col("wp")
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, (total - covered) / total, 0.0)
        share_none = np.where(total > 0, (total - with_signal) / total, 0.0)
        probability = np.where(total > 0, expected / total, np.nan)
    v["households"] = np.round(total).astype(np.int64)
    v["households_no_signal"] = np.round(total - with_signal).astype(np.int64)
    v["households_weak"] = np.round(total - covered).astype(np.int64) - v["households_no_signal"]
    v["households_uncovered"] = v["households_no_signal"] + v["households_weak"]
    v["households_covered"] = v["households"] - v["households_uncovered"]
    v["share_uncovered"] = share
    v["coverage_probability"] = probability
    v["households_expected_without_signal"] = np.round(total - expected, 1)
    has = total > 0
    none_dead = has & (share_none >= rule.dead_share)
    weak_dead = has & (share >= rule.dead_share)
    v["status"] = np.select([none_dead, weak_dead], ["no_signal", "weak"], "reliable")
    v["dead"] = v["status"].to_numpy() == "no_signal"
    for op in operators:
        v[f"households_covered_{op}"] = np.round(col(f"op:{op}")).astype(np.int64)
    v = v.sort_values(["households_uncovered", "village_id"], ascending=[False, True])

    covered_grid = judged["reliable"]
    zones = _zone_polygons(signal, v, hh, covered_grid, min_zone_cells)
    params = {"model": signal.model, "rx_height_m": signal.rx_height_m, **signal.params}
    return DeadZones(v.reset_index(drop=True), zones, hh, rule, params, signal.calibration,
                     grid.with_data(judged["margin"]))  # fmt: skip


def _sample_mask(grid: Grid, mask: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    rows, cols = grid.rowcol(x, y)
    ok = grid.inside(rows, cols)
    out = np.zeros(len(x), dtype=bool)
    out[ok] = mask[rows[ok], cols[ok]]
    return out


def _zone_polygons(
    signal: Coverage,
    villages: gpd.GeoDataFrame,
    hh: gpd.GeoDataFrame,
    covered_grid: np.ndarray,
    min_zone_cells: int,
) -> gpd.GeoDataFrame:
    grid = signal.power
    shape = grid.shape
    inhabited = rasterio.features.rasterize(
        ((g, 1) for g in villages.geometry if g is not None and not g.is_empty),
        out_shape=shape, transform=grid.transform, fill=0, dtype=np.uint8,
    )  # fmt: skip
    uncovered = ~covered_grid & (inhabited == 1)
    labels, n = ndimage.label(uncovered, structure=np.ones((3, 3), dtype=bool))
    columns = ["zone_id", "households", "area_km2", "villages", "nearest_tower_km", "geometry"]
    empty = gpd.GeoDataFrame(columns=columns, geometry="geometry", crs=grid.crs)
    if n == 0:
        return empty
    counts = np.bincount(labels.ravel(), minlength=n + 1)
    # households per component
    unc = hh[~hh["covered"]]
    r, c = grid.rowcol(unc.geometry.x.to_numpy(), unc.geometry.y.to_numpy())
    ok = grid.inside(r, c)
    lab = np.zeros(len(unc), dtype=np.int64)
    lab[ok] = labels[r[ok], c[ok]]
    per_zone = np.bincount(lab, weights=unc["households"].to_numpy(dtype=float), minlength=n + 1)
    keep = (per_zone > 0) & (counts >= min_zone_cells)
    keep[0] = False
    if not keep.any():
        return empty
    mask = keep[labels]
    shapes = rasterio.features.shapes(
        labels.astype(np.int32), mask=mask, transform=grid.transform, connectivity=8
    )
    geoms: dict[int, list] = {}
    for geom, value in shapes:
        geoms.setdefault(int(value), []).append(shapely.geometry.shape(geom))
    ids = sorted(geoms)
    polys = [shapely.union_all(geoms[i]) for i in ids]
    zones = gpd.GeoDataFrame(
        {
            "households": np.round(per_zone[ids]).astype(np.int64),
            "area_km2": counts[ids] * grid.res**2 / 1e6,
        },
        geometry=polys,
        crs=grid.crs,
    )
    tree = shapely.STRtree(villages.geometry.values)
    zi, vi = tree.query(zones.geometry.values, predicate="intersects")
    names = villages["village_id"].to_numpy()
    touched = pd.Series(names[vi]).groupby(zi).agg(lambda s: ",".join(sorted(set(s))))
    zones["villages"] = [touched.get(i, "") for i in range(len(zones))]
    towers = signal.towers
    if len(towers):
        # nearest tower to any point of the zone, through a tree (a distance to every tower
        # from every zone took a second at a province's thousand towers)
        tower_tree = shapely.STRtree(towers.geometry.values)
        (zi, ti), dist = tower_tree.query_nearest(
            zones.geometry.values, return_distance=True, all_matches=False
        )
        nearest = np.full(len(zones), np.nan)
        nearest[zi] = dist
        zones["nearest_tower_km"] = nearest / 1000.0
    else:
        zones["nearest_tower_km"] = np.nan
    zones = zones.sort_values("households", ascending=False).reset_index(drop=True)
    zones.insert(0, "zone_id", [f"Z{i + 1:03d}" for i in range(len(zones))])
    return zones[columns]
