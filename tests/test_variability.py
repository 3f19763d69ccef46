"""Tests of lomsong.propagation.variability: Q⁻¹, fade margins, P.1546 σ_L, coverage probability."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from assertions import EXACT, HAND_COMPUTED_DB, NORMAL_TABLE
from hypothesis import given, settings
from hypothesis import strategies as st

from lomsong.defaults import ENVIRONMENTS
from lomsong.errors import ModelValidityWarning
from lomsong.propagation.variability import (
    LOCATION_K,
    coverage_probability,
    fade_margin_db,
    inverse_q,
    location_sigma_db,
)

# ------------------------------------------------------------------------ Q⁻¹ and fade margin


@pytest.mark.parametrize(
    ("p", "expected"),
    [
        (0.5, 0.0),
        (0.1, 1.2816),  # standard normal table: Φ(1.2816) = 0.9000
        (0.05, 1.6449),  # Φ(1.6449) = 0.9500
        (0.01, 2.3263),  # Φ(2.3263) = 0.9900
        (0.9, -1.2816),
        (0.95, -1.6449),
    ],
)
def test_inverse_q_matches_normal_tables(p: float, expected: float) -> None:
    assert inverse_q(p) == pytest.approx(expected, abs=NORMAL_TABLE)


def test_inverse_q_keeps_precision_in_the_far_tail() -> None:
    # Q⁻¹(1e-20) ≈ 9.2623 (Φ(−9.2623) = 1e-20); 1 − 1e-20 would round to 1 and give inf.
    assert np.isfinite(inverse_q(1e-20))
    assert inverse_q(1e-20) == pytest.approx(9.2623, abs=NORMAL_TABLE)


@pytest.mark.parametrize(
    ("p", "sigma_db", "expected_db"),
    [
        (0.5, 8.0, 0.0),  # median: no margin
        (0.9, 8.0, 10.25),  # 1.2816 × 8
        (0.95, 5.5, 9.05),  # 1.6449 × 5.5
        (0.75, 10.0, 6.74),  # 0.6745 × 10
        (0.1, 8.0, -10.25),  # below the median the margin is negative
    ],
)
def test_fade_margin_hand_values(p: float, sigma_db: float, expected_db: float) -> None:
    assert fade_margin_db(p, sigma_db) == pytest.approx(expected_db, abs=HAND_COMPUTED_DB)


@settings(max_examples=100, deadline=None)
@given(p=st.floats(0.001, 0.999), sigma=st.floats(0.0, 20.0))
def test_fade_margin_is_symmetric_about_the_median(p: float, sigma: float) -> None:
    assert fade_margin_db(p, sigma) == pytest.approx(-fade_margin_db(1 - p, sigma), abs=1e-6)


def test_fade_margin_grows_with_probability_and_sigma() -> None:
    p = np.linspace(0.01, 0.99, 99)
    assert np.all(np.diff(fade_margin_db(p, 6.0)) > 0)
    assert np.all(np.diff(fade_margin_db(0.9, np.linspace(0.0, 12.0, 13))) > 0)


def test_probabilities_outside_the_open_interval_are_refused() -> None:
    for bad in (0.0, 1.0, 1.5, -0.1):
        with pytest.raises(ValueError, match="strictly between 0 and 1"):
            inverse_q(bad)
        with pytest.raises(ValueError, match="strictly between 0 and 1"):
            fade_margin_db(bad, 8.0)
    with pytest.raises(ValueError, match="sigma_db must be >= 0"):
        fade_margin_db(0.9, -1.0)


# ------------------------------------------------------------------------ σ_L (P.1546-5 §12)


@pytest.mark.parametrize(
    ("f_mhz", "environment", "expected_db"),
    [
        (900.0, "urban", 5.04),  # 1.2 + 1.3·log10(900) = 1.2 + 3.8405
        (900.0, "suburban", 5.04),  # same case: antennas below clutter height
        (1800.0, "urban_large", 5.43),  # 1.2 + 1.3·3.2553
        (900.0, "open", 4.34),  # 0.5 + 3.8405 (receivers in rural areas)
        (100.0, "open", 3.10),  # 0.5 + 1.3·2
        (3000.0, "urban", 5.72),  # 1.2 + 1.3·3.4771, the top of the range
    ],
)
def test_location_sigma_hand_values(f_mhz: float, environment: str, expected_db: float) -> None:
    sigma = location_sigma_db(f_mhz, environment)
    assert sigma == pytest.approx(expected_db, abs=HAND_COMPUTED_DB)


def test_every_environment_has_a_p1546_case() -> None:
    assert set(LOCATION_K) == set(ENVIRONMENTS)
    with pytest.raises(ValueError, match="unknown environment 'forest'"):
        location_sigma_db(900.0, "forest")


def test_wideband_digital_systems_get_five_and_a_half_db() -> None:
    # P.1546-5 §12: digital systems of 1 MHz or more, 5.5 dB at all frequencies; GSM's 200 kHz
    # carrier keeps the frequency formula.
    for env in ENVIRONMENTS:
        assert location_sigma_db(1800.0, env, bandwidth_mhz=10.0) == 5.5
        assert location_sigma_db([700.0, 3500.0], env, bandwidth_mhz=1.0) == pytest.approx(5.5)
    narrow = location_sigma_db(900.0, "urban", bandwidth_mhz=0.2)
    assert narrow == pytest.approx(location_sigma_db(900.0, "urban"), abs=EXACT)


def test_location_sigma_is_clamped_outside_30_to_3000_mhz_with_a_warning() -> None:
    with pytest.warns(ModelValidityWarning, match="30-3000 MHz"):
        above = location_sigma_db(3500.0, "urban")
    assert above == pytest.approx(location_sigma_db(3000.0, "urban"), abs=EXACT)
    with pytest.warns(ModelValidityWarning):
        below = location_sigma_db(10.0, "open")
    assert below == pytest.approx(location_sigma_db(30.0, "open"), abs=EXACT)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        location_sigma_db(3500.0, "urban", validate=False)  # no warning asked for


def test_location_sigma_grows_with_frequency() -> None:
    f = np.linspace(30.0, 3000.0, 50)
    assert np.all(np.diff(location_sigma_db(f, "suburban")) > 0)


# ------------------------------------------------------------------------ coverage probability


@pytest.mark.parametrize(
    ("margin_db", "sigma_db", "expected"),
    [
        (0.0, 8.0, 0.5),  # median exactly at the threshold
        (10.2524, 8.0, 0.9),  # margin 1.2816·σ
        (-10.2524, 8.0, 0.1),
        (5.5, 5.5, 0.8413),  # one σ: Φ(1) = 0.8413
        (3.0, 0.0, 1.0),  # no spread: covered everywhere
        (0.0, 0.0, 1.0),  # exactly at the threshold, no spread
        (-0.1, 0.0, 0.0),  # no spread: covered nowhere
    ],
)
def test_coverage_probability_values(margin_db: float, sigma_db: float, expected: float) -> None:
    assert coverage_probability(margin_db, sigma_db) == pytest.approx(expected, abs=NORMAL_TABLE)


@settings(max_examples=100, deadline=None)
@given(p=st.floats(0.01, 0.99), sigma=st.floats(0.5, 20.0))
def test_coverage_probability_inverts_the_fade_margin(p: float, sigma: float) -> None:
    assert coverage_probability(fade_margin_db(p, sigma), sigma) == pytest.approx(p, abs=1e-9)


def test_coverage_probability_is_monotone_and_symmetric() -> None:
    m = np.linspace(-20.0, 20.0, 81)
    prob = coverage_probability(m, 6.0)
    assert np.all(np.diff(prob) > 0)
    np.testing.assert_allclose(prob + prob[::-1], 1.0, rtol=0, atol=EXACT)  # P(m) + P(−m) = 1


def test_coverage_probability_broadcasts_and_keeps_nan() -> None:
    out = coverage_probability(np.array([[np.nan, 0.0]]), np.array([[8.0], [0.0]]))
    assert out.shape == (2, 2)
    assert np.isnan(out[:, 0]).all()
    np.testing.assert_array_equal(out[:, 1], [0.5, 1.0])
    with pytest.raises(ValueError, match="sigma_db must be >= 0"):
        coverage_probability(1.0, -2.0)
