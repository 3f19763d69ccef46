"""Sea is what is water: the ≤ 0 m region reaching the grid's edge, or a water layer — not every
cell at or below 0 m (a delta's fields are land)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from conftest import CRS, SHARED_DATA, X0, Y0, make_grid, require
from shapely.geometry import box

from lomsong.layers.terrain import read_terrain
from lomsong.layers.water import SEA_LEVEL_M, read_water, sea_mask
from lomsong.propagation.paths import terrain_profile
from lomsong.siting.candidates import candidate_sites


def delta() -> np.ndarray:
    """60 × 100 cells of 100 m: sea (0 m) in the east 20 columns, a delta plain at 1 m with an
    inland depression (−2 m, 10 × 10 cells) and a lagoon-free coast."""
    z = np.full((60, 100), 1.0, dtype=np.float32)
    z[:, 80:] = 0.0  # the sea reaches the east edge
    z[20:30, 20:30] = -2.0  # a polder-like pocket below sea level, far from the sea
    return z


def test_only_the_low_ground_connected_to_the_edge_is_sea():
    mask = sea_mask(make_grid(delta())).data
    assert mask[:, 80:].all()  # the sea
    assert not mask[20:30, 20:30].any()  # the inland pocket at −2 m is land
    assert not mask[:, :80].any()


def test_voids_are_never_sea_and_do_not_connect_a_pocket():
    z = delta()
    z[25, 30:80] = np.nan  # a void line from the pocket to the sea
    mask = sea_mask(make_grid(z)).data
    assert not mask[np.isnan(z)].any()
    assert not mask[20:30, 20:30].any()


def test_a_water_layer_decides_instead_of_the_elevation():
    terrain = make_grid(delta())
    lagoon = box(X0 + 2_000, Y0 - 3_000, X0 + 3_000, Y0 - 2_000)  # the pocket's cells
    water = gpd.GeoDataFrame(geometry=[lagoon], crs=CRS).to_crs(4326)  # any CRS: reprojected
    mask = sea_mask(terrain, water=water).data
    assert mask[20:30, 20:30].all() and mask.sum() == 100
    assert not mask[:, 80:].any()  # the layer says where water is: nothing else


def test_read_water_refuses_what_is_not_polygons(tmp_path):
    path = tmp_path / "water.gpkg"
    gpd.GeoDataFrame(geometry=gpd.points_from_xy([X0], [Y0]), crs=CRS).to_file(path)
    with pytest.raises(ValueError, match="not polygons"):
        read_water(path, crs=CRS)


def test_candidates_stand_in_the_delta_pocket_not_in_the_sea():
    terrain = make_grid(delta())

    class Gaps:  # the two layers candidate_sites reads
        zones = gpd.GeoDataFrame(
            {"zone_id": [1]}, geometry=[box(X0, Y0 - 6_000, X0 + 10_000, Y0)], crs=CRS
        )
        villages = zones

    c = candidate_sites(terrain, Gaps(), spacing_m=1_000.0, max_distance_km=1.0)
    rows, cols = terrain.rowcol(c.geometry.x.to_numpy(), c.geometry.y.to_numpy())
    assert (cols < 80).all()  # never in the sea
    in_pocket = (rows >= 20) & (rows < 30) & (cols >= 20) & (cols < 30)
    assert in_pocket.any()  # the pocket at −2 m is land: sites may stand there


def test_a_path_over_the_pocket_is_not_across_the_sea():
    terrain = make_grid(delta())
    sea = sea_mask(terrain)
    over_pocket = terrain_profile(terrain, (X0 + 1_500, Y0 - 2_500), (X0 + 3_500, Y0 - 2_500),
                                  h_tx_m=30.0, f_mhz=900.0, sea=sea)  # fmt: skip
    assert over_pocket.water_share == 0.0
    over_sea = terrain_profile(terrain, (X0 + 7_000, Y0 - 2_500), (X0 + 9_900, Y0 - 2_500),
                               h_tx_m=30.0, f_mhz=900.0, sea=sea)  # fmt: skip
    assert over_sea.water_share > 0.6


def test_haiphong_delta_pockets_are_land_and_the_gulf_is_sea():
    path = SHARED_DATA / "danang_lora" / "srtm_haiphong.tif"
    require(path.exists(), f"shared data not found at {path}")
    terrain = read_terrain([path])
    z = terrain.data
    low = np.isfinite(z) & (z <= SEA_LEVEL_M)
    mask = sea_mask(terrain).data
    assert mask.sum() > 0  # the Gulf of Tonkin reaches the tile's edge
    assert (mask <= low).all()  # sea is always low ground
    pockets = low & ~mask
    # measured on this tile in lomsong's own grid: a few percent of the cells are ≤ 0 m in
    # pockets that touch no sea (the Red River delta's fields) — all of them land now
    assert pockets.sum() > 0.005 * np.isfinite(z).sum()
