"""Choose the project's metric CRS (UTM of the area) and bring layers into it.

lomsong measures every distance and buffer in metres, never in degrees: layers are brought into
a projected metric CRS — by default the WGS 84 / UTM zone of the area (EPSG:32648 for western
Vietnam, EPSG:32649 for the centre and Quảng Ngãi).
"""

from __future__ import annotations

import logging
import math

import geopandas as gpd
import numpy as np
from pyproj import CRS

from lomsong.errors import InputError

__all__ = [
    "WGS84", "utm_crs", "to_metric", "check_metric", "require_crs", "match_crs", "metric_area",
]  # fmt: skip

logger = logging.getLogger(__name__)

WGS84 = CRS.from_epsg(4326)


def utm_crs(lon: float, lat: float) -> CRS:
    """The WGS 84 / UTM zone CRS that contains (lon, lat), e.g. EPSG:32649 for Quảng Ngãi.

    Southern latitudes give the southern zones (EPSG:327xx). Valid for |lat| ≤ 84°.
    """
    if not (np.isfinite(lon) and np.isfinite(lat) and -180 <= lon <= 180 and -80 <= lat <= 84):
        raise ValueError(f"no UTM zone for lon {lon}, lat {lat}")
    # zone n spans 6(n − 1) − 180 … 6n − 180 °E (the areas of use of EPSG:326nn / 327nn, no
    # Norway or Svalbard exceptions); a point on a border takes the western zone. Computed,
    # not looked up: pyproj's query_utm_crs_info took ~0.2 s per call.
    zone = min(60, max(1, math.ceil((float(lon) + 180.0) / 6.0)))
    return CRS.from_epsg((32700 if lat < 0 else 32600) + zone)


def require_crs(
    gdf: gpd.GeoDataFrame, label: str, *, source_crs: CRS | str | None = None
) -> gpd.GeoDataFrame:
    """Make sure a layer knows its CRS and that its coordinates fit it.

    Parameters
    ----------
    gdf
        The layer as read.
    label
        The file, for messages.
    source_crs
        CRS to assume when the file has none (e.g. a Shapefile without its ``.prj``); ignored
        when the file declares one.

    Raises
    ------
    InputError
        No CRS and none assumed; or a geographic CRS whose coordinates are not degrees (e.g.
        VN-2000 metres in a file labelled EPSG:4326) — every such feature is named.
    """
    if gdf.crs is None:
        if source_crs is None:
            raise InputError(
                label,
                "has no CRS (a Shapefile without its .prj?): lomsong needs to know where the "
                "features are; add the CRS to the file or give source_crs",
            )
        gdf = gdf.set_crs(CRS.from_user_input(source_crs))
    crs = CRS.from_user_input(gdf.crs)
    if crs.is_geographic and len(gdf):
        b = gdf.geometry.bounds
        bad = (b["minx"] < -180) | (b["maxx"] > 180) | (b["miny"] < -90) | (b["maxy"] > 90)
        if bad.any():
            rows = ", ".join(str(i + 1) for i in np.flatnonzero(bad.to_numpy())[:20])
            raise InputError(
                label,
                f"coordinates are not longitude/latitude degrees although the CRS is "
                f"{crs.name} (features {rows}{', …' if bad.sum() > 20 else ''}): the file's "
                "CRS is probably wrong",
            )
    return gdf


def to_metric(gdf: gpd.GeoDataFrame, crs: CRS | str | None = None) -> gpd.GeoDataFrame:
    """Reproject ``gdf`` to ``crs`` or, when None, to the UTM zone of its centre."""
    if gdf.crs is None:
        raise ValueError("layer has no CRS")
    if crs is None:
        lon_lat = gdf.to_crs(WGS84).total_bounds
        crs = utm_crs((lon_lat[0] + lon_lat[2]) / 2, (lon_lat[1] + lon_lat[3]) / 2)
    crs = CRS.from_user_input(crs)
    check_metric(crs)
    return gdf if gdf.crs == crs else gdf.to_crs(crs)


def check_metric(crs: CRS) -> None:
    """Raise when ``crs`` is not projected in metres: lomsong never measures in degrees."""
    if not crs.is_projected or crs.axis_info[0].unit_name not in ("metre", "meter"):
        raise ValueError(f"{crs.name} is not a projected CRS in metres")


def match_crs(gdf: gpd.GeoDataFrame, crs: CRS | str | None, label: str) -> gpd.GeoDataFrame:
    """``gdf`` in ``crs``, reprojected when it is in another CRS (logged once per layer).

    Every stage that combines layers (towers with the terrain, villages and households with
    the signal, candidates with the terrain) brings them into the CRS of the grid it works on,
    as geopandas users expect, instead of refusing two CRSs that are both known: points and
    polygon vertices reproject exactly (each vertex is transformed; edges are not densified,
    which over a village is far below a cell).

    Parameters
    ----------
    gdf
        The layer (points or polygons).
    crs
        The CRS to bring it into (the terrain's or the signal's).
    label
        The layer, for messages (``"<towers>"``).

    Raises
    ------
    InputError
        ``gdf`` has no CRS, or ``crs`` is None: where the features are is then unknown.
    """
    if crs is None:
        raise InputError(label, "cannot be placed on a grid that has no CRS")
    if gdf.crs is None:
        raise InputError(
            label,
            "has no CRS: lomsong cannot tell where its features are; set it with "
            "gdf.set_crs(...) (e.g. EPSG:4326 for longitude/latitude)",
        )
    target = CRS.from_user_input(crs)
    if gdf.crs == target:
        return gdf
    logger.info("%s: reprojected from %s to %s", label, gdf.crs.to_string(), target.to_string())
    return gdf.to_crs(target)


def metric_area(area: gpd.GeoDataFrame, label: str = "<area>") -> gpd.GeoDataFrame:
    """The area in a metric CRS: its own when projected in metres, else its centre's UTM zone
    (as :func:`lomsong.read_villages` chooses; e.g. an area given in EPSG:4326).

    Raises
    ------
    InputError
        The area has no CRS.
    """
    if area.crs is None:
        raise InputError(label, "has no CRS: set it with gdf.set_crs(...) (e.g. EPSG:4326)")
    crs = CRS.from_user_input(area.crs)
    if crs.is_projected and crs.axis_info[0].unit_name in ("metre", "meter"):
        return area
    out = to_metric(area)
    logger.info("%s: in %s, not metres: using %s", label, crs.to_string(), out.crs.to_string())
    return out
