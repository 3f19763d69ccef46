"""QGIS outputs: the layers' styles (QML), the GeoPackage's default styles and ``planning.qgz``.

A planner who opens ``planning.qgz`` — or drags ``planning.gpkg`` or a GeoTIFF alone into
QGIS — sees the run drawn as it would be drawn by hand:

* the signal level (``coverage.tif``, ``coverage_<tech>.tif``) on the map's colour scale
  (viridis, −120…−50 dBm) with the rule's levels as labelled stops: "weak signal from" and
  "reliable signal from" per technology (:func:`lomsong.maps.build.rule_levels`); on a raster
  of a single quantity (RSRP, RSCP or RxLev) the levels below its signal threshold are faded;
* the margin over the rule (``margin.tif``) in diverging classes around 0 dB, red → blue: no
  signal below −(fade margin), weak signal up to 0, reliable from 0; where the technologies'
  fade margins differ, the band between them is "no or weak signal" (which one depends on
  the technology); no level at all (no data) is drawn as no signal;
* the serving cell (``serving.tif``), a colour per cell labelled with its id;
* villages by status (the three classes of :data:`lomsong.coverage.rule.CLASSES`, the map's
  colours) with their names, dead zones hatched, towers by operator (colour) and technology
  (shape), proposed sites as numbered markers, their backhaul hops as dashed lines.

Formats, written from the QGIS 3 sources (``github.com/qgis/QGIS``, read for QGIS 3.22, the
Debian 12 package the tests open the files with):

* **QML** — a ``<qgis>`` document whose children are the style elements of a map layer
  (``QgsMapLayer::importNamedStyle`` → ``readSymbology``). Vectors: ``renderer-v2`` of type
  ``categorizedSymbol`` (``attr``; ``categories/category`` with ``value``, ``label``,
  ``symbol``; ``symbols/symbol``; ``QgsCategorizedSymbolRenderer::create``; a category of
  value "" takes every other value) or ``singleSymbol``; a ``symbol`` holds symbol ``layer``
  elements (``class`` SimpleFill, LinePatternFill, SimpleLine, SimpleMarker) whose
  properties are an ``<Option type="Map">`` of strings and whose sub-symbol (the hatch lines)
  is a nested ``symbol`` (``QgsSymbolLayerUtils::loadSymbol``/``loadSymbolLayer``); labels
  are ``labeling type="simple"`` with ``settings/text-style`` (``fieldName``), ``text-buffer``,
  ``placement`` and ``rendering`` (``QgsPalLayerSettings::readXml``), switched on by the
  ``labelsEnabled`` attribute; field aliases are ``aliases/alias``; ``layerGeometryType``
  (0 point, 1 line, 2 polygon) guards against applying a style to another geometry.
  Rasters: ``pipe/rasterrenderer`` of type ``singlebandpseudocolor`` with
  ``rastershader/colorrampshader`` (``colorRampType`` INTERPOLATED or DISCRETE; ``item`` with
  ``value``, ``color``, ``alpha``, ``label``; DISCRETE gives a value the colour of the first
  item whose value is ≥ it, ``QgsColorRampShader::shade``; ``rampLegendSettings``
  ``useContinuousLegend="0"`` lists the items' labels in the legend) and ``nodataColor``;
  or of type ``paletted`` with ``colorPalette/paletteEntry`` (``QgsPalettedRasterRenderer``).
* **layer_styles** — the table ``QgsOgrProviderMetadata::saveStyle`` creates in a GeoPackage
  (``src/core/providers/ogr/qgsogrprovidermetadata.cpp``): an attribute table with FID ``id``
  and ``f_table_catalog, f_table_schema, f_table_name, f_geometry_column, styleName,
  styleQML, styleSLD, useAsDefault (boolean), description, owner, ui, update_time``;
  ``loadStyle`` takes the row with ``f_table_schema=''``, the layer's table name and geometry
  column, ``useAsDefault`` first — QGIS applies it when the layer is loaded.
* **a .qml beside a raster** — ``QgsMapLayer::styleURI``: ``coverage.tif`` → ``coverage.qml``,
  loaded as the layer's default style.
* **.qgz** — a zip archive holding one ``.qgs`` project document (``QgsProject::readProject``
  via ``QgsArchive``): ``projectCrs/spatialrefsys`` (``wkt``, ``authid``), ``layer-tree-group``
  of ``layer-tree-layer`` (top is drawn on top; ``checked``), ``projectlayers/maplayer``
  (``id``, ``datasource``, ``layername``, ``srs``, ``provider`` and the style elements above),
  ``properties/Paths/Absolute`` false with data sources ``./planning.gpkg|layername=…`` and
  ``./coverage.tif`` resolved against the project file's folder (``QgsPathResolver``), and the
  initial view (``mapcanvas``, ``ProjectViewSettings/DefaultViewExtent``).
"""

from __future__ import annotations

import datetime
import logging
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
from pyproj import CRS

from lomsong.coverage.rule import CLASSES, CoverageRule
from lomsong.defaults import TECH_DEFAULTS
from lomsong.maps.build import (
    DEAD_ZONE_COLOR,
    NO_STATUS_COLOR,
    SIGNAL_COLORS,
    SIGNAL_VMAX_DBM,
    SIGNAL_VMIN_DBM,
    STATUS_COLORS,
    Level,
    rule_levels,
)
from lomsong.propagation.service import QUANTITY
from lomsong.text import CLASS_LABELS, MAP, QGIS, TERMS, for_lang, format_dbm, format_float

__all__ = [
    "Style",
    "PROJECT_FILE",
    "GPKG_FILE",
    "LAYER_ORDER",
    "vector_style",
    "raster_style",
    "style_qml",
    "write_layer_styles",
    "write_raster_styles",
    "write_project",
    "write_qgis",
]

logger = logging.getLogger(__name__)

PROJECT_FILE = "planning.qgz"
GPKG_FILE = "planning.gpkg"
#: The QGIS version whose formats are written (the oldest tested, Debian 12's 3.22): newer
#: versions read older projects and styles as they are.
QGIS_FORMAT_VERSION = "3.22.16-Białowieża"
#: GeoPackage layers of a run, top of the layer tree (drawn last, on top) first.
LAYER_ORDER = ("ranking", "backhaul", "towers", "candidates", "dead_zones", "villages", "rejects")
#: Layers listed but switched off when the project opens (shown on demand).
_HIDDEN = frozenset({"candidates", "rejects"})

# -- display ------------------------------------------------------------------------------------
#: Opacity of a village's fill: the signal level under it stays readable.
VILLAGE_FILL_ALPHA = 180
VILLAGE_OUTLINE = "#555555"
#: Label sizes (points) and the white halo around them (mm): readable over any fill.
LABEL_PT = 8.0
RANK_LABEL_PT = 9.0
HALO_MM = 0.7
#: Hatching of dead zones: lines 45° apart 2 mm, as the map's stripes.
HATCH_ANGLE_DEG = 45.0
HATCH_SPACING_MM = 2.0
HATCH_WIDTH_MM = 0.35
ZONE_OUTLINE_MM = 0.6
#: Towers: colour by operator (ColorBrewer Dark2, assigned in the operators' name order),
#: shape by technology.
OPERATOR_COLORS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02",
                   "#a6761d", "#666666")  # fmt: skip
TECH_SHAPES = {"2G": "square", "3G": "diamond", "4G": "triangle", "5G": "star"}
TOWER_SIZE_MM = 3.6
#: Proposed sites: the map's numbered blue markers; candidates its small grey dots.
RANK_COLOR = "#08519c"
RANK_SIZE_MM = 6.0
CANDIDATE_COLOR = "#636363"
CANDIDATE_SIZE_MM = 1.6
BACKHAUL_COLOR = "#08519c"
BACKHAUL_WIDTH_MM = 0.5
BACKHAUL_DASH = "3;1.5"
REJECT_COLOR = "#000000"
#: Alpha of signal levels below a single-quantity raster's signal threshold (0–255): faded
#: rather than hidden, so the edge of coverage still reads.
FADED_ALPHA = 80
#: Ramp stops within this distance of a marked level are dropped from the legend (dB).
STOP_MERGE_DB = 2.0
#: Margin classes (dB): deep no-signal below, strong reliable signal above; and their colours
#: (ColorBrewer RdYlBu around the villages' three colours).
MARGIN_DEEP_DB = -20.0
MARGIN_STRONG_DB = 10.0
MARGIN_COLORS = {"deep": "#a50026", "no_signal": STATUS_COLORS["no_signal"],
                 "no_or_weak": "#f46d43", "weak": STATUS_COLORS["weak"],
                 "reliable": STATUS_COLORS["reliable"], "strong": "#4575b4"}  # fmt: skip
#: Serving cells: a repeating qualitative palette (ColorBrewer Set3), neighbours told apart.
SERVING_COLORS = ("#8dd3c7", "#ffffb3", "#bebada", "#fb8072", "#80b1d3", "#fdb462", "#b3de69",
                  "#fccde5", "#d9d9d9", "#bc80bd", "#ccebc5", "#ffed6f")  # fmt: skip
#: Fade margins closer than this are one class boundary (dB).
FADE_EQUAL_DB = 0.05


@dataclass
class Style:
    """A layer's style: the attributes and child elements of its ``<qgis>``/``<maplayer>``.

    Attributes
    ----------
    kind
        "vector" or "raster".
    title
        The layer's name in the layer tree (in the run's language).
    geometry
        Vectors: "Point", "Line" or "Polygon".
    attrs
        Attributes of the root element (``labelsEnabled``).
    children
        The style elements (renderer, labeling, aliases, ...).
    """

    kind: str
    title: str
    geometry: str | None = None
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[ET.Element] = field(default_factory=list)


# -- small builders ---------------------------------------------------------------------------
def _rgb(color: str) -> tuple[int, int, int]:
    c = color.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def _rgba(color: str, alpha: int = 255) -> str:
    """QGIS's "r,g,b,a" colour."""
    return ",".join(str(v) for v in (*_rgb(color), alpha))


def _hex(rgb: Sequence[float]) -> str:
    return "#" + "".join(f"{round(v):02x}" for v in rgb)


def _options(parent: ET.Element, props: Mapping[str, Any]) -> ET.Element:
    """A symbol layer's properties: ``<Option type="Map">`` of strings."""
    m = ET.SubElement(parent, "Option", type="Map")
    for key, value in props.items():
        ET.SubElement(m, "Option", type="QString", name=key, value=str(value))
    return m


def _symbol(kind: str, name: str, layers: Sequence[tuple[str, Mapping[str, Any]]],
            sub: Mapping[int, ET.Element] | None = None) -> ET.Element:  # fmt: skip
    """A ``<symbol>`` of ``kind`` (marker | line | fill) made of symbol layers (class, props);
    ``sub`` gives a layer its sub-symbol (the lines of a line-pattern fill)."""
    sym = ET.Element("symbol", type=kind, name=name, alpha="1", clip_to_extent="1",
                     force_rhr="0")  # fmt: skip
    for i, (cls, props) in enumerate(layers):
        layer = ET.SubElement(sym, "layer", {"class": cls, "enabled": "1", "locked": "0",
                                             "pass": "0"})  # fmt: skip
        _options(layer, props)
        if sub and i in sub:
            layer.append(sub[i])
    return sym


def _fill(color: str, *, alpha: int = 255, outline: str = VILLAGE_OUTLINE,
          width_mm: float = 0.26) -> tuple[str, dict]:  # fmt: skip
    return "SimpleFill", {"color": _rgba(color, alpha), "style": "solid",
                          "outline_color": _rgba(outline), "outline_style": "solid",
                          "outline_width": f"{width_mm:g}", "outline_width_unit": "MM"}  # fmt: skip


def _line(color: str, width_mm: float, *, dash: str | None = None) -> tuple[str, dict]:
    props = {"line_color": _rgba(color), "line_width": f"{width_mm:g}", "line_width_unit": "MM",
             "line_style": "solid", "capstyle": "round", "joinstyle": "round"}  # fmt: skip
    if dash:
        props.update(use_custom_dash="1", customdash=dash, customdash_unit="MM")
    return "SimpleLine", props


def _marker(shape: str, color: str, size_mm: float, *, outline: str = "#000000",
            outline_mm: float = 0.3) -> tuple[str, dict]:  # fmt: skip
    return "SimpleMarker", {"name": shape, "color": _rgba(color), "size": f"{size_mm:g}",
                            "size_unit": "MM", "outline_color": _rgba(outline),
                            "outline_style": "solid", "outline_width": f"{outline_mm:g}",
                            "outline_width_unit": "MM"}  # fmt: skip


def _single(symbol: ET.Element) -> ET.Element:
    renderer = ET.Element("renderer-v2", type="singleSymbol", forceraster="0", symbollevels="0",
                          enableorderby="0")  # fmt: skip
    ET.SubElement(renderer, "symbols").append(symbol)
    return renderer


def _categorized(attr: str, cats: Sequence[tuple[str, str, ET.Element]]) -> ET.Element:
    """``categorizedSymbol`` on ``attr`` (a field or an expression); cats: (value, label,
    symbol)."""
    renderer = ET.Element("renderer-v2", type="categorizedSymbol", attr=attr, forceraster="0",
                          symbollevels="0", enableorderby="0")  # fmt: skip
    categories = ET.SubElement(renderer, "categories")
    symbols = ET.SubElement(renderer, "symbols")
    for i, (value, label, symbol) in enumerate(cats):
        ET.SubElement(categories, "category", value=value, label=label, symbol=str(i),
                      render="true")  # fmt: skip
        symbol.set("name", str(i))
        symbols.append(symbol)
    return renderer


def _labeling(field_name: str, *, size_pt: float, placement: int, color: str = "#000000",
              halo: str | None = "#ffffff", bold: bool = False) -> ET.Element:  # fmt: skip
    """Simple labels of ``field_name``. ``placement``: QgsPalLayerSettings::Placement
    (0 around the point, 1 over the point/centroid)."""
    labeling = ET.Element("labeling", type="simple")
    settings = ET.SubElement(labeling, "settings", calloutType="simple")
    style = ET.SubElement(settings, "text-style", fieldName=field_name, isExpression="0",
                          fontSize=f"{size_pt:g}", fontSizeUnit="Point",
                          textColor=_rgba(color), textOpacity="1",
                          fontWeight="75" if bold else "50")  # fmt: skip
    ET.SubElement(style, "text-buffer", bufferDraw="1" if halo else "0",
                  bufferSize=f"{HALO_MM:g}", bufferSizeUnits="MM",
                  bufferColor=_rgba(halo or "#ffffff"), bufferOpacity="1",
                  bufferNoFill="1")  # fmt: skip
    ET.SubElement(settings, "text-format", multilineAlign="3")
    ET.SubElement(settings, "placement", placement=str(placement), quadOffset="4", dist="0",
                  offsetType="0", centroidInside="1", centroidWhole="0", priority="5")  # fmt: skip
    ET.SubElement(settings, "rendering", drawLabels="1", obstacle="1", displayAll="0",
                  upsidedownLabels="0", scaleVisibility="0", limitNumLabels="0",
                  zIndex="0")  # fmt: skip
    return labeling


def _aliases(columns: Iterable[str], lang: str) -> ET.Element:
    """Field aliases: a column named like a shared term (``households``, ``status``, ``rank``,
    ...) or a map label (``name``, ``operator``, ``tech``) shows that label."""
    words = {**for_lang(MAP, lang), **for_lang(TERMS, lang)}
    aliases = ET.Element("aliases")
    for col in columns:
        if col in words:
            ET.SubElement(aliases, "alias", field=col, name=words[col])
    return aliases


def _geometry_type(element: ET.Element, geometry: str) -> ET.Element:
    e = ET.Element("layerGeometryType")
    e.text = {"Point": "0", "Line": "1", "Polygon": "2"}[geometry]
    element.append(e)
    return element


# -- vector styles ------------------------------------------------------------------------------
def _geometry_of(frame: gpd.GeoDataFrame) -> str | None:
    """The geometry family of the frame ("Point", "Line" or "Polygon"); "Point" for no rows
    (written as an empty Point layer); None for rows without any geometry (a table)."""
    if not len(frame):
        return "Point"
    types = set(frame.geometry.dropna().geom_type)
    if not types:
        return None
    for family in ("Polygon", "Line"):
        if any(family in t for t in types):
            return family
    return "Point"


def vector_style(name: str, frame: gpd.GeoDataFrame, *, lang: str) -> Style:
    """The style of one GeoPackage layer of a run.

    Parameters
    ----------
    name
        The layer: villages, dead_zones, towers, candidates, ranking, backhaul or rejects.
    frame
        Its features (towers: for the operators and technologies present).
    lang
        "vi" | "en": the layer's name, legend labels and field aliases.

    Returns
    -------
    Style
    """
    q = for_lang(QGIS, lang)
    geometry = _geometry_of(frame)
    children: list[ET.Element] = []
    attrs = {"labelsEnabled": "0"}
    if name == "villages":
        cats = [
            (status, q[CLASS_LABELS[status]],
             _symbol("fill", "", [_fill(STATUS_COLORS[status], alpha=VILLAGE_FILL_ALPHA)]))
            for status in CLASSES
        ]  # fmt: skip
        unknown = _symbol("fill", "", [_fill(NO_STATUS_COLOR, alpha=VILLAGE_FILL_ALPHA)])
        cats.append(("", q["status_unknown"], unknown))
        children.append(_categorized("status", cats))
        children.append(_labeling("name", size_pt=LABEL_PT, placement=1))
        attrs["labelsEnabled"] = "1"
        title = q["layer_villages"]
    elif name == "dead_zones":
        hatch = _symbol("line", "@0@0", [_line(DEAD_ZONE_COLOR, HATCH_WIDTH_MM)])
        pattern = ("LinePatternFill", {"angle": f"{HATCH_ANGLE_DEG:g}",
                                       "distance": f"{HATCH_SPACING_MM:g}",
                                       "distance_unit": "MM", "color": _rgba(DEAD_ZONE_COLOR),
                                       "line_width": f"{HATCH_WIDTH_MM:g}",
                                       "line_width_unit": "MM"})  # fmt: skip
        symbol = _symbol("fill", "0", [pattern, _line(DEAD_ZONE_COLOR, ZONE_OUTLINE_MM)],
                         sub={0: hatch})  # fmt: skip
        children.append(_categorized_one(symbol, q["legend_dead_zone"]))
        title = q["layer_zones"]
    elif name == "towers":
        children.append(_towers_renderer(frame))
        title = q["layer_towers"]
    elif name == "candidates":
        symbol = _symbol("marker", "0", [_marker("circle", CANDIDATE_COLOR, CANDIDATE_SIZE_MM,
                                                 outline="#ffffff", outline_mm=0.1)])  # fmt: skip
        children.append(_single(symbol))
        title = q["layer_candidates"]
    elif name == "ranking":
        symbol = _symbol("marker", "0", [_marker("circle", RANK_COLOR, RANK_SIZE_MM,
                                                 outline="#ffffff", outline_mm=0.4)])  # fmt: skip
        children.append(_categorized_one(symbol, q["legend_rank"]))
        children.append(_labeling("rank", size_pt=RANK_LABEL_PT, placement=1, color="#ffffff",
                                  halo=None, bold=True))  # fmt: skip
        attrs["labelsEnabled"] = "1"
        title = q["layer_ranking"]
    elif name == "backhaul":
        symbol = _symbol("line", "0", [_line(BACKHAUL_COLOR, BACKHAUL_WIDTH_MM,
                                             dash=BACKHAUL_DASH)])  # fmt: skip
        children.append(_single(symbol))
        title = q["layer_backhaul"]
    elif name == "rejects":
        symbol = _symbol("marker", "0", [_marker("cross2", REJECT_COLOR, 3.0)])
        children.append(_single(symbol))
        title = q["layer_rejects"]
    else:
        raise ValueError(f"no style for layer {name!r}: one of {', '.join(LAYER_ORDER)}")
    if geometry is None:  # a table: nothing to draw, only its columns' names
        children, attrs = [], {}
    columns = [c for c in frame.columns if c != frame.geometry.name]
    children.append(_aliases(columns, lang))
    return Style("vector", title, geometry, attrs, children)


def _categorized_one(symbol: ET.Element, label: str) -> ET.Element:
    """One symbol with a legend label: a category of value "" (every value) — a single-symbol
    renderer shows no label in the legend, only the layer's name."""
    return _categorized("0", [("", label, symbol)])


def _towers_renderer(towers: gpd.GeoDataFrame) -> ET.Element:
    """Towers categorised by the expression ``concat("operator", ' ', "tech")``: colour per
    operator, shape per technology; one category per pair present."""
    pairs: list[tuple[str, str]] = []
    if len(towers) and {"operator", "tech"} <= set(towers.columns):
        keys = towers[["operator", "tech"]].astype(str).drop_duplicates()
        pairs = sorted(map(tuple, keys.to_numpy()), key=lambda p: (p[0], _tech_rank(p[1])))
    operators = sorted({op for op, _ in pairs})
    color = {op: OPERATOR_COLORS[i % len(OPERATOR_COLORS)] for i, op in enumerate(operators)}
    cats = [
        (f"{op} {tech}", f"{op} {tech}",
         _symbol("marker", "", [_marker(TECH_SHAPES.get(tech, "circle"), color[op],
                                        TOWER_SIZE_MM)]))
        for op, tech in pairs
    ]  # fmt: skip
    return _categorized('concat("operator", \' \', "tech")', cats)


def _tech_rank(tech: str) -> int:
    techs = list(TECH_DEFAULTS)
    return techs.index(tech) if tech in techs else len(techs)


# -- raster styles ------------------------------------------------------------------------------
def _ramp_color(value: float) -> str:
    """The map's signal colour at ``value`` dBm: linear between equally spaced viridis stops
    over −120…−50 dBm (as :func:`lomsong.maps.build.coverage_overlay_png`)."""
    t = (min(max(value, SIGNAL_VMIN_DBM), SIGNAL_VMAX_DBM) - SIGNAL_VMIN_DBM) / (
        SIGNAL_VMAX_DBM - SIGNAL_VMIN_DBM
    )
    stops = np.array([_rgb(c) for c in SIGNAL_COLORS], dtype=float)
    at = np.linspace(0.0, 1.0, len(SIGNAL_COLORS))
    return _hex([np.interp(t, at, stops[:, k]) for k in range(3)])


def _pipe(renderer: ET.Element) -> list[ET.Element]:
    pipe = ET.Element("pipe")
    pipe.append(renderer)
    blend = ET.Element("blendMode")
    blend.text = "0"
    return [pipe, blend]


def _pseudocolor(items: Sequence[tuple[float, str, int, str]], *, ramp: str,
                 nodata: str | None = None) -> ET.Element:  # fmt: skip
    """``singlebandpseudocolor`` of band 1; items (value, colour, alpha, label) sorted by
    value; ``ramp``: INTERPOLATED | DISCRETE; ``nodata``: colour of no-data pixels."""
    finite = [v for v, *_ in items if np.isfinite(v)]
    lo, hi = f"{min(finite):.17g}", f"{max(finite):.17g}"
    renderer = ET.Element("rasterrenderer", type="singlebandpseudocolor", band="1", opacity="1",
                          alphaBand="-1", classificationMin=lo, classificationMax=hi,
                          nodataColor=_rgba(nodata) if nodata else "")  # fmt: skip
    shader = ET.SubElement(ET.SubElement(renderer, "rastershader"), "colorrampshader",
                           colorRampType=ramp, classificationMode="1", clip="0",
                           minimumValue=lo, maximumValue=hi)  # fmt: skip
    for value, color, alpha, label in items:
        ET.SubElement(shader, "item", value=f"{value:.17g}" if np.isfinite(value) else "inf",
                      color=color, alpha=str(alpha), label=label)  # fmt: skip
    ET.SubElement(shader, "rampLegendSettings", useContinuousLegend="0", prefix="", suffix="",
                  minimumLabel="", maximumLabel="", orientation="2", direction="0")  # fmt: skip
    return renderer


def _level_items(levels: Sequence, lang: str, *, fade: bool) -> list[tuple[float, str, int, str]]:
    """Colour-ramp items of a signal raster: the scale's ends and stops, and each level of the
    rule labelled; with ``fade`` (one quantity), levels below the signal threshold faded."""
    q = for_lang(QGIS, lang)
    marks: list[tuple[float, str]] = []
    for lv in levels:
        name = f"{lv.quantity} ({lv.tech})"
        # "RSRP (4G): sóng yếu từ −110 dBm", the words of the map's legend
        marks.append((lv.signal_dbm, f"{name}: {q['legend_from_weak'].lower()} "
                                     f"{format_dbm(lv.signal_dbm, lang)} dBm"))  # fmt: skip
        if np.isfinite(lv.reliable_dbm) and lv.reliable_dbm != lv.signal_dbm:  # ITM: per place
            marks.append((lv.reliable_dbm, f"{name}: {q['legend_from_reliable'].lower()} "
                                           f"{format_dbm(lv.reliable_dbm, lang)} dBm"))  # fmt: skip
    stops = np.linspace(SIGNAL_VMIN_DBM, SIGNAL_VMAX_DBM, len(SIGNAL_COLORS))
    values = [(float(v), f"{_number(v, lang)} dBm") for v in stops
              if all(abs(v - m) >= STOP_MERGE_DB for m, _ in marks)]  # fmt: skip
    threshold = min(lv.signal_dbm for lv in levels) if fade else None
    items = []
    for value, label in sorted([*values, *marks]):
        alpha = FADED_ALPHA if threshold is not None and value < threshold else 255
        items.append((value, _ramp_color(value), alpha, label))
    if threshold is not None and SIGNAL_VMIN_DBM < threshold <= SIGNAL_VMAX_DBM:
        # the step at the threshold: just below it still faded, labelled "no signal"
        below = float(np.nextafter(threshold, -np.inf))
        label = f"< {format_dbm(threshold, lang)} dBm: {q['no_signal'].lower()}"
        items.append((below, _ramp_color(threshold), FADED_ALPHA, label))
        items.sort(key=lambda it: it[0])
    return items


def _number(value: float, lang: str) -> str:
    """A level or margin in a legend: whole numbers without decimals ("−20"), others with one
    ("−7,0", "−102,5"), a true minus sign."""
    digits = 0 if float(value).is_integer() else 1
    return format_float(value, lang, digits=digits).replace("-", "−")


def _margin_items(rule: CoverageRule, techs: Sequence[str],
                  lang: str) -> list[tuple[float, str, int, str]]:  # fmt: skip
    """DISCRETE classes of ``margin.tif`` (upper bounds): no signal below −(fade margin), weak
    below 0, reliable from 0; the fade margins of the technologies shown (rule). Under a model
    with its own location variability (ITM, :attr:`CoverageRule.per_place`) each place's
    margin is over its own σ, so the boundary between no signal and weak differs from place to
    place: below 0 they are one class."""
    q = for_lang(QGIS, lang)

    def below(v: float) -> float:
        # DISCRETE puts a value equal to a bound in the class below; the rule's classes start
        # at their bound ("≥"), so each bound is the float just under it
        return float(np.nextafter(v, -np.inf))

    c = MARGIN_COLORS
    deep, strong = _number(MARGIN_DEEP_DB, lang), _number(MARGIN_STRONG_DB, lang)
    no_sig, weak, rel = q["no_signal"], q["weak_signal"], q["reliable_signal"]
    reliable = [(below(MARGIN_STRONG_DB), c["reliable"], 255, f"{rel} (0 … {strong} dB)"),
                (np.inf, c["strong"], 255, f"{rel} (≥ {strong} dB)")]  # fmt: skip
    if rule.per_place:
        either = q["no_or_weak"]
        return [(below(MARGIN_DEEP_DB), c["deep"], 255, f"{either} (< {deep} dB)"),
                (below(0.0), c["no_or_weak"], 255, f"{either} ({deep} … 0 dB)"),
                *reliable]  # fmt: skip
    fades = sorted({round(rule.fade_margin(t), 6) for t in techs} or {0.0})
    lo_fade, hi_fade = fades[0], fades[-1]
    if hi_fade - lo_fade < FADE_EQUAL_DB:
        hi_fade = lo_fade
    hi, lo = _number(-hi_fade, lang), _number(-lo_fade, lang)
    items: list[tuple[float, str, int, str]] = []
    if -hi_fade > MARGIN_DEEP_DB:
        items.append((below(MARGIN_DEEP_DB), c["deep"], 255, f"{no_sig} (< {deep} dB)"))
        items.append((below(-hi_fade), c["no_signal"], 255, f"{no_sig} ({deep} … {hi} dB)"))
    else:
        items.append((below(-hi_fade), c["no_signal"], 255, f"{no_sig} (< {hi} dB)"))
    if hi_fade > lo_fade:
        items.append((below(-lo_fade), c["no_or_weak"], 255, f"{q['no_or_weak']} ({hi} … {lo} dB)"))
    if lo_fade > 0:
        items.append((below(0.0), c["weak"], 255, f"{weak} ({lo} … 0 dB)"))
    return [*items, *reliable]


def raster_style(
    name: str,
    *,
    rule: CoverageRule,
    towers: pd.DataFrame | None,
    lang: str,
) -> Style:
    """The style of one GeoTIFF of a run.

    Parameters
    ----------
    name
        ``coverage.tif``, ``coverage_<tech>.tif``, ``margin.tif`` or ``serving.tif``.
    rule
        The run's coverage rule: the levels marked, the margin's classes.
    towers
        The towers predicted, in the order ``serving.tif`` indexes them (``tower_id``,
        ``operator``, ``tech``); their technologies are the quantities of ``coverage.tif``.
    lang
        "vi" | "en".

    Returns
    -------
    Style
    """
    q = for_lang(QGIS, lang)
    stem = Path(name).stem
    present = [] if towers is None or "tech" not in towers else sorted(
        {str(t) for t in towers["tech"].dropna()}, key=_tech_rank)  # fmt: skip
    levels = rule_levels(rule, towers)
    if stem == "coverage":
        items = _level_items(levels, lang, fade=len(present) == 1)
        quantities = "/".join(dict.fromkeys(lv.quantity for lv in levels))
        return Style("raster", q["layer_signal"].format(quantities=quantities),
                     children=_pipe(_pseudocolor(items, ramp="INTERPOLATED")))  # fmt: skip
    if stem.startswith("coverage_"):
        tech = stem.removeprefix("coverage_")
        if tech not in QUANTITY:
            raise ValueError(f"{name}: no technology {tech!r}")
        # this technology's own levels, counted by the rule or not
        mine = [Level(tech, QUANTITY[tech], rule.signal_threshold(tech),
                      rule.reliable_level(tech))]  # fmt: skip
        items = _level_items(mine, lang, fade=True)
        title = q["layer_signal_tech"].format(tech=tech, quantity=QUANTITY[tech])
        return Style("raster", title, children=_pipe(_pseudocolor(items, ramp="INTERPOLATED")))
    if stem == "margin":
        techs = [lv.tech for lv in levels]
        items = _margin_items(rule, techs, lang)
        # no data: no cell reaches the place at all — no signal
        renderer = _pseudocolor(items, ramp="DISCRETE", nodata=MARGIN_COLORS["deep"])
        return Style("raster", q["layer_margin"], children=_pipe(renderer))
    if stem == "serving":
        return Style("raster", q["layer_serving"], children=_pipe(_paletted(towers)))
    raise ValueError(f"no style for raster {name!r}")


def _paletted(towers: pd.DataFrame | None) -> ET.Element:
    """``paletted``: a colour per serving-cell index, labelled with the cell's id, operator
    and technology; −1 (no server) has no entry and stays transparent."""
    renderer = ET.Element("rasterrenderer", type="paletted", band="1", opacity="1",
                          alphaBand="-1", nodataColor="")  # fmt: skip
    palette = ET.SubElement(renderer, "colorPalette")
    if towers is not None:
        for i, row in enumerate(towers.itertuples(index=False)):
            label = " · ".join(str(getattr(row, c)) for c in ("tower_id", "operator", "tech")
                               if c in towers.columns)  # fmt: skip
            ET.SubElement(palette, "paletteEntry", value=str(i),
                          color=SERVING_COLORS[i % len(SERVING_COLORS)], alpha="255",
                          label=label)  # fmt: skip
    return renderer


# -- documents ----------------------------------------------------------------------------------
def _xml(root: ET.Element) -> str:
    ET.indent(root, space=" ")
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        + ET.tostring(root, encoding="unicode")
        + "\n"
    )


def _style_into(element: ET.Element, style: Style) -> ET.Element:
    element.attrib.update(style.attrs)
    for child in style.children:
        element.append(child)
    if style.kind == "vector" and style.geometry:
        _geometry_type(element, style.geometry)
    return element


def style_qml(style: Style) -> str:
    """The QML document of a style (what QGIS's "Save style…" writes and "Load style…" reads)."""
    root = ET.Element("qgis", version=QGIS_FORMAT_VERSION, styleCategories="AllStyleCategories",
                      hasScaleBasedVisibilityFlag="0")  # fmt: skip
    # a copy: the same elements also go into the project
    return _xml(_style_into(root, _copy(style)))


def _copy(style: Style) -> Style:
    return Style(style.kind, style.title, style.geometry, dict(style.attrs),
                 [ET.fromstring(ET.tostring(c)) for c in style.children])  # fmt: skip


def _geometry_columns(gpkg: Path) -> dict[str, str]:
    """Geometry column of each feature table of a GeoPackage (``gpkg_geometry_columns``)."""
    sql = "SELECT table_name, column_name FROM gpkg_geometry_columns"
    table = pyogrio.read_dataframe(gpkg, sql=sql, sql_dialect="SQLITE")
    return dict(zip(table["table_name"], table["column_name"], strict=True))


def write_layer_styles(gpkg: Path, styles: Mapping[str, Style], *, lang: str) -> None:
    """Store each layer's style in ``gpkg``'s ``layer_styles`` table as its default.

    The table and its columns are those QGIS creates (``QgsOgrProviderMetadata::saveStyle``),
    written through OGR so that it is an attribute table of ``gpkg_contents`` as QGIS's own;
    an existing ``layer_styles`` is replaced. The style name is the layer's title.
    """
    geometry = _geometry_columns(gpkg)
    # UTC with its zone: written as GeoPackage's "YYYY-MM-DDTHH:MM:SSZ"
    now = pd.Timestamp(datetime.datetime.now(datetime.UTC).replace(microsecond=0))
    rows = [
        {
            "f_table_catalog": "",
            "f_table_schema": "",
            "f_table_name": table,
            "f_geometry_column": geometry.get(table, ""),
            "styleName": style.title,
            "styleQML": style_qml(style),
            "styleSLD": "",
            "useAsDefault": True,
            "description": f"lomsong · {for_lang(QGIS, lang)['title']}",
            "owner": "",
            "ui": None,
            "update_time": now,
        }
        for table, style in styles.items()
    ]
    frame = pd.DataFrame(rows)
    pyogrio.write_dataframe(frame, gpkg, layer="layer_styles", driver="GPKG",
                            layer_options={"FID": "id", "OVERWRITE": "YES"})  # fmt: skip


def write_raster_styles(folder: Path, styles: Mapping[str, Style]) -> list[Path]:
    """``<name>.qml`` beside each GeoTIFF ``<name>.tif`` (QGIS's default style for the file)."""
    out = []
    for name, style in styles.items():
        path = Path(folder) / Path(name).with_suffix(".qml").name
        path.write_text(style_qml(style), encoding="utf-8")
        out.append(path)
    return out


def _srs(crs: CRS) -> ET.Element:
    """``<spatialrefsys>``: the CRS as WKT (QGIS reads ``wkt`` first) and its authority id."""
    srs = ET.Element("spatialrefsys")
    for tag, value in (("wkt", crs.to_wkt()),
                       ("authid", ":".join(crs.to_authority() or ("", ""))),
                       ("description", crs.name)):  # fmt: skip
        ET.SubElement(srs, tag).text = value
    return srs


def _text(parent: ET.Element, tag: str, value: str, **attrs: str) -> ET.Element:
    e = ET.SubElement(parent, tag, attrs)
    e.text = value
    return e


def write_project(
    path: Path,
    *,
    layers: Sequence[tuple[str, str, Style]],
    crs: Any,
    extent: tuple[float, float, float, float],
    lang: str,
    hidden: Iterable[str] = (),
) -> Path:
    """Write a QGIS project (``.qgz``) of styled layers with paths relative to its folder.

    Parameters
    ----------
    path
        The ``.qgz`` to write; the data files are in its folder.
    layers
        (id, data source relative to the project's folder, style), top of the layer tree
        first: ``("villages", "./planning.gpkg|layername=villages", style)`` (OGR) or
        ``("coverage", "./coverage.tif", style)`` (GDAL).
    crs
        The project CRS (the run's UTM zone), anything :class:`pyproj.CRS` takes.
    extent
        (xmin, ymin, xmax, ymax) in ``crs``: the initial view.
    lang
        "vi" | "en": the project's title.
    hidden
        Ids of layers listed but switched off.
    """
    crs = CRS.from_user_input(crs)
    hidden = set(hidden)
    root = ET.Element("qgis", projectname=for_lang(QGIS, lang)["title"],
                      version=QGIS_FORMAT_VERSION)  # fmt: skip
    ET.SubElement(root, "homePath", path="")
    _text(root, "title", for_lang(QGIS, lang)["title"])
    ET.SubElement(root, "projectCrs").append(_srs(crs))
    tree = ET.SubElement(root, "layer-tree-group")
    ET.SubElement(tree, "customproperties")
    project_layers = ET.SubElement(root, "projectlayers")
    order = ET.Element("layerorder")
    for layer_id, source, style in layers:
        provider = "ogr" if style.kind == "vector" else "gdal"
        checked = "Qt::Unchecked" if layer_id in hidden else "Qt::Checked"
        node = ET.SubElement(tree, "layer-tree-layer", id=layer_id, name=style.title,
                             source=source, providerKey=provider, expanded="1",
                             checked=checked)  # fmt: skip
        ET.SubElement(node, "customproperties")
        attrs = {"type": style.kind, "styleCategories": "AllStyleCategories",
                 "hasScaleBasedVisibilityFlag": "0"}  # fmt: skip
        if style.kind == "vector":
            attrs["geometry"] = style.geometry or "No geometry"
        maplayer = ET.SubElement(project_layers, "maplayer", attrs)
        _text(maplayer, "id", layer_id)
        _text(maplayer, "datasource", source)
        _text(maplayer, "layername", style.title)
        ET.SubElement(maplayer, "srs").append(_srs(crs))
        _text(maplayer, "provider", provider, encoding="UTF-8")
        _style_into(maplayer, _copy(style))
        ET.SubElement(order, "layer", id=layer_id)
    root.append(order)
    properties = ET.SubElement(root, "properties")
    _text(ET.SubElement(properties, "Paths"), "Absolute", "false", type="bool")
    _text(ET.SubElement(properties, "SpatialRefSys"), "ProjectionsEnabled", "1", type="int")
    xmin, ymin, xmax, ymax = (f"{v:.3f}" for v in extent)
    canvas = ET.SubElement(root, "mapcanvas", name="theMapCanvas", annotationsVisible="1")
    _text(canvas, "units", "meters")
    box = ET.SubElement(canvas, "extent")
    for tag, value in (("xmin", xmin), ("ymin", ymin), ("xmax", xmax), ("ymax", ymax)):
        _text(box, tag, value)
    _text(canvas, "rotation", "0")
    ET.SubElement(canvas, "destinationsrs").append(_srs(crs))
    view = ET.SubElement(root, "ProjectViewSettings", UseProjectScales="0", rotation="0")
    ET.SubElement(view, "DefaultViewExtent", xmin=xmin, ymin=ymin, xmax=xmax,
                  ymax=ymax).append(_srs(crs))  # fmt: skip
    path = Path(path)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(path.with_suffix(".qgs").name, _xml(root))
    return path


def _raster_files(folder: Path) -> list[str]:
    """The run's GeoTIFFs in layer-tree order: margin, signal level, per technology, serving."""
    names = [p.name for p in Path(folder).glob("*.tif")]
    techs = sorted((n for n in names if n.startswith("coverage_")),
                   key=lambda n: _tech_rank(Path(n).stem.removeprefix("coverage_")))  # fmt: skip
    ordered = ["margin.tif", "coverage.tif", *techs, "serving.tif"]
    return [n for n in ordered if n in names]


def _layer_id(name: str) -> str:
    """A project layer id: QGIS keeps an id read from a project only when it is longer than
    10 characters (``QgsMapLayer::readLayerXml``) and makes a new one otherwise."""
    return f"lomsong_{name}"


#: Rasters switched on when the project opens (the others are listed, off).
_RASTERS_SHOWN = frozenset({"coverage.tif"})


def write_qgis(
    folder: Path,
    *,
    layers: Mapping[str, gpd.GeoDataFrame],
    rule: CoverageRule,
    towers: pd.DataFrame | None,
    lang: str,
) -> Path:
    """Style a run's outputs for QGIS and write ``planning.qgz``.

    ``planning.gpkg`` (its ``layers``) and the GeoTIFFs must already be in ``folder``. Writes
    the layers' default styles into ``planning.gpkg`` (``layer_styles``), a ``.qml`` beside
    each GeoTIFF, and ``planning.qgz`` with every layer that has features and every raster,
    in the project CRS of the layers.

    Parameters
    ----------
    folder
        The output folder.
    layers
        The GeoPackage's layers by table name (the project CRS).
    rule
        The run's coverage rule.
    towers
        The towers predicted, in ``serving.tif``'s order.
    lang
        "vi" | "en".

    Returns
    -------
    Path
        ``planning.qgz``.
    """
    folder = Path(folder)
    styles = {name: vector_style(name, frame, lang=lang) for name, frame in layers.items()
              if name in LAYER_ORDER}  # fmt: skip
    write_layer_styles(folder / GPKG_FILE, styles, lang=lang)
    rasters = _raster_files(folder)
    raster_styles = {n: raster_style(n, rule=rule, towers=towers, lang=lang) for n in rasters}
    write_raster_styles(folder, raster_styles)
    # the project: layers with features (an empty one is left in the GeoPackage), rasters below
    entries: list[tuple[str, str, Style]] = []
    crs = None
    bounds = []
    for name in LAYER_ORDER:
        frame = layers.get(name)
        if frame is None or not len(frame):
            continue
        crs = crs or frame.crs
        if frame.geometry.notna().any():
            bounds.append(frame.total_bounds)
        entries.append((_layer_id(name), f"./{GPKG_FILE}|layername={name}", styles[name]))
    for n in rasters:
        entries.append((_layer_id(Path(n).stem), f"./{n}", raster_styles[n]))
    crs = crs or next((f.crs for f in layers.values() if f.crs is not None), None)
    if crs is None:
        raise ValueError("the layers have no CRS: the project needs one")
    villages = layers.get("villages")
    view = villages.total_bounds if villages is not None and len(villages) else (
        np.vstack(bounds).min(axis=0)[:2].tolist() + np.vstack(bounds).max(axis=0)[2:].tolist()
        if bounds else [0.0, 0.0, 1.0, 1.0])  # fmt: skip
    hidden = {_layer_id(n) for n in _HIDDEN}
    hidden |= {_layer_id(Path(n).stem) for n in rasters if n not in _RASTERS_SHOWN}
    extent = tuple(float(v) for v in view)
    return write_project(folder / PROJECT_FILE, layers=entries, crs=crs, extent=extent,
                         lang=lang, hidden=hidden)  # fmt: skip
