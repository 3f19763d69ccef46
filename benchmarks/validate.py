"""Speed of validation: 100,000 walk-test measurements against the 40-tower demo province.

The full demo province (``lomsong.demo.generate_demo()``: 36 × 40 km at 30 m, 40 cells of three
operators, 2G/3G/4G) and a synthetic walk-test log of ``--rows`` measurements (default 100,000)
built from a seed, shaped like a real one:

- positions at household points (jittered by up to 50 m), where walk tests go;
- 85 % of the rows name their serving cell (``cell_id`` = a listed tower of the row's
  operator and technology, the nearest one), as Tower Collector logs do — matched by cell id,
  one point-to-point prediction each;
- 10 % without a cell id (a generic log) and 5 % without service: matched to the best server
  of their operator and technology, so predicted from every such tower within the radius.

Timed: :func:`lomsong.calibration.validate.validate` end to end (matching and ITM prediction of
every row at its point, village containment, residual statistics per operator × technology and
per tower, observed village statuses, confusion tables) with the demo project's settings (ITM,
30 km radius, 1.5 m). The villages' predicted status is a stand-in (validation reads it, the
prediction of the whole province is not what is timed). Numba kernels are compiled (or loaded
from the disk cache) by a warm-up call on 100 rows, not timed.

Goal (issue 17): ≤ 10 s on 2 cores.

Run: ``.venv/bin/python benchmarks/validate.py [--rows N] [--seed S]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import geopandas as gpd
import numpy as np
import pandas as pd
from affine import Affine

from lomsong.calibration.validate import validate
from lomsong.coverage.deadzones import DeadZones
from lomsong.coverage.rule import CLASSES, CoverageRule
from lomsong.coverage.types import Coverage
from lomsong.demo import generate_demo
from lomsong.grid import Grid

GOAL_S = 10.0
MAX_RADIUS_KM = 30.0  # the demo project's


def walk_test(demo, rows: int, seed: int) -> gpd.GeoDataFrame:
    """The synthetic log described in the module docstring."""
    rng = np.random.default_rng(seed)
    hh = demo.households
    pick = rng.integers(0, len(hh), rows)
    x = hh.geometry.x.to_numpy()[pick] + rng.uniform(-50.0, 50.0, rows)
    y = hh.geometry.y.to_numpy()[pick] + rng.uniform(-50.0, 50.0, rows)
    towers = demo.towers.reset_index(drop=True)
    groups = towers.groupby(["operator", "tech"]).indices
    keys = list(groups)
    which = rng.integers(0, len(keys), rows)
    operator = np.array([keys[k][0] for k in which], dtype=object)
    tech = np.array([keys[k][1] for k in which], dtype=object)
    # the nearest tower of the row's operator and technology names its cell
    cell = np.empty(rows, dtype=object)
    tx, ty = towers.geometry.x.to_numpy(), towers.geometry.y.to_numpy()
    for k, members in enumerate(groups.values()):
        mine = np.flatnonzero(which == k)
        d = np.hypot(x[mine, None] - tx[members][None, :], y[mine, None] - ty[members][None, :])
        cell[mine] = towers["tower_id"].to_numpy()[members][np.argmin(d, axis=1)]
    kind = rng.random(rows)
    cell[kind >= 0.85] = ""
    level = rng.normal(-95.0, 12.0, rows)
    no_service = kind >= 0.95
    level[no_service] = np.nan
    frame = pd.DataFrame({"level_dbm": level, "no_service": no_service, "tech": tech,
                          "operator": operator, "cell_id": cell})  # fmt: skip
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(x, y), crs=demo.crs)


def stand_ins(demo) -> tuple[Coverage, DeadZones]:
    """A Coverage carrying the towers and the model settings, and dead zones carrying the
    villages (with a stand-in status) and the rule: what validation reads of them."""
    rule = CoverageRule.for_network(towers=demo.towers, location_probability=0.9)
    empty = Grid(np.zeros((1, 1), dtype=np.float32), Affine(30.0, 0, 0, 0, -30.0, 0), demo.crs)
    params = {"environment": "suburban", "max_radius_km": MAX_RADIUS_KM}
    signal = Coverage(empty, empty, demo.towers, "itm", 1.5, params)
    villages = demo.villages.copy()
    villages["status"] = [CLASSES[i % 3] for i in range(len(villages))]
    none = gpd.GeoDataFrame(geometry=[], crs=demo.crs)
    gaps = DeadZones(villages, none, none, rule, params)
    return signal, gaps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=17)
    args = ap.parse_args()
    t0 = time.perf_counter()
    demo = generate_demo()
    log = walk_test(demo, args.rows, args.seed)
    signal, gaps = stand_ins(demo)
    print(
        f"demo province and a {len(log):,}-row log built in {time.perf_counter() - t0:.1f} s "
        f"({len(demo.towers)} cells, {len(demo.villages)} villages, terrain "
        f"{demo.terrain.shape[0]} × {demo.terrain.shape[1]} at {demo.terrain.res:g} m)"
    )
    validate(log.iloc[:100], None, signal=signal, gaps=gaps, terrain=demo.terrain)  # warm-up
    load = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    result = validate(log, None, signal=signal, gaps=gaps, terrain=demo.terrain)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    m = result.measurements
    counts = m["matched_by"].value_counts().to_dict()
    print(
        f"matched: {counts}; with a prediction: {int(np.isfinite(m['predicted_dbm']).sum()):,}; "
        f"in villages: {int(m['village_id'].notna().sum()):,}"
    )
    print(
        f"validate, {len(log):,} measurements × {len(demo.towers)} towers (ITM, "
        f"{MAX_RADIUS_KM:g} km): {elapsed:.2f} s — goal ≤ {GOAL_S:g} s on 2 cores: "
        f"{'met' if elapsed <= GOAL_S else 'NOT met'}"
    )
    # the machine may be shared: the CPU time of this process, over its cores, is what an
    # idle machine would take at best; the load average says how busy it was
    print(
        f"CPU time {cpu:.2f} s (≈ {cpu / min(2, os.cpu_count() or 1):.2f} s of wall time on 2 "
        f"idle cores); load average at the start {load:.1f}"
    )
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


if __name__ == "__main__":
    main()
