"""Tests of lomsong.report.html: the numbers behind the plots, the tables, escaping, languages."""

from __future__ import annotations

import base64
import html
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
    status_histogram,
    threshold_lines,
    write_report_html,
)
from lomsong.text import REPORT, format_int, format_pct

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
    """Four villages, 1 100 households in the three classes: V2 (hostile name) and V3 have no
    signal (dead), V4 has weak signal, V1 is reliable. 4G at RSRP −110 dBm, 90 % of locations:
    a household has signal from −110 dBm and is reliable from −102.95 dBm."""
    villages = _gdf(
        [
            {"village_id": "V1", "name": "Thôn Một", "commune": "Ba Bích", "district": "Ba Tơ",
             "households": 600, "households_covered": 580, "households_uncovered": 20,
             "households_no_signal": 0, "households_weak": 20, "share_uncovered": 20 / 600,
             "coverage_probability": 0.97, "status": "reliable", "dead": False,
             "geometry": box(X0, Y0 - 3000, X0 + 3000, Y0)},
            {"village_id": "V2", "name": HOSTILE, "commune": HOSTILE_IMG, "district": "Ba Tơ",
             "households": 150, "households_covered": 0, "households_uncovered": 150,
             "households_no_signal": 150, "households_weak": 0, "share_uncovered": 1.0,
             "coverage_probability": 0.0, "status": "no_signal", "dead": True,
             "geometry": box(X0 + 3000, Y0 - 3000, X0 + 6000, Y0)},
            {"village_id": "V3", "name": "Làng Rêu", "commune": "Ba Vì", "district": "Ba Tơ",
             "households": 250, "households_covered": 20, "households_uncovered": 230,
             "households_no_signal": 200, "households_weak": 30, "share_uncovered": 0.92,
             "coverage_probability": 0.15, "status": "no_signal", "dead": True,
             "geometry": box(X0 + 6000, Y0 - 3000, X0 + 9000, Y0)},
            {"village_id": "V4", "name": "Xóm Yếu", "commune": "Ba Vì", "district": "Ba Tơ",
             "households": 100, "households_covered": 30, "households_uncovered": 70,
             "households_no_signal": 10, "households_weak": 60, "share_uncovered": 0.7,
             "coverage_probability": 0.62, "status": "weak", "dead": False,
             "geometry": box(X0 + 9000, Y0 - 3000, X0 + 12000, Y0)},
        ]
    )  # fmt: skip
    # household points: level, weight and class chosen so the histogram's bins are known
    households = _gdf(
        [
            {"households": 580, "village_id": "V1", "power_dbm": -80.0, "status": "reliable",
             "geometry": Point(X0 + 1500, Y0 - 1500)},
            {"households": 20, "village_id": "V1", "power_dbm": -105.0, "status": "weak",
             "geometry": Point(X0 + 2900, Y0 - 1500)},
            {"households": 150, "village_id": "V2", "power_dbm": np.nan, "status": "no_signal",
             "geometry": Point(X0 + 4500, Y0 - 1500)},
            {"households": 200, "village_id": "V3", "power_dbm": -130.0, "status": "no_signal",
             "geometry": Point(X0 + 7500, Y0 - 1500)},
            {"households": 30, "village_id": "V3", "power_dbm": -106.0, "status": "weak",
             "geometry": Point(X0 + 7000, Y0 - 1500)},
            {"households": 20, "village_id": "V3", "power_dbm": -99.0, "status": "reliable",
             "geometry": Point(X0 + 6100, Y0 - 1500)},
            {"households": 10, "village_id": "V4", "power_dbm": -115.0, "status": "no_signal",
             "geometry": Point(X0 + 9500, Y0 - 1500)},
            {"households": 60, "village_id": "V4", "power_dbm": -108.0, "status": "weak",
             "geometry": Point(X0 + 10500, Y0 - 1500)},
            {"households": 30, "village_id": "V4", "power_dbm": -95.0, "status": "reliable",
             "geometry": Point(X0 + 11500, Y0 - 1500)},
        ]
    )  # fmt: skip
    households["covered"] = households["status"] == "reliable"
    zones = _gdf([{"zone_id": "Z1", "households": 380, "area_km2": 9.0, "villages": "V2,V3",
                   "nearest_tower_km": 4.0,
                   "geometry": box(X0 + 3500, Y0 - 2500, X0 + 8500, Y0 - 500)}])  # fmt: skip
    towers = make_towers([(X0 + 1000, Y0 - 1000)], tech=["4G"], freq_mhz=[1800.0])
    gaps = DeadZones(
        villages=villages,
        zones=zones,
        households=households,
        rule=CoverageRule.for_network(towers=towers, thresholds={"4G": -110.0}),
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
    # the totals of summary.json (the village sums); the classes' counts are the villages'
    summary = {
        "lomsong_version": "9.9.9",
        "model": {"name": "hata", "environment": HOSTILE},
        "rule": gaps.rule.to_dict(),
        "totals": {"villages": 4, "dead_villages": 2, "households": 1100,
                   "households_covered": 630, "households_uncovered": 470, "towers": 1,
                   "sites_proposed": 2, "households_reached_by_sites": 380},
    }  # fmt: skip
    power = make_grid(np.linspace(-130, -60, 120 * 30).reshape(30, 120), res=100.0)
    serving = power.with_data(np.zeros(power.shape, np.int32))
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


def test_status_histogram_splits_each_bin_by_class(world: dict) -> None:
    hh = world["gaps"].households
    edges, counts, missing = status_histogram(hh["power_dbm"], hh["households"], hh["status"],
                                              lo=-120, hi=-50, bin_db=2.5)  # fmt: skip
    assert list(counts) == ["no_signal", "weak", "reliable"]
    assert missing == 150  # V2: no level at all (no signal), not plotted
    assert counts["no_signal"].sum() == 200 + 10 and counts["no_signal"][0] == 200  # −130 clipped
    assert counts["no_signal"][2] == 10  # −115 ∈ [−115, −112.5)
    # −108 ∈ [−110, −107.5), −106 ∈ [−107.5, −105), −105 ∈ [−105, −102.5)
    assert counts["weak"][4:7].tolist() == [60, 30, 20]
    assert counts["reliable"].sum() == 580 + 20 + 30
    total = sum(c.sum() for c in counts.values()) + missing
    assert total == hh["households"].sum()  # no household lost


def test_threshold_lines_one_per_technology_present() -> None:
    """One line per technology of the towers that the rule counts, at the median level from
    which it gives signal, labelled with its quantity; technologies at one level share a line."""
    towers = make_towers([(X0, Y0), (X0 + 1, Y0), (X0 + 2, Y0)], tech=["4G", "2G", "5G"],
                         freq_mhz=[1800.0, 900.0, 3500.0])  # fmt: skip
    rule = CoverageRule.for_network(towers=towers)  # defaults: RSRP −110, RxLev −100 dBm
    assert threshold_lines(rule, towers, REPORT["en"], "en") == [
        (-110.0, "Threshold SS-RSRP/RSRP −110 dBm"), (-100.0, "Threshold RxLev −100 dBm"),
    ]  # fmt: skip
    assert threshold_lines(rule, towers, REPORT["vi"], "vi")[1] == (-100.0, "Ngưỡng RxLev −100 dBm")
    only_4g = CoverageRule.for_network(towers=towers, technologies=["4G"])
    assert threshold_lines(only_4g, towers, REPORT["en"], "en") == [
        (-110.0, "Threshold RSRP −110 dBm")
    ]
    # without towers (no map of the signal): the rule's technologies, else 4G
    assert threshold_lines(rule, None, REPORT["en"], "en") == [(-110.0, "Threshold RSRP −110 dBm")]


# -- the page --------------------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_report_key_figures_show_the_three_classes(world: dict, lang: str) -> None:
    """Households with no signal / weak / reliable signal and villages by status, counted from
    the villages (summary.json's totals do not carry the classes)."""
    key = _parse(report_html(lang=lang, **world)).tables[0]
    lab = REPORT[lang]
    figures = {row[0]: row[1] for row in key}

    def pct(n: int) -> str:
        return f"{format_int(n, lang)} ({format_pct(n / 1100, lang)})"

    assert figures[lab["households_no_signal"]] == pct(360)  # 150 + 200 + 10
    assert figures[lab["households_weak"]] == pct(110)  # 20 + 30 + 60
    assert figures[lab["households_covered"]] == pct(630)  # 580 + 20 + 30
    assert figures[lab["dead_villages"]] == "2"
    assert figures[lab["villages_weak"]] == "1"
    assert figures[lab["villages_reliable"]] == "1"
    # households' mean coverage probability: (600·0.97 + 150·0 + 250·0.15 + 100·0.62) / 1 100
    assert figures[lab["mean_probability"]] == format_pct(681.5 / 1100, lang)
    words = {"vi": ("Hộ lõm sóng", "Hộ sóng yếu", "Hộ có sóng"),
             "en": ("Households with no signal", "Households with weak signal",
                    "Households with reliable signal")}[lang]  # fmt: skip
    assert (lab["households_no_signal"], lab["households_weak"], lab["households_covered"]) == words


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_report_states_the_location_probability(world: dict, lang: str) -> None:
    page = report_html(lang=lang, **world)
    p = format_pct(0.9, lang, digits=0)
    assert REPORT[lang]["probability_note"].format(p=p) in page
    assert {"vi": "90 %", "en": "90%"}[lang] in REPORT[lang]["probability_note"].format(p=p)


def test_report_lists_weak_villages_when_none_is_dead(world: dict) -> None:
    v = world["gaps"].villages.copy()
    v["status"] = v["status"].replace("no_signal", "reliable")
    v["dead"] = False
    gaps = DeadZones(villages=v, zones=world["gaps"].zones, households=world["gaps"].households,
                     rule=world["gaps"].rule)  # fmt: skip
    page = report_html(lang="en", **dict(world, gaps=gaps))
    assert REPORT["en"]["none_dead"] in page
    dead = _parse(page).tables[1]
    assert [r[1] for r in dead[1:]] == ["Xóm Yếu"] and dead[1][-1] == "Weak signal"


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
    assert figures[lab["total_households"]] == "1.100"
    assert figures[lab["households_uncovered"]] == "470 (42,7 %)"
    assert figures[lab["reached"]] == "380 (80,9 %)"
    assert figures[lab["model"]] == f"hata ({HOSTILE})"  # shown as text after parsing
    # villages with no signal first, then weak ones, most households without reliable signal
    # first; the reliable village V1 is not listed
    assert dead[0] == ["#", lab["village"], lab["commune"], lab["district"], lab["households"],
                       lab["households_no_signal"], lab["households_weak"],
                       lab["share_uncovered"], lab["coverage_probability"],
                       lab["status"]]  # fmt: skip
    assert dead[1:] == [
        ["1", "Làng Rêu", "Ba Vì", "Ba Tơ", "250", "200", "30", "92,0 %", "15,0 %", "Lõm sóng"],
        ["2", HOSTILE, HOSTILE_IMG, "Ba Tơ", "150", "150", "0", "100,0 %", "0,0 %", "Lõm sóng"],
        ["3", "Xóm Yếu", "Ba Vì", "Ba Tơ", "100", "10", "60", "70,0 %", "62,0 %", "Sóng yếu"],
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
    rule = world["gaps"].rule
    assert f'<p class="rule">{html.escape(rule.describe("en"))}</p>' in page  # the rule
    assert "RSRP −110 dBm" in rule.describe("en")
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
    # number formats: 1.100 in Vietnamese, 1,100 in English
    assert re.search(r">1\.100<", vi) and re.search(r">1,100<", en)
    with pytest.raises(ValueError, match="'vi'.*'en'"):
        report_html(lang="fr", **world)
