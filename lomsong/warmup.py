"""Compile lomsong's numba kernels once, ahead of the first run (``python -m lomsong.warmup``).

numba compiles a kernel the first time it is called and keeps the machine code in its on-disk
cache (``cache=True``: ``__pycache__`` beside the module, or ``NUMBA_CACHE_DIR``); every later
process loads it in milliseconds. On a fresh install that first compile takes about a minute,
mostly the ITM raster engine. ``make install`` runs this module once after ``pip install``, so
that neither ``make demo`` nor a user's first run pays it.

What is compiled is what a run calls, with the argument types a run passes: the warm-up calls
the public functions (:func:`lomsong.coverage.predict.predict` with ITM and Hata, the point
predictions the explanations and the siting use, the backhaul graph, the tower cache) on a
tiny synthetic scene (61 × 61 cells of rolling hills, three towers), not the kernels directly.
The work is split in two groups compiled side by side in two processes (numba compiles on one
core): ``itm`` (the ITM raster engine and the coverage kernels around it, the longest) and
``points`` (ITM point to point first, then everything else); a kernel one group needs after
the other has stored it is read from the cache. The one-signature rule (a kernel compiled
once, not once per literal or dtype) is checked by ``tests/test_coldstart.py``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

__all__ = ["GROUPS", "warm_up", "run_group"]

#: The scene's UTM zone and centre (15.5 N, 108.5 E: Quảng Ngãi).
_CRS = "EPSG:32649"
_X0, _Y0 = 553_600.0, 1_713_700.0
_RES_M = 30.0
_CELLS = 61
_RADIUS_KM = 0.75


def _scene():
    """A tiny terrain Grid, three towers (one omni, two sectors, through read_towers like a
    project's) and two candidate sites, in the scene's UTM zone."""
    import geopandas as gpd
    import pandas as pd
    from affine import Affine
    from shapely.geometry import Point

    from lomsong.grid import Grid
    from lomsong.layers.towers import read_towers

    half = _CELLS * _RES_M / 2
    transform = Affine(_RES_M, 0.0, _X0 - half, 0.0, -_RES_M, _Y0 + half)
    ii, jj = np.mgrid[0:_CELLS, 0:_CELLS].astype(np.float64)
    z = 200.0 + 60.0 * np.sin(ii / 7.0) * np.cos(jj / 9.0) + 0.5 * ii
    terrain = Grid(z.astype(np.float32), transform, _CRS)
    offsets = [(0.0, 0.0, np.nan), (-240.0, 180.0, 30.0), (210.0, -150.0, 250.0)]
    frame = pd.DataFrame(
        {
            "tower_id": [f"W{k}" for k in range(len(offsets))],
            "operator": ["Viettel", "Viettel", "VinaPhone"],
            "tech": ["4G", "4G", "3G"],
            "height_m": [30.0, 25.0, 35.0],
            "azimuth_deg": [az for _, _, az in offsets],
        }
    )
    points = [Point(_X0 + dx, _Y0 + dy) for dx, dy, _ in offsets]
    towers = read_towers(gpd.GeoDataFrame(frame, geometry=points, crs=_CRS), crs=_CRS)
    candidates = gpd.GeoDataFrame(
        {"site_id": ["C0", "C1"], "height_m": [30.0, 30.0]},
        geometry=[Point(_X0 + 300.0, _Y0 + 300.0), Point(_X0 - 330.0, _Y0 - 270.0)],
        crs=_CRS,
    )
    return terrain, towers, candidates


def _unchecked(*_args: object, **_kwargs: object) -> None:
    """Stands in for the raster engine's parameter check during the first warm-up call."""


def _itm_group() -> None:
    """The ITM raster engine with pruning, sectors, per-technology groups and the tower cache
    (stored, read back whole, read back after a removal), as the pipeline calls it."""
    from lomsong.coverage.cache import TowerCache
    from lomsong.coverage.predict import predict
    from lomsong.propagation import itm_raster

    terrain, towers, _ = _scene()
    # The engine first checks the radio parameters with ITM point to point, a chain the points
    # group compiles first: the first prediction here skips that check, so that the raster
    # kernels compile meanwhile (the chain is then read from the cache); the later ones check.
    check = getattr(itm_raster, "_check_itm_params", None)
    if check is not None:
        itm_raster._check_itm_params = _unchecked
    try:
        predict(towers, terrain, model="itm", max_radius_km=_RADIUS_KM, groups=True)
    finally:
        if check is not None:
            itm_raster._check_itm_params = check
    with tempfile.TemporaryDirectory(prefix="lomsong-warmup-") as tmp:
        cache = TowerCache(tmp)
        for subset in (towers, towers, towers.iloc[:2]):
            predict(subset, terrain, model="itm", max_radius_km=_RADIUS_KM, groups="tech",
                    cache=cache)  # fmt: skip


def _read_terrain() -> None:
    """read_terrain of a tiny lon/lat GeoTIFF (its resampler onto the metric grid)."""
    import geopandas as gpd
    import rasterio
    from rasterio.transform import from_origin
    from shapely.geometry import Point

    from lomsong.layers.terrain import read_terrain

    z = (100 + np.arange(40 * 40).reshape(40, 40) % 97).astype(np.int16)
    with tempfile.TemporaryDirectory(prefix="lomsong-warmup-") as tmp:
        path = Path(tmp) / "dem.tif"
        profile = {"driver": "GTiff", "width": 40, "height": 40, "count": 1, "dtype": "int16",
                   "crs": "EPSG:4326", "transform": from_origin(108.49, 15.51, 1 / 3600, 1 / 3600),
                   "nodata": -32768}  # fmt: skip
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(z, 1)
        area = gpd.GeoDataFrame(geometry=[Point(108.4945, 15.5055)], crs="EPSG:4326")
        read_terrain(path, area=area, max_radius_km=0.2)


def _points_group() -> None:
    """Everything but the ITM raster: reading terrain, the closed-form raster models, point
    predictions (Hata and ITM point to point: explanations, siting), terrain profiles, the
    backhaul graph and the exact ITM of a point list."""
    from lomsong.coverage.engine import received_power_points
    from lomsong.coverage.predict import predict
    from lomsong.defaults import ITM_DEFAULTS
    from lomsong.grid import sample_bilinear
    from lomsong.propagation import itm, itm_raster
    from lomsong.propagation.paths import terrain_profile
    from lomsong.siting.backhaul import backhaul_graph

    terrain, towers, candidates = _scene()
    _read_terrain()
    # then the ITM point-to-point chain the raster engine checks its parameters with (the itm
    # group waits for it, see there)
    itm.p2p_tls(np.array([1.0, 100.0, 0.0, 0.0]), h_tx_m=30.0, h_rx_m=1.5, f_mhz=900.0,
                **ITM_DEFAULTS)  # fmt: skip
    backhaul_graph(towers, candidates, terrain)
    sample_bilinear(terrain, np.array([_X0, _X0 + 45.0]), np.array([_Y0, _Y0 - 45.0]))
    predict(towers, terrain, model="hata", max_radius_km=_RADIUS_KM, groups="tech")
    tower = towers.iloc[1]
    xs = np.array([_X0 + 200.0, _X0 - 350.0])
    ys = np.array([_Y0 - 120.0, _Y0 + 300.0])
    received_power_points(tower, terrain, xs, ys, model="hata", max_radius_km=_RADIUS_KM)
    terrain_profile(terrain, (tower.geometry.x, tower.geometry.y), (xs[0], ys[0]),
                    h_tx_m=float(tower["height_m"]), f_mhz=float(tower["freq_mhz"]))  # fmt: skip
    received_power_points(tower, terrain, xs, ys, model="itm", max_radius_km=_RADIUS_KM)
    itm_raster.itm_point_loss(terrain.data, terrain.transform, (_X0, _Y0), xs, ys,
                              h_tx_m=30.0, h_rx_m=1.5, f_mhz=900.0)  # fmt: skip


#: The groups, longest first: each compiles in its own process.
GROUPS: dict[str, Callable[[], None]] = {"itm": _itm_group, "points": _points_group}


def run_group(name: str) -> float:
    """Run one group in this process (compiling what the cache lacks); its seconds."""
    t0 = time.perf_counter()
    GROUPS[name]()
    return time.perf_counter() - t0


def warm_up(
    *, processes: int | None = None, groups: Sequence[str] | None = None
) -> dict[str, float]:
    """Compile (or load) every kernel of a run into numba's on-disk cache.

    Parameters
    ----------
    processes
        Groups run side by side in this many child processes (default: the CPU count, at
        most the number of groups); 1 runs them one after the other in this process.
    groups
        Names from :data:`GROUPS` (default all).

    Returns
    -------
    dict
        Wall seconds of each group (its process's whole life when run in a child).

    Raises
    ------
    RuntimeError
        A group failed (its process's output is in the message).
    """
    names = list(groups or GROUPS)
    unknown = [g for g in names if g not in GROUPS]
    if unknown:
        raise ValueError(f"unknown warm-up group(s) {unknown}; use {list(GROUPS)}")
    n = min(len(names), processes or os.cpu_count() or 1)
    if n <= 1:
        return {g: run_group(g) for g in names}
    # one child per group, n at a time, longest first (numba compiles on one core); their
    # output goes to files, read only if they fail
    times: dict[str, float] = {}
    failed = []
    with tempfile.TemporaryDirectory(prefix="lomsong-warmup-") as tmp:
        pending = list(names)
        running: dict[str, tuple[subprocess.Popen, float]] = {}
        while pending or running:
            while pending and len(running) < n:
                g = pending.pop(0)
                cmd = [sys.executable, "-m", "lomsong.warmup", "--in-process", "--group", g]
                with open(Path(tmp) / g, "w") as log:
                    child = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
                running[g] = (child, time.perf_counter())
            done = [g for g, (child, _) in running.items() if child.poll() is not None]
            for g in done:
                child, t0 = running.pop(g)
                times[g] = time.perf_counter() - t0
                if child.returncode != 0:
                    out = (Path(tmp) / g).read_text()
                    failed.append(f"{g} (exit {child.returncode}):\n{out}")
            if not done:
                time.sleep(0.05)
    if failed:
        raise RuntimeError("warm-up failed: " + "\n".join(failed))
    return times


def main(argv: list[str] | None = None) -> int:
    """``python -m lomsong.warmup [--processes N] [--group G ...] [--quiet]``."""
    doc = __doc__.split("\n")[0]
    ap = argparse.ArgumentParser(prog="python -m lomsong.warmup", description=doc)
    ap.add_argument("--group", action="append", choices=list(GROUPS), help="only this group")
    ap.add_argument("--processes", type=int, default=None, help="child processes (default CPUs)")
    ap.add_argument("--in-process", action="store_true", help="run the groups in this process")
    ap.add_argument("--quiet", action="store_true", help="print nothing")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    times = warm_up(processes=1 if args.in_process else args.processes, groups=args.group)
    if not args.quiet and not args.in_process:
        parts = ", ".join(f"{g} {s:.0f} s" for g, s in times.items())
        print(f"numba kernels compiled or loaded in {time.perf_counter() - t0:.0f} s ({parts}); "
              f"cache: {os.environ.get('NUMBA_CACHE_DIR') or Path(__file__).parent}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
