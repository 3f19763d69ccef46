"""Each tower's prediction is its service level, in its technology's own quantity (issue 16):
2G RxLev, 3G RSCP, 4G RSRP, 5G SS-RSRP — total power + the service offset, on every path; towers
carry a channel bandwidth; the project file's old ``threshold_dbm`` says what to write instead.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from assertions import HAND_COMPUTED_DB, LANE_ROUNDING_DB
from conftest import X0, Y0, make_grid, make_towers
from shapely.geometry import box

from lomsong.config import config_from_dict
from lomsong.coverage.cache import TowerCache
from lomsong.coverage.engine import predict_tower, received_power_points
from lomsong.coverage.pruning import pruning_mask, tower_params
from lomsong.coverage.types import CalibrationFit, CalibrationResult
from lomsong.defaults import TECH_DEFAULTS
from lomsong.errors import ConfigError, LomsongError
from lomsong.layers.towers import OPENCELLID_COLUMNS, read_towers
from lomsong.propagation.models import free_space_loss
from lomsong.siting.candidates import _frame, read_candidates

EIRP_DBM = 50.0
RADIUS_KM = 4.0
# hand offsets (dB): −10·log10(12·N_RB) with N_RB from TS 36.101 Table 5.6-1 (LTE: 25, 50, 100
# RB at 5, 10, 20 MHz) and TS 38.101-1 Table 5.3.2-1 (NR 100 MHz at 30 kHz: 273 RB);
# 10·log10(0.1) for the UMTS CPICH; 0 for the GSM BCCH carrier
OFFSETS = [
    ("2G", 0.2, 0.0),
    ("3G", 5.0, -10.00),
    ("4G", 5.0, -24.77),
    ("4G", 10.0, -27.78),
    ("4G", 20.0, -30.79),
    ("5G", 100.0, -35.15),
]


def _flat() -> tuple:
    grid = make_grid(np.full((101, 101), 10.0))
    x, y = X0 + 50.5 * 100.0, Y0 - 50.5 * 100.0  # the centre of cell (50, 50)
    return grid, x, y


def _tower(x: float, y: float, tech: str, bandwidth_mhz: float, **columns) -> dict:
    cols = {"tech": [tech], "freq_mhz": [1800.0], "eirp_dbm": [EIRP_DBM],
            "bandwidth_mhz": [bandwidth_mhz], **columns}  # fmt: skip
    return make_towers([(x, y)], **cols).iloc[0].to_dict()


@pytest.mark.parametrize(("tech", "bandwidth_mhz", "offset_db"), OFFSETS)
def test_the_predicted_grid_is_the_total_power_plus_the_service_offset(
    tech, bandwidth_mhz, offset_db
):
    grid, x, y = _flat()
    tower = _tower(x, y, tech, bandwidth_mhz)
    pred = predict_tower(tower, grid, model="fspl", max_radius_km=RADIUS_KM)
    r, c = 70, 60  # 2.24 km from the tower, in line of sight over flat ground
    cx, cy = grid.xy(np.array([r]), np.array([c]))
    d_km = float(np.hypot(cx[0] - x, cy[0] - y)) / 1000.0
    total = EIRP_DBM - float(free_space_loss(d_km, 1800.0))  # what the tower radiates there
    level = float(pred.power[r - pred.row0, c - pred.col0])
    assert level == pytest.approx(total + offset_db, abs=HAND_COMPUTED_DB)
    # the point path (candidates, explanations) gives the same service level
    points, _ = received_power_points(tower, grid, cx, cy, model="fspl", max_radius_km=RADIUS_KM)
    assert float(points[0]) == pytest.approx(level, abs=LANE_ROUNDING_DB)


def test_the_engine_eirp_is_the_service_eirp():
    """tower_params gives the EIRP every path uses (engine, pruning bound, rerun checks)."""
    grid, x, y = _flat()
    for tech, bw, offset in OFFSETS:
        assert tower_params(_tower(x, y, tech, bw))[2] == pytest.approx(
            EIRP_DBM + offset, abs=HAND_COMPUTED_DB
        )
    # a frame without the bandwidth column (built by hand): the technology's default carrier
    no_bw = make_towers([(x, y)], tech=["4G"], eirp_dbm=[EIRP_DBM]).iloc[0].to_dict()
    assert tower_params(no_bw)[2] == pytest.approx(EIRP_DBM - 27.78, abs=HAND_COMPUTED_DB)


def test_a_tower_of_unknown_technology_or_bandwidth_is_a_clear_error():
    grid, x, y = _flat()
    with pytest.raises(LomsongError, match=r"tower T1: tech '6G' is not one of 2G, 3G, 4G, 5G"):
        predict_tower(_tower(x, y, "6G", 10.0), grid, model="fspl", max_radius_km=RADIUS_KM)
    with pytest.raises(LomsongError, match=r"tower T1: .*no channel bandwidth of 12"):
        received_power_points(_tower(x, y, "4G", 12.0), grid, [x + 500], [y], model="fspl")


def test_pruning_bounds_the_service_level_not_the_total_power():
    """A 5G tower under a floor 10 dB above its own SS-RSRP: the bound on its service level
    skips its cells; a bound on its total power (35 dB higher) would skip none."""
    grid, x, y = _flat()
    tower = _tower(x, y, "5G", 100.0, freq_mhz=[3500.0])
    full = predict_tower(tower, grid, model="itm", max_radius_km=RADIUS_KM)
    floor = np.full(grid.shape, -np.inf, dtype=np.float32)
    hh, ww = full.power.shape
    floor[full.row0 : full.row0 + hh, full.col0 : full.col0 + ww] = full.power + 10.0
    R = (hh - 1) // 2
    within = np.isfinite(full.power)  # the window's cells within the radius
    skip = pruning_mask(tower, floor, 50 - R, 50 - R, R, grid.res)
    assert skip is not None and skip[within].mean() > 0.95
    # the same carrier's total power (a 2G carrier: RxLev = total) is above that floor
    total = _tower(x, y, "2G", 0.2, freq_mhz=[3500.0])
    assert not pruning_mask(total, floor, 50 - R, 50 - R, R, grid.res).any()


def test_a_calibration_replaces_the_eirp_without_a_service_offset():
    """Calibration offsets were fitted on measured levels, already in the measured quantity."""
    grid, x, y = _flat()
    calibration = CalibrationResult(
        fit=CalibrationFit(offsets_db={"T1": 40.0}), model="fspl", environment=None,
        terrain=None, h_tx_m=30.0, h_rx_m=1.5, n_paths=10, n_excluded_short=0,
        n_no_prediction=0, residual_rms_db=1.0, loo_refit_rms_db=1.0, loo_mean_offset_rms_db=1.0,
        per_tx={},
    )  # fmt: skip
    levels = []
    for tech, bw, _ in OFFSETS:
        tower = _tower(x, y, tech, bw)
        pred = predict_tower(tower, grid, model="fspl", max_radius_km=RADIUS_KM,
                             calibration=calibration)  # fmt: skip
        cx, cy = grid.xy(np.array([70]), np.array([60]))
        pts, _ = received_power_points(tower, grid, cx, cy, model="fspl", calibration=calibration,
                                       max_radius_km=RADIUS_KM)  # fmt: skip
        levels.append((float(pred.power[70 - pred.row0, 60 - pred.col0]), float(pts[0])))
    assert np.ptp([lv[0] for lv in levels]) == 0.0 and np.ptp([lv[1] for lv in levels]) == 0.0


def test_the_cache_key_holds_the_technology_and_the_bandwidth():
    _, x, y = _flat()
    opts = {"terrain_digest": "t", "settings": {"model": "fspl"}}
    keys = {TowerCache.key(_tower(x, y, tech, bw), **opts) for tech, bw in
            [("4G", 10.0), ("4G", 20.0), ("5G", 10.0), ("3G", 10.0)]}  # fmt: skip
    assert len(keys) == 4


# -- reading ------------------------------------------------------------------------------------


@pytest.fixture
def area() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"village_id": ["V1"], "households": [100]},
        geometry=[box(108.70, 14.74, 108.76, 14.77)],
        crs="EPSG:4326",
    ).to_crs("EPSG:32649")


@pytest.mark.parametrize("header", ["bandwidth_mhz", "bandwidth", "BW_MHz", "Bandwidth (MHz)"])
def test_a_bandwidth_column_is_read_and_missing_ones_take_the_defaults(tmp_path, area, header):
    text = (f"tower_id,lon,lat,tech,{header}\n"
            "A,108.72,14.76,4G,20\nB,108.73,14.75,5G,\nC,108.74,14.75,LTE,5\n"
            "D,108.74,14.76,3G,\n")  # fmt: skip
    (tmp_path / "cells.csv").write_text(text, encoding="utf-8")
    t = read_towers(tmp_path / "cells.csv", area=area, max_radius_km=10)
    assert t["bandwidth_mhz"].tolist() == [20.0, 100.0, 5.0, 5.0]
    assert t.attrs["defaults_used"]["bandwidth_mhz"] == 2
    assert header not in t.columns or header == "bandwidth_mhz"


def test_towers_without_a_bandwidth_column_and_opencellid_take_the_defaults(tmp_path, area):
    (tmp_path / "cells.csv").write_text("tower_id,lon,lat,tech\nA,108.72,14.76,4G\n"
                                        "B,108.73,14.75,2G\n", encoding="utf-8")  # fmt: skip
    t = read_towers(tmp_path / "cells.csv", area=area, max_radius_km=10)
    assert t["bandwidth_mhz"].tolist() == [TECH_DEFAULTS["4G"]["bandwidth_mhz"],
                                          TECH_DEFAULTS["2G"]["bandwidth_mhz"]]  # fmt: skip
    assert t.attrs["defaults_used"]["bandwidth_mhz"] == 2
    header = ",".join(OPENCELLID_COLUMNS)
    rows = ["LTE,452,4,1,2561,,108.72,14.76,500,5,1,1,1,0",
            "NR,452,4,1,77,,108.73,14.75,500,5,1,1,1,0"]  # fmt: skip
    (tmp_path / "ocid.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    o = read_towers(tmp_path / "ocid.csv", area=area, max_radius_km=10)
    assert sorted(o["bandwidth_mhz"]) == [10.0, 100.0]
    assert o.attrs["defaults_used"]["bandwidth_mhz"] == 2


def test_a_bad_bandwidth_row_is_rejected_with_its_reason(tmp_path, area):
    # B: no LTE channel of 12 MHz; C: no NR channel of 1.4 MHz; D: not a number; E: negative
    text = ("tower_id,lon,lat,tech,bandwidth_mhz\n"
            "A,108.72,14.76,4G,10\n"
            "B,108.72,14.75,4G,12\n"
            "C,108.73,14.75,5G,1.4\n"
            "D,108.74,14.75,3G,wide\n"
            "E,108.74,14.76,2G,-1\n"
            "F,108.75,14.76,5G,40\n")  # fmt: skip
    (tmp_path / "cells.csv").write_text(text, encoding="utf-8")
    t = read_towers(tmp_path / "cells.csv", area=area, max_radius_km=10)
    assert t["tower_id"].tolist() == ["A", "F"]
    reasons = {r["row"]: r["reason"] for r in t.attrs["rejects"]}
    assert reasons[2] == ("bandwidth_mhz = 12 MHz is not an LTE channel bandwidth "
                          "(1.4, 3, 5, 10, 15, 20 MHz; 3GPP TS 36.101 Table 5.6-1)")  # fmt: skip
    assert reasons[3].startswith("bandwidth_mhz = 1.4 MHz is not an NR channel bandwidth at 30 kHz")
    assert reasons[4] == "bandwidth_mhz = 'wide' is not a number (expected 0.1–400)"
    assert reasons[5] == "bandwidth_mhz = '-1' is out of range (expected 0.1–400)"


def test_candidates_carry_a_bandwidth(tmp_path, area):
    grid = make_grid(np.full((10, 10), 5.0))
    made = _frame([X0 + 150.0], [Y0 - 150.0], ["grid"], grid, height_m=30.0, tech="5G")
    assert made["bandwidth_mhz"].tolist() == [TECH_DEFAULTS["5G"]["bandwidth_mhz"]]
    (tmp_path / "sites.csv").write_text("site_id,lon,lat,bandwidth_mhz\nC1,108.72,14.76,20\n"
                                        "C2,108.73,14.75,\n", encoding="utf-8")  # fmt: skip
    read = read_candidates(tmp_path / "sites.csv", area=area)
    assert read["bandwidth_mhz"].tolist() == [20.0, TECH_DEFAULTS["4G"]["bandwidth_mhz"]]


# -- the project file ---------------------------------------------------------------------------


def _project(**coverage) -> dict:
    return {"inputs": {"villages": "v.gpkg", "towers": "t.csv"}, "coverage": coverage}


def _problems(**coverage) -> str:
    with pytest.raises(ConfigError) as info:
        config_from_dict(_project(**coverage), path=Path("project.toml"))
    return str(info.value)


def test_threshold_dbm_in_a_project_file_says_what_to_write_instead():
    msg = _problems(threshold_dbm=-100)
    assert "coverage.threshold_dbm: no longer read" in msg
    assert "2G RxLev, 3G RSCP, 4G RSRP, 5G SS-RSRP" in msg
    assert 'thresholds = { "4G" = -110 }' in msg
    assert "2G −100, 3G −105, 4G −110, 5G −110 dBm" in msg
    assert "unknown key" not in msg


def test_the_new_coverage_keys_and_their_defaults():
    cfg = config_from_dict(_project())
    cov = cfg.coverage
    assert (cov.location_probability, cov.indoor, cov.technologies) == (0.9, False, ())
    assert cov.thresholds == {}
    assert not hasattr(cov, "threshold_dbm")
    cfg = config_from_dict(_project(location_probability=0.5, indoor="traditional",
                                    technologies=["LTE", "nr"]))  # fmt: skip
    assert cfg.coverage.location_probability == 0.5
    assert cfg.coverage.indoor == "traditional"
    assert cfg.coverage.technologies == ("4G", "5G")
    cfg = config_from_dict(_project(indoor="thermally_efficient", technologies=["2G"]))
    assert (cfg.coverage.indoor, cfg.coverage.technologies) == ("thermally_efficient", ("2G",))


@pytest.mark.parametrize(
    ("coverage", "expected"),
    [
        ({"location_probability": 0.4}, "coverage.location_probability: must be in [0.5, 1)"),
        ({"location_probability": 1.0}, "coverage.location_probability: must be in [0.5, 1)"),
        ({"location_probability": "high"}, "coverage.location_probability: expected a number"),
        (
            {"indoor": True},
            "coverage.indoor: true is not one of false, traditional, thermally_efficient",
        ),
        (
            {"indoor": "igloo"},
            "coverage.indoor: 'igloo' is not one of false, traditional, thermally_efficient",
        ),
        ({"indoor": 3}, "coverage.indoor: expected"),
        ({"technologies": ["4G", "6G"]}, "coverage.technologies[1]: unknown technology '6G'"),
        (
            {"technologies": ["LTE", "4G"]},
            "coverage.technologies[1]: the same technology (4G) as coverage.technologies[0]",
        ),
    ],
)
def test_the_new_coverage_keys_are_validated_naming_the_key(coverage, expected):
    assert expected in _problems(**coverage)


def test_a_bandwidth_change_is_a_changed_tower_in_changes_md():
    """A new bandwidth changes a 4G/5G tower's RSRP: ``changes.md`` lists the tower; a run of
    an older lomsong (no bandwidth column) does not make every tower "changed"."""
    from lomsong.report.changes import _changed

    a = pd.DataFrame({"tech": ["4G", "4G"], "bandwidth_mhz": [10.0, 10.0], "x": [1.0, 2.0]},
                     index=["t1", "t2"])  # fmt: skip
    b = a.copy()
    b.loc["t2", "bandwidth_mhz"] = 20.0
    assert _changed(a, b, ["t1", "t2"]) == ["t2"]
    assert _changed(a.drop(columns="bandwidth_mhz"), a, ["t1", "t2"]) == []
