"""Tests of the built-in demo province (lomsong.demo).

Most tests use the reduced province (a fraction of a second); the full province is generated
once (a few seconds) for the statistics the demo promises.
"""

from __future__ import annotations

import csv
import math
import tomllib

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from rasterio import features
from scipy import ndimage

from lomsong.demo import DemoProvince, generate_demo, write_demo
from lomsong.grid import Grid

TOWER_CSV_COLUMNS = [
    "tower_id", "site_id", "operator", "tech", "freq_mhz", "height_m", "eirp_dbm",
    "azimuth_deg", "beamwidth_deg", "tilt_deg", "lon", "lat",
]  # fmt: skip


@pytest.fixture(scope="module")
def small() -> DemoProvince:
    return generate_demo(seed=2023, reduced=True)


@pytest.fixture(scope="module")
def full() -> DemoProvince:
    return generate_demo(seed=2023)


# --- an independent, deliberately simple propagation check --------------------------------------
def _hata_suburban_db(d_km: np.ndarray, f_mhz: float, h_tx: float, h_rx: float = 1.5) -> np.ndarray:
    """Okumura-Hata (COST-231 Hata above 1500 MHz) suburban path loss (dB)."""
    a_hm = (1.1 * math.log10(f_mhz) - 0.7) * h_rx - (1.56 * math.log10(f_mhz) - 0.8)
    slope = 44.9 - 6.55 * math.log10(h_tx)
    if f_mhz <= 1500:
        urban = 69.55 + 26.16 * math.log10(f_mhz) - 13.82 * math.log10(h_tx) - a_hm
    else:
        urban = 46.3 + 33.9 * math.log10(f_mhz) - 13.82 * math.log10(h_tx) - a_hm
    return urban + slope * np.log10(d_km) - 2.0 * math.log10(f_mhz / 28.0) ** 2 - 5.4


def _best_signal_dbm(demo: DemoProvince, x: np.ndarray, y: np.ndarray, max_km: float) -> np.ndarray:
    """Best-server power (dBm) at (x, y), 1.5 m above ground: Hata + the dominant knife edge
    (ITU-R P.526 J(nu), 4/3 earth) along the straight profile; antenna patterns ignored, which
    can only *over*-estimate the signal, so "dead" here is dead for any pattern."""
    terrain = demo.terrain
    z_rx = terrain.sample(x, y) + 1.5
    best = np.full(x.shape, -np.inf)
    s = np.linspace(0.0, 1.0, 202)[1:-1]
    for t in demo.towers.itertuples():
        tx, ty = t.geometry.x, t.geometry.y
        d = np.hypot(x - tx, y - ty)
        z_tx = terrain.sample(np.array([tx]), np.array([ty]))[0] + t.height_m
        px, py = tx + (x[:, None] - tx) * s, ty + (y[:, None] - ty) * s
        d1, d2 = d[:, None] * s, d[:, None] * (1.0 - s)
        clearance = (
            terrain.sample(px, py) + d1 * d2 / (2 * 8_500e3) - (z_tx + (z_rx[:, None] - z_tx) * s)
        )
        nu = (
            clearance * np.sqrt(2.0 / (300.0 / t.freq_mhz) * d[:, None] / np.maximum(d1 * d2, 1.0))
        ).max(1)
        j = np.where(nu > -0.78, 6.9 + 20 * np.log10(np.sqrt((nu - 0.1) ** 2 + 1) + nu - 0.1), 0.0)
        p = t.eirp_dbm - _hata_suburban_db(np.maximum(d, 50.0) / 1e3, t.freq_mhz, t.height_m) - j
        best = np.maximum(best, np.where(d <= max_km * 1e3, p, -np.inf))
    return best


def _points_of(demo: DemoProvince, kind: str) -> gpd.GeoDataFrame:
    ids = demo.villages.loc[demo.villages["kind"] == kind, "village_id"]
    return demo.households[demo.households["village_id"].isin(ids)]


# --- determinism ---------------------------------------------------------------------------------
def test_same_seed_gives_identical_layers(small: DemoProvince) -> None:
    again = generate_demo(seed=2023, reduced=True)
    np.testing.assert_array_equal(again.terrain.data, small.terrain.data)
    assert again.terrain.transform == small.terrain.transform
    for a, b in ((again.villages, small.villages), (again.towers, small.towers),
                 (again.households, small.households)):  # fmt: skip
        pd.testing.assert_frame_equal(a.drop(columns="geometry"), b.drop(columns="geometry"))
        assert a.geometry.to_wkb().tolist() == b.geometry.to_wkb().tolist()


def test_other_seed_gives_another_province(small: DemoProvince) -> None:
    other = generate_demo(seed=7, reduced=True)
    assert other.terrain.data.shape[0] == small.terrain.data.shape[0]
    assert not np.array_equal(other.terrain.data, small.terrain.data[:, : other.terrain.shape[1]])
    assert other.villages.geometry.to_wkb().tolist() != small.villages.geometry.to_wkb().tolist()
    assert not np.allclose(other.towers.geometry.x.to_numpy()[:3], small.towers.geometry.x[:3])


# --- the full province's statistics --------------------------------------------------------------
def test_full_province_statistics(full: DemoProvince) -> None:
    v, t, z = full.villages, full.towers, full.terrain
    assert full.crs.to_epsg() == 32649 and z.crs.to_epsg() == 32649
    assert z.data.dtype == np.float32
    assert z.res == 30.0
    assert len(v) >= 150
    assert 50_000 <= v["households"].sum() <= 70_000
    assert len(t) >= 40
    # mountain hamlets are small, plain hamlets large (brief: 20-150 in the mountains)
    mtn = v.loc[v["kind"] == "mountain", "households"]
    assert len(mtn) >= 10 and mtn.between(20, 150).all()
    assert v.loc[v["kind"].isin(["plain", "town", "coastal"]), "households"].median() > 250
    # the lower-left corner is near 108.45 E, 14.75 N (within 1 km: the origin is floored to km)
    lon, lat = (
        gpd.GeoSeries(gpd.points_from_xy([z.bounds[0]], [z.bounds[1]]), crs=z.crs)
        .to_crs(4326)
        .iloc[0]
        .coords[0]
    )
    assert lon == pytest.approx(108.45, abs=0.01) and lat == pytest.approx(14.75, abs=0.01)
    # ~40 km north-south
    assert z.bounds[3] - z.bounds[1] == pytest.approx(40_000, abs=100)


def test_full_terrain_shape(full: DemoProvince) -> None:
    z = full.terrain
    data = z.data
    assert np.isfinite(data).all() and data.min() == 0.0
    # highest summit 1,200-1,600 m, in the western third of the grid
    assert 1_200.0 <= data.max() <= 1_600.0
    _, col = np.unravel_index(np.argmax(data), data.shape)
    assert col < data.shape[1] / 3
    # sea = 0 exactly along the east edge; land is never below 1 m (SRTM-like, sea is 0)
    assert (data[:, -20:] == 0.0).all()
    assert data[data > 0].min() >= 1.0
    # coastal plain: the 5 km next to the coast are low (mean under 60 m)
    x, _ = z.cell_centers()
    mainland, island = _land_parts(z)
    coast_x = np.array([x[r][mainland[r]].max() for r in range(z.shape[0])])
    near = mainland & (x > coast_x[:, None] - 5_000)
    assert data[near].mean() < 60.0


def _land_parts(z: Grid) -> tuple[np.ndarray, np.ndarray]:
    labels, _ = ndimage.label(z.data > 0)
    west = np.unique(labels[:, 0])
    mainland = np.isin(labels, west[west > 0])
    return mainland, (labels > 0) & ~mainland


def test_full_island_offshore(full: DemoProvince) -> None:
    z = full.terrain
    mainland, island = _land_parts(z)
    x, y = z.cell_centers()
    coast = mainland & ~ndimage.binary_erosion(mainland, border_value=1)
    ix, iy = x[island], y[island]
    cx, cy = x[coast], y[coast]
    gap = np.min(np.hypot(ix[:, None] - cx[None, :], iy[:, None] - cy[None, :]))
    assert 20_000 <= gap <= 25_000
    area_km2 = island.sum() * z.res**2 / 1e6
    assert 2.0 <= area_km2 <= 8.0  # "a few km²"
    assert 60.0 <= z.data[island].max() <= 100.0  # a small hill like Lý Sơn's
    # the island's hamlets: commune An Bình, one of them Đảo Bé; no tower on or near it
    isl = full.villages[full.villages["kind"] == "island"]
    assert set(isl["commune"]) == {"An Bình"} and "Đảo Bé" in set(isl["name"])
    tx, ty = full.towers.geometry.x.to_numpy(), full.towers.geometry.y.to_numpy()
    assert np.min(np.hypot(tx[:, None] - ix[None, :], ty[:, None] - iy[None, :])) > 20_000


def test_full_dead_zones(full: DemoProvince) -> None:
    """The island and several mountain-valley hamlets are below -100 dBm with Hata + knife
    edge (30 km radius, as in the project file); the plain is nearly all covered."""
    for kind, at_least in (("island", 1), ("mountain", 5)):
        pts = _points_of(full, kind)
        p = _best_signal_dbm(full, pts.geometry.x.to_numpy(), pts.geometry.y.to_numpy(), 30.0)
        dead = pd.Series(p < -100.0).groupby(pts["village_id"].to_numpy()).all()
        assert dead.sum() >= at_least, kind
    isl = _points_of(full, "island")
    assert (
        _best_signal_dbm(full, isl.geometry.x.to_numpy(), isl.geometry.y.to_numpy(), 30.0)
        < -103.0  # 3 dB of margin: the island stays dead whatever detail the model adds
    ).all()
    plain = _points_of(full, "plain")
    p = _best_signal_dbm(full, plain.geometry.x.to_numpy(), plain.geometry.y.to_numpy(), 30.0)
    share = plain["households"].to_numpy()[p >= -100.0].sum() / plain["households"].sum()
    assert share > 0.9  # the plain is served; the gaps are in the hills and offshore


def test_full_mountain_hamlets_sit_in_valleys(full: DemoProvince) -> None:
    """Mountain households live low: at least 300 m below the highest ground within 2 km."""
    z = full.terrain
    pts = _points_of(full, "mountain")
    rows, cols = z.rowcol(pts.geometry.x.to_numpy(), pts.geometry.y.to_numpy())
    k = int(2_000 / z.res)
    peak = ndimage.maximum_filter(z.data, size=2 * k + 1)
    drop = peak[rows, cols] - z.data[rows, cols]
    assert np.median(drop) > 300.0


# --- geometry and consistency (reduced) ----------------------------------------------------------
def test_villages_are_valid_unique_and_on_land(small: DemoProvince) -> None:
    v, z = small.villages, small.terrain
    assert list(v.columns[:5]) == ["village_id", "name", "commune", "district", "households"]
    assert v["village_id"].is_unique
    assert not v.duplicated(["commune", "name"]).any()
    assert v.geometry.is_valid.all() and not v.geometry.is_empty.any()
    assert set(v.geom_type) <= {"Polygon", "MultiPolygon"}
    assert v["households"].dtype.kind == "i" and (v["households"] >= 20).all()
    # rasterised on the terrain grid, the villages cover exactly the land cells
    covered = features.rasterize(
        ((g, 1) for g in v.geometry), out_shape=z.shape, transform=z.transform, dtype="uint8"
    ).astype(bool)
    np.testing.assert_array_equal(covered, z.data > 0)


def test_villages_do_not_overlap(small: DemoProvince) -> None:
    geoms = small.villages.geometry.to_numpy()
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    pairs = left < right
    shared = shapely.area(shapely.intersection(geoms[left[pairs]], geoms[right[pairs]]))
    assert shared.max(initial=0.0) < 1.0  # m²: neighbours share edges only (float noise)


def test_names_are_vietnamese(full: DemoProvince) -> None:
    v = full.villages
    assert {"Lý Sơn", "Ba Tơ"} <= set(v["district"])
    assert v.groupby("district")["commune"].nunique().min() >= 1
    assert v.loc[v["district"] != "Lý Sơn"].groupby("district")["commune"].nunique().max() >= 3
    names = " ".join(v["name"])
    assert all(w in names for w in ("Thôn", "Tổ dân phố", "Xóm"))
    assert sum(not n.isascii() for n in v["name"]) > len(v) / 2  # diacritics, not ASCII
    assert not v.duplicated(["commune", "name"]).any()


def test_household_points_inside_their_village(small: DemoProvince) -> None:
    h, v = small.households, small.villages.set_index("village_id")
    assert h.crs == small.crs
    assert h["households"].dtype.kind == "i" and (h["households"] >= 1).all()
    poly = gpd.GeoSeries(v.loc[h["village_id"]].geometry.to_numpy(), crs=h.crs)
    assert poly.covers(h.geometry.reset_index(drop=True)).all()
    assert (small.terrain.sample(h.geometry.x, h.geometry.y) > 0).all()
    sums = h.groupby("village_id")["households"].sum()
    pd.testing.assert_series_equal(
        sums.sort_index(), v["households"].sort_index(), check_names=False
    )
    # one point per 5-20 households on average (villages with few households may fall outside)
    assert 5.0 <= h["households"].mean() <= 20.0


def test_towers(small: DemoProvince, full: DemoProvince) -> None:
    for demo in (small, full):
        t = demo.towers
        assert t["tower_id"].is_unique
        assert t.crs == demo.crs
        assert (demo.terrain.sample(t.geometry.x, t.geometry.y) > 0).all()
        assert t["height_m"].between(20.0, 45.0).all()
        assert set(t["operator"]) <= {"Viettel", "VinaPhone", "MobiFone"}
        freq = {"2G": 900.0, "3G": 2100.0, "4G": 1800.0}
        assert (t["freq_mhz"] == t["tech"].map(freq)).all()
        assert t["eirp_dbm"].between(55.0, 62.0).all()
        omni = t["azimuth_deg"].isna()
        assert (t.loc[omni, "tower_id"] == t.loc[omni, "site_id"]).all()
        sectors = t[~omni]
        assert (sectors["beamwidth_deg"] == 65.0).all()
        assert sectors["tilt_deg"].between(2.0, 6.0).all()
        for _, site in sectors.groupby("site_id"):
            assert len(site) == 3 and site.geometry.x.nunique() == 1
            az = np.sort(site["azimuth_deg"].to_numpy())
            np.testing.assert_allclose(np.diff(az), 120.0, atol=0.11)  # rounded to 0.1°
    t = full.towers
    assert set(t["tech"]) == {"2G", "3G", "4G"}
    assert t["azimuth_deg"].isna().any() and t["azimuth_deg"].notna().any()
    # none on the island (its hamlets are > 20 km from any tower, checked above), none deep in
    # the mountains: every site is within 15 km of the coast
    mainland, _ = _land_parts(full.terrain)
    x, _ = full.terrain.cell_centers()
    rows, _ = full.terrain.rowcol(t.geometry.x, t.geometry.y)
    coast_x = np.array([x[r][mainland[r]].max() for r in rows])
    assert (coast_x - t.geometry.x.to_numpy()).max() < 15_000


def test_reduced_has_dead_valley_and_island(small: DemoProvince) -> None:
    assert 20 <= len(small.villages) <= 45
    assert 8 <= len(small.towers) <= 16
    assert small.terrain.res == 90.0
    for kind in ("island", "mountain"):
        pts = _points_of(small, kind)
        p = _best_signal_dbm(small, pts.geometry.x.to_numpy(), pts.geometry.y.to_numpy(), 15.0)
        dead = pd.Series(p < -100.0).groupby(pts["village_id"].to_numpy()).all()
        assert dead.any(), kind


# --- writing -------------------------------------------------------------------------------------
def test_write_demo_round_trip(tmp_path, small: DemoProvince) -> None:
    path = write_demo(tmp_path / "demo", reduced=True)
    out = tmp_path / "demo"
    assert path == out / "project.toml"
    for name in ("villages.gpkg", "households.gpkg", "towers.csv", "terrain.tif"):
        assert (out / name).is_file(), name

    assert pyogrio.list_layers(out / "villages.gpkg")[:, 0].tolist() == ["villages"]
    assert pyogrio.list_layers(out / "households.gpkg")[:, 0].tolist() == ["households"]
    v = gpd.read_file(out / "villages.gpkg", layer="villages")
    assert v.crs.to_epsg() == 32649
    assert v["village_id"].tolist() == small.villages["village_id"].tolist()
    assert v["name"].tolist() == small.villages["name"].tolist()  # UTF-8 diacritics survive
    h = gpd.read_file(out / "households.gpkg", layer="households")
    assert h["households"].sum() == small.villages["households"].sum()

    with open(out / "towers.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == TOWER_CSV_COLUMNS
    assert len(rows) - 1 == len(small.towers)
    lon_i, lat_i, az_i = (rows[0].index(c) for c in ("lon", "lat", "azimuth_deg"))
    for row, az in zip(rows[1:], small.towers["azimuth_deg"], strict=True):
        assert len(row[lon_i].split(".")[1]) == 6 and len(row[lat_i].split(".")[1]) == 6
        assert 108.0 < float(row[lon_i]) < 109.5 and 14.5 < float(row[lat_i]) < 15.5
        assert (row[az_i] == "") == bool(np.isnan(az))
    # lon/lat go back to the same place (6 decimals ~ 0.1 m; 0.5 m allows the rounding)
    t = pd.read_csv(out / "towers.csv")
    back = gpd.GeoSeries(gpd.points_from_xy(t["lon"], t["lat"]), crs=4326).to_crs(32649)
    assert back.distance(small.towers.geometry.reset_index(drop=True)).max() < 0.5

    grid = Grid.from_file(out / "terrain.tif")
    np.testing.assert_array_equal(grid.data, small.terrain.data)
    assert grid.transform == small.terrain.transform and grid.crs.to_epsg() == 32649

    config = tomllib.loads(path.read_text(encoding="utf-8"))
    assert path.read_text(encoding="utf-8").startswith(
        "# lomsong demo province — generated by lomsong.demo (seed 2023"
    )
    assert config["inputs"] == {
        "villages": "villages.gpkg",
        "towers": "towers.csv",
        "terrain": ["terrain.tif"],
        "households": "households.gpkg",
        "candidates": "auto",
    }
    assert config["model"] == {
        "name": "itm", "environment": "suburban", "rx_height_m": 1.5, "max_radius_km": 15,
    }  # fmt: skip
    assert "coverage" not in config  # the default rule (per-technology service thresholds)
    assert config["siting"] == {"sites": 5, "method": "greedy"}
    assert config["output"] == {"dir": "../rerun", "lang": "vi"}


def test_full_project_file_values(tmp_path, monkeypatch, full: DemoProvince) -> None:
    # the full write is the reduced code path with full parameters: reuse the generated
    # province rather than generating it again (keeps the suite fast)
    monkeypatch.setattr("lomsong.demo.province.generate_demo", lambda **_: full)
    config = tomllib.loads(write_demo(tmp_path).read_text(encoding="utf-8"))
    assert config["model"]["max_radius_km"] == 30 and config["siting"]["sites"] == 10
