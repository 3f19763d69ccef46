"""Where households live: points with a ``households`` weight, each tied to a village."""

from __future__ import annotations

import logging
from os import PathLike

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from lomsong.errors import InputError, Problem
from lomsong.layers._io import map_columns, read_vector, source_label

__all__ = ["read_households", "spread_households"]

logger = logging.getLogger(__name__)


def read_households(
    source: str | PathLike[str] | gpd.GeoDataFrame | None = None,
    *,
    villages: gpd.GeoDataFrame,
    columns: dict[str, str] | None = None,
    layer: str | None = None,
    spacing_m: float = 150.0,
) -> gpd.GeoDataFrame:
    """Household points in the villages' CRS, each with ``households`` and ``village_id``.

    Parameters
    ----------
    source
        Points (buildings, hamlet centres) with an optional ``households`` weight (default 1),
        or None to spread each village's households evenly over the village.
    villages
        Villages from :func:`read_villages` (metric CRS).
    spacing_m
        Point spacing when spreading households over villages.

    Returns
    -------
    GeoDataFrame
        ``households`` (float weight), ``village_id`` (str; "" outside every village), Point.
        Villages with households but no point get one at a representative point.
    """
    if source is None:
        return spread_households(villages, spacing_m=spacing_m)
    label = source_label(source)
    if isinstance(source, gpd.GeoDataFrame):
        gdf = source.copy()
    else:
        gdf = read_vector(source, layer=layer)
    gdf = map_columns(gdf, columns, label)
    if gdf.crs is None:
        raise InputError(label, "has no CRS")
    gdf = gdf.reset_index(drop=True)
    problems = []
    kinds = gdf.geometry.geom_type
    bad = gdf.geometry.isna() | gdf.geometry.is_empty | ~kinds.isin(["Point", "Polygon",
                                                                    "MultiPolygon"])  # fmt: skip
    problems += [Problem(int(i) + 1, "not a point or polygon") for i in np.flatnonzero(bad)]
    weights = (
        pd.to_numeric(gdf["households"], errors="coerce")
        if "households" in gdf.columns
        else pd.Series(1.0, index=gdf.index)
    )
    badw = weights.isna() | (weights < 0) | ~np.isfinite(weights)
    problems += [
        Problem(int(i) + 1, "households is not a number ≥ 0") for i in np.flatnonzero(badw)
    ]
    if problems:
        raise InputError(label, problems=problems)
    gdf = gdf.to_crs(villages.crs)
    # buildings as polygons count at their centroid
    pts = gpd.GeoDataFrame(
        {"households": weights.astype(float).to_numpy()},
        geometry=gdf.geometry.centroid.to_numpy(),
        crs=villages.crs,
    )
    if "village_id" in gdf.columns:
        pts["village_id"] = gdf["village_id"].astype(str).to_numpy()
    else:
        pts["village_id"] = _village_of(pts, villages)
    outside = (pts["village_id"] == "").sum()
    if outside:
        logger.warning("%s: %d household point(s) outside every village", label, outside)
    return pts


def spread_households(villages: gpd.GeoDataFrame, *, spacing_m: float = 150.0) -> gpd.GeoDataFrame:
    """Spread each village's ``households`` evenly over points on a square lattice inside it."""
    minx, miny, maxx, maxy = villages.total_bounds
    xs = np.arange(minx + spacing_m / 2, maxx, spacing_m)
    ys = np.arange(miny + spacing_m / 2, maxy, spacing_m)
    gx, gy = np.meshgrid(xs, ys)
    lattice = gpd.GeoDataFrame(geometry=gpd.points_from_xy(gx.ravel(), gy.ravel()),
                               crs=villages.crs)  # fmt: skip
    vid = _village_of(lattice, villages)
    lattice["village_id"] = vid
    lattice = lattice[lattice["village_id"] != ""]
    # villages too small for the lattice get their representative point
    missing = villages[~villages["village_id"].isin(lattice["village_id"])]
    extra = gpd.GeoDataFrame(
        {"village_id": missing["village_id"].to_numpy()},
        geometry=missing.geometry.representative_point().to_numpy(),
        crs=villages.crs,
    )
    pts = pd.concat([lattice, extra], ignore_index=True)
    counts = pts["village_id"].map(pts["village_id"].value_counts())
    hh = pts["village_id"].map(villages.set_index("village_id")["households"])
    pts["households"] = (hh / counts).astype(float)
    pts = pts[pts["households"] > 0].reset_index(drop=True)
    return gpd.GeoDataFrame(pts[["households", "village_id", "geometry"]], crs=villages.crs)


def _village_of(points: gpd.GeoDataFrame, villages: gpd.GeoDataFrame) -> np.ndarray:
    """village_id of the village containing each point ("" when none; first when several)."""
    tree = shapely.STRtree(villages.geometry.values)
    pi, vi = tree.query(points.geometry.values, predicate="within")
    out = np.full(len(points), "", dtype=object)
    ids = villages["village_id"].to_numpy()
    # keep the first village per point
    first = np.unique(pi, return_index=True)[1]
    out[pi[first]] = ids[vi[first]]
    return out
