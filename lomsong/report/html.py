"""``report.html``: the findings of a run on one self-contained page a planner can print or mail.

The page holds the key figures, the table of dead villages, the table of proposed sites and three
plots drawn with matplotlib and embedded as base64 PNG, so it opens offline and travels as one
file:

* **coverage curve** -- households with signal against the number of new sites built in rank
  order (the greedy ranking's cumulative gain: the first sites bring the most);
* **signal distribution** -- the signal level at the households (the best server's level in
  its technology's quantity: RSRP, RSCP, RxLev), weighted by households and coloured by their
  class (no signal / weak / reliable), with each technology's threshold marked: how far below
  it the households without signal are tells whether a small fix (a repeater, a higher
  antenna) or a new site is needed;
* **coverage map** (when ``signal`` is given) -- the best server's level with the dead zones
  outlined and the proposed sites numbered.

The key figures and the table of villages give the three classes of the coverage rule --
households and villages with no signal (lõm sóng), weak signal (sóng yếu) or reliable signal
(có sóng) -- and the page states the rule and its location probability in words.

Every string from data (village names, communes, site ids, ...) is HTML-escaped; labels come in
Vietnamese or English (:data:`lomsong.text.REPORT`), numbers in the convention of the language
(``12.345`` / ``12,345``).
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import logging
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from lomsong.coverage.deadzones import DeadZones
from lomsong.coverage.rule import CLASSES, CoverageRule
from lomsong.coverage.types import Coverage
from lomsong.maps.build import STATUS_COLORS, rule_levels
from lomsong.text import CLASS_LABELS, REPORT, for_lang, format_dbm, format_int, format_pct

__all__ = [
    "write_report_html",
    "report_html",
    "coverage_curve",
    "signal_histogram",
    "status_histogram",
    "threshold_lines",
]

logger = logging.getLogger(__name__)

#: Signal-level range of the histogram and map (dBm), as on the interactive map: −120 dBm is
#: below any handset's sensitivity, −50 dBm is next to a tower. Values outside are clipped
#: into the end bins so that no household drops out of the plot.
SIGNAL_MIN_DBM = -120.0
SIGNAL_MAX_DBM = -50.0
#: Histogram bin width (dB): fine enough to see a cluster just under the threshold.
HIST_BIN_DB = 2.5
#: Figure size (inches) and resolution: 900 × 450 px images, sharp on screen and on A4 paper.
FIG_SIZE = (9.0, 4.5)
FIG_DPI = 100
COLOR_UNCOVERED = "#c00000"  # the dead-zone red of the map
COLOR_SITE = "#08519c"  # the proposed-site blue of the map
#: Line styles of the thresholds in the histogram, one per distinct level.
THRESHOLD_STYLES = ("--", ":", "-.", (0, (5, 1, 1, 1)))

_CSS = """
body {font: 14px/1.45 "DejaVu Sans", Arial, sans-serif; color: #222; margin: 24px auto;
  max-width: 1000px; padding: 0 16px;}
h1 {font-size: 24px; margin-bottom: 2px;} h2 {font-size: 18px; margin-top: 28px;
  border-bottom: 2px solid #08519c; padding-bottom: 2px;}
.sub {color: #555; margin-top: 0;}
table {border-collapse: collapse; margin: 8px 0; font-size: 13px;}
th, td {padding: 3px 8px; border-bottom: 1px solid #ddd; vertical-align: top;}
th {background: #f0f3f7; text-align: left;}
td.n, th.n, td.nw {text-align: right; white-space: nowrap;}
table.kf td:first-child {color: #444;} table.kf td.n {font-weight: bold;}
.note {color: #555; font-size: 12px;}
figure {margin: 16px 0;} figure img {max-width: 100%; height: auto; border: 1px solid #eee;}
figcaption {color: #555; font-size: 12px;}
footer {margin-top: 32px; color: #777; font-size: 12px;}
@media print {body {margin: 0;} h2 {page-break-after: avoid;}
  figure, tr {page-break-inside: avoid;}}
p.rule {color: #444; font-size: 0.95em;}
"""


def _esc(value: Any) -> str:
    """Data text made safe for HTML; None/NaN become an empty string."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return html.escape(str(value), quote=True)


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=FIG_DPI, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _img(png_b64: str, alt: str, caption: str) -> str:
    return (
        f'<figure><img alt="{_esc(alt)}" src="data:image/png;base64,{png_b64}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def _table(head: Sequence[tuple[str, bool]], rows: Iterable[Sequence[str]]) -> str:
    """An HTML table; ``head`` is (label, numeric) pairs; cells are already safe HTML."""
    numeric = [n for _, n in head]
    th = "".join(f'<th class="n">{h}</th>' if n else f"<th>{h}</th>" for h, n in head)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{c}</td>' if n else f"<td>{c}</td>"
            for c, n in zip(r, numeric, strict=True)
        )
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _get(row: pd.Series, key: str) -> Any:
    value = row.get(key)
    if value is None:
        return None
    try:
        return None if pd.isna(value) else value
    except (TypeError, ValueError):
        return value


# -- plots -----------------------------------------------------------------------------------
def coverage_curve(ranking: pd.DataFrame, *, covered_now: float) -> tuple[np.ndarray, np.ndarray]:
    """Households with signal after building the first k sites, k = 0 … len(ranking).

    ``covered_now`` plus the cumulative new households of the ranking in rank order.
    """
    ordered = ranking.sort_values("rank") if len(ranking) else ranking
    if len(ordered) and "cumulative_households" in ordered:
        gained = ordered["cumulative_households"].to_numpy(dtype=float)
    elif len(ordered):
        gained = np.cumsum(ordered["new_households"].to_numpy(dtype=float))
    else:
        gained = np.zeros(0)
    sites = np.arange(len(gained) + 1)
    return sites, covered_now + np.concatenate([[0.0], gained])


def _curve_png(ranking: pd.DataFrame, totals: dict, lab: dict[str, str], lang: str) -> str:
    covered = float(totals.get("households_covered", 0.0))
    total = float(totals.get("households", 0.0))
    k, households = coverage_curve(ranking, covered_now=covered)
    fig = Figure(figsize=FIG_SIZE)
    ax = fig.subplots()
    ax.plot(k, households, "-o", color=COLOR_SITE, lw=2, ms=5, zorder=3)
    ax.fill_between(k, households, color=COLOR_SITE, alpha=0.08)
    if total > 0:
        ax.axhline(total, color="#555", ls="--", lw=1)
        ax.text(0, total, f" {lab['curve_total']}: {format_int(total, lang)}", va="bottom",
                ha="left", color="#555", fontsize=9)  # fmt: skip
    ax.annotate(
        f"{lab['curve_now']}: {format_int(covered, lang)}", (0, covered), xytext=(8, -14),
        textcoords="offset points", fontsize=9,
    )  # fmt: skip
    for x, y, prev in zip(k[1:], households[1:], households[:-1], strict=True):
        ax.annotate(f"+{format_int(y - prev, lang)}", (x, y), xytext=(0, 7),
                    textcoords="offset points", ha="center", fontsize=8)  # fmt: skip
    ax.set_xticks(k)
    ax.set_xlim(-0.3, max(k[-1], 1) + 0.3)
    top = max(total, float(households.max()) if len(households) else 0.0)
    # the y axis starts a little under today's coverage so the gains are visible
    low = covered - 0.25 * max(top - covered, 1.0)
    ax.set_ylim(max(0.0, low), top + 0.08 * max(top - covered, 1.0))
    ax.yaxis.set_major_formatter(lambda v, _pos: format_int(v, lang))
    ax.set_xlabel(lab["curve_x"])
    ax.set_ylabel(lab["curve_y"])
    ax.set_title(lab["curve_title"], fontsize=11)
    ax.grid(alpha=0.3)
    return _png(fig)


def signal_histogram(
    power_dbm: np.ndarray,
    weights: np.ndarray,
    *,
    lo: float = SIGNAL_MIN_DBM,
    hi: float = SIGNAL_MAX_DBM,
    bin_db: float = HIST_BIN_DB,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Households per received-power bin: (bin edges, weights per bin, households with NaN).

    Values outside ``lo``…``hi`` are clipped into the end bins; NaN (no prediction: beyond the
    model's radius) is returned apart.
    """
    power = np.asarray(power_dbm, dtype=float)
    w = np.asarray(weights, dtype=float)
    ok = np.isfinite(power)
    edges = np.arange(lo, hi + bin_db / 2, bin_db)
    # clip into [lo, hi) so the top value falls in the last bin, not beyond it
    clipped = np.clip(power[ok], lo, hi - 1e-9)
    counts, _ = np.histogram(clipped, bins=edges, weights=w[ok])
    return edges, counts, float(w[~ok].sum())


def status_histogram(
    power_dbm: np.ndarray,
    weights: np.ndarray,
    status: np.ndarray,
    *,
    lo: float = SIGNAL_MIN_DBM,
    hi: float = SIGNAL_MAX_DBM,
    bin_db: float = HIST_BIN_DB,
) -> tuple[np.ndarray, dict[str, np.ndarray], float]:
    """:func:`signal_histogram` split by class: (bin edges, households per bin of each class of
    :data:`~lomsong.coverage.rule.CLASSES`, households with NaN).

    A household's class is the rule's (``status`` of :func:`dead_zones`): it can differ from
    what its level alone says, as the rule also counts indoor and clutter losses and each
    technology's own threshold.
    """
    power = np.asarray(power_dbm, dtype=float)
    w = np.asarray(weights, dtype=float)
    status = np.asarray(status, dtype=object)
    counts = {}
    edges = np.zeros(0)
    for cls in CLASSES:
        mine = status == cls
        edges, counts[cls], _ = signal_histogram(power[mine], w[mine], lo=lo, hi=hi,
                                                 bin_db=bin_db)  # fmt: skip
    return edges, counts, float(w[~np.isfinite(power)].sum())


def threshold_lines(
    rule: CoverageRule, towers: pd.DataFrame | None, lab: dict[str, str], lang: str
) -> list[tuple[float, str]]:
    """The histogram's threshold lines: (median level from which a technology gives signal,
    label naming its quantity), one per distinct level, newest technology first.

    One line per technology of ``towers`` that the rule counts (:func:`rule_levels`);
    technologies at the same level share a line ("SS-RSRP/RSRP −110 dBm").
    """
    lines: dict[float, list[str]] = {}
    for level in rule_levels(rule, towers):
        lines.setdefault(round(level.signal_dbm, 2), []).append(level.quantity)
    return [
        (value, lab["hist_threshold"].format(q="/".join(qs), threshold=format_dbm(value, lang)))
        for value, qs in lines.items()
    ]


def _hist_png(
    households: gpd.GeoDataFrame,
    lines: Sequence[tuple[float, str]],
    quantities: str,
    lab: dict[str, str],
    lang: str,
) -> tuple[str, float]:
    weights = (
        households["households"].to_numpy(dtype=float)
        if "households" in households
        else np.ones(len(households))
    )
    if "status" in households:
        status = households["status"].astype(str).to_numpy()
    else:  # household points from before the three classes: reliable or not
        status = np.where(households["covered"].to_numpy(bool), "reliable", "no_signal")
    edges, counts, missing = status_histogram(
        households["power_dbm"].to_numpy(float), weights, status
    )
    fig = Figure(figsize=FIG_SIZE)
    ax = fig.subplots()
    centres = (edges[:-1] + edges[1:]) / 2
    width = np.diff(edges)
    bottom = np.zeros(len(centres))
    for cls in CLASSES:  # stacked, worst class at the bottom
        if counts[cls].any():
            ax.bar(centres, counts[cls], bottom=bottom, width=width, color=STATUS_COLORS[cls],
                   edgecolor="white", lw=0.5, label=lab[CLASS_LABELS[cls]])  # fmt: skip
        bottom += counts[cls]
    for (value, label), style in zip(lines, itertools.cycle(THRESHOLD_STYLES), strict=False):
        ax.axvline(value, color="#222", ls=style, lw=1.5, label=label)
    ax.set_xlim(edges[0], edges[-1])
    ax.xaxis.set_major_formatter(lambda v, _pos: format_dbm(v, lang))
    ax.yaxis.set_major_formatter(lambda v, _pos: format_int(v, lang))
    ax.set_xlabel(lab["hist_x"].format(quantities=quantities))
    ax.set_ylabel(lab["hist_y"])
    ax.set_title(lab["hist_title"], fontsize=11)
    ax.legend(fontsize=9, loc="upper left")
    ax.grid(alpha=0.3, axis="y")
    return _png(fig), missing


def _outline(ax: Any, geoms: Any, scale: float, **style: Any) -> None:
    """Draw the rings of all polygons as one LineCollection (one artist, not one per ring:
    a province's 4,000 rings took 6 s as separate lines)."""
    segments = []
    for geom in geoms:
        for poly in getattr(geom, "geoms", [geom]):
            rings = [poly.exterior, *poly.interiors] if hasattr(poly, "exterior") else []
            segments.extend(np.asarray(ring.coords)[:, :2] / scale for ring in rings)
    if segments:
        ax.add_collection(LineCollection(segments, **style))


def _sites_in(ranking: pd.DataFrame, crs: Any) -> gpd.GeoDataFrame:
    if isinstance(ranking, gpd.GeoDataFrame) and ranking.crs is not None:
        return ranking.to_crs(crs)
    points = gpd.points_from_xy(ranking["lon"], ranking["lat"], crs=4326)
    return gpd.GeoDataFrame(pd.DataFrame(ranking), geometry=points).to_crs(crs)


def _map_png(
    signal: Coverage, gaps: DeadZones, ranking: pd.DataFrame, quantities: str, lab: dict[str, str]
) -> str:
    grid = signal.power
    left, bottom, right, top = grid.bounds
    km = 1000.0
    # figure shaped like the area (plus room for title, labels and colour bar)
    aspect = (top - bottom) / max(right - left, 1.0)
    fig = Figure(figsize=(9.0, float(np.clip(7.6 * aspect + 1.2, 3.0, 11.0))))
    ax = fig.subplots()
    # a ~900-pixel-wide figure cannot show more than ~1,200 cells across: decimate first
    # (nearest, as drawn), which keeps a province-sized raster from dominating the report
    step = max(1, int(np.ceil(max(grid.shape) / 1200)))
    image = ax.imshow(
        np.asarray(grid.data[::step, ::step], dtype=float),
        extent=(left / km, right / km, bottom / km, top / km),
        cmap="viridis", vmin=SIGNAL_MIN_DBM, vmax=SIGNAL_MAX_DBM, interpolation="nearest",
        origin="upper",
    )  # fmt: skip
    if len(gaps.villages):
        _outline(ax, gaps.villages.to_crs(grid.crs).geometry, km, colors="white", lw=0.4,
                 alpha=0.6)  # fmt: skip
    if len(gaps.zones):
        _outline(ax, gaps.zones.to_crs(grid.crs).geometry, km, colors=COLOR_UNCOVERED, lw=1.2)
    towers = getattr(signal, "towers", None)
    if towers is not None and len(towers):
        xy = towers.to_crs(grid.crs).geometry
        ax.plot(xy.x / km, xy.y / km, "^", ms=8, mfc="black", mec="white", mew=1.0,
                ls="none")  # fmt: skip
    if len(ranking):
        sites = _sites_in(ranking, grid.crs)
        for _, row in sites.iterrows():
            x, y = row.geometry.x / km, row.geometry.y / km
            ax.plot(x, y, "o", ms=14, mfc=COLOR_SITE, mec="white", mew=1.5)
            ax.text(x, y, str(int(row["rank"])), color="white", ha="center", va="center",
                    fontsize=8, fontweight="bold")  # fmt: skip
    ax.set_xlim(left / km, right / km)
    ax.set_ylim(bottom / km, top / km)
    ax.set_aspect("equal")
    ax.set_xlabel(lab["map_x"])
    ax.set_ylabel(lab["map_y"])
    ax.set_title(lab["map_title"], fontsize=11)
    bar = fig.colorbar(image, ax=ax, fraction=0.035, pad=0.02)
    bar.set_label(lab["map_cbar"].format(quantities=quantities))
    return _png(fig)


# -- tables ----------------------------------------------------------------------------------
def _class_totals(villages: pd.DataFrame) -> dict[str, Any]:
    """The three classes counted from the villages: households of each class, villages by
    status, and the households' mean coverage probability (``summary.json``'s totals are the
    same village sums but carry no per-class counts)."""
    out: dict[str, Any] = {}
    for column in ("households_no_signal", "households_weak"):
        if column in villages:
            out[column] = int(villages[column].sum())
    if "status" in villages:
        status = villages["status"].astype(str)
        out["dead_villages"] = int((status == "no_signal").sum())
        out["villages_weak"] = int((status == "weak").sum())
        out["villages_reliable"] = int((status == "reliable").sum())
    if {"coverage_probability", "households"} <= set(villages.columns):
        hh = villages["households"].to_numpy(dtype=float)
        p = villages["coverage_probability"].to_numpy(dtype=float)
        ok = np.isfinite(p) & (hh > 0)
        if hh[ok].sum() > 0:
            out["mean_probability"] = float((p[ok] * hh[ok]).sum() / hh[ok].sum())
    return out


def _key_figures(totals: dict, summary: dict, lab: dict[str, str], lang: str) -> str:
    hh = totals.get("households")
    rows: list[tuple[str, str]] = []

    def add(label: str, value: Any, share_of: Any = None) -> None:
        if value is None:
            return
        text = format_int(value, lang)
        if share_of:
            text += f" ({format_pct(float(value) / float(share_of), lang)})"
        rows.append((lab[label], text))

    add("total_households", hh)
    # the three classes, best first, then the households the siting works for (weak + none)
    add("households_covered", totals.get("households_covered"), hh)
    add("households_weak", totals.get("households_weak"), hh)
    add("households_no_signal", totals.get("households_no_signal"), hh)
    add("households_uncovered", totals.get("households_uncovered"), hh)
    if totals.get("mean_probability") is not None:
        rows.append((lab["mean_probability"], format_pct(totals["mean_probability"], lang)))
    add("village_count", totals.get("villages"))
    add("villages_reliable", totals.get("villages_reliable"))
    add("villages_weak", totals.get("villages_weak"))
    add("dead_villages", totals.get("dead_villages"))
    add("towers", totals.get("towers"))
    add("sites_proposed", totals.get("sites_proposed"))
    add("reached", totals.get("households_reached_by_sites"), totals.get("households_uncovered"))
    model = summary.get("model") or {}
    if model.get("name"):
        env = f" ({_esc(model['environment'])})" if model.get("environment") else ""
        rows.append((lab["model"], _esc(model["name"]) + env))
    body = "".join(f'<tr><td>{k}</td><td class="n">{v}</td></tr>' for k, v in rows)
    return f'<table class="kf"><tbody>{body}</tbody></table>'


def _status_word(status: Any, lab: dict[str, str]) -> str:
    """A class in words; an unknown status read from data, escaped."""
    return lab[CLASS_LABELS[status]] if status in CLASS_LABELS else _esc(status)


def _dead_table(gaps: DeadZones, dead_share: float | None, lab: dict[str, str], lang: str) -> str:
    """The villages to act on: no signal first, then weak, each with both counts and status."""
    v = gaps.villages
    if "status" in v:
        status = v["status"].astype(str)
    else:  # villages from before the three classes: dead or not
        status = pd.Series(np.where(v["dead"].astype(bool), "no_signal", "reliable"), v.index)
    note = ""
    if dead_share is not None:
        share = format_pct(dead_share, lang, digits=0)  # as the rule's sentence writes it
        note = f'<p class="note">{lab["dead_note"].format(share=share)}</p>'
    listed = v.assign(_status=status, _order=status.map({"no_signal": 0, "weak": 1}))
    listed = listed[listed["_order"].notna()]
    if not (listed["_status"] == "no_signal").any():
        note += f"<p>{lab['none_dead']}</p>"
    if not (listed["_status"] == "weak").any():
        note += f"<p>{lab['none_weak']}</p>"
    if not len(listed):
        return note
    listed = listed.sort_values(["_order", "households_uncovered", "name"],
                                ascending=[True, False, True])  # fmt: skip
    head = [("#", True), (lab["village"], False), (lab["commune"], False), (lab["district"], False),
            (lab["households"], True), (lab["households_no_signal"], True),
            (lab["households_weak"], True), (lab["share_uncovered"], True),
            (lab["coverage_probability"], True), (lab["status"], False)]  # fmt: skip
    rows = [
        (
            str(i),
            _esc(_get(r, "name")),
            _esc(_get(r, "commune")),
            _esc(_get(r, "district")),
            format_int(_get(r, "households"), lang),
            format_int(_get(r, "households_no_signal"), lang),
            format_int(_get(r, "households_weak"), lang),
            format_pct(_get(r, "share_uncovered"), lang),
            format_pct(_get(r, "coverage_probability"), lang),
            _status_word(r["_status"], lab),
        )
        for i, (_, r) in enumerate(listed.iterrows(), start=1)
    ]
    return note + _table(head, rows)


def _sites_table(ranking: pd.DataFrame, lab: dict[str, str], lang: str) -> str:
    if not len(ranking):
        return f"<p>{lab['no_sites']}</p>"
    has_names = "village_names" in ranking
    head = [(lab["rank"], True), (lab["site"], False), (lab["lonlat"], False),
            (lab["new_households"], True), (lab["cumulative_households"], True),
            (lab["cumulative_share"], True), (lab["villages_reached"], True),
            (lab["backhaul"], False)]  # fmt: skip
    if has_names:
        head.append((lab["village_names"], False))
    rows = []
    for _, r in ranking.sort_values("rank").iterrows():
        ok, hops = _get(r, "backhaul_ok"), _get(r, "backhaul_hops")
        backhaul = "–" if ok is None else lab["backhaul_ok"] if bool(ok) else lab["backhaul_no"]
        if ok is not None and hops is not None and hops >= 0:  # −1: no path, no hop count
            backhaul += f" ({format_int(hops, lang)} {lab['hops']})"
        lon, lat = _get(r, "lon"), _get(r, "lat")
        where = "–" if lon is None or lat is None else f"{float(lon):.5f}, {float(lat):.5f}"
        row = [
            format_int(_get(r, "rank"), lang),
            _esc(_get(r, "site_id")),
            where,
            format_int(_get(r, "new_households"), lang),
            format_int(_get(r, "cumulative_households"), lang),
            format_pct(_get(r, "cumulative_share"), lang),
            format_int(_get(r, "villages_reached"), lang),
            backhaul,
        ]
        if has_names:
            row.append(_esc(_get(r, "village_names")))
        rows.append(row)
    return _table(head, rows)


# -- public ----------------------------------------------------------------------------------
def report_html(
    *,
    gaps: DeadZones,
    ranking: pd.DataFrame,
    summary: dict,
    signal: Coverage | None = None,
    lang: str = "vi",
) -> str:
    """The report page as an HTML string (see :func:`write_report_html`)."""
    lab = for_lang(REPORT, lang)
    # the run's totals; the classes are counted from the villages, as the totals are
    totals = {**_class_totals(gaps.villages), **summary.get("totals", summary)}
    # the run's coverage rule, in full (the same object the dead zones were judged by)
    rule = gaps.rule
    towers = signal.towers if signal is not None else None
    quantities = "/".join(level.quantity for level in rule_levels(rule, towers))
    probability = format_pct(rule.location_probability, lang, digits=0)
    version = _esc(summary.get("lomsong_version", ""))

    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{lang}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{lab['title']}</title><style>{_CSS}</style></head><body>",
        f"<h1>{lab['title']}</h1>",
        f'<p class="sub">{lab["subtitle"]}</p>',
        f'<p class="rule">{_esc(rule.describe(lang))}</p>',
        f'<p class="rule">{lab["probability_note"].format(p=probability)}</p>',
        f"<h2>{lab['key_figures']}</h2>",
        _key_figures(totals, summary, lab, lang),
        f"<h2>{lab['dead_table']}</h2>",
        _dead_table(gaps, rule.dead_share, lab, lang),
        f"<h2>{lab['sites_table']}</h2>",
        _sites_table(ranking, lab, lang),
        f"<h2>{lab['plots']}</h2>",
    ]
    if len(ranking):
        parts.append(_img(_curve_png(ranking, totals, lab, lang), lab["curve_title"],
                          lab["curve_note"]))  # fmt: skip
    hh = gaps.households
    if "power_dbm" in hh and len(hh):
        lines = threshold_lines(rule, towers, lab, lang)
        png, missing = _hist_png(hh, lines, quantities, lab, lang)
        caption = lab["hist_note"].format(lo=format_dbm(SIGNAL_MIN_DBM, lang),
                                          hi=format_dbm(SIGNAL_MAX_DBM, lang))  # fmt: skip
        if missing > 0:
            caption += " " + lab["hist_nan"].format(n=format_int(missing, lang))
        parts.append(_img(png, lab["hist_title"], caption))
    if signal is not None:
        crs = signal.power.crs
        crs_name = _esc(crs.to_string() if hasattr(crs, "to_string") else crs)
        parts.append(_img(_map_png(signal, gaps, ranking, quantities, lab), lab["map_title"],
                          lab["map_note"].format(crs=crs_name)))  # fmt: skip
    parts += [f"<footer>{lab['footer'].format(version=version)}</footer>", "</body></html>"]
    return "\n".join(parts) + "\n"


def write_report_html(
    path: str | os.PathLike[str],
    *,
    gaps: DeadZones,
    ranking: pd.DataFrame,
    summary: dict,
    signal: Coverage | None = None,
    lang: str = "vi",
) -> Path:
    """Write ``report.html``: key figures, dead villages, proposed sites and plots, one file.

    Parameters
    ----------
    path
        Output file (overwritten).
    gaps
        Result of ``dead_zones``: the villages with their classes (``households_no_signal``,
        ``households_weak``, ``coverage_probability``, ``status``), the level and class of
        every household (``households.power_dbm`` in dBm and ``status``, weighted by
        ``households``) and the coverage rule, stated on the page.
    ranking
        Proposed sites in rank order (``rank, site_id, lon, lat, new_households,
        cumulative_households, cumulative_share, villages_reached, backhaul_ok,
        backhaul_hops``; ``village_names`` if present). A GeoDataFrame or the ranking.csv table.
    summary
        The run's summary (``summary.json``): ``totals`` (households, households_covered, …),
        ``model`` and ``lomsong_version`` are read; a bare totals dict works too. Counts of
        the classes missing from it are the villages' sums.
    signal
        Result of ``predict``; when given, the page also holds a map of the signal level, and
        its towers' technologies choose the thresholds drawn in the histogram (else the
        rule's technologies, else 4G).
    lang
        ``"vi"`` (default) or ``"en"``.

    Returns
    -------
    Path
        ``path``.

    Notes
    -----
    The coverage curve starts from today's covered households and adds the ranking's
    cumulative new households; the histogram weights each household point by its
    ``households``. Plots are rendered with matplotlib's Agg canvas (no display, no global
    pyplot state); a province page is 200–400 kB and takes about a second.
    """
    text = report_html(gaps=gaps, ranking=ranking, summary=summary, signal=signal, lang=lang)
    out = Path(path)
    out.write_text(text, encoding="utf-8")
    logger.debug("report %s: %d bytes", out, len(text))
    return out
