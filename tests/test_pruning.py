"""Cells a tower certainly does not serve are skipped: the composite stays exact, reruns too."""

from __future__ import annotations

import re

import numpy as np
import pytest
from assertions import CACHE_ROUNDING_DB, LANE_ROUNDING_DB, NEAR_TIE_DB, assert_same_coverage
from conftest import make_grid, make_towers, require_module

from lomsong.coverage import engine as engine_module
from lomsong.coverage import predict as predict_module
from lomsong.coverage import pruning as pruning_module
from lomsong.coverage.cache import TowerCache
from lomsong.coverage.engine import predict_tower
from lomsong.coverage.predict import predict

RADIUS_KM = 8.0


@pytest.fixture(scope="module")
def rough():
    """20 × 20 km of random hills (0-600 m) at 100 m cells, and 14 towers: 11 omni, a
    three-sector site, of 2G/4G, spread over it."""
    rng = np.random.default_rng(11)
    yy, xx = np.mgrid[0:200, 0:200].astype(np.float64)
    z = np.zeros((200, 200))
    for _ in range(40):
        cy, cx, r, hgt = (
            rng.uniform(0, 200),
            rng.uniform(0, 200),
            rng.uniform(5, 25),
            rng.uniform(50, 400),
        )
        z += hgt * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
    grid = make_grid(np.clip(z, 0, 600))
    cells = [(int(a), int(b)) for a, b in rng.integers(20, 180, size=(11, 2))] + [(100, 100)] * 3
    towers = make_towers(
        [grid.xy(r, c) for r, c in cells],
        eirp_dbm=list(rng.uniform(50, 60, 11)) + [58.0] * 3,
        freq_mhz=[900.0, 1800.0] * 5 + [900.0] + [1800.0] * 3,
        tech=["2G", "4G"] * 5 + ["2G"] + ["4G"] * 3,
        azimuth_deg=[np.nan] * 11 + [0.0, 120.0, 240.0],
    )
    return grid, towers


def _unpruned(monkeypatch, *args, **kwargs):
    with monkeypatch.context() as m:
        m.setattr(engine_module, "pruning_mask", lambda *_a, **_k: None)
        m.setattr(predict_module, "window_skip_mask", lambda *_a, **_k: None)
        return predict(*args, **kwargs)


def _same(a, b, atol=LANE_ROUNDING_DB, grid=None):
    if grid is None:
        assert_same_coverage(a, b, atol=atol)
        return
    kw = {"model": "itm", "max_radius_km": RADIUS_KM}

    def near_tie(x, y, r, c):
        pa, pb = (predict_tower(z.towers.iloc[int(z.serving.data[r, c])].to_dict(), grid, **kw)
                  for z in (x, y))  # fmt: skip
        return abs(pa.power[r - pa.row0, c - pa.col0] - pb.power[r - pb.row0, c - pb.col0]) < (
            NEAR_TIE_DB
        )

    assert_same_coverage(a, b, atol=atol, near_tie=near_tie)


def test_pruned_composite_equals_the_full_one(rough, monkeypatch):
    grid, towers = rough
    kw = {"model": "itm", "max_radius_km": RADIUS_KM}
    pruned = predict(towers, grid, **kw)
    full = _unpruned(monkeypatch, towers, grid, **kw)
    _same(pruned, full)
    # ... and the last tower, predicted against the others' composite, really skipped cells,
    # each of them below the composite; its evaluated cells are those of the full window
    last = towers.iloc[len(towers) - 1].to_dict()
    floor = np.where(np.isfinite(pruned.power.data), pruned.power.data, -np.inf)
    floor = floor.astype(np.float32)
    a = predict_tower(last, grid, model="itm", max_radius_km=RADIUS_KM, floor=floor)
    b = predict_tower(last, grid, model="itm", max_radius_km=RADIUS_KM)
    skipped = np.isneginf(a.power)
    assert skipped.mean() > 0.2
    win = floor[a.row0 : a.row0 + a.power.shape[0], a.col0 : a.col0 + a.power.shape[1]]
    assert (b.power[skipped] < win[skipped]).all()
    np.testing.assert_array_equal(a.power[~skipped], b.power[~skipped])


def test_groups_are_pruned_against_their_own_composite(rough, monkeypatch):
    grid, towers = rough
    kw = {"model": "itm", "max_radius_km": RADIUS_KM, "groups": True}
    pruned = predict(towers, grid, **kw)
    full = _unpruned(monkeypatch, towers, grid, **kw)
    _same(pruned, full)
    assert pruned.groups.keys() == full.groups.keys()
    for g in full.groups:
        np.testing.assert_allclose(pruned.groups[g], full.groups[g], rtol=0, atol=1e-4)


def test_a_rerun_after_removals_completes_the_cells_others_skipped(
    rough, monkeypatch, tmp_path, caplog
):
    """Towers removed or changed lower the composite where they served: the cached windows
    that skipped cells there are evaluated on those cells (not predicted again whole), and
    the composite equals a fresh unpruned one. A cell whose EIRP changed keeps its antenna's
    loss window (cached: only the EIRP term differs)."""
    grid, towers = rough
    kw = {"model": "itm", "max_radius_km": RADIUS_KM}
    cache = TowerCache(tmp_path / "cache")
    predict(towers, grid, **kw, cache=cache)
    strongest = int(np.argmax(towers["eirp_dbm"].to_numpy()[:11]))
    changed = towers.drop(index=strongest).reset_index(drop=True)
    changed.loc[0, "eirp_dbm"] -= 6.0
    with caplog.at_level("INFO", logger="lomsong.coverage.predict"):
        again = predict(changed, grid, **kw, cache=cache)
    assert again.stats == {"predicted": 0, "cached": len(changed)}
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "evaluated on cells they had skipped" in messages
    # the removed cells are taken out of the stored composite; a window whose bound is below
    # the re-merged cells is not read (here 1 of 9), and the result is still exact (below)
    assert "2 removed or changed cells taken out of the composite" in messages
    assert int(re.search(r"(\d+) of those that reach them certainly below", messages)[1]) >= 1
    # 0.0051 dB: cache entries hold centi-dB (rounded to 0.005 dB)
    _same(again, _unpruned(monkeypatch, changed, grid, **kw), atol=CACHE_ROUNDING_DB, grid=grid)
    # the completed entries were stored: a rebuild from them needs no more work
    (cache.folder / "composite.npz").unlink()
    third = predict(changed, grid, **kw, cache=cache)
    assert third.stats == {"predicted": 0, "cached": len(changed)}
    _same(third, again, atol=CACHE_ROUNDING_DB, grid=grid)


def test_worker_processes_complete_unsettled_cached_windows(rough, monkeypatch, tmp_path):
    """With --workers, windows run side by side, each pruned against the composite of those
    merged when it is sent; a cached window whose skipped cells may now serve is evaluated
    on those cells; the composite is the same."""
    grid, towers = rough
    kw = {"model": "itm", "max_radius_km": RADIUS_KM}
    cache = TowerCache(tmp_path / "cache")
    predict(towers, grid, **kw, cache=cache)  # in process: pruned entries
    strongest = int(np.argmax(towers["eirp_dbm"].to_numpy()[:11]))
    fewer = towers.drop(index=strongest).reset_index(drop=True)
    fewer.loc[0, "eirp_dbm"] -= 6.0
    res = predict(fewer, grid, **kw, cache=cache, workers=2)
    assert res.stats["predicted"] + res.stats["cached"] == len(fewer)
    _same(res, _unpruned(monkeypatch, fewer, grid, **kw), atol=CACHE_ROUNDING_DB, grid=grid)


def test_a_rebuild_with_nothing_removed_checks_no_cached_tower(rough, monkeypatch, tmp_path):
    """Rebuilt from the same entries (the composite file lost), the composite is what each
    skipped cell was pruned against: no cached tower is even a candidate, also where no tower
    reaches (there the bound and the composite are both −inf)."""
    grid, towers = rough
    kw = {"model": "itm", "max_radius_km": 4.0}  # leaves most of the 20 km grid unreached
    west = towers[[grid.rowcol(p.x, p.y)[1] < 100 for p in towers.geometry]]
    assert len(west) >= 3
    cache = TowerCache(tmp_path / "cache")
    first = predict(west, grid, **kw, cache=cache)
    assert np.isnan(first.power.data).mean() > 0.1
    (cache.folder / "composite.npz").unlink()
    calls = []
    original = pruning_module.PrunedCells.candidates
    monkeypatch.setattr(pruning_module.PrunedCells, "candidates",
                        lambda self, c: calls.append(original(self, c)) or calls[-1])  # fmt: skip
    again = predict(west, grid, **kw, cache=cache)
    assert calls == [[]]
    assert again.stats == {"predicted": 0, "cached": len(west)}
    _same(again, first, atol=CACHE_ROUNDING_DB, grid=grid)


@pytest.fixture(scope="module")
def sites(rough):
    """The rough hills with an operator's network: 3 sites × 3 sectors × 2 bands (1800 MHz 4G,
    900 MHz 2G; sectors differing in EIRP and tilt) and 2 omni cells: 20 cells, 8 windows."""
    grid, _ = rough
    xy, cols = [], {k: [] for k in ("tech", "freq_mhz", "eirp_dbm", "azimuth_deg", "tilt_deg")}
    for s, (r, c) in enumerate([(60, 60), (70, 140), (140, 100)]):
        for tech, f in (("4G", 1800.0), ("2G", 900.0)):
            for k, az in enumerate((0.0, 120.0, 240.0)):
                xy.append(grid.xy(r, c))
                for name, v in zip(cols, (tech, f, 55.0 + 2 * k + s, az, 2.0 + 2 * k),
                                   strict=True):  # fmt: skip
                    cols[name].append(v)
    for r, c in [(30, 170), (170, 30)]:
        xy.append(grid.xy(r, c))
        for name, v in zip(cols, ("4G", 1800.0, 54.0, np.nan, 0.0), strict=True):
            cols[name].append(v)
    return grid, make_towers(xy, **cols)


@pytest.mark.parametrize("p", [0.5, 0.9])
def test_sectors_and_bands_share_windows_and_prune_exactly_at_the_quantile(sites, monkeypatch, p):
    """Co-sited sectors of one band share a loss window, a site's bands one walk of the rays;
    pruned (with their exact patterns, against the composite at the location quantile) the
    composites at the median and at the quantile, per technology too, equal the unpruned
    ones, and a sector's level equals its own prediction."""
    grid, towers = sites
    kw = {"model": "itm", "max_radius_km": RADIUS_KM, "location_probability": p,
          "groups": "tech"}  # fmt: skip
    tasks = []
    original = predict_module.window_results

    def counted(jobs, *a, **k):
        tasks.extend(jobs)
        return original(jobs, *a, **k)

    monkeypatch.setattr(predict_module, "window_results", counted)
    pruned = predict(towers, grid, **kw)
    # 8 windows (3 sites × 2 bands, 2 omni cells) in 5 tasks: a site's two bands walk once
    assert sorted(len(idx) for idx, _ in tasks) == [1, 1, 2, 2, 2]
    full = _unpruned(monkeypatch, towers, grid, **kw)
    _same(pruned, full)
    assert pruned.location_quantile == 0.9  # p = 0.5: still read at 0.9 (σ_L)
    np.testing.assert_allclose(pruned.power_q.data, full.power_q.data, rtol=0,
                               atol=LANE_ROUNDING_DB, equal_nan=True)  # fmt: skip
    for g in full.groups:
        np.testing.assert_allclose(pruned.groups[g], full.groups[g], rtol=0, atol=1e-4)
        np.testing.assert_allclose(pruned.groups_q[g], full.groups_q[g], rtol=0, atol=1e-4)
    # the quantile's level is never above the median's; on these hills ITM's σ_L gives
    # several dB at 90 %
    ok = np.isfinite(full.power.data)
    dev = full.power.data[ok] - full.power_q.data[ok]
    assert dev.min() >= -1e-4 and np.median(dev) > 2.0
    # a shared window gives each sector what its own prediction gives
    one = predict_tower(towers.iloc[4].to_dict(), grid, model="itm", max_radius_km=RADIUS_KM,
                        location_probability=p)  # fmt: skip
    mine = full.serving.data == 4
    assert mine.any()
    r, c = np.nonzero(mine)
    np.testing.assert_allclose(full.power.data[mine], one.power[r - one.row0, c - one.col0],
                               rtol=0, atol=1e-4)  # fmt: skip


def test_a_rerun_takes_removed_cells_out_of_the_composite(sites, monkeypatch, tmp_path, caplog):
    """A rerun after removing a whole site (3 sectors × 2 bands) and changing a sector's EIRP
    takes those cells out of the stored composites (overall, per technology, median and
    quantile) where they held the best, merges those grid cells again from the other cells'
    cached windows only — no window predicted, none rebuilt whole — and gives the composites
    of a fresh unpruned run."""
    grid, towers = sites
    kw = {"model": "itm", "max_radius_km": RADIUS_KM, "location_probability": 0.9,
          "groups": "tech"}  # fmt: skip
    cache = TowerCache(tmp_path / "cache")
    first = predict(towers, grid, **kw, cache=cache)
    site0 = towers.index[:6]  # the first site: 3 sectors on 1800 MHz and 3 on 900 MHz
    assert (first.serving.data >= 0).any() and np.isin(first.serving.data, site0).any()
    changed = towers.drop(index=site0).reset_index(drop=True)
    changed.loc[2, "eirp_dbm"] += 4.0  # a sector of the second site, stronger
    read = []
    original = cache.get

    def counted(key):
        read.append(key)
        return original(key)

    monkeypatch.setattr(cache, "get", counted)
    walks = []  # the carriers of each walk that opens cells the cached windows skipped
    window_losses = predict_module.window_losses

    def walked(antennas, *args, **kwargs):
        walks.append(len(antennas))
        return window_losses(antennas, *args, **kwargs)

    monkeypatch.setattr(predict_module, "window_losses", walked)
    with caplog.at_level("INFO", logger="lomsong.coverage.predict"):
        again = predict(changed, grid, **kw, cache=cache)
    assert again.stats == {"predicted": 0, "cached": len(changed)}
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "7 removed or changed cells taken out of the composite" in messages
    # the remaining sites had skipped cells where the removed one served: each site's two
    # bands open theirs in one walk of the rays
    assert "evaluated on cells they had skipped" in messages
    assert 2 in walks, walks
    assert "cached windows merged again on those cells" in messages
    fresh = _unpruned(monkeypatch, changed, grid, **kw)
    # 0.0051 dB: cache entries hold centi-dB (rounded to 0.005 dB)
    _same(again, fresh, atol=CACHE_ROUNDING_DB, grid=grid)
    np.testing.assert_allclose(again.power_q.data, fresh.power_q.data, rtol=0,
                               atol=CACHE_ROUNDING_DB, equal_nan=True)  # fmt: skip
    assert again.groups.keys() == fresh.groups.keys()
    for g in fresh.groups:
        for a, b in ((again.groups[g], fresh.groups[g]), (again.groups_q[g], fresh.groups_q[g])):
            np.testing.assert_allclose(a, b, rtol=0, atol=CACHE_ROUNDING_DB)
    # and the rerun after it starts from its composite: nothing read but that
    read.clear()
    third = predict(changed, grid, **kw, cache=cache)
    assert read == [] and third.stats == {"predicted": 0, "cached": len(changed)}
    _same(third, again, atol=0.0)


def test_a_rerun_that_changes_most_cells_rebuilds_instead(sites, monkeypatch, tmp_path, caplog):
    """When as many cells are removed or changed as stay (here every EIRP + 2 dB: a new key
    for each cell, the same windows), nothing is taken out — the composite is rebuilt from
    the cached windows — and it equals a fresh unpruned run."""
    grid, towers = sites
    kw = {"model": "itm", "max_radius_km": RADIUS_KM, "location_probability": 0.9,
          "groups": "tech"}  # fmt: skip
    cache = TowerCache(tmp_path / "cache")
    predict(towers, grid, **kw, cache=cache)
    louder = towers.copy()
    louder["eirp_dbm"] += 2.0
    with caplog.at_level("INFO", logger="lomsong.coverage.predict"):
        again = predict(louder, grid, **kw, cache=cache)
    assert again.stats == {"predicted": 0, "cached": len(louder)}
    assert "taken out of the composite" not in " ".join(r.getMessage() for r in caplog.records)
    fresh = _unpruned(monkeypatch, louder, grid, **kw)
    _same(again, fresh, atol=CACHE_ROUNDING_DB, grid=grid)
    np.testing.assert_allclose(again.power_q.data, fresh.power_q.data, rtol=0,
                               atol=CACHE_ROUNDING_DB, equal_nan=True)  # fmt: skip


def _same_with_groups(a, b):
    """The same composites at the median and the quantile, overall and per group."""
    _same(a, b)
    np.testing.assert_allclose(a.power_q.data, b.power_q.data, rtol=0, atol=LANE_ROUNDING_DB,
                               equal_nan=True)  # fmt: skip
    assert a.groups.keys() == b.groups.keys() == a.groups_q.keys()
    for g in b.groups:
        np.testing.assert_allclose(a.groups[g], b.groups[g], rtol=0, atol=LANE_ROUNDING_DB)
        np.testing.assert_allclose(a.groups_q[g], b.groups_q[g], rtol=0, atol=LANE_ROUNDING_DB)


def test_worker_processes_prune_to_the_same_composite(sites, monkeypatch):
    """Windows side by side (2 local processes), each pruned against the composite merged when
    it is sent: the same composites as in process, unpruned — sectors, both bands, the
    location quantile and each technology's composite."""
    grid, towers = sites
    kw = {"model": "itm", "max_radius_km": RADIUS_KM, "location_probability": 0.9,
          "groups": "tech"}  # fmt: skip
    ref = _unpruned(monkeypatch, towers, grid, **kw)
    local = predict(towers, grid, **kw, workers=2)
    assert local.stats["predicted"] == len(towers)
    _same_with_groups(local, ref)


def test_a_dask_cluster_prunes_to_the_same_composite(sites, monkeypatch):
    """The same on a 2-worker dask cluster (no ports of its own: a dashboard-less
    LocalCluster), called twice on one client (the second call's terrain is scattered anew):
    the pruned composites equal the unpruned in-process ones."""
    distributed = require_module("distributed")
    grid, towers = sites
    kw = {"model": "itm", "max_radius_km": RADIUS_KM, "location_probability": 0.9,
          "groups": "tech"}  # fmt: skip
    ref = _unpruned(monkeypatch, towers, grid, **kw)
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                 dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):  # fmt: skip
        for _ in range(2):
            on_dask = predict(towers, grid, **kw, scheduler=client)
            assert on_dask.stats["predicted"] == len(towers)
            _same_with_groups(on_dask, ref)
