"""Reported hamlets: reading a commune office's list and matching its names to the villages."""

from __future__ import annotations

import pandas as pd
import pytest

from lomsong.calibration.reports import match_reported, normalise_name, read_reported
from lomsong.errors import InputError

# A village list like the demo's: an island commune (An Bình) and a mainland one (Ba Bích),
# each with its own "Thôn 1".
VILLAGES = pd.DataFrame(
    {
        "village_id": ["V1", "V2", "V3", "V4", "V5", "V6", "V7"],
        "name": ["Thôn Tây", "Làng Mâm", "Đảo Bé", "Nước Lăng", "Tổ dân phố 2", "Thôn 1", "Thôn 1"],
        "commune": ["An Bình", "Ba Bích", "An Bình", "Ba Bích", "Ba Tơ", "Ba Bích", "An Bình"],
        "district": ["Lý Sơn", "Ba Tơ", "Lý Sơn", "Ba Tơ", "Ba Tơ", "Ba Tơ", "Lý Sơn"],
    }
)

# (name as the commune writes it, commune, expected match, expected village_id), by hand:
REPORTED = [
    ("Tây", "", "exact", "V1"),  # "thôn" dropped on the village side: both "tay"
    ("THÔN TÂY", "", "exact", "V1"),  # case
    ("lang mam", "", "exact", "V2"),  # no diacritics, "lang" prefix: "mam"
    ("Làng  Mâm.", "", "exact", "V2"),  # double space and punctuation
    ("thon Dao Be", "", "exact", "V3"),  # "Đ" → "d" and a prefix the village lacks
    ("Nuoc Lang", "", "exact", "V4"),  # misspelled only by its diacritics
    ("Nước Lăg", "", "fuzzy", "V4"),  # "nuoc lag" vs "nuoc lang": 2·8/17 = 0.94 ≥ 0.85
    ("Xóm Chợ Mới", "", "none", None),  # "cho moi": not a village
    ("Thôn 1", "Ba Bích", "exact", "V6"),  # commune given: resolved
    ("thôn 1", "xã An Bình", "exact", "V7"),  # commune with its "xã" prefix
    ("Thôn 1", "", "ambiguous", None),  # two "Thôn 1" and no commune
    ("TDP 2", "", "exact", "V5"),  # "tdp" is "tổ dân phố"
]


def test_normalise_name_strips_diacritics_case_punctuation_and_prefix() -> None:
    assert normalise_name("Làng Mâm") == "mam"
    assert normalise_name("  thon   Dao-Be ") == "dao be"
    assert normalise_name("Đảo Bé") == normalise_name("dao be") == "dao be"
    assert normalise_name("Tổ dân phố 2") == normalise_name("TDP 2") == "2"
    assert normalise_name("Buôn Đôn") == "don"
    assert normalise_name("Ấp Bắc") == "bac"
    assert normalise_name("Nước Lăng") == "nuoc lang"  # "lang" only as a leading word


def test_normalise_name_never_empty() -> None:
    assert normalise_name("Thôn") == "thon"
    assert normalise_name("Tổ dân phố") == "to dan pho"
    assert normalise_name(None) == "" and normalise_name(float("nan")) == ""


def test_match_reported_by_hand() -> None:
    reported = pd.DataFrame({"name": [r[0] for r in REPORTED], "commune": [r[1] for r in REPORTED]})
    out = match_reported(reported, VILLAGES)
    assert len(out) == len(REPORTED)  # no row dropped
    assert out["name"].tolist() == [r[0] for r in REPORTED]  # in order
    assert out["match"].tolist() == [r[2] for r in REPORTED]
    assert out["village_id"].tolist() == [r[3] for r in REPORTED]
    assert out.loc[6, "matched_name"] == "Nước Lăng"
    assert out.loc[7, "matched_name"] is None
    assert out.loc[10, "candidates"] == "V6, V7"
    # the unmatched rows are there to print
    assert out.loc[out["match"] == "none", "name"].tolist() == ["Xóm Chợ Mới"]


def test_match_reported_unknown_commune_is_ignored_and_restriction_holds() -> None:
    reported = pd.DataFrame({"name": ["Thôn 1", "Làng Mâm"], "commune": ["Xã Không Có", "An Bình"]})
    out = match_reported(reported, VILLAGES)
    # a commune no village has does not restrict: both "Thôn 1" remain
    assert out.loc[0, "match"] == "ambiguous"
    # a known commune does: Làng Mâm is in Ba Bích, not An Bình
    assert out.loc[1, "match"] == "none" and out.loc[1, "village_id"] is None


def test_fuzzy_tie_is_ambiguous() -> None:
    villages = pd.DataFrame(
        {"village_id": ["A", "B"], "name": ["Khe Nuoc A", "Khe Nuoc B"], "commune": ["X", "X"]}
    )
    # "khe nuoc c" vs either: 2·9/20 = 0.90, a tie
    out = match_reported(pd.DataFrame({"name": ["Khe Nuoc C", "Khe Nuoc Bb"]}), villages)
    assert out["match"].tolist() == ["ambiguous", "fuzzy"]
    assert out["village_id"].tolist() == [None, "B"]
    assert out.loc[0, "candidates"] == "A, B"


def test_read_reported_vietnamese_status_words(tmp_path) -> None:
    words = {
        "Lõm sóng": "no_signal", "lom song": "no_signal", "KHÔNG CÓ SÓNG": "no_signal",
        "mất sóng": "no_signal", "Sóng yếu": "weak", "song yeu": "weak", "yếu": "weak",
        "có sóng": "ok", "Co Song": "ok", "tốt": "ok", "OK": "ok", "no_signal": "no_signal",
    }  # fmt: skip
    path = tmp_path / "reported.csv"
    pd.DataFrame({"Name": [f"Thôn {i}" for i in range(len(words))], "Status": list(words)}).to_csv(
        path, index=False
    )
    out = read_reported(path)
    assert out.columns.tolist() == ["row", "name", "status", "commune", "district"]
    assert out["status"].tolist() == list(words.values())
    assert out["row"].tolist() == list(range(1, len(words) + 1))
    assert (out["commune"] == "").all() and (out["district"] == "").all()


def test_read_reported_mapped_columns_from_frame() -> None:
    frame = pd.DataFrame(
        {"ten_thon": [" Làng Mâm "], "tinh_trang": ["lõm sóng"], "xa": ["Ba Bích"]}
    )
    out = read_reported(
        frame, columns={"name": "ten_thon", "status": "tinh_trang", "commune": "xa"}
    )
    assert out.loc[0, ["name", "status", "commune", "district"]].tolist() == [
        "Làng Mâm", "no_signal", "Ba Bích", "",
    ]  # fmt: skip


def test_read_reported_lists_every_problem(tmp_path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("name,status\nThôn Tây,lõm sóng\n,yếu\nLàng Mâm,sóng lạ\nĐảo Bé,\n", "utf-8")
    with pytest.raises(InputError) as err:
        read_reported(path)
    problems = err.value.problems
    assert [(p.row, p.reason.split(";")[0]) for p in problems] == [
        (2, "name is empty"),
        (3, "status 'sóng lạ' is not known"),
        (4, "status is empty"),
    ]
    assert "accepted words" in problems[1].reason and '"lom song"' in problems[1].reason
    assert str(path) in str(err.value)


def test_read_reported_missing_columns_named() -> None:
    with pytest.raises(InputError) as err:
        read_reported(pd.DataFrame({"ten": ["Thôn Tây"]}))
    reasons = [p.reason for p in err.value.problems]
    assert reasons[0] == "missing column 'name'"
    assert reasons[1].startswith("missing column 'status'") and "ten" in reasons[1]


def test_read_reported_xlsx(tmp_path) -> None:  # openpyxl is a dependency of lomsong
    path = tmp_path / "reported.xlsx"
    pd.DataFrame(
        {
            "name": ["lang mam", "Thôn 1"],
            "status": ["Sóng yếu", "có sóng"],
            "commune": ["", "Ba Bích"],
        }
    ).to_excel(path, index=False)
    out = read_reported(path)
    assert out["status"].tolist() == ["weak", "ok"]
    assert out["commune"].tolist() == ["", "Ba Bích"]  # the empty cell comes back as ""
    matched = match_reported(out, VILLAGES)
    assert matched["village_id"].tolist() == ["V2", "V6"]
