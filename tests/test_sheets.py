"""Printable commune sheets (``lomsong.report.sheets``): which communes get a sheet, file names
safe on Windows, the village names and their reason and fix in the PDF's text (read back with
pypdf), long tables on further pages, the index, and a whole demo run writing them quietly."""

from __future__ import annotations

import contextlib
import datetime
import io
import re
import unicodedata
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import CRS, X0, Y0, make_towers, require_module
from shapely.geometry import Point, box

from lomsong.coverage.rule import CoverageRule
from lomsong.report.sheets import PAGE_MM, safe_filename, sheet_communes, write_sheets

pypdf = require_module("pypdf", "pypdf (dev extras) reads the sheets back")

#: A4 in PostScript points, and how far a PDF's MediaBox may round it (pt).
A4_PT = (PAGE_MM[0] / 25.4 * 72, PAGE_MM[1] / 25.4 * 72)
PAGE_TOL_PT = 0.5
DATE = datetime.date(2026, 3, 5)
#: A village name with HTML, quotes, a dollar pair (matplotlib math text) and a percent sign.
NASTY = '<b>Thôn & "Mới"</b> $x^2$ 100%'


def _text(path: Path) -> str:
    """All text of a PDF, NFC, whitespace collapsed (wrapped lines join with a space)."""
    reader = pypdf.PdfReader(path)
    raw = " ".join(page.extract_text() for page in reader.pages)
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", raw))


def _village(i: int, name: str, commune: str, district: str, status: str, **extra) -> dict:
    x = X0 + 1_000.0 * (i % 10)
    y = Y0 - 1_000.0 * (i // 10)
    hh = 100 + i
    row = {
        "village_id": f"V{i}", "name": name, "commune": commune, "district": district,
        "households": hh, "households_no_signal": hh if status == "no_signal" else 0,
        "households_weak": hh if status == "weak" else 0,
        "households_uncovered": 0 if status == "reliable" else hh, "status": status,
        "dead": status == "no_signal", "dark_reason": None, "best_tower": None,
        "mast_height_needed_m": np.nan, "covered_by_site": pd.NA, "dark_sentence": "",
        "geometry": box(x, y - 900.0, x + 900.0, y),
    }  # fmt: skip
    row.update(extra)
    return row


@pytest.fixture
def world() -> dict:
    rows = [
        _village(0, "Làng Rêu", "Ba Bích", "Ba Tơ", "no_signal", dark_reason="terrain",
                 best_tower="T1", covered_by_site=2,
                 dark_sentence="Làng Rêu cách trạm T1 5,5 km; tín hiệu thiếu 22 dB."),
        _village(1, "Đắk Ơ", "Ba Bích", "Ba Tơ", "weak", dark_reason="distance",
                 best_tower="T1", mast_height_needed_m=45.0),
        _village(2, "Thôn Hạ", "Ba Bích", "Ba Tơ", "reliable"),
        _village(3, NASTY, 'A<B>:C?', 'Sơn "Tây"/Hà', "no_signal", dark_reason="sea"),
        _village(4, "Xóm Mới", "Nghĩa Hà", "Tư Nghĩa", "reliable"),
    ]  # fmt: skip
    villages = gpd.GeoDataFrame(rows, geometry="geometry", crs=CRS)
    villages["covered_by_site"] = villages["covered_by_site"].astype("Int64")
    towers = make_towers([(X0 + 500.0, Y0 - 3_000.0)])
    ranking = gpd.GeoDataFrame(
        {"rank": [1, 2], "site_id": ["C1", "C2"]},
        geometry=[Point(X0 + 8_000.0, Y0 - 500.0), Point(X0 + 1_500.0, Y0 - 1_500.0)], crs=CRS,
    )  # fmt: skip
    rule = CoverageRule.for_network(towers=towers, environment="suburban")
    summary = {"model": {"name": "hata", "environment": "suburban"}, "lomsong_version": "9.9"}
    return {"villages": villages, "towers": towers, "ranking": ranking, "rule": rule,
            "summary": summary}  # fmt: skip


def _write(world: dict, folder: Path, **kw) -> list[Path]:
    return write_sheets(folder, villages=world["villages"], rule=world["rule"],
                        summary=world["summary"], towers=world["towers"],
                        ranking=world["ranking"], date=DATE, **kw)  # fmt: skip


# -- names --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("Ba Tơ", "Ba Tơ"),  # Vietnamese letters kept
        (unicodedata.normalize("NFD", "Đắk Tô"), "Đắk Tô"),  # composed (NFC)
        ("A<B>:C?", "A_B__C_"),
        ('Sơn "Tây"/Hà', "Sơn _Tây__Hà"),
        ("a\\b|c*d\te", "a_b_c_d_e"),
        ("  Xã Mới.. ", "Xã Mới"),  # Windows drops trailing dots and spaces
        ("CON", "CON_"),
        ("nul.pdf", "nul.pdf_"),
        ("COM1", "COM1_"),
        ("Console", "Console"),  # only the device names themselves are reserved
        ("", "_"),
        ("...", "_"),
    ],
)
def test_safe_filename(name: str, safe: str) -> None:
    assert safe_filename(name) == safe


def test_safe_filename_is_short_and_never_illegal() -> None:
    name = safe_filename("Thôn " * 100 + '<>:"/\\|?*')
    assert len(name) <= 80
    assert not set('<>:"/\\|?*') & set(name)


def test_sheet_communes_only_those_with_villages_to_list(world: dict) -> None:
    sheets = sheet_communes(world["villages"])
    assert [(s.district, s.commune) for s in sheets] == [("Ba Tơ", "Ba Bích"),
                                                         ('Sơn "Tây"/Hà', "A<B>:C?")]  # fmt: skip
    ba_bich = sheets[0]
    # no signal first, then weak; the reliable village is not listed
    assert list(ba_bich.listed["name"]) == ["Làng Rêu", "Đắk Ơ"]
    assert ba_bich.counts["dead_villages"] == 1 and ba_bich.counts["villages_weak"] == 1
    assert ba_bich.counts["households"] == 100 + 101 + 102
    assert ba_bich.file == "Ba Tơ/Ba Bích.pdf"
    assert sheets[1].file == "Sơn _Tây__Hà/A_B__C_.pdf"


def test_sheet_communes_names_that_collide_on_windows_get_numbers(world: dict) -> None:
    v = world["villages"].copy()
    v.loc[2, ["commune", "status"]] = ["BA BÍCH", "no_signal"]  # same file, ignoring case
    files = [s.file for s in sheet_communes(v)]
    assert files[:2] == ["Ba Tơ/BA BÍCH.pdf", "Ba Tơ/Ba Bích (2).pdf"]


# -- the PDFs -----------------------------------------------------------------------------------
def test_sheets_hold_their_villages_reasons_and_fixes(world: dict, tmp_path: Path) -> None:
    calls = []
    files = _write(world, tmp_path, progress=lambda done, total: calls.append((done, total)))
    rel = sorted(str(p.relative_to(tmp_path)) for p in files)
    assert rel == sorted(["Ba Tơ/Ba Bích.pdf", "Sơn _Tây__Hà/A_B__C_.pdf", "index.pdf"])
    assert calls == [(1, 3), (2, 3), (3, 3)]  # each commune, then the index

    ba_bich = _text(tmp_path / "Ba Tơ" / "Ba Bích.pdf")
    for expected in ("Phiếu lõm sóng di động cấp xã", "Xã: Ba Bích", "Huyện: Ba Tơ",
                     "Làng Rêu", "Đắk Ơ", "Lõm sóng", "Sóng yếu",
                     "Địa hình che chắn", "Vị trí trạm đề xuất số 2",  # reason and fix, village 1
                     "Quá xa trạm", "Nâng anten trạm T1 lên 45 m",  # reason and fix, village 2
                     "Làng Rêu cách trạm T1 5,5 km; tín hiệu thiếu 22 dB.",  # its sentence
                     "Ngày lập: 05/03/2026", "Mô hình truyền sóng: hata (suburban)",
                     world["rule"].describe("vi"), "Trang 1/1"):  # fmt: skip
        assert expected in ba_bich, expected
    assert NASTY not in ba_bich  # another commune's village
    other = _text(tmp_path / "Sơn _Tây__Hà" / "A_B__C_.pdf")
    for expected in (NASTY, 'Xã: A<B>:C?', 'Huyện: Sơn "Tây"/Hà', "Cách trạm qua biển",
                     "Chưa có giải pháp"):  # fmt: skip
        assert expected in other, expected
    assert "Làng Rêu" not in other

    index = _text(tmp_path / "index.pdf")
    for expected in ("Ba Bích", "Ba Tơ/Ba Bích.pdf", "A<B>:C?", "Sơn _Tây__Hà/A_B__C_.pdf",
                     "2 xã có thôn/bản lõm sóng hoặc sóng yếu", "1 xã khác"):  # fmt: skip
        assert expected in index, expected
    assert "Nghĩa Hà" not in index  # every village reliable: no sheet


def test_sheets_are_a4_with_embedded_truetype_text(world: dict, tmp_path: Path) -> None:
    for path in _write(world, tmp_path):
        reader = pypdf.PdfReader(path)
        for page in reader.pages:
            box_ = page.mediabox
            assert float(box_.width) == pytest.approx(A4_PT[0], abs=PAGE_TOL_PT)
            assert float(box_.height) == pytest.approx(A4_PT[1], abs=PAGE_TOL_PT)
            for font in page["/Resources"]["/Font"].values():
                font = font.get_object()
                # pdf.fonttype 42: Type 0 fonts over TrueType glyphs, DejaVu Sans, with the
                # ToUnicode map that makes the text searchable
                assert font["/Subtype"] == "/Type0"
                assert "DejaVuSans" in font["/BaseFont"]
                assert "/ToUnicode" in font


def test_long_table_continues_on_further_pages(world: dict, tmp_path: Path) -> None:
    names = [f"Thôn Đồi Số {i:02d}" for i in range(60)]
    rows = [_village(i, n, "Ba Bích", "Ba Tơ", "no_signal", dark_reason="terrain",
                     dark_sentence=f"{n} bị núi cao che chắn về phía đông bắc; tín hiệu thiếu "
                                   "30 dB so với ngưỡng.")
            for i, n in enumerate(names)]  # fmt: skip
    long = dict(world, villages=gpd.GeoDataFrame(rows, geometry="geometry", crs=CRS))
    files = _write(long, tmp_path)
    sheet = files[0]
    reader = pypdf.PdfReader(sheet)
    pages = len(reader.pages)
    assert pages >= 3  # 60 rows of two or three lines: more than two pages
    text = _text(sheet)
    for name in names:  # every village, on one page or another
        assert name in text, name
    assert f"Trang {pages}/{pages}" in text and "(tiếp theo)" in text
    # the index gives the sheet's page count
    index = _text(files[-1])
    assert re.search(rf"Ba Tơ/Ba Bích\.pdf {pages}\b", index), index


def test_sheets_in_english(world: dict, tmp_path: Path) -> None:
    _write(world, tmp_path, lang="en")
    text = _text(tmp_path / "Ba Tơ" / "Ba Bích.pdf")
    for expected in ("Commune: Ba Bích", "No signal", "Weak signal", "What would fix it",
                     "Blocked by terrain", "Proposed site no. 2", "Date: 2026-03-05",
                     world["rule"].describe("en"), "Page 1 of 1"):  # fmt: skip
        assert expected in text, expected


def test_no_commune_to_list_writes_an_index_only(world: dict, tmp_path: Path) -> None:
    lit = dict(world, villages=world["villages"].assign(status="reliable"))
    files = _write(lit, tmp_path)
    assert files == [tmp_path / "index.pdf"]
    assert "Không có xã nào có thôn/bản lõm sóng hoặc sóng yếu." in _text(files[0])


def test_geographic_villages_are_refused(world: dict, tmp_path: Path) -> None:
    lonlat = dict(world, villages=world["villages"].to_crs(4326))
    with pytest.raises(ValueError, match="projected"):
        _write(lonlat, tmp_path)


# -- a whole run ----------------------------------------------------------------------------
def test_a_rerun_copies_unchanged_sheets_and_redraws_changed_ones(
    world: dict, tmp_path: Path, caplog
) -> None:
    """A sheet carries the digest of what it draws (PDF Keywords): a rerun over the previous
    sheets copies every unchanged commune byte for byte; a renamed village redraws its
    commune's sheet only (its new name in the text), a proposed site moved into a commune's map
    redraws that one, another date every sheet; the index is always drawn."""
    first = _write(world, tmp_path / "a")
    sheets = {p.name: p for p in first if p.name != "index.pdf"}
    assert len(sheets) == 2
    with caplog.at_level("INFO", logger="lomsong.report.sheets"):
        again = _write(world, tmp_path / "b", previous=tmp_path / "a")
    assert "2 unchanged" in caplog.text
    for a, b in zip(first[:-1], again[:-1], strict=True):
        assert a.read_bytes() == b.read_bytes()
    assert "Ba Bích" in _text(again[-1])  # the index, drawn again, lists the copied sheet
    # a village of Ba Bích renamed: that sheet is drawn again, the other copied
    renamed = {**world, "villages": world["villages"].copy()}
    renamed["villages"].loc[1, "name"] = "Đắk Ơ Mới"
    caplog.clear()
    with caplog.at_level("INFO", logger="lomsong.report.sheets"):
        third = _write(renamed, tmp_path / "c", previous=tmp_path / "a")
    assert "1 unchanged" in caplog.text
    ba_bich = next(p for p in third if p.name == "Ba Bích.pdf")
    assert "Đắk Ơ Mới" in _text(ba_bich)
    assert ba_bich.read_bytes() != sheets["Ba Bích.pdf"].read_bytes()
    # proposed site 1 moved beside Ba Bích's villages: on its map now
    moved = {**world, "ranking": world["ranking"].copy()}
    moved["ranking"].loc[0, "geometry"] = Point(X0 + 1_200.0, Y0 - 400.0)
    caplog.clear()
    with caplog.at_level("INFO", logger="lomsong.report.sheets"):
        _write(moved, tmp_path / "d", previous=tmp_path / "a")
    assert "1 unchanged" in caplog.text
    # another day: every footer changes
    caplog.clear()
    with caplog.at_level("INFO", logger="lomsong.report.sheets"):
        write_sheets(tmp_path / "e", villages=world["villages"], rule=world["rule"],
                     summary=world["summary"], towers=world["towers"], ranking=world["ranking"],
                     date=DATE + datetime.timedelta(days=1),
                     previous=tmp_path / "a")  # fmt: skip
    assert "0 unchanged" in caplog.text


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> dict:
    """``lomsong demo --reduced --quiet``, recording the progress bars the CLI was given."""
    import lomsong.cli as cli

    out = tmp_path_factory.mktemp("demo") / "run"
    bars: list[str] = []
    calls: dict[str, int] = {}
    factory = cli._progress_factory

    def recording(progress):
        inner = factory(progress)

        def make(description: str, total: int):
            bars.append(description)
            advance = inner(description, total)

            def count(done: int, total_: int) -> None:
                calls[description] = calls.get(description, 0) + 1
                advance(done, total_)

            return count

        return make

    stdout, stderr = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(stdout), \
            contextlib.redirect_stderr(stderr):  # fmt: skip
        mp.setattr(cli, "_progress_factory", recording)
        code = cli.main(["demo", "--reduced", "--quiet", "--out", str(out)])
    return {"code": code, "out": out, "stdout": stdout.getvalue(), "stderr": stderr.getvalue(),
            "bars": bars, "calls": calls}  # fmt: skip


def test_demo_quiet_prints_nothing_but_reports_progress(demo_run: dict) -> None:
    assert demo_run["code"] == 0
    assert demo_run["stdout"] == "" and demo_run["stderr"] == ""
    # the long steps were given a progress bar (hidden by --quiet) and advanced it
    for bar in ("Backhaul line of sight", "Commune sheets"):
        assert bar in demo_run["bars"], demo_run["bars"]
        assert demo_run["calls"].get(bar, 0) >= 1, bar


def test_demo_sheets_name_their_dead_villages(demo_run: dict) -> None:
    out = demo_run["out"]
    villages = pd.read_csv(out / "villages.csv")
    listed = villages[villages["status"].isin(["no_signal", "weak"])]
    communes = listed.groupby(["district", "commune"])
    assert len(communes) >= 2  # the reduced demo's dark valley and its island
    written = sorted(p.relative_to(out / "sheets").as_posix()
                     for p in (out / "sheets").rglob("*.pdf"))  # fmt: skip
    expected = sorted(f"{safe_filename(d)}/{safe_filename(c)}.pdf" for d, c in communes.groups)
    assert written == sorted([*expected, "index.pdf"])
    index = _text(out / "sheets" / "index.pdf")
    for (district, commune), group in communes:
        text = _text(out / "sheets" / safe_filename(district) / f"{safe_filename(commune)}.pdf")
        assert f"Xã: {commune} · Huyện: {district}" in text
        for name in group.loc[group["status"] == "no_signal", "name"]:
            assert name in text, (commune, name)
        assert f"{safe_filename(district)}/{safe_filename(commune)}.pdf" in index
    # the demo's island hamlet, dark across the sea, is on its commune's sheet
    island = villages[villages["name"] == "Đảo Bé"].iloc[0]
    assert island["status"] == "no_signal"
    assert "Đảo Bé" in _text(out / "sheets" / island["district"] / f"{island['commune']}.pdf")
