"""Tests of the microwave line-of-sight backhaul graph on hand-built terrains."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
from affine import Affine
from pyproj import CRS
from shapely.geometry import Point

from lomsong.constants import EARTH_RADIUS_M, K_FACTOR
from lomsong.errors import InputError
from lomsong.grid import Grid, sample_bilinear
from lomsong.propagation import paths
from lomsong.siting import backhaul as bh
from lomsong.siting.backhaul import Sites

UTM48N = CRS.from_epsg(32648)  # central Vietnam
X0, Y0 = 500_000.0, 1_700_000.0  # upper-left corner of the test terrains


def flat_terrain(width_km: float = 40.0, height_km: float = 2.0, res: float = 30.0) -> Grid:
    """Flat ground at 0 m, origin (X0, Y0) at the upper-left corner; path runs along y = mid."""
    w, h = int(width_km * 1000 / res), int(height_km * 1000 / res)
    return Grid(np.zeros((h, w)), Affine(res, 0, X0, 0, -res, Y0), UTM48N)


YM = Y0 - 1000.0  # the row the test paths run along (middle of a 2 km high terrain)


def with_ridge(grid: Grid, x_centre: float, width_m: float, height_m: float) -> Grid:
    """A north-south ridge (plateau) of ``height_m`` across the whole terrain."""
    xc, _ = grid.cell_centers()
    data = grid.data.copy()
    data[np.abs(xc - x_centre) <= width_m / 2] = height_m
    return grid.with_data(data)


def sites(xs, h=30.0, prefix="s") -> Sites:
    xs = np.atleast_1d(np.asarray(xs, dtype=float))
    return Sites.from_arrays(
        X0 + xs, np.full(len(xs), YM), h, ids=[f"{prefix}{i}" for i in range(len(xs))]
    )


NONE = Sites.from_arrays([], [], [])


# -- physics: published rule-of-thumb values --------------------------------------------------
def test_fresnel_radius_midpoint_7ghz_10km():
    lam = float(paths.wavelength_m(7_000.0))
    r = paths.fresnel_radius_m(5000.0, 5000.0, lam)
    rule = 17.32 * math.sqrt(5 * 5 / (7 * 10))  # km, GHz textbook form (17.32 ~ sqrt(300))
    # 17.32 is sqrt(c/1e6)=17.314 rounded: the two forms agree to 0.05 %
    assert r == pytest.approx(rule, rel=5e-4)
    assert r == pytest.approx(10.35, abs=0.01)  # quoted value, 2 decimals
    assert paths.fresnel_radius_m(0.0, 10_000.0, lam) == 0.0  # at the antenna


def test_earth_bulge_midpoint_40km():
    b = paths.earth_bulge_m(20_000.0, 20_000.0, K_FACTOR * EARTH_RADIUS_M)
    assert b == pytest.approx(23.5, abs=0.05)  # quoted value, 1 decimal (exact: 23.544)
    # k = 1 (true earth): the bulge is 4/3 larger, exactly
    assert paths.earth_bulge_m(20_000.0, 20_000.0, EARTH_RADIUS_M) == pytest.approx(
        b * 4 / 3, rel=1e-12
    )


def test_path_clearance_flat_profile():
    n = 101
    D = 10_000.0
    ratio = bh.path_clearance(np.zeros(n), D, 30.0, 30.0, freq_ghz=7.0)
    assert np.isinf(ratio[0]) and np.isinf(ratio[-1])
    d1 = D * np.arange(1, n - 1) / (n - 1)  # interior points
    expected = (30.0 - d1 * (D - d1) / (2 * 4 / 3 * 6_371_000)) / (
        17.314 * np.sqrt((d1 / 1000) * (D - d1) / 1000 / (7.0 * D / 1000))
    )
    # 17.314 = sqrt(c [m/s] / 1e6): same physics, float rounding only
    np.testing.assert_allclose(ratio[1:-1], expected, rtol=1e-4)
    assert ratio[50] == pytest.approx((30 - 1.4715) / 10.347, rel=1e-3)  # hand values, 4 digits
    assert ratio.argmin() == 50  # the worst point of a flat symmetric hop is the middle


def test_path_clearance_broadcasts_over_paths():
    prof = np.zeros((3, 11))
    prof[1, 5] = 25.0  # an obstacle in the middle of path 1
    r = bh.path_clearance(prof, [10_000.0, 10_000.0, 20_000.0], 30.0, [30.0, 30.0, 60.0])
    assert r.shape == (3, 11)
    assert r[1].min() < r[0].min()  # the obstacle lowers the clearance


def test_sample_bilinear_reproduces_a_plane():
    g = flat_terrain(3.0, 3.0, res=100.0)
    xc, yc = g.cell_centers()
    g = g.with_data(0.01 * (xc - X0) - 0.02 * (yc - Y0) + 5.0)
    rng = np.random.default_rng(0)
    x = X0 + rng.uniform(50, 2950, 200)  # between the outermost cell centres
    y = Y0 - rng.uniform(50, 2950, 200)
    # bilinear interpolation is exact on a plane: float rounding only
    np.testing.assert_allclose(
        sample_bilinear(g, x, y), 0.01 * (x - X0) - 0.02 * (y - Y0) + 5.0, rtol=1e-12
    )
    assert np.isnan(sample_bilinear(g, np.array([X0 - 10.0]), np.array([Y0 - 10.0])))[0]


# -- graph: hand-built terrains --------------------------------------------------------------
def test_flat_10km_hop_with_30m_masts_links():
    G = bh.backhaul_graph(sites([0.0], prefix="t"), sites([10_000.0]), flat_terrain())
    assert G.has_edge(("tower", "t0"), ("candidate", "s0"))
    e = G.edges[("tower", "t0"), ("candidate", "s0")]
    assert e["length_km"] == pytest.approx(10.0, abs=1e-9)  # coordinates are exact
    # hand value (30 - 1.4715) / 10.347 = 2.757; midpoint is sampled exactly
    assert e["min_clearance"] == pytest.approx(2.757, rel=1e-3)
    assert e["unknown_share"] == 0.0


def test_200m_ridge_midway_blocks_the_hop():
    terrain = with_ridge(flat_terrain(), X0 + 5000.0, 150.0, 200.0)
    G = bh.backhaul_graph(sites([0.0], prefix="t"), sites([10_000.0]), terrain)
    assert G.number_of_edges() == 0
    row = bh.candidate_backhaul(G).loc["s0"]
    assert row["backhaul_hops"] == -1 and not row["backhaul_ok"] and row["backhaul_via"] == ""


def test_fresnel_not_just_geometric_line_of_sight():
    # ray at 30 m, bulge 1.47 m: a 25 m ridge leaves the ray clear but cuts into 0.6 F1;
    # a 20 m ridge leaves (30 - 1.47 - 20) / 10.35 = 0.82 F1 clear.
    t = sites([0.0], prefix="t")
    c = sites([10_000.0])
    G25 = bh.backhaul_graph(t, c, with_ridge(flat_terrain(), X0 + 5000.0, 150.0, 25.0))
    G20 = bh.backhaul_graph(t, c, with_ridge(flat_terrain(), X0 + 5000.0, 150.0, 20.0))
    assert G25.number_of_edges() == 0
    assert G20.number_of_edges() == 1
    m = G20.edges[("tower", "t0"), ("candidate", "s0")]["min_clearance"]
    # F1 changes by < 0.02 % over the 150 m plateau around the middle
    assert m == pytest.approx((30 - 1.4715 - 20) / 10.347, rel=2e-3)
    # with clearance 0 (pure line of sight) the 25 m ridge passes
    G0 = bh.backhaul_graph(
        t, c, with_ridge(flat_terrain(), X0 + 5000.0, 150.0, 25.0), clearance=0.0
    )
    assert G0.number_of_edges() == 1


def test_hop_just_over_max_length_has_no_edge():
    terrain = flat_terrain()
    t = sites([0.0], h=60.0, prefix="t")
    G = bh.backhaul_graph(t, sites([20_050.0], h=60.0), terrain, max_hop_km=20.0)
    assert G.number_of_edges() == 0
    G = bh.backhaul_graph(t, sites([19_950.0], h=60.0), terrain, max_hop_km=20.0)
    assert G.number_of_edges() == 1


def test_relay_chain_gives_two_hops():
    # tower at 0, candidates at 15 km (relay), 30 km (needs the relay) and 39 km behind a ridge
    terrain = with_ridge(flat_terrain(), X0 + 36_000.0, 300.0, 400.0)
    towers = sites([0.0], prefix="t")
    cands = sites([15_000.0, 30_000.0, 39_000.0], h=40.0, prefix="c")
    G = bh.backhaul_graph(towers, cands, terrain, max_hop_km=20.0)
    hops = bh.backhaul_hops(G)
    assert hops[("tower", "t0")] == 0
    assert hops[("candidate", "c0")] == 1
    assert hops[("candidate", "c1")] == 2
    assert hops[("candidate", "c2")] is None
    table = bh.candidate_backhaul(G)
    assert table["backhaul_hops"].tolist() == [1, 2, -1]
    assert table["backhaul_ok"].tolist() == [True, True, False]
    # the chain: the ids of the hops in order, ending at the network; empty when none
    assert table["backhaul_via"].tolist() == ["t0", "c0 > t0", ""]
    assert table["backhaul_hops"].dtype == np.int64
    assert bh.candidate_backhaul(G, max_hops=1)["backhaul_ok"].tolist() == [True, False, False]


def test_a_chain_runs_only_through_sites_that_are_built():
    # c1 (30 km) reaches the tower only through c0 (15 km): without c0 built it has no backhaul
    terrain = flat_terrain()
    G = bh.backhaul_graph(sites([0.0], prefix="t"), sites([15_000.0, 30_000.0], h=40.0, prefix="c"),
                          terrain, max_hop_km=20.0)  # fmt: skip
    alone = bh.candidate_backhaul(G, built=["c1"])
    assert alone.loc["c1", "backhaul_hops"] == -1 and not alone.loc["c1", "backhaul_ok"]
    assert alone.loc["c1", "backhaul_via"] == ""
    assert alone.loc["c0", "backhaul_via"] == "t0"  # a direct hop needs no other site
    both = bh.candidate_backhaul(G, built=["c0", "c1"])
    assert both.loc["c1", "backhaul_via"] == "c0 > t0" and both.loc["c1", "backhaul_hops"] == 2
    direct, links = bh.relay_links(G, ["c1", "c0", "zz"])  # rows in the order asked
    assert direct.tolist() == [False, True, False]
    assert links.shape == (3, 3) and links[0, 1] and links[1, 0] and links.nnz == 2


def test_fibre_point_is_part_of_the_network_and_mast_height_applies():
    terrain = flat_terrain()
    fibre = sites([25_000.0], h=np.nan, prefix="f")
    # a 10 m candidate mast cannot clear a 12 m bump 5 km away; a 40 m mast can
    terrain = with_ridge(terrain, X0 + 30_000.0, 150.0, 12.0)
    cand = sites([35_000.0], h=np.nan)
    low = bh.backhaul_graph(NONE, cand, terrain, fibre=fibre, mast_height_m=10.0)
    high = bh.backhaul_graph(NONE, cand, terrain, fibre=fibre, mast_height_m=40.0)
    assert bh.backhaul_hops(low)[("candidate", "s0")] is None
    assert bh.backhaul_hops(high)[("candidate", "s0")] == 1
    assert high.nodes[("fibre", "f0")]["height_m"] == 40.0  # fibre mast takes mast_height_m
    dflt = bh.backhaul_graph(NONE, cand, terrain, fibre=fibre)
    assert dflt.nodes[("candidate", "s0")]["height_m"] == bh.DEFAULT_MAST_HEIGHT_M


def test_unknown_terrain_rejects_the_hop_unless_allowed():
    g = flat_terrain()
    xc, _ = g.cell_centers()
    data = g.data.copy()
    data[np.abs(xc - (X0 + 5000.0)) < 200] = np.nan  # a void across the path
    g = g.with_data(data)
    t, c = sites([0.0], prefix="t"), sites([10_000.0])
    assert bh.backhaul_graph(t, c, g).number_of_edges() == 0
    G = bh.backhaul_graph(t, c, g, max_unknown_share=0.1)
    share = G.edges[("tower", "t0"), ("candidate", "s0")]["unknown_share"]
    # ~400 m of void (+1 cell each side from bilinear) over 10 km, 30 m samples
    assert share == pytest.approx(0.046, abs=0.01)


def test_colocated_candidate_links_to_its_tower():
    G = bh.backhaul_graph(sites([1000.0], prefix="t"), sites([1000.0]), flat_terrain())
    e = G.edges[("tower", "t0"), ("candidate", "s0")]
    assert e["length_km"] == 0.0 and math.isinf(e["min_clearance"])


def test_geodataframe_input_and_ids():
    terrain = flat_terrain()
    towers = gpd.GeoDataFrame(
        # site_id groups sectors of one site in tower files: the node id must be tower_id
        {"tower_id": ["VT-1", "VT-2"], "site_id": ["S", "S"], "height_m": [35.0, np.nan]},
        geometry=[Point(X0, YM), Point(X0 + 39_000.0, YM)],
        crs=UTM48N,
    )
    cands = gpd.GeoDataFrame(
        {"site_id": ["A", "B"]},
        geometry=[Point(X0 + 8_000.0, YM), Point(X0 + 30_000.0, YM)],
        crs=UTM48N,
    )
    G = bh.backhaul_graph(towers, cands, terrain)
    assert G.nodes[("tower", "VT-1")]["height_m"] == 35.0
    assert G.nodes[("tower", "VT-2")]["height_m"] == bh.DEFAULT_MAST_HEIGHT_M
    table = bh.candidate_backhaul(G)
    assert table.index.tolist() == ["A", "B"]
    assert table["backhaul_via"].tolist() == ["VT-1", "VT-2"]
    assert not G.has_edge(("tower", "VT-1"), ("tower", "VT-2"))  # tower pairs are not computed


def test_crs_mismatch_names_both():
    cands = gpd.GeoDataFrame({"site_id": ["A"]}, geometry=[Point(X0, YM)], crs=CRS.from_epsg(32649))
    with pytest.raises(InputError, match="32649.*32648"):
        bh.backhaul_graph(NONE, cands, flat_terrain())


def test_geographic_terrain_is_refused():
    g = Grid(np.zeros((4, 4)), Affine(0.001, 0, 108, 0, -0.001, 15), CRS.from_epsg(4326))
    with pytest.raises(InputError, match="not projected"):
        bh.backhaul_graph(NONE, NONE, g)


def test_many_sites_match_one_by_one_profiles():
    # the chunked flat-array evaluation must equal path_clearance on each pair's own profile
    rng = np.random.default_rng(5)
    res = 90.0
    g = flat_terrain(30.0, 30.0, res=res)
    xc, yc = g.cell_centers()
    hills = 150 * np.sin((xc - X0) / 2300.0) ** 2 + 120 * np.cos((yc - Y0) / 3100.0) ** 2
    g = g.with_data(hills)
    tw = Sites.from_arrays(
        X0 + rng.uniform(500, 29_500, 40), Y0 - rng.uniform(500, 29_500, 40), 30.0
    )
    cd = Sites.from_arrays(
        X0 + rng.uniform(500, 29_500, 30),
        Y0 - rng.uniform(500, 29_500, 30),
        30.0,
        ids=[f"c{i}" for i in range(30)],
    )
    G = bh.backhaul_graph(tw, cd, g, max_hop_km=12.0, clearance=0.6)
    assert G.number_of_edges() > 0
    n_checked = 0
    for ci in range(30):
        for kind, s, j in [("tower", tw, j) for j in range(40)] + [
            ("candidate", cd, j) for j in range(30) if j != ci
        ]:
            D = math.hypot(s.x[j] - cd.x[ci], s.y[j] - cd.y[ci])
            if D > 12_000.0:
                continue
            n = max(2, math.ceil(D / res)) + 1
            t = np.linspace(0, 1, n)
            prof = sample_bilinear(
                g, cd.x[ci] + t * (s.x[j] - cd.x[ci]), cd.y[ci] + t * (s.y[j] - cd.y[ci])
            )
            ok = np.nanmin(bh.path_clearance(prof, D, 30.0, 30.0)) >= 0.6
            assert G.has_edge(("candidate", f"c{ci}"), (kind, s.ids[j])) == ok
            n_checked += 1
    assert n_checked > 100
