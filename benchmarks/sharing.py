"""What a real site costs: 3 sectors on 2 bands against one omni cell, in one process.

12 sites of the demo province (the full variant: 36 × 40 km of land at 30 m; the demo's own
tower positions) predicted with ITM at 30 km, the location probability 0.9 and per-technology
composites (the pipeline's defaults), twice: as 12 omni cells on one band (4G 1800 MHz), and
as 12 × 3 sectors (0/120/240°, 65°) × 2 bands (4G 1800 + 3G 2100 MHz) = 72 cells. Co-sited
sectors of one band share one loss window, so the 72 cells are 24 windows: the cost is the
second band's windows plus each sector's level and pruning (issue 18's goal: ≤ 2.6× the omni
run; without sharing it would be ≈ 6×).

    .venv/bin/python benchmarks/sharing.py [--repeat 3]

Each figure is the median of ``--repeat`` warm runs in this process (a first run compiles
the kernels, cached on disk); the peak RSS is this process's high-water mark after the row.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import time

import geopandas as gpd
import numpy as np
import pandas as pd

from lomsong.coverage.predict import predict
from lomsong.demo import generate_demo

GOAL = 2.6


def _machine() -> str:
    load = os.getloadavg()
    return (f"{platform.machine()}, {os.cpu_count()} cores, load average "
            f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")  # fmt: skip


def _network(sites: gpd.GeoDataFrame, *, sectors: bool) -> gpd.GeoDataFrame:
    bands = [("4G", 1800.0, 60.0)] + ([("3G", 2100.0, 58.0)] if sectors else [])
    azimuths = (0.0, 120.0, 240.0) if sectors else (np.nan,)
    rows = []
    for s, p in enumerate(sites.geometry):
        for tech, f_mhz, eirp in bands:
            for k, az in enumerate(azimuths):
                rows.append({"tower_id": f"{s}-{tech}-{k}", "site_id": str(s),
                             "operator": "Viettel", "tech": tech, "freq_mhz": f_mhz,
                             "height_m": 30.0 + s % 4 * 5.0, "eirp_dbm": eirp + k,
                             "azimuth_deg": az, "beamwidth_deg": 65.0, "tilt_deg": 4.0,
                             "geometry": p})  # fmt: skip
    return gpd.GeoDataFrame(pd.DataFrame(rows), geometry="geometry", crs=sites.crs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    demo = generate_demo(seed=2023)
    sites = demo.towers.drop_duplicates("site_id").iloc[:12]
    kw = {"model": "itm", "max_radius_km": 30.0, "location_probability": 0.9, "groups": "tech"}
    omni, full = _network(sites, sectors=False), _network(sites, sectors=True)
    predict(full.iloc[:7], demo.terrain, **kw)  # compile (cached on disk) before timing
    print(f"machine: {_machine()}")
    print(f"terrain {demo.terrain.shape[0]} × {demo.terrain.shape[1]} at {demo.terrain.res:g} m")
    times = {}
    print(f"\n{'network':<40}{'cells':>6}{'median s':>10}{'runs s':>22}{'peak MB':>9}  load")
    for name, net in (("12 sites, omni, 1 band", omni), ("12 sites × 3 sectors × 2 bands", full)):
        runs = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            predict(net, demo.terrain, **kw)
            runs.append(time.perf_counter() - t0)
        times[name] = statistics.median(runs)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{name:<40}{len(net):>6}{times[name]:>10.2f}"
              f"{' / '.join(f'{r:.2f}' for r in runs):>22}{peak:>9.0f}  "
              f"{_machine().split('load average ')[1]}")  # fmt: skip
    ratio = times["12 sites × 3 sectors × 2 bands"] / times["12 sites, omni, 1 band"]
    verdict = "met" if ratio <= GOAL else "MISSED"
    print(f"\nratio {ratio:.2f}× (goal ≤ {GOAL}×: {verdict})")


if __name__ == "__main__":
    main()
