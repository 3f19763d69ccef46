"""Censored (Tobit) calibration against walk tests (lomsong.calibration.censored)."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats
from shapely.geometry import Point

from lomsong.calibration.censored import fit_censored, log_likelihood
from lomsong.coverage.engine import predict_tower, received_power_points
from lomsong.coverage.types import CalibrationFit, CalibrationResult, group_key
from lomsong.demo.province import generate_demo
from lomsong.errors import InputError

MODEL = {"model": "hata", "environment": "suburban", "rx_height_m": 1.5, "max_radius_km": 15.0}
FLOOR_DBM = -120.0  # the censoring level
NOISE_DB = 6.0
TRUE_OFFSETS = {"Viettel": -6.0, "VinaPhone": 3.0, "MobiFone": -6.0}


# -- the likelihood on hand-checkable cases ------------------------------------------------------


def test_log_likelihood_hand_values():
    ll = log_likelihood(
        level_dbm=[-100.0, -96.0, np.nan, np.nan],
        no_service=[False, False, True, True],
        mu_dbm=[-100.0, -100.0, -120.0, -118.0],
        sigma_db=2.0,
        floor_dbm=-120.0,
    )
    # y = μ: log φ(0) − log σ = −0.918939 − 0.693147; y = μ + 2σ: −2 more; no service with
    # the floor at μ: log Φ(0) = log ½; the floor one σ below μ: log Φ(−1) = log 0.158655
    expected = [-1.612086, -3.612086, math.log(0.5), math.log(0.158655)]
    np.testing.assert_allclose(ll, expected, atol=1e-5)  # 6-decimal hand values
    # truncated at the floor: a level at μ = c is twice as likely (− log Φ(0) = + log 2)
    tr = log_likelihood([-120.0], [False], [-120.0], 1.0, -120.0, truncated=True)
    assert tr[0] == pytest.approx(-0.918939 + math.log(2.0), abs=1e-6)


def _frame(resid, *, tower=None, operator="P", tech="4G", no_service=None, village=None):
    n = len(resid)
    resid = np.asarray(resid, dtype=float)
    cens = np.zeros(n, dtype=bool) if no_service is None else np.asarray(no_service, dtype=bool)
    return pd.DataFrame({
        "tower_id": tower if tower is not None else ["T"] * n,
        "operator": operator, "tech": tech,
        "predicted_dbm": np.full(n, -100.0),
        "level_dbm": np.where(cens, np.nan, -100.0 + resid),
        "no_service": cens, "distance_km": 1.0,
        "village_id": village if village is not None else [""] * n,
    })  # fmt: skip


def test_uncensored_fit_is_least_squares():
    # without censoring the Tobit MLE is the mean residual and σ its ddof-0 spread
    fit = fit_censored(_frame([-2.0, 0.0, 2.0, 4.0]), holdout=False)
    assert fit.offsets_db["P/4G"] == pytest.approx(1.0, abs=1e-4)  # optimiser tolerance
    assert fit.sigma_db == pytest.approx(math.sqrt(5.0), abs=1e-4)
    assert fit.groups["P/4G"]["naive_offset_db"] == pytest.approx(1.0, abs=1e-12)


def test_censored_fit_matches_a_direct_maximisation():
    # 6 levels, 4 no-service rows below a floor of -104 dBm: maximise the textbook likelihood
    # written with scipy.stats directly (an independent implementation) and compare
    resid = [-3.0, 1.0, 2.5, 6.0, 0.5, -1.5, 0, 0, 0, 0]
    cens = [False] * 6 + [True] * 4
    frame = _frame(resid, no_service=cens)
    fit = fit_censored(frame, floors_dbm={"4G": -104.0}, holdout=False)
    y = -100.0 + np.array(resid[:6])

    def nll(theta):
        mu, s = -100.0 + theta[0], math.exp(theta[1])
        return -(stats.norm.logpdf(y, mu, s).sum() + 4 * stats.norm.logcdf(-104.0, mu, s))

    ref = optimize.minimize(nll, [0.0, 1.0], method="Nelder-Mead",
                            options={"xatol": 1e-8, "fatol": 1e-10})  # fmt: skip
    assert fit.offsets_db["P/4G"] == pytest.approx(ref.x[0], abs=1e-3)  # both optimisers' tol
    assert fit.sigma_db == pytest.approx(math.exp(ref.x[1]), abs=1e-3)
    # the censored rows pull the offset below the mean of the levels (+0.92 dB)
    assert fit.offsets_db["P/4G"] < np.mean(resid[:6]) - 1.0


def test_truncated_fit_refuses_no_service_rows():
    frame = _frame([0.0, 1.0, 0.0], no_service=[False, False, True])
    with pytest.raises(InputError, match="truncated"):
        fit_censored(frame, truncated=True, floors_dbm={"4G": -110.0})
    with pytest.raises(InputError, match="floor for technology LoRa"):
        fit_censored(_frame([0.0, 1.0], tech="LoRa", no_service=[False, True]))


# -- leave one tower / village out ---------------------------------------------------------------


def test_leave_one_tower_out_hand_case():
    # towers A, B of operator P and C of operator Q (all 4G), two rows each, no censoring;
    # residuals A 0, B 2, C 4. Held out:
    #   A: P/4G from B alone = 2 → A's residuals −2;  B: P/4G from A = 0 → +2;
    #   C: Q/4G measured by no other tower → the mean of the 4G operators' offsets (P: 1) → +3
    frame = _frame([0, 0, 2, 2, 4, 4], tower=list("AABBCC"), operator=list("PPPPQQ"),
                   village=list("112233"))  # fmt: skip
    fit = fit_censored(frame, tower_offsets=False, slopes="none")
    loto = fit.figures["loto"]
    assert loto["folds"] == 3
    # held-out residuals −2, −2, 2, 2, 3, 3 → RMSE √(34/6); before: 0, 0, 2, 2, 4, 4 → √(40/6)
    assert loto["after"]["rmse_db"] == pytest.approx(math.sqrt(34 / 6), abs=1e-4)
    assert loto["after"]["bias_db"] == pytest.approx(1.0, abs=1e-4)
    assert loto["before"]["rmse_db"] == pytest.approx(math.sqrt(40 / 6), abs=1e-9)
    # villages here coincide with towers: the same folds, the same figures
    assert fit.figures["lovo"]["after"]["rmse_db"] == pytest.approx(math.sqrt(34 / 6), abs=1e-4)
    # in sample each operator's offset is its own mean: residuals ±1 for P, 0 for Q
    assert fit.offsets_db == pytest.approx({"P/4G": 1.0, "Q/4G": 4.0}, abs=1e-4)
    assert fit.figures["in_sample"]["rmse_db"] == pytest.approx(math.sqrt(4 / 6), abs=1e-4)


def test_tower_offset_pooled_and_not_transferred():
    # 8 towers of one operator, 60 rows each; tower T7 stands 10 dB above the others
    rng = np.random.default_rng(5)
    towers = np.repeat([f"T{k}" for k in range(8)], 60)
    resid = rng.normal(0.0, 3.0, towers.size) + np.where(towers == "T7", 10.0, 0.0)
    villages = np.array([f"V{k}" for k in rng.integers(0, 6, towers.size)])
    fit = fit_censored(_frame(resid, tower=towers, village=villages), slopes="none")
    own = fit.fit.tower_offsets_db
    # T7's own offset carries its 10 dB (less the group's share ≈ 10/8, and a little
    # shrinkage: SE 3/√60 ≈ 0.4 dB against τ ≈ 3.5 dB); the others stay near −1.25
    assert own["T7"] - np.mean([own[f"T{k}"] for k in range(7)]) == pytest.approx(10.0, abs=1.0)
    assert fit.tau_db > 2.0
    # leaving T7 out, its rows get only the group's offset: the held-out error is its 10 dB
    # (≈ 8.75 after the others' fit), far above the in-sample 3 dB; leaving villages out,
    # every tower is still in the training rows and T7 keeps its own offset
    assert fit.figures["loto"]["after"]["rmse_db"] > 3.5
    assert fit.figures["lovo"]["after"]["rmse_db"] == pytest.approx(3.0, abs=0.3)
    assert fit.figures["in_sample"]["rmse_db"] == pytest.approx(3.0, abs=0.3)


# -- synthetic truth on the demo province ----------------------------------------------------------


@pytest.fixture(scope="module")
def demo():
    return generate_demo(reduced=True)


def _walk_test(demo, *, n_per_tower: int = 700, seed: int = 11) -> pd.DataFrame:
    """Measurements from lomsong's own prediction: level = predicted + offset[operator] +
    N(0, 6 dB), no service below −120 dBm (the prediction is the engine's at the point)."""
    rng = np.random.default_rng(seed)
    t = demo.terrain.transform
    h, w = demo.terrain.shape
    rows = []
    for tower in demo.towers.to_dict("records"):
        xs = t.c + rng.uniform(0, w, 40 * n_per_tower) * t.a
        ys = t.f + rng.uniform(0, h, 40 * n_per_tower) * t.e
        pred, _ = received_power_points(tower, demo.terrain, xs, ys, **MODEL)
        # where a phone can be near the edge of service: predicted −135…−100 dBm
        keep = np.flatnonzero((pred > -135.0) & (pred < -100.0))[:n_per_tower]
        assert keep.size == n_per_tower  # the demo has room for it (checked, not assumed)
        level = pred[keep] + TRUE_OFFSETS[tower["operator"]] + rng.normal(0, NOISE_DB, keep.size)
        d_km = np.hypot(xs[keep] - tower["geometry"].x, ys[keep] - tower["geometry"].y) / 1e3
        rows.append(pd.DataFrame({
            "tower_id": tower["tower_id"], "operator": tower["operator"], "tech": tower["tech"],
            "predicted_dbm": pred[keep], "level_dbm": level, "distance_km": d_km,
            "x": xs[keep], "y": ys[keep],
        }))  # fmt: skip
    out = pd.concat(rows, ignore_index=True)
    out["no_service"] = out["level_dbm"] < FLOOR_DBM
    out.loc[out["no_service"], "level_dbm"] = np.nan
    pts = gpd.GeoDataFrame(out, geometry=gpd.points_from_xy(out["x"], out["y"]), crs=demo.crs)
    joined = gpd.sjoin(pts, demo.villages[["village_id", "geometry"]], how="left",
                       predicate="within")  # fmt: skip
    out["village_id"] = joined.groupby(level=0)["village_id"].first().fillna("")
    return out


def test_synthetic_truth_tobit_recovers_offsets_naive_mean_does_not(demo):
    walk = _walk_test(demo)
    floors = dict.fromkeys(("2G", "3G", "4G", "5G"), FLOOR_DBM)
    fit = fit_censored(walk, floors_dbm=floors)
    print(f"\n{len(walk)} measurements, {int(walk['no_service'].sum())} without service")
    print(f"{'operator/tech':<16} {'truth':>6} {'Tobit':>7} {'naive':>7} {'censored':>8}")
    for key, g in fit.groups.items():
        truth = TRUE_OFFSETS[key.split("/")[0]]
        print(f"{key:<16} {truth:>+6.1f} {g['offset_db']:>+7.2f} {g['naive_offset_db']:>+7.2f} "
              f"{g['n_censored'] / g['n']:>8.0%}")  # fmt: skip
    assert set(fit.groups) == {"VinaPhone/3G", "VinaPhone/4G", "MobiFone/2G", "Viettel/3G"}
    for key, g in fit.groups.items():
        truth = TRUE_OFFSETS[key.split("/")[0]]
        # the bar: within 1 dB (SE ≈ 6/√700 ≈ 0.25-0.35 dB with censoring: 3 SE)
        assert g["offset_db"] == pytest.approx(truth, abs=1.0), key
        # the plain mean of the levels the phones reported is biased up by the censoring
        assert g["naive_offset_db"] - truth > 1.0, key
    assert fit.sigma_db == pytest.approx(NOISE_DB, abs=0.3)  # 2,800 rows: SE ≈ 0.1 dB
    # no distance slope in the truth: the likelihood-ratio test at 1 % keeps none here
    assert fit.fit.b_per_tx == {}
    loto, lovo = fit.figures["loto"], fit.figures["lovo"]
    b, a = loto["before"], loto["after"]
    print(
        f"leave one tower out: RMSE {b['rmse_db']:.2f} → {a['rmse_db']:.2f} dB, no-service "
        f"rows below the floor {b['censored_hit_share']:.0%} → {a['censored_hit_share']:.0%}, "
        f"log score {b['log_score']:.3f} → {a['log_score']:.3f}"
    )
    print(
        f"leave one village out ({lovo['folds']} folds): RMSE "
        f"{lovo['before']['rmse_db']:.2f} → {lovo['after']['rmse_db']:.2f} dB"
    )
    # holding out a tower still helps: its operator's offset comes from the operator's other
    # towers (or the technology's mean); the proper score improves
    assert loto["after"]["log_score"] > loto["before"]["log_score"]
    assert lovo["after"]["rmse_db"] < lovo["before"]["rmse_db"]


# -- fit.json → [model] calibration → predictions shifted --------------------------------------


def test_round_trip_shifts_towers_and_candidates(demo, tmp_path):
    from lomsong.config import load_config
    from lomsong.demo.province import write_demo
    from lomsong.pipeline import _load_calibration

    walk = _walk_test(demo, n_per_tower=200)
    fit = fit_censored(walk, floors_dbm=dict.fromkeys(("2G", "3G", "4G"), FLOOR_DBM),
                       holdout=False)  # fmt: skip
    result = fit.to_result(model="itm", environment=None, terrain="terrain.tif", rx_height_m=1.5)
    project = write_demo(tmp_path / "demo", reduced=True)
    result.to_json(tmp_path / "demo" / "fit.json")
    text = project.read_text(encoding="utf-8").replace(
        "max_radius_km = 15", 'max_radius_km = 15\ncalibration = "fit.json"'
    )
    project.write_text(text, encoding="utf-8")
    cal = _load_calibration(load_config(project))
    assert cal is not None and cal.fit.kind == "relative"
    for key, v in fit.offsets_db.items():
        assert cal.fit.offsets_db[key] == pytest.approx(v, abs=1e-4)  # 4 decimals in the file
    assert cal.to_dict() == result.to_dict() | {"figures": cal.to_dict()["figures"]}
    # a tower: every cell shifts by its operator/tech offset (+ its own, none here)
    tower = demo.towers.iloc[3].to_dict()  # VinaPhone 4G
    opts = MODEL | {"max_radius_km": 3.0}
    plain = predict_tower(tower, demo.terrain, **opts)
    shifted = predict_tower(tower, demo.terrain, **opts, calibration=cal)
    expected = cal.fit.offsets_db["VinaPhone/4G"] + cal.fit.tower_offsets_db.get("T002-A", 0.0)
    diff = (shifted.power - plain.power)[np.isfinite(plain.power)]
    np.testing.assert_allclose(diff, expected, atol=1e-4)  # float32 powers
    # a candidate (no operator): the mean of the offsets of its technology's operators
    at = Point(tower["geometry"].x, tower["geometry"].y)
    cand = {"site_id": "C0001", "tech": "3G", "freq_mhz": 2100.0, "height_m": 30.0,
            "eirp_dbm": 58.0, "azimuth_deg": np.nan, "geometry": at}  # fmt: skip
    xs = tower["geometry"].x + np.array([500.0, 1500.0, 2500.0])
    ys = np.full(3, tower["geometry"].y)
    base, _ = received_power_points(cand, demo.terrain, xs, ys, **MODEL)
    cal_pts, _ = received_power_points(cand, demo.terrain, xs, ys, **MODEL, calibration=cal)
    mean_3g = np.mean([cal.fit.offsets_db["VinaPhone/3G"], cal.fit.offsets_db["Viettel/3G"]])
    np.testing.assert_allclose(cal_pts - base, mean_3g, atol=1e-9)
    # with an operator of its own it takes that operator's offset
    viettel, _ = received_power_points({**cand, "operator": "Viettel"}, demo.terrain, xs, ys,
                                       **MODEL, calibration=cal)  # fmt: skip
    np.testing.assert_allclose(viettel - base, cal.fit.offsets_db["Viettel/3G"], atol=1e-9)


def test_group_terms_fallbacks():
    fit = CalibrationFit({"A/4G": -6.0, "B/4G": 2.0, "A/3G": 1.0}, b_per_tx={"A/4G": 0.5},
                         kind="relative", tower_offsets_db={"T1": 1.5})  # fmt: skip
    assert fit.group_terms("A", "4G") == (-6.0, 0.5)
    assert fit.group_terms("C", "4G") == (-2.0, 0.25)  # unweighted mean, B without slope → 0
    assert fit.group_terms(None, "3G") == (1.0, 0.0)
    assert fit.group_terms("A", "2G") == (0.0, 0.0)  # never measured: no correction
    tower = {"tower_id": "T1", "operator": "A", "tech": "4G"}
    assert fit.service_eirp_dbm(60.0, tower) == pytest.approx(60.0 - 6.0 + 1.5)
    # b = 0.5: 5 dB more loss at 10 km, none at 1 km
    np.testing.assert_allclose(fit.extra_loss_db([1.0, 10.0], tower), [0.0, 5.0], atol=1e-12)
    assert group_key(float("nan"), "4G") == "/4G"


def test_old_and_new_files_both_read(tmp_path):
    old = CalibrationResult(
        fit=CalibrationFit({"gw": 10.0}), model="fspl", environment=None, terrain=None,
        h_tx_m=15.0, h_rx_m=1.5, n_paths=3, n_excluded_short=0, n_no_prediction=0,
        residual_rms_db=1.0, loo_refit_rms_db=1.0, loo_mean_offset_rms_db=2.0, per_tx={},
    )  # fmt: skip
    old.to_json(tmp_path / "old.json")
    back = CalibrationResult.from_json(tmp_path / "old.json")
    assert back.fit.kind == "absolute" and back.to_dict()["lomsong_calibration"] == 1
    # absolute: the offset replaces the EIRP
    assert back.fit.service_eirp_dbm(60.0, {"tower_id": "gw"}) == 10.0
    fit = fit_censored(_frame([-2.0, 0.0, 2.0, 4.0]), holdout=False)
    new = fit.to_result(model="hata", environment="suburban", terrain=None, rx_height_m=1.5)
    new.to_json(tmp_path / "new.json")
    doc = CalibrationResult.from_json(tmp_path / "new.json").to_dict()
    assert doc["lomsong_calibration"] == 2 and doc["offsets_db"] == {"P/4G": 1.0}
    assert doc == new.to_dict()
    assert "censored" in CalibrationResult.from_json(tmp_path / "new.json").summary_text()


# -- the command -------------------------------------------------------------------------------


def test_cli_calibrate_project_writes_offsets(demo, tmp_path):
    """``lomsong calibrate PROJECT.toml walk.csv``: a generic walk-test log (the contract
    columns) whose levels are the project's own ITM prediction + the operators' offsets +
    6 dB noise, empty below −120 dBm, gives fit.json with offsets_db per "operator/tech"."""
    import json

    from lomsong.calibration.evidence import read_evidence
    from lomsong.calibration.validate import match_measurements
    from lomsong.cli import main
    from lomsong.demo.province import write_demo

    project = write_demo(tmp_path / "demo", reduced=True)
    rng = np.random.default_rng(3)
    t, (h, w) = demo.terrain.transform, demo.terrain.shape
    n = 4000
    towers = demo.towers.sample(n, replace=True, random_state=1).reset_index(drop=True)
    pts = gpd.GeoDataFrame(
        {"tech": towers["tech"], "operator": towers["operator"], "cell_id": towers["tower_id"]},
        geometry=gpd.points_from_xy(t.c + rng.uniform(0, w, n) * t.a,
                                    t.f + rng.uniform(0, h, n) * t.e),
        crs=demo.crs,
    ).to_crs(4326)  # fmt: skip
    log = pd.DataFrame({"lat": pts.geometry.y, "lon": pts.geometry.x, "level_dbm": -90.0,
                        "tech": pts["tech"], "operator": pts["operator"],
                        "cell_id": pts["cell_id"], "time": ""})  # fmt: skip
    # the demo project's prediction at each point (ITM, 15 km), matched by cell id
    matched = match_measurements(
        read_evidence(log), demo.towers, terrain=demo.terrain, rule=None, model="itm",
        rx_height_m=1.5, params={"environment": "suburban", "max_radius_km": 15.0},
    )  # fmt: skip
    pred = matched["predicted_dbm"].to_numpy()
    level = pred + log["operator"].map(TRUE_OFFSETS).to_numpy() + rng.normal(0, NOISE_DB, n)
    log["level_dbm"] = np.where(level < FLOOR_DBM, np.nan, np.round(level, 1))
    log = log[np.isfinite(pred)]
    log.to_csv(tmp_path / "walk.csv", index=False)
    floors = [a for tech in ("2G", "3G", "4G") for a in ("--floor", f"{tech}={FLOOR_DBM:g}")]
    out = tmp_path / "fit.json"
    assert main(["calibrate", str(project), str(tmp_path / "walk.csv"), *floors, "--out",
                 str(out), "--quiet"]) == 0  # fmt: skip
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["lomsong_calibration"] == 2 and doc["model"]["name"] == "itm"
    assert doc["figures"]["n_censored"] == int(log["level_dbm"].isna().sum())
    for key, offset in doc["offsets_db"].items():
        # ≥ 240 rows per group, SE ≤ 0.45 dB: 1 dB
        assert offset == pytest.approx(TRUE_OFFSETS[key.split("/")[0]], abs=1.0), key
    # bad floor option: argparse's exit 2
    with pytest.raises(SystemExit) as exc:
        main(["calibrate", str(project), str(tmp_path / "walk.csv"), "--floor", "4G"])
    assert exc.value.code == 2
    # the project's model is the one calibrated
    assert main(["calibrate", "--project", str(project), str(tmp_path / "walk.csv"),
                 "--model", "hata", "--out", str(out), "--quiet"]) == 2  # fmt: skip
