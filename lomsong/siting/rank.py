"""Choose tower sites that bring the most uncovered households into coverage.

The optimisation core works on a sparse *coverage matrix* alone, so it can be tested and reused
without any geometry:

``cover``
    scipy.sparse matrix (or anything :func:`scipy.sparse.coo_array` accepts), shape
    ``(n_candidates, n_demand)``; a non-zero entry ``a_ij`` means candidate site *i* would serve
    demand point *j*.
``weights``
    float array ``(n_demand,)``, households at each demand point (finite, ≥ 0).

Three problems are solved:

* :func:`greedy` — the maximal covering location problem (MCLP) by the accelerated greedy
  algorithm, optionally with site costs and a budget;
* :func:`exact` — the same MCLP solved to proven optimality (or to a reported gap) as a MILP
  with HiGHS through :func:`scipy.optimize.milp`;
* :func:`set_cover` — the fewest sites that reach a target share of all households (partial set
  covering), also as a MILP.

References
----------
Church, R. & ReVelle, C. (1974). The maximal covering location problem. *Papers of the Regional
Science Association* 32, 101–118.
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
import time
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from lomsong.errors import InputError, LomsongError
from lomsong.layers.crs import WGS84
from lomsong.siting.backhaul import backhaul_graph, candidate_backhaul
from lomsong.siting.matrix import coverage_matrix

__all__ = [
    "GreedyResult",
    "Solution",
    "greedy",
    "exact",
    "lagrangian_bound",
    "set_cover",
    "reduce_demand",
    "rank_sites",
]

logger = logging.getLogger(__name__)

#: Relative slack when testing ``spent + cost <= budget`` so that costs such as 0.1 summing to a
#: budget of 1.0 are not rejected by floating-point rounding.
_BUDGET_RTOL = 1e-9

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


# -- results --------------------------------------------------------------------------------
@dataclass(frozen=True)
class GreedyResult:
    """Sites picked by :func:`greedy`, in pick order.

    Attributes
    ----------
    chosen
        Candidate indices (rows of ``cover``) in the order they were picked.
    gains
        Weight newly covered by each pick (households).
    cumulative
        Running total of ``gains``.
    total_weight
        Sum of all weights (covered or not), to turn ``cumulative`` into a share.
    costs
        Cost of each pick when a budget was given, else ``None``.
    rule
        ``"greedy"`` (largest gain), ``"ratio"`` (largest gain per cost) or ``"best_single"``
        (the single most valuable affordable site beat the ratio greedy; Khuller et al. 1999).
    """

    chosen: np.ndarray
    gains: np.ndarray
    cumulative: np.ndarray
    total_weight: float
    costs: np.ndarray | None = None
    rule: str = "greedy"

    @property
    def objective(self) -> float:
        """Total weight covered by all picks."""
        return float(self.cumulative[-1]) if len(self.cumulative) else 0.0

    @property
    def share(self) -> np.ndarray:
        """Cumulative share of the total weight after each pick (0 when the total is 0)."""
        if self.total_weight <= 0:
            return np.zeros(len(self.cumulative))
        return self.cumulative / self.total_weight


@dataclass(frozen=True)
class Solution:
    """A solution of :func:`exact` or :func:`set_cover`.

    Attributes
    ----------
    chosen
        Candidate indices, ordered as a greedy pass over the chosen set would add them (largest
        new weight first, ties by lowest index), so ``gains`` reads like a ranking.
    gains
        New weight covered by each site of ``chosen`` in that order.
    objective
        Covered weight (:func:`exact`) or number of sites (:func:`set_cover`).
    gap
        Relative gap ``|primal - dual| / |primal|`` (HiGHS's, or ``(bound - objective) /
        objective`` on the Lagrangian path of :func:`exact`); 0 when proven optimal, > 0 when
        the time limit stopped the search (``inf`` if no bound is known).
    status
        ``"optimal"``, ``"time_limit"``, ``"time_limit_greedy"`` (time ran out and the greedy
        incumbent was kept because HiGHS had nothing better), ``"trivial"`` (nothing to solve),
        or, on the Lagrangian path of :func:`exact`, ``"lagrangian"`` / ``"lagrangian_restricted"``
        (not proven optimal; incumbent from the greedy or Lagrangian picks / from the restricted
        MILP).
    time_s
        Wall-clock solver time in seconds (model building excluded; on the Lagrangian path the
        subgradient iterations plus the restricted MILPs).
    greedy_objective
        The same objective for the greedy answer.
    ratio
        ``greedy_objective / objective``: ≤ 1 for coverage (≥ 1 − 1/e for the cardinality
        case), ≥ 1 for :func:`set_cover` (site counts). 1 when both are 0.
    bound
        Best bound proven by HiGHS or the Lagrangian relaxation (an upper bound on the covered
        weight for :func:`exact`, a lower bound on the site count for :func:`set_cover`).
    covered_weight
        Weight covered by ``chosen`` (recomputed from the full matrix).
    total_weight
        Sum of all weights.
    n_rows, n_cols
        Size of the MILP actually solved (after problem reduction).
    """

    chosen: np.ndarray
    gains: np.ndarray
    objective: float
    gap: float
    status: str
    time_s: float
    greedy_objective: float
    ratio: float
    bound: float
    covered_weight: float
    total_weight: float
    n_rows: int = 0
    n_cols: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def share(self) -> float:
        """Covered share of the total weight."""
        return self.covered_weight / self.total_weight if self.total_weight > 0 else 0.0


# -- input checks ---------------------------------------------------------------------------
def _as_cover(cover: Any, n_demand: int | None = None) -> sp.csr_array:
    """A boolean CSR array with sorted indices, no explicit zeros and no duplicates."""
    fast = _canonical_csr(cover)
    if fast is not None:
        if n_demand is not None and fast.shape[1] != n_demand:
            raise InputError(
                "<cover>",
                f"has {fast.shape[1]} demand columns but weights has {n_demand} entries",
            )
        return fast
    try:
        coo = sp.coo_array(cover)
    except (TypeError, ValueError) as exc:
        raise InputError("<cover>", f"not a sparse or dense 2-D matrix: {exc}") from exc
    if coo.ndim != 2:
        raise InputError("<cover>", f"must be 2-D, got {coo.ndim}-D")
    nz = coo.data != 0
    csr = sp.csr_array(
        (np.ones(int(nz.sum()), dtype=bool), (coo.row[nz], coo.col[nz])), shape=coo.shape
    )
    csr.sum_duplicates()  # bool addition is logical or
    csr.sort_indices()
    if n_demand is not None and csr.shape[1] != n_demand:
        raise InputError(
            "<cover>",
            f"has {csr.shape[1]} demand columns but weights has {n_demand} entries",
        )
    return csr


def _canonical_csr(cover: Any) -> sp.csr_array | None:
    """``cover`` itself as a boolean CSR array when it already is canonical CSR, else ``None``.

    The general path of :func:`_as_cover` goes through COO and back, which on a 20,000 × 200,000
    matrix with 40 M entries costs 1–3 s and ~1 GB of temporaries, far more than the greedy
    itself (~0.1 s). A CSR input with sorted indices, no duplicates and no explicit zeros (what
    :mod:`lomsong.siting.matrix` and ``scipy.sparse`` constructors normally produce) is wrapped
    without copying its index arrays; they are only read, never written.
    """
    if not (sp.issparse(cover) and cover.format == "csr" and cover.ndim == 2):
        return None
    if not cover.has_canonical_format:  # sorted indices and no duplicates (checked, then cached)
        return None
    data = cover.data
    if data.dtype == bool:
        if not data.all():
            return None
    elif not (data != 0).all():
        return None
    else:
        data = np.ones(len(data), dtype=bool)
    out = sp.csr_array((data, cover.indices, cover.indptr), shape=cover.shape, copy=False)
    out.has_canonical_format = True
    return out


def _as_weights(weights: Any) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1:
        raise InputError("<weights>", f"must be 1-D, got shape {w.shape}")
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            "<weights>",
            f"{int(bad.sum())} weights are negative or not finite (first at index {i}: {w[i]})",
        )
    return w


def _as_costs(costs: Any, n: int) -> np.ndarray:
    c = np.asarray(costs, dtype=np.float64)
    if c.shape != (n,):
        raise InputError("<costs>", f"must have shape ({n},) (one per candidate), got {c.shape}")
    bad = ~np.isfinite(c) | (c <= 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            "<costs>",
            f"{int(bad.sum())} costs are not finite and > 0 (first at index {i}: {c[i]})",
        )
    return c


def _check_k(k: Any, n: int, *, allow_none: bool) -> int:
    if k is None:
        if allow_none:
            return n
        raise InputError("<k>", "the number of sites k is required")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0:
        raise InputError("<k>", f"must be a non-negative integer, got {k!r}")
    return int(k)


def _check_budget(costs: Any, budget: Any, n: int) -> tuple[np.ndarray | None, float | None]:
    if (costs is None) != (budget is None):
        raise InputError("<budget>", "costs and budget must be given together")
    if costs is None:
        return None, None
    b = float(budget)
    if not math.isfinite(b) or b < 0:
        raise InputError("<budget>", f"must be finite and >= 0, got {budget!r}")
    return _as_costs(costs, n), b


def _fits(spent: float, cost: float, budget: float) -> bool:
    return spent + cost <= budget * (1.0 + _BUDGET_RTOL)


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


# -- problem reduction ----------------------------------------------------------------------
def reduce_demand(cover: Any, weights: Any) -> tuple[sp.csr_array, np.ndarray, np.ndarray]:
    """Shrink the demand side of a covering problem without changing any objective value.

    1. Columns with zero weight or no coverer are dropped: they cannot change a covered weight.
    2. Columns covered by exactly the same set of candidates are merged into one whose weight is
       the sum: for every site set both are covered or neither is, so the covered weight of every
       site set is unchanged (up to float rounding of the sums).

    On coverage matrices built from household points this typically turns tens of thousands of
    points into a few hundred or thousand "coverage classes", which keeps the MILPs small.

    Parameters
    ----------
    cover, weights
        As for :func:`greedy`.

    Returns
    -------
    cover_reduced
        Boolean CSR array ``(n_candidates, n_classes)``.
    weights_reduced
        Summed weight per class (``math.fsum``).
    class_of
        For every original column, the index of its class, or −1 when it was dropped.
    """
    w = _as_weights(weights)
    A = _as_cover(cover, len(w))
    csc = A.tocsc()
    csc.sort_indices()
    counts = np.diff(csc.indptr)
    keep = (w > 0) & (counts > 0)
    found = _classes_hashed(csc, counts, keep)
    if found is None:  # a fingerprint collision (never seen): group by exact comparison
        found = _classes_exact(csc, keep)
    class_of, first = found
    # weight per class: math.fsum over its members (correctly rounded, order-free)
    n_class = len(first)
    w_red = np.zeros(n_class, dtype=np.float64)
    kept = np.flatnonzero(keep)
    size = np.bincount(class_of[kept], minlength=n_class)
    single = size[class_of[kept]] == 1
    w_red[class_of[kept[single]]] = w[kept[single]]
    multi = kept[~single]
    if len(multi):
        multi = multi[np.argsort(class_of[multi], kind="stable")]
        cls = class_of[multi]
        cuts = np.flatnonzero(np.diff(cls)) + 1
        for grp in np.split(multi, cuts):
            w_red[class_of[grp[0]]] = math.fsum(w[grp])
    # first member of each class holds its coverer set
    A_red = sp.csr_array(csc[:, first]) if len(first) else sp.csr_array((A.shape[0], 0), dtype=bool)
    A_red.sort_indices()
    logger.debug("reduce_demand: %d demand points -> %d classes", len(w), n_class)
    return A_red, w_red, class_of


def _classes_exact(csc: sp.csc_array, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Class of every column (−1 = dropped) and first column of each class, classes numbered by
    first appearance; grouping by the exact bytes of each column's sorted row indices."""
    class_of = np.full(csc.shape[1], -1, dtype=np.int64)
    key_to_class: dict[bytes, int] = {}
    first: list[int] = []
    ind, ptr = csc.indices, csc.indptr
    for j in np.flatnonzero(keep):
        key = ind[ptr[j] : ptr[j + 1]].tobytes()
        c = key_to_class.get(key)
        if c is None:
            c = key_to_class[key] = len(first)
            first.append(int(j))
        class_of[j] = c
    return class_of, np.asarray(first, dtype=np.int64)


def _classes_hashed(
    csc: sp.csc_array, counts: np.ndarray, keep: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """The same grouping as :func:`_classes_exact`, vectorised (≈ 10× faster at 200,000
    columns): columns are grouped by (length, two random 64-bit fingerprints of their coverer
    sets), then every merged column is compared entry by entry with its class's first column.
    Returns ``None`` if any comparison fails (a fingerprint collision), so the result is exact.
    """
    n_cand, n_col = csc.shape
    class_of = np.full(n_col, -1, dtype=np.int64)
    kept = np.flatnonzero(keep)
    if len(kept) == 0:
        return class_of, np.zeros(0, dtype=np.int64)
    ind, ptr = csc.indices, csc.indptr.astype(np.int64)
    rng = np.random.default_rng(0x5EED)
    nonempty = np.flatnonzero(counts > 0)
    pos = np.searchsorted(nonempty, kept)  # kept columns are non-empty
    key = np.empty((len(kept), 3), dtype=np.uint64)
    key[:, 0] = counts[kept]
    for c in (1, 2):
        r = rng.integers(0, 2**64, size=n_cand, dtype=np.uint64, endpoint=False)
        # sums modulo 2**64 (unsigned wrap-around); empty columns sit between segments only
        key[:, c] = np.add.reduceat(r[ind], ptr[nonempty])[pos]
    _, first_pos, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    order = np.argsort(first_pos, kind="stable")  # number classes by first appearance
    rank_of = np.empty(len(order), dtype=np.int64)
    rank_of[order] = np.arange(len(order))
    cls = rank_of[inverse]
    first = kept[first_pos[order]]
    rep = first[cls]
    merged = kept != rep
    if merged.any():
        a, b = kept[merged], rep[merged]
        length = counts[a].astype(np.int64)
        offs = np.arange(int(length.sum())) - np.repeat(np.cumsum(length) - length, length)
        if not np.array_equal(
            ind[np.repeat(ptr[a], length) + offs], ind[np.repeat(ptr[b], length) + offs]
        ):
            return None
    class_of[kept] = cls
    return class_of, first


def _covered_weight(A: sp.csr_array, w: np.ndarray, chosen: np.ndarray) -> float:
    if len(chosen) == 0:
        return 0.0
    hit = np.zeros(A.shape[1], dtype=bool)
    hit[A[chosen].indices] = True
    return math.fsum(w[hit])


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


# -- Lagrangian bound -----------------------------------------------------------------------
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
) -> _Relaxation:
    """Subgradient optimisation of the Lagrangian dual of the MCLP; see :func:`lagrangian_bound`.

    ``A`` is a canonical boolean CSR array, ``w`` its weights, ``k`` an int (``n`` = no limit),
    ``start`` the first multipliers (default ``w / 2``; a warm start then takes step factor 1).
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
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 0.0,
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

    A_red, w_red, _ = reduce_demand(A, w)
    n_dem = A_red.shape[1]
    if n_dem == 0 or kk == 0 or (costs_arr is not None and not (costs_arr <= b).any()):
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
        return _exact_lagrangian(
            A, w, A_red, w_red, kk, costs_arr, b, g,
            deadline=deadline, time_limit_s=float(time_limit_s), mip_rel_gap=mip_rel_gap,
        )  # fmt: skip

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
) -> Solution:
    """The large-instance path of :func:`exact` (see there): greedy incumbent, Lagrangian
    bound, MILP restricted to the most promising candidates."""
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
            rel_tol=mip_rel_gap, start=lam,
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
            if complete and math.isfinite(r_bound):
                # every set covering more than `threshold` lies in the pool
                bound = min(bound, max(r_bound, threshold))
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


# -- partial set cover ----------------------------------------------------------------------
def set_cover(
    cover: Any,
    weights: Any,
    target_share: float,
    *,
    time_limit_s: float = 60.0,
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


# -- from geography to the matrix and back: the ranking table --------------------------------
def rank_sites(
    candidates: Any,
    gaps: Any,
    terrain: Any,
    *,
    sites: int = 10,
    method: str = "greedy",
    towers: Any = None,
    require_backhaul: bool = False,
    time_limit_s: float = 60.0,
    budget: float | None = None,
    target_share: float = 0.9,
    backhaul_freq_ghz: float = 7.0,
    backhaul_max_hop_km: float = 20.0,
    progress: Any = None,
) -> Any:
    """Rank candidate sites by the households each newly covers, best first.

    Each candidate is predicted at the uncovered household points with the engine that found
    the dead zones (:func:`lomsong.siting.matrix.coverage_matrix`); the maximal covering
    problem is then solved on that matrix, by :func:`greedy` (``method="greedy"``: each next
    site is the one that newly covers the most still-uncovered households), :func:`exact`
    (``"exact"``: the optimal k sites, or within a reported gap) or :func:`set_cover`
    (``"set_cover"``: the fewest sites reaching ``target_share``).

    Parameters
    ----------
    candidates
        From :func:`lomsong.candidate_sites` or :func:`lomsong.read_candidates`.
    gaps
        A :class:`~lomsong.coverage.deadzones.DeadZones`.
    terrain
        Elevation Grid (m) of the project.
    sites
        Number of sites to propose (k).
    towers
        Existing towers: when given, each site's microwave backhaul is checked
        (:mod:`lomsong.siting.backhaul`).
    require_backhaul
        Only candidates with backhaul to the existing network may be chosen.
    budget
        With a ``cost`` column on the candidates: most households within this budget.
    target_share
        ``method="set_cover"``: the fewest sites that reach this share of the uncovered
        households (``sites`` is then ignored).

    Returns
    -------
    GeoDataFrame
        ``rank, site_id, lon, lat, new_households, cumulative_households, cumulative_share,
        villages_reached, backhaul_hops, backhaul_ok`` (+ ``kind, elevation_m, height_m,
        village_names``), Point geometry in the project CRS. ``cumulative_share`` is the share
        of all uncovered households.
    """
    if method not in ("greedy", "exact", "set_cover"):
        raise ValueError(f"method {method!r} is not one of greedy, exact, set_cover")
    cand = candidates.reset_index(drop=True)
    if towers is not None and len(cand) and len(towers):
        sites_t = towers.drop_duplicates("site_id")[["site_id", "height_m", "geometry"]]
        G = backhaul_graph(
            sites_t, cand[["site_id", "height_m", "geometry"]], terrain,
            freq_ghz=backhaul_freq_ghz, max_hop_km=backhaul_max_hop_km,
        )  # fmt: skip
        bh = candidate_backhaul(G).reindex(cand["site_id"].astype(str))
        cand["backhaul_hops"] = bh["backhaul_hops"].fillna(-1).astype(np.int64).to_numpy()
        cand["backhaul_ok"] = bh["backhaul_ok"].fillna(False).astype(bool).to_numpy()
    else:
        cand["backhaul_hops"] = -1
        cand["backhaul_ok"] = False
    matrix = coverage_matrix(cand, gaps, terrain, progress=progress)
    cover = matrix.cover
    if require_backhaul:
        cover = sp.csr_array(sp.diags(cand["backhaul_ok"].to_numpy(dtype=float)) @ cover)
    costs = cand["cost"].to_numpy(dtype=float) if budget is not None else None
    k = min(int(sites), len(cand))
    solver: dict[str, Any] = {"method": method}
    if method in ("exact", "set_cover") and len(cand) and cover.nnz:
        if method == "exact":
            sol = exact(cover, matrix.weights, None if budget is not None else k,
                        costs=costs, budget=budget, time_limit_s=time_limit_s)  # fmt: skip
        else:
            sol = set_cover(cover, matrix.weights, target_share, time_limit_s=time_limit_s)
        chosen, gains = sol.chosen, sol.gains
        solver.update(status=sol.status, gap=sol.gap, greedy_ratio=sol.ratio,
                      time_s=sol.time_s, greedy_objective=sol.greedy_objective)  # fmt: skip
        logger.info("%s: %s, gap %.4f, greedy/optimal %.4f", method, sol.status, sol.gap,
                    sol.ratio)  # fmt: skip
    elif len(cand):
        res = greedy(cover, matrix.weights, None if budget is not None else k, costs=costs,
                     budget=budget)  # fmt: skip
        chosen, gains = res.chosen, res.gains
        solver["rule"] = res.rule
    else:
        chosen, gains = np.zeros(0, dtype=int), np.zeros(0)
    keep = gains > 0
    chosen, gains = np.asarray(chosen)[keep], np.asarray(gains)[keep]
    total_unc = float(matrix.weights.sum())
    village_of = matrix.demand["village_id"].to_numpy()
    vnames = gaps.villages.set_index("village_id")["name"]
    covered = np.zeros(cover.shape[1], dtype=bool)
    reached_n, reached_names = [], []
    for i in chosen:
        cols = cover[[i], :].indices
        new = cols[~covered[cols]]
        covered[new] = True
        vids = sorted(set(village_of[new]) - {""})
        reached_n.append(len(vids))
        reached_names.append("; ".join(str(vnames.get(v, v)) for v in vids))
    out = cand.iloc[chosen].copy() if len(chosen) else cand.iloc[0:0].copy()
    ll = out.geometry.to_crs(WGS84)
    cum = np.cumsum(gains)
    table = pd.DataFrame(
        {
            "rank": np.arange(1, len(out) + 1),
            "site_id": out["site_id"].astype(str).to_numpy(),
            "lon": ll.x.to_numpy(),
            "lat": ll.y.to_numpy(),
            "new_households": np.round(gains).astype(np.int64),
            "cumulative_households": np.round(cum).astype(np.int64),
            "cumulative_share": cum / total_unc if total_unc > 0 else np.zeros(len(out)),
            "villages_reached": np.asarray(reached_n, dtype=np.int64),
            "backhaul_hops": out["backhaul_hops"].to_numpy(dtype=np.int64),
            "backhaul_ok": out["backhaul_ok"].to_numpy(dtype=bool),
            "kind": out["kind"].to_numpy() if "kind" in out else "",
            "elevation_m": out["elevation_m"].to_numpy() if "elevation_m" in out else np.nan,
            "height_m": out["height_m"].to_numpy(),
            "village_names": reached_names,
        }
    )
    ranking = gpd.GeoDataFrame(table, geometry=out.geometry.to_numpy(), crs=cand.crs)
    ranking.attrs["solver"] = solver
    return ranking
