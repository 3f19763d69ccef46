"""Cells a tower certainly does not serve are skipped: the composite stays exact, reruns too."""

from __future__ import annotations

import numpy as np
import pytest
from assertions import CACHE_ROUNDING_DB, LANE_ROUNDING_DB, NEAR_TIE_DB, assert_same_coverage
from conftest import make_grid, make_towers

from lomsong.coverage import engine as engine_module
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
    """Towers removed or changed lower the composite where they served: the cached towers
    that skipped cells there are evaluated on those cells (not predicted again whole), and
    the composite equals a fresh unpruned one."""
    grid, towers = rough
    kw = {"model": "itm", "max_radius_km": RADIUS_KM}
    cache = TowerCache(tmp_path / "cache")
    predict(towers, grid, **kw, cache=cache)
    strongest = int(np.argmax(towers["eirp_dbm"].to_numpy()[:11]))
    changed = towers.drop(index=strongest).reset_index(drop=True)
    changed.loc[0, "eirp_dbm"] -= 6.0
    with caplog.at_level("INFO", logger="lomsong.coverage.predict"):
        again = predict(changed, grid, **kw, cache=cache)
    assert again.stats == {"predicted": 1, "cached": len(changed) - 1}
    assert any("evaluated on cells they had skipped" in r.message for r in caplog.records)
    # 0.0051 dB: cache entries hold centi-dB (rounded to 0.005 dB)
    _same(again, _unpruned(monkeypatch, changed, grid, **kw), atol=CACHE_ROUNDING_DB, grid=grid)
    # the completed entries were stored: a rebuild from them needs no more work
    (cache.folder / "composite.npz").unlink()
    third = predict(changed, grid, **kw, cache=cache)
    assert third.stats == {"predicted": 0, "cached": len(changed)}
    _same(third, again, atol=CACHE_ROUNDING_DB, grid=grid)


def test_worker_processes_predict_unsettled_cached_towers_whole(rough, monkeypatch, tmp_path):
    """With --workers, towers run side by side and are not pruned: a cached tower whose
    skipped cells may now serve is predicted again whole; the composite is the same."""
    grid, towers = rough
    kw = {"model": "itm", "max_radius_km": RADIUS_KM}
    cache = TowerCache(tmp_path / "cache")
    predict(towers, grid, **kw, cache=cache)  # in process: pruned entries
    strongest = int(np.argmax(towers["eirp_dbm"].to_numpy()[:11]))
    fewer = towers.drop(index=strongest).reset_index(drop=True)
    fewer.loc[0, "eirp_dbm"] -= 6.0
    res = predict(fewer, grid, **kw, cache=cache, workers=2)
    assert res.stats["predicted"] >= 2  # the changed tower, and the unsettled ones whole
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
