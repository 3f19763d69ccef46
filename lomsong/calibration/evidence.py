"""Field measurements people collect: walk-test logs and generic tables, standardised.

:func:`read_evidence` reads one file (or frame) and returns one row per measurement with the
contract columns :data:`EVIDENCE_COLUMNS`. The format is detected from the header:

- **Tower Collector** CSV export (Android app, https://github.com/zamojski/TowerCollector,
  commit 90b312bf6166d61105374b3c590faaea21593759): the header is
  ``CsvExportFormatter.formatHeader()`` in
  ``app/src/main/java/info/zamojski/soft/towercollector/files/formatters/csv/
  CsvExportFormatter.java`` (:data:`TOWER_COLLECTOR_COLUMNS`); the network-type words come
  from ``providers/GeneralCellUtils.java`` (``GSM``, ``UMTS``, ``TD-SCDMA``, ``LTE``, ``NR``,
  ``CDMA``, ``UNKNOWN``). Its ``dbm`` column is Android's ``CellSignalStrength*.getDbm()``:
  RSRP for LTE, RSCP for UMTS, RSSI (RxLev) for GSM (``collector/converters/
  CellSignalConverter.java``). One row per cell seen at a point; neighbouring cells are kept
  (``neighboring`` true), each is a measurement of that cell's level. Tower Collector writes
  no row without a cell, so an empty ``dbm`` there is a level not reported (rejected with that
  reason), not a no-service record.
- **G-NetTrack** (Lite/Pro, Gyokov Solutions) tab-separated text logs: detected by their
  header (``Timestamp``, ``Longitude``, ``Latitude``, ``Level``, ``NetworkTech``/
  ``NetworkMode``, ``Operator``/``Operatorname``) and read by :mod:`lomsong.calibration.applogs`,
  whose docstring cites the logs the columns were read from and says what each holds.
  ``Level`` is the technology's own quantity (RxLev, RSCP, RSRP, SS-RSRP); the phone's local
  ``Timestamp`` is converted to UTC from ``local_tz``.
- **Generic** CSV / GeoPackage / (Geo)DataFrame with the contract columns, or other names
  through ``columns=``.

Not supported: the **NetMonster** CSV export. NetMonster is closed source; its public
documentation (github.com/mroczis/NetMonster-docs at 3da971de015f874eadf99b444bfa6a5a673d9f13,
and the docs pages of github.com/mroczis/netmonster-web at
e50a1576bd0888b82fb4b2799d1444758e1fbf5f) describes only the ``.ntm`` cell-database format
and the JSON of cells shared with a database (no signal level), and its open library
(mroczis/netmonster-core at 75f5511bab46d4fca40c717b81a570709084af7f, 206 files) reads the
phone's cells but writes no file; the "NetMonster CSV" samples in public repositories are
written by hand by those projects (e.g. notarikon-nz/signaltopo's ``netmonster_sample.csv``:
``Latitude,Longitude,RSRP``) or are the cell-database formats above. No raw export or
description of its columns was found, so they are not guessed (a wrong guess would read the
wrong column as the level). Such a file is read with ``columns=`` (generic).

An empty level is **no service** (the phone heard no cell): such rows are kept with a NaN
level and ``no_service`` True, never rejected. Rows that cannot be placed or read (no fix, a
0,0 position, text where a number belongs, an unknown technology, a level outside
:data:`LEVEL_RANGE_DBM`, or in a phone app's log above what the technology's measurement report
can state, :data:`LEVEL_TOP_DBM`) go to ``attrs["rejects"]`` with the reason; a file missing
required columns or with no usable row raises :class:`~lomsong.errors.InputError` naming every
problem at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike

import geopandas as gpd
import numpy as np
import pandas as pd

from lomsong.calibration.applogs import (
    GNETTRACK_TIME_FORMAT,
    gnettrack_header,
    gnettrack_to_contract,
    is_gnettrack,
    read_gnettrack,
)
from lomsong.defaults import PHONE_TIMEZONE, canonical_tech
from lomsong.errors import InputError, Problem
from lomsong.layers._io import (
    SPREADSHEET_SUFFIXES,
    TABLE_SUFFIXES,
    Rejects,
    clean_ids,
    given,
    has_suffix,
    read_table,
    read_vector,
    source_label,
    to_number,
)
from lomsong.layers.towers import operator_names

__all__ = [
    "EVIDENCE_COLUMNS",
    "REQUIRED_COLUMNS",
    "TOWER_COLLECTOR_COLUMNS",
    "LEVEL_RANGE_DBM",
    "LEVEL_TOP_DBM",
    "read_evidence",
]

#: The contract columns of a measurement (issue 17): position (degrees WGS 84), level (dBm,
#: empty = no service), technology, operator (name or ``"mcc-mnc"``), cell id, time.
EVIDENCE_COLUMNS = ["lat", "lon", "level_dbm", "tech", "operator", "cell_id", "time"]
#: Columns a generic file must have (``lat``/``lon`` may come from a point geometry instead);
#: ``cell_id`` and ``time`` may be absent (then empty / NaT).
REQUIRED_COLUMNS = ("lat", "lon", "level_dbm", "tech", "operator")

#: Header of Tower Collector's CSV export, in order (CsvExportFormatter.formatHeader()).
TOWER_COLLECTOR_COLUMNS = (
    "mcc", "mnc", "lac", "cell_id", "short_cell_id", "rnc", "psc", "asu", "dbm", "ta", "lat",
    "lon", "accuracy", "speed", "bearing", "altitude", "measured_at", "net_type", "neighboring",
    "discovered_at", "device", "rsrp", "rsrq", "rssi", "rssnr", "cqi", "rscp", "csi_rsrp",
    "csi_rsrq", "csi_sinr", "ss_rsrp", "ss_rsrq", "ss_sinr", "cdma_dbm", "cdma_ecio", "evdo_dbm",
    "evdo_ecio", "evdo_snr", "ec_no", "arfcn",
)  # fmt: skip

#: Levels a handset can report (dBm): 3GPP's reporting ranges span RSRP −156…−31 dBm
#: (TS 36.133 extended), RSCP −120…−25 dBm (TS 25.133), RxLev −110…−48 dBm (TS 45.008).
#: Outside this range a value is a sentinel or a unit mistake (asu, mW), not a level.
LEVEL_RANGE_DBM = (-160.0, -20.0)
#: The highest level each technology's measurement report states (dBm): the top report only
#: says "this or more" — RXLEV 63 "> −48 dBm" (TS 45.008 §8.1.4), CPICH_RSCP_LEV_91
#: "−25 dBm ≤ RSCP" (TS 25.133 §9.1.1.3), RSRP_97 "−44 dBm ≤ RSRP" (TS 36.133 §9.1.4),
#: SS-RSRP_126 "−31 dBm ≤ SS-RSRP" (TS 38.133 §10.1.6.1). Above it a value is a saturated report
#: or an app's placeholder (Android gives a WCDMA cell's top report, asu 96, as −24 dBm; the
#: G-NetTrack logs of applogs' docstring carry −24 in every 3G row of one operator), not a level.
#: Checked in the phone apps' logs only (Tower Collector, G-NetTrack): a generic file may come
#: from a scanner, which measures past a phone's report range.
LEVEL_TOP_DBM: dict[str, float] = {"2G": -48.0, "3G": -25.0, "4G": -44.0, "5G": -31.0}

# Network-type words of the logs that lomsong's TECH_ALIASES does not name: Tower Collector's
# (GeneralCellUtils.java) and Android's TelephonyManager.getNetworkTypeName() as G-NetTrack's
# NetworkMode writes them. CDMA/EVDO are left out on purpose: no CDMA network runs in Vietnam,
# and their dBm is not comparable.
_EXTRA_TECH = {
    "TD-SCDMA": "3G", "TDSCDMA": "3G", "TD_SCDMA": "3G",
    "HSDPA": "3G", "HSUPA": "3G", "HSPA+": "3G", "HSPAP": "3G",
    "LTE_CA": "4G",
}  # fmt: skip
# "452-04" / "452-4": an operator written as MCC-MNC, named like the tower reader does
_MCC_MNC = r"^\s*(\d{3})\s*-\s*(\d{1,3})\s*$"


def read_evidence(
    source: str | PathLike[str] | pd.DataFrame,
    *,
    columns: Mapping[str, str] | None = None,
    crs: object = None,
    local_tz: str | None = None,
) -> gpd.GeoDataFrame:
    """Read a file of field measurements (format detected from its header).

    Parameters
    ----------
    source
        A Tower Collector CSV export, a G-NetTrack text log, a generic CSV / spreadsheet /
        GeoPackage, or a (Geo)DataFrame.
    columns
        Mapping contract name → column in the file (``{"level_dbm": "rsrp"}``), for a generic
        file whose names differ from :data:`EVIDENCE_COLUMNS`. A mapping means the file is
        read as generic, whatever its header.
    crs
        CRS of the returned geometry; EPSG:4326 when None. ``lat``/``lon`` stay in degrees.
    local_tz
        Time zone of the phone's clock for logs that write local time without a zone
        (G-NetTrack), any zone pandas knows (``"Asia/Bangkok"``, ``"UTC"``);
        :data:`~lomsong.defaults.PHONE_TIMEZONE` (Vietnam) when None.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per measurement: ``row`` (1-based data row), ``lat``, ``lon`` (degrees),
        ``level_dbm`` (float dBm, NaN = no service), ``no_service`` (bool), ``tech``
        (``2G``…``5G``), ``operator`` (str), ``cell_id`` (str, ``""`` when unknown), ``time``
        (UTC; times without a zone are read as UTC, G-NetTrack's as ``local_tz``),
        ``source_format`` (``"tower_collector"``, ``"gnettrack"`` or ``"generic"``), then the
        file's other columns; Point geometry.
        ``attrs["rejects"]``: the rows left out, dicts with ``source``, ``row``, ``reason``.

    Raises
    ------
    InputError
        The file cannot be read, misses required columns (all named at once), or has no
        usable row (every row's reason listed).
    ValueError
        ``local_tz`` names no time zone.
    """
    label = source_label(source)
    local_tz = local_tz or PHONE_TIMEZONE
    try:
        pd.Timestamp(0).tz_localize(local_tz)
    except Exception:  # pytz, zoneinfo and dateutil each raise their own error
        raise ValueError(f"unknown time zone {local_tz!r} (an IANA name such as "
                         f"'Asia/Ho_Chi_Minh', or 'UTC')") from None  # fmt: skip
    header = None if columns or isinstance(source, pd.DataFrame) else gnettrack_header(source)
    if header is not None and is_gnettrack(header):
        frame = read_gnettrack(source, header)  # rows may be longer than the header
    else:
        frame = _read(source, label)
    skip: dict[int, str] = {}
    time_format = "ISO8601"
    if columns:
        frame, fmt = _mapped(frame, columns, label), "generic"
    elif is_gnettrack(frame.columns):
        (frame, skip), fmt = gnettrack_to_contract(frame), "gnettrack"
        time_format = GNETTRACK_TIME_FORMAT
    elif _is_tower_collector(frame):
        frame, fmt = _tower_collector(frame), "tower_collector"
    else:
        frame, fmt = frame, "generic"
    # a Tower Collector row is a cell the phone saw: its level missing means "not reported",
    # not "no service" (a phone without service lists no cell, so writes no row)
    return _standardise(
        frame, fmt=fmt, label=label, crs=crs, empty_is_no_service=fmt != "tower_collector",
        time_format=time_format, local_tz=local_tz, skip=skip,
        phone_report=fmt != "generic",
    )  # fmt: skip


def _read(source: object, label: str) -> pd.DataFrame:
    """The raw table; a point geometry (GeoPackage, GeoDataFrame) gives ``lat``/``lon``."""
    if isinstance(source, pd.DataFrame):
        frame = source.copy()
    elif has_suffix(source, TABLE_SUFFIXES + SPREADSHEET_SUFFIXES):
        frame = read_table(source)
    else:
        frame = read_vector(source)
    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame.columns:
        geoms = frame.geometry
        lower = {str(c).strip().lower() for c in frame.columns}
        if not {"lat", "lon"} <= lower and len(geoms):
            if geoms.crs is not None and not geoms.crs.equals("EPSG:4326"):
                geoms = geoms.to_crs("EPSG:4326")
            points = geoms.geom_type == "Point"
            if not points.all():
                kinds = ", ".join(sorted(set(geoms.geom_type[~points].dropna())))
                raise InputError(label, f"measurements must be points; found {kinds}")
            frame = pd.DataFrame(frame.drop(columns=frame.geometry.name))
            frame["lon"], frame["lat"] = geoms.x.to_numpy(), geoms.y.to_numpy()
        else:
            frame = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _is_tower_collector(frame: pd.DataFrame) -> bool:
    """Tower Collector's export: every column of its header, in any case."""
    names = {c.lower() for c in frame.columns}
    return set(TOWER_COLLECTOR_COLUMNS) <= names


def _tower_collector(frame: pd.DataFrame) -> pd.DataFrame:
    """Tower Collector's columns in contract terms; its other columns kept as they are."""
    raw = frame.rename(columns={c: c.lower() for c in frame.columns})
    out = raw.drop(columns=["dbm", "cell_id", "measured_at", "net_type"])
    out["level_dbm"] = raw["dbm"]
    out["tech"] = raw["net_type"]
    # an MCC left empty is Tower Collector's "unknown" (CDMA): no operator can be named
    out["operator"] = operator_names(raw["mcc"], raw["mnc"])
    out["cell_id"] = raw["cell_id"]
    out["time"] = raw["measured_at"]
    neighbouring = raw["neighboring"].astype("string").str.strip().str.lower()
    out["neighboring"] = (neighbouring == "true").to_numpy(dtype=bool)
    return out


def _mapped(frame: pd.DataFrame, columns: Mapping[str, str], label: str) -> pd.DataFrame:
    unknown = sorted(set(columns) - set(EVIDENCE_COLUMNS))
    missing = [f"{std} = {col!r}" for std, col in columns.items() if col not in frame.columns]
    problems = []
    if unknown:
        known = ", ".join(EVIDENCE_COLUMNS)
        reason = f"unknown contract column(s) in the mapping: {', '.join(unknown)}"
        problems.append(Problem(None, f"{reason} (known: {known})"))
    if missing:
        has = ", ".join(map(str, frame.columns))
        reason = f"mapped columns not in the file: {', '.join(missing)}; the file has {has}"
        problems.append(Problem(None, reason))
    if problems:
        raise InputError(label, problems=problems)
    values = {std: frame[col] for std, col in columns.items()}
    drop = set(columns.values()) | {std for std in columns if std in frame.columns}
    out = frame.drop(columns=sorted(drop))
    for std, series in values.items():
        out[std] = series
    return out


def _standardise(
    frame: pd.DataFrame,
    *,
    fmt: str,
    label: str,
    crs: object,
    empty_is_no_service: bool,
    time_format: str = "ISO8601",
    local_tz: str = "UTC",
    skip: Mapping[int, str] | None = None,
    phone_report: bool = False,
) -> gpd.GeoDataFrame:
    """The contract frame of a format's columns, every row checked.

    ``time_format``: ``"ISO8601"`` (zone-less times are UTC) or a strptime layout of the
    phone's local clock in ``local_tz``. ``skip``: rows (0-based) that are no measurement, with
    the one reason given for them; the other checks pass them over. ``phone_report``: levels
    come from a phone's measurement reports (checked against :data:`LEVEL_TOP_DBM`).
    """
    lower = {c.lower(): c for c in frame.columns}
    missing = [c for c in REQUIRED_COLUMNS if c not in lower]
    if missing:
        has = ", ".join(map(str, frame.columns))
        hint = Problem(None, f"the file has {has}; map others with columns={{'level_dbm': ...}}")
        raise InputError(
            label,
            problems=[Problem(None, f"missing column {c!r}") for c in missing] + [hint],
        )
    frame = frame.rename(columns={lower[c]: c for c in EVIDENCE_COLUMNS if c in lower})
    n = len(frame)
    rows = np.arange(1, n + 1)
    rejects = Rejects(label)
    skipped = np.zeros(n, dtype=bool)
    for i, why in sorted((skip or {}).items()):
        skipped[i] = True
        rejects.add(int(rows[i]), why)

    def reject(mask: np.ndarray, reason: object) -> None:
        for i in np.flatnonzero(mask & ~skipped):
            rejects.add(int(rows[i]), reason(i) if callable(reason) else str(reason))

    lat, lon = to_number(frame["lat"]), to_number(frame["lon"])
    for std, num in (("lat", lat), ("lon", lon)):
        cells = frame[std]
        text = given(cells) & ~np.isfinite(num)
        reject(text, lambda i, s=std, c=cells: f"{s} {c.iloc[i]!r} is not a number")
    no_fix = ~given(frame["lat"]) | ~given(frame["lon"])
    reject(no_fix, "no position fix (lat/lon empty)")
    zero = (lat == 0) & (lon == 0)
    reject(zero, "position 0,0 (no position fix)")
    far = np.isfinite(lat) & np.isfinite(lon) & ((np.abs(lat) > 90) | (np.abs(lon) > 180))
    reject(far, lambda i: f"position lat {lat[i]:g}, lon {lon[i]:g} outside ±90/±180 degrees")

    level = to_number(frame["level_dbm"])
    has_level = given(frame["level_dbm"])
    cells = frame["level_dbm"]
    reject(has_level & ~np.isfinite(level),
           lambda i: f"level_dbm {cells.iloc[i]!r} is not a number")  # fmt: skip
    lo, hi = LEVEL_RANGE_DBM
    odd = np.isfinite(level) & ((level < lo) | (level > hi))
    reject(odd, lambda i: f"level_dbm {level[i]:g} outside {lo:g}…{hi:g} dBm")
    no_service = ~has_level
    if not empty_is_no_service:
        reject(no_service, "cell seen but its level not reported (dbm empty)")
        no_service = np.zeros(n, dtype=bool)

    tech_text = frame["tech"].astype("string").str.strip().fillna("")
    # each distinct word looked up once: a log has 10⁵ rows but a handful of network types
    techs = tech_text.map({t: _tech(t) for t in tech_text.unique()}).to_numpy(dtype=object)
    reject(~given(frame["tech"]), "technology is empty")
    reject(
        given(frame["tech"]) & pd.isna(techs),
        lambda i: f"unknown technology {tech_text.iloc[i]!r}",
    )
    top = np.array([LEVEL_TOP_DBM.get(t, hi) for t in techs], dtype=float)
    saturated = np.isfinite(level) & ~odd & (level > top) & phone_report
    reject(saturated, lambda i: f"level_dbm {level[i]:g} above the top of the {techs[i]} "
                                f"report range ({top[i]:g} dBm): a saturated report or an "
                                "app's placeholder, not a measured level")  # fmt: skip

    operator = frame["operator"].astype("string").str.strip().fillna("")
    codes = operator.str.extract(_MCC_MNC)
    coded = codes[0].notna().to_numpy()
    operator = operator.to_numpy(dtype=object)
    if coded.any():
        operator[coded] = operator_names(codes[0][coded], codes[1][coded])

    if "time" in frame.columns:
        time_cells = frame["time"]
        time = _times(time_cells, time_format, local_tz)
        what = "an ISO 8601 date" if time_format == "ISO8601" else f"a {time_format!r} time"
        reject(given(time_cells) & time.isna().to_numpy(),
               lambda i: f"time {time_cells.iloc[i]!r} is not {what}")  # fmt: skip
    else:
        time = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
    cell_id = (
        clean_ids(frame["cell_id"]).fillna("").astype(str).to_numpy(dtype=object)
        if "cell_id" in frame.columns
        else np.full(n, "", dtype=object)
    )

    others = [c for c in frame.columns if c not in EVIDENCE_COLUMNS]
    out = pd.DataFrame(
        {
            "row": rows,
            "lat": lat,
            "lon": lon,
            "level_dbm": np.where(no_service, np.nan, level),
            "no_service": no_service,
            "tech": techs,
            "operator": operator,
            "cell_id": cell_id,
            "time": time.to_numpy(),
            "source_format": fmt,
        }
    )
    out["time"] = pd.to_datetime(out["time"], utc=True)
    extra = [c for c in others if c not in out.columns]
    if extra:  # joined at once: a G-NetTrack log keeps ~80 columns, one insert each fragments
        kept = frame[extra].set_axis(out.index)
        out = pd.concat([out, kept], axis=1)
    bad = np.zeros(n, dtype=bool)
    bad[[r["row"] - 1 for r in rejects.rows]] = True
    if n == 0:
        raise InputError(label, "has no measurement rows")
    if bad.all():
        raise InputError(label, problems=[Problem(None, "no usable measurement row")]
                         + rejects.problems())  # fmt: skip
    out = out[~bad].reset_index(drop=True)
    geometry = gpd.points_from_xy(out["lon"], out["lat"], crs="EPSG:4326")
    gdf = gpd.GeoDataFrame(out, geometry=geometry, crs="EPSG:4326")
    if crs is not None:
        gdf = gdf.to_crs(crs)
    gdf.attrs["rejects"] = rejects.rows
    return gdf


def _times(cells: pd.Series, time_format: str, local_tz: str) -> pd.Series:
    """UTC times of a column; NaT where empty or unreadable."""
    text = cells.astype("string").str.strip()
    if time_format == "ISO8601":
        return pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    local = pd.to_datetime(text, format=time_format, errors="coerce")
    # a clock set back (daylight saving's end) repeats an hour: such times cannot be placed
    local = local.dt.tz_localize(local_tz, ambiguous="NaT", nonexistent="NaT")
    return local.dt.tz_convert("UTC")


def _tech(name: str) -> str | None:
    """lomsong's technology of a log's network type (``"LTE"`` → ``"4G"``); None if unknown."""
    return canonical_tech(name) or _EXTRA_TECH.get(name.upper())
