r"""The maximal covering greedy when every site needs backhaul: relays are part of the plan.

Model: maximise the covered weight :math:`f(S) = \sum_j w_j \, [\exists i \in S: a_{ij} = 1]`
over site sets :math:`S` with :math:`|S| \le k` and/or :math:`\sum_{i \in S} c_i \le B` (as
:func:`~lomsong.siting.mclp.greedy.greedy`), where moreover every site of :math:`S` reaches the
existing network through a chain of microwave hops whose intermediate sites are in :math:`S`
too. A relay is a site like any other: it counts toward :math:`k` and its cost toward :math:`B`,
and it covers what it covers (often nothing: a bare hilltop). The input is the coverage matrix
and, from :func:`lomsong.siting.backhaul.relay_links`, which sites hop straight to the network
(``direct``) and which to each other (``links``).

Each round builds the best *move*: a site not yet chosen together with the fewest new sites that
connect it, i.e. the shortest chain of unchosen candidates from it to the network or to a site
already chosen (breadth-first; among equally short chains the one whose sites promise the most
households). A move's value is the weight it newly covers per new site (per unit of cost with a
budget); the chain must fit the sites and budget left. The move is built relays first, nearest
the network first, so every prefix of the plan is connected. A site with a hop to the network or
to a chosen site is a move of one site: when every site has a direct hop the result is exactly
:func:`~lomsong.siting.mclp.greedy.greedy`'s, ties included. Gains are evaluated lazily (the
sum of the chain's last computed single-site gains bounds the chain's gain, coverage being
submodular), exactly as functions of the covered set. With a budget the plan is compared with the
best single move from the empty plan, as the budgeted greedy compares with the best single site
(Khuller, Moss & Naor 1999).

No approximation guarantee is claimed: coverage that must stay connected to a root generalises
the node-weighted Steiner tree problem. Chains are the ones with the fewest new sites, not the
cheapest.
"""

from __future__ import annotations

import logging
import math
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
)
from lomsong.siting.mclp.greedy import _Gains
from lomsong.siting.mclp.results import GreedyResult

__all__ = ["connected_greedy"]

logger = logging.getLogger(__name__)

#: Relative slack on the gain bound of a chain of several sites: its terms are summed in another
#: order than the chain's exact gain, so rounding must never make the bound fall below it.
_CHAIN_BOUND_RTOL = 1e-12


def _as_links(links: Any, n: int) -> sp.csr_array:
    """Symmetric boolean CSR ``(n, n)`` without the diagonal."""
    try:
        coo = sp.coo_array(links)
    except (TypeError, ValueError) as exc:
        raise InputError("<links>", f"not a sparse or dense 2-D matrix: {exc}") from exc
    if coo.shape != (n, n):
        raise InputError("<links>", f"must have shape ({n}, {n}) (site × site), got {coo.shape}")
    nz = (coo.data != 0) & (coo.row != coo.col)
    r, c = coo.row[nz], coo.col[nz]
    sym = sp.coo_array((np.ones(2 * len(r), dtype=bool), (np.r_[r, c], np.r_[c, r])), shape=(n, n))
    return _as_cover(sym)


class _Planner:
    """The state of one connected greedy: what is built, what is covered, the gain bounds."""

    def __init__(self, A: sp.csr_array, w: np.ndarray, direct: np.ndarray, links: sp.csr_array,
                 costs: np.ndarray | None, budget: float | None, k: int) -> None:  # fmt: skip
        self.A, self.w, self.direct, self.links = A, w, direct, links
        self.costs, self.budget, self.k = costs, budget, k
        self.gains = _Gains(A, w)
        self.cur = self.gains.all()  # last computed single-site gains: upper bounds from now on
        self.built = np.zeros(A.shape[0], dtype=bool)
        self.chosen: list[int] = []
        self.picked: list[float] = []
        self.relay_for: list[int] = []
        self.spent = 0.0

    def _chains(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Breadth-first from the network and the built sites over unbuilt candidates.

        Returns, per site, ``depth`` (new sites of its chain, itself included; 0 = no chain that
        fits), ``parent`` (next site toward the network, −1 = none), ``bound`` (sum of the
        chain's single-site gain bounds), ``cost`` (the chain's cost) and ``movable``.
        """
        n = len(self.direct)
        L = self.links
        depth = np.zeros(n, dtype=np.int64)
        parent = np.full(n, -1, dtype=np.int64)
        bound = np.zeros(n)
        cost = np.zeros(n)
        movable = np.zeros(n, dtype=bool)
        near = self.direct.copy()
        built = np.flatnonzero(self.built)
        if len(built):
            near[L[built].indices] = True
        front = np.flatnonzero(near & ~self.built)
        bound[front] = self.cur[front]
        cost[front] = self.costs[front] if self.costs is not None else 0.0
        level, left = 1, self.k - len(self.chosen)
        while len(front) and level <= left:
            depth[front] = level
            if self.costs is not None:  # a chain over the budget neither moves nor relays
                front = front[self.spent + cost[front] <= self.budget * (1.0 + _BUDGET_RTOL)]
            movable[front] = True
            if level == left or not len(front):
                break
            starts, ends = L.indptr[front], L.indptr[front + 1]
            counts = ends - starts
            u = np.repeat(front, counts)
            pos = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
            v = L.indices[pos]
            new = (depth[v] == 0) & ~self.built[v]
            u, v = u[new], v[new]
            # each newly reached site keeps the parent with the largest chain bound (then lowest)
            order = np.lexsort((u, -bound[u], v))
            u, v = u[order], v[order]
            first = np.r_[True, v[1:] != v[:-1]] if len(v) else np.zeros(0, dtype=bool)
            u, v = u[first], v[first]
            parent[v] = u
            bound[v] = bound[u] + self.cur[v]
            if self.costs is not None:
                cost[v] = cost[u] + self.costs[v]
            front = v
            level += 1
        return depth, parent, bound, cost, movable

    def _chain_gain(self, chain: list[int]) -> float:
        g = self.gains
        if len(chain) == 1:
            value = g.one(chain[0])
            self.cur[chain[0]] = value
            return value
        cols = np.unique(np.concatenate([g.indices[g.indptr[v] : g.indptr[v + 1]] for v in chain]))
        vals = g.w[cols[~g.covered[cols]]]
        return float(vals.sum()) if g.integral else math.fsum(vals)

    def best_move(self, *, per_cost: bool) -> list[int] | None:
        """The chain (relays first, the site last) of the most valuable move, or None.

        ``per_cost``: value = gain per new site (per unit of cost with a budget); else the gain.
        Ties: the shorter chain, then the lower site index.
        """
        depth, parent, bound, cost, movable = self._chains()
        m = np.flatnonzero(movable)
        if per_cost:
            den = cost[m] if self.costs is not None else depth[m].astype(np.float64)
        else:
            den = np.ones(len(m))
        key = bound[m] * np.where(depth[m] > 1, 1.0 + _CHAIN_BOUND_RTOL, 1.0) / den
        best: tuple[float, int, int] | None = None  # (value, depth, site)
        best_chain: list[int] = []
        for j in np.lexsort((m, depth[m], -key)):
            kj, dj, i = float(key[j]), int(depth[m[j]]), int(m[j])
            if not kj > 0:
                break
            if best is not None and (kj < best[0] or (kj == best[0] and (dj, i) > best[1:])):
                break  # no move left can beat the best one
            chain = [i]
            while parent[chain[-1]] >= 0:
                chain.append(int(parent[chain[-1]]))
            value = self._chain_gain(chain) / float(den[j])
            if value > 0 and (best is None or value > best[0]
                              or (value == best[0] and (dj, i) < best[1:])):  # fmt: skip
                best, best_chain = (value, dj, i), chain[::-1]
        return best_chain if best is not None else None

    def build(self, chain: list[int]) -> None:
        for v in chain:
            self.picked.append(self.gains.one(v))
            self.gains.take(v)
            self.built[v] = True
            self.chosen.append(v)
            self.relay_for.append(chain[-1] if v != chain[-1] else -1)
            if self.costs is not None:
                self.spent = math.fsum([self.spent, float(self.costs[v])])


def connected_greedy(
    cover: Any,
    weights: Any,
    k: int | None = None,
    *,
    direct: Any,
    links: Any,
    costs: Any = None,
    budget: float | None = None,
) -> GreedyResult:
    """Greedy maximal covering in which every site is backhauled through the plan itself.

    See the module docstring for the model and the algorithm.

    Parameters
    ----------
    cover, weights, k, costs, budget
        As for :func:`~lomsong.siting.mclp.greedy.greedy`; ``k`` and ``budget`` count the
        relays too.
    direct
        bool ``(n_candidates,)``: the site hops straight to the existing network.
    links
        ``(n_candidates, n_candidates)`` matrix, non-zero where two sites hop to each other
        (made symmetric).

    Returns
    -------
    GreedyResult
        Picks in build order (every prefix connected), their gains (a relay's may be 0) and
        ``relay_for`` (for each pick, the index of the site it was built to connect, −1 when
        picked for its own households).

    Notes
    -----
    Each round is one breadth-first pass over the links (O(n + links)) and a sort of the n
    moves; moves are evaluated lazily, so a round usually computes a handful of gains.
    """
    w = _as_weights(weights)
    A = _as_cover(cover, len(w))
    n = A.shape[0]
    costs_arr, b = _check_budget(costs, budget, n)
    kk = _check_k(k, n, allow_none=True)
    d = np.asarray(direct, dtype=bool)
    if d.shape != (n,):
        raise InputError("<direct>", f"must have shape ({n},) (one per candidate), got {d.shape}")
    L = _as_links(links, n)

    single = None
    if costs_arr is not None and kk >= 1:
        single = _Planner(A, w, d, L, costs_arr, b, kk).best_move(per_cost=False)
    plan = _Planner(A, w, d, L, costs_arr, b, kk)
    while len(plan.chosen) < kk:
        chain = plan.best_move(per_cost=True)
        if chain is None:
            break
        plan.build(chain)
    rule = "greedy" if costs_arr is None else "ratio"
    if single is not None:
        alone = _Planner(A, w, d, L, costs_arr, b, kk)
        alone.build(single)
        if math.fsum(alone.picked) > math.fsum(plan.picked):
            plan, rule = alone, "best_single"
    ch = np.asarray(plan.chosen, dtype=np.int64)
    gs = np.asarray(plan.picked, dtype=np.float64)
    logger.debug("connected greedy: %d sites (%d relays), %.6g of %.6g weight covered", len(ch),
                 sum(r >= 0 for r in plan.relay_for), gs.sum(), math.fsum(w))  # fmt: skip
    return GreedyResult(
        chosen=ch,
        gains=gs,
        cumulative=np.cumsum(gs),
        total_weight=math.fsum(w),
        costs=None if costs_arr is None else costs_arr[ch],
        rule=rule,
        relay_for=np.asarray(plan.relay_for, dtype=np.int64),
    )
