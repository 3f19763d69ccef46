"""Explaining dead villages on hand-built worlds whose answer a planner reads at a glance.

Every world is flat ground at 10 m with 100 m cells and default test towers (900 MHz, 30 m,
EIRP 55 dBm, Hata suburban): on flat ground such a tower reaches −100 dBm at about 12.4 km.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest import X0, Y0, make_grid, make_towers, make_villages
from pyproj import Transformer

from lomsong.coverage import explain
from lomsong.coverage.deadzones import dead_zones
from lomsong.coverage.engine import path_loss_points, received_power_points
from lomsong.coverage.predict import predict
from lomsong.layers.households import read_households
from lomsong.siting.matrix import coverage_matrix, covered_by_site

THRESHOLD = -100.0
OPTS = {"model": "hata", "environment": "suburban", "rx_height_m": 1.5}


def village_box(x_km: float, y_km: float, size_km: float = 1.0):
    """A square village centred at (x_km, −y_km) from the grid's upper-left corner."""
    h = size_km * 500.0
    cx, cy = X0 + x_km * 1000.0, Y0 - y_km * 1000.0
    return (cx - h, cy - h, cx + h, cy + h)


def explained(z, towers, boxes, names=None, *, max_radius_km=30.0):
    """Predict, find dead zones and explain them on a hand-built world."""
    terrain = make_grid(z)
    villages = make_villages(boxes, households=[100] * len(boxes), names=names)
    households = read_households(None, villages=villages, spacing_m=200)
    signal = predict(towers, terrain, max_radius_km=max_radius_km, **OPTS)
    gaps = dead_zones(signal, villages, households, threshold_dbm=THRESHOLD)
    table = explain.explain_villages(signal, gaps, terrain)
    return table.set_index("name", drop=False), terrain, signal, gaps


def flat(rows: int = 60, cols: int = 300) -> np.ndarray:
    return np.full((rows, cols), 10.0, dtype=np.float32)


@pytest.fixture(scope="module")
def ridge_world():
    # tower at x = 2 km; a 300 m high, 200 m wide ridge at x = 6.0–6.2 km; village at x = 9 km
    z = flat()
    z[:, 60:62] = 310.0
    towers = make_towers([(X0 + 2_000, Y0 - 3_000)])
    return explained(z, towers, [village_box(9, 3), village_box(2, 1.5)], ["Làng Mâm", "Thôn Gần"])


def test_ridge_between_tower_and_village_is_terrain(ridge_world):
    t, terrain, _, _ = ridge_world
    r = t.loc["Làng Mâm"]
    assert r["dark_reason"] == "terrain"
    assert r["best_tower"] == "T1"
    assert r["distance_km"] == pytest.approx(7.0, abs=0.2)  # probe is a household near the centre
    assert r["bearing_deg"] == pytest.approx(90.0, abs=2.0)  # due east, ± the probe's offset
    # the ridge: its top is 310 m, between x = 6.0 and 6.2 km (cells 60–61), 3 km west of the
    # village; tolerance one 100 m cell of profile sampling
    assert r["obstruction_height_m"] == pytest.approx(310.0, abs=0.5)  # bilinear on a flat top
    lon, lat = Transformer.from_crs(terrain.crs, "EPSG:4326", always_xy=True).transform(
        X0 + 6_100, Y0 - 3_000
    )
    assert r["obstruction_lon"] == pytest.approx(lon, abs=0.0015)  # ≈ 150 m at 15° N
    assert r["obstruction_lat"] == pytest.approx(lat, abs=0.0015)
    assert r["obstruction_distance_km"] == pytest.approx(2.9, abs=0.2)  # one cell + the probe
    assert r["obstruction_bearing_deg"] == pytest.approx(270.0, abs=3.0)  # west of the village
    # the ridge rises far above the line of sight: it takes the whole first Fresnel zone
    assert r["obstruction_above_los_m"] > r["fresnel_radius_m"] > 0
    assert r["margin_db"] < 0
    # line of sight over a 310 m ridge 4 km out needs a ~700 m mast: not reachable
    assert math.isnan(r["mast_height_needed_m"])
    assert not r["mast_reachable"]


def test_village_without_uncovered_households_has_empty_values(ridge_world):
    t, *_ = ridge_world
    r = t.loc["Thôn Gần"]
    assert r["households_uncovered"] == 0
    assert pd.isna(r["best_tower"]) and pd.isna(r["dark_reason"])
    assert math.isnan(r["distance_km"]) and math.isnan(r["margin_db"])
    assert pd.isna(r["covered_by_site"]) and pd.isna(r["mast_reachable"])
    assert explain.dark_sentence(r, "en") == ""


def test_profile_edge_loss_is_the_engines(ridge_world):
    t, terrain, _, _ = ridge_world
    r = t.loc["Làng Mâm"]
    tx = (X0 + 2_000, Y0 - 3_000)
    prof = explain.terrain_profile(terrain, tx, (r["centre_x"], r["centre_y"]), h_tx_m=30.0,
                                   f_mhz=900.0)  # fmt: skip
    xs, ys = np.array([r["centre_x"]]), np.array([r["centre_y"]])
    kw = {"f_mhz": 900.0, "h_tx_m": 30.0, **OPTS}
    ridge = path_loss_points(terrain, tx, xs, ys, **kw)[0]
    bare = path_loss_points(make_grid(flat()), tx, xs, ys, **kw)[0]
    # same distance loss on both: the difference is the engine's knife-edge term alone;
    # 1e-6 dB is float rounding (the profile is the same bilinear walk)
    assert ridge - bare == pytest.approx(prof.edge_db, abs=1e-6)
    assert prof.edge_db > 20.0  # a 300 m ridge at 900 MHz: v ≫ 1
    assert prof.relief_db == pytest.approx(prof.edge_db, abs=0.5)  # bulge ≈ 1.4 m at 4 km


def test_flat_ground_beyond_range_is_distance():
    towers = make_towers([(X0 + 2_000, Y0 - 3_000)])
    boxes = [village_box(16, 3), village_box(19, 3), village_box(22, 3), village_box(31, 3)]
    t, terrain, signal, _ = explained(flat(60, 340), towers, boxes, ["A14", "A17", "A20", "A29"])
    assert (t["dark_reason"] == "distance").all()
    assert t["obstruction_height_m"].isna().all()  # nothing above the line of sight
    # the farther, the taller the mast: monotone
    masts = t.loc[["A14", "A17", "A20"], "mast_height_needed_m"].to_numpy()
    assert np.all(np.isfinite(masts)) and np.all(np.diff(masts) > 0)
    assert np.all(masts > 30) and np.all(masts <= 100)
    tower = signal.towers.iloc[0].to_dict()
    for name in ("A14", "A17", "A20"):
        r = t.loc[name]
        h = r["mast_height_needed_m"]
        assert h == int(h) and r["mast_reachable"]  # whole metres
        # re-predicted at that height the probe reaches the threshold; one metre lower it
        # does not (the search returns the lowest whole metre)
        at = received_power_points(tower, terrain, [r["centre_x"]], [r["centre_y"]], h_tx_m=h,
                                 max_radius_km=30.0, **OPTS)[0][0]  # fmt: skip
        below = received_power_points(tower, terrain, [r["centre_x"]], [r["centre_y"]],
                                    h_tx_m=h - 1, max_radius_km=30.0, **OPTS)[0][0]  # fmt: skip
        assert at >= THRESHOLD > below
        assert r["power_dbm"] - THRESHOLD == pytest.approx(r["margin_db"], abs=1e-9)
    # 29 km: Hata with a 100 m mast gives about −100.7 dBm there: not reachable
    far = t.loc["A29"]
    assert math.isnan(far["mast_height_needed_m"]) and not far["mast_reachable"]


def test_village_behind_the_sector_is_sector():
    # a sector pointing east; one village 5 km east (in the beam), one 5 km west (behind it)
    towers = make_towers([(X0 + 10_000, Y0 - 3_000)], azimuth_deg=[90.0])
    boxes = [village_box(15, 3), village_box(5, 3)]
    t, *_ = explained(flat(), towers, boxes, ["Thôn Đông", "Thôn Tây"])
    assert t.loc["Thôn Đông", "households_uncovered"] == 0
    r = t.loc["Thôn Tây"]
    assert r["dark_reason"] == "sector"
    assert r["off_axis_deg"] == pytest.approx(180.0, abs=3.0)  # ± the probe's offset
    assert r["sector_loss_db"] == pytest.approx(25.0, abs=0.1)  # front-to-back floor A_m
    # 5 km on flat ground is ~ −86 dBm omni; 25 dB behind the panel: ~ −111 dBm
    assert r["margin_db"] == pytest.approx(-11.0, abs=1.5)


@pytest.mark.parametrize("max_radius_km", [30.0, 40.0])
def test_island_offshore_is_sea(max_radius_km):
    # land (20 m) west of x = 3 km, sea (0 m) to x = 33 km, a 5 m island 33–36 km
    z = np.zeros((60, 400), dtype=np.float32)
    z[:, :30] = 20.0
    z[:, 330:360] = 5.0
    towers = make_towers([(X0 + 1_000, Y0 - 3_000)])
    t, *_ = explained(z, towers, [village_box(34.5, 3)], ["Đảo Bé"], max_radius_km=max_radius_km)
    r = t.loc["Đảo Bé"]
    assert r["dark_reason"] == "sea"
    assert r["water_share"] > 0.8  # 30 of 33.5 km over water
    assert r["distance_km"] == pytest.approx(33.5, abs=0.3)
    if max_radius_km == 30.0:  # beyond the radius: no prediction, the nearest tower is named
        assert r["best_tower"] == "T1" and math.isnan(r["margin_db"])
        assert "across the sea" in explain.dark_sentence(r, "en")
    else:  # in range but 33 km of Hata: ~ −116 dBm
        assert r["margin_db"] == pytest.approx(-16.0, abs=2.0)


def test_no_tower_within_radius():
    towers = make_towers([(X0 + 1_000, Y0 - 3_000)])
    t, *_ = explained(flat(60, 400), towers, [village_box(35, 3)], ["Làng Xa"])
    r = t.loc["Làng Xa"]
    assert r["dark_reason"] == "no_tower"
    assert r["best_tower"] == "T1"  # the nearest, for the sentence
    assert r["distance_km"] == pytest.approx(34.0, abs=0.3)
    assert math.isnan(r["margin_db"]) and math.isnan(r["mast_height_needed_m"])
    assert not r["mast_reachable"]


def test_covered_by_site_takes_the_first_rank_covering_half():
    # demand points: V1 has 4 households (1+1+1+1), V2 has 2 (2 points), V3 has 1
    demand_village = ["V1", "V1", "V1", "V1", "V2", "V2", "V3"]
    weights = [1, 1, 1, 1, 1, 1, 1]
    cover = np.array(
        [
            [1, 0, 0, 0, 1, 1, 0],  # rank 1: 1/4 of V1 (not enough), all of V2
            [0, 1, 1, 0, 0, 0, 0],  # rank 2: 2/4 of V1 — half: covers it
            [1, 1, 1, 1, 1, 1, 0],  # rank 3: everything but V3
        ],
        dtype=bool,
    )
    got = covered_by_site(["V1", "V2", "V3", "V4"], demand_village, weights, cover)
    assert list(got.fillna(-1)) == [2, 1, -1, -1]
    got = covered_by_site(["V1"], demand_village, weights, cover, ranks=[7, 8, 9],
                                  min_share=0.75)  # fmt: skip
    assert list(got) == [9]


def test_the_coverage_matrix_covers_as_the_engine_predicts():
    # every household uncovered (one 0 dBm tower); a candidate at x = 2 km reaches the village at
    # 10 km (8 km: ~ −93 dBm) and not the one at 20 km (18 km): the ranking's matrix, which
    # "covered_by_site" reads, applies the dead zones' own rule to the engine's prediction
    terrain = make_grid(flat())
    villages = make_villages([village_box(10, 3), village_box(20, 3)], households=[100, 100])
    households = read_households(None, villages=villages, spacing_m=200)
    signal = predict(make_towers([(X0 + 500, Y0 - 500)], eirp_dbm=[0.0]), terrain, **OPTS)
    gaps = dead_zones(signal, villages, households, threshold_dbm=THRESHOLD)
    assert not gaps.households["covered"].any()
    site = make_towers([(X0 + 2_000, Y0 - 3_000)], height_m=[30.0])
    m = coverage_matrix(site, gaps, terrain)
    near = (m.demand.geometry.x < X0 + 15_000).to_numpy()
    assert m.cover.toarray()[0].tolist() == near.tolist()


TERRAIN_ROW = {
    "village_id": "V9", "name": "Làng Mâm", "best_tower": "T12", "distance_km": 14.2,
    "margin_db": -27.4, "dark_reason": "terrain", "obstruction_height_m": 903.0,
    "obstruction_distance_km": 3.1, "obstruction_bearing_deg": 95.0,
    "mast_height_needed_m": np.nan, "covered_by_site": 3,
}  # fmt: skip


def test_sentences_in_both_languages():
    assert explain.dark_sentence(TERRAIN_ROW, "en") == (
        "Làng Mâm is 14 km from tower T12 and a 903 m ridge 3.1 km to its east blocks the "
        "path; the signal falls 27 dB short. No mast up to 100 m at tower T12 would be "
        "enough. Proposed site no. 3 would cover it."
    )
    assert explain.dark_sentence(TERRAIN_ROW, "vi") == (
        "Làng Mâm cách trạm T12 14 km và một dãy núi cao 903 m, cách thôn/bản 3,1 km về phía "
        "đông, chắn đường truyền; tín hiệu thiếu 27 dB so với ngưỡng. Dù nâng anten trạm T12 "
        "lên 100 m cũng không đủ. Vị trí trạm đề xuất số 3 sẽ phủ sóng được thôn/bản này."
    )
    row = {**TERRAIN_ROW, "dark_reason": "distance", "distance_km": 8.46,
           "mast_height_needed_m": 62.0, "covered_by_site": pd.NA}  # fmt: skip
    en = explain.dark_sentence(row, "en")
    vi = explain.dark_sentence(row, "vi")
    assert "8.5 km" in en and "62 m" in en and "None of the proposed sites" in en
    assert "8,5 km" in vi and "62 m" in vi and "Chưa có vị trí trạm đề xuất nào" in vi
    for reason in explain.REASONS:
        for lang in ("en", "vi"):
            text = explain.dark_sentence({**TERRAIN_ROW, "dark_reason": reason}, lang)
            assert text.startswith("Làng Mâm") and "{" not in text
    island = {**TERRAIN_ROW, "water_share": 0.9}  # behind its own hill, across the sea
    assert "14 km across the sea from tower T12 and a 903 m ridge" in explain.dark_sentence(
        island, "en"
    )
    assert "14 km qua biển và một dãy núi" in explain.dark_sentence(island, "vi")
    with pytest.raises(ValueError, match="lang"):
        explain.dark_sentence(TERRAIN_ROW, "fr")


def test_sentences_from_the_ridge_world(ridge_world):
    t, *_ = ridge_world
    en = explain.dark_sentence(t.loc["Làng Mâm"], "en")
    vi = explain.dark_sentence(t.loc["Làng Mâm"], "vi")
    assert "310 m ridge" in en and "to its west" in en and "dB short" in en
    assert "dãy núi cao 310 m" in vi and "về phía tây" in vi


def test_profile_plot_is_a_small_png(ridge_world):
    t, terrain, signal, _ = ridge_world
    prof = explain.village_profile(t.loc["Làng Mâm"], terrain, signal.towers)
    assert prof is not None and prof.obstacle > 0
    assert prof.z_m[prof.obstacle] == pytest.approx(310.0, abs=0.5)
    png = explain.profile_plot_png(prof, lang="vi", title="Làng Mâm ← T1")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert 5_000 < len(png) < 100_000  # a popup image, not a poster
    assert explain.village_profile(t.loc["Thôn Gần"], terrain, signal.towers) is None
