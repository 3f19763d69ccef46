"""read_towers: OpenCelliD, CSV/XLSX tables, point layers; defaults, repairs and rejects."""

from __future__ import annotations

import gzip
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import require_module
from pyproj import Transformer
from shapely.geometry import Point, box

from lomsong.defaults import TECH_DEFAULTS
from lomsong.errors import InputError, InputWarning
from lomsong.layers.towers import TOWER_COLUMNS, operator_name, read_towers

UTM49 = "EPSG:32649"
TO_UTM = Transformer.from_crs("EPSG:4326", UTM49, always_xy=True)


@pytest.fixture
def area() -> gpd.GeoDataFrame:
    """Hamlets of Ba Tơ (Quảng Ngãi), 108.70–108.76 E, 14.74–14.77 N, in UTM 49N."""
    return gpd.GeoDataFrame(
        {"village_id": ["V1"], "households": [100]},
        geometry=[box(108.70, 14.74, 108.76, 14.77)],
        crs="EPSG:4326",
    ).to_crs(UTM49)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def utm(lon: float, lat: float) -> tuple[float, float]:
    return TO_UTM.transform(lon, lat)


GENERIC = """\
tower_id,lon,lat,tech,operator,height_m,eirp_dbm,freq_mhz,azimuth_deg
A1,108.72,14.76,4G,Viettel,35,,1800,0
A2,108.72,14.76,4G,Viettel,35,,1800,120
A3,108.72,14.76,LTE,Viettel,35,,1800,240
B1,108.75,14.70,GSM,VinaPhone,,,,
"""


def test_generic_csv_defaults_and_sites(tmp_path: Path, area: gpd.GeoDataFrame) -> None:
    t = read_towers(write(tmp_path / "bts.csv", GENERIC), area=area, max_radius_km=10)
    assert list(t.columns[: len(TOWER_COLUMNS)]) == TOWER_COLUMNS
    assert t.crs.to_string() == UTM49
    assert t["tower_id"].tolist() == ["A1", "A2", "A3", "B1"]
    assert t["tech"].tolist() == ["4G", "4G", "4G", "2G"]  # LTE → 4G, GSM → 2G
    # the three sectors share a mast: one site; the 2G tower is another
    assert t["site_id"].tolist() == ["S001", "S001", "S001", "S002"]
    b1 = t.iloc[3]
    assert (b1["freq_mhz"], b1["height_m"], b1["eirp_dbm"]) == (
        TECH_DEFAULTS["2G"]["freq_mhz"], TECH_DEFAULTS["2G"]["height_m"],
        TECH_DEFAULTS["2G"]["eirp_dbm"],
    )  # fmt: skip
    assert np.isnan(b1["azimuth_deg"])  # omni
    assert t.attrs["defaults_used"] == {"freq_mhz": 1, "bandwidth_mhz": 4, "height_m": 1,
                                        "eirp_dbm": 4, "beamwidth_deg": 4,
                                        "tilt_deg": 4}  # fmt: skip
    assert t.attrs["rejects"] == []
    x, y = utm(108.72, 14.76)
    # WGS84 → UTM through PROJ: agreement to the millimetre
    assert t.geometry.iloc[0].x == pytest.approx(x, abs=1e-3)
    assert t.geometry.iloc[0].y == pytest.approx(y, abs=1e-3)


def test_swapped_lat_lon_is_corrected_with_a_warning(tmp_path: Path, area) -> None:
    text = GENERIC + "C1,14.755,108.73,4G,Viettel,30,60,1800,\n"
    with pytest.warns(InputWarning, match=r"lat/lon swapped in row\(s\) 5; corrected"):
        t = read_towers(write(tmp_path / "bts.csv", text), area=area, max_radius_km=10)
    c1 = t.loc[t["tower_id"] == "C1"].geometry.iloc[0]
    x, y = utm(108.73, 14.755)
    assert (c1.x, c1.y) == pytest.approx((x, y), abs=1e-3)  # PROJ round trip: mm
    assert t.attrs["rejects"] == []


def test_bad_rows_go_to_rejects_and_the_rest_is_used(tmp_path: Path, area) -> None:
    text = GENERIC + (
        "D1,108.73,14.76x,4G,Viettel,30,60,1800,\n"  # 5: lat not a number
        "D2,108.73,14.76,4G,Viettel,cao,60,1800,\n"  # 6: height not a number
        "D3,108.73,14.76,4G,Viettel,30,150,1800,\n"  # 7: EIRP impossible
        "D4,200,14.76,4G,Viettel,30,60,1800,\n"  # 8: longitude impossible
        "D5,105.85,21.03,4G,Viettel,30,60,1800,\n"  # 9: Hà Nội, far from the area
        "A1,108.74,14.76,4G,Viettel,30,60,1800,\n"  # 10: tower_id of row 1 again
        "D6,108.72,14.76,4G,Viettel,35,,1800,120\n"  # 11: same unit as A2
        "D7,108.73,14.76,6G,Viettel,30,60,,\n"  # 12: unknown technology
        "D8,108.73,14.76,4G,Viettel,-5,60,1800,400\n"  # 13: two problems in one row
    )
    t = read_towers(write(tmp_path / "bts.csv", text), area=area, max_radius_km=10)
    assert t["tower_id"].tolist() == ["A1", "A2", "A3", "B1"]
    rejects = {r["row"]: r["reason"] for r in t.attrs["rejects"]}
    assert sorted(rejects) == list(range(5, 14))
    assert all(r["source"] == str(tmp_path / "bts.csv") for r in t.attrs["rejects"])
    assert "position is missing or not a number" in rejects[5] and "'14.76x'" in rejects[5]
    assert rejects[6] == "height_m = 'cao' is not a number (expected 0.5–500)"
    assert rejects[7] == "eirp_dbm = '150' is out of range (expected 0–90)"
    assert rejects[8] == "impossible position lon 200.0, lat 14.76"
    assert rejects[9] == "lon 105.85, lat 21.03 is more than 10 km from the area"
    assert rejects[10] == "duplicate of row 1 (same tower_id)"
    assert rejects[11].startswith("duplicate of row 2 (same position, operator, tech")
    assert rejects[12].startswith("tech '6G' is not one of 2G, 3G, 4G, 5G")
    assert rejects[13] == ("height_m = '-5' is out of range (expected 0.5–500); "
                           "azimuth_deg = '400' is out of range (expected 0–360)")  # fmt: skip


def test_a_file_with_nothing_usable_lists_every_row(tmp_path: Path, area) -> None:
    text = "tower_id,lon,lat\nX1,abc,14.7\nX2,105.85,21.03\nX3,,\n"
    with pytest.raises(InputError) as err:
        read_towers(write(tmp_path / "bts.csv", text), area=area, max_radius_km=10)
    msg = str(err.value)
    assert msg.startswith(f"{tmp_path / 'bts.csv'}: 4 problems")
    assert [p.row for p in err.value.problems] == [None, 1, 2, 3]
    assert "row 2: lon 105.85, lat 21.03 is more than 10 km from the area" in msg


def test_missing_position_columns_are_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no lon or lat column.*the file has id, x, y"):
        read_towers(write(tmp_path / "bts.csv", "id,x,y\n1,108.7,14.7\n"))


OPENCELLID_HEADER = (
    "radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal"
)
# site 1: three Viettel LTE cells chained ~20 m apart + a VinaPhone GSM cell on the same mast;
# site 2, 5 km south: MobiFone UMTS and an unknown 452-99 NR cell; site 3: a CDMA cell of
# Vietnamobile and a cell of Cambodia's MCC 456; a duplicate cell; a cell in Hà Nội.
OPENCELLID_ROWS = """\
LTE,452,4,10001,1001,0,108.72000,14.76000,1000,12,1,1500000000,1600000000,0
LTE,452,4,10001,1002,0,108.72018,14.76008,800,5,1,1500000000,1610000000,0
LTE,452,4,10001,1003,0,108.72036,14.76000,1200,3,1,1500000000,1620000000,0
GSM,452,2,20001,3001,0,108.72000,14.76013,2000,40,1,1500000000,1600000000,0
UMTS,452,1,30001,5001,101,108.75000,14.70000,3000,7,1,1500000000,1600000000,0
NR,452,99,40001,6001,0,108.75001,14.70002,500,1,1,1500000000,1600000000,0
CDMA,452,5,50001,7001,0,108.74000,14.75000,4000,2,1,1500000000,1600000000,0
LTE,456,1,60001,8001,0,108.74002,14.75001,4000,2,1,1500000000,1600000000,0
LTE,452,4,10001,1001,0,108.72001,14.76001,1000,12,1,1500000000,1600000000,0
LTE,452,4,90001,9001,0,105.85000,21.03000,1000,12,1,1500000000,1600000000,0
"""


def test_opencellid_cells_group_into_sites_and_named_operators(tmp_path: Path, area) -> None:
    path = write(tmp_path / "cell_towers.csv", OPENCELLID_HEADER + "\n" + OPENCELLID_ROWS)
    t = read_towers(path, area=area, max_radius_km=10)
    assert t["tower_id"].tolist() == [
        "S001-45202-2G", "S001-45204-4G", "S002-45201-3G", "S002-45299-5G",
        "S003-45205-3G", "S003-45601-4G",
    ]  # fmt: skip
    assert t["operator"].tolist() == ["VinaPhone", "Viettel", "MobiFone", "452-99",
                                      "Vietnamobile", "456-1"]  # fmt: skip
    viettel = t.iloc[1]
    assert (viettel["cells"], viettel["samples"], viettel["range_m"]) == (3, 20, 1200)
    assert viettel["updated"] == "2021-05-03"  # 1620000000 s after 1970-01-01 UTC
    assert t["azimuth_deg"].isna().all()  # no azimuths in OpenCelliD: omni
    # every unit's radio parameters are the technology's defaults, and counted
    assert t.attrs["defaults_used"] == dict.fromkeys(
        ["freq_mhz", "bandwidth_mhz", "height_m", "eirp_dbm", "beamwidth_deg", "tilt_deg"], 6
    )
    assert t.loc[3, "freq_mhz"] == TECH_DEFAULTS["5G"]["freq_mhz"]
    # units of one site stand at the median (per axis) of the site's four cells
    site1 = [(108.72000, 14.76000), (108.72018, 14.76008), (108.72036, 14.76000),
             (108.72000, 14.76013)]  # fmt: skip
    xy = np.array([utm(lon, lat) for lon, lat in site1])
    median = np.median(xy, axis=0)
    for g in t.geometry.iloc[:2]:
        assert (g.x, g.y) == pytest.approx(tuple(median), abs=1e-3)  # PROJ round trip: mm
    assert t.attrs["cells"] == 8
    assert t.attrs["outside_area"] == 1  # Hà Nội: dropped, not a reject (country-wide export)
    assert t.attrs["rejects"] == [
        {"source": str(path), "row": 9, "geometry": None,
         "reason": "duplicate of row 1 (same radio, mcc, net, area and cell)"}
    ]  # fmt: skip


def test_opencellid_without_header_gzipped_and_a_smaller_site_distance(tmp_path, area) -> None:
    path = tmp_path / "452.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write(OPENCELLID_ROWS)
    t = read_towers(path, area=area, max_radius_km=10)
    assert len(t) == 6 and t["site_id"].nunique() == 3
    # at 10 m, site 1 splits in two: its LTE cells ~20 m apart stay one site (one eNodeB, id
    # 1001 >> 8 = 3), the GSM cell ~24 m from their median is another
    t10 = read_towers(path, area=area, max_radius_km=10, site_distance_m=10.0)
    assert t10["site_id"].nunique() == 2 + 2  # 2 at site 1; sites 2 and 3 (≤ 3 m apart)
    assert len(t10) == 2 + 2 + 2


def test_xlsx_with_a_column_mapping_and_a_sheet(tmp_path: Path, area) -> None:
    require_module("openpyxl")
    path = tmp_path / "tram_bts.xlsx"
    table = pd.DataFrame({
        "Mã trạm": ["QNI001", "QNI002"], "Kinh độ": [108.72, 108.75], "Vĩ độ": [14.76, 14.70],
        "Công nghệ": ["4G", "3G"], "Nhà mạng": ["Viettel", "MobiFone"],
        "Độ cao anten (m)": [42, None],
    })  # fmt: skip
    with pd.ExcelWriter(path) as xl:
        pd.DataFrame({"ghi chú": ["sheet of notes"]}).to_excel(xl, sheet_name="Ghi chú")
        table.to_excel(xl, sheet_name="Trạm BTS", index=False)
    mapping = {"tower_id": "Mã trạm", "lon": "Kinh độ", "lat": "Vĩ độ", "tech": "Công nghệ",
               "operator": "Nhà mạng", "height_m": "Độ cao anten (m)"}  # fmt: skip
    t = read_towers(path, columns=mapping, layer="Trạm BTS", area=area, max_radius_km=10)
    assert t["tower_id"].tolist() == ["QNI001", "QNI002"]
    assert t["height_m"].tolist() == [42.0, TECH_DEFAULTS["3G"]["height_m"]]
    assert t["operator"].tolist() == ["Viettel", "MobiFone"]
    assert t.attrs["defaults_used"]["height_m"] == 1
    with pytest.raises(InputError, match="no sheet 'BTS'; its sheets are Ghi chú, Trạm BTS"):
        read_towers(path, columns=mapping, layer="BTS")


def test_point_layers_in_any_crs_and_without_crs(tmp_path: Path, area) -> None:
    pts = gpd.GeoDataFrame(
        {"tower_id": ["G1", "G2"], "tech": ["4G", "2G"]},
        geometry=[Point(*utm(108.72, 14.76)), Point(*utm(108.75, 14.70))],
        crs=UTM49,
    ).to_crs("EPSG:3857")
    path = tmp_path / "bts.gpkg"
    pts.to_file(path, layer="towers", driver="GPKG")
    t = read_towers(path, area=area, max_radius_km=10)
    assert t.crs.to_string() == UTM49
    # Web Mercator → UTM round trip through PROJ: sub-millimetre
    assert t.geometry.iloc[0].x == pytest.approx(utm(108.72, 14.76)[0], abs=1e-3)
    mixed = pd.concat([pts, gpd.GeoDataFrame({"tower_id": ["G3"]}, geometry=[box(0, 0, 1, 1)],
                                             crs=pts.crs)], ignore_index=True)  # fmt: skip
    t = read_towers(mixed, area=area, max_radius_km=10)
    assert t.attrs["rejects"][0]["reason"] == "geometry is Polygon, expected a point"
    assert t.attrs["rejects"][0]["row"] == 3
    no_crs = pts.set_crs(None, allow_override=True)
    with pytest.raises(InputError, match="has no CRS"):
        read_towers(no_crs)


def test_operator_codes() -> None:
    assert operator_name(452, 4) == "Viettel"
    assert operator_name("452", "01") == "MobiFone"
    assert operator_name(452, 7) == "Gmobile"
    assert operator_name(452, 8) == "452-8"
    assert operator_name(None, 4) == ""


# --- OpenCelliD: cells grouped by the network's own structure, then by distance -------------
MAST = utm(108.73, 14.755)  # inside the area


def ocid_row(radio: str, net: int, area: int, cell: int, dx: float, dy: float) -> str:
    """An OpenCelliD row for a cell estimated (dx, dy) metres from ``MAST``."""
    lon, lat = TO_UTM.transform(MAST[0] + dx, MAST[1] + dy, direction="INVERSE")
    return f"{radio},452,{net},{area},{cell},0,{lon:.7f},{lat:.7f},1000,5,1,1500000000,1600000000,0"


def around(r_m: tuple[float, float, float], shift_m: float = 0.0) -> list[tuple[float, float]]:
    """Three sector cells' estimates at 0°, 120°, 240° from a mast ``shift_m`` east of MAST,
    ``r_m`` from it: 390–480 m from each other for r = 250, 300, 200 m."""
    return [(shift_m + r * np.sin(np.radians(a)), r * np.cos(np.radians(a)))
            for r, a in zip(r_m, (0.0, 120.0, 240.0), strict=True)]  # fmt: skip


def read_ocid(tmp_path: Path, rows: list[str], area) -> gpd.GeoDataFrame:
    path = write(tmp_path / "cells.csv", OPENCELLID_HEADER + "\n" + "\n".join(rows) + "\n")
    return read_towers(path, area=area, max_radius_km=10)


def test_lte_cells_of_one_enodeb_hundreds_of_metres_apart_are_one_site(tmp_path, area) -> None:
    cells = around((250.0, 300.0, 200.0))
    xy = np.array(cells)
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))[np.triu_indices(3, 1)]
    assert (d > 300).all() and (d < 600).all()  # scattered far beyond the 50 m site distance
    rows = [ocid_row("LTE", 4, 10001, 256 * 1234 + k, dx, dy)
            for k, (dx, dy) in enumerate(cells, start=1)]  # fmt: skip
    t = read_ocid(tmp_path, rows, area)
    assert t["tower_id"].tolist() == ["S001-45204-4G"]
    assert t["cells"].tolist() == [3]
    # the site stands at the median (per axis) of its cells as written in the file
    written = np.array([utm(float(r.split(",")[6]), float(r.split(",")[7])) for r in rows])
    med = np.median(written, axis=0)
    assert (t.geometry.iloc[0].x, t.geometry.iloc[0].y) == pytest.approx(tuple(med), abs=1e-3)
    assert (t.attrs["cells"], t.attrs["sites"]) == (3, 1)


def test_two_enodebs_100_m_apart_stay_two_sites(tmp_path, area) -> None:
    rows = [ocid_row("LTE", 4, 10001, 256 * enb + k, dx, dy)
            for enb, shift in ((1234, 0.0), (1235, 100.0))
            for k, (dx, dy) in enumerate(around((250.0, 300.0, 200.0), shift), 1)]  # fmt: skip
    t = read_ocid(tmp_path, rows, area)
    assert t["site_id"].tolist() == ["S001", "S002"]
    assert t["cells"].tolist() == [3, 3]
    assert t.geometry.iloc[0].distance(t.geometry.iloc[1]) == pytest.approx(100.0, abs=0.01)
    assert (t.attrs["cells"], t.attrs["sites"]) == (6, 2)


def test_enodeb_cells_farther_apart_than_the_spread_stay_apart(tmp_path, area) -> None:
    from lomsong.defaults import OPENCELLID_SITE_SPREAD_M

    far = OPENCELLID_SITE_SPREAD_M + 500.0  # a bad estimate (or a reused id) beyond the spread
    rows = [ocid_row("LTE", 4, 10001, 256 * 1234 + 1, 0.0, 0.0),
            ocid_row("LTE", 4, 10001, 256 * 1234 + 2, 300.0, 0.0),
            ocid_row("LTE", 4, 10001, 256 * 1234 + 3, 300.0 + far, 0.0)]  # fmt: skip
    t = read_ocid(tmp_path, rows, area)
    assert t["cells"].tolist() == [2, 1] and t.attrs["sites"] == 2


def test_umts_cells_of_one_nodeb_group_and_gsm_cells_by_distance(tmp_path, area) -> None:
    rnc = 321
    cells = around((250.0, 300.0, 200.0))
    # one NodeB: UC-Id = RNC << 16 | C-Id, sectors 1231–1233 (one C-Id decade); another NodeB
    # of the same RNC 1.5 km east (1241–1243) is its own site; GSM cells 400 m apart have no
    # structure to tell they share a mast: two sites
    rows = [ocid_row("UMTS", 1, 30001, (rnc << 16) + 1230 + k, dx, dy)
            for k, (dx, dy) in enumerate(cells, start=1)]  # fmt: skip
    rows += [ocid_row("UMTS", 1, 30001, (rnc << 16) + 1240 + k, dx, dy)
             for k, (dx, dy) in enumerate(around((250.0, 300.0, 200.0), 1500.0), 1)]  # fmt: skip
    rows += [ocid_row("GSM", 2, 20001, 3001, 0.0, -2000.0),
             ocid_row("GSM", 2, 20001, 3002, 400.0, -2000.0)]  # fmt: skip
    t = read_ocid(tmp_path, rows, area)
    assert t["tech"].tolist() == ["3G", "3G", "2G", "2G"]
    assert t["cells"].tolist() == [3, 3, 1, 1]
    assert t["site_id"].nunique() == 4
    assert (t.attrs["cells"], t.attrs["sites"]) == (8, 4)


def test_nb_iot_rows_are_rejected_with_the_reason_and_the_format_is_still_detected(
    tmp_path, area
) -> None:
    # a per-country export without header whose first row is an NB-IoT carrier
    rows = [ocid_row("NBIOT", 4, 10001, 256 * 777 + 1, 0.0, 0.0),
            ocid_row("LTE", 4, 10001, 256 * 1234 + 1, 0.0, 0.0),
            ocid_row("NBIOT", 4, 10001, 256 * 777 + 2, 50.0, 0.0)]  # fmt: skip
    path = write(tmp_path / "452.csv", "\n".join(rows) + "\n")
    t = read_towers(path, area=area, max_radius_km=10)
    assert t["tower_id"].tolist() == ["S001-45204-4G"]
    assert [(r["row"], r["reason"]) for r in t.attrs["rejects"]] == [
        (1, "NB-IoT (not a handset service)"), (3, "NB-IoT (not a handset service)"),
    ]  # fmt: skip
    assert (t.attrs["cells"], t.attrs["sites"]) == (1, 1)


def test_an_area_in_lon_lat_gives_towers_in_its_utm_zone(tmp_path: Path, area) -> None:
    path = write(tmp_path / "bts.csv", GENERIC)
    want = read_towers(path, area=area, max_radius_km=10)
    got = read_towers(path, area=area.to_crs(4326), max_radius_km=10)
    assert got.crs.to_string() == UTM49
    assert got["tower_id"].tolist() == want["tower_id"].tolist()
    assert got.geometry.geom_equals_exact(want.geometry, tolerance=1e-3).all()
