"""Field evidence: reading walk-test logs and generic measurement tables."""

from __future__ import annotations

import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point

from lomsong.calibration.applogs import GNETTRACK_COLUMNS
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


# -- G-NetTrack ------------------------------------------------------------------------------
# The header exactly as G-NetTrack Pro 27.5 wrote it (intrig-unicamp/hackathon5G at fbd2aa0a,
# datasets/g-nettrack-pro/*.txt): 79 serving-cell columns, 18 blocks of 10 neighbour columns,
# a trailing tab; rows end in CRLF as in those logs.
GNT_HEADER = (
    "Timestamp\tLongitude\tLatitude\tSpeed\tOperatorname\tOperator\tCGI\tCellname\tNode\t"
    "CellID\tLAC\tNetworkTech\tNetworkMode\tLevel\tQual\tSNR\tCQI\tLTERSSI\tARFCN\tDL_bitrate\t"
    "UL_bitrate\tPSC\tAltitude\tHeight\tAccuracy\tLocation\tState\tPINGAVG\tPINGMIN\tPINGMAX\t"
    "PINGSTDEV\tPINGLOSS\tTESTDOWNLINK\tTESTUPLINK\tTESTDOWNLINKMAX\tTESTUPLINKMAX\tTest_Status\t"
    "DataConnection_Type\tDataConnection_Info\tLayer\tFilemark\tIMEI\tDistance\tBearing\tIP\tTA\t"
    "EVENT\tEVENTDETAILS\tIMSI\tMSISDN\tSERVINGTIME\tCELLHEX\tNODEHEX\tLACHEX\tRAWCELLID\t"
    "VERSION_NAME\tVERSION_CODE\tDEVICE\tBAND\tBANDWIDTH\tINFO\tSecondCell_NODE\t"
    "SecondCell_CELLID\tSecondCell_RSRP\tSecondCell_RSRQ\tSecondCell_SNR\tCSI_RSRP\tCSI_RSRQ\t"
    "CSI_SNR\tNetworkTypeNum\tCA\tSecondCell_PSC\tSecondCell_ARFCN\tSecondCell_BAND\t"
    "Site_BEARING\tBATTERY\tCHARGING\tNRSTATE\tR4"
)
_NEIGHBOUR_FIELDS = ("NTech", "NCellName", "NCellid", "NLAC", "NCell", "NARFCN", "NRxLev",
                     "NQual", "NDistance", "NBearing")  # fmt: skip
GNT_FULL_HEADER = (
    GNT_HEADER + "".join(f"\t{f}{k}" for k in range(1, 19) for f in _NEIGHBOUR_FIELDS) + "\t"
)
_GNT_NAMES = GNT_FULL_HEADER.split("\t")


def _gnt_row(when="2026.11.30_09.15.00", lon="108.912345", lat="14.772123", op="45204",
             opname="Viettel", node="105678", cell="12", tech="4G", mode="LTE", level="-97",
             raw="", extra_neighbours=0, **more):  # fmt: skip
    """One log line, the fields the app fills for a serving cell ("-"/"--" where it has none)."""
    values = dict.fromkeys(_GNT_NAMES, "")
    values.update(Timestamp=when, Longitude=lon, Latitude=lat, Speed="4", Operatorname=opname,
                  Operator=op, Node=node, CellID=cell, LAC="42311", NetworkTech=tech,
                  NetworkMode=mode, Level=level, Qual="-11", SNR="3.0", CQI="-", LTERSSI="-75",
                  ARFCN="1850", Accuracy="8", Location="G", State="D", EVENT="PERIODIC",
                  RAWCELLID=raw, VERSION_NAME="27.5", VERSION_CODE="535",
                  NTech1="4G", NCell1="301", NRxLev1="-105", **more)  # fmt: skip
    fields = [values[c] for c in _GNT_NAMES[:-1]] + [""]
    # more than 18 neighbours: the app writes further blocks past the header's end
    fields += ["4G", "", "", "", "302", "1850", "-110", "-14", "", ""] * extra_neighbours
    return "\t".join(fields)


def _write_gnt(path: Path, rows: list[str], header: str = GNT_FULL_HEADER) -> Path:
    path.write_bytes(("\r\n".join([header, *rows]) + "\r\n").encode())
    return path


def test_gnettrack_header_matches_the_source() -> None:
    assert "\t".join(GNETTRACK_COLUMNS) == GNT_HEADER
    assert len(_GNT_NAMES) == 79 + 180 + 1  # the logs' 260 tab-separated header fields


def test_gnettrack_log_detected_and_read_in_the_technology_quantity(tmp_path: Path) -> None:
    path = _write_gnt(
        tmp_path / "gnettrack.txt",
        [
            _gnt_row(),  # 4G Viettel: Level = RSRP, ECI = 105678 · 256 + 12
            _gnt_row(
                op="45202",
                opname="VINAPHONE",
                node="1234",
                cell="40724",
                tech="3G",
                mode="HSPA+",
                level="-95",
                lat="14.773",
                lon="108.913",
            ),  # fmt: skip
            _gnt_row(
                op="45201",
                opname="MOBIFONE",
                node="",
                cell="21234",
                tech="2G",
                mode="EDGE",
                level="-81",
                lat="14.774",
                lon="108.914",
            ),  # fmt: skip
            # 5G (NSA): SS-RSRP; the identity is the LTE anchor's, so no cell id
            _gnt_row(tech="5G", mode="5G", level="-101", lat="14.775", lon="108.915"),
            # NetworkTech unknown: NetworkMode says LTE; no Node/CellID: RAWCELLID
            _gnt_row(
                tech="--",
                mode="LTE",
                node="--",
                cell="--",
                raw="27053580",
                level="-99",
                lat="14.776",
                lon="108.916",
            ),  # fmt: skip
            # no service: a fix, no level
            _gnt_row(
                tech="--", mode="LTE", node="--", cell="--", level="-", lat="14.777", lon="108.917"
            ),  # fmt: skip
            # 25 neighbours: the row runs 70 fields past the header
            _gnt_row(level="-103", lat="14.778", lon="108.918", extra_neighbours=7),
        ],
    )
    gdf = read_evidence(path)  # no format named: the header says it
    assert set(gdf["source_format"]) == {"gnettrack"}
    assert list(gdf["row"]) == [1, 2, 3, 4, 5, 6, 7]
    assert list(gdf["tech"]) == ["4G", "3G", "2G", "5G", "4G", "4G", "4G"]
    assert list(gdf["operator"]) == ["Viettel", "VinaPhone", "MobiFone", "Viettel", "Viettel",
                                     "Viettel", "Viettel"]  # fmt: skip
    level = gdf["level_dbm"].to_numpy()
    assert list(level[[0, 1, 2, 3, 4, 6]]) == [-97.0, -95.0, -81.0, -101.0, -99.0, -103.0]
    assert np.isnan(level[5]) and list(gdf["no_service"]) == [False] * 5 + [True, False]
    # hand-computed: 105678·256 + 12 = 27053580; 1234·65536 + 40724 = 80912148
    assert list(gdf["cell_id"]) == ["27053580", "80912148", "21234", "", "27053580", "",
                                    "27053580"]  # fmt: skip
    # 09:15 on the phone's clock in Vietnam (UTC+7) is 02:15 UTC
    assert gdf["time"].iloc[0] == pd.Timestamp("2026-11-30T02:15:00Z")
    assert gdf.geometry.iloc[0].equals(Point(108.912345, 14.772123))
    assert list(gdf["mcc_mnc"].iloc[:3]) == ["45204", "45202", "45201"]  # the code is kept
    assert "NTech1" not in gdf.columns  # neighbour blocks are not read
    assert gdf.attrs["rejects"] == []
    # a log made elsewhere names the phone's zone
    utc = read_evidence(path, local_tz="UTC")
    assert utc["time"].iloc[0] == pd.Timestamp("2026-11-30T09:15:00Z")


def test_gnettrack_bad_rows_go_to_rejects_with_reasons(tmp_path: Path) -> None:
    path = _write_gnt(
        tmp_path / "gnettrack.txt",
        [
            _gnt_row(),
            _gnt_row(lon="--", lat="--"),  # no fix yet: the app writes "--"
            _gnt_row(lon="0.0", lat="0.0"),
            _gnt_row(level="-9x"),
            _gnt_row(level="-200"),  # the app's "not measured" value in real logs
            _gnt_row(tech="3G", mode="UMTS", node="8", cell="18892", level="-24"),
            GNT_HEADER + "\t",  # logging resumed: the header written again
            _gnt_row(when="2026.11.31_09.15.00"),
            _gnt_row(tech="--", mode="--", level="-"),  # no level and no technology
        ],
    )
    gdf = read_evidence(path)
    assert list(gdf["row"]) == [1]
    reasons = {r["row"]: r["reason"] for r in gdf.attrs["rejects"]}
    assert reasons == {
        2: "no position fix (lat/lon empty)",
        3: "position 0,0 (no position fix)",
        4: "level_dbm '-9x' is not a number",
        5: "level_dbm -200 outside -160…-20 dBm",
        6: "level_dbm -24 above the top of the 3G report range (-25 dBm): a saturated report "
        "or an app's placeholder, not a measured level",
        7: "the log's header line repeated (logging resumed)",
        8: "time '2026.11.31_09.15.00' is not a '%Y.%m.%d_%H.%M.%S' time",
        9: "technology is empty",
    }


def test_gnettrack_reduced_column_set_read_by_name(tmp_path: Path) -> None:
    # the column set of braz0101/GNetTrackAnalytics' raw_logs/*_log.txt (3c84fc9b): no Speed,
    # CGI, NetworkMode, RAWCELLID; values as the app wrote them there
    header = ("Timestamp\tLongitude\tLatitude\tOperatorname\tOperator\tCellname\tNode\tCellID\t"
              "LAC\tNetworkTech\tLevel\tQual\tSNR\tCQI\tLTERSSI\tARFCN\tPSC\tAltitude\t"
              "Distance\tTA\tBAND")  # fmt: skip
    rows = [
        "2026.11.30_09.15.00\t108.9\t14.7\tViettel\t45204\t\t21\t11\t7000\t4G\t-81\t-8\t0.0\t10"
        "\t-73\t2850\t325\t74\t-1\t0\tL7\t",
        "2026.11.30_09.15.01\t108.9\t14.7\tViettel\t45204\t\t8\t18892\t9000\t3G\t-87\t-\t-\t-"
        "\t-\t10612\t398\t78\t-1\t\tU1\t",
    ]
    gdf = read_evidence(_write_gnt(tmp_path / "reduced.txt", rows, header=header))
    assert set(gdf["source_format"]) == {"gnettrack"}
    assert list(gdf["level_dbm"]) == [-81.0, -87.0]
    assert list(gdf["cell_id"]) == [str(21 * 256 + 11), str(8 * 65536 + 18892)]
    assert list(gdf["tech"]) == ["4G", "3G"]


def test_ten_thousand_row_gnettrack_log(tmp_path: Path) -> None:
    n = 10_000
    rng = np.random.default_rng(17)
    level = rng.normal(-100, 8, n).round().astype(int).astype(str)
    level[::50] = "-"  # every 50th point: no service
    lat = (14.5 + rng.random(n) * 0.5).round(6).astype(str)
    lon = (108.5 + rng.random(n) * 0.5).round(6).astype(str)
    start = pd.Timestamp("2026-11-30 08:00:00")
    rows = [
        _gnt_row(
            when=(start + pd.Timedelta(seconds=i)).strftime("%Y.%m.%d_%H.%M.%S"),
            lat=lat[i],
            lon=lon[i],
            level=level[i],
            cell=str(i % 3),
        )  # fmt: skip
        for i in range(n)
    ]
    path = _write_gnt(tmp_path / "big.txt", rows)
    began = time.perf_counter()
    gdf = read_evidence(path)
    elapsed = time.perf_counter() - began
    print(f"read_evidence (G-NetTrack, 260 columns): {n} rows in {elapsed:.3f} s")  # reported
    assert len(gdf) == n
    assert int(gdf["no_service"].sum()) == n // 50
    assert gdf.attrs["rejects"] == []
    assert gdf["time"].iloc[-1] == pd.Timestamp("2026-11-30T01:00:00Z") + pd.Timedelta(
        seconds=n - 1
    )


def test_report_range_top_checked_in_phone_logs_only(tmp_path: Path) -> None:
    # −24 dBm in a 3G row: Android's top RSCP report (asu 96, "≥ −25 dBm") — a phone app's log
    # cannot hold it as a level; a generic file may come from a scanner, which can
    tc = read_evidence(_write_tc(tmp_path / "tc.csv", [
        _tc_row(452, 4, 26894593, "LTE", -97, "14.77", "108.91"),
        _tc_row(452, 1, 268435, "UMTS", -24, "14.78", "108.92"),
    ]))  # fmt: skip
    assert list(tc["row"]) == [1]
    assert "above the top of the 3G report range (-25 dBm)" in tc.attrs["rejects"][0]["reason"]
    path = tmp_path / "scanner.csv"
    _generic([("14.78", "108.92", "-24", "UMTS", "MobiFone", "", "")]).to_csv(path, index=False)
    assert list(read_evidence(path)["level_dbm"]) == [-24.0]


def test_unknown_time_zone_is_named(tmp_path: Path) -> None:
    path = _write_gnt(tmp_path / "gnettrack.txt", [_gnt_row()])
    with pytest.raises(ValueError, match="unknown time zone 'Asia/Hanoi_City'"):
        read_evidence(path, local_tz="Asia/Hanoi_City")
