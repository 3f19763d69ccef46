"""Read a land-cover raster (integer class codes) onto the terrain grid's cells.

Forest and buildings are not in the terrain model; a land-cover map says where they are, so the
coverage can take off the loss of a handset among them (ITU-R P.2108 terminal clutter loss,
:mod:`lomsong.coverage.clutter`). Any raster GDAL reads (GeoTIFF, VRT of tiles, …) in any CRS is
resampled onto the terrain's cells: a class code is a name, never a quantity, so it is never
interpolated — the most frequent class of the land-cover cells within a terrain cell (mode) when
the land cover is finer than the terrain, the class under the cell's centre (nearest) otherwise.

Classes: the ESA WorldCover 10 m codes by default (:data:`lomsong.defaults.WORLDCOVER_CLUTTER`),
any other classification through a table ``{code: clutter type}`` (the P.2108 types of
:data:`lomsong.defaults.CLUTTER_TYPES`). Code 0 is "unknown" (the raster's nodata, cells the
raster does not cover): no clutter loss there.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping
from os import PathLike
from pathlib import Path

import numpy as np
import rasterio
import rasterio.crs
import rasterio.errors
import shapely
from pyproj import CRS, Transformer
from rasterio.enums import Resampling
from rasterio.warp import reproject

from lomsong.defaults import CLUTTER_TYPES, WORLDCOVER_CLUTTER
from lomsong.errors import InputError, InputWarning, Problem
from lomsong.grid import Grid
from lomsong.layers._io import open_raster

__all__ = ["read_landcover", "class_table", "class_problems", "UNKNOWN_CLASS"]

logger = logging.getLogger(__name__)

#: The class code of a cell whose land cover is unknown (no data, outside the raster).
UNKNOWN_CLASS = 0


def class_problems(classes: Mapping[object, object]) -> list[tuple[object, str]]:
    """What is wrong with a class table ``{code: clutter type}``: ``(code, reason)`` pairs.

    A code is an integer other than :data:`UNKNOWN_CLASS`; a type is one of
    :data:`lomsong.defaults.CLUTTER_TYPES`. Empty list when the table is usable.
    """
    out: list[tuple[object, str]] = []
    if not classes:
        out.append((None, "the class table is empty: leave it out for ESA WorldCover's codes"))
    for code, kind in classes.items():
        if isinstance(code, bool) or not isinstance(code, (int, np.integer)):
            out.append((code, f"a class code is an integer, got {code!r}"))
        elif code == UNKNOWN_CLASS:
            out.append((code, f"{UNKNOWN_CLASS} is lomsong's code for an unknown land cover (no "
                              "data); give that class another code"))  # fmt: skip
        elif kind not in CLUTTER_TYPES:
            out.append((code, f"{kind!r} is not a clutter type; use one of "
                              f"{', '.join(CLUTTER_TYPES)}"))  # fmt: skip
    return out


def class_table(
    classes: Mapping[int, str] | None = None, *, label: str | PathLike[str] = "<classes>"
) -> dict[int, str]:
    """The checked class table: ``classes``, or ESA WorldCover's when None.

    Raises
    ------
    InputError
        Naming ``label`` and every bad code at once (see :func:`class_problems`).
    """
    if classes is None:
        return dict(WORLDCOVER_CLUTTER)
    problems = class_problems(classes)
    if problems:
        raise InputError(label, problems=[
            Problem(None if code is None else f"class {code}", reason) for code, reason in problems
        ])  # fmt: skip
    return {int(code): str(kind) for code, kind in classes.items()}


def read_landcover(
    path: str | PathLike[str], *, terrain: Grid, classes: Mapping[int, str] | None = None
) -> Grid:
    """Land-cover class codes on the terrain grid's cells.

    Parameters
    ----------
    path
        Any raster GDAL reads (GeoTIFF, VRT, …) of integer class codes, in any CRS; band 1.
        Integral floating-point codes are accepted.
    terrain
        The terrain Grid: the result has its shape, transform and CRS.
    classes
        ``{code: clutter type}`` of the raster's classification (types of
        :data:`lomsong.defaults.CLUTTER_TYPES`); None for ESA WorldCover
        (:data:`lomsong.defaults.WORLDCOVER_CLUTTER`). Only checked and used to report the codes
        it lacks: the result holds the raster's own codes.

    Returns
    -------
    Grid
        int32 codes on ``terrain``'s georeferencing, ``nodata`` = :data:`UNKNOWN_CLASS` (0) where
        the raster has no data or does not reach. Each cell takes the most frequent class of the
        land-cover cells within it (mode) when the land cover is finer than the terrain, else
        the class under its centre (nearest); never an interpolated code.

    Raises
    ------
    InputError
        Naming ``path``: missing file, not a raster, no CRS, no overlap with the terrain, values
        that are not integers; a class table with a non-integer code, code 0 or an unknown
        clutter type (every bad code named).

    Warns
    -----
    InputWarning
        Once, listing the codes of the raster that the class table lacks with their share of
        the grid's cells: they count as open/rural (no clutter loss).

    Notes
    -----
    GDAL reads only the blocks of the raster under the terrain (a continental VRT is fine);
    memory about 12 bytes per terrain cell.
    """
    p = Path(path)
    label = str(path)
    table = class_table(classes, label=label)
    hint = ": save it with one (ESA WorldCover tiles are EPSG:4326)"
    ds = open_raster(p, what="land-cover raster", crs_hint=hint)
    with ds:
        share = _overlap_share(ds, terrain)
        if share <= 0.0:
            src_crs = CRS.from_wkt(ds.crs.to_wkt())
            raise InputError(
                label,
                f"land cover (bounds {list(np.round(tuple(ds.bounds), 4))} in "
                f"{src_crs.to_string()}) does not overlap the terrain (bounds "
                f"{list(np.round(terrain.bounds))} in {terrain.crs.to_string()})",
            )
        resampling = Resampling.mode if _finer(ds, terrain) else Resampling.nearest
        # float64 holds every code a raster can hold exactly, and NaN for "no value"
        out = np.full(terrain.shape, np.nan, dtype=np.float64)
        try:
            reproject(
                rasterio.band(ds, 1), out, src_nodata=ds.nodata,
                dst_transform=terrain.transform,
                dst_crs=rasterio.crs.CRS.from_wkt(terrain.crs.to_wkt()),
                dst_nodata=np.nan, resampling=resampling,
            )  # fmt: skip
        except rasterio.errors.RasterioError as exc:  # truncated or corrupt file
            raise InputError(label, f"cannot be read as a raster: {exc}") from None
    known = np.isfinite(out)
    values = out[known]
    odd = values[values != np.round(values)]
    if odd.size:
        raise InputError(label, f"holds non-integer values (e.g. {odd[0]:g}): a land-cover raster "
                                "holds integer class codes")  # fmt: skip
    lo, hi = np.iinfo(np.int32).min, np.iinfo(np.int32).max
    if values.size and (values.min() < lo or values.max() > hi):
        raise InputError(label, f"class codes beyond the 32-bit integers ({values.min():g} to "
                                f"{values.max():g})")  # fmt: skip
    codes = np.where(known, out, UNKNOWN_CLASS).astype(np.int32)
    del out
    _warn_lacking(codes, table, label)
    logger.info("%s: land cover over %.1f %% of the terrain (%s); elsewhere unknown",
                label, 100.0 * share, resampling.name)  # fmt: skip
    return terrain.with_data(codes, nodata=UNKNOWN_CLASS)


def code_counts(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct codes of an int array and how many cells hold each (sorted by code)."""
    flat = codes.ravel()
    if flat.size and flat.min() >= 0 and flat.max() < 1 << 16:
        counts = np.bincount(flat)  # one pass; np.unique would sort the grid
        present = np.flatnonzero(counts)
        return present, counts[present]
    return np.unique(flat, return_counts=True)


def _warn_lacking(codes: np.ndarray, table: Mapping[int, str], label: str) -> None:
    present, counts = code_counts(codes)
    lacking = [(int(c), int(n)) for c, n in zip(present, counts, strict=True)
               if c != UNKNOWN_CLASS and int(c) not in table]  # fmt: skip
    if not lacking:
        return
    total = codes.size
    listed = ", ".join(f"{c} ({100.0 * n / total:.1f} % of cells)" for c, n in lacking[:20])
    more = f" and {len(lacking) - 20} more" if len(lacking) > 20 else ""
    warnings.warn(
        f"{label}: land-cover class codes {listed}{more} are not in the class table: counted as "
        "open/rural (no clutter loss)",
        InputWarning,
        stacklevel=3,
    )


def _overlap_share(ds: rasterio.DatasetReader, terrain: Grid) -> float:
    """Share of the terrain's area (0-1) inside the raster's extent.

    Measured in the raster's CRS: the terrain (a province) always has a place there, while a
    continental raster may have none in the terrain's UTM zone.
    """
    b = terrain.bounds
    ring = shapely.segmentize(shapely.box(*b), max(b[2] - b[0], b[3] - b[1]) / 64)
    t = Transformer.from_crs(terrain.crs, CRS.from_wkt(ds.crs.to_wkt()), always_xy=True)
    area = shapely.transform(ring, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))
    if not area.is_valid or area.area <= 0:
        return 0.0
    return float(area.intersection(shapely.box(*ds.bounds)).area / area.area)


def _finer(ds: rasterio.DatasetReader, terrain: Grid) -> bool:
    """True when the raster has more cells than the terrain across the terrain's extent."""
    src_crs = CRS.from_wkt(ds.crs.to_wkt())
    t = Transformer.from_crs(terrain.crs, src_crs, always_xy=True)
    left, bottom, right, top = t.transform_bounds(*terrain.bounds, densify_pts=21)
    h, w = terrain.shape
    across = (right - left) / abs(ds.transform.a) / w
    down = (top - bottom) / abs(ds.transform.e) / h
    return math.sqrt(abs(across * down)) > 1.0 + 1e-6
