"""Read terrain (GeoTIFF, VRT, SRTM .hgt tiles, zipped or not) into one metric Grid.

Tiles are mosaicked, cropped to the area plus the prediction radius, reprojected to the project
CRS (bilinear) and their voids filled by interpolation. What was done is described by a
:class:`TerrainInfo`, returned with the grid when ``return_info=True`` (the Grid itself carries
no metadata).

Only the source cells under the area (plus the radius and two cells of margin) are read. They
are resampled onto the metric grid by :func:`_resample`: each output cell centre is located in
the source's grid through a coarse mesh of exactly transformed points (pyproj), interpolated
between them — the approximate transformer of GDAL's warper (``gdalwarp -et``), here refined
until the interpolation error is below :data:`_MESH_TOLERANCE` of a source cell, an order below
GDAL's default of 1/8 —, and its elevation is the bilinear (tent) mean of the source cells
around it, over those that hold data: a void neighbour's weight is given to the others, and
output cells larger than the source's widen the tent to their size, both as GDAL's bilinear
warp does. Against ``rasterio.warp.reproject`` (bilinear) on the real SRTM of Đà Nẵng and Hải
Phòng: median 1-2 cm apart, 99th percentile < 0.35 m, at most 1.7 m on the steepest slopes
(GDAL places cells to 1/8 cell). numba, parallel over rows, the coverage mask in the same
pass: ~0.12 CPU-s for the 4 million cells of a 30 km radius at 30 m, where reproject took
~0.45 CPU-s, plus a second pass for the mask.
"""

from __future__ import annotations

import logging
import math
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from os import PathLike
from pathlib import Path
from typing import Literal, overload

import geopandas as gpd
import numba as nb
import numpy as np
import rasterio
import rasterio.errors
import rasterio.windows
import shapely
from affine import Affine
from pyproj import CRS, Transformer
from rasterio.fill import fillnodata

from lomsong.errors import InputError, Problem
from lomsong.grid import Grid
from lomsong.layers.crs import WGS84, check_metric, metric_area, utm_crs

__all__ = ["read_terrain", "TerrainInfo", "srtm_tile_name", "SRTM_VOID", "FILL_SEARCH_CELLS"]

logger = logging.getLogger(__name__)

#: SRTM's void marker; values at or below it are voids even when the file declares no nodata.
SRTM_VOID = -32768
#: Farthest a void cell is filled from (in cells of the output grid); larger voids stay NaN.
#: 100 cells ≈ 3 km at 30 m, wider than almost every SRTM v2 void in Vietnam's mountains.
FILL_SEARCH_CELLS = 100
_UNFILLED = np.float32(-1e30)  # marks void cells fillnodata could not reach
#: Largest error (source cells) of the interpolated mesh that locates output cells in the
#: source's grid; the mesh is refined until its worst midpoint is within it.
_MESH_TOLERANCE = 0.01
#: Starting spacing of that mesh (output cells): UTM 49N at 30 m ↔ 1″ geographic cells,
#: interpolated over 32 cells (~1 km), is within 2e-4 source cell of exact.
_MESH_STEP = 32
#: File endings taken from a folder or a zip archive as terrain.
TERRAIN_SUFFIXES = (".hgt", ".tif", ".tiff", ".vrt", ".img", ".dem", ".asc", ".bil")


@dataclass(frozen=True)
class TerrainInfo:
    """What :func:`read_terrain` read and did (for logs and ``summary.json``).

    Attributes
    ----------
    sources
        The rasters opened (zip members as GDAL ``/vsizip/`` paths).
    crs
        The grid's CRS (``EPSG:32649``…).
    resolution_m
        Cell size (m).
    shape
        (rows, cols) of the grid.
    void_share
        Share of the grid's cells over terrain data (inside a source's footprint) that were
        voids (nodata, NaN, SRTM −32768) before filling, 0–1.
    void_cells, filled_cells, unfilled_cells
        Void cells, those filled by interpolation, and those left NaN (farther than
        :data:`FILL_SEARCH_CELLS` from any data).
    outside_share
        Share of the grid's cells outside every source (NaN; e.g. a corner of the reprojected
        box, or the sea beyond the last tile).
    """

    sources: tuple[str, ...]
    crs: str
    resolution_m: float
    shape: tuple[int, int]
    void_share: float
    void_cells: int
    filled_cells: int
    unfilled_cells: int
    outside_share: float

    def to_dict(self) -> dict:
        """Plain JSON-ready values."""
        out = asdict(self)
        out["sources"] = list(self.sources)
        out["shape"] = list(self.shape)
        return out


@overload
def read_terrain(
    sources: str | PathLike[str] | Sequence[str | PathLike[str]],
    *,
    area: gpd.GeoDataFrame | None = ...,
    max_radius_km: float = ...,
    crs: CRS | str | None = ...,
    resolution_m: float | None = ...,
    return_info: Literal[False] = ...,
) -> Grid: ...


@overload
def read_terrain(
    sources: str | PathLike[str] | Sequence[str | PathLike[str]],
    *,
    area: gpd.GeoDataFrame | None = ...,
    max_radius_km: float = ...,
    crs: CRS | str | None = ...,
    resolution_m: float | None = ...,
    return_info: Literal[True],
) -> tuple[Grid, TerrainInfo]: ...


def read_terrain(
    sources: str | PathLike[str] | Sequence[str | PathLike[str]],
    *,
    area: gpd.GeoDataFrame | None = None,
    max_radius_km: float = 0.0,
    crs: CRS | str | None = None,
    resolution_m: float | None = None,
    return_info: bool = False,
) -> Grid | tuple[Grid, TerrainInfo]:
    """Read, mosaic, crop and reproject terrain into a metric elevation Grid.

    Parameters
    ----------
    sources
        One or several rasters: any GDAL raster (GeoTIFF, VRT, …), SRTM ``.hgt`` tiles (1″
        3601² or 3″ 1201² cells, keeping their SRTM name such as ``N15E108.hgt``), zip
        archives of them (``N15E108.hgt.zip``, ``N15E108.SRTMGL1.hgt.zip``; read in place
        through GDAL's ``/vsizip/``), or a folder holding such files. Opened read-only.
    area
        Layer whose bounds, grown by ``max_radius_km``, set the extent (default: all the
        terrain). The area itself must be covered by the sources, or an :class:`InputError`
        names the missing 1° SRTM tiles.
    max_radius_km
        Margin around the area (the prediction radius, km); clipped to what the sources hold.
    crs
        Target metric CRS (default ``area.crs`` when it is metric, the UTM zone of the area's
        centre when it is not — e.g. EPSG:4326 —, else the UTM zone of the terrain's centre).
    resolution_m
        Cell size (m); default the finest source's native resolution (≈30 m for SRTM 1″,
        ≈90 m for 3″).
    return_info
        Also return a :class:`TerrainInfo` (void share, …).

    Returns
    -------
    Grid or (Grid, TerrainInfo)
        float32 elevation (m above the EGM96 geoid for SRTM). Voids inside the sources are
        filled by inverse-distance interpolation (``rasterio.fill.fillnodata``, up to
        :data:`FILL_SEARCH_CELLS` cells away); cells outside every source stay NaN.

    Raises
    ------
    InputError
        Missing or unreadable files (all listed at once), a raster or an area without CRS,
        terrain not covering the area (with the missing SRTM tile names), or no valid elevation
        at all.

    Notes
    -----
    Reprojection is bilinear; only the window of each source over the target extent is read.
    Memory: about 4 × the output grid's float32 size plus one source window.
    """
    paths = [sources] if isinstance(sources, (str, PathLike)) else list(sources)
    if not paths:
        raise InputError(None, "no terrain file given")
    if area is not None:
        area = metric_area(area)  # e.g. in EPSG:4326: its UTM zone, as read_villages chooses
    names = _expand(paths)
    label = ", ".join(str(p) for p in paths)
    datasets: list = []
    try:
        problems: list[Problem] = []
        for name in names:
            try:
                with warnings.catch_warnings():
                    # a raster without georeferencing is reported below as an InputError
                    warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
                    ds = rasterio.open(name)
            except rasterio.errors.RasterioIOError as exc:
                hint = (
                    " (SRTM tiles must keep their name, e.g. N15E108.hgt, and hold 1201² or "
                    "3601² big-endian int16 cells)"
                    if name.lower().endswith(".hgt")
                    else ""
                )
                problems.append(Problem(name, f"cannot be read as a raster: {exc}{hint}"))
                continue
            datasets.append(ds)
            if ds.crs is None:
                problems.append(Problem(name, "raster has no CRS"))
        if problems:
            raise InputError(label, problems=problems)
        dst_crs = _target_crs(crs, area, datasets)
        res = float(resolution_m or min(_native_resolution_m(ds) for ds in datasets))
        if not res > 0:
            raise ValueError(f"resolution_m must be > 0, got {resolution_m}")
        bounds = _target_bounds(datasets, area, max_radius_km, dst_crs, label, res)
        data, covered, transform = _warp(datasets, bounds, res, dst_crs)
    finally:
        for ds in datasets:
            ds.close()

    valid = np.isfinite(data)
    voids = covered & ~valid
    n_cov = int(covered.sum())
    if n_cov == 0 or not valid.any():
        raise InputError(label, "terrain has no valid elevation in the area")
    void_share = float(voids.sum()) / n_cov
    filled = data
    if voids.any():
        filled = fillnodata(
            np.where(valid, data, _UNFILLED).astype(np.float32),
            mask=valid.astype(np.uint8),
            max_search_distance=FILL_SEARCH_CELLS,
        )
        # fillnodata leaves cells beyond its search distance at their input value; a filled
        # value is a weighted mean of real elevations and can never equal the sentinel
        filled = np.where(filled == _UNFILLED, np.nan, filled).astype(np.float32)
    filled[~covered] = np.nan
    unfilled = int((voids & ~np.isfinite(filled)).sum())
    info = TerrainInfo(
        sources=tuple(names),
        crs=dst_crs.to_string(),
        resolution_m=res,
        shape=(int(data.shape[0]), int(data.shape[1])),
        void_share=round(void_share, 6),
        void_cells=int(voids.sum()),
        filled_cells=int(voids.sum()) - unfilled,
        unfilled_cells=unfilled,
        outside_share=round(1.0 - n_cov / data.size, 6),
    )
    if voids.any():
        logger.info("terrain: %.2f %% of cells were void; %d filled, %d left NaN",
                    100 * void_share, info.filled_cells, unfilled)  # fmt: skip
    if unfilled:
        logger.warning("terrain: %d void cells too far from data to fill (left NaN)", unfilled)
    grid = Grid(filled.astype(np.float32), transform, dst_crs)
    return (grid, info) if return_info else grid


def srtm_tile_name(lon: float, lat: float) -> str:
    """Name of the 1°×1° SRTM tile holding (lon, lat): its south-west corner, ``N15E108.hgt``."""
    la, lo = math.floor(lat), math.floor(lon)
    return f"{'N' if la >= 0 else 'S'}{abs(la):02d}{'E' if lo >= 0 else 'W'}{abs(lo):03d}.hgt"


def _expand(paths: list[str | PathLike[str]]) -> list[str]:
    """GDAL names of every raster: files, zip members (``/vsizip/``), a folder's tiles."""
    out: list[str] = []
    problems: list[Problem] = []
    for raw in paths:
        p = Path(raw)
        if str(raw).startswith("/vsi"):
            out.append(str(raw))
        elif not p.exists():
            problems.append(Problem(str(p), "terrain file not found"))
        elif p.is_dir():
            found = sorted(
                q for q in p.iterdir() if q.name.lower().endswith(TERRAIN_SUFFIXES + (".zip",))
            )
            if not found:
                problems.append(Problem(str(p), "folder holds no terrain file"))
            out += _expand(found)
        elif p.suffix.lower() == ".zip":
            try:
                with zipfile.ZipFile(p) as archive:
                    members = [m for m in archive.namelist()
                               if m.lower().endswith(TERRAIN_SUFFIXES)]  # fmt: skip
            except zipfile.BadZipFile as exc:
                problems.append(Problem(str(p), f"not a readable zip archive: {exc}"))
                continue
            if not members:
                problems.append(Problem(str(p), "zip archive holds no terrain file"))
            out += [f"/vsizip/{p.resolve()}/{m}" for m in members]
        else:
            out.append(str(p))
    if problems:
        raise InputError(", ".join(map(str, paths)), problems=problems)
    return out


def _src_crs(ds: rasterio.DatasetReader) -> CRS:
    return CRS.from_wkt(ds.crs.to_wkt())


def _target_crs(crs: object, area: gpd.GeoDataFrame | None, datasets: list) -> CRS:
    if crs is not None:
        out = CRS.from_user_input(crs)
    elif area is not None and area.crs is not None:
        out = CRS.from_user_input(area.crs)
    else:
        src = _src_crs(datasets[0])
        if src.is_projected:
            out = src
        else:
            boxes = np.array([_bounds_in(ds, WGS84) for ds in datasets])
            lon = (boxes[:, 0].min() + boxes[:, 2].max()) / 2
            lat = (boxes[:, 1].min() + boxes[:, 3].max()) / 2
            out = utm_crs(lon, lat)
    check_metric(out)
    return out


def _bounds_in(ds: rasterio.DatasetReader, crs: CRS) -> tuple[float, float, float, float]:
    t = Transformer.from_crs(_src_crs(ds), crs, always_xy=True)
    return t.transform_bounds(*ds.bounds, densify_pts=21)


def _footprint(ds: rasterio.DatasetReader, crs: CRS) -> shapely.Geometry:
    """The source's extent as a polygon in ``crs`` (edges densified: they curve there)."""
    b = ds.bounds
    ring = shapely.segmentize(shapely.box(*b), max(b.right - b.left, b.top - b.bottom) / 64)
    t = Transformer.from_crs(_src_crs(ds), crs, always_xy=True)
    return shapely.transform(ring, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))


def _target_bounds(
    datasets: list,
    area: gpd.GeoDataFrame | None,
    max_radius_km: float,
    crs: CRS,
    label: str,
    res: float,
) -> tuple[float, float, float, float]:
    boxes = np.array([_bounds_in(ds, crs) for ds in datasets])
    have = (boxes[:, 0].min(), boxes[:, 1].min(), boxes[:, 2].max(), boxes[:, 3].max())
    if area is None:
        return _snap(have, have, res, _anchor(datasets, crs, res))
    shape = area.to_crs(crs).geometry.union_all()
    footprints = shapely.union_all([_footprint(ds, crs) for ds in datasets])
    # 1 m inward: edges that coincide up to reprojection noise are not gaps
    gap = shape.difference(footprints).buffer(-1.0)
    if not gap.is_empty:
        missing = _missing_tiles(gpd.GeoSeries([gap], crs=crs).to_crs(WGS84).iloc[0])
        hint = f"; missing SRTM tiles: {', '.join(missing)}" if missing else ""
        a = shape.bounds
        raise InputError(
            label,
            f"terrain does not cover the area ({gap.area / 1e6:.1f} km² uncovered; area bounds "
            f"{np.round(a).tolist()}, terrain bounds {np.round(have).tolist()} in "
            f"{crs.to_string()}){hint}",
        )
    a = shape.bounds
    m = max_radius_km * 1000.0
    box = (
        max(a[0] - m, have[0]), max(a[1] - m, have[1]),
        min(a[2] + m, have[2]), min(a[3] + m, have[3]),
    )  # fmt: skip
    return _snap(box, have, res, _anchor(datasets, crs, res))


def _anchor(datasets: list, crs: CRS, res: float) -> tuple[float, float]:
    """Grid origin: the first source's cell corners when it is already in ``crs`` at ``res``
    (its cells are then copied, not resampled), else multiples of ``res``."""
    ds = datasets[0]
    t = ds.transform
    if _src_crs(ds) == crs and math.isclose(abs(t.a), res) and math.isclose(abs(t.e), res):
        return float(t.c % res), float(t.f % res)
    return 0.0, 0.0


def _snap(
    box: tuple[float, ...], have: tuple[float, ...], res: float, anchor: tuple[float, float]
) -> tuple[float, float, float, float]:
    """Align a box to the grid of ``anchor`` and ``res``: outward, but never past ``have``
    (the sources' extent), so the same area gives the same grid every run and no edge row
    lies wholly outside the terrain."""
    ox, oy = anchor
    eps = 1e-6 * res

    def lo(v: float, limit: float, o: float) -> float:
        out = o + math.floor((v - o) / res + 1e-9) * res
        return out if out >= limit - eps else o + math.ceil((limit - o) / res - 1e-9) * res

    def hi(v: float, limit: float, o: float) -> float:
        out = o + math.ceil((v - o) / res - 1e-9) * res
        return out if out <= limit + eps else o + math.floor((limit - o) / res + 1e-9) * res

    return (
        lo(box[0], have[0], ox),
        lo(box[1], have[1], oy),
        hi(box[2], have[2], ox),
        hi(box[3], have[3], oy),
    )


def _missing_tiles(gap_lonlat: shapely.Geometry) -> list[str]:
    """Names (``N15E108.hgt``) of the 1°×1° SRTM tiles that hold part of the uncovered area."""
    x0, y0, x1, y1 = gap_lonlat.bounds
    names = []
    for lat in range(math.floor(y0), math.floor(y1) + 1):
        for lon in range(math.floor(x0), math.floor(x1) + 1):
            if gap_lonlat.intersects(shapely.box(lon, lat, lon + 1, lat + 1)):
                names.append(srtm_tile_name(lon + 0.5, lat + 0.5))
    return names


def _native_resolution_m(ds: rasterio.DatasetReader) -> float:
    crs = _src_crs(ds)
    if crs.is_projected:
        return float(abs(ds.transform.a))
    lat = (ds.bounds.bottom + ds.bounds.top) / 2
    # metres per degree of latitude ≈ 111,320; use the finer of the two axes
    return float(min(abs(ds.transform.a) * math.cos(math.radians(lat)), abs(ds.transform.e))
                 * 111_320.0)  # fmt: skip


def _read_window(
    ds: rasterio.DatasetReader, bounds: tuple[float, float, float, float], crs: CRS
) -> tuple[np.ndarray, Affine] | None:
    """The source's cells over ``bounds`` (target CRS) as float32, voids NaN; None if none."""
    t = Transformer.from_crs(crs, _src_crs(ds), always_xy=True)
    box = t.transform_bounds(*bounds, densify_pts=21)
    win = rasterio.windows.from_bounds(*box, transform=ds.transform)
    # two cells of margin: bilinear needs the neighbours of the edge cells
    win = rasterio.windows.Window(
        math.floor(win.col_off) - 2, math.floor(win.row_off) - 2,
        math.ceil(win.width) + 5, math.ceil(win.height) + 5,
    )  # fmt: skip
    try:
        win = win.intersection(rasterio.windows.Window(0, 0, ds.width, ds.height))
    except rasterio.errors.WindowError:
        return None
    if win.width < 1 or win.height < 1:
        return None
    try:
        band = ds.read(1, window=win, masked=True)
    except rasterio.errors.RasterioError as exc:  # truncated or corrupt file
        raise InputError(ds.name, f"cannot be read as a raster: {exc}") from None
    src = band.astype(np.float32).filled(np.nan)
    src[src <= SRTM_VOID] = np.nan  # SRTM voids even when nodata is unset
    return src, _window_transform(ds.transform, win)


def _window_transform(t: Affine, win: rasterio.windows.Window) -> Affine:
    """Transform of a window (north-up), without rasterio's deprecated ``Affine *``."""
    col, row = float(win.col_off), float(win.row_off)
    return Affine(t.a, t.b, t.c + col * t.a + row * t.b, t.d, t.e, t.f + col * t.d + row * t.e)


def _warp(
    datasets: list, bounds: tuple[float, float, float, float], res: float, crs: CRS
) -> tuple[np.ndarray, np.ndarray, Affine]:
    """Mosaic (first source wins where they overlap) and the mask of cells any source covers.

    Sources on one grid (same CRS and cell size, cell edges aligned: SRTM tiles) are pasted
    into one array before resampling, so bilinear interpolation sees across tile edges and
    the mosaic has no seam.
    """
    left, bottom, right, top = bounds
    width = max(1, int(math.ceil((right - left) / res - 1e-6)))
    height = max(1, int(math.ceil((top - bottom) / res - 1e-6)))
    transform = Affine(res, 0.0, left, 0.0, -res, top)
    out = np.full((height, width), np.nan, dtype=np.float32)
    covered = np.zeros((height, width), dtype=bool)
    for group in _same_grid(datasets):
        pieces = [(w, ds) for ds in group if (w := _read_window(ds, bounds, crs)) is not None]
        if not pieces:
            continue
        src, present, src_transform = _paste([w for w, _ in pieces])
        tmp, cov = _resample(src, present, src_transform, _src_crs(pieces[0][1]), transform,
                             crs, out.shape)  # fmt: skip
        out = np.where(np.isfinite(out), out, tmp)
        covered |= cov
    return out, covered, transform


def _resample(
    src: np.ndarray,
    present: np.ndarray,
    src_transform: Affine,
    src_crs: CRS,
    transform: Affine,
    crs: CRS,
    shape: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray]:
    """``src`` (float32, voids NaN) resampled bilinearly onto the grid of ``transform``/``crs``
    and ``shape``, and the mask of output cells whose centre falls on a ``present`` source
    cell (nearest cell: where the sources are, voids included). See the module docstring."""
    h, w = shape
    rows, cols = _mesh_lines(h, _MESH_STEP), _mesh_lines(w, _MESH_STEP)
    to_src = Transformer.from_crs(crs, src_crs, always_xy=True)
    inverse = ~src_transform

    def locate(r: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Source (row, col) of cell centres, in cell-centre units ((0, 0): the first cell's
        centre, as :func:`lomsong.grid.bilinear_rc`), exactly."""
        t, v = transform, inverse
        x = t.a * (c + 0.5) + t.b * (r + 0.5) + t.c
        y = t.d * (c + 0.5) + t.e * (r + 0.5) + t.f
        sx, sy = (np.asarray(u) for u in to_src.transform(x, y))
        return v.d * sx + v.e * sy + v.f - 0.5, v.a * sx + v.b * sy + v.c - 0.5

    while True:
        mr, mc = locate(*np.meshgrid(rows.astype(np.float64), cols.astype(np.float64),
                                     indexing="ij"))  # fmt: skip
        if len(rows) == h and len(cols) == w:
            break  # every cell is a mesh point: exact
        # the worst error of the interpolation is near the middle of a mesh cell
        midr = (rows[:-1] + rows[1:]) / 2.0
        midc = (cols[:-1] + cols[1:]) / 2.0
        er, ec = locate(*np.meshgrid(midr, midc, indexing="ij"))
        ir = 0.25 * (mr[:-1, :-1] + mr[1:, :-1] + mr[:-1, 1:] + mr[1:, 1:])
        ic = 0.25 * (mc[:-1, :-1] + mc[1:, :-1] + mc[:-1, 1:] + mc[1:, 1:])
        if not (np.nanmax(np.hypot(er - ir, ec - ic), initial=0.0) > _MESH_TOLERANCE):
            break  # (NaN — a point the transform refuses — refines too, down to exact)
        step = max(1, int(rows[1] - rows[0]) // 4)
        rows, cols = _mesh_lines(h, step), _mesh_lines(w, step)
    # output cells coarser than the source's widen the tent to their size (GDAL's bilinear
    # does the same): every source cell under an output cell counts, none is skipped
    scale_r, scale_c = _cell_scale(rows, cols, mr, mc)
    out = np.empty(shape, dtype=np.float32)
    covered = np.empty(shape, dtype=np.bool_)
    _resample_rows(np.ascontiguousarray(src, dtype=np.float32), np.ascontiguousarray(present),
                   rows.astype(np.int64), cols.astype(np.int64), mr, mc, scale_r, scale_c, out,
                   covered)  # fmt: skip
    return out, covered


def _cell_scale(
    rows: np.ndarray, cols: np.ndarray, mr: np.ndarray, mc: np.ndarray
) -> tuple[float, float]:
    """Size of an output cell in source rows and columns (at least 1), from the mesh."""
    with np.errstate(invalid="ignore"):
        dr = np.hypot(np.diff(mr, axis=0), np.diff(mc, axis=0)) / np.diff(rows)[:, None]
        dc = np.hypot(np.diff(mr, axis=1), np.diff(mc, axis=1)) / np.diff(cols)[None, :]
    scale_r = float(np.nanmedian(dr)) if dr.size and np.isfinite(dr).any() else 1.0
    scale_c = float(np.nanmedian(dc)) if dc.size and np.isfinite(dc).any() else 1.0
    return max(1.0, scale_r), max(1.0, scale_c)


def _mesh_lines(n: int, step: int) -> np.ndarray:
    """Mesh rows (or columns) of ``n`` cells every ``step``, the last cell always included."""
    lines = np.arange(0, n, step)
    return lines if lines[-1] == n - 1 else np.append(lines, n - 1)


@nb.njit(cache=True, parallel=True)
def _resample_rows(
    src: np.ndarray,
    present: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    mr: np.ndarray,
    mc: np.ndarray,
    scale_r: float,
    scale_c: float,
    out: np.ndarray,
    covered: np.ndarray,
) -> None:
    """Fill ``out``/``covered`` (see :func:`_resample`): source position of each cell from
    the mesh (rows × cols points, positions mr, mc) bilinearly, then the tent-weighted mean
    of the source cells within ``scale_r`` rows and ``scale_c`` columns (1: bilinear) over
    those holding data, NaN where none does or outside the source."""
    h, w = out.shape
    sh, sw = src.shape
    n_rows = rows.shape[0]
    n_cols = cols.shape[0]
    for i in nb.prange(h):
        a = 0
        while a < n_rows - 2 and rows[a + 1] <= i:
            a += 1
        span_r = rows[a + 1] - rows[a] if n_rows > 1 else 1
        u = (i - rows[a]) / span_r if n_rows > 1 else 0.0
        a2 = a + 1 if n_rows > 1 else a
        b = 0
        for j in range(w):
            while b < n_cols - 2 and cols[b + 1] <= j:
                b += 1
            span_c = cols[b + 1] - cols[b] if n_cols > 1 else 1
            v = (j - cols[b]) / span_c if n_cols > 1 else 0.0
            b2 = b + 1 if n_cols > 1 else b
            r = ((1.0 - u) * ((1.0 - v) * mr[a, b] + v * mr[a, b2])
                 + u * ((1.0 - v) * mr[a2, b] + v * mr[a2, b2]))  # fmt: skip
            c = ((1.0 - u) * ((1.0 - v) * mc[a, b] + v * mc[a, b2])
                 + u * ((1.0 - v) * mc[a2, b] + v * mc[a2, b2]))  # fmt: skip
            out[i, j] = np.nan
            covered[i, j] = False
            # the source cell holding the centre (its edges at ±0.5 in centre units)
            if not (-0.5 <= r < sh - 0.5 and -0.5 <= c < sw - 0.5):  # also False for NaN
                continue
            covered[i, j] = present[int(math.floor(r + 0.5)), int(math.floor(c + 0.5))]
            # tent weights 1 − |distance| / scale over the source cells within the scale
            acc = 0.0
            wsum = 0.0
            for ii in range(max(0, int(math.floor(r - scale_r)) + 1),
                            min(sh, int(math.floor(r + scale_r)) + 1)):  # fmt: skip
                wr = 1.0 - abs(ii - r) / scale_r
                if wr <= 0.0:
                    continue
                for jj in range(max(0, int(math.floor(c - scale_c)) + 1),
                                min(sw, int(math.floor(c + scale_c)) + 1)):  # fmt: skip
                    wt = wr * (1.0 - abs(jj - c) / scale_c)
                    z = src[ii, jj]
                    if wt > 0.0 and not math.isnan(z):
                        acc += wt * z
                        wsum += wt
            if wsum > 1e-9:
                out[i, j] = acc / wsum


def _same_grid(datasets: list) -> list[list]:
    """Datasets grouped by grid: CRS, cell size and alignment of cell edges (in file order)."""
    groups: dict[tuple, list] = {}
    for ds in datasets:
        t = ds.transform
        key = (
            ds.crs.to_wkt(), round(t.a, 12), round(t.e, 12),
            round((t.c / t.a) % 1.0, 4) % 1.0, round((t.f / t.e) % 1.0, 4) % 1.0,
        )  # fmt: skip
        groups.setdefault(key, []).append(ds)
    return list(groups.values())


def _paste(
    windows: list[tuple[np.ndarray, Affine]],
) -> tuple[np.ndarray, np.ndarray, Affine]:
    """One array from windows on one grid; the first window wins where they overlap."""
    t0 = windows[0][1]
    offsets = [(round((t.f - t0.f) / t0.e), round((t.c - t0.c) / t0.a)) for _, t in windows]
    r0 = min(r for r, _ in offsets)
    c0 = min(c for _, c in offsets)
    h = max(r + a.shape[0] for (r, _), (a, _) in zip(offsets, windows, strict=True)) - r0
    w = max(c + a.shape[1] for (_, c), (a, _) in zip(offsets, windows, strict=True)) - c0
    data = np.full((h, w), np.nan, dtype=np.float32)
    present = np.zeros((h, w), dtype=bool)
    for (r, c), (a, _) in zip(offsets, windows, strict=True):
        sl = (slice(r - r0, r - r0 + a.shape[0]), slice(c - c0, c - c0 + a.shape[1]))
        free = ~np.isfinite(data[sl])
        data[sl] = np.where(free, a, data[sl])
        present[sl] = True
    t = Affine(t0.a, 0.0, t0.c + c0 * t0.a, 0.0, t0.e, t0.f + r0 * t0.e)
    return data, present, t
