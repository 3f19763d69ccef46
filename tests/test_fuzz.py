"""Hostile inputs: random bytes, truncated files, wrong types, NaN/inf, huge numbers.

No exception escapes the CLI (``main`` returns an exit code; an exception would reach the
user as a traceback): it exits 2 with one ``error:`` message naming the file, and writes
nothing. Inputs are opened read-only and never modified.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lomsong.cli import main
from lomsong.demo import write_demo

FILES = ["villages.gpkg", "towers.csv", "terrain.tif", "households.gpkg", "project.toml"]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    return write_demo(tmp_path_factory.mktemp("pristine"), reduced=True).parent


def _sha(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()
            if p.is_file()}  # fmt: skip


def _cli(argv: list[str], capsys) -> tuple[int, str]:
    """``main``'s exit code and stderr; fails the test if any exception escapes ``main``."""
    capsys.readouterr()
    try:
        code = main(argv)
    except BaseException as exc:  # the property under test: nothing escapes, not even SystemExit
        pytest.fail(f"main raised {type(exc).__name__}: {exc}")
    return code, capsys.readouterr().err


def _bad_input_message(err: str, culprit: str) -> None:
    """One ``error:`` message (warnings may come before it) naming the file, then a reason."""
    lines = err.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("error: ")]
    assert len(starts) == 1, err
    assert culprit in lines[starts[0]], err
    message = "\n".join(lines[starts[0] :])
    assert message.split(culprit, 1)[1].strip(" :\n"), err  # a reason follows the name


def _run_expecting_bad_input(inputs: Path, out: Path, capsys, culprit: str) -> None:
    code, err = _cli(["run", str(inputs / "project.toml"), "--out", str(out), "--quiet"], capsys)
    assert code == 2, err
    _bad_input_message(err, culprit)
    assert not out.exists()  # nothing written
    assert not list(out.parent.glob(f".{out.name}.tmp-*"))


settings_ = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@settings_
@given(name=st.sampled_from(["villages.gpkg", "towers.csv", "terrain.tif", "households.gpkg"]),
       junk=st.binary(min_size=0, max_size=600))  # fmt: skip
def test_random_bytes_in_any_input(pristine, tmp_path_factory, capsys, name, junk):
    inputs = tmp_path_factory.mktemp("in")
    shutil.copytree(pristine, inputs, dirs_exist_ok=True)
    (inputs / name).write_bytes(junk)
    _run_expecting_bad_input(inputs, inputs.parent / f"{inputs.name}-out", capsys, name)


@settings_
@given(name=st.sampled_from(["villages.gpkg", "terrain.tif", "households.gpkg"]),
       frac=st.floats(0.0, 0.9))  # fmt: skip
def test_truncated_binary_inputs(pristine, tmp_path_factory, capsys, name, frac):
    inputs = tmp_path_factory.mktemp("in")
    shutil.copytree(pristine, inputs, dirs_exist_ok=True)
    data = (inputs / name).read_bytes()
    (inputs / name).write_bytes(data[: int(len(data) * frac)])
    _run_expecting_bad_input(inputs, inputs.parent / f"{inputs.name}-out", capsys, name)


def test_a_truncated_csv_loses_only_its_broken_row(pristine, tmp_path):
    inputs = tmp_path / "in"
    shutil.copytree(pristine, inputs)
    text = (inputs / "towers.csv").read_text()
    cut = text[: text.rindex(",")]  # the last row ends mid-way
    (inputs / "towers.csv").write_text(cut)
    out = tmp_path / "out"
    assert main(["run", str(inputs / "project.toml"), "--out", str(out), "--quiet"]) == 0
    import geopandas as gpd

    rejects = gpd.read_file(out / "planning.gpkg", layer="rejects")
    n_rows = len(text.strip().splitlines()) - 1
    assert list(rejects["row"]) == [n_rows]  # 1-based data row of the cut line
    assert rejects["source"].str.endswith("towers.csv").all()


_values = st.one_of(
    st.just("nan"), st.just("inf"), st.just("-inf"), st.just("1e308"), st.just("-1e308"),
    st.just("abc"), st.just(""), st.integers(-(10**12), 10**12).map(str),
)  # fmt: skip


@settings_
@given(column=st.sampled_from(["lon", "lat", "height_m", "eirp_dbm", "freq_mhz"]), value=_values)
def test_every_tower_row_broken_is_bad_input(pristine, tmp_path_factory, capsys, column, value):
    inputs = tmp_path_factory.mktemp("in")
    shutil.copytree(pristine, inputs, dirs_exist_ok=True)
    towers = pd.read_csv(inputs / "towers.csv", dtype=str)
    towers[column] = value
    towers.to_csv(inputs / "towers.csv", index=False)
    out = inputs.parent / f"{inputs.name}-out"
    code, err = _cli(["run", str(inputs / "project.toml"), "--out", str(out), "--quiet"], capsys)
    if code == 0:
        # values that are valid for the column (e.g. an empty height takes the default)
        assert (out / "summary.json").exists()
    else:
        assert code == 2, err
        _bad_input_message(err, "towers.csv")
        assert not out.exists()


def test_a_frequency_the_model_cannot_compute_is_bad_input(pristine, tmp_path, capsys):
    """A 25 GHz cell passes the tower reader (mmWave 5G exists) but ITM computes 20 MHz-20 GHz
    only: bad input naming the file and the cell, before any prediction — not an engine error."""
    inputs = tmp_path / "in"
    shutil.copytree(pristine, inputs)
    assert 'name = "itm"' in (inputs / "project.toml").read_text()
    towers = pd.read_csv(inputs / "towers.csv", dtype=str)
    towers.loc[1, "freq_mhz"] = "25000"
    towers.to_csv(inputs / "towers.csv", index=False)
    out = tmp_path / "out"
    code, err = _cli(["run", str(inputs / "project.toml"), "--out", str(out), "--quiet"], capsys)
    assert code == 2, err
    _bad_input_message(err, "towers.csv")
    assert f"{towers.loc[1, 'tower_id']}: freq_mhz 25000 is outside" in err
    assert not out.exists()


def test_inputs_are_never_modified(pristine, tmp_path):
    inputs = tmp_path / "in"
    shutil.copytree(pristine, inputs)
    before = _sha(inputs)
    for name in FILES:
        (inputs / name).chmod(0o444)  # read-only: any attempt to write would fail loudly
    assert main(["run", str(inputs / "project.toml"), "--out", str(tmp_path / "o"),
                 "--quiet"]) == 0  # fmt: skip
    assert _sha(inputs) == before
