"""Progress of the long steps through the caller's callback: the backhaul graph's site pairs and
the exact MCLP's best value against its proven bound (``lomsong.siting``). The commune sheets'
progress and ``--quiet`` are checked on a whole demo run in ``tests/test_sheets.py``."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from affine import Affine

from lomsong.grid import Grid
from lomsong.siting import backhaul as bh
from lomsong.siting.backhaul import Sites
from lomsong.siting.mclp import exact
from lomsong.siting.mclp import milp as milp_module

X0, Y0 = 500_000.0, 1_700_000.0
UTM = "EPSG:32648"


def _record() -> tuple[list[tuple[int, int]], object]:
    calls: list[tuple[int, int]] = []
    return calls, lambda done, total: calls.append((done, total))


def test_backhaul_graph_reports_every_block_of_pairs(monkeypatch) -> None:
    # flat ground, 1 tower and 4 candidates 2 km apart on a line, all within the 20 km hop:
    # 4 × 3 / 2 candidate pairs + 4 candidate-tower pairs = 10 profiles, in blocks of 3
    monkeypatch.setattr(bh, "PAIR_BLOCK", 3)
    terrain = Grid(np.zeros((70, 700)), Affine(30.0, 0, X0, 0, -30.0, Y0), UTM)
    y = Y0 - 1_000.0
    towers = Sites.from_arrays([X0 + 1_000.0], [y], 30.0, ids=["t0"])
    xs = X0 + 3_000.0 + 2_000.0 * np.arange(4)
    cands = Sites.from_arrays(xs, np.full(4, y), 30.0, ids=[f"c{i}" for i in range(4)])
    calls, progress = _record()
    G = bh.backhaul_graph(towers, cands, terrain, max_hop_km=20.0, progress=progress)
    assert calls == [(3, 10), (6, 10), (9, 10), (10, 10)]
    assert G.number_of_edges() == 10  # flat ground: every hop has line of sight


def test_backhaul_graph_without_pairs_still_finishes_its_bar() -> None:
    terrain = Grid(np.zeros((70, 700)), Affine(30.0, 0, X0, 0, -30.0, Y0), UTM)
    towers = Sites.from_arrays([X0 + 1_000.0], [Y0 - 1_000.0], 30.0, ids=["t0"])
    none = Sites.from_arrays([], [], [])
    calls, progress = _record()
    bh.backhaul_graph(towers, none, terrain, progress=progress)
    assert calls == [(0, 0)]


@pytest.fixture
def three_sets() -> tuple[sp.csr_array, np.ndarray]:
    """Left site covers the 4 left homes, right site the 4 right homes, the middle one 3 + 3:
    greedy takes the middle (6) then a side (+1) = 7; the optimum is both sides = 8."""
    left = [1, 1, 1, 1, 0, 0, 0, 0]
    middle = [0, 1, 1, 1, 1, 1, 1, 0]
    right = [0, 0, 0, 0, 1, 1, 1, 1]
    return sp.csr_array(np.array([left, middle, right], dtype=bool)), np.ones(8)


def test_exact_reports_greedy_then_the_closed_gap(three_sets) -> None:
    A, w = three_sets
    calls, progress = _record()
    sol = exact(A, w, 2, progress=progress)
    assert sol.status == "optimal" and sol.objective == 8.0
    # first the greedy answer (7 homes) of the trivial bound (all 8 homes), last the optimum
    # proven (8 of 8: the bar is full)
    assert calls[0] == (7, 8)
    assert calls[-1] == (8, 8)
    assert all(done <= total for done, total in calls)


def test_exact_lagrangian_path_reports_its_bound(three_sets, monkeypatch) -> None:
    monkeypatch.setattr(milp_module, "_LAGRANGIAN_NNZ", 0)  # force the large-instance path
    monkeypatch.setattr(milp_module, "_REPORT_S", 0.0)  # every report, not 4 a second
    A, w = three_sets
    calls, progress = _record()
    sol = exact(A, w, 2, progress=progress)
    assert sol.extra["method"] == "lagrangian" and sol.objective == 8.0
    assert calls[0] == (7, 8) and calls[-1] == (8, 8)
    assert len(calls) >= 3  # the subgradient iterations report too
    # the best value never falls and the bound never rises
    done, totals = [c[0] for c in calls], [c[1] for c in calls]
    assert done == sorted(done) and totals == sorted(totals, reverse=True)


def test_exact_without_progress_is_unchanged(three_sets) -> None:
    A, w = three_sets
    assert exact(A, w, 2).objective == 8.0
