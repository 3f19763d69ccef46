"""lomsong.text, the one home of every Vietnamese/English string: complete tables, matching
placeholders, one wording per shared term, number formats, and no text table elsewhere."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest

from lomsong import defaults, text
from lomsong.text import (
    COMPASS,
    MAP,
    PLOT,
    QGIS,
    REPORT,
    SENTENCES,
    SHEET,
    TERMS,
    VALIDATION,
    compass,
    for_lang,
    format_dbm,
    format_float,
    format_int,
    format_km,
    format_pct,
)

PACKAGE = Path(text.__file__).resolve().parent
TEMPLATES = {
    "TERMS": TERMS,
    "MAP": MAP,
    "REPORT": REPORT,
    "SENTENCES": SENTENCES,
    "PLOT": PLOT,
    "SHEET": SHEET,
    "QGIS": QGIS,
    "VALIDATION": VALIDATION,
}
TABLES = {**TEMPLATES, "COMPASS": COMPASS}


def _placeholders(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


# -- tables ---------------------------------------------------------------------------------
def test_languages_are_the_defaults() -> None:
    assert text.LANGS is defaults.LANGS
    for name, table in TABLES.items():
        assert tuple(sorted(table)) == tuple(sorted(defaults.LANGS)), name


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_language_has_the_same_keys(name: str) -> None:
    table = TEMPLATES[name]
    first, *others = defaults.LANGS
    for lang in others:
        assert set(table[lang]) == set(table[first]), (name, lang)
    for lang in defaults.LANGS:
        assert all(isinstance(v, str) and v.strip() for v in table[lang].values()), (name, lang)


def test_compass_has_eight_directions() -> None:
    for lang in defaults.LANGS:
        assert len(COMPASS[lang]) == 8 and len(set(COMPASS[lang])) == 8


@pytest.mark.parametrize("name", TEMPLATES)
def test_placeholders_match_across_languages(name: str) -> None:
    table = TEMPLATES[name]
    first, *others = defaults.LANGS
    for key, template in table[first].items():
        for lang in others:
            assert _placeholders(table[lang][key]) == _placeholders(template), (name, key, lang)


def test_sentences_fill_without_leftovers() -> None:
    """Every placeholder is one that ``dark_sentence`` supplies."""
    supplied = ("name", "t", "d", "s", "h", "od", "dir", "sea", "off", "r", "m", "k")
    values = dict.fromkeys(supplied, "X")
    for lang in defaults.LANGS:
        for key, template in SENTENCES[lang].items():
            filled = template.format(**values)
            assert "{" not in filled and "}" not in filled, (lang, key)


# -- one wording per concept ----------------------------------------------------------------
def test_shared_terms_are_used_as_defined() -> None:
    """A table key named like a shared term shows that term, word for word."""
    for lang in defaults.LANGS:
        for name in ("MAP", "REPORT", "SHEET", "QGIS", "VALIDATION"):
            table = TEMPLATES[name][lang]
            for key in set(table) & set(TERMS[lang]):
                assert table[key] == TERMS[lang][key], (name, lang, key)


def test_map_and_report_agree_on_every_common_label() -> None:
    common = (set(MAP["vi"]) & set(REPORT["vi"])) - {"title"}  # two different documents
    assert {"hops", "households", "households_uncovered", "site", "rank", "backhaul"} <= common
    for lang in defaults.LANGS:
        for key in common:
            assert MAP[lang][key] == REPORT[lang][key], (lang, key)


def test_hop_is_one_word_everywhere() -> None:
    assert MAP["vi"]["hops"] == REPORT["vi"]["hops"] == TERMS["vi"]["hops"] == "bước nhảy"
    assert MAP["en"]["hops"] == REPORT["en"]["hops"] == "hops"


def test_terms_reused_in_phrases() -> None:
    for lang in defaults.LANGS:
        t = {k: v.lower() for k, v in TERMS[lang].items()}
        # the map's summary and the report's key figures name the same things the same way
        assert MAP[lang]["sum_households"] == REPORT[lang]["total_households"]
        assert MAP[lang]["sum_uncovered"] == REPORT[lang]["households_uncovered"]
        assert MAP[lang]["sum_dead_villages"] == REPORT[lang]["dead_villages"]
        assert MAP[lang]["layer_towers"] == REPORT[lang]["towers"]
        assert MAP[lang]["layer_ranking"] == REPORT[lang]["sites_table"]
        assert MAP[lang]["layer_zones"] == TERMS[lang]["dead_zones"]
        assert MAP[lang]["zone"] == TERMS[lang]["dead_zone"]
        # proposed sites, in labels and in the sentences
        for where in (MAP[lang]["sum_reached"], MAP[lang]["legend_rank"],
                      REPORT[lang]["reached"], REPORT[lang]["map_title"],
                      REPORT[lang]["map_note"], REPORT[lang]["subtitle"],
                      SENTENCES[lang]["site"], SENTENCES[lang]["site_no"]):  # fmt: skip
            assert t["proposed_site"] in where.lower(), (lang, where)
        # the plot's words are the terms'
        assert PLOT[lang]["tower"] == t["tower"]
        assert PLOT[lang]["village"] == t["village"]
    # the Vietnamese sentences call a village "thôn/bản", as the map and the report do
    assert all("làng" not in s for s in SENTENCES["vi"].values())
    assert "thôn/bản" in SENTENCES["vi"]["site"] and "thôn/bản" in SENTENCES["vi"]["terrain"]


# -- the accessor ---------------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["fr", "VI", "", None, ["vi"]])
def test_unknown_language_names_the_allowed_ones(lang) -> None:
    with pytest.raises(ValueError, match=r"unknown language .*allowed: 'vi', 'en'"):
        for_lang(MAP, lang)


def test_for_lang_picks_the_table_entry() -> None:
    for name, table in TABLES.items():
        for lang in defaults.LANGS:
            assert for_lang(table, lang) is table[lang], name


def test_formats_refuse_an_unknown_language() -> None:
    for call in (lambda: format_int(1, "fr"), lambda: format_pct(0.5, "fr"),
                 lambda: compass(0.0, "fr")):  # fmt: skip
        with pytest.raises(ValueError, match="'vi', 'en'"):
            call()


# -- numbers --------------------------------------------------------------------------------
def test_format_int() -> None:
    assert format_int(1234567, "vi") == "1.234.567"
    assert format_int(1234567, "en") == "1,234,567"
    assert format_int(1234.6, "vi") == "1.235"
    assert format_int(None, "vi") == "–" and format_int(float("nan"), "en") == "–"


def test_format_float_and_pct() -> None:
    assert format_float(1234.56, "vi") == "1.234,6"
    assert format_float(1234.56, "en", digits=2) == "1,234.56"
    assert format_pct(0.617, "vi") == "61,7 %"
    assert format_pct(0.617, "en") == "61.7%"
    assert format_pct(None, "en") == "–"


def test_format_km_and_dbm() -> None:
    assert format_km(8.46, "vi") == "8,5" and format_km(8.46, "en") == "8.5"
    assert format_km(14.2, "en") == "14" and format_km(1234.0, "vi") == "1.234"
    assert format_dbm(-100.0, "vi") == "−100" and format_dbm(-97.6, "en") == "−98"


def test_compass() -> None:
    assert compass(95.0, "en") == "east" and compass(95.0, "vi") == "đông"
    assert compass(-30.0, "en") == "north-west" and compass(337.6, "vi") == "bắc"
    assert compass(180.0, "en") == "south"


# -- architecture ---------------------------------------------------------------------------
def _is_language_table(node: ast.AST) -> bool:
    """A dict literal ``{"vi": …, "en": …}`` or a call ``dict(vi=…, en=…)``."""
    if isinstance(node, ast.Dict):
        keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
        return {"vi", "en"} <= keys
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
        return {"vi", "en"} <= {k.arg for k in node.keywords}
    return False


def test_no_language_table_outside_text() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "text.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found += [f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
                  for node in ast.walk(tree) if _is_language_table(node)]  # fmt: skip
    assert not found, "Vietnamese/English text belongs in lomsong/text.py: " + ", ".join(found)


def test_text_imports_only_defaults_from_lomsong() -> None:
    tree = ast.parse((PACKAGE / "text.py").read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            imported.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
    ours = {m for m in imported if m.startswith(("lomsong", "."))}
    assert ours == {"lomsong.defaults"}
