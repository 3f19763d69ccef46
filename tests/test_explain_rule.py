"""Every stage tells the same story: explanations, candidates and dead zones read one rule, one
calibration and one model (ITM when the run used ITM), and every dead village gets a reason.

Hand-built flat worlds (10 m, 100 m cells) with the default test tower (900 MHz, 30 m, EIRP
55 dBm, Hata suburban): on flat ground such a tower reaches −100 dBm at about 12.4 km.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest import X0, Y0, make_grid, make_towers, make_villages

from lomsong.coverage import explain
from lomsong.coverage.deadzones import dead_zones
from lomsong.coverage.engine import received_power_points
from lomsong.coverage.predict import predict
from lomsong.coverage.rule import CoverageRule
from lomsong.coverage.types import CalibrationFit, CalibrationResult
from lomsong.layers.households import read_households
from lomsong.siting.matrix import coverage_matrix

OPTS = {"model": "hata", "environment": "suburban", "rx_height_m": 1.5}


def box_at(x_km: float, y_km: float, size_km: float = 1.0):
    h = size_km * 500.0
    cx, cy = X0 + x_km * 1000.0, Y0 - y_km * 1000.0
    return (cx - h, cy - h, cx + h, cy + h)


def flat(rows: int = 60, cols: int = 300) -> np.ndarray:
    return np.full((rows, cols), 10.0, dtype=np.float32)


def world(z, towers, boxes, *, rule, model="hata", households=None, calibration=None):
    terrain = make_grid(z)
    villages = make_villages(boxes, households=[100] * len(boxes))
    hh = (
        households
        if households is not None
        else read_households(None, villages=villages, spacing_m=200)
    )
    opts = {**OPTS, "model": model}
    signal = predict(towers, terrain, max_radius_km=30.0, calibration=calibration, **opts)
    gaps = dead_zones(signal, villages, hh, rule=rule)
    return terrain, signal, gaps


def test_explanations_judge_with_the_rule_indoor_margin_included():
    # the village at 11 km gets ~ −98 dBm outdoors: covered at −100 dBm, not with a 10 dB
    # indoor margin. Explained with the rule, its margin is negative: never "at the edge of
    # coverage" while the dead-zone list says it has no signal
    towers = make_towers([(X0 + 2_000, Y0 - 3_000)])
    rule = CoverageRule(threshold_dbm=-100.0, indoor_margin_db=10.0)
    terrain, signal, gaps = world(flat(), towers, [box_at(13, 3, 0.6)], rule=rule)
    v = explain.explain_villages(signal, gaps, terrain).iloc[0]
    assert v["dead"] and v["households_uncovered"] == 100
    assert -100.0 < v["power_dbm"] < -90.0
    assert v["margin_db"] == pytest.approx(v["power_dbm"] - (-90.0), abs=1e-9)
    assert v["margin_db"] < 0
    sentence = explain.dark_sentence(v, "en")
    assert "edge" not in sentence and "Raising" in sentence


def test_explanations_use_the_technology_threshold_of_each_tower():
    # two towers at the same distance; the 2G one has a lenient threshold of its own: it is the
    # best tower by margin even though both deliver the same power
    towers = make_towers([(X0 + 2_000, Y0 - 3_000), (X0 + 24_000, Y0 - 3_000)],
                         tech=["4G", "2G"], freq_mhz=[900.0, 900.0])  # fmt: skip
    rule = CoverageRule(threshold_dbm=-80.0, thresholds={"2G": -85.0})
    terrain = make_grid(flat())
    villages = make_villages([box_at(13, 3, 0.4)], households=[100])
    hh = read_households(None, villages=villages, spacing_m=200)
    signal = predict(towers, terrain, max_radius_km=30.0, groups=True, **OPTS)
    gaps = dead_zones(signal, villages, hh, rule=rule)
    v = explain.explain_villages(signal, gaps, terrain).iloc[0]
    assert v["best_tower"] == "T2"
    assert v["margin_db"] == pytest.approx(v["power_dbm"] + 85.0, abs=1e-9)


def test_candidates_are_predicted_with_the_towers_calibration():
    # a calibration that says the towers deliver 20 dB more than their EIRP: every household
    # is covered by T1's calibrated prediction ... and a candidate (an unknown transmitter)
    # takes the mean offset too, like the towers it is compared with
    towers = make_towers([(X0 + 500, Y0 - 500)], eirp_dbm=[0.0])
    fit = CalibrationFit(offsets_db={"T1": 20.0})
    cal = CalibrationResult(fit=fit, model="hata", environment="suburban", terrain=None,
                            h_tx_m=30.0, h_rx_m=1.5, n_paths=10, n_excluded_short=0,
                            n_no_prediction=0, residual_rms_db=1.0, loo_refit_rms_db=1.0,
                            loo_mean_offset_rms_db=1.0, per_tx={})  # fmt: skip
    rule = CoverageRule(threshold_dbm=-105.0)
    terrain, signal, gaps = world(flat(), towers, [box_at(20, 3)], rule=rule, calibration=cal)
    assert gaps.calibration is cal
    site = make_towers([(X0 + 18_000, Y0 - 3_000)], eirp_dbm=[-50.0])
    m = coverage_matrix(site, gaps, terrain)
    d = gaps.uncovered
    expected, _ = received_power_points(site.iloc[0].to_dict(), terrain, d.geometry.x,
                                        d.geometry.y, calibration=cal, max_radius_km=30.0,
                                        **OPTS)  # fmt: skip
    # the candidate's own EIRP (−50 dBm) would reach nothing; calibrated (20 dBm) it does
    reach = expected >= -105.0
    assert m.cover.nnz == int(reach.sum()) > 0
    # the same powers (the matrix stores float32: 1e-4 dB)
    np.testing.assert_allclose(m.power.toarray()[0][m.cover.toarray()[0]], expected[reach],
                               rtol=0, atol=1e-4)  # fmt: skip


def test_under_itm_the_reason_comes_from_itm():
    # a 300 m ridge between the tower and the village: ITM's own horizon puts the obstacle on
    # the ridge and its A_ref holds the ridge's loss; over flat ground ITM adds no relief
    z = flat()
    z[:, 60:62] = 310.0
    towers = make_towers([(X0 + 2_000, Y0 - 3_000)])
    rule = CoverageRule(threshold_dbm=-100.0)
    terrain, signal, gaps = world(z, towers, [box_at(9, 3)], rule=rule, model="itm")
    v = explain.explain_villages(signal, gaps, terrain).iloc[0]
    assert v["dark_reason"] == "terrain"
    assert v["propagation_mode"] in (1, 2, 3)  # ITM's own mode is reported
    assert v["obstruction_height_m"] == pytest.approx(310.0, abs=0.5)
    assert v["terrain_loss_db"] > 20.0
    # the power explained is ITM's, the one the map shows at that point
    col = signal.power.sample(np.array([v["centre_x"]]), np.array([v["centre_y"]]))[0]
    assert v["power_dbm"] == pytest.approx(col, abs=1.0)  # cell centre vs probe point

    weak = make_towers([(X0 + 2_000, Y0 - 3_000)], eirp_dbm=[20.0])
    terrain, signal, gaps = world(flat(), weak, [box_at(22, 3)], rule=rule, model="itm")
    v = explain.explain_villages(signal, gaps, terrain).iloc[0]
    assert v["dead"]
    assert v["dark_reason"] == "distance"
    assert v["terrain_loss_db"] == pytest.approx(0.0, abs=1e-9)  # no relief on flat ground


def test_a_dead_village_without_household_points_still_gets_a_reason():
    # household points only in the near village; the far one (census 100) has none: reading
    # them against the villages gives it one point at its representative point carrying its
    # count, where it is judged dead, and explained there
    towers = make_towers([(X0 + 2_000, Y0 - 3_000)])
    villages = make_villages([box_at(4, 3), box_at(25, 3)], households=[100, 100])
    points = read_households(None, villages=villages.iloc[:1], spacing_m=200)
    hh = read_households(points, villages=villages)
    terrain = make_grid(flat())
    signal = predict(towers, terrain, max_radius_km=30.0, **OPTS)
    gaps = dead_zones(signal, villages, hh, rule=CoverageRule())
    assert (gaps.households["village_id"] == "V2").sum() == 1
    t = explain.explain_villages(signal, gaps, terrain).set_index("village_id")
    assert t.loc["V2", "dead"]
    assert t.loc["V2", "dark_reason"] == "distance"
    rp = villages.geometry.iloc[1].representative_point()
    assert (t.loc["V2", "centre_x"], t.loc["V2", "centre_y"]) == pytest.approx((rp.x, rp.y))
    assert explain.dark_sentence(t.loc["V2"], "vi") != ""
    assert pd.isna(t.loc["V1", "dark_reason"])  # covered: nothing to explain
    assert not math.isnan(t.loc["V2", "distance_km"])
