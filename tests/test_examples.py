"""The example projects on real data: Quảng Ngãi's communes (terrain-free) and Đà Nẵng's DEM
with its gateways as towers."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from lomsong.config import load_config
from lomsong.pipeline import run
from lomsong.siting.matrix import coverage_matrix

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
#: A household is judged in its grid cell: its distance to a tower and its cell centre's differ
#: by up to half a cell diagonal (100 m cells over flat ground, 30 m over the DEM): 150 m
#: bounds both.
CELL_SLACK_M = 150.0


def _nearest_tower_m(res) -> np.ndarray:
    """Distance (m) of every household point to its nearest tower."""
    tree = shapely.STRtree(res.towers.geometry.values)
    _, dist = tree.query_nearest(
        res.gaps.households.geometry.values, return_distance=True, all_matches=False
    )
    return dist


def _outputs_add_up(out: Path, res) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """villages.csv, ranking.csv and summary.json count the same households."""
    v = pd.read_csv(out / "villages.csv", dtype={"village_id": str})
    rk = pd.read_csv(out / "ranking.csv", dtype={"site_id": str})
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    t = summary["totals"]
    assert t["villages"] == len(v)
    assert t["households"] == v["households"].sum()
    assert t["households_uncovered"] == v["households_uncovered"].sum()
    assert t["households_covered"] == v["households_covered"].sum()
    assert (v["households_covered"] + v["households_uncovered"] == v["households"]).all()
    assert t["dead_villages"] == v["dead"].sum()
    assert sorted(d["village_id"] for d in summary["dead_villages"]) == sorted(
        v.loc[v["dead"], "village_id"]
    )
    # the household points behind them: each village's figure is its points' rounded sum
    hh = res.gaps.households
    unc = hh[~hh["covered"]]["households"].sum()
    assert unc == pytest.approx(t["households_uncovered"], abs=0.5 * len(v))
    assert hh["households"].sum() == pytest.approx(t["households"], abs=0.5 * len(v))
    # the ranking counts in the same households: gains add up and never exceed the uncovered
    assert len(rk) == t["sites_proposed"] >= 1
    assert (np.abs(rk["cumulative_households"] - np.cumsum(rk["new_households"])) <=
            0.5 * np.arange(1, len(rk) + 1)).all()  # fmt: skip
    assert rk["cumulative_households"].iloc[-1] == t["households_reached_by_sites"]
    assert t["households_reached_by_sites"] <= t["households_uncovered"]
    # the first site gains the most: no other candidate alone covers more
    m = coverage_matrix(res.candidates, res.gaps, res.terrain)
    assert rk["new_households"].iloc[0] == round((m.cover.astype(float) @ m.weights).max())
    for name in ("map.html", "report.html", "planning.gpkg", "coverage.tif"):
        assert (out / name).is_file()
    return v, rk, summary


@pytest.mark.slow
@pytest.mark.usefixtures("shared_data")
def test_quang_ngai_communes_end_to_end(tmp_path):
    cfg = load_config(EXAMPLES / "quang_ngai" / "project.toml")
    # 166 commune sheets take a minute to write: tests/test_sheets.py covers them
    cfg = replace(cfg, siting=replace(cfg.siting, sites=4),
                  output=replace(cfg.output, sheets=False))  # fmt: skip
    res = run(cfg, out_dir=tmp_path / "qn")
    v, rk, _ = _outputs_add_up(tmp_path / "qn", res)
    assert len(v) == 184 and len(rk) == 4
    # 1,210,266 persons / 3.8, rounded per commune (±0.5 each)
    assert v["households"].sum() == pytest.approx(1_210_266 / 3.8, abs=92)
    assert res.villages.crs.to_epsg() == 32649
    assert {"Xã Ba Bích", "Xã An Bình"} <= set(v["name"])

    # Flat ground, identical omni towers: a household is reliably covered exactly when it is
    # within one radius R of a tower, and has signal at the median within a larger radius R50
    # (the 90 % fade margin) — the classes are separated by distance alone.
    dist = _nearest_tower_m(res)
    hh = res.gaps.households
    covered, signal = hh["covered"].to_numpy(), hh["signal"].to_numpy()
    assert covered.any() and not covered.all()
    assert (covered <= signal).all() and (signal & ~covered).any()  # a weak ring between
    assert dist[covered].max() <= dist[~covered].min() + 2 * CELL_SLACK_M
    assert dist[signal].max() <= dist[~signal].min() + 2 * CELL_SLACK_M
    radius = (dist[covered].max() + dist[~covered].min()) / 2
    radius50 = (dist[signal].max() + dist[~signal].min()) / 2
    assert radius50 > radius
    # so the uncovered share of a commune is its area's share beyond R of every tower
    # (households are spread evenly)…
    vv = res.gaps.villages.set_index("village_id").loc[v["village_id"]]

    def lit_share(r: float) -> np.ndarray:
        reach = shapely.union_all(res.towers.geometry.buffer(r).values)
        return np.array([g.intersection(reach).area / g.area for g in vv.geometry])

    lit, lit50 = lit_share(radius), lit_share(radius50)
    np.testing.assert_allclose(v["share_uncovered"], 1.0 - lit, atol=0.05)
    # …every commune wholly beyond R50 is dead and has no household with signal…
    reach50 = shapely.union_all(res.towers.geometry.buffer(radius50).values)
    beyond = np.array([g.distance(reach50) > 0 for g in vv.geometry])
    assert beyond.sum() >= 10
    assert v["dead"][beyond].all() and (v["households_covered"][beyond] == 0).all()
    assert (v["households_no_signal"][beyond] == v["households"][beyond]).all()
    # …and dead ("no signal") are exactly the communes whose area lies mostly beyond R50 (the
    # ones within 5 % of a half are left to the lattice's counting)
    clear = np.abs(lit50 - 0.5) > 0.05
    assert (v["dead"].to_numpy()[clear] == (lit50[clear] < 0.5)).all()
    assert v["dead"].sum() > beyond.sum()  # partly reached communes can be dead too


@pytest.mark.slow
@pytest.mark.usefixtures("shared_data")
def test_danang_dem_with_the_gateways_as_towers(tmp_path):
    cfg = load_config(EXAMPLES / "danang" / "project.toml")
    cfg = replace(cfg, output=replace(cfg.output, sheets=False))  # tests/test_sheets.py
    res = run(cfg, out_dir=tmp_path / "dn")
    v, rk, summary = _outputs_add_up(tmp_path / "dn", res)
    assert len(res.towers) == 13  # all gateways of gateways.csv are usable
    assert res.signal.model == "itm"
    assert res.terrain.crs.to_epsg() == 32649 and res.terrain.res == pytest.approx(30, abs=1)
    # the DEM's elevations survive reprojection: the Sơn Trà peninsula rises to ~690 m
    assert 600 < np.nanmax(res.terrain.data) < 720
    t = summary["totals"]
    assert 0 < t["households_uncovered"] < t["households"]
    # no household beyond the prediction radius (10 km) of every gateway has signal, and
    # those near a gateway have it (a gateway on a mast over its own neighbourhood)
    dist = _nearest_tower_m(res)
    hh = res.gaps.households
    covered = hh["covered"].to_numpy()
    radius_m = cfg.model.max_radius_km * 1000.0
    assert not covered[dist > radius_m + CELL_SLACK_M].any()
    near = dist < 1_000.0
    assert near.sum() > 100 and covered[near].all()
    # so every planning cell wholly beyond the radius is dead
    towers = shapely.union_all(res.towers.geometry.values)
    vv = res.gaps.villages.set_index("village_id").loc[v["village_id"]]
    far = np.array([g.distance(towers) > radius_m + CELL_SLACK_M for g in vv.geometry])
    assert far.sum() >= 5
    assert v["dead"][far].all() and (v["share_uncovered"][far] == 1.0).all()
    # and the proposed sites reach most of the uncovered households
    assert t["share_of_uncovered_reached"] > 0.5
    assert rk["backhaul_ok"].any()
