"""Read village / hamlet boundaries into lomsong's data model."""

from __future__ import annotations

import logging
import warnings
from os import PathLike

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from lomsong.defaults import HOUSEHOLD_SIZE
from lomsong.errors import InputError, InputWarning, Problem
from lomsong.layers._io import map_columns, read_vector, source_label
from lomsong.layers.crs import to_metric

__all__ = ["read_villages", "VILLAGE_COLUMNS"]

logger = logging.getLogger(__name__)

VILLAGE_COLUMNS = ["village_id", "name", "commune", "district", "households"]


def read_villages(
    source: str | PathLike[str] | gpd.GeoDataFrame,
    *,
    columns: dict[str, str] | None = None,
    layer: str | None = None,
    population: str | None = None,
    household_size: float = HOUSEHOLD_SIZE,
    crs: CRS | str | None = None,
) -> gpd.GeoDataFrame:
    """Read villages (polygons) and return them in the project's metric CRS.

    Parameters
    ----------
    source
        A vector file (GeoPackage, GeoJSON, Shapefile, GeoParquet) or a GeoDataFrame.
    columns
        ``{standard name: file column}`` for ``village_id, name, commune, district,
        households``.
    layer
        Layer of a multi-layer file.
    population
        Column of persons: ``households = round(population / household_size)``.
    household_size
        Persons per household (default 3.8, Vietnam 2009 census).
    crs
        Target metric CRS; default the UTM zone of the villages' centre.

    Returns
    -------
    GeoDataFrame
        ``village_id`` (str, unique), ``name``, ``commune``, ``district``, ``households``
        (int ≥ 0), Polygon/MultiPolygon geometry, plus the file's other columns.

    Raises
    ------
    InputError
        Naming the file and every bad feature (1-based feature number): missing CRS, empty
        geometry, duplicate ids, negative or missing households.
    """
    label = source_label(source)
    gdf = (
        source.copy() if isinstance(source, gpd.GeoDataFrame) else read_vector(source, layer=layer)
    )
    gdf = map_columns(gdf, columns, label)
    if gdf.crs is None:
        raise InputError(label, "has no CRS: lomsong needs to know where the villages are")
    if len(gdf) == 0:
        raise InputError(label, "has no features")
    if "village_id" not in gdf.columns:
        raise InputError(
            label,
            "no 'village_id' column; map one with columns = { village_id = \"...\" } "
            f"(the file has {', '.join(map(str, gdf.columns))})",
        )
    gdf = gdf.reset_index(drop=True)
    problems: list[Problem] = []
    ids = gdf["village_id"]
    if ids.isna().any():
        problems += [Problem(i + 1, "village_id is empty") for i in np.flatnonzero(ids.isna())]
    gdf["village_id"] = ids.astype(str)
    dup = gdf["village_id"].duplicated(keep=False) & ids.notna()
    if dup.any():
        for vid, rows in gdf.index[dup].groupby(gdf.loc[dup, "village_id"]).items():
            rows_s = ", ".join(str(r + 1) for r in rows)
            problems.append(Problem(f"village_id {vid!r}", f"duplicated in features {rows_s}"))

    geom = gdf.geometry
    empty = geom.isna() | geom.is_empty
    problems += [Problem(int(i) + 1, "empty geometry") for i in np.flatnonzero(empty)]
    kinds = geom.geom_type
    bad_kind = ~empty & ~kinds.isin(["Polygon", "MultiPolygon"])
    problems += [
        Problem(int(i) + 1, f"geometry is {kinds.iloc[i]}, expected a polygon")
        for i in np.flatnonzero(bad_kind)
    ]

    households = _households(gdf, population, household_size, problems)
    if problems:
        raise InputError(label, problems=problems)
    gdf["households"] = households

    invalid = ~gdf.geometry.is_valid
    if invalid.any():
        names = ", ".join(gdf.loc[invalid, "village_id"].head(20))
        warnings.warn(
            f"{label}: repaired {int(invalid.sum())} invalid polygon(s) with make_valid: {names}",
            InputWarning,
            stacklevel=2,
        )
        fixed = shapely.make_valid(gdf.geometry[invalid].values)
        # make_valid may return collections: keep their polygonal part only
        gdf.loc[invalid, "geometry"] = [_polygonal(g) for g in fixed]

    for col in ("name", "commune", "district"):
        if col not in gdf.columns:
            gdf[col] = gdf["village_id"] if col == "name" else ""
        gdf[col] = gdf[col].fillna("").astype(str)
    gdf = to_metric(gdf, crs)
    ordered = VILLAGE_COLUMNS + [c for c in gdf.columns if c not in VILLAGE_COLUMNS]
    return gdf[ordered]


def _households(
    gdf: gpd.GeoDataFrame, population: str | None, household_size: float, problems: list[Problem]
) -> np.ndarray:
    """Households per village from a ``households`` column or persons / household size."""
    if population is not None:
        if population not in gdf.columns:
            problems.append(Problem(None, f"population column {population!r} not found"))
            return np.zeros(len(gdf), dtype=np.int64)
        values = pd.to_numeric(gdf[population], errors="coerce") / household_size
        what = "population"
    elif "households" in gdf.columns:
        values = pd.to_numeric(gdf["households"], errors="coerce")
        what = "households"
    else:
        logger.warning("villages have no households column: counting 0 households")
        return np.zeros(len(gdf), dtype=np.int64)
    bad = values.isna() | ~np.isfinite(values) | (values < 0)
    problems += [
        Problem(int(i) + 1, f"{what} is {gdf[population or 'households'].iloc[i]!r}, "
                "expected a number ≥ 0")
        for i in np.flatnonzero(bad)
    ]  # fmt: skip
    return np.round(values.where(~bad, 0)).astype(np.int64).to_numpy()


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()
