"""End to end through the command line on the reduced demo province."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest

from lomsong.cli import main
from lomsong.report.files import RANKING_CSV_COLUMNS, VILLAGE_CSV_COLUMNS

OUTPUTS = ["coverage.tif", "serving.tif", "planning.gpkg", "villages.csv", "ranking.csv",
           "map.html", "summary.json"]  # fmt: skip
LAYERS = {"villages", "dead_zones", "towers", "candidates", "ranking", "backhaul", "rejects",
          "layer_styles"}  # fmt: skip


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "demo"
    assert main(["demo", "--out", str(out), "--reduced", "--quiet"]) == 0
    return out


def test_demo_writes_every_output_with_the_contract_columns(demo_run):
    for name in OUTPUTS:
        assert (demo_run / name).stat().st_size > 0, name
    assert {n for n, _ in pyogrio.list_layers(demo_run / "planning.gpkg")} == LAYERS
    villages = pd.read_csv(demo_run / "villages.csv")
    assert list(villages.columns[: len(VILLAGE_CSV_COLUMNS)]) == VILLAGE_CSV_COLUMNS
    ranking = pd.read_csv(demo_run / "ranking.csv")
    assert list(ranking.columns[: len(RANKING_CSV_COLUMNS)]) == RANKING_CSV_COLUMNS
    summary = json.loads((demo_run / "summary.json").read_text())
    t = summary["totals"]
    assert t["households"] == villages["households"].sum()
    assert t["households_uncovered"] == pytest.approx(villages["households_uncovered"].sum(), abs=2)
    assert t["dead_villages"] == villages["dead"].sum()
    assert summary["lomsong_version"]
    assert set(summary["input_sha256"]) >= {"villages.gpkg", "towers.csv", "terrain.tif"}
    for name in ("project.toml", "villages.gpkg", "towers.csv", "terrain.tif"):
        assert (demo_run / "inputs" / name).exists()


def test_demo_names_the_dead_island_and_the_ranking_reaches_it(demo_run):
    villages = pd.read_csv(demo_run / "villages.csv")
    dead = villages[villages["dead"]]
    assert "Đảo Bé" in set(dead["name"])  # the island hamlet is dark
    ranking = pd.read_csv(demo_run / "ranking.csv")
    assert len(ranking) >= 3
    # together the first sites reach most dead-zone households
    assert ranking["cumulative_share"].iloc[-1] > 0.5
    reached = ";".join(ranking["village_names"].fillna(""))
    assert "Đảo Bé" in reached


def test_run_from_the_written_inputs_reproduces_the_demo(demo_run, tmp_path):
    out = tmp_path / "rerun"
    assert main(["run", str(demo_run / "inputs" / "project.toml"), "--out", str(out),
                 "--quiet"]) == 0  # fmt: skip
    for name in ("villages.csv", "ranking.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(out / name), pd.read_csv(demo_run / name))


def test_a_rerun_with_new_towers_reports_the_changes(demo_run, tmp_path):
    inputs = tmp_path / "inputs"
    shutil.copytree(demo_run / "inputs", inputs)
    out = tmp_path / "run"
    assert main(["run", str(inputs / "project.toml"), "--out", str(out), "--quiet"]) == 0
    # a new omni tower on the island
    towers = pd.read_csv(inputs / "towers.csv")
    ranking = pd.read_csv(out / "ranking.csv")
    island = ranking[ranking["village_names"].fillna("").str.contains("Đảo Bé")].iloc[0]
    new = towers.iloc[[0]].copy()
    new["tower_id"], new["site_id"] = "NEW-1", "NEW"
    new["lon"], new["lat"], new["azimuth_deg"] = island["lon"], island["lat"], float("nan")
    pd.concat([towers, new]).to_csv(tmp_path / "towers_new.csv", index=False)
    assert main(["run", str(inputs / "project.toml"), "--out", str(out), "--quiet",
                 "--towers", str(tmp_path / "towers_new.csv")]) == 0  # fmt: skip
    changes = (out / "changes.md").read_text()
    assert "added (1): NEW-1" in changes
    assert "Đảo Bé" in changes  # newly covered
    summary = json.loads((out / "summary.json").read_text())
    before, after = summary["changes"]["households_uncovered"]
    assert after < before


def test_bad_input_exits_2_names_the_file_and_leaves_outputs_untouched(demo_run, tmp_path,
                                                                         capsys):  # fmt: skip
    inputs = tmp_path / "inputs"
    shutil.copytree(demo_run / "inputs", inputs)
    out = tmp_path / "run"
    assert main(["run", str(inputs / "project.toml"), "--out", str(out), "--quiet"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    v = gpd.read_file(inputs / "villages.gpkg")
    v.loc[3, "village_id"] = v.loc[1, "village_id"]  # a duplicate id
    v.to_file(inputs / "villages.gpkg", layer="villages", driver="GPKG")
    capsys.readouterr()
    assert main(["run", str(inputs / "project.toml"), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "villages.gpkg" in err and "duplicated in features 2, 4" in err
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert after == before
    assert not list(tmp_path.glob(".run.tmp-*"))  # no half-written folder left


def test_unknown_project_key_exits_2(tmp_path, capsys):
    p = tmp_path / "p.toml"
    p.write_text('[inputs]\nvillages = "v.gpkg"\ntowers = "t.csv"\n[model]\nnam = "hata"\n')
    assert main(["run", str(p)]) == 2
    assert "model.nam: unknown key" in capsys.readouterr().err


def test_diff_prints_the_change_report(demo_run, capsys):
    assert main(["diff", str(demo_run), str(demo_run)]) == 0
    out = capsys.readouterr().out
    assert "added (0)" in out and "households uncovered" in out


def test_calibrate_then_run_with_the_fitted_offsets(demo_run, tmp_path):
    # measurements "taken" in the demo: the demo's own prediction plus a known offset of −7 dB
    import geopandas as gpd
    import numpy as np

    from lomsong.config import load_config
    from lomsong.pipeline import run

    # the Hata engine, whose loss the calibration reads back exactly (the demo runs ITM)
    inputs = tmp_path / "inputs"
    shutil.copytree(demo_run / "inputs", inputs)
    text = (inputs / "project.toml").read_text().replace('name = "itm"', 'name = "hata"')
    (inputs / "project.toml").write_text(text)
    res = run(load_config(inputs / "project.toml"), write=False)
    tower = res.towers[res.towers["azimuth_deg"].isna()].iloc[0]
    hh = gpd.read_file(demo_run / "inputs" / "households.gpkg").iloc[::7]
    from lomsong.coverage.engine import path_loss_points

    loss = path_loss_points(res.terrain, (tower.geometry.x, tower.geometry.y), hh.geometry.x,
                            hh.geometry.y, f_mhz=tower.freq_mhz, h_tx_m=tower.height_m,
                            model="hata", environment="suburban", max_radius_km=15)  # fmt: skip
    ok = np.isfinite(loss)
    ll = hh[ok].geometry.to_crs(4326)
    tl = gpd.GeoSeries([tower.geometry], crs=res.towers.crs).to_crs(4326).iloc[0]
    meas = pd.DataFrame({"gateway": tower.tower_id, "gw_lat": tl.y, "gw_lon": tl.x,
                         "lat": ll.y, "lon": ll.x, "frequency": tower.freq_mhz * 1e6,
                         "rssi": tower.eirp_dbm - 7.0 - loss[ok]})  # fmt: skip
    meas.to_csv(tmp_path / "meas.csv", index=False)
    cal = tmp_path / "cal.json"
    assert main(["calibrate", str(tmp_path / "meas.csv"), "--model", "hata",
                 "--terrain", str(demo_run / "inputs" / "terrain.tif"),
                 "--h-tx", str(tower.height_m), "--out", str(cal), "--quiet"]) == 0  # fmt: skip
    doc = json.loads(cal.read_text())
    # the fitted offset is the tower's EIRP − 7 dB (0.3 dB: terrain resampling in the fit)
    assert doc["offsets_db"][tower.tower_id] == pytest.approx(tower.eirp_dbm - 7.0, abs=0.3)
    text = text.replace("[model]\n", f'[model]\ncalibration = "{cal}"\n')
    (inputs / "project.toml").write_text(text)
    calibrated = run(load_config(inputs / "project.toml"), write=False)
    i = int(np.flatnonzero(calibrated.towers["tower_id"] == tower.tower_id)[0])
    mask = calibrated.signal.serving.data == i
    both = mask & (res.signal.serving.data == i)
    # where the same tower serves, its power fell by the 7 dB the measurements showed
    diff = res.signal.power.data[both] - calibrated.signal.power.data[both]
    assert np.median(diff) == pytest.approx(7.0, abs=0.3)


def test_an_unchanged_rerun_is_up_to_date(demo_run, tmp_path, capsys):
    inputs = tmp_path / "inputs"
    shutil.copytree(demo_run / "inputs", inputs)
    out = tmp_path / "run"
    assert main(["run", str(inputs / "project.toml"), "--out", str(out), "--quiet"]) == 0
    stamp = (out / "summary.json").stat().st_mtime_ns
    capsys.readouterr()
    assert main(["run", str(inputs / "project.toml"), "--out", str(out)]) == 0
    assert "up to date" in capsys.readouterr().err
    assert (out / "summary.json").stat().st_mtime_ns == stamp  # nothing rewritten
    # a changed setting is not up to date
    text = (inputs / "project.toml").read_text() + '\n[coverage]\nthresholds = { "4G" = -95 }\n'
    (inputs / "project.toml").write_text(text)
    assert main(["run", str(inputs / "project.toml"), "--out", str(out), "--quiet"]) == 0
    assert (out / "summary.json").stat().st_mtime_ns != stamp
    assert json.loads((out / "summary.json").read_text())["rule"]["threshold_dbm"]["4G"] == -95


def test_the_demo_summary_names_inputs_that_exist(demo_run):
    """The demo generates its inputs in a temporary folder that is gone after the run: the
    summary names the bundled copies, relative to the output folder."""
    summary = json.loads((demo_run / "summary.json").read_text())
    assert summary["project"] == "inputs/project.toml"
    assert summary["terrain"]["sources"] == ["inputs/terrain.tif"]
    suffixes = {".toml", ".tif", ".tiff", ".hgt", ".gpkg", ".csv", ".xlsx", ".geojson", ".json",
                ".shp", ".zip", ".parquet"}  # fmt: skip

    def strings(value):
        if isinstance(value, dict):  # the values (``input_sha256`` is keyed by file name)
            for v in value.values():
                yield from strings(v)
        elif isinstance(value, list):
            for v in value:
                yield from strings(v)
        elif isinstance(value, str):
            yield value

    paths = [s for s in strings(summary) if Path(s).suffix.lower() in suffixes]
    assert paths
    missing = [p for p in paths if not (demo_run / p).exists()]
    assert not missing, missing


def test_an_output_folder_holding_the_inputs_is_refused_and_nothing_is_lost(demo_run, tmp_path,
                                                                            capsys):  # fmt: skip
    # `lomsong run D/inputs/project.toml --out D` would replace D, inputs included
    d = tmp_path / "d"
    shutil.copytree(demo_run, d)
    before = sorted(p.relative_to(d) for p in (d / "inputs").rglob("*"))
    # (--force: the copied outputs are up to date, and an up-to-date run writes nothing)
    args = ["run", str(d / "inputs" / "project.toml"), "--out", str(d), "--quiet", "--force"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "holds the run's input" in err and "Traceback" not in err
    assert sorted(p.relative_to(d) for p in (d / "inputs").rglob("*")) == before


def test_an_internal_error_is_one_line_not_a_traceback(demo_run, tmp_path, monkeypatch, capsys):
    import lomsong.pipeline

    def broken(*_args, **_kwargs):
        raise ValueError("something lomsong did not expect")

    monkeypatch.setattr(lomsong.pipeline, "run", broken)
    monkeypatch.delenv("LOMSONG_DEBUG", raising=False)
    inputs = tmp_path / "inputs"
    shutil.copytree(demo_run / "inputs", inputs)
    code = main(["run", str(inputs / "project.toml"), "--out", str(tmp_path / "o"), "--force"])
    err = capsys.readouterr().err
    assert code == 1
    assert "internal error (ValueError: something lomsong did not expect)" in err
    assert "Traceback" not in err


def test_the_rasters_of_a_run_are_cloud_optimised(demo_run):
    from test_cog import _is_cog

    for name in ("coverage.tif", "serving.tif", "margin.tif"):
        assert _is_cog(demo_run / name), name
    techs = list(demo_run.glob("coverage_*.tif"))
    assert techs and all(_is_cog(p) for p in techs)  # the demo has 2G, 3G and 4G cells
