"""Speed of lomsong's propagation engines on the anchor case of shared/bench/README.md.

Case: one transmitter 30 m above ground at 15.5 N 108.5 E, receiver 1.5 m, 900 MHz, ITM with
eps 15, sigma 0.005, Ns 301, climate 5, 50 %/50 % (mdvar 12), vertical polarisation, radius
30 km, on the analytic rolling hills of ``shared/bench/hills_terrain.py`` (1″ tile written to a
temporary folder, read with :func:`lomsong.read_terrain` for the tower's point: cropped to the
radius and reprojected to UTM 49N at 30 m).

Measured:
- the ITM raster engine (:func:`lomsong.propagation.itm_raster.itm_loss_window`): the first call
  of the process (numba's kernels loaded from its cache, the per-radius tables built; numba's
  runtime is already up, as read_terrain uses it), the median of the warm calls, cells/s, peak
  memory, accuracy against the exact point-to-point ITM of 1,000 random cells; goals (issue
  18): ≤ 0.45 s per tower warm, ≤ 0.6 s first call, median |Δ| ≤ 0.5 dB, 95th pct ≤ 2 dB;
- the closed-form models through :func:`lomsong.predict` ("fspl", "hata", "cost231");
- the per-cell approach: exact ITM p2p of every cell's full profile through
  :func:`lomsong.propagation.itm.p2p_tls_batch`, timed on a sample of cells and extrapolated;
- Signal-Server 4.0 and the NTIA reference, quoted from the bench README (same machine class).

Run: ``.venv/bin/python benchmarks/propagation.py [--quick] [--repeat 3]`` (after
``python -m lomsong.warmup``, which ``make install`` runs: otherwise the first call compiles).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

BENCH = Path(__file__).resolve().parents[2] / "shared" / "bench"
GOAL_WARM_S, GOAL_FIRST_S = 0.45, 0.6  # issue 18, anchor case on 2 cores
GOAL_MEDIAN_DB, GOAL_P95_DB = 0.5, 2.0
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
    """Hills tile → UTM 49N grid at 30 m around the transmitter (lomsong.read_terrain); the
    tower's cell and the centre of that cell (where the raster engine puts the antenna)."""
    import geopandas as gpd
    from shapely.geometry import Point

    from lomsong.layers.terrain import read_terrain

    subprocess.run([sys.executable, str(BENCH / "hills_terrain.py"), str(tmp)], check=True,
                   capture_output=True)  # fmt: skip
    area = gpd.GeoDataFrame(geometry=[Point(TX_LON, TX_LAT)], crs="EPSG:4326").to_crs(CRS)
    terrain = read_terrain(tmp / "hgt1" / "N15E108.hgt", area=area,
                           max_radius_km=radius_m / 1000.0, resolution_m=RES)  # fmt: skip
    p = area.geometry.iloc[0]
    row, col = (int(v) for v in terrain.rowcol(p.x, p.y))
    x, y = terrain.xy(row, col)
    return terrain, (float(x), float(y)), (row, col)


def _machine() -> str:
    cpu = ""
    with contextlib.suppress(OSError, StopIteration):
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = next(ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name"))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{platform.platform()}, {os.cpu_count()} cores{', ' + cpu if cpu else ''}; "
            f"load average (1 min) {load:.2f}")  # fmt: skip


def _timed(fn, repeat: int) -> tuple[float, list[float], object]:
    """The first call's wall time (numba loads its cache), then ``repeat`` more: their times."""
    t0 = time.perf_counter()
    out = fn()
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return first, times, out


def _best_of(fn, repeat: int) -> tuple[float, object]:
    """Best wall time of ``repeat`` runs after a first, untimed one."""
    _, times, out = _timed(fn, repeat)
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
    ap.add_argument("--repeat", type=int, default=3, help="timed runs (ITM raster: median)")
    ap.add_argument("--cells", type=int, default=1000, help="cells for accuracy / per-cell")
    args = ap.parse_args(argv)
    radius_km = args.radius_km or (10.0 if args.quick else 30.0)
    radius = radius_km * 1000.0
    n_cells = min(args.cells, 300) if args.quick else args.cells

    import geopandas as gpd

    from lomsong.coverage.predict import predict
    from lomsong.propagation import itm, itm_raster

    print(f"machine: {_machine()}")
    print(f"threads: {numba.get_num_threads()}, radius {radius_km:g} km, 30 m UTM 49N")
    with tempfile.TemporaryDirectory() as tmp:
        terrain, txy, (r0, c0) = build_terrain(radius, Path(tmp))
    z = terrain.data
    rows = []

    # --- ITM raster ---------------------------------------------------------------------------
    def run_raster():
        return itm_raster.itm_loss_window(z, r0, c0, res_m=RES, max_radius_m=radius, **RADIO)

    rss0 = _rss_mb()
    t_first, warm, win = _timed(run_raster, args.repeat)
    t_itm = statistics.median(warm)
    rss1 = _rss_mb()
    cpu_itm = min(_cpu_of(run_raster) for _ in range(args.repeat))
    # one thread: the CPU time of the work itself, which other processes sharing the machine
    # inflate least (the wall time on n idle cores is about this / n)
    n_thr = numba.get_num_threads()
    numba.set_num_threads(1)
    cpu_1 = min(_cpu_of(run_raster) for _ in range(args.repeat))
    numba.set_num_threads(n_thr)
    n_win = int(np.isfinite(win).sum())
    rows.append(("lomsong ITM raster (median, warm)", t_itm, n_win, rss1))
    rows.append(("lomsong ITM raster (first call)", t_first, n_win, rss1))

    # accuracy against the exact p2p of the straight profile of random cells
    R = win.shape[0] // 2
    ii, jj = np.nonzero(np.isfinite(win))
    pick = np.random.default_rng(0).choice(ii.size, size=n_cells, replace=False)
    ii, jj = ii[pick], jj[pick]
    x, y = terrain.xy(r0 - R + ii, c0 - R + jj)
    ref = itm_raster.itm_point_loss(z, terrain.transform, txy, x, y, **RADIO)
    err = np.abs(win[ii, jj] - ref)

    # --- per-cell exact p2p (batch API), extrapolated -----------------------------------------
    dist = np.hypot(x - txy[0], y - txy[1])
    steps = np.maximum(1, np.ceil(dist / RES).astype(int))
    width = int(steps.max()) + 3
    pfls = np.zeros((n_cells, width))
    for k in range(n_cells):
        f = np.arange(steps[k] + 1) / steps[k]
        rr = r0 + (ii[k] - R) * f
        cc = c0 + (jj[k] - R) * f
        pfls[k, 0] = steps[k]
        pfls[k, 1] = dist[k] / steps[k]
        pfls[k, 2 : steps[k] + 3] = _bilinear_np(z, rr, cc)
    t_batch, _ = _best_of(lambda: itm.p2p_tls_batch(pfls, **RADIO), args.repeat)
    t_cell = t_batch / n_cells * n_win
    rows.append(("exact p2p per cell (batch API, extrap.)", t_cell, n_win, float("nan")))

    # --- closed-form models through predict ---------------------------------------------------
    from shapely.geometry import Point

    from lomsong.layers.towers import read_towers

    # through read_towers, as a project's towers: the technology's defaults filled in
    raw = gpd.GeoDataFrame(
        {
            "tower_id": ["T1"],
            "tech": ["2G"],
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
    towers = read_towers(raw, crs=CRS)
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
    med, p95 = float(np.median(err)), float(np.percentile(err, 95))
    print(f"\ngoals (issue 18, anchor case, 2 cores): warm ≤ {GOAL_WARM_S} s per tower, first "
          f"call ≤ {GOAL_FIRST_S} s, vs exact p2p median ≤ {GOAL_MEDIAN_DB} dB and 95th pct ≤ "
          f"{GOAL_P95_DB} dB")  # fmt: skip
    for label, value, goal, unit in (
        ("warm (median of " + str(len(warm)) + ": " + ", ".join(f"{t:.3f}" for t in warm) + ")",
         t_itm, GOAL_WARM_S, "s"),
        ("first call of the process", t_first, GOAL_FIRST_S, "s"),
        ("median |Δ| vs exact p2p", med, GOAL_MEDIAN_DB, "dB"),
        ("95th pct |Δ| vs exact p2p", p95, GOAL_P95_DB, "dB"),
    ):  # fmt: skip
        print(f"  {label:<52}{value:>8.3f} {unit:<3} {'meets' if value <= goal else 'MISSES'}")


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
