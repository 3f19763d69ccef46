"""Candidate tower sites: from a file, or generated on hilltops and a grid near dead zones."""

from __future__ import annotations

import logging
from os import PathLike
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio.features
import shapely
from scipy import ndimage

from lomsong.defaults import CANDIDATE_MAST_HEIGHT_M, CANDIDATE_TECH, TECH_DEFAULTS
from lomsong.errors import InputError
from lomsong.grid import Grid
from lomsong.layers.towers import read_towers

__all__ = ["candidate_sites", "read_candidates"]

logger = logging.getLogger(__name__)

CANDIDATE_COLUMNS = ["site_id", "kind", "elevation_m", "height_m", "tech", "freq_mhz",
                     "eirp_dbm", "cost"]  # fmt: skip


def candidate_sites(
    terrain: Grid,
    gaps: Any,
    *,
    area: gpd.GeoDataFrame | None = None,
    max_distance_km: float = 5.0,
    spacing_m: float = 1500.0,
    peak_window_m: float = 900.0,
    min_prominence_m: float = 40.0,
    height_m: float = CANDIDATE_MAST_HEIGHT_M,
    tech: str = CANDIDATE_TECH,
    max_sites: int = 600,
) -> gpd.GeoDataFrame:
    """Generate candidate sites where a new tower could serve the dead zones.

    Two kinds of site:

    - ``hilltop``: local maxima of the terrain (highest cell within ``peak_window_m``) that
      rise at least ``min_prominence_m`` above the lowest cell within twice that window, and
      lie within ``max_distance_km`` of a dead zone — high ground sees far;
    - ``grid``: a square lattice of spacing ``spacing_m`` over the dead zones themselves (the
      zone's representative point for zones smaller than a lattice cell) — a mast in the
      hamlet always serves the hamlet.

    Never in the sea (elevation ≤ 0) and never outside the area (union of the villages).

    Parameters
    ----------
    terrain
        Elevation Grid (m) in the project CRS.
    gaps
        A :class:`lomsong.coverage.deadzones.DeadZones` (``zones`` and ``villages`` are used).
    area
        Polygons sites must fall in (default ``gaps.villages``).

    Returns
    -------
    GeoDataFrame
        ``site_id, kind, elevation_m, height_m, tech, freq_mhz, eirp_dbm, cost`` and Point,
        hilltops first by height, at most ``max_sites``.
    """
    zones = gaps.zones
    area = gaps.villages if area is None else area
    crs = terrain.crs
    if len(zones) == 0:
        return _frame([], [], [], terrain, height_m=height_m, tech=tech)
    Z = np.nan_to_num(terrain.data.astype(np.float32), nan=-1.0)
    res = terrain.res
    shape = terrain.shape
    zone_mask = rasterio.features.rasterize(
        ((g, 1) for g in zones.geometry), out_shape=shape, transform=terrain.transform,
        fill=0, dtype=np.uint8,
    )  # fmt: skip
    area_mask = rasterio.features.rasterize(
        ((g, 1) for g in area.geometry if g is not None and not g.is_empty), out_shape=shape,
        transform=terrain.transform, fill=0, dtype=np.uint8,
    )  # fmt: skip
    dist_m = ndimage.distance_transform_edt(zone_mask == 0) * res
    w = max(3, int(round(peak_window_m / res)) | 1)
    peak = (ndimage.maximum_filter(Z, size=w) == Z) & (Z > 0)
    low = ndimage.minimum_filter(Z, size=2 * w + 1)
    near = dist_m <= max_distance_km * 1000.0
    ok = peak & (Z - low >= min_prominence_m) & near & (area_mask == 1)
    rows, cols = np.nonzero(ok)
    order = np.argsort(-Z[rows, cols], kind="stable")
    rows, cols = rows[order], cols[order]
    hx, hy = terrain.xy(rows, cols)

    gx, gy = _lattice(zones, spacing_m)
    gr, gc = terrain.rowcol(gx, gy)
    inside = terrain.inside(gr, gc)
    gx, gy, gr, gc = gx[inside], gy[inside], gr[inside], gc[inside]
    land = (Z[gr, gc] > 0) & (area_mask[gr, gc] == 1)
    gx, gy = gx[land], gy[land]

    xs = np.concatenate([hx, gx])
    ys = np.concatenate([hy, gy])
    kinds = ["hilltop"] * len(hx) + ["grid"] * len(gx)
    keep = _thin(xs, ys, min_spacing_m=max(2 * res, 300.0))
    xs, ys = xs[keep], ys[keep]
    kinds = [kinds[i] for i in np.flatnonzero(keep)]
    if len(xs) > max_sites:
        logger.info("candidates: keeping %d of %d sites", max_sites, len(xs))
        xs, ys, kinds = xs[:max_sites], ys[:max_sites], kinds[:max_sites]
    out = _frame(xs, ys, kinds, terrain, height_m=height_m, tech=tech)
    logger.info("candidates: %d hilltop and %d grid sites", (out["kind"] == "hilltop").sum(),
                (out["kind"] == "grid").sum())  # fmt: skip
    assert out.crs == crs
    return out


def _lattice(zones: gpd.GeoDataFrame, spacing_m: float) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for geom in zones.geometry:
        minx, miny, maxx, maxy = geom.bounds
        gx, gy = np.meshgrid(
            np.arange(minx + spacing_m / 2, maxx, spacing_m),
            np.arange(miny + spacing_m / 2, maxy, spacing_m),
        )
        pts = shapely.points(gx.ravel(), gy.ravel())
        inside = shapely.contains(geom, pts) if len(pts) else np.zeros(0, dtype=bool)
        if not inside.any():
            p = geom.representative_point()
            xs.append(np.array([p.x]))
            ys.append(np.array([p.y]))
        else:
            xs.append(gx.ravel()[inside])
            ys.append(gy.ravel()[inside])
    return np.concatenate(xs), np.concatenate(ys)


def _thin(xs: np.ndarray, ys: np.ndarray, *, min_spacing_m: float) -> np.ndarray:
    """Keep points in order, dropping any within ``min_spacing_m`` of one already kept."""
    from scipy.spatial import cKDTree

    keep = np.ones(len(xs), dtype=bool)
    if len(xs) < 2:
        return keep
    tree = cKDTree(np.column_stack([xs, ys]))
    for i, j in sorted(tree.query_pairs(min_spacing_m)):
        if keep[i] and keep[j]:
            keep[j] = False
    return keep


def _frame(xs, ys, kinds, terrain: Grid, *, height_m: float, tech: str) -> gpd.GeoDataFrame:
    radio = TECH_DEFAULTS[tech]
    n = len(xs)
    elev = terrain.sample(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)) if n else []
    return gpd.GeoDataFrame(
        {
            "site_id": [f"C{i + 1:04d}" for i in range(n)],
            "kind": list(kinds),
            "elevation_m": np.asarray(elev, dtype=float),
            "height_m": np.full(n, height_m),
            "tech": [tech] * n,
            "freq_mhz": np.full(n, radio["freq_mhz"]),
            "eirp_dbm": np.full(n, radio["eirp_dbm"]),
            "cost": np.ones(n),
        },
        geometry=gpd.points_from_xy(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)),
        crs=terrain.crs,
    )


def read_candidates(
    source: str | PathLike[str] | gpd.GeoDataFrame,
    *,
    columns: dict[str, str] | None = None,
    area: gpd.GeoDataFrame | None = None,
    crs: Any = None,
) -> gpd.GeoDataFrame:
    """Candidate sites from a file (the towers reader's formats; ``site_id`` or ``tower_id``).

    Missing radio parameters take the candidate technology's defaults; ``cost`` defaults to 1.
    """
    cols = dict(columns or {})
    frame = read_towers(source, columns=cols, area=area, crs=crs, max_radius_km=0.0)
    frame = frame.drop(columns=["site_id"]).rename(columns={"tower_id": "site_id"})
    if "cost" in frame.columns:
        cost = pd.to_numeric(frame["cost"], errors="coerce")
        if cost.isna().any() or (cost < 0).any():
            raise InputError(source if not isinstance(source, gpd.GeoDataFrame) else None,
                             "cost must be a number ≥ 0 for every candidate")  # fmt: skip
        frame["cost"] = cost.astype(float)
    else:
        frame["cost"] = 1.0
    frame["kind"] = "file"
    frame["elevation_m"] = np.nan
    rest = [c for c in frame.columns if c not in CANDIDATE_COLUMNS + ["geometry"]]
    return frame[CANDIDATE_COLUMNS + rest + ["geometry"]]
