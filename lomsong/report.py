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

__all__ = [
    "VILLAGE_CSV_COLUMNS",
    "RANKING_CSV_COLUMNS",
    "write_villages_csv",
    "write_ranking_csv",
    "write_planning_gpkg",
    "write_summary",
    "file_sha256",
]

VILLAGE_CSV_COLUMNS = [
    "village_id", "name", "commune", "district", "households", "households_covered",
    "households_uncovered", "share_uncovered", "dead",
]  # fmt: skip
RANKING_CSV_COLUMNS = [
    "rank", "site_id", "lon", "lat", "new_households", "cumulative_households",
    "cumulative_share", "villages_reached", "backhaul_hops", "backhaul_ok",
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


# -- changes between two runs ----------------------------------------------------------------
_TOWER_FIELDS = ["operator", "tech", "freq_mhz", "height_m", "eirp_dbm", "azimuth_deg",
                 "beamwidth_deg", "tilt_deg"]  # fmt: skip


def run_changes(run_a: Path, run_b: Path) -> dict:
    """What changed from run A (before) to run B (after), from their output files.

    Returns a dict with ``towers`` (added / removed / changed ids), ``households_uncovered``
    (before, after), ``villages_newly_covered`` / ``villages_newly_dead`` (ids and names) and
    ``ranking`` (site ids before and after).
    """
    run_a, run_b = Path(run_a), Path(run_b)
    for d in (run_a, run_b):
        if not (d / "summary.json").exists():
            from lomsong.errors import InputError

            raise InputError(d, "not a lomsong run folder (no summary.json)")
    sa = json.loads((run_a / "summary.json").read_text(encoding="utf-8"))
    sb = json.loads((run_b / "summary.json").read_text(encoding="utf-8"))
    ta = _towers_table(run_a)
    tb = _towers_table(run_b)
    added = sorted(set(tb.index) - set(ta.index))
    removed = sorted(set(ta.index) - set(tb.index))
    common = sorted(set(ta.index) & set(tb.index))
    changed = _changed(ta, tb, common)
    va = pd.read_csv(run_a / "villages.csv", dtype={"village_id": str}).set_index("village_id")
    vb = pd.read_csv(run_b / "villages.csv", dtype={"village_id": str}).set_index("village_id")
    both = va.index.intersection(vb.index)
    was, now = va.loc[both, "dead"].astype(bool), vb.loc[both, "dead"].astype(bool)
    newly_covered = [(v, str(vb.at[v, "name"])) for v in both[was & ~now]]
    newly_dead = [(v, str(vb.at[v, "name"])) for v in both[~was & now]]
    ra = pd.read_csv(run_a / "ranking.csv", dtype={"site_id": str})
    rb = pd.read_csv(run_b / "ranking.csv", dtype={"site_id": str})
    return {
        "towers": {"added": added, "removed": removed, "changed": changed},
        "households_uncovered": [
            sa["totals"]["households_uncovered"],
            sb["totals"]["households_uncovered"],
        ],  # fmt: skip
        "dead_villages": [sa["totals"]["dead_villages"], sb["totals"]["dead_villages"]],
        "villages_newly_covered": newly_covered,
        "villages_newly_dead": newly_dead,
        "ranking": {"before": ra["site_id"].tolist(), "after": rb["site_id"].tolist()},
    }


def _changed(ta: pd.DataFrame, tb: pd.DataFrame, ids: list) -> list:
    """Ids (of ``ids``) whose radio fields or position differ between the two tower tables:
    numbers by more than 1e-6 (NaN equals NaN), anything else by value; column by column, not
    tower by tower (a thousand ``.loc`` pairs took most of a second)."""
    differs = np.zeros(len(ids), dtype=bool)
    for f in [*_TOWER_FIELDS, "x", "y"]:
        if f not in ta.columns and f not in tb.columns:
            continue
        x = ta[f].reindex(ids) if f in ta.columns else pd.Series(None, index=ids, dtype=object)
        y = tb[f].reindex(ids) if f in tb.columns else pd.Series(None, index=ids, dtype=object)
        if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y):
            xv, yv = x.to_numpy(dtype=float), y.to_numpy(dtype=float)
            with np.errstate(invalid="ignore"):
                same = (xv == yv) | (np.isnan(xv) & np.isnan(yv)) | (np.abs(xv - yv) < 1e-6)
        else:
            same = ((x == y) | (x.isna() & y.isna())).to_numpy(dtype=bool)
        differs |= ~same
    return [t for t, d in zip(ids, differs, strict=True) if d]


def _towers_table(run: Path) -> pd.DataFrame:
    t = gpd.read_file(run / "planning.gpkg", layer="towers")
    t["x"] = t.geometry.x.round(2)
    t["y"] = t.geometry.y.round(2)
    return pd.DataFrame(t.drop(columns="geometry")).set_index("tower_id")


def changes_markdown(ch: dict, *, title: str = "Changes") -> str:
    """``changes.md``: the change report in Markdown."""
    t = ch["towers"]
    hb, ha = ch["households_uncovered"]
    db, da = ch["dead_villages"]
    lines = [f"# {title}", "", "## Towers", ""]
    lines += [f"- added ({len(t['added'])}): {', '.join(t['added']) or '—'}",
              f"- removed ({len(t['removed'])}): {', '.join(t['removed']) or '—'}",
              f"- changed ({len(t['changed'])}): {', '.join(t['changed']) or '—'}", ""]  # fmt: skip
    lines += ["## Households and villages", "",
              f"- households uncovered: {hb:,} → {ha:,} ({ha - hb:+,})",
              f"- dead villages: {db} → {da} ({da - db:+d})"]  # fmt: skip
    nc = ", ".join(f"{n} ({v})" for v, n in ch["villages_newly_covered"]) or "—"
    nd = ", ".join(f"{n} ({v})" for v, n in ch["villages_newly_dead"]) or "—"
    lines += [f"- villages newly covered: {nc}", f"- villages newly dead: {nd}", ""]
    before, after = ch["ranking"]["before"], ch["ranking"]["after"]
    lines += ["## Ranking", "", "| rank | before | after |", "|---:|---|---|"]
    for i in range(max(len(before), len(after))):
        b = before[i] if i < len(before) else ""
        a = after[i] if i < len(after) else ""
        lines.append(f"| {i + 1} | {b} | {a} |")
    return "\n".join(lines) + "\n"


def diff_runs(run_a: Path, run_b: Path) -> str:
    """The change report between two run folders, as Markdown (``lomsong diff``)."""
    return changes_markdown(run_changes(run_a, run_b), title=f"Changes from {run_a} to {run_b}")
