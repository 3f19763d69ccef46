"""read_households: weighted points, building polygons, a population raster, village counts."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine
from conftest import make_towers, make_villages, write_project
from shapely.geometry import LineString, Point, box

from lomsong.cli import main
from lomsong.config import load_config
from lomsong.errors import InputError
from lomsong.layers.households import read_households, spread_households
from lomsong.pipeline import run

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


def test_weighted_points_are_tied_to_their_village(tmp_path: Path, villages, caplog) -> None:
    pts = gpd.GeoDataFrame(
        {"so_ho": ["3", "2", "1"]},  # weights as text, as many GIS exports hold them
        geometry=[Point(X0 + 100, Y0 + 100), Point(X0 + 1500, Y0 + 500), Point(X0 + 5000, Y0)],
        crs=UTM49,
    ).to_crs("EPSG:4326")
    path = tmp_path / "nha.gpkg"
    pts.to_file(path, layer="households", driver="GPKG")
    hh = read_households(path, villages=villages, columns={"households": "so_ho"},
                         match_villages=False)  # fmt: skip
    assert hh.crs.to_string() == UTM49
    assert hh["households"].tolist() == [3.0, 2.0]
    assert hh["village_id"].tolist() == ["V1", "V2"]
    # the third is outside every village: no village counts it, so no total does either
    assert "1 household point(s) outside every village" in caplog.text
    # lon/lat → UTM round trip through PROJ: millimetres
    assert hh.geometry.iloc[0].x == pytest.approx(X0 + 100, abs=1e-3)


def test_unweighted_points_count_one_and_a_population_column(villages) -> None:
    pts = gpd.GeoDataFrame(
        {"dan_so": [19.0, 7.6]}, geometry=[Point(X0 + 10, Y0 + 10), Point(X0 + 1010, Y0 + 10)],
        crs=UTM49,
    )  # fmt: skip
    raw = read_households(pts, villages=villages, match_villages=False)
    assert raw["households"].tolist() == [1.0, 1.0]
    hh = read_households(pts, villages=villages, population="dan_so", match_villages=False)
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
    hh = read_households(path, villages=villages, match_villages=False)
    by_village = hh.groupby("village_id")["households"].sum()
    # float32 persons / 3.8: exact to ~1e-6 relative
    assert by_village["V1"] == pytest.approx(100.0, rel=1e-6)
    assert by_village["V2"] == pytest.approx(10.0, rel=1e-6)
    assert len(hh) == 101
    one = hh[hh["village_id"] == "V2"].geometry.iloc[0]
    # cell (row 2, col 20) has its centre 2050 m east of the raster's west edge, 250 m down
    assert (one.x, one.y) == (X0 - 500 + 2050, Y0 + 1000 - 250)
    hh5 = read_households(path, villages=villages, household_size=5.0, match_villages=False)
    assert hh5["households"].sum() == pytest.approx((380 + 38) / 5.0, rel=1e-6)


def test_population_raster_matched_to_census_counts(tmp_path: Path, villages) -> None:
    persons = np.zeros((10, 30))
    persons[:, 5:15] = 1.0  # V1: a raster total of 100 persons, census says 120 households
    path = tmp_path / "worldpop.tif"
    write_population(path, persons)
    hh = read_households(path, villages=villages)  # the run's rule: census counts win
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


# -- one unit for the whole run: census counts say how many, the points say where ------------
@pytest.fixture
def census() -> gpd.GeoDataFrame:
    """Three 1 km villages in a row: V1 has a census count of 50, V2 of 30, V3 none (0)."""
    return gpd.GeoDataFrame(
        {"village_id": ["V1", "V2", "V3"], "households": [50, 30, 0]},
        geometry=[box(X0 + 1000 * i, Y0, X0 + 1000 * (i + 1), Y0 + 1000) for i in range(3)],
        crs=UTM49,
    )


def _buildings(kind: str) -> gpd.GeoDataFrame:
    """10 buildings in V1, 4 in V3, 1 outside every village; none in V2."""
    xy = [(X0 + 50 + 90 * i, Y0 + 500) for i in range(10)]
    xy += [(X0 + 2100 + 200 * i, Y0 + 300) for i in range(4)]
    xy += [(X0 + 9000, Y0 + 500)]
    if kind == "polygons":  # footprints of 10 m × 8 m around each point
        geoms = [box(x - 5, y - 4, x + 5, y + 4) for x, y in xy]
    else:
        geoms = [Point(x, y) for x, y in xy]
    weights = [1.0] * 10 + [2.0] * 4 + [7.0]
    columns = {"weighted": {"households": weights}, "population": {"dan_so": weights}}
    return gpd.GeoDataFrame(columns.get(kind, {}), geometry=geoms, crs=UTM49)


@pytest.mark.parametrize("kind", ["points", "weighted", "population", "polygons"])
def test_points_are_weighted_to_the_village_census_count(census, kind) -> None:
    pts = _buildings(kind)
    population = "dan_so" if kind == "population" else None
    hh = read_households(pts, villages=census, population=population, household_size=0.5)
    by_village = hh.groupby("village_id")["households"]
    # V1's 10 buildings, whatever their own weights (1 each, or 1 person = 2 households),
    # share its census count of 50 in proportion to them: 5 each
    v1 = hh[hh["village_id"] == "V1"]
    assert len(v1) == 10 and v1["households"].to_numpy() == pytest.approx([5.0] * 10)
    # V2 has a count but no building: one point at its representative point carries the 30
    v2 = hh[hh["village_id"] == "V2"]
    assert len(v2) == 1 and v2["households"].iloc[0] == pytest.approx(30.0)
    assert v2.geometry.iloc[0].within(census.geometry.iloc[1])
    # V3 has no count: its points keep their own weights (1, 2 or 2 persons / 0.5 per household)
    raw = {"points": 1.0, "weighted": 2.0, "population": 4.0, "polygons": 1.0}[kind]
    assert by_village.sum()["V3"] == pytest.approx(4 * raw)
    # the point outside every village belongs to no village's count: it is not a household
    assert set(hh["village_id"]) == {"V1", "V2", "V3"}
    assert hh["households"].sum() == pytest.approx(50 + 30 + 4 * raw)


def test_a_village_whose_points_weigh_nothing_keeps_its_count(census) -> None:
    pts = gpd.GeoDataFrame({"households": [0.0, 0.0]},
                           geometry=[Point(X0 + 100, Y0 + 100), Point(X0 + 200, Y0 + 100)],
                           crs=UTM49)  # fmt: skip
    hh = read_households(pts, villages=census)
    sums = hh.groupby("village_id")["households"].sum()
    assert sums.to_dict() == pytest.approx({"V1": 50.0, "V2": 30.0})  # V3: no count, no point


def test_every_total_of_a_run_is_in_census_households(tmp_path: Path) -> None:
    """Building points (1 each) in villages with census counts, through ``lomsong run``: the
    villages, the summary, the household points and the ranking count the same households."""
    import conftest

    x0, y0 = conftest.X0, conftest.Y0
    # six 1 km villages eastwards of a weak tower (≈ 4 km of coverage): V1, V2 lit, V3 half,
    # V4-V6 dark. V4 has a count but no building; V5 no count (its 4 buildings weigh 2).
    villages = make_villages(
        [(x0 + 500 + 1500 * i, y0 - 1500, x0 + 1500 + 1500 * i, y0 - 500) for i in range(6)],
        households=[50, 50, 50, 40, 0, 50],
    )
    pts, weights = [], []
    for i, n in enumerate([10, 10, 10, 0, 4, 10]):
        pts += [Point(x0 + 550 + 1500 * i + 900 * k / max(n - 1, 1), y0 - 1000) for k in range(n)]
        weights += [2.0 if i == 4 else 1.0] * n
    pts.append(Point(x0 + 20_000, y0 - 1000))  # outside every village
    weights.append(1.0)
    buildings = gpd.GeoDataFrame({"households": weights}, geometry=pts, crs=conftest.CRS)
    towers = make_towers([(x0, y0 - 1000)], eirp_dbm=[38.0])
    project = write_project(tmp_path / "in", villages, towers, households=buildings, sites=5,
                            location_probability=0.5)  # one radius: V3 half lit  # fmt: skip
    out = tmp_path / "out"
    assert main(["run", str(project), "--out", str(out), "--quiet"]) == 0

    v = pd.read_csv(out / "villages.csv", dtype={"village_id": str}).set_index("village_id")
    totals = json.loads((out / "summary.json").read_text(encoding="utf-8"))["totals"]
    # the census says how many; a village without a count has its points' 4 × 2
    assert v["households"].to_dict() == {"V1": 50, "V2": 50, "V3": 50, "V4": 40, "V5": 8,
                                         "V6": 50}  # fmt: skip
    assert (v["households_covered"] + v["households_uncovered"] == v["households"]).all()
    assert v.loc["V3", "households_uncovered"] % 5 == 0  # V3's buildings count 5 each
    assert 0 < v.loc["V3", "households_uncovered"] < 50
    assert totals["households"] == v["households"].sum() == 248
    assert totals["households_uncovered"] == v["households_uncovered"].sum()
    assert totals["households_covered"] == v["households_covered"].sum()
    assert sorted(v.index[v["dead"]]) == ["V4", "V5", "V6"]
    assert totals["dead_villages"] == 3
    # …and the household points the coverage matrix and the ranking read carry the same
    res = run(load_config(project), write=False)
    assert res.gaps.uncovered["households"].sum() == pytest.approx(totals["households_uncovered"])
    assert res.gaps.households["households"].sum() == pytest.approx(totals["households"])
    # the ranking's gains are census households too: the sites reach every uncovered one
    rk = pd.read_csv(out / "ranking.csv")
    assert len(rk) >= 1
    assert rk["cumulative_households"].iloc[-1] == totals["households_reached_by_sites"]
    assert totals["households_reached_by_sites"] == totals["households_uncovered"]
