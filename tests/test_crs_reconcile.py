"""Layers in different CRSs are reprojected to the grid they are combined with, not refused:
towers to the terrain's CRS, villages and households to the signal's, candidates and towers
to the terrain's when ranking. Only a layer (or grid) without any CRS is refused."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import CRS, X0, Y0, make_grid, make_towers, make_villages

from lomsong.coverage.deadzones import dead_zones
from lomsong.coverage.predict import predict
from lomsong.errors import InputError
from lomsong.layers.crs import match_crs, metric_area
from lomsong.layers.households import read_households
from lomsong.siting.candidates import candidate_sites
from lomsong.siting.rank import rank_sites

UTM50 = "EPSG:32650"  # the next zone east of the terrain's 32649


@pytest.fixture
def world():
    """40 × 10 km of flat ground with a 300 m hill at x = 30 km; a tower at x = 5 km; a near
    village and two far ones (dead, with the hill next to them for candidates)."""
    z = np.full((100, 400), 20.0, dtype=np.float32)
    yy, xx = np.mgrid[0:100, 0:400]
    z += 300.0 * np.exp(-(((xx - 300) / 8.0) ** 2 + ((yy - 50) / 8.0) ** 2))
    terrain = make_grid(z)
    towers = make_towers([(X0 + 5_000, Y0 - 5_000)], eirp_dbm=[58.0])
    villages = make_villages(
        [
            (X0 + 6_000, Y0 - 6_000, X0 + 8_000, Y0 - 4_000),
            (X0 + 26_000, Y0 - 6_000, X0 + 28_000, Y0 - 4_000),
            (X0 + 32_000, Y0 - 6_000, X0 + 34_000, Y0 - 4_000),
        ],
        households=[300, 120, 80],
    )
    households = read_households(None, villages=villages, spacing_m=200)
    return terrain, towers, villages, households


def test_predict_reprojects_towers_from_another_utm_zone(world) -> None:
    terrain, towers, _, _ = world
    towers50 = towers.to_crs(UTM50)
    assert towers50.crs.to_string() == UTM50
    got = predict(towers50, terrain, max_radius_km=12)
    want = predict(towers50.to_crs(CRS), terrain, max_radius_km=12)
    np.testing.assert_array_equal(got.power.data, want.power.data)
    np.testing.assert_array_equal(got.serving.data, want.serving.data)
    assert got.towers.crs == terrain.crs  # the returned towers are in the terrain's CRS
    assert got.towers.geometry.iloc[0].equals_exact(towers.geometry.iloc[0], tolerance=1e-3)


def test_predict_refuses_towers_without_any_crs(world) -> None:
    terrain, towers, _, _ = world
    naive = gpd.GeoDataFrame(pd.DataFrame(towers.drop(columns="geometry")),
                             geometry=list(towers.geometry))  # fmt: skip
    assert naive.crs is None
    with pytest.raises(InputError, match=r"<towers>: has no CRS"):
        predict(naive, terrain, max_radius_km=12)


def test_dead_zones_reproject_villages_and_households_to_the_signal(world) -> None:
    terrain, towers, villages, households = world
    signal = predict(towers, terrain, max_radius_km=30)
    want = dead_zones(signal, villages, households, threshold_dbm=-100)
    got = dead_zones(signal, villages.to_crs(4326), households.to_crs(UTM50),
                     threshold_dbm=-100)  # fmt: skip
    assert want.dead["village_id"].tolist() == ["V2", "V3"]  # the case has dead villages
    cols = ["village_id", "households_covered", "households_uncovered", "dead"]
    pd.testing.assert_frame_equal(got.villages[cols], want.villages[cols])
    assert got.villages.crs == got.households.crs == got.zones.crs == terrain.crs
    np.testing.assert_array_equal(got.households["covered"], want.households["covered"])
    assert len(got.zones) == len(want.zones) > 0
    with pytest.raises(InputError, match=r"<households>: has no CRS"):
        dead_zones(signal, villages, households.set_crs(None, allow_override=True))


def test_candidates_and_ranking_reproject_their_layers_to_the_terrain(world) -> None:
    terrain, towers, villages, households = world
    signal = predict(towers, terrain, max_radius_km=30)
    gaps = dead_zones(signal, villages, households, threshold_dbm=-100)
    want_c = candidate_sites(terrain, gaps, area=villages)
    got_c = candidate_sites(terrain, gaps, area=villages.to_crs(4326))
    assert len(want_c) > 0
    assert got_c.geometry.equals(want_c.geometry)
    want = rank_sites(want_c, gaps, terrain, sites=2, towers=towers)
    got = rank_sites(want_c.to_crs(4326), gaps, terrain, sites=2, towers=towers.to_crs(UTM50))
    assert want["new_households"].sum() > 0
    assert got["site_id"].tolist() == want["site_id"].tolist()
    assert got["new_households"].tolist() == want["new_households"].tolist()
    assert got["backhaul_hops"].tolist() == want["backhaul_hops"].tolist()
    assert got.crs == terrain.crs


def test_match_crs_and_metric_area() -> None:
    pts = make_towers([(X0, Y0)])
    assert match_crs(pts, CRS, "<towers>") is pts  # same CRS: the layer itself
    assert match_crs(pts, UTM50, "<towers>").crs.to_string() == UTM50
    with pytest.raises(InputError, match=r"<terrain>: cannot be placed on a grid"):
        match_crs(pts, None, "<terrain>")
    ll = pts.to_crs(4326)
    assert metric_area(ll).crs.to_epsg() == 32649  # the area's own UTM zone
    assert metric_area(pts) is pts
    with pytest.raises(InputError, match=r"<area>: has no CRS"):
        metric_area(pts.set_crs(None, allow_override=True))
