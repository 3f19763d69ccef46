"""Coverage as operators define it: RSRP thresholds, location probability, three classes.

One LTE tower (1800 MHz, 10 MHz carrier: RSRP = total − 27.78 dB) on flat ground under
COST-231 Hata (suburban, the engine's model above 1500 MHz): the coverage radius follows from
inverting the model by hand, at the median and at 90 % of locations (σ = 5.5 dB, P.1546-5 §12
for a wideband system: fade margin 1.2816 × 5.5 = 7.05 dB).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import X0, Y0, make_grid, make_towers, make_villages
from shapely.geometry import box

from lomsong.coverage.deadzones import dead_zones
from lomsong.coverage.predict import predict
from lomsong.coverage.rule import CoverageRule
from lomsong.layers.households import read_households
from lomsong.propagation import models

EIRP_DBM = 60.0
RSRP_OFFSET_DB = -10.0 * math.log10(12 * 50)  # 10 MHz LTE: 50 resource blocks × 12 subcarriers
H_TX, H_RX, F_MHZ = 30.0, 1.5, 1800.0
THRESHOLD = -110.0  # RSRP, dBm
FADE_90_DB = 1.2815515655446004 * 5.5


def radius_km(margin_db: float) -> float:
    """Distance where the RSRP equals threshold + margin: L(d) = A + B log10 d solved for d."""
    a = float(models.cost231_loss(1.0, F_MHZ, H_TX, H_RX, environment="suburban", validate=False))
    b = float(models.cost231_loss(10.0, F_MHZ, H_TX, H_RX, environment="suburban",
                                  validate=False)) - a  # fmt: skip
    loss = EIRP_DBM + RSRP_OFFSET_DB - THRESHOLD - margin_db
    return 10 ** ((loss - a) / b)


def world(p: float):
    terrain = make_grid(np.full((40, 400), 10.0, dtype=np.float32))
    tower = make_towers([(X0 + 500, Y0 - 2_000)], tech=["4G"], freq_mhz=[F_MHZ],
                        eirp_dbm=[EIRP_DBM], bandwidth_mhz=[10.0])  # fmt: skip
    r50, r90 = radius_km(0.0), radius_km(FADE_90_DB)
    # one household just inside and one just outside each radius (± 3 %)
    xs = [r50 * 0.97, r50 * 1.03, r90 * 0.97, r90 * 1.03]
    boxes = [box(X0 + 500 + d * 1000 - 40, Y0 - 2_040, X0 + 500 + d * 1000 + 40, Y0 - 1_960)
             for d in xs]  # fmt: skip
    villages = make_villages([b.bounds for b in boxes], households=[10] * 4,
                             names=["in50", "out50", "in90", "out90"])  # fmt: skip
    hh = read_households(None, villages=villages, spacing_m=1_000)  # one point per village
    signal = predict(tower, terrain, model="hata", environment="suburban", max_radius_km=40.0)
    rule = CoverageRule.for_network(towers=tower, environment="suburban",
                                    location_probability=p)  # fmt: skip
    return dead_zones(signal, villages, hh, rule=rule), r50, r90


def test_the_radius_inverted_by_hand_is_what_the_engine_does():
    r50, r90 = radius_km(0.0), radius_km(FADE_90_DB)
    assert 1.0 < r90 < r50 < 10.0  # a suburban LTE cell: a few kilometres
    assert r50 / r90 == pytest.approx(10 ** (FADE_90_DB / 35.0), rel=0.15)  # ~ 35 dB/decade
    assert pytest.approx(-27.78, abs=0.005) == RSRP_OFFSET_DB  # published LTE 10 MHz offset


def test_at_the_median_the_radius_splits_covered_from_no_signal():
    gaps, r50, r90 = world(0.5)
    v = gaps.villages.set_index("name")
    assert v.loc["in50", "status"] == "reliable" and v.loc["out50", "status"] == "no_signal"
    assert v.loc["in90", "status"] == "reliable"  # nearer still
    assert v.loc["out90", "status"] == "reliable"  # inside the median radius: no weak class
    assert (v["households_weak"] == 0).all()


def test_at_90_percent_the_ring_between_the_radii_is_weak():
    gaps, r50, r90 = world(0.9)
    v = gaps.villages.set_index("name")
    assert v.loc["in90", "status"] == "reliable"
    assert v.loc["out90", "status"] == "weak"  # signal at the median, not at 90 %
    assert v.loc["in50", "status"] == "weak"
    assert v.loc["out50", "status"] == "no_signal"
    assert v.loc["out50", "dead"] and not v.loc["out90", "dead"]
    # households: uncovered = no signal + weak, everything adds up
    assert (v["households_uncovered"] == v["households_no_signal"] + v["households_weak"]).all()
    assert (v["households_covered"] + v["households_uncovered"] == v["households"]).all()
    # coverage probability: ≥ 0.9 where reliable, 0.5..0.9 where weak, < 0.5 without signal
    assert v.loc["in90", "coverage_probability"] >= 0.9 - 1e-6
    assert 0.5 <= v.loc["out90", "coverage_probability"] < 0.9
    assert v.loc["out50", "coverage_probability"] < 0.5


def test_technologies_that_do_not_count_give_no_signal():
    terrain = make_grid(np.full((20, 20), 10.0, dtype=np.float32))
    tower = make_towers([(X0 + 1_000, Y0 - 1_000)], tech=["2G"])
    villages = make_villages([(X0 + 800, Y0 - 1_200, X0 + 1_200, Y0 - 800)], households=[10])
    hh = read_households(None, villages=villages, spacing_m=200)
    signal = predict(tower, terrain, model="hata", max_radius_km=2.0)
    everything = CoverageRule.for_network(towers=tower)
    only_4g = CoverageRule.for_network(towers=tower, technologies=["LTE"])
    assert dead_zones(signal, villages, hh, rule=everything).villages["status"][0] == "reliable"
    assert dead_zones(signal, villages, hh, rule=only_4g).villages["status"][0] == "no_signal"


def test_indoors_the_building_loss_and_its_spread_raise_the_threshold():
    out = CoverageRule.for_network(location_probability=0.9)
    inside = CoverageRule.for_network(location_probability=0.9, indoor="traditional")
    # P.2109 traditional at 1800 MHz: median ≈ 14.8 dB; its spread widens the fade margin
    assert inside.signal_threshold("4G") - out.signal_threshold("4G") == pytest.approx(
        14.84, abs=0.05
    )
    assert inside.fade_margin("4G") > out.fade_margin("4G")
    manual = CoverageRule.for_network(location_probability=0.9, indoor_margin_db=10.0)
    assert manual.signal_threshold("4G") == pytest.approx(-100.0)  # the manual override
    doc = inside.to_dict()
    assert doc["metric"]["4G"] == "RSRP" and doc["threshold_dbm"]["4G"] == -110.0
    assert doc["fade_margin_db"]["4G"] == pytest.approx(inside.fade_margin("4G"), abs=0.01)


# --- ITM: its own location variability ---------------------------------------------------------
Z_90 = 1.2815515655446004  # Q⁻¹(0.1)


@pytest.mark.parametrize("p", [0.9, 0.5])
def test_itm_levels_at_the_quantile_make_the_three_classes(p):
    """Four hand-built 4G cells, median level and level at the 90 % location quantile (ITM's
    own deviation y): A below the threshold at the median (no signal); B 5 dB above it with
    y = 8 dB (weak at 90 %: 5 − 8 < 0); C 10 dB above, y = 4 (reliable: 6 dB); D 4 dB above
    on flat ground, y = 1 dB — reliable with ITM's own σ_L (4 − 1 = 3 dB), weak with
    P.1546's fade margin (4 − 7.05 < 0). At p = 0.5 nothing is weak."""
    rule = CoverageRule(thresholds={"4G": THRESHOLD}, location_probability=p,
                        sigma_db={"4G": 5.5})  # fmt: skip
    median = np.array([[-115.0, -105.0, -100.0, -106.0]], dtype=np.float32)
    at_q = median - np.array([[6.0, 8.0, 4.0, 1.0]], dtype=np.float32)
    groups = {("", "4G"): median}
    judged = rule.margins(median, groups, at_quantile=(0.9, at_q, {("", "4G"): at_q}))
    assert judged["signal"].tolist() == [[False, True, True, True]]
    if p == 0.9:
        assert judged["reliable"].tolist() == [[False, False, True, True]]
        # margin at p = q: the level at the quantile over the threshold
        np.testing.assert_allclose(judged["margin"][0, 1:], [-3.0, 6.0, 3.0], atol=1e-5)
    else:
        assert judged["reliable"].tolist() == [[False, True, True, True]]
        np.testing.assert_allclose(judged["margin"][0, 1:], [5.0, 10.0, 4.0], atol=1e-5)
    # coverage probability Φ(m / σ_L), σ_L = y / Q⁻¹(0.1), whatever p
    sigma = np.array([6.0, 8.0, 4.0, 1.0]) / Z_90
    m = np.array([-5.0, 5.0, 10.0, 4.0])
    from scipy.special import ndtr

    np.testing.assert_allclose(judged["probability"][0], ndtr(m / sigma), atol=1e-5)
    # the fade-margin path (closed-form models) calls D weak at 90 %
    fade = rule.margins(median, groups)
    assert bool(fade["reliable"][0, 3]) is (p == 0.5)
