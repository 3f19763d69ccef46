"""Where households live: points with a ``households`` weight, each tied to a village.

One unit for the whole run: where a village has a census count (``households`` > 0), the
weights of its points are scaled to sum to it — the points say *where*, the census says *how
many* — so every total, village figure and ranking gain counts the same households. Villages
without a count keep their points' weights; points outside every village are not counted.

Four sources, in order of preference for planning:

- **points** (buildings, hamlet centres, household surveys) with an optional weight;
- **polygons** (building footprints): one point at each centroid;
- a **population raster** (persons per cell, e.g. WorldPop 100 m or Meta HRSL 30 m):
  ``households = persons / household_size`` at the centre of every populated cell inside a
  village;
- **counts per village** only: each village's households spread evenly over it
  (:func:`spread_households`).
"""

from __future__ import annotations

import logging
import math
from os import PathLike
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import rasterio.windows
import shapely
from pyproj import CRS, Transformer

from lomsong.defaults import HOUSEHOLD_SIZE
from lomsong.errors import InputError, Problem
from lomsong.layers._io import (
    clean_ids,
    force_2d,
    given,
    has_suffix,
    map_columns,
    open_raster,
    read_vector,
    source_label,
    to_number,
)
from lomsong.layers.crs import require_crs

__all__ = ["read_households", "spread_households", "match_to_census", "RASTER_SUFFIXES"]

logger = logging.getLogger(__name__)

#: File endings read as a population raster (persons per cell) rather than a vector layer.
RASTER_SUFFIXES = (".tif", ".tiff", ".vrt", ".img", ".asc")
_POINTS = ("Point", "MultiPoint")
_POLYGONS = ("Polygon", "MultiPolygon")


def read_households(
    source: str | PathLike[str] | gpd.GeoDataFrame | None = None,
    *,
    villages: gpd.GeoDataFrame,
    columns: dict[str, str] | None = None,
    layer: str | None = None,
    spacing_m: float = 150.0,
    population: str | None = None,
    household_size: float = HOUSEHOLD_SIZE,
    source_crs: CRS | str | None = None,
    match_villages: bool = True,
) -> gpd.GeoDataFrame:
    """Household points in the villages' CRS, each with ``households`` and ``village_id``.

    Parameters
    ----------
    source
        Points (buildings, hamlet centres) with an optional ``households`` weight (default 1
        per point); polygons (building footprints, counted at their centroid); a population
        raster (GeoTIFF/VRT of persons per cell); or None to spread each village's households
        over the village (:func:`spread_households`). Files are opened read-only.
    villages
        Villages from :func:`lomsong.read_villages` (metric CRS).
    columns
        ``{standard name: file column}`` for ``households`` (weight) and ``village_id``.
    layer
        Layer of a multi-layer vector file (``households`` is taken when present).
    spacing_m
        Point spacing when spreading households over villages (m).
    population
        Column of persons per point/polygon: weight = persons / ``household_size``.
    household_size
        Persons per household for ``population`` and rasters (default 3.8, Vietnam 2009).
    source_crs
        CRS assumed when a vector file declares none.
    match_villages
        Scale the weights of each village with a census count (``households`` > 0) so they
        sum to it (the count distributed like the points or the raster); a village with a
        count but no weighted point gets one point at its representative point carrying the
        count. Villages without a count (0) keep their points' weights. True is the rule of
        ``lomsong run``; False gives the source's own weights (to inspect them).

    Returns
    -------
    GeoDataFrame
        ``households`` (float weight ≥ 0; households, fractional where a count is shared),
        ``village_id`` (str), Point geometry, in ``villages.crs``. Points outside every
        village are dropped (with a warning): no village, so no total, counts them.

    Raises
    ------
    InputError
        Naming the file and every bad feature (1-based): missing CRS, geometry that is not a
        point or polygon, weights that are missing, negative or not numbers, ``village_id``
        values that are not villages; a raster without CRS or not covering the villages.
    """
    if not household_size > 0:
        raise ValueError(f"household_size must be > 0, got {household_size}")
    if source is None:
        return spread_households(villages, spacing_m=spacing_m)
    if not isinstance(source, gpd.GeoDataFrame) and has_suffix(source, RASTER_SUFFIXES):
        pts = households_from_raster(source, villages=villages, household_size=household_size)
    else:
        pts = _from_vector(source, villages, columns, layer, population, household_size,
                           source_crs)  # fmt: skip
        outside = (pts["village_id"] == "").to_numpy()
        if outside.any():
            logger.warning("%s: %d household point(s) outside every village: not counted",
                           source_label(source), int(outside.sum()))  # fmt: skip
            pts = gpd.GeoDataFrame(pts[~outside].reset_index(drop=True), crs=villages.crs)
    if match_villages:
        pts = match_to_census(pts, villages)
    return pts


def _from_vector(
    source: str | PathLike[str] | gpd.GeoDataFrame,
    villages: gpd.GeoDataFrame,
    columns: dict[str, str] | None,
    layer: str | None,
    population: str | None,
    household_size: float,
    source_crs: CRS | str | None,
) -> gpd.GeoDataFrame:
    label = source_label(source)
    if isinstance(source, gpd.GeoDataFrame):
        gdf = source.copy()
    else:
        gdf = read_vector(source, layer=layer, prefer_layer="households")
    gdf = map_columns(gdf, columns, label)
    gdf = require_crs(gdf, label, source_crs=source_crs)
    gdf = gdf.reset_index(drop=True)
    gdf = gdf.set_geometry(force_2d(gdf.geometry))
    problems: list[Problem] = []
    geom = gdf.geometry
    empty = (geom.isna() | geom.is_empty).to_numpy()
    kinds = geom.geom_type.to_numpy()
    bad = empty | ~np.isin(kinds, _POINTS + _POLYGONS)
    for i in np.flatnonzero(bad):
        what = "empty geometry" if empty[i] else f"geometry is {kinds[i]}"
        problems.append(Problem(int(i) + 1, f"{what}, expected a point or a polygon"))

    column = population if population is not None else "households"
    if population is not None and population not in gdf.columns:
        problems.append(Problem(None, f"population column {population!r} not found"))
        weights = np.ones(len(gdf))
    elif column in gdf.columns:
        weights = to_number(gdf[column])
        badw = ~np.isfinite(weights) | (weights < 0)
        for i in np.flatnonzero(badw):
            problems.append(Problem(
                int(i) + 1, f"{column} is {gdf[column].iloc[i]!r}, expected a number ≥ 0"
            ))  # fmt: skip
        if population is not None:
            weights = weights / household_size
    else:
        weights = np.ones(len(gdf))

    village_ids = None
    if "village_id" in gdf.columns:
        ids = clean_ids(gdf["village_id"])
        known = set(villages["village_id"])
        have = given(gdf["village_id"])
        unknown = have & ~ids.fillna("").isin(known).to_numpy()
        for i in np.flatnonzero(unknown):
            problems.append(Problem(int(i) + 1, f"village_id {ids.iloc[i]!r} is not a village"))
        village_ids = ids.fillna("").to_numpy(dtype=object)
    if problems:
        raise InputError(label, problems=sorted(problems, key=lambda p: p.row or 0))

    gdf = gdf.to_crs(villages.crs)
    # building footprints count at their centroid (inside the footprint for any sane building)
    pts = gpd.GeoDataFrame(
        {"households": np.asarray(weights, dtype=float)},
        geometry=gdf.geometry.centroid.to_numpy(),
        crs=villages.crs,
    )
    spatial = _village_of(pts, villages)
    if village_ids is None:
        pts["village_id"] = spatial
    else:  # the file's village wins; points without one are placed by position
        pts["village_id"] = np.where(village_ids != "", village_ids, spatial)
    return pts


def households_from_raster(
    path: str | PathLike[str],
    *,
    villages: gpd.GeoDataFrame,
    household_size: float = HOUSEHOLD_SIZE,
    band: int = 1,
) -> gpd.GeoDataFrame:
    """Household points from a population raster (persons per cell).

    Every cell with persons > 0 whose centre lies in a village becomes a point at the cell
    centre weighted ``persons / household_size``. Nodata, NaN and negative cells count 0.

    Parameters
    ----------
    path
        GeoTIFF/VRT of persons per cell (WorldPop, HRSL, …), any CRS; opened read-only.
    villages
        Villages (metric CRS); only the raster window over them is read.
    household_size
        Persons per household (> 0).
    band
        Band of the raster.

    Returns
    -------
    GeoDataFrame
        ``households``, ``village_id``, Point in ``villages.crs``.

    Notes
    -----
    Reads only the window over the villages: memory about 16 bytes per cell of that window.
    """
    label = str(path)
    p = Path(path)
    ds = open_raster(p, what="population raster")
    with ds:
        src_crs = CRS.from_wkt(ds.crs.to_wkt())
        t = Transformer.from_crs(villages.crs, src_crs, always_xy=True)
        box = t.transform_bounds(*villages.total_bounds, densify_pts=21)
        window = _window(ds, box)
        if window is None:
            raise InputError(
                p,
                f"population raster (bounds {list(np.round(ds.bounds, 4))}) does not cover "
                "the villages",
            )
        try:
            data = ds.read(band, window=window, masked=True).astype(np.float64)
        except (rasterio.errors.RasterioError, IndexError) as exc:  # truncated file, no band
            raise InputError(p, f"cannot be read as a raster: {exc}") from None
        t = ds.transform
    persons = np.where(np.ma.getmaskarray(data), 0.0, np.ma.getdata(data))
    persons = np.where(np.isfinite(persons) & (persons > 0), persons, 0.0)
    rows, cols = np.nonzero(persons)
    # cell centres (north-up raster; computed by hand: rasterio's helpers warn on affine 3)
    xs = t.c + (window.col_off + cols + 0.5) * t.a + (window.row_off + rows + 0.5) * t.b
    ys = t.f + (window.col_off + cols + 0.5) * t.d + (window.row_off + rows + 0.5) * t.e
    to_villages = Transformer.from_crs(src_crs, villages.crs, always_xy=True)
    x, y = to_villages.transform(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float))
    pts = gpd.GeoDataFrame(
        {"households": persons[rows, cols] / household_size},
        geometry=gpd.points_from_xy(x, y),
        crs=villages.crs,
    )
    pts["village_id"] = _village_of(pts, villages)
    inside = pts["village_id"] != ""
    total = float(persons.sum())
    kept = float(pts.loc[inside, "households"].sum()) * household_size
    logger.info(
        "%s: %.0f persons in %d cells inside the villages (%.1f %% of the window's %.0f)",
        label, kept, int(inside.sum()), 100 * kept / total if total else 0.0, total,
    )  # fmt: skip
    return gpd.GeoDataFrame(pts[inside].reset_index(drop=True), crs=villages.crs)


def _window(ds: rasterio.DatasetReader, box: tuple[float, ...]) -> rasterio.windows.Window | None:
    """The raster window over ``box`` (left, bottom, right, top in the raster CRS), or None."""
    full = rasterio.windows.Window(0, 0, ds.width, ds.height)
    win = rasterio.windows.from_bounds(*box, transform=ds.transform)
    win = win.round_offsets(op="floor").round_lengths(op="ceil")
    # one cell of margin so a village edge on a cell boundary keeps that cell
    win = rasterio.windows.Window(win.col_off - 1, win.row_off - 1, win.width + 2, win.height + 2)
    try:
        win = win.intersection(full)
    except rasterio.errors.WindowError:
        return None
    if win.width <= 0 or win.height <= 0:
        return None
    return rasterio.windows.Window(
        int(win.col_off), int(win.row_off), int(math.ceil(win.width)), int(math.ceil(win.height))
    )


def spread_households(villages: gpd.GeoDataFrame, *, spacing_m: float = 150.0) -> gpd.GeoDataFrame:
    """Spread each village's ``households`` evenly over points on a square lattice inside it.

    Villages smaller than a lattice cell get one point at a representative point. Villages
    given as points (``boundary == "point"``, see :func:`lomsong.read_villages`) keep all
    their households at that point.

    Parameters
    ----------
    villages
        With ``village_id`` and ``households`` (metric CRS).
    spacing_m
        Lattice spacing (m), > 0. Memory: about 50 bytes per lattice point over the
        villages' bounding box (≈ 0.6 M points for a 100 × 130 km province at 150 m).
    """
    if not spacing_m > 0:
        raise ValueError(f"spacing_m must be > 0, got {spacing_m}")
    is_point = (
        (villages["boundary"] == "point").to_numpy()
        if "boundary" in villages.columns and "point_x" in villages.columns
        else np.zeros(len(villages), dtype=bool)
    )
    areal = villages[~is_point]
    minx, miny, maxx, maxy = areal.total_bounds if len(areal) else (0.0, 0.0, 0.0, 0.0)
    xs = np.arange(minx + spacing_m / 2, maxx, spacing_m)
    ys = np.arange(miny + spacing_m / 2, maxy, spacing_m)
    gx, gy = np.meshgrid(xs, ys)
    lattice = gpd.GeoDataFrame(geometry=gpd.points_from_xy(gx.ravel(), gy.ravel()),
                               crs=villages.crs)  # fmt: skip
    lattice["village_id"] = _village_of(lattice, areal) if len(areal) else ""
    lattice = lattice[lattice["village_id"] != ""]
    # villages too small for the lattice get their representative point
    missing = areal[~areal["village_id"].isin(lattice["village_id"])]
    extra = gpd.GeoDataFrame(
        {"village_id": missing["village_id"].to_numpy()},
        geometry=missing.geometry.representative_point().to_numpy(),
        crs=villages.crs,
    )
    parts = [lattice, extra]
    if is_point.any():
        point_villages = villages[is_point]
        parts.append(gpd.GeoDataFrame(
            {"village_id": point_villages["village_id"].to_numpy()},
            geometry=gpd.points_from_xy(point_villages["point_x"], point_villages["point_y"]),
            crs=villages.crs,
        ))  # fmt: skip
    pts = pd.concat(parts, ignore_index=True)
    counts = pts["village_id"].map(pts["village_id"].value_counts())
    hh = pts["village_id"].map(villages.set_index("village_id")["households"])
    pts["households"] = (hh / counts).astype(float)
    pts = pts[pts["households"] > 0].reset_index(drop=True)
    return gpd.GeoDataFrame(pts[["households", "village_id", "geometry"]], crs=villages.crs)


def match_to_census(pts: gpd.GeoDataFrame, villages: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Scale the point weights of each village with a census count so they sum to it.

    A village with a count whose points weigh nothing (or that has none) gets one point at its
    representative point carrying the count, so it is never lost; villages without a count
    (``households`` 0) keep their points' weights.
    """
    census = villages.set_index("village_id")["households"].astype(float)
    counted = census[census > 0]
    sums = pts.groupby("village_id")["households"].sum()
    target = pts["village_id"].map(counted).to_numpy(dtype=float)
    have = pts["village_id"].map(sums).to_numpy(dtype=float)
    scale = np.isfinite(target) & (have > 0)
    out = pts.copy()
    weights = out["households"].to_numpy(dtype=float)
    out["households"] = np.where(scale, weights * target / np.where(scale, have, 1.0), weights)
    weighed = set(sums.index[sums > 0])
    lacking = villages[(villages["households"] > 0) & ~villages["village_id"].isin(weighed)]
    if len(lacking):
        spread = spread_households(lacking, spacing_m=1e9)  # one point per village
        out = pd.concat([out, spread], ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=villages.crs)


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
