"""A run's warnings: one log line each (none with ``--quiet``), listed in summary.json.

Python warnings (``InputWarning`` from the readers, …) and lomsong's WARNING log lines (rows
rejected, a model applied outside its published range, …) go through the ``lomsong`` logger,
once each, and into ``summary.json``'s ``warnings`` with their count.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import pandas as pd
import pytest
from test_model_matrix import write_inputs, write_project

from lomsong.cli import main
from lomsong.coverage.engine import validity_notes, warn_model_validity
from lomsong.errors import InputWarning, ModelValidityWarning, capture_warnings

SWAPPED = "lat/lon swapped in row(s) 6; corrected"
REJECTED = "1 row(s) rejected"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    return write_inputs(tmp_path_factory.mktemp("warn"))


def _warnings(out: Path) -> list[dict]:
    return json.loads((out / "summary.json").read_text(encoding="utf-8"))["warnings"]


def _bad_towers(inputs: Path, folder: Path) -> Path:
    """The inputs with two more tower rows: one with lat/lon swapped (repaired, an
    InputWarning), one far outside the area (rejected, a log warning); fspl, so no model note."""
    folder.mkdir()
    for f in inputs.iterdir():
        if not f.name.endswith(".toml"):
            (folder / f.name).write_bytes(f.read_bytes())
    towers = pd.read_csv(folder / "towers.csv")
    # a new site 300 m off T2G's (the same point would be a duplicate row)
    swapped = towers.iloc[[0]].assign(tower_id="SWAP", site_id="SWAP", lat=towers["lat"][0] - 0.003)
    swapped[["lon", "lat"]] = swapped[["lat", "lon"]].to_numpy()
    far = towers.iloc[[0]].assign(tower_id="FAR", site_id="FAR", lat=95.0)
    pd.concat([towers, far, swapped]).to_csv(folder / "towers.csv", index=False)  # rows 5, 6
    return write_project(folder, "fspl", "open")


def test_a_5g_tower_under_hata_is_named_in_exactly_one_validity_warning(inputs, tmp_path):
    out = tmp_path / "out"
    assert main(["run", str(write_project(inputs, "hata", "open")), "--out", str(out),
                 "--quiet"]) == 0  # fmt: skip
    found = [w for w in _warnings(out) if w["category"] == "ModelValidityWarning"]
    # 30 m masts, 1.5 m handsets, a 2 km radius: frequency is the only reason, said once
    assert len(found) == 1, found
    (note,) = found
    assert note["count"] == 1
    assert "T5G" in note["message"] and "3500 MHz" in note["message"]
    assert "beyond COST-231's 2000 MHz" in note["message"]
    assert "T2G" not in note["message"]  # 900 MHz is Okumura-Hata's own range


def test_quiet_run_prints_no_warning_but_the_summary_lists_them(inputs, tmp_path, capfd):
    project = _bad_towers(inputs, tmp_path / "in")
    capfd.readouterr()
    assert main(["run", str(project), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    assert capfd.readouterr().err == ""
    listed = {(w["category"], w["message"].split(": ", 1)[-1]): w["count"]
              for w in _warnings(tmp_path / "out")}  # fmt: skip
    assert listed[("InputWarning", SWAPPED)] == 1
    assert listed[("log", REJECTED)] == 1


def test_without_quiet_each_warning_is_one_log_line(inputs, tmp_path, capfd):
    project = _bad_towers(inputs, tmp_path / "in")
    capfd.readouterr()
    assert main(["run", str(project), "--out", str(tmp_path / "out")]) == 0
    err = capfd.readouterr().err
    for message in (SWAPPED, REJECTED):
        assert len([line for line in err.splitlines() if message in line]) == 1, err
    # not Python's raw two-line format ("file.py:123: InputWarning: …" + the source line)
    assert "InputWarning" not in err and "warnings.warn(" not in err


@pytest.mark.filterwarnings("default::RuntimeWarning")  # shown, as outside the test suite
def test_capture_logs_each_warning_once_and_counts_repeats(caplog):
    caplog.set_level(logging.WARNING, logger="lomsong")
    with capture_warnings() as caught:
        for _ in range(3):
            warnings.warn("row 7 repaired", InputWarning, stacklevel=1)
        warnings.warn("odd value", RuntimeWarning, stacklevel=1)
        logging.getLogger("lomsong.layers").warning("%d row(s) rejected", 2)
    assert caught.records == [
        {"category": "InputWarning", "message": "row 7 repaired", "count": 3},
        {"category": "RuntimeWarning", "message": "odd value", "count": 1},
        {"category": "log", "message": "2 row(s) rejected", "count": 1},
    ]
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["row 7 repaired", "RuntimeWarning: odd value", "2 row(s) rejected"]


def test_capture_keeps_strict_filters_for_other_categories():
    # lomsong's own warnings are the run's to report; anything else follows the filters
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with capture_warnings() as caught, pytest.raises(RuntimeWarning):
            warnings.warn("repaired", InputWarning, stacklevel=1)
            warnings.warn("odd value", RuntimeWarning, stacklevel=1)
    assert [r["category"] for r in caught.records] == ["InputWarning"]


def _towers(freqs, heights=None) -> pd.DataFrame:
    n = len(freqs)
    return pd.DataFrame({"tower_id": [f"T{i + 1}" for i in range(n)], "freq_mhz": freqs,
                         "height_m": heights or [30.0] * n})  # fmt: skip


def test_validity_notes_name_the_towers_once_per_reason():
    towers = _towers([900.0, 1800.0, 2100.0, 3500.0, 3500.0], [30.0, 25.0, 30.0, 30.0, 20.0])
    notes = validity_notes(towers, "hata", rx_height_m=1.5, max_radius_km=30.0)
    assert len(notes) == 3  # frequency, mast height, distance
    freq, mast, dist = notes
    assert freq.startswith("Okumura-Hata is published for 150–1500 MHz")
    assert "4 towers (T2, T3, T4, T5) are above it: COST-231 Hata is used above 1500 MHz" in freq
    assert "3 towers at 2100, 3500 MHz (T3, T4, T5) are beyond COST-231's 2000 MHz" in freq
    assert "2 towers at 20, 25 m (T2, T5) are outside" in mast
    assert "5 towers (T1, T2, T3, T4, T5) are predicted beyond it (max_radius_km = 30)" in dist


def test_validity_notes_cost231_below_1500_mhz_and_quiet_models():
    notes = validity_notes(_towers([900.0, 1800.0]), "cost231", rx_height_m=1.5,
                           max_radius_km=10.0)  # fmt: skip
    assert notes == [
        "COST-231 Hata is published for 1500–2000 MHz; 1 tower at 900 MHz (T1) is outside: "
        "extrapolated"
    ]
    within = _towers([900.0, 1400.0])
    assert validity_notes(within, "hata", rx_height_m=1.5, max_radius_km=20.0) == []
    wild = _towers([3500.0], [10.0])
    for model in ("fspl", "itm"):  # no published range of this kind to leave
        assert validity_notes(wild, model, rx_height_m=0.5, max_radius_km=50.0) == []


def test_validity_warning_is_a_model_validity_warning_in_the_summary_list():
    with capture_warnings() as caught:
        warn_model_validity(_towers([3500.0]), "hata", rx_height_m=1.5, max_radius_km=5.0)
    assert [r["category"] for r in caught.records] == [ModelValidityWarning.__name__]
    assert "1 tower at 3500 MHz (T1) is beyond COST-231's 2000 MHz" in caught.records[0]["message"]
