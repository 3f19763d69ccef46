"""What changed between two runs, from their output files: cells, households, villages, ranking.

``lomsong diff RUN_A RUN_B`` prints :func:`diff_runs`; a rerun writes ``changes.md``.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from lomsong.errors import InputError

__all__ = ["run_changes", "changes_markdown", "diff_runs"]


_TOWER_FIELDS = ["operator", "tech", "freq_mhz", "bandwidth_mhz", "height_m", "eirp_dbm",
                 "azimuth_deg", "beamwidth_deg", "tilt_deg"]  # fmt: skip


def run_changes(run_a: Path, run_b: Path) -> dict:
    """What changed from run A (before) to run B (after), from their output files.

    Returns a dict with ``towers`` (added / removed / changed ids), ``households_uncovered``
    (before, after), ``villages_newly_covered`` / ``villages_newly_dead`` (ids and names) and
    ``ranking`` (site ids before and after).
    """
    run_a, run_b = Path(run_a), Path(run_b)
    for d in (run_a, run_b):
        if not (d / "summary.json").exists():
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
        # a field one run lacks (a run of an older lomsong) says nothing about its towers
        if f not in ta.columns or f not in tb.columns:
            continue
        x, y = ta[f].reindex(ids), tb[f].reindex(ids)
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
