"""The simulated walk test (lomsong.calibration.synthetic): what it writes is what it claims."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest

from lomsong.calibration.evidence import read_evidence
from lomsong.calibration.synthetic import simulate_walk_test
from lomsong.coverage.engine import received_power_points
from lomsong.defaults import PHONE_FLOOR_DBM
from lomsong.demo.province import generate_demo

MODEL = {"model": "hata", "environment": "suburban", "max_radius_km": 15.0}


@pytest.fixture(scope="module")
def demo():
    return generate_demo(reduced=True)


def test_without_noise_each_level_is_the_prediction_plus_the_offset(demo) -> None:
    offsets = {"VinaPhone": 3.0, "Viettel": -5.0}
    log = simulate_walk_test(demo.towers, demo.villages, terrain=demo.terrain, offsets_db=offsets,
                             noise_db=0.0, walked=8, seed=1, **MODEL)  # fmt: skip
    heard = log[log["level_dbm"].notna()]
    assert len(heard) > 20
    towers = demo.towers.set_index("tower_id", drop=False)
    xy = demo.towers.crs
    pts = gpd.GeoSeries(gpd.points_from_xy(heard["lon"], heard["lat"]), crs=4326).to_crs(xy)
    for (cell, op), idx in heard.groupby(["cell_id", "operator"]).groups.items():
        sel = heard.index.get_indexer(idx)
        level, _ = received_power_points(towers.loc[cell], demo.terrain, pts.x.to_numpy()[sel],
                                         pts.y.to_numpy()[sel], **MODEL)  # fmt: skip
        expected = np.round(level + offsets.get(op, 0.0))
        # 6-decimal lon/lat moves a point by < 0.1 m: well under the 1 dB rounding step
        np.testing.assert_allclose(heard.loc[idx, "level_dbm"], expected, atol=1.0)
        # the phone camps on the strongest cell of its operator and technology
        tech = heard.loc[idx, "tech"].iloc[0]
        same = demo.towers[(demo.towers["operator"] == op) & (demo.towers["tech"] == tech)]
        best = np.max([received_power_points(t, demo.terrain, pts.x.to_numpy()[sel],
                                             pts.y.to_numpy()[sel], **MODEL)[0]
                       for _, t in same.iterrows()], axis=0)  # fmt: skip
        np.testing.assert_allclose(level, best, atol=1e-6)  # dB: the same computation


def test_the_log_reads_as_evidence_with_no_service_rows_kept(demo, tmp_path) -> None:
    kw = {"terrain": demo.terrain, "offsets_db": {"Viettel": -15.0}, "walked": 10, "seed": 2}
    log = simulate_walk_test(demo.towers, demo.villages, **kw, **MODEL)
    again = simulate_walk_test(demo.towers, demo.villages, **kw, **MODEL)
    assert log.equals(again)  # the same seed gives the same log
    silent = log["level_dbm"].isna()
    assert silent.any() and (~silent).any()
    assert (log.loc[silent, "cell_id"] == "").all()
    floors = log.loc[~silent, "tech"].map(PHONE_FLOOR_DBM)
    assert (log.loc[~silent, "level_dbm"] >= floors).all()
    path = tmp_path / "walk.csv"
    log.to_csv(path, index=False)
    ev = read_evidence(path)
    assert len(ev) == len(log) and not ev.attrs.get("rejects")
    assert ev["no_service"].sum() == silent.sum()
