"""Choosing the metric CRS and checking that layers know theirs."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from pyproj import CRS
from shapely.geometry import Point

from lomsong.errors import InputError
from lomsong.layers.crs import WGS84, check_metric, require_crs, to_metric, utm_crs


@pytest.mark.parametrize(
    ("lon", "lat", "epsg"),
    [
        (108.8, 15.1, 32649),  # Quảng Ngãi: UTM 49N (102°–108° is 48N, 108°–114° is 49N)
        (105.85, 21.03, 32648),  # Hà Nội: UTM 48N
        (106.7, 10.8, 32648),  # Hồ Chí Minh City: UTM 48N
        (-47.9, -15.8, 32723),  # Brasília: a southern zone, 23S
    ],
)
def test_utm_zone_of_known_places(lon: float, lat: float, epsg: int) -> None:
    assert utm_crs(lon, lat).to_epsg() == epsg


def test_utm_zone_refuses_impossible_positions() -> None:
    with pytest.raises(ValueError, match="no UTM zone"):
        utm_crs(15.1, 108.8)  # lat/lon swapped: latitude 108.8 does not exist


def test_to_metric_picks_the_utm_zone_and_keeps_distances() -> None:
    # two points 0.01° of latitude apart: 1105.8 m on the WGS84 ellipsoid at 15° N
    gdf = gpd.GeoDataFrame(geometry=[Point(108.8, 15.10), Point(108.8, 15.11)], crs=WGS84)
    out = to_metric(gdf)
    assert out.crs.to_epsg() == 32649
    d = out.geometry.iloc[0].distance(out.geometry.iloc[1])
    # UTM scale factor near the zone's central meridian 111° E differs from 1 by < 0.1 %
    assert d == pytest.approx(1105.8, rel=1e-3)


def test_to_metric_refuses_a_geographic_target() -> None:
    gdf = gpd.GeoDataFrame(geometry=[Point(108.8, 15.1)], crs=WGS84)
    with pytest.raises(ValueError, match="not a projected CRS in metres"):
        to_metric(gdf, "EPSG:4326")
    with pytest.raises(ValueError, match="not a projected CRS"):
        check_metric(CRS.from_epsg(4326))
    check_metric(CRS.from_epsg(32649))  # metric: no error


def test_require_crs_names_the_file_or_assumes_the_given_crs() -> None:
    gdf = gpd.GeoDataFrame(geometry=[Point(108.8, 15.1)])
    with pytest.raises(InputError, match=r"villages\.shp: has no CRS") as err:
        require_crs(gdf, "villages.shp")
    assert err.value.path == "villages.shp"
    out = require_crs(gdf, "villages.shp", source_crs="EPSG:4326")
    assert out.crs.to_epsg() == 4326


def test_require_crs_catches_metres_labelled_as_degrees() -> None:
    # VN-2000 / UTM metres in a file that claims EPSG:4326: feature 2 is impossible in degrees
    gdf = gpd.GeoDataFrame(geometry=[Point(108.8, 15.1), Point(586_000, 1_669_000)], crs=WGS84)
    with pytest.raises(InputError, match=r"not longitude/latitude degrees.*features 2\b"):
        require_crs(gdf, "hamlets.geojson")


def test_utm_zone_is_the_one_pyproj_finds_for_the_point() -> None:
    # utm_crs computes the zone; the EPSG database's areas of use (what it queried before,
    # ~0.2 s a call) must agree everywhere off the zone borders, both hemispheres
    from pyproj.database import query_utm_crs_info

    zones = [(int(i.code), i.area_of_use) for i in query_utm_crs_info(datum_name="WGS 84")
             if " / UTM zone " in i.name]  # fmt: skip
    for lon in np.arange(-179.3, 180.0, 2.5):  # never on a border (a multiple of 6°)
        for lat in (-79.0, -33.3, -0.5, 0.5, 15.5, 21.0, 83.0):
            codes = {code for code, a in zones if a.west <= lon <= a.east
                     and a.south <= lat <= a.north and (code > 32700) == (lat < 0)}  # fmt: skip
            assert codes == {utm_crs(lon, lat).to_epsg()}, (lon, lat, codes)


def test_a_point_on_a_zone_border_takes_the_western_zone() -> None:
    assert utm_crs(108.0, 15.0).to_epsg() == 32648  # 102°–108° E is 48N
    assert utm_crs(-180.0, 5.0).to_epsg() == 32601
    assert utm_crs(180.0, -5.0).to_epsg() == 32760
