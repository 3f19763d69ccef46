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
from conftest import require_module

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
    # the cache holds one loss window per antenna position, height and carrier (co-sited
    # sectors share one), and the windows of the removed and of the old version of the
    # changed tower left it
    now = pd.concat([towers.iloc[:-1], extra])
    windows = now.groupby(["lon", "lat", "height_m", "freq_mhz"]).ngroups
    assert windows < len(now)  # the demo has sectored sites: sharing is exercised
    entries = list((tmp_path / "out" / ".cache" / "towers").glob("*.npz"))
    assert len(entries) == windows + 1  # + the composite


def test_added_towers_merge_onto_the_previous_composite(project, tmp_path):
    cfg = load_config(project)
    towers = pd.read_csv(project.parent / "towers.csv")
    # the last site's cells are new: its windows were never predicted (a new sector of an
    # existing site and height would reuse that site's window, predicting nothing)
    last = towers["site_id"] == towers["site_id"].iloc[-1]
    first_csv = tmp_path / "first.csv"
    towers[~last].to_csv(first_csv, index=False)
    run(cfg, out_dir=tmp_path / "out", towers=first_csv)
    res = run(cfg, out_dir=tmp_path / "out")
    n_new = int(last.sum())
    assert res.summary["towers_predicted"] == {"predicted": n_new, "cached": len(towers) - n_new}
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
    # an entry is one loss window, shared by the co-sited cells of one height and carrier:
    # the cells of exactly two windows are predicted again
    towers = pd.read_csv(project.parent / "towers.csv")
    sizes = towers.groupby(["lon", "lat", "height_m", "freq_mhz"]).size().tolist()
    pairs = {a + b for i, a in enumerate(sizes) for b in sizes[i + 1 :]}
    assert again.summary["towers_predicted"]["predicted"] in pairs
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


def test_a_cache_entry_changed_under_an_intact_zip_is_not_trusted(tmp_path):
    """The zip's CRC-32 guards the stored bytes; an entry re-saved with other bytes (a valid
    zip) is caught by the Zstandard frame's content checksum, then deleted."""
    from lomsong.coverage.types import LossWindow

    cache = TowerCache(tmp_path)
    yy, xx = np.mgrid[-40:41, -40:41]
    loss = (100.0 + 20.0 * np.log10(1.0 + np.hypot(yy, xx))).astype(np.float32)
    cache.put("w", LossWindow(50, 60, loss, loss + 3.0))
    assert cache.get("w") is not None
    path = tmp_path / "w.npz"
    with np.load(path) as z:
        doc = {name: z[name] for name in z.files}
    packed = doc["packed_q"].copy()
    packed[len(packed) // 2] ^= 0x01  # one bit of the compressed stream
    doc["packed_q"] = packed
    with open(path, "wb") as f:
        np.savez(f, **doc)
    assert cache.get("w") is None
    assert not path.exists() and cache.corrupt == 1


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
    assert (out / "ranking.csv").read_bytes() == (fresh / "ranking.csv").read_bytes()
    # …with the results of a clean run: the same villages to the byte but for the coverage
    # probability, read off the composite that cache entries store in centi-dB (0.005 dB moves a
    # probability by < 1e-3 at σ = 5.5 dB)
    a, b = (pd.read_csv(d / "villages.csv") for d in (out, fresh))
    np.testing.assert_allclose(a.pop("coverage_probability"), b.pop("coverage_probability"),
                               atol=1e-3)  # fmt: skip
    expected = "households_expected_without_signal"  # Σ w (1 − probability), to 0.1 household
    np.testing.assert_allclose(a.pop(expected), b.pop(expected), atol=0.1 + 1e-9)
    pd.testing.assert_frame_equal(a, b)
    assert not list(tmp_path.glob(".out.tmp-*")) and not list(tmp_path.glob(".out.old-*"))


@pytest.mark.slow
def test_local_processes_and_a_dask_cluster_give_the_local_results(project, tmp_path):
    distributed = require_module("distributed")
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


# -- reruns after a code change (the fingerprint's and the cache's code digests) -----------------
def test_a_code_change_makes_the_outputs_stale_and_an_unchanged_rerun_not(
    project, tmp_path, monkeypatch
):
    import lomsong.pipeline as pipeline
    from lomsong._version import code_digest

    cfg = load_config(project)
    res = run(cfg, out_dir=tmp_path / "out")
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["code_digest"] == res.summary["code_digest"] == code_digest()
    assert pipeline.up_to_date(cfg, tmp_path / "out")  # nothing changed: up to date
    monkeypatch.setattr(pipeline, "code_digest", lambda *_a, **_k: "0" * 64)
    assert not pipeline.up_to_date(cfg, tmp_path / "out")  # lomsong's code changed: stale


def test_an_engine_change_invalidates_cache_entries_a_report_change_does_not(
    project, tmp_path, monkeypatch
):
    import lomsong.coverage.cache as cache_mod
    import lomsong.pipeline as pipeline

    cfg = load_config(project)
    first = run(cfg, out_dir=tmp_path / "out")
    n = len(first.towers)
    tower = first.towers.iloc[0].to_dict()
    key = TowerCache.key(tower, terrain_digest="t", settings={"model": "itm"})
    # the rest of lomsong changed (say the report): the outputs are redone, the entries reused
    monkeypatch.setattr(pipeline, "code_digest", lambda *_a, **_k: "1" * 64)
    assert run(cfg, out_dir=tmp_path / "out").summary["towers_predicted"]["cached"] == n
    # the engine changed: other keys, every tower predicted again
    monkeypatch.setattr(cache_mod, "engine_digest", lambda: "2" * 64)
    assert TowerCache.key(tower, terrain_digest="t", settings={"model": "itm"}) != key
    again = run(cfg, out_dir=tmp_path / "out")
    assert again.summary["towers_predicted"] == {"predicted": n, "cached": 0}


def test_code_digest_reads_only_the_modules_it_is_given(tmp_path):
    from lomsong._version import code_digest

    (tmp_path / "propagation").mkdir()
    (tmp_path / "propagation" / "models.py").write_text("LOSS = 1\n")
    (tmp_path / "report.py").write_text("TITLE = 'a'\n")
    engine = code_digest(("propagation",), root=tmp_path)
    everything = code_digest(root=tmp_path)
    code_digest.cache_clear()  # memoised per process: the files are read once
    (tmp_path / "report.py").write_text("TITLE = 'b'\n")
    assert code_digest(("propagation",), root=tmp_path) == engine
    assert code_digest(root=tmp_path) != everything
    code_digest.cache_clear()
    (tmp_path / "propagation" / "models.py").write_text("LOSS = 2\n")
    assert code_digest(("propagation",), root=tmp_path) != engine
    code_digest.cache_clear()
    with pytest.raises(FileNotFoundError):
        code_digest(("nowhere.py",), root=tmp_path)


def test_the_engine_digest_covers_every_module_the_engine_imports():
    """Every lomsong module that ``coverage.engine`` and ``coverage.cache`` import, however
    indirectly, is among the sources of the engine digest (a new module of the engine would
    otherwise change predictions without invalidating the cache)."""
    import ast

    from lomsong.coverage.cache import ENGINE_SOURCES

    package = Path(__file__).resolve().parents[1] / "lomsong"

    def path_of(module: str) -> Path:
        rel = Path(*module.split(".")[1:])
        return package / rel / "__init__.py" if (package / rel).is_dir() else package / f"{rel}.py"

    def imports(module: str) -> set[str]:
        found = set()
        for node in ast.walk(ast.parse(path_of(module).read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("lomsong"):
                names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            found |= {m for m in names if m.startswith("lomsong.") and path_of(m).exists()}
        return found

    seen: set[str] = set()
    todo = ["lomsong.coverage.engine", "lomsong.coverage.cache"]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo += imports(module)
    covered = [package / s for s in ENGINE_SOURCES]
    missing = [m for m in sorted(seen)
               if not any(path_of(m) == c or c in path_of(m).parents for c in covered)]  # fmt: skip
    assert not missing, f"add to ENGINE_SOURCES: {missing}"


# -- cache keys: everything the prediction reads, the tower's calibration included ---------------
def test_co_sited_towers_with_different_calibration_offsets_get_their_own_entries(
    flat_grid, tmp_path
):
    from conftest import make_towers

    from lomsong.coverage.predict import predict
    from lomsong.coverage.types import CalibrationFit, CalibrationResult

    # two units on one mast, same radio settings; measurements put them 10 dB apart
    towers = make_towers([(515_000.0, 1_685_000.0)] * 2, operator=["A", "B"])
    cal = CalibrationResult(
        fit=CalibrationFit(offsets_db={"T1": 52.0, "T2": 42.0}), model="hata",
        environment="open", terrain=None, h_tx_m=30.0, h_rx_m=1.5, n_paths=20,
        n_excluded_short=0, n_no_prediction=0, residual_rms_db=1.0, loo_refit_rms_db=1.0,
        loo_mean_offset_rms_db=1.0, per_tx={},
    )  # fmt: skip
    options = {"model": "hata", "max_radius_km": 5, "groups": True, "calibration": cal}
    fresh = predict(towers, flat_grid, **options)
    a, b = fresh.groups[("A", "2G")], fresh.groups[("B", "2G")]
    ok = np.isfinite(a)
    np.testing.assert_allclose(a[ok] - b[ok], 10.0, atol=1e-4)

    predict(towers, flat_grid, **options, cache=TowerCache(tmp_path))
    cache = TowerCache(tmp_path)
    # the composite is reused only as a whole: without it, the second run reads every entry
    (tmp_path / "composite.npz").unlink()
    cached = predict(towers, flat_grid, **options, cache=cache)
    assert cached.stats == {"predicted": 0, "cached": 2}
    assert len([p for p in tmp_path.glob("*.npz") if p.name != "composite.npz"]) == 2  # one each
    for group in (("A", "2G"), ("B", "2G")):
        np.testing.assert_allclose(cached.groups[group], fresh.groups[group],
                                   atol=CACHE_ROUNDING_DB, equal_nan=True)  # fmt: skip


def test_a_cache_key_changes_with_every_tower_field_the_prediction_reads():
    from shapely.geometry import Point

    tower = {"tower_id": "T1", "freq_mhz": 900.0, "height_m": 30.0, "eirp_dbm": 55.0,
             "azimuth_deg": 120.0, "beamwidth_deg": 65.0, "tilt_deg": 2.0,
             "geometry": Point(515_000.0, 1_685_000.0)}  # fmt: skip
    settings = {"model": "itm", "rx_height_m": 1.5}
    key = TowerCache.key(tower, terrain_digest="t", settings=settings)
    changed = {"freq_mhz": 1800.0, "height_m": 40.0, "eirp_dbm": 50.0, "azimuth_deg": 240.0,
               "beamwidth_deg": 90.0, "tilt_deg": 4.0,
               "geometry": Point(515_100.0, 1_685_000.0)}  # fmt: skip
    for name, value in changed.items():
        assert TowerCache.key({**tower, name: value}, terrain_digest="t",
                              settings=settings) != key, name  # fmt: skip
    # without calibration, the id is not read: co-sited identical cells share a window
    assert TowerCache.key({**tower, "tower_id": "T2"}, terrain_digest="t",
                          settings=settings) == key  # fmt: skip
    calibrated = {**settings, "calibration": {"offsets_db": {"T1": 50.0, "T2": 40.0}}}
    assert TowerCache.key(tower, terrain_digest="t", settings=calibrated) != TowerCache.key(
        {**tower, "tower_id": "T2"}, terrain_digest="t", settings=calibrated
    )


# -- outputs anyone may read ---------------------------------------------------------------------
@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_outputs_respect_the_umask(project, tmp_path, umask):
    staged = tmp_path / "staged"  # a bundle made in a private temporary folder, as the demo's
    staged.mkdir(mode=0o700)
    (staged / "note.txt").write_text("inputs\n")
    old = os.umask(umask)
    try:
        run(load_config(project), out_dir=tmp_path / "out", bundle={"inputs": staged})
        # a rerun: the folder is swapped, the cache moves into the new one
        run(load_config(project), out_dir=tmp_path / "out", bundle={"inputs": staged})
    finally:
        os.umask(old)
    out = tmp_path / "out"
    paths = [out, *out.rglob("*")]
    assert (out / "inputs" / "note.txt").exists() and list(out.glob(".cache/towers/*.npz"))
    wrong = [f"{p.relative_to(tmp_path)} {oct(p.stat().st_mode & 0o777)}" for p in paths
             if p.stat().st_mode & 0o777 != (0o777 if p.is_dir() else 0o666) & ~umask]  # fmt: skip
    assert not wrong, wrong


def test_a_moved_project_is_still_up_to_date_and_a_changed_file_is_not(project, tmp_path):
    import shutil as sh

    from lomsong.pipeline import fingerprint, up_to_date

    cfg = load_config(project)
    run(cfg, out_dir=tmp_path / "out")
    moved = tmp_path / "elsewhere"
    sh.copytree(project.parent, moved)
    assert fingerprint(load_config(moved / project.name)) == fingerprint(cfg)  # content counts
    assert up_to_date(load_config(moved / project.name), tmp_path / "out")
    towers = moved / "towers.csv"
    towers.write_text(towers.read_text().replace("\n", "\n", 1) + "\n", encoding="utf-8")
    assert not up_to_date(load_config(moved / project.name), tmp_path / "out")
