"""Read tower (antenna) lists into lomsong's data model, keeping every row accounted for.

Three kinds of file:

- **OpenCelliD** exports (``radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,
  created,updated,averageSignal``; recognised by that header, or by its shape when the header
  is missing as in the per-country files). OpenCelliD lists *cells* at positions estimated
  from phones' measurements — scattered by hundreds of metres around their mast — and has no
  antenna data. Cells are grouped into sites by what names a site in the ids: an LTE cell's
  28-bit ECI is its eNodeB id (20 bits, ``cell >> 8``) and cell (8 bits); a UMTS cell's 28-bit
  UTRAN id is its RNC id (12 bits, ``cell >> 16``) and C-Id (16 bits), whose last decimal
  digit operators use for the sector (:data:`~lomsong.defaults.UMTS_NODEB_CID_BLOCK`). Cells
  of one operator (MCC-MNC), area (LAC/TAC) and eNodeB/NodeB within
  :data:`~lomsong.defaults.OPENCELLID_SITE_SPREAD_M` of each other (chained) are one site;
  GSM, CDMA and NR cells, whose ids name no site, are grouped by ``site_distance_m`` only, and
  sites whose centres lie within ``site_distance_m`` share a mast. A site stands at the
  median of its cells (per axis: robust to one bad estimate). Each site gets one
  omnidirectional radiating unit per (operator, technology): ``tower_id =
  "<site_id>-<mcc><net>-<tech>"``; ``cells``, ``samples`` and ``range_m`` summarise them.
  NB-IoT carriers are skipped (listed in the rejects): they run in an LTE band but serve
  meters and sensors, not phones.
- **Tables** (CSV, XLSX) of WGS84 ``lon``/``lat`` with any of the standard columns, under a
  column mapping when the names differ.
- **Point layers** (GeoJSON, GeoPackage, …) in any CRS.

Every row is either used or listed in ``attrs["rejects"]`` with the reason.
"""

from __future__ import annotations

import logging
import warnings
from os import PathLike
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from lomsong.defaults import (
    DEFAULT_TECH,
    LTE_N_RB,
    NR_N_RB,
    NR_SCS_KHZ,
    OPENCELLID_SITE_SPREAD_M,
    SITE_DISTANCE_M,
    TECH_DEFAULTS,
    UMTS_NODEB_CID_BLOCK,
)
from lomsong.errors import InputError, InputWarning, Problem
from lomsong.layers._io import (
    SPREADSHEET_SUFFIXES,
    TABLE_SUFFIXES,
    Rejects,
    clean_ids,
    given,
    has_suffix,
    map_columns,
    read_table,
    read_vector,
    source_label,
    to_number,
)
from lomsong.layers.crs import WGS84, metric_area, require_crs, to_metric, utm_crs

__all__ = [
    "read_towers",
    "TOWER_COLUMNS",
    "RADIO_COLUMNS",
    "OPENCELLID_COLUMNS",
    "OPERATORS",
    "SITE_DISTANCE_M",
    "operator_name",
    "operator_names",
    "cell_site_numbers",
]

logger = logging.getLogger(__name__)

TOWER_COLUMNS = [
    "tower_id", "site_id", "operator", "tech", "freq_mhz", "bandwidth_mhz", "height_m",
    "eirp_dbm", "azimuth_deg", "beamwidth_deg", "tilt_deg",
]  # fmt: skip
#: Radio parameters that take a per-technology default when missing.
RADIO_COLUMNS = ["freq_mhz", "bandwidth_mhz", "height_m", "eirp_dbm", "beamwidth_deg", "tilt_deg"]
#: Common header names of a standard column (compared lower-case, spaces stripped), used when
#: the file has no column of the standard name and the project maps none: operators' cell
#: lists say "Bandwidth" or "BW (MHz)" rather than ``bandwidth_mhz``. A bare "BW" is not one:
#: antenna tables use it for the beamwidth.
_COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "bandwidth_mhz": ("bandwidth", "bandwidth(mhz)", "bandwidth_mhz", "bw(mhz)", "bw_mhz",
                      "channel_bandwidth", "channel_bandwidth_mhz", "băng thông",
                      "băng thông (mhz)", "bang_thong"),
}  # fmt: skip
#: The header of OpenCelliD's cell exports.
OPENCELLID_COLUMNS = [
    "radio", "mcc", "net", "area", "cell", "unit", "lon", "lat", "range", "samples",
    "changeable", "created", "updated", "averageSignal",
]  # fmt: skip
#: Mobile network operators by (MCC, MNC): Vietnam's MCC 452. Other codes are named
#: ``"mcc-net"``.
OPERATORS: dict[tuple[int, int], str] = {
    (452, 1): "MobiFone",
    (452, 2): "VinaPhone",
    (452, 4): "Viettel",
    (452, 5): "Vietnamobile",
    (452, 7): "Gmobile",
}
_TECH_ALIASES = {"GSM": "2G", "UMTS": "3G", "CDMA": "3G", "LTE": "4G", "NR": "5G"}
#: Narrowband IoT carriers (OpenCelliD's radio ``NBIOT``): in an LTE band, but for meters and
#: sensors, not handsets — a dead zone is about phones, so these rows are skipped, by name.
_NOT_HANDSET = {"NBIOT": "NB-IoT (not a handset service)",
                "NB-IOT": "NB-IoT (not a handset service)"}  # fmt: skip
# physically plausible ranges; outside them the row is rejected, not clamped
_RANGES = {
    "freq_mhz": (30.0, 100_000.0),
    "bandwidth_mhz": (0.1, 400.0),  # GSM's 0.2 MHz carrier to NR FR2's 400 MHz channel
    "height_m": (0.5, 500.0),
    "eirp_dbm": (0.0, 90.0),
    "beamwidth_deg": (1.0, 360.0),
    "tilt_deg": (-30.0, 60.0),
    "azimuth_deg": (0.0, 360.0),
}
# two rows of one unit: same place (to 1 m), operator, tech, azimuth and frequency
_DUPLICATE_TOLERANCE_M = 1.0
# a channel bandwidth read as 1.4000000001 MHz is still 1.4 MHz (as lomsong.propagation.service)
_BANDWIDTH_TOL_MHZ = 1e-6
#: The channel bandwidths (MHz) a tower of each technology may declare, with the table they come
#: from: the service level per resource element needs N_RB (lomsong.propagation.service);
#: 2G and 3G levels do not depend on the bandwidth, so any plausible value is kept.
_CHANNEL_BANDWIDTHS: dict[str, tuple[str, tuple[float, ...], str]] = {
    "4G": ("an LTE channel bandwidth", tuple(LTE_N_RB), "3GPP TS 36.101 Table 5.6-1"),
    "5G": (f"an NR channel bandwidth at {NR_SCS_KHZ} kHz subcarrier spacing",
           tuple(NR_N_RB[NR_SCS_KHZ]), "3GPP TS 38.101-1 Table 5.3.2-1"),
}  # fmt: skip


def operator_name(mcc: object, net: object) -> str:
    """Operator from mobile country and network codes: ``(452, 4)`` → ``"Viettel"``.

    Unknown codes give ``"mcc-net"`` (``"452-99"``); missing ones ``""``.
    """
    return str(operator_names(pd.Series([mcc]), pd.Series([net]))[0])


def operator_names(mcc: pd.Series, net: pd.Series) -> np.ndarray:
    """:func:`operator_name` of whole columns (each distinct pair looked up once)."""
    m, n = to_number(mcc), to_number(net)
    ok = np.isfinite(m) & np.isfinite(n)
    out = np.full(len(m), "", dtype=object)
    pairs = np.column_stack([np.where(ok, m, 0), np.where(ok, n, 0)]).astype(np.int64)
    uniq, inverse = np.unique(pairs[ok], axis=0, return_inverse=True)
    names = np.array(
        [OPERATORS.get((int(a), int(b)), f"{int(a)}-{int(b)}") for a, b in uniq], dtype=object
    )
    out[ok] = names[inverse.ravel()] if len(uniq) else []
    return out


def read_towers(
    source: str | PathLike[str] | gpd.GeoDataFrame,
    *,
    columns: dict[str, str] | None = None,
    layer: str | None = None,
    area: gpd.GeoDataFrame | None = None,
    max_radius_km: float = 30.0,
    crs: CRS | str | None = None,
    site_distance_m: float = SITE_DISTANCE_M,
    source_crs: CRS | str | None = None,
    allow_empty: bool = False,
) -> gpd.GeoDataFrame:
    """Read towers: OpenCelliD CSV, a CSV/XLSX table, or a point layer.

    One output row is one radiating unit (an omni antenna or one sector of a site).

    Parameters
    ----------
    source
        OpenCelliD export (``.csv``/``.csv.gz``, detected by its header); a CSV or XLSX with
        WGS84 ``lon``, ``lat``; a GeoJSON/GPKG of points; or a GeoDataFrame. Read-only.
    columns
        ``{standard name: file column}``, e.g. ``{"tower_id": "cell", "lat": "gw_lat"}``.
        Standard names: ``TOWER_COLUMNS``, ``lon``, ``lat``, and ``mcc``/``net`` (operator
        codes, used when there is no ``operator``). Without a mapping, common header names
        are recognised for ``bandwidth_mhz`` ("Bandwidth", "BW (MHz)", "bw_mhz", …).
    layer
        Layer of a multi-layer vector file, or sheet of a spreadsheet (default: the first).
    area
        Villages: towers farther than ``max_radius_km`` from them are rejected, and a row whose
        lat/lon are swapped (only the swapped point is near) is corrected with an
        :class:`InputWarning`. In a CRS not in metres (EPSG:4326), its UTM zone is used.
    max_radius_km
        Prediction radius (km); a tower beyond it from the area cannot serve anyone.
    crs
        Target metric CRS (default the area's metric CRS, else the UTM zone of the towers).
    site_distance_m
        Rows without ``site_id`` (and OpenCelliD cells whose ids name no site, and OpenCelliD
        sites by their centres) within this distance (m) of each other — chained, single
        linkage — are one site. Default :data:`~lomsong.defaults.SITE_DISTANCE_M`.
    source_crs
        CRS assumed for a point layer that declares none.
    allow_empty
        A file with a header and no row gives an empty table instead of an error (a list of
        candidate sites may hold none; a tower list may not).

    Returns
    -------
    GeoDataFrame
        ``TOWER_COLUMNS`` then the file's other columns, Point geometry in the metric CRS.
        ``bandwidth_mhz`` is the channel bandwidth (MHz): a 4G or 5G row whose value is no
        3GPP channel bandwidth of its technology is rejected (it sets the resource blocks of
        RSRP / SS-RSRP). Missing radio parameters take :data:`lomsong.defaults.TECH_DEFAULTS`
        per technology;
        ``attrs["defaults_used"]`` counts them per parameter (output rows). ``attrs["rejects"]``
        lists skipped rows as dicts (``source``, ``row`` = 1-based data row or feature,
        ``reason``, ``geometry``). For OpenCelliD also ``attrs["cells"]`` (cells used),
        ``attrs["sites"]`` (the sites they were grouped into) and ``attrs["outside_area"]``
        (cells beyond the radius, dropped without a reject entry: exports cover whole
        countries).

    Raises
    ------
    InputError
        When no row is usable (naming every row's problem), or the file / columns are
        unusable (unreadable, no CRS, no position columns). A file whose every tower is
        beyond ``max_radius_km`` of ``area`` is no error: an empty table (with the rejects)
        says that nothing serves the area.
    """
    if not site_distance_m >= 0:
        raise ValueError(f"site_distance_m must be ≥ 0, got {site_distance_m}")
    label = source_label(source)
    if area is not None:
        area = metric_area(area)  # distances to it in metres, even for an area in lon/lat
    frame = _read_table(source, layer=layer, label=label)
    opencellid = _is_opencellid(frame)
    if opencellid:
        frame = frame.rename(columns={c: c2 for c2 in OPENCELLID_COLUMNS for c in frame.columns
                                      if str(c).lower() == c2.lower()})  # fmt: skip
        logger.info("%s: OpenCelliD export, %d cells", label, len(frame))
    frame = map_columns(frame, columns, label)
    frame = _alias_columns(frame)
    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame.columns:
        frame = require_crs(frame, label, source_crs=source_crs)
    if len(frame) == 0:
        if not allow_empty:
            raise InputError(label, "has no rows")
        none = np.zeros(0)
        return _no_towers(frame, _target_crs(crs, area, none, none, none.astype(bool)))
    frame = frame.reset_index(drop=True)
    if opencellid:
        frame = _opencellid_columns(frame)
    rejects = Rejects(label)
    lon, lat = _positions(frame, label)
    row_no = np.arange(1, len(frame) + 1)
    keep = np.ones(len(frame), dtype=bool)

    bad_pos = ~(np.isfinite(lon) & np.isfinite(lat))
    from_geometry = isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame.columns
    for i in np.flatnonzero(bad_pos):
        if from_geometry:
            g = frame.geometry.iloc[i]
            kind = "empty" if g is None or g.is_empty else g.geom_type
            rejects.add(row_no[i], f"geometry is {kind}, expected a point")
        else:
            given_as = f"lon {_cell(frame, 'lon', i)}, lat {_cell(frame, 'lat', i)}"
            rejects.add(row_no[i], f"position is missing or not a number ({given_as})")
    keep &= ~bad_pos
    swappable = keep & (np.abs(lat) > 90) & (np.abs(lon) <= 90)
    impossible = keep & ((np.abs(lat) > 90) | (np.abs(lon) > 180)) & ~swappable
    for i in np.flatnonzero(impossible):
        rejects.add(row_no[i], f"impossible position lon {lon[i]}, lat {lat[i]}")
    keep &= ~impossible

    outside = np.zeros(len(frame), dtype=bool)
    n_cells = len(frame)
    if area is not None:
        lon, lat, outside = _check_area(
            lon, lat, keep, area, max_radius_km, rejects, row_no, label, quiet=opencellid
        )
        keep &= ~outside
        n_outside = int(outside.sum())
        if opencellid and n_outside:
            # a country-wide export: go on with the cells near the area only (row numbers kept)
            near = ~outside
            frame = frame[near].reset_index(drop=True)
            lon, lat, keep, row_no = lon[near], lat[near], keep[near], row_no[near]
    elif swappable.any():
        for i in np.flatnonzero(swappable):
            rejects.add(row_no[i], f"latitude {lat[i]} is impossible (lat/lon swapped?)")
        keep &= ~swappable

    out = _standardise(frame, keep, rejects, row_no)
    given_ids = [c for c in ("tower_id", "site_id") if c in frame.columns]
    keep &= out.pop("_ok").to_numpy()
    target = _target_crs(crs, area, lon, lat, keep)
    x, y = _project(lon, lat, target)
    keep &= ~_duplicates(out, x, y, keep, rejects, row_no, opencellid)

    if not keep.any():
        if area is not None and len(outside) and outside.all():
            # every row is a tower beyond the radius of every village: the area has no service
            # at all — the dead area a plan is for, not a bad file
            logger.warning("%s: no tower within %g km of the villages: no household has signal",
                           label, max_radius_km)  # fmt: skip
            empty = _no_towers(pd.DataFrame() if opencellid else frame, target)
            empty.attrs["rejects"] = rejects.rows
            if opencellid:
                empty.attrs.update(cells=0, outside_area=int(outside.sum()))
            return empty
        if opencellid and outside.any() and not len(rejects):
            raise InputError(label, f"none of the {n_cells} cells is within "
                                    f"{max_radius_km:g} km of the area")  # fmt: skip
        raise InputError(label, problems=[Problem(None, "no usable row"), *rejects.problems()])

    defaults_used = out.attrs.pop("defaults_used")
    if opencellid:
        gdf = _group_cells(out[keep], x[keep], y[keep], target, site_distance_m)
        used = {c: len(gdf) for c in RADIO_COLUMNS}
    else:
        out = out[keep].reset_index(drop=True)
        if not out["site_id"].astype(bool).all():
            sites = _sites(x[keep], y[keep], site_distance_m)
            out["site_id"] = out["site_id"].where(out["site_id"] != "", sites)
        out = out[TOWER_COLUMNS + [c for c in out.columns if c not in TOWER_COLUMNS]]
        gdf = gpd.GeoDataFrame(out, geometry=gpd.points_from_xy(x[keep], y[keep]), crs=target)
        used = {c: int(v[keep].sum()) for c, v in defaults_used.items()}
    gdf = to_metric(gdf, target)
    gdf.attrs["defaults_used"] = used
    gdf.attrs["rejects"] = rejects.rows
    gdf.attrs["given_ids"] = given_ids  # the id columns the file had (the others are made up)
    if opencellid:
        gdf.attrs["cells"] = int(keep.sum())
        gdf.attrs["sites"] = int(gdf["site_id"].nunique())
        gdf.attrs["outside_area"] = int(outside.sum())
        logger.info("%s: %d cells → %d sites, %d radiating units; %d cells outside the area",
                    label, gdf.attrs["cells"], gdf.attrs["sites"], len(gdf),
                    int(outside.sum()))  # fmt: skip
    if rejects.rows:
        logger.warning("%s: %d row(s) rejected", label, len(rejects.rows))
    return gdf


# ---------------------------------------------------------------------------------------------
# reading


def _read_table(source: object, *, layer: str | None, label: str) -> pd.DataFrame:
    if isinstance(source, gpd.GeoDataFrame):
        return source.copy()
    if has_suffix(source, TABLE_SUFFIXES + SPREADSHEET_SUFFIXES):  # type: ignore[arg-type]
        frame = read_table(source, sheet=layer)  # type: ignore[arg-type]
        if _headerless_opencellid(frame):
            logger.info("%s: OpenCelliD export without header", label)
            frame = read_table(source, sheet=layer, header=False)  # type: ignore[arg-type]
            frame.columns = OPENCELLID_COLUMNS
        return frame
    return read_vector(source, layer=layer, prefer_layer="towers")  # type: ignore[arg-type]


def _alias_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """The first column named by a ``_COLUMN_ALIASES`` name, renamed to its standard name
    (when the file has no column of that name)."""
    names = {}
    for std, aliases in _COLUMN_ALIASES.items():
        if std in frame.columns:
            continue
        found = [c for c in frame.columns if str(c).strip().lower().replace(" ", "") in
                 {a.replace(" ", "") for a in aliases}]  # fmt: skip
        if found:
            names[found[0]] = std
    return frame.rename(columns=names) if names else frame


def _is_opencellid(frame: pd.DataFrame) -> bool:
    names = {str(c).lower() for c in frame.columns}
    return {c.lower() for c in OPENCELLID_COLUMNS} <= names


def _headerless_opencellid(frame: pd.DataFrame) -> bool:
    """A table whose 'header' is in fact an OpenCelliD data row (per-country exports)."""
    cols = [str(c) for c in frame.columns]
    if len(cols) != len(OPENCELLID_COLUMNS):
        return False
    radio = cols[0].strip().upper()
    numbers = pd.to_numeric(pd.Series(cols[1:11]), errors="coerce")
    return (radio in _TECH_ALIASES or radio == "NBIOT") and bool(numbers.notna().all())


def _opencellid_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """OpenCelliD's columns in lomsong's terms (tech, operator, a cell key)."""
    out = frame.copy()
    out["tech"] = frame["radio"]
    out["operator"] = operator_names(frame["mcc"], frame["net"])
    out["mcc"], out["net"] = to_number(frame["mcc"]), to_number(frame["net"])
    key = [clean_ids(frame[c]).fillna("?") for c in ("radio", "mcc", "net", "area", "cell")]
    out["_cell_key"] = key[0].str.cat(key[1:], sep="-")
    out["_site_key"] = _site_keys(frame)
    return out


def _site_keys(frame: pd.DataFrame) -> np.ndarray:
    """What names each OpenCelliD cell's site in its ids, ``""`` where nothing does.

    LTE: operator, TAC and eNodeB id (the 28-bit ECI's upper 20 bits, ``cell >> 8``, 3GPP TS
    36.413). UMTS: operator, LAC, RNC id (the 28-bit UTRAN cell id's upper 12 bits, ``cell >>
    16``, TS 25.401) and the C-Id's NodeB block (``C-Id // UMTS_NODEB_CID_BLOCK``); a bare
    16-bit C-Id (no RNC) names no site. GSM (LAC + CI), CDMA and NR carry no such structure.
    """
    radio = frame["radio"].astype("string").str.strip().str.upper().fillna("").to_numpy(str)
    codes = {c: to_number(frame[c]) for c in ("mcc", "net", "area", "cell")}
    ok = np.logical_and.reduce([np.isfinite(v) & (v >= 0) & (v == np.floor(v)) & (v < 2**32)
                                for v in codes.values()])  # fmt: skip
    mcc, net, area, cell = (np.where(ok, v, 0).astype(np.int64) for v in codes.values())
    site = cell_site_numbers(radio, np.where(ok, cell, -1))
    parts = [radio, mcc.astype(str), net.astype(str), area.astype(str), site.astype(str)]
    keys = np.array(["-".join(p) for p in zip(*parts, strict=True)], dtype=object)
    return np.where(site > 0, keys, "")


def cell_site_numbers(tech: Any, cell: Any) -> np.ndarray:
    """The site (eNodeB / NodeB) number a cell id names; 0 where it names none.

    LTE: the 28-bit ECI's eNodeB id, ``cell >> 8`` (3GPP TS 36.413). UMTS: the 28-bit UTRAN
    cell id's RNC id (``cell >> 16``, TS 25.401) and the C-Id's NodeB block, as
    ``rnc · 100000 + C-Id // UMTS_NODEB_CID_BLOCK``; a bare 16-bit C-Id (no RNC) names no site.
    GSM (LAC + CI), CDMA and NR ids carry no such structure: 0. The rule the OpenCelliD
    grouping of :func:`read_towers` uses, and the one that matches a walk test's cell to the
    site of a tower list.

    Parameters
    ----------
    tech
        Per cell: an OpenCelliD radio (``LTE``, ``UMTS``, …) or lomsong's technology
        (``4G``, ``3G``, …), any case.
    cell
        Per cell: the cell id as an integer; negative (or ≥ 2²⁸) = unknown.
    """
    radio = np.char.upper(np.asarray(tech, dtype=str))
    cell = np.asarray(cell, dtype=np.int64)
    ok = (cell >= 0) & (cell < 2**28)
    cell = np.where(ok, cell, 0)
    enb = cell >> 8
    rnc, cid = cell >> 16, cell & 0xFFFF
    lte = ok & np.isin(radio, ["LTE", "4G"]) & (enb > 0)
    umts = ok & np.isin(radio, ["UMTS", "3G"]) & (rnc > 0)
    return np.where(lte, enb, np.where(umts, rnc * 100_000 + cid // UMTS_NODEB_CID_BLOCK, 0))


def _cell(frame: pd.DataFrame, col: str, i: int) -> str:
    return repr(frame[col].iloc[i]) if col in frame.columns else "n/a"


def _positions(frame: pd.DataFrame, label: str) -> tuple[np.ndarray, np.ndarray]:
    """lon/lat arrays from columns or from point geometry (in WGS84)."""
    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame.columns:
        pts = frame.geometry.to_crs(WGS84)
        ok = (pts.notna() & ~pts.is_empty & (pts.geom_type == "Point")).to_numpy()
        lon = np.full(len(frame), np.nan)
        lat = np.full(len(frame), np.nan)
        lon[ok] = shapely.get_x(pts.values[ok])
        lat[ok] = shapely.get_y(pts.values[ok])
        return lon, lat
    missing = [c for c in ("lon", "lat") if c not in frame.columns]
    if missing:
        raise InputError(
            label,
            f'no {" or ".join(missing)} column; map them with columns = {{ lon = "...", '
            f'lat = "..." }} (the file has {", ".join(map(str, frame.columns))})',
        )
    return to_number(frame["lon"]), to_number(frame["lat"])


# ---------------------------------------------------------------------------------------------
# checks


def _check_area(
    lon: np.ndarray,
    lat: np.ndarray,
    keep: np.ndarray,
    area: gpd.GeoDataFrame,
    max_radius_km: float,
    rejects: Rejects,
    row_no: np.ndarray,
    label: str,
    *,
    quiet: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Towers beyond the area plus radius; swapped lat/lon corrected with a warning.

    Returns the corrected lon, lat and the mask of rows too far away (rejected, or only
    counted when ``quiet``).
    """
    reach = area.geometry.union_all().buffer(max_radius_km * 1000.0)
    shapely.prepare(reach)
    to_area = Transformer.from_crs(WGS84, area.crs, always_xy=True)

    def near(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        ok = keep & (np.abs(y) <= 90) & (np.abs(x) <= 180)
        px, py = to_area.transform(np.where(ok, x, 0.0), np.where(ok, y, 0.0))
        return ok & shapely.contains_xy(reach, px, py)

    given_ok, swapped_ok = near(lon, lat), near(lat, lon)
    fix = keep & ~given_ok & swapped_ok
    if fix.any():
        rows = ", ".join(str(r) for r in row_no[fix][:20])
        more = f" and {int(fix.sum()) - 20} more" if fix.sum() > 20 else ""
        warnings.warn(
            f"{label}: lat/lon swapped in row(s) {rows}{more}; corrected",
            InputWarning,
            stacklevel=3,
        )
        lon, lat = np.where(fix, lat, lon), np.where(fix, lon, lat)
    far = keep & ~given_ok & ~swapped_ok
    if not quiet:
        for i in np.flatnonzero(far):
            rejects.add(row_no[i], f"lon {lon[i]}, lat {lat[i]} is more than {max_radius_km:g} km "
                                   "from the area")  # fmt: skip
    return lon, lat, far


def _standardise(
    frame: pd.DataFrame, keep: np.ndarray, rejects: Rejects, row_no: np.ndarray
) -> pd.DataFrame:
    """Technology, operator and radio parameters; defaults filled and flagged per row."""
    n = len(frame)
    out = pd.DataFrame(index=frame.index)
    skip = set(TOWER_COLUMNS) | {"lon", "lat", "radio"}
    if isinstance(frame, gpd.GeoDataFrame):
        skip.add(frame.geometry.name)
    extra = [c for c in frame.columns if c not in skip]
    ids = clean_ids(frame["tower_id"]) if "tower_id" in frame.columns else None
    auto = pd.Series([f"T{r}" for r in row_no], index=frame.index)
    out["tower_id"] = auto if ids is None else ids.fillna(auto)
    site = clean_ids(frame["site_id"]) if "site_id" in frame.columns else None
    out["site_id"] = "" if site is None else site.fillna("").astype(str)
    if "operator" in frame.columns:
        out["operator"] = frame["operator"].astype("string").str.strip().fillna("").astype(str)
    elif {"mcc", "net"} <= set(frame.columns):
        out["operator"] = operator_names(frame["mcc"], frame["net"])
    else:
        out["operator"] = ""
    nothing = pd.Series([None] * n, index=frame.index, dtype=object)
    raw_tech = frame["tech"] if "tech" in frame.columns else nothing
    tech = raw_tech.astype("string").str.strip().str.upper().fillna(DEFAULT_TECH)
    tech = tech.where(tech != "", DEFAULT_TECH).replace(_TECH_ALIASES).astype(str)
    ok = np.ones(n, dtype=bool)
    not_handset = tech.isin(list(_NOT_HANDSET)).to_numpy()
    for i in np.flatnonzero(keep & not_handset):
        rejects.add(row_no[i], _NOT_HANDSET[tech.iloc[i]])
    unknown = ~tech.isin(list(TECH_DEFAULTS)).to_numpy() & ~not_handset
    for i in np.flatnonzero(keep & unknown):
        rejects.add(row_no[i], f"tech {raw_tech.iloc[i]!r} is not one of {', '.join(TECH_DEFAULTS)}"
                               " (or GSM, UMTS, CDMA, LTE, NR)")  # fmt: skip
    ok &= ~(unknown | not_handset)
    tech = tech.where(~(unknown | not_handset), DEFAULT_TECH)
    out["tech"] = tech
    used = {}
    for col in [*RADIO_COLUMNS, "azimuth_deg"]:
        raw = frame[col] if col in frame.columns else nothing
        values = to_number(raw)
        have = given(raw)
        not_number = have & ~np.isfinite(values)
        lo, hi = _RANGES[col]
        out_of_range = have & np.isfinite(values) & ((values < lo) | (values > hi))
        for i in np.flatnonzero(keep & (not_number | out_of_range)):
            what = "not a number" if not_number[i] else "out of range"
            rejects.add(row_no[i], f"{col} = {raw.iloc[i]!r} is {what} (expected "
                                   f"{lo:g}–{hi:g})")  # fmt: skip
        ok &= ~(not_number | out_of_range)
        if col == "bandwidth_mhz":
            ok &= ~_bad_bandwidths(values, have & ~(not_number | out_of_range), tech, keep,
                                   rejects, row_no)  # fmt: skip
        if col in RADIO_COLUMNS:
            fill = ~have
            defaults = tech.map({t: v[col] for t, v in TECH_DEFAULTS.items()}).to_numpy(float)
            values = np.where(fill, defaults, values)
            used[col] = fill
        out[col] = values
    for col in extra:
        out[col] = frame[col].to_numpy()
    out["_ok"] = ok
    out.attrs["defaults_used"] = used
    return out


def _bad_bandwidths(
    values: np.ndarray,
    check: np.ndarray,
    tech: pd.Series,
    keep: np.ndarray,
    rejects: Rejects,
    row_no: np.ndarray,
) -> np.ndarray:
    """Rows (of ``check``: a plausible number given) whose bandwidth is no channel bandwidth of
    their technology (:data:`_CHANNEL_BANDWIDTHS`); the kept ones are listed in ``rejects``."""
    bad = np.zeros(len(values), dtype=bool)
    for name, (what, allowed, source) in _CHANNEL_BANDWIDTHS.items():
        rows = check & (tech.to_numpy() == name)
        known = np.isclose(values[:, None], np.asarray(allowed)[None, :], rtol=0.0,
                           atol=_BANDWIDTH_TOL_MHZ).any(axis=1)  # fmt: skip
        bad |= rows & ~known
        listed = ", ".join(f"{b:g}" for b in allowed)
        for i in np.flatnonzero(keep & rows & ~known):
            rejects.add(row_no[i], f"bandwidth_mhz = {values[i]:g} MHz is not {what} "
                                   f"({listed} MHz; {source})")  # fmt: skip
    return bad


def _no_towers(frame: pd.DataFrame, crs: CRS) -> gpd.GeoDataFrame:
    """The empty table of a file with a header and no row (``allow_empty``), or whose every
    tower is beyond the radius of the area."""
    skip = {*TOWER_COLUMNS, "lon", "lat"}
    if isinstance(frame, gpd.GeoDataFrame):
        skip.add(frame.geometry.name)
    extra = [c for c in frame.columns if c not in skip]
    out = gpd.GeoDataFrame(pd.DataFrame(columns=TOWER_COLUMNS + extra), geometry=[], crs=crs)
    out.attrs["defaults_used"] = dict.fromkeys(RADIO_COLUMNS, 0)
    out.attrs["rejects"] = []
    return out


def _target_crs(
    crs: object, area: gpd.GeoDataFrame | None, lon: np.ndarray, lat: np.ndarray, keep: np.ndarray
) -> CRS:
    if crs is not None:
        return CRS.from_user_input(crs)
    if area is not None:
        return CRS.from_user_input(area.crs)
    if keep.any():
        return utm_crs(float(np.median(lon[keep])), float(np.median(lat[keep])))
    return WGS84  # nothing usable: the caller raises before projecting anything


def _project(lon: np.ndarray, lat: np.ndarray, crs: CRS) -> tuple[np.ndarray, np.ndarray]:
    ok = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    t = Transformer.from_crs(WGS84, crs, always_xy=True)
    x, y = t.transform(np.where(ok, lon, 0.0), np.where(ok, lat, 0.0))
    return np.where(ok, x, np.nan), np.where(ok, y, np.nan)


def _duplicates(
    out: pd.DataFrame,
    x: np.ndarray,
    y: np.ndarray,
    keep: np.ndarray,
    rejects: Rejects,
    row_no: np.ndarray,
    opencellid: bool,
) -> np.ndarray:
    """Rows that repeat an earlier usable row: same id, same cell, or same unit and place."""
    dup = np.zeros(len(out), dtype=bool)
    first: dict[object, int] = {}

    def check(keys: list, what: str) -> None:
        for i in np.flatnonzero(keep & ~dup):
            k = keys[i]
            if k in first:
                dup[i] = True
                rejects.add(row_no[i], f"duplicate of row {row_no[first[k]]} ({what})")
            else:
                first[k] = i

    if opencellid:
        check(out["_cell_key"].tolist(), "same radio, mcc, net, area and cell")
        return dup
    check([("id", v) for v in out["tower_id"]], "same tower_id")
    snap = _DUPLICATE_TOLERANCE_M

    def tidy(v: np.ndarray) -> np.ndarray:
        # rejected rows may hold any number (1e308): keep them out of the arithmetic
        return np.round(np.where(keep & np.isfinite(v) & (np.abs(v) < 1e12), v, -1.0), 1)

    unit = zip(
        np.round(tidy(x) / snap), np.round(tidy(y) / snap), out["operator"], out["tech"],
        tidy(out["azimuth_deg"].to_numpy()), tidy(out["freq_mhz"].to_numpy()), strict=True,
    )  # fmt: skip
    check([("unit", *(k.item() if hasattr(k, "item") else k for k in v)) for v in unit],
          "same position, operator, tech, azimuth and frequency")  # fmt: skip
    return dup


# ---------------------------------------------------------------------------------------------
# sites


def _sites(x: np.ndarray, y: np.ndarray, distance_m: float) -> np.ndarray:
    """Site ids ``S001``… for points chained within ``distance_m`` (single linkage)."""
    return _site_ids(_chained(np.column_stack([x, y]), distance_m))


def _chained(points: np.ndarray, distance_m: float) -> np.ndarray:
    """Component label of each point, points chained within ``distance_m`` (single linkage)."""
    n = len(points)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    pairs = cKDTree(points).query_pairs(distance_m, output_type="ndarray")
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _site_ids(labels: np.ndarray) -> np.ndarray:
    """``S001``… per label, numbered in order of each label's first row (ids follow the file)."""
    if len(labels) == 0:
        return np.array([], dtype=object)
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first))[inverse.ravel()]
    width = max(3, len(str(len(first))))
    return np.array([f"S{r + 1:0{width}d}" for r in rank], dtype=object)


def _cell_sites(key: np.ndarray, x: np.ndarray, y: np.ndarray, distance_m: float) -> np.ndarray:
    """Site ids of OpenCelliD cells: by the site their ids name, then by distance.

    Cells of one key (operator, area, eNodeB/NodeB) chained within
    :data:`~lomsong.defaults.OPENCELLID_SITE_SPREAD_M` form one group, each cell without a key
    its own; groups whose medians lie within ``distance_m`` (chained) are one site.
    """
    n = len(x)
    if n == 0:
        return np.array([], dtype=object)
    # one k-d tree for all keys: each key on its own plane of a third axis, planes farther apart
    # than the spread, so only cells of one key pair up (a cell without key: a plane alone)
    _, plane = np.unique(np.where(key == "", np.arange(n).astype(str), key), return_inverse=True)
    gap = 10.0 * OPENCELLID_SITE_SPREAD_M
    group = _chained(np.column_stack([x, y, plane.ravel() * gap]), OPENCELLID_SITE_SPREAD_M)
    centre = pd.DataFrame({"g": group, "x": x, "y": y}).groupby("g")[["x", "y"]].median()
    site = _chained(centre[["x", "y"]].to_numpy(), distance_m)
    return _site_ids(site[centre.index.get_indexer(group)])


def _group_cells(
    cells: pd.DataFrame, x: np.ndarray, y: np.ndarray, crs: CRS, distance_m: float
) -> gpd.GeoDataFrame:
    """OpenCelliD cells → sites → one omni unit per (site, operator, tech)."""
    cells = cells.reset_index(drop=True).copy()
    cells["site_id"] = _cell_sites(cells["_site_key"].to_numpy(str), x, y, distance_m)
    cells["_x"], cells["_y"] = x, y
    # the median of the cells, per axis: one far-off estimate does not drag the mast
    site_xy = cells.groupby("site_id")[["_x", "_y"]].median()
    cells["_code"] = [
        f"{int(m)}{int(n):02d}" if np.isfinite(m) and np.isfinite(n) else "unknown"
        for m, n in zip(cells["mcc"], cells["net"], strict=True)
    ]
    cells["_samples"] = to_number(cells["samples"])
    cells["_range"] = to_number(cells["range"])
    cells["_updated"] = to_number(cells["updated"])
    cells["_cell"] = clean_ids(cells["cell"]).fillna("").astype(str)
    keys = ["site_id", "_code", "tech"]
    g = cells.groupby(keys, sort=False)
    first = g.first()
    units = pd.DataFrame({
        "operator": first["operator"],
        "mcc": first["mcc"],
        "net": first["net"],
        "cells": g.size(),
        "samples": g["_samples"].sum(min_count=1),
        "range_m": g["_range"].max(),
        "updated": pd.to_datetime(g["_updated"].max(), unit="s", errors="coerce").dt.strftime(
            "%Y-%m-%d"
        ),
        # the unit's cell ids: a walk test's serving cell is matched to its unit by them
        "cell_ids": g["_cell"].agg(lambda ids: " ".join(sorted(set(ids)))),
        **{c: first[c] for c in RADIO_COLUMNS},
    }).reset_index()  # fmt: skip
    units["tower_id"] = units["site_id"] + "-" + units["_code"] + "-" + units["tech"]
    units["azimuth_deg"] = np.nan  # OpenCelliD has no azimuths: omni
    units = units.sort_values(["site_id", "_code", "tech"]).reset_index(drop=True)
    xy = site_xy.loc[units["site_id"]]
    extra = ["mcc", "net", "cells", "cell_ids", "samples", "range_m", "updated"]
    return gpd.GeoDataFrame(
        units[TOWER_COLUMNS + extra],
        geometry=gpd.points_from_xy(xy["_x"].to_numpy(), xy["_y"].to_numpy()),
        crs=crs,
    )
