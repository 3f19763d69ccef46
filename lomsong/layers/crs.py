"""Choose the project's metric CRS (UTM of the area) and bring layers into it."""

from __future__ import annotations

import geopandas as gpd
from pyproj import CRS
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info

__all__ = ["utm_crs", "to_metric", "check_metric"]

WGS84 = CRS.from_epsg(4326)


def utm_crs(lon: float, lat: float) -> CRS:
    """The WGS 84 / UTM zone CRS that contains (lon, lat), e.g. EPSG:32649 for Quảng Ngãi."""
    infos = query_utm_crs_info(
        datum_name="WGS 84",
        area_of_interest=AreaOfInterest(lon, lat, lon, lat),
    )
    if not infos:
        raise ValueError(f"no UTM zone for lon {lon}, lat {lat}")
    # several zones can overlap at a border: take the one whose central meridian is nearest
    zone = min(infos, key=lambda i: abs(((i.area_of_use.west + i.area_of_use.east) / 2) - lon))
    return CRS.from_epsg(int(zone.code))


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
