"""Dead zones on a hand-built world: a near village is covered, a far one and one behind a
ridge are dead."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import X0, Y0, make_grid, make_towers, make_villages

from lomsong.coverage.deadzones import dead_zones
from lomsong.coverage.predict import predict
from lomsong.layers.households import read_households


@pytest.fixture
def world():
    # 40 km × 10 km, 100 m cells; a 500 m ridge at x = 20 km; a tower at x = 5 km
    z = np.full((100, 400), 20.0, dtype=np.float32)
    z[:, 200:203] = 500.0
    terrain = make_grid(z)
    towers = make_towers([(X0 + 5_000, Y0 - 5_000)], eirp_dbm=[58.0])
    villages = make_villages(
        [
            (X0 + 6_000, Y0 - 6_000, X0 + 8_000, Y0 - 4_000),  # 2 km from the tower
            (X0 + 16_000, Y0 - 6_000, X0 + 18_000, Y0 - 4_000),  # 12 km, in front of ridge
            (X0 + 24_000, Y0 - 6_000, X0 + 26_000, Y0 - 4_000),  # 20 km, behind the ridge
        ],
        households=[300, 120, 80],
        names=["Thôn Gần", "Thôn Xa", "Làng Mâm"],
    )
    households = read_households(None, villages=villages, spacing_m=200)
    signal = predict(towers, terrain, max_radius_km=30)
    return terrain, towers, villages, households, signal


def test_villages_are_covered_or_dead_as_the_terrain_says(world):
    _, _, villages, households, signal = world
    gaps = dead_zones(signal, villages, households, threshold_dbm=-100)
    v = gaps.villages.set_index("name")
    assert v.loc["Thôn Gần", "households_covered"] == 300
    assert v.loc["Thôn Gần", "share_uncovered"] == 0
    assert not v.loc["Thôn Gần", "dead"]
    assert v.loc["Làng Mâm", "households_uncovered"] == 80
    assert v.loc["Làng Mâm", "dead"]
    # totals add up, the list is sorted by uncovered households
    assert (v["households_covered"] + v["households_uncovered"] == v["households"]).all()
    assert list(gaps.villages["households_uncovered"]) == sorted(
        gaps.villages["households_uncovered"], reverse=True
    )
    assert gaps.dead["name"].iloc[0] in ("Thôn Xa", "Làng Mâm")
    assert gaps.uncovered["households"].sum() == pytest.approx(
        v["households_uncovered"].sum(),
        abs=1,  # rounding of per-village integers
    )


def test_dead_zone_polygons_hold_the_uncovered_households(world):
    _, _, villages, households, signal = world
    gaps = dead_zones(signal, villages, households, threshold_dbm=-100)
    zones = gaps.zones
    assert len(zones) >= 1
    behind = zones[zones["villages"].str.contains("V3")]
    assert len(behind) == 1
    z = behind.iloc[0]
    assert z["households"] == 80
    # the whole 2 × 2 km village is dark: 4 km² (± one row/column of 100 m cells)
    assert z["area_km2"] == pytest.approx(4.0, abs=0.25)
    # nearest tower: from x = 5 km to the zone's west edge at x = 24 km
    assert z["nearest_tower_km"] == pytest.approx(19.0, abs=0.15)
    # every zone: the distance to its nearest tower, as measured to each tower
    brute = [signal.towers.distance(g).min() / 1000.0 for g in zones.geometry]
    np.testing.assert_allclose(zones["nearest_tower_km"], brute, rtol=0, atol=1e-9)
    assert zones.crs == villages.crs
    assert zones["zone_id"].is_unique


def test_threshold_moves_the_answer(world):
    _, _, villages, households, signal = world
    strict = dead_zones(signal, villages, households, threshold_dbm=-40)
    lax = dead_zones(signal, villages, households, threshold_dbm=-140)
    assert strict.villages["households_uncovered"].sum() == 500  # everyone
    assert lax.villages["households_uncovered"].sum() == 0
    assert len(lax.zones) == 0 and "geometry" in lax.zones


def test_per_technology_thresholds_indoor_margin_and_operators(world):
    terrain, _, villages, households, _ = world
    towers = make_towers(
        [(X0 + 5_000, Y0 - 5_000), (X0 + 5_000, Y0 - 5_000)],
        tech=["2G", "4G"], operator=["Viettel", "MobiFone"], freq_mhz=[900.0, 1800.0],
        eirp_dbm=[58.0, 58.0 + 27.78],  # the same level: 4G RSRP is 27.78 dB below the total
    )  # fmt: skip
    signal = predict(towers, terrain, max_radius_km=30, groups=True)
    assert set(signal.groups) == {("Viettel", "2G"), ("MobiFone", "4G")}
    base = dead_zones(signal, villages, households)
    # a 4G threshold so strict nobody is served by 4G leaves the 2G coverage alone
    only_2g = dead_zones(signal, villages, households, thresholds={"4G": -30.0})
    viettel_alone = dead_zones(
        predict(towers.iloc[[0]], terrain, max_radius_km=30), villages, households
    )
    assert only_2g.villages["households_uncovered"].sum() == (
        viettel_alone.villages["households_uncovered"].sum()
    )
    assert base.villages["households_uncovered"].sum() <= (
        only_2g.villages["households_uncovered"].sum()
    )
    # a 10 dB indoor margin can only uncover more households
    indoor = dead_zones(signal, villages, households, indoor_margin_db=10)
    assert (
        indoor.villages["households_uncovered"].sum() > base.villages["households_uncovered"].sum()
    )
    per_op = dead_zones(signal, villages, households, by_operator=True)
    v = per_op.villages.set_index("name")
    assert v.loc["Thôn Gần", "households_covered_Viettel"] == 300
    assert v.loc["Thôn Gần", "households_covered_MobiFone"] == 300
    with pytest.raises(Exception, match="groups=True"):
        dead_zones(predict(towers, terrain, max_radius_km=30), villages, households,
                   by_operator=True)  # fmt: skip


def test_village_counts_scale_the_points_share_and_pointless_villages_are_judged(world):
    from conftest import CRS
    from shapely.geometry import Point

    _, _, villages, _, signal = world
    import geopandas as gpd

    # buildings: 3 points in the near village, 1 in the far one (behind the ridge), none in V2
    pts = gpd.GeoDataFrame(
        {"households": [1.0, 1.0, 1.0, 1.0], "village_id": ["V1", "V1", "V1", "V3"]},
        geometry=[Point(X0 + 6_500, Y0 - 5_000), Point(X0 + 7_000, Y0 - 5_000),
                  Point(X0 + 7_500, Y0 - 5_000), Point(X0 + 25_000, Y0 - 5_000)],
        crs=CRS,
    )  # fmt: skip
    # read_households weights the points to the census counts (and gives V2 one point)
    gaps = dead_zones(signal, villages, read_households(pts, villages=villages))
    v = gaps.villages.set_index("village_id")
    # the census counts stay the totals; the points' shares split them
    assert (v["households_covered"] + v["households_uncovered"] == v["households"]).all()
    assert v.loc["V1", "households_covered"] == 300 and not v.loc["V1", "dead"]
    assert v.loc["V3", "households_uncovered"] == 80 and v.loc["V3", "dead"]
    # V2 has no point: its representative point decides, as its own power says
    centre = villages.set_index("village_id").geometry["V2"].representative_point()
    lit = signal.power.sample([centre.x], [centre.y])[0] >= -100
    assert v.loc["V2", "share_uncovered"] == (0.0 if lit else 1.0)
