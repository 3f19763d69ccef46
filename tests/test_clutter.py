"""Tests of lomsong.propagation.clutter: P.2109 building entry loss, P.2108 §3.1 clutter loss."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from assertions import EXACT, HAND_COMPUTED_DB, NTIA_P2108_DB, SG3_WORKBOOK_DB

from lomsong.errors import ModelValidityWarning
from lomsong.propagation.clutter import (
    CLUTTER_HEIGHT_M,
    WORLDCOVER_CLUTTER,
    building_entry_loss_db,
    terminal_clutter_loss_db,
)

# ------------------------------------------------------------------------ P.2109 building entry

# ITU-R SG3 "Clutter and BEL workbook" reference values, as reproduced in I. Stevanovic's
# validate_p2109.m (github.com/eeveetza/p2109): location percentages (%) and the loss (dB) not
# exceeded, printed to 0.001 dB.
WORKBOOK_P_PERCENT = [1e-5, 1.0, 10.0, 19.95262, 50.11872, 79.43282, 91.20108, 99.77001]
WORKBOOK = [
    # (f MHz, building, elevation deg, losses at WORKBOOK_P_PERCENT)
    (28_000.0, "traditional", 0.0, [-0.275, 2.769, 6.891, 10.644, 20.218, 30.317, 36.947, 55.440]),
    (28_000.0, "thermally_efficient", 0.0,
     [-2.117, 9.369, 19.484, 26.325, 41.732, 57.223, 67.320, 95.448]),
    (2_000.0, "traditional", 45.0, [-2.484, 3.508, 11.251, 15.274, 23.556, 31.809, 37.211, 52.300]),
    (2_000.0, "thermally_efficient", 45.0,
     [-2.882, 8.605, 20.566, 26.283, 37.995, 49.747, 57.471, 79.101]),
]  # fmt: skip


@pytest.mark.parametrize(("f_mhz", "building", "elevation_deg", "expected"), WORKBOOK)
def test_building_entry_loss_matches_the_sg3_workbook(
    f_mhz: float, building: str, elevation_deg: float, expected: list[float]
) -> None:
    p = np.array(WORKBOOK_P_PERCENT) / 100.0
    got = building_entry_loss_db(f_mhz, p, building=building, elevation_deg=elevation_deg)
    np.testing.assert_allclose(got, expected, rtol=0, atol=SG3_WORKBOOK_DB)


@pytest.mark.parametrize(
    ("f_mhz", "building", "expected_db"),
    [
        # f = 1 GHz: log10 f = 0, F⁻¹(0.5) = 0, so A = r, B = w, C = −3:
        # 10·log10(10^1.264 + 10^0.91 + 10^−0.3) = 10·log10(18.365 + 8.128 + 0.501) = 14.31
        (1000.0, "traditional", 14.31),
        # 10·log10(10^2.819 + 10^2.78 + 10^−0.3) = 10·log10(659.2 + 602.6 + 0.5) = 31.01
        (1000.0, "thermally_efficient", 31.01),
        # f = 1.8 GHz, lf = 0.2553: A = 12.64 + 3.72·lf + 0.96·lf² = 13.652, B = 9.1 − 3·lf = 8.334
        # 10·log10(23.19 + 6.81 + 0.50) = 14.84
        (1800.0, "traditional", 14.84),
    ],
)
def test_building_entry_loss_median_hand_values(
    f_mhz: float, building: str, expected_db: float
) -> None:
    got = building_entry_loss_db(f_mhz, 0.5, building=building)
    assert got == pytest.approx(expected_db, abs=HAND_COMPUTED_DB)


def test_building_entry_loss_grows_with_probability() -> None:
    p = np.linspace(0.01, 0.99, 99)
    for building in ("traditional", "thermally_efficient"):
        for f in (700.0, 1800.0, 3500.0):
            assert np.all(np.diff(building_entry_loss_db(f, p, building=building)) > 0)


def test_traditional_median_grows_with_frequency_above_one_ghz() -> None:
    # Table 1: the traditional median rises with f over the cellular bands (~0.6 dB per octave).
    f = np.geomspace(1000.0, 6000.0, 20)
    assert np.all(np.diff(building_entry_loss_db(f, 0.5)) > 0)


def test_thermally_efficient_buildings_lose_more_than_traditional() -> None:
    f = np.array([700.0, 900.0, 1800.0, 2100.0, 2600.0, 3500.0])
    trad = building_entry_loss_db(f, 0.5)
    eff = building_entry_loss_db(f, 0.5, building="thermally_efficient")
    assert np.all(eff > trad + 10.0)  # ~31 dB against ~14-16 dB at the median


def test_building_entry_loss_grows_with_elevation() -> None:
    # L_e = 0.212·|θ| adds to μ1: steeper paths through the roof lose more; the sign is irrelevant.
    up = building_entry_loss_db(1800.0, 0.5, elevation_deg=30.0)
    down = building_entry_loss_db(1800.0, 0.5, elevation_deg=-30.0)
    assert up == pytest.approx(down, abs=EXACT)
    assert up > building_entry_loss_db(1800.0, 0.5)


def test_building_entry_loss_refuses_bad_input_and_warns_outside_its_range() -> None:
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        building_entry_loss_db(1800.0, 1.0)
    with pytest.raises(ValueError, match="unknown building 'glass'"):
        building_entry_loss_db(1800.0, 0.5, building="glass")
    with pytest.raises(ValueError, match="elevation_deg"):
        building_entry_loss_db(1800.0, 0.5, elevation_deg=95.0)
    with pytest.warns(ModelValidityWarning, match="P.2109 used outside 80-100000 MHz"):
        building_entry_loss_db(50.0, 0.5)


# ------------------------------------------------------------------------ P.2108 §3.1 clutter

NTIA_TYPES = {1: "water_sea", 2: "open_rural", 3: "suburban", 4: "urban", 5: "trees_forest",
              6: "dense_urban"}  # fmt: skip

# NTIA/ITS P.2108 reference implementation, tests/HeightGainTerminalCorrectionModelTestData.csv
# (github.com/NTIA/p2108): f (GHz), h (m), w_s (m), R (m), clutter type, A_h (dB, to 0.1 dB).
NTIA_ROWS = [
    (1.5, 2.0, 27.0, 10.0, 1, 16.0),
    (1.5, 2.0, 27.0, 6.0, 1, 10.9),
    (1.5, 2.0, 27.0, 10.0, 2, 16.0),
    (1.5, 2.0, 27.0, 6.0, 2, 10.9),
    (1.5, 2.0, 27.0, 10.0, 3, 20.5),
    (1.5, 2.0, 27.0, 6.0, 3, 14.6),
    (1.5, 2.0, 27.0, 15.0, 4, 24.5),
    (1.5, 2.0, 27.0, 6.0, 4, 14.6),
    (1.5, 2.0, 27.0, 15.0, 5, 24.5),
    (1.5, 2.0, 27.0, 6.0, 5, 14.6),
    (1.5, 2.0, 27.0, 20.0, 6, 27.1),
    (1.5, 2.0, 27.0, 6.0, 6, 14.6),
    (3.0, 3.0, 15.0, 15.0, 6, 29.0),
    (0.9, 2.3, 30.0, 10.0, 2, 13.7),
    (1.5, 2.5, 25.0, 10.0, 3, 20.2),
    (0.03, 2.1, 24.5, 9.8, 3, 5.7),
    (1.7, 30.0, 24.5, 9.8, 3, 0.0),
    (1.7, 30.0, 24.5, 30.0, 3, 0.0),
]


@pytest.mark.parametrize(("f_ghz", "h_m", "w_m", "r_m", "kind", "expected_db"), NTIA_ROWS)
def test_terminal_clutter_loss_matches_the_ntia_reference(
    f_ghz: float, h_m: float, w_m: float, r_m: float, kind: int, expected_db: float
) -> None:
    got = terminal_clutter_loss_db(
        f_ghz * 1000.0, h_m, NTIA_TYPES[kind], width_m=w_m, representative_height_m=r_m
    )
    assert got == pytest.approx(expected_db, abs=NTIA_P2108_DB)


def test_table_3_heights_are_the_defaults() -> None:
    # Table 3 heights, checked through the loss: 1.5 GHz, h = 2 m, w_s = 27 m (NTIA rows above).
    table_3 = {"water_sea": 10.0, "open_rural": 10.0, "suburban": 10.0, "urban": 15.0,
               "trees_forest": 15.0, "dense_urban": 20.0}  # fmt: skip
    assert table_3 == CLUTTER_HEIGHT_M
    assert terminal_clutter_loss_db(1500.0, 2.0, "urban") == pytest.approx(24.5, abs=NTIA_P2108_DB)
    dense = terminal_clutter_loss_db(1500.0, 2.0, "dense_urban")
    assert dense == pytest.approx(27.1, abs=NTIA_P2108_DB)


def test_forest_against_open_field_at_900_mhz_handset_height() -> None:
    # Open/rural, eq. (2b): K_h2 = 21.8 + 6.2·log10(0.9) = 21.516; −21.516·log10(1.5/10) = 17.73.
    open_field = terminal_clutter_loss_db(900.0, 1.5, "open_rural")
    assert open_field == pytest.approx(17.73, abs=HAND_COMPUTED_DB)
    # Trees/forest, eq. (2a): h_dif = 13.5 m, θ = atan(13.5/27) = 26.565°, K_nu = 0.32445,
    # ν = 0.32445·sqrt(13.5·26.565) = 6.1443, J(ν) = 28.607, A_h = 28.607 − 6.03 = 22.58.
    forest = terminal_clutter_loss_db(900.0, 1.5, "trees_forest")
    assert forest == pytest.approx(22.58, abs=HAND_COMPUTED_DB)
    assert forest > open_field > 10.0


def test_terminal_clutter_loss_grows_with_frequency() -> None:
    f = np.linspace(100.0, 3000.0, 30)
    for clutter in CLUTTER_HEIGHT_M:
        assert np.all(np.diff(terminal_clutter_loss_db(f, 1.5, clutter)) > 0), clutter


def test_terminal_clutter_loss_shrinks_with_height_and_is_zero_at_the_clutter_top() -> None:
    h = np.linspace(0.5, 25.0, 50)
    for clutter, r in CLUTTER_HEIGHT_M.items():
        loss = terminal_clutter_loss_db(1800.0, h, clutter)
        below = h < r
        assert np.all(np.diff(loss[below]) < 0), clutter
        np.testing.assert_array_equal(loss[~below], 0.0)
        assert terminal_clutter_loss_db(1800.0, r, clutter) == 0.0  # h = R exactly


def test_terminal_clutter_loss_refuses_bad_input_and_warns_outside_its_range() -> None:
    with pytest.raises(ValueError, match="unknown clutter type 'jungle'"):
        terminal_clutter_loss_db(900.0, 1.5, "jungle")
    with pytest.raises(ValueError, match="h_m must be positive"):
        terminal_clutter_loss_db(900.0, 0.0, "open_rural")
    with pytest.raises(ValueError, match="width_m must be positive"):
        terminal_clutter_loss_db(900.0, 1.5, "urban", width_m=0.0)
    with pytest.warns(ModelValidityWarning, match=r"P.2108 §3.1 used outside 30-3000 MHz"):
        nr = terminal_clutter_loss_db(3500.0, 1.5, "urban")
    assert nr > terminal_clutter_loss_db(3000.0, 1.5, "urban")  # extrapolated, not clamped
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        terminal_clutter_loss_db(3500.0, 1.5, "urban", validate=False)


def test_worldcover_classes_map_to_p2108_types() -> None:
    assert set(WORLDCOVER_CLUTTER) == {10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 100}
    assert set(WORLDCOVER_CLUTTER.values()) <= set(CLUTTER_HEIGHT_M)
    assert WORLDCOVER_CLUTTER[10] == WORLDCOVER_CLUTTER[95] == "trees_forest"
    assert WORLDCOVER_CLUTTER[50] == "urban"
    assert WORLDCOVER_CLUTTER[80] == "water_sea"
    assert {WORLDCOVER_CLUTTER[c] for c in (20, 30, 40, 60, 70, 90, 100)} == {"open_rural"}
