"""Reruns from the per-tower cache, the output lock, and runs killed at any moment."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from assertions import CACHE_ROUNDING_DB, assert_same_coverage

from lomsong.config import load_config
from lomsong.coverage.cache import TowerCache
from lomsong.demo import write_demo
from lomsong.errors import LomsongError
from lomsong.pipeline import output_lock, run


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return write_demo(tmp_path_factory.mktemp("inputs"), reduced=True)


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and ".cache" not in p.parts
    }


def test_unchanged_rerun_predicts_nothing_and_gives_the_same_results(project, tmp_path):
    cfg = load_config(project)
    first = run(cfg, out_dir=tmp_path / "out")
    n = len(first.towers)
    assert first.summary["towers_predicted"] == {"predicted": n, "cached": 0}
    again = run(cfg, out_dir=tmp_path / "out")
    assert again.summary["towers_predicted"] == {"predicted": 0, "cached": n}
    np.testing.assert_array_equal(again.signal.power.data, first.signal.power.data)
    changes = (tmp_path / "out" / "changes.md").read_text()
    assert "added (0)" in changes and "removed (0)" in changes


def test_new_and_changed_towers_are_predicted_again(project, tmp_path):
    cfg = load_config(project)
    run(cfg, out_dir=tmp_path / "out")
    towers = pd.read_csv(project.parent / "towers.csv")
    towers.loc[0, "height_m"] = towers.loc[0, "height_m"] + 10  # one changed
    extra = towers.iloc[[1]].copy()
    extra["tower_id"] = "NEW-1"
    extra["lat"] = extra["lat"] + 0.02  # one added
    new_csv = tmp_path / "towers_new.csv"
    pd.concat([towers.iloc[:-1], extra]).to_csv(new_csv, index=False)  # one removed
    res = run(cfg, out_dir=tmp_path / "out", towers=new_csv)
    assert res.summary["towers_predicted"] == {"predicted": 2, "cached": len(towers) - 2}
    ch = res.summary["changes"]["towers"]
    assert ch["added"] == ["NEW-1"]
    assert ch["removed"] == [towers["tower_id"].iloc[-1]]
    assert ch["changed"] == [towers["tower_id"].iloc[0]]
    # the removed and the old version of the changed tower left the cache
    entries = list((tmp_path / "out" / ".cache" / "towers").glob("*.npz"))
    assert len(entries) == len(towers) + 1  # + the composite


def test_added_towers_merge_onto_the_previous_composite(project, tmp_path):
    cfg = load_config(project)
    towers = pd.read_csv(project.parent / "towers.csv")
    first_csv = tmp_path / "first.csv"
    towers.iloc[:-2].to_csv(first_csv, index=False)
    run(cfg, out_dir=tmp_path / "out", towers=first_csv)
    res = run(cfg, out_dir=tmp_path / "out")  # the last two towers are new
    assert res.summary["towers_predicted"] == {"predicted": 2, "cached": len(towers) - 2}
    fresh = run(cfg, out_dir=tmp_path / "fresh", use_cache=False)
    assert_same_coverage(res.signal, fresh.signal, atol=0.0)


def test_a_corrupt_cache_entry_is_recomputed_not_trusted(project, tmp_path):
    cfg = load_config(project)
    first = run(cfg, out_dir=tmp_path / "out")
    folder = tmp_path / "out" / ".cache" / "towers"
    (folder / "composite.npz").unlink()  # force the rebuild from per-tower entries
    entries = sorted(p for p in folder.glob("*.npz"))
    entries[0].write_bytes(entries[0].read_bytes()[:100])  # truncated
    data = bytearray(entries[1].read_bytes())
    data[-200] ^= 0xFF  # a flipped byte
    entries[1].write_bytes(bytes(data))
    again = run(cfg, out_dir=tmp_path / "out")
    assert again.summary["towers_predicted"]["predicted"] == 2
    # entries hold centi-dB: the rebuilt composite is within their 0.005 dB rounding
    np.testing.assert_allclose(again.signal.power.data, first.signal.power.data,
                               atol=CACHE_ROUNDING_DB)  # fmt: skip
    # a corrupt composite is rebuilt too
    (folder / "composite.npz").write_bytes(b"not a zip")
    third = run(cfg, out_dir=tmp_path / "out")
    assert third.summary["towers_predicted"] == {"predicted": 0, "cached": len(first.towers)}


def test_composite_checksum_rejects_changed_arrays(tmp_path):
    """A composite whose arrays changed under an intact zip (its CRC-32 no longer matching) is
    not trusted: the caller rebuilds it from the per-tower entries."""
    cache = TowerCache(tmp_path)
    best = np.linspace(-120, -50, 20, dtype=np.float32).reshape(4, 5)
    serving = np.arange(20, dtype=np.int32).reshape(4, 5) % 2
    group = {("Viettel", "4G"): best - 1.0}
    cache.save_composite(["a", "b"], best, serving, group)
    loaded = cache.load_composite(["a", "b"], (4, 5), groups=True)
    assert loaded is not None
    np.testing.assert_array_equal(loaded[0], best)
    assert set(loaded[2]) == {("Viettel", "4G")}
    with np.load(tmp_path / "composite.npz") as z:
        arrays = {name: z[name] for name in z.files}
    arrays["best"][2, 3] += 1.0  # one changed value, the stored checksum kept
    np.savez(tmp_path / "composite.npz", **arrays)
    assert cache.load_composite(["a", "b"], (4, 5), groups=True) is None
    assert not (tmp_path / "composite.npz").exists()  # deleted, rebuilt by the next run


def test_cache_round_trip_checks_its_checksum(tmp_path):
    from lomsong.coverage.types import TowerPrediction

    cache = TowerCache(tmp_path)
    power = np.linspace(-130, -40, 12, dtype=np.float32).reshape(3, 4)
    power[0, 0] = np.nan
    pred = TowerPrediction(3, 4, power)
    cache.put("k", pred)
    got = cache.get("k")
    assert (got.row0, got.col0) == (3, 4)
    np.testing.assert_allclose(got.power, power, atol=0.005)  # centi-dB storage
    assert np.isnan(got.power[0, 0])
    assert cache.get("missing") is None
    assert not list(tmp_path.glob(".tmp-*"))  # nothing half-written left


def test_a_second_run_on_the_same_folder_is_refused(project, tmp_path):
    with output_lock(tmp_path / "out"), pytest.raises(LomsongError, match="another lomsong run"):
        run(load_config(project), out_dir=tmp_path / "out")


_RUNNER = """
import sys
from lomsong.cli import main
sys.exit(main(["run", sys.argv[1], "--out", sys.argv[2], "--quiet"]))
"""


@pytest.mark.slow
def test_killed_runs_leave_the_previous_outputs_and_cache_intact(project, tmp_path):
    inputs = tmp_path / "inputs"
    shutil.copytree(project.parent, inputs)
    out = tmp_path / "out"
    cmd = [sys.executable, "-c", _RUNNER, str(inputs / "project.toml"), str(out)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, timeout=300)
    full = time.perf_counter() - t0
    # new tower heights: every rerun has real work to do and cache entries to write
    towers = pd.read_csv(inputs / "towers.csv")
    towers["height_m"] = towers["height_m"] + 1
    towers.to_csv(inputs / "towers.csv", index=False)
    kills = 0
    for frac in (0.05, 0.2, 0.4, 0.55, 0.7, 0.85, 0.95):
        before = _digest(out)
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(full * frac)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
        now = _digest(out)
        if now != before:  # only a run that got as far as its final rename changes anything
            assert set(before) <= set(now)
            json.loads((out / "summary.json").read_text())  # complete, parseable
        for entry in (out / ".cache" / "towers").glob("*.npz"):
            TowerCache(entry.parent).get(entry.stem)  # every entry reads, or is dropped
    assert kills >= 3, f"only {kills} runs were killed: the run took {full:.1f} s"
    subprocess.run(cmd, check=True, timeout=300)  # the next run succeeds…
    fresh = tmp_path / "fresh"
    subprocess.run(cmd[:-1] + [str(fresh)], check=True, timeout=300)
    for name in ("villages.csv", "ranking.csv"):  # …with the results of a clean run
        assert (out / name).read_bytes() == (fresh / name).read_bytes()
    assert not list(tmp_path.glob(".out.tmp-*")) and not list(tmp_path.glob(".out.old-*"))


@pytest.mark.slow
def test_local_processes_and_a_dask_cluster_give_the_local_results(project, tmp_path):
    distributed = pytest.importorskip("distributed")
    cfg = load_config(project)
    local = run(cfg, out_dir=tmp_path / "local", use_cache=False)
    procs = run(cfg, out_dir=tmp_path / "procs", use_cache=False, workers=2)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        dask_run = run(cfg, out_dir=tmp_path / "dask", use_cache=False,
                       scheduler=cluster.scheduler_address)  # fmt: skip
    for other in (procs, dask_run):
        assert_same_coverage(other.signal, local.signal, atol=0.0)
        pd.testing.assert_frame_equal(
            pd.DataFrame(other.ranking.drop(columns="geometry")),
            pd.DataFrame(local.ranking.drop(columns="geometry")),
        )


def test_tower_change_detection_field_by_field():
    from lomsong.report.changes import _changed

    a = pd.DataFrame(
        {"operator": ["V", "V", None, "M"], "freq_mhz": [900.0, 1800.0, 900.0, 2100.0],
         "azimuth_deg": [np.nan, 120.0, np.nan, 10.0], "x": [1.0, 2.0, 3.0, 4.0]},
        index=["t1", "t2", "t3", "t4"],
    )  # fmt: skip
    b = a.copy()
    b.loc["t2", "azimuth_deg"] = 120.0 + 1e-9  # noise: not a change
    b.loc["t3", "operator"] = "M"  # missing → set: a change
    b.loc["t4", "x"] = 4.5  # moved
    assert _changed(a, b, ["t1", "t2", "t3", "t4"]) == ["t3", "t4"]
    assert _changed(a, a, list(a.index)) == []


def test_cache_entry_codec_round_trips_every_int16():
    """Packing (row deltas, byte planes, Zstandard) and the one-pass decoder give back the
    centi-dB exactly — wrap-around deltas, the NaN and skipped-cell markers included — and the
    power as numpy computes it."""
    from lomsong.coverage.cache import _NAN_Q, _SKIP_Q, _pack, _unpack

    rng = np.random.default_rng(5)
    for shape in [(7, 9), (1, 30), (30, 1), (0, 0), (12,)]:
        q = rng.integers(-32768, 32768, size=shape, dtype=np.int64).astype(np.int16)
        if q.size:
            q.flat[0] = _NAN_Q
            q.flat[-1] = 32767
        if q.size > 2:
            q.flat[1] = _SKIP_Q
        back, power = _unpack(_pack(q), q.shape)
        np.testing.assert_array_equal(back, q)
        want = np.where(q == _NAN_Q, np.float32(np.nan), q.astype(np.float32) / 100.0)
        want = np.where(q == _SKIP_Q, -np.inf, want)
        np.testing.assert_array_equal(power, want.astype(np.float32))
        assert power.dtype == np.float32


def test_cache_quantises_powers_as_the_numpy_formula():
    """The one-pass quantiser: centi-dB rounded half to even and clipped above the two
    markers, NaN and −inf (a skipped cell) to their own codes."""
    from lomsong.coverage.cache import _NAN_Q, _SKIP_Q, _quantise

    rng = np.random.default_rng(9)
    p = rng.uniform(-400, 400, 10_000).astype(np.float32)
    p[:6] = [np.nan, -np.inf, np.inf, -327.665, 0.125, -0.005]
    q = np.empty(p.shape, dtype=np.int16)
    _quantise(p, q)
    want = np.clip(np.rint(p.astype(np.float64) * 100.0), _SKIP_Q + 1, 32767)
    want = np.where(np.isnan(p), _NAN_Q, np.where(p == -np.inf, _SKIP_Q, want))
    np.testing.assert_array_equal(q, want.astype(np.int16))
    assert q[2] == 32767  # +inf: the top (never produced by a prediction)
