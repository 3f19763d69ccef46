"""The example projects on real data: Quảng Ngãi's communes (terrain-free) and Đà Nẵng's DEM
with its gateways as towers."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from lomsong.config import load_config
from lomsong.pipeline import run

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.slow
@pytest.mark.usefixtures("shared_data")
def test_quang_ngai_communes_end_to_end(tmp_path):
    cfg = load_config(EXAMPLES / "quang_ngai" / "project.toml")
    cfg = replace(cfg, siting=replace(cfg.siting, sites=4))
    res = run(cfg, out_dir=tmp_path / "qn")
    v = res.gaps.villages
    assert len(v) == 184
    # 1,210,266 persons / 3.8, rounded per commune (±0.5 each)
    assert v["households"].sum() == pytest.approx(1_210_266 / 3.8, abs=92)
    assert res.villages.crs.to_epsg() == 32649
    assert {"Xã Ba Bích", "Xã An Bình"} <= set(v["name"])
    rk = res.ranking
    assert len(rk) == 4
    assert (np.diff(rk["cumulative_households"]) >= 0).all()
    # the first site gains the most: no other candidate alone covers more
    from lomsong.siting.matrix import coverage_matrix

    m = coverage_matrix(res.candidates, res.gaps, res.terrain)
    assert rk["new_households"].iloc[0] == round((m.cover.astype(float) @ m.weights).max())
    for name in ("villages.csv", "ranking.csv", "map.html", "planning.gpkg"):
        assert (tmp_path / "qn" / name).exists()


@pytest.mark.slow
@pytest.mark.usefixtures("shared_data")
def test_danang_dem_with_the_gateways_as_towers(tmp_path):
    cfg = load_config(EXAMPLES / "danang" / "project.toml")
    res = run(cfg, out_dir=tmp_path / "dn")
    assert len(res.towers) == 13  # all gateways of gateways.csv are usable
    assert res.signal.model == "itm"
    assert res.terrain.crs.to_epsg() == 32649 and res.terrain.res == pytest.approx(30, abs=1)
    # the DEM's elevations survive reprojection: the Sơn Trà peninsula rises to ~690 m
    assert 600 < np.nanmax(res.terrain.data) < 720
    assert res.summary["totals"]["households_uncovered"] < res.summary["totals"]["households"]
    assert len(res.ranking) >= 1
