"""`lomsong validate` and `[inputs] evidence` end to end on the reduced demo province (predicted
with Hata, which takes a second, instead of the demo's ITM)."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest

from lomsong.calibration.validate import CSV_COLUMNS
from lomsong.cli import main
from lomsong.config import load_config
from lomsong.demo import write_demo
from lomsong.pipeline import fingerprint, run
from lomsong.report.validation import OUTPUT_FILES
from lomsong.text import VALIDATION


def _walk_test(inputs: Path, path: Path) -> Path:
    """A generic walk-test log: six household points of each village, Viettel 3G, the cell id
    of T004-A on every row, every third row without service."""
    hh = gpd.read_file(inputs / "households.gpkg").groupby("village_id").head(6)
    ll = hh.geometry.to_crs(4326)
    n = len(hh)
    table = pd.DataFrame({
        "lat": ll.y.round(7), "lon": ll.x.round(7),
        "level_dbm": np.where(np.arange(n) % 3 == 0, "", "-91"),
        "tech": "UMTS", "operator": "452-04", "cell_id": "T004-A",
        "time": "2026-11-30T02:15:00Z",
    })  # fmt: skip
    table.to_csv(path, index=False)
    return path


def _report(path: Path) -> Path:
    path.write_text("name,status\nlang lay,lõm sóng\nBa Bong,lõm sóng\nThôn Chợ Mới,lõm sóng\n",
                    encoding="utf-8")  # fmt: skip
    return path


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("validate")
    toml = write_demo(base / "inputs", reduced=True)
    toml.write_text(toml.read_text(encoding="utf-8").replace('name = "itm"', 'name = "hata"'),
                    encoding="utf-8")  # fmt: skip
    _walk_test(base / "inputs", base / "walk.csv")
    _report(base / "thon.csv")
    return toml


def _check_outputs(out: Path, n_villages: int) -> dict:
    for name in OUTPUT_FILES:
        assert (out / name).stat().st_size > 0, name
    table = pd.read_csv(out / "validation.csv", keep_default_na=False)
    assert list(table.columns) == CSV_COLUMNS and len(table) == n_villages
    doc = json.loads((out / "validation.json").read_text(encoding="utf-8"))
    assert set(doc["residuals"]) == {"Viettel/3G"}
    assert set(doc["residuals"]["Viettel/3G"]) == {"bias_db", "std_db", "rmse_db", "n"}
    assert doc["hamlets"]["unmatched"] == ["Thôn Chợ Mới"]
    # Làng Lay is predicted dark (agreed), Ba Bong reliable (missed): tests/test_validate.py
    assert (doc["hamlets"]["agreed"], doc["hamlets"]["missed"]) == (["lang lay"], ["Ba Bong"])
    assert {"all", "Viettel"} <= set(doc["confusion"])
    layers = {name for name, _ in pyogrio.list_layers(out / "evidence.gpkg")}
    assert layers == {"measurements", "reported_hamlets", "villages"}
    return doc


def test_validate_writes_the_four_files(project: Path, tmp_path: Path, capsys) -> None:
    base = project.parent.parent
    out = tmp_path / "check"
    code = main(["validate", str(project), str(base / "walk.csv"), str(base / "thon.csv"),
                 "--out", str(out), "--quiet"])  # fmt: skip
    assert code == 0
    n = len(gpd.read_file(project.parent / "villages.gpkg"))
    doc = _check_outputs(out, n)
    # every walk-test row matched by its cell id (T004-A is listed), a third without service
    rows = len(pd.read_csv(base / "walk.csv"))
    assert doc["measurements"]["n"] == rows
    assert doc["measurements"]["matched_by"]["cell_id"] == rows
    assert doc["measurements"]["no_service"] == len(range(0, rows, 3))
    assert "Traceback" not in capsys.readouterr().err


def test_validate_bad_evidence_exits_2_naming_the_file(project: Path, tmp_path: Path,
                                                        capsys) -> None:  # fmt: skip
    bad = tmp_path / "nhat_ky.csv"
    bad.write_text("vi_do,kinh_do,muc_thu\n14.8,108.9,-90\n", encoding="utf-8")
    code = main(["validate", str(project), str(bad), "--out", str(tmp_path / "o"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert "nhat_ky.csv" in err and "level_dbm" in err and "Traceback" not in err
    assert not (tmp_path / "o" / "validation.csv").exists()


def test_run_with_inputs_evidence_validates_in_its_outputs(project: Path, tmp_path: Path) -> None:
    base = project.parent.parent
    with_evidence = project.with_name("project_evidence.toml")
    text = project.read_text(encoding="utf-8").replace(
        'candidates = "auto"', 'candidates = "auto"\nevidence = ["../walk.csv", "../thon.csv"]'
    )
    with_evidence.write_text(text, encoding="utf-8")
    config = load_config(with_evidence)
    assert config.inputs.evidence == ((base / "walk.csv").resolve(), (base / "thon.csv").resolve())
    out = tmp_path / "run"
    result = run(config, out_dir=out)
    n = len(result.villages)
    _check_outputs(out, n)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert set(OUTPUT_FILES) <= set(summary["outputs"])
    assert summary["validation"]["hamlets"]["unmatched"] == 1
    assert {"walk.csv", "thon.csv"} <= set(summary["input_sha256"])
    assert "validate" in summary["timings_s"]
    # the map carries the two evidence layers (named in the layer control, as JSON text)
    page = (out / "map.html").read_text(encoding="utf-8")
    for name in (VALIDATION["vi"]["layer_measurements"], VALIDATION["vi"]["layer_reported"]):
        assert json.dumps(name)[1:-1] in page, name
    # the evidence counts in the input fingerprint: another walk test is another run
    before = fingerprint(config)
    walk = base / "walk.csv"
    original = walk.read_text(encoding="utf-8")
    try:
        walk.write_text(original.replace("-91", "-92"), encoding="utf-8")
        assert fingerprint(config) != before
    finally:
        walk.write_text(original, encoding="utf-8")
