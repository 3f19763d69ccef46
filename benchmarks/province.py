"""A province-sized run: full run, unchanged rerun, rerun with 10 new sites, and without them.

Builds a case the size of Quảng Ngãi with the demo generator (≈ 5,150 km² of land at 30 m,
30 km radius), writes it as project files, and runs ``lomsong run`` in child processes,
reporting wall time, peak memory (max RSS of the child) and cells/second (terrain cells × cells
predicted / prediction time).

    .venv/bin/python benchmarks/province.py [--towers 1000] [--model itm|hata] [--quick]
    .venv/bin/python benchmarks/province.py --cells [--sites 1000]
    .venv/bin/python benchmarks/province.py --scaling [--sites 40]

Default: ``--towers`` radiating units, mostly omni (the demo's network padded with omni sites).
Goal on 2 cores: full run ≤ 4 min.

``--cells``: an operator's network as a real tower list has it — 1,000 sites (at the 1,000-tower
case's positions, padded) × 3 sectors (azimuths 0/120/240°, 65° beamwidth) × 2 bands (4G
1800 MHz, 3G 2100 MHz) = 6,000 cells with OpenCelliD-like ids (``LTE-452-04-<TAC>-<ECI>``, the
site the eNodeB). Goals on 2 cores (issue 18): full run ≤ 10 min and ≤ 4 GB peak; unchanged
rerun ≤ 10 s; 10 sites (60 cells) added ≤ 30 s; those 10 removed ≤ 15 s.

``--scaling``: ``predict`` alone on ``--sites`` sites of the cells case (6 cells each), in a
fresh process per row: in process, 2 local worker processes, a 2-worker dask ``LocalCluster``;
cells/s, wall, peak RSS of the process tree (sampled), the window tasks sent and the composite's
checksum (the same tasks and the same map everywhere).

A 3-cell warm-up run first compiles the numba engines (once per install, cached on disk) and
is reported on its own. Each row prints the machine's load (other work on the cores slows it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
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


_MNC = {"Viettel": "04", "VinaPhone": "02", "MobiFone": "01"}
#: The two bands of every site in --cells: (technology, MHz, radio word, EIRP range dBm).
_BANDS = (("4G", 1800.0, "LTE", (58.0, 62.0)), ("3G", 2100.0, "UMTS", (56.0, 60.0)))


def _site_cells(sites: pd.DataFrame, rng, first: int = 0) -> pd.DataFrame:
    """Three sectors on each of two bands at each site (``lon, lat, operator``), one mast
    height a site, with OpenCelliD-like ids: ``<radio>-452-<MNC>-<area>-<cell>``, the cell
    the eNodeB/NodeB id × 256 + sector (LTE's ECI rule, applied to both radios)."""
    rows = []
    for s, site in enumerate(sites.itertuples(index=False), start=first):
        height = round(float(rng.uniform(20, 45)), 1)
        area = 10_000 + s // 50
        for tech, f_mhz, radio, (lo, hi) in _BANDS:
            for k, az in enumerate((0.0, 120.0, 240.0)):
                rows.append({
                    "tower_id": f"{radio}-452-{_MNC[site.operator]}-{area}-{s * 256 + k + 1}",
                    "site_id": f"{_MNC[site.operator]}-{s}", "operator": site.operator,
                    "tech": tech, "freq_mhz": f_mhz, "height_m": height,
                    "eirp_dbm": round(float(rng.uniform(lo, hi)), 1), "azimuth_deg": az,
                    "beamwidth_deg": 65.0, "tilt_deg": 4.0, "lon": site.lon, "lat": site.lat,
                })  # fmt: skip
    return pd.DataFrame(rows)


def _sites(towers: pd.DataFrame, demo, n_sites: int, rng) -> pd.DataFrame:
    """``n_sites`` site positions: the towers' distinct positions, padded like the towers."""
    sites = towers.drop_duplicates(["lon", "lat"])[["lon", "lat", "operator"]]
    if len(sites) < n_sites:
        more = _add_towers(towers.iloc[:0], demo.terrain, demo.households,
                           n_sites - len(sites), rng)  # fmt: skip
        sites = pd.concat([sites, more[["lon", "lat", "operator"]]], ignore_index=True)
    return sites.iloc[:n_sites].reset_index(drop=True)


def _machine() -> str:
    load = os.getloadavg()
    return (f"{platform.machine()}, {os.cpu_count()} cores, load average "
            f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")  # fmt: skip


def _case(args) -> tuple:
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
    towers = _add_towers(towers, demo.terrain, demo.households, n, np.random.default_rng(7))
    cells = None
    if args.cells or args.scaling:
        sites = _sites(towers, demo, args.sites, np.random.default_rng(9))
        cells = _site_cells(sites, np.random.default_rng(10))
        towers = cells
    towers.to_csv(inputs / "towers.csv", index=False)
    # the model line of the demo's project file, whatever model the demo writes
    text, n_models = re.subn(r'(?m)^name = "[a-z0-9]+"$', f'name = "{args.model}"',
                             project.read_text(), count=1)  # fmt: skip
    if n_models != 1:
        raise SystemExit(f"{project}: no model name to replace")
    project.write_text(text)
    build_s = time.perf_counter() - t0
    grid_cells = int(np.isfinite(demo.terrain.data).sum())
    what = (f"{len(towers)} cells on {towers['site_id'].nunique()} sites" if cells is not None
            else f"{len(towers)} towers")  # fmt: skip
    print(
        f"case: {variant}, {demo.terrain.shape[0]} × {demo.terrain.shape[1]} cells "
        f"({grid_cells * demo.terrain.res**2 / 1e6:,.0f} km² grid, "
        f"{(demo.terrain.data > 0).sum() * demo.terrain.res**2 / 1e6:,.0f} km² land), "
        f"{what}, {len(demo.villages)} villages, "
        f"{int(demo.villages['households'].sum()):,} households; built in {build_s:.0f} s"
    )
    print(f"machine: {_machine()}")
    return work, project, demo, towers


def _pipeline(args, work: Path, project: Path, demo, towers: pd.DataFrame) -> None:
    # The engines are compiled by numba on first use and cached on disk (~1.5 min for the ITM
    # path on the reference machine): a fresh install pays it once, on its first run. A 3-cell
    # run of the same case compiles them first, timed on its own, so that the rows below are
    # those of an installed tool.
    warm_csv = work / "towers_warmup.csv"
    towers.iloc[[0, 1, len(towers) - 1]].to_csv(warm_csv, index=False)
    warm = _run(project, work / "warmup", ["--towers", str(warm_csv)])
    shutil.rmtree(work / "warmup", ignore_errors=True)
    print(f"warm-up (3 cells; numba compiles the engines once, then caches them): "
          f"{warm['wall_s']:.1f} s")  # fmt: skip

    out = work / "out"
    rows = []
    full = _run(project, out, [])
    rows.append(("full run", full, _machine()))
    rows.append(("rerun, no change", _run(project, out, []), _machine()))
    if args.cells:
        rng = np.random.default_rng(8)
        new_sites = _add_towers(towers.iloc[:0], demo.terrain, demo.households, 10, rng)
        extra = _site_cells(new_sites, rng, first=towers["site_id"].nunique() + 1000)
        more = pd.concat([towers, extra], ignore_index=True)
        added = "rerun, 10 sites added"
    else:
        more = _add_towers(towers, demo.terrain, demo.households, len(towers) + 10,
                           np.random.default_rng(8))  # fmt: skip
        more.loc[len(towers) :, "tower_id"] = [f"N{i}" for i in range(10)]
        added = "rerun, 10 towers added"
    more.to_csv(work / "towers_plus10.csv", index=False)
    plus10 = ["--towers", str(work / "towers_plus10.csv")]
    rows.append((added, _run(project, out, plus10), _machine()))
    # back to the project's list: the composite is rebuilt from the cached entries, and the
    # windows whose skipped cells the 10 served are evaluated there
    rows.append(("rerun, those 10 removed", _run(project, out, []), _machine()))
    # and 10 of the first run's own sites (towers) removed: every window was pruned against
    # them, so the cells the others skipped where they served are evaluated now (a
    # decommissioning, the harder case of a removal)
    key = "site_id" if args.cells else "tower_id"
    gone = pd.Series(towers[key].unique()).sample(10, random_state=11)
    fewer = towers[~towers[key].isin(gone)]
    fewer.to_csv(work / "towers_minus10.csv", index=False)
    removed = "rerun, 10 first-run removed"
    rows.append((removed, _run(project, out, ["--towers", str(work / "towers_minus10.csv")]),
                 _machine()))  # fmt: skip
    radius_cells = np.pi * (30_000 / demo.terrain.res) ** 2
    goals = ({"full run": "≤ 600 s, ≤ 4 GB", "rerun, no change": "≤ 10 s",
              added: "≤ 30 s", "rerun, those 10 removed": "≤ 15 s", removed: "≤ 15 s"}
             if args.cells
             else {"full run": "≤ 240 s"})  # fmt: skip
    print(f"\n{'case':<26}{'wall s':>9}{'predict s':>11}{'cells':>7}{'Mcells/s':>10}"
          f"{'peak MB':>9}  {'goal':<16}load after (1, 5, 15 min)")  # fmt: skip
    for name, r, load in rows:
        goal = goals.get(name, "")
        if r["skipped"]:
            print(
                f"{name:<26}{r['wall_s']:>9.1f}   up to date: nothing recomputed"
                f"{r['peak_mb']:>9.0f}  {goal:<16}{load.split('load average ')[1]}"
            )
            continue
        s = r["summary"]
        pred = s["timings_s"]["predict"]
        npred = s["towers_predicted"]["predicted"]
        rate = npred * radius_cells / pred / 1e6 if npred and pred > 0 else float("nan")
        print(f"{name:<26}{r['wall_s']:>9.1f}{pred:>11.1f}{npred:>7d}{rate:>10.2f}"
              f"{r['peak_mb']:>9.0f}  {goal:<16}{load.split('load average ')[1]}")  # fmt: skip
    t = full["summary"]["totals"]
    print(
        f"\nhouseholds {t['households']:,}, uncovered {t['households_uncovered']:,}, "
        f"dead villages {t['dead_villages']}, timings {full['summary']['timings_s']}"
    )


_MODES = {"in process": {}, "2 local workers": {"workers": 2}, "dask LocalCluster, 2 workers": {}}


def _scaling_row(case: Path, mode: str) -> None:
    """One row of the scaling table, in this (fresh) process: prints a JSON line."""
    import pickle

    terrain, towers = pickle.loads(case.read_bytes())
    kw = {"model": "itm", "max_radius_km": 30.0, "location_probability": 0.9, "groups": "tech"}
    # the window tasks predict hands to the executor (the same list whatever runs them)
    sent: list[int] = []
    import lomsong.coverage.predict as predict_module

    original = predict_module.window_results

    def counted(jobs, *a, **k):
        sent.append(len(jobs))
        return original(jobs, *a, **k)

    predict_module.window_results = counted
    cluster = None
    if mode.startswith("dask"):
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               dashboard_address=None)  # fmt: skip
        kw["scheduler"] = client = Client(cluster)
    else:
        kw.update(_MODES[mode])
    t0 = time.perf_counter()
    cov = predict_module.predict(towers, terrain, **kw)
    wall = time.perf_counter() - t0
    if cluster is not None:
        client.close()
        cluster.close()
    digest = hashlib.sha256(np.nan_to_num(cov.power.data, nan=-999).tobytes()
                            + cov.serving.data.tobytes()).hexdigest()[:12]  # fmt: skip
    print(json.dumps({"wall": wall, "cells": len(towers), "tasks": sum(sent), "digest": digest}))


def _scaling(work: Path, demo, towers: pd.DataFrame) -> None:
    import pickle

    import psutil

    gdf = gpd.GeoDataFrame(towers, geometry=gpd.points_from_xy(towers.lon, towers.lat),
                           crs=WGS84).to_crs(demo.terrain.crs)  # fmt: skip
    case = work / "scaling.pkl"
    case.write_bytes(pickle.dumps((demo.terrain, gdf)))
    # compile once (cached on disk) so that no row pays it
    subprocess.run([sys.executable, __file__, "--scaling-row", "in process", "--case", str(case),
                    "--first", "6"], check=True, capture_output=True)  # fmt: skip
    print(f"\n{'mode':<30}{'wall s':>8}{'cells/s':>9}{'tasks':>7}{'peak MB':>9}  composite   load")
    for mode in _MODES:
        proc = subprocess.Popen([sys.executable, __file__, "--scaling-row", mode, "--case",
                                 str(case)], stdout=subprocess.PIPE, text=True)  # fmt: skip
        peak = 0
        ps = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                tree = [ps, *ps.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.2)
        r = json.loads(proc.stdout.read().strip().splitlines()[-1])
        print(
            f"{mode:<30}{r['wall']:>8.1f}{r['cells'] / r['wall']:>9.2f}{r['tasks']:>7d}"
            f"{peak / 2**20:>9.0f}  {r['digest']}  {_machine().split('load average ')[1]}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--towers", type=int, default=1000)
    ap.add_argument("--model", default="itm", help="itm (the default with terrain) or hata")
    ap.add_argument("--quick", action="store_true", help="the full demo and 100 towers")
    ap.add_argument("--cells", action="store_true", help="sites × 3 sectors × 2 bands")
    ap.add_argument("--scaling", action="store_true", help="in process, 2 workers, dask")
    ap.add_argument("--sites", type=int, help="sites of --cells (1000) or --scaling (40)")
    ap.add_argument("--keep", help="keep the case in this folder")
    ap.add_argument("--scaling-row", help=argparse.SUPPRESS)
    ap.add_argument("--case", help=argparse.SUPPRESS)
    ap.add_argument("--first", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.scaling_row:
        if args.first:  # the warm-up: a few cells
            import pickle

            terrain, towers = pickle.loads(Path(args.case).read_bytes())
            tmp = Path(args.case).with_suffix(".first.pkl")
            tmp.write_bytes(pickle.dumps((terrain, towers.iloc[: args.first])))
            _scaling_row(tmp, args.scaling_row)
        else:
            _scaling_row(Path(args.case), args.scaling_row)
        return
    if args.sites is None:
        args.sites = 40 if args.scaling else 1000
    work, project, demo, towers = _case(args)
    if args.scaling:
        _scaling(work, demo, towers)
    else:
        _pipeline(args, work, project, demo, towers)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
