"""The validation outputs: ``validation.csv``, ``validation.json``, ``evidence.gpkg``,
``validation.html`` — where the map and the field disagree, in files a planner opens.

- ``validation.csv``: one row per village, exactly
  :data:`~lomsong.calibration.validate.CSV_COLUMNS` (``village_id, name, predicted_status,
  observed_status, samples, reported_status, agreement``); empty statuses where there is no
  evidence.
- ``validation.json``: :meth:`~lomsong.calibration.validate.Validation.to_dict` — ``residuals``
  keyed ``"operator/tech"`` (``bias_db``, ``std_db``, ``rmse_db``, ``n``), ``hamlets``
  (``agreed``, ``missed``, ``extra``, ``unmatched``: names as the report wrote them),
  ``confusion`` and the counts behind them.
- ``evidence.gpkg``: layers ``measurements`` (every row with its matched cell, predicted level
  and residual; points), ``reported_hamlets`` (every reported row with its status, the matched
  village, its predicted status and the agreement; the village's polygon, none when
  unmatched) and ``villages`` (the per-village table on the polygons).
- ``validation.html``: one self-contained page (no network: plots are inline PNG), in the
  project's language — the three lists of reported hamlets (missed first: the list a planner
  reads first), the confusion tables, the residual statistics per operator × technology and
  per tower, and per operator a residual histogram and a residual-against-distance plot.
  Every string from data is HTML-escaped.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from lomsong.calibration.validate import AGREEMENT, OBSERVED_CLASSES, Validation
from lomsong.coverage.rule import CLASSES
from lomsong.report.files import write_planning_gpkg, write_summary
from lomsong.report.html import _CSS, FIG_DPI, _esc, _img, _png, _table
from lomsong.text import (
    CLASS_LABELS,
    VALIDATION,
    for_lang,
    format_float,
    format_int,
    format_pct,
)

__all__ = [
    "OUTPUT_FILES",
    "RESIDUAL_RANGE_DB",
    "write_validation",
    "write_validation_csv",
    "write_validation_json",
    "write_evidence_gpkg",
    "validation_html",
    "write_validation_html",
]

logger = logging.getLogger(__name__)

#: The files :func:`write_validation` writes.
OUTPUT_FILES = ("validation.csv", "validation.json", "evidence.gpkg", "validation.html")
#: Range of the residual plots (dB): ±40 dB holds a model's worst misses (a hidden valley,
#: a wrong antenna); residuals beyond are drawn at the edge.
RESIDUAL_RANGE_DB = (-40.0, 40.0)
#: Histogram bin width of the residuals (dB): 2 dB is a third of a walk test's typical spread.
RESIDUAL_BIN_DB = 2.0
#: Most points drawn in a residual-against-distance plot (evenly thinned beyond).
SCATTER_MAX_POINTS = 20_000
#: Two plots side by side per operator (inches).
PLOT_SIZE = (10.0, 3.8)


# -- files -----------------------------------------------------------------------------------
def write_validation_csv(validation: Validation, path: str | os.PathLike[str]) -> Path:
    """``validation.csv``: :meth:`Validation.table`, UTF-8."""
    validation.table().to_csv(path, index=False, encoding="utf-8")
    return Path(path)


def write_validation_json(validation: Validation, path: str | os.PathLike[str]) -> Path:
    """``validation.json``: :meth:`Validation.to_dict`, indented UTF-8, NaN as null."""
    write_summary(validation.to_dict(), Path(path))
    return Path(path)


def _text_time(frame: pd.DataFrame) -> pd.DataFrame:
    """Datetime columns as ISO 8601 text (UTC): every GeoPackage reader reads text."""
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].map(lambda t: None if pd.isna(t) else t.isoformat())
    return out


def write_evidence_gpkg(validation: Validation, path: str | os.PathLike[str]) -> Path:
    """``evidence.gpkg``: layers ``measurements``, ``reported_hamlets`` and ``villages``."""
    villages = validation.villages
    hamlets = pd.DataFrame(validation.hamlets).copy()
    if "candidates" in hamlets:
        hamlets = hamlets.drop(columns=["candidates"])
    geoms = villages.set_index("village_id").geometry
    hamlet_geoms = [geoms.get(str(v)) if v is not None and not pd.isna(v) else None
                    for v in hamlets.get("village_id", pd.Series([], dtype=object))]  # fmt: skip
    reported = gpd.GeoDataFrame(hamlets, geometry=hamlet_geoms, crs=villages.crs)
    layers = {
        "measurements": _text_time(validation.measurements),
        "reported_hamlets": reported,
        "villages": villages,
    }
    target = Path(path)
    target.unlink(missing_ok=True)  # a rewrite replaces the file, not its layers one by one
    write_planning_gpkg(layers, target)
    return target


def write_validation(
    validation: Validation, out_dir: str | os.PathLike[str], *, lang: str = "vi",
    version: str = "",
) -> dict[str, Path]:  # fmt: skip
    """Write the four validation files into ``out_dir`` (created); returns them by name."""
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    files = {
        "validation.csv": write_validation_csv(validation, d / "validation.csv"),
        "validation.json": write_validation_json(validation, d / "validation.json"),
        "evidence.gpkg": write_evidence_gpkg(validation, d / "evidence.gpkg"),
        "validation.html": write_validation_html(
            validation, d / "validation.html", lang=lang, version=version
        ),  # fmt: skip
    }
    logger.info("validation written to %s", d)
    return files


# -- page ------------------------------------------------------------------------------------
def _class_word(status: Any, lab: dict[str, str]) -> str:
    """A status in words (observed "ok" is the rule's reliable class); data text escaped."""
    if status == "ok":
        status = "reliable"
    if status in CLASS_LABELS:
        return lab[CLASS_LABELS[status]]
    return _esc(status) if status else "–"


def _dbm(value: Any, lang: str) -> str:
    return format_float(value, lang, digits=1) if value is not None else "–"


def _hamlet_lists(validation: Validation, lab: dict[str, str]) -> str:
    h = validation.hamlets
    if not len(h):
        return f"<p>{lab['no_reports']}</p>"
    parts = [f'<p class="note">{lab["hamlets_note"]}</p>']
    for outcome in ("missed", "extra", "agreed", "unmatched"):
        rows = h[h["agreement"] == outcome]
        parts.append(f"<h3>{lab[outcome]}: {len(rows)}</h3>")
        if not len(rows):
            parts.append(f"<p>{lab['none_listed']}</p>")
            continue
        head = [("#", True), (lab["name_written"], False), (lab["commune"], False),
                (lab["reported_status"], False), (lab["matched_name"], False),
                (lab["predicted_status"], False)]  # fmt: skip
        body = [
            (str(i), _esc(r.get("name")), _esc(r.get("commune")),
             _class_word(r.get("status"), lab), _esc(r.get("matched_name")),
             _class_word(r.get("predicted_status"), lab))
            for i, (_, r) in enumerate(rows.iterrows(), start=1)
        ]  # fmt: skip
        parts.append(_table(head, body))
    return "".join(parts)


def _confusion_tables(validation: Validation, lab: dict[str, str], lang: str) -> str:
    rule = validation.rule
    note = lab["confusion_note"].format(
        share=format_pct(rule.dead_share, lang, digits=0),
        fail=format_pct(1.0 - rule.location_probability, lang, digits=0),
        n=format_int(validation.min_samples, lang),
    )
    parts = [f'<p class="note">{note}</p>']
    if not len(validation.observed):
        return parts[0] + f"<p>{lab['no_samples']}</p>"
    for name, table in validation.confusion.items():
        title = (lab["confusion_all"] if name == "all"
                 else lab["confusion_operator"].format(operator=_esc(name)))  # fmt: skip
        head = [(f"{lab['predicted_status']} \\ {lab['observed_status']}", False)] + [
            (_class_word(o, lab), True) for o in OBSERVED_CLASSES
        ]
        body = [
            [_class_word(p, lab)] + [format_int(int(table.loc[p, o]), lang)
                                     for o in OBSERVED_CLASSES]
            for p in CLASSES
        ]  # fmt: skip
        parts.append(f"<h3>{title}</h3>" + _table(head, body))
    return "".join(parts)


def _residual_table(frame: pd.DataFrame, keys: list[tuple[str, str]], lab: dict[str, str],
                    lang: str) -> str:  # fmt: skip
    head = [(lab[label], False) for _, label in keys] + [
        (lab["n"], True),
        (lab["bias"], True),
        (lab["std"], True),
        (lab["rmse"], True),
    ]
    body = [
        [_esc(getattr(r, col)) for col, _ in keys]
        + [format_int(r.n, lang), format_float(r.bias_db, lang), format_float(r.std_db, lang),
           format_float(r.rmse_db, lang)]
        for r in frame.itertuples()
    ]  # fmt: skip
    return _table(head, body)


def _residual_plots(validation: Validation, lab: dict[str, str], lang: str) -> list[str]:
    """Per operator: histogram of the residuals and residual against distance, one PNG."""
    m = validation.measurements
    if not len(m):
        return []
    r = m["residual_db"].to_numpy(dtype=float)
    d = m["distance_km"].to_numpy(dtype=float)
    ok = np.isfinite(r) & np.isfinite(d)
    lo, hi = RESIDUAL_RANGE_DB
    edges = np.arange(lo, hi + RESIDUAL_BIN_DB / 2, RESIDUAL_BIN_DB)
    operators = m["operator"].fillna("").astype(str).to_numpy()
    techs = m["tech"].fillna("").astype(str).to_numpy()
    out = []
    for op in sorted(set(operators[ok])):
        mine = ok & (operators == op)
        name = op or "-"
        fig = Figure(figsize=PLOT_SIZE)
        ax_h, ax_s = fig.subplots(1, 2)
        for tech in sorted(set(techs[mine])):
            sel = mine & (techs == tech)
            rr = np.clip(r[sel], lo, hi - 1e-9)
            ax_h.hist(rr, bins=edges, histtype="step", lw=1.5, label=tech)
            keep = np.flatnonzero(sel)
            if len(keep) > SCATTER_MAX_POINTS:
                keep = keep[:: int(np.ceil(len(keep) / SCATTER_MAX_POINTS))]
            ax_s.plot(d[keep], np.clip(r[keep], lo, hi), ".", ms=2, alpha=0.5, label=tech)
        for ax in (ax_h, ax_s):
            ax.grid(alpha=0.3)
        ax_h.axvline(0.0, color="#222", lw=1)
        ax_s.axhline(0.0, color="#222", lw=1)
        ax_h.set_xlim(lo, hi)
        ax_s.set_ylim(lo, hi)
        ax_h.set_xlabel(lab["hist_x"])
        ax_h.set_ylabel(lab["hist_y"])
        ax_h.set_title(lab["hist_title"].format(operator=name), fontsize=10)
        ax_s.set_xlabel(lab["scatter_x"])
        ax_s.set_ylabel(lab["scatter_y"])
        ax_s.set_title(lab["scatter_title"].format(operator=name), fontsize=10)
        ax_h.yaxis.set_major_formatter(lambda v, _pos: format_int(v, lang))
        ax_h.legend(fontsize=8, loc="upper left")
        fig.set_dpi(FIG_DPI)
        out.append(_img(_png(fig), lab["hist_title"].format(operator=name), lab["plot_note"]))
    return out


def _villages_table(validation: Validation, lab: dict[str, str], lang: str) -> str:
    v = validation.villages
    has = (v["samples"] > 0) | (v["reported_status"] != "")
    rows = v[has].sort_values(["agreement", "village_id"])
    if not len(rows):
        return f"<p>{lab['none_listed']}</p>"
    head = [(lab["village"], False), (lab["commune"], False), (lab["predicted_status"], False),
            (lab["observed_status"], False), (lab["samples"], True),
            (lab["reported_status"], False), (lab["agreement"], False)]  # fmt: skip
    body = [
        (_esc(r["name"]), _esc(r.get("commune")), _class_word(r["predicted_status"], lab),
         _class_word(r["observed_status"], lab), format_int(r["samples"], lang),
         _class_word(r["reported_status"], lab),
         lab[r["agreement"]] if r["agreement"] in AGREEMENT else "–")
        for _, r in rows.iterrows()
    ]  # fmt: skip
    return _table(head, body)


def validation_html(validation: Validation, *, lang: str = "vi", version: str = "") -> str:
    """The page of :func:`write_validation_html` as a string."""
    lab = for_lang(VALIDATION, lang)
    m = validation.measurements
    counts = m["matched_by"].value_counts().to_dict() if len(m) else {}
    summary = lab["measurements_summary"].format(
        n=format_int(len(m), lang),
        no_service=format_int(int(m["no_service"].sum()) if len(m) else 0, lang),
        **{k: format_int(counts.get(k, 0), lang) for k in ("cell_id", "best_server", "none")},
    )
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{lang}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{lab['title']}</title><style>{_CSS}</style></head><body>",
        f"<h1>{lab['title']}</h1>",
        f'<p class="sub">{lab["subtitle"]}</p>',
        f'<p class="rule">{_esc(validation.rule.describe(lang))}</p>',
        f"<h2>{lab['hamlets']}</h2>",
        _hamlet_lists(validation, lab),
        f"<h2>{lab['confusion']}</h2>",
        _confusion_tables(validation, lab, lang),
        f"<h2>{lab['residuals']}</h2>",
        f"<p>{summary}</p>",
    ]
    if validation.rejects:
        rejected = lab["rejects"].format(n=format_int(len(validation.rejects), lang))
        parts.append(f'<p class="note">{rejected}</p>')
    if len(validation.residuals):
        parts += [
            f'<p class="note">{lab["residuals_note"]}</p>',
            _residual_table(
                validation.residuals, [("operator", "operator"), ("tech", "tech")], lab, lang
            ),  # fmt: skip
            f"<h3>{lab['residuals_tower']}</h3>",
            _residual_table(
                validation.residuals_by_tower,
                [("tower_id", "tower"), ("operator", "operator"), ("tech", "tech")],
                lab,
                lang,
            ),  # fmt: skip
            f"<h2>{lab['plots']}</h2>",
            *_residual_plots(validation, lab, lang),
        ]
    else:
        parts.append(f"<p>{lab['no_residuals']}</p>")
    parts += [
        f"<h2>{lab['villages_table']}</h2>",
        _villages_table(validation, lab, lang),
        f"<footer>{lab['footer'].format(version=_esc(version))}</footer>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def write_validation_html(
    validation: Validation, path: str | os.PathLike[str], *, lang: str = "vi", version: str = ""
) -> Path:
    """Write ``validation.html`` (see the module docstring); returns ``path``."""
    out = Path(path)
    out.write_text(validation_html(validation, lang=lang, version=version), encoding="utf-8")
    return out
