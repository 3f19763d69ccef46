r"""The maximal covering location problem (MCLP) by the accelerated greedy algorithm.

Model: maximise the covered weight :math:`f(S) = \sum_j w_j \, [\exists i \in S: a_{ij} = 1]`
over site sets :math:`S` with :math:`|S| \le k`, or, with site costs :math:`c_i > 0` and a
budget :math:`B`, with :math:`\sum_{i \in S} c_i \le B` ("most households per budget").
:math:`f` is monotone submodular, so the greedy set is within a factor :math:`1 - 1/e` of the
optimum (Nemhauser, Wolsey & Fisher 1978); with a budget the gain-per-cost greedy is compared
with the best single affordable site (Khuller, Moss & Naor 1999, guarantee
:math:`1 - 1/\sqrt{e}`). Gains are evaluated lazily (Minoux 1978; CELF of Leskovec et al. 2007)
and as exact functions of the covered set, so the result is exactly the plain greedy's.

:func:`_order_chosen` orders the site set found by any model the way this greedy would add it.

References
----------
Nemhauser, G., Wolsey, L. & Fisher, M. (1978). An analysis of approximations for maximizing
submodular set functions. *Mathematical Programming* 14, 265–294.
Minoux, M. (1978). Accelerated greedy algorithms for maximizing submodular set functions.
*Optimization Techniques*, LNCIS 7, 234–243.
Leskovec, J. et al. (2007). Cost-effective outbreak detection in networks (CELF). *KDD '07*.
Khuller, S., Moss, A. & Naor, J. (1999). The budgeted maximum coverage problem. *Information
Processing Letters* 70, 39–45.
"""

from __future__ import annotations

import heapq
import logging
import math
from typing import Any

import numpy as np
import scipy.sparse as sp

from lomsong.siting.mclp._common import (
    _BUDGET_RTOL,
    _as_cover,
    _as_weights,
    _check_budget,
    _check_k,
    _fits,
)
from lomsong.siting.mclp.results import GreedyResult

__all__ = ["greedy"]

logger = logging.getLogger(__name__)


# -- gains ----------------------------------------------------------------------------------
class _Gains:
    """Marginal gain of each candidate given the demand covered so far.

    The lazy greedy is exact only if a gain recomputed later never exceeds the one computed
    earlier, bit for bit. Floating-point sums of different lengths in numpy's pairwise order do
    not guarantee that, so sums are made *exact functions of the set summed*: when all weights
    are integers with a total below 2**53 every float64 sum is exact; otherwise ``math.fsum``
    (correctly rounded, hence monotone in the set) is used.
    """

    def __init__(self, cover: sp.csr_array, w: np.ndarray) -> None:
        self.indptr = cover.indptr
        self.indices = cover.indices
        self.w = w
        self.covered = np.zeros(cover.shape[1], dtype=bool)
        self.integral = bool(np.all(w == np.round(w))) and float(w.sum()) < 2.0**53
        self.cover = cover

    def all(self) -> np.ndarray:
        if self.integral:
            return self._row_sums()
        return np.array([self.one(i) for i in range(self.cover.shape[0])], dtype=np.float64)

    def _row_sums(self, block: int = 2048) -> np.ndarray:
        """``cover @ w`` in row blocks: exact for integral weights (every partial sum is an
        integer below 2**53), and without the float64 copy of all of ``cover``'s entries that
        ``cover @ w`` makes for a boolean matrix (320 MB and ~1 s at 40 M entries)."""
        n = self.cover.shape[0]
        out = np.zeros(n, dtype=np.float64)
        ptr, ind = self.indptr, self.indices
        for s in range(0, n, block):
            e = min(n, s + block)
            lo, hi = int(ptr[s]), int(ptr[e])
            if hi == lo:
                continue
            full = np.diff(ptr[s : e + 1]) > 0  # reduceat needs the starts of non-empty rows
            out[s:e][full] = np.add.reduceat(self.w[ind[lo:hi]], ptr[s:e][full] - lo)
        return out

    def one(self, i: int) -> float:
        cols = self.indices[self.indptr[i] : self.indptr[i + 1]]
        vals = self.w[cols[~self.covered[cols]]]
        return float(vals.sum()) if self.integral else math.fsum(vals)

    def take(self, i: int) -> None:
        self.covered[self.indices[self.indptr[i] : self.indptr[i + 1]]] = True


# -- greedy ---------------------------------------------------------------------------------
def greedy(
    cover: Any,
    weights: Any,
    k: int | None = None,
    *,
    costs: Any = None,
    budget: float | None = None,
) -> GreedyResult:
    r"""Greedy maximal covering: repeatedly add the site that covers the most new weight.

    Model
    -----
    Maximise the covered weight :math:`f(S) = \sum_j w_j \, [\exists i \in S: a_{ij} = 1]`
    over site sets :math:`S` with :math:`|S| \le k`. :math:`f` is monotone submodular, so the
    greedy set is within a factor :math:`1 - 1/e \approx 0.632` of the optimum (Nemhauser,
    Wolsey & Fisher 1978); on real coverage matrices it is usually within a few percent.

    With ``costs`` :math:`c_i > 0` and a ``budget`` :math:`B` the constraint becomes
    :math:`\sum_{i \in S} c_i \le B` ("most households per budget"): the greedy picks the
    largest *gain per cost* among sites that still fit the remaining budget, then the result is
    compared with the best single affordable site and the better of the two is returned
    (the modified greedy of Khuller, Moss & Naor 1999, guarantee :math:`1 - 1/\sqrt{e} \approx
    0.393`; the plain ratio greedy alone has no guarantee). ``k`` may limit the count as well.

    Algorithm
    ---------
    Lazy (accelerated) evaluation — Minoux 1978, "CELF" of Leskovec et al. 2007: gains only
    shrink as sites are added, so a gain computed in an earlier round is an upper bound. Bounds
    sit in a priority queue keyed by (−bound, index); the top is recomputed until a freshly
    computed one stays on top. The result is *exactly* the plain greedy's, including the
    tie rule (lowest candidate index wins), because gains are computed as exact functions of
    the covered set (see :class:`_Gains`). The loop stops early when no site adds any weight.

    Parameters
    ----------
    cover
        Sparse (or dense) matrix ``(n_candidates, n_demand)``, non-zero = covers.
    weights
        Households per demand point, finite and ≥ 0.
    k
        Maximum number of sites; ``None`` = no limit (only with a budget, or to rank all).
    costs, budget
        Cost per candidate (> 0) and the total budget, in the same unit (e.g. million VND).

    Returns
    -------
    GreedyResult

    Notes
    -----
    Time about :math:`O(\mathrm{nnz} + k \cdot r \cdot \bar{n})` where :math:`r` is the number
    of re-evaluations per pick (typically a handful) and :math:`\bar{n}` the mean row length;
    memory O(nnz). A non-integral weight vector makes each evaluation a ``math.fsum`` (slower,
    still exact).
    """
    w = _as_weights(weights)
    A = _as_cover(cover, len(w))
    n = A.shape[0]
    costs_arr, b = _check_budget(costs, budget, n)
    kk = _check_k(k, n, allow_none=True)
    total = math.fsum(w)
    gains = _Gains(A, w)
    g0 = gains.all()

    chosen: list[int] = []
    picked_gains: list[float] = []
    spent = 0.0
    # Heap entries (-key, index); key = gain (or gain/cost). ``stamp[i]`` = pick count when
    # ``cur[i]`` was computed: an entry is fresh when stamp equals the current pick count.
    cur = g0.copy()
    stamp = np.zeros(n, dtype=np.int64)
    heap: list[tuple[float, int]] = []
    for i in range(n):
        if g0[i] <= 0:
            continue
        if costs_arr is not None and costs_arr[i] > b * (1.0 + _BUDGET_RTOL):
            continue
        key = g0[i] / costs_arr[i] if costs_arr is not None else g0[i]
        heap.append((-key, i))
    heapq.heapify(heap)

    while heap and len(chosen) < kk:
        _, i = heapq.heappop(heap)
        if costs_arr is not None and not _fits(spent, float(costs_arr[i]), b):  # type: ignore[arg-type]
            continue  # the remaining budget only shrinks: never affordable again
        if stamp[i] != len(chosen):
            g = gains.one(i)
            cur[i] = g
            stamp[i] = len(chosen)
            if g > 0:
                key = g / costs_arr[i] if costs_arr is not None else g
                heapq.heappush(heap, (-key, i))
            continue  # gains never grow again: a zero-gain site is dropped for good
        chosen.append(i)
        picked_gains.append(float(cur[i]))
        gains.take(i)
        if costs_arr is not None:
            spent = math.fsum([spent, float(costs_arr[i])])

    rule = "greedy"
    if costs_arr is not None:
        rule = "ratio"
        afford = np.flatnonzero(costs_arr <= b * (1.0 + _BUDGET_RTOL))  # type: ignore[operator]
        if len(afford) and kk >= 1:
            best = int(afford[np.argmax(g0[afford])])  # argmax: first (lowest index) on ties
            if g0[best] > math.fsum(picked_gains):
                chosen, picked_gains, rule = [best], [float(g0[best])], "best_single"
    ch = np.asarray(chosen, dtype=np.int64)
    gs = np.asarray(picked_gains, dtype=np.float64)
    logger.debug("greedy: %d sites, %.6g of %.6g weight covered", len(ch), gs.sum(), total)
    return GreedyResult(
        chosen=ch,
        gains=gs,
        cumulative=np.cumsum(gs),
        total_weight=total,
        costs=None if costs_arr is None else costs_arr[ch],
        rule=rule,
    )


# -- ordering a chosen set ------------------------------------------------------------------
def _order_chosen(A: sp.csr_array, w: np.ndarray, chosen: np.ndarray) -> tuple[np.ndarray, ...]:
    """Drop sites that add nothing; order the rest greedily; return (chosen, gains)."""
    if len(chosen) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    chosen = np.sort(chosen)
    # A site is redundant when every weighted point it covers is also covered by another chosen
    # site; drop such sites one at a time (highest index first) so coverage never changes.
    sub = A[chosen]
    count = np.asarray(sub.sum(axis=0)).ravel()
    keep = np.ones(len(chosen), dtype=bool)
    for r in range(len(chosen) - 1, -1, -1):
        cols = sub.indices[sub.indptr[r] : sub.indptr[r + 1]]
        cols = cols[w[cols] > 0]
        if np.all(count[cols] >= 2):
            keep[r] = False
            count[cols] -= 1
    chosen = chosen[keep]
    res = greedy(A[chosen], w, len(chosen))
    return chosen[res.chosen], res.gains
