"""Candidates, the coverage matrix and rank_sites on a hand-built world."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import X0, Y0, make_grid, make_towers, make_villages
from shapely.geometry import Point

from lomsong.coverage.deadzones import dead_zones
from lomsong.coverage.engine import path_loss_points
from lomsong.coverage.predict import predict
from lomsong.layers.households import read_households
from lomsong.report.files import RANKING_CSV_COLUMNS
from lomsong.siting.candidates import candidate_sites
from lomsong.siting.matrix import coverage_matrix
from lomsong.siting.rank import rank_sites


@pytest.fixture(scope="module")
def world():
    # 40 × 10 km: land with a 600 m hill at x = 30 km, sea (0 m) east of x = 36 km
    z = np.full((100, 400), 20.0, dtype=np.float32)
    yy, xx = np.mgrid[0:100, 0:400]
    z += 580.0 * np.exp(-(((xx - 300) ** 2 + (yy - 50) ** 2) / (2 * 15.0**2)))
    z[:, 360:] = 0.0
    terrain = make_grid(z)
    towers = make_towers([(X0 + 3_000, Y0 - 5_000)], eirp_dbm=[55.0])
    villages = make_villages(
        [
            (X0 + 2_000, Y0 - 7_000, X0 + 6_000, Y0 - 3_000),  # around the tower
            (X0 + 22_000, Y0 - 7_000, X0 + 27_000, Y0 - 3_000),  # far west of the hill
            (X0 + 27_000, Y0 - 9_000, X0 + 38_000, Y0 - 1_000),  # the hill and the coast
        ],
        households=[400, 150, 90],
    )
    households = read_households(None, villages=villages, spacing_m=250)
    signal = predict(towers, terrain, max_radius_km=30)
    gaps = dead_zones(signal, villages, households, threshold_dbm=-100)
    return terrain, towers, villages, gaps


def test_candidates_are_on_land_inside_the_area_and_near_dead_zones(world):
    terrain, _, villages, gaps = world
    cands = candidate_sites(terrain, gaps, spacing_m=1000, max_distance_km=5)
    assert len(cands) > 5
    area = villages.geometry.union_all()
    assert cands.within(area.buffer(1e-6)).all()
    assert (terrain.sample(cands.geometry.x, cands.geometry.y) > 0).all()  # never in the sea
    zones = gaps.zones.geometry.union_all()
    assert (cands.distance(zones) <= 5_000 + 1).all()
    hill = cands[cands["kind"] == "hilltop"]
    # the hill top (x = 30.05 km, y = 5.05 km from the corner) is a candidate
    top = Point(X0 + 30_050, Y0 - 5_050)
    assert hill.distance(top).min() <= 150
    assert cands["site_id"].is_unique and cands.crs == terrain.crs


def test_matrix_counts_only_uncovered_households_with_the_towers_engine(world):
    terrain, _, _, gaps = world
    cands = candidate_sites(terrain, gaps, spacing_m=1000)
    m = coverage_matrix(cands, gaps, terrain)
    assert m.cover.shape == (len(cands), len(gaps.uncovered))
    assert m.weights.sum() == pytest.approx(gaps.uncovered["households"].sum())
    # a column is covered exactly where the engine's predicted power reaches the threshold
    i = int(np.argmax(m.cover.sum(axis=1)))
    site = cands.iloc[i]
    loss = path_loss_points(
        terrain, (site.geometry.x, site.geometry.y), m.demand.geometry.x, m.demand.geometry.y,
        f_mhz=site["freq_mhz"], h_tx_m=site["height_m"], max_radius_km=30,
    )  # fmt: skip
    expected = np.nan_to_num(site["eirp_dbm"] - loss, nan=-999) >= -100
    assert (m.cover[[i], :].toarray().ravel() == expected).all()


def test_rank_sites_orders_by_new_households(world):
    terrain, towers, _, gaps = world
    cands = candidate_sites(terrain, gaps, spacing_m=1000)
    ranking = rank_sites(cands, gaps, terrain, sites=3, towers=towers)
    assert list(ranking.columns[: len(RANKING_CSV_COLUMNS)]) == RANKING_CSV_COLUMNS
    m = coverage_matrix(cands, gaps, terrain)
    best_single = (m.cover.astype(float) @ m.weights).max()
    assert ranking["new_households"].iloc[0] == round(best_single)
    gains = ranking["new_households"].to_numpy()
    assert (np.diff(gains) <= 0).all()  # greedy gains never grow
    assert (ranking["cumulative_households"] == np.cumsum(gains)).all()
    total = gaps.uncovered["households"].sum()
    # households are fractional where a village's count is spread over points: each rounded
    # gain is within half a household of the exact share's numerator
    assert ranking["cumulative_share"].iloc[-1] == pytest.approx(
        gains.sum() / total, abs=0.5 * len(gains) / total
    )
    assert ranking["rank"].tolist() == list(range(1, len(ranking) + 1))
    assert (ranking["villages_reached"] >= 1).all()
    # lon/lat are the WGS84 position of the site
    ll = ranking.geometry.to_crs(4326)
    np.testing.assert_allclose(ranking["lon"], ll.x, atol=1e-9)
    np.testing.assert_allclose(ranking["lat"], ll.y, atol=1e-9)
    assert ranking["lon"].between(111.2, 111.5).all()  # E of UTM 49N's 111° meridian
    # the exact MCLP covers at least as many households as greedy
    exact = rank_sites(cands, gaps, terrain, sites=3, method="exact", time_limit_s=20)
    assert exact["cumulative_households"].iloc[-1] >= ranking["cumulative_households"].iloc[-1]


def test_require_backhaul_only_picks_connected_sites(world):
    terrain, towers, _, gaps = world
    cands = candidate_sites(terrain, gaps, spacing_m=1000)
    ranking = rank_sites(cands, gaps, terrain, sites=5, towers=towers, require_backhaul=True,
                         backhaul_max_hop_km=12)  # fmt: skip
    assert ranking["backhaul_ok"].all()
    assert (ranking["backhaul_hops"] >= 1).all()


def test_set_cover_and_budget_through_rank_sites(world):
    terrain, _, _, gaps = world
    cands = candidate_sites(terrain, gaps, spacing_m=1000)
    fewest = rank_sites(cands, gaps, terrain, method="set_cover", target_share=0.8,
                        time_limit_s=20)  # fmt: skip
    assert fewest["cumulative_share"].iloc[-1] >= 0.8 - 1e-9
    assert fewest.attrs["solver"]["method"] == "set_cover"
    # one site fewer cannot reach the target: the greedy with k - 1 sites stays below it
    k = len(fewest)
    if k > 1:
        fewer = rank_sites(cands, gaps, terrain, sites=k - 1, method="exact", time_limit_s=20)
        assert fewer["cumulative_share"].iloc[-1] < 0.8
    cands = cands.assign(cost=np.where(cands["kind"] == "hilltop", 3.0, 1.0))
    within = rank_sites(cands, gaps, terrain, sites=100, budget=4.0)
    spent = cands.set_index("site_id").loc[within["site_id"], "cost"].sum()
    assert spent <= 4.0
