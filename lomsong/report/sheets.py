"""Printable commune sheets: one A4 PDF per commune that has villages without reliable signal.

A commune office, or a community digital team, works on paper: ``sheets/<district>/<commune>.pdf``
gives it, on A4 portrait pages,

* a **map** of the commune: its villages filled by their class (no signal / weak / reliable, in
  the interactive map's colours, :data:`lomsong.maps.build.STATUS_COLORS`), the neighbouring
  communes' villages in grey, the existing towers and the proposed sites numbered by rank, a
  scale bar and north;
* the **table** of its villages with no signal (lõm sóng) or weak signal (sóng yếu): households
  of each class, the reason (``dark_reason``) and what would fix it (the proposed site that
  covers the village, ``covered_by_site``, and the antenna height at the best tower that would
  reach the threshold, ``mast_height_needed_m``), then the full "why is this village dark"
  sentence (``dark_sentence``) under each row; a long table continues on further pages;
* in the footer of every page the date, the propagation model and the coverage rule in words
  (:meth:`lomsong.coverage.rule.CoverageRule.describe`), and the page number.

``sheets/index.pdf`` lists the province's communes with a sheet (counts of villages and
households per class, the file and its pages).

A sheet's PDF metadata (``Keywords``) carries a digest of everything it draws
(:func:`_sheet_digest`: the table, the figures, the footer, the labels, the map's extent and what
lies in it, this module's code and matplotlib's version): a rerun given the previous sheets
folder copies each commune whose digest is unchanged instead of drawing it again — drawing and
embedding the fonts (fontTools subsetting DejaVu Sans twice) take 0.4-0.9 s a sheet.

The pages are drawn with matplotlib on its PDF backend (``PdfPages``): text as TrueType
(``pdf.fonttype`` 42, so it can be searched and copied) in DejaVu Sans, which ships with
matplotlib and has every Vietnamese letter; math text is off, so a ``$`` in a village name is a
dollar sign. Table cells are wrapped to their column by an estimate of DejaVu Sans's mean
advance width (:data:`CHAR_WIDTH_EM`), which errs on the wide side.

File names keep the Vietnamese letters (NFC) and drop only what Windows forbids in a path
(:func:`safe_filename`), so the folder copies to any office computer or USB stick.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import math
import os
import re
import shutil
import textwrap
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import geopandas as gpd
import matplotlib
import numpy as np
import pandas as pd
from matplotlib import patheffects
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.collections import PatchCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, PathPatch, Rectangle
from matplotlib.path import Path as MplPath
from shapely.geometry import box

from lomsong.coverage.rule import CoverageRule
from lomsong.maps.build import NO_STATUS_COLOR, STATUS_COLORS
from lomsong.report.html import COLOR_SITE
from lomsong.text import (
    CLASS_LABELS,
    COMPASS,
    SHEET,
    for_lang,
    format_date,
    format_float,
    format_int,
)

__all__ = ["write_sheets", "sheet_communes", "safe_filename", "CommuneSheet"]

logger = logging.getLogger(__name__)

# -- page geometry (millimetres, y downwards from the top of the page) --------------------------
#: A4 portrait (ISO 216).
PAGE_MM = (210.0, 297.0)
#: Page margin: inside what office printers can print (≈ 5 mm) with room to spare.
MARGIN_MM = 12.0
#: Height of the map on a commune's first page.
MAP_MM = 118.0
MM_PER_PT = 25.4 / 72.0
#: Mean advance width of DejaVu Sans in ems over Vietnamese text, for wrapping: ≈ 0.52 on the
#: demo's sentences (a wrapped line fills ~86 % of its width at 0.6); the margin keeps a cell
#: of capitals and wide letters inside its column.
CHAR_WIDTH_EM = 0.6
FONT = "DejaVu Sans"
#: Font sizes (pt): title, body, table, sentence under a row, footer.
SIZE_TITLE, SIZE_BODY, SIZE_TABLE, SIZE_NOTE, SIZE_FOOT = 14.0, 8.5, 7.5, 6.8, 6.5
#: Line height as a multiple of the font size.
LEADING = 1.3
#: Table columns of a commune sheet: (key, width mm, numeric); widths add up to the text width.
SHEET_COLUMNS = (("#", 7.0, True), ("village", 36.0, False), ("status", 19.0, False),
                 ("households", 14.0, True), ("households_no_signal", 17.0, True),
                 ("households_weak", 17.0, True), ("reason", 32.0, False),
                 ("fix", 44.0, False))  # fmt: skip
#: Table columns of the index.
INDEX_COLUMNS = (("#", 7.0, True), ("district", 26.0, False), ("commune", 30.0, False),
                 ("dead_villages", 19.0, True), ("villages_weak", 19.0, True),
                 ("households_no_signal", 18.0, True), ("households_weak", 18.0, True),
                 ("file", 37.0, False), ("pages", 12.0, True))  # fmt: skip
HEADER_FILL = "#f0f3f7"  # the report's table header
STRIPE_FILL = "#f7f7f7"
RULE_COLOR = "#bbbbbb"
OTHER_FILL, OTHER_EDGE = "#f0f0f0", "#c8c8c8"
#: Height of the legend under a sheet's map (mm).
LEGEND_MM = 9.0
#: Map padding around the commune (share of its larger side, and at least this many metres).
MAP_PAD_SHARE, MAP_PAD_M = 0.08, 500.0
#: The classes listed in a sheet's table, in order.
LISTED = ("no_signal", "weak")
#: Characters Windows forbids in a file or folder name (and "/" everywhere), and the names it
#: reserves for devices (Microsoft, "Naming Files, Paths, and Namespaces").
_ILLEGAL = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$", re.IGNORECASE)
#: Longest file or folder name written (characters): a sheet's path stays far below Windows'
#: 260-character limit from any reasonable output folder.
MAX_NAME = 80


@dataclass
class CommuneSheet:
    """One commune with villages to list: where its sheet goes and what it holds."""

    district: str
    commune: str
    #: Path of the PDF relative to the sheets folder, "/"-separated (``Ba Tơ/Ba Liên.pdf``).
    file: str
    villages: pd.DataFrame
    listed: pd.DataFrame
    pages: int = 0
    counts: dict[str, int] = field(default_factory=dict)


# -- names ------------------------------------------------------------------------------------
def safe_filename(name: str) -> str:
    """``name`` as a file or folder name that Windows, macOS and Linux all accept.

    Vietnamese letters are kept (NFC, one code point per letter); the characters Windows
    forbids (``< > : " / \\ | ? *`` and control characters) become ``_``; leading and trailing
    spaces and trailing dots go; a reserved device name (``CON``, ``NUL``, ``COM1``…) gets a
    trailing ``_``; the name is cut to :data:`MAX_NAME` characters; an empty name is ``_``.
    """
    text = unicodedata.normalize("NFC", str(name))
    text = _ILLEGAL.sub("_", text)
    text = re.sub(r"\s+", " ", text).strip(" ").rstrip(". ")
    text = text[:MAX_NAME].rstrip(". ")
    if _RESERVED.match(text):
        text += "_"
    return text or "_"


def _sort_key(text: str) -> tuple[str, str]:
    """Alphabetical order of Vietnamese names: letters without their marks (đ as d), then the
    name itself to break ties."""
    base = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in base if not unicodedata.combining(c)).casefold(), text


def _clean(value: Any) -> str:
    """A data value as one line of text ("" for a missing one)."""
    if value is None:
        return ""
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", str(value))).strip()


def _number(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


# -- which communes -------------------------------------------------------------------------
def sheet_communes(villages: pd.DataFrame, *, lang: str = "vi") -> list[CommuneSheet]:
    """The communes that get a sheet: those with at least one village with no signal or weak
    signal (``status``), in district then commune order, each with its file name.

    Villages without a commune or district are grouped under "(không rõ)"/"(unknown)". Two
    communes whose safe names would be the same file on a case-insensitive disk get " (2)",
    " (3)"… appended.
    """
    lab = for_lang(SHEET, lang)
    if "status" not in villages or not len(villages):
        return []
    frame = villages.assign(
        _district=[_clean(v) or lab["unknown"] for v in villages["district"]],
        _commune=[_clean(v) or lab["unknown"] for v in villages["commune"]],
        _status=villages["status"].astype("string").fillna("").to_numpy(),
    )
    keys = sorted({(d, c) for d, c in zip(frame["_district"], frame["_commune"], strict=True)},
                  key=lambda dc: (_sort_key(dc[0]), _sort_key(dc[1])))  # fmt: skip
    taken: set[str] = set()
    out = []
    for district, commune in keys:
        mine = frame[(frame["_district"] == district) & (frame["_commune"] == commune)]
        listed = mine[mine["_status"].isin(LISTED)].copy()
        if not len(listed):
            continue
        order = listed["_status"].map({s: i for i, s in enumerate(LISTED)})
        unc = pd.to_numeric(listed.get("households_uncovered", 0), errors="coerce").fillna(0)
        listed = listed.assign(
            _order=order, _unc=unc, _name=[_sort_key(_clean(n))[0] for n in listed["name"]]
        )
        listed = listed.sort_values(["_order", "_unc", "_name"], ascending=[True, False, True])
        folder, stem = safe_filename(district), safe_filename(commune)
        file = f"{folder}/{stem}.pdf"
        n = 2
        while file.casefold() in taken:
            file = f"{folder}/{stem} ({n}).pdf"
            n += 1
        taken.add(file.casefold())
        counts = {
            "dead_villages": int((mine["_status"] == "no_signal").sum()),
            "villages_weak": int((mine["_status"] == "weak").sum()),
            "villages": len(mine),
        }
        for column in ("households", "households_no_signal", "households_weak"):
            if column in mine:
                counts[column] = int(pd.to_numeric(mine[column], errors="coerce").fillna(0).sum())
        out.append(CommuneSheet(district, commune, file, mine, listed, counts=counts))
    return out


# -- drawing helpers ------------------------------------------------------------------------
def _wrap(text: str, width_mm: float, size_pt: float) -> list[str]:
    """``text`` in lines that fit ``width_mm`` at ``size_pt`` (at least one line)."""
    chars = max(1, int(width_mm / (size_pt * MM_PER_PT * CHAR_WIDTH_EM)))
    return textwrap.wrap(text, chars, break_long_words=True, break_on_hyphens=False) or [""]


def _line_mm(size_pt: float) -> float:
    return size_pt * MM_PER_PT * LEADING


class _Page:
    """An A4 page: one figure with a full-page axes in millimetres, y downwards."""

    def __init__(self) -> None:
        w, h = PAGE_MM
        self.fig = Figure(figsize=(w / 25.4, h / 25.4))
        self.ax = self.fig.add_axes((0.0, 0.0, 1.0, 1.0))
        self.ax.set_xlim(0.0, w)
        self.ax.set_ylim(h, 0.0)
        self.ax.set_axis_off()

    def text(self, x: float, y: float, s: str, size: float, **kw: Any) -> None:
        """Text whose top is at ``y`` (mm)."""
        self.ax.text(x, y, s, fontsize=size, va="top", parse_math=False, **kw)

    def lines(self, x: float, y: float, lines: Sequence[str], size: float, **kw: Any) -> float:
        """Lines of text from ``y`` down; returns the y below the last one."""
        for line in lines:
            self.text(x, y, line, size, **kw)
            y += _line_mm(size)
        return y

    def hline(self, x0: float, x1: float, y: float, **kw: Any) -> None:
        self.ax.plot([x0, x1], [y, y], solid_capstyle="butt", **{"color": RULE_COLOR,
                                                                 "lw": 0.5, **kw})  # fmt: skip

    def fill(self, x: float, y: float, w: float, h: float, color: str) -> None:
        self.ax.add_patch(Rectangle((x, y), w, h, facecolor=color, edgecolor="none", zorder=0))

    def axes_mm(self, x: float, y: float, w: float, h: float) -> Any:
        """New axes over the page rectangle (mm from the top left)."""
        pw, ph = PAGE_MM
        return self.fig.add_axes((x / pw, 1.0 - (y + h) / ph, w / pw, h / ph))


@dataclass
class _Row:
    cells: list[list[str]]
    note: list[str]
    height: float


def _rows(
    table: Sequence[Sequence[str]],
    notes: Sequence[str],
    columns: Sequence[tuple[str, float, bool]],
) -> list[_Row]:
    """Wrapped cells and the height of each row (mm)."""
    pad = 1.2
    note_w = sum(w for _, w, _ in columns[1:]) - 2 * pad
    out = []
    for cells, note in zip(table, notes, strict=True):
        widths = [w for _, w, _ in columns]
        wrapped = [_wrap(c, w - 2 * pad, SIZE_TABLE) for c, w in zip(cells, widths, strict=True)]
        note_lines = _wrap(note, note_w, SIZE_NOTE) if note else []
        height = max(len(c) for c in wrapped) * _line_mm(SIZE_TABLE) + 2 * pad
        if note_lines:
            height += len(note_lines) * _line_mm(SIZE_NOTE) + pad
        out.append(_Row(wrapped, note_lines, height))
    return out


def _header_row(
    columns: Sequence[tuple[str, float, bool]], lab: dict[str, str]
) -> tuple[list[list[str]], float]:
    pad = 1.2
    cells = [_wrap(lab.get(k, k), w - 2 * pad, SIZE_TABLE) for k, w, _ in columns]
    return cells, max(len(c) for c in cells) * _line_mm(SIZE_TABLE) + 2 * pad


def _draw_table(
    page: _Page,
    y: float,
    columns: Sequence[tuple[str, float, bool]],
    header: tuple[list[list[str]], float],
    rows: Sequence[_Row],
    first: int,
) -> float:
    """Draw the header and ``rows`` from ``y``; returns the y below the table."""
    pad = 1.2
    x0 = MARGIN_MM
    width = sum(w for _, w, _ in columns)
    cells, h = header
    page.fill(x0, y, width, h, HEADER_FILL)
    x = x0
    for (_, w, numeric), lines in zip(columns, cells, strict=True):
        for i, line in enumerate(lines):
            page.text(x + w - pad if numeric else x + pad, y + pad + i * _line_mm(SIZE_TABLE),
                      line, SIZE_TABLE, ha="right" if numeric else "left",
                      fontweight="bold")  # fmt: skip
        x += w
    y += h
    page.hline(x0, x0 + width, y, color="#777777", lw=0.7)
    for n, row in enumerate(rows):
        if (first + n) % 2:
            page.fill(x0, y, width, row.height, STRIPE_FILL)
        x = x0
        for (_, w, numeric), lines in zip(columns, row.cells, strict=True):
            for i, line in enumerate(lines):
                page.text(x + w - pad if numeric else x + pad,
                          y + pad + i * _line_mm(SIZE_TABLE), line, SIZE_TABLE,
                          ha="right" if numeric else "left")  # fmt: skip
            x += w
        if row.note:
            top = y + row.height - pad - len(row.note) * _line_mm(SIZE_NOTE)
            page.lines(x0 + columns[0][1] + pad, top, row.note, SIZE_NOTE, color="#444444")
        y += row.height
        page.hline(x0, x0 + width, y)
    return y


def _paginate(rows: Sequence[_Row], room_first: float, room_next: float, header_h: float
              ) -> list[list[int]]:  # fmt: skip
    """Row indices of each page: as many rows as fit under the header (a row taller than a
    whole page still gets a page of its own)."""
    pages: list[list[int]] = [[]]
    room = room_first - header_h
    for i, row in enumerate(rows):
        if row.height > room and pages[-1]:
            pages.append([])
            room = room_next - header_h
        pages[-1].append(i)
        room -= row.height
    return pages


@dataclass
class _Footer:
    """The footer of every page: date, model, version; the rule; the page number."""

    first: str
    rule: list[str]

    @property
    def height(self) -> float:
        return (1 + len(self.rule)) * _line_mm(SIZE_FOOT) + 2.0

    def draw(self, page: _Page, number: str) -> None:
        w, h = PAGE_MM
        top = h - MARGIN_MM - self.height
        page.hline(MARGIN_MM, w - MARGIN_MM, top, color="#777777", lw=0.5)
        page.text(MARGIN_MM, top + 1.5, self.first, SIZE_FOOT, color="#333333")
        page.text(w - MARGIN_MM, top + 1.5, number, SIZE_FOOT, color="#333333", ha="right")
        page.lines(MARGIN_MM, top + 1.5 + _line_mm(SIZE_FOOT), self.rule, SIZE_FOOT,
                   color="#333333")  # fmt: skip


def _footer(summary: dict, rule: CoverageRule, lab: dict[str, str], lang: str,
            date: datetime.date) -> _Footer:  # fmt: skip
    model = summary.get("model") or {}
    name = _clean(model.get("name"))
    if model.get("environment") and name in ("hata", "cost231"):
        name += f" ({_clean(model['environment'])})"
    parts = [f"{lab['date']}: {format_date(date, lang)}"]
    if name:
        parts.append(f"{lab['model']}: {name}")
    parts.append(lab["footer"].format(version=_clean(summary.get("lomsong_version"))).rstrip("."))
    width = PAGE_MM[0] - 2 * MARGIN_MM
    rule_lines = _wrap(f"{lab['rule']}: {rule.describe(lang)}", width, SIZE_FOOT)
    return _Footer(" · ".join(parts), rule_lines)


# -- the map --------------------------------------------------------------------------------
def _path(geom: Any) -> MplPath | None:
    """A (multi)polygon as one matplotlib path, holes included."""
    verts, codes = [], []
    for poly in getattr(geom, "geoms", [geom]):
        if poly is None or poly.is_empty or not hasattr(poly, "exterior"):
            continue
        for ring in (poly.exterior, *poly.interiors):
            xy = np.asarray(ring.coords)[:, :2]
            if len(xy) < 3:
                continue
            verts.append(xy)
            codes.append([MplPath.MOVETO] + [MplPath.LINETO] * (len(xy) - 2) + [MplPath.CLOSEPOLY])
    if not verts:
        return None
    return MplPath(np.concatenate(verts), np.concatenate(codes))


def _patches(geoms: Any, **style: Any) -> PatchCollection | None:
    paths = [_path(g) for g in geoms]
    keep = [i for i, p in enumerate(paths) if p is not None]
    if not keep:
        return None
    face = style.pop("facecolor")
    faces = [face[i] for i in keep] if isinstance(face, list) else face
    return PatchCollection([PathPatch(paths[i]) for i in keep], facecolor=faces, **style)


def _in_crs(frame: Any, crs: Any) -> gpd.GeoDataFrame | None:
    """Points of ``frame`` in ``crs`` (a GeoDataFrame, or a table with lon/lat)."""
    if frame is None or not len(frame):
        return None
    if isinstance(frame, gpd.GeoDataFrame) and frame.crs is not None:
        return frame.to_crs(crs)
    if {"lon", "lat"} <= set(frame.columns):
        points = gpd.points_from_xy(frame["lon"], frame["lat"], crs=4326)
        return gpd.GeoDataFrame(pd.DataFrame(frame), geometry=points).to_crs(crs)
    return None


def _extent(bounds: Sequence[float], aspect: float) -> tuple[float, float, float, float]:
    """``bounds`` padded and widened to the width/height ``aspect`` of the map frame."""
    minx, miny, maxx, maxy = bounds
    pad = max(MAP_PAD_SHARE * max(maxx - minx, maxy - miny), MAP_PAD_M)
    minx, miny, maxx, maxy = minx - pad, miny - pad, maxx + pad, maxy + pad
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    w, h = maxx - minx, maxy - miny
    if w / h < aspect:
        w = h * aspect
    else:
        h = w / aspect
    return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2


def _scale_length(width_m: float) -> float:
    """A round scale-bar length (1, 2 or 5 × 10ⁿ m) of about a fifth of the map."""
    target = width_m / 5.0
    power = 10.0 ** math.floor(math.log10(target))
    return max((s * power for s in (1.0, 2.0, 5.0) if s * power <= target), default=power)


class _MapLayers(NamedTuple):
    """What a sheet's map draws: its extent, the villages in it (query order), one marker per
    existing site and the proposed sites in it (None when there are none to draw)."""

    extent: tuple[float, float, float, float]
    near: gpd.GeoDataFrame
    towers: gpd.GeoDataFrame | None
    sites: gpd.GeoDataFrame | None


def _map_layers(
    sheet: CommuneSheet,
    villages: gpd.GeoDataFrame,
    towers: gpd.GeoDataFrame | None,
    sites: gpd.GeoDataFrame | None,
) -> _MapLayers:
    """The map's extent — the commune's villages and the proposed sites that fix them, padded
    to the map frame's shape — and what lies in it."""
    bounds = list(villages.loc[sheet.villages.index].total_bounds)
    # the proposed sites that fix this commune's villages are on its map, even from outside
    if sites is not None and "covered_by_site" in sheet.listed:
        ranks = pd.to_numeric(sheet.listed["covered_by_site"], errors="coerce").dropna()
        fixing = sites[sites["rank"].isin(ranks.astype(int))]
        if len(fixing):
            fb = fixing.total_bounds
            bounds = [min(bounds[0], fb[0]), min(bounds[1], fb[1]),
                      max(bounds[2], fb[2]), max(bounds[3], fb[3])]  # fmt: skip
    width = PAGE_MM[0] - 2 * MARGIN_MM
    extent = _extent(bounds, width / (MAP_MM - LEGEND_MM))
    view = box(*extent)
    near = villages.iloc[villages.sindex.query(view)]
    t = None
    if towers is not None and len(towers):
        t = towers.drop_duplicates("site_id") if "site_id" in towers else towers
        t = t[t.intersects(view)]
    st = sites[sites.intersects(view)] if sites is not None and len(sites) else None
    return _MapLayers(extent, near, t, st)


def _draw_map(
    page: _Page,
    rect: tuple[float, float, float, float],
    sheet: CommuneSheet,
    villages: gpd.GeoDataFrame,
    towers: gpd.GeoDataFrame | None,
    sites: gpd.GeoDataFrame | None,
    lab: dict[str, str],
    lang: str,
) -> None:
    x, y, w, h = rect
    ax = page.axes_mm(x, y, w, h - LEGEND_MM)
    mine = villages.loc[sheet.villages.index]
    layers = _map_layers(sheet, villages, towers, sites)
    minx, miny, maxx, maxy = layers.extent
    others = layers.near[~layers.near.index.isin(mine.index)]
    if len(others):
        coll = _patches(others.geometry, facecolor=OTHER_FILL, edgecolor=OTHER_EDGE, lw=0.3)
        if coll is not None:
            ax.add_collection(coll)
    status = mine["status"].astype("string").fillna("")
    faces = [STATUS_COLORS.get(s, NO_STATUS_COLOR) for s in status]
    coll = _patches(mine.geometry, facecolor=faces, edgecolor="#555555", lw=0.5)
    if coll is not None:
        ax.add_collection(coll)
    halo = [patheffects.withStroke(linewidth=2.2, foreground="white")]
    listed = set(sheet.listed.index)
    for idx, geom in mine.geometry.items():
        if geom is None or geom.is_empty:
            continue
        p = geom.representative_point()
        strong = idx in listed
        ax.text(p.x, p.y, _clean(mine.at[idx, "name"]), fontsize=6.5 if strong else 5.5,
                fontweight="bold" if strong else "normal", color="#111111" if strong else "#444444",
                ha="center", va="center", parse_math=False, path_effects=halo, zorder=4,
                clip_on=True)  # fmt: skip
    if layers.towers is not None:
        t = layers.towers
        ax.plot(t.geometry.x, t.geometry.y, "^", ms=7, mfc="black", mec="white", mew=0.8,
                ls="none", zorder=5)  # fmt: skip
    if layers.sites is not None:
        for _, row in layers.sites.iterrows():
            ax.plot(row.geometry.x, row.geometry.y, "o", ms=12, mfc=COLOR_SITE, mec="white",
                    mew=1.2, zorder=6)  # fmt: skip
            ax.text(row.geometry.x, row.geometry.y, str(int(row["rank"])), color="white",
                    fontsize=7, fontweight="bold", ha="center", va="center", zorder=7,
                    parse_math=False)  # fmt: skip
    ax.set_xlim(minx, maxx)
    ax.set_ylim(miny, maxy)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color("#777777")
        spine.set_linewidth(0.6)
    # scale bar, bottom left; north, top right (the project's UTM grid north)
    length = _scale_length(maxx - minx)
    sx, sy = minx + 0.04 * (maxx - minx), miny + 0.05 * (maxy - miny)
    ax.plot([sx, sx + length], [sy, sy], color="black", lw=2.5, solid_capstyle="butt", zorder=8)
    label = f"{format_float(length / 1000.0, lang, digits=0 if length >= 1000 else 1)} km"
    ax.text(sx + length / 2, sy + 0.015 * (maxy - miny), label, fontsize=6.5, ha="center",
            va="bottom", zorder=8, path_effects=halo, parse_math=False)  # fmt: skip
    nx_, ny_ = maxx - 0.05 * (maxx - minx), maxy - 0.14 * (maxy - miny)
    ax.annotate(COMPASS[lang][0][:1].upper(), xy=(nx_, maxy - 0.03 * (maxy - miny)),
                xytext=(nx_, ny_), ha="center", va="top", fontsize=8, fontweight="bold",
                arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.2}, zorder=8,
                annotation_clip=False)  # fmt: skip
    handles = [Patch(facecolor=STATUS_COLORS[c], edgecolor="#555555", label=lab[CLASS_LABELS[c]])
               for c in ("no_signal", "weak", "reliable")]  # fmt: skip
    handles += [
        Patch(facecolor=OTHER_FILL, edgecolor=OTHER_EDGE, label=lab["legend_other"]),
        Line2D([], [], marker="^", ls="none", ms=7, mfc="black", mec="white",
               label=lab["existing_towers"]),
        Line2D([], [], marker="o", ls="none", ms=9, mfc=COLOR_SITE, mec="white",
               label=lab["legend_rank"]),
    ]  # fmt: skip
    legend_ax = page.axes_mm(x, y + h - LEGEND_MM, w, LEGEND_MM)
    legend_ax.set_axis_off()
    legend_ax.legend(handles=handles, loc="center", ncol=3, fontsize=6.5, frameon=False,
                     handlelength=1.4, columnspacing=1.2, borderaxespad=0.0)  # fmt: skip


# -- the sheets -----------------------------------------------------------------------------
def _status_word(status: str, lab: dict[str, str]) -> str:
    return lab[CLASS_LABELS[status]] if status in CLASS_LABELS else status


def _fix(row: pd.Series, lab: dict[str, str], lang: str) -> str:
    """What would fix a village, in a cell: the proposed site that covers it and/or the mast
    height at its best tower."""
    parts = []
    k = _number(row.get("covered_by_site"))
    if k is not None:
        parts.append(lab["fix_site"].format(k=int(k)))
    mast, tower = _number(row.get("mast_height_needed_m")), _clean(row.get("best_tower"))
    if mast is not None and tower:
        parts.append(lab["fix_mast"].format(t=tower, m=format_int(mast, lang)))
    return "; ".join(parts) or lab["fix_none"]


def _table_rows(listed: pd.DataFrame, lab: dict[str, str], lang: str
                ) -> tuple[list[list[str]], list[str]]:  # fmt: skip
    cells, notes = [], []
    for i, (_, r) in enumerate(listed.iterrows(), start=1):
        reason = _clean(r.get("dark_reason"))
        cells.append([
            str(i), _clean(r.get("name")) or _clean(r.get("village_id")),
            _status_word(str(r["_status"]), lab),
            format_int(_number(r.get("households")), lang),
            format_int(_number(r.get("households_no_signal")), lang),
            format_int(_number(r.get("households_weak")), lang),
            lab.get(f"reason_{reason}", reason) or "–",
            _fix(r, lab, lang),
        ])  # fmt: skip
        notes.append(_clean(r.get("dark_sentence")))
    return cells, notes


def _figures_line(counts: dict[str, int], lab: dict[str, str], lang: str) -> str:
    keys = ("total_households", "households_no_signal", "households_weak", "dead_villages",
            "villages_weak")  # fmt: skip
    columns = ("households", "households_no_signal", "households_weak", "dead_villages",
               "villages_weak")  # fmt: skip
    return " · ".join(f"{lab[k]}: {format_int(counts[c], lang)}"
                      for k, c in zip(keys, columns, strict=True) if c in counts)  # fmt: skip


def _commune_pages(
    sheet: CommuneSheet,
    villages: gpd.GeoDataFrame,
    towers: gpd.GeoDataFrame | None,
    sites: gpd.GeoDataFrame | None,
    footer: _Footer,
    lab: dict[str, str],
    lang: str,
) -> list[_Page]:
    w, h = PAGE_MM
    width = w - 2 * MARGIN_MM
    place = f"{lab['commune']}: {sheet.commune} · {lab['district']}: {sheet.district}"
    cells, notes = _table_rows(sheet.listed, lab, lang)
    rows = _rows(cells, notes, SHEET_COLUMNS)
    header = _header_row(SHEET_COLUMNS, lab)
    title_h = _line_mm(SIZE_TITLE) + 2 * _line_mm(SIZE_BODY) + 3.0
    bottom = h - MARGIN_MM - footer.height - 2.0
    first_top = MARGIN_MM + title_h + MAP_MM + 3.0 + _line_mm(SIZE_BODY) + 1.5
    next_top = MARGIN_MM + _line_mm(SIZE_BODY) * 2 + 2.0
    chunks = _paginate(rows, bottom - first_top, bottom - next_top, header[1])
    pages = []
    for n, chunk in enumerate(chunks):
        page = _Page()
        if n == 0:
            page.text(MARGIN_MM, MARGIN_MM, lab["title"], SIZE_TITLE, fontweight="bold")
            y = MARGIN_MM + _line_mm(SIZE_TITLE) + 1.0
            page.text(MARGIN_MM, y, place, SIZE_BODY + 1, fontweight="bold", color="#08306b")
            y += _line_mm(SIZE_BODY + 1)
            page.text(MARGIN_MM, y, _figures_line(sheet.counts, lab, lang), SIZE_BODY,
                      color="#333333")  # fmt: skip
            _draw_map(page, (MARGIN_MM, MARGIN_MM + title_h, width, MAP_MM), sheet, villages,
                      towers, sites, lab, lang)  # fmt: skip
            y = MARGIN_MM + title_h + MAP_MM + 3.0
            page.text(MARGIN_MM, y, lab["table_title"], SIZE_BODY + 0.5, fontweight="bold")
            y = first_top
        else:
            page.text(MARGIN_MM, MARGIN_MM, f"{place} {lab['continued']}", SIZE_BODY,
                      fontweight="bold", color="#08306b")  # fmt: skip
            page.text(MARGIN_MM, MARGIN_MM + _line_mm(SIZE_BODY), lab["table_title"], SIZE_BODY)
            y = next_top
        _draw_table(page, y, SHEET_COLUMNS, header, [rows[i] for i in chunk],
                    chunk[0] if chunk else 0)  # fmt: skip
        footer.draw(page, lab["page"].format(i=n + 1, n=len(chunks)))
        pages.append(page)
    return pages


def _index_pages(
    sheets: Sequence[CommuneSheet], others: int, footer: _Footer, lab: dict[str, str], lang: str
) -> list[_Page]:
    w, h = PAGE_MM
    width = w - 2 * MARGIN_MM
    note = lab["index_note"].format(n=format_int(len(sheets), lang), m=format_int(others, lang))
    if not sheets:
        note = lab["index_none"]
    note_lines = _wrap(note, width, SIZE_BODY)
    cells = [[str(i), s.district, s.commune, format_int(s.counts.get("dead_villages"), lang),
              format_int(s.counts.get("villages_weak"), lang),
              format_int(s.counts.get("households_no_signal"), lang),
              format_int(s.counts.get("households_weak"), lang), s.file,
              format_int(s.pages, lang)] for i, s in enumerate(sheets, start=1)]  # fmt: skip
    rows = _rows(cells, [""] * len(cells), INDEX_COLUMNS)
    header = _header_row(INDEX_COLUMNS, lab)
    bottom = h - MARGIN_MM - footer.height - 2.0
    first_top = MARGIN_MM + _line_mm(SIZE_TITLE) + 2.0 + len(note_lines) * _line_mm(SIZE_BODY) + 3
    next_top = MARGIN_MM + _line_mm(SIZE_BODY) + 2.0
    chunks = _paginate(rows, bottom - first_top, bottom - next_top, header[1])
    pages = []
    for n, chunk in enumerate(chunks):
        page = _Page()
        if n == 0:
            page.text(MARGIN_MM, MARGIN_MM, lab["index_title"], SIZE_TITLE, fontweight="bold")
            page.lines(MARGIN_MM, MARGIN_MM + _line_mm(SIZE_TITLE) + 2.0, note_lines, SIZE_BODY)
            y = first_top
        else:
            page.text(MARGIN_MM, MARGIN_MM, f"{lab['index_title']} {lab['continued']}",
                      SIZE_BODY, fontweight="bold")  # fmt: skip
            y = next_top
        if rows:
            _draw_table(page, y, INDEX_COLUMNS, header, [rows[i] for i in chunk],
                        chunk[0] if chunk else 0)  # fmt: skip
        footer.draw(page, lab["page"].format(i=n + 1, n=len(chunks)))
        pages.append(page)
    return pages


# -- reuse of an unchanged sheet --------------------------------------------------------------
#: The PDF metadata field that carries a sheet's content digest and page count.
_TAG = "lomsong-sheet"
_TAG_RE = re.compile(rb"/Keywords \(" + _TAG.encode() + rb":([0-9a-f]{64}):([0-9]+)\)")
#: What any sheet's drawing depends on besides its data: this module's code and matplotlib's.
_CODE = hashlib.sha256(Path(__file__).read_bytes() + matplotlib.__version__.encode()).hexdigest()


def _sheet_digest(
    sheet: CommuneSheet,
    villages: gpd.GeoDataFrame,
    towers: gpd.GeoDataFrame | None,
    sites: gpd.GeoDataFrame | None,
    footer: _Footer,
    lab: dict[str, str],
    lang: str,
) -> str:
    """A digest of everything a commune's sheet draws: its title, figures and table (with the
    explanations' sentences), the footer (date, model, version, rule), every label, and the
    map's extent with the villages, towers and proposed sites inside it (geometries as WKB).
    Equal digests draw equal pages: a rerun copies the previous sheet instead of drawing it
    again (drawing and embedding the fonts take 0.4-0.9 s a sheet)."""
    h = hashlib.sha256(_CODE.encode())

    def put(*parts: Any) -> None:
        h.update(json.dumps(parts, default=str, ensure_ascii=False).encode())

    layers = _map_layers(sheet, villages, towers, sites)
    put(lang, lab, footer.first, footer.rule, sheet.district, sheet.commune, sheet.counts,
        layers.extent)  # fmt: skip
    put(*_table_rows(sheet.listed, lab, lang))
    mine = villages.loc[sheet.villages.index]
    put([_clean(n) for n in mine["name"]], mine["status"].astype("string").fillna("").tolist(),
        sheet.villages.index.tolist(), sheet.listed.index.tolist())  # fmt: skip
    near = layers.near.sort_index()  # the same villages in another query order draw the same
    put(near.index.tolist())
    for geom in near.geometry:
        h.update(b"" if geom is None else geom.wkb)
    if layers.towers is not None:
        put(layers.towers.geometry.x.tolist(), layers.towers.geometry.y.tolist())
    if layers.sites is not None:
        st = layers.sites
        put(st.geometry.x.tolist(), st.geometry.y.tolist(), st["rank"].tolist())
    return h.hexdigest()


def _stored_digest(path: Path) -> tuple[str, int] | None:
    """(digest, pages) a sheet written by :func:`write_sheets` carries, None if none (or not a
    readable file)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            # the document information is written last, before the cross-reference table
            # (20 bytes an object): the last 64 kB hold it
            f.seek(max(0, f.tell() - 65536))
            m = _TAG_RE.search(f.read())
    except OSError:
        return None
    return (m[1].decode(), int(m[2])) if m else None


def _save(
    pages: Sequence[_Page], path: Path, title: str, version: str, keywords: str | None = None
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"Title": title, "Creator": f"lomsong {version}".strip(), "Author": "lomsong"}
    if keywords:
        meta["Keywords"] = keywords
    with PdfPages(path, metadata=meta) as pdf:
        for page in pages:
            pdf.savefig(page.fig)


def write_sheets(
    folder: str | os.PathLike[str],
    *,
    villages: gpd.GeoDataFrame,
    rule: CoverageRule,
    summary: dict,
    towers: gpd.GeoDataFrame | None = None,
    ranking: pd.DataFrame | None = None,
    lang: str = "vi",
    date: datetime.date | None = None,
    progress: Callable[[int, int], None] | None = None,
    previous: str | os.PathLike[str] | None = None,
) -> list[Path]:
    """Write ``<folder>/<district>/<commune>.pdf`` for every commune with a village that has no
    signal or weak signal, and ``<folder>/index.pdf``.

    Parameters
    ----------
    folder
        The sheets folder (``<run>/sheets``); created if missing.
    villages
        Villages in a projected CRS (metres) with ``village_id, name, commune, district,
        households, households_no_signal, households_weak, status`` and, where the pipeline
        explained them, ``dark_reason, best_tower, mast_height_needed_m, covered_by_site,
        dark_sentence`` (``lomsong.coverage.explain``).
    rule
        The run's coverage rule, stated in words in every footer.
    summary
        The run's summary: ``model`` (name, environment) and ``lomsong_version`` are read.
    towers
        Existing cells (one marker per ``site_id``).
    ranking
        Proposed sites with ``rank`` (a GeoDataFrame, or ``ranking.csv``'s lon/lat table).
    lang
        ``"vi"`` (default) or ``"en"``.
    date
        The date printed on the sheets (default today).
    progress
        Called as ``progress(done, total)`` after each file (the communes, then the index).
    previous
        The sheets folder of the previous run (a rerun's): a commune whose sheet there was
        drawn from the same content (the digest in its PDF metadata, ``Keywords``) is copied
        instead of drawn again.

    Returns
    -------
    list of Path
        The commune sheets in index order, then ``index.pdf``.

    Notes
    -----
    Each page is one matplotlib figure saved by the PDF backend with TrueType text; a commune
    sheet is 45-70 kB and takes 0.5-1 s on one core, most of it fontTools subsetting DejaVu
    Sans and DejaVu Sans Bold into the file (the demo province: 9 sheets and the index). The
    matplotlib settings (``pdf.fonttype``, the font, math text off) are set for these figures
    only (``rc_context``).
    """
    lab = for_lang(SHEET, lang)
    out = Path(folder)
    if villages.crs is not None and not villages.crs.is_projected:
        raise ValueError(f"villages must be in a projected CRS (metres), got {villages.crs}")
    date = date or datetime.date.today()
    version = _clean(summary.get("lomsong_version"))
    frame = villages.reset_index(drop=True)
    sheets = sheet_communes(frame, lang=lang)
    sites = _in_crs(ranking, frame.crs)
    tw = _in_crs(towers, frame.crs)
    n_communes = len({(_clean(d), _clean(c)) for d, c in zip(frame["district"], frame["commune"],
                                                              strict=True)})  # fmt: skip
    total = len(sheets) + 1
    written = []
    # TrueType text (searchable); ps.fonttype too, because matplotlib's PDF writer sizes its font
    # subsets by it: at its default (3) every 256-code block of Vietnamese letters becomes a
    # subset of its own, two copies of each font per file and twice the (slow) subsetting
    rc = {
        "pdf.fonttype": 42,
        "ps.fonttype": 42,
        "font.family": FONT,
        "text.parse_math": False,
        "pdf.compression": 9,
    }
    with matplotlib.rc_context(rc):
        footer = _footer(summary, rule, lab, lang, date)
        reused = 0
        for n, sheet in enumerate(sheets, start=1):
            path = out.joinpath(*sheet.file.split("/"))
            digest = _sheet_digest(sheet, frame, tw, sites, footer, lab, lang)
            old = Path(previous).joinpath(*sheet.file.split("/")) if previous else None
            stored = _stored_digest(old) if old is not None else None
            if stored is not None and stored[0] == digest:
                path.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(old, path)
                sheet.pages = stored[1]
                reused += 1
            else:
                pages = _commune_pages(sheet, frame, tw, sites, footer, lab, lang)
                sheet.pages = len(pages)
                _save(pages, path, f"{lab['title']}: {sheet.commune}, {sheet.district}",
                      version, f"{_TAG}:{digest}:{len(pages)}")  # fmt: skip
            written.append(path)
            if progress is not None:
                progress(n, total)
        index = out / "index.pdf"
        _save(_index_pages(sheets, n_communes - len(sheets), footer, lab, lang), index,
              lab["index_title"], version)  # fmt: skip
        written.append(index)
        if progress is not None:
            progress(total, total)
    logger.info("commune sheets: %d communes in %s (%d unchanged, copied from the last run)",
                len(sheets), out, reused)  # fmt: skip
    return written
