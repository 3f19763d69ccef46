"""Speed of lomsong's propagation engines on the anchor case of shared/bench/README.md.

Case: one transmitter 30 m above ground at 15.5 N 108.5 E, receiver 1.5 m, 900 MHz, ITM with
eps 15, sigma 0.005, Ns 301, climate 5, 50 %/50 % (mdvar 12), vertical polarisation, radius
30 km, on the analytic rolling hills of ``shared/bench/hills_terrain.py`` (1″ tile written to a
temporary folder, read with rasterio and reprojected to UTM 49N at 30 m).

Measured:
- the ITM raster engine (:func:`lomsong.propagation.itm_raster.itm_loss_window`): time per tower,
  cells/s, peak memory, accuracy against the exact point-to-point ITM of 1,000 random cells;
- the closed-form models through :func:`lomsong.predict` ("fspl", "hata", "cost231");
- the per-cell approach: exact ITM p2p of every cell's full profile through
  :func:`lomsong.propagation.itm.p2p_tls_batch`, timed on a sample of cells and extrapolated;
- Signal-Server 4.0 and the NTIA reference, quoted from the bench README (same machine class).

Run: ``.venv/bin/python benchmarks/propagation.py [--quick] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

BENCH = Path(__file__).resolve().parents[2] / "shared" / "bench"
TX_LON, TX_LAT = 108.5, 15.5
RES = 30.0
CRS = "EPSG:32649"
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
# quoted from shared/bench/README.md (2 cores, 2026-11-25)
SIGNAL_SERVER = [
    ("Signal-Server 4.0 ITM, 1 thread (1″)", 21.2, 3_058_481, 1330.0),
    ("Signal-Server 4.0 ITM, 2 threads (1″)", 15.0, 3_058_481, 1330.0),
    ("Signal-Server 4.0 Hata (1″)", 3.56, 3_058_481, float("nan")),
]


def _rss_mb() -> float:
    """Peak resident memory of this process so far (MB; Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def build_terrain(radius_m: float, tmp: Path):
    """Hills tile → UTM 49N grid at 30 m centred on the transmitter's cell."""
    import rasterio
    from affine import Affine
    from pyproj import Transformer
    from rasterio.warp import Resampling, reproject

    from lomsong.grid import Grid

    subprocess.run([sys.executable, str(BENCH / "hills_terrain.py"), str(tmp)], check=True,
                   capture_output=True)  # fmt: skip
    x, y = Transformer.from_crs("EPSG:4326", CRS, always_xy=True).transform(TX_LON, TX_LAT)
    n = int(math.ceil(radius_m / RES)) + 20
    tr = Affine(RES, 0, x - (n + 0.5) * RES, 0, -RES, y + (n + 0.5) * RES)
    z = np.full((2 * n + 1, 2 * n + 1), np.nan, dtype=np.float32)
    with rasterio.open(tmp / "hgt1" / "N15E108.hgt") as src:
        reproject(rasterio.band(src, 1), z, dst_transform=tr, dst_crs=CRS,
                  resampling=Resampling.bilinear, dst_nodata=np.nan)  # fmt: skip
    return Grid(z, tr, CRS), (x, y), n


def _best_of(fn, repeat: int) -> tuple[float, object]:
    """Best wall time of ``repeat`` runs after a warm-up (numba compiles or loads its cache)."""
    out = fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def _cpu_of(fn) -> float:
    """CPU seconds (all threads) of one run: wall time on idle cores ≈ this / cores, a figure
    that other processes sharing the machine do not inflate."""
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="radius 10 km, fewer samples")
    ap.add_argument("--radius-km", type=float, default=None, help="override the radius")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs (best is reported)")
    ap.add_argument("--cells", type=int, default=1000, help="cells for accuracy / per-cell")
    args = ap.parse_args(argv)
    radius_km = args.radius_km or (10.0 if args.quick else 30.0)
    radius = radius_km * 1000.0
    n_cells = min(args.cells, 300) if args.quick else args.cells

    import geopandas as gpd

    from lomsong.coverage.predict import predict
    from lomsong.propagation import itm, itm_raster

    print(f"threads: {numba.get_num_threads()}, radius {radius_km:g} km, 30 m UTM 49N")
    with tempfile.TemporaryDirectory() as tmp:
        terrain, txy, n = build_terrain(radius, Path(tmp))
    z = terrain.data
    rows = []

    # --- ITM raster ---------------------------------------------------------------------------
    def run_raster():
        return itm_raster.itm_loss_window(z, n, n, res_m=RES, max_radius_m=radius, **RADIO)

    rss0 = _rss_mb()
    t_itm, win = _best_of(run_raster, args.repeat)
    rss1 = _rss_mb()
    cpu_itm = min(_cpu_of(run_raster) for _ in range(args.repeat))
    # one thread: the CPU time of the work itself, which other processes sharing the machine
    # inflate least (the wall time on n idle cores is about this / n)
    n_thr = numba.get_num_threads()
    numba.set_num_threads(1)
    cpu_1 = min(_cpu_of(run_raster) for _ in range(args.repeat))
    numba.set_num_threads(n_thr)
    n_win = int(np.isfinite(win).sum())
    rows.append(("lomsong ITM raster", t_itm, n_win, rss1))

    # accuracy against the exact p2p of the straight profile of random cells
    R = win.shape[0] // 2
    ii, jj = np.nonzero(np.isfinite(win))
    pick = np.random.default_rng(0).choice(ii.size, size=n_cells, replace=False)
    ii, jj = ii[pick], jj[pick]
    x, y = terrain.xy(n - R + ii, n - R + jj)
    ref = itm_raster.itm_point_loss(z, terrain.transform, txy, x, y, **RADIO)
    err = np.abs(win[ii, jj] - ref)

    # --- per-cell exact p2p (batch API), extrapolated -----------------------------------------
    dist = np.hypot(x - txy[0], y - txy[1])
    steps = np.maximum(1, np.ceil(dist / RES).astype(int))
    width = int(steps.max()) + 3
    pfls = np.zeros((n_cells, width))
    for k in range(n_cells):
        f = np.arange(steps[k] + 1) / steps[k]
        rr = n + (n - R + ii[k] - n) * f
        cc = n + (n - R + jj[k] - n) * f
        pfls[k, 0] = steps[k]
        pfls[k, 1] = dist[k] / steps[k]
        pfls[k, 2 : steps[k] + 3] = _bilinear_np(z, rr, cc)
    t_batch, _ = _best_of(lambda: itm.p2p_tls_batch(pfls, **RADIO), args.repeat)
    t_cell = t_batch / n_cells * n_win
    rows.append(("exact p2p per cell (batch API, extrap.)", t_cell, n_win, float("nan")))

    # --- closed-form models through predict ---------------------------------------------------
    from shapely.geometry import Point

    towers = gpd.GeoDataFrame(
        {
            "tower_id": ["T1"],
            "freq_mhz": [RADIO["f_mhz"]],
            "height_m": [RADIO["h_tx_m"]],
            "eirp_dbm": [58.0],
            "azimuth_deg": [np.nan],
            "beamwidth_deg": [65.0],
            "tilt_deg": [0.0],
        },
        geometry=[Point(*txy)],
        crs=CRS,
    )
    for model in ("fspl", "hata", "cost231"):
        t_m, cov = _best_of(
            lambda model=model: predict(towers, terrain, model=model, rx_height_m=1.5,
                                        max_radius_km=radius_km),
            args.repeat,
        )  # fmt: skip
        rows.append((f"lomsong predict model={model}", t_m, int(np.isfinite(cov.power.data).sum()),
                     _rss_mb()))  # fmt: skip
    for name, t, cells, mb in SIGNAL_SERVER:
        rows.append((name + " [quoted]", t, cells, mb))

    print(f"\n{'engine':<46}{'s/tower':>9}{'cells':>11}{'cells/s':>12}{'peak MB':>9}")
    for name, t, cells, mb in rows:
        print(f"{name:<46}{t:>9.3f}{cells:>11,}{cells / t:>12,.0f}{mb:>9.0f}")
    print(
        f"\nITM raster: peak RSS {rss1:.0f} MB (process, incl. libraries); "
        f"{rss0:.0f} MB before the first raster call, so +{rss1 - rss0:.0f} MB for the engine"
    )
    print(
        f"ITM raster vs exact p2p at {n_cells} random cells: median |Δ| {np.median(err):.3f} dB, "
        f"95th pct {np.percentile(err, 95):.3f} dB, max {err.max():.2f} dB"
    )
    print(
        f"ITM raster CPU time {cpu_itm:.3f} s over {n_thr} threads "
        f"(≈ {cpu_itm / n_thr:.3f} s wall on as many idle cores)"
    )
    print(
        f"ITM raster single-thread CPU time {cpu_1:.3f} s per tower ({n_win / cpu_1:,.0f} "
        f"cells per CPU-second; ≈ {cpu_1 / n_thr:.3f} s wall on {n_thr} idle cores)"
    )
    print(f"speed-up of the raster over per-cell exact p2p: {t_cell / t_itm:.0f}×")


def _bilinear_np(z: np.ndarray, r: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Bilinear elevation at fractional (row, col) cell-centre coordinates."""
    h, w = z.shape
    i = np.clip(np.floor(r).astype(int), 0, h - 2)
    j = np.clip(np.floor(c).astype(int), 0, w - 2)
    fr = r - i
    fc = c - j
    return (z[i, j] * (1 - fr) * (1 - fc) + z[i + 1, j] * fr * (1 - fc)
            + z[i, j + 1] * (1 - fr) * fc + z[i + 1, j + 1] * fr * fc)  # fmt: skip


if __name__ == "__main__":
    main()
