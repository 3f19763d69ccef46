"""The prediction against field evidence: matching measurements to cells, residual statistics,
observed village statuses and reported hamlets (lomsong.calibration.validate)."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from assertions import HAND_COMPUTED_DB
from conftest import CRS, X0, Y0, make_towers, make_villages
from shapely.geometry import Point

from lomsong.calibration.reports import read_reported
from lomsong.calibration.validate import (
    CSV_COLUMNS,
    match_measurements,
    observed_status,
    read_evidence_files,
    residual_stats,
    validate,
)
from lomsong.coverage.deadzones import dead_zones
from lomsong.coverage.predict import predict
from lomsong.coverage.rule import CoverageRule
from lomsong.demo import generate_demo
from lomsong.propagation.models import free_space_loss
from lomsong.report.validation import OUTPUT_FILES, write_validation

# a tower in the middle of a flat 30 × 30 km grid (conftest's flat_grid), 900 MHz 2G, 55 dBm
TX = (X0 + 15_000.0, Y0 - 15_000.0)
EIRP = 55.0


def _fspl_level(d_km: float) -> float:
    """The level free space predicts at d_km from a 55 dBm 2G (RxLev: offset 0) omni tower."""
    return EIRP - float(free_space_loss(d_km, 900.0))


def _measurements(rows: list[dict]) -> gpd.GeoDataFrame:
    """Evidence rows at (x, y) of the test grid's CRS; defaults for the other columns."""
    base = {"operator": "Viettel", "tech": "2G", "cell_id": "", "level_dbm": np.nan}
    frame = pd.DataFrame([{**base, **r} for r in rows])
    frame["no_service"] = ~np.isfinite(frame["level_dbm"].to_numpy(dtype=float))
    geoms = [Point(x, y) for x, y in zip(frame.pop("x"), frame.pop("y"), strict=True)]
    return gpd.GeoDataFrame(frame, geometry=geoms, crs=CRS)


def _rule() -> CoverageRule:
    return CoverageRule.for_network(location_probability=0.9)


# -- residual statistics ------------------------------------------------------------------
def test_residual_statistics_by_hand(flat_grid) -> None:
    # Viettel T1 at TX, VinaPhone T2 8 km south of it; fspl over flat ground is free space
    towers = make_towers([TX, (TX[0], TX[1] - 8_000.0)], tower_id=["T1", "T2"],
                         operator=["Viettel", "VinaPhone"])  # fmt: skip
    # Viettel: 1, 2, 4 km east of T1 with residuals +2, −4, +5 dB; VinaPhone: 3 km south of
    # T2 with −3 dB, and a no-service row 4 km south of it
    offsets = [2.0, -4.0, 5.0]
    rows = [
        {"x": TX[0] + d * 1000.0, "y": TX[1], "cell_id": "T1", "level_dbm": _fspl_level(d) + r}
        for d, r in zip([1, 2, 4], offsets, strict=True)
    ]
    rows += [{"x": TX[0], "y": TX[1] - 11_000.0, "operator": "VinaPhone", "cell_id": "T2",
              "level_dbm": _fspl_level(3.0) - 3.0},
             {"x": TX[0], "y": TX[1] - 12_000.0, "operator": "VinaPhone"}]  # fmt: skip
    m = match_measurements(_measurements(rows), towers, terrain=flat_grid, rule=_rule(),
                           model="fspl", params={"max_radius_km": 10})  # fmt: skip
    # the predicted levels are free space's (RxLev = total power for 2G)
    expected = [_fspl_level(1), _fspl_level(2), _fspl_level(4), _fspl_level(3), _fspl_level(4)]
    np.testing.assert_allclose(m["predicted_dbm"], expected, atol=HAND_COMPUTED_DB)
    np.testing.assert_allclose(m["residual_db"][:4], [*offsets, -3.0], atol=HAND_COMPUTED_DB)
    assert np.isnan(m["residual_db"][4]) and bool(m["no_service"][4])
    assert m["distance_km"].round(6).tolist() == [1.0, 2.0, 4.0, 3.0, 4.0]
    stats = residual_stats(m).set_index("operator")
    v = stats.loc["Viettel"]
    assert v["n"] == 3
    assert v["bias_db"] == pytest.approx(1.0, abs=HAND_COMPUTED_DB)  # (2 − 4 + 5) / 3
    # deviations from the mean 1, −5, 4: √((1 + 25 + 16) / 2) = √21
    assert v["std_db"] == pytest.approx(21**0.5, abs=HAND_COMPUTED_DB)
    assert v["rmse_db"] == pytest.approx(15**0.5, abs=HAND_COMPUTED_DB)  # √((4 + 16 + 25) / 3)
    w = stats.loc["VinaPhone"]  # the no-service row has no residual: n = 1, no std
    assert (w["n"], w["bias_db"], w["rmse_db"]) == (
        1,
        pytest.approx(-3.0, abs=HAND_COMPUTED_DB),
        pytest.approx(3.0, abs=HAND_COMPUTED_DB),
    )
    assert np.isnan(w["std_db"])
    per_tower = residual_stats(m, by=("tower_id",)).set_index("tower_id")
    assert per_tower.loc["T1", "n"] == 3 and per_tower.loc["T2", "n"] == 1


# -- matching -----------------------------------------------------------------------------
def test_cell_id_wins_over_best_server_and_falls_back(flat_grid) -> None:
    # T1 at TX, T2 6 km east (both Viettel 2G), T3 a VinaPhone 2G next to the point
    towers = make_towers([TX, (TX[0] + 6000.0, TX[1]), (TX[0] + 1000.0, TX[1])],
                         tower_id=["T1", "T2", "T3"],
                         operator=["Viettel", "Viettel", "VinaPhone"])  # fmt: skip
    at = {"x": TX[0] + 1000.0, "y": TX[1] + 500.0, "level_dbm": -70.0}  # T1 is nearest Viettel
    rows = [
        {**at, "cell_id": "T2"},  # its own cell id: T2, though T1 is stronger
        {**at, "cell_id": ""},  # no id: the best server of Viettel 2G, T1 (not VinaPhone's T3)
        {**at, "cell_id": "T3"},  # another operator's cell: Viettel's best server again
        {**at, "cell_id": "T9", "neighboring": True},  # a neighbour not in the list: none
        {**at, "operator": "Gmobile"},  # no tower of that operator: none
        {**at, "operator": ""},  # no operator: every operator's towers, T3 the strongest
        {**at, "level_dbm": np.nan},  # no service: still the best server, no residual
    ]
    m = match_measurements(_measurements(rows), towers, terrain=flat_grid, rule=_rule(),
                           model="fspl", params={"max_radius_km": 10})  # fmt: skip
    assert m["matched_by"].tolist() == ["cell_id", "best_server", "best_server", "none", "none",
                                        "best_server", "best_server"]  # fmt: skip
    assert m["tower_id"].tolist() == ["T2", "T1", "T1", None, None, "T3", "T1"]
    d2 = np.hypot(5000.0, 500.0) / 1000.0
    assert m["predicted_dbm"][0] == pytest.approx(_fspl_level(d2), abs=HAND_COMPUTED_DB)
    assert np.isnan(m["predicted_dbm"][3]) and np.isnan(m["residual_db"][6])
    assert m["predicted_dbm"][6] == pytest.approx(_fspl_level(np.hypot(1000, 500) / 1000),
                                                  abs=HAND_COMPUTED_DB)  # fmt: skip


def test_opencellid_ids_and_the_enodeb_of_an_unlisted_cell(flat_grid) -> None:
    # an LTE site as the OpenCelliD reader leaves it: one unit per operator and technology
    # with its cells' ECIs; and a cell list with one row per sector's ECI (eNB 2000)
    enb = 2000
    towers = make_towers(
        [TX, (TX[0] + 4000.0, TX[1]), (TX[0] + 4000.0, TX[1] + 1.0)],
        tower_id=["S001-45204-4G", "A", "B"], tech=["4G"] * 3, freq_mhz=[1800.0] * 3,
        bandwidth_mhz=[10.0] * 3, azimuth_deg=[np.nan, 90.0, 270.0],
        cell_ids=["26894593 26894594", "", ""],
        cell_id=["", str(enb * 256 + 1), str(enb * 256 + 2)],
    )  # fmt: skip
    east_of_site = {"x": TX[0] + 6000.0, "y": TX[1], "tech": "4G", "level_dbm": -95.0}
    rows = [
        {"x": TX[0] + 500.0, "y": TX[1], "tech": "4G", "cell_id": "26894594", "level_dbm": -80.0},
        {**east_of_site, "cell_id": str(enb * 256 + 2)},  # listed: sector B (faces west)
        {**east_of_site, "cell_id": str(enb * 256 + 7)},  # unlisted cell of eNB 2000: sector A
        {**east_of_site, "cell_id": str(2001 * 256 + 1)},  # another eNB: best server
    ]
    m = match_measurements(_measurements(rows), towers, terrain=flat_grid, rule=_rule(),
                           model="fspl", params={"max_radius_km": 10})  # fmt: skip
    assert m["tower_id"].tolist() == ["S001-45204-4G", "B", "A", "A"]
    assert m["matched_by"].tolist() == ["cell_id", "cell_id", "cell_id", "best_server"]
    # sector A faces the point, B turns its back: the listed B is predicted far lower
    assert m["predicted_dbm"][1] < m["predicted_dbm"][2] - 10.0


def test_village_of_each_point_and_clutter_subtracted(flat_grid) -> None:
    villages = make_villages([(TX[0] + 500, TX[1] - 500, TX[0] + 1500, TX[1] + 500)], [10])
    towers = make_towers([TX])
    rows = [{"x": TX[0] + 1000.0, "y": TX[1], "level_dbm": -60.0},
            {"x": TX[0] + 3000.0, "y": TX[1], "level_dbm": -60.0}]  # fmt: skip
    clutter = flat_grid.with_data(np.full(flat_grid.shape, 4.0, dtype=np.float32))
    rule = CoverageRule.for_network(clutter={"2G": clutter})
    m = match_measurements(
        _measurements(rows),
        towers,
        terrain=flat_grid,
        rule=rule,
        model="fspl",
        params={"max_radius_km": 10},
        villages=villages,
    )
    assert m["village_id"].tolist() == ["V1", None]
    # a 4 dB clutter loss everywhere: the prediction is free space less 4 dB
    assert m["predicted_dbm"][0] == pytest.approx(_fspl_level(1.0) - 4.0, abs=HAND_COMPUTED_DB)


# -- observed status ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("dark", "n", "expected"),
    [
        (6, 10, "no_signal"),  # 0.6 ≥ dead_share 0.5
        (5, 10, "no_signal"),  # 0.5: "at least" the share
        (2, 10, "weak"),  # 0.2 > 1 − p = 0.1
        (1, 10, "ok"),  # 0.1 is not more than 0.1
        (0, 4, ""),  # fewer than 5 samples judge nothing
    ],
)
def test_observed_status_rule(flat_grid, dark: int, n: int, expected: str) -> None:
    villages = make_villages([(TX[0] + 500, TX[1] - 500, TX[0] + 1500, TX[1] + 500)], [10])
    towers = make_towers([TX])
    # the 2G threshold is RxLev −100 dBm: "dark" samples at −105 dBm or no service, the rest −70
    levels = [np.nan if i % 2 else -105.0 for i in range(dark)] + [-70.0] * (n - dark)
    rows = [{"x": TX[0] + 1000.0, "y": TX[1], "level_dbm": lv} for lv in levels]
    rows.append({"x": TX[0] + 1000.0, "y": TX[1], "level_dbm": -120.0, "neighboring": True})
    m = match_measurements(
        _measurements(rows),
        towers,
        terrain=flat_grid,
        rule=_rule(),
        model="fspl",
        params={"max_radius_km": 10},
        villages=villages,
    )
    obs = observed_status(m, _rule())
    assert obs["samples"].tolist() == [n]  # the neighbour row is no sample
    assert obs["without_signal"].tolist() == [dark]
    assert obs["observed_status"].tolist() == [expected]
    # free space 1 km from a 55 dBm tower is far above every threshold
    assert obs["predicted_status"].tolist() == ["reliable"]


# -- reported hamlets on the demo -----------------------------------------------------------
# The reduced demo province predicted with Hata (suburban) over its terrain: the villages named
# below have these statuses (asserted first, so the expectations rest on them).
DEMO_STATUS = {
    "V001": "no_signal", "V002": "no_signal", "V003": "no_signal", "V004": "no_signal",
    "V005": "weak", "V006": "reliable", "V009": "reliable", "V010": "no_signal",
    "V012": "no_signal", "V013": "no_signal", "V014": "reliable",
}  # fmt: skip
# Twelve names as a commune office writes them, its status, and the outcome by hand.
REPORT = [
    ("lang lay", "lõm sóng", "agreed"),  # Làng Lay: no diacritics, "làng" prefix
    ("Đak Ui", "lom song", "agreed"),  # V002
    ("Thôn Mang Mâm", "có sóng", "extra"),  # V003 with a "thôn" prefix; predicted dark
    ("mang reu", "sóng yếu", "extra"),  # V004 no_signal predicted, weak reported
    ("Kỳ Thượng", "không có sóng", "missed"),  # Thôn Kỳ Thượng without "thôn"; predicted weak
    ("Ba Bong", "lõm sóng", "missed"),  # V006 predicted reliable
    ("Nuoc Loa", "no_signal", "agreed"),  # Nước Loa without diacritics
    ("ta gia", "mất sóng", "agreed"),  # Tà Giá
    ("dao be", "lõm sóng", "agreed"),  # Đảo Bé, the island
    ("Thôn Nhơn Lonng", "sóng yếu", "missed"),  # misspelled Nhơn Long (fuzzy); reliable
    ("Xóm Mới", "có sóng", "agreed"),  # V014 reliable
    ("Thôn Chợ Mới", "lõm sóng", "unmatched"),  # no such village
]


@pytest.fixture(scope="module")
def demo_validation_inputs():
    demo = generate_demo(reduced=True)
    rule = CoverageRule.for_network(towers=demo.towers, location_probability=0.9)
    signal = predict(demo.towers, demo.terrain, model="hata", environment="suburban",
                     max_radius_km=15)  # fmt: skip
    gaps = dead_zones(signal, demo.villages, demo.households, rule=rule)
    return demo, signal, gaps


def test_reported_hamlets_on_the_demo(demo_validation_inputs) -> None:
    demo, signal, gaps = demo_validation_inputs
    status = gaps.villages.set_index("village_id")["status"]
    assert {v: status[v] for v in DEMO_STATUS} == DEMO_STATUS
    reported = read_reported(pd.DataFrame({"name": [r[0] for r in REPORT],
                                           "status": [r[1] for r in REPORT]}))  # fmt: skip
    result = validate(None, reported, signal=signal, gaps=gaps, terrain=demo.terrain)
    by_hand = {k: [r[0] for r in REPORT if r[2] == k] for k in
               ("agreed", "missed", "extra", "unmatched")}  # fmt: skip
    assert result.agreed == by_hand["agreed"]
    assert result.missed == ["Kỳ Thượng", "Ba Bong", "Thôn Nhơn Lonng"]
    assert result.extra == ["Thôn Mang Mâm", "mang reu"]
    assert result.unmatched == ["Thôn Chợ Mới"]
    assert result.missed == by_hand["missed"] and result.extra == by_hand["extra"]
    assert result.hamlets.loc[9, "match"] == "fuzzy"
    assert result.hamlets.loc[9, "matched_name"] == "Thôn Nhơn Long"
    doc = result.to_dict()
    assert doc["hamlets"] == by_hand
    # the village table carries the worst reported status and the agreement
    table = result.table().set_index("village_id")
    assert list(result.table().columns) == CSV_COLUMNS
    assert table.loc["V006", "reported_status"] == "no_signal"
    assert table.loc["V006", "agreement"] == "missed"
    assert table.loc["V003", "agreement"] == "extra"
    assert table.loc["V011", "agreement"] == ""  # no evidence


def test_validation_files_on_the_demo(demo_validation_inputs, tmp_path: Path) -> None:
    demo, signal, gaps = demo_validation_inputs
    # walk-test rows at household points, one per village, each its village's nearest cell id
    hh = demo.households.groupby("village_id").head(6).reset_index(drop=True)
    rows = pd.DataFrame({
        "level_dbm": np.where(np.arange(len(hh)) % 3 == 0, np.nan, -90.0),
        "tech": "3G", "operator": "Viettel", "cell_id": "T004-A",
    })  # fmt: skip
    meas = gpd.GeoDataFrame(rows, geometry=hh.geometry.to_numpy(), crs=demo.crs)
    meas["no_service"] = ~np.isfinite(meas["level_dbm"])
    reported = read_reported(pd.DataFrame({"name": ["<b>Ba Bong</b>", "Ba Bong"],
                                           "status": ["ok", "ok"]}))  # fmt: skip
    result = validate(meas, reported, signal=signal, gaps=gaps, terrain=demo.terrain)
    files = write_validation(result, tmp_path, lang="en", version="test")
    assert sorted(files) == sorted(OUTPUT_FILES)
    table = pd.read_csv(tmp_path / "validation.csv", keep_default_na=False)
    assert list(table.columns) == CSV_COLUMNS
    assert len(table) == len(demo.villages)
    doc = json.loads((tmp_path / "validation.json").read_text(encoding="utf-8"))
    assert set(doc) >= {"residuals", "hamlets", "confusion"}
    assert set(doc["residuals"]) == {"Viettel/3G"}
    assert set(doc["residuals"]["Viettel/3G"]) == {"bias_db", "std_db", "rmse_db", "n"}
    n = int(np.isfinite(result.measurements["residual_db"]).sum())
    assert doc["residuals"]["Viettel/3G"]["n"] == n > 0
    assert doc["hamlets"]["unmatched"] == ["<b>Ba Bong</b>"]
    assert set(doc["confusion"]) == {"all", "Viettel"}
    html = (tmp_path / "validation.html").read_text(encoding="utf-8")
    assert "&lt;b&gt;Ba Bong&lt;/b&gt;" in html and "<b>Ba Bong" not in html
    assert "data:image/png;base64," in html and "http" not in html.split("<body>")[1]
    layers = {name for name, _ in pyogrio.list_layers(tmp_path / "evidence.gpkg")}
    assert layers == {"measurements", "reported_hamlets", "villages"}
    back = gpd.read_file(tmp_path / "evidence.gpkg", layer="measurements")
    assert len(back) == len(meas)
    assert {"predicted_dbm", "residual_db", "tower_id", "matched_by"} <= set(back.columns)


# -- evidence files ---------------------------------------------------------------------------
def test_evidence_files_told_apart_by_header(tmp_path: Path) -> None:
    walk = tmp_path / "walk.csv"
    walk.write_text("lat,lon,level_dbm,tech,operator,cell_id,time\n"
                    "14.8,108.9,-95,LTE,452-04,26894593,2026-11-30T02:15:00Z\n"
                    "14.8,108.9,,LTE,Viettel,,\n"
                    "0,0,-90,LTE,Viettel,,\n", encoding="utf-8")  # fmt: skip
    report = tmp_path / "thon.csv"
    report.write_text("name,status,commune\nLàng Mâm,lõm sóng,Ba Bích\n", encoding="utf-8")
    found = read_evidence_files([walk, report], crs=CRS)
    assert found.files == {str(walk): "measurements", str(report): "reported"}
    assert len(found.measurements) == 2 and found.measurements.crs == CRS
    assert found.measurements["no_service"].tolist() == [False, True]
    assert found.measurements["operator"].tolist() == ["Viettel", "Viettel"]
    assert [r["row"] for r in found.rejects] == [3]  # the 0,0 position
    assert found.reported["status"].tolist() == ["no_signal"]
    assert found.reported["source"].tolist() == [str(report)]


def test_residual_stats_of_nothing_is_empty() -> None:
    empty = pd.DataFrame({"operator": [], "tech": [], "residual_db": []})
    out = residual_stats(empty)
    assert len(out) == 0 and list(out.columns) == ["operator", "tech", "n", "bias_db", "std_db",
                                                   "rmse_db"]  # fmt: skip
