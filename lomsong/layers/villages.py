"""Read village / hamlet boundaries into lomsong's data model."""

from __future__ import annotations

import logging
import warnings
from os import PathLike

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from lomsong.defaults import HOUSEHOLD_SIZE
from lomsong.errors import InputError, InputWarning, Problem
from lomsong.layers._io import (
    clean_ids,
    force_2d,
    map_columns,
    read_vector,
    source_label,
    to_number,
)
from lomsong.layers.crs import require_crs, to_metric

__all__ = ["read_villages", "VILLAGE_COLUMNS", "VILLAGE_POINT_RADIUS_M"]

logger = logging.getLogger(__name__)

VILLAGE_COLUMNS = ["village_id", "name", "commune", "district", "households"]

#: Radius (m) of the disc drawn around a village given as a point (a hamlet centre without a
#: boundary). 500 m is about the extent of the built-up core of a rural Vietnamese thôn; the
#: disc only draws the village and attributes dead-zone cells to it — its households stay at
#: the point itself (see :func:`lomsong.layers.households.spread_households`).
VILLAGE_POINT_RADIUS_M = 500.0

_POLYGONS = ("Polygon", "MultiPolygon")
_POINTS = ("Point", "MultiPoint")


def read_villages(
    source: str | PathLike[str] | gpd.GeoDataFrame,
    *,
    columns: dict[str, str] | None = None,
    layer: str | None = None,
    population: str | None = None,
    household_size: float = HOUSEHOLD_SIZE,
    crs: CRS | str | None = None,
    source_crs: CRS | str | None = None,
    point_radius_m: float = VILLAGE_POINT_RADIUS_M,
) -> gpd.GeoDataFrame:
    """Read villages (polygons, or points for villages without a boundary) in a metric CRS.

    Parameters
    ----------
    source
        A vector file (GeoPackage — any layer by name —, GeoJSON, Shapefile, GeoParquet) or a
        GeoDataFrame. Opened read-only.
    columns
        ``{standard name: file column}`` for ``village_id, name, commune, district,
        households``; one file column may feed several names.
    layer
        Layer of a multi-layer file (a GeoPackage with several layers and none named
        ``villages`` needs it).
    population
        Column of persons: ``households = round(population / household_size)``. Takes
        precedence over a ``households`` column.
    household_size
        Persons per household, > 0 (default 3.8, Vietnam 2009 census).
    crs
        Target metric CRS; default the UTM zone of the villages' centre.
    source_crs
        CRS assumed when the file declares none (a Shapefile without ``.prj``).
    point_radius_m
        Villages given as points are drawn as discs of this radius (m), see
        :data:`VILLAGE_POINT_RADIUS_M`; their households stay at the point.

    Returns
    -------
    GeoDataFrame
        ``village_id`` (str, unique), ``name``, ``commune``, ``district``, ``households``
        (int ≥ 0), ``boundary`` (``"polygon"`` or ``"point"``: how the village was given),
        Polygon/MultiPolygon geometry, plus the file's other columns. A point village also
        keeps its point as ``point_x``/``point_y`` (metric CRS).

    Warns
    -----
    InputWarning
        Invalid polygons were repaired with ``shapely.make_valid`` (the ids are listed).

    Raises
    ------
    InputError
        Naming the file and every bad feature at once (1-based feature number and the
        village id): missing CRS, empty or non-areal geometry, duplicate or empty ids,
        negative, missing or non-numeric households / population.
    """
    if not household_size > 0:
        raise ValueError(f"household_size must be > 0, got {household_size}")
    if not point_radius_m > 0:
        raise ValueError(f"point_radius_m must be > 0, got {point_radius_m}")
    label = source_label(source)
    gdf = (
        source.copy()
        if isinstance(source, gpd.GeoDataFrame)
        else read_vector(source, layer=layer, prefer_layer="villages")
    )
    gdf = map_columns(gdf, columns, label)
    gdf = require_crs(gdf, label, source_crs=source_crs)
    if len(gdf) == 0:
        raise InputError(label, "has no features")
    if "village_id" not in gdf.columns:
        raise InputError(
            label,
            "no 'village_id' column; map one with columns = { village_id = \"...\" } "
            f"(the file has {', '.join(map(str, gdf.columns))})",
        )
    gdf = gdf.reset_index(drop=True)
    gdf = gdf.set_geometry(force_2d(gdf.geometry))
    problems: list[Problem] = []

    ids = clean_ids(gdf["village_id"])
    problems += [Problem(int(i) + 1, "village_id is empty") for i in np.flatnonzero(ids.isna())]
    gdf["village_id"] = ids.fillna("").astype(str)
    dup = gdf["village_id"].duplicated(keep=False).to_numpy() & ids.notna().to_numpy()
    for vid, rows in gdf.index[dup].groupby(gdf.loc[dup, "village_id"]).items():
        rows_s = ", ".join(str(r + 1) for r in rows)
        problems.append(Problem(f"village_id {vid!r}", f"duplicated in features {rows_s}"))

    geom = gdf.geometry
    empty = (geom.isna() | geom.is_empty).to_numpy()
    kinds = geom.geom_type.to_numpy()
    is_point = ~empty & np.isin(kinds, _POINTS)
    bad_kind = ~empty & ~np.isin(kinds, _POLYGONS) & ~is_point
    for i in np.flatnonzero(empty | bad_kind):
        what = "empty geometry" if empty[i] else f"geometry is {kinds[i]}, expected a polygon"
        problems.append(Problem(int(i) + 1, f"village_id {gdf['village_id'].iloc[i]!r}: {what}"))

    households = _households(gdf, population, household_size, problems)
    gdf["households"] = households
    gdf["boundary"] = np.where(is_point, "point", "polygon")

    repaired = _repair(gdf, ~empty & ~bad_kind & ~is_point, label, problems)
    if problems:
        raise InputError(label, problems=sorted(problems, key=_problem_order))
    gdf = gdf.set_geometry(repaired)

    for col in ("name", "commune", "district"):
        if col not in gdf.columns:
            gdf[col] = gdf["village_id"] if col == "name" else ""
        gdf[col] = gdf[col].astype("string").fillna("").astype(str)
    gdf = to_metric(gdf, crs)
    if is_point.any():
        # discs drawn in metres, households kept at the given point
        pts = gdf.geometry[is_point]
        centre = pts.centroid
        gdf.loc[is_point, "point_x"] = centre.x.to_numpy()
        gdf.loc[is_point, "point_y"] = centre.y.to_numpy()
        gdf.loc[is_point, "geometry"] = pts.buffer(point_radius_m).to_numpy()
        logger.info(
            "%s: %d village(s) given as points, drawn as %g m discs",
            label, int(is_point.sum()), point_radius_m,
        )  # fmt: skip
    ordered = VILLAGE_COLUMNS + [c for c in gdf.columns if c not in VILLAGE_COLUMNS]
    return gdf[ordered]


def _problem_order(p: Problem) -> tuple[int, int, str]:
    # feature rows first in file order, then problems that name an id
    return (0, p.row, "") if isinstance(p.row, int) else (1, 0, str(p.row))


def _households(
    gdf: gpd.GeoDataFrame, population: str | None, household_size: float, problems: list[Problem]
) -> np.ndarray:
    """Households per village from persons / household size or a ``households`` column."""
    if population is not None:
        if population not in gdf.columns:
            problems.append(
                Problem(
                    None,
                    f"population column {population!r} not found; "
                    f"the file has {', '.join(map(str, gdf.columns))}",
                )
            )
            return np.zeros(len(gdf), dtype=np.int64)  # fmt: skip
        column = population
        if "households" in gdf.columns:
            logger.info("villages: households from %r / %g, not from the households column",
                        population, household_size)  # fmt: skip
    elif "households" in gdf.columns:
        column = "households"
    else:
        logger.warning("villages have no households column: counting 0 households")
        return np.zeros(len(gdf), dtype=np.int64)
    values = to_number(gdf[column])
    bad = ~np.isfinite(values) | (values < 0)
    for i in np.flatnonzero(bad):
        problems.append(Problem(
            int(i) + 1,
            f"village_id {gdf['village_id'].iloc[i]!r}: {column} is {gdf[column].iloc[i]!r}, "
            "expected a number ≥ 0",
        ))  # fmt: skip
    if column == population:
        values = values / household_size
    return np.round(np.where(bad, 0.0, values)).astype(np.int64)


def _repair(
    gdf: gpd.GeoDataFrame, polygonal: np.ndarray, label: str, problems: list[Problem]
) -> gpd.GeoSeries:
    """Geometry with invalid polygons made valid (listed in one warning)."""
    geom = gdf.geometry.copy()
    invalid = polygonal & ~shapely.is_valid(geom.values)
    if not invalid.any():
        return geom
    fixed = [_polygonal(g) for g in shapely.make_valid(geom.values[invalid])]
    ids = gdf["village_id"].to_numpy()[invalid]
    rows = np.flatnonzero(invalid)
    for vid, row, g in zip(ids, rows, fixed, strict=True):
        if g.is_empty:
            problems.append(Problem(int(row) + 1, f"village_id {vid!r}: polygon has no area "
                                                  "left after repair"))  # fmt: skip
    reasons = [shapely.is_valid_reason(g) for g in geom.values[invalid]]
    listed = "; ".join(f"{v} ({r})" for v, r in zip(ids[:20], reasons[:20], strict=False))
    more = f"; … and {len(ids) - 20} more" if len(ids) > 20 else ""
    warnings.warn(
        f"{label}: repaired {len(ids)} invalid polygon(s) with make_valid: {listed}{more}",
        InputWarning,
        stacklevel=3,
    )
    geom.iloc[rows] = fixed
    return geom


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """The areal part of a geometry (make_valid may return collections with lines)."""
    if geom.geom_type in _POLYGONS:
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type in _POLYGONS]
    return shapely.union_all(parts) if parts else shapely.Polygon()
