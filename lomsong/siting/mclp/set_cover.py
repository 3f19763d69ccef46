r"""Partial set covering: the fewest sites that reach a target share of all households.

Model:

.. math::

    \min \sum_i x_i
    \quad \text{s.t.} \quad
    \sum_j w_j y_j \ge \tau W, \qquad
    y_j \le \sum_{i \in N_j} x_i \;\; \forall j, \qquad
    x_i \in \{0, 1\}, \; 0 \le y_j \le 1,

with :math:`W = \sum_j w_j` the total weight and :math:`\tau` the target share, solved as a MILP
with HiGHS (the helpers of :mod:`lomsong.siting.mclp.milp`) on the reduced demand side
(:mod:`lomsong.siting.mclp.reduce`); the greedy answer is reported alongside.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.optimize import LinearConstraint

from lomsong.defaults import TIME_LIMIT_S
from lomsong.errors import InputError
from lomsong.siting.mclp._common import _as_cover, _as_weights, _covered_weight
from lomsong.siting.mclp.greedy import _order_chosen, greedy
from lomsong.siting.mclp.milp import _MILP_STATUS, _attr, _milp_matrix, _solve
from lomsong.siting.mclp.reduce import reduce_demand
from lomsong.siting.mclp.results import Solution

__all__ = ["set_cover"]


def set_cover(
    cover: Any,
    weights: Any,
    target_share: float,
    *,
    time_limit_s: float = TIME_LIMIT_S,
    mip_rel_gap: float = 0.0,
) -> Solution:
    r"""Fewest sites that together cover at least ``target_share`` of all households.

    Model (partial set covering)
    ----------------------------
    .. math::

        \min \sum_i x_i
        \quad \text{s.t.} \quad
        \sum_j w_j y_j \ge \tau W, \qquad
        y_j \le \sum_{i \in N_j} x_i \;\; \forall j, \qquad
        x_i \in \{0, 1\}, \; 0 \le y_j \le 1,

    with :math:`W = \sum_j w_j` the total weight (covered or not) and :math:`\tau` the target
    share. :math:`y` may stay continuous: for a binary :math:`x` the largest reachable
    :math:`\sum_j w_j y_j` is the weight covered by :math:`x` (each :math:`y_j` at its integer
    bound), so :math:`x` is feasible with continuous :math:`y` exactly when it is with binary
    :math:`y`. The demand side is reduced first (:func:`reduce_demand`).

    Parameters
    ----------
    cover, weights
        As for :func:`greedy`.
    target_share
        In (0, 1]: the share of the total weight to reach.
    time_limit_s, mip_rel_gap
        As for :func:`exact`.

    Returns
    -------
    Solution
        ``objective`` is the number of sites; ``greedy_objective`` the number the greedy needs;
        ``ratio = greedy / exact`` (≥ 1).

    Raises
    ------
    InputError
        If the target cannot be reached even with every candidate; the message gives the best
        reachable share.
    """
    w = _as_weights(weights)
    A = _as_cover(cover, len(w))
    n = A.shape[0]
    tau = float(target_share)
    if not (0.0 <= tau <= 1.0):
        raise InputError("<target_share>", f"must be in [0, 1], got {target_share!r}")
    total = math.fsum(w)
    need = tau * total
    A_red, w_red, _ = reduce_demand(A, w)
    reachable = math.fsum(w_red)
    if need > reachable * (1.0 + 1e-12):
        best = reachable / total if total > 0 else 0.0
        raise InputError(
            "<target_share>",
            f"a share of {tau:.4g} cannot be reached: all {n} candidates together cover "
            f"{reachable:.6g} of {total:.6g} households, a share of at most {best:.4g}",
        )
    g = greedy(A, w, None)
    n_greedy = int(np.searchsorted(g.cumulative, need * (1.0 - 1e-12))) + 1 if need > 0 else 0
    if need <= 0:
        return Solution(
            chosen=np.zeros(0, dtype=np.int64),
            gains=np.zeros(0),
            objective=0.0,
            gap=0.0,
            status="trivial",
            time_s=0.0,
            greedy_objective=0.0,
            ratio=1.0,
            bound=0.0,
            covered_weight=0.0,
            total_weight=total,
        )
    n_dem = A_red.shape[1]
    c = np.concatenate([np.ones(n), np.zeros(n_dem)])
    integrality = np.concatenate([np.ones(n), np.zeros(n_dem)])
    # HiGHS satisfies rows within a 1e-7 feasibility tolerance; asking for the target minus a
    # hair keeps a target equal to the reachable weight feasible despite rounding of w sums.
    rhs = min(need, reachable) * (1.0 - 1e-12)
    cons = [
        LinearConstraint(
            _milp_matrix(A_red, [], [w_red]),
            np.concatenate([np.full(n_dem, -np.inf), [rhs]]),
            np.concatenate([np.zeros(n_dem), [np.inf]]),
        )
    ]
    res, dt = _solve(
        c,
        integrality,
        cons,
        time_limit_s=time_limit_s,
        mip_rel_gap=mip_rel_gap,
        what="set cover",
    )
    status = _MILP_STATUS[int(res.status)]
    bound = _attr(res, "mip_dual_bound", 0.0)
    gap = _attr(res, "mip_gap", math.inf)
    if res.x is None or (status == "time_limit" and n_greedy < int(np.sum(res.x[:n] > 0.5))):
        chosen = g.chosen[:n_greedy]
        status = "time_limit_greedy"
        gap = (n_greedy - bound) / n_greedy
    else:
        chosen = np.flatnonzero(res.x[:n] > 0.5)
    if status == "optimal":
        gap = max(gap, 0.0)
    chosen, gains = _order_chosen(A, w, chosen)
    covered = _covered_weight(A, w, chosen)
    count = float(len(chosen))
    return Solution(
        chosen=chosen,
        gains=gains,
        objective=count,
        gap=gap,
        status=status,
        time_s=dt,
        greedy_objective=float(n_greedy),
        ratio=n_greedy / count if count > 0 else 1.0,
        bound=bound,
        covered_weight=covered,
        total_weight=total,
        n_rows=n,
        n_cols=n_dem,
    )
