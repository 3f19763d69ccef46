"""Read terrain (GeoTIFF, VRT, SRTM .hgt) into one metric Grid covering the area."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from os import PathLike
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import rasterio.crs
from affine import Affine
from pyproj import CRS, Transformer
from rasterio.enums import Resampling
from rasterio.fill import fillnodata
from rasterio.warp import reproject

from lomsong.errors import InputError
from lomsong.grid import Grid
from lomsong.layers.crs import WGS84, check_metric, utm_crs

__all__ = ["read_terrain"]

logger = logging.getLogger(__name__)

SRTM_VOID = -32768


def read_terrain(
    sources: str | PathLike[str] | Sequence[str | PathLike[str]],
    *,
    area: gpd.GeoDataFrame | None = None,
    max_radius_km: float = 0.0,
    crs: CRS | str | None = None,
    resolution_m: float | None = None,
) -> Grid:
    """Read, mosaic, crop and reproject terrain into a metric elevation Grid.

    Parameters
    ----------
    sources
        One raster or several tiles (any GDAL raster: GeoTIFF, VRT, SRTM ``.hgt``).
    area
        Layer whose bounds, grown by ``max_radius_km``, set the extent (default: whole raster).
        The area itself must be covered by the terrain, or an :class:`InputError` says so.
    max_radius_km
        Margin around the area (the prediction radius).
    crs
        Target metric CRS (default ``area.crs``, else the UTM zone of the raster's centre).
    resolution_m
        Cell size (m); default the source's native resolution in metres (≈30 m for SRTM 1″).

    Returns
    -------
    Grid
        float32 elevation (m) with NaN where no data; SRTM voids are filled by inverse-distance
        interpolation (``rasterio.fill.fillnodata``) and their share logged.

    Notes
    -----
    Reprojection is bilinear. Memory: about 3 × the output grid's float32 size.
    """
    paths = [Path(sources)] if isinstance(sources, (str, PathLike)) else [Path(s) for s in sources]
    if not paths:
        raise InputError(None, "no terrain file given")
    for p in paths:
        if not p.exists():
            raise InputError(p, "terrain file not found")
    datasets = []
    try:
        for p in paths:
            try:
                datasets.append(rasterio.open(p))
            except rasterio.errors.RasterioIOError as exc:
                raise InputError(p, f"cannot be read as a raster: {exc}") from None
        for p, ds in zip(paths, datasets, strict=True):
            if ds.crs is None:
                raise InputError(p, "raster has no CRS")
        src_crs = CRS.from_wkt(datasets[0].crs.to_wkt())
        dst_crs = _target_crs(crs, area, datasets[0])
        bounds = _target_bounds(datasets, area, max_radius_km, dst_crs, paths)
        res = resolution_m or _native_resolution_m(datasets[0], src_crs)
        data, transform = _warp(datasets, bounds, res, dst_crs)
    finally:
        for ds in datasets:
            ds.close()
    valid = np.isfinite(data)
    void_share = 1.0 - valid.mean()
    if void_share == 1:
        raise InputError(paths[0], "terrain has no valid elevation in the area")
    if void_share > 0:
        logger.info("terrain: filling %.2f %% void cells", 100 * void_share)
        data = fillnodata(np.where(valid, data, 0).astype(np.float32), mask=valid.astype(np.uint8))
        # cells farther than fillnodata's search distance from data stay void
        data[~valid & (data == 0)] = np.nan
    return Grid(data.astype(np.float32), transform, dst_crs)


def _target_crs(crs: object, area: gpd.GeoDataFrame | None, ds: rasterio.DatasetReader) -> CRS:
    if crs is not None:
        out = CRS.from_user_input(crs)
    elif area is not None and area.crs is not None:
        out = CRS.from_user_input(area.crs)
    else:
        src = CRS.from_wkt(ds.crs.to_wkt())
        if src.is_projected:
            out = src
        else:
            b = ds.bounds
            out = utm_crs((b.left + b.right) / 2, (b.bottom + b.top) / 2)
    check_metric(out)
    return out


def _bounds_in(ds: rasterio.DatasetReader, crs: CRS) -> tuple[float, float, float, float]:
    t = Transformer.from_crs(CRS.from_wkt(ds.crs.to_wkt()), crs, always_xy=True)
    return t.transform_bounds(*ds.bounds, densify_pts=21)


def _target_bounds(
    datasets: list,
    area: gpd.GeoDataFrame | None,
    max_radius_km: float,
    crs: CRS,
    paths: list[Path],
) -> tuple[float, float, float, float]:
    boxes = np.array([_bounds_in(ds, crs) for ds in datasets])
    have = (boxes[:, 0].min(), boxes[:, 1].min(), boxes[:, 2].max(), boxes[:, 3].max())
    if area is None:
        return have
    a = area.to_crs(crs).total_bounds
    # the area itself must be covered; the margin is clipped to what the tiles hold
    tol = 1.0  # m: edges that coincide up to reprojection noise
    if not (
        a[0] >= have[0] - tol and a[1] >= have[1] - tol
        and a[2] <= have[2] + tol and a[3] <= have[3] + tol
    ):  # fmt: skip
        missing = _missing_tiles(area, datasets)
        hint = f"; missing SRTM tiles: {', '.join(missing)}" if missing else ""
        raise InputError(
            ", ".join(map(str, paths)),
            f"terrain does not cover the area (area bounds {np.round(a).tolist()}, "
            f"terrain bounds {np.round(have).tolist()} in {crs.to_string()}){hint}",
        )
    m = max_radius_km * 1000.0
    return (
        max(a[0] - m, have[0]), max(a[1] - m, have[1]),
        min(a[2] + m, have[2]), min(a[3] + m, have[3]),
    )  # fmt: skip


def _missing_tiles(area: gpd.GeoDataFrame, datasets: list) -> list[str]:
    """Names (``N15E108.hgt``) of the 1°×1° SRTM tiles the area needs but no source covers."""
    lo = area.to_crs(WGS84).total_bounds
    have = [_bounds_in(ds, WGS84) for ds in datasets]
    names = []
    for lat in range(math.floor(lo[1]), math.floor(lo[3]) + 1):
        for lon in range(math.floor(lo[0]), math.floor(lo[2]) + 1):
            covered = any(
                b[0] <= lon + 0.01 and b[2] >= lon + 0.99 and b[1] <= lat + 0.01
                and b[3] >= lat + 0.99
                for b in have
            )  # fmt: skip
            if not covered:
                ns, ew = ("N" if lat >= 0 else "S"), ("E" if lon >= 0 else "W")
                names.append(f"{ns}{abs(lat):02d}{ew}{abs(lon):03d}.hgt")
    return names


def _native_resolution_m(ds: rasterio.DatasetReader, crs: CRS) -> float:
    if crs.is_projected:
        return float(abs(ds.transform.a))
    lat = (ds.bounds.bottom + ds.bounds.top) / 2
    # metres per degree of latitude ≈ 111,320; use the finer of the two axes
    return float(min(abs(ds.transform.a) * math.cos(math.radians(lat)), abs(ds.transform.e))
                 * 111_320.0)  # fmt: skip


def _warp(
    datasets: list, bounds: tuple[float, float, float, float], res: float, crs: CRS
) -> tuple[np.ndarray, Affine]:
    left, bottom, right, top = bounds
    width = max(1, int(math.ceil((right - left) / res - 1e-6)))
    height = max(1, int(math.ceil((top - bottom) / res - 1e-6)))
    transform = Affine(res, 0.0, left, 0.0, -res, top)
    out = np.full((height, width), np.nan, dtype=np.float32)
    dst_crs = rasterio.crs.CRS.from_wkt(crs.to_wkt())
    for ds in datasets:
        band = ds.read(1, masked=True).astype(np.float32)
        src = band.filled(np.nan)
        src[src <= SRTM_VOID] = np.nan  # SRTM voids even when nodata is unset
        tmp = np.full_like(out, np.nan)
        reproject(
            src,
            tmp,
            src_transform=ds.transform,
            src_crs=ds.crs,
            src_nodata=np.nan,
            dst_transform=transform,
            dst_crs=dst_crs,
            dst_nodata=np.nan,
            resampling=Resampling.bilinear,
        )
        out = np.where(np.isfinite(out), out, tmp)
    return out, transform
