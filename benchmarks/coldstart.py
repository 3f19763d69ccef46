"""Cold start: a fresh Python process, from nothing to its first ITM result on the anchor case.

Case (``shared/bench/README.md``): the analytic rolling hills of ``shared/bench/hills_terrain.py``
as the 1″ SRTM tile ``N15E108.hgt`` (1°×1°, 3601² cells, written to a temporary folder before
timing), one transmitter at 15.5 N 108.5 E, 30 m above ground, receiver 1.5 m, 900 MHz, ITM with
eps 15, sigma 0.005, Ns 301, climate 5, 50 %/50 %, vertical polarisation, radius 30 km at 30 m
(3.1 M cells).

Each run starts a NEW process (``subprocess``) that times, with ``time.perf_counter``:

- import: ``import lomsong`` and the modules the steps below use;
- terrain: :func:`lomsong.read_terrain` of the tile for the tower's point (given in lon/lat:
  the UTM zone is chosen, the tile cropped to 30 km around it and reprojected to UTM 49N at
  30 m);
- first call: :func:`lomsong.propagation.itm_raster.itm_loss_window` on that grid — numba's
  kernels loaded from its on-disk cache (``python -m lomsong.warmup``, run by ``make install``);
  the child counts the kernels it had to compile (0 expected) and says so;
- total: the parent's wall time from starting the process to the child's exit (interpreter
  start-up and shutdown included).

One untimed run first (the OS file cache, numba's cache index), then ``--repeat`` timed runs;
medians are reported, with the goal (≤ 1.5 s total, issue 18) and the machine.

Run: ``.venv/bin/python benchmarks/coldstart.py [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "shared" / "bench"
GOAL_S = 1.5

# the child: everything it does is timed; it prints one JSON line
CHILD = r"""
import time
t0 = time.perf_counter()
import json, sys
import geopandas as gpd
from shapely.geometry import Point
import lomsong as ls
from lomsong.propagation import itm_raster
from numba.core import event
compiled = []  # kernels numba had to compile (not found in its cache)
class Compiled(event.Listener):
    def on_start(self, e):
        compiled.append(e.data["dispatcher"].py_func.__qualname__)
    def on_end(self, e):
        pass
event.register("numba:compile", Compiled())
t1 = time.perf_counter()
tile, lon, lat = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
area = gpd.GeoDataFrame(geometry=[Point(lon, lat)], crs="EPSG:4326")
terrain = ls.read_terrain(tile, area=area, max_radius_km=30.0, resolution_m=30.0)
t2 = time.perf_counter()
x, y = area.to_crs(terrain.crs).geometry.iloc[0].coords[0]
row, col = (int(v) for v in terrain.rowcol(x, y))
loss = itm_raster.itm_loss_window(
    terrain.data, row, col, res_m=30.0, max_radius_m=30000.0, h_tx_m=30.0, h_rx_m=1.5,
    f_mhz=900.0, climate=5, n0=301.0, pol=1, epsilon=15.0, sigma=0.005, mdvar=12, time=50.0,
    location=50.0, situation=50.0)
t3 = time.perf_counter()
import numpy as np
print(json.dumps({"import": t1 - t0, "terrain": t2 - t1, "first": t3 - t2,
                  "cells": int(np.isfinite(loss).sum()), "grid": list(terrain.shape),
                  "crs": terrain.crs.to_string(), "compiled": sorted(set(compiled))}))
"""


def _machine() -> str:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.platform()}, {os.cpu_count()} cores{', ' + cpu if cpu else ''}"


def _load() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def run_once(tile: Path) -> dict:
    """One fresh process: its phases (s) and the parent's wall time from start to exit."""
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD, str(tile), "108.5", "15.5"],
                         capture_output=True, text=True, check=False)  # fmt: skip
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"the child failed:\n{out.stderr}")
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    doc["total"] = wall
    return doc


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="timed runs (medians reported)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, str(BENCH / "hills_terrain.py"), tmp], check=True,
                       capture_output=True)  # fmt: skip
        tile = Path(tmp) / "hgt1" / "N15E108.hgt"
        first = run_once(tile)  # untimed: OS file cache, numba cache index (or its compile)
        runs = []
        for _ in range(args.repeat):
            load = _load()
            runs.append(run_once(tile))
            runs[-1]["load"] = load
    print(f"machine: {_machine()}; load average (1 min) before each run: "
          f"{', '.join(r['load'] for r in runs)}")  # fmt: skip
    print(f"grid {first['grid'][0]} × {first['grid'][1]} in {first['crs']}, "
          f"{first['cells']:,} cells predicted")  # fmt: skip
    if first["compiled"]:
        print(
            f"note: the untimed first run compiled {len(first['compiled'])} kernels "
            "(run `python -m lomsong.warmup` after installing)"
        )
    late = sorted({k for r in runs for k in r["compiled"]})
    if late:
        print(f"WARNING: timed runs compiled {late}: numba's cache is not being hit")
    print(f"\n{'phase (median of ' + str(len(runs)) + ')':<28}{'s':>8}   runs")
    for key, label in (("import", "import"), ("terrain", "read_terrain (crop, UTM)"),
                       ("first", "first ITM call"), ("total", "total (new process)")):  # fmt: skip
        vals = [r[key] for r in runs]
        print(
            f"{label:<28}{statistics.median(vals):>8.3f}   " + ", ".join(f"{v:.3f}" for v in vals)
        )
    med = statistics.median(r["total"] for r in runs)
    verdict = "meets" if med <= GOAL_S else "misses"
    print(f"\ngoal: ≤ {GOAL_S} s from a fresh process to the first ITM result — {verdict} it "
          f"({med:.2f} s)")  # fmt: skip


if __name__ == "__main__":
    main()
