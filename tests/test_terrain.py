"""read_terrain: SRTM .hgt tiles (plain, zipped, 1″ and 3″), mosaics, coverage, voids."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from affine import Affine
from conftest import require
from pyproj import Transformer
from shapely.geometry import box

from lomsong.errors import InputError
from lomsong.layers.terrain import TerrainInfo, read_terrain, srtm_tile_name

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
UTM49 = "EPSG:32649"


def plane(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """A tilted plane continuous across tiles: 1000 m per degree east, 500 m per degree north."""
    return 1000.0 * (lon - 108.0) + 500.0 * (lat - 15.0)


def write_hgt(
    folder: Path,
    lon: int,
    lat: int,
    *,
    n: int = 1201,
    z: Callable[[np.ndarray, np.ndarray], np.ndarray] = plane,
    void: tuple[slice, slice] | None = None,
) -> Path:
    """An SRTM tile: n × n big-endian int16, rows north → south, cell centres on the degree
    lines (1201 for 3″, 3601 for 1″), named by its south-west corner."""
    step = 1.0 / (n - 1)
    lats = lat + 1 - np.arange(n) * step
    lons = lon + np.arange(n) * step
    data = np.round(z(lons[None, :], lats[:, None])).astype(">i2")
    if void is not None:
        data[void] = -32768
    path = folder / srtm_tile_name(lon + 0.5, lat + 0.5)
    data.tofile(path)
    return path


def area_of(lon0: float, lat0: float, lon1: float, lat1: float) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"village_id": ["A"]}, geometry=[box(lon0, lat0, lon1, lat1)], crs="EPSG:4326"
    ).to_crs(UTM49)


def plane_error(grid) -> np.ndarray:
    """|grid − plane| at every cell centre (NaN where the grid is NaN)."""
    x, y = grid.cell_centers()
    lon, lat = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True).transform(x, y)
    return np.abs(grid.data - plane(lon, lat))


def test_tile_names() -> None:
    assert srtm_tile_name(108.8, 15.1) == "N15E108.hgt"
    assert srtm_tile_name(-0.5, -0.5) == "S01W001.hgt"


def test_3_arc_second_hgt_tile_reads_into_utm(tmp_path: Path) -> None:
    tile = write_hgt(tmp_path, 108, 15)
    grid, info = read_terrain(tile, area=area_of(108.4, 15.4, 108.5, 15.5), return_info=True)
    assert grid.crs.to_string() == UTM49
    # native 3″: 1/1200° of longitude at 15.45° N = 89.3 m (finer than 92.8 m of latitude)
    assert grid.res == pytest.approx(89.3, abs=0.1)
    # bilinear reproduces a plane exactly; the int16 file rounds to 0.5 m
    assert np.nanmax(plane_error(grid)) < 0.6
    assert not np.isnan(grid.data).any()
    assert isinstance(info, TerrainInfo)
    assert (info.void_share, info.void_cells, info.outside_share) == (0.0, 0, 0.0)
    assert info.shape == grid.shape and info.sources == (str(tile),)
    coarse = read_terrain(tile, area=area_of(108.4, 15.4, 108.5, 15.5), resolution_m=250.0)
    assert coarse.res == 250.0
    # the grid is snapped to multiples of its cell size: the same area, the same cells
    assert coarse.transform.c % 250.0 == 0.0 and coarse.transform.f % 250.0 == 0.0
    assert np.nanmax(plane_error(coarse)) < 0.6  # still a plane, whatever the cell size


def test_zipped_hgt_reads_through_vsizip_and_equals_the_plain_tile(tmp_path: Path) -> None:
    plain = write_hgt(tmp_path, 108, 15)
    zipped = tmp_path / "zips" / "N15E108.SRTMGL3.hgt.zip"
    zipped.parent.mkdir()
    with zipfile.ZipFile(zipped, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.write(plain, "N15E108.hgt")
    area = area_of(108.4, 15.4, 108.5, 15.5)
    a = read_terrain(plain, area=area)
    b, info = read_terrain(zipped, area=area, return_info=True)
    assert info.sources == (f"/vsizip/{zipped.resolve()}/N15E108.hgt",)
    np.testing.assert_array_equal(a.data, b.data)  # same bytes, same grid: identical
    assert a.transform == b.transform
    c = read_terrain(zipped.parent, area=area)  # a folder of tiles
    np.testing.assert_array_equal(a.data, c.data)


def test_1_arc_second_tile(tmp_path: Path) -> None:
    tile = write_hgt(tmp_path, 108, 15, n=3601)
    grid = read_terrain(tile, area=area_of(108.40, 15.40, 108.43, 15.43))
    # native 1″: 1/3600° of longitude at 15.4° N = 29.8 m
    assert grid.res == pytest.approx(29.8, abs=0.05)
    assert np.nanmax(plane_error(grid)) < 0.6  # int16 rounding of the file, 0.5 m


def test_two_tiles_mosaic_without_a_seam(tmp_path: Path) -> None:
    tiles = [write_hgt(tmp_path, 108, 15), write_hgt(tmp_path, 109, 15)]
    area = area_of(108.95, 15.40, 109.05, 15.45)  # across the 109° E tile edge
    grid, info = read_terrain(tiles, area=area, max_radius_km=1.0, return_info=True)
    assert not np.isnan(grid.data).any() and info.outside_share == 0.0
    assert np.nanmax(plane_error(grid)) < 0.6  # one plane on both sides: no step, no gap
    # the grid spans the area plus 1 km on each side (to one cell of snapping)
    w, s, e, n = area.total_bounds
    assert grid.bounds[0] == pytest.approx(w - 1000, abs=grid.res)
    assert grid.bounds[2] == pytest.approx(e + 1000, abs=grid.res)


def test_terrain_not_covering_the_area_names_the_missing_tiles(tmp_path: Path) -> None:
    tiles = [write_hgt(tmp_path, 108, 15), write_hgt(tmp_path, 109, 15),
             write_hgt(tmp_path, 108, 16)]  # fmt: skip
    # the union of the three tiles' boxes covers the area's box: only the footprint test sees
    # that the north-east quarter has no tile
    with pytest.raises(InputError, match=r"does not cover the area.*missing SRTM tiles: "
                                         r"N16E109\.hgt$"):  # fmt: skip
        read_terrain(tiles, area=area_of(108.95, 15.95, 109.05, 16.05))
    with pytest.raises(InputError, match=r"tiles: N15E109\.hgt, N16E108\.hgt, N16E109\.hgt$"):
        read_terrain(tiles[0], area=area_of(108.95, 15.95, 109.05, 16.05))
    # ...while the margin may run past the tiles: it is clipped to what they hold, and the
    # cells beyond the tile's curved edge (in UTM) are NaN, not extrapolated
    grid, info = read_terrain(
        tiles[0], area=area_of(108.90, 15.40, 108.95, 15.45), max_radius_km=20, return_info=True
    )
    x, y = grid.cell_centers()
    lon, _ = Transformer.from_crs(UTM49, "EPSG:4326", always_xy=True).transform(x, y)
    edge = 109.0 + 1 / 2400  # the last column of cells reaches half a 3″ cell past 109° E
    # one output cell (~0.0008°) either side of the edge may go either way
    assert np.isnan(grid.data[lon > edge + 0.001]).all()
    assert np.isfinite(grid.data[lon < edge - 0.001]).all()
    assert 0 < info.outside_share < 0.05 and info.void_cells == 0


def test_srtm_voids_are_filled_and_their_share_reported(tmp_path: Path) -> None:
    # flat 100 m with a 60 × 60-cell void (−32768) around 108.45 E, 15.45 N
    rows = slice(int(0.55 * 1200) - 30, int(0.55 * 1200) + 30)
    cols = slice(int(0.45 * 1200) - 30, int(0.45 * 1200) + 30)

    def flat(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        return np.full(np.broadcast(lon, lat).shape, 100.0)

    tile = write_hgt(tmp_path, 108, 15, z=flat, void=(rows, cols))
    # the area spans 200 × 200 source cells: the void is 3600 / 40000 = 9 % of it
    lo, la = 108.45 - 100 / 1200, 15.45 - 100 / 1200
    area = area_of(lo, la, lo + 200 / 1200, la + 200 / 1200)
    grid, info = read_terrain(tile, area=area, return_info=True)
    # resampling to UTM moves the void's edge by up to a cell: 4 × 60 edge cells of 40000
    assert info.void_share == pytest.approx(0.09, abs=0.006)
    assert info.void_cells > 0 and info.filled_cells == info.void_cells
    assert info.unfilled_cells == 0
    # inverse-distance interpolation of a constant is that constant (float32 rounding)
    assert np.nanmax(np.abs(grid.data - 100.0)) < 1e-3 and not np.isnan(grid.data).any()


def test_voids_in_a_slope_are_interpolated_between_their_edges(tmp_path: Path) -> None:
    void = (slice(630, 690), slice(510, 570))
    tile = write_hgt(tmp_path, 108, 15, void=void)
    area = area_of(108.40, 15.40, 108.50, 15.50)
    grid = read_terrain(tile, area=area)
    err = plane_error(grid)
    # far from the hole the plane is exact (int16 rounding); inside it IDW stays within the
    # range of the hole's rim (the plane spans 50 m east–west over 60 cells): < 25 m
    assert np.nanmax(err) < 25.0
    assert np.nanmedian(err) < 0.6


def test_nan_heights_in_a_float_geotiff(tmp_path: Path) -> None:
    # 100 × 100 cells of 30 m in UTM 49N, heights 0..99 m west → east, a 10 × 10 NaN block
    data = np.tile(np.arange(100, dtype=np.float32), (100, 1))
    data[40:50, 40:50] = np.nan
    t = Affine(30.0, 0, 600_000.0, 0, -30.0, 1_700_000.0)
    path = tmp_path / "dem.tif"
    with rasterio.open(path, "w", driver="GTiff", width=100, height=100, count=1,
                       dtype="float32", crs=UTM49, transform=t, nodata=np.nan) as dst:  # fmt: skip
        dst.write(data, 1)
    area = gpd.GeoDataFrame(geometry=[box(600_000, 1_697_000, 603_000, 1_700_000)], crs=UTM49)
    grid, info = read_terrain(path, area=area, return_info=True)
    # same CRS and resolution: the grid is the file's own cells, copied without resampling
    assert grid.shape == (100, 100) and grid.transform == t
    assert info.void_cells == 100 and info.void_share == pytest.approx(0.01, abs=1e-9)
    assert not np.isnan(grid.data).any()
    filled = grid.data[40:50, 40:50]
    # a west–east ramp: IDW fills between the rim's values 39 and 50 m
    assert filled.min() >= 39.0 and filled.max() <= 50.0
    np.testing.assert_array_equal(grid.data[:, :40], data[:, :40])  # untouched elsewhere


def test_a_terrain_with_only_voids_is_an_error(tmp_path: Path) -> None:
    tile = write_hgt(tmp_path, 108, 15, void=(slice(None), slice(None)))
    with pytest.raises(InputError, match="no valid elevation"):
        read_terrain(tile, area=area_of(108.4, 15.4, 108.5, 15.5))


def test_missing_files_and_crs_are_all_reported(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        read_terrain([tmp_path / "N15E108.hgt", tmp_path / "N15E109.hgt"])
    assert [p.row for p in err.value.problems] == [
        str(tmp_path / "N15E108.hgt"), str(tmp_path / "N15E109.hgt")
    ]  # fmt: skip
    assert all(p.reason == "terrain file not found" for p in err.value.problems)
    path = tmp_path / "nocrs.tif"
    with rasterio.open(path, "w", driver="GTiff", width=4, height=4, count=1, dtype="int16",
                       transform=Affine(30.0, 0, 0, 0, -30.0, 120.0)) as dst:  # fmt: skip
        dst.write(np.zeros((4, 4), dtype=np.int16), 1)
    with pytest.raises(InputError, match="raster has no CRS"):
        read_terrain(path)
    bad = tmp_path / "N15E110.hgt"
    bad.write_bytes(b"\0" * 1000)  # not 1201² nor 3601² cells
    with pytest.raises(InputError, match=r"cannot be read as a raster.*1201² or 3601²"):
        read_terrain(bad)


def test_real_srtm_of_da_nang_cropped_and_reprojected() -> None:
    path = SHARED_DATA / "danang_lora" / "srtm_danang.tif"
    require(path.exists(), f"shared data not found at {path}")
    # Sơn Trà peninsula and the coast east of the city centre
    area = area_of(108.22, 16.08, 108.30, 16.11)
    grid, info = read_terrain(path, area=area, max_radius_km=1.0, return_info=True)
    assert grid.crs.to_string() == UTM49
    assert grid.res == pytest.approx(29.7, abs=0.1)  # 1″ of longitude at 16° N
    assert info.void_share == 0.0  # the OpenTopography crop is void-free
    with rasterio.open(path) as src:
        x, y = grid.cell_centers()
        lon, lat = Transformer.from_crs(UTM49, "EPSG:4326", always_xy=True).transform(x, y)
        ok = np.isfinite(grid.data)
        pick = np.flatnonzero(ok.ravel())[::97]
        nearest = np.array(
            [v[0] for v in src.sample(zip(lon.ravel()[pick], lat.ravel()[pick], strict=True))]
        )
        window = src.read(1)
    diff = np.abs(grid.data.ravel()[pick] - nearest)
    # bilinear vs nearest source cell: at most half a cell of slope apart; on the peninsula's
    # slopes (up to ~40 %, 15 m per 30 m cell) that is ≤ ~8 m, typically ~1 m
    assert np.median(diff) < 2.0
    assert np.percentile(diff, 95) < 10.0
    # bilinear never exceeds the source's highest cell, and keeps the peak within 30 m
    assert np.nanmax(grid.data) <= window.max() + 1e-3
    assert np.nanmax(grid.data) > 600.0  # Sơn Trà's summit, ~690 m, lies in the area


def test_the_real_dem_written_as_an_hgt_tile_reads_back_identically(tmp_path: Path) -> None:
    path = SHARED_DATA / "danang_lora" / "srtm_danang.tif"
    require(path.exists(), f"shared data not found at {path}")
    with rasterio.open(path) as src:
        dem = src.read(1)
        t = src.transform
    # an SRTM 1″ tile is 3601² big-endian int16 whose south-west corner names it, row 0 on
    # its north edge (16° N for N15E108) and cell centres on whole arc-seconds. The crop runs
    # across 16° N: its southern part goes into N15E108 at its own position.
    tile = np.full((3601, 3601), -32768, dtype=">i2")
    col0 = round((t.c - 108.0) * 3600 + 0.5)
    first = round((t.f - 16.0) * 3600 - 0.5)  # the crop's row on the 16° N line
    dem = dem[first:]
    t = t @ Affine.translation(0, first)
    row0 = round((16.0 - t.f) * 3600 + 0.5)
    h, w = dem.shape
    assert (row0, col0) >= (0, 0) and row0 + h <= 3601 and col0 + w <= 3601
    tile[row0 : row0 + h, col0 : col0 + w] = dem
    (tmp_path / "N15E108.hgt").write_bytes(tile.tobytes())
    with rasterio.open(tmp_path / "N15E108.hgt") as hgt:
        back = hgt.read(1, window=((row0, row0 + h), (col0, col0 + w)))
        # cell centres of the .hgt grid coincide with the GeoTIFF's (same 1″ lattice)
        x, y = hgt.xy(row0, col0)
    np.testing.assert_array_equal(back, dem)  # exactly the same elevations
    cx, cy = t.c + 0.5 * t.a, t.f + 0.5 * t.e
    assert (x, y) == pytest.approx((cx, cy), abs=1e-9)
    # and read_terrain gives the same grid from the tile as from the GeoTIFF
    area = area_of(108.15, 15.90, 108.25, 15.97)
    # (the same cell size for both: "native" follows each source's mid-latitude)
    a = read_terrain(path, area=area, max_radius_km=1.0, resolution_m=30.0)
    b = read_terrain(tmp_path / "N15E108.hgt", area=area, max_radius_km=1.0, resolution_m=30.0)
    assert a.shape == b.shape and a.transform == b.transform
    np.testing.assert_allclose(a.data, b.data, atol=1e-3)


def test_an_area_in_lon_lat_gives_a_grid_in_the_areas_utm_zone(tmp_path: Path) -> None:
    # most users' area is in EPSG:4326: the grid is in the area's UTM zone, as read_villages
    # chooses — 48N for an area at 107.4–107.5° E, 49N at 108.4–108.5° E
    tile48 = write_hgt(tmp_path, 107, 15, z=lambda lon, lat: plane(lon + 1.0, lat))
    area48 = gpd.GeoDataFrame(geometry=[box(107.4, 15.4, 107.5, 15.5)], crs="EPSG:4326")
    grid = read_terrain(tile48, area=area48)
    assert grid.crs.to_string() == "EPSG:32648"
    assert grid.data.shape[0] > 0 and np.isfinite(grid.data).all()
    tile49 = write_hgt(tmp_path, 108, 15)
    lonlat = gpd.GeoDataFrame(geometry=[box(108.4, 15.4, 108.5, 15.5)], crs="EPSG:4326")
    got = read_terrain(tile49, area=lonlat)
    want = read_terrain(tile49, area=lonlat.to_crs(UTM49))
    assert got.crs.to_string() == UTM49
    assert got.transform == want.transform
    np.testing.assert_array_equal(got.data, want.data)


def test_an_area_without_crs_is_refused_by_name(tmp_path: Path) -> None:
    tile = write_hgt(tmp_path, 108, 15)
    naive = gpd.GeoDataFrame(geometry=[box(108.4, 15.4, 108.5, 15.5)])
    with pytest.raises(InputError, match=r"<area>: has no CRS"):
        read_terrain(tile, area=naive)


#: Heights of one source cell resampled through two interpolated meshes (the crop's and the
#: whole tile's): each places the cell centre within 0.01 source cell (the mesh tolerance) of
#: the exact position, so on slopes of up to ~100 % (30 m per 30 m cell) they differ by < 1 cm.
MESH_TOLERANCE_M = 0.01
#: GDAL's warper places cell centres with its own approximate transformer, to 1/8 of a source
#: cell (its default): up to ~4 m apart on the steepest SRTM slopes of Đà Nẵng and Hải Phòng;
#: typically a few centimetres.
GDAL_PLACEMENT_M = (0.05, 1.0, 4.0)  # median, 99th percentile, max


@pytest.mark.parametrize("name", ["srtm_danang.tif", "srtm_haiphong.tif"])
def test_cropped_reading_gives_the_heights_of_the_whole_tile(name: str) -> None:
    # the crop (area + radius, read and resampled alone) against the whole DEM resampled onto
    # the same grid lines: the same cells, the same heights
    path = SHARED_DATA / "danang_lora" / name
    require(path.exists(), f"shared data not found at {path}")
    full = read_terrain(path)
    with rasterio.open(path) as src:
        b = src.bounds
    lon, lat = (b.left + b.right) / 2, (b.bottom + b.top) / 2
    area = gpd.GeoDataFrame(geometry=[box(lon - 0.03, lat - 0.02, lon + 0.02, lat + 0.03)],
                            crs="EPSG:4326")  # fmt: skip
    crop = read_terrain(path, area=area, max_radius_km=2.0)
    assert crop.crs == full.crs and crop.res == full.res
    assert crop.data.size < full.data.size / 4
    col = (crop.transform.c - full.transform.c) / full.res
    row = (full.transform.f - crop.transform.f) / full.res
    assert col == pytest.approx(round(col), abs=1e-6) and row == pytest.approx(round(row), abs=1e-6)
    r0, c0 = round(row), round(col)
    same = full.data[r0 : r0 + crop.shape[0], c0 : c0 + crop.shape[1]]
    assert np.isfinite(crop.data).all() and np.isfinite(same).all()
    assert np.abs(crop.data - same).max() < MESH_TOLERANCE_M


@pytest.mark.parametrize("name", ["srtm_danang.tif", "srtm_haiphong.tif"])
def test_resampling_agrees_with_gdals_bilinear_warp(name: str) -> None:
    from rasterio.warp import Resampling, reproject

    path = SHARED_DATA / "danang_lora" / name
    require(path.exists(), f"shared data not found at {path}")
    grid = read_terrain(path)
    ref = np.full(grid.shape, np.nan, dtype=np.float32)
    with rasterio.open(path) as src:
        reproject(src.read(1).astype(np.float32), ref, src_transform=src.transform,
                  src_crs=src.crs, src_nodata=-32768, dst_transform=grid.transform,
                  dst_crs=grid.crs.to_wkt(), dst_nodata=np.nan,
                  resampling=Resampling.bilinear)  # fmt: skip
    both = np.isfinite(grid.data) & np.isfinite(ref)
    # the tile's footprint (its edges are NaN in both, but for a few edge cells)
    assert (np.isfinite(grid.data) != np.isfinite(ref)).sum() < 0.001 * both.sum()
    d = np.abs(grid.data - ref)[both]
    median, p99, worst = GDAL_PLACEMENT_M
    assert np.median(d) < median and np.percentile(d, 99) < p99 and d.max() < worst
