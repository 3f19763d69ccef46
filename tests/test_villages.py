"""read_villages: formats, column mapping, households, repairs and the errors planners meet."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from conftest import require, require_module
from shapely.geometry import LineString, Point, Polygon, box

from lomsong.errors import InputError, InputWarning
from lomsong.layers.households import spread_households
from lomsong.layers.villages import VILLAGE_COLUMNS, read_villages

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
# three hamlets near Ba Tơ, Quảng Ngãi (lon/lat), ~1 km squares
BOXES = [(108.70, 14.75, 108.71, 14.76), (108.72, 14.75, 108.73, 14.76),
         (108.74, 14.75, 108.75, 14.76)]  # fmt: skip


def hamlets(**columns) -> gpd.GeoDataFrame:
    base = {"ma_thon": ["T1", "T2", "T3"], "ten_thon": ["Gò Khôn", "Làng Mạ", "Nước Lăng"],
            "xa": ["Ba Bích"] * 3, "huyen": ["Ba Tơ"] * 3, "so_ho": [120, 85, 40]}  # fmt: skip
    base.update(columns)
    return gpd.GeoDataFrame(base, geometry=[box(*b) for b in BOXES], crs="EPSG:4326")


MAPPING = {"village_id": "ma_thon", "name": "ten_thon", "commune": "xa", "district": "huyen",
           "households": "so_ho"}  # fmt: skip


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_geojson_with_mapping_reads_into_utm_and_leaves_the_file_alone(tmp_path: Path) -> None:
    path = tmp_path / "thon.geojson"
    hamlets().to_file(path, driver="GeoJSON")
    before = digest(path)
    v = read_villages(path, columns=MAPPING)
    assert digest(path) == before  # read-only: the planner's file is untouched
    assert v.crs.to_epsg() == 32649  # 108.7° E lies in UTM zone 49N
    assert list(v.columns[:5]) == VILLAGE_COLUMNS
    assert v["village_id"].tolist() == ["T1", "T2", "T3"]
    assert v["name"].tolist() == ["Gò Khôn", "Làng Mạ", "Nước Lăng"]
    assert v["households"].tolist() == [120, 85, 40]
    assert (v["boundary"] == "polygon").all()
    # 0.01° × 0.01° at 14.75° N: 1105.8 m (lat) × 1077.7 m (lon) ≈ 1.192 km²
    assert v.geometry.area.iloc[0] == pytest.approx(1.192e6, rel=5e-3)  # UTM scale ≤ 0.1 %


def test_one_file_column_can_feed_two_standard_names() -> None:
    v = read_villages(hamlets(), columns={**MAPPING, "commune": "ten_thon"})
    assert v["commune"].tolist() == v["name"].tolist() == ["Gò Khôn", "Làng Mạ", "Nước Lăng"]


def test_population_gives_households_with_a_configurable_size() -> None:
    gdf = hamlets(dan_so=[380, 190, 0])
    v = read_villages(gdf, columns=MAPPING, population="dan_so")
    assert v["households"].tolist() == [100, 50, 0]  # 380 / 3.8, 190 / 3.8: exact
    v = read_villages(gdf, columns=MAPPING, population="dan_so", household_size=4.0)
    assert v["households"].tolist() == [95, 48, 0]  # 47.5 rounds half to even: 48


def test_geopackage_layer_by_name_and_ambiguous_layers(tmp_path: Path) -> None:
    path = tmp_path / "province.gpkg"
    hamlets().to_file(path, layer="thon", driver="GPKG")
    hamlets().iloc[:1].to_file(path, layer="xa", driver="GPKG")
    assert len(read_villages(path, columns=MAPPING, layer="xa")) == 1
    assert len(read_villages(path, columns=MAPPING, layer="thon")) == 3
    with pytest.raises(InputError, match=r"2 layers \(thon, xa\).*layer ="):
        read_villages(path, columns=MAPPING)
    with pytest.raises(InputError, match=r"no layer 'hamlets'; its layers are thon, xa"):
        read_villages(path, columns=MAPPING, layer="hamlets")


def test_shapefile_without_prj_needs_a_crs(tmp_path: Path) -> None:
    path = tmp_path / "thon.shp"
    hamlets().to_file(path)
    path.with_suffix(".prj").unlink()
    with pytest.raises(InputError, match=r"thon\.shp: has no CRS"):
        read_villages(path, columns=MAPPING)
    v = read_villages(path, columns=MAPPING, source_crs="EPSG:4326")
    assert v.crs.to_epsg() == 32649


def test_geoparquet(tmp_path: Path) -> None:
    require_module("pyarrow")
    path = tmp_path / "thon.parquet"
    hamlets().to_parquet(path)
    v = read_villages(path, columns=MAPPING)
    assert v["households"].sum() == 245


def test_points_become_discs_with_households_at_the_point() -> None:
    pts = hamlets()
    pts["geometry"] = [Point(108.705, 14.755), Point(108.725, 14.755), Point(108.745, 14.755)]
    v = read_villages(pts, columns=MAPPING, point_radius_m=400.0)
    assert (v["boundary"] == "point").all()
    # a buffered point is a 64-gon: area = 32 r² sin(2π/64) = 0.9984 π r²
    assert v.geometry.area.to_numpy() == pytest.approx(np.pi * 400.0**2, rel=2e-3)
    hh = spread_households(v)
    assert len(hh) == 3  # one point per village: all households at the given point
    centre = v.geometry.centroid
    # the disc is centred on the point (to float precision of the 64-gon)
    assert np.allclose(hh.geometry.x, centre.x, atol=1e-6)
    assert hh["households"].tolist() == [120.0, 85.0, 40.0]


def test_invalid_polygon_is_repaired_with_a_warning_naming_it() -> None:
    gdf = hamlets()
    # a bow-tie (self-intersecting): two triangles of 0.005 × 0.01 / 2 deg² each
    x0, y0 = 108.76, 14.75
    bowtie = Polygon([(x0, y0), (x0 + 0.01, y0 + 0.01), (x0 + 0.01, y0), (x0, y0 + 0.01)])
    gdf.loc[1, "geometry"] = bowtie
    with pytest.warns(InputWarning, match=r"repaired 1 invalid polygon.*T2 \(Self-intersection"):
        v = read_villages(gdf, columns=MAPPING)
    assert v.geometry.is_valid.all()
    repaired = v.loc[v["village_id"] == "T2"].geometry.iloc[0]
    assert repaired.geom_type == "MultiPolygon"
    # half of the 0.01° square survives (the two triangles), ~0.596 km²; UTM scale ≤ 0.1 %
    assert repaired.area == pytest.approx(1.192e6 / 2, rel=5e-3)


def test_every_problem_of_the_file_at_once_with_ids_named() -> None:
    gdf = hamlets(so_ho=[120, "mười", -3])
    gdf = gpd.GeoDataFrame(
        gdf.to_dict("list") | {"ma_thon": ["T1", "T1", "T3"]}, geometry="geometry", crs=4326
    )
    gdf.loc[2, "geometry"] = Polygon()  # empty
    with pytest.raises(InputError) as err:
        read_villages(gdf, columns=MAPPING)
    msg = str(err.value)
    assert "4 problems" in msg
    assert "row 2: village_id 'T1': households is 'mười', expected a number ≥ 0" in msg
    assert "row 3: village_id 'T3': empty geometry" in msg
    assert "row 3: village_id 'T3': households is -3, expected a number ≥ 0" in msg
    assert "village_id 'T1': duplicated in features 1, 2" in msg
    assert [p.row for p in err.value.problems] == [2, 3, 3, "village_id 'T1'"]


def test_lines_and_missing_ids_are_rejected() -> None:
    gdf = hamlets(ma_thon=["T1", None, "T3"])
    gdf.loc[0, "geometry"] = LineString(gdf.geometry.iloc[0].exterior.coords)
    with pytest.raises(InputError) as err:
        read_villages(gdf, columns=MAPPING)
    reasons = [str(p) for p in err.value.problems]
    assert reasons == [
        "row 1: village_id 'T1': geometry is LineString, expected a polygon",
        "row 2: village_id is empty",
    ]


def test_metres_in_a_lon_lat_file_are_caught() -> None:
    gdf = hamlets().to_crs(32649).set_crs(4326, allow_override=True)
    with pytest.raises(InputError, match="not longitude/latitude degrees"):
        read_villages(gdf, columns=MAPPING)


def test_quang_ngai_communes_2009() -> None:
    path = SHARED_DATA / "quang_ngai" / "communes_2009.geojson"
    require(path.exists(), f"shared data not found at {path}")
    v = read_villages(
        path,
        columns={
            "village_id": "commune_id",
            "name": "commune_vn",
            "commune": "commune_vn",
            "district": "district_vn",
        },  # fmt: skip
        population="population",
        household_size=3.8,
    )
    assert len(v) == 184
    assert v.crs.to_epsg() == 32649
    assert v["village_id"].is_unique
    # 2009 census total 1,210,266 persons; each commune rounds by at most 0.5 household
    assert v["households"].sum() == pytest.approx(1_210_266 / 3.8, abs=184 * 0.5)
    assert set(v["district"]) >= {"Thành phố Quảng Ngãi", "Huyện Lý Sơn"}
    by_name = v.set_index("name")
    assert by_name.loc["Xã Ba Bích", "district"] == "Huyện Ba Tơ"  # Làng Mâm's commune
    an_binh = by_name.loc["Xã An Bình"]  # Đảo Bé: 7,159 people in the source (a known defect)
    assert an_binh["district"] == "Huyện Lý Sơn"
    assert an_binh["households"] == round(7159 / 3.8)
    first = v.iloc[0]
    assert (first["village_id"], first["name"]) == ("5050101", "Phường Lê Hồng Phong")
    assert first["households"] == round(7004 / 3.8)
    # the province is ≈ 5,150 km²; the source's polygons are simplified (PROVENANCE.md)
    assert v.geometry.area.sum() / 1e6 == pytest.approx(5150, rel=0.05)
    assert math.isclose(v.geometry.is_valid.mean(), 1.0)
