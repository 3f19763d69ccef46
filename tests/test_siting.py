"""Candidates, the coverage matrix and rank_sites on a hand-built world."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from conftest import CRS, X0, Y0, make_grid, make_towers, make_villages
from shapely.geometry import Point, box

from lomsong.config import load_config
from lomsong.coverage.deadzones import dead_zones
from lomsong.coverage.engine import path_loss_points
from lomsong.coverage.predict import predict
from lomsong.coverage.pruning import tower_params
from lomsong.demo import write_demo
from lomsong.errors import ConfigError, InputError
from lomsong.layers.households import read_households
from lomsong.pipeline import run
from lomsong.report.files import RANKING_CSV_COLUMNS
from lomsong.siting.candidates import candidate_sites, read_candidates
from lomsong.siting.matrix import CoverageMatrix, coverage_matrix
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
    # a column is covered exactly where the engine's predicted level (a 4G candidate: RSRP,
    # the service EIRP of tower_params) reaches the threshold
    i = int(np.argmax(m.cover.sum(axis=1)))
    site = cands.iloc[i]
    loss = path_loss_points(
        terrain, (site.geometry.x, site.geometry.y), m.demand.geometry.x, m.demand.geometry.y,
        f_mhz=site["freq_mhz"], h_tx_m=site["height_m"], max_radius_km=30,
    )  # fmt: skip
    expected = np.nan_to_num(tower_params(site)[2] - loss, nan=-999) >= -100
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
    # each figure is rounded on its own (fractional household weights): within half a
    # household per site, as tests/test_examples.py checks
    assert (np.abs(ranking["cumulative_households"] - np.cumsum(gains)) <=
            0.5 * np.arange(1, len(gains) + 1)).all()  # fmt: skip
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
    terrain, towers, villages, gaps = world
    # two candidates, both bringing households: one west of the hill, 21.5 km from the tower
    # over flat land; one behind the 600 m hill, 30 km from the tower (beyond a 25 km hop),
    # whose only other link — to the western site — the hill blocks
    two = gpd.GeoDataFrame(geometry=[Point(X0 + 24_500, Y0 - 5_000),
                                     Point(X0 + 33_000, Y0 - 5_000)], crs=CRS)  # fmt: skip
    cands = read_candidates(two, area=villages)
    west, east = cands["site_id"]
    free = rank_sites(cands, gaps, terrain, sites=2, towers=towers, backhaul_max_hop_km=25)
    assert sorted(free["site_id"]) == sorted([west, east])
    assert (free["new_households"] > 0).all()
    assert not free.set_index("site_id").loc[east, "backhaul_ok"]
    connected = rank_sites(cands, gaps, terrain, sites=2, towers=towers, require_backhaul=True,
                           backhaul_max_hop_km=25)  # fmt: skip
    assert connected["site_id"].tolist() == [west]  # the unconnected one is left out
    assert connected["backhaul_ok"].all()
    assert (connected["backhaul_hops"] >= 1).all()


def test_set_cover_finds_the_fewest_sites(world):
    terrain, _, _, gaps = world
    cands = candidate_sites(terrain, gaps, spacing_m=1000)
    m = coverage_matrix(cands, gaps, terrain)
    target = 0.95
    # no single site reaches the target: the fewest is two or more, so "one fewer" is a claim
    assert (m.cover.astype(float) @ m.weights).max() / m.weights.sum() < target
    fewest = rank_sites(cands, gaps, terrain, method="set_cover", target_share=target,
                        time_limit_s=20)  # fmt: skip
    assert fewest["cumulative_share"].iloc[-1] >= target - 1e-9
    assert fewest.attrs["solver"]["method"] == "set_cover"
    k = len(fewest)
    assert k >= 2
    # one site fewer cannot reach the target: the optimal k − 1 sites stay below it
    fewer = rank_sites(cands, gaps, terrain, sites=k - 1, method="exact", time_limit_s=20)
    assert len(fewer) == k - 1
    assert fewer["cumulative_share"].iloc[-1] < target


def test_budget_limits_what_is_proposed(world):
    terrain, _, _, gaps = world
    cands = candidate_sites(terrain, gaps, spacing_m=1000)
    cands = cands.assign(cost=np.where(cands["kind"] == "hilltop", 3.0, 1.0))
    cost = cands.set_index("site_id")["cost"]
    unlimited = rank_sites(cands, gaps, terrain, sites=100)
    assert cost[unlimited["site_id"]].sum() > 4.0  # without a budget the plan costs more
    within = rank_sites(cands, gaps, terrain, sites=100, budget=4.0)
    assert len(within) >= 1
    spent = cost[within["site_id"]].sum()
    assert spent <= 4.0
    # the budget went on households: no site affordable with what is left would add any
    m = coverage_matrix(cands, gaps, terrain)
    chosen = cands["site_id"].isin(within["site_id"]).to_numpy()
    reached = np.asarray(m.cover[np.flatnonzero(chosen)].sum(axis=0)).ravel() > 0
    gains = m.cover.astype(float) @ (m.weights * ~reached)
    affordable = (cands["cost"].to_numpy() <= 4.0 - spent + 1e-9) & ~chosen
    assert not (gains[affordable] > 0).any()
    # and it reaches at least what the best single site within the budget reaches
    singles = m.cover.astype(float) @ m.weights
    best_single = singles[cands["cost"].to_numpy() <= 4.0].max()
    assert within["cumulative_households"].iloc[-1] >= round(best_single)


# -- require_backhaul: a site is backhauled only through the network or sites that are built ----
def _line_world():
    """40 km of flat ground; one tower at x = 0.5 km and three candidate sites on a line:
    D (5.5 km, direct hop, 40 homes), R (15.5 km, direct hop, covers no-one: a bare relay) and
    B (30.5 km, 100 homes) — 30 km from the tower, beyond the 20 km hop limit, so B reaches the
    network only through R."""
    terrain = make_grid(np.full((20, 400), 10.0))
    y = Y0 - 1_000
    towers = make_towers([(X0 + 500, y)])
    cands = gpd.GeoDataFrame(
        {"site_id": ["D", "R", "B"], "kind": "grid", "height_m": 30.0, "cost": 1.0},
        geometry=gpd.points_from_xy([X0 + 5_500, X0 + 15_500, X0 + 30_500], [y] * 3),
        crs=terrain.crs,
    )
    villages = make_villages([(X0, Y0 - 2_000, X0 + 40_000, Y0)], households=[140])
    demand = gpd.GeoDataFrame({"village_id": ["V1", "V1"], "households": [40.0, 100.0]},
                              geometry=gpd.points_from_xy([X0 + 5_600, X0 + 30_600], [y, y]),
                              crs=terrain.crs)  # fmt: skip
    cover = sp.csr_array(np.array([[1, 0], [0, 0], [0, 1]], dtype=bool))
    matrix = CoverageMatrix(cover=cover, power=sp.csr_array(cover.astype(np.float32) * -90),
                            weights=demand["households"].to_numpy(), demand=demand)  # fmt: skip
    return terrain, towers, cands, SimpleNamespace(villages=villages), matrix


def _chains_are_built(ranking, tower_sites) -> None:
    """Every hop of every chain is a chosen site, and the chain ends on the network."""
    chosen = set(ranking["site_id"])
    for via, hops, ok in ranking[["backhaul_via", "backhaul_hops", "backhaul_ok"]].itertuples(
        index=False
    ):
        ids = via.split(" > ") if via else []
        assert hops == (len(ids) if ids else -1) and ok == bool(ids)
        if ids:
            assert set(ids[:-1]) <= chosen and ids[-1] in tower_sites


def test_require_backhaul_builds_the_relay_or_leaves_the_site_out():
    terrain, towers, cands, gaps, matrix = _line_world()
    kw = {"towers": towers, "matrix": matrix, "backhaul_max_hop_km": 20.0}
    free = rank_sites(cands, gaps, terrain, sites=2, **kw)
    assert free["site_id"].tolist() == ["B", "D"]  # B is best but R, its relay, is not built
    assert free.set_index("site_id").loc["B", "backhaul_via"] == ""
    assert not free.set_index("site_id").loc["B", "backhaul_ok"]
    # greedy: the relay is part of the plan and counts toward `sites`
    plan = rank_sites(cands, gaps, terrain, sites=2, require_backhaul=True, **kw)
    assert plan["site_id"].tolist() == ["R", "B"]
    row = plan.set_index("site_id")
    assert row.loc["B", "backhaul_via"] == "R > S1" and row.loc["B", "backhaul_hops"] == 2
    assert row.loc["R", "backhaul_via"] == "S1" and row.loc["R", "new_households"] == 0
    assert plan["backhaul_ok"].all()
    _chains_are_built(plan, {"S1"})
    # with room for one site only, B is out of reach: D, which has its own hop, is chosen
    one = rank_sites(cands, gaps, terrain, sites=1, require_backhaul=True, **kw)
    assert one["site_id"].tolist() == ["D"]
    # exact and set_cover: only sites with a direct hop to the network
    for method in ("exact", "set_cover"):
        opt = rank_sites(cands, gaps, terrain, sites=2, method=method, require_backhaul=True,
                         target_share=0.2, time_limit_s=10, **kw)  # fmt: skip
        assert "B" not in set(opt["site_id"]) and opt["backhaul_ok"].all()
        _chains_are_built(opt, {"S1"})


def test_sites_and_budget_are_both_respected():
    terrain, towers, cands, gaps, matrix = _line_world()
    for method in ("greedy", "exact"):
        few = rank_sites(cands, gaps, terrain, sites=1, budget=10.0, method=method,
                         matrix=matrix, time_limit_s=10)  # fmt: skip
        assert len(few) == 1  # at most `sites`, however large the budget
        cheap = rank_sites(cands.assign(cost=[1.0, 1.0, 5.0]), gaps, terrain, sites=3,
                           budget=2.0, method=method, matrix=matrix, time_limit_s=10)  # fmt: skip
        assert cheap["site_id"].tolist() == ["D"]  # within the budget: B costs 5
    with pytest.raises(InputError, match="budget"):
        rank_sites(cands, gaps, terrain, budget=2.0, method="set_cover", matrix=matrix)


# -- candidates: hilltops never crowd out the grid over the hamlets ---------------------------
def test_many_hilltops_still_leave_grid_candidates_over_the_dead_villages():
    # 30 × 30 km egg-crate hills: a hilltop every ~850 m, hundreds near the two dead hamlets
    yy, xx = np.mgrid[0:300, 0:300] * 100.0 + 50.0
    z = 300.0 + 60.0 * np.sin(2 * np.pi * xx / 1200.0) * np.sin(2 * np.pi * yy / 1200.0)
    terrain = make_grid(z)
    hamlets = [(X0 + 6_000, Y0 - 8_000, X0 + 8_000, Y0 - 6_000),
               (X0 + 20_000, Y0 - 24_000, X0 + 22_000, Y0 - 22_000)]  # fmt: skip
    zones = gpd.GeoDataFrame({"households": [80.0, 30.0]},
                             geometry=[box(*b) for b in hamlets], crs=terrain.crs)  # fmt: skip
    area = make_villages([(X0, Y0 - 30_000, X0 + 30_000, Y0)], households=[110])
    gaps = SimpleNamespace(zones=zones, villages=area)
    all_sites = candidate_sites(terrain, gaps, spacing_m=500, max_sites=100_000)
    assert (all_sites["kind"] == "hilltop").sum() > 200  # far more hilltops than kept below
    cands = candidate_sites(terrain, gaps, spacing_m=500, max_sites=40)
    assert len(cands) <= 40
    grid = cands[cands["kind"] == "grid"]
    for hamlet in zones.geometry:
        assert grid.within(hamlet).any()  # every dead hamlet keeps a mast over it
    assert (cands["kind"] == "hilltop").sum() >= 20  # and the hilltops their half
    # the cut keeps the highest hilltops
    kept = cands.loc[cands["kind"] == "hilltop", "elevation_m"]
    cut = all_sites.loc[all_sites["kind"] == "hilltop", "elevation_m"]
    assert kept.min() >= cut.nlargest(len(kept)).min() - 1e-6


# -- a candidate file's cost ------------------------------------------------------------------
def test_read_candidates_names_file_row_and_column_of_a_bad_cost(tmp_path):
    path = tmp_path / "sites.csv"
    # row 2 has no position (left out by the reader): the rows named are still the file's
    pd.DataFrame({"site_id": ["A", "X", "B", "C", "D", "E"], "lon": 111.5,
                  "lat": [15.20, None, 15.21, 15.22, 15.23, 15.24],
                  "gia": [5.0, 1.0, 0.0, -2.0, None, "abc"]}).to_csv(path, index=False)  # fmt: skip
    with pytest.raises(InputError) as info:
        read_candidates(path, columns={"cost": "gia"})
    msg = str(info.value)
    assert str(path) in msg and "4 problems" in msg  # every bad row at once
    for row, shown in ((3, "0.0"), (4, "-2.0"), (5, "(empty)"), (6, "abc")):
        assert f"row {row}: gia = {shown}: the cost must be a number > 0" in msg  # file's column
    assert "row 1:" not in msg and "row 2:" not in msg
    ok = tmp_path / "ok.csv"
    pd.DataFrame({"site_id": ["A", "B"], "lon": 111.5, "lat": [15.2, 15.3],
                  "cost": [5.0, 0.5]}).to_csv(ok, index=False)  # fmt: skip
    assert read_candidates(ok)["cost"].tolist() == [5.0, 0.5]


def test_read_candidates_keeps_the_files_site_ids(tmp_path):
    # a file of sites names them by site_id: those names, not made-up tower ids, are the
    # candidates' ids (they appear in ranking.csv and on the map)
    path = tmp_path / "sites.csv"
    pd.DataFrame({"site_id": ["Nui-Ba", "Deo-Vi"], "lon": 108.5,
                  "lat": [15.2, 15.3]}).to_csv(path, index=False)  # fmt: skip
    assert read_candidates(path)["site_id"].tolist() == ["Nui-Ba", "Deo-Vi"]
    both = tmp_path / "both.csv"
    pd.DataFrame({"tower_id": ["c1", "c2"], "site_id": ["S", "S"], "lon": 108.5,
                  "lat": [15.2, 15.3]}).to_csv(both, index=False)  # fmt: skip
    assert read_candidates(both)["site_id"].tolist() == ["c1", "c2"]  # one id per row
    twice = tmp_path / "twice.csv"
    pd.DataFrame({"site_id": ["A", "A"], "lon": 108.5, "lat": [15.2, 15.3]}).to_csv(
        twice, index=False
    )
    with pytest.raises(InputError, match="site_id A appear"):
        read_candidates(twice)


# -- through the project file ------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_project(tmp_path_factory):
    return write_demo(tmp_path_factory.mktemp("demo"), reduced=True)


def _with_siting(project, **siting):
    cfg = load_config(project)
    return dataclasses.replace(cfg, siting=dataclasses.replace(cfg.siting, **siting))


def test_an_unreachable_target_share_names_the_project_key(demo_project):
    # hops of at most 10 m: no site has backhaul, so no share of the households can be reached
    cfg = _with_siting(demo_project, method="set_cover", target_share=0.5, require_backhaul=True,
                       backhaul_max_hop_km=0.01)  # fmt: skip
    with pytest.raises(ConfigError) as info:
        run(cfg, write=False)
    msg = str(info.value)
    assert str(demo_project) in msg
    assert "siting.target_share: a share of 0.5 cannot be reached" in msg
    assert "require_backhaul" in msg


def test_the_backhaul_keys_reach_the_ranking(demo_project):
    linked = run(_with_siting(demo_project), write=False).ranking
    assert linked["backhaul_ok"].any()
    # hops of at most 10 m: no site reaches a tower (co-located ones aside, none in the demo)
    short = run(_with_siting(demo_project, backhaul_max_hop_km=0.01), write=False).ranking
    assert len(short) and not short["backhaul_ok"].any() and (short["backhaul_via"] == "").all()
