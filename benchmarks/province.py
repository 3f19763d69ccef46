"""A province-sized run: full run, unchanged rerun, rerun with 10 new towers, and without them.

Builds a case the size of Quảng Ngãi with the demo generator (≈ 5,150 km² of land at 30 m,
``--towers`` radiating units, 30 km radius), writes it as project files, and runs
``lomsong run`` three times in child processes, reporting wall time, peak memory (max RSS of
the child) and cells/second (terrain cells × towers predicted / prediction time).

    .venv/bin/python benchmarks/province.py [--towers 1000] [--model itm|hata] [--quick]

Goals on 2 cores: full run ≤ 10 min and ≤ 4 GB; unchanged rerun ≤ 10 s; 10 new towers ≤ 30 s.
A 3-tower warm-up run first compiles the numba engines (once per install, cached on disk) and
is reported on its own.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from lomsong.demo import generate_demo, write_demo
from lomsong.layers.crs import WGS84


def _add_towers(towers: pd.DataFrame, terrain, households, n_total: int, rng) -> pd.DataFrame:
    """Pad the tower list to ``n_total`` rows: omni sites near households (where operators
    build), 20–45 m masts, the demo's technology mix."""
    need = n_total - len(towers)
    if need <= 0:
        return towers.iloc[:n_total]
    w = households["households"].to_numpy(float)
    pick = rng.choice(len(households), size=need, p=w / w.sum())
    pts = households.geometry.iloc[pick]
    jitter = rng.normal(0, 800, size=(need, 2))
    xs, ys = pts.x.to_numpy() + jitter[:, 0], pts.y.to_numpy() + jitter[:, 1]
    g = gpd.GeoSeries(gpd.points_from_xy(xs, ys), crs=terrain.crs).to_crs(WGS84)
    tech = rng.choice(["2G", "3G", "4G"], size=need, p=[0.2, 0.3, 0.5])
    freq = np.select([tech == "2G", tech == "3G"], [900.0, 2100.0], 1800.0)
    extra = pd.DataFrame({
        "tower_id": [f"B{i:05d}" for i in range(need)],
        "site_id": [f"BS{i:05d}" for i in range(need)],
        "operator": rng.choice(["Viettel", "VinaPhone", "MobiFone"], size=need),
        "tech": tech, "freq_mhz": freq,
        "height_m": rng.uniform(20, 45, size=need).round(1),
        "eirp_dbm": rng.uniform(55, 62, size=need).round(1),
        "azimuth_deg": np.nan, "beamwidth_deg": 65.0, "tilt_deg": 3.0,
        "lon": g.x.round(6).to_numpy(), "lat": g.y.round(6).to_numpy(),
    })  # fmt: skip
    return pd.concat([towers, extra], ignore_index=True)


def _run(project: Path, out: Path, extra: list[str]) -> dict:
    stamp = (out / "summary.json").stat().st_mtime_ns if (out / "summary.json").exists() else 0
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "lomsong.cli", "run", str(project), "--out", str(out), "--quiet",
           *extra]  # fmt: skip
    proc = subprocess.Popen(cmd)
    # wait4 gives this child's own resource usage (RUSAGE_CHILDREN would keep the largest
    # child so far, e.g. the warm-up's)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, cmd)
    wall = time.perf_counter() - t0
    summary = json.loads((out / "summary.json").read_text())
    skipped = (out / "summary.json").stat().st_mtime_ns == stamp  # "up to date": nothing ran
    peak_mb = usage.ru_maxrss / 1024  # Linux reports kB
    return {"wall_s": wall, "peak_mb": peak_mb, "summary": summary, "skipped": skipped}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--towers", type=int, default=1000)
    ap.add_argument("--model", default="itm", help="itm (the default with terrain) or hata")
    ap.add_argument("--quick", action="store_true", help="the full demo and 100 towers")
    ap.add_argument("--keep", help="keep the case in this folder")
    args = ap.parse_args()
    variant, n = ("full", 100) if args.quick else ("province", args.towers)
    work = Path(args.keep or tempfile.mkdtemp(prefix="lomsong-province-"))
    inputs = work / "inputs"
    t0 = time.perf_counter()
    project = write_demo(inputs, seed=2023, reduced=False) if variant == "full" else None
    demo = generate_demo(seed=2023, variant=variant)
    if project is None:
        # write the province variant with the demo's writer, then swap in its layers
        project = write_demo(inputs, seed=2023)
        demo.villages.to_file(inputs / "villages.gpkg", layer="villages", driver="GPKG")
        demo.households.to_file(inputs / "households.gpkg", layer="households", driver="GPKG")
        demo.terrain.to_file(inputs / "terrain.tif")
    towers = pd.read_csv(inputs / "towers.csv") if variant == "full" else None
    if towers is None:
        ll = demo.towers.geometry.to_crs(WGS84)
        towers = pd.DataFrame(demo.towers.drop(columns="geometry"))
        towers["lon"], towers["lat"] = ll.x.round(6), ll.y.round(6)
    rng = np.random.default_rng(7)
    towers = _add_towers(towers, demo.terrain, demo.households, n, rng)
    towers.to_csv(inputs / "towers.csv", index=False)
    # the model line of the demo's project file, whatever model the demo writes
    text, n_models = re.subn(r'(?m)^name = "[a-z0-9]+"$', f'name = "{args.model}"',
                             project.read_text(), count=1)  # fmt: skip
    if n_models != 1:
        raise SystemExit(f"{project}: no model name to replace")
    project.write_text(text)
    build_s = time.perf_counter() - t0
    cells = int(np.isfinite(demo.terrain.data).sum())
    print(f"case: {variant}, {demo.terrain.shape[0]} × {demo.terrain.shape[1]} cells "
          f"({cells * demo.terrain.res**2 / 1e6:,.0f} km² grid, "
          f"{(demo.terrain.data > 0).sum() * demo.terrain.res**2 / 1e6:,.0f} km² land), "
          f"{len(towers)} towers, {len(demo.villages)} villages, "
          f"{int(demo.villages['households'].sum()):,} households; "
          f"built in {build_s:.0f} s")  # fmt: skip

    # The engines are compiled by numba on first use and cached on disk (~1.5 min for the ITM
    # path on the reference machine): a fresh install pays it once, on its first run. A 3-tower
    # run of the same case compiles them first, timed on its own, so that the rows below are
    # those of an installed tool.
    warm_csv = work / "towers_warmup.csv"
    towers.iloc[[0, 1, len(towers) - 1]].to_csv(warm_csv, index=False)
    warm = _run(project, work / "warmup", ["--towers", str(warm_csv)])
    shutil.rmtree(work / "warmup", ignore_errors=True)
    print(f"warm-up (3 towers; numba compiles the engines once, then caches them): "
          f"{warm['wall_s']:.1f} s")  # fmt: skip

    out = work / "out"
    rows = []
    full = _run(project, out, [])
    rows.append(("full run", full))
    rows.append(("rerun, no change", _run(project, out, [])))
    more = _add_towers(towers, demo.terrain, demo.households, len(towers) + 10,
                       np.random.default_rng(8))  # fmt: skip
    more.loc[len(towers) :, "tower_id"] = [f"N{i}" for i in range(10)]
    more.to_csv(work / "towers_plus10.csv", index=False)
    plus10 = ["--towers", str(work / "towers_plus10.csv")]
    rows.append(("rerun, 10 towers added", _run(project, out, plus10)))
    # back to the project's list: the composite is rebuilt from the cached entries, and the
    # towers whose skipped cells the 10 served are evaluated there
    rows.append(("rerun, those 10 removed", _run(project, out, [])))
    radius_cells = np.pi * (30_000 / demo.terrain.res) ** 2
    print(f"\n{'case':<24}{'wall s':>9}{'predict s':>11}{'towers':>8}{'Mcells/s':>10}"
          f"{'peak MB':>9}")  # fmt: skip
    for name, r in rows:
        if r["skipped"]:
            print(f"{name:<24}{r['wall_s']:>9.1f}   up to date: nothing recomputed")
            continue
        s = r["summary"]
        pred = s["timings_s"]["predict"]
        npred = s["towers_predicted"]["predicted"]
        rate = npred * radius_cells / pred / 1e6 if npred and pred > 0 else float("nan")
        print(f"{name:<24}{r['wall_s']:>9.1f}{pred:>11.1f}{npred:>8d}{rate:>10.2f}"
              f"{r['peak_mb']:>9.0f}")  # fmt: skip
    t = full["summary"]["totals"]
    print(
        f"\nhouseholds {t['households']:,}, uncovered {t['households_uncovered']:,}, "
        f"dead villages {t['dead_villages']}, timings {full['summary']['timings_s']}"
    )
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
