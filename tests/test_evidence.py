"""Field evidence: reading walk-test logs and generic measurement tables."""

from __future__ import annotations

import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point

from lomsong.calibration.evidence import (
    EVIDENCE_COLUMNS,
    TOWER_COLLECTOR_COLUMNS,
    read_evidence,
)
from lomsong.errors import InputError

# The header exactly as Tower Collector's CsvExportFormatter.formatHeader() writes it
# (zamojski/TowerCollector, app/src/main/java/info/zamojski/soft/towercollector/files/
# formatters/csv/CsvExportFormatter.java), rows as its formatEntry() writes them: quoted dates
# and device, empty cells for unknown values, CRLF line ends.
TC_HEADER = (
    "mcc,mnc,lac,cell_id,short_cell_id,rnc,psc,asu,dbm,ta,lat,lon,accuracy,speed,bearing,"
    "altitude,measured_at,net_type,neighboring,discovered_at,device,rsrp,rsrq,rssi,rssnr,cqi,"
    "rscp,csi_rsrp,csi_rsrq,csi_sinr,ss_rsrp,ss_rsrq,ss_sinr,cdma_dbm,cdma_ecio,evdo_dbm,"
    "evdo_ecio,evdo_snr,ec_no,arfcn"
)
_TAIL_LTE = ",,,,,,,,,,,,,,,,1850"  # rsrq … arfcn after rsrp: only the EARFCN known


def _tc_row(
    mcc, mnc, cid, net, dbm, lat, lon, neighboring="false", when="2026-11-30T02:15:00.000Z"
):
    return (
        f"{mcc},{mnc},10510,{cid},{int(cid) % 256 if cid else ''},,,40,{dbm},3,{lat},{lon},"
        f'8,1.2,90,35,"{when}",{net},{neighboring},"{when}","Samsung SM-A125F",{dbm}' + _TAIL_LTE
    )


def _write_tc(path: Path, rows: list[str]) -> Path:
    path.write_bytes(("\r\n".join([TC_HEADER, *rows]) + "\r\n").encode())
    return path


def test_tower_collector_header_matches_the_source() -> None:
    assert ",".join(TOWER_COLLECTOR_COLUMNS) == TC_HEADER


def test_tower_collector_export_detected_from_its_header(tmp_path: Path) -> None:
    path = _write_tc(
        tmp_path / "towercollector.csv",
        [
            _tc_row(452, 4, 26894593, "LTE", -97, "14.77212345", "108.91234567"),
            _tc_row(452, 2, 21234, "GSM", -81, "14.77300000", "108.91300000"),
            _tc_row(452, 1, 268435, "UMTS", -95, "14.77400000", "108.91400000", "true"),
            _tc_row(452, 4, 1234567, "NR", -101, "14.77500000", "108.91500000"),
            _tc_row(452, 99, 1234568, "TD-SCDMA", -90, "14.77600000", "108.91600000"),
        ],
    )
    gdf = read_evidence(path)  # no format named: the header says it
    assert set(gdf["source_format"]) == {"tower_collector"}
    assert list(gdf["tech"]) == ["4G", "2G", "3G", "5G", "3G"]
    assert list(gdf["operator"]) == ["Viettel", "VinaPhone", "MobiFone", "Viettel", "452-99"]
    assert list(gdf["level_dbm"]) == [-97.0, -81.0, -95.0, -101.0, -90.0]
    assert list(gdf["cell_id"]) == ["26894593", "21234", "268435", "1234567", "1234568"]
    assert list(gdf["neighboring"]) == [False, False, True, False, False]
    assert gdf["time"].iloc[0] == pd.Timestamp("2026-11-30T02:15:00Z")
    assert gdf.crs.to_epsg() == 4326
    assert gdf.geometry.iloc[0].equals(Point(108.91234567, 14.77212345))
    assert list(gdf["row"]) == [1, 2, 3, 4, 5]
    assert gdf.attrs["rejects"] == []


def test_tower_collector_bad_rows_go_to_rejects_with_reasons(tmp_path: Path) -> None:
    path = _write_tc(
        tmp_path / "tc.csv",
        [
            _tc_row(452, 4, 26894593, "LTE", -97, "14.77", "108.91"),
            _tc_row(452, 4, 26894594, "LTE", -99, "0.00000000", "0.00000000"),  # no fix
            _tc_row(452, 4, 26894595, "LTE", "", "14.78", "108.92"),  # level not reported
            _tc_row(452, 4, 26894596, "UNKNOWN", -90, "14.79", "108.93"),
            _tc_row(452, 4, 26894597, "LTE", "-9x", "14.80", "108.94"),
        ],
    )
    gdf = read_evidence(path)
    assert list(gdf["row"]) == [1]
    reasons = {r["row"]: r["reason"] for r in gdf.attrs["rejects"]}
    assert reasons == {
        2: "position 0,0 (no position fix)",
        3: "cell seen but its level not reported (dbm empty)",
        4: "unknown technology 'UNKNOWN'",
        5: "level_dbm '-9x' is not a number",
    }


def _generic(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=EVIDENCE_COLUMNS)


# (lat, lon, level_dbm, tech, operator, cell_id, time) as a walk-test sheet would hold them
GENERIC_ROWS = [
    # a reading, a no-service point (empty level), the operator as MCC-MNC
    ("14.7", "108.9", "-105", "LTE", "Viettel", "26894593", "2026-11-30 09:15:00+07:00"),
    ("14.71", "108.91", "", "4G", "Viettel", "", "2026-11-30T02:16:00Z"),
    ("14.72", "108.92", "-88", "3G", "452-01", "", ""),
    # bad rows: no fix, 0/0, text in a number, text in a position, unknown technology
    ("", "", "-90", "4G", "Viettel", "", ""),
    ("0", "0", "-90", "4G", "Viettel", "", ""),
    ("14.73", "108.93", "weak", "4G", "Viettel", "", ""),
    ("14,74", "108.94", "-90", "4G", "Viettel", "", ""),
    ("14.75", "108.95", "-90", "WiMAX", "Viettel", "", ""),
]


def test_generic_contract_without_mapping_keeps_no_service_rows(tmp_path: Path) -> None:
    path = tmp_path / "walk.csv"
    _generic(GENERIC_ROWS).to_csv(path, index=False)
    gdf = read_evidence(path)
    assert set(gdf["source_format"]) == {"generic"}
    assert list(gdf["row"]) == [1, 2, 3]
    assert gdf["level_dbm"].iloc[0] == -105.0
    # the no-service point is evidence: kept, NaN level, flagged
    assert np.isnan(gdf["level_dbm"].iloc[1]) and bool(gdf["no_service"].iloc[1])
    assert list(gdf["no_service"]) == [False, True, False]
    assert list(gdf["tech"]) == ["4G", "4G", "3G"]
    assert list(gdf["operator"]) == ["Viettel", "Viettel", "MobiFone"]
    assert gdf["time"].iloc[0] == pd.Timestamp("2026-11-30T02:15:00Z")
    assert pd.isna(gdf["time"].iloc[2])
    reasons = {r["row"]: r["reason"] for r in gdf.attrs["rejects"]}
    assert reasons == {
        4: "no position fix (lat/lon empty)",
        5: "position 0,0 (no position fix)",
        6: "level_dbm 'weak' is not a number",
        7: "lat '14,74' is not a number",
        8: "unknown technology 'WiMAX'",
    }


def test_generic_with_a_mapping(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "Vĩ độ": ["14.7", "14.8"],
            "Kinh độ": ["108.9", "109.0"],
            "RSRP": ["-110", ""],
            "Mạng": ["LTE", "LTE"],
            "Nhà mạng": ["VinaPhone", "VinaPhone"],
            "ghi chú": ["nhà văn hoá", "đầu thôn"],
        }
    )
    path = tmp_path / "khao_sat.csv"
    frame.to_csv(path, index=False)
    mapping = {"lat": "Vĩ độ", "lon": "Kinh độ", "level_dbm": "RSRP", "tech": "Mạng",
               "operator": "Nhà mạng"}  # fmt: skip
    gdf = read_evidence(path, columns=mapping, crs="EPSG:32649")
    assert list(gdf["lat"]) == [14.7, 14.8]
    assert gdf["level_dbm"].iloc[0] == -110.0 and bool(gdf["no_service"].iloc[1])
    assert list(gdf["cell_id"]) == ["", ""]
    assert list(gdf["ghi chú"]) == ["nhà văn hoá", "đầu thôn"]  # other columns kept
    assert gdf.crs.to_epsg() == 32649
    # without the mapping the same file names every missing column at once
    with pytest.raises(InputError) as err:
        read_evidence(path)
    missing = [p.reason for p in err.value.problems if p.reason.startswith("missing column")]
    assert missing == [
        f"missing column {c!r}" for c in ("lat", "lon", "level_dbm", "tech", "operator")
    ]


def test_generic_geopackage_points(tmp_path: Path) -> None:
    frame = _generic(GENERIC_ROWS[:3]).drop(columns=["lat", "lon"])
    gdf_in = gpd.GeoDataFrame(
        frame, geometry=[Point(108.9, 14.7), Point(108.91, 14.71), Point(108.92, 14.72)],
        crs="EPSG:4326",
    ).to_crs("EPSG:32649")  # fmt: skip
    path = tmp_path / "walk.gpkg"
    gdf_in.to_file(path, layer="walk")
    gdf = read_evidence(path)
    assert np.allclose(gdf["lat"], [14.7, 14.71, 14.72])
    assert np.allclose(gdf["lon"], [108.9, 108.91, 108.92])
    assert list(gdf["no_service"]) == [False, True, False]


def test_file_with_every_row_bad_raises_all_problems(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    _generic(GENERIC_ROWS[3:]).to_csv(path, index=False)
    with pytest.raises(InputError) as err:
        read_evidence(path)
    rows = [p.row for p in err.value.problems if isinstance(p.row, int)]
    assert rows == [1, 2, 3, 4, 5]


def test_unknown_and_missing_mapped_columns_reported_together(tmp_path: Path) -> None:
    path = tmp_path / "walk.csv"
    _generic(GENERIC_ROWS[:1]).to_csv(path, index=False)
    with pytest.raises(InputError) as err:
        read_evidence(path, columns={"rsrp": "level_dbm", "level_dbm": "RSRP"})
    assert len(err.value.problems) == 2


def test_ten_thousand_row_generic_file(tmp_path: Path) -> None:
    n = 10_000
    rng = np.random.default_rng(17)
    level = rng.normal(-100, 10, n).round(1).astype(str)
    level[::50] = ""  # every 50th point: no service
    frame = pd.DataFrame(
        {
            "lat": (14.5 + rng.random(n) * 0.5).round(6),
            "lon": (108.5 + rng.random(n) * 0.5).round(6),
            "level_dbm": level,
            "tech": rng.choice(["2G", "3G", "4G"], n),
            "operator": rng.choice(["Viettel", "VinaPhone", "MobiFone"], n),
            "cell_id": rng.integers(1, 2**28, n),
            "time": pd.date_range("2026-11-30", periods=n, freq="s", tz="UTC").strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
        }
    )
    path = tmp_path / "big.csv"
    frame.to_csv(path, index=False)
    start = time.perf_counter()
    gdf = read_evidence(path)
    elapsed = time.perf_counter() - start
    print(f"read_evidence: {n} rows in {elapsed:.3f} s")  # reported, not asserted
    assert len(gdf) == n
    assert int(gdf["no_service"].sum()) == n // 50
    assert gdf.attrs["rejects"] == []
