"""Read tower (antenna) lists into lomsong's data model, keeping every row accounted for."""

from __future__ import annotations

import logging
import warnings
from os import PathLike
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS

from lomsong.defaults import DEFAULT_TECH, TECH_DEFAULTS
from lomsong.errors import InputError, InputWarning, Problem
from lomsong.layers._io import Rejects, map_columns, read_vector, source_label
from lomsong.layers.crs import WGS84, to_metric

__all__ = ["read_towers", "TOWER_COLUMNS", "RADIO_COLUMNS"]

logger = logging.getLogger(__name__)

TOWER_COLUMNS = [
    "tower_id", "site_id", "operator", "tech", "freq_mhz", "height_m", "eirp_dbm",
    "azimuth_deg", "beamwidth_deg", "tilt_deg",
]  # fmt: skip
#: Radio parameters that take a per-technology default when missing.
RADIO_COLUMNS = ["freq_mhz", "height_m", "eirp_dbm", "beamwidth_deg", "tilt_deg"]
_TECH_ALIASES = {"GSM": "2G", "UMTS": "3G", "CDMA": "3G", "LTE": "4G", "NR": "5G"}
# physically plausible ranges; outside them the row is rejected, not clamped
_RANGES = {
    "freq_mhz": (30.0, 100_000.0),
    "height_m": (0.5, 500.0),
    "eirp_dbm": (0.0, 90.0),
    "beamwidth_deg": (1.0, 360.0),
    "tilt_deg": (-30.0, 60.0),
    "azimuth_deg": (0.0, 360.0),
}


def read_towers(
    source: str | PathLike[str] | gpd.GeoDataFrame,
    *,
    columns: dict[str, str] | None = None,
    layer: str | None = None,
    area: gpd.GeoDataFrame | None = None,
    max_radius_km: float = 30.0,
    crs: CRS | str | None = None,
) -> gpd.GeoDataFrame:
    """Read towers from a CSV with ``lon``/``lat`` columns, or a point vector file.

    One row is one radiating unit (an omni antenna or one sector of a site).

    Parameters
    ----------
    source
        CSV (WGS84 ``lon``, ``lat``), GeoJSON/GPKG of points, or a GeoDataFrame.
    columns
        ``{standard name: file column}``, e.g. ``{"tower_id": "cell", "lat": "gw_lat"}``.
    area
        Villages (metric CRS): towers farther than ``max_radius_km`` from them are rejected,
        and a row whose lat/lon are swapped (only the swapped point is near) is corrected.
    max_radius_km
        Prediction radius; a tower beyond it from the area cannot serve anyone.
    crs
        Target metric CRS (default ``area.crs``, else the UTM zone of the towers).

    Returns
    -------
    GeoDataFrame
        The columns of ``TOWER_COLUMNS`` and Point geometry in the metric CRS. Missing radio
        parameters take :data:`lomsong.defaults.TECH_DEFAULTS`; ``attrs["defaults_used"]``
        counts them per parameter, ``attrs["rejects"]`` lists skipped rows (``source``,
        ``row`` = 1-based data row, ``reason``).

    Raises
    ------
    InputError
        When no row is usable (naming every row's problem), or columns are missing.
    """
    label = source_label(source)
    frame = _read_table(source, layer=layer)
    frame = map_columns(frame, columns, label)
    rejects = Rejects(label)
    if len(frame) == 0:
        raise InputError(label, "has no rows")
    frame = frame.reset_index(drop=True)
    lon, lat = _positions(frame, label)
    row_no = np.arange(1, len(frame) + 1)
    keep = np.ones(len(frame), dtype=bool)

    bad_pos = ~(np.isfinite(lon) & np.isfinite(lat))
    for i in np.flatnonzero(bad_pos):
        rejects.add(row_no[i], "position is missing or not a number")
    keep &= ~bad_pos
    swappable = keep & (np.abs(lat) > 90) & (np.abs(lon) <= 90)
    impossible = keep & ((np.abs(lat) > 90) | (np.abs(lon) > 180)) & ~swappable
    for i in np.flatnonzero(impossible):
        rejects.add(row_no[i], f"impossible position lon {lon[i]}, lat {lat[i]}")
    keep &= ~impossible

    target = CRS.from_user_input(crs) if crs is not None else (area.crs if area is not None
                                                              else None)  # fmt: skip
    if area is not None:
        lon, lat, keep = _check_area(lon, lat, keep, area, max_radius_km, rejects, row_no, label)
    elif swappable.any():
        for i in np.flatnonzero(swappable):
            rejects.add(row_no[i], f"latitude {lat[i]} is impossible (lat/lon swapped?)")
        keep &= ~swappable

    out = _standardise(frame, keep, rejects, row_no)
    keep = keep & out.pop("_ok").to_numpy()
    ids = out["tower_id"].astype(str)
    dup = ids.duplicated(keep="first") & keep
    for i in np.flatnonzero(dup):
        rejects.add(row_no[i], f"duplicate tower_id {ids.iloc[i]!r}")
    keep &= ~dup.to_numpy()

    if not keep.any():
        raise InputError(label, problems=[Problem(None, "no usable row"), *rejects.problems()])
    gdf = gpd.GeoDataFrame(
        out[keep].reset_index(drop=True),
        geometry=gpd.points_from_xy(lon[keep], lat[keep]),
        crs=WGS84,
    )
    defaults_used = out.attrs.pop("defaults_used")
    gdf = to_metric(gdf, target)
    gdf.attrs["defaults_used"] = {c: int(v[keep].sum()) for c, v in defaults_used.items()}
    gdf.attrs["rejects"] = rejects.rows
    if rejects.rows:
        logger.warning("%s: %d row(s) rejected", label, len(rejects.rows))
    return gdf


def _read_table(source: object, *, layer: str | None) -> pd.DataFrame:
    if isinstance(source, gpd.GeoDataFrame):
        return source.copy()
    path = Path(source)  # type: ignore[arg-type]
    if path.suffix.lower() in (".csv", ".txt"):
        if not path.exists():
            raise InputError(path, "file not found")
        try:
            return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
            raise InputError(path, f"cannot be read as CSV: {exc}") from None
    return read_vector(path, layer=layer)


def _positions(frame: pd.DataFrame, label: str) -> tuple[np.ndarray, np.ndarray]:
    """lon/lat arrays from columns or from point geometry (in WGS84)."""
    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame.columns:
        if frame.crs is None:
            raise InputError(label, "has no CRS")
        pts = frame.geometry.to_crs(WGS84)
        ok = pts.notna() & ~pts.is_empty & (pts.geom_type == "Point")
        lon = np.where(ok, pts.x.where(ok), np.nan).astype(float)
        lat = np.where(ok, pts.y.where(ok), np.nan).astype(float)
        return lon, lat
    missing = [c for c in ("lon", "lat") if c not in frame.columns]
    if missing:
        raise InputError(
            label,
            f'no {" or ".join(missing)} column; map them with columns = {{ lon = "...", '
            f'lat = "..." }} (the file has {", ".join(map(str, frame.columns))})',
        )
    lon = pd.to_numeric(frame["lon"], errors="coerce").to_numpy(dtype=float)
    lat = pd.to_numeric(frame["lat"], errors="coerce").to_numpy(dtype=float)
    return lon, lat


def _check_area(
    lon: np.ndarray,
    lat: np.ndarray,
    keep: np.ndarray,
    area: gpd.GeoDataFrame,
    max_radius_km: float,
    rejects: Rejects,
    row_no: np.ndarray,
    label: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reject towers beyond the area plus radius; correct swapped lat/lon with a warning."""
    reach = area.geometry.union_all().buffer(max_radius_km * 1000.0)

    def near(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        ok = keep & (np.abs(y) <= 90) & (np.abs(x) <= 180)
        pts = gpd.GeoSeries(gpd.points_from_xy(np.where(ok, x, 0), np.where(ok, y, 0)), crs=WGS84)
        return ok & pts.to_crs(area.crs).within(reach).to_numpy()

    given, swapped = near(lon, lat), near(lat, lon)
    fix = keep & ~given & swapped
    if fix.any():
        rows = ", ".join(str(r) for r in row_no[fix][:20])
        warnings.warn(
            f"{label}: lat/lon swapped in row(s) {rows}; corrected", InputWarning, stacklevel=3
        )
        lon, lat = np.where(fix, lat, lon), np.where(fix, lon, lat)
    far = keep & ~given & ~swapped
    for i in np.flatnonzero(far):
        rejects.add(
            row_no[i], f"lon {lon[i]}, lat {lat[i]} is more than {max_radius_km:g} km from the area"
        )
    return lon, lat, keep & ~far


def _standardise(
    frame: pd.DataFrame, keep: np.ndarray, rejects: Rejects, row_no: np.ndarray
) -> pd.DataFrame:
    """Technology, operator and radio parameters, defaults filled and counted."""
    n = len(frame)
    out = pd.DataFrame(index=frame.index)
    extra = [c for c in frame.columns if c not in TOWER_COLUMNS + ["lon", "lat", "geometry"]]
    if "tower_id" in frame.columns:
        out["tower_id"] = frame["tower_id"].astype(str).str.strip()
    else:
        out["tower_id"] = [f"T{r}" for r in row_no]
    site = frame["site_id"] if "site_id" in frame.columns else out["tower_id"]
    out["site_id"] = site.fillna(out["tower_id"]).astype(str)
    out["operator"] = frame["operator"].fillna("").astype(str) if "operator" in frame else ""
    tech = frame["tech"] if "tech" in frame else pd.Series([None] * n, index=frame.index)
    tech = tech.fillna(DEFAULT_TECH).astype(str).str.strip().str.upper()
    tech = tech.replace(_TECH_ALIASES)
    ok = np.ones(n, dtype=bool)
    unknown = keep & ~tech.isin(list(TECH_DEFAULTS)).to_numpy()
    for i in np.flatnonzero(unknown):
        rejects.add(row_no[i], f"tech {tech.iloc[i]!r} is not one of {', '.join(TECH_DEFAULTS)}")
    ok &= ~unknown
    tech = tech.where(~unknown, DEFAULT_TECH)
    out["tech"] = tech
    used = {}
    for col in [*RADIO_COLUMNS, "azimuth_deg"]:
        raw = frame[col] if col in frame else pd.Series([None] * n, index=frame.index)
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
        given = raw.notna().to_numpy() & (raw.astype(str).str.strip() != "").to_numpy()
        not_number = given & ~np.isfinite(values)
        lo, hi = _RANGES[col]
        out_of_range = given & np.isfinite(values) & ((values < lo) | (values > hi))
        for i in np.flatnonzero(keep & ok & (not_number | out_of_range)):
            rejects.add(row_no[i], f"{col} = {raw.iloc[i]!r} is not a number in [{lo:g}, {hi:g}]")
        ok &= ~(not_number | out_of_range)
        if col in RADIO_COLUMNS:
            fill = ~given
            defaults = tech.map(lambda t, c=col: TECH_DEFAULTS[t][c]).to_numpy(dtype=float)
            values = np.where(fill, defaults, values)
            used[col] = fill
        out[col] = values
    for col in extra:
        out[col] = frame[col]
    out["_ok"] = ok
    out.attrs["defaults_used"] = used
    return out
