"""Walk-test logs of Android apps that write their own text format: G-NetTrack (Lite/Pro).

:func:`lomsong.calibration.evidence.read_evidence` detects these logs by their header and reads
them through this module into the evidence contract (``lat, lon, level_dbm, tech, operator,
cell_id, time``); the checks every format shares (positions, levels, technologies, rejects)
stay in :mod:`lomsong.calibration.evidence`.

G-NetTrack (Gyokov Solutions)
-----------------------------
A tab-separated ``.txt`` log, one row per logging period (serving cell), header first.

Sources. The vendor's manual (https://gyokovsolutions.com/manual-g-nettrack/, section "Here is
description of logfile columns") was not readable from here; the columns below are those the
app itself wrote in two public sets of raw logs, read column by column:

- ``intrig-unicamp/hackathon5G`` at commit fbd2aa0a3d7c4fa6eaa784083c7c282324d1439e,
  ``datasets/g-nettrack-pro/*.txt``: G-NetTrack Pro 27.5 (``VERSION_NAME``/``VERSION_CODE``
  27.5/535) on a Samsung SM-G991B, Claro Brazil, January 2023, 12 logs, 18,419 rows: the full
  header (:data:`GNETTRACK_COLUMNS`, then 18 blocks of neighbour columns ``NTech1``,
  ``NCellName1``, ``NCellid1``, ``NLAC1``, ``NCell1``, ``NARFCN1``, ``NRxLev1``, ``NQual1``,
  ``NDistance1``, ``NBearing1`` … ``NBearing18``, and a trailing tab);
- ``braz0101/GNetTrackAnalytics`` at commit 3c84fc9b04bb01269d5f2f987d29aecdee00d5f5,
  ``raw_logs/{Orange,Yas,expresso}_log.txt``: G-NetTrack Pro logs of three Senegalese
  operators, July 2025, with a reduced column set (``Timestamp, Longitude, Latitude,
  Operatorname, Operator, Cellname, Node, CellID, LAC, NetworkTech, Level, Qual, SNR, CQI,
  LTERSSI, ARFCN, PSC, Altitude, Distance, TA, BAND``) — so columns are found by name, never by
  position.

The vendor's G-NetReport manual (https://gyokovsolutions.com/manual-g-netreport/, same
measurement engine) names the serving-cell quantities per technology: 2G RXLEVEL/RXQUAL, 3G
RSCP/ECNO, 4G RSRP/RSRQ/SNR, 5G RSRP/RSRQ/SNR.

What the columns hold, as checked in those logs:

- ``Timestamp`` — ``YYYY.MM.DD_HH.MM.SS``, the phone's **local** clock without a zone: the
  hackathon logs' file names carry the local start time (``…_933-driving-sp-1.txt`` starts at
  ``2023.01.22_21.33.29``, ``…_244-subway-1.txt`` at ``14.44.46``), so times are converted
  from the zone given (:data:`lomsong.defaults.PHONE_TIMEZONE` for Vietnam) to UTC;
- ``Longitude``, ``Latitude`` — degrees WGS 84; ``--`` while the phone has no fix;
- ``NetworkTech`` — ``2G`` / ``3G`` / ``4G`` / ``5G``, the technology of the serving cell whose
  ``Level`` is logged (``--`` when unknown); ``NetworkMode`` — Android's network type (``LTE``,
  ``5G``, ``NR``, ``HSPA+``, ``HSUPA``, ``UMTS``, …), used only when ``NetworkTech`` is unknown;
- ``Level`` — the serving cell's level in dBm in the technology's own quantity: **RxLev**
  (2G), **RSCP** (3G), **RSRP** (4G), **SS-RSRP** (5G: at a 4G→5G change in the logs ``Level``
  jumps while the cell stays the LTE anchor and ``LTERSSI`` turns ``-``, i.e. it is the NR
  beam's level). That is the quantity lomsong predicts per technology, so it is ``level_dbm``.
  ``Qual`` (RxQual/Ec/No/RSRQ), ``SNR``, ``LTERSSI`` are kept as other columns;
- ``Operator`` — MCC and MNC run together (``72405``, ``60802``; 5 digits = 2-digit MNC,
  6 = 3-digit), named like the tower list does (``45204`` → ``Viettel``); ``Operatorname``
  (the network's display name) is used only when ``Operator`` is missing;
- ``Node``, ``CellID`` — 4G: eNodeB id and the cell's 8-bit local id (``RAWCELLID`` =
  ``Node``·256 + ``CellID`` in every 4G row); 3G: RNC and 16-bit C-Id (``RAWCELLID`` =
  ``Node``·65536 + ``CellID``); 2G: ``CellID`` is the CI;
- placeholders: ``--`` (not available: position, ids) and ``-`` (quality values not measured);
  out-of-range sentinel levels (−164, −200, −251, −340 dBm in 4G rows; −24 dBm in every 3G row
  of the Orange log, Android's "RSCP ≥ −25 dBm" value) — rejected by the shared level checks;
- a header line may repeat inside a log (logging resumed: ``2023-01-22_933-driving-sp-1.txt``
  line 1291); rows may have **more** fields than the header (up to 390: more than 18
  neighbours), so only the named columns are read, and the neighbour blocks are left out (their
  cells are named by PCI/PSC only, which a tower list cannot match).

Mapping to the contract: ``cell_id`` in OpenCelliD's convention (the one
:func:`lomsong.layers.towers.cell_site_numbers` reads): 4G the ECI ``Node``·256 + ``CellID``,
3G the UTRAN cell id ``Node``·65536 + ``CellID`` (``RAWCELLID`` when ``Node``/``CellID`` do not
give it), 2G the CI; 5G none — in the non-standalone logs the identity is the LTE anchor's, not
an NR cell's, and matching it to a 4G tower would compare an NR level with an LTE prediction.
A row with a position but no level (empty, ``-`` or ``--``) is **no service**; how the app
marks no service is not stated in the sources above (no such row occurs in the 26,000 rows
read), so this follows the evidence contract's rule rather than a documented G-NetTrack state.
"""

from __future__ import annotations

import gzip
import re
import zipfile
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from lomsong.errors import InputError
from lomsong.layers._io import _ENCODINGS, TABLE_SUFFIXES, _head_text, has_suffix, to_number
from lomsong.layers.towers import operator_names

__all__ = [
    "GNETTRACK_COLUMNS",
    "GNETTRACK_REQUIRED",
    "GNETTRACK_TIME_FORMAT",
    "gnettrack_header",
    "is_gnettrack",
    "read_gnettrack",
    "gnettrack_to_contract",
]

#: G-NetTrack Pro 27.5's log header before the neighbour blocks, in order (module docstring).
GNETTRACK_COLUMNS = (
    "Timestamp", "Longitude", "Latitude", "Speed", "Operatorname", "Operator", "CGI",
    "Cellname", "Node", "CellID", "LAC", "NetworkTech", "NetworkMode", "Level", "Qual", "SNR",
    "CQI", "LTERSSI", "ARFCN", "DL_bitrate", "UL_bitrate", "PSC", "Altitude", "Height",
    "Accuracy", "Location", "State", "PINGAVG", "PINGMIN", "PINGMAX", "PINGSTDEV", "PINGLOSS",
    "TESTDOWNLINK", "TESTUPLINK", "TESTDOWNLINKMAX", "TESTUPLINKMAX", "Test_Status",
    "DataConnection_Type", "DataConnection_Info", "Layer", "Filemark", "IMEI", "Distance",
    "Bearing", "IP", "TA", "EVENT", "EVENTDETAILS", "IMSI", "MSISDN", "SERVINGTIME", "CELLHEX",
    "NODEHEX", "LACHEX", "RAWCELLID", "VERSION_NAME", "VERSION_CODE", "DEVICE", "BAND",
    "BANDWIDTH", "INFO", "SecondCell_NODE", "SecondCell_CELLID", "SecondCell_RSRP",
    "SecondCell_RSRQ", "SecondCell_SNR", "CSI_RSRP", "CSI_RSRQ", "CSI_SNR", "NetworkTypeNum",
    "CA", "SecondCell_PSC", "SecondCell_ARFCN", "SecondCell_BAND", "Site_BEARING", "BATTERY",
    "CHARGING", "NRSTATE", "R4",
)  # fmt: skip
#: Columns a log must have to be read as G-NetTrack (compared case-insensitively), plus
#: ``NetworkTech`` or ``NetworkMode`` and ``Operator`` or ``Operatorname``.
GNETTRACK_REQUIRED = ("Timestamp", "Longitude", "Latitude", "Level")
#: ``Timestamp``'s layout (the phone's local clock, no zone).
GNETTRACK_TIME_FORMAT = "%Y.%m.%d_%H.%M.%S"

# neighbour block columns (NTech1 … NBearing18): not read
_NEIGHBOUR = re.compile(r"^N(Tech|CellName|Cellid|LAC|Cell|ARFCN|RxLev|Qual|Distance|Bearing)\d+$")
# "not available" as the app writes it
_PLACEHOLDERS = ("-", "--")
_MCC_MNC = r"^\s*(\d{3})(\d{2,3})\s*$"


def gnettrack_header(path: str | PathLike[str]) -> list[str] | None:
    """The column names of a tab-separated text log, or None when it is not one.

    Only the first line is read: a G-NetTrack log can hold rows longer than its header, which
    a whole-table reader refuses or splits wrongly.
    """
    p = Path(path)
    if not has_suffix(p, TABLE_SUFFIXES) or not p.is_file():
        return None
    for enc in _ENCODINGS:
        try:
            head = _head_text(p, enc)
        except UnicodeDecodeError:
            continue
        except (OSError, InputError, zipfile.BadZipFile, gzip.BadGzipFile):
            return None
        first = head.splitlines()[0] if head.strip() else ""
        names = [c.strip() for c in first.split("\t")]
        return names if len(names) > 1 else None
    return None  # pragma: no cover  (latin-1 decodes any byte)


def is_gnettrack(columns: list[str] | pd.Index) -> bool:
    """Whether a header is G-NetTrack's (:data:`GNETTRACK_REQUIRED`, any case)."""
    names = {str(c).strip().lower() for c in columns}
    return (
        {c.lower() for c in GNETTRACK_REQUIRED} <= names
        and bool({"networktech", "networkmode"} & names)
        and bool({"operator", "operatorname"} & names)
    )


def read_gnettrack(path: str | PathLike[str], columns: list[str]) -> pd.DataFrame:
    """A G-NetTrack log's named columns (neighbour blocks left out), every cell a string.

    Parameters
    ----------
    path
        The log (``.txt``, or any of :data:`~lomsong.layers._io.TABLE_SUFFIXES`).
    columns
        Its header, from :func:`gnettrack_header`.
    """
    keep = [i for i, c in enumerate(columns) if c and not _NEIGHBOUR.match(c)]
    for enc in _ENCODINGS:
        try:
            frame = pd.read_csv(
                path, sep="\t", dtype=str, keep_default_na=False, na_values=[""],
                encoding=enc, usecols=keep,
            )  # fmt: skip
        except UnicodeDecodeError:
            continue
        except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
            raise InputError(path, f"cannot be read as a G-NetTrack log: {exc}") from None
        frame.columns = [str(c).strip() for c in frame.columns]
        return frame
    raise InputError(path, "cannot be decoded as text")  # pragma: no cover


def gnettrack_to_contract(raw: pd.DataFrame) -> tuple[pd.DataFrame, dict[int, str]]:
    """A G-NetTrack log in contract terms (module docstring); its other columns kept.

    Returns
    -------
    frame
        ``lat``, ``lon`` (text, placeholders emptied), ``level_dbm`` (text, empty = no level),
        ``tech`` (the ``NetworkTech`` word, else ``NetworkMode``'s), ``operator``, ``cell_id``,
        ``time`` (the raw ``Timestamp``: local clock, see :data:`GNETTRACK_TIME_FORMAT`), then
        the log's other columns under their own names.
    skip
        Rows (0-based) that are not measurements, with the reason: repeated header lines.
    """
    lower = {c.lower(): c for c in raw.columns}

    def col(name: str) -> pd.Series:
        if name.lower() in lower:
            return raw[lower[name.lower()]]
        return pd.Series(pd.NA, index=raw.index, dtype="string")

    def cells(name: str) -> pd.Series:
        text = col(name).astype("string").str.strip()
        return text.mask(text.isin(_PLACEHOLDERS))

    # a header line repeated inside the log: its Timestamp cell says "Timestamp"
    stamp = col("Timestamp").astype("string").str.strip()
    repeated = (stamp.str.lower() == "timestamp").fillna(False).to_numpy(dtype=bool)
    skip = {int(i): "the log's header line repeated (logging resumed)"
            for i in np.flatnonzero(repeated)}  # fmt: skip

    tech = cells("NetworkTech")
    tech = tech.where(tech.notna(), cells("NetworkMode"))
    tech_word = tech.str.upper()

    # each distinct code named once: a log has 10⁴ rows but one or two operators
    codes = cells("Operator")
    uniq = pd.Series(codes.dropna().unique(), dtype="string")
    parts = uniq.str.extract(_MCC_MNC)
    ok = parts[0].notna().to_numpy()
    names = dict(zip(uniq[ok], operator_names(parts[0][ok], parts[1][ok]), strict=True))
    named = codes.map(names).to_numpy(dtype=object)
    operator = cells("Operatorname").fillna("").to_numpy(dtype=object)
    coded = pd.notna(named)
    operator[coded] = named[coded]

    # the columns read into the contract are replaced; the operator code is kept as
    # "mcc_mnc" (an "Operator" beside "operator" would clash in a GeoPackage, whose column
    # names ignore case)
    used = [lower[c] for c in ("timestamp", "longitude", "latitude", "level") if c in lower]
    out = raw.drop(columns=used)
    if "operator" in lower:
        out = out.rename(columns={lower["operator"]: "mcc_mnc"})
    out["lat"] = cells("Latitude").to_numpy(dtype=object)
    out["lon"] = cells("Longitude").to_numpy(dtype=object)
    out["level_dbm"] = cells("Level").to_numpy(dtype=object)
    out["tech"] = tech.to_numpy(dtype=object)
    out["operator"] = operator
    out["cell_id"] = _cell_ids(tech_word, cells("Node"), cells("CellID"), cells("RAWCELLID"))
    out["time"] = stamp.to_numpy(dtype=object)
    return out, skip


def _cell_ids(tech: pd.Series, node: pd.Series, cell: pd.Series, raw: pd.Series) -> np.ndarray:
    """OpenCelliD-style cell ids (module docstring); ``""`` where none can be told."""
    t = tech.fillna("").to_numpy(dtype=str)
    n, c, r = to_number(node), to_number(cell), to_number(raw)
    lte = np.isin(t, ["4G", "LTE", "LTE_CA"])
    umts = np.isin(t, ["3G", "UMTS", "WCDMA", "HSPA", "HSPA+", "HSDPA", "HSUPA", "TD_SCDMA"])
    gsm = np.isin(t, ["2G", "GSM", "GPRS", "EDGE"])
    ids = np.full(len(t), np.nan)
    # 4G: ECI = eNodeB · 256 + local cell id (3GPP TS 36.300 §8.2: 20-bit eNB + 8-bit cell)
    part = lte & _whole(n) & _whole(c) & (c < 256)
    ids[part] = n[part] * 256 + c[part]
    # 3G: UTRAN cell id = RNC · 65536 + C-Id (TS 25.401 §6.1.5: 12/16-bit RNC + 16-bit C-Id)
    part = umts & _whole(n) & _whole(c) & (c < 65536)
    ids[part] = n[part] * 65536 + c[part]
    # the app's own long id where Node/CellID do not give one
    part = (lte | umts) & ~np.isfinite(ids) & _whole(r) & (r > 0)
    ids[part] = r[part]
    part = gsm & _whole(c)
    ids[part] = c[part]
    out = np.full(len(t), "", dtype=object)
    ok = np.isfinite(ids) & (ids < 2**36)
    out[ok] = ids[ok].astype(np.int64).astype(str)
    return out


def _whole(values: np.ndarray) -> np.ndarray:
    """Whether each value is a whole number ≥ 0 (an id)."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(values) & (values >= 0) & (values == np.floor(values))
