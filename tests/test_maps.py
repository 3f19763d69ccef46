"""Tests of lomsong.maps: the coverage image, labels, escaping and the saved HTML map."""

from __future__ import annotations

import base64
import html
import io
import json
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from affine import Affine
from PIL import Image
from pyproj import CRS, Transformer
from shapely.geometry import Point, box

from lomsong.coverage.deadzones import DeadZones
from lomsong.coverage.rule import CLASSES, CoverageRule
from lomsong.coverage.types import Coverage
from lomsong.grid import Grid
from lomsong.maps.build import (
    NO_STATUS_COLOR,
    SIGNAL_COLORS,
    SIGNAL_VMAX_DBM,
    SIGNAL_VMIN_DBM,
    STATUS_COLORS,
    _rank_popup_html,
    build_map,
    coverage_overlay_png,
    escape_text,
)
from lomsong.text import (
    CLASS_LABELS,
    LABELS,
    MAP,
    REPORT,
    for_lang,
    format_dbm,
    format_float,
    format_int,
    format_pct,
)

UTM = CRS.from_epsg(32649)
HOSTILE = "<script>alert(1)</script>"
CELL_M = 50.0
N = 200  # cells per side: a 10 km × 10 km grid

# Upper-left corner of the grid: near Quảng Ngãi (108.8° E, 15.0° N), 2.2° west of the zone's
# central meridian, so the UTM grid is visibly rotated against lon/lat (≈ 0.57°).
_X, _Y = Transformer.from_crs(4326, UTM, always_xy=True).transform(108.8, 15.0)
X0, Y0 = round(_X, -3), round(_Y, -3)
CX, CY = X0 + N * CELL_M / 2, Y0 - N * CELL_M / 2


def _power_grid() -> Grid:
    """−50 dBm within 500 m of the centre, then −12 dB per km; NaN beyond 6.5 km (corners)."""
    transform = Affine(CELL_M, 0, X0, 0, -CELL_M, Y0)
    grid = Grid(np.zeros((N, N), np.float32), transform, UTM)
    x, y = grid.cell_centers()
    r = np.hypot(x - CX, y - CY)
    power = -50.0 - 60.0 * np.maximum(r - 500.0, 0.0) / 5000.0
    power[r > 6500.0] = np.nan
    return grid.with_data(power.astype(np.float32))


def _gdf(rows: list[dict]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=UTM)


@pytest.fixture(scope="module")
def inputs() -> dict:
    power = _power_grid()
    serving = power.with_data(np.where(np.isnan(power.data), -1, 0).astype(np.int32), nodata=-1)
    towers = _gdf(
        [
            {"tower_id": "T1", "site_id": None, "operator": "Viettel", "tech": "4G",
             "freq_mhz": 1800.0, "height_m": 30.0, "eirp_dbm": 58.0, "azimuth_deg": np.nan,
             "beamwidth_deg": np.nan, "tilt_deg": 2.0, "geometry": Point(CX, CY)},
        ]
        + [
            {"tower_id": f"S2-{k}", "site_id": "S2", "operator": "<b>VNPT</b>", "tech": "3G",
             "freq_mhz": 2100.0, "height_m": 25.0, "eirp_dbm": 60.5, "azimuth_deg": az,
             "beamwidth_deg": 65.0, "tilt_deg": 3.0, "geometry": Point(X0 + 8000, Y0 - 8000)}
            for k, az in zip("ABC", (0.0, 120.0, 240.0), strict=True)
        ]
    )  # fmt: skip
    # the three classes: V1 weak (64 % without reliable signal, 8 % without any), V2 no signal
    # (dead), V3 reliable
    villages = _gdf(
        [
            {"village_id": "V1", "name": "Thôn Làng Rêu", "commune": "Sơn Bao",
             "district": "Sơn Hà", "households": 2500, "households_covered": 900,
             "households_uncovered": 1600, "households_no_signal": 200,
             "households_weak": 1400, "share_uncovered": 0.64, "coverage_probability": 0.413,
             "status": "weak", "dead": False,
             "geometry": box(X0 + 500, Y0 - 4500, X0 + 4500, Y0 - 500)},
            {"village_id": "V2", "name": HOSTILE, "commune": "Sơn Mùa", "district": "Sơn Tây",
             "households": 400, "households_covered": 0, "households_uncovered": 400,
             "households_no_signal": 400, "households_weak": 0, "share_uncovered": 1.0,
             "coverage_probability": 0.021, "status": "no_signal", "dead": True,
             "geometry": box(X0 + 5500, Y0 - 9500, X0 + 9500, Y0 - 5500)},
            {"village_id": "V3", "name": "Xóm Gò", "commune": "Sơn Bao", "district": "Sơn Hà",
             "households": 600, "households_covered": 600, "households_uncovered": 0,
             "households_no_signal": 0, "households_weak": 0, "share_uncovered": 0.0,
             "coverage_probability": 0.968, "status": "reliable", "dead": False,
             "geometry": box(X0 + 5500, Y0 - 4500, X0 + 9500, Y0 - 500)},
        ]
    )  # fmt: skip
    zones = _gdf(
        [
            {"zone_id": "Z1", "households": 400, "area_km2": 1.0, "villages": "V2",
             "nearest_tower_km": 5.3, "geometry": box(X0 + 7000, Y0 - 9000, X0 + 8000, Y0 - 8000)},
        ]
    )  # fmt: skip
    households = _gdf(
        [
            {"households": 1, "village_id": "V2", "power_dbm": -118.0, "covered": False,
             "status": "no_signal", "geometry": Point(X0 + 7500, Y0 - 8500)},
        ]
    )  # fmt: skip
    ranking = _gdf(
        [
            {"rank": 1, "site_id": "C-17", "new_households": 1234, "cumulative_households": 1234,
             "cumulative_share": 0.617, "villages_reached": 3, "backhaul_hops": 1,
             "backhaul_ok": True, "geometry": Point(X0 + 2500, Y0 - 2500)},
            {"rank": 2, "site_id": "C-`${alert(2)}`", "new_households": 567,
             "cumulative_households": 1801, "cumulative_share": 0.9005, "villages_reached": 1,
             "backhaul_hops": 2, "backhaul_ok": False, "geometry": Point(X0 + 7500, Y0 - 7500)},
        ]
    )  # fmt: skip
    lonlat = ranking.to_crs(4326)
    ranking["lon"], ranking["lat"] = lonlat.geometry.x, lonlat.geometry.y
    candidates = _gdf([{"site_id": f"C-{i}", "geometry": Point(X0 + 1000 * i, Y0 - 3000)}
                       for i in range(1, 10)])  # fmt: skip
    signal = Coverage(power=power, serving=serving, towers=towers, model="fspl", rx_height_m=1.5)
    gaps = DeadZones(
        villages=villages,
        zones=zones,
        households=households,
        # the defaults at the towers' carriers: RSRP −110 / RSCP −105 dBm at 90 % of locations
        rule=CoverageRule.for_network(towers=towers),
    )
    return {"signal": signal, "gaps": gaps, "towers": towers, "ranking": ranking,
            "candidates": candidates}  # fmt: skip


def _decode_png(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


def _js_unescaped(text: str) -> str:
    """The page with JSON ``\\uXXXX`` escapes decoded: what the browser's strings contain."""
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)


def _feature_collections(page: str) -> list[dict]:
    """The GeoJSON FeatureCollections folium embedded in the page."""
    found, decoder, i = [], json.JSONDecoder(), 0
    while (i := page.find('{"features"', i)) >= 0:
        fc, end = decoder.raw_decode(page, i)
        found.append(fc)
        i = end
    return found


def _summary_rows(raw: str) -> dict[str, str]:
    """The map's summary box, label → value."""
    box_html = re.search(r'<div class="ls-box ls-summary">(.*?)</table>', raw, flags=re.S)
    assert box_html, "the map has no summary box"
    rows = re.findall(r'<tr><td>(.*?)</td><td class="n">(.*?)</td></tr>', box_html.group(1))
    return {html.unescape(k): html.unescape(v) for k, v in rows}


def _legend(raw: str) -> str:
    """The legend control's HTML (a JSON string in the page's script)."""
    found = re.findall(r'div\.innerHTML = ("(?:[^"\\]|\\.)*");', raw)
    assert len(found) == 1, "one legend expected"
    return json.loads(found[0])


def _saved(m, tmp_path) -> tuple[str, str]:
    """The saved page as written, and with its JSON escapes decoded."""
    path = tmp_path / "map.html"
    m.save(path)
    raw = path.read_text(encoding="utf-8")
    return raw, _js_unescaped(raw)


# -- coverage image --------------------------------------------------------------------------
def test_overlay_png_colours_and_transparent_nan(inputs: dict) -> None:
    grid = inputs["signal"].power
    png, _ = coverage_overlay_png(grid, vmin=-120, vmax=-50, max_px=1600)
    rgba = _decode_png(png)
    h, w, _ = rgba.shape
    # The four corners are NaN in the grid (beyond 6.5 km) → fully transparent.
    for r, c in [(0, 0), (0, w - 1), (h - 1, 0), (h - 1, w - 1)]:
        assert rgba[r, c, 3] == 0
    # The centre is −50 dBm = vmax → exactly the last colour stop, opaque.
    top = tuple(int(SIGNAL_COLORS[-1][i : i + 2], 16) for i in (1, 3, 5))
    assert tuple(rgba[h // 2, w // 2]) == (*top, 255)
    # Transparent share ≈ NaN share of the grid. Tolerance 0.03: the UTM square is rotated
    # ≈ 0.57° against Mercator, so the image's envelope adds empty slivers of ≈ 2·tan(0.57°)
    # ≈ 2 % of its area, plus one pixel of rounding along each edge.
    assert (rgba[..., 3] == 0).mean() == pytest.approx(np.isnan(grid.data).mean(), abs=0.03)


@pytest.mark.parametrize("max_px", [1600, 64])
def test_overlay_bounds_match_grid_in_lonlat(inputs: dict, max_px: int) -> None:
    grid = inputs["signal"].power
    _, ((south, west), (north, east)) = coverage_overlay_png(
        grid, vmin=-120, vmax=-50, max_px=max_px
    )
    # Reference, computed independently: the envelope of the grid's four corners in lon/lat.
    xs = [X0, X0 + N * CELL_M, X0, X0 + N * CELL_M]
    ys = [Y0, Y0, Y0 - N * CELL_M, Y0 - N * CELL_M]
    lon, lat = Transformer.from_crs(UTM, 4326, always_xy=True).transform(xs, ys)
    # Tolerance 1e-4° (≈ 11 m, under half a 50 m cell): a half-cell registration error
    # (centre vs corner) or a snapped extent would fail, while the bulge of a 10 km UTM edge
    # in lon/lat (< 1 m) passes. A wrong CRS or a lat/lon swap would be off by degrees.
    expected = (min(lat), min(lon), max(lat), max(lon))
    assert (south, west, north, east) == pytest.approx(expected, abs=1e-4)


def test_overlay_downsampling_cap(inputs: dict) -> None:
    grid = inputs["signal"].power
    full = _decode_png(coverage_overlay_png(grid, vmin=-120, vmax=-50, max_px=1600)[0])
    small = _decode_png(coverage_overlay_png(grid, vmin=-120, vmax=-50, max_px=64)[0])
    assert max(full.shape[:2]) > 64  # the cap is not trivially met
    # floor() of the scaled size: the longer side is the cap, or one less from float rounding.
    assert 63 <= max(small.shape[:2]) <= 64
    # The aspect ratio survives the downsampling (±1 pixel from rounding each side).
    ratio = full.shape[1] / full.shape[0]
    assert small.shape[1] == pytest.approx(small.shape[0] * ratio, abs=1.0)


def test_overlay_rejects_bad_scale(inputs: dict) -> None:
    with pytest.raises(ValueError, match="vmax"):
        coverage_overlay_png(inputs["signal"].power, vmin=-50, vmax=-120, max_px=10)


# -- labels and escaping ---------------------------------------------------------------------
def test_number_formats() -> None:
    assert format_int(1234567, "vi") == "1.234.567"
    assert format_int(1234567, "en") == "1,234,567"
    assert format_float(1234.56, "vi", digits=1) == "1.234,6"
    assert format_pct(0.617, "vi") == "61,7 %"
    assert format_pct(0.617, "en") == "61.7%"
    assert format_int(float("nan"), "en") == "–"


def test_labels_same_keys_and_unknown_lang() -> None:
    assert set(LABELS["vi"]) == set(LABELS["en"])
    with pytest.raises(ValueError, match="'vi'.*'en'"):
        for_lang(MAP, "fr")
    with pytest.raises(ValueError, match="allowed"):
        build_map(lang="fr")


def test_escape_text_html_and_template_literals() -> None:
    assert escape_text(HOSTILE) == "&lt;script&gt;alert(1)&lt;/script&gt;"
    out = escape_text("a`${x}`\\b")
    assert not any(ch in out for ch in "`$\\<>")
    assert escape_text(None) == "" and escape_text(float("nan")) == ""


def test_rank_popup_numbers() -> None:
    row = {"rank": 1, "site_id": "C-17", "new_households": 1234, "cumulative_households": 1234,
           "cumulative_share": 0.617, "villages_reached": 3, "backhaul_hops": 1,
           "backhaul_ok": True}  # fmt: skip
    vi = _rank_popup_html(row, MAP["vi"], "vi")
    for text in ("Thứ hạng 1", "C-17", "1.234", "61,7 %", "khả thi (1 bước nhảy)"):
        assert text in vi
    en = _rank_popup_html(row, MAP["en"], "en")
    for text in ("Rank 1", "1,234", "61.7%", "feasible (1 hops)"):
        assert text in en


# -- the whole map ---------------------------------------------------------------------------
LAYER_KEYS = ("basemap_osm", "basemap_light", "basemap_none", "layer_signal", "layer_zones",
              "layer_villages", "layer_towers", "layer_ranking", "layer_candidates")  # fmt: skip


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_map_saves_with_layers_and_safe_text(inputs: dict, tmp_path, lang: str) -> None:
    m = build_map(
        towers=inputs["towers"],
        signal=inputs["signal"],
        gaps=inputs["gaps"],
        ranking=inputs["ranking"],
        candidates=inputs["candidates"],
        lang=lang,
    )
    path = tmp_path / "map.html"
    m.save(path)
    raw = path.read_text(encoding="utf-8")
    page = _js_unescaped(raw)
    lab = LABELS[lang]
    for key in LAYER_KEYS:
        assert lab[key] in page, key
    assert lab["legend_signal"].format(quantities="RSRP/RSCP") in page
    # Hostile strings are text, never markup or code: not in the page, even once decoded.
    assert HOSTILE not in raw
    assert HOSTILE not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;VNPT&lt;/b&gt;" in page  # operator, in the towers layer's popup
    assert "<b>VNPT</b>" not in page
    assert "${alert(2)}" not in page
    # One marker per tower position (the 3 sectors of S2 share one), in one GeoJSON layer of
    # points, + a marker per ranked site (2).
    towers = [
        fc
        for fc in _feature_collections(page)
        if any(lab["site"] in f["properties"].get("popup", "") for f in fc["features"])
    ]
    assert len(towers) == 1 and len(towers[0]["features"]) == 2
    assert {f["properties"]["tip"] for f in towers[0]["features"]} == {
        "T1 (Viettel)",
        "S2-A, S2-B, S2-C (&lt;b&gt;VNPT&lt;/b&gt;)",
    }
    assert raw.count("L.marker(") == 2
    # Summary box: 3 500 households, 2 000 without reliable signal (57.1 %): 600 with no
    # signal, 1 400 weak; 1 dead village, 1 weak; 1 801 reached.
    box = _summary_rows(raw)
    expected = {
        "vi": {"sum_households": "3.500", "sum_uncovered": "2.000 (57,1 %)",
               "sum_no_signal": "600 (17,1 %)", "sum_weak": "1.400 (40,0 %)",
               "sum_dead_villages": "1", "sum_weak_villages": "1"},
        "en": {"sum_households": "3,500", "sum_uncovered": "2,000 (57.1%)",
               "sum_no_signal": "600 (17.1%)", "sum_weak": "1,400 (40.0%)",
               "sum_dead_villages": "1", "sum_weak_villages": "1"},
    }  # fmt: skip
    for key, value in expected[lang].items():
        assert box[lab[key]] == value, key
    assert box[lab["sum_reached"].format(sites="2")] == ("1.801" if lang == "vi" else "1,801")
    # The rank-1 popup as built is in the page.
    popup = _rank_popup_html(inputs["ranking"].iloc[0], lab, lang)
    assert popup in raw
    assert path.stat().st_size < 2_000_000  # a 200×200 grid and 3 villages: well under 2 MB


def test_map_overlay_respects_cap(inputs: dict, tmp_path) -> None:
    m = build_map(signal=inputs["signal"], lang="en", max_overlay_px=50, title=HOSTILE)
    path = tmp_path / "map.html"
    m.save(path)
    raw = path.read_text(encoding="utf-8")
    pngs = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", raw)
    sizes = [Image.open(io.BytesIO(base64.b64decode(p))).size for p in pngs]
    overlay = max(sizes, key=lambda s: s[0] * s[1])  # the other PNG is the 1×1 blank tile
    assert max(overlay) <= 50
    assert HOSTILE not in raw  # the title is escaped too


def test_ranking_table_from_csv_columns(inputs: dict, tmp_path) -> None:
    """ranking.csv has no geometry: the markers come from lon/lat."""
    table = pd.DataFrame(inputs["ranking"].drop(columns="geometry"))
    m = build_map(ranking=table, lang="en")
    path = tmp_path / "map.html"
    m.save(path)
    raw = path.read_text(encoding="utf-8")
    assert _rank_popup_html(table.iloc[0], LABELS["en"], "en") in raw
    lon, lat = table.loc[0, "lon"], table.loc[0, "lat"]
    # Marker position rounded to 6 decimals (≈ 0.1 m) on the way to the page.
    assert f"[{round(lat, 6)}, {round(lon, 6)}]" in raw


# -- the three classes -----------------------------------------------------------------------
#: What a commune reads, in both languages: the three classes of a village.
CLASS_WORDS = {"vi": {"no_signal": "Lõm sóng", "weak": "Sóng yếu", "reliable": "Có sóng"},
               "en": {"no_signal": "No signal", "weak": "Weak signal",
                      "reliable": "Reliable signal"}}  # fmt: skip


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_villages_coloured_by_status_with_a_legend(inputs: dict, tmp_path, lang: str) -> None:
    """Each village is filled with its status's colour; the legend lists the three classes with
    those colours and their words in ``lang``."""
    raw, page = _saved(build_map(signal=inputs["signal"], gaps=inputs["gaps"], lang=lang),
                       tmp_path)  # fmt: skip
    villages = [f["properties"] for fc in _feature_collections(page) for f in fc["features"]
                if "status" in f["properties"]]  # fmt: skip
    assert {p["status"]: p["fill"] for p in villages} == STATUS_COLORS
    assert len({STATUS_COLORS[c] for c in ("no_signal", "weak", "reliable")}) == 3
    legend = _legend(raw)
    keys = re.search(r'<div class="ls-legend-status">(.*)</div>', legend)
    assert keys and LABELS[lang]["legend_status"] in keys.group(1)
    for status, word in CLASS_WORDS[lang].items():
        # the legend's swatch in the status colour, then the class's word
        swatch = f'<span class="ls-class" style="background:{STATUS_COLORS[status]}"></span>'
        assert f"<div>{swatch}{word}</div>" in keys.group(1), (status, word)
    assert HOSTILE not in raw and HOSTILE not in page


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_village_tooltip_shows_the_three_counts_and_probability(
    inputs: dict, tmp_path, lang: str
) -> None:
    _, page = _saved(build_map(gaps=inputs["gaps"], lang=lang), tmp_path)
    lab = LABELS[lang]
    tips = {p["status"]: p["tip"] for fc in _feature_collections(page) for f in fc["features"]
            if "status" in (p := f["properties"])}  # fmt: skip
    v1 = tips["weak"]  # 2 500 households: 200 no signal, 1 400 weak, 900 reliable; 41.3 %
    for label, value in ((lab["households_no_signal"], format_int(200, lang)),
                         (lab["households_weak"], format_int(1400, lang)),
                         (lab["households_covered"], format_int(900, lang)),
                         (lab["coverage_probability"], format_pct(0.413, lang)),
                         (lab["status"], CLASS_WORDS[lang]["weak"])):  # fmt: skip
        assert re.search(rf"<th>{re.escape(label)}</th><td>[^<]*(<span[^>]*></span>)?"
                         rf"{re.escape(value)}</td>", v1), (label, value)  # fmt: skip
    assert CLASS_WORDS[lang]["no_signal"] in tips["no_signal"]
    assert "&lt;script&gt;" in tips["no_signal"]  # the hostile name, escaped


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_signal_legend_names_the_quantity_and_marks_the_thresholds(
    inputs: dict, tmp_path, lang: str
) -> None:
    """The towers are 4G and 3G: the scale is RSRP/RSCP, each technology's levels are listed
    (signal from its threshold, reliable from threshold + fade margin) and the 4G ones are
    marked on the scale where their values fall."""
    rule = inputs["gaps"].rule
    raw, _ = _saved(build_map(signal=inputs["signal"], gaps=inputs["gaps"], lang=lang),
                    tmp_path)  # fmt: skip
    lab = LABELS[lang]
    legend = re.search(r'<div class="ls-legend-signal">(.*?)</table>', _legend(raw))
    assert legend, "no signal legend"
    text = legend.group(1)
    assert lab["legend_signal"].format(quantities="RSRP/RSCP") in text
    assert {"vi": "Mức thu (RSRP/RSCP, dBm)", "en": "Signal level (RSRP/RSCP, dBm)"}[lang] in text
    # a row per technology: the median level from which it gives (weak) signal, and reliable
    rows = re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", text)
    assert rows == [
        ("RSRP (4G)", format_dbm(rule.signal_threshold("4G"), lang),
         format_dbm(rule.threshold("4G"), lang)),
        ("RSCP (3G)", format_dbm(rule.signal_threshold("3G"), lang),
         format_dbm(rule.threshold("3G"), lang)),
    ]  # fmt: skip
    assert rows[0][1:] == ("−110", "−103")  # RSRP −110 dBm + 1.2816 × 5.5 dB = −102.95
    # the marks on the scale: 4G's two levels, at their place between −120 and −50 dBm
    marks = [float(x) for x in re.findall(r'class="ls-mark[^"]*" style="left:([0-9.]+)%"', text)]
    span = SIGNAL_VMAX_DBM - SIGNAL_VMIN_DBM
    expected = [100 * (rule.signal_threshold("4G") - SIGNAL_VMIN_DBM) / span,
                100 * (rule.threshold("4G") - SIGNAL_VMIN_DBM) / span]  # fmt: skip
    assert marks == pytest.approx(expected, abs=0.01)
    assert lab["legend_marks"].format(tech="RSRP (4G)") in text  # says which ones are marked


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_summary_box_states_the_rule(inputs: dict, tmp_path, lang: str) -> None:
    raw, _ = _saved(build_map(gaps=inputs["gaps"], lang=lang), tmp_path)
    said = re.search(r'<div class="ls-box ls-summary">.*<div class="ls-rule">(.*?)</div>', raw,
                     flags=re.S)  # fmt: skip
    assert said and html.unescape(said.group(1)) == inputs["gaps"].rule.describe(lang)


def test_class_words_are_one_wording_in_map_and_report() -> None:
    """lõm sóng / sóng yếu / có sóng: the same words for the classes of the rule on the map
    and in the report, in both languages."""
    assert set(CLASS_LABELS) == set(CLASSES)
    for lang, words in CLASS_WORDS.items():
        for status, word in words.items():
            assert MAP[lang][CLASS_LABELS[status]] == REPORT[lang][CLASS_LABELS[status]] == word


def test_unknown_status_from_data_is_escaped_and_grey(inputs: dict, tmp_path) -> None:
    villages = inputs["gaps"].villages.assign(status=[HOSTILE, "weak", "reliable"])
    raw, page = _saved(build_map(villages=villages, lang="en"), tmp_path)
    props = [f["properties"] for fc in _feature_collections(page) for f in fc["features"]
             if "status" in f["properties"]]  # fmt: skip
    hostile = next(p for p in props if p["status"] == "")
    assert hostile["fill"] == NO_STATUS_COLOR
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in hostile["tip"]
    assert HOSTILE not in raw and HOSTILE not in page
