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
from lomsong.report import RANKING_CSV_COLUMNS, VILLAGE_CSV_COLUMNS

OUTPUTS = ["coverage.tif", "serving.tif", "planning.gpkg", "villages.csv", "ranking.csv",
           "map.html", "summary.json"]  # fmt: skip
LAYERS = {"villages", "dead_zones", "towers", "candidates", "ranking", "rejects"}


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
