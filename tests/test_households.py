"""read_households: weighted points, building polygons, a population raster, village counts."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from affine import Affine
from shapely.geometry import LineString, Point, box

from lomsong.errors import InputError
from lomsong.layers.households import read_households, spread_households

UTM49 = "EPSG:32649"
X0, Y0 = 600_000.0, 1_630_000.0


@pytest.fixture
def villages() -> gpd.GeoDataFrame:
    """Two 1 km × 1 km villages side by side (V1 west, V2 east), 120 and 30 households."""
    return gpd.GeoDataFrame(
        {"village_id": ["V1", "V2"], "households": [120, 30]},
        geometry=[box(X0, Y0, X0 + 1000, Y0 + 1000), box(X0 + 1000, Y0, X0 + 2000, Y0 + 1000)],
        crs=UTM49,
    )


def test_weighted_points_are_tied_to_their_village(tmp_path: Path, villages) -> None:
    pts = gpd.GeoDataFrame(
        {"so_ho": ["3", "2", "1"]},  # weights as text, as many GIS exports hold them
        geometry=[Point(X0 + 100, Y0 + 100), Point(X0 + 1500, Y0 + 500), Point(X0 + 5000, Y0)],
        crs=UTM49,
    ).to_crs("EPSG:4326")
    path = tmp_path / "nha.gpkg"
    pts.to_file(path, layer="households", driver="GPKG")
    hh = read_households(path, villages=villages, columns={"households": "so_ho"})
    assert hh.crs.to_string() == UTM49
    assert hh["households"].tolist() == [3.0, 2.0, 1.0]
    assert hh["village_id"].tolist() == ["V1", "V2", ""]  # the third is outside every village
    # lon/lat → UTM round trip through PROJ: millimetres
    assert hh.geometry.iloc[0].x == pytest.approx(X0 + 100, abs=1e-3)


def test_unweighted_points_count_one_and_a_population_column(villages) -> None:
    pts = gpd.GeoDataFrame(
        {"dan_so": [19.0, 7.6]}, geometry=[Point(X0 + 10, Y0 + 10), Point(X0 + 1010, Y0 + 10)],
        crs=UTM49,
    )  # fmt: skip
    assert read_households(pts, villages=villages)["households"].tolist() == [1.0, 1.0]
    hh = read_households(pts, villages=villages, population="dan_so")
    assert hh["households"].to_numpy() == pytest.approx([5.0, 2.0])  # 19 / 3.8, 7.6 / 3.8


def test_building_polygons_count_at_their_centroid(villages) -> None:
    houses = gpd.GeoDataFrame(
        geometry=[box(X0 + 990, Y0, X0 + 1000, Y0 + 10), box(X0 + 995, Y0, X0 + 1015, Y0 + 10)],
        crs=UTM49,
    )
    hh = read_households(houses, villages=villages)
    # centroids at x = 995 (in V1) and 1005 (in V2)
    assert hh.geometry.x.tolist() == pytest.approx([X0 + 995, X0 + 1005])
    assert hh["village_id"].tolist() == ["V1", "V2"]


def test_every_bad_feature_at_once(villages) -> None:
    pts = gpd.GeoDataFrame(
        {"households": ["2", "hai", -1, 4], "village_id": ["V1", "V1", "V2", "V9"]},
        geometry=[
            Point(X0, Y0),
            Point(X0, Y0),
            LineString([(X0, Y0), (X0 + 1, Y0)]),
            Point(X0, Y0),
        ],  # fmt: skip
        crs=UTM49,
    )
    with pytest.raises(InputError) as err:
        read_households(pts, villages=villages)
    assert [str(p) for p in err.value.problems] == [
        "row 2: households is 'hai', expected a number ≥ 0",
        "row 3: geometry is LineString, expected a point or a polygon",
        "row 3: households is -1, expected a number ≥ 0",
        "row 4: village_id 'V9' is not a village",
    ]
    with pytest.raises(InputError, match="has no CRS"):
        read_households(pts.set_crs(None, allow_override=True), villages=villages)


def write_population(path: Path, persons: np.ndarray, *, crs: str = UTM49) -> None:
    """Persons per 100 m cell, the west edge at X0 − 500 m (half a km outside V1)."""
    h, w = persons.shape
    t = Affine(100.0, 0, X0 - 500, 0, -100.0, Y0 + 1000)
    with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=1, dtype="float32",
                       crs=crs, transform=t, nodata=-99999.0) as dst:  # fmt: skip
        dst.write(persons.astype(np.float32), 1)


def test_population_raster_gives_households_at_cell_centres(tmp_path: Path, villages) -> None:
    # 10 rows × 30 cols of 100 m: cols 0–4 west of V1, 5–14 V1, 15–24 V2, 25–29 east of V2
    persons = np.zeros((10, 30))
    persons[:, 5:15] = 3.8  # 100 cells × 3.8 persons = 100 households in V1
    persons[2, 20] = 38.0  # 10 households in one cell of V2
    persons[0, 0] = 380.0  # outside every village: dropped
    persons[5, 22] = -99999.0  # nodata: 0
    path = tmp_path / "worldpop.tif"
    write_population(path, persons)
    hh = read_households(path, villages=villages)
    by_village = hh.groupby("village_id")["households"].sum()
    # float32 persons / 3.8: exact to ~1e-6 relative
    assert by_village["V1"] == pytest.approx(100.0, rel=1e-6)
    assert by_village["V2"] == pytest.approx(10.0, rel=1e-6)
    assert len(hh) == 101
    one = hh[hh["village_id"] == "V2"].geometry.iloc[0]
    # cell (row 2, col 20) has its centre 2050 m east of the raster's west edge, 250 m down
    assert (one.x, one.y) == (X0 - 500 + 2050, Y0 + 1000 - 250)
    hh5 = read_households(path, villages=villages, household_size=5.0)
    assert hh5["households"].sum() == pytest.approx((380 + 38) / 5.0, rel=1e-6)


def test_population_raster_matched_to_census_counts(tmp_path: Path, villages) -> None:
    persons = np.zeros((10, 30))
    persons[:, 5:15] = 1.0  # V1: a raster total of 100 persons, census says 120 households
    path = tmp_path / "worldpop.tif"
    write_population(path, persons)
    hh = read_households(path, villages=villages, match_villages=True)
    by_village = hh.groupby("village_id")["households"].sum()
    # V1 scaled to its 120 households; V2 has no populated cell: one point holds its 30
    assert by_village.to_dict() == pytest.approx({"V1": 120.0, "V2": 30.0}, rel=1e-9)
    assert (hh["village_id"] == "V2").sum() == 1


def test_population_raster_elsewhere_is_an_error(tmp_path: Path, villages) -> None:
    path = tmp_path / "worldpop.tif"
    write_population(path, np.ones((10, 30)), crs="EPSG:32648")  # the same numbers, 6° west
    with pytest.raises(InputError, match="does not cover the villages"):
        read_households(path, villages=villages)


def test_counts_per_village_spread_evenly(villages) -> None:
    hh = read_households(None, villages=villages, spacing_m=250.0)
    # 1 km villages on a 250 m lattice: 4 × 4 points each
    assert hh.groupby("village_id").size().to_dict() == {"V1": 16, "V2": 16}
    assert hh.groupby("village_id")["households"].sum().to_dict() == pytest.approx(
        {"V1": 120.0, "V2": 30.0}, rel=1e-12
    )
    tiny = villages.copy()
    tiny["geometry"] = [box(X0, Y0, X0 + 50, Y0 + 50), box(X0 + 60, Y0, X0 + 70, Y0 + 10)]
    hh = spread_households(tiny, spacing_m=250.0)
    assert len(hh) == 2  # too small for the lattice: a representative point each
    assert hh.geometry.within(tiny.geometry.union_all()).all()
