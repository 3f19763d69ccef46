"""Empty and degenerate projects through ``lomsong run``: every stage copes and says so.

Tiny hand-built, terrain-free projects (Hata suburban, 2G at 900 MHz, −100 dBm): six 1 km
villages in a row with 10 household points each, and one tower whose power decides the case —
nobody uncovered, no candidate at all, no tower reaching anyone (or none within the radius), one
village, a single sectored tower, zero sites asked for. Each run exits 0 and writes outputs that
agree with each other.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from conftest import CRS, X0, Y0, make_towers, make_villages, write_project
from shapely.geometry import Point

from lomsong.cli import main
from lomsong.report.files import RANKING_CSV_COLUMNS, VILLAGE_CSV_COLUMNS
from lomsong.text import LABELS, REPORT

OUTPUTS = ("villages.csv", "ranking.csv", "summary.json", "map.html", "report.html",
           "planning.gpkg", "coverage.tif")  # fmt: skip
#: Village i spans x = 0.5 + 1.5 i … 1.5 + 1.5 i km east of the tower at (X0, Y0 − 1 km).
BOXES = [(X0 + 500 + 1500 * i, Y0 - 1500, X0 + 1500 + 1500 * i, Y0 - 500) for i in range(6)]
TOWER = (X0, Y0 - 1000)
#: EIRP (dBm) whose reliable coverage (2G RxLev −100 dBm at 90 % of locations: + 6.5 dB fade
#: margin; Hata suburban, 30 m mast) ends at ≈ 12, 3 and 0.1 km.
EIRP_STRONG, EIRP_WEAK, EIRP_DEAD = 62.0, 38.0, 0.0


def _households(boxes) -> gpd.GeoDataFrame:
    """10 building points (weight 1) across the middle of each village."""
    pts = [Point(b[0] + 50 + 100 * k, (b[1] + b[3]) / 2) for b in boxes for k in range(10)]
    return gpd.GeoDataFrame({"households": [1.0] * len(pts)}, geometry=pts, crs=CRS)


def _run(tmp_path: Path, capsys, *, boxes=BOXES, eirp=EIRP_WEAK, towers=None,
         households=None, **project) -> tuple[Path, dict, pd.DataFrame, pd.DataFrame]:  # fmt: skip
    villages = make_villages(boxes, households=[40] * len(boxes))
    towers = towers if towers is not None else make_towers([TOWER], eirp_dbm=[eirp])
    hh = households if households is not None else _households(boxes)
    path = write_project(tmp_path / "in", villages, towers, households=hh, **project)
    out = tmp_path / "out"
    capsys.readouterr()
    # main returns the exit code: an exception escaping it fails the test with its traceback
    code = main(["run", str(path), "--out", str(out), "--quiet"])
    cap = capsys.readouterr()
    assert code == 0, cap.err
    for name in OUTPUTS:
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    villages_csv = pd.read_csv(out / "villages.csv", dtype={"village_id": str})
    ranking = pd.read_csv(out / "ranking.csv", dtype={"site_id": str})
    _consistent(out, summary, villages_csv, ranking)
    return out, summary, villages_csv, ranking


def _text(path: Path) -> str:
    """The visible text of an HTML file (tags, scripts and styles removed)."""
    page = path.read_text(encoding="utf-8")
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def _map_summary(out: Path) -> dict[str, str]:
    """The map's summary box, label → value."""
    page = (out / "map.html").read_text(encoding="utf-8")
    box_html = re.search(r'<div class="ls-box ls-summary">(.*?)</table>', page, flags=re.S)
    assert box_html, "the map has no summary box"
    cells = re.findall(r"<tr><td>(.*?)</td><td class=\"n\">(.*?)</td></tr>", box_html.group(1))
    return {html.unescape(k): html.unescape(v) for k, v in cells}


def _consistent(out: Path, summary: dict, v: pd.DataFrame, rk: pd.DataFrame) -> None:
    """Every output tells the same story."""
    t = summary["totals"]
    assert list(v.columns[: len(VILLAGE_CSV_COLUMNS)]) == VILLAGE_CSV_COLUMNS
    assert list(rk.columns[: len(RANKING_CSV_COLUMNS)]) == RANKING_CSV_COLUMNS
    assert t["villages"] == len(v)
    assert t["dead_villages"] == int(v["dead"].sum()) == len(summary["dead_villages"])
    assert t["households"] == v["households"].sum()
    assert t["households_uncovered"] == v["households_uncovered"].sum()
    assert t["households_covered"] == v["households_covered"].sum()
    assert t["sites_proposed"] == len(rk)
    assert t["households_reached_by_sites"] == (rk["cumulative_households"].iloc[-1]
                                                if len(rk) else 0)  # fmt: skip
    assert t["households_reached_by_sites"] <= t["households_uncovered"]
    report = _text(out / "report.html")
    rep = REPORT["en"]
    assert (rep["none_dead"] in report) == (t["dead_villages"] == 0)
    assert (rep["no_sites"] in report) == (len(rk) == 0)
    for name in v.loc[v["dead"], "name"]:
        assert name in report
    lab = LABELS["en"]
    box_values = _map_summary(out)
    assert box_values[lab["sum_dead_villages"]] == str(t["dead_villages"])
    assert box_values[lab["sum_uncovered"]].startswith(f"{t['households_uncovered']:,}")
    gpkg_ranking = gpd.read_file(out / "planning.gpkg", layer="ranking")
    assert len(gpkg_ranking) == len(rk)


def test_no_uncovered_household(tmp_path, capsys):
    """(a) One strong tower covers all six villages: nothing to fix, nothing proposed."""
    _, summary, v, rk = _run(tmp_path, capsys, eirp=EIRP_STRONG)
    t = summary["totals"]
    assert t["households"] == 240 and t["households_uncovered"] == 0
    assert t["dead_villages"] == 0 and t["dead_zones"] == 0
    assert t["candidates"] == 0 and len(rk) == 0
    assert (v["households_covered"] == 40).all()
    assert v["covered_by_site"].isna().all()


def test_an_empty_candidate_file(tmp_path, capsys):
    """(b) The planner's candidate file has a header and no row: dead villages, no site."""
    no_sites = gpd.GeoDataFrame({"site_id": pd.Series(dtype=str)}, geometry=[], crs=CRS)
    out, summary, v, rk = _run(tmp_path, capsys, candidates=no_sites)
    assert (tmp_path / "in" / "candidates.csv").read_text().strip() == "site_id,lon,lat"
    t = summary["totals"]
    assert t["dead_villages"] >= 3 and t["candidates"] == 0 and len(rk) == 0
    assert v.loc[v["dead"], "dark_sentence"].str.len().gt(0).all()
    assert v["covered_by_site"].isna().all()


def test_generated_candidates_none(tmp_path, capsys):
    """(b) A dead hamlet too small to make a dead-zone polygon: no candidate is generated,
    its households stay counted as uncovered."""
    x = X0 + 8_020  # one 100 m cell's centre (X0 + 8,050) inside a 60 m square hamlet
    boxes = [BOXES[0], (x, Y0 - 1_080, x + 60, Y0 - 1_020)]
    hamlet = gpd.GeoDataFrame({"households": [1.0]}, geometry=[Point(x + 30, Y0 - 1_050)],
                              crs=CRS)  # fmt: skip
    hh = pd.concat([_households(boxes[:1]), hamlet], ignore_index=True)
    _, summary, v, rk = _run(tmp_path, capsys, boxes=boxes, households=hh)
    t = summary["totals"]
    assert t["dead_zones"] == 0 and t["candidates"] == 0 and len(rk) == 0
    assert t["households_uncovered"] == 40 and t["dead_villages"] == 1
    assert v.set_index("village_id").loc["V2", "dead"]


def test_no_tower_reaches_any_village(tmp_path, capsys):
    """(c) The only tower is in the prediction radius but reaches nobody."""
    _, summary, v, rk = _run(tmp_path, capsys, eirp=EIRP_DEAD)
    t = summary["totals"]
    assert t["households_covered"] == 0 and t["households_uncovered"] == 240
    assert v["dead"].all() and t["dead_villages"] == 6
    assert len(rk) >= 1  # generated candidates over the dead zones fix it


def test_no_tower_within_the_radius(tmp_path, capsys):
    """(c) The tower list's only tower is 25 km away, beyond the 10 km radius: the district
    has no service at all — every village dead, said why, and sites proposed."""
    far = make_towers([(X0 - 25_000, Y0 - 1_000)], eirp_dbm=[EIRP_STRONG])
    out, summary, v, rk = _run(tmp_path, capsys, towers=far)
    t = summary["totals"]
    assert t["towers"] == 0 and summary["rejects"] == 1
    rejects = gpd.read_file(out / "planning.gpkg", layer="rejects")
    assert rejects["reason"].str.contains("more than 10 km from the area").all()
    assert t["households_covered"] == 0 and v["dead"].all()
    assert (v["dark_reason"] == "no_tower").all()
    assert len(rk) >= 1 and t["households_reached_by_sites"] > 0


def test_one_village(tmp_path, capsys):
    """(d) A project of one village."""
    _, summary, v, rk = _run(tmp_path, capsys, boxes=BOXES[3:4])
    assert len(v) == 1 and summary["totals"]["households"] == 40
    assert v["dead"].all() and len(rk) >= 1
    assert rk["villages_reached"].iloc[0] == 1


def test_a_single_sectored_tower(tmp_path, capsys):
    """(e) A tower list of one cell, a sector facing away from the villages."""
    tower = make_towers([TOWER], eirp_dbm=[EIRP_STRONG], azimuth_deg=[270.0],
                        beamwidth_deg=[65.0])  # fmt: skip
    _, summary, v, _ = _run(tmp_path, capsys, towers=tower)
    assert summary["totals"]["towers"] == 1 and summary["totals"]["tower_sites"] == 1
    # its back lobe still reaches the nearest village, not the far ones
    assert not v.set_index("village_id").loc["V1", "dead"]
    assert v.set_index("village_id").loc["V6", "dead"]


@pytest.mark.parametrize("method", ["greedy", "exact"])
def test_zero_sites(tmp_path, capsys, method):
    """(f) ``sites = 0``: the dead villages are reported, no site is proposed."""
    _, summary, v, rk = _run(tmp_path, capsys, sites=0, method=method)
    assert summary["totals"]["sites_proposed"] == 0 and len(rk) == 0
    assert summary["totals"]["dead_villages"] >= 3
    assert v["covered_by_site"].isna().all()
