"""Which uncovered households each candidate site would reach: the sparse coverage matrix."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

from lomsong.coverage.predict import path_loss_points
from lomsong.grid import Grid

__all__ = ["CoverageMatrix", "coverage_matrix"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CoverageMatrix:
    """Candidates × uncovered household points.

    Attributes
    ----------
    cover
        csr bool (n_candidates, n_demand): True where the candidate's predicted power at the
        demand point reaches the threshold. Only households not covered today are columns, so
        every entry is a household *newly* covered.
    power
        csr float32 of the same pattern: predicted power (dBm) where covered.
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
    threshold_dbm: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> CoverageMatrix:
    """Predict each candidate at the uncovered household points with the towers' engine.

    Model options default to those the dead zones were computed with (``gaps.params``), so
    candidates are predicted exactly like existing towers (omni antennas at ``height_m``).

    Notes
    -----
    Cost: one terrain profile per (candidate, demand point) pair within the radius at which the
    model's distance loss alone still reaches the threshold, ≈ a few µs each on two cores.
    """
    p = gaps.params
    model = model or p.get("model", "hata")
    environment = environment or p.get("environment", "suburban")
    rx_height_m = rx_height_m if rx_height_m is not None else p.get("rx_height_m", 1.5)
    max_radius_km = max_radius_km if max_radius_km is not None else p.get("max_radius_km", 30.0)
    threshold = gaps.threshold_dbm if threshold_dbm is None else threshold_dbm
    # the dead zones' own rule: per-technology thresholds plus the indoor margin
    p_thr = dict(p.get("thresholds") or {})
    margin = float(p.get("indoor_margin_db", 0.0))
    demand = gaps.uncovered.reset_index(drop=True)
    weights = demand["households"].to_numpy(dtype=float)
    n_c, n_d = len(candidates), len(demand)
    dx = demand.geometry.x.to_numpy()
    dy = demand.geometry.y.to_numpy()
    tree = cKDTree(np.column_stack([dx, dy])) if n_d else None
    rows, cols, vals = [], [], []
    cand = candidates.reset_index(drop=True)
    for i, site in enumerate(cand.to_dict("records")):
        if tree is not None:
            x, y = site["geometry"].x, site["geometry"].y
            near = np.asarray(tree.query_ball_point([x, y], max_radius_km * 1000.0), dtype=int)
            if len(near):
                loss = path_loss_points(
                    terrain, (x, y), dx[near], dy[near], f_mhz=float(site["freq_mhz"]),
                    h_tx_m=float(site["height_m"]), model=model, environment=environment,
                    rx_height_m=rx_height_m, max_radius_km=max_radius_km,
                )  # fmt: skip
                power = float(site["eirp_dbm"]) - loss
                need = p_thr.get(str(site.get("tech", "")), threshold) + margin
                hit = np.nan_to_num(power, nan=-np.inf) >= need
                rows.append(np.full(hit.sum(), i))
                cols.append(near[hit])
                vals.append(power[hit])
        if progress is not None:
            progress(i + 1, n_c)
    r = np.concatenate(rows) if rows else np.zeros(0, dtype=int)
    c = np.concatenate(cols) if cols else np.zeros(0, dtype=int)
    v = np.concatenate(vals) if vals else np.zeros(0)
    power = sp.csr_array((v.astype(np.float32), (r, c)), shape=(n_c, n_d))
    cover = sp.csr_array((np.ones(len(r), dtype=bool), (r, c)), shape=(n_c, n_d))
    logger.info("coverage matrix: %d candidates × %d demand points, %d entries", n_c, n_d, len(r))
    return CoverageMatrix(cover, power, weights, demand)
