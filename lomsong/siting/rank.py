"""Rank candidate tower sites by the uncovered households they bring into coverage.

:func:`rank_sites` is the geographic glue around the optimisation models of
:mod:`lomsong.siting.mclp`: it checks each candidate's microwave backhaul
(:mod:`lomsong.siting.backhaul`), builds the candidates × uncovered households coverage matrix
(:func:`lomsong.siting.matrix.coverage_matrix`), solves it with :func:`greedy`, :func:`exact` or
:func:`set_cover` (with ``require_backhaul``: :func:`connected_greedy`, which chooses relay sites
as part of the plan), and turns the chosen rows back into a ranked table of sites whose backhaul
chains run through the plan itself. The models and their result types are importable from here
as well.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp

from lomsong.defaults import (
    BACKHAUL_FREQ_GHZ,
    BACKHAUL_MAX_HOP_KM,
    SITES,
    SITING_METHOD,
    SITING_METHODS,
    TARGET_SHARE,
    TIME_LIMIT_S,
)
from lomsong.errors import InputError
from lomsong.layers.crs import WGS84, match_crs
from lomsong.siting.backhaul import backhaul_graph, candidate_backhaul, relay_links
from lomsong.siting.matrix import CoverageMatrix, coverage_matrix
from lomsong.siting.mclp import (
    GreedyResult,
    Solution,
    connected_greedy,
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
    "connected_greedy",
    "exact",
    "lagrangian_bound",
    "set_cover",
    "reduce_demand",
    "rank_sites",
]

logger = logging.getLogger(__name__)

#: ``progress(description, total)`` returns an ``advance(done, total)`` callable (the pipeline's
#: progress-bar factory, :data:`lomsong.pipeline.Progress`).
ProgressFactory = Callable[[str, int], Callable[[int, int], None]]


def _bar(progress: ProgressFactory | None, description: str, total: int = 0
         ) -> Callable[[int, int], None] | None:  # fmt: skip
    """A new bar of the factory, or None without one."""
    return None if progress is None else progress(description, total)


# -- from geography to the matrix and back: the ranking table --------------------------------
def rank_sites(
    candidates: Any,
    gaps: Any,
    terrain: Any,
    *,
    sites: int = SITES,
    method: str = SITING_METHOD,
    towers: Any = None,
    require_backhaul: bool = False,
    time_limit_s: float = TIME_LIMIT_S,
    budget: float | None = None,
    target_share: float = TARGET_SHARE,
    backhaul_freq_ghz: float = BACKHAUL_FREQ_GHZ,
    backhaul_max_hop_km: float = BACKHAUL_MAX_HOP_KM,
    progress: ProgressFactory | None = None,
    matrix: CoverageMatrix | None = None,
) -> Any:
    """Rank candidate sites by the households each newly covers, best first.

    Each candidate is predicted at the uncovered household points with the engine that found
    the dead zones (:func:`lomsong.siting.matrix.coverage_matrix`); the maximal covering
    problem is then solved on that matrix, by :func:`greedy` (``method="greedy"``: each next
    site is the one that newly covers the most still-uncovered households), :func:`exact`
    (``"exact"``: the optimal k sites, or within a reported gap) or :func:`set_cover`
    (``"set_cover"``: the fewest sites reaching ``target_share``).

    Backhaul
    --------
    With ``towers`` each proposed site's microwave chain to the network is reported
    (``backhaul_via``): it runs through existing towers and the *sites of this plan* only — a
    candidate that is not proposed relays nothing. With ``require_backhaul`` every proposed site
    has such a chain:

    - ``greedy`` chooses relays as part of the plan (:func:`connected_greedy`): a site that
      reaches the network only through other candidates is proposed together with those relays
      when that pays (households per new site, or per cost with a budget). A relay is a proposed
      site like any other: it counts toward ``sites`` and ``budget`` and has its own row, before
      the site it serves, possibly with 0 new households.
    - ``exact`` and ``set_cover`` choose among the sites with a direct hop to a tower only (the
      MILPs carry no connectivity constraints).

    Parameters
    ----------
    candidates
        From :func:`lomsong.candidate_sites` or :func:`lomsong.read_candidates`.
    gaps
        A :class:`~lomsong.coverage.deadzones.DeadZones`.
    terrain
        Elevation Grid (m) of the project.
    sites
        Most sites to propose (k); with ``budget`` both hold: at most ``sites`` sites within the
        budget. Ignored by ``set_cover``.
    towers
        Existing towers: when given, each site's microwave backhaul is checked
        (:mod:`lomsong.siting.backhaul`).
    require_backhaul
        Every proposed site must reach the network (see Backhaul above).
    budget
        With a ``cost`` column on the candidates: most households within this total cost (and
        at most ``sites`` sites). Not with ``set_cover``.
    target_share
        ``method="set_cover"``: the fewest sites that reach this share of the uncovered
        households (``sites`` is then ignored).
    backhaul_freq_ghz, backhaul_max_hop_km
        Microwave link frequency (GHz) and longest hop (km) of the backhaul check.
    progress
        Progress-bar factory, ``progress(description, total)`` → ``advance(done, total)`` (the
        one :func:`lomsong.run` takes): a bar for the backhaul graph's site pairs, for the
        candidates' prediction (without ``matrix``) and for the exact MILP (households covered
        by the best site set found, of the proven upper bound: the bar is full when the gap is
        closed).
    matrix
        The candidates × uncovered households :class:`~lomsong.siting.matrix.CoverageMatrix`
        when the caller built it already (rows in ``candidates`` order), so that the ranking
        and what the caller reads from the matrix come from one prediction.

    Returns
    -------
    GeoDataFrame
        ``rank, site_id, lon, lat, new_households, cumulative_households, cumulative_share,
        villages_reached, backhaul_hops, backhaul_ok, backhaul_via`` (+ ``kind, elevation_m,
        height_m, village_names``), Point geometry in the project CRS. ``cumulative_share`` is
        the share of all uncovered households. ``backhaul_via``: the ids of the hops in order,
        ``" > "``-joined, ending at a tower (``"C0012 > S0005"``), ``""`` when none;
        ``backhaul_hops`` its length (−1 when none); ``backhaul_ok`` whether there is one.

    Raises
    ------
    InputError
        ``<budget>`` with ``set_cover``; ``<target_share>`` when no set of (eligible) sites
        reaches it.
    """
    if method not in SITING_METHODS:
        raise ValueError(f"method {method!r} is not one of {', '.join(SITING_METHODS)}")
    if budget is not None and method == "set_cover":
        raise InputError("<budget>", "set_cover finds the fewest sites for target_share and "
                         "takes no budget: use greedy or exact with a budget")  # fmt: skip
    # candidates and towers in another CRS are points: reprojected exactly to the terrain's
    cand = match_crs(candidates, terrain.crs, "<candidates>").reset_index(drop=True)
    ids = cand["site_id"].astype(str).to_numpy() if "site_id" in cand else np.zeros(0, str)
    G = None
    if towers is not None and len(cand) and len(towers):
        towers = match_crs(towers, terrain.crs, "<towers>")
        sites_t = towers.drop_duplicates("site_id")[["site_id", "height_m", "geometry"]]
        G = backhaul_graph(
            sites_t, cand[["site_id", "height_m", "geometry"]], terrain,
            freq_ghz=backhaul_freq_ghz, max_hop_km=backhaul_max_hop_km,
            progress=_bar(progress, "Backhaul line of sight"),
        )  # fmt: skip
    if matrix is None:
        matrix = coverage_matrix(
            cand, gaps, terrain, progress=_bar(progress, "Predicting candidates", len(cand))
        )
    elif matrix.cover.shape[0] != len(cand):
        raise ValueError(f"matrix has {matrix.cover.shape[0]} rows for {len(cand)} candidates")
    cover = matrix.cover
    if G is not None:
        direct, links = relay_links(G, ids)
    else:  # no towers: no backhaul anywhere
        direct, links = np.zeros(len(cand), dtype=bool), sp.csr_array((len(cand), len(cand)))
    costs = cand["cost"].to_numpy(dtype=float) if budget is not None else None
    k = min(int(sites), len(cand))
    solver: dict[str, Any] = {"method": method}
    relay_for = None
    if method in ("exact", "set_cover") and require_backhaul:
        # the MILPs carry no connectivity constraints: sites with a direct hop only
        cover = sp.csr_array(sp.diags(direct.astype(float)) @ cover)
        solver["backhaul"] = "direct"
    # set_cover runs even when no site covers anyone: an unreachable target is an error
    if method in ("exact", "set_cover") and len(cand) and (cover.nnz or method == "set_cover"):
        if method == "exact":
            bar = _bar(progress, "Exact siting: households covered / bound")
            sol = exact(cover, matrix.weights, k, costs=costs, budget=budget,
                        time_limit_s=time_limit_s, progress=bar)  # fmt: skip
        else:
            try:
                sol = set_cover(cover, matrix.weights, target_share, time_limit_s=time_limit_s)
            except InputError as exc:
                if not require_backhaul:
                    raise
                raise InputError(exc.path, exc.reason + " (require_backhaul: only the sites with "
                                 "a direct hop to a tower count)") from None  # fmt: skip
        chosen, gains = sol.chosen, sol.gains
        solver.update(status=sol.status, gap=sol.gap, greedy_ratio=sol.ratio,
                      time_s=sol.time_s, greedy_objective=sol.greedy_objective)  # fmt: skip
        logger.info("%s: %s, gap %.4f, greedy/optimal %.4f", method, sol.status, sol.gap,
                    sol.ratio)  # fmt: skip
    elif len(cand) and require_backhaul:
        res = connected_greedy(cover, matrix.weights, k, direct=direct, links=links, costs=costs,
                               budget=budget)  # fmt: skip
        chosen, gains, relay_for = res.chosen, res.gains, res.relay_for
        solver.update(rule=res.rule, backhaul="relays", relays=int((relay_for >= 0).sum()))
    elif len(cand):
        res = greedy(cover, matrix.weights, k, costs=costs, budget=budget)
        chosen, gains = res.chosen, res.gains
        solver["rule"] = res.rule
    else:
        chosen, gains = np.zeros(0, dtype=int), np.zeros(0)
    # a relay stays even when it covers no-one: the site after it needs it
    keep = gains > 0 if relay_for is None else np.ones(len(gains), dtype=bool)
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
    # the plan's own backhaul: chains through the towers and the proposed sites only
    if G is not None and len(out):
        bh = candidate_backhaul(G, built=ids[chosen]).reindex(ids[chosen])
        hops = bh["backhaul_hops"].fillna(-1).to_numpy(dtype=np.int64)
        via = bh["backhaul_via"].fillna("").to_numpy(dtype=object)
    else:
        hops, via = np.full(len(out), -1, dtype=np.int64), np.full(len(out), "", dtype=object)
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
            "backhaul_hops": hops,
            "backhaul_ok": hops >= 1,
            "backhaul_via": via,
            "kind": out["kind"].to_numpy() if "kind" in out else "",
            "elevation_m": out["elevation_m"].to_numpy() if "elevation_m" in out else np.nan,
            "height_m": out["height_m"].to_numpy(),
            "village_names": reached_names,
        }
    )
    ranking = gpd.GeoDataFrame(table, geometry=out.geometry.to_numpy(), crs=cand.crs)
    ranking.attrs["solver"] = solver
    return ranking
