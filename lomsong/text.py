"""Every Vietnamese and English string lomsong writes, and the number formats of each language.

One home for all text, organised by audience:

* :data:`TERMS` -- the shared vocabulary: a concept that appears in more than one place (a
  backhaul hop, households without signal, a dead village, a proposed site, ...) is worded
  once here and every table below takes it from here, so the map, the report and the
  sentences cannot drift apart;
* :data:`MAP` -- labels of the interactive map (``lomsong.maps.build``);
* :data:`REPORT` -- labels of ``report.html`` (``lomsong.report.html``);
* :data:`SENTENCES` -- templates of the "why is this village dark" sentences
  (``lomsong.coverage.explain.dark_sentence``);
* :data:`PLOT` -- labels of the tower → village profile plot;
* :data:`SHEET` -- labels of the printable commune sheets (``lomsong.report.sheets``);
* :data:`QGIS` -- layer names and legends of the QGIS project and styles
  (``lomsong.report.qgis``);
* :data:`COMPASS` -- the eight compass directions, clockwise from north.

Each table maps a language of :data:`lomsong.defaults.LANGS` to its text; :func:`for_lang` picks
one and names the allowed languages for any other. A new language is one more entry with the
same keys in every table. The text is written by us, not read from data files, so it is
trusted HTML text.

Numbers follow the language: ``12.345,6`` in Vietnamese, ``12,345.6`` in English
(:func:`format_int`, :func:`format_float`, :func:`format_pct`, :func:`format_km`,
:func:`format_dbm`).

This module is on the ground floor: it imports nothing from lomsong but :mod:`lomsong.defaults`.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping
from typing import TypeVar

from lomsong.defaults import LANGS

__all__ = [
    "LANGS",
    "TERMS",
    "MAP",
    "LABELS",
    "CLASS_LABELS",
    "REPORT",
    "SENTENCES",
    "PLOT",
    "SHEET",
    "COMPASS",
    "QGIS",
    "VALIDATION",
    "for_lang",
    "format_int",
    "format_float",
    "format_pct",
    "format_km",
    "format_dbm",
    "format_date",
    "compass",
]

_T = TypeVar("_T")


def for_lang(table: Mapping[str, _T], lang: str) -> _T:
    """The entry of ``lang`` in one of this module's tables (``for_lang(MAP, "vi")``).

    Raises
    ------
    ValueError
        For a language that is not one of :data:`lomsong.defaults.LANGS`, naming those.
    """
    if isinstance(lang, str) and lang in table:
        return table[lang]
    raise ValueError(f"unknown language {lang!r}; allowed: {', '.join(map(repr, LANGS))}")


def _lower(term: str) -> str:
    """A label-cased term inside a phrase: "Vị trí trạm đề xuất" → "vị trí trạm đề xuất"."""
    return term[:1].lower() + term[1:]


# -- shared terms -------------------------------------------------------------------------------
#: One wording per concept, in the form a label shows it (capitalised); phrases use
#: ``_lower(term)``. Plural and singular are separate entries where English needs both.
TERMS: dict[str, dict[str, str]] = {
    "vi": {
        "commune": "Xã",
        "district": "Huyện",
        "village": "Thôn/bản",
        "villages": "Thôn/bản",
        "households": "Số hộ",
        "total_households": "Tổng số hộ",
        "no_signal": "Lõm sóng",
        "weak_signal": "Sóng yếu",
        "reliable_signal": "Có sóng",
        "status": "Tình trạng sóng",
        "coverage_probability": "Xác suất phủ sóng",
        "location_probability": "Xác suất vị trí",
        "households_no_signal": "Hộ lõm sóng",
        "households_weak": "Hộ sóng yếu",
        "households_covered": "Hộ có sóng",
        "households_uncovered": "Hộ chưa có sóng",
        "share_uncovered": "Tỷ lệ hộ chưa có sóng",
        "dead_village": "Thôn/bản lõm sóng",
        "dead_villages": "Thôn/bản lõm sóng",
        "villages_weak": "Thôn/bản sóng yếu",
        "villages_reliable": "Thôn/bản có sóng",
        "dead_zone": "Vùng lõm sóng",
        "dead_zones": "Vùng lõm sóng",
        "tower": "Trạm",
        "nearest_tower": "Trạm gần nhất",
        "existing_towers": "Trạm phát sóng hiện có",
        "site": "Vị trí",
        "proposed_site": "Vị trí trạm đề xuất",
        "proposed_sites": "Vị trí trạm đề xuất",
        "rank": "Thứ hạng",
        "new_households": "Hộ được phủ mới",
        "cumulative_households": "Hộ được phủ cộng dồn",
        "cumulative_share": "Tỷ lệ hộ lõm được phủ (cộng dồn)",
        "villages_reached": "Số thôn/bản được phủ",
        "backhaul": "Truyền dẫn",
        "backhaul_ok": "khả thi",
        "backhaul_no": "không khả thi",
        "hops": "bước nhảy",
        "signal_level": "Mức thu",
        "threshold": "Ngưỡng phủ sóng",
    },
    "en": {
        "commune": "Commune",
        "district": "District",
        "village": "Village",
        "villages": "Villages",
        "households": "Households",
        "total_households": "Households",
        "no_signal": "No signal",
        "weak_signal": "Weak signal",
        "reliable_signal": "Reliable signal",
        "status": "Coverage status",
        "coverage_probability": "Coverage probability",
        "location_probability": "Location probability",
        "households_no_signal": "Households with no signal",
        "households_weak": "Households with weak signal",
        "households_covered": "Households with reliable signal",
        "households_uncovered": "Households without reliable signal",
        "share_uncovered": "Share of households without reliable signal",
        "dead_village": "Dead village",
        "dead_villages": "Dead villages",
        "villages_weak": "Villages with weak signal",
        "villages_reliable": "Villages with reliable signal",
        "dead_zone": "Dead zone",
        "dead_zones": "Dead zones",
        "tower": "Tower",
        "nearest_tower": "Nearest tower",
        "existing_towers": "Existing towers",
        "site": "Site",
        "proposed_site": "Proposed site",
        "proposed_sites": "Proposed sites",
        "rank": "Rank",
        "new_households": "Newly covered households",
        "cumulative_households": "Cumulative households covered",
        "cumulative_share": "Cumulative share of uncovered households",
        "villages_reached": "Villages reached",
        "backhaul": "Backhaul",
        "backhaul_ok": "feasible",
        "backhaul_no": "not feasible",
        "hops": "hops",
        "signal_level": "Signal level",
        "threshold": "Coverage threshold",
    },
}

_VI, _EN = TERMS["vi"], TERMS["en"]


def _terms(lang: str, *keys: str) -> dict[str, str]:
    """Shared terms used under their own key in a table."""
    return {k: TERMS[lang][k] for k in keys}


#: The label key (in :data:`TERMS`, :data:`MAP` and :data:`REPORT`) of each of the three classes
#: of a household and a village (:data:`lomsong.coverage.rule.CLASSES`): lõm sóng / sóng yếu /
#: có sóng.
CLASS_LABELS: dict[str, str] = {"no_signal": "no_signal", "weak": "weak_signal",
                                "reliable": "reliable_signal"}  # fmt: skip
#: The classes' words and the figures about them, shown by the map and the report as they are.
_CLASS_TERMS = ("no_signal", "weak_signal", "reliable_signal", "status", "coverage_probability",
                "households_no_signal", "households_weak", "households_covered")  # fmt: skip
#: Keys under which the map and the report show a shared term as it is.
_MAP_TERMS = ("commune", "district", "villages", "households", "households_uncovered",
              "nearest_tower", "site", "tower", "rank", "new_households",
              "cumulative_households", "cumulative_share", "villages_reached", "backhaul",
              "backhaul_ok", "backhaul_no", "hops", *_CLASS_TERMS)  # fmt: skip
_REPORT_TERMS = ("commune", "district", "village", "households", "total_households",
                 "households_uncovered", "share_uncovered", "dead_villages", "villages_weak",
                 "villages_reliable", "rank", "site", "new_households", "cumulative_households",
                 "cumulative_share", "villages_reached", "backhaul", "backhaul_ok",
                 "backhaul_no", "hops", "threshold", *_CLASS_TERMS)  # fmt: skip

# -- map ----------------------------------------------------------------------------------------
#: Labels of the interactive map.
MAP: dict[str, dict[str, str]] = {
    "vi": {
        **_terms("vi", *_MAP_TERMS),
        "title": "Lõm sóng di động — bản đồ phủ sóng",
        "basemap_osm": "OpenStreetMap",
        "basemap_light": "Nền sáng (CartoDB Positron)",
        "basemap_none": "Không có nền (ngoại tuyến)",
        "layer_signal": _VI["signal_level"],
        "layer_zones": _VI["dead_zones"],
        "layer_villages": f"{_VI['villages']} — {_lower(_VI['status'])}",
        "layer_towers": _VI["existing_towers"],
        "layer_ranking": _VI["proposed_sites"],
        "layer_candidates": "Tất cả vị trí ứng viên",
        "legend_signal": f"{_VI['signal_level']} ({{quantities}}, dBm)",
        "legend_from_weak": f"{_VI['weak_signal']} từ",
        "legend_from_reliable": f"{_VI['reliable_signal']} từ",
        # ITM: the level for reliable signal differs from place to place (its own σ)
        "legend_per_place": "tùy nơi (theo ITM)",
        "legend_marks": "Vạch trên thang: {tech}",
        "legend_status": f"{_VI['status']} của {_lower(_VI['villages'])}",
        "name": "Tên",
        "zone": _VI["dead_zone"],
        "area": "Diện tích",
        "operator": "Nhà mạng",
        "tech": "Công nghệ",
        "freq": "Tần số",
        "height": "Độ cao anten",
        "eirp": "EIRP",
        "azimuth": "Hướng",
        "omni": "vô hướng",
        "summary": "Tổng quan",
        "sum_households": _VI["total_households"],
        "sum_uncovered": _VI["households_uncovered"],
        "sum_no_signal": _VI["households_no_signal"],
        "sum_weak": _VI["households_weak"],
        "sum_dead_villages": _VI["dead_villages"],
        "sum_weak_villages": _VI["villages_weak"],
        "sum_reached": f"Hộ được phủ bởi {{sites}} {_lower(_VI['proposed_sites'])}",
        "legend_dead_zone": f"{_VI['dead_zone']} (không có sóng hoặc {_lower(_VI['weak_signal'])})",
        "legend_rank": f"{_VI['proposed_site']} (số = {_lower(_VI['rank'])})",
    },
    "en": {
        **_terms("en", *_MAP_TERMS),
        "title": "Mobile dead zones — coverage map",
        "basemap_osm": "OpenStreetMap",
        "basemap_light": "Light (CartoDB Positron)",
        "basemap_none": "No basemap (offline)",
        "layer_signal": _EN["signal_level"],
        "layer_zones": _EN["dead_zones"],
        "layer_villages": f"{_EN['villages']} — {_lower(_EN['status'])}",
        "layer_towers": _EN["existing_towers"],
        "layer_ranking": _EN["proposed_sites"],
        "layer_candidates": "All candidate sites",
        "legend_signal": f"{_EN['signal_level']} ({{quantities}}, dBm)",
        "legend_from_weak": f"{_EN['weak_signal']} from",
        "legend_from_reliable": f"{_EN['reliable_signal']} from",
        "legend_per_place": "varies by place (ITM)",
        "legend_marks": "Marked on the scale: {tech}",
        "legend_status": f"{_EN['status']} of {_lower(_EN['villages'])}",
        "name": "Name",
        "zone": _EN["dead_zone"],
        "area": "Area",
        "operator": "Operator",
        "tech": "Technology",
        "freq": "Frequency",
        "height": "Antenna height",
        "eirp": "EIRP",
        "azimuth": "Azimuth",
        "omni": "omni",
        "summary": "Summary",
        "sum_households": _EN["total_households"],
        "sum_uncovered": _EN["households_uncovered"],
        "sum_no_signal": _EN["households_no_signal"],
        "sum_weak": _EN["households_weak"],
        "sum_dead_villages": _EN["dead_villages"],
        "sum_weak_villages": _EN["villages_weak"],
        "sum_reached": f"Households reached by {{sites}} {_lower(_EN['proposed_sites'])}",
        "legend_dead_zone": f"{_EN['dead_zone']} (no or weak signal)",
        "legend_rank": f"{_EN['proposed_site']} (number = {_lower(_EN['rank'])})",
    },
}

#: The map's labels under their former name (``lomsong.maps.labels.LABELS``).
LABELS = MAP

# -- report -------------------------------------------------------------------------------------
#: Labels of ``report.html``.
REPORT: dict[str, dict[str, str]] = {
    "vi": {
        **_terms("vi", *_REPORT_TERMS),
        "title": "Báo cáo lõm sóng di động",
        "subtitle": f"{_VI['dead_zones']}, thôn/bản chưa có sóng và "
        f"{_lower(_VI['proposed_sites'])}",
        "key_figures": "Số liệu chính",
        "village_count": "Số thôn/bản",
        "towers": _VI["existing_towers"],
        "sites_proposed": _VI["proposed_sites"],
        "reached": f"Hộ được phủ bởi các {_lower(_VI['proposed_sites'])}",
        "model": "Mô hình truyền sóng",
        "mean_probability": f"{_VI['coverage_probability']} trung bình của các hộ",
        "probability_note": f"“{_VI['reliable_signal']}” được đánh giá ở "
        f"{_lower(_VI['location_probability'])} {{p}}: mức thu phải đạt ngưỡng tại {{p}} số vị "
        "trí quanh hộ (mức thu thực tế dao động quanh giá trị trung vị dự đoán do địa hình, cây "
        f"cối và nhà cửa). {_VI['coverage_probability']} của một hộ là tỷ lệ vị trí quanh hộ có "
        "mức thu đạt ngưỡng.",
        "dead_table": f"{_VI['dead_villages']} và {_lower(_VI['villages_weak'])}",
        "dead_note": f"{_VI['dead_villages']}: từ {{share}} số hộ trở lên lõm sóng; "
        f"{_lower(_VI['villages_weak'])}: từ {{share}} số hộ trở lên chưa có sóng (lõm sóng "
        "hoặc sóng yếu). Thôn/bản lõm sóng trước, rồi nhiều hộ chưa có sóng nhất trước.",
        "none_dead": "Không có thôn/bản nào lõm sóng.",
        "none_weak": "Không có thôn/bản nào sóng yếu.",
        "sites_table": _VI["proposed_sites"],
        "no_sites": "Không có vị trí nào được đề xuất.",
        "lonlat": "Kinh độ, vĩ độ",
        "village_names": "Thôn/bản được phủ",
        "plots": "Biểu đồ",
        "curve_title": "Số hộ có sóng theo số trạm mới (xây theo thứ hạng)",
        "curve_x": "Số trạm mới",
        "curve_y": "Số hộ có sóng",
        "curve_total": "Tổng số hộ",
        "curve_now": "Hiện nay",
        "curve_note": "Đường cong phủ sóng: mỗi điểm là số hộ có sóng sau khi xây thêm các trạm "
        "có thứ hạng đến điểm đó.",
        "hist_title": f"Phân bố {_lower(_VI['signal_level'])} tại các hộ",
        "hist_x": f"{_VI['signal_level']} ({{quantities}}, dBm)",
        "hist_y": "Số hộ",
        "hist_threshold": "Ngưỡng {q} {threshold} dBm",
        "hist_note": f"Theo số hộ; màu theo {_lower(_VI['status'])} của hộ (đã tính suy hao "
        "trong nhà và suy hao lớp phủ mặt đất nếu quy tắc có). Giá trị ngoài {lo}…{hi} dBm được "
        "gộp vào cột đầu/cuối.",
        "hist_nan": "{n} hộ nằm ngoài bán kính dự đoán (không có sóng), không vẽ trên biểu đồ.",
        "map_title": f"Bản đồ {_lower(_VI['signal_level'])}, {_lower(_VI['dead_zones'])} và "
        f"{_lower(_VI['proposed_sites'])}",
        "map_x": "Đông (km)",
        "map_y": "Bắc (km)",
        "map_cbar": f"{_VI['signal_level']} ({{quantities}}, dBm)",
        "map_note": f"Viền đỏ: {_lower(_VI['dead_zones'])}; viền trắng: "
        f"{_lower(_VI['villages'])}; tam giác đen: {_lower(_VI['existing_towers'])}; số: "
        f"{_lower(_VI['rank'])} {_lower(_VI['proposed_sites'])}. Hệ toạ độ {{crs}}.",
        "footer": "Tạo bởi lomsong {version}.",
    },
    "en": {
        **_terms("en", *_REPORT_TERMS),
        "title": "Mobile dead-zone report",
        "subtitle": f"{_EN['dead_zones']}, villages with no or weak signal and "
        f"{_lower(_EN['proposed_sites'])}",
        "key_figures": "Key figures",
        "village_count": "Villages",
        "towers": _EN["existing_towers"],
        "sites_proposed": _EN["proposed_sites"],
        "reached": f"Households reached by the {_lower(_EN['proposed_sites'])}",
        "model": "Propagation model",
        "mean_probability": f"Mean {_lower(_EN['coverage_probability'])} of the households",
        "probability_note": f"“{_EN['reliable_signal']}” is judged at a "
        f"{_lower(_EN['location_probability'])} of {{p}}: the level must reach the threshold at "
        "{p} of the locations around a household (the actual level varies around the "
        f"predicted median with terrain, trees and buildings). A household's "
        f"{_lower(_EN['coverage_probability'])} is the share of locations around it where the "
        "level reaches the threshold.",
        "dead_table": f"{_EN['dead_villages']} and {_lower(_EN['villages_weak'])}",
        "dead_note": f"{_EN['dead_villages']}: {{share}} or more of the households have no "
        f"signal; {_lower(_EN['villages_weak'])}: {{share}} or more have no reliable signal "
        "(no or weak signal). Dead villages first, then most households without reliable "
        "signal first.",
        "none_dead": "No dead villages.",
        "none_weak": "No village has weak signal.",
        "sites_table": _EN["proposed_sites"],
        "no_sites": "No site is proposed.",
        "lonlat": "Lon, lat",
        "village_names": "Names of villages reached",
        "plots": "Plots",
        "curve_title": f"{_EN['households_covered']} vs number of new sites (built in rank order)",
        "curve_x": "New sites",
        "curve_y": _EN["households_covered"],
        "curve_total": "All households",
        "curve_now": "Today",
        "curve_note": "Coverage curve: each point is the number of households with reliable "
        "signal once the sites up to that rank are built.",
        "hist_title": f"{_EN['signal_level']} at the households",
        "hist_x": f"{_EN['signal_level']} ({{quantities}}, dBm)",
        "hist_y": "Households",
        "hist_threshold": "Threshold {q} {threshold} dBm",
        "hist_note": f"Weighted by households and coloured by each household's "
        f"{_lower(_EN['status'])} (indoor and land-cover clutter losses included where the rule "
        "has them). Values outside {lo}…{hi} dBm are counted in the end bins.",
        "hist_nan": "{n} households lie beyond the prediction radius (no signal) and are not "
        "plotted.",
        "map_title": f"{_EN['signal_level']}, {_lower(_EN['dead_zones'])} and "
        f"{_lower(_EN['proposed_sites'])}",
        "map_x": "East (km)",
        "map_y": "North (km)",
        "map_cbar": f"{_EN['signal_level']} ({{quantities}}, dBm)",
        "map_note": f"Red outlines: {_lower(_EN['dead_zones'])}; white: "
        f"{_lower(_EN['villages'])}; black triangles: {_lower(_EN['existing_towers'])}; "
        f"numbers: {_lower(_EN['rank'])} of the {_lower(_EN['proposed_sites'])}. CRS {{crs}}.",
        "footer": "Made by lomsong {version}.",
    },
}

# -- QGIS ---------------------------------------------------------------------------------------
#: Layer names and legend labels of ``planning.qgz`` and the layers' QML styles
#: (``lomsong.report.qgis``): the map's words where the map shows the same thing.
_QGIS_TERMS = ("no_signal", "weak_signal", "reliable_signal", "backhaul")
QGIS: dict[str, dict[str, str]] = {
    "vi": {
        **_terms("vi", *_QGIS_TERMS),
        "title": MAP["vi"]["title"],
        "layer_villages": MAP["vi"]["layer_villages"],
        "layer_zones": MAP["vi"]["layer_zones"],
        "layer_towers": MAP["vi"]["layer_towers"],
        "layer_candidates": MAP["vi"]["layer_candidates"],
        "layer_ranking": MAP["vi"]["layer_ranking"],
        "layer_backhaul": f"{_VI['backhaul']} ({_lower(_VI['proposed_sites'])})",
        "layer_rejects": "Dòng dữ liệu bị loại",
        "layer_signal": MAP["vi"]["legend_signal"],
        "layer_signal_tech": f"{_VI['signal_level']} {{tech}} ({{quantity}}, dBm)",
        "layer_margin": f"Độ dự trữ so với mức {_lower(_VI['reliable_signal'])} (dB)",
        "layer_serving": "Cell phục vụ",
        "legend_from_weak": MAP["vi"]["legend_from_weak"],
        "legend_from_reliable": MAP["vi"]["legend_from_reliable"],
        "legend_dead_zone": MAP["vi"]["legend_dead_zone"],
        "legend_rank": MAP["vi"]["legend_rank"],
        "no_or_weak": f"{_VI['no_signal']} / {_lower(_VI['weak_signal'])}",
        "status_unknown": "Chưa xác định",
    },
    "en": {
        **_terms("en", *_QGIS_TERMS),
        "title": MAP["en"]["title"],
        "layer_villages": MAP["en"]["layer_villages"],
        "layer_zones": MAP["en"]["layer_zones"],
        "layer_towers": MAP["en"]["layer_towers"],
        "layer_candidates": MAP["en"]["layer_candidates"],
        "layer_ranking": MAP["en"]["layer_ranking"],
        "layer_backhaul": f"{_EN['backhaul']} ({_lower(_EN['proposed_sites'])})",
        "layer_rejects": "Rejected rows",
        "layer_signal": MAP["en"]["legend_signal"],
        "layer_signal_tech": f"{_EN['signal_level']} {{tech}} ({{quantity}}, dBm)",
        "layer_margin": f"Margin over the level for {_lower(_EN['reliable_signal'])} (dB)",
        "layer_serving": "Serving cell",
        "legend_from_weak": MAP["en"]["legend_from_weak"],
        "legend_from_reliable": MAP["en"]["legend_from_reliable"],
        "legend_dead_zone": MAP["en"]["legend_dead_zone"],
        "legend_rank": MAP["en"]["legend_rank"],
        "no_or_weak": f"{_EN['no_signal']} / {_lower(_EN['weak_signal'])}",
        "status_unknown": "Not determined",
    },
}

# -- the coverage rule -------------------------------------------------------------------------
#: The coverage rule in one sentence (:meth:`lomsong.coverage.rule.CoverageRule.describe`).
#: ``thr`` the thresholds, ``indoor`` the indoor/clutter fragments or "", ``p`` the location
#: probability, ``share`` the dead share.
RULE: dict[str, dict[str, str]] = {
    "vi": {
        "rule": "Có sóng khi mức thu của một cell đạt {thr}{indoor} tại {p} số vị trí; sóng "
                "yếu khi chỉ đạt ở mức trung vị (50 % số vị trí); lõm sóng khi không cell nào "
                "đạt ở mức trung vị. Thôn/bản lõm sóng khi từ {share} số hộ trở lên lõm sóng.",
        "indoor": ", cộng {m} dB suy hao vào nhà",
        "indoor_p2109": ", trong nhà ({building}, suy hao vào nhà ITU-R P.2109)",
        "traditional": "nhà truyền thống",
        "thermally_efficient": "nhà cách nhiệt",
        "clutter": ", trừ suy hao lớp phủ mặt đất (ITU-R P.2108)",
    },
    "en": {
        "rule": "Reliable signal where a cell's level reaches {thr}{indoor} at {p} of "
                "locations; weak signal where it reaches it at the median only (50% of "
                "locations); no signal where no cell reaches it at the median. A village is dead "
                "when {share} or more of its households have no signal.",
        "indoor": ", plus a {m} dB indoor margin",
        "indoor_p2109": ", indoors ({building}, ITU-R P.2109 building entry loss)",
        "traditional": "traditional buildings",
        "thermally_efficient": "thermally efficient buildings",
        "clutter": ", less the land-cover clutter loss (ITU-R P.2108)",
    },
}  # fmt: skip

# -- validation ---------------------------------------------------------------------------------
#: Labels of ``validation.html`` (``lomsong.report.validation``) and of the map's evidence layers
#: (``lomsong.maps.build``): the prediction against walk tests and reported hamlets.
_VALIDATION_TERMS = ("village", "commune", "district", "no_signal", "weak_signal",
                     "reliable_signal", "tower", "status")  # fmt: skip
VALIDATION: dict[str, dict[str, str]] = {
    "vi": {
        **_terms("vi", *_VALIDATION_TERMS),
        "title": "Kiểm chứng bản đồ phủ sóng với số liệu thực địa",
        "subtitle": "Mức thu đo được và thôn/bản được xã báo cáo, đối chiếu với dự đoán",
        "hamlets": "Thôn/bản được báo cáo",
        "hamlets_note": "Tên như xã đã viết. Bỏ sót: xã báo lõm sóng (hoặc sóng kém hơn) nhưng "
        "bản đồ dự đoán có sóng; thừa: bản đồ dự đoán lõm sóng (hoặc kém hơn) nhưng xã báo có "
        "sóng.",
        "missed": "Bỏ sót (báo lõm sóng, dự đoán có sóng)",
        "extra": "Thừa (dự đoán lõm sóng, báo có sóng)",
        "agreed": "Khớp",
        "unmatched": "Không tìm thấy tên trong danh sách thôn/bản",
        "agreement": "Đối chiếu",
        "none_listed": "Không có.",
        "no_reports": "Không có danh sách thôn/bản được báo cáo.",
        "name_written": "Tên như báo cáo",
        "matched_name": "Thôn/bản tương ứng",
        "reported_status": "Tình trạng được báo cáo",
        "predicted_status": "Tình trạng dự đoán",
        "observed_status": "Tình trạng đo được",
        "samples": "Số mẫu đo",
        "confusion": "Bảng đối chiếu: dự đoán × đo được (số thôn/bản)",
        "confusion_all": "Mọi nhà mạng (tình trạng của thôn/bản trên bản đồ)",
        "confusion_operator": "Nhà mạng {operator} (dự đoán tại các điểm đo)",
        "confusion_note": "Hàng: tình trạng dự đoán; cột: tình trạng đo được. Một thôn/bản đo "
        "được lõm sóng khi từ {share} số mẫu trở lên không có sóng (mất sóng hoặc dưới ngưỡng); "
        "sóng yếu khi quá {fail} số mẫu không có sóng; cần ít nhất {n} mẫu.",
        "no_samples": "Không có mẫu đo nào trong thôn/bản.",
        "residuals": "Sai số dự đoán (đo − dự đoán)",
        "residuals_note": "Độ lệch > 0: đo được mạnh hơn dự đoán (mô hình bi quan); < 0: mô "
        "hình lạc quan. Chỉ tính các mẫu có mức thu và có dự đoán.",
        "residuals_tower": "Sai số theo trạm",
        "no_residuals": "Không có mẫu đo nào có mức thu và dự đoán.",
        "operator": "Nhà mạng",
        "tech": "Công nghệ",
        "n": "Số mẫu",
        "bias": "Độ lệch trung bình (dB)",
        "std": "Độ lệch chuẩn (dB)",
        "rmse": "RMSE (dB)",
        "measurements": "Số liệu đo",
        "measurements_summary": "{n} mẫu đo, {no_service} mẫu mất sóng; ghép với cell theo mã "
        "cell: {cell_id}, theo trạm mạnh nhất: {best_server}, không ghép được: {none}.",
        "villages_table": "Thôn/bản có số liệu thực địa",
        "plots": "Biểu đồ sai số",
        "hist_title": "Phân bố sai số — {operator}",
        "hist_x": "Sai số đo − dự đoán (dB)",
        "hist_y": "Số mẫu",
        "scatter_title": "Sai số theo khoảng cách — {operator}",
        "scatter_x": "Khoảng cách đến cell (km)",
        "scatter_y": "Sai số (dB)",
        "plot_note": "Mỗi nhà mạng một hình: bên trái phân bố sai số, bên phải sai số theo "
        "khoảng cách đến cell phục vụ.",
        "rejects": "{n} dòng số liệu đo bị loại (không có vị trí, số không hợp lệ, …).",
        "footer": "Tạo bởi lomsong {version}.",
        "layer_measurements": "Mẫu đo — sai số (đo − dự đoán)",
        "layer_reported": "Thôn/bản được báo cáo — đối chiếu",
        "measured": "Đo được",
        "predicted": "Dự đoán",
        "residual": "Sai số",
        "no_service": "Mất sóng",
        "cell": "Cell",
        "legend_residual": "Sai số đo − dự đoán (dB)",
        "shown_of": "{shown} trên {n} mẫu đo",
    },
    "en": {
        **_terms("en", *_VALIDATION_TERMS),
        "title": "Coverage map against field evidence",
        "subtitle": "Measured levels and hamlets reported by the communes, against the prediction",
        "hamlets": "Reported hamlets",
        "hamlets_note": "Names as the communes wrote them. Missed: reported dark (or worse) but "
        "predicted covered; extra: predicted dark (or worse) but reported fine.",
        "missed": "Missed (reported dark, predicted covered)",
        "extra": "Extra (predicted dark, reported fine)",
        "agreed": "Agreed",
        "unmatched": "Names not found among the villages",
        "agreement": "Agreement",
        "none_listed": "None.",
        "no_reports": "No list of reported hamlets.",
        "name_written": "Name as reported",
        "matched_name": "Matched village",
        "reported_status": "Reported status",
        "predicted_status": "Predicted status",
        "observed_status": "Measured status",
        "samples": "Samples",
        "confusion": "Confusion tables: predicted × measured (villages)",
        "confusion_all": "All operators (the villages' status on the map)",
        "confusion_operator": "Operator {operator} (predicted at the samples)",
        "confusion_note": "Rows: predicted status; columns: measured status. A village is "
        "measured as no signal when {share} or more of its samples have no signal (no service "
        "or below the threshold); weak when more than {fail} have none; at least {n} samples.",
        "no_samples": "No sample inside a village.",
        "residuals": "Prediction residuals (measured − predicted)",
        "residuals_note": "Bias > 0: measured stronger than predicted (the model is "
        "pessimistic); < 0: optimistic. Samples with a level and a prediction only.",
        "residuals_tower": "Residuals per tower",
        "no_residuals": "No sample has both a level and a prediction.",
        "operator": "Operator",
        "tech": "Technology",
        "n": "Samples",
        "bias": "Bias (dB)",
        "std": "Standard deviation (dB)",
        "rmse": "RMSE (dB)",
        "measurements": "Measurements",
        "measurements_summary": "{n} samples, {no_service} without service; matched to a cell "
        "by cell id: {cell_id}, by best server: {best_server}, not matched: {none}.",
        "villages_table": "Villages with field evidence",
        "plots": "Residual plots",
        "hist_title": "Residuals — {operator}",
        "hist_x": "Residual measured − predicted (dB)",
        "hist_y": "Samples",
        "scatter_title": "Residual against distance — {operator}",
        "scatter_x": "Distance to the cell (km)",
        "scatter_y": "Residual (dB)",
        "plot_note": "One figure per operator: the residuals' distribution on the left, the "
        "residual against the distance to the serving cell on the right.",
        "rejects": "{n} measurement rows rejected (no position, invalid numbers, …).",
        "footer": "Made by lomsong {version}.",
        "layer_measurements": "Samples — residual (measured − predicted)",
        "layer_reported": "Reported hamlets — agreement",
        "measured": "Measured",
        "predicted": "Predicted",
        "residual": "Residual",
        "no_service": "No service",
        "cell": "Cell",
        "legend_residual": "Residual measured − predicted (dB)",
        "shown_of": "{shown} of {n} samples",
    },
}

# -- sentences ----------------------------------------------------------------------------------
#: Why a village is dark and what would light it (``dark_sentence``). Placeholders: ``name``
#: village, ``t`` tower id, ``d`` its distance (km), ``s`` shortfall or margin (dB), ``h`` ridge
#: height (m), ``od`` ridge distance (km), ``dir`` compass direction, ``sea`` the
#: ``across_sea`` fragment or "", ``off`` off-axis angle (°), ``r`` prediction radius (km),
#: ``m`` mast height (m), ``k`` rank of a proposed site. Tower, village and proposed site are
#: worded as in :data:`TERMS` (checked by ``tests/test_text.py``).
SENTENCES: dict[str, dict[str, str]] = {
    "en": {
        "terrain": "{name} is {d} km{sea} from tower {t} and a {h} m ridge {od} km to its {dir} "
                   "blocks the path; the signal falls {s} dB short.",
        "terrain_nopos": "{name} is {d} km from tower {t} and the terrain blocks the path; the "
                         "signal falls {s} dB short.",
        "distance": "{name} is {d} km from tower {t}, its strongest, with no hill in the "
        "way: it is simply too far and the signal falls {s} dB short.",
        "sector": "{name} is {d} km from tower {t}, within range but {off}° off the axis of "
                  "its sector antenna; the signal falls {s} dB short.",
        "sea": "{name} is {d} km across the sea from tower {t}; the signal falls {s} dB short.",
        "sea_far": "{name} is {d} km across the sea from the nearest tower ({t}), beyond its "
                   "{r} km range.",
        "no_tower": "{name} has no tower within {r} km; the nearest, {t}, is {d} km away.",
        "no_tower_none": "{name} has no tower at all within the project.",
        "edge": "{name} is {d} km from tower {t} and at the edge of coverage ({s} dB above the "
                "threshold at its centre).",
        "mast": "Raising tower {t}'s antenna to {m} m would reach the threshold.",
        "mast_no": "No mast up to {m} m at tower {t} would be enough.",
        "site": "Proposed site no. {k} would cover it.",
        "site_no": "None of the proposed sites covers it.",
        "across_sea": " across the sea",
    },
    "vi": {
        "terrain": "{name} cách trạm {t} {d} km{sea} và một dãy núi cao {h} m, cách thôn/bản "
                   "{od} km về phía {dir}, chắn đường truyền; tín hiệu thiếu {s} dB so với "
                   "ngưỡng.",
        "terrain_nopos": "{name} cách trạm {t} {d} km và bị địa hình che chắn; tín hiệu thiếu "
                         "{s} dB so với ngưỡng.",
        "distance": "{name} cách trạm {t} {d} km, không bị núi che chắn nhưng quá xa: "
        "tín hiệu thiếu {s} dB so với ngưỡng.",
        "sector": "{name} cách trạm {t} {d} km, trong tầm phủ nhưng lệch {off}° so với hướng "
                  "anten của trạm; tín hiệu thiếu {s} dB so với ngưỡng.",
        "sea": "{name} cách trạm {t} {d} km qua biển; tín hiệu thiếu {s} dB so với ngưỡng.",
        "sea_far": "{name} cách trạm gần nhất ({t}) {d} km qua biển, ngoài tầm phủ {r} km.",
        "no_tower": "{name} không có trạm nào trong bán kính {r} km; trạm gần nhất ({t}) cách "
                    "{d} km.",
        "no_tower_none": "{name} không có trạm nào trong khu vực.",
        "edge": "{name} cách trạm {t} {d} km, ở rìa vùng phủ sóng (tại tâm thôn/bản tín hiệu "
                "cao hơn ngưỡng {s} dB).",
        "mast": "Nâng anten trạm {t} lên {m} m sẽ đạt ngưỡng.",
        "mast_no": "Dù nâng anten trạm {t} lên {m} m cũng không đủ.",
        "site": "Vị trí trạm đề xuất số {k} sẽ phủ sóng được thôn/bản này.",
        "site_no": "Chưa có vị trí trạm đề xuất nào phủ sóng được thôn/bản này.",
        "across_sea": " qua biển",
    },
}  # fmt: skip

# -- commune sheets -----------------------------------------------------------------------------
#: Labels of the printable commune sheets and their index (``lomsong.report.sheets``). The
#: classes, the places and the sites are worded as in :data:`TERMS`; ``reason_*`` names each
#: ``dark_reason`` of :data:`lomsong.coverage.explain.REASONS` in a table cell (the full
#: sentence is :data:`SENTENCES`'); ``fix_*`` say what would fix a village in a table cell.
_SHEET_TERMS = ("commune", "district", "village", "households", "total_households",
                "households_no_signal", "households_weak", "households_uncovered",
                "dead_villages", "villages_weak", "no_signal", "weak_signal", "reliable_signal",
                "status", "existing_towers", "threshold")  # fmt: skip
SHEET: dict[str, dict[str, str]] = {
    "vi": {
        **_terms("vi", *_SHEET_TERMS),
        "title": "Phiếu lõm sóng di động cấp xã",
        "index_title": "Phiếu lõm sóng di động cấp xã — danh mục",
        "continued": "(tiếp theo)",
        "legend_other": "Thôn/bản của xã khác",
        "legend_rank": MAP["vi"]["legend_rank"],
        "table_title": REPORT["vi"]["dead_table"],
        "reason": "Nguyên nhân",
        "fix": "Giải pháp",
        "reason_terrain": "Địa hình che chắn",
        "reason_distance": "Quá xa trạm",
        "reason_sector": "Ngoài hướng anten",
        "reason_sea": "Cách trạm qua biển",
        "reason_no_tower": "Không có trạm trong tầm",
        "fix_site": f"{_VI['proposed_site']} số {{k}}",
        "fix_mast": "Nâng anten trạm {t} lên {m} m",
        "fix_none": "Chưa có giải pháp",
        "date": "Ngày lập",
        "model": REPORT["vi"]["model"],
        "rule": "Quy tắc phủ sóng",
        "page": "Trang {i}/{n}",
        "footer": REPORT["vi"]["footer"],
        "unknown": "(không rõ)",
        "file": "Tệp",
        "pages": "Số trang",
        "index_note": "{n} xã có thôn/bản lõm sóng hoặc sóng yếu, mỗi xã một phiếu (tệp PDF "
                      "trong thư mục sheets/); {m} xã khác có sóng ở mọi thôn/bản.",
        "index_none": "Không có xã nào có thôn/bản lõm sóng hoặc sóng yếu.",
    },
    "en": {
        **_terms("en", *_SHEET_TERMS),
        "title": "Mobile dead zones — commune sheet",
        "index_title": "Mobile dead zones — commune sheets: index",
        "continued": "(continued)",
        "legend_other": "Villages of other communes",
        "legend_rank": MAP["en"]["legend_rank"],
        "table_title": REPORT["en"]["dead_table"],
        "reason": "Reason",
        "fix": "What would fix it",
        "reason_terrain": "Blocked by terrain",
        "reason_distance": "Too far from a tower",
        "reason_sector": "Outside the antenna's sector",
        "reason_sea": "Across the sea from a tower",
        "reason_no_tower": "No tower in range",
        "fix_site": f"{_EN['proposed_site']} no. {{k}}",
        "fix_mast": "Raise tower {t}'s antenna to {m} m",
        "fix_none": "No fix found",
        "date": "Date",
        "model": REPORT["en"]["model"],
        "rule": "Coverage rule",
        "page": "Page {i} of {n}",
        "footer": REPORT["en"]["footer"],
        "unknown": "(unknown)",
        "file": "File",
        "pages": "Pages",
        "index_note": "{n} communes have villages with no or weak signal, one sheet each (PDF "
                      "files in the sheets/ folder); {m} other communes have reliable signal in "
                      "every village.",
        "index_none": "No commune has a village with no or weak signal.",
    },
}  # fmt: skip

# -- profile plot -------------------------------------------------------------------------------
#: Labels of the tower → village profile plot (``profile_plot_png``).
PLOT: dict[str, dict[str, str]] = {
    "en": {"ground": "terrain (earth curvature k = 4/3)", "los": "line of sight",
           "fresnel": "1st Fresnel zone", "x": "distance from tower (km)", "y": "height (m)",
           "tower": _lower(_EN["tower"]), "village": _lower(_EN["village"]),
           "obstacle": "obstruction {h} m"},
    "vi": {"ground": "địa hình (độ cong trái đất k = 4/3)", "los": "tầm nhìn thẳng",
           "fresnel": "miền Fresnel thứ nhất", "x": "khoảng cách từ trạm (km)",
           "y": "độ cao (m)", "tower": _lower(_VI["tower"]), "village": _lower(_VI["village"]),
           "obstacle": "vật cản {h} m"},
}  # fmt: skip

# -- compass ------------------------------------------------------------------------------------
#: The eight compass directions, clockwise from north (:func:`compass`).
COMPASS: dict[str, tuple[str, ...]] = {
    "en": ("north", "north-east", "east", "south-east", "south", "south-west", "west",
           "north-west"),
    "vi": ("bắc", "đông bắc", "đông", "đông nam", "nam", "tây nam", "tây", "tây bắc"),
}  # fmt: skip

# -- numbers ------------------------------------------------------------------------------------
#: Thousands and decimal separators: Vietnamese writes 12.345,6 ; English 12,345.6.
_SEPARATORS: dict[str, tuple[str, str]] = {"vi": (".", ","), "en": (",", ".")}
#: What follows the number of a percentage: ``61,7 %`` in Vietnamese, ``61.7%`` in English.
_PERCENT: dict[str, str] = {"vi": " %", "en": "%"}


def _missing(value: float | int | None) -> bool:
    return value is None or math.isnan(float(value))


def _swap(text: str, lang: str) -> str:
    """``text`` formatted with English separators, rewritten in those of ``lang``."""
    thousands, decimal = for_lang(_SEPARATORS, lang)
    return text.replace(",", "\0").replace(".", decimal).replace("\0", thousands)


def format_int(value: float | int | None, lang: str) -> str:
    """An integer with thousands separators (``12.345`` in vi, ``12,345`` in en); "–" if missing."""
    if _missing(value):
        return "–"
    return _swap(f"{round(float(value)):,}", lang)


def format_float(value: float | None, lang: str, *, digits: int = 1) -> str:
    """A decimal number with separators of ``lang``; "–" if missing."""
    if _missing(value):
        return "–"
    return _swap(f"{float(value):,.{digits}f}", lang)


def format_pct(share: float | None, lang: str, *, digits: int = 1) -> str:
    """A share 0–1 as a percentage (``61,7 %`` in vi, ``61.7%`` in en); "–" if missing."""
    if _missing(share):
        return "–"
    number = format_float(100.0 * float(share), lang, digits=digits)
    return number + for_lang(_PERCENT, lang)


def format_km(value: float | None, lang: str) -> str:
    """A distance in km: one decimal below 10 km (``8,5``/``8.5``), whole km above; "–" if
    missing."""
    if _missing(value):
        return "–"
    return format_float(value, lang, digits=1 if float(value) < 10 else 0)


def format_dbm(value: float | None, lang: str) -> str:
    """A power in whole dBm with a true minus sign (``−100``), as the map writes it."""
    return format_float(value, lang, digits=0).replace("-", "−")


#: How each language writes a date: day first in Vietnamese (25/03/2026), ISO 8601 in English.
_DATE_FORMATS: dict[str, str] = {"vi": "%d/%m/%Y", "en": "%Y-%m-%d"}


def format_date(value: datetime.date, lang: str) -> str:
    """A date as ``lang`` writes it: ``25/03/2026`` in vi, ``2026-03-25`` in en."""
    return value.strftime(for_lang(_DATE_FORMATS, lang))


def compass(bearing_deg: float, lang: str) -> str:
    """The nearest of the eight compass directions to a bearing (degrees clockwise from north)."""
    return for_lang(COMPASS, lang)[int(((bearing_deg % 360.0) + 22.5) // 45.0) % 8]
