r"""The maximal covering location problem solved exactly, as a MILP with HiGHS.

Model (Church & ReVelle 1974):

.. math::

    \max \sum_{j} w_j y_j
    \quad \text{s.t.} \quad
    y_j \le \sum_{i \in N_j} x_i \;\; \forall j, \qquad
    \sum_i x_i \le k \;\; (\text{and/or} \; \sum_i c_i x_i \le B), \qquad
    x_i \in \{0, 1\}, \; 0 \le y_j \le 1,

with :math:`N_j` the candidates covering demand point *j*; only :math:`x` is integer. The
demand side is reduced first (:mod:`lomsong.siting.mclp.reduce`) and the model solved by HiGHS
through :func:`scipy.optimize.milp`. Above ``_LAGRANGIAN_NNZ`` non-zeros :func:`exact` takes its
large-instance path instead: greedy incumbent, Lagrangian bound
(:mod:`lomsong.siting.mclp.lagrangian`), Lagrangian fixing and a MILP restricted to the most
promising candidates. The HiGHS call and the constraint matrix (:func:`_solve`,
:func:`_milp_matrix`) also serve :mod:`lomsong.siting.mclp.set_cover`.

References
----------
Church, R. & ReVelle, C. (1974). The maximal covering location problem. *Papers of the Regional
Science Association* 32, 101–118.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from lomsong.defaults import TIME_LIMIT_S
from lomsong.errors import InputError, LomsongError
from lomsong.siting.mclp._common import (
    _as_cover,
    _as_weights,
    _check_budget,
    _check_k,
    _covered_weight,
)
from lomsong.siting.mclp.greedy import _order_chosen, greedy
from lomsong.siting.mclp.lagrangian import _lagrangian, _Relaxation
from lomsong.siting.mclp.reduce import reduce_demand
from lomsong.siting.mclp.results import GreedyResult, Solution

__all__ = ["exact"]

logger = logging.getLogger(__name__)

#: HiGHS status codes of :func:`scipy.optimize.milp` as short, readable words.
_MILP_STATUS = {
    0: "optimal",
    1: "time_limit",
    2: "infeasible",
    3: "unbounded",
    4: "solver_error",
}

#: :func:`exact` hands the full MILP to HiGHS only while the reduced coverage matrix has at most
#: this many non-zeros; above it the Lagrangian path is taken (greedy incumbent, Lagrangian
#: bound, MILP restricted to the most promising candidates). Measured on the spatial instances of
#: ``benchmarks/siting.py`` (k = 20, ~1 % density, 2 cores, HiGHS 1.12, 60 s limit), non-zeros
#: after reduction: 0.73 M solve to optimality in 24 s; 1.6 M end at the limit (76 s) without
#: an incumbent or a bound; 4.3 M have nothing after 300 s; at 36 M presolve alone outlasts the
#: limit (HiGHS checks its clock only between phases): 150-230 s and 4.3 GB, no bound. The
#: Lagrangian path proved the optimum of the 0.73 M, 1.6 M and 4.3 M instances in 1-5 s.
_LAGRANGIAN_NNZ = 1_000_000

#: Candidates in the MILP restricted to the most promising sites (Lagrangian path).
_RESTRICTED_POOL = 300

#: Most non-zeros of a second restricted MILP, tried only when Lagrangian fixing proves that its
#: candidates hold every better site set (HiGHS solved such models of ~0.5 M non-zeros in seconds
#: to a few tens of seconds on the benchmark instances).
_RESTRICTED_NNZ = 500_000

#: Most subgradient iterations of the Lagrangian path of :func:`exact` (time usually stops it
#: first: ~0.05 s per iteration at 36 M non-zeros).
_LAGRANGIAN_ITERATIONS = 5000

#: Least time between two progress reports of :func:`exact` (s): a bar redrawn 4 times a second.
_REPORT_S = 0.25


class _Tracker:
    """The progress of :func:`exact`: ``advance(done, total)`` with the weight covered by the
    best site set found (rounded down) of the smallest proven upper bound (rounded up), so
    the bar fills as the gap closes (``total / done - 1`` is the gap). Reports at most every
    :data:`_REPORT_S` seconds, and always the last values (:meth:`done`)."""

    def __init__(self, advance: Callable[[int, int], None] | None, incumbent: float,
                 bound: float) -> None:  # fmt: skip
        self.advance, self.incumbent, self.bound, self.last = advance, incumbent, bound, -math.inf

    def __call__(self, incumbent: float, bound: float) -> None:
        self.incumbent = max(self.incumbent, incumbent)
        if math.isfinite(bound):
            self.bound = min(self.bound, bound)
        if self.advance is not None and time.perf_counter() - self.last >= _REPORT_S:
            self._report()

    def _report(self) -> None:
        self.last = time.perf_counter()
        bound = max(self.bound, self.incumbent)
        self.advance(int(math.floor(self.incumbent + 1e-9)), int(math.ceil(bound - 1e-9)))

    def done(self, incumbent: float, bound: float) -> None:
        self.incumbent, self.bound = incumbent, bound if math.isfinite(bound) else self.bound
        if self.advance is not None:
            self._report()


# -- MILP helpers ---------------------------------------------------------------------------
def _solve(
    c: np.ndarray,
    integrality: np.ndarray,
    constraints: list[LinearConstraint],
    *,
    time_limit_s: float,
    mip_rel_gap: float,
    what: str,
    presolve: bool = True,
) -> tuple[Any, float]:
    if not (time_limit_s > 0):
        raise InputError("<time_limit_s>", f"must be > 0, got {time_limit_s!r}")
    t0 = time.perf_counter()
    try:
        res = milp(
            c,
            integrality=integrality,
            bounds=Bounds(0.0, 1.0),
            constraints=constraints,
            options={
                "time_limit": float(time_limit_s),
                "mip_rel_gap": float(mip_rel_gap),
                "disp": False,
                "presolve": bool(presolve),
            },
        )
    except (ValueError, RuntimeError, MemoryError) as exc:  # HiGHS/scipy refused the model
        raise LomsongError(f"{what}: the MILP solver failed: {exc}") from exc
    dt = time.perf_counter() - t0
    status = _MILP_STATUS.get(int(res.status), f"status_{res.status}")
    logger.info("%s: HiGHS %s in %.2f s (%s)", what, status, dt, res.message)
    if status not in ("optimal", "time_limit"):
        raise LomsongError(f"{what}: the MILP solver stopped with status '{status}': {res.message}")
    return res, dt


def _attr(res: Any, name: str, default: float) -> float:
    v = getattr(res, name, None)
    return default if v is None else float(v)


def _milp_matrix(
    A_red: sp.csr_array, x_rows: list[np.ndarray], y_rows: list[np.ndarray]
) -> sp.csc_array:
    """Constraint matrix ``[-A^T | I]`` (rows ``y_j - sum_i a_ij x_i``) followed by dense rows
    over ``x`` only (``x_rows``, each of length n_candidates) and over ``y`` only (``y_rows``,
    each of length n_classes, non-zero).

    Built directly in CSC, the form HiGHS takes: the column of ``x_i`` *is* row ``i`` of
    ``A_red``'s CSR arrays, so nothing is transposed, stacked or converted. On a 20,000 ×
    174,000 matrix with 35 M entries the former ``hstack`` + ``LinearConstraint`` list cost
    ~10 s and ~1.5 GB more before HiGHS started.
    """
    n, m = A_red.shape
    ex, ey = len(x_rows), len(y_rows)
    ptr = A_red.indptr.astype(np.int64)
    nnz_x = int(ptr[-1]) + n * ex
    # x columns: the classes candidate i covers (coefficient -1), then one entry per x-row
    indptr = np.empty(n + m + 1, dtype=np.int64)
    indptr[: n + 1] = ptr + np.arange(n + 1, dtype=np.int64) * ex
    indptr[n + 1 :] = nnz_x + np.arange(1, m + 1, dtype=np.int64) * (1 + ey)
    indices = np.empty(int(indptr[-1]), dtype=np.int64)
    data = np.empty(int(indptr[-1]), dtype=np.float64)
    extra = np.zeros(nnz_x, dtype=bool)
    for r in range(ex):
        pos = indptr[1 : n + 1] - ex + r
        extra[pos] = True
        indices[pos] = m + r
        data[pos] = x_rows[r]
    indices[:nnz_x][~extra] = A_red.indices
    data[:nnz_x][~extra] = -1.0
    # y columns: the class's own row (coefficient 1), then one entry per y-row
    step = 1 + ey
    indices[nnz_x::step] = np.arange(m)
    data[nnz_x::step] = 1.0
    for r in range(ey):
        indices[nnz_x + 1 + r :: step] = m + ex + r
        data[nnz_x + 1 + r :: step] = y_rows[r]
    return sp.csc_array((data, indices, indptr), shape=(m + ex + ey, n + m))


# -- exact MCLP -----------------------------------------------------------------------------
def _mclp_milp(
    A_red: sp.csr_array,
    w_red: np.ndarray,
    kk: int,
    costs: np.ndarray | None,
    budget: float | None,
    *,
    time_limit_s: float,
    mip_rel_gap: float,
    presolve: bool = True,
    what: str = "exact MCLP",
) -> tuple[Any, float]:
    """Build the Church & ReVelle MILP on a reduced matrix and solve it with HiGHS."""
    n, n_dem = A_red.shape
    c = np.concatenate([np.zeros(n), -w_red])
    integrality = np.concatenate([np.ones(n), np.zeros(n_dem)])
    x_rows, x_ub = [], []
    if kk < n:
        x_rows.append(np.ones(n))
        x_ub.append(float(kk))
    if costs is not None and budget is not None:
        x_rows.append(costs)
        x_ub.append(budget)
    cons = [
        LinearConstraint(
            _milp_matrix(A_red, x_rows, []),
            np.concatenate([np.full(n_dem, -np.inf), np.zeros(len(x_rows))]),
            np.concatenate([np.zeros(n_dem), x_ub]),
        )
    ]
    return _solve(
        c,
        integrality,
        cons,
        time_limit_s=time_limit_s,
        mip_rel_gap=mip_rel_gap,
        what=what,
        presolve=presolve,
    )


def exact(
    cover: Any,
    weights: Any,
    k: int | None = None,
    *,
    costs: Any = None,
    budget: float | None = None,
    time_limit_s: float = TIME_LIMIT_S,
    mip_rel_gap: float = 0.0,
    progress: Callable[[int, int], None] | None = None,
) -> Solution:
    r"""Maximal covering location problem solved as a MILP with HiGHS.

    Model (Church & ReVelle 1974)
    -----------------------------
    .. math::

        \max \sum_{j} w_j y_j
        \quad \text{s.t.} \quad
        y_j \le \sum_{i \in N_j} x_i \;\; \forall j, \qquad
        \sum_i x_i \le k \;\; (\text{and/or} \; \sum_i c_i x_i \le B), \qquad
        x_i \in \{0, 1\}, \; 0 \le y_j \le 1,

    with :math:`N_j` the candidates covering demand point *j*. Only :math:`x` is declared
    integer: for any binary :math:`x` the right-hand side :math:`\sum_{i \in N_j} x_i` is an
    integer, so :math:`y_j`'s feasible range is :math:`[0, \min(1, \cdot)]` with an integer upper
    end, and with :math:`w_j > 0` (after reduction) every optimum puts :math:`y_j` at that end.
    Relaxing :math:`y` to continuous therefore changes neither the optimal value nor the optimal
    site sets, and it removes most branching variables.

    Before solving, the demand side is reduced (:func:`reduce_demand`): zero-weight and
    uncoverable columns are dropped and columns with identical coverer sets merged.

    Large instances
    ---------------
    When the reduced matrix has more than ``_LAGRANGIAN_NNZ`` (1 M) non-zeros, HiGHS would
    likely spend the whole time limit (at 36 M non-zeros: 150-230 s and 4 GB, in presolve)
    without returning an incumbent or a bound. Then, instead:

    1. the greedy answer is the incumbent;
    2. :func:`lagrangian_bound` gives an upper bound (about half the remaining time), and its
       picks, made feasible, may improve the incumbent;
    3. the MILP restricted to the ``_RESTRICTED_POOL`` (300) candidates of highest Lagrangian
       value (plus the incumbent's) is solved by HiGHS, presolve off, within the remaining
       time; its answer replaces the incumbent when better;
    4. Lagrangian fixing (:func:`_promising`) discards every candidate that cannot be in a
       set better than the incumbent. When the survivors are few (≤ 300, or ≤
       ``_RESTRICTED_NNZ`` non-zeros after step 3 improved the incumbent), the MILP over them
       holds every better set, so its bound is a bound of the full problem and it may prove
       optimality (status ``"optimal"``).

    ``gap`` is then ``(bound - objective) / objective`` with the smallest proven bound.

    Parameters
    ----------
    cover, weights
        As for :func:`greedy`.
    k
        Maximum number of sites (``None`` only with a budget).
    costs, budget
        Budget variant: cost per candidate (> 0) and the total budget.
    time_limit_s
        Wall-clock budget of the whole call (greedy, reduction and solver), in seconds; HiGHS
        gets what is left after the greedy and the reduction. HiGHS checks its clock only
        between phases, so a model near the size threshold may overrun by a few seconds. On
        timeout the best solution found is returned with its gap; if the greedy answer is
        better than HiGHS's incumbent the greedy one is returned (status
        ``"time_limit_greedy"``).
    mip_rel_gap
        Relative gap at which HiGHS (and the Lagrangian iterations) may stop (0 = prove
        optimality; HiGHS's default is 1e-4).
    progress
        Called as ``progress(covered, bound)``: the weight covered by the best site set found
        and the smallest proven upper bound, both rounded to integers (households), so that a
        progress bar is full when the gap is closed. First with the greedy answer and the total
        weight, then on the Lagrangian path after every subgradient iteration and restricted
        MILP (at most 4 times a second), and at the end with the returned objective and bound.
        HiGHS itself is called through :func:`scipy.optimize.milp`, which offers no callback:
        during one HiGHS solve the bar stands still.

    Returns
    -------
    Solution
        Sites that add nothing to the optimum are dropped, so fewer than ``k`` may be returned.
        ``status`` is ``"optimal"``, ``"time_limit"``, ``"time_limit_greedy"``, ``"trivial"``,
        or on the Lagrangian path ``"lagrangian"`` (incumbent from the greedy or the
        Lagrangian picks), ``"lagrangian_restricted"`` (from the restricted MILP) or
        ``"optimal"`` when the bound meets the incumbent. ``extra["method"]`` says which path
        ran (``"milp"`` or ``"lagrangian"``), with that path's figures.

    Raises
    ------
    LomsongError
        If HiGHS fails or reports the model infeasible/unbounded (it cannot be for valid input).
    """
    t_start = time.perf_counter()
    if not (time_limit_s > 0):
        raise InputError("<time_limit_s>", f"must be > 0, got {time_limit_s!r}")
    deadline = t_start + float(time_limit_s)
    w = _as_weights(weights)
    A = _as_cover(cover, len(w))
    n = A.shape[0]
    costs_arr, b = _check_budget(costs, budget, n)
    kk = _check_k(k, n, allow_none=costs_arr is not None)
    total = math.fsum(w)
    g = greedy(A, w, kk, costs=costs_arr, budget=b)
    track = _Tracker(progress, g.objective, total)
    track(g.objective, total)

    A_red, w_red, _ = reduce_demand(A, w)
    n_dem = A_red.shape[1]
    if n_dem == 0 or kk == 0 or (costs_arr is not None and not (costs_arr <= b).any()):
        track.done(0.0, 0.0)
        return Solution(
            chosen=np.zeros(0, dtype=np.int64),
            gains=np.zeros(0),
            objective=0.0,
            gap=0.0,
            status="trivial",
            time_s=0.0,
            greedy_objective=g.objective,
            ratio=1.0,
            bound=0.0,
            covered_weight=0.0,
            total_weight=total,
        )
    if A_red.nnz > _LAGRANGIAN_NNZ:
        logger.info(
            "exact MCLP: %d non-zeros after reduction > %d: Lagrangian bound and restricted MILP",
            A_red.nnz, _LAGRANGIAN_NNZ,
        )  # fmt: skip
        sol = _exact_lagrangian(
            A, w, A_red, w_red, kk, costs_arr, b, g,
            deadline=deadline, time_limit_s=float(time_limit_s), mip_rel_gap=mip_rel_gap,
            track=track,
        )  # fmt: skip
        track.done(sol.objective, sol.bound)
        return sol

    # a floor of 5 % of the limit, so that a slow reduction still leaves HiGHS a try
    left = max(deadline - time.perf_counter(), 0.05 * float(time_limit_s))
    res, dt = _mclp_milp(A_red, w_red, kk, costs_arr, b, time_limit_s=left, mip_rel_gap=mip_rel_gap)
    status = _MILP_STATUS[int(res.status)]
    bound = -_attr(res, "mip_dual_bound", -math.inf)
    chosen = np.zeros(0, dtype=np.int64) if res.x is None else np.flatnonzero(res.x[:n] > 0.5)
    obj = _covered_weight(A, w, chosen)
    gap = _attr(res, "mip_gap", math.inf)
    if status == "time_limit" and (res.x is None or g.objective > obj):
        chosen, obj, status = g.chosen, g.objective, "time_limit_greedy"
        gap = (bound - obj) / obj if obj > 0 else math.inf
    if status == "optimal":
        gap = max(gap, 0.0)
    chosen, gains = _order_chosen(A, w, chosen)
    track.done(obj, bound if math.isfinite(bound) else total)
    return Solution(
        chosen=chosen,
        gains=gains,
        objective=obj,
        gap=gap,
        status=status,
        time_s=dt,
        greedy_objective=g.objective,
        ratio=g.objective / obj if obj > 0 else 1.0,
        bound=bound,
        covered_weight=obj,
        total_weight=total,
        n_rows=n,
        n_cols=n_dem,
        extra={"greedy_rule": g.rule, "method": "milp", "highs_time_limit_s": left},
    )


# -- large instances: Lagrangian bound and restricted MILP ----------------------------------
def _promising(
    relax: _Relaxation,
    k: int,
    best: float,
    costs: np.ndarray | None,
    *,
    pool_size: int,
    row_nnz: np.ndarray | None = None,
    max_nnz: int = 0,
) -> tuple[np.ndarray, bool]:
    """Candidates for the restricted MILP, and whether they provably hold every site set that
    covers more than ``best``.

    Lagrangian fixing (cardinality case): a set containing candidate *i* outside the top ``k``
    of ``v`` is worth at most ``L(lambda) - v_(k) + v_i`` (the relaxed problem with
    ``x_i = 1``), so a candidate with ``v_i < v_(k) - (L - best)`` cannot be in any better set.
    The survivors are returned (complete) when there are at most ``pool_size`` of them or their
    rows hold at most ``max_nnz`` non-zeros (``row_nnz`` per candidate). Otherwise, and with a
    budget, the pool is the ``pool_size`` highest values (with a budget, half of them by value
    per cost) and not complete.
    """
    v = relax.values
    n = len(v)
    if costs is None and k < n:
        vk = float(np.partition(v, n - k)[n - k])  # the k-th largest value
        slack = relax.raw_bound - best
        keep = np.flatnonzero(v >= vk - slack - 1e-9 * relax.raw_bound)
        if len(keep) <= pool_size:
            return keep, True
        if row_nnz is not None and int(row_nnz[keep].sum()) <= max_nnz:
            return keep, True
    if n <= pool_size:
        return np.arange(n), True
    if costs is None:
        return np.argpartition(-v, pool_size - 1)[:pool_size], False
    half = pool_size // 2
    by_v = np.argpartition(-v, half - 1)[:half]
    by_ratio = np.argpartition(-(v / costs), pool_size - half - 1)[: pool_size - half]
    return np.union1d(by_v, by_ratio), False


def _exact_lagrangian(
    A: sp.csr_array,
    w: np.ndarray,
    A_red: sp.csr_array,
    w_red: np.ndarray,
    kk: int,
    costs: np.ndarray | None,
    budget: float | None,
    g: GreedyResult,
    *,
    deadline: float,
    time_limit_s: float,
    mip_rel_gap: float,
    track: _Tracker | None = None,
) -> Solution:
    """The large-instance path of :func:`exact` (see there): greedy incumbent, Lagrangian
    bound, MILP restricted to the most promising candidates; ``track`` is told every better
    value or bound."""
    track = track or _Tracker(None, g.objective, math.fsum(w))
    n = A.shape[0]
    # Leave ~10 % of the limit (at least 2 s) for what follows the solver: HiGHS's own clock
    # overruns a little, the solution is ordered, and scipy hands the model over.
    reserve = max(2.0, 0.1 * time_limit_s)
    chosen, obj, status = g.chosen, g.objective, "lagrangian"
    bound = math.inf
    extra: dict[str, Any] = {"greedy_rule": g.rule, "method": "lagrangian", "nnz": int(A_red.nnz)}
    solver_s, iterations, lagr_s, lagr_bound = 0.0, 0, 0.0, math.inf
    rounds: list[dict[str, Any]] = []
    row_nnz = np.diff(A_red.indptr)
    lam: np.ndarray | None = None
    # Two phases: subgradient iterations (most of the time), then restricted MILPs (usually
    # well under a second); if time is left and the gap open, the iterations resume from the
    # best multipliers towards the better incumbent, and the MILPs run again on the new values.
    for phase in range(2):
        left = deadline - time.perf_counter() - reserve
        if phase and (bound - obj <= mip_rel_gap * obj or left <= 2.0):
            break
        relax = _lagrangian(
            A_red, w_red, kk, costs=costs, budget=budget, incumbent=chosen,
            iterations=_LAGRANGIAN_ITERATIONS, time_limit_s=max(0.7 * left, 0.0),
            rel_tol=mip_rel_gap, start=lam, report=track,
        )  # fmt: skip
        lam = relax.multipliers
        iterations += relax.iterations
        lagr_s += relax.time_s
        solver_s += relax.time_s
        bound = min(bound, relax.bound)  # every phase's bound is valid: keep the least
        lagr_bound = min(lagr_bound, relax.bound)
        if relax.best_value > obj:
            chosen, obj, status = relax.best_set, relax.best_value, "lagrangian"
        for attempt in range(2):
            left = deadline - time.perf_counter() - reserve
            if bound - obj <= mip_rel_gap * obj or left <= 1.0:
                break
            if attempt == 0:
                pool, complete = _promising(relax, kk, obj, costs, pool_size=_RESTRICTED_POOL)
            else:
                # With the better incumbent of the first round fixing may leave a pool that
                # holds every better set; worth a MILP only then, and only if HiGHS can take it.
                pool, complete = _promising(
                    relax, kk, obj, costs, pool_size=_RESTRICTED_POOL, row_nnz=row_nnz,
                    max_nnz=_RESTRICTED_NNZ,
                )  # fmt: skip
                if not complete:
                    break
            pool = np.union1d(pool, chosen)
            sub, sub_w, _ = reduce_demand(A_red[pool], w_red)
            left = deadline - time.perf_counter() - reserve
            # an incomplete first pool gets half the time, leaving the rest for what follows
            limit = left if complete or attempt == 1 else 0.5 * left
            res, dt = _mclp_milp(
                sub, sub_w, min(kk, len(pool)), None if costs is None else costs[pool], budget,
                time_limit_s=max(limit, 1.0), mip_rel_gap=mip_rel_gap, presolve=False,
                what="restricted MCLP",
            )  # fmt: skip
            solver_s += dt
            rounds.append(
                {"phase": phase, "pool": len(pool), "pool_complete": complete,
                 "status": _MILP_STATUS[int(res.status)], "time_s": dt,
                 "cols": int(sub.shape[1]), "nnz": int(sub.nnz)}
            )  # fmt: skip
            threshold = obj  # fixing above was done against this value
            if res.x is not None:
                sel = pool[np.flatnonzero(res.x[: len(pool)] > 0.5)]
                got = _covered_weight(A_red, w_red, sel)
                if got > obj:
                    chosen, obj, status = sel, got, "lagrangian_restricted"
            r_bound = -_attr(res, "mip_dual_bound", -math.inf)
            track(obj, bound)
            if complete and math.isfinite(r_bound):
                # every set covering more than `threshold` lies in the pool
                bound = min(bound, max(r_bound, threshold))
                track(obj, bound)
                break
    extra.update(lagrangian_bound=lagr_bound, lagrangian_iterations=iterations, lagrangian_s=lagr_s)
    if rounds:
        last = rounds[-1]
        extra.update(
            pool=last["pool"], pool_complete=last["pool_complete"],
            restricted_status=last["status"], restricted_s=sum(r["time_s"] for r in rounds),
            restricted=rounds,
        )  # fmt: skip
    obj = _covered_weight(A, w, chosen)  # on the original matrix, for the record
    bound = max(bound, obj)  # never below a feasible value (rounding)
    gap = (bound - obj) / obj if obj > 0 else math.inf
    if gap <= max(mip_rel_gap, 0.0) and bound - obj <= 1e-9 * max(bound, 1.0):
        status = "optimal"
    chosen, gains = _order_chosen(A, w, chosen)
    return Solution(
        chosen=chosen,
        gains=gains,
        objective=obj,
        gap=gap,
        status=status,
        time_s=solver_s,
        greedy_objective=g.objective,
        ratio=g.objective / obj if obj > 0 else 1.0,
        bound=bound,
        covered_weight=obj,
        total_weight=math.fsum(w),
        n_rows=n,
        n_cols=A_red.shape[1],
        extra=extra,
    )
