"""Measured signal levels: the table of a drive test or of gateway uplinks, standardised.

Columns are recognised by their usual names (:data:`MEASUREMENT_COLUMNS`) or mapped; every
problem of a file is reported at once (each bad row with its reason).
"""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike
from typing import Any

import numpy as np
import pandas as pd

from lomsong.errors import InputError, Problem
from lomsong.layers._io import read_table

__all__ = ["MEASUREMENT_COLUMNS", "read_measurements"]

MEASUREMENT_COLUMNS: dict[str, tuple[str, ...]] = {
    "tx_id": ("tx_id", "gateway", "tower_id", "cell_id", "site_id"),
    "tx_lat": ("tx_lat", "gw_lat", "tower_lat", "site_lat"),
    "tx_lon": ("tx_lon", "gw_lon", "tower_lon", "site_lon"),
    "lat": ("lat", "latitude", "rx_lat"),
    "lon": ("lon", "longitude", "lng", "rx_lon"),
    "rssi_dbm": ("rssi_dbm", "rssi", "rsrp", "rx_dbm", "level_dbm"),
    "f_mhz": ("f_mhz", "freq_mhz", "frequency_mhz", "frequency"),
}
"""Standard measurement columns and the file column names recognised for each (first match,
case-insensitive). ``f_mhz`` is optional when ``f_mhz=`` is given; a frequency column whose
values exceed 100,000 is taken to be in Hz (no radio of interest is above 100 GHz)."""


def read_measurements(
    path: str | PathLike[str],
    *,
    columns: Mapping[str, str] | None = None,
    f_mhz: float | None = None,
) -> pd.DataFrame:
    """Read a measurement table (CSV and the other formats of the tower reader).

    Parameters
    ----------
    path
        Table with one measurement per row.
    columns
        Mapping standard name → column in the file, for columns whose names are not among the
        recognised aliases (:data:`MEASUREMENT_COLUMNS`).
    f_mhz
        Frequency (MHz) of every measurement, when the file has no frequency column (or to
        override it).

    Returns
    -------
    pandas.DataFrame
        Columns ``tx_id`` (str), ``tx_lat``, ``tx_lon``, ``lat``, ``lon``, ``rssi_dbm``,
        ``f_mhz`` (float), plus the file's other columns; ``row`` is the 1-based data row.

    Raises
    ------
    InputError
        Missing columns (all named at once), or rows with an empty, non-numeric or
        out-of-range value (every bad row listed with its reason).
    """
    raw = read_table(path)
    return _standardise(raw, label=str(path), columns=columns, f_mhz=f_mhz)


def _standardise(
    raw: pd.DataFrame, *, label: str, columns: Mapping[str, str] | None, f_mhz: float | None
) -> pd.DataFrame:
    lower = {str(c).strip().lower(): c for c in raw.columns}
    columns = dict(columns or {})
    unknown = sorted(set(columns) - set(MEASUREMENT_COLUMNS))
    if unknown:
        raise InputError(label, f"unknown standard column(s) in the mapping: {', '.join(unknown)}")
    found: dict[str, Any] = {}
    missing = []
    for std, aliases in MEASUREMENT_COLUMNS.items():
        if std in columns:
            if columns[std] not in raw.columns:
                missing.append(f"{std} (mapped to {columns[std]!r}, not in the file)")
                continue
            found[std] = columns[std]
            continue
        hit = next((lower[a] for a in aliases if a in lower), None)
        if hit is not None:
            found[std] = hit
        elif not (std == "f_mhz" and f_mhz is not None):
            missing.append(f"{std} (looked for {', '.join(aliases)})")
    if missing:
        raise InputError(label, "missing column(s): " + "; ".join(missing))

    out = raw.drop(columns=list(found.values())).copy()
    out.insert(0, "row", np.arange(1, len(raw) + 1))
    problems: list[Problem] = []
    tx = raw[found["tx_id"]]
    tx_missing = tx.isna() | (tx.astype(str).str.strip() == "")
    out["tx_id"] = tx.astype(str).str.strip()
    for i in np.flatnonzero(tx_missing.to_numpy()):
        problems.append(Problem(int(i) + 1, "tx_id is empty"))
    limits = {"tx_lat": 90.0, "lat": 90.0, "tx_lon": 180.0, "lon": 180.0}
    for std in ("tx_lat", "tx_lon", "lat", "lon", "rssi_dbm", "f_mhz"):
        if std not in found:
            continue
        col = raw[found[std]]
        num = pd.to_numeric(col, errors="coerce").astype(float)
        bad = ~np.isfinite(num.to_numpy())
        for i in np.flatnonzero(bad):
            cell = col.iloc[i]
            what = (
                "is empty"
                if pd.isna(cell) or str(cell).strip() == ""
                else f"{cell!r} is not a number"
            )
            problems.append(Problem(int(i) + 1, f"{std} ({found[std]}) {what}"))
        if std in limits:
            far = ~bad & (np.abs(num.to_numpy()) > limits[std])
            for i in np.flatnonzero(far):
                problems.append(
                    Problem(int(i) + 1, f"{std} {num.iloc[i]} outside ±{limits[std]:g} degrees")
                )
        if std == "f_mhz":
            # Hz when the values are huge (a 900 MHz carrier written as 900000000)
            num = num.where(~(num > 1e5), num / 1e6)
            nonpos = ~bad & (num.to_numpy() <= 0)
            for i in np.flatnonzero(nonpos):
                problems.append(Problem(int(i) + 1, f"f_mhz {num.iloc[i]} must be positive"))
        out[std] = num.to_numpy()
    if f_mhz is not None:
        if not (f_mhz > 0):
            raise InputError(label, f"f_mhz must be positive, got {f_mhz}")
        out["f_mhz"] = float(f_mhz)
    if problems:
        problems.sort(key=lambda p: p.row if isinstance(p.row, int) else 0)
        raise InputError(label, problems=problems)
    if out.empty:
        raise InputError(label, "has no measurement rows")
    return out
