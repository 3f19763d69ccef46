"""Tests of the site-ranking optimisation core on hand-built and random coverage matrices."""

from __future__ import annotations

import itertools
import math
import time

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.optimize import OptimizeResult

from lomsong.errors import InputError, LomsongError
from lomsong.siting import rank
from lomsong.siting.mclp import milp as milp_module

ONE_MINUS_1_OVER_E = 1.0 - 1.0 / math.e


# -- references written here, independent of the implementation ----------------------------
def naive_greedy(
    A: np.ndarray,
    w: np.ndarray,
    k: int,
    costs: np.ndarray | None = None,
    budget: float | None = None,
) -> list[int]:
    """Plain greedy: evaluate every candidate every round; lowest index wins ties."""
    A = np.asarray(A, dtype=bool)
    covered = np.zeros(A.shape[1], dtype=bool)
    chosen: list[int] = []
    spent = 0.0
    while len(chosen) < k:
        best, best_key = -1, 0.0
        for i in range(A.shape[0]):
            if costs is not None and spent + costs[i] > budget:
                continue
            g = w[A[i] & ~covered].sum()
            if g <= 0:
                continue
            key = g / costs[i] if costs is not None else g
            if key > best_key:  # strict: an equal key later never replaces a lower index
                best, best_key = i, key
        if best < 0:
            break
        chosen.append(best)
        covered |= A[best]
        if costs is not None:
            spent += costs[best]
    if costs is not None and k >= 1:
        # Khuller et al. (1999): compare with the best single affordable site
        single = [(w[A[i]].sum(), -i) for i in range(A.shape[0]) if costs[i] <= budget]
        if single:
            g1, neg_i = max(single)  # largest gain, then lowest index
            if g1 > covered_weight(A, w, chosen):
                chosen = [-neg_i]
    return chosen


def covered_weight(A: np.ndarray, w: np.ndarray, sites) -> float:
    sites = list(sites)
    if not sites:
        return 0.0
    return float(w[np.asarray(A, dtype=bool)[sites].any(axis=0)].sum())


def brute_force(A: np.ndarray, w: np.ndarray, k: int) -> float:
    n = A.shape[0]
    return max(covered_weight(A, w, s) for s in itertools.combinations(range(n), min(k, n)))


# -- hand-built instances --------------------------------------------------------------------
@pytest.fixture
def three_sets() -> tuple[sp.csr_array, np.ndarray]:
    """Left site covers the 4 left homes, right site the 4 right homes, the middle site 3 + 3.

    Greedy takes the big middle site (6) then one side (+1) = 7; the optimum is both sides = 8.
    """
    left = [1, 1, 1, 1, 0, 0, 0, 0]
    middle = [0, 1, 1, 1, 1, 1, 1, 0]
    right = [0, 0, 0, 0, 1, 1, 1, 1]
    return sp.csr_array(np.array([left, middle, right], dtype=bool)), np.ones(8)


def test_greedy_classic_trap(three_sets):
    A, w = three_sets
    res = rank.greedy(A, w, 2)
    # integer weights: sums are exact, so exact equality
    assert res.chosen.tolist() == [1, 0]  # middle first; tie left/right -> lowest index
    assert res.gains.tolist() == [6.0, 1.0]
    assert res.cumulative.tolist() == [6.0, 7.0]
    assert res.total_weight == 8.0
    assert res.share[-1] == pytest.approx(7 / 8, rel=1e-12)  # float division only


def test_exact_finds_optimum_greedy_misses(three_sets):
    A, w = three_sets
    sol = rank.exact(A, w, 2, time_limit_s=10)
    assert sol.status == "optimal"
    assert sorted(sol.chosen.tolist()) == [0, 2]
    assert sol.objective == 8.0  # integer weights: exact
    assert sol.greedy_objective == 7.0
    assert sol.ratio == pytest.approx(7 / 8, rel=1e-12)
    assert sol.ratio >= ONE_MINUS_1_OVER_E  # Nemhauser-Wolsey-Fisher guarantee
    assert sol.gap == pytest.approx(0.0, abs=1e-9)  # proven optimal; HiGHS reports ~0
    assert sol.gains.tolist() == [4.0, 4.0]


def test_greedy_stops_when_nothing_is_gained():
    A = sp.csr_array(np.array([[1, 1, 0], [1, 0, 0], [0, 0, 0]], dtype=bool))
    res = rank.greedy(A, np.array([1.0, 2.0, 0.0]), 3)
    assert res.chosen.tolist() == [0]  # site 1 adds nothing after 0; site 2 covers nothing
    assert res.objective == 3.0


def test_greedy_accepts_dense_and_01_input(three_sets):
    A, w = three_sets
    dense01 = A.toarray().astype(np.int8)
    assert rank.greedy(dense01, w, 2).chosen.tolist() == [1, 0]
    assert rank.greedy(sp.csc_matrix(dense01), w, 2).chosen.tolist() == [1, 0]


def test_exact_drops_useless_sites_and_reports_fewer_than_k(three_sets):
    A, w = three_sets
    sol = rank.exact(A, w, 3, time_limit_s=10)
    assert sol.objective == 8.0
    assert sorted(sol.chosen.tolist()) == [0, 2]  # the middle site adds nothing to both sides


# -- lazy greedy == plain greedy -------------------------------------------------------------
@settings(max_examples=300, deadline=None, database=None)
@given(
    A=hnp.arrays(bool, st.tuples(st.integers(1, 10), st.integers(1, 16))),
    data=st.data(),
)
def test_lazy_greedy_equals_naive_integer_weights(A, data):
    # small integer weights make ties frequent, which exercises the tie rule
    w = np.asarray(
        data.draw(st.lists(st.integers(0, 4), min_size=A.shape[1], max_size=A.shape[1])),
        dtype=float,
    )
    k = data.draw(st.integers(0, A.shape[0] + 1))
    res = rank.greedy(sp.csr_array(A), w, k)
    assert res.chosen.tolist() == naive_greedy(A, w, k)
    assert res.objective == covered_weight(A, w, res.chosen)  # integer weights: exact


def test_lazy_greedy_equals_naive_random_floats():
    rng = np.random.default_rng(20240601)
    for _ in range(40):
        n, m = rng.integers(5, 60), rng.integers(10, 300)
        A = rng.random((n, m)) < rng.uniform(0.02, 0.3)
        w = rng.gamma(1.5, 3.0, m) * (rng.random(m) < 0.9)
        k = int(rng.integers(1, n))
        res = rank.greedy(sp.csr_array(A), w, k)
        assert res.chosen.tolist() == naive_greedy(A, w, k)
        # float sums in different orders: agree to rounding (m <= 300 terms)
        assert res.objective == pytest.approx(covered_weight(A, w, res.chosen), rel=1e-12)


@settings(max_examples=200, deadline=None, database=None)
@given(
    A=hnp.arrays(bool, st.tuples(st.integers(1, 8), st.integers(1, 12))),
    data=st.data(),
)
def test_lazy_budget_greedy_equals_naive(A, data):
    n, m = A.shape
    w = np.asarray(data.draw(st.lists(st.integers(0, 6), min_size=m, max_size=m)), dtype=float)
    costs = np.asarray(data.draw(st.lists(st.integers(1, 5), min_size=n, max_size=n)), float)
    budget = float(data.draw(st.integers(0, 12)))
    res = rank.greedy(sp.csr_array(A), w, None, costs=costs, budget=budget)
    assert res.chosen.tolist() == naive_greedy(A, w, n, costs, budget)
    assert res.costs is not None and res.costs.sum() <= budget  # integer costs: exact


# -- connected greedy: relays are part of the plan -------------------------------------------
def _links(n: int, pairs) -> sp.csr_array:
    a = np.zeros((n, n), dtype=bool)
    for i, j in pairs:
        a[i, j] = a[j, i] = True
    return sp.csr_array(a)


def test_connected_greedy_builds_the_relay_a_site_needs():
    # site 0: direct hop, 40 homes; site 1: direct hop, no homes (a bare hilltop relay);
    # site 2: 100 homes but no hop to the network, only to site 1
    A = sp.csr_array(np.array([[1, 0], [0, 0], [0, 1]], dtype=bool))
    w = np.array([40.0, 100.0])
    direct = np.array([True, True, False])
    links = _links(3, [(1, 2)])
    two = rank.connected_greedy(A, w, 2, direct=direct, links=links)
    # relay then site: 100 homes for two sites beat 40 for one (50 per site > 40)
    assert two.chosen.tolist() == [1, 2]
    assert two.gains.tolist() == [0.0, 100.0]
    assert two.relay_for.tolist() == [2, -1]
    one = rank.connected_greedy(A, w, 1, direct=direct, links=links)
    assert one.chosen.tolist() == [0]  # no room for the relay: site 2 is out of reach
    three = rank.connected_greedy(A, w, 3, direct=direct, links=links)
    assert three.chosen.tolist() == [1, 2, 0]
    # costs count the relay too: 2 + 2 > 3 leaves only site 0 affordable
    cheap = rank.connected_greedy(A, w, None, direct=direct, links=links,
                                  costs=np.array([1.0, 2.0, 2.0]), budget=3.0)  # fmt: skip
    assert cheap.chosen.tolist() == [0]


def test_connected_greedy_hops_through_sites_already_chosen():
    # site 2 links only to site 0, which is worth choosing on its own: no extra relay needed
    A = sp.csr_array(np.array([[1, 0, 0], [0, 0, 1], [0, 1, 0]], dtype=bool))
    w = np.array([50.0, 30.0, 20.0])
    res = rank.connected_greedy(A, w, 2, direct=np.array([True, True, False]),
                                links=_links(3, [(0, 2)]))  # fmt: skip
    assert res.chosen.tolist() == [0, 2]  # 2 (30 homes) becomes eligible once 0 is chosen
    assert res.relay_for.tolist() == [-1, -1]


@settings(max_examples=150, deadline=None, database=None)
@given(
    A=hnp.arrays(bool, st.tuples(st.integers(1, 9), st.integers(1, 12))),
    data=st.data(),
)
def test_connected_greedy_equals_greedy_when_every_site_has_a_direct_hop(A, data):
    n, m = A.shape
    w = np.asarray(data.draw(st.lists(st.integers(0, 4), min_size=m, max_size=m)), dtype=float)
    k = data.draw(st.integers(0, n + 1))
    links = _links(n, data.draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)))))
    direct = np.ones(n, dtype=bool)
    plain = rank.greedy(sp.csr_array(A), w, k)
    conn = rank.connected_greedy(sp.csr_array(A), w, k, direct=direct, links=links)
    assert conn.chosen.tolist() == plain.chosen.tolist()
    assert conn.gains.tolist() == plain.gains.tolist()
    costs = np.asarray(data.draw(st.lists(st.integers(1, 5), min_size=n, max_size=n)), float)
    budget = float(data.draw(st.integers(0, 12)))
    plain = rank.greedy(sp.csr_array(A), w, k, costs=costs, budget=budget)
    conn = rank.connected_greedy(sp.csr_array(A), w, k, direct=direct, links=links,
                                 costs=costs, budget=budget)  # fmt: skip
    assert conn.chosen.tolist() == plain.chosen.tolist()
    assert conn.rule == plain.rule


@settings(max_examples=150, deadline=None, database=None)
@given(
    A=hnp.arrays(bool, st.tuples(st.integers(1, 9), st.integers(1, 12))),
    data=st.data(),
)
def test_connected_greedy_plans_are_connected_within_k_and_budget(A, data):
    n, m = A.shape
    w = np.asarray(data.draw(st.lists(st.integers(0, 4), min_size=m, max_size=m)), dtype=float)
    k = data.draw(st.integers(0, n + 1))
    direct = np.asarray(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    pairs = data.draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1))))
    links = _links(n, pairs)
    with_budget = data.draw(st.booleans())
    costs = np.asarray(data.draw(st.lists(st.integers(1, 5), min_size=n, max_size=n)), float)
    budget = float(data.draw(st.integers(0, 12)))
    res = rank.connected_greedy(
        sp.csr_array(A), w, k, direct=direct, links=links,
        costs=costs if with_budget else None, budget=budget if with_budget else None,
    )  # fmt: skip
    picks = res.chosen.tolist()
    assert len(picks) <= k and len(set(picks)) == len(picks)
    if with_budget:
        assert costs[picks].sum() <= budget
    dense = links.toarray()
    for t, i in enumerate(picks):  # in build order, every site hops to the network or a built one
        assert direct[i] or dense[i, picks[:t]].any()
    assert res.objective == covered_weight(A, w, picks)
    for i, r in zip(picks, res.relay_for.tolist(), strict=True):
        assert r == -1 or (r in picks and picks.index(r) > picks.index(i))


# -- budget variant --------------------------------------------------------------------------
def test_budget_best_single_site_beats_ratio_greedy():
    # site 0: cheap and efficient (2 homes for 1); site 1: takes the whole budget, 10 homes.
    # Ratio greedy takes site 0 (ratio 2 > 1) and can no longer afford site 1 -> 2 homes.
    A = np.zeros((2, 12), dtype=bool)
    A[0, :2] = True
    A[1, 2:] = True
    w, costs = np.ones(12), np.array([1.0, 10.0])
    res = rank.greedy(A, w, None, costs=costs, budget=10.0)
    assert res.rule == "best_single"
    assert res.chosen.tolist() == [1]
    assert res.objective == 10.0
    sol = rank.exact(A, w, None, costs=costs, budget=10.0, time_limit_s=10)
    assert sol.chosen.tolist() == [1] and sol.objective == 10.0  # integer weights: exact
    sol11 = rank.exact(A, w, None, costs=costs, budget=11.0, time_limit_s=10)
    assert sorted(sol11.chosen.tolist()) == [0, 1] and sol11.objective == 12.0


def test_budget_exact_matches_brute_force():
    rng = np.random.default_rng(7)
    for _ in range(10):
        n, m = 8, 20
        A = rng.random((n, m)) < 0.25
        w = rng.integers(1, 10, m).astype(float)
        costs = rng.integers(1, 6, n).astype(float)
        budget = float(rng.integers(4, 12))
        best = max(
            covered_weight(A, w, s)
            for r in range(n + 1)
            for s in itertools.combinations(range(n), r)
            if costs[list(s)].sum() <= budget
        )
        sol = rank.exact(A, w, None, costs=costs, budget=budget, time_limit_s=10)
        assert sol.status == "optimal"
        assert sol.objective == best  # integer weights: exact
        assert costs[sol.chosen].sum() <= budget
        assert sol.greedy_objective <= best


def test_costs_and_budget_go_together(three_sets):
    A, w = three_sets
    with pytest.raises(InputError, match="together"):
        rank.greedy(A, w, 2, costs=np.ones(3))
    with pytest.raises(InputError, match="costs"):
        rank.greedy(A, w, 2, costs=np.array([1.0, 0.0, 1.0]), budget=2.0)


# -- exact vs brute force --------------------------------------------------------------------
def test_exact_matches_brute_force_over_k_subsets():
    rng = np.random.default_rng(42)
    worst_ratio = 1.0
    for trial in range(15):
        n, m = int(rng.integers(4, 10)), int(rng.integers(5, 25))
        A = rng.random((n, m)) < 0.3
        w = rng.integers(0, 9, m).astype(float)
        k = int(rng.integers(1, 4))
        best = brute_force(A, w, k)
        sol = rank.exact(sp.csr_array(A), w, k, time_limit_s=10)
        assert sol.status in ("optimal", "trivial"), trial
        assert sol.objective == best, trial  # integer weights: exact
        assert len(sol.chosen) <= k
        assert covered_weight(A, w, sol.chosen) == best
        assert sol.greedy_objective <= best
        if best > 0:
            worst_ratio = min(worst_ratio, sol.ratio)
    assert worst_ratio >= ONE_MINUS_1_OVER_E


def test_exact_with_float_weights_matches_brute_force():
    rng = np.random.default_rng(3)
    n, m = 9, 30
    A = rng.random((n, m)) < 0.2
    w = rng.gamma(2.0, 1.7, m)
    sol = rank.exact(A, w, 3, time_limit_s=10)
    # floats summed in different orders by HiGHS and here: agree to rounding
    assert sol.objective == pytest.approx(brute_force(A, w, 3), rel=1e-12)


def test_exact_time_limit_returns_gap():
    # random MCLPs have weak LP bounds: HiGHS cannot close this one in 1 s
    rng = np.random.default_rng(1)
    A = sp.random_array((200, 2000), density=0.03, rng=rng, format="csr")
    w = rng.integers(1, 20, 2000).astype(float)
    limit = 1.0
    sol = rank.exact(A, w, 10, time_limit_s=limit)
    assert sol.status in ("time_limit", "time_limit_greedy")
    # HiGHS checks the clock between nodes; 2 s slack covers a loaded 2-core machine
    assert sol.time_s <= limit + 2.0
    assert sol.gap >= 0.0
    assert sol.bound >= sol.objective - 1e-6  # dual bound above incumbent (HiGHS tol 1e-6)
    assert sol.objective >= sol.greedy_objective  # never worse than the greedy answer
    assert len(sol.chosen) <= 10


def test_solver_failure_becomes_lomsong_error(three_sets, monkeypatch):
    A, w = three_sets

    def broken_milp(*_args, **_kwargs):
        return OptimizeResult(status=4, x=None, message="HiGHS internal error", success=False)

    monkeypatch.setattr(milp_module, "milp", broken_milp)
    with pytest.raises(LomsongError, match="solver_error.*HiGHS internal error"):
        rank.exact(A, w, 2)
    with pytest.raises(LomsongError, match="solver_error"):
        rank.set_cover(A, w, 1.0)


# -- partial set cover -----------------------------------------------------------------------
@pytest.fixture
def greedy_set_cover_trap() -> tuple[np.ndarray, np.ndarray]:
    """Two rows of 7 homes. Sites: row A, row B, and three column blocks of 2, 4 and 8 homes.

    The optimum covers everything with the two rows (2 sites); greedy takes the block of 8 first,
    then the block of 4, then the block of 2 (3 sites).
    """
    m = 14  # homes a0..a6 = 0..6, b0..b6 = 7..13
    A = np.zeros((5, m), dtype=bool)
    A[0, 0:7] = True  # row A
    A[1, 7:14] = True  # row B
    A[2, [0, 7]] = True  # block of 2
    A[3, [1, 2, 8, 9]] = True  # block of 4
    A[4, [3, 4, 5, 6, 10, 11, 12, 13]] = True  # block of 8
    return A, np.ones(m)


def test_set_cover_minimal_count(greedy_set_cover_trap):
    A, w = greedy_set_cover_trap
    sol = rank.set_cover(sp.csr_array(A), w, 1.0, time_limit_s=10)
    assert sol.status == "optimal"
    assert sorted(sol.chosen.tolist()) == [0, 1]
    assert sol.objective == 2.0
    assert sol.greedy_objective == 3.0
    assert sol.ratio == pytest.approx(1.5, rel=1e-12)  # float division only
    assert sol.covered_weight == 14.0 and sol.share == 1.0
    # brute force: no single site covers everything
    assert max(covered_weight(A, w, [i]) for i in range(5)) < 14


def test_set_cover_partial_target(greedy_set_cover_trap):
    A, w = greedy_set_cover_trap
    sol = rank.set_cover(A, w, 8 / 14, time_limit_s=10)
    assert sol.objective == 1.0 and sol.chosen.tolist() == [4]
    sol = rank.set_cover(A, w, 9 / 14, time_limit_s=10)
    assert sol.objective == 2.0 and sol.covered_weight >= 9


def test_set_cover_unreachable_target_names_best_share():
    A = np.array([[1, 1, 0, 0], [0, 1, 0, 0]], dtype=bool)
    w = np.array([1.0, 1.0, 1.0, 1.0])  # demand 2, 3 have no coverer -> best share 0.5
    with pytest.raises(InputError, match=r"at most 0\.5\b"):
        rank.set_cover(A, w, 0.75)
    assert rank.set_cover(A, w, 0.5).chosen.tolist() == [0]


# -- reduction and validation ----------------------------------------------------------------
def test_reduce_demand_drops_and_merges():
    A = np.array(
        [
            [1, 1, 0, 1, 0, 1],
            [0, 0, 1, 0, 0, 1],
        ],
        dtype=bool,
    )
    w = np.array([2.0, 3.0, 1.0, 0.0, 5.0, 4.0])
    # col 0, 1 same coverers {0} -> merged weight 5; col 3 zero weight; col 4 no coverer
    A_red, w_red, class_of = rank.reduce_demand(A, w)
    assert class_of.tolist() == [0, 0, 1, -1, -1, 2]
    assert w_red.tolist() == [5.0, 1.0, 4.0]
    assert A_red.toarray().tolist() == [[True, False, True], [False, True, True]]


def test_bad_inputs_are_input_errors(three_sets):
    A, w = three_sets
    with pytest.raises(InputError, match="negative or not finite"):
        rank.greedy(A, np.r_[w[:-1], -1.0], 2)
    with pytest.raises(InputError, match="8 entries"):
        rank.greedy(A[:, :7], w, 2)
    with pytest.raises(InputError, match="non-negative integer"):
        rank.greedy(A, w, -1)
    with pytest.raises(ValueError, match="target_share"):  # InputError is a ValueError
        rank.set_cover(A, w, 1.5)


# -- Lagrangian bound and the large-instance path of exact ----------------------------------
def brute_force_budget(A: np.ndarray, w: np.ndarray, k: int, costs, budget) -> float:
    n = A.shape[0]
    return max(
        covered_weight(A, w, s)
        for r in range(min(k, n) + 1)
        for s in itertools.combinations(range(n), r)
        if costs[list(s)].sum() <= budget
    )


def test_lagrangian_bound_is_a_bound_on_random_instances():
    rng = np.random.default_rng(11)
    for trial in range(80):
        n, m = int(rng.integers(3, 10)), int(rng.integers(4, 30))
        A = rng.random((n, m)) < rng.uniform(0.1, 0.5)
        w = rng.integers(0, 9, m).astype(float)
        k = int(rng.integers(1, 5))
        best = brute_force(A, w, k)
        ub, lam = rank.lagrangian_bound(sp.csr_array(A), w, k, iterations=200)
        # integer weights: the bound is floored to an integer, the optimum is one: exact
        assert best <= ub <= w.sum(), trial
        assert lam.shape == (m,) and np.all(lam >= 0) and np.all(lam <= w), trial


def test_lagrangian_bound_with_float_weights_and_budget():
    rng = np.random.default_rng(12)
    for trial in range(40):
        n, m = int(rng.integers(3, 9)), int(rng.integers(4, 25))
        A = rng.random((n, m)) < 0.3
        w = rng.gamma(2.0, 1.7, m)
        k = int(rng.integers(1, 4))
        # float weights: the bound carries a rounding margin (~1e-14 relative here) larger than
        # the brute force's own rounding (< 25 eps), so >= holds exactly
        ub, _ = rank.lagrangian_bound(A, w, k, iterations=200)
        assert brute_force(A, w, k) <= ub <= w.sum() * (1 + 1e-12), trial  # margin: see above
        costs = rng.integers(1, 6, n).astype(float)
        budget = float(rng.integers(2, 10))
        best = brute_force_budget(A, w, n, costs, budget)
        ub_b, _ = rank.lagrangian_bound(A, w, None, costs=costs, budget=budget, iterations=200)
        assert best <= ub_b, trial
        best_kb = brute_force_budget(A, w, k, costs, budget)
        ub_kb, _ = rank.lagrangian_bound(A, w, k, costs=costs, budget=budget, iterations=200)
        assert best_kb <= ub_kb, trial


def test_lagrangian_bound_known_answers(three_sets):
    A, w = three_sets
    # the LP bound of k = 2 is 8 (both sides), which the optimum reaches
    ub, _ = rank.lagrangian_bound(A, w, 2)
    assert ub == 8.0  # integer weights: floored bound, exact
    # k = 1: optimum 6 (middle site); LP: x_mid = 1 -> 6 as well
    ub1, _ = rank.lagrangian_bound(A, w, 1)
    assert ub1 == 6.0
    assert rank.lagrangian_bound(A, w, 0)[0] == 0.0
    with pytest.raises(InputError, match="incumbent"):
        rank.lagrangian_bound(A, w, 1, incumbent=[0, 2])  # two sites for k = 1
    with pytest.raises(InputError, match="iterations"):
        rank.lagrangian_bound(A, w, 1, iterations=0)


def spatial_instance(n: int, m: int, radius: float, seed: int) -> tuple[sp.csr_array, np.ndarray]:
    """Disc coverage on the unit square: households clustered, candidate sites uniform."""
    rng = np.random.default_rng(seed)
    centres = rng.random((max(1, m // 50), 2))
    pts = centres[rng.integers(0, len(centres), m)] + rng.normal(scale=0.03, size=(m, 2))
    sites = rng.random((n, 2))
    d = np.hypot(*(sites[:, None, :] - pts[None, :, :]).transpose(2, 0, 1))
    return sp.csr_array(d <= radius), (rng.poisson(3.0, m) + 1).astype(float)


@pytest.fixture
def mid_instance() -> tuple[sp.csr_array, np.ndarray, float]:
    """300 sites x 3,000 households, k = 12, with its MILP optimum (normal path)."""
    A, w = spatial_instance(300, 3000, 0.1, 4)
    sol = rank.exact(A, w, K_MID, time_limit_s=60)
    assert sol.status == "optimal" and sol.extra["method"] == "milp"
    return A, w, sol.objective


K_MID = 12


def test_exact_lagrangian_path_proves_the_milp_optimum(mid_instance, monkeypatch):
    A, w, opt = mid_instance
    monkeypatch.setattr(milp_module, "_LAGRANGIAN_NNZ", 0)  # force the large-instance path
    sol = rank.exact(A, w, K_MID, time_limit_s=30)
    assert sol.extra["method"] == "lagrangian"
    # here the Lagrangian bound alone stays above the incumbent, but Lagrangian fixing leaves
    # a pool of a few candidates that holds every better set: the restricted MILP is exact
    assert sol.extra["lagrangian_bound"] > sol.greedy_objective
    assert sol.extra["pool_complete"] is True and sol.extra["pool"] < 300 // 4
    assert sol.extra["restricted_status"] == "optimal"
    assert sol.objective == opt  # integer weights: exact
    assert sol.status == "optimal" and sol.gap == 0.0
    assert sol.objective >= sol.greedy_objective
    assert covered_weight(A.toarray(), w, sol.chosen) == sol.objective
    assert len(sol.chosen) <= K_MID


def test_exact_lagrangian_path_without_proof_reports_a_finite_gap(mid_instance, monkeypatch):
    A, w, opt = mid_instance
    monkeypatch.setattr(milp_module, "_LAGRANGIAN_NNZ", 0)
    # few iterations and a tiny pool: the bound stays loose and the pool incomplete
    monkeypatch.setattr(milp_module, "_LAGRANGIAN_ITERATIONS", 5)
    monkeypatch.setattr(milp_module, "_RESTRICTED_POOL", 6)
    monkeypatch.setattr(milp_module, "_RESTRICTED_NNZ", 0)  # no second, complete round either
    sol = rank.exact(A, w, K_MID, time_limit_s=30)
    assert sol.status in ("lagrangian", "lagrangian_restricted")
    assert sol.extra["pool_complete"] is False
    assert math.isfinite(sol.gap) and sol.gap > 0.0
    assert sol.bound >= opt  # a valid bound: at least the true optimum (both integers: exact)
    assert sol.greedy_objective <= sol.objective <= opt
    assert sol.gap == pytest.approx((sol.bound - sol.objective) / sol.objective, rel=1e-12)


def test_exact_lagrangian_path_respects_the_time_limit(monkeypatch):
    A, w = spatial_instance(600, 6000, 0.09, 9)
    monkeypatch.setattr(milp_module, "_LAGRANGIAN_NNZ", 0)
    limit = 3.0
    t0 = time.perf_counter()
    sol = rank.exact(A, w, 10, time_limit_s=limit)
    elapsed = time.perf_counter() - t0
    # the whole call is budgeted; 1.5 s slack for HiGHS's clock and a loaded 2-core machine
    assert elapsed <= limit + 1.5
    assert math.isfinite(sol.gap) and sol.bound >= sol.objective >= sol.greedy_objective


def test_small_instances_keep_the_milp_path(monkeypatch):
    # San Francisco-sized (spopt's MCLP instance: 16 candidates, 205 tracts, 4 sites)
    A, w = spatial_instance(16, 205, 0.2, 3)

    def no_lagrangian(*_args, **_kwargs):
        raise AssertionError("the Lagrangian path must not run on small instances")

    monkeypatch.setattr(milp_module, "_lagrangian", no_lagrangian)
    sol = rank.exact(A, w, 4, time_limit_s=10)
    assert sol.status == "optimal" and sol.extra["method"] == "milp"
    assert sol.objective == brute_force(A.toarray(), w, 4)  # integer weights: exact
