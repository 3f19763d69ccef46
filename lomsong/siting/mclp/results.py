"""Result types of the covering models.

:class:`GreedyResult` is what :func:`~lomsong.siting.mclp.greedy.greedy` returns (sites in pick
order with their gains); :class:`Solution` is what the MILP models return,
:func:`~lomsong.siting.mclp.milp.exact` (maximal covering) and
:func:`~lomsong.siting.mclp.set_cover.set_cover` (partial set covering), with the solver's
status, gap and bound next to the greedy answer's objective.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["GreedyResult", "Solution"]


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
    relay_for
        :func:`~lomsong.siting.mclp.connected.connected_greedy` only: for each pick, the
        candidate index of the site whose backhaul chain it was built for (it comes before that
        site), −1 when picked for its own households; ``None`` from :func:`greedy`.
    """

    chosen: np.ndarray
    gains: np.ndarray
    cumulative: np.ndarray
    total_weight: float
    costs: np.ndarray | None = None
    rule: str = "greedy"
    relay_for: np.ndarray | None = None

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
