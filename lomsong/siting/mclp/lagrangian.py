r"""Lagrangian relaxation of the maximal covering location problem: an upper bound.

Relax each coverage constraint :math:`y_j \le \sum_{i \in N_j} x_i` of the MCLP MILP (see
:mod:`lomsong.siting.mclp.milp`) with a multiplier :math:`\lambda_j \ge 0`:

.. math::

    L(\lambda) = \max_{x \in X,\; 0 \le y \le 1}
        \sum_j w_j y_j + \sum_j \lambda_j \Big(\sum_i a_{ij} x_i - y_j\Big)
      = \sum_j (w_j - \lambda_j)^+ + \max_{x \in X} \sum_i v_i x_i,
    \qquad v_i = \sum_j a_{ij} \lambda_j ,

with :math:`X` the site constraints (at most ``k`` sites: the ``k`` largest :math:`v_i`; a
budget: its LP, the fractional knapsack). :math:`L(\lambda) \ge` OPT for every
:math:`\lambda \ge 0`; :math:`L` is minimised by projected subgradient steps (Held, Wolfe &
Crowder 1974) in :func:`_lagrangian`, and :func:`lagrangian_bound` is its public front.

References
----------
Held, M., Wolfe, P. & Crowder, H. (1974). Validation of subgradient optimization.
*Mathematical Programming* 6, 62–88. Geoffrion, A. (1974). Lagrangean relaxation for
integer programming. *Mathematical Programming Study* 2, 82–114. Galvão, R. & ReVelle, C.
(1996). A Lagrangean heuristic for the maximal covering location problem. *European
Journal of Operational Research* 88, 114–123.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from lomsong.errors import InputError
from lomsong.siting.mclp._common import (
    _BUDGET_RTOL,
    _as_cover,
    _as_weights,
    _check_budget,
    _check_k,
    _covered_weight,
    _fits,
)
from lomsong.siting.mclp.greedy import greedy

__all__ = ["lagrangian_bound"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Relaxation:
    """Result of :func:`_lagrangian`, on the matrix it was given."""

    bound: float  # valid upper bound on the optimum (rounding margin in; floored if integral)
    raw_bound: float  # the same before flooring (what candidate fixing may use)
    multipliers: np.ndarray  # lambda at the best bound
    values: np.ndarray  # v = A lambda there: each candidate's Lagrangian value
    best_set: np.ndarray  # best feasible site set seen (the incumbent or a Lagrangian pick)
    best_value: float  # its covered weight
    iterations: int
    time_s: float


def _relaxed_pick(
    v: np.ndarray, k: int, costs: np.ndarray | None, budget: float | None, knapsack: bool
) -> tuple[float, np.ndarray, np.ndarray | None, np.ndarray]:
    """Maximise ``sum_i v_i x_i`` over a relaxation of the site constraints (``v >= 0``).

    Cardinality: the ``k`` largest ``v_i`` (an integral optimum). Budget (``knapsack``): the
    LP optimum over ``0 <= x <= 1, sum c_i x_i <= B``, i.e. Dantzig's fractional knapsack: items
    by decreasing ``v_i / c_i``, the first that does not fit taken fractionally.

    Returns the maximum, the rows and fractions of the maximiser (``None`` = all 1) and a set
    of rows that is feasible for the real constraints (used as a primal heuristic).
    """
    n = len(v)
    if k >= n:
        top = np.arange(n)
    elif k == 0:
        top = np.zeros(0, dtype=np.int64)
    else:
        top = np.argpartition(-v, k - 1)[:k]
    if costs is None or budget is None:
        return float(v[top].sum()), top, None, top
    order = np.argsort(-(v / costs), kind="stable")
    order = order[v[order] > 0]
    cum = np.cumsum(costs[order])
    n_full = int(np.searchsorted(cum, budget * (1.0 + _BUDGET_RTOL), side="right"))
    full = order[:n_full]
    # feasible set: the whole items, trimmed to the budget (exactly summed) and to k sites
    feas = full[np.argsort(-v[full], kind="stable")[:k]]
    while len(feas) and not _fits(math.fsum(costs[feas[:-1]]), float(costs[feas[-1]]), budget):
        feas = feas[:-1]
    if not knapsack:
        return float(v[top].sum()), top, None, feas
    value = float(v[full].sum())
    rows, frac = full, np.ones(n_full)
    if n_full < len(order):
        nxt = order[n_full]
        spent = float(cum[n_full - 1]) if n_full else 0.0
        f = min(1.0, max(0.0, (budget * (1.0 + _BUDGET_RTOL) - spent) / float(costs[nxt])))
        value += f * float(v[nxt])
        rows, frac = np.append(full, nxt), np.append(frac, f)
    return value, rows, frac, feas


def _lagrangian(
    A: sp.csr_array,
    w: np.ndarray,
    k: int,
    *,
    costs: np.ndarray | None = None,
    budget: float | None = None,
    incumbent: np.ndarray | None = None,
    iterations: int = 1000,
    time_limit_s: float = 30.0,
    rel_tol: float = 1e-4,
    start: np.ndarray | None = None,
    report: Callable[[float, float], None] | None = None,
) -> _Relaxation:
    """Subgradient optimisation of the Lagrangian dual of the MCLP; see :func:`lagrangian_bound`.

    ``A`` is a canonical boolean CSR array, ``w`` its weights, ``k`` an int (``n`` = no limit),
    ``start`` the first multipliers (default ``w / 2``; a warm start then takes step factor 1).
    ``report(best_value, bound)`` is called after every iteration (the caller throttles).
    """
    t0 = time.perf_counter()
    n, m = A.shape
    ptr, ind = A.indptr, A.indices
    eps = float(np.finfo(np.float64).eps)
    integral = bool(np.all(w == np.round(w))) and float(w.sum()) < 2.0**53
    # Rounding: every float sum below adds fewer than `terms` non-negative numbers, and a float
    # sum of s non-negative terms errs by less than s * eps * (exact sum) in any order (Higham
    # 2002, §4.2); the products v_i = sum_j a_ij lambda_j are such sums too. Inflating each bound
    # by 2 * terms * eps relative (~1e-10 at 200,000 columns) keeps it an upper bound.
    terms = m + int(np.diff(ptr).max(initial=0)) + n + 4
    inflate = 1.0 + 2.0 * terms * eps
    best_set = np.zeros(0, dtype=np.int64) if incumbent is None else np.asarray(incumbent)
    best_value = _covered_weight(A, w, best_set)
    if k == 0 or m == 0 or n == 0 or not (w > 0).any():  # nothing can be covered
        zero = np.zeros(m)
        return _Relaxation(0.0, 0.0, zero, np.zeros(n), best_set, best_value, 0, 0.0)
    # The matrix with float64 entries (the index arrays are reused): sparse @ vector on a
    # boolean matrix would convert all of it to float64 at every iteration.
    F = sp.csr_array((np.ones(len(ind)), ind, ptr), shape=A.shape)
    # With a budget and a count limit, each relaxation alone is valid and the smaller of the two
    # is reported, but the subgradient follows one fixed relaxation (the min of two convex
    # functions is not convex): the one that is smaller at the start.
    lam = 0.5 * w if start is None else np.clip(start, 0.0, w)
    knapsack = costs is not None
    if costs is not None and k < n:
        v0 = F @ lam
        top_k = float(np.partition(v0, n - k)[n - k :].sum())
        knapsack = _relaxed_pick(v0, k, costs, budget, True)[0] < top_k
    bound, raw_bound = math.inf, math.inf
    best_lam, best_v = lam, np.zeros(n)
    theta, stall, it = (2.0 if start is None else 1.0), 0, 0
    for it in range(1, iterations + 1):  # noqa: B007 - `it` is reported
        v = F @ lam
        value, rows, frac, feas = _relaxed_pick(v, k, costs, budget, knapsack)
        if costs is not None and k < n:  # also the other relaxation: a bound is a bound
            alt = _relaxed_pick(v, k, costs, budget, not knapsack)[0]
            other = min(value, alt)
        else:
            other = value
        rest = float((w - lam).sum())  # sum_j (w_j - lambda_j)^+ with 0 <= lambda <= w
        ub = rest + value
        safe = (rest + other) * inflate
        floored = float(math.floor(safe)) if integral else safe
        if floored < bound:
            bound, raw_bound, best_lam, best_v = floored, safe, lam, v
            stall = 0
        else:
            stall += 1
            if stall >= 20:  # Held & Karp (1971): halve the step after a run without progress
                theta, stall = theta / 2.0, 0
        got = _covered_weight(A, w, feas)  # the relaxed pick, made feasible: a primal heuristic
        if got > best_value:
            best_set, best_value = feas, got
        if report is not None:
            report(best_value, bound)
        if bound - best_value <= rel_tol * best_value or theta < 1e-3:
            break
        if time.perf_counter() - t0 > time_limit_s:
            break
        lengths = ptr[rows + 1] - ptr[rows]
        sel = np.concatenate([ind[ptr[r] : ptr[r + 1]] for r in rows]) if len(rows) else ind[:0]
        wts = None if frac is None else np.repeat(frac, lengths)
        # subgradient of the dual function: d/d lambda_j = (coverers of j picked) - 1
        g = np.bincount(sel, weights=wts, minlength=m) - 1.0
        g[(lam <= 0.0) & (g > 0.0)] = 0.0  # components the projection on [0, w] would undo
        g[(lam >= w) & (g < 0.0)] = 0.0
        norm2 = float(g @ g)
        if norm2 == 0.0:
            break
        # Polyak step towards the best known primal value (the target of Held-Karp-Crowder)
        lam = np.clip(lam - theta * max(ub - best_value, 0.0) / norm2 * g, 0.0, w)
    dt = time.perf_counter() - t0
    logger.info(
        "lagrangian: bound %.6g, best set %.6g (gap %.3g) after %d iterations in %.2f s",
        bound, best_value, (bound - best_value) / best_value if best_value > 0 else math.inf,
        it, dt,
    )  # fmt: skip
    return _Relaxation(
        bound=bound,
        raw_bound=raw_bound,
        multipliers=best_lam,
        values=best_v,
        best_set=np.asarray(best_set, dtype=np.int64),
        best_value=best_value,
        iterations=it,
        time_s=dt,
    )


def lagrangian_bound(
    cover: Any,
    weights: Any,
    k: int | None,
    *,
    costs: Any = None,
    budget: float | None = None,
    iterations: int = 1000,
    time_limit_s: float = 30.0,
    incumbent: Any = None,
    rel_tol: float = 1e-4,
) -> tuple[float, np.ndarray]:
    r"""An upper bound on the maximal covering optimum by Lagrangian relaxation.

    Model
    -----
    Relax each coverage constraint :math:`y_j \le \sum_{i \in N_j} x_i` of the MCLP (see
    :func:`exact`) with a multiplier :math:`\lambda_j \ge 0`:

    .. math::

        L(\lambda) = \max_{x \in X,\; 0 \le y \le 1}
            \sum_j w_j y_j + \sum_j \lambda_j \Big(\sum_i a_{ij} x_i - y_j\Big)
          = \sum_j (w_j - \lambda_j)^+ + \max_{x \in X} \sum_i v_i x_i,
        \qquad v_i = \sum_j a_{ij} \lambda_j ,

    with :math:`X` the site constraints. Every feasible :math:`(x, y)` keeps the added term
    :math:`\ge 0`, so :math:`L(\lambda) \ge` OPT for **every** :math:`\lambda \ge 0`; values
    :math:`\lambda_j > w_j` only raise :math:`L`, so :math:`0 \le \lambda_j \le w_j` and then
    :math:`(w_j - \lambda_j)^+ = w_j - \lambda_j`. The problem separates: for
    :math:`X = \{|x| \le k\}` the inner maximum takes the ``k`` largest :math:`v_i` (all
    :math:`\ge 0`); with a budget it is relaxed further to its LP, the fractional knapsack
    (Dantzig 1957), and with both constraints the smaller of the two maxima is used. Since
    the cardinality subproblem has integral LP optima, :math:`\min_\lambda L` equals the LP
    relaxation bound (Geoffrion 1974), which is reached here without solving that LP.

    :math:`L` is minimised by projected subgradient steps (Held, Wolfe & Crowder 1974): the
    subgradient is :math:`g_j = |\{i \text{ picked}: a_{ij} = 1\}| - 1`, the step
    :math:`\theta (L(\lambda) - \underline{z}) / \|g\|^2` (Polyak) with
    :math:`\underline{z}` the best covered weight known, :math:`\theta` starting at 2 and
    halved after 20 iterations without a better bound. Each iterate's value is a valid bound;
    the smallest is returned. Every pick, trimmed to be feasible, is also evaluated as a
    site set, which improves :math:`\underline{z}`.

    Parameters
    ----------
    cover, weights
        As for :func:`greedy`.
    k
        Maximum number of sites (``None`` only with a budget).
    costs, budget
        Budget variant, as for :func:`greedy`.
    iterations
        Maximum number of subgradient iterations.
    time_limit_s
        Wall-clock limit (s) of the iterations, checked after each one.
    incumbent
        A feasible site set (candidate indices) whose covered weight is the step target; by
        default the greedy answer.
    rel_tol
        Stop once ``bound - best covered weight <= rel_tol * best covered weight``.

    Returns
    -------
    upper_bound : float
        An upper bound on the largest weight any feasible site set covers. It includes a
        margin for float rounding (relative ~1e-10 at 200,000 demand points); with integer
        weights it is rounded down to an integer (the optimum is one).
    multipliers : ndarray
        :math:`\lambda` at that bound, one per demand column of ``cover``. ``cover @ lambda``
        ranks candidates by Lagrangian value: a candidate whose value is far below the
        ``k``-th largest cannot be in a set that beats the incumbent.

    Notes
    -----
    Each iteration costs one sparse matrix-vector product (O(nnz)) and a ``bincount`` over the
    picked rows: ~0.04-0.06 s at 36 M non-zeros on one core. Memory: a float64 copy of the
    matrix's entries (8 bytes per non-zero) besides the matrix itself.

    References
    ----------
    Held, M., Wolfe, P. & Crowder, H. (1974). Validation of subgradient optimization.
    *Mathematical Programming* 6, 62–88. Geoffrion, A. (1974). Lagrangean relaxation for
    integer programming. *Mathematical Programming Study* 2, 82–114. Galvão, R. & ReVelle, C.
    (1996). A Lagrangean heuristic for the maximal covering location problem. *European
    Journal of Operational Research* 88, 114–123.
    """
    w = _as_weights(weights)
    A = _as_cover(cover, len(w))
    n = A.shape[0]
    costs_arr, b = _check_budget(costs, budget, n)
    kk = _check_k(k, n, allow_none=costs_arr is not None)
    if isinstance(iterations, bool) or not isinstance(iterations, int | np.integer):
        raise InputError("<iterations>", f"must be a positive integer, got {iterations!r}")
    if iterations < 1:
        raise InputError("<iterations>", f"must be a positive integer, got {iterations!r}")
    if not (time_limit_s > 0):
        raise InputError("<time_limit_s>", f"must be > 0, got {time_limit_s!r}")
    if incumbent is None:
        inc = greedy(A, w, kk, costs=costs_arr, budget=b).chosen
    else:
        inc = np.unique(np.asarray(incumbent, dtype=np.int64))
        if len(inc) and (inc.min() < 0 or inc.max() >= n):
            raise InputError("<incumbent>", f"candidate indices must be in [0, {n})")
        over = (
            costs_arr is not None and b is not None and not _fits(0.0, math.fsum(costs_arr[inc]), b)
        )
        if len(inc) > kk or over:
            raise InputError("<incumbent>", "is not a feasible site set (too many sites or cost)")
    relax = _lagrangian(
        A, w, kk, costs=costs_arr, budget=b, incumbent=inc, iterations=int(iterations),
        time_limit_s=float(time_limit_s), rel_tol=float(rel_tol),
    )  # fmt: skip
    return relax.bound, relax.multipliers
