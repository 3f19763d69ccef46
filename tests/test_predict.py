"""The raster engine on hand-built terrains: discs on flat ground, shadows behind hills."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import X0, Y0, make_grid, make_towers
from scipy.optimize import brentq

from lomsong.coverage.engine import path_loss_points
from lomsong.coverage.predict import predict
from lomsong.errors import InputError, LomsongError
from lomsong.propagation import models


def _hata_radius_km(eirp: float, threshold: float, f=900.0, h_tx=30.0, h_rx=1.5) -> float:
    def f_(d):
        return eirp - models.hata_loss(d, f, h_tx, h_rx, environment="suburban",
                                       validate=False) - threshold  # fmt: skip

    return brentq(f_, 0.5, 50.0)


def test_single_tower_on_flat_ground_covers_a_disc(flat_grid):
    # the tower at the centre of the grid: coverage is a disc of the model's radius
    x, y = flat_grid.xy(150, 150)
    towers = make_towers([(x, y)], eirp_dbm=[55.0])
    cov = predict(towers, flat_grid, model="hata", environment="suburban", max_radius_km=14)
    r_km = _hata_radius_km(55.0, -100.0)
    assert 4 < r_km < 13  # the case must sit well inside the 14 km prediction radius
    covered = np.nan_to_num(cov.power.data, nan=-999) >= -100
    xx, yy = flat_grid.cell_centers()
    dist = np.hypot(xx - x, yy - y)
    # every cell nearer than r − one cell is covered, none farther than r + one cell
    # (one 100 m cell: the discretisation of the grid; earth curvature < 0.1 dB at 13 km)
    assert covered[dist < r_km * 1000 - 100].all()
    assert not covered[dist > r_km * 1000 + 100].any()
    # the serving index is the tower where covered, -1 beyond the radius
    assert (cov.serving.data[dist < 13_000] == 0).all()
    assert (cov.serving.data[dist > 14_100] == -1).all()
    assert np.isnan(cov.power.data[dist > 14_100]).all()


def test_received_power_matches_the_model_on_flat_ground(flat_grid):
    x, y = flat_grid.xy(150, 150)
    towers = make_towers([(x, y)], eirp_dbm=[60.0])
    cov = predict(towers, flat_grid, model="hata", environment="suburban", max_radius_km=14)
    rows = np.array([150, 150, 100, 60])
    cols = np.array([170, 230, 150, 60])
    px, py = flat_grid.xy(rows, cols)
    d_km = np.hypot(px - x, py - y) / 1000
    expected = 60.0 - models.hata_loss(d_km, 900.0, 30.0, 1.5, environment="suburban",
                                       validate=False)  # fmt: skip
    # 0.05 dB: the ray sample nearest each cell centre is within half a cell along the ray
    # (≤ 0.3 dB at 2 km from the 35 log d slope) — cells on the axes/diagonals are exact
    np.testing.assert_allclose(cov.power.data[rows, cols], expected, atol=0.05)


def test_ridge_between_tower_and_village_blocks_the_signal():
    z = np.full((100, 300), 10.0, dtype=np.float32)
    z[:, 150:153] = 400.0  # a 390 m ridge 5 km from the tower, running north–south
    hill = make_grid(z)
    flat = make_grid(np.full((100, 300), 10.0))
    x, y = hill.xy(50, 100)
    towers = make_towers([(x, y)], eirp_dbm=[60.0])
    with_ridge = predict(towers, hill, max_radius_km=25).power.data
    without = predict(towers, flat, max_radius_km=25).power.data
    behind = (50, 200)  # 10 km from the tower, 5 km behind the ridge
    before = (50, 140)  # 4 km from the tower, in front of the ridge
    assert with_ridge[before] == pytest.approx(without[before], abs=0.01)  # untouched
    loss = without[behind] - with_ridge[behind]
    # knife edge: h = 400 + 1.5 (bulge) − 25.75 (ray) = 375.7 m, d1 = d2 = 5 km, λ = 0.333 m
    # → v = 18.4, J(v) = 38.18 dB, of which J(0) = 6.02 dB (grazing) is in Hata already
    assert loss == pytest.approx(38.18 - 6.02, abs=0.05)  # 0.05 dB: float32 powers


def test_sector_antenna_points_its_beam():
    flat = make_grid(np.full((200, 200), 10.0))
    x, y = flat.xy(100, 100)
    towers = make_towers([(x, y)], azimuth_deg=[90.0], beamwidth_deg=[65.0], tilt_deg=[0.0])
    p = predict(towers, flat, max_radius_km=9).power.data
    east, west = p[100, 150], p[100, 50]  # 5 km east (boresight) and 5 km west (back)
    assert east - west == pytest.approx(25.0, abs=0.5)  # front-to-back ratio (3GPP default)


def test_best_server_takes_the_stronger_tower(flat_grid):
    a = flat_grid.xy(150, 80)
    b = flat_grid.xy(150, 220)
    towers = make_towers([a, b], eirp_dbm=[55.0, 55.0])
    cov = predict(towers, flat_grid, max_radius_km=14)
    assert cov.serving.data[150, 100] == 0
    assert cov.serving.data[150, 200] == 1


def test_point_loss_agrees_with_the_raster():
    rng = np.random.default_rng(7)
    # rough terrain: smooth random hills 0–600 m
    from scipy.ndimage import gaussian_filter

    z = gaussian_filter(rng.normal(size=(300, 300)), 12)
    z = (z - z.min()) / (z.max() - z.min()) * 600
    g = make_grid(z)
    x, y = g.xy(150, 150)
    towers = make_towers([(x, y)], eirp_dbm=[60.0])
    raster = predict(towers, g, max_radius_km=14).power.data
    rows, cols = rng.integers(20, 280, 500), rng.integers(20, 280, 500)
    px, py = g.xy(rows, cols)
    pts = 60.0 - path_loss_points(g, (x, y), px, py, f_mhz=900.0, h_tx_m=30.0, max_radius_km=14)
    d = np.abs(pts - raster[rows, cols])
    d = d[np.isfinite(d)]
    # the raster samples each ray along the minor axis, the point path bilinearly: they agree
    # closely but not exactly on rough ground
    assert np.median(d) <= 0.5
    assert np.percentile(d, 95) <= 3.0


def test_towers_without_crs_and_unknown_model(flat_grid):
    # towers in another CRS are reprojected (tests/test_crs_reconcile.py); without one, refused
    towers = make_towers([(X0 + 5000, Y0 - 5000)]).set_crs(None, allow_override=True)
    with pytest.raises(InputError, match="has no CRS"):
        predict(towers, flat_grid)
    with pytest.raises(LomsongError, match="unknown model 'okumura'"):
        predict(make_towers([(X0 + 5000, Y0 - 5000)]), flat_grid, model="okumura")


def test_itm_model_on_flat_ground_matches_the_point_to_point_reference(flat_grid):
    from lomsong.defaults import ITM_DEFAULTS
    from lomsong.propagation import itm

    x, y = flat_grid.xy(150, 150)
    towers = make_towers([(x, y)], eirp_dbm=[60.0])
    p = predict(towers, flat_grid, model="itm", max_radius_km=12).power.data
    # 8 km due east: the PFL is 81 points of 10 m elevation every 100 m
    pfl = [80, 100.0] + [10.0] * 81
    ref = itm.p2p_tls(pfl, h_tx_m=30.0, h_rx_m=1.5, f_mhz=900.0, **ITM_DEFAULTS)
    # 0.01 dB: the same profile exactly (flat ground), float32 storage of the raster
    assert p[150, 230] == pytest.approx(60.0 - ref.loss_db, abs=0.01)


def test_merge_prediction_is_best_server_with_ties_to_the_lower_index():
    from lomsong.coverage.predict import merge_prediction
    from lomsong.coverage.types import TowerPrediction

    rng = np.random.default_rng(9)
    best = rng.choice([-np.inf, -90.0, -80.0], size=(20, 30)).astype(np.float32)
    serving = rng.integers(-1, 5, size=(20, 30)).astype(np.int32)
    group = best.copy()
    power = rng.choice([np.nan, -95.0, -90.0, -80.0, -70.0], size=(6, 8)).astype(np.float32)
    want_best, want_serving, want_group = best.copy(), serving.copy(), group.copy()
    sl = (slice(4, 10), slice(11, 19))
    tie = (power == best[sl]) & (serving[sl] > 3)  # equal power, served by a higher index
    better = (power > want_best[sl]) | ((power == want_best[sl]) & (want_serving[sl] > 3))
    want_serving[sl][better] = 3
    want_best[sl][better] = power[better]
    gbetter = power > want_group[sl]
    want_group[sl][gbetter] = power[gbetter]
    pred = TowerPrediction(4, 11, power)
    merge_prediction(best, serving, pred, 3)
    merge_prediction(group, None, pred, 3)
    np.testing.assert_array_equal(best, want_best)
    np.testing.assert_array_equal(serving, want_serving)
    np.testing.assert_array_equal(group, want_group)
    assert tie.any() and (serving[sl][tie] == 3).all()  # ties go to the lower index


def test_merge_prediction_refuses_a_window_outside_the_grid():
    from lomsong.coverage.predict import merge_prediction
    from lomsong.coverage.types import TowerPrediction

    best = np.full((5, 5), -np.inf, dtype=np.float32)
    with pytest.raises(ValueError, match="exceeds"):
        merge_prediction(best, None, TowerPrediction(3, 3, np.zeros((3, 3), np.float32)), 0)
