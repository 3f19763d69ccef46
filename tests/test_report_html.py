"""Tests of lomsong.report.html: the numbers behind the plots, the tables, escaping, languages."""

from __future__ import annotations

import base64
import io
import re
from html.parser import HTMLParser

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import CRS, X0, Y0, make_grid, make_towers
from PIL import Image
from shapely.geometry import Point, box

from lomsong.coverage.deadzones import DeadZones
from lomsong.coverage.rule import CoverageRule
from lomsong.coverage.types import Coverage
from lomsong.report.html import (
    coverage_curve,
    report_html,
    signal_histogram,
    write_report_html,
)
from lomsong.text import REPORT

HOSTILE = "<script>alert(1)</script>"
HOSTILE_IMG = '<img src=x onerror="alert(2)">'


class _Tables(HTMLParser):
    """Text of every table cell, table by table, and every <img> src: what a reader sees."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.images: list[str] = []
        self.scripts = 0
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images.append(dict(attrs)["src"])
        elif tag == "script":
            self.scripts += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _parse(page: str) -> _Tables:
    parser = _Tables()
    parser.feed(page)
    return parser


def _gdf(rows: list[dict]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=CRS)


@pytest.fixture
def world() -> dict:
    """Three villages, 1 000 households: V2 (hostile name) and V3 are dead, V1 is covered."""
    villages = _gdf(
        [
            {"village_id": "V1", "name": "Thôn Một", "commune": "Ba Bích", "district": "Ba Tơ",
             "households": 600, "households_covered": 580, "households_uncovered": 20,
             "share_uncovered": 20 / 600, "dead": False,
             "geometry": box(X0, Y0 - 3000, X0 + 3000, Y0)},
            {"village_id": "V2", "name": HOSTILE, "commune": HOSTILE_IMG, "district": "Ba Tơ",
             "households": 150, "households_covered": 0, "households_uncovered": 150,
             "share_uncovered": 1.0, "dead": True,
             "geometry": box(X0 + 3000, Y0 - 3000, X0 + 6000, Y0)},
            {"village_id": "V3", "name": "Làng Rêu", "commune": "Ba Vì", "district": "Ba Tơ",
             "households": 250, "households_covered": 20, "households_uncovered": 230,
             "share_uncovered": 0.92, "dead": True,
             "geometry": box(X0 + 6000, Y0 - 3000, X0 + 9000, Y0)},
        ]
    )  # fmt: skip
    # household points: power and weight chosen so the histogram's bins are known
    households = _gdf(
        [
            {"households": 580, "village_id": "V1", "power_dbm": -80.0, "covered": True,
             "geometry": Point(X0 + 1500, Y0 - 1500)},
            {"households": 20, "village_id": "V1", "power_dbm": -101.0, "covered": False,
             "geometry": Point(X0 + 2900, Y0 - 1500)},
            {"households": 150, "village_id": "V2", "power_dbm": np.nan, "covered": False,
             "geometry": Point(X0 + 4500, Y0 - 1500)},
            {"households": 230, "village_id": "V3", "power_dbm": -130.0, "covered": False,
             "geometry": Point(X0 + 7500, Y0 - 1500)},
            {"households": 20, "village_id": "V3", "power_dbm": -99.0, "covered": True,
             "geometry": Point(X0 + 6100, Y0 - 1500)},
        ]
    )  # fmt: skip
    zones = _gdf([{"zone_id": "Z1", "households": 380, "area_km2": 9.0, "villages": "V2,V3",
                   "nearest_tower_km": 4.0,
                   "geometry": box(X0 + 3500, Y0 - 2500, X0 + 8500, Y0 - 500)}])  # fmt: skip
    gaps = DeadZones(
        villages=villages,
        zones=zones,
        households=households,
        rule=CoverageRule(threshold_dbm=-100.0),
    )
    ranking = _gdf(
        [
            {"rank": 1, "site_id": "C-7", "new_households": 230, "cumulative_households": 230,
             "cumulative_share": 0.575, "villages_reached": 1, "backhaul_hops": 1,
             "backhaul_ok": True, "village_names": "Làng Rêu",
             "geometry": Point(X0 + 7500, Y0 - 1000)},
            {"rank": 2, "site_id": HOSTILE, "new_households": 150, "cumulative_households": 380,
             "cumulative_share": 0.95, "villages_reached": 1, "backhaul_hops": -1,
             "backhaul_ok": False, "village_names": HOSTILE,
             "geometry": Point(X0 + 4500, Y0 - 1000)},
        ]
    )  # fmt: skip
    lonlat = ranking.to_crs(4326).geometry
    ranking["lon"], ranking["lat"] = lonlat.x, lonlat.y
    summary = {
        "lomsong_version": "9.9.9",
        "model": {"name": "hata", "environment": HOSTILE},
        "thresholds": {"threshold_dbm": -100.0, "dead_share": 0.5},
        "totals": {"villages": 3, "dead_villages": 2, "households": 1000,
                   "households_covered": 600, "households_uncovered": 400, "towers": 1,
                   "sites_proposed": 2, "households_reached_by_sites": 380},
    }  # fmt: skip
    power = make_grid(np.linspace(-130, -60, 90 * 30).reshape(30, 90), res=100.0)
    serving = power.with_data(np.zeros(power.shape, np.int32))
    towers = make_towers([(X0 + 1000, Y0 - 1000)])
    signal = Coverage(power=power, serving=serving, towers=towers, model="hata", rx_height_m=1.5)
    return {"gaps": gaps, "ranking": ranking, "summary": summary, "signal": signal}


# -- the numbers behind the plots ------------------------------------------------------------
def test_coverage_curve_adds_cumulative_gains_to_today(world: dict) -> None:
    k, households = coverage_curve(world["ranking"], covered_now=600)
    assert k.tolist() == [0, 1, 2]
    assert households.tolist() == [600, 830, 980]  # exact: sums of integers


def test_coverage_curve_from_new_households_and_unsorted_rows(world: dict) -> None:
    table = world["ranking"].drop(columns="cumulative_households").iloc[::-1]
    _, households = coverage_curve(table, covered_now=0)
    assert households.tolist() == [0, 230, 380]


def test_signal_histogram_bins_weights_and_missing() -> None:
    power = np.array([-130.0, -105.0, -95.0, -40.0, np.nan, -50.0])
    weights = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    edges, counts, missing = signal_histogram(power, weights, lo=-120, hi=-50, bin_db=2.5)
    assert edges[0] == -120 and edges[-1] == -50 and len(counts) == 28  # 70 dB / 2.5 dB
    assert counts[0] == 1  # −130 clipped into the first bin
    assert counts[6] == 2  # −105 ∈ [−105, −102.5)
    assert counts[10] == 3  # −95 ∈ [−95, −92.5)
    assert counts[-1] == 4 + 6  # −40 clipped, and −50 (the top edge) kept in the last bin
    assert missing == 5
    assert counts.sum() + missing == weights.sum()  # no household lost


# -- the page --------------------------------------------------------------------------------
def test_report_tables_and_escaping(world: dict, tmp_path) -> None:
    path = write_report_html(tmp_path / "report.html", lang="vi", **world)
    page = path.read_text(encoding="utf-8")
    # Hostile strings are text: never markup, in any field they were put in.
    assert HOSTILE not in page and HOSTILE_IMG not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    parsed = _parse(page)
    assert parsed.scripts == 0  # the page has no script at all
    key, dead, sites = parsed.tables
    lab = REPORT["vi"]
    figures = {row[0]: row[1] for row in key}
    assert figures[lab["total_households"]] == "1.000"
    assert figures[lab["households_uncovered"]] == "400 (40,0 %)"
    assert figures[lab["reached"]] == "380 (95,0 %)"
    assert figures[lab["model"]] == f"hata ({HOSTILE})"  # shown as text after parsing
    # dead villages, most uncovered first; the covered village V1 is not listed
    assert dead[0] == ["#", lab["village"], lab["commune"], lab["district"], lab["households"],
                       lab["households_uncovered"], lab["share"]]  # fmt: skip
    assert dead[1:] == [
        ["1", "Làng Rêu", "Ba Vì", "Ba Tơ", "250", "230", "92,0 %"],
        ["2", HOSTILE, HOSTILE_IMG, "Ba Tơ", "150", "150", "100,0 %"],
    ]
    assert [r[:2] for r in sites[1:]] == [["1", "C-7"], ["2", HOSTILE]]
    assert sites[1][3:8] == ["230", "230", "57,5 %", "1", "khả thi (1 bước nhảy)"]
    assert sites[2][7] == "không khả thi"  # hops −1 (no path) is not shown
    # the first site's position, to 5 decimals (≈ 1 m)
    lon, lat = world["ranking"].loc[0, ["lon", "lat"]]
    assert sites[1][2] == f"{lon:.5f}, {lat:.5f}"


def _pngs(srcs: list[str]) -> list[Image.Image]:
    out = []
    for src in srcs:
        assert src.startswith("data:image/png;base64,")
        out.append(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))))
    return out


def test_report_plots_are_embedded_pngs(world: dict) -> None:
    page = report_html(lang="en", **world)
    images = _pngs(_parse(page).images)
    assert len(images) == 3  # coverage curve, histogram, map (signal given)
    for img in images:
        assert img.format == "PNG"
        # 9 in at 100 dpi, trimmed to the drawing ("tight"): 700–1000 px wide
        assert 700 <= img.size[0] <= 1000
        assert np.asarray(img.convert("L")).std() > 10  # not a blank image
    # the histogram caption says how many households had no prediction (V2's 150)
    assert "150 households lie beyond the prediction radius" in page
    assert "Covered where the received power (total, median) reaches −100 dBm" in page  # the rule
    assert "Made by lomsong 9.9.9." in page


def test_report_without_signal_or_sites(world: dict) -> None:
    world = dict(world, signal=None, ranking=world["ranking"].iloc[0:0])
    page = report_html(lang="en", **world)
    parsed = _parse(page)
    assert len(parsed.images) == 1  # only the histogram: no curve without sites, no map
    assert REPORT["en"]["no_sites"] in page


def test_report_from_ranking_csv_table(world: dict) -> None:
    """ranking.csv has no geometry: the map places sites from lon/lat."""
    table = pd.DataFrame(world["ranking"].drop(columns="geometry"))
    page = report_html(lang="en", **dict(world, ranking=table))
    assert len(_parse(page).images) == 3


def test_report_languages(world: dict) -> None:
    assert set(REPORT["vi"]) == set(REPORT["en"])
    vi = report_html(lang="vi", **world)
    en = report_html(lang="en", **world)
    assert '<html lang="vi">' in vi and REPORT["vi"]["title"] in vi
    assert '<html lang="en">' in en and REPORT["en"]["title"] in en
    # number formats: 1.000 in Vietnamese, 1,000 in English
    assert re.search(r">1\.000<", vi) and re.search(r">1,000<", en)
    with pytest.raises(ValueError, match="'vi'.*'en'"):
        report_html(lang="fr", **world)
