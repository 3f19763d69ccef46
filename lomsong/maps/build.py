"""The interactive map: coverage, dead zones, villages, towers and ranked sites in one HTML file.

:func:`build_map` draws the results of the analysis on a folium (Leaflet) map that anyone can
open in a browser. Everything is computed in the project's metric CRS and only reprojected to
EPSG:4326 (vectors) or EPSG:3857 (the coverage image) for drawing.

Two rules shape this module:

* **Safety.** Every string read from a data file (village names, ids, operators, …) goes
  through :func:`escape_text` before it reaches HTML or JavaScript. folium inserts tooltip and
  popup text into JavaScript template literals and ``GeoJsonTooltip`` puts property values into
  ``innerHTML`` unescaped, so escaping is ours to do.
* **Size.** The raster is warped once, downsampled to at most ``max_overlay_px`` on its longer
  side and stored as an 8-bit palette PNG; polygons are simplified in metres and coordinates
  rounded to 6 decimals (≈ 0.1 m), so a province map stays a few MB.
"""

from __future__ import annotations

import base64
import html
import io
import logging
import math
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement
from folium import plugins
from folium.utilities import JsCode
from jinja2 import Template

from lomsong.calibration.validate import Validation
from lomsong.coverage.deadzones import DeadZones
from lomsong.coverage.rule import CLASSES, CoverageRule
from lomsong.coverage.types import Coverage
from lomsong.grid import Grid
from lomsong.propagation.service import QUANTITY
from lomsong.text import (
    CLASS_LABELS,
    MAP,
    VALIDATION,
    for_lang,
    format_dbm,
    format_float,
    format_int,
    format_pct,
)

__all__ = [
    "build_map",
    "coverage_overlay_png",
    "escape_text",
    "rule_levels",
    "Level",
    "STATUS_COLORS",
    "AGREEMENT_COLORS",
    "RESIDUAL_COLORS",
]

logger = logging.getLogger(__name__)

# -- display defaults ------------------------------------------------------------------------
#: Colour scale of the signal level (dBm, each technology in its own quantity: RSRP, RSCP,
#: RxLev): −120 dBm is below any handset's sensitivity, −50 dBm is next to a tower; the
#: thresholds of the rule (RxLev −100 … RSRP −110 dBm by default) fall inside.
SIGNAL_VMIN_DBM = -120.0
SIGNAL_VMAX_DBM = -50.0
#: Tick step of the signal legend (dB): 8 labels over −120…−50 dBm.
SIGNAL_TICK_DB = 10.0
#: viridis stops, weak (purple) → strong (yellow): readable by colour-blind users, and distinct
#: from the red of dead zones and villages.
SIGNAL_COLORS = ("#440154", "#3b528b", "#21918c", "#5ec962", "#fde725")
#: Fill of a village by its status (:data:`lomsong.coverage.rule.CLASSES`): red, orange and
#: light blue from ColorBrewer's RdYlBu (told apart by colour-blind readers too, unlike red and
#: green); the red stays 35 away per channel from the dead zones' #c00000, which the browser
#: test tells apart in a screenshot.
STATUS_COLORS = {"no_signal": "#e31a1c", "weak": "#fdae61", "reliable": "#abd9e9"}
#: Fill of a village without a status (no households, or a table without the columns).
NO_STATUS_COLOR = "#bdbdbd"
#: Order of the technologies in legends, newest first ("RSRP/RSCP/RxLev").
TECH_ORDER = ("5G", "4G", "3G", "2G")
#: Palette levels of the coverage PNG: 127 steps of ≈ 0.55 dB over −120…−50 dBm look
#: continuous and keep the PNG an 8-bit palette image (small, compresses well).
SIGNAL_LEVELS = 127
DEAD_ZONE_COLOR = "#c00000"
#: Village names listed in a dead zone's tooltip; more are counted ("… (+12)").
ZONE_VILLAGES_SHOWN = 6
#: Simplification tolerance of polygons before drawing (m): invisible below zoom ≈ 15.
SIMPLIFY_M = 15.0
#: Decimals kept in lon/lat: 1e-6° ≈ 0.1 m.
COORD_DECIMALS = 6
OVERLAY_OPACITY = 0.65
#: Width of the signal scale in the legend (px): room for its 8 tick labels.
SIGNAL_LEGEND_PX = 240
#: Margins of the initial view (px, [x, y]) on a wide screen: the title takes the top 70 px,
#: the legend the bottom ≈ 130 px (bottom left, above the scale bar), the layer control,
#: summary and mini-map a column of ≈ 320 px on the right.
FIT_PAD_TOP_LEFT_PX = (20, 70)
FIT_PAD_BOTTOM_RIGHT_PX = (340, 140)
FIT_WIDE_PX = 900
#: Existing towers: a black marker with Font Awesome's cell-tower glyph, distinct from the
#: blue numbered proposed sites and from the red of dead zones. Font Awesome, not Bootstrap 3's
#: glyphicons: folium loads Font Awesome 6 anyway, and glyphicons come from a retired CDN.
TOWER_MARKER_COLOR = "black"
TOWER_ICON = "tower-cell"
CARTO_POSITRON_URL = "https://{s}.basemaps.cartocdn.com/light_all/{z}/{x}/{y}{r}.png"
CARTO_ATTRIBUTION = (
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors '
    '&copy; <a href="https://carto.com/attributions">CARTO</a>'
)

_MAP_CSS = """
<style>
.ls-box {position: fixed; z-index: 1000; background: rgba(255,255,255,0.92); padding: 6px 10px;
  border-radius: 4px; box-shadow: 0 1px 4px rgba(0,0,0,0.35); font: 13px/1.35 sans-serif;}
.ls-title {top: 10px; left: 56px; max-width: calc(100% - 400px); min-width: 180px;
  font-size: 16px; font-weight: bold;}
.ls-summary {bottom: 178px; right: 10px; max-width: 320px;}
.ls-legend {background: rgba(255,255,255,0.92); padding: 5px 8px; border-radius: 4px;
  box-shadow: 0 1px 4px rgba(0,0,0,0.35); font: 12px/1.3 sans-serif; display: flex;
  gap: 14px; align-items: flex-start;}
.ls-legend-title {font-weight: bold; margin-bottom: 2px;}
.ls-scale {position: relative; height: 10px; margin: 7px 12px 0; border: 1px solid #777;}
.ls-mark {position: absolute; top: -6px; bottom: 0; margin-left: -1px;
  border-left: 2px solid #000;}
.ls-mark-key {display: inline-block; height: 11px; margin-right: 3px; vertical-align: middle;
  border-left: 2px solid #000;}
.ls-mark-reliable {border-left-style: dotted;}
.ls-ticks {position: relative; height: 13px; margin: 1px 12px 2px; font-size: 10px;}
.ls-ticks span {position: absolute; transform: translateX(-50%); white-space: nowrap;}
.ls-levels {border-collapse: collapse; font-size: 11px;}
.ls-levels th {font-weight: normal; color: #444; padding: 0 4px; text-align: right;}
.ls-levels td {padding: 0 4px; text-align: right;} .ls-levels td:first-child {text-align: left;}
.ls-levels caption {caption-side: bottom; text-align: left; font-size: 10px; color: #555;
  padding-top: 2px;}
.ls-class {display: inline-block; width: 16px; height: 12px; margin-right: 4px;
  vertical-align: middle; border: 1px solid #555; opacity: 0.8;}
.ls-rule {margin-top: 4px; font-size: 11px; color: #444;}
.ls-summary table td {padding: 0 4px;}
.ls-summary td.n {text-align: right; font-weight: bold; white-space: nowrap;}
.ls-swatch {display: inline-block; width: 16px; height: 12px; vertical-align: middle;
  margin-right: 4px; border: 1px solid #c00000;
  background: repeating-linear-gradient(-45deg, #c00000 0 2px, transparent 2px 6px);}
.ls-rank {width: 24px; height: 24px; border-radius: 50%; background: #08519c; color: #fff;
  border: 2px solid #fff; box-shadow: 0 0 3px #000; text-align: center;
  font: bold 12px/24px sans-serif;}
.ls-rank-key {display: inline-block; width: 16px; height: 16px; line-height: 16px;
  font-size: 10px; margin-right: 4px; vertical-align: middle;}
.ls-tip {font: 13px/1.35 sans-serif;}
.ls-tip th {text-align: left; padding-right: 6px; font-weight: normal; color: #555;}
</style>
"""


# -- safety ----------------------------------------------------------------------------------
def escape_text(value: Any) -> str:
    """Text from data, safe inside HTML and inside JavaScript template literals.

    ``html.escape`` handles ``< > & " '``; folium also puts tooltip and popup text inside
    JavaScript backtick strings, where a backtick, ``${`` or a backslash would be code, so those
    become character references too. Missing values (None/NaN) become an empty string.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = html.escape(str(value), quote=True)
    return text.replace("\\", "&#92;").replace("`", "&#96;").replace("$", "&#36;")


def _rows_html(rows: Iterable[tuple[str, str]], *, header: str | None = None) -> str:
    """A small two-column table; labels are ours, values already escaped/formatted."""
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    head = f"<b>{header}</b>" if header else ""
    return f'<div class="ls-tip">{head}<table>{body}</table></div>'


# -- raster overlay --------------------------------------------------------------------------
def _hex_rgb(color: str) -> tuple[int, int, int]:
    c = color.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def _palette(colors: Sequence[str], levels: int) -> np.ndarray:
    """``levels`` RGB colours interpolated linearly between equally spaced ``colors``.

    The legend's CSS gradient interpolates the same way (linearly in sRGB between equally
    spaced stops), so image and legend agree.
    """
    stops = np.array([_hex_rgb(c) for c in colors], dtype=float)
    at = np.linspace(0.0, 1.0, len(colors))
    t = np.linspace(0.0, 1.0, levels)
    rgb = np.stack([np.interp(t, at, stops[:, k]) for k in range(3)], axis=1)
    return np.rint(rgb).astype(np.uint8)


def _extent(transform: Any, width: int, height: int) -> tuple[float, float, float, float]:
    """(left, bottom, right, top) of a north-up raster, from the transform's coefficients.

    Written out rather than ``transform * (col, row)``: affine ≥ 3 deprecates ``*``.
    """
    x0, y0 = transform.c, transform.f
    x1, y1 = x0 + width * transform.a, y0 + height * transform.e
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def _warp_to_mercator(grid: Grid, *, max_px: int) -> tuple[np.ndarray, tuple[float, ...]]:
    """Warp ``grid`` to EPSG:3857, longer side ≤ ``max_px``; returns (array, bounds in 3857).

    The output covers the densified envelope of the grid in Mercator exactly, with about as
    many pixels along its diagonal as the grid has cells along its own (GDAL's rule), then
    fewer if the cap requires. Cells are averaged (NaN ignored) when the image is coarser than
    the grid, otherwise the nearest cell is taken so that no value is invented.
    """
    import rasterio.crs
    from affine import Affine
    from rasterio.warp import Resampling, reproject, transform_bounds

    # Not calculate_default_transform: it goes through affine's deprecated `*` (a warning
    # with affine ≥ 3.1), and computing the extent here keeps it unsnapped.
    src_crs = rasterio.crs.CRS.from_wkt(grid.crs.to_wkt())
    dst_crs = rasterio.crs.CRS.from_epsg(3857)
    h, w = grid.shape
    left, bottom, right, top = transform_bounds(
        src_crs, dst_crs, *_extent(grid.transform, w, h), densify_pts=21
    )
    res = math.hypot(right - left, top - bottom) / math.hypot(w, h)
    dw, dh = max(1, round((right - left) / res)), max(1, round((top - bottom) / res))
    scale = max(dw, dh) / max_px
    if scale > 1:
        # floor keeps the longer side within the cap.
        dw, dh = max(1, math.floor(dw / scale)), max(1, math.floor(dh / scale))
    transform = Affine((right - left) / dw, 0.0, left, 0.0, -(top - bottom) / dh, top)
    out = np.full((dh, dw), np.nan, dtype=np.float32)
    reproject(
        source=np.asarray(grid.data, dtype=np.float32),
        destination=out,
        src_transform=grid.transform,
        src_crs=src_crs,
        src_nodata=np.nan,
        dst_transform=transform,
        dst_crs=dst_crs,
        dst_nodata=np.nan,
        resampling=Resampling.average if scale > 1 else Resampling.nearest,
    )
    return out, (left, bottom, right, top)


def coverage_overlay_png(
    grid: Grid,
    *,
    vmin: float = SIGNAL_VMIN_DBM,
    vmax: float = SIGNAL_VMAX_DBM,
    max_px: int = 1600,
    colors: Sequence[str] = SIGNAL_COLORS,
) -> tuple[bytes, tuple[tuple[float, float], tuple[float, float]]]:
    """Colour a float grid as a PNG for a Leaflet image overlay.

    Leaflet positions an ImageOverlay by lat/lon corners but stretches it linearly in Web
    Mercator pixels, so the grid is warped to EPSG:3857 first and the returned bounds are the
    lat/lon of that Mercator extent (exact: Mercator x depends on lon only, y on lat only).

    Parameters
    ----------
    grid
        Float grid (e.g. the signal level in dBm) in any projected CRS; NaN = no value.
    vmin, vmax
        Values mapped to the first and last colour; values outside are clipped.
    max_px
        Cap on the longer side of the image (pixels); larger grids are averaged down.
    colors
        Colour stops (hex), equally spaced between ``vmin`` and ``vmax``.

    Returns
    -------
    png, bounds
        An 8-bit palette PNG (index 0 fully transparent, used for NaN) and
        ``((south, west), (north, east))`` in degrees.

    Notes
    -----
    Memory is a few times the size of the output image; warping a 2-million-cell grid takes
    well under a second.
    """
    from PIL import Image
    from pyproj import Transformer

    if not vmax > vmin:
        raise ValueError(f"vmax ({vmax}) must be greater than vmin ({vmin})")
    if max_px < 1:
        raise ValueError(f"max_px must be ≥ 1, got {max_px}")
    values, (left, bottom, right, top) = _warp_to_mercator(grid, max_px=max_px)

    t = np.clip((values - vmin) / (vmax - vmin), 0.0, 1.0)
    index = np.zeros(values.shape, dtype=np.uint8)
    ok = np.isfinite(values)
    index[ok] = 1 + np.rint(t[ok] * (SIGNAL_LEVELS - 1)).astype(np.uint8)
    palette = np.vstack([[255, 255, 255], _palette(colors, SIGNAL_LEVELS)])

    image = Image.fromarray(index)
    image.putpalette(palette.astype(np.uint8).ravel().tolist())
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", transparency=0)

    to_lonlat = Transformer.from_crs(3857, 4326, always_xy=True)
    west, south = to_lonlat.transform(left, bottom)
    east, north = to_lonlat.transform(right, top)
    logger.debug("coverage overlay %dx%d px, %d bytes", *values.shape[::-1], buffer.tell())
    return buffer.getvalue(), ((south, west), (north, east))


# -- vector helpers --------------------------------------------------------------------------
def _for_display(gdf: gpd.GeoDataFrame, *, simplify_m: float = SIMPLIFY_M) -> gpd.GeoDataFrame:
    """Simplify in metres, reproject to EPSG:4326, round coordinates; drop empty geometries."""
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    geoms = gdf.geometry
    if simplify_m > 0 and gdf.crs is not None and gdf.crs.is_projected:
        geoms = geoms.simplify(simplify_m, preserve_topology=True)
    if gdf.crs is not None:
        geoms = geoms.to_crs(4326)
    rounded = shapely.transform(np.asarray(geoms.values), lambda xy: np.round(xy, COORD_DECIMALS))
    return gdf.set_geometry(gpd.GeoSeries(rounded, index=gdf.index, crs=4326))


def _collection(gdf: gpd.GeoDataFrame, properties: Sequence[dict]) -> dict:
    """A GeoJSON FeatureCollection with only the given (already safe) properties."""
    features = [
        {
            "type": "Feature",
            "id": str(i),
            "properties": props,
            "geometry": shapely.geometry.mapping(geom),
        }
        for i, (geom, props) in enumerate(zip(gdf.geometry, properties, strict=True))
    ]
    return {"type": "FeatureCollection", "features": features}


def _get(row: Any, key: str) -> Any:
    """``row[key]`` or None when the column is missing or the value is NaN."""
    value = row.get(key) if hasattr(row, "get") else getattr(row, key, None)
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):  # lists, arrays: not missing
        pass
    return value


def _values(frame: pd.DataFrame, column: str) -> list:
    """Non-missing values of a column, or [] when the column is absent."""
    return frame[column].dropna().tolist() if column in frame else []


def _with_unit(text: str, unit: str) -> str:
    return text if text == "–" else f"{text} {unit}"


def _bounds_of(gdf: gpd.GeoDataFrame) -> tuple[float, float, float, float] | None:
    if len(gdf) == 0:
        return None
    west, south, east, north = gdf.total_bounds
    return (south, west, north, east) if np.all(np.isfinite([west, south, east, north])) else None


# -- layers ----------------------------------------------------------------------------------
def _blank_tile_url() -> str:
    """A 1×1 light-grey PNG as a data URL: a basemap that needs no network."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (1, 1), (245, 245, 243)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _add_basemaps(m: folium.Map, lab: dict[str, str], *, offline: bool = False) -> None:
    """OpenStreetMap (shown at start), CARTO Positron and a blank basemap; an offline map
    starts on the blank one, the only one that needs no network."""
    folium.TileLayer("OpenStreetMap", name=lab["basemap_osm"], show=not offline).add_to(m)
    # The URL is given directly: xyzservices' CartoDB entry now carries an API-key
    # placeholder (and warns), while the public light_all tiles keep working without one.
    folium.TileLayer(
        CARTO_POSITRON_URL,
        attr=CARTO_ATTRIBUTION,
        name=lab["basemap_light"],
        show=False,  # one base layer at start; otherwise all three stack
        subdomains="abcd",
        max_zoom=20,
    ).add_to(m)
    folium.TileLayer(
        _blank_tile_url(), attr="lomsong", name=lab["basemap_none"], max_zoom=22, show=offline
    ).add_to(m)


def _add_signal(
    m: folium.Map, signal: Coverage, lab: dict[str, str], *, max_px: int
) -> tuple[float, float, float, float]:
    png, ((south, west), (north, east)) = coverage_overlay_png(signal.power, max_px=max_px)
    url = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    folium.raster_layers.ImageOverlay(
        url,
        bounds=[[south, west], [north, east]],
        opacity=OVERLAY_OPACITY,
        name=lab["layer_signal"],
        interactive=False,
    ).add_to(m)
    return south, west, north, east


# -- the rule in the legend ------------------------------------------------------------------
class Level(NamedTuple):
    """What the rule asks of one technology, on the scale of the signal map (median level).

    Attributes
    ----------
    tech
        "2G" … "5G".
    quantity
        The quantity its levels are in: RxLev, RSCP, RSRP or SS-RSRP.
    signal_dbm
        Median level from which a place has signal (weak or reliable): the threshold plus the
        median building entry loss (dBm).
    reliable_dbm
        Median level from which it is reliable at the rule's location probability: plus the
        fade margin (dBm). Equal to ``signal_dbm`` at p = 0.5. NaN when the run's model has
        its own location variability (ITM: the level varies from place to place,
        :meth:`~lomsong.coverage.rule.CoverageRule.reliable_level`).
    """

    tech: str
    quantity: str
    signal_dbm: float
    reliable_dbm: float


def rule_levels(rule: CoverageRule, towers: pd.DataFrame | None = None) -> list[Level]:
    """The levels of the rule for the technologies a map or report shows, newest first.

    Shown are the technologies of ``towers`` (its ``tech`` column) that the rule counts;
    without towers, or when none of theirs counts, the rule's ``technologies``, else 4G.
    Terminal clutter is left out: it differs from cell to cell, so it has no place on a scale.
    """
    present: set[str] = set()
    if towers is not None and len(towers) and "tech" in towers:
        present = {str(t) for t in towers["tech"].dropna()}
    shown = [t for t in TECH_ORDER if t in present and rule.counts(t)]
    if not shown:
        shown = [t for t in TECH_ORDER if t in rule.technologies] or ["4G"]
    return [Level(t, QUANTITY[t], rule.signal_threshold(t), rule.reliable_level(t)) for t in shown]


def _at(value: float) -> float:
    """Position (%) of a level on the signal scale, clipped to its ends."""
    clipped = min(max(float(value), SIGNAL_VMIN_DBM), SIGNAL_VMAX_DBM)
    return 100.0 * (clipped - SIGNAL_VMIN_DBM) / (SIGNAL_VMAX_DBM - SIGNAL_VMIN_DBM)


def _signal_legend_html(levels: Sequence[Level], lab: dict[str, str], lang: str) -> str:
    """The signal map's key: its quantity, the colour scale with the 4G levels marked on it
    (another technology's when there is no 4G), and a row per technology with the level from
    which it gives signal and the one from which it is reliable.

    A CSS gradient over the same equally spaced stops as the image (:func:`_palette`), so
    legend and image agree. Only our labels and numbers: nothing from data.
    """
    stops = ", ".join(f"{c} {100.0 * i / (len(SIGNAL_COLORS) - 1):g}%"
                      for i, c in enumerate(SIGNAL_COLORS))  # fmt: skip
    lead = next((lv for lv in levels if lv.tech == "4G"), levels[0])
    name = f"{lead.quantity} ({lead.tech})"
    marks = (
        f'<span class="ls-mark" style="left:{_at(lead.signal_dbm):.2f}%" '
        f'title="{name} {format_dbm(lead.signal_dbm, lang)} dBm"></span>'
    )
    if math.isfinite(lead.reliable_dbm):  # ITM: no one level, no mark
        marks += (f'<span class="ls-mark ls-mark-reliable" '
                  f'style="left:{_at(lead.reliable_dbm):.2f}%" '
                  f'title="{name} {format_dbm(lead.reliable_dbm, lang)} dBm"></span>')  # fmt: skip
    ticks = "".join(
        f'<span style="left:{_at(v):.2f}%">{format_dbm(v, lang)}</span>'
        for v in np.arange(SIGNAL_VMIN_DBM, SIGNAL_VMAX_DBM + 1e-9, SIGNAL_TICK_DB)
    )
    head = (
        f'<tr><th></th><th><span class="ls-mark-key"></span>{lab["legend_from_weak"]}</th>'
        f'<th><span class="ls-mark-key ls-mark-reliable"></span>{lab["legend_from_reliable"]}'
        "</th></tr>"
    )
    rows = "".join(
        f"<tr><td>{lv.quantity} ({lv.tech})</td><td>{format_dbm(lv.signal_dbm, lang)}</td>"
        f"<td>{_reliable_cell(lv, lab, lang)}</td></tr>"
        for lv in levels
    )
    caption = (f"<caption>{lab['legend_marks'].format(tech=name)}</caption>"
               if len(levels) > 1 else "")  # fmt: skip
    quantities = "/".join(lv.quantity for lv in levels)
    width = f"width:{SIGNAL_LEGEND_PX}px"
    return (
        f'<div class="ls-legend-signal"><div class="ls-legend-title">'
        f"{lab['legend_signal'].format(quantities=quantities)}</div>"
        f'<div class="ls-scale" style="{width};background:linear-gradient(to right, {stops})">'
        f'{marks}</div><div class="ls-ticks" style="{width}">{ticks}</div>'
        f'<table class="ls-levels">{caption}{head}{rows}</table></div>'
    )


def _reliable_cell(level: Level, lab: dict[str, str], lang: str) -> str:
    """The legend's "reliable from" entry: the level, or under ITM "varies by place"."""
    if math.isfinite(level.reliable_dbm):
        return format_dbm(level.reliable_dbm, lang)
    return lab["legend_per_place"]


def _class_key(status: str, lab: dict[str, str]) -> str:
    """Swatch and word of a class; an unknown status read from data is shown escaped, grey."""
    word = lab[CLASS_LABELS[status]] if status in CLASS_LABELS else escape_text(status)
    color = STATUS_COLORS.get(status, NO_STATUS_COLOR)
    return f'<span class="ls-class" style="background:{color}"></span>{word}'


def _status_legend_html(lab: dict[str, str]) -> str:
    """The villages' key: the three classes with their colours, worst first."""
    keys = "".join(f"<div>{_class_key(c, lab)}</div>" for c in CLASSES)
    return (f'<div class="ls-legend-status"><div class="ls-legend-title">'
            f"{lab['legend_status']}</div>{keys}</div>")  # fmt: skip


class _Legend(MacroElement):
    """The legend as a Leaflet control in the bottom-left corner, above the scale bar: the
    right-hand column already holds the layer control, the summary and the mini-map.

    ``html`` is ours (labels and formatted numbers); it reaches the page through ``tojson``,
    which also escapes ``<`` and ``>`` so it cannot close the script.
    """

    _template = Template(
        """{% macro script(this, kwargs) %}
        (function (map) {
            var legend = L.control({position: 'bottomleft'});
            legend.onAdd = function () {
                var div = L.DomUtil.create('div', 'ls-legend leaflet-control');
                div.innerHTML = {{ this.html|tojson }};
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                return div;
            };
            legend.addTo(map);
        })({{ this._parent.get_name() }});
        {% endmacro %}"""
    )

    def __init__(self, html_text: str) -> None:
        super().__init__()
        self._name = "Legend"
        self.html = html_text


# -- villages --------------------------------------------------------------------------------


def _status_of(row: Any) -> str | None:
    """A village's class: its ``status``, else ``no_signal`` for a dead one (tables from
    before the three classes); None when unknown."""
    status = _get(row, "status")
    if status is not None:
        return str(status)
    dead = _get(row, "dead")
    return "no_signal" if dead is not None and bool(dead) else None


def _village_tooltip(row: Any, lab: dict[str, str], lang: str) -> str:
    rows = [
        (lab["commune"], escape_text(_get(row, "commune"))),
        (lab["district"], escape_text(_get(row, "district"))),
        (lab["households"], format_int(_get(row, "households"), lang)),
    ]
    none, weak = _get(row, "households_no_signal"), _get(row, "households_weak")
    if none is not None and weak is not None:
        rows += [
            (lab["households_no_signal"], format_int(none, lang)),
            (lab["households_weak"], format_int(weak, lang)),
            (lab["households_covered"], format_int(_get(row, "households_covered"), lang)),
        ]
    elif (uncovered := _get(row, "households_uncovered")) is not None:
        share = _get(row, "share_uncovered")
        rows.append((lab["households_uncovered"],
                     f"{format_int(uncovered, lang)} ({format_pct(share, lang)})"))  # fmt: skip
    probability = _get(row, "coverage_probability")
    if probability is not None:
        rows.append((lab["coverage_probability"], format_pct(probability, lang)))
    status = _status_of(row)
    if status is not None:
        rows.append((lab["status"], _class_key(status, lab)))
    return _rows_html(rows, header=escape_text(_get(row, "name")))


def _village_popup(row: Any, tip: str) -> str:
    """The tooltip's facts, plus for a dark village why (one sentence) and its terrain profile.

    ``profile_png`` is base64 PNG made by the pipeline (only [A-Za-z0-9+/=]: safe in HTML).
    """
    parts = [tip]
    sentence = _get(row, "dark_sentence")
    if sentence:
        parts.append(f'<p style="max-width:480px;margin:6px 0">{escape_text(sentence)}</p>')
    png = _get(row, "profile_png")
    if (
        png
        and isinstance(png, str)
        and png.isascii()
        and png.replace("+", "").replace("/", "").rstrip("=").isalnum()
    ):
        parts.append(f'<img src="data:image/png;base64,{png}" width="480" alt="">')
    return "".join(parts)


def _add_villages(
    m: folium.Map, villages: gpd.GeoDataFrame, lab: dict[str, str], lang: str
) -> tuple[float, float, float, float] | None:
    """Villages filled by status (no signal / weak / reliable), the first thing a commune
    reads; the tooltip and popup hold the counts behind it."""
    shown = _for_display(villages)
    props = []
    for _, row in shown.iterrows():
        status = _status_of(row)
        tip = _village_tooltip(row, lab, lang)
        props.append({
            "tip": tip,
            "fill": STATUS_COLORS.get(status, NO_STATUS_COLOR),
            "popup": _village_popup(row, tip),
            "status": status if status in STATUS_COLORS else "",
        })  # fmt: skip

    def style(feature: dict) -> dict:
        return {
            "fillColor": feature["properties"]["fill"],
            "color": "#555555",
            "weight": 0.8,
            "fillOpacity": 0.55,
        }

    folium.GeoJson(
        _collection(shown, props),
        name=lab["layer_villages"],
        style_function=style,
        highlight_function=lambda _f: {"weight": 3, "color": "#000000"},
        tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False, sticky=True),
        popup=folium.GeoJsonPopup(fields=["popup"], labels=False, max_width=520),
    ).add_to(m)
    return _bounds_of(shown)


def _format_villages_field(value: Any, lang: str, names: dict[str, Any] | None = None) -> str:
    """The villages of a zone: names where the ids are known, at most ZONE_VILLAGES_SHOWN."""
    if value is None:
        return "–"
    if isinstance(value, int | np.integer | float | np.floating):
        return format_int(value, lang)
    if isinstance(value, str):
        # dead_zones stores the ids as one comma-separated string
        value = [v.strip() for v in value.split(",") if v.strip()] if names else [value]
    items = [names.get(str(v), v) if names else v for v in value]
    shown = ", ".join(escape_text(v) for v in items[:ZONE_VILLAGES_SHOWN])
    if len(items) > ZONE_VILLAGES_SHOWN:
        shown += f", … (+{format_int(len(items) - ZONE_VILLAGES_SHOWN, lang)})"
    return shown


def _add_zones(
    m: folium.Map,
    zones: gpd.GeoDataFrame,
    lab: dict[str, str],
    lang: str,
    names: dict[str, Any] | None = None,
) -> tuple[float, float, float, float] | None:
    shown = _for_display(zones)
    props = []
    for _, row in shown.iterrows():
        rows = [
            (lab["households"], format_int(_get(row, "households"), lang)),
            (lab["area"], _with_unit(format_float(_get(row, "area_km2"), lang, digits=2), "km²")),
            (lab["villages"], _format_villages_field(_get(row, "villages"), lang, names)),
            (
                lab["nearest_tower"],
                _with_unit(format_float(_get(row, "nearest_tower_km"), lang), "km"),
            ),
        ]
        header = f"{lab['zone']} {escape_text(_get(row, 'zone_id'))}"
        props.append({"tip": _rows_html(rows, header=header)})
    stripes = plugins.StripePattern(
        angle=-45, weight=2, space_weight=4, color=DEAD_ZONE_COLOR, opacity=0.9
    )
    stripes.add_to(m)

    def style(_feature: dict) -> dict:
        return {
            "color": DEAD_ZONE_COLOR,
            "weight": 1.5,
            "fillColor": DEAD_ZONE_COLOR,
            "fillOpacity": 0.9,
            "fillPattern": stripes,
        }

    folium.GeoJson(
        _collection(shown, props),
        name=lab["layer_zones"],
        style_function=style,
        tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False, sticky=True),
    ).add_to(m)
    return _bounds_of(shown)


def _tower_popup(sectors: Sequence[dict], lab: dict[str, str], lang: str) -> str:
    """One popup per position: a row per sector (id, operator, tech, height, EIRP, azimuth)."""
    head = "".join(
        f"<th>{lab[k]}</th>"
        for k in ("tower", "operator", "tech", "freq", "height", "eirp", "azimuth")
    )
    body = []
    for row in sectors:
        azimuth = _get(row, "azimuth_deg")
        cells = (
            escape_text(_get(row, "tower_id")),
            escape_text(_get(row, "operator")),
            escape_text(_get(row, "tech")),
            _with_unit(format_int(_get(row, "freq_mhz"), lang), "MHz"),
            _with_unit(format_int(_get(row, "height_m"), lang), "m"),
            _with_unit(format_float(_get(row, "eirp_dbm"), lang), "dBm"),
            lab["omni"] if azimuth is None else f"{format_int(azimuth, lang)}°",
        )
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    site = _get(sectors[0], "site_id")
    title = f"{lab['site']} {escape_text(site)}" if site is not None else ""
    return f'<div class="ls-tip"><b>{title}</b><table><tr>{head}</tr>{"".join(body)}</table></div>'


def _add_towers(
    m: folium.Map, towers: gpd.GeoDataFrame, lab: dict[str, str], lang: str
) -> tuple[float, float, float, float] | None:
    shown = _for_display(towers, simplify_m=0)
    cluster = plugins.MarkerCluster(name=lab["layer_towers"], options={"maxClusterRadius": 40})
    # Sectors of one site share a position: one marker per position, a popup row per sector.
    # One GeoJSON layer of points (popup and tooltip from each feature's properties), not a
    # folium Marker per position: a thousand Markers took seconds of template rendering.
    rows = pd.DataFrame(shown.drop(columns=shown.geometry.name)).to_dict("records")
    sites: dict[tuple[float, float], list[int]] = {}
    for i, key in enumerate(zip(shown.geometry.y, shown.geometry.x, strict=True)):
        sites.setdefault(key, []).append(i)
    props = []
    for members in sites.values():
        sectors = [rows[i] for i in members]
        operators = {_get(r, "operator") for r in sectors} - {None}
        operators = ", ".join(sorted(escape_text(o) for o in operators))
        ids = ", ".join(escape_text(_get(r, "tower_id")) for r in sectors
                        if _get(r, "tower_id") is not None)  # fmt: skip
        props.append({"tip": f"{ids} ({operators})" if operators else ids,
                      "popup": _tower_popup(sectors, lab, lang)})  # fmt: skip
    if props:
        first = [members[0] for members in sites.values()]
        folium.GeoJson(
            _collection(shown.iloc[first], props),
            marker=folium.Marker(
                icon=folium.Icon(color=TOWER_MARKER_COLOR, icon=TOWER_ICON, prefix="fa")
            ),
            # bound on each marker: the cluster takes the markers out of the GeoJSON layer,
            # whose own popup (GeoJsonPopup) would then never open
            on_each_feature=JsCode(
                "function (feature, layer) {"
                " layer.bindPopup(feature.properties.popup, {maxWidth: 480});"
                " layer.bindTooltip(feature.properties.tip); }"
            ),
        ).add_to(cluster)
    cluster.add_to(m)
    return _bounds_of(shown)


def _add_candidates(
    m: folium.Map, candidates: gpd.GeoDataFrame, lab: dict[str, str]
) -> tuple[float, float, float, float] | None:
    shown = _for_display(candidates, simplify_m=0)
    props = [{"tip": escape_text(_get(row, "site_id"))} for _, row in shown.iterrows()]
    folium.GeoJson(
        _collection(shown, props),
        name=lab["layer_candidates"],
        marker=folium.CircleMarker(
            radius=3, color="#636363", weight=1, fill=True, fill_opacity=0.4
        ),
        tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False),
        show=False,
    ).add_to(m)
    return _bounds_of(shown)


def _rank_popup_html(row: Any, lab: dict[str, str], lang: str) -> str:
    """Popup of a ranked site: its rank, id and what it adds."""
    hops = _get(row, "backhaul_hops")
    ok = _get(row, "backhaul_ok")
    backhaul = "–" if ok is None else lab["backhaul_ok"] if bool(ok) else lab["backhaul_no"]
    if hops is not None and hops >= 0:  # −1: no backhaul path, so no hop count
        backhaul += f" ({format_int(hops, lang)} {lab['hops']})"
    rows = [
        (lab["site"], escape_text(_get(row, "site_id"))),
        (lab["new_households"], format_int(_get(row, "new_households"), lang)),
        (lab["cumulative_households"], format_int(_get(row, "cumulative_households"), lang)),
        (lab["cumulative_share"], format_pct(_get(row, "cumulative_share"), lang)),
        (lab["villages_reached"], format_int(_get(row, "villages_reached"), lang)),
    ]
    names = _get(row, "village_names")
    if names is not None:
        # rank_sites writes them as one "; "-separated string
        items = [n.strip() for n in str(names).split(";") if n.strip()]
        rows.append((lab["villages"], _format_villages_field(items, lang)))
    rows.append((lab["backhaul"], backhaul))
    return _rows_html(rows, header=f"{lab['rank']} {int(_get(row, 'rank'))}")


def _add_ranking(
    m: folium.Map, ranking: gpd.GeoDataFrame | pd.DataFrame, lab: dict[str, str], lang: str
) -> tuple[float, float, float, float] | None:
    if not isinstance(ranking, gpd.GeoDataFrame) or ranking.crs is None:
        # A table read from ranking.csv: positions from its lon/lat columns.
        points = gpd.points_from_xy(ranking["lon"], ranking["lat"])
        ranking = gpd.GeoDataFrame(pd.DataFrame(ranking), geometry=points, crs=4326)
    shown = _for_display(ranking, simplify_m=0)
    group = folium.FeatureGroup(name=lab["layer_ranking"])
    for _, row in shown.sort_values("rank", ascending=False).iterrows():  # rank 1 drawn on top
        rank = int(row["rank"])
        folium.Marker(
            [row.geometry.y, row.geometry.x],
            icon=folium.DivIcon(
                html=f'<div class="ls-rank">{rank}</div>',
                icon_size=(28, 28),
                icon_anchor=(14, 14),
                class_name="ls-rank-icon",
            ),
            popup=folium.Popup(_rank_popup_html(row, lab, lang), max_width=360),
            tooltip=folium.Tooltip(f"{lab['rank']} {rank}: {escape_text(_get(row, 'site_id'))}"),
            z_index_offset=1000 - rank,
        ).add_to(group)
    group.add_to(m)
    return _bounds_of(shown)


# -- field evidence --------------------------------------------------------------------------
#: Colour of a measurement by its residual measured − predicted (dB), ColorBrewer RdBu:
#: red where the phone measured less than predicted (the map is optimistic there), blue more;
#: clipped at ±:data:`RESIDUAL_CLIP_DB`, white around 0.
RESIDUAL_COLORS = ("#b2182b", "#ef8a62", "#fddbc7", "#f7f7f7", "#d1e5f0", "#67a9cf", "#2166ac")
RESIDUAL_CLIP_DB = 15.0
#: A no-service sample (black: nothing heard) and one without a prediction (grey).
NO_SERVICE_COLOR = "#000000"
UNPREDICTED_COLOR = "#969696"
#: Most samples drawn (evenly thinned beyond, said in the layer's name): a walk test logs a row
#: a second, and 10⁵ circle markers make a browser crawl.
MEASUREMENTS_SHOWN = 5000
#: Reported hamlets by agreement: missed red (a dark hamlet the map does not show), extra
#: orange, agreed blue (ColorBrewer RdYlBu, told apart by colour-blind readers).
AGREEMENT_COLORS = {"missed": "#d73027", "extra": "#fdae61", "agreed": "#4575b4"}


def _residual_color(residual: float | None, no_service: bool) -> str:
    if no_service:
        return NO_SERVICE_COLOR
    if residual is None or not math.isfinite(residual):
        return UNPREDICTED_COLOR
    k = len(RESIDUAL_COLORS)
    t = (min(max(residual, -RESIDUAL_CLIP_DB), RESIDUAL_CLIP_DB) + RESIDUAL_CLIP_DB) / (
        2 * RESIDUAL_CLIP_DB)  # fmt: skip
    return RESIDUAL_COLORS[min(int(t * k), k - 1)]


def _add_measurements(
    m: folium.Map, measurements: gpd.GeoDataFrame, lab: dict[str, str], lang: str
) -> tuple[float, float, float, float] | None:
    """The walk-test samples as dots coloured by residual; tooltip: cell, levels, residual."""
    n = len(measurements)
    step = max(1, math.ceil(n / MEASUREMENTS_SHOWN))
    shown = _for_display(measurements.iloc[::step], simplify_m=0)
    props = []
    for _, row in shown.iterrows():
        no_service = bool(_get(row, "no_service"))
        residual = _get(row, "residual_db")
        measured = lab["no_service"] if no_service else _with_unit(
            format_float(_get(row, "level_dbm"), lang), "dBm")  # fmt: skip
        rows = [
            (lab["cell"], escape_text(_get(row, "tower_id")) if _get(row, "tower_id") else "–"),
            (lab["operator"], escape_text(_get(row, "operator"))),
            (lab["tech"], escape_text(_get(row, "tech"))),
            (lab["measured"], measured),
            (lab["predicted"], _with_unit(format_float(_get(row, "predicted_dbm"), lang), "dBm")),
            (lab["residual"], _with_unit(format_float(residual, lang), "dB")),
        ]
        props.append({"tip": _rows_html(rows),
                      "c": _residual_color(residual, no_service)})  # fmt: skip
    name = lab["layer_measurements"]
    if step > 1:
        name += " (" + lab["shown_of"].format(shown=format_int(len(shown), lang),
                                              n=format_int(n, lang)) + ")"  # fmt: skip

    def style(feature: dict) -> dict:
        c = feature["properties"]["c"]
        return {"color": "#333333", "weight": 0.5, "fillColor": c, "fillOpacity": 0.9}

    folium.GeoJson(
        _collection(shown, props),
        name=name,
        marker=folium.CircleMarker(radius=4, fill=True),
        style_function=style,
        tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False),
    ).add_to(m)
    return _bounds_of(shown)


def _add_reported(
    m: folium.Map, validation: Validation, lab: dict[str, str]
) -> tuple[float, float, float, float] | None:
    """The reported hamlets that name a village, at the village, coloured by agreement."""
    h = validation.hamlets
    located = h[h["agreement"].isin(list(AGREEMENT_COLORS))] if len(h) else h
    if not len(located):
        return None
    where = validation.villages.set_index("village_id").geometry.representative_point()
    points = gpd.GeoDataFrame(
        located.reset_index(drop=True),
        geometry=[where.get(str(v)) for v in located["village_id"]],
        crs=validation.villages.crs,
    )
    shown = _for_display(points, simplify_m=0)

    def word(status: Any) -> str:
        status = "reliable" if status == "ok" else status
        return lab[CLASS_LABELS[status]] if status in CLASS_LABELS else escape_text(status)

    props = []
    for _, row in shown.iterrows():
        rows = [
            (lab["matched_name"], escape_text(_get(row, "matched_name"))),
            (lab["reported_status"], word(_get(row, "status"))),
            (lab["predicted_status"], word(_get(row, "predicted_status"))),
            (lab["agreement"], lab[str(row["agreement"])]),
        ]
        props.append({"tip": _rows_html(rows, header=escape_text(_get(row, "name"))),
                      "c": AGREEMENT_COLORS[str(row["agreement"])]})  # fmt: skip

    def style(feature: dict) -> dict:
        c = feature["properties"]["c"]
        return {"color": "#000000", "weight": 1.5, "fillColor": c, "fillOpacity": 0.95}

    folium.GeoJson(
        _collection(shown, props),
        name=lab["layer_reported"],
        marker=folium.CircleMarker(radius=9, fill=True),
        style_function=style,
        tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False, sticky=True),
    ).add_to(m)
    return _bounds_of(shown)


def _evidence_legend_html(validation: Validation, lab: dict[str, str], lang: str) -> str:
    """Keys of the evidence layers: residual colours, no service; agreement colours."""
    parts = []
    if len(validation.measurements):
        k = len(RESIDUAL_COLORS)
        edges = np.linspace(-RESIDUAL_CLIP_DB, RESIDUAL_CLIP_DB, k + 1)
        keys = "".join(
            f'<div><span class="ls-class" style="background:{c}"></span>'
            f"{format_float(lo, lang, digits=0)}…{format_float(hi, lang, digits=0)}</div>"
            for c, lo, hi in zip(RESIDUAL_COLORS, edges[:-1], edges[1:], strict=True)
        )
        keys += (f'<div><span class="ls-class" style="background:{NO_SERVICE_COLOR}"></span>'
                 f"{lab['no_service']}</div>")  # fmt: skip
        parts.append(f'<div><div class="ls-legend-title">{lab["legend_residual"]}</div>'
                     f"{keys}</div>")  # fmt: skip
    if len(validation.hamlets):
        keys = "".join(
            f'<div><span class="ls-class" style="background:{c}"></span>{lab[k]}</div>'
            for k, c in AGREEMENT_COLORS.items()
        )
        parts.append(f'<div><div class="ls-legend-title">{lab["layer_reported"]}</div>'
                     f"{keys}</div>")  # fmt: skip
    return "".join(parts)


def _add_evidence(
    m: folium.Map, validation: Validation, lang: str
) -> list[tuple[float, float, float, float] | None]:
    """The map's two evidence layers (measurements, reported hamlets)."""
    lab = for_lang(VALIDATION, lang)
    bounds = []
    if len(validation.measurements):
        bounds.append(_add_measurements(m, validation.measurements, lab, lang))
    bounds.append(_add_reported(m, validation, lab))
    return bounds


# -- title, summary, bounds ------------------------------------------------------------------
def _summary_values(
    villages: gpd.GeoDataFrame | None,
    gaps: DeadZones | None,
    ranking: gpd.GeoDataFrame | None,
    given: dict | None,
) -> dict[str, Any]:
    """Totals for the summary box, computed from the inputs; ``given`` keys take precedence.

    The households of each class and the villages by status are the villages' sums, as every
    total of a run is (``summary.json``'s totals give no per-class counts).
    """
    out: dict[str, Any] = {}
    v = villages if villages is not None else pd.DataFrame()
    for column in ("households", "households_uncovered", "households_no_signal",
                   "households_weak"):  # fmt: skip
        if column in v:
            out[column] = int(v[column].sum())
    if "households_uncovered" not in v and gaps is not None and "households" in gaps.households:
        out["households_uncovered"] = int(gaps.uncovered["households"].sum())
    if "dead" in v:
        out["dead_villages"] = int(v["dead"].astype(bool).sum())
    if "status" in v:
        out["weak_villages"] = int((v["status"] == "weak").sum())
    if ranking is not None:
        out["sites"] = len(ranking)
        if "cumulative_households" in ranking and len(ranking):
            out["households_reached_by_sites"] = int(ranking["cumulative_households"].max())
        elif "new_households" in ranking:
            out["households_reached_by_sites"] = int(ranking["new_households"].sum())
    out.update(given or {})
    return out


def _summary_html(
    values: dict[str, Any], lab: dict[str, str], lang: str, rule: str | None = None
) -> str:
    rows = []
    if "households" in values:
        rows.append((lab["sum_households"], format_int(values["households"], lang)))
    # households without reliable signal, then apart: no signal at all, and weak signal
    for key, label in (("households_uncovered", "sum_uncovered"),
                       ("households_no_signal", "sum_no_signal"),
                       ("households_weak", "sum_weak")):  # fmt: skip
        if key in values:
            text = format_int(values[key], lang)
            if values.get("households"):
                text += f" ({format_pct(values[key] / values['households'], lang)})"
            rows.append((lab[label], text))
    for key, label in (("dead_villages", "sum_dead_villages"),
                       ("weak_villages", "sum_weak_villages")):  # fmt: skip
        if key in values:
            rows.append((lab[label], format_int(values[key], lang)))
    if "households_reached_by_sites" in values:
        label = lab["sum_reached"].format(sites=format_int(values.get("sites"), lang))
        rows.append((label, format_int(values["households_reached_by_sites"], lang)))
    table = "".join(f'<tr><td>{k}</td><td class="n">{v}</td></tr>' for k, v in rows)
    keys = (
        f'<div><span class="ls-swatch"></span>{lab["legend_dead_zone"]}</div>'
        f'<div><span class="ls-rank ls-rank-key">1</span>{lab["legend_rank"]}</div>'
    )
    said = f'<div class="ls-rule">{escape_text(rule)}</div>' if rule else ""
    return (
        f'<div class="ls-box ls-summary"><b>{lab["summary"]}</b><table>{table}</table>{keys}'
        f"{said}</div>"
    )


class _FitBounds(MacroElement):
    """Fit the view to the data, clear of the panels on the right (layers, summary, mini-map).

    On a screen at least :data:`FIT_WIDE_PX` wide the data keep out of the right-hand column
    of panels and from under the title; on a narrow one that margin would leave no room, so
    the view only keeps a small margin. ``maxZoom``: a single point would otherwise zoom to the
    maximum.
    """

    _template = Template(
        """{% macro script(this, kwargs) %}
        (function (map) {
            var wide = map.getSize().x >= {{ this.wide_px }};
            map.fitBounds({{ this.bounds|tojson }}, {
                maxZoom: {{ this.max_zoom }},
                paddingTopLeft: wide ? {{ this.top_left|tojson }} : [10, 10],
                paddingBottomRight: wide ? {{ this.bottom_right|tojson }} : [10, 10]
            });
        })({{ this._parent.get_name() }});
        {% endmacro %}"""
    )

    def __init__(self, bounds: list[list[float]], *, max_zoom: int = 15) -> None:
        super().__init__()
        self._name = "FitBounds"
        self.bounds = bounds
        self.max_zoom = int(max_zoom)
        self.wide_px = FIT_WIDE_PX
        self.top_left = list(FIT_PAD_TOP_LEFT_PX)
        self.bottom_right = list(FIT_PAD_BOTTOM_RIGHT_PX)


def _merge_bounds(
    parts: Iterable[tuple[float, float, float, float] | None],
) -> list[list[float]] | None:
    boxes = [b for b in parts if b is not None]
    if not boxes:
        return None
    s, w, n, e = np.array(boxes).T
    return [[float(s.min()), float(w.min())], [float(n.max()), float(e.max())]]


def _nonempty(gdf: gpd.GeoDataFrame | None) -> bool:
    return gdf is not None and len(gdf) > 0


# -- public ----------------------------------------------------------------------------------
def build_map(
    *,
    villages: gpd.GeoDataFrame | None = None,
    towers: gpd.GeoDataFrame | None = None,
    signal: Coverage | None = None,
    gaps: DeadZones | None = None,
    ranking: gpd.GeoDataFrame | pd.DataFrame | None = None,
    candidates: gpd.GeoDataFrame | None = None,
    lang: str = "vi",
    title: str | None = None,
    rule: CoverageRule | None = None,
    max_overlay_px: int = 1600,
    summary: dict | None = None,
    offline: bool = False,
    validation: Validation | None = None,
) -> folium.Map:
    """An interactive folium map of coverage, dead zones, villages, towers and proposed sites.

    Layers (each can be switched in the layer control; all optional):

    * basemaps: OpenStreetMap, CartoDB Positron, and a blank one that works offline;
    * the signal level of ``signal`` as an image (the best server's level in its technology's
      quantity: RSRP, RSCP, RxLev; colour scale −120…−50 dBm), warped to Web Mercator and at
      most ``max_overlay_px`` on a side;
    * villages coloured by status: no signal (lõm sóng), weak signal (sóng yếu) or reliable
      (có sóng), with the households of each class and the coverage probability in tooltips;
    * dead-zone polygons of ``gaps`` (red hatch: no reliable signal), with households, area
      and nearest tower;
    * existing towers as clustered markers, one per position (sectors listed in the popup);
    * ranked sites as numbered markers; all candidate sites as a faint layer (hidden at start).

    Plus a title; a legend (the signal's quantity and scale with each technology's levels for
    signal and for reliable signal, the three classes' colours); a summary box (households
    without reliable signal, of them with no signal and with weak signal, dead and weak
    villages, households reached by the proposed sites, and the rule in one sentence);
    full-screen, measure and mini-map controls. The view fits the data.

    Parameters
    ----------
    villages, towers, ranking, candidates
        GeoDataFrames in the project's metric CRS (see the data model in DESIGN.md).
        ``villages`` defaults to ``gaps.villages``. ``ranking`` may also be a plain table
        (ranking.csv): positions then come from its ``lon``/``lat`` columns (degrees).
    signal
        Result of ``predict``; ``signal.power`` is drawn.
    gaps
        Result of ``dead_zones``; ``gaps.zones`` is drawn and ``gaps.rule`` stated.
    lang
        ``"vi"`` (default) or ``"en"``: every label and the number format.
    title
        Map title (escaped); a default title in ``lang`` otherwise.
    rule
        The coverage rule of the legend and the summary; defaults to ``gaps.rule``, else (for
        the legend only) the default rule at the carriers of ``signal.towers``.
    max_overlay_px
        Longer side cap of the coverage image (pixels).
    summary
        Totals for the summary box (``households, households_uncovered,
        households_no_signal, households_weak, dead_villages, weak_villages,
        households_reached_by_sites, sites``); missing keys are computed from the inputs.
    offline
        A map for a place without network: it starts on the blank basemap (the others stay
        in the layer control) and has no mini-map (its tiles need the network). Save it with
        :func:`lomsong.maps.offline.save_offline`, which puts the libraries inline.
    validation
        The prediction against field evidence (:func:`lomsong.calibration.validate.validate`):
        adds a layer of the walk-test samples coloured by residual (measured − predicted;
        black: no service) and one of the reported hamlets at their village, coloured by
        agreement (missed, extra, agreed), with their keys in the legend.

    Returns
    -------
    folium.Map
        Save it with ``m.save("map.html")``. The page loads Leaflet and plugins from CDNs;
        data (including the coverage image) is embedded.
    """
    lab = for_lang(MAP, lang)
    if villages is None and gaps is not None:
        villages = gaps.villages
    if rule is None and gaps is not None:
        rule = gaps.rule
    signal_towers = signal.towers if signal is not None else None
    if signal_towers is None or "tech" not in signal_towers:
        signal_towers = towers

    m = folium.Map(location=[16.0, 107.5], zoom_start=6, tiles=None, control_scale=True)
    m.get_root().header.add_child(folium.Element(_MAP_CSS))
    _add_basemaps(m, lab, offline=offline)

    bounds = []
    legend = []
    if signal is not None:
        bounds.append(_add_signal(m, signal, lab, max_px=max_overlay_px))
        shown = rule if rule is not None else CoverageRule.for_network(
            towers=signal_towers, model=signal.model)  # fmt: skip
        legend.append(_signal_legend_html(rule_levels(shown, signal_towers), lab, lang))
    if _nonempty(villages):
        bounds.append(_add_villages(m, villages, lab, lang))
        if "status" in villages or "dead" in villages:
            legend.append(_status_legend_html(lab))
    if validation is not None:
        legend.append(_evidence_legend_html(validation, for_lang(VALIDATION, lang), lang))
    if legend:
        _Legend("".join(legend)).add_to(m)
    if gaps is not None and _nonempty(gaps.zones):
        names = None
        if villages is not None and {"village_id", "name"} <= set(villages.columns):
            names = dict(zip(villages["village_id"].astype(str), villages["name"], strict=True))
        bounds.append(_add_zones(m, gaps.zones, lab, lang, names))
    if _nonempty(candidates):
        bounds.append(_add_candidates(m, candidates, lab))
    if _nonempty(towers):
        bounds.append(_add_towers(m, towers, lab, lang))
    if _nonempty(ranking):
        bounds.append(_add_ranking(m, ranking, lab, lang))
    if validation is not None:
        bounds.extend(_add_evidence(m, validation, lang))

    heading = escape_text(title) if title is not None else lab["title"]
    root_html = m.get_root().html
    root_html.add_child(folium.Element(f'<div class="ls-box ls-title">{heading}</div>'))
    values = _summary_values(villages, gaps, ranking, summary)
    if values:
        said = rule.describe(lang) if rule is not None else None
        root_html.add_child(folium.Element(_summary_html(values, lab, lang, said)))

    plugins.Fullscreen().add_to(m)
    plugins.MeasureControl(
        position="topleft",  # under the zoom buttons: the right-hand column is full
        primary_length_unit="meters",
        secondary_length_unit="kilometers",
        primary_area_unit="sqmeters",
        secondary_area_unit="hectares",
    ).add_to(m)
    if not offline:
        plugins.MiniMap(toggle_display=True, position="bottomright").add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)

    box = _merge_bounds(bounds)
    if box is not None:
        _FitBounds(box).add_to(m)
    return m
