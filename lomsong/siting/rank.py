"""Rank candidate tower sites by the uncovered households they bring into coverage.

:func:`rank_sites` is the geographic glue around the optimisation models of
:mod:`lomsong.siting.mclp`: it checks each candidate's microwave backhaul
(:mod:`lomsong.siting.backhaul`), builds the candidates × uncovered households coverage matrix
(:func:`lomsong.siting.matrix.coverage_matrix`), solves it with :func:`greedy`, :func:`exact` or
:func:`set_cover`, and turns the chosen rows back into a ranked table of sites. The models and
their result types are importable from here as well.
"""

from __future__ import annotations

import logging
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp

from lomsong.layers.crs import WGS84
from lomsong.siting.backhaul import backhaul_graph, candidate_backhaul
from lomsong.siting.matrix import CoverageMatrix, coverage_matrix
from lomsong.siting.mclp import (
    GreedyResult,
    Solution,
    exact,
    greedy,
    lagrangian_bound,
    reduce_demand,
    set_cover,
)

__all__ = [
    "GreedyResult",
    "Solution",
    "greedy",
    "exact",
    "lagrangian_bound",
    "set_cover",
    "reduce_demand",
    "rank_sites",
]

logger = logging.getLogger(__name__)


# -- from geography to the matrix and back: the ranking table --------------------------------
def rank_sites(
    candidates: Any,
    gaps: Any,
    terrain: Any,
    *,
    sites: int = 10,
    method: str = "greedy",
    towers: Any = None,
    require_backhaul: bool = False,
    time_limit_s: float = 60.0,
    budget: float | None = None,
    target_share: float = 0.9,
    backhaul_freq_ghz: float = 7.0,
    backhaul_max_hop_km: float = 20.0,
    progress: Any = None,
    matrix: CoverageMatrix | None = None,
) -> Any:
    """Rank candidate sites by the households each newly covers, best first.

    Each candidate is predicted at the uncovered household points with the engine that found
    the dead zones (:func:`lomsong.siting.matrix.coverage_matrix`); the maximal covering
    problem is then solved on that matrix, by :func:`greedy` (``method="greedy"``: each next
    site is the one that newly covers the most still-uncovered households), :func:`exact`
    (``"exact"``: the optimal k sites, or within a reported gap) or :func:`set_cover`
    (``"set_cover"``: the fewest sites reaching ``target_share``).

    Parameters
    ----------
    candidates
        From :func:`lomsong.candidate_sites` or :func:`lomsong.read_candidates`.
    gaps
        A :class:`~lomsong.coverage.deadzones.DeadZones`.
    terrain
        Elevation Grid (m) of the project.
    sites
        Number of sites to propose (k).
    towers
        Existing towers: when given, each site's microwave backhaul is checked
        (:mod:`lomsong.siting.backhaul`).
    require_backhaul
        Only candidates with backhaul to the existing network may be chosen.
    budget
        With a ``cost`` column on the candidates: most households within this budget.
    target_share
        ``method="set_cover"``: the fewest sites that reach this share of the uncovered
        households (``sites`` is then ignored).
    matrix
        The candidates × uncovered households :class:`~lomsong.siting.matrix.CoverageMatrix`
        when the caller built it already (rows in ``candidates`` order), so that the ranking
        and what the caller reads from the matrix come from one prediction.

    Returns
    -------
    GeoDataFrame
        ``rank, site_id, lon, lat, new_households, cumulative_households, cumulative_share,
        villages_reached, backhaul_hops, backhaul_ok`` (+ ``kind, elevation_m, height_m,
        village_names``), Point geometry in the project CRS. ``cumulative_share`` is the share
        of all uncovered households.
    """
    if method not in ("greedy", "exact", "set_cover"):
        raise ValueError(f"method {method!r} is not one of greedy, exact, set_cover")
    cand = candidates.reset_index(drop=True)
    if towers is not None and len(cand) and len(towers):
        sites_t = towers.drop_duplicates("site_id")[["site_id", "height_m", "geometry"]]
        G = backhaul_graph(
            sites_t, cand[["site_id", "height_m", "geometry"]], terrain,
            freq_ghz=backhaul_freq_ghz, max_hop_km=backhaul_max_hop_km,
        )  # fmt: skip
        bh = candidate_backhaul(G).reindex(cand["site_id"].astype(str))
        cand["backhaul_hops"] = bh["backhaul_hops"].fillna(-1).astype(np.int64).to_numpy()
        cand["backhaul_ok"] = bh["backhaul_ok"].fillna(False).astype(bool).to_numpy()
    else:
        cand["backhaul_hops"] = -1
        cand["backhaul_ok"] = False
    if matrix is None:
        matrix = coverage_matrix(cand, gaps, terrain, progress=progress)
    elif matrix.cover.shape[0] != len(cand):
        raise ValueError(f"matrix has {matrix.cover.shape[0]} rows for {len(cand)} candidates")
    cover = matrix.cover
    if require_backhaul:
        cover = sp.csr_array(sp.diags(cand["backhaul_ok"].to_numpy(dtype=float)) @ cover)
    costs = cand["cost"].to_numpy(dtype=float) if budget is not None else None
    k = min(int(sites), len(cand))
    solver: dict[str, Any] = {"method": method}
    if method in ("exact", "set_cover") and len(cand) and cover.nnz:
        if method == "exact":
            sol = exact(cover, matrix.weights, None if budget is not None else k,
                        costs=costs, budget=budget, time_limit_s=time_limit_s)  # fmt: skip
        else:
            sol = set_cover(cover, matrix.weights, target_share, time_limit_s=time_limit_s)
        chosen, gains = sol.chosen, sol.gains
        solver.update(status=sol.status, gap=sol.gap, greedy_ratio=sol.ratio,
                      time_s=sol.time_s, greedy_objective=sol.greedy_objective)  # fmt: skip
        logger.info("%s: %s, gap %.4f, greedy/optimal %.4f", method, sol.status, sol.gap,
                    sol.ratio)  # fmt: skip
    elif len(cand):
        res = greedy(cover, matrix.weights, None if budget is not None else k, costs=costs,
                     budget=budget)  # fmt: skip
        chosen, gains = res.chosen, res.gains
        solver["rule"] = res.rule
    else:
        chosen, gains = np.zeros(0, dtype=int), np.zeros(0)
    keep = gains > 0
    chosen, gains = np.asarray(chosen)[keep], np.asarray(gains)[keep]
    total_unc = float(matrix.weights.sum())
    village_of = matrix.demand["village_id"].to_numpy()
    vnames = gaps.villages.set_index("village_id")["name"]
    covered = np.zeros(cover.shape[1], dtype=bool)
    reached_n, reached_names = [], []
    for i in chosen:
        cols = cover[[i], :].indices
        new = cols[~covered[cols]]
        covered[new] = True
        vids = sorted(set(village_of[new]) - {""})
        reached_n.append(len(vids))
        reached_names.append("; ".join(str(vnames.get(v, v)) for v in vids))
    out = cand.iloc[chosen].copy() if len(chosen) else cand.iloc[0:0].copy()
    ll = out.geometry.to_crs(WGS84)
    cum = np.cumsum(gains)
    table = pd.DataFrame(
        {
            "rank": np.arange(1, len(out) + 1),
            "site_id": out["site_id"].astype(str).to_numpy(),
            "lon": ll.x.to_numpy(),
            "lat": ll.y.to_numpy(),
            "new_households": np.round(gains).astype(np.int64),
            "cumulative_households": np.round(cum).astype(np.int64),
            "cumulative_share": cum / total_unc if total_unc > 0 else np.zeros(len(out)),
            "villages_reached": np.asarray(reached_n, dtype=np.int64),
            "backhaul_hops": out["backhaul_hops"].to_numpy(dtype=np.int64),
            "backhaul_ok": out["backhaul_ok"].to_numpy(dtype=bool),
            "kind": out["kind"].to_numpy() if "kind" in out else "",
            "elevation_m": out["elevation_m"].to_numpy() if "elevation_m" in out else np.nan,
            "height_m": out["height_m"].to_numpy(),
            "village_names": reached_names,
        }
    )
    ranking = gpd.GeoDataFrame(table, geometry=out.geometry.to_numpy(), crs=cand.crs)
    ranking.attrs["solver"] = solver
    return ranking
