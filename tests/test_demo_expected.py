"""The demo's answer is pinned: `make demo` gives the stored totals, dead villages and ranking.

A change of code that moves any of these numbers must update ``tests/data/demo_expected.json``
on purpose (and say why in its note): refactors must leave them exactly as they were.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from lomsong.cli import main

EXPECTED = json.loads(
    (Path(__file__).parent / "data" / "demo_expected.json").read_text(encoding="utf-8")
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("full-demo") / "demo"
    assert main(["demo", "--out", str(out), "--quiet"]) == 0  # the full province, as `make demo`
    return out


@pytest.mark.slow
def test_demo_totals_are_the_stored_ones(demo):
    totals = json.loads((demo / "summary.json").read_text(encoding="utf-8"))["totals"]
    assert {k: totals[k] for k in EXPECTED["totals"]} == EXPECTED["totals"]


@pytest.mark.slow
def test_demo_villages_are_the_stored_ones(demo):
    v = pd.read_csv(demo / "villages.csv", dtype={"village_id": str})
    uncovered = {r.village_id: int(r.households_uncovered) for r in v.itertuples()
                 if r.households_uncovered > 0}  # fmt: skip
    assert uncovered == EXPECTED["uncovered_by_village"]
    assert sorted(v.loc[v["dead"], "village_id"]) == EXPECTED["dead_villages"]
    # every figure adds up: the villages' uncovered households are the summary's
    assert v["households_uncovered"].sum() == EXPECTED["totals"]["households_uncovered"]


@pytest.mark.slow
def test_demo_ranking_is_the_stored_one(demo):
    r = pd.read_csv(demo / "ranking.csv", dtype={"site_id": str})
    assert [[s, int(n)] for s, n in zip(r["site_id"], r["new_households"], strict=True)] == (
        EXPECTED["ranking"]
    )
