"""Tests of lomsong.propagation.antennas: 3GPP sector patterns and angle helpers."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from assertions import EXACT, HALF_POWER_DB
from hypothesis import given, settings
from hypothesis import strategies as st

from lomsong.grid import full_spans, row_counts, window_spans
from lomsong.propagation.antennas import (
    DEFAULT_FRONT_TO_BACK_DB,
    DEFAULT_SIDELOBE_DB,
    antenna_gain_db,
    bearing_deg,
    elevation_deg,
    horizontal_db,
    horizontal_pattern_db,
    sector_gain_window,
    vertical_pattern_db,
)

# The -3 dB points follow exactly from 12 (1/2)^2 = 3: HALF_POWER_DB allows float rounding only;
# closed-form values computed by hand: only float rounding (EXACT) separates them from the code.
HALF_POWER_TOL_DB = HALF_POWER_DB
EXACT_TOL = EXACT


# ---------------------------------------------------------------------------- horizontal


@pytest.mark.parametrize("bw", [30.0, 65.0, 90.0, 120.0])
def test_horizontal_boresight_and_half_power(bw: float) -> None:
    assert horizontal_pattern_db(0.0, beamwidth_deg=bw) == 0.0
    g = horizontal_pattern_db(np.array([-bw / 2, bw / 2]), beamwidth_deg=bw)
    np.testing.assert_allclose(g, -3.0, atol=HALF_POWER_TOL_DB)


def test_horizontal_behind_is_front_to_back() -> None:
    assert horizontal_pattern_db(180.0) == -DEFAULT_FRONT_TO_BACK_DB
    assert horizontal_pattern_db(-170.0, front_to_back_db=30.0) == -30.0


def test_horizontal_wraps() -> None:
    # 350 degrees off is the same as -10 and +370 the same as +10.
    ref = horizontal_pattern_db(10.0)
    assert horizontal_pattern_db(-350.0) == pytest.approx(ref, abs=EXACT_TOL)
    assert horizontal_pattern_db(370.0) == pytest.approx(ref, abs=EXACT_TOL)
    assert horizontal_pattern_db(350.0) == pytest.approx(ref, abs=EXACT_TOL)


def test_horizontal_rejects_bad_beamwidth() -> None:
    with pytest.raises(ValueError, match="beamwidth_deg"):
        horizontal_pattern_db(0.0, beamwidth_deg=0.0)


# ---------------------------------------------------------------------------- vertical


def test_vertical_tilt_shifts_maximum() -> None:
    elev = np.linspace(-30.0, 30.0, 601)  # 0.1 degree steps
    for tilt in (0.0, 4.0, 8.0):
        g = vertical_pattern_db(elev, tilt_deg=tilt)
        # Downtilt positive: the maximum sits at elevation -tilt (0.1-degree grid, exact here).
        assert elev[np.argmax(g)] == pytest.approx(-tilt, abs=1e-9)
        assert g.max() == 0.0


def test_vertical_half_power_and_sidelobe_floor() -> None:
    g = vertical_pattern_db(np.array([-6.0 - 5.0, -6.0 + 5.0]), tilt_deg=6.0)
    np.testing.assert_allclose(g, -3.0, atol=HALF_POWER_TOL_DB)
    assert vertical_pattern_db(60.0, tilt_deg=6.0) == -DEFAULT_SIDELOBE_DB
    assert vertical_pattern_db(-90.0, tilt_deg=0.0, sidelobe_db=30.0) == -30.0


def test_vertical_sign_convention() -> None:
    # A 6-degree downtilt favours points below the horizon over points above it.
    below = vertical_pattern_db(-6.0, tilt_deg=6.0)
    above = vertical_pattern_db(6.0, tilt_deg=6.0)
    assert below == 0.0
    assert above == pytest.approx(-12 * (12 / 10) ** 2, abs=EXACT_TOL)  # -17.28 dB


# ---------------------------------------------------------------------------- combined


def test_combined_boresight_and_floor() -> None:
    kw = {"azimuth_deg": 120.0, "beamwidth_deg": 65.0, "tilt_deg": 3.0}
    assert antenna_gain_db(120.0, -3.0, **kw) == 0.0
    # Behind and off the vertical beam: A_H + A_V = -45 dB, floored at -front_to_back.
    assert antenna_gain_db(300.0, 40.0, **kw) == -DEFAULT_FRONT_TO_BACK_DB
    # Both half-power points at once add: -3 + -3 = -6 dB (still above the floor).
    assert antenna_gain_db(120.0 + 32.5, -3.0 - 5.0, **kw) == pytest.approx(
        -6.0, abs=HALF_POWER_TOL_DB
    )


def test_combined_wraparound() -> None:
    # Azimuth 350 and bearing 10 are 20 degrees apart: -12 (20/65)^2 = -1.136 dB.
    g = antenna_gain_db(10.0, 0.0, azimuth_deg=350.0, beamwidth_deg=65.0, tilt_deg=0.0)
    assert g == pytest.approx(-12 * (20 / 65) ** 2, abs=EXACT_TOL)
    assert g == pytest.approx(-1.136, abs=0.001)  # the hand-rounded value


def test_nan_azimuth_is_omni() -> None:
    bearings = np.array([0.0, 90.0, 180.0, 270.0])
    g = antenna_gain_db(bearings, -20.0, azimuth_deg=np.nan, beamwidth_deg=np.nan, tilt_deg=8.0)
    np.testing.assert_array_equal(g, 0.0)


def test_per_tower_arrays_with_omni() -> None:
    # Three towers (rows) x four cells (columns): sector at 0, omni, sector at 180.
    az = np.array([[0.0], [np.nan], [180.0]])
    bw = np.array([[65.0], [np.nan], [90.0]])
    tilt = np.array([[0.0], [0.0], [0.0]])
    bearings = np.array([0.0, 90.0, 180.0, 270.0])
    g = antenna_gain_db(bearings, 0.0, azimuth_deg=az, beamwidth_deg=bw, tilt_deg=tilt)
    assert g.shape == (3, 4)
    assert g.dtype == np.float64
    off90_65 = -12 * (90 / 65) ** 2  # -23.006 dB: 90 degrees off a 65-degree beam, above -25
    expected = np.array(
        [
            [0.0, off90_65, -25.0, off90_65],  # 180 off: -92 dB, floored at -25
            [0.0, 0.0, 0.0, 0.0],  # omni
            [-25.0, -12.0, 0.0, -12.0],  # 90 off a 90-degree beam: -12 (90/90)^2 = -12
        ]
    )
    np.testing.assert_allclose(g, expected, atol=EXACT_TOL)


@settings(max_examples=300, deadline=None)
@given(
    bearing=st.floats(-720.0, 720.0),
    elev=st.floats(-90.0, 90.0),
    az=st.floats(0.0, 360.0),
    bw=st.floats(10.0, 180.0),
    tilt=st.floats(-10.0, 20.0),
)
def test_combined_bounds(bearing: float, elev: float, az: float, bw: float, tilt: float) -> None:
    g = antenna_gain_db(bearing, elev, azimuth_deg=az, beamwidth_deg=bw, tilt_deg=tilt)
    # Relative gain is never above boresight nor below the front-to-back floor.
    assert -DEFAULT_FRONT_TO_BACK_DB <= g <= 0.0


# ---------------------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    ("dx", "dy", "expected"),
    [
        (0.0, 1.0, 0.0),  # north
        (1.0, 0.0, 90.0),  # east
        (0.0, -1.0, 180.0),  # south
        (-1.0, 0.0, 270.0),  # west
        (1.0, 1.0, 45.0),
        (-1.0, 1.0, 315.0),
        (0.0, 0.0, 0.0),
        (-1e-300, 1.0, 0.0),  # tiny negative angle must not become 360
    ],
)
def test_bearing(dx: float, dy: float, expected: float) -> None:
    assert bearing_deg(dx, dy) == pytest.approx(expected, abs=EXACT_TOL)


def test_bearing_range_and_broadcast() -> None:
    dx = np.array([[-3.0], [2.0]])
    dy = np.array([1.0, -1.0, 0.0])
    b = bearing_deg(dx, dy)
    assert b.shape == (2, 3)
    assert np.all((b >= 0.0) & (b < 360.0))


def test_elevation() -> None:
    assert elevation_deg(100.0, 100.0) == pytest.approx(45.0, abs=EXACT_TOL)
    assert elevation_deg(-30.0, 0.0) == pytest.approx(-90.0, abs=EXACT_TOL)
    assert elevation_deg(0.0, 5000.0) == 0.0


def test_sector_gain_window_is_the_vectorised_pattern() -> None:
    """The fused window kernel of the raster engine = bearing/elevation/antenna_gain_db over
    the window's cells (edges clamped to the grid), to float32 rounding."""
    rng = np.random.default_rng(0)
    z = rng.uniform(0.0, 800.0, (120, 110)).astype(np.float32)
    for _ in range(12):
        size = 2 * int(rng.integers(1, 60)) + 1
        r0, c0 = int(rng.integers(-40, 100)), int(rng.integers(-40, 100))
        res, ant, az = 30.0, float(rng.uniform(0.0, 900.0)), float(rng.uniform(0.0, 360.0))
        bw, tilt = float(rng.uniform(30.0, 120.0)), float(rng.uniform(0.0, 10.0))
        R = size // 2
        off = (np.arange(size) - R) * res
        dx, dy = off[None, :], -off[:, None]
        dist = np.hypot(dx, dy)
        dist[R, R] = res / 2
        rr = np.clip(np.arange(r0, r0 + size), 0, z.shape[0] - 1)
        cc = np.clip(np.arange(c0, c0 + size), 0, z.shape[1] - 1)
        dz = z[np.ix_(rr, cc)] + 1.5 - ant
        want = antenna_gain_db(bearing_deg(dx, dy), elevation_deg(dz, dist), azimuth_deg=az,
                               beamwidth_deg=bw, tilt_deg=tilt)  # fmt: skip
        got = sector_gain_window(z, r0, c0, size, res, antenna_abs_m=ant, rx_height_m=1.5,
                                 azimuth_deg=az, beamwidth_deg=bw, tilt_deg=tilt)  # fmt: skip
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)  # float32 output


@numba.njit
def _wrapped_by_mod(bearing: float, az: float, bw: float, am: float) -> float:
    """The compiled gain with Python's % (fmod) wrap: the form horizontal_db replaced."""
    phi = (bearing - az + 180.0) % 360.0 - 180.0
    return -min(12.0 * (phi / bw) ** 2, am)


def test_compiled_horizontal_gain_wraps_as_python_does_bit_for_bit() -> None:
    """horizontal_db wraps the angle without fmod where ±360 does it: the same float as the
    compiled ``(x + 180) % 360 − 180`` on every bearing and azimuth, the wrap's edges
    (±180, 0, 360, 720), −0.0, NaN and far out of range included."""
    rng = np.random.default_rng(5)
    edges = [0.0, -0.0, 180.0, 360.0, 540.0, 720.0, -180.0, -360.0, -540.0, 1e-300, np.nan,
             np.nextafter(360.0, 0.0), np.nextafter(-180.0, 0.0)]  # fmt: skip
    bearings = np.r_[rng.uniform(0.0, 360.0, 4000), rng.uniform(-2000.0, 2000.0, 2000), edges]
    for az in (0.0, 120.0, 240.0, 359.9, 45.25, -30.0, 800.0):
        for b in bearings:
            want = _wrapped_by_mod(float(b), az, 65.0, 25.0)
            got = horizontal_db(float(b), az, 65.0, 25.0)
            assert got == want or (np.isnan(got) and np.isnan(want)), (b, az, got, want)


def test_depression_window_is_the_per_cell_angle_bit_for_bit() -> None:
    """The window of depression angles (its cells' distances from a table shared by every
    antenna of a run) equals the per-cell form the composite's other kernels take, bit for bit,
    at the grid's edges too (cells outside take the nearest edge cell's ground); with ``only``,
    NaN elsewhere; and it is the geometry's angle (numpy, float64) to 1e-4° (float32 rounding)."""
    from lomsong.propagation import antennas

    rng = np.random.default_rng(5)
    Z = rng.uniform(0.0, 400.0, (60, 70)).astype(np.float32)
    R, res, z_ant, h_rx = 12, 30.0, 250.0, 1.5
    for row, col in ((30, 35), (3, 66), (58, 1)):  # inside; windows over two edges
        got = antennas.depression_window(Z, row, col, R, res_m=res, antenna_abs_m=z_ant,
                                         rx_height_m=h_rx)  # fmt: skip
        want = np.array([[antennas.window_cell_depression_deg(Z, row - R, col - R, R, i, j, res,
                                                               z_ant, h_rx)
                          for j in range(2 * R + 1)] for i in range(2 * R + 1)])  # fmt: skip
        np.testing.assert_array_equal(got, want)
        off = np.arange(-R, R + 1) * res
        dist = np.hypot(off[None, :], off[:, None])
        dist[R, R] = res / 2
        rr = np.clip(np.arange(row - R, row + R + 1), 0, Z.shape[0] - 1)
        cc = np.clip(np.arange(col - R, col + R + 1), 0, Z.shape[1] - 1)
        dz = Z[np.ix_(rr, cc)].astype(np.float64) + h_rx - z_ant
        np.testing.assert_allclose(got, -np.degrees(np.arctan2(dz, dist)), rtol=0, atol=1e-4)
        only = np.zeros(Z.shape, dtype=bool)
        only[row, :] = True
        part = antennas.depression_window(Z, row, col, R, res_m=res, antenna_abs_m=z_ant,
                                          rx_height_m=h_rx, only=only)  # fmt: skip
        inside = np.isfinite(part)
        assert inside[R].sum() == np.count_nonzero(
            (np.arange(col - R, col + R + 1) >= 0) & (np.arange(col - R, col + R + 1) < 70)
        )
        assert not inside[np.arange(2 * R + 1) != R].any()
        np.testing.assert_array_equal(part[inside], got[inside])
        # bounded by the mask's spans, the same angles on the same cells
        spans = window_spans(row_counts(only), row, col, R)
        bounded = antennas.depression_window(Z, row, col, R, res_m=res, antenna_abs_m=z_ant,
                                             rx_height_m=h_rx, only=only, spans=spans)  # fmt: skip
        np.testing.assert_array_equal(bounded, part)


def test_window_spans_bound_exactly_the_marked_cells_of_each_window_row() -> None:
    """Each window row's span runs from its first to its last marked grid cell (empty where
    the row marks none, or lies off the grid), for windows inside, across and beyond the
    grid's edges: the cells a kernel restricted to a mask visits (tested against the cells
    themselves)."""
    rng = np.random.default_rng(0)
    for _ in range(400):
        h, w = (int(v) for v in rng.integers(1, 40, 2))
        mask = rng.random((h, w)) < rng.choice([0.01, 0.1, 0.5])
        R = int(rng.integers(0, 12))
        row, col = int(rng.integers(-5, h + 5)), int(rng.integers(-5, w + 5))
        spans = window_spans(row_counts(mask), row, col, R)
        for i in range(2 * R + 1):
            r = row - R + i
            marked = [j for j in range(2 * R + 1)
                      if 0 <= r < h and 0 <= col - R + j < w and mask[r, col - R + j]]  # fmt: skip
            want = (marked[0], marked[-1] + 1) if marked else None
            got = (int(spans[i, 0]), int(spans[i, 1])) if spans[i, 1] > spans[i, 0] else None
            assert got == want, (i, got, want)
    full = full_spans(7)
    assert full.shape == (15, 2) and (full[:, 0] == 0).all() and (full[:, 1] == 15).all()
