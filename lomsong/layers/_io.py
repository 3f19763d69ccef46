"""Shared helpers of the readers: open a vector file, map columns, collect rejects."""

from __future__ import annotations

from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import geopandas as gpd
import pandas as pd

from lomsong.errors import InputError, Problem

__all__ = ["Rejects", "read_vector", "map_columns", "source_label"]


def source_label(src: object) -> str:
    """A printable name for an input: its path, or ``<what GeoDataFrame>``."""
    return str(src) if isinstance(src, (str, PathLike)) else f"<{type(src).__name__}>"


def read_vector(path: str | PathLike[str], *, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read any OGR vector file (GPKG, GeoJSON, Shapefile, …) or GeoParquet."""
    p = Path(path)
    if not p.exists():
        raise InputError(p, "file not found")
    try:
        if p.suffix.lower() == ".parquet":
            return gpd.read_parquet(p)
        return gpd.read_file(p, layer=layer)
    except InputError:
        raise
    except Exception as exc:  # the driver's message is the most useful reason we have
        raise InputError(p, f"cannot be read as a vector layer: {exc}") from None


def map_columns(df: pd.DataFrame, columns: dict[str, str] | None, path: object) -> pd.DataFrame:
    """Rename the file's columns to lomsong's standard names (``{standard: file column}``)."""
    if not columns:
        return df
    missing = [f"{std} = {col!r}" for std, col in columns.items() if col not in df.columns]
    if missing:
        raise InputError(
            source_label(path),
            f"mapped columns not in the file: {', '.join(missing)}; "
            f"the file has {', '.join(map(str, df.columns))}",
        )
    renamed = df.rename(columns={col: std for std, col in columns.items()})
    return renamed.loc[:, ~renamed.columns.duplicated()]


@dataclass
class Rejects:
    """Rows left out of an input, each with the reason: the ``rejects`` layer of a run."""

    source: str
    rows: list[dict] = field(default_factory=list)

    def add(self, row: int, reason: str, geometry: object = None) -> None:
        self.rows.append({"source": self.source, "row": int(row), "reason": reason,
                          "geometry": geometry})  # fmt: skip

    def problems(self) -> list[Problem]:
        return [Problem(r["row"], r["reason"]) for r in self.rows]

    def to_frame(self, crs: object = None) -> gpd.GeoDataFrame:
        frame = pd.DataFrame(self.rows, columns=["source", "row", "reason", "geometry"])
        return gpd.GeoDataFrame(frame, geometry="geometry", crs=crs)
