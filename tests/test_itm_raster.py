"""Tests of lomsong.propagation.itm_raster: the incremental ITM raster engine.

Three layers of checks:
- the incremental pieces against the reference's own functions (least-squares fit from prefix
  sums, horizons from the convex hull) on random profiles;
- the raster with exact Δh against the exact ITM of each ray's own profile (the incremental
  engine changes nothing but the cost), and a flat-earth known answer;
- the raster against the exact point-to-point ITM of the straight profile to each cell
  (:func:`itm_point_loss`) on the analytic hills of the speed benchmark and on real SRTM terrain.
"""

from __future__ import annotations

import csv
import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from assertions import ITM_REFERENCE_DB
from conftest import require

from lomsong.propagation import _itm_cell, _itm_core, itm, itm_raster
from lomsong.propagation.paths import _elev_minor, _ray_cell

SHARED = Path(__file__).resolve().parents[2] / "shared"
HILLS_SCRIPT = SHARED / "bench" / "hills_terrain.py"
DANANG_DEM = SHARED / "data" / "danang_lora" / "srtm_danang.tif"
UTM49 = "EPSG:32649"
RES = 30.0

# the anchor case of the speed benchmark (shared/bench/README.md)
RADIO = {
    "h_tx_m": 30.0,
    "h_rx_m": 1.5,
    "f_mhz": 900.0,
    "climate": 5,
    "n0": 301.0,
    "pol": 1,
    "epsilon": 15.0,
    "sigma": 0.005,
    "mdvar": 12,
    "time": 50.0,
    "location": 50.0,
    "situation": 50.0,
}
#: 535 calls run through the NTIA ITM v1.4 C++ reference (see tests/test_itm.py)
ITM_CASES = Path(__file__).resolve().parent / "data" / "itm_cases.csv"
ITM_CASE_PFLS = Path(__file__).resolve().parent / "data" / "itm_cases_pfl.csv"


def _utm_window(lon: float, lat: float, half_cells: int) -> tuple[Affine, tuple[float, float]]:
    """Transform of a (2n+1)² UTM 49N grid at 30 m whose centre cell is centred on (lon, lat)."""
    from pyproj import Transformer

    x, y = Transformer.from_crs("EPSG:4326", UTM49, always_xy=True).transform(lon, lat)
    n = half_cells
    return Affine(RES, 0, x - (n + 0.5) * RES, 0, -RES, y + (n + 0.5) * RES), (x, y)


@pytest.fixture(scope="module")
def hills() -> tuple[np.ndarray, Affine, tuple[float, float], int]:
    """The benchmark's analytic hills (10-800 m), evaluated at the centres of a 30 m UTM grid
    around the anchor tower (15.5 N 108.5 E), rounded and clipped as the script's tiles."""
    require(HILLS_SCRIPT.exists(), f"{HILLS_SCRIPT} not found")
    from pyproj import Transformer

    spec = importlib.util.spec_from_file_location("hills_terrain", HILLS_SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    n = 300
    tr, txy = _utm_window(108.5, 15.5, n)
    cols, rows = np.meshgrid(np.arange(2 * n + 1) + 0.5, np.arange(2 * n + 1) + 0.5)
    x, y = tr @ (cols, rows)
    lon, lat = Transformer.from_crs(UTM49, "EPSG:4326", always_xy=True).transform(x, y)
    z = np.clip(np.rint(mod.elevation(lat, lon)), 10, 800).astype(np.float32)
    return z, tr, txy, n


@pytest.fixture(scope="module")
def danang() -> tuple[np.ndarray, Affine, tuple[float, float], int]:
    """Real SRTM 1″ of Đà Nẵng (sea, plain and hills to 400 m) reprojected to UTM 49N at 30 m."""
    require(DANANG_DEM.exists(), f"{DANANG_DEM} not found")
    import rasterio
    from rasterio.warp import Resampling, reproject

    n = 340
    tr, txy = _utm_window(108.2, 16.0, n)
    z = np.full((2 * n + 1, 2 * n + 1), np.nan, dtype=np.float32)
    with rasterio.open(DANANG_DEM) as src:
        reproject(rasterio.band(src, 1), z, dst_transform=tr, dst_crs=UTM49,
                  resampling=Resampling.bilinear, dst_nodata=np.nan)  # fmt: skip
    return z, tr, txy, n


def _exact_dh_window(
    z: np.ndarray, row: int, col: int, radius_m: float, radio: dict | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The raster with Δh evaluated exactly at every sample (no interpolation): the windows at
    the location median and at ``radio``'s location quantile."""
    r = radio or RADIO
    return itm_raster._window(z, row, col, RES, radius_m, r["h_tx_m"], r["h_rx_m"],
                              (r["f_mhz"],), r["climate"], r["n0"], r["pol"], r["epsilon"],
                              r["sigma"], r["mdvar"], r["time"], r["location"], r["situation"],
                              10**9, 2.0)[0]  # fmt: skip


def _random_cells(win: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    ii, jj = np.nonzero(np.isfinite(win))
    pick = np.random.default_rng(seed).choice(ii.size, size=k, replace=False)
    return ii[pick], jj[pick]


def _compare_with_points(terrain, radius_m: float, k: int = 1000):
    z, tr, txy, n = terrain
    win = itm_raster.itm_loss_window(z, n, n, res_m=RES, max_radius_m=radius_m, **RADIO)
    R = win.shape[0] // 2
    ii, jj = _random_cells(win, k, seed=7)
    x, y = tr @ (n - R + jj + 0.5, n - R + ii + 0.5)
    ref = itm_raster.itm_point_loss(z, tr, txy, x, y, **RADIO)
    assert np.isfinite(ref).all()
    return np.abs(win[ii, jj] - ref)


# --- incremental pieces against the reference -------------------------------------------------
def _random_profile(rng: np.random.Generator, n: int, kind: str) -> np.ndarray:
    if kind == "flat":
        return np.zeros(n + 1)
    if kind == "ramp":
        return 100.0 + 0.37 * np.arange(n + 1)
    rough = np.cumsum(rng.normal(0.0, rng.uniform(0.5, 15.0), n + 1))
    return rough + rng.uniform(0.0, 800.0)


def test_prefix_fit_equals_reference_fit() -> None:
    rng = np.random.default_rng(1)
    for trial in range(600):
        n = int(rng.integers(1, 700))
        s = float(rng.uniform(20.0, 45.0))
        z = _random_profile(rng, n, ("rough", "flat", "ramp")[trial % 3])
        z_end = z[n] + rng.normal(0.0, 5.0)  # the cell centre's ground replaces the ray's
        ref_z = z.copy()
        ref_z[n] = z_end
        pfl = np.concatenate([[n, s], ref_z])
        P0 = np.concatenate([[0.0], np.cumsum(z - z[0])])
        P1 = np.concatenate([[0.0], np.cumsum(np.arange(n + 1) * (z - z[0]))])
        d = n * s
        # windows as ITM forms them: 0 <= start < end <= d, down to less than one sample
        a, b = sorted(rng.uniform(0.0, d, 2))
        if trial % 5 == 0:
            b = min(d, a + rng.uniform(0.0, 1.5 * s))
        got = itm_raster._fit_prefix(P0, P1, z, z[0], n, z_end, s, a, b)
        want = _itm_core._line_fit(pfl, a, b)
        # same sums formed from prefix sums: only rounding differs (sums of i·z reach ~1e8 m,
        # so ~1e-7 m of cancellation; 1e-5 m is far below any terrain effect)
        assert got == pytest.approx(want, abs=1e-5)


def test_hull_horizons_equal_reference_horizons() -> None:
    rng = np.random.default_rng(2)
    for trial in range(600):
        n = int(rng.integers(1, 800))
        s = float(rng.uniform(20.0, 45.0))
        z = _random_profile(rng, n, ("rough", "flat", "ramp")[trial % 3])
        h_tx, h_rx = float(rng.uniform(1, 60)), float(rng.uniform(1, 10))
        a_e = float(rng.uniform(7.8e6, 8.6e6))
        # the hull is built with a curvature up to 2 % off the path's own, as in the engine
        g_ref = (1.0 + rng.uniform(-0.02, 0.02)) / a_e
        w = z - 0.5 * g_ref * (np.arange(n + 1) * s) ** 2
        if trial % 7 == 0:  # plateaus and exact ties: collinear hull points are dropped
            z = np.round(z / 5.0) * 5.0
            w = z - 0.5 * g_ref * (np.arange(n + 1) * s) ** 2
        hidx = np.zeros(n + 1, dtype=np.int64)
        hn, jt = 0, -1
        z_tx = z[0] + h_tx
        for i in range(1, n):
            hn, jt = itm_raster._hull_push_tx(hidx, hn, i, w, z_tx, jt)
            # the transmitter's tangent vertex kept as the hull grows is the one searched for
            if jt >= 0:
                assert itm_raster._horizons_hull(hidx, hn, w, z, i + 1, s, z_tx, z[i + 1], g_ref,
                                                 a_e, -1)[4] == jt  # fmt: skip
        kept = itm_raster._horizons_hull(hidx, hn, w, z, n, s, z_tx, z[n] + h_rx, g_ref, a_e, jt)
        got = itm_raster._horizons_hull(hidx, hn, w, z, n, s, z_tx, z[n] + h_rx, g_ref, a_e, -1)
        assert kept == got
        want = _itm_core._horizons(np.concatenate([[n, s], z]), a_e, h_tx, h_rx)
        # angles (rad) and distances (m): the reference accumulates x by repeated addition
        assert got[:2] == pytest.approx(want[:2], rel=1e-9, abs=1e-12)
        assert got[2:4] == pytest.approx(want[2:], rel=1e-9)


def test_cell_loss_equals_reference_on_random_paths() -> None:
    """The per-cell rest of ITM (per-tower constants hoisted) is the reference's arithmetic: fed
    the geometry the reference derives from random profiles, it returns the reference's loss,
    over line-of-sight, diffraction and troposcatter paths, all climates and variability modes.
    The batch form (branch-free, vectorised elementary functions) returns the same."""
    rng = np.random.default_rng(4)
    modes = set()
    for trial in range(400):
        n = int(rng.integers(5, 1500))
        s = float(rng.uniform(10.0, 300.0))  # paths of 50 m to 450 km
        z = _random_profile(rng, n, ("rough", "flat", "ramp")[trial % 3])
        radio = {
            "h_tx_m": float(rng.uniform(1.0, 200.0)),
            "h_rx_m": float(rng.uniform(1.0, 20.0)),
            "climate": int(rng.integers(1, 8)),
            "n0": float(rng.uniform(250.0, 400.0)),
            "f_mhz": float(np.exp(rng.uniform(np.log(40.0), np.log(10000.0)))),
            "pol": int(rng.integers(0, 2)),
            "epsilon": float(rng.uniform(4.0, 81.0)),
            "sigma": float(rng.uniform(0.001, 5.0)),
            "mdvar": int(rng.choice([0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23, 31, 32])),
            "time": float(rng.choice([50.0, rng.uniform(1.0, 99.0)])),
            "location": float(rng.choice([50.0, rng.uniform(1.0, 99.0)])),
            "situation": float(rng.choice([50.0, rng.uniform(1.0, 99.0)])),
        }
        pfl = np.concatenate([[n, s], z])
        args = tuple(radio[k] for k in ("h_tx_m", "h_rx_m", "climate", "n0", "f_mhz", "pol",
                                        "epsilon", "sigma", "mdvar", "time", "location",
                                        "situation"))  # fmt: skip
        code, loss, _, mode, th0, th1, dl0, dl1, he0, he1, n_s, dh, *_ = _itm_core._p2p_core(
            pfl, *args
        )
        f = radio["f_mhz"]
        z_g, _, _ = _itm_core._ground(f, 0.0, radio["n0"], radio["pol"], radio["epsilon"],
                                      radio["sigma"])  # fmt: skip
        gamma_e = _itm_core._GAMMA_A * (1.0 - 0.04665 * math.exp(n_s / 179.3))
        kc = _itm_cell._tower_constants(f, radio["h_tx_m"], radio["h_rx_m"], radio["climate"],
                                        radio["mdvar"], radio["time"], radio["location"],
                                        radio["situation"], z_g)  # fmt: skip
        d = pfl[0] * pfl[1]
        got = _itm_cell._cell_loss(kc, z_g, f, th0, th1, dl0, dl1, he0, he1, gamma_e, n_s, dh, d)
        pair = _itm_cell._cell_loss_pair(kc, z_g, f, th0, th1, dl0, dl1, he0, he1, gamma_e, n_s,
                                         dh, d)  # fmt: skip
        geo = [np.array([v]) for v in (th0, th1, dl0, dl1, he0, he1, 0.0, gamma_e, n_s, dh, d)]
        batch, batch_q = np.empty(1), np.empty(1)
        _itm_cell.cells_loss(1, *geo, batch, batch_q, np.empty(1), np.empty(1), kc, z_g, f)
        if code >= 1000:
            assert math.isnan(got)
            assert math.isnan(batch[0]) and math.isnan(batch_q[0])
            continue
        modes.add(mode)
        # same expressions up to the order of a few operations (a hoisted product, x^0.25 as
        # two square roots, one log for two knife edges): ~1e-13 dB measured
        assert got == pytest.approx(loss, abs=1e-9)
        # the batch: polynomial exp/log/cbrt (~1e-14 relative): ≤ 2e-12 dB measured; its
        # quantile output is the loss at the given quantiles, its median output the loss with
        # the location at 50 % (time, situation and mode unchanged)
        median = _itm_core._p2p_core(pfl, *args[:10], 50.0, args[11])[1]
        assert batch_q[0] == pytest.approx(loss, abs=1e-9)
        assert pair[1] == pytest.approx(loss, abs=1e-9)
        assert batch[0] == pytest.approx(median, abs=1e-9)
        assert pair[0] == pytest.approx(median, abs=1e-9)
    assert modes == {1, 2, 3}  # line of sight, diffraction, troposcatter all exercised


def test_pair_is_the_ntia_reference_at_location_quantiles() -> None:
    """The pair's quantile output is the NTIA ITM v1.4 C++ reference's loss (tests/data/
    itm_cases.csv) at that call's time, location and situation quantiles, in every mode of
    variability — broadcast (mdvar 3, the engine's) at 18 non-median location quantiles
    among them; its median output is the reference core with the location at 50 %."""
    with ITM_CASES.open() as fh:
        rows = [r for r in csv.DictReader(line for line in fh if not line.startswith("#"))
                if r["fn"] == "p2p_tls" and int(r["code"]) < 1000]  # fmt: skip
    pfls = [np.array([float(v) for v in line.split(",")])
            for line in ITM_CASE_PFLS.read_text().splitlines()]  # fmt: skip
    names = ("h_tx_m", "h_rx_m", "climate", "n0", "f_mhz", "pol", "epsilon", "sigma", "mdvar",
             "time", "location", "situation")  # fmt: skip
    checked = broadcast = 0
    for r in rows:
        kw = {k: float(r[k]) for k in names}
        for k in ("climate", "pol", "mdvar"):
            kw[k] = int(kw[k])
        pfl = pfls[int(r["profile"])]
        args = tuple(kw[k] for k in names)
        out = _itm_core._p2p_core(pfl, *args)
        th0, th1, dl0, dl1, he0, he1, n_s, dh = out[4:12]
        f = kw["f_mhz"]
        z_g, _, _ = _itm_core._ground(f, 0.0, kw["n0"], kw["pol"], kw["epsilon"], kw["sigma"])
        gamma_e = _itm_core._GAMMA_A * (1.0 - 0.04665 * math.exp(n_s / 179.3))
        kc = _itm_cell._tower_constants(f, kw["h_tx_m"], kw["h_rx_m"], kw["climate"],
                                        kw["mdvar"], kw["time"], kw["location"],
                                        kw["situation"], z_g)  # fmt: skip
        d = pfl[0] * pfl[1]
        geo = [np.array([v]) for v in (th0, th1, dl0, dl1, he0, he1, 0.0, gamma_e, n_s, dh, d)]
        med, q = np.empty(1), np.empty(1)
        _itm_cell.cells_loss(1, *geo, med, q, np.empty(1), np.empty(1), kc, z_g, f)
        pair = _itm_cell._cell_loss_pair(kc, z_g, f, th0, th1, dl0, dl1, he0, he1, gamma_e, n_s,
                                         dh, d)  # fmt: skip
        ref = float(r["loss_db"])  # the C++ reference, stored to 1e-6 dB
        assert q[0] == pytest.approx(ref, abs=ITM_REFERENCE_DB)
        assert pair[1] == pytest.approx(ref, abs=ITM_REFERENCE_DB)
        median = _itm_core._p2p_core(pfl, *args[:10], 50.0, args[11])[1]
        assert med[0] == pytest.approx(median, abs=1e-9)
        assert pair[0] == pytest.approx(median, abs=1e-9)
        checked += 1
        broadcast += kw["mdvar"] % 10 == 3 and kw["location"] != 50.0
    assert checked >= 250 and broadcast >= 15  # a truncated data file fails here


def test_batch_equals_scalar_on_engine_like_geometry() -> None:
    """:func:`_itm_cell.cells_loss` on 20,000 paths shaped like the raster's (horizons, effective
    heights, half of them smooth-earth line of sight, Δh 10-200 m, 1-30 km): the scalar form's
    loss to 1e-9 dB, for the medians and for other quantiles and modes."""
    rng = np.random.default_rng(0)
    n = 20_000
    geo = [rng.uniform(-0.01, 0.01, n), rng.uniform(-0.01, 0.01, n),
           rng.uniform(1e3, 2e4, n), rng.uniform(1e3, 2e4, n), rng.uniform(30, 100, n),
           rng.uniform(2, 30, n), (rng.random(n) < 0.5).astype(float),
           rng.uniform(0.8, 1.2, n) / 8.5e6, np.full(n, 320.0), rng.uniform(10, 200, n),
           rng.uniform(1e3, 3e4, n)]  # fmt: skip
    # (f, h_tx, mdvar, time, location): the medians; the engine's broadcast mode at the 90 %
    # and 99 % location quantiles (the vectorised pair); other modes and time quantiles
    for f, h_tx, mdvar, t, loc in ((900.0, 30.0, 12, 50.0, 50.0), (1800.0, 30.0, 3, 50.0, 90.0),
                                   (2100.0, 45.0, 3, 50.0, 99.0), (2100.0, 45.0, 1, 90.0, 50.0),
                                   (150.0, 100.0, 23, 10.0, 70.0)):  # fmt: skip
        z_g, _, _ = _itm_core._ground(f, 0.0, 301.0, 1, 15.0, 0.005)
        kc = _itm_cell._tower_constants(f, h_tx, 1.5, 5, mdvar, t, loc, 50.0, z_g)
        arrays = [a.copy() for a in geo]
        got_median, got = np.empty(n), np.empty(n)
        _itm_cell.smooth_paths(n, *arrays[:8], arrays[9])
        _itm_cell.cells_loss(n, *arrays, got_median, got, np.empty(n), np.empty(n), kc, z_g, f)
        want = np.empty(n)
        want_median = np.empty(n)
        for i in range(n):
            g = tuple(a[i] for a in geo[:6])
            if geo[6][i]:
                g = _itm_cell._smooth_geometry(geo[4][i], geo[5][i], 1.0 / geo[7][i],
                                               geo[9][i], geo[10][i])  # fmt: skip
            want_median[i] = _itm_cell._cell_loss_pair(kc, z_g, f, *g, geo[7][i], geo[8][i],
                                                       geo[9][i], geo[10][i])[0]  # fmt: skip
            want[i] = _itm_cell._cell_loss(kc, z_g, f, *g, geo[7][i], geo[8][i], geo[9][i],
                                           geo[10][i])  # fmt: skip
        assert np.isfinite(want).all()
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
        np.testing.assert_allclose(got_median, want_median, rtol=0, atol=1e-9)
        # a second carrier on the same arrays (the engine's bands) takes the smooth-earth
        # geometry as the first left it: the same losses, bit for bit
        again = [np.empty(n) for _ in range(2)]
        _itm_cell.cells_loss(n, *arrays, *again, np.empty(n), np.empty(n), kc, z_g, f)
        np.testing.assert_array_equal(again[0], got_median)
        np.testing.assert_array_equal(again[1], got)
        if mdvar == 3 and loc > 50.0:  # ITM's own location deviation: ≥ 0, up to ~10 dB × z
            dev = got - got_median
            assert (dev >= 0).all() and dev.max() > 5.0


# --- the raster engine -------------------------------------------------------------------------
def test_flat_ground_equals_reference_on_the_axes() -> None:
    z = np.zeros((201, 201), dtype=np.float32)
    win = itm_raster.itm_loss_window(z, 100, 100, res_m=RES, max_radius_m=3000.0, **RADIO)
    assert win.shape == (201, 201)
    assert win.dtype == np.float32
    for k in (1, 7, 40, 100):
        want = itm.p2p_tls(np.concatenate([[k, RES], np.zeros(k + 1)]), **RADIO).loss_db
        # the cell k steps east lies on a ray (no lateral offset): the same profile exactly;
        # the window is float32 (~1e-5 dB at 100 dB)
        assert win[100, 100 + k] == pytest.approx(want, abs=1e-4)
        # the four axes, and the diagonals among themselves, see the same flat ground
        assert win[100 - k, 100] == pytest.approx(want, abs=1e-4)
        assert win[100, 100 - k] == pytest.approx(want, abs=1e-4)
        if k <= 60:
            assert win[100 + k, 100 - k] == pytest.approx(win[100 - k, 100 + k], abs=1e-4)
    centre = itm.p2p_tls(np.array([1.0, RES / 2, 0.0, 0.0]), **RADIO).loss_db
    assert win[100, 100] == pytest.approx(centre, abs=1e-4)


def test_window_contract_radius_border_and_voids() -> None:
    z = np.full((150, 150), 50.0, dtype=np.float32)
    z[60:63, 100:103] = np.nan  # a void east of the tower
    win = itm_raster.itm_loss_window(z, 60, 20, res_m=RES, max_radius_m=1500.0, **RADIO)
    R = 50
    assert win.shape == (2 * R + 1, 2 * R + 1)
    ii, jj = np.indices(win.shape)
    dist = np.hypot(ii - R, jj - R) * RES
    assert np.isnan(win[dist > 1500.0 * 1.5]).all()  # beyond the radius
    assert np.isfinite(win[dist <= 1400.0][(jj[dist <= 1400.0] >= R - 20)]).all()
    assert np.isnan(win[:, : R - 20]).all()  # west of the grid's first column
    # behind the void (along the ray through it) nothing is predicted
    assert np.isnan(win[R, R + 80 - 20 :]).all()
    assert np.isfinite(win[R, R + 1 : R + 40]).all()


def test_invalid_radio_parameters_raise_itm_error() -> None:
    z = np.zeros((11, 11), dtype=np.float32)
    args = dict(RADIO, f_mhz=5.0)
    with pytest.raises(itm.ITMError) as err:
        itm_raster.itm_loss_window(z, 5, 5, res_m=RES, max_radius_m=100.0, **args)
    assert err.value.code == 1009
    with pytest.raises(itm.ITMError):
        itm_raster.itm_point_loss(z, Affine(RES, 0, 0, 0, -RES, 0), (0, 0), [1.0], [1.0],
                                  **dict(RADIO, climate=9))  # fmt: skip


def test_point_loss_is_the_reference_on_the_straight_profile(danang) -> None:
    z, tr, txy, n = danang
    # a point 200 cells east: the straight profile samples cell centres exactly
    x, y = txy[0] + 200 * RES, txy[1]
    got = itm_raster.itm_point_loss(z, tr, txy, [x], [y], **RADIO)[0]
    pfl = np.concatenate([[200, RES], z[n, n : n + 201].astype(np.float64)])
    assert got == pytest.approx(itm.p2p_tls(pfl, **RADIO).loss_db, abs=1e-9)


#: The engine's variability mode (broadcast, mdvar 3) at the 90 % location quantile, time and
#: situation at 50 % (lomsong.defaults.ITM_DEFAULTS with the default location probability).
BROADCAST_90 = dict(RADIO, mdvar=3, location=90.0)


def test_point_pair_is_two_point_calls_bit_for_bit(danang) -> None:
    """itm_point_loss_pair evaluates each path once (its variability at both locations): the
    median and the quantile equal two itm_point_loss calls bit for bit, on real SRTM of Đà
    Nẵng (1 km to 0.9 of the tile's half-width, land and sea), quantiles 50-99 %, both modes
    of variability the engine and the reference use, NaN (a path off the grid) included."""
    z, tr, txy, n = danang
    rng = np.random.default_rng(3)
    d = rng.uniform(1000.0, 0.9 * n * RES, 60)
    a = rng.uniform(0.0, 2 * np.pi, 60)
    x, y = txy[0] + d * np.sin(a), txy[1] + d * np.cos(a)
    x[0] = txy[0] + 1e7  # off the grid: NaN in both
    for mdvar in (3, 12):
        for loc in (50.0, 60.0, 70.0, 80.0, 90.0, 99.0):
            radio = {**RADIO, "mdvar": mdvar}
            med, at_q = itm_raster.itm_point_loss_pair(z, tr, txy, x, y,
                                                       **{**radio, "location": loc})  # fmt: skip
            ref = itm_raster.itm_point_loss(z, tr, txy, x, y, **{**radio, "location": 50.0})
            ref_q = itm_raster.itm_point_loss(z, tr, txy, x, y, **{**radio, "location": loc})
            np.testing.assert_array_equal(med, ref)  # bit for bit, NaN where NaN
            np.testing.assert_array_equal(at_q, ref_q)
            assert np.isnan(med[0]) and np.isfinite(med[1:]).sum() >= 40


@pytest.mark.parametrize(("radio", "which"), [(RADIO, 1), (BROADCAST_90, 0), (BROADCAST_90, 1)])
def test_raster_with_exact_delta_h_is_itm_on_each_ray_profile(danang, radio, which) -> None:
    """The incremental evaluation changes the cost, not the result: each cell's loss is the exact
    ITM of the ray prefix that reaches it (receiver ground at the cell centre) — both windows
    of the pair: the location median (``which`` 0) and the location quantile (1)."""
    z, _, _, n = danang
    radius = 4000.0
    win = _exact_dh_window(z, n, n, radius, radio)[which]
    args = tuple(radio[k] for k in ("h_tx_m", "h_rx_m", "climate", "n0", "f_mhz", "pol",
                                    "epsilon", "sigma", "mdvar", "time", "location",
                                    "situation"))  # fmt: skip
    if which == 0:
        args = (*args[:10], 50.0, args[11])
    R = win.shape[0] // 2
    q = itm_raster._RAY_DENSITY
    ext = itm_raster._extents(z, n, n, R, q, RES, radius)
    mask = itm_raster._winners(ext, R, q)
    rays, ts = np.nonzero(mask)
    pick = np.random.default_rng(3).choice(rays.size, size=400, replace=False)
    diff = []
    for ray, t in zip(rays[pick], ts[pick], strict=True):
        direction, m = divmod(int(ray), 2 * q * R + 1)
        m -= q * R
        s = math.sqrt(1.0 + (m / (q * R)) ** 2) * RES
        prof = [float(z[n, n])]
        for k in range(1, t + 1):
            dr, dc, off = _ray_cell(direction, m, k, q * R)
            prof.append(float(_elev_minor(z, n + dr, n + dc, direction, off)))
        prof[-1] = float(z[n + dr, n + dc])
        r = _itm_core._p2p_loss(np.array([t, s, *prof]), *args)
        diff.append(abs(float(win[R + dr, R + dc]) - r[1]))
    diff = np.array(diff)
    # float32 output: ~1e-5 dB. A few cells may differ more: where 0.9 × a horizon distance
    # falls on a sample exactly, the reference's int() of the fit window's end depends on the
    # rounding of its repeated additions, which the O(1) form does not reproduce bit for bit
    # (the reference itself jumps by up to ~2 dB there).
    assert np.mean(diff < 1e-3) >= 0.97
    assert np.median(diff) < 1e-4


def test_delta_h_interpolation_error_is_small(danang) -> None:
    z, _, _, n = danang
    radius = 6000.0
    exact = _exact_dh_window(z, n, n, radius)[1]
    approx = itm_raster.itm_loss_window(z, n, n, res_m=RES, max_radius_m=radius, **RADIO)
    ok = np.isfinite(exact)
    assert (np.isfinite(approx) == ok).all()
    err = np.abs(approx - exact)[ok]
    # Δh from checkpoints every 1/8 of the path length, and on every 8th ray only (angular
    # interpolation in between), vs every sample of every ray (measured: median 0.09 dB, p95
    # 0.55 dB on this terrain; 0.01 / 0.25 dB on the hills); bounds with some margin
    assert np.median(err) <= 0.15
    assert np.percentile(err, 95) <= 0.8


def test_accuracy_against_point_to_point_on_hills(hills) -> None:
    err = _compare_with_points(hills, 9000.0)
    # the contract of the engine (median ≤ 0.5 dB, 95 % ≤ 2 dB vs exact p2p per cell)
    assert np.median(err) <= 0.5
    assert np.percentile(err, 95) <= 2.0


def test_accuracy_against_point_to_point_on_real_srtm(danang) -> None:
    err = _compare_with_points(danang, 10000.0)
    # real 1″ SRTM, sea to 400 m hills. The ray profile passes up to a quarter of a cell beside
    # the cell centre and has one sample per major-axis step (the straight profile one per cell
    # size); on this rough ground the exact p2p itself moves by ~1.2 dB (95 %) when the same
    # straight line is sampled at the ray's count instead. Measured: median 0.17, p95 1.3 dB
    # (1.8 dB with another draw of 1,000 cells): the engine's contract, median ≤ 0.5, p95 ≤ 2.
    assert np.median(err) <= 0.5
    assert np.percentile(err, 95) <= 2.0


@pytest.mark.parametrize(("row", "col"), [(3, 40), (60, 2), (70, 75), (0, 0)])
def test_unclipped_winner_mask_serves_windows_cut_by_the_grid(row: int, col: int) -> None:
    """Towers near the grid's edge reuse the mask of the full window (no voids): cut at each
    ray's extent it picks the same sample for every cell inside the grid as the mask of the
    clipped rays."""
    z = np.zeros((80, 90), dtype=np.float32)
    R, q, radius = 30, itm_raster._RAY_DENSITY, 30 * RES
    ext = itm_raster._extents(z, row, col, R, q, RES, radius, False)
    full = itm_raster._extents(z, row, col, R, q, RES, radius, False, False)
    assert (ext <= full).all() and (ext < full).any()  # the grid cuts some rays
    clipped = itm_raster._winners(ext, R, q)
    unclipped = itm_raster._winners(full, R, q)
    keep = np.arange(R + 1)[None, :] <= ext[:, None]
    assert np.array_equal(clipped * keep, unclipped * keep)
    # and every cell of the grid inside the radius is taken once
    assert int((clipped * keep).sum()) == int((unclipped * keep).sum())


def test_ray_extents_solved_without_walking_equal_the_walk() -> None:
    """Without voids the extents are solved per ray (radius, grid edges); the walk that reads
    the terrain (taken whenever the window holds a void) gives the same on a void-free grid."""
    rng = np.random.default_rng(2)
    z = np.zeros((70, 95), dtype=np.float32)
    for row, col in [(0, 0), (69, 94), (35, 47), (3, 90), (66, 2)] + [
        tuple(int(v) for v in rng.integers(0, (70, 95))) for _ in range(10)
    ]:
        for R, radius in [(30, 30 * RES), (40, 37.3 * RES), (25, 25 * RES * math.sqrt(2))]:
            for q in (1, 2):
                walked = itm_raster._extents(z, row, col, R, q, RES, radius, True)
                solved = itm_raster._extents(z, row, col, R, q, RES, radius, False)
                np.testing.assert_array_equal(solved, walked)
                free = itm_raster._extents(z, row, col, R, q, RES, radius, False, False)
                assert (free >= solved).all()


@pytest.mark.parametrize(("f_mhz", "h_tx", "climate", "n0"), [(900.0, 30.0, 1, 350.0),
                                                             (1800.0, 60.0, 5, 301.0)])  # fmt: skip
def test_itm_loss_is_never_below_its_lower_bound(danang, f_mhz, h_tx, climate, n0):
    """The pruning bound (free space minus ITM's largest median variability) holds on every
    cell of real rough terrain: a cell skipped with it could never have served."""
    z, _, _, n = danang
    radius = 9000.0
    R = int(radius / RES)
    # with the antenna heights: over the effective distances these paths can have (tighter)
    bound = itm_raster.loss_lower_bound_window(R, res_m=RES, f_mhz=f_mhz, climate=climate,
                                               h_tx_m=h_tx, h_rx_m=1.5)  # fmt: skip
    loose = itm_raster.loss_lower_bound_window(R, res_m=RES, f_mhz=f_mhz, climate=climate)
    assert (bound >= loose).all()
    for row, col in [(n, n), (n - 120, n + 90), (n + 150, n - 60)]:
        loss = itm_raster.itm_loss_window(z, row, col, res_m=RES, max_radius_m=radius,
                                          h_tx_m=h_tx, h_rx_m=1.5, f_mhz=f_mhz,
                                          climate=climate, n0=n0)  # fmt: skip
        ok = np.isfinite(loss)
        assert ok.sum() > 200_000
        assert (loss[ok] >= bound[ok]).all()  # no tolerance: the bound is already 0.01 dB low
        # the slack is small where ITM is near free space: the bound is not vacuous
        assert np.nanmin(loss - bound) < 3.0
    assert itm_raster.loss_lower_bound_window(R, res_m=RES, f_mhz=900.0, time=90.0) is None


@pytest.mark.parametrize("climate", range(1, 8))
def test_largest_median_variability_is_the_curves_maximum(climate):
    """The bound's V_med maximum (one lookup in a running maximum sampled every 10 m) is the
    maximum of the curve sampled densely over 0 … d_e, for every climate, at distances where
    the curve is still rising, near its peak and past it."""
    v = _itm_core._V_MED[climate - 1]
    for de_max in (1e3, 5e4, 1.15e5, 1.5e5, 1.98e5, 2.3e5, 4e5, 1e6, 5e6):
        d = np.linspace(0.0, de_max, 1_000_001)  # 5 m steps at most
        r = (d / v[2]) ** 2
        dense = max(0.0, float(np.max((v[0] + v[1] / (1.0 + ((d - v[3]) / v[4]) ** 2))
                                      * r / (1.0 + r))))  # fmt: skip
        got = itm_raster._v_med_max(climate, de_max)
        # never below the maximum (the bound stays a bound), 0.01 dB above it (its margin),
        # give or take the curve's change over 10 m (< 1e-6 dB)
        assert dense + 0.01 - 1e-6 <= got <= dense + 0.01 + 1e-6, (de_max, got, dense)


def test_skipped_cells_leave_every_other_cell_bit_identical(danang):
    """Cells marked in ``skip`` hold +inf; every other cell has exactly the loss of the run
    without skipping (the Δh checkpoints and the Δh rays' table do not depend on what was
    skipped)."""
    z, _, _, n = danang
    radius = 9000.0
    R = int(radius / RES)
    kw = {"res_m": RES, "max_radius_m": radius, "h_tx_m": 30.0, "h_rx_m": 1.5, "f_mhz": 900.0}
    full = itm_raster.itm_loss_window(z, n, n, **kw)
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[-R : R + 1, -R : R + 1]
    # a realistic pattern: far cells and a sector behind the tower, plus random cells
    skip = (np.hypot(yy, xx) > 0.6 * R) | (xx < -yy) | (rng.random(full.shape) < 0.2)
    skip[R, R] = False
    part = itm_raster.itm_loss_window(z, n, n, **kw, skip=skip)
    inside = np.isfinite(full)
    assert np.isposinf(part[skip & inside]).all()
    keep = ~skip & inside
    assert keep.sum() > 30_000
    np.testing.assert_array_equal(part[keep], full[keep])
    assert np.isnan(part[~inside]).all()
    with pytest.raises(ValueError, match="skip has shape"):
        itm_raster.itm_loss_window(z, n, n, **kw, skip=skip[1:])


def test_a_sites_carriers_share_one_walk_bit_for_bit(danang):
    """One walk of the rays for several carriers (the geometry is the frequency's neither):
    each carrier's median and quantile windows equal its own run bit for bit — four carriers
    (two walks of at most three), with skipped cells, on real SRTM; no carrier and a bad
    carrier are refused."""
    z, _, _, n = danang
    radius = 6000.0
    R = int(radius / RES)
    kw = {"res_m": RES, "max_radius_m": radius, "h_tx_m": 35.0, "h_rx_m": 1.5,
          "location": 90.0}  # fmt: skip
    yy, xx = np.mgrid[-R : R + 1, -R : R + 1]
    skip = (np.hypot(yy, xx) > 0.7 * R) | (np.random.default_rng(5).random(yy.shape) < 0.1)
    skip[R, R] = False
    freqs = (1800.0, 2100.0, 900.0, 700.0)
    shared = itm_raster.itm_loss_bands(z, n, n, f_mhz=freqs, skip=skip, **kw)
    assert len(shared) == 4
    for f, (loss, loss_q) in zip(freqs, shared, strict=True):
        own, own_q = itm_raster.itm_loss_pair(z, n, n, f_mhz=f, skip=skip, **kw)
        np.testing.assert_array_equal(loss, own)
        np.testing.assert_array_equal(loss_q, own_q)
        assert np.isposinf(loss[skip & np.isfinite(own_q)]).all()
    # the carriers really differ (the frequency terms are each carrier's own)
    ok = np.isfinite(shared[0][0]) & np.isfinite(shared[3][0])
    assert np.median(shared[0][0][ok] - shared[3][0][ok]) > 5.0  # 1800 vs 700 MHz: ≥ 8 dB FSPL
    with pytest.raises(ValueError, match="no carrier"):
        itm_raster.itm_loss_bands(z, n, n, f_mhz=(), **kw)
    with pytest.raises(itm.ITMError):
        itm_raster.itm_loss_bands(z, n, n, f_mhz=(900.0, 5.0), **kw)
