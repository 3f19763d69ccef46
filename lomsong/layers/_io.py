"""Shared helpers of the readers: open vector files and tables, map columns, collect rejects.

Every reader opens its inputs read-only and never writes back: a planner's file is the same
after a run as before.
"""

from __future__ import annotations

import csv
import gzip
import logging
import re
import zipfile
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import rasterio
import rasterio.errors
import shapely

from lomsong.errors import InputError, Problem

__all__ = [
    "Rejects",
    "read_vector",
    "read_table",
    "map_columns",
    "source_label",
    "to_number",
    "clean_ids",
    "force_2d",
    "TABLE_SUFFIXES",
    "SPREADSHEET_SUFFIXES",
]

logger = logging.getLogger(__name__)

#: File endings read as delimited text (pandas; ``.gz``/``.zip`` decompressed on the fly).
TABLE_SUFFIXES = (".csv", ".txt", ".tsv", ".csv.gz", ".csv.zip", ".txt.gz")
#: File endings read as spreadsheets (first sheet unless one is named; needs ``openpyxl``).
SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm")
_PARQUET_SUFFIXES = (".parquet", ".geoparquet")
# encodings tried in order for text tables: UTF-8 (with or without BOM, what Excel writes as
# "CSV UTF-8"), then Windows-1258 (Vietnamese Windows), then Latin-1, which accepts any byte.
_ENCODINGS = ("utf-8-sig", "cp1258", "latin-1")


def source_label(src: object) -> str:
    """A printable name for an input: its path, or ``<what GeoDataFrame>``."""
    return str(src) if isinstance(src, (str, PathLike)) else f"<{type(src).__name__}>"


def has_suffix(path: str | PathLike[str], suffixes: tuple[str, ...]) -> bool:
    """Whether the file name ends with one of ``suffixes`` (case-insensitive)."""
    return str(path).lower().endswith(suffixes)


def read_vector(
    path: str | PathLike[str], *, layer: str | None = None, prefer_layer: str | None = None
) -> gpd.GeoDataFrame:
    """Read any OGR vector file (GeoPackage, GeoJSON, Shapefile, …) or a GeoParquet file.

    Parameters
    ----------
    path
        The file; opened read-only.
    layer
        Layer of a multi-layer file (a GeoPackage); an unknown name is an error that lists
        the file's layers.
    prefer_layer
        Layer taken when ``layer`` is None and the file has several (e.g. ``"villages"``);
        without it, or when no layer has that name, a multi-layer file is an error that lists
        its layers — guessing the first layer would silently read the wrong data.

    Raises
    ------
    InputError
        The file is missing, cannot be read, or the layer is ambiguous or unknown.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(p, "file not found")
    if has_suffix(p, _PARQUET_SUFFIXES):
        try:
            return gpd.read_parquet(p)
        except ImportError as exc:
            raise InputError(p, f"reading GeoParquet needs pyarrow ({exc})") from None
        except Exception as exc:  # the reader's message is the most useful reason we have
            raise InputError(p, f"cannot be read as GeoParquet: {exc}") from None
    try:
        layers = [str(name) for name in pyogrio.list_layers(p)[:, 0]]
    except Exception as exc:
        raise InputError(p, f"cannot be read as a vector file: {exc}") from None
    if layer is not None and layer not in layers:
        raise InputError(p, f"has no layer {layer!r}; its layers are {', '.join(layers)}")
    if layer is None and len(layers) > 1:
        if prefer_layer in layers:
            layer = prefer_layer
        else:
            raise InputError(
                p,
                f'has {len(layers)} layers ({", ".join(layers)}); name one with layer = "..."',
            )
    try:
        return gpd.read_file(p, layer=layer, engine="pyogrio")
    except Exception as exc:
        raise InputError(p, f"cannot be read as a vector layer: {exc}") from None


def read_table(
    path: str | PathLike[str], *, sheet: str | None = None, header: bool = True
) -> pd.DataFrame:
    """Read a delimited text table or a spreadsheet with every cell as a string.

    Cells stay strings (empty cells NaN) so that each reader decides what a number is and can
    report the exact cell that is not one. Text files: the delimiter (``,``, ``;``, tab or
    ``|``) is sniffed from the first lines, the encoding is UTF-8 (BOM or not), else
    Windows-1258, else Latin-1. Spreadsheets: ``sheet`` by name, else the first sheet.

    ``header=False`` reads a file without a header line (columns numbered from 0).

    Raises
    ------
    InputError
        The file is missing, empty, or not a readable table.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(p, "file not found")
    if has_suffix(p, SPREADSHEET_SUFFIXES):
        return _read_spreadsheet(p, sheet, header)
    text = None
    for enc in _ENCODINGS:
        try:
            head = _head_text(p, enc)
        except UnicodeDecodeError:
            continue
        text = enc
        break
    if text is None or not head.strip():
        raise InputError(p, "is empty")
    sep = _sniff_delimiter(head)
    try:
        frame = pd.read_csv(
            p, sep=sep, dtype=str, keep_default_na=False, na_values=[""], encoding=text,
            skipinitialspace=True, header=0 if header else None,
        )  # fmt: skip
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InputError(p, f"cannot be read as a table: {exc}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _head_text(p: Path, encoding: str, n_bytes: int = 65_536) -> str:
    """The first bytes of a (possibly compressed) text file, decoded."""
    name = p.name.lower()
    if name.endswith(".gz"):
        with gzip.open(p, "rb") as handle:
            raw = handle.read(n_bytes)
    elif name.endswith(".zip"):
        with zipfile.ZipFile(p) as archive:
            members = [m for m in archive.namelist() if not m.endswith("/")]
            if len(members) != 1:
                raise InputError(p, f"a zipped table must hold one file, not {len(members)}")
            with archive.open(members[0]) as handle:
                raw = handle.read(n_bytes)
    else:
        with p.open("rb") as handle:
            raw = handle.read(n_bytes)
    if len(raw) == n_bytes:  # do not judge the encoding on a cut multi-byte character
        raw = raw[: raw.rfind(b"\n") + 1] or raw
    return raw.decode(encoding)


def _sniff_delimiter(head: str) -> str:
    lines = [ln for ln in head.splitlines() if ln.strip()][:50]
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t|").delimiter
    except csv.Error:
        return ","  # one column, or too irregular to tell: pandas will say what is wrong


def _read_spreadsheet(p: Path, sheet: str | None, header: bool) -> pd.DataFrame:
    try:
        import openpyxl  # noqa: F401  (pandas needs it; say so clearly when it is missing)
    except ImportError:
        raise InputError(p, "reading .xlsx needs openpyxl: pip install openpyxl") from None
    try:
        book = pd.ExcelFile(p, engine="openpyxl")
    except Exception as exc:
        raise InputError(p, f"cannot be read as a spreadsheet: {exc}") from None
    with book:
        if sheet is not None and sheet not in book.sheet_names:
            raise InputError(p, f"has no sheet {sheet!r}; its sheets are "
                                f"{', '.join(map(str, book.sheet_names))}")  # fmt: skip
        frame = pd.read_excel(
            book, sheet_name=sheet if sheet is not None else 0, dtype=str,
            header=0 if header else None,
        )  # fmt: skip
    # spreadsheets give NaN for empty cells already; strip the header like a CSV's
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def map_columns(df: pd.DataFrame, columns: dict[str, str] | None, path: object) -> pd.DataFrame:
    """Rename the file's columns to lomsong's standard names (``{standard: file column}``).

    One file column may feed several standard names (``name`` and ``commune`` both from
    ``commune_vn``); a standard name already in the file is replaced by the mapped column.
    The file's other columns are kept.
    """
    if not columns:
        return df
    missing = [f"{std} = {col!r}" for std, col in columns.items() if col not in df.columns]
    if missing:
        raise InputError(
            source_label(path),
            f"mapped columns not in the file: {', '.join(missing)}; "
            f"the file has {', '.join(map(str, df.columns))}",
        )
    values = {std: df[col] for std, col in columns.items()}
    geometry = df.geometry.name if isinstance(df, gpd.GeoDataFrame) else None
    drop = {col for col in columns.values() if col not in columns and col != geometry}
    drop |= {std for std in columns if std in df.columns}
    out = df.drop(columns=sorted(drop))
    for std, series in values.items():
        out[std] = series
    return out


def to_number(values: pd.Series) -> np.ndarray:
    """Numbers (float, NaN where a cell is empty or not a number) from a column of cells."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.to_numpy(dtype=float, na_value=np.nan)
    text = values.astype("string").str.strip()
    return pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def given(values: pd.Series) -> np.ndarray:
    """Whether each cell holds something (not NaN/None, not blank)."""
    text = values.astype("string").str.strip()
    return (values.notna() & text.notna() & (text != "")).to_numpy(dtype=bool)


_INTEGRAL_FLOAT = re.compile(r"^(-?\d+)\.0+$")


def clean_ids(values: pd.Series) -> pd.Series:
    """Ids as stripped strings; ``"123.0"`` (an integer id read as a float) becomes ``"123"``.

    Empty cells stay ``<NA>`` so callers can name them.
    """
    text = values.astype("string").str.strip()
    dotted = text.str.contains(".", regex=False).fillna(False)
    if dotted.any():  # the regex only where it can apply: ids are often 10⁵ plain integers
        text = text.where(~dotted, text.str.replace(_INTEGRAL_FLOAT, r"\1", regex=True))
    return text.where(text != "")


def force_2d(geoms: gpd.GeoSeries) -> gpd.GeoSeries:
    """Drop Z/M coordinates: lomsong's heights come from the terrain, not the geometry."""
    if not shapely.has_z(geoms.values).any():
        return geoms
    return gpd.GeoSeries(shapely.force_2d(geoms.values), index=geoms.index, crs=geoms.crs)


@dataclass
class Rejects:
    """Rows left out of an input, each with the reason: the ``rejects`` layer of a run.

    ``row`` is the 1-based data row (header not counted) or feature number.
    """

    source: str
    rows: list[dict] = field(default_factory=list)
    _by_row: dict[int, dict] = field(default_factory=dict, repr=False, compare=False)

    def add(self, row: int, reason: str, geometry: object = None) -> None:
        """Record why ``row`` is left out; several reasons for one row join into one entry."""
        entry = self._by_row.get(int(row))
        if entry is not None:
            entry["reason"] = f"{entry['reason']}; {reason}"
            return
        entry = {"source": self.source, "row": int(row), "reason": reason, "geometry": geometry}
        self._by_row[int(row)] = entry
        self.rows.append(entry)

    def __len__(self) -> int:
        return len(self.rows)

    def problems(self) -> list[Problem]:
        return [Problem(r["row"], r["reason"]) for r in sorted(self.rows, key=lambda r: r["row"])]

    def to_frame(self, crs: object = None) -> gpd.GeoDataFrame:
        frame = pd.DataFrame(self.rows, columns=["source", "row", "reason", "geometry"])
        return gpd.GeoDataFrame(frame, geometry="geometry", crs=crs)


def open_raster(
    path: str | PathLike[str], *, what: str, crs_hint: str = ""
) -> rasterio.DatasetReader:
    """Open a raster for reading (a rasterio dataset, to use in ``with``), or raise InputError
    naming the file: not found, not readable as a raster, or without a CRS (``what`` names
    the layer in that message, ``crs_hint`` says how to fix it)."""
    label = str(path)
    if not Path(path).exists() and not label.startswith("/vsi"):
        raise InputError(label, "file not found")
    try:
        ds = rasterio.open(path)
    except rasterio.errors.RasterioIOError as exc:
        raise InputError(label, f"cannot be read as a raster: {exc}") from None
    if ds.crs is None:
        ds.close()
        raise InputError(label, f"{what} has no CRS{crs_hint}")
    return ds
