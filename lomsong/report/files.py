"""Write the files of a run: summary.json, villages.csv, ranking.csv, planning.gpkg, rasters."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import LineString

__all__ = [
    "VILLAGE_CSV_COLUMNS",
    "RANKING_CSV_COLUMNS",
    "write_villages_csv",
    "write_ranking_csv",
    "write_planning_gpkg",
    "backhaul_links",
    "write_summary",
    "file_sha256",
]

VILLAGE_CSV_COLUMNS = [
    "village_id", "name", "commune", "district", "households", "households_covered",
    "households_uncovered", "households_no_signal", "households_weak", "share_uncovered",
    "coverage_probability", "status", "dead",
]  # fmt: skip
RANKING_CSV_COLUMNS = [
    "rank", "site_id", "lon", "lat", "new_households", "cumulative_households",
    "cumulative_share", "villages_reached", "backhaul_hops", "backhaul_ok", "backhaul_via",
]  # fmt: skip


def write_villages_csv(villages: gpd.GeoDataFrame, path: Path) -> None:
    """``villages.csv``: the contract columns first, then any added ones (no geometry)."""
    extra = [c for c in villages.columns if c not in VILLAGE_CSV_COLUMNS and c != "geometry"]
    frame = pd.DataFrame(villages[VILLAGE_CSV_COLUMNS + extra])
    frame["share_uncovered"] = frame["share_uncovered"].round(4)
    frame.to_csv(path, index=False, encoding="utf-8")


def write_ranking_csv(ranking: gpd.GeoDataFrame, path: Path) -> None:
    """``ranking.csv``: one row per proposed site in rank order."""
    extra = [c for c in ranking.columns if c not in RANKING_CSV_COLUMNS and c != "geometry"]
    frame = pd.DataFrame(ranking[RANKING_CSV_COLUMNS + extra])
    frame["cumulative_share"] = frame["cumulative_share"].round(4)
    frame["lon"] = frame["lon"].round(6)
    frame["lat"] = frame["lat"].round(6)
    frame.to_csv(path, index=False, encoding="utf-8")


def write_planning_gpkg(layers: dict[str, gpd.GeoDataFrame], path: Path) -> None:
    """One GeoPackage with a layer per GeoDataFrame (empty layers are kept, as Point)."""
    for name, gdf in layers.items():
        frame = gdf.copy()
        for col in frame.columns:
            # GPKG has no list/object columns: store them as text
            if col != frame.geometry.name and frame[col].dtype == object:
                frame[col] = frame[col].map(lambda v: v if v is None or isinstance(v, str)
                                            else str(v))  # fmt: skip
        kw: dict[str, Any] = {"layer": name, "driver": "GPKG", "engine": "pyogrio"}
        if len(frame) == 0 or frame.geometry.isna().all():
            kw["geometry_type"] = "Point" if len(frame) == 0 else "Unknown"
        frame.to_file(path, **kw)


def backhaul_links(
    ranking: gpd.GeoDataFrame, candidates: gpd.GeoDataFrame, towers: gpd.GeoDataFrame
) -> gpd.GeoDataFrame:
    """The proposed sites' backhaul chains as lines (``planning.gpkg``'s ``backhaul`` layer).

    One row per microwave hop of each site's ``backhaul_via`` (the hop ids in order, ending at
    a tower site; :func:`lomsong.siting.rank.rank_sites`): ``rank, site_id, hop`` (1-based),
    ``from_id, to_id, length_km`` and a straight LineString in the project CRS. Intermediate
    hops are sites of the plan (or candidates), the last one an existing tower's ``site_id``;
    a hop whose end is not among them (a fibre point) ends the chain there.
    """
    points: dict[str, Any] = {}
    for frame in (candidates, ranking):  # the plan's own sites win over a candidate's copy
        if len(frame) and "site_id" in frame:
            points.update(zip(frame["site_id"].astype(str), frame.geometry, strict=True))
    tower_points: dict[str, Any] = {}
    if len(towers) and "site_id" in towers:
        for sid, geom in zip(towers["site_id"].astype(str), towers.geometry, strict=True):
            tower_points.setdefault(sid, geom)
    rows = []
    for r in ranking.itertuples(index=False):
        via = [h.strip() for h in str(getattr(r, "backhaul_via", "") or "").split(">")]
        via = [h for h in via if h]
        start = r.geometry
        for i, hop in enumerate(via):
            first, second = (tower_points, points) if i == len(via) - 1 else (points, tower_points)
            end = first.get(hop, second.get(hop))
            if start is None or end is None:
                break
            line = LineString([start, end])
            rows.append({"rank": int(r.rank), "site_id": str(r.site_id), "hop": i + 1,
                         "from_id": str(r.site_id) if i == 0 else via[i - 1], "to_id": hop,
                         "length_km": round(line.length / 1000.0, 3),
                         "geometry": line})  # fmt: skip
            start = end
    columns = ["rank", "site_id", "hop", "from_id", "to_id", "length_km", "geometry"]
    return gpd.GeoDataFrame(pd.DataFrame(rows, columns=columns), geometry="geometry",
                            crs=ranking.crs)  # fmt: skip


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return None if not math.isfinite(o) else float(o)
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _finite(o: Any) -> Any:
    """JSON has no inf/NaN: they become null."""
    if isinstance(o, dict):
        return {k: _finite(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_finite(v) for v in o]
    if isinstance(o, (float, np.floating)) and not math.isfinite(o):
        return None
    return o


def write_summary(summary: dict, path: Path) -> None:
    """``summary.json``: UTF-8, indented, inf/NaN written as null."""
    text = json.dumps(_finite(summary), indent=2, ensure_ascii=False, default=_json_default)
    path.write_text(text, encoding="utf-8")


def file_sha256(paths: Iterable[Path]) -> dict[str, str]:
    """SHA-256 of each input file (keyed by file name), for reproducibility and caches."""
    out = {}
    for p in paths:
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for chunk in iter(lambda f=f: f.read(1 << 20), b""):
                h.update(chunk)
        out[Path(p).name] = h.hexdigest()
    return out
