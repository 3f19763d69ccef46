"""Map labels in Vietnamese and English, and number formatting per language.

Every label the map shows comes from :data:`LABELS`; a new language is one more dict with the
same keys. Labels are written by us, not read from data files, so they are trusted HTML text.
"""

from __future__ import annotations

import math

__all__ = ["LABELS", "LANGS", "labels_for", "format_int", "format_float", "format_pct"]

LABELS: dict[str, dict[str, str]] = {
    "vi": {
        "title": "Lõm sóng di động — bản đồ phủ sóng",
        "basemap_osm": "OpenStreetMap",
        "basemap_light": "Nền sáng (CartoDB Positron)",
        "basemap_none": "Không có nền (ngoại tuyến)",
        "layer_signal": "Cường độ tín hiệu",
        "layer_zones": "Vùng lõm sóng",
        "layer_villages": "Thôn/bản — tỷ lệ hộ chưa có sóng",
        "layer_towers": "Trạm phát sóng hiện có",
        "layer_ranking": "Vị trí trạm đề xuất",
        "layer_candidates": "Tất cả vị trí ứng viên",
        "legend_signal": "Tín hiệu thu (dBm) — ngưỡng phủ sóng {threshold} dBm",
        "legend_share": "Tỷ lệ hộ chưa có sóng (%)",
        "name": "Tên",
        "commune": "Xã",
        "district": "Huyện",
        "households": "Số hộ",
        "households_uncovered": "Hộ chưa có sóng",
        "dead_village": "Cả thôn không có sóng",
        "zone": "Vùng lõm",
        "area": "Diện tích",
        "villages": "Thôn/bản",
        "nearest_tower": "Trạm gần nhất",
        "site": "Vị trí",
        "tower": "Trạm",
        "operator": "Nhà mạng",
        "tech": "Công nghệ",
        "freq": "Tần số",
        "height": "Độ cao anten",
        "eirp": "EIRP",
        "azimuth": "Hướng",
        "omni": "vô hướng",
        "rank": "Thứ hạng",
        "new_households": "Hộ được phủ mới",
        "cumulative_households": "Hộ được phủ cộng dồn",
        "cumulative_share": "Tỷ lệ hộ lõm được phủ (cộng dồn)",
        "villages_reached": "Số thôn/bản được phủ",
        "backhaul": "Truyền dẫn",
        "backhaul_ok": "khả thi",
        "backhaul_no": "không khả thi",
        "hops": "bước nhảy",
        "summary": "Tổng quan",
        "sum_households": "Tổng số hộ",
        "sum_uncovered": "Hộ chưa có sóng",
        "sum_dead_villages": "Thôn/bản hoàn toàn lõm sóng",
        "sum_reached": "Hộ được phủ bởi {sites} trạm đề xuất",
        "legend_dead_zone": "Vùng lõm sóng (không có hộ nào đạt ngưỡng)",
        "legend_rank": "Trạm đề xuất (số = thứ hạng)",
        "yes": "có",
    },
    "en": {
        "title": "Mobile dead zones — coverage map",
        "basemap_osm": "OpenStreetMap",
        "basemap_light": "Light (CartoDB Positron)",
        "basemap_none": "No basemap (offline)",
        "layer_signal": "Signal strength",
        "layer_zones": "Dead zones",
        "layer_villages": "Villages — share of households without signal",
        "layer_towers": "Existing towers",
        "layer_ranking": "Proposed tower sites",
        "layer_candidates": "All candidate sites",
        "legend_signal": "Received power (dBm) — coverage threshold {threshold} dBm",
        "legend_share": "Share of households without signal (%)",
        "name": "Name",
        "commune": "Commune",
        "district": "District",
        "households": "Households",
        "households_uncovered": "Households without signal",
        "dead_village": "Whole village without signal",
        "zone": "Dead zone",
        "area": "Area",
        "villages": "Villages",
        "nearest_tower": "Nearest tower",
        "site": "Site",
        "tower": "Tower",
        "operator": "Operator",
        "tech": "Technology",
        "freq": "Frequency",
        "height": "Antenna height",
        "eirp": "EIRP",
        "azimuth": "Azimuth",
        "omni": "omni",
        "rank": "Rank",
        "new_households": "Newly covered households",
        "cumulative_households": "Cumulative households covered",
        "cumulative_share": "Cumulative share of uncovered households",
        "villages_reached": "Villages reached",
        "backhaul": "Backhaul",
        "backhaul_ok": "feasible",
        "backhaul_no": "not feasible",
        "hops": "hops",
        "summary": "Summary",
        "sum_households": "Households",
        "sum_uncovered": "Households without signal",
        "sum_dead_villages": "Villages entirely without signal",
        "sum_reached": "Households reached by {sites} proposed sites",
        "legend_dead_zone": "Dead zone (no household reaches the threshold)",
        "legend_rank": "Proposed site (number = rank)",
        "yes": "yes",
    },
}

LANGS: tuple[str, ...] = tuple(LABELS)

# Thousands and decimal separators: Vietnamese writes 12.345,6 ; English 12,345.6.
_SEPARATORS = {"vi": (".", ","), "en": (",", ".")}


def labels_for(lang: str) -> dict[str, str]:
    """The label dict of ``lang``; ValueError naming the allowed languages otherwise."""
    try:
        return LABELS[lang]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown map language {lang!r}; allowed: {', '.join(map(repr, LANGS))}"
        ) from None


def _swap(text: str, lang: str) -> str:
    thousands, decimal = _SEPARATORS[lang]
    return text.replace(",", "\0").replace(".", decimal).replace("\0", thousands)


def format_int(value: float | int | None, lang: str) -> str:
    """An integer with thousands separators (``12.345`` in vi, ``12,345`` in en); "–" if missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return _swap(f"{round(float(value)):,}", lang)


def format_float(value: float | None, lang: str, *, digits: int = 1) -> str:
    """A decimal number with separators of ``lang``; "–" if missing."""
    if value is None or math.isnan(float(value)):
        return "–"
    return _swap(f"{float(value):,.{digits}f}", lang)


def format_pct(share: float | None, lang: str, *, digits: int = 1) -> str:
    """A share 0–1 as a percentage (``61,7 %`` in vi, ``61.7%`` in en); "–" if missing."""
    if share is None or math.isnan(float(share)):
        return "–"
    number = format_float(100.0 * float(share), lang, digits=digits)
    return f"{number} %" if lang == "vi" else f"{number}%"
