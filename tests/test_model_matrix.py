"""Every model × environment × technology a project file allows runs end to end.

A tiny hand-built project (8 × 8 km of gentle terrain, four villages, one tower per technology
— 2G 900, 3G 2100, 4G 1800, 5G 3500 MHz — and one candidate site per technology) goes through
``lomsong run`` with each propagation model and each environment. Two villages lie beyond the
towers' 2 km radius, so dead zones, candidates and the ranking are exercised too.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import CRS, X0, Y0, make_grid, make_villages

from lomsong.cli import main
from lomsong.defaults import ENVIRONMENTS, MODEL_NAMES, TECH_DEFAULTS

TECHS = ("2G", "3G", "4G", "5G")


def _points_csv(path: Path, ids: list[str], xy: list[tuple[float, float]], **columns) -> None:
    """A towers-format CSV (lon/lat) of points given in the test CRS."""
    x, y = zip(*xy, strict=True)
    pts = gpd.GeoSeries(gpd.points_from_xy(x, y), crs=CRS).to_crs(4326)
    frame = pd.DataFrame({"tower_id": ids, **columns, "lon": pts.x, "lat": pts.y})
    frame.to_csv(path, index=False)


def write_inputs(folder: Path) -> Path:
    """Terrain, villages, one tower and one candidate per technology; returns ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    ramp = np.linspace(0.0, 20.0, 80)[None, :]  # a gentle 20 m rise over 8 km, plus bumps
    make_grid(40.0 + ramp + rng.random((80, 80)) * 5.0).to_file(folder / "terrain.tif")
    boxes = [
        (X0 + 1500, Y0 - 2500, X0 + 2500, Y0 - 1500),  # among the towers: covered
        (X0 + 2500, Y0 - 3200, X0 + 3200, Y0 - 2500),  # near them
        (X0 + 6000, Y0 - 7000, X0 + 7000, Y0 - 6000),  # beyond every tower's 2 km: dark
        (X0 + 6000, Y0 - 2500, X0 + 7000, Y0 - 1500),  # dark
    ]
    make_villages(boxes, [30, 20, 40, 25]).to_file(folder / "villages.gpkg")
    freqs = [TECH_DEFAULTS[t]["freq_mhz"] for t in TECHS]
    _points_csv(
        folder / "towers.csv", [f"T{t}" for t in TECHS],
        [(X0 + 1500, Y0 - 1500), (X0 + 2500, Y0 - 1500), (X0 + 1500, Y0 - 2500),
         (X0 + 2500, Y0 - 2500)],
        site_id=[f"S{t}" for t in TECHS], operator="Viettel", tech=list(TECHS), freq_mhz=freqs,
        height_m=30.0, eirp_dbm=58.0,
    )  # fmt: skip
    # candidates inside the dark villages, one per technology
    _points_csv(
        folder / "candidates.csv", [f"C{t}" for t in TECHS],
        [(X0 + 6300, Y0 - 6300), (X0 + 6700, Y0 - 6700), (X0 + 6300, Y0 - 1800),
         (X0 + 6700, Y0 - 2200)],
        tech=list(TECHS), freq_mhz=freqs, height_m=30.0, eirp_dbm=58.0,
    )  # fmt: skip
    return folder


def write_project(
    inputs: Path, model: str, environment: str, *, candidates: str = "candidates.csv"
) -> Path:
    """A project file over ``inputs`` with this model and environment."""
    text = f"""
[inputs]
villages = "villages.gpkg"
towers = "towers.csv"
terrain = ["terrain.tif"]
candidates = "{candidates}"

[model]
name = "{model}"
environment = "{environment}"
max_radius_km = 2

[siting]
sites = 2
"""
    path = inputs / f"project-{model}-{environment}-{Path(candidates).stem}.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    return write_inputs(tmp_path_factory.mktemp("matrix"))


def _assert_ran(out: Path) -> dict:
    for name in ("villages.csv", "ranking.csv", "summary.json"):
        assert (out / name).exists(), name
    return json.loads((out / "summary.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize("model", MODEL_NAMES)
def test_every_model_and_environment_runs_with_every_technology(
    inputs: Path, tmp_path: Path, model: str, environment: str
) -> None:
    project = write_project(inputs, model, environment)
    out = tmp_path / "out"
    assert main(["run", str(project), "--out", str(out), "--quiet"]) == 0
    summary = _assert_ran(out)
    t = summary["totals"]
    # every tower (one per technology) was predicted, and every candidate (one per
    # technology) was predicted at the dark villages' households: the ranking reaches them
    assert t["towers"] == len(TECHS)
    assert t["candidates"] == len(TECHS)
    assert t["households_uncovered"] > 0
    assert len(pd.read_csv(out / "ranking.csv")) >= 1
    assert (summary["model"]["name"], summary["model"]["environment"]) == (model, environment)


def test_rural_hata_with_generated_candidates_runs(inputs: Path, tmp_path: Path) -> None:
    # the reported case: hata + open, candidates generated (4G at 1800 MHz → COST-231)
    project = write_project(inputs, "hata", "open", candidates="auto")
    out = tmp_path / "out"
    assert main(["run", str(project), "--out", str(out), "--quiet"]) == 0
    summary = _assert_ran(out)
    assert summary["totals"]["candidates"] > 0
    assert summary["totals"]["sites_proposed"] >= 1
